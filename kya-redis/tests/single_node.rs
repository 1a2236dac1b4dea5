//! The Redis stores against a real single `redis-server`: the same answers as the in-memory
//! stores, no replay and no overspend across instances under concurrency, all-or-nothing
//! chain charges, "unavailable" while Redis is down, and what survives a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kya_core::grant::Amount;
use kya_redis::{RedisLedger, RedisNonceStore, RedisStores};
use kya_testkit::redis::{RedisServer, available_or_skip};
use kya_verify::{
    Admission, AdmissionStore, ChargeError, Code, Ledger, MemoryLedger, NonceKey, NonceQuotas,
    NonceStore, NonceVerdict,
};
use support::*;

#[test]
fn single_node_gives_the_same_answers_as_memory() {
    if !available_or_skip("single_node_gives_the_same_answers_as_memory") {
        return;
    }
    let redis = RedisServer::spawn().unwrap();
    same_answers_as_memory(&redis.url(), "diff", 400);
}

#[test]
fn instances_admit_a_nonce_once_and_never_overspend() {
    if !available_or_skip("instances_admit_a_nonce_once_and_never_overspend") {
        return;
    }
    let redis = RedisServer::spawn().unwrap();
    // Four instances (each its own pool), eight threads each.
    let nonces: Vec<_> = (0..4)
        .map(|_| {
            RedisNonceStore::new(config(&redis.url(), "race"), NonceQuotas::default()).unwrap()
        })
        .collect();
    let ledgers: Vec<_> = (0..4)
        .map(|_| RedisLedger::new(config(&redis.url(), "race"), 1000).unwrap())
        .collect();
    let (p, a) = (principal(100), pk(1));
    let now = base();
    let fresh = AtomicUsize::new(0);
    let charged = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for i in 0..32 {
            let (store, ledger) = (&nonces[i % 4], &ledgers[i % 4]);
            let (p, a, fresh, charged) = (&p, &a, &fresh, &charged);
            s.spawn(move || {
                for round in 0..20 {
                    // Every thread sends the same 20 nonces: each is fresh exactly once.
                    let nonce = format!("same-{round}");
                    let key = NonceKey {
                        principal: p,
                        agent: a,
                        nonce: &nonce,
                    };
                    if store
                        .check_and_store(key, now.add_seconds(60), now)
                        .unwrap()
                        == NonceVerdict::Fresh
                    {
                        fresh.fetch_add(1, Ordering::Relaxed);
                    }
                    // 640 charges of 0.25 against one budget of 50 (200 fit).
                    match ledger.try_charge_all(p, &[budget(9, 0, "0.25", "50", 3600)], now) {
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
    assert_eq!(
        fresh.load(Ordering::Relaxed),
        20,
        "each nonce admitted once"
    );
    assert_eq!(charged.load(Ordering::Relaxed), 200, "exactly the budget");
    let spent = ledgers[0]
        .spent(&p, &budget(9, 0, "0.25", "50", 3600).key, 3600, now)
        .unwrap();
    assert_eq!(
        spent,
        Some(Amount::parse("50").unwrap()),
        "every admitted charge recorded"
    );
}

#[test]
fn a_chains_charges_apply_together_or_not_at_all() {
    if !available_or_skip("a_chains_charges_apply_together_or_not_at_all") {
        return;
    }
    let redis = RedisServer::spawn().unwrap();
    let ledger = RedisLedger::new(config(&redis.url(), "chain"), 1000).unwrap();
    let root = principal(100);
    let now = base();
    // The parent's budget (10) is shared; the child's (100) is its own.
    let chain = |amount: &str| {
        vec![
            budget(1, 0, amount, "10", 3600),
            budget(2, 1, amount, "100", 3600),
        ]
    };
    ledger.try_charge_all(&root, &chain("6"), now).unwrap();
    let refused = ledger.try_charge_all(&root, &chain("6"), now).unwrap_err();
    assert!(matches!(&refused, ChargeError::Refused(r) if r.len() == 1 && r[0].link == Some(0)));
    let child = budget(2, 1, "6", "100", 3600).key;
    assert_eq!(
        ledger.spent(&root, &child, 3600, now).unwrap(),
        Some(Amount::parse("6").unwrap()),
        "the child's budget was not charged for the refused chain"
    );
}

/// The live-counter capacity is per root principal: an attacker's principal whose chains
/// fill its share cannot make the ledger refuse another principal's charge (one `MemoryLedger`
/// for the whole merchant would), while its own next new counter is refused (fail closed),
/// on both paths (the ledger alone, and nonce and charges in one script).
#[test]
fn one_principal_at_capacity_does_not_refuse_another() {
    if !available_or_skip("one_principal_at_capacity_does_not_refuse_another") {
        return;
    }
    let redis = RedisServer::spawn().unwrap();
    let ledger = RedisLedger::new(config(&redis.url(), "full"), 2).unwrap();
    let stores = RedisStores::new(config(&redis.url(), "full"), NonceQuotas::default(), 2).unwrap();
    let (attacker, victim, a, now) = (principal(100), principal(101), pk(1), base());
    ledger
        .try_charge_all(
            &attacker,
            &[budget(1, 0, "1", "10", 3600), budget(2, 1, "1", "10", 3600)],
            now,
        )
        .unwrap();
    let full = ledger
        .try_charge_all(&attacker, &[budget(3, 0, "1", "10", 3600)], now)
        .unwrap_err();
    assert!(
        matches!(&full, ChargeError::Refused(r) if r.len() == 1 && r[0].code == Code::LedgerFull),
        "{full:?}"
    );
    // Its live counters still count (only a new counter is refused).
    ledger
        .try_charge_all(&attacker, &[budget(1, 0, "1", "10", 3600)], now)
        .unwrap();
    // The victim's chains have their own share, also when the attacker is full.
    ledger
        .try_charge_all(
            &victim,
            &[budget(4, 0, "1", "10", 3600), budget(5, 1, "1", "10", 3600)],
            now,
        )
        .unwrap();
    let key = |p, nonce| NonceKey {
        principal: p,
        agent: &a,
        nonce,
    };
    let until = now.add_seconds(60);
    let refused = stores
        .admit(
            key(&attacker, "x1"),
            until,
            &[budget(6, 0, "1", "10", 3600)],
            now,
        )
        .unwrap();
    assert!(
        matches!(&refused, Admission::Refused(r) if r[0].code == Code::LedgerFull),
        "{refused:?}"
    );
    let victim_full = stores
        .admit(
            key(&victim, "y1"),
            until,
            &[budget(7, 0, "1", "10", 3600)],
            now,
        )
        .unwrap();
    assert!(
        matches!(&victim_full, Admission::Refused(r) if r[0].code == Code::LedgerFull),
        "the victim's own share is full too: {victim_full:?}"
    );
    let third = principal(102);
    assert_eq!(
        stores
            .admit(
                key(&third, "z1"),
                until,
                &[budget(8, 0, "1", "10", 3600)],
                now
            )
            .unwrap(),
        Admission::Admitted,
        "a principal with room is admitted whatever the others hold"
    );
    assert_eq!(
        ledger
            .spent(&attacker, &budget(1, 0, "1", "10", 3600).key, 3600, now)
            .unwrap(),
        Some(Amount::parse("2").unwrap())
    );
}

#[test]
fn a_stopped_redis_is_unavailable_never_an_answer_and_reconnects() {
    if !available_or_skip("a_stopped_redis_is_unavailable_never_an_answer_and_reconnects") {
        return;
    }
    let mut redis = RedisServer::spawn().unwrap();
    let nonces =
        RedisNonceStore::new(config(&redis.url(), "down"), NonceQuotas::default()).unwrap();
    let ledger = RedisLedger::new(config(&redis.url(), "down"), 1000).unwrap();
    let (p, a, now) = (principal(100), pk(1), base());
    let key = |nonce| NonceKey {
        principal: &p,
        agent: &a,
        nonce,
    };
    assert_eq!(
        nonces
            .check_and_store(key("before"), now.add_seconds(60), now)
            .unwrap(),
        NonceVerdict::Fresh
    );
    redis.shutdown().unwrap();
    assert!(
        nonces
            .check_and_store(key("during"), now.add_seconds(60), now)
            .is_err()
    );
    assert!(
        nonces
            .check_and_store(key("before"), now.add_seconds(60), now)
            .is_err()
    );
    assert!(matches!(
        ledger.try_charge_all(&p, &[budget(1, 0, "1", "10", 60)], now),
        Err(ChargeError::Unavailable(_))
    ));
    redis.start().unwrap();
    assert_eq!(
        nonces
            .check_and_store(key("before"), now.add_seconds(60), now)
            .unwrap(),
        NonceVerdict::Replayed
    );
    ledger
        .try_charge_all(&p, &[budget(1, 0, "1", "10", 60)], now)
        .unwrap();
}

#[test]
fn a_restart_keeps_nonces_and_spent_budgets() {
    if !available_or_skip("a_restart_keeps_nonces_and_spent_budgets") {
        return;
    }
    let mut redis = RedisServer::spawn().unwrap();
    let nonces =
        RedisNonceStore::new(config(&redis.url(), "restart"), NonceQuotas::default()).unwrap();
    let ledger = Arc::new(RedisLedger::new(config(&redis.url(), "restart"), 1000).unwrap());
    let (p, a, now) = (principal(100), pk(1), base());
    let key = |nonce| NonceKey {
        principal: &p,
        agent: &a,
        nonce,
    };
    let charge = [budget(3, 0, "4", "10", 86_400)];
    assert_eq!(
        nonces
            .check_and_store(key("kept"), now.add_seconds(300), now)
            .unwrap(),
        NonceVerdict::Fresh
    );
    ledger.try_charge_all(&p, &charge, now).unwrap();
    ledger.try_charge_all(&p, &charge, now).unwrap();
    // An orderly restart (SHUTDOWN), then a crash (SIGKILL): with appendfsync always both
    // keep every acknowledged write.
    redis.shutdown().unwrap();
    redis.start().unwrap();
    assert_eq!(
        nonces
            .check_and_store(key("kept"), now.add_seconds(300), now)
            .unwrap(),
        NonceVerdict::Replayed
    );
    assert_eq!(
        nonces
            .check_and_store(key("crash"), now.add_seconds(300), now)
            .unwrap(),
        NonceVerdict::Fresh
    );
    redis.kill();
    redis.start().unwrap();
    assert_eq!(
        nonces
            .check_and_store(key("crash"), now.add_seconds(300), now)
            .unwrap(),
        NonceVerdict::Replayed
    );
    assert_eq!(
        ledger.spent(&p, &charge[0].key, 86_400, now).unwrap(),
        Some(Amount::parse("8").unwrap())
    );
    assert!(matches!(
        ledger.try_charge_all(&p, &charge, now),
        Err(ChargeError::Refused(_))
    ));
}

#[test]
fn single_node_admits_as_two_memory_stores_do() {
    if !available_or_skip("single_node_admits_as_two_memory_stores_do") {
        return;
    }
    let redis = RedisServer::spawn().unwrap();
    same_admissions_as_memory(&redis.url(), "admit", 400);
}

/// The one-step path, as an attacker would try it: a replay never charges, a refused
/// request cannot be replayed later, a full share records and charges nothing.
#[test]
fn one_step_admission_never_charges_a_replay_and_keeps_a_refused_nonce() {
    if !available_or_skip("one_step_admission_never_charges_a_replay_and_keeps_a_refused_nonce") {
        return;
    }
    let redis = RedisServer::spawn().unwrap();
    let stores =
        RedisStores::new(config(&redis.url(), "once"), NonceQuotas::default(), 1000).unwrap();
    let (p, a, now) = (principal(100), pk(1), base());
    let key = |nonce| NonceKey {
        principal: &p,
        agent: &a,
        nonce,
    };
    let until = now.add_seconds(300);
    let pay = |amount| [budget(5, 0, amount, "10", 3600)];
    let spent = || {
        stores
            .ledger()
            .spent(&p, &pay("1")[0].key, 3600, now)
            .unwrap()
    };

    assert_eq!(
        stores.admit(key("n1"), until, &pay("4"), now).unwrap(),
        Admission::Admitted
    );
    assert_eq!(
        stores.admit(key("n1"), until, &pay("4"), now).unwrap(),
        Admission::Nonce(NonceVerdict::Replayed),
        "a replay is refused"
    );
    assert_eq!(
        spent(),
        Some(Amount::parse("4").unwrap()),
        "and charges nothing"
    );
    // The nonce store alone sees the same nonces.
    let alone = RedisNonceStore::new(config(&redis.url(), "once"), NonceQuotas::default()).unwrap();
    assert_eq!(
        alone.check_and_store(key("n1"), until, now).unwrap(),
        NonceVerdict::Replayed
    );

    let refused = stores.admit(key("n2"), until, &pay("7"), now).unwrap();
    assert!(
        matches!(&refused, Admission::Refused(r) if r.len() == 1 && r[0].code == Code::BudgetExhausted),
        "{refused:?}"
    );
    assert_eq!(spent(), Some(Amount::parse("4").unwrap()));
    // The refused request's nonce is spent: replayed once the budget would allow it, it is
    // still refused (the agent's one request had its one answer).
    assert_eq!(
        stores.admit(key("n2"), until, &pay("1"), now).unwrap(),
        Admission::Nonce(NonceVerdict::Replayed)
    );

    // A full share: nothing recorded, nothing charged.
    let small = RedisStores::new(
        config(&redis.url(), "once"),
        NonceQuotas::default().per_agent(2),
        1000,
    )
    .unwrap();
    assert_eq!(
        small.admit(key("n3"), until, &pay("1"), now).unwrap(),
        Admission::Nonce(NonceVerdict::QuotaExceeded)
    );
    assert_eq!(spent(), Some(Amount::parse("4").unwrap()));
    assert_eq!(
        stores.admit(key("n3"), until, &pay("1"), now).unwrap(),
        Admission::Admitted,
        "the refused nonce was not recorded"
    );
    assert_eq!(spent(), Some(Amount::parse("5").unwrap()));
}

/// The server's decimal arithmetic at the edges of `Amount`: 38 digits, scale 38.
#[test]
fn charges_at_the_edges_of_an_amount_match_memory() {
    if !available_or_skip("charges_at_the_edges_of_an_amount_match_memory") {
        return;
    }
    let redis = RedisServer::spawn().unwrap();
    let ledger = RedisLedger::new(config(&redis.url(), "edges"), 1000).unwrap();
    let memory = MemoryLedger::new(1000);
    let root = principal(100);
    let now = base();
    let nines = "9".repeat(38);
    let tiny = format!("0.{}1", "0".repeat(37));
    let cases = [
        (1, "60000000000000000000000000000000000000", nines.as_str()),
        (2, "0.1", "0.3"),
        (3, tiny.as_str(), "0.00000000000000000000000000000000000003"),
        (4, "1.005", "3.015"),
        (
            5,
            "12345678901234567890.123456789012345678",
            "99999999999999999999",
        ),
    ];
    for (credential, charge, limit) in cases {
        for round in 0..4 {
            let c = [budget(credential, 0, charge, limit, 86_400)];
            let (expected, got) = (
                memory.try_charge_all(&root, &c, now),
                ledger.try_charge_all(&root, &c, now),
            );
            match (&expected, &got) {
                (Ok(()), Ok(())) => {}
                (Err(ChargeError::Refused(e)), Err(ChargeError::Refused(g))) => assert_eq!(g, e),
                _ => {
                    panic!("{charge} of {limit}, round {round}: memory {expected:?}, redis {got:?}")
                }
            }
            assert_eq!(
                ledger.spent(&root, &c[0].key, 86_400, now).unwrap(),
                memory.spent(&c[0].key, 86_400, now),
                "{charge} of {limit}, round {round}"
            );
        }
        // Given back once: the server's subtraction at the same edges.
        let c = [budget(credential, 0, charge, limit, 86_400)];
        memory.refund_all(&root, &c, now).unwrap();
        ledger.refund_all(&root, &c, now).unwrap();
        assert_eq!(
            ledger.spent(&root, &c[0].key, 86_400, now).unwrap(),
            memory.spent(&c[0].key, 86_400, now),
            "{charge} of {limit}, given back"
        );
    }
}

/// The one-step path through a crash (`kill -9`, `appendfsync always`): a request admitted
/// before is a replay after, and its charge is still spent; one refused before is too.
#[test]
fn one_step_admissions_survive_a_crash() {
    if !available_or_skip("one_step_admissions_survive_a_crash") {
        return;
    }
    let mut redis = RedisServer::spawn().unwrap();
    let stores =
        RedisStores::new(config(&redis.url(), "crash"), NonceQuotas::default(), 1000).unwrap();
    let (p, a, now) = (principal(100), pk(1), base());
    let key = |nonce| NonceKey {
        principal: &p,
        agent: &a,
        nonce,
    };
    let until = now.add_seconds(300);
    let pay = |amount| [budget(6, 0, amount, "10", 86_400)];
    assert_eq!(
        stores.admit(key("a"), until, &pay("6"), now).unwrap(),
        Admission::Admitted
    );
    assert!(matches!(
        stores.admit(key("b"), until, &pay("6"), now).unwrap(),
        Admission::Refused(_)
    ));
    redis.kill();
    assert!(stores.admit(key("c"), until, &pay("1"), now).is_err());
    redis.start().unwrap();
    for nonce in ["a", "b"] {
        assert_eq!(
            stores.admit(key(nonce), until, &pay("1"), now).unwrap(),
            Admission::Nonce(NonceVerdict::Replayed),
            "{nonce}"
        );
    }
    assert_eq!(
        stores
            .ledger()
            .spent(&p, &pay("1")[0].key, 86_400, now)
            .unwrap(),
        Some(Amount::parse("6").unwrap())
    );
    assert_eq!(
        stores.admit(key("c"), until, &pay("4"), now).unwrap(),
        Admission::Admitted,
        "nothing was recorded while Redis was down"
    );
}
