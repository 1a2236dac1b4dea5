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
    // A grant given on the command line goes through the same strict reader: a repeated
    // `action` is an error, not the last one silently winning.
    ok(dir.path(), &["key", "generate", "--out", "p.key"]);
    let agent = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    let issue = |grant: &str| {
        kya(
            dir.path(),
            &[
                "issue",
                "--key",
                "p.key",
                "--agent",
                agent,
                "--valid-for",
                "1h",
                "--grant",
                grant,
            ],
        )
    };
    let out = issue(r#"{"action":"payments/send","action":"*"}"#);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("duplicate json key `action`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(issue(r#"{"action":"payments/send"}"#).status.success());
    // `.` and `..` are not action segments.
    let out = issue(r#"{"action":"payments/../admin"}"#);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`.` and `..` are not action segments"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn proof_sign_and_verify_accept_any_i_json_number() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["key", "generate", "--out", "k.key"]);
    // Valid I-JSON that RFC 8785 canonicalises, though no kya credential holds such numbers.
    let doc = r#"{"n": 123456789012345680000, "twoTo53": 9007199254740992,
        "twoTo53PlusOne": 9007199254740993, "e20": 1e20, "exact": 9007199254740993,
        "zero": -0, "tiny": 5e-324, "huge": 1.7976931348623157e308}"#;
    std::fs::write(dir.path().join("doc.json"), doc).unwrap();
    let signed = ok(dir.path(), &["proof", "sign", "--key", "k.key", "doc.json"]);
    std::fs::write(dir.path().join("signed.json"), &signed).unwrap();
    let out = ok(dir.path(), &["proof", "verify", "signed.json"]);
    assert!(out.starts_with("valid: assertionMethod proof"), "{out}");
    let report: Value = serde_json::from_str(&ok(
        dir.path(),
        &["proof", "verify", "--json", "signed.json"],
    ))
    .unwrap();
    assert_eq!(report[0]["valid"], true, "{report}");

    // The document as written (numbers spelled as in the input) with the proof added.
    let secured: Value = serde_json::from_str(&signed).unwrap();
    let as_written = format!(
        "{}, \"proof\": {}}}",
        doc.trim_end().trim_end_matches('}'),
        secured["proof"]
    );
    assert!(
        as_written.contains("123456789012345680000,"),
        "{as_written}"
    );
    std::fs::write(dir.path().join("as_written.json"), as_written).unwrap();
    ok(dir.path(), &["proof", "verify", "as_written.json"]);

    // A different double is a different document.
    let tampered = signed.replace("5e-324", "1e-323");
    assert_ne!(tampered, signed);
    std::fs::write(dir.path().join("tampered.json"), tampered).unwrap();
    let out = kya(dir.path(), &["proof", "verify", "tampered.json"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("invalid: signature"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Structural bounds still hold for generic documents.
    std::fs::write(dir.path().join("dup.json"), r#"{"n":1e20,"n":1}"#).unwrap();
    let out = kya(dir.path(), &["proof", "sign", "--key", "k.key", "dup.json"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("duplicate json key `n`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // kya's own credentials keep the exact number rule.
    let out = kya(dir.path(), &["inspect", "doc.json"]);
    assert!(!out.status.success());
}
