//! `kya registry sync | prove | verify-proof` against several real anvils, one of which serves
//! a forked history without the revocation; and killed syncs leave no temporary files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::mine;
use kya_core::credential::AgentRegistration;
use kya_testkit::Anvil;
use kya_verify::RegistryView as _;
use kya_verify::snapshot::Snapshot;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// anvil with finalized = latest − 2, optionally forked from `fork` at its current head.
fn anvil(fork: Option<&Anvil>) -> Anvil {
    let mut args = vec!["--slots-in-an-epoch".to_owned(), "1".to_owned()];
    if let Some(f) = fork {
        args.extend(["--fork-url".to_owned(), f.endpoint().to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Anvil::spawn(&root(), &args).unwrap_or_else(|e| panic!("{e}"))
}

fn kya(dir: &Path, args: &[&str], envs: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kya"))
        .args(args)
        .env_remove("KYA_ETH_KEY")
        .env_remove("KYA_RPC_URLS")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str], envs: &[(&str, String)]) -> String {
    common::succeeded(args, kya(dir, args, envs))
}

fn rpcs<'a>(nodes: &[&'a Anvil]) -> Vec<&'a str> {
    nodes.iter().flat_map(|a| ["--rpc", a.endpoint()]).collect()
}

const DIGEST: &str = "0xd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1";

#[test]
fn several_sources_outvote_a_liar_refuse_a_rewrite_and_prove_the_facts() {
    let a = anvil(None);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = |i: usize| vec![("KYA_ETH_KEY", format!("{}", a.keys()[i].to_bytes()))];
    let on_a = ["--rpc-url", a.endpoint()];
    ok(
        d,
        &[&["registry", "deploy", "--out", "registry.json"][..], &on_a].concat(),
        &key(0),
    );
    ok(d, &["key", "generate", "--out", "agent.key"], &[]);
    let r: Value = serde_json::from_str(&ok(
        d,
        &[
            &[
                "registry",
                "register",
                "--uri",
                "ipfs://a",
                "--agent-key",
                "agent.key",
                "--json",
            ][..],
            &on_a,
        ]
        .concat(),
        &key(1),
    ))
    .unwrap();
    let registration: AgentRegistration =
        serde_json::from_value(r["registration"].clone()).unwrap();
    // The liar: the same deployment and registration, then its own blocks, no revocation.
    let liar = anvil(Some(&a));
    let revoke = ["registry", "revoke", "--agent-id", "0", "--digest", DIGEST];
    ok(d, &[&revoke[..], &on_a].concat(), &key(1));
    mine(a.endpoint(), 3);
    mine(liar.endpoint(), 4);
    let copy = anvil(Some(&a));

    // Three sources, majority two: the liar is outvoted, and named.
    let sync = ["registry", "sync", "--out", "snapshot.json", "--json"];
    let s: Value = serde_json::from_str(&ok(
        d,
        &[&sync[..], &rpcs(&[&liar, &a, &copy])].concat(),
        &[],
    ))
    .unwrap();
    assert!(s["outvoted"].to_string().contains(liar.endpoint()), "{s}");
    assert!(s["stateRoot"].as_str().unwrap().starts_with("0x"));
    let bytes = std::fs::read(d.join("snapshot.json")).unwrap();
    let snap = Snapshot::load(&bytes).unwrap();
    assert!(
        snap.revoked(&registration, &DIGEST.parse().unwrap())
            .is_some()
    );
    assert_eq!(s["block"], snap.block().number);

    // The liar alone: its history parts below the final block; refused, snapshot kept.
    let out = kya(d, &[&sync[..], &rpcs(&[&liar])].concat(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!("0x{}", hex::encode(snap.block().hash));
    assert!(
        err.contains(&format!(
            "block {} had hash {expected}",
            snap.block().number
        )),
        "{err}"
    );
    assert!(err.contains("--rebuild"), "{err}");
    assert_eq!(std::fs::read(d.join("snapshot.json")).unwrap(), bytes);

    // Evidence at the snapshot's block: the revocation and the key binding, checked offline.
    let prove = [
        "registry",
        "prove",
        "--snapshot",
        "snapshot.json",
        "--revocation",
        &format!("0:{DIGEST}"),
        "--agent-key",
        "0:agent.key",
        "--out",
        "report.json",
    ];
    ok(d, &[&prove[..], &rpcs(&[&a, &copy])].concat(), &[]);
    let v: Value = serde_json::from_str(&ok(
        d,
        &["registry", "verify-proof", "report.json", "--json"],
        &[],
    ))
    .unwrap();
    assert_eq!(v["valid"], true);
    let deployment: Value =
        serde_json::from_slice(&std::fs::read(d.join("registry.json")).unwrap()).unwrap();
    assert!(v["chainId"].is_u64(), "{v}");
    assert_eq!(v["chainId"], deployment["chainId"]);
    assert_eq!(
        v["registry"].as_str().unwrap().to_lowercase(),
        deployment["identity"].as_str().unwrap().to_lowercase()
    );
    // Facts come in order: key bindings, then revocations.
    assert_eq!(v["facts"][0]["verdict"]["is"], "bound");
    assert_eq!(v["facts"][1]["verdict"]["is"], "revoked");
    assert_eq!(v["blockHash"], expected);

    // `kya explain --proofs`: the facts the verdict on a credential rests on, proven.
    ok(d, &["key", "generate", "--out", "principal.key"], &[]);
    let principal = ok(d, &["key", "did", "principal.key"], &[])
        .trim()
        .to_owned();
    let agent = ok(d, &["key", "did", "agent.key"], &[]).trim().to_owned();
    let deployment: Value =
        serde_json::from_slice(&std::fs::read(d.join("registry.json")).unwrap()).unwrap();
    let registration = format!(
        "eip155:31337:{}#0",
        deployment["identity"].as_str().unwrap()
    );
    let credential = ok(
        d,
        &[
            "issue",
            "--key",
            "principal.key",
            "--agent",
            &agent,
            "--registration",
            &registration,
            "--valid-for",
            "1h",
            "--action",
            "payments",
        ],
        &[],
    );
    std::fs::write(d.join("chain.json"), format!("[{credential}]")).unwrap();
    std::fs::write(
        d.join("policy.json"),
        format!(r#"{{"trustedRoots": ["{principal}"], "audience": "did:web:shop.example"}}"#),
    )
    .unwrap();
    let explain = [
        "explain",
        "chain.json",
        "--policy",
        "policy.json",
        "--snapshot",
        "snapshot.json",
        "--proofs",
        "--proofs-out",
        "evidence.json",
    ];
    let text = ok(d, &[&explain[..], &rpcs(&[&a, &copy])].concat(), &[]);
    assert!(text.contains("verified: agent"), "{text}");
    assert!(text.contains("evidence (evidence.json"), "{text}");
    let e: Value = serde_json::from_str(&ok(
        d,
        &["registry", "verify-proof", "evidence.json", "--json"],
        &[],
    ))
    .unwrap();
    assert_eq!(e["blockHash"], expected);
    let kinds: Vec<(&str, &str)> = e["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["fact"]["kind"].as_str().unwrap(),
                f["verdict"]["is"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("agentKey", "bound"), ("revocation", "notRevoked")]);

    // The revocation hidden in the report: refused.
    let mut report: Value =
        serde_json::from_slice(&std::fs::read(d.join("report.json")).unwrap()).unwrap();
    report["facts"][1]["value"] = "0x0".into();
    report["facts"][1]["verdict"] = serde_json::json!({"is": "notRevoked"});
    std::fs::write(d.join("tampered.json"), report.to_string()).unwrap();
    let out = kya(d, &["registry", "verify-proof", "tampered.json"], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("proof refused"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A genuine report checked against another registry (the auditor's deployment is not the
    // one it speaks for): refused.
    let mut other: Value =
        serde_json::from_slice(&std::fs::read(d.join("registry.json")).unwrap()).unwrap();
    other["identity"] = "0x00000000000000000000000000000000000000aa".into();
    std::fs::write(d.join("other-registry.json"), other.to_string()).unwrap();
    let out = kya(
        d,
        &[
            "registry",
            "verify-proof",
            "report.json",
            "--deployment",
            "other-registry.json",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("identity registry"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[test]
fn killed_syncs_leave_no_temporary_files() {
    let a = anvil(None);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = vec![("KYA_ETH_KEY", format!("{}", a.keys()[0].to_bytes()))];
    ok(
        d,
        &[
            "registry",
            "deploy",
            "--out",
            "registry.json",
            "--rpc-url",
            a.endpoint(),
        ],
        &key,
    );
    mine(a.endpoint(), 2);
    // Syncs killed (SIGKILL) at varying moments, wherever they are.
    let sync = [
        "registry",
        "sync",
        "--out",
        "snapshot.json",
        "-q",
        "--rpc",
        a.endpoint(),
    ];
    for round in 0..6u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kya"))
            .args(sync)
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(round * 15));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Whatever they left, and the temporary file of another writer that died before renaming.
    let mut dead = Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    std::fs::write(d.join(format!(".snapshot.json.tmp-{pid}")), b"{").unwrap();

    // The next start cleans up, even one that fails before writing anything.
    let out = kya(
        d,
        &[
            "registry",
            "sync",
            "--out",
            "snapshot.json",
            "--rpc",
            "http://127.0.0.1:1",
            "--request-timeout",
            "1",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert_eq!(temp_files(d), Vec::<String>::new());
    ok(d, &sync, &[]);
    assert_eq!(temp_files(d), Vec::<String>::new());
    assert!(Snapshot::load(&std::fs::read(d.join("snapshot.json")).unwrap()).is_ok());
}
