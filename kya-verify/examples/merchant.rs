//! An example merchant that lets only verified, authorised agents pay.
//!
//! ```text
//! cargo run -p kya-verify --features axum --example merchant -- POLICY.json [127.0.0.1:8080]
//! ```
//!
//! `POLICY.json` is a kya-verify policy (trusted principals, audience = this merchant, skew,
//! window, limits). Routes:
//!
//! - `POST /pay` — action `payments/send`, amount from the signed `KYA-Amount` header;
//! - `GET /catalog` — action `catalog/read`;
//! - `POST /kya/chains` — not guarded: the body is a credential chain (JSON array); when it
//!   verifies, the merchant keeps it and answers `{"chainDigest": "sha-256=:…:"}`, so the
//!   agent can name it with `KYA-Chain-Digest` instead of sending it in every request (for
//!   chains too large for a header).
//!
//! Every guarded route is behind [`KyaLayer`]: 401 / 403 come back as RFC 9457 problem
//! details, and handlers read the verified agent with the [`KyaAdmitted`] extractor.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kya_core::grant::Action;
use kya_verify::http::{HttpPolicy, KyaGate, Refusal, Route};
use kya_verify::middleware::{KyaAdmitted, KyaLayer, problem};
use kya_verify::policy::Policy;
use serde_json::json;
use tokio::net::TcpListener;

/// The merchant's routes and the actions they perform.
pub fn http_policy(scheme: &str) -> Result<HttpPolicy, String> {
    let action = |a: &str| Action::parse(a).map_err(|e| e.to_string());
    Ok(HttpPolicy::default()
        .scheme(scheme)
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

async fn register_chain(State(gate): State<Arc<KyaGate>>, body: Bytes) -> Response {
    match gate.register_chain(&body) {
        Ok((agent, digest)) => (
            StatusCode::CREATED,
            Json(json!({"chainDigest": digest, "agent": agent.agent().to_string()})),
        )
            .into_response(),
        Err(e) => problem::<axum::body::Body>(&Refusal::NotVerified(e)),
    }
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
    let gate = Arc::new(KyaGate::new(policy, http_policy("http")?));
    let listener = TcpListener::bind(addr).await?;
    println!("merchant listening on http://{}", listener.local_addr()?);
    serve(listener, gate).await?;
    Ok(())
}
