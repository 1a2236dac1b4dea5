//! `kya present`, `kya sign-request`, `kya verify` and `kya explain`: the agent's and the
//! merchant's (or auditor's) side of kya-verify from the shell.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, ValueEnum};
use kya_core::credential::UnverifiedCredential;
use kya_core::grant::{Action, Money, Request};
use kya_core::json::{JsonLimits, parse_strict};
use kya_core::{CredentialDigest, Timestamp};
use kya_verify::http::{
    AdmitError, Admitted, ChainTransport, HttpError, HttpPolicy, HttpRequest, KyaGate, Refusal,
    RequestSigner, Route, SignOptions, parse_amount_header,
};
use kya_verify::snapshot::Snapshot;
use kya_verify::{
    Clock, Code, Decision, FixedClock, MemoryLedger, Policy, RegistryView, SystemClock,
    VerifiedAgent, Verifier, VerifyError,
};
use serde_json::{Map, Value, json};

use kya_x402::{
    KnownToken, PAYMENT_REQUIRED, PAYMENT_RESPONSE, PAYMENT_SIGNATURE, PaymentRequired,
    choose_requirements, create_payment,
};

use crate::io::{self, read_input, read_json, write_json};

/// `kya present`.
#[derive(Args, Debug)]
pub(crate) struct PresentArgs {
    /// The agent's key (Multikey file): the chain leaf's subject.
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The credential chain (JSON array, root first; or a single credential).
    #[arg(long, value_name = "FILE")]
    chain: PathBuf,
    /// The audience (the merchant's identifier, e.g. did:web:shop.example).
    #[arg(long, value_name = "A")]
    audience: String,
    /// The nonce (the merchant's challenge).
    #[arg(long, value_name = "N")]
    nonce: String,
    /// How long the presentation is valid: e.g. 60s, 5m (default 300s).
    #[arg(long, value_name = "DURATION", value_parser = io::parse_duration, default_value = "300s")]
    expires_in: i64,
    /// Creation time, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    created: Option<Timestamp>,
}

/// How `sign-request` carries the chain.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum Transport {
    /// Inline while the KYA-Chain header stays under 6 KiB, else by digest.
    Auto,
    /// Always inline (KYA-Chain).
    Inline,
    /// Always by digest (KYA-Chain-Digest): the merchant must already have the chain.
    Digest,
    /// As the body (a chain registration call, e.g. the example merchant's POST /kya/chains).
    Body,
}

/// `kya sign-request`.
#[derive(Args, Debug)]
pub(crate) struct SignRequestArgs {
    /// The agent's key (Multikey file): the chain leaf's subject.
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The credential chain (JSON array, root first; or a single credential).
    #[arg(long, value_name = "FILE")]
    chain: PathBuf,
    /// The HTTP method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// The absolute URL (http:// or https://).
    #[arg(long)]
    url: String,
    /// The body (a file; `-` for standard input). Default: empty.
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
    /// The action asked for (sent as the signed KYA-Action header).
    #[arg(long, value_name = "ACTION")]
    action: Option<Action>,
    /// The amount (sent as the signed KYA-Amount header), e.g. "12.50 USD".
    #[arg(long, value_name = "AMOUNT", value_parser = parse_money)]
    amount: Option<Money>,
    /// How long the signature is valid: e.g. 60s, 5m (default 60s).
    #[arg(long, value_name = "DURATION", value_parser = io::parse_duration, default_value = "60s")]
    expires_in: i64,
    /// Creation time, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    created: Option<Timestamp>,
    /// The nonce (default: 64 random bytes, base64).
    #[arg(long)]
    nonce: Option<String>,
    /// How the chain travels.
    #[arg(long, value_enum, default_value = "auto")]
    chain_transport: Transport,
    /// Send `Signature-Agent` with this https URL (where the agent's keys are published,
    /// for Web Bot Auth verifiers) and sign it.
    #[arg(long, value_name = "URL")]
    signature_agent: Option<String>,
    /// Print the whole signed request as JSON (which `kya verify` reads) instead of the
    /// headers.
    #[arg(long, conflicts_with = "send")]
    json: bool,
    /// Send the request to --url and print the response (http:// only; for https, print the
    /// headers and use another client).
    #[arg(long)]
    send: bool,
    /// Pay with x402: a file holding the `PAYMENT-REQUIRED` header of the merchant's 402.
    /// The first requirements the chain leaf's grants allow (for --action, default
    /// `payments/send`, at `did:web:<host>`) are signed as an EIP-3009 authorization with the
    /// wallet key (--eth-key-file, else the environment variable) and sent in
    /// `PAYMENT-SIGNATURE` beside the kya signature.
    #[arg(long, value_name = "FILE", help_heading = "x402 payment")]
    payment_required: Option<PathBuf>,
    /// With --send: when the merchant answers 402 with `PAYMENT-REQUIRED`, pay it (as
    /// --payment-required does) and send the request again, freshly signed.
    #[arg(long, requires = "send", help_heading = "x402 payment")]
    pay: bool,
    /// The merchant's DID the grants' audience must allow (default `did:web:<host>` of --url).
    #[arg(long, value_name = "DID", help_heading = "x402 payment")]
    pay_audience: Option<String>,
    /// The decimals of the token the requirements name (x402 requirements carry none).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 6,
        help_heading = "x402 payment"
    )]
    token_decimals: u8,
    #[command(flatten, next_help_heading = "x402 payment")]
    wallet: crate::registry_cmds::EthKey,
}

/// `kya verify` and `kya explain`.
#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// A chain (JSON array), a credential, a presentation, or a signed request (as printed
    /// by `kya sign-request --json`). Default: standard input.
    file: Option<PathBuf>,
    /// The verifier policy (JSON: trustedRoots, audience, clockSkewSeconds, …).
    #[arg(long, value_name = "POLICY.json")]
    policy: PathBuf,
    /// A registry snapshot to check registrations, key bindings and revocations against.
    #[arg(long, value_name = "SNAP.json")]
    snapshot: Option<PathBuf>,
    /// A directory of status list credentials (W3C Bitstring Status List), each verified on
    /// load, to check the links' `credentialStatus` entries against. Without it, a link that
    /// names a status list is refused.
    #[arg(long, value_name = "DIR")]
    status_lists: Option<PathBuf>,
    /// The agent card found at an `agentURI`, `URI=FILE`; repeatable. A policy with
    /// `requireAgentCards` refuses a registered agent whose card is not given, does not name
    /// its registration, or is inactive.
    #[arg(long, value_name = "URI=FILE", value_parser = parse_card_arg)]
    agent_card: Vec<(String, PathBuf)>,
    /// A signed reputation attestation about the agent (`kya attest`); repeatable. Combined
    /// with on-chain feedback from the policy's trusted raters and held to its
    /// `minReputation`.
    #[arg(long, value_name = "FILE")]
    attestation: Vec<PathBuf>,
    /// A request to decide on (JSON: action, amount, audience, resource, time). For a
    /// signed request, the default is what its headers say.
    #[arg(long, value_name = "REQUEST.json")]
    request: Option<PathBuf>,
    /// Verify as of this instant, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<Timestamp>,
    /// For a signed request: an authority (host or host:port) this merchant answers to;
    /// repeatable. Default: the host of the policy's did:web audience. A request signed for
    /// any other authority is refused.
    #[arg(long, value_name = "HOST")]
    authority: Vec<String>,
    /// For a signed request: a route, `[METHOD ]PATH=ACTION` (e.g. `POST /pay=payments/send`);
    /// repeatable. A path no route maps is refused unless --declared-actions.
    #[arg(long, value_name = "ROUTE", value_parser = parse_route)]
    route: Vec<Route>,
    /// For a signed request: let a path no route maps perform the action the agent declares
    /// in its signed KYA-Action header.
    #[arg(long)]
    declared_actions: bool,
    /// The merchant fleet's Redis (`redis://host:port`, or `redis+cluster://h:p,h:p,…`):
    /// nonces and budgets are checked and recorded there, as every instance of the fleet
    /// does (a request the fleet already admitted is a replay; its charges count). Default:
    /// an empty in-memory ledger and nonce store (this request alone).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// The fleet's namespace in Redis. Default: the first --authority, else the host of the
    /// policy's did:web audience.
    #[arg(long, value_name = "NAME", requires = "redis")]
    redis_namespace: Option<String>,
    /// Print JSON.
    /// For a signed request: sign a receipt of the decision with the merchant's receipt key
    /// and append it to the receipt log in DIR (created when absent); see `kya audit`.
    #[arg(long, value_name = "DIR", requires = "receipt_key")]
    receipts: Option<PathBuf>,
    /// The merchant's receipt key (Multikey file), for --receipts.
    #[arg(long, value_name = "FILE", requires = "receipts")]
    receipt_key: Option<PathBuf>,
    /// The receipt log's origin (its name). Default: `<host of the did:web audience>/kya/receipts`.
    #[arg(long, value_name = "NAME", requires = "receipts")]
    receipt_origin: Option<String>,
    #[arg(long)]
    json: bool,
}

/// The nonce store and ledger on the fleet's Redis (one store: a signed request's nonce and
/// its charges are one script, one round trip), when `--redis` names one.
fn fleet_stores(args: &VerifyArgs, policy: &Policy) -> Result<Option<Arc<kya_redis::RedisStores>>> {
    let Some(url) = &args.redis else {
        return Ok(None);
    };
    let namespace = args
        .redis_namespace
        .clone()
        .or_else(|| args.authority.first().cloned())
        .or_else(|| {
            policy
                .audience()
                .and_then(|a| a.strip_prefix("did:web:"))
                .map(|host| host.replace("%3A", ":"))
        })
        .context("--redis needs --redis-namespace (or --authority, or a did:web audience)")?;
    let config = kya_redis::RedisConfig::from_url(url, &namespace)?;
    Ok(Some(Arc::new(kya_redis::RedisStores::new(
        config,
        kya_verify::NonceQuotas::default(),
        100_000,
    )?)))
}

fn parse_route(s: &str) -> Result<Route, String> {
    let (lhs, action) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("`{s}`: expected `[METHOD ]PATH=ACTION`"))?;
    let action = Action::parse(action.trim()).map_err(|e| format!("`{s}`: {e}"))?;
    let route = match lhs.trim().split_once(' ') {
        Some((method, path)) => Route::new(path.trim(), action).method(method.trim()),
        None => Route::new(lhs.trim(), action),
    };
    if !route.path_prefix.starts_with('/') {
        return Err(format!("`{s}`: the path must start with /"));
    }
    Ok(route)
}

fn parse_card_arg(s: &str) -> Result<(String, PathBuf), String> {
    // The URI may itself contain `=`: the file is after the last one.
    match s.rsplit_once('=') {
        Some((uri, file)) if !uri.is_empty() && !file.is_empty() => {
            Ok((uri.to_owned(), PathBuf::from(file)))
        }
        _ => Err(format!("`{s}`: expected URI=FILE")),
    }
}

fn parse_money(s: &str) -> Result<Money, String> {
    parse_amount_header(s).map_err(|e| e.to_string())
}

pub(crate) fn present(args: PresentArgs) -> Result<ExitCode> {
    let secret = io::read_secret_key(&args.key)?;
    let chain = io::read_documents(Some(&args.chain))?;
    let created = args.created.unwrap_or_else(Timestamp::now);
    let presentation = kya_verify::present(
        &chain,
        &secret,
        &kya_verify::PresentationOptions {
            audience: args.audience,
            nonce: args.nonce,
            created,
            expires: created.add_seconds(args.expires_in),
        },
    )?;
    write_json(&presentation)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn sign_request(args: SignRequestArgs) -> Result<ExitCode> {
    let secret = io::read_secret_key(&args.key)?;
    let chain = Value::Array(io::read_documents(Some(&args.chain))?);
    let transport = match args.chain_transport {
        Transport::Auto => ChainTransport::Auto,
        Transport::Inline => ChainTransport::Inline,
        Transport::Digest => ChainTransport::Digest,
        Transport::Body => ChainTransport::Body,
    };
    let mut signer = RequestSigner::new(&secret, &chain)?.transport(transport);
    if let Some(url) = &args.signature_agent {
        signer = signer.signature_agent(url)?;
    }
    let (scheme, mut base) = HttpRequest::from_url(&args.method, &args.url)?;
    if let Some(body) = &args.body {
        base.body = read_input(Some(body))?;
    }
    let created = args.created.unwrap_or_else(Timestamp::now);
    // Signs a copy of the request (with `nonce`), carrying `payment` in PAYMENT-SIGNATURE.
    let sign =
        |nonce: &str, payment: Option<String>| -> Result<(HttpRequest, Vec<(String, String)>)> {
            let mut request = base.clone();
            let mut signed = signer.sign(
                &mut request,
                &SignOptions {
                    action: args.action.as_ref(),
                    amount: args.amount.as_ref(),
                    created,
                    expires: created.add_seconds(args.expires_in),
                    nonce,
                },
            )?;
            if let Some(p) = payment {
                request
                    .headers
                    .push((PAYMENT_SIGNATURE.to_owned(), p.clone()));
                signed.headers.push((PAYMENT_SIGNATURE.to_owned(), p));
            }
            if !signed.chain_inline && !matches!(args.chain_transport, Transport::Body) {
                eprintln!(
                    "kya: the chain goes by digest ({}): the merchant must already have it",
                    signer.chain_digest_header()
                );
            }
            Ok((request, signed.headers))
        };
    let payment = match &args.payment_required {
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!("reading the PAYMENT-REQUIRED header {}", file.display())
            })?;
            Some(x402_payment(&args, &text, &chain, created)?)
        }
        None => None,
    };
    let nonce = args
        .nonce
        .clone()
        .unwrap_or_else(RequestSigner::random_nonce);
    let (request, headers) = sign(&nonce, payment)?;
    if args.send {
        if scheme != "http" {
            bail!(
                "--send speaks plain http only; for https, print the headers (without --send) and use another client"
            );
        }
        let mut reply = exchange(&args.url, &request)?;
        if let (true, 402, Some(required)) = (
            args.pay,
            reply.0.as_u16(),
            header(&reply.1, PAYMENT_REQUIRED),
        ) {
            let payment = x402_payment(&args, &required, &chain, Timestamp::now())?;
            let (paid, _) = sign(&RequestSigner::random_nonce(), Some(payment))?;
            reply = exchange(&args.url, &paid)?;
        }
        return print_reply(&reply);
    }
    if args.json {
        write_json(&signed_request_json(&args.url, &request))?;
    } else {
        let mut out = std::io::stdout().lock();
        for (name, value) in &headers {
            writeln!(out, "{name}: {value}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The x402 payment for the 402's `PAYMENT-REQUIRED` `header`: the first requirements the leaf's grants allow,
/// signed with the wallet key; the `PAYMENT-SIGNATURE` value.
fn x402_payment(
    args: &SignRequestArgs,
    header: &str,
    chain: &Value,
    now: Timestamp,
) -> Result<String> {
    let required = PaymentRequired::from_header(header.trim())
        .context("the merchant's PAYMENT-REQUIRED header cannot be read")?;
    let leaf = chain
        .as_array()
        .and_then(|c| c.last())
        .context("the chain is empty")?;
    let grants: Vec<kya_core::grant::Grant> =
        serde_json::from_value(leaf["credentialSubject"]["grants"].clone())
            .context("the chain leaf's grants")?;
    let action = match &args.action {
        Some(a) => a.clone(),
        None => Action::parse("payments/send")?,
    };
    let (_, url) = HttpRequest::from_url("GET", &args.url)?;
    // did:web encodes a port's colon.
    let audience = args
        .pay_audience
        .clone()
        .unwrap_or_else(|| format!("did:web:{}", url.authority.replace(':', "%3A")));
    // Every requirement's token is valued with the given decimals; the grants must still
    // name it by its CAIP-19 id for it to be chosen.
    let tokens: Vec<KnownToken> = required
        .accepts
        .iter()
        .filter_map(|r| {
            let chain_id = r.evm_chain_id().ok()?;
            let asset = kya_x402::caip19_erc20(chain_id, r.asset.parse().ok()?).ok()?;
            Some(KnownToken {
                asset,
                decimals: args.token_decimals,
            })
        })
        .collect();
    let (chosen, money) =
        choose_requirements(&required, &grants, &action, Some(&audience), &tokens, now)
            .with_context(|| {
                format!(
                    "the chain's grants allow none of the {} payment requirements for {action} at {audience}",
                    required.accepts.len()
                )
            })?;
    let wallet = crate::registry_cmds::eth_signer(&args.wallet)?;
    let payment = create_payment(&wallet, &required, chosen, now)?;
    eprintln!(
        "kya: paying {money} to {} from {}",
        chosen.pay_to,
        wallet.address()
    );
    Ok(payment.to_header())
}

/// The JSON form of a signed request: `{method, url, headers: {name: value}, body}` (or
/// `bodyBase64` when the body is not UTF-8).
fn signed_request_json(url: &str, request: &HttpRequest) -> Value {
    let mut headers = Map::new();
    for (name, value) in &request.headers {
        headers.insert(name.clone(), Value::String(value.clone()));
    }
    let mut v = json!({"method": request.method, "url": url, "headers": headers});
    match std::str::from_utf8(&request.body) {
        Ok(text) => v["body"] = Value::String(text.to_owned()),
        Err(_) => v["bodyBase64"] = Value::String(STANDARD.encode(&request.body)),
    }
    v
}

fn signed_request_from_json(v: &Value) -> Result<(String, HttpRequest)> {
    let method = v["method"]
        .as_str()
        .context("a signed request needs a method")?;
    let url = v["url"].as_str().context("a signed request needs a url")?;
    let (scheme, mut request) = HttpRequest::from_url(method, url)?;
    let headers = v["headers"]
        .as_object()
        .context("a signed request needs headers: {name: value}")?;
    for (name, value) in headers {
        let value = value
            .as_str()
            .with_context(|| format!("header {name} must be a string"))?;
        request.headers.push((name.clone(), value.to_owned()));
    }
    request.body = match (&v["body"], &v["bodyBase64"]) {
        (Value::String(text), Value::Null) => text.as_bytes().to_vec(),
        (Value::Null, Value::String(b64)) => STANDARD.decode(b64).context("bodyBase64")?,
        (Value::Null, Value::Null) => Vec::new(),
        _ => bail!("give body or bodyBase64, not both"),
    };
    Ok((scheme, request))
}

/// A plain HTTP/1.1 exchange over TCP (no TLS, no redirects, 30 s timeouts): enough to try
/// a merchant from the shell without an HTTP client dependency.
/// The largest response body `--send` prints.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Sends a signed request with the HTTP client already in the dependency tree (reqwest,
/// through the registry client) and prints the status line and body.
/// A response: status, headers, body.
type Reply = (reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>);

/// One header's value as text, when present and readable.
fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

fn exchange(url: &str, request: &HttpRequest) -> Result<Reply> {
    let runtime = crate::io::runtime()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the http client")?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .with_context(|| format!("`{}` is not an http method", request.method))?;
        let mut outgoing = client.request(method, url);
        for (name, value) in &request.headers {
            outgoing = outgoing.header(name.as_str(), value.as_str());
        }
        let mut response = outgoing
            .body(request.body.clone())
            .send()
            .await
            .with_context(|| format!("cannot send to {url}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.context("reading the response")? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                bail!("the response is larger than {MAX_RESPONSE_BYTES} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        anyhow::Ok((status, headers, body))
    })
}

/// Prints the status, the x402 headers and the body; succeeds on 2xx.
fn print_reply((status, headers, body): &Reply) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "HTTP/1.1 {status}")?;
    for name in [
        PAYMENT_REQUIRED,
        PAYMENT_RESPONSE,
        kya_audit::RECEIPT_HEADER,
    ] {
        if let Some(v) = header(headers, name) {
            writeln!(out, "{name}: {v}")?;
        }
    }
    out.write_all(body)?;
    if !body.ends_with(b"\n") {
        writeln!(out)?;
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `verify` / `explain` were given.
enum Input {
    Chain(Vec<u8>),
    Presentation(Vec<u8>),
    SignedRequest(String, Box<HttpRequest>),
}

impl Input {
    fn kind(&self) -> &'static str {
        match self {
            Self::Chain(_) => "credential chain",
            Self::Presentation(_) => "presentation",
            Self::SignedRequest(..) => "signed HTTP request",
        }
    }
}

fn detect(bytes: Vec<u8>) -> Result<(Input, Value)> {
    let value =
        parse_strict(&bytes, JsonLimits::default()).context("the input is not valid json")?;
    let types = |v: &Value| -> Vec<String> {
        match &v["type"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let input = match &value {
        Value::Array(_) => Input::Chain(bytes),
        Value::Object(o) if o.contains_key("method") && o.contains_key("headers") => {
            let (scheme, request) = signed_request_from_json(&value)?;
            Input::SignedRequest(scheme, Box::new(request))
        }
        v if types(v).iter().any(|t| t == "VerifiablePresentation") => Input::Presentation(bytes),
        v if types(v).iter().any(|t| t == "VerifiableCredential") => {
            Input::Chain(serde_json::to_vec(&Value::Array(vec![value.clone()]))?)
        }
        _ => {
            bail!("the input is neither a chain, a credential, a presentation nor a signed request")
        }
    };
    Ok((input, value))
}

/// Everything `verify` and `explain` found.
struct Outcome {
    input: Input,
    value: Value,
    at: Timestamp,
    result: Result<VerifiedAgent, Refused>,
    signature: Option<kya_verify::http::CheckedSignature>,
    decision: Option<Decision>,
    /// Why the HTTP gate refused a signed request (for its receipt).
    gate_error: Option<HttpError>,
}

/// A refusal, with the verifier's code.
struct Refused {
    code: Code,
    link: Option<usize>,
    message: String,
}

impl From<VerifyError> for Refused {
    fn from(e: VerifyError) -> Self {
        Self {
            code: e.code(),
            link: e.link(),
            message: e.to_string(),
        }
    }
}

impl From<HttpError> for Refused {
    fn from(e: HttpError) -> Self {
        Self {
            code: e.code(),
            link: e.link(),
            message: e.to_string(),
        }
    }
}

fn run_verification(args: &VerifyArgs) -> Result<Outcome> {
    let policy_bytes = read_input(Some(&args.policy))?;
    let policy = Policy::from_json(&policy_bytes)
        .with_context(|| format!("policy {}", args.policy.display()))?;
    let registry: Option<Arc<dyn RegistryView>> = match &args.snapshot {
        Some(path) => {
            let snapshot = Snapshot::load(&read_input(Some(path))?)
                .with_context(|| format!("snapshot {}", path.display()))?;
            Some(Arc::new(snapshot))
        }
        None => None,
    };
    let clock: Arc<dyn Clock> = match args.at {
        Some(at) => Arc::new(FixedClock::new(at)),
        None => Arc::new(SystemClock),
    };
    let at = clock.now();
    let decide_on: Option<Request> = match &args.request {
        Some(path) => Some(
            Request::from_json_value(&read_json(Some(path))?)
                .with_context(|| format!("request {}", path.display()))?,
        ),
        None => None,
    };
    let (input, value) = detect(read_input(args.file.as_deref())?)?;
    // The one verifier; a one-shot run meters against an empty ledger (this request alone),
    // unless it shares the fleet's stores on Redis.
    let stores = fleet_stores(args, &policy)?;
    let mut verifier = Verifier::new(policy).with_clock(Arc::clone(&clock));
    verifier = match stores {
        Some(stores) => verifier.with_stores(stores),
        None => verifier.with_ledger(Arc::new(MemoryLedger::default())),
    };
    if let Some(r) = &registry {
        verifier = verifier.with_registry(Arc::clone(r));
    }
    if let Some(dir) = &args.status_lists {
        let lists = kya_verify::StatusLists::load_dir(dir)
            .with_context(|| format!("status lists {}", dir.display()))?;
        verifier = verifier.with_status_lists(Arc::new(lists));
    }
    if !args.agent_card.is_empty() {
        let mut cards = kya_verify::AgentCards::new();
        for (uri, path) in &args.agent_card {
            let card = kya_core::card::AgentCard::from_slice(&read_input(Some(path))?)
                .with_context(|| format!("agent card {}", path.display()))?;
            cards.insert(uri.clone(), card);
        }
        verifier = verifier.with_agent_cards(Arc::new(cards));
    }
    let verifier = Arc::new(verifier);
    let attestations = args
        .attestation
        .iter()
        .map(|p| read_json(Some(p)))
        .collect::<Result<Vec<_>>>()?;
    let reputed = |agent: VerifiedAgent| -> Result<VerifiedAgent, Refused> {
        if verifier.policy().min_reputation().is_none() && attestations.is_empty() {
            return Ok(agent);
        }
        verifier
            .check_reputation(&agent, &attestations)
            .map(|_| agent)
            .map_err(Refused::from)
    };
    let (result, decision, signature, gate_error) = match &input {
        Input::Chain(bytes) => {
            let agent = verifier.verify_chain(bytes).map_err(Refused::from);
            let (result, decision) = decided(&verifier, agent.and_then(reputed), decide_on);
            (result, decision, None, None)
        }
        Input::Presentation(bytes) => {
            let agent = verifier.verify_presentation(bytes).map_err(Refused::from);
            let (result, decision) = decided(&verifier, agent.and_then(reputed), decide_on);
            (result, decision, None, None)
        }
        Input::SignedRequest(scheme, request) => {
            let mut http = HttpPolicy::default()
                .scheme(scheme.clone())
                .allow_declared_actions(args.declared_actions);
            for authority in &args.authority {
                http = http.authority(authority.clone());
            }
            for route in &args.route {
                http = http.route(route.clone());
            }
            let gate = KyaGate::new(Arc::clone(&verifier), http);
            admitted(&gate, request, decide_on, reputed)
        }
    };
    Ok(Outcome {
        input,
        value,
        at,
        result,
        signature,
        decision,
        gate_error,
    })
}

/// The decision on `request` (when there is one to decide on) for a verified agent.
fn decided(
    verifier: &Verifier,
    result: Result<VerifiedAgent, Refused>,
    request: Option<Request>,
) -> (Result<VerifiedAgent, Refused>, Option<Decision>) {
    match (result, request) {
        (Ok(agent), Some(request)) => match verifier.decide(&agent, &request) {
            Ok(decision) => (Ok(agent), Some(decision)),
            Err(e) => (Err(Refused::from(e)), None),
        },
        (result, _) => (result, None),
    }
}

type Judged = (
    Result<VerifiedAgent, Refused>,
    Option<Decision>,
    Option<kya_verify::http::CheckedSignature>,
    Option<HttpError>,
);

/// A signed request admitted as a merchant's gate admits it: the signature and the chain,
/// then `reputed` and the request to decide on (`--request`, or the one the gate derives),
/// then the nonce and the charges in one step of the stores (one round trip on Redis).
fn admitted(
    gate: &KyaGate,
    request: &HttpRequest,
    decide_on: Option<Request>,
    reputed: impl FnOnce(VerifiedAgent) -> Result<VerifiedAgent, Refused>,
) -> Judged {
    let mut signature = None;
    let outcome = gate.admit_completing(request, |agent, checked, derived| {
        signature = Some(checked.clone());
        reputed(agent.clone())?;
        if let Some(explicit) = decide_on {
            *derived = explicit;
        }
        Ok::<(), Refused>(())
    });
    match outcome {
        Ok((admitted, ())) => (
            Ok(admitted.agent),
            Some(admitted.decision),
            Some(admitted.signature),
            None,
        ),
        Err(AdmitError::Refused(Refusal::Denied { agent, decision })) => {
            (Ok(*agent), Some(*decision), signature, None)
        }
        Err(AdmitError::Refused(Refusal::NotVerified(e))) => {
            (Err(Refused::from(e.clone())), None, signature, Some(e))
        }
        Err(AdmitError::Completing(refused)) => (Err(refused), None, signature, None),
    }
}

/// Signs and logs the receipt of a signed request's decision (`--receipts`); returns its
/// JSON summary, or `None` when there is nothing to record.
fn record_receipt(args: &VerifyArgs, outcome: &Outcome) -> Result<Option<Value>> {
    let (Some(dir), Some(key_file)) = (&args.receipts, &args.receipt_key) else {
        return Ok(None);
    };
    let Input::SignedRequest(_, request) = &outcome.input else {
        bail!("--receipts records the decisions on signed requests only");
    };
    let decided = match (&outcome.result, &outcome.decision, &outcome.signature) {
        (Ok(agent), Some(d), Some(s)) if d.is_allowed() => Ok(Admitted {
            agent: agent.clone(),
            signature: s.clone(),
            decision: d.clone(),
        }),
        (Ok(agent), Some(d), _) => Err(Refusal::Denied {
            agent: Box::new(agent.clone()),
            decision: Box::new(d.clone()),
        }),
        (Err(_), _, _) => match &outcome.gate_error {
            Some(e) => Err(Refusal::NotVerified(e.clone())),
            None => bail!("this refusal has no receipt form"),
        },
        (Ok(_), None, _) => bail!("no decision to record"),
    };
    let policy = Policy::from_json(&read_input(Some(&args.policy))?)?;
    let merchant = policy.audience().unwrap_or("").to_owned();
    let origin = match &args.receipt_origin {
        Some(o) => o.clone(),
        None => format!(
            "{}/kya/receipts",
            merchant
                .strip_prefix("did:web:")
                .context("--receipt-origin is needed without a did:web audience")?
        ),
    };
    let key = crate::io::read_secret_key(key_file)?;
    let issuer = kya_audit::ReceiptIssuer::open(key, &origin, merchant, dir)
        .with_context(|| format!("receipt log {}", dir.display()))?;
    let receipt = issuer.record(request, &decided, outcome.at)?;
    use base64::Engine as _;
    Ok(Some(json!({
        "index": receipt.receipt().activity.log.index,
        "origin": origin,
        "digest": receipt.digest().to_hex(),
        "header": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(receipt.as_bytes()),
    })))
}

fn exit_code(outcome: &Outcome) -> ExitCode {
    let ok = outcome.result.is_ok() && outcome.decision.as_ref().is_none_or(Decision::is_allowed);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(crate) fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let outcome = run_verification(&args)?;
    let receipt = record_receipt(&args, &outcome)?;
    if let Some(r) = receipt.as_ref().filter(|_| !args.json) {
        eprintln!(
            "receipt {} of {} ({})",
            r["index"],
            r["origin"].as_str().unwrap_or(""),
            r["digest"].as_str().unwrap_or("")
        );
    }
    if args.json {
        let mut v = json!({
            "input": outcome.input.kind(),
            "verifiedAt": outcome.at.to_string(),
            "verified": outcome.result.is_ok(),
        });
        match &outcome.result {
            Ok(agent) => v["agent"] = serde_json::to_value(agent)?,
            Err(r) => v["error"] = json!({"code": r.code, "link": r.link, "message": r.message}),
        }
        if let Some(s) = &outcome.signature {
            v["signature"] = signature_json(s);
        }
        if let Some(d) = &outcome.decision {
            v["decision"] = serde_json::to_value(d)?;
        }
        if let Some(r) = receipt {
            v["receipt"] = r;
        }
        write_json(&v)?;
    } else {
        let mut out = String::new();
        match &outcome.result {
            Ok(agent) => {
                let _ = writeln!(
                    out,
                    "verified {}: agent {} acting for {}",
                    outcome.input.kind(),
                    agent.agent(),
                    agent.principal()
                );
                let _ = writeln!(
                    out,
                    "chain {} ({} link{}), holds until {}",
                    agent.chain_digest(),
                    agent.chain().len(),
                    if agent.chain().len() == 1 { "" } else { "s" },
                    agent.valid_until()
                );
                for g in agent.effective_grants() {
                    let _ = writeln!(
                        out,
                        "  may: {}",
                        serde_json::to_string(g).unwrap_or_default()
                    );
                }
            }
            Err(r) => {
                let _ = writeln!(
                    out,
                    "REFUSED {}: {} ({})",
                    outcome.input.kind(),
                    r.message,
                    r.code
                );
            }
        }
        if let Some(d) = &outcome.decision {
            out.push_str(&d.explain());
        }
        print!("{out}");
    }
    Ok(exit_code(&outcome))
}

fn signature_json(s: &kya_verify::http::CheckedSignature) -> Value {
    json!({
        "keyid": s.keyid,
        "nonce": s.nonce,
        "created": s.created,
        "expires": s.expires,
        "covered": s.covered,
        "chainInline": s.chain_inline,
        "action": s.action.as_ref().map(ToString::to_string),
        "amount": s.amount.as_ref().map(ToString::to_string),
    })
}

/// `kya explain`: the verification's arguments, and optionally proofs of its registry facts.
#[derive(Args, Debug)]
pub(crate) struct ExplainArgs {
    #[command(flatten)]
    verify: VerifyArgs,
    #[command(flatten)]
    proofs: crate::registry_sync::ProofsArgs,
}

pub(crate) fn explain(explain: ExplainArgs) -> Result<ExitCode> {
    let args = explain.verify;
    let outcome = run_verification(&args)?;
    let mut out = String::new();
    let source = args
        .file
        .as_ref()
        .map_or_else(|| "standard input".to_owned(), |p| p.display().to_string());
    let _ = writeln!(out, "kya explain — {} from {source}", outcome.input.kind());
    let _ = writeln!(
        out,
        "policy {}, as of {}",
        args.policy.display(),
        outcome.at
    );
    if let Some(s) = &args.snapshot {
        let _ = writeln!(out, "registry snapshot {}", s.display());
    } else {
        let _ = writeln!(
            out,
            "no registry snapshot: registrations, key bindings and revocations not checked"
        );
    }

    // The links, each on its own: kind, parties, validity, digest, grants, own proof.
    let links: Vec<Value> = match (&outcome.input, &outcome.value) {
        (Input::Chain(_), Value::Array(items)) => items.clone(),
        (Input::Chain(_), single) => vec![single.clone()],
        (Input::Presentation(_), v) => v["verifiableCredential"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        (Input::SignedRequest(..), _) => outcome
            .signature
            .as_ref()
            .and_then(|s| s.chain.to_bytes().ok())
            .and_then(|bytes| parse_strict(&bytes, JsonLimits::default()).ok())
            .or_else(|| chain_from_headers(&outcome.value))
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default(),
    };
    let _ = writeln!(out, "\nlinks ({}), root first:", links.len());
    let evidence_links = explain.proofs.wanted().then(|| links.clone());
    for (index, link) in links.into_iter().enumerate() {
        match UnverifiedCredential::from_value(link) {
            Ok(parsed) => {
                let digest = parsed.digest().unwrap_or(CredentialDigest([0; 32]));
                let kind = parsed.kind().clone();
                let proof = parsed.verify_proof().map(|_| ()).map_err(|e| e.to_string());
                out.push_str(&io::summary_text(index, &kind, &digest, &proof));
            }
            Err(e) => {
                let _ = writeln!(out, "[{index}] unreadable: {e}");
            }
        }
    }

    let _ = writeln!(out, "\nchecks:");
    if let Some(s) = &outcome.signature {
        let _ = writeln!(
            out,
            "  ok   request signature (RFC 9421, web-bot-auth): covers {}",
            s.covered.join(" ")
        );
        let _ = writeln!(
            out,
            "  ok   window {} s (created {}, expires {}), within policy and clock skew",
            s.expires.unix() - s.created.unix(),
            s.created,
            s.expires
        );
        let _ = writeln!(out, "  ok   content-digest matches the body");
        let _ = writeln!(
            out,
            "  ok   keyid {} is the agent key's JWK thumbprint",
            s.keyid
        );
        let _ = writeln!(out, "  ok   nonce {} not seen before (this run)", s.nonce);
        let _ = writeln!(
            out,
            "  ok   chain {}",
            if s.chain_inline {
                "sent inline (KYA-Chain)"
            } else {
                "named by digest"
            }
        );
    }
    match &outcome.result {
        Ok(agent) => {
            let _ = writeln!(
                out,
                "  ok   chain: bounds, form, linkage (issuer = parent's subject, parent digests), signatures (one batch), narrowing (validity nests, grants ⊑ parent), trusted root, validity at {}{}",
                outcome.at,
                if agent.registry_checked() {
                    ", registry (registered, active, keys bound, not revoked)"
                } else {
                    ""
                }
            );
            if let Some(p) = agent.presentation() {
                let _ = writeln!(
                    out,
                    "  ok   presentation for {} with nonce {}, valid {} – {}",
                    p.audience, p.nonce, p.created, p.expires
                );
            }
            let _ = writeln!(
                out,
                "\nverified: agent {} acts for {} until {}",
                agent.agent(),
                agent.principal(),
                agent.valid_until()
            );
        }
        Err(r) => {
            let link = r.link.map(|l| format!(" (link [{l}])")).unwrap_or_default();
            let _ = writeln!(out, "  FAIL {}{link}: {}", r.code, r.message);
            let _ = writeln!(out, "\nrefused: {}", r.message);
        }
    }
    match &outcome.decision {
        Some(d) => {
            let _ = writeln!(out, "\ndecision:");
            out.push_str(&d.explain());
        }
        None if outcome.result.is_ok() => {
            let _ = writeln!(
                out,
                "\nno request to decide on (give --request, or a signed request with KYA-Action)"
            );
        }
        None => {}
    }
    if let Some(links) = evidence_links {
        crate::registry_sync::explain_evidence(
            &explain.proofs,
            &links,
            args.snapshot.as_deref(),
            &mut out,
        )?;
    }
    print!("{out}");
    Ok(exit_code(&outcome))
}

/// The chain of a signed request's `KYA-Chain` header, when its signature could not be
/// checked (so the explanation can still list the links).
fn chain_from_headers(v: &Value) -> Option<Value> {
    let headers = v["headers"].as_object()?;
    let inline = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("kya-chain"))?
        .1
        .as_str()?;
    let kya_verify::http::ChainRef::Inline(bytes) =
        kya_verify::http::ChainRef::parse_inline(inline, 1024 * 1024).ok()?
    else {
        return None;
    };
    parse_strict(&bytes, JsonLimits::default()).ok()
}
