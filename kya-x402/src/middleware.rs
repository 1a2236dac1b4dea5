//! Merchant middleware (feature `tower`): kya's tower layer with x402 prices. A request to a
//! priced path must carry the kya signature and an x402 payment its grants cover; the payment
//! is settled on chain before the inner service sees the request, and the answer carries
//! `PAYMENT-RESPONSE`. Unpriced paths are gated by kya alone, as
//! [`KyaLayer`](kya_verify::middleware::KyaLayer) does.
//!
//! | request | answer |
//! | --- | --- |
//! | priced path, no `PAYMENT-SIGNATURE` | 402, `PAYMENT-REQUIRED`, the requirements as the JSON body; nothing verified |
//! | the kya gate refuses | its 401/403/400/413/429/503 problem JSON; nothing settled |
//! | the payment is refused | 402 with `PAYMENT-REQUIRED` (its `error` says why), or 403 problem JSON (`x402_grants_deny`) with `PAYMENT-REQUIRED`; nothing settled |
//! | admitted, the settlement fails | 402 problem JSON (`x402_settlement_failed`) with `PAYMENT-RESPONSE` {`success`: false}; the inner service is not called |
//! | admitted, the settlement's outcome unknown (the node failed or ran out of time once the transaction could have been sent) | 504 problem JSON (`x402_settlement_unconfirmed`) with `PAYMENT-RESPONSE` {`success`: false, the transaction when known}; the inner service is not called, and the payment may still settle |
//! | admitted and settled | the inner service's answer, with `PAYMENT-RESPONSE`; the request carries the [`VerifiedAgent`](kya_verify::VerifiedAgent) and [`KyaPaid`] |
//!
//! ```rust,no_run
//! use std::sync::Arc;
//!
//! use kya_verify::http::KyaGate;
//! use kya_x402::middleware::PaidLayer;
//! use kya_x402::{Facilitator, PaidGate, PaymentTerms, PrivateKeySigner};
//!
//! # async fn example(gate: Arc<KyaGate>, terms: PaymentTerms, key: PrivateKeySigner)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! // `gate`: kya's HTTP gate (verifier with registry view and ledger, authorities, routes);
//! // `terms`: 12.50 of the token to the merchant's address; `key`: the account that sends
//! // settlements and pays their gas.
//! let facilitator = Arc::new(Facilitator::connect("http://127.0.0.1:8545", key).await?);
//! let layer = PaidLayer::new(PaidGate::new(gate).price("/api/checkout", terms), facilitator);
//! // axum: Router::new().route("/api/checkout", post(checkout)).layer(layer); the handler
//! // reads `Extension<KyaPaid>` (the settlement's transaction) and the `VerifiedAgent`.
//! # let _ = layer; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use kya_verify::http::{Refusal, one_reason_problem};
use kya_verify::middleware::{DEFAULT_MAX_BODY_BYTES, admitted_request, buffered, problem};

use crate::facilitator::Facilitator;
use crate::gate::{PaidAdmission, PaidGate, PaidRefusal};
use crate::wire::{PAYMENT_REQUIRED, PAYMENT_RESPONSE, SettleResponse};

/// What the layer puts into the extensions of a paid, settled request.
#[derive(Debug, Clone)]
pub struct KyaPaid {
    /// The admission: the verified agent, the signature and the checked payment.
    pub admission: Arc<PaidAdmission>,
    /// The settlement (its transaction).
    pub settlement: SettleResponse,
}

/// The layer: kya's gate with x402 prices, settling through `facilitator`.
#[derive(Debug, Clone)]
pub struct PaidLayer {
    gate: Arc<PaidGate>,
    facilitator: Arc<Facilitator>,
    max_body_bytes: usize,
}

impl PaidLayer {
    /// A layer running `gate`, settling with `facilitator`, buffering bodies up to
    /// [`DEFAULT_MAX_BODY_BYTES`].
    pub fn new(gate: PaidGate, facilitator: Arc<Facilitator>) -> Self {
        Self {
            gate: Arc::new(gate),
            facilitator,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Sets the largest body buffered; larger requests get 413.
    #[must_use]
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }
}

impl<S> tower_layer::Layer<S> for PaidLayer {
    type Service = PaidService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaidService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`PaidLayer`] produces.
#[derive(Debug, Clone)]
pub struct PaidService<S> {
    inner: S,
    layer: PaidLayer,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for PaidService<S>
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
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body, view) = match buffered(request, layer.max_body_bytes).await {
                Ok(buffered) => buffered,
                Err(answer) => return Ok(answer),
            };
            let paid = match layer.gate.admit(&view) {
                Ok(Some(admission)) => admission,
                // An unpriced path: kya's gate alone.
                Ok(None) => {
                    return match layer.gate.gate().admit(&view) {
                        Ok(admitted) => inner.call(admitted_request(parts, body, admitted)).await,
                        Err(refusal) => Ok(problem(&refusal)),
                    };
                }
                Err(refusal) => return Ok(refused(&refusal)),
            };
            let settlement = match layer
                .facilitator
                .settle(&paid.payment.payload, &paid.payment.requirements)
                .await
            {
                Ok(s) => s.response(),
                Err(e) => {
                    // Nothing moved: the budget goes back (a store that cannot answer
                    // leaves it charged: fail closed).
                    let _ = paid
                        .payment
                        .settlement_failed(&e, layer.gate.gate().verifier());
                    let failed = e.settle_response(&paid.payment);
                    let status = e.settle_status();
                    let body = one_reason_problem(status, e.settle_code(), &e.settle_message());
                    let mut r = response(status, "application/problem+json", body.to_string());
                    set_header(&mut r, PAYMENT_RESPONSE, &failed.to_header());
                    return Ok(r);
                }
            };
            let header = settlement.to_header();
            parts.extensions.insert(paid.agent.clone());
            parts.extensions.insert(KyaPaid {
                admission: Arc::new(paid),
                settlement,
            });
            let mut answer = inner
                .call(http::Request::from_parts(parts, B::from(body)))
                .await?;
            set_header(&mut answer, PAYMENT_RESPONSE, &header);
            Ok(answer)
        })
    }
}

/// The answer to a refusal on a priced path (nothing has moved).
pub fn refused<ResBody: From<String>>(refusal: &PaidRefusal) -> http::Response<ResBody> {
    let mut r = match refusal {
        PaidRefusal::NotVerified(e) => return problem(&Refusal::NotVerified(e.clone())),
        // x402: the requirements, as in `PAYMENT-REQUIRED`, are the 402's body, their
        // `error` saying why.
        PaidRefusal::PaymentRequired(required) | PaidRefusal::Payment { required, .. }
            if refusal.status() == 402 =>
        {
            let body = serde_json::to_string(required).unwrap_or_default();
            response(402, "application/json", body)
        }
        other => {
            let body = one_reason_problem(other.status(), other.code(), &other.message());
            response(other.status(), "application/problem+json", body.to_string())
        }
    };
    if let Some(required) = refusal.payment_required_header() {
        set_header(&mut r, PAYMENT_REQUIRED, &required);
    }
    r
}

fn response<ResBody: From<String>>(
    status: u16,
    content_type: &'static str,
    body: String,
) -> http::Response<ResBody> {
    let mut r = http::Response::new(ResBody::from(body));
    *r.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}

fn set_header<ResBody>(r: &mut http::Response<ResBody>, name: &str, value: &str) {
    // x402's names are upper case (HTTP names are case-insensitive: stored lower case);
    // base64 is always a valid header value.
    if let (Ok(n), Ok(v)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        http::HeaderValue::from_str(value),
    ) {
        r.headers_mut().insert(n, v);
    }
}
