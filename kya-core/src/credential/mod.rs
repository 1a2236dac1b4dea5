//! W3C Verifiable Credentials 2.0 and the three kya credential kinds.
//!
//! Untrusted bytes become an [`UnverifiedCredential`] (the VC 2.0 data model checked, the
//! kya kind parsed, nothing about the signature known yet); [`UnverifiedCredential::verify_proof`]
//! turns it into a [`VerifiedCredential`], which only a good signature by a key the issuer
//! controls can produce. Whether a `did:pkh` issuer stands behind its signing key is a fact of
//! the registry, which the verifier (`kya-verify`) checks; [`IssuerBinding`] says which case
//! applies.

mod kinds;

pub use kinds::{
    AGENT_AUTHORIZATION, AGENT_DELEGATION, AGENT_REPUTATION, AgentAuthorization, AgentDelegation,
    AgentId, AgentRegistration, CredentialBuilder, CredentialKind, ParentRef, RegistryAddress,
    ReputationAttestation, ReputationRef, new_credential_id,
};

use serde_json::{Map, Value};

use ed25519_dalek::Signature;

use crate::chain::Link;
use crate::contexts::{AcceptedContexts, ContextError};
use crate::did::{Did, DidKey};
use crate::digest::CredentialDigest;
use crate::ed25519::{self, SignatureError};
use crate::json::{JsonError, JsonLimits, ReadValue, SecuredCanonical, canonicalize, read_strict};
use crate::key::Ed25519Signer;
use crate::key::PublicKey;
use crate::proof::{self, PreparedProof, ProofError, ProofInfo, ProofOptions};
use crate::timestamp::Timestamp;
use crate::vcdm::{self, Violations};

pub use crate::vcdm::VC_V2_CONTEXT;
pub(crate) use crate::vcdm::is_url;
/// The context defining the terms kya adds (committed at `test-vectors/contexts/kya-v1.jsonld`).
pub const KYA_V1_CONTEXT: &str = "https://w3id.org/kya/v1";
/// The terms kya's context defines at its top level (it is `@protected`). Checked against
/// `test-vectors/contexts/kya-v1.jsonld` by a test.
pub const KYA_V1_TERMS: &[&str] = &[
    "AgentAuthorization",
    "AgentDelegation",
    "AgentReputationAttestation",
    "AgentReceipt",
    "activity",
    "parentCredential",
    "registration",
    "reputation",
    "grants",
    "value",
    "valueDecimals",
    "tag1",
    "tag2",
    "endpoint",
];

/// Why a credential was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialError {
    /// The bytes are not acceptable JSON.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// Not a JSON object.
    #[error("a credential must be a json object")]
    NotAnObject,
    /// VC Data Model 2.0 rules are broken (every violation found).
    #[error("not a vc 2.0 credential: {0}")]
    DataModel(#[source] Violations),
    /// The `@context` names a context kya does not accept.
    #[error("context: {0}")]
    Context(#[from] ContextError),
    /// The credential is VC 2.0 but not one of kya's kinds, or a kya field is wrong.
    #[error("not a valid kya credential: {0}")]
    Kya(String),
    /// `validFrom` is after `validUntil`.
    #[error("validFrom {valid_from} is after validUntil {valid_until}")]
    InvertedValidity {
        /// `validFrom`.
        valid_from: Timestamp,
        /// `validUntil`.
        valid_until: Timestamp,
    },
    /// The proof is missing, malformed or does not verify.
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    /// The proof was made by a key the issuer does not control.
    #[error("signed by {signer}, which is not the issuer {issuer}")]
    WrongSigner {
        /// The key that signed.
        signer: String,
        /// The credential's issuer.
        issuer: String,
    },
    /// A delegation was to be signed by a key other than its parent credential's subject:
    /// only the agent a credential names can delegate from it.
    #[error(
        "the key {signer} is not the parent credential's subject {subject}: only the subject can delegate"
    )]
    DelegatorNotSubject {
        /// The did:key of the key that was to sign.
        signer: String,
        /// The parent credential's subject.
        subject: String,
    },
    /// A delegation would widen its parent's grants.
    #[error("the delegation would widen its parent: {0}")]
    WidensParent(#[source] Box<crate::grant::GrantSetWidening>),
    /// A delegation would be valid outside its parent's window.
    #[error("the delegation's window {valid_from} – {valid_until} is not inside its parent's {parent_from} – {}", parent_until.map_or_else(|| "(unbounded)".to_owned(), |t| t.to_string()))]
    OutsideParentValidity {
        /// The child's `validFrom`.
        valid_from: Timestamp,
        /// The child's `validUntil`.
        valid_until: Timestamp,
        /// The parent's `validFrom`.
        parent_from: Timestamp,
        /// The parent's `validUntil`.
        parent_until: Option<Timestamp>,
    },
    /// Part of the document is outside what its proof signs: the proof's `@context` differs
    /// from the document's. Such a document could be given a second name (digest) by anyone,
    /// so kya refuses it.
    #[error(
        "the proof signs a different @context than the credential carries: content outside the signature is refused"
    )]
    UnsignedContent,
    /// The proof's purpose is not `assertionMethod`.
    #[error("proof purpose is `{found}`, a credential needs `assertionMethod`")]
    WrongPurpose {
        /// The purpose found.
        found: String,
    },
}

/// A credential parsed from untrusted input whose proof has not been checked.
///
/// The VC 2.0 data model and the kya kind are valid; nothing else is known.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedCredential {
    document: Value,
    kind: CredentialKind,
    /// The bytes `document` was read from, when they are its JCS form already.
    jcs: Option<SecuredCanonical>,
}

impl UnverifiedCredential {
    /// Parses untrusted bytes with the default [`JsonLimits`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CredentialError> {
        Self::from_slice_with(bytes, JsonLimits::default())
    }

    /// Parses untrusted bytes with explicit limits.
    pub fn from_slice_with(bytes: &[u8], limits: JsonLimits) -> Result<Self, CredentialError> {
        Self::from_read_accepting(read_strict(bytes, limits)?, &AcceptedContexts::default())
    }

    /// Parses untrusted bytes, accepting the contexts `accepted` names beyond kya's own.
    pub fn from_slice_accepting(
        bytes: &[u8],
        limits: JsonLimits,
        accepted: &AcceptedContexts,
    ) -> Result<Self, CredentialError> {
        Self::from_read_accepting(read_strict(bytes, limits)?, accepted)
    }

    /// Checks a JSON value against VC 2.0 ([`vcdm`], every rule), kya's contexts and the kya
    /// kinds.
    pub fn from_value(document: Value) -> Result<Self, CredentialError> {
        Self::from_value_accepting(document, &AcceptedContexts::default())
    }

    /// [`from_value`](Self::from_value), accepting the contexts `accepted` names beyond
    /// kya's own.
    pub fn from_value_accepting(
        document: Value,
        accepted: &AcceptedContexts,
    ) -> Result<Self, CredentialError> {
        Self::from_read_accepting(ReadValue::from(document), accepted)
    }

    /// [`from_value_accepting`](Self::from_value_accepting) of a value read from bytes
    /// ([`crate::json::read_strict`]): when those bytes are its JCS form already, the
    /// credential is named and hashed from them rather than from bytes written again.
    pub fn from_read_accepting(
        read: ReadValue,
        accepted: &AcceptedContexts,
    ) -> Result<Self, CredentialError> {
        let (document, jcs) = read.into_parts();
        let object = document.as_object().ok_or(CredentialError::NotAnObject)?;
        Violations::check(vcdm::check_credential(&document)).map_err(CredentialError::DataModel)?;
        let context = object.get("@context").unwrap_or(&Value::Null);
        accepted.check_credential(context)?;
        check_fully_signed(object)?;
        let kind = CredentialKind::from_document(object)?;
        Ok(Self {
            document,
            kind,
            jcs,
        })
    }

    /// The parsed kya content.
    pub fn kind(&self) -> &CredentialKind {
        &self.kind
    }

    /// The JSON document as received.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// SHA-256 of the document's JCS bytes (proof included): the credential's name in
    /// delegations, revocations and caches.
    pub fn digest(&self) -> Result<CredentialDigest, CredentialError> {
        Ok(match &self.jcs {
            Some(jcs) => CredentialDigest::of_canonical(jcs.bytes()),
            None => CredentialDigest::of_canonical(&canonicalize(&self.document)?),
        })
    }

    /// Parses the proof and computes the signed message, for a batch check by a verifier.
    /// Refuses proofs by a key the issuer does not control before any signature work.
    pub fn prepare(&self) -> Result<(PreparedProof, IssuerBinding), CredentialError> {
        self.prepare_with(None)
    }

    /// [`prepare`](Self::prepare), hashing the signed message from the credential's
    /// canonical form when it was written already.
    fn prepare_with(
        &self,
        canonical: Option<(&SecuredCanonical, Option<[u8; 32]>)>,
    ) -> Result<(PreparedProof, IssuerBinding), CredentialError> {
        let issuer = self.kind.issuer();
        // The issuer's did:key is parsed already: a proof by the issuer's own key (the usual
        // case) reuses it rather than decoding and decompressing the same key again.
        let known = match (&issuer, issuer_string(&self.document)) {
            (Did::Key(k), Some(s)) => Some((s, *k)),
            _ => None,
        };
        // Both paths hash the same bytes (check_fully_signed makes the proof's `@context`
        // the document's); the canonical one only avoids writing them again.
        let prepared = match canonical {
            Some((c, unsecured_hash)) => {
                PreparedProof::from_secured_canonical(&self.document, c, unsecured_hash, known)?
            }
            None => PreparedProof::from_document_known(&self.document, known)?,
        };
        if prepared.info.proof_purpose != "assertionMethod" {
            return Err(CredentialError::WrongPurpose {
                found: prepared.info.proof_purpose.chars().take(64).collect(),
            });
        }
        let binding = issuer_binding(&issuer, &prepared.info.signer)?;
        Ok((prepared, binding))
    }

    /// Checks the proof (kya's Ed25519 rule) and that the issuer controls the signing key as far
    /// as the credential itself can show.
    pub fn verify_proof(self) -> Result<VerifiedCredential, CredentialError> {
        let PreparedCredential {
            named,
            proof,
            binding,
        } = NamedCredential::new(self)?.prepare()?;
        let info = proof.verify()?;
        Ok(named.credential.into_verified(info, binding, named.digest))
    }

    fn into_verified(
        self,
        proof: ProofInfo,
        issuer_binding: IssuerBinding,
        digest: CredentialDigest,
    ) -> VerifiedCredential {
        VerifiedCredential {
            document: self.document,
            kind: self.kind,
            proof,
            issuer_binding,
            digest,
        }
    }
}

/// A credential with its one name computed: its canonical (JCS) bytes and their SHA-256.
/// Nothing about the signature is known yet.
#[derive(Debug, Clone)]
pub struct NamedCredential {
    credential: UnverifiedCredential,
    canonical: SecuredCanonical,
    digest: CredentialDigest,
    /// SHA-256 of the canonical bytes without the proof, hashed with `digest`.
    unsecured_hash: Option<[u8; 32]>,
}

impl NamedCredential {
    /// Names `credential`.
    pub fn new(mut credential: UnverifiedCredential) -> Result<Self, CredentialError> {
        let canonical = match credential.jcs.take() {
            Some(read) => read,
            None => SecuredCanonical::new(&credential.document)?,
        };
        let (digest, unsecured_hash) = canonical.hashes();
        Ok(Self {
            credential,
            canonical,
            digest: CredentialDigest(digest),
            unsecured_hash,
        })
    }

    /// The kya content (not yet verified).
    pub fn kind(&self) -> &CredentialKind {
        self.credential.kind()
    }

    /// The JCS bytes of the whole credential, every one of which its proof signs.
    pub fn canonical(&self) -> &[u8] {
        self.canonical.bytes()
    }

    /// SHA-256 of [`canonical`](Self::canonical): the credential's one name.
    pub fn digest(&self) -> CredentialDigest {
        self.digest
    }

    /// Parses the proof and hashes the message it must sign, for [`verify_batch`].
    pub fn prepare(self) -> Result<PreparedCredential, CredentialError> {
        let (proof, binding) = self
            .credential
            .prepare_with(Some((&self.canonical, self.unsecured_hash)))?;
        Ok(PreparedCredential {
            named: self,
            proof,
            binding,
        })
    }
}

/// A credential ready for a batch check: named, its proof parsed, the message its signature
/// must cover hashed, and the issuer's control of the signing key checked as far as the
/// credential shows. Nothing about the signature is known yet.
#[derive(Debug, Clone)]
pub struct PreparedCredential {
    named: NamedCredential,
    proof: PreparedProof,
    binding: IssuerBinding,
}

impl PreparedCredential {
    /// The kya content (not yet verified).
    pub fn kind(&self) -> &CredentialKind {
        self.named.kind()
    }

    /// The credential's one name.
    pub fn digest(&self) -> CredentialDigest {
        self.named.digest
    }

    /// What the proof says of itself (not yet verified).
    pub fn proof(&self) -> &ProofInfo {
        &self.proof.info
    }

    /// How the issuer controls the signing key.
    pub fn issuer_binding(&self) -> IssuerBinding {
        self.binding
    }

    /// The key the proof names.
    pub fn signer(&self) -> PublicKey {
        self.proof.info.signer.public_key()
    }
}

/// Which signature of a batch failed, and why: `index` is a credential's position, or the
/// number of credentials for the detached signature checked with them.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[error("signature {index} of the batch: {error}")]
pub struct BatchFailure {
    /// The failing signature's position.
    pub index: usize,
    /// Why.
    pub error: SignatureError,
}

/// Verifies the proofs of `credentials` — and `detached`, a signature around them such as
/// a presentation's or a signed request's — in one batch under kya's one Ed25519 rule
/// ([`crate::ed25519`]): the only way besides [`UnverifiedCredential::verify_proof`] to make
/// [`VerifiedCredential`]s.
pub fn verify_batch(
    credentials: Vec<PreparedCredential>,
    detached: Option<(&PublicKey, &[u8], &Signature)>,
) -> Result<Vec<VerifiedCredential>, BatchFailure> {
    let mut items = Vec::with_capacity(credentials.len() + 1);
    for (index, c) in credentials.iter().enumerate() {
        let item =
            ed25519::PreparedSignature::new(&c.signer(), &c.proof.message, &c.proof.signature)
                .map_err(|error| BatchFailure { index, error })?;
        items.push(item);
    }
    if let Some((key, message, signature)) = detached {
        let item = ed25519::PreparedSignature::new(key, message, signature).map_err(|error| {
            BatchFailure {
                index: credentials.len(),
                error,
            }
        })?;
        items.push(item);
    }
    ed25519::verify_batch(&items).map_err(|e| BatchFailure {
        index: e.index,
        error: e.error,
    })?;
    Ok(credentials
        .into_iter()
        .map(|c| {
            let digest = c.named.digest;
            c.named
                .credential
                .into_verified(c.proof.info, c.binding, digest)
        })
        .collect())
}

/// The issuer's DID as written, where [`CredentialKind::from_document`] reads it.
fn issuer_string(document: &Value) -> Option<&str> {
    match document.get("issuer") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// How the issuer of a verified credential controls the key that signed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerBinding {
    /// The issuer is the signing key's own `did:key`: nothing more to check.
    SelfEvident,
    /// The issuer is a wallet (`did:pkh`) that must have bound the signing key on-chain; a
    /// verifier checks this against the registry before trusting the credential.
    RequiresRegistry,
}

fn issuer_binding(issuer: &Did, signer: &DidKey) -> Result<IssuerBinding, CredentialError> {
    match issuer {
        Did::Key(k) if k == signer => Ok(IssuerBinding::SelfEvident),
        Did::Pkh(_) => Ok(IssuerBinding::RequiresRegistry),
        Did::Key(_) => Err(CredentialError::WrongSigner {
            signer: signer.to_string(),
            issuer: issuer.to_string(),
        }),
    }
}

/// A credential whose proof verified, by a key its issuer controls (subject to
/// [`IssuerBinding`]). Only [`UnverifiedCredential::verify_proof`] and [`verify_batch`]
/// produce one.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCredential {
    document: Value,
    kind: CredentialKind,
    proof: ProofInfo,
    issuer_binding: IssuerBinding,
    digest: CredentialDigest,
}

impl VerifiedCredential {
    /// The kya content.
    pub fn kind(&self) -> &CredentialKind {
        &self.kind
    }
    /// The signed JSON document.
    pub fn document(&self) -> &Value {
        &self.document
    }
    /// What the proof says (signer, created, …).
    pub fn proof(&self) -> &ProofInfo {
        &self.proof
    }
    /// How the issuer controls the signing key.
    pub fn issuer_binding(&self) -> IssuerBinding {
        self.issuer_binding
    }
    /// SHA-256 of the JCS bytes of the whole credential.
    pub fn digest(&self) -> CredentialDigest {
        self.digest
    }
    /// The credential's `id`.
    pub fn id(&self) -> &str {
        self.kind.id()
    }

    /// The parts a verifier keeps: the chain link (`None` for a kind that cannot be one),
    /// what the proof says, and the digest.
    pub fn into_link(self) -> (Option<Link>, ProofInfo, CredentialDigest) {
        (Link::from_kind(self.kind), self.proof, self.digest)
    }
}

/// Signs an unsigned credential document (as produced by a [`CredentialBuilder`]) with an
/// `assertionMethod` proof, returning the verified result.
pub fn sign(
    unsigned: Value,
    signer: &dyn Ed25519Signer,
    created: Timestamp,
) -> Result<VerifiedCredential, CredentialError> {
    let options = ProofOptions::assertion(signer.public_key()).created(created);
    let secured = proof::sign(&unsigned, &options, signer)?;
    UnverifiedCredential::from_value(secured)?.verify_proof()
}

/// A credential's name is the digest of its whole JCS form, so every byte of that form must be
/// covered by the signature. eddsa-jcs-2022 signs the document with the *proof's* `@context`
/// in place of the document's (which need only start with it): a proof whose `@context`
/// differs would leave the rest of the document's `@context` unsigned, and anyone could
/// append to it to mint a second name for the same signed credential, escaping revocations
/// and ledger counters keyed by the name. The only other unsigned bytes, `proofValue`, have
/// one encoding (checked where the proof is parsed).
fn check_fully_signed(object: &Map<String, Value>) -> Result<(), CredentialError> {
    match object.get("proof").and_then(|p| p.get("@context")) {
        Some(proof_context) if Some(proof_context) != object.get("@context") => {
            Err(CredentialError::UnsignedContent)
        }
        _ => Ok(()),
    }
}
