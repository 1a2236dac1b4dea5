//! Event sync: builds and updates a verifier [`Snapshot`] from the registries' logs alone.
//!
//! - **Resumable**: a snapshot at block *B* resumes from *B + 1*; a fresh one starts at
//!   [`SyncOptions::start_block`] (the deployment block).
//! - **Paginated**: `eth_getLogs` over ranges of [`SyncOptions::page_size`] blocks, halved
//!   automatically when the node refuses a range (too many results, range too wide), down to
//!   one block.
//! - **Confirmations**: only blocks at or below `head − confirmations` are synced.
//! - **Reorg-safe**: before resuming, the snapshot's block hash is compared with the chain's;
//!   during a sync every log's block hash is checked against the block header fetched for its
//!   timestamp, each page's end hash is read before and after its logs, and each page's first
//!   block must be the child of the previous page's last. On a mismatch the snapshot is
//!   rebuilt from scratch (from `start_block`) and resynced — the snapshot cannot undo events,
//!   so this is the simplest correct rollback; [`SyncEvent::Reorg`] reports where the chains
//!   part, as far as the snapshot's `recentBlocks` window tells.
//! - **Timestamps**: each event's block header is fetched once (batched JSON-RPC requests,
//!   cached per block), so the snapshot answers "was key K bound at time t".
//!
//! The snapshot is changed page by page; a page that fails half-way is rolled back, so after
//! an error the snapshot is still consistent at the last completed page (and resumable).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U64};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::client::BatchRequest;
use alloy::rpc::types::{BlockNumberOrTag, Filter, Log};
use alloy::sol_types::SolEvent;
use alloy::transports::TransportError;
use kya_core::{CredentialDigest, PublicKey, Timestamp};
use kya_verify::snapshot::{BlockTime, Snapshot};
use serde::Deserialize;

use crate::bindings::KyaIdentityRegistry::{
    AgentKeyBound, AgentKeyUnbound, CredentialRevoked, IssuerCredentialRevoked, PrincipalKeyBound,
    PrincipalKeyUnbound,
};
use crate::bindings::erc8004::IErc8004Identity::{MetadataSet, Registered, Transfer, URIUpdated};
use crate::bindings::erc8004::IErc8004Reputation::{FeedbackRevoked, NewFeedback};
use crate::client::{Deployment, agent_id_of};
use crate::error::{RegistryError, Result};

/// Default blocks per `eth_getLogs` request.
pub const DEFAULT_PAGE_SIZE: u64 = 10_000;
/// Block headers per batched JSON-RPC request.
const HEADER_BATCH: usize = 100;
/// Times a sync restarts after detecting a reorganisation mid-sync before giving up.
const MAX_REORG_RESTARTS: u32 = 3;

/// What a sync reports as it goes (see [`SyncOptions::progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// Syncing blocks `from..=to` (the chain head is `head`).
    Started {
        /// First block to read.
        from: u64,
        /// Last block to read (`head − confirmations`).
        to: u64,
        /// The chain head.
        head: u64,
    },
    /// Blocks up to `through` are applied (`logs` events so far in this sync).
    Page {
        /// Last block applied.
        through: u64,
        /// Target block.
        to: u64,
        /// Events applied so far.
        logs: u64,
    },
    /// The node refused a range; it is retried with a smaller page.
    PageHalved {
        /// The new page size.
        page_size: u64,
    },
    /// The chain no longer contains the snapshot's block (or changed during the sync): the
    /// snapshot is rebuilt from `start_block`.
    Reorg {
        /// The snapshot block (or page block) whose hash no longer matches.
        at: u64,
        /// The highest block of the snapshot's recent window still on the chain, if any.
        common_ancestor: Option<u64>,
    },
}

/// Callback receiving [`SyncEvent`]s.
pub type Progress = Box<dyn FnMut(&SyncEvent) + Send>;

/// How to sync.
pub struct SyncOptions {
    /// Only sync up to `head − confirmations` (default 0: up to the head).
    pub confirmations: u64,
    /// Blocks per `eth_getLogs` request (default [`DEFAULT_PAGE_SIZE`]).
    pub page_size: u64,
    /// Where a fresh (or rebuilt) snapshot starts: the deployment block (default 0).
    pub start_block: u64,
    /// Sync no further than this block (default none: up to `head − confirmations`).
    pub to_block: Option<u64>,
    /// Progress callback (default none).
    pub progress: Option<Progress>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            confirmations: 0,
            page_size: DEFAULT_PAGE_SIZE,
            start_block: 0,
            to_block: None,
            progress: None,
        }
    }
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("confirmations", &self.confirmations)
            .field("page_size", &self.page_size)
            .field("start_block", &self.start_block)
            .field("to_block", &self.to_block)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl SyncOptions {
    fn emit(&mut self, e: SyncEvent) {
        if let Some(p) = self.progress.as_mut() {
            p(&e);
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The snapshot's block before the sync (`None` for a fresh snapshot).
    pub from_block: Option<u64>,
    /// The snapshot's block after.
    pub to_block: u64,
    /// Events applied.
    pub logs: u64,
    /// Block headers fetched (for timestamps and hashes).
    pub headers_fetched: u64,
    /// `eth_getLogs` requests made.
    pub log_requests: u64,
    /// Whether a reorganisation was detected (and the snapshot rebuilt).
    pub reorged: bool,
    /// Wall time.
    pub elapsed: Duration,
}

/// A block header: what the sync needs of it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    hash: B256,
    parent_hash: B256,
    number: U64,
    timestamp: U64,
}

impl Header {
    fn time(&self) -> Result<Timestamp> {
        i64::try_from(self.timestamp.to::<u64>())
            .ok()
            .and_then(Timestamp::from_unix)
            .ok_or_else(|| {
                RegistryError::Unexpected(format!(
                    "block {} has timestamp {}",
                    self.number, self.timestamp
                ))
            })
    }
}

/// Why a page attempt stopped.
enum PageError {
    /// The chain changed under the sync.
    Reorg(u64),
    /// Anything else.
    Fatal(RegistryError),
}

impl From<RegistryError> for PageError {
    fn from(e: RegistryError) -> Self {
        Self::Fatal(e)
    }
}

struct Syncer<'a> {
    provider: &'a DynProvider,
    identity: Address,
    reputation: Address,
    headers: BTreeMap<u64, Header>,
    report: SyncReport,
}

/// A fresh snapshot of a deployment.
pub fn new_snapshot(deployment: &Deployment) -> Snapshot {
    Snapshot::new(
        deployment.chain_id,
        deployment.identity.into_array(),
        deployment.reputation.into_array(),
    )
}

/// Whether the snapshot has not synced any block yet.
fn is_fresh(s: &Snapshot) -> bool {
    s.block().number == 0 && s.block().hash == [0; 32]
}

/// Syncs `snapshot` with the chain (see the [module docs](self)).
pub async fn sync(
    provider: &DynProvider,
    snapshot: &mut Snapshot,
    mut options: SyncOptions,
) -> Result<SyncReport> {
    let started = Instant::now();
    let chain_id = provider.get_chain_id().await?;
    if chain_id != snapshot.chain_id() {
        return Err(RegistryError::SnapshotMismatch(format!(
            "the snapshot is of chain {}, the node serves chain {chain_id}",
            snapshot.chain_id()
        )));
    }
    options.page_size = options.page_size.max(1);
    let mut s = Syncer {
        provider,
        identity: Address::from(snapshot.identity_registry()),
        reputation: Address::from(snapshot.reputation_registry()),
        headers: BTreeMap::new(),
        report: SyncReport {
            from_block: (!is_fresh(snapshot)).then(|| snapshot.block().number),
            to_block: snapshot.block().number,
            logs: 0,
            headers_fetched: 0,
            log_requests: 0,
            reorged: false,
            elapsed: Duration::ZERO,
        },
    };
    let mut restarts = 0;
    loop {
        match s.run(snapshot, &mut options).await {
            Ok(()) => break,
            Err(PageError::Fatal(e)) => return Err(e),
            Err(PageError::Reorg(at)) => {
                restarts += 1;
                if restarts > MAX_REORG_RESTARTS {
                    return Err(RegistryError::Unexpected(format!(
                        "the chain kept reorganising during the sync (last at block {at})"
                    )));
                }
                let common_ancestor = s.common_ancestor(snapshot).await?;
                options.emit(SyncEvent::Reorg {
                    at,
                    common_ancestor,
                });
                s.report.reorged = true;
                s.headers.clear();
                *snapshot = Snapshot::new(
                    snapshot.chain_id(),
                    snapshot.identity_registry(),
                    snapshot.reputation_registry(),
                );
            }
        }
    }
    s.report.to_block = snapshot.block().number;
    s.report.elapsed = started.elapsed();
    Ok(s.report)
}

/// Loads the snapshot at `path` (or starts a fresh one of `deployment` when the file does not
/// exist), syncs it, and writes it back atomically. The snapshot's registries must be the
/// deployment's.
pub async fn sync_file(
    provider: &DynProvider,
    path: &Path,
    deployment: &Deployment,
    mut options: SyncOptions,
) -> Result<(Snapshot, SyncReport)> {
    let mut snapshot = match std::fs::read(path) {
        Ok(bytes) => Snapshot::load(&bytes).map_err(|source| RegistryError::Snapshot {
            context: format!("reading snapshot {}", path.display()),
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_snapshot(deployment),
        Err(source) => {
            return Err(RegistryError::Io {
                context: format!("reading {}", path.display()),
                source,
            });
        }
    };
    if snapshot.identity_registry() != deployment.identity.into_array()
        || snapshot.reputation_registry() != deployment.reputation.into_array()
        || snapshot.chain_id() != deployment.chain_id
    {
        return Err(RegistryError::SnapshotMismatch(format!(
            "{} is a snapshot of other registries than the deployment's",
            path.display()
        )));
    }
    if options.start_block == 0 {
        options.start_block = deployment.from_block;
    }
    let report = sync(provider, &mut snapshot, options).await?;
    crate::write_atomic(path, &snapshot.to_json_bytes())?;
    Ok((snapshot, report))
}

/// What re-deriving a snapshot from the chain found (see [`verify_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotCheck {
    /// The chain, read from `start_block` to the snapshot's block, gives the same state.
    Matches {
        /// The snapshot's block.
        block: u64,
    },
    /// The chain no longer has the snapshot's block (a reorg, or another chain).
    BlockNotOnChain {
        /// The snapshot's block.
        block: u64,
    },
    /// The chain gives another state at the snapshot's block: the file was edited or the
    /// node that produced it lied (or this one does).
    Differs {
        /// The snapshot's block.
        block: u64,
    },
}

/// Re-derives `snapshot` from the chain: syncs a fresh snapshot of the same registries from
/// `start_block` to the snapshot's block and compares the states (everything but the window
/// of recent block hashes). This is the only way to detect a hand-edited snapshot whose
/// content digest was recomputed: the file itself is not signed by the chain.
pub async fn verify_snapshot(
    provider: &DynProvider,
    snapshot: &Snapshot,
    start_block: u64,
) -> Result<SnapshotCheck> {
    let block = snapshot.block().number;
    if is_fresh(snapshot) {
        return Err(RegistryError::Invalid(
            "the snapshot has not synced any block yet".into(),
        ));
    }
    let on_chain: Option<Header> = provider
        .client()
        .request(
            "eth_getBlockByNumber",
            (BlockNumberOrTag::Number(block), false),
        )
        .await?;
    if on_chain.is_none_or(|h| h.hash.0 != snapshot.block().hash) {
        return Ok(SnapshotCheck::BlockNotOnChain { block });
    }
    let mut fresh = Snapshot::new(
        snapshot.chain_id(),
        snapshot.identity_registry(),
        snapshot.reputation_registry(),
    );
    let options = SyncOptions {
        start_block,
        to_block: Some(block),
        ..SyncOptions::default()
    };
    sync(provider, &mut fresh, options).await?;
    Ok(if fresh.same_state(snapshot) {
        SnapshotCheck::Matches { block }
    } else {
        SnapshotCheck::Differs { block }
    })
}

impl Syncer<'_> {
    async fn run(
        &mut self,
        snapshot: &mut Snapshot,
        options: &mut SyncOptions,
    ) -> Result<(), PageError> {
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(RegistryError::from)?;
        let mut target = head.saturating_sub(options.confirmations);
        if let Some(to) = options.to_block {
            target = target.min(to);
        }
        let fresh = is_fresh(snapshot);
        let mut prev_hash: Option<B256> = None;
        if !fresh {
            // Is the snapshot's block still on the chain?
            let b = snapshot.block();
            match self.header(b.number).await? {
                Some(h) if h.hash == B256::from(b.hash) => prev_hash = Some(h.hash),
                _ => return Err(PageError::Reorg(b.number)),
            }
        }
        let from = if fresh {
            options.start_block
        } else {
            snapshot.block().number + 1
        };
        options.emit(SyncEvent::Started {
            from,
            to: target,
            head,
        });
        if from > target {
            if fresh {
                // Nothing to read yet: the snapshot reflects the (empty) state at `target`.
                let h = self.require_header(target).await?;
                snapshot
                    .apply_block(target, h.hash.0, h.time()?)
                    .map_err(|source| RegistryError::Snapshot {
                        context: format!("block {target} does not fit the snapshot"),
                        source,
                    })?;
            }
            return Ok(());
        }
        let mut page = options.page_size;
        let mut start = from;
        while start <= target {
            let end = start.saturating_add(page - 1).min(target);
            // The page's end before reading its logs, to notice a reorg during the read.
            let end_before = self.require_header_fresh(end).await?;
            let logs = match self.logs(start, end).await {
                Ok(logs) => logs,
                Err(e) if e.as_error_resp().is_some() && page > 1 => {
                    // The node refused the range (too many results / too wide): halve it.
                    page = (end - start + 1).div_ceil(2).max(1);
                    options.emit(SyncEvent::PageHalved { page_size: page });
                    continue;
                }
                Err(e) => return Err(PageError::Fatal(e.into())),
            };
            // Headers of every block with an event, plus the page's first and last blocks.
            let mut wanted: Vec<u64> = logs.iter().filter_map(|l| l.block_number).collect();
            wanted.push(start);
            wanted.push(end);
            self.headers.remove(&end); // re-read: it must not have changed during the read
            self.fetch_headers(&wanted).await?;
            let end_after = self.require_header(end).await?;
            if end_after.hash != end_before.hash {
                return Err(PageError::Reorg(end));
            }
            let first = self.require_header(start).await?;
            if let Some(p) = prev_hash {
                if first.parent_hash != p {
                    return Err(PageError::Reorg(start));
                }
            }
            for l in &logs {
                let n = l.block_number.unwrap_or_default();
                let h = self.require_header(n).await?;
                if l.block_hash != Some(h.hash) {
                    return Err(PageError::Reorg(n));
                }
            }
            // Apply the page; roll it back if an event does not fit the snapshot.
            let backup = snapshot.clone();
            if let Err(e) = self.apply_page(snapshot, &logs, end) {
                *snapshot = backup;
                return Err(PageError::Fatal(e));
            }
            self.report.logs += logs.len() as u64;
            prev_hash = Some(end_after.hash);
            options.emit(SyncEvent::Page {
                through: end,
                to: target,
                logs: self.report.logs,
            });
            // Drop cached headers below this page: they are never needed again.
            self.headers = self.headers.split_off(&end);
            start = end + 1;
        }
        Ok(())
    }

    /// Applies one page of logs (ascending) and advances the snapshot to `end`.
    fn apply_page(&self, snapshot: &mut Snapshot, logs: &[Log], end: u64) -> Result<()> {
        let mut current = snapshot.block().number;
        for l in logs {
            let n = l.block_number.unwrap_or_default();
            let h = self.cached(n)?;
            let at = BlockTime {
                block: n,
                time: h.time()?,
            };
            if n > current || is_fresh(snapshot) {
                snapshot
                    .apply_block(n, h.hash.0, at.time)
                    .map_err(|source| RegistryError::Snapshot {
                        context: log_context(l),
                        source,
                    })?;
                current = n;
            }
            self.apply_log(snapshot, l, at)
                .map_err(|e| apply_error(l, &e))?;
        }
        if end > current || is_fresh(snapshot) {
            let h = self.cached(end)?;
            snapshot
                .apply_block(end, h.hash.0, h.time()?)
                .map_err(|source| RegistryError::Snapshot {
                    context: format!("block {end} does not fit the snapshot"),
                    source,
                })?;
        }
        Ok(())
    }

    /// Applies one log. Keys that are not valid Ed25519 public keys (the contract accepts any
    /// non-zero `bytes32`) are skipped: nothing can be verified with them.
    fn apply_log(&self, s: &mut Snapshot, l: &Log, at: BlockTime) -> Result<(), String> {
        let topic0 = l.topic0().copied().unwrap_or_default();
        let se = |e: kya_verify::snapshot::SnapshotError| e.to_string();
        let de = |e: alloy::sol_types::Error| format!("undecodable log: {e}");
        if l.address() == self.identity {
            match topic0 {
                Registered::SIGNATURE_HASH => {
                    let e = Registered::decode_log(&l.inner).map_err(de)?.data;
                    s.apply_agent_registered(
                        agent_id_of(e.agentId),
                        e.owner.into_array(),
                        e.agentURI,
                    )
                    .map_err(se)?;
                }
                Transfer::SIGNATURE_HASH => {
                    let e = Transfer::decode_log(&l.inner).map_err(de)?.data;
                    // A mint is followed by Registered, which records the owner; a burn
                    // leaves the agent inactive and ownerless.
                    if !e.from.is_zero() {
                        let id = agent_id_of(e.tokenId);
                        s.apply_agent_owner(&id, e.to.into_array()).map_err(se)?;
                        if e.to.is_zero() {
                            s.apply_agent_active(&id, false).map_err(se)?;
                        }
                    }
                }
                URIUpdated::SIGNATURE_HASH => {
                    let e = URIUpdated::decode_log(&l.inner).map_err(de)?.data;
                    s.apply_agent_uri(&agent_id_of(e.agentId), e.newURI)
                        .map_err(se)?;
                }
                MetadataSet::SIGNATURE_HASH => {
                    let e = MetadataSet::decode_log(&l.inner).map_err(de)?.data;
                    // Only the verified wallet is part of the snapshot.
                    if e.metadataKey == "agentWallet" {
                        let wallet = (e.metadataValue.len() == 20)
                            .then(|| Address::from_slice(&e.metadataValue))
                            .filter(|a| !a.is_zero())
                            .map(Address::into_array);
                        s.apply_agent_wallet(&agent_id_of(e.agentId), wallet)
                            .map_err(se)?;
                    }
                }
                AgentKeyBound::SIGNATURE_HASH => {
                    let e = AgentKeyBound::decode_log(&l.inner).map_err(de)?.data;
                    if let Some(key) = ed25519(e.key) {
                        s.apply_agent_key_bound(&agent_id_of(e.agentId), key, at)
                            .map_err(se)?;
                    }
                }
                AgentKeyUnbound::SIGNATURE_HASH => {
                    let e = AgentKeyUnbound::decode_log(&l.inner).map_err(de)?.data;
                    if let Some(key) = ed25519(e.key) {
                        s.apply_agent_key_unbound(&agent_id_of(e.agentId), key, at)
                            .map_err(se)?;
                    }
                }
                PrincipalKeyBound::SIGNATURE_HASH => {
                    let e = PrincipalKeyBound::decode_log(&l.inner).map_err(de)?.data;
                    if let Some(key) = ed25519(e.key) {
                        s.apply_principal_key_bound(e.principal.into_array(), key, at)
                            .map_err(se)?;
                    }
                }
                PrincipalKeyUnbound::SIGNATURE_HASH => {
                    let e = PrincipalKeyUnbound::decode_log(&l.inner).map_err(de)?.data;
                    if let Some(key) = ed25519(e.key) {
                        s.apply_principal_key_unbound(e.principal.into_array(), key, at)
                            .map_err(se)?;
                    }
                }
                CredentialRevoked::SIGNATURE_HASH => {
                    let e = CredentialRevoked::decode_log(&l.inner).map_err(de)?.data;
                    s.apply_revocation(&agent_id_of(e.agentId), CredentialDigest(e.digest.0), at)
                        .map_err(se)?;
                }
                IssuerCredentialRevoked::SIGNATURE_HASH => {
                    let e = IssuerCredentialRevoked::decode_log(&l.inner)
                        .map_err(de)?
                        .data;
                    s.apply_issuer_revocation(
                        e.issuer.into_array(),
                        CredentialDigest(e.digest.0),
                        at,
                    )
                    .map_err(se)?;
                }
                _ => {}
            }
        } else if l.address() == self.reputation {
            match topic0 {
                NewFeedback::SIGNATURE_HASH => {
                    let e = NewFeedback::decode_log(&l.inner).map_err(de)?.data;
                    s.apply_feedback(
                        &agent_id_of(e.agentId),
                        e.clientAddress.into_array(),
                        e.feedbackIndex,
                        e.value,
                        e.valueDecimals,
                        e.tag1,
                        e.tag2,
                    )
                    .map_err(se)?;
                }
                FeedbackRevoked::SIGNATURE_HASH => {
                    let e = FeedbackRevoked::decode_log(&l.inner).map_err(de)?.data;
                    s.apply_feedback_revoked(
                        &agent_id_of(e.agentId),
                        e.clientAddress.into_array(),
                        e.feedbackIndex,
                    )
                    .map_err(se)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The logs of both registries in `from..=to`, in chain order.
    async fn logs(&mut self, from: u64, to: u64) -> Result<Vec<Log>, TransportError> {
        self.report.log_requests += 1;
        let filter = Filter::new()
            .address(vec![self.identity, self.reputation])
            .event_signature(vec![
                Registered::SIGNATURE_HASH,
                Transfer::SIGNATURE_HASH,
                URIUpdated::SIGNATURE_HASH,
                MetadataSet::SIGNATURE_HASH,
                AgentKeyBound::SIGNATURE_HASH,
                AgentKeyUnbound::SIGNATURE_HASH,
                PrincipalKeyBound::SIGNATURE_HASH,
                PrincipalKeyUnbound::SIGNATURE_HASH,
                CredentialRevoked::SIGNATURE_HASH,
                IssuerCredentialRevoked::SIGNATURE_HASH,
                NewFeedback::SIGNATURE_HASH,
                FeedbackRevoked::SIGNATURE_HASH,
            ])
            .from_block(from)
            .to_block(to);
        let mut logs = self.provider.get_logs(&filter).await?;
        // Nodes return logs in chain order; make sure of it (removed logs are dropped).
        logs.retain(|l| !l.removed);
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(logs)
    }

    /// Fetches (batched) the headers of `numbers` not cached yet.
    async fn fetch_headers(&mut self, numbers: &[u64]) -> Result<(), PageError> {
        let mut missing: Vec<u64> = numbers
            .iter()
            .copied()
            .filter(|n| !self.headers.contains_key(n))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for chunk in missing.chunks(HEADER_BATCH) {
            let mut batch = BatchRequest::new(self.provider.client());
            let mut waiters = Vec::with_capacity(chunk.len());
            for &n in chunk {
                let w = batch
                    .add_call::<_, Option<Header>>(
                        "eth_getBlockByNumber",
                        &(BlockNumberOrTag::Number(n), false),
                    )
                    .map_err(RegistryError::from)?;
                waiters.push((n, w));
            }
            batch.send().await.map_err(RegistryError::from)?;
            for (n, w) in waiters {
                match w.await.map_err(RegistryError::from)? {
                    Some(h) => {
                        self.report.headers_fetched += 1;
                        self.headers.insert(n, h);
                    }
                    // The block vanished between the log query and now: a reorg.
                    None => return Err(PageError::Reorg(n)),
                }
            }
        }
        Ok(())
    }

    /// The header of block `n` (cached), `None` if the chain has no such block.
    async fn header(&mut self, n: u64) -> Result<Option<Header>, PageError> {
        if let Some(h) = self.headers.get(&n) {
            return Ok(Some(*h));
        }
        let h: Option<Header> = self
            .provider
            .client()
            .request("eth_getBlockByNumber", (BlockNumberOrTag::Number(n), false))
            .await
            .map_err(RegistryError::from)?;
        if let Some(h) = h {
            self.report.headers_fetched += 1;
            self.headers.insert(n, h);
        }
        Ok(h)
    }

    /// The header of block `n`, read from the node even if cached.
    async fn require_header_fresh(&mut self, n: u64) -> Result<Header, PageError> {
        self.headers.remove(&n);
        self.require_header(n).await
    }

    /// The header of block `n`; a missing block means the chain changed.
    async fn require_header(&mut self, n: u64) -> Result<Header, PageError> {
        self.header(n).await?.ok_or(PageError::Reorg(n))
    }

    fn cached(&self, n: u64) -> Result<Header> {
        self.headers
            .get(&n)
            .copied()
            .ok_or_else(|| RegistryError::Unexpected(format!("no header for block {n}")))
    }

    /// The highest block of the snapshot's recent window that the chain still has.
    async fn common_ancestor(&mut self, snapshot: &Snapshot) -> Result<Option<u64>> {
        self.headers.clear();
        for b in snapshot.recent_blocks().iter().rev() {
            match self.header(b.number).await {
                Ok(Some(h)) if h.hash.0 == b.hash => return Ok(Some(b.number)),
                Ok(_) => {}
                Err(PageError::Fatal(e)) => return Err(e),
                Err(PageError::Reorg(_)) => {}
            }
        }
        Ok(None)
    }
}

fn ed25519(key: B256) -> Option<PublicKey> {
    PublicKey::from_bytes(&key.0).ok()
}

fn apply_error(l: &Log, e: &str) -> RegistryError {
    RegistryError::Unexpected(format!("{}: {e}", log_context(l)))
}

/// Names the log a snapshot refused, for the error message.
fn log_context(l: &Log) -> String {
    format!(
        "event in block {} (tx {}, log {}) does not fit the snapshot",
        l.block_number.unwrap_or_default(),
        l.transaction_hash.unwrap_or_default(),
        l.log_index.unwrap_or_default()
    )
}
