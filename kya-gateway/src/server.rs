//! The server: the listener (bounded connections, request heads read within a timeout,
//! bodies read up to a bound), the operations endpoints, proxy and auth modes, reload and
//! graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use kya_audit::{SettlementRecord, SignedReceipt};
use kya_verify::http::{Admitted, ChainStore, HttpRequest, MemoryChainStore, Refusal};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::config::{Config, Mode};
use crate::decide::{Freshness, Gate, Outcome, Stores, decide, problem_json};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::pay::PayState;
use crate::proxy;
use crate::receipts::{AnchorJob, Decided, Receipts};
use crate::view::{Follower, LiveView};

type Body = BoxBody<Bytes, hyper::Error>;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(30);

/// A configured gateway, not yet serving.
pub struct Gateway {
    shared: Arc<Shared>,
    follower: Option<Follower>,
    anchor: Option<AnchorJob>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("listen", &self.shared.config.listen)
            .field("mode", &self.shared.config.mode)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: Config,
    config_path: Option<PathBuf>,
    stores: Stores,
    chains: Arc<dyn ChainStore>,
    fresh: Option<Freshness>,
    gate: RwLock<Arc<Gate>>,
    metrics: Arc<Metrics>,
    upstream: Option<(String, Client<HttpConnector, Full<Bytes>>)>,
    receipts: Option<Receipts>,
    settler: Option<crate::pay::Settler>,
}

impl Gateway {
    /// A gateway for the configuration file at `path` (kept for reloads), with the stores it
    /// names.
    pub fn from_file(path: PathBuf) -> Result<Self, GatewayError> {
        let config = Config::read(&path)?;
        let stores = Stores::from_config(
            &config.stores,
            config.authorities.first().map(String::as_str),
        )?;
        Self::new(config, Some(path), stores)
    }

    /// A gateway for `config` with `stores` (in memory, or a shared backend); `config_path`
    /// is what a reload reads again.
    pub fn new(
        config: Config,
        config_path: Option<PathBuf>,
        stores: Stores,
    ) -> Result<Self, GatewayError> {
        let (follower, fresh) = match &config.registry {
            Some(r) => {
                let (follower, view) = Follower::start(r)?;
                let fresh = Freshness {
                    view,
                    max_age: Duration::from_secs(r.max_age_secs),
                    when_stale: r.when_stale,
                };
                (Some(follower), Some(fresh))
            }
            None => (None, None),
        };
        let chains: Arc<dyn ChainStore> = Arc::new(MemoryChainStore::default());
        let gate = Gate::build(&config, &stores, &chains, fresh.as_ref().map(|f| &f.view))?;
        let upstream = match (config.mode, &config.upstream) {
            (Mode::Proxy, Some(u)) => {
                let base = proxy::upstream_base(u)
                    .ok_or_else(|| GatewayError::Config(format!("upstream `{u}`")))?;
                let client = Client::builder(TokioExecutor::new()).build_http();
                Some((base, client))
            }
            _ => None,
        };
        let mut receipts = Receipts::open(&config)?;
        let anchor = receipts.as_mut().and_then(Receipts::take_anchor_job);
        let settler = config
            .x402
            .as_ref()
            .map(crate::pay::Settler::from_config)
            .transpose()?;
        let shared = Shared {
            config,
            config_path,
            stores,
            chains,
            fresh,
            gate: RwLock::new(Arc::new(gate)),
            metrics: Arc::new(Metrics::default()),
            upstream,
            receipts,
            settler,
        };
        Ok(Self {
            shared: Arc::new(shared),
            follower,
            anchor,
        })
    }

    /// The registry view, when one is configured.
    pub fn view(&self) -> Option<Arc<LiveView>> {
        self.shared.fresh.as_ref().map(|f| Arc::clone(&f.view))
    }

    /// A handle that reloads the policy, routes, prices, authorities and status lists from
    /// the configuration file; the listener, mode, upstream, registry, stores and limits stay
    /// as started.
    pub fn reloader(&self) -> Reloader {
        Reloader(Arc::clone(&self.shared))
    }

    /// Binds the configured address.
    pub async fn bind(&self) -> Result<TcpListener, GatewayError> {
        let addr = self.shared.config.listen;
        TcpListener::bind(addr)
            .await
            .map_err(|source| GatewayError::Io {
                context: format!("binding {addr}"),
                source,
            })
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting, lets open
    /// requests finish (up to 30 s) and stops the registry follower.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), GatewayError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let follower = match (self.follower, &self.shared.fresh) {
            (Some(f), Some(fresh)) => Some(f.spawn(
                Arc::clone(&fresh.view),
                Arc::clone(&self.shared.metrics),
                stop_rx.clone(),
            )?),
            _ => None,
        };
        let anchor = self
            .anchor
            .map(|job| job.spawn(Arc::clone(&self.shared.metrics), stop_rx.clone()));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let permits = Arc::new(Semaphore::new(self.shared.config.limits.max_connections));
        let header_timeout =
            Duration::from_secs(self.shared.config.limits.header_timeout_secs.max(1));
        tokio::pin!(shutdown);
        loop {
            // A permit first: past the bound, connections wait in the listen backlog.
            let permit = tokio::select! {
                p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(event = "accept_failed", error = %e);
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let shared = Arc::clone(&self.shared);
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, req, peer).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
        }
        drop(listener);
        tracing::info!(event = "shutting_down");
        let _ = stop_tx.send(true);
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(event = "drain_timed_out", seconds = DRAIN.as_secs());
        }
        if let Some(f) = follower {
            let _ = tokio::task::spawn_blocking(move || f.join()).await;
        }
        if let Some(mut a) = anchor {
            // An anchor in flight may finish; a node that does not answer does not hold the exit.
            if tokio::time::timeout(Duration::from_secs(10), &mut a)
                .await
                .is_err()
            {
                a.abort();
            }
        }
        Ok(())
    }
}

/// Reloads the reloadable part of the configuration (see [`Gateway::reloader`]).
#[derive(Clone)]
pub struct Reloader(Arc<Shared>);

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    /// Reads the configuration file again and swaps in the new policy and routes; requests
    /// in flight finish under the old ones. On any error the old configuration stays.
    pub fn reload(&self) -> Result<(), GatewayError> {
        let shared = &self.0;
        let result = (|| {
            let path = shared
                .config_path
                .as_ref()
                .ok_or_else(|| GatewayError::Config("no configuration file to reload".into()))?;
            let config = Config::read(path)?;
            let view = shared.fresh.as_ref().map(|f| &f.view);
            let gate = Gate::build(&config, &shared.stores, &shared.chains, view)?;
            match shared.gate.write() {
                Ok(mut g) => *g = Arc::new(gate),
                Err(poisoned) => *poisoned.into_inner() = Arc::new(gate),
            }
            Ok(())
        })();
        shared.metrics.reload(result.is_ok());
        match &result {
            Ok(()) => tracing::info!(event = "reloaded"),
            Err(e) => tracing::error!(event = "reload_failed", error = %e),
        }
        result
    }
}

fn full(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).map_err(|n| match n {}).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}

/// The operations endpoints, answered before any routing: `/healthz`, `/readyz`,
/// `/metrics` (GET only).
fn operations(shared: &Shared, method: &Method, path: &str) -> Option<Response<Body>> {
    if method != Method::GET {
        return None;
    }
    let view = shared.fresh.as_ref();
    match path {
        "/healthz" => Some(full(200, "text/plain", "ok\n")),
        "/readyz" => {
            let fresh = view.is_none_or(|f| f.view.is_fresh(f.max_age));
            let block = view.map(|f| f.view.block());
            // A stopped receipt log refuses every decision when receipts are required.
            let receipts = shared
                .receipts
                .as_ref()
                .map(|r| (r.stopped(), r.required()));
            let logging = receipts.is_none_or(|(stopped, required)| !(stopped && required));
            let ready = fresh && logging;
            let body = serde_json::json!({
                "ready": ready,
                "registryBlock": block,
                "receiptLogStopped": receipts.map(|(stopped, _)| stopped),
            })
            .to_string();
            Some(full(
                if ready { 200 } else { 503 },
                "application/json",
                body,
            ))
        }
        "/metrics" => {
            let v = view.map(|f| {
                let age = f.view.age().map_or(f64::INFINITY, |a| a.as_secs_f64());
                (f.view.block(), age)
            });
            Some(full(
                200,
                "text/plain; version=0.0.4",
                shared.metrics.render(v),
            ))
        }
        _ => None,
    }
}

fn refusal_response(outcome: &Outcome) -> Response<Body> {
    let status = outcome.status();
    let mut r = full(
        status,
        "application/problem+json",
        outcome.problem_details().to_string(),
    );
    if status == 401 {
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Signature tag=\"web-bot-auth\""),
        );
    }
    if status == 503 {
        r.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    r
}

async fn handle(shared: &Shared, req: http::Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    if let Some(r) = operations(shared, req.method(), req.uri().path()) {
        return r;
    }
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let max = shared.config.limits.max_body_bytes;
    let (body, view) = match kya_verify::middleware::read_body(body, max).await {
        Ok(b) => {
            let view = match shared.config.mode {
                Mode::Auth => proxy::original_request(&parts, &b, &shared.config.auth),
                _ => kya_verify::middleware::request_view(&parts, &b),
            };
            (b, view)
        }
        Err(error) => (Bytes::new(), Err(error)),
    };
    let gate = match shared.gate.read() {
        Ok(g) => Arc::clone(&g),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    };
    let (mut outcome, admitted, mut pay) = match &view {
        // Behind another proxy the gateway cannot remove what the client sent, so a request
        // that carries an identity header is refused rather than passed on beside ours.
        Ok(_) if shared.upstream.is_none() && forges_identity(&parts.headers) => (
            Outcome::Problem(crate::decide::Problem {
                status: 403,
                code: "header_invalid",
                message:
                    "identity headers (kya-verified-*) are set by the gateway, never by a client"
                        .into(),
            }),
            None,
            PayState::default(),
        ),
        Ok(view) => decide(&gate, shared.fresh.as_ref(), view),
        Err(e) => (
            Outcome::Refused(Refusal::NotVerified(e.clone())),
            None,
            PayState::default(),
        ),
    };
    let (admitted, settlement) = settle(shared, &gate, &mut outcome, admitted, &mut pay).await;
    let settled = settlement.is_some();
    let (method, path) = view.as_ref().map_or_else(
        |_| (parts.method.to_string(), parts.uri.path().to_owned()),
        |v| (v.method.clone(), v.path.clone()),
    );
    let receipt = match receipt(shared, &parts, view, &outcome, admitted, settlement).await {
        Ok(r) => r,
        // The payment moved: the request it paid for is served, and its transaction on chain
        // is its record (the failure is logged and counted). `settle` refuses before any
        // money moves once the log is known to have stopped.
        Err(_) if settled => None,
        Err(unavailable) => {
            outcome = Outcome::Problem(unavailable);
            None
        }
    };
    let index = receipt.as_ref().map(|r| r.receipt().activity.log.index);
    log_decision(shared, &outcome, &method, &path, peer, started, index);
    let mut response = answer(shared, parts, body, &outcome, &pay).await;
    payment_headers(response.headers_mut(), &pay);
    if let Some(r) = &receipt {
        // base64url is always a valid header value.
        if let Ok(v) = http::HeaderValue::from_str(&crate::receipts::header_value(r)) {
            response.headers_mut().insert(kya_audit::RECEIPT_HEADER, v);
        }
    }
    response
}

/// The answer to a decided request: the refusal, the auth mode's 200 with the identity
/// headers, or the upstream's response.
async fn answer(
    shared: &Shared,
    parts: http::request::Parts,
    body: Bytes,
    outcome: &Outcome,
    pay: &PayState,
) -> Response<Body> {
    let Outcome::Allowed(identity) = outcome else {
        if let (402, Some(json)) = (outcome.status(), &pay.required_json) {
            // x402: the requirements, as in `PAYMENT-REQUIRED`, are the 402's body.
            return full(402, "application/json", json.clone());
        }
        return refusal_response(outcome);
    };
    match &shared.upstream {
        None => {
            let mut r = full(200, "text/plain", "");
            if proxy::set_identity(r.headers_mut(), identity).is_none() {
                return full(
                    500,
                    "application/problem+json",
                    problem_json(500, "bad_request", "an identity header cannot be written")
                        .to_string(),
                );
            }
            r
        }
        Some((base, client)) => forward(base, client, parts, body, identity).await,
    }
}

/// Signs and logs the receipt of a decision, when receipts are configured. `Err` (only when
/// receipts are required) is the 503 to answer instead: nothing goes on unrecorded. The
/// gateway's own 503 for a stale registry view decides nothing and gets no receipt.
async fn receipt(
    shared: &Shared,
    parts: &http::request::Parts,
    view: Result<HttpRequest, kya_verify::http::HttpError>,
    outcome: &Outcome,
    admitted: Option<Admitted>,
    settlement: Option<SettlementRecord>,
) -> Result<Option<SignedReceipt>, crate::decide::Problem> {
    let Some(receipts) = &shared.receipts else {
        return Ok(None);
    };
    let decided = match (outcome, admitted, settlement) {
        (Outcome::Allowed(_), Some(a), Some(s)) => Decided::Paid(Box::new(a), s),
        (Outcome::Allowed(_), Some(a), None) => Decided::Verifier(Box::new(Ok(a))),
        (Outcome::Refused(r), _, _) => Decided::Verifier(Box::new(Err(r.clone()))),
        (Outcome::Problem(p), _, _) if p.status != 503 => Decided::Gateway(p.status, p.code),
        _ => return Ok(None),
    };
    // A request that could not be read is recorded as far as it was seen.
    let request = view.unwrap_or_else(|_| {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        HttpRequest::new(parts.method.as_str(), host, target)
    });
    match receipts.record(request, decided).await {
        Ok(r) => {
            shared.metrics.receipt(true);
            Ok(Some(r))
        }
        Err(e) => {
            shared.metrics.receipt(false);
            tracing::error!(event = "receipt_failed", error = %e);
            if !receipts.required() {
                return Ok(None);
            }
            Err(crate::decide::Problem {
                status: 503,
                code: "receipt_unavailable",
                message: "the decision cannot be recorded in the receipt log; retry later".into(),
            })
        }
    }
}

/// Settles the payment of an allowed request on an x402 route, before anything goes on. A
/// failed settlement turns the outcome into a 402 refusal (nothing is forwarded); a settled
/// one adds its transaction to the identity headers and the receipt. With required receipts
/// and a receipt log that has stopped, nothing is settled (503, the budget given back).
async fn settle(
    shared: &Shared,
    gate: &Gate,
    outcome: &mut Outcome,
    admitted: Option<Admitted>,
    pay: &mut PayState,
) -> (Option<Admitted>, Option<SettlementRecord>) {
    let Some(checked) = pay.checked.take() else {
        return (admitted, None);
    };
    let Outcome::Allowed(identity) = outcome else {
        return (admitted, None);
    };
    if shared
        .receipts
        .as_ref()
        .is_some_and(|r| r.required() && r.stopped())
    {
        // A sale that cannot be recorded is not made: nothing is sent for settlement.
        if let Err(error) = checked.not_settled(gate.verifier()) {
            tracing::warn!(event = "budget_refund_failed", %error);
        }
        *outcome = Outcome::Problem(crate::decide::Problem {
            status: 503,
            code: "receipt_unavailable",
            message:
                "the sale cannot be recorded in the receipt log; nothing was charged, retry later"
                    .into(),
        });
        return (None, None);
    }
    let Some(settler) = &shared.settler else {
        *outcome = Outcome::Problem(crate::decide::Problem {
            status: 500,
            code: "x402_not_configured",
            message: "the route takes x402 payments but no [x402] facilitator is configured".into(),
        });
        return (None, None);
    };
    match settler.settle(&checked).await {
        Ok(response) => {
            shared.metrics.settlement(true);
            identity.paid(response.transaction.clone());
            pay.response = Some(response.to_header());
            tracing::info!(event = "settled", transaction = %response.transaction, network = %response.network);
            let record = SettlementRecord {
                network: response.network,
                transaction: response.transaction,
                payer: response.payer.unwrap_or_default(),
            };
            (admitted, Some(record))
        }
        Err((e, response)) => {
            shared.metrics.settlement(false);
            tracing::warn!(event = "settlement_failed", error = %e);
            match checked.settlement_failed(&e, gate.verifier()) {
                Ok(true) => tracing::info!(event = "budget_refunded"),
                Ok(false) => {}
                // The budget stays charged (fail closed); the request is refused either way.
                Err(error) => tracing::warn!(event = "budget_refund_failed", %error),
            }
            pay.response = Some(response.to_header());
            *outcome = Outcome::Problem(crate::decide::Problem {
                status: e.settle_status(),
                code: e.settle_code(),
                message: e.settle_message(),
            });
            (None, None)
        }
    }
}

/// `PAYMENT-REQUIRED` and `PAYMENT-RESPONSE`, when the request's route takes payments.
fn payment_headers(headers: &mut http::HeaderMap, pay: &PayState) {
    let pairs = [
        (kya_x402::PAYMENT_REQUIRED, &pay.required),
        (kya_x402::PAYMENT_RESPONSE, &pay.response),
    ];
    for (name, value) in pairs {
        // base64 is always a valid header value.
        if let Some(v) = value
            .as_deref()
            .and_then(|v| http::HeaderValue::from_str(v).ok())
        {
            headers.insert(name, v);
        }
    }
}

fn forges_identity(headers: &http::HeaderMap) -> bool {
    headers.keys().any(|n| {
        n.as_str()
            .to_ascii_lowercase()
            .starts_with(crate::decide::IDENTITY_PREFIX)
    })
}

async fn forward(
    base: &str,
    client: &Client<HttpConnector, Full<Bytes>>,
    parts: http::request::Parts,
    body: Bytes,
    identity: &crate::decide::Identity,
) -> Response<Body> {
    let unavailable = |why: String| {
        full(
            502,
            "application/problem+json",
            problem_json(502, "upstream_unavailable", &why).to_string(),
        )
    };
    let Some(request) = proxy::upstream_request(base, parts, body, identity) else {
        return unavailable("the request cannot be forwarded as received".to_owned());
    };
    match client.request(request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            proxy::strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, body.boxed())
        }
        Err(e) => {
            tracing::warn!(event = "upstream_failed", error = %e);
            unavailable(format!("the upstream {base} did not answer"))
        }
    }
}

fn log_decision(
    shared: &Shared,
    outcome: &Outcome,
    method: impl std::fmt::Display,
    path: &str,
    peer: SocketAddr,
    started: Instant,
    receipt: Option<u64>,
) {
    let took = started.elapsed();
    let codes = outcome.codes();
    shared.metrics.decision(outcome.label(), &codes, took);
    if codes.iter().any(|c| c == "store_unavailable") {
        shared.metrics.store_error();
    }
    let reasons: Vec<String> = crate::decide::reasons(outcome)
        .into_iter()
        .map(|r| r.message)
        .collect();
    let who = match outcome {
        Outcome::Allowed(id) => id
            .headers()
            .iter()
            .filter(|(n, _)| *n == crate::decide::H_AGENT || *n == crate::decide::H_PRINCIPAL)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(" for "),
        Outcome::Refused(Refusal::Denied { agent, .. }) => {
            format!("{} for {}", agent.agent(), agent.principal())
        }
        _ => String::new(),
    };
    tracing::info!(
        event = "decision",
        outcome = outcome.label(),
        status = outcome.status(),
        codes = codes.join(","),
        reasons = reasons.join("; "),
        agent = who,
        method = %method,
        path = path.chars().take(200).collect::<String>(),
        peer = %peer,
        receipt,
        micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
    );
}
