//! The fleet merchant (kya-verify's example merchant on Redis) over loopback: admitted while
//! Redis answers, 503 with `Retry-After` (never 401/403, never an allow) while it is stopped,
//! and the same answers as before once it is back — the nonce recorded before the outage is
//! still a replay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/fleet_merchant.rs"]
mod fleet_merchant;
#[path = "../examples/support/mod.rs"]
mod support;

use std::sync::Arc;

use kya_testkit::redis::{RedisServer, available_or_skip};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_answers_503_with_retry_after_through_the_middleware() {
    if !available_or_skip("a_stopped_redis_answers_503_with_retry_after_through_the_middleware") {
        return;
    }
    let mut redis = RedisServer::spawn().unwrap();
    let ns = format!("mw-{}", std::process::id());
    let gate = fleet_merchant::gate(
        support::policy(),
        support::AUTHORITY,
        Some((&redis.url(), &ns)),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(fleet_merchant::serve(listener, Arc::new(gate)));
    let client = support::client();
    let chain = support::chain("10").unwrap();
    let pay = |nonce: &str| support::signed_pay(0, 0, &chain, "4", nonce).unwrap();

    let first = pay("before");
    let (status, _, body) = support::send(&client, &addr, &first).await.unwrap();
    assert_eq!(status, 200, "{body}");

    tokio::task::block_in_place(|| redis.shutdown()).unwrap();
    for nonce in ["during-1", "during-2"] {
        let (status, retry_after, body) = support::send(&client, &addr, &pay(nonce)).await.unwrap();
        assert_eq!(status, 503, "{body}");
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert_eq!(support::code(&body), "store_unavailable");
    }
    // Even a replay gets "try again", never a verdict, while Redis cannot say.
    let (status, _, _) = support::send(&client, &addr, &first).await.unwrap();
    assert_eq!(status, 503);

    tokio::task::block_in_place(|| redis.start()).unwrap();
    let (status, _, body) = support::send(&client, &addr, &first).await.unwrap();
    assert_eq!(
        (status, support::code(&body)),
        (401, "nonce_replayed"),
        "{body}"
    );
    let (status, _, body) = support::send(&client, &addr, &pay("after")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    // 4 + 4 spent of 10: a third charge would overspend, across the outage too.
    let (status, _, body) = support::send(&client, &addr, &pay("over")).await.unwrap();
    assert_eq!(
        (status, support::code(&body)),
        (403, "budget_exhausted"),
        "{body}"
    );
}
