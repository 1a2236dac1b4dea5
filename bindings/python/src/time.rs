//! Instants from Python: an RFC 3339 string with a zone, an `int` of Unix seconds, or an
//! aware `datetime` (a naive one is refused: its zone would be a guess).

use kya_core::Timestamp;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString};

use crate::errors::value_error;

/// Reads an instant.
pub(crate) fn timestamp(value: &Bound<'_, PyAny>) -> PyResult<Timestamp> {
    if let Ok(text) = value.cast::<PyString>() {
        return text.to_cow()?.parse::<Timestamp>().map_err(value_error);
    }
    if value.is_instance_of::<PyInt>() {
        let secs: i64 = value.extract()?;
        return Timestamp::from_unix(secs)
            .ok_or_else(|| value_error(format!("{secs} is not a representable unix time")));
    }
    if value.hasattr("tzinfo")? && value.hasattr("timestamp")? {
        if value.getattr("tzinfo")?.is_none() {
            return Err(value_error(
                "a naive datetime has no zone: pass an aware one (e.g. tzinfo=timezone.utc)",
            ));
        }
        let secs: f64 = value.call_method0("timestamp")?.extract()?;
        if !secs.is_finite() || secs.abs() > 1e15 {
            return Err(value_error("the datetime is out of range"));
        }
        #[allow(clippy::cast_possible_truncation)]
        let whole = secs.floor() as i64;
        return Timestamp::from_unix(whole)
            .ok_or_else(|| value_error("the datetime is out of range"));
    }
    Err(value_error(
        "a time is an RFC 3339 string with a zone, unix seconds (int) or an aware datetime",
    ))
}

/// Reads an optional instant, `default` when absent.
pub(crate) fn timestamp_or(
    value: Option<&Bound<'_, PyAny>>,
    default: Timestamp,
) -> PyResult<Timestamp> {
    value.map_or(Ok(default), timestamp)
}
