//! The cost of the gateway, measured side by side in one run: requests per second and p99
//! latency straight to an upstream, then through `kya serve` in proxy mode in front of it
//! (cached chain, a fresh nonce per request, every request verified and decided).
//!
//! ```text
//! cargo xtask gateway-bench [--requests N]
//! cargo run --release -p kya-gateway --example gateway_bench -- [--requests N]
//! ```
//!
//! Prints `RATIO gateway_vs_direct_throughput <x>` and `TIME gateway_added_p99_us <µs>` (16
//! clients at a time), then `TIME gateway_added_p99_us_one_at_a_time <µs>` (one client).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kya_core::credential::AgentAuthorization;
use kya_core::grant::{Action, Amount, Asset, Grant, Money};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_gateway::{Config, Gateway, Stores};
use kya_verify::http::{HttpRequest, RequestSigner, SignOptions};
use serde_json::Value;

const CONCURRENCY: usize = 16;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn chain(principal: &SecretKey, agent: &SecretKey) -> Value {
    let grant = Grant::builder(Action::parse("payments").unwrap())
        .max_amount(Amount::parse("100").unwrap(), Asset::parse("USD").unwrap())
        .build()
        .unwrap();
    let start = Timestamp::now().add_seconds(-60);
    let credential = AgentAuthorization::builder(
        Did::Key(DidKey::from_public_key(principal.public_key())),
        DidKey::from_public_key(agent.public_key()),
    )
    .valid_from(start)
    .valid_until(start.add_seconds(3600))
    .grant(grant)
    .sign(principal, start)
    .unwrap();
    Value::Array(vec![credential.document().clone()])
}

/// `n` requests, each with its own nonce, as header lists.
fn signed(agent: &SecretKey, chain: &Value, n: usize) -> Vec<Vec<(String, String)>> {
    let signer = RequestSigner::new(agent, chain).unwrap();
    let amount = Money::new(Amount::parse("1.25").unwrap(), Asset::parse("USD").unwrap());
    (0..n)
        .map(|_| {
            let (_, mut r) = HttpRequest::from_url("POST", "http://shop.example/pay").unwrap();
            let now = Timestamp::now();
            signer
                .sign(
                    &mut r,
                    &SignOptions {
                        action: None,
                        amount: Some(&amount),
                        created: now,
                        expires: now.add_seconds(300),
                        nonce: &RequestSigner::random_nonce(),
                    },
                )
                .unwrap();
            r.headers
        })
        .collect()
}

async fn upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(b"ok"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Sends every request (`concurrency` at a time) to `addr`; requests per second and the
/// sorted latencies.
async fn run(
    client: &HttpClient,
    addr: &str,
    requests: &Arc<Vec<Vec<(String, String)>>>,
    concurrency: usize,
) -> (f64, Vec<Duration>) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, requests, addr) = (
            client.clone(),
            Arc::clone(&next),
            Arc::clone(requests),
            addr.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(headers) = requests.get(i) else {
                    return took;
                };
                let mut b = http::Request::builder()
                    .method("POST")
                    .uri(format!("http://{addr}/pay"))
                    .header("host", "shop.example");
                for (n, v) in headers {
                    b = b.header(n.as_str(), v.as_str());
                }
                let t = Instant::now();
                let response = client
                    .request(b.body(Full::new(Bytes::new())).unwrap())
                    .await
                    .unwrap();
                let status = response.status();
                let _ = response.into_body().collect().await;
                assert_eq!(status, 200, "request {i} to {addr} was not allowed");
                took.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rps = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    (rps, all)
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted
        .get(sorted.len() * 99 / 100)
        .copied()
        .unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut n = 5_000usize;
    while let Some(a) = args.next() {
        if a == "--requests" {
            n = args.next().and_then(|v| v.parse().ok()).unwrap_or(n);
        }
    }
    let (principal, agent) = (SecretKey::generate(), SecretKey::generate());
    let chain = chain(&principal, &agent);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    let root = DidKey::from_public_key(principal.public_key()).to_string();
    std::fs::write(
        &policy,
        serde_json::json!({"trustedRoots": [root], "audience": "did:web:shop.example"}).to_string(),
    )
    .unwrap();
    let upstream = upstream().await;
    let config = Config::parse(&format!(
        "listen = \"127.0.0.1:0\"\nmode = \"proxy\"\nupstream = \"http://{upstream}\"\npolicy = \"{}\"\nauthorities = [\"shop.example\"]\nlog_level = \"warn\"\n[[route]]\nmethod = \"POST\"\npath = \"/pay\"\naction = \"payments/send\"\n",
        policy.display()
    ))
    .unwrap();
    let stores = Stores::memory(&config.stores);
    let gateway = Gateway::new(config, None, stores).unwrap();
    let listener = gateway.bind().await.unwrap();
    let gw = listener.local_addr().unwrap().to_string();
    tokio::spawn(gateway.serve(listener, std::future::pending()));

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    // Warm-up: the chain is verified once and cached; connections are opened.
    let warm = Arc::new(signed(&agent, &chain, CONCURRENCY * 4));
    run(&client, &gw, &warm, CONCURRENCY).await;
    run(&client, &upstream, &warm, CONCURRENCY).await;

    let requests = Arc::new(signed(&agent, &chain, n));
    let (direct_rps, direct) = run(&client, &upstream, &requests, CONCURRENCY).await;
    let (gateway_rps, through) = run(&client, &gw, &requests, CONCURRENCY).await;
    let added = p99(&through).saturating_sub(p99(&direct));
    println!(
        "# {n} requests, {CONCURRENCY} at a time: direct {direct_rps:.0}/s (p99 {:?}), through the gateway {gateway_rps:.0}/s (p99 {:?})",
        p99(&direct),
        p99(&through)
    );
    println!(
        "RATIO gateway_vs_direct_throughput {:.3}",
        gateway_rps / direct_rps
    );
    println!("TIME gateway_added_p99_us {}", added.as_micros());

    // The same, one request at a time: the gateway's own cost per request, without the
    // queueing that 16 concurrent clients on two cores (shared with the upstream and the
    // client) add to every percentile.
    let single = Arc::new(signed(&agent, &chain, n / 5));
    let (_, direct_one) = run(&client, &upstream, &single, 1).await;
    let (_, through_one) = run(&client, &gw, &single, 1).await;
    println!(
        "# {} requests one at a time: direct p99 {:?}, through the gateway p99 {:?}",
        n / 5,
        p99(&direct_one),
        p99(&through_one)
    );
    println!(
        "TIME gateway_added_p99_us_one_at_a_time {}",
        p99(&through_one)
            .saturating_sub(p99(&direct_one))
            .as_micros()
    );
}
