//! Strict JSON parsing and RFC 8785 canonicalisation of arbitrary bytes.
//!
//! Asserts: `parse_strict` never accepts what serde_json rejects, and accepts the same
//! value; when it refuses what serde_json accepts, the reason is one of its documented
//! limits (never a syntax error); JCS output is itself accepted and is a fixed point
//! (canonicalize(parse(canonicalize(x))) == canonicalize(x)); whitespace and key order in
//! the input never change the canonical bytes. `parse_i_json` (the generic proof layer's rule)
//! accepts everything `parse_strict` accepts, reads the same canonical value, and its
//! canonical output is a fixed point too. Bytes that `read_strict` and
//! `read_strict_elements` keep as a value's JCS form are exactly its canonical bytes.
#![no_main]
use kya_core::json::{
    JsonError, JsonLimits, canonicalize, parse_i_json, parse_strict, read_strict,
    read_strict_elements,
};
use kya_fuzz::ROOMY;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let strict = parse_strict(data, JsonLimits::default());
    let lax = serde_json::from_slice::<Value>(data);
    match (&strict, &lax) {
        (Ok(s), Ok(l)) => assert_eq!(s, l, "strict and serde_json read different values"),
        (Ok(_), Err(e)) => panic!("parse_strict accepted what serde_json rejects: {e}"),
        (Err(JsonError::Syntax(m)), Ok(_)) => {
            panic!("parse_strict called serde_json-valid input a syntax error: {m}")
        }
        _ => {}
    }
    let generic = parse_i_json(data, JsonLimits::default());
    if let Ok(g) = &generic {
        let c = canonicalize(g).expect("canonicalize i-json");
        let again = parse_i_json(&c, ROOMY).expect("canonical output parses as i-json");
        assert_eq!(
            canonicalize(&again).expect("again"),
            c,
            "i-json jcs is idempotent"
        );
    }
    match (&strict, &generic) {
        (Ok(s), Ok(g)) => assert_eq!(
            canonicalize(s).ok(),
            canonicalize(g).ok(),
            "the two number rules read different values"
        ),
        (Ok(_), Err(e)) => panic!("parse_i_json refused what parse_strict accepts: {e}"),
        _ => {}
    }
    if let Ok(read) = read_strict(data, JsonLimits::default()) {
        if let Some(kept) = read.jcs_bytes() {
            assert_eq!(kept, data, "kept bytes are the bytes read");
            assert_eq!(canonicalize(read.value()).ok().as_deref(), Some(kept));
        }
    }
    if let Ok(Ok(elements)) = read_strict_elements(data, JsonLimits::default()) {
        for element in &elements {
            if let Some(kept) = element.jcs_bytes() {
                assert_eq!(canonicalize(element.value()).ok().as_deref(), Some(kept));
            }
        }
    }
    let Ok(v) = strict else { return };
    let Ok(c) = canonicalize(&v) else { return };
    assert!(std::str::from_utf8(&c).is_ok());
    let again = parse_strict(&c, ROOMY).expect("canonical output parses strictly");
    assert_eq!(
        canonicalize(&again).expect("canonicalize again"),
        c,
        "jcs is idempotent"
    );
    // Pretty-printing (other whitespace, same members) leaves the canonical form alone.
    let pretty = serde_json::to_vec_pretty(&v).expect("pretty");
    let p = parse_strict(&pretty, ROOMY).expect("pretty output parses strictly");
    assert_eq!(canonicalize(&p).expect("canonicalize pretty"), c);
});
