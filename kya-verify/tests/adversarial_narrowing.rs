//! A grant widened in a child, a child valid longer (or earlier) than its parent: each
//! properly signed, so only the narrowing rule catches it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;
use kya_verify::VerifyError;

#[test]
fn a_widened_grant_is_refused() {
    let mut d = docs(&chain(3));
    for (path, value) in [
        (
            "/credentialSubject/grants/0/maxAmount/value",
            serde_json::json!("500.00"),
        ),
        (
            "/credentialSubject/grants/0/action",
            serde_json::json!("payments"),
        ),
        (
            "/credentialSubject/grants/0/audience",
            serde_json::json!(["did:web:evil.example"]),
        ),
    ] {
        let mut leaf = d[2].clone();
        *leaf.pointer_mut(path).unwrap() = value;
        d[2] = resign(leaf, &agent(1), t0());
        let e = assert_err(
            verify_chain(&bytes(&d), &policy(), &clock(), None),
            "grant_widened",
            Some(2),
        );
        match e {
            VerifyError::GrantWidened {
                grant,
                parent_grant,
                ..
            } => {
                assert_eq!(grant, 0);
                assert_eq!(parent_grant, Some(0));
            }
            other => panic!("{other:?}"),
        }
        d = docs(&chain(3));
    }
    // A dropped constraint widens too.
    let mut leaf = d[1].clone();
    leaf["credentialSubject"]["grants"][0]
        .as_object_mut()
        .unwrap()
        .remove("audience");
    d[1] = resign(leaf, &agent(0), t0());
    let e = assert_err(
        verify_chain(&bytes(&d[..2]), &policy(), &clock(), None),
        "grant_widened",
        Some(1),
    );
    assert!(e.to_string().contains("audience_unrestricted"), "{e}");
}

#[test]
fn a_child_valid_longer_than_its_parent_is_refused() {
    let mut d = docs(&chain(2));
    let mut leaf = d[1].clone();
    leaf["validUntil"] = "2027-06-01T00:00:00Z".into();
    d[1] = resign(leaf, &agent(0), t0());
    let e = assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "validity_outside_parent",
        Some(1),
    );
    assert!(e.to_string().contains("2027-06-01T00:00:00Z"), "{e}");

    let mut d = docs(&chain(2));
    let mut leaf = d[1].clone();
    leaf["validFrom"] = "2025-06-01T00:00:00Z".into();
    d[1] = resign(leaf, &agent(0), t0());
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "validity_outside_parent",
        Some(1),
    );
}

#[test]
fn expired_and_not_yet_valid_links_are_refused() {
    let d = docs(&chain(2));
    let late = kya_verify::FixedClock::new(t("2027-01-01T00:01:05Z"));
    let e = assert_err(
        verify_chain(&bytes(&d), &policy(), &late, None),
        "credential_expired",
        Some(0),
    );
    assert_eq!(
        e.to_string(),
        "credential [0] expired at 2027-01-01T00:00:00Z, 65 s before now"
    );
    // Within the skew it still verifies.
    let edge = kya_verify::FixedClock::new(t("2027-01-01T00:00:59Z"));
    assert!(verify_chain(&bytes(&d), &policy(), &edge, None).is_ok());
    let early = kya_verify::FixedClock::new(t("2025-12-31T23:58:00Z"));
    assert_err(
        verify_chain(&bytes(&d), &policy(), &early, None),
        "credential_not_yet_valid",
        Some(0),
    );
}

/// What the builder refuses to make, the verifier refuses to accept, under one code: a
/// framework that reports a builder's refusal speaks of the same fault as a merchant's
/// verifier (the Python and JavaScript packages raise these codes).
#[test]
fn the_builder_and_the_verifier_name_a_widening_alike() {
    use kya_core::credential::AgentDelegation;
    use kya_verify::Code;
    let links = chain(1);
    let wider = grant(
        r#"{"action": "payments", "maxAmount": {"value": "500.00", "asset": "USD"},
            "audience": ["did:web:shop.example"]}"#,
    );
    let refused = AgentDelegation::builder(&links[0], did(&agent(1)))
        .unwrap()
        .grant(wider.clone())
        .sign(&agent(0), t0())
        .unwrap_err();
    assert_eq!(
        Code::of_credential_error(&refused),
        Some(Code::GrantWidened)
    );
    let late = AgentDelegation::builder(&links[0], did(&agent(1)))
        .unwrap()
        .grant(child_grant())
        .valid_until(t("2028-01-01T00:00:00Z"))
        .sign(&agent(0), t0())
        .unwrap_err();
    assert_eq!(
        Code::of_credential_error(&late),
        Some(Code::ValidityOutsideParent)
    );
    // The same widening, signed without the builder, and verified.
    let mut d = docs(&chain(2));
    d[1]["credentialSubject"]["grants"][0] = serde_json::to_value(&wider).unwrap();
    d[1] = resign(d[1].clone(), &agent(0), t0());
    let e = verify_chain(&bytes(&d), &policy(), &clock(), None).unwrap_err();
    assert_eq!(e.code(), Code::GrantWidened, "{e}");
    // A signer that failed is not a verdict on any credential.
    let failed = kya_core::credential::CredentialError::Proof(kya_core::ProofError::Signer(
        "the device is locked".into(),
    ));
    assert_eq!(Code::of_credential_error(&failed), None);
}
