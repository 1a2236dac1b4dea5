//! A bounded cache of verified chains, so a repeat visitor costs one signature check.
//!
//! Entries are keyed by exactly the chain's input (its raw bytes, or its JSON value inside a
//! presentation) with the form it came in and a tag of the policy's fingerprint, the registry
//! state and the status lists, and indexed by [`ChainDigest`] so that a signed request may
//! reference a cached chain instead of carrying it. A hit compares every byte of the input:
//! a fast, seeded hash only picks the bucket, so no input is served another's result
//! however the hash behaves, and a repeat visitor pays no cryptographic hash of its chain.
//!
//! **Registry results are never served across registry updates**: the key includes the
//! view's [`RegistryView::state_id`](crate::RegistryView::state_id), and a view without one
//! (the trait's default) is not cached at all. Entries expire at the chain's `validUntil`
//! (the earliest over its links) at the latest; when full, expired entries go first, then the
//! least recently used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kya_core::Timestamp;
use sha2::{Digest as _, Sha256};

use crate::agent::{ChainDigest, VerifiedAgent};
use crate::chain::Views;
use crate::policy::Policy;

/// What a cache entry's validity depends on besides the chain: the policy, the registry
/// state and the status lists held. `None` when the result must not be cached.
pub(crate) fn context_tag(policy: &Policy, views: Views<'_>) -> Option<[u8; 32]> {
    let mut h = Sha256::new();
    h.update(b"kya-verify cache v1");
    h.update(policy.fingerprint());
    match views.registry {
        None => h.update([0u8]),
        Some(view) => {
            h.update([1u8]);
            h.update(view.state_id()?);
        }
    }
    match views.status {
        None => h.update([0u8]),
        Some(lists) => {
            h.update([1u8]);
            h.update(lists.state_id());
        }
    }
    match views.cards {
        None => h.update([0u8]),
        Some(cards) => {
            h.update([1u8]);
            h.update(cards.state_id());
        }
    }
    Some(h.finalize().into())
}

/// The form a chain's input came in: part of its cache key, so that equal bytes in two
/// forms never share an entry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum InputForm {
    /// JSON bytes.
    Json = 0,
    /// base64url text of JSON bytes (a `KYA-Chain` header).
    Base64Url = 1,
}

/// A cache key: the context tag, the input's form and exactly the bytes received, in that
/// order (the tag and the form have fixed lengths, so two keys are equal only if all three
/// are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputKey(Box<[u8]>);

/// The key of a chain's input (exactly the bytes received, in the form received) under a
/// context tag.
pub(crate) fn input_key(context: &[u8; 32], form: InputForm, input: &[u8]) -> InputKey {
    let mut key = Vec::with_capacity(33 + input.len());
    key.extend_from_slice(context);
    key.push(form as u8);
    key.extend_from_slice(input);
    InputKey(key.into_boxed_slice())
}

#[derive(Debug)]
struct Entry {
    agent: VerifiedAgent,
    context: [u8; 32],
    last_used: u64,
}

/// Buckets are picked by foldhash with a per-process random seed; equality is on all bytes.
type Keyed<V> = HashMap<Arc<[u8]>, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
struct Inner {
    by_key: Keyed<Entry>,
    by_digest: HashMap<(ChainDigest, [u8; 32]), Arc<[u8]>>,
    tick: u64,
}

/// A bounded, expiring cache of verified chains (thread-safe).
#[derive(Debug)]
pub struct ChainCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl ChainCache {
    /// A cache of at most `capacity` chains (0: caches nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many chains are cached.
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.by_key.clear();
        inner.by_digest.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn usable(agent: &VerifiedAgent, now: Timestamp) -> bool {
        now <= agent.inner.valid_until && now.add_seconds(agent.skew()) >= agent.inner.valid_from
    }

    /// The cached result for `key`, if present and still valid at `now`.
    pub(crate) fn get(&self, key: &InputKey, now: Timestamp) -> Option<VerifiedAgent> {
        self.get_bytes(&key.0, now)
    }

    fn get_bytes(&self, key: &[u8], now: Timestamp) -> Option<VerifiedAgent> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.by_key.get_mut(key)?;
        if !Self::usable(&entry.agent, now) {
            let digest = entry.agent.chain_digest();
            let context = entry.context;
            inner.by_key.remove(key);
            inner.by_digest.remove(&(digest, context));
            return None;
        }
        entry.last_used = tick;
        Some(entry.agent.clone())
    }

    /// The cached chain named `digest` under `context`, if still valid at `now`.
    pub(crate) fn get_by_digest(
        &self,
        digest: &ChainDigest,
        context: &[u8; 32],
        now: Timestamp,
    ) -> Option<VerifiedAgent> {
        let key = Arc::clone(self.lock().by_digest.get(&(*digest, *context))?);
        self.get_bytes(&key, now)
    }

    /// Caches `agent` (without any presentation facts) under `key`.
    pub(crate) fn insert(
        &self,
        key: InputKey,
        context: [u8; 32],
        agent: &VerifiedAgent,
        now: Timestamp,
    ) {
        if self.capacity == 0 || !Self::usable(agent, now) {
            return;
        }
        let agent = VerifiedAgent {
            inner: agent.inner.clone(),
            presentation: None,
        };
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let key: Arc<[u8]> = Arc::from(key.0);
        if !inner.by_key.contains_key(&key) && inner.by_key.len() >= self.capacity {
            let Inner {
                by_key, by_digest, ..
            } = &mut *inner;
            by_key.retain(|_, e| {
                let keep = Self::usable(&e.agent, now);
                if !keep {
                    by_digest.remove(&(e.agent.chain_digest(), e.context));
                }
                keep
            });
            if by_key.len() >= self.capacity {
                if let Some(oldest) = by_key
                    .iter()
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(k, _)| Arc::clone(k))
                {
                    if let Some(e) = by_key.remove(&oldest) {
                        by_digest.remove(&(e.agent.chain_digest(), e.context));
                    }
                }
            }
        }
        inner
            .by_digest
            .insert((agent.chain_digest(), context), Arc::clone(&key));
        inner.by_key.insert(
            key,
            Entry {
                agent,
                context,
                last_used: tick,
            },
        );
    }
}
