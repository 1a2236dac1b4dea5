//! The example merchant, started on 127.0.0.1:0, answers real HTTP requests over loopback:
//! allowed, over the limit, wrong merchant, expired, replayed, tampered body, unknown
//! principal — each with its status and reason code.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/merchant.rs"]
mod merchant;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kya_core::credential::AgentAuthorization;
use kya_core::grant::{Action, Amount, Asset, Grant, Money};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_verify::http::{ChainTransport, HttpRequest, RequestSigner, SignOptions};
use kya_verify::policy::Policy;
use serde_json::Value;

const MERCHANT: &str = "did:web:shop.example";

struct Shop {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    principal: SecretKey,
    agent: SecretKey,
}

fn usd(v: &str) -> Money {
    Money::new(Amount::parse(v).unwrap(), Asset::parse("USD").unwrap())
}

/// A chain of one: `principal` authorises `agent` to make payments up to 100 USD, at
/// `audience` only.
fn chain(principal: &SecretKey, agent: &SecretKey, audience: &str) -> Value {
    let grant = Grant::builder(Action::parse("payments").unwrap())
        .max_amount(Amount::parse("100").unwrap(), Asset::parse("USD").unwrap())
        .audience([audience])
        .build()
        .unwrap();
    let catalog = Grant::builder(Action::parse("catalog/read").unwrap())
        .build()
        .unwrap();
    let start = Timestamp::now().add_seconds(-120);
    let credential = AgentAuthorization::builder(
        Did::Key(DidKey::from_public_key(principal.public_key())),
        DidKey::from_public_key(agent.public_key()),
    )
    .valid_from(start)
    .valid_until(start.add_seconds(3600))
    .grant(grant)
    .grant(catalog)
    .sign(principal, start)
    .unwrap();
    Value::Array(vec![credential.document().clone()])
}

async fn start() -> Shop {
    let principal = SecretKey::generate();
    let policy = Policy::builder()
        .trust_root(Did::Key(DidKey::from_public_key(principal.public_key())))
        .audience(MERCHANT)
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = Arc::new(merchant::gate(policy, "http", &addr.to_string()).unwrap());
    tokio::spawn(merchant::serve(listener, gate));
    Shop {
        base: format!("http://{addr}"),
        client: Client::builder(TokioExecutor::new()).build_http(),
        principal,
        agent: SecretKey::generate(),
    }
}

struct Signed {
    method: String,
    url: String,
    request: HttpRequest,
}

impl Shop {
    /// A POST /pay signed by `agent` with `chain`, created `age` seconds ago, valid 60 s.
    fn pay(&self, agent: &SecretKey, chain: &Value, amount: &str, age: i64) -> Signed {
        self.sign(
            agent,
            chain,
            "POST",
            "/pay",
            br#"{"order":42}"#,
            Some(usd(amount)),
            age,
            ChainTransport::Auto,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn sign(
        &self,
        agent: &SecretKey,
        chain: &Value,
        method: &str,
        path: &str,
        body: &[u8],
        amount: Option<Money>,
        age: i64,
        transport: ChainTransport,
    ) -> Signed {
        let url = format!("{}{path}", self.base);
        let (_, mut request) = HttpRequest::from_url(method, &url).unwrap();
        request.body = body.to_vec();
        let created = Timestamp::now().add_seconds(-age);
        RequestSigner::new(agent, chain)
            .unwrap()
            .transport(transport)
            .sign(
                &mut request,
                &SignOptions {
                    action: None,
                    amount: amount.as_ref(),
                    created,
                    expires: created.add_seconds(60),
                    nonce: &RequestSigner::random_nonce(),
                },
            )
            .unwrap();
        Signed {
            method: method.to_owned(),
            url,
            request,
        }
    }

    async fn send(&self, signed: &Signed) -> (u16, Value) {
        let mut builder = hyper::Request::builder()
            .method(signed.method.as_str())
            .uri(signed.url.as_str());
        for (name, value) in &signed.request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::from(signed.request.body.clone())))
            .unwrap();
        self.raw(request).await
    }

    async fn raw(&self, request: hyper::Request<Full<Bytes>>) -> (u16, Value) {
        let response = tokio::time::timeout(Duration::from_secs(10), self.client.request(request))
            .await
            .expect("timed out")
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if status >= 400 {
            assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        }
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

fn codes(problem: &Value) -> Vec<String> {
    problem["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| x["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_problem(result: &(u16, Value), status: u16, code: &str) {
    let (got, problem) = result;
    assert_eq!(*got, status, "{problem:#}");
    assert_eq!(problem["status"], status, "{problem:#}");
    assert!(
        problem["type"].as_str().unwrap().starts_with("https://"),
        "{problem:#}"
    );
    assert!(
        problem["title"].is_string() && problem["detail"].is_string(),
        "{problem:#}"
    );
    assert!(
        codes(problem).contains(&code.to_owned()),
        "expected {code}: {problem:#}"
    );
}

#[tokio::test]
async fn allowed() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    let (status, body) = shop.send(&shop.pay(&shop.agent, &chain, "12.50", 0)).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["paid"], "12.50 USD");
    assert_eq!(
        body["agent"],
        DidKey::from_public_key(shop.agent.public_key()).to_string()
    );
    // A GET with an empty body and no amount.
    let signed = shop.sign(
        &shop.agent,
        &chain,
        "GET",
        "/catalog",
        b"",
        None,
        0,
        ChainTransport::Auto,
    );
    let (status, body) = shop.send(&signed).await;
    assert_eq!(status, 200, "{body:#}");
}

#[tokio::test]
async fn over_the_limit() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    let result = shop.send(&shop.pay(&shop.agent, &chain, "150", 0)).await;
    assert_problem(&result, 403, "amount_exceeds_ceiling");
    assert_eq!(result.1["reasons"][0]["link"], 0);
}

#[tokio::test]
async fn wrong_merchant() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, "did:web:other.example");
    let result = shop.send(&shop.pay(&shop.agent, &chain, "12.50", 0)).await;
    assert_problem(&result, 403, "audience_not_allowed");
}

#[tokio::test]
async fn expired() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    // Created 10 minutes ago, valid 60 s: long expired, beyond the 60 s skew.
    let result = shop
        .send(&shop.pay(&shop.agent, &chain, "12.50", 600))
        .await;
    assert_problem(&result, 401, "signature_expired");
}

#[tokio::test]
async fn replayed() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    let signed = shop.pay(&shop.agent, &chain, "12.50", 0);
    assert_eq!(shop.send(&signed).await.0, 200);
    let result = shop.send(&signed).await;
    assert_problem(&result, 401, "nonce_replayed");
}

#[tokio::test]
async fn tampered_body() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    let mut signed = shop.pay(&shop.agent, &chain, "12.50", 0);
    signed.request.body = br#"{"order":43}"#.to_vec();
    let result = shop.send(&signed).await;
    assert_problem(&result, 401, "content_digest_mismatch");
}

#[tokio::test]
async fn tampered_amount_header() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    let mut signed = shop.pay(&shop.agent, &chain, "150", 0);
    for (name, value) in &mut signed.request.headers {
        if name.eq_ignore_ascii_case("kya-amount") {
            *value = "15.00 USD".to_owned();
        }
    }
    let result = shop.send(&signed).await;
    assert_problem(&result, 401, "signature_invalid");
}

#[tokio::test]
async fn unknown_principal() {
    let shop = start().await;
    let stranger = SecretKey::generate();
    let chain = chain(&stranger, &shop.agent, MERCHANT);
    let result = shop.send(&shop.pay(&shop.agent, &chain, "12.50", 0)).await;
    assert_problem(&result, 401, "untrusted_root");
    assert_eq!(result.1["reasons"][0]["link"], 0);
}

#[tokio::test]
async fn stolen_chain_without_the_agent_key() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    let thief = SecretKey::generate();
    let result = shop.send(&shop.pay(&thief, &chain, "12.50", 0)).await;
    assert_problem(&result, 401, "signature_keyid_mismatch");
}

#[tokio::test]
async fn unsigned() {
    let shop = start().await;
    let request = hyper::Request::builder()
        .method("POST")
        .uri(format!("{}/pay", shop.base))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let result = shop.raw(request).await;
    assert_problem(&result, 401, "signature_missing");
}

#[tokio::test]
async fn chain_by_digest_after_registration() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    // Unknown digest first: the merchant asks for the chain.
    let by_digest = shop.sign(
        &shop.agent,
        &chain,
        "POST",
        "/pay",
        b"{}",
        Some(usd("1")),
        0,
        ChainTransport::Digest,
    );
    assert_problem(&shop.send(&by_digest).await, 401, "chain_unknown_digest");
    // An unsigned registration stores nothing (anyone could fill the store).
    let signer = RequestSigner::new(&shop.agent, &chain).unwrap();
    let unsigned = hyper::Request::builder()
        .method("POST")
        .uri(format!("{}/kya/chains", shop.base))
        .body(Full::new(Bytes::from(signer.chain_bytes().to_vec())))
        .unwrap();
    assert_problem(&shop.raw(unsigned).await, 401, "signature_missing");
    // A registration signed by another key than the chain's agent stores nothing either.
    let thief = SecretKey::generate();
    let by_thief = shop.sign(
        &thief,
        &chain,
        "POST",
        "/kya/chains",
        b"",
        None,
        0,
        ChainTransport::Body,
    );
    assert_problem(&shop.send(&by_thief).await, 401, "signature_keyid_mismatch");
    // Registered by its own agent, then named by digest.
    let register = shop.sign(
        &shop.agent,
        &chain,
        "POST",
        "/kya/chains",
        b"",
        None,
        0,
        ChainTransport::Body,
    );
    let (status, body) = shop.send(&register).await;
    assert_eq!(status, 201, "{body:#}");
    let digest: kya_verify::ChainDigest = body["chainDigest"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        kya_verify::http::ChainRef::encode_digest(&digest.0),
        signer.chain_digest_header()
    );
    let by_digest = shop.sign(
        &shop.agent,
        &chain,
        "POST",
        "/pay",
        b"{}",
        Some(usd("1")),
        0,
        ChainTransport::Digest,
    );
    let (status, body) = shop.send(&by_digest).await;
    assert_eq!(status, 200, "{body:#}");
}

#[tokio::test]
async fn a_request_signed_for_another_merchant_is_refused_here() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    // Signed for merchant A (`a.example`), delivered to this merchant with `Host: a.example`:
    // the signature is good, the chain is trusted here, but the request is not for us.
    let (_, mut request) = HttpRequest::from_url("POST", "http://a.example/pay").unwrap();
    request.body = br#"{"order":42}"#.to_vec();
    let created = Timestamp::now();
    RequestSigner::new(&shop.agent, &chain)
        .unwrap()
        .sign(
            &mut request,
            &SignOptions {
                action: None,
                amount: Some(&usd("12.50")),
                created,
                expires: created.add_seconds(60),
                nonce: &RequestSigner::random_nonce(),
            },
        )
        .unwrap();
    let mut builder = hyper::Request::builder()
        .method("POST")
        .uri(format!("{}/pay", shop.base));
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let forwarded = builder
        .header("host", "a.example")
        .body(Full::new(Bytes::from(request.body.clone())))
        .unwrap();
    assert_problem(&shop.raw(forwarded).await, 401, "authority_mismatch");
}

#[tokio::test]
async fn dot_segments_and_encoded_dots_are_refused_before_routing() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    for path in [
        "/pay/..%2fcatalog",
        "/pay/%2E%2E/admin",
        "/pay/%2e",
        "/%70ay",
    ] {
        let signed = shop.sign(
            &shop.agent,
            &chain,
            "POST",
            path,
            b"{}",
            Some(usd("1")),
            0,
            ChainTransport::Auto,
        );
        assert_problem(&shop.send(&signed).await, 400, "path_not_normalized");
    }
}

#[tokio::test]
async fn the_example_merchant_meters_budgets() {
    let shop = start().await;
    let grant = Grant::builder(Action::parse("payments").unwrap())
        .max_amount(Amount::parse("100").unwrap(), Asset::parse("USD").unwrap())
        .budget(
            Amount::parse("20").unwrap(),
            Asset::parse("USD").unwrap(),
            kya_core::grant::Period::days(1),
        )
        .audience([MERCHANT])
        .build()
        .unwrap();
    let start = Timestamp::now().add_seconds(-120);
    let credential = AgentAuthorization::builder(
        Did::Key(DidKey::from_public_key(shop.principal.public_key())),
        DidKey::from_public_key(shop.agent.public_key()),
    )
    .valid_from(start)
    .valid_until(start.add_seconds(3600))
    .grant(grant)
    .sign(&shop.principal, start)
    .unwrap();
    let chain = Value::Array(vec![credential.document().clone()]);
    let (status, body) = shop.send(&shop.pay(&shop.agent, &chain, "12.50", 0)).await;
    assert_eq!(status, 200, "{body:#}");
    let result = shop.send(&shop.pay(&shop.agent, &chain, "12.50", 0)).await;
    assert_problem(&result, 403, "budget_exhausted");
}

/// A header the gate judges (`kya-*`, the signature headers, `Content-Digest`) that is not
/// visible ASCII is refused, not dropped: the handler must not read a value the gate never
/// judged.
#[tokio::test]
async fn a_judged_header_the_gate_cannot_read_is_refused() {
    let shop = start().await;
    let chain = chain(&shop.principal, &shop.agent, MERCHANT);
    let signed = shop.pay(&shop.agent, &chain, "12.50", 0);
    let mut builder = hyper::Request::builder()
        .method(signed.method.as_str())
        .uri(signed.url.as_str());
    for (name, value) in &signed.request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder
        .header(
            "kya-amount",
            hyper::header::HeaderValue::from_bytes(b"1.00 \xe2\x82\xac").unwrap(),
        )
        .body(Full::new(Bytes::from(signed.request.body.clone())))
        .unwrap();
    assert_problem(&shop.raw(request).await, 400, "header_invalid");
}
