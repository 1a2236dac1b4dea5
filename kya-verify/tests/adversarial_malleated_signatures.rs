//! Malleated signatures: S + L, small-order R, non-canonical R, flipped bits, a torsion
//! component added to R. Each gets kya's one Ed25519 verdict (`kya_core::ed25519`) from the
//! chain's batch, naming the link, and the single proof check agrees (batch and single never
//! disagree on crafted input). Every path is covered in `ed25519_paths.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;
use serde_json::Value;

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn signature(doc: &Value) -> [u8; 64] {
    let pv = doc["proof"]["proofValue"].as_str().unwrap();
    let (_, bytes) = multibase::decode(pv).unwrap();
    bytes.try_into().unwrap()
}

fn with_signature(mut doc: Value, sig: [u8; 64]) -> Value {
    doc["proof"]["proofValue"] = multibase::encode(multibase::Base::Base58Btc, sig).into();
    doc
}

fn single_accepts(doc: &Value) -> bool {
    kya_core::proof::verify(doc).is_ok()
}

fn add_l(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(L[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// Tampers with the signature of the leaf of a chain of `link + 1` links.
fn tamper_link(link: usize, f: impl Fn([u8; 64]) -> [u8; 64]) -> (Vec<Value>, Value) {
    let mut d = docs(&chain(link + 1));
    let sig = f(signature(&d[link]));
    d[link] = with_signature(d[link].clone(), sig);
    let tampered = d[link].clone();
    (d, tampered)
}

#[test]
fn s_plus_l_is_refused_on_every_link() {
    for link in 0..3 {
        let (d, tampered) = tamper_link(link, |mut sig| {
            let s = add_l(&sig[32..]);
            sig[32..].copy_from_slice(&s);
            sig
        });
        assert!(!single_accepts(&tampered));
        let e = assert_err(
            verify_chain(&bytes(&d), &policy(), &clock(), None),
            "bad_signature",
            Some(link),
        );
        assert!(e.to_string().contains("non-canonical s"), "{e}");
    }
}

#[test]
fn small_order_r_is_refused() {
    // The identity point (0, 1) and the order-2 point (0, -1).
    let identity = {
        let mut r = [0u8; 32];
        r[0] = 1;
        r
    };
    let minus_one = {
        let mut r = [0xffu8; 32];
        r[0] = 0xec;
        r[31] = 0x7f;
        r
    };
    for r in [identity, minus_one] {
        let (d, tampered) = tamper_link(1, |mut sig| {
            sig[..32].copy_from_slice(&r);
            sig
        });
        assert!(!single_accepts(&tampered));
        let e = assert_err(
            verify_chain(&bytes(&d), &policy(), &clock(), None),
            "bad_signature",
            Some(1),
        );
        assert!(e.to_string().contains("small-order r"), "{e}");
    }
}

#[test]
fn small_order_r_with_zero_s_is_refused() {
    // R = identity, S = 0: the classic "signature" that cofactored or careless checks accept
    // for weak keys. Keys are never weak here, but the encoding is refused first anyway.
    let (d, tampered) = tamper_link(2, |_| {
        let mut sig = [0u8; 64];
        sig[0] = 1;
        sig
    });
    assert!(!single_accepts(&tampered));
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "bad_signature",
        Some(2),
    );
}

#[test]
fn non_canonical_r_is_refused() {
    // y = p + 1 encodes the identity non-canonically.
    let mut r = [0xffu8; 32];
    r[0] = 0xee;
    r[31] = 0x7f;
    let (d, tampered) = tamper_link(0, |mut sig| {
        sig[..32].copy_from_slice(&r);
        sig
    });
    assert!(!single_accepts(&tampered));
    let e = assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "bad_signature",
        Some(0),
    );
    assert!(e.to_string().contains("non-canonical encoding of r"), "{e}");
}

#[test]
fn flipped_bits_are_named_by_the_fallback() {
    for link in 0..3 {
        for byte in [0usize, 17, 40, 63] {
            let (d, _) = tamper_link(link, |mut sig| {
                sig[byte] ^= 0x01;
                sig
            });
            let e = verify_chain(&bytes(&d), &policy(), &clock(), None).unwrap_err();
            assert_eq!(e.code(), "bad_signature", "{e}");
            assert_eq!(e.link(), Some(link), "{e}");
        }
    }
}

#[test]
fn malleating_an_inner_link_breaks_the_digest_chain_first() {
    // Digests cover the proof, so a malleated parent no longer matches its child's
    // `parentCredential.digestMultibase`: the malleation is caught without signature work.
    let mut d = docs(&chain(3));
    let mut sig = signature(&d[1]);
    let s = add_l(&sig[32..]);
    sig[32..].copy_from_slice(&s);
    d[1] = with_signature(d[1].clone(), sig);
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "parent_digest_mismatch",
        Some(2),
    );
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let mut d = docs(&chain(2));
    // The outsider signs, but names the real issuer's verification method.
    d[1] = resign_raw(d[1].clone(), &key(9), Some(&agent(0)), t0());
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "bad_signature",
        Some(1),
    );
}

#[test]
fn a_proof_by_a_key_that_is_not_the_issuer_is_refused() {
    let mut d = docs(&chain(2));
    d[1] = resign_raw(d[1].clone(), &key(9), None, t0());
    let e = assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "bad_signature",
        Some(1),
    );
    assert!(e.to_string().contains("not the issuer"), "{e}");
}

#[test]
fn a_torsion_component_added_to_r_by_a_third_party_is_refused_on_every_link() {
    // Without the key, adding a torsion point T to R changes k = H(R + T ‖ A ‖ M), so the old
    // S no longer satisfies even the cofactored equation: refused by the single check and by
    // the batch, wherever the link sits. (A mixed-order R with S recomputed by the key holder
    // is accepted on every path: see ed25519_paths.rs and kya-core's ed25519_rule.rs.)
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    for link in 0..3 {
        for torsion in EIGHT_TORSION.iter().skip(1) {
            let (d, tampered) = tamper_link(link, |mut sig| {
                let r = CompressedEdwardsY(sig[..32].try_into().unwrap())
                    .decompress()
                    .unwrap();
                sig[..32].copy_from_slice((r + torsion).compress().as_bytes());
                sig
            });
            assert!(!single_accepts(&tampered));
            assert_err(
                verify_chain(&bytes(&d), &policy(), &clock(), None),
                "bad_signature",
                Some(link),
            );
        }
    }
}
