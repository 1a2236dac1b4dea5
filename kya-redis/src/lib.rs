#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod conn;
mod ledger;
mod lua;
mod nonce;

use std::sync::Arc;

pub use conn::{RedisConfig, RedisStoreError, Target};
pub use ledger::RedisLedger;
pub use nonce::RedisNonceStore;

use kya_core::{Did, Timestamp};
use kya_verify::{
    Admission, AdmissionStore, Charge, ChargeError, Ledger, NonceKey, NonceQuotas, NonceStore,
    NonceVerdict, StoreUnavailable,
};

/// How long past its expiry a key is kept (seconds): the stores judge time by the
/// verifier's clock, Redis expires keys by its own; this covers a difference up to it.
pub const SLACK_SECONDS: i64 = 300;

/// How long a request token is remembered (seconds): longer than any retry of a request.
pub const TOKEN_SECONDS: i64 = 30;

/// A nonce store and a ledger for one merchant, sharing one connection pool; the ledger
/// holds at most `ledger_capacity` live counters per root principal (see [`RedisLedger`]).
///
/// ```no_run
/// use std::sync::Arc;
/// use kya_verify::{NonceQuotas, Policy, Verifier};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let policy = Policy::builder().build();
/// let config = kya_redis::RedisConfig::from_url("redis://127.0.0.1:6379", "shop.example")?;
/// let (nonces, ledger) = kya_redis::stores(config, NonceQuotas::default(), 100_000)?;
/// let verifier = Verifier::new(policy).with_nonce_store(nonces).with_ledger(ledger);
/// # Ok(()) }
/// ```
///
/// [`RedisStores`] is both at once, and answers a request in one round trip.
pub fn stores(
    config: RedisConfig,
    quotas: NonceQuotas,
    ledger_capacity: usize,
) -> Result<(Arc<RedisNonceStore>, Arc<RedisLedger>), RedisStoreError> {
    let stores = RedisStores::new(config, quotas, ledger_capacity)?;
    Ok((Arc::new(stores.nonces), Arc::new(stores.ledger)))
}

/// The nonce store and the ledger of one merchant as one [`AdmissionStore`]: a request's
/// nonce and its charges in one script, one round trip
/// ([`Verifier::with_stores`](kya_verify::Verifier::with_stores)). The same keys as
/// [`RedisNonceStore`] and [`RedisLedger`] on the same namespace: instances may mix them.
///
/// ```no_run
/// use std::sync::Arc;
/// use kya_verify::{NonceQuotas, Policy, Verifier};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let policy = Policy::builder().build();
/// let config = kya_redis::RedisConfig::from_url("redis://127.0.0.1:6379", "shop.example")?;
/// let stores = kya_redis::RedisStores::new(config, NonceQuotas::default(), 100_000)?;
/// let verifier = Verifier::new(policy).with_stores(Arc::new(stores));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisStores {
    nonces: RedisNonceStore,
    ledger: RedisLedger,
}

impl RedisStores {
    /// The stores on one pool (connections are made on first use); the ledger holds at
    /// most `ledger_capacity` live counters per root principal (see [`RedisLedger`]).
    pub fn new(
        config: RedisConfig,
        quotas: NonceQuotas,
        ledger_capacity: usize,
    ) -> Result<Self, RedisStoreError> {
        let pool = Arc::new(conn::Pool::new(config)?);
        Ok(Self {
            nonces: RedisNonceStore::on(Arc::clone(&pool), quotas),
            ledger: RedisLedger::on(pool, ledger_capacity),
        })
    }

    /// The nonce store.
    pub fn nonces(&self) -> &RedisNonceStore {
        &self.nonces
    }

    /// The ledger.
    pub fn ledger(&self) -> &RedisLedger {
        &self.ledger
    }

    fn admit_at_once(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<Admission, RedisStoreError> {
        let Some(mut script) = self.nonces.script(key, remember_until, now)? else {
            return Ok(Admission::Nonce(NonceVerdict::QuotaExceeded));
        };
        // The chain's counters are under its root principal's tag, as the nonce's sets and
        // the request token: the script touches one slot.
        let names = ledger::names(&script.tag, charges);
        if !charges.is_empty() {
            script
                .keys
                .extend(ledger::counter_keys(&script.tag, &names));
            script.args.push(self.ledger.capacity().to_string());
            script.args.extend(ledger::counter_args(charges, now));
        }
        let reply: Vec<String> =
            self.nonces
                .pool()
                .invoke(&lua::ADMIT, &script.keys, &script.args)?;
        if let Some(verdict) = self.nonces.verdict(&reply)? {
            return Ok(Admission::Nonce(verdict));
        }
        let applied = match reply.first().map(String::as_str) {
            Some("done") => return Ok(Admission::Admitted),
            Some("ok") => true,
            _ => false,
        };
        if charges.is_empty() {
            return match (applied, reply.len()) {
                (true, 3) => Ok(Admission::Admitted),
                _ => Err(RedisStoreError::Reply(reply.join(" "))),
            };
        }
        let rest = reply.get(3..).unwrap_or_default();
        match self.ledger.judge(charges, now, &names, applied, rest)? {
            Ok(()) => Ok(Admission::Admitted),
            Err(reasons) => Ok(Admission::Refused(reasons)),
        }
    }
}

impl NonceStore for RedisStores {
    fn check_and_store(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable> {
        self.nonces.check_and_store(key, remember_until, now)
    }
}

impl Ledger for RedisStores {
    fn try_charge_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), ChargeError> {
        self.ledger.try_charge_all(principal, charges, now)
    }

    fn refund_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        charged_at: Timestamp,
    ) -> Result<(), StoreUnavailable> {
        self.ledger.refund_all(principal, charges, charged_at)
    }
}

impl AdmissionStore for RedisStores {
    fn admit(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<Admission, StoreUnavailable> {
        self.admit_at_once(key, remember_until, charges, now)
            .map_err(|e| StoreUnavailable::new("nonce store and ledger", e))
    }
}
