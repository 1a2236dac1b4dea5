//! The `kya` binary end to end: keys → issue → delegate → inspect → proof verify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn kya(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kya"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = kya(dir, args);
    assert!(
        out.status.success(),
        "kya {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/w3c/vc-di-eddsa")
}

#[test]
fn key_files_are_owner_only_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["key", "generate", "--out", "a.key"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("a.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = kya(dir.path(), &["key", "generate", "--out", "a.key"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let did = ok(dir.path(), &["key", "did", "a.key"]);
    assert!(did.trim().starts_with("did:key:z6Mk"), "{did}");
}

#[test]
fn proof_sign_reproduces_the_w3c_vector() {
    let dir = tempfile::tempdir().unwrap();
    let v = vectors();
    let key = v.join("keyPair.json");
    let unsigned = v.join("unsigned.json");
    let vm = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    let out = ok(
        dir.path(),
        &[
            "proof",
            "sign",
            "--key",
            key.to_str().unwrap(),
            "--verification-method",
            vm,
            "--created",
            "2023-02-24T23:36:38Z",
            "--purpose",
            "assertionMethod",
            unsigned.to_str().unwrap(),
        ],
    );
    let signed: Value = serde_json::from_str(&out).unwrap();
    let expected: Value =
        serde_json::from_slice(&std::fs::read(v.join("eddsa-jcs-2022/signedJCS.json")).unwrap())
            .unwrap();
    assert_eq!(signed, expected);
    std::fs::write(dir.path().join("signed.json"), out).unwrap();
    ok(dir.path(), &["proof", "verify", "signed.json"]);
}

#[test]
fn issue_delegate_inspect_verify_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for who in ["principal", "agent", "sub"] {
        ok(d, &["key", "generate", "--out", &format!("{who}.key")]);
    }
    let agent = ok(d, &["key", "did", "agent.key"]).trim().to_owned();
    let sub = ok(d, &["key", "did", "sub.key"]).trim().to_owned();
    let auth = ok(
        d,
        &[
            "issue",
            "--key",
            "principal.key",
            "--agent",
            &agent,
            "--valid-for",
            "30d",
            "--action",
            "payments",
            "--max-amount",
            "100.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
        ],
    );
    std::fs::write(d.join("auth.json"), &auth).unwrap();
    let chain = ok(
        d,
        &[
            "delegate",
            "--key",
            "agent.key",
            "--parent",
            "auth.json",
            "--agent",
            &sub,
            "--valid-for",
            "7d",
            "--chain",
            "--action",
            "payments/send",
            "--max-amount",
            "25.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
        ],
    );
    std::fs::write(d.join("chain.json"), &chain).unwrap();
    let chain_value: Value = serde_json::from_str(&chain).unwrap();
    assert_eq!(chain_value.as_array().unwrap().len(), 2);

    let text = ok(d, &["inspect", "chain.json"]);
    assert!(
        text.contains("AgentDelegation") && text.contains("delegates to"),
        "{text}"
    );
    assert!(text.contains(&sub));
    let summary: Value =
        serde_json::from_str(&ok(d, &["inspect", "--json", "chain.json"])).unwrap();
    assert_eq!(summary[1]["issuer"], agent.as_str());
    assert_eq!(summary[1]["parent"]["digest"], summary[0]["digest"]);
    ok(d, &["proof", "verify", "chain.json"]);

    // Widening is refused with the reason and the values.
    let wide = kya(
        d,
        &[
            "delegate",
            "--key",
            "agent.key",
            "--parent",
            "auth.json",
            "--agent",
            &sub,
            "--action",
            "payments/send",
            "--max-amount",
            "500.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
        ],
    );
    assert!(!wide.status.success());
    let err = String::from_utf8_lossy(&wide.stderr);
    assert!(err.contains("500.00") && err.contains("100.00"), "{err}");

    // Only the subject of the parent may delegate.
    let stolen = kya(
        d,
        &[
            "delegate",
            "--key",
            "sub.key",
            "--parent",
            "auth.json",
            "--agent",
            &sub,
            "--action",
            "payments/send",
        ],
    );
    assert!(!stolen.status.success());
    assert!(String::from_utf8_lossy(&stolen.stderr).contains("only the subject can delegate"));

    // A tampered credential fails and says which proof and why.
    std::fs::write(
        d.join("tampered.json"),
        chain.replacen("25.00", "2500.00", 1),
    )
    .unwrap();
    let out = kya(d, &["proof", "verify", "tampered.json"]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[1] invalid") && stdout.contains("does not verify"),
        "{stdout}"
    );
    assert!(!kya(d, &["inspect", "tampered.json"]).status.success());
}

#[test]
fn bad_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dup.json"), r#"{"a":1,"a":2}"#).unwrap();
    let out = kya(dir.path(), &["proof", "verify", "dup.json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate json key"));
    let out = kya(dir.path(), &["inspect", "missing.json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}
