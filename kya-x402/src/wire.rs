//! The x402 version 2 wire format: `PaymentRequired`, `PaymentRequirements`,
//! `PaymentPayload` (the `exact` scheme on EVM, EIP-3009), `SettleResponse`,
//! `VerifyResponse`, the facilitator request, and the three HTTP headers (base64 of the
//! JSON, RFC 4648 with padding).
//!
//! Field names and order are the specification's; a value decoded and encoded again gives
//! the same bytes. Parsing is strict: unknown fields are refused where the specification
//! lists every field, the header is bounded ([`MAX_HEADER_BYTES`]) before it is decoded,
//! and every value of an EIP-3009 authorization is parsed into its type
//! ([`ExactAuthorization`]) before anything trusts it.

use alloy::primitives::{Address, B256, U256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The server's 402 answer: base64 of [`PaymentRequired`].
pub const PAYMENT_REQUIRED: &str = "PAYMENT-REQUIRED";
/// The client's payment: base64 of [`PaymentPayload`].
pub const PAYMENT_SIGNATURE: &str = "PAYMENT-SIGNATURE";
/// The server's settlement result: base64 of [`SettleResponse`].
pub const PAYMENT_RESPONSE: &str = "PAYMENT-RESPONSE";
/// The protocol version this crate speaks.
pub const X402_VERSION: u32 = 2;
/// The only scheme this crate settles.
pub const SCHEME_EXACT: &str = "exact";
/// The most bytes of a header value decoded (its base64 text); longer ones are refused
/// before any decoding.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The most decimal digits of an amount or a time (a `uint256` has 78).
const MAX_UINT_DIGITS: usize = 78;

/// Why x402 bytes are not a valid message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The header value is longer than [`MAX_HEADER_BYTES`].
    #[error("x402 header is {len} bytes, more than the limit of {MAX_HEADER_BYTES}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Not base64 (standard alphabet, padded).
    #[error("x402 header is not base64: {0}")]
    Base64(#[source] base64::DecodeError),
    /// Not the JSON of the expected message.
    #[error("x402 {what} is not valid JSON of its schema: {source}")]
    Json {
        /// Which message.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A field does not have its required form.
    #[error("x402 field `{field}` = `{value}` is invalid: expected {expected}")]
    Field {
        /// The field.
        field: &'static str,
        /// Its value (at most 100 bytes).
        value: String,
        /// The form it must have.
        expected: &'static str,
    },
}

/// What a resource is (`ResourceInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceInfo {
    /// The resource's URL.
    pub url: String,
    /// A description for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The media type of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// One way to pay (`PaymentRequirements`): for `exact` on EVM, `amount` atomic units of the
/// ERC-20 `asset` on `network` to `payTo`, with the token's EIP-712 `name` and `version` in
/// `extra`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentRequirements {
    /// The scheme (`exact`).
    pub scheme: String,
    /// The CAIP-2 network (`eip155:31337`).
    pub network: String,
    /// The amount in the token's smallest unit, decimal.
    pub amount: String,
    /// The token contract's address.
    pub asset: String,
    /// The recipient.
    pub pay_to: String,
    /// How long the payment may take.
    pub max_timeout_seconds: u64,
    /// Scheme data: the token's EIP-712 domain `name` and `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
}

/// The 402 body and `PAYMENT-REQUIRED` header (`PaymentRequired`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentRequired {
    /// Always 2.
    pub x402_version: u32,
    /// Why payment is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The resource.
    pub resource: ResourceInfo,
    /// The ways to pay.
    pub accepts: Vec<PaymentRequirements>,
    /// Protocol extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Map<String, Value>>,
}

/// The EIP-3009 authorization as sent (decimal strings, hex nonce).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authorization {
    /// The payer.
    pub from: String,
    /// The payee.
    pub to: String,
    /// The amount, atomic units.
    pub value: String,
    /// Valid strictly after this unix time.
    pub valid_after: String,
    /// Valid strictly before this unix time.
    pub valid_before: String,
    /// 32 random bytes, `0x`-hex.
    pub nonce: String,
}

/// The `exact` EVM scheme's payload: the EIP-712 signature and the authorization it signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactEvmPayload {
    /// The 65-byte ECDSA signature, `0x`-hex.
    pub signature: String,
    /// The authorization.
    pub authorization: Authorization,
}

/// The client's payment (`PaymentPayload`), `PAYMENT-SIGNATURE` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentPayload {
    /// Always 2.
    pub x402_version: u32,
    /// The resource paid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceInfo>,
    /// The requirements the client chose.
    pub accepted: PaymentRequirements,
    /// The scheme's data.
    pub payload: ExactEvmPayload,
    /// Protocol extensions echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Map<String, Value>>,
}

/// A settlement's result (`SettleResponse`), `PAYMENT-RESPONSE` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettleResponse {
    /// Whether it settled.
    pub success: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// The transaction hash (empty when it failed).
    #[serde(default)]
    pub transaction: String,
    /// The CAIP-2 network.
    pub network: String,
    /// The payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
}

/// A verification's result (`VerifyResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyResponse {
    /// Whether the payment is valid.
    pub is_valid: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
    /// The payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
}

/// The body of a facilitator's `POST /verify` and `POST /settle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FacilitatorRequest {
    /// The protocol version (the official packages send it; 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x402_version: Option<u32>,
    /// The client's payment.
    pub payment_payload: PaymentPayload,
    /// What the resource server requires.
    pub payment_requirements: PaymentRequirements,
}

/// An EIP-3009 authorization, parsed: what is signed and settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactAuthorization {
    /// The payer.
    pub from: Address,
    /// The payee.
    pub to: Address,
    /// The amount, atomic units.
    pub value: U256,
    /// Valid strictly after this unix time.
    pub valid_after: U256,
    /// Valid strictly before this unix time.
    pub valid_before: U256,
    /// The nonce.
    pub nonce: B256,
}

/// A 65-byte ECDSA signature `r ‖ s ‖ v`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature65(pub [u8; 65]);

impl std::fmt::Debug for Signature65 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature65(0x{})", hex::encode(self.0))
    }
}

fn clip(s: &str) -> String {
    let mut end = s.len().min(100);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn field_err(field: &'static str, value: &str, expected: &'static str) -> WireError {
    WireError::Field {
        field,
        value: clip(value),
        expected,
    }
}

/// Parses a `0x`-prefixed, 40-hex-digit address (any case; EIP-55 checksums are not
/// required, as in the official packages, but a mixed-case one must be a valid checksum).
pub fn parse_address(field: &'static str, s: &str) -> Result<Address, WireError> {
    let expected = "a 0x-prefixed 20-byte hex address";
    let hex_part = s
        .strip_prefix("0x")
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| field_err(field, s, expected))?;
    let address: Address = s.parse().map_err(|_| field_err(field, s, expected))?;
    let mixed = hex_part.bytes().any(|b| b.is_ascii_lowercase())
        && hex_part.bytes().any(|b| b.is_ascii_uppercase());
    if mixed && address.to_checksum(None) != s {
        return Err(field_err(field, s, "a valid EIP-55 checksum"));
    }
    Ok(address)
}

/// Parses a decimal unsigned integer of at most 78 digits that fits 256 bits (no sign, no
/// leading zeros except `0` itself, no hex).
pub fn parse_uint(field: &'static str, s: &str) -> Result<U256, WireError> {
    let expected = "a decimal integer without sign or leading zeros";
    if s.is_empty()
        || s.len() > MAX_UINT_DIGITS
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(field_err(field, s, expected));
    }
    U256::from_str_radix(s, 10).map_err(|_| field_err(field, s, "a value below 2^256"))
}

fn parse_nonce(s: &str) -> Result<B256, WireError> {
    let expected = "a 0x-prefixed 32-byte hex string";
    s.strip_prefix("0x")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|h| h.parse::<B256>().ok())
        .ok_or_else(|| field_err("nonce", s, expected))
}

fn parse_signature(s: &str) -> Result<Signature65, WireError> {
    let expected = "a 0x-prefixed 65-byte hex ECDSA signature";
    let bytes = s
        .strip_prefix("0x")
        .filter(|h| h.len() == 130)
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| field_err("signature", s, expected))?;
    let mut out = [0u8; 65];
    out.copy_from_slice(&bytes);
    Ok(Signature65(out))
}

impl Authorization {
    /// The authorization, parsed strictly.
    pub fn parse(&self) -> Result<ExactAuthorization, WireError> {
        Ok(ExactAuthorization {
            from: parse_address("authorization.from", &self.from)?,
            to: parse_address("authorization.to", &self.to)?,
            value: parse_uint("authorization.value", &self.value)?,
            valid_after: parse_uint("authorization.validAfter", &self.valid_after)?,
            valid_before: parse_uint("authorization.validBefore", &self.valid_before)?,
            nonce: parse_nonce(&self.nonce)?,
        })
    }

    /// The wire form of a parsed authorization (checksummed addresses, decimal numbers).
    pub fn from_parsed(a: &ExactAuthorization) -> Self {
        Self {
            from: a.from.to_checksum(None),
            to: a.to.to_checksum(None),
            value: a.value.to_string(),
            valid_after: a.valid_after.to_string(),
            valid_before: a.valid_before.to_string(),
            nonce: format!("{:#x}", a.nonce),
        }
    }
}

impl ExactEvmPayload {
    /// The authorization and the signature, parsed strictly.
    pub fn parse(&self) -> Result<(ExactAuthorization, Signature65), WireError> {
        Ok((
            self.authorization.parse()?,
            parse_signature(&self.signature)?,
        ))
    }
}

impl PaymentRequirements {
    /// The EIP-712 domain `name` and `version` of the token (`extra.name`, `extra.version`).
    pub fn eip712_name_version(&self) -> Option<(&str, &str)> {
        let extra = self.extra.as_ref()?;
        Some((
            extra.get("name")?.as_str()?,
            extra.get("version")?.as_str()?,
        ))
    }

    /// The EVM chain id of an `eip155:<id>` network.
    pub fn evm_chain_id(&self) -> Result<u64, WireError> {
        evm_chain_id(&self.network)
    }
}

/// The chain id of a CAIP-2 `eip155:<decimal id>` network.
pub fn evm_chain_id(network: &str) -> Result<u64, WireError> {
    network
        .strip_prefix("eip155:")
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 20
                && id.bytes().all(|b| b.is_ascii_digit())
                && !(id.len() > 1 && id.starts_with('0'))
        })
        .and_then(|id| id.parse::<u64>().ok())
        .ok_or_else(|| field_err("network", network, "eip155:<decimal chain id>"))
}

fn encode<T: Serialize>(value: &T) -> String {
    // Serialising these types cannot fail: string keys, no floats, no custom serialisers.
    STANDARD.encode(serde_json::to_vec(value).unwrap_or_default())
}

fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, header: &str) -> Result<T, WireError> {
    let header = header.trim();
    if header.len() > MAX_HEADER_BYTES {
        return Err(WireError::TooLong { len: header.len() });
    }
    let bytes = STANDARD.decode(header).map_err(WireError::Base64)?;
    serde_json::from_slice(&bytes).map_err(|source| WireError::Json { what, source })
}

impl PaymentRequired {
    /// The `PAYMENT-REQUIRED` header value.
    pub fn to_header(&self) -> String {
        encode(self)
    }

    /// Parses a `PAYMENT-REQUIRED` header value (bounded, strict).
    pub fn from_header(header: &str) -> Result<Self, WireError> {
        decode("PaymentRequired", header)
    }
}

impl PaymentPayload {
    /// The `PAYMENT-SIGNATURE` header value.
    pub fn to_header(&self) -> String {
        encode(self)
    }

    /// Parses a `PAYMENT-SIGNATURE` header value: bounded, strict, and the EIP-3009
    /// authorization and signature parsed too (a payload whose values do not parse is
    /// refused here, not later).
    pub fn from_header(header: &str) -> Result<Self, WireError> {
        let payload: Self = decode("PaymentPayload", header)?;
        payload.payload.parse()?;
        Ok(payload)
    }
}

impl SettleResponse {
    /// The `PAYMENT-RESPONSE` header value.
    pub fn to_header(&self) -> String {
        encode(self)
    }

    /// Parses a `PAYMENT-RESPONSE` header value (bounded, strict).
    pub fn from_header(header: &str) -> Result<Self, WireError> {
        decode("SettleResponse", header)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// The `PAYMENT-SIGNATURE` example of the x402 v2 HTTP transport specification.
    const SPEC_PAYMENT_SIGNATURE: &str = "eyJ4NDAyVmVyc2lvbiI6MiwicmVzb3VyY2UiOnsidXJsIjoiaHR0cHM6Ly9hcGkuZXhhbXBsZS5jb20vcHJlbWl1bS1kYXRhIiwiZGVzY3JpcHRpb24iOiJBY2Nlc3MgdG8gcHJlbWl1bSBtYXJrZXQgZGF0YSIsIm1pbWVUeXBlIjoiYXBwbGljYXRpb24vanNvbiJ9LCJhY2NlcHRlZCI6eyJzY2hlbWUiOiJleGFjdCIsIm5ldHdvcmsiOiJlaXAxNTU6ODQ1MzIiLCJhbW91bnQiOiIxMDAwMCIsImFzc2V0IjoiMHgwMzZDYkQ1Mzg0MmM1NDI2NjM0ZTc5Mjk1NDFlQzIzMThmM2RDRjdlIiwicGF5VG8iOiIweDIwOTY5M0JjNmFmYzBDNTMyOGJBMzZGYUYwM0M1MTRFRjMxMjI4N0MiLCJtYXhUaW1lb3V0U2Vjb25kcyI6NjAsImV4dHJhIjp7Im5hbWUiOiJVU0RDIiwidmVyc2lvbiI6IjIifX0sInBheWxvYWQiOnsic2lnbmF0dXJlIjoiMHgyZDZhNzU4OGQ2YWNjYTUwNWNiZjBkOWE0YTIyN2UwYzUyYzZjMzQwMDhjOGU4OTg2YTEyODMyNTk3NjQxNzM2MDhhMmNlNjQ5NjY0MmUzNzdkNmRhOGRiYmY1ODM2ZTliZDE1MDkyZjllY2FiMDVkZWQzZDYyOTNhZjE0OGI1NzFjIiwiYXV0aG9yaXphdGlvbiI6eyJmcm9tIjoiMHg4NTdiMDY1MTlFOTFlM0E1NDUzODc5MWJEYmIwRTIyMzczZTM2YjY2IiwidG8iOiIweDIwOTY5M0JjNmFmYzBDNTMyOGJBMzZGYUYwM0M1MTRFRjMxMjI4N0MiLCJ2YWx1ZSI6IjEwMDAwIiwidmFsaWRBZnRlciI6IjE3NDA2NzIwODkiLCJ2YWxpZEJlZm9yZSI6IjE3NDA2NzIxNTQiLCJub25jZSI6IjB4ZjM3NDY2MTNjMmQ5MjBiNWZkYWJjMDg1NmYyYWViMmQ0Zjg4ZWU2MDM3YjhjYzVkMDRhNzFhNDQ2MmYxMzQ4MCJ9fX0=";
    /// The `PAYMENT-REQUIRED` example of the same specification.
    const SPEC_PAYMENT_REQUIRED: &str = "eyJ4NDAyVmVyc2lvbiI6MiwiZXJyb3IiOiJQQVlNRU5ULVNJR05BVFVSRSBoZWFkZXIgaXMgcmVxdWlyZWQiLCJyZXNvdXJjZSI6eyJ1cmwiOiJodHRwczovL2FwaS5leGFtcGxlLmNvbS9wcmVtaXVtLWRhdGEiLCJkZXNjcmlwdGlvbiI6IkFjY2VzcyB0byBwcmVtaXVtIG1hcmtldCBkYXRhIiwibWltZVR5cGUiOiJhcHBsaWNhdGlvbi9qc29uIn0sImFjY2VwdHMiOlt7InNjaGVtZSI6ImV4YWN0IiwibmV0d29yayI6ImVpcDE1NTo4NDUzMiIsImFtb3VudCI6IjEwMDAwIiwiYXNzZXQiOiIweDAzNkNiRDUzODQyYzU0MjY2MzRlNzkyOTU0MWVDMjMxOGYzZENGN2UiLCJwYXlUbyI6IjB4MjA5NjkzQmM2YWZjMEM1MzI4YkEzNkZhRjAzQzUxNEVGMzEyMjg3QyIsIm1heFRpbWVvdXRTZWNvbmRzIjo2MCwiZXh0cmEiOnsibmFtZSI6IlVTREMiLCJ2ZXJzaW9uIjoiMiJ9fV19";
    /// The successful `PAYMENT-RESPONSE` example of the same specification.
    const SPEC_PAYMENT_RESPONSE: &str = "eyJzdWNjZXNzIjp0cnVlLCJ0cmFuc2FjdGlvbiI6IjB4MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWYxMjM0NTY3ODkwYWJjZGVmMTIzNDU2Nzg5MGFiY2RlZiIsIm5ldHdvcmsiOiJlaXAxNTU6ODQ1MzIiLCJwYXllciI6IjB4ODU3YjA2NTE5RTkxZTNBNTQ1Mzg3OTFiRGJiMEUyMjM3M2UzNmI2NiJ9";

    #[test]
    fn spec_headers_round_trip_byte_for_byte() {
        let p = PaymentPayload::from_header(SPEC_PAYMENT_SIGNATURE).unwrap();
        assert_eq!(p.x402_version, 2);
        assert_eq!(p.accepted.network, "eip155:84532");
        assert_eq!(p.accepted.eip712_name_version(), Some(("USDC", "2")));
        let (auth, _sig) = p.payload.parse().unwrap();
        assert_eq!(auth.value, U256::from(10_000u64));
        assert_eq!(auth.valid_before, U256::from(1_740_672_154u64));
        assert_eq!(p.to_header(), SPEC_PAYMENT_SIGNATURE);
        assert_eq!(Authorization::from_parsed(&auth), p.payload.authorization);

        let r = PaymentRequired::from_header(SPEC_PAYMENT_REQUIRED).unwrap();
        assert_eq!(r.accepts.len(), 1);
        assert_eq!(r.accepts[0].evm_chain_id().unwrap(), 84_532);
        assert_eq!(r.to_header(), SPEC_PAYMENT_REQUIRED);

        let s = SettleResponse::from_header(SPEC_PAYMENT_RESPONSE).unwrap();
        assert!(s.success);
        assert_eq!(s.to_header(), SPEC_PAYMENT_RESPONSE);
        // The failure example (no transaction field) parses too.
        let failed = SettleResponse::from_header("eyJzdWNjZXNzIjpmYWxzZSwiZXJyb3JSZWFzb24iOiJpbnN1ZmZpY2llbnRfZnVuZHMiLCJuZXR3b3JrIjoiZWlwMTU1Ojg0NTMyIn0=").unwrap();
        assert_eq!(failed.error_reason.as_deref(), Some("insufficient_funds"));
        assert!(failed.transaction.is_empty());
    }

    fn spec_json() -> Value {
        serde_json::from_slice(&STANDARD.decode(SPEC_PAYMENT_SIGNATURE).unwrap()).unwrap()
    }

    fn header_of(v: &Value) -> String {
        STANDARD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn refuses_malformed_payloads() {
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "unknown top-level field",
                Box::new(|v| v["extra"] = 1.into()),
            ),
            (
                "unknown authorization field",
                Box::new(|v| v["payload"]["authorization"]["x"] = 1.into()),
            ),
            (
                "missing signature",
                Box::new(|v| {
                    v["payload"].as_object_mut().unwrap().remove("signature");
                }),
            ),
            (
                "hex value",
                Box::new(|v| v["payload"]["authorization"]["value"] = "0x10".into()),
            ),
            (
                "signed value",
                Box::new(|v| v["payload"]["authorization"]["value"] = "-1".into()),
            ),
            (
                "leading zero",
                Box::new(|v| v["payload"]["authorization"]["value"] = "010".into()),
            ),
            (
                "number value",
                Box::new(|v| v["payload"]["authorization"]["value"] = 10.into()),
            ),
            (
                "above 2^256",
                Box::new(|v| v["payload"]["authorization"]["value"] = "9".repeat(78).into()),
            ),
            (
                "short nonce",
                Box::new(|v| v["payload"]["authorization"]["nonce"] = "0x01".into()),
            ),
            (
                "short address",
                Box::new(|v| v["payload"]["authorization"]["to"] = "0x1234".into()),
            ),
            (
                "bad checksum",
                Box::new(|v| {
                    v["payload"]["authorization"]["from"] =
                        "0x857B06519E91e3A54538791bDbb0E22373e36b66".into()
                }),
            ),
            (
                "short signature",
                Box::new(|v| v["payload"]["signature"] = "0x2d6a".into()),
            ),
            (
                "string version",
                Box::new(|v| v["x402Version"] = "2".into()),
            ),
        ];
        for (name, mutate) in cases {
            let mut v = spec_json();
            mutate(&mut v);
            assert!(
                PaymentPayload::from_header(&header_of(&v)).is_err(),
                "{name}"
            );
        }
        assert!(matches!(
            PaymentPayload::from_header(&"A".repeat(MAX_HEADER_BYTES + 4)),
            Err(WireError::TooLong { .. })
        ));
        assert!(matches!(
            PaymentPayload::from_header("not base64!"),
            Err(WireError::Base64(_))
        ));
        assert!(matches!(
            PaymentPayload::from_header(&STANDARD.encode(b"[1,2]")),
            Err(WireError::Json { .. })
        ));
        // Lower-case and upper-case addresses are not checksummed and are accepted.
        let mut v = spec_json();
        v["payload"]["authorization"]["from"] = "0x857b06519e91e3a54538791bdbb0e22373e36b66".into();
        assert!(PaymentPayload::from_header(&header_of(&v)).is_ok());
    }

    #[test]
    fn chain_ids() {
        assert_eq!(evm_chain_id("eip155:31337").unwrap(), 31_337);
        for bad in [
            "eip155:",
            "eip155:01",
            "solana:1",
            "eip155:1a",
            "eip155:99999999999999999999",
        ] {
            assert!(evm_chain_id(bad).is_err(), "{bad}");
        }
    }
}
