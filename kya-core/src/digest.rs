//! Credential digests: SHA-256 of a signed credential's JCS bytes.
//!
//! The digest names a credential everywhere: a delegation names its parent by it, the
//! registry revokes by it (as `bytes32`), and the verifier caches by it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The multihash prefix of a SHA2-256 digest (`0x12`, length `0x20`).
const SHA256_MULTIHASH: [u8; 2] = [0x12, 0x20];

/// A SHA-256 digest of a credential's canonical (JCS) bytes, proof included.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialDigest(pub [u8; 32]);

/// A string that is not a digest.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error(
    "`{value}` is not a sha-256 digest (expected 0x + 64 hex digits, or a `u…` multibase sha2-256 multihash)"
)]
pub struct DigestError {
    /// The input (truncated).
    pub value: String,
}

impl CredentialDigest {
    /// The digest of canonical bytes.
    pub fn of_canonical(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The VC 2.0 `digestMultibase`: base64url (no padding) multibase of the sha2-256 multihash.
    pub fn to_multibase(&self) -> String {
        let mut bytes = Vec::with_capacity(34);
        bytes.extend_from_slice(&SHA256_MULTIHASH);
        bytes.extend_from_slice(&self.0);
        multibase::encode(multibase::Base::Base64Url, bytes)
    }

    /// `0x` + 64 lowercase hex digits, as a `bytes32` is written on-chain.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }
}

impl FromStr for CredentialDigest {
    type Err = DigestError;
    /// Reads `0x…` hex or a `u…` `digestMultibase`.
    fn from_str(s: &str) -> Result<Self, DigestError> {
        let err = || DigestError {
            value: s.chars().take(80).collect(),
        };
        let mut out = [0u8; 32];
        if let Some(h) = s.strip_prefix("0x") {
            hex::decode_to_slice(h, &mut out).map_err(|_| err())?;
            return Ok(Self(out));
        }
        if !s.starts_with('u') {
            return Err(err());
        }
        match multibase::decode(s) {
            Ok((multibase::Base::Base64Url, bytes)) => {
                let raw = bytes.strip_prefix(&SHA256_MULTIHASH).ok_or_else(err)?;
                out.copy_from_slice(<&[u8; 32]>::try_from(raw).map_err(|_| err())?);
                Ok(Self(out))
            }
            _ => Err(err()),
        }
    }
}

impl fmt::Display for CredentialDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for CredentialDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialDigest({})", self.to_hex())
    }
}

impl Serialize for CredentialDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_multibase())
    }
}

impl<'de> Deserialize<'de> for CredentialDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_both_spellings() {
        let d = CredentialDigest::of_canonical(b"abc");
        assert_eq!(
            d.to_hex(),
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(d.to_multibase().starts_with("uEiC"));
        assert_eq!(d.to_multibase().parse::<CredentialDigest>().unwrap(), d);
        assert_eq!(d.to_hex().parse::<CredentialDigest>().unwrap(), d);
        assert!("0x12".parse::<CredentialDigest>().is_err());
        assert!("zabc".parse::<CredentialDigest>().is_err());
    }
}
