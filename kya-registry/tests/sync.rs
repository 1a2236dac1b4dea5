//! Sync against a real anvil: the snapshot answers what the chain says; resume; confirmations;
//! pagination; reorgs; atomic files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, U256};
use alloy::providers::Provider as _;
use common::{Anvil, ed_key};
use kya_core::{CredentialDigest, DidPkh, Timestamp};
use kya_registry::{
    Follow, NewAgent, NewFeedbackEntry, Registry, Snapshot, SyncEvent, SyncOptions, new_snapshot,
    sync, sync_file,
};
use kya_verify::RegistryView;
use serde_json::json;

async fn block_time(anvil: &Anvil, n: u64) -> Timestamp {
    let b = anvil
        .reader()
        .get_block_by_number(n.into())
        .await
        .unwrap()
        .unwrap();
    Timestamp::from_unix(b.header.timestamp as i64).unwrap()
}

/// Moves the chain's clock forward so that consecutive blocks have distinct timestamps.
async fn tick(anvil: &Anvil) {
    anvil.rpc("evm_increaseTime", json!([100])).await;
}

/// Following `latest`: these tests are about pages and reorgs, not finality.
fn opts() -> SyncOptions {
    SyncOptions {
        follow: Follow::Confirmations(0),
        ..SyncOptions::default()
    }
}

#[tokio::test]
async fn snapshot_answers_what_the_chain_says() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let alice = anvil.as_account(&reg, 1);
    let (k1, k2) = (ed_key(1), ed_key(2));
    let id = alice
        .register(&NewAgent {
            uri: "ipfs://agent".into(),
            key: Some(k1),
            ..Default::default()
        })
        .await
        .unwrap()
        .agent_id;
    let bound = alice
        .agent_key_period(id, &k1)
        .await
        .unwrap()
        .unwrap()
        .bound_at;
    tick(&anvil).await;
    let rot = alice.rotate_agent_key(id, &k1, &k2).await.unwrap();
    tick(&anvil).await;
    let principal = anvil.as_account(&reg, 2);
    let pk = ed_key(9);
    let pb = principal.bind_principal_key(&pk).await.unwrap();
    let digest = CredentialDigest([0xd1; 32]);
    let rv = alice.revoke_credential(id, &digest).await.unwrap();
    let rater = anvil.as_account(&reg, 4);
    rater.give_feedback(id, &fb(80)).await.unwrap();
    rater.give_feedback(id, &fb(60)).await.unwrap();
    anvil
        .as_account(&reg, 5)
        .give_feedback(id, &fb(10))
        .await
        .unwrap();
    anvil
        .as_account(&reg, 5)
        .revoke_feedback(id, 1)
        .await
        .unwrap();
    alice.set_agent_uri(id, "ipfs://agent-v2").await.unwrap();

    let mut snap = new_snapshot(&d);
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let report = sync(
        &anvil.reader(),
        &mut snap,
        SyncOptions {
            start_block: d.from_block,
            progress: Some(Box::new(move |e| ev.lock().unwrap().push(e.clone()))),
            ..opts()
        },
    )
    .await
    .unwrap();
    let head = anvil.reader().get_block_number().await.unwrap();
    assert_eq!(report.to_block, head);
    assert_eq!(snap.block().number, head);
    assert!(!report.reorged);
    assert!(matches!(
        events.lock().unwrap()[0],
        SyncEvent::Started { .. }
    ));

    let r = d.registration(id);
    let rec = snap.agent(&r).unwrap();
    assert_eq!(rec.owner, anvil.signer(1).address().into_array());
    assert_eq!(rec.agent_uri, "ipfs://agent-v2");
    assert_eq!(
        rec.agent_wallet,
        Some(anvil.signer(1).address().into_array())
    );

    // Keys by time: k1 from its binding block's time until the rotation block's time.
    let t_bound = block_time(&anvil, bound).await;
    let t_rot = block_time(&anvil, rot.block_number).await;
    assert!(t_bound < t_rot);
    assert!(!snap.agent_key_bound(&r, &k1, t_bound.add_seconds(-1)));
    assert!(snap.agent_key_bound(&r, &k1, t_bound));
    assert!(snap.agent_key_bound(&r, &k1, t_rot.add_seconds(-1)));
    assert!(!snap.agent_key_bound(&r, &k1, t_rot));
    assert!(snap.agent_key_bound(&r, &k2, t_rot));
    assert!(!snap.agent_key_bound(&r, &k2, t_rot.add_seconds(-1)));
    // ...and the chain agrees block by block.
    assert!(
        alice
            .key_bound_at(id, &k1, rot.block_number - 1)
            .await
            .unwrap()
    );
    assert!(!alice.key_bound_at(id, &k1, rot.block_number).await.unwrap());

    let pkh = DidPkh::new(31337, anvil.signer(2).address().into_array());
    let t_pb = block_time(&anvil, pb.block_number).await;
    assert!(snap.principal_key_bound(&pkh, &pk, t_pb));
    assert!(!snap.principal_key_bound(&pkh, &pk, t_pb.add_seconds(-1)));
    assert!(!snap.principal_key_bound(&DidPkh::new(1, pkh.address()), &pk, t_pb));

    let revocation = snap.revoked(&r, &digest).unwrap();
    assert_eq!(revocation.block, rv.block_number);
    assert_eq!(revocation.time, block_time(&anvil, rv.block_number).await);
    assert!(alice.is_revoked(id, &digest).await.unwrap());
    assert!(snap.revoked(&r, &CredentialDigest([0xd2; 32])).is_none());
    assert!(
        snap.revoked(&d.registration(U256::from(7)), &digest)
            .is_none()
    );

    // Reputation: the same raters give the same summary as the contract.
    let raters = [anvil.signer(4).address(), anvil.signer(5).address()];
    let on_chain = alice.summary(id, &raters, "", "").await.unwrap();
    let offline = snap
        .reputation(&r, &raters.map(|a| a.into_array()))
        .unwrap();
    assert_eq!(on_chain, offline);
    assert_eq!((offline.count, offline.average), (2, 70));

    // Resume: new events after the snapshot's block only.
    let before = snap.block().number;
    let id2 = alice.register(&NewAgent::default()).await.unwrap().agent_id;
    alice.revoke_agent_key(id, &k2).await.unwrap();
    let report = sync(&anvil.reader(), &mut snap, opts()).await.unwrap();
    assert_eq!(report.from_block, Some(before));
    assert_eq!(
        report.logs, 4,
        "Transfer, Registered, MetadataSet(agentWallet), AgentKeyUnbound"
    );
    assert!(snap.agent(&d.registration(id2)).is_some());
    assert!(!snap.agent_key_bound(&r, &k2, Timestamp::now().add_seconds(10_000)));

    // An ownership transfer is followed (and the wallet cleared with it).
    let to = anvil.signer(6).address();
    let call = alice
        .identity_contract()
        .transferFrom(anvil.signer(1).address(), to, id);
    call.send().await.unwrap().get_receipt().await.unwrap();
    sync(&anvil.reader(), &mut snap, opts()).await.unwrap();
    let rec = snap.agent(&r).unwrap();
    assert_eq!(rec.owner, to.into_array());
    let chain_wallet = alice.erc8004().agent(id).await.unwrap().wallet;
    assert_eq!(rec.agent_wallet, chain_wallet.map(|a| a.into_array()));

    // Another registry's agents are unknown to this snapshot.
    let other = kya_registry::Deployment {
        identity: Address::repeat_byte(1),
        ..d
    };
    assert!(snap.agent(&other.registration(id)).is_none());
}

#[tokio::test]
async fn confirmations_pagination_and_files() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let alice = anvil.as_account(&reg, 1);
    for i in 0..6u8 {
        alice
            .register(&NewAgent {
                uri: format!("ipfs://a{i}"),
                key: Some(ed_key(10 + i)),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let head = anvil.reader().get_block_number().await.unwrap();

    // Confirmations: the last two blocks are left out.
    let mut snap = new_snapshot(&d);
    sync(
        &anvil.reader(),
        &mut snap,
        SyncOptions {
            follow: Follow::Confirmations(2),
            ..opts()
        },
    )
    .await
    .unwrap();
    assert_eq!(snap.block().number, head - 2);
    assert_eq!(snap.agent_count(), 4);

    // One block per page gives the same state as one page for everything.
    let mut small = new_snapshot(&d);
    let pages = Arc::new(Mutex::new(0u32));
    let p = pages.clone();
    let r1 = sync(
        &anvil.reader(),
        &mut small,
        SyncOptions {
            page_size: 1,
            progress: Some(Box::new(move |e| {
                if matches!(e, SyncEvent::Page { .. }) {
                    *p.lock().unwrap() += 1;
                }
            })),
            ..opts()
        },
    )
    .await
    .unwrap();
    assert_eq!(u64::from(*pages.lock().unwrap()), head + 1);
    assert_eq!(r1.log_requests, head + 1);
    let mut big = new_snapshot(&d);
    sync(&anvil.reader(), &mut big, opts()).await.unwrap();
    assert_eq!(
        state_without_recent_blocks(&small),
        state_without_recent_blocks(&big)
    );
    assert_eq!(big.agent_count(), 6);

    // Resuming the confirmed snapshot reaches the same state.
    sync(&anvil.reader(), &mut snap, opts()).await.unwrap();
    assert_eq!(
        state_without_recent_blocks(&snap),
        state_without_recent_blocks(&big)
    );

    // Files: written atomically, deterministic, loadable, resumable.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    let (s1, _) = sync_file(&anvil.reader(), &path, &d, opts()).await.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, s1.to_json_bytes());
    assert_eq!(Snapshot::load(&bytes).unwrap().to_json_bytes(), bytes);
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    // No temporary file left; the writers' lock file stays beside the snapshot.
    assert_eq!(files, [".snapshot.json.lock", "snapshot.json"]);
    alice.register(&NewAgent::default()).await.unwrap();
    let (s2, report) = sync_file(&anvil.reader(), &path, &d, opts()).await.unwrap();
    assert_eq!(report.from_block, Some(s1.block().number));
    assert_eq!(s2.agent_count(), 7);

    // A snapshot of other registries is refused.
    let other = kya_registry::Deployment {
        reputation: Address::repeat_byte(2),
        ..d
    };
    let err = sync_file(&anvil.reader(), &path, &other, opts())
        .await
        .unwrap_err();
    assert!(
        matches!(err, kya_registry::RegistryError::SnapshotMismatch(_)),
        "{err}"
    );
    let _ = Registry::from_deployment(anvil.reader(), d);
}

#[tokio::test]
async fn reorg_is_detected_and_rolled_back() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let alice = anvil.as_account(&reg, 1);
    let id = alice
        .register(&NewAgent {
            uri: "ipfs://a".into(),
            key: Some(ed_key(1)),
            ..Default::default()
        })
        .await
        .unwrap()
        .agent_id;
    let mut snap = new_snapshot(&d);
    sync(&anvil.reader(), &mut snap, opts()).await.unwrap();
    let r = d.registration(id);

    // A fork: revoke a credential and register another agent, sync, then revert them.
    let fork_point = anvil.rpc("evm_snapshot", json!([])).await;
    let digest = CredentialDigest([0xee; 32]);
    alice.revoke_credential(id, &digest).await.unwrap();
    alice
        .register(&NewAgent {
            uri: "ipfs://orphan".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    sync(&anvil.reader(), &mut snap, opts()).await.unwrap();
    assert!(snap.revoked(&r, &digest).is_some());
    assert_eq!(snap.agent_count(), 2);
    let orphan_head = snap.block().number;

    assert_eq!(
        anvil.rpc("evm_revert", json!([fork_point])).await,
        json!(true)
    );
    // The other branch: different transactions, and a longer chain.
    tick(&anvil).await;
    alice
        .register(&NewAgent {
            uri: "ipfs://canonical".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    anvil.rpc("anvil_mine", json!(["0x3"])).await;
    assert!(anvil.reader().get_block_number().await.unwrap() > orphan_head);

    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let report = sync(
        &anvil.reader(),
        &mut snap,
        SyncOptions {
            progress: Some(Box::new(move |e| ev.lock().unwrap().push(e.clone()))),
            ..opts()
        },
    )
    .await
    .unwrap();
    assert!(report.reorged);
    let reorg = events
        .lock()
        .unwrap()
        .iter()
        .find_map(|e| match e {
            SyncEvent::Reorg {
                at,
                common_ancestor,
            } => Some((*at, *common_ancestor)),
            _ => None,
        })
        .unwrap();
    assert_eq!(reorg.0, orphan_head);
    assert!(reorg.1.is_some_and(|b| b < orphan_head), "{reorg:?}");
    assert!(
        snap.revoked(&r, &digest).is_none(),
        "the orphaned revocation is gone"
    );
    assert_eq!(
        snap.agent(&d.registration(U256::from(1)))
            .unwrap()
            .agent_uri,
        "ipfs://canonical"
    );
    assert_eq!(snap.agent_count(), 2);
    // Identical to a fresh sync of the canonical chain.
    let mut fresh = new_snapshot(&d);
    sync(&anvil.reader(), &mut fresh, opts()).await.unwrap();
    assert_eq!(
        state_without_recent_blocks(&snap),
        state_without_recent_blocks(&fresh)
    );

    // A chain that got shorter than the snapshot is a reorg too.
    let fork_point = anvil.rpc("evm_snapshot", json!([])).await;
    anvil.rpc("anvil_mine", json!(["0x5"])).await;
    sync(&anvil.reader(), &mut snap, opts()).await.unwrap();
    anvil.rpc("evm_revert", json!([fork_point])).await;
    let report = sync(&anvil.reader(), &mut snap, opts()).await.unwrap();
    assert!(report.reorged);
    assert_eq!(
        snap.block().number,
        anvil.reader().get_block_number().await.unwrap()
    );
    assert_eq!(
        state_without_recent_blocks(&snap),
        state_without_recent_blocks(&fresh)
    );
}

/// The snapshot's JSON without `recentBlocks` (which records the pages a sync happened to
/// use), `block` (head) and `contentDigest` (which covers both).
fn state_without_recent_blocks(s: &Snapshot) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&s.to_json_bytes()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("recentBlocks");
    o.remove("block");
    o.remove("contentDigest");
    v
}

fn fb(value: i128) -> NewFeedbackEntry {
    NewFeedbackEntry {
        value,
        tag1: "starred".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn refused_ranges_are_halved() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let alice = anvil.as_account(&reg, 1);
    for _ in 0..5 {
        alice.register(&NewAgent::default()).await.unwrap();
    }
    anvil.rpc("anvil_mine", json!(["0x40"])).await;
    alice.register(&NewAgent::default()).await.unwrap();
    let proxy = common::RangeLimitedProxy::start(anvil.reader(), 8).await;
    let via_proxy = kya_registry::connect_http(&proxy.url, None).unwrap();
    let halvings = Arc::new(Mutex::new(Vec::new()));
    let h = halvings.clone();
    let mut snap = new_snapshot(&d);
    let report = sync(
        &via_proxy,
        &mut snap,
        SyncOptions {
            page_size: 100,
            progress: Some(Box::new(move |e| {
                if let SyncEvent::PageHalved { page_size } = e {
                    h.lock().unwrap().push(*page_size);
                }
            })),
            ..opts()
        },
    )
    .await
    .unwrap();
    let hv = halvings.lock().unwrap().clone();
    assert!(
        hv.len() >= 3 && hv.windows(2).all(|w| w[1] < w[0]) && hv[hv.len() - 1] <= 8,
        "{hv:?}"
    );
    assert!(proxy.refused.load(std::sync::atomic::Ordering::Relaxed) >= 4);
    assert!(report.log_requests > 10);
    assert_eq!(snap.agent_count(), 6);
    let mut direct = new_snapshot(&d);
    sync(&anvil.reader(), &mut direct, opts()).await.unwrap();
    assert_eq!(
        state_without_recent_blocks(&snap),
        state_without_recent_blocks(&direct)
    );
}

#[tokio::test]
async fn reorg_during_a_sync_is_detected() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let alice = anvil.as_account(&reg, 1);
    alice.register(&NewAgent::default()).await.unwrap();
    let fork_point = anvil.rpc("evm_snapshot", json!([])).await;
    for _ in 0..3 {
        alice
            .register(&NewAgent {
                uri: "ipfs://orphan".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    // While the sync reads its first page, the chain switches to a branch without the
    // orphans (and longer).
    let proxy = common::RangeLimitedProxy::start_with_hook(
        anvil.reader(),
        u64::MAX,
        vec![
            ("evm_revert", json!([fork_point])),
            ("evm_increaseTime", json!([50])),
            ("anvil_mine", json!(["0x6"])),
        ],
    )
    .await;
    let via_proxy = kya_registry::connect_http(&proxy.url, None).unwrap();
    let mut snap = new_snapshot(&d);
    let report = sync(&via_proxy, &mut snap, opts()).await.unwrap();
    assert!(report.reorged);
    assert_eq!(snap.agent_count(), 1);
    let mut direct = new_snapshot(&d);
    sync(&anvil.reader(), &mut direct, opts()).await.unwrap();
    assert_eq!(snap.to_json_bytes().len(), direct.to_json_bytes().len());
    assert_eq!(
        state_without_recent_blocks(&snap),
        state_without_recent_blocks(&direct)
    );
    assert_eq!(snap.block(), direct.block());
}

/// Offline summaries equal the contract's `getSummary` when raters use different decimals.
#[tokio::test]
async fn mixed_decimal_summaries_match_the_contract() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let owner = anvil.as_account(&reg, 1);
    let id = owner.register(&NewAgent::default()).await.unwrap().agent_id;
    for (account, value, value_decimals) in [
        (4, 875, 1),
        (5, 90, 0),
        (6, 9250, 2),
        (6, -1234, 2),
        (7, 3, 0),
    ] {
        let entry = NewFeedbackEntry {
            value,
            value_decimals,
            ..fb(0)
        };
        anvil
            .as_account(&reg, account)
            .give_feedback(id, &entry)
            .await
            .unwrap();
    }
    let mut snap = new_snapshot(&d);
    sync(&anvil.reader(), &mut snap, opts()).await.unwrap();
    let r = d.registration(id);
    let who = |i: usize| anvil.signer(i).address();
    for raters in [
        vec![who(4), who(5)],
        vec![who(4), who(5), who(6)],
        vec![who(6), who(7)],
        vec![who(4), who(5), who(6), who(7)],
    ] {
        let on_chain = owner.summary(id, &raters, "", "").await.unwrap();
        let offline = snap
            .reputation(
                &r,
                &raters.iter().map(|a| a.into_array()).collect::<Vec<_>>(),
            )
            .unwrap();
        assert_eq!(on_chain, offline, "raters {raters:?}");
    }
}
