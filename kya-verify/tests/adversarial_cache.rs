//! Seams between the verifier's cache and the rules it must keep judging "now".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use kya_core::credential::AgentAuthorization;
use kya_core::{Did, ProofOptions};
use kya_verify::{FixedClock, MemoryRegistry, Policy, RegistryView, Verifier};

fn policy_with_registry_age(secs: u32) -> Policy {
    Policy::builder()
        .trust_root(Did::Key(did(&principal())))
        .audience("did:web:shop.example")
        .max_registry_age_secs(secs)
        .build()
}

/// The registry's age bound (`maxRegistryAgeSeconds`) is judged at the verifier's now on a
/// fresh verification and again on a cache hit: otherwise a snapshot that stopped syncing would keep
/// admitting every chain that was verified while it was fresh, until the chain's own
/// `validUntil` (months), although its revocations may be missing.
#[test]
fn a_cached_chain_does_not_outlive_the_registry_age_bound() {
    let registry = Arc::new(MemoryRegistry::new());
    registry.set_as_of(Some(now()));
    let clock = Arc::new(clock());
    let policy = policy_with_registry_age(3600);
    let v = Verifier::new(policy.clone())
        .with_clock(clock.clone())
        .with_registry(registry.clone() as Arc<dyn RegistryView>);
    let d = bytes(&docs(&chain(2)));
    v.verify_chain(&d).unwrap();

    // One day later; the registry has not synced since.
    clock.set(now().add_seconds(86_400));
    let fresh = Verifier::new(policy)
        .with_clock(Arc::new(FixedClock::new(now().add_seconds(86_400))))
        .with_registry(registry as Arc<dyn RegistryView>);
    assert_eq!(fresh.verify_chain(&d).unwrap_err().code(), "registry_stale");
    assert_eq!(
        v.verify_chain(&d)
            .map_err(|e| e.code().to_string())
            .err()
            .as_deref(),
        Some("registry_stale"),
        "the cache served a chain whose registry facts are older than the policy allows"
    );
}

/// A proof's own `expires` ends a link, from the cache too: a verified result holds until
/// the earliest of the links' `validUntil` and their proofs' `expires`.
#[test]
fn a_cached_chain_does_not_outlive_its_proof_expiry() {
    let p = principal();
    let proof_expires = now().add_seconds(3600);
    let unsigned = AgentAuthorization::builder(Did::Key(did(&p)), did(&agent(0)))
        .id("urn:uuid:00000000-0000-4000-8000-0000000000aa")
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(root_grant())
        .sign(&p, t0())
        .unwrap();
    let mut doc = unsigned.document().clone();
    doc.as_object_mut().unwrap().remove("proof");
    let options = ProofOptions {
        verification_method: did(&p).verification_method_id(),
        proof_purpose: "assertionMethod".into(),
        created: Some(t0()),
        expires: Some(proof_expires),
        challenge: None,
        domain: None,
    };
    let root = kya_core::proof::sign(&doc, &options, &p).unwrap();
    let d = bytes(&[root]);

    let clock = Arc::new(clock());
    let v = Verifier::new(policy()).with_clock(clock.clone());
    v.verify_chain(&d).unwrap();

    let later = proof_expires.add_seconds(3600);
    clock.set(later);
    let fresh = Verifier::new(policy()).with_clock(Arc::new(FixedClock::new(later)));
    assert_eq!(fresh.verify_chain(&d).unwrap_err().code(), "proof_expired");
    assert_eq!(
        v.verify_chain(&d)
            .map_err(|e| e.code().to_string())
            .err()
            .as_deref(),
        Some("proof_expired"),
        "the cache served a chain whose root proof has expired"
    );
}

/// Registry facts are judged at the verifier's now: a key binding that ends at a known
/// time (an unbinding the view already holds) stops a chain from then on, also when the
/// chain was cached before that time under the same state id.
#[test]
fn a_cached_chain_does_not_outlive_a_scheduled_key_unbinding() {
    let registry = Arc::new(MemoryRegistry::new());
    let reg = registration(1);
    registry.add_agent(&reg, [0x11; 20], "https://agent.example/1.json");
    registry.bind_agent_key(&reg, agent(0).public_key(), t0());
    let unbound_at = now().add_seconds(60);
    registry.unbind_agent_key(&reg, agent(0).public_key(), unbound_at);

    let clock = Arc::new(clock());
    let v = Verifier::new(policy())
        .with_clock(clock.clone())
        .with_registry(registry.clone() as Arc<dyn RegistryView>);
    let d = bytes(&docs(&chain_with(2, true)));
    v.verify_chain(&d).unwrap();

    let later = unbound_at.add_seconds(3600);
    clock.set(later);
    let fresh = Verifier::new(policy())
        .with_clock(Arc::new(FixedClock::new(later)))
        .with_registry(registry as Arc<dyn RegistryView>);
    assert_eq!(fresh.verify_chain(&d).unwrap_err().code(), "key_not_bound");
    assert_eq!(
        v.verify_chain(&d)
            .map_err(|e| e.code().to_string())
            .err()
            .as_deref(),
        Some("key_not_bound"),
        "the cache served a chain whose agent key is no longer bound"
    );
}

/// A cache hit needs every byte of the input: after a chain is cached, any one-character
/// edit of it anywhere (a letter or digit swapped for another, so the JSON stays
/// well-formed) is verified on its own and refused, never served the cached result. A
/// cache keyed by a hash of part of the input, or a fast hash without the comparison, would
/// admit some of these.
#[test]
fn a_cached_chain_serves_only_its_exact_bytes() {
    let v = Verifier::new(policy()).with_clock(Arc::new(clock()));
    let original = bytes(&docs(&chain(2)));
    v.verify_chain(&original).unwrap();
    assert_eq!(v.cache().len(), 1);
    let mut edits = 0;
    for at in 0..original.len() {
        let swapped = match original[at] {
            b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => original[at] + 1,
            b'9' | b'z' | b'Z' => original[at] - 1,
            _ => continue,
        };
        let mut edited = original.clone();
        edited[at] = swapped;
        edits += 1;
        if let Ok(agent) = v.verify_chain(&edited) {
            panic!("an edit at byte {at} verified: {agent:?}");
        }
        // The original still comes from the cache.
        assert!(v.verify_chain(&original).is_ok());
    }
    assert!(edits > 1000, "{edits}");
    assert_eq!(v.cache().len(), 1);
}
