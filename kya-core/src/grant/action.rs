//! Actions: `/`-separated paths matched by whole segments.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most bytes an action may have.
pub const MAX_ACTION_BYTES: usize = 256;
/// The most segments an action may have.
pub const MAX_ACTION_SEGMENTS: usize = 16;

/// What an agent may do: a `/`-separated path such as `payments/send`.
///
/// Segments are non-empty and made of lowercase ASCII letters, digits, `.`, `_` and `-`,
/// and are neither `.` nor `..`: an action that looks like a relative path would mean one
/// thing to kya (segment-wise coverage) and another to anything that resolves it as a path.
/// The action `*` alone is the root, which covers every action. An action covers another
/// by whole segments: `payments` covers `payments` and `payments/send`, but not
/// `paymentsx`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
// Shared: requests, decisions and violations copy actions, and a copy must not allocate.
pub struct Action(Arc<str>);

/// Why a string is not an [`Action`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The string is empty.
    #[error("an action must not be empty")]
    Empty,
    /// The string is longer than [`MAX_ACTION_BYTES`].
    #[error("action is {len} bytes long, more than the limit of {MAX_ACTION_BYTES}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The string has more than [`MAX_ACTION_SEGMENTS`] segments.
    #[error("action `{action}` has {count} segments, more than the limit of {MAX_ACTION_SEGMENTS}")]
    TooManySegments {
        /// The action.
        action: String,
        /// How many segments it has.
        count: usize,
    },
    /// A segment is empty (`a//b`, a leading or a trailing `/`).
    #[error("action `{action}` has an empty segment")]
    EmptySegment {
        /// The action.
        action: String,
    },
    /// A segment is `.` or `..`, which path resolution would collapse.
    #[error("action `{action}` has the segment `{segment}`; `.` and `..` are not action segments")]
    DotSegment {
        /// The action.
        action: String,
        /// The offending segment (`.` or `..`).
        segment: String,
    },
    /// A character outside `[a-z0-9._-]` (and `/` between segments).
    #[error(
        "action `{action}` contains {ch:?} at byte {position}; segments are made of [a-z0-9._-], and `*` may only stand alone"
    )]
    InvalidChar {
        /// The action.
        action: String,
        /// The offending character.
        ch: char,
        /// Its byte offset.
        position: usize,
    },
}

impl Action {
    /// The root action `*`, which covers every action.
    pub const ROOT: &'static str = "*";

    /// Parses an action.
    pub fn parse(s: &str) -> Result<Self, ActionError> {
        if s.is_empty() {
            return Err(ActionError::Empty);
        }
        if s.len() > MAX_ACTION_BYTES {
            return Err(ActionError::TooLong { len: s.len() });
        }
        if s == Self::ROOT {
            return Ok(Self(s.into()));
        }
        for (position, ch) in s.char_indices() {
            let ok = matches!(ch, 'a'..='z' | '0'..='9' | '.' | '_' | '-' | '/');
            if !ok {
                return Err(ActionError::InvalidChar {
                    action: s.to_owned(),
                    ch,
                    position,
                });
            }
        }
        let mut count = 0usize;
        for segment in s.split('/') {
            if segment.is_empty() {
                return Err(ActionError::EmptySegment {
                    action: s.to_owned(),
                });
            }
            if segment == "." || segment == ".." {
                return Err(ActionError::DotSegment {
                    action: s.to_owned(),
                    segment: segment.to_owned(),
                });
            }
            count += 1;
        }
        if count > MAX_ACTION_SEGMENTS {
            return Err(ActionError::TooManySegments {
                action: s.to_owned(),
                count,
            });
        }
        Ok(Self(s.into()))
    }

    /// The root action `*`.
    pub fn root() -> Self {
        Self(Self::ROOT.into())
    }

    /// Whether this is the root action `*`.
    pub fn is_root(&self) -> bool {
        &*self.0 == Self::ROOT
    }

    /// The action as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments of the action (the root has none).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        let s = if self.is_root() { "" } else { &self.0 };
        s.split('/').filter(|seg| !seg.is_empty())
    }

    /// Whether this action covers `other`: it is the root, or its segments are a prefix of
    /// `other`'s segments.
    pub fn covers(&self, other: &Action) -> bool {
        if self.is_root() {
            return true;
        }
        if other.is_root() {
            return false;
        }
        match other.0.strip_prefix(&*self.0) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Action({:?})", self.0)
    }
}

impl FromStr for Action {
    type Err = ActionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Action {
    type Error = ActionError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Action {
    type Error = ActionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl AsRef<str> for Action {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Action;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an action string such as \"payments/send\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Action, E> {
                Action::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn a(s: &str) -> Action {
        Action::parse(s).unwrap()
    }

    #[test]
    fn parses_valid_actions() {
        for s in ["*", "payments", "payments/send", "a.b/c_d/e-f/0", "x"] {
            assert_eq!(a(s).as_str(), s);
        }
        let max = vec!["a"; MAX_ACTION_SEGMENTS].join("/");
        assert!(Action::parse(&max).is_ok());
    }

    #[test]
    fn rejects_invalid_actions() {
        assert_eq!(Action::parse(""), Err(ActionError::Empty));
        assert!(matches!(
            Action::parse("a//b"),
            Err(ActionError::EmptySegment { .. })
        ));
        assert!(matches!(
            Action::parse("/a"),
            Err(ActionError::EmptySegment { .. })
        ));
        assert!(matches!(
            Action::parse("a/"),
            Err(ActionError::EmptySegment { .. })
        ));
        assert!(matches!(
            Action::parse("Payments"),
            Err(ActionError::InvalidChar {
                ch: 'P',
                position: 0,
                ..
            })
        ));
        assert!(matches!(
            Action::parse("payments/*"),
            Err(ActionError::InvalidChar { ch: '*', .. })
        ));
        assert!(matches!(
            Action::parse("pay ment"),
            Err(ActionError::InvalidChar { ch: ' ', .. })
        ));
        assert!(matches!(
            Action::parse("é"),
            Err(ActionError::InvalidChar { .. })
        ));
        let many = vec!["a"; MAX_ACTION_SEGMENTS + 1].join("/");
        assert!(matches!(
            Action::parse(&many),
            Err(ActionError::TooManySegments { count: 17, .. })
        ));
        for (bad, segment) in [
            ("payments/../admin", ".."),
            ("./payments", "."),
            ("payments/.", "."),
            ("..", ".."),
            (".", "."),
            ("a/b/..", ".."),
        ] {
            assert_eq!(
                Action::parse(bad),
                Err(ActionError::DotSegment {
                    action: bad.to_owned(),
                    segment: segment.to_owned(),
                }),
                "{bad}"
            );
        }
        assert_eq!(
            Action::parse("payments/../admin").unwrap_err().to_string(),
            "action `payments/../admin` has the segment `..`; `.` and `..` are not action segments"
        );
        // Dots inside a segment stay allowed.
        for ok in ["a.b", "...", ".hidden", "v1.", "a/..b/c"] {
            assert!(Action::parse(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(MAX_ACTION_BYTES + 1);
        assert_eq!(Action::parse(&long), Err(ActionError::TooLong { len: 257 }));
    }

    #[test]
    fn covers_by_whole_segments() {
        assert!(a("payments").covers(&a("payments")));
        assert!(a("payments").covers(&a("payments/send")));
        assert!(a("payments").covers(&a("payments/send/batch")));
        assert!(!a("payments").covers(&a("paymentsx")));
        assert!(!a("payments/send").covers(&a("payments")));
        assert!(!a("payments/send").covers(&a("payments/sendx")));
        assert!(a("*").covers(&a("payments")));
        assert!(a("*").covers(&a("*")));
        assert!(!a("payments").covers(&a("*")));
        assert_eq!(a("*").segments().count(), 0);
        assert_eq!(a("a/b").segments().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn serde_as_string() {
        let x: Action = serde_json::from_str("\"payments/send\"").unwrap();
        assert_eq!(serde_json::to_string(&x).unwrap(), "\"payments/send\"");
        let err = serde_json::from_str::<Action>("\"Pay\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'P'"), "{err}");
        assert!(serde_json::from_str::<Action>("3").is_err());
    }
}
