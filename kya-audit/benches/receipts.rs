//! What a receipt adds to a decision, measured side by side in one run:
//!
//! - `decide_with_receipt_vs_decide`: a cached signed request admitted by the gate, alone and
//!   followed by its receipt (built, signed, appended to a log on tmpfs when `/dev/shm`
//!   exists: the CPU cost, without the disk's fsync);
//! - `receipt_durable`: one receipt made durable on the working disk by one thread (the
//!   fsync latency a lone request pays); concurrent requests share it (group commit).
//!
//! Prints `RATIO decide_with_receipt_vs_decide <x>`, `RATIO receipt_added_vs_verify1 <x>`
//! (the receipt's added time over one Ed25519 verification, same run) and
//! `TIME receipt_durable_us <µs>`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use kya_audit::ReceiptIssuer;
use kya_core::credential::AgentAuthorization;
use kya_core::grant::{Action, Amount, Asset, Grant};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_verify::http::{HttpPolicy, HttpRequest, KyaGate, RequestSigner, Route, SignOptions};
use kya_verify::nonce::{MemoryNonceStore, NonceQuotas};
use kya_verify::{Policy, Verifier};

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}

struct Agent {
    chain: serde_json::Value,
    counter: AtomicU64,
}

impl Agent {
    fn new() -> Self {
        let grant = Grant::builder(Action::parse("payments").unwrap())
            .max_amount(Amount::parse("100").unwrap(), Asset::parse("USD").unwrap())
            .build()
            .unwrap();
        let start = Timestamp::now().add_seconds(-60);
        let credential = AgentAuthorization::builder(Did::Key(did(&key(1))), did(&key(2)))
            .valid_from(start)
            .valid_until(start.add_seconds(86_400))
            .grant(grant)
            .sign(&key(1), start)
            .unwrap();
        Self {
            chain: serde_json::Value::Array(vec![credential.document().clone()]),
            counter: AtomicU64::new(0),
        }
    }

    fn request(&self) -> HttpRequest {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let (_, mut request) = HttpRequest::from_url("POST", "https://shop.example/pay").unwrap();
        request.body = br#"{"order":"A-1"}"#.to_vec();
        let now = Timestamp::now();
        let money = kya_verify::http::parse_amount_header("9.99 USD").unwrap();
        RequestSigner::new(&key(2), &self.chain)
            .unwrap()
            .sign(
                &mut request,
                &SignOptions {
                    action: Some(&Action::parse("payments/send").unwrap()),
                    amount: Some(&money),
                    created: now,
                    expires: now.add_seconds(120),
                    nonce: &format!("bench-{n:016}"),
                },
            )
            .unwrap();
        request
    }
}

fn gate() -> KyaGate {
    let policy = Policy::builder()
        .trust_root(Did::Key(did(&key(1))))
        .audience("did:web:shop.example")
        .build();
    let verifier = Verifier::new(policy).with_nonce_store(Arc::new(MemoryNonceStore::new(
        NonceQuotas::flat(50_000_000),
    )));
    KyaGate::new(
        Arc::new(verifier),
        HttpPolicy::default()
            .authority("shop.example")
            .route(Route::new("/pay", Action::parse("payments/send").unwrap())),
    )
}

fn main() {
    let started = std::time::Instant::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .without_plots()
        .configure_from_args();
    let agent = Agent::new();
    let gate = gate();
    assert!(gate.admit(&agent.request()).is_ok(), "the gate admits");
    let fast = if std::path::Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let issuer = ReceiptIssuer::open(
        key(9),
        "shop.example/kya/receipts",
        "did:web:shop.example",
        fast.path().join("log"),
    )
    .unwrap();
    let mut g = c.benchmark_group("decide_with_receipt_vs_decide");
    g.bench_function("decide", |b| {
        b.iter_batched_ref(
            || agent.request(),
            |r| assert!(gate.admit(r).is_ok()),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decide_with_receipt", |b| {
        b.iter_batched_ref(
            || agent.request(),
            |r| {
                let outcome = gate.admit(r);
                assert!(outcome.is_ok());
                issuer.record(r, &outcome, Timestamp::now()).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    // One Ed25519 verification under kya's rule: the unit a receipt's cost is compared to.
    let signer = key(5);
    let message = [7u8; 64];
    let signature = signature::Signer::try_sign(&signer, &message).unwrap();
    let public = signer.public_key();
    g.bench_function("verify1", |b| {
        b.iter(|| kya_core::ed25519::verify(&public, &message, &signature).unwrap())
    });
    g.finish();

    let disk = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let durable = ReceiptIssuer::open(
        key(9),
        "shop.example/kya/receipts",
        "did:web:shop.example",
        disk.path().join("log"),
    )
    .unwrap();
    let refused = gate.admit(
        &HttpRequest::from_url("POST", "https://shop.example/pay")
            .unwrap()
            .1,
    );
    let (_, unsigned) = HttpRequest::from_url("POST", "https://shop.example/pay").unwrap();
    c.benchmark_group("receipt_durable")
        .sample_size(10)
        .bench_function("one_thread", |b| {
            b.iter(|| {
                durable
                    .record(&unsigned, &refused, Timestamp::now())
                    .unwrap()
            })
        });
    c.final_summary();

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../criterion");
    let median = |group: &str, f: &str| -> Option<f64> {
        let path = dir.join(group).join(f).join("new/estimates.json");
        let meta = std::fs::metadata(&path).ok()?;
        if meta.modified().ok()?.elapsed().ok()? > started.elapsed() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    if let (Some(base), Some(with)) = (
        median("decide_with_receipt_vs_decide", "decide"),
        median("decide_with_receipt_vs_decide", "decide_with_receipt"),
    ) {
        println!("TIME decide_us {:.3}", base / 1e3);
        println!("TIME decide_with_receipt_us {:.3}", with / 1e3);
        println!("RATIO decide_with_receipt_vs_decide {:.3}", with / base);
        if let Some(one) = median("decide_with_receipt_vs_decide", "verify1") {
            println!("RATIO receipt_added_vs_verify1 {:.3}", (with - base) / one);
        }
    }
    if let Some(t) = median("receipt_durable", "one_thread") {
        println!("TIME receipt_durable_us {:.1}", t / 1e3);
    }
}
