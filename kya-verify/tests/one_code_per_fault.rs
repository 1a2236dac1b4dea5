//! One fault, one code: a credential a reader refuses (what the Python and JavaScript
//! packages' `Credential.fromJson` and a framework's own parsing do) carries the code the
//! verifier gives the same credential as a chain link. An attacker's document cannot be a
//! "bad signature" to the merchant and an uncoded error to the framework that logged it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;
use kya_core::ProofOptions;
use kya_core::credential::{CredentialError, UnverifiedCredential};
use kya_verify::Code;
use serde_json::{Value, json};

/// The group order L, little-endian: S + L is the classic malleation.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn root() -> Value {
    docs(&chain(1))[0].clone()
}

fn signed_for(purpose: &str, doc: &Value) -> Value {
    let mut doc = doc.clone();
    doc.as_object_mut().unwrap().remove("proof");
    let options = ProofOptions {
        verification_method: did(&principal()).verification_method_id(),
        proof_purpose: purpose.into(),
        created: Some(t0()),
        expires: None,
        challenge: None,
        domain: None,
    };
    kya_core::proof::sign(&doc, &options, &principal()).unwrap()
}

fn s_plus_l(mut doc: Value) -> Value {
    let pv = doc["proof"]["proofValue"].as_str().unwrap();
    let (_, sig) = multibase::decode(pv).unwrap();
    let mut sig: [u8; 64] = sig.try_into().unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    doc["proof"]["proofValue"] = multibase::encode(multibase::Base::Base58Btc, sig).into();
    doc
}

/// Hostile credentials, each with the code the verifier must give it.
fn hostile() -> Vec<(&'static str, Value, Code)> {
    let mut altered = root();
    altered["credentialSubject"]["grants"][0]["action"] = json!("payments/refund");
    let mut inline_context = root();
    inline_context["@context"]
        .as_array_mut()
        .unwrap()
        .push(json!({"AgentAuthorization": "https://evil.example/#Anything"}));
    let mut short_proof_context = root();
    short_proof_context["proof"]["@context"] = json!(["https://www.w3.org/ns/credentials/v2"]);
    let mut bad_amount = root();
    bad_amount["credentialSubject"]["grants"][0]["maxAmount"]["value"] = json!("lots");
    let mut no_proof = root();
    no_proof.as_object_mut().unwrap().remove("proof");
    vec![
        ("a grant altered after signing", altered, Code::BadSignature),
        (
            "signed by a key its issuer does not control",
            resign_raw(root(), &agent(3), None, t0()),
            Code::BadSignature,
        ),
        (
            "a signature whose S is not reduced",
            s_plus_l(root()),
            Code::BadSignature,
        ),
        (
            "an inline context redefining a kya term",
            resign_raw(inline_context, &principal(), None, t0()),
            Code::Malformed,
        ),
        (
            "a proof signing a shorter @context",
            short_proof_context,
            Code::Malformed,
        ),
        (
            "a proof for another purpose",
            signed_for("authentication", &root()),
            Code::Malformed,
        ),
        (
            "a kya field that cannot be read",
            resign_raw(bad_amount, &principal(), None, t0()),
            Code::Malformed,
        ),
        ("no proof", no_proof, Code::Malformed),
        ("not an object", json!(["a credential"]), Code::Malformed),
    ]
}

fn read(doc: &Value) -> CredentialError {
    UnverifiedCredential::from_slice(&serde_json::to_vec(doc).unwrap())
        .and_then(UnverifiedCredential::verify_proof)
        .expect_err("a reader accepted a hostile credential")
}

#[test]
fn a_reader_and_the_verifier_give_a_hostile_credential_one_code() {
    for (what, doc, expected) in hostile() {
        let verdict = verify_chain(
            &bytes(std::slice::from_ref(&doc)),
            &policy(),
            &clock(),
            None,
        )
        .expect_err(what);
        assert_eq!(verdict.code(), expected, "{what}: {verdict}");
        assert_eq!(verdict.link(), Some(0), "{what}: {verdict}");
        let refused = read(&doc);
        assert_eq!(
            Code::of_credential_error(&refused),
            Some(expected),
            "{what}: the reader said {refused}, the verifier {verdict}"
        );
    }
}

/// A delegation signed by a key other than its parent's subject: the builder refuses to
/// make it, the verifier refuses to accept it, under one code.
#[test]
fn a_delegation_by_someone_else_is_one_fault_to_the_builder_and_the_verifier() {
    use kya_core::credential::AgentDelegation;
    let links = chain(1);
    let refused = AgentDelegation::builder(&links[0], did(&agent(1)))
        .unwrap()
        .grant(child_grant())
        .sign(&agent(2), t0())
        .unwrap_err();
    assert!(
        matches!(refused, CredentialError::DelegatorNotSubject { .. }),
        "{refused}"
    );
    // The same delegation, signed without the builder by the outsider, and verified.
    let mut d = docs(&chain(2));
    d[1]["issuer"] = json!(did(&agent(2)).to_string());
    d[1] = resign(d[1].clone(), &agent(2), t0());
    let verdict = verify_chain(&bytes(&d), &policy(), &clock(), None).unwrap_err();
    assert_eq!(verdict.code(), Code::IssuerNotParentSubject, "{verdict}");
    assert_eq!(Code::of_credential_error(&refused), Some(verdict.code()));
}
