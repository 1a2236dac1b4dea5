//! Helpers for reading untrusted JSON into typed values.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserializer;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Amount, Asset, GrantError};

/// The JSON type of a value, for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn join(field: &str, member: &str) -> String {
    format!("{field}.{member}")
}

pub(crate) fn as_object<'v>(
    field: &str,
    v: &'v Value,
) -> Result<&'v Map<String, Value>, GrantError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Err(GrantError::Null {
            field: field.to_owned(),
        }),
        other => Err(GrantError::WrongType {
            field: field.to_owned(),
            expected: "an object",
            found: type_name(other),
        }),
    }
}

/// Fails on any member of `obj` outside `allowed`.
pub(crate) fn only(
    field: &str,
    obj: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), GrantError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(GrantError::UnexpectedField {
            field: join(field, k),
        }),
        None => Ok(()),
    }
}

pub(crate) fn member<'v>(
    field: &str,
    obj: &'v Map<String, Value>,
    name: &str,
) -> Result<&'v Value, GrantError> {
    obj.get(name).ok_or_else(|| GrantError::MissingField {
        field: join(field, name),
    })
}

pub(crate) fn as_str<'v>(field: &str, v: &'v Value) -> Result<&'v str, GrantError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Null => Err(GrantError::Null {
            field: field.to_owned(),
        }),
        other => Err(GrantError::WrongType {
            field: field.to_owned(),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

pub(crate) fn as_positive_u64(field: &str, v: &Value) -> Result<u64, GrantError> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match n {
        Some(0) => Err(GrantError::NotPositive {
            field: field.to_owned(),
        }),
        Some(n) => Ok(n),
        None => Err(GrantError::WrongType {
            field: field.to_owned(),
            expected: "a positive integer",
            found: match v {
                Value::Number(_) => "a negative or fractional number",
                other => type_name(other),
            },
        }),
    }
}

pub(crate) fn as_amount(field: &str, v: &Value) -> Result<Amount, GrantError> {
    if let Value::Number(_) = v {
        return Err(GrantError::Amount {
            field: field.to_owned(),
            source: super::AmountError::JsonNumber,
        });
    }
    Amount::parse(as_str(field, v)?).map_err(|source| GrantError::Amount {
        field: field.to_owned(),
        source,
    })
}

pub(crate) fn as_asset(field: &str, v: &Value) -> Result<Asset, GrantError> {
    Asset::parse(as_str(field, v)?).map_err(|source| GrantError::Asset {
        field: field.to_owned(),
        source,
    })
}

fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Parses an RFC 3339 date-time with a time zone, as UTC.
pub(crate) fn parse_datetime(field: &str, s: &str) -> Result<OffsetDateTime, GrantError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.to_offset(time::UtcOffset::UTC))
        .map_err(|e| GrantError::DateTime {
            field: field.to_owned(),
            value: clip(s, 100),
            reason: e.to_string(),
        })
}

/// Formats as RFC 3339 in UTC (`Z`), or `None` if the year is out of range.
pub(crate) fn format_datetime(t: &OffsetDateTime) -> Option<String> {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
}

/// A date-time for messages: RFC 3339 when possible.
pub(crate) fn show_datetime(t: &OffsetDateTime) -> String {
    format_datetime(t).unwrap_or_else(|| t.to_string())
}

/// A list for messages: `[a, b]`.
pub(crate) fn show_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// Deserializes any JSON into a [`Value`], refusing duplicate object keys.
pub(crate) fn strict_value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    d.deserialize_any(StrictVisitor)
}

struct StrictVisitor;

struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        // Only reachable inside unknown constraints (known members never accept fractions);
        // kept so that they re-serialise unchanged.
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(GrantError::DuplicateKey { key }));
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out.into_iter().collect()))
    }
}
