//! Registry snapshots: the registry's state at one block, in a deterministic JSON file that a
//! merchant loads offline. The format is documented in `SNAPSHOT.md`.
//!
//! A [`Snapshot`] is read with [`Snapshot::load`] (validated: version, sorted and unique
//! entries, bounded sizes), answers the verifier's questions ([`RegistryView`]), is updated
//! event by event by a sync client (`apply_*`), and is written with
//! [`Snapshot::to_json_bytes`] (RFC 8785 canonical JSON: the same state always gives the same
//! bytes).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use kya_core::credential::{AgentId, AgentRegistration};
use kya_core::json::{JsonLimits, canonicalize, parse_strict};
use kya_core::{CredentialDigest, DidPkh, PublicKey, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::policy::{Address, truncate};
use crate::registry::{
    AgentRecord, BlockAt, Feedback, IssuerRevocation, RegistryView, ReputationSummary, Revocation,
    Validation, ValidationAnswer, bound_during,
};

/// The snapshot format version this crate writes (version 4 added the validation registry's
/// records).
pub const SNAPSHOT_VERSION: u64 = 4;
/// The previous format version, still read (it has no validation records).
pub const SNAPSHOT_VERSION_PREVIOUS: u64 = 3;
/// Largest snapshot file accepted by [`Snapshot::load`] (256 MiB).
pub const MAX_SNAPSHOT_BYTES: usize = 256 * 1024 * 1024;
/// Most recent block hashes kept for reorg detection.
pub const MAX_RECENT_BLOCKS: usize = 256;
/// Most agents.
pub const MAX_AGENTS: usize = 1_000_000;
/// Most key bindings (current and past) per agent or principal.
pub const MAX_KEYS_PER_OWNER: usize = 1024;
/// Most principals.
pub const MAX_PRINCIPALS: usize = 1_000_000;
/// Most revocations.
pub const MAX_REVOCATIONS: usize = 10_000_000;
/// Most feedback entries.
pub const MAX_FEEDBACK: usize = 10_000_000;
/// Most validation requests (all agents together).
pub const MAX_VALIDATIONS: usize = 1_000_000;
/// Most validation requests per agent.
pub const MAX_VALIDATIONS_PER_AGENT: usize = 1024;
/// Longest `agentURI`, tag, in bytes.
pub const MAX_STRING_BYTES: usize = 8192;

/// A bound that an agent's or a principal's on-chain record exceeds. Anyone can write such a
/// record (a long URI, thousands of keys), so the sync never stops on one: the record is kept
/// only as "over bounds", and the verifier refuses what depends on it (fail closed for that
/// record alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OverBound {
    /// The `agentURI` is longer than [`MAX_STRING_BYTES`] (it is kept empty).
    #[serde(rename = "agentURI")]
    AgentUri,
    /// More than [`MAX_KEYS_PER_OWNER`] key bindings (no key is kept: none counts as bound).
    #[serde(rename = "keys")]
    Keys,
}

impl OverBound {
    fn reason(self) -> String {
        match self {
            Self::AgentUri => format!("its agentURI is over {MAX_STRING_BYTES} bytes"),
            Self::Keys => format!("it has over {MAX_KEYS_PER_OWNER} key bindings"),
        }
    }
}

fn mark(set: &mut Vec<OverBound>, b: OverBound) {
    if let Err(pos) = set.binary_search(&b) {
        set.insert(pos, b);
    }
}

/// Why a record is over bounds, if it is.
fn identity_reasons(set: &[OverBound]) -> Option<String> {
    let reasons: Vec<String> = set.iter().map(|b| b.reason()).collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Why a snapshot could not be loaded or an event not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot: {0}")]
pub struct SnapshotError(pub String);

fn err(m: impl Into<String>) -> SnapshotError {
    SnapshotError(m.into())
}

/// A block and its time: when a binding or a revocation happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockTime {
    /// Block number.
    pub block: u64,
    /// Block timestamp.
    pub time: Timestamp,
}

/// A block number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    #[serde(with = "hash32")]
    pub hash: [u8; 32],
}

/// The block a snapshot reflects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Head {
    /// Block number.
    pub number: u64,
    /// Block hash.
    #[serde(with = "hash32")]
    pub hash: [u8; 32],
    /// The block's state root (all zero when not recorded): storage proofs of the registry's
    /// facts at this block verify against it.
    #[serde(with = "hash32")]
    pub state_root: [u8; 32],
    /// Block timestamp.
    pub timestamp: Timestamp,
}

mod hash32 {
    pub(super) fn serialize<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(h)))
    }
    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<[u8; 32], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        let h = s
            .strip_prefix("0x")
            .filter(|h| h.len() == 64)
            .ok_or_else(|| serde::de::Error::custom("expected 0x + 64 hex digits"))?;
        hex::decode_to_slice(h, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
    use serde::Deserialize as _;
}

/// An agent id ordered as a number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AgentNum(AgentId);

impl Ord for AgentNum {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.0.as_str(), other.0.as_str());
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for AgentNum {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyBinding {
    key: PublicKey,
    bound_at: BlockTime,
    unbound_at: Option<BlockTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AgentEntry {
    owner: [u8; 20],
    agent_uri: String,
    agent_wallet: Option<[u8; 20]>,
    active: bool,
    keys: Vec<KeyBinding>,
    over_bounds: Vec<OverBound>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PrincipalEntry {
    keys: Vec<KeyBinding>,
    over_bounds: Vec<OverBound>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FeedbackEntry {
    value: i128,
    value_decimals: u8,
    tag1: String,
    tag2: String,
    revoked: bool,
}

/// A validation request (agent, validator, request hash) and its latest answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValidationEntry {
    requested_at: BlockTime,
    latest: Option<AnswerEntry>,
    responses: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AnswerEntry {
    response: u8,
    tag: String,
    at: BlockTime,
}

type ValidationKey = (AgentNum, [u8; 20], [u8; 32]);

/// The registry's state at one block (see the module docs and `SNAPSHOT.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    chain_id: u64,
    identity_registry: [u8; 20],
    reputation_registry: [u8; 20],
    genesis_hash: [u8; 32],
    block: Head,
    recent_blocks: Vec<BlockRef>,
    agents: BTreeMap<AgentNum, AgentEntry>,
    principals: BTreeMap<[u8; 20], PrincipalEntry>,
    revocations: BTreeMap<(AgentNum, [u8; 32]), BlockTime>,
    issuer_revocations: BTreeMap<([u8; 20], [u8; 32]), BlockTime>,
    feedback: BTreeMap<(AgentNum, [u8; 20], u64), FeedbackEntry>,
    /// (agent, rater) pairs with feedback dropped for its bounds: a summary over that rater
    /// is not answered for that agent.
    feedback_over_bounds: BTreeSet<(AgentNum, [u8; 20])>,
    /// The validation registry, when the deployment has one.
    validation_registry: Option<[u8; 20]>,
    validations: BTreeMap<ValidationKey, ValidationEntry>,
    /// Agents whose validation records exceeded the bounds: none of theirs is kept, and the
    /// view answers nothing for them (a dropped answer must never leave a stale pass).
    validations_over_bounds: BTreeSet<AgentNum>,
    state_id: [u8; 32],
}

// ---- the file form -------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SnapshotJson {
    version: u64,
    chain_id: u64,
    identity_registry: Address,
    reputation_registry: Address,
    #[serde(with = "hash32")]
    genesis_hash: [u8; 32],
    block: Head,
    recent_blocks: Vec<BlockRef>,
    agents: Vec<AgentJson>,
    principals: Vec<PrincipalJson>,
    revocations: Vec<RevocationJson>,
    issuer_revocations: Vec<IssuerRevocationJson>,
    feedback: Vec<FeedbackJson>,
    feedback_over_bounds: Vec<FeedbackOverBoundsJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    validation_registry: Option<Address>,
    #[serde(default)]
    validations: Vec<ValidationJson>,
    #[serde(default)]
    validations_over_bounds: Vec<AgentId>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ValidationJson {
    agent_id: AgentId,
    validator: Address,
    #[serde(with = "hash32")]
    request_hash: [u8; 32],
    requested_at: BlockTime,
    responses: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latest: Option<AnswerJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnswerJson {
    response: u8,
    tag: String,
    block: u64,
    time: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FeedbackOverBoundsJson {
    agent_id: AgentId,
    client: Address,
}

/// The member holding the SHA-256 of the canonical file without that member.
const CONTENT_DIGEST: &str = "contentDigest";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyJson {
    key: String,
    bound_at: BlockTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unbound_at: Option<BlockTime>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentJson {
    agent_id: AgentId,
    owner: Address,
    #[serde(rename = "agentURI")]
    agent_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent_wallet: Option<Address>,
    active: bool,
    keys: Vec<KeyJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    over_bounds: Vec<OverBound>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrincipalJson {
    address: Address,
    keys: Vec<KeyJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    over_bounds: Vec<OverBound>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IssuerRevocationJson {
    issuer: Address,
    #[serde(with = "hash32")]
    digest: [u8; 32],
    block: u64,
    time: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevocationJson {
    agent_id: AgentId,
    #[serde(with = "hash32")]
    digest: [u8; 32],
    block: u64,
    time: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FeedbackJson {
    agent_id: AgentId,
    client: Address,
    index: u64,
    value: String,
    value_decimals: u8,
    tag1: String,
    tag2: String,
    revoked: bool,
}

fn keys_from_json(keys: Vec<KeyJson>, owner: &str) -> Result<Vec<KeyBinding>, SnapshotError> {
    if keys.len() > MAX_KEYS_PER_OWNER {
        return Err(err(format!(
            "{owner} has {} keys, over {MAX_KEYS_PER_OWNER}",
            keys.len()
        )));
    }
    let mut out: Vec<KeyBinding> = Vec::with_capacity(keys.len());
    for k in keys {
        let key = PublicKey::from_multibase(&k.key)
            .map_err(|e| err(format!("{owner}: key {}: {e}", truncate(&k.key, 64))))?;
        if let Some(u) = k.unbound_at {
            if u < k.bound_at {
                return Err(err(format!(
                    "{owner}: key {key} unbound before it was bound"
                )));
            }
        }
        let binding = KeyBinding {
            key,
            bound_at: k.bound_at,
            unbound_at: k.unbound_at,
        };
        if let Some(prev) = out.last() {
            if key_order(prev, &binding) != Ordering::Less {
                return Err(err(format!(
                    "{owner}: keys must be sorted by boundAt, then key, without repeats"
                )));
            }
        }
        out.push(binding);
    }
    Ok(out)
}

fn key_order(a: &KeyBinding, b: &KeyBinding) -> Ordering {
    (a.bound_at.block, a.key.to_bytes()).cmp(&(b.bound_at.block, b.key.to_bytes()))
}

fn keys_to_json(keys: &[KeyBinding]) -> Vec<KeyJson> {
    keys.iter()
        .map(|k| KeyJson {
            key: k.key.to_multibase(),
            bound_at: k.bound_at,
            unbound_at: k.unbound_at,
        })
        .collect()
}

fn check_string(what: &str, s: &str) -> Result<(), SnapshotError> {
    if s.len() > MAX_STRING_BYTES {
        return Err(err(format!(
            "{what} is {} bytes, over {MAX_STRING_BYTES}",
            s.len()
        )));
    }
    Ok(())
}

fn strictly_ascending<T: Ord>(items: &[T], what: &str) -> Result<(), SnapshotError> {
    if items.windows(2).all(|w| w[0] < w[1]) {
        Ok(())
    } else {
        Err(err(format!("{what} must be sorted and unique")))
    }
}

impl Snapshot {
    /// An empty snapshot of the registries at `identity_registry` and `reputation_registry`
    /// on chain `chain_id`, before any block.
    pub fn new(chain_id: u64, identity_registry: [u8; 20], reputation_registry: [u8; 20]) -> Self {
        Self::with_validation(chain_id, identity_registry, reputation_registry, None)
    }

    /// [`new`](Self::new), also recording the validation registry at `validation_registry`
    /// (when the deployment has one).
    pub fn with_validation(
        chain_id: u64,
        identity_registry: [u8; 20],
        reputation_registry: [u8; 20],
        validation_registry: Option<[u8; 20]>,
    ) -> Self {
        let mut s = Self {
            chain_id,
            identity_registry,
            reputation_registry,
            genesis_hash: [0; 32],
            block: Head {
                number: 0,
                hash: [0; 32],
                state_root: [0; 32],
                timestamp: Timestamp::from(time::OffsetDateTime::UNIX_EPOCH),
            },
            recent_blocks: Vec::new(),
            agents: BTreeMap::new(),
            principals: BTreeMap::new(),
            revocations: BTreeMap::new(),
            issuer_revocations: BTreeMap::new(),
            feedback: BTreeMap::new(),
            feedback_over_bounds: BTreeSet::new(),
            validation_registry,
            validations: BTreeMap::new(),
            validations_over_bounds: BTreeSet::new(),
            state_id: [0; 32],
        };
        s.bump(&format!(
            "new {chain_id} {}",
            hex::encode(identity_registry)
        ));
        if let Some(v) = validation_registry {
            s.bump(&format!("validation-registry {}", hex::encode(v)));
        }
        s
    }

    /// Reads and validates a snapshot file: its version, its canonical form (the bytes must be
    /// exactly what [`to_json_bytes`](Self::to_json_bytes) writes, so equal states compare
    /// byte for byte), its content digest (which catches accidental corruption, not a
    /// deliberate edit: see `SNAPSHOT.md`), sorted unique entries and bounds.
    pub fn load(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let mut value = parse_strict(
            bytes,
            JsonLimits {
                max_bytes: MAX_SNAPSHOT_BYTES,
                max_depth: 8,
            },
        )
        .map_err(|e| err(e.to_string()))?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(SNAPSHOT_VERSION) && version != Some(SNAPSHOT_VERSION_PREVIOUS) {
            return Err(err(format!(
                "unsupported version {} (this reader knows {SNAPSHOT_VERSION_PREVIOUS} and {SNAPSHOT_VERSION})",
                value
                    .get("version")
                    .map_or_else(|| "(none)".to_owned(), |v| truncate(&v.to_string(), 20))
            )));
        }
        let recorded = match value.as_object_mut().and_then(|o| o.remove(CONTENT_DIGEST)) {
            Some(serde_json::Value::String(h)) => parse_hash(&h)
                .ok_or_else(|| err(format!("{CONTENT_DIGEST} must be 0x + 64 hex digits")))?,
            _ => return Err(err(format!("{CONTENT_DIGEST} is missing"))),
        };
        let body = canonicalize(&value).map_err(|e| err(e.to_string()))?;
        if with_digest(&body, recorded).as_deref() != Some(bytes) {
            return Err(err(
                "the file is not in canonical form (RFC 8785: sorted keys, no whitespace)",
            ));
        }
        let computed: [u8; 32] = Sha256::digest(&body).into();
        if computed != recorded {
            return Err(err(format!(
                "content digest mismatch: the file records 0x{}, its content hashes to 0x{} (corrupted or edited)",
                hex::encode(recorded),
                hex::encode(computed)
            )));
        }
        drop(body);
        check_validation_members(&value, version == Some(SNAPSHOT_VERSION))?;
        let json: SnapshotJson = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
        if json.recent_blocks.len() > MAX_RECENT_BLOCKS
            || json.agents.len() > MAX_AGENTS
            || json.principals.len() > MAX_PRINCIPALS
            || json.revocations.len() + json.issuer_revocations.len() > MAX_REVOCATIONS
            || json.feedback.len() + json.feedback_over_bounds.len() > MAX_FEEDBACK
            || json.validations.len() > MAX_VALIDATIONS
            || json.validations_over_bounds.len() > MAX_AGENTS
        {
            return Err(err("too many entries"));
        }
        let numbers: Vec<u64> = json.recent_blocks.iter().map(|b| b.number).collect();
        strictly_ascending(&numbers, "recentBlocks")?;
        if numbers.last().is_some_and(|n| *n > json.block.number) {
            return Err(err("recentBlocks reach beyond block"));
        }

        let mut agents = BTreeMap::new();
        let mut last: Option<AgentNum> = None;
        for a in json.agents {
            let id = AgentNum(a.agent_id);
            if last.as_ref().is_some_and(|l| *l >= id) {
                return Err(err(
                    "agents must be sorted by agentId (numerically) and unique",
                ));
            }
            check_string("agentURI", &a.agent_uri)?;
            let keys = keys_from_json(a.keys, &format!("agent {}", id.0))?;
            check_over_bounds(&a.over_bounds, &keys, &format!("agent {}", id.0))?;
            last = Some(id.clone());
            agents.insert(
                id,
                AgentEntry {
                    owner: a.owner.0,
                    agent_uri: a.agent_uri,
                    agent_wallet: a.agent_wallet.map(|w| w.0),
                    active: a.active,
                    keys,
                    over_bounds: a.over_bounds,
                },
            );
        }

        let addresses: Vec<[u8; 20]> = json.principals.iter().map(|p| p.address.0).collect();
        strictly_ascending(&addresses, "principals")?;
        let mut principals = BTreeMap::new();
        for p in json.principals {
            let owner = format!("principal 0x{}", hex::encode(p.address.0));
            let keys = keys_from_json(p.keys, &owner)?;
            check_over_bounds(&p.over_bounds, &keys, &owner)?;
            if p.over_bounds.iter().any(|b| *b != OverBound::Keys) {
                return Err(err(format!("{owner}: only keys can be over bounds")));
            }
            principals.insert(
                p.address.0,
                PrincipalEntry {
                    keys,
                    over_bounds: p.over_bounds,
                },
            );
        }

        let mut issuer_revocations = BTreeMap::new();
        let mut last_irev: Option<([u8; 20], [u8; 32])> = None;
        for r in json.issuer_revocations {
            let k = (r.issuer.0, r.digest);
            if last_irev.is_some_and(|l| l >= k) {
                return Err(err(
                    "issuerRevocations must be sorted by issuer, then digest, and unique",
                ));
            }
            last_irev = Some(k);
            issuer_revocations.insert(
                k,
                BlockTime {
                    block: r.block,
                    time: r.time,
                },
            );
        }

        let mut revocations = BTreeMap::new();
        let mut last_rev: Option<(AgentNum, [u8; 32])> = None;
        for r in json.revocations {
            let k = (AgentNum(r.agent_id), r.digest);
            if last_rev.as_ref().is_some_and(|l| *l >= k) {
                return Err(err(
                    "revocations must be sorted by agentId, then digest, and unique",
                ));
            }
            last_rev = Some(k.clone());
            revocations.insert(
                k,
                BlockTime {
                    block: r.block,
                    time: r.time,
                },
            );
        }

        let mut feedback = BTreeMap::new();
        let mut last_fb: Option<(AgentNum, [u8; 20], u64)> = None;
        for f in json.feedback {
            let k = (AgentNum(f.agent_id), f.client.0, f.index);
            if last_fb.as_ref().is_some_and(|l| *l >= k) {
                return Err(err(
                    "feedback must be sorted by agentId, client, index, and unique",
                ));
            }
            let value: i128 = parse_i128(&f.value)?;
            if f.value_decimals > 18 {
                return Err(err("valueDecimals must be at most 18"));
            }
            check_string("tag1", &f.tag1)?;
            check_string("tag2", &f.tag2)?;
            last_fb = Some(k.clone());
            feedback.insert(
                k,
                FeedbackEntry {
                    value,
                    value_decimals: f.value_decimals,
                    tag1: f.tag1,
                    tag2: f.tag2,
                    revoked: f.revoked,
                },
            );
        }

        let mut feedback_over_bounds = BTreeSet::new();
        let mut last_fob: Option<(AgentNum, [u8; 20])> = None;
        for f in json.feedback_over_bounds {
            let k = (AgentNum(f.agent_id), f.client.0);
            if last_fob.as_ref().is_some_and(|l| *l >= k) {
                return Err(err(
                    "feedbackOverBounds must be sorted by agentId, client, and unique",
                ));
            }
            last_fob = Some(k.clone());
            feedback_over_bounds.insert(k);
        }

        let validation_registry = json.validation_registry.map(|a| a.0);
        let (validations, validations_over_bounds) = validations_from_json(
            json.validations,
            json.validations_over_bounds,
            validation_registry.is_some(),
        )?;

        Ok(Self {
            chain_id: json.chain_id,
            identity_registry: json.identity_registry.0,
            reputation_registry: json.reputation_registry.0,
            genesis_hash: json.genesis_hash,
            block: json.block,
            recent_blocks: json.recent_blocks,
            agents,
            principals,
            revocations,
            issuer_revocations,
            feedback,
            feedback_over_bounds,
            validation_registry,
            validations,
            validations_over_bounds,
            state_id: Sha256::digest(bytes).into(),
        })
    }

    /// Whether `other` holds the same registry state: everything but the window of recent
    /// block hashes (which depends on how the syncs were split into pages) and the state id.
    /// Used to compare a snapshot with one re-derived from the chain.
    pub fn same_state(&self, other: &Self) -> bool {
        self.chain_id == other.chain_id
            && self.identity_registry == other.identity_registry
            && self.reputation_registry == other.reputation_registry
            && self.genesis_hash == other.genesis_hash
            && self.block == other.block
            && self.agents == other.agents
            && self.principals == other.principals
            && self.revocations == other.revocations
            && self.issuer_revocations == other.issuer_revocations
            && self.feedback == other.feedback
            && self.feedback_over_bounds == other.feedback_over_bounds
            && self.validation_registry == other.validation_registry
            && self.validations == other.validations
            && self.validations_over_bounds == other.validations_over_bounds
    }

    /// The time of the block the snapshot reflects; `None` before its first synced block.
    pub fn as_of(&self) -> Option<Timestamp> {
        (self.block.hash != [0; 32]).then_some(self.block.timestamp)
    }

    /// The snapshot as RFC 8785 canonical JSON: the same state always gives the same bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let json = SnapshotJson {
            version: SNAPSHOT_VERSION,
            chain_id: self.chain_id,
            identity_registry: Address(self.identity_registry),
            reputation_registry: Address(self.reputation_registry),
            genesis_hash: self.genesis_hash,
            block: self.block,
            recent_blocks: self.recent_blocks.clone(),
            agents: self
                .agents
                .iter()
                .map(|(id, a)| AgentJson {
                    agent_id: id.0.clone(),
                    owner: Address(a.owner),
                    agent_uri: a.agent_uri.clone(),
                    agent_wallet: a.agent_wallet.map(Address),
                    active: a.active,
                    keys: keys_to_json(&a.keys),
                    over_bounds: a.over_bounds.clone(),
                })
                .collect(),
            principals: self
                .principals
                .iter()
                .map(|(address, p)| PrincipalJson {
                    address: Address(*address),
                    keys: keys_to_json(&p.keys),
                    over_bounds: p.over_bounds.clone(),
                })
                .collect(),
            issuer_revocations: self
                .issuer_revocations
                .iter()
                .map(|((issuer, digest), at)| IssuerRevocationJson {
                    issuer: Address(*issuer),
                    digest: *digest,
                    block: at.block,
                    time: at.time,
                })
                .collect(),
            revocations: self
                .revocations
                .iter()
                .map(|((id, digest), at)| RevocationJson {
                    agent_id: id.0.clone(),
                    digest: *digest,
                    block: at.block,
                    time: at.time,
                })
                .collect(),
            feedback: self
                .feedback
                .iter()
                .map(|((id, client, index), f)| FeedbackJson {
                    agent_id: id.0.clone(),
                    client: Address(*client),
                    index: *index,
                    value: f.value.to_string(),
                    value_decimals: f.value_decimals,
                    tag1: f.tag1.clone(),
                    tag2: f.tag2.clone(),
                    revoked: f.revoked,
                })
                .collect(),
            feedback_over_bounds: self
                .feedback_over_bounds
                .iter()
                .map(|(id, client)| FeedbackOverBoundsJson {
                    agent_id: id.0.clone(),
                    client: Address(*client),
                })
                .collect(),
            validation_registry: self.validation_registry.map(Address),
            validations: self
                .validations
                .iter()
                .map(|((id, validator, hash), v)| ValidationJson {
                    agent_id: id.0.clone(),
                    validator: Address(*validator),
                    request_hash: *hash,
                    requested_at: v.requested_at,
                    responses: v.responses,
                    latest: v.latest.as_ref().map(|a| AnswerJson {
                        response: a.response,
                        tag: a.tag.clone(),
                        block: a.at.block,
                        time: a.at.time,
                    }),
                })
                .collect(),
            validations_over_bounds: self
                .validations_over_bounds
                .iter()
                .map(|id| id.0.clone())
                .collect(),
        };
        // The digest covers the canonical file without its own member, then is inserted:
        // JCS sorts it into place, so the file stays canonical.
        serde_json::to_value(&json)
            .ok()
            .and_then(|v| canonicalize(&v).ok())
            .and_then(|body| {
                let digest: [u8; 32] = Sha256::digest(&body).into();
                with_digest(&body, digest)
            })
            .unwrap_or_default()
    }

    /// The EIP-155 chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The identity registry address.
    pub fn identity_registry(&self) -> [u8; 20] {
        self.identity_registry
    }

    /// The reputation registry address.
    pub fn reputation_registry(&self) -> [u8; 20] {
        self.reputation_registry
    }

    /// The validation registry address, when the snapshot records one.
    pub fn validation_registry(&self) -> Option<[u8; 20]> {
        self.validation_registry
    }

    /// The block the snapshot reflects.
    pub fn block(&self) -> Head {
        self.block
    }

    /// The hash of the chain's block 0 (all zero when not recorded): a node serving another
    /// chain under the same chain id has another genesis.
    pub fn genesis_hash(&self) -> [u8; 32] {
        self.genesis_hash
    }

    /// Records the chain's genesis hash; refuses to change one already recorded.
    pub fn set_genesis_hash(&mut self, hash: [u8; 32]) -> Result<(), SnapshotError> {
        if self.genesis_hash != [0; 32] && self.genesis_hash != hash {
            return Err(err(format!(
                "the snapshot's genesis is 0x{}, not 0x{}",
                hex::encode(self.genesis_hash),
                hex::encode(hash)
            )));
        }
        self.genesis_hash = hash;
        self.bump(&format!("genesis {}", hex::encode(hash)));
        Ok(())
    }

    /// The most recent block hashes (ascending), for reorg detection.
    pub fn recent_blocks(&self) -> &[BlockRef] {
        &self.recent_blocks
    }

    /// How many agents are known.
    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    fn bump(&mut self, event: &str) {
        let mut h = Sha256::new();
        h.update(self.state_id);
        h.update(event.as_bytes());
        self.state_id = h.finalize().into();
    }

    fn agent_mut(&mut self, agent_id: &AgentId) -> Result<&mut AgentEntry, SnapshotError> {
        self.agents
            .get_mut(&AgentNum(agent_id.clone()))
            .ok_or_else(|| err(format!("unknown agent {agent_id}")))
    }

    /// Advances the snapshot to block `number` (its hash and timestamp), remembering the hash
    /// among the recent blocks. Refuses to go backwards (a reorg is handled by rebuilding
    /// from an earlier snapshot).
    pub fn apply_block(
        &mut self,
        number: u64,
        hash: [u8; 32],
        timestamp: Timestamp,
    ) -> Result<(), SnapshotError> {
        self.apply_block_with_root(number, hash, [0; 32], timestamp)
    }

    /// [`apply_block`](Self::apply_block), recording the block's state root too.
    pub fn apply_block_with_root(
        &mut self,
        number: u64,
        hash: [u8; 32],
        state_root: [u8; 32],
        timestamp: Timestamp,
    ) -> Result<(), SnapshotError> {
        if number < self.block.number
            || (number == self.block.number && hash != self.block.hash && number != 0)
        {
            return Err(err(format!(
                "block {number} does not follow block {}",
                self.block.number
            )));
        }
        self.block = Head {
            number,
            hash,
            state_root,
            timestamp,
        };
        if self.recent_blocks.last().is_none_or(|b| b.number < number) {
            self.recent_blocks.push(BlockRef { number, hash });
        }
        if self.recent_blocks.len() > MAX_RECENT_BLOCKS {
            let excess = self.recent_blocks.len() - MAX_RECENT_BLOCKS;
            self.recent_blocks.drain(..excess);
        }
        self.bump(&format!("block {number} {}", hex::encode(hash)));
        Ok(())
    }

    /// An agent was registered (active, no keys yet).
    pub fn apply_agent_registered(
        &mut self,
        agent_id: AgentId,
        owner: [u8; 20],
        agent_uri: String,
    ) -> Result<(), SnapshotError> {
        // Anyone can register: an over-long URI degrades only this agent.
        let (agent_uri, over_bounds) = if agent_uri.len() > MAX_STRING_BYTES {
            (String::new(), vec![OverBound::AgentUri])
        } else {
            (agent_uri, Vec::new())
        };
        if self.agents.len() >= MAX_AGENTS {
            return Err(err("too many agents"));
        }
        self.bump(&format!(
            "registered {agent_id} {} {agent_uri}",
            hex::encode(owner)
        ));
        self.agents.insert(
            AgentNum(agent_id),
            AgentEntry {
                owner,
                agent_uri,
                agent_wallet: None,
                active: true,
                keys: Vec::new(),
                over_bounds,
            },
        );
        Ok(())
    }

    /// An agent's `agentURI` changed.
    pub fn apply_agent_uri(
        &mut self,
        agent_id: &AgentId,
        agent_uri: String,
    ) -> Result<(), SnapshotError> {
        self.bump(&format!("uri {agent_id} {agent_uri}"));
        let a = self.agent_mut(agent_id)?;
        if agent_uri.len() > MAX_STRING_BYTES {
            // Sticky: the agent's URI history is no longer known in full.
            a.agent_uri = String::new();
            mark(&mut a.over_bounds, OverBound::AgentUri);
        } else {
            a.agent_uri = agent_uri;
        }
        Ok(())
    }

    /// An agent changed owner.
    pub fn apply_agent_owner(
        &mut self,
        agent_id: &AgentId,
        owner: [u8; 20],
    ) -> Result<(), SnapshotError> {
        self.bump(&format!("owner {agent_id} {}", hex::encode(owner)));
        self.agent_mut(agent_id)?.owner = owner;
        Ok(())
    }

    /// An agent's verified wallet was set or cleared.
    pub fn apply_agent_wallet(
        &mut self,
        agent_id: &AgentId,
        wallet: Option<[u8; 20]>,
    ) -> Result<(), SnapshotError> {
        self.bump(&format!("wallet {agent_id} {:?}", wallet.map(hex::encode)));
        self.agent_mut(agent_id)?.agent_wallet = wallet;
        Ok(())
    }

    /// An agent was activated or deactivated.
    pub fn apply_agent_active(
        &mut self,
        agent_id: &AgentId,
        active: bool,
    ) -> Result<(), SnapshotError> {
        self.bump(&format!("active {agent_id} {active}"));
        self.agent_mut(agent_id)?.active = active;
        Ok(())
    }

    /// An Ed25519 key was bound to an agent.
    pub fn apply_agent_key_bound(
        &mut self,
        agent_id: &AgentId,
        key: PublicKey,
        at: BlockTime,
    ) -> Result<(), SnapshotError> {
        self.bump(&format!(
            "agent-bind {agent_id} {key} {} {}",
            at.block, at.time
        ));
        let a = self.agent_mut(agent_id)?;
        push_key(&mut a.keys, &mut a.over_bounds, key, at)
    }

    /// An Ed25519 key was unbound from an agent.
    pub fn apply_agent_key_unbound(
        &mut self,
        agent_id: &AgentId,
        key: PublicKey,
        at: BlockTime,
    ) -> Result<(), SnapshotError> {
        self.bump(&format!(
            "agent-unbind {agent_id} {key} {} {}",
            at.block, at.time
        ));
        let a = self.agent_mut(agent_id)?;
        if a.over_bounds.contains(&OverBound::Keys) {
            return Ok(()); // its key history is no longer kept
        }
        close_key(&mut a.keys, key, at)
    }

    /// An Ed25519 issuing key was bound to a principal (wallet).
    pub fn apply_principal_key_bound(
        &mut self,
        principal: [u8; 20],
        key: PublicKey,
        at: BlockTime,
    ) -> Result<(), SnapshotError> {
        if !self.principals.contains_key(&principal) && self.principals.len() >= MAX_PRINCIPALS {
            return Err(err("too many principals"));
        }
        self.bump(&format!(
            "principal-bind {} {key} {} {}",
            hex::encode(principal),
            at.block,
            at.time
        ));
        let p = self.principals.entry(principal).or_default();
        push_key(&mut p.keys, &mut p.over_bounds, key, at)
    }

    /// An issuing key was unbound from a principal.
    pub fn apply_principal_key_unbound(
        &mut self,
        principal: [u8; 20],
        key: PublicKey,
        at: BlockTime,
    ) -> Result<(), SnapshotError> {
        self.bump(&format!(
            "principal-unbind {} {key} {} {}",
            hex::encode(principal),
            at.block,
            at.time
        ));
        let p = self
            .principals
            .get_mut(&principal)
            .ok_or_else(|| err(format!("unknown principal 0x{}", hex::encode(principal))))?;
        if p.over_bounds.contains(&OverBound::Keys) {
            return Ok(()); // its key history is no longer kept
        }
        close_key(&mut p.keys, key, at)
    }

    /// A credential digest was revoked under an agent's registration.
    pub fn apply_revocation(
        &mut self,
        agent_id: &AgentId,
        digest: CredentialDigest,
        at: BlockTime,
    ) -> Result<(), SnapshotError> {
        if self.revocations.len() >= MAX_REVOCATIONS {
            return Err(err("too many revocations"));
        }
        self.bump(&format!(
            "revoke {agent_id} {digest} {} {}",
            at.block, at.time
        ));
        self.revocations
            .entry((AgentNum(agent_id.clone()), digest.0))
            .or_insert(at);
        Ok(())
    }

    /// The wallet `issuer` revoked a credential digest it issued.
    pub fn apply_issuer_revocation(
        &mut self,
        issuer: [u8; 20],
        digest: CredentialDigest,
        at: BlockTime,
    ) -> Result<(), SnapshotError> {
        if self.revocations.len() + self.issuer_revocations.len() >= MAX_REVOCATIONS {
            return Err(err("too many revocations"));
        }
        self.bump(&format!(
            "issuer-revoke {} {digest} {} {}",
            hex::encode(issuer),
            at.block,
            at.time
        ));
        self.issuer_revocations
            .entry((issuer, digest.0))
            .or_insert(at);
        Ok(())
    }

    /// A rater gave feedback (ERC-8004 `NewFeedback`). Anyone can rate, so an entry beyond
    /// the snapshot's bounds (a tag over [`MAX_STRING_BYTES`], `valueDecimals` over 18) is
    /// dropped and marks (agent, rater) as over bounds, instead of stopping the sync: only a
    /// summary that counts that rater for that agent goes unanswered.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_feedback(
        &mut self,
        agent_id: &AgentId,
        client: [u8; 20],
        index: u64,
        value: i128,
        value_decimals: u8,
        tag1: String,
        tag2: String,
    ) -> Result<(), SnapshotError> {
        if self.feedback.len() + self.feedback_over_bounds.len() >= MAX_FEEDBACK {
            return Err(err("too much feedback"));
        }
        if value_decimals > 18 || tag1.len() > MAX_STRING_BYTES || tag2.len() > MAX_STRING_BYTES {
            self.bump(&format!(
                "feedback-over-bounds {agent_id} {} {index}",
                hex::encode(client)
            ));
            self.feedback_over_bounds
                .insert((AgentNum(agent_id.clone()), client));
            return Ok(());
        }
        self.bump(&format!(
            "feedback {agent_id} {} {index} {value} {value_decimals} {tag1:?} {tag2:?}",
            hex::encode(client)
        ));
        self.feedback.insert(
            (AgentNum(agent_id.clone()), client, index),
            FeedbackEntry {
                value,
                value_decimals,
                tag1,
                tag2,
                revoked: false,
            },
        );
        Ok(())
    }

    /// A rater revoked its feedback.
    pub fn apply_feedback_revoked(
        &mut self,
        agent_id: &AgentId,
        client: [u8; 20],
        index: u64,
    ) -> Result<(), SnapshotError> {
        self.bump(&format!(
            "feedback-revoked {agent_id} {} {index}",
            hex::encode(client)
        ));
        let dropped = self
            .feedback_over_bounds
            .contains(&(AgentNum(agent_id.clone()), client));
        match self
            .feedback
            .get_mut(&(AgentNum(agent_id.clone()), client, index))
        {
            Some(f) => f.revoked = true,
            // Dropped for its bounds (see apply_feedback): nothing to revoke.
            None if dropped => {}
            None => {
                return Err(err(format!(
                    "unknown feedback {agent_id}/0x{}/{index}",
                    hex::encode(client)
                )));
            }
        }
        Ok(())
    }

    fn is_ours(&self, reg: &AgentRegistration) -> bool {
        reg.agent_registry.chain_id == self.chain_id
            && reg.agent_registry.address == self.identity_registry
    }

    fn entry(&self, reg: &AgentRegistration) -> Option<&AgentEntry> {
        if !self.is_ours(reg) {
            return None;
        }
        self.agents.get(&AgentNum(reg.agent_id.clone()))
    }
}

/// Version 4 files carry `validations` and `validationsOverBounds` (empty without a validation
/// registry); version 3 files carry none of the validation members.
fn check_validation_members(value: &serde_json::Value, current: bool) -> Result<(), SnapshotError> {
    let has = |k: &str| value.get(k).is_some();
    if current && !(has("validations") && has("validationsOverBounds")) {
        return Err(err(format!(
            "version {SNAPSHOT_VERSION} needs validations and validationsOverBounds"
        )));
    }
    if !current && (has("validations") || has("validationsOverBounds") || has("validationRegistry"))
    {
        return Err(err(format!(
            "version {SNAPSHOT_VERSION_PREVIOUS} has no validation members"
        )));
    }
    Ok(())
}

type Validations = (BTreeMap<ValidationKey, ValidationEntry>, BTreeSet<AgentNum>);

/// The validation records of a file: sorted and unique, within bounds, none of an agent
/// marked over bounds, none without a validation registry.
fn validations_from_json(
    entries: Vec<ValidationJson>,
    over: Vec<AgentId>,
    has_registry: bool,
) -> Result<Validations, SnapshotError> {
    if !has_registry && (!entries.is_empty() || !over.is_empty()) {
        return Err(err("validations without a validationRegistry"));
    }
    let over: Vec<AgentNum> = over.into_iter().map(AgentNum).collect();
    strictly_ascending(&over, "validationsOverBounds")?;
    let over: BTreeSet<AgentNum> = over.into_iter().collect();
    let mut out = BTreeMap::new();
    let mut last: Option<ValidationKey> = None;
    let mut per_agent = 0usize;
    for v in entries {
        let k = (AgentNum(v.agent_id), v.validator.0, v.request_hash);
        let what = format!("validation {}/0x{}", k.0.0, hex::encode(k.1));
        match &last {
            Some(l) if *l >= k => {
                return Err(err(
                    "validations must be sorted by agentId, validator, requestHash, and unique",
                ));
            }
            Some(l) if l.0 == k.0 => per_agent += 1,
            _ => per_agent = 1,
        }
        if per_agent > MAX_VALIDATIONS_PER_AGENT || over.contains(&k.0) {
            return Err(err(format!(
                "{what}: over {MAX_VALIDATIONS_PER_AGENT} per agent, or its agent is over bounds"
            )));
        }
        let latest = match v.latest {
            Some(a) if a.response > 100 || v.responses == 0 || a.block < v.requested_at.block => {
                return Err(err(format!("{what}: inconsistent answer")));
            }
            Some(a) => {
                check_string("tag", &a.tag)?;
                Some(AnswerEntry {
                    response: a.response,
                    tag: a.tag,
                    at: BlockTime {
                        block: a.block,
                        time: a.time,
                    },
                })
            }
            None if v.responses != 0 => {
                return Err(err(format!("{what}: answers counted, none recorded")));
            }
            None => None,
        };
        last = Some(k.clone());
        out.insert(
            k,
            ValidationEntry {
                requested_at: v.requested_at,
                latest,
                responses: v.responses,
            },
        );
    }
    Ok((out, over))
}

fn validation_range(
    id: &AgentNum,
    validator: Option<[u8; 20]>,
) -> std::ops::RangeInclusive<ValidationKey> {
    let (lo, hi) = validator.map_or(([0; 20], [0xff; 20]), |v| (v, v));
    (id.clone(), lo, [0; 32])..=(id.clone(), hi, [0xff; 32])
}

impl Snapshot {
    /// The agent's validations are no longer kept: all of them are dropped, and it is marked
    /// (sticky), so the view answers nothing for it rather than a partial, possibly stale set.
    fn validations_over(&mut self, id: &AgentNum) -> Result<(), SnapshotError> {
        if !self.validations_over_bounds.contains(id)
            && self.validations_over_bounds.len() >= MAX_AGENTS
        {
            return Err(err("too many agents with validations over bounds"));
        }
        let keys: Vec<ValidationKey> = self
            .validations
            .range(validation_range(id, None))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.validations.remove(&k);
        }
        self.validations_over_bounds.insert(id.clone());
        Ok(())
    }

    /// The agent's owner or operator asked `validator` to validate `request_hash`
    /// (ERC-8004 `ValidationRequest`). Anyone can ask for their own agents, so a request
    /// beyond the bounds ([`MAX_VALIDATIONS_PER_AGENT`], [`MAX_VALIDATIONS`]) never stops the
    /// sync: the requesting agent's validations are dropped and marked over bounds.
    pub fn apply_validation_request(
        &mut self,
        agent_id: &AgentId,
        validator: [u8; 20],
        request_hash: [u8; 32],
        at: BlockTime,
    ) -> Result<(), SnapshotError> {
        if self.validation_registry.is_none() {
            return Err(err("a validation event without a validation registry"));
        }
        self.bump(&format!(
            "validation-request {agent_id} {} {} {} {}",
            hex::encode(validator),
            hex::encode(request_hash),
            at.block,
            at.time
        ));
        let id = AgentNum(agent_id.clone());
        let key = (id.clone(), validator, request_hash);
        if self.validations_over_bounds.contains(&id) || self.validations.contains_key(&key) {
            return Ok(()); // not kept, or asked before (the first request stands)
        }
        let of_agent = self.validations.range(validation_range(&id, None)).count();
        if of_agent >= MAX_VALIDATIONS_PER_AGENT || self.validations.len() >= MAX_VALIDATIONS {
            return self.validations_over(&id);
        }
        self.validations.insert(
            key,
            ValidationEntry {
                requested_at: at,
                latest: None,
                responses: 0,
            },
        );
        Ok(())
    }

    /// `validator` answered the request (ERC-8004 `ValidationResponse`); the latest answer
    /// replaces the previous one. An answer the snapshot cannot hold (a response over 100, a
    /// tag over [`MAX_STRING_BYTES`], no such request) marks the agent's validations over
    /// bounds: keeping the earlier answer would show a verdict the validator withdrew.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_validation_response(
        &mut self,
        agent_id: &AgentId,
        validator: [u8; 20],
        request_hash: [u8; 32],
        response: u8,
        tag: String,
        at: BlockTime,
    ) -> Result<(), SnapshotError> {
        if self.validation_registry.is_none() {
            return Err(err("a validation event without a validation registry"));
        }
        self.bump(&format!(
            "validation-response {agent_id} {} {} {response} {tag:?} {} {}",
            hex::encode(validator),
            hex::encode(request_hash),
            at.block,
            at.time
        ));
        let id = AgentNum(agent_id.clone());
        if self.validations_over_bounds.contains(&id) {
            return Ok(());
        }
        let fits = response <= 100 && tag.len() <= MAX_STRING_BYTES;
        match self
            .validations
            .get_mut(&(id.clone(), validator, request_hash))
        {
            Some(v) if fits => {
                v.responses = v.responses.saturating_add(1);
                v.latest = Some(AnswerEntry { response, tag, at });
                Ok(())
            }
            _ => self.validations_over(&id),
        }
    }
}

fn push_key(
    keys: &mut Vec<KeyBinding>,
    over_bounds: &mut Vec<OverBound>,
    key: PublicKey,
    at: BlockTime,
) -> Result<(), SnapshotError> {
    if over_bounds.contains(&OverBound::Keys) {
        return Ok(()); // its key history is no longer kept
    }
    if keys.len() >= MAX_KEYS_PER_OWNER {
        // The owner (the principal itself) bound more keys than a snapshot keeps: fail closed
        // for this record alone, no key of it counts as bound.
        keys.clear();
        mark(over_bounds, OverBound::Keys);
        return Ok(());
    }
    if keys.iter().any(|k| k.key == key && k.unbound_at.is_none()) {
        return Ok(()); // already bound
    }
    let binding = KeyBinding {
        key,
        bound_at: at,
        unbound_at: None,
    };
    let pos = keys
        .iter()
        .position(|k| key_order(k, &binding) == Ordering::Greater)
        .unwrap_or(keys.len());
    if keys
        .iter()
        .any(|k| key_order(k, &binding) == Ordering::Equal)
    {
        return Err(err(format!("key {key} bound twice in block {}", at.block)));
    }
    keys.insert(pos, binding);
    Ok(())
}

fn close_key(keys: &mut [KeyBinding], key: PublicKey, at: BlockTime) -> Result<(), SnapshotError> {
    let open = keys
        .iter_mut()
        .find(|k| k.key == key && k.unbound_at.is_none())
        .ok_or_else(|| err(format!("key {key} is not bound")))?;
    if at < open.bound_at {
        return Err(err(format!("key {key} unbound before it was bound")));
    }
    open.unbound_at = Some(at);
    Ok(())
}

/// An over-bounds record's consistency: sorted unique reasons, and no keys when its keys are
/// over bounds.
fn check_over_bounds(
    over: &[OverBound],
    keys: &[KeyBinding],
    owner: &str,
) -> Result<(), SnapshotError> {
    strictly_ascending(over, &format!("{owner}: overBounds"))?;
    if over.contains(&OverBound::Keys) && !keys.is_empty() {
        return Err(err(format!(
            "{owner}: keys are over bounds, yet keys are listed"
        )));
    }
    Ok(())
}

/// The canonical file: `body` (canonical JSON without the digest member) with
/// `"contentDigest"` inserted in sorted position (after `chainId`, before `feedback`).
fn with_digest(body: &[u8], digest: [u8; 32]) -> Option<Vec<u8>> {
    let marker = b",\"feedback\":";
    let pos = body.windows(marker.len()).position(|w| w == marker)?;
    let member = format!(",\"{CONTENT_DIGEST}\":\"0x{}\"", hex::encode(digest));
    let mut out = Vec::with_capacity(body.len() + member.len());
    out.extend_from_slice(&body[..pos]);
    out.extend_from_slice(member.as_bytes());
    out.extend_from_slice(&body[pos..]);
    Some(out)
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let h = s.strip_prefix("0x").filter(|h| h.len() == 64)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(h, &mut out).ok()?;
    Some(out)
}

fn parse_i128(s: &str) -> Result<i128, SnapshotError> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = !digits.is_empty()
        && digits.len() <= 39
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if !canonical {
        return Err(err(format!(
            "feedback value `{}` is not a canonical decimal integer",
            truncate(s, 48)
        )));
    }
    s.parse().map_err(|_| {
        err(format!(
            "feedback value `{}` does not fit an int128",
            truncate(s, 48)
        ))
    })
}

impl RegistryView for Snapshot {
    fn agent(&self, reg: &AgentRegistration) -> Option<AgentRecord> {
        self.entry(reg).map(|a| AgentRecord {
            agent_id: reg.agent_id.clone(),
            owner: a.owner,
            agent_uri: a.agent_uri.clone(),
            agent_wallet: a.agent_wallet,
            active: a.active,
        })
    }

    fn agent_key_bound(&self, reg: &AgentRegistration, key: &PublicKey, at: Timestamp) -> bool {
        self.entry(reg).is_some_and(|a| {
            a.keys.iter().any(|k| {
                k.key == *key && bound_during(k.bound_at.time, k.unbound_at.map(|u| u.time), at)
            })
        })
    }

    fn principal_key_bound(&self, principal: &DidPkh, key: &PublicKey, at: Timestamp) -> bool {
        principal.chain_id() == self.chain_id
            && self.principals.get(&principal.address()).is_some_and(|p| {
                p.keys.iter().any(|k| {
                    k.key == *key && bound_during(k.bound_at.time, k.unbound_at.map(|u| u.time), at)
                })
            })
    }

    fn revoked(&self, reg: &AgentRegistration, digest: &CredentialDigest) -> Option<Revocation> {
        if !self.is_ours(reg) {
            return None;
        }
        self.revocations
            .get(&(AgentNum(reg.agent_id.clone()), digest.0))
            .map(|at| Revocation {
                agent_id: reg.agent_id.clone(),
                block: at.block,
                time: at.time,
            })
    }

    fn revoked_by_issuer(
        &self,
        issuer: &DidPkh,
        digest: &CredentialDigest,
    ) -> Option<IssuerRevocation> {
        if issuer.chain_id() != self.chain_id {
            return None;
        }
        self.issuer_revocations
            .get(&(issuer.address(), digest.0))
            .map(|at| IssuerRevocation {
                issuer: issuer.address(),
                block: at.block,
                time: at.time,
            })
    }

    fn agent_over_bounds(&self, reg: &AgentRegistration) -> Option<String> {
        self.entry(reg)
            .and_then(|a| identity_reasons(&a.over_bounds))
    }

    fn principal_over_bounds(&self, principal: &DidPkh) -> Option<String> {
        if principal.chain_id() != self.chain_id {
            return None;
        }
        self.principals
            .get(&principal.address())
            .and_then(|p| identity_reasons(&p.over_bounds))
    }

    fn as_of(&self) -> Option<Timestamp> {
        Snapshot::as_of(self)
    }

    fn reputation(
        &self,
        reg: &AgentRegistration,
        raters: &[[u8; 20]],
    ) -> Option<ReputationSummary> {
        if !self.is_ours(reg) {
            return None;
        }
        let id = AgentNum(reg.agent_id.clone());
        // A counted rater's feedback was dropped for its bounds: no summary beats a wrong one.
        if raters
            .iter()
            .any(|r| self.feedback_over_bounds.contains(&(id.clone(), *r)))
        {
            return None;
        }
        // Only the trusted raters' entries are visited: anyone can flood an agent with
        // feedback from other accounts, and this runs in the request path.
        let mut trusted = raters.to_vec();
        trusted.sort_unstable();
        trusted.dedup();
        let entries: Vec<Feedback> = trusted
            .iter()
            .flat_map(|r| {
                self.feedback
                    .range((id.clone(), *r, 0)..=(id.clone(), *r, u64::MAX))
            })
            .map(|((_, client, index), f)| Feedback {
                client: *client,
                index: *index,
                value: f.value,
                value_decimals: f.value_decimals,
                tag1: f.tag1.clone(),
                tag2: f.tag2.clone(),
                revoked: f.revoked,
            })
            .collect();
        ReputationSummary::of(&entries, raters)
    }

    fn validations(
        &self,
        reg: &AgentRegistration,
        validators: &[[u8; 20]],
    ) -> Option<Vec<Validation>> {
        if self.validation_registry.is_none() || !self.is_ours(reg) {
            return None;
        }
        let id = AgentNum(reg.agent_id.clone());
        if self.validations_over_bounds.contains(&id) {
            return None;
        }
        let mut trusted = validators.to_vec();
        trusted.sort_unstable();
        trusted.dedup();
        // Only the trusted validators' entries are visited (at most the per-agent bound).
        let out = trusted
            .iter()
            .flat_map(|v| self.validations.range(validation_range(&id, Some(*v))))
            .map(|((_, validator, hash), v)| Validation {
                validator: *validator,
                request_hash: *hash,
                requested_at: BlockAt {
                    block: v.requested_at.block,
                    time: v.requested_at.time,
                },
                latest: v.latest.as_ref().map(|a| ValidationAnswer {
                    response: a.response,
                    tag: a.tag.clone(),
                    at: BlockAt {
                        block: a.at.block,
                        time: a.at.time,
                    },
                }),
                responses: v.responses,
            })
            .collect();
        Some(out)
    }

    fn state_id(&self) -> Option<[u8; 32]> {
        Some(self.state_id)
    }
}
