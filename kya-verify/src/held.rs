//! Documents a verifier holds by URL (status lists, agent cards), with the fingerprint of the
//! whole set: a cached verdict is keyed by it, so it must change whenever a document is added
//! or replaced, and it is taken when the set changes, not per request.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

/// Items by URL, each with the SHA-256 that names its content, and the set's fingerprint.
#[derive(Debug, Clone)]
pub(crate) struct Held<T> {
    domain: &'static [u8],
    items: HashMap<String, (Arc<T>, [u8; 32])>,
    state: [u8; 32],
}

impl<T> Held<T> {
    /// An empty set whose fingerprints are separated from other sets' by `domain`.
    pub(crate) fn new(domain: &'static [u8]) -> Self {
        let mut held = Self {
            domain,
            items: HashMap::new(),
            state: [0; 32],
        };
        held.state = held.fingerprint();
        held
    }

    /// Holds `item` at `url` (replacing any), named by `digest`.
    pub(crate) fn insert(&mut self, url: String, item: T, digest: [u8; 32]) {
        self.items.insert(url, (Arc::new(item), digest));
        self.state = self.fingerprint();
    }

    /// The item at `url`.
    pub(crate) fn get(&self, url: &str) -> Option<Arc<T>> {
        self.items.get(url).map(|(item, _)| Arc::clone(item))
    }

    /// How many are held.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The set's fingerprint.
    pub(crate) fn state(&self) -> [u8; 32] {
        self.state
    }

    fn fingerprint(&self) -> [u8; 32] {
        let mut entries: Vec<(&String, &[u8; 32])> = self
            .items
            .iter()
            .map(|(url, (_, digest))| (url, digest))
            .collect();
        entries.sort_unstable();
        let mut h = Sha256::new();
        h.update(self.domain);
        for (url, digest) in entries {
            h.update((url.len() as u64).to_le_bytes());
            h.update(url.as_bytes());
            h.update(digest);
        }
        h.finalize().into()
    }
}
