//! Interoperability with the official x402 TypeScript packages (`@x402/core`, `@x402/evm`,
//! pinned in `kya-x402/interop/package-lock.json`, installed by `scripts/install-tools.sh`):
//! their client pays a kya-gated checkout on anvil (and is refused when the grants or the
//! wallet do not allow it); their facilitator verifies and settles a payment kya's agent made.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{CHECKOUT, Shop};
use kya_core::Timestamp;
use kya_x402::{
    PaidRefusal, PaymentPayload, PaymentRequired, PrivateKeySigner, U256, create_payment,
};
use serde_json::{Value, json};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Runs `node interop.mjs <command>` with `input` on stdin; its JSON answer.
fn node(command: &str, input: &Value) -> Value {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/@x402/evm/package.json").is_file(),
        "the official x402 packages are not installed in {}: run scripts/install-tools.sh",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("interop.mjs")
        .arg(command)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (>= 20) on PATH");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node interop.mjs {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn private_key(k: &PrivateKeySigner) -> String {
    format!("{:#x}", k.to_bytes())
}

/// The official client answers the 402 of `gate` with `wallet`'s key.
fn official_pay(shop: &Shop, gate: &kya_x402::PaidGate, wallet: &PrivateKeySigner) -> String {
    let header = match gate.admit(&shop.request(CHECKOUT, None, None)) {
        Err(r @ PaidRefusal::PaymentRequired(_)) => r.payment_required_header().unwrap(),
        other => panic!("expected 402, got {other:?}"),
    };
    let out = node(
        "pay",
        &json!({
            "privateKey": private_key(wallet),
            "paymentRequired": header,
            "allowedAssets": [{"network": "eip155:31337", "asset": shop.token.to_checksum(None)}],
        }),
    );
    assert_eq!(
        out["schema"], true,
        "kya's PaymentRequired passes the official schema"
    );
    out["paymentSignature"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_pays_a_kya_gated_checkout() {
    let shop = Shop::open("25.00", None).await;
    let gate = shop.gate("12.50");
    let header = official_pay(&shop, &gate, &shop.agent_wallet);
    // The official payload parses strictly here (every field known, every value typed).
    let payload = PaymentPayload::from_header(&header).unwrap();
    assert_eq!(payload.accepted.amount, "12500000");
    let before = shop.balance(shop.merchant).await;
    let admitted = gate
        .admit(&shop.request(CHECKOUT, Some("12.50"), Some(&header)))
        .unwrap()
        .unwrap();
    let settled = shop
        .facilitator
        .settle(&admitted.payment.payload, &admitted.payment.requirements)
        .await
        .unwrap();
    assert_eq!(settled.payer, shop.agent_wallet.address());
    assert_eq!(
        shop.balance(shop.merchant).await - before,
        U256::from(12_500_000u64)
    );

    // Above the grant (a price of 30.00 against a ceiling of 25.00): refused, nothing moves.
    let dear = shop.gate("30.00");
    let header = official_pay(&shop, &dear, &shop.agent_wallet);
    let before = shop.balance(shop.merchant).await;
    let refusal = dear
        .admit(&shop.request(CHECKOUT, None, Some(&header)))
        .unwrap_err();
    assert_eq!(refusal.code(), "x402_grants_deny");
    assert_eq!(refusal.status(), 403);
    // From a wallet the registry does not tie to the agent: refused.
    let header = official_pay(&shop, &gate, &shop.stranger);
    let refusal = gate
        .admit(&shop.request(CHECKOUT, None, Some(&header)))
        .unwrap_err();
    assert_eq!(refusal.code(), "x402_payer_not_agent");
    assert_eq!(shop.balance(shop.merchant).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_facilitator_verifies_and_settles_a_kya_payment() {
    let shop = Shop::open("25.00", None).await;
    let terms = shop.terms("12.50");
    let required = terms
        .payment_required(
            kya_x402::ResourceInfo {
                url: "https://shop.example/api/checkout".into(),
                description: None,
                mime_type: None,
            },
            None,
        )
        .unwrap();
    let requirements = required.accepts[0].clone();
    let paid = create_payment(
        &shop.agent_wallet,
        &required,
        &requirements,
        Timestamp::now(),
    )
    .unwrap();
    let facilitator_key = private_key(&shop.anvil.keys()[7]);
    let input = |payload: &PaymentPayload, settle: bool| {
        json!({
            "rpc": shop.anvil.endpoint(),
            "privateKey": facilitator_key,
            "paymentSignature": payload.to_header(),
            "paymentRequirements": serde_json::to_value(&requirements).unwrap(),
            "settle": settle,
        })
    };

    // Tampered (value changed after signing): the official verification refuses it.
    let mut tampered = paid.clone();
    tampered.payload.authorization.value = "12500001".into();
    let out = node("verify", &input(&tampered, false));
    assert_eq!(out["verify"]["isValid"], false, "{out}");

    let before = shop.balance(shop.merchant).await;
    let out = node("verify", &input(&paid, true));
    assert_eq!(
        out["schema"],
        json!({"payload": true, "requirements": true}),
        "{out}"
    );
    assert_eq!(out["verify"]["isValid"], true, "{out}");
    assert_eq!(out["settle"]["success"], true, "{out}");
    // The official settle response is kya's type too, and the money moved exactly once.
    let settle: kya_x402::SettleResponse = serde_json::from_value(out["settle"].clone()).unwrap();
    assert_eq!(settle.network, "eip155:31337");
    assert_eq!(
        shop.balance(shop.merchant).await - before,
        U256::from(12_500_000u64)
    );
    // Replayed to kya's facilitator after the official one settled it: refused.
    assert!(matches!(
        shop.facilitator.settle(&paid, &requirements).await,
        Err(kya_x402::FacilitatorError::AlreadySettled { .. })
    ));
    let _ = PaymentRequired::from_header(&required.to_header()).unwrap();
}
