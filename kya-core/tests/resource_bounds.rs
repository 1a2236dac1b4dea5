//! The worst case of every input dimension kya-core reads, bounded and tested (see
//! `docs/limits.md`). Each test asserts a limit or a count, never a wall-clock time: the
//! bound on work follows from the counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use kya_core::Timestamp;
use kya_core::credential::{CredentialError, UnverifiedCredential};
use kya_core::grant::{
    Action, ActionError, Amount, AmountError, Asset, Grant, GrantError, GrantSet, MAX_ACTION_BYTES,
    MAX_ACTION_SEGMENTS, MAX_AMOUNT_BYTES, MAX_AMOUNT_DIGITS, MAX_ENTRY_BYTES, Request,
    grants_allow,
};
use kya_core::json::{JsonError, JsonLimits, canonicalize, parse_i_json, parse_strict};

fn default_parse(bytes: &[u8]) -> Result<serde_json::Value, JsonError> {
    parse_strict(bytes, JsonLimits::default())
}

#[test]
fn json_input_size_is_checked_before_parsing() {
    let limits = JsonLimits::default();
    assert_eq!(limits.max_bytes, 256 * 1024);
    // Over the limit by one byte: refused by length, even though it is not even JSON.
    let big = vec![b'!'; limits.max_bytes + 1];
    assert_eq!(
        default_parse(&big),
        Err(JsonError::TooLarge {
            len: limits.max_bytes + 1,
            max: limits.max_bytes
        })
    );
    // At the limit: parsed.
    let mut at = vec![b' '; limits.max_bytes];
    at[0] = b'1';
    assert!(default_parse(&at).is_ok());
    // Credentials go through the same gate.
    assert!(matches!(
        UnverifiedCredential::from_slice(&big),
        Err(CredentialError::Json(JsonError::TooLarge { .. }))
    ));
}

#[test]
fn json_nesting_depth_is_bounded_without_recursion_blowup() {
    let max = JsonLimits::default().max_depth;
    assert_eq!(max, 32);
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(default_parse(nest(max).as_bytes()).is_ok());
    assert_eq!(
        default_parse(nest(max + 1).as_bytes()),
        Err(JsonError::TooDeep { max })
    );
    // Objects count the same way.
    let objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    assert!(default_parse(objects(max).as_bytes()).is_ok());
    assert_eq!(
        default_parse(objects(max + 1).as_bytes()),
        Err(JsonError::TooDeep { max })
    );
    // A whole input of openers (the deepest the size limit allows): refused at depth 33,
    // after reading 33 bytes, with no deep recursion.
    let limits = JsonLimits {
        max_bytes: 4 << 20,
        max_depth: max,
    };
    let openers = "[".repeat(4 << 20);
    assert_eq!(
        parse_strict(openers.as_bytes(), limits),
        Err(JsonError::TooDeep { max })
    );
    let openers = r#"{"a":"#.repeat((4 << 20) / 5);
    assert_eq!(
        parse_strict(openers.as_bytes(), limits),
        Err(JsonError::TooDeep { max })
    );
}

#[test]
fn json_numbers_are_bounded_to_i_json() {
    // Integers: exactly ±(2^53 − 1).
    assert!(default_parse(b"9007199254740991").is_ok());
    assert!(default_parse(b"-9007199254740991").is_ok());
    for out in [
        "9007199254740992",
        "-9007199254740992",
        "18446744073709551616",
    ] {
        assert!(
            matches!(
                default_parse(out.as_bytes()),
                Err(JsonError::NumberOutOfRange { .. })
            ),
            "{out}"
        );
    }
    // Doubles whose JCS form is an integer past 2^53 are refused; from 1e21 (exponent form) on
    // they are kept; infinities are refused.
    assert!(matches!(
        default_parse(b"1e20"),
        Err(JsonError::NumberOutOfRange { .. })
    ));
    assert!(default_parse(b"1e21").is_ok());
    assert!(default_parse(b"1e400").is_err());
    // The longest number the size limit allows (a 256 KiB digit run) is read in one pass and
    // refused; a long fraction is read and rounded to a double.
    let digits = "9".repeat(JsonLimits::default().max_bytes);
    assert!(matches!(
        default_parse(digits.as_bytes()),
        Err(JsonError::NumberOutOfRange { .. } | JsonError::Syntax(_))
    ));
    let fraction = format!("0.{}", "1".repeat(JsonLimits::default().max_bytes - 2));
    let v = default_parse(fraction.as_bytes()).unwrap();
    assert!(
        canonicalize(&v).unwrap().len() <= 24,
        "a double prints in at most 24 bytes"
    );
}

#[test]
fn jcs_output_is_at_most_four_times_the_input() {
    // The worst expansion JCS can do to accepted input is a short number written out in full:
    // `1e15` (4 bytes) becomes `1000000000000000` (16). Strings never grow (escapes in the
    // input are at least as long as JCS's), whitespace only shrinks.
    let worst = [
        "1e15".to_owned(),
        format!("[{}1e15]", "1e15,".repeat(1000)),
        format!("[{}-9e15]", "-9e15,".repeat(1000)),
        r#"{"a":"\u0001\u001f\"\\/é","b":1E2}"#.to_owned(),
        "[1e-6,1e-7,5e-324,1.7976931348623157e308]".to_owned(),
    ];
    for input in worst {
        let v = default_parse(input.as_bytes()).unwrap();
        let c = canonicalize(&v).unwrap();
        assert!(
            c.len() <= 4 * input.len(),
            "{} -> {} bytes",
            input.len(),
            c.len()
        );
    }
}

#[test]
fn jcs_output_of_i_json_input_is_at_most_21_quarters_of_the_input() {
    // The generic proof layer also reads doubles in [2^53, 1e21), which JCS writes out in
    // full: `9e20` (4 bytes) becomes `900000000000000000000` (21), the worst case.
    let worst = [
        "9e20".to_owned(),
        "-1e20".to_owned(),
        format!("[{}9e20]", "9e20,".repeat(1000)),
        format!("{{\"a\":[{}1e20]}}", "-1e20,".repeat(1000)),
        "123456789012345680000".to_owned(),
        "[1e-6,1e-7,5e-324,1.7976931348623157e308,1e15]".to_owned(),
    ];
    let mut worst_ratio: f64 = 0.0;
    for input in worst {
        let v = parse_i_json(input.as_bytes(), JsonLimits::default()).unwrap();
        let c = canonicalize(&v).unwrap();
        assert!(
            4 * c.len() <= 21 * input.len(),
            "{} -> {} bytes",
            input.len(),
            c.len()
        );
        worst_ratio = worst_ratio.max(c.len() as f64 / input.len() as f64);
    }
    assert_eq!(worst_ratio, 21.0 / 4.0);
}

#[test]
fn long_strings_are_bounded_by_the_input_size() {
    // A string as long as the limit allows is accepted as data (no per-string limit in JSON);
    // kya's typed fields then bound their own strings (below).
    let s = format!("\"{}\"", "x".repeat(JsonLimits::default().max_bytes - 2));
    assert!(default_parse(s.as_bytes()).is_ok());
}

#[test]
fn actions_amounts_and_allow_list_entries_are_bounded() {
    assert_eq!(MAX_ACTION_BYTES, 256);
    assert_eq!(MAX_ACTION_SEGMENTS, 16);
    assert!(Action::parse(&"a".repeat(MAX_ACTION_BYTES)).is_ok());
    assert!(matches!(
        Action::parse(&"a".repeat(MAX_ACTION_BYTES + 1)),
        Err(ActionError::TooLong { .. })
    ));
    let segments = |n: usize| vec!["a"; n].join("/");
    assert!(Action::parse(&segments(MAX_ACTION_SEGMENTS)).is_ok());
    assert!(matches!(
        Action::parse(&segments(MAX_ACTION_SEGMENTS + 1)),
        Err(ActionError::TooManySegments { .. })
    ));

    assert_eq!(MAX_AMOUNT_DIGITS, 38);
    assert_eq!(MAX_AMOUNT_BYTES, 128);
    assert!(Amount::parse(&"9".repeat(MAX_AMOUNT_DIGITS)).is_ok());
    assert!(matches!(
        Amount::parse(&"9".repeat(MAX_AMOUNT_DIGITS + 1)),
        Err(AmountError::TooManyDigits { .. })
    ));
    assert!(matches!(
        Amount::parse(&"0".repeat(MAX_AMOUNT_BYTES + 1)),
        Err(AmountError::TooLong { .. })
    ));
    // Arithmetic on the largest amounts is checked, never wraps.
    let max = Amount::parse(&"9".repeat(MAX_AMOUNT_DIGITS)).unwrap();
    assert_eq!(max.checked_add(&max), None);

    assert_eq!(MAX_ENTRY_BYTES, 2048);
    let entry = |n: usize| "e".repeat(n);
    assert!(
        Grant::builder(Action::root())
            .audience([entry(MAX_ENTRY_BYTES)])
            .build()
            .is_ok()
    );
    assert!(matches!(
        Grant::builder(Action::root())
            .audience([entry(MAX_ENTRY_BYTES + 1)])
            .build(),
        Err(GrantError::InvalidEntry { .. })
    ));
    assert!(matches!(
        Grant::builder(Action::root())
            .resource([entry(MAX_ENTRY_BYTES + 1)])
            .build(),
        Err(GrantError::InvalidEntry { .. })
    ));
}

/// Found while measuring the worst case of attenuation: a child grant whose audience list
/// had n entries outside its parent's n-entry list produced n widenings, each carrying a copy
/// of the parent's list: n² strings (n = 2000, 54 KB of grants: 220 MB and 0.3 s; n = 3000:
/// 500 MB). One widening per constraint now, so the report is linear in the input.
#[test]
fn widenings_are_bounded_per_constraint() {
    let n = 2000;
    let parent = Grant::builder(Action::parse("payments").unwrap())
        .audience(vec!["did:web:shop.example"; n])
        .resource(vec!["https://shop.example/api"; n])
        .build()
        .unwrap();
    let child = Grant::builder(Action::parse("payments").unwrap())
        .audience(vec!["x"; n])
        .resource(vec!["https://evil.example/"; n])
        .build()
        .unwrap();
    let w = child.widenings(&parent);
    assert_eq!(
        w.len(),
        2,
        "one widening per widened constraint: {}",
        w.len()
    );
    // At most one widening per constraint kind (action, maxAmount ×3 kinds, budget ×2,
    // rate ×2, audience, resource, validFrom, validUntil) plus one per unknown parent
    // constraint, whatever the input.
    assert!(w.len() <= 12);
    let e = GrantSet(&[child.clone(), child])
        .attenuates(&[parent.clone(), parent])
        .unwrap_err();
    assert_eq!(e.child_index, 0);
}

#[test]
fn evaluation_reports_are_linear_in_the_grants() {
    // g grants, each denying: the report holds g entries with at most one violation per
    // constraint each (10 kinds) plus the unknown constraints.
    let g = 256;
    let grant = Grant::builder(Action::parse("payments/send").unwrap())
        .max_amount(Amount::parse("1").unwrap(), Asset::parse("USD").unwrap())
        .audience(["did:web:shop.example"])
        .build()
        .unwrap();
    let grants = vec![grant; g];
    let request = Request::new(
        Action::parse("catalog").unwrap(),
        Timestamp::from_unix(0).unwrap(),
    )
    .with_amount(Amount::parse("2").unwrap(), Asset::parse("EUR").unwrap())
    .with_audience("did:web:other.example");
    let denied = grants_allow(&grants, &request).unwrap_err();
    assert_eq!(denied.0.len(), g);
    assert!(denied.0.iter().all(|(_, v)| !v.is_empty() && v.len() <= 10));
}
