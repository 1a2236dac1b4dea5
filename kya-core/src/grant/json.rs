//! Helpers for reading untrusted JSON into typed values.

use super::{Amount, Asset, GrantError};
use crate::timestamp::Timestamp;
use serde::Deserializer;
use serde_json::{Map, Value};

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

/// Parses a date-time with kya's one parser ([`Timestamp`]'s), so that a grant's times are
/// read exactly as a credential's are.
pub(crate) fn parse_datetime(field: &str, s: &str) -> Result<Timestamp, GrantError> {
    s.parse().map_err(|_| GrantError::DateTime {
        field: field.to_owned(),
        value: clip(s, 100),
        reason: "expected the form 2026-01-01T00:00:00Z (uppercase T and Z, or an offset such as +01:00)".to_owned(),
    })
}

/// A list for messages: `[a, b]`.
pub(crate) fn show_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// Deserializes any JSON into a [`Value`] with kya's one strict reader (duplicate keys,
/// depth and numbers as [`crate::json::parse_strict`] bounds them).
pub(crate) fn strict_value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    crate::json::deserialize_strict(d)
}
