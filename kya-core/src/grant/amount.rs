//! Exact, non-negative decimal amounts (never floats).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most significant digits an [`Amount`] may have (and the largest scale).
pub const MAX_AMOUNT_DIGITS: usize = 38;
/// The most bytes an amount string may have (leading zeros included).
pub const MAX_AMOUNT_BYTES: usize = 128;

/// An exact, non-negative decimal number such as `50`, `50.00` or `0.000000000000000001`.
///
/// Parsed from a decimal string: ASCII digits, optionally a `.` followed by at least one digit.
/// No sign, no exponent, at most [`MAX_AMOUNT_DIGITS`] significant digits and at most as many
/// digits after the point. Leading zeros are accepted.
///
/// Comparison and equality are by numeric value (`50 == 50.00`), while [`Display`] and
/// serialisation reproduce the exact string the amount was parsed from, so that a
/// re-serialised document keeps its bytes. Amounts serialise as JSON strings and refuse JSON
/// numbers.
///
/// [`Display`]: fmt::Display
#[derive(Clone)]
pub struct Amount {
    mantissa: u128,
    scale: u8,
    /// Shared: decisions and obligations copy amounts, and a copy must not allocate.
    text: Arc<str>,
}

/// Why a string is not an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// The string is empty.
    #[error("an amount must not be empty")]
    Empty,
    /// The string is longer than [`MAX_AMOUNT_BYTES`].
    #[error("amount is {len} bytes long, more than the limit of {MAX_AMOUNT_BYTES}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The string starts with `+` or `-`.
    #[error("amount `{text}` has a sign; amounts are unsigned decimal strings")]
    Signed {
        /// The input.
        text: String,
    },
    /// The string uses an exponent (`1e3`).
    #[error("amount `{text}` uses an exponent; write the digits out")]
    Exponent {
        /// The input.
        text: String,
    },
    /// A character other than a digit or one decimal point.
    #[error(
        "amount `{text}` contains {ch:?} at byte {position}; amounts are digits with an optional decimal point"
    )]
    InvalidChar {
        /// The input.
        text: String,
        /// The offending character.
        ch: char,
        /// Its byte offset.
        position: usize,
    },
    /// Nothing before or after the decimal point (`.5`, `5.`).
    #[error("amount `{text}` needs digits on both sides of the decimal point")]
    MissingDigits {
        /// The input.
        text: String,
    },
    /// More than [`MAX_AMOUNT_DIGITS`] digits after the point.
    #[error(
        "amount `{text}` has {scale} digits after the point, more than the limit of {MAX_AMOUNT_DIGITS}"
    )]
    ScaleTooLarge {
        /// The input.
        text: String,
        /// Its number of fractional digits.
        scale: usize,
    },
    /// More than [`MAX_AMOUNT_DIGITS`] significant digits.
    #[error(
        "amount `{text}` has {digits} significant digits, more than the limit of {MAX_AMOUNT_DIGITS}"
    )]
    TooManyDigits {
        /// The input.
        text: String,
        /// Its number of significant digits.
        digits: usize,
    },
    /// A JSON number where a decimal string was expected.
    #[error("amounts are decimal strings, not JSON numbers")]
    JsonNumber,
}

const POW10: [u128; MAX_AMOUNT_DIGITS + 1] = {
    let mut table = [1u128; MAX_AMOUNT_DIGITS + 1];
    let mut i = 1;
    while i <= MAX_AMOUNT_DIGITS {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// `10^MAX_AMOUNT_DIGITS`: every mantissa is below it.
const MANTISSA_BOUND: u128 = POW10[MAX_AMOUNT_DIGITS];

fn pow10(exp: u8) -> u128 {
    POW10
        .get(usize::from(exp))
        .copied()
        .unwrap_or(MANTISSA_BOUND)
}

impl Amount {
    /// Parses a decimal string.
    pub fn parse(s: &str) -> Result<Self, AmountError> {
        if s.is_empty() {
            return Err(AmountError::Empty);
        }
        if s.len() > MAX_AMOUNT_BYTES {
            return Err(AmountError::TooLong { len: s.len() });
        }
        let text = || s.to_owned();
        if s.starts_with(['+', '-']) {
            return Err(AmountError::Signed { text: text() });
        }
        let mut point = None;
        for (position, ch) in s.char_indices() {
            match ch {
                '0'..='9' => {}
                '.' if point.is_none() => point = Some(position),
                'e' | 'E' => return Err(AmountError::Exponent { text: text() }),
                _ => {
                    return Err(AmountError::InvalidChar {
                        text: text(),
                        ch,
                        position,
                    });
                }
            }
        }
        let (int, frac) = match point {
            Some(p) => (&s[..p], &s[p + 1..]),
            None => (s, ""),
        };
        if int.is_empty() || (point.is_some() && frac.is_empty()) {
            return Err(AmountError::MissingDigits { text: text() });
        }
        if frac.len() > MAX_AMOUNT_DIGITS {
            return Err(AmountError::ScaleTooLarge {
                text: text(),
                scale: frac.len(),
            });
        }
        let significant = int.trim_start_matches('0').len()
            + if int.trim_start_matches('0').is_empty() {
                frac.trim_start_matches('0').len()
            } else {
                frac.len()
            };
        if significant > MAX_AMOUNT_DIGITS {
            return Err(AmountError::TooManyDigits {
                text: text(),
                digits: significant,
            });
        }
        let mut mantissa: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            // At most 38 significant digits: this never exceeds 10^38 - 1.
            mantissa = mantissa
                .saturating_mul(10)
                .saturating_add(u128::from(b - b'0'));
        }
        let scale = u8::try_from(frac.len()).unwrap_or(u8::MAX);
        Ok(Self {
            mantissa,
            scale,
            text: s.into(),
        })
    }

    /// Builds an amount worth `mantissa × 10^-scale`, written canonically (`7500`, 2 → `75.00`).
    pub fn from_parts(mantissa: u128, scale: u8) -> Result<Self, AmountError> {
        let text = format_parts(mantissa, scale);
        if usize::from(scale) > MAX_AMOUNT_DIGITS {
            return Err(AmountError::ScaleTooLarge {
                text,
                scale: usize::from(scale),
            });
        }
        if mantissa >= MANTISSA_BOUND {
            let digits = mantissa.to_string().len();
            return Err(AmountError::TooManyDigits { text, digits });
        }
        Ok(Self {
            mantissa,
            scale,
            text: text.into(),
        })
    }

    /// The amount zero (`0`).
    pub fn zero() -> Self {
        Self {
            mantissa: 0,
            scale: 0,
            text: "0".into(),
        }
    }

    /// The digits as an integer: the amount is `mantissa() × 10^-scale()`.
    pub fn mantissa(&self) -> u128 {
        self.mantissa
    }

    /// The number of digits after the decimal point as written.
    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// The string the amount was parsed from (or its canonical form if computed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// The sum, or `None` if it has more than [`MAX_AMOUNT_DIGITS`] digits. The result is
    /// written canonically with the larger of the two scales.
    pub fn checked_add(&self, other: &Amount) -> Option<Amount> {
        let scale = self.scale.max(other.scale);
        let a = self.mantissa.checked_mul(pow10(scale - self.scale))?;
        let b = other.mantissa.checked_mul(pow10(scale - other.scale))?;
        Amount::from_parts(a.checked_add(b)?, scale).ok()
    }

    /// The difference, or `None` if `other` is larger (or the result does not fit).
    pub fn checked_sub(&self, other: &Amount) -> Option<Amount> {
        let scale = self.scale.max(other.scale);
        let a = self.mantissa.checked_mul(pow10(scale - self.scale))?;
        let b = other.mantissa.checked_mul(pow10(scale - other.scale))?;
        Amount::from_parts(a.checked_sub(b)?, scale).ok()
    }

    /// The value with trailing fractional zeros removed: equal amounts have equal parts.
    fn normalized(&self) -> (u128, u8) {
        let (mut m, mut s) = (self.mantissa, self.scale);
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        if m == 0 {
            s = 0;
        }
        (m, s)
    }
}

fn format_parts(mantissa: u128, scale: u8) -> String {
    let digits = mantissa.to_string();
    let scale = usize::from(scale);
    if scale == 0 {
        return digits;
    }
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits
    };
    let split = padded.len() - scale;
    format!("{}.{}", &padded[..split], &padded[split..])
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        let (ps, po) = (pow10(self.scale), pow10(other.scale));
        let (int_s, frac_s) = (self.mantissa / ps, self.mantissa % ps);
        let (int_o, frac_o) = (other.mantissa / po, other.mantissa % po);
        int_s.cmp(&int_o).then_with(|| {
            // Each fraction is below 10^scale, so scaling to the larger scale stays below
            // 10^38 and cannot overflow.
            let scale = self.scale.max(other.scale);
            let a = frac_s.saturating_mul(pow10(scale - self.scale));
            let b = frac_o.saturating_mul(pow10(scale - other.scale));
            a.cmp(&b)
        })
    }
}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Amount {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Amount {}

impl Hash for Amount {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized().hash(state);
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.text)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Amount {
    type Error = AmountError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string such as \"50.00\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Amount, E> {
                Err(E::custom(AmountError::JsonNumber))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Amount, E> {
                Err(E::custom(AmountError::JsonNumber))
            }
            fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<Amount, E> {
                Err(E::custom(AmountError::JsonNumber))
            }
            fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<Amount, E> {
                Err(E::custom(AmountError::JsonNumber))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Amount, E> {
                Err(E::custom(AmountError::JsonNumber))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn a(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    #[test]
    fn parses_and_keeps_text() {
        assert_eq!(a("50").mantissa(), 50);
        assert_eq!(a("50.00").mantissa(), 5000);
        assert_eq!(a("50.00").scale(), 2);
        assert_eq!(a("50.00").to_string(), "50.00");
        assert_eq!(a("007.50").to_string(), "007.50");
        let tiny = a("0.000000000000000001");
        assert_eq!((tiny.mantissa(), tiny.scale()), (1, 18));
        assert!(a("0").is_zero());
        assert!(a("0.000").is_zero());
        // 38 significant digits, and 38 decimals.
        assert!(Amount::parse(&"9".repeat(38)).is_ok());
        assert!(Amount::parse(&format!("0.{}", "9".repeat(38))).is_ok());
        assert!(Amount::parse(&format!("000{}", "9".repeat(38))).is_ok());
    }

    #[test]
    fn rejects_bad_amounts() {
        assert_eq!(Amount::parse(""), Err(AmountError::Empty));
        assert!(matches!(
            Amount::parse("-1"),
            Err(AmountError::Signed { .. })
        ));
        assert!(matches!(
            Amount::parse("+1"),
            Err(AmountError::Signed { .. })
        ));
        assert!(matches!(
            Amount::parse("1e3"),
            Err(AmountError::Exponent { .. })
        ));
        assert!(matches!(
            Amount::parse("1E3"),
            Err(AmountError::Exponent { .. })
        ));
        assert!(matches!(
            Amount::parse(".5"),
            Err(AmountError::MissingDigits { .. })
        ));
        assert!(matches!(
            Amount::parse("5."),
            Err(AmountError::MissingDigits { .. })
        ));
        assert!(matches!(
            Amount::parse("."),
            Err(AmountError::MissingDigits { .. })
        ));
        assert!(matches!(
            Amount::parse("1.2.3"),
            Err(AmountError::InvalidChar {
                ch: '.',
                position: 3,
                ..
            })
        ));
        assert!(matches!(
            Amount::parse(" 1"),
            Err(AmountError::InvalidChar { .. })
        ));
        assert!(matches!(
            Amount::parse("1,5"),
            Err(AmountError::InvalidChar { .. })
        ));
        assert!(matches!(
            Amount::parse("NaN"),
            Err(AmountError::InvalidChar { .. })
        ));
        assert!(matches!(
            Amount::parse("١"),
            Err(AmountError::InvalidChar { .. })
        ));
        assert!(matches!(
            Amount::parse(&"9".repeat(39)),
            Err(AmountError::TooManyDigits { digits: 39, .. })
        ));
        assert!(matches!(
            Amount::parse(&format!("1.{}", "0".repeat(38))),
            Err(AmountError::TooManyDigits { digits: 39, .. })
        ));
        assert!(matches!(
            Amount::parse(&format!("0.{}", "0".repeat(39))),
            Err(AmountError::ScaleTooLarge { scale: 39, .. })
        ));
        assert!(matches!(
            Amount::parse(&"0".repeat(200)),
            Err(AmountError::TooLong { len: 200 })
        ));
    }

    #[test]
    fn orders_by_value() {
        assert_eq!(a("50"), a("50.00"));
        assert_eq!(a("050.0"), a("50"));
        assert!(a("50.01") > a("50"));
        assert!(a("49.999") < a("50"));
        assert!(a("0.000000000000000001") > a("0"));
        assert!(a(&"9".repeat(38)) > a(&format!("0.{}", "9".repeat(38))));
        assert!(a(&format!("0.{}1", "0".repeat(37))) < a(&format!("0.{}2", "0".repeat(37))));
        assert_eq!(a("0"), a("0.00000"));
        use std::collections::hash_map::DefaultHasher;
        let h = |x: &Amount| {
            let mut s = DefaultHasher::new();
            x.hash(&mut s);
            s.finish()
        };
        assert_eq!(h(&a("50")), h(&a("50.000")));
        assert_eq!(h(&a("0")), h(&a("0.0")));
    }

    #[test]
    fn arithmetic() {
        assert_eq!(
            a("50").checked_add(&a("25.00")).unwrap().to_string(),
            "75.00"
        );
        assert_eq!(
            a("0.1").checked_add(&a("0.02")).unwrap().to_string(),
            "0.12"
        );
        assert_eq!(
            a("0.001").checked_add(&a("0")).unwrap().to_string(),
            "0.001"
        );
        assert!(a(&"9".repeat(38)).checked_add(&a("1")).is_none());
        assert!(a(&"9".repeat(30)).checked_add(&a("0.000000001")).is_none());
        assert_eq!(a("1").checked_sub(&a("0.25")).unwrap().to_string(), "0.75");
        assert!(a("1").checked_sub(&a("1.01")).is_none());
        assert_eq!(Amount::from_parts(5, 3).unwrap().to_string(), "0.005");
        assert_eq!(Amount::from_parts(0, 2).unwrap().to_string(), "0.00");
        assert!(Amount::from_parts(1, 39).is_err());
        assert!(Amount::from_parts(u128::MAX, 0).is_err());
    }

    #[test]
    fn serde_strings_only() {
        let x: Amount = serde_json::from_str("\"50.00\"").unwrap();
        assert_eq!(serde_json::to_string(&x).unwrap(), "\"50.00\"");
        for n in ["50", "50.5", "-1", "1e3"] {
            let err = serde_json::from_str::<Amount>(n).unwrap_err().to_string();
            assert!(
                err.contains("amounts are decimal strings, not JSON numbers"),
                "{err}"
            );
        }
        assert!(serde_json::from_str::<Amount>("null").is_err());
    }
}
