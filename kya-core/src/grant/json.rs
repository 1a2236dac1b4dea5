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

/// Where a value sits, for error messages: a name, `field.member` or `field[index]`.
/// Written out only when an error is made, so that reading a valid grant formats nothing.
pub(crate) trait FieldPath: std::fmt::Display + Copy {}

impl<T: std::fmt::Display + Copy> FieldPath for T {}

/// `field.member`.
#[derive(Clone, Copy)]
pub(crate) struct Member<'a, F>(F, &'a str);

impl<F: std::fmt::Display> std::fmt::Display for Member<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// `field[index]`.
#[derive(Clone, Copy)]
pub(crate) struct Index<F>(pub(crate) F, pub(crate) usize);

impl<F: std::fmt::Display> std::fmt::Display for Index<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

pub(crate) fn join<F: FieldPath>(field: F, member: &str) -> Member<'_, F> {
    Member(field, member)
}

pub(crate) fn as_object<F: FieldPath>(
    field: F,
    v: &Value,
) -> Result<&Map<String, Value>, GrantError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Err(GrantError::Null {
            field: field.to_string(),
        }),
        other => Err(GrantError::WrongType {
            field: field.to_string(),
            expected: "an object",
            found: type_name(other),
        }),
    }
}

/// Fails on any member of `obj` outside `allowed`.
pub(crate) fn only<F: FieldPath>(
    field: F,
    obj: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), GrantError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(GrantError::UnexpectedField {
            field: join(field, k).to_string(),
        }),
        None => Ok(()),
    }
}

pub(crate) fn member<'v, F: FieldPath>(
    field: F,
    obj: &'v Map<String, Value>,
    name: &str,
) -> Result<&'v Value, GrantError> {
    obj.get(name).ok_or_else(|| GrantError::MissingField {
        field: join(field, name).to_string(),
    })
}

pub(crate) fn as_str<F: FieldPath>(field: F, v: &Value) -> Result<&str, GrantError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Null => Err(GrantError::Null {
            field: field.to_string(),
        }),
        other => Err(GrantError::WrongType {
            field: field.to_string(),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

pub(crate) fn as_positive_u64<F: FieldPath>(field: F, v: &Value) -> Result<u64, GrantError> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match n {
        Some(0) => Err(GrantError::NotPositive {
            field: field.to_string(),
        }),
        Some(n) => Ok(n),
        None => Err(GrantError::WrongType {
            field: field.to_string(),
            expected: "a positive integer",
            found: match v {
                Value::Number(_) => "a negative or fractional number",
                other => type_name(other),
            },
        }),
    }
}

pub(crate) fn as_amount<F: FieldPath>(field: F, v: &Value) -> Result<Amount, GrantError> {
    if let Value::Number(_) = v {
        return Err(GrantError::Amount {
            field: field.to_string(),
            source: super::AmountError::JsonNumber,
        });
    }
    Amount::parse(as_str(field, v)?).map_err(|source| GrantError::Amount {
        field: field.to_string(),
        source,
    })
}

pub(crate) fn as_asset<F: FieldPath>(field: F, v: &Value) -> Result<Asset, GrantError> {
    Asset::parse(as_str(field, v)?).map_err(|source| GrantError::Asset {
        field: field.to_string(),
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
pub(crate) fn parse_datetime<F: FieldPath>(field: F, s: &str) -> Result<Timestamp, GrantError> {
    s.parse().map_err(|_| GrantError::DateTime {
        field: field.to_string(),
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
