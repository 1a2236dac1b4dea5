//! Transparency-log checkpoints anchored on chain (`KyaLogAnchor`): one transaction per
//! checkpoint, tree sizes strictly increasing per (anchorer, log), roots read back from events.

use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bindings::KyaLogAnchor::{CheckpointAnchored, KyaLogAnchorInstance};
use crate::client::{Registry, TxInfo, send};
use crate::error::{RegistryError, Result};

/// A log's id in its anchorer's namespace: kya uses SHA-256 of the checkpoint's origin line
/// (the first line of a C2SP tlog-checkpoint, without its newline), so a reader derives it from
/// the checkpoint itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LogId(pub [u8; 32]);

impl LogId {
    /// SHA-256 of `origin` (UTF-8).
    pub fn from_origin(origin: &str) -> Self {
        Self(Sha256::digest(origin.as_bytes()).into())
    }

    /// The `bytes32` the contract takes.
    pub fn to_b256(self) -> B256 {
        B256::from(self.0)
    }
}

/// The latest anchor of a log, as the contract keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestCheckpoint {
    /// The tree size last anchored.
    pub tree_size: u64,
    /// The block whose `CheckpointAnchored` event holds that checkpoint's root.
    pub block_number: u64,
    /// How many checkpoints of this log were anchored.
    pub anchor_count: u64,
}

/// One anchored checkpoint, read from its `CheckpointAnchored` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchoredCheckpoint {
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root hash.
    pub root: B256,
    /// The block it was anchored in.
    pub block_number: u64,
    /// The anchoring transaction.
    pub tx_hash: B256,
}

impl Registry {
    fn anchor_contract(&self) -> Result<&KyaLogAnchorInstance<alloy::providers::DynProvider>> {
        self.log_anchor.as_ref().ok_or(RegistryError::NotDeployed {
            contract: "log anchor",
        })
    }

    /// Anchors the checkpoint (`tree_size`, `root`) of the signer's log `log_id` and returns
    /// the transaction (hash, block). The contract refuses a size not above the last one
    /// (`KyaTreeSizeNotIncreasing`, decoded in [`RegistryError::as_log_anchor`]).
    pub async fn anchor_checkpoint(
        &self,
        log_id: LogId,
        tree_size: u64,
        root: B256,
    ) -> Result<TxInfo> {
        let call = self
            .anchor_contract()?
            .anchorCheckpoint(log_id.to_b256(), tree_size, root);
        send(call.send().await?).await
    }

    /// The latest anchor of (`anchorer`, `log_id`), `None` if it was never anchored.
    pub async fn latest_checkpoint(
        &self,
        anchorer: Address,
        log_id: LogId,
    ) -> Result<Option<LatestCheckpoint>> {
        let r = self
            .anchor_contract()?
            .latestCheckpoint(anchorer, log_id.to_b256())
            .call()
            .await?;
        Ok((r.anchorCount != 0).then_some(LatestCheckpoint {
            tree_size: r.treeSize,
            block_number: r.blockNumber,
            anchor_count: r.anchorCount,
        }))
    }

    /// The checkpoints `anchorer` anchored for `log_id` in blocks `from_block..=to_block`, in
    /// chain order; more than `max_results` is an error ([`RegistryError::TooManyResults`]:
    /// ask for a smaller range). The node's answer is untrusted: every log must come from the
    /// anchor contract with the asked topics, and sizes must strictly increase.
    pub async fn checkpoint_anchors(
        &self,
        anchorer: Address,
        log_id: LogId,
        from_block: u64,
        to_block: u64,
        max_results: usize,
    ) -> Result<Vec<AnchoredCheckpoint>> {
        let contract = *self.anchor_contract()?.address();
        if to_block < from_block {
            return Err(RegistryError::Invalid(format!(
                "block range {from_block}..={to_block} is empty"
            )));
        }
        let filter = Filter::new()
            .address(contract)
            .event_signature(CheckpointAnchored::SIGNATURE_HASH)
            .topic1(anchorer.into_word())
            .topic2(log_id.to_b256())
            .from_block(from_block)
            .to_block(to_block);
        let logs = self.provider().get_logs(&filter).await?;
        if logs.len() > max_results {
            return Err(RegistryError::TooManyResults {
                what: format!("anchors of log {} by {anchorer}", log_id.to_b256()),
                max: max_results,
            });
        }
        let mut out: Vec<AnchoredCheckpoint> = Vec::with_capacity(logs.len());
        for log in &logs {
            let event = CheckpointAnchored::decode_log(&log.inner).map_err(|source| {
                RegistryError::Log {
                    event: "CheckpointAnchored",
                    source,
                }
            })?;
            let e = &event.data;
            let block_number = log.block_number.unwrap_or_default();
            let in_range = (from_block..=to_block).contains(&block_number);
            if log.address() != contract
                || e.anchorer != anchorer
                || e.logId != log_id.to_b256()
                || !in_range
            {
                return Err(RegistryError::Unexpected(format!(
                    "a log outside the filter of anchors of {anchorer} (block {block_number})"
                )));
            }
            if out.last().is_some_and(|p| p.tree_size >= e.treeSize) {
                return Err(RegistryError::Unexpected(format!(
                    "anchored tree sizes do not increase at block {block_number}"
                )));
            }
            out.push(AnchoredCheckpoint {
                tree_size: e.treeSize,
                root: e.root,
                block_number,
                tx_hash: log.transaction_hash.unwrap_or_default(),
            });
        }
        Ok(out)
    }
}
