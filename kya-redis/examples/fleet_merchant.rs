//! One instance of a merchant fleet: the example merchant of kya-verify, with its replay
//! protection and budgets on a Redis that every instance shares.
//!
//! ```text
//! cargo run -p kya-redis --example fleet_merchant -- POLICY.json [ADDR] \
//!     [--redis redis://127.0.0.1:6379 | --redis redis+cluster://h:p,h:p] \
//!     [--authority shop.example] [--namespace shop.example]
//! ```
//!
//! Every instance answers for the same authority (agents sign for `shop.example`, whichever
//! instance the load balancer picks) and uses the same namespace in Redis. Without
//! `--redis`, the instance keeps nonces and budgets in memory (one instance only).
//!
//! The store call blocks the thread for a round trip to Redis (at most the connect +
//! response timeouts, 250 ms each): the server runs on tokio's multi-thread runtime with
//! more workers than cores, so requests waiting on Redis hold a worker each, not the process.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;

use kya_redis::{RedisConfig, RedisStores};
use kya_verify::http::KyaGate;
use kya_verify::policy::Policy;
use kya_verify::{MemoryLedger, MemoryNonceStore, NonceQuotas, Verifier};
use tokio::net::TcpListener;

#[allow(dead_code, unreachable_pub)]
#[path = "../../kya-verify/examples/merchant.rs"]
mod merchant;

/// Ledger counters an instance (or the fleet, on Redis) keeps at most.
const LEDGER_CAPACITY: usize = 100_000;

/// The gate of one instance: the policy, the stores (on Redis at `redis`, under
/// `namespace`, or in memory), the fleet's authority.
pub fn gate(
    policy: Policy,
    authority: &str,
    redis: Option<(&str, &str)>,
) -> Result<KyaGate, String> {
    let verifier = Verifier::new(policy);
    let verifier = match redis {
        Some((url, namespace)) => {
            let config = RedisConfig::from_url(url, namespace).map_err(|e| e.to_string())?;
            // One store for nonces and budgets: a request's nonce and charges in one step.
            let stores = RedisStores::new(config, NonceQuotas::default(), LEDGER_CAPACITY)
                .map_err(|e| e.to_string())?;
            verifier.with_stores(Arc::new(stores))
        }
        None => verifier
            .with_nonce_store(Arc::new(MemoryNonceStore::default()))
            .with_ledger(Arc::new(MemoryLedger::new(LEDGER_CAPACITY))),
    };
    Ok(KyaGate::new(
        Arc::new(verifier),
        merchant::http_policy("http", authority)?,
    ))
}

/// Serves the instance on a bound listener.
pub async fn serve(listener: TcpListener, gate: Arc<KyaGate>) -> std::io::Result<()> {
    merchant::serve(listener, gate).await
}

struct Args {
    policy: String,
    addr: SocketAddr,
    redis: Option<String>,
    authority: String,
    namespace: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let (mut redis, mut authority, mut namespace) = (None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--redis" => redis = Some(value()?),
            "--authority" => authority = Some(value()?),
            "--namespace" => namespace = Some(value()?),
            _ => positional.push(a),
        }
    }
    let mut positional = positional.into_iter();
    let policy = positional.next().ok_or(
        "usage: fleet_merchant POLICY.json [ADDR] [--redis URL] [--authority A] [--namespace NS]",
    )?;
    let addr = positional
        .next()
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .map_err(|e| format!("address: {e}"))?;
    Ok(Args {
        policy,
        addr,
        redis,
        authority: authority.unwrap_or_else(|| "shop.example".into()),
        namespace,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 16)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let policy = Policy::from_json(&std::fs::read(&args.policy)?)?;
    let namespace = args.namespace.unwrap_or_else(|| args.authority.clone());
    let redis = args.redis.as_deref().map(|url| (url, namespace.as_str()));
    let gate = Arc::new(gate(policy, &args.authority, redis)?);
    let listener = TcpListener::bind(args.addr).await?;
    println!("merchant listening on http://{}", listener.local_addr()?);
    serve(listener, gate).await?;
    Ok(())
}
