//! Merchant middleware (feature `tower`): a tower [`Layer`](tower_layer::Layer) that admits
//! only signed agent requests the verifier allows.
//!
//! For each request the service buffers the body (up to a limit, to check `Content-Digest`),
//! runs the [`KyaGate`] (signature, chain, key binding, nonce, decision), and then either
//!
//! - passes the request on, with [`KyaAdmitted`] (and the [`VerifiedAgent`]) in its
//!   extensions and the buffered body put back, or
//! - answers itself: 401 (bad, missing, expired or replayed signature; a chain that does not
//!   verify), 403 (verified but denied), 400 / 413 / 503, with an RFC 9457
//!   `application/problem+json` body naming every reason:
//!
//! ```json
//! {"type": "https://w3id.org/kya/problems/agent-not-allowed", "title": "The agent may not do this",
//!  "status": 403, "detail": "amount 150 USD exceeds the ceiling 100 USD",
//!  "reasons": [{"code": "amount_exceeds_ceiling", "link": 0, "message": "amount 150 USD exceeds the ceiling 100 USD"}]}
//! ```
//!
//! The layer works with any service over `http::Request<B>` whose body type can be built from
//! [`Bytes`] and whose response body from a `String` — axum's `Body` and
//! `http_body_util::Full<Bytes>` both can. With the `axum` feature, [`KyaAdmitted`] is also an
//! axum extractor.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};

use crate::agent::VerifiedAgent;
use crate::http::{Admitted, HttpError, HttpRequest, KyaGate, Refusal};

/// The default largest body buffered: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the middleware puts into the extensions of an admitted request.
#[derive(Debug, Clone)]
pub struct KyaAdmitted(pub Arc<Admitted>);

impl KyaAdmitted {
    /// The verified agent.
    pub fn agent(&self) -> &VerifiedAgent {
        &self.0.agent
    }

    /// The whole admission (agent, grant request, signature details, allowing grant).
    pub fn admitted(&self) -> &Admitted {
        &self.0
    }
}

/// The layer: wrap a service so that it only sees admitted agent requests.
#[derive(Debug, Clone)]
pub struct KyaLayer {
    gate: Arc<KyaGate>,
    max_body_bytes: usize,
}

impl KyaLayer {
    /// A layer running `gate`, buffering bodies up to [`DEFAULT_MAX_BODY_BYTES`].
    pub fn new(gate: KyaGate) -> Self {
        Self::shared(Arc::new(gate))
    }

    /// A layer over a shared gate (e.g. one a chain-registration handler also uses).
    pub fn shared(gate: Arc<KyaGate>) -> Self {
        Self {
            gate,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Sets the largest body buffered; larger requests get 413.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }
}

impl<S> tower_layer::Layer<S> for KyaLayer {
    type Service = KyaService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KyaService {
            inner,
            gate: Arc::clone(&self.gate),
            max_body_bytes: self.max_body_bytes,
        }
    }
}

/// The service [`KyaLayer`] produces.
#[derive(Debug, Clone)]
pub struct KyaService<S> {
    inner: S,
    gate: Arc<KyaGate>,
    max_body_bytes: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for KyaService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    ResBody: From<String> + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The inner service was made ready by `poll_ready`: use it, leave a clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = Arc::clone(&self.gate);
        let max = self.max_body_bytes;
        Box::pin(async move {
            let (parts, body, view) = match buffered(request, max).await {
                Ok(buffered) => buffered,
                Err(answer) => return Ok(answer),
            };
            match gate.admit(&view) {
                Ok(admitted) => inner.call(admitted_request(parts, body, admitted)).await,
                Err(refusal) => Ok(problem(&refusal)),
            }
        })
    }
}

/// Buffers a request's body (at most `max` bytes) and builds its view: `(parts, body, view)`,
/// or the problem answer when the body is too large or cannot be read, or the request has no
/// usable view.
pub async fn buffered<B, ResBody>(
    request: http::Request<B>,
    max: usize,
) -> Result<(http::request::Parts, Bytes, HttpRequest), http::Response<ResBody>>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
    ResBody: From<String>,
{
    let (parts, body) = request.into_parts();
    let body = read_body(body, max)
        .await
        .map_err(|e| problem(&Refusal::NotVerified(e)))?;
    let view = request_view(&parts, &body).map_err(|e| problem(&Refusal::NotVerified(e)))?;
    Ok((parts, body, view))
}

/// The request to pass on once admitted: its body put back, [`KyaAdmitted`] and the
/// [`VerifiedAgent`] in its extensions.
pub fn admitted_request<B: From<Bytes>>(
    mut parts: http::request::Parts,
    body: Bytes,
    admitted: Admitted,
) -> http::Request<B> {
    let admitted = KyaAdmitted(Arc::new(admitted));
    parts.extensions.insert(admitted.agent().clone());
    parts.extensions.insert(admitted);
    http::Request::from_parts(parts, B::from(body))
}

/// Reads a whole body of at most `max` bytes: `BodyTooLarge` past it, `BadRequest` when it
/// cannot be read.
pub async fn read_body<B>(body: B, max: usize) -> Result<Bytes, HttpError>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(HttpError::BodyTooLarge { max_bytes: max })
        }
        Err(_) => Err(HttpError::BadRequest {
            detail: "the body could not be read".to_owned(),
        }),
    }
}

/// The framework-neutral view of a request: method, authority, path, query, headers and the
/// buffered body. The authority is the one a handler (or an upstream) can also see: the
/// `Host` header, which a request whose target names an authority (absolute form) must
/// repeat; a request naming two authorities, or with two `Host` headers, is refused rather
/// than judged on one while served on the other.
pub fn request_view(parts: &http::request::Parts, body: &Bytes) -> Result<HttpRequest, HttpError> {
    let authority = authority(parts)?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let mut view = HttpRequest::new(parts.method.as_str(), &authority, &path_and_query);
    for (name, value) in &parts.headers {
        match value.to_str() {
            Ok(value) => view
                .headers
                .push((name.as_str().to_owned(), value.to_owned())),
            // A header the gate judges must be read as the handler reads it: refuse rather
            // than judge a request without it.
            Err(_) if judged_header(name.as_str()) => {
                return Err(HttpError::HeaderInvalid {
                    name: name.as_str().to_owned(),
                    detail: "not visible ascii".to_owned(),
                });
            }
            // Any other header cannot be covered by a signature: keep it out of the view.
            Err(_) => {}
        }
    }
    view.body = body.to_vec();
    Ok(view)
}

/// The request's one authority: its `Host` header, and its target's authority when the target
/// is in absolute form (the two must agree, ASCII case aside).
fn authority(parts: &http::request::Parts) -> Result<String, HttpError> {
    let mut hosts = parts.headers.get_all(http::header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(HttpError::DuplicateHeader {
            name: "host".to_owned(),
        });
    }
    let host = host
        .map(|h| {
            h.to_str().map_err(|_| HttpError::HeaderInvalid {
                name: "host".to_owned(),
                detail: "not visible ascii".to_owned(),
            })
        })
        .transpose()?;
    match (
        parts.uri.authority().map(http::uri::Authority::as_str),
        host,
    ) {
        (Some(target), Some(host)) if !target.eq_ignore_ascii_case(host) => {
            Err(HttpError::BadRequest {
                detail: format!(
                    "the request's target names {target} and its Host header {host}: one would be judged and the other served"
                ),
            })
        }
        (Some(one), _) | (None, Some(one)) => Ok(one.to_owned()),
        (None, None) => Err(HttpError::BadRequest {
            detail: "the request names no authority (no Host header)".to_owned(),
        }),
    }
}

/// Headers whose values the gate reads: signatures, the body's digest, the `kya-*` headers.
fn judged_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("kya-")
        || matches!(
            name.as_str(),
            "signature" | "signature-input" | "content-digest" | "host"
        )
}

/// The problem-details response for a refusal.
pub fn problem<ResBody: From<String>>(refusal: &Refusal) -> http::Response<ResBody> {
    let body = refusal.problem_details().to_string();
    let mut response = http::Response::new(ResBody::from(body));
    *response.status_mut() =
        http::StatusCode::from_u16(refusal.status()).unwrap_or(http::StatusCode::UNAUTHORIZED);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    if refusal.status() == 401 {
        // RFC 9110 §11.6.1: a 401 names a scheme; HTTP Message Signatures have none
        // registered, so name the profile.
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Signature tag=\"web-bot-auth\""),
        );
    }
    if refusal.status() == 503 {
        // A store that cannot answer is an outage, not a verdict on the agent: try again.
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    response
}

#[cfg(feature = "axum")]
mod extract {
    use super::{KyaAdmitted, problem};
    use crate::http::{HttpError, Refusal};

    /// The rejection when a handler asks for [`KyaAdmitted`] on a route the layer does not
    /// guard: 401 with a problem-details body (fail closed).
    #[derive(Debug, Clone, Copy)]
    pub struct NotAdmitted;

    impl axum_core::response::IntoResponse for NotAdmitted {
        fn into_response(self) -> axum_core::response::Response {
            problem(&Refusal::NotVerified(HttpError::SignatureMissing {
                detail: "this route is not guarded by the kya layer".to_owned(),
            }))
        }
    }

    impl<S: Send + Sync> axum_core::extract::FromRequestParts<S> for KyaAdmitted {
        type Rejection = NotAdmitted;

        async fn from_request_parts(
            parts: &mut http::request::Parts,
            _state: &S,
        ) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<KyaAdmitted>()
                .cloned()
                .ok_or(NotAdmitted)
        }
    }
}

#[cfg(feature = "axum")]
pub use extract::NotAdmitted;

#[cfg(test)]
mod tests {
    use super::*;

    fn view(target: &str, hosts: &[&str]) -> Result<HttpRequest, HttpError> {
        let mut builder = http::Request::builder().method("POST").uri(target);
        for host in hosts {
            builder = builder.header(http::header::HOST, *host);
        }
        let (parts, ()) = builder.body(()).unwrap_or_default().into_parts();
        request_view(&parts, &Bytes::new())
    }

    /// An upstream or handler that routes on `Host` must see the authority that was judged.
    #[test]
    fn a_request_names_one_authority() {
        let judged = |r: Result<HttpRequest, HttpError>| r.map(|v| v.authority);
        assert_eq!(
            judged(view("/pay", &["shop.example"])).ok().as_deref(),
            Some("shop.example")
        );
        assert_eq!(
            judged(view("http://shop.example/pay", &["Shop.Example"]))
                .ok()
                .as_deref(),
            Some("shop.example")
        );
        assert_eq!(
            judged(view("http://shop.example/pay", &[])).ok().as_deref(),
            Some("shop.example")
        );
        assert!(matches!(
            view("http://shop.example/pay", &["admin.internal"]),
            Err(HttpError::BadRequest { detail }) if detail.contains("admin.internal")
        ));
        assert!(matches!(
            view("/pay", &["shop.example", "admin.internal"]),
            Err(HttpError::DuplicateHeader { name }) if name == "host"
        ));
        assert!(matches!(
            view("/pay", &[]),
            Err(HttpError::BadRequest { .. })
        ));
    }
}
