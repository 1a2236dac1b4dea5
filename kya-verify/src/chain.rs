//! Credential chain verification.
//!
//! A chain is a JSON array of signed credentials, root first: one `AgentAuthorization`
//! (principal → agent), then `AgentDelegation`s (agent → sub-agent). The checks run in this
//! order — cheapest refusals first, so that an untrusted or stale input costs no signature
//! or narrowing work — and the first failure is returned (with the link it concerns):
//!
//! 1. **bounds** — input bytes, strict JSON (no duplicate keys), chain depth, grants per
//!    credential and in total;
//! 2. **form** — every link is a VC 2.0 kya credential whose proof signs all of it; no link
//!    repeats (same id or digest);
//! 3. **linkage** — each link's issuer is its parent's subject, it names its parent by id
//!    and digest, the root is an authorisation and every other link a delegation;
//! 4. **trust** — the registry view (when given) is not older than the policy allows; the
//!    root issuer is trusted by the policy; a `did:pkh` root's signing key is bound to it in
//!    the registry view **now** (never at a time the signer wrote);
//! 5. **signatures** — kya's one Ed25519 rule ([`kya_core::ed25519`]): encodings checked
//!    (canonical `S < L`, canonical and not small-order `R`; keys are checked the same way
//!    when they are parsed), then every signature of the chain (and of the presentation or
//!    request around it) in one cofactored batch equation; a failing batch falls back to
//!    single checks (the same equation) to name the culprit;
//! 6. **narrowing** — validity windows nest, grants attenuate (`⊑`) the parent's;
//! 7. **time** — every link is valid at now ± skew, no proof was created after now + skew,
//!    and no proof's own `expires` has passed;
//! 8. **registry** (when a view is given) — registered subjects exist and are active, their
//!    keys are bound now, and no link is revoked under its subject's or its issuer's
//!    registration.

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::Signature;
use kya_core::credential::{
    AgentRegistration, CredentialError, CredentialKind, IssuerBinding, UnverifiedCredential,
};
use kya_core::ed25519::{self, SignatureError};
use kya_core::grant::attenuates_all;
use kya_core::json::{JsonError, canonicalize, parse_strict};
use kya_core::proof::{PreparedProof, ProofError};
use kya_core::{CredentialDigest, Did, PublicKey, Timestamp};
use serde_json::Value;

use crate::agent::{AgentInner, ChainDigest, ChainLink, RegistrationFacts, VerifiedAgent};
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::registry::RegistryView;
use crate::verifier::HolderProof;

/// A signature over some message by the chain's agent (a presentation proof, an HTTP
/// message signature) to be checked in the same batch as the chain's own signatures.
#[derive(Debug, Clone)]
pub(crate) struct DetachedSignature {
    /// The signed bytes.
    pub(crate) message: Vec<u8>,
    /// The signature.
    pub(crate) signature: Signature,
    /// The key that signed; must be the chain leaf's subject key.
    pub(crate) signer: PublicKey,
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

/// The parsed links and the chain's name.
struct ParsedChain {
    links: Vec<Parsed>,
    digest: ChainDigest,
}

/// Checks the chain's bounds and form (steps 1–3) and returns the parsed links.
fn parse_links(links: Vec<Value>, policy: &Policy) -> Result<ParsedChain, VerifyError> {
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
    let mut canonical_links: Vec<Vec<u8>> = Vec::with_capacity(links.len());
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
        // One canonical form per link: its digest, and its part of the chain's digest.
        let canonical =
            canonicalize(credential.document()).map_err(|e| VerifyError::Malformed {
                link: Some(i),
                reason: e.to_string(),
            })?;
        let digest = CredentialDigest::of_canonical(&canonical);
        canonical_links.push(canonical);
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
    let digest = ChainDigest::of_canonical_links(canonical_links.iter().map(Vec::as_slice));
    Ok(ParsedChain {
        links: parsed,
        digest,
    })
}

fn malformed(link: usize, e: &CredentialError) -> VerifyError {
    VerifyError::Malformed {
        link: Some(link),
        reason: e.to_string(),
    }
}

/// Checks every signature in one batch under kya's Ed25519 rule
/// ([`kya_core::ed25519::verify_batch`]: encodings first, then one cofactored multiscalar
/// check), naming the failing one (`Some(link)`, or `None` for `extra`).
fn verify_signatures(
    proofs: &[(PreparedProof, PublicKey)],
    extra: Option<&DetachedSignature>,
) -> Result<(), VerifyError> {
    let mut items = Vec::with_capacity(proofs.len() + usize::from(extra.is_some()));
    for (i, (p, key)) in proofs.iter().enumerate() {
        let item = ed25519::PreparedSignature::new(key, &p.message, &p.signature)
            .map_err(|e| refused(Some(i), e))?;
        items.push(item);
    }
    if let Some(x) = extra {
        let item = ed25519::PreparedSignature::new(&x.signer, &x.message, &x.signature)
            .map_err(|e| refused(None, e))?;
        items.push(item);
    }
    ed25519::verify_batch(&items).map_err(|failed| match proofs.get(failed.index) {
        Some((p, _)) => VerifyError::BadSignature {
            link: Some(failed.index),
            reason: format!(
                "signature by {} does not verify: the credential or its proof was altered, or another key signed it",
                p.info
                    .verification_method
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        },
        None => match extra {
            Some(x) => bad_detached(x, failed.error),
            None => refused(None, failed.error),
        },
    })
}

/// Checks a single signature (the cache-hit path: one check), under the same rule.
pub(crate) fn verify_single(extra: &DetachedSignature) -> Result<(), VerifyError> {
    ed25519::verify(&extra.signer, &extra.message, &extra.signature)
        .map_err(|e| bad_detached(extra, e))
}

fn bad_detached(x: &DetachedSignature, e: SignatureError) -> VerifyError {
    match e {
        SignatureError::Equation => VerifyError::BadSignature {
            link: None,
            reason: format!("signature by {} does not verify", x.signer),
        },
        other => refused(None, other),
    }
}

fn refused(link: Option<usize>, e: SignatureError) -> VerifyError {
    VerifyError::BadSignature {
        link,
        reason: e.to_string(),
    }
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

/// Refuses a registry view older than the policy's bound: a stale view may lack revocations
/// and unbindings, and must not be judged current.
fn check_registry_age(
    policy: &Policy,
    now: Timestamp,
    registry: Option<&dyn RegistryView>,
) -> Result<(), VerifyError> {
    let Some(as_of) = registry.and_then(RegistryView::as_of) else {
        return Ok(());
    };
    let age_secs = now.unix() - as_of.unix();
    let max_secs = policy.max_registry_age_secs();
    if age_secs > max_secs {
        return Err(VerifyError::RegistryStale {
            as_of,
            age_secs,
            max_secs,
        });
    }
    Ok(())
}

/// A `did:key` root speaks for itself; a `did:pkh` root speaks through an issuing key it
/// bound on-chain, judged by what the registry view says **now**: `created` is written by
/// the signer, so judging at it would let a thief holding an unbound key back-date new
/// credentials into the bound period. Unbinding a key therefore ends every credential it
/// signed (re-issue what must outlive a rotation).
fn check_root_binding(
    root_issuer: &Did,
    binding: IssuerBinding,
    signer: &PublicKey,
    now: Timestamp,
    registry: Option<&dyn RegistryView>,
) -> Result<(), VerifyError> {
    match (root_issuer, binding) {
        (Did::Key(_), IssuerBinding::SelfEvident) => Ok(()),
        (Did::Pkh(principal), _) => {
            if registry.is_some_and(|r| r.principal_key_bound(principal, signer, now)) {
                Ok(())
            } else {
                Err(VerifyError::PrincipalKeyNotBound {
                    principal: principal.to_string(),
                    key: signer.to_string(),
                    at: now,
                    no_registry: registry.is_none(),
                })
            }
        }
        _ => Err(VerifyError::UntrustedRoot {
            issuer: root_issuer.to_string(),
        }),
    }
}

/// Verifies parsed link values. `holder`, when given, is checked in the same batch and must
/// be signed by the leaf's key.
pub(crate) fn verify_links(
    links: Vec<Value>,
    policy: &Policy,
    now: Timestamp,
    registry: Option<&dyn RegistryView>,
    holder: Option<&HolderProof<'_>>,
) -> Result<VerifiedAgent, VerifyError> {
    let ParsedChain {
        links: parsed,
        digest: chain_digest,
    } = parse_links(links, policy)?;
    let leaf_key = parsed
        .last()
        .map(|p| p.credential.kind().subject().public_key())
        .ok_or(VerifyError::EmptyChain)?;
    let extra = holder
        .map(|h| -> Result<DetachedSignature, VerifyError> {
            Ok(DetachedSignature {
                message: h.message.to_vec(),
                signature: h.signature,
                signer: h.key.resolve(&leaf_key)?,
            })
        })
        .transpose()?;
    let extra = extra.as_ref();

    // 4. Trust: the registry view's age and the root issuer, before any signature work.
    check_registry_age(policy, now, registry)?;
    let root_issuer = parsed[0].credential.kind().issuer();
    let explicitly_trusted = policy.is_trusted_root(&root_issuer);
    let registry_principal =
        matches!(root_issuer, Did::Pkh(_)) && policy.trusts_registry_principals();
    if !explicitly_trusted && !registry_principal {
        return Err(VerifyError::UntrustedRoot {
            issuer: root_issuer.to_string(),
        });
    }
    let mut proofs = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.iter().enumerate() {
        let (prepared, binding) = p.credential.prepare().map_err(|e| proof_error(i, e))?;
        let key = prepared.info.signer.public_key();
        if i == 0 {
            check_root_binding(&root_issuer, binding, &key, now, registry)?;
        }
        proofs.push((prepared, key));
    }

    // 5. Signatures.
    verify_signatures(&proofs, extra)?;

    // 6. Narrowing.
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
        if let Some(expires) = prepared.info.expires {
            if now.add_seconds(-skew) > expires {
                return Err(VerifyError::ProofExpired {
                    link: Some(i),
                    expires,
                    secs: now.unix() - expires.unix(),
                });
            }
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
        }
    }

    // The verified agent.
    let root = parsed[0].credential.kind();
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
