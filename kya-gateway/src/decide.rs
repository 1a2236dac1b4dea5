//! One decision per request: the verifier (built from the configuration, rebuilt on reload
//! around the same stores), the route's price, the registry view's freshness, and the
//! identity headers an allowed request carries on.

use std::sync::Arc;
use std::time::Duration;

use kya_core::grant::Money;
use kya_core::grant::Request;
use kya_verify::http::{AdmitError, CheckedSignature};
use kya_verify::http::{
    Admitted, ChainStore, HttpPolicy, HttpRequest, KyaGate, ProblemReason, Refusal, Route,
    longest_under,
};
use kya_verify::{Decision, Ledger, NonceStore, Policy, StatusLists, VerifiedAgent, Verifier};
use kya_x402::PaymentTerms;

use crate::pay::PayState;
use serde_json::{Value, json};

use crate::config::{Config, StoresConfig, WhenStale};
use crate::error::GatewayError;
use crate::view::LiveView;

/// The prefix of every identity header the gateway writes. Any header with this prefix that
/// a client sends is removed before a request goes on, so an upstream can trust them.
pub const IDENTITY_PREFIX: &str = "kya-verified-";
/// The agent's `did:key`.
pub const H_AGENT: &str = "kya-verified-agent";
/// The principal the agent represents (`did:key` or `did:pkh`).
pub const H_PRINCIPAL: &str = "kya-verified-principal";
/// The chain's digest (`KYA-Chain-Digest` form, multibase).
pub const H_CHAIN: &str = "kya-verified-chain-digest";
/// The action decided on.
pub const H_ACTION: &str = "kya-verified-action";
/// The grant of the agent's own credential that allowed it: `link=<n>; grant=<i>`.
pub const H_GRANT: &str = "kya-verified-grant";
/// The amount decided on and charged (`12.50 USD`), when there is one.
pub const H_AMOUNT: &str = "kya-verified-amount";
/// The registry block the decision was judged at, when there is a registry view.
pub const H_BLOCK: &str = "kya-verified-registry-block";
/// The x402 settlement transaction of a paid request (`0x` + 64 hex).
pub const H_PAYMENT: &str = "kya-verified-payment-transaction";

/// Where nonces and budget counters live. Both are kya-verify's traits, so a shared backend
/// (one that several gateway instances use, e.g. on Redis) plugs in through [`Stores::new`].
#[derive(Clone)]
pub struct Stores {
    nonces: Arc<dyn NonceStore>,
    ledger: Arc<dyn Ledger>,
    /// On Redis: the same store as both, recording a request's nonce and charges in one
    /// round trip.
    shared: Option<Arc<kya_redis::RedisStores>>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

impl Stores {
    /// Stores of the caller's choosing.
    pub fn new(nonces: Arc<dyn NonceStore>, ledger: Arc<dyn Ledger>) -> Self {
        Self {
            nonces,
            ledger,
            shared: None,
        }
    }

    /// In-memory stores (one gateway instance).
    pub fn memory(config: &StoresConfig) -> Self {
        let ledger = config.ledger_capacity.map_or_else(
            kya_verify::MemoryLedger::default,
            kya_verify::MemoryLedger::new,
        );
        Self::new(
            Arc::new(kya_verify::MemoryNonceStore::default()),
            Arc::new(ledger),
        )
    }

    /// The stores the configuration names: in memory, or shared on Redis when `redis_url`
    /// is set (namespaced by `redis_namespace`, else by `default_namespace`: the first
    /// authority).
    pub fn from_config(
        config: &StoresConfig,
        default_namespace: Option<&str>,
    ) -> Result<Self, GatewayError> {
        let Some(url) = &config.redis_url else {
            return Ok(Self::memory(config));
        };
        let namespace = config
            .redis_namespace
            .as_deref()
            .or(default_namespace)
            .ok_or_else(|| {
                GatewayError::Stores("redis_url needs redis_namespace (or an authority)".into())
            })?;
        let redis = kya_redis::RedisConfig::from_url(url, namespace)
            .map_err(|e| GatewayError::Stores(e.to_string()))?;
        let capacity = config
            .ledger_capacity
            .unwrap_or(DEFAULT_REDIS_LEDGER_COUNTERS);
        let shared = Arc::new(
            kya_redis::RedisStores::new(redis, kya_verify::NonceQuotas::default(), capacity)
                .map_err(|e| GatewayError::Stores(e.to_string()))?,
        );
        Ok(Self {
            nonces: Arc::clone(&shared) as Arc<dyn NonceStore>,
            ledger: Arc::clone(&shared) as Arc<dyn Ledger>,
            shared: Some(shared),
        })
    }
}

/// Live counters a shared ledger holds per root principal when the configuration does not
/// say.
const DEFAULT_REDIS_LEDGER_COUNTERS: usize = 100_000;

/// The part of the configuration that SIGHUP reloads: policy, routes, prices, authorities,
/// status lists.
pub(crate) struct Gate {
    kya: Arc<KyaGate>,
    scheme: String,
    /// Per route, in the route map's order: its method, path prefix and price.
    prices: Vec<RoutePrice>,
}

/// What one route charges.
struct RoutePrice {
    method: Option<String>,
    path: String,
    price: Option<Money>,
    x402: Option<PaymentTerms>,
}

impl Gate {
    /// The verifier that admits (and charges) this gate's requests.
    pub(crate) fn verifier(&self) -> &kya_verify::Verifier {
        self.kya.verifier()
    }

    /// Builds the verifier and the HTTP gate from `config` around the long-lived parts.
    pub(crate) fn build(
        config: &Config,
        stores: &Stores,
        chains: &Arc<dyn ChainStore>,
        view: Option<&Arc<LiveView>>,
    ) -> Result<Self, GatewayError> {
        let bytes = std::fs::read(&config.policy).map_err(|source| GatewayError::Io {
            context: format!("reading {}", config.policy.display()),
            source,
        })?;
        let policy = Policy::from_json(&bytes).map_err(|source| GatewayError::Policy {
            path: config.policy.display().to_string(),
            source,
        })?;
        let mut verifier = match &stores.shared {
            Some(shared) => Verifier::new(policy).with_stores(Arc::clone(shared)),
            None => Verifier::new(policy)
                .with_nonce_store(Arc::clone(&stores.nonces))
                .with_ledger(Arc::clone(&stores.ledger)),
        };
        if let Some(view) = view {
            verifier = verifier.with_registry(Arc::clone(view) as Arc<_>);
        }
        if let Some(dir) = &config.status_lists {
            verifier = verifier.with_status_lists(Arc::new(StatusLists::load_dir(dir)?));
        }
        let mut http = HttpPolicy::default()
            .scheme(config.scheme.clone())
            .allow_declared_actions(config.allow_unmapped);
        for a in &config.authorities {
            http = http.authority(a.clone());
        }
        let mut prices = Vec::new();
        for r in &config.routes {
            let mut route = Route::new(r.path.clone(), r.action()?);
            if let Some(m) = &r.method {
                route = route.method(m.clone());
            }
            prices.push(RoutePrice {
                method: r.method.clone(),
                path: r.path.clone(),
                price: r.price()?,
                x402: crate::pay::route_terms(config.x402.as_ref(), r)?,
            });
            http = http.route(route);
        }
        let kya = KyaGate::new(Arc::new(verifier), http).chain_store(Arc::clone(chains));
        Ok(Self {
            kya: Arc::new(kya),
            scheme: config.scheme.clone(),
            prices,
        })
    }

    /// The longest route matching, picked as kya-verify's route map picks the action.
    fn route(&self, method: &str, path: &str) -> Option<&RoutePrice> {
        let for_method = self
            .prices
            .iter()
            .filter(|r| r.method.as_deref().is_none_or(|m| m == method));
        longest_under(for_method.map(|r| (r.path.as_str(), r)), path)
    }

    /// The price of the longest route matching.
    fn price(&self, method: &str, path: &str) -> Option<&Money> {
        self.route(method, path).and_then(|r| r.price.as_ref())
    }

    /// The x402 terms of the longest route matching.
    fn x402(&self, method: &str, path: &str) -> Option<&PaymentTerms> {
        self.route(method, path).and_then(|r| r.x402.as_ref())
    }
}

/// Who an allowed request comes from and what it was allowed to do.
#[derive(Debug, Clone)]
pub struct Identity {
    headers: Vec<(&'static str, String)>,
}

impl Identity {
    /// The identity headers, names lowercase.
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// Adds the settlement transaction of a paid request.
    pub(crate) fn paid(&mut self, transaction: String) {
        self.headers.push((H_PAYMENT, transaction));
    }
}

/// A gateway-level refusal (not one of kya-verify's): a status, a stable code, a sentence.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// The stable code.
    pub code: &'static str,
    /// The sentence.
    pub message: String,
}

/// What the gateway answers.
#[derive(Debug)]
pub enum Outcome {
    /// Allowed: go on with these identity headers.
    Allowed(Identity),
    /// Refused by kya-verify (401/403/400/413/429/503).
    Refused(Refusal),
    /// Refused by the gateway itself (stale registry view, a price the agent did not sign).
    Problem(Problem),
}

impl Outcome {
    /// The HTTP status of a refusal (200 for an allow).
    pub fn status(&self) -> u16 {
        match self {
            Self::Allowed(_) => 200,
            Self::Refused(r) => r.status(),
            Self::Problem(p) => p.status,
        }
    }

    /// `allow`, `deny` (verified, not allowed), `unavailable` (503) or `refused`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Allowed(_) => "allow",
            Self::Refused(Refusal::Denied { .. }) => "deny",
            _ if self.status() == 503 => "unavailable",
            _ => "refused",
        }
    }

    /// The reason codes.
    pub fn codes(&self) -> Vec<String> {
        match self {
            Self::Allowed(_) => Vec::new(),
            Self::Refused(r) => r.reasons().iter().map(|r| r.code.to_string()).collect(),
            Self::Problem(p) => vec![p.code.to_owned()],
        }
    }

    /// The RFC 9457 problem body of a refusal, in kya's shape.
    pub fn problem_details(&self) -> Value {
        match self {
            Self::Allowed(_) => json!({}),
            Self::Refused(r) => r.problem_details(),
            Self::Problem(p) => problem_json(p.status, p.code, &p.message),
        }
    }
}

/// A problem body in the shape of kya-verify's refusals.
pub(crate) use kya_verify::http::one_reason_problem as problem_json;

/// The registry view's freshness bound.
#[derive(Debug, Clone)]
pub(crate) struct Freshness {
    pub(crate) view: Arc<LiveView>,
    pub(crate) max_age: Duration,
    pub(crate) when_stale: WhenStale,
}

impl Freshness {
    /// A refusal when the view is too old and the gateway refuses on that.
    fn refusal(&self) -> Option<Problem> {
        if self.when_stale == WhenStale::Degrade || self.view.is_fresh(self.max_age) {
            return None;
        }
        let age = self.view.age().map_or_else(
            || "never synced".to_owned(),
            |a| format!("{} s old", a.as_secs()),
        );
        Some(Problem {
            status: 503,
            code: "registry_stale",
            message: format!(
                "the registry view (block {}) is {age}, over the bound of {} s",
                self.view.block(),
                self.max_age.as_secs()
            ),
        })
    }
}

/// Decides on one request; an allowed one also gives what kya-verify admitted (for its
/// receipt), and a request on an x402 route its payment state.
pub(crate) fn decide(
    gate: &Gate,
    fresh: Option<&Freshness>,
    request: &HttpRequest,
) -> (Outcome, Option<Admitted>, PayState) {
    if let Some(p) = fresh.and_then(Freshness::refusal) {
        return (Outcome::Problem(p), None, PayState::default());
    }
    if let Some(terms) = gate.x402(&request.method, request.path_component()) {
        return match crate::pay::admit(&gate.kya, &gate.scheme, terms, request) {
            Ok(paid) => {
                let (outcome, admitted) = allowed(
                    paid.agent,
                    paid.signature,
                    paid.payment.decision.clone(),
                    fresh,
                );
                let state = PayState {
                    checked: Some(paid.payment),
                    ..PayState::default()
                };
                (outcome, admitted, state)
            }
            Err(refusal) => {
                let (problem, state) = crate::pay::refusal(&refusal);
                (Outcome::Problem(problem), None, state)
            }
        };
    }
    let (o, a) = match decide_unpaid(gate, request) {
        Ok(a) => allowed(a.agent, a.signature, a.decision, fresh),
        Err(o) => (o, None),
    };
    (o, a, PayState::default())
}

/// The kya decision alone (the route's price, if any, decided on): what was admitted, or
/// the refusal.
fn decide_unpaid(gate: &Gate, request: &HttpRequest) -> Result<Admitted, Outcome> {
    let price = gate.price(&request.method, request.path_component());
    // The route's price is what is decided on; a different signed amount is refused before
    // the nonce is recorded or anything charged.
    let complete = |_: &VerifiedAgent, checked: &CheckedSignature, grant_request: &mut Request| {
        let Some(price) = price else { return Ok(()) };
        match &checked.amount {
            Some(signed) if signed != price => Err(Problem {
                status: 403,
                code: "amount_not_price",
                message: format!("the signed amount {signed} is not this route's price {price}"),
            }),
            _ => {
                grant_request.amount = Some(price.clone());
                Ok(())
            }
        }
    };
    gate.kya
        .admit_completing(request, complete)
        .map(|(admitted, ())| admitted)
        .map_err(|e| match e {
            AdmitError::Completing(problem) => Outcome::Problem(problem),
            AdmitError::Refused(refusal) => Outcome::Refused(refusal),
        })
}

/// An allowed request: its identity headers and what was admitted.
fn allowed(
    agent: VerifiedAgent,
    checked: CheckedSignature,
    decision: Decision,
    fresh: Option<&Freshness>,
) -> (Outcome, Option<Admitted>) {
    let grant_request = decision.request();
    let leaf = decision.links().last();
    let mut headers = vec![
        (H_AGENT, agent.agent().to_string()),
        (H_PRINCIPAL, agent.principal().to_string()),
        (H_CHAIN, agent.chain_digest().to_string()),
        (H_ACTION, grant_request.action.to_string()),
        (
            H_GRANT,
            format!(
                "link={}; grant={}",
                leaf.map_or(0, |l| l.link),
                leaf.and_then(|l| l.allowed_by).unwrap_or(0)
            ),
        ),
    ];
    if let Some(amount) = &grant_request.amount {
        headers.push((H_AMOUNT, amount.to_string()));
    }
    if let Some(f) = fresh {
        headers.push((H_BLOCK, f.view.block().to_string()));
    }
    let admitted = Admitted {
        agent,
        signature: checked,
        decision,
    };
    (Outcome::Allowed(Identity { headers }), Some(admitted))
}

/// The reasons of an outcome, for the decision's log line.
pub(crate) fn reasons(outcome: &Outcome) -> Vec<ProblemReason> {
    match outcome {
        Outcome::Refused(r) => r.reasons(),
        _ => Vec::new(),
    }
}
