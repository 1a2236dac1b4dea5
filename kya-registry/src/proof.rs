//! Evidence an auditor can check alone: EIP-1186 storage proofs of the registry facts a verdict
//! rests on (a key bound, a credential revoked or not), anchored in a block whose hash a
//! quorum of sources agreed on.
//!
//! A [`ProofReport`] carries the block's RLP header (its keccak-256 is the block hash, and it
//! names the state root), the registry account's proof against that state root, and one
//! storage proof per fact against the account's storage root. [`verify_report`] checks all of
//! it offline with the Merkle-Patricia proof code of `alloy-trie`, recomputes each fact's
//! storage slot from the contract's layout and each verdict from the proven value, and refuses
//! any report where one of these differs.
//!
//! ```
//! use kya_registry::proof::{Fact, mapping_slot2};
//! use kya_registry::{B256, U256};
//! // A revocation lives at keccak(digest . keccak(agentId . 14)).
//! let fact = Fact::Revocation { agent_id: U256::from(1), digest: B256::repeat_byte(0xd1) };
//! assert_eq!(fact.slot(), mapping_slot2(B256::from(U256::from(1)), B256::repeat_byte(0xd1), 14));
//! ```

use alloy::consensus::Header as ConsensusHeader;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider as _;
use alloy::rlp::{Decodable as _, Encodable as _};
use alloy::trie::proof::verify_proof;
use alloy::trie::{Nibbles, TrieAccount};
use serde::{Deserialize, Serialize};

use crate::Deployment;
use crate::error::{RegistryError, Result};
use crate::sources::Sources;

/// Storage slot of `_agentKeys` (agentId ⇒ key ⇒ Period) in `KyaIdentityRegistry`
/// (`forge inspect KyaIdentityRegistry storageLayout`).
pub const AGENT_KEYS_SLOT: u64 = 12;
/// Storage slot of `_principalKeys` (principal ⇒ key ⇒ Period).
pub const PRINCIPAL_KEYS_SLOT: u64 = 13;
/// Storage slot of `_revokedAt` (agentId ⇒ digest ⇒ block number).
pub const REVOKED_AT_SLOT: u64 = 14;
/// Storage slot of `_issuerRevokedAt` (issuer ⇒ digest ⇒ block number).
pub const ISSUER_REVOKED_AT_SLOT: u64 = 15;
/// The report format version.
pub const REPORT_VERSION: u64 = 1;
/// Largest report read.
pub const MAX_REPORT_BYTES: usize = 4 * 1024 * 1024;
/// Most facts in one report.
pub const MAX_FACTS: usize = 256;
/// Most nodes in one proof (a trie path has at most 64 nibbles, plus leaf and extensions).
pub const MAX_PROOF_NODES: usize = 72;

/// A registry fact that a storage slot of the identity registry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Fact {
    /// Whether Ed25519 `key` is bound to agent `agent_id`.
    #[serde(rename_all = "camelCase")]
    AgentKey {
        /// The agent.
        agent_id: U256,
        /// The Ed25519 key's 32 bytes.
        key: B256,
    },
    /// Whether `key` is bound to wallet principal `principal` (an issuer key not unbound).
    #[serde(rename_all = "camelCase")]
    PrincipalKey {
        /// The wallet.
        principal: Address,
        /// The Ed25519 key's 32 bytes.
        key: B256,
    },
    /// Whether the agent's owner revoked the credential with this digest.
    #[serde(rename_all = "camelCase")]
    Revocation {
        /// The agent.
        agent_id: U256,
        /// The credential's digest.
        digest: B256,
    },
    /// Whether wallet `issuer` revoked the credential it issued with this digest.
    #[serde(rename_all = "camelCase")]
    IssuerRevocation {
        /// The issuing wallet.
        issuer: Address,
        /// The credential's digest.
        digest: B256,
    },
}

/// The slot of `map[k1][k2]` for a mapping at `slot`: `keccak(k2 . keccak(k1 . slot))`.
pub fn mapping_slot2(k1: B256, k2: B256, slot: u64) -> B256 {
    let inner = keccak256([k1.as_slice(), B256::from(U256::from(slot)).as_slice()].concat());
    keccak256([k2.as_slice(), inner.as_slice()].concat())
}

impl Fact {
    /// The storage slot holding the fact.
    pub fn slot(&self) -> B256 {
        let word = |a: Address| a.into_word();
        match *self {
            Self::AgentKey { agent_id, key } => {
                mapping_slot2(agent_id.into(), key, AGENT_KEYS_SLOT)
            }
            Self::PrincipalKey { principal, key } => {
                mapping_slot2(word(principal), key, PRINCIPAL_KEYS_SLOT)
            }
            Self::Revocation { agent_id, digest } => {
                mapping_slot2(agent_id.into(), digest, REVOKED_AT_SLOT)
            }
            Self::IssuerRevocation { issuer, digest } => {
                mapping_slot2(word(issuer), digest, ISSUER_REVOKED_AT_SLOT)
            }
        }
    }

    /// What the slot's value says about the fact.
    pub fn verdict(&self, value: U256) -> Verdict {
        let low = |v: U256| v.as_limbs()[0];
        match self {
            Self::AgentKey { .. } | Self::PrincipalKey { .. } => {
                // Period { uint64 boundAt; uint64 unboundAt } packed in one slot, boundAt low.
                let (bound_at, unbound_at) = (low(value), low(value >> 64));
                if bound_at == 0 {
                    Verdict::NeverBound
                } else if unbound_at == 0 {
                    Verdict::Bound { since: bound_at }
                } else {
                    Verdict::Unbound {
                        since: bound_at,
                        until: unbound_at,
                    }
                }
            }
            Self::Revocation { .. } | Self::IssuerRevocation { .. } => match low(value) {
                0 => Verdict::NotRevoked,
                at => Verdict::Revoked { at },
            },
        }
    }
}

/// What a proven slot says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "is", rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Verdict {
    /// The key is bound since block `since`.
    Bound {
        /// The binding block.
        since: u64,
    },
    /// The key was bound in blocks `since..until`.
    Unbound {
        /// The binding block.
        since: u64,
        /// The unbinding block.
        until: u64,
    },
    /// The key was never bound.
    NeverBound,
    /// The credential was revoked in block `at`.
    Revoked {
        /// The revocation block.
        at: u64,
    },
    /// The credential is not revoked.
    NotRevoked,
}

/// The block a report is anchored in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvenBlock {
    /// Block number.
    pub number: u64,
    /// Block hash (agreed by the sources' quorum when the report was made).
    pub hash: B256,
    /// The block's state root.
    pub state_root: B256,
    /// The block header, RLP-encoded: its keccak-256 is `hash`.
    pub header_rlp: Bytes,
}

/// The registry account's state and its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvenAccount {
    /// The identity registry.
    pub address: Address,
    /// Account nonce.
    pub nonce: u64,
    /// Account balance.
    pub balance: U256,
    /// The account's storage root.
    pub storage_root: B256,
    /// The account's code hash.
    pub code_hash: B256,
    /// Trie nodes from the state root to the account.
    pub proof: Vec<Bytes>,
}

/// One fact, its slot, the proven value and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvenFact {
    /// The fact.
    pub fact: Fact,
    /// Its storage slot.
    pub slot: B256,
    /// The slot's value at the block.
    pub value: U256,
    /// Trie nodes from the storage root to the slot.
    pub proof: Vec<Bytes>,
    /// What the value says.
    pub verdict: Verdict,
}

/// An auditor's evidence: facts of the identity registry at one block, with their proofs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProofReport {
    /// [`REPORT_VERSION`].
    pub version: u64,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The block.
    pub block: ProvenBlock,
    /// The registry account.
    pub account: ProvenAccount,
    /// The facts.
    pub facts: Vec<ProvenFact>,
}

fn refuse(m: impl Into<String>) -> RegistryError {
    RegistryError::Proof(m.into())
}

/// Fetches and verifies proofs of `facts` about the identity registry of `deployment` in
/// block `number`, whose hash a quorum of `sources` must agree on. The proofs may come from
/// any one endpoint: they are checked against the agreed block before the report is returned.
pub async fn prove(
    sources: &Sources,
    deployment: &Deployment,
    number: u64,
    facts: &[Fact],
) -> Result<ProofReport> {
    let (chain_id, registry) = (deployment.chain_id, deployment.identity);
    if facts.len() > MAX_FACTS {
        return Err(RegistryError::Invalid(format!(
            "{} facts: at most {MAX_FACTS} per report",
            facts.len()
        )));
    }
    let (header, _) = sources.header(number).await?;
    let header = header.ok_or_else(|| refuse(format!("the sources have no block {number}")))?;
    let mut header_rlp = Vec::new();
    header.inner.encode(&mut header_rlp);
    let block = ProvenBlock {
        number,
        hash: header.hash,
        state_root: header.inner.state_root,
        header_rlp: header_rlp.into(),
    };
    let slots: Vec<B256> = facts.iter().map(Fact::slot).collect();
    let mut last = refuse(format!("no endpoint served a proof at block {number}"));
    for (url, p) in sources.endpoints() {
        let response = match p.get_proof(registry, slots.clone()).number(number).await {
            Ok(r) => r,
            Err(e) => {
                last = RegistryError::RpcAt {
                    endpoint: url.to_owned(),
                    source: e,
                };
                continue;
            }
        };
        // Every fact must come back (a proof left out would drop a fact from the report).
        if response.storage_proof.len() != facts.len() || response.address != registry {
            last = refuse(format!(
                "{url} answered {} storage proofs of account {}; asked for {} of {registry}",
                response.storage_proof.len(),
                response.address,
                facts.len()
            ));
            continue;
        }
        let report = report_of(chain_id, block.clone(), facts, response);
        match verify_report(&report, deployment) {
            Ok(()) => return Ok(report),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn report_of(
    chain_id: u64,
    block: ProvenBlock,
    facts: &[Fact],
    r: alloy::rpc::types::EIP1186AccountProofResponse,
) -> ProofReport {
    let facts = facts
        .iter()
        .zip(r.storage_proof)
        .map(|(f, p)| ProvenFact {
            fact: *f,
            slot: p.key.as_b256(),
            value: p.value,
            proof: p.proof,
            verdict: f.verdict(p.value),
        })
        .collect();
    ProofReport {
        version: REPORT_VERSION,
        chain_id,
        block,
        account: ProvenAccount {
            address: r.address,
            nonce: r.nonce,
            balance: r.balance,
            storage_root: r.storage_hash,
            code_hash: r.code_hash,
            proof: r.account_proof,
        },
        facts,
    }
}

/// Checks a report offline against the `deployment` the auditor holds: the report speaks for
/// that deployment's identity registry on its chain (a proof about any other account — another
/// deployment of the same contract, an account with no storage, where every fact reads as
/// never set — proves nothing about this registry), the header hashes to the block hash and
/// names the state root, the account proof verifies against it, every fact's slot is the one
/// its layout gives, every storage proof verifies against the account's storage root, and
/// every verdict is the one the proven value gives. The chain id is the auditor's to check:
/// no header carries it, so the report's must equal the deployment's.
pub fn verify_report(r: &ProofReport, deployment: &Deployment) -> Result<()> {
    if r.version != REPORT_VERSION {
        return Err(refuse(format!(
            "report version {} (this reader knows {REPORT_VERSION})",
            r.version
        )));
    }
    if (r.chain_id, r.account.address) != (deployment.chain_id, deployment.identity) {
        return Err(refuse(format!(
            "the report speaks for account {} on chain {}; the deployment's identity registry is {} on chain {}",
            r.account.address, r.chain_id, deployment.identity, deployment.chain_id
        )));
    }
    if r.facts.len() > MAX_FACTS {
        return Err(refuse(format!(
            "{} facts: at most {MAX_FACTS}",
            r.facts.len()
        )));
    }
    let b = &r.block;
    let hash = keccak256(&b.header_rlp);
    if hash != b.hash {
        return Err(refuse(format!(
            "the header hashes to {hash}, the report names block hash {}",
            b.hash
        )));
    }
    let header = ConsensusHeader::decode(&mut b.header_rlp.as_ref())
        .map_err(|e| refuse(format!("the header does not decode: {e}")))?;
    if header.number != b.number || header.state_root != b.state_root {
        return Err(refuse(format!(
            "the header is block {} with state root {}, the report names block {} with {}",
            header.number, header.state_root, b.number, b.state_root
        )));
    }
    let a = &r.account;
    let account = TrieAccount {
        nonce: a.nonce,
        balance: a.balance,
        storage_root: a.storage_root,
        code_hash: a.code_hash,
    };
    let mut encoded = Vec::new();
    account.encode(&mut encoded);
    check_proof(
        b.state_root,
        a.address,
        Some(encoded),
        &a.proof,
        "the registry account",
    )?;
    for f in &r.facts {
        let slot = f.fact.slot();
        if slot != f.slot {
            return Err(refuse(format!(
                "{:?} is stored at slot {slot}, not {}",
                f.fact, f.slot
            )));
        }
        let value = (!f.value.is_zero()).then(|| alloy::rlp::encode(f.value));
        check_proof(
            a.storage_root,
            slot,
            value,
            &f.proof,
            &format!("slot {slot}"),
        )?;
        let verdict = f.fact.verdict(f.value);
        if verdict != f.verdict {
            return Err(refuse(format!(
                "{:?}: the proven value says {verdict:?}, the report says {:?}",
                f.fact, f.verdict
            )));
        }
    }
    Ok(())
}

fn check_proof(
    root: B256,
    key: impl AsRef<[u8]>,
    value: Option<Vec<u8>>,
    proof: &[Bytes],
    what: &str,
) -> Result<()> {
    if proof.len() > MAX_PROOF_NODES {
        return Err(refuse(format!(
            "{what}: {} proof nodes, at most {MAX_PROOF_NODES}",
            proof.len()
        )));
    }
    verify_proof(root, Nibbles::unpack(keccak256(key)), value, proof).map_err(|source| {
        RegistryError::Trie {
            context: format!("{what} against root {root}"),
            source: Box::new(source),
        }
    })
}

/// Reads a report file's bytes strictly (size, duplicate keys, unknown members) and verifies
/// it against `deployment` ([`verify_report`]).
pub fn read_report(bytes: &[u8], deployment: &Deployment) -> Result<ProofReport> {
    use kya_core::json::{JsonLimits, parse_strict};
    let value = parse_strict(
        bytes,
        JsonLimits {
            max_bytes: MAX_REPORT_BYTES,
            max_depth: 8,
        },
    )
    .map_err(|e| refuse(format!("the report is not valid JSON: {e}")))?;
    let report: ProofReport = serde_json::from_value(value)
        .map_err(|e| refuse(format!("the report is malformed: {e}")))?;
    verify_report(&report, deployment)?;
    Ok(report)
}
