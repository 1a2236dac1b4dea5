//! Ed25519 keys and their Multikey encodings.
//!
//! A public key is written `z6Mk…`: multibase base58btc of the multicodec `ed25519-pub`
//! (`0xed 0x01`) followed by the 32 key bytes. A secret key is `z3u2…`: the multicodec
//! `ed25519-priv` (`0x80 0x26`) followed by the 32-byte seed (RFC 8032).

use std::fmt;

use ed25519_dalek::{Signature, Signer as _};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::ed25519::SignatureError;

/// Multicodec prefix of an Ed25519 public key (`ed25519-pub`, varint of 0xed).
pub const ED25519_PUB_PREFIX: [u8; 2] = [0xed, 0x01];
/// Multicodec prefix of an Ed25519 secret key seed (`ed25519-priv`, varint of 0x1300).
pub const ED25519_PRIV_PREFIX: [u8; 2] = [0x80, 0x26];

/// Why a key could not be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The string is not multibase, or not base58btc (`z…`).
    #[error("`{value}` is not a base58btc multibase string (it must start with `z`)")]
    NotBase58Btc {
        /// What was given (public values only).
        value: String,
    },
    /// The multicodec prefix names a different kind of key.
    #[error("multicodec prefix 0x{prefix} is not {expected}")]
    WrongMulticodec {
        /// The prefix found, in hex.
        prefix: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The key has the wrong number of bytes.
    #[error("{what} must be 32 bytes after the multicodec prefix, found {len}")]
    WrongLength {
        /// Which key.
        what: &'static str,
        /// Bytes found.
        len: usize,
    },
    /// The bytes are not a valid Ed25519 public key, or a weak (small-order) one.
    #[error("not a usable ed25519 public key: {reason}")]
    InvalidPublicKey {
        /// Why.
        reason: &'static str,
    },
    /// The key file does not hold a Multikey.
    #[error("invalid multikey json: {0}")]
    InvalidKeyFile(String),
    /// The secret does not belong to the public key stored beside it.
    #[error("the secret key does not match publicKeyMultibase {public}")]
    Mismatch {
        /// The stored public key.
        public: String,
    },
}

/// An Ed25519 public key that is a valid, non-weak curve point.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Reads 32 raw bytes, refusing what kya's Ed25519 rule refuses in a key (see
    /// [`crate::ed25519`]): bytes that are not a curve point, a non-canonical encoding of a
    /// point, and small-order (weak) points. The point is decompressed here, once, and kept.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        crate::ed25519::decode_key(bytes).map_err(|e| KeyError::InvalidPublicKey {
            reason: match e {
                SignatureError::NonCanonicalKey => "non-canonical encoding",
                SignatureError::SmallOrderKey => "small-order point",
                _ => "not a point on the curve",
            },
        })
    }

    /// Wraps a dalek key that passed [`crate::ed25519::decode_key`]'s checks.
    pub(crate) fn from_checked(key: ed25519_dalek::VerifyingKey) -> Self {
        Self(key)
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The dalek verifying key.
    pub fn as_dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }

    /// Reads a `z6Mk…` Multikey `publicKeyMultibase`.
    pub fn from_multibase(s: &str) -> Result<Self, KeyError> {
        Self::from_multicodec_bytes(&decode_base58btc(s, || s.to_owned())?)
    }

    /// Reads the decoded bytes of a Multikey: the `ed25519-pub` multicodec prefix, then 32
    /// bytes.
    pub(crate) fn from_multicodec_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw = strip_prefix(bytes, ED25519_PUB_PREFIX, "ed25519-pub (0xed01)")?;
        let raw: &[u8; 32] = raw.try_into().map_err(|_| KeyError::WrongLength {
            what: "an ed25519 public key",
            len: raw.len(),
        })?;
        Self::from_bytes(raw)
    }

    /// The `z6Mk…` Multikey `publicKeyMultibase`.
    pub fn to_multibase(&self) -> String {
        let mut bytes = [0u8; 34];
        bytes[..2].copy_from_slice(&ED25519_PUB_PREFIX);
        bytes[2..].copy_from_slice(self.0.as_bytes());
        base58btc_multibase(&bytes)
    }

    /// Checks a signature under kya's Ed25519 rule ([`crate::ed25519::verify`]): canonical
    /// `S`, canonical and not small-order `R`, and the cofactored equation.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        crate::ed25519::verify(self, message, signature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_multibase())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_multibase())
    }
}

/// An Ed25519 secret key. Zeroized on drop; `Debug` shows only the public half.
pub struct SecretKey(ed25519_dalek::SigningKey);

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The key for a 32-byte RFC 8032 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// Reads a `z3u2…` multibase secret (`ed25519-priv` multicodec + seed).
    pub fn from_multibase(s: &str) -> Result<Self, KeyError> {
        // Never echo a secret in an error.
        let bytes = Zeroizing::new(decode_base58btc(s, || "<secret>".to_owned())?);
        let raw = strip_prefix(&bytes, ED25519_PRIV_PREFIX, "ed25519-priv (0x8026)")?;
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(raw.try_into().map_err(|_| KeyError::WrongLength {
                what: "an ed25519 secret key",
                len: raw.len(),
            })?);
        Ok(Self::from_seed(&seed))
    }

    /// The `z3u2…` multibase secret. Handle with care: this is the key.
    pub fn to_multibase(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(34));
        bytes.extend_from_slice(&ED25519_PRIV_PREFIX);
        bytes.extend_from_slice(self.0.as_bytes());
        Zeroizing::new(multibase::encode(multibase::Base::Base58Btc, &*bytes))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs a message (deterministic Ed25519, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }
}

impl signature::Signer<Signature> for SecretKey {
    fn try_sign(&self, msg: &[u8]) -> Result<Signature, signature::Error> {
        Ok(self.0.sign(msg))
    }
}

impl signature::Keypair for SecretKey {
    type VerifyingKey = ed25519_dalek::VerifyingKey;
    fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.0.verifying_key()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey(public: {}, secret: <redacted>)",
            self.public_key()
        )
    }
}

/// A key that can sign for kya: anything implementing the standard
/// [`signature::Signer`] trait for Ed25519 and able to name its public key, so an HSM, a
/// cloud KMS or an MPC wallet can stand in for a key file.
pub trait Ed25519Signer: signature::Signer<Signature> {
    /// The public key whose signatures this signer makes.
    fn public_key(&self) -> PublicKey;
}

impl Ed25519Signer for SecretKey {
    fn public_key(&self) -> PublicKey {
        SecretKey::public_key(self)
    }
}

/// A Multikey document as stored in a key file.
///
/// Written with `secretKeyMultibase` (the Multikey spelling); read with either
/// `secretKeyMultibase` or `privateKeyMultibase` (the spelling of the W3C test vectors).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultikeyFile {
    /// Always `Multikey` when written by kya; optional on read.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The verification method id (`did:key:z6Mk…#z6Mk…`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The controller DID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// `z6Mk…`.
    pub public_key_multibase: String,
    /// `z3u2…`, the secret.
    #[serde(
        default,
        alias = "privateKeyMultibase",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_key_multibase: Option<String>,
}

impl Drop for MultikeyFile {
    fn drop(&mut self) {
        self.secret_key_multibase.zeroize();
    }
}

impl fmt::Debug for MultikeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultikeyFile")
            .field("id", &self.id)
            .field("public_key_multibase", &self.public_key_multibase)
            .field(
                "secret_key_multibase",
                &self.secret_key_multibase.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl MultikeyFile {
    /// The Multikey document of a secret key, with its did:key verification method id.
    pub fn from_secret(secret: &SecretKey) -> Self {
        let public = secret.public_key();
        let did = crate::did::DidKey::from_public_key(public);
        Self {
            kind: Some("Multikey".to_owned()),
            id: Some(did.verification_method_id()),
            controller: Some(did.to_string()),
            public_key_multibase: public.to_multibase(),
            secret_key_multibase: Some(secret.to_multibase().to_string()),
        }
    }

    /// Reads a key file's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeyError> {
        let value = crate::json::parse_strict(bytes, crate::json::JsonLimits::default())
            .map_err(|e| KeyError::InvalidKeyFile(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| KeyError::InvalidKeyFile(e.to_string()))
    }

    /// The public key.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        PublicKey::from_multibase(&self.public_key_multibase)
    }

    /// The did:key this file is the key of, with everything the file says about itself
    /// checked: the public key is a usable Ed25519 key, the secret (if present) belongs to it,
    /// and the `id` and `controller` (if present) name it.
    pub fn checked_did(&self) -> Result<crate::did::DidKey, KeyError> {
        let did = crate::did::DidKey::from_public_key(self.public_key()?);
        if self.secret_key_multibase.is_some() {
            self.secret_key()?;
        }
        let names_other = |found: &Option<String>, expected: String| {
            found.as_ref().filter(|f| **f != expected).map(|f| {
                KeyError::InvalidKeyFile(format!(
                    "`{}` names another key than publicKeyMultibase {}",
                    f.chars().take(100).collect::<String>(),
                    self.public_key_multibase
                ))
            })
        };
        if let Some(e) = names_other(&self.id, did.verification_method_id())
            .or_else(|| names_other(&self.controller, did.to_string()))
        {
            return Err(e);
        }
        Ok(did)
    }

    /// The secret key, checked against the public key stored beside it.
    pub fn secret_key(&self) -> Result<SecretKey, KeyError> {
        let encoded = self
            .secret_key_multibase
            .as_deref()
            .ok_or_else(|| KeyError::InvalidKeyFile("no secretKeyMultibase".to_owned()))?;
        let secret = SecretKey::from_multibase(encoded)?;
        if secret.public_key() != self.public_key()? {
            return Err(KeyError::Mismatch {
                public: self.public_key_multibase.clone(),
            });
        }
        Ok(secret)
    }
}

/// `z` + base58btc of `bytes`: exactly what `multibase::encode(Base58Btc, bytes)` writes (a
/// test compares them), without its digit-by-digit long division. The number is held in
/// limbs of base 58^5, fed four bytes at a time, then each limb gives five digits.
pub(crate) fn base58btc_multibase(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    const LIMB: u64 = 58u64.pow(5);
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let rest = &bytes[zeros..];
    // Little-endian limbs, each below 58^5 < 2^30, so limb * 2^32 + carry fits in a u64.
    let mut limbs: Vec<u64> = Vec::with_capacity(rest.len() * 8 / 29 + 2);
    for chunk in chunks_from_the_top(rest, 4) {
        let shift = 1u64 << (8 * chunk.len());
        let mut carry = chunk.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
        for limb in &mut limbs {
            let x = *limb * shift + carry;
            *limb = x % LIMB;
            carry = x / LIMB;
        }
        while carry > 0 {
            limbs.push(carry % LIMB);
            carry /= LIMB;
        }
    }
    let mut digits = Vec::with_capacity(limbs.len() * 5);
    for mut limb in limbs.iter().copied() {
        for _ in 0..5 {
            digits.push(ALPHABET[(limb % 58) as usize]);
            limb /= 58;
        }
    }
    // The top limb's leading zero digits are not digits of the number.
    while digits.last() == Some(&ALPHABET[0]) {
        digits.pop();
    }
    let mut out = String::with_capacity(1 + zeros + digits.len());
    out.push('z');
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(digits.iter().rev().map(|&d| char::from(d)));
    out
}

/// The bytes of base58btc `digits` (bitcoin alphabet), or `None` when a character is not
/// one of its digits: exactly what `multibase::decode` gives for `z` + `digits` (a test
/// compares them), each leading `1` a zero byte. The reverse of [`base58btc_multibase`],
/// with the same limbs: five digits (a number below 58^5 < 2^30) at a time, into
/// little-endian limbs of 32 bits, so that limb * 58^5 + carry fits in a u64.
pub(crate) fn base58btc_decode(digits: &str) -> Option<Vec<u8>> {
    /// Each byte's digit value, or 0xff for a byte that is not a digit.
    const DIGITS: [u8; 256] = {
        let alphabet = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        let mut table = [0xffu8; 256];
        let mut i = 0;
        while i < alphabet.len() {
            table[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    let digit = |c: u8| match DIGITS[usize::from(c)] {
        0xff => None,
        d => Some(u64::from(d)),
    };
    let digits = digits.as_bytes();
    let ones = digits.iter().take_while(|&&c| c == b'1').count();
    let rest = &digits[ones..];
    // log(58) / log(2^32) < 0.1465 limbs per digit.
    let mut limbs: Vec<u64> = Vec::with_capacity(rest.len() * 3 / 20 + 2);
    for chunk in chunks_from_the_top(rest, 5) {
        let mut carry = 0u64;
        for &c in chunk {
            carry = carry * 58 + digit(c)?;
        }
        let scale = 58u64.pow(chunk.len() as u32);
        for limb in &mut limbs {
            let x = *limb * scale + carry;
            *limb = x & 0xffff_ffff;
            carry = x >> 32;
        }
        while carry > 0 {
            limbs.push(carry & 0xffff_ffff);
            carry >>= 32;
        }
    }
    let mut out = vec![0u8; ones];
    out.reserve(limbs.len() * 4);
    for &limb in limbs.iter().rev() {
        out.extend_from_slice(&(limb as u32).to_be_bytes());
    }
    // The top limb's leading zero bytes are not bytes of the number.
    let padding = out[ones..].iter().take_while(|&&b| b == 0).count();
    out.drain(ones..ones + padding);
    Some(out)
}

/// `bytes` in chunks of `size`, most significant first, the first chunk the short one: how
/// a big-endian number is fed to little-endian limbs.
fn chunks_from_the_top(bytes: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let head = bytes.len() % size;
    std::iter::once(&bytes[..head])
        .filter(|c| !c.is_empty())
        .chain(bytes[head..].chunks(size))
}

fn decode_base58btc(s: &str, shown: impl Fn() -> String) -> Result<Vec<u8>, KeyError> {
    // Multibase allows many bases; Multikey requires base58btc, so insist on `z` first.
    s.strip_prefix('z')
        .and_then(base58btc_decode)
        .ok_or_else(|| KeyError::NotBase58Btc { value: shown() })
}

fn strip_prefix<'a>(
    bytes: &'a [u8],
    prefix: [u8; 2],
    expected: &'static str,
) -> Result<&'a [u8], KeyError> {
    bytes
        .strip_prefix(&prefix)
        .ok_or_else(|| KeyError::WrongMulticodec {
            prefix: hex::encode(bytes.get(..2).unwrap_or(bytes)),
            expected,
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The fast base58btc reader is multibase's: the same bytes for every string of
    /// digits (leading `1`s, every length a key, a signature or a digest has), the same
    /// refusals for any other character, and it reads back what the writer wrote.
    #[test]
    fn base58btc_decode_matches_multibase() {
        use proptest::prelude::*;
        let reference = |s: &str| match multibase::decode(format!("z{s}")) {
            Ok((multibase::Base::Base58Btc, bytes)) => Some(bytes),
            _ => None,
        };
        for s in [
            "", "1", "11", "2", "z", "1z", "111112", "0", "O", "I", "l", "+", "é", "1 ",
        ] {
            assert_eq!(super::base58btc_decode(s), reference(s), "{s:?}");
        }
        proptest!(|(s in "1{0,4}[1-9A-HJ-NP-Za-km-z]{0,110}", bad in "[^1-9A-HJ-NP-Za-km-z]", at in any::<usize>())| {
            prop_assert_eq!(super::base58btc_decode(&s), reference(&s));
            let mut broken = s.clone();
            broken.insert_str(broken.char_indices().map(|(i, _)| i).nth(at % (s.len() + 1)).unwrap_or(s.len()), &bad);
            prop_assert_eq!(super::base58btc_decode(&broken), None);
            prop_assert_eq!(reference(&broken), None);
        });
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..80), zeros in 0usize..4)| {
            let mut b = vec![0u8; zeros];
            b.extend(bytes);
            let written = super::base58btc_multibase(&b);
            prop_assert_eq!(super::base58btc_decode(&written[1..]), Some(b));
        });
    }

    /// The fast base58btc writer is multibase's, byte for byte: any bytes, leading zeros,
    /// all zeros, every length a key, a signature or a digest has.
    #[test]
    fn base58btc_matches_multibase() {
        use proptest::prelude::*;
        let reference = |b: &[u8]| multibase::encode(multibase::Base::Base58Btc, b);
        for len in 0..=80 {
            for fill in [0u8, 1, 0x7f, 0xff] {
                let mut b = vec![fill; len];
                assert_eq!(super::base58btc_multibase(&b), reference(&b), "{b:?}");
                if let Some(last) = b.last_mut() {
                    *last ^= 0x5a;
                }
                assert_eq!(super::base58btc_multibase(&b), reference(&b), "{b:?}");
            }
        }
        proptest!(ProptestConfig::with_cases(4000), |(
            zeros in 0usize..4,
            b in proptest::collection::vec(any::<u8>(), 0..100),
        )| {
            let b = [vec![0; zeros], b].concat();
            prop_assert_eq!(super::base58btc_multibase(&b), reference(&b));
        });
    }

    const W3C_PUBLIC: &str = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    const W3C_SECRET: &str = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq";

    #[test]
    fn w3c_key_pair_round_trips() {
        let secret = SecretKey::from_multibase(W3C_SECRET).unwrap();
        assert_eq!(secret.public_key().to_multibase(), W3C_PUBLIC);
        assert_eq!(&*secret.to_multibase(), W3C_SECRET);
        let file = MultikeyFile::from_json(
            format!(
                r#"{{"publicKeyMultibase":"{W3C_PUBLIC}","privateKeyMultibase":"{W3C_SECRET}"}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            file.secret_key().unwrap().public_key().to_multibase(),
            W3C_PUBLIC
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = SecretKey::from_multibase(W3C_SECRET).unwrap();
        let file = MultikeyFile::from_secret(&secret);
        for shown in [format!("{secret:?}"), format!("{file:?}")] {
            assert!(!shown.contains(W3C_SECRET), "{shown}");
            assert!(shown.contains("redacted"));
        }
    }

    #[test]
    fn refuses_wrong_codecs_bases_and_lengths() {
        assert!(matches!(
            PublicKey::from_multibase(W3C_SECRET),
            Err(KeyError::WrongMulticodec { .. })
        ));
        assert!(matches!(
            SecretKey::from_multibase(W3C_PUBLIC),
            Err(KeyError::WrongMulticodec { .. })
        ));
        assert!(matches!(
            PublicKey::from_multibase("f6d6b"),
            Err(KeyError::NotBase58Btc { .. })
        ));
        let short = multibase::encode(multibase::Base::Base58Btc, [0xed, 0x01, 1, 2, 3]);
        assert!(matches!(
            PublicKey::from_multibase(&short),
            Err(KeyError::WrongLength { len: 3, .. })
        ));
        // The identity point is small-order: refused.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(&weak),
            Err(KeyError::InvalidPublicKey { .. })
        ));
    }

    #[test]
    fn refuses_non_canonical_encodings_even_of_large_order_points() {
        // y + p for y < 19 decompresses (to the point with that y) but is not canonical.
        let mut large_order = 0;
        for y in 0..19u8 {
            for sign in [0u8, 0x80] {
                let mut bytes = [0xffu8; 32];
                bytes[0] = 0xed + y;
                bytes[31] = 0x7f | sign;
                let Some(point) = curve25519_dalek::edwards::CompressedEdwardsY(bytes).decompress()
                else {
                    continue;
                };
                if !point.is_small_order() {
                    large_order += 1;
                    // The same point, canonically written, is a fine key.
                    assert!(PublicKey::from_bytes(&point.compress().to_bytes()).is_ok());
                }
                assert!(
                    matches!(
                        PublicKey::from_bytes(&bytes),
                        Err(KeyError::InvalidPublicKey { .. })
                    ),
                    "{}",
                    hex::encode(bytes)
                );
            }
        }
        assert!(large_order > 0);
    }

    #[test]
    fn checked_did_refuses_a_file_that_contradicts_itself() {
        let secret = SecretKey::from_seed(&[3; 32]);
        let file = MultikeyFile::from_secret(&secret);
        let did = crate::did::DidKey::from_public_key(secret.public_key());
        assert_eq!(file.checked_did().unwrap(), did);
        // Another key's secret beside this public key.
        let mut mismatched = MultikeyFile::from_secret(&secret);
        mismatched.secret_key_multibase =
            Some(SecretKey::from_seed(&[4; 32]).to_multibase().to_string());
        assert!(matches!(
            mismatched.checked_did(),
            Err(KeyError::Mismatch { .. })
        ));
        // A controller or id naming another key.
        let other =
            crate::did::DidKey::from_public_key(SecretKey::from_seed(&[4; 32]).public_key());
        let mut controller = MultikeyFile::from_secret(&secret);
        controller.controller = Some(other.to_string());
        assert!(matches!(
            controller.checked_did(),
            Err(KeyError::InvalidKeyFile(_))
        ));
        let mut id = MultikeyFile::from_secret(&secret);
        id.id = Some(other.verification_method_id());
        assert!(matches!(id.checked_did(), Err(KeyError::InvalidKeyFile(_))));
        // A public-only file is fine.
        let mut public_only = MultikeyFile::from_secret(&secret);
        public_only.secret_key_multibase = None;
        assert_eq!(public_only.checked_did().unwrap(), did);
    }

    #[test]
    fn refuses_a_secret_that_does_not_match_its_public_key() {
        let other = SecretKey::from_seed(&[7; 32]).public_key().to_multibase();
        let file = MultikeyFile::from_json(
            format!(r#"{{"publicKeyMultibase":"{other}","secretKeyMultibase":"{W3C_SECRET}"}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert!(matches!(file.secret_key(), Err(KeyError::Mismatch { .. })));
    }
}
