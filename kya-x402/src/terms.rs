//! A merchant's price for a route, and the x402 requirements and kya asset it stands for.

use alloy::primitives::{Address, U256};
use kya_core::grant::{Amount, Asset, Money};

use crate::wire::{PaymentRequired, PaymentRequirements, ResourceInfo, SCHEME_EXACT, X402_VERSION};

/// The longest payment window a merchant may offer (one hour).
pub const MAX_TIMEOUT_SECONDS: u64 = 3600;

/// Why terms or an amount cannot be expressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TermsError {
    /// The price has more decimals than the token.
    #[error("price {price} has more decimal places than the token's {decimals}")]
    TooPrecise {
        /// The price.
        price: String,
        /// The token's decimals.
        decimals: u8,
    },
    /// An amount out of range.
    #[error("amount {amount} is out of range for {decimals} decimals")]
    OutOfRange {
        /// The amount (atomic units or decimal).
        amount: String,
        /// The token's decimals.
        decimals: u8,
    },
    /// The asset id is not CAIP-19 (never for an `eip155` ERC-20).
    #[error("asset id: {0}")]
    Asset(#[source] kya_core::grant::AssetError),
    /// The payment window is zero or longer than [`MAX_TIMEOUT_SECONDS`].
    #[error("maxTimeoutSeconds {seconds} must be between 1 and {MAX_TIMEOUT_SECONDS}")]
    Timeout {
        /// The value.
        seconds: u64,
    },
}

/// What a merchant charges for a route in the `exact` EVM scheme: a price in an EIP-3009
/// token on one chain, paid to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    /// The EVM chain id (the x402 network is `eip155:<chain_id>`).
    pub chain_id: u64,
    /// The token contract.
    pub token: Address,
    /// The token's decimals (6 for USDC and kUSD).
    pub decimals: u8,
    /// The token's EIP-712 domain name.
    pub eip712_name: String,
    /// The token's EIP-712 domain version.
    pub eip712_version: String,
    /// The merchant's receiving address.
    pub pay_to: Address,
    /// The price, in whole tokens (`12.50`).
    pub price: Amount,
    /// How long an authorization may stay valid.
    pub max_timeout_seconds: u64,
}

impl PaymentTerms {
    /// The CAIP-2 network, `eip155:<chain_id>`.
    pub fn network(&self) -> String {
        format!("eip155:{}", self.chain_id)
    }

    /// The token as a kya asset: the CAIP-19 id `eip155:<chain_id>/erc20:<address>` with the
    /// address in lower case. kya compares assets as exact strings, so a grant must name the
    /// token in this spelling (any other spelling denies).
    pub fn asset(&self) -> Result<Asset, TermsError> {
        caip19_erc20(self.chain_id, self.token)
    }

    /// The price in the token's smallest unit.
    pub fn atomic_price(&self) -> Result<U256, TermsError> {
        to_atomic(&self.price, self.decimals)
    }

    /// The price as kya money (the grant's unit: whole tokens of [`asset`](Self::asset)).
    pub fn money(&self) -> Result<Money, TermsError> {
        Ok(Money::new(self.price.clone(), self.asset()?))
    }

    /// The x402 requirements that offer these terms.
    pub fn requirements(&self) -> Result<PaymentRequirements, TermsError> {
        if self.max_timeout_seconds == 0 || self.max_timeout_seconds > MAX_TIMEOUT_SECONDS {
            return Err(TermsError::Timeout {
                seconds: self.max_timeout_seconds,
            });
        }
        let mut extra = serde_json::Map::new();
        extra.insert("name".into(), self.eip712_name.clone().into());
        extra.insert("version".into(), self.eip712_version.clone().into());
        Ok(PaymentRequirements {
            scheme: SCHEME_EXACT.to_owned(),
            network: self.network(),
            amount: self.atomic_price()?.to_string(),
            asset: self.token.to_checksum(None),
            pay_to: self.pay_to.to_checksum(None),
            max_timeout_seconds: self.max_timeout_seconds,
            extra: Some(extra),
        })
    }

    /// The 402 answer for `resource`.
    pub fn payment_required(
        &self,
        resource: ResourceInfo,
        error: Option<String>,
    ) -> Result<PaymentRequired, TermsError> {
        Ok(PaymentRequired {
            x402_version: X402_VERSION,
            error,
            resource,
            accepts: vec![self.requirements()?],
            extensions: None,
        })
    }
}

/// The CAIP-19 id of an ERC-20 token, lower-case address.
pub fn caip19_erc20(chain_id: u64, token: Address) -> Result<Asset, TermsError> {
    Asset::parse(&format!("eip155:{chain_id}/erc20:{token:#x}")).map_err(TermsError::Asset)
}

/// `amount` whole tokens in atomic units of a `decimals`-decimal token.
pub fn to_atomic(amount: &Amount, decimals: u8) -> Result<U256, TermsError> {
    let shift = decimals
        .checked_sub(amount.scale())
        .ok_or_else(|| TermsError::TooPrecise {
            price: amount.to_string(),
            decimals,
        })?;
    U256::from(amount.mantissa())
        .checked_mul(U256::from(10u8).pow(U256::from(shift)))
        .ok_or_else(|| TermsError::OutOfRange {
            amount: amount.to_string(),
            decimals,
        })
}

/// `atomic` units of a `decimals`-decimal token as whole tokens (`12500000`, 6 → `12.500000`).
pub fn from_atomic(atomic: U256, decimals: u8) -> Result<Amount, TermsError> {
    let range = || TermsError::OutOfRange {
        amount: atomic.to_string(),
        decimals,
    };
    let mantissa: u128 = atomic.try_into().map_err(|_| range())?;
    Amount::from_parts(mantissa, decimals).map_err(|_| range())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn atomic_conversions_are_exact() {
        let p: Amount = "12.50".parse().unwrap();
        assert_eq!(to_atomic(&p, 6).unwrap(), U256::from(12_500_000u64));
        assert_eq!(from_atomic(U256::from(12_500_000u64), 6).unwrap(), p);
        assert_eq!(
            from_atomic(U256::from(12_500_000u64), 6)
                .unwrap()
                .to_string(),
            "12.500000"
        );
        assert!(matches!(
            to_atomic(&"0.0000001".parse().unwrap(), 6),
            Err(TermsError::TooPrecise { .. })
        ));
        assert!(from_atomic(U256::MAX, 6).is_err());
        assert_eq!(
            to_atomic(&"25".parse().unwrap(), 18).unwrap(),
            U256::from(25u64) * U256::from(10u64).pow(U256::from(18u64))
        );
    }

    #[test]
    fn requirements_and_asset() {
        let t = PaymentTerms {
            chain_id: 31_337,
            token: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
                .parse()
                .unwrap(),
            decimals: 6,
            eip712_name: "KYA Test USD".into(),
            eip712_version: "1".into(),
            pay_to: Address::repeat_byte(0xab),
            price: "12.50".parse().unwrap(),
            max_timeout_seconds: 60,
        };
        assert_eq!(
            t.asset().unwrap().as_str(),
            "eip155:31337/erc20:0x5fbdb2315678afecb367f032d93f642f64180aa3"
        );
        let r = t.requirements().unwrap();
        assert_eq!(r.amount, "12500000");
        assert_eq!(r.network, "eip155:31337");
        assert_eq!(r.asset, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
        assert_eq!(r.eip712_name_version(), Some(("KYA Test USD", "1")));
        let mut long = t.clone();
        long.max_timeout_seconds = MAX_TIMEOUT_SECONDS + 1;
        assert!(long.requirements().is_err());
    }
}
