//! Replay protection: every presentation / signed-request nonce is accepted once.
//!
//! Nonces are scoped to the agent that signed them ([`NonceKey`]): one agent's nonces never
//! collide with another's, and a store's capacity is shared out so that one agent — or all
//! agents of one principal — can fill only its own share. A verifier records a nonce only
//! after the signature around it verified (so only the key holder spends its share), and
//! remembers it for as long as it could be accepted: until `expires` plus the clock skew.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

use kya_core::{Did, PublicKey, Timestamp};

use crate::store::StoreUnavailable;

/// Longest nonce accepted, in bytes.
pub const MAX_NONCE_BYTES: usize = 256;

/// Whose nonce: the agent that signed it and the principal its chain starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceKey<'a> {
    /// The root issuer of the agent's chain (whose agents share a quota).
    pub principal: &'a Did,
    /// The agent's key (the nonce's scope).
    pub agent: &'a PublicKey,
    /// The nonce.
    pub nonce: &'a str,
}

/// What a store says of a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonceVerdict {
    /// Not seen before; now recorded.
    Fresh,
    /// Seen before and still remembered: a replay.
    Replayed,
    /// The agent's (or its principal's) share of the store is full; nothing recorded (fail
    /// closed: a nonce that cannot be remembered is not accepted).
    QuotaExceeded,
}

/// Remembers nonces until they can no longer be accepted.
pub trait NonceStore: Send + Sync {
    /// Records `key` until `remember_until` and says whether it is fresh. `now` lets the store
    /// forget expired nonces. `Err` when the store cannot answer: never an allow.
    fn check_and_store(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable>;
}

impl<N: NonceStore + ?Sized> NonceStore for &N {
    fn check_and_store(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable> {
        (**self).check_and_store(key, remember_until, now)
    }
}

impl<N: NonceStore + ?Sized> NonceStore for std::sync::Arc<N> {
    fn check_and_store(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable> {
        (**self).check_and_store(key, remember_until, now)
    }
}

type Scoped = ([u8; 32], Arc<str>);

/// When a nonce is forgotten: (remembered until, agent, nonce).
type Expiry = Reverse<(i64, [u8; 32], Arc<str>)>;

/// Nonces are chosen by agents, so buckets are picked by a hash with a per-process random
/// seed (foldhash: a fraction of SipHash's cost on these short keys).
type Keyed<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
struct Inner {
    seen: Keyed<Scoped, (i64, PrincipalId)>,
    by_expiry: BinaryHeap<Expiry>,
    per_agent: Keyed<[u8; 32], usize>,
    per_principal: Keyed<PrincipalId, usize>,
}

impl Inner {
    fn forget_expired(&mut self, now: i64) {
        while let Some(Reverse((exp, _, _))) = self.by_expiry.peek() {
            if *exp >= now {
                break;
            }
            let Some(Reverse((exp, agent, nonce))) = self.by_expiry.pop() else {
                break;
            };
            let scoped = (agent, nonce);
            if self.seen.get(&scoped).map(|(e, _)| *e) == Some(exp) {
                if let Some((_, principal)) = self.seen.remove(&scoped) {
                    release(&mut self.per_agent, &agent, 1);
                    release(&mut self.per_principal, &principal, 1);
                }
            }
        }
    }
}

/// A principal as the store counts it: the bytes that name it, not the parsed DID (a
/// `did:key` holds its decompressed point, which a count need not copy or hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PrincipalId {
    Key([u8; 32]),
    Pkh(u64, [u8; 20]),
}

impl PrincipalId {
    fn of(did: &Did) -> Self {
        match did {
            Did::Key(k) => Self::Key(k.public_key().to_bytes()),
            Did::Pkh(p) => Self::Pkh(p.chain_id(), p.address()),
        }
    }
}

/// Takes `n` from the count under `key`, dropping the count at zero: how the bounded stores
/// (nonces, stored chains, ledger counters) give back a share.
pub(crate) fn release<K, S>(counts: &mut HashMap<K, usize, S>, key: &K, n: usize)
where
    K: std::hash::Hash + Eq,
    S: std::hash::BuildHasher,
{
    if let Some(held) = counts.get_mut(key) {
        *held = held.saturating_sub(n);
        if *held == 0 {
            counts.remove(key);
        }
    }
}

/// Capacities of a [`MemoryNonceStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NonceQuotas {
    /// Unexpired nonces in all (default 200 000).
    pub total: usize,
    /// Unexpired nonces of the agents of one principal (default 50 000).
    pub per_principal: usize,
    /// Unexpired nonces of one agent (default 10 000).
    pub per_agent: usize,
}

impl Default for NonceQuotas {
    fn default() -> Self {
        Self {
            total: 200_000,
            per_principal: 50_000,
            per_agent: 10_000,
        }
    }
}

impl NonceQuotas {
    /// Sets the capacity in all.
    #[must_use]
    pub fn total(mut self, n: usize) -> Self {
        self.total = n;
        self
    }

    /// Sets the share of the agents of one principal.
    #[must_use]
    pub fn per_principal(mut self, n: usize) -> Self {
        self.per_principal = n;
        self
    }

    /// Sets the share of one agent.
    #[must_use]
    pub fn per_agent(mut self, n: usize) -> Self {
        self.per_agent = n;
        self
    }

    /// The same capacity for all three (tests, small deployments).
    pub fn flat(capacity: usize) -> Self {
        Self {
            total: capacity,
            per_principal: capacity,
            per_agent: capacity,
        }
    }
}

/// How many unexpired nonces a store holds, before the one being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceCounts {
    /// In all; `None` where the store bounds its total otherwise (a Redis server's memory).
    pub total: Option<usize>,
    /// Of the agents of the nonce's principal.
    pub principal: usize,
    /// Of the nonce's agent.
    pub agent: usize,
}

impl NonceQuotas {
    /// The rule every store applies to a nonce it has not seen: [`NonceVerdict::Fresh`] while
    /// each count is below its share, [`NonceVerdict::QuotaExceeded`] once one is full.
    pub fn judge(&self, held: NonceCounts) -> NonceVerdict {
        if held.total.is_some_and(|n| n >= self.total)
            || held.agent >= self.per_agent
            || held.principal >= self.per_principal
        {
            NonceVerdict::QuotaExceeded
        } else {
            NonceVerdict::Fresh
        }
    }
}

/// Whether a store can keep `nonce` at all (1 to [`MAX_NONCE_BYTES`] bytes); a store answers
/// any other nonce [`NonceVerdict::QuotaExceeded`].
pub fn storable(nonce: &str) -> bool {
    !nonce.is_empty() && nonce.len() <= MAX_NONCE_BYTES
}

/// Until when (Unix seconds, inclusive) a store remembers `nonce`: `remember_until`, and
/// never less than `now`; `None` if it cannot be kept at all ([`storable`]: the store
/// answers [`NonceVerdict::QuotaExceeded`]). A nonce is forgotten once this is before `now`.
pub fn remembered_until(nonce: &str, remember_until: Timestamp, now: Timestamp) -> Option<i64> {
    storable(nonce).then(|| remember_until.unix().max(now.unix()))
}

/// An in-memory [`NonceStore`] with expiry and bounded, shared-out capacity. A full share
/// refuses new nonces (fail closed) rather than forgetting one that could then be replayed.
#[derive(Debug)]
pub struct MemoryNonceStore {
    quotas: NonceQuotas,
    inner: Mutex<Inner>,
}

impl MemoryNonceStore {
    /// A store with the given quotas.
    pub fn new(quotas: NonceQuotas) -> Self {
        Self {
            quotas,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Default for MemoryNonceStore {
    /// [`NonceQuotas::default`].
    fn default() -> Self {
        Self::new(NonceQuotas::default())
    }
}

impl NonceStore for MemoryNonceStore {
    fn check_and_store(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable> {
        let Some(exp) = remembered_until(key.nonce, remember_until, now) else {
            return Ok(NonceVerdict::QuotaExceeded);
        };
        let now = now.unix();
        let agent = key.agent.to_bytes();
        let mut inner = self.lock();
        inner.forget_expired(now);
        let total = inner.seen.len();
        let Inner {
            seen,
            by_expiry,
            per_agent,
            per_principal,
        } = &mut *inner;
        // One copy of the nonce, shared by the map and the heap.
        let nonce: Arc<str> = Arc::from(key.nonce);
        let std::collections::hash_map::Entry::Vacant(slot) = seen.entry((agent, nonce)) else {
            return Ok(NonceVerdict::Replayed);
        };
        let principal = PrincipalId::of(key.principal);
        let held = NonceCounts {
            total: Some(total),
            principal: per_principal.get(&principal).copied().unwrap_or(0),
            agent: per_agent.get(&agent).copied().unwrap_or(0),
        };
        if self.quotas.judge(held) != NonceVerdict::Fresh {
            return Ok(NonceVerdict::QuotaExceeded);
        }
        *per_agent.entry(agent).or_default() += 1;
        *per_principal.entry(principal).or_default() += 1;
        by_expiry.push(Reverse((exp, agent, Arc::clone(&slot.key().1))));
        slot.insert((exp, principal));
        Ok(NonceVerdict::Fresh)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kya_core::SecretKey;

    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(1_800_000_000 + s).unwrap()
    }

    fn key(seed: u8) -> PublicKey {
        SecretKey::from_seed(&[seed; 32]).public_key()
    }

    fn principal(seed: u8) -> Did {
        Did::Key(kya_core::DidKey::from_public_key(key(seed)))
    }

    #[test]
    fn replays_refused_until_expiry_and_capacity_fails_closed() {
        let store = MemoryNonceStore::new(NonceQuotas::flat(2));
        let (p, a) = (principal(100), key(1));
        let k = |nonce| NonceKey {
            principal: &p,
            agent: &a,
            nonce,
        };
        assert_eq!(
            store.check_and_store(k("a"), t(10), t(0)).unwrap(),
            NonceVerdict::Fresh
        );
        assert_eq!(
            store.check_and_store(k("a"), t(10), t(1)).unwrap(),
            NonceVerdict::Replayed
        );
        assert_eq!(
            store.check_and_store(k("b"), t(20), t(1)).unwrap(),
            NonceVerdict::Fresh
        );
        assert_eq!(
            store.check_and_store(k("c"), t(20), t(2)).unwrap(),
            NonceVerdict::QuotaExceeded,
            "full: fail closed"
        );
        assert_eq!(
            store.check_and_store(k("c"), t(30), t(11)).unwrap(),
            NonceVerdict::Fresh,
            "a expired and was forgotten"
        );
        assert_eq!(
            store.check_and_store(k(""), t(30), t(11)).unwrap(),
            NonceVerdict::QuotaExceeded
        );
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn nonces_are_scoped_to_their_agent_and_shares_are_separate() {
        let store = MemoryNonceStore::new(NonceQuotas {
            total: 100,
            per_principal: 4,
            per_agent: 2,
        });
        let (p1, p2) = (principal(100), principal(101));
        let (a, b, c) = (key(1), key(2), key(3));
        let at = |principal, agent, nonce| NonceKey {
            principal,
            agent,
            nonce,
        };
        // The same nonce by two agents: each is fresh.
        assert_eq!(
            store
                .check_and_store(at(&p1, &a, "n"), t(10), t(0))
                .unwrap(),
            NonceVerdict::Fresh
        );
        assert_eq!(
            store
                .check_and_store(at(&p1, &b, "n"), t(10), t(0))
                .unwrap(),
            NonceVerdict::Fresh
        );
        // Agent a fills its own share; agent b is not affected.
        assert_eq!(
            store
                .check_and_store(at(&p1, &a, "m"), t(10), t(0))
                .unwrap(),
            NonceVerdict::Fresh
        );
        assert_eq!(
            store
                .check_and_store(at(&p1, &a, "o"), t(10), t(0))
                .unwrap(),
            NonceVerdict::QuotaExceeded
        );
        assert_eq!(
            store
                .check_and_store(at(&p1, &b, "m"), t(10), t(0))
                .unwrap(),
            NonceVerdict::Fresh
        );
        // Principal p1's share (4) is full: its new agent c is refused, p2's agents are not.
        assert_eq!(
            store
                .check_and_store(at(&p1, &c, "x"), t(10), t(0))
                .unwrap(),
            NonceVerdict::QuotaExceeded
        );
        assert_eq!(
            store
                .check_and_store(at(&p2, &c, "x"), t(10), t(0))
                .unwrap(),
            NonceVerdict::Fresh
        );
        // After expiry the shares are free again.
        assert_eq!(
            store
                .check_and_store(at(&p1, &a, "o"), t(20), t(11))
                .unwrap(),
            NonceVerdict::Fresh
        );
    }
}
