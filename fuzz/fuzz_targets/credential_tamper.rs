//! Structure-aware tampering with signed credentials: start from a signed vector, apply a
//! few edits (set, remove or re-type a member anywhere in the document, proof included).
//!
//! Asserts: the proof still verifies only if the signed content is unchanged, i.e. the
//! (message, signature) pair is the original's; every edit that changes the JCS bytes of the
//! document or of the proof options is refused; the credential parser never panics on the
//! result.
#![no_main]
use arbitrary::Unstructured;
use kya_core::credential::UnverifiedCredential;
use kya_core::proof::PreparedProof;
use kya_fuzz::{arb_edit, assert_known_signature, signed_documents};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let docs = signed_documents();
    let Ok(i) = u.choose_index(docs.len()) else {
        return;
    };
    let original = &docs[i];
    let mut doc = original.clone();
    for _ in 0..u.int_in_range(1..=4u8).unwrap_or(1) {
        if arb_edit(&mut u, &mut doc).is_err() {
            break;
        }
    }
    let _ = UnverifiedCredential::from_value(doc.clone()).map(|c| c.verify_proof());
    let Ok(prepared) = PreparedProof::from_document(&doc) else {
        return;
    };
    if prepared.clone().verify().is_ok() {
        assert_known_signature(&prepared);
        let before = PreparedProof::from_document(original).expect("vector proof parses");
        assert_eq!(
            before.message, prepared.message,
            "an edit changed what was signed"
        );
    }
});
