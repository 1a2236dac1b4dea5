//! Credential chain verification.
//!
//! A chain is a JSON array of signed credentials, root first: one `AgentAuthorization`
//! (principal → agent), then `AgentDelegation`s (agent → sub-agent). The checks run in this
//! order, and the first failure is returned (with the link it concerns):
//!
//! 1. **bounds** — input bytes, strict JSON (no duplicate keys), chain depth, grants per
//!    credential and in total;
//! 2. **form** — every link is a VC 2.0 kya credential; no link repeats (same id or digest);
//! 3. **linkage** — each link's issuer is its parent's subject, it names its parent by id
//!    and digest, the root is an authorisation and every other link a delegation;
//! 4. **signatures** — encodings checked (canonical `S < L`, canonical and not small-order
//!    `R`; weak keys are refused when keys are parsed), then every signature of the chain
//!    (and of the presentation or request around it) in one batch; a failing batch falls
//!    back to `verify_strict` per link to name the culprit;
//! 5. **narrowing** — validity windows nest, grants attenuate (`⊑`) the parent's;
//! 6. **trust** — the root issuer is trusted by the policy; a `did:pkh` root's signing key
//!    was bound to it (registry) when the proof was created;
//! 7. **time** — every link is valid at now ± skew, and no proof was created after
//!    now + skew;
//! 8. **registry** (when a view is given) — registered subjects exist and are active, their
//!    keys are bound now, and no link is revoked under its subject's or its issuer's
//!    registration, nor (the root) by its `did:pkh` issuer.

use std::collections::HashMap;
use std::sync::Arc;

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::Signature;
use kya_core::credential::{
    AgentRegistration, CredentialError, CredentialKind, IssuerBinding, UnverifiedCredential,
};
use kya_core::grant::attenuates_all;
use kya_core::json::{JsonError, parse_strict};
use kya_core::proof::{PreparedProof, ProofError};
use kya_core::{CredentialDigest, Did, PublicKey, Timestamp};
use serde_json::Value;

use crate::agent::{AgentInner, ChainDigest, ChainLink, RegistrationFacts, VerifiedAgent};
use crate::clock::Clock;
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::registry::RegistryView;

/// A signature over some message by the chain's agent (a presentation proof, an HTTP
/// message signature) to be checked in the same batch as the chain's own signatures.
#[derive(Debug, Clone)]
pub struct DetachedSignature {
    /// The signed bytes.
    pub message: Vec<u8>,
    /// The signature.
    pub signature: Signature,
    /// The key that signed; must be the chain leaf's subject key.
    pub signer: PublicKey,
}

/// Verifies a credential chain (a JSON array, root first) from untrusted bytes.
///
/// `registry`, when given, is consulted for registrations, key bindings, revocations and
/// reputation; a `did:pkh` root issuer cannot be verified without one.
pub fn verify_chain(
    bytes: &[u8],
    policy: &Policy,
    clock: &dyn Clock,
    registry: Option<&dyn RegistryView>,
) -> Result<VerifiedAgent, VerifyError> {
    let links = parse_chain_bytes(bytes, policy)?;
    verify_links(links, policy, clock.now(), registry, None)
}

/// Parses the bytes of a chain into its link values, enforcing the input bounds.
pub(crate) fn parse_chain_bytes(bytes: &[u8], policy: &Policy) -> Result<Vec<Value>, VerifyError> {
    let value = parse_input(bytes, policy)?;
    match value {
        Value::Array(links) => Ok(links),
        _ => Err(VerifyError::Malformed {
            link: None,
            reason: "a credential chain must be a json array of credentials, root first".into(),
        }),
    }
}

/// Strict JSON parse under the policy's byte limit.
pub(crate) fn parse_input(bytes: &[u8], policy: &Policy) -> Result<Value, VerifyError> {
    let max = policy.limits().max_input_bytes;
    if bytes.len() > max {
        return Err(VerifyError::InputTooLarge {
            len: bytes.len(),
            max,
        });
    }
    parse_strict(bytes, policy.limits().json()).map_err(|e| match e {
        JsonError::TooLarge { len, max } => VerifyError::InputTooLarge { len, max },
        other => VerifyError::Malformed {
            link: None,
            reason: other.to_string(),
        },
    })
}

struct Parsed {
    credential: UnverifiedCredential,
    digest: CredentialDigest,
}

/// Checks the chain's bounds and form (steps 1–3) and returns the parsed links.
fn parse_links(links: Vec<Value>, policy: &Policy) -> Result<Vec<Parsed>, VerifyError> {
    let limits = policy.limits();
    if links.is_empty() {
        return Err(VerifyError::EmptyChain);
    }
    if links.len() > limits.max_chain_depth {
        return Err(VerifyError::ChainTooDeep {
            len: links.len(),
            max: limits.max_chain_depth,
        });
    }
    let mut parsed: Vec<Parsed> = Vec::with_capacity(links.len());
    let mut total_grants = 0usize;
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut seen_digests: HashMap<CredentialDigest, usize> = HashMap::new();
    for (i, value) in links.into_iter().enumerate() {
        // Count grants before the (costlier) typed parse of each of them.
        let grant_count = value
            .pointer("/credentialSubject/grants")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if grant_count > limits.max_grants_per_credential {
            return Err(VerifyError::TooManyGrants {
                link: Some(i),
                count: grant_count,
                max: limits.max_grants_per_credential,
            });
        }
        total_grants += grant_count;
        if total_grants > limits.max_total_grants {
            return Err(VerifyError::TooManyGrants {
                link: None,
                count: total_grants,
                max: limits.max_total_grants,
            });
        }
        let credential = UnverifiedCredential::from_value(value).map_err(|e| malformed(i, &e))?;
        let digest = credential.digest().map_err(|e| malformed(i, &e))?;
        if let Some(&first) = seen_ids.get(credential.kind().id()) {
            return Err(VerifyError::DuplicateLink {
                link: i,
                first,
                what: "id",
            });
        }
        if let Some(&first) = seen_digests.get(&digest) {
            return Err(VerifyError::DuplicateLink {
                link: i,
                first,
                what: "digest",
            });
        }
        seen_ids.insert(credential.kind().id().to_owned(), i);
        seen_digests.insert(digest, i);
        parsed.push(Parsed { credential, digest });
    }
    // Linkage, child by child, before the kinds: a chain in the wrong order is reported
    // where the order breaks.
    for i in 1..parsed.len() {
        let parent = &parsed[i - 1];
        let child = &parsed[i];
        let parent_subject = Did::Key(*parent.credential.kind().subject());
        let issuer = child.credential.kind().issuer();
        if issuer != parent_subject {
            return Err(VerifyError::IssuerNotParentSubject {
                link: i,
                issuer: issuer.to_string(),
                parent_subject: parent_subject.to_string(),
            });
        }
        match child.credential.kind() {
            CredentialKind::Delegation(d) => {
                if d.parent.digest != parent.digest || d.parent.id != parent.credential.kind().id()
                {
                    return Err(VerifyError::ParentDigestMismatch {
                        link: i,
                        named_id: d.parent.id.chars().take(200).collect(),
                        named_digest: d.parent.digest,
                        parent_id: parent.credential.kind().id().chars().take(200).collect(),
                        parent_digest: parent.digest,
                    });
                }
            }
            other => {
                return Err(VerifyError::NotADelegation {
                    link: i,
                    found: other.type_name(),
                });
            }
        }
    }
    match parsed[0].credential.kind() {
        CredentialKind::Authorization(_) => {}
        other => {
            return Err(VerifyError::NotAChainRoot {
                link: 0,
                found: other.type_name(),
            });
        }
    }
    Ok(parsed)
}

fn malformed(link: usize, e: &CredentialError) -> VerifyError {
    VerifyError::Malformed {
        link: Some(link),
        reason: e.to_string(),
    }
}

/// Rejects signature encodings that `verify_strict` refuses but a batch equation could
/// accept: `S ≥ L`, a non-canonical `R`, a small-order `R`.
pub(crate) fn check_signature_encoding(signature: &Signature) -> Result<(), &'static str> {
    let s: Option<Scalar> = Scalar::from_canonical_bytes(*signature.s_bytes()).into();
    if s.is_none() {
        return Err("non-canonical s (s ≥ l): a malleated signature");
    }
    let r = CompressedEdwardsY(*signature.r_bytes());
    let Some(point) = r.decompress() else {
        return Err("r is not a curve point");
    };
    if !is_canonical_encoding(&r.0) {
        return Err("non-canonical encoding of r");
    }
    if point.is_small_order() {
        return Err("small-order r");
    }
    Ok(())
}

/// Whether the bytes of a point that decompressed are the point's canonical encoding (what
/// `point.compress() == bytes` says, without the field inversion `compress` costs): `y` is
/// below p = 2^255 − 19, and the sign bit is clear when `x` is 0 (`y` = 1 or p − 1, the two
/// points with `x` = 0; for any other point decompression gives `x` the sign bit's parity).
fn is_canonical_encoding(bytes: &[u8; 32]) -> bool {
    const ONE: [u8; 32] = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };
    const P_MINUS_ONE: [u8; 32] = {
        let mut b = [0xffu8; 32];
        b[0] = 0xec;
        b[31] = 0x7f;
        b
    };
    let mut y = *bytes;
    let sign = y[31] >> 7;
    y[31] &= 0x7f;
    let y_at_least_p = y[0] >= 0xed && y[1..31].iter().all(|b| *b == 0xff) && y[31] == 0x7f;
    if y_at_least_p {
        return false;
    }
    !(sign == 1 && (y == ONE || y == P_MINUS_ONE))
}

/// Checks every signature in one batch, naming the failing one (`Some(link)`, or `None` for
/// `extra`) when the batch fails.
fn verify_signatures(
    proofs: &[(PreparedProof, PublicKey)],
    extra: Option<&DetachedSignature>,
) -> Result<(), VerifyError> {
    for (i, (p, _)) in proofs.iter().enumerate() {
        check_signature_encoding(&p.signature).map_err(|reason| VerifyError::BadSignature {
            link: Some(i),
            reason: reason.into(),
        })?;
    }
    if let Some(x) = extra {
        check_signature_encoding(&x.signature).map_err(|reason| VerifyError::BadSignature {
            link: None,
            reason: reason.into(),
        })?;
    }
    let count = proofs.len() + usize::from(extra.is_some());
    if count > 1 {
        let mut messages: Vec<&[u8]> = Vec::with_capacity(count);
        let mut signatures = Vec::with_capacity(count);
        let mut keys = Vec::with_capacity(count);
        for (p, key) in proofs {
            messages.push(&p.message);
            signatures.push(p.signature);
            keys.push(*key.as_dalek());
        }
        if let Some(x) = extra {
            messages.push(&x.message);
            signatures.push(x.signature);
            keys.push(*x.signer.as_dalek());
        }
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            return Ok(());
        }
    }
    // One signature, or a failed batch: strict checks name the culprit.
    for (i, (p, key)) in proofs.iter().enumerate() {
        if !key.verify_strict(&p.message, &p.signature) {
            return Err(VerifyError::BadSignature {
                link: Some(i),
                reason: format!(
                    "signature by {} does not verify: the credential or its proof was altered, or another key signed it",
                    p.info
                        .verification_method
                        .chars()
                        .take(200)
                        .collect::<String>()
                ),
            });
        }
    }
    if let Some(x) = extra {
        if !x.signer.verify_strict(&x.message, &x.signature) {
            return Err(VerifyError::BadSignature {
                link: None,
                reason: format!("signature by {} does not verify", x.signer),
            });
        }
    }
    Ok(())
}

/// Checks a single signature (the cache-hit path: one check).
pub(crate) fn verify_single(extra: &DetachedSignature) -> Result<(), VerifyError> {
    verify_signatures(&[], Some(extra))
}

fn proof_error(link: usize, e: CredentialError) -> VerifyError {
    match e {
        CredentialError::WrongSigner { signer, issuer } => VerifyError::BadSignature {
            link: Some(link),
            reason: format!("signed by {signer}, which is not the issuer {issuer}"),
        },
        CredentialError::Proof(ProofError::BadSignature { signer }) => VerifyError::BadSignature {
            link: Some(link),
            reason: format!("signature by {signer} does not verify"),
        },
        other => malformed(link, &other),
    }
}

/// Verifies parsed link values. `extra` is checked in the same batch and must be signed by
/// the leaf's key.
pub(crate) fn verify_links(
    links: Vec<Value>,
    policy: &Policy,
    now: Timestamp,
    registry: Option<&dyn RegistryView>,
    extra: Option<&DetachedSignature>,
) -> Result<VerifiedAgent, VerifyError> {
    let parsed = parse_links(links, policy)?;
    let leaf_key = parsed
        .last()
        .map(|p| p.credential.kind().subject().public_key())
        .ok_or(VerifyError::EmptyChain)?;
    if let Some(x) = extra {
        if x.signer != leaf_key {
            return Err(VerifyError::HolderMismatch {
                agent: kya_core::DidKey::from_public_key(leaf_key).to_string(),
                found: kya_core::DidKey::from_public_key(x.signer).to_string(),
            });
        }
    }

    // 4. Signatures.
    let mut proofs = Vec::with_capacity(parsed.len());
    let mut bindings = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.iter().enumerate() {
        let (prepared, binding) = p.credential.prepare().map_err(|e| proof_error(i, e))?;
        let key = prepared.info.signer.public_key();
        proofs.push((prepared, key));
        bindings.push(binding);
    }
    verify_signatures(&proofs, extra)?;

    // 5. Narrowing.
    for i in 1..parsed.len() {
        let parent = parsed[i - 1].credential.kind();
        let child = parsed[i].credential.kind();
        let (Some(parent_until), Some(child_until)) = (parent.valid_until(), child.valid_until())
        else {
            return Err(VerifyError::Malformed {
                link: Some(i),
                reason: "a chain link needs validUntil".into(),
            });
        };
        if child.valid_from() < parent.valid_from() || child_until > parent_until {
            return Err(VerifyError::ValidityOutsideParent {
                link: i,
                valid_from: child.valid_from(),
                valid_until: child_until,
                parent_from: parent.valid_from(),
                parent_until,
            });
        }
        attenuates_all(child.grants(), parent.grants()).map_err(|w| VerifyError::GrantWidened {
            link: i,
            grant: w.child_index,
            parent_grant: w.parent_index,
            widening: w.reason.code(),
            reason: w.to_string(),
        })?;
    }

    // 6. Trust in the root.
    let root = parsed[0].credential.kind();
    let root_issuer = root.issuer();
    let root_signer = proofs[0].1;
    let root_signed_at = proofs[0]
        .0
        .info
        .created
        .unwrap_or_else(|| root.valid_from());
    let explicitly_trusted = policy.is_trusted_root(&root_issuer);
    match (&root_issuer, bindings[0]) {
        (Did::Key(_), IssuerBinding::SelfEvident) if explicitly_trusted => {}
        (Did::Pkh(principal), _) if explicitly_trusted || policy.trusts_registry_principals() => {
            let bound = registry
                .is_some_and(|r| r.principal_key_bound(principal, &root_signer, root_signed_at));
            if !bound {
                if let Some(reason) = registry.and_then(|r| r.principal_over_bounds(principal)) {
                    return Err(VerifyError::RegistryRecordOverBounds {
                        link: 0,
                        record: principal.to_string(),
                        reason,
                    });
                }
                return Err(VerifyError::PrincipalKeyNotBound {
                    principal: principal.to_string(),
                    key: root_signer.to_string(),
                    at: root_signed_at,
                    no_registry: registry.is_none(),
                });
            }
        }
        _ => {
            return Err(VerifyError::UntrustedRoot {
                issuer: root_issuer.to_string(),
            });
        }
    }

    // 7. Time.
    let skew = policy.clock_skew_secs();
    for (i, (p, (prepared, _))) in parsed.iter().zip(&proofs).enumerate() {
        let kind = p.credential.kind();
        let valid_until = kind.valid_until().ok_or_else(|| VerifyError::Malformed {
            link: Some(i),
            reason: "a chain link needs validUntil".into(),
        })?;
        if now.add_seconds(-skew) > valid_until {
            return Err(VerifyError::CredentialExpired {
                link: i,
                valid_until,
                secs: now.unix() - valid_until.unix(),
            });
        }
        if now.add_seconds(skew) < kind.valid_from() {
            return Err(VerifyError::CredentialNotYetValid {
                link: i,
                valid_from: kind.valid_from(),
                secs: kind.valid_from().unix() - now.unix(),
            });
        }
        if let Some(created) = prepared.info.created {
            if created > now.add_seconds(skew) {
                return Err(VerifyError::CreatedInFuture {
                    link: Some(i),
                    created,
                    secs: created.unix() - now.unix(),
                    skew,
                });
            }
        }
    }

    // 8. Registry.
    let mut facts: Vec<Option<RegistrationFacts>> = vec![None; parsed.len()];
    if let Some(view) = registry {
        for (i, p) in parsed.iter().enumerate() {
            let kind = p.credential.kind();
            if let Some(reg) = kind.registration() {
                let record = view
                    .agent(reg)
                    .ok_or_else(|| VerifyError::AgentNotRegistered {
                        link: i,
                        agent_id: reg.agent_id.to_string(),
                        registry: reg.agent_registry.to_string(),
                    })?;
                if !record.active {
                    return Err(VerifyError::AgentInactive {
                        link: i,
                        agent_id: reg.agent_id.to_string(),
                        registry: reg.agent_registry.to_string(),
                    });
                }
                if let Some(reason) = view.agent_over_bounds(reg) {
                    return Err(VerifyError::RegistryRecordOverBounds {
                        link: i,
                        record: format!("agent {}", reg.agent_id),
                        reason,
                    });
                }
                let key = kind.subject().public_key();
                if !view.agent_key_bound(reg, &key, now) {
                    return Err(VerifyError::KeyNotBound {
                        link: i,
                        key: key.to_string(),
                        agent_id: reg.agent_id.to_string(),
                        at: now,
                    });
                }
                facts[i] = Some(RegistrationFacts {
                    record,
                    reputation: view.reputation(reg, policy.trusted_raters()),
                });
            }
            let issuer_reg: Option<&AgentRegistration> = if i > 0 {
                parsed[i - 1].credential.kind().registration()
            } else {
                None
            };
            for reg in kind.registration().into_iter().chain(issuer_reg) {
                if let Some(rev) = view.revoked(reg, &p.digest) {
                    return Err(VerifyError::Revoked {
                        link: i,
                        digest: p.digest,
                        agent_id: rev.agent_id.to_string(),
                        block: rev.block,
                        time: rev.time,
                    });
                }
            }
            // A wallet principal revokes what it issued, whoever owns the agent.
            if let (0, Did::Pkh(issuer)) = (i, &root_issuer) {
                if let Some(rev) = view.revoked_by_issuer(issuer, &p.digest) {
                    return Err(VerifyError::RevokedByIssuer {
                        link: 0,
                        digest: p.digest,
                        issuer: issuer.to_string(),
                        block: rev.block,
                        time: rev.time,
                    });
                }
            }
        }
    }

    // The verified agent.
    let chain_digest = ChainDigest::of_links(parsed.iter().map(|p| &p.digest));
    let mut chain = Vec::with_capacity(parsed.len());
    let mut valid_from = root.valid_from();
    let mut valid_until = root.valid_until().unwrap_or(now);
    for ((p, (prepared, _)), registry_facts) in parsed.into_iter().zip(proofs).zip(facts) {
        let kind = p.credential.kind();
        let until = kind.valid_until().unwrap_or(now);
        valid_from = valid_from.max(kind.valid_from());
        valid_until = valid_until.min(until);
        chain.push(ChainLink {
            id: kind.id().to_owned(),
            digest: p.digest,
            kind: kind.type_name(),
            issuer: kind.issuer(),
            subject: *kind.subject(),
            valid_from: kind.valid_from(),
            valid_until: until,
            created: prepared.info.created,
            grants: kind.grants().to_vec(),
            registration: kind.registration().cloned(),
            registry: registry_facts,
        });
    }
    let agent = chain
        .last()
        .map(|l| l.subject)
        .ok_or(VerifyError::EmptyChain)?;
    Ok(VerifiedAgent {
        inner: Arc::new(AgentInner {
            agent,
            principal: root_issuer,
            chain_digest,
            chain,
            valid_from,
            valid_until,
            verified_at: now,
            registry_checked: registry.is_some(),
            skew,
        }),
        presentation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn canonical_encoding_check_agrees_with_compress() {
        let mut candidates: Vec<[u8; 32]> = Vec::new();
        // Every y from p − 1 to 2^255 − 1 and small y (including 0, 1, 2^255 − 19 + 1 …).
        for low in 0..=255u8 {
            let mut high = [0xffu8; 32];
            high[0] = low;
            high[31] = 0x7f;
            candidates.push(high);
            let mut small = [0u8; 32];
            small[0] = low;
            candidates.push(small);
        }
        for i in 0..4000u32 {
            candidates.push(Sha256::digest(i.to_le_bytes()).into());
        }
        let mut decompressed = 0;
        for bytes in candidates {
            for sign in [0u8, 0x80] {
                let mut b = bytes;
                b[31] = (b[31] & 0x7f) | sign;
                let r = CompressedEdwardsY(b);
                if let Some(point) = r.decompress() {
                    decompressed += 1;
                    assert_eq!(
                        point.compress() == r,
                        is_canonical_encoding(&b),
                        "{}",
                        hex::encode(b)
                    );
                }
            }
        }
        assert!(decompressed > 3000, "{decompressed}");
    }
}
