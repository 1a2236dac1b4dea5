//! Independent validation a merchant can require (policy `minValidation`): the leaf's
//! registered agent must have at least `minCount` validation requests (ERC-8004 validation
//! registry) whose latest answer, by a validator the policy trusts, is at least
//! `minResponse` (and carries `tag`, when given).
//!
//! Anyone can ask any validator about their own agent, and a validator's answer is only as
//! good as the validator, so only the listed validators count; each (validator, request)
//! counts once, by its latest answer (a validator that withdraws a pass withdraws it here
//! too). The check fails closed: no registry view, a view without validation records, an
//! agent whose validations exceeded the view's bounds, or a leaf without a registration all
//! refuse with `validation_insufficient`.

use kya_core::credential::AgentRegistration;
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::policy::Address;
use crate::registry::RegistryView;

/// A policy's validation requirement (`minValidation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidationRequirement {
    /// Validators whose answers count (at least one, else nothing can pass); read with
    /// [`validators`](Self::validators).
    trusted_validators: Vec<Address>,
    /// The lowest latest answer that passes (0…100).
    pub min_response: u8,
    /// At least this many passing validations.
    pub min_count: u64,
    /// Only answers with exactly this tag count, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl ValidationRequirement {
    /// A requirement of `min_count` answers of at least `min_response` by `validators`.
    pub fn new(validators: &[[u8; 20]], min_response: u8, min_count: u64) -> Self {
        Self {
            trusted_validators: validators.iter().copied().map(Address).collect(),
            min_response,
            min_count,
            tag: None,
        }
        .normalized()
    }

    /// Only answers tagged `tag` count.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// The trusted validators, sorted and unique.
    pub fn validators(&self) -> Vec<[u8; 20]> {
        self.trusted_validators.iter().map(|a| a.0).collect()
    }

    /// Sorted, unique validators (so equal requirements fingerprint equally).
    pub(crate) fn normalized(mut self) -> Self {
        self.trusted_validators.sort_unstable_by_key(|a| a.0);
        self.trusted_validators.dedup_by_key(|a| a.0);
        self
    }
}

/// Holds the leaf's registered agent to `requirement` through `view` (`None`: no view, which
/// refuses). `leaf` is the leaf link's registration, if it has one.
pub(crate) fn check(
    requirement: &ValidationRequirement,
    leaf: Option<&AgentRegistration>,
    view: Option<&dyn RegistryView>,
) -> Result<(), VerifyError> {
    let refuse =
        |agent_id: String, passing: u64, reason: &str| VerifyError::ValidationInsufficient {
            agent_id,
            passing,
            min_count: requirement.min_count,
            min_response: requirement.min_response,
            reason: reason.to_owned(),
        };
    let Some(reg) = leaf else {
        return Err(refuse(
            "(unregistered)".into(),
            0,
            "the agent has no registration",
        ));
    };
    let id = reg.agent_id.to_string();
    let Some(view) = view else {
        return Err(refuse(id, 0, "no registry view to read validations from"));
    };
    let validators = requirement.validators();
    let Some(validations) = view.validations(reg, &validators) else {
        return Err(refuse(
            id,
            0,
            "the registry view holds no validation records for this agent",
        ));
    };
    let passing = validations
        .iter()
        .filter(|v| validators.contains(&v.validator))
        .filter_map(|v| v.latest.as_ref())
        .filter(|a| a.response >= requirement.min_response)
        .filter(|a| requirement.tag.as_ref().is_none_or(|t| *t == a.tag))
        .count() as u64;
    if passing < requirement.min_count {
        return Err(refuse(id, passing, "too few"));
    }
    Ok(())
}
