//! Which JSON-LD contexts kya accepts on its credentials and presentations.
//!
//! kya never loads a context, so what a term means is fixed by the contexts kya's kinds are
//! defined with: a credential's `@context` is exactly the VC 2.0 context then kya's
//! (`https://w3id.org/kya/v1`), and a presentation's starts with the VC 2.0 context
//! (kya's may follow). Any further entry could redefine what kya reads (a JSON-LD processor
//! would then read another credential than kya does), so it is refused unless the verifier's
//! policy names that URL; inline context objects are never accepted.
//!
//! ```
//! use kya_core::contexts::{AcceptedContexts, ContextError};
//! use serde_json::json;
//!
//! let kya = json!(["https://www.w3.org/ns/credentials/v2", "https://w3id.org/kya/v1"]);
//! assert!(AcceptedContexts::default().check_credential(&kya).is_ok());
//!
//! let appended = json!(["https://www.w3.org/ns/credentials/v2", "https://w3id.org/kya/v1",
//!                       {"AgentAuthorization": "https://evil.example/#Other"}]);
//! assert_eq!(
//!     AcceptedContexts::default().check_credential(&appended),
//!     Err(ContextError::Inline { index: 2 })
//! );
//!
//! let extra = json!(["https://www.w3.org/ns/credentials/v2", "https://w3id.org/kya/v1",
//!                    "https://example.org/extra/v1"]);
//! assert!(AcceptedContexts::default().check_credential(&extra).is_err());
//! let accepted = AcceptedContexts::default().allow("https://example.org/extra/v1");
//! assert!(accepted.check_credential(&extra).is_ok());
//! ```

use serde_json::Value;

use crate::credential::KYA_V1_CONTEXT;
use crate::vcdm::VC_V2_CONTEXT;

/// Why a `@context` was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextError {
    /// `@context` is not an array of contexts.
    #[error("the @context must be an array")]
    NotAnArray,
    /// A context kya's kinds are defined with is missing from its place.
    #[error("the @context item {index} must be {expected}")]
    Missing {
        /// Where it belongs.
        index: usize,
        /// The context.
        expected: &'static str,
    },
    /// An inline context object: it could redefine any term kya reads.
    #[error("the @context item {index} is an inline context, which kya never accepts")]
    Inline {
        /// Its position.
        index: usize,
    },
    /// A context URL neither kya's kinds nor the verifier's policy accept.
    #[error("the @context item {index} `{url}` is not an accepted context")]
    NotAccepted {
        /// Its position.
        index: usize,
        /// The URL (truncated).
        url: String,
    },
}

/// The contexts accepted beyond kya's own: none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptedContexts {
    extra: Vec<String>,
}

impl AcceptedContexts {
    /// Also accepts the context at `url` after kya's own.
    #[must_use]
    pub fn allow(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        if !self.extra.contains(&url) {
            self.extra.push(url);
        }
        self
    }

    /// The URLs accepted beyond kya's own.
    pub fn extra(&self) -> &[String] {
        &self.extra
    }

    /// A credential's `@context`: the VC 2.0 context, kya's, then only accepted URLs.
    pub fn check_credential(&self, context: &Value) -> Result<(), ContextError> {
        self.check(context, &[VC_V2_CONTEXT, KYA_V1_CONTEXT])
    }

    /// A presentation's `@context`: the VC 2.0 context, then kya's or accepted URLs.
    pub fn check_presentation(&self, context: &Value) -> Result<(), ContextError> {
        self.check(context, &[VC_V2_CONTEXT])
    }

    fn check(&self, context: &Value, required: &[&'static str]) -> Result<(), ContextError> {
        let Value::Array(items) = context else {
            return Err(ContextError::NotAnArray);
        };
        for (index, expected) in required.iter().enumerate() {
            if items.get(index).and_then(Value::as_str) != Some(*expected) {
                return Err(ContextError::Missing { index, expected });
            }
        }
        for (index, item) in items.iter().enumerate().skip(required.len()) {
            match item {
                Value::String(url)
                    if url == KYA_V1_CONTEXT && !required.contains(&KYA_V1_CONTEXT) =>
                {
                    // A presentation may name kya's context (it defines nothing a
                    // presentation's own members use).
                }
                Value::String(url) if self.extra.contains(url) => {}
                Value::String(url) => {
                    return Err(ContextError::NotAccepted {
                        index,
                        url: url.chars().take(100).collect(),
                    });
                }
                Value::Object(_) => return Err(ContextError::Inline { index }),
                other => {
                    return Err(ContextError::NotAccepted {
                        index,
                        url: other.to_string().chars().take(100).collect(),
                    });
                }
            }
        }
        Ok(())
    }
}
