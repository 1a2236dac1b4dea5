//! Every I-JSON number, as RFC 8785 reads and writes it: the generic Data Integrity layer
//! signs and verifies documents holding numbers that kya's own credentials never use.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use kya_core::json::{JsonError, JsonLimits, canonicalize, parse_i_json, parse_strict};
use kya_core::proof::{self, ProofError, ProofOptions};
use kya_core::{SecretKey, Timestamp};
use serde_json::Value;

fn i_json(s: &str) -> Result<Value, JsonError> {
    parse_i_json(s.as_bytes(), JsonLimits::default())
}

/// `(text, ECMAScript's JSON.stringify(JSON.parse(text)))` pairs recorded with Node.js by
/// `tests/data/es_numbers.mjs`: random doubles written shortest, with 25 significant digits
/// and in fixed notation, integers beyond 2^53, long mantissas with exponents, and the edge
/// cases (±0, subnormals, the largest double, 2^53 ± 1). `"null"` marks a text beyond the
/// double range.
fn es_reference() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/es_numbers.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn canonical_numbers_are_byte_identical_to_ecmascript() {
    let pairs = es_reference();
    assert!(pairs.len() > 2000, "{} pairs", pairs.len());
    let mut refused = 0;
    for (text, expected) in &pairs {
        if expected == "null" {
            assert!(i_json(text).is_err(), "{text} is beyond the double range");
            refused += 1;
            continue;
        }
        let v = i_json(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let c = canonicalize(&v).unwrap();
        assert_eq!(std::str::from_utf8(&c).unwrap(), expected, "{text}");
        // kya's fast writer and the reference canonicalizer agree.
        assert_eq!(c, serde_json_canonicalizer::to_vec(&v).unwrap(), "{text}");
        // Canonical output is a fixed point.
        let again = i_json(expected).unwrap();
        assert_eq!(canonicalize(&again).unwrap(), c, "{text}");
        // The exact rule reads the same value, or refuses the number as out of range.
        match parse_strict(text.as_bytes(), JsonLimits::default()) {
            Ok(s) => assert_eq!(canonicalize(&s).unwrap(), c, "{text}"),
            Err(e) => assert!(
                matches!(e, JsonError::NumberOutOfRange { .. }),
                "{text}: {e}"
            ),
        }
    }
    assert_eq!(refused, 2);
}

const DOCUMENT: &str = r#"{
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential"],
    "issuer": "did:example:issuer",
    "credentialSubject": {
        "big": 123456789012345680000,
        "twoTo53": 9007199254740992,
        "twoTo53PlusOne": 9007199254740993,
        "e20": 1e20,
        "negativeZero": -0,
        "smallest": 5e-324,
        "largest": 1.7976931348623157e308,
        "list": [1e20, 9007199254740993, -0.0]
    }
}"#;

fn signed() -> Value {
    let key = SecretKey::from_seed(&[7; 32]);
    let document = proof::read_document(DOCUMENT.as_bytes(), JsonLimits::default()).unwrap();
    let options = ProofOptions::assertion(key.public_key())
        .created("2026-01-01T00:00:00Z".parse::<Timestamp>().unwrap());
    proof::sign(&document, &options, &key).unwrap()
}

#[test]
fn any_i_json_document_signs_and_verifies() {
    // kya's own reader refuses this document; the generic layer's does not.
    assert!(matches!(
        parse_strict(DOCUMENT.as_bytes(), JsonLimits::default()),
        Err(JsonError::NumberOutOfRange { .. })
    ));
    let secured = signed();
    proof::verify(&secured).unwrap();
    // Through text, as another program would receive it: compact and pretty.
    for text in [
        serde_json::to_vec(&secured).unwrap(),
        serde_json::to_vec_pretty(&secured).unwrap(),
        canonicalize(&secured).unwrap(),
    ] {
        let info = proof::verify_slice(&text, JsonLimits::default()).unwrap();
        assert_eq!(info.proof_purpose, "assertionMethod");
    }
    // The signature covers the numbers as RFC 8785 writes them.
    let input = proof::SigningInput::new(
        proof::ProofConfig(&Value::Null),
        &proof::read_document(DOCUMENT.as_bytes(), JsonLimits::default()).unwrap(),
    )
    .unwrap();
    let canonical = String::from_utf8(input.canonical_document).unwrap();
    assert!(
        canonical.contains(
            r#""big":123456789012345680000,"e20":100000000000000000000,"largest":1.7976931348623157e+308,"list":[100000000000000000000,9007199254740992,0],"negativeZero":0,"smallest":5e-324,"twoTo53":9007199254740992,"twoTo53PlusOne":9007199254740992"#
        ),
        "{canonical}"
    );
}

#[test]
fn a_changed_number_breaks_the_signature() {
    let secured = signed();
    let mut tampered = secured.clone();
    // The next double after 123456789012345680000.
    tampered["credentialSubject"]["big"] = serde_json::json!(123456789012345700000.0);
    assert!(matches!(
        proof::verify(&tampered),
        Err(ProofError::BadSignature { .. })
    ));
    // A spelling of the same double is the same document.
    let text = serde_json::to_string(&secured)
        .unwrap()
        .replace("1.2345678901234568e+20", "123456789012345680000.0");
    assert!(text.contains("123456789012345680000.0"), "{text}");
    proof::verify_slice(text.as_bytes(), JsonLimits::default()).unwrap();
}

#[test]
fn the_generic_reader_keeps_kyas_bounds() {
    let dup = r#"{"a":1e20,"a":1}"#;
    assert!(matches!(
        proof::verify_slice(dup.as_bytes(), JsonLimits::default()),
        Err(ProofError::Json(JsonError::DuplicateKey { .. }))
    ));
    let deep = format!("{}1e20{}", "[".repeat(40), "]".repeat(40));
    assert!(matches!(
        proof::read_document(deep.as_bytes(), JsonLimits::default()),
        Err(ProofError::Json(JsonError::TooDeep { max: 32 }))
    ));
    let limits = JsonLimits {
        max_bytes: 16,
        max_depth: 32,
    };
    assert!(matches!(
        proof::read_document(DOCUMENT.as_bytes(), limits),
        Err(ProofError::Json(JsonError::TooLarge { .. }))
    ));
}
