//! One store for a request's nonce and its charges, applied in one atomic step.
//!
//! A verifier with separate stores records the nonce, then charges the ledger: two calls. A
//! store shared by a fleet (Redis) answers each call in a network round trip, so a store
//! that keeps both ([`AdmissionStore`], given with
//! [`Verifier::with_stores`](crate::Verifier::with_stores)) records the nonce and applies
//! the charges at once: one round trip, and a replay can never charge.

use kya_core::Timestamp;

use crate::decision::Reason;
use crate::ledger::{Charge, Ledger};
use crate::nonce::{NonceKey, NonceStore, NonceVerdict};
use crate::store::StoreUnavailable;

/// What an [`AdmissionStore`] did with a request's nonce and charges.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// The nonce was fresh and is recorded; every charge is applied.
    Admitted,
    /// The nonce was not recorded ([`NonceVerdict::Replayed`] or
    /// [`NonceVerdict::QuotaExceeded`]): nothing is charged.
    Nonce(NonceVerdict),
    /// The charges do not fit (the ledger's reasons): none is applied, and the nonce *is*
    /// recorded. A refused request is never admitted later by replaying it (when a window
    /// resets, after the agent sent a new request instead): the signer's one request got
    /// its one answer.
    Refused(Vec<Reason>),
}

/// A nonce store and a ledger in one store, which can record a nonce and apply charges in
/// one atomic step.
pub trait AdmissionStore: NonceStore + Ledger {
    /// Records `key` until `remember_until` as [`NonceStore::check_and_store`] does and, only
    /// if it is fresh, applies `charges` (all or none) as [`Ledger::try_charge_all`] does,
    /// with `key.principal` as the charges' root principal (the nonce and the charges are
    /// of one chain, and [`NonceKey::principal`] is its root issuer); both at once. `Err`
    /// when the store cannot answer: nothing may be allowed (what a step whose answer was
    /// lost recorded stays recorded: fail closed).
    fn admit(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<Admission, StoreUnavailable>;
}
