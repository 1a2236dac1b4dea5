//! EIP-3009 `TransferWithAuthorization` under EIP-712: the digest, signing with a local key
//! (the agent's wallet), and recovering the signer (the merchant's check), with the same
//! acceptance rule as the token (OpenZeppelin's ECDSA: `v` of 27 or 28, low `s`).

use alloy::primitives::{Address, B256, U256};
use alloy::signers::SignerSync as _;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct as _};

use crate::wire::{ExactAuthorization, PaymentRequirements, Signature65, WireError, parse_address};

sol! {
    /// The EIP-3009 struct a payer signs.
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

/// Half the secp256k1 group order: signatures with a larger `s` are malleable twins and are
/// refused (as OpenZeppelin's ECDSA and the token refuse them).
const HALF_N: U256 = U256::from_be_slice(&[
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
]);

/// Why a signature is not the payer's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// `v` is not 27 or 28.
    #[error("signature recovery byte is {v}, expected 27 or 28")]
    RecoveryByte {
        /// The byte.
        v: u8,
    },
    /// `s` is in the upper half of the group order (a malleable signature).
    #[error("signature has a high s value (malleable); only low-s signatures are accepted")]
    HighS,
    /// The signature does not recover to a key.
    #[error("signature does not recover to a public key: {0}")]
    Unrecoverable(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// A token's EIP-712 domain: what `extra.name`/`extra.version`, the network's chain id and
/// the asset address name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDomain {
    /// The EIP-712 domain name (`KYA Test USD`, `USD Coin`).
    pub name: String,
    /// The EIP-712 domain version.
    pub version: String,
    /// The EVM chain id.
    pub chain_id: u64,
    /// The token contract.
    pub token: Address,
}

impl TokenDomain {
    /// The domain the requirements name (refused without `extra.name`/`extra.version`).
    pub fn of_requirements(req: &PaymentRequirements) -> Result<Self, WireError> {
        let (name, version) = req.eip712_name_version().ok_or(WireError::Field {
            field: "extra",
            value: String::new(),
            expected: "the token's EIP-712 `name` and `version`",
        })?;
        Ok(Self {
            name: name.to_owned(),
            version: version.to_owned(),
            chain_id: req.evm_chain_id()?,
            token: parse_address("asset", &req.asset)?,
        })
    }

    fn eip712(&self) -> Eip712Domain {
        Eip712Domain::new(
            Some(self.name.clone().into()),
            Some(self.version.clone().into()),
            Some(U256::from(self.chain_id)),
            Some(self.token),
            None,
        )
    }

    /// The EIP-712 digest of `auth` in this domain: what is signed.
    pub fn signing_hash(&self, auth: &ExactAuthorization) -> B256 {
        TransferWithAuthorization {
            from: auth.from,
            to: auth.to,
            value: auth.value,
            validAfter: auth.valid_after,
            validBefore: auth.valid_before,
            nonce: auth.nonce,
        }
        .eip712_signing_hash(&self.eip712())
    }

    /// Signs `auth` with `signer` (whose address must be `auth.from` for the token to accept
    /// it).
    pub fn sign(
        &self,
        signer: &PrivateKeySigner,
        auth: &ExactAuthorization,
    ) -> Result<Signature65, SignatureError> {
        let sig = signer
            .sign_hash_sync(&self.signing_hash(auth))
            .map_err(|e| SignatureError::Signing(e.to_string()))?;
        Ok(Signature65(sig.as_bytes()))
    }

    /// The address that signed `auth` with `sig`, under the token's acceptance rule.
    pub fn recover(
        &self,
        auth: &ExactAuthorization,
        sig: &Signature65,
    ) -> Result<Address, SignatureError> {
        let v = sig.0[64];
        if v != 27 && v != 28 {
            return Err(SignatureError::RecoveryByte { v });
        }
        let parsed = alloy::primitives::Signature::from_raw_array(&sig.0)
            .map_err(|e| SignatureError::Unrecoverable(e.to_string()))?;
        if parsed.s() > HALF_N {
            return Err(SignatureError::HighS);
        }
        parsed
            .recover_address_from_prehash(&self.signing_hash(auth))
            .map_err(|e| SignatureError::Unrecoverable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::wire::PaymentPayload;

    fn auth(from: Address) -> ExactAuthorization {
        ExactAuthorization {
            from,
            to: Address::repeat_byte(0x22),
            value: U256::from(12_500_000u64),
            valid_after: U256::ZERO,
            valid_before: U256::from(2_000_000_000u64),
            nonce: B256::repeat_byte(7),
        }
    }

    fn domain() -> TokenDomain {
        TokenDomain {
            name: "KYA Test USD".into(),
            version: "1".into(),
            chain_id: 31_337,
            token: Address::repeat_byte(0x11),
        }
    }

    #[test]
    fn sign_then_recover() {
        let signer = PrivateKeySigner::random();
        let a = auth(signer.address());
        let sig = domain().sign(&signer, &a).unwrap();
        assert_eq!(domain().recover(&a, &sig).unwrap(), signer.address());
        // Another field, another domain, another chain: another signer.
        let mut other = a;
        other.value = U256::from(1u64);
        assert_ne!(domain().recover(&other, &sig).unwrap(), signer.address());
        let mut d = domain();
        d.chain_id = 1;
        assert_ne!(d.recover(&a, &sig).unwrap(), signer.address());
        // The malleable twin and a foreign recovery byte are refused.
        let parsed = alloy::primitives::Signature::from_raw_array(&sig.0).unwrap();
        let n = U256::from_be_slice(
            &hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
                .unwrap(),
        );
        let twin = alloy::primitives::Signature::new(parsed.r(), n - parsed.s(), !parsed.v());
        assert!(matches!(
            domain().recover(&a, &Signature65(twin.as_bytes())),
            Err(SignatureError::HighS)
        ));
        let mut v0 = sig;
        v0.0[64] -= 27;
        assert!(matches!(
            domain().recover(&a, &v0),
            Err(SignatureError::RecoveryByte { .. })
        ));
    }

    /// The x402 v2 specification's example payment is a real signature: under its domain
    /// ("USDC", "2", Base Sepolia, the example's asset) it recovers to its `from` address, so
    /// kya's EIP-712 digest is the official one; a change of one field breaks it.
    #[test]
    fn spec_example_signature_recovers_to_its_payer() {
        let header = "eyJ4NDAyVmVyc2lvbiI6MiwicmVzb3VyY2UiOnsidXJsIjoiaHR0cHM6Ly9hcGkuZXhhbXBsZS5jb20vcHJlbWl1bS1kYXRhIiwiZGVzY3JpcHRpb24iOiJBY2Nlc3MgdG8gcHJlbWl1bSBtYXJrZXQgZGF0YSIsIm1pbWVUeXBlIjoiYXBwbGljYXRpb24vanNvbiJ9LCJhY2NlcHRlZCI6eyJzY2hlbWUiOiJleGFjdCIsIm5ldHdvcmsiOiJlaXAxNTU6ODQ1MzIiLCJhbW91bnQiOiIxMDAwMCIsImFzc2V0IjoiMHgwMzZDYkQ1Mzg0MmM1NDI2NjM0ZTc5Mjk1NDFlQzIzMThmM2RDRjdlIiwicGF5VG8iOiIweDIwOTY5M0JjNmFmYzBDNTMyOGJBMzZGYUYwM0M1MTRFRjMxMjI4N0MiLCJtYXhUaW1lb3V0U2Vjb25kcyI6NjAsImV4dHJhIjp7Im5hbWUiOiJVU0RDIiwidmVyc2lvbiI6IjIifX0sInBheWxvYWQiOnsic2lnbmF0dXJlIjoiMHgyZDZhNzU4OGQ2YWNjYTUwNWNiZjBkOWE0YTIyN2UwYzUyYzZjMzQwMDhjOGU4OTg2YTEyODMyNTk3NjQxNzM2MDhhMmNlNjQ5NjY0MmUzNzdkNmRhOGRiYmY1ODM2ZTliZDE1MDkyZjllY2FiMDVkZWQzZDYyOTNhZjE0OGI1NzFjIiwiYXV0aG9yaXphdGlvbiI6eyJmcm9tIjoiMHg4NTdiMDY1MTlFOTFlM0E1NDUzODc5MWJEYmIwRTIyMzczZTM2YjY2IiwidG8iOiIweDIwOTY5M0JjNmFmYzBDNTMyOGJBMzZGYUYwM0M1MTRFRjMxMjI4N0MiLCJ2YWx1ZSI6IjEwMDAwIiwidmFsaWRBZnRlciI6IjE3NDA2NzIwODkiLCJ2YWxpZEJlZm9yZSI6IjE3NDA2NzIxNTQiLCJub25jZSI6IjB4ZjM3NDY2MTNjMmQ5MjBiNWZkYWJjMDg1NmYyYWViMmQ0Zjg4ZWU2MDM3YjhjYzVkMDRhNzFhNDQ2MmYxMzQ4MCJ9fX0=";
        let p = PaymentPayload::from_header(header).unwrap();
        let d = TokenDomain::of_requirements(&p.accepted).unwrap();
        let (a, sig) = p.payload.parse().unwrap();
        assert_eq!(d.recover(&a, &sig).unwrap(), a.from);
        let mut later = a;
        later.valid_before += U256::from(1u64);
        assert_ne!(d.recover(&later, &sig).unwrap(), a.from);
    }
}
