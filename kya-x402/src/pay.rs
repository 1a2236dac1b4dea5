//! The agent's side: choose requirements the agent's grants allow, and sign the EIP-3009
//! authorization with the agent's wallet key.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use kya_core::Timestamp;
use kya_core::grant::{Action, Asset, Grant, Money, Request, grants_allow};
use rand_core::{OsRng, RngCore as _};

use crate::check::PaymentError;
use crate::eip3009::TokenDomain;
use crate::terms::{caip19_erc20, from_atomic};
use crate::wire::{
    Authorization, ExactAuthorization, ExactEvmPayload, PaymentPayload, PaymentRequired,
    PaymentRequirements, SCHEME_EXACT, X402_VERSION, parse_address, parse_uint,
};

/// How far back `validAfter` is set, so that a payer's clock a little ahead of the chain's
/// does not make a fresh authorization "not yet valid" (the official client uses 600 s).
pub const VALID_AFTER_BACKDATE_SECONDS: i64 = 600;

/// A token the agent knows how to value: its CAIP-19 id and decimals (x402 requirements carry
/// no decimals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownToken {
    /// `eip155:<chain>/erc20:<lower-case address>`.
    pub asset: Asset,
    /// Its decimals.
    pub decimals: u8,
}

/// The first of `required.accepts` that the agent's `grants` allow for `action` at
/// `audience` now, in a token the agent knows; with the money it moves.
pub fn choose_requirements<'r>(
    required: &'r PaymentRequired,
    grants: &[Grant],
    action: &Action,
    audience: Option<&str>,
    tokens: &[KnownToken],
    now: Timestamp,
) -> Option<(&'r PaymentRequirements, Money)> {
    required.accepts.iter().find_map(|req| {
        if req.scheme != SCHEME_EXACT || required.x402_version != X402_VERSION {
            return None;
        }
        let chain_id = req.evm_chain_id().ok()?;
        let asset = caip19_erc20(chain_id, parse_address("asset", &req.asset).ok()?).ok()?;
        let token = tokens.iter().find(|t| t.asset == asset)?;
        let value = from_atomic(parse_uint("amount", &req.amount).ok()?, token.decimals).ok()?;
        let mut request = Request::new(action.clone(), now)
            .with_amount(value.clone(), asset.clone())
            .with_resource(required.resource.url.clone());
        if let Some(a) = audience {
            request = request.with_audience(a);
        }
        grants_allow(grants, &request).ok()?;
        Some((req, Money::new(value, asset)))
    })
}

/// Signs a payment of `requirements` (one of `required.accepts`) with `wallet`: a fresh random
/// nonce, valid from 10 minutes ago until `now + maxTimeoutSeconds`.
pub fn create_payment(
    wallet: &PrivateKeySigner,
    required: &PaymentRequired,
    requirements: &PaymentRequirements,
    now: Timestamp,
) -> Result<PaymentPayload, PaymentError> {
    let mut nonce = [0u8; 32];
    OsRng.fill_bytes(&mut nonce);
    let now_s = now.unix().max(0);
    let timeout = i64::try_from(requirements.max_timeout_seconds).unwrap_or(i64::MAX);
    let auth = ExactAuthorization {
        from: wallet.address(),
        to: parse_address("payTo", &requirements.pay_to)?,
        value: parse_uint("amount", &requirements.amount)?,
        valid_after: U256::from((now_s - VALID_AFTER_BACKDATE_SECONDS).max(0)),
        valid_before: U256::from(now_s.saturating_add(timeout)),
        nonce: B256::from(nonce),
    };
    let sig = TokenDomain::of_requirements(requirements)?.sign(wallet, &auth)?;
    Ok(PaymentPayload {
        x402_version: X402_VERSION,
        resource: Some(required.resource.clone()),
        accepted: requirements.clone(),
        payload: ExactEvmPayload {
            signature: format!("0x{}", hex::encode(sig.0)),
            authorization: Authorization::from_parsed(&auth),
        },
        extensions: required.extensions.clone(),
    })
}

/// The wallet address of a payment (`authorization.from`), parsed.
pub fn payer_of(payload: &PaymentPayload) -> Result<Address, PaymentError> {
    Ok(parse_address(
        "authorization.from",
        &payload.payload.authorization.from,
    )?)
}
