//! [`Verifier`]: the one verification pipeline. A policy, a clock, an optional registry view,
//! a nonce store, an optional ledger and a cache, bundled for a merchant's request path.
//!
//! Every way in — a bare chain ([`Verifier::verify_chain`]), a presentation
//! ([`Verifier::verify_presentation`]), a signed HTTP request (the [`crate::http`] gate,
//! which only parses HTTP and then calls [`Verifier::verify_held`]) — goes through the same
//! steps here, so each rule lives in one place:
//!
//! 1. the chain, from the cache when this exact input was verified under the same policy and
//!    registry state, else through [`crate::chain`]'s checks, with the holder's signature in
//!    the same batch;
//! 2. on a cache hit, the holder's signature alone, under the same acceptance rule;
//! 3. the nonce, scoped to the agent and remembered for as long as it can be accepted
//!    (`expires` + skew), recorded only after every signature verified;
//! 4. the decision, with budgets and rates charged through the ledger (no ledger: a request
//!    that carries them is denied, `ledger_required`).

use std::sync::Arc;

use ed25519_dalek::Signature;
use kya_core::grant::Request;
use kya_core::json::ReadValue;
use kya_core::{DidKey, PublicKey, Timestamp};
use serde_json::Value;

use crate::admission::{AdmissionStore, SeparateStores};
use crate::agent::{ChainDigest, VerifiedAgent};
use crate::cache::{ChainCache, InputForm, context_tag, input_key};
use crate::cards::AgentCardView;
use crate::chain::{
    ChainTextError, Views, decode_chain_text, holder_signature, parse_chain_bytes, recheck_cached,
    verify_links, verify_single,
};
use crate::clock::{Clock, SystemClock};
use crate::decision::Decision;
use crate::error::VerifyError;
use crate::ledger::Ledger;
use crate::nonce::{
    MAX_NONCE_BYTES, MemoryNonceStore, NonceKey, NonceStore, NonceVerdict, storable,
};
use crate::policy::{Policy, truncate};
use crate::presentation::{ParsedPresentation, check_window};
use crate::registry::RegistryView;
use crate::status::StatusListView;
use crate::store::StoreUnavailable;

/// Where a chain comes from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChainInput<'a> {
    /// The chain's JSON bytes (an array of credentials, root first).
    Bytes(&'a [u8]),
    /// The chain's parsed links (from inside a presentation).
    Links(Vec<Value>),
    /// A chain this verifier has cached, by its [`ChainDigest`].
    Digest(ChainDigest),
    /// The chain's JSON bytes as base64url text without padding (how a `KYA-Chain` header
    /// carries them). A cached chain is found by this text, exactly as received, without
    /// decoding it.
    Base64Url(&'a str),
}

/// How a holder signature names its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRef<'a> {
    /// The key itself (a presentation's verification method).
    Key(PublicKey),
    /// An RFC 7638 JWK thumbprint (a signed request's `keyid`).
    JwkThumbprint(&'a str),
}

impl KeyRef<'_> {
    /// The chain's agent key (whose JWK thumbprint is `agent_keyid`), if this names it;
    /// `HolderMismatch` otherwise.
    pub(crate) fn resolve(
        &self,
        agent: &PublicKey,
        agent_keyid: &str,
    ) -> Result<PublicKey, VerifyError> {
        let matches = match self {
            Self::Key(k) => k == agent,
            Self::JwkThumbprint(t) => agent_keyid == *t,
        };
        if matches {
            Ok(*agent)
        } else {
            Err(VerifyError::HolderMismatch {
                agent: DidKey::from_public_key(*agent).to_string(),
                found: match self {
                    Self::Key(k) => DidKey::from_public_key(*k).to_string(),
                    Self::JwkThumbprint(t) => format!("keyid {}", truncate(t, 100)),
                },
            })
        }
    }
}

/// A signature by the chain's agent over some message (a presentation's proof, an HTTP
/// message signature): the proof of possession that makes a chain an authorisation.
#[derive(Debug, Clone, Copy)]
pub struct HolderProof<'a> {
    /// The signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: Signature,
    /// The key that signed, as the signer named it; must be the chain leaf's subject.
    pub key: KeyRef<'a>,
}

/// Verification for a merchant. Thread-safe; share it (`Arc`) across requests.
pub struct Verifier {
    policy: Policy,
    clock: Arc<dyn Clock>,
    registry: Option<Arc<dyn RegistryView>>,
    status_lists: Option<Arc<dyn StatusListView>>,
    cards: Option<Arc<dyn AgentCardView>>,
    nonces: Arc<dyn NonceStore>,
    ledger: Option<Arc<dyn Ledger>>,
    /// Set only with [`Verifier::with_stores`]: the same store as `nonces` and `ledger`.
    stores: Option<Arc<dyn AdmissionStore>>,
    cache: ChainCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("policy", &self.policy)
            .field("registry", &self.registry.is_some())
            .field("ledger", &self.ledger.is_some())
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with the system clock, no registry view, an in-memory nonce store, no
    /// ledger and a cache of `policy.cache_capacity()` chains.
    pub fn new(policy: Policy) -> Self {
        let cache = ChainCache::new(policy.cache_capacity());
        Self {
            policy,
            clock: Arc::new(SystemClock),
            registry: None,
            status_lists: None,
            cards: None,
            nonces: Arc::new(MemoryNonceStore::default()),
            ledger: None,
            stores: None,
            cache,
        }
    }

    /// Uses `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Consults `registry`.
    #[must_use]
    pub fn with_registry(mut self, registry: Arc<dyn RegistryView>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Checks the `credentialStatus` entries of chain links against `lists` (without
    /// lists, a link that names one is refused).
    #[must_use]
    pub fn with_status_lists(mut self, lists: Arc<dyn StatusListView>) -> Self {
        self.status_lists = Some(lists);
        self
    }

    /// Holds the agent cards a policy that requires them checks registered agents against.
    #[must_use]
    pub fn with_agent_cards(mut self, cards: Arc<dyn AgentCardView>) -> Self {
        self.cards = Some(cards);
        self
    }

    /// Uses `nonces` for replay protection (share one across every instance that must
    /// refuse a replay: `kya-redis` keeps one on Redis).
    #[must_use]
    pub fn with_nonce_store(mut self, nonces: Arc<dyn NonceStore>) -> Self {
        self.nonces = nonces;
        self.stores = None;
        self
    }

    /// Enforces budgets and rates through `ledger`.
    #[must_use]
    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self.stores = None;
        self
    }

    /// Uses `stores` as the nonce store and the ledger, and records a request's nonce and
    /// applies its charges in one step through it ([`accept_and_decide`](Self::accept_and_decide)).
    #[must_use]
    pub fn with_stores<S: AdmissionStore + 'static>(mut self, stores: Arc<S>) -> Self {
        self.nonces = stores.clone();
        self.ledger = Some(stores.clone());
        self.stores = Some(stores);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The current time by this verifier's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The registry view, if any.
    pub fn registry(&self) -> Option<&dyn RegistryView> {
        self.registry.as_deref()
    }

    /// The status lists, if any.
    pub fn status_lists(&self) -> Option<&dyn StatusListView> {
        self.status_lists.as_deref()
    }

    /// The registry state of one verification, when the view is one that changes
    /// underneath (see [`RegistryView::pinned`]).
    fn pin_registry(&self) -> Option<Arc<dyn RegistryView>> {
        self.registry.as_ref().and_then(|r| r.pinned())
    }

    /// What one verification is judged against: `pinned` (from
    /// [`pin_registry`](Self::pin_registry)) if any, else the registry view itself.
    fn views<'a>(&'a self, pinned: Option<&'a Arc<dyn RegistryView>>) -> Views<'a> {
        Views {
            registry: pinned.map(Arc::as_ref).or_else(|| self.registry()),
            status: self.status_lists(),
            cards: self.cards.as_deref(),
        }
    }

    /// The cache.
    pub fn cache(&self) -> &ChainCache {
        &self.cache
    }

    /// Verifies a bare chain (no proof of possession: for auditors and for inspecting a
    /// chain, not for admitting requests).
    pub fn verify_chain(&self, bytes: &[u8]) -> Result<VerifiedAgent, VerifyError> {
        self.chain(ChainInput::Bytes(bytes), None)
    }

    /// Verifies a chain together with a signature by its agent, in one batch; on a cache
    /// hit, only that signature is checked. The nonce is not consulted (see
    /// [`accept_nonce`](Self::accept_nonce)).
    pub fn verify_held(
        &self,
        chain: ChainInput<'_>,
        proof: &HolderProof<'_>,
    ) -> Result<VerifiedAgent, VerifyError> {
        self.chain(chain, Some(proof))
    }

    fn chain(
        &self,
        chain: ChainInput<'_>,
        proof: Option<&HolderProof<'_>>,
    ) -> Result<VerifiedAgent, VerifyError> {
        let now = self.now();
        let pinned = self.pin_registry();
        let views = self.views(pinned.as_ref());
        // Without a cache there is nothing to key: no hashing of the input.
        let context = (self.policy.cache_capacity() > 0)
            .then(|| context_tag(&self.policy, views))
            .flatten();
        let (links, key) = match chain {
            ChainInput::Digest(digest) => {
                let agent = context
                    .and_then(|ctx| self.cache.get_by_digest(&digest, &ctx, now))
                    .ok_or_else(|| VerifyError::ChainNotCached {
                        digest: digest.to_string(),
                    })?;
                return self.finish_cached(agent, proof, now, views);
            }
            ChainInput::Bytes(bytes) => {
                let key = context.map(|ctx| input_key(&ctx, InputForm::Json, bytes));
                if let Some(agent) = key.as_ref().and_then(|k| self.cache.get(k, now)) {
                    return self.finish_cached(agent, proof, now, views);
                }
                (parse_chain_bytes(bytes, &self.policy)?, key)
            }
            ChainInput::Base64Url(text) => {
                let key = context.map(|ctx| input_key(&ctx, InputForm::Base64Url, text.as_bytes()));
                if let Some(agent) = key.as_ref().and_then(|k| self.cache.get(k, now)) {
                    return self.finish_cached(agent, proof, now, views);
                }
                let bytes = decode_base64url(text, self.policy.limits().max_input_bytes)?;
                (parse_chain_bytes(&bytes, &self.policy)?, key)
            }
            ChainInput::Links(links) => {
                let key = match context {
                    Some(ctx) => {
                        let bytes =
                            serde_json::to_vec(&links).map_err(|e| VerifyError::Malformed {
                                link: None,
                                reason: e.to_string(),
                            })?;
                        Some(input_key(&ctx, InputForm::Json, &bytes))
                    }
                    None => None,
                };
                if let Some(agent) = key.as_ref().and_then(|k| self.cache.get(k, now)) {
                    return self.finish_cached(agent, proof, now, views);
                }
                (links.into_iter().map(ReadValue::from).collect(), key)
            }
        };
        let agent = verify_links(links, &self.policy, now, views, proof)?;
        if let (Some(key), Some(ctx)) = (key, context) {
            self.cache.insert(key, ctx, &agent, now);
        }
        Ok(agent)
    }

    /// Verifies a presentation (see [`crate::presentation`]): its form, audience and window,
    /// the chain with the holder's proof in one batch, then its nonce.
    pub fn verify_presentation(&self, bytes: &[u8]) -> Result<VerifiedAgent, VerifyError> {
        self.presentation(bytes, None)
    }

    /// [`verify_presentation`](Self::verify_presentation) where the challenge must be
    /// `challenge` (a nonce this verifier issued).
    pub fn verify_presentation_with_challenge(
        &self,
        bytes: &[u8],
        challenge: &str,
    ) -> Result<VerifiedAgent, VerifyError> {
        self.presentation(bytes, Some(challenge))
    }

    fn presentation(
        &self,
        bytes: &[u8],
        challenge: Option<&str>,
    ) -> Result<VerifiedAgent, VerifyError> {
        let now = self.now();
        let parsed = ParsedPresentation::parse(bytes, &self.policy, now, challenge)?;
        let ParsedPresentation {
            links,
            message,
            signature,
            holder,
            facts,
        } = parsed;
        let proof = HolderProof {
            message: &message,
            signature,
            key: KeyRef::Key(holder),
        };
        let mut agent = self.verify_held(ChainInput::Links(links), &proof)?;
        self.accept_nonce(&agent, &facts.nonce, facts.expires)?;
        agent.presentation = Some(facts);
        Ok(agent)
    }

    /// Checks a presentation or signed-request window against the policy (see
    /// [`check_window`]).
    pub fn check_window(&self, created: Timestamp, expires: Timestamp) -> Result<(), VerifyError> {
        check_window(&self.policy, self.now(), created, expires)
    }

    /// Records the nonce of a verified holder signature valid until `expires`: refused if
    /// this agent used it before (`nonce_replayed`) or its share of the store is full
    /// (`nonce_quota_exceeded`); `store_unavailable` if the store cannot answer. A nonce is
    /// remembered until `expires` + the clock skew: as long as the window accepts it.
    pub fn accept_nonce(
        &self,
        agent: &VerifiedAgent,
        nonce: &str,
        expires: Timestamp,
    ) -> Result<(), VerifyError> {
        let agent_key = agent.agent().public_key();
        let key = self.nonce_key(agent, &agent_key, nonce)?;
        let remember_until = expires.add_seconds(self.policy.clock_skew_secs());
        let verdict = self
            .nonces
            .check_and_store(key, remember_until, self.now())?;
        nonce_verdict(verdict, nonce)
    }

    fn nonce_key<'a>(
        &self,
        agent: &'a VerifiedAgent,
        agent_key: &'a PublicKey,
        nonce: &'a str,
    ) -> Result<NonceKey<'a>, VerifyError> {
        if !storable(nonce) {
            return Err(VerifyError::Malformed {
                link: None,
                reason: format!("a nonce must be 1 to {MAX_NONCE_BYTES} bytes"),
            });
        }
        Ok(NonceKey {
            principal: agent.principal(),
            agent: agent_key,
            nonce,
        })
    }

    /// [`accept_nonce`](Self::accept_nonce), then [`decide`](Self::decide): the same
    /// answers. With [`with_stores`](Self::with_stores), both in one step of the store (the
    /// nonce of a request the ledger refuses stays recorded, as it does in two steps); with
    /// a separate nonce store and ledger, through [`SeparateStores`], which takes the two
    /// steps.
    pub fn accept_and_decide(
        &self,
        agent: &VerifiedAgent,
        nonce: &str,
        expires: Timestamp,
        request: &Request,
    ) -> Result<Decision, VerifyError> {
        let separate;
        let stores: &dyn AdmissionStore = match (&self.stores, &self.ledger) {
            (Some(stores), _) => stores.as_ref(),
            (None, Some(ledger)) => {
                separate = SeparateStores::new(self.nonces.as_ref(), ledger.as_ref());
                &separate
            }
            (None, None) => {
                self.accept_nonce(agent, nonce, expires)?;
                return self.decide(agent, request);
            }
        };
        let agent_key = agent.agent().public_key();
        let key = self.nonce_key(agent, &agent_key, nonce)?;
        let remember_until = expires.add_seconds(self.policy.clock_skew_secs());
        let admitted = agent.decide_admitting(request, self.now(), stores, key, remember_until)?;
        admitted.or_else(|verdict| {
            nonce_verdict(verdict, nonce)?;
            // "Fresh" without "admitted" would leave the charges unapplied: not an answer.
            Err(StoreUnavailable::new("ledger", "a fresh nonce, not admitted").into())
        })
    }

    /// Gives back the budgets [`accept_and_decide`](Self::accept_and_decide) or
    /// [`decide`](Self::decide) charged for `decision` when what it allowed did not happen
    /// after all (a payment that definitely did not settle), through this verifier's ledger
    /// ([`Ledger::refund_all`]): rates keep the request. Call it once per decision. Nothing
    /// to give back for a denied decision, one without obligations, or without a ledger.
    pub fn refund(&self, decision: &Decision) -> Result<(), StoreUnavailable> {
        match &self.ledger {
            Some(ledger) => decision.refund_through(ledger.as_ref()),
            None => Ok(()),
        }
    }

    /// Decides `request` for `agent` now, charging budgets and rates through the ledger
    /// (atomically, all or none). Without a ledger a request that carries such obligations
    /// is denied (`ledger_required`); an unavailable ledger is `store_unavailable`, never an
    /// allow.
    pub fn decide(
        &self,
        agent: &VerifiedAgent,
        request: &Request,
    ) -> Result<Decision, VerifyError> {
        let now = self.now();
        match &self.ledger {
            Some(ledger) => Ok(agent.decide_with_ledger(request, now, ledger.as_ref())?),
            None => Ok(agent.decide(request, now)),
        }
    }

    /// The agent's reputation: its on-chain feedback from the policy's trusted raters
    /// combined with `attestations` (signed `AgentReputationAttestation`s about it), held to
    /// the policy's `minReputation` (see [`crate::reputation`]). Every attestation must be
    /// valid and by a trusted attester (`attestation_refused`); too low a result is
    /// `reputation_insufficient`.
    pub fn check_reputation(
        &self,
        agent: &VerifiedAgent,
        attestations: &[serde_json::Value],
    ) -> Result<crate::reputation::ReputationReport, VerifyError> {
        crate::reputation::check(
            agent,
            attestations,
            &self.policy,
            self.now(),
            self.status_lists(),
        )
    }

    /// The cached chain named `digest`, if still valid.
    pub fn cached(&self, digest: &ChainDigest) -> Option<VerifiedAgent> {
        let pinned = self.pin_registry();
        let views = self.views(pinned.as_ref());
        let ctx = context_tag(&self.policy, views)?;
        let now = self.now();
        let agent = self.cache.get_by_digest(digest, &ctx, now)?;
        self.finish_cached(agent, None, now, views).ok()
    }
}

impl Verifier {
    /// The cache-hit path: what can change with time is judged again now (the registry
    /// view's age, keys bound and revocations in it), then the holder's signature alone,
    /// under the same acceptance rule as the batch.
    fn finish_cached(
        &self,
        agent: VerifiedAgent,
        proof: Option<&HolderProof<'_>>,
        now: Timestamp,
        views: Views<'_>,
    ) -> Result<VerifiedAgent, VerifyError> {
        recheck_cached(&agent, &self.policy, now, views)?;
        if let Some(p) = proof {
            let key = agent.agent().public_key();
            verify_single(&holder_signature(p, &key, agent.inner.keyid.of(&key))?)?;
        }
        Ok(agent)
    }
}

/// The chain's bytes from its `KYA-Chain` text, under the policy's input bound.
fn decode_base64url(text: &str, max: usize) -> Result<Vec<u8>, VerifyError> {
    decode_chain_text(text, max).map_err(|e| match e {
        ChainTextError::TooLarge { len } => VerifyError::InputTooLarge { len, max },
        ChainTextError::NotBase64(e) => VerifyError::Malformed {
            link: None,
            reason: format!("the chain is not base64url without padding: {e}"),
        },
    })
}

/// A nonce store's verdict as the verifier answers it.
fn nonce_verdict(verdict: NonceVerdict, nonce: &str) -> Result<(), VerifyError> {
    match verdict {
        NonceVerdict::Fresh => Ok(()),
        NonceVerdict::Replayed => Err(VerifyError::NonceReplayed {
            nonce: truncate(nonce, 64),
        }),
        _ => Err(VerifyError::NonceQuotaExceeded {
            nonce: truncate(nonce, 64),
        }),
    }
}
