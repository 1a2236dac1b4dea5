#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod check;
mod eip3009;
#[cfg(feature = "facilitator")]
mod facilitator;
mod gate;
#[cfg(feature = "tower")]
pub mod middleware;
mod pay;
mod terms;
pub mod wire;

pub use alloy::primitives::{Address, B256, U256};
pub use alloy::signers::local::PrivateKeySigner;
pub use check::{
    CheckedPayment, PayerRole, PaymentError, SETTLEMENT_MARGIN_SECONDS, UndecidedPayment,
    check_payment, check_payment_alone, check_requirements, payer_role,
};
pub use eip3009::{SignatureError, TokenDomain, TransferWithAuthorization};
#[cfg(feature = "facilitator")]
pub use facilitator::{
    DEFAULT_SETTLE_TIMEOUT, Facilitator, FacilitatorError, IEip3009Token, Settlement,
    VerifiedPayment,
};
pub use gate::{PaidAdmission, PaidGate, PaidRefusal};
pub use pay::{
    KnownToken, VALID_AFTER_BACKDATE_SECONDS, choose_requirements, create_payment, payer_of,
};
pub use terms::{
    MAX_TIMEOUT_SECONDS, PaymentTerms, TermsError, caip19_erc20, from_atomic, to_atomic,
};
pub use wire::{
    Authorization, ExactAuthorization, ExactEvmPayload, FacilitatorRequest, PAYMENT_REQUIRED,
    PAYMENT_RESPONSE, PAYMENT_SIGNATURE, PaymentPayload, PaymentRequired, PaymentRequirements,
    ResourceInfo, SettleResponse, Signature65, VerifyResponse, WireError, X402_VERSION,
};

/// The kya test stablecoin (`solidity/src/KyaTestUSD.sol`): ABI and creation bytecode from
/// the committed artifact, so tests and demos deploy it.
#[cfg(feature = "facilitator")]
pub mod token {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        KyaTestUSD,
        "../solidity/artifacts/KyaTestUSD.json"
    );

    /// The token's EIP-712 domain name (x402 `extra.name`).
    pub const NAME: &str = "KYA Test USD";
    /// The token's EIP-712 domain version (x402 `extra.version`).
    pub const VERSION: &str = "1";
    /// Its decimals.
    pub const DECIMALS: u8 = 6;
}
