//! The whole merchant-side pipeline for one signed request, framework-neutral: what the
//! tower middleware and `kya verify` run.

use std::sync::Arc;

use kya_core::Timestamp;
use kya_core::grant::Request;
use serde::Serialize;
use serde_json::Value;

use super::verify::{ChainFrom, CheckedSignature, HttpPolicy, HttpVerifier};
use super::{ChainOwner, ChainStore, HttpError, HttpRequest, MemoryChainStore};
use crate::agent::{ChainDigest, VerifiedAgent};
use crate::code::Code;
use crate::decision::Decision;
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::verifier::Verifier;

/// One reason in a problem-details body: a stable code, the chain link it concerns
/// (0 = root) when there is one, the grant of that link when there is one, and a human
/// sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemReason {
    /// The stable machine code.
    pub code: Code,
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
            code: e.code(),
            link: e.link(),
            grant: None,
            message: e.to_string(),
        }
    }
}

impl From<&crate::decision::Reason> for ProblemReason {
    fn from(r: &crate::decision::Reason) -> Self {
        Self {
            code: r.code,
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

/// An RFC 9457 problem-details body with one reason, for a refusal that is not one of
/// kya-verify's own (a gateway's or a payment's): `type`, `title`, `status`, `detail`, and
/// `reasons: [{code, link: null, message}]`.
pub fn one_reason_problem(status: u16, code: &str, message: &str) -> Value {
    let (slug, title) = match status {
        402 => ("payment-required", "The request needs a payment"),
        403 => ("agent-not-allowed", "The agent may not do this"),
        502 => ("upstream-unavailable", "The upstream did not answer"),
        503 => ("verifier-unavailable", "The verifier cannot answer"),
        _ => ("bad-agent-request", "The agent request cannot be read"),
    };
    serde_json::json!({
        "type": format!("https://w3id.org/kya/problems/{slug}"),
        "title": title,
        "status": status,
        "detail": message,
        "reasons": [{"code": code, "link": null, "message": message}],
    })
}

/// Why [`KyaGate::admit_completing`] did not admit a request: kya refused it, or the
/// caller's completion did (two cases for good: kya's own reasons grow inside [`Refusal`]).
#[derive(Debug, Clone)]
pub enum AdmitError<E> {
    /// Refused by kya (see [`Refusal`]).
    Refused(Refusal),
    /// Refused by the completion (nothing recorded, nothing charged).
    Completing(E),
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
            429 => (
                "agent-share-exhausted",
                "The agent's share of the verifier's stores is full",
            ),
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

/// Verifies signed requests end to end: HTTP parsing ([`HttpVerifier`]: the signature
/// headers, the authority, the path, the body's digest, the `kya-*` headers) on top of the
/// one [`Verifier`] (the chain with the request signature in the same batch, the nonce, the
/// decision with its ledger). The gate has no settings of its own that could contradict
/// the verifier's [`Policy`].
#[derive(Clone)]
pub struct KyaGate {
    verifier: Arc<Verifier>,
    http: HttpVerifier,
}

impl std::fmt::Debug for KyaGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KyaGate")
            .field("verifier", &self.verifier)
            .field("http", &self.http)
            .finish()
    }
}

impl KyaGate {
    /// A gate for `verifier` with an in-memory chain store.
    pub fn new(verifier: Arc<Verifier>, http: HttpPolicy) -> Self {
        Self {
            verifier,
            http: HttpVerifier::with_chain_store(http, Arc::new(MemoryChainStore::default())),
        }
    }

    /// Uses another chain store.
    #[must_use]
    pub fn chain_store(mut self, chains: Arc<dyn ChainStore>) -> Self {
        self.http = HttpVerifier::with_chain_store(self.http.policy().clone(), chains);
        self
    }

    /// The HTTP verifier.
    pub fn http(&self) -> &HttpVerifier {
        &self.http
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        self.verifier.policy()
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.verifier.now()
    }

    /// Registers a chain for later requests that name it with `KYA-Chain-Digest`: the
    /// request's body is the chain (JSON array, root first), and the request is signed by the
    /// chain's own agent like any other (so nobody without a trusted agent's key can store
    /// anything), within that agent's share of the chain store. Returns the verified agent
    /// and the chain's digest.
    pub fn register_chain(
        &self,
        request: &HttpRequest,
    ) -> Result<(VerifiedAgent, ChainDigest), HttpError> {
        let now = self.now();
        let checked = self
            .http
            .check_request(request, self.policy(), now, ChainFrom::Body)?;
        let agent = self.held(&checked)?;
        self.store_chain(&agent, &checked, now)?;
        let digest = agent.chain_digest();
        Ok((agent, digest))
    }

    /// Verifies a signed request and decides on it: the nonce and the charges in one step
    /// of the stores ([`Verifier::accept_and_decide`]).
    pub fn admit(&self, request: &HttpRequest) -> Result<Admitted, Refusal> {
        self.admit_completing(request, |_, _, _| Ok::<(), std::convert::Infallible>(()))
            .map(|(admitted, ())| admitted)
            .map_err(|e| match e {
                AdmitError::Refused(r) => r,
                AdmitError::Completing(never) => match never {},
            })
    }

    /// As [`admit`](Self::admit), with `complete` run once the signature and the chain
    /// verified and before the nonce is recorded: given the verified agent and its signed
    /// request, it may refuse the request (its error) or complete the grant request to decide
    /// on (a price the route charges, the amount a payment carries), and gives what it
    /// checked back with the admission. Nothing is recorded or charged for a request it
    /// refuses; otherwise the nonce and the charges are one step of the stores.
    pub fn admit_completing<T, E>(
        &self,
        request: &HttpRequest,
        complete: impl FnOnce(&VerifiedAgent, &CheckedSignature, &mut Request) -> Result<T, E>,
    ) -> Result<(Admitted, T), AdmitError<E>> {
        let refused = |e: HttpError| AdmitError::Refused(Refusal::NotVerified(e));
        let now = self.now();
        let checked = self
            .http
            .check_request(request, self.policy(), now, ChainFrom::Headers)
            .map_err(refused)?;
        let mut grant_request = self
            .http
            .grant_request(request, &checked, self.policy(), now)
            .map_err(refused)?;
        let agent = self.signed(&checked).map_err(refused)?;
        let completed =
            complete(&agent, &checked, &mut grant_request).map_err(AdmitError::Completing)?;
        let decision = self
            .verifier
            .accept_and_decide(&agent, &checked.nonce, checked.expires_at(), &grant_request)
            .map_err(|e| refused(HttpError::Chain(e)))?;
        // A convenience for the agent's later requests by digest, kept for admitted ones.
        if checked.chain_inline && decision.is_allowed() {
            let _ = self.store_chain(&agent, &checked, now);
        }
        if decision.is_allowed() {
            let admitted = Admitted {
                agent,
                signature: checked,
                decision,
            };
            Ok((admitted, completed))
        } else {
            Err(AdmitError::Refused(Refusal::Denied {
                agent: Box::new(agent),
                decision: Box::new(decision),
            }))
        }
    }

    /// Verifies a signed request (signature headers, authority, path, chain, key, signature,
    /// nonce) without deciding; returns the agent, the signature details and the grant
    /// request to decide on (see [`HttpVerifier::grant_request`]).
    pub fn verify(
        &self,
        request: &HttpRequest,
    ) -> Result<(VerifiedAgent, CheckedSignature, Request), HttpError> {
        let now = self.now();
        let checked = self
            .http
            .check_request(request, self.policy(), now, ChainFrom::Headers)?;
        // The route before any signature work: an unmapped path costs nothing.
        let grant_request = self
            .http
            .grant_request(request, &checked, self.policy(), now)?;
        let agent = self.held(&checked)?;
        if checked.chain_inline {
            // A convenience for later requests by digest; a full share only means the agent
            // keeps sending its chain inline.
            let _ = self.store_chain(&agent, &checked, now);
        }
        Ok((agent, checked, grant_request))
    }

    /// The chain with the request's signature (one batch, or the signature alone on a cache
    /// hit), then the nonce: what every signed request, a registration too, must pass.
    fn held(&self, checked: &CheckedSignature) -> Result<VerifiedAgent, HttpError> {
        let agent = self.signed(checked)?;
        self.verifier
            .accept_nonce(&agent, &checked.nonce, checked.expires_at())?;
        Ok(agent)
    }

    /// The chain with the request's signature, the nonce not yet recorded.
    fn signed(&self, checked: &CheckedSignature) -> Result<VerifiedAgent, HttpError> {
        let agent = self
            .verifier
            .verify_held(checked.chain.input(), &checked.holder_proof())?;
        if let Some(named) = checked.chain_digest {
            // The store must have given the chain the request names.
            if agent.chain_digest().0 != named {
                return Err(HttpError::Chain(VerifyError::ChainNotCached {
                    digest: ChainDigest(named).to_string(),
                }));
            }
        }
        Ok(agent)
    }

    /// Keeps a verified chain under its digest, within its agent's share, for as long as
    /// the verified result holds.
    fn store_chain(
        &self,
        agent: &VerifiedAgent,
        checked: &CheckedSignature,
        now: Timestamp,
    ) -> Result<(), HttpError> {
        let digest = agent.chain_digest().0;
        let store = self.http.chain_store();
        // A chain sent inline again and again is decoded and stored once.
        if store.get(&digest, now).is_some() {
            return Ok(());
        }
        let key = agent.agent().public_key();
        let owner = ChainOwner {
            principal: agent.principal(),
            agent: &key,
        };
        store.put(
            digest,
            checked.chain.to_bytes()?,
            owner,
            agent.valid_until(),
            now,
        )
    }
}
