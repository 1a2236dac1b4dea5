//! Links out of order, a foreign link, a second root, a delegation as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;

#[test]
fn swapped_links_are_refused_where_the_order_breaks() {
    let d = docs(&chain(3));
    for order in [[1, 0, 2], [0, 2, 1], [2, 1, 0]] {
        let swapped: Vec<_> = order.iter().map(|&i| d[i].clone()).collect();
        let e = verify_chain(&bytes(&swapped), &policy(), &clock(), None).unwrap_err();
        assert_eq!(e.code(), "issuer_not_parent_subject", "{order:?}: {e}");
        assert_eq!(e.link(), Some(1), "{order:?}: {e}");
    }
}

#[test]
fn a_delegation_alone_is_not_a_chain_root() {
    let d = docs(&chain(2));
    assert_err(
        verify_chain(&bytes(&d[1..]), &policy(), &clock(), None),
        "not_a_chain_root",
        Some(0),
    );
}

#[test]
fn a_second_authorisation_is_not_a_delegation() {
    // The agent "authorises" a sub-agent with a root-kind credential.
    let first = chain(1);
    let second = kya_core::credential::AgentAuthorization::builder(
        kya_core::Did::Key(did(&agent(0))),
        did(&agent(1)),
    )
    .valid_from(t0())
    .valid_until(t("2026-06-01T00:00:00Z"))
    .grant(child_grant())
    .sign(&agent(0), t0())
    .unwrap();
    let d = docs(&[first[0].clone(), second]);
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "not_a_delegation",
        Some(1),
    );
}

#[test]
fn a_link_naming_another_parent_is_refused() {
    // Two valid chains from the same agent; splice chain B's delegation under chain A's root
    // after re-issuing the root with another id.
    let a = chain(2);
    let other_root = kya_core::credential::AgentAuthorization::builder(
        kya_core::Did::Key(did(&principal())),
        did(&agent(0)),
    )
    .id("urn:uuid:00000000-0000-4000-8000-0000000000aa")
    .valid_from(t0())
    .valid_until(t("2027-01-01T00:00:00Z"))
    .grant(root_grant())
    .sign(&principal(), t0())
    .unwrap();
    let d = docs(&[other_root, a[1].clone()]);
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "parent_digest_mismatch",
        Some(1),
    );
}

#[test]
fn an_empty_chain_is_refused() {
    assert_err(
        verify_chain(b"[]", &policy(), &clock(), None),
        "empty_chain",
        None,
    );
}

#[test]
fn an_untrusted_root_is_refused() {
    let d = docs(&chain(2));
    let p = kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&key(9))))
        .build();
    assert_err(
        verify_chain(&bytes(&d), &p, &clock(), None),
        "untrusted_root",
        Some(0),
    );
}
