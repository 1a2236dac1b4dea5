//! The [`Grant`] type: parsing, serialisation and the builder.

use std::collections::BTreeMap;

use super::json;
use super::{Action, Amount, Asset, Audience, Budget, GrantError, Money, Period, Rate, Resources};
use crate::timestamp::Timestamp;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The JSON members a grant defines; any other member is an unknown constraint.
pub const KNOWN_MEMBERS: [&str; 8] = [
    "action",
    "maxAmount",
    "audience",
    "resource",
    "validFrom",
    "validUntil",
    "budget",
    "rate",
];

/// What an agent may do: an action plus optional constraints.
///
/// JSON (camelCase; every member but `action` optional, absent = unconstrained):
///
/// ```json
/// { "action": "payments/send",
///   "maxAmount": { "value": "50.00", "asset": "USD" },
///   "audience": ["did:web:shop.example", "https://merchant.example"],
///   "resource": ["https://shop.example/api/"],
///   "validFrom": "2026-01-01T00:00:00Z", "validUntil": "2026-12-31T23:59:59Z",
///   "budget": { "value": "200.00", "asset": "USD", "periodSeconds": 86400 },
///   "rate": { "count": 10, "periodSeconds": 60 } }
/// ```
///
/// Members kya does not know are kept (and re-serialised unchanged) as
/// [`unknown constraints`](Grant::unknown_constraints); evaluation denies them (fail closed).
/// Equality compares amounts by value and date-times by instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub(crate) action: Action,
    pub(crate) max_amount: Option<Money>,
    pub(crate) audience: Option<Audience>,
    pub(crate) resource: Option<Resources>,
    pub(crate) valid_from: Option<Timestamp>,
    pub(crate) valid_until: Option<Timestamp>,
    pub(crate) budget: Option<Budget>,
    pub(crate) rate: Option<Rate>,
    pub(crate) unknown: BTreeMap<String, Value>,
}

impl Grant {
    /// A grant of `action` without constraints.
    pub fn unconstrained(action: Action) -> Self {
        Self {
            action,
            max_amount: None,
            audience: None,
            resource: None,
            valid_from: None,
            valid_until: None,
            budget: None,
            rate: None,
            unknown: BTreeMap::new(),
        }
    }

    /// Starts building a grant of `action`.
    pub fn builder(action: Action) -> GrantBuilder {
        GrantBuilder {
            grant: Self::unconstrained(action),
            error: None,
        }
    }

    /// The granted action.
    pub fn action(&self) -> &Action {
        &self.action
    }
    /// The per-request ceiling (`maxAmount`).
    pub fn max_amount(&self) -> Option<&Money> {
        self.max_amount.as_ref()
    }
    /// The audience allow-list.
    pub fn audience(&self) -> Option<&Audience> {
        self.audience.as_ref()
    }
    /// The resource prefix allow-list.
    pub fn resource(&self) -> Option<&Resources> {
        self.resource.as_ref()
    }
    /// `validFrom`.
    pub fn valid_from(&self) -> Option<Timestamp> {
        self.valid_from
    }
    /// `validUntil` (inclusive).
    pub fn valid_until(&self) -> Option<Timestamp> {
        self.valid_until
    }
    /// The spending budget.
    pub fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }
    /// The rate limit.
    pub fn rate(&self) -> Option<&Rate> {
        self.rate.as_ref()
    }
    /// Members kya does not know, by name.
    pub fn unknown_constraints(&self) -> &BTreeMap<String, Value> {
        &self.unknown
    }

    /// Parses a grant from a JSON value.
    pub fn from_json_value(v: &Value) -> Result<Self, GrantError> {
        let obj = json::as_object("grant", v).map_err(|e| match e {
            GrantError::Null { .. } => GrantError::WrongType {
                field: "grant".into(),
                expected: "an object",
                found: "null",
            },
            e => e,
        })?;
        Self::from_json_object(obj)
    }

    fn from_json_object(obj: &Map<String, Value>) -> Result<Self, GrantError> {
        let action_value = obj.get("action").ok_or_else(|| GrantError::MissingField {
            field: "action".into(),
        })?;
        let action = Action::parse(json::as_str("action", action_value)?)?;
        let mut g = Self::unconstrained(action);
        if let Some(v) = obj.get("maxAmount") {
            g.max_amount = Some(Money::from_json("maxAmount", v)?);
        }
        if let Some(v) = obj.get("audience") {
            g.audience = Some(Audience::from_json("audience", v)?);
        }
        if let Some(v) = obj.get("resource") {
            g.resource = Some(Resources::from_json("resource", v)?);
        }
        if let Some(v) = obj.get("validFrom") {
            g.valid_from = Some(json::parse_datetime(
                "validFrom",
                json::as_str("validFrom", v)?,
            )?);
        }
        if let Some(v) = obj.get("validUntil") {
            g.valid_until = Some(json::parse_datetime(
                "validUntil",
                json::as_str("validUntil", v)?,
            )?);
        }
        if let Some(v) = obj.get("budget") {
            g.budget = Some(Budget::from_json("budget", v)?);
        }
        if let Some(v) = obj.get("rate") {
            g.rate = Some(Rate::from_json("rate", v)?);
        }
        for (k, v) in obj {
            if !KNOWN_MEMBERS.contains(&k.as_str()) {
                g.unknown.insert(k.clone(), v.clone());
            }
        }
        g.check()?;
        Ok(g)
    }

    /// Checks the invariants that span members.
    fn check(&self) -> Result<(), GrantError> {
        for (field, t) in [
            ("validFrom", self.valid_from),
            ("validUntil", self.valid_until),
        ] {
            if let Some(t) = t {
                if t.to_xsd().is_none() {
                    return Err(GrantError::DateTimeOutOfRange {
                        field: field.into(),
                        value: t.as_offset_date_time().to_string(),
                    });
                }
            }
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if from > until {
                return Err(GrantError::InvertedWindow {
                    valid_from: from.to_string(),
                    valid_until: until.to_string(),
                });
            }
        }
        if let Some(k) = self
            .unknown
            .keys()
            .find(|k| KNOWN_MEMBERS.contains(&k.as_str()))
        {
            return Err(GrantError::ReservedExtension { key: k.clone() });
        }
        Ok(())
    }

    /// The grant as a JSON object (date-times in RFC 3339, UTC).
    pub fn to_json_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("action".into(), Value::String(self.action.to_string()));
        if let Some(x) = &self.max_amount {
            m.insert("maxAmount".into(), x.to_json());
        }
        if let Some(x) = &self.audience {
            m.insert("audience".into(), x.to_json());
        }
        if let Some(x) = &self.resource {
            m.insert("resource".into(), x.to_json());
        }
        for (name, t) in [
            ("validFrom", self.valid_from),
            ("validUntil", self.valid_until),
        ] {
            if let Some(t) = t {
                // The invariant (checked on construction) is that this always formats.
                m.insert(name.into(), Value::String(t.to_string()));
            }
        }
        if let Some(x) = &self.budget {
            m.insert("budget".into(), x.to_json());
        }
        if let Some(x) = &self.rate {
            m.insert("rate".into(), x.to_json());
        }
        for (k, v) in &self.unknown {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

impl Serialize for Grant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(m) = self.to_json_value() else {
            return Err(serde::ser::Error::custom("a grant serialises to an object"));
        };
        let mut map = serializer.serialize_map(Some(m.len()))?;
        for (k, v) in &m {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Grant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = json::strict_value(deserializer)?;
        Grant::from_json_value(&v).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<&Value> for Grant {
    type Error = GrantError;
    fn try_from(v: &Value) -> Result<Self, Self::Error> {
        Grant::from_json_value(v)
    }
}

/// Builds a [`Grant`]; the first invalid input is reported by [`build`](GrantBuilder::build).
///
/// ```
/// # use kya_core::grant::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let grant = Grant::builder(Action::parse("payments/send")?)
///     .max_amount(Amount::parse("50.00")?, Asset::parse("USD")?)
///     .audience(["did:web:shop.example"])
///     .rate(10, Period::minutes(1))
///     .build()?;
/// assert_eq!(grant.max_amount().map(|m| m.to_string()).as_deref(), Some("50.00 USD"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct GrantBuilder {
    grant: Grant,
    error: Option<GrantError>,
}

impl GrantBuilder {
    fn record<T>(&mut self, r: Result<T, GrantError>) -> Option<T> {
        match r {
            Ok(x) => Some(x),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    /// Sets the per-request ceiling.
    pub fn max_amount(mut self, value: Amount, asset: Asset) -> Self {
        self.grant.max_amount = Some(Money { value, asset });
        self
    }

    /// Sets the audience allow-list (must be non-empty).
    pub fn audience<I, S>(mut self, entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let r = Audience::new(entries);
        self.grant.audience = self.record(r);
        self
    }

    /// Sets the resource prefix allow-list (must be non-empty).
    pub fn resource<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let r = Resources::new(prefixes);
        self.grant.resource = self.record(r);
        self
    }

    /// Sets `validFrom`.
    pub fn valid_from(mut self, t: Timestamp) -> Self {
        self.grant.valid_from = Some(t);
        self
    }

    /// Sets `validUntil` (inclusive).
    pub fn valid_until(mut self, t: Timestamp) -> Self {
        self.grant.valid_until = Some(t);
        self
    }

    /// Sets a budget of `value` `asset` per `period`.
    pub fn budget(mut self, value: Amount, asset: Asset, period: Period) -> Self {
        let r = Budget::new(Money { value, asset }, period);
        self.grant.budget = self.record(r);
        self
    }

    /// Sets a rate limit of `count` requests per `period`.
    pub fn rate(mut self, count: u64, period: Period) -> Self {
        let r = Rate::new(count, period);
        self.grant.rate = self.record(r);
        self
    }

    /// Adds a member kya does not define (an extension constraint, denied by kya's own
    /// evaluation but carried along for verifiers that understand it).
    pub fn unknown_constraint(mut self, key: impl Into<String>, value: Value) -> Self {
        self.grant.unknown.insert(key.into(), value);
        self
    }

    /// The grant, or the first error.
    pub fn build(self) -> Result<Grant, GrantError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.grant.check()?;
        Ok(self.grant)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn full() -> Value {
        json!({ "action": "payments/send",
          "maxAmount": { "value": "50.00", "asset": "USD" },
          "audience": ["did:web:shop.example", "https://merchant.example"],
          "resource": ["https://shop.example/api/"],
          "validFrom": "2026-01-01T00:00:00Z", "validUntil": "2026-12-31T23:59:59Z",
          "budget": { "value": "200.00", "asset": "USD", "periodSeconds": 86400 },
          "rate": { "count": 10, "periodSeconds": 60 } })
    }

    fn err(v: Value) -> String {
        Grant::from_json_value(&v).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_full_shape_and_round_trips() {
        let g = Grant::from_json_value(&full()).unwrap();
        assert_eq!(g.action().as_str(), "payments/send");
        assert_eq!(g.max_amount().unwrap().to_string(), "50.00 USD");
        assert_eq!(g.audience().unwrap().entries().len(), 2);
        assert_eq!(
            g.valid_from(),
            Some(Timestamp::from(datetime!(2026-01-01 00:00:00 UTC)))
        );
        assert_eq!(g.budget().unwrap().period_seconds(), 86400);
        assert_eq!(g.rate().unwrap().count(), 10);
        assert_eq!(g.to_json_value(), full());
        let text = serde_json::to_string(&g).unwrap();
        let back: Grant = serde_json::from_str(&text).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn keeps_unknown_members() {
        let mut v = full();
        v["geo"] = json!({"allow": ["EU"], "n": 1.5});
        let g = Grant::from_json_value(&v).unwrap();
        assert_eq!(g.unknown_constraints().len(), 1);
        assert_eq!(g.to_json_value(), v);
        let text = serde_json::to_string(&g).unwrap();
        assert!(
            text.contains("\"geo\":{\"allow\":[\"EU\"],\"n\":1.5}"),
            "{text}"
        );
    }

    #[test]
    fn minimal_grant() {
        let g: Grant = serde_json::from_str(r#"{"action":"*"}"#).unwrap();
        assert_eq!(g, Grant::unconstrained(Action::root()));
        assert_eq!(serde_json::to_string(&g).unwrap(), r#"{"action":"*"}"#);
    }

    #[test]
    fn datetimes_normalise_to_utc() {
        let g = Grant::from_json_value(&json!({
            "action": "a", "validFrom": "2026-01-01T02:00:00+02:00", "validUntil": "2026-01-01T00:00:00.5Z"
        }))
        .unwrap();
        assert_eq!(
            g.valid_from(),
            Some(Timestamp::from(datetime!(2026-01-01 00:00:00 UTC)))
        );
        assert_eq!(
            g.to_json_value()["validFrom"],
            json!("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            g.to_json_value()["validUntil"],
            json!("2026-01-01T00:00:00.5Z")
        );
    }

    #[test]
    fn rejects_bad_grants() {
        assert_eq!(err(json!([])), "`grant` must be an object, found an array");
        assert_eq!(err(json!(null)), "`grant` must be an object, found null");
        assert_eq!(err(json!({})), "missing `action`");
        assert_eq!(
            err(json!({"action": 1})),
            "`action` must be a string, found a number"
        );
        assert!(
            err(json!({"action": "Pay"}))
                .starts_with("invalid `action`: action `Pay` contains 'P'")
        );
        assert_eq!(
            err(json!({"action": "a", "audience": []})),
            "`audience` is an empty list; omit it to leave that dimension unconstrained"
        );
        assert_eq!(
            err(json!({"action": "a", "resource": []})),
            "`resource` is an empty list; omit it to leave that dimension unconstrained"
        );
        assert_eq!(
            err(json!({"action": "a", "maxAmount": null})),
            "`maxAmount` is null; omit the constraint to leave that dimension unconstrained"
        );
        assert_eq!(
            err(json!({"action": "a", "maxAmount": {"value": 50, "asset": "USD"}})),
            "invalid `maxAmount.value`: amounts are decimal strings, not JSON numbers"
        );
        assert_eq!(
            err(json!({"action": "a", "maxAmount": {"value": "50", "asset": "usd"}})),
            "invalid `maxAmount.asset`: asset `usd` is neither an ISO 4217 code (three uppercase letters) nor a CAIP-19 asset id"
        );
        assert_eq!(
            err(
                json!({"action": "a", "validFrom": "2026-12-31T00:00:00Z", "validUntil": "2026-01-01T00:00:00Z"})
            ),
            "validFrom 2026-12-31T00:00:00Z is after validUntil 2026-01-01T00:00:00Z"
        );
        assert!(
            err(json!({"action": "a", "validFrom": "2026-01-01T00:00:00"}))
                .starts_with("`validFrom` value `2026-01-01T00:00:00` is not an RFC 3339")
        );
        assert!(
            err(json!({"action": "a", "validFrom": "2026-01-01"})).starts_with("`validFrom` value")
        );
        // Grant times go through the one dateTimeStamp parser, which refuses what RFC 3339
        // allows and XSD does not, exactly as for a credential's own validFrom.
        for lax in [
            "2026-01-01t00:00:00Z",
            "2026-01-01T00:00:00z",
            "2026-01-01 00:00:00Z",
        ] {
            assert!(lax.parse::<Timestamp>().is_err(), "{lax}");
            assert!(
                err(json!({"action": "a", "validUntil": lax}))
                    .starts_with(&format!("`validUntil` value `{lax}` is not")),
                "{lax}"
            );
        }
        let dup = serde_json::from_str::<Grant>(r#"{"action":"a","action":"*"}"#)
            .unwrap_err()
            .to_string();
        assert!(dup.contains("duplicate json key `action`"), "{dup}");
        let dup = serde_json::from_str::<Grant>(r#"{"action":"a","x":{"k":1,"k":2}}"#)
            .unwrap_err()
            .to_string();
        assert!(dup.contains("duplicate json key `k`"), "{dup}");
        // A grant read through serde gets the one strict reader's other bounds too: kya's
        // exact number rule and the nesting limit, inside unknown constraints as well.
        let big = serde_json::from_str::<Grant>(r#"{"action":"a","geo":9007199254740993}"#)
            .unwrap_err()
            .to_string();
        assert!(
            big.contains("json number outside the range kya reads: 9007199254740993"),
            "{big}"
        );
        let deep = format!(
            r#"{{"action":"a","geo":{}1{}}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        let deep = serde_json::from_str::<Grant>(&deep)
            .unwrap_err()
            .to_string();
        assert!(
            deep.contains("json nesting is deeper than the limit of 32 levels"),
            "{deep}"
        );
    }

    #[test]
    fn builder() {
        let g = Grant::builder(Action::parse("payments/send").unwrap())
            .max_amount(
                Amount::parse("50.00").unwrap(),
                Asset::parse("USD").unwrap(),
            )
            .audience(["did:web:shop.example", "https://merchant.example"])
            .resource(["https://shop.example/api/"])
            .valid_from(Timestamp::from(datetime!(2026-01-01 00:00:00 UTC)))
            .valid_until(Timestamp::from(datetime!(2026-12-31 23:59:59 UTC)))
            .budget(
                Amount::parse("200.00").unwrap(),
                Asset::parse("USD").unwrap(),
                Period::days(1),
            )
            .rate(10, Period::seconds(60))
            .build()
            .unwrap();
        assert_eq!(g.to_json_value(), full());

        let a = || Action::parse("a").unwrap();
        assert!(matches!(
            Grant::builder(a()).audience(Vec::<String>::new()).build(),
            Err(GrantError::EmptyList { .. })
        ));
        assert!(matches!(
            Grant::builder(a()).rate(0, Period::seconds(1)).build(),
            Err(GrantError::NotPositive { .. })
        ));
        assert!(matches!(
            Grant::builder(a())
                .valid_from(Timestamp::from(datetime!(2027-01-01 00:00:00 UTC)))
                .valid_until(Timestamp::from(datetime!(2026-01-01 00:00:00 UTC)))
                .build(),
            Err(GrantError::InvertedWindow { .. })
        ));
        assert!(matches!(
            Grant::builder(a())
                .valid_from(Timestamp::from(datetime!(-0001-01-01 00:00:00 UTC)))
                .build(),
            Err(GrantError::DateTimeOutOfRange { .. })
        ));
        assert!(matches!(
            Grant::builder(a())
                .unknown_constraint("rate", json!(1))
                .build(),
            Err(GrantError::ReservedExtension { .. })
        ));
        let g = Grant::builder(a())
            .unknown_constraint("geo", json!("EU"))
            .build()
            .unwrap();
        assert_eq!(g.to_json_value(), json!({"action": "a", "geo": "EU"}));
    }
}
