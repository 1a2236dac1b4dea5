//! Chains a verifier already has, named by digest (`KYA-Chain-Digest`).
//!
//! Only a chain that verified, together with a signature by its own agent, is stored, and
//! each agent has a share of the store in bytes: an agent can fill only its own share, and
//! nobody can store chains without holding an agent key the merchant's policy trusts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kya_core::{PublicKey, Timestamp};

use super::HttpError;

/// Where a verifier keeps credential chains by their [`ChainDigest`](crate::ChainDigest), so
/// that an agent may name a chain by digest rather than send it in every request.
///
/// Implementations must be bounded; a store may forget a chain at any time (the agent then
/// gets `chain_unknown_digest` and sends the chain again).
pub trait ChainStore: Send + Sync {
    /// The chain bytes stored under `digest`, if still held at `now`.
    fn get(&self, digest: &[u8; 32], now: Timestamp) -> Option<Arc<[u8]>>;
    /// Stores `chain`, whose agent is `agent`, under its digest until `expires`;
    /// `chain_quota_exceeded` when the agent's share is full.
    fn put(
        &self,
        digest: [u8; 32],
        chain: Arc<[u8]>,
        agent: &PublicKey,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), HttpError>;
}

#[derive(Debug)]
struct Entry {
    chain: Arc<[u8]>,
    agent: [u8; 32],
    expires: Timestamp,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<[u8; 32], Entry>,
    bytes_per_agent: HashMap<[u8; 32], usize>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, digest: &[u8; 32]) {
        if let Some(e) = self.entries.remove(digest) {
            self.bytes = self.bytes.saturating_sub(e.chain.len());
            if let Some(n) = self.bytes_per_agent.get_mut(&e.agent) {
                *n = n.saturating_sub(e.chain.len());
                if *n == 0 {
                    self.bytes_per_agent.remove(&e.agent);
                }
            }
        }
    }

    fn forget_expired(&mut self, now: Timestamp) {
        let expired: Vec<[u8; 32]> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires <= now)
            .map(|(d, _)| *d)
            .collect();
        for d in expired {
            self.remove(&d);
        }
    }
}

/// A bounded in-memory [`ChainStore`]: at most `max_bytes` in all and `max_bytes_per_agent`
/// per agent. When the whole store is full, the entry that expires soonest goes (it can be
/// sent again); an agent over its own share is refused.
#[derive(Debug)]
pub struct MemoryChainStore {
    max_bytes: usize,
    max_bytes_per_agent: usize,
    inner: Mutex<Inner>,
}

impl MemoryChainStore {
    /// A store of at most `max_bytes`, `max_bytes_per_agent` of them for any one agent.
    pub fn new(max_bytes: usize, max_bytes_per_agent: usize) -> Self {
        Self {
            max_bytes: max_bytes.max(1),
            max_bytes_per_agent,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many chains are held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held in all.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Default for MemoryChainStore {
    /// 64 MiB in all, 256 KiB per agent.
    fn default() -> Self {
        Self::new(64 << 20, 256 << 10)
    }
}

impl ChainStore for MemoryChainStore {
    fn get(&self, digest: &[u8; 32], now: Timestamp) -> Option<Arc<[u8]>> {
        let inner = self.lock();
        inner
            .entries
            .get(digest)
            .filter(|e| e.expires > now)
            .map(|e| Arc::clone(&e.chain))
    }

    fn put(
        &self,
        digest: [u8; 32],
        chain: Arc<[u8]>,
        agent: &PublicKey,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), HttpError> {
        let agent = agent.to_bytes();
        let mut inner = self.lock();
        if inner.entries.contains_key(&digest) {
            return Ok(());
        }
        inner.forget_expired(now);
        let held = inner.bytes_per_agent.get(&agent).copied().unwrap_or(0);
        if held.saturating_add(chain.len()) > self.max_bytes_per_agent {
            return Err(HttpError::ChainQuotaExceeded {
                held,
                more: chain.len(),
                max: self.max_bytes_per_agent,
            });
        }
        while inner.bytes.saturating_add(chain.len()) > self.max_bytes {
            let Some(victim) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(d, _)| *d)
            else {
                break;
            };
            inner.remove(&victim);
        }
        inner.bytes = inner.bytes.saturating_add(chain.len());
        *inner.bytes_per_agent.entry(agent).or_default() += chain.len();
        inner.entries.insert(
            digest,
            Entry {
                chain,
                agent,
                expires,
            },
        );
        Ok(())
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

    #[test]
    fn bounded_expiring_and_shared_out_per_agent() {
        let a = SecretKey::from_seed(&[1; 32]).public_key();
        let b = SecretKey::from_seed(&[2; 32]).public_key();
        let store = MemoryChainStore::new(4, 2);
        store
            .put([1; 32], Arc::from(&b"a"[..]), &a, t(100), t(0))
            .unwrap();
        store
            .put([2; 32], Arc::from(&b"b"[..]), &a, t(50), t(0))
            .unwrap();
        // Agent a's share (2 bytes) is full; agent b is not affected.
        assert!(matches!(
            store.put([3; 32], Arc::from(&b"c"[..]), &a, t(200), t(0)),
            Err(HttpError::ChainQuotaExceeded {
                held: 2,
                more: 1,
                max: 2
            })
        ));
        store
            .put([4; 32], Arc::from(&b"dd"[..]), &b, t(200), t(0))
            .unwrap();
        assert_eq!(store.bytes(), 4);
        // The whole store is full: the soonest-expiring entry makes room.
        let c = SecretKey::from_seed(&[3; 32]).public_key();
        store
            .put([5; 32], Arc::from(&b"e"[..]), &c, t(300), t(0))
            .unwrap();
        assert!(
            store.get(&[2; 32], t(0)).is_none(),
            "the soonest-expiring entry went"
        );
        assert_eq!(&*store.get(&[1; 32], t(99)).unwrap(), b"a");
        assert!(store.get(&[1; 32], t(100)).is_none(), "expired");
    }
}
