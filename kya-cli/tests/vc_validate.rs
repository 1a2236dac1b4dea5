//! `kya vc validate`, `kya issue`'s refusal of undefined constraint terms and `kya key did`'s
//! self-consistency check, end to end on the built binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn kya(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kya"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = kya(dir, args, None);
    assert!(out.status.success(), "kya {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Makes a principal and an agent key in `d`, then issues to the agent with `grants`.
fn issue(d: &Path, grants: &[&str]) -> Output {
    ok(d, &["key", "generate", "--out", "principal.key"]);
    ok(d, &["key", "generate", "--out", "agent.key"]);
    let agent = ok(d, &["key", "did", "agent.key"]).trim().to_owned();
    let mut args = vec!["issue", "--key", "principal.key", "--agent", &agent];
    args.extend(["--valid-for", "1h"]);
    args.extend(grants);
    kya(d, &args, None)
}

/// A credential breaking four rules: an issuer that is not a URL, an empty subject, evidence
/// without a type, and a name with a member a language value may not have.
fn broken() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "fake-issuer",
        "credentialSubject": {},
        "evidence": {"id": "https://example.org/evidence/1"},
        "name": {"@value": "x", "@language": "en", "url": "did:example:c"}
    })
}

#[test]
fn a_broken_credential_lists_every_violation_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vc.json"), broken().to_string()).unwrap();
    let out = kya(dir.path(), &["vc", "validate", "vc.json"], None);
    assert!(!out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (path, rule) in [
        ("$.issuer", "issuer_invalid (§4.7)"),
        ("$.credentialSubject", "subject_empty (§4.8)"),
        ("$.evidence", "type_required (§5.6)"),
        ("$.name", "language_value_invalid (§4.6)"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{path}\t{rule}\t"))),
            "{path} {rule} missing from:\n{text}"
        );
    }
}

#[test]
fn json_output_and_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = kya(
        dir.path(),
        &["vc", "validate", "-", "--json"],
        Some(&broken().to_string()),
    );
    assert!(!out.status.success());
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["kind"], "credential");
    let violations = report["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 4);
    assert_eq!(violations[0]["path"], "$.issuer");
    assert_eq!(violations[0]["rule"], "issuer_invalid");
    assert_eq!(violations[0]["section"], "4.7");
    assert!(violations[0]["message"].as_str().unwrap().contains("url"));
    // A presentation holding a credential as a string, from standard input.
    let vp = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": ["eyJhbGciOiJFZERTQSJ9.e30.c2ln"]
    });
    let out = kya(
        dir.path(),
        &["vc", "validate", "-", "--json"],
        Some(&vp.to_string()),
    );
    assert!(!out.status.success());
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["kind"], "presentation");
    assert_eq!(
        report["violations"][0]["rule"],
        "verifiable_credential_not_object"
    );
    // Not JSON at all: an error, not a pass.
    let out = kya(dir.path(), &["vc", "validate", "-"], Some("{not json"));
    assert!(!out.status.success());
}

#[test]
fn what_kya_issues_and_presents_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let issued = issue(d, &["--action", "payments"]);
    assert!(issued.status.success(), "{}", stderr(&issued));
    let credential = stdout(&issued);
    std::fs::write(d.join("vc.json"), &credential).unwrap();
    let out = kya(d, &["vc", "validate", "vc.json"], None);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("conforms"));
    std::fs::write(d.join("chain.json"), format!("[{credential}]")).unwrap();
    let vp = ok(
        d,
        &[
            "present",
            "--key",
            "agent.key",
            "--chain",
            "chain.json",
            "--audience",
            "did:web:shop.example",
            "--nonce",
            "n-1",
        ],
    );
    let out = kya(d, &["vc", "validate", "-", "--json"], Some(&vp));
    assert!(out.status.success(), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        report,
        json!({"valid": true, "kind": "presentation", "violations": []})
    );
}

#[test]
fn issue_refuses_constraints_no_context_defines() {
    let dir = tempfile::tempdir().unwrap();
    let out = issue(
        dir.path(),
        &[
            "--grant",
            r#"{"action": "payments", "maxTipPercent": "15"}"#,
        ],
    );
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "", "nothing is issued");
    assert!(stderr(&out).contains("`maxTipPercent`"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("https://w3id.org/kya/v1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn key_did_refuses_a_key_file_whose_secret_is_another_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["key", "generate", "--out", "a.key"]);
    ok(d, &["key", "generate", "--out", "b.key"]);
    let a: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("a.key")).unwrap()).unwrap();
    let mut b: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("b.key")).unwrap()).unwrap();
    b["secretKeyMultibase"] = a["secretKeyMultibase"].clone();
    std::fs::write(d.join("mixed.key"), b.to_string()).unwrap();
    let out = kya(d, &["key", "did", "mixed.key"], None);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    // The public half alone still names its did:key.
    b.as_object_mut().unwrap().remove("secretKeyMultibase");
    std::fs::write(d.join("public.key"), b.to_string()).unwrap();
    let did = ok(d, &["key", "did", "public.key"]);
    assert_eq!(did.trim(), b["controller"].as_str().unwrap());
}
