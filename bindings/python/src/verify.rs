//! The merchant's side: the policy, registry snapshots, the one `Verifier`, decisions with
//! their reasons and stable codes, and the HTTP gate the ASGI middleware runs.

use std::sync::Arc;

use kya_core::grant::{Action, Request};
use kya_verify::http::{HttpPolicy, HttpRequest, KyaGate, Refusal, Route};
use kya_verify::snapshot::Snapshot;
use kya_verify::{Decision, FixedClock, MemoryLedger, Policy, Reason, VerifiedAgent, Verifier};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::credentials::{json_bytes, loads, money};
use crate::errors::{config_error, grant_error, http_error, value_error, verify_error};
use crate::time::timestamp;

/// A verifier policy (`trustedRoots`, `audience`, `clockSkewSeconds`, limits, …): the JSON
/// `kya verify --policy` reads, strictly (unknown members refused).
#[pyclass(name = "Policy", module = "kya._kya", frozen)]
#[derive(Clone)]
pub(crate) struct PyPolicy(pub(crate) Policy);

#[pymethods]
impl PyPolicy {
    /// Reads a policy: JSON text, bytes or a `dict`.
    #[staticmethod]
    fn from_json(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        Policy::from_json(&json_bytes(value)?)
            .map(Self)
            .map_err(config_error)
    }

    /// Reads a policy file.
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        let bytes = std::fs::read(&path)
            .map_err(|e| config_error(format!("cannot read {}: {e}", path.display())))?;
        Policy::from_json(&bytes).map(Self).map_err(config_error)
    }

    /// The policy as JSON text (the form `from_json` reads).
    fn to_json(&self) -> String {
        self.0.to_json_value().to_string()
    }

    /// The audience presentations must name, if any.
    #[getter]
    fn audience(&self) -> Option<String> {
        self.0.audience().map(str::to_owned)
    }

    /// The trusted root principals.
    #[getter]
    fn trusted_roots(&self) -> Vec<String> {
        self.0
            .trusted_roots()
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

/// An offline view of the registry at one block (`kya registry sync` writes it).
#[pyclass(name = "Snapshot", module = "kya._kya", frozen)]
pub(crate) struct PySnapshot(pub(crate) Arc<Snapshot>);

#[pymethods]
impl PySnapshot {
    /// Reads a snapshot (JSON text or bytes), checking its bounds and form.
    #[staticmethod]
    fn from_json(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        Snapshot::load(&json_bytes(value)?)
            .map(|s| Self(Arc::new(s)))
            .map_err(config_error)
    }

    /// Reads a snapshot file.
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        let bytes = std::fs::read(&path)
            .map_err(|e| config_error(format!("cannot read {}: {e}", path.display())))?;
        Snapshot::load(&bytes)
            .map(|s| Self(Arc::new(s)))
            .map_err(config_error)
    }

    /// The EIP-155 chain id.
    #[getter]
    fn chain_id(&self) -> u64 {
        self.0.chain_id()
    }

    /// The block number the snapshot reflects.
    #[getter]
    fn block_number(&self) -> u64 {
        self.0.block().number
    }

    /// The block's time (RFC 3339), when known.
    #[getter]
    fn as_of(&self) -> Option<String> {
        self.0.as_of().map(|t| t.to_string())
    }

    /// How many agents it holds.
    #[getter]
    fn agent_count(&self) -> usize {
        self.0.agent_count()
    }

    /// The snapshot as JSON bytes (the file form).
    fn to_json<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_json_bytes())
    }
}

/// One reason of a decision or a refusal: a stable code, the chain link (0 = root) and grant
/// it concerns, and a sentence.
#[pyclass(name = "Reason", module = "kya._kya", frozen, get_all, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyReason {
    /// kya's stable code (`snake_case`).
    code: &'static str,
    /// The chain link, when it concerns one.
    link: Option<usize>,
    /// The grant of that link, when it concerns one.
    grant: Option<usize>,
    /// A human sentence.
    message: String,
}

#[pymethods]
impl PyReason {
    fn __repr__(&self) -> String {
        format!(
            "Reason({}, link={:?}, grant={:?})",
            self.code, self.link, self.grant
        )
    }
}

impl From<&Reason> for PyReason {
    fn from(r: &Reason) -> Self {
        Self {
            code: r.code.as_str(),
            link: r.link,
            grant: r.grant,
            message: r.message.clone(),
        }
    }
}

/// An agent whose chain verified: who it is, whom it represents, what it may do and until
/// when.
#[pyclass(name = "VerifiedAgent", module = "kya._kya", frozen)]
#[derive(Clone)]
pub(crate) struct PyVerifiedAgent(pub(crate) VerifiedAgent);

#[pymethods]
impl PyVerifiedAgent {
    /// The agent's `did:key` (the chain leaf's subject).
    #[getter]
    fn agent(&self) -> String {
        self.0.agent().to_string()
    }

    /// The principal it acts for (the root's issuer: `did:key` or `did:pkh`).
    #[getter]
    fn principal(&self) -> String {
        self.0.principal().to_string()
    }

    /// The chain's digest (`u…`).
    #[getter]
    fn chain_digest(&self) -> String {
        self.0.chain_digest().to_string()
    }

    /// How many links the chain has.
    #[getter]
    fn depth(&self) -> usize {
        self.0.chain().len()
    }

    /// When the chain stops holding (the earliest `validUntil`).
    #[getter]
    fn valid_until(&self) -> String {
        self.0.valid_until().to_string()
    }

    /// Whether registry facts were checked against a snapshot.
    #[getter]
    fn registry_checked(&self) -> bool {
        self.0.registry_checked()
    }

    /// The whole verified agent as JSON text (chain links, grants, registration facts).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.0).map_err(value_error)
    }

    /// The same as a `dict`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loads(py, &self.to_json()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "VerifiedAgent(agent={}, principal={})",
            self.0.agent(),
            self.0.principal()
        )
    }
}

/// A decision: allow, or deny with every reason.
#[pyclass(name = "Decision", module = "kya._kya", frozen)]
#[derive(Clone)]
pub(crate) struct PyDecision(pub(crate) Decision);

#[pymethods]
impl PyDecision {
    /// Whether the request is allowed.
    #[getter]
    fn allowed(&self) -> bool {
        self.0.is_allowed()
    }

    /// Every reason (empty when allowed).
    #[getter]
    fn reasons(&self) -> Vec<PyReason> {
        self.0.reasons().iter().map(PyReason::from).collect()
    }

    /// The distinct codes of the reasons, in kya's order.
    #[getter]
    fn codes(&self) -> Vec<&'static str> {
        self.0
            .codes()
            .into_iter()
            .map(kya_verify::Code::as_str)
            .collect()
    }

    /// The grant of the agent's own credential that allowed it, when allowed.
    #[getter]
    fn allowed_by(&self) -> Option<usize> {
        self.0.links().last().and_then(|l| l.allowed_by)
    }

    /// A readable explanation, one line per link.
    fn explain(&self) -> String {
        self.0.explain()
    }

    /// The decision as JSON text (`kya verify --json`'s form).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.0).map_err(value_error)
    }

    /// The same as a `dict`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loads(py, &self.to_json()?)
    }

    fn __bool__(&self) -> bool {
        self.0.is_allowed()
    }

    fn __repr__(&self) -> String {
        if self.0.is_allowed() {
            "Decision(allow)".to_owned()
        } else {
            format!("Decision(deny: {})", self.codes().join(", "))
        }
    }
}

/// The one verifier every way in passes through: its policy, clock, registry view, nonce
/// store, ledger and cache. Thread-safe; verification releases no Python state.
#[pyclass(name = "Verifier", module = "kya._kya", frozen)]
pub(crate) struct PyVerifier(pub(crate) Arc<Verifier>);

#[pymethods]
impl PyVerifier {
    /// A verifier for `policy`, judging registry facts against `snapshot` when given. `now`
    /// fixes the clock (tests, audits at a past time); `ledger=True` meters budgets and
    /// rates in memory (without a ledger, a request with such obligations is denied with
    /// `ledger_required`).
    #[new]
    #[pyo3(signature = (policy, *, snapshot=None, now=None, ledger=true))]
    fn new(
        policy: &PyPolicy,
        snapshot: Option<&PySnapshot>,
        now: Option<&Bound<'_, PyAny>>,
        ledger: bool,
    ) -> PyResult<Self> {
        let mut verifier = Verifier::new(policy.0.clone());
        if let Some(at) = now {
            verifier = verifier.with_clock(Arc::new(FixedClock::new(timestamp(at)?)));
        }
        if let Some(s) = snapshot {
            verifier = verifier.with_registry(s.0.clone());
        }
        if ledger {
            verifier = verifier.with_ledger(Arc::new(MemoryLedger::default()));
        }
        Ok(Self(Arc::new(verifier)))
    }

    /// The verifier's current time (RFC 3339).
    #[getter]
    fn now(&self) -> String {
        self.0.now().to_string()
    }

    /// Verifies a credential chain (JSON array, root first; text, bytes or a list):
    /// raises the `kya.errors` class of its code when it does not verify.
    fn verify_chain(&self, py: Python<'_>, chain: &Bound<'_, PyAny>) -> PyResult<PyVerifiedAgent> {
        let bytes = json_bytes(chain)?;
        py.detach(|| self.0.verify_chain(&bytes))
            .map(PyVerifiedAgent)
            .map_err(|e| verify_error(&e))
    }

    /// Verifies a signed presentation (and its nonce, once), with `challenge` when the
    /// merchant issued one.
    #[pyo3(signature = (presentation, *, challenge=None))]
    fn verify_presentation(
        &self,
        py: Python<'_>,
        presentation: &Bound<'_, PyAny>,
        challenge: Option<String>,
    ) -> PyResult<PyVerifiedAgent> {
        let bytes = json_bytes(presentation)?;
        py.detach(|| match &challenge {
            Some(c) => self.0.verify_presentation_with_challenge(&bytes, c),
            None => self.0.verify_presentation(&bytes),
        })
        .map(PyVerifiedAgent)
        .map_err(|e| verify_error(&e))
    }

    /// Decides whether `agent` may perform `action` (with `amount="12.50 USD"`, an
    /// `audience`, a `resource` URL) at `time` (default: the verifier's now), charging the
    /// ledger when allowed. Credential and grant windows must hold at the verifier's now as
    /// well: a `time` taken from the agent cannot revive an expired grant.
    #[pyo3(signature = (agent, action, *, amount=None, audience=None, resource=None, time=None))]
    fn decide(
        &self,
        agent: &PyVerifiedAgent,
        action: &str,
        amount: Option<&str>,
        audience: Option<String>,
        resource: Option<String>,
        time: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        let time = match time {
            Some(t) => timestamp(t)?,
            None => self.0.now(),
        };
        let mut request = Request::new(Action::parse(action).map_err(grant_error)?, time);
        if let Some(m) = amount {
            let m = money(m)?;
            request = request.with_amount(m.value, m.asset);
        }
        if let Some(a) = audience {
            request = request.with_audience(a);
        }
        if let Some(r) = resource {
            request = request.with_resource(r);
        }
        self.0
            .decide(&agent.0, &request)
            .map(PyDecision)
            .map_err(|e| verify_error(&e))
    }

    /// Decides on a request in its JSON form (`{"action", "amount": {"value", "asset"},
    /// "audience", "resource", "time"}`), as test-vectors/kya/requests.json writes it.
    fn decide_json(
        &self,
        agent: &PyVerifiedAgent,
        request: &Bound<'_, PyAny>,
    ) -> PyResult<PyDecision> {
        let value = crate::credentials::strict_value(request)?;
        let request = Request::from_json_value(&value).map_err(grant_error)?;
        self.0
            .decide(&agent.0, &request)
            .map(PyDecision)
            .map_err(|e| verify_error(&e))
    }
}

/// What the gate made of one request: admitted (with the agent, the decision and the
/// signed amount), or refused with the status and problem JSON the Rust middleware answers.
#[pyclass(name = "GateOutcome", module = "kya._kya", frozen, get_all)]
pub(crate) struct PyGateOutcome {
    /// Whether the request is admitted.
    admitted: bool,
    /// The HTTP status: 200 when admitted, else 401 / 403 / 400 / 413 / 429 / 503.
    status: u16,
    /// The RFC 9457 problem-details JSON text of a refusal.
    problem: Option<String>,
    /// Every reason of a refusal.
    reasons: Vec<PyReason>,
    /// The verified agent (admitted, or verified but denied).
    agent: Option<PyVerifiedAgent>,
    /// The decision (admitted, or denied).
    decision: Option<PyDecision>,
    /// The action decided on.
    action: Option<String>,
    /// The signed `KYA-Amount`, when sent.
    amount: Option<String>,
    /// The signature's nonce, when it verified.
    nonce: Option<String>,
}

#[pymethods]
impl PyGateOutcome {
    /// The problem JSON as a `dict` (`None` when admitted).
    fn problem_dict<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.problem.as_deref().map(|p| loads(py, p)).transpose()
    }

    /// The stable codes of a refusal, in order.
    #[getter]
    fn codes(&self) -> Vec<&'static str> {
        self.reasons.iter().map(|r| r.code).collect()
    }

    fn __bool__(&self) -> bool {
        self.admitted
    }

    fn __repr__(&self) -> String {
        if self.admitted {
            "GateOutcome(admitted)".to_owned()
        } else {
            format!("GateOutcome({}: {})", self.status, self.codes().join(", "))
        }
    }
}

/// Header bytes as the gate reads them: visible ASCII (and tabs) only. A header the gate
/// judges that is not readable refuses the request; any other such header is left out, as
/// the Rust middleware does (it cannot be covered by a signature).
fn header_text(value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let bytes: Vec<u8> = if let Ok(text) = value.cast::<PyString>() {
        text.to_cow()?.as_bytes().to_vec()
    } else if let Ok(bytes) = value.cast::<PyBytes>() {
        bytes.as_bytes().to_vec()
    } else {
        return Err(value_error("a header name or value is str or bytes"));
    };
    let visible = bytes
        .iter()
        .all(|b| *b == b'\t' || (0x20..0x7f).contains(b));
    Ok(visible.then(|| String::from_utf8_lossy(&bytes).into_owned()))
}

fn judged_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("kya-")
        || matches!(
            name.as_str(),
            "signature" | "signature-input" | "content-digest" | "host"
        )
}

/// The request view: its authority is the `Host` header unless given.
fn request_view(
    method: &str,
    target: &str,
    headers: &[(Bound<'_, PyAny>, Bound<'_, PyAny>)],
    body: &[u8],
    authority: Option<&str>,
) -> PyResult<Result<HttpRequest, kya_verify::http::HttpError>> {
    use kya_verify::http::HttpError;
    let mut pairs = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let Some(name) = header_text(name)? else {
            continue;
        };
        match header_text(value)? {
            Some(value) => pairs.push((name, value)),
            None if judged_header(&name) => {
                return Ok(Err(HttpError::HeaderInvalid {
                    name,
                    detail: "not visible ascii".to_owned(),
                }));
            }
            None => {}
        }
    }
    let host = match authority {
        Some(a) => a.to_owned(),
        None => match pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")) {
            Some((_, h)) => h.clone(),
            None => {
                return Ok(Err(HttpError::BadRequest {
                    detail: "the request names no authority (no Host header)".to_owned(),
                }));
            }
        },
    };
    let mut view = HttpRequest::new(method, &host, target);
    view.headers = pairs;
    view.body = body.to_vec();
    Ok(Ok(view))
}

/// The merchant's gate: the verifier, plus what only HTTP knows (its authorities, the
/// scheme, routes from method and path to actions).
#[pyclass(name = "Gate", module = "kya._kya", frozen)]
pub(crate) struct PyGate(pub(crate) Arc<KyaGate>);

#[pymethods]
impl PyGate {
    /// A gate for `verifier`. `routes`: `(method or None, path prefix, action)` triples;
    /// `authority`: the host(s) agents sign for (default: the policy's `did:web` audience's
    /// host); `allow_declared_actions`: judge an unmapped path on the agent's `KYA-Action`.
    #[new]
    #[pyo3(signature = (verifier, *, routes, authority=None, scheme="https", allow_declared_actions=false))]
    fn new(
        verifier: &PyVerifier,
        routes: Vec<(Option<String>, String, String)>,
        authority: Option<&Bound<'_, PyAny>>,
        scheme: &str,
        allow_declared_actions: bool,
    ) -> PyResult<Self> {
        let mut http = HttpPolicy::default()
            .scheme(scheme)
            .allow_declared_actions(allow_declared_actions);
        if let Some(a) = authority {
            let list: Vec<String> = if let Ok(one) = a.cast::<PyString>() {
                vec![one.to_cow()?.into_owned()]
            } else {
                a.extract()?
            };
            for one in list {
                http = http.authority(one);
            }
        }
        for (method, path, action) in routes {
            let mut route = Route::new(path, Action::parse(&action).map_err(grant_error)?);
            if let Some(m) = method {
                route = route.method(m);
            }
            http = http.route(route);
        }
        Ok(Self(Arc::new(KyaGate::new(verifier.0.clone(), http))))
    }

    /// Verifies and decides on one request: `method`, `target` (path and query as sent),
    /// `headers` (`(name, value)` pairs, `str` or `bytes`), `body`; the authority is the
    /// `Host` header unless `authority` is given. Never raises for a refusal: the outcome
    /// carries the status and problem JSON.
    #[pyo3(signature = (method, target, headers, body=None, *, authority=None))]
    fn check(
        &self,
        py: Python<'_>,
        method: &str,
        target: &str,
        headers: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)>,
        body: Option<&[u8]>,
        authority: Option<&str>,
    ) -> PyResult<PyGateOutcome> {
        let view = request_view(
            method,
            target,
            &headers,
            body.unwrap_or_default(),
            authority,
        )?;
        let gate = &self.0;
        let result = py.detach(|| match view {
            Ok(view) => gate.admit(&view),
            Err(e) => Err(Refusal::NotVerified(e)),
        });
        Ok(outcome(result))
    }

    /// Like `check`, but raises the `kya.errors` class of the first reason's code (with
    /// `status`, `reasons` and `problem`) when the request is refused.
    #[pyo3(signature = (method, target, headers, body=None, *, authority=None))]
    fn admit(
        &self,
        py: Python<'_>,
        method: &str,
        target: &str,
        headers: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)>,
        body: Option<&[u8]>,
        authority: Option<&str>,
    ) -> PyResult<PyGateOutcome> {
        let outcome = self.check(py, method, target, headers, body, authority)?;
        if outcome.admitted {
            return Ok(outcome);
        }
        let first = outcome.reasons.first().cloned();
        let mut failure = crate::errors::Failure::plain(
            "VerificationError",
            first
                .as_ref()
                .map_or_else(String::new, |r| r.message.clone()),
        );
        failure.code = first.as_ref().and_then(|r| r.code.parse().ok());
        failure.link = first.as_ref().and_then(|r| r.link);
        failure.status = Some(outcome.status);
        let err: PyErr = failure.into();
        let value = err.value(py);
        value.setattr("problem", outcome.problem_dict(py)?)?;
        value.setattr("reasons", outcome.reasons.clone())?;
        Err(err)
    }

    /// Registers a chain for later requests by `KYA-Chain-Digest`: the body is the chain,
    /// signed by its own agent (transport `"body"`). Returns the chain digest.
    #[pyo3(signature = (method, target, headers, body=None, *, authority=None))]
    fn register_chain(
        &self,
        py: Python<'_>,
        method: &str,
        target: &str,
        headers: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)>,
        body: Option<&[u8]>,
        authority: Option<&str>,
    ) -> PyResult<String> {
        let view = request_view(
            method,
            target,
            &headers,
            body.unwrap_or_default(),
            authority,
        )?
        .map_err(|e| http_error(&e))?;
        let gate = &self.0;
        py.detach(|| gate.register_chain(&view))
            .map(|(_, digest)| digest.to_string())
            .map_err(|e| http_error(&e))
    }
}

fn outcome(result: Result<kya_verify::http::Admitted, Refusal>) -> PyGateOutcome {
    match result {
        Ok(a) => PyGateOutcome {
            admitted: true,
            status: 200,
            problem: None,
            reasons: Vec::new(),
            action: Some(a.decision.request().action.to_string()),
            amount: a.signature.amount.as_ref().map(ToString::to_string),
            nonce: Some(a.signature.nonce.clone()),
            agent: Some(PyVerifiedAgent(a.agent)),
            decision: Some(PyDecision(a.decision)),
        },
        Err(refusal) => {
            let (agent, decision) = match &refusal {
                Refusal::Denied { agent, decision } => (
                    Some(PyVerifiedAgent((**agent).clone())),
                    Some(PyDecision((**decision).clone())),
                ),
                Refusal::NotVerified(_) => (None, None),
            };
            PyGateOutcome {
                admitted: false,
                status: refusal.status(),
                problem: Some(refusal.problem_details().to_string()),
                reasons: refusal
                    .reasons()
                    .iter()
                    .map(|r| PyReason {
                        code: r.code.as_str(),
                        link: r.link,
                        grant: r.grant,
                        message: r.message.clone(),
                    })
                    .collect(),
                action: decision.as_ref().map(|d| d.0.request().action.to_string()),
                amount: None,
                nonce: None,
                agent,
                decision,
            }
        }
    }
}
