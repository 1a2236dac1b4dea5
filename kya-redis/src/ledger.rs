//! The ledger on Redis: [`MemoryLedger`](kya_verify::MemoryLedger)'s rule, with its
//! counters on the server.

use std::collections::HashMap;
use std::sync::Arc;

use kya_core::grant::{Amount, Obligation};
use kya_core::{Did, Timestamp};
use kya_verify::ledger::{fits_capacity, ledger_full, plan_charges, plan_refunds, window_start};
use kya_verify::{Charge, ChargeError, Ledger, LedgerKey, Reason, StoreUnavailable, Usage};

use crate::conn::{Pool, RedisConfig, RedisStoreError, token};
use crate::lua::{CHARGE, REFUND};
use crate::{SLACK_SECONDS, TOKEN_SECONDS};

/// A [`Ledger`] shared by every instance of a merchant, on Redis (one node or a Cluster).
///
/// Same answers as one [`MemoryLedger`](kya_verify::MemoryLedger) per root principal,
/// decided by the same rule ([`plan_charges`], [`fits_capacity`], [`ledger_full`]):
/// epoch-aligned windows, budgets and rates, every charge of a chain applied or none, a
/// bounded number of live counters.
/// How, atomically across instances: one script reads the chain's counters, judges the
/// charges and applies them all or none, in one round trip. The script answers the values
/// it judged, and the Rust rule judges them again: a refusal's reasons are the rule's, and
/// any disagreement is "unavailable" (fail closed). A request token makes a repeat after a
/// lost answer a no-op.
///
/// Layout: a counter is under the hash tag `{<namespace>:<principal hash>}` of the merchant
/// and the root principal of the chains that charge it (hex of the first 12 bytes of
/// SHA-256 of its DID), with that principal's nonces and its `live` set; so is a call's
/// request token. A parent's budget is charged by the chains of all its sub-agents, and
/// they all have the parent's root principal (a credential names its parent by digest,
/// which fixes its ancestry), so every charge of a chain, and every chain charging one
/// counter, agree on its tag: a call touches one cluster slot, a counter always has the
/// same name, and a Cluster spreads one merchant's principals over its masters. A counter
/// expires when its window closes (plus [`SLACK_SECONDS`](crate::SLACK_SECONDS)), counted
/// on the server's clock.
///
/// What differs: the capacity is counted per root principal (each principal's `live` set
/// holds at most `capacity` live counters), not for the whole ledger; the server's
/// `maxmemory` with `maxmemory-policy noeviction` bounds the total, and a full server
/// answers "unavailable", never forgets a counter. This is also the stronger guarantee: the
/// chains of one principal cannot fill the ledger for the others (a full principal's next
/// new counter is refused with `ledger_full`, another principal's charge is not).
#[derive(Debug, Clone)]
pub struct RedisLedger {
    pool: Arc<Pool>,
    capacity: usize,
}

impl RedisLedger {
    /// A ledger with its own pool, holding at most `capacity` live counters per root
    /// principal (as [`MemoryLedger::new`](kya_verify::MemoryLedger::new) for all).
    pub fn new(config: RedisConfig, capacity: usize) -> Result<Self, RedisStoreError> {
        Ok(Self::on(Arc::new(Pool::new(config)?), capacity))
    }

    pub(crate) fn on(pool: Arc<Pool>, capacity: usize) -> Self {
        Self { pool, capacity }
    }

    /// The name of a counter charged by chains rooted at `principal`.
    pub fn key_name(&self, principal: &Did, key: &LedgerKey) -> String {
        counter_name(&self.pool.tag(principal), key)
    }

    /// What a budget counter holds in the window of `now` (as
    /// [`MemoryLedger::spent`](kya_verify::MemoryLedger::spent)), read from Redis;
    /// `principal` is the root principal of the chains that charge it.
    pub fn spent(
        &self,
        principal: &Did,
        key: &LedgerKey,
        period_seconds: u64,
        now: Timestamp,
    ) -> Result<Option<Amount>, RedisStoreError> {
        let tag = self.pool.tag(principal);
        let names = vec![counter_name(&tag, key)];
        // Kind `x` judges nothing: the script answers the values and applies nothing.
        let mut args = vec![now.unix().to_string(), "0".into(), "1".into()];
        args.extend(unfit());
        let keys = self.keys(&tag, "read", &names);
        let reply: Vec<String> = self.pool.invoke(&CHARGE, &keys, &args)?;
        let values = state(reply.get(1..).unwrap_or_default(), &names)?.values;
        let window = window_start(now, period_seconds);
        Ok(match values.into_iter().next().flatten() {
            Some(Usage::Budget {
                window: w, spent, ..
            }) if w == window => Some(spent),
            _ => None,
        })
    }

    /// The token (under the principal's tag, as every key of the script), then the
    /// counter keys.
    fn keys(&self, tag: &str, token: &str, names: &[String]) -> Vec<String> {
        let mut keys = vec![format!("{tag}:t:{token}")];
        keys.extend(counter_keys(tag, names));
        keys
    }

    fn charge(
        &self,
        principal: &Did,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), ChargeError> {
        let unavailable =
            |e: RedisStoreError| ChargeError::from(StoreUnavailable::new("ledger", e));
        if charges.is_empty() {
            return Ok(());
        }
        let tag = self.pool.tag(principal);
        let names = names(&tag, charges);
        let keys = self.keys(&tag, &token().map_err(unavailable)?, &names);
        let mut args = vec![
            now.unix().to_string(),
            self.capacity.to_string(),
            TOKEN_SECONDS.to_string(),
        ];
        args.extend(counter_args(charges, now));
        let reply: Vec<String> = self
            .pool
            .invoke(&CHARGE, &keys, &args)
            .map_err(unavailable)?;
        let applied = match reply.first().map(String::as_str) {
            Some("done") => return Ok(()),
            Some("ok") => true,
            Some("refused") => false,
            _ => return Err(unavailable(RedisStoreError::Reply(reply.join(" ")))),
        };
        self.judge(charges, now, &names, applied, &reply[1..])
            .map_err(unavailable)?
            .map_err(ChargeError::Refused)
    }

    /// Gives back the budget charges among `charges` (see [`Ledger::refund_all`]): one
    /// script lowers the counters still in their charge's window, and the Rust rule
    /// ([`plan_refunds`]) judges what it read and wrote (a disagreement is an error).
    fn refund(
        &self,
        principal: &Did,
        charges: &[Charge],
        charged_at: Timestamp,
    ) -> Result<(), RedisStoreError> {
        let budgets: Vec<Charge> = charges
            .iter()
            .filter(|c| matches!(c.obligation, Obligation::Budget { .. }))
            .cloned()
            .collect();
        if budgets.is_empty() {
            return Ok(());
        }
        let tag = self.pool.tag(principal);
        let names = names(&tag, &budgets);
        let mut keys = vec![format!("{tag}:t:{}", token()?)];
        keys.extend(names.iter().cloned());
        let mut args = vec![TOKEN_SECONDS.to_string()];
        for c in &budgets {
            if let Obligation::Budget {
                charge,
                period_seconds,
                ..
            } = &c.obligation
            {
                args.push(window_start(charged_at, *period_seconds).to_string());
                args.extend(amount(&charge.value));
            }
        }
        let reply: Vec<String> = self.pool.invoke(&REFUND, &keys, &args)?;
        let n = names.len();
        let (before, after) = match reply.first().map(String::as_str) {
            Some("done") => return Ok(()),
            Some("ok") if reply.len() == 1 + 2 * n => reply[1..].split_at(n),
            _ => return Err(RedisStoreError::Reply(reply.join(" "))),
        };
        let seen = usages(before, &names)?;
        let current: HashMap<&LedgerKey, &Usage> = budgets
            .iter()
            .zip(&seen)
            .filter_map(|(c, v)| v.as_ref().map(|v| (&c.key, v)))
            .collect();
        let planned: HashMap<LedgerKey, Usage> =
            plan_refunds(&budgets, charged_at, |k| current.get(k).copied())
                .into_iter()
                .collect();
        let agrees = budgets
            .iter()
            .zip(before.iter().zip(after))
            .all(|(c, (was, now))| match planned.get(&c.key) {
                Some(u) => encode(u) == *now,
                None => was == now,
            });
        if agrees {
            Ok(())
        } else {
            Err(RedisStoreError::Reply(format!(
                "disagrees with the refund rule: {reply:?}"
            )))
        }
    }

    /// The capacity (live counters at most, per root principal).
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The Rust rule on what the script judged (`<live> <before>…`, then `<after>…` if it
    /// `applied` them): the refusal's reasons, or an error if the script and the rule
    /// disagree.
    pub(crate) fn judge(
        &self,
        charges: &[Charge],
        now: Timestamp,
        names: &[String],
        applied: bool,
        reply: &[String],
    ) -> Result<Result<(), Vec<Reason>>, RedisStoreError> {
        let disagree = || RedisStoreError::Reply(format!("disagrees with the rule: {reply:?}"));
        let (before, written) = match applied {
            true if reply.len() == 1 + 2 * names.len() => reply.split_at(1 + names.len()),
            false => (reply, &[][..]),
            true => return Err(disagree()),
        };
        let seen = state(before, names)?;
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
                Ok(u)
            } else {
                Err(ledger_full(charges))
            }
        });
        match (plan, applied) {
            (Ok(updates), true)
                if updates.len() == written.len()
                    && updates
                        .iter()
                        .zip(written)
                        .all(|((_, u), w)| encode(u) == *w) =>
            {
                Ok(Ok(()))
            }
            (Err(reasons), false) => Ok(Err(reasons)),
            _ => Err(disagree()),
        }
    }
}

/// The counters' arguments of a script: each counter's window as the rule places it and its
/// charge and limit (kind `x` for a charge that cannot fit even an empty counter, or that
/// the rule does not know: the script refuses, the rule says why).
pub(crate) fn counter_args(charges: &[Charge], now: Timestamp) -> Vec<String> {
    let mut args = Vec::with_capacity(8 * charges.len());
    let Ok(windows) = plan_charges(charges, now, |_| None) else {
        for _ in charges {
            args.extend(unfit());
        }
        return args;
    };
    for (c, (_, usage)) in charges.iter().zip(&windows) {
        let (window, end) = match usage {
            Usage::Budget { window, end, .. } | Usage::Rate { window, end, .. } => (window, end),
            _ => (&0, &0),
        };
        let keep = end.saturating_sub(now.unix()).max(0);
        let place = [
            window.to_string(),
            end.to_string(),
            keep.saturating_add(SLACK_SECONDS).to_string(),
        ];
        match (&c.obligation, usage) {
            (Obligation::Budget { charge, limit, .. }, Usage::Budget { .. }) => {
                args.push("b".into());
                args.extend(place);
                args.extend(amount(&charge.value));
                args.extend(amount(&limit.value));
            }
            (Obligation::Rate { count, .. }, Usage::Rate { .. }) => {
                args.push("r".into());
                args.extend(place);
                args.extend([
                    count.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
            _ => args.extend(unfit()),
        }
    }
    args
}

/// A counter's arguments that judge nothing.
fn unfit() -> [String; 8] {
    [
        "x".into(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]
}

/// An amount as the script takes it: mantissa digits, scale.
fn amount(a: &Amount) -> [String; 2] {
    [a.mantissa().to_string(), a.scale().to_string()]
}

/// A counter's name under the tag of the chains that charge it.
fn counter_name(tag: &str, key: &LedgerKey) -> String {
    format!(
        "{tag}:c:{}:{}:{}",
        key.credential.to_hex(),
        key.grant,
        key.kind
    )
}

/// The counters' names for `charges` under `tag`.
pub(crate) fn names(tag: &str, charges: &[Charge]) -> Vec<String> {
    charges.iter().map(|c| counter_name(tag, &c.key)).collect()
}

/// The principal's live set, then the counters: the keys a charge adds to a script's.
pub(crate) fn counter_keys(tag: &str, names: &[String]) -> Vec<String> {
    let mut keys = vec![format!("{tag}:live")];
    keys.extend_from_slice(names);
    keys
}

impl Ledger for RedisLedger {
    fn try_charge_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), ChargeError> {
        self.charge(principal, charges, now)
    }

    fn refund_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        charged_at: Timestamp,
    ) -> Result<(), StoreUnavailable> {
        self.refund(principal, charges, charged_at)
            .map_err(|e| StoreUnavailable::new("ledger", e))
    }
}

/// `<live> <value>…` → the live count and each counter's usage.
fn state(reply: &[String], names: &[String]) -> Result<State, RedisStoreError> {
    let bad = || RedisStoreError::Reply(reply.join(" "));
    let Some((live, values)) = reply.split_first() else {
        return Err(bad());
    };
    Ok(State {
        live: live.parse().map_err(|_| bad())?,
        values: usages(values, names)?,
    })
}

/// `<value>…` → each counter's usage (`None` for an absent one).
fn usages(reply: &[String], names: &[String]) -> Result<Vec<Option<Usage>>, RedisStoreError> {
    if reply.len() != names.len() {
        return Err(RedisStoreError::Reply(reply.join(" ")));
    }
    reply
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
        .collect()
}

/// The counters as the script read them: the live count, each value parsed.
struct State {
    live: usize,
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
