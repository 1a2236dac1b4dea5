//! Instants as VC 2.0 writes them: XSD `dateTimeStamp` (an RFC 3339 date-time with a zone).

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time with a mandatory zone, second precision or finer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// A string that is not an XSD `dateTimeStamp`.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("`{value}` is not an xsd dateTimeStamp (e.g. 2026-01-01T00:00:00Z)")]
pub struct TimestampError {
    /// The input.
    pub value: String,
}

impl Timestamp {
    /// The current time, to the second.
    pub fn now() -> Self {
        Self::from_unix(OffsetDateTime::now_utc().unix_timestamp())
            .unwrap_or(Self(OffsetDateTime::UNIX_EPOCH))
    }

    /// The instant `secs` seconds after 1970-01-01T00:00:00Z, when representable.
    pub fn from_unix(secs: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(secs).ok().map(Self)
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The underlying `time` value.
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }

    /// The XSD `dateTimeStamp` form in UTC (what `Display` writes), or `None` for an instant
    /// outside the years 0000–9999 that the form can express.
    pub fn to_xsd(&self) -> Option<String> {
        self.0.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
    }

    /// This instant moved by `secs` seconds, saturating at the representable range.
    pub fn add_seconds(&self, secs: i64) -> Self {
        self.0
            .checked_add(time::Duration::seconds(secs))
            .map_or(*self, Self)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self(t)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, TimestampError> {
        let err = || TimestampError {
            value: s.chars().take(64).collect(),
        };
        // RFC 3339 admits a lowercase `t`/`z` and a space separator that XSD does not.
        if s.len() > 64 || s.contains(['t', 'z', ' ']) {
            return Err(err());
        }
        OffsetDateTime::parse(s, &Rfc3339)
            .map(Self)
            .map_err(|_| err())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_xsd() {
            Some(s) => f.write_str(&s),
            None => write!(f, "{}", self.unix()),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

serde_via_string!(Timestamp);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_xsd_date_time_stamps() {
        let t: Timestamp = "2023-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(t.to_string(), "2023-01-01T00:00:00Z");
        let t: Timestamp = "2023-01-01T01:00:00+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2023-01-01T00:00:00Z");
        let t: Timestamp = "2023-01-01T00:00:00.250Z".parse().unwrap();
        assert_eq!(t.to_string(), "2023-01-01T00:00:00.25Z");
    }

    #[test]
    fn refuses_what_xsd_refuses() {
        for bad in [
            "2023-01-01",
            "2023-01-01T00:00:00",
            "2023-01-01t00:00:00Z",
            "2023-01-01T00:00:00z",
            "2023-01-01 00:00:00Z",
            "2023-13-01T00:00:00Z",
            "",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
