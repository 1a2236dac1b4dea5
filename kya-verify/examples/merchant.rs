//! An example merchant that lets only verified, authorised agents pay.
//!
//! ```text
//! cargo run -p kya-verify --features axum --example merchant -- POLICY.json [127.0.0.1:8080]
//! ```
//!
//! `POLICY.json` is a kya-verify policy (trusted principals, audience = this merchant, skew,
//! window, limits). Requests must be signed for this merchant's authority (`ADDR`, as the
//! agent reaches it). Budgets and rates are metered in memory (one instance; a fleet shares
//! nonces and a ledger on Redis: `kya-redis`'s `fleet_merchant` example runs this merchant
//! that way, with `--redis URL`). Routes:
//!
//! - `POST /pay` — action `payments/send`, amount from the signed `KYA-Amount` header;
//! - `GET /catalog` — action `catalog/read`;
//! - `POST /kya/chains` — a chain registration: the body is the agent's credential chain
//!   (JSON array) and the request is signed by that agent like any other; when it verifies,
//!   the merchant keeps the chain (within the agent's share) and answers
//!   `{"chainDigest": "u…"}`, so the agent can name it with `KYA-Chain-Digest` instead of
//!   sending it in every request (for chains too large for a header).
//!
//! Every guarded route is behind [`KyaLayer`]: 401 / 403 come back as RFC 9457 problem
//! details, and handlers read the verified agent with the [`KyaAdmitted`] extractor.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kya_core::grant::Action;
use kya_verify::http::{HttpError, HttpPolicy, KyaGate, Refusal, Route};
use kya_verify::middleware::{KyaAdmitted, KyaLayer, problem, request_view};
use kya_verify::policy::Policy;
use kya_verify::{MemoryLedger, Verifier};
use serde_json::json;
use tokio::net::TcpListener;

/// The merchant's authority, routes and the actions they perform.
pub fn http_policy(scheme: &str, authority: &str) -> Result<HttpPolicy, String> {
    let action = |a: &str| Action::parse(a).map_err(|e| e.to_string());
    Ok(HttpPolicy::default()
        .scheme(scheme)
        .authority(authority)
        .route(Route::new("/pay", action("payments/send")?).method("POST"))
        .route(Route::new("/catalog", action("catalog/read")?).method("GET")))
}

/// The merchant's application: guarded routes behind the kya layer, plus the chain
/// registration route.
pub fn app(gate: Arc<KyaGate>) -> Router {
    let guarded = Router::new()
        .route("/pay", post(pay))
        .route("/catalog", get(catalog))
        .layer(KyaLayer::shared(Arc::clone(&gate)));
    Router::new()
        .route("/kya/chains", post(register_chain))
        .with_state(gate)
        .merge(guarded)
}

/// Serves the merchant on a bound listener until the task is dropped.
pub async fn serve(listener: TcpListener, gate: Arc<KyaGate>) -> std::io::Result<()> {
    axum::serve(listener, app(gate)).await
}

async fn pay(admitted: KyaAdmitted) -> Json<serde_json::Value> {
    let a = admitted.admitted();
    Json(json!({
        "paid": a.signature.amount.as_ref().map(ToString::to_string),
        "agent": a.agent.agent().to_string(),
        "principal": a.agent.principal().to_string(),
        "allowedBy": a.decision.links().last().and_then(|l| l.allowed_by),
    }))
}

async fn catalog(admitted: KyaAdmitted) -> Json<serde_json::Value> {
    Json(json!({
        "items": ["book", "pen"],
        "agent": admitted.agent().agent().to_string(),
    }))
}

async fn register_chain(State(gate): State<Arc<KyaGate>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let max = gate.http().policy().max_chain_bytes;
    let Ok(body) = axum::body::to_bytes(body, max).await else {
        return problem::<axum::body::Body>(&Refusal::NotVerified(HttpError::ChainTooLarge {
            max_bytes: max,
        }));
    };
    let registered = request_view(&parts, &body).and_then(|view| gate.register_chain(&view));
    match registered {
        Ok((agent, digest)) => (
            StatusCode::CREATED,
            Json(json!({"chainDigest": digest, "agent": agent.agent().to_string()})),
        )
            .into_response(),
        Err(e) => problem::<axum::body::Body>(&Refusal::NotVerified(e)),
    }
}

/// The merchant's gate: the policy, an in-memory ledger for budgets and rates, and the
/// authority agents sign for.
pub fn gate(policy: Policy, scheme: &str, authority: &str) -> Result<KyaGate, String> {
    let verifier = Verifier::new(policy).with_ledger(Arc::new(MemoryLedger::default()));
    Ok(KyaGate::new(
        Arc::new(verifier),
        http_policy(scheme, authority)?,
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(policy_file) = args.next() else {
        eprintln!("usage: merchant POLICY.json [ADDR]");
        std::process::exit(2);
    };
    let addr: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:8080").parse()?;
    let policy = Policy::from_json(&std::fs::read(&policy_file)?)?;
    let listener = TcpListener::bind(addr).await?;
    let gate = Arc::new(gate(policy, "http", &listener.local_addr()?.to_string())?);
    println!("merchant listening on http://{}", listener.local_addr()?);
    serve(listener, gate).await?;
    Ok(())
}
