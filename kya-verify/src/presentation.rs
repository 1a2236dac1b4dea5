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

use kya_core::credential::VC_V2_CONTEXT;
use kya_core::key::Ed25519Signer;
use kya_core::proof::{self, PreparedProof, ProofError, ProofOptions};
use kya_core::{DidKey, Timestamp};
use serde_json::{Value, json};

use crate::agent::{PresentationFacts, VerifiedAgent};
use crate::cache::{ChainCache, context_tag, input_key};
use crate::chain::{DetachedSignature, parse_input, verify_links, verify_single};
use crate::clock::Clock;
use crate::error::VerifyError;
use crate::nonce::{MAX_NONCE_BYTES, NonceStore};
use crate::policy::{Policy, truncate};
use crate::registry::RegistryView;

/// The presentation `type`.
pub const PRESENTATION_TYPE: &str = "VerifiablePresentation";
/// The proof purpose of a presentation.
pub const AUTHENTICATION: &str = "authentication";

/// Builds and signs a presentation of `chain` (signed credential documents, root first) by
/// the agent holding `agent_key`, for `audience`, with `nonce`, valid from `created` to
/// `expires`.
pub fn present(
    chain: &[Value],
    agent_key: &dyn Ed25519Signer,
    audience: &str,
    nonce: &str,
    created: Timestamp,
    expires: Timestamp,
) -> Result<Value, ProofError> {
    let holder = DidKey::from_public_key(agent_key.public_key());
    let unsigned = json!({
        "@context": [VC_V2_CONTEXT],
        "type": [PRESENTATION_TYPE],
        "holder": holder.to_string(),
        "verifiableCredential": chain,
    });
    let options = ProofOptions {
        verification_method: holder.verification_method_id(),
        proof_purpose: AUTHENTICATION.to_owned(),
        created: Some(created),
        expires: Some(expires),
        challenge: Some(nonce.to_owned()),
        domain: Some(audience.to_owned()),
    };
    proof::sign(&unsigned, &options, agent_key)
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

/// Verifies a presentation from untrusted bytes: the chain, the holder's proof (batched with
/// the chain's signatures), audience, window, and that the nonce is new.
pub fn verify_presentation(
    bytes: &[u8],
    policy: &Policy,
    clock: &dyn Clock,
    registry: Option<&dyn RegistryView>,
    nonces: &dyn NonceStore,
) -> Result<VerifiedAgent, VerifyError> {
    verify_presentation_with(bytes, policy, clock.now(), registry, nonces, None, None)
}

fn malformed(reason: impl Into<String>) -> VerifyError {
    VerifyError::Malformed {
        link: None,
        reason: reason.into(),
    }
}

pub(crate) fn verify_presentation_with(
    bytes: &[u8],
    policy: &Policy,
    now: Timestamp,
    registry: Option<&dyn RegistryView>,
    nonces: &dyn NonceStore,
    cache: Option<&ChainCache>,
    expected_challenge: Option<&str>,
) -> Result<VerifiedAgent, VerifyError> {
    let document = parse_input(bytes, policy)?;
    let object = document
        .as_object()
        .ok_or_else(|| malformed("a presentation must be a json object"))?;
    match object.get("@context") {
        Some(Value::Array(c)) if c.first().and_then(Value::as_str) == Some(VC_V2_CONTEXT) => {}
        _ => {
            return Err(malformed(format!(
                "presentation @context must start with {VC_V2_CONTEXT}"
            )));
        }
    }
    let is_vp = match object.get("type") {
        Some(Value::String(s)) => s == PRESENTATION_TYPE,
        Some(Value::Array(a)) => a.iter().any(|t| t == PRESENTATION_TYPE),
        _ => false,
    };
    if !is_vp {
        return Err(malformed(
            "presentation type must include VerifiablePresentation",
        ));
    }
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

    let extra = DetachedSignature {
        message: prepared.message.to_vec(),
        signature: prepared.signature,
        signer: holder.public_key(),
    };
    let Value::Object(mut object) = document else {
        return Err(malformed("a presentation must be a json object"));
    };
    let Some(Value::Array(links)) = object.remove("verifiableCredential") else {
        return Err(malformed("verifiableCredential must be an array"));
    };

    let context = cache.and_then(|_| context_tag(policy, registry));
    let cache_key = match (cache, context) {
        (Some(_), Some(ctx)) => {
            let bytes = serde_json::to_vec(&links).map_err(|e| malformed(e.to_string()))?;
            Some((ctx, input_key(&ctx, &bytes)))
        }
        _ => None,
    };
    let cached = match (cache, &cache_key) {
        (Some(c), Some((_, key))) => c.get(key, now),
        _ => None,
    };
    let mut agent = match cached {
        Some(agent) => {
            if agent.agent().public_key() != extra.signer {
                return Err(VerifyError::HolderMismatch {
                    agent: agent.agent().to_string(),
                    found: holder.to_string(),
                });
            }
            verify_single(&extra)?;
            agent
        }
        None => {
            let agent = verify_links(links, policy, now, registry, Some(&extra))?;
            if let (Some(c), Some((ctx, key))) = (cache, cache_key) {
                c.insert(key, ctx, &agent, now);
            }
            agent
        }
    };

    if !nonces.check_and_store(&challenge, expires, now) {
        return Err(VerifyError::NonceReplayed {
            nonce: truncate(&challenge, 64),
        });
    }
    agent.presentation = Some(PresentationFacts {
        audience: info.domain.clone().unwrap_or_default(),
        nonce: challenge,
        created,
        expires,
    });
    Ok(agent)
}
