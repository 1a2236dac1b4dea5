//! x402 payments checked against the agent's grants, settled on a real anvil: the paid
//! checkout, and every refusal leaving every balance where it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{CHECKOUT, Shop, grants_of, pay};
use kya_core::Timestamp;
use kya_core::grant::Action;
use kya_x402::{
    Address, B256, ExactAuthorization, Facilitator, FacilitatorError, KnownToken, PaidRefusal,
    PaymentPayload, PaymentRequired, PrivateKeySigner, SettleResponse, TokenDomain, U256,
    choose_requirements, create_payment,
};

const PRICE_ATOMIC: u64 = 12_500_000;

/// The 402 for an unpaid checkout, as the client reads it.
fn payment_required(shop: &Shop, gate: &kya_x402::PaidGate) -> String {
    match gate.admit(&shop.request(CHECKOUT, None, None)) {
        Err(r @ PaidRefusal::PaymentRequired(_)) => {
            assert_eq!(r.status(), 402);
            r.payment_required_header().unwrap()
        }
        other => panic!("expected 402, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_12_50_within_a_grant_of_25_and_never_twice() {
    let shop = Shop::open("25.00", None).await;
    let gate = shop.gate("12.50");
    let header = payment_required(&shop, &gate);
    let required = PaymentRequired::from_header(&header).unwrap();
    assert_eq!(required.accepts[0].amount, "12500000");
    assert_eq!(required.resource.url, "https://shop.example/api/checkout");

    let payment = pay(&shop, &shop.agent_wallet, &header);
    let before = (
        shop.balance(shop.merchant).await,
        shop.balance(shop.agent_wallet.address()).await,
    );
    let admitted = gate
        .admit(&shop.request(CHECKOUT, Some("12.50"), Some(&payment)))
        .unwrap()
        .expect("a priced route");
    assert_eq!(admitted.payment.payer, shop.agent_wallet.address());
    assert_eq!(admitted.payment.role, kya_x402::PayerRole::AgentWallet);
    assert!(admitted.payment.decision.is_allowed());
    let settled = shop
        .facilitator
        .settle(&admitted.payment.payload, &admitted.payment.requirements)
        .await
        .unwrap();
    let response = SettleResponse::from_header(&settled.response().to_header()).unwrap();
    assert!(response.success);
    assert_eq!(response.network, "eip155:31337");
    assert_eq!(response.transaction, format!("{:#x}", settled.transaction));
    let after = (
        shop.balance(shop.merchant).await,
        shop.balance(shop.agent_wallet.address()).await,
    );
    assert_eq!(
        after.0 - before.0,
        U256::from(PRICE_ATOMIC),
        "merchant +12.50 exactly"
    );
    assert_eq!(
        before.1 - after.1,
        U256::from(PRICE_ATOMIC),
        "agent -12.50 exactly"
    );

    // The same payload again, to this facilitator and to a second instance (another account):
    // refused, nothing moves.
    let again = shop
        .facilitator
        .settle(&admitted.payment.payload, &admitted.payment.requirements)
        .await
        .unwrap_err();
    assert!(
        matches!(again, FacilitatorError::AlreadySettled { .. }),
        "{again}"
    );
    let second = Facilitator::connect(shop.anvil.endpoint(), shop.anvil.keys()[6].clone())
        .await
        .unwrap();
    let replay = second
        .settle(&admitted.payment.payload, &admitted.payment.requirements)
        .await
        .unwrap_err();
    assert!(
        matches!(replay, FacilitatorError::AlreadySettled { .. }),
        "{replay}"
    );
    // Verification alone refuses it too.
    let v = second
        .verify(&admitted.payment.payload, &admitted.payment.requirements)
        .await;
    assert!(v.is_err());
    assert_eq!(
        shop.balance(shop.merchant).await,
        after.0,
        "replays move nothing"
    );
    assert_eq!(shop.balance(shop.agent_wallet.address()).await, after.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_settlements_of_one_payload_settle_once() {
    let shop = Shop::open("25.00", None).await;
    let gate = shop.gate("12.50");
    let payment = pay(&shop, &shop.agent_wallet, &payment_required(&shop, &gate));
    let admitted = gate
        .admit(&shop.request(CHECKOUT, None, Some(&payment)))
        .unwrap()
        .unwrap();
    let before = shop.balance(shop.merchant).await;
    let (p, r) = (&admitted.payment.payload, &admitted.payment.requirements);
    let other = Facilitator::connect(shop.anvil.endpoint(), shop.anvil.keys()[6].clone())
        .await
        .unwrap();
    let (a, b, c) = tokio::join!(
        shop.facilitator.settle(p, r),
        shop.facilitator.settle(p, r),
        other.settle(p, r)
    );
    let ok = [a.is_ok(), b.is_ok(), c.is_ok()];
    assert_eq!(ok.iter().filter(|x| **x).count(), 1, "{a:?} {b:?} {c:?}");
    assert_eq!(
        shop.balance(shop.merchant).await - before,
        U256::from(PRICE_ATOMIC),
        "exactly one transfer"
    );
}

fn random_nonce() -> B256 {
    use rand_core::RngCore as _;
    let mut n = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut n);
    B256::from(n)
}

/// A signed authorization with every field chosen by the test.
fn forged(
    shop: &Shop,
    wallet: &PrivateKeySigner,
    edit: impl FnOnce(&mut ExactAuthorization, &mut kya_x402::PaymentRequirements, &mut String),
) -> String {
    let gate = shop.gate("12.50");
    let mut required = PaymentRequired::from_header(&payment_required(shop, &gate)).unwrap();
    let mut req = required.accepts[0].clone();
    let now = Timestamp::now().unix();
    let mut auth = ExactAuthorization {
        from: wallet.address(),
        to: shop.merchant,
        value: U256::from(PRICE_ATOMIC),
        valid_after: U256::from(now - 600),
        valid_before: U256::from(now + 100),
        nonce: random_nonce(),
    };
    let mut url = required.resource.url.clone();
    edit(&mut auth, &mut req, &mut url);
    required.resource.url = url;
    let sig = TokenDomain::of_requirements(&req)
        .unwrap()
        .sign(wallet, &auth)
        .unwrap();
    PaymentPayload {
        x402_version: 2,
        resource: Some(required.resource.clone()),
        accepted: req,
        payload: kya_x402::ExactEvmPayload {
            signature: format!("0x{}", hex::encode(sig.0)),
            authorization: kya_x402::Authorization::from_parsed(&auth),
        },
        extensions: None,
    }
    .to_header()
}

fn refusal_code(gate: &kya_x402::PaidGate, request: &kya_verify::http::HttpRequest) -> String {
    match gate.admit(request) {
        Ok(a) => panic!("admitted: {a:?}"),
        Err(r) => {
            if let PaidRefusal::Payment { .. } = &r {
                assert!(
                    r.payment_required_header().is_some(),
                    "402 repeats the requirements"
                );
            }
            r.code().to_owned()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_payments_move_no_money() {
    let shop = Shop::open("25.00", None).await;
    let mut other_token = shop.terms("12.50");
    other_token.token = Address::repeat_byte(0x77);
    let balances = || async {
        (
            shop.balance(shop.merchant).await,
            shop.balance(shop.other_merchant).await,
            shop.balance(shop.agent_wallet.address()).await,
            shop.balance(shop.stranger.address()).await,
        )
    };
    let start = balances().await;
    let w = &shop.agent_wallet;
    let cases: Vec<(&str, String, &str, Option<&str>)> = vec![
        // (what, payment, path, the code expected)
        (
            "amount above the grant",
            {
                let g = shop.gate("30.00");
                pay_unchecked(&shop, w, &g)
            },
            "30",
            Some("x402_grants_deny"),
        ),
        (
            "wrong token",
            forged(&shop, w, |_, r, _| {
                r.asset = format!("{:#x}", Address::repeat_byte(0x77))
            }),
            "",
            Some("x402_asset_mismatch"),
        ),
        (
            "wrong network",
            forged(&shop, w, |_, r, _| r.network = "eip155:1".into()),
            "",
            Some("x402_network_mismatch"),
        ),
        (
            "payer not the agent's wallet",
            forged(&shop, &shop.stranger, |_, _, _| {}),
            "",
            Some("x402_payer_not_agent"),
        ),
        (
            "pay to another merchant",
            forged(&shop, w, |a, r, _| {
                a.to = shop.other_merchant;
                r.pay_to = shop.other_merchant.to_checksum(None);
            }),
            "",
            Some("x402_recipient_mismatch"),
        ),
        (
            "authorization to another merchant under our requirements",
            forged(&shop, w, |a, _, _| a.to = shop.other_merchant),
            "",
            Some("x402_recipient_mismatch"),
        ),
        (
            "another resource",
            forged(&shop, w, |_, _, u| {
                *u = "https://shop.example/api/other".into()
            }),
            "",
            Some("x402_resource_mismatch"),
        ),
        (
            "expired",
            forged(&shop, w, |a, _, _| {
                a.valid_before = U256::from(Timestamp::now().unix() - 1)
            }),
            "",
            Some("x402_authorization_expired"),
        ),
        (
            "not yet valid",
            forged(&shop, w, |a, _, _| {
                a.valid_after = U256::from(Timestamp::now().unix() + 30)
            }),
            "",
            Some("x402_authorization_not_yet_valid"),
        ),
        (
            "window longer than the merchant's",
            forged(&shop, w, |a, _, _| {
                a.valid_before = U256::from(Timestamp::now().unix() + 86_400)
            }),
            "",
            Some("x402_authorization_window_too_long"),
        ),
        (
            "less than the price",
            forged(&shop, w, |a, r, _| {
                a.value = U256::from(1u64);
                r.amount = "1".into();
            }),
            "",
            Some("x402_amount_mismatch"),
        ),
        (
            "signature by another key",
            forged(&shop, &shop.stranger, |a, _, _| {
                a.from = shop.agent_wallet.address()
            }),
            "",
            Some("x402_signature_invalid"),
        ),
    ];
    for (what, payment, price, code) in &cases {
        let gate = if *price == "30" {
            shop.gate("30.00")
        } else {
            shop.gate("12.50")
        };
        let got = refusal_code(&gate, &shop.request(CHECKOUT, None, Some(payment)));
        assert_eq!(Some(got.as_str()), *code, "{what}");
    }
    // The signed request declares 10.00 but pays 12.50.
    let gate = shop.gate("12.50");
    let payment = pay(&shop, w, &payment_required(&shop, &gate));
    assert_eq!(
        refusal_code(
            &gate,
            &shop.request(CHECKOUT, Some("10.00"), Some(&payment))
        ),
        "x402_declared_amount_mismatch"
    );
    // A malformed header.
    assert_eq!(
        refusal_code(&gate, &shop.request(CHECKOUT, None, Some("e30="))),
        "x402_payload_invalid"
    );
    // The facilitator refuses on its own what it can see: expired, wrong chain, value.
    let expired = PaymentPayload::from_header(&forged(&shop, w, |a, _, _| {
        a.valid_before = U256::from(Timestamp::now().unix() - 1)
    }))
    .unwrap();
    let req = shop.terms("12.50").requirements().unwrap();
    assert!(shop.facilitator.settle(&expired, &req).await.is_err());
    let mut chain1 = req.clone();
    chain1.network = "eip155:1".into();
    let on_chain1 =
        PaymentPayload::from_header(&forged(&shop, w, |_, r, _| r.network = "eip155:1".into()))
            .unwrap();
    assert!(matches!(
        shop.facilitator.settle(&on_chain1, &chain1).await,
        Err(FacilitatorError::WrongChain {
            expected: 1,
            actual: 31_337
        })
    ));
    let mut tampered = PaymentPayload::from_header(&payment).unwrap();
    tampered.payload.authorization.value = "1".into();
    assert!(shop.facilitator.settle(&tampered, &req).await.is_err());
    assert_eq!(balances().await, start, "no refusal moved any money");
}

/// Pays whatever the 402 asks, without asking the grants (an agent that ignores them).
fn pay_unchecked(shop: &Shop, wallet: &PrivateKeySigner, gate: &kya_x402::PaidGate) -> String {
    let header = payment_required(shop, gate);
    let required = PaymentRequired::from_header(&header).unwrap();
    create_payment(wallet, &required, &required.accepts[0], Timestamp::now())
        .unwrap()
        .to_header()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_chain_pays_nothing() {
    let shop = Shop::open("25.00", None).await;
    let gate = shop.gate("12.50");
    let payment = pay(&shop, &shop.agent_wallet, &payment_required(&shop, &gate));
    shop.registry
        .revoke(&shop.registration, shop.leaf_digest, 9, Timestamp::now());
    let before = shop.balance(shop.merchant).await;
    let refusal = gate
        .admit(&shop.request(CHECKOUT, None, Some(&payment)))
        .unwrap_err();
    assert_eq!(refusal.code(), "revoked", "{refusal:?}");
    assert_eq!(refusal.status(), 401);
    assert_eq!(shop.balance(shop.merchant).await, before);
    // The agent's wallet unset in the registry: the same payer is no longer the agent's.
    let shop = Shop::open("25.00", None).await;
    let gate = shop.gate("12.50");
    let payment = pay(&shop, &shop.agent_wallet, &payment_required(&shop, &gate));
    shop.registry.set_agent_wallet(&shop.registration, None);
    assert_eq!(
        refusal_code(&gate, &shop.request(CHECKOUT, None, Some(&payment))),
        "x402_payer_not_agent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_in_usd_does_not_cover_a_token_payment() {
    // kya compares assets exactly: a grant in "USD" is not a grant in the token.
    let shop = Shop::open("25.00", Some("USD")).await;
    let gate = shop.gate("12.50");
    let header = payment_required(&shop, &gate);
    let grants = grants_of(&shop.chain[1]);
    let required = PaymentRequired::from_header(&header).unwrap();
    let tokens = [KnownToken {
        asset: kya_x402::caip19_erc20(31_337, shop.token).unwrap(),
        decimals: 6,
    }];
    assert!(
        choose_requirements(
            &required,
            &grants,
            &Action::parse("payments/send").unwrap(),
            Some("did:web:shop.example"),
            &tokens,
            Timestamp::now()
        )
        .is_none(),
        "the agent's side declines too"
    );
    let payment = pay_unchecked(&shop, &shop.agent_wallet, &gate);
    assert_eq!(
        refusal_code(&gate, &shop.request(CHECKOUT, None, Some(&payment))),
        "x402_grants_deny"
    );
}

/// A nonce store and a ledger in one, counting how the gate called it.
#[derive(Default)]
struct CountingStores {
    stores: kya_verify::admission::SeparateStores<
        kya_verify::MemoryNonceStore,
        kya_verify::MemoryLedger,
    >,
    one_step: std::sync::atomic::AtomicUsize,
    separate: std::sync::atomic::AtomicUsize,
}

impl kya_verify::NonceStore for CountingStores {
    fn check_and_store(
        &self,
        key: kya_verify::NonceKey<'_>,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<kya_verify::NonceVerdict, kya_verify::StoreUnavailable> {
        self.separate
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.stores.check_and_store(key, until, now)
    }
}

impl kya_verify::Ledger for CountingStores {
    fn try_charge_all(
        &self,
        principal: &kya_core::Did,
        charges: &[kya_verify::Charge],
        now: Timestamp,
    ) -> Result<(), kya_verify::ChargeError> {
        self.separate
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.stores.try_charge_all(principal, charges, now)
    }

    fn refund_all(
        &self,
        principal: &kya_core::Did,
        charges: &[kya_verify::Charge],
        charged_at: Timestamp,
    ) -> Result<(), kya_verify::StoreUnavailable> {
        self.stores.refund_all(principal, charges, charged_at)
    }
}

impl kya_verify::AdmissionStore for CountingStores {
    fn admit(
        &self,
        key: kya_verify::NonceKey<'_>,
        until: Timestamp,
        charges: &[kya_verify::Charge],
        now: Timestamp,
    ) -> Result<kya_verify::Admission, kya_verify::StoreUnavailable> {
        self.one_step
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.stores.admit(key, until, charges, now)
    }
}

/// A paid request is one step of the merchant's stores (one script on Redis): its nonce and
/// the charge of the paid amount at once. A payment refused before that step records
/// nothing, so the agent's signed request with a payment from a wallet that is not its own
/// leaves its nonce unspent; with its own wallet's payment it is admitted once, and replayed,
/// refused without a second charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_request_is_one_step_of_the_stores() {
    use std::sync::atomic::Ordering::Relaxed;
    let shop = Shop::open("25.00", None).await;
    let stores = std::sync::Arc::new(CountingStores::default());
    let gate = shop.paid_gate("12.50", shop.verifier().with_stores(stores.clone()));
    let header = payment_required(&shop, &gate);
    let strangers = pay(&shop, &shop.stranger, &header);
    let own = pay(&shop, &shop.agent_wallet, &header);

    let mut request = shop.request(CHECKOUT, None, Some(&strangers));
    let code = refusal_code(&gate, &request);
    assert!(code.starts_with("x402_"), "{code}");
    assert_eq!(stores.one_step.load(Relaxed), 0, "nothing recorded");
    assert_eq!(stores.stores.nonces().len(), 0);

    for (name, value) in &mut request.headers {
        if name.eq_ignore_ascii_case(kya_x402::PAYMENT_SIGNATURE) {
            value.clone_from(&own);
        }
    }
    let admitted = gate.admit(&request).unwrap().expect("a priced route");
    assert_eq!(admitted.payment.payer, shop.agent_wallet.address());
    assert_eq!(
        (stores.one_step.load(Relaxed), stores.separate.load(Relaxed)),
        (1, 0),
        "the nonce and the charge in one step"
    );
    assert_eq!(refusal_code(&gate, &request), "nonce_replayed");
    assert_eq!(stores.separate.load(Relaxed), 0);
    let budget = kya_verify::LedgerKey {
        credential: shop.leaf_digest,
        grant: 0,
        kind: "budget",
    };
    let spent = stores
        .stores
        .ledger()
        .spent(&budget, 86_400, Timestamp::now())
        .map(|a| a.to_string());
    let paid = admitted
        .payment
        .request
        .amount
        .as_ref()
        .map(|m| m.value.to_string());
    assert_eq!(spent, paid, "charged once");
    assert_eq!(
        paid.as_deref().map(|p| p.trim_end_matches('0')),
        Some("12.5")
    );
}
