//! The nonce store on Redis: [`MemoryNonceStore`](kya_verify::MemoryNonceStore)'s rule, with
//! its state on the server.

use std::sync::Arc;

use kya_core::Timestamp;
use kya_verify::nonce::remembered_until;
use kya_verify::{NonceCounts, NonceKey, NonceQuotas, NonceStore, NonceVerdict, StoreUnavailable};

use crate::conn::{Pool, RedisConfig, RedisStoreError, token};
use crate::lua::ADMIT;
use crate::{SLACK_SECONDS, TOKEN_SECONDS};

/// A [`NonceStore`] shared by every instance of a merchant, on Redis (one node or a Cluster).
///
/// Same answers as [`MemoryNonceStore`](kya_verify::MemoryNonceStore) — nonces scoped to
/// their agent, remembered until `remember_until` (never less than `now`), the per-agent and
/// per-principal shares of [`NonceQuotas`] — decided by the same rule
/// ([`NonceQuotas::judge`]). How, atomically across instances: one script forgets the
/// expired nonces, judges the shares and records the nonce unless the agent used it (a
/// replay) or a share is full, in one round trip; it answers the counts it judged, and the
/// Rust rule judges them again (a disagreement is "unavailable").
///
/// Layout: the agent's nonces (a sorted set, score = remembered until) and its principal's
/// (members `agent:nonce`) are under the hash tag `{<namespace>:<principal hash>}` of the
/// merchant and the chain's root principal (hex of the first 12 bytes of SHA-256 of its
/// DID), with the counters of the ledger the principal's chains charge, so that one script
/// records a nonce and charges a budget together ([`RedisStores`](crate::RedisStores)): the
/// state of one principal's chains at one merchant is one cluster slot, and a Cluster
/// spreads a merchant's principals over its masters. The sets expire with their last nonce
/// (plus [`SLACK_SECONDS`](crate::SLACK_SECONDS)), counted on the server's clock from the
/// time of the request.
///
/// What differs:
///
/// - the scope is the agent *under its principal*: an agent key that acts for two
///   principals has a share and a set of nonces under each. A replay is still refused: a
///   signed request covers its chain (`KYA-Chain` or `KYA-Chain-Digest`), and a presentation
///   signs its chain, so a replayed message names the same principal;
/// - `NonceQuotas::total` is not counted; the server's `maxmemory` with
///   `maxmemory-policy noeviction` bounds the total, and a full server answers
///   "unavailable", never forgets a nonce.
#[derive(Debug, Clone)]
pub struct RedisNonceStore {
    pool: Arc<Pool>,
    quotas: NonceQuotas,
}

impl RedisNonceStore {
    /// A store with its own pool (connections are made on first use).
    pub fn new(config: RedisConfig, quotas: NonceQuotas) -> Result<Self, RedisStoreError> {
        Ok(Self::on(Arc::new(Pool::new(config)?), quotas))
    }

    pub(crate) fn on(pool: Arc<Pool>, quotas: NonceQuotas) -> Self {
        Self { pool, quotas }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The names of `key`'s agent set, principal set and principal member.
    pub fn key_names(&self, key: &NonceKey<'_>) -> (String, String, String) {
        names_under(&self.pool.tag(key.principal), key)
    }

    fn check(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, RedisStoreError> {
        let Some(script) = self.script(key, remember_until, now)? else {
            return Ok(NonceVerdict::QuotaExceeded);
        };
        let reply: Vec<String> = self.pool.invoke(&ADMIT, &script.keys, &script.args)?;
        match self.verdict(&reply)? {
            Some(verdict) => Ok(verdict),
            None if reply.len() <= 3 && reply[0] != "refused" => Ok(NonceVerdict::Fresh),
            None => Err(RedisStoreError::Reply(reply.join(" "))),
        }
    }

    /// The ADMIT script's keys and arguments for `key` (no counters yet); `None` if the
    /// nonce cannot be kept at all.
    pub(crate) fn script(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Invocation>, RedisStoreError> {
        let Some(until) = remembered_until(key.nonce, remember_until, now) else {
            return Ok(None);
        };
        // Every key of the script under the principal's tag (one slot), the token too.
        let tag = self.pool.tag(key.principal);
        let (agent_set, principal_set, member) = names_under(&tag, &key);
        let token_key = format!("{tag}:t:{}", token()?);
        let keys = vec![token_key, agent_set, principal_set];
        let args = vec![
            key.nonce.to_owned(),
            member,
            until.to_string(),
            now.unix().to_string(),
            TOKEN_SECONDS.to_string(),
            until
                .saturating_sub(now.unix())
                .saturating_add(SLACK_SECONDS)
                .to_string(),
            self.quotas.per_agent.to_string(),
            self.quotas.per_principal.to_string(),
        ];
        Ok(Some(Invocation { tag, keys, args }))
    }

    /// The nonce's part of an ADMIT answer: `Some` verdict if the nonce was not recorded
    /// (`R`, `Q`), `None` if it was (`ok`, `refused`, `done`: the rest says more), checked
    /// against the rule ([`NonceQuotas::judge`]).
    pub(crate) fn verdict(
        &self,
        reply: &[String],
    ) -> Result<Option<NonceVerdict>, RedisStoreError> {
        let bad = || RedisStoreError::Reply(reply.join(" "));
        let judge = |a: &String, p: &String| -> Result<NonceVerdict, RedisStoreError> {
            Ok(self.quotas.judge(NonceCounts {
                total: None,
                principal: p.parse().map_err(|_| bad())?,
                agent: a.parse().map_err(|_| bad())?,
            }))
        };
        match reply {
            [r] if r == "R" => Ok(Some(NonceVerdict::Replayed)),
            [d] if d == "done" => Ok(None),
            [q, a, p] if q == "Q" => match judge(a, p)? {
                NonceVerdict::QuotaExceeded => Ok(Some(NonceVerdict::QuotaExceeded)),
                _ => Err(bad()),
            },
            [v, a, p, ..] if v == "ok" || v == "refused" => match judge(a, p)? {
                NonceVerdict::Fresh => Ok(None),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// A script's keys and arguments.
pub(crate) struct Invocation {
    /// The hash tag every key is under.
    pub(crate) tag: String,
    pub(crate) keys: Vec<String>,
    pub(crate) args: Vec<String>,
}

/// The agent set, principal set and principal member of `key` under `tag`.
fn names_under(tag: &str, key: &NonceKey<'_>) -> (String, String, String) {
    let agent = hex::encode(key.agent.to_bytes());
    let member = format!("{agent}:{}", key.nonce);
    (format!("{tag}:n:a:{agent}"), format!("{tag}:n:p"), member)
}

impl NonceStore for RedisNonceStore {
    fn check_and_store(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable> {
        self.check(key, remember_until, now)
            .map_err(|e| StoreUnavailable::new("nonce store", e))
    }
}
