//! The verifier's window on the on-chain registry, and an in-memory implementation.
//!
//! The verifier asks only a few questions ([`RegistryView`]): is this agent registered (and
//! active), was this Ed25519 key bound to this agent / this principal at time *t*, is this
//! credential digest revoked (under the agent's registration, or by the wallet that issued
//! it), what is this agent's reputation among the raters I trust — and, of the view itself,
//! which records it cannot answer for faithfully (over its bounds) and how recent it is.
//! A [`Snapshot`](crate::snapshot::Snapshot) file answers them offline; `kya-registry`
//! answers them from a node. [`MemoryRegistry`] answers them from values set in code (tests,
//! demos).

use std::collections::BTreeMap;
use std::sync::RwLock;

use kya_core::credential::{AgentId, AgentRegistration};
use kya_core::{CredentialDigest, DidPkh, PublicKey, Timestamp};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// An agent's on-chain identity record (ERC-8004 identity registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRecord {
    /// The agent's token id.
    pub agent_id: AgentId,
    /// The token owner.
    #[serde(serialize_with = "ser_address")]
    pub owner: [u8; 20],
    /// The registration file URI (`agentURI`).
    #[serde(rename = "agentURI")]
    pub agent_uri: String,
    /// The verified agent wallet, if set.
    #[serde(serialize_with = "ser_opt_address")]
    pub agent_wallet: Option<[u8; 20]>,
    /// Whether the agent is active (not deactivated by its owner).
    pub active: bool,
}

/// An on-chain revocation of a credential digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    /// The agent under whose registration the digest was revoked.
    pub agent_id: AgentId,
    /// The block of the revocation.
    pub block: u64,
    /// That block's time.
    pub time: Timestamp,
}

/// An on-chain revocation of a credential digest by the wallet that issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRevocation {
    /// The issuing wallet.
    #[serde(serialize_with = "ser_address")]
    pub issuer: [u8; 20],
    /// The block of the revocation.
    pub block: u64,
    /// That block's time.
    pub time: Timestamp,
}

/// One ERC-8004 feedback entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    /// The rater (ERC-8004 `clientAddress`).
    #[serde(serialize_with = "ser_address")]
    pub client: [u8; 20],
    /// The rater's feedback index for this agent (1-based in ERC-8004).
    pub index: u64,
    /// The score, fixed point.
    #[serde(serialize_with = "ser_i128")]
    pub value: i128,
    /// Decimal places of `value` (0–18).
    pub value_decimals: u8,
    /// First tag.
    pub tag1: String,
    /// Second tag.
    pub tag2: String,
    /// Whether the rater revoked it.
    pub revoked: bool,
}

/// A validation request (ERC-8004 validation registry) of an agent, addressed to one
/// validator, with the validator's latest answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    /// The validator asked.
    #[serde(serialize_with = "ser_address")]
    pub validator: [u8; 20],
    /// What was to be validated (kya: a receipt's digest).
    #[serde(serialize_with = "ser_hash")]
    pub request_hash: [u8; 32],
    /// When the request was made (block and time).
    pub requested_at: BlockAt,
    /// The latest answer, if the validator answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<ValidationAnswer>,
    /// How many answers the validator gave (the latest counts; earlier ones are kept on chain).
    pub responses: u32,
}

/// A block number and that block's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockAt {
    /// Block number.
    pub block: u64,
    /// That block's time.
    pub time: Timestamp,
}

/// A validator's answer to a validation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationAnswer {
    /// 0 (failed) … 100 (passed).
    pub response: u8,
    /// The validator's tag (e.g. `hard_finality`).
    pub tag: String,
    /// When it answered.
    pub at: BlockAt,
}

/// A reputation summary over the feedback of a chosen set of raters, computed as the
/// registry's `getSummary` computes it (see [`ReputationSummary::of`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReputationSummary {
    /// How many feedback entries count.
    pub count: u64,
    /// Their average, fixed point.
    #[serde(serialize_with = "ser_i128")]
    pub average: i128,
    /// Decimal places of `average`.
    pub value_decimals: u8,
}

impl ReputationSummary {
    /// Summarises the non-revoked entries of `feedback` whose client is in `raters`; `None`
    /// when `raters` is empty (an unfiltered summary invites Sybil raters) or nothing counts.
    ///
    /// The arithmetic is the registry contract's `getSummary`, so an offline answer equals
    /// the on-chain one: every value is scaled to 18 decimals, summed, divided by the count
    /// (truncating toward zero), and reported at the most frequent `valueDecimals` (ties go
    /// to the fewest decimals). `None` also when a sum leaves the `i128` range, where the
    /// contract's 256-bit arithmetic would still answer: refusing beats a wrong figure.
    pub fn of<'a>(
        feedback: impl IntoIterator<Item = &'a Feedback>,
        raters: &[[u8; 20]],
    ) -> Option<Self> {
        if raters.is_empty() {
            return None;
        }
        let mut sum: i128 = 0;
        let mut count: u64 = 0;
        let mut per_decimals = [0u64; 19];
        for f in feedback
            .into_iter()
            .filter(|f| !f.revoked && raters.contains(&f.client))
        {
            let decimals = usize::from(f.value_decimals);
            let slot = per_decimals.get_mut(decimals)?;
            *slot += 1;
            let scale = 10i128.checked_pow(u32::from(18 - f.value_decimals))?;
            sum = sum.checked_add(f.value.checked_mul(scale)?)?;
            count += 1;
        }
        if count == 0 {
            return None;
        }
        let mut value_decimals = 0u8;
        let mut best = 0u64;
        for (d, n) in (0u8..).zip(per_decimals) {
            if n > best {
                best = n;
                value_decimals = d;
            }
        }
        let unscale = 10i128.checked_pow(u32::from(18 - value_decimals))?;
        Some(Self {
            count,
            average: (sum / i128::from(count)) / unscale,
            value_decimals,
        })
    }
}

#[cfg(test)]
mod summary_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(client: u8, value: i128, value_decimals: u8) -> Feedback {
        Feedback {
            client: [client; 20],
            value,
            value_decimals,
            index: 1,
            tag1: String::new(),
            tag2: String::new(),
            revoked: false,
        }
    }

    #[test]
    fn mixed_decimals_follow_the_contract() {
        // 87.5 (1 decimal) and 90 (0 decimals): the mean 88.75 is reported at the most
        // frequent precision, ties to the fewest decimals: 88 at 0 decimals, as getSummary.
        let f = [entry(1, 875, 1), entry(2, 90, 0)];
        let s = ReputationSummary::of(&f, &[[1; 20], [2; 20]]).unwrap();
        assert_eq!((s.count, s.average, s.value_decimals), (2, 88, 0));
        // Two entries at 2 decimals outvote one at 0: 91.833… reported as 91.83.
        let f = [entry(1, 9250, 2), entry(2, 9000, 2), entry(3, 93, 0)];
        let s = ReputationSummary::of(&f, &[[1; 20], [2; 20], [3; 20]]).unwrap();
        assert_eq!((s.count, s.average, s.value_decimals), (3, 9183, 2));
        // Negative means truncate toward zero, like Solidity.
        let f = [entry(1, -5, 0), entry(2, -4, 0)];
        let s = ReputationSummary::of(&f, &[[1; 20], [2; 20]]).unwrap();
        assert_eq!(s.average, -4);
        // Raters outside the set, and revoked entries, do not count.
        let mut revoked = entry(1, 100, 0);
        revoked.revoked = true;
        assert!(ReputationSummary::of(&[revoked], &[[1; 20]]).is_none());
        assert!(ReputationSummary::of(&[entry(9, 1, 0)], &[[1; 20]]).is_none());
        assert!(ReputationSummary::of(&[entry(1, 1, 0)], &[]).is_none());
    }
}

/// The registry questions a verifier asks. Object-safe; implementations must be cheap
/// (called once per chain link at most) and must not block on the network in a merchant's
/// request path.
pub trait RegistryView: Send + Sync {
    /// The agent's identity record, or `None` if the registry does not know it (including a
    /// registration naming another chain or registry contract).
    fn agent(&self, reg: &AgentRegistration) -> Option<AgentRecord>;

    /// Whether `key` was bound to the agent at `at` (bound at or before `at`, not unbound
    /// by then).
    fn agent_key_bound(&self, reg: &AgentRegistration, key: &PublicKey, at: Timestamp) -> bool;

    /// Whether `key` was bound as an issuing key of the wallet `principal` at `at`.
    fn principal_key_bound(&self, principal: &DidPkh, key: &PublicKey, at: Timestamp) -> bool;

    /// The revocation of `digest` under the agent's registration, if any.
    fn revoked(&self, reg: &AgentRegistration, digest: &CredentialDigest) -> Option<Revocation>;

    /// The revocation of `digest` by its issuer, the wallet `issuer` (a principal revokes what
    /// it issued, whoever owns the agent). A `did:pkh` of another chain than the view's is
    /// never revoked here.
    fn revoked_by_issuer(
        &self,
        issuer: &DidPkh,
        digest: &CredentialDigest,
    ) -> Option<IssuerRevocation>;

    /// The agent's reputation among `raters`.
    fn reputation(&self, reg: &AgentRegistration, raters: &[[u8; 20]])
    -> Option<ReputationSummary>;

    /// The agent's validation requests addressed to any of `validators`, each with its
    /// latest answer (ERC-8004 validation registry). `None` when the view cannot answer: it
    /// holds no validation records (the default; a snapshot of a deployment without a
    /// validation registry), the registration is not the view's, or the agent's validations
    /// exceeded the view's bounds. A policy requiring validations refuses on `None`: a
    /// missing record never reads as a pass.
    fn validations(
        &self,
        reg: &AgentRegistration,
        validators: &[[u8; 20]],
    ) -> Option<Vec<Validation>> {
        let _ = (reg, validators);
        None
    }

    /// Why the view cannot answer faithfully for this agent (its on-chain record exceeds the
    /// view's bounds, e.g. an `agentURI` or key history longer than a snapshot keeps), if so.
    /// A verifier refuses credentials that depend on such an agent. Views without bounds
    /// answer `None`.
    fn agent_over_bounds(&self, reg: &AgentRegistration) -> Option<String> {
        let _ = reg;
        None
    }

    /// Why the view cannot answer faithfully for this wallet principal's keys, if so (see
    /// [`agent_over_bounds`](Self::agent_over_bounds)).
    fn principal_over_bounds(&self, principal: &DidPkh) -> Option<String> {
        let _ = principal;
        None
    }

    /// The time of the newest block the view reflects (a snapshot's block timestamp), so a
    /// verifier can bound how stale its registry facts may be. `None` for views without such
    /// a time (or a snapshot that never synced a block).
    fn as_of(&self) -> Option<Timestamp> {
        None
    }

    /// An identifier of the state the view reflects, changing whenever any answer may
    /// change. Verified chains are cached across calls only when this is `Some`; the default
    /// (`None`) disables caching of registry-dependent results.
    fn state_id(&self) -> Option<[u8; 32]> {
        None
    }

    /// The state one verification answers from, for a view that changes underneath its
    /// callers (a live view that a background sync replaces): the verifier asks every
    /// question of one verification — its cache key included — of what this returns, so no
    /// verdict combines facts of two states (a key still bound from before a sync, a
    /// validation landed after it). `None` (the default) for a view that only changes when
    /// its owner replaces it whole: the view itself answers.
    fn pinned(&self) -> Option<std::sync::Arc<dyn RegistryView>> {
        None
    }
}

/// Whether a key was bound during `[bound_at, unbound_at)` at `at`.
pub(crate) fn bound_during(
    bound_at: Timestamp,
    unbound_at: Option<Timestamp>,
    at: Timestamp,
) -> bool {
    bound_at <= at && unbound_at.is_none_or(|u| at < u)
}

#[derive(Debug, Clone)]
struct MemoryKey {
    key: PublicKey,
    bound_at: Timestamp,
    unbound_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
struct MemoryAgent {
    record: AgentRecord,
    keys: Vec<MemoryKey>,
    revoked: BTreeMap<CredentialDigest, Revocation>,
    feedback: Vec<Feedback>,
}

#[derive(Debug, Default)]
struct MemoryState {
    agents: BTreeMap<AgentKey, MemoryAgent>,
    principals: BTreeMap<(u64, [u8; 20]), Vec<MemoryKey>>,
    issuer_revocations: BTreeMap<(u64, [u8; 20], CredentialDigest), IssuerRevocation>,
    as_of: Option<Timestamp>,
    generation: u64,
}

/// A registry held in memory, set up in code. Thread-safe; every change bumps its
/// [`state_id`](RegistryView::state_id), so cached verifications never outlive a change.
#[derive(Debug)]
pub struct MemoryRegistry {
    nonce: [u8; 16],
    state: RwLock<MemoryState>,
}

impl Default for MemoryRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        nonce[8..].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
        Self {
            nonce,
            state: RwLock::new(MemoryState::default()),
        }
    }

    fn write<R>(&self, f: impl FnOnce(&mut MemoryState) -> R) -> R {
        let mut state = match self.state.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.generation += 1;
        f(&mut state)
    }

    fn read<R>(&self, f: impl FnOnce(&MemoryState) -> R) -> R {
        match self.state.read() {
            Ok(s) => f(&s),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// Registers (or replaces) an active agent.
    pub fn add_agent(
        &self,
        reg: &AgentRegistration,
        owner: [u8; 20],
        agent_uri: impl Into<String>,
    ) {
        let record = AgentRecord {
            agent_id: reg.agent_id.clone(),
            owner,
            agent_uri: agent_uri.into(),
            agent_wallet: None,
            active: true,
        };
        self.write(|s| {
            s.agents.insert(
                map_key(reg),
                MemoryAgent {
                    record,
                    keys: Vec::new(),
                    revoked: BTreeMap::new(),
                    feedback: Vec::new(),
                },
            );
        });
    }

    /// Sets (or clears) a registered agent's verified `agentWallet` (ERC-8004), the wallet
    /// an x402 payment from this agent may come from.
    pub fn set_agent_wallet(&self, reg: &AgentRegistration, wallet: Option<[u8; 20]>) {
        self.write(|s| {
            if let Some(a) = s.agents.get_mut(&map_key(reg)) {
                a.record.agent_wallet = wallet;
            }
        });
    }

    /// Sets an agent's `active` flag.
    pub fn set_active(&self, reg: &AgentRegistration, active: bool) {
        self.write(|s| {
            if let Some(a) = s.agents.get_mut(&map_key(reg)) {
                a.record.active = active;
            }
        });
    }

    /// Binds `key` to the agent from `at` on.
    pub fn bind_agent_key(&self, reg: &AgentRegistration, key: PublicKey, at: Timestamp) {
        self.write(|s| {
            if let Some(a) = s.agents.get_mut(&map_key(reg)) {
                a.keys.push(MemoryKey {
                    key,
                    bound_at: at,
                    unbound_at: None,
                });
            }
        });
    }

    /// Unbinds `key` from the agent at `at`.
    pub fn unbind_agent_key(&self, reg: &AgentRegistration, key: PublicKey, at: Timestamp) {
        self.write(|s| {
            if let Some(a) = s.agents.get_mut(&map_key(reg)) {
                unbind(&mut a.keys, key, at);
            }
        });
    }

    /// Binds `key` as an issuing key of `principal` from `at` on.
    pub fn bind_principal_key(&self, principal: &DidPkh, key: PublicKey, at: Timestamp) {
        self.write(|s| {
            s.principals
                .entry((principal.chain_id(), principal.address()))
                .or_default()
                .push(MemoryKey {
                    key,
                    bound_at: at,
                    unbound_at: None,
                });
        });
    }

    /// Unbinds an issuing key of `principal` at `at`.
    pub fn unbind_principal_key(&self, principal: &DidPkh, key: PublicKey, at: Timestamp) {
        self.write(|s| {
            if let Some(keys) = s
                .principals
                .get_mut(&(principal.chain_id(), principal.address()))
            {
                unbind(keys, key, at);
            }
        });
    }

    /// Revokes `digest` under the agent's registration.
    pub fn revoke(
        &self,
        reg: &AgentRegistration,
        digest: CredentialDigest,
        block: u64,
        time: Timestamp,
    ) {
        self.write(|s| {
            if let Some(a) = s.agents.get_mut(&map_key(reg)) {
                a.revoked.insert(
                    digest,
                    Revocation {
                        agent_id: reg.agent_id.clone(),
                        block,
                        time,
                    },
                );
            }
        });
    }

    /// Records that the wallet `issuer` revoked `digest`, a credential it issued.
    pub fn revoke_as_issuer(
        &self,
        issuer: &DidPkh,
        digest: CredentialDigest,
        block: u64,
        time: Timestamp,
    ) {
        self.write(|s| {
            s.issuer_revocations.insert(
                (issuer.chain_id(), issuer.address(), digest),
                IssuerRevocation {
                    issuer: issuer.address(),
                    block,
                    time,
                },
            );
        });
    }

    /// Sets the time the registry is said to reflect ([`RegistryView::as_of`]; `None` by
    /// default).
    pub fn set_as_of(&self, as_of: Option<Timestamp>) {
        self.write(|s| s.as_of = as_of);
    }

    /// Adds a feedback entry for the agent.
    pub fn add_feedback(&self, reg: &AgentRegistration, feedback: Feedback) {
        self.write(|s| {
            if let Some(a) = s.agents.get_mut(&map_key(reg)) {
                a.feedback.push(feedback);
            }
        });
    }
}

fn unbind(keys: &mut [MemoryKey], key: PublicKey, at: Timestamp) {
    for k in keys
        .iter_mut()
        .filter(|k| k.key == key && k.unbound_at.is_none())
    {
        k.unbound_at = Some(at);
    }
}

/// `(chain id, registry address, agent id)`.
type AgentKey = (u64, [u8; 20], AgentId);

fn map_key(reg: &AgentRegistration) -> AgentKey {
    (
        reg.agent_registry.chain_id,
        reg.agent_registry.address,
        reg.agent_id.clone(),
    )
}

impl RegistryView for MemoryRegistry {
    fn agent(&self, reg: &AgentRegistration) -> Option<AgentRecord> {
        self.read(|s| s.agents.get(&map_key(reg)).map(|a| a.record.clone()))
    }

    fn agent_key_bound(&self, reg: &AgentRegistration, key: &PublicKey, at: Timestamp) -> bool {
        self.read(|s| {
            s.agents.get(&map_key(reg)).is_some_and(|a| {
                a.keys
                    .iter()
                    .any(|k| k.key == *key && bound_during(k.bound_at, k.unbound_at, at))
            })
        })
    }

    fn principal_key_bound(&self, principal: &DidPkh, key: &PublicKey, at: Timestamp) -> bool {
        self.read(|s| {
            s.principals
                .get(&(principal.chain_id(), principal.address()))
                .is_some_and(|keys| {
                    keys.iter()
                        .any(|k| k.key == *key && bound_during(k.bound_at, k.unbound_at, at))
                })
        })
    }

    fn revoked(&self, reg: &AgentRegistration, digest: &CredentialDigest) -> Option<Revocation> {
        self.read(|s| {
            s.agents
                .get(&map_key(reg))
                .and_then(|a| a.revoked.get(digest).cloned())
        })
    }

    fn revoked_by_issuer(
        &self,
        issuer: &DidPkh,
        digest: &CredentialDigest,
    ) -> Option<IssuerRevocation> {
        self.read(|s| {
            s.issuer_revocations
                .get(&(issuer.chain_id(), issuer.address(), *digest))
                .cloned()
        })
    }

    fn as_of(&self) -> Option<Timestamp> {
        self.read(|s| s.as_of)
    }

    fn reputation(
        &self,
        reg: &AgentRegistration,
        raters: &[[u8; 20]],
    ) -> Option<ReputationSummary> {
        self.read(|s| {
            s.agents
                .get(&map_key(reg))
                .and_then(|a| ReputationSummary::of(&a.feedback, raters))
        })
    }

    fn state_id(&self) -> Option<[u8; 32]> {
        let generation = self.read(|s| s.generation);
        let mut h = Sha256::new();
        h.update(b"kya-memory-registry");
        h.update(self.nonce);
        h.update(generation.to_le_bytes());
        Some(h.finalize().into())
    }
}

pub(crate) fn ser_address<S: serde::Serializer>(a: &[u8; 20], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(a)))
}

pub(crate) fn ser_opt_address<S: serde::Serializer>(
    a: &Option<[u8; 20]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => ser_address(a, s),
        None => s.serialize_none(),
    }
}

pub(crate) fn ser_i128<S: serde::Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

pub(crate) fn ser_hash<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(h)))
}
