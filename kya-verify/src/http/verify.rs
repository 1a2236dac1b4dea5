//! The merchant's side: checking a signed request.

use std::sync::Arc;

use ed25519_dalek::Signature;
use kya_core::grant::{Action, Money, Request};
use kya_core::{PublicKey, Timestamp};
use web_bot_auth::components::{CoveredComponent, DerivedComponent};
use web_bot_auth::{ImplementationError, WebBotAuthVerifier};

use super::chains::{ChainStore, MemoryChainStore};
use super::message::{
    ChainRef, HttpRequest, jwk_thumbprint, parse_amount_header, verify_content_digest,
};
use super::sign::{component_name, signature_base};
use super::{
    CONTENT_DIGEST, HttpError, KYA_ACTION, KYA_AMOUNT, KYA_CHAIN, KYA_CHAIN_DIGEST, SIGNATURE,
    SIGNATURE_INPUT,
};

type ChainFound = (Arc<[u8]>, bool, [u8; 32]);

/// Limits and settings for signed requests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpPolicy {
    /// The longest `expires − created` accepted, in seconds (default 300; Web Bot Auth
    /// suggests at most 480).
    pub max_window_seconds: i64,
    /// Clock skew tolerated on `created` and `expires`, in seconds (default 60).
    pub skew_seconds: i64,
    /// The largest chain accepted in `KYA-Chain`, decoded (default 64 KiB).
    pub max_chain_bytes: usize,
    /// The largest `Signature-Input` + `Signature` accepted (default 8 KiB).
    pub max_signature_header_bytes: usize,
    /// The scheme the merchant is reached by (default `https`), for the resource URL.
    pub scheme: String,
    /// The merchant's own identifier, the audience of every decision (e.g. `did:web:shop.example`
    /// or `shop.example`). `None` leaves the audience out of the request (grants that
    /// restrict audience then deny).
    pub audience: Option<String>,
    /// Which action each route performs.
    pub routes: RouteMap,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            max_window_seconds: 300,
            skew_seconds: 60,
            max_chain_bytes: 64 * 1024,
            max_signature_header_bytes: 8 * 1024,
            scheme: "https".to_owned(),
            audience: None,
            routes: RouteMap::default(),
        }
    }
}

impl HttpPolicy {
    /// Sets the merchant's identifier (the audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets the scheme used for resource URLs.
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Sets the maximum signature window.
    pub fn max_window_seconds(mut self, seconds: i64) -> Self {
        self.max_window_seconds = seconds;
        self
    }

    /// Sets the clock skew.
    pub fn skew_seconds(mut self, seconds: i64) -> Self {
        self.skew_seconds = seconds;
        self
    }

    /// Adds a route.
    pub fn route(mut self, route: Route) -> Self {
        self.routes.routes.push(route);
        self
    }
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

    fn matches(&self, method: &str, path: &str) -> bool {
        let prefix = self.path_prefix.trim_end_matches('/');
        self.method.as_deref().is_none_or(|m| m == method)
            && (path == prefix
                || prefix.is_empty()
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/')))
    }
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
        self.routes
            .iter()
            .filter(|r| r.matches(method, path))
            .max_by_key(|r| r.path_prefix.trim_end_matches('/').len())
            .map(|r| &r.action)
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
    /// `created` (unix seconds).
    pub created: i64,
    /// `expires` (unix seconds).
    pub expires: i64,
    /// The covered components, in order.
    pub covered: Vec<String>,
    /// The chain (bytes, or a digest resolved through the chain store).
    pub chain: Arc<[u8]>,
    /// Whether the chain came inline (`KYA-Chain`).
    pub chain_inline: bool,
    /// SHA-256 of the chain bytes.
    pub chain_digest: [u8; 32],
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

    /// Checks that `keyid` is the JWK thumbprint of `agent_key`.
    pub fn check_keyid(&self, agent_key: &PublicKey) -> Result<(), HttpError> {
        let expected = jwk_thumbprint(agent_key);
        if expected == self.keyid {
            Ok(())
        } else {
            Err(HttpError::KeyIdMismatch {
                keyid: self.keyid.chars().take(100).collect(),
                expected,
            })
        }
    }

    /// Checks `keyid` and the signature (`verify_strict`) against the agent's key.
    pub fn verify_signature(&self, agent_key: &PublicKey) -> Result<(), HttpError> {
        self.check_keyid(agent_key)?;
        if agent_key.verify_strict(self.signature_base(), &self.signature) {
            Ok(())
        } else {
            Err(HttpError::SignatureInvalid)
        }
    }

    /// The unix second until which the nonce must be remembered (`expires` + skew).
    pub fn nonce_expiry(&self, skew_seconds: i64) -> i64 {
        self.expires.saturating_add(skew_seconds)
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
        now: i64,
    ) -> Result<CheckedSignature, HttpError> {
        let input_len: usize = request
            .header_values(SIGNATURE_INPUT)
            .iter()
            .chain(request.header_values(SIGNATURE).iter())
            .map(|v| v.len())
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
        let verifier = WebBotAuthVerifier::parse(request).map_err(map_parse_error)?;
        let label = verifier.get_parsed_label();
        let details = &label.base.parameters.details;

        // Components.
        let covered: Vec<String> = label.base.components.keys().map(component_name).collect();
        let has = |c: &str| covered.iter().any(|x| x == c);
        let mut required = vec!["@method", "@authority", "@path", CONTENT_DIGEST];
        if request.query.is_some() {
            required.push("@query");
        }
        for name in [KYA_CHAIN, KYA_CHAIN_DIGEST, KYA_ACTION, KYA_AMOUNT] {
            if !request.header_values(name).is_empty() {
                required.push(name);
            }
        }
        for component in required {
            if !has(component) {
                return Err(HttpError::ComponentNotCovered {
                    component: component.to_owned(),
                });
            }
        }
        for component in label.base.components.keys() {
            if let CoveredComponent::Derived(DerivedComponent::QueryParams { .. }) = component {
                return Err(HttpError::SignatureMalformed {
                    detail: "@query-param is not supported".to_owned(),
                });
            }
        }

        // Parameters.
        match label.base.parameters.raw.get("alg") {
            None => {}
            Some(alg) if alg.as_string().is_some_and(|a| a.as_str() == "ed25519") => {}
            Some(alg) => {
                return Err(HttpError::AlgorithmUnsupported {
                    alg: format!("{alg:?}").chars().take(64).collect(),
                });
            }
        }
        let created = details
            .created
            .ok_or(HttpError::ParameterInvalid { name: "created" })?;
        let expires = details
            .expires
            .ok_or(HttpError::ParameterInvalid { name: "expires" })?;
        let keyid = details
            .keyid
            .clone()
            .ok_or(HttpError::ParameterInvalid { name: "keyid" })?;
        let nonce = match &details.nonce {
            Some(n) if !n.is_empty() => n.clone(),
            _ => return Err(HttpError::ParameterInvalid { name: "nonce" }),
        };
        let window = expires.saturating_sub(created);
        if window <= 0 {
            return Err(HttpError::ParameterInvalid { name: "expires" });
        }
        if window > self.policy.max_window_seconds {
            return Err(HttpError::WindowTooLong {
                window_seconds: window,
                max_seconds: self.policy.max_window_seconds,
            });
        }
        let skew = self.policy.skew_seconds;
        if created > now.saturating_add(skew) {
            return Err(HttpError::CreatedInFuture {
                created,
                now,
                skew_seconds: skew,
            });
        }
        if now > expires.saturating_add(skew) {
            return Err(HttpError::Expired { expires, now });
        }

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
        let (chain, chain_inline, chain_digest) = self.chain_of(request, now)?;

        // The base, rebuilt as the crate parsed it, verified later with `verify_strict`.
        let signature: [u8; 64] =
            label
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| HttpError::SignatureMalformed {
                    detail: "an ed25519 signature is 64 bytes".to_owned(),
                })?;
        let (base, _) = signature_base(
            label
                .base
                .components
                .iter()
                .map(|(c, v)| (c.clone(), v.clone())),
            label.base.parameters.raw.clone(),
        )?;
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

    /// The chain bytes, whether they came inline, and their digest.
    fn chain_of(&self, request: &HttpRequest, now: i64) -> Result<ChainFound, HttpError> {
        match (
            request.single_header(KYA_CHAIN)?,
            request.single_header(KYA_CHAIN_DIGEST)?,
        ) {
            (Some(inline), None) => {
                let chain = ChainRef::parse_inline(inline, self.policy.max_chain_bytes)?;
                let digest = chain.digest();
                let ChainRef::Inline(bytes) = chain else {
                    return Err(HttpError::ChainMissing);
                };
                Ok((Arc::from(bytes), true, digest))
            }
            (None, Some(digest)) => {
                let digest = ChainRef::parse_digest(digest)?.digest();
                let bytes =
                    self.chains
                        .get(&digest, now)
                        .ok_or_else(|| HttpError::ChainUnknownDigest {
                            digest: hex::encode(digest),
                        })?;
                Ok((bytes, false, digest))
            }
            _ => Err(HttpError::ChainMissing),
        }
    }

    /// Remembers a chain that verified, so later requests may name it by digest, until
    /// `expires` (unix seconds; the chain's own expiry at the latest).
    pub fn remember_chain(&self, checked: &CheckedSignature, expires: i64) {
        self.chains
            .put(checked.chain_digest, Arc::clone(&checked.chain), expires);
    }

    /// The grant request an HTTP request amounts to: the action from the route map (a
    /// `KYA-Action` header must then agree) or else from `KYA-Action`; the amount from
    /// `KYA-Amount`; the policy's audience; the resource `<scheme>://<authority><path>`;
    /// the time `now` (unix seconds).
    pub fn grant_request(
        &self,
        request: &HttpRequest,
        checked: &CheckedSignature,
        now: i64,
    ) -> Result<Request, HttpError> {
        let routed = self
            .policy
            .routes
            .action_for(&request.method, request.path_component());
        let action = match (routed, &checked.action) {
            (Some(route), Some(header)) if route != header => {
                return Err(HttpError::HeaderInvalid {
                    name: "KYA-Action".to_owned(),
                    detail: format!("this route performs `{route}`, the request says `{header}`"),
                });
            }
            (Some(route), _) => route.clone(),
            (None, Some(header)) => header.clone(),
            (None, None) => {
                return Err(HttpError::BadRequest {
                    detail: "no action: the route is not mapped and KYA-Action is absent"
                        .to_owned(),
                });
            }
        };
        let time = Timestamp::from_unix(now).ok_or_else(|| HttpError::BadRequest {
            detail: "the clock is out of range".to_owned(),
        })?;
        let mut grant_request =
            Request::new(action, time).with_resource(request.resource(&self.policy.scheme));
        if let Some(money) = &checked.amount {
            grant_request = grant_request.with_amount(money.value.clone(), money.asset.clone());
        }
        if let Some(audience) = &self.policy.audience {
            grant_request = grant_request.with_audience(audience.clone());
        }
        Ok(grant_request)
    }
}

fn map_parse_error(e: ImplementationError) -> HttpError {
    match e {
        ImplementationError::LookupError(component) => HttpError::ComponentMissing {
            component: component_name(&component),
        },
        ImplementationError::ParsingError(detail)
            if detail.starts_with("No validly-formatted")
                || detail.starts_with("No matching label") =>
        {
            HttpError::SignatureMissing {
                detail: format!("no Web Bot Auth signature ({detail})"),
            }
        }
        ImplementationError::NonAsciiContentFound => HttpError::SignatureMalformed {
            detail: "a covered value is not ascii".to_owned(),
        },
        other => HttpError::SignatureMalformed {
            detail: other.to_string().chars().take(300).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kya_core::SecretKey;
    use proptest::prelude::*;

    use super::*;
    use crate::http::RequestSigner;

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
                Some(&Action::parse("payments/send").unwrap()),
                None,
                created,
                expires,
                "n1",
            )
            .unwrap();
        (key, request)
    }

    fn verifier() -> HttpVerifier {
        HttpVerifier::new(HttpPolicy::default())
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
        let checked = verifier().check_request(&request, NOW).unwrap();
        checked.verify_signature(&key.public_key()).unwrap();
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
            v.check_request(&r, NOW),
            Err(HttpError::WindowTooLong {
                window_seconds: 301,
                max_seconds: 300
            })
        ));
        let (_, r) = signed("/pay", NOW + 61, NOW + 100);
        assert!(matches!(
            v.check_request(&r, NOW),
            Err(HttpError::CreatedInFuture { .. })
        ));
        let (_, r) = signed("/pay", NOW + 60, NOW + 100);
        assert!(v.check_request(&r, NOW).is_ok(), "within skew");
        let (_, r) = signed("/pay", NOW - 200, NOW - 61);
        assert!(matches!(
            v.check_request(&r, NOW),
            Err(HttpError::Expired { .. })
        ));
        let (_, r) = signed("/pay", NOW, NOW);
        assert!(matches!(
            v.check_request(&r, NOW),
            Err(HttpError::ParameterInvalid { name: "expires" })
        ));
    }

    #[test]
    fn every_kya_header_and_the_query_must_be_covered() {
        let v = verifier();
        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.headers.push(("KYA-Amount".into(), "1 USD".into()));
        assert_eq!(
            v.check_request(&r, NOW).unwrap_err(),
            HttpError::ComponentNotCovered {
                component: "kya-amount".into()
            }
        );
        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.query = Some("to=mallory".into());
        assert_eq!(
            v.check_request(&r, NOW).unwrap_err(),
            HttpError::ComponentNotCovered {
                component: "@query".into()
            }
        );
        let (key, r) = signed("/pay?to=alice", NOW, NOW + 60);
        let checked = v.check_request(&r, NOW).unwrap();
        assert!(checked.covered.contains(&"@query".to_owned()));
        checked.verify_signature(&key.public_key()).unwrap();
    }

    #[test]
    fn parameters_and_headers_are_strict() {
        let v = verifier();
        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        let input =
            r.header_values("signature-input")[0].replace("alg=\"ed25519\"", "alg=\"hmac-sha256\"");
        set_header(&mut r, "Signature-Input", &input);
        assert!(matches!(
            v.check_request(&r, NOW),
            Err(HttpError::AlgorithmUnsupported { .. })
        ));

        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        let input = r.header_values("signature-input")[0].replace(";nonce=\"n1\"", "");
        set_header(&mut r, "Signature-Input", &input);
        assert_eq!(
            v.check_request(&r, NOW).unwrap_err(),
            HttpError::ParameterInvalid { name: "nonce" }
        );

        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.headers
            .push(("KYA-Action".into(), "payments/refund".into()));
        assert_eq!(
            v.check_request(&r, NOW).unwrap_err(),
            HttpError::DuplicateHeader {
                name: "kya-action".into()
            }
        );

        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("kya-chain"));
        assert!(matches!(
            v.check_request(&r, NOW),
            Err(HttpError::ComponentMissing { .. })
        ));

        let (_, mut r) = signed("/pay", NOW, NOW + 60);
        r.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("signature"));
        assert!(matches!(
            v.check_request(&r, NOW),
            Err(HttpError::SignatureMissing { .. })
        ));
    }

    #[test]
    fn a_changed_method_or_path_breaks_the_signature() {
        let v = verifier();
        let (key, mut r) = signed("/pay", NOW, NOW + 60);
        r.path = "/refund".into();
        let checked = v.check_request(&r, NOW).unwrap();
        assert_eq!(
            checked.verify_signature(&key.public_key()),
            Err(HttpError::SignatureInvalid)
        );
        let (key, mut r) = signed("/pay", NOW, NOW + 60);
        r.method = "PUT".into();
        let checked = v.check_request(&r, NOW).unwrap();
        assert_eq!(
            checked.verify_signature(&key.public_key()),
            Err(HttpError::SignatureInvalid)
        );
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
        let checked = v.check_request(&r, NOW).unwrap();
        assert!(matches!(
            v.grant_request(&r, &checked, NOW),
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
            let _ = verifier().check_request(&r, NOW);
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
            let _ = verifier().check_request(&r, NOW);
        }
    }
}
