//! Loops: a link repeated (same id or same digest) is refused as `duplicate_link`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;

#[test]
fn a_repeated_link_is_a_loop() {
    let d = docs(&chain(2));
    let looped = vec![d[0].clone(), d[1].clone(), d[1].clone()];
    let e = assert_err(
        verify_chain(&bytes(&looped), &policy(), &clock(), None),
        "duplicate_link",
        Some(2),
    );
    assert!(e.to_string().contains("repeats credential [1]"), "{e}");
    let looped = vec![d[0].clone(), d[1].clone(), d[0].clone()];
    assert_err(
        verify_chain(&bytes(&looped), &policy(), &clock(), None),
        "duplicate_link",
        Some(2),
    );
}

#[test]
fn a_self_delegation_cycle_reusing_an_id_is_a_loop() {
    // agent(1) delegates to itself again, reusing the id of its own delegation.
    let links = chain(2);
    let again = kya_core::credential::AgentDelegation::builder(&links[1], did(&agent(1)))
        .unwrap()
        .id(links[1].id())
        .grant(child_grant())
        .sign(&agent(1), t0())
        .unwrap();
    let d = docs(&[links[0].clone(), links[1].clone(), again]);
    let e = assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "duplicate_link",
        Some(2),
    );
    assert!(e.to_string().contains("same id"), "{e}");
}
