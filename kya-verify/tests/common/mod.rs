//! Fixtures shared by the integration tests: keys, chains, policies, clocks.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use kya_core::credential::{
    self, AgentAuthorization, AgentDelegation, AgentRegistration, VerifiedCredential,
};
use kya_core::grant::{Grant, Request};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_verify::{FixedClock, Policy};
use serde_json::Value;

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

pub fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}

pub fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn t0() -> Timestamp {
    t("2026-01-01T00:00:00Z")
}

/// "Now" in the tests.
pub fn now() -> Timestamp {
    t("2026-02-01T12:00:00Z")
}

pub fn clock() -> FixedClock {
    FixedClock::new(now())
}

pub fn grant(json: &str) -> Grant {
    serde_json::from_str(json).unwrap()
}

pub fn request(json: &str) -> Request {
    serde_json::from_str(json).unwrap()
}

pub fn root_grant() -> Grant {
    grant(
        r#"{"action": "payments", "maxAmount": {"value": "100.00", "asset": "USD"},
            "audience": ["did:web:shop.example", "did:web:books.example"]}"#,
    )
}

pub fn child_grant() -> Grant {
    grant(
        r#"{"action": "payments/send", "maxAmount": {"value": "25.00", "asset": "USD"},
            "audience": ["did:web:shop.example"]}"#,
    )
}

pub fn registration(id: u64) -> AgentRegistration {
    serde_json::from_value(serde_json::json!({
        "agentRegistry": "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "agentId": id.to_string()
    }))
    .unwrap()
}

/// The principal key (seed 1), agents with seeds 2, 3, 4, ….
pub const PRINCIPAL: u8 = 1;

pub fn principal() -> SecretKey {
    key(PRINCIPAL)
}

pub fn agent(i: usize) -> SecretKey {
    key(2 + i as u8)
}

/// A valid chain of `depth` links: principal → agent(0) → agent(1) → …; link `i`'s subject is
/// `agent(i)`. The root subject is registered as agent id 1 when `registered`.
pub fn chain_with(depth: usize, registered: bool) -> Vec<VerifiedCredential> {
    let p = principal();
    let mut b = AgentAuthorization::builder(Did::Key(did(&p)), did(&agent(0)))
        .id("urn:uuid:00000000-0000-4000-8000-000000000001")
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(root_grant());
    if registered {
        b = b.registration(registration(1));
    }
    let mut links = vec![b.sign(&p, t0()).unwrap()];
    for i in 1..depth {
        let parent = links.last().unwrap();
        let d = AgentDelegation::builder(parent, did(&agent(i)))
            .unwrap()
            .id(format!("urn:uuid:00000000-0000-4000-8000-{:012}", i + 1))
            .grant(child_grant())
            .sign(&agent(i - 1), t0())
            .unwrap();
        links.push(d);
    }
    links
}

pub fn chain(depth: usize) -> Vec<VerifiedCredential> {
    chain_with(depth, false)
}

pub fn docs(links: &[VerifiedCredential]) -> Vec<Value> {
    links.iter().map(|c| c.document().clone()).collect()
}

pub fn bytes(docs: &[Value]) -> Vec<u8> {
    serde_json::to_vec(docs).unwrap()
}

/// Removes the proof of a document and signs it again with `signer` at `created`.
pub fn resign(mut doc: Value, signer: &SecretKey, created: Timestamp) -> Value {
    doc.as_object_mut().unwrap().remove("proof");
    credential::sign(doc, signer, created)
        .unwrap()
        .document()
        .clone()
}

/// Signs with `signer` but names `vm_of`'s verification method (a forged attribution), or
/// the signer's own when `vm_of` is `None`; nothing is checked.
pub fn resign_raw(
    mut doc: Value,
    signer: &SecretKey,
    vm_of: Option<&SecretKey>,
    created: Timestamp,
) -> Value {
    doc.as_object_mut().unwrap().remove("proof");
    let vm = did(vm_of.unwrap_or(signer)).verification_method_id();
    let options = kya_core::ProofOptions {
        verification_method: vm,
        proof_purpose: "assertionMethod".into(),
        created: Some(created),
        expires: None,
        challenge: None,
        domain: None,
    };
    kya_core::proof::sign(&doc, &options, signer).unwrap()
}

pub fn policy() -> Policy {
    Policy::builder()
        .trust_root(Did::Key(did(&principal())))
        .audience("did:web:shop.example")
        .build()
}

/// Asserts an error's code and link.
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(
    result: Result<T, kya_verify::VerifyError>,
    code: &str,
    link: Option<usize>,
) -> kya_verify::VerifyError {
    let e = result.expect_err("expected an error");
    assert_eq!(e.code(), code, "{e}");
    assert_eq!(e.link(), link, "{e}");
    // Messages are lowercase sentences with values.
    let msg = e.to_string();
    assert!(!msg.is_empty());
    assert!(msg.chars().next().unwrap().is_lowercase(), "{msg}");
    e
}

/// Verifies a bare chain through the one [`kya_verify::Verifier`], with the tests' clock.
pub fn verify_chain(
    bytes: &[u8],
    policy: &Policy,
    clock: &FixedClock,
    registry: Option<std::sync::Arc<dyn kya_verify::RegistryView>>,
) -> Result<kya_verify::VerifiedAgent, kya_verify::VerifyError> {
    let mut verifier = kya_verify::Verifier::new(policy.clone()).with_clock(std::sync::Arc::new(
        FixedClock::new(kya_verify::Clock::now(clock)),
    ));
    if let Some(r) = registry {
        verifier = verifier.with_registry(r);
    }
    verifier.verify_chain(bytes)
}
