//! The merchant's side: the policy, registry snapshots, the one `Verifier`, decisions with
//! their reasons and stable codes, and the HTTP gate edge handlers run.

use std::sync::Arc;

use kya_core::grant::{Action, Request};
use kya_verify::http::{HttpError, HttpPolicy, HttpRequest, KyaGate, Refusal, Route};
use kya_verify::snapshot::Snapshot;
use kya_verify::{Decision, FixedClock, MemoryLedger, Policy, Reason, VerifiedAgent, Verifier};
use wasm_bindgen::prelude::*;

use crate::credentials::{JsonInput, money};
use crate::errors::{config_error, grant_error, http_error, input_error, verify_error};
use crate::js::{
    bool_field, field, items, json_bytes, object, opt_index, parse, strict_value, string_field,
    strings, timestamp, u64_field,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_VERIFY: &'static str = r#"
type KyaCode = import("../errors.js").KyaCode;
/** One reason of a decision or refusal. */
export interface Reason {
  code: KyaCode;
  /** The chain link (0 = root), or null. */
  link: number | null;
  /** The grant of that link, or null. */
  grant: number | null;
  message: string;
}
export interface VerifierOptions {
  /** Fixes the clock (tests, audits at a past time). */
  now?: KyaTime;
  /** Meter budgets and rates in memory (default true; without a ledger a request with
   * such obligations is denied with ledger_required). */
  ledger?: boolean;
  /** A registry snapshot (`kya registry sync`'s JSON). */
  snapshot?: string | Uint8Array | object;
}
export interface DecideOptions {
  amount?: string;
  audience?: string;
  resource?: string;
  /** The request's time (default: the verifier's now). Credential and grant windows must
   * hold at the verifier's now as well: a time taken from the agent cannot revive an
   * expired grant. */
  time?: KyaTime;
}
export interface Route {
  /** Any method when absent. */
  method?: string;
  /** A path prefix. */
  path: string;
  action: string;
}
export interface GateOptions {
  routes: Route[];
  /** The host(s) agents sign for (default: the policy's did:web audience's host). */
  authority?: string | string[];
  /** Default "https". */
  scheme?: string;
  /** Judge an unmapped path on the agent's KYA-Action. */
  allowDeclaredActions?: boolean;
  /** Default 1 MiB (the Rust middleware's): a larger body is refused with 413. */
  maxBodyBytes?: number;
}
/** RFC 9457 problem details, as the Rust middleware answers. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  reasons: Array<{ code: KyaCode; link: number | null; grant?: number; message: string }>;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// Verifier options.
    #[wasm_bindgen(typescript_type = "VerifierOptions")]
    pub type VerifierOptions;
    /// Decision options.
    #[wasm_bindgen(typescript_type = "DecideOptions")]
    pub type DecideOptions;
    /// Gate options.
    #[wasm_bindgen(typescript_type = "GateOptions")]
    pub type GateOptions;
    /// Reasons.
    #[wasm_bindgen(typescript_type = "Reason[]")]
    pub type Reasons;
    /// Headers as `[name, value]` pairs.
    #[wasm_bindgen(typescript_type = "Array<[string, string]>")]
    pub type HeaderPairs;
    /// Problem details.
    #[wasm_bindgen(typescript_type = "Problem")]
    pub type ProblemObject;
}

/// A verifier policy (`trustedRoots`, `audience`, `clockSkewSeconds`, limits, …): the JSON
/// `kya verify --policy` reads, strictly (unknown members refused).
#[wasm_bindgen(js_name = Policy)]
pub struct JsPolicy(pub(crate) Policy);

#[wasm_bindgen(js_class = Policy)]
impl JsPolicy {
    /// Reads a policy: JSON text, bytes or an object.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(value: JsonInput) -> Result<JsPolicy, JsValue> {
        Policy::from_json(&json_bytes(&value)?)
            .map(Self)
            .map_err(config_error)
    }

    /// The policy as JSON text.
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> String {
        self.0.to_json_value().to_string()
    }

    /// The audience presentations must name, if any.
    #[wasm_bindgen(getter)]
    pub fn audience(&self) -> Option<String> {
        self.0.audience().map(str::to_owned)
    }

    /// The trusted root principals.
    #[wasm_bindgen(getter, js_name = trustedRoots)]
    pub fn trusted_roots(&self) -> Vec<String> {
        self.0
            .trusted_roots()
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

/// An offline view of the registry at one block (`kya registry sync` writes it).
#[wasm_bindgen(js_name = Snapshot)]
pub struct JsSnapshot(pub(crate) Arc<Snapshot>);

#[wasm_bindgen(js_class = Snapshot)]
impl JsSnapshot {
    /// Reads a snapshot (JSON text or bytes), checking its bounds and form.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(value: JsonInput) -> Result<JsSnapshot, JsValue> {
        snapshot_of(&value).map(Self)
    }

    /// The EIP-155 chain id (decimal).
    #[wasm_bindgen(getter, js_name = chainId)]
    pub fn chain_id(&self) -> String {
        self.0.chain_id().to_string()
    }

    /// The block number the snapshot reflects (decimal).
    #[wasm_bindgen(getter, js_name = blockNumber)]
    pub fn block_number(&self) -> String {
        self.0.block().number.to_string()
    }

    /// How many agents it holds.
    #[wasm_bindgen(getter, js_name = agentCount)]
    pub fn agent_count(&self) -> usize {
        self.0.agent_count()
    }
}

fn snapshot_of(value: &JsValue) -> Result<Arc<Snapshot>, JsValue> {
    Snapshot::load(&json_bytes(value)?)
        .map(Arc::new)
        .map_err(config_error)
}

/// One reason, as JavaScript sees it.
#[derive(Clone)]
struct ReasonView {
    code: kya_verify::Code,
    link: Option<usize>,
    grant: Option<usize>,
    message: String,
}

impl From<&Reason> for ReasonView {
    fn from(r: &Reason) -> Self {
        Self {
            code: r.code,
            link: r.link,
            grant: r.grant,
            message: r.message.clone(),
        }
    }
}

impl From<&ReasonView> for ReasonView {
    fn from(r: &ReasonView) -> Self {
        r.clone()
    }
}

impl From<&kya_verify::http::ProblemReason> for ReasonView {
    fn from(r: &kya_verify::http::ProblemReason) -> Self {
        Self {
            code: r.code,
            link: r.link,
            grant: r.grant,
            message: r.message.clone(),
        }
    }
}

fn reasons<'a, R: 'a>(list: impl IntoIterator<Item = &'a R>) -> Reasons
where
    ReasonView: From<&'a R>,
{
    let array = js_sys::Array::new();
    for r in list {
        let r = ReasonView::from(r);
        array.push(&object(&[
            ("code", r.code.as_str().into()),
            ("link", opt_index(r.link)),
            ("grant", opt_index(r.grant)),
            ("message", r.message.into()),
        ]));
    }
    array.unchecked_into()
}

/// An agent whose chain verified: who it is, whom it represents, what it may do, until when.
#[wasm_bindgen(js_name = VerifiedAgent)]
#[derive(Clone)]
pub struct JsVerifiedAgent(pub(crate) VerifiedAgent);

#[wasm_bindgen(js_class = VerifiedAgent)]
impl JsVerifiedAgent {
    /// The agent's `did:key` (the chain leaf's subject).
    #[wasm_bindgen(getter)]
    pub fn agent(&self) -> String {
        self.0.agent().to_string()
    }

    /// The principal it acts for (the root's issuer: `did:key` or `did:pkh`).
    #[wasm_bindgen(getter)]
    pub fn principal(&self) -> String {
        self.0.principal().to_string()
    }

    /// The chain's digest (`u…`).
    #[wasm_bindgen(getter, js_name = chainDigest)]
    pub fn chain_digest(&self) -> String {
        self.0.chain_digest().to_string()
    }

    /// How many links the chain has.
    #[wasm_bindgen(getter)]
    pub fn depth(&self) -> usize {
        self.0.chain().len()
    }

    /// When the chain stops holding (the earliest `validUntil`).
    #[wasm_bindgen(getter, js_name = validUntil)]
    pub fn valid_until(&self) -> String {
        self.0.valid_until().to_string()
    }

    /// Whether registry facts were checked against a snapshot.
    #[wasm_bindgen(getter, js_name = registryChecked)]
    pub fn registry_checked(&self) -> bool {
        self.0.registry_checked()
    }

    /// The whole verified agent as an object (chain links, grants, registration facts).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json_object(&self) -> Result<JsValue, JsValue> {
        parse(&serde_json::to_string(&self.0).map_err(input_error)?)
    }
}

/// A decision: allow, or deny with every reason.
#[wasm_bindgen(js_name = Decision)]
#[derive(Clone)]
pub struct JsDecision(pub(crate) Decision);

#[wasm_bindgen(js_class = Decision)]
impl JsDecision {
    /// Whether the request is allowed.
    #[wasm_bindgen(getter)]
    pub fn allowed(&self) -> bool {
        self.0.is_allowed()
    }

    /// Every reason (empty when allowed).
    #[wasm_bindgen(getter)]
    pub fn reasons(&self) -> Reasons {
        reasons(self.0.reasons())
    }

    /// The distinct codes of the reasons, in kya's order.
    #[wasm_bindgen(getter)]
    pub fn codes(&self) -> Vec<String> {
        self.0
            .codes()
            .into_iter()
            .map(|c| c.as_str().to_owned())
            .collect()
    }

    /// The grant of the agent's own credential that allowed it, when allowed.
    #[wasm_bindgen(getter, js_name = allowedBy)]
    pub fn allowed_by(&self) -> Option<usize> {
        self.0.links().last().and_then(|l| l.allowed_by)
    }

    /// A readable explanation, one line per link.
    pub fn explain(&self) -> String {
        self.0.explain()
    }

    /// The decision as an object (`kya verify --json`'s form).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json_object(&self) -> Result<JsValue, JsValue> {
        parse(&serde_json::to_string(&self.0).map_err(input_error)?)
    }
}

/// The one verifier every way in passes through: its policy, clock, registry view, nonce
/// store, ledger and cache.
#[wasm_bindgen(js_name = Verifier)]
pub struct JsVerifier(pub(crate) Arc<Verifier>);

#[wasm_bindgen(js_class = Verifier)]
impl JsVerifier {
    /// A verifier for `policy`: `now` fixes the clock, `ledger` (default `true`) meters
    /// budgets and rates in memory, `snapshot` judges registry facts.
    #[wasm_bindgen(constructor)]
    pub fn new(policy: &JsPolicy, options: Option<VerifierOptions>) -> Result<JsVerifier, JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let mut verifier = Verifier::new(policy.0.clone());
        if let Some(at) = field(&options, "now")? {
            verifier = verifier.with_clock(Arc::new(FixedClock::new(timestamp(&at)?)));
        }
        if let Some(s) = field(&options, "snapshot")? {
            verifier = verifier.with_registry(snapshot_of(&s)?);
        }
        if bool_field(&options, "ledger")?.unwrap_or(true) {
            verifier = verifier.with_ledger(Arc::new(MemoryLedger::default()));
        }
        Ok(Self(Arc::new(verifier)))
    }

    /// The verifier's current time (RFC 3339).
    #[wasm_bindgen(getter)]
    pub fn now(&self) -> String {
        self.0.now().to_string()
    }

    /// Verifies a credential chain (JSON array, root first): throws the `VerificationError`
    /// of its code when it does not verify.
    #[wasm_bindgen(js_name = verifyChain)]
    pub fn verify_chain(&self, chain: JsonInput) -> Result<JsVerifiedAgent, JsValue> {
        self.0
            .verify_chain(&json_bytes(&chain)?)
            .map(JsVerifiedAgent)
            .map_err(|e| verify_error(&e))
    }

    /// Verifies a signed presentation (and its nonce, once), with `challenge` when the
    /// merchant issued one.
    #[wasm_bindgen(js_name = verifyPresentation)]
    pub fn verify_presentation(
        &self,
        presentation: JsonInput,
        challenge: Option<String>,
    ) -> Result<JsVerifiedAgent, JsValue> {
        let bytes = json_bytes(&presentation)?;
        match &challenge {
            Some(c) => self.0.verify_presentation_with_challenge(&bytes, c),
            None => self.0.verify_presentation(&bytes),
        }
        .map(JsVerifiedAgent)
        .map_err(|e| verify_error(&e))
    }

    /// Decides whether `agent` may perform `action`, charging the ledger when allowed.
    pub fn decide(
        &self,
        agent: &JsVerifiedAgent,
        action: &str,
        options: Option<DecideOptions>,
    ) -> Result<JsDecision, JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let time = match field(&options, "time")? {
            Some(t) => timestamp(&t)?,
            None => self.0.now(),
        };
        let mut request = Request::new(Action::parse(action).map_err(grant_error)?, time);
        if let Some(m) = string_field(&options, "amount")? {
            let m = money(&m)?;
            request = request.with_amount(m.value, m.asset);
        }
        if let Some(a) = string_field(&options, "audience")? {
            request = request.with_audience(a);
        }
        if let Some(r) = string_field(&options, "resource")? {
            request = request.with_resource(r);
        }
        self.0
            .decide(&agent.0, &request)
            .map(JsDecision)
            .map_err(|e| verify_error(&e))
    }

    /// Decides on a request in its JSON form (`{"action", "amount": {"value", "asset"},
    /// "audience", "resource", "time"}`), as test-vectors/kya/requests.json writes it.
    #[wasm_bindgen(js_name = decideJson)]
    pub fn decide_json(
        &self,
        agent: &JsVerifiedAgent,
        request: JsonInput,
    ) -> Result<JsDecision, JsValue> {
        let request = Request::from_json_value(&strict_value(&request)?).map_err(grant_error)?;
        self.0
            .decide(&agent.0, &request)
            .map(JsDecision)
            .map_err(|e| verify_error(&e))
    }
}

/// What the gate made of one request: admitted (with the agent, the decision and the signed
/// amount), or refused with the status and problem JSON the Rust middleware answers.
#[wasm_bindgen(js_name = GateOutcome)]
pub struct JsGateOutcome {
    admitted: bool,
    status: u16,
    problem: Option<String>,
    reasons: Vec<ReasonView>,
    agent: Option<JsVerifiedAgent>,
    decision: Option<JsDecision>,
    action: Option<String>,
    amount: Option<String>,
    nonce: Option<String>,
}

#[wasm_bindgen(js_class = GateOutcome)]
impl JsGateOutcome {
    /// Whether the request is admitted.
    #[wasm_bindgen(getter)]
    pub fn admitted(&self) -> bool {
        self.admitted
    }

    /// 200 when admitted, else 401 / 403 / 400 / 413 / 429 / 503.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The RFC 9457 problem-details JSON text of a refusal.
    #[wasm_bindgen(getter)]
    pub fn problem(&self) -> Option<String> {
        self.problem.clone()
    }

    /// The problem details as an object (`undefined` when admitted).
    #[wasm_bindgen(js_name = problemObject)]
    pub fn problem_object(&self) -> Result<Option<ProblemObject>, JsValue> {
        self.problem
            .as_deref()
            .map(|p| parse(p).map(JsCast::unchecked_into))
            .transpose()
    }

    /// Every reason of a refusal.
    #[wasm_bindgen(getter)]
    pub fn reasons(&self) -> Reasons {
        reasons(&self.reasons)
    }

    /// The stable codes of a refusal, in order.
    #[wasm_bindgen(getter)]
    pub fn codes(&self) -> Vec<String> {
        self.reasons
            .iter()
            .map(|r| r.code.as_str().to_owned())
            .collect()
    }

    /// The verified agent (admitted, or verified but denied).
    #[wasm_bindgen(getter)]
    pub fn agent(&self) -> Option<JsVerifiedAgent> {
        self.agent.clone()
    }

    /// The decision (admitted, or denied).
    #[wasm_bindgen(getter)]
    pub fn decision(&self) -> Option<JsDecision> {
        self.decision.clone()
    }

    /// The action decided on.
    #[wasm_bindgen(getter)]
    pub fn action(&self) -> Option<String> {
        self.action.clone()
    }

    /// The signed `KYA-Amount`, when sent.
    #[wasm_bindgen(getter)]
    pub fn amount(&self) -> Option<String> {
        self.amount.clone()
    }

    /// The signature's nonce, when it verified.
    #[wasm_bindgen(getter)]
    pub fn nonce(&self) -> Option<String> {
        self.nonce.clone()
    }
}

/// Header text as the gate reads it: visible ASCII (and tabs) only.
fn visible(text: &str) -> bool {
    text.bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

fn judged_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("kya-")
        || matches!(
            name.as_str(),
            "signature" | "signature-input" | "content-digest" | "host"
        )
}

/// The request view, as the Rust middleware builds it: a judged header that is not
/// visible ASCII refuses the request; any other such header is left out (no signature can
/// cover it).
fn request_view(
    method: &str,
    authority: &str,
    target: &str,
    headers: &JsValue,
    body: Vec<u8>,
) -> Result<Result<HttpRequest, HttpError>, JsValue> {
    let mut pairs = Vec::new();
    for pair in items(headers, "headers")? {
        let pair = strings(&pair, "a header")?;
        let [name, value] = <[String; 2]>::try_from(pair)
            .map_err(|_| input_error("a header is a [name, value] pair"))?;
        if !visible(&name) {
            continue;
        }
        if visible(&value) {
            pairs.push((name, value));
        } else if judged_header(&name) {
            return Ok(Err(HttpError::HeaderInvalid {
                name,
                detail: "not visible ascii".to_owned(),
            }));
        }
    }
    let mut view = HttpRequest::new(method, authority, target);
    view.headers = pairs;
    view.body = body;
    Ok(Ok(view))
}

/// The merchant's gate: the verifier, plus what only HTTP knows (its authorities, the
/// scheme, routes from method and path to actions).
#[wasm_bindgen(js_name = Gate)]
pub struct JsGate {
    gate: Arc<KyaGate>,
    max_body_bytes: usize,
}

/// The Rust middleware's default body bound (`kya_verify::middleware::DEFAULT_MAX_BODY_BYTES`).
const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

#[wasm_bindgen(js_class = Gate)]
impl JsGate {
    /// A gate for `verifier`.
    #[wasm_bindgen(constructor)]
    pub fn new(verifier: &JsVerifier, options: GateOptions) -> Result<JsGate, JsValue> {
        let options: JsValue = options.into();
        let mut http = HttpPolicy::default()
            .scheme(string_field(&options, "scheme")?.unwrap_or_else(|| "https".into()))
            .allow_declared_actions(bool_field(&options, "allowDeclaredActions")?.unwrap_or(false));
        if let Some(a) = field(&options, "authority")? {
            for one in strings(&a, "authority")? {
                http = http.authority(one);
            }
        }
        let routes =
            field(&options, "routes")?.ok_or_else(|| input_error("`routes` is required"))?;
        for route in items(&routes, "routes")? {
            let path = string_field(&route, "path")?
                .ok_or_else(|| input_error("a route needs its `path`"))?;
            let action = string_field(&route, "action")?
                .ok_or_else(|| input_error("a route needs its `action`"))?;
            let mut r = Route::new(path, Action::parse(&action).map_err(grant_error)?);
            if let Some(m) = string_field(&route, "method")? {
                r = r.method(m);
            }
            http = http.route(r);
        }
        let max_body_bytes = u64_field(&options, "maxBodyBytes")?
            .map_or(Ok(DEFAULT_MAX_BODY_BYTES), usize::try_from)
            .map_err(input_error)?;
        Ok(Self {
            gate: Arc::new(KyaGate::new(verifier.0.clone(), http)),
            max_body_bytes,
        })
    }

    /// The largest body `check` reads (bytes); `checkRequest` stops reading past it.
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Verifies and decides on one request: `method`, `authority` (the host it was sent
    /// to), `target` (path and query as sent), `headers` (`[name, value]` pairs), `body`.
    /// Never throws for a refusal: the outcome carries the status and problem JSON.
    pub fn check(
        &self,
        method: &str,
        authority: &str,
        target: &str,
        headers: HeaderPairs,
        body: Option<Vec<u8>>,
    ) -> Result<JsGateOutcome, JsValue> {
        let body = body.unwrap_or_default();
        let result = if body.len() > self.max_body_bytes {
            Err(Refusal::NotVerified(HttpError::BodyTooLarge {
                max_bytes: self.max_body_bytes,
            }))
        } else {
            match request_view(method, authority, target, &headers, body)? {
                Ok(view) => self.gate.admit(&view),
                Err(e) => Err(Refusal::NotVerified(e)),
            }
        };
        Ok(outcome(result))
    }

    /// The refusal of a request whose body is larger than `maxBodyBytes` (413), for a
    /// caller that stopped reading it there.
    #[wasm_bindgen(js_name = bodyTooLarge)]
    pub fn body_too_large(&self) -> JsGateOutcome {
        outcome(Err(Refusal::NotVerified(HttpError::BodyTooLarge {
            max_bytes: self.max_body_bytes,
        })))
    }

    /// Registers a chain for later requests by `KYA-Chain-Digest`: the body is the chain,
    /// signed by its own agent (transport `"body"`). Returns the chain digest.
    #[wasm_bindgen(js_name = registerChain)]
    pub fn register_chain(
        &self,
        method: &str,
        authority: &str,
        target: &str,
        headers: HeaderPairs,
        body: Option<Vec<u8>>,
    ) -> Result<String, JsValue> {
        let view = request_view(
            method,
            authority,
            target,
            &headers,
            body.unwrap_or_default(),
        )?
        .map_err(|e| http_error(&e))?;
        self.gate
            .register_chain(&view)
            .map(|(_, digest)| digest.to_string())
            .map_err(|e| http_error(&e))
    }
}

fn outcome(result: Result<kya_verify::http::Admitted, Refusal>) -> JsGateOutcome {
    match result {
        Ok(a) => JsGateOutcome {
            admitted: true,
            status: 200,
            problem: None,
            reasons: Vec::new(),
            action: Some(a.decision.request().action.to_string()),
            amount: a.signature.amount.as_ref().map(ToString::to_string),
            nonce: Some(a.signature.nonce.clone()),
            agent: Some(JsVerifiedAgent(a.agent)),
            decision: Some(JsDecision(a.decision)),
        },
        Err(refusal) => {
            let (agent, decision) = match &refusal {
                Refusal::Denied { agent, decision } => (
                    Some(JsVerifiedAgent((**agent).clone())),
                    Some(JsDecision((**decision).clone())),
                ),
                Refusal::NotVerified(_) => (None, None),
            };
            let reasons = refusal.reasons().iter().map(ReasonView::from).collect();
            JsGateOutcome {
                admitted: false,
                status: refusal.status(),
                problem: Some(refusal.problem_details().to_string()),
                reasons,
                action: decision.as_ref().map(|d| d.0.request().action.to_string()),
                amount: None,
                nonce: None,
                agent,
                decision,
            }
        }
    }
}
