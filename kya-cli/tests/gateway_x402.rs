//! `kya serve` charging x402 payments, end to end: a real anvil with the registry and the
//! EIP-3009 test token, the gateway as a child process settling as its own facilitator, a
//! small upstream. An unpaid request gets 402 with the requirements; a paid one within the
//! grant is settled (the merchant's balance rises by exactly the price) before it is
//! forwarded; a replayed payment and one over the grant move nothing and reach nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod gateway_support;

use base64::Engine as _;
use gateway_support::{Reply, Served, Shop, Upstream, send};
use kya_audit::SignedReceipt;
use kya_x402::token::KyaTestUSD;
use kya_x402::{Address, PaymentRequired, PrivateKeySigner, SettleResponse, U256};

/// The token deployed and 100.00 minted to each of `payers`; its address.
fn deploy_token(shop: &Shop, payers: &[Address]) -> Address {
    let rt = runtime();
    let provider =
        kya_registry::connect_http(shop.anvil.endpoint(), Some(shop.anvil.keys()[0].clone()))
            .unwrap();
    rt.block_on(async {
        let token = KyaTestUSD::deploy(&provider).await.unwrap();
        for payer in payers {
            token
                .mint(*payer, U256::from(100_000_000u64))
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
        }
        *token.address()
    })
}

/// The shop ready to sell in the token: the token deployed with 100.00 minted to each of
/// `payers`, the agent authorised in it, the gateway's facilitator and receipt keys
/// written; the token's address.
fn ready_to_sell(shop: &Shop, payers: &[Address]) -> Address {
    let token = deploy_token(shop, payers);
    authorize_in_token(shop, token);
    std::fs::write(
        shop.path("facilitator.key"),
        format!("{}\n", shop.anvil.keys()[3].to_bytes()),
    )
    .unwrap();
    shop.kya(&["key", "generate", "--out", "receipt.key"]);
    token
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn balance(shop: &Shop, token: Address, who: Address) -> U256 {
    let provider = kya_registry::connect_http(shop.anvil.endpoint(), None).unwrap();
    runtime().block_on(async {
        KyaTestUSD::new(token, &provider)
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    })
}

fn config(shop: &Shop, upstream: &Upstream, token: Address, merchant: Address) -> String {
    config_logging_to(shop, upstream, token, merchant, "receipts")
}

/// [`config`] with its receipt log in `log_dir`.
fn config_logging_to(
    shop: &Shop,
    upstream: &Upstream,
    token: Address,
    merchant: Address,
    log_dir: &str,
) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\nmode = \"proxy\"\nupstream = \"http://{}\"\npolicy = \"policy.json\"\nauthorities = [\"shop.example\"]\n\
[[route]]\nmethod = \"POST\"\npath = \"/checkout\"\naction = \"payments/send\"\n[route.x402]\nprice = \"12.50\"\n\
[[route]]\nmethod = \"POST\"\npath = \"/big\"\naction = \"payments/send\"\n[route.x402]\nprice = \"30.00\"\n\
{}\n[x402]\nrpc = \"{}\"\nchain_id = 31337\ntoken = \"{token}\"\npay_to = \"{merchant}\"\neth_key_file = \"facilitator.key\"\nsettle_timeout_seconds = 3\n\
[receipts]\nlog_dir = \"{log_dir}\"\nkey_file = \"receipt.key\"\norigin = \"shop.example/kya/receipts\"\n",
        upstream.addr,
        shop.registry_toml(),
        shop.anvil.endpoint(),
    )
}

/// An authorisation for payments up to 25.00 of the token each, 40.00 a day, at
/// shop.example, replacing the shared one (whose grants are in USD).
fn authorize_in_token(shop: &Shop, token: Address) {
    let asset = kya_x402::caip19_erc20(31_337, token).unwrap().to_string();
    let old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shop.path("authorization.json")).unwrap()).unwrap();
    let reg = &old["credentialSubject"]["registration"];
    let registration = format!(
        "{}#{}",
        reg["agentRegistry"].as_str().unwrap(),
        reg["agentId"].as_str().unwrap()
    );
    let auth = shop.kya(&[
        "issue",
        "--key",
        "issuing.key",
        "--issuer",
        &shop.company,
        "--agent",
        &shop.agent,
        "--registration",
        &registration,
        "--valid-for",
        "1d",
        "--action",
        "payments",
        "--max-amount",
        "25.00",
        "--budget",
        "40.00",
        "--budget-period",
        "1d",
        "--asset",
        &asset,
        "--audience",
        "did:web:shop.example",
    ]);
    std::fs::write(shop.path("authorization.json"), auth).unwrap();
}

/// The `PAYMENT-REQUIRED` of a 402, decoded (and the body, which carries the same JSON).
fn required_of(r: &Reply) -> PaymentRequired {
    assert_eq!(r.status, 402, "{}", r.body);
    let header = r
        .headers
        .get("payment-required")
        .unwrap_or_else(|| panic!("no PAYMENT-REQUIRED: {:?}", r.headers));
    let required = PaymentRequired::from_header(header).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap(),
        serde_json::to_value(&required).unwrap(),
        "the 402's body is the requirements"
    );
    required
}

fn paid(shop: &Shop, path: &str, payment: &str) -> Vec<(String, String)> {
    let mut h = shop.sign("POST", path, None);
    h.push(("PAYMENT-SIGNATURE".into(), payment.to_owned()));
    h
}

/// The requirements a request to `path` without a payment is answered with.
fn requirements(gw: &Served, shop: &Shop, path: &str) -> PaymentRequired {
    required_of(&send(
        &gw.addr,
        "POST",
        path,
        &shop.sign("POST", path, None),
        b"",
    ))
}

/// A request to `path` carrying `payment`.
fn send_paid(gw: &Served, shop: &Shop, path: &str, payment: &str) -> Reply {
    send(&gw.addr, "POST", path, &paid(shop, path, payment), b"")
}

fn pay(wallet: &PrivateKeySigner, required: &PaymentRequired) -> String {
    kya_x402::create_payment(
        wallet,
        required,
        &required.accepts[0],
        kya_core::Timestamp::now(),
    )
    .unwrap()
    .to_header()
}

fn receipt_of(r: &Reply) -> SignedReceipt {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(r.headers.get("kya-receipt").unwrap())
        .unwrap();
    SignedReceipt::from_slice(&bytes).unwrap()
}

#[test]
fn pays_within_the_grant_once_and_refuses_replays_and_overspends_without_moving_money() {
    let shop = Shop::new();
    // The agent's registered wallet (ERC-8004: the owner's, by default) pays.
    let wallet = shop.anvil.keys()[1].clone();
    let merchant = shop.anvil.keys()[4].address();
    // Funded, but tied to neither the agent nor its principal.
    let stranger = shop.anvil.keys()[5].clone();
    let token = ready_to_sell(&shop, &[wallet.address(), stranger.address()]);
    let upstream = Upstream::start();
    let gw = Served::start(shop.dir.path(), &config(&shop, &upstream, token, merchant));
    gw.wait_synced();
    let start = (
        balance(&shop, token, merchant),
        balance(&shop, token, wallet.address()),
    );

    // Unpaid: 402 with the requirements, nothing forwarded.
    let r = send(
        &gw.addr,
        "POST",
        "/checkout",
        &shop.sign("POST", "/checkout", None),
        b"",
    );
    let required = required_of(&r);
    assert_eq!(required.x402_version, 2);
    assert_eq!(required.resource.url, "https://shop.example/checkout");
    let req = &required.accepts[0];
    assert_eq!(
        (
            req.scheme.as_str(),
            req.network.as_str(),
            req.amount.as_str()
        ),
        ("exact", "eip155:31337", "12500000")
    );
    assert_eq!(req.asset, token.to_checksum(None));
    assert_eq!(req.pay_to, merchant.to_checksum(None));
    assert_eq!(r.codes(), Vec::<String>::new(), "the body is not a problem");
    assert_eq!(upstream.hits(), 0);

    // Paid 12.50 within the grant of 25.00: settled, then forwarded once.
    let payment = pay(&wallet, &required);
    let r = send_paid(&gw, &shop, "/checkout", &payment);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(upstream.hits(), 1);
    let settled = SettleResponse::from_header(r.headers.get("payment-response").unwrap()).unwrap();
    assert!(settled.success);
    assert_eq!(settled.network, "eip155:31337");
    assert_eq!(
        settled.payer.as_deref(),
        Some(wallet.address().to_checksum(None).as_str())
    );
    let forwarded: serde_json::Value = r.json();
    assert_eq!(
        forwarded["identity"]["kya-verified-payment-transaction"].as_str(),
        Some(settled.transaction.as_str())
    );
    let after = (
        balance(&shop, token, merchant),
        balance(&shop, token, wallet.address()),
    );
    assert_eq!(
        after.0 - start.0,
        U256::from(12_500_000u64),
        "merchant +12.50 exactly"
    );
    assert_eq!(
        start.1 - after.1,
        U256::from(12_500_000u64),
        "payer -12.50 exactly"
    );
    let receipt = receipt_of(&r);
    let s = receipt.receipt().activity.settlement.clone().unwrap();
    assert_eq!(s.transaction, settled.transaction);
    assert_eq!(s.network, "eip155:31337");

    // The same payment under a fresh kya signature: the settlement is refused, nothing moves,
    // nothing is forwarded.
    let r = send_paid(&gw, &shop, "/checkout", &payment);
    assert_eq!(r.status, 402, "{}", r.body);
    assert_eq!(r.codes(), ["x402_settlement_failed"]);
    let failed = SettleResponse::from_header(r.headers.get("payment-response").unwrap()).unwrap();
    assert!(!failed.success);
    assert_eq!(
        failed.error_reason.as_deref(),
        Some("invalid_transaction_state")
    );
    assert!(receipt_of(&r).receipt().activity.settlement.is_none());
    assert_eq!(upstream.hits(), 1);
    assert_eq!(balance(&shop, token, merchant), after.0);

    let metrics = gw.get("/metrics").body;
    assert!(
        metrics.contains("kya_gateway_settlements_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kya_gateway_settlement_errors_total 1\n"),
        "{metrics}"
    );

    // 30.00, over the grant's 25.00: refused before settlement, no transfer, not forwarded.
    let dear = requirements(&gw, &shop, "/big");
    assert_eq!(dear.accepts[0].amount, "30000000");
    let r = send_paid(&gw, &shop, "/big", &pay(&wallet, &dear));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.codes(), ["x402_grants_deny"]);
    assert!(r.headers.contains_key("payment-required"));
    assert!(!r.headers.contains_key("payment-response"));
    assert_eq!(upstream.hits(), 1);
    assert_eq!(balance(&shop, token, merchant), after.0);
    assert_eq!(balance(&shop, token, wallet.address()), after.1);

    // A payer that is neither the agent's registered wallet nor its principal's: refused
    // before settlement, nothing moves.
    let required = requirements(&gw, &shop, "/checkout");
    let r = send_paid(&gw, &shop, "/checkout", &pay(&stranger, &required));
    // A refused payment is a 402 whose requirements say why (x402); the stable code is in
    // the receipt.
    let again = required_of(&r);
    assert!(
        again
            .error
            .as_deref()
            .is_some_and(|e| e.contains("neither the agent's registered wallet")),
        "{:?}",
        again.error
    );
    let refused = receipt_of(&r);
    assert_eq!(
        refused.receipt().activity.decision.reasons[0].code,
        "x402_payer_not_agent"
    );
    assert_eq!(upstream.hits(), 1);
    assert_eq!(balance(&shop, token, merchant), after.0);
    assert_eq!(
        balance(&shop, token, stranger.address()),
        U256::from(100_000_000u64)
    );

    // The CLI's agent side: `kya sign-request --payment-required` reads the 402, chooses what
    // the grants allow, signs with the wallet key from the environment and adds
    // PAYMENT-SIGNATURE beside the kya signature.
    let r = send(
        &gw.addr,
        "POST",
        "/checkout",
        &shop.sign("POST", "/checkout", None),
        b"",
    );
    required_of(&r);
    std::fs::write(
        shop.path("402.txt"),
        r.headers.get("payment-required").unwrap(),
    )
    .unwrap();
    let r = send(
        &gw.addr,
        "POST",
        "/checkout",
        &cli_paid(&shop, "/checkout", &wallet),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(upstream.hits(), 2);
    assert!(
        SettleResponse::from_header(r.headers.get("payment-response").unwrap())
            .unwrap()
            .success
    );
    assert_eq!(
        balance(&shop, token, merchant) - after.0,
        U256::from(12_500_000u64)
    );

    // Over the grant, the CLI refuses to pay at all.
    let r = send(
        &gw.addr,
        "POST",
        "/big",
        &shop.sign("POST", "/big", None),
        b"",
    );
    std::fs::write(
        shop.path("402.txt"),
        r.headers.get("payment-required").unwrap(),
    )
    .unwrap();
    let out = cli(&shop, "/big", &wallet);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("allow none of the 1 payment requirements"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `kya sign-request --send --pay`: sends, reads the 402, pays, sends again. A second
    // gateway instance that also answers for its own address (the CLI speaks plain http to
    // the URL's host), without receipts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let second = config(&shop, &upstream, token, merchant)
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace(
            "authorities = [\"shop.example\"]",
            &format!("authorities = [\"shop.example\", \"127.0.0.1:{port}\"]"),
        )
        .replace("snapshot.json", "snapshot-2.json");
    let second = &second[..second.find("[receipts]").unwrap()];
    std::fs::create_dir(shop.path("second")).unwrap();
    for f in ["policy.json", "registry.json", "facilitator.key"] {
        std::fs::copy(shop.path(f), shop.path("second").join(f)).unwrap();
    }
    let gw2 = Served::start(&shop.path("second"), second);
    gw2.wait_synced();
    let before = balance(&shop, token, merchant);
    let url = format!("http://127.0.0.1:{port}/checkout");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kya"))
        .args([
            "sign-request",
            "--key",
            "agent.key",
            "--chain",
            "authorization.json",
            "--method",
            "POST",
            "--url",
            &url,
            "--send",
            "--pay",
            "--pay-audience",
            "did:web:shop.example",
        ])
        .current_dir(shop.dir.path())
        .env("KYA_ETH_KEY", format!("{}", wallet.to_bytes()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("HTTP/1.1 200"), "{stdout}");
    let response = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PAYMENT-RESPONSE: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(SettleResponse::from_header(response).unwrap().success);
    assert_eq!(
        balance(&shop, token, merchant) - before,
        U256::from(12_500_000u64)
    );
    assert_eq!(upstream.hits(), 3);
    drop(gw2);

    // A node that takes the settlement transaction but does not mine it within the
    // settlement timeout (3 s here): 504 `x402_settlement_unconfirmed` naming the
    // transaction, not forwarded. Mined later, it moves the money, which is why this is not a
    // 402 (an answer that tells the payer to pay again).
    let before = balance(&shop, token, merchant);
    shop.rpc("evm_setAutomine", "[false]");
    let required = requirements(&gw, &shop, "/checkout");
    let r = send_paid(&gw, &shop, "/checkout", &pay(&wallet, &required));
    assert_eq!(r.status, 504, "{}", r.body);
    assert_eq!(r.codes(), ["x402_settlement_unconfirmed"]);
    let pending = SettleResponse::from_header(r.headers.get("payment-response").unwrap()).unwrap();
    assert!(!pending.success);
    assert_eq!(
        pending.error_reason.as_deref(),
        Some("unexpected_settle_error")
    );
    assert_eq!(pending.transaction.len(), 66, "{}", pending.transaction);
    assert_eq!(upstream.hits(), 3);
    assert_eq!(balance(&shop, token, merchant), before);
    shop.rpc("evm_setAutomine", "[true]");
    shop.rpc("evm_mine", "[]");
    assert_eq!(
        balance(&shop, token, merchant) - before,
        U256::from(12_500_000u64),
        "the unconfirmed settlement landed"
    );
    // That 12.50 stays charged, since it could have settled (it did): of the 40.00 a day,
    // 37.50 is spent (12.50 twice settled here, 12.50 unconfirmed; the replayed payment's
    // charge was given back when its settlement failed with nothing moved, or the unconfirmed
    // one would have been refused), so 12.50 more is refused before any money moves.
    let required = requirements(&gw, &shop, "/checkout");
    let r = send_paid(&gw, &shop, "/checkout", &pay(&wallet, &required));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.codes(), ["x402_grants_deny"]);
    assert!(r.body.contains("budget_exhausted"), "{}", r.body);
    let mined = shop.rpc(
        "eth_getTransactionReceipt",
        &format!("[\"{}\"]", pending.transaction),
    );
    assert_eq!(mined["status"].as_str(), Some("0x1"), "{mined}");

    // After the principal revokes the authorisation on chain, the same kind of paid request
    // is refused before any money moves.
    let paid_so_far = balance(&shop, token, merchant);
    let required = requirements(&gw, &shop, "/checkout");
    let payment = pay(&wallet, &required);
    shop.revoke_authorization();
    let revoked_at = shop.block_number();
    gw.wait_for("the revocation's block", |m| {
        m.lines()
            .find_map(|l| l.strip_prefix("kya_gateway_registry_block "))
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|b| b >= revoked_at)
    });
    let r = send_paid(&gw, &shop, "/checkout", &payment);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.codes().iter().any(|c| c.starts_with("revoked")),
        "{}",
        r.body
    );
    assert!(!r.headers.contains_key("payment-response"));
    assert_eq!(upstream.hits(), 3);
    assert_eq!(balance(&shop, token, merchant), paid_so_far);
}

fn cli(shop: &Shop, path: &str, wallet: &PrivateKeySigner) -> std::process::Output {
    let url = format!("https://shop.example{path}");
    std::process::Command::new(env!("CARGO_BIN_EXE_kya"))
        .args([
            "sign-request",
            "--key",
            "agent.key",
            "--chain",
            "authorization.json",
            "--method",
            "POST",
            "--url",
            &url,
            "--payment-required",
            "402.txt",
            "--json",
        ])
        .current_dir(shop.dir.path())
        .env("KYA_ETH_KEY", format!("{}", wallet.to_bytes()))
        .output()
        .unwrap()
}

/// The headers of a request `kya sign-request --payment-required` signed and paid.
fn cli_paid(shop: &Shop, path: &str, wallet: &PrivateKeySigner) -> Vec<(String, String)> {
    let out = cli(shop, path, wallet);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let headers = signed["headers"].as_object().unwrap();
    assert!(headers.contains_key("PAYMENT-SIGNATURE"));
    let mut h = vec![("Host".to_owned(), "shop.example".to_owned())];
    for (n, v) in headers {
        if !n.eq_ignore_ascii_case("host") {
            h.push((n.clone(), v.as_str().unwrap().to_owned()));
        }
    }
    h
}

/// Money moves only for a request that is then served. A receipt log that fails as a paid
/// request is recorded does not turn the settled payment into a 503 (the payer would have
/// paid for nothing and been told to retry): the request is served, its transaction on chain
/// is its record. Once the log has stopped, no payment is settled at all: 503
/// `receipt_unavailable` before any money moves, nothing forwarded, no settlement named.
#[test]
fn a_receipt_log_that_fails_never_takes_money_for_nothing() {
    let shop = Shop::new();
    let wallet = shop.anvil.keys()[1].clone();
    let merchant = shop.anvil.keys()[4].address();
    let token = ready_to_sell(&shop, &[wallet.address()]);
    gateway_support::full_disk_receipt_log(&shop.path("receipts"));
    let upstream = Upstream::start();
    // The terms, from an instance of the same shop whose log works.
    let terms = Served::start(
        shop.dir.path(),
        &config_logging_to(&shop, &upstream, token, merchant, "receipts-ok"),
    );
    terms.wait_synced();
    let broken = Served::start(shop.dir.path(), &config(&shop, &upstream, token, merchant));
    broken.wait_synced();
    let before = balance(&shop, token, merchant);

    // The first receipt fails as the paid request is recorded: served all the same.
    let payment = pay(&wallet, &requirements(&terms, &shop, "/checkout"));
    let r = send_paid(&broken, &shop, "/checkout", &payment);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(upstream.hits(), 1);
    assert!(!r.headers.contains_key("kya-receipt"), "{:?}", r.headers);
    let settled = SettleResponse::from_header(&r.headers["payment-response"]).unwrap();
    assert!(settled.success);
    let paid_once = balance(&shop, token, merchant);
    assert_eq!(paid_once - before, U256::from(12_500_000u64));

    // The log has stopped: the next payment is not taken.
    let payment = pay(&wallet, &requirements(&terms, &shop, "/checkout"));
    let r = send_paid(&broken, &shop, "/checkout", &payment);
    assert_eq!(
        (r.status, r.codes()),
        (503, vec!["receipt_unavailable".to_owned()]),
        "{}",
        r.body
    );
    assert!(
        !r.headers.contains_key("payment-response"),
        "{:?}",
        r.headers
    );
    assert_eq!(balance(&shop, token, merchant), paid_once);
    assert_eq!(upstream.hits(), 1);
}
