//! The ledger on Redis: [`MemoryLedger`](kya_verify::MemoryLedger)'s rule, with its
//! counters on the server.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use kya_core::Timestamp;
use kya_core::grant::Amount;
use kya_verify::ledger::{fits_capacity, ledger_full, plan_charges};
use kya_verify::{Charge, ChargeError, Ledger, LedgerKey, StoreUnavailable, Usage};
use redis::Script;

use crate::conn::{Pool, RedisConfig, RedisStoreError, token};
use crate::{SLACK_SECONDS, TOKEN_SECONDS};

/// Read, or compare-and-set, a chain's counters in one step.
///
/// KEYS: token, live set, counter 1 … n. ARGV: now, mode (`read` | `write`), live count
/// expected (at most), token seconds, then per counter: value expected (`""` = none), new
/// value, window end (the live set's score, verifier time), seconds to keep it (server
/// time). A repeat of an applied request token answers `done`. In `write` mode
/// the new values are set only if every counter still holds what the caller read and the
/// live count has not grown; otherwise (and in `read` mode) the answer is `state`, the live
/// count and every counter's value.
static CHARGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {'done'} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local live = redis.call('ZCARD', KEYS[2])
local n = #KEYS - 2
local values = {}
local same = ARGV[2] == 'write' and live <= tonumber(ARGV[3])
for i = 1, n do
  local v = redis.call('GET', KEYS[i + 2]) or ''
  values[i] = v
  if v ~= ARGV[4 * i + 1] then same = false end
end
if not same then
  return {'state', tostring(live), unpack(values)}
end
for i = 1, n do
  redis.call('SET', KEYS[i + 2], ARGV[4 * i + 2], 'EX', ARGV[4 * i + 4])
  redis.call('ZADD', KEYS[2], ARGV[4 * i + 3], KEYS[i + 2])
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[4])
return {'ok'}
",
    )
});

/// Attempts before a charge whose counters keep changing is answered "unavailable".
const MAX_ATTEMPTS: u32 = 64;

/// Local locks, by the first counter of a charge: requests of one instance charging the
/// same budget take turns instead of racing each other's compare-and-set.
const STRIPES: usize = 32;

/// A [`Ledger`] shared by every instance of a merchant, on Redis (one node or a Cluster).
///
/// Same answers as [`MemoryLedger`](kya_verify::MemoryLedger), decided by the same rule
/// ([`plan_charges`], [`fits_capacity`], [`ledger_full`]): epoch-aligned windows, budgets
/// and rates, every charge of a chain applied or none, a bounded number of live counters.
/// How, atomically across instances: one script reads the chain's counters; the rule plans
/// the new values; one script sets them all only if none changed meanwhile (otherwise the
/// rule plans again from what it answers). Nothing is applied until Redis says so, and a
/// request token makes a repeat after a lost answer a no-op.
///
/// Layout: every counter of the merchant is under the hash tag `{<namespace>:l}` (one
/// cluster slot). The `Ledger` trait names a counter by its credential alone, and a
/// parent's budget is charged by the chains of all its sub-agents: the one tag every such
/// charge agrees on is the merchant's. A counter expires when its window closes (plus
/// [`SLACK_SECONDS`](crate::SLACK_SECONDS)), counted on the server's clock.
#[derive(Debug)]
pub struct RedisLedger {
    pool: Arc<Pool>,
    capacity: usize,
    stripes: Vec<Mutex<()>>,
    /// What this instance last saw of each counter (and of the live count): the first
    /// compare-and-set starts from it, saving the read when no other instance charged the
    /// counters since. A stale entry costs one failed compare-and-set, never a wrong answer.
    last_seen: Mutex<LastSeen>,
}

#[derive(Debug, Default)]
struct LastSeen {
    live: usize,
    raw: HashMap<String, String>,
}

/// Counters remembered by [`LastSeen`] before it starts over.
const LAST_SEEN_MAX: usize = 10_000;

impl RedisLedger {
    /// A ledger with its own pool, holding at most `capacity` live counters (as
    /// [`MemoryLedger::new`](kya_verify::MemoryLedger::new)).
    pub fn new(config: RedisConfig, capacity: usize) -> Result<Self, RedisStoreError> {
        Ok(Self::on(Arc::new(Pool::new(config)?), capacity))
    }

    pub(crate) fn on(pool: Arc<Pool>, capacity: usize) -> Self {
        Self {
            pool,
            capacity,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            last_seen: Mutex::new(LastSeen::default()),
        }
    }

    /// The name of a counter.
    pub fn key_name(&self, key: &LedgerKey) -> String {
        format!(
            "{}:c:{}:{}:{}",
            self.tag(),
            key.credential.to_hex(),
            key.grant,
            key.kind
        )
    }

    fn tag(&self) -> String {
        format!("kya:{{{}:l}}", self.pool.namespace())
    }

    /// What a budget counter holds in the window of `now` (as
    /// [`MemoryLedger::spent`](kya_verify::MemoryLedger::spent)), read from Redis.
    pub fn spent(
        &self,
        key: &LedgerKey,
        period_seconds: u64,
        now: Timestamp,
    ) -> Result<Option<Amount>, RedisStoreError> {
        let names = vec![self.key_name(key)];
        let values = self.read(&names, now)?.values;
        let period = i64::try_from(period_seconds).unwrap_or(i64::MAX).max(1);
        let window = now.unix() - now.unix().rem_euclid(period);
        Ok(match values.into_iter().next().flatten() {
            Some(Usage::Budget {
                window: w, spent, ..
            }) if w == window => Some(spent),
            _ => None,
        })
    }

    fn read(&self, names: &[String], now: Timestamp) -> Result<State, RedisStoreError> {
        let mut keys = vec![
            format!("{}:t:read", self.tag()),
            format!("{}:live", self.tag()),
        ];
        keys.extend_from_slice(names);
        let mut args = vec![
            now.unix().to_string(),
            "read".into(),
            "0".into(),
            "1".into(),
        ];
        for _ in names {
            args.extend([String::new(), String::new(), "0".into(), "1".into()]);
        }
        let reply: Vec<String> = self.pool.invoke(&CHARGE, &keys, &args)?;
        state(&reply, names)
    }

    fn charge(&self, charges: &[Charge], now: Timestamp) -> Result<(), ChargeError> {
        let unavailable =
            |e: RedisStoreError| ChargeError::from(StoreUnavailable::new("ledger", e));
        if charges.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = charges.iter().map(|c| self.key_name(&c.key)).collect();
        let stripe = stripe_of(&names[0], self.stripes.len());
        let _turn = match self.stripes[stripe].lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let token = token().map_err(unavailable)?;
        let mut keys = vec![
            format!("{}:t:{token}", self.tag()),
            format!("{}:live", self.tag()),
        ];
        keys.extend(names.iter().cloned());
        let (mut seen, mut fresh) = match self.remembered(&names) {
            Some(seen) => (seen, false),
            None => (self.read(&names, now).map_err(unavailable)?, true),
        };
        for _ in 0..MAX_ATTEMPTS {
            let current: HashMap<&LedgerKey, &Usage> = charges
                .iter()
                .zip(&seen.values)
                .filter_map(|(c, v)| v.as_ref().map(|v| (&c.key, v)))
                .collect();
            let plan = plan_charges(charges, now, |k| current.get(k).copied()).and_then(|u| {
                let new_counters = u
                    .iter()
                    .filter(|(k, _)| current.get(k).is_none_or(|c| c.end() <= now.unix()))
                    .count();
                if fits_capacity(seen.live, new_counters, self.capacity) {
                    Ok((u, new_counters))
                } else {
                    Err(ledger_full(charges))
                }
            });
            let (updates, new_counters) = match plan {
                Ok(plan) => plan,
                // A refusal is judged on what Redis says now, never on what was remembered.
                Err(reasons) if fresh => return Err(ChargeError::Refused(reasons)),
                Err(_) => {
                    seen = self.read(&names, now).map_err(unavailable)?;
                    fresh = true;
                    continue;
                }
            };
            let planned: HashMap<&LedgerKey, &Usage> =
                updates.iter().map(|(k, u)| (k, u)).collect();
            let mut args = vec![
                now.unix().to_string(),
                "write".into(),
                seen.live.to_string(),
                TOKEN_SECONDS.to_string(),
            ];
            for (c, raw) in charges.iter().zip(&seen.raw) {
                let new = planned.get(&c.key).copied();
                args.push(raw.clone());
                args.push(new.map(encode).unwrap_or_default());
                let end = new.map_or(now.unix(), Usage::end);
                args.push(end.to_string());
                let keep = end.saturating_sub(now.unix()).max(0);
                args.push(keep.saturating_add(SLACK_SECONDS).to_string());
            }
            let reply: Vec<String> = self
                .pool
                .invoke(&CHARGE, &keys, &args)
                .map_err(unavailable)?;
            match reply.first().map(String::as_str) {
                Some("ok" | "done") => {
                    let written = charges
                        .iter()
                        .map(|c| planned.get(&c.key).copied().map(encode).unwrap_or_default());
                    self.remember(&names, written.collect(), seen.live + new_counters);
                    return Ok(());
                }
                Some("state") => {
                    seen = state(&reply, &names).map_err(unavailable)?;
                    fresh = true;
                    self.remember(&names, seen.raw.clone(), seen.live);
                }
                _ => return Err(unavailable(RedisStoreError::Reply(reply.join(" ")))),
            }
        }
        Err(unavailable(RedisStoreError::Contention {
            attempts: MAX_ATTEMPTS,
        }))
    }
}

impl RedisLedger {
    fn last_seen(&self) -> std::sync::MutexGuard<'_, LastSeen> {
        match self.last_seen.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The counters as this instance last saw them, if it saw them all.
    fn remembered(&self, names: &[String]) -> Option<State> {
        let last = self.last_seen();
        let raw: Vec<String> = names
            .iter()
            .map(|n| last.raw.get(n).cloned())
            .collect::<Option<_>>()?;
        let values = raw
            .iter()
            .map(|v| {
                if v.is_empty() {
                    Some(None)
                } else {
                    decode(v).map(Some)
                }
            })
            .collect::<Option<_>>()?;
        Some(State {
            live: last.live,
            raw,
            values,
        })
    }

    fn remember(&self, names: &[String], raw: Vec<String>, live: usize) {
        let mut last = self.last_seen();
        if last.raw.len() + names.len() > LAST_SEEN_MAX {
            last.raw.clear();
        }
        last.live = live;
        for (n, v) in names.iter().zip(raw) {
            last.raw.insert(n.clone(), v);
        }
    }
}

impl Ledger for RedisLedger {
    fn try_charge_all(&self, charges: &[Charge], now: Timestamp) -> Result<(), ChargeError> {
        self.charge(charges, now)
    }
}

fn stripe_of(name: &str, n: usize) -> usize {
    // FNV-1a: a stable spread, no need for a keyed hash (the names are ours).
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    usize::try_from(h % n.max(1) as u64).unwrap_or(0)
}

/// `state <live> <value>…` → the live count and each counter's usage.
fn state(reply: &[String], names: &[String]) -> Result<State, RedisStoreError> {
    let bad = || RedisStoreError::Reply(reply.join(" "));
    if reply.first().map(String::as_str) != Some("state") || reply.len() != names.len() + 2 {
        return Err(bad());
    }
    let live = reply[1].parse().map_err(|_| bad())?;
    let values = reply[2..]
        .iter()
        .zip(names)
        .map(|(v, name)| {
            if v.is_empty() {
                Ok(None)
            } else {
                decode(v).map(Some).ok_or_else(|| RedisStoreError::Corrupt {
                    key: name.clone(),
                    value: v.clone(),
                })
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(State {
        live,
        raw: reply[2..].to_vec(),
        values,
    })
}

/// The counters as a script read them: the live count, each value as stored and parsed.
struct State {
    live: usize,
    raw: Vec<String>,
    values: Vec<Option<Usage>>,
}

/// `b <window> <end> <spent>` or `r <window> <end> <count>`.
fn encode(u: &Usage) -> String {
    match u {
        Usage::Budget { window, end, spent } => format!("b {window} {end} {spent}"),
        Usage::Rate { window, end, count } => format!("r {window} {end} {count}"),
        _ => String::new(),
    }
}

fn decode(v: &str) -> Option<Usage> {
    let mut parts = v.split(' ');
    let kind = parts.next()?;
    let window = parts.next()?.parse().ok()?;
    let end = parts.next()?.parse().ok()?;
    let value = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    match kind {
        "b" => Some(Usage::Budget {
            window,
            end,
            spent: Amount::parse(value).ok()?,
        }),
        "r" => Some(Usage::Rate {
            window,
            end,
            count: value.parse().ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_round_trip_and_foreign_values_are_refused() {
        let b = Usage::Budget {
            window: 1_800_000_000,
            end: 1_800_086_400,
            spent: Amount::parse("12.345").unwrap(),
        };
        let r = Usage::Rate {
            window: 60,
            end: 120,
            count: 7,
        };
        for u in [b, r] {
            assert_eq!(decode(&encode(&u)), Some(u));
        }
        for bad in ["", "b 1 2", "b 1 2 x", "x 1 2 3", "r 1 2 3 4", "r 1 2 -3"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
