//! The native half of `cargo xtask bench-js`: the work `bench.mjs` times in WebAssembly,
//! timed here in native Rust (release), with the same keys, chain, policy, clock and request
//! shapes. Prints `TIME <op>_native_us <µs>`, the median of the rounds.
//!
//! - `verify`: a full verification of a 3-link chain (every proof, linkage, trust; the
//!   chain cache off: `cacheCapacity` 0);
//! - `admit`: a merchant admitting a signed POST carrying that chain inline (signature,
//!   nonce, cached chain, decision), each request with its own nonce.

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use kya_core::chain::Chain;
use kya_core::credential::{AgentAuthorization, AgentDelegation};
use kya_core::grant::{Action, Amount, Asset, Grant, Money};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_verify::http::{HttpPolicy, HttpRequest, KyaGate, RequestSigner, Route, SignOptions};
use kya_verify::{FixedClock, MemoryLedger, Policy, Verifier};

const NOW: &str = "2026-02-01T12:00:00Z";
const N: usize = 1000;
const ROUNDS: usize = 5;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn setup() -> Result<(SecretKey, Chain, String)> {
    let keys: Vec<SecretKey> = (1..=4u8).map(|n| SecretKey::from_seed(&[n; 32])).collect();
    let now: Timestamp = NOW.parse()?;
    let usd =
        |v: &str| -> Result<Money> { Ok(Money::new(Amount::parse(v)?, Asset::parse("USD")?)) };
    let ceiling = usd("100.00")?;
    let grant = |action: &str| -> Result<Grant> {
        Ok(Grant::builder(Action::parse(action)?)
            .max_amount(ceiling.value.clone(), ceiling.asset.clone())
            .build()?)
    };
    let did = |k: &SecretKey| DidKey::from_public_key(k.public_key());
    let auth = AgentAuthorization::builder(Did::Key(did(&keys[0])), did(&keys[1]))
        .valid_from("2026-01-01T00:00:00Z".parse()?)
        .valid_until("2027-01-01T00:00:00Z".parse()?)
        .grants([grant("payments")?])
        .sign(&keys[0], now)?;
    let d1 = AgentDelegation::builder(&auth, did(&keys[2]))?
        .grants([grant("payments/send")?])
        .sign(&keys[1], now)?;
    let d2 = AgentDelegation::builder(&d1, did(&keys[3]))?
        .grants([grant("payments/send")?])
        .sign(&keys[2], now)?;
    let mut chain = Chain::new(auth)?;
    chain.push(d1)?;
    chain.push(d2)?;
    let principal = did(&keys[0]).to_string();
    let worker = keys.into_iter().nth(3).ok_or("four keys")?;
    Ok((worker, chain, principal))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn verifier(principal: &str, cache: usize) -> Result<Verifier> {
    let policy = Policy::from_json(
        format!(r#"{{"trustedRoots":["{principal}"],"cacheCapacity":{cache}}}"#).as_bytes(),
    )?;
    Ok(Verifier::new(policy)
        .with_clock(Arc::new(FixedClock::new(NOW.parse()?)))
        .with_ledger(Arc::new(MemoryLedger::default())))
}

fn signed_requests(worker: &SecretKey, chain: &Chain, n: usize) -> Result<Vec<HttpRequest>> {
    let signer = RequestSigner::for_chain(worker, chain)?
        .transport(kya_verify::http::ChainTransport::Inline);
    let now: Timestamp = NOW.parse()?;
    let amount = Money::new(Amount::parse("12.50")?, Asset::parse("USD")?);
    (0..n)
        .map(|_| {
            let (_, mut request) = HttpRequest::from_url("POST", "https://shop.example/pay")?;
            request.body = br#"{"order": 42}"#.to_vec();
            let nonce = RequestSigner::random_nonce();
            let options = SignOptions {
                action: None,
                amount: Some(&amount),
                created: now,
                expires: now.add_seconds(60),
                nonce: &nonce,
            };
            signer.sign(&mut request, &options)?;
            request
                .headers
                .insert(0, ("Host".into(), "shop.example".into()));
            Ok(request)
        })
        .collect()
}

fn main() -> Result<()> {
    let (worker, chain, principal) = setup()?;
    let data = serde_json::to_vec(&chain.to_value())?;
    let (mut verify, mut admit) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let uncached = verifier(&principal, 0)?;
        let start = Instant::now();
        for _ in 0..N {
            uncached.verify_chain(&data)?;
        }
        verify.push(start.elapsed().as_secs_f64() / N as f64);

        let requests = signed_requests(&worker, &chain, N)?;
        let http = HttpPolicy::default()
            .authority("shop.example")
            .route(Route::new("/pay", Action::parse("payments/send")?).method("POST"));
        let gate = KyaGate::new(Arc::new(verifier(&principal, 1024)?), http);
        let start = Instant::now();
        let admitted = requests.iter().filter(|r| gate.admit(r).is_ok()).count();
        admit.push(start.elapsed().as_secs_f64() / N as f64);
        if admitted != N {
            return Err(format!("admitted {admitted} of {N}").into());
        }
    }
    println!("TIME verify_native_us {:.2}", median(verify) * 1e6);
    println!("TIME admit_native_us {:.2}", median(admit) * 1e6);
    Ok(())
}
