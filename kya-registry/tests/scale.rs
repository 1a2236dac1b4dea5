//! A sync of 10,000 registered agents (each with an Ed25519 key) on a real anvil.
//!
//! Run alone with timings: `cargo test -p kya-registry --release --test scale -- --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::time::Instant;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider as _;
use alloy::rpc::client::BatchRequest;
use alloy::sol_types::SolCall;
use common::Anvil;
use kya_core::SecretKey;
use kya_registry::bindings::KyaIdentityRegistry::registerWithKeyCall;
use kya_registry::{Follow, Snapshot, SyncOptions, new_snapshot, sync};
use kya_verify::RegistryView;
use serde_json::json;

const AGENTS: u64 = 10_000;
const SEND_BATCH: usize = 500;

fn agent_key(i: u64) -> kya_core::PublicKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    seed[31] = 0x5a;
    SecretKey::from_seed(&seed).public_key()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_of_ten_thousand_agents() {
    // 100M gas blocks: about 500 registrations each, some 20 blocks in all.
    let anvil = Anvil::start_with(&["--gas-limit", "100000000"]);
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let reader = anvil.reader();
    let from: Address = anvil.signer(1).address();

    // Register fast: automine off, every transaction sent in JSON-RPC batches with explicit
    // nonces (no receipt awaited), then blocks mined until the pool is empty.
    let t = Instant::now();
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let nonce0 = reader.get_transaction_count(from).await.unwrap();
    let keys: Vec<kya_core::PublicKey> = (0..AGENTS).map(agent_key).collect();
    for chunk in (0..AGENTS).collect::<Vec<_>>().chunks(SEND_BATCH) {
        let mut batch = BatchRequest::new(reader.client());
        let mut waiters = Vec::new();
        for &i in chunk {
            let data = registerWithKeyCall {
                agentURI: format!(
                    "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclg{i:014}"
                ),
                agentKey: B256::from(keys[i as usize].to_bytes()),
            }
            .abi_encode();
            let tx = json!({
                "from": from,
                "to": d.identity,
                "data": format!("0x{}", hex::encode(data)),
                "gas": "0x61a80",
                // Full blocks raise the base fee 12.5% each: leave room for it.
                "maxFeePerGas": "0xe8d4a51000",
                "maxPriorityFeePerGas": "0x0",
                "nonce": format!("{:#x}", nonce0 + i),
            });
            waiters.push(
                batch
                    .add_call::<_, B256>("eth_sendTransaction", &(tx,))
                    .unwrap(),
            );
        }
        batch.send().await.unwrap();
        for w in waiters {
            w.await.unwrap();
        }
    }
    let sent = t.elapsed();
    let mut blocks = 0;
    loop {
        anvil.rpc("evm_mine", json!([])).await;
        blocks += 1;
        let pending: serde_json::Value = anvil.rpc("txpool_status", json!([])).await;
        if pending["pending"] == json!("0x0") && pending["queued"] == json!("0x0") {
            break;
        }
        assert!(blocks < 1000, "the pool does not drain");
    }
    anvil.rpc("evm_setAutomine", json!([true])).await;
    assert_eq!(reg.agent_count().await.unwrap(), U256::from(AGENTS));
    let registered = t.elapsed();

    // The sync.
    let mut snap = new_snapshot(&d);
    let t = Instant::now();
    let report = sync(
        &reader,
        &mut snap,
        SyncOptions {
            start_block: d.from_block,
            follow: Follow::Confirmations(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let synced = t.elapsed();
    let t = Instant::now();
    let bytes = snap.to_json_bytes();
    let serialised = t.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    let t = Instant::now();
    kya_registry::write_atomic(&path, &bytes).unwrap();
    let written = t.elapsed();
    let t = Instant::now();
    let loaded = Snapshot::load(&std::fs::read(&path).unwrap()).unwrap();
    let load = t.elapsed();

    assert_eq!(snap.agent_count() as u64, AGENTS);
    assert_eq!(loaded.agent_count() as u64, AGENTS);
    assert_eq!(
        report.logs,
        4 * AGENTS,
        "Transfer, Registered, MetadataSet, AgentKeyBound per agent"
    );
    for i in [0, 4_321, AGENTS - 1] {
        let r = d.registration(U256::from(i));
        let key = agent_key(i);
        assert!(loaded.agent_key_bound(&r, &key, kya_core::Timestamp::now().add_seconds(60)));
        assert_eq!(loaded.agent(&r).unwrap().owner, from.into_array());
    }
    println!(
        "SCALE agents={AGENTS} blocks={blocks} send={sent:.2?} register_total={registered:.2?} \
         sync={synced:.2?} logs={} log_requests={} headers={} snapshot_bytes={} serialise={serialised:.2?} \
         write={written:.2?} load={load:.2?}",
        report.logs,
        report.log_requests,
        report.headers_fetched,
        bytes.len()
    );
}
