//! W3C Bitstring Status List v1.0: revocation and suspension that any issuer can publish,
//! with or without a registry (a `did:key` principal included).
//!
//! A credential names where its status is kept with a `credentialStatus` entry:
//!
//! ```json
//! {"id": "https://issuer.example/status/1#94567", "type": "BitstringStatusListEntry",
//!  "statusPurpose": "revocation", "statusListIndex": "94567",
//!  "statusListCredential": "https://issuer.example/status/1"}
//! ```
//!
//! and its issuer publishes a *status list credential* (type
//! `BitstringStatusListCredential`, signed like every kya credential) whose subject's
//! `encodedList` is `u` + base64url (no padding) of the GZIP of a bitstring. Bit `i` is the
//! status of the credential with `statusListIndex` `i`: bit 0 is the left-most (most
//! significant) bit of the first byte, and a set bit means the purpose applies (revoked,
//! suspended).
//!
//! ```
//! use kya_core::status::{Bitstring, StatusList, StatusPurpose, StatusEntry};
//! use kya_core::{Did, DidKey, SecretKey, Timestamp};
//!
//! let issuer_key = SecretKey::from_seed(&[1; 32]);
//! let issuer = Did::Key(DidKey::from_public_key(issuer_key.public_key()));
//! let mut bits = Bitstring::new(131_072)?;
//! bits.set(94_567, true)?; // revoke the credential at index 94567
//! let list = StatusList {
//!     id: "https://issuer.example/status/1".into(),
//!     issuer,
//!     purpose: StatusPurpose::Revocation,
//!     bits,
//!     valid_from: "2026-06-01T00:00:00Z".parse()?,
//!     valid_until: Some("2026-06-02T00:00:00Z".parse()?),
//! };
//! let signed = list.sign(&issuer_key, "2026-06-01T00:00:00Z".parse()?)?;
//! let verified = kya_core::status::VerifiedStatusList::from_value(signed)?;
//! let entry = StatusEntry::new("https://issuer.example/status/1", 94_567, StatusPurpose::Revocation);
//! assert!(verified.status(&entry)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::{Read as _, Write as _};
use std::str::FromStr;

use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Map, Value, json};

use crate::credential::{VC_V2_CONTEXT, is_url};
use crate::did::Did;
use crate::digest::CredentialDigest;
use crate::json::{JsonError, JsonLimits, parse_i_json};
use crate::key::{Ed25519Signer, PublicKey};
use crate::proof::{self, PreparedProof, ProofError, ProofOptions};
use crate::timestamp::Timestamp;

/// `credentialStatus.type`.
pub const ENTRY_TYPE: &str = "BitstringStatusListEntry";
/// The status list credential's type.
pub const LIST_CREDENTIAL_TYPE: &str = "BitstringStatusListCredential";
/// The type of the status list credential's subject.
pub const LIST_TYPE: &str = "BitstringStatusList";
/// The specification's minimum length: 16 KiB of bits, so that one entry hides among many.
pub const MIN_BITS: u64 = 131_072;
/// kya's maximum length: 2^24 entries (2 MiB uncompressed), which bounds what an untrusted
/// list can make a verifier inflate.
pub const MAX_BITS: u64 = 1 << 24;
/// At most this many status entries per credential.
pub const MAX_ENTRIES: usize = 4;
/// Status list credentials are read with these bounds (a list of 2^24 random bits is about
/// 2.8 MB once encoded).
pub const LIST_LIMITS: JsonLimits = JsonLimits {
    max_bytes: 3 * 1024 * 1024,
    max_depth: 16,
};

/// What a status entry or list is for. kya checks revocation and suspension; an entry for
/// any other purpose is refused rather than ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusPurpose {
    /// A set bit: revoked for good.
    Revocation,
    /// A set bit: suspended (the issuer may clear it).
    Suspension,
}

impl StatusPurpose {
    /// The `statusPurpose` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revocation => "revocation",
            Self::Suspension => "suspension",
        }
    }
}

impl fmt::Display for StatusPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StatusPurpose {
    type Err = StatusError;
    fn from_str(s: &str) -> Result<Self, StatusError> {
        match s {
            "revocation" => Ok(Self::Revocation),
            "suspension" => Ok(Self::Suspension),
            other => Err(StatusError::UnsupportedPurpose {
                purpose: shown(other),
            }),
        }
    }
}

/// Why a status entry, a bitstring or a status list credential was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusError {
    /// A `credentialStatus` entry kya cannot check.
    #[error("credentialStatus: {reason}")]
    Entry {
        /// What is wrong.
        reason: String,
    },
    /// A purpose other than revocation or suspension.
    #[error("status purpose `{purpose}` is not supported (kya checks revocation and suspension)")]
    UnsupportedPurpose {
        /// The purpose as written.
        purpose: String,
    },
    /// The status list credential is malformed.
    #[error("not a bitstring status list credential: {reason}")]
    ListCredential {
        /// What is wrong.
        reason: String,
    },
    /// `encodedList` is not `u` + base64url of one GZIP member.
    #[error("encodedList is not multibase base64url of a gzip stream: {reason}")]
    EncodedList {
        /// What is wrong.
        reason: String,
    },
    /// Fewer entries than the specification's minimum.
    #[error("the bitstring has {bits} entries; the minimum is {MIN_BITS}")]
    TooShort {
        /// The length.
        bits: u64,
    },
    /// More entries than kya reads.
    #[error("the bitstring has more than {MAX_BITS} entries")]
    TooLong,
    /// An index beyond the list.
    #[error("status index {index} is outside the list's {bits} entries")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The list's length.
        bits: u64,
    },
    /// The entry's purpose is not one the list is for.
    #[error("the status list is for {list}, the entry for {entry}")]
    PurposeMismatch {
        /// The list's purposes.
        list: String,
        /// The entry's purpose.
        entry: StatusPurpose,
    },
    /// The list's proof is by a key its `did:key` issuer does not name.
    #[error("the status list is signed by {signer}, not by its issuer {issuer}")]
    WrongSigner {
        /// The signing key's DID.
        signer: String,
        /// The issuer.
        issuer: String,
    },
    /// The list's proof does not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The list is not acceptable JSON.
    #[error(transparent)]
    Json(#[from] JsonError),
}

fn shown(s: &str) -> String {
    s.chars().take(100).collect()
}

fn entry_error(reason: impl Into<String>) -> StatusError {
    StatusError::Entry {
        reason: reason.into(),
    }
}

fn list_error(reason: impl Into<String>) -> StatusError {
    StatusError::ListCredential {
        reason: reason.into(),
    }
}

/// A `BitstringStatusListEntry`: where a credential's status of one purpose is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusEntry {
    /// The purpose.
    pub purpose: StatusPurpose,
    /// The credential's position in the list.
    pub index: u64,
    /// The status list credential's URL (its `id`).
    pub list: String,
}

impl StatusEntry {
    /// The entry for position `index` of the list `list`.
    pub fn new(list: impl Into<String>, index: u64, purpose: StatusPurpose) -> Self {
        Self {
            purpose,
            index,
            list: list.into(),
        }
    }

    /// The `credentialStatus` object (`id` is the list URL with the index as fragment).
    pub fn to_json(&self) -> Value {
        json!({
            "id": format!("{}#{}", self.list, self.index),
            "type": ENTRY_TYPE,
            "statusPurpose": self.purpose.as_str(),
            "statusListIndex": self.index.to_string(),
            "statusListCredential": self.list,
        })
    }

    /// Reads a credential's `credentialStatus` (absent, one entry or an array of entries).
    /// Any entry kya cannot check (another type, purpose or size) is an error, never
    /// skipped: a status a verifier ignores is a revocation it misses.
    pub fn parse_all(value: Option<&Value>) -> Result<Vec<Self>, StatusError> {
        let entries = match value {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(entry_error("an empty array"));
            }
            Some(Value::Array(items)) if items.len() > MAX_ENTRIES => {
                return Err(entry_error(format!("more than {MAX_ENTRIES} entries")));
            }
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one) => vec![one],
        };
        entries.into_iter().map(Self::parse).collect()
    }

    fn parse(value: &Value) -> Result<Self, StatusError> {
        let object = value
            .as_object()
            .ok_or_else(|| entry_error("an entry must be an object"))?;
        let text = |name: &str| -> Result<&str, StatusError> {
            object
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| entry_error(format!("{name} must be a string")))
        };
        let kind = text("type")?;
        if kind != ENTRY_TYPE {
            return Err(entry_error(format!(
                "type `{}` is not {ENTRY_TYPE}: kya cannot check this status",
                shown(kind)
            )));
        }
        if let Some(id) = object.get("id") {
            if !id.as_str().is_some_and(is_url) {
                return Err(entry_error("id must be a url"));
            }
        }
        match object.get("statusSize") {
            None => {}
            Some(size) if size.as_u64() == Some(1) => {}
            Some(_) => return Err(entry_error("only statusSize 1 is supported")),
        }
        let purpose = text("statusPurpose")?.parse()?;
        let index = parse_index(text("statusListIndex")?)?;
        let list = text("statusListCredential")?;
        if !is_url(list) {
            return Err(entry_error("statusListCredential must be a url"));
        }
        Ok(Self::new(list, index, purpose))
    }
}

/// A decimal string without leading zeros, below [`MAX_BITS`].
fn parse_index(s: &str) -> Result<u64, StatusError> {
    let canonical = !s.is_empty()
        && s.len() <= 10
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    match s.parse::<u64>() {
        Ok(i) if canonical && i < MAX_BITS => Ok(i),
        _ => Err(entry_error(format!(
            "statusListIndex `{}` is not a decimal index below {MAX_BITS}",
            shown(s)
        ))),
    }
}

/// The bits of a status list, bit 0 the left-most bit of the first byte.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitstring {
    bytes: Vec<u8>,
}

impl fmt::Debug for Bitstring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set: u32 = self.bytes.iter().map(|b| b.count_ones()).sum();
        write!(f, "Bitstring({} entries, {set} set)", self.len())
    }
}

impl Bitstring {
    /// `bits` entries, all clear: a multiple of 8 from [`MIN_BITS`] to [`MAX_BITS`].
    pub fn new(bits: u64) -> Result<Self, StatusError> {
        if bits < MIN_BITS {
            return Err(StatusError::TooShort { bits });
        }
        if bits > MAX_BITS {
            return Err(StatusError::TooLong);
        }
        if bits % 8 != 0 {
            return Err(list_error("the length must be a multiple of 8"));
        }
        Ok(Self {
            bytes: vec![0; (bits / 8) as usize],
        })
    }

    /// The number of entries.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 * 8
    }

    /// Never true: a bitstring has at least [`MIN_BITS`] entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn position(&self, index: u64) -> Result<(usize, u8), StatusError> {
        if index >= self.len() {
            return Err(StatusError::IndexOutOfRange {
                index,
                bits: self.len(),
            });
        }
        Ok(((index / 8) as usize, 0x80 >> (index % 8)))
    }

    /// Whether entry `index` is set.
    pub fn get(&self, index: u64) -> Result<bool, StatusError> {
        let (byte, mask) = self.position(index)?;
        Ok(self.bytes.get(byte).is_some_and(|b| b & mask != 0))
    }

    /// Sets or clears entry `index`.
    pub fn set(&mut self, index: u64, value: bool) -> Result<(), StatusError> {
        let (byte, mask) = self.position(index)?;
        if let Some(b) = self.bytes.get_mut(byte) {
            if value {
                *b |= mask;
            } else {
                *b &= !mask;
            }
        }
        Ok(())
    }

    /// `encodedList`: `u` + base64url (no padding) of the GZIP of the bytes.
    pub fn encode(&self) -> String {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        // Writing to a Vec cannot fail.
        let compressed = gz
            .write_all(&self.bytes)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        multibase::encode(multibase::Base::Base64Url, compressed)
    }

    /// Reads `encodedList`, inflating at most [`MAX_BITS`] entries: one GZIP member with
    /// nothing after it, at least [`MIN_BITS`] entries.
    pub fn decode(encoded: &str) -> Result<Self, StatusError> {
        let bad = |reason: &str| StatusError::EncodedList {
            reason: reason.to_owned(),
        };
        if !encoded.starts_with('u') {
            return Err(bad("it must start with `u` (base64url, no padding)"));
        }
        if encoded.len() > LIST_LIMITS.max_bytes {
            return Err(StatusError::TooLong);
        }
        let compressed = match multibase::decode(encoded) {
            Ok((multibase::Base::Base64Url, bytes)) => bytes,
            _ => return Err(bad("not base64url")),
        };
        let mut decoder = GzDecoder::new(compressed.as_slice());
        let mut bytes = Vec::new();
        (&mut decoder)
            .take(MAX_BITS / 8 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(&e.to_string()))?;
        if bytes.len() as u64 > MAX_BITS / 8 {
            return Err(StatusError::TooLong);
        }
        if !decoder.into_inner().is_empty() {
            return Err(bad("bytes follow the gzip member"));
        }
        let bits = bytes.len() as u64 * 8;
        if bits < MIN_BITS {
            return Err(StatusError::TooShort { bits });
        }
        Ok(Self { bytes })
    }
}

/// A status list to publish: what [`sign`](Self::sign) turns into a status list credential.
#[derive(Debug, Clone)]
pub struct StatusList {
    /// The list credential's URL: what entries name in `statusListCredential`.
    pub id: String,
    /// The issuer: the issuer of the credentials whose status it keeps.
    pub issuer: Did,
    /// The purpose of its bits.
    pub purpose: StatusPurpose,
    /// The bits.
    pub bits: Bitstring,
    /// When this version was published.
    pub valid_from: Timestamp,
    /// When a verifier must stop using this version.
    pub valid_until: Option<Timestamp>,
}

impl StatusList {
    /// The unsigned status list credential.
    pub fn to_unsigned(&self) -> Value {
        let mut doc = json!({
            "@context": [VC_V2_CONTEXT],
            "id": self.id,
            "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
            "issuer": self.issuer.to_string(),
            "validFrom": self.valid_from.to_string(),
            "credentialSubject": {
                "id": format!("{}#list", self.id),
                "type": LIST_TYPE,
                "statusPurpose": self.purpose.as_str(),
                "encodedList": self.bits.encode(),
            },
        });
        if let Some(until) = self.valid_until {
            doc["validUntil"] = until.to_string().into();
        }
        doc
    }

    /// The status list credential, signed with an `assertionMethod` proof created at
    /// `created` (for a `did:key` issuer, only by that key).
    pub fn sign(
        &self,
        signer: &dyn Ed25519Signer,
        created: Timestamp,
    ) -> Result<Value, StatusError> {
        if let Did::Key(issuer) = &self.issuer {
            if issuer.public_key() != signer.public_key() {
                return Err(StatusError::WrongSigner {
                    signer: crate::did::DidKey::from_public_key(signer.public_key()).to_string(),
                    issuer: issuer.to_string(),
                });
            }
        }
        let options = ProofOptions::assertion(signer.public_key()).created(created);
        Ok(proof::sign(&self.to_unsigned(), &options, signer)?)
    }
}

/// A status list credential whose proof verified: its bits, who issued it, and the key
/// that signed it. A verifier uses it only for credentials of the same issuer signed by the
/// same key.
#[derive(Debug, Clone)]
pub struct VerifiedStatusList {
    id: String,
    issuer: Did,
    signer: PublicKey,
    purposes: Vec<StatusPurpose>,
    valid_from: Timestamp,
    valid_until: Option<Timestamp>,
    bits: Bitstring,
    digest: CredentialDigest,
}

impl VerifiedStatusList {
    /// Reads a status list credential from untrusted bytes ([`LIST_LIMITS`]) and verifies it.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, StatusError> {
        Self::from_value(parse_i_json(bytes, LIST_LIMITS)?)
    }

    /// Verifies a status list credential: its form, its proof (kya's Ed25519 rule, an
    /// `assertionMethod` proof, by the issuer's key when the issuer is a `did:key`), and its
    /// bitstring.
    pub fn from_value(document: Value) -> Result<Self, StatusError> {
        let object = document
            .as_object()
            .ok_or_else(|| list_error("not a json object"))?;
        let form = ListForm::read(object)?;
        let prepared = PreparedProof::from_document(&document)?;
        if prepared.info.proof_purpose != "assertionMethod" {
            return Err(list_error("the proof purpose must be assertionMethod"));
        }
        let info = prepared.verify()?;
        let signer = info.signer.public_key();
        if let Did::Key(issuer) = &form.issuer {
            if *issuer != info.signer {
                return Err(StatusError::WrongSigner {
                    signer: info.signer.to_string(),
                    issuer: issuer.to_string(),
                });
            }
        }
        let bits = Bitstring::decode(&form.encoded_list)?;
        let digest = CredentialDigest::of_canonical(&crate::json::canonicalize(&document)?);
        Ok(Self {
            id: form.id,
            issuer: form.issuer,
            signer,
            purposes: form.purposes,
            valid_from: form.valid_from,
            valid_until: form.valid_until,
            bits,
            digest,
        })
    }

    /// The list credential's URL.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Its issuer.
    pub fn issuer(&self) -> &Did {
        &self.issuer
    }
    /// The key that signed it.
    pub fn signer(&self) -> PublicKey {
        self.signer
    }
    /// Its purposes.
    pub fn purposes(&self) -> &[StatusPurpose] {
        &self.purposes
    }
    /// When this version was published.
    pub fn valid_from(&self) -> Timestamp {
        self.valid_from
    }
    /// When it stops being usable, if it says.
    pub fn valid_until(&self) -> Option<Timestamp> {
        self.valid_until
    }
    /// The bits.
    pub fn bits(&self) -> &Bitstring {
        &self.bits
    }
    /// SHA-256 of its JCS form: which version of the list a verdict rests on.
    pub fn digest(&self) -> CredentialDigest {
        self.digest
    }

    /// Whether `entry`'s status is set (revoked, suspended). The entry must name this list
    /// and one of its purposes, and an index inside it.
    pub fn status(&self, entry: &StatusEntry) -> Result<bool, StatusError> {
        if entry.list != self.id {
            return Err(entry_error(format!(
                "the entry names list {}, not {}",
                shown(&entry.list),
                shown(&self.id)
            )));
        }
        if !self.purposes.contains(&entry.purpose) {
            return Err(StatusError::PurposeMismatch {
                list: self
                    .purposes
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                entry: entry.purpose,
            });
        }
        self.bits.get(entry.index)
    }
}

/// The parts of a status list credential kya reads, before its proof is checked.
struct ListForm {
    id: String,
    issuer: Did,
    purposes: Vec<StatusPurpose>,
    valid_from: Timestamp,
    valid_until: Option<Timestamp>,
    encoded_list: String,
}

impl ListForm {
    fn read(object: &Map<String, Value>) -> Result<Self, StatusError> {
        let has_type = |v: Option<&Value>, t: &str| match v {
            Some(Value::String(s)) => s == t,
            Some(Value::Array(a)) => a.iter().any(|x| x == t),
            _ => false,
        };
        match object.get("@context") {
            Some(Value::Array(a)) if a.first().is_some_and(|c| c == VC_V2_CONTEXT) => {}
            _ => {
                return Err(list_error(format!(
                    "@context must start with {VC_V2_CONTEXT}"
                )));
            }
        }
        if !has_type(object.get("type"), LIST_CREDENTIAL_TYPE)
            || !has_type(object.get("type"), "VerifiableCredential")
        {
            return Err(list_error(format!(
                "type must include VerifiableCredential and {LIST_CREDENTIAL_TYPE}"
            )));
        }
        let id = object
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| is_url(id))
            .ok_or_else(|| list_error("id must be the list's url"))?;
        let issuer = match object.get("issuer") {
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).unwrap_or_default(),
            _ => "",
        };
        let issuer: Did = issuer
            .parse()
            .map_err(|e| list_error(format!("issuer: {e}")))?;
        let time = |name: &str| -> Result<Option<Timestamp>, StatusError> {
            object
                .get(name)
                .map(|v| {
                    v.as_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| list_error(format!("{name} must be a date-time")))
                })
                .transpose()
        };
        // kya judges a list's freshness from when it was published: validFrom is required.
        let valid_from = time("validFrom")?.ok_or_else(|| list_error("validFrom is required"))?;
        let valid_until = time("validUntil")?;
        let subject = object
            .get("credentialSubject")
            .and_then(Value::as_object)
            .ok_or_else(|| list_error("credentialSubject must be an object"))?;
        if !has_type(subject.get("type"), LIST_TYPE) {
            return Err(list_error(format!(
                "credentialSubject.type must be {LIST_TYPE}"
            )));
        }
        let purposes = match subject.get("statusPurpose") {
            Some(Value::String(s)) => vec![s.parse()?],
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= 4 => a
                .iter()
                .map(|p| {
                    p.as_str()
                        .ok_or_else(|| list_error("statusPurpose must be strings"))?
                        .parse()
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(list_error("statusPurpose must be one or more strings")),
        };
        let encoded_list = subject
            .get("encodedList")
            .and_then(Value::as_str)
            .ok_or_else(|| list_error("credentialSubject.encodedList must be a string"))?
            .to_owned();
        Ok(Self {
            id: id.to_owned(),
            issuer,
            purposes,
            valid_from,
            valid_until,
            encoded_list,
        })
    }
}
