//! `kya serve` with receipts, end to end: a real anvil, the gateway as a child process, a
//! small upstream. Every decided request gets a signed receipt in `KYA-Receipt` that is the
//! entry at its index in the receipt log; a log that cannot be written answers 503 and
//! forwards nothing; the log's checkpoint is anchored on chain on a schedule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod gateway_support;
use std::process::Command;

use base64::Engine as _;
use gateway_support::{Reply, Served, Shop, Upstream, send};
use kya_audit::SignedReceipt;
use kya_audit::receipt::Outcome;
use kya_registry::{Address, Deployment, LogId, Registry};

const ORIGIN: &str = "shop.example/kya/receipts";

const ROUTES: &str = "[[route]]\nmethod = \"POST\"\npath = \"/pay\"\naction = \"payments/send\"\n\
[[route]]\nmethod = \"POST\"\npath = \"/coffee\"\naction = \"payments/send\"\nprice = \"4.20 USD\"\n";

fn config(shop: &Shop, upstream: &Upstream, receipts_extra: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\nmode = \"proxy\"\nupstream = \"http://{}\"\npolicy = \"policy.json\"\nauthorities = [\"shop.example\"]\n{ROUTES}\n{}\n[receipts]\nlog_dir = \"receipts\"\nkey_file = \"receipt.key\"\norigin = \"{ORIGIN}\"\n{receipts_extra}",
        upstream.addr,
        shop.registry_toml()
    )
}

/// The receipt a reply carries, verified.
fn receipt_of(r: &Reply) -> SignedReceipt {
    let header = r
        .headers
        .get("kya-receipt")
        .unwrap_or_else(|| panic!("no KYA-Receipt on {} {}", r.status, r.body));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    SignedReceipt::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn ready(shop: &Shop, upstream: &Upstream, extra: &str) -> Served {
    let gw = Served::start(shop.dir.path(), &config(shop, upstream, extra));
    gw.wait_synced();
    gw
}

/// SIGTERM, then waits for the gateway to drain and exit.
fn stop(gw: &mut Served) {
    let term = Command::new("kill")
        .args(["-TERM", &gw.child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = gw.child.0.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn every_decision_gets_a_logged_receipt_and_the_log_is_anchored() {
    let shop = Shop::new();
    shop.kya(&["key", "generate", "--out", "receipt.key"]);
    let merchant_key = shop.kya(&["key", "did", "receipt.key"]).trim().to_owned();
    let upstream = Upstream::start();
    let mut gw = ready(
        &shop,
        &upstream,
        "anchor_every_seconds = 1\neth_key_file = \"wallet.key\"\n",
    );
    let mut receipts = Vec::new();

    // Allowed: forwarded, and the upstream's answer carries the receipt.
    let ok = shop.sign("POST", "/pay", Some("12.50 USD"));
    let r = send(&gw.addr, "POST", "/pay", &ok, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(upstream.hits(), 1);
    let rc = receipt_of(&r);
    let body = rc.receipt();
    assert_eq!(body.issuer.to_string(), merchant_key);
    assert_eq!(body.activity.decision.outcome, Outcome::Allowed);
    assert_eq!(body.activity.decision.status, 200);
    assert_eq!(body.agent.as_ref().unwrap().to_string(), shop.agent);
    assert_eq!(
        body.activity.principal.as_deref(),
        Some(shop.company.as_str())
    );
    assert_eq!(body.activity.merchant, "did:web:shop.example");
    assert_eq!(body.activity.request.path, "/pay");
    assert_eq!(
        body.activity.request.action.as_deref(),
        Some("payments/send")
    );
    assert_eq!(body.activity.log.origin, ORIGIN);
    let amount = body.activity.request.amount.as_ref().unwrap();
    assert_eq!(
        (amount.value.as_str(), amount.asset.as_str()),
        ("12.50", "USD")
    );
    assert!(body.activity.request.signature_base_digest.is_some());
    receipts.push(rc);

    // Denied (over the ceiling): 403, not forwarded, with a receipt naming the reason.
    let r = send(
        &gw.addr,
        "POST",
        "/pay",
        &shop.sign("POST", "/pay", Some("150.00 USD")),
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let rc = receipt_of(&r);
    assert_eq!(rc.receipt().activity.decision.outcome, Outcome::Denied);
    assert!(
        rc.receipt()
            .activity
            .decision
            .reasons
            .iter()
            .any(|x| x.code == "amount_exceeds_ceiling")
    );
    receipts.push(rc);

    // Refused (a replay): 401, not forwarded, with a receipt.
    let r = send(&gw.addr, "POST", "/pay", &ok, b"");
    assert_eq!(r.status, 401, "{}", r.body);
    let rc = receipt_of(&r);
    assert_eq!(rc.receipt().activity.decision.outcome, Outcome::Refused);
    assert_eq!(rc.receipt().activity.decision.status, 401);
    assert_eq!(
        rc.receipt().activity.decision.reasons[0].code,
        "nonce_replayed"
    );
    assert!(rc.receipt().agent.is_none());
    receipts.push(rc);

    // Refused by the gateway itself (an amount that is not the route's price).
    let r = send(
        &gw.addr,
        "POST",
        "/coffee",
        &shop.sign("POST", "/coffee", Some("0.01 USD")),
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let rc = receipt_of(&r);
    assert_eq!(rc.receipt().activity.decision.outcome, Outcome::Refused);
    assert_eq!(rc.receipt().activity.decision.status, 403);
    assert_eq!(
        rc.receipt().activity.decision.reasons[0].code,
        "amount_not_price"
    );
    receipts.push(rc);
    assert_eq!(upstream.hits(), 1);

    // Indexes are given in order, one per decision.
    let indexes: Vec<u64> = receipts
        .iter()
        .map(|r| r.receipt().activity.log.index)
        .collect();
    assert_eq!(indexes, [0, 1, 2, 3]);
    let metrics = gw.get("/metrics").body;
    assert!(
        metrics.contains("kya_gateway_receipts_total 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kya_gateway_receipt_errors_total 0"),
        "{metrics}"
    );

    // The schedule anchors the checkpoint of all four.
    let anchorer: Address = shop.company.rsplit(':').next().unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let registry = Registry::from_deployment(
        kya_registry::connect_http(shop.anvil.endpoint(), None).unwrap(),
        Deployment::read(&shop.path("registry.json")).unwrap(),
    );
    let log_id = LogId::from_origin(ORIGIN);
    gw.wait_for("an anchor of the log's 4 receipts", |_| {
        rt.block_on(registry.latest_checkpoint(anchorer, log_id))
            .ok()
            .flatten()
            .is_some_and(|l| l.tree_size == 4)
    });
    let head = shop.block_number();
    let anchors = rt
        .block_on(registry.checkpoint_anchors(anchorer, log_id, 0, head, 100))
        .unwrap();
    let last = *anchors.last().unwrap();
    // The job counts an anchor once its transaction is mined, just after the chain shows it.
    let counted = format!("kya_gateway_anchors_total {}", anchors.len());
    gw.wait_for("the anchors counted in the metrics", |m| {
        m.contains(&counted)
    });

    // After the gateway stops: each receipt is the entry at its index, and the anchored
    // root is the log's.
    stop(&mut gw);
    let log = kya_log::FileLog::open(shop.path("receipts")).unwrap();
    assert_eq!(log.size().0, 4);
    for r in &receipts {
        let index = r.receipt().activity.log.index;
        assert_eq!(log.entry(index).unwrap(), r.as_bytes(), "entry {index}");
    }
    assert_eq!(last.tree_size, 4);
    assert_eq!(last.root.0, *log.root().as_bytes());

    // One log line per decision names its receipt's index; the receipt key never appears.
    let lines = std::fs::read_to_string(shop.path("gateway.log")).unwrap();
    let decisions: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("\"event\":\"decision\""))
        .collect();
    assert_eq!(decisions.len(), 4, "{lines}");
    for (i, l) in decisions.iter().enumerate() {
        assert!(l.contains(&format!("\"receipt\":{i}")), "{l}");
    }
    assert!(lines.contains("\"event\":\"anchored\""), "{lines}");
    let key: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shop.path("receipt.key")).unwrap()).unwrap();
    let secret = key["secretKeyMultibase"].as_str().unwrap();
    assert!(!lines.contains(secret));
}

#[test]
fn a_receipt_log_that_cannot_be_written_answers_503_and_forwards_nothing() {
    let shop = Shop::new();
    shop.kya(&["key", "generate", "--out", "receipt.key"]);
    gateway_support::full_disk_receipt_log(&shop.path("receipts"));
    let upstream = Upstream::start();
    let gw = ready(&shop, &upstream, "");

    for _ in 0..2 {
        let r = send(
            &gw.addr,
            "POST",
            "/pay",
            &shop.sign("POST", "/pay", Some("12.50 USD")),
            b"",
        );
        assert_eq!(r.status, 503, "{}", r.body);
        assert_eq!(r.headers["retry-after"], "1");
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert_eq!(
            r.json()["type"],
            "https://w3id.org/kya/problems/verifier-unavailable"
        );
        assert_eq!(r.codes(), ["receipt_unavailable"]);
        assert!(!r.headers.contains_key("kya-receipt"));
    }
    assert_eq!(upstream.hits(), 0);
    let metrics = gw.get("/metrics").body;
    assert!(
        metrics.contains("kya_gateway_receipt_errors_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kya_gateway_receipts_total 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "kya_gateway_decisions_total{outcome=\"unavailable\",code=\"receipt_unavailable\"} 2"
        ),
        "{metrics}"
    );
}

#[test]
fn a_receipt_log_directory_that_is_a_file_stops_the_gateway_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let kya = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kya"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    assert!(
        kya(&["key", "generate", "--out", "receipt.key"])
            .status
            .success()
    );
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"trustedRoots": [], "audience": "did:web:shop.example"}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("receipts"), "not a directory").unwrap();
    std::fs::write(
        dir.path().join("gateway.toml"),
        "listen = \"127.0.0.1:0\"\nmode = \"auth\"\npolicy = \"policy.json\"\n[auth]\nproxy = \"envoy\"\n[receipts]\nlog_dir = \"receipts\"\nkey_file = \"receipt.key\"\norigin = \"shop.example/kya/receipts\"\n",
    )
    .unwrap();
    let out = kya(&["serve", "--config", "gateway.toml"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("receipts"), "{stderr}");
    assert!(out.stdout.is_empty());
}
