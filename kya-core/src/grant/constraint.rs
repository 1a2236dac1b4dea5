//! The constraint types a grant carries.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::json::{self, join};
use super::{Amount, Asset, GrantError};

/// The most bytes an audience entry or resource prefix may have.
pub const MAX_ENTRY_BYTES: usize = 2048;

/// An amount in an asset, such as `50.00 USD`. JSON: `{ "value": "50.00", "asset": "USD" }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    /// How much.
    pub value: Amount,
    /// Of what.
    pub asset: Asset,
}

impl Money {
    /// An amount in an asset.
    pub fn new(value: Amount, asset: Asset) -> Self {
        Self { value, asset }
    }

    pub(crate) fn from_json(field: &str, v: &Value) -> Result<Self, GrantError> {
        let obj = json::as_object(field, v)?;
        json::only(field, obj, &["value", "asset"])?;
        let value = json::as_amount(join(field, "value"), json::member(field, obj, "value")?)?;
        let asset = json::as_asset(join(field, "asset"), json::member(field, obj, "asset")?)?;
        Ok(Self { value, asset })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("value".into(), Value::String(self.value.to_string()));
        m.insert("asset".into(), Value::String(self.asset.to_string()));
        Value::Object(m)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, self.asset)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = json::strict_value(d)?;
        Money::from_json("amount", &v).map_err(serde::de::Error::custom)
    }
}

/// The length of a budget's or a rate's period, in whole seconds.
///
/// Its own type so that a period cannot take the place of a count or an amount:
/// `Rate::new(10, Period::seconds(60))` cannot be written the wrong way round. A zero period
/// is refused where it is used ([`GrantError::NotPositive`]).
///
/// ```
/// # use kya_core::grant::{Period, Rate};
/// let rate = Rate::new(10, Period::minutes(1))?;
/// assert_eq!((rate.count(), rate.period_seconds()), (10, 60));
/// # Ok::<(), kya_core::grant::GrantError>(())
/// ```
///
/// A bare number is not a period, so the arguments cannot be swapped:
///
/// ```compile_fail
/// # use kya_core::grant::{Period, Rate};
/// let rate = Rate::new(Period::minutes(1), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period(u64);

impl Period {
    /// `n` seconds.
    pub const fn seconds(n: u64) -> Self {
        Self(n)
    }
    /// `n` minutes (saturating: a period past `u64::MAX` seconds is as good as unbounded).
    pub const fn minutes(n: u64) -> Self {
        Self(n.saturating_mul(60))
    }
    /// `n` hours (saturating).
    pub const fn hours(n: u64) -> Self {
        Self(n.saturating_mul(3600))
    }
    /// `n` days of 86 400 seconds (saturating).
    pub const fn days(n: u64) -> Self {
        Self(n.saturating_mul(86_400))
    }
    /// The length in seconds.
    pub const fn as_seconds(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0)
    }
}

/// A spending budget: at most `limit` (in its asset) in total per `period_seconds`.
/// JSON: `{ "value": "200.00", "asset": "USD", "periodSeconds": 86400 }`.
///
/// A stateless check only refuses single requests larger than the whole budget; the running
/// total is a stateful [`Obligation`](super::Obligation) that a verifier enforces through a
/// ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Budget {
    limit: Money,
    period_seconds: u64,
}

impl Budget {
    /// A budget of `limit` per `period` (which must be at least one second).
    pub fn new(limit: Money, period: Period) -> Result<Self, GrantError> {
        let period_seconds = period.as_seconds();
        if period_seconds == 0 {
            return Err(GrantError::NotPositive {
                field: "budget.periodSeconds".into(),
            });
        }
        Ok(Self {
            limit,
            period_seconds,
        })
    }

    /// The most that may be spent per period.
    pub fn limit(&self) -> &Money {
        &self.limit
    }

    /// The period's length in seconds (at least 1).
    pub fn period_seconds(&self) -> u64 {
        self.period_seconds
    }

    pub(crate) fn from_json(field: &str, v: &Value) -> Result<Self, GrantError> {
        let obj = json::as_object(field, v)?;
        json::only(field, obj, &["value", "asset", "periodSeconds"])?;
        let value = json::as_amount(join(field, "value"), json::member(field, obj, "value")?)?;
        let asset = json::as_asset(join(field, "asset"), json::member(field, obj, "asset")?)?;
        let period_seconds = json::as_positive_u64(
            join(field, "periodSeconds"),
            json::member(field, obj, "periodSeconds")?,
        )?;
        Ok(Self {
            limit: Money { value, asset },
            period_seconds,
        })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("value".into(), Value::String(self.limit.value.to_string()));
        m.insert("asset".into(), Value::String(self.limit.asset.to_string()));
        m.insert(
            "periodSeconds".into(),
            Value::Number(self.period_seconds.into()),
        );
        Value::Object(m)
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {} s", self.limit, self.period_seconds)
    }
}

/// A rate limit: at most `count` requests per `period_seconds`.
/// JSON: `{ "count": 10, "periodSeconds": 60 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    count: u64,
    period_seconds: u64,
}

impl Rate {
    /// At most `count` requests per `period` (both at least 1).
    pub fn new(count: u64, period: Period) -> Result<Self, GrantError> {
        let period_seconds = period.as_seconds();
        if count == 0 {
            return Err(GrantError::NotPositive {
                field: "rate.count".into(),
            });
        }
        if period_seconds == 0 {
            return Err(GrantError::NotPositive {
                field: "rate.periodSeconds".into(),
            });
        }
        Ok(Self {
            count,
            period_seconds,
        })
    }

    /// How many requests per period.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The period's length in seconds.
    pub fn period_seconds(&self) -> u64 {
        self.period_seconds
    }

    pub(crate) fn from_json(field: &str, v: &Value) -> Result<Self, GrantError> {
        let obj = json::as_object(field, v)?;
        json::only(field, obj, &["count", "periodSeconds"])?;
        let count =
            json::as_positive_u64(join(field, "count"), json::member(field, obj, "count")?)?;
        let period_seconds = json::as_positive_u64(
            join(field, "periodSeconds"),
            json::member(field, obj, "periodSeconds")?,
        )?;
        Ok(Self {
            count,
            period_seconds,
        })
    }

    pub(crate) fn to_json(self) -> Value {
        let mut m = Map::new();
        m.insert("count".into(), Value::Number(self.count.into()));
        m.insert(
            "periodSeconds".into(),
            Value::Number(self.period_seconds.into()),
        );
        Value::Object(m)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {} s", self.count, self.period_seconds)
    }
}

/// Checks one allow-list entry.
fn check_entry(field: &str, index: usize, entry: &str) -> Result<(), GrantError> {
    let reason = if entry.is_empty() {
        "must not be empty"
    } else if entry.len() > MAX_ENTRY_BYTES {
        "is longer than 2048 bytes"
    } else if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "must not contain whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(GrantError::InvalidEntry {
        field: format!("{field}[{index}]"),
        reason,
    })
}

fn check_list(field: &str, entries: Vec<String>) -> Result<Vec<String>, GrantError> {
    if entries.is_empty() {
        return Err(GrantError::EmptyList {
            field: field.to_owned(),
        });
    }
    for (i, e) in entries.iter().enumerate() {
        check_entry(field, i, e)?;
    }
    Ok(entries)
}

fn list_from_json(field: &str, v: &Value) -> Result<Vec<String>, GrantError> {
    let items = match v {
        Value::Array(items) => items,
        Value::Null => {
            return Err(GrantError::Null {
                field: field.to_owned(),
            });
        }
        other => {
            return Err(GrantError::WrongType {
                field: field.to_owned(),
                expected: "an array of strings",
                found: json::type_name(other),
            });
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(json::as_str(json::Index(field, i), item)?.to_owned());
    }
    check_list(field, out)
}

fn list_to_json(entries: &[String]) -> Value {
    Value::Array(entries.iter().cloned().map(Value::String).collect())
}

/// A non-empty allow-list of audiences (merchant DIDs or origins), matched exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Audience(Vec<String>);

impl Audience {
    /// An allow-list; fails if it is empty or an entry is empty or has whitespace.
    pub fn new<I, S>(entries: I) -> Result<Self, GrantError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        check_list("audience", entries.into_iter().map(Into::into).collect()).map(Self)
    }

    /// The entries, in document order.
    pub fn entries(&self) -> &[String] {
        &self.0
    }

    /// Whether `audience` is on the list (exact, case-sensitive match).
    pub fn allows(&self, audience: &str) -> bool {
        self.0.iter().any(|e| e == audience)
    }

    pub(crate) fn from_json(field: &str, v: &Value) -> Result<Self, GrantError> {
        list_from_json(field, v).map(Self)
    }

    pub(crate) fn to_json(&self) -> Value {
        list_to_json(&self.0)
    }
}

/// A non-empty allow-list of resource URL prefixes, matched by [`resource_matches`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resources(Vec<String>);

impl Resources {
    /// An allow-list; fails if it is empty or an entry is empty or has whitespace.
    pub fn new<I, S>(prefixes: I) -> Result<Self, GrantError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        check_list("resource", prefixes.into_iter().map(Into::into).collect()).map(Self)
    }

    /// The prefixes, in document order.
    pub fn prefixes(&self) -> &[String] {
        &self.0
    }

    /// Whether some prefix matches `resource`.
    pub fn allows(&self, resource: &str) -> bool {
        self.0.iter().any(|p| resource_matches(p, resource))
    }

    pub(crate) fn from_json(field: &str, v: &Value) -> Result<Self, GrantError> {
        list_from_json(field, v).map(Self)
    }

    pub(crate) fn to_json(&self) -> Value {
        list_to_json(&self.0)
    }
}

/// Whether the resource URL `resource` falls under the prefix `prefix`: it equals the
/// prefix, or it starts with the prefix and the prefix ends with `/` or the next character
/// is `/`, `?` or `#`. So `https://shop.example/api` covers `https://shop.example/api/items`
/// and `https://shop.example/api?q=1`, but not `https://shop.example/apix`.
///
/// Matching is on the strings as given: callers normalise URLs (scheme and host case,
/// percent-encoding, dot segments) before asking.
pub fn resource_matches(prefix: &str, resource: &str) -> bool {
    match resource.strip_prefix(prefix) {
        None => false,
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with(['/', '?', '#']),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_prefix_rule() {
        let p = "https://shop.example/api";
        assert!(resource_matches(p, p));
        assert!(resource_matches(p, "https://shop.example/api/items"));
        assert!(resource_matches(p, "https://shop.example/api?q=1"));
        assert!(resource_matches(p, "https://shop.example/api#x"));
        assert!(!resource_matches(p, "https://shop.example/apix"));
        assert!(!resource_matches(p, "https://shop.example/ap"));
        assert!(resource_matches(
            "https://shop.example/",
            "https://shop.example/anything"
        ));
        assert!(!resource_matches(
            "https://shop.example",
            "https://shop.example.evil.com/"
        ));
        let r = Resources::new([p, "https://other.example/"]).unwrap();
        assert!(r.allows("https://other.example/x"));
        assert!(!r.allows("https://other.example"));
    }

    #[test]
    fn lists_must_be_meaningful() {
        assert!(matches!(
            Audience::new(Vec::<String>::new()),
            Err(GrantError::EmptyList { .. })
        ));
        assert!(matches!(
            Audience::new(["did:web:a", ""]),
            Err(GrantError::InvalidEntry { field, .. }) if field == "audience[1]"
        ));
        assert!(matches!(
            Resources::new(["https://a/ b"]),
            Err(GrantError::InvalidEntry { .. })
        ));
        assert!(matches!(
            Audience::from_json("audience", &json!(["a", 3])),
            Err(GrantError::WrongType { field, .. }) if field == "audience[1]"
        ));
        assert!(matches!(
            Audience::from_json("audience", &json!("a")),
            Err(GrantError::WrongType { .. })
        ));
        assert!(Audience::new(["did:web:a"]).unwrap().allows("did:web:a"));
        assert!(!Audience::new(["did:web:a"]).unwrap().allows("did:web:A"));
    }

    #[test]
    fn constraint_objects() {
        let b = Budget::from_json(
            "budget",
            &json!({"value": "200.00", "asset": "USD", "periodSeconds": 86400}),
        )
        .unwrap();
        assert_eq!(b.period_seconds(), 86400);
        assert_eq!(b.to_string(), "200.00 USD per 86400 s");
        assert_eq!(
            b.to_json(),
            json!({"value": "200.00", "asset": "USD", "periodSeconds": 86400})
        );
        let err = |v: Value| Budget::from_json("budget", &v).unwrap_err().to_string();
        assert_eq!(
            err(json!({"value": 200, "asset": "USD", "periodSeconds": 1})),
            "invalid `budget.value`: amounts are decimal strings, not JSON numbers"
        );
        assert_eq!(
            err(json!({"value": "1", "asset": "USD", "periodSeconds": 0})),
            "`budget.periodSeconds` must be at least 1"
        );
        assert_eq!(
            err(json!({"value": "1", "asset": "USD", "periodSeconds": 1.5})),
            "`budget.periodSeconds` must be a positive integer, found a negative or fractional number"
        );
        assert_eq!(
            err(json!({"value": "1", "asset": "USD", "periodSeconds": "60"})),
            "`budget.periodSeconds` must be a positive integer, found a string"
        );
        assert_eq!(
            err(json!({"value": "1", "asset": "USD"})),
            "missing `budget.periodSeconds`"
        );
        assert_eq!(
            err(json!({"value": "1", "asset": "USD", "periodSeconds": 1, "x": 1})),
            "unexpected member `budget.x`"
        );
        assert!(Rate::from_json("rate", &json!({"count": 0, "periodSeconds": 1})).is_err());
        assert!(matches!(
            Rate::new(1, Period::seconds(0)),
            Err(GrantError::NotPositive { field }) if field == "rate.periodSeconds"
        ));
        assert!(matches!(
            Rate::new(0, Period::seconds(1)),
            Err(GrantError::NotPositive { field }) if field == "rate.count"
        ));
        let r = Rate::new(10, Period::minutes(2)).unwrap();
        assert_eq!((r.count(), r.period_seconds()), (10, 120));
        assert_eq!(Period::days(1).as_seconds(), 86_400);
        assert_eq!(Period::hours(u64::MAX).as_seconds(), u64::MAX);
        let r = Rate::from_json("rate", &json!({"count": 10, "periodSeconds": 60})).unwrap();
        assert_eq!(r.to_json(), json!({"count": 10, "periodSeconds": 60}));
        let m: Money = serde_json::from_str(r#"{"value":"5","asset":"EUR"}"#).unwrap();
        assert_eq!(m.to_string(), "5 EUR");
        assert!(
            serde_json::from_str::<Money>(r#"{"value":"5","value":"6","asset":"EUR"}"#).is_err()
        );
    }
}
