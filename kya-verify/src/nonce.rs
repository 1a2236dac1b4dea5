//! Replay protection: every presentation / signed-request nonce is accepted once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;

use kya_core::Timestamp;

/// Longest nonce accepted, in bytes.
pub const MAX_NONCE_BYTES: usize = 256;

/// Remembers nonces until they expire.
pub trait NonceStore: Send + Sync {
    /// Records `nonce` (valid until `expires`) and returns `true` if it was not seen before;
    /// returns `false` for a replay. `now` lets the store forget expired nonces. A store that
    /// cannot record the nonce (full) must return `false`: fail closed.
    fn check_and_store(&self, nonce: &str, expires: Timestamp, now: Timestamp) -> bool;
}

impl<N: NonceStore + ?Sized> NonceStore for std::sync::Arc<N> {
    fn check_and_store(&self, nonce: &str, expires: Timestamp, now: Timestamp) -> bool {
        (**self).check_and_store(nonce, expires, now)
    }
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashMap<String, i64>,
    by_expiry: BinaryHeap<Reverse<(i64, String)>>,
}

/// An in-memory [`NonceStore`] with expiry and a bounded capacity. When it holds
/// `capacity` unexpired nonces it refuses new ones (fail closed) rather than forgetting a
/// nonce that could then be replayed.
#[derive(Debug)]
pub struct MemoryNonceStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl MemoryNonceStore {
    /// A store holding at most `capacity` unexpired nonces.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
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
    /// Capacity 100 000.
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl NonceStore for MemoryNonceStore {
    fn check_and_store(&self, nonce: &str, expires: Timestamp, now: Timestamp) -> bool {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_BYTES {
            return false;
        }
        let now = now.unix();
        let mut inner = self.lock();
        // Forget nonces whose window closed: a replay of them fails on expiry anyway.
        while let Some(Reverse((exp, _))) = inner.by_expiry.peek() {
            if *exp >= now {
                break;
            }
            if let Some(Reverse((exp, n))) = inner.by_expiry.pop() {
                if inner.seen.get(&n) == Some(&exp) {
                    inner.seen.remove(&n);
                }
            }
        }
        if inner.seen.contains_key(nonce) || inner.seen.len() >= self.capacity {
            return false;
        }
        let exp = expires.unix().max(now);
        inner.seen.insert(nonce.to_owned(), exp);
        inner.by_expiry.push(Reverse((exp, nonce.to_owned())));
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn replays_refused_until_expiry_and_capacity_fails_closed() {
        let store = MemoryNonceStore::new(2);
        assert!(store.check_and_store("a", t(10), t(0)));
        assert!(!store.check_and_store("a", t(10), t(1)));
        assert!(store.check_and_store("b", t(20), t(1)));
        assert!(
            !store.check_and_store("c", t(20), t(2)),
            "full: fail closed"
        );
        assert!(
            store.check_and_store("c", t(30), t(11)),
            "a expired and was forgotten"
        );
        assert!(!store.check_and_store("", t(30), t(11)));
        assert_eq!(store.len(), 2);
    }
}
