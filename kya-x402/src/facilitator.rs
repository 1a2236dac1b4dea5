//! A local x402 facilitator for the `exact` EVM scheme: verifies a payment against the chain
//! and settles it by calling the token's `transferWithAuthorization` from its own account.
//!
//! Settlement is idempotent: a payment (its payer and EIP-3009 nonce) that is being settled
//! here is refused (`in-flight` set), and one the token already used is refused
//! (`authorizationState`); two facilitators racing on one payload cannot both move money,
//! because the token marks the nonce used in the same transaction that moves it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

use kya_verify::{StoreUnavailable, Verifier};

use crate::check::{CheckedPayment, PaymentError, SETTLEMENT_MARGIN_SECONDS};
use crate::eip3009::TokenDomain;
use crate::wire::{
    ExactAuthorization, FacilitatorRequest, PaymentPayload, PaymentRequirements, SCHEME_EXACT,
    SettleResponse, Signature65, VerifyResponse, X402_VERSION, parse_address, parse_uint,
};

mod abi {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
    alloy::sol! {
    /// The EIP-3009 surface the facilitator calls (the `v, r, s` form every EIP-3009 token,
    /// USDC v2 included, has).
    #[sol(rpc)]
    interface IEip3009Token {
        function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external;
        function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
        function balanceOf(address account) external view returns (uint256);
    }
    }
}
pub use abi::IEip3009Token;

/// Why a facilitator refuses or fails a payment. No money moved for any of them but
/// [`Unconfirmed`](Self::Unconfirmed), where it may have (see
/// [`outcome_unknown`](Self::outcome_unknown)), and [`AlreadySettled`](Self::AlreadySettled),
/// where an earlier settlement moved it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FacilitatorError {
    /// The payment does not meet the requirements or is not valid.
    #[error(transparent)]
    Invalid(#[from] PaymentError),
    /// The requirements name another chain than the facilitator's node.
    #[error("requirements are for chain {expected}, the facilitator's node is on chain {actual}")]
    WrongChain {
        /// The requirements' chain.
        expected: u64,
        /// The node's.
        actual: u64,
    },
    /// The token already used this authorization: it was settled before.
    #[error("authorization {nonce} of {payer} was already used on chain")]
    AlreadySettled {
        /// The payer.
        payer: Address,
        /// The nonce.
        nonce: B256,
    },
    /// This facilitator is settling the same authorization right now.
    #[error("authorization {nonce} of {payer} is being settled")]
    InFlight {
        /// The payer.
        payer: Address,
        /// The nonce.
        nonce: B256,
    },
    /// The payer's balance does not cover the payment.
    #[error("payer {payer} holds {balance}, less than {value}")]
    InsufficientFunds {
        /// The payer.
        payer: Address,
        /// Its balance.
        balance: U256,
        /// The payment.
        value: U256,
    },
    /// Simulating the transfer failed.
    #[error("transferWithAuthorization would revert: {0}")]
    Simulation(String),
    /// The transaction was mined but reverted (no transfer).
    #[error("settlement transaction {tx} reverted")]
    Reverted {
        /// Its hash.
        tx: B256,
    },
    /// The node could not be reached or answered an error (nothing was sent).
    #[error("rpc: {0}")]
    Rpc(String),
    /// The settlement transaction may have been sent but its outcome is not known: the node
    /// failed or did not answer within the settlement timeout once it was sending. It may
    /// still move money.
    #[error("the settlement's outcome is unknown{}: {reason}", tx.map(|t| format!(" (transaction {t:#x})")).unwrap_or_default())]
    Unconfirmed {
        /// The transaction, when the node gave its hash.
        tx: Option<B256>,
        /// What failed.
        reason: String,
    },
}

impl FacilitatorError {
    /// The x402 error reason for `invalidReason` / `errorReason`.
    pub fn x402_reason(&self) -> &'static str {
        match self {
            Self::Invalid(e) => e.x402_reason(),
            Self::WrongChain { .. } => "invalid_network",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::AlreadySettled { .. } | Self::InFlight { .. } | Self::Reverted { .. } => {
                "invalid_transaction_state"
            }
            Self::Simulation(_) => "invalid_transaction_state",
            Self::Rpc(_) | Self::Unconfirmed { .. } => "unexpected_settle_error",
        }
    }

    /// Whether the payment may still settle: a transaction may have been sent, so the payer
    /// must not be told to pay again.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Unconfirmed { .. })
    }

    /// The HTTP status of a request whose settlement failed so: 402 when nothing moved (pay
    /// again), 504 when the outcome is unknown.
    pub fn settle_status(&self) -> u16 {
        if self.outcome_unknown() { 504 } else { 402 }
    }

    /// The stable code of a request whose settlement failed so.
    pub fn settle_code(&self) -> &'static str {
        if self.outcome_unknown() {
            "x402_settlement_unconfirmed"
        } else {
            "x402_settlement_failed"
        }
    }

    /// The sentence a problem body gives for it.
    pub fn settle_message(&self) -> String {
        if self.outcome_unknown() {
            format!("the payment may still settle; check before paying again: {self}")
        } else {
            format!("the payment was not settled: {self}")
        }
    }

    /// The `PAYMENT-RESPONSE` of `checked` failing to settle with this error.
    pub fn settle_response(&self, checked: &crate::check::CheckedPayment) -> SettleResponse {
        self.failed_settlement(
            checked.requirements.network.clone(),
            checked.payer.to_checksum(None),
        )
    }

    /// A settle response saying this error, naming the transaction that may still land.
    fn failed_settlement(&self, network: String, payer: String) -> SettleResponse {
        let transaction = match self {
            Self::Unconfirmed { tx: Some(tx), .. } => format!("{tx:#x}"),
            _ => String::new(),
        };
        SettleResponse {
            success: false,
            error_reason: Some(self.x402_reason().to_owned()),
            transaction,
            network,
            payer: Some(payer),
        }
    }
}

/// Why a call to the node ran out of `timeout`.
fn no_answer_within(timeout: Duration) -> String {
    format!("no answer within {} s", timeout.as_secs())
}

fn rpc(e: impl std::fmt::Display) -> FacilitatorError {
    FacilitatorError::Rpc(e.to_string())
}

/// A settled payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// The transaction hash.
    pub transaction: B256,
    /// The payer.
    pub payer: Address,
    /// The chain.
    pub chain_id: u64,
    /// The block it was mined in.
    pub block: u64,
}

impl Settlement {
    /// The x402 settlement response.
    pub fn response(&self) -> SettleResponse {
        SettleResponse {
            success: true,
            error_reason: None,
            transaction: format!("{:#x}", self.transaction),
            network: format!("eip155:{}", self.chain_id),
            payer: Some(self.payer.to_checksum(None)),
        }
    }
}

/// A verified payment: what settling it will send.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedPayment {
    /// The token.
    pub token: Address,
    /// The authorization.
    pub authorization: ExactAuthorization,
    /// Its signature.
    pub signature: Signature65,
}

/// Removes an authorization from the in-flight set when settlement ends, however it ends.
struct InFlightGuard {
    set: Arc<Mutex<HashSet<(Address, B256)>>>,
    key: (Address, B256),
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.key);
        }
    }
}

/// A facilitator on one chain, sending from one account.
#[derive(Debug, Clone)]
pub struct Facilitator {
    provider: DynProvider,
    account: Address,
    chain_id: u64,
    in_flight: Arc<Mutex<HashSet<(Address, B256)>>>,
    settle_timeout: Duration,
}

/// How long [`Facilitator::settle`] waits for the node by default, verification, sending and
/// the receipt together.
pub const DEFAULT_SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Facilitator {
    /// Connects to the node at `rpc_url`, sending with `signer` (which pays the gas).
    pub async fn connect(
        rpc_url: &str,
        signer: PrivateKeySigner,
    ) -> Result<Self, FacilitatorError> {
        let url = rpc_url.parse().map_err(rpc)?;
        let account = signer.address();
        let provider = ProviderBuilder::default()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url)
            .erased();
        let chain_id = provider.get_chain_id().await.map_err(rpc)?;
        Ok(Self {
            provider,
            account,
            chain_id,
            in_flight: Arc::default(),
            settle_timeout: DEFAULT_SETTLE_TIMEOUT,
        })
    }

    /// [`connect`](Self::connect) within `timeout` (connecting sends nothing: a node that
    /// does not answer is a plain [`FacilitatorError::Rpc`]), settling with the same
    /// timeout ([`with_settle_timeout`](Self::with_settle_timeout)).
    pub async fn connect_within(
        rpc_url: &str,
        signer: PrivateKeySigner,
        timeout: Duration,
    ) -> Result<Self, FacilitatorError> {
        match tokio::time::timeout(timeout, Self::connect(rpc_url, signer)).await {
            Ok(connected) => Ok(connected?.with_settle_timeout(timeout)),
            Err(_) => Err(FacilitatorError::Rpc(no_answer_within(timeout))),
        }
    }

    /// Sets how long [`settle`](Self::settle) waits for the node (default
    /// [`DEFAULT_SETTLE_TIMEOUT`]). Until the transaction is sent, running out of time
    /// fails with nothing sent; after, the outcome is unknown
    /// ([`FacilitatorError::Unconfirmed`]).
    #[must_use]
    pub fn with_settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// The account that sends settlements.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The node's chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The provider (for reading balances in tests and tools).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Verifies `payload` against `requirements` and the chain: the fields match, the window
    /// is open, the signature is `from`'s, the authorization is unused, the balance covers
    /// it, and the transfer simulates.
    pub async fn verify(
        &self,
        payload: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<VerifiedPayment, FacilitatorError> {
        let (token, authorization, signature) = self.check_offline(payload, requirements)?;
        let contract = IEip3009Token::new(token, &self.provider);
        let (from, nonce) = (authorization.from, authorization.nonce);
        if contract
            .authorizationState(from, nonce)
            .call()
            .await
            .map_err(rpc)?
        {
            return Err(FacilitatorError::AlreadySettled { payer: from, nonce });
        }
        let balance = contract.balanceOf(from).call().await.map_err(rpc)?;
        if balance < authorization.value {
            return Err(FacilitatorError::InsufficientFunds {
                payer: from,
                balance,
                value: authorization.value,
            });
        }
        let verified = VerifiedPayment {
            token,
            authorization,
            signature,
        };
        self.transfer_call(&verified)
            .call()
            .await
            .map_err(|e| FacilitatorError::Simulation(e.to_string()))?;
        Ok(verified)
    }

    /// Verifies, then settles: sends `transferWithAuthorization` and waits for its receipt.
    /// Never settles one authorization twice (see the module docs).
    pub async fn settle(
        &self,
        payload: &PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Result<Settlement, FacilitatorError> {
        let (_, auth, _) = self.check_offline(payload, requirements)?;
        let _guard = self.claim(auth.from, auth.nonce)?;
        let deadline = tokio::time::Instant::now() + self.settle_timeout;
        let late = || no_answer_within(self.settle_timeout);
        let verified = tokio::time::timeout_at(deadline, self.verify(payload, requirements))
            .await
            .map_err(|_| FacilitatorError::Rpc(late()))??;
        // From here on the transaction may reach the node, so a failure is not a refusal.
        let unconfirmed = |tx, reason| FacilitatorError::Unconfirmed { tx, reason };
        let pending = tokio::time::timeout_at(deadline, self.transfer_call(&verified).send())
            .await
            .map_err(|_| unconfirmed(None, late()))?
            .map_err(|e| unconfirmed(None, e.to_string()))?;
        let tx = *pending.tx_hash();
        let receipt = tokio::time::timeout_at(deadline, pending.get_receipt())
            .await
            .map_err(|_| unconfirmed(Some(tx), late()))?
            .map_err(|e| unconfirmed(Some(tx), e.to_string()))?;
        if !receipt.status() {
            return Err(FacilitatorError::Reverted {
                tx: receipt.transaction_hash,
            });
        }
        Ok(Settlement {
            transaction: receipt.transaction_hash,
            payer: auth.from,
            chain_id: self.chain_id,
            block: receipt.block_number.unwrap_or_default(),
        })
    }

    /// `POST /verify`: the x402 verify response for a facilitator request.
    pub async fn verify_response(&self, request: &FacilitatorRequest) -> VerifyResponse {
        let payer = Some(request.payment_payload.payload.authorization.from.clone());
        match self
            .verify(&request.payment_payload, &request.payment_requirements)
            .await
        {
            Ok(_) => VerifyResponse {
                is_valid: true,
                invalid_reason: None,
                payer,
            },
            Err(e) => VerifyResponse {
                is_valid: false,
                invalid_reason: Some(e.x402_reason().to_owned()),
                payer,
            },
        }
    }

    /// `POST /settle`: the x402 settle response for a facilitator request.
    pub async fn settle_response(&self, request: &FacilitatorRequest) -> SettleResponse {
        match self
            .settle(&request.payment_payload, &request.payment_requirements)
            .await
        {
            Ok(s) => s.response(),
            Err(e) => e.failed_settlement(
                request.payment_requirements.network.clone(),
                request.payment_payload.payload.authorization.from.clone(),
            ),
        }
    }

    fn claim(&self, payer: Address, nonce: B256) -> Result<InFlightGuard, FacilitatorError> {
        let mut set = self
            .in_flight
            .lock()
            .map_err(|_| FacilitatorError::Rpc("in-flight set poisoned".into()))?;
        if !set.insert((payer, nonce)) {
            return Err(FacilitatorError::InFlight { payer, nonce });
        }
        Ok(InFlightGuard {
            set: self.in_flight.clone(),
            key: (payer, nonce),
        })
    }

    fn transfer_call(
        &self,
        p: &VerifiedPayment,
    ) -> alloy::contract::SolCallBuilder<&DynProvider, IEip3009Token::transferWithAuthorizationCall>
    {
        let a = &p.authorization;
        let call = IEip3009Token::transferWithAuthorizationCall {
            from: a.from,
            to: a.to,
            value: a.value,
            validAfter: a.valid_after,
            validBefore: a.valid_before,
            nonce: a.nonce,
            v: p.signature.0[64],
            r: B256::from_slice(&p.signature.0[..32]),
            s: B256::from_slice(&p.signature.0[32..64]),
        };
        alloy::contract::SolCallBuilder::new_sol(&self.provider, &p.token, &call).from(self.account)
    }

    /// Everything but the chain's state: the requirements, the window, the signature.
    fn check_offline(
        &self,
        payload: &PaymentPayload,
        req: &PaymentRequirements,
    ) -> Result<(Address, ExactAuthorization, Signature65), FacilitatorError> {
        let invalid = |e: PaymentError| FacilitatorError::Invalid(e);
        if payload.x402_version != X402_VERSION {
            return Err(invalid(PaymentError::Version {
                version: payload.x402_version,
            }));
        }
        if payload.accepted.scheme != SCHEME_EXACT || req.scheme != SCHEME_EXACT {
            return Err(invalid(PaymentError::Scheme {
                scheme: payload.accepted.scheme.clone(),
            }));
        }
        if payload.accepted.network != req.network {
            return Err(invalid(PaymentError::Network {
                network: payload.accepted.network.clone(),
                expected: req.network.clone(),
            }));
        }
        let chain = req.evm_chain_id().map_err(|e| invalid(e.into()))?;
        if chain != self.chain_id {
            return Err(FacilitatorError::WrongChain {
                expected: chain,
                actual: self.chain_id,
            });
        }
        let domain = TokenDomain::of_requirements(req).map_err(|e| invalid(e.into()))?;
        let (auth, sig) = payload.payload.parse().map_err(|e| invalid(e.into()))?;
        let pay_to = parse_address("payTo", &req.pay_to).map_err(|e| invalid(e.into()))?;
        if auth.to != pay_to {
            return Err(invalid(PaymentError::Recipient {
                pay_to: payload.payload.authorization.to.clone(),
                expected: pay_to,
            }));
        }
        let amount = parse_uint("amount", &req.amount).map_err(|e| invalid(e.into()))?;
        if auth.value != amount {
            return Err(invalid(PaymentError::Amount {
                amount: payload.payload.authorization.value.clone(),
                expected: amount,
            }));
        }
        check_window(&auth).map_err(invalid)?;
        let signer = domain.recover(&auth, &sig).map_err(|e| invalid(e.into()))?;
        if signer != auth.from {
            return Err(invalid(PaymentError::WrongSigner {
                from: auth.from,
                signer,
            }));
        }
        Ok((domain.token, auth, sig))
    }
}

fn check_window(auth: &ExactAuthorization) -> Result<(), PaymentError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
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
    Ok(())
}

impl CheckedPayment {
    /// After this payment's settlement failed with `error`: gives back the budget its
    /// admission charged, through `verifier` (the one that admitted it), when nothing moved;
    /// keeps it charged when the payment may still settle
    /// ([`FacilitatorError::outcome_unknown`]). Rates keep the request. `Ok(true)` when
    /// given back; call it once per failed settlement.
    pub fn settlement_failed(
        &self,
        error: &FacilitatorError,
        verifier: &Verifier,
    ) -> Result<bool, StoreUnavailable> {
        if error.outcome_unknown() {
            return Ok(false);
        }
        self.not_settled(verifier)?;
        Ok(true)
    }

    /// When this payment is not sent for settlement at all (the merchant refuses to take it
    /// after all, say because it could not record the sale): gives back the budget its
    /// admission charged, through `verifier` (the one that admitted it). Rates keep the
    /// request. Call it at most once, and never after a settlement was attempted.
    pub fn not_settled(&self, verifier: &Verifier) -> Result<(), StoreUnavailable> {
        verifier.refund(&self.decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settlement whose outcome is unknown names its transaction in every settle response
    /// (the middleware's and the facilitator endpoint's), so the payer can check it before
    /// paying again; one that moved nothing names none.
    #[test]
    fn an_unconfirmed_settlement_names_its_transaction() {
        let tx = B256::repeat_byte(0xab);
        let unknown = FacilitatorError::Unconfirmed {
            tx: Some(tx),
            reason: no_answer_within(Duration::from_secs(3)),
        };
        let response = unknown.failed_settlement("eip155:31337".into(), "0xpayer".into());
        assert!(!response.success);
        assert_eq!(response.transaction, format!("{tx:#x}"));
        assert_eq!(
            response.error_reason.as_deref(),
            Some("unexpected_settle_error")
        );
        assert_eq!(response.payer.as_deref(), Some("0xpayer"));
        let unsent = FacilitatorError::Unconfirmed {
            tx: None,
            reason: "the node failed".into(),
        };
        let nothing_moved = FacilitatorError::Rpc("connection refused".into());
        for error in [unsent, nothing_moved] {
            let response = error.failed_settlement("eip155:31337".into(), "0xpayer".into());
            assert_eq!(response.transaction, "", "{error}");
        }
    }
}
