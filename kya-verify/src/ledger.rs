//! Stateful obligations: budgets and rates, enforced through a pluggable ledger.
//!
//! An allowed request may carry [`Obligation`]s (a budget charge, a rate event) from the
//! grant of each link that allows it. A [`Ledger`] applies all of them or none
//! ([`Ledger::try_charge_all`]): a parent's budget is shared by every sub-agent it delegated
//! to, because each link's obligations are keyed by that link's credential digest and grant.
//!
//! [`MemoryLedger`] counts in fixed windows aligned to the Unix epoch (multiples of
//! `period_seconds`), which attenuation keeps sound (a child's period is a whole multiple of
//! its parent's).

use std::collections::HashMap;
use std::sync::Mutex;

use kya_core::grant::{Amount, Obligation};
use kya_core::{CredentialDigest, Did, Timestamp};
use serde::Serialize;

use crate::code::Code;
use crate::decision::Reason;
use crate::store::StoreUnavailable;

/// Which counter an obligation charges: a credential's grant, and the obligation's kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerKey {
    /// The credential (chain link) the grant belongs to.
    pub credential: CredentialDigest,
    /// The grant's position in that credential.
    pub grant: usize,
    /// `budget` or `rate` ([`Obligation::code`]).
    pub kind: &'static str,
}

/// One obligation to apply, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The counter.
    pub key: LedgerKey,
    /// The chain link (0 = root).
    pub link: usize,
    /// The obligation.
    pub obligation: Obligation,
}

impl Serialize for Charge {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Charge", 5)?;
        st.serialize_field("link", &self.link)?;
        st.serialize_field("grant", &self.key.grant)?;
        st.serialize_field("credential", &self.key.credential)?;
        st.serialize_field("kind", self.obligation.code())?;
        st.serialize_field("obligation", &self.obligation.to_string())?;
        st.end()
    }
}

/// Why a ledger applied no charge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChargeError {
    /// The charges do not fit (one [`Reason`] per charge that does not: codes
    /// `budget_exhausted`, `rate_limited`, `ledger_full`, `unknown_obligation`).
    #[error("the ledger refused the charges ({} reasons)", .0.len())]
    Refused(Vec<Reason>),
    /// The ledger could not answer: nothing was charged, and nothing may be allowed.
    #[error(transparent)]
    Unavailable(#[from] StoreUnavailable),
}

/// Applies obligations atomically.
///
/// A call charges the obligations of one chain, and names the chain's root principal (the
/// issuer of its root credential). The principal is a parameter of the call, not a field
/// of every [`LedgerKey`] or [`Charge`], because it is one fact about all of them: a
/// delegation names its parent by digest, so a credential fixes its whole ancestry and thus
/// its root principal, and every charge of a chain (its own budget and its parents') has
/// the same one. A counter therefore always comes with the same principal, and a ledger may
/// use it to place its state (a shared ledger keeps each principal's counters together, so
/// that one atomic step can apply them all); [`MemoryLedger`] ignores it, and a
/// [`LedgerKey`] alone still names a counter.
pub trait Ledger: Send + Sync {
    /// Applies every charge, or none of them and says why. `principal` is the root
    /// principal of the chain the charges come from.
    fn try_charge_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), ChargeError>;

    /// Gives back the budget charges among `charges`, which [`try_charge_all`] applied at
    /// `charged_at` for the chain rooted at `principal`, when what they paid for did not
    /// happen (a payment that definitely did not settle), by the rule of [`plan_refunds`]:
    /// a budget counter still in the window of `charged_at` is lowered by its charge; rate
    /// counters keep the request (it was made). Call it once per applied set of charges: a
    /// second call gives back twice.
    ///
    /// [`try_charge_all`]: Ledger::try_charge_all
    fn refund_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        charged_at: Timestamp,
    ) -> Result<(), StoreUnavailable>;
}

impl<L: Ledger + ?Sized> Ledger for &L {
    fn try_charge_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), ChargeError> {
        (**self).try_charge_all(principal, charges, now)
    }

    fn refund_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        charged_at: Timestamp,
    ) -> Result<(), StoreUnavailable> {
        (**self).refund_all(principal, charges, charged_at)
    }
}

/// A counter's state in its current window: what a ledger keeps per [`LedgerKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Usage {
    /// A budget: `spent` in the window starting at `window` (Unix seconds), ending at `end`.
    Budget {
        /// The window's start.
        window: i64,
        /// The window's end (exclusive).
        end: i64,
        /// Spent in the window.
        spent: Amount,
    },
    /// A rate: `count` events in the window starting at `window`, ending at `end`.
    Rate {
        /// The window's start.
        window: i64,
        /// The window's end (exclusive).
        end: i64,
        /// Events in the window.
        count: u64,
    },
}

impl Usage {
    /// When the counter's window closes (Unix seconds): from then on it counts nothing.
    pub fn end(&self) -> i64 {
        match self {
            Self::Budget { end, .. } | Self::Rate { end, .. } => *end,
        }
    }
}

/// An in-memory [`Ledger`] with fixed, epoch-aligned windows and a bounded number of
/// counters, a quarter of them for the chains of any one principal (stale windows are
/// pruned when full; still full means deny: fail closed). One principal's sub-agents, each
/// with counters of its own that stay open as long as their periods, fill only their
/// principal's share.
#[derive(Debug)]
pub struct MemoryLedger {
    capacity: usize,
    principal_share: usize,
    usage: Mutex<Counters>,
}

/// The counters, and whose they are.
#[derive(Debug, Default)]
struct Counters {
    usage: HashMap<LedgerKey, Usage>,
    owner: HashMap<LedgerKey, String>,
    per_principal: HashMap<String, usize>,
}

impl Counters {
    /// Forgets the counters whose window has closed at `t`.
    fn prune(&mut self, t: i64) {
        let closed: Vec<LedgerKey> = self
            .usage
            .iter()
            .filter(|(_, u)| u.end() <= t)
            .map(|(k, _)| k.clone())
            .collect();
        for k in closed {
            self.usage.remove(&k);
            if let Some(p) = self.owner.remove(&k) {
                crate::nonce::release(&mut self.per_principal, &p, 1);
            }
        }
    }

    /// Whether `new_keys` more counters of `principal` fit the ledger's `capacity` and the
    /// principal's `share`.
    fn fits(&self, principal: &str, new_keys: usize, (capacity, share): (usize, usize)) -> bool {
        let held = self.per_principal.get(principal).copied().unwrap_or(0);
        fits_capacity(self.usage.len(), new_keys, capacity) && fits_capacity(held, new_keys, share)
    }
}

impl Default for MemoryLedger {
    /// Capacity 100 000 counters, 25 000 for any one principal.
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl MemoryLedger {
    /// A ledger holding at most `capacity` counters, a quarter of them for the chains of any
    /// one principal.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            principal_share: (capacity / 4).max(1),
            usage: Mutex::new(Counters::default()),
        }
    }

    /// Sets how many counters the chains of one principal may hold (at most the capacity).
    #[must_use]
    pub fn principal_share(mut self, counters: usize) -> Self {
        self.principal_share = counters.min(self.capacity);
        self
    }

    /// The amount spent in the current window of a budget counter.
    pub fn spent(&self, key: &LedgerKey, period_seconds: u64, now: Timestamp) -> Option<Amount> {
        let window = window_start(now, period_seconds);
        match self.lock().usage.get(key) {
            Some(Usage::Budget {
                window: w, spent, ..
            }) if *w == window => Some(spent.clone()),
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        match self.usage.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The start (Unix seconds) of the epoch-aligned window of `period_seconds` that `now` falls
/// in: where every ledger places a counter.
pub fn window_start(now: Timestamp, period_seconds: u64) -> i64 {
    let period = i64::try_from(period_seconds).unwrap_or(i64::MAX).max(1);
    let t = now.unix();
    t - t.rem_euclid(period)
}

fn window_end(start: i64, period_seconds: u64) -> i64 {
    start.saturating_add(i64::try_from(period_seconds).unwrap_or(i64::MAX))
}

impl Ledger for MemoryLedger {
    /// `principal` is whose share the new counters count against.
    fn try_charge_all(
        &self,
        principal: &Did,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), ChargeError> {
        self.charge(&principal.to_string(), charges, now)
            .map_err(ChargeError::Refused)
    }

    fn refund_all(
        &self,
        _principal: &Did,
        charges: &[Charge],
        charged_at: Timestamp,
    ) -> Result<(), StoreUnavailable> {
        let mut counters = self.lock();
        let updates = plan_refunds(charges, charged_at, |k| counters.usage.get(k));
        counters.usage.extend(updates);
        Ok(())
    }
}

/// The refund rule every [`Ledger`] applies ([`Ledger::refund_all`]): for each budget
/// charge whose counter is still in the window `charged_at` fell in, the counter with the
/// charge taken back (zero at least, written with the larger of the two scales, as a
/// charge writes its sum). Counters in another window (closed since, or never charged),
/// rates and other obligations are left as they are.
pub fn plan_refunds<'u>(
    charges: &[Charge],
    charged_at: Timestamp,
    current: impl Fn(&LedgerKey) -> Option<&'u Usage>,
) -> Vec<(LedgerKey, Usage)> {
    charges
        .iter()
        .filter_map(|c| {
            let Obligation::Budget {
                charge,
                period_seconds,
                ..
            } = &c.obligation
            else {
                return None;
            };
            let window = window_start(charged_at, *period_seconds);
            match current(&c.key)? {
                Usage::Budget {
                    window: w,
                    end,
                    spent,
                } if *w == window => Some((
                    c.key.clone(),
                    Usage::Budget {
                        window,
                        end: *end,
                        spent: taken_back(spent, &charge.value),
                    },
                )),
                _ => None,
            }
        })
        .collect()
}

/// `spent − charge`, or zero (at the larger scale) when the charge is the larger.
fn taken_back(spent: &Amount, charge: &Amount) -> Amount {
    spent
        .checked_sub(charge)
        .or_else(|| Amount::from_parts(0, spent.scale().max(charge.scale())).ok())
        .unwrap_or_else(Amount::zero)
}

/// The ledger rule every [`Ledger`] applies: for each charge, the counter's new state in the
/// window `now` falls in, given its `current` state; or, if any charge does not fit, a reason
/// for each one that does not (and nothing to apply). A counter from a closed window counts
/// as empty.
pub fn plan_charges<'u>(
    charges: &[Charge],
    now: Timestamp,
    current: impl Fn(&LedgerKey) -> Option<&'u Usage>,
) -> Result<Vec<(LedgerKey, Usage)>, Vec<Reason>> {
    let mut updates: Vec<(LedgerKey, Usage)> = Vec::with_capacity(charges.len());
    let mut reasons = Vec::new();
    for c in charges {
        let reason = |code: Code, message: String| Reason {
            code,
            link: Some(c.link),
            grant: Some(c.key.grant),
            message,
        };
        match &c.obligation {
            Obligation::Budget {
                charge,
                limit,
                period_seconds,
            } => {
                let window = window_start(now, *period_seconds);
                let spent = match current(&c.key) {
                    Some(Usage::Budget {
                        window: w, spent, ..
                    }) if *w == window => spent.clone(),
                    _ => Amount::zero(),
                };
                match spent.checked_add(&charge.value) {
                    Some(total) if total <= limit.value => {
                        updates.push((
                            c.key.clone(),
                            Usage::Budget { window, end: window_end(window, *period_seconds), spent: total },
                        ));
                    }
                    _ => reasons.push(reason(
                        Code::BudgetExhausted,
                        format!(
                            "credential [{}] grant {}: {} {} already spent of {} per {} s; {} more would exceed it",
                            c.link, c.key.grant, spent, limit.asset, limit, period_seconds, charge
                        ),
                    )),
                }
            }
            Obligation::Rate {
                count,
                period_seconds,
            } => {
                let window = window_start(now, *period_seconds);
                let used = match current(&c.key) {
                    Some(Usage::Rate {
                        window: w, count, ..
                    }) if *w == window => *count,
                    _ => 0,
                };
                if used < *count {
                    updates.push((
                        c.key.clone(),
                        Usage::Rate {
                            window,
                            end: window_end(window, *period_seconds),
                            count: used + 1,
                        },
                    ));
                } else {
                    reasons.push(reason(
                        Code::RateLimited,
                        format!(
                            "credential [{}] grant {}: {used} requests already in this {period_seconds} s window, the limit is {count}",
                            c.link, c.key.grant
                        ),
                    ));
                }
            }
            other => reasons.push(reason(
                Code::UnknownObligation,
                format!(
                    "credential [{}] grant {}: unsupported obligation {other} (fail closed)",
                    c.link, c.key.grant
                ),
            )),
        }
    }
    if !reasons.is_empty() {
        return Err(reasons);
    }
    Ok(updates)
}

/// Whether a ledger holding `live` counters can add `new_counters` within `capacity`.
pub fn fits_capacity(live: usize, new_counters: usize, capacity: usize) -> bool {
    live.saturating_add(new_counters) <= capacity
}

/// The refusal of a ledger too full to record `charges` (fail closed).
pub fn ledger_full(charges: &[Charge]) -> Vec<Reason> {
    charges
        .iter()
        .take(1)
        .map(|c| Reason {
            code: Code::LedgerFull,
            link: Some(c.link),
            grant: Some(c.key.grant),
            message: "the ledger is full and cannot record the charge (fail closed)".into(),
        })
        .collect()
}

impl MemoryLedger {
    fn charge(
        &self,
        principal: &str,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), Vec<Reason>> {
        let mut counters = self.lock();
        let updates = plan_charges(charges, now, |k| counters.usage.get(k))?;
        let new_keys = |c: &Counters| {
            updates
                .iter()
                .filter(|(k, _)| !c.usage.contains_key(k))
                .count()
        };
        let bounds = (self.capacity, self.principal_share);
        if !counters.fits(principal, new_keys(&counters), bounds) {
            counters.prune(now.unix());
            if !counters.fits(principal, new_keys(&counters), bounds) {
                return Err(ledger_full(charges));
            }
        }
        for (k, u) in updates {
            if counters.usage.insert(k.clone(), u).is_none() {
                counters.owner.insert(k, principal.to_owned());
                *counters
                    .per_principal
                    .entry(principal.to_owned())
                    .or_default() += 1;
            }
        }
        Ok(())
    }
}
