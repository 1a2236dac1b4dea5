//! Validation registry events in snapshots, against a real anvil: a request and its answers
//! reach the snapshot; a merchant's `minValidation` admits the agent only after a passing
//! answer by a validator it trusts; and an agent's owner flooding requests beyond the
//! snapshot's bounds neither stops the sync nor touches other agents' validations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::Arc;

use alloy::primitives::{B256, U256};
use common::{Anvil, ed_key};
use kya_core::credential::AgentAuthorization;
use kya_core::grant::Grant;
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_registry::bindings::KyaValidationRegistry;
use kya_registry::{
    Deployment, Follow, NewAgent, Registry, RequestHash, SyncOptions, new_snapshot, sync, sync_file,
};
use kya_verify::snapshot::{MAX_VALIDATIONS_PER_AGENT, Snapshot};
use kya_verify::validation::ValidationRequirement;
use kya_verify::{Policy, RegistryView, Verifier};

fn latest() -> SyncOptions {
    SyncOptions {
        follow: Follow::Confirmations(0),
        ..SyncOptions::default()
    }
}

/// A one-link chain: the principal (seed 9) authorises the agent whose key is `ed_key(1)`,
/// registered as `agent_id`.
fn chain(d: &Deployment, agent_id: U256) -> Vec<u8> {
    let principal = SecretKey::from_seed(&[9; 32]);
    let agent = DidKey::from_public_key(ed_key(1));
    let now = Timestamp::now();
    let grant: Grant =
        serde_json::from_str(r#"{"action": "payments", "audience": ["did:web:shop.example"]}"#)
            .unwrap();
    let link = AgentAuthorization::builder(
        Did::Key(DidKey::from_public_key(principal.public_key())),
        agent,
    )
    .id("urn:uuid:00000000-0000-4000-8000-000000000001")
    .valid_from(now.add_seconds(-3600))
    .valid_until(now.add_seconds(3600))
    .grant(grant)
    .registration(d.registration(agent_id))
    .sign(&principal, now)
    .unwrap();
    serde_json::to_vec(&[link.document()]).unwrap()
}

fn policy(trusted: &[[u8; 20]]) -> Policy {
    Policy::builder()
        .trust_root(Did::Key(DidKey::from_public_key(
            SecretKey::from_seed(&[9; 32]).public_key(),
        )))
        .audience("did:web:shop.example")
        .min_validation(ValidationRequirement::new(trusted, 80, 1))
        .build()
}

fn verify(snapshot: &Snapshot, policy: &Policy, chain: &[u8]) -> Result<(), String> {
    Verifier::new(policy.clone())
        .with_registry(Arc::new(snapshot.clone()))
        .verify_chain(chain)
        .map(|_| ())
        .map_err(|e| e.code().to_string())
}

async fn registered(anvil: &Anvil, reg: &Registry, account: usize, uri: &str) -> U256 {
    anvil
        .as_account(reg, account)
        .register(&NewAgent {
            uri: uri.into(),
            key: Some(ed_key(1)),
            ..Default::default()
        })
        .await
        .unwrap()
        .agent_id
}

#[tokio::test]
async fn synced_validations_drive_a_min_validation_policy() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    assert!(
        d.validation.is_some(),
        "the deployment has a validation registry"
    );
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("snapshot.json");
    let id = registered(&anvil, &reg, 1, "ipfs://agent").await;
    let owner = anvil.as_account(&reg, 1);
    let (trusted, untrusted) = (anvil.signer(2).address(), anvil.signer(3).address());
    let receipt = RequestHash([0x42; 32]);
    owner
        .validation_request(trusted, id, "ipfs://req", receipt)
        .await
        .unwrap();
    owner
        .validation_request(untrusted, id, "ipfs://req", receipt)
        .await
        .unwrap();
    let chain = chain(&d, id);
    let policy = policy(&[trusted.into_array()]);
    let r = d.registration(id);

    // Requested, not answered: the snapshot holds the request; the policy refuses.
    let (snap, _) = sync_file(&anvil.reader(), &path, &d, latest())
        .await
        .unwrap();
    assert_eq!(
        snap.validation_registry(),
        d.validation.map(|a| a.into_array())
    );
    let v = snap.validations(&r, &[trusted.into_array()]).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].request_hash, v[0].responses, v[0].latest.is_none()),
        ([0x42; 32], 0, true)
    );
    assert_eq!(
        verify(&snap, &policy, &chain).unwrap_err(),
        "validation_insufficient"
    );

    // The only pass is by an untrusted validator: refused.
    let by = |i: usize| anvil.as_account(&reg, i);
    by(3)
        .validation_response(id, receipt, 100, "", B256::ZERO, "")
        .await
        .unwrap();
    let (snap, _) = sync_file(&anvil.reader(), &path, &d, latest())
        .await
        .unwrap();
    assert_eq!(
        verify(&snap, &policy, &chain).unwrap_err(),
        "validation_insufficient"
    );

    // The trusted validator answers below minResponse: refused.
    by(2)
        .validation_response(id, receipt, 79, "", B256::ZERO, "soft")
        .await
        .unwrap();
    let (snap, _) = sync_file(&anvil.reader(), &path, &d, latest())
        .await
        .unwrap();
    assert_eq!(
        verify(&snap, &policy, &chain).unwrap_err(),
        "validation_insufficient"
    );

    // Then passes: admitted; the snapshot holds the latest of two answers.
    by(2)
        .validation_response(id, receipt, 95, "", B256::ZERO, "hard")
        .await
        .unwrap();
    let (snap, _) = sync_file(&anvil.reader(), &path, &d, latest())
        .await
        .unwrap();
    verify(&snap, &policy, &chain).unwrap();
    let v = snap.validations(&r, &[trusted.into_array()]).unwrap();
    let latest_answer = v[0].latest.as_ref().unwrap();
    assert_eq!(
        (
            latest_answer.response,
            latest_answer.tag.as_str(),
            v[0].responses
        ),
        (95, "hard", 2)
    );
    // The file on disk says the same, and a fresh sync from the deployment block agrees.
    let on_disk = Snapshot::load(&std::fs::read(&path).unwrap()).unwrap();
    assert!(on_disk.same_state(&snap));
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
    assert!(fresh.same_state(&snap));

    // A deployment without a validation registry keeps snapshots without validations, and
    // such a snapshot refuses the policy (nothing to read).
    let plain = Deployment {
        validation: None,
        ..d
    };
    let mut without = new_snapshot(&plain);
    sync(
        &anvil.reader(),
        &mut without,
        SyncOptions {
            start_block: d.from_block,
            ..latest()
        },
    )
    .await
    .unwrap();
    assert_eq!(without.validation_registry(), None);
    assert_eq!(without.validations(&r, &[trusted.into_array()]), None);
    assert_eq!(
        verify(&without, &policy, &chain).unwrap_err(),
        "validation_insufficient"
    );
    // Resuming the validation-less file with the full deployment is refused, not silently
    // missing the earlier validation events.
    let plain_path = dir.path().join("plain.json");
    std::fs::write(&plain_path, without.to_json_bytes()).unwrap();
    let e = sync_file(&anvil.reader(), &plain_path, &d, latest())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("validation registry"), "{e}");
}

#[tokio::test]
async fn validation_spam_beyond_the_bound_does_not_stop_the_sync() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let d = *reg.deployment();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("snapshot.json");
    let victim = registered(&anvil, &reg, 1, "ipfs://victim").await;
    let attacker = registered(&anvil, &reg, 2, "ipfs://attacker").await;
    let validator = anvil.signer(3).address();
    sync_file(&anvil.reader(), &path, &d, latest())
        .await
        .unwrap();

    // The attacker asks for more validations of its own agent than a snapshot keeps.
    let contract = KyaValidationRegistry::new(d.validation.unwrap(), anvil.provider(2));
    for i in 0..=MAX_VALIDATIONS_PER_AGENT {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let _pending = contract
            .validationRequest(validator, attacker, "x".into(), B256::from(hash))
            .gas(300_000)
            .send()
            .await
            .unwrap();
    }
    // Then the victim's request and a passing answer.
    let receipt = RequestHash([0x42; 32]);
    anvil
        .as_account(&reg, 1)
        .validation_request(validator, victim, "ipfs://req", receipt)
        .await
        .unwrap();
    anvil
        .as_account(&reg, 3)
        .validation_response(victim, receipt, 100, "", B256::ZERO, "")
        .await
        .unwrap();

    // The resumed sync succeeds: the victim's validation is there, the attacker's agent
    // answers nothing (so no policy can count a partial set for it).
    let (snap, _) = sync_file(&anvil.reader(), &path, &d, latest())
        .await
        .unwrap();
    let trusted = [validator.into_array()];
    let v = snap.validations(&d.registration(victim), &trusted).unwrap();
    assert_eq!((v.len(), v[0].latest.as_ref().unwrap().response), (1, 100));
    assert_eq!(snap.validations(&d.registration(attacker), &trusted), None);
    let chain = chain(&d, victim);
    verify(&snap, &policy(&trusted), &chain).unwrap();
    let attacker_chain = self::chain(&d, attacker);
    assert_eq!(
        verify(&snap, &policy(&trusted), &attacker_chain).unwrap_err(),
        "validation_insufficient"
    );
    let v: serde_json::Value = serde_json::from_slice(&snap.to_json_bytes()).unwrap();
    assert_eq!(
        v["validationsOverBounds"],
        serde_json::json!([attacker.to_string()])
    );
}
