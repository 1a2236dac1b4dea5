//! Assets: ISO 4217 currency codes and CAIP-19 asset ids.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What an amount is denominated in: an ISO 4217 currency code (`USD`) or a CAIP-19 asset
/// type or asset id (`eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48`).
///
/// Assets compare as exact, case-sensitive strings (CAIP-19 ids are case-sensitive; no
/// address checksum normalisation is done), which fails closed: two spellings of one token
/// are different assets.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Asset {
    /// Shared: decisions and obligations copy assets, and a copy must not allocate.
    text: Arc<str>,
    kind: AssetKind,
}

/// Which kind of identifier an [`Asset`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum AssetKind {
    /// Three uppercase ASCII letters (ISO 4217 alphabetic code).
    Iso4217,
    /// `namespace:reference/asset_namespace:asset_reference[/token_id]` (CAIP-19).
    Caip19,
}

/// Why a string is not an [`Asset`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssetError {
    /// The string is empty.
    #[error("an asset must not be empty")]
    Empty,
    /// Not three uppercase letters, and not a CAIP-19 id (no `:`).
    #[error(
        "asset `{text}` is neither an ISO 4217 code (three uppercase letters) nor a CAIP-19 asset id"
    )]
    Unrecognised {
        /// The input (truncated to 300 bytes).
        text: String,
    },
    /// A CAIP-19 id with a malformed part.
    #[error("CAIP-19 asset id `{text}` has an invalid {part} `{value}`: expected {expected}")]
    InvalidCaip19Part {
        /// The input (truncated to 300 bytes).
        text: String,
        /// Which part: `namespace`, `reference`, `asset_namespace`, `asset_reference`, `token_id`.
        part: &'static str,
        /// The part as written.
        value: String,
        /// The grammar it should match.
        expected: &'static str,
    },
    /// A CAIP-19 id without the `/asset_namespace:asset_reference` part, or with extra parts.
    #[error(
        "CAIP-19 asset id `{text}` must be `namespace:reference/asset_namespace:asset_reference[/token_id]`"
    )]
    Caip19Shape {
        /// The input (truncated to 300 bytes).
        text: String,
    },
}

fn clip(s: &str) -> String {
    let mut end = s.len().min(300);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn check(
    text: &str,
    part: &'static str,
    value: &str,
    min: usize,
    max: usize,
    allowed: fn(u8) -> bool,
    expected: &'static str,
) -> Result<(), AssetError> {
    if value.len() < min || value.len() > max || !value.bytes().all(allowed) {
        return Err(AssetError::InvalidCaip19Part {
            text: clip(text),
            part,
            value: clip(value),
            expected,
        });
    }
    Ok(())
}

fn namespace_char(b: u8) -> bool {
    b == b'-' || b.is_ascii_lowercase() || b.is_ascii_digit()
}
fn chain_reference_char(b: u8) -> bool {
    b == b'-' || b == b'_' || b.is_ascii_alphanumeric()
}
fn asset_reference_char(b: u8) -> bool {
    b == b'-' || b == b'.' || b == b'%' || b.is_ascii_alphanumeric()
}

impl Asset {
    /// Parses an ISO 4217 code or a CAIP-19 asset type / asset id.
    pub fn parse(s: &str) -> Result<Self, AssetError> {
        if s.is_empty() {
            return Err(AssetError::Empty);
        }
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            return Ok(Self {
                text: s.into(),
                kind: AssetKind::Iso4217,
            });
        }
        if !s.contains(':') {
            return Err(AssetError::Unrecognised { text: clip(s) });
        }
        let shape = || AssetError::Caip19Shape { text: clip(s) };
        let mut parts = s.split('/');
        let chain = parts.next().ok_or_else(shape)?;
        let asset = parts.next().ok_or_else(shape)?;
        let token = parts.next();
        if parts.next().is_some() {
            return Err(shape());
        }
        let (namespace, reference) = chain.split_once(':').ok_or_else(shape)?;
        let (asset_namespace, asset_reference) = asset.split_once(':').ok_or_else(shape)?;
        check(
            s,
            "namespace",
            namespace,
            3,
            8,
            namespace_char,
            "[-a-z0-9]{3,8}",
        )?;
        check(
            s,
            "reference",
            reference,
            1,
            32,
            chain_reference_char,
            "[-_a-zA-Z0-9]{1,32}",
        )?;
        check(
            s,
            "asset_namespace",
            asset_namespace,
            3,
            8,
            namespace_char,
            "[-a-z0-9]{3,8}",
        )?;
        check(
            s,
            "asset_reference",
            asset_reference,
            1,
            128,
            asset_reference_char,
            "[-.%a-zA-Z0-9]{1,128}",
        )?;
        if let Some(token) = token {
            check(
                s,
                "token_id",
                token,
                1,
                78,
                asset_reference_char,
                "[-.%a-zA-Z0-9]{1,78}",
            )?;
        }
        Ok(Self {
            text: s.into(),
            kind: AssetKind::Caip19,
        })
    }

    /// The asset as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it is an ISO 4217 code or a CAIP-19 id.
    pub fn kind(&self) -> AssetKind {
        self.kind
    }

    /// For a CAIP-19 id, its CAIP-2 chain id (`eip155:1`).
    pub fn chain_id(&self) -> Option<&str> {
        match self.kind {
            AssetKind::Caip19 => self.text.split('/').next(),
            AssetKind::Iso4217 => None,
        }
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Asset({})", self.text)
    }
}

impl FromStr for Asset {
    type Err = AssetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Asset {
    type Error = AssetError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl Serialize for Asset {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Asset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Asset;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 4217 code or a CAIP-19 asset id")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Asset, E> {
                Asset::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const USDC: &str = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";

    #[test]
    fn parses_iso_and_caip19() {
        let usd = Asset::parse("USD").unwrap();
        assert_eq!(usd.kind(), AssetKind::Iso4217);
        assert_eq!(usd.chain_id(), None);
        let usdc = Asset::parse(USDC).unwrap();
        assert_eq!(usdc.kind(), AssetKind::Caip19);
        assert_eq!(usdc.chain_id(), Some("eip155:1"));
        for ok in [
            "bip122:000000000019d6689c085ae165831e93/slip44:0",
            "cosmos:cosmoshub-3/slip44:118",
            "eip155:1/erc721:0x06012c8cf97BEaD5deAe237070F9587f8E7A266d/771769",
            "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp/token:EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            "hedera:mainnet/nft:0.0.55492/12",
        ] {
            assert!(Asset::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_assets() {
        assert_eq!(Asset::parse(""), Err(AssetError::Empty));
        for bad in ["usd", "US", "USDC", "US1", "dollars"] {
            assert!(
                matches!(Asset::parse(bad), Err(AssetError::Unrecognised { .. })),
                "{bad}"
            );
        }
        for bad in [
            "eip155:1",
            "eip155:1/erc20",
            "eip155:1/erc20:0xab/1/2",
            "eip155:1/:0xab",
        ] {
            assert!(
                matches!(
                    Asset::parse(bad),
                    Err(AssetError::Caip19Shape { .. } | AssetError::InvalidCaip19Part { .. })
                ),
                "{bad}"
            );
        }
        let part = |s: &str| match Asset::parse(s) {
            Err(AssetError::InvalidCaip19Part { part, .. }) => part,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(part("EIP155:1/erc20:0xab"), "namespace");
        assert_eq!(part("ab:1/erc20:0xab"), "namespace");
        assert_eq!(part("eip155:/erc20:0xab"), "reference");
        assert_eq!(
            part(&format!("eip155:{}/erc20:0xab", "1".repeat(33))),
            "reference"
        );
        assert_eq!(part("eip155:1/ERC20:0xab"), "asset_namespace");
        assert_eq!(part("eip155:1/erc20:0x:ab"), "asset_reference");
        assert_eq!(
            part(&format!("eip155:1/erc20:{}", "a".repeat(129))),
            "asset_reference"
        );
        assert_eq!(part("eip155:1/erc721:0xab/"), "token_id");
        assert_eq!(part("eip155:1/erc721:0xab/1_2"), "token_id");
        let msg = Asset::parse("eip155:1/ERC20:0xab").unwrap_err().to_string();
        assert!(msg.contains("asset_namespace `ERC20`"), "{msg}");
    }

    #[test]
    fn serde_as_string() {
        let x: Asset = serde_json::from_str(&format!("\"{USDC}\"")).unwrap();
        assert_eq!(serde_json::to_string(&x).unwrap(), format!("\"{USDC}\""));
        assert!(serde_json::from_str::<Asset>("\"usd\"").is_err());
    }
}
