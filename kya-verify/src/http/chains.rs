//! Chains a verifier already has, named by digest (`KYA-Chain-Digest`).
//!
//! Only a chain that verified, together with a signature by its own agent, is stored, and
//! every principal and each of its agents has a share of the store in bytes: an agent can
//! fill only its own share, all the agents of one principal only the principal's (a
//! sub-agent that delegates to fresh keys gains nothing), no one's chain is evicted to make
//! room for another principal's, and nobody can store chains without holding an agent key the
//! merchant's policy trusts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kya_core::{Did, PublicKey, Timestamp};

use super::HttpError;
use crate::nonce::release;

/// Whose chain is stored: the root issuer of the chain, whose agents share a quota, and the
/// agent that signed for it.
#[derive(Debug, Clone, Copy)]
pub struct ChainOwner<'a> {
    /// The root issuer of the agent's chain.
    pub principal: &'a Did,
    /// The agent's key.
    pub agent: &'a PublicKey,
}

/// Where a verifier keeps credential chains by their [`ChainDigest`](crate::ChainDigest), so
/// that an agent may name a chain by digest rather than send it in every request.
///
/// Implementations must be bounded, and one principal's chains must not push out another's;
/// a store may forget a chain at any time (the agent then gets `chain_unknown_digest` and
/// sends the chain again).
pub trait ChainStore: Send + Sync {
    /// The chain bytes stored under `digest`, if still held at `now`.
    fn get(&self, digest: &[u8; 32], now: Timestamp) -> Option<Arc<[u8]>>;
    /// Stores `chain` of `owner` under its digest until `expires`; `chain_quota_exceeded`
    /// when the agent's, its principal's or the store's share is full.
    fn put(
        &self,
        digest: [u8; 32],
        chain: Arc<[u8]>,
        owner: ChainOwner<'_>,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), HttpError>;
}

#[derive(Debug)]
struct Entry {
    chain: Arc<[u8]>,
    principal: String,
    agent: [u8; 32],
    expires: Timestamp,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<[u8; 32], Entry>,
    bytes_per_principal: HashMap<String, usize>,
    bytes_per_agent: HashMap<[u8; 32], usize>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, digest: &[u8; 32]) {
        if let Some(e) = self.entries.remove(digest) {
            let n = e.chain.len();
            self.bytes = self.bytes.saturating_sub(n);
            release(&mut self.bytes_per_principal, &e.principal, n);
            release(&mut self.bytes_per_agent, &e.agent, n);
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

/// A bounded in-memory [`ChainStore`]: at most `max_bytes` in all, a quarter of it for the
/// agents of any one principal, and `max_bytes_per_agent` for any one agent. A chain that
/// would go over any of the three is refused (expired chains are forgotten first), never
/// stored by evicting someone else's: the agent keeps sending its chain inline.
#[derive(Debug)]
pub struct MemoryChainStore {
    max_bytes: usize,
    max_bytes_per_principal: usize,
    max_bytes_per_agent: usize,
    inner: Mutex<Inner>,
}

impl MemoryChainStore {
    /// A store of at most `max_bytes`, a quarter of them for the agents of any one principal
    /// and `max_bytes_per_agent` for any one agent.
    pub fn new(max_bytes: usize, max_bytes_per_agent: usize) -> Self {
        let max_bytes = max_bytes.max(1);
        Self {
            max_bytes,
            max_bytes_per_principal: (max_bytes / 4).max(1),
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
    /// 64 MiB in all, 16 MiB per principal, 256 KiB per agent.
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
        owner: ChainOwner<'_>,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), HttpError> {
        let agent = owner.agent.to_bytes();
        let principal = owner.principal.to_string();
        let mut inner = self.lock();
        if inner.entries.contains_key(&digest) {
            return Ok(());
        }
        inner.forget_expired(now);
        let more = chain.len();
        let shares = [
            (
                inner.bytes_per_agent.get(&agent).copied().unwrap_or(0),
                self.max_bytes_per_agent,
            ),
            (
                inner
                    .bytes_per_principal
                    .get(&principal)
                    .copied()
                    .unwrap_or(0),
                self.max_bytes_per_principal,
            ),
            (inner.bytes, self.max_bytes),
        ];
        for (held, max) in shares {
            if held.saturating_add(more) > max {
                return Err(HttpError::ChainQuotaExceeded { held, more, max });
            }
        }
        inner.bytes = inner.bytes.saturating_add(more);
        *inner
            .bytes_per_principal
            .entry(principal.clone())
            .or_default() += more;
        *inner.bytes_per_agent.entry(agent).or_default() += more;
        inner.entries.insert(
            digest,
            Entry {
                chain,
                principal,
                agent,
                expires,
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use kya_core::SecretKey;

    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(1_800_000_000 + s).unwrap()
    }

    fn key(n: u8) -> PublicKey {
        SecretKey::from_seed(&[n; 32]).public_key()
    }

    fn did(n: u8) -> Did {
        Did::Key(kya_core::DidKey::from_public_key(key(n)))
    }

    /// Puts `bytes` by agent `agent` of principal `principal`, until `expires`, at `now`.
    fn put(
        store: &MemoryChainStore,
        digest: u8,
        bytes: &[u8],
        (principal, agent): (u8, u8),
        (expires, now): (i64, i64),
    ) -> Result<(), HttpError> {
        let (principal, agent) = (did(principal), key(agent));
        let owner = ChainOwner {
            principal: &principal,
            agent: &agent,
        };
        store.put([digest; 32], Arc::from(bytes), owner, t(expires), t(now))
    }

    fn refused(r: Result<(), HttpError>) -> (usize, usize, usize) {
        match r {
            Err(HttpError::ChainQuotaExceeded { held, more, max }) => (held, more, max),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bounded_expiring_and_shared_out_per_agent() {
        // 8 bytes in all: 2 per principal, 2 per agent.
        let store = MemoryChainStore::new(8, 2);
        put(&store, 1, b"a", (1, 11), (100, 0)).unwrap();
        put(&store, 2, b"b", (1, 11), (500, 0)).unwrap();
        // Agent 11's share is full.
        assert_eq!(refused(put(&store, 3, b"c", (1, 11), (200, 0))), (2, 1, 2));
        // So is its principal's, for another of its agents (a sub-agent with a fresh key).
        assert_eq!(refused(put(&store, 4, b"d", (1, 12), (200, 0))), (2, 1, 2));
        // Other principals fill the rest.
        for p in 2..=4 {
            put(&store, 10 + p, b"ee", (p, 20 + p), (900, 0)).unwrap();
        }
        assert_eq!(store.bytes(), 8);
        // The whole store is full: refused, and nobody's chain is pushed out for it.
        assert_eq!(refused(put(&store, 5, b"f", (5, 25), (900, 0))), (8, 1, 8));
        assert_eq!(store.len(), 5);
        assert_eq!(&*store.get(&[1; 32], t(99)).unwrap(), b"a");
        // Once a chain expires, its bytes are free again.
        assert!(store.get(&[1; 32], t(100)).is_none(), "expired");
        put(&store, 5, b"f", (5, 25), (900, 100)).unwrap();
        assert_eq!(store.bytes(), 8);
    }
}
