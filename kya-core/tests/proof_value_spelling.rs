//! A proof value has one spelling: the base58btc text its encoder writes for the 64 bytes.
//! Any other text (an extra or missing leading `1`, another length) is refused before any
//! signature work, so that a secured document cannot be given a second digest by re-spelling
//! its signature; every encoder spelling is read (and then judged by its signature).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kya_core::SecretKey;
use kya_core::proof::{self, ProofError, ProofOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

fn signed() -> Value {
    let key = SecretKey::from_seed(&[7u8; 32]);
    let doc = json!({"@context": ["https://www.w3.org/ns/credentials/v2"], "name": "x"});
    proof::sign(&doc, &ProofOptions::assertion(key.public_key()), &key).unwrap()
}

fn verdict(doc: &Value, proof_value: &str) -> Result<(), ProofError> {
    let mut doc = doc.clone();
    doc["proof"]["proofValue"] = json!(proof_value);
    proof::verify(&doc).map(|_| ())
}

fn spelled(bytes: &[u8]) -> String {
    multibase::encode(multibase::Base::Base58Btc, bytes)
}

proptest! {
    #[test]
    fn only_the_encoders_spelling_is_read(
        zeros in 0usize..4,
        rest in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let doc = signed();
        let mut bytes = rest;
        for b in bytes.iter_mut().take(zeros) {
            *b = 0;
        }
        let text = spelled(&bytes);
        // The encoder's text is read: whatever else it fails, it is not its spelling.
        prop_assert!(!matches!(verdict(&doc, &text), Err(ProofError::MalformedProofValue)));
        // One more leading `1` is one more zero byte: 65 bytes, refused.
        let longer = format!("z1{}", &text[1..]);
        prop_assert!(matches!(verdict(&doc, &longer), Err(ProofError::MalformedProofValue)));
        // One leading `1` fewer is one zero byte fewer: 63 bytes, refused.
        if let Some(shorter) = text[1..].strip_prefix('1') {
            let shorter = format!("z{shorter}");
            prop_assert!(matches!(verdict(&doc, &shorter), Err(ProofError::MalformedProofValue)));
        }
    }
}

#[test]
fn the_signed_spelling_verifies() {
    let doc = signed();
    let text = doc["proof"]["proofValue"].as_str().unwrap().to_owned();
    assert!(verdict(&doc, &text).is_ok());
}
