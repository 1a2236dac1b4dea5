//! Helpers for the kya-verify targets: the policy and clock they verify under, an
//! independent model of what a verified chain must satisfy, and a chain generator.

use arbitrary::{Arbitrary, Unstructured};
use kya_core::credential::{KYA_V1_CONTEXT, VC_V2_CONTEXT};
use kya_core::grant::{Grant, GrantSet, Request, grants_allow};
use kya_core::json::canonicalize;
use kya_core::proof::{self, ProofOptions};
use kya_core::{CredentialDigest, Did, DidKey, Timestamp};
use kya_verify::{FixedClock, Policy, VerifiedAgent};
use serde_json::{Value, json};

use crate::{T0, arb_grant, arb_narrowing, vector_key};

/// The audience every verify target's policy expects.
pub const AUDIENCE: &str = "did:web:shop.example";

/// "Now" for the verify targets: 2026-02-01T12:00:00Z (inside every vector's validity).
pub fn now() -> Timestamp {
    Timestamp::from_unix(T0 + 31 * 86_400 + 12 * 3600).expect("a valid time")
}

/// A clock stopped at [`now`].
pub fn clock() -> FixedClock {
    FixedClock::new(now())
}

/// The did:key of vector key `i`.
pub fn did(i: u8) -> DidKey {
    DidKey::from_public_key(vector_key(i).public_key())
}

/// Trusts the vectors' principal (key 1), expects [`AUDIENCE`], default limits.
pub fn policy() -> Policy {
    Policy::builder()
        .trust_root(Did::Key(did(1)))
        .audience(AUDIENCE)
        .build()
}

/// Checks, independently of kya-verify's own code, what any verified agent must satisfy:
/// a trusted root; each link issued by the previous link's subject; each link's grants
/// narrowing its parent's; validity windows nested and covering `now` (within the skew);
/// the agent is the leaf subject; the effective grants narrow every link's.
pub fn assert_agent_model(agent: &VerifiedAgent, policy: &Policy, now: Timestamp) {
    let chain = agent.chain();
    assert!(!chain.is_empty(), "a verified chain has links");
    assert!(chain.len() <= policy.limits().max_chain_depth);
    assert!(policy.is_trusted_root(&chain[0].issuer()) || policy.trusts_registry_principals());
    let skew = policy.clock_skew_secs();
    for (i, link) in chain.iter().enumerate() {
        assert!(link.valid_from() <= link.valid_until());
        assert!(
            now.add_seconds(skew) >= link.valid_from(),
            "link {i} not yet valid"
        );
        assert!(
            now.add_seconds(-skew) <= link.valid_until(),
            "link {i} expired"
        );
        if i == 0 {
            continue;
        }
        let parent = &chain[i - 1];
        assert_eq!(
            link.issuer(),
            Did::Key(*parent.subject()),
            "link {i} issuer"
        );
        assert!(
            link.valid_from() >= parent.valid_from(),
            "link {i} starts before parent"
        );
        assert!(
            link.valid_until() <= parent.valid_until(),
            "link {i} outlives parent"
        );
        if let Err(w) = GrantSet(link.grants()).attenuates(parent.grants()) {
            panic!("link {i} widens its parent's grants: {w}");
        }
    }
    let leaf = chain.last().expect("non-empty");
    assert_eq!(agent.agent(), leaf.subject());
    for (i, link) in chain.iter().enumerate() {
        if let Err(w) = GrantSet(agent.effective_grants()).attenuates(link.grants()) {
            panic!("effective grants wider than link {i}: {w}");
        }
    }
}

/// A decision of allow implies that every link's own grants allow the request and that the
/// request falls within every link's validity.
pub fn assert_decision_model(agent: &VerifiedAgent, request: &Request, now: Timestamp) {
    let decision = agent.decide(request, now);
    assert_eq!(decision.is_allowed(), decision.reasons().is_empty());
    if !decision.is_allowed() {
        for r in decision.reasons() {
            assert!(!r.code.as_str().is_empty());
        }
        return;
    }
    let at = request.time;
    for (i, link) in agent.chain().iter().enumerate() {
        if let Err(d) = grants_allow(link.grants(), request) {
            panic!(
                "allowed, but link {i} denies {}: {d}",
                request.to_json_value()
            );
        }
        assert!(at <= link.valid_until(), "allowed after link {i} expired");
    }
}

/// What went into a generated chain, so the target knows which verdict is due.
#[derive(Debug, Default)]
pub struct Generated {
    /// The chain, root first.
    pub links: Vec<Value>,
    /// Every link was made honestly: issuer = previous subject, signed by the issuer,
    /// right parent digest, nested validity containing now, narrowed grants, root trusted.
    pub honest: bool,
}

fn rfc3339(t: i64) -> String {
    Timestamp::from_unix(t)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Generates a chain of one to four links over the vector keys, mostly well formed, with
/// arbitrary corruptions (wrong issuer, wrong signer, wrong parent digest, widened grants,
/// windows that do not nest, swapped links).
pub fn arb_chain(u: &mut Unstructured<'_>) -> arbitrary::Result<Generated> {
    let n = u.int_in_range(1..=4u8)?;
    let mut honest = true;
    let mut links: Vec<Value> = Vec::new();
    let mut parent_grants: Vec<Grant> = Vec::new();
    let (mut from, mut until) = (T0, T0 + 365 * 86_400);
    let now = now().unix();
    for i in 0..n {
        let corrupt = |u: &mut Unstructured<'_>| u.ratio(1, 12);
        // Issuer i+1 (1 = principal), subject i+2.
        let mut issuer = i + 1;
        if corrupt(u)? {
            issuer = u.int_in_range(1..=6u8)?;
            honest &= issuer == i + 1;
        }
        let subject = i + 2;
        let mut signer = issuer;
        if corrupt(u)? {
            signer = u.int_in_range(1..=6u8)?;
            honest &= signer == issuer;
        }
        // Grants: narrowings of the parent's, or anything.
        let count = u.int_in_range(1..=3u8)?;
        let mut grants = Vec::new();
        for _ in 0..count {
            let g = if i > 0 && !parent_grants.is_empty() && !corrupt(u)? {
                let p = &parent_grants[u.choose_index(parent_grants.len())?];
                arb_narrowing(u, p).unwrap_or_else(|_| p.clone())
            } else {
                arb_grant(u)?
            };
            grants.push(g);
        }
        if i > 0 && GrantSet(&grants).attenuates(&parent_grants).is_err() {
            honest = false;
        }
        // Validity: the parent's, maybe shrunk, maybe (corruptly) extended.
        let shrink = |u: &mut Unstructured<'_>| -> arbitrary::Result<i64> {
            Ok(i64::from(u.int_in_range(0..=40u8)?) * 86_400 / 4)
        };
        let (mut f, mut t) = (from + shrink(u)?, until - shrink(u)?);
        if corrupt(u)? {
            f -= 86_400;
            t += 86_400;
            honest &= i == 0;
        }
        if f > now - 60 || t < now + 60 || f > t {
            honest = false;
        }
        let mut doc = json!({
            "@context": [VC_V2_CONTEXT, KYA_V1_CONTEXT],
            "type": ["VerifiableCredential", if i == 0 { "AgentAuthorization" } else { "AgentDelegation" }],
            "id": format!("urn:uuid:00000000-0000-4000-8000-{:012}", i + 1),
            "issuer": did(issuer).to_string(),
            "validFrom": rfc3339(f),
            "validUntil": rfc3339(t),
            "credentialSubject": {
                "id": did(subject).to_string(),
                "grants": grants.iter().map(Grant::to_json_value).collect::<Vec<_>>(),
            },
        });
        if let Some(parent) = links.last() {
            let mut digest = CredentialDigest::of_canonical(
                &canonicalize(parent).map_err(|_| arbitrary::Error::IncorrectFormat)?,
            );
            if corrupt(u)? {
                digest.0[0] ^= 1;
                honest = false;
            }
            doc["parentCredential"] = json!({
                "id": parent["id"].clone(),
                "digestMultibase": digest.to_multibase(),
            });
        }
        let key = vector_key(signer);
        let options = ProofOptions::assertion(key.public_key())
            .created(Timestamp::from_unix(f).unwrap_or_else(|| crate::verify::now()));
        let signed =
            proof::sign(&doc, &options, &key).map_err(|_| arbitrary::Error::IncorrectFormat)?;
        links.push(signed);
        parent_grants = grants;
        (from, until) = (f, t);
    }
    if links.len() > 1 && u.ratio(1, 16)? {
        let last = links.len() - 1;
        links.swap(0, last);
        honest = false;
    }
    // Leave the last word to the fuzzer: sometimes one more arbitrary edit.
    if u.ratio(1, 8)? {
        let i = u.choose_index(links.len())?;
        crate::arb_edit(u, &mut links[i])?;
        honest = false;
    }
    let _ = bool::arbitrary(u);
    Ok(Generated { links, honest })
}
