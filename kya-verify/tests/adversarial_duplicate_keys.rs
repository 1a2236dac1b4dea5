//! Duplicate JSON keys: two parsers could disagree on what was signed, so they are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;

#[test]
fn a_duplicate_key_anywhere_is_malformed() {
    let d = docs(&chain(2));
    let text = String::from_utf8(bytes(&d)).unwrap();
    // A second `validUntil` in the delegation (serde_json keeps the last; JCS would sign one).
    let dup = text.replacen(
        "\"validUntil\":\"2027-01-01T00:00:00Z\"",
        "\"validUntil\":\"2027-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"",
        1,
    );
    assert_ne!(dup, text);
    let e = assert_err(
        verify_chain(dup.as_bytes(), &policy(), &clock(), None),
        "malformed",
        None,
    );
    assert!(e.to_string().contains("duplicate json key"), "{e}");
    // In a grant.
    let dup = text.replacen(
        "\"action\":\"payments\"",
        "\"action\":\"payments\",\"action\":\"admin\"",
        1,
    );
    assert_ne!(dup, text);
    assert_err(
        verify_chain(dup.as_bytes(), &policy(), &clock(), None),
        "malformed",
        None,
    );
    // In a proof.
    let dup = text.replacen(
        "\"proofPurpose\":",
        "\"proofPurpose\":\"x\",\"proofPurpose\":",
        1,
    );
    assert_err(
        verify_chain(dup.as_bytes(), &policy(), &clock(), None),
        "malformed",
        None,
    );
}
