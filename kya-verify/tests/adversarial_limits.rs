//! Bounded work: chains deeper than the limit, oversized inputs, too many grants, deep JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;
use kya_verify::{Limits, Policy};

#[test]
fn a_chain_deeper_than_the_limit_is_refused() {
    let d = docs(&chain(5));
    let p = Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .max_chain_depth(4)
        .build();
    let e = assert_err(
        verify_chain(&bytes(&d), &p, &clock(), None),
        "chain_too_deep",
        Some(4),
    );
    assert!(
        e.to_string().contains("5 links, over the limit of 4"),
        "{e}"
    );
    // At the limit it verifies.
    assert!(verify_chain(&bytes(&d[..4]), &p, &clock(), None).is_ok());
    // The default limit (8) refuses nine links.
    let d = docs(&chain(9));
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "chain_too_deep",
        Some(8),
    );
}

#[test]
fn an_oversized_input_is_refused_before_parsing() {
    let mut big = b"[".to_vec();
    big.extend(std::iter::repeat_n(b' ', 70 * 1024));
    big.push(b']');
    let e = assert_err(
        verify_chain(&big, &policy(), &clock(), None),
        "input_too_large",
        None,
    );
    assert!(
        e.to_string().contains("over the limit of 65536 bytes"),
        "{e}"
    );
    let p = Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .max_input_bytes(500)
        .build();
    assert_err(
        verify_chain(&bytes(&docs(&chain(1))), &p, &clock(), None),
        "input_too_large",
        None,
    );
}

#[test]
fn too_many_grants_are_refused() {
    let mut d = docs(&chain(1));
    let g = d[0]["credentialSubject"]["grants"][0].clone();
    d[0]["credentialSubject"]["grants"] = serde_json::Value::Array(vec![g; 33]);
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "too_many_grants",
        Some(0),
    );
    let mut limits = Limits::default();
    limits.max_total_grants = 2;
    let p = Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .limits(limits)
        .build();
    assert_err(
        verify_chain(&bytes(&docs(&chain(3))), &p, &clock(), None),
        "too_many_grants",
        None,
    );
}

#[test]
fn deeply_nested_json_is_malformed_not_a_crash() {
    let mut s = String::new();
    for _ in 0..10_000 {
        s.push('[');
    }
    for _ in 0..10_000 {
        s.push(']');
    }
    assert_err(
        verify_chain(s.as_bytes(), &policy(), &clock(), None),
        "malformed",
        None,
    );
}

#[test]
fn garbage_is_malformed() {
    for input in [
        &b""[..],
        b"{}",
        b"null",
        b"[1]",
        b"[{}]",
        b"[[]]",
        b"\xff\xfe",
        b"[\"did:key:z6Mk\"]",
    ] {
        let e = verify_chain(input, &policy(), &clock(), None).unwrap_err();
        assert!(
            matches!(e.code().as_str(), "malformed" | "empty_chain"),
            "{e}"
        );
    }
}
