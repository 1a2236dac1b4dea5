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
//!    registration, nor (the root) by its `did:pkh` issuer.

use std::sync::Arc;

use ed25519_dalek::Signature;
use kya_core::chain::Link;
use kya_core::credential::{
    self, AgentRegistration, CredentialError, CredentialKind, IssuerBinding, NamedCredential,
    PreparedCredential, UnverifiedCredential, VerifiedCredential,
};
use kya_core::ed25519::{self, SignatureError};
use kya_core::grant::GrantSet;
use kya_core::json::{JsonError, ReadValue, parse_strict, read_strict_elements};
use kya_core::proof::ProofError;
use kya_core::status::{StatusEntry, VerifiedStatusList};
use kya_core::{CredentialDigest, Did, DidKey, ProofInfo, PublicKey, Timestamp};
use serde_json::Value;

use crate::agent::{
    AgentInner, AgentKeyId, ChainDigest, ChainLink, RegistrationFacts, VerifiedAgent,
};
use crate::cards::AgentCardView;
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::registry::RegistryView;
use crate::status::StatusListView;
use crate::verifier::HolderProof;

/// A signature over some message by the chain's agent (a presentation proof, an HTTP
/// message signature) to be checked in the same batch as the chain's own signatures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DetachedSignature<'a> {
    /// The signed bytes.
    pub(crate) message: &'a [u8],
    /// The signature.
    pub(crate) signature: Signature,
    /// The key that signed; must be the chain leaf's subject key.
    pub(crate) signer: PublicKey,
}

/// Parses the bytes of a chain into its link values, enforcing the input bounds.
/// Links sent in JCS form (as kya's signers send them) keep their bytes, which name and hash
/// them without writing them again.
pub(crate) fn parse_chain_bytes(
    bytes: &[u8],
    policy: &Policy,
) -> Result<Vec<ReadValue>, VerifyError> {
    check_input_size(bytes, policy)?;
    match read_strict_elements(bytes, policy.limits().json()).map_err(input_error)? {
        Ok(links) => Ok(links),
        Err(_) => Err(VerifyError::Malformed {
            link: None,
            reason: "a credential chain must be a json array of credentials, root first".into(),
        }),
    }
}

/// Why base64url chain text (a `KYA-Chain` header) was refused.
#[derive(Debug)]
pub(crate) enum ChainTextError {
    /// It decodes (or would decode) to more than the bound.
    TooLarge {
        /// The decoded length, or a lower bound of it.
        len: usize,
    },
    /// It is not base64url without padding.
    NotBase64(base64::DecodeError),
}

/// Decodes base64url text (no padding) of at most `max` bytes, refusing oversized text
/// before decoding anything: the one reading of `KYA-Chain` text.
pub(crate) fn decode_chain_text(text: &str, max: usize) -> Result<Vec<u8>, ChainTextError> {
    use base64::Engine as _;
    // base64url inflates by 4/3.
    if text.len() / 4 * 3 > max {
        return Err(ChainTextError::TooLarge {
            len: text.len() / 4 * 3,
        });
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(ChainTextError::NotBase64)?;
    if bytes.len() > max {
        return Err(ChainTextError::TooLarge { len: bytes.len() });
    }
    Ok(bytes)
}

/// Strict JSON parse under the policy's byte limit.
pub(crate) fn parse_input(bytes: &[u8], policy: &Policy) -> Result<Value, VerifyError> {
    check_input_size(bytes, policy)?;
    parse_strict(bytes, policy.limits().json()).map_err(input_error)
}

fn check_input_size(bytes: &[u8], policy: &Policy) -> Result<(), VerifyError> {
    let max = policy.limits().max_input_bytes;
    if bytes.len() > max {
        return Err(VerifyError::InputTooLarge {
            len: bytes.len(),
            max,
        });
    }
    Ok(())
}

fn input_error(e: JsonError) -> VerifyError {
    match e {
        JsonError::TooLarge { len, max } => VerifyError::InputTooLarge { len, max },
        other => VerifyError::Malformed {
            link: None,
            reason: other.to_string(),
        },
    }
}

/// The named links and the chain's name.
struct ParsedChain {
    links: Vec<NamedCredential>,
    digest: ChainDigest,
}

/// Checks the chain's bounds and form (steps 1–3) and returns the named links.
fn parse_links(links: Vec<ReadValue>, policy: &Policy) -> Result<ParsedChain, VerifyError> {
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
    let mut named: Vec<NamedCredential> = Vec::with_capacity(links.len());
    let mut total_grants = 0usize;
    for (i, value) in links.into_iter().enumerate() {
        // Count grants before the (costlier) typed parse of each of them.
        let grant_count = value
            .value()
            .get("credentialSubject")
            .and_then(|subject| subject.get("grants"))
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
        let credential =
            UnverifiedCredential::from_read_accepting(value, policy.accepted_contexts())
                .and_then(NamedCredential::new)
                .map_err(|e| credential_refusal(i, &e))?;
        // A chain is at most `max_chain_depth` links: a scan of the earlier ones is cheaper
        // than hashing into maps.
        let earlier = |same: &dyn Fn(&NamedCredential) -> bool| named.iter().position(same);
        if let Some(first) = earlier(&|c| c.kind().id() == credential.kind().id()) {
            return Err(VerifyError::DuplicateLink {
                link: i,
                first,
                what: "id",
            });
        }
        if let Some(first) = earlier(&|c| c.digest() == credential.digest()) {
            return Err(VerifyError::DuplicateLink {
                link: i,
                first,
                what: "digest",
            });
        }
        named.push(credential);
    }
    check_linkage(&named)?;
    let digest = ChainDigest::of_canonical_links(named.iter().map(NamedCredential::canonical));
    Ok(ParsedChain {
        links: named,
        digest,
    })
}

/// Each link issued by its parent's subject and naming its parent, child by child (a chain
/// in the wrong order is reported where the order breaks); the root an authorisation.
fn check_linkage(named: &[NamedCredential]) -> Result<(), VerifyError> {
    for i in 1..named.len() {
        let (parent, child) = (&named[i - 1], &named[i]);
        let parent_subject = Did::Key(*parent.kind().subject());
        let issuer = child.kind().issuer();
        if issuer != parent_subject {
            return Err(VerifyError::IssuerNotParentSubject {
                link: i,
                issuer: issuer.to_string(),
                parent_subject: parent_subject.to_string(),
            });
        }
        match child.kind() {
            CredentialKind::Delegation(d) => {
                if d.parent.digest != parent.digest() || d.parent.id != parent.kind().id() {
                    return Err(VerifyError::ParentDigestMismatch {
                        link: i,
                        named_id: d.parent.id.chars().take(200).collect(),
                        named_digest: d.parent.digest,
                        parent_id: parent.kind().id().chars().take(200).collect(),
                        parent_digest: parent.digest(),
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
    match named.first().map(NamedCredential::kind) {
        Some(CredentialKind::Authorization(_)) => Ok(()),
        Some(other) => Err(VerifyError::NotAChainRoot {
            link: 0,
            found: other.type_name(),
        }),
        None => Err(VerifyError::EmptyChain),
    }
}

/// The verifier's refusal of a credential it could not read or whose proof failed. The one
/// place a [`CredentialError`] becomes a verdict: [`Code::of_credential_error`](crate::Code::of_credential_error)
/// gives a builder's or a binding's refusal its code from here, so they speak as the verifier.
pub(crate) fn credential_refusal(link: usize, e: &CredentialError) -> VerifyError {
    match e {
        CredentialError::DataModel(violations) => VerifyError::NotVcDataModel {
            link: Some(link),
            violations: violations.clone(),
        },
        CredentialError::Context(source) => VerifyError::ContextNotAccepted {
            link: Some(link),
            source: source.clone(),
        },
        CredentialError::WrongSigner { .. }
        | CredentialError::Proof(
            ProofError::BadSignature { .. } | ProofError::RefusedSignature { .. },
        ) => VerifyError::BadSignature {
            link: Some(link),
            reason: e.to_string(),
        },
        _ => VerifyError::Malformed {
            link: Some(link),
            reason: e.to_string(),
        },
    }
}

/// Trust in the root, before any signature work: explicitly trusted, or a wallet principal
/// when the policy trusts those the registry confirms.
fn check_root_trusted(policy: &Policy, root_issuer: &Did) -> Result<(), VerifyError> {
    let explicitly_trusted = policy.is_trusted_root(root_issuer);
    let registry_principal =
        matches!(root_issuer, Did::Pkh(_)) && policy.trusts_registry_principals();
    if explicitly_trusted || registry_principal {
        Ok(())
    } else {
        Err(VerifyError::UntrustedRoot {
            issuer: root_issuer.to_string(),
        })
    }
}

/// Every signature of the chain, and the holder's, in one batch under kya's one Ed25519
/// rule; the failing one is named (`Some(link)`, or `None` for the holder's).
fn verify_signatures(
    prepared: Vec<PreparedCredential>,
    holder: Option<&DetachedSignature<'_>>,
) -> Result<Vec<VerifiedCredential>, VerifyError> {
    let signers: Vec<DidKey> = prepared.iter().map(|p| p.proof().signer).collect();
    let detached = holder.map(|h| (&h.signer, h.message, &h.signature));
    credential::verify_batch(prepared, detached).map_err(|failed| {
        match (signers.get(failed.index), failed.error) {
            (Some(signer), SignatureError::Equation) => VerifyError::BadSignature {
                link: Some(failed.index),
                reason: format!(
                    "signature by {signer} does not verify: the credential or its proof was altered, or another key signed it"
                ),
            },
            (Some(_), error) => refused(Some(failed.index), error),
            (None, error) => match holder {
                Some(h) => bad_detached(h, error),
                None => refused(None, error),
            },
        }
    })
}

/// A verified link: its content, what its proof says, its name.
type VerifiedLink = (Link, ProofInfo, CredentialDigest);

/// Windows nest and grants narrow, link by link.
fn check_narrowing(links: &[VerifiedLink]) -> Result<(), VerifyError> {
    for i in 1..links.len() {
        let (parent, child) = (&links[i - 1].0, &links[i].0);
        if child.valid_from() < parent.valid_from() || child.valid_until() > parent.valid_until() {
            return Err(VerifyError::ValidityOutsideParent {
                link: i,
                valid_from: child.valid_from(),
                valid_until: child.valid_until(),
                parent_from: parent.valid_from(),
                parent_until: parent.valid_until(),
            });
        }
        GrantSet(child.grants())
            .attenuates(parent.grants())
            .map_err(|w| VerifyError::GrantWidened {
                link: i,
                grant: w.child_index,
                parent_grant: w.parent_index,
                widening: w.reason.code(),
                reason: w.to_string(),
            })?;
    }
    Ok(())
}

/// Every link valid at now ± skew; no proof created after now + skew or past its own
/// `expires`.
fn check_times(links: &[VerifiedLink], now: Timestamp, skew: i64) -> Result<(), VerifyError> {
    for (i, (link, proof, _)) in links.iter().enumerate() {
        if now.add_seconds(-skew) > link.valid_until() {
            return Err(VerifyError::CredentialExpired {
                link: i,
                valid_until: link.valid_until(),
                secs: now.unix() - link.valid_until().unix(),
            });
        }
        if now.add_seconds(skew) < link.valid_from() {
            return Err(VerifyError::CredentialNotYetValid {
                link: i,
                valid_from: link.valid_from(),
                secs: link.valid_from().unix() - now.unix(),
            });
        }
        if let Some(expires) = proof.expires {
            if now.add_seconds(-skew) > expires {
                return Err(VerifyError::ProofExpired {
                    link: Some(i),
                    expires,
                    secs: now.unix() - expires.unix(),
                });
            }
        }
        if let Some(created) = proof.created {
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
    Ok(())
}

/// Registered subjects exist, are active and have their keys bound now; no link is revoked
/// under its subject's or its issuer's registration. Returns each link's registry facts.
fn check_registry(
    links: &[(&Link, CredentialDigest)],
    policy: &Policy,
    now: Timestamp,
    view: &dyn RegistryView,
) -> Result<Vec<Option<RegistrationFacts>>, VerifyError> {
    let mut facts: Vec<Option<RegistrationFacts>> = vec![None; links.len()];
    for (i, &(link, ref digest)) in links.iter().enumerate() {
        if let Some(reg) = link.registration() {
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
            let key = link.subject().public_key();
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
        let issuer_reg: Option<&AgentRegistration> = match i {
            0 => None,
            _ => links[i - 1].0.registration(),
        };
        for reg in link.registration().into_iter().chain(issuer_reg) {
            if let Some(rev) = view.revoked(reg, digest) {
                return Err(VerifyError::Revoked {
                    link: i,
                    digest: *digest,
                    agent_id: rev.agent_id.to_string(),
                    block: rev.block,
                    time: rev.time,
                });
            }
        }
        // A wallet principal revokes what it issued, whoever owns the agent.
        if let (0, Did::Pkh(issuer)) = (i, link.issuer()) {
            if let Some(rev) = view.revoked_by_issuer(&issuer, digest) {
                return Err(VerifyError::RevokedByIssuer {
                    link: 0,
                    digest: *digest,
                    issuer: issuer.to_string(),
                    block: rev.block,
                    time: rev.time,
                });
            }
        }
    }
    Ok(facts)
}

/// Checks a single signature (the cache-hit path: one check), under the same rule.
pub(crate) fn verify_single(extra: &DetachedSignature<'_>) -> Result<(), VerifyError> {
    ed25519::verify(&extra.signer, extra.message, &extra.signature)
        .map_err(|e| bad_detached(extra, e))
}

/// A holder's proof as a signature by the chain's agent: `agent` must be the key the proof
/// names (`holder_mismatch` otherwise).
pub(crate) fn holder_signature<'a>(
    proof: &HolderProof<'a>,
    agent: &PublicKey,
    agent_keyid: &str,
) -> Result<DetachedSignature<'a>, VerifyError> {
    Ok(DetachedSignature {
        message: proof.message,
        signature: proof.signature,
        signer: proof.key.resolve(agent, agent_keyid)?,
    })
}

fn bad_detached(x: &DetachedSignature<'_>, e: SignatureError) -> VerifyError {
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
            let principal = &principal;
            if registry.is_some_and(|r| r.principal_key_bound(principal, signer, now)) {
                Ok(())
            } else if let Some(reason) = registry.and_then(|r| r.principal_over_bounds(principal)) {
                Err(VerifyError::RegistryRecordOverBounds {
                    link: 0,
                    record: principal.to_string(),
                    reason,
                })
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
    links: Vec<ReadValue>,
    policy: &Policy,
    now: Timestamp,
    views: Views<'_>,
    holder: Option<&HolderProof<'_>>,
) -> Result<VerifiedAgent, VerifyError> {
    let registry = views.registry;
    // 1–3. Bounds, form, linkage.
    let ParsedChain {
        links: named,
        digest: chain_digest,
    } = parse_links(links, policy)?;
    let leaf_key = named
        .last()
        .map(|n| n.kind().subject().public_key())
        .ok_or(VerifyError::EmptyChain)?;
    let keyid = AgentKeyId::default();
    let holder = holder
        .map(|h| holder_signature(h, &leaf_key, keyid.of(&leaf_key)))
        .transpose()?;

    // 4. Trust: the registry view's age and the root, before any signature work.
    check_registry_age(policy, now, registry)?;
    let root_issuer = named
        .first()
        .map(|n| n.kind().issuer())
        .ok_or(VerifyError::EmptyChain)?;
    check_root_trusted(policy, &root_issuer)?;
    let mut prepared = Vec::with_capacity(named.len());
    let mut root_signer = None;
    for (i, n) in named.into_iter().enumerate() {
        let p = n.prepare().map_err(|e| credential_refusal(i, &e))?;
        if i == 0 {
            check_root_binding(&root_issuer, p.issuer_binding(), &p.signer(), now, registry)?;
            root_signer = Some((p.signer(), p.issuer_binding()));
        }
        prepared.push(p);
    }
    let root_signer = root_signer.ok_or(VerifyError::EmptyChain)?;

    // 5. Signatures: the only way to verified credentials.
    let verified = verify_signatures(prepared, holder.as_ref())?;
    let mut links: Vec<VerifiedLink> = Vec::with_capacity(verified.len());
    for (i, v) in verified.into_iter().enumerate() {
        match v.into_link() {
            (Some(link), proof, digest) => links.push((link, proof, digest)),
            (None, ..) => {
                return Err(VerifyError::Malformed {
                    link: Some(i),
                    reason: "a chain link is an authorisation or a delegation".into(),
                });
            }
        }
    }

    // 6–8. Narrowing, time, registry.
    check_narrowing(&links)?;
    let skew = policy.clock_skew_secs();
    check_times(&links, now, skew)?;
    let facts = match registry {
        Some(view) => {
            let refs: Vec<(&Link, CredentialDigest)> =
                links.iter().map(|(l, _, d)| (l, *d)).collect();
            check_registry(&refs, policy, now, view)?
        }
        None => vec![None; links.len()],
    };
    check_min_validation(
        policy,
        links.last().and_then(|(l, ..)| l.registration()),
        registry,
    )?;
    check_cards(
        links.iter().map(|(l, ..)| l.registration()),
        &facts,
        policy,
        views.cards,
    )?;
    // 9. Status lists.
    check_status_of(
        link_status_holders(links.iter().map(|(l, ..)| l), root_signer.0),
        policy,
        now,
        views.status,
    )?;
    let root = RootFacts {
        principal: root_issuer,
        signer: root_signer,
        chain_digest,
    };
    verified_agent(links, facts, root, keyid, now, (registry.is_some(), skew))
}

/// What a verified agent keeps of its root: the principal, the key that signed the root
/// and how the principal controls it, and the chain's name.
struct RootFacts {
    principal: Did,
    signer: (PublicKey, IssuerBinding),
    chain_digest: ChainDigest,
}

fn verified_agent(
    links: Vec<VerifiedLink>,
    facts: Vec<Option<RegistrationFacts>>,
    root: RootFacts,
    keyid: AgentKeyId,
    now: Timestamp,
    (registry_checked, skew): (bool, i64),
) -> Result<VerifiedAgent, VerifyError> {
    let mut chain = Vec::with_capacity(links.len());
    let (mut valid_from, mut valid_until) = (None::<Timestamp>, None::<Timestamp>);
    for ((link, proof, digest), registry) in links.into_iter().zip(facts) {
        valid_from = Some(valid_from.map_or(link.valid_from(), |t| t.max(link.valid_from())));
        // A proof's own `expires` ends the result too (a cached result must not outlive it).
        let until = proof
            .expires
            .map_or(link.valid_until(), |e| e.min(link.valid_until()));
        valid_until = Some(valid_until.map_or(until, |t| t.min(until)));
        chain.push(ChainLink {
            link,
            digest,
            created: proof.created,
            registry,
        });
    }
    let agent = *chain
        .last()
        .map(ChainLink::subject)
        .ok_or(VerifyError::EmptyChain)?;
    Ok(VerifiedAgent {
        inner: Arc::new(AgentInner {
            agent,
            principal: root.principal,
            chain_digest: root.chain_digest,
            chain,
            valid_from: valid_from.unwrap_or(now),
            valid_until: valid_until.unwrap_or(now),
            verified_at: now,
            registry_checked,
            skew,
            root_signer: root.signer,
            keyid,
        }),
        presentation: None,
    })
}

/// What a cached result must be judged on again, now: the registry view's age, and the
/// registry facts (a key bound or unbound, a revocation) that can change with time while the
/// view's state does not. The signatures, the narrowing and the windows do not change.
pub(crate) fn recheck_cached(
    agent: &VerifiedAgent,
    policy: &Policy,
    now: Timestamp,
    views: Views<'_>,
) -> Result<(), VerifyError> {
    let registry = views.registry;
    check_registry_age(policy, now, registry)?;
    let (signer, binding) = agent.inner.root_signer;
    check_status_of(
        link_status_holders(agent.chain().iter().map(ChainLink::link), signer),
        policy,
        now,
        views.status,
    )?;
    check_min_validation(
        policy,
        agent.chain().last().and_then(|l| l.link().registration()),
        registry,
    )?;
    let Some(view) = registry else {
        return Ok(());
    };
    check_root_binding(agent.principal(), binding, &signer, now, registry)?;
    let links: Vec<(&Link, CredentialDigest)> = agent
        .chain()
        .iter()
        .map(|l| (l.link(), l.digest()))
        .collect();
    let facts = check_registry(&links, policy, now, view)?;
    check_cards(
        links.iter().map(|(l, _)| l.registration()),
        &facts,
        policy,
        views.cards,
    )
}

/// When the policy has `minValidation`: the leaf's registered agent has enough passing
/// validations by trusted validators in the registry view (no view refuses).
fn check_min_validation(
    policy: &Policy,
    leaf: Option<&AgentRegistration>,
    registry: Option<&dyn RegistryView>,
) -> Result<(), VerifyError> {
    match policy.min_validation() {
        Some(requirement) => crate::validation::check(requirement, leaf, registry),
        None => Ok(()),
    }
}

/// When the policy asks for agent cards: each registered link's agent has a card at the
/// `agentURI` the registry records, held by the verifier, active, and naming that very
/// registration. A registered link without registry facts (no view) has no card to find.
fn check_cards<'a>(
    registrations: impl IntoIterator<Item = Option<&'a AgentRegistration>>,
    facts: &[Option<RegistrationFacts>],
    policy: &Policy,
    view: Option<&dyn AgentCardView>,
) -> Result<(), VerifyError> {
    if !policy.requires_agent_cards() {
        return Ok(());
    }
    for (i, reg) in registrations.into_iter().enumerate() {
        let Some(reg) = reg else { continue };
        let uri = facts
            .get(i)
            .and_then(Option::as_ref)
            .map(|f| f.record.agent_uri.clone())
            .unwrap_or_default();
        let card =
            view.and_then(|v| v.card(&uri))
                .ok_or_else(|| VerifyError::AgentCardMissing {
                    link: i,
                    uri: uri.chars().take(200).collect(),
                })?;
        let reason = if !card.active {
            "is marked inactive"
        } else if !card.names(reg) {
            "does not name the agent's registration"
        } else {
            continue;
        };
        return Err(VerifyError::AgentCardMismatch {
            link: i,
            uri: uri.chars().take(200).collect(),
            reason: reason.to_owned(),
        });
    }
    Ok(())
}

/// What a verdict is judged against besides the chain itself.
#[derive(Clone, Copy, Default)]
pub(crate) struct Views<'a> {
    /// The registry view.
    pub(crate) registry: Option<&'a dyn RegistryView>,
    /// The status lists.
    pub(crate) status: Option<&'a dyn StatusListView>,
    /// The agent cards.
    pub(crate) cards: Option<&'a dyn AgentCardView>,
}

/// The key that signed link `i`: the root's signer for the root (a `did:pkh` principal's
/// bound key, or its `did:key`), the delegating agent's key for a delegation (its proof
/// must be by its `did:key` issuer).
fn link_signer(i: usize, link: &Link, root_signer: PublicKey) -> PublicKey {
    match (i, link.issuer()) {
        (0, _) => root_signer,
        (_, Did::Key(issuer)) => issuer.public_key(),
        (_, Did::Pkh(_)) => root_signer,
    }
}

/// The links of a chain (root first) as status holders: each with its issuer and the key
/// that signed it, so that every status entry of every link is checked against the list it
/// names (held by this verifier, issued by the link's issuer and signed by that key, fresh,
/// for the entry's purpose, its bit clear). No lists, no pass.
fn link_status_holders<'a>(
    links: impl Iterator<Item = &'a Link>,
    root_signer: PublicKey,
) -> impl Iterator<Item = StatusHolder<'a>> {
    links.enumerate().map(move |(i, link)| StatusHolder {
        issuer: link.issuer(),
        signer: link_signer(i, link, root_signer),
        entries: link.status(),
    })
}

/// A credential whose status entries are checked: its issuer, the key that signed it.
pub(crate) struct StatusHolder<'a> {
    pub(crate) issuer: Did,
    pub(crate) signer: PublicKey,
    pub(crate) entries: &'a [StatusEntry],
}

/// The one status rule, for chain links and for any other credential (`link` in errors is
/// the holder's position).
pub(crate) fn check_status_of<'a>(
    holders: impl IntoIterator<Item = StatusHolder<'a>>,
    policy: &Policy,
    now: Timestamp,
    view: Option<&dyn StatusListView>,
) -> Result<(), VerifyError> {
    for (i, holder) in holders.into_iter().enumerate() {
        let signer = holder.signer;
        for entry in holder.entries {
            let list = view.and_then(|v| v.list(&entry.list)).ok_or_else(|| {
                VerifyError::StatusListMissing {
                    link: i,
                    list: entry.list.clone(),
                }
            })?;
            let mismatch = |reason: String| VerifyError::StatusListMismatch {
                link: i,
                list: entry.list.clone(),
                reason,
            };
            if *list.issuer() != holder.issuer {
                return Err(mismatch(format!(
                    "it is issued by {}, the credential by {}",
                    list.issuer(),
                    holder.issuer
                )));
            }
            if list.signer() != signer {
                return Err(mismatch(format!(
                    "it is signed by {}, the credential by {signer}",
                    list.signer()
                )));
            }
            check_list_fresh(&list, policy, now).map_err(|reason| {
                VerifyError::StatusListStale {
                    link: i,
                    list: entry.list.clone(),
                    reason,
                }
            })?;
            if list.status(entry).map_err(|e| mismatch(e.to_string()))? {
                return Err(VerifyError::StatusSet {
                    link: i,
                    purpose: entry.purpose,
                    list: entry.list.clone(),
                    index: entry.index,
                });
            }
        }
    }
    Ok(())
}

/// A list is used from its `validFrom` (less the skew) until its `validUntil` (plus the
/// skew), and for at most the policy's age bound after its `validFrom`.
fn check_list_fresh(
    list: &VerifiedStatusList,
    policy: &Policy,
    now: Timestamp,
) -> Result<(), String> {
    let skew = policy.clock_skew_secs();
    if list.valid_from() > now.add_seconds(skew) {
        return Err(format!(
            "published at {}, after now ({now})",
            list.valid_from()
        ));
    }
    if let Some(until) = list.valid_until() {
        if now > until.add_seconds(skew) {
            return Err(format!("valid until {until}, now is {now}"));
        }
    }
    let age = now.unix() - list.valid_from().unix();
    if age > policy.max_status_list_age_secs() {
        return Err(format!(
            "published at {}, {age} s ago; the policy accepts {} s",
            list.valid_from(),
            policy.max_status_list_age_secs()
        ));
    }
    Ok(())
}
