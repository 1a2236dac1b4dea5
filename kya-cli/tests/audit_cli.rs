//! `kya audit …` end to end on a real anvil: receipts in a log, checkpoints anchored on
//! chain, the anchors read back, evidence written, and the auditor's verdicts — accepted,
//! then refused for a receipt not in the log and for an unanchored checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kya_audit::ReceiptIssuer;
use kya_core::{MultikeyFile, Timestamp};
use kya_testkit::Anvil;
use kya_verify::http::{HttpPolicy, HttpRequest, KyaGate};
use kya_verify::{Policy, Verifier};

const ORIGIN: &str = "shop.example/kya/receipts";

fn kya(dir: &Path, args: &[&str], envs: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kya"))
        .args(args)
        .env_remove("KYA_ETH_KEY")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Records `n` receipts (of refused, unsigned requests) in the log at `dir/log`.
fn record(dir: &Path, n: usize) {
    let key: MultikeyFile =
        serde_json::from_slice(&std::fs::read(dir.join("receipt.key")).unwrap()).unwrap();
    let issuer = ReceiptIssuer::open(
        key.secret_key().unwrap(),
        ORIGIN,
        "did:web:shop.example",
        dir.join("log"),
    )
    .unwrap();
    let gate = KyaGate::new(
        std::sync::Arc::new(Verifier::new(
            Policy::builder().audience("did:web:shop.example").build(),
        )),
        HttpPolicy::default(),
    );
    for _ in 0..n {
        let (_, request) = HttpRequest::from_url("POST", "https://shop.example/pay").unwrap();
        let outcome = gate.admit(&request);
        issuer.record(&request, &outcome, Timestamp::now()).unwrap();
    }
}

#[test]
fn receipts_are_anchored_proven_and_audited() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let anvil = Anvil::spawn(&root, &[]).unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rpc = anvil.endpoint().to_owned();
    let wallet = [("KYA_ETH_KEY", format!("{}", anvil.keys()[0].to_bytes()))];
    let ok = |args: &[&str], envs: &[(&str, String)]| common::succeeded(args, kya(dir, args, envs));
    ok(
        &[
            "registry",
            "deploy",
            "--rpc-url",
            &rpc,
            "--out",
            "registry.json",
        ],
        &wallet,
    );
    ok(&["key", "generate", "--out", "receipt.key"], &[]);
    let log_key = ok(
        &[
            "audit",
            "log-key",
            "--origin",
            ORIGIN,
            "--key",
            "receipt.key",
        ],
        &[],
    );
    let log_key = log_key.trim();
    assert!(log_key.starts_with(&format!("{ORIGIN}+")), "{log_key}");

    // Two anchors: at size 3, then at size 5.
    let anchor = |expect: &str| {
        let out = ok(
            &[
                "audit",
                "anchor",
                "--rpc-url",
                &rpc,
                "--log",
                "log",
                "--origin",
                ORIGIN,
            ],
            &wallet,
        );
        assert!(out.contains(expect), "{out}");
    };
    record(dir, 3);
    anchor("at size 3");
    record(dir, 2);
    anchor("at size 5");
    // A size that does not grow is refused on chain.
    let again = kya(
        dir,
        &[
            "audit",
            "anchor",
            "--rpc-url",
            &rpc,
            "--log",
            "log",
            "--origin",
            ORIGIN,
        ],
        &wallet,
    );
    assert!(!again.status.success());

    let anchorer = anvil.keys()[0].address().to_string();
    let anchors = ok(
        &[
            "audit",
            "anchors",
            "--rpc-url",
            &rpc,
            "--anchorer",
            &anchorer,
            "--origin",
            ORIGIN,
        ],
        &[],
    );
    let read: serde_json::Value = serde_json::from_str(&anchors).unwrap();
    assert_eq!(read.as_array().unwrap().len(), 2, "{anchors}");
    std::fs::write(dir.join("anchors.json"), &anchors).unwrap();

    // Receipt 1: included in the anchored checkpoint of size 3, consistent up to 5.
    let evidence = ok(
        &[
            "audit",
            "prove",
            "--log",
            "log",
            "--index",
            "1",
            "--key",
            "receipt.key",
            "--anchors",
            "anchors.json",
        ],
        &[],
    );
    std::fs::write(dir.join("evidence.json"), &evidence).unwrap();
    let verify = |file: &str| {
        kya(
            dir,
            &[
                "audit",
                "verify",
                file,
                "--log-key",
                log_key,
                "--anchors",
                "anchors.json",
            ],
            &[],
        )
    };
    let out = verify("evidence.json");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("anchored at size 3"), "{text}");
    assert!(
        text.contains("1 anchored interval(s) shown consistent"),
        "{text}"
    );
    assert!(text.contains("refused it before judging it"), "{text}");

    // Receipt 3: in the anchored checkpoint of size 5, shown consistent with the anchor at 3
    // below it (the evidence carries the proof from 3 to 5).
    let upper = ok(
        &[
            "audit",
            "prove",
            "--log",
            "log",
            "--index",
            "3",
            "--key",
            "receipt.key",
            "--anchors",
            "anchors.json",
        ],
        &[],
    );
    std::fs::write(dir.join("upper.json"), &upper).unwrap();
    let out = verify("upper.json");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("anchored at size 5"), "{text}");
    assert!(
        text.contains("1 anchored interval(s) shown consistent"),
        "{text}"
    );
    // The same evidence without that proof: refused, naming the sizes.
    let mut cut: serde_json::Value = serde_json::from_str(&upper).unwrap();
    cut["consistency"] = serde_json::json!([]);
    std::fs::write(dir.join("cut.json"), cut.to_string()).unwrap();
    let out = verify("cut.json");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no consistency proof from size 3 to size 5"),
        "{text}"
    );

    // Another receipt's bytes under receipt 1's proof: not in the log.
    let mut forged: serde_json::Value = serde_json::from_str(&evidence).unwrap();
    let other = ok(
        &[
            "audit",
            "prove",
            "--log",
            "log",
            "--index",
            "2",
            "--key",
            "receipt.key",
        ],
        &[],
    );
    let other: serde_json::Value = serde_json::from_str(&other).unwrap();
    forged["receipt"] = other["receipt"].clone();
    std::fs::write(dir.join("forged.json"), forged.to_string()).unwrap();
    let out = verify("forged.json");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not in the log"));

    // A receipt after the last anchor: its checkpoint is not anchored.
    record(dir, 1);
    let late = ok(
        &[
            "audit",
            "prove",
            "--log",
            "log",
            "--index",
            "5",
            "--key",
            "receipt.key",
            "--anchors",
            "anchors.json",
        ],
        &[],
    );
    std::fs::write(dir.join("late.json"), late).unwrap();
    let out = verify("late.json");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not anchored"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A validator checks receipt 1 (ERC-8004 Validation Registry, requestHash = its digest):
    // the agent's owner asks, the validator answers, an auditor reads the verdict.
    ok(&["key", "generate", "--out", "agent.key"], &[]);
    let owner = [("KYA_ETH_KEY", format!("{}", anvil.keys()[1].to_bytes()))];
    let validator = [("KYA_ETH_KEY", format!("{}", anvil.keys()[2].to_bytes()))];
    let validator_address = anvil.keys()[2].address().to_string();
    ok(
        &[
            "registry",
            "register",
            "--rpc-url",
            &rpc,
            "--uri",
            "ipfs://agent",
            "--agent-key",
            "agent.key",
        ],
        &owner,
    );
    let ask = [
        "audit",
        "request-validation",
        "--rpc-url",
        &rpc,
        "--receipt",
        "evidence.json",
        "--agent-id",
        "0",
        "--validator",
        &validator_address,
    ];
    // Only the agent's owner or operator may ask.
    assert!(!kya(dir, &ask, &validator).status.success());
    ok(&ask, &owner);
    let verdicts = [
        "audit",
        "validations",
        "--rpc-url",
        &rpc,
        "--receipt",
        "evidence.json",
        "--agent-id",
        "0",
        "--validator",
        &validator_address,
    ];
    assert!(ok(&verdicts, &[]).contains("asked, no answer yet"));
    ok(
        &[
            "audit",
            "respond-validation",
            "--rpc-url",
            &rpc,
            "--receipt",
            "evidence.json",
            "--agent-id",
            "0",
            "--response",
            "95",
            "--tag",
            "re-execution",
        ],
        &validator,
    );
    let read = ok(&verdicts, &[]);
    assert!(read.contains("95 (re-execution), 1 answer(s)"), "{read}");

    let story = ok(&["audit", "explain", "evidence.json"], &[]);
    assert!(
        story.contains("Receipt 1 of log shop.example/kya/receipts"),
        "{story}"
    );
}
