//! Contexts and the VC data model: a chain link or a presentation whose issuer appended a
//! context after kya's (an inline object redefining a kya term, or a URL the policy does not
//! name) is refused with a typed error, as is one that breaks a VC DM 2.0 rule; a context the
//! policy explicitly accepts is accepted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use kya_core::contexts::ContextError;
use kya_core::proof::{self, ProofOptions};
use kya_verify::{FixedClock, MemoryNonceStore, Verifier, VerifyError};
use serde_json::{Value, json};

const V2: &str = "https://www.w3.org/ns/credentials/v2";
const KYA: &str = "https://w3id.org/kya/v1";
const EXTRA: &str = "https://example.org/contexts/extra/v1";

/// The chain of depth 2, its root re-signed by the principal with `context`, the child
/// re-signed to name the new root.
fn chain_with_root_context(context: Value) -> Vec<u8> {
    let links = docs(&chain(1));
    let mut root = links[0].clone();
    root["@context"] = context;
    let root = resign_raw(root, &principal(), None, t0());
    bytes(&[root])
}

/// Verifies `input`, which must be refused at its root for breaking the data model.
fn data_model_refusal(input: &[u8]) -> (VerifyError, kya_core::vcdm::Violations) {
    let e = assert_err(
        verify_chain(input, &policy(), &clock(), None),
        "malformed",
        Some(0),
    );
    match &e {
        VerifyError::NotVcDataModel { violations, .. } => (e.clone(), violations.clone()),
        _ => panic!("{e:?}"),
    }
}

#[test]
fn an_inline_context_redefining_a_kya_term_is_refused() {
    let input = chain_with_root_context(
        json!([V2, KYA, {"AgentAuthorization": "https://evil.example/#Anything"}]),
    );
    let (e, violations) = data_model_refusal(&input);
    assert_eq!(
        violations.as_slice()[0].rule.code(),
        "protected_term_redefined"
    );
    assert!(e.to_string().contains("AgentAuthorization"), "{e}");
}

#[test]
fn any_inline_context_is_refused_even_with_a_policy_that_accepts_urls() {
    let input = chain_with_root_context(json!([V2, KYA, {"note": "https://example.org/#note"}]));
    let policy = kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .allow_context(EXTRA)
        .build();
    let e = assert_err(
        verify_chain(&input, &policy, &clock(), None),
        "malformed",
        Some(0),
    );
    assert_eq!(
        e,
        VerifyError::ContextNotAccepted {
            link: Some(0),
            source: ContextError::Inline { index: 2 }
        }
    );
}

#[test]
fn an_appended_url_is_refused_unless_the_policy_accepts_it() {
    let input = chain_with_root_context(json!([V2, KYA, EXTRA]));
    let e = assert_err(
        verify_chain(&input, &policy(), &clock(), None),
        "malformed",
        Some(0),
    );
    assert!(
        matches!(
            &e,
            VerifyError::ContextNotAccepted { source: ContextError::NotAccepted { index: 2, url }, .. }
                if url == EXTRA
        ),
        "{e:?}"
    );
    let accepting = kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .allow_context(EXTRA)
        .build();
    verify_chain(&input, &accepting, &clock(), None).unwrap();
}

#[test]
fn a_link_breaking_the_data_model_lists_every_violation() {
    let mut root = docs(&chain(1))[0].clone();
    root["termsOfUse"] = json!({});
    root["evidence"] = json!("https://example.org/evidence");
    let input = bytes(&[resign_raw(root, &principal(), None, t0())]);
    let (e, violations) = data_model_refusal(&input);
    let codes: Vec<&str> = violations
        .as_slice()
        .iter()
        .map(|v| v.rule.code())
        .collect();
    assert_eq!(codes, ["not_objects", "type_required"], "{e}");
}

/// A presentation of a good chain, with `edit` applied before the agent signs it.
fn presentation(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut unsigned = json!({
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": did(&agent(2)).to_string(),
        "verifiableCredential": docs(&chain(3)),
    });
    edit(&mut unsigned);
    let holder = did(&agent(2));
    let options = ProofOptions {
        verification_method: holder.verification_method_id(),
        proof_purpose: "authentication".into(),
        created: Some(now()),
        expires: Some(now().add_seconds(60)),
        challenge: Some("n-ctx".into()),
        domain: Some("did:web:shop.example".into()),
    };
    serde_json::to_vec(&proof::sign(&unsigned, &options, &agent(2)).unwrap()).unwrap()
}

fn verify_presentation(bytes: &[u8]) -> Result<kya_verify::VerifiedAgent, VerifyError> {
    Verifier::new(policy())
        .with_clock(Arc::new(FixedClock::new(kya_verify::Clock::now(&clock()))))
        .with_nonce_store(Arc::new(MemoryNonceStore::default()))
        .verify_presentation(bytes)
}

#[test]
fn presentations_pass_the_same_checks() {
    verify_presentation(&presentation(|_| {})).unwrap();
    let redefining = presentation(|vp| {
        vp["@context"] = json!([V2, {"VerifiablePresentation": "https://evil.example/#P"}]);
    });
    let e = assert_err(verify_presentation(&redefining), "malformed", None);
    assert!(matches!(e, VerifyError::NotVcDataModel { .. }), "{e:?}");
    let inline = presentation(|vp| vp["@context"] = json!([V2, {"note": "https://e.org/#n"}]));
    let e = assert_err(verify_presentation(&inline), "malformed", None);
    assert_eq!(
        e,
        VerifyError::ContextNotAccepted {
            link: None,
            source: ContextError::Inline { index: 1 }
        }
    );
    let appended = presentation(|vp| vp["@context"] = json!([V2, EXTRA]));
    let e = assert_err(verify_presentation(&appended), "malformed", None);
    assert!(matches!(e, VerifyError::ContextNotAccepted { .. }), "{e:?}");
    let untyped_terms =
        presentation(|vp| vp["termsOfUse"] = json!({"id": "https://example.org/t"}));
    let e = assert_err(verify_presentation(&untyped_terms), "malformed", None);
    assert!(e.to_string().contains("termsOfUse"), "{e}");
    let string_vc = presentation(|vp| vp["verifiableCredential"][1] = json!("eyJ.e30.sig"));
    let e = assert_err(verify_presentation(&string_vc), "malformed", None);
    assert!(e.to_string().contains("verifiableCredential[1]"), "{e}");
}
