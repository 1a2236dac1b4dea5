//! A registry view a merchant can trust, against real anvils: final blocks only, a quorum of
//! sources (one of them lying), storage proofs, no rollback by an older sync, no hang.
//!
//! anvil's `finalized` block is `latest − 2 × slots-in-an-epoch`: with one slot per epoch,
//! mining two blocks makes what came before final.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::time::Duration;

use alloy::providers::Provider as _;
use common::{Anvil, ed_key};
use kya_core::CredentialDigest;
use kya_registry::proof::{Fact, Verdict, prove, verify_report};
use kya_registry::{
    B256, Deployment, Follow, NewAgent, Registry, RegistryError, Snapshot, Sources, SyncEvent,
    SyncOptions, U256, new_snapshot, sync_file_sources, sync_sources,
};
use kya_verify::RegistryView as _;
use serde_json::json;

const SLOTS: [&str; 2] = ["--slots-in-an-epoch", "1"];

fn final_anvil() -> Anvil {
    Anvil::start_with(&SLOTS)
}

fn fork_of(upstream: &Anvil, block: u64) -> Anvil {
    let n = block.to_string();
    Anvil::start_with(&[
        SLOTS[0],
        SLOTS[1],
        "--fork-url",
        &upstream.url,
        "--fork-block-number",
        &n,
    ])
}

async fn mine(anvil: &Anvil, n: u64) {
    anvil.rpc("anvil_mine", json!([format!("{n:#x}")])).await;
}

async fn head(anvil: &Anvil) -> u64 {
    anvil.reader().get_block_number().await.unwrap()
}

fn sources(nodes: &[&Anvil], quorum: Option<usize>) -> Sources {
    let urls: Vec<String> = nodes.iter().map(|a| a.url.clone()).collect();
    Sources::connect(&urls, quorum, Duration::from_secs(10)).unwrap()
}

fn finalized(d: &Deployment) -> SyncOptions {
    SyncOptions {
        start_block: d.from_block,
        ..SyncOptions::default()
    }
}

const REVOKED: CredentialDigest = CredentialDigest([0xd1; 32]);

/// A registry with one agent (key `ed_key(1)`) on `anvil`; returns it and the agent id.
async fn registered(anvil: &Anvil) -> (Registry, U256) {
    let reg = anvil.deploy().await;
    let id = anvil
        .as_account(&reg, 1)
        .register(&NewAgent {
            uri: "ipfs://agent".into(),
            key: Some(ed_key(1)),
            ..Default::default()
        })
        .await
        .unwrap()
        .agent_id;
    (reg, id)
}

/// An honest chain with a revocation, an honest copy of it, and a liar that serves the same
/// deployment and registration (same keys, nonces, addresses) but not the revocation.
async fn honest_pair_and_liar() -> (Anvil, Anvil, Anvil, Deployment, U256) {
    let a = final_anvil();
    let (reg, id) = registered(&a).await;
    let liar = fork_of(&a, head(&a).await);
    a.as_account(&reg, 1)
        .revoke_credential(id, &REVOKED)
        .await
        .unwrap();
    mine(&a, 3).await;
    mine(&liar, 4).await;
    let copy = fork_of(&a, head(&a).await);
    assert_eq!(head(&liar).await, head(&a).await);
    (a, copy, liar, *reg.deployment(), id)
}

#[tokio::test]
async fn a_lying_endpoint_is_outvoted_by_a_quorum() {
    let (a, copy, liar, d, id) = honest_pair_and_liar().await;
    let r = d.registration(id);

    // Alone, the liar's view has no revocation: that is what a single endpoint risks.
    let mut alone = new_snapshot(&d);
    sync_sources(&sources(&[&liar], None), &mut alone, &mut finalized(&d))
        .await
        .unwrap();
    assert!(alone.revoked(&r, &REVOKED).is_none());

    // Two of three agree: the revocation is in, and the liar is named with its answers.
    let mut snap = new_snapshot(&d);
    let report = sync_sources(
        &sources(&[&liar, &a, &copy], None),
        &mut snap,
        &mut finalized(&d),
    )
    .await
    .unwrap();
    assert!(snap.revoked(&r, &REVOKED).is_some());
    assert!(!report.outvoted.is_empty());
    assert!(
        report
            .outvoted
            .iter()
            .all(|(_, dissent)| dissent.iter().all(|x| x.endpoint == liar.url)),
        "{:?}",
        report.outvoted
    );
    assert!(
        report
            .outvoted
            .iter()
            .any(|(what, _)| what.contains("logs")),
        "the logs without the revocation are outvoted: {:?}",
        report.outvoted
    );

    // One honest and one liar, both needed: no quorum, and both answers are reported.
    let mut none = new_snapshot(&d);
    let err = sync_sources(&sources(&[&a, &liar], None), &mut none, &mut finalized(&d))
        .await
        .unwrap_err();
    let RegistryError::NoQuorum { answers, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(answers.len(), 2);
    assert_ne!(answers[0].answer, answers[1].answer);
    let text = err.to_string();
    assert!(text.contains(&a.url) && text.contains(&liar.url), "{text}");
}

/// A snapshot file synced from `a` alone: its directory, path and bytes.
async fn synced_file(
    a: &Anvil,
    d: &Deployment,
) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    sync_file_sources(&sources(&[a], None), &path, d, &mut finalized(d))
        .await
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (dir, path, bytes)
}

#[tokio::test]
async fn a_rewrite_of_final_history_is_refused_and_the_snapshot_kept() {
    let (a, _copy, liar, d, id) = honest_pair_and_liar().await;
    let (_dir, path, kept) = synced_file(&a, &d).await;
    let block = Snapshot::load(&kept).unwrap().block();

    // The liar's history parts below the snapshot's (final) block.
    let err = sync_file_sources(&sources(&[&liar], None), &path, &d, &mut finalized(&d))
        .await
        .unwrap_err();
    let RegistryError::FinalityViolation {
        block: at,
        expected,
        got,
    } = err
    else {
        panic!("{err}");
    };
    assert_eq!(at, block.number);
    assert_eq!(expected, B256::from(block.hash));
    assert!(got.is_some_and(|g| g != expected));
    assert_eq!(std::fs::read(&path).unwrap(), kept, "the snapshot is kept");

    // Only when asked, the snapshot is rebuilt from the sources' history.
    let mut rebuild = SyncOptions {
        rebuild: true,
        ..finalized(&d)
    };
    let (s, _) = sync_file_sources(&sources(&[&liar], None), &path, &d, &mut rebuild)
        .await
        .unwrap();
    assert!(s.revoked(&d.registration(id), &REVOKED).is_none());
}

#[tokio::test]
async fn another_genesis_or_a_chain_without_the_registry_is_refused() {
    let a = final_anvil();
    let (reg, _) = registered(&a).await;
    let d = *reg.deployment();
    mine(&a, 2).await;
    let (dir, path, kept) = synced_file(&a, &d).await;
    let genesis = Snapshot::load(&kept).unwrap().genesis_hash();
    assert_ne!(genesis, [0; 32]);

    // Same chain id, same deployer and nonce (so the same addresses), another genesis.
    let other = Anvil::start_with(&[SLOTS[0], SLOTS[1], "--timestamp", "1000"]);
    let (_, _) = registered(&other).await;
    mine(&other, 2).await;
    let err = sync_file_sources(&sources(&[&other], None), &path, &d, &mut finalized(&d))
        .await
        .unwrap_err();
    let RegistryError::GenesisMismatch { expected, got, .. } = err else {
        panic!("{err}");
    };
    assert_eq!(expected, B256::from(genesis));
    assert_ne!(got, expected);
    assert_eq!(std::fs::read(&path).unwrap(), kept);

    // A chain of that id without the registry: refused, nothing written.
    let bare = final_anvil();
    mine(&bare, 2 + d.from_block).await;
    let fresh = dir.path().join("fresh.json");
    let err = sync_file_sources(&sources(&[&bare], None), &fresh, &d, &mut finalized(&d))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::NoRegistryCode { address, .. } if address == d.identity),
        "{err}"
    );
    assert!(!fresh.exists());
}

#[tokio::test]
async fn sync_follows_finalized_blocks_by_default() {
    let a = final_anvil();
    let (reg, _) = registered(&a).await;
    let d = *reg.deployment();
    let mut snap = new_snapshot(&d);
    sync_sources(&sources(&[&a], None), &mut snap, &mut finalized(&d))
        .await
        .unwrap();
    // The registration is in the last two blocks: not final yet.
    assert_eq!(snap.block().number, head(&a).await - 2);
    assert_eq!(snap.agent_count(), 0);
    mine(&a, 2).await;
    sync_sources(&sources(&[&a], None), &mut snap, &mut finalized(&d))
        .await
        .unwrap();
    assert_eq!(snap.agent_count(), 1);
    let b = snap.block();
    let header = a
        .reader()
        .get_block_by_number(b.number.into())
        .await
        .unwrap()
        .unwrap()
        .header;
    assert_eq!(b.hash, header.hash.0);
    assert_eq!(b.state_root, header.state_root.0);
    // `safe` is one block further.
    let mut safe = new_snapshot(&d);
    let mut opts = SyncOptions {
        follow: Follow::Safe,
        ..finalized(&d)
    };
    sync_sources(&sources(&[&a], None), &mut safe, &mut opts)
        .await
        .unwrap();
    assert_eq!(safe.block().number, head(&a).await - 1);
}

/// The slot of `_revokedAt[agentId][digest]`, as `cast storage` reads it.
fn cast_storage(anvil: &Anvil, address: kya_registry::Address, slot: B256, block: u64) -> U256 {
    let cast = common::workspace_root().join(".tools/bin/cast");
    let out = std::process::Command::new(&cast)
        .args(["storage", &address.to_string(), &slot.to_string()])
        .args(["--block", &block.to_string(), "--rpc-url", &anvil.url])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask install`)", cast.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn storage_proofs_of_a_revocation_and_a_key_binding_verify() {
    let (a, copy, liar, d, id) = honest_pair_and_liar().await;
    let principal = a.signer(2).address();
    let both = sources(&[&a, &copy], None);
    let mut snap = new_snapshot(&d);
    sync_sources(&both, &mut snap, &mut finalized(&d))
        .await
        .unwrap();
    let block = snap.block().number;
    let facts = [
        Fact::Revocation {
            agent_id: id,
            digest: B256::from(REVOKED.0),
        },
        Fact::Revocation {
            agent_id: id,
            digest: B256::repeat_byte(0xee),
        },
        Fact::AgentKey {
            agent_id: id,
            key: B256::from(ed_key(1).to_bytes()),
        },
        Fact::PrincipalKey {
            principal,
            key: B256::from(ed_key(9).to_bytes()),
        },
    ];
    let report = prove(&both, &d, block, &facts).await.unwrap();
    // Anchored in the block the snapshot reflects.
    assert_eq!(report.block.hash, B256::from(snap.block().hash));
    assert_eq!(report.block.state_root, B256::from(snap.block().state_root));
    verify_report(&report, &d).unwrap();
    let verdicts: Vec<Verdict> = report.facts.iter().map(|f| f.verdict).collect();
    assert!(matches!(verdicts[0], Verdict::Revoked { .. }));
    assert_eq!(verdicts[1], Verdict::NotRevoked);
    assert!(matches!(verdicts[2], Verdict::Bound { .. }));
    assert_eq!(verdicts[3], Verdict::NeverBound);
    // The slots are where the contract keeps the facts (as `cast storage` reads them).
    for f in &report.facts {
        assert_eq!(cast_storage(&a, d.identity, f.slot, block), f.value);
    }
    assert!(!report.facts[0].value.is_zero() && !report.facts[2].value.is_zero());

    // From the liar alone, at that block, no proof is anchored in the agreed block.
    let err = prove(&sources(&[&liar, &a], Some(2)), &d, block, &facts)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::NoQuorum { .. }), "{err}");

    // A report whose every proof is genuine, at the same agreed block, but about another
    // account (here one with no storage, where every fact reads as never set: the revocation
    // "not revoked", the key "never bound") proves nothing about this registry.
    let elsewhere = kya_registry::Deployment {
        identity: a.signer(9).address(),
        ..d
    };
    let other = prove(&both, &elsewhere, block, &facts).await.unwrap();
    assert_eq!(other.block.hash, report.block.hash);
    assert_eq!(other.facts[0].verdict, Verdict::NotRevoked);
    let err = verify_report(&other, &d).expect_err("a report about another account");
    assert!(err.to_string().contains("identity registry"), "{err}");

    tampered_reports_are_refused(&report, &d);
}

fn tampered_reports_are_refused(
    good: &kya_registry::proof::ProofReport,
    deployment: &kya_registry::Deployment,
) {
    let mut tampered = Vec::new();
    // The revocation hidden: the value zeroed, the verdict changed to match.
    let mut r = good.clone();
    r.facts[0].value = U256::ZERO;
    r.facts[0].verdict = Verdict::NotRevoked;
    tampered.push(("revocation hidden", r));
    // Only the verdict changed.
    let mut r = good.clone();
    r.facts[0].verdict = Verdict::NotRevoked;
    tampered.push(("verdict changed", r));
    // A proof node flipped.
    let mut r = good.clone();
    let mut node = r.facts[2].proof[0].to_vec();
    node[5] ^= 1;
    r.facts[2].proof[0] = node.into();
    tampered.push(("storage proof node", r));
    // Another fact claimed for the proven slot.
    let mut r = good.clone();
    r.facts[1].fact = Fact::Revocation {
        agent_id: U256::from(99),
        digest: B256::repeat_byte(0xee),
    };
    tampered.push(("fact swapped", r));
    // Another storage root for the account.
    let mut r = good.clone();
    r.account.storage_root = B256::repeat_byte(1);
    tampered.push(("storage root", r));
    // Another block hash, or a state root the header does not name.
    let mut r = good.clone();
    r.block.hash = B256::repeat_byte(2);
    tampered.push(("block hash", r));
    let mut r = good.clone();
    r.block.state_root = B256::repeat_byte(3);
    tampered.push(("state root", r));
    // Another chain claimed (no header carries the chain id: the auditor's deployment does).
    let mut r = good.clone();
    r.chain_id = 1;
    tampered.push(("chain id", r));
    for (what, r) in tampered {
        let err = verify_report(&r, deployment).expect_err(what);
        assert!(
            matches!(err, RegistryError::Proof(_) | RegistryError::Trie { .. }),
            "{what}: {err}"
        );
    }
}

#[tokio::test]
async fn an_older_sync_finishing_last_does_not_roll_back_the_snapshot() {
    let (a, _copy, _liar, d, id) = honest_pair_and_liar().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    let revoked_in = head(&a).await - 3;
    let url = a.url.clone();
    let (reached, resume) = (
        std::sync::mpsc::channel::<()>(),
        std::sync::mpsc::channel::<()>(),
    );
    let (reached_tx, reached_rx) = reached;
    let (resume_tx, resume_rx) = resume;
    // The older sync: reads up to before the revocation, then stalls just before writing.
    let older = {
        let path = path.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let mut o = SyncOptions {
                    to_block: Some(revoked_in - 1),
                    progress: Some(Box::new(move |e| {
                        if matches!(e, SyncEvent::Writing { .. }) {
                            reached_tx.send(()).unwrap();
                            resume_rx.recv().unwrap();
                        }
                    })),
                    ..finalized(&d)
                };
                let s = Sources::connect(&[url], None, Duration::from_secs(10)).unwrap();
                sync_file_sources(&s, &path, &d, &mut o).await.unwrap().0
            })
        })
    };
    reached_rx.recv().unwrap();
    // The newer sync starts later and finishes first, with the revocation.
    let (newer, _) = sync_file_sources(&sources(&[&a], None), &path, &d, &mut finalized(&d))
        .await
        .unwrap();
    assert!(newer.revoked(&d.registration(id), &REVOKED).is_some());
    resume_tx.send(()).unwrap();
    let kept = older.join().unwrap();
    let on_disk = Snapshot::load(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(on_disk.block(), newer.block());
    assert!(on_disk.revoked(&d.registration(id), &REVOKED).is_some());
    assert_eq!(
        kept.block(),
        newer.block(),
        "the older sync reports what is kept"
    );
}

/// A node that accepts connections and never answers.
async fn stalled_node() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_stalled_node_is_timed_out_and_left_out() {
    let a = final_anvil();
    let (reg, _) = registered(&a).await;
    mine(&a, 2).await;
    let d = *reg.deployment();
    let copy = fork_of(&a, head(&a).await);
    let (stalled, task) = stalled_node().await;
    let short = Duration::from_millis(300);
    // A guard against a hang, far beyond the bounded retries (3 × 300 ms per request).
    let guard = Duration::from_secs(60);

    let alone = Sources::connect(std::slice::from_ref(&stalled), None, short).unwrap();
    let err = tokio::time::timeout(
        guard,
        sync_sources(&alone, &mut new_snapshot(&d), &mut finalized(&d)),
    )
    .await
    .expect("the sync hangs on a stalled node")
    .unwrap_err();
    assert!(matches!(err, RegistryError::NoQuorum { .. }), "{err}");
    assert!(err.to_string().contains(&stalled), "{err}");

    // Two answering nodes of three still make a majority.
    let urls = [a.url.clone(), stalled, copy.url.clone()];
    let three = Sources::connect(&urls, None, short).unwrap();
    let mut snap = new_snapshot(&d);
    tokio::time::timeout(guard, sync_sources(&three, &mut snap, &mut finalized(&d)))
        .await
        .expect("the sync hangs on a stalled node")
        .unwrap();
    assert_eq!(snap.agent_count(), 1);
    task.abort();
}

#[tokio::test]
async fn a_chain_that_shrinks_during_a_page_is_a_reorganisation() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    anvil
        .as_account(&reg, 1)
        .register(&NewAgent::default())
        .await
        .unwrap();
    let mut opts = SyncOptions {
        follow: Follow::Confirmations(0),
        start_block: d.from_block,
        page_size: 1,
        ..SyncOptions::default()
    };
    let mut snap = new_snapshot(&d);
    sync_sources(&Sources::single(anvil.reader()), &mut snap, &mut opts)
        .await
        .unwrap();
    let fork_point = anvil.rpc("evm_snapshot", json!([])).await;
    mine(&anvil, 3).await;
    // Between the one-block page's header read and its eth_getLogs, the chain loses that
    // block (and the ones after it).
    let proxy = common::RangeLimitedProxy::start_with_hook(
        anvil.reader(),
        u64::MAX,
        vec![("evm_revert", json!([fork_point]))],
    )
    .await;
    let via_proxy = kya_registry::connect_http(&proxy.url, None).unwrap();
    let report = sync_sources(&Sources::single(via_proxy), &mut snap, &mut opts)
        .await
        .unwrap();
    assert!(report.reorged);
    assert_eq!(snap.agent_count(), 1);
    assert_eq!(snap.block().number, head(&anvil).await);
}
