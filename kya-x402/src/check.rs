//! The merchant's check: is this x402 payment one the verified agent's chain allows, from a
//! wallet tied to the agent, to this merchant, for this request — before any money moves.

use alloy::primitives::{Address, U256};
use kya_core::grant::{Money, Request};
use kya_core::{Did, Timestamp};
use kya_verify::{Decision, VerifiedAgent, Verifier, VerifyError};

use crate::eip3009::{SignatureError, TokenDomain};
use crate::terms::{PaymentTerms, TermsError, from_atomic};
use crate::wire::{
    ExactAuthorization, PaymentPayload, PaymentRequirements, SCHEME_EXACT, WireError, X402_VERSION,
};

/// Seconds an authorization must still be valid when checked, so that its settlement
/// transaction lands inside the window (the official facilitator keeps 6).
pub const SETTLEMENT_MARGIN_SECONDS: i64 = 6;

/// Which wallet paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayerRole {
    /// The agent's ERC-8004 `agentWallet`, as the verifier's registry view has it now.
    AgentWallet,
    /// The principal's wallet (a `did:pkh` principal on the payment's chain).
    PrincipalWallet,
}

/// A payment that passed every check, with the allowed decision (budget and rate charged
/// through the verifier's ledger): ready to settle. Reads as the [`UndecidedPayment`] it was
/// (payer, authorization, payload, requirements, the request decided on).
#[derive(Debug, Clone)]
pub struct CheckedPayment {
    payment: UndecidedPayment,
    /// The decision (allowed).
    pub decision: Decision,
}

impl std::ops::Deref for CheckedPayment {
    type Target = UndecidedPayment;

    fn deref(&self) -> &UndecidedPayment {
        &self.payment
    }
}

impl CheckedPayment {
    /// The payment and its decision.
    pub fn into_parts(self) -> (UndecidedPayment, Decision) {
        (self.payment, self.decision)
    }
}

/// Why a payment is refused. Nothing has moved when this is returned; [`code`](Self::code)
/// is stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentError {
    /// The payment cannot be read.
    #[error("payment payload is invalid: {0}")]
    Payload(#[from] WireError),
    /// The merchant's terms cannot be expressed (a configuration error).
    #[error("payment terms: {0}")]
    Terms(#[from] TermsError),
    /// Not x402 version 2.
    #[error("x402 version {version} is not supported (only {X402_VERSION})")]
    Version {
        /// The version sent.
        version: u32,
    },
    /// Not the `exact` scheme.
    #[error("payment scheme `{scheme}` is not supported (only `exact`)")]
    Scheme {
        /// The scheme sent.
        scheme: String,
    },
    /// Another network than the merchant's.
    #[error("payment is on network `{network}`, the merchant accepts `{expected}`")]
    Network {
        /// The network sent.
        network: String,
        /// The merchant's.
        expected: String,
    },
    /// Another token than the merchant's.
    #[error("payment is in asset `{asset}`, the merchant accepts `{expected}`")]
    Asset {
        /// The asset sent.
        asset: String,
        /// The merchant's token.
        expected: Address,
    },
    /// Paid to someone else than this merchant.
    #[error("payment goes to `{pay_to}`, not to this merchant's `{expected}`")]
    Recipient {
        /// Where the payment goes.
        pay_to: String,
        /// The merchant's address.
        expected: Address,
    },
    /// Another amount than the price.
    #[error("payment is for {amount} atomic units, the price is {expected}")]
    Amount {
        /// The amount sent.
        amount: String,
        /// The price.
        expected: U256,
    },
    /// The chosen requirements differ from the merchant's in another field.
    #[error("payment's accepted requirements differ from the merchant's in `{field}`")]
    Requirements {
        /// The field.
        field: &'static str,
    },
    /// For another resource than this request's.
    #[error("payment is for resource `{resource}`, this request is `{expected}`")]
    Resource {
        /// The resource paid for (empty when absent).
        resource: String,
        /// This request's resource.
        expected: String,
    },
    /// The authorization is not valid yet.
    #[error("authorization is valid only after {valid_after}, now is {now}")]
    NotYetValid {
        /// Its `validAfter`.
        valid_after: U256,
        /// Now (unix seconds).
        now: i64,
    },
    /// The authorization expired (or expires before it could settle).
    #[error(
        "authorization expires at {valid_before}, too soon at {now} (margin {SETTLEMENT_MARGIN_SECONDS} s)"
    )]
    Expired {
        /// Its `validBefore`.
        valid_before: U256,
        /// Now (unix seconds).
        now: i64,
    },
    /// The authorization stays valid longer than the merchant's `maxTimeoutSeconds` allows.
    #[error(
        "authorization is valid until {valid_before}, beyond now {now} + {max_timeout_seconds} s"
    )]
    WindowTooLong {
        /// Its `validBefore`.
        valid_before: U256,
        /// Now (unix seconds).
        now: i64,
        /// The merchant's window.
        max_timeout_seconds: u64,
    },
    /// The signature is not valid.
    #[error("payment signature is invalid: {0}")]
    Signature(#[from] SignatureError),
    /// The signature is by another key than `from`.
    #[error("payment is signed by {signer}, not by its payer {from}")]
    WrongSigner {
        /// The payer named.
        from: Address,
        /// Who signed.
        signer: Address,
    },
    /// The payer is neither the agent's registered wallet nor its principal's.
    #[error(
        "payer {payer} is neither the agent's registered wallet ({agent_wallet}) nor its principal's ({principal})"
    )]
    PayerNotAgent {
        /// The payer.
        payer: Address,
        /// The agent's `agentWallet` (`none` when unregistered or unset).
        agent_wallet: String,
        /// The principal.
        principal: String,
    },
    /// The amount the kya signature declares (`KYA-Amount`) is not the payment's.
    #[error("the signed request declares {declared}, the payment is {paid}")]
    DeclaredAmount {
        /// What the signed request declares.
        declared: Box<Money>,
        /// What the payment is.
        paid: Box<Money>,
    },
    /// The chain's grants do not allow the payment (ceiling, asset, budget, rate, …).
    #[error("the agent's grants do not allow this payment: {}", explain(.0))]
    Denied(Box<Decision>),
    /// The verifier could not decide (ledger unavailable, …).
    #[error("the verifier could not decide: {0}")]
    Verify(#[from] VerifyError),
}

fn explain(d: &Decision) -> String {
    d.reasons()
        .iter()
        .map(|r| format!("{}: {}", r.code, r.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl PaymentError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Payload(_) => "x402_payload_invalid",
            Self::Terms(_) => "x402_terms_invalid",
            Self::Version { .. } => "x402_version_unsupported",
            Self::Scheme { .. } => "x402_scheme_unsupported",
            Self::Network { .. } => "x402_network_mismatch",
            Self::Asset { .. } => "x402_asset_mismatch",
            Self::Recipient { .. } => "x402_recipient_mismatch",
            Self::Amount { .. } => "x402_amount_mismatch",
            Self::Requirements { .. } => "x402_requirements_mismatch",
            Self::Resource { .. } => "x402_resource_mismatch",
            Self::NotYetValid { .. } => "x402_authorization_not_yet_valid",
            Self::Expired { .. } => "x402_authorization_expired",
            Self::WindowTooLong { .. } => "x402_authorization_window_too_long",
            Self::Signature(_) | Self::WrongSigner { .. } => "x402_signature_invalid",
            Self::PayerNotAgent { .. } => "x402_payer_not_agent",
            Self::DeclaredAmount { .. } => "x402_declared_amount_mismatch",
            Self::Denied(_) => "x402_grants_deny",
            Self::Verify(e) => e.code().as_str(),
        }
    }

    /// The x402 specification's error reason closest to this refusal (for `invalidReason` /
    /// `errorReason`).
    pub fn x402_reason(&self) -> &'static str {
        match self {
            Self::Version { .. } => "invalid_x402_version",
            Self::Scheme { .. } => "unsupported_scheme",
            Self::Network { .. } => "invalid_network",
            Self::Recipient { .. } => "invalid_exact_evm_payload_recipient_mismatch",
            Self::Amount { .. } => "invalid_exact_evm_payload_authorization_value",
            Self::NotYetValid { .. } => "invalid_exact_evm_payload_authorization_valid_after",
            Self::Expired { .. } | Self::WindowTooLong { .. } => {
                "invalid_exact_evm_payload_authorization_valid_before"
            }
            Self::Signature(_) | Self::WrongSigner { .. } => "invalid_exact_evm_payload_signature",
            Self::Asset { .. } | Self::Requirements { .. } | Self::Terms(_) => {
                "invalid_payment_requirements"
            }
            _ => "invalid_payload",
        }
    }

    /// The HTTP status: 403 when the grants deny, 503 when a store cannot answer, 401 for
    /// other verifier refusals, 402 otherwise (pay again, differently).
    pub fn status(&self) -> u16 {
        match self {
            Self::Denied(_) => 403,
            Self::Verify(VerifyError::StoreUnavailable(_)) => 503,
            Self::Verify(_) => 401,
            Self::Terms(_) => 500,
            _ => 402,
        }
    }
}

/// Checks `payload` against the merchant's `terms` for the verified `agent` and its signed
/// `request` (the gate's grant request: action, audience, this request's resource), and
/// decides the request with the payment's amount through `verifier` (its ledger charges
/// budgets and rates): [`check_payment_alone`], then the decision (the only step with an effect:
/// ledger charges). Nothing moves money.
pub fn check_payment(
    verifier: &Verifier,
    agent: &VerifiedAgent,
    request: &Request,
    terms: &PaymentTerms,
    payload: &PaymentPayload,
) -> Result<CheckedPayment, PaymentError> {
    let verified = check_payment_alone(verifier.now(), agent, request, terms, payload)?;
    let decision = verifier.decide(agent, &verified.request)?;
    verified.decided(decision)
}

/// Every check of the payment itself, at `now`, with no effect: the requirements are the
/// merchant's, the resource is the request's, the authorization's window and signature
/// hold, the payer is the agent's or its principal's wallet, and a signed amount is the
/// paid one. Cheap checks first, the signature next. What it gives is decided on next
/// ([`UndecidedPayment::request`] carries the paid amount).
pub fn check_payment_alone(
    now: Timestamp,
    agent: &VerifiedAgent,
    request: &Request,
    terms: &PaymentTerms,
    payload: &PaymentPayload,
) -> Result<UndecidedPayment, PaymentError> {
    let requirements = terms.requirements()?;
    check_requirements(payload, &requirements, terms)?;
    check_resource(payload, request)?;
    let (auth, sig) = payload.payload.parse()?;
    check_authorization(&auth, terms, now)?;
    let signer = TokenDomain::of_requirements(&requirements)?.recover(&auth, &sig)?;
    if signer != auth.from {
        return Err(PaymentError::WrongSigner {
            from: auth.from,
            signer,
        });
    }
    let role = payer_role(agent, auth.from, terms.chain_id)?;
    let paid = Money::new(from_atomic(auth.value, terms.decimals)?, terms.asset()?);
    if let Some(declared) = &request.amount {
        if declared.asset != paid.asset || declared.value != paid.value {
            return Err(PaymentError::DeclaredAmount {
                declared: Box::new(declared.clone()),
                paid: Box::new(paid),
            });
        }
    }
    let mut paid_request = request.clone();
    paid_request.amount = Some(paid);
    Ok(UndecidedPayment {
        payer: auth.from,
        role,
        authorization: auth,
        payload: payload.clone(),
        requirements,
        request: paid_request,
    })
}

/// A payment that passed [`check_payment_alone`], not yet decided on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UndecidedPayment {
    /// The payer.
    pub payer: Address,
    /// Whose wallet it is.
    pub role: PayerRole,
    /// The authorization, parsed.
    pub authorization: ExactAuthorization,
    /// The payment as received.
    pub payload: PaymentPayload,
    /// The merchant's requirements it satisfies.
    pub requirements: PaymentRequirements,
    /// The grant request to decide on, with the payment's amount.
    pub request: Request,
}

impl UndecidedPayment {
    /// The payment with the decision on its [`request`](Self::request): refused
    /// ([`PaymentError::Denied`]) unless the decision allows it.
    pub fn decided(self, decision: Decision) -> Result<CheckedPayment, PaymentError> {
        if !decision.is_allowed() {
            return Err(PaymentError::Denied(Box::new(decision)));
        }
        Ok(CheckedPayment {
            payment: self,
            decision,
        })
    }
}

/// The payment's chosen requirements are exactly the merchant's, field by field.
pub fn check_requirements(
    payload: &PaymentPayload,
    required: &PaymentRequirements,
    terms: &PaymentTerms,
) -> Result<(), PaymentError> {
    let a = &payload.accepted;
    if payload.x402_version != X402_VERSION {
        return Err(PaymentError::Version {
            version: payload.x402_version,
        });
    }
    if a.scheme != SCHEME_EXACT {
        return Err(PaymentError::Scheme {
            scheme: a.scheme.clone(),
        });
    }
    if a.network != required.network {
        return Err(PaymentError::Network {
            network: a.network.clone(),
            expected: required.network.clone(),
        });
    }
    let same_address = |s: &str, expected: Address| {
        crate::wire::parse_address("address", s).is_ok_and(|x| x == expected)
    };
    if !same_address(&a.asset, terms.token) {
        return Err(PaymentError::Asset {
            asset: a.asset.clone(),
            expected: terms.token,
        });
    }
    let to = &payload.payload.authorization.to;
    for pay_to in [&a.pay_to, to] {
        if !same_address(pay_to, terms.pay_to) {
            return Err(PaymentError::Recipient {
                pay_to: pay_to.clone(),
                expected: terms.pay_to,
            });
        }
    }
    let price = terms.atomic_price()?;
    for amount in [&a.amount, &payload.payload.authorization.value] {
        if crate::wire::parse_uint("amount", amount).ok() != Some(price) {
            return Err(PaymentError::Amount {
                amount: amount.clone(),
                expected: price,
            });
        }
    }
    if a.max_timeout_seconds != required.max_timeout_seconds {
        return Err(PaymentError::Requirements {
            field: "maxTimeoutSeconds",
        });
    }
    if a.eip712_name_version() != required.eip712_name_version() {
        return Err(PaymentError::Requirements { field: "extra" });
    }
    Ok(())
}

fn check_resource(payload: &PaymentPayload, request: &Request) -> Result<(), PaymentError> {
    let paid_for = payload.resource.as_ref().map(|r| r.url.as_str());
    match (paid_for, request.resource.as_deref()) {
        (Some(p), Some(r)) if p == r => Ok(()),
        (p, r) => Err(PaymentError::Resource {
            resource: p.unwrap_or_default().to_owned(),
            expected: r.unwrap_or_default().to_owned(),
        }),
    }
}

/// The window is open now (EIP-3009: strictly after `validAfter`), stays open long enough
/// to settle, and is no longer than the merchant's `maxTimeoutSeconds` (with the verifier's
/// usual clock skew of 60 s).
fn check_authorization(
    auth: &ExactAuthorization,
    terms: &PaymentTerms,
    now: Timestamp,
) -> Result<(), PaymentError> {
    let now = now.unix();
    let now_u = U256::from(now.max(0));
    if auth.valid_after >= now_u {
        return Err(PaymentError::NotYetValid {
            valid_after: auth.valid_after,
            now,
        });
    }
    if auth.valid_before <= now_u + U256::from(SETTLEMENT_MARGIN_SECONDS) {
        return Err(PaymentError::Expired {
            valid_before: auth.valid_before,
            now,
        });
    }
    if auth.valid_before > now_u + U256::from(terms.max_timeout_seconds + 60) {
        return Err(PaymentError::WindowTooLong {
            valid_before: auth.valid_before,
            now,
            max_timeout_seconds: terms.max_timeout_seconds,
        });
    }
    Ok(())
}

/// Whether `payer` is the agent's registered `agentWallet` (per the verifier's registry view)
/// or its `did:pkh` principal's wallet on the payment's chain.
pub fn payer_role(
    agent: &VerifiedAgent,
    payer: Address,
    chain_id: u64,
) -> Result<PayerRole, PaymentError> {
    let agent_wallet = agent.registration().and_then(|r| r.record.agent_wallet);
    if agent_wallet == Some(payer.0.0) {
        return Ok(PayerRole::AgentWallet);
    }
    if let Did::Pkh(p) = agent.principal() {
        if p.chain_id() == chain_id && p.address() == payer.0.0 {
            return Ok(PayerRole::PrincipalWallet);
        }
    }
    Err(PaymentError::PayerNotAgent {
        payer,
        agent_wallet: agent_wallet
            .map_or_else(|| "none".to_owned(), |w| Address::from(w).to_checksum(None)),
        principal: agent.principal().to_string(),
    })
}
