//! x402 payments on priced routes: the route's terms, the admission through kya-x402's
//! [`PaidGate`] (kya signature, chain, grants, payer, payment), and the settlement by the
//! gateway's own facilitator before anything is forwarded.

use std::sync::Arc;

use kya_verify::http::{HttpRequest, KyaGate};
use kya_x402::{
    Address, CheckedPayment, Facilitator, FacilitatorError, PaidAdmission, PaidGate, PaidRefusal,
    PaymentTerms, PrivateKeySigner, SettleResponse,
};
use tokio::sync::OnceCell;

use crate::config::{RouteConfig, X402Config};
use crate::decide::Problem;
use crate::error::GatewayError;

/// A route's terms from its `[route.x402]` and the `[x402]` section.
pub(crate) fn route_terms(
    x402: Option<&X402Config>,
    route: &RouteConfig,
) -> Result<Option<PaymentTerms>, GatewayError> {
    let Some(r) = &route.x402 else {
        return Ok(None);
    };
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        GatewayError::Config(format!("route {}: x402 {what}: {e}", route.path))
    };
    let x = x402.ok_or_else(|| bad("terms", &"[route.x402] needs an [x402] section"))?;
    let address = |what: &str, s: &str| s.parse::<Address>().map_err(|e| bad(what, &e));
    let terms = PaymentTerms {
        chain_id: x.chain_id,
        token: address("token", &x.token)?,
        decimals: x.decimals,
        eip712_name: x.token_name.clone(),
        eip712_version: x.token_version.clone(),
        pay_to: address("pay_to", r.pay_to.as_deref().unwrap_or(&x.pay_to))?,
        price: r.price.parse().map_err(|e| bad("price", &e))?,
        max_timeout_seconds: r.max_timeout_seconds.unwrap_or(x.max_timeout_seconds),
    };
    // Every term must be expressible as requirements (price precision, window bound).
    terms.requirements().map_err(|e| bad("terms", &e))?;
    Ok(Some(terms))
}

/// What a request on a priced route carries beyond the decision: the headers to answer
/// with and the payment to settle.
#[derive(Debug, Default)]
pub(crate) struct PayState {
    /// `PAYMENT-REQUIRED` (base64 JSON) on a 402 or a refused payment.
    pub(crate) required: Option<String>,
    /// The same requirements as JSON, the body of a 402.
    pub(crate) required_json: Option<String>,
    /// The checked payment of an admitted request, to settle.
    pub(crate) checked: Option<CheckedPayment>,
    /// `PAYMENT-RESPONSE` (base64 JSON) once settled or failed.
    pub(crate) response: Option<String>,
}

/// Admits `request` on a route charging `terms`: `Ok` when the kya gate and the payment check
/// pass, else the refusal (nothing has moved).
pub(crate) fn admit(
    kya: &Arc<KyaGate>,
    scheme: &str,
    terms: &PaymentTerms,
    request: &HttpRequest,
) -> Result<PaidAdmission, PaidRefusal> {
    // The gateway picked the route (longest prefix); the paid gate charges exactly this path.
    let gate = PaidGate::new(Arc::clone(kya))
        .scheme(scheme)
        .price(request.path_component(), terms.clone());
    match gate.admit(request)? {
        Some(admitted) => Ok(admitted),
        // Unreachable by construction; refused rather than let through unpaid.
        None => Err(PaidRefusal::PaymentRequired(Box::new(
            gate.payment_required(request, terms, "payment required")
                .map_err(PaidRefusal::Terms)?,
        ))),
    }
}

/// The gateway's problem and payment headers for a refusal on a priced route.
pub(crate) fn refusal(r: &PaidRefusal) -> (Problem, PayState) {
    let required = match r {
        PaidRefusal::PaymentRequired(p) | PaidRefusal::Payment { required: p, .. } => Some(p),
        _ => None,
    };
    let state = PayState {
        required: r.payment_required_header(),
        required_json: required.and_then(|p| serde_json::to_string(p).ok()),
        ..PayState::default()
    };
    let problem = Problem {
        status: r.status(),
        code: r.code(),
        message: r.message(),
    };
    (problem, state)
}

/// The gateway's facilitator: connects on first use (the node may start after the gateway)
/// and sends settlements from the configured account.
pub(crate) struct Settler {
    rpc: String,
    chain_id: u64,
    signer: PrivateKeySigner,
    settle_timeout: std::time::Duration,
    facilitator: OnceCell<Facilitator>,
}

impl std::fmt::Debug for Settler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settler")
            .field("rpc", &self.rpc)
            .field("account", &self.signer.address())
            .finish_non_exhaustive()
    }
}

impl Settler {
    /// The settler `[x402]` configures; its key is read now (file or environment).
    pub(crate) fn from_config(x: &X402Config) -> Result<Self, GatewayError> {
        let signer =
            crate::receipts::eth_signer(x.eth_key_file.as_deref(), &x.eth_key_env, "[x402]")?;
        Ok(Self {
            rpc: x.rpc.clone(),
            chain_id: x.chain_id,
            signer,
            settle_timeout: std::time::Duration::from_secs(x.settle_timeout_seconds),
            facilitator: OnceCell::new(),
        })
    }

    async fn facilitator(&self) -> Result<&Facilitator, FacilitatorError> {
        let f = self
            .facilitator
            .get_or_try_init(|| {
                Facilitator::connect_within(&self.rpc, self.signer.clone(), self.settle_timeout)
            })
            .await?;
        if f.chain_id() != self.chain_id {
            return Err(FacilitatorError::WrongChain {
                expected: self.chain_id,
                actual: f.chain_id(),
            });
        }
        Ok(f)
    }

    /// Verifies on chain and settles `checked`; never twice for one authorization.
    pub(crate) async fn settle(
        &self,
        checked: &CheckedPayment,
    ) -> Result<SettleResponse, (FacilitatorError, SettleResponse)> {
        let failed = |e: FacilitatorError| {
            let response = e.settle_response(checked);
            (e, response)
        };
        let f = self.facilitator().await.map_err(failed)?;
        match f.settle(&checked.payload, &checked.requirements).await {
            Ok(s) => Ok(s.response()),
            Err(e) => Err(failed(e)),
        }
    }
}
