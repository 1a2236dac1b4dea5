//! kya's one Ed25519 acceptance rule, for every path that checks a signature.
//!
//! A signature `(R, S)` by the key `A` on the message `M` is accepted iff
//!
//! 1. `S` is canonical: `S < L` (L = 2^252 + 27742317777372353535851937790883648493);
//! 2. `A` and `R` are canonical encodings of curve points: `y < p` (p = 2^255 − 19), and
//!    the sign bit is clear when `x = 0`;
//! 3. neither `A` nor `R` is a small-order point (order 1, 2, 4 or 8);
//! 4. the **cofactored** equation holds (as ZIP-215 defines it):
//!    `[8]([S]B − R − [k]A) = identity`, with `k = SHA-512(R ‖ A ‖ M) mod L`.
//!
//! Points with a torsion component that are not small-order (mixed order) are accepted in
//! `A` and `R`: the cofactored equation ignores the torsion component, so a signer who adds
//! one gains nothing, and only the key holder can make a valid `S` for a new `R`.
//!
//! The batch check ([`verify_batch`]) tests the same equation for many signatures at once
//! with one multiscalar multiplication:
//! `[8](Σ zᵢSᵢ·B − Σ zᵢRᵢ − Σ zᵢkᵢAᵢ) = identity` for `z₁ = 1` and 128-bit weights `zᵢ`.
//! Every signature that passes the single check makes its term vanish, so a batch of valid
//! signatures always passes; a batch holding an invalid one passes with probability at most
//! 2^-127 (`batch_weights`, in the source, says why hash-derived weights are sound). Single
//! and batch checks therefore agree on every input, including mixed-order `R`. A failing
//! batch is re-checked one by one to name the culprit.
//!
//! Every key and every `R` is decompressed once: a [`PublicKey`] holds its decompressed
//! point from the moment it is parsed, and a [`PreparedSignature`] holds `R`'s.

use std::sync::LazyLock;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint, VartimeEdwardsPrecomputation};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity as _, VartimePrecomputedMultiscalarMul as _};
use ed25519_dalek::Signature;
use sha2::{Digest as _, Sha512};

use crate::key::PublicKey;

/// Why a signature (or the key it is checked against) is refused. The messages say which
/// check failed.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureError {
    /// `S ≥ L`: a malleated signature.
    #[error("non-canonical s (s ≥ l): a malleated signature")]
    NonCanonicalS,
    /// The `R` bytes are not a curve point.
    #[error("r is not a curve point")]
    RNotOnCurve,
    /// `R` is a curve point written in a non-canonical encoding.
    #[error("non-canonical encoding of r")]
    NonCanonicalR,
    /// `R` is a point of order 1, 2, 4 or 8.
    #[error("small-order r")]
    SmallOrderR,
    /// The public key bytes are not a curve point.
    #[error("the public key is not a curve point")]
    KeyNotOnCurve,
    /// The public key is a curve point written in a non-canonical encoding.
    #[error("non-canonical encoding of the public key")]
    NonCanonicalKey,
    /// The public key is a point of order 1, 2, 4 or 8.
    #[error("small-order public key")]
    SmallOrderKey,
    /// The encodings are fine but `[8]([S]B − R − [k]A)` is not the identity.
    #[error("the signature equation does not hold")]
    Equation,
}

/// Checks one signature under kya's rule (see the [module documentation](self)).
pub fn verify(
    key: &PublicKey,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    PreparedSignature::new(key, message, signature)?.verify()
}

/// Checks one signature given as raw bytes: the key's encoding is checked by the same rule
/// (the checks [`PublicKey::from_bytes`] makes), then [`verify`].
pub fn verify_bytes(
    key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    let key = decode_key(key)?;
    verify(&key, message, &Signature::from_bytes(signature))
}

/// Reads a public key under kya's rule: a canonical encoding of a curve point that is not
/// of small order.
pub fn decode_key(bytes: &[u8; 32]) -> Result<PublicKey, SignatureError> {
    if let Some(key) = recent_keys::get(bytes) {
        return Ok(key);
    }
    // One decompression: dalek's key holds the point it decompressed.
    let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map_err(|_| SignatureError::KeyNotOnCurve)?;
    if !is_canonical_encoding(bytes) {
        return Err(SignatureError::NonCanonicalKey);
    }
    if key.is_weak() {
        return Err(SignatureError::SmallOrderKey);
    }
    let key = PublicKey::from_checked(key);
    recent_keys::put(bytes, key);
    Ok(key)
}

/// The keys this thread decoded last, so that a key named several times (a chain names
/// each agent as one link's subject and the next link's issuer; a merchant sees the same
/// principals and agents again and again) is decompressed once. A small two-way
/// set-associative table of accepted keys only, keyed by all 32 bytes: a miss costs two
/// comparisons, and a collision only an extra decompression.
mod recent_keys {
    use std::cell::RefCell;

    use crate::key::PublicKey;

    /// Sets of two entries each (64 keys, about 12 KiB per thread).
    const SETS: usize = 32;

    thread_local! {
        static RECENT: RefCell<Vec<[Option<PublicKey>; 2]>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn set(bytes: &[u8; 32]) -> usize {
        usize::from(bytes[0] ^ bytes[11] ^ bytes[22]) % SETS
    }

    pub(super) fn get(bytes: &[u8; 32]) -> Option<PublicKey> {
        RECENT
            .try_with(|r| {
                let r = r.try_borrow().ok()?;
                r.get(set(bytes))?
                    .iter()
                    .flatten()
                    .find(|k| k.as_dalek().as_bytes() == bytes)
                    .copied()
            })
            .ok()
            .flatten()
    }

    pub(super) fn put(bytes: &[u8; 32], key: PublicKey) {
        let _ = RECENT.try_with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                if r.is_empty() {
                    r.resize(SETS, [None, None]);
                }
                if let Some(ways) = r.get_mut(set(bytes)) {
                    // The newest first; the older of the two goes.
                    ways[1] = ways[0].take();
                    ways[0] = Some(key);
                }
            }
        });
    }
}

/// A signature whose encodings passed kya's checks, with `R` decompressed and the challenge
/// `k = SHA-512(R ‖ A ‖ M) mod L` computed: ready for [`verify`](Self::verify) or
/// [`verify_batch`].
#[derive(Clone, Debug)]
pub struct PreparedSignature {
    key: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
    /// `R ‖ A ‖ S ‖ k`: what the batch weights are derived from.
    transcript: [u8; 128],
}

impl PreparedSignature {
    /// Checks the encodings of `S` and `R` (the key's were checked when it was parsed),
    /// decompresses `R` and hashes the message.
    pub fn new(
        key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> Result<Self, SignatureError> {
        let s: Option<Scalar> = Scalar::from_canonical_bytes(*signature.s_bytes()).into();
        let s = s.ok_or(SignatureError::NonCanonicalS)?;
        let r_bytes = signature.r_bytes();
        let r = CompressedEdwardsY(*r_bytes)
            .decompress()
            .ok_or(SignatureError::RNotOnCurve)?;
        if !is_canonical_encoding(r_bytes) {
            return Err(SignatureError::NonCanonicalR);
        }
        if is_small_order_encoding(r_bytes) {
            return Err(SignatureError::SmallOrderR);
        }
        let a_bytes = key.as_dalek().as_bytes();
        let mut h = Sha512::new();
        h.update(r_bytes);
        h.update(a_bytes);
        h.update(message);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let mut transcript = [0u8; 128];
        transcript[..32].copy_from_slice(r_bytes);
        transcript[32..64].copy_from_slice(a_bytes);
        transcript[64..96].copy_from_slice(signature.s_bytes());
        transcript[96..].copy_from_slice(k.as_bytes());
        Ok(Self {
            key: key.as_dalek().to_edwards(),
            r,
            s,
            k,
            transcript,
        })
    }

    /// The cofactored equation `[8]([S]B − R − [k]A) = identity`.
    pub fn verify(&self) -> Result<(), SignatureError> {
        // [S]B − [k]A with the precomputed basepoint table.
        let sb_minus_ka =
            EdwardsPoint::vartime_double_scalar_mul_basepoint(&-self.k, &self.key, &self.s);
        // An honest signature meets the cofactorless equation, which implies the cofactored
        // one: a comparison (four field multiplications) then spares the difference and its
        // three doublings. Otherwise the cofactored equation alone decides.
        if sb_minus_ka == self.r || (sb_minus_ka - self.r).mul_by_cofactor().is_identity() {
            Ok(())
        } else {
            Err(SignatureError::Equation)
        }
    }
}

/// Which signature of a batch failed, and why.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[error("signature {index} of the batch: {error}")]
pub struct BatchError {
    /// Its position in the batch.
    pub index: usize,
    /// Why it failed (always [`SignatureError::Equation`]: encodings are checked by
    /// [`PreparedSignature::new`]).
    pub error: SignatureError,
}

/// Checks every prepared signature with one multiscalar multiplication. Accepts iff each
/// would pass [`PreparedSignature::verify`] (up to a 2^-127 chance for a batch holding an
/// invalid signature). On failure, the signatures are checked one by one and the first
/// that fails is named.
pub fn verify_batch(items: &[PreparedSignature]) -> Result<(), BatchError> {
    let single = |(index, item): (usize, &PreparedSignature)| {
        item.verify().map_err(|error| BatchError { index, error })
    };
    if items.len() <= 1 {
        return items.iter().enumerate().try_for_each(single);
    }
    if batch_equation_holds(items) {
        return Ok(());
    }
    // Some term is non-zero, so some single check fails: name the first. (Were every single
    // check to pass, every term would be zero and the equation would have held; the single
    // verdicts are the rule either way.)
    items.iter().enumerate().try_for_each(single)
}

/// The batch equation alone, without the fallback to single checks:
/// `[8](Σ zᵢSᵢ·B − Σ zᵢRᵢ − Σ zᵢkᵢAᵢ) = identity` with `z₁ = 1`, one multiscalar
/// multiplication of 2n points, then `R₁` subtracted. Public so that tests can hold the fast
/// path itself to the rule (the fallback would otherwise hide a batch equation that refuses
/// valid signatures).
#[doc(hidden)]
pub fn batch_equation_holds(items: &[PreparedSignature]) -> bool {
    let Some((first, rest)) = items.split_first() else {
        return true;
    };
    let z = batch_weights(items);
    let mut b_coefficient = first.s;
    let mut scalars = Vec::with_capacity(2 * items.len() - 1);
    let mut points = Vec::with_capacity(2 * items.len() - 1);
    scalars.push(first.k);
    points.push(-first.key);
    for (item, zi) in rest.iter().zip(&z) {
        b_coefficient += zi * item.s;
        // zᵢ·(−Rᵢ) rather than (−zᵢ)·Rᵢ: the weight stays 128 bits wide (−zᵢ mod L would be
        // 253), which halves the additions the multiscalar multiplication spends on Rᵢ.
        scalars.push(*zi);
        points.push(-item.r);
        scalars.push(zi * item.k);
        points.push(-item.key);
    }
    // R₁ has weight 1: one addition here instead of a table and a column of additions
    // inside the multiplication.
    (basepoint_table().vartime_mixed_multiscalar_mul([b_coefficient], &scalars, &points) - first.r)
        .mul_by_cofactor()
        .is_identity()
}

/// B with a precomputed wide table, built once per process: the batch's B term then costs
/// fewer additions and no table of its own.
fn basepoint_table() -> &'static VartimeEdwardsPrecomputation {
    static TABLE: LazyLock<VartimeEdwardsPrecomputation> = LazyLock::new(|| {
        VartimeEdwardsPrecomputation::new([curve25519_dalek::constants::ED25519_BASEPOINT_POINT])
    });
    &TABLE
}

/// The weights z₂ … zₙ (z₁ is 1): 128-bit scalars derived from SHA-512 of every input of
/// the batch (each signature's `R`, `A`, `S` and `k`, which binds the message).
///
/// Why deterministic weights are sound here: after the cofactor multiplication, each term
/// `[8](SᵢB − Rᵢ − kᵢAᵢ)` lies in the prime-order subgroup, so it is `eᵢ·B` for some
/// `eᵢ mod L`, fixed by the inputs; the batch passes iff `Σ zᵢeᵢ ≡ 0 (mod L)`. If only
/// `e₁` is non-zero, the sum is `e₁`: refused. Otherwise some `eⱼ ≠ 0` with `j ≥ 2`, and with
/// the weights a hash of those same inputs, the batch passes only if the hash output lands
/// in a set of density ≤ 2^-127 (one bit of each weight is fixed to make it non-zero): a
/// signer's only strategy is to try fresh inputs, each at that odds. (A weight fixed by one
/// signature alone would not do: a signer choosing the other signature's `R` after it could
/// cancel a forged term.)
/// Cofactorless batch equations are different: a torsion component in `R` contributes
/// `zᵢ·T`, which vanishes whenever `8 | zᵢ` (or `2 | zᵢ` for order 2), whatever the width
/// of `zᵢ` — which is why they accept such signatures a fixed fraction of the time, and why
/// this equation multiplies by the cofactor.
///
/// Deterministic weights also make a verdict reproducible (an auditor re-running a
/// verification gets the same answer) and need no random source (edge workers, WASM).
fn batch_weights(items: &[PreparedSignature]) -> Vec<Scalar> {
    let mut h = Sha512::new();
    h.update(b"kya ed25519 batch weights v1");
    h.update((items.len() as u64).to_le_bytes());
    for item in items {
        h.update(item.transcript);
    }
    let seed = h.finalize();
    let wanted = items.len().saturating_sub(1);
    let mut weights = Vec::with_capacity(wanted);
    // The seed itself gives the first four weights (a batch of up to five needs no further
    // hash); block b ≥ 1 is SHA-512(seed ‖ b).
    let mut out = seed;
    let mut block = 0u64;
    loop {
        for chunk in out.chunks_exact(16) {
            if weights.len() == wanted {
                return weights;
            }
            let mut bytes = [0u8; 32];
            bytes[..16].copy_from_slice(chunk);
            bytes[0] |= 1;
            weights.push(Scalar::from_bytes_mod_order(bytes));
        }
        block += 1;
        out = Sha512::new()
            .chain_update(seed)
            .chain_update(block.to_le_bytes())
            .finalize();
    }
}

/// Whether canonical point bytes encode a point of order 1, 2, 4 or 8: one of the eight
/// encodings below (each small-order point has exactly one canonical encoding), compared
/// instead of three doublings of the decompressed point. Only meaningful for bytes that
/// passed [`is_canonical_encoding`].
fn is_small_order_encoding(bytes: &[u8; 32]) -> bool {
    SMALL_ORDER_ENCODINGS.iter().any(|e| e == bytes)
}

/// The canonical encodings of the eight points of order dividing 8 ("Taming the many
/// EdDSAs", table 6; checked against `is_small_order` by a test).
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 8] = [
    // The identity (order 1).
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    // Order 2: (0, −1).
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    // Order 4: (±√−1, 0).
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0000000000000000000000000000000000000000000000000000000000000080"),
    // Order 8.
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
];

/// Lowercase hex to bytes, at compile time (a typo shows in the table's test).
const fn hex32(text: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        if c >= b'a' {
            c - b'a' + 10
        } else {
            c.wrapping_sub(b'0')
        }
    }
    let text = text.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

/// Whether the bytes of a point that decompressed are the point's canonical encoding (what
/// `point.compress() == bytes` says, without the field inversion `compress` costs): `y` is
/// below p = 2^255 − 19, and the sign bit is clear when `x` is 0 (`y` = 1 or p − 1, the two
/// points with `x` = 0; for any other point decompression gives `x` the sign bit's parity).
pub fn is_canonical_encoding(bytes: &[u8; 32]) -> bool {
    const ONE: [u8; 32] = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };
    const P_MINUS_ONE: [u8; 32] = {
        let mut b = [0xffu8; 32];
        b[0] = 0xec;
        b[31] = 0x7f;
        b
    };
    let mut y = *bytes;
    let sign = y[31] >> 7;
    y[31] &= 0x7f;
    let y_at_least_p = y[0] >= 0xed && y[1..31].iter().all(|b| *b == 0xff) && y[31] == 0x7f;
    if y_at_least_p {
        return false;
    }
    !(sign == 1 && (y == ONE || y == P_MINUS_ONE))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn canonical_encoding_check_agrees_with_compress() {
        let mut candidates: Vec<[u8; 32]> = Vec::new();
        // Every y from p − 1 to 2^255 − 1 and small y (including 0, 1, 2^255 − 19 + 1 …).
        for low in 0..=255u8 {
            let mut high = [0xffu8; 32];
            high[0] = low;
            high[31] = 0x7f;
            candidates.push(high);
            let mut small = [0u8; 32];
            small[0] = low;
            candidates.push(small);
        }
        for i in 0..4000u32 {
            candidates.push(Sha512::digest(i.to_le_bytes())[..32].try_into().unwrap());
        }
        let mut decompressed = 0;
        for bytes in candidates {
            for sign in [0u8, 0x80] {
                let mut b = bytes;
                b[31] = (b[31] & 0x7f) | sign;
                let r = CompressedEdwardsY(b);
                if let Some(point) = r.decompress() {
                    decompressed += 1;
                    assert_eq!(
                        point.compress() == r,
                        is_canonical_encoding(&b),
                        "{}",
                        hex::encode(b)
                    );
                }
            }
        }
        assert!(decompressed > 3000, "{decompressed}");
    }

    #[test]
    fn small_order_encodings_are_exactly_the_small_order_points() {
        // Every encoding in the table decompresses, canonically, to a small-order point, and
        // the eight are distinct.
        for (i, e) in SMALL_ORDER_ENCODINGS.iter().enumerate() {
            let point = CompressedEdwardsY(*e).decompress().unwrap();
            assert!(point.is_small_order(), "{i}");
            assert!(is_canonical_encoding(e), "{i}");
            assert!(!SMALL_ORDER_ENCODINGS[i + 1..].contains(e), "{i}");
        }
        // The torsion subgroup has eight points: the table holds every one, and no other
        // canonical point (mixed-order ones included) is taken for small-order.
        let torsion = curve25519_dalek::constants::EIGHT_TORSION;
        for t in torsion {
            assert!(is_small_order_encoding(t.compress().as_bytes()));
        }
        let b = curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
        for i in 1..200u64 {
            let p = b * Scalar::from(i);
            for q in [p, p + torsion[(i % 8) as usize]] {
                assert_eq!(
                    is_small_order_encoding(q.compress().as_bytes()),
                    q.is_small_order()
                );
            }
        }
    }

    #[test]
    fn recent_keys_never_return_another_key() {
        // Three keys in the same set (one more than it holds), decoded in turn: each comes
        // back as itself.
        let keys: Vec<[u8; 32]> = (0..=255u8)
            .map(|i| {
                crate::SecretKey::from_seed(&[i; 32])
                    .public_key()
                    .to_bytes()
            })
            .collect();
        let a = keys[0];
        let same: Vec<[u8; 32]> = keys[1..]
            .iter()
            .filter(|k| recent_keys::set(k) == recent_keys::set(&a))
            .copied()
            .take(2)
            .collect();
        assert_eq!(same.len(), 2);
        for _ in 0..3 {
            for k in [a, same[0], same[1]] {
                assert_eq!(decode_key(&k).unwrap().to_bytes(), k);
                assert_eq!(
                    decode_key(&k).unwrap().as_dalek().to_edwards(),
                    CompressedEdwardsY(k).decompress().unwrap()
                );
            }
        }
        // Refused keys are never remembered as accepted.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        for _ in 0..2 {
            assert_eq!(decode_key(&weak), Err(SignatureError::SmallOrderKey));
        }
    }

    #[test]
    fn weights_are_non_zero_128_bit_and_depend_on_every_input() {
        let key = crate::SecretKey::from_seed(&[3; 32]);
        let items: Vec<_> = (0..9u8)
            .map(|i| {
                let m = [i; 5];
                PreparedSignature::new(&key.public_key(), &m, &key.sign(&m)).unwrap()
            })
            .collect();
        // Nine signatures: weights for the last eight (the first weighs 1), four from the
        // seed and four from one further block.
        let z = batch_weights(&items);
        assert_eq!(z.len(), 8);
        for w in &z {
            assert_ne!(*w, Scalar::ZERO);
            assert!(w.as_bytes()[16..].iter().all(|b| *b == 0));
        }
        let mut other = items.clone();
        other[8] = items[0].clone();
        let changed = batch_weights(&other);
        assert_ne!(changed[0], z[0]);
        assert_ne!(changed[7], z[7]);
    }
}
