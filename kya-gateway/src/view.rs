//! The live registry view: a snapshot held in memory, replaced whole after every sync, and
//! the follower task that syncs it with kya-registry's own sync (final blocks, a quorum of
//! sources, reorg-safe, resumed from the snapshot file and written back atomically).
//!
//! A view is as fresh as its last good sync: a sync that reached the followed block (even
//! with nothing new) proves the view current up to that block. At start, a snapshot read from
//! disk counts as synced when its file was last written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kya_core::credential::AgentRegistration;
use kya_core::{CredentialDigest, DidPkh, PublicKey, Timestamp};
use kya_registry::{Deployment, Follow, Sources, SyncOptions};
use kya_verify::snapshot::Snapshot;
use kya_verify::{AgentRecord, IssuerRevocation, RegistryView, ReputationSummary, Revocation};
use tokio::sync::watch;

use crate::config::{FollowConfig, RegistryConfig};
use crate::error::GatewayError;
use crate::metrics::Metrics;

/// A registry view that a background sync replaces atomically.
#[derive(Debug)]
pub struct LiveView {
    current: RwLock<Arc<Snapshot>>,
    /// Unix milliseconds of the last good sync; 0: never.
    synced_at_ms: AtomicU64,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl LiveView {
    /// A view of `snapshot`, synced at `synced_at` (`None`: not yet).
    pub fn new(snapshot: Snapshot, synced_at: Option<SystemTime>) -> Self {
        Self {
            current: RwLock::new(Arc::new(snapshot)),
            synced_at_ms: AtomicU64::new(synced_at.map_or(0, unix_ms)),
        }
    }

    /// The snapshot answering now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(s) => Arc::clone(&s),
            // A writer panicked mid-swap: the Arc inside is still a whole snapshot.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the view after a good sync (kept as is when the state did not change, so
    /// verified chains stay cached) and marks it synced now.
    pub fn replace(&self, snapshot: Snapshot) {
        if self.snapshot().state_id() != snapshot.state_id() {
            let next = Arc::new(snapshot);
            match self.current.write() {
                Ok(mut s) => *s = next,
                Err(poisoned) => *poisoned.into_inner() = next,
            }
        }
        self.synced_at_ms
            .store(unix_ms(SystemTime::now()), Ordering::Release);
    }

    /// The block the view reflects.
    pub fn block(&self) -> u64 {
        self.snapshot().block().number
    }

    /// Time since the last good sync; `None` if there was none.
    pub fn age(&self) -> Option<Duration> {
        match self.synced_at_ms.load(Ordering::Acquire) {
            0 => None,
            at => Some(Duration::from_millis(
                unix_ms(SystemTime::now()).saturating_sub(at),
            )),
        }
    }

    /// Whether the last good sync is at most `max` old.
    pub fn is_fresh(&self, max: Duration) -> bool {
        self.age().is_some_and(|a| a <= max)
    }
}

impl RegistryView for LiveView {
    fn agent(&self, reg: &AgentRegistration) -> Option<AgentRecord> {
        self.snapshot().agent(reg)
    }
    fn agent_key_bound(&self, reg: &AgentRegistration, key: &PublicKey, at: Timestamp) -> bool {
        self.snapshot().agent_key_bound(reg, key, at)
    }
    fn principal_key_bound(&self, principal: &DidPkh, key: &PublicKey, at: Timestamp) -> bool {
        self.snapshot().principal_key_bound(principal, key, at)
    }
    fn revoked(&self, reg: &AgentRegistration, digest: &CredentialDigest) -> Option<Revocation> {
        self.snapshot().revoked(reg, digest)
    }
    fn revoked_by_issuer(
        &self,
        issuer: &DidPkh,
        digest: &CredentialDigest,
    ) -> Option<IssuerRevocation> {
        self.snapshot().revoked_by_issuer(issuer, digest)
    }
    fn reputation(
        &self,
        reg: &AgentRegistration,
        raters: &[[u8; 20]],
    ) -> Option<ReputationSummary> {
        self.snapshot().reputation(reg, raters)
    }
    fn validations(
        &self,
        reg: &AgentRegistration,
        validators: &[[u8; 20]],
    ) -> Option<Vec<kya_verify::Validation>> {
        self.snapshot().validations(reg, validators)
    }
    fn agent_over_bounds(&self, reg: &AgentRegistration) -> Option<String> {
        self.snapshot().agent_over_bounds(reg)
    }
    fn principal_over_bounds(&self, principal: &DidPkh) -> Option<String> {
        self.snapshot().principal_over_bounds(principal)
    }
    fn as_of(&self) -> Option<Timestamp> {
        self.snapshot().as_of()
    }
    fn state_id(&self) -> Option<[u8; 32]> {
        self.snapshot().state_id()
    }
    /// The snapshot answering now, whole: a sync that lands during a verification is seen by
    /// the next one, never by half of this one.
    fn pinned(&self) -> Option<Arc<dyn RegistryView>> {
        Some(self.snapshot())
    }
}

/// Syncs the snapshot file and the view, once per poll interval, until shut down.
pub struct Follower {
    sources: Sources,
    deployment: Deployment,
    config: RegistryConfig,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("sources", &self.sources.len())
            .field("snapshot", &self.config.snapshot)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// Connects to the configured endpoints and loads the snapshot file (or starts an empty
    /// view of the deployment): the follower and the view it keeps.
    pub fn start(config: &RegistryConfig) -> Result<(Self, Arc<LiveView>), GatewayError> {
        let deployment = Deployment::read(&config.deployment)?;
        let timeout = Duration::from_secs(config.request_timeout_secs.max(1));
        let sources = Sources::connect(&config.rpc, config.quorum, timeout)?;
        let view = match kya_registry::read_snapshot(&config.snapshot)? {
            Some(s) => {
                let written = std::fs::metadata(&config.snapshot)
                    .and_then(|m| m.modified())
                    .ok();
                LiveView::new(s, written)
            }
            None => LiveView::new(kya_registry::new_snapshot(&deployment), None),
        };
        let follower = Self {
            sources,
            deployment,
            config: config.clone(),
        };
        Ok((follower, Arc::new(view)))
    }

    fn follow(&self) -> Follow {
        match self.config.follow {
            FollowConfig::Finalized => Follow::Finalized,
            FollowConfig::Safe => Follow::Safe,
            FollowConfig::Latest => Follow::Confirmations(self.config.confirmations),
        }
    }

    /// One sync of the file, then the view.
    pub async fn sync_once(&self, view: &LiveView, metrics: &Metrics) {
        let mut options = SyncOptions {
            follow: self.follow(),
            start_block: self.deployment.from_block,
            ..SyncOptions::default()
        };
        let synced = kya_registry::sync_file_sources(
            &self.sources,
            &self.config.snapshot,
            &self.deployment,
            &mut options,
        )
        .await;
        match synced {
            Ok((snapshot, report)) => {
                let block = snapshot.block().number;
                view.replace(snapshot);
                metrics.sync(true);
                tracing::debug!(
                    event = "registry_synced",
                    block,
                    events = report.logs,
                    reorged = report.reorged
                );
            }
            Err(e) => {
                metrics.sync(false);
                tracing::warn!(event = "registry_sync_failed", error = %e, block = view.block());
            }
        }
    }

    /// Runs [`run`](Self::run) on a thread of its own (its own single-threaded runtime), so
    /// that the sync's file writes never hold up the request path.
    pub fn spawn(
        self,
        view: Arc<LiveView>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<std::thread::JoinHandle<()>, GatewayError> {
        let io = |source| GatewayError::Io {
            context: "starting the registry follower".into(),
            source,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io)?;
        std::thread::Builder::new()
            .name("kya-registry-follower".into())
            .spawn(move || runtime.block_on(self.run(view, metrics, shutdown)))
            .map_err(io)
    }

    /// Syncs at once, then every poll interval, until `shutdown` turns true.
    pub async fn run(
        self,
        view: Arc<LiveView>,
        metrics: Arc<Metrics>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        loop {
            self.sync_once(&view, &metrics).await;
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
