//! The Redis stores against a real local 3-master Redis Cluster: every script touches one
//! slot (no CROSSSLOT), one merchant's principals and many merchants spread over the
//! masters, and the answers, the concurrency guarantees and a master's restart hold as on
//! one node.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use kya_core::grant::Amount;
use kya_redis::{RedisLedger, RedisNonceStore, RedisStores};
use kya_testkit::redis::{RedisCluster, available_or_skip};
use kya_verify::{
    Admission, AdmissionStore, ChargeError, Code, Ledger, NonceKey, NonceQuotas, NonceStore,
    NonceVerdict,
};
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

/// The slot of a key, as the cluster computes it.
fn slot(cluster: &RedisCluster, key: &str) -> u64 {
    cluster.nodes()[0]
        .query(&format!("CLUSTER KEYSLOT {key}"))
        .and_then(|r| r.trim().trim_start_matches(':').parse().ok())
        .expect("CLUSTER KEYSLOT answers")
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

    // A principal's keys at a merchant share one slot (one script records a nonce and
    // charges its chain's budgets); one merchant's principals land on every master, and so
    // do many merchants.
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
    assert!(
        grew(&before, &one).iter().all(|&g| g),
        "one merchant's 48 principals on every master: {before:?} → {one:?}"
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
            let (ledger, charged, root) = (&ledgers[i % 3], &charged, &principals[0]);
            s.spawn(move || {
                for _ in 0..20 {
                    match ledger.try_charge_all(root, &[budget(7, 0, "1", "100", 3600)], now) {
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

/// One merchant's load spreads over the masters (its principals' keys are in different
/// slots, on more than one master), and the guarantees still hold under concurrency across
/// three instances: a request sent to two instances at once is admitted at most once, a
/// principal's shared budget is never overspent, and a chain's charges (its parent's budget
/// and its own) apply together or not at all.
#[test]
fn one_merchants_principals_spread_over_the_masters_and_keep_the_guarantees() {
    if !available_or_skip(
        "one_merchants_principals_spread_over_the_masters_and_keep_the_guarantees",
    ) {
        return;
    }
    let cluster = RedisCluster::spawn().unwrap();
    let url = cluster.url();
    let instances: Vec<_> = (0..3)
        .map(|_| RedisStores::new(config(&url, "merchant"), NonceQuotas::default(), 1000).unwrap())
        .collect();
    let now = base();
    let until = now.add_seconds(300);
    // Principal `p`'s chains: its agent's credential 2p (a budget of 10 a hour, shared by
    // its two sub-agents) and the sub-agents' credentials 2p + 100 and 2p + 101 (6 each).
    const PRINCIPALS: u8 = 12;
    const PER_SUB_AGENT: usize = 8;
    let principals: Vec<_> = (0..PRINCIPALS).map(|p| principal(200 + p)).collect();
    let chain = |p: u8, sub: u8| {
        vec![
            budget(2 * p, 0, "1", "10", 3600),
            budget(2 * p + 100 + sub, 1, "1", "6", 3600),
        ]
    };

    // Every script of a principal touches one slot: its nonce sets and its counters.
    let names: Vec<(String, String)> = principals
        .iter()
        .zip(0..)
        .map(|(principal, p)| {
            let (agent_set, principal_set, _) = instances[0].nonces().key_names(&NonceKey {
                principal,
                agent: &pk(1),
                nonce: "n",
            });
            let counter = instances[0]
                .ledger()
                .key_name(principal, &chain(p, 0)[0].key);
            let leaf = instances[0]
                .ledger()
                .key_name(principal, &chain(p, 1)[1].key);
            let slots = [&agent_set, &principal_set, &counter, &leaf].map(|k| slot(&cluster, k));
            assert!(
                slots.iter().all(|s| *s == slots[0]),
                "one slot per principal: {slots:?}"
            );
            (agent_set, counter)
        })
        .collect();
    let mut slots: Vec<u64> = names.iter().map(|(n, _)| slot(&cluster, n)).collect();
    slots.sort_unstable();
    slots.dedup();
    assert!(
        slots.len() > 1,
        "a merchant's principals in several slots: {slots:?}"
    );

    let before = keys_on(&cluster);
    let answers = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for (p, principal) in (0..PRINCIPALS).zip(&principals) {
            for sub in 0..2u8 {
                let (instances, answers, chain) = (&instances, &answers, &chain);
                s.spawn(move || {
                    let agent = pk(50 + sub);
                    for i in 0..PER_SUB_AGENT {
                        let nonce = format!("r-{i}");
                        let key = NonceKey {
                            principal,
                            agent: &agent,
                            nonce: &nonce,
                        };
                        // The same request to two instances at once.
                        let got: Vec<Admission> = std::thread::scope(|s| {
                            let twice: Vec<_> = [0, 1]
                                .map(|t| {
                                    let store = &instances[(i + t + usize::from(sub)) % 3];
                                    let charges = chain(p, sub);
                                    s.spawn(move || store.admit(key, until, &charges, now).unwrap())
                                })
                                .into_iter()
                                .collect();
                            twice.into_iter().map(|h| h.join().unwrap()).collect()
                        });
                        answers.lock().unwrap().push((p, sub, got));
                    }
                });
            }
        }
    });
    let after = keys_on(&cluster);
    assert!(
        before.iter().zip(&after).filter(|(b, a)| a > b).count() > 1,
        "one merchant's requests land on more than one master: {before:?} → {after:?}"
    );

    let answers = answers.into_inner().unwrap();
    let mut admitted = vec![[0usize; 2]; usize::from(PRINCIPALS)];
    for (p, sub, got) in &answers {
        let replays = got
            .iter()
            .filter(|a| **a == Admission::Nonce(NonceVerdict::Replayed))
            .count();
        assert_eq!(replays, 1, "one of the two copies is a replay: {got:?}");
        for a in got {
            match a {
                Admission::Admitted => admitted[usize::from(*p)][usize::from(*sub)] += 1,
                Admission::Refused(r) => assert_eq!(r[0].code, Code::BudgetExhausted, "{r:?}"),
                Admission::Nonce(NonceVerdict::Replayed) => {}
                other => panic!("{other:?}"),
            }
        }
    }
    let spent = |principal, charge: &kya_verify::Charge| {
        instances[0]
            .ledger()
            .spent(principal, &charge.key, 3600, now)
            .unwrap()
            .unwrap_or_else(Amount::zero)
    };
    for (p, principal) in (0..PRINCIPALS).zip(&principals) {
        let [a0, a1] = admitted[usize::from(p)];
        // 16 requests against a shared budget of 10 (and 6 per sub-agent): exactly 10 fit
        // whatever the order, and no more were admitted.
        assert_eq!(a0 + a1, 10, "principal {p}: the shared budget, exactly");
        assert!(
            a0 <= 6 && a1 <= 6,
            "principal {p}: each sub-agent's own budget"
        );
        // What was recorded is what was admitted, on both links: a refused chain charged
        // neither its parent's budget nor its own.
        let amount = |n: usize| Amount::parse(&n.to_string()).unwrap();
        assert_eq!(spent(principal, &chain(p, 0)[0]), amount(10));
        assert_eq!(spent(principal, &chain(p, 0)[1]), amount(a0));
        assert_eq!(spent(principal, &chain(p, 1)[1]), amount(a1));
    }
}
