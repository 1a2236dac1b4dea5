#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod credential;
pub mod did;
pub mod digest;
pub mod grant;
pub mod json;
pub mod key;
pub mod proof;
pub mod timestamp;

pub use did::{Did, DidError, DidKey, DidPkh};
pub use digest::CredentialDigest;
pub use key::{Ed25519Signer, KeyError, MultikeyFile, PublicKey, SecretKey};
pub use proof::{ProofError, ProofInfo, ProofOptions};
pub use timestamp::Timestamp;
