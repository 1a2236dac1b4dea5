//! Values from JavaScript, read strictly: JSON (text, bytes or any value `JSON.stringify`
//! writes), option bags, instants. A value of the wrong form is an `InputError`, never a panic.

use js_sys::{Array, Date, JSON, Reflect, Uint8Array};
use kya_core::Timestamp;
use kya_core::json::{JsonLimits, parse_strict};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

use crate::errors::input_error;

/// JSON bytes: a string, a `Uint8Array`, or any value `JSON.stringify` writes (objects with a
/// `toJSON`, as kya's classes have, included).
pub(crate) fn json_bytes(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    if let Some(text) = value.as_string() {
        return Ok(text.into_bytes());
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(bytes.to_vec());
    }
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .map(String::into_bytes)
        .ok_or_else(|| input_error("the value is not JSON-serialisable"))
}

/// A strict JSON value (duplicate keys refused, depth and size bounded).
pub(crate) fn strict_value(value: &JsValue) -> Result<Value, JsValue> {
    parse_strict(&json_bytes(value)?, JsonLimits::default()).map_err(input_error)
}

/// `options[name]`, `None` when absent (`undefined` or `null`).
pub(crate) fn field(options: &JsValue, name: &str) -> Result<Option<JsValue>, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    if !options.is_object() {
        return Err(input_error("options must be an object"));
    }
    let value = Reflect::get(options, &JsValue::from_str(name))
        .map_err(|_| input_error(format!("cannot read the option `{name}`")))?;
    Ok((!value.is_undefined() && !value.is_null()).then_some(value))
}

/// A string option.
pub(crate) fn string_field(options: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    field(options, name)?
        .map(|v| {
            v.as_string()
                .ok_or_else(|| input_error(format!("the option `{name}` must be a string")))
        })
        .transpose()
}

/// A boolean option.
pub(crate) fn bool_field(options: &JsValue, name: &str) -> Result<Option<bool>, JsValue> {
    field(options, name)?
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| input_error(format!("the option `{name}` must be a boolean")))
        })
        .transpose()
}

/// A whole, non-negative number (a count, seconds).
pub(crate) fn u64_of(value: &JsValue, what: &str) -> Result<u64, JsValue> {
    let n = value
        .as_f64()
        .ok_or_else(|| input_error(format!("{what} must be a number")))?;
    // 2^53: every integer below is exact in a double.
    if !(0.0..9_007_199_254_740_992.0).contains(&n) || n.fract() != 0.0 {
        return Err(input_error(format!(
            "{what} must be a whole number ≥ 0, not {n}"
        )));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(n as u64)
}

/// A number option.
pub(crate) fn u64_field(options: &JsValue, name: &str) -> Result<Option<u64>, JsValue> {
    field(options, name)?
        .map(|v| u64_of(&v, &format!("the option `{name}`")))
        .transpose()
}

/// A list of strings (an array, or one string).
pub(crate) fn strings(value: &JsValue, what: &str) -> Result<Vec<String>, JsValue> {
    if let Some(one) = value.as_string() {
        return Ok(vec![one]);
    }
    if !Array::is_array(value) {
        return Err(input_error(format!(
            "{what} must be a string or an array of strings"
        )));
    }
    Array::from(value)
        .iter()
        .map(|v| {
            v.as_string()
                .ok_or_else(|| input_error(format!("{what} must hold strings only")))
        })
        .collect()
}

/// The items of an array.
pub(crate) fn items(value: &JsValue, what: &str) -> Result<Vec<JsValue>, JsValue> {
    if !Array::is_array(value) {
        return Err(input_error(format!("{what} must be an array")));
    }
    Ok(Array::from(value).iter().collect())
}

/// An instant: an RFC 3339 string with a zone, a number of Unix seconds, or a `Date`
/// (to the second, rounded down).
pub(crate) fn timestamp(value: &JsValue) -> Result<Timestamp, JsValue> {
    if let Some(text) = value.as_string() {
        return text.parse::<Timestamp>().map_err(input_error);
    }
    let secs = if let Some(date) = value.dyn_ref::<Date>() {
        (date.get_time() / 1000.0).floor()
    } else if let Some(n) = value.as_f64() {
        n
    } else {
        return Err(input_error(
            "a time is an RFC 3339 string with a zone, unix seconds or a Date",
        ));
    };
    if !secs.is_finite() || secs.fract() != 0.0 || secs.abs() > 1e15 {
        return Err(input_error(format!(
            "{secs} is not a whole unix time in range"
        )));
    }
    #[allow(clippy::cast_possible_truncation)]
    Timestamp::from_unix(secs as i64)
        .ok_or_else(|| input_error(format!("{secs} is not a representable unix time")))
}

/// An optional instant option, `default` when absent.
pub(crate) fn timestamp_field(
    options: &JsValue,
    name: &str,
    default: Timestamp,
) -> Result<Timestamp, JsValue> {
    field(options, name)?.map_or(Ok(default), |v| timestamp(&v))
}

/// JSON text as a JavaScript value (`JSON.parse`).
pub(crate) fn parse(text: &str) -> Result<JsValue, JsValue> {
    JSON::parse(text).map_err(|_| input_error("internal: not JSON"))
}

/// A plain object from `(name, value)` pairs.
pub(crate) fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (name, value) in pairs {
        // Setting a fresh plain object's own property cannot fail.
        let _ = Reflect::set(&object, &JsValue::from_str(name), value);
    }
    object.into()
}

/// An optional index as a JavaScript value (`null` when absent).
pub(crate) fn opt_index(value: Option<usize>) -> JsValue {
    #[allow(clippy::cast_precision_loss)]
    value.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64))
}
