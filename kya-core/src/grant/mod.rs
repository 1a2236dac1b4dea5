//! Grants: what an agent may do.
//!
//! A [`Grant`] is an [`Action`] plus optional constraints: a per-request ceiling
//! ([`Money`]: an exact decimal [`Amount`] in an [`Asset`]), audience and resource
//! allow-lists, a validity window, a [`Budget`] and a [`Rate`]. Grants are parsed from
//! untrusted JSON into typed values (see [`Grant`] for the shape); members kya does not know
//! are kept and deny when evaluated (fail closed).
//!
//! - [`Grant::evaluate`] checks a [`Request`] and returns every [`Violation`] plus the
//!   stateful [`Obligation`]s (budget charges, rate events) a verifier enforces through its
//!   ledger; [`grants_allow`] finds the first grant of a list that allows a request.
//! - [`Grant::attenuates`] decides `child ⊑ parent` (a delegated grant only narrows), naming
//!   the [`Widening`] otherwise; [`GrantSet::attenuates`] lifts it to grant sets.
//!
//! No floats, no panics: amounts are `u128` mantissas with a decimal scale.

mod action;
mod amount;
mod asset;
mod attenuation;
mod constraint;
mod error;
mod json;
mod model;
mod request;

pub use action::{Action, ActionError, MAX_ACTION_BYTES, MAX_ACTION_SEGMENTS};
pub use amount::{Amount, AmountError, MAX_AMOUNT_BYTES, MAX_AMOUNT_DIGITS};
pub use asset::{Asset, AssetError, AssetKind};
pub use attenuation::{GrantSet, GrantSetWidening, Widening};
pub use constraint::{
    Audience, Budget, MAX_ENTRY_BYTES, Money, Period, Rate, Resources, resource_matches,
};
pub use error::GrantError;
pub use model::{Grant, GrantBuilder, KNOWN_MEMBERS};
pub use request::{
    Allowed, Denied, GrantEvaluation, MAX_BUDGET_DECIMALS, Obligation, Request, Violation,
    grants_allow,
};
