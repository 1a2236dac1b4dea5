//! A priced route in front of kya's HTTP gate: an unpaid request gets 402 with the x402
//! requirements; a paid one must pass the kya gate (signature, chain), the payment's own
//! checks ([`check_payment_alone`]), then the nonce and the decision with the paid amount
//! (budgets and rates charged) in one step of the stores, before it can be settled.

use std::sync::Arc;

use kya_verify::VerifiedAgent;
use kya_verify::http::{AdmitError, CheckedSignature, HttpError, HttpRequest, KyaGate, Refusal};

use crate::check::{CheckedPayment, PaymentError, check_payment_alone};
use crate::terms::{PaymentTerms, TermsError};
use crate::wire::{PAYMENT_SIGNATURE, PaymentPayload, PaymentRequired, ResourceInfo};

/// A paid request that passed the kya gate and the payment check: settle it next.
#[derive(Debug, Clone)]
pub struct PaidAdmission {
    /// The verified agent.
    pub agent: VerifiedAgent,
    /// The kya signature's details.
    pub signature: CheckedSignature,
    /// The payment, checked, with the allowed decision.
    pub payment: CheckedPayment,
}

/// Why a request on a priced route is not admitted. Nothing has moved.
#[derive(Debug)]
#[non_exhaustive]
pub enum PaidRefusal {
    /// No payment attached: answer 402 with this in `PAYMENT-REQUIRED`.
    PaymentRequired(Box<PaymentRequired>),
    /// The kya gate refused the request (signature, chain, revocation, nonce, …).
    NotVerified(HttpError),
    /// The payment was refused; the requirements are repeated for the client.
    Payment {
        /// Why.
        error: Box<PaymentError>,
        /// The 402 answer to repeat.
        required: Box<PaymentRequired>,
    },
    /// The route's terms are misconfigured.
    Terms(TermsError),
}

impl PaidRefusal {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::PaymentRequired(_) => 402,
            Self::NotVerified(e) => e.status(),
            Self::Payment { error, .. } => error.status(),
            Self::Terms(_) => 500,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PaymentRequired(_) => "x402_payment_required",
            Self::NotVerified(e) => e.code().as_str(),
            Self::Payment { error, .. } => error.code(),
            Self::Terms(_) => "x402_terms_invalid",
        }
    }

    /// The sentence a problem body gives for it.
    pub fn message(&self) -> String {
        match self {
            Self::PaymentRequired(_) => "this route takes an x402 payment".to_owned(),
            Self::NotVerified(e) => e.to_string(),
            Self::Payment { error, .. } => error.to_string(),
            Self::Terms(e) => e.to_string(),
        }
    }

    /// The `PAYMENT-REQUIRED` header value to send, when there is one.
    pub fn payment_required_header(&self) -> Option<String> {
        match self {
            Self::PaymentRequired(r) | Self::Payment { required: r, .. } => Some(r.to_header()),
            _ => None,
        }
    }
}

/// kya's gate with prices on some paths.
#[derive(Debug, Clone)]
pub struct PaidGate {
    gate: Arc<KyaGate>,
    scheme: String,
    prices: Vec<(String, PaymentTerms)>,
}

impl PaidGate {
    /// Prices on top of `gate`; resources are `scheme://authority/path` (`https`).
    pub fn new(gate: Arc<KyaGate>) -> Self {
        Self {
            gate,
            scheme: "https".to_owned(),
            prices: Vec::new(),
        }
    }

    /// The scheme of resource URLs (`https` by default; the kya gate's scheme).
    #[must_use]
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Charges `terms` on requests to `path` and below it, by whole segments, as kya's routes
    /// match paths ([`path_under`](kya_verify::http::path_under): `/api/checkout` prices
    /// `/api/checkout/` and `/api/checkout/c-1` too, which the kya gate's `/api/checkout`
    /// route maps); where several priced paths cover a request, the longest wins.
    #[must_use]
    pub fn price(mut self, path: impl Into<String>, terms: PaymentTerms) -> Self {
        self.prices.push((path.into(), terms));
        self
    }

    /// The kya gate.
    pub fn gate(&self) -> &KyaGate {
        &self.gate
    }

    /// The terms for `request`'s path, if it is priced (see [`price`](Self::price)).
    pub fn terms_for(&self, request: &HttpRequest) -> Option<&PaymentTerms> {
        let priced = self.prices.iter().map(|(p, t)| (p.as_str(), t));
        kya_verify::http::longest_under(priced, request.path_component())
    }

    /// The 402 answer for `request` under `terms`.
    pub fn payment_required(
        &self,
        request: &HttpRequest,
        terms: &PaymentTerms,
        error: &str,
    ) -> Result<PaymentRequired, TermsError> {
        let resource = ResourceInfo {
            url: request.resource(&self.scheme),
            description: None,
            mime_type: None,
        };
        terms.payment_required(resource, Some(error.to_owned()))
    }

    /// Admits a request to a priced route: 402 without a payment (no signature work), then
    /// the kya gate's signature and chain, the payment's own checks, and the nonce with the
    /// decision on the paid amount in one step of the stores (nothing is recorded or charged
    /// for a request refused before it). `Ok(None)` for an unpriced route (use the kya gate
    /// alone).
    pub fn admit(&self, request: &HttpRequest) -> Result<Option<PaidAdmission>, PaidRefusal> {
        let Some(terms) = self.terms_for(request) else {
            return Ok(None);
        };
        let required = |why: &str| self.payment_required(request, terms, why);
        let header = request
            .single_header(PAYMENT_SIGNATURE)
            .map_err(PaidRefusal::NotVerified)?;
        let Some(header) = header else {
            let r = required("PAYMENT-SIGNATURE header is required").map_err(PaidRefusal::Terms)?;
            return Err(PaidRefusal::PaymentRequired(Box::new(r)));
        };
        let refuse = |error: PaymentError| match required(&error.to_string()) {
            Ok(r) => PaidRefusal::Payment {
                error: Box::new(error),
                required: Box::new(r),
            },
            Err(e) => PaidRefusal::Terms(e),
        };
        let payload = PaymentPayload::from_header(header).map_err(|e| refuse(e.into()))?;
        // The payment's own checks run before the nonce is recorded; the nonce and the
        // charges of the paid amount are then one step of the stores (one round trip on
        // Redis). A refused payment records nothing.
        let now = self.gate.now();
        let complete =
            |agent: &VerifiedAgent, _: &CheckedSignature, grant: &mut kya_core::grant::Request| {
                let payment = check_payment_alone(now, agent, grant, terms, &payload)?;
                grant.amount.clone_from(&payment.request.amount);
                Ok(payment)
            };
        let (admitted, undecided) = match self.gate.admit_completing(request, complete) {
            Ok(done) => done,
            Err(AdmitError::Completing(error)) => return Err(refuse(error)),
            Err(AdmitError::Refused(Refusal::NotVerified(e))) => {
                return Err(PaidRefusal::NotVerified(e));
            }
            Err(AdmitError::Refused(Refusal::Denied { decision, .. })) => {
                return Err(refuse(PaymentError::Denied(decision)));
            }
        };
        let payment = undecided.decided(admitted.decision).map_err(refuse)?;
        let (agent, signature) = (admitted.agent, admitted.signature);
        Ok(Some(PaidAdmission {
            agent,
            signature,
            payment,
        }))
    }
}
