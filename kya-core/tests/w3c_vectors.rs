//! The standards' own test vectors, byte for byte: RFC 8785 (cyberphone), did:key, and
//! W3C vc-di-eddsa eddsa-jcs-2022.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;

use kya_core::json::{JsonLimits, canonicalize, parse_strict};
use kya_core::proof::{self, PreparedProof, ProofConfig, ProofError, ProofOptions, SigningInput};
use kya_core::{DidKey, MultikeyFile, SecretKey, Timestamp};
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/w3c")
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(vectors().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(path: &str) -> String {
    String::from_utf8(read(path)).unwrap()
}

fn json(path: &str) -> Value {
    parse_strict(&read(path), JsonLimits::default()).unwrap()
}

#[test]
fn jcs_all_six_cyberphone_vectors() {
    for name in [
        "arrays",
        "french",
        "structures",
        "unicode",
        "values",
        "weird",
    ] {
        let input = json(&format!("jcs/input/{name}.json"));
        let expected = read(&format!("jcs/output/{name}.json"));
        let hex_expected: String = text(&format!("jcs/outhex/{name}.txt"))
            .split_whitespace()
            .collect();
        let got = canonicalize(&input).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
        assert_eq!(hex::encode(&got), hex_expected, "{name} (hex)");
        // Canonical output is a fixed point.
        let again = canonicalize(&parse_strict(&got, JsonLimits::default()).unwrap()).unwrap();
        assert_eq!(again, got, "{name} idempotent");
    }
}

#[test]
fn did_key_vectors() {
    let v = json("did-key/ed25519-x25519.json");
    let entries = v.as_object().unwrap();
    assert_eq!(entries.len(), 5);
    for (did, entry) in entries {
        let seed: [u8; 32] = hex::decode(entry["seed"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let from_seed = DidKey::from_public_key(SecretKey::from_seed(&seed).public_key());
        assert_eq!(&from_seed.to_string(), did);
        let parsed: DidKey = did.parse().unwrap();
        assert_eq!(parsed, from_seed);
        let vkp = &entry["verificationKeyPair"];
        let raw = if let Some(b58) = vkp["publicKeyBase58"].as_str() {
            multibase::Base::Base58Btc.decode(b58).unwrap()
        } else {
            let x = vkp["publicKeyJwk"]["x"].as_str().unwrap();
            multibase::Base::Base64Url.decode(x).unwrap()
        };
        assert_eq!(raw, parsed.public_key().to_bytes(), "{did}");
        let doc = parsed.resolve();
        assert_eq!(doc["id"], did.as_str());
        assert_eq!(
            doc["verificationMethod"][0]["publicKeyMultibase"],
            parsed.public_key().to_multibase()
        );
    }
    // Every X25519 did:key is refused with a clear error.
    let x = json("did-key/x25519.json");
    let dids: Vec<&String> = x["didDocument"].as_object().unwrap().keys().collect();
    assert!(!dids.is_empty());
    for did in dids {
        let err = did.parse::<DidKey>().unwrap_err().to_string();
        assert!(err.contains("x25519-pub"), "{err}");
    }
}

#[test]
fn eddsa_jcs_2022_vector_byte_for_byte() {
    let dir = "vc-di-eddsa/eddsa-jcs-2022";
    let key = MultikeyFile::from_json(&read("vc-di-eddsa/keyPair.json"))
        .unwrap()
        .secret_key()
        .unwrap();
    let unsigned = json("vc-di-eddsa/unsigned.json");
    let proof_config = json(&format!("{dir}/proofConfigJCS.json"));

    // Every intermediate value of the spec's algorithm.
    let input = SigningInput::new(ProofConfig(&proof_config), &unsigned).unwrap();
    assert_eq!(
        String::from_utf8(input.canonical_proof_config.clone()).unwrap(),
        text(&format!("{dir}/proofCanonJCS.txt"))
    );
    assert_eq!(
        String::from_utf8(input.canonical_document.clone()).unwrap(),
        text(&format!("{dir}/canonDocJCS.txt"))
    );
    assert_eq!(
        hex::encode(&input.hash_data[..32]),
        text(&format!("{dir}/proofHashJCS.txt"))
    );
    assert_eq!(
        hex::encode(&input.hash_data[32..]),
        text(&format!("{dir}/docHashJCS.txt"))
    );
    assert_eq!(
        hex::encode(input.hash_data),
        text(&format!("{dir}/combinedHashJCS.txt"))
    );
    let signature = key.sign(&input.hash_data);
    assert_eq!(
        hex::encode(signature.to_bytes()),
        text(&format!("{dir}/sigHexJCS.txt"))
    );

    // The whole signing algorithm from the proof options alone.
    let options = ProofOptions::assertion(key.public_key())
        .created("2023-02-24T23:36:38Z".parse::<Timestamp>().unwrap());
    let signed = proof::sign(&unsigned, &options, &key).unwrap();
    let expected = json(&format!("{dir}/signedJCS.json"));
    assert_eq!(signed, expected);
    assert_eq!(
        text(&format!("{dir}/sigBTC58JCS.txt")),
        signed["proof"]["proofValue"].as_str().unwrap()
    );

    // And the vector verifies, over the same message.
    let info = proof::verify(&expected).unwrap();
    assert_eq!(info.signer.public_key(), key.public_key());
    assert_eq!(info.proof_purpose, "assertionMethod");
    let prepared = PreparedProof::from_document(&expected).unwrap();
    assert_eq!(
        hex::encode(prepared.message),
        text(&format!("{dir}/combinedHashJCS.txt"))
    );
}

#[test]
fn eddsa_jcs_2022_vector_rejects_every_tampering() {
    let signed = json("vc-di-eddsa/eddsa-jcs-2022/signedJCS.json");

    let mut t = signed.clone();
    t["credentialSubject"]["alumniOf"] = "Another School".into();
    assert!(matches!(
        proof::verify(&t),
        Err(ProofError::BadSignature { .. })
    ));

    let mut t = signed.clone();
    t["proof"]["created"] = "2023-02-24T23:36:39Z".into();
    assert!(matches!(
        proof::verify(&t),
        Err(ProofError::BadSignature { .. })
    ));

    let mut t = signed.clone();
    t["proof"]["@context"] = serde_json::json!(["https://www.w3.org/ns/credentials/examples/v2"]);
    assert!(matches!(
        proof::verify(&t),
        Err(ProofError::ContextMismatch)
    ));

    let mut t = signed.clone();
    t["proof"]["cryptosuite"] = "eddsa-rdfc-2022".into();
    assert!(matches!(
        proof::verify(&t),
        Err(ProofError::UnsupportedSuite { .. })
    ));

    let mut t = signed.clone();
    t["proof"]["proofValue"] = "z3FXQjecWufY46yg".into();
    assert!(matches!(
        proof::verify(&t),
        Err(ProofError::MalformedProofValue)
    ));

    let mut t = signed.clone();
    t["proof"] = serde_json::json!([t["proof"].clone(), t["proof"].clone()]);
    assert!(matches!(
        proof::verify(&t),
        Err(ProofError::ProofSet { count: 2 })
    ));

    // Non-canonical S (S + L) is malleable: kya's Ed25519 rule refuses it by its encoding
    // (the cofactored equation alone, which reduces S mod L, would hold).
    let mut t = signed;
    let pv = t["proof"]["proofValue"].as_str().unwrap().to_owned();
    let mut sig = multibase::decode(&pv).unwrap().1;
    add_group_order(&mut sig[32..]);
    t["proof"]["proofValue"] = multibase::encode(multibase::Base::Base58Btc, &sig).into();
    assert!(matches!(
        proof::verify(&t),
        Err(ProofError::RefusedSignature {
            reason: kya_core::SignatureError::NonCanonicalS,
            ..
        })
    ));
}

/// Adds the Ed25519 group order L to a little-endian scalar (the classic malleation).
fn add_group_order(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
}
