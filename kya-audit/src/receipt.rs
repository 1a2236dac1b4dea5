//! Receipts: what a merchant decided on one agent request, signed by the merchant as a W3C
//! credential secured with `eddsa-jcs-2022`.
//!
//! A receipt's bytes are its JCS form (RFC 8785) with the proof in place; those exact bytes
//! are the log entry, and the receipt's digest (what a validation request names) is their
//! SHA-256. The proof's `@context` must equal the document's, so the signature covers every
//! byte the digest covers.

use kya_core::credential::{KYA_V1_CONTEXT, VC_V2_CONTEXT};
use kya_core::json::{JsonLimits, canonicalize, parse_strict};
use kya_core::proof;
use kya_core::{CredentialDigest, DidKey, Ed25519Signer, PublicKey, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::jcs::{self, SignerNames};

/// The credential type of a receipt.
pub const RECEIPT_TYPE: &str = "AgentReceipt";

/// The largest receipt accepted from outside (a receipt is a few hundred bytes; every field
/// is bounded by what the HTTP gate accepts).
pub const MAX_RECEIPT_BYTES: usize = 16 * 1024;

/// Why a receipt was refused or could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The bytes are not acceptable JSON.
    #[error("the receipt is not acceptable json: {0}")]
    Json(#[from] kya_core::json::JsonError),
    /// The bytes are JSON but not in their JCS form, so they do not name one receipt.
    #[error("the receipt bytes are not in jcs canonical form")]
    NotCanonical,
    /// The proof is missing, malformed or does not verify.
    #[error("the receipt's proof does not verify: {0}")]
    Proof(#[from] kya_core::ProofError),
    /// The proof leaves part of the document unsigned.
    #[error("the receipt's proof does not cover its whole @context")]
    UnsignedContent,
    /// The key that signed is not the issuer's.
    #[error("the receipt is signed by {signer}, not by its issuer {issuer}")]
    WrongSigner {
        /// Who signed.
        signer: String,
        /// Who the receipt says issued it.
        issuer: String,
    },
    /// The document is not a receipt of this version.
    #[error("not a kya receipt: {0}")]
    Form(String),
    /// The signer of a new receipt is not the issuer it names.
    #[error("the signing key is not the receipt's issuer")]
    SignerMismatch,
}

/// A money amount as recorded (decimal string and asset, as grants write them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountRecord {
    /// The decimal value.
    pub value: String,
    /// The asset.
    pub asset: String,
}

/// The request a receipt is about, as the merchant saw and judged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestRecord {
    /// The method.
    pub method: String,
    /// The authority.
    pub authority: String,
    /// The path.
    pub path: String,
    /// The query, without `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The `Content-Digest` the agent signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_digest: Option<String>,
    /// The action judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The amount judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<AmountRecord>,
    /// The signature's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// SHA-256 (hex) of the RFC 9421 signature base the agent signed: binds the receipt to
    /// that exact signed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_base_digest: Option<String>,
}

/// What the merchant decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Verified and allowed.
    Allowed,
    /// Verified, then denied by the grants, the policy or the ledger.
    Denied,
    /// Not verified (signature, chain, nonce, …).
    Refused,
}

/// One reason of a decision, by kya's stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRecord {
    /// The stable code.
    pub code: String,
    /// The chain link it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<usize>,
    /// The grant of that link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<usize>,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    /// Allowed, denied or refused.
    pub outcome: Outcome,
    /// The HTTP status answered.
    pub status: u16,
    /// Every reason (empty when allowed).
    #[serde(default)]
    pub reasons: Vec<ReasonRecord>,
}

/// One charge to a budget or rate counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeRecord {
    /// The chain link whose grant carries the counter.
    pub link: usize,
    /// The grant's index in that link.
    pub grant: usize,
    /// The digest of the credential that holds the grant.
    pub credential: String,
    /// `budget` or `rate`.
    pub kind: String,
    /// What was charged, as words (`12.50 USD`, `1 request`).
    pub obligation: String,
}

/// Where the receipt sits in the merchant's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogPosition {
    /// The log's origin (its checkpoints' first line and key name).
    pub origin: String,
    /// The receipt's index, from 0.
    pub index: u64,
}

/// What happened: the `activity` of a receipt's subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Activity {
    /// The merchant (its audience DID).
    pub merchant: String,
    /// The principal the agent acts for, when the chain verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The chain's digest (multibase, as kya writes chain digests), when the chain verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The request.
    pub request: RequestRecord,
    /// The decision.
    pub decision: DecisionRecord,
    /// What an allowed request was charged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charges: Vec<ChargeRecord>,
    /// The payment an allowed request settled (x402), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<SettlementRecord>,
    /// Where the receipt sits in the log.
    pub log: LogPosition,
}

/// A payment settled on chain before the request went on (x402 `PAYMENT-RESPONSE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementRecord {
    /// The CAIP-2 network (`eip155:31337`).
    pub network: String,
    /// The settlement transaction's hash (`0x` + 64 hex).
    pub transaction: String,
    /// The payer's address.
    pub payer: String,
}

/// A receipt's content, before or after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The merchant's receipt key, as a did:key: the issuer.
    pub issuer: DidKey,
    /// When the merchant decided (the receipt's `validFrom`).
    pub decided_at: Timestamp,
    /// The agent, when the request named one that verified.
    pub agent: Option<DidKey>,
    /// What happened.
    pub activity: Activity,
}

impl Receipt {
    /// The unsigned credential document ([`sign`](Self::sign) writes its JCS form directly,
    /// byte for byte the same).
    pub fn to_document(&self) -> Result<Value, ReceiptError> {
        let activity =
            serde_json::to_value(&self.activity).map_err(|e| ReceiptError::Form(e.to_string()))?;
        let mut subject = Map::new();
        if let Some(agent) = &self.agent {
            subject.insert("id".into(), agent.to_string().into());
        }
        subject.insert("activity".into(), activity);
        Ok(json!({
            "@context": [VC_V2_CONTEXT, KYA_V1_CONTEXT],
            "type": ["VerifiableCredential", RECEIPT_TYPE],
            "issuer": self.issuer.to_string(),
            "validFrom": self.decided_at.to_string(),
            "credentialSubject": subject,
        }))
    }

    /// Signs the receipt with the issuer's key: its JCS bytes, ready for the log.
    pub fn sign(&self, signer: &dyn Ed25519Signer) -> Result<SignedReceipt, ReceiptError> {
        let did = DidKey::from_public_key(signer.public_key());
        if did != self.issuer {
            return Err(ReceiptError::SignerMismatch);
        }
        self.clone().sign_named(signer, &SignerNames::new(did))
    }

    /// As [`sign`](Self::sign), with the signer's names worked out once by the caller.
    pub(crate) fn sign_named(
        self,
        signer: &dyn Ed25519Signer,
        names: &SignerNames,
    ) -> Result<SignedReceipt, ReceiptError> {
        if names.did != self.issuer || names.did.public_key() != signer.public_key() {
            return Err(ReceiptError::SignerMismatch);
        }
        let bytes = jcs::signed_bytes(&self, names, signer)?;
        Ok(SignedReceipt {
            digest: CredentialDigest::of_canonical(&bytes),
            bytes,
            receipt: self,
        })
    }
}

/// A receipt whose signature by its issuer verified, with its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    bytes: Vec<u8>,
    digest: CredentialDigest,
    receipt: Receipt,
}

impl AsRef<[u8]> for SignedReceipt {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl SignedReceipt {
    /// Reads and verifies a receipt from untrusted bytes: strict JSON in JCS form, a
    /// receipt of this version, an `eddsa-jcs-2022` proof by its issuer over every byte.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ReceiptError> {
        let limits = JsonLimits {
            max_bytes: MAX_RECEIPT_BYTES,
            ..JsonLimits::default()
        };
        let value = parse_strict(bytes, limits)?;
        if canonicalize(&value)? != bytes {
            return Err(ReceiptError::NotCanonical);
        }
        let object = value
            .as_object()
            .ok_or_else(|| ReceiptError::Form("not an object".into()))?;
        if object.get("proof").and_then(|p| p.get("@context")) != object.get("@context") {
            return Err(ReceiptError::UnsignedContent);
        }
        let info = proof::verify(&value)?;
        let receipt = read_receipt(object)?;
        if info.signer != receipt.issuer {
            return Err(ReceiptError::WrongSigner {
                signer: info.signer.to_string(),
                issuer: receipt.issuer.to_string(),
            });
        }
        if info.proof_purpose != "assertionMethod" {
            return Err(ReceiptError::Form(format!(
                "proof purpose `{}`, not assertionMethod",
                info.proof_purpose
            )));
        }
        Ok(Self {
            bytes: bytes.to_vec(),
            digest: CredentialDigest::of_canonical(bytes),
            receipt,
        })
    }

    /// The exact bytes: the log entry.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-256 of the bytes: the receipt's name (a validation's `requestHash`).
    pub fn digest(&self) -> CredentialDigest {
        self.digest
    }

    /// The content.
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }

    /// The key that signed: the issuer's.
    pub fn signer(&self) -> PublicKey {
        self.receipt.issuer.public_key()
    }
}

/// The typed content of a receipt document (its proof checked elsewhere).
fn read_receipt(object: &Map<String, Value>) -> Result<Receipt, ReceiptError> {
    let form = |what: &str| ReceiptError::Form(what.to_owned());
    let allowed = [
        "@context",
        "type",
        "issuer",
        "validFrom",
        "credentialSubject",
        "proof",
    ];
    if let Some(key) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ReceiptError::Form(format!("unexpected member `{key}`")));
    }
    if object.get("@context") != Some(&json!([VC_V2_CONTEXT, KYA_V1_CONTEXT])) {
        return Err(form("@context must be [credentials v2, kya v1]"));
    }
    if object.get("type") != Some(&json!(["VerifiableCredential", RECEIPT_TYPE])) {
        return Err(form("type must be [VerifiableCredential, AgentReceipt]"));
    }
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| ReceiptError::Form(format!("`{key}` must be a string")))
    };
    let issuer: DidKey = text("issuer")?
        .parse()
        .map_err(|e| ReceiptError::Form(format!("issuer: {e}")))?;
    let decided_at: Timestamp = text("validFrom")?
        .parse()
        .map_err(|e| ReceiptError::Form(format!("validFrom: {e}")))?;
    let subject = object
        .get("credentialSubject")
        .and_then(Value::as_object)
        .ok_or_else(|| form("credentialSubject must be an object"))?;
    if let Some(key) = subject.keys().find(|k| *k != "id" && *k != "activity") {
        return Err(ReceiptError::Form(format!(
            "unexpected subject member `{key}`"
        )));
    }
    let agent = match subject.get("id") {
        None => None,
        Some(id) => Some(
            id.as_str()
                .ok_or_else(|| form("the subject id must be a string"))?
                .parse::<DidKey>()
                .map_err(|e| ReceiptError::Form(format!("subject id: {e}")))?,
        ),
    };
    let activity: Activity = subject
        .get("activity")
        .map(|a| Activity::deserialize(a).map_err(|e| ReceiptError::Form(format!("activity: {e}"))))
        .ok_or_else(|| form("the subject has no activity"))??;
    Ok(Receipt {
        issuer,
        decided_at,
        agent,
        activity,
    })
}
