//! `kya serve`: the verification gateway for merchants in any language.
//!
//! The gateway puts kya's verifier in front of any HTTP service, configured by one TOML file
//! ([`Config`]; every option is in the README's "`kya serve`" section):
//!
//! - **proxy mode** verifies each signed agent request (RFC 9421 signature, credential chain,
//!   policy, decision, metering) and forwards allowed ones to the upstream with identity
//!   headers (`KYA-Verified-Agent`, `-Principal`, `-Chain-Digest`, `-Action`, `-Grant`,
//!   `-Amount`, `-Registry-Block`); any such header a client sent is removed first. Refusals
//!   are answered with kya's problem JSON;
//! - **auth mode** answers nginx `auth_request`, Envoy `ext_authz` (HTTP) and Traefik
//!   `forwardAuth` sub-requests: 200 with the identity headers, or 401/403/503; `[auth] proxy`
//!   names the proxy, and the original request is read from that proxy's headers alone;
//! - a **live registry view** follows the chain with kya-registry's sync and is swapped
//!   whole after each sync; a view older than its bound is refused (or, if configured,
//!   degraded);
//! - **receipts** (`[receipts]`): every decision signed by the merchant's receipt key and
//!   made durable in a tamper-evident log before the answer goes out, returned to the agent in
//!   `KYA-Receipt` (503 when it cannot be logged), the log's checkpoint anchored on chain on a
//!   schedule;
//! - **x402 payments** (`[route.x402]`, `[x402]`): an unpaid request to a priced route gets
//!   402 with `PAYMENT-REQUIRED`; a paid one passes kya-x402's `PaidGate` (kya signature,
//!   chain, grants in the token's CAIP-19 asset, the agent's wallet, the payment's terms), is
//!   settled on chain by the gateway's own facilitator and only then forwarded, answered with
//!   `PAYMENT-RESPONSE`; its receipt records the settlement transaction;
//! - `/healthz`, `/readyz`, `/metrics` (Prometheus), one JSON log line per decision, SIGHUP
//!   reloads the policy and routes, SIGTERM/SIGINT drain and stop.
//!
//! ```no_run
//! # async fn run() -> Result<(), kya_gateway::GatewayError> {
//! let gateway = kya_gateway::Gateway::from_file("gateway.toml".into())?;
//! let listener = gateway.bind().await?;
//! gateway.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
#![forbid(unsafe_code)]

mod config;
mod decide;
mod error;
pub mod log;
mod metrics;
mod pay;
mod proxy;
mod receipts;
mod server;
mod view;

pub use config::{
    AuthConfig, Config, FollowConfig, LimitsConfig, Mode, ReceiptsConfig, RegistryConfig,
    RouteConfig, RouteX402, StoresConfig, WhenStale, X402Config,
};
pub use decide::{
    H_ACTION, H_AGENT, H_AMOUNT, H_BLOCK, H_CHAIN, H_GRANT, H_PAYMENT, H_PRINCIPAL,
    IDENTITY_PREFIX, Identity, Outcome, Problem, Stores,
};
pub use error::GatewayError;
pub use metrics::Metrics;
pub use proxy::strip_untrusted;
pub use server::{Gateway, Reloader};
pub use view::{Follower, LiveView};

/// Runs the gateway of the configuration file at `path` until SIGTERM or SIGINT: logs as
/// JSON lines on standard error, prints `listening on ADDR` on standard output once bound,
/// reloads on SIGHUP.
pub async fn run_file(path: std::path::PathBuf) -> Result<(), GatewayError> {
    let gateway = Gateway::from_file(path)?;
    let listener = gateway.bind().await?;
    let addr = listener.local_addr().map_err(|source| GatewayError::Io {
        context: "reading the bound address".into(),
        source,
    })?;
    println!("listening on {addr}");
    tracing::info!(event = "listening", addr = %addr);
    let reloader = gateway.reloader();
    let signal = |kind| {
        tokio::signal::unix::signal(kind).map_err(|source| GatewayError::Io {
            context: "installing a signal handler".into(),
            source,
        })
    };
    use tokio::signal::unix::SignalKind;
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            // The error is logged and counted; the old configuration stays.
            let _ = reloader.reload();
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    gateway.serve(listener, shutdown).await
}
