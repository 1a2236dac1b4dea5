//! Nothing an arbitrary account puts on chain stops the sync or hides other records: records
//! beyond the snapshot's bounds degrade only themselves. Against a real anvil: the kya
//! contracts (an attacker binds more keys than a snapshot keeps, to an agent and to its own
//! wallet), and a foreign ERC-8004 deployment (emitting what the kya contracts refuse: an
//! over-long URI, over-long tags, too many decimals). Also: a snapshot re-derived from the
//! chain detects a hand-edited one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider as _;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolEvent;
use common::{Anvil, ed_key};
use kya_core::{CredentialDigest, DidPkh, PublicKey, SecretKey};
use kya_registry::bindings::KyaIdentityRegistry::{
    AgentKeyBound, CredentialRevoked, IssuerCredentialRevoked, KyaIdentityRegistryErrors,
};
use kya_registry::bindings::erc8004::IErc8004Identity::{Registered, URIUpdated};
use kya_registry::bindings::erc8004::IErc8004Reputation::{FeedbackRevoked, NewFeedback};
use kya_registry::{
    ContractRevert, Deployment, Follow, NewAgent, RegistryError, SnapshotCheck, SyncOptions,
    new_snapshot, sync, sync_file, verify_snapshot,
};
use kya_verify::RegistryView;
use kya_verify::snapshot::{MAX_KEYS_PER_OWNER, MAX_STRING_BYTES, Snapshot};
use serde_json::json;

/// Distinct valid Ed25519 keys (seeded by index), none equal to `ed_key(_)`.
fn many_keys(n: usize, salt: u8) -> Vec<PublicKey> {
    (0..n)
        .map(|i| {
            let mut seed = [salt; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SecretKey::from_seed(&seed).public_key()
        })
        .collect()
}

fn b256(k: &PublicKey) -> B256 {
    B256::from(k.to_bytes())
}

#[tokio::test]
async fn an_attacker_cannot_stop_the_sync_or_hide_a_revocation() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("snapshot.json");

    // A legitimate agent, synced before the attack.
    let victim = anvil.as_account(&reg, 1);
    let victim_key = ed_key(1);
    let victim_id = victim
        .register(&NewAgent {
            uri: "ipfs://victim".into(),
            key: Some(victim_key),
            ..Default::default()
        })
        .await
        .unwrap()
        .agent_id;
    sync_file(&anvil.reader(), &path, &d, latest())
        .await
        .unwrap();

    // The attacker: an over-long URI is refused by the contract itself ...
    let attacker = anvil.as_account(&reg, 2);
    let err = attacker
        .register(&NewAgent {
            uri: "x".repeat(MAX_STRING_BYTES + 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::Contract(ContractRevert::Identity(KyaIdentityRegistryErrors::KyaURITooLong(e)))
                if e.length == U256::from(MAX_STRING_BYTES + 1)
                    && e.maxLength == U256::from(MAX_STRING_BYTES)
        ),
        "{err:?}"
    );
    // ... but more keys than a snapshot keeps are not (a counter would cost every binding a
    // storage write): an agent and the attacker's own wallet get MAX + 1 keys each.
    let attacker_id = attacker
        .register(&NewAgent {
            uri: "ipfs://attacker".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .agent_id;
    let keys = many_keys(MAX_KEYS_PER_OWNER + 1, 0x5a);
    let id_contract = attacker.identity_contract();
    for k in &keys {
        let _pending = id_contract
            .setAgentKey(attacker_id, b256(k))
            .gas(200_000)
            .send()
            .await
            .unwrap();
        let _pending = id_contract
            .bindPrincipalKey(b256(k))
            .gas(200_000)
            .send()
            .await
            .unwrap();
    }
    // Later events of the degraded records, then the legitimate revocations.
    attacker
        .revoke_agent_key(attacker_id, &keys[3])
        .await
        .unwrap();
    attacker.unbind_principal_key(&keys[4]).await.unwrap();
    let digest = CredentialDigest([0xd1; 32]);
    victim.revoke_credential(victim_id, &digest).await.unwrap();
    let wallet = anvil.as_account(&reg, 3);
    let issued = CredentialDigest([0xd2; 32]);
    wallet.revoke_issued_credential(&issued).await.unwrap();
    assert_eq!(
        wallet
            .identity_contract()
            .issuerRevokedAt(anvil.signer(3).address(), B256::from(issued.0))
            .call()
            .await
            .unwrap(),
        anvil.reader().get_block_number().await.unwrap()
    );

    // The resumed sync succeeds, and so does a fresh one from the deployment block.
    let (snap, _) = sync_file(&anvil.reader(), &path, &d, latest())
        .await
        .unwrap();
    let mut fresh = new_snapshot(&d);
    sync(
        &anvil.reader(),
        &mut fresh,
        SyncOptions {
            start_block: d.from_block,
            ..latest()
        },
    )
    .await
    .unwrap();
    assert!(fresh.same_state(&snap), "resumed and fresh syncs agree");
    let snap = Snapshot::load(&std::fs::read(&path).unwrap()).unwrap();

    // The revocations are there.
    let victim_reg = d.registration(victim_id);
    assert!(snap.revoked(&victim_reg, &digest).is_some());
    let wallet_pkh = DidPkh::new(d.chain_id, anvil.signer(3).address().into_array());
    let r = snap.revoked_by_issuer(&wallet_pkh, &issued).unwrap();
    assert_eq!(r.issuer, anvil.signer(3).address().into_array());
    // The victim is untouched.
    assert_eq!(snap.agent_over_bounds(&victim_reg), None);
    assert!(snap.agent_key_bound(&victim_reg, &victim_key, kya_core::Timestamp::now()));
    // The attacker's records are degraded, for themselves only, with the reason.
    let attacker_reg = d.registration(attacker_id);
    let reason = snap.agent_over_bounds(&attacker_reg).unwrap();
    assert!(reason.contains("key bindings"), "{reason}");
    assert!(!snap.agent_key_bound(&attacker_reg, &keys[0], kya_core::Timestamp::now()));
    let attacker_pkh = DidPkh::new(d.chain_id, anvil.signer(2).address().into_array());
    assert!(snap.principal_over_bounds(&attacker_pkh).is_some());
    assert!(!snap.principal_key_bound(&attacker_pkh, &keys[0], kya_core::Timestamp::now()));

    // Re-derived from the chain at its block, the snapshot matches.
    assert_eq!(
        verify_snapshot(&anvil.reader(), &snap, d.from_block)
            .await
            .unwrap(),
        SnapshotCheck::Matches {
            block: snap.block().number
        }
    );
}

/// A contract that emits whatever log it is called with: calldata is the topic count (3 or
/// 4), four topic words, then the log data. It stands in for a foreign ERC-8004 deployment
/// whose contracts accept what kya's refuse.
const EMITTER: &str = "3660a090038060a0600037600035600314602557608035606035604035602035846000a4005b606035604035602035836000a300";

async fn emit(anvil: &Anvil, to: Address, log: alloy::primitives::LogData) {
    let topics = log.topics();
    let mut input = U256::from(topics.len()).to_be_bytes::<32>().to_vec();
    for i in 0..4 {
        input.extend_from_slice(topics.get(i).map_or(&[0u8; 32][..], |t| &t.0[..]));
    }
    input.extend_from_slice(&log.data);
    let tx = TransactionRequest::default()
        .to(to)
        .input(Bytes::from(input).into())
        .gas_limit(5_000_000);
    let receipt = anvil
        .provider(1)
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.inner.logs().len(), 1);
}

#[tokio::test]
async fn records_beyond_bounds_from_another_deployment_degrade_only_themselves() {
    let anvil = Anvil::start();
    let (identity, reputation) = (Address::repeat_byte(0x1d), Address::repeat_byte(0x2e));
    for a in [identity, reputation] {
        anvil
            .rpc(
                "anvil_setCode",
                json!([a.to_string(), format!("0x{EMITTER}")]),
            )
            .await;
    }
    let chain_id = anvil.reader().get_chain_id().await.unwrap();
    let d = Deployment {
        chain_id,
        identity,
        reputation,
        from_block: 0,
        log_anchor: None,
        validation: None,
    };
    let (attacker, victim) = (Address::repeat_byte(0x66), Address::repeat_byte(0x11));
    let long = "x".repeat(MAX_STRING_BYTES + 1);
    let (one, two) = (U256::from(1), U256::from(2));
    let key = ed_key(7);
    let digest = CredentialDigest([0xd3; 32]);

    let events = [
        (
            identity,
            Registered {
                agentId: one,
                agentURI: long.clone(),
                owner: attacker,
            }
            .encode_log_data(),
        ),
        (
            identity,
            Registered {
                agentId: two,
                agentURI: "ipfs://victim".into(),
                owner: victim,
            }
            .encode_log_data(),
        ),
        (
            identity,
            AgentKeyBound {
                agentId: two,
                key: b256(&key),
                by: victim,
            }
            .encode_log_data(),
        ),
        (
            identity,
            URIUpdated {
                agentId: one,
                newURI: long.clone(),
                updatedBy: attacker,
            }
            .encode_log_data(),
        ),
        (
            reputation,
            NewFeedback {
                agentId: two,
                clientAddress: attacker,
                feedbackIndex: 1,
                value: 1,
                valueDecimals: 0,
                indexedTag1: B256::ZERO,
                tag1: long.clone(),
                tag2: String::new(),
                endpoint: long.clone(),
                feedbackURI: String::new(),
                feedbackHash: B256::ZERO,
            }
            .encode_log_data(),
        ),
        (
            reputation,
            NewFeedback {
                agentId: two,
                clientAddress: attacker,
                feedbackIndex: 2,
                value: 1,
                valueDecimals: 200,
                indexedTag1: B256::ZERO,
                tag1: String::new(),
                tag2: String::new(),
                endpoint: String::new(),
                feedbackURI: String::new(),
                feedbackHash: B256::ZERO,
            }
            .encode_log_data(),
        ),
        (
            reputation,
            NewFeedback {
                agentId: two,
                clientAddress: victim,
                feedbackIndex: 1,
                value: 90,
                valueDecimals: 0,
                indexedTag1: B256::ZERO,
                tag1: String::new(),
                tag2: String::new(),
                endpoint: String::new(),
                feedbackURI: String::new(),
                feedbackHash: B256::ZERO,
            }
            .encode_log_data(),
        ),
        (
            reputation,
            FeedbackRevoked {
                agentId: two,
                clientAddress: attacker,
                feedbackIndex: 1,
            }
            .encode_log_data(),
        ),
        (
            identity,
            CredentialRevoked {
                agentId: two,
                digest: B256::from(digest.0),
                by: victim,
            }
            .encode_log_data(),
        ),
        (
            identity,
            IssuerCredentialRevoked {
                issuer: victim,
                digest: B256::from(digest.0),
            }
            .encode_log_data(),
        ),
    ];
    for (to, log) in events {
        emit(&anvil, to, log).await;
    }

    let mut snap = new_snapshot(&d);
    sync(&anvil.reader(), &mut snap, latest()).await.unwrap();
    let snap = Snapshot::load(&snap.to_json_bytes()).unwrap();
    let reg = |id: u64| kya_core::credential::AgentRegistration {
        agent_registry: kya_core::credential::RegistryAddress {
            chain_id,
            address: identity.into_array(),
        },
        agent_id: kya_core::credential::AgentId::from(id),
    };
    // The revocations after the attacker's events are there.
    assert!(snap.revoked(&reg(2), &digest).is_some());
    assert!(
        snap.revoked_by_issuer(&DidPkh::new(chain_id, victim.into_array()), &digest)
            .is_some()
    );
    // The attacker's agent is over bounds; the victim's is intact.
    let reason = snap.agent_over_bounds(&reg(1)).unwrap();
    assert!(reason.contains("agentURI"), "{reason}");
    assert_eq!(snap.agent_over_bounds(&reg(2)), None);
    assert_eq!(snap.agent(&reg(2)).unwrap().agent_uri, "ipfs://victim");
    assert!(snap.agent_key_bound(&reg(2), &key, kya_core::Timestamp::now()));
    // The attacker's feedback is dropped and only a summary counting the attacker is refused.
    let honest = snap.reputation(&reg(2), &[victim.into_array()]).unwrap();
    assert_eq!((honest.count, honest.average), (1, 90));
    assert!(
        snap.reputation(&reg(2), &[victim.into_array(), attacker.into_array()])
            .is_none()
    );
}

/// A hand-edited snapshot (a revocation deleted, the content digest recomputed) loads — the
/// file is not signed by the chain — but re-deriving it from the chain tells.
#[tokio::test]
async fn verify_snapshot_detects_a_resealed_edit() {
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
    alice
        .revoke_credential(id, &CredentialDigest([0xd4; 32]))
        .await
        .unwrap();
    let mut snap = new_snapshot(&d);
    sync(
        &anvil.reader(),
        &mut snap,
        SyncOptions {
            start_block: d.from_block,
            ..latest()
        },
    )
    .await
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&snap.to_json_bytes()).unwrap();
    assert_eq!(v["revocations"].as_array().unwrap().len(), 1);
    v["revocations"] = json!([]);
    v.as_object_mut().unwrap().remove("contentDigest");
    let body = kya_core::json::canonicalize(&v).unwrap();
    use sha2::Digest as _;
    v["contentDigest"] = format!("0x{}", hex::encode(sha2::Sha256::digest(&body))).into();
    let forged = Snapshot::load(&kya_core::json::canonicalize(&v).unwrap()).unwrap();
    let block = forged.block().number;
    assert_eq!(
        verify_snapshot(&anvil.reader(), &forged, d.from_block)
            .await
            .unwrap(),
        SnapshotCheck::Differs { block }
    );
    // More blocks since do not matter: the chain is read up to the snapshot's block.
    alice.set_agent_uri(id, "ipfs://b").await.unwrap();
    assert_eq!(
        verify_snapshot(&anvil.reader(), &snap, d.from_block)
            .await
            .unwrap(),
        SnapshotCheck::Matches { block }
    );
}

/// Following `latest`: these tests are about bounds, not finality.
fn latest() -> SyncOptions {
    SyncOptions {
        follow: Follow::Confirmations(0),
        ..SyncOptions::default()
    }
}
