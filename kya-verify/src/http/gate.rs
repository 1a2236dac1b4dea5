//! The whole merchant-side pipeline for one signed request, framework-neutral: what the
//! tower middleware and `kya verify` run.

use std::sync::Arc;

use kya_core::grant::Request;
use kya_core::{DidKey, PublicKey, Timestamp};
use serde::Serialize;
use serde_json::Value;

use super::verify::{CheckedSignature, HttpPolicy, HttpVerifier};
use super::{ChainRef, ChainStore, HttpError, HttpRequest, MemoryChainStore};
use crate::agent::VerifiedAgent;
use crate::cache::{ChainCache, context_tag, input_key};
use crate::chain::{DetachedSignature, parse_chain_bytes, verify_links, verify_single};
use crate::clock::{Clock, SystemClock};
use crate::decision::Decision;
use crate::error::VerifyError;
use crate::ledger::Ledger;
use crate::nonce::{MAX_NONCE_BYTES, MemoryNonceStore, NonceStore};
use crate::policy::Policy;
use crate::registry::RegistryView;

/// One reason in a problem-details body: a stable code, the chain link it concerns
/// (0 = root) when there is one, the grant of that link when there is one, and a human
/// sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemReason {
    /// The stable machine code.
    pub code: String,
    /// The chain link (0 = root), when the reason concerns one.
    pub link: Option<usize>,
    /// The grant of that link, when the reason concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<usize>,
    /// A human sentence.
    pub message: String,
}

impl From<&HttpError> for ProblemReason {
    fn from(e: &HttpError) -> Self {
        Self {
            code: e.code().to_owned(),
            link: e.link(),
            grant: None,
            message: e.to_string(),
        }
    }
}

impl From<&crate::decision::Reason> for ProblemReason {
    fn from(r: &crate::decision::Reason) -> Self {
        Self {
            code: r.code.to_owned(),
            link: r.link,
            grant: r.grant,
            message: r.message.clone(),
        }
    }
}

/// A signed request that verified and was allowed.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The verified agent.
    pub agent: VerifiedAgent,
    /// The signature details (keyid, nonce, window, covered components, amount).
    pub signature: CheckedSignature,
    /// The decision (allowed): the request decided on, how every link judged it, and the
    /// obligations (budget charges) it incurred.
    pub decision: Decision,
}

/// Why a signed request was not admitted.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// Not proof of an agent's authority (bad, missing, expired or replayed signature, a
    /// chain that does not verify, …): 401 (or 400/413/503, see [`HttpError::status`]).
    NotVerified(HttpError),
    /// The agent verified but may not do this: 403, with every reason.
    Denied {
        /// The verified agent.
        agent: Box<VerifiedAgent>,
        /// The decision (deny), with every reason.
        decision: Box<Decision>,
    },
}

impl Refusal {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotVerified(e) => e.status(),
            Self::Denied { .. } => 403,
        }
    }

    /// Every reason.
    pub fn reasons(&self) -> Vec<ProblemReason> {
        match self {
            Self::NotVerified(e) => vec![ProblemReason::from(e)],
            Self::Denied { decision, .. } => {
                decision.reasons().iter().map(ProblemReason::from).collect()
            }
        }
    }

    /// The RFC 9457 problem-details JSON body: `type`, `title`, `status`, `detail`, and
    /// `reasons: [{code, link, grant?, message}]`.
    pub fn problem_details(&self) -> Value {
        let status = self.status();
        let (slug, title) = match status {
            403 => ("agent-not-allowed", "The agent may not do this"),
            400 => ("bad-agent-request", "The agent request cannot be read"),
            413 => ("body-too-large", "The request body is too large"),
            503 => ("verifier-unavailable", "The verifier cannot answer"),
            _ => (
                "agent-not-verified",
                "The request is not verifiable proof of an agent's authority",
            ),
        };
        let reasons = self.reasons();
        let detail = reasons
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        serde_json::json!({
            "type": format!("https://w3id.org/kya/problems/{slug}"),
            "title": title,
            "status": status,
            "detail": detail,
            "reasons": reasons,
        })
    }
}

/// Verifies signed requests end to end: the signature headers ([`HttpVerifier`]), the
/// credential chain under a [`Policy`] (and a registry view, when given) with the request
/// signature checked in the same batch as the chain's, the nonce, then the decision (through
/// a ledger for budgets and rates, when given). Verified chains are cached, so a repeat
/// visitor costs one signature check.
#[derive(Clone)]
pub struct KyaGate {
    http: HttpVerifier,
    policy: Policy,
    clock: Arc<dyn Clock>,
    registry: Option<Arc<dyn RegistryView>>,
    nonces: Arc<dyn NonceStore>,
    cache: Arc<ChainCache>,
    ledger: Option<Arc<dyn Ledger>>,
}

impl std::fmt::Debug for KyaGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KyaGate")
            .field("http", &self.http)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KyaGate {
    /// A gate with the system clock, in-memory nonce store, chain store and cache, no
    /// registry view and no ledger. The clock skew, the maximum window and the audience come
    /// from `policy` (overriding `http`'s).
    pub fn new(policy: Policy, http: HttpPolicy) -> Self {
        let mut http = http;
        http.skew_seconds = policy.clock_skew_secs();
        http.max_window_seconds = policy.max_window_secs();
        if let Some(audience) = policy.audience() {
            http.audience = Some(audience.to_owned());
        }
        Self {
            http: HttpVerifier::with_chain_store(http, Arc::new(MemoryChainStore::default())),
            cache: Arc::new(ChainCache::new(policy.cache_capacity())),
            policy,
            clock: Arc::new(SystemClock),
            registry: None,
            nonces: Arc::new(MemoryNonceStore::default()),
            ledger: None,
        }
    }

    /// Uses another clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Consults a registry view.
    pub fn registry(mut self, registry: Arc<dyn RegistryView>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Uses another nonce store (e.g. one shared by several servers).
    pub fn nonce_store(mut self, nonces: Arc<dyn NonceStore>) -> Self {
        self.nonces = nonces;
        self
    }

    /// Uses another chain store.
    pub fn chain_store(mut self, chains: Arc<dyn ChainStore>) -> Self {
        self.http = HttpVerifier::with_chain_store(self.http.policy().clone(), chains);
        self
    }

    /// Enforces budgets and rates through a ledger.
    pub fn ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The HTTP verifier.
    pub fn http(&self) -> &HttpVerifier {
        &self.http
    }

    /// The chain policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Verifies a chain sent once (e.g. in the body of a registration call) and keeps it, so
    /// later requests may name it with `KYA-Chain-Digest`. Returns the verified agent and
    /// the `KYA-Chain-Digest` value to use.
    pub fn register_chain(&self, chain: &[u8]) -> Result<(VerifiedAgent, String), HttpError> {
        let now = self.clock.now();
        let digest = ChainRef::Inline(chain.to_vec()).digest();
        let agent = self.verify_chain(chain, Some(&digest), None, now)?;
        self.http
            .chain_store()
            .put(digest, Arc::from(chain), agent.valid_until().unix());
        Ok((agent, ChainRef::encode_digest(&digest)))
    }

    /// Verifies a chain (cached by input), with the request signature (if given) in the
    /// same batch. `digest`, when given, is the SHA-256 of exactly these bytes (its
    /// `KYA-Chain-Digest`), computed by this gate: the cache is then keyed by it under the
    /// context tag rather than by hashing the bytes a second time. (Bytes from a chain store
    /// are keyed by their own hash, whatever digest the store filed them under. A 32-byte
    /// input never verifies, so the two kinds of key cannot meet in the cache.)
    fn verify_chain(
        &self,
        chain: &[u8],
        digest: Option<&[u8; 32]>,
        signature: Option<&CheckedSignature>,
        now: Timestamp,
    ) -> Result<VerifiedAgent, HttpError> {
        let context = context_tag(&self.policy, self.registry.as_deref());
        let key = context.map(|ctx| (ctx, input_key(&ctx, digest.map_or(chain, |d| &d[..]))));
        if let Some((_, key)) = &key {
            if let Some(agent) = self.cache.get(key, now) {
                if let Some(checked) = signature {
                    let agent_key = agent.agent().public_key();
                    checked.check_keyid(&agent_key)?;
                    verify_single(&detached(checked, agent_key)).map_err(chain_error)?;
                }
                return Ok(agent);
            }
        }
        let links = parse_chain_bytes(chain, &self.policy).map_err(chain_error)?;
        // The leaf's key, read ahead, so that `keyid` is checked before any signature work
        // and the request signature joins the chain's batch.
        let leaf_key = leaf_key(&links);
        let extra = match (signature, leaf_key) {
            (Some(checked), Some(agent_key)) => {
                checked.check_keyid(&agent_key)?;
                Some(detached(checked, agent_key))
            }
            _ => None,
        };
        let agent = verify_links(
            links,
            &self.policy,
            now,
            self.registry.as_deref(),
            extra.as_ref(),
        )
        .map_err(chain_error)?;
        if let (Some(checked), None) = (signature, &extra) {
            // The leaf could not be read ahead (verification then names why, normally).
            checked.verify_signature(&agent.agent().public_key())?;
        }
        if let Some((ctx, key)) = key {
            self.cache.insert(key, ctx, &agent, now);
        }
        Ok(agent)
    }

    /// Verifies a signed request and decides on it.
    pub fn admit(&self, request: &HttpRequest) -> Result<Admitted, Refusal> {
        let now = self.clock.now();
        let (agent, checked, grant_request) =
            self.verify(request, now).map_err(Refusal::NotVerified)?;
        let decision = match &self.ledger {
            Some(ledger) => agent.decide_with_ledger(&grant_request, now, ledger.as_ref()),
            None => agent.decide(&grant_request, now),
        };
        if decision.is_allowed() {
            Ok(Admitted {
                agent,
                signature: checked,
                decision,
            })
        } else {
            Err(Refusal::Denied {
                agent: Box::new(agent),
                decision: Box::new(decision),
            })
        }
    }

    /// Verifies a signed request (signature headers, chain, key, signature, nonce) without
    /// deciding; returns the agent, the signature details and the grant request to decide
    /// on (see [`HttpVerifier::grant_request`]).
    pub fn verify(
        &self,
        request: &HttpRequest,
        now: Timestamp,
    ) -> Result<(VerifiedAgent, CheckedSignature, Request), HttpError> {
        let (agent, checked) = self.verify_request(request, now)?;
        let grant_request = self.http.grant_request(request, &checked, now.unix())?;
        Ok((agent, checked, grant_request))
    }

    /// Verifies a signed request (signature headers, chain, key, signature, nonce) without
    /// mapping it to a grant request: for callers that decide on a request of their own.
    pub fn verify_request(
        &self,
        request: &HttpRequest,
        now: Timestamp,
    ) -> Result<(VerifiedAgent, CheckedSignature), HttpError> {
        let checked = self.http.check_request(request, now.unix())?;
        if checked.nonce.len() > MAX_NONCE_BYTES {
            return Err(HttpError::ParameterInvalid { name: "nonce" });
        }
        let agent = self.verify_chain(
            &checked.chain,
            checked.chain_inline.then_some(&checked.chain_digest),
            Some(&checked),
            now,
        )?;
        let expires = Timestamp::from_unix(checked.nonce_expiry(self.http.policy().skew_seconds))
            .ok_or(HttpError::ParameterInvalid { name: "expires" })?;
        if !self.nonces.check_and_store(&checked.nonce, expires, now) {
            return Err(HttpError::NonceReplayed);
        }
        if checked.chain_inline {
            self.http
                .remember_chain(&checked, agent.valid_until().unix());
        }
        Ok((agent, checked))
    }
}

fn detached(checked: &CheckedSignature, signer: PublicKey) -> DetachedSignature {
    DetachedSignature {
        message: checked.signature_base().to_vec(),
        signature: *checked.signature(),
        signer,
    }
}

fn leaf_key(links: &[Value]) -> Option<PublicKey> {
    let subject = links
        .last()?
        .get("credentialSubject")?
        .get("id")?
        .as_str()?;
    subject.parse::<DidKey>().ok().map(|d| d.public_key())
}

/// A chain verifier error as an HTTP refusal: a failing request signature (the detached
/// signature, which has no link) is `signature_invalid`; the rest keep their codes.
fn chain_error(e: VerifyError) -> HttpError {
    match e {
        VerifyError::BadSignature { link: None, .. } => HttpError::SignatureInvalid,
        other => HttpError::Chain {
            code: other.code().to_owned(),
            link: other.link(),
            message: other.to_string(),
        },
    }
}
