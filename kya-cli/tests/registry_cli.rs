//! `kya registry …` end to end against a real anvil spawned here: deploy → register with key →
//! rotate → bind principal key → feedback → show → sync → revoke → resync, plus the key
//! handling rules (no key flag; file or environment only) and readable revert errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use common::mine;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kya_core::credential::AgentRegistration;
use kya_core::{DidPkh, Timestamp};
use kya_testkit::Anvil;
use kya_verify::RegistryView;
use kya_verify::snapshot::Snapshot;
use serde_json::Value;

struct Env {
    anvil: Anvil,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        // finalized = latest − 2 (anvil: twice the slots of an epoch).
        let anvil =
            Anvil::spawn(&root, &["--slots-in-an-epoch", "1"]).unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap();
        // Account 1 signs through a key file, account 2 through the environment.
        let key = |i: usize| format!("{}\n", anvil.keys()[i].to_bytes());
        std::fs::write(dir.path().join("eth1.key"), key(1)).unwrap();
        Self { anvil, dir }
    }

    /// Mines `n` empty blocks, so that what came before becomes final.
    fn mine(&self, n: u64) {
        mine(self.anvil.endpoint(), n);
    }

    fn env_key(&self, i: usize) -> String {
        format!("{}", self.anvil.keys()[i].to_bytes())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn kya(&self, args: &[&str], envs: &[(&str, String)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kya"))
            .args(args)
            .args(["--rpc-url", self.anvil.endpoint()])
            .env_remove("KYA_ETH_KEY")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(self.path())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str], envs: &[(&str, String)]) -> String {
        common::succeeded(args, self.kya(args, envs))
    }

    fn json(&self, args: &[&str], envs: &[(&str, String)]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a, envs)).unwrap()
    }

    fn keygen(&self, name: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_kya"))
            .args(["key", "generate", "--out", name])
            .current_dir(self.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        let did = Command::new(env!("CARGO_BIN_EXE_kya"))
            .args(["key", "did", name])
            .current_dir(self.path())
            .output()
            .unwrap();
        String::from_utf8(did.stdout).unwrap().trim().to_owned()
    }
}

#[test]
fn registry_commands_end_to_end() {
    let env = Env::new();
    let file = ["--eth-key-file", "eth1.key"];
    let deployer = [("KYA_ETH_KEY", env.env_key(0))];

    // deploy: prints the addresses, writes registry.json.
    let out = env.ok(&["registry", "deploy", "--out", "registry.json"], &deployer);
    assert!(
        out.contains("identity registry:   eip155:31337:0x"),
        "{out}"
    );
    let deployment: Value =
        serde_json::from_slice(&std::fs::read(env.path().join("registry.json")).unwrap()).unwrap();
    assert_eq!(deployment["chainId"], 31337);

    // register with an agent key (Multikey file), via the key file.
    env.keygen("agent1.key");
    let agent2 = env.keygen("agent2.key");
    let r = env.json(
        &[
            &[
                "registry",
                "register",
                "--uri",
                "ipfs://agent",
                "--agent-key",
                "agent1.key",
                "--metadata",
                "role=shopper",
            ][..],
            &file[..],
        ]
        .concat(),
        &[],
    );
    assert_eq!(r["agentId"], "0");
    let registration: AgentRegistration =
        serde_json::from_value(r["registration"].clone()).unwrap();

    // rotate to a did:key given on the command line.
    let out = env.ok(
        &[
            &[
                "registry",
                "rotate-key",
                "--agent-id",
                "0",
                "--old-key",
                "agent1.key",
                "--new-key",
                &agent2,
            ][..],
            &file[..],
        ]
        .concat(),
        &[],
    );
    assert!(out.contains("retired"), "{out}");

    // A principal binds an issuing key with its own wallet (key from a named variable).
    let issuer = env.keygen("issuer.key");
    let principal_env = [("PRINCIPAL_KEY", env.env_key(2))];
    let p = env.json(
        &[
            "registry",
            "bind-principal-key",
            "--issuing-key",
            "issuer.key",
            "--eth-key-env",
            "PRINCIPAL_KEY",
        ],
        &principal_env,
    );
    let pkh: DidPkh = p["principal"].as_str().unwrap().parse().unwrap();

    // Feedback from a third account, and show with a summary.
    let rater_env = [("KYA_ETH_KEY", env.env_key(3))];
    let f = env.json(
        &[
            "registry",
            "feedback",
            "--agent-id",
            "0",
            "--value",
            "875",
            "--decimals",
            "1",
            "--tag1",
            "starred",
        ],
        &rater_env,
    );
    assert_eq!(f["index"], 1);
    let rater = env.anvil.keys()[3].address().to_string();
    let show = env.ok(
        &["registry", "show", "--agent-id", "0", "--rater", &rater],
        &[],
    );
    assert!(show.contains("uri:    ipfs://agent"), "{show}");
    assert!(
        show.contains("reputation: 1 feedback, average 87.5"),
        "{show}"
    );
    assert!(show.contains(&agent2), "{show}");
    let shown = env.json(&["registry", "show", "--agent-id", "0"], &[]);
    assert_eq!(shown["keys"].as_array().unwrap().len(), 2);
    assert_eq!(shown["keys"][1]["key"], agent2);
    // The same agent through the ERC-8004 surface only.
    let erc = env.json(
        &[
            "registry",
            "show",
            "--agent-id",
            "0",
            "--identity",
            deployment["identity"].as_str().unwrap(),
            "--reputation",
            deployment["reputation"].as_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(erc["agentURI"], "ipfs://agent");
    assert_eq!(erc["keys"], Value::Null);

    // sync (finalized blocks by default): progress on stderr, snapshot answers offline.
    env.mine(2);
    let out = env.kya(&["registry", "sync", "--out", "snapshot.json"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("sync: blocks"));
    let snap = Snapshot::load(&std::fs::read(env.path().join("snapshot.json")).unwrap()).unwrap();
    let later = Timestamp::now().add_seconds(3600);
    let agent2_key = agent2.parse::<kya_core::DidKey>().unwrap().public_key();
    assert!(snap.agent_key_bound(&registration, &agent2_key, later));
    let issuer_key = issuer.parse::<kya_core::DidKey>().unwrap().public_key();
    assert!(snap.principal_key_bound(&pkh, &issuer_key, later));

    // revoke a credential by digest, resync (resumed), the snapshot knows.
    let digest = format!("0x{}", "ab".repeat(32));
    env.ok(
        &[
            &["registry", "revoke", "--agent-id", "0", "--digest", &digest][..],
            &file[..],
        ]
        .concat(),
        &[],
    );
    let s = env.json(
        &[
            "registry",
            "sync",
            "--out",
            "snapshot.json",
            "--confirmations",
            "0",
        ],
        &[],
    );
    assert_eq!(s["agents"], 1);
    assert!(s["fromBlock"].as_u64().is_some());
    let snap = Snapshot::load(&std::fs::read(env.path().join("snapshot.json")).unwrap()).unwrap();
    assert!(
        snap.revoked(&registration, &digest.parse().unwrap())
            .is_some()
    );

    // The wallet principal revokes, as issuer, a credential it issued; the snapshot knows.
    let issued = format!("0x{}", "cd".repeat(32));
    let r = env.json(
        &[
            "registry",
            "revoke-issued",
            "--digest",
            &issued,
            "--eth-key-env",
            "PRINCIPAL_KEY",
        ],
        &principal_env,
    );
    assert_eq!(r["asIssuer"], true);
    env.mine(2);
    env.ok(&["registry", "sync", "--out", "snapshot.json", "-q"], &[]);
    let bytes = std::fs::read(env.path().join("snapshot.json")).unwrap();
    let snap = Snapshot::load(&bytes).unwrap();
    assert!(
        snap.revoked_by_issuer(&pkh, &issued.parse().unwrap())
            .is_some()
    );

    // verify-snapshot: the synced file matches the chain; a resealed edit does not.
    let v = env.json(
        &["registry", "verify-snapshot", "--snapshot", "snapshot.json"],
        &[],
    );
    assert_eq!(v["result"], "matches");
    let mut edited: Value = serde_json::from_slice(&bytes).unwrap();
    edited["issuerRevocations"] = Value::Array(Vec::new());
    edited.as_object_mut().unwrap().remove("contentDigest");
    let body = kya_core::json::canonicalize(&edited).unwrap();
    use sha2::Digest as _;
    edited["contentDigest"] = format!("0x{}", hex::encode(sha2::Sha256::digest(&body))).into();
    std::fs::write(
        env.path().join("edited.json"),
        kya_core::json::canonicalize(&edited).unwrap(),
    )
    .unwrap();
    let out = env.kya(
        &["registry", "verify-snapshot", "--snapshot", "edited.json"],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("differs from the chain"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Reverts are readable: the rater may not rotate the agent's key.
    let out = env.kya(
        &[
            "registry",
            "bind-key",
            "--agent-id",
            "0",
            "--agent-key",
            "agent1.key",
        ],
        &rater_env,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is neither the owner nor an operator of agent 0"),
        "{err}"
    );

    // Retired keys stay retired, with the block in the message.
    let out = env.kya(
        &[
            &[
                "registry",
                "bind-key",
                "--agent-id",
                "0",
                "--agent-key",
                "agent1.key",
            ][..],
            &file[..],
        ]
        .concat(),
        &[],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be bound again"));
}

#[test]
fn ethereum_keys_never_come_from_flags() {
    let env = Env::new();
    // No key at all: a clear message naming the two ways.
    let out = env.kya(&["registry", "deploy"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--eth-key-file") && err.contains("KYA_ETH_KEY"),
        "{err}"
    );
    // There is no flag that takes the secret itself.
    let out = env.kya(
        &["registry", "deploy", "--private-key", &env.env_key(0)],
        &[],
    );
    assert!(!out.status.success());
    // A malformed key file is refused without echoing its content.
    std::fs::write(env.path().join("bad.key"), "not-a-key-0123456789").unwrap();
    let out = env.kya(&["registry", "deploy", "--eth-key-file", "bad.key"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not hold an Ethereum private key") && !err.contains("0123456789"),
        "{err}"
    );
    // Commands that need a deployment say how to get one.
    let out = env.kya(&["registry", "show", "--agent-id", "0"], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("kya registry deploy --out"));
}

/// An unreachable node is reported as an rpc failure with its cause, not as a revert.
#[test]
fn unreachable_node_is_an_rpc_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_kya"))
        .args([
            "registry",
            "show",
            "--identity",
            "0x0000000000000000000000000000000000000001",
            "--reputation",
            "0x0000000000000000000000000000000000000002",
            "--agent-id",
            "0",
            "--rpc-url",
            "http://127.0.0.1:9",
        ])
        .env_remove("KYA_RPC_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rpc request failed") && err.contains("onnect"),
        "{err}"
    );
    assert!(!err.contains("refused:"), "{err}");
}

/// An agent's ERC-8004 wallet is set by its owner with the wallet's own consent, and reaches
/// the offline snapshot; a stranger cannot point someone else's agent at its wallet.
#[test]
fn agent_wallet_is_set_with_the_wallets_consent_and_synced() {
    let env = Env::new();
    let owner = ["--eth-key-file", "eth1.key"];
    env.ok(
        &["registry", "deploy", "--out", "registry.json"],
        &[("KYA_ETH_KEY", env.env_key(0))],
    );
    env.keygen("agent.key");
    let r = env.json(
        &[
            &["registry", "register", "--agent-key", "agent.key"][..],
            &owner[..],
        ]
        .concat(),
        &[],
    );
    let registration: AgentRegistration =
        serde_json::from_value(r["registration"].clone()).unwrap();
    let wallet = env.anvil.keys()[5].address();
    std::fs::write(env.path().join("wallet.key"), env.env_key(5)).unwrap();
    let wallet_of =
        || env.json(&["registry", "show", "--agent-id", "0"], &[])["agentWallet"].clone();
    // ERC-8004: the owner's address until set.
    assert_eq!(wallet_of(), format!("{:#x}", env.anvil.keys()[1].address()));

    // A stranger cannot set its own wallet on someone else's agent.
    std::fs::write(env.path().join("stranger.key"), env.env_key(3)).unwrap();
    let attempt = env.kya(
        &[
            "registry",
            "set-wallet",
            "--agent-id",
            "0",
            "--wallet-key-file",
            "stranger.key",
        ],
        &[("KYA_ETH_KEY", env.env_key(3))],
    );
    assert!(!attempt.status.success());
    assert_eq!(wallet_of(), format!("{:#x}", env.anvil.keys()[1].address()));

    let set = env.json(
        &[
            &[
                "registry",
                "set-wallet",
                "--agent-id",
                "0",
                "--wallet-key-file",
                "wallet.key",
            ][..],
            &owner[..],
        ]
        .concat(),
        &[],
    );
    assert_eq!(set["agentWallet"], format!("{wallet:#x}"));
    assert_eq!(wallet_of(), format!("{wallet:#x}"));
    env.mine(2);
    env.ok(&["registry", "sync", "--out", "snapshot.json", "-q"], &[]);
    let snap = Snapshot::load(&std::fs::read(env.path().join("snapshot.json")).unwrap()).unwrap();
    let record = snap.agent(&registration).unwrap();
    assert_eq!(record.agent_wallet, Some(wallet.0.0));

    // Cleared: no wallet pays for the agent any more, online or offline.
    env.ok(
        &[
            &["registry", "set-wallet", "--agent-id", "0", "--unset"][..],
            &owner[..],
        ]
        .concat(),
        &[],
    );
    assert_eq!(wallet_of(), Value::Null);
    env.mine(2);
    env.ok(&["registry", "sync", "--out", "snapshot.json", "-q"], &[]);
    let snap = Snapshot::load(&std::fs::read(env.path().join("snapshot.json")).unwrap()).unwrap();
    assert_eq!(snap.agent(&registration).unwrap().agent_wallet, None);
}
