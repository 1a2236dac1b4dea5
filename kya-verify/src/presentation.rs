//! Presentations: the agent proves possession of its chain to one audience, once.
//!
//! A presentation is a VC 2.0 `VerifiablePresentation` whose `verifiableCredential` is the
//! chain (root first) and whose `holder` is the agent, secured with an `eddsa-jcs-2022`
//! Data Integrity proof by the agent's key with `proofPurpose: "authentication"`,
//! `challenge` = a nonce, `domain` = the audience, and `created` / `expires` bounding a short
//! window:
//!
//! ```json
//! {
//!   "@context": ["https://www.w3.org/ns/credentials/v2"],
//!   "type": ["VerifiablePresentation"],
//!   "holder": "did:key:z6Mk…",
//!   "verifiableCredential": [ { …authorisation… }, { …delegation… } ],
//!   "proof": { "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
//!              "proofPurpose": "authentication", "verificationMethod": "did:key:z6Mk…#z6Mk…",
//!              "challenge": "…nonce…", "domain": "did:web:shop.example",
//!              "created": "…", "expires": "…", "proofValue": "z…" }
//! }
//! ```
//!
//! A stolen chain is worthless without the agent's key; a captured presentation is worthless
//! to any other audience, after `expires`, or a second time (nonce store).

use ed25519_dalek::Signature;
use kya_core::credential::VC_V2_CONTEXT;
use kya_core::key::Ed25519Signer;
use kya_core::proof::{self, PreparedProof, ProofError, ProofOptions};
use kya_core::vcdm::{self, Violations};
use kya_core::{DidKey, PublicKey, Timestamp};
use serde_json::{Value, json};

use crate::agent::PresentationFacts;
use crate::chain::parse_input;
use crate::error::VerifyError;
use crate::nonce::MAX_NONCE_BYTES;
use crate::policy::{Policy, truncate};

/// The presentation `type`.
pub const PRESENTATION_TYPE: &str = "VerifiablePresentation";
/// The proof purpose of a presentation.
pub const AUTHENTICATION: &str = "authentication";

/// What a presentation is for: named fields, so that audience and nonce, or `created` and
/// `expires`, cannot be swapped by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentationOptions {
    /// The verifier it is meant for (its policy's audience), signed as `domain`.
    pub audience: String,
    /// A fresh nonce (or the verifier's challenge), signed as `challenge`.
    pub nonce: String,
    /// When it starts to be valid.
    pub created: Timestamp,
    /// When it stops being valid (at most the verifier's maximum window after `created`).
    pub expires: Timestamp,
}

/// Builds and signs a presentation of `chain` (signed credential documents, root first) by
/// the agent holding `agent_key`.
pub fn present(
    chain: &[Value],
    agent_key: &dyn Ed25519Signer,
    options: &PresentationOptions,
) -> Result<Value, ProofError> {
    let holder = DidKey::from_public_key(agent_key.public_key());
    let unsigned = json!({
        "@context": [VC_V2_CONTEXT],
        "type": [PRESENTATION_TYPE],
        "holder": holder.to_string(),
        "verifiableCredential": chain,
    });
    let proof_options = ProofOptions {
        verification_method: holder.verification_method_id(),
        proof_purpose: AUTHENTICATION.to_owned(),
        created: Some(options.created),
        expires: Some(options.expires),
        challenge: Some(options.nonce.clone()),
        domain: Some(options.audience.clone()),
    };
    proof::sign(&unsigned, &proof_options, agent_key)
}

/// Checks a presentation or signed-request window against the policy: `expires` not before
/// `created`, at most `max_window_secs` long, `created` not after now + skew, `expires` not
/// before now − skew.
pub fn check_window(
    policy: &Policy,
    now: Timestamp,
    created: Timestamp,
    expires: Timestamp,
) -> Result<(), VerifyError> {
    let skew = policy.clock_skew_secs();
    if expires < created {
        return Err(VerifyError::Malformed {
            link: None,
            reason: format!("expires {expires} is before created {created}"),
        });
    }
    let secs = expires.unix() - created.unix();
    if secs > policy.max_window_secs() {
        return Err(VerifyError::WindowTooLong {
            created,
            expires,
            secs,
            max: policy.max_window_secs(),
        });
    }
    if created > now.add_seconds(skew) {
        return Err(VerifyError::CreatedInFuture {
            link: None,
            created,
            secs: created.unix() - now.unix(),
            skew,
        });
    }
    if now.add_seconds(-skew) > expires {
        return Err(VerifyError::PresentationExpired {
            expires: Some(expires),
            secs: now.unix() - expires.unix(),
        });
    }
    Ok(())
}

fn malformed(reason: impl Into<String>) -> VerifyError {
    VerifyError::Malformed {
        link: None,
        reason: reason.into(),
    }
}

/// A presentation whose form, audience, challenge and window are checked, ready for the
/// verifier's chain-and-holder check ([`crate::Verifier::verify_presentation`]).
pub(crate) struct ParsedPresentation {
    pub(crate) links: Vec<Value>,
    pub(crate) message: [u8; 64],
    pub(crate) signature: Signature,
    pub(crate) holder: PublicKey,
    pub(crate) facts: PresentationFacts,
}

impl ParsedPresentation {
    pub(crate) fn parse(
        bytes: &[u8],
        policy: &Policy,
        now: Timestamp,
        expected_challenge: Option<&str>,
    ) -> Result<Self, VerifyError> {
        let document = parse_input(bytes, policy)?;
        let holder = check_form(&document, policy)?;
        let prepared = PreparedProof::from_document(&document)
            .map_err(|e| malformed(format!("presentation proof: {e}")))?;
        let info = &prepared.info;
        if info.proof_purpose != AUTHENTICATION {
            return Err(malformed(format!(
                "presentation proof purpose is `{}`, expected `authentication`",
                truncate(&info.proof_purpose, 64)
            )));
        }
        if info.signer != holder {
            return Err(VerifyError::HolderMismatch {
                agent: holder.to_string(),
                found: info.signer.to_string(),
            });
        }
        let audience_ok = match (policy.audience(), info.domain.as_deref()) {
            (Some(expected), Some(found)) => expected == found,
            _ => false,
        };
        if !audience_ok {
            return Err(VerifyError::AudienceMismatch {
                expected: policy.audience().map(str::to_owned),
                found: info.domain.as_deref().map(|d| truncate(d, 200)),
            });
        }
        let challenge = match (&info.challenge, expected_challenge) {
            (Some(c), Some(e)) if c == e => c.clone(),
            (Some(c), None) if !c.is_empty() && c.len() <= MAX_NONCE_BYTES => c.clone(),
            (found, expected) => {
                return Err(VerifyError::ChallengeMismatch {
                    expected: expected.map(str::to_owned),
                    found: found.as_deref().map(|c| truncate(c, 64)),
                });
            }
        };
        let (Some(created), Some(expires)) = (info.created, info.expires) else {
            return Err(malformed("a presentation proof needs created and expires"));
        };
        check_window(policy, now, created, expires)?;
        let facts = PresentationFacts {
            audience: info.domain.clone().unwrap_or_default(),
            nonce: challenge,
            created,
            expires,
        };
        let Value::Object(mut object) = document else {
            return Err(malformed("a presentation must be a json object"));
        };
        let Some(Value::Array(links)) = object.remove("verifiableCredential") else {
            return Err(malformed("verifiableCredential must be an array"));
        };
        Ok(Self {
            links,
            message: prepared.message,
            signature: prepared.signature,
            holder: holder.public_key(),
            facts,
        })
    }
}

/// The presentation's VC 2.0 form (every rule, [`vcdm`]) and its contexts; returns its
/// holder. The credentials it carries are checked as each link is parsed.
fn check_form(document: &Value, policy: &Policy) -> Result<DidKey, VerifyError> {
    let object = document
        .as_object()
        .ok_or_else(|| malformed("a presentation must be a json object"))?;
    Violations::check(vcdm::check_presentation(document)).map_err(|violations| {
        VerifyError::NotVcDataModel {
            link: None,
            violations,
        }
    })?;
    let context = object.get("@context").unwrap_or(&Value::Null);
    policy
        .accepted_contexts()
        .check_presentation(context)
        .map_err(|source| VerifyError::ContextNotAccepted { link: None, source })?;
    let holder: DidKey = object
        .get("holder")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("presentation holder must be the agent's did:key"))?
        .parse()
        .map_err(|e: kya_core::DidError| malformed(format!("presentation holder: {e}")))?;
    if !matches!(object.get("verifiableCredential"), Some(Value::Array(_))) {
        return Err(malformed(
            "verifiableCredential must be the chain: an array of credentials, root first",
        ));
    }
    Ok(holder)
}
