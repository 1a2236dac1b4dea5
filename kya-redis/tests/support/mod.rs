//! Keys, charges and a differential driver shared by the Redis store tests.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use kya_core::grant::{Amount, Asset, Money, Obligation};
use kya_core::{CredentialDigest, Did, DidKey, PublicKey, SecretKey, Timestamp};
use kya_redis::{RedisConfig, RedisLedger, RedisNonceStore, RedisStores};
use kya_verify::admission::SeparateStores;
use kya_verify::{
    AdmissionStore, Charge, ChargeError, Ledger, LedgerKey, MemoryLedger, MemoryNonceStore,
    NonceKey, NonceQuotas, NonceStore,
};

pub fn pk(n: u8) -> PublicKey {
    SecretKey::from_seed(&[n; 32]).public_key()
}

pub fn principal(n: u8) -> Did {
    Did::Key(DidKey::from_public_key(pk(n)))
}

/// "Now", near the real clock (Redis expires keys by its own).
pub fn base() -> Timestamp {
    let t = Timestamp::now().unix();
    Timestamp::from_unix(t - t.rem_euclid(3600)).unwrap()
}

pub fn usd(v: &str) -> Money {
    Money::new(Amount::parse(v).unwrap(), Asset::parse("USD").unwrap())
}

pub fn budget(credential: u8, link: usize, charge: &str, limit: &str, period: u64) -> Charge {
    Charge {
        key: LedgerKey {
            credential: CredentialDigest([credential; 32]),
            grant: 0,
            kind: "budget",
        },
        link,
        obligation: Obligation::Budget {
            charge: usd(charge),
            limit: usd(limit),
            period_seconds: period,
        },
    }
}

pub fn rate(credential: u8, link: usize, count: u64, period: u64) -> Charge {
    Charge {
        key: LedgerKey {
            credential: CredentialDigest([credential; 32]),
            grant: 1,
            kind: "rate",
        },
        link,
        obligation: Obligation::Rate {
            count,
            period_seconds: period,
        },
    }
}

/// A namespace no other test uses.
pub fn config(url: &str, name: &str) -> RedisConfig {
    let ns = format!("test-{name}-{}", std::process::id());
    RedisConfig::from_url(url, &ns).unwrap()
}

/// A tiny deterministic generator (the differential runs must be reproducible).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Runs the same nonce checks and ledger charges against the in-memory stores and the Redis
/// ones and asserts the same answers (verdicts, refusal reasons) at every step. The memory
/// store's total is set beyond reach: Redis does not count it (see `RedisNonceStore`).
/// Principals 0 and 2 share a share of 5 nonces, agents a share of 3. The Redis ledger
/// counts its capacity per root principal (see `RedisLedger`), so it answers as one
/// `MemoryLedger` per principal; each principal's credentials are its own (a credential
/// fixes its root principal), as in a real chain.
pub fn same_answers_as_memory(url: &str, name: &str, steps: usize) {
    let quotas = NonceQuotas::default()
        .total(usize::MAX)
        .per_principal(5)
        .per_agent(3);
    let memory_nonces = MemoryNonceStore::new(quotas);
    let redis_nonces = RedisNonceStore::new(config(url, name), quotas).unwrap();
    let memory_ledgers = [
        MemoryLedger::new(6).principal_share(6),
        MemoryLedger::new(6).principal_share(6),
    ];
    let redis_ledger = RedisLedger::new(config(url, name), 6).unwrap();
    let principals = [principal(100), principal(101)];
    let agents = [pk(1), pk(2), pk(3)];
    let mut rng = Lcg(7);
    let mut now = base();
    // Applied charges not given back yet: (principal, charges, when).
    let mut applied: Vec<(usize, Vec<Charge>, Timestamp)> = Vec::new();
    let mut given_back = 0;
    for step in 0..steps {
        now = now.add_seconds(i64::try_from(rng.below(4)).unwrap());
        // Each agent acts for one principal (see `RedisNonceStore` for an agent of two).
        let i = usize::try_from(rng.below(3)).unwrap();
        let (p, a) = (&principals[i % 2], &agents[i]);
        let nonce = format!("n{}", rng.below(6));
        let key = NonceKey {
            principal: p,
            agent: a,
            nonce: &nonce,
        };
        let until = now.add_seconds(i64::try_from(rng.below(20)).unwrap() - 2);
        assert_eq!(
            redis_nonces.check_and_store(key, until, now).unwrap(),
            memory_nonces.check_and_store(key, until, now).unwrap(),
            "nonce step {step}: {nonce} at {now}"
        );
        let c = u8::try_from(rng.below(9)).unwrap();
        let k = usize::try_from(rng.below(2)).unwrap();
        let (b, r) = counters(k);
        let charges = match rng.below(5) {
            0 => vec![r(c, 0, 3, 30)],
            1 => vec![b(c, 0, "2.50"), r(c + 1, 1, 4, 20)],
            2 => vec![b(c, 0, "4"), b(c + 2, 1, "4")],
            3 => vec![b(c, 0, &format!("{}.1", rng.below(5)))],
            // Scales the server's arithmetic must get exactly right.
            _ => vec![b(c, 0, &format!("{}.{:03}", rng.below(3), rng.below(1000)))],
        };
        let (p, memory_ledger) = (&principals[k], &memory_ledgers[k]);
        let expected = memory_ledger.try_charge_all(p, &charges, now);
        let got = redis_ledger.try_charge_all(p, &charges, now);
        match (&expected, &got) {
            (Ok(()), Ok(())) => {
                for c in &charges {
                    if let Obligation::Budget { period_seconds, .. } = c.obligation {
                        assert_eq!(
                            redis_ledger.spent(p, &c.key, period_seconds, now).unwrap(),
                            memory_ledger.spent(&c.key, period_seconds, now),
                            "ledger step {step}: what each recorded"
                        );
                    }
                }
                applied.push((k, charges, now));
            }
            (Err(ChargeError::Refused(e)), Err(ChargeError::Refused(g))) => {
                assert_eq!(g, e, "ledger step {step}")
            }
            _ => panic!("ledger step {step}: memory {expected:?}, redis {got:?}"),
        }
        // Now and then an earlier applied set is given back, once (a payment that did not
        // settle): in its window or after it closed, both ledgers by the one rule.
        if !applied.is_empty() && rng.below(3) == 0 {
            let pick = usize::try_from(rng.below(applied.len() as u64)).unwrap();
            let (k, charges, at) = applied.swap_remove(pick);
            let p = &principals[k];
            let spent_now = |c: &Charge| match c.obligation {
                Obligation::Budget { period_seconds, .. } => {
                    memory_ledgers[k].spent(&c.key, period_seconds, now)
                }
                _ => None,
            };
            let before: Vec<_> = charges.iter().map(spent_now).collect();
            memory_ledgers[k].refund_all(p, &charges, at).unwrap();
            if charges.iter().map(spent_now).collect::<Vec<_>>() != before {
                given_back += 1;
            }
            redis_ledger.refund_all(p, &charges, at).unwrap();
            // (Read now: a closed window's counter may outlive it on the server, which
            // counts expiry by its own clock, while memory prunes it by the steps' time.)
            for c in &charges {
                if let Obligation::Budget { period_seconds, .. } = c.obligation {
                    assert_eq!(
                        redis_ledger.spent(p, &c.key, period_seconds, now).unwrap(),
                        memory_ledgers[k].spent(&c.key, period_seconds, now),
                        "refund at step {step} of a charge at {at}"
                    );
                }
            }
        }
    }
    assert!(
        given_back > steps / 50,
        "{given_back} refunds changed a budget"
    );
}

/// Budgets and rates of principal `k`'s credentials (`2c + k`: no two principals share a
/// credential, as a credential fixes its root principal); a counter's grant fixes its period
/// and limit (as a credential does).
#[allow(clippy::type_complexity)]
pub fn counters(
    k: usize,
) -> (
    impl Fn(u8, usize, &str) -> Charge,
    impl Fn(u8, usize, u64, u64) -> Charge,
) {
    let k = u8::try_from(k).unwrap();
    let b = move |c: u8, link, amount: &str| {
        let period = [30, 45, 60, 90][usize::from(c % 4)];
        budget(
            2 * c + k,
            link,
            amount,
            ["10", "9"][usize::from(c % 2)],
            period,
        )
    };
    let r = move |c: u8, link, count, period| rate(2 * c + k, link, count, period);
    (b, r)
}

/// [`RedisStores::admit`] (nonce and charges in one script) against the in-memory stores in
/// two steps: the same answer at every step, the same amounts recorded. Small shares and a
/// small ledger (one per principal, as Redis counts it), so that every refusal happens.
pub fn same_admissions_as_memory(url: &str, name: &str, steps: usize) {
    let quotas = NonceQuotas::default()
        .total(usize::MAX)
        .per_principal(5)
        .per_agent(3);
    let memory_nonces = MemoryNonceStore::new(quotas);
    let memory_ledgers = [
        MemoryLedger::new(6).principal_share(6),
        MemoryLedger::new(6).principal_share(6),
    ];
    let stores = RedisStores::new(config(url, name), quotas, 6).unwrap();
    let principals = [principal(100), principal(101)];
    let agents = [pk(1), pk(2), pk(3)];
    let mut rng = Lcg(11);
    let mut now = base();
    for step in 0..steps {
        now = now.add_seconds(i64::try_from(rng.below(4)).unwrap());
        let i = usize::try_from(rng.below(3)).unwrap();
        let nonce = format!("n{}", rng.below(6));
        let (p, memory_ledger) = (&principals[i % 2], &memory_ledgers[i % 2]);
        let key = NonceKey {
            principal: p,
            agent: &agents[i],
            nonce: &nonce,
        };
        let until = now.add_seconds(i64::try_from(rng.below(20)).unwrap() - 2);
        let c = u8::try_from(rng.below(9)).unwrap();
        let (b, r) = counters(i % 2);
        let charges = match rng.below(4) {
            0 => vec![],
            1 => vec![b(c, 0, "2.50"), r(c + 1, 1, 4, 20)],
            2 => vec![b(c, 0, "4"), b(c + 2, 1, "4")],
            _ => vec![b(c, 0, &format!("{}.{:02}", rng.below(5), rng.below(100)))],
        };
        let expected = SeparateStores::new(&memory_nonces, memory_ledger)
            .admit(key, until, &charges, now)
            .unwrap();
        let got = stores.admit(key, until, &charges, now).unwrap();
        assert_eq!(got, expected, "step {step}: {nonce} at {now}, {charges:?}");
        for c in &charges {
            if let Obligation::Budget { period_seconds, .. } = c.obligation {
                assert_eq!(
                    stores
                        .ledger()
                        .spent(p, &c.key, period_seconds, now)
                        .unwrap(),
                    memory_ledger.spent(&c.key, period_seconds, now),
                    "step {step}: what each recorded"
                );
            }
        }
    }
}
