//! Credential parsing (VC 2.0 data model + kya kinds) and proof verification.
//!
//! Asserts: a parsed credential re-serialises and re-parses to the same kind; its digest is
//! layout-independent; a verified credential was signed by a vector key (no forgery), is
//! issued by the key that signed it or by a wallet that must bind it, re-serialises and
//! re-verifies with the same digest.
#![no_main]
use kya_core::credential::{IssuerBinding, UnverifiedCredential};
use kya_core::{Did, json::canonicalize};
use kya_fuzz::{ROOMY, assert_known_signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cred) = UnverifiedCredential::from_slice(data) else {
        return;
    };
    let bytes = serde_json::to_vec_pretty(cred.document()).expect("serialise");
    let again = UnverifiedCredential::from_slice_with(&bytes, ROOMY).expect("re-parse");
    assert_eq!(again.kind(), cred.kind());
    let digest = cred.digest().expect("digest");
    assert_eq!(again.digest().expect("digest"), digest);
    let Ok((prepared, _)) = cred.prepare() else {
        return;
    };
    let Ok(verified) = cred.clone().verify_proof() else {
        return;
    };
    assert_known_signature(&prepared);
    assert_eq!(verified.digest(), digest);
    match (verified.kind().issuer(), verified.issuer_binding()) {
        (Did::Key(k), IssuerBinding::SelfEvident) => assert_eq!(k, verified.proof().signer),
        (Did::Pkh(_), IssuerBinding::RequiresRegistry) => {}
        (issuer, binding) => panic!("issuer {issuer} with binding {binding:?}"),
    }
    let canonical = canonicalize(verified.document()).expect("canonical");
    let re = UnverifiedCredential::from_slice_with(&canonical, ROOMY)
        .expect("re-parse canonical")
        .verify_proof()
        .expect("a verified credential re-verifies");
    assert_eq!(re.digest(), digest);
    assert_eq!(re.kind(), verified.kind());
});
