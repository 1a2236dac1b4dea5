//! The stable machine codes of every refusal, denial and outage, in one enum shared by the
//! verifier ([`VerifyError`](crate::VerifyError)), decisions ([`Reason`](crate::Reason)),
//! signed requests ([`HttpError`](crate::http::HttpError)) and the `kya` command line.
//! Their snake_case spelling ([`Code::as_str`]) is the wire form and never changes.

use std::fmt;

use kya_core::ProofError;
use kya_core::credential::CredentialError;
use kya_core::grant::Violation;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// A stable machine code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The wire form (`snake_case`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }

        impl std::str::FromStr for Code {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, UnknownCode> {
                match s {
                    $($text => Ok(Code::$variant),)*
                    _ => Err(UnknownCode(s.chars().take(64).collect())),
                }
            }
        }
    };
}

/// A string that is not one of kya's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a kya code")]
pub struct UnknownCode(pub String);

codes! {
    // --- the chain, presentation and request as a whole ---
    /// The input exceeds the byte limit.
    InputTooLarge = "input_too_large",
    /// Not JSON, VC 2.0, a kya kind, or a well-formed proof.
    Malformed = "malformed",
    /// No links.
    EmptyChain = "empty_chain",
    /// More links than the policy allows.
    ChainTooDeep = "chain_too_deep",
    /// More grants than the policy allows.
    TooManyGrants = "too_many_grants",
    /// The first link is not an authorisation.
    NotAChainRoot = "not_a_chain_root",
    /// A later link is not a delegation.
    NotADelegation = "not_a_delegation",
    /// A link repeats.
    DuplicateLink = "duplicate_link",
    /// A link's issuer is not its parent's subject.
    IssuerNotParentSubject = "issuer_not_parent_subject",
    /// A link names another parent.
    ParentDigestMismatch = "parent_digest_mismatch",
    /// A signature does not verify.
    BadSignature = "bad_signature",
    /// A link's window is not inside its parent's.
    ValidityOutsideParent = "validity_outside_parent",
    /// A link widens its parent's grants.
    GrantWidened = "grant_widened",
    /// The root issuer is not trusted.
    UntrustedRoot = "untrusted_root",
    /// A link has expired.
    CredentialExpired = "credential_expired",
    /// A link is not valid yet.
    CredentialNotYetValid = "credential_not_yet_valid",
    /// A proof's own `expires` has passed.
    ProofExpired = "proof_expired",
    /// A proof was created in the future.
    CreatedInFuture = "created_in_future",
    /// A wallet principal's signing key is not bound to it now.
    PrincipalKeyNotBound = "principal_key_not_bound",
    /// A named agent is not registered.
    AgentNotRegistered = "agent_not_registered",
    /// A named agent is not active.
    AgentInactive = "agent_inactive",
    /// A subject key is not bound to its agent now.
    KeyNotBound = "key_not_bound",
    /// A link was revoked.
    Revoked = "revoked",
    /// The root was revoked by its issuer (a wallet principal).
    RevokedByIssuer = "revoked_by_issuer",
    /// A registry record the chain depends on exceeded the registry's bounds.
    RegistryRecordOverBounds = "registry_record_over_bounds",
    /// The registry view is older than the policy allows.
    RegistryStale = "registry_stale",
    /// A status list holds the credential's bit: revoked by its issuer.
    StatusRevoked = "status_revoked",
    /// A status list holds the credential's bit: suspended by its issuer.
    StatusSuspended = "status_suspended",
    /// The credential names a status list the verifier does not hold.
    StatusListMissing = "status_list_missing",
    /// The status list cannot speak for the credential (another issuer or key, another
    /// purpose, an index outside it).
    StatusListMismatch = "status_list_mismatch",
    /// The status list is past its `validUntil`, or older than the policy allows.
    StatusListStale = "status_list_stale",
    /// The policy asks for agent cards and a registered agent has none the verifier holds.
    AgentCardMissing = "agent_card_missing",
    /// The agent's card does not name its registration, or is inactive.
    AgentCardMismatch = "agent_card_mismatch",
    /// A reputation attestation was refused (signature, subject, attester, validity, status).
    AttestationRefused = "attestation_refused",
    /// The agent's combined reputation is below the policy's `minReputation`.
    ReputationInsufficient = "reputation_insufficient",
    /// The leaf's registered agent has fewer passing validations by trusted validators than
    /// the policy's `minValidation` (or none can be read: fail closed).
    ValidationInsufficient = "validation_insufficient",
    /// The nonce was seen before.
    NonceReplayed = "nonce_replayed",
    /// The agent's share of the nonce store is full.
    NonceQuotaExceeded = "nonce_quota_exceeded",
    /// A presentation window is too long.
    WindowTooLong = "window_too_long",
    /// A presentation is for another audience.
    AudienceMismatch = "audience_mismatch",
    /// A presentation's challenge is not the expected one.
    ChallengeMismatch = "challenge_mismatch",
    /// A presentation has expired.
    PresentationExpired = "presentation_expired",
    /// The signer is not the chain's agent.
    HolderMismatch = "holder_mismatch",
    /// A chain named by digest is not cached.
    ChainNotCached = "chain_not_cached",
    /// A nonce store or ledger could not answer.
    StoreUnavailable = "store_unavailable",
    // --- decisions ---
    /// No grant covers the action.
    ActionNotCovered = "action_not_covered",
    /// The grant needs an amount.
    AmountMissing = "amount_missing",
    /// The asset differs.
    AssetMismatch = "asset_mismatch",
    /// Over the per-request ceiling.
    AmountExceedsCeiling = "amount_exceeds_ceiling",
    /// Over the whole budget.
    AmountExceedsBudget = "amount_exceeds_budget",
    /// More decimals than the budget counts.
    AmountTooPrecise = "amount_too_precise",
    /// The grant needs an audience.
    AudienceMissing = "audience_missing",
    /// The audience is not allowed.
    AudienceNotAllowed = "audience_not_allowed",
    /// The grant needs a resource.
    ResourceMissing = "resource_missing",
    /// The resource is not allowed.
    ResourceNotAllowed = "resource_not_allowed",
    /// The grant is not valid yet.
    GrantNotYetValid = "grant_not_yet_valid",
    /// The grant has expired.
    GrantExpired = "grant_expired",
    /// The grant has a constraint kya does not know (fail closed).
    UnknownConstraint = "unknown_constraint",
    /// The budget of the period is spent.
    BudgetExhausted = "budget_exhausted",
    /// The rate of the period is reached.
    RateLimited = "rate_limited",
    /// The ledger cannot record another counter.
    LedgerFull = "ledger_full",
    /// An obligation the ledger does not know.
    UnknownObligation = "unknown_obligation",
    /// The request carries budget or rate obligations and no ledger enforces them.
    LedgerRequired = "ledger_required",
    // --- signed HTTP requests ---
    /// The request is not signed.
    SignatureMissing = "signature_missing",
    /// The signature headers are unreadable.
    SignatureMalformed = "signature_malformed",
    /// A required component is not covered.
    SignatureComponentNotCovered = "signature_component_not_covered",
    /// A covered component is absent.
    SignatureComponentMissing = "signature_component_missing",
    /// Not ed25519.
    SignatureAlgorithmUnsupported = "signature_algorithm_unsupported",
    /// A signature parameter is missing or invalid.
    SignatureParameterInvalid = "signature_parameter_invalid",
    /// The signature window is too long.
    SignatureWindowTooLong = "signature_window_too_long",
    /// The signature was created in the future.
    SignatureCreatedInFuture = "signature_created_in_future",
    /// The signature has expired.
    SignatureExpired = "signature_expired",
    /// `Content-Digest` is unreadable.
    ContentDigestMalformed = "content_digest_malformed",
    /// The body does not match `Content-Digest`.
    ContentDigestMismatch = "content_digest_mismatch",
    /// No chain sent or named.
    ChainMissing = "chain_missing",
    /// The chain header is unreadable.
    ChainMalformed = "chain_malformed",
    /// The chain is too large.
    ChainTooLarge = "chain_too_large",
    /// The chain digest names no stored chain.
    ChainUnknownDigest = "chain_unknown_digest",
    /// The agent's share of the chain store is full.
    ChainQuotaExceeded = "chain_quota_exceeded",
    /// `keyid` is not the agent's key.
    SignatureKeyidMismatch = "signature_keyid_mismatch",
    /// The request signature does not verify.
    SignatureInvalid = "signature_invalid",
    /// The signed `@authority` is not this merchant.
    AuthorityMismatch = "authority_mismatch",
    /// The path has dot segments or encoded separators.
    PathNotNormalized = "path_not_normalized",
    /// No route maps the path to an action.
    RouteNotMapped = "route_not_mapped",
    /// A header is repeated.
    HeaderDuplicate = "header_duplicate",
    /// A `kya-*` header is unreadable.
    HeaderInvalid = "header_invalid",
    /// The body is too large.
    BodyTooLarge = "body_too_large",
    /// Some other unusable request.
    BadRequest = "bad_request",
}

impl Code {
    /// The code of a grant [`Violation`] (kya-core spells the same codes).
    pub fn of_violation(v: &Violation) -> Self {
        match v {
            Violation::ActionNotCovered { .. } => Self::ActionNotCovered,
            Violation::AmountMissing { .. } => Self::AmountMissing,
            Violation::AssetMismatch { .. } => Self::AssetMismatch,
            Violation::AmountExceedsCeiling { .. } => Self::AmountExceedsCeiling,
            Violation::AmountExceedsBudget { .. } => Self::AmountExceedsBudget,
            Violation::AmountTooPrecise { .. } => Self::AmountTooPrecise,
            Violation::AudienceMissing { .. } => Self::AudienceMissing,
            Violation::AudienceNotAllowed { .. } => Self::AudienceNotAllowed,
            Violation::ResourceMissing { .. } => Self::ResourceMissing,
            Violation::ResourceNotAllowed { .. } => Self::ResourceNotAllowed,
            Violation::GrantNotYetValid { .. } => Self::GrantNotYetValid,
            Violation::GrantExpired { .. } => Self::GrantExpired,
            Violation::UnknownConstraint { .. } => Self::UnknownConstraint,
            // A violation kya-verify does not know yet: the strictest reading.
            _ => Self::UnknownConstraint,
        }
    }

    /// The code of a credential builder's or reader's refusal, spelled as a verifier spells
    /// the same fault: what a builder refuses to make — a delegation that would widen its
    /// parent (`grant_widened`), leave its window (`validity_outside_parent`) or be signed by
    /// a key other than its parent's subject (`issuer_not_parent_subject`) — and what a
    /// reader refuses to accept, which is the verifier's own verdict on that credential as a
    /// chain link (`bad_signature` for a signature that does not verify, is refused or is by
    /// a key the issuer does not control; `malformed` for the rest). `None` only for a signer
    /// that failed: no verdict on any credential.
    pub fn of_credential_error(e: &CredentialError) -> Option<Self> {
        match e {
            CredentialError::Proof(ProofError::Signer(_)) => None,
            CredentialError::WidensParent(_) => Some(Self::GrantWidened),
            CredentialError::OutsideParentValidity { .. } => Some(Self::ValidityOutsideParent),
            CredentialError::DelegatorNotSubject { .. } => Some(Self::IssuerNotParentSubject),
            read => Some(crate::chain::credential_refusal(0, read).code()),
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Code> for &str {
    fn eq(&self, other: &Code) -> bool {
        *self == other.as_str()
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(code.as_str().parse::<Code>(), Ok(*code));
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
    }
}
