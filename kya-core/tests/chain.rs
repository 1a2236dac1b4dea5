//! The typed chain an agent holds: it starts with an authorisation and grows only by a
//! delegation from its leaf's subject that names the leaf.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use kya_core::chain::{Chain, ChainError, Link};
use kya_core::credential::{AgentAuthorization, AgentDelegation, VerifiedCredential};
use kya_core::grant::Grant;
use kya_core::{Did, DidKey, SecretKey, Timestamp};

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}

fn t0() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn grant() -> Grant {
    serde_json::from_str(
        r#"{"action": "payments", "maxAmount": {"value": "10.00", "asset": "USD"}}"#,
    )
    .unwrap()
}

fn root(agent: u8) -> VerifiedCredential {
    AgentAuthorization::builder(Did::Key(did(&key(1))), did(&key(agent)))
        .valid_from(t0())
        .valid_until("2026-12-31T00:00:00Z".parse().unwrap())
        .grant(grant())
        .sign(&key(1), t0())
        .unwrap()
}

fn delegate(parent: &VerifiedCredential, by: u8, to: u8) -> VerifiedCredential {
    AgentDelegation::builder(parent, did(&key(to)))
        .unwrap()
        .grant(grant())
        .sign(&key(by), t0())
        .unwrap()
}

#[test]
fn a_chain_grows_only_by_delegations_of_its_leaf() {
    let r = root(2);
    let d = delegate(&r, 2, 3);
    // A delegation cannot start a chain.
    assert!(matches!(
        Chain::new(d.clone()),
        Err(ChainError::NotAnAuthorization { .. })
    ));
    let mut chain = Chain::new(r.clone()).unwrap();
    // An authorisation cannot continue one.
    assert!(matches!(
        chain.push(root(3)),
        Err(ChainError::NotADelegation { .. })
    ));
    // A delegation of another parent (same issuer, other credential) does not continue it.
    let other_root = AgentAuthorization::builder(Did::Key(did(&key(1))), did(&key(2)))
        .id("urn:uuid:00000000-0000-4000-8000-0000000000ff")
        .valid_from(t0())
        .valid_until("2026-12-31T00:00:00Z".parse().unwrap())
        .grant(grant())
        .sign(&key(1), t0())
        .unwrap();
    assert!(matches!(
        chain.push(delegate(&other_root, 2, 3)),
        Err(ChainError::DoesNotContinue { .. })
    ));
    chain.push(d.clone()).unwrap();
    // The next link must be issued by the new leaf's subject (3), not by 2 again.
    assert!(matches!(
        chain.push(delegate(&r, 2, 4)),
        Err(ChainError::DoesNotContinue { .. })
    ));
    chain.push(delegate(&d, 3, 4)).unwrap();
    assert_eq!(chain.agent(), &did(&key(4)));
    assert_eq!(chain.links().len(), 3);
    let value = chain.to_value();
    assert_eq!(value.as_array().unwrap().len(), 3);
    assert_eq!(&value[0], r.document());
    // The links' typed content: an authorisation, then delegations, each with validUntil.
    let kinds: Vec<_> = chain
        .links()
        .iter()
        .map(|c| Link::from_kind(c.kind().clone()).unwrap())
        .collect();
    assert!(matches!(kinds[0], Link::Authorization(_)));
    assert!(kinds[1..].iter().all(|l| matches!(l, Link::Delegation(_))));
}
