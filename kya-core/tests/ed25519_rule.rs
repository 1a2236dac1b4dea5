//! kya's one Ed25519 acceptance rule, on every kya-core path: the published edge cases of
//! "Taming the many EdDSAs" (test-vectors/ed25519-speccheck/) with kya's verdicts, and
//! signatures with torsion built on purpose. Single checks, prepared checks, batches (at every
//! position), the key parser and Data Integrity proofs must all reach the same verdict.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/edge.rs"]
mod edge;

use edge::{Edge, EdgeSigner};
use kya_core::ed25519::{self, BatchError, PreparedSignature};
use kya_core::proof::{self, ProofError, ProofOptions};
use kya_core::{PublicKey, SecretKey, SignatureError};
use proptest::prelude::*;
use serde_json::{Value, json};

struct Case {
    index: usize,
    message: Vec<u8>,
    key: [u8; 32],
    signature: [u8; 64],
    verdict: Result<(), String>,
}

fn hex32<const N: usize>(v: &Value) -> [u8; N] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn speccheck() -> Vec<Case> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/ed25519-speccheck/"
    );
    let cases: Vec<Value> =
        serde_json::from_slice(&std::fs::read(format!("{dir}cases.json")).unwrap()).unwrap();
    let verdicts: Vec<Value> =
        serde_json::from_slice(&std::fs::read(format!("{dir}kya-verdicts.json")).unwrap()).unwrap();
    assert_eq!(cases.len(), 12);
    assert_eq!(verdicts.len(), cases.len());
    cases
        .iter()
        .zip(&verdicts)
        .enumerate()
        .map(|(index, (c, v))| {
            assert_eq!(v["case"], index);
            Case {
                index,
                message: hex::decode(c["message"].as_str().unwrap()).unwrap(),
                key: hex32(&c["pub_key"]),
                signature: hex32(&c["signature"]),
                verdict: if v["valid"].as_bool().unwrap() {
                    Ok(())
                } else {
                    Err(v["reason"].as_str().unwrap().to_owned())
                },
            }
        })
        .collect()
}

/// Valid signatures by ordinary keys, to surround a case in a batch.
fn honest(n: usize) -> Vec<PreparedSignature> {
    static HONEST: std::sync::OnceLock<Vec<PreparedSignature>> = std::sync::OnceLock::new();
    let all = HONEST.get_or_init(|| {
        (0..8)
            .map(|i| {
                let k = SecretKey::from_seed(&[i as u8 + 40; 32]);
                let m = format!("honest message {i}");
                PreparedSignature::new(&k.public_key(), m.as_bytes(), &k.sign(m.as_bytes()))
                    .unwrap()
            })
            .collect()
    });
    all[..n].to_vec()
}

/// The verdict of a batch of `size` holding `item` at `position` among valid signatures,
/// as a single-signature verdict (checking that a failure names `position`).
fn batch_verdict(
    item: &PreparedSignature,
    size: usize,
    position: usize,
) -> Result<(), SignatureError> {
    let mut items = honest(size - 1);
    items.insert(position, item.clone());
    // The batch equation itself (not only the fallback to single checks) follows the rule.
    assert_eq!(
        ed25519::batch_equation_holds(&items),
        item.verify().is_ok(),
        "the batch equation and the single check disagree at {position} of {size}"
    );
    match ed25519::verify_batch(&items) {
        Ok(()) => Ok(()),
        Err(BatchError { index, error }) => {
            assert_eq!(index, position, "the batch names the wrong signature");
            Err(error)
        }
    }
}

/// Every kya-core path's verdict on (key bytes, message, signature).
fn every_path(
    key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Vec<(String, Result<(), SignatureError>)> {
    let sig = ed25519_dalek::Signature::from_bytes(signature);
    let mut verdicts = vec![(
        "verify_bytes".to_owned(),
        ed25519::verify_bytes(key, message, signature),
    )];
    let key = match ed25519::decode_key(key) {
        Ok(k) => k,
        Err(e) => {
            // The key parser refuses the same keys, for the same reasons.
            assert!(PublicKey::from_bytes(key).is_err());
            verdicts.push(("decode_key".to_owned(), Err(e)));
            return verdicts;
        }
    };
    assert_eq!(PublicKey::from_bytes(&key.to_bytes()), Ok(key));
    verdicts.push(("PublicKey::verify".to_owned(), key.verify(message, &sig)));
    verdicts.push((
        "ed25519::verify".to_owned(),
        ed25519::verify(&key, message, &sig),
    ));
    match PreparedSignature::new(&key, message, &sig) {
        Err(e) => verdicts.push(("PreparedSignature::new".to_owned(), Err(e))),
        Ok(item) => {
            verdicts.push(("PreparedSignature::verify".to_owned(), item.verify()));
            verdicts.push((
                "verify_batch (alone)".to_owned(),
                ed25519::verify_batch(std::slice::from_ref(&item)).map_err(|e| e.error),
            ));
            for size in 2..=4 {
                for position in 0..size {
                    verdicts.push((
                        format!("verify_batch (size {size}, position {position})"),
                        batch_verdict(&item, size, position),
                    ));
                }
            }
        }
    }
    verdicts
}

#[test]
fn speccheck_cases_get_kyas_verdict_on_every_path() {
    let mut accepted = Vec::new();
    for case in speccheck() {
        for (path, got) in every_path(&case.key, &case.message, &case.signature) {
            assert_eq!(
                got.map_err(|e| e.to_string()),
                case.verdict,
                "case {} on {path}",
                case.index
            );
        }
        if case.verdict.is_ok() {
            accepted.push(case.index);
        }
    }
    // Mixed-order A and R pass; case 4 is the one only a cofactored equation accepts, and
    // case 5 the one that fails when 8·k is reduced mod L before multiplying A.
    assert_eq!(accepted, [3, 4, 5]);
}

#[test]
fn speccheck_cases_split_strict_and_cofactored_where_the_paper_says() {
    // The vectors exercise what they claim: dalek's cofactorless `verify_strict` refuses
    // cases 4 and 5, which kya's cofactored rule accepts (so a cofactorless batch would
    // disagree with kya's single check on them).
    for case in speccheck() {
        let strict = ed25519_dalek::VerifyingKey::from_bytes(&case.key)
            .and_then(|k| {
                k.verify_strict(
                    &case.message,
                    &ed25519_dalek::Signature::from_bytes(&case.signature),
                )
            })
            .is_ok();
        assert_eq!(strict, case.index == 3, "case {}", case.index);
    }
}

#[test]
fn edge_signatures_get_the_same_verdict_on_every_path() {
    for t in 0..8 {
        for key_torsion in [0, 3] {
            for e in Edge::all(t) {
                let signer = EdgeSigner::new([t as u8 + 1; 32], key_torsion, e);
                let message = b"kya edge case";
                let sig = signer.sign_edge(message);
                let key = signer.public_key_bytes();
                for (path, got) in every_path(&key, message, &sig) {
                    assert_eq!(
                        got,
                        e.verdict(),
                        "{e:?}, key torsion {key_torsion}, on {path}"
                    );
                }
            }
        }
    }
}

fn proof_verdict(signer: &EdgeSigner) -> Result<(), ProofError> {
    let doc = json!({"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"], "n": 1});
    let options = ProofOptions::assertion(signer.public());
    let signed = proof::sign(&doc, &options, signer).unwrap();
    proof::verify(&signed).map(|_| ())
}

#[test]
fn data_integrity_proofs_follow_the_rule() {
    for t in [0, 1, 4, 7] {
        for e in Edge::all(t) {
            let signer = EdgeSigner::new([9; 32], 5, e);
            match (proof_verdict(&signer), e.verdict()) {
                (Ok(()), Ok(())) => {}
                (Err(ProofError::BadSignature { .. }), Err(SignatureError::Equation)) => {}
                (Err(ProofError::RefusedSignature { reason, .. }), Err(expected)) => {
                    assert_eq!(reason, expected, "{e:?}");
                }
                (got, expected) => panic!("{e:?}: proof path {got:?}, rule {expected:?}"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A mixed-order R (R' = rB + T, S recomputed with k' = H(R' ‖ A ‖ M)) made with a known
    /// secret: single and batch agree at every position, and so do a wrong S and a
    /// torsion-carrying key. (A cofactorless batch accepted such an R about half the time
    /// while the single check refused it.)
    #[test]
    fn mixed_order_r_single_and_batch_agree_at_every_position(
        seed in any::<[u8; 32]>(),
        t in 0usize..8,
        key_torsion in 0usize..8,
        wrong_s in any::<bool>(),
        message in proptest::collection::vec(any::<u8>(), 0..80),
        size in 2usize..6,
    ) {
        let edge = if wrong_s { Edge::WrongS } else { Edge::MixedR(t) };
        let signer = EdgeSigner::new(seed, key_torsion, edge);
        let sig = ed25519_dalek::Signature::from_bytes(&signer.sign_edge(&message));
        let key = signer.public();
        let single = ed25519::verify(&key, &message, &sig);
        prop_assert_eq!(single, edge.verdict());
        let item = PreparedSignature::new(&key, &message, &sig).unwrap();
        for position in 0..size {
            prop_assert_eq!(batch_verdict(&item, size, position), single);
        }
        // Two such signatures in one batch, beside each other.
        let mut items = honest(size);
        items.insert(0, item.clone());
        items.push(item);
        prop_assert_eq!(ed25519::batch_equation_holds(&items), single.is_ok());
        let both = ed25519::verify_batch(&items).map_err(|e| (e.index, e.error));
        prop_assert_eq!(both, single.map_err(|e| (0, e)));
    }
}
