//! What a verifier accepts: trusted roots, clock skew, windows, audience and work limits.
//!
//! A [`Policy`] is built in code ([`Policy::builder`]) or read from a JSON policy file
//! ([`Policy::from_json`]):
//!
//! ```json
//! {
//!   "trustedRoots": ["did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX"],
//!   "trustRegistryPrincipals": false,
//!   "audience": "did:web:shop.example",
//!   "clockSkewSeconds": 60,
//!   "maxWindowSeconds": 300,
//!   "limits": {"maxInputBytes": 65536, "maxChainDepth": 8,
//!              "maxGrantsPerCredential": 32, "maxTotalGrants": 128},
//!   "trustedRaters": ["0x70997970c51812dc3a010c7d01b50e0d17dc79c8"],
//!   "cacheCapacity": 1024,
//!   "maxRegistryAgeSeconds": 86400,
//!   "acceptedContexts": ["https://example.org/contexts/extra/v1"]
//! }
//! ```
//!
//! `acceptedContexts` names JSON-LD context URLs accepted after the ones kya's kinds are
//! defined with (none by default; inline context objects are never accepted).
//!
//! Every member is optional; absent members take the safe defaults below. Unknown members
//! are refused (a misspelt limit must not silently fall back to a default).

use kya_core::Did;
use kya_core::contexts::AcceptedContexts;
use kya_core::json::{JsonError, JsonLimits, parse_strict};
use serde::{Deserialize, Serialize};

use crate::reputation::ReputationRequirement;
use crate::validation::ValidationRequirement;
use sha2::{Digest as _, Sha256};

/// Default clock skew: 60 s.
pub const DEFAULT_CLOCK_SKEW_SECS: u32 = 60;
/// Default longest presentation / signed-request window: 300 s.
pub const DEFAULT_MAX_WINDOW_SECS: u32 = 300;
/// Default oldest registry view accepted: one day.
pub const DEFAULT_MAX_REGISTRY_AGE_SECS: u32 = 86_400;
/// Default bound on a status list's age: one day since its `validFrom`.
pub const DEFAULT_MAX_STATUS_LIST_AGE_SECS: u32 = 86_400;
/// Default cache capacity (verified chains).
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// Bounds on the work one verification may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Limits {
    /// Longest input accepted, in bytes (default 64 KiB).
    pub max_input_bytes: usize,
    /// Most links in a chain (default 8).
    pub max_chain_depth: usize,
    /// Most grants in one credential (default 32).
    pub max_grants_per_credential: usize,
    /// Most grants over the whole chain (default 128).
    pub max_total_grants: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 64 * 1024,
            max_chain_depth: 8,
            max_grants_per_credential: 32,
            max_total_grants: 128,
        }
    }
}

impl Limits {
    /// The JSON parsing limits these imply.
    pub(crate) fn json(&self) -> JsonLimits {
        JsonLimits {
            max_bytes: self.max_input_bytes,
            max_depth: 32,
        }
    }
}

/// What a verifier accepts. Build with [`Policy::builder`] or read with
/// [`Policy::from_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    trusted_roots: Vec<Did>,
    trust_registry_principals: bool,
    audience: Option<String>,
    clock_skew_secs: u32,
    max_window_secs: u32,
    limits: Limits,
    trusted_raters: Vec<[u8; 20]>,
    cache_capacity: usize,
    max_registry_age_secs: u32,
    max_status_list_age_secs: u32,
    require_agent_cards: bool,
    min_reputation: Option<ReputationRequirement>,
    min_validation: Option<ValidationRequirement>,
    accepted_contexts: AcceptedContexts,
    fingerprint: [u8; 32],
}

/// The JSON form of a [`Policy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyJson {
    #[serde(default)]
    trusted_roots: Vec<Did>,
    #[serde(default)]
    trust_registry_principals: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audience: Option<String>,
    #[serde(default = "default_skew")]
    clock_skew_seconds: u32,
    #[serde(default = "default_window")]
    max_window_seconds: u32,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    trusted_raters: Vec<Address>,
    #[serde(default = "default_cache")]
    cache_capacity: usize,
    #[serde(default = "default_registry_age")]
    max_registry_age_seconds: u32,
    #[serde(default = "default_status_list_age")]
    max_status_list_age_seconds: u32,
    #[serde(default)]
    require_agent_cards: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_reputation: Option<ReputationRequirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_validation: Option<ValidationRequirement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    accepted_contexts: Vec<String>,
}

impl From<PolicyJson> for PolicyBuilder {
    fn from(json: PolicyJson) -> Self {
        Self {
            trusted_roots: json.trusted_roots,
            trust_registry_principals: json.trust_registry_principals,
            audience: json.audience,
            clock_skew_secs: json.clock_skew_seconds,
            max_window_secs: json.max_window_seconds,
            limits: json.limits,
            trusted_raters: json.trusted_raters.into_iter().map(|a| a.0).collect(),
            cache_capacity: json.cache_capacity,
            max_registry_age_secs: json.max_registry_age_seconds,
            max_status_list_age_secs: json.max_status_list_age_seconds,
            require_agent_cards: json.require_agent_cards,
            min_reputation: json.min_reputation,
            min_validation: json.min_validation,
            accepted_contexts: json.accepted_contexts,
        }
    }
}

fn default_status_list_age() -> u32 {
    DEFAULT_MAX_STATUS_LIST_AGE_SECS
}
fn default_skew() -> u32 {
    DEFAULT_CLOCK_SKEW_SECS
}
fn default_window() -> u32 {
    DEFAULT_MAX_WINDOW_SECS
}
fn default_registry_age() -> u32 {
    DEFAULT_MAX_REGISTRY_AGE_SECS
}
fn default_cache() -> usize {
    DEFAULT_CACHE_CAPACITY
}

/// A 20-byte EVM address written `0x` + 40 hex digits (any case on input, lowercase out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Address(pub(crate) [u8; 20]);

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(self.0)))
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_address(&s)
            .map(Address)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `0x` + 40 hex digits.
pub(crate) fn parse_address(s: &str) -> Result<[u8; 20], String> {
    let mut out = [0u8; 20];
    let hex_part = s
        .strip_prefix("0x")
        .filter(|h| h.len() == 40)
        .ok_or_else(|| {
            format!(
                "`{}` is not an address (0x + 40 hex digits)",
                truncate(s, 64)
            )
        })?;
    hex::decode_to_slice(hex_part, &mut out).map_err(|_| {
        format!(
            "`{}` is not an address (0x + 40 hex digits)",
            truncate(s, 64)
        )
    })?;
    Ok(out)
}

pub(crate) fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not acceptable JSON (syntax, duplicate keys, limits).
    #[error("invalid policy: {0}")]
    Json(#[from] JsonError),
    /// A member is unknown, missing its form, or of the wrong type.
    #[error("invalid policy: {0}")]
    Member(#[from] serde_json::Error),
}

impl Default for Policy {
    /// Trusts nobody; every limit at its default.
    fn default() -> Self {
        PolicyBuilder::default().build()
    }
}

impl Policy {
    /// A builder starting from the defaults (no trusted roots).
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Reads a JSON policy file (strict JSON: duplicate keys and unknown members refused).
    pub fn from_json(bytes: &[u8]) -> Result<Self, PolicyError> {
        let value = parse_strict(
            bytes,
            JsonLimits {
                max_bytes: 1024 * 1024,
                max_depth: 8,
            },
        )?;
        let json: PolicyJson = serde_json::from_value(value)?;
        Ok(PolicyBuilder::from(json).build())
    }

    /// The policy as a JSON value (the form [`from_json`](Self::from_json) reads).
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(self.to_json()).unwrap_or(serde_json::Value::Null)
    }

    fn to_json(&self) -> PolicyJson {
        PolicyJson {
            trusted_roots: self.trusted_roots.clone(),
            trust_registry_principals: self.trust_registry_principals,
            audience: self.audience.clone(),
            clock_skew_seconds: self.clock_skew_secs,
            max_window_seconds: self.max_window_secs,
            limits: self.limits,
            trusted_raters: self.trusted_raters.iter().copied().map(Address).collect(),
            cache_capacity: self.cache_capacity,
            max_registry_age_seconds: self.max_registry_age_secs,
            max_status_list_age_seconds: self.max_status_list_age_secs,
            require_agent_cards: self.require_agent_cards,
            min_reputation: self.min_reputation.clone(),
            min_validation: self.min_validation.clone(),
            accepted_contexts: self.accepted_contexts.extra().to_vec(),
        }
    }

    /// The explicitly trusted root issuers (principals).
    pub fn trusted_roots(&self) -> &[Did] {
        &self.trusted_roots
    }

    /// Whether any `did:pkh` principal is trusted whose key binding the registry confirms.
    pub fn trusts_registry_principals(&self) -> bool {
        self.trust_registry_principals
    }

    /// Whether `issuer` is an explicitly trusted root.
    pub fn is_trusted_root(&self, issuer: &Did) -> bool {
        self.trusted_roots.contains(issuer)
    }

    /// The audience (this merchant's id) presentations must name as `domain`.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Allowed clock skew in seconds.
    pub fn clock_skew_secs(&self) -> i64 {
        i64::from(self.clock_skew_secs)
    }

    /// Longest presentation / signed-request window in seconds.
    pub fn max_window_secs(&self) -> i64 {
        i64::from(self.max_window_secs)
    }

    /// The work limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Rater addresses whose feedback counts in reputation summaries.
    pub fn trusted_raters(&self) -> &[[u8; 20]] {
        &self.trusted_raters
    }

    /// How many verified chains a [`Verifier`](crate::Verifier) caches.
    pub fn cache_capacity(&self) -> usize {
        self.cache_capacity
    }

    /// The oldest registry view accepted, in seconds: a view whose newest block is older
    /// than this refuses every chain (`registry_stale`).
    pub fn max_registry_age_secs(&self) -> i64 {
        i64::from(self.max_registry_age_secs)
    }

    /// The oldest status list accepted, in seconds since its `validFrom`: an older list
    /// refuses the credentials whose status it keeps (`status_list_stale`).
    pub fn max_status_list_age_secs(&self) -> i64 {
        i64::from(self.max_status_list_age_secs)
    }

    /// The reputation the policy requires, if any.
    pub fn min_reputation(&self) -> Option<&ReputationRequirement> {
        self.min_reputation.as_ref()
    }

    /// The validations the policy requires of a registered agent, if any.
    pub fn min_validation(&self) -> Option<&ValidationRequirement> {
        self.min_validation.as_ref()
    }

    /// Whether registered agents must have an active card naming their registration.
    pub fn requires_agent_cards(&self) -> bool {
        self.require_agent_cards
    }

    /// The JSON-LD contexts accepted beyond the ones kya's kinds are defined with.
    pub fn accepted_contexts(&self) -> &AcceptedContexts {
        &self.accepted_contexts
    }

    /// SHA-256 of the policy's canonical JSON: cache entries are keyed by it, so a result
    /// verified under one policy is never served under another.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }
}

impl Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = PolicyJson::deserialize(d)?;
        Ok(PolicyBuilder::from(json).build())
    }
}

/// Builds a [`Policy`].
#[derive(Debug, Clone)]
pub struct PolicyBuilder {
    trusted_roots: Vec<Did>,
    trust_registry_principals: bool,
    audience: Option<String>,
    clock_skew_secs: u32,
    max_window_secs: u32,
    limits: Limits,
    trusted_raters: Vec<[u8; 20]>,
    cache_capacity: usize,
    max_registry_age_secs: u32,
    max_status_list_age_secs: u32,
    require_agent_cards: bool,
    min_reputation: Option<ReputationRequirement>,
    min_validation: Option<ValidationRequirement>,
    accepted_contexts: Vec<String>,
}

impl Default for PolicyBuilder {
    fn default() -> Self {
        Self {
            trusted_roots: Vec::new(),
            trust_registry_principals: false,
            audience: None,
            clock_skew_secs: DEFAULT_CLOCK_SKEW_SECS,
            max_window_secs: DEFAULT_MAX_WINDOW_SECS,
            limits: Limits::default(),
            trusted_raters: Vec::new(),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            max_registry_age_secs: DEFAULT_MAX_REGISTRY_AGE_SECS,
            max_status_list_age_secs: DEFAULT_MAX_STATUS_LIST_AGE_SECS,
            require_agent_cards: false,
            min_reputation: None,
            min_validation: None,
            accepted_contexts: Vec::new(),
        }
    }
}

impl PolicyBuilder {
    /// Trusts `principal` as a root issuer.
    #[must_use]
    pub fn trust_root(mut self, principal: Did) -> Self {
        if !self.trusted_roots.contains(&principal) {
            self.trusted_roots.push(principal);
        }
        self
    }

    /// Trusts any `did:pkh` principal whose signing key the registry view confirms.
    #[must_use]
    pub fn trust_registry_principals(mut self, yes: bool) -> Self {
        self.trust_registry_principals = yes;
        self
    }

    /// Sets the audience (this merchant's id).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets the clock skew in seconds.
    #[must_use]
    pub fn clock_skew_secs(mut self, secs: u32) -> Self {
        self.clock_skew_secs = secs;
        self
    }

    /// Sets the longest presentation / request window in seconds.
    #[must_use]
    pub fn max_window_secs(mut self, secs: u32) -> Self {
        self.max_window_secs = secs;
        self
    }

    /// Sets the work limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the longest chain.
    #[must_use]
    pub fn max_chain_depth(mut self, depth: usize) -> Self {
        self.limits.max_chain_depth = depth;
        self
    }

    /// Sets the longest input in bytes.
    #[must_use]
    pub fn max_input_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_input_bytes = bytes;
        self
    }

    /// Counts feedback from `rater` in reputation summaries.
    #[must_use]
    pub fn trust_rater(mut self, rater: [u8; 20]) -> Self {
        if !self.trusted_raters.contains(&rater) {
            self.trusted_raters.push(rater);
        }
        self
    }

    /// Sets the oldest registry view accepted, in seconds.
    #[must_use]
    pub fn max_registry_age_secs(mut self, secs: u32) -> Self {
        self.max_registry_age_secs = secs;
        self
    }

    /// Sets the oldest status list accepted (seconds since its `validFrom`).
    #[must_use]
    pub fn max_status_list_age_secs(mut self, secs: u32) -> Self {
        self.max_status_list_age_secs = secs;
        self
    }

    /// Requires every registered link's agent to have an active ERC-8004 card, held by the
    /// verifier at its `agentURI`, that names its registration.
    #[must_use]
    pub fn require_agent_cards(mut self, yes: bool) -> Self {
        self.require_agent_cards = yes;
        self
    }

    /// Requires a minimum reputation (see [`crate::reputation`]).
    #[must_use]
    pub fn min_reputation(mut self, requirement: ReputationRequirement) -> Self {
        self.min_reputation = Some(requirement);
        self
    }

    /// Requires validations of the leaf's registered agent by trusted validators (see
    /// [`crate::validation`]).
    #[must_use]
    pub fn min_validation(mut self, requirement: ValidationRequirement) -> Self {
        self.min_validation = Some(requirement);
        self
    }

    /// Sets the cache capacity (0 disables caching).
    #[must_use]
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Accepts the JSON-LD context at `url` after the ones kya's kinds are defined with. Only
    /// name a context whose content you have read: it may define any term after kya's.
    #[must_use]
    pub fn allow_context(mut self, url: impl Into<String>) -> Self {
        self.accepted_contexts.push(url.into());
        self
    }

    /// The policy.
    pub fn build(self) -> Policy {
        let mut trusted_roots = self.trusted_roots;
        trusted_roots.sort_by_key(ToString::to_string);
        trusted_roots.dedup();
        let mut trusted_raters = self.trusted_raters;
        trusted_raters.sort_unstable();
        trusted_raters.dedup();
        let mut urls = self.accepted_contexts;
        urls.sort_unstable();
        let accepted_contexts = urls
            .into_iter()
            .fold(AcceptedContexts::default(), AcceptedContexts::allow);
        let mut policy = Policy {
            trusted_roots,
            trust_registry_principals: self.trust_registry_principals,
            audience: self.audience,
            clock_skew_secs: self.clock_skew_secs,
            max_window_secs: self.max_window_secs,
            limits: self.limits,
            trusted_raters,
            cache_capacity: self.cache_capacity,
            max_registry_age_secs: self.max_registry_age_secs,
            max_status_list_age_secs: self.max_status_list_age_secs,
            require_agent_cards: self.require_agent_cards,
            min_reputation: self.min_reputation,
            min_validation: self.min_validation.map(ValidationRequirement::normalized),
            accepted_contexts,
            fingerprint: [0; 32],
        };
        let canonical = kya_core::json::canonicalize(&policy.to_json_value()).unwrap_or_default();
        policy.fingerprint = Sha256::digest(&canonical).into();
        policy
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_round_trip_and_defaults() {
        let p = Policy::from_json(br#"{"audience": "did:web:shop.example"}"#).unwrap();
        assert_eq!(p.clock_skew_secs(), 60);
        assert_eq!(p.max_window_secs(), 300);
        assert_eq!(p.limits().max_input_bytes, 65536);
        assert_eq!(p.limits().max_chain_depth, 8);
        let again = Policy::from_json(&serde_json::to_vec(&p).unwrap()).unwrap();
        assert_eq!(p, again);
        assert!(Policy::from_json(br#"{"limits": {"maxChainDepht": 3}}"#).is_err());
        assert!(Policy::from_json(br#"{"audience": "a", "audience": "b"}"#).is_err());
        assert_ne!(p.fingerprint(), Policy::default().fingerprint());
    }

    #[test]
    fn accepted_contexts_round_trip_and_change_the_fingerprint() {
        let url = "https://example.org/contexts/extra/v1";
        let p =
            Policy::from_json(format!(r#"{{"acceptedContexts": ["{url}"]}}"#).as_bytes()).unwrap();
        assert_eq!(p.accepted_contexts().extra(), [url.to_owned()]);
        assert_eq!(p, Policy::builder().allow_context(url).build());
        assert_ne!(p.fingerprint(), Policy::default().fingerprint());
        // The default accepts nothing beyond kya's contexts, and writes no member for it.
        assert!(Policy::default().accepted_contexts().extra().is_empty());
        assert!(
            Policy::default()
                .to_json_value()
                .get("acceptedContexts")
                .is_none()
        );
    }
}
