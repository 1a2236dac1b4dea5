//! Presentations: a replayed nonce, a future `created` beyond skew, a window too long,
//! another audience, a missing or wrong challenge, a holder that is not the agent, an
//! expired presentation, a tampered one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use kya_core::Timestamp;
use kya_verify::{FixedClock, MemoryNonceStore, PresentationOptions, Verifier, present};
use serde_json::Value;

fn vp(
    holder: &kya_core::SecretKey,
    audience: &str,
    nonce: &str,
    created: Timestamp,
    expires: Timestamp,
) -> Vec<u8> {
    let chain = docs(&chain(3));
    let options = PresentationOptions {
        audience: audience.to_owned(),
        nonce: nonce.to_owned(),
        created,
        expires,
    };
    serde_json::to_vec(&present(&chain, holder, &options).unwrap()).unwrap()
}

/// A presentation through the one verifier, with the tests' clock and a shared nonce store.
fn verify_presentation(
    bytes: &[u8],
    policy: &kya_verify::Policy,
    clock: &FixedClock,
    _registry: Option<()>,
    nonces: &Arc<MemoryNonceStore>,
) -> Result<kya_verify::VerifiedAgent, kya_verify::VerifyError> {
    Verifier::new(policy.clone())
        .with_clock(Arc::new(FixedClock::new(kya_verify::Clock::now(clock))))
        .with_nonce_store(nonces.clone())
        .verify_presentation(bytes)
}

fn good(nonce: &str) -> Vec<u8> {
    vp(
        &agent(2),
        "did:web:shop.example",
        nonce,
        now(),
        now().add_seconds(120),
    )
}

#[test]
fn a_fresh_presentation_verifies_once() {
    let nonces = Arc::new(MemoryNonceStore::default());
    let agent_v = verify_presentation(&good("n-1"), &policy(), &clock(), None, &nonces).unwrap();
    assert_eq!(agent_v.agent(), &did(&agent(2)));
    assert_eq!(agent_v.valid_until(), now().add_seconds(120));
    let p = agent_v.presentation().unwrap();
    assert_eq!(
        (p.audience.as_str(), p.nonce.as_str()),
        ("did:web:shop.example", "n-1")
    );
    assert_err(
        verify_presentation(&good("n-1"), &policy(), &clock(), None, &nonces),
        "nonce_replayed",
        None,
    );
    // Another nonce is fine.
    assert!(verify_presentation(&good("n-2"), &policy(), &clock(), None, &nonces).is_ok());
}

#[test]
fn a_replayed_nonce_is_refused_through_the_verifier_and_its_cache() {
    let v = Verifier::new(policy()).with_clock(Arc::new(clock()));
    assert!(v.verify_presentation(&good("a")).is_ok());
    assert_eq!(v.cache().len(), 1);
    assert!(
        v.verify_presentation(&good("b")).is_ok(),
        "cache hit, new nonce"
    );
    assert_err(v.verify_presentation(&good("a")), "nonce_replayed", None);
}

#[test]
fn a_future_created_beyond_skew_is_refused() {
    let nonces = Arc::new(MemoryNonceStore::default());
    let future = vp(
        &agent(2),
        "did:web:shop.example",
        "f",
        now().add_seconds(61),
        now().add_seconds(200),
    );
    let e = assert_err(
        verify_presentation(&future, &policy(), &clock(), None, &nonces),
        "created_in_future",
        None,
    );
    assert!(
        e.to_string().contains("61 s after now (allowed skew 60 s)"),
        "{e}"
    );
    let within = vp(
        &agent(2),
        "did:web:shop.example",
        "g",
        now().add_seconds(59),
        now().add_seconds(200),
    );
    assert!(verify_presentation(&within, &policy(), &clock(), None, &nonces).is_ok());
    // A credential whose proof claims a future creation is refused too.
    let mut d = docs(&chain(2));
    d[1] = resign(d[1].clone(), &agent(0), now().add_seconds(3600));
    assert_err(
        common::verify_chain(&bytes(&d), &policy(), &clock(), None),
        "created_in_future",
        Some(1),
    );
}

#[test]
fn windows_audiences_challenges_and_holders() {
    let nonces = Arc::new(MemoryNonceStore::default());
    let long = vp(
        &agent(2),
        "did:web:shop.example",
        "w",
        now(),
        now().add_seconds(301),
    );
    assert_err(
        verify_presentation(&long, &policy(), &clock(), None, &nonces),
        "window_too_long",
        None,
    );
    let other = vp(
        &agent(2),
        "did:web:books.example",
        "x",
        now(),
        now().add_seconds(60),
    );
    assert_err(
        verify_presentation(&other, &policy(), &clock(), None, &nonces),
        "audience_mismatch",
        None,
    );
    let no_audience = kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .build();
    assert_err(
        verify_presentation(&good("y"), &no_audience, &clock(), None, &nonces),
        "audience_mismatch",
        None,
    );
    // The root agent presenting the 3-link chain is not its leaf.
    let wrong_holder = vp(
        &agent(0),
        "did:web:shop.example",
        "z",
        now(),
        now().add_seconds(60),
    );
    assert_err(
        verify_presentation(&wrong_holder, &policy(), &clock(), None, &nonces),
        "holder_mismatch",
        None,
    );
    // Expired.
    let late = FixedClock::new(now().add_seconds(121 + 60));
    assert_err(
        verify_presentation(&good("e"), &policy(), &late, None, &nonces),
        "presentation_expired",
        None,
    );
    // An expected challenge.
    let v = Verifier::new(policy()).with_clock(Arc::new(clock()));
    assert_err(
        v.verify_presentation_with_challenge(&good("c1"), "c2"),
        "challenge_mismatch",
        None,
    );
    assert!(
        v.verify_presentation_with_challenge(&good("c2"), "c2")
            .is_ok()
    );
}

#[test]
fn tampering_with_a_presentation_is_refused() {
    let nonces = Arc::new(MemoryNonceStore::default());
    let mut doc: Value = serde_json::from_slice(&good("t")).unwrap();
    doc["proof"]["domain"] = "did:web:shop.example ".into();
    let bad = serde_json::to_vec(&doc).unwrap();
    assert_err(
        verify_presentation(&bad, &policy(), &clock(), None, &nonces),
        "audience_mismatch",
        None,
    );
    let mut doc: Value = serde_json::from_slice(&good("t")).unwrap();
    doc["proof"]["challenge"] = "other".into();
    let bad = serde_json::to_vec(&doc).unwrap();
    assert_err(
        verify_presentation(&bad, &policy(), &clock(), None, &nonces),
        "bad_signature",
        None,
    );
    // The nonce of a refused presentation was not burnt.
    assert!(verify_presentation(&good("t"), &policy(), &clock(), None, &nonces).is_ok());
    // A wrong proof purpose.
    let mut doc: Value = serde_json::from_slice(&good("u")).unwrap();
    doc["proof"]["proofPurpose"] = "assertionMethod".into();
    let bad = serde_json::to_vec(&doc).unwrap();
    assert_err(
        verify_presentation(&bad, &policy(), &clock(), None, &nonces),
        "malformed",
        None,
    );
}

/// A presentation is accepted until `expires` + skew, so its nonce must be remembered that
/// long: one verified just after `expires` (within the skew) must not be accepted again.
#[test]
fn a_presentation_accepted_within_the_skew_after_expiry_is_not_accepted_again() {
    let nonces = Arc::new(MemoryNonceStore::default());
    let late = vp(
        &agent(2),
        "did:web:shop.example",
        "late-1",
        now().add_seconds(-100),
        now().add_seconds(-30),
    );
    assert!(verify_presentation(&late, &policy(), &clock(), None, &nonces).is_ok());
    for later in [0, 10, 29] {
        let at = FixedClock::new(now().add_seconds(later));
        assert_err(
            verify_presentation(&late, &policy(), &at, None, &nonces),
            "nonce_replayed",
            None,
        );
    }
}
