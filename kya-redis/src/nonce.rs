//! The nonce store on Redis: [`MemoryNonceStore`](kya_verify::MemoryNonceStore)'s rule, with
//! its state on the server.

use std::sync::{Arc, LazyLock};

use kya_core::Timestamp;
use kya_verify::nonce::remembered_until;
use kya_verify::{NonceCounts, NonceKey, NonceQuotas, NonceStore, NonceVerdict, StoreUnavailable};
use redis::Script;
use sha2::{Digest as _, Sha256};

use crate::conn::{Pool, RedisConfig, RedisStoreError, token};
use crate::{SLACK_SECONDS, TOKEN_SECONDS};

/// Reserve: forgets the agent's and the principal's expired nonces, then records the nonce
/// if the agent has not used it, and answers `R` (remembered: a replay) or `N <agent count>
/// <principal count>` (recorded; the counts held before it). A repeat of the same request
/// token answers the first answer. Every key shares the principal's hash tag.
///
/// KEYS: agent set, principal set, token. ARGV: nonce, principal member, until, now, token
/// seconds, keep-sets-for (seconds from now, by the server's clock: a verifier clock that
/// differs from the server's never shortens what is remembered).
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local prior = redis.call('GET', KEYS[3])
if prior then return prior end
local now = ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
local answer
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  answer = 'R'
else
  answer = 'N ' .. redis.call('ZCARD', KEYS[1]) .. ' ' .. redis.call('ZCARD', KEYS[2])
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  local keep = tonumber(ARGV[6])
  for i = 1, 2 do
    if redis.call('TTL', KEYS[i]) < keep then redis.call('EXPIRE', KEYS[i], keep) end
  end
end
redis.call('SET', KEYS[3], answer, 'EX', ARGV[5])
return answer
",
    )
});

/// Release: takes back a reservation the rule refused (only the one this request made: the
/// same `until`). KEYS: agent set, principal set. ARGV: nonce, principal member, until.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[3]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
",
    )
});

/// A [`NonceStore`] shared by every instance of a merchant, on Redis (one node or a Cluster).
///
/// Same answers as [`MemoryNonceStore`](kya_verify::MemoryNonceStore) — nonces scoped to
/// their agent, remembered until `remember_until` (never less than `now`), the per-agent and
/// per-principal shares of [`NonceQuotas`] — decided by the same rule
/// ([`NonceQuotas::judge`]). How, atomically across instances: one script forgets the
/// expired nonces and records the nonce unless the agent used it (a replay), answering the
/// counts held before it; the rule then judges those counts, and a refused nonce is taken
/// back. Counts include other requests' reservations in flight, so a race at a share's edge
/// refuses (never admits) one more.
///
/// Layout: the agent's nonces (a sorted set, score = remembered until) and the principal's
/// (members `agent:nonce`) are under the hash tag `{<namespace>:n:<principal hash>}`, so one
/// script touches one cluster slot and principals spread over the cluster's masters. The
/// sets expire with their last nonce (plus [`SLACK_SECONDS`](crate::SLACK_SECONDS)), counted
/// on the server's clock from the time of the request.
///
/// What differs, both forced by one slot per principal:
///
/// - the scope is the agent *under its principal*: an agent key that acts for two
///   principals has a share and a set of nonces under each. A replay is still refused: a
///   signed request covers its chain (`KYA-Chain` or `KYA-Chain-Digest`), and a presentation
///   signs its chain, so a replayed message names the same principal;
/// - `NonceQuotas::total` is not counted (a count of all nonces would put every
///   principal in one slot); the server's `maxmemory` with `maxmemory-policy noeviction`
///   bounds the total, and a full server answers "unavailable", never forgets a nonce.
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

    /// The names of `key`'s agent set, principal set and principal member.
    pub fn key_names(&self, key: &NonceKey<'_>) -> (String, String, String) {
        let principal = Sha256::digest(key.principal.to_string().as_bytes());
        let tag = format!(
            "kya:{{{}:n:{}}}",
            self.pool.namespace(),
            hex::encode(&principal[..12])
        );
        let agent = hex::encode(key.agent.to_bytes());
        let member = format!("{agent}:{}", key.nonce);
        (format!("{tag}:a:{agent}"), format!("{tag}:p"), member)
    }

    fn check(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, RedisStoreError> {
        let Some(until) = remembered_until(key.nonce, remember_until, now) else {
            return Ok(NonceVerdict::QuotaExceeded);
        };
        let (agent_set, principal_set, member) = self.key_names(&key);
        let token_key = format!("{}:t:{}", tag_of(&principal_set), token()?);
        let keys = [agent_set, principal_set, token_key];
        let args = [
            key.nonce.to_owned(),
            member,
            until.to_string(),
            now.unix().to_string(),
            TOKEN_SECONDS.to_string(),
            until
                .saturating_sub(now.unix())
                .saturating_add(SLACK_SECONDS)
                .to_string(),
        ];
        let answer: String = self.pool.invoke(&RESERVE, &keys, &args)?;
        let held = match parse_reserve(&answer) {
            Some(None) => return Ok(NonceVerdict::Replayed),
            Some(Some((agent, principal))) => NonceCounts {
                total: None,
                principal,
                agent,
            },
            None => return Err(RedisStoreError::Reply(answer)),
        };
        let verdict = self.quotas.judge(held);
        if verdict != NonceVerdict::Fresh {
            // Best effort: if this fails, the nonce stays recorded until it expires (the
            // share is smaller meanwhile: fail closed).
            let release = [args[0].clone(), args[1].clone(), args[2].clone()];
            let _ = self.pool.invoke::<i64>(&RELEASE, &keys[..2], &release);
        }
        Ok(verdict)
    }
}

/// The hash-tagged prefix of a key (`kya:{…}`).
fn tag_of(key: &str) -> &str {
    key.find('}').map_or(key, |i| &key[..=i])
}

/// `R` → `Some(None)`; `N a p` → `Some(Some((a, p)))`.
fn parse_reserve(answer: &str) -> Option<Option<(usize, usize)>> {
    if answer == "R" {
        return Some(None);
    }
    let mut parts = answer.strip_prefix("N ")?.split(' ');
    let agent = parts.next()?.parse().ok()?;
    let principal = parts.next()?.parse().ok()?;
    Some(Some((agent, principal)))
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
