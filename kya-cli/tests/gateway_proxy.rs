//! `kya serve` in proxy mode, end to end: a real anvil, the gateway as a child process
//! following the registry, a small upstream, requests signed by `kya sign-request`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod gateway_support;
use gateway_support::{Served, Shop, Upstream, send};

fn proxy_config(shop: &Shop, upstream: &Upstream, routes: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\nmode = \"proxy\"\nupstream = \"http://{}\"\npolicy = \"policy.json\"\nauthorities = [\"shop.example\"]\n{routes}\n{}",
        upstream.addr,
        shop.registry_toml()
    )
}

const PAY: &str = "[[route]]\nmethod = \"POST\"\npath = \"/pay\"\naction = \"payments/send\"\n";

/// Attacker side first: forged identity headers, over the ceiling, a replay, an unmapped
/// path; then the allowed request and what the upstream sees; then a priced route added by
/// SIGHUP; then an on-chain revocation enforced live.
#[test]
fn proxy_mode_verifies_forwards_identity_and_enforces_revocations_live() {
    let shop = Shop::new();
    let upstream = Upstream::start();
    let gw = Served::start(shop.dir.path(), &proxy_config(&shop, &upstream, PAY));
    gw.wait_for("a synced registry view", |m| {
        m.contains("kya_gateway_registry_syncs_total 1")
            || m.contains("kya_gateway_registry_syncs_total 2")
            || gw_ready(m)
    });
    assert_eq!(gw.get("/readyz").status, 200, "{}", gw.get("/readyz").body);
    assert_eq!(gw.get("/healthz").status, 200);

    // A client's own identity headers never reach the upstream: those the gateway sets are
    // replaced, any other with the prefix is removed.
    let mut forged = shop.sign("POST", "/pay", Some("1.00 USD"));
    forged.push(("KYA-Verified-Principal".into(), "did:key:z6MkForged".into()));
    forged.push(("kya-verified-agent".into(), "did:key:z6MkForged".into()));
    forged.push(("KYA-Verified-Tier".into(), "gold".into()));
    let r = send(&gw.addr, "POST", "/pay", &forged, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["identity"]["kya-verified-principal"],
        shop.company.as_str()
    );
    assert_eq!(
        r.json()["identity"]["kya-verified-agent"],
        shop.agent.as_str()
    );
    assert!(
        !r.body.contains("Forged") && !r.body.contains("tier"),
        "{}",
        r.body
    );
    assert_eq!(upstream.hits(), 1);

    // Over the ceiling: 403 with the reason, not forwarded.
    let over = shop.sign("POST", "/pay", Some("150.00 USD"));
    let r = send(&gw.addr, "POST", "/pay", &over, b"");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.codes().contains(&"amount_exceeds_ceiling".to_owned()),
        "{}",
        r.body
    );
    assert_eq!(r.headers["content-type"], "application/problem+json");

    // Unmapped path: refused (fail closed), not forwarded.
    let other = shop.sign("POST", "/admin", Some("1.00 USD"));
    let r = send(&gw.addr, "POST", "/admin", &other, b"");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.codes(), ["route_not_mapped"]);
    assert_eq!(upstream.hits(), 1);

    // Allowed: forwarded with who the agent is and what it was allowed.
    let ok = shop.sign("POST", "/pay", Some("12.50 USD"));
    let r = send(&gw.addr, "POST", "/pay", &ok, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = r.json()["identity"].clone();
    assert_eq!(seen["kya-verified-agent"], shop.agent.as_str());
    assert_eq!(seen["kya-verified-principal"], shop.company.as_str());
    assert_eq!(seen["kya-verified-action"], "payments/send");
    assert_eq!(seen["kya-verified-amount"], "12.50 USD");
    assert_eq!(seen["kya-verified-grant"], "link=0; grant=0");
    assert!(
        seen["kya-verified-chain-digest"]
            .as_str()
            .unwrap()
            .starts_with('u')
    );
    assert_eq!(upstream.hits(), 2);

    // Replayed: refused, not forwarded again.
    let r = send(&gw.addr, "POST", "/pay", &ok, b"");
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.codes(), ["nonce_replayed"]);
    assert_eq!(upstream.hits(), 2);

    // SIGHUP: a priced route appears without a restart; the price is what is decided and
    // charged, and an amount other than the price is refused.
    let priced = format!(
        "{PAY}[[route]]\nmethod = \"POST\"\npath = \"/coffee\"\naction = \"payments/send\"\nprice = \"4.20 USD\"\n"
    );
    std::fs::write(
        shop.path("gateway.toml"),
        proxy_config(&shop, &upstream, &priced),
    )
    .unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &gw.child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    gw.wait_for("the reload", |m| m.contains("kya_gateway_reloads_total 1"));
    let r = send(
        &gw.addr,
        "POST",
        "/coffee",
        &shop.sign("POST", "/coffee", None),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["identity"]["kya-verified-amount"], "4.20 USD");
    let r = send(
        &gw.addr,
        "POST",
        "/coffee",
        &shop.sign("POST", "/coffee", Some("0.01 USD")),
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.codes(), ["amount_not_price"]);

    // Revoked on-chain while the gateway runs: refused once the view reaches that block.
    shop.revoke_authorization();
    let revoked_at = shop.block_number();
    gw.wait_for("the revocation's block", |m| block_of(m) >= revoked_at);
    let r = send(
        &gw.addr,
        "POST",
        "/pay",
        &shop.sign("POST", "/pay", Some("12.50 USD")),
        b"",
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.codes().iter().any(|c| c.starts_with("revoked")),
        "{}",
        r.body
    );
    assert_eq!(upstream.hits(), 3);

    // Every decision was counted by outcome and code.
    let metrics = gw.get("/metrics").body;
    for line in [
        "kya_gateway_decisions_total{outcome=\"allow\",code=\"none\"} 3",
        "kya_gateway_decisions_total{outcome=\"deny\",code=\"amount_exceeds_ceiling\"} 1",
        "kya_gateway_decisions_total{outcome=\"refused\",code=\"nonce_replayed\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    // One log line per decision, naming its codes; no credential or signature in the logs.
    let log = std::fs::read_to_string(shop.path("gateway.log")).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"event\":\"decision\""))
            .count(),
        8,
        "{log}"
    );
    assert!(log.contains("nonce_replayed"));
    let signature = ok
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("signature"))
        .unwrap();
    assert!(
        !log.contains(
            signature
                .1
                .trim_start_matches("sig1=:")
                .trim_end_matches(':')
        )
    );
}

/// A request whose target names one authority (absolute form) and whose `Host` names
/// another would be judged on the first and served by the upstream on the second: refused,
/// never forwarded. When the two agree, the upstream sees the authority judged.
#[test]
fn the_upstream_sees_the_authority_that_was_judged() {
    let shop = Shop::new();
    let upstream = Upstream::start();
    let gw = Served::start(shop.dir.path(), &proxy_config(&shop, &upstream, PAY));
    gw.wait_for("a synced registry view", gw_ready);
    let with_host = |host: &str| {
        let mut h = shop.sign("POST", "/pay", Some("1.00 USD"));
        h.retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
        h.push(("Host".into(), host.into()));
        h
    };
    let r = send(
        &gw.addr,
        "POST",
        "http://shop.example/pay",
        &with_host("admin.internal"),
        b"",
    );
    assert_eq!(
        (r.status, r.codes()),
        (400, vec!["bad_request".to_owned()]),
        "{}",
        r.body
    );
    assert_eq!(upstream.hits(), 0);
    let r = send(
        &gw.addr,
        "POST",
        "http://shop.example/pay",
        &with_host("shop.example"),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["host"], "shop.example", "{}", r.body);
    assert_eq!(r.json()["request"], "POST /pay HTTP/1.1", "{}", r.body);
    assert_eq!(upstream.hits(), 1);
}

fn gw_ready(metrics: &str) -> bool {
    block_of(metrics) > 0
}

fn block_of(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("kya_gateway_registry_block "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A gateway in auth mode whose registry RPC never answers (a closed port), with
/// `when_stale` as given.
fn unsyncable(when_stale: &str) -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(
        dir.path().join("registry.json"),
        r#"{"chainId": 31337, "identity": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "reputation": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"trustedRoots": [], "audience": "did:web:shop.example"}"#,
    )
    .unwrap();
    let config = format!(
        "listen = \"127.0.0.1:0\"\nmode = \"auth\"\npolicy = \"policy.json\"\nauthorities = [\"shop.example\"]\nallow_unmapped = true\n[auth]\nproxy = \"envoy\"\n[registry]\ndeployment = \"registry.json\"\nrpc = [\"http://{closed}\"]\nsnapshot = \"snapshot.json\"\nmax_age_secs = 60\nrequest_timeout_secs = 1\nwhen_stale = \"{when_stale}\"\n"
    );
    let gw = Served::start(dir.path(), &config);
    (dir, gw)
}

fn unsigned_get(gw: &Served) -> gateway_support::Reply {
    send(
        &gw.addr,
        "GET",
        "/anything",
        &[("Host".into(), "shop.example".into())],
        b"",
    )
}

/// A view that cannot be brought up to date is refused (503, `registry_stale`,
/// `Retry-After`), never an allow; `/readyz` says so.
#[test]
fn a_registry_view_that_cannot_sync_is_refused() {
    let (_dir, gw) = unsyncable("refuse");
    let ready = gw.get("/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    let r = unsigned_get(&gw);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.codes(), ["registry_stale"]);
    assert_eq!(r.headers["retry-after"], "1");
}

/// With `when_stale = "degrade"` the same gateway keeps judging requests (here: an unsigned
/// one, refused for what it is) while `/readyz` still reports the view as not fresh.
#[test]
fn a_degrading_gateway_keeps_judging_while_not_ready() {
    let (_dir, gw) = unsyncable("degrade");
    assert_eq!(gw.get("/readyz").status, 503);
    let r = unsigned_get(&gw);
    assert_eq!(r.status, 401, "{}", r.body);
    assert_ne!(r.codes(), ["registry_stale"], "{}", r.body);
}

/// Two gateways on one Redis are one merchant: a request one admitted is a replay at the
/// other, and with Redis stopped the answer is 503 — never an allow, never forwarded.
#[test]
fn gateways_on_one_redis_refuse_each_others_replays() {
    if !kya_testkit::redis::available_or_skip("gateways_on_one_redis_refuse_each_others_replays") {
        return;
    }
    let mut redis = kya_testkit::redis::RedisServer::spawn().unwrap();
    let shop = Shop::new();
    let upstream = Upstream::start();
    let stores = format!("\n[stores]\nredis_url = \"{}\"\n", redis.url());
    let config = proxy_config(&shop, &upstream, PAY);
    let a = Served::start(shop.dir.path(), &format!("{config}{stores}"));
    let b = Served::start(
        shop.dir.path(),
        &format!(
            "{}{stores}",
            config.replace("snapshot.json", "snapshot-b.json")
        ),
    );
    for gw in [&a, &b] {
        gw.wait_for("a synced registry view", gw_ready);
    }
    let signed = shop.sign("POST", "/pay", Some("1.00 USD"));
    let r = send(&a.addr, "POST", "/pay", &signed, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&b.addr, "POST", "/pay", &signed, b"");
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.codes(), ["nonce_replayed"], "{}", r.body);

    redis.shutdown().unwrap();
    let fresh = shop.sign("POST", "/pay", Some("1.00 USD"));
    let r = send(&b.addr, "POST", "/pay", &fresh, b"");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(upstream.hits(), 1);
}

/// A body over `max_body_bytes` is refused (413) before anything is verified or forwarded;
/// one within it goes on to verification (here: unsigned, so 401).
#[test]
fn an_oversized_body_is_refused_before_verification() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"trustedRoots": [], "audience": "did:web:shop.example"}"#,
    )
    .unwrap();
    let config = "listen = \"127.0.0.1:0\"\nmode = \"auth\"\npolicy = \"policy.json\"\nauthorities = [\"shop.example\"]\nallow_unmapped = true\n[auth]\nproxy = \"envoy\"\n[limits]\nmax_body_bytes = 64\n";
    let gw = Served::start(dir.path(), config);
    let host = [("Host".to_owned(), "shop.example".to_owned())];
    let r = send(&gw.addr, "POST", "/upload", &host, &[b'x'; 100]);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.codes(), ["body_too_large"], "{}", r.body);
    let r = send(&gw.addr, "POST", "/upload", &host, &[b'x'; 10]);
    assert_eq!(r.status, 401, "{}", r.body);
}

/// An upstream that holds each request for `delay` before answering 200.
fn slow_upstream(delay: std::time::Duration) -> String {
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    line.clear();
                }
                std::thread::sleep(delay);
                let _ = reader.get_mut().write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow",
                );
            });
        }
    });
    addr
}

/// `[limits] max_connections` bounds open connections: past it, a new client waits (in the
/// listen backlog, unanswered) until one closes.
#[test]
fn connections_beyond_the_limit_wait_until_one_closes() {
    use std::io::{Read as _, Write as _};
    let shop = Shop::new();
    let upstream = Upstream::start();
    let limits = "\n[limits]\nmax_connections = 2\nheader_timeout_secs = 60\n";
    let gw = Served::start(
        shop.dir.path(),
        &format!("{}{limits}", proxy_config(&shop, &upstream, PAY)),
    );
    assert_eq!(gw.get("/healthz").status, 200);
    // Two idle connections hold both permits.
    let held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(&gw.addr).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut third = std::net::TcpStream::connect(&gw.addr).unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(std::time::Duration::from_millis(800)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        third.read(&mut buf).is_err(),
        "a third connection was served past max_connections = 2"
    );
    // One closes: the waiting client is served.
    drop(held);
    third
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    third.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// SIGTERM: the gateway stops accepting, lets the request in flight finish (its answer
/// arrives whole), and exits 0.
#[test]
fn shutdown_drains_the_request_in_flight() {
    let shop = Shop::new();
    let upstream = Upstream::start();
    let mut config = proxy_config(&shop, &upstream, PAY);
    config = config.replace(
        &format!("http://{}", upstream.addr),
        &format!(
            "http://{}",
            slow_upstream(std::time::Duration::from_millis(1500))
        ),
    );
    let mut gw = Served::start(shop.dir.path(), &config);
    gw.wait_for("a synced registry view", gw_ready);
    let signed = shop.sign("POST", "/pay", Some("1.00 USD"));
    let addr = gw.addr.clone();
    let in_flight = std::thread::spawn(move || send(&addr, "POST", "/pay", &signed, b""));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = gw.child.0.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let reply = in_flight.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "slow");
    let status = gw.child.0.wait().unwrap();
    assert!(status.success(), "kya serve exited with {status}");
    assert!(
        std::net::TcpStream::connect(&gw.addr).is_err(),
        "the gateway still accepts after shutdown"
    );
}
