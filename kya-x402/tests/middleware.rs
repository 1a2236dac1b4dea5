//! The tower middleware (`PaidLayer`) on a real anvil: an unpaid request gets 402 and never
//! reaches the service; a paid one is settled first (the merchant's balance rises by exactly
//! the price) and reaches it with the payment in its extensions; a replayed payment (its
//! budget charge given back), one over the grant and one on a revoked chain move nothing and
//! reach nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use common::{CHECKOUT, Shop, pay};
use http_body_util::Full;
use kya_core::Timestamp;
use kya_verify::http::HttpRequest;
use kya_x402::middleware::{KyaPaid, PaidLayer};
use kya_x402::{Facilitator, PaymentRequired, SettleResponse, U256, create_payment};
use tower_layer::Layer as _;
use tower_service::Service as _;

/// The merchant's own service: records the payments it was handed, answers 200.
#[derive(Clone, Default)]
struct Checkout {
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl tower_service::Service<http::Request<Full<Bytes>>> for Checkout {
    type Response = http::Response<String>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Full<Bytes>>) -> Self::Future {
        let paid = request
            .extensions()
            .get::<KyaPaid>()
            .map(|p| p.settlement.transaction.clone());
        self.seen.lock().unwrap().push(paid);
        Box::pin(async { Ok(http::Response::new("order placed".to_owned())) })
    }
}

/// The kya request as the HTTP request a server would hand the layer.
fn http_request(request: &HttpRequest) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(&request.path)
        .header("host", &request.authority);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .unwrap()
}

async fn send(
    service: &mut kya_x402::middleware::PaidService<Checkout>,
    request: &HttpRequest,
) -> http::Response<String> {
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .unwrap();
    service.call(http_request(request)).await.unwrap()
}

fn header<'r>(r: &'r http::Response<String>, name: &str) -> Option<&'r str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

fn code(r: &http::Response<String>) -> String {
    let body: serde_json::Value = serde_json::from_str(r.body()).unwrap();
    body["reasons"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn layer(
    shop: &Shop,
    price: &str,
    checkout: &Checkout,
) -> kya_x402::middleware::PaidService<Checkout> {
    let facilitator = Facilitator::connect(shop.anvil.endpoint(), shop.anvil.keys()[6].clone())
        .await
        .unwrap();
    PaidLayer::new(shop.gate(price), Arc::new(facilitator)).layer(checkout.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settles_before_the_service_and_never_twice() {
    let shop = Shop::open("25.00", None).await;
    let checkout = Checkout::default();
    let mut service = layer(&shop, "12.50", &checkout).await;
    let start = shop.balance(shop.merchant).await;

    // Unpaid: 402, the requirements in the header and as the body; the service not called.
    let r = send(&mut service, &shop.request(CHECKOUT, None, None)).await;
    assert_eq!(r.status(), 402);
    let required = header(&r, "payment-required").unwrap().to_owned();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(r.body()).unwrap(),
        serde_json::to_value(PaymentRequired::from_header(&required).unwrap()).unwrap()
    );
    assert!(checkout.seen.lock().unwrap().is_empty());

    // Paid within the grant: settled, then handed to the service with the transaction.
    let payment = pay(&shop, &shop.agent_wallet, &required);
    let r = send(&mut service, &shop.request(CHECKOUT, None, Some(&payment))).await;
    assert_eq!(r.status(), 200, "{}", r.body());
    let settled = SettleResponse::from_header(header(&r, "payment-response").unwrap()).unwrap();
    assert!(settled.success);
    assert_eq!(
        *checkout.seen.lock().unwrap(),
        vec![Some(settled.transaction.clone())]
    );
    let paid = shop.balance(shop.merchant).await;
    assert_eq!(paid - start, U256::from(12_500_000u64));

    // The same payment under a fresh kya signature: not settled again, not served.
    let r = send(&mut service, &shop.request(CHECKOUT, None, Some(&payment))).await;
    assert_eq!(r.status(), 402, "{}", r.body());
    assert_eq!(code(&r), "x402_settlement_failed");
    let failed = SettleResponse::from_header(header(&r, "payment-response").unwrap()).unwrap();
    assert!(!failed.success);
    assert_eq!(checkout.seen.lock().unwrap().len(), 1);
    assert_eq!(shop.balance(shop.merchant).await, paid);

    // Nothing moved, so its charge was given back: of the leaf's 40.00 a day 12.50 is spent,
    // two more payments of 12.50 are served, and a third (50.00 in all) is refused.
    for served in 2..=3 {
        let payment = pay(&shop, &shop.agent_wallet, &required);
        let r = send(&mut service, &shop.request(CHECKOUT, None, Some(&payment))).await;
        assert_eq!(r.status(), 200, "payment {served}: {}", r.body());
    }
    let payment = pay(&shop, &shop.agent_wallet, &required);
    let r = send(&mut service, &shop.request(CHECKOUT, None, Some(&payment))).await;
    assert_eq!(r.status(), 403, "{}", r.body());
    assert!(r.body().contains("budget_exhausted"), "{}", r.body());
    assert_eq!(checkout.seen.lock().unwrap().len(), 3);
    assert_eq!(
        shop.balance(shop.merchant).await - paid,
        U256::from(25_000_000u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_move_nothing_and_reach_nothing() {
    let shop = Shop::open("25.00", None).await;
    let checkout = Checkout::default();
    let start = (
        shop.balance(shop.merchant).await,
        shop.balance(shop.agent_wallet.address()).await,
    );

    // A price over the grant (30.00 > 25.00), paid by an agent that ignores its grants.
    let mut over = layer(&shop, "30.00", &checkout).await;
    let r = send(&mut over, &shop.request(CHECKOUT, None, None)).await;
    let required = PaymentRequired::from_header(header(&r, "payment-required").unwrap()).unwrap();
    let payment = create_payment(
        &shop.agent_wallet,
        &required,
        &required.accepts[0],
        Timestamp::now(),
    )
    .unwrap()
    .to_header();
    let r = send(&mut over, &shop.request(CHECKOUT, None, Some(&payment))).await;
    assert_eq!(r.status(), 403, "{}", r.body());
    assert_eq!(code(&r), "x402_grants_deny");
    assert!(header(&r, "payment-required").is_some());

    // Within the grant, but the chain is revoked: the kya gate refuses first.
    let mut service = layer(&shop, "12.50", &checkout).await;
    let r = send(&mut service, &shop.request(CHECKOUT, None, None)).await;
    let payment = pay(
        &shop,
        &shop.agent_wallet,
        header(&r, "payment-required").unwrap(),
    );
    shop.registry
        .revoke(&shop.registration, shop.leaf_digest, 9, Timestamp::now());
    let r = send(&mut service, &shop.request(CHECKOUT, None, Some(&payment))).await;
    assert_eq!(r.status(), 401, "{}", r.body());
    assert_eq!(code(&r), "revoked");
    assert!(header(&r, "payment-response").is_none());

    assert!(checkout.seen.lock().unwrap().is_empty());
    assert_eq!(
        (
            shop.balance(shop.merchant).await,
            shop.balance(shop.agent_wallet.address()).await
        ),
        start
    );
}

/// The kya gate's `/api/checkout` route maps `/api/checkout/` and `/api/checkout/c-1` too;
/// a price on `/api/checkout` covers them as well (one path rule), so a request below the
/// priced path, declaring one cent of its own, is never handed to the service unpaid: 402.
/// Paid, it is settled and served like the priced path itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_below_a_priced_path_is_never_served_unpaid() {
    let shop = Shop::open("25.00", None).await;
    let checkout = Checkout::default();
    let mut service = layer(&shop, "12.50", &checkout).await;
    let start = shop.balance(shop.merchant).await;
    for path in ["/api/checkout/", "/api/checkout/c-1"] {
        let r = send(&mut service, &shop.request(path, Some("0.01"), None)).await;
        assert_eq!(r.status(), 402, "{path}: {}", r.body());
        assert!(header(&r, "payment-required").is_some(), "{path}");
    }
    assert!(checkout.seen.lock().unwrap().is_empty());
    assert_eq!(shop.balance(shop.merchant).await, start);

    let path = "/api/checkout/c-1";
    let r = send(&mut service, &shop.request(path, None, None)).await;
    let required = header(&r, "payment-required").unwrap().to_owned();
    let payment = pay(&shop, &shop.agent_wallet, &required);
    let r = send(&mut service, &shop.request(path, None, Some(&payment))).await;
    assert_eq!(r.status(), 200, "{}", r.body());
    assert_eq!(checkout.seen.lock().unwrap().len(), 1);
    assert_eq!(
        shop.balance(shop.merchant).await - start,
        U256::from(12_500_000u64)
    );
}
