//! The Redis stores against a real local 3-master Redis Cluster: every script touches one
//! slot (no CROSSSLOT), merchants spread over the masters, and the answers, the
//! concurrency guarantees and a master's restart hold as on one node.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use kya_redis::{RedisLedger, RedisNonceStore};
use kya_testkit::redis::{RedisCluster, available_or_skip};
use kya_verify::{ChargeError, Ledger, NonceKey, NonceQuotas, NonceStore, NonceVerdict};
use support::*;

fn keys_on(cluster: &RedisCluster) -> Vec<u64> {
    cluster
        .nodes()
        .iter()
        .map(|n| {
            n.query("DBSIZE")
                .and_then(|r| r.trim().trim_start_matches(':').parse().ok())
                .unwrap_or(0)
        })
        .collect()
}

#[test]
fn cluster_keeps_the_guarantees_of_one_node() {
    if !available_or_skip("cluster_keeps_the_guarantees_of_one_node") {
        return;
    }
    let mut cluster = RedisCluster::spawn().unwrap();
    let url = cluster.url();
    same_answers_as_memory(&url, "diff", 300);

    same_admissions_as_memory(&url, "admit", 200);

    // A merchant's keys share one slot (one script records a nonce and charges a budget);
    // many merchants land on every master.
    let store = RedisNonceStore::new(config(&url, "spread"), NonceQuotas::default()).unwrap();
    let now = base();
    let grew = |before: &[u64], after: &[u64]| -> Vec<bool> {
        before.iter().zip(after).map(|(b, a)| a > b).collect()
    };
    let before = keys_on(&cluster);
    let principals: Vec<_> = (0..48).map(principal).collect();
    let agent = pk(1);
    for p in &principals {
        let key = NonceKey {
            principal: p,
            agent: &agent,
            nonce: "x",
        };
        assert_eq!(
            store
                .check_and_store(key, now.add_seconds(60), now)
                .unwrap(),
            NonceVerdict::Fresh
        );
    }
    let one = keys_on(&cluster);
    assert_eq!(
        grew(&before, &one).iter().filter(|&&g| g).count(),
        1,
        "one merchant, one master: {before:?} → {one:?}"
    );
    for m in 0..24 {
        let merchant =
            RedisNonceStore::new(config(&url, &format!("m{m}")), NonceQuotas::default()).unwrap();
        let key = NonceKey {
            principal: &principals[0],
            agent: &agent,
            nonce: "x",
        };
        merchant
            .check_and_store(key, now.add_seconds(60), now)
            .unwrap();
    }
    let spread = keys_on(&cluster);
    assert!(
        grew(&one, &spread).iter().all(|&g| g),
        "merchants on every master: {one:?} → {spread:?}"
    );

    // Concurrency across three instances on the cluster.
    let ledgers: Vec<_> = (0..3)
        .map(|_| RedisLedger::new(config(&url, "race"), 1000).unwrap())
        .collect();
    let charged = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for i in 0..12 {
            let (ledger, charged) = (&ledgers[i % 3], &charged);
            s.spawn(move || {
                for _ in 0..20 {
                    match ledger.try_charge_all(&[budget(7, 0, "1", "100", 3600)], now) {
                        Ok(()) => {
                            charged.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(ChargeError::Refused(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            });
        }
    });
    assert_eq!(charged.load(Ordering::Relaxed), 100);

    // Every master restarted (SHUTDOWN, start): nonces are still remembered.
    for node in cluster.nodes_mut() {
        node.shutdown().unwrap();
        node.start().unwrap();
    }
    cluster.wait_ok().unwrap();
    for p in &principals {
        let key = NonceKey {
            principal: p,
            agent: &agent,
            nonce: "x",
        };
        let verdict = (0..50)
            .find_map(
                |_| match store.check_and_store(key, now.add_seconds(60), now) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        None
                    }
                },
            )
            .expect("the cluster answers after the restart");
        assert_eq!(verdict, NonceVerdict::Replayed);
    }
}
