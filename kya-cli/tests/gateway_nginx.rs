//! `kya serve` in auth mode behind a real nginx (`auth_request`), in front of a small
//! upstream, driven with requests signed by `kya sign-request`, against a registry on a real
//! anvil: allowed, forged identity headers, over the ceiling, replayed, and revoked on-chain
//! while everything runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod gateway_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gateway_support::{Killed, Served, Shop, Upstream, send};
use kya_audit::receipt::Outcome;

/// The nginx binary, or `None` (a failure under CI: the install step must provide it).
fn nginx() -> Option<PathBuf> {
    let found = std::env::var_os("KYA_NGINX")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/sbin/nginx".into(), "/usr/local/sbin/nginx".into()])
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is missing: scripts/install-tools.sh installs it (apt-get install nginx)"
        );
        eprintln!("skipped: nginx is missing (apt-get install nginx, or set KYA_NGINX)");
    }
    found
}

/// The merchant's nginx: the auth location once per server, and in each guarded location
/// the one `auth_request` line plus the identity headers passed on.
fn nginx_conf(dir: &Path, port: u16, gateway: &str, upstream: &str) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        {snippet}
        location / {{
            auth_request /_kya_auth;
            include {d}/kya-identity.conf;
            include {d}/kya-receipt.conf;
            proxy_pass http://{upstream};
        }}
    }}
}}
"#,
        snippet = include_str!("../../docs/nginx/kya-auth-location.conf")
            .replace("127.0.0.1:8181", gateway),
    )
}

struct Nginx {
    _child: Killed,
    addr: String,
}

impl Nginx {
    fn start(bin: &Path, dir: &Path, gateway: &str, upstream: &str) -> Self {
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        for snippet in ["kya-identity.conf", "kya-receipt.conf"] {
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../docs/nginx")
                    .join(snippet),
                dir.join(snippet),
            )
            .unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, nginx_conf(dir, port, gateway, upstream)).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("nginx-error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let child = Killed(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return Self {
                    _child: child,
                    addr,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!(
            "nginx did not come up: {}",
            std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
        );
    }
}

/// The verified receipt of a reply: its outcome, the status it records, its log index.
fn receipt(r: &gateway_support::Reply) -> (Outcome, u16, u64) {
    use base64::Engine as _;
    let header = r
        .headers
        .get("kya-receipt")
        .unwrap_or_else(|| panic!("no KYA-Receipt: {:?}", r.headers));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let receipt = kya_audit::SignedReceipt::from_slice(&bytes).unwrap();
    let a = &receipt.receipt().activity;
    (a.decision.outcome, a.decision.status, a.log.index)
}

#[test]
fn nginx_auth_request_admits_verified_agents_and_enforces_revocations_live() {
    let Some(bin) = nginx() else { return };
    let shop = Shop::new();
    let upstream = Upstream::start();
    let config = format!(
        "listen = \"127.0.0.1:0\"\nmode = \"auth\"\npolicy = \"policy.json\"\nauthorities = [\"shop.example\"]\n[auth]\nproxy = \"nginx\"\n[[route]]\nmethod = \"POST\"\npath = \"/pay\"\naction = \"payments/send\"\n{}\n[receipts]\nlog_dir = \"receipts\"\nkey_file = \"receipt.key\"\norigin = \"shop.example/kya/receipts\"\n",
        shop.registry_toml()
    );
    shop.kya(&["key", "generate", "--out", "receipt.key"]);
    let gw = Served::start(shop.dir.path(), &config);
    gw.wait_for("a synced registry view", |m| {
        m.lines()
            .any(|l| l.starts_with("kya_gateway_registry_block ") && !l.ends_with(" 0"))
    });
    let web = Nginx::start(&bin, &shop.path("nginx"), &gw.addr, &upstream.addr);

    // Forged identity headers: refused by the auth endpoint, nothing reaches the upstream.
    let mut forged = shop.sign("POST", "/pay", Some("1.00 USD"));
    forged.push(("KYA-Verified-Tier".into(), "gold".into()));
    let r = send(&web.addr, "POST", "/pay", &forged, b"");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(upstream.hits(), 0);
    assert_eq!(receipt(&r), (Outcome::Refused, 403, 0));

    // Over the ceiling: 403.
    let r = send(
        &web.addr,
        "POST",
        "/pay",
        &shop.sign("POST", "/pay", Some("150.00 USD")),
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(upstream.hits(), 0);
    assert_eq!(receipt(&r), (Outcome::Denied, 403, 1));

    // Allowed: the upstream sees who the agent is, set by nginx from the auth answer.
    let ok = shop.sign("POST", "/pay", Some("12.50 USD"));
    let r = send(&web.addr, "POST", "/pay", &ok, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = r.json()["identity"].clone();
    assert_eq!(seen["kya-verified-agent"], shop.agent.as_str());
    assert_eq!(seen["kya-verified-principal"], shop.company.as_str());
    assert_eq!(seen["kya-verified-amount"], "12.50 USD");
    assert_eq!(seen["kya-verified-action"], "payments/send");
    assert_eq!(upstream.hits(), 1);
    // The agent holds the receipt of what was decided, passed on by nginx.
    assert_eq!(receipt(&r), (Outcome::Allowed, 200, 2));

    // Replayed: 401.
    let r = send(&web.addr, "POST", "/pay", &ok, b"");
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(upstream.hits(), 1);
    assert_eq!(receipt(&r), (Outcome::Refused, 401, 3));

    // Revoked on-chain while nginx, the gateway and anvil run: refused once the view has
    // the revocation's block.
    shop.revoke_authorization();
    let revoked_at = shop.block_number();
    gw.wait_for("the revocation's block", |_| gw.block() >= revoked_at);
    let r = send(
        &web.addr,
        "POST",
        "/pay",
        &shop.sign("POST", "/pay", Some("12.50 USD")),
        b"",
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(upstream.hits(), 1);
    let metrics = gw.get("/metrics").body;
    assert!(
        metrics.contains(
            "kya_gateway_decisions_total{outcome=\"refused\",code=\"revoked_by_issuer\"} 1"
        ),
        "{metrics}"
    );
}
