//! The merchant's side: checking a signed request.

use std::sync::Arc;

use ed25519_dalek::Signature;
use kya_core::Timestamp;
use kya_core::grant::{Action, Money, Request};

use super::chains::{ChainStore, MemoryChainStore};
use super::input::{SignatureInput, read_signature};
use super::message::{ChainRef, HttpRequest, parse_amount_header, verify_content_digest};
use crate::policy::Policy;
use crate::verifier::{ChainInput, HolderProof, KeyRef};

use super::{
    CONTENT_DIGEST, HttpError, KYA_ACTION, KYA_AMOUNT, KYA_CHAIN, KYA_CHAIN_DIGEST, SIGNATURE,
    SIGNATURE_INPUT,
};

type ChainFound = (RequestChain, bool, Option<[u8; 32]>);

/// What the HTTP gate adds to a [`Policy`]: who this merchant is on the wire, its routes,
/// and the sizes of the signature headers. Windows, skew and audience are the [`Policy`]'s
/// alone, so the two can never disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpPolicy {
    /// The largest chain accepted in `KYA-Chain`, decoded (default 64 KiB).
    pub max_chain_bytes: usize,
    /// The largest `Signature-Input` + `Signature` accepted (default 8 KiB).
    pub max_signature_header_bytes: usize,
    /// The scheme the merchant is reached by (default `https`), for the resource URL.
    pub scheme: String,
    /// This merchant's authorities (`host` or `host:port`, lowercase): a request is admitted
    /// only if its signed `@authority` is one of them, so a request signed for another
    /// merchant is refused here. Empty: the host of the policy's `did:web` audience.
    pub authorities: Vec<String>,
    /// Which action each route performs.
    pub routes: RouteMap,
    /// Whether a path that no route maps may perform the action the agent declares in
    /// `KYA-Action` (default `false`: an unmapped path is refused).
    pub declared_actions: bool,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            max_chain_bytes: 64 * 1024,
            max_signature_header_bytes: 8 * 1024,
            scheme: "https".to_owned(),
            authorities: Vec::new(),
            routes: RouteMap::default(),
            declared_actions: false,
        }
    }
}

impl HttpPolicy {
    /// Adds one of this merchant's authorities (`host` or `host:port`).
    #[must_use]
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.authorities.push(authority.into().to_ascii_lowercase());
        self
    }

    /// Sets the scheme used for resource URLs.
    #[must_use]
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Adds a route.
    #[must_use]
    pub fn route(mut self, route: Route) -> Self {
        self.routes.routes.push(route);
        self
    }

    /// Lets unmapped paths perform the action the agent declares (`KYA-Action`).
    #[must_use]
    pub fn allow_declared_actions(mut self, yes: bool) -> Self {
        self.declared_actions = yes;
        self
    }

    /// The authorities requests must be signed for: the configured ones, else the host of a
    /// `did:web` audience (`did:web:shop.example%3A8443` → `shop.example:8443`).
    pub fn effective_authorities(&self, policy: &Policy) -> Vec<String> {
        if !self.authorities.is_empty() {
            return self.authorities.clone();
        }
        policy
            .audience()
            .and_then(|a| a.strip_prefix("did:web:"))
            .map(|host| {
                let host = host.split(':').next().unwrap_or(host);
                vec![
                    host.replace("%3A", ":")
                        .replace("%3a", ":")
                        .to_ascii_lowercase(),
                ]
            })
            .unwrap_or_default()
    }

    /// Whether `authority` is one of the [`effective_authorities`](Self::effective_authorities)
    /// (the configured ones compared in place, without a copy per request).
    fn accepts_authority(&self, policy: &Policy, authority: &str) -> bool {
        if self.authorities.is_empty() {
            self.effective_authorities(policy)
                .iter()
                .any(|a| a == authority)
        } else {
            self.authorities.iter().any(|a| a == authority)
        }
    }
}

/// Refuses a path that the router, the resource check and the handler could read
/// differently, rather than normalising it (the handler sees exactly what was judged):
///
/// - `.` and `..` segments (also with path parameters, `..;x`), and backslashes;
/// - percent-encodings that are not in RFC 3986 normal form: of an unreserved character
///   (`%61dmin` is `admin` to the handler but not to a route for `/admin`), of `/` or `\`,
///   with lowercase hex digits, or malformed;
/// - a path that does not start with `/`.
pub fn check_normalized_path(path: &str) -> Result<(), HttpError> {
    let refuse = || HttpError::PathNotNormalized {
        path: path.chars().take(200).collect(),
    };
    // A segment is a dot segment also with path parameters (`..;x`), which some servers
    // strip before resolving dot segments.
    let dot_segment = |seg: &str| matches!(seg.split(';').next(), Some("." | ".."));
    if !path.starts_with('/') || path.contains('\\') || path.split('/').any(dot_segment) {
        return Err(refuse());
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: Option<&u8>| match b {
                Some(&c @ b'0'..=b'9') => Some(c - b'0'),
                Some(&c @ b'A'..=b'F') => Some(c - b'A' + 10),
                _ => None,
            };
            let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                return Err(refuse());
            };
            let decoded = hi << 4 | lo;
            let unreserved =
                decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~');
            if unreserved || decoded == b'/' || decoded == b'\\' {
                return Err(refuse());
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// A route: requests with this method (any, when `None`) whose path is `path_prefix` or lies
/// under it (whole segments) perform `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method, or any.
    pub method: Option<String>,
    /// The path prefix, e.g. `/pay`.
    pub path_prefix: String,
    /// The action performed.
    pub action: Action,
}

impl Route {
    /// A route for any method.
    pub fn new(path_prefix: impl Into<String>, action: Action) -> Self {
        Self {
            method: None,
            path_prefix: path_prefix.into(),
            action,
        }
    }

    /// Restricts the route to a method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }
}

/// Whether `path` is `prefix` or lies below it by whole segments: `/pay` covers `/pay`,
/// `/pay/` and `/pay/x`, not `/payment`; an empty prefix or `/` covers every path. The one
/// rule by which kya's routes (and the prices put on them) match paths, so that a path a
/// route maps is never one a price misses.
pub fn path_under(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix
        || prefix.is_empty()
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Of `entries` (a path prefix and what it maps to), what the longest prefix `path` lies
/// under maps to ([`path_under`]; trailing slashes aside): the one way kya picks a route or
/// a price when several prefixes cover a path.
pub fn longest_under<'a, T>(
    entries: impl IntoIterator<Item = (&'a str, T)>,
    path: &str,
) -> Option<T> {
    entries
        .into_iter()
        .filter(|(prefix, _)| path_under(prefix, path))
        .max_by_key(|(prefix, _)| prefix.trim_end_matches('/').len())
        .map(|(_, value)| value)
}

/// The merchant's routes; the longest matching prefix wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteMap {
    /// The routes.
    pub routes: Vec<Route>,
}

impl RouteMap {
    /// The action of the longest route matching `method` and `path`.
    pub fn action_for(&self, method: &str, path: &str) -> Option<&Action> {
        let for_method = self
            .routes
            .iter()
            .filter(|r| r.method.as_deref().is_none_or(|m| m == method));
        longest_under(
            for_method.map(|r| (r.path_prefix.as_str(), &r.action)),
            path,
        )
    }
}

/// A request whose signature headers are well-formed and within policy, whose body matches
/// its digest, and whose chain is at hand — but whose signature, chain and nonce are not yet
/// checked. Produced by [`HttpVerifier::check_request`].
#[derive(Debug, Clone)]
pub struct CheckedSignature {
    /// The `keyid` parameter.
    pub keyid: String,
    /// The `nonce` parameter.
    pub nonce: String,
    /// `created`.
    pub created: Timestamp,
    /// `expires`.
    pub expires: Timestamp,
    /// The covered components, in order.
    pub covered: Vec<String>,
    /// The chain: the `KYA-Chain` text, or bytes (a registration's body, or what the chain
    /// store holds for `KYA-Chain-Digest`).
    pub chain: RequestChain,
    /// Whether the chain came with the request (`KYA-Chain`, or the body of a registration)
    /// rather than by digest.
    pub chain_inline: bool,
    /// The chain's digest as `KYA-Chain-Digest` named it (`None` when the chain came with
    /// the request: its digest is then computed from its parsed links).
    pub chain_digest: Option<[u8; 32]>,
    /// `KYA-Action`, if sent.
    pub action: Option<Action>,
    /// `KYA-Amount`, if sent.
    pub amount: Option<Money>,
    base: String,
    signature: Signature,
}

impl CheckedSignature {
    /// The RFC 9421 signature base the agent signed.
    pub fn signature_base(&self) -> &[u8] {
        self.base.as_bytes()
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The signature as a proof of possession by the key `keyid` names, for the verifier
    /// to check against the chain's agent (in the chain's batch, or alone on a cache hit).
    pub fn holder_proof(&self) -> HolderProof<'_> {
        HolderProof {
            message: self.base.as_bytes(),
            signature: self.signature,
            key: KeyRef::JwkThumbprint(&self.keyid),
        }
    }

    /// Checks the request signature alone against `key` (which `keyid` must name), under
    /// the verifier's one acceptance rule: for tools and tests that look at a signature
    /// outside a chain. Admission goes through [`crate::Verifier::verify_held`].
    pub fn verify_signature(&self, key: &kya_core::PublicKey) -> Result<(), HttpError> {
        let expected = super::jwk_thumbprint(key);
        let signature = crate::chain::holder_signature(&self.holder_proof(), key, &expected)
            .map_err(|_| HttpError::KeyIdMismatch {
                keyid: self.keyid.chars().take(100).collect(),
                expected: expected.clone(),
            })?;
        crate::chain::verify_single(&signature).map_err(|_| HttpError::SignatureInvalid)
    }

    /// `expires`.
    pub fn expires_at(&self) -> Timestamp {
        self.expires
    }
}

/// A request's chain as it came: verified from this form, and cached under it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RequestChain {
    /// `KYA-Chain`: base64url text (without padding) of the chain's JSON bytes, decoded only
    /// when the chain is not cached.
    Inline(Arc<str>),
    /// A registration's body, or the bytes the chain store holds for `KYA-Chain-Digest`.
    Bytes(Arc<[u8]>),
}

impl RequestChain {
    /// Reads `KYA-Chain`: refuses text that cannot be base64url of at most `max_bytes`
    /// bytes, in one pass and without decoding it.
    fn inline(value: &str, max_bytes: usize) -> Result<Self, HttpError> {
        let text = value.trim_end_matches('=');
        if text.len() / 4 * 3 > max_bytes {
            return Err(HttpError::ChainTooLarge { max_bytes });
        }
        let alphabet = text.bytes().fold(true, |ok, b| {
            ok & (b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_'))
        });
        if !alphabet || text.len() % 4 == 1 {
            return Err(HttpError::ChainMalformed {
                detail: "KYA-Chain is not base64url".to_owned(),
            });
        }
        Ok(Self::Inline(Arc::from(text)))
    }

    /// The chain as the verifier takes it.
    pub fn input(&self) -> ChainInput<'_> {
        match self {
            Self::Inline(text) => ChainInput::Base64Url(text),
            Self::Bytes(bytes) => ChainInput::Bytes(bytes),
        }
    }

    /// The chain's JSON bytes (decoding `KYA-Chain` text).
    pub fn to_bytes(&self) -> Result<Arc<[u8]>, HttpError> {
        match self {
            Self::Bytes(bytes) => Ok(Arc::clone(bytes)),
            Self::Inline(text) => match ChainRef::parse_inline(text, usize::MAX)? {
                ChainRef::Inline(bytes) => Ok(Arc::from(bytes)),
                ChainRef::Digest(_) => Err(HttpError::ChainMissing),
            },
        }
    }
}

/// A signed request that passed every check: the signature, the chain, the nonce. What the
/// caller decides on.
#[derive(Debug, Clone)]
pub struct VerifiedRequest<A> {
    /// The verified agent (the chain verifier's result).
    pub agent: A,
    /// The signature details.
    pub signature: CheckedSignature,
    /// The grant request this HTTP request amounts to.
    pub request: Request,
}

/// Checks signed requests under an [`HttpPolicy`], resolving `KYA-Chain-Digest` through a
/// [`ChainStore`].
#[derive(Clone)]
pub struct HttpVerifier {
    policy: HttpPolicy,
    chains: Arc<dyn ChainStore>,
}

impl std::fmt::Debug for HttpVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpVerifier")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl HttpVerifier {
    /// A verifier with an in-memory chain store.
    pub fn new(policy: HttpPolicy) -> Self {
        Self::with_chain_store(policy, Arc::new(MemoryChainStore::default()))
    }

    /// A verifier with the given chain store.
    pub fn with_chain_store(policy: HttpPolicy, chains: Arc<dyn ChainStore>) -> Self {
        Self { policy, chains }
    }

    /// The policy.
    pub fn policy(&self) -> &HttpPolicy {
        &self.policy
    }

    /// The chain store.
    pub fn chain_store(&self) -> &Arc<dyn ChainStore> {
        &self.chains
    }

    /// Everything that needs neither the chain's verification nor the signature check:
    /// the Web Bot Auth label, the covered components, the parameters, the window, the
    /// clock, the body's digest, the `kya-*` headers, and the chain's bytes. `now` is unix
    /// seconds.
    pub fn check_request(
        &self,
        request: &HttpRequest,
        policy: &Policy,
        now: Timestamp,
        chain_from: ChainFrom,
    ) -> Result<CheckedSignature, HttpError> {
        let input_len: usize = request
            .values_of(SIGNATURE_INPUT)
            .chain(request.values_of(SIGNATURE))
            .map(str::len)
            .sum();
        if input_len == 0 {
            return Err(HttpError::SignatureMissing {
                detail: "no Signature-Input and Signature headers".to_owned(),
            });
        }
        if input_len > self.policy.max_signature_header_bytes {
            return Err(HttpError::SignatureMalformed {
                detail: format!(
                    "the signature headers exceed {} bytes",
                    self.policy.max_signature_header_bytes
                ),
            });
        }
        let input = read_signature(request)?;

        // Components.
        let covered = &input.covered;
        let has = |c: &str| covered.iter().any(|x| x == c);
        let always = ["@method", "@authority", "@path", CONTENT_DIGEST];
        let query = request.query.is_some().then_some("@query");
        let kya_headers = [KYA_CHAIN, KYA_CHAIN_DIGEST, KYA_ACTION, KYA_AMOUNT]
            .into_iter()
            .filter(|name| request.has_header(name));
        for component in always.into_iter().chain(query).chain(kya_headers) {
            if !has(component) {
                return Err(HttpError::ComponentNotCovered {
                    component: component.to_owned(),
                });
            }
        }

        // Parameters.
        match input.params.get("alg") {
            None => {}
            Some(sfv::BareItem::String(alg)) if alg.as_str() == "ed25519" => {}
            Some(alg) => {
                return Err(HttpError::AlgorithmUnsupported {
                    alg: format!("{alg:?}").chars().take(64).collect(),
                });
            }
        }
        let created = input
            .integer("created")?
            .and_then(Timestamp::from_unix)
            .ok_or(HttpError::ParameterInvalid { name: "created" })?;
        let expires = input
            .integer("expires")?
            .and_then(Timestamp::from_unix)
            .ok_or(HttpError::ParameterInvalid { name: "expires" })?;
        let keyid = input
            .string("keyid")?
            .ok_or(HttpError::ParameterInvalid { name: "keyid" })?
            .to_owned();
        let nonce = match input.string("nonce")? {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => return Err(HttpError::ParameterInvalid { name: "nonce" }),
        };
        let window = expires.unix() - created.unix();
        if window <= 0 {
            return Err(HttpError::ParameterInvalid { name: "expires" });
        }
        if window > policy.max_window_secs() {
            return Err(HttpError::WindowTooLong {
                window_seconds: window,
                max_seconds: policy.max_window_secs(),
            });
        }
        let skew = policy.clock_skew_secs();
        if created > now.add_seconds(skew) {
            return Err(HttpError::CreatedInFuture {
                created,
                now,
                skew_seconds: skew,
            });
        }
        if now > expires.add_seconds(skew) {
            return Err(HttpError::Expired { expires, now });
        }

        // Whom it is for, and the path the handler will see.
        if !self.policy.accepts_authority(policy, &request.authority) {
            return Err(HttpError::AuthorityMismatch {
                authority: request.authority.chars().take(200).collect(),
                expected: self.policy.effective_authorities(policy),
            });
        }
        check_normalized_path(request.path_component())?;

        // Body.
        let digest =
            request
                .single_header(CONTENT_DIGEST)?
                .ok_or_else(|| HttpError::ComponentMissing {
                    component: CONTENT_DIGEST.to_owned(),
                })?;
        verify_content_digest(digest, &request.body)?;

        // kya headers.
        let action = request
            .single_header(KYA_ACTION)?
            .map(|a| {
                Action::parse(a).map_err(|e| HttpError::HeaderInvalid {
                    name: "KYA-Action".to_owned(),
                    detail: e.to_string(),
                })
            })
            .transpose()?;
        let amount = request
            .single_header(KYA_AMOUNT)?
            .map(parse_amount_header)
            .transpose()?;
        let (chain, chain_inline, chain_digest) = match chain_from {
            ChainFrom::Headers => self.chain_of(request, now)?,
            ChainFrom::Body => self.chain_in_body(request)?,
        };

        let signature: [u8; 64] =
            input
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| HttpError::SignatureMalformed {
                    detail: "an ed25519 signature is 64 bytes".to_owned(),
                })?;
        let SignatureInput { covered, base, .. } = input;
        Ok(CheckedSignature {
            keyid,
            nonce,
            created,
            expires,
            covered,
            chain,
            chain_inline,
            chain_digest,
            action,
            amount,
            base,
            signature: Signature::from_bytes(&signature),
        })
    }

    /// A chain registration: the body is the chain, and no chain header may compete with it.
    fn chain_in_body(&self, request: &HttpRequest) -> Result<ChainFound, HttpError> {
        if request.single_header(KYA_CHAIN)?.is_some()
            || request.single_header(KYA_CHAIN_DIGEST)?.is_some()
        {
            return Err(HttpError::BadRequest {
                detail: "a chain registration carries the chain in its body, not in KYA-Chain or KYA-Chain-Digest".to_owned(),
            });
        }
        if request.body.len() > self.policy.max_chain_bytes {
            return Err(HttpError::ChainTooLarge {
                max_bytes: self.policy.max_chain_bytes,
            });
        }
        Ok((
            RequestChain::Bytes(Arc::from(request.body.as_slice())),
            true,
            None,
        ))
    }

    /// The chain bytes, whether they came inline, and their digest.
    fn chain_of(&self, request: &HttpRequest, now: Timestamp) -> Result<ChainFound, HttpError> {
        match (
            request.single_header(KYA_CHAIN)?,
            request.single_header(KYA_CHAIN_DIGEST)?,
        ) {
            (Some(inline), None) => Ok((
                RequestChain::inline(inline, self.policy.max_chain_bytes)?,
                true,
                None,
            )),
            (None, Some(digest)) => {
                let digest = ChainRef::parse_digest(digest)?.digest();
                let bytes =
                    self.chains
                        .get(&digest, now)
                        .ok_or_else(|| HttpError::ChainUnknownDigest {
                            digest: hex::encode(digest),
                        })?;
                Ok((RequestChain::Bytes(bytes), false, Some(digest)))
            }
            _ => Err(HttpError::ChainMissing),
        }
    }

    /// The grant request an HTTP request amounts to: the action from the route map (a
    /// `KYA-Action` header must then agree), or — only where the merchant opted in with
    /// [`HttpPolicy::declared_actions`] — from `KYA-Action`; the amount from `KYA-Amount`;
    /// the policy's audience (never a header); the resource
    /// `<scheme>://<authority><path>`; the time is the verifier's `now`.
    pub fn grant_request(
        &self,
        request: &HttpRequest,
        checked: &CheckedSignature,
        policy: &Policy,
        now: Timestamp,
    ) -> Result<Request, HttpError> {
        let path = request.path_component();
        check_normalized_path(path)?;
        let routed = self.policy.routes.action_for(&request.method, path);
        let action = match (routed, &checked.action) {
            (Some(route), Some(header)) if route != header => {
                return Err(HttpError::HeaderInvalid {
                    name: "KYA-Action".to_owned(),
                    detail: format!("this route performs `{route}`, the request says `{header}`"),
                });
            }
            (Some(route), _) => route.clone(),
            (None, Some(header)) if self.policy.declared_actions => header.clone(),
            (None, _) => {
                return Err(HttpError::RouteNotMapped {
                    method: request.method.chars().take(16).collect(),
                    path: path.chars().take(200).collect(),
                });
            }
        };
        let mut grant_request =
            Request::new(action, now).with_resource(request.resource(&self.policy.scheme));
        if let Some(money) = &checked.amount {
            grant_request = grant_request.with_amount(money.value.clone(), money.asset.clone());
        }
        if let Some(audience) = policy.audience() {
            grant_request = grant_request.with_audience(audience.to_owned());
        }
        Ok(grant_request)
    }
}

/// Where a signed request's chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainFrom {
    /// `KYA-Chain` (inline) or `KYA-Chain-Digest` (stored): an ordinary request.
    Headers,
    /// The body: a chain registration.
    Body,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kya_core::SecretKey;
    use proptest::prelude::*;

    use super::*;
    use crate::http::{RequestSigner, SignOptions};

    const NOW: i64 = 1_800_000_000;

    fn signed(path: &str, created: i64, expires: i64) -> (SecretKey, HttpRequest) {
        let key = SecretKey::from_seed(&[9; 32]);
        let chain = serde_json::json!([{"stand-in": "chain"}]);
        let (_, mut request) =
            HttpRequest::from_url("POST", &format!("https://shop.example{path}")).unwrap();
        request.body = b"{}".to_vec();
        RequestSigner::new(&key, &chain)
            .unwrap()
            .sign(
                &mut request,
                &SignOptions {
                    action: Some(&Action::parse("payments/send").unwrap()),
                    amount: None,
                    created: ts(created),
                    expires: ts(expires),
                    nonce: "n1",
                },
            )
            .unwrap();
        (key, request)
    }

    fn verifier() -> HttpVerifier {
        HttpVerifier::new(HttpPolicy::default())
    }

    fn ts(unix: i64) -> Timestamp {
        Timestamp::from_unix(unix).unwrap()
    }

    fn policy() -> Policy {
        Policy::builder().audience("did:web:shop.example").build()
    }

    fn check(v: &HttpVerifier, r: &HttpRequest) -> Result<CheckedSignature, HttpError> {
        v.check_request(r, &policy(), ts(NOW), ChainFrom::Headers)
    }

    /// The request signature alone, under the verifier's one acceptance rule.
    fn signature_verifies(checked: &CheckedSignature, key: &kya_core::PublicKey) -> bool {
        let keyid = crate::http::jwk_thumbprint(key);
        crate::chain::holder_signature(&checked.holder_proof(), key, &keyid)
            .and_then(|s| crate::chain::verify_single(&s))
            .is_ok()
            && checked.verify_signature(key).is_ok()
    }

    fn set_header(request: &mut HttpRequest, name: &str, value: &str) {
        request
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        request.headers.push((name.to_owned(), value.to_owned()));
    }

    #[test]
    fn a_good_request_passes_and_its_signature_verifies() {
        let (key, request) = signed("/pay", NOW, NOW + 60);
        let checked = check(&verifier(), &request).unwrap();
        assert!(signature_verifies(&checked, &key.public_key()));
        assert_eq!(
            checked.covered,
            [
                "@method",
                "@authority",
                "@path",
                "content-digest",
                "kya-chain",
                "kya-action"
            ]
        );
    }

    #[test]
    fn time_rules() {
        let v = verifier();
        let (_, r) = signed("/pay", NOW, NOW + 301);
        assert!(matches!(
            check(&v, &r),
            Err(HttpError::WindowTooLong {
                window_seconds: 301,
                max_seconds: 300
            })
        ));
        let (_, r) = signed("/pay", NOW + 61, NOW + 100);
        assert!(matches!(
            check(&v, &r),
            Err(HttpError::CreatedInFuture { .. })
        ));
        let (_, r) = signed("/pay", NOW + 60, NOW + 100);
        assert!(check(&v, &r).is_ok(), "within skew");
        let (_, r) = signed("/pay", NOW - 200, NOW - 61);
        assert!(matches!(check(&v, &r), Err(HttpError::Expired { .. })));
        let (_, r) = signed("/pay", NOW, NOW);
        assert!(matches!(
            check(&v, &r),
            Err(HttpError::ParameterInvalid { name: "expires" })
        ));
    }

    #[test]
    fn every_kya_header_and_the_query_must_be_covered() {
        let v = verifier();
        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.headers.push(("KYA-Amount".into(), "1 USD".into()));
        assert_eq!(
            check(&v, &r).unwrap_err(),
            HttpError::ComponentNotCovered {
                component: "kya-amount".into()
            }
        );
        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.query = Some("to=mallory".into());
        assert_eq!(
            check(&v, &r).unwrap_err(),
            HttpError::ComponentNotCovered {
                component: "@query".into()
            }
        );
        let (key, r) = signed("/pay?to=alice", NOW, NOW + 60);
        let checked = check(&v, &r).unwrap();
        assert!(checked.covered.contains(&"@query".to_owned()));
        assert!(signature_verifies(&checked, &key.public_key()));
    }

    #[test]
    fn parameters_and_headers_are_strict() {
        let v = verifier();
        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        let input =
            r.header_values("signature-input")[0].replace("alg=\"ed25519\"", "alg=\"hmac-sha256\"");
        set_header(&mut r, "Signature-Input", &input);
        assert!(matches!(
            check(&v, &r),
            Err(HttpError::AlgorithmUnsupported { .. })
        ));

        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        let input = r.header_values("signature-input")[0].replace(";nonce=\"n1\"", "");
        set_header(&mut r, "Signature-Input", &input);
        assert_eq!(
            check(&v, &r).unwrap_err(),
            HttpError::ParameterInvalid { name: "nonce" }
        );

        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.headers
            .push(("KYA-Action".into(), "payments/refund".into()));
        assert_eq!(
            check(&v, &r).unwrap_err(),
            HttpError::DuplicateHeader {
                name: "kya-action".into()
            }
        );

        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("kya-chain"));
        assert!(matches!(
            check(&v, &r),
            Err(HttpError::ComponentMissing { .. })
        ));

        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("signature"));
        assert!(matches!(
            check(&v, &r),
            Err(HttpError::SignatureMissing { .. })
        ));
    }

    #[test]
    fn a_changed_method_or_path_breaks_the_signature() {
        let v = verifier();
        let (key, mut r) = signed("/pay", NOW, NOW + 60);
        r.path = "/refund".into();
        let checked = check(&v, &r).unwrap();
        assert!(!signature_verifies(&checked, &key.public_key()));
        let (key, mut r) = signed("/pay", NOW, NOW + 60);
        r.method = "PUT".into();
        let checked = check(&v, &r).unwrap();
        assert!(!signature_verifies(&checked, &key.public_key()));
    }

    #[test]
    fn only_normal_form_paths_reach_the_route_map() {
        for ok in [
            "/",
            "/pay",
            "/pay/refund/7",
            "/caf%C3%A9",
            "/a%20b",
            "/a/.well-known",
            "/..x",
        ] {
            assert!(check_normalized_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "pay",
            "/pay/..",
            "/pay/../admin",
            "/./pay",
            "/pay/.",
            "/%2e%2e/admin",
            "/%2E",
            "/%61dmin",
            "/a%2Fb",
            "/a%5Cb",
            "/a\\b",
            "/caf%c3%a9",
            "/a%2",
            "/a%zz",
            "/a%7E",
            "/pay/..;/admin",
            "/pay/.;x/admin",
        ] {
            assert!(
                matches!(
                    check_normalized_path(bad),
                    Err(HttpError::PathNotNormalized { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn routes_pick_the_longest_prefix_by_whole_segments() {
        let a = |s: &str| Action::parse(s).unwrap();
        let routes = RouteMap {
            routes: vec![
                Route::new("/pay", a("payments/send")).method("POST"),
                Route::new("/pay/refund", a("payments/refund")),
            ],
        };
        assert_eq!(routes.action_for("POST", "/pay"), Some(&a("payments/send")));
        assert_eq!(
            routes.action_for("POST", "/pay/refund/7"),
            Some(&a("payments/refund"))
        );
        assert_eq!(routes.action_for("GET", "/pay"), None);
        assert_eq!(routes.action_for("POST", "/payX"), None);
    }

    #[test]
    fn a_route_action_and_a_disagreeing_header_are_refused() {
        let v = HttpVerifier::new(HttpPolicy::default().route(Route::new(
            "/pay",
            Action::parse("payments/refund").unwrap(),
        )));
        let (_, r) = signed("/pay", NOW, NOW + 60);
        let checked = check(&v, &r).unwrap();
        assert!(matches!(
            v.grant_request(&r, &checked, &policy(), ts(NOW)),
            Err(HttpError::HeaderInvalid { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_signature_headers_never_panic(input in ".{0,300}", sig in ".{0,200}", digest in ".{0,80}") {
            let (_, mut r) = signed("/pay", NOW, NOW + 60);
            set_header(&mut r, "Signature-Input", &input);
            set_header(&mut r, "Signature", &sig);
            set_header(&mut r, "Content-Digest", &digest);
            let _ = check(&verifier(), &r);
        }

        #[test]
        fn mutated_signature_inputs_never_panic(cut in 0usize..400, byte in any::<u8>()) {
            let (_, mut r) = signed("/pay", NOW, NOW + 60);
            let mut input = r.header_values("signature-input")[0].as_bytes().to_vec();
            let at = cut % input.len().max(1);
            if let Some(b) = input.get_mut(at) {
                *b = byte;
            }
            set_header(&mut r, "Signature-Input", &String::from_utf8_lossy(&input));
            let _ = check(&verifier(), &r);
        }
    }
}
