//! `eddsa-jcs-2022` proof verification of arbitrary JSON.
//!
//! Asserts: a proof that verifies is one of the test vectors' own (message and signature
//! both known: no forgery, no malleated signature); a verified document still verifies,
//! with the same result, after re-serialisation in another layout.
#![no_main]
use kya_core::json::{JsonLimits, canonicalize, parse_strict};
use kya_core::proof::{self, PreparedProof};
use kya_fuzz::{ROOMY, assert_known_signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = parse_strict(data, JsonLimits::default()) else {
        return;
    };
    let Ok(prepared) = PreparedProof::from_document(&doc) else {
        return;
    };
    let Ok(info) = prepared.clone().verify() else {
        return;
    };
    assert_known_signature(&prepared);
    let canonical = canonicalize(&doc).expect("a verified document canonicalizes");
    let again = parse_strict(&canonical, ROOMY).expect("canonical bytes parse");
    assert_eq!(
        proof::verify(&again).expect("re-serialised document verifies"),
        info
    );
    let pretty = serde_json::to_vec_pretty(&doc).expect("pretty");
    let again = parse_strict(&pretty, ROOMY).expect("pretty bytes parse");
    assert_eq!(
        proof::verify(&again).expect("pretty document verifies"),
        info
    );
});
