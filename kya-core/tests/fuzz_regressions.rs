//! Regression tests for what the fuzz targets (`fuzz/`) found, one test per finding, named
//! after it. Each states the property the target asserts, on the input that broke it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use kya_core::json::{JsonError, JsonLimits, canonicalize, parse_strict};

fn strict(s: &str) -> Result<serde_json::Value, JsonError> {
    parse_strict(s.as_bytes(), JsonLimits::default())
}

/// `jcs` target: "JCS output is itself accepted and a fixed point". A float token whose
/// value is an integer of 2^53 or more (`1e20`, `9007199254740993.0`) canonicalizes to an
/// integer token (`100000000000000000000`) that the strict parser refused as outside
/// I-JSON: kya's own canonical bytes (what `KYA-Chain` carries) did not parse back.
/// And an integer token past u64 (`100000000000000000000`) slipped past the I-JSON check
/// as a float while a smaller one (`10000000000000000000`) was refused.
#[test]
fn jcs_float_with_integer_form_beyond_2_53() {
    for input in [
        "1e20",
        "9007199254740993.0",
        "-1e20",
        "[1E16]",
        "100000000000000000000",
        "-100000000000000000000",
        "123456789012345678901234567890",
    ] {
        match strict(input) {
            Ok(v) => {
                let c = canonicalize(&v).unwrap();
                let again = parse_strict(&c, JsonLimits::default()).unwrap_or_else(|e| {
                    panic!(
                        "{input}: canonical {} refused: {e}",
                        String::from_utf8_lossy(&c)
                    )
                });
                assert_eq!(canonicalize(&again).unwrap(), c, "{input}");
            }
            Err(e) => assert!(
                matches!(e, JsonError::NumberOutOfRange { .. }),
                "{input}: refused for the wrong reason: {e}"
            ),
        }
    }
    // Both spellings of the same out-of-range integer get the same answer.
    assert!(matches!(
        strict("10000000000000000000"),
        Err(JsonError::NumberOutOfRange { .. })
    ));
    assert!(matches!(
        strict("100000000000000000000"),
        Err(JsonError::NumberOutOfRange { .. })
    ));
    // In range, and from 1e21 up (JCS writes those with an exponent), floats stay accepted.
    for ok in [
        "9007199254740991.0",
        "1e21",
        "1.5e300",
        "0.1",
        "-0.0",
        "1e-7",
    ] {
        let v = strict(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        let c = canonicalize(&v).unwrap();
        assert!(
            parse_strict(&c, JsonLimits::default()).is_ok(),
            "{ok} -> {}",
            String::from_utf8_lossy(&c)
        );
    }
}
