//! One store for a request's nonce and its charges, applied in one atomic step.
//!
//! A verifier with separate stores records the nonce, then charges the ledger: two calls. A
//! store shared by a fleet (Redis) answers each call in a network round trip, so a store
//! that keeps both ([`AdmissionStore`], given with
//! [`Verifier::with_stores`](crate::Verifier::with_stores)) records the nonce and applies
//! the charges at once: one round trip, and a replay can never charge.

use kya_core::Timestamp;

use crate::decision::Reason;
use crate::ledger::{Charge, ChargeError, Ledger};
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

/// A nonce store and a ledger kept apart, answering as one [`AdmissionStore`]: the nonce is
/// recorded first and, only if it is fresh, the charges are applied: how a
/// [`Verifier`](crate::Verifier) with two separate stores admits a request. Each store is
/// consistent alone, so a replay is refused before it can charge; the pair is not one
/// atomic step (a crash between the two leaves a recorded nonce and nothing charged: fail
/// closed). Also for tests that compare a shared store's one step with the two.
///
/// ```
/// use kya_verify::{Admission, AdmissionStore, MemoryLedger, MemoryNonceStore};
/// use kya_verify::admission::SeparateStores;
/// # use kya_core::{Did, SecretKey, Timestamp};
/// # let principal: Did = "did:pkh:eip155:1:0x00000000000000000000000000000000000000aa".parse().unwrap();
/// # let agent = SecretKey::from_seed(&[2; 32]).public_key();
/// # let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
/// let stores = SeparateStores::new(MemoryNonceStore::default(), MemoryLedger::default());
/// let key = kya_verify::NonceKey { principal: &principal, agent: &agent, nonce: "n-1" };
/// let until = now.add_seconds(60);
/// assert_eq!(stores.admit(key, until, &[], now).unwrap(), Admission::Admitted);
/// assert!(matches!(stores.admit(key, until, &[], now).unwrap(), Admission::Nonce(_)));
/// ```
#[derive(Debug, Default)]
pub struct SeparateStores<N, L> {
    nonces: N,
    ledger: L,
}

impl<N: NonceStore, L: Ledger> SeparateStores<N, L> {
    /// The two stores, as one.
    pub fn new(nonces: N, ledger: L) -> Self {
        Self { nonces, ledger }
    }

    /// The nonce store.
    pub fn nonces(&self) -> &N {
        &self.nonces
    }

    /// The ledger.
    pub fn ledger(&self) -> &L {
        &self.ledger
    }
}

impl<N: NonceStore, L: Ledger> NonceStore for SeparateStores<N, L> {
    fn check_and_store(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable> {
        self.nonces.check_and_store(key, remember_until, now)
    }
}

impl<N: NonceStore, L: Ledger> Ledger for SeparateStores<N, L> {
    fn try_charge_all(
        &self,
        principal: &kya_core::Did,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), ChargeError> {
        self.ledger.try_charge_all(principal, charges, now)
    }

    fn refund_all(
        &self,
        principal: &kya_core::Did,
        charges: &[Charge],
        charged_at: Timestamp,
    ) -> Result<(), StoreUnavailable> {
        self.ledger.refund_all(principal, charges, charged_at)
    }
}

impl<N: NonceStore, L: Ledger> AdmissionStore for SeparateStores<N, L> {
    fn admit(
        &self,
        key: NonceKey<'_>,
        remember_until: Timestamp,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<Admission, StoreUnavailable> {
        Ok(
            match self.nonces.check_and_store(key, remember_until, now)? {
                // No charges, no call to the ledger (a denied request, or one without
                // budgets or rates).
                NonceVerdict::Fresh if charges.is_empty() => Admission::Admitted,
                NonceVerdict::Fresh => {
                    match self.ledger.try_charge_all(key.principal, charges, now) {
                        Ok(()) => Admission::Admitted,
                        Err(ChargeError::Refused(reasons)) => Admission::Refused(reasons),
                        Err(ChargeError::Unavailable(e)) => return Err(e),
                    }
                }
                other => Admission::Nonce(other),
            },
        )
    }
}
