#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod conn;
mod ledger;
mod nonce;

use std::sync::Arc;

pub use conn::{RedisConfig, RedisStoreError, Target};
pub use ledger::RedisLedger;
pub use nonce::RedisNonceStore;

use kya_verify::NonceQuotas;

/// How long past its expiry a key is kept (seconds): the stores judge time by the
/// verifier's clock, Redis expires keys by its own; this covers a difference up to it.
pub const SLACK_SECONDS: i64 = 300;

/// How long a request token is remembered (seconds): longer than any retry of a request.
pub const TOKEN_SECONDS: i64 = 30;

/// A nonce store and a ledger for one merchant, sharing one connection pool.
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
pub fn stores(
    config: RedisConfig,
    quotas: NonceQuotas,
    ledger_capacity: usize,
) -> Result<(Arc<RedisNonceStore>, Arc<RedisLedger>), RedisStoreError> {
    let pool = Arc::new(conn::Pool::new(config)?);
    Ok((
        Arc::new(RedisNonceStore::on(Arc::clone(&pool), quotas)),
        Arc::new(RedisLedger::on(pool, ledger_capacity)),
    ))
}
