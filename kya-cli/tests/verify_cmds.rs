//! `kya present`, `kya sign-request`, `kya verify` and `kya explain`, end to end on the built
//! binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const SHOP: &str = "did:web:shop.example";

fn kya(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kya"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    common::succeeded(args, kya(dir, args))
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = kya(dir, args);
    assert!(!out.status.success(), "kya {args:?} should fail");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Keys for a principal and an agent, a chain (payments up to 100 USD at the shop), and a
/// policy trusting the principal with the shop as audience.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["key", "generate", "--out", "principal.key"]);
    ok(d, &["key", "generate", "--out", "agent.key"]);
    ok(d, &["key", "generate", "--out", "stranger.key"]);
    let principal = ok(d, &["key", "did", "principal.key"]).trim().to_owned();
    let agent = ok(d, &["key", "did", "agent.key"]).trim().to_owned();
    let credential = issue_payments(d, &agent, &[]);
    write(d, "chain.json", &format!("[{credential}]"));
    let untrusted = ok(
        d,
        &[
            "issue",
            "--key",
            "stranger.key",
            "--agent",
            &agent,
            "--valid-for",
            "1h",
            "--action",
            "payments",
        ],
    );
    write(d, "untrusted.json", &format!("[{untrusted}]"));
    write(
        d,
        "policy.json",
        &format!(r#"{{"trustedRoots": ["{principal}"], "audience": "{SHOP}"}}"#),
    );
    write(d, "body.json", r#"{"order":42}"#);
    dir
}

/// An authorisation by the principal for `agent`: payments up to 100 USD at the shop.
fn issue_payments(d: &Path, agent: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "issue",
        "--key",
        "principal.key",
        "--agent",
        agent,
        "--valid-for",
        "1h",
        "--action",
        "payments",
        "--max-amount",
        "100",
        "--asset",
        "USD",
        "--audience",
        SHOP,
    ];
    args.extend_from_slice(extra);
    ok(d, &args)
}

/// The merchant's route for the requests these tests sign.
const PAY: &str = "POST /pay=payments/send";

fn sign(d: &Path, amount: &str) -> String {
    sign_url(d, amount, "https://shop.example/pay")
}

fn sign_url(d: &Path, amount: &str, url: &str) -> String {
    sign_with(d, amount, url, &[])
}

fn sign_with(d: &Path, amount: &str, url: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "sign-request",
        "--key",
        "agent.key",
        "--chain",
        "chain.json",
        "--method",
        "POST",
        "--url",
        url,
        "--body",
        "body.json",
        "--action",
        "payments/send",
        "--amount",
        amount,
        "--json",
    ];
    args.extend_from_slice(extra);
    ok(d, &args)
}

#[test]
fn verify_a_chain_prints_the_agent_and_exits_zero() {
    let dir = setup();
    let d = dir.path();
    let out = ok(d, &["verify", "chain.json", "--policy", "policy.json"]);
    assert!(out.contains("verified credential chain"), "{out}");
    let json: Value = serde_json::from_str(&ok(
        d,
        &["verify", "chain.json", "--policy", "policy.json", "--json"],
    ))
    .unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(json["input"], "credential chain");
    assert!(
        json["agent"]["agent"]
            .as_str()
            .unwrap()
            .starts_with("did:key:")
    );
}

#[test]
fn verify_refuses_an_untrusted_principal() {
    let dir = setup();
    let out = fails(
        dir.path(),
        &[
            "verify",
            "untrusted.json",
            "--policy",
            "policy.json",
            "--json",
        ],
    );
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["verified"], false);
    assert_eq!(json["error"]["code"], "untrusted_root");
}

#[test]
fn verify_decides_on_a_request_file() {
    let dir = setup();
    let d = dir.path();
    let time = kya_now();
    write(
        d,
        "small.json",
        &format!(
            r#"{{"action":"payments/send","amount":{{"value":"20","asset":"USD"}},"audience":"{SHOP}","time":"{time}"}}"#
        ),
    );
    write(
        d,
        "large.json",
        &format!(
            r#"{{"action":"payments/send","amount":{{"value":"200","asset":"USD"}},"audience":"{SHOP}","time":"{time}"}}"#
        ),
    );
    let out = ok(
        d,
        &[
            "verify",
            "chain.json",
            "--policy",
            "policy.json",
            "--request",
            "small.json",
        ],
    );
    assert!(out.contains("ALLOW"), "{out}");
    let out = fails(
        d,
        &[
            "verify",
            "chain.json",
            "--policy",
            "policy.json",
            "--request",
            "large.json",
        ],
    );
    assert!(
        out.contains("DENY") && out.contains("amount_exceeds_ceiling"),
        "{out}"
    );
}

fn kya_now() -> String {
    kya_core::Timestamp::now().to_string()
}

#[test]
fn present_then_verify_the_presentation() {
    let dir = setup();
    let d = dir.path();
    let presentation = ok(
        d,
        &[
            "present",
            "--key",
            "agent.key",
            "--chain",
            "chain.json",
            "--audience",
            SHOP,
            "--nonce",
            "n-123",
            "--expires-in",
            "120s",
        ],
    );
    let v: Value = serde_json::from_str(&presentation).unwrap();
    assert_eq!(v["proof"]["domain"], SHOP);
    assert_eq!(v["proof"]["challenge"], "n-123");
    write(d, "presentation.json", &presentation);
    let json: Value = serde_json::from_str(&ok(
        d,
        &[
            "verify",
            "presentation.json",
            "--policy",
            "policy.json",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(json["input"], "presentation");
    assert_eq!(json["verified"], true);
    // A window longer than the policy's maximum (300 s by default) is refused.
    let long = ok(
        d,
        &[
            "present",
            "--key",
            "agent.key",
            "--chain",
            "chain.json",
            "--audience",
            SHOP,
            "--nonce",
            "n-456",
            "--expires-in",
            "1h",
        ],
    );
    write(d, "long.json", &long);
    let out = fails(
        d,
        &["verify", "long.json", "--policy", "policy.json", "--json"],
    );
    assert!(out.contains("window_too_long"), "{out}");
}

#[test]
fn sign_request_prints_web_bot_auth_headers() {
    let dir = setup();
    let out = ok(
        dir.path(),
        &[
            "sign-request",
            "--key",
            "agent.key",
            "--chain",
            "chain.json",
            "--method",
            "POST",
            "--url",
            "https://shop.example/pay",
            "--body",
            "body.json",
            "--amount",
            "12.50 USD",
        ],
    );
    for needle in [
        "Content-Digest: sha-256=:",
        "KYA-Chain: ",
        "KYA-Amount: 12.50 USD",
        "Signature-Input: sig1=(\"@method\" \"@authority\" \"@path\" \"content-digest\" \"kya-chain\" \"kya-amount\")",
        "tag=\"web-bot-auth\"",
        "alg=\"ed25519\"",
        "Signature: sig1=:",
    ] {
        assert!(out.contains(needle), "missing {needle}: {out}");
    }
}

#[test]
fn a_signed_request_verifies_and_is_decided() {
    let dir = setup();
    let d = dir.path();
    write(d, "req.json", &sign(d, "12.50 USD"));
    let out = ok(
        d,
        &[
            "verify",
            "req.json",
            "--policy",
            "policy.json",
            "--route",
            PAY,
        ],
    );
    assert!(
        out.contains("verified signed HTTP request") && out.contains("ALLOW"),
        "{out}"
    );

    write(d, "big.json", &sign(d, "150 USD"));
    let json: Value = serde_json::from_str(&fails(
        d,
        &[
            "verify",
            "big.json",
            "--policy",
            "policy.json",
            "--json",
            "--route",
            PAY,
        ],
    ))
    .unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(json["decision"]["allow"], false);
    assert_eq!(
        json["decision"]["reasons"][0]["code"],
        "amount_exceeds_ceiling"
    );

    // A tampered body: the digest no longer matches.
    let mut tampered: Value = serde_json::from_str(&sign(d, "12.50 USD")).unwrap();
    tampered["body"] = Value::String(r#"{"order":43}"#.into());
    write(d, "tampered.json", &tampered.to_string());
    let json: Value = serde_json::from_str(&fails(
        d,
        &[
            "verify",
            "tampered.json",
            "--policy",
            "policy.json",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(json["error"]["code"], "content_digest_mismatch");

    // Verified in the future, the signature has expired.
    let out = fails(
        d,
        &[
            "verify",
            "req.json",
            "--policy",
            "policy.json",
            "--route",
            PAY,
            "--at",
            "2099-01-01T00:00:00Z",
        ],
    );
    assert!(out.contains("signature_expired"), "{out}");
}

#[test]
fn explain_lists_links_checks_and_reasons() {
    let dir = setup();
    let d = dir.path();
    write(d, "big.json", &sign(d, "150 USD"));
    let out = fails(
        d,
        &[
            "explain",
            "big.json",
            "--policy",
            "policy.json",
            "--route",
            PAY,
        ],
    );
    for needle in [
        "links (1), root first",
        "[0] AgentAuthorization",
        "ok   request signature",
        "ok   keyid",
        "ok   chain:",
        "decision:",
        "DENY",
        "amount_exceeds_ceiling",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
    let out = fails(d, &["explain", "untrusted.json", "--policy", "policy.json"]);
    assert!(out.contains("FAIL untrusted_root (link [0])"), "{out}");
    assert!(out.contains("refused"), "{out}");
}

#[test]
fn sign_request_send_talks_http_to_a_local_server() {
    let dir = setup();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the head and the 13-byte body.
        while !String::from_utf8_lossy(&seen).contains(r#"{"order":42}"#) {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 402 Payment Required\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            .unwrap();
        String::from_utf8(seen).unwrap()
    });
    let url = format!("http://{addr}/pay");
    let out = kya(
        dir.path(),
        &[
            "sign-request",
            "--key",
            "agent.key",
            "--chain",
            "chain.json",
            "--method",
            "POST",
            "--url",
            &url,
            "--body",
            "body.json",
            "--send",
        ],
    );
    let request = server.join().unwrap();
    assert!(request.starts_with("POST /pay HTTP/1.1\r\n"), "{request}");
    assert!(
        request
            .to_ascii_lowercase()
            .contains("signature-input: sig1="),
        "{request}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a 402 is not success");
    assert!(
        stdout.contains("HTTP/1.1 402 Payment Required") && stdout.contains("hello"),
        "{stdout}"
    );
}

/// A request signed for merchant A is refused by merchant B (whose policy names B), even
/// though the chain is trusted by both: the signed `@authority` is A's.
#[test]
fn a_request_signed_for_another_merchant_is_refused() {
    let dir = setup();
    let d = dir.path();
    write(
        d,
        "for-a.json",
        &sign_url(d, "12.50 USD", "https://a.example/pay"),
    );
    let json: Value = serde_json::from_str(&fails(
        d,
        &[
            "verify",
            "for-a.json",
            "--policy",
            "policy.json",
            "--json",
            "--route",
            PAY,
        ],
    ))
    .unwrap();
    assert_eq!(json["error"]["code"], "authority_mismatch", "{json:#}");
    // Merchant A itself (answering to a.example) admits it.
    ok(
        d,
        &[
            "verify",
            "for-a.json",
            "--policy",
            "policy.json",
            "--route",
            PAY,
            "--authority",
            "a.example",
        ],
    );
}

/// A path no route maps does not fall back to the action the agent declares, unless the
/// merchant opts in; dot segments never reach the route map.
#[test]
fn unmapped_and_dot_segment_paths_are_refused() {
    let dir = setup();
    let d = dir.path();
    write(d, "req.json", &sign(d, "12.50 USD"));
    let out = fails(d, &["verify", "req.json", "--policy", "policy.json"]);
    assert!(out.contains("route_not_mapped"), "{out}");
    ok(
        d,
        &[
            "verify",
            "req.json",
            "--policy",
            "policy.json",
            "--declared-actions",
        ],
    );
    for path in ["/pay/../admin", "/pay/%2e%2e/admin", "/pay/%2E"] {
        let url = format!("https://shop.example{path}");
        write(d, "dots.json", &sign_url(d, "1.00 USD", &url));
        let out = fails(
            d,
            &[
                "verify",
                "dots.json",
                "--policy",
                "policy.json",
                "--declared-actions",
            ],
        );
        assert!(out.contains("path_not_normalized"), "{path}: {out}");
    }
}

/// A did:key principal revokes what it issued with a status list: `kya status create`,
/// `kya issue --status-list`, `kya verify --status-lists`, `kya status set`, refused.
#[test]
fn a_status_list_revocation_end_to_end() {
    let dir = setup();
    let d = dir.path();
    let list_url = "https://principal.example/status/1";
    std::fs::create_dir(d.join("lists")).unwrap();
    let list = ok(
        d,
        &[
            "status",
            "create",
            "--key",
            "principal.key",
            "--id",
            list_url,
        ],
    );
    write(d, "lists/principal.json", &list);
    let agent = ok(d, &["key", "did", "agent.key"]).trim().to_owned();
    let credential = issue_payments(
        d,
        &agent,
        &["--status-list", list_url, "--status-index", "7"],
    );
    write(d, "revocable.json", &format!("[{credential}]"));
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "revocable.json",
            "--policy",
            "policy.json",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = kya(d, &args);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.success(), json)
    };
    let (admitted, _) = verify(&["--status-lists", "lists"]);
    assert!(admitted);
    // Without the lists, the status cannot be checked: refused, not passed.
    let (admitted, json) = verify(&[]);
    assert!(!admitted);
    assert_eq!(json["error"]["code"], "status_list_missing", "{json}");

    // The principal revokes entry 7 and publishes the new list.
    let revoked = ok(
        d,
        &[
            "status",
            "set",
            "lists/principal.json",
            "--key",
            "principal.key",
            "--index",
            "7",
        ],
    );
    write(d, "lists/principal.json", &revoked);
    let shown = ok(
        d,
        &["status", "show", "lists/principal.json", "--index", "7"],
    );
    assert!(shown.contains("entry 7: set"), "{shown}");
    let (admitted, json) = verify(&["--status-lists", "lists"]);
    assert!(!admitted);
    assert_eq!(json["error"]["code"], "status_revoked", "{json}");

    // Only the key that signed the list may write it; a list by another issuer is refused
    // when loaded as the principal's.
    fails(
        d,
        &[
            "status",
            "set",
            "lists/principal.json",
            "--key",
            "stranger.key",
            "--index",
            "7",
            "--clear",
        ],
    );
    let forged = ok(
        d,
        &[
            "status",
            "create",
            "--key",
            "stranger.key",
            "--id",
            list_url,
        ],
    );
    write(d, "lists/principal.json", &forged);
    let (admitted, json) = verify(&["--status-lists", "lists"]);
    assert!(!admitted);
    assert_eq!(json["error"]["code"], "status_list_mismatch", "{json}");
}

/// `--signature-agent` sends the Web Bot Auth `Signature-Agent` member and signs it; the
/// merchant verifies the request, and a different URL under the signed label is refused.
#[test]
fn a_request_with_a_signature_agent_verifies() {
    let dir = setup();
    let d = dir.path();
    let signed = sign_with(
        d,
        "12.50 USD",
        "https://shop.example/pay",
        &["--signature-agent", "https://agent.example"],
    );
    assert!(
        signed.contains(r#"sig1=\"https://agent.example\""#),
        "{signed}"
    );
    write(d, "req.json", &signed);
    let verify = |file: &str| {
        kya(
            d,
            &["verify", file, "--policy", "policy.json", "--route", PAY],
        )
    };
    assert!(verify("req.json").status.success());
    write(
        d,
        "moved.json",
        &signed.replace("https://agent.example", "https://impostor.example"),
    );
    assert!(!verify("moved.json").status.success());
    // Not an https URL: refused at signing.
    fails(
        d,
        &[
            "sign-request",
            "--key",
            "agent.key",
            "--chain",
            "chain.json",
            "--url",
            "https://shop.example/pay",
            "--signature-agent",
            "http://agent.example",
        ],
    );
}

/// `kya agent card` writes a registration file `kya agent validate-card` accepts; a broken
/// one is refused with every violation; `kya agent well-known` lists the registrations.
#[test]
fn agent_cards_are_written_checked_and_verified_by_domain() {
    let dir = setup();
    let d = dir.path();
    let agent = ok(d, &["key", "did", "agent.key"]).trim().to_owned();
    let registration = "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3#7";
    let card = ok(
        d,
        &[
            "agent",
            "card",
            "--name",
            "shopper",
            "--description",
            "buys books",
            "--agent",
            &agent,
            "--service",
            "web=https://shopper.example/",
            "--registration",
            registration,
        ],
    );
    let json: Value = serde_json::from_str(&card).unwrap();
    assert_eq!(json["registrations"][0]["agentId"], 7);
    assert_eq!(json["supportedTrust"][0], "kya-credentials");
    assert_eq!(json["services"][1]["endpoint"], agent.as_str());
    write(d, "card.json", &card);
    ok(d, &["agent", "validate-card", "card.json"]);

    let mut broken = json.clone();
    broken["type"] = Value::from("https://example.com/card");
    broken["registrations"][0]["agentId"] = Value::from(-1);
    write(d, "broken.json", &broken.to_string());
    let out = fails(d, &["agent", "validate-card", "broken.json"]);
    assert!(
        out.contains("type must be") && out.contains("registrations[0]"),
        "{out}"
    );

    let file: Value = serde_json::from_str(&ok(
        d,
        &["agent", "well-known", "--registration", registration],
    ))
    .unwrap();
    assert_eq!(file["registrations"][0]["agentId"], 7);
}

/// `kya verify --redis` shares the fleet's nonces: a signed request verified once is a
/// replay for every later verifier on the same Redis; with Redis stopped it is neither
/// allowed nor refused, but `store_unavailable`.
#[test]
fn verify_with_redis_refuses_what_the_fleet_already_admitted() {
    if !kya_testkit::redis::available_or_skip(
        "verify_with_redis_refuses_what_the_fleet_already_admitted",
    ) {
        return;
    }
    let mut redis = kya_testkit::redis::RedisServer::spawn().unwrap();
    let dir = setup();
    let d = dir.path();
    // A daily budget: each admitted request is charged on the fleet's ledger.
    let agent = ok(d, &["key", "did", "agent.key"]).trim().to_owned();
    let budgeted = issue_payments(d, &agent, &["--budget", "100.00", "--budget-period", "1d"]);
    write(d, "chain.json", &format!("[{budgeted}]"));
    write(d, "request.json", &sign(d, "12.50 USD"));
    let url = redis.url();
    let args = [
        "verify",
        "request.json",
        "--policy",
        "policy.json",
        "--route",
        PAY,
        "--redis",
        &url,
        "--json",
    ];
    let first: Value = serde_json::from_str(&ok(d, &args)).unwrap();
    assert_eq!(first["decision"]["allow"], true, "{first}");
    // The nonce and the budget's charge were one script: one round trip, as a gateway's.
    assert_eq!(scripts_run(&redis), 1, "{first}");
    assert!(
        redis.query("KEYS *").unwrap_or_default().contains("budget"),
        "the budget was charged on the fleet's ledger"
    );
    let again: Value = serde_json::from_str(&fails(d, &args)).unwrap();
    assert_eq!(again["error"]["code"], "nonce_replayed", "{again}");
    redis.shutdown().unwrap();
    write(d, "request.json", &sign(d, "1.00 USD"));
    let down: Value = serde_json::from_str(&fails(d, &args)).unwrap();
    assert_eq!(down["error"]["code"], "store_unavailable", "{down}");
}

/// How many Lua scripts Redis ran to the end (`EVALSHA` calls that did not fail; a first
/// call answered `NOSCRIPT` is a failed one).
fn scripts_run(redis: &kya_testkit::redis::RedisServer) -> u64 {
    let stats = redis.query("INFO commandstats").unwrap_or_default();
    let field = |line: &str, name: &str| -> u64 {
        line.split([':', ','])
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:"))
        .map(|l| field(l, "calls") - field(l, "failed_calls"))
        .sum()
}

/// `kya attest` signs a rating; a policy with `minReputation` counts the trusted attester's
/// ratings (`kya verify --attestation`) and refuses below its minimum.
#[test]
fn attestations_meet_a_policys_minimum_reputation() {
    let dir = setup();
    let d = dir.path();
    ok(d, &["key", "generate", "--out", "rater.key"]);
    let rater = ok(d, &["key", "did", "rater.key"]).trim().to_owned();
    let principal = ok(d, &["key", "did", "principal.key"]).trim().to_owned();
    let agent = ok(d, &["key", "did", "agent.key"]).trim().to_owned();
    write(
        d,
        "reputed.json",
        &format!(
            r#"{{"trustedRoots": ["{principal}"], "audience": "{SHOP}",
                "minReputation": {{"minCount": 1, "minAverage": "80", "trustedAttesters": ["{rater}"]}}}}"#
        ),
    );
    for (file, score) in [("good.json", "92.50"), ("poor.json", "41")] {
        let a = ok(
            d,
            &[
                "attest",
                "--key",
                "rater.key",
                "--agent",
                &agent,
                "--value",
                score,
                "--tag1",
                "checkout",
            ],
        );
        write(d, file, &a);
    }
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "chain.json", "--policy", "reputed.json", "--json"];
        args.extend_from_slice(extra);
        let out = kya(d, &args);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.success(), json)
    };
    assert!(verify(&["--attestation", "good.json"]).0);
    let (admitted, json) = verify(&["--attestation", "poor.json"]);
    assert!(!admitted);
    assert_eq!(json["error"]["code"], "reputation_insufficient", "{json}");
    let (admitted, json) = verify(&[]);
    assert!(!admitted);
    assert_eq!(json["error"]["code"], "reputation_insufficient", "{json}");
    // A rating by a key the policy does not trust is refused outright.
    ok(d, &["key", "generate", "--out", "shill.key"]);
    let shill = ok(
        d,
        &[
            "attest",
            "--key",
            "shill.key",
            "--agent",
            &agent,
            "--value",
            "100",
        ],
    );
    write(d, "shill.json", &shill);
    let (admitted, json) = verify(&["--attestation", "shill.json"]);
    assert!(!admitted);
    assert_eq!(json["error"]["code"], "attestation_refused", "{json}");
}
