//! Auth mode as Envoy's `ext_authz` (HTTP service) and Traefik's `forwardAuth` call it: the
//! shapes of their check requests, sent by hand (neither proxy ships in Debian 12, and
//! nothing is downloaded at test time). nginx's `auth_request` runs for real in
//! `gateway_nginx.rs`.
//!
//! - Envoy `ext_authz` (`http_service`, `path_prefix: /kya-check`, `with_request_body`): the
//!   original method, `path_prefix` + the original path, the original headers and body.
//! - Traefik `forwardAuth` (`forwardBody: true`): the request to the auth address with
//!   `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`, the original headers and body.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod gateway_support;
use gateway_support::{Served, Shop, send};

/// Auth mode behind `proxy`, with `POST /pay` → `payments/send` and `POST /admin` → `admin`.
fn auth_config(shop: &Shop, proxy: &str) -> String {
    let prefix = if proxy == "envoy" {
        "path_prefix = \"/kya-check\"\n"
    } else {
        ""
    };
    format!(
        "listen = \"127.0.0.1:0\"\nmode = \"auth\"\npolicy = \"policy.json\"\nauthorities = [\"shop.example\"]\n[auth]\nproxy = \"{proxy}\"\n{prefix}[[route]]\nmethod = \"POST\"\npath = \"/pay\"\naction = \"payments/send\"\n[[route]]\nmethod = \"POST\"\npath = \"/admin\"\naction = \"admin\"\n{}",
        shop.registry_toml()
    )
}

fn synced(gw: &Served) {
    gw.wait_for("a synced registry view", |m| {
        m.lines()
            .any(|l| l.starts_with("kya_gateway_registry_block ") && !l.ends_with(" 0"))
    });
}

/// What Traefik sends for a client's `method uri`: the client's headers (`signed`, Traefik
/// copies them all by default) and its own `X-Forwarded-*`.
fn forwarded(signed: &[(String, String)], method: &str, uri: &str) -> Vec<(String, String)> {
    let mut h = signed.to_vec();
    h.retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
    h.push(("Host".into(), "kya-auth.internal".into()));
    h.push(("X-Forwarded-Method".into(), method.into()));
    h.push(("X-Forwarded-Proto".into(), "https".into()));
    h.push(("X-Forwarded-Host".into(), "shop.example".into()));
    h.push(("X-Forwarded-Uri".into(), uri.into()));
    h
}

#[test]
fn envoy_ext_authz_check_requests_are_judged_as_the_original() {
    let shop = Shop::new();
    let gw = Served::start(shop.dir.path(), &auth_config(&shop, "envoy"));
    synced(&gw);
    let signed = shop.sign("POST", "/pay", Some("1.00 USD"));
    let r = send(&gw.addr, "POST", "/kya-check/pay", &signed, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("kya-verified-agent") && v == &shop.agent),
        "{:?}",
        r.headers
    );
    // The same check again is a replay.
    let r = send(&gw.addr, "POST", "/kya-check/pay", &signed, b"");
    assert_eq!(
        (r.status, r.codes()),
        (401, vec!["nonce_replayed".to_owned()]),
        "{}",
        r.body
    );
    // Over the ceiling: 403 with the reason.
    let over = shop.sign("POST", "/pay", Some("500.00 USD"));
    let r = send(&gw.addr, "POST", "/kya-check/pay", &over, b"");
    assert_eq!(r.status, 403, "{}", r.body);
    // Signed for /pay, checked as another path: the signature does not cover it.
    let moved = shop.sign("POST", "/pay", Some("1.00 USD"));
    let r = send(&gw.addr, "POST", "/kya-check/refund", &moved, b"");
    assert_ne!(r.status, 200, "{}", r.body);
}

#[test]
fn traefik_forward_auth_requests_are_judged_as_the_original() {
    let shop = Shop::new();
    let gw = Served::start(shop.dir.path(), &auth_config(&shop, "traefik"));
    synced(&gw);
    let signed = shop.sign("POST", "/pay", Some("1.00 USD"));
    let r = send(
        &gw.addr,
        "GET",
        "/",
        &forwarded(&signed, "POST", "/pay"),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        &gw.addr,
        "GET",
        "/",
        &forwarded(&signed, "POST", "/pay"),
        b"",
    );
    assert_eq!(
        (r.status, r.codes()),
        (401, vec!["nonce_replayed".to_owned()]),
        "{}",
        r.body
    );
    // The forwarded method or path differs from what was signed: refused.
    let fresh = shop.sign("POST", "/pay", Some("1.00 USD"));
    let r = send(&gw.addr, "GET", "/", &forwarded(&fresh, "PUT", "/pay"), b"");
    assert_ne!(r.status, 200, "{}", r.body);
    // Another merchant's host: refused before anything else.
    let mut other = forwarded(&shop.sign("POST", "/pay", Some("1.00 USD")), "POST", "/pay");
    for (n, v) in &mut other {
        if n == "X-Forwarded-Host" {
            *v = "evil.example".into();
        }
    }
    let r = send(&gw.addr, "GET", "/", &other, b"");
    assert_eq!(
        (r.status, r.codes()),
        (401, vec!["authority_mismatch".to_owned()]),
        "{}",
        r.body
    );
}

/// Traefik forwards `POST /admin/delete-all`; the client signed `POST /pay` and added nginx's
/// `X-Original-URI: /pay`, which Traefik copies to the check. The gateway reads only
/// Traefik's headers, so it judges the path Traefik forwards: refused. Under nginx, the
/// location's own `X-Original-*` are required; Traefik's headers name nothing there.
#[test]
fn a_client_cannot_name_the_judged_path_with_another_proxys_header() {
    let shop = Shop::new();
    let gw = Served::start(shop.dir.path(), &auth_config(&shop, "traefik"));
    synced(&gw);
    let mut smuggled = forwarded(
        &shop.sign("POST", "/pay", Some("1.00 USD")),
        "POST",
        "/admin/delete-all",
    );
    smuggled.push(("X-Original-URI".into(), "/pay".into()));
    smuggled.push(("X-Original-Method".into(), "POST".into()));
    smuggled.push(("X-Original-Host".into(), "shop.example".into()));
    let r = send(&gw.addr, "GET", "/", &smuggled, b"");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        !r.headers
            .iter()
            .any(|(n, _)| n.to_ascii_lowercase().starts_with("kya-verified-")),
        "{:?}",
        r.headers
    );
    drop(gw);

    let gw = Served::start(shop.dir.path(), &auth_config(&shop, "nginx"));
    synced(&gw);
    let traefik_shaped = forwarded(&shop.sign("POST", "/pay", Some("1.00 USD")), "POST", "/pay");
    let r = send(&gw.addr, "GET", "/kya/auth", &traefik_shaped, b"");
    assert_eq!(
        (r.status, r.codes()),
        (400, vec!["bad_request".to_owned()]),
        "{}",
        r.body
    );
}
