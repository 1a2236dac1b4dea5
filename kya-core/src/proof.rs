//! Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite (W3C vc-di-eddsa §3.3).
//!
//! # Exactly which bytes get signed
//!
//! For a document `D` (without `proof`) and proof options `P` (the proof without
//! `proofValue`; `P.@context` = `D.@context` when `D` has one):
//!
//! ```text
//! hashData  = SHA-256(JCS(P)) ‖ SHA-256(JCS(D))      (64 bytes; proof config first)
//! signature = Ed25519-Sign(secret key, hashData)     (RFC 8032, deterministic)
//! proofValue = "z" + base58btc(signature)
//! ```
//!
//! Verification recomputes `hashData` from the received document and checks the signature
//! under kya's Ed25519 rule ([`crate::ed25519`]): canonical encodings, no small-order `R` or
//! key, and the cofactored equation — the rule every other path (chain batch, presentation,
//! signed request) applies too.

use ed25519_dalek::Signature;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::did::{DidError, DidKey};
use crate::ed25519::SignatureError;
use crate::json::{
    JsonError, JsonLimits, SecuredCanonical, canonicalize, canonicalize_edited, parse_i_json,
};
use crate::key::{Ed25519Signer, PublicKey};
use crate::timestamp::Timestamp;

/// The proof `type` of every Data Integrity proof.
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The cryptosuite implemented here.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";

/// Why a proof could not be created or did not verify.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The secured value is not a JSON object.
    #[error("the document must be a json object")]
    NotAnObject,
    /// There is no `proof`.
    #[error("the document has no proof")]
    MissingProof,
    /// `proof` is an array (a proof set or chain), which kya does not accept.
    #[error("the document carries {count} proofs; kya accepts exactly one")]
    ProofSet {
        /// How many.
        count: usize,
    },
    /// A required proof property is missing or has the wrong JSON type.
    #[error("proof property `{property}` is missing or not a {expected}")]
    MissingProperty {
        /// The property.
        property: &'static str,
        /// The JSON type expected.
        expected: &'static str,
    },
    /// `type` or `cryptosuite` name another suite.
    #[error(
        "unsupported proof: type `{kind}`, cryptosuite `{cryptosuite}` (expected DataIntegrityProof / eddsa-jcs-2022)"
    )]
    UnsupportedSuite {
        /// The proof type found.
        kind: String,
        /// The cryptosuite found.
        cryptosuite: String,
    },
    /// `created` or `expires` is not an XSD dateTimeStamp.
    #[error("proof `{property}` is not an xsd dateTimeStamp: `{value}`")]
    BadTimestamp {
        /// The property.
        property: &'static str,
        /// The value found.
        value: String,
    },
    /// The verification method cannot be resolved to an Ed25519 key.
    #[error("verification method `{vm}` is not a did:key ed25519 method: {source}")]
    VerificationMethod {
        /// The method id.
        vm: String,
        /// Why it could not be used.
        source: DidError,
    },
    /// `proofValue` is not base58btc multibase of 64 bytes.
    #[error("proofValue is not a base58btc-encoded 64-byte ed25519 signature")]
    MalformedProofValue,
    /// The proof's `@context` is not a prefix of the document's.
    #[error("the proof @context is not a prefix of the document @context")]
    ContextMismatch,
    /// The signature does not verify over the document.
    #[error(
        "signature by {signer} does not verify: the document or its proof was altered, or another key signed it"
    )]
    BadSignature {
        /// The verification method whose key was tried.
        signer: String,
    },
    /// The signature's encoding is refused by kya's Ed25519 rule (non-canonical `S` or `R`,
    /// small-order `R`).
    #[error("signature by {signer} is refused: {reason}")]
    RefusedSignature {
        /// The verification method whose key was tried.
        signer: String,
        /// Which check failed.
        reason: SignatureError,
    },
    /// A value could not be canonicalized.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// The signer failed.
    #[error("the signer failed: {0}")]
    Signer(String),
}

/// The options of a new proof (W3C Data Integrity §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofOptions {
    /// The verification method id (`did:key:z6Mk…#z6Mk…`).
    pub verification_method: String,
    /// `assertionMethod` for credentials, `authentication` for presentations.
    pub proof_purpose: String,
    /// When the proof was made.
    pub created: Option<Timestamp>,
    /// When the proof stops being valid.
    pub expires: Option<Timestamp>,
    /// Data Integrity `challenge` (a nonce chosen by, or agreed with, the verifier).
    pub challenge: Option<String>,
    /// Data Integrity `domain` (the audience the proof is meant for).
    pub domain: Option<String>,
}

impl ProofOptions {
    /// An `assertionMethod` proof by the did:key of `key`, with no creation time.
    pub fn assertion(key: PublicKey) -> Self {
        Self {
            verification_method: DidKey::from_public_key(key).verification_method_id(),
            proof_purpose: "assertionMethod".to_owned(),
            created: None,
            expires: None,
            challenge: None,
            domain: None,
        }
    }

    /// Sets `created`.
    pub fn created(mut self, at: Timestamp) -> Self {
        self.created = Some(at);
        self
    }

    fn to_proof_config(&self, context: Option<&Value>) -> Map<String, Value> {
        let mut p = Map::new();
        p.insert("type".into(), PROOF_TYPE.into());
        p.insert("cryptosuite".into(), CRYPTOSUITE.into());
        if let Some(created) = self.created {
            p.insert("created".into(), created.to_string().into());
        }
        if let Some(expires) = self.expires {
            p.insert("expires".into(), expires.to_string().into());
        }
        p.insert(
            "verificationMethod".into(),
            self.verification_method.clone().into(),
        );
        p.insert("proofPurpose".into(), self.proof_purpose.clone().into());
        if let Some(c) = &self.challenge {
            p.insert("challenge".into(), c.clone().into());
        }
        if let Some(d) = &self.domain {
            p.insert("domain".into(), d.clone().into());
        }
        if let Some(ctx) = context {
            p.insert("@context".into(), ctx.clone());
        }
        p
    }
}

/// The exact inputs of an `eddsa-jcs-2022` signature, for audit and conformance tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningInput {
    /// `JCS(proof config)`.
    pub canonical_proof_config: Vec<u8>,
    /// `JCS(document without proof)`.
    pub canonical_document: Vec<u8>,
    /// `SHA-256(canonical_proof_config) ‖ SHA-256(canonical_document)`: the signed message.
    pub hash_data: [u8; 64],
}

/// A proof configuration (a proof without its `proofValue`) as JSON.
///
/// Its own type so that it cannot be passed where the document goes: both are JSON values,
/// and swapping them would hash a different message without any error.
///
/// ```
/// # use kya_core::proof::{ProofConfig, SigningInput};
/// let config = serde_json::json!({"type": "DataIntegrityProof"});
/// let document = serde_json::json!({"name": "x"});
/// let input = SigningInput::new(ProofConfig(&config), &document)?;
/// assert_eq!(input.canonical_document, br#"{"name":"x"}"#);
/// # Ok::<(), kya_core::ProofError>(())
/// ```
///
/// ```compile_fail
/// # use kya_core::proof::{ProofConfig, SigningInput};
/// let config = serde_json::json!({"type": "DataIntegrityProof"});
/// let document = serde_json::json!({"name": "x"});
/// let input = SigningInput::new(&document, ProofConfig(&config));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofConfig<'a>(pub &'a Value);

impl SigningInput {
    /// Canonicalizes and hashes a proof config and an unsecured document.
    pub fn new(proof_config: ProofConfig<'_>, document: &Value) -> Result<Self, ProofError> {
        let canonical_proof_config = canonicalize(proof_config.0)?;
        let canonical_document = canonicalize(document)?;
        let mut hash_data = [0u8; 64];
        hash_data[..32].copy_from_slice(&Sha256::digest(&canonical_proof_config));
        hash_data[32..].copy_from_slice(&Sha256::digest(&canonical_document));
        Ok(Self {
            canonical_proof_config,
            canonical_document,
            hash_data,
        })
    }
}

/// Signs a JSON object, returning it with a `proof` added.
///
/// Any existing `proof` is refused rather than replaced: adding a second proof would make a
/// proof set, which kya does not produce.
pub fn sign(
    document: &Value,
    options: &ProofOptions,
    signer: &dyn Ed25519Signer,
) -> Result<Value, ProofError> {
    let object = document.as_object().ok_or(ProofError::NotAnObject)?;
    if object.contains_key("proof") {
        return Err(ProofError::ProofSet { count: 2 });
    }
    let config = Value::Object(options.to_proof_config(object.get("@context")));
    let input = SigningInput::new(ProofConfig(&config), document)?;
    let signature = signer
        .try_sign(&input.hash_data)
        .map_err(|e| ProofError::Signer(e.to_string()))?;
    let mut proof = match config {
        Value::Object(p) => p,
        _ => return Err(ProofError::NotAnObject),
    };
    proof.insert("proofValue".into(), proof_value(&signature).into());
    let mut secured = object.clone();
    secured.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(secured))
}

/// What a proof says about itself, read from a secured document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofInfo {
    /// The did:key whose key made the signature.
    pub signer: DidKey,
    /// The verification method id as written.
    pub verification_method: String,
    /// `proofPurpose`.
    pub proof_purpose: String,
    /// `created`, if present.
    pub created: Option<Timestamp>,
    /// `expires`, if present.
    pub expires: Option<Timestamp>,
    /// `challenge`, if present.
    pub challenge: Option<String>,
    /// `domain`, if present.
    pub domain: Option<String>,
}

/// A parsed proof with its signed message, ready for a single or a batch check.
#[derive(Debug, Clone)]
pub struct PreparedProof {
    /// What the proof says.
    pub info: ProofInfo,
    /// The signed message (`hashData`).
    pub message: [u8; 64],
    /// The signature.
    pub signature: Signature,
}

impl PreparedProof {
    /// Parses the proof of a secured document and recomputes the message it must sign,
    /// per the verification algorithm of vc-di-eddsa §3.3.2. Does not check the signature.
    pub fn from_document(secured: &Value) -> Result<Self, ProofError> {
        Self::from_document_known(secured, None)
    }

    /// As [`from_document`](Self::from_document), with a DID string already parsed into a
    /// key (the issuer's), reused when the verification method names that DID.
    pub(crate) fn from_document_known(
        secured: &Value,
        known: Option<(&str, DidKey)>,
    ) -> Result<Self, ProofError> {
        let (object, proof) = proof_object(secured)?;
        let mut prepared = Self::parse(proof, known)?;
        // Canonical forms of `proof` minus `proofValue` and of the document minus `proof`
        // (with the proof's `@context`, when it has one), written without copying either.
        let proof_context = proof.get("@context");
        if let Some(proof_context) = proof_context {
            if !context_is_prefix(proof_context, object.get("@context")) {
                return Err(ProofError::ContextMismatch);
            }
        }
        let canonical_options = canonicalize_edited(proof, "proofValue", None)?;
        let canonical_unsecured =
            canonicalize_edited(object, "proof", proof_context.map(|c| ("@context", c)))?;
        prepared.message = hash_data([&canonical_options, &[]], [&canonical_unsecured, &[]]);
        Ok(prepared)
    }

    /// As [`from_document_known`](Self::from_document_known) for a document already written
    /// in JCS form, whose proof either has no `@context` or exactly the document's: the
    /// signed message is then the canonical bytes with the proof (or its value) cut out.
    /// `unsecured_hash` is the second half of that message, [`SecuredCanonical::hashes`] of
    /// `canonical`.
    pub(crate) fn from_secured_canonical(
        secured: &Value,
        canonical: &SecuredCanonical,
        unsecured_hash: Option<[u8; 32]>,
        known: Option<(&str, DidKey)>,
    ) -> Result<Self, ProofError> {
        let (object, proof) = proof_object(secured)?;
        let mut prepared = Self::parse(proof, known)?;
        if proof
            .get("@context")
            .is_some_and(|c| Some(c) != object.get("@context"))
        {
            return Err(ProofError::ContextMismatch);
        }
        let (config, _) = canonical.signed_parts().ok_or(ProofError::MissingProof)?;
        let unsecured_hash = unsecured_hash.ok_or(ProofError::MissingProof)?;
        prepared.message[..32].copy_from_slice(&sha256_of_parts(&config));
        prepared.message[32..].copy_from_slice(&unsecured_hash);
        Ok(prepared)
    }

    /// Reads the proof's members (everything but the message it signs).
    fn parse(
        proof: &Map<String, Value>,
        known: Option<(&str, DidKey)>,
    ) -> Result<Self, ProofError> {
        let kind = str_property(proof, "type")?;
        let cryptosuite = str_property(proof, "cryptosuite")?;
        if kind != PROOF_TYPE || cryptosuite != CRYPTOSUITE {
            return Err(ProofError::UnsupportedSuite {
                kind: kind.chars().take(64).collect(),
                cryptosuite: cryptosuite.chars().take(64).collect(),
            });
        }
        let verification_method = str_property(proof, "verificationMethod")?;
        let signer = DidKey::from_verification_method_known(verification_method, known).map_err(
            |source| ProofError::VerificationMethod {
                vm: verification_method.chars().take(128).collect(),
                source,
            },
        )?;
        let proof_purpose = str_property(proof, "proofPurpose")?.to_owned();
        let created = timestamp_property(proof, "created")?;
        let expires = timestamp_property(proof, "expires")?;
        let challenge = optional_str_property(proof, "challenge")?;
        let domain = optional_str_property(proof, "domain")?;
        let signature = decode_proof_value(str_property(proof, "proofValue")?)?;
        Ok(Self {
            info: ProofInfo {
                signer,
                verification_method: verification_method.to_owned(),
                proof_purpose,
                created,
                expires,
                challenge,
                domain,
            },
            message: [0; 64],
            signature,
        })
    }

    /// Checks the signature under kya's Ed25519 rule ([`crate::ed25519::verify`]).
    pub fn verify(self) -> Result<ProofInfo, ProofError> {
        match crate::ed25519::verify(
            &self.info.signer.public_key(),
            &self.message,
            &self.signature,
        ) {
            Ok(()) => Ok(self.info),
            Err(SignatureError::Equation) => Err(ProofError::BadSignature {
                signer: self.info.verification_method,
            }),
            Err(reason) => Err(ProofError::RefusedSignature {
                signer: self.info.verification_method,
                reason,
            }),
        }
    }
}

/// Verifies the `eddsa-jcs-2022` proof of a secured document.
pub fn verify(secured: &Value) -> Result<ProofInfo, ProofError> {
    PreparedProof::from_document(secured)?.verify()
}

/// Reads untrusted bytes as a document to [`sign`] or [`verify`]: any I-JSON document
/// ([`parse_i_json`]: every finite double, duplicate keys, depth and size refused), not only
/// the numbers kya's own credentials use.
pub fn read_document(bytes: &[u8], limits: JsonLimits) -> Result<Value, ProofError> {
    Ok(parse_i_json(bytes, limits)?)
}

/// Verifies the proof of a secured document given as untrusted bytes ([`read_document`],
/// then [`verify`]).
pub fn verify_slice(bytes: &[u8], limits: JsonLimits) -> Result<ProofInfo, ProofError> {
    verify(&read_document(bytes, limits)?)
}

/// The secured document as an object, and its one proof.
type Object = Map<String, Value>;

fn proof_object(secured: &Value) -> Result<(&Object, &Object), ProofError> {
    let object = secured.as_object().ok_or(ProofError::NotAnObject)?;
    match object.get("proof") {
        Some(Value::Object(p)) => Ok((object, p)),
        Some(Value::Array(a)) => Err(ProofError::ProofSet { count: a.len() }),
        Some(_) => Err(ProofError::MissingProperty {
            property: "proof",
            expected: "object",
        }),
        None => Err(ProofError::MissingProof),
    }
}

/// `hashData`: SHA-256 of the canonical proof configuration, then of the canonical
/// unsecured document, each given as two slices hashed in turn.
fn hash_data(config: [&[u8]; 2], unsecured: [&[u8]; 2]) -> [u8; 64] {
    hash_canonical_parts(&config, &unsecured)
}

/// `hashData` (the signed message) from canonical forms a signer wrote itself: SHA-256 of
/// JCS(proof config), then of JCS(document without proof), each given as the byte slices
/// that make it up, in order.
pub fn hash_canonical_parts(
    canonical_proof_config: &[&[u8]],
    canonical_document: &[&[u8]],
) -> [u8; 64] {
    let mut message = [0u8; 64];
    message[..32].copy_from_slice(&sha256_of_parts(canonical_proof_config));
    message[32..].copy_from_slice(&sha256_of_parts(canonical_document));
    message
}

/// SHA-256 of byte slices hashed in turn.
fn sha256_of_parts(parts: &[&[u8]]) -> [u8; 32] {
    parts
        .iter()
        .fold(Sha256::new(), |h, part| h.chain_update(part))
        .finalize()
        .into()
}

/// The `proofValue` of a signature: `z` + base58btc of its 64 bytes.
pub fn proof_value(signature: &Signature) -> String {
    crate::key::base58btc_multibase(&signature.to_bytes())
}

fn str_property<'a>(
    proof: &'a Map<String, Value>,
    property: &'static str,
) -> Result<&'a str, ProofError> {
    proof
        .get(property)
        .and_then(Value::as_str)
        .ok_or(ProofError::MissingProperty {
            property,
            expected: "string",
        })
}

fn optional_str_property(
    proof: &Map<String, Value>,
    property: &'static str,
) -> Result<Option<String>, ProofError> {
    match proof.get(property) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ProofError::MissingProperty {
            property,
            expected: "string",
        }),
    }
}

fn timestamp_property(
    proof: &Map<String, Value>,
    property: &'static str,
) -> Result<Option<Timestamp>, ProofError> {
    optional_str_property(proof, property)?
        .map(|s| {
            s.parse().map_err(|_| ProofError::BadTimestamp {
                property,
                value: s.chars().take(64).collect(),
            })
        })
        .transpose()
}

fn decode_proof_value(value: &str) -> Result<Signature, ProofError> {
    if !value.starts_with('z') || value.len() > 100 {
        return Err(ProofError::MalformedProofValue);
    }
    match crate::key::base58btc_decode(&value[1..]) {
        Some(bytes) => {
            let bytes: [u8; 64] = bytes
                .try_into()
                .map_err(|_| ProofError::MalformedProofValue)?;
            // One signature, one spelling: a second spelling of the same bytes would give
            // the secured document a second digest. Base58 writes a number in exactly one
            // way, and each leading zero byte as one leading `1`; the decoder maps both back,
            // so the spelling is the encoder's iff the 64 bytes came back (checked above)
            // with as many leading zero bytes as the text has leading `1`s.
            let ones = value[1..].bytes().take_while(|&c| c == b'1').count();
            let zeros = bytes.iter().take_while(|&&b| b == 0).count();
            if ones != zeros {
                return Err(ProofError::MalformedProofValue);
            }
            Ok(Signature::from_bytes(&bytes))
        }
        None => Err(ProofError::MalformedProofValue),
    }
}

/// vc-di-eddsa §3.3.2 step 4: the document's `@context` must start with every value of the
/// proof's, in the same order.
fn context_is_prefix(proof_context: &Value, document_context: Option<&Value>) -> bool {
    fn as_list(v: &Value) -> Vec<&Value> {
        match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        }
    }
    let Some(document_context) = document_context else {
        return false;
    };
    let proof_list = as_list(proof_context);
    let document_list = as_list(document_context);
    proof_list.len() <= document_list.len()
        && proof_list.iter().zip(&document_list).all(|(a, b)| a == b)
}
