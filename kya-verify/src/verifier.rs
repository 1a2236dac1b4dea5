//! [`Verifier`]: a policy, a clock, an optional registry view, a nonce store and a cache,
//! bundled for a merchant's request path.

use std::sync::Arc;

use kya_core::Timestamp;
use serde_json::Value;

use crate::agent::{ChainDigest, VerifiedAgent};
use crate::cache::{ChainCache, context_tag, input_key};
use crate::chain::{DetachedSignature, parse_chain_bytes, verify_links, verify_single};
use crate::clock::{Clock, SystemClock};
use crate::error::VerifyError;
use crate::nonce::{MAX_NONCE_BYTES, MemoryNonceStore, NonceStore};
use crate::policy::{Policy, truncate};
use crate::presentation::{check_window, verify_presentation_with};
use crate::registry::RegistryView;

/// Where the chain of a signed request comes from.
#[derive(Debug, Clone, Copy)]
pub enum ChainSource<'a> {
    /// The chain's JSON bytes (an array of credentials, root first).
    Bytes(&'a [u8]),
    /// A reference to a chain this verifier has cached.
    Digest(ChainDigest),
}

/// Verification for a merchant: a [`Policy`], a [`Clock`], an optional [`RegistryView`], a
/// [`NonceStore`] and a [`ChainCache`]. Thread-safe; share it (`Arc`) across requests.
pub struct Verifier {
    policy: Policy,
    clock: Arc<dyn Clock>,
    registry: Option<Arc<dyn RegistryView>>,
    nonces: Arc<dyn NonceStore>,
    cache: ChainCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("policy", &self.policy)
            .field("registry", &self.registry.is_some())
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with the system clock, no registry view, an in-memory nonce store and a
    /// cache of `policy.cache_capacity()` chains.
    pub fn new(policy: Policy) -> Self {
        let cache = ChainCache::new(policy.cache_capacity());
        Self {
            policy,
            clock: Arc::new(SystemClock),
            registry: None,
            nonces: Arc::new(MemoryNonceStore::default()),
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

    /// Uses `nonces` for replay protection.
    #[must_use]
    pub fn with_nonce_store(mut self, nonces: Arc<dyn NonceStore>) -> Self {
        self.nonces = nonces;
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

    /// The cache.
    pub fn cache(&self) -> &ChainCache {
        &self.cache
    }

    fn context(&self) -> Option<[u8; 32]> {
        context_tag(&self.policy, self.registry())
    }

    /// Verifies a chain from its bytes, from the cache when this exact input was verified
    /// under the same policy and registry state (no signature check then).
    pub fn verify_chain(&self, bytes: &[u8]) -> Result<VerifiedAgent, VerifyError> {
        self.verify_chain_inner(ChainSource::Bytes(bytes), None)
    }

    /// Verifies a chain together with a signature by its agent (an HTTP message signature,
    /// say), in one batch; on a cache hit, only that signature is checked.
    pub fn verify_signed(
        &self,
        chain: ChainSource<'_>,
        signature: &DetachedSignature,
    ) -> Result<VerifiedAgent, VerifyError> {
        self.verify_chain_inner(chain, Some(signature))
    }

    fn verify_chain_inner(
        &self,
        chain: ChainSource<'_>,
        extra: Option<&DetachedSignature>,
    ) -> Result<VerifiedAgent, VerifyError> {
        let now = self.now();
        let context = self.context();
        let (links, key): (Vec<Value>, Option<[u8; 32]>) = match chain {
            ChainSource::Digest(digest) => {
                let agent = context
                    .and_then(|ctx| self.cache.get_by_digest(&digest, &ctx, now))
                    .ok_or_else(|| VerifyError::ChainNotCached {
                        digest: digest.to_string(),
                    })?;
                return finish_cached(agent, extra);
            }
            ChainSource::Bytes(bytes) => {
                let key = context.map(|ctx| input_key(&ctx, bytes));
                if let Some(agent) = key.and_then(|k| self.cache.get(&k, now)) {
                    return finish_cached(agent, extra);
                }
                (parse_chain_bytes(bytes, &self.policy)?, key)
            }
        };
        let agent = verify_links(links, &self.policy, now, self.registry(), extra)?;
        if let (Some(key), Some(ctx)) = (key, context) {
            self.cache.insert(key, ctx, &agent, now);
        }
        Ok(agent)
    }

    /// Verifies a presentation (see [`crate::presentation`]), using the cache for its chain.
    pub fn verify_presentation(&self, bytes: &[u8]) -> Result<VerifiedAgent, VerifyError> {
        verify_presentation_with(
            bytes,
            &self.policy,
            self.now(),
            self.registry(),
            self.nonces.as_ref(),
            Some(&self.cache),
            None,
        )
    }

    /// Verifies a presentation whose challenge must be `challenge` (a nonce this verifier
    /// issued).
    pub fn verify_presentation_with_challenge(
        &self,
        bytes: &[u8],
        challenge: &str,
    ) -> Result<VerifiedAgent, VerifyError> {
        verify_presentation_with(
            bytes,
            &self.policy,
            self.now(),
            self.registry(),
            self.nonces.as_ref(),
            Some(&self.cache),
            Some(challenge),
        )
    }

    /// Checks a signed request's window against the policy (see
    /// [`check_window`](crate::presentation::check_window)).
    pub fn check_window(&self, created: Timestamp, expires: Timestamp) -> Result<(), VerifyError> {
        check_window(&self.policy, self.now(), created, expires)
    }

    /// Records a nonce valid until `expires`; `nonce_replayed` if it was seen before.
    pub fn check_nonce(&self, nonce: &str, expires: Timestamp) -> Result<(), VerifyError> {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_BYTES {
            return Err(VerifyError::Malformed {
                link: None,
                reason: format!("a nonce must be 1 to {MAX_NONCE_BYTES} bytes"),
            });
        }
        if self.nonces.check_and_store(nonce, expires, self.now()) {
            Ok(())
        } else {
            Err(VerifyError::NonceReplayed {
                nonce: truncate(nonce, 64),
            })
        }
    }

    /// The cached chain named `digest`, if still valid.
    pub fn cached(&self, digest: &ChainDigest) -> Option<VerifiedAgent> {
        let ctx = self.context()?;
        self.cache.get_by_digest(digest, &ctx, self.now())
    }
}

fn finish_cached(
    agent: VerifiedAgent,
    extra: Option<&DetachedSignature>,
) -> Result<VerifiedAgent, VerifyError> {
    if let Some(x) = extra {
        if agent.agent().public_key() != x.signer {
            return Err(VerifyError::HolderMismatch {
                agent: agent.agent().to_string(),
                found: kya_core::DidKey::from_public_key(x.signer).to_string(),
            });
        }
        verify_single(x)?;
    }
    Ok(agent)
}
