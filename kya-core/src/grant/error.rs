//! Errors raised while parsing or building a grant.

use super::{ActionError, AmountError, AssetError};

/// Why a JSON value (or a [`GrantBuilder`](super::GrantBuilder)) does not make a
/// [`Grant`](super::Grant). `field` names the offending member as a path such as
/// `maxAmount.value` or `audience[2]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// A member that must be present is absent.
    #[error("missing `{field}`")]
    MissingField {
        /// The member.
        field: String,
    },
    /// A member has the wrong JSON type.
    #[error("`{field}` must be {expected}, found {found}")]
    WrongType {
        /// The member (`grant` for the grant itself).
        field: String,
        /// The type it must have.
        expected: &'static str,
        /// The type it has.
        found: &'static str,
    },
    /// An optional constraint is `null`, which is ambiguous.
    #[error("`{field}` is null; omit the constraint to leave that dimension unconstrained")]
    Null {
        /// The member.
        field: String,
    },
    /// A member inside a constraint object that the constraint does not define.
    #[error("unexpected member `{field}`")]
    UnexpectedField {
        /// The member.
        field: String,
    },
    /// The action is malformed.
    #[error("invalid `action`: {0}")]
    Action(#[from] ActionError),
    /// An amount is malformed.
    #[error("invalid `{field}`: {source}")]
    Amount {
        /// The member.
        field: String,
        /// The reason.
        source: AmountError,
    },
    /// An asset is malformed.
    #[error("invalid `{field}`: {source}")]
    Asset {
        /// The member.
        field: String,
        /// The reason.
        source: AssetError,
    },
    /// An allow-list is empty, which is ambiguous (allow nothing, or everything?).
    #[error("`{field}` is an empty list; omit it to leave that dimension unconstrained")]
    EmptyList {
        /// The member.
        field: String,
    },
    /// An allow-list entry is malformed.
    #[error("`{field}` {reason}")]
    InvalidEntry {
        /// The entry (`audience[1]`).
        field: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A date-time is not RFC 3339 with a time zone.
    #[error(
        "`{field}` value `{value}` is not an RFC 3339 / XSD dateTimeStamp date-time with a time zone: {reason}"
    )]
    DateTime {
        /// The member.
        field: String,
        /// The value (truncated to 100 bytes).
        value: String,
        /// The parser's explanation.
        reason: String,
    },
    /// A date-time cannot be written as RFC 3339 (year outside 0000–9999).
    #[error("`{field}` {value} is outside the years 0000-9999 that RFC 3339 can express")]
    DateTimeOutOfRange {
        /// The member.
        field: String,
        /// The date-time.
        value: String,
    },
    /// `validFrom` is after `validUntil`.
    #[error("validFrom {valid_from} is after validUntil {valid_until}")]
    InvertedWindow {
        /// `validFrom`.
        valid_from: String,
        /// `validUntil`.
        valid_until: String,
    },
    /// A count or a period is zero.
    #[error("`{field}` must be at least 1")]
    NotPositive {
        /// The member.
        field: String,
    },
    /// A builder extension uses the name of a grant member.
    #[error("extension key `{key}` is a grant member, not an extension")]
    ReservedExtension {
        /// The key.
        key: String,
    },
}
