//! Receipts: every decision is signed with the merchant's receipt key and appended to its
//! log before the answer goes out, and the agent gets it back in `KYA-Receipt`. A schedule
//! anchors the log's checkpoint on chain so that the log cannot later be rewritten unseen.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use kya_audit::{JournalError, ReceiptIssuer, SignedReceipt};
use kya_core::{MultikeyFile, SecretKey, Timestamp};
use kya_registry::{Address, B256, Deployment, LogId, PrivateKeySigner, Registry};
use kya_verify::http::{Admitted, HttpRequest, Refusal};
use tokio::sync::watch;

use crate::config::{Config, ReceiptsConfig};
use crate::error::GatewayError;
use crate::metrics::Metrics;

/// What a receipt records: a decision of kya-verify, or a refusal of the gateway's own.
pub(crate) enum Decided {
    /// Allowed, denied or not verified, as kya-verify decided.
    Verifier(Box<Result<Admitted, Refusal>>),
    /// Refused by the gateway (status, stable code).
    Gateway(u16, &'static str),
    /// Allowed and paid: the settlement transaction is recorded with the decision.
    Paid(Box<Admitted>, kya_audit::SettlementRecord),
}

/// The receipt issuer and how strictly it is needed.
pub(crate) struct Receipts {
    issuer: Arc<ReceiptIssuer>,
    required: bool,
    anchoring: Option<Anchoring>,
}

/// The anchor job's settings.
pub(crate) struct Anchoring {
    every: Duration,
    registry: Registry,
    anchorer: Address,
    log_id: LogId,
}

impl Receipts {
    /// Opens the receipt log and reads the keys the configuration names; `None` when the
    /// configuration has no `[receipts]`.
    pub(crate) fn open(config: &Config) -> Result<Option<Self>, GatewayError> {
        let Some(r) = &config.receipts else {
            return Ok(None);
        };
        let key = read_receipt_key(&r.key_file)?;
        let merchant = merchant(config)?;
        let issuer = ReceiptIssuer::open(key, r.origin.clone(), merchant, &r.log_dir)?;
        let anchoring = match (&config.registry, r.anchor_every_seconds) {
            (_, 0) => None,
            (Some(reg), every) => Some(anchoring(r, &reg.deployment, &reg.rpc, every)?),
            (None, _) => {
                return Err(GatewayError::Config(
                    "[receipts] anchor_every_seconds needs a [registry] section".into(),
                ));
            }
        };
        Ok(Some(Self {
            issuer: Arc::new(issuer),
            required: r.required,
            anchoring,
        }))
    }

    /// Whether a decision that cannot be logged must be refused.
    pub(crate) fn required(&self) -> bool {
        self.required
    }

    /// Whether a failed write stopped the receipt log (until the gateway is restarted).
    pub(crate) fn stopped(&self) -> bool {
        self.issuer.journal().is_stopped()
    }

    /// Signs and logs the receipt of `decided` (on a blocking thread: the log waits for
    /// its fsync).
    pub(crate) async fn record(
        &self,
        request: HttpRequest,
        decided: Decided,
    ) -> Result<SignedReceipt, JournalError> {
        let issuer = Arc::clone(&self.issuer);
        let now = Timestamp::now();
        let task = tokio::task::spawn_blocking(move || match decided {
            Decided::Verifier(outcome) => issuer.record(&request, &outcome, now),
            Decided::Gateway(status, code) => issuer.record_refused(&request, status, code, now),
            Decided::Paid(admitted, settlement) => {
                issuer.record_paid(&request, *admitted, settlement, now)
            }
        });
        task.await
            .map_err(|e| JournalError::Entry(format!("the receipt task failed: {e}")))?
    }

    /// The anchor job, when one is configured (taken once, to be spawned by the server).
    pub(crate) fn take_anchor_job(&mut self) -> Option<AnchorJob> {
        let anchoring = self.anchoring.take()?;
        Some(AnchorJob {
            issuer: Arc::clone(&self.issuer),
            anchoring,
        })
    }
}

/// The anchor job, not yet running.
pub(crate) struct AnchorJob {
    issuer: Arc<ReceiptIssuer>,
    anchoring: Anchoring,
}

impl AnchorJob {
    /// Runs the job on the current runtime until `stop` turns true.
    pub(crate) fn spawn(
        self,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(anchor_loop(self.issuer, self.anchoring, metrics, stop))
    }
}

/// The `KYA-Receipt` header value: base64url (no padding) of the receipt's bytes.
pub(crate) fn header_value(receipt: &SignedReceipt) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(receipt.as_bytes())
}

/// The receipt key; its file's text is zeroized after reading, and neither is ever logged.
fn read_receipt_key(path: &Path) -> Result<SecretKey, GatewayError> {
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|source| GatewayError::Io {
            context: format!("reading the receipt key {}", path.display()),
            source,
        })?);
    let bad = |e: kya_core::KeyError| {
        GatewayError::Config(format!("receipt key {}: {e}", path.display()))
    };
    MultikeyFile::from_json(&bytes)
        .map_err(bad)?
        .secret_key()
        .map_err(bad)
}

/// The merchant receipts name: the policy's audience, else `did:web:` the first authority.
fn merchant(config: &Config) -> Result<String, GatewayError> {
    let bytes = std::fs::read(&config.policy).map_err(|source| GatewayError::Io {
        context: format!("reading {}", config.policy.display()),
        source,
    })?;
    let policy = kya_verify::Policy::from_json(&bytes).map_err(|source| GatewayError::Policy {
        path: config.policy.display().to_string(),
        source,
    })?;
    match (policy.audience(), config.authorities.first()) {
        (Some(a), _) => Ok(a.to_owned()),
        (None, Some(host)) => Ok(format!("did:web:{host}")),
        (None, None) => Err(GatewayError::Config(
            "[receipts] needs the policy's audience or an authority to name the merchant".into(),
        )),
    }
}

/// The anchoring client: the registry's deployment, its first RPC url, the Ethereum key.
fn anchoring(
    r: &ReceiptsConfig,
    deployment: &Path,
    rpc: &[String],
    every: u64,
) -> Result<Anchoring, GatewayError> {
    let signer = eth_signer(
        r.eth_key_file.as_deref(),
        &r.eth_key_env,
        "[receipts] anchoring",
    )?;
    let anchorer = signer.address();
    let url = rpc
        .first()
        .ok_or_else(|| GatewayError::Config("[registry] needs an `rpc` url".into()))?;
    let registry = Registry::from_deployment(
        kya_registry::connect_http(url, Some(signer))?,
        Deployment::read(deployment)?,
    );
    Ok(Anchoring {
        every: Duration::from_secs(every),
        registry,
        anchorer,
        log_id: LogId::from_origin(&r.origin),
    })
}

/// The Ethereum key: from `file`, else from the environment variable `env`; `what` names
/// the section needing it.
pub(crate) fn eth_signer(
    file: Option<&Path>,
    env: &str,
    what: &str,
) -> Result<PrivateKeySigner, GatewayError> {
    let (secret, origin) = match file {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|source| GatewayError::Io {
                context: format!("reading the Ethereum key file {}", path.display()),
                source,
            })?,
            path.display().to_string(),
        ),
        None => match std::env::var(env) {
            Ok(v) => (v, format!("${env}")),
            Err(_) => {
                return Err(GatewayError::Config(format!(
                    "{what} needs eth_key_file, or the environment variable {env}"
                )));
            }
        },
    };
    let secret = zeroize::Zeroizing::new(secret);
    secret.trim().parse::<PrivateKeySigner>().map_err(|_| {
        GatewayError::Config(format!(
            "{origin} does not hold an Ethereum private key (0x + 64 hex digits)"
        ))
    })
}

/// How long one anchoring call (a read, or a transaction until its receipt) may take before
/// it is given up and retried on the next period.
pub(crate) const ANCHOR_TIMEOUT: Duration = Duration::from_secs(120);

/// `call`, given up after [`ANCHOR_TIMEOUT`] (a node that never answers must not stall the job).
async fn bounded<T>(
    call: impl std::future::Future<Output = kya_registry::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(ANCHOR_TIMEOUT, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", ANCHOR_TIMEOUT.as_secs())),
    }
}

/// Anchors the log's checkpoint every period when the log grew since the last anchor.
/// Failures are logged and counted; the gateway goes on.
async fn anchor_loop(
    issuer: Arc<ReceiptIssuer>,
    a: Anchoring,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(a.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The size last anchored, read from the chain at start and after a failure.
    let mut anchored: Option<u64> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = stop.changed() => if r.is_err() || *stop.borrow() { break },
        }
        if anchored.is_none() {
            let latest = bounded(a.registry.latest_checkpoint(a.anchorer, a.log_id)).await;
            match latest {
                Ok(l) => anchored = Some(l.map_or(0, |l| l.tree_size)),
                Err(e) => {
                    metrics.anchor(false);
                    tracing::warn!(event = "anchor_failed", error = %e);
                    continue;
                }
            }
        }
        let reader = Arc::clone(&issuer);
        let Ok(checkpoint) =
            tokio::task::spawn_blocking(move || reader.journal().checkpoint(reader.origin())).await
        else {
            continue;
        };
        let size = checkpoint.size.0;
        if size == 0 || anchored.is_some_and(|last| size <= last) {
            continue;
        }
        let root = B256::from(*checkpoint.root.as_bytes());
        match bounded(a.registry.anchor_checkpoint(a.log_id, size, root)).await {
            Ok(tx) => {
                anchored = Some(size);
                metrics.anchor(true);
                tracing::info!(
                    event = "anchored",
                    size,
                    root = %root,
                    block = tx.block_number,
                    tx = %tx.tx_hash,
                );
            }
            Err(e) => {
                anchored = None;
                metrics.anchor(false);
                tracing::warn!(event = "anchor_failed", size, error = %e);
            }
        }
    }
}
