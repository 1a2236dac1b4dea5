#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// Implements serde for a type through its `Display` and `FromStr`, so that the JSON form
/// and the text form can never disagree.
macro_rules! serde_via_string {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

pub mod card;
pub mod chain;
pub mod contexts;
pub mod credential;
pub mod did;
pub mod digest;
pub mod ed25519;
pub mod grant;
pub mod json;
pub mod key;
pub mod proof;
pub mod status;
pub mod timestamp;
pub mod vcdm;

pub use did::{Did, DidError, DidKey, DidPkh};
pub use digest::CredentialDigest;
pub use ed25519::SignatureError;
pub use key::{Ed25519Signer, KeyError, MultikeyFile, PublicKey, SecretKey};
pub use proof::{ProofError, ProofInfo, ProofOptions};
pub use timestamp::Timestamp;
