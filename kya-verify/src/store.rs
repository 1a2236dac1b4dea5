//! What the stateful parts of a verifier (nonce stores, ledgers) report when they cannot
//! answer. An unavailable store is never an allow and never a replay: it is its own outcome,
//! which a merchant answers with "try again later" (HTTP 503), not with a refusal.

use std::error::Error;
use std::fmt;

/// A nonce store or ledger could not answer (unreachable, timed out, refused the command).
#[derive(Debug)]
pub struct StoreUnavailable {
    store: &'static str,
    source: Box<dyn Error + Send + Sync + 'static>,
}

impl StoreUnavailable {
    /// `store` (`"nonce store"`, `"ledger"`) could not answer because of `source`.
    pub fn new(store: &'static str, source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            store,
            source: source.into(),
        }
    }

    /// Which store failed.
    pub fn store(&self) -> &'static str {
        self.store
    }
}

impl fmt::Display for StoreUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} is unavailable: {}", self.store, self.source)
    }
}

impl Error for StoreUnavailable {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

impl Clone for StoreUnavailable {
    /// Keeps the message of the source (errors are not `Clone` in general).
    fn clone(&self) -> Self {
        Self::new(self.store, self.source.to_string())
    }
}

impl PartialEq for StoreUnavailable {
    fn eq(&self, other: &Self) -> bool {
        self.store == other.store && self.source.to_string() == other.source.to_string()
    }
}

impl Eq for StoreUnavailable {}
