//! A signer that knows its secret scalar and builds Ed25519 edge cases on purpose: torsion
//! in `R` (mixed order) or in the key, small-order or non-canonical `R`, `S + L`, a wrong
//! `S`. Signs through the standard `Signer` trait, so every kya API that signs (proofs,
//! credentials, presentations, HTTP requests) can be fed these signatures.
//!
//! Shared by the kya-core and kya-verify tests and the `ed25519_paths` fuzz target.
#![allow(dead_code, unreachable_pub, missing_docs)]

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, SignatureError as SigningError, Signer};
use kya_core::{Ed25519Signer, PublicKey, SignatureError};
use sha2::{Digest as _, Sha512};

/// The group order L, little-endian.
pub const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// What the signer does to its signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// `R = rB + T` for the 8-torsion point `T = EIGHT_TORSION[t]` (t = 0: an honest
    /// signature), `S` computed for that `R`: valid under the cofactored rule.
    MixedR(usize),
    /// `S + L` on an otherwise valid signature (the equation still holds mod L).
    SPlusL,
    /// `R = EIGHT_TORSION[t]` (t = 0 is the identity), `S = k·a`: the cofactored equation
    /// holds, only the small-order check refuses it.
    SmallR(usize),
    /// `R` = the identity written non-canonically (y = p + 1), `S = k·a`.
    NonCanonicalR,
    /// A valid signature with `S + 1`: the equation fails.
    WrongS,
}

impl Edge {
    /// Every edge kind, with torsion index `t` (0..8).
    pub fn all(t: usize) -> [Edge; 5] {
        [
            Edge::MixedR(t),
            Edge::SPlusL,
            Edge::SmallR(t),
            Edge::NonCanonicalR,
            Edge::WrongS,
        ]
    }

    /// kya's verdict on a signature so made (the key is always acceptable: see
    /// [`EdgeSigner::new`]).
    pub fn verdict(self) -> Result<(), SignatureError> {
        match self {
            Edge::MixedR(_) => Ok(()),
            Edge::SPlusL => Err(SignatureError::NonCanonicalS),
            Edge::SmallR(_) => Err(SignatureError::SmallOrderR),
            Edge::NonCanonicalR => Err(SignatureError::NonCanonicalR),
            Edge::WrongS => Err(SignatureError::Equation),
        }
    }
}

/// A signing key `a`, its public key `A = aB + T_A` (torsion component `T_A` =
/// `EIGHT_TORSION[key_torsion]`, mixed order when non-zero: still acceptable to kya), and the
/// edge it puts in every signature.
pub struct EdgeSigner {
    a: Scalar,
    public: PublicKey,
    nonce_seed: [u8; 32],
    pub edge: Edge,
}

impl EdgeSigner {
    pub fn new(seed: [u8; 32], key_torsion: usize, edge: Edge) -> Self {
        let a = Scalar::from_bytes_mod_order_wide(&Sha512::digest(seed).into());
        let point = EdwardsPoint::mul_base(&a) + EIGHT_TORSION[key_torsion % 8];
        let public = PublicKey::from_bytes(&point.compress().to_bytes())
            .expect("aB + T is never small-order");
        Self {
            a,
            public,
            nonce_seed: seed,
            edge,
        }
    }

    /// The same key signing honestly (a mixed-order `R`, which kya's rule accepts).
    pub fn honest(&self) -> Self {
        Self {
            a: self.a,
            public: self.public,
            nonce_seed: self.nonce_seed,
            edge: Edge::MixedR(0),
        }
    }

    /// The signature of `message` (deterministic).
    pub fn sign_edge(&self, message: &[u8]) -> [u8; 64] {
        let r = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(self.nonce_seed)
                .chain_update(b"nonce")
                .chain_update(message)
                .finalize()
                .into(),
        );
        let (r_bytes, nonce) = match self.edge {
            Edge::MixedR(t) => (
                (EdwardsPoint::mul_base(&r) + EIGHT_TORSION[t % 8])
                    .compress()
                    .to_bytes(),
                r,
            ),
            Edge::SPlusL | Edge::WrongS => (EdwardsPoint::mul_base(&r).compress().to_bytes(), r),
            Edge::SmallR(t) => (EIGHT_TORSION[t % 8].compress().to_bytes(), Scalar::ZERO),
            Edge::NonCanonicalR => {
                // y = p + 1 = 2^255 − 18: the identity (0, 1), written with y ≥ p.
                let mut b = [0xffu8; 32];
                b[0] = 0xee;
                b[31] = 0x7f;
                (b, Scalar::ZERO)
            }
        };
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(r_bytes)
                .chain_update(self.public.to_bytes())
                .chain_update(message)
                .finalize()
                .into(),
        );
        let s = nonce + k * self.a;
        let s_bytes = match self.edge {
            Edge::SPlusL => add_l(s.as_bytes()),
            Edge::WrongS => (s + Scalar::ONE).to_bytes(),
            _ => s.to_bytes(),
        };
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_bytes);
        sig[32..].copy_from_slice(&s_bytes);
        sig
    }
}

impl Signer<Signature> for EdgeSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Signature, SigningError> {
        Ok(Signature::from_bytes(&self.sign_edge(message)))
    }
}

impl Ed25519Signer for EdgeSigner {
    fn public_key(&self) -> PublicKey {
        self.public
    }
}

/// `s + L` (no reduction): a non-canonical encoding of the same scalar.
pub fn add_l(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(L[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// The B point, for tests that want it.
pub fn basepoint() -> EdwardsPoint {
    ED25519_BASEPOINT_POINT
}

impl EdgeSigner {
    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The public key's bytes.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.public.to_bytes()
    }
}
