//! The verifier's cache: a repeat visitor costs one signature check; entries never outlive
//! the chain, the policy or the registry state they were verified under.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use kya_verify::{ChainInput, FixedClock, HolderProof, KeyRef, MemoryRegistry, Verifier};

#[test]
fn repeat_chains_come_from_the_cache_until_they_expire() {
    let clock = Arc::new(clock());
    let v = Verifier::new(policy()).with_clock(clock.clone());
    let d = bytes(&docs(&chain(3)));
    let a = v.verify_chain(&d).unwrap();
    assert_eq!(v.cache().len(), 1);
    let b = v.verify_chain(&d).unwrap();
    assert_eq!(a, b);
    assert_eq!(v.cached(&a.chain_digest()).unwrap(), a);
    // After the chain's validUntil the entry is gone and verification fails.
    clock.set(a.valid_until().add_seconds(61));
    assert!(v.cached(&a.chain_digest()).is_none());
    assert_eq!(v.verify_chain(&d).unwrap_err().code(), "credential_expired");
}

#[test]
fn a_signed_request_by_digest_costs_one_signature() {
    let v = Verifier::new(policy()).with_clock(Arc::new(clock()));
    let links = chain(3);
    let d = bytes(&docs(&links));
    let message = b"@method: GET\n@path: /pay".to_vec();
    let leaf = agent(2);
    let sig = HolderProof {
        signature: kya_core::SecretKey::sign(&leaf, &message),
        message: &message,
        key: KeyRef::Key(leaf.public_key()),
    };
    // Unknown digest first. The chain's one name: SHA-256 of its JCS bytes.
    let digest =
        kya_verify::ChainDigest::of_chain(&serde_json::Value::Array(docs(&links))).unwrap();
    assert_err(
        v.verify_held(ChainInput::Digest(digest), &sig),
        "chain_not_cached",
        None,
    );
    let a = v.verify_held(ChainInput::Bytes(&d), &sig).unwrap();
    assert_eq!(a.chain_digest(), digest);
    assert!(v.verify_held(ChainInput::Digest(digest), &sig).is_ok());
    // A bad request signature is refused on the cached path too.
    let mut altered = message.clone();
    altered.push(b'!');
    let bad = HolderProof {
        message: &altered,
        ..sig
    };
    assert_err(
        v.verify_held(ChainInput::Digest(digest), &bad),
        "bad_signature",
        None,
    );
    assert_err(
        v.verify_held(ChainInput::Bytes(&d), &bad),
        "bad_signature",
        None,
    );
    // Signed by another agent: holder mismatch.
    let other = agent(0);
    let wrong = HolderProof {
        signature: other.sign(&message),
        message: &message,
        key: KeyRef::Key(other.public_key()),
    };
    assert_err(
        v.verify_held(ChainInput::Digest(digest), &wrong),
        "holder_mismatch",
        None,
    );
}

#[test]
fn registry_updates_invalidate_cached_results() {
    let r = Arc::new(MemoryRegistry::new());
    r.add_agent(&registration(1), [0x11; 20], "x");
    r.bind_agent_key(&registration(1), agent(0).public_key(), t0());
    let v = Verifier::new(policy())
        .with_clock(Arc::new(FixedClock::new(now())))
        .with_registry(r.clone());
    let links = chain_with(2, true);
    let d = bytes(&docs(&links));
    assert!(v.verify_chain(&d).is_ok());
    assert!(v.verify_chain(&d).is_ok());
    r.revoke(&registration(1), links[1].digest(), 9, now());
    assert_err(v.verify_chain(&d), "revoked", Some(1));
}

#[test]
fn the_cache_is_bounded() {
    let p = kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .cache_capacity(2)
        .build();
    let v = Verifier::new(p).with_clock(Arc::new(clock()));
    for depth in 1..=4 {
        v.verify_chain(&bytes(&docs(&chain(depth)))).unwrap();
    }
    assert_eq!(v.cache().len(), 2);
}
