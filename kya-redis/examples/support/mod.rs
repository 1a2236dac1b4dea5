//! The fleet's fixtures, shared by the fleet merchant, the fleet driver and the tests:
//! principals, each with its agent and sub-agents sharing the agent's budget, the merchant's
//! policy, and signed requests sent over HTTP to any instance.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kya_core::credential::{AgentAuthorization, AgentDelegation};
use kya_core::grant::{Amount, Asset, Grant, Money};
use kya_core::{CredentialDigest, Did, DidKey, SecretKey, Timestamp};
use kya_verify::http::{HttpRequest, RequestSigner, SignOptions};
use kya_verify::policy::Policy;
use serde_json::Value;

/// The audience agents are authorised for.
pub const AUDIENCE: &str = "did:web:shop.example";
/// The authority every instance of the fleet answers for (agents sign for it).
pub const AUTHORITY: &str = "shop.example";

/// The principals the merchant trusts: a merchant's requests come from many principals, and
/// on a Redis Cluster each principal's state is its own slot (the load spreads).
pub const PRINCIPALS: u8 = 8;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A fixture key: `role` (1 principal, 2 agent, 3 sub-agent), principal `k`, index `i`.
fn key(role: u8, k: u8, i: u8) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..3].copy_from_slice(&[role, k, i]);
    SecretKey::from_seed(&seed)
}

/// Principal `k`.
pub fn principal(k: u8) -> SecretKey {
    key(1, k, 0)
}

/// Principal `k`'s DID (the root principal of its chains: its ledger counters' principal).
pub fn principal_did(k: u8) -> Did {
    Did::Key(DidKey::from_public_key(principal(k).public_key()))
}

/// Principal `k`'s agent.
pub fn agent(k: u8) -> SecretKey {
    key(2, k, 0)
}

/// Sub-agent `i` of principal `k`'s agent.
pub fn sub_agent(k: u8, i: u8) -> SecretKey {
    key(3, k, i)
}

/// Trusts principals `0..PRINCIPALS`.
pub fn policy() -> Policy {
    (0..PRINCIPALS)
        .fold(Policy::builder(), |b, k| b.trust_root(principal_did(k)))
        .audience(AUDIENCE)
        .build()
}

/// `action` up to 100 USD a request at the fleet's audience, within `budget` USD a day.
fn grant(action: &str, budget: &str) -> Result<Grant, String> {
    serde_json::from_value(serde_json::json!({
        "action": action, "maxAmount": {"value": "100", "asset": "USD"},
        "audience": [AUDIENCE],
        "budget": {"value": budget, "asset": "USD", "periodSeconds": 86_400}
    }))
    .map_err(|e| e.to_string())
}

/// Principal `k` → its agent (payments, at most 100 USD a request, `budget` USD a day),
/// agent → sub-agent `i` (payments/send, the same budget), for `i` in `0..n`: every
/// sub-agent's request charges the agent's budget, shared by all of them, and its own. The
/// chains, the root's digest and each leaf's (the ledger's counters are named by them).
pub fn chains(
    k: u8,
    n: u8,
    budget: &str,
) -> Result<(Vec<Value>, CredentialDigest, Vec<CredentialDigest>), String> {
    let e = |e: kya_core::credential::CredentialError| e.to_string();
    let start = Timestamp::now().add_seconds(-120);
    let root = AgentAuthorization::builder(
        principal_did(k),
        DidKey::from_public_key(agent(k).public_key()),
    )
    .valid_from(start)
    .valid_until(start.add_seconds(86_400))
    .grant(grant("payments", budget)?)
    .sign(&principal(k), start)
    .map_err(e)?;
    let (mut chains, mut leaves) = (Vec::new(), Vec::new());
    for i in 0..n {
        let leaf =
            AgentDelegation::builder(&root, DidKey::from_public_key(sub_agent(k, i).public_key()))
                .map_err(e)?
                .grant(grant("payments/send", budget)?)
                .sign(&agent(k), start)
                .map_err(e)?;
        chains.push(Value::Array(vec![
            root.document().clone(),
            leaf.document().clone(),
        ]));
        leaves.push(leaf.digest());
    }
    Ok((chains, root.digest(), leaves))
}

/// The chain of principal 0's sub-agent 0 (see [`chains`]).
pub fn chain(budget: &str) -> Result<Value, String> {
    let (mut chains, _, _) = chains(0, 1, budget)?;
    chains.pop().ok_or_else(|| "no chain".to_owned())
}

/// `POST /pay` of `amount` USD by principal `k`'s sub-agent `i`, signed for the fleet's
/// authority.
pub fn signed_pay(
    k: u8,
    i: u8,
    chain: &Value,
    amount: &str,
    nonce: &str,
) -> Result<HttpRequest, String> {
    let (_, mut request) = HttpRequest::from_url("POST", &format!("http://{AUTHORITY}/pay"))
        .map_err(|e| e.to_string())?;
    request.body = br#"{"order":1}"#.to_vec();
    let money = Money::new(
        Amount::parse(amount).map_err(|e| e.to_string())?,
        Asset::parse("USD").map_err(|e| e.to_string())?,
    );
    let now = Timestamp::now();
    RequestSigner::new(&sub_agent(k, i), chain)
        .map_err(|e| e.to_string())?
        .sign(
            &mut request,
            &SignOptions {
                action: None,
                amount: Some(&money),
                created: now,
                expires: now.add_seconds(120),
                nonce,
            },
        )
        .map_err(|e| e.to_string())?;
    Ok(request)
}

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http()
}

/// Sends `request` to the instance at `addr` (`127.0.0.1:port`), the `Host` being the
/// fleet's authority: the status, the `Retry-After` header and the body.
pub async fn send(
    client: &HttpClient,
    addr: &str,
    request: &HttpRequest,
) -> Result<(u16, Option<String>, Value), String> {
    let mut builder = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(format!("http://{addr}{}", request.path));
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder
        .header("host", AUTHORITY)
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .map_err(|_| "the merchant did not answer within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        retry_after,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    ))
}

/// The first reason code of a problem body.
pub fn code(problem: &Value) -> &str {
    problem["reasons"][0]["code"].as_str().unwrap_or("")
}
