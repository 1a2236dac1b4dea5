//! Event sync: builds and updates a verifier [`Snapshot`] from the registries' logs alone.
//!
//! - **Final blocks only** (by default): the sync reads up to the chain's `finalized` block
//!   ([`Follow`]); `safe` or a confirmation depth are for chains without finality. A block
//!   the snapshot reflects is final, so finding another hash there later is not a
//!   reorganisation but a rewrite of final history (or a node serving another history):
//!   the sync stops with [`RegistryError::FinalityViolation`] and keeps the snapshot, unless
//!   [`SyncOptions::rebuild`] is set. A chain with another genesis under the same chain id
//!   ([`RegistryError::GenesisMismatch`]) or without code at a registry address
//!   ([`RegistryError::NoRegistryCode`]) is refused the same way.
//! - **Several sources** ([`Sources`]): every block hash, log list and code hash must be
//!   agreed by a quorum of endpoints; headers are hashed here, never taken on a node's word;
//!   outvoted answers are reported ([`SyncEvent::Outvoted`]), no quorum is an error.
//! - **Resumable**: a snapshot at block *B* resumes from *B + 1*; a fresh one starts at
//!   [`SyncOptions::start_block`] (the deployment block).
//! - **Paginated**: `eth_getLogs` over ranges of [`SyncOptions::page_size`] blocks, halved
//!   automatically when a node refuses a range, down to one block.
//! - **Reorg-safe** (when following `latest` with a confirmation depth): each page's end hash
//!   is read before and after its logs, each page's first block must be the child of the
//!   previous page's last, and a chain that got shorter than the page is a reorganisation; the
//!   snapshot is then rebuilt from `start_block` ([`SyncEvent::Reorg`]).
//! - **Timestamps and state roots**: each event's block header is fetched once (cached per
//!   block) and checked against the hash its logs carry; the snapshot records the block, hash,
//!   state root and genesis it reflects.
//!
//! The snapshot is changed page by page; a page that fails half-way is rolled back, so after
//! an error the snapshot is still consistent at the last completed page (and resumable).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use alloy::rpc::types::{BlockNumberOrTag, Filter, Log};
use alloy::sol_types::SolEvent;
use kya_core::{CredentialDigest, PublicKey, Timestamp};
use kya_verify::snapshot::{BlockTime, Snapshot};

use crate::bindings::KyaIdentityRegistry::{
    AgentKeyBound, AgentKeyUnbound, CredentialRevoked, IssuerCredentialRevoked, PrincipalKeyBound,
    PrincipalKeyUnbound,
};
use crate::bindings::KyaValidationRegistry::{ValidationRequest, ValidationResponse};
use crate::bindings::erc8004::IErc8004Identity::{MetadataSet, Registered, Transfer, URIUpdated};
use crate::bindings::erc8004::IErc8004Reputation::{FeedbackRevoked, NewFeedback};
use crate::client::{Deployment, agent_id_of};
use crate::error::{RegistryError, Result};
use crate::sources::{Answer, Header, Sources};

/// Default blocks per `eth_getLogs` request.
pub const DEFAULT_PAGE_SIZE: u64 = 10_000;
/// Times a sync restarts after detecting a reorganisation mid-sync before giving up.
const MAX_REORG_RESTARTS: u32 = 3;
/// Most outvoted answers kept in a [`SyncReport`].
const MAX_OUTVOTED: usize = 64;

/// Which blocks a sync reads up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Follow {
    /// The `finalized` block: what the chain's consensus will not undo (the default).
    #[default]
    Finalized,
    /// The `safe` block, for chains that publish no finality.
    Safe,
    /// `latest` minus this many blocks, for chains with neither: a reorganisation deeper
    /// than this is still handled (the snapshot is rebuilt).
    Confirmations(u64),
}

/// What a sync reports as it goes (see [`SyncOptions::progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// Syncing blocks `from..=to` (the chain head is `head`).
    Started {
        /// First block to read.
        from: u64,
        /// Last block to read (the finalized or safe block, or `head − confirmations`).
        to: u64,
        /// The chain head (`latest`).
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
    /// A node refused a range; it is retried with a smaller page.
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
    /// A quorum agreed, and these endpoints answered otherwise.
    Outvoted {
        /// What was asked (`block 12`, `the logs of blocks 1..=12`, …).
        what: String,
        /// The endpoints outvoted and their answers.
        dissent: Vec<Answer>,
    },
    /// The snapshot is about to be written: it reflects `block` (see [`sync_file`]).
    Writing {
        /// The block the snapshot reflects.
        block: u64,
    },
}

/// Callback receiving [`SyncEvent`]s.
pub type Progress = Box<dyn FnMut(&SyncEvent) + Send>;

/// How to sync.
pub struct SyncOptions {
    /// Which blocks to read up to (default [`Follow::Finalized`]).
    pub follow: Follow,
    /// Blocks per `eth_getLogs` request (default [`DEFAULT_PAGE_SIZE`]).
    pub page_size: u64,
    /// Where a fresh (or rebuilt) snapshot starts: the deployment block (default 0).
    pub start_block: u64,
    /// Sync no further than this block (default none: up to the followed block).
    pub to_block: Option<u64>,
    /// Rebuild from scratch when final history changed or the genesis differs, instead of
    /// refusing (default false: only an operator who knows why should ask for it).
    pub rebuild: bool,
    /// Progress callback (default none).
    pub progress: Option<Progress>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            follow: Follow::Finalized,
            page_size: DEFAULT_PAGE_SIZE,
            start_block: 0,
            to_block: None,
            rebuild: false,
            progress: None,
        }
    }
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("follow", &self.follow)
            .field("page_size", &self.page_size)
            .field("start_block", &self.start_block)
            .field("to_block", &self.to_block)
            .field("rebuild", &self.rebuild)
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

    fn outvoted(&mut self, report: &mut SyncReport, what: String, dissent: Vec<Answer>) {
        if dissent.is_empty() {
            return;
        }
        if report.outvoted.len() < MAX_OUTVOTED {
            report.outvoted.push((what.clone(), dissent.clone()));
        }
        self.emit(SyncEvent::Outvoted { what, dissent });
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
    /// `eth_getLogs` rounds made (each asks every endpoint).
    pub log_requests: u64,
    /// Whether a reorganisation was detected (and the snapshot rebuilt).
    pub reorged: bool,
    /// Answers outvoted by the quorum (what was asked, who answered what), at most 64.
    pub outvoted: Vec<(String, Vec<Answer>)>,
    /// Wall time.
    pub elapsed: Duration,
}

fn header_time(h: &Header) -> Result<Timestamp> {
    i64::try_from(h.inner.timestamp)
        .ok()
        .and_then(Timestamp::from_unix)
        .ok_or_else(|| {
            RegistryError::Unexpected(format!(
                "block {} has timestamp {}",
                h.inner.number, h.inner.timestamp
            ))
        })
}

/// Why a page attempt stopped.
enum PageError {
    /// The chain changed under the sync at block `at`: `expected` was recorded (or read
    /// before), `got` is what the sources give now.
    Reorg {
        at: u64,
        expected: Option<B256>,
        got: Option<B256>,
    },
    /// Anything else.
    Fatal(RegistryError),
}

impl From<RegistryError> for PageError {
    fn from(e: RegistryError) -> Self {
        Self::Fatal(e)
    }
}

fn reorg(at: u64, expected: Option<B256>, got: Option<B256>) -> PageError {
    PageError::Reorg { at, expected, got }
}

struct Syncer<'a> {
    sources: &'a Sources,
    identity: Address,
    reputation: Address,
    /// The validation registry, when the snapshot records one.
    validation: Option<Address>,
    headers: BTreeMap<u64, Header>,
    report: SyncReport,
}

/// A fresh snapshot of a deployment.
pub fn new_snapshot(deployment: &Deployment) -> Snapshot {
    Snapshot::with_validation(
        deployment.chain_id,
        deployment.identity.into_array(),
        deployment.reputation.into_array(),
        deployment.validation.map(Address::into_array),
    )
}

/// Whether the snapshot has not synced any block yet.
fn is_fresh(s: &Snapshot) -> bool {
    s.block().number == 0 && s.block().hash == [0; 32]
}

fn blank(s: &Snapshot) -> Snapshot {
    Snapshot::with_validation(
        s.chain_id(),
        s.identity_registry(),
        s.reputation_registry(),
        s.validation_registry(),
    )
}

/// Syncs `snapshot` with the chain through one endpoint (see the [module docs](self)).
pub async fn sync(
    provider: &DynProvider,
    snapshot: &mut Snapshot,
    mut options: SyncOptions,
) -> Result<SyncReport> {
    sync_sources(&Sources::single(provider.clone()), snapshot, &mut options).await
}

/// Syncs `snapshot` with the chain as a quorum of `sources` gives it (see the
/// [module docs](self)).
pub async fn sync_sources(
    sources: &Sources,
    snapshot: &mut Snapshot,
    options: &mut SyncOptions,
) -> Result<SyncReport> {
    let started = Instant::now();
    let mut s = Syncer {
        sources,
        identity: Address::from(snapshot.identity_registry()),
        reputation: Address::from(snapshot.reputation_registry()),
        validation: snapshot.validation_registry().map(Address::from),
        headers: BTreeMap::new(),
        report: SyncReport {
            from_block: (!is_fresh(snapshot)).then(|| snapshot.block().number),
            to_block: snapshot.block().number,
            logs: 0,
            headers_fetched: 0,
            log_requests: 0,
            reorged: false,
            outvoted: Vec::new(),
            elapsed: Duration::ZERO,
        },
    };
    s.check_chain(snapshot, options).await?;
    options.page_size = options.page_size.max(1);
    let mut restarts = 0;
    loop {
        let (at, expected, got) = match s.run(snapshot, options).await {
            Ok(()) => break,
            Err(PageError::Fatal(e)) => return Err(e),
            Err(PageError::Reorg { at, expected, got }) => (at, expected, got),
        };
        if options.follow == Follow::Finalized && !options.rebuild {
            return Err(RegistryError::FinalityViolation {
                block: at,
                expected: expected.unwrap_or_default(),
                got,
            });
        }
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
        let genesis = snapshot.genesis_hash();
        *snapshot = blank(snapshot);
        set_genesis(snapshot, B256::from(genesis))?;
    }
    s.report.to_block = snapshot.block().number;
    s.report.elapsed = started.elapsed();
    Ok(s.report)
}

fn set_genesis(snapshot: &mut Snapshot, hash: B256) -> Result<()> {
    snapshot
        .set_genesis_hash(hash.0)
        .map_err(|source| RegistryError::Snapshot {
            context: "recording the genesis".into(),
            source,
        })
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
    let sources = Sources::single(provider.clone());
    sync_file_sources(&sources, path, deployment, &mut options).await
}

/// [`sync_file`] from a quorum of `sources`. Temporary files of killed writers are removed
/// first. The write never replaces a snapshot of a later block (another sync of the same file
/// that finished first): the file is locked, and the block on disk is compared before the
/// rename; the newer snapshot is kept and returned.
pub async fn sync_file_sources(
    sources: &Sources,
    path: &Path,
    deployment: &Deployment,
    options: &mut SyncOptions,
) -> Result<(Snapshot, SyncReport)> {
    crate::fsutil::remove_stale_temp_files_of(path);
    let mut snapshot = read_snapshot(path)?.unwrap_or_else(|| new_snapshot(deployment));
    if snapshot.identity_registry() != deployment.identity.into_array()
        || snapshot.reputation_registry() != deployment.reputation.into_array()
        || snapshot.chain_id() != deployment.chain_id
    {
        return Err(RegistryError::SnapshotMismatch(format!(
            "{} is a snapshot of other registries than the deployment's",
            path.display()
        )));
    }
    // Validation events before the snapshot's block would be missing: a snapshot taken
    // without the deployment's validation registry is rebuilt, not resumed.
    if snapshot.validation_registry() != deployment.validation.map(Address::into_array) {
        return Err(RegistryError::SnapshotMismatch(format!(
            "{} records validation registry {}, the deployment {}: sync into a new file",
            path.display(),
            snapshot
                .validation_registry()
                .map_or_else(|| "none".to_owned(), |a| Address::from(a).to_string()),
            deployment
                .validation
                .map_or_else(|| "none".to_owned(), |a| a.to_string()),
        )));
    }
    if options.start_block == 0 {
        options.start_block = deployment.from_block;
    }
    let report = sync_sources(sources, &mut snapshot, options).await?;
    options.emit(SyncEvent::Writing {
        block: snapshot.block().number,
    });
    let written = crate::fsutil::write_snapshot_unless_newer(path, &snapshot)?;
    Ok((written, report))
}

/// The snapshot at `path`, `None` if there is no such file.
pub fn read_snapshot(path: &Path) -> Result<Option<Snapshot>> {
    match std::fs::read(path) {
        Ok(bytes) => Snapshot::load(&bytes)
            .map(Some)
            .map_err(|source| RegistryError::Snapshot {
                context: format!("reading snapshot {}", path.display()),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RegistryError::Io {
            context: format!("reading {}", path.display()),
            source,
        }),
    }
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
    verify_snapshot_sources(&Sources::single(provider.clone()), snapshot, start_block).await
}

/// [`verify_snapshot`] against a quorum of `sources`.
pub async fn verify_snapshot_sources(
    sources: &Sources,
    snapshot: &Snapshot,
    start_block: u64,
) -> Result<SnapshotCheck> {
    let block = snapshot.block().number;
    if is_fresh(snapshot) {
        return Err(RegistryError::Invalid(
            "the snapshot has not synced any block yet".into(),
        ));
    }
    let (on_chain, _) = sources.header(block).await?;
    if on_chain.is_none_or(|h| h.hash.0 != snapshot.block().hash) {
        return Ok(SnapshotCheck::BlockNotOnChain { block });
    }
    let mut fresh = blank(snapshot);
    // The snapshot's block is on the chain: read exactly up to it, final or not.
    let mut options = SyncOptions {
        follow: Follow::Confirmations(0),
        start_block,
        to_block: Some(block),
        ..SyncOptions::default()
    };
    sync_sources(sources, &mut fresh, &mut options).await?;
    Ok(if fresh.same_state(snapshot) {
        SnapshotCheck::Matches { block }
    } else {
        SnapshotCheck::Differs { block }
    })
}

impl Syncer<'_> {
    /// The chain id, the genesis and (once a snapshot has a block) that block must be the
    /// snapshot's.
    async fn check_chain(
        &mut self,
        snapshot: &mut Snapshot,
        options: &mut SyncOptions,
    ) -> Result<()> {
        let (chain_id, dissent) = self.sources.chain_id().await?;
        options.outvoted(&mut self.report, "the chain id".into(), dissent);
        if chain_id != snapshot.chain_id() {
            return Err(RegistryError::SnapshotMismatch(format!(
                "the snapshot is of chain {}, the node serves chain {chain_id}",
                snapshot.chain_id()
            )));
        }
        let genesis = self
            .agreed_header(0, options)
            .await?
            .ok_or_else(|| RegistryError::Unexpected("the sources have no block 0".into()))?;
        let recorded = B256::from(snapshot.genesis_hash());
        if !recorded.is_zero() && recorded != genesis.hash {
            if !options.rebuild {
                return Err(RegistryError::GenesisMismatch {
                    chain_id,
                    expected: recorded,
                    got: genesis.hash,
                });
            }
            *snapshot = blank(snapshot);
        }
        set_genesis(snapshot, genesis.hash)
    }

    /// Block `n` as a quorum gives it (the outvoted reported); `None` if it has no such block.
    async fn agreed_header(&mut self, n: u64, options: &mut SyncOptions) -> Result<Option<Header>> {
        let (h, dissent) = self.sources.header(n).await?;
        options.outvoted(&mut self.report, format!("block {n}"), dissent);
        self.report.headers_fetched += 1;
        if let Some(h) = &h {
            self.headers.insert(n, h.clone());
        }
        Ok(h)
    }

    /// The block to sync up to and the head, as a quorum gives them.
    async fn target(&mut self, options: &SyncOptions) -> Result<(u64, u64)> {
        let head = self.sources.tag_number(BlockNumberOrTag::Latest).await?;
        let target = match options.follow {
            Follow::Finalized => self.sources.tag_number(BlockNumberOrTag::Finalized).await?,
            Follow::Safe => self.sources.tag_number(BlockNumberOrTag::Safe).await?,
            Follow::Confirmations(c) => head.saturating_sub(c),
        };
        Ok((options.to_block.map_or(target, |to| target.min(to)), head))
    }

    /// The identity registry (keys, revocations: what an allow rests on) must have code at
    /// `block`: a chain without it is not the deployment. (The reputation registry may be
    /// deployed later, so its code is not required.)
    async fn check_code(&mut self, block: u64, options: &mut SyncOptions) -> Result<()> {
        let (hash, dissent) = self.sources.code_hash(self.identity, block).await?;
        options.outvoted(
            &mut self.report,
            "the identity registry's code".into(),
            dissent,
        );
        if hash.is_zero() {
            return Err(RegistryError::NoRegistryCode {
                registry: "identity",
                address: self.identity,
                block,
            });
        }
        Ok(())
    }

    async fn run(
        &mut self,
        snapshot: &mut Snapshot,
        options: &mut SyncOptions,
    ) -> Result<(), PageError> {
        let (target, head) = self.target(options).await?;
        let fresh = is_fresh(snapshot);
        let mut prev_hash: Option<B256> = None;
        if !fresh {
            // Is the snapshot's block still on the chain?
            let b = snapshot.block();
            let expected = B256::from(b.hash);
            match self.agreed_header(b.number, options).await? {
                Some(h) if h.hash == expected => prev_hash = Some(h.hash),
                other => return Err(reorg(b.number, Some(expected), other.map(|h| h.hash))),
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
        if !fresh || target >= options.start_block.max(1) {
            self.check_code(target.max(snapshot.block().number), options)
                .await?;
        }
        if from > target {
            if fresh {
                // Nothing to read yet: the snapshot reflects the (empty) state at `target`.
                let h = self.require_header(target, options).await?;
                apply_head(snapshot, &h)?;
            }
            return Ok(());
        }
        let mut page = options.page_size;
        let mut start = from;
        while start <= target {
            let end = start.saturating_add(page - 1).min(target);
            match self.page(snapshot, options, start, end, prev_hash).await? {
                None => {
                    // A node refused the range (too many results / too wide): halve it.
                    page = (end - start + 1).div_ceil(2).max(1);
                    options.emit(SyncEvent::PageHalved { page_size: page });
                }
                Some(end_hash) => {
                    prev_hash = Some(end_hash);
                    options.emit(SyncEvent::Page {
                        through: end,
                        to: target,
                        logs: self.report.logs,
                    });
                    // Drop cached headers below this page: they are never needed again.
                    self.headers = self.headers.split_off(&end);
                    start = end + 1;
                }
            }
        }
        Ok(())
    }

    /// Reads and applies blocks `start..=end`; the end block's hash, or `None` when a node
    /// refused the range and it should be halved.
    async fn page(
        &mut self,
        snapshot: &mut Snapshot,
        options: &mut SyncOptions,
        start: u64,
        end: u64,
        prev_hash: Option<B256>,
    ) -> Result<Option<B256>, PageError> {
        // The page's end before reading its logs, to notice a reorg during the read.
        let end_before = self.require_header(end, options).await?;
        self.report.log_requests += 1;
        let logs = match self.sources.logs(&self.filter(start, end)).await {
            Ok((logs, dissent)) => {
                options.outvoted(
                    &mut self.report,
                    format!("the logs of blocks {start}..={end}"),
                    dissent,
                );
                logs
            }
            Err(e) if e.refused => {
                // A chain that got shorter than the page is a reorganisation, not a failure.
                let head = self.sources.tag_number(BlockNumberOrTag::Latest).await?;
                if head < end {
                    return Err(reorg(end, Some(end_before.hash), None));
                }
                if end > start {
                    return Ok(None);
                }
                return Err(PageError::Fatal(e.error));
            }
            Err(e) => return Err(PageError::Fatal(e.error)),
        };
        self.headers.remove(&end); // re-read: it must not have changed during the read
        let end_after = self.require_header(end, options).await?;
        if end_after.hash != end_before.hash {
            return Err(reorg(end, Some(end_before.hash), Some(end_after.hash)));
        }
        let first = self.require_header(start, options).await?;
        if let Some(p) = prev_hash
            && first.inner.parent_hash != p
        {
            return Err(reorg(start, Some(p), Some(first.inner.parent_hash)));
        }
        self.log_headers(&logs).await?;
        // Apply the page; roll it back if an event does not fit the snapshot.
        let backup = snapshot.clone();
        if let Err(e) = self.apply_page(snapshot, &logs, end) {
            *snapshot = backup;
            return Err(PageError::Fatal(e));
        }
        self.report.logs += logs.len() as u64;
        Ok(Some(end_after.hash))
    }

    fn filter(&self, from: u64, to: u64) -> Filter {
        let mut addresses = vec![self.identity, self.reputation];
        addresses.extend(self.validation);
        Filter::new()
            .address(addresses)
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
                ValidationRequest::SIGNATURE_HASH,
                ValidationResponse::SIGNATURE_HASH,
            ])
            .from_block(from)
            .to_block(to)
    }

    /// The header of every block with a log, whose hash (computed here) must be the hash the
    /// agreed logs carry: so its timestamp and state root are the chain's. Fetched in batches
    /// from one endpoint; a block it does not serve as agreed is asked of every endpoint.
    async fn log_headers(&mut self, logs: &[Log]) -> Result<(), PageError> {
        let mut wanted: Vec<(u64, B256)> = Vec::new();
        for l in logs {
            let (Some(n), Some(hash)) = (l.block_number, l.block_hash) else {
                return Err(PageError::Fatal(RegistryError::Unexpected(format!(
                    "{} lacks its block",
                    log_context(l)
                ))));
            };
            let cached = self.headers.get(&n).is_some_and(|h| h.hash == hash);
            if !cached && wanted.last() != Some(&(n, hash)) {
                wanted.push((n, hash));
            }
        }
        let batch = self.sources.headers_batch(&wanted).await;
        for (&(n, hash), h) in wanted.iter().zip(batch) {
            let h = match h {
                Some(h) => Some(h),
                None => self.sources.header_with_hash(n, hash).await?,
            };
            self.report.headers_fetched += 1;
            match h {
                Some(h) => {
                    self.headers.insert(n, h);
                }
                None => return Err(reorg(n, Some(hash), None)),
            }
        }
        Ok(())
    }

    /// The header of block `n` (cached, else agreed by a quorum); a missing block means the
    /// chain changed.
    async fn require_header(
        &mut self,
        n: u64,
        options: &mut SyncOptions,
    ) -> Result<Header, PageError> {
        if let Some(h) = self.headers.get(&n) {
            return Ok(h.clone());
        }
        self.agreed_header(n, options)
            .await?
            .ok_or(reorg(n, None, None))
    }

    /// Applies one page of logs (ascending) and advances the snapshot to `end`.
    fn apply_page(&self, snapshot: &mut Snapshot, logs: &[Log], end: u64) -> Result<()> {
        let mut current = snapshot.block().number;
        for l in logs {
            let n = l.block_number.unwrap_or_default();
            let h = self.cached(n)?;
            let at = BlockTime {
                block: n,
                time: header_time(&h)?,
            };
            if n > current || is_fresh(snapshot) {
                apply_head(snapshot, &h).map_err(|e| apply_error(l, &e.to_string()))?;
                current = n;
            }
            self.apply_log(snapshot, l, at)
                .map_err(|e| apply_error(l, &e))?;
        }
        if end > current || is_fresh(snapshot) {
            apply_head(snapshot, &self.cached(end)?)?;
        }
        Ok(())
    }

    fn cached(&self, n: u64) -> Result<Header> {
        self.headers
            .get(&n)
            .cloned()
            .ok_or_else(|| RegistryError::Unexpected(format!("no header for block {n}")))
    }

    /// The highest block of the snapshot's recent window that the chain still has.
    async fn common_ancestor(&mut self, snapshot: &Snapshot) -> Result<Option<u64>> {
        self.headers.clear();
        for b in snapshot.recent_blocks().iter().rev() {
            match self.sources.header(b.number).await {
                Ok((Some(h), _)) if h.hash.0 == b.hash => return Ok(Some(b.number)),
                Ok(_) | Err(RegistryError::NoQuorum { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
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
        } else if Some(l.address()) == self.validation {
            apply_validation_log(s, l, topic0, at)?;
        }
        Ok(())
    }
}

/// A validation registry event: a request, or a validator's answer.
fn apply_validation_log(
    s: &mut Snapshot,
    l: &Log,
    topic0: B256,
    at: BlockTime,
) -> Result<(), String> {
    let se = |e: kya_verify::snapshot::SnapshotError| e.to_string();
    let de = |e: alloy::sol_types::Error| format!("undecodable log: {e}");
    match topic0 {
        ValidationRequest::SIGNATURE_HASH => {
            let e = ValidationRequest::decode_log(&l.inner).map_err(de)?.data;
            s.apply_validation_request(
                &agent_id_of(e.agentId),
                e.validatorAddress.into_array(),
                e.requestHash.0,
                at,
            )
            .map_err(se)
        }
        ValidationResponse::SIGNATURE_HASH => {
            let e = ValidationResponse::decode_log(&l.inner).map_err(de)?.data;
            s.apply_validation_response(
                &agent_id_of(e.agentId),
                e.validatorAddress.into_array(),
                e.requestHash.0,
                e.response,
                e.tag,
                at,
            )
            .map_err(se)
        }
        _ => Ok(()),
    }
}

/// Advances the snapshot to the block of `h`: number, hash, state root, time.
fn apply_head(snapshot: &mut Snapshot, h: &Header) -> Result<()> {
    let n = h.inner.number;
    snapshot
        .apply_block_with_root(n, h.hash.0, h.inner.state_root.0, header_time(h)?)
        .map_err(|source| RegistryError::Snapshot {
            context: format!("block {n} does not fit the snapshot"),
            source,
        })
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
