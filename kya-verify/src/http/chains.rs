//! Chains a verifier already has, named by digest (`KYA-Chain-Digest`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where a verifier keeps credential chains by the SHA-256 of their JCS bytes, so that an
/// agent may name a chain by digest rather than send it in every request.
///
/// Implementations must be bounded; a store may forget a chain at any time (the agent then
/// gets `chain_unknown_digest` and sends the chain again).
pub trait ChainStore: Send + Sync {
    /// The chain bytes stored under `digest`, if still held at `now` (unix seconds).
    fn get(&self, digest: &[u8; 32], now: i64) -> Option<Arc<[u8]>>;
    /// Stores chain bytes under their digest until `expires` (unix seconds).
    fn put(&self, digest: [u8; 32], chain: Arc<[u8]>, expires: i64);
}

type Entries = HashMap<[u8; 32], (Arc<[u8]>, i64)>;

/// A bounded in-memory [`ChainStore`]: when full, expired entries go first, then the entry
/// that expires soonest.
#[derive(Debug)]
pub struct MemoryChainStore {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl MemoryChainStore {
    /// A store holding at most `capacity` chains.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many chains are held.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryChainStore {
    /// 10 000 chains.
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl ChainStore for MemoryChainStore {
    fn get(&self, digest: &[u8; 32], now: i64) -> Option<Arc<[u8]>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(digest)
            .filter(|(_, expires)| *expires > now)
            .map(|(bytes, _)| Arc::clone(bytes))
    }

    fn put(&self, digest: [u8; 32], chain: Arc<[u8]>, expires: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if !entries.contains_key(&digest) && entries.len() >= self.capacity {
            // Evict the entry that expires soonest (expired entries sort first).
            if let Some(victim) = entries.iter().min_by_key(|(_, (_, e))| *e).map(|(d, _)| *d) {
                entries.remove(&victim);
            }
        }
        entries.insert(digest, (chain, expires));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bounded_and_expiring() {
        let store = MemoryChainStore::new(2);
        store.put([1; 32], Arc::from(&b"a"[..]), 100);
        store.put([2; 32], Arc::from(&b"b"[..]), 50);
        store.put([3; 32], Arc::from(&b"c"[..]), 200);
        assert_eq!(store.len(), 2);
        assert!(
            store.get(&[2; 32], 0).is_none(),
            "the soonest-expiring entry went"
        );
        assert_eq!(&*store.get(&[1; 32], 99).unwrap(), b"a");
        assert!(store.get(&[1; 32], 100).is_none(), "expired");
    }
}
