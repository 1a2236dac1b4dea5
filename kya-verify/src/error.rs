//! Why verification refused its input.
//!
//! Every [`VerifyError`] has a stable machine code ([`VerifyError::code`]), the chain link it
//! concerns when there is one ([`VerifyError::link`], `0` = the root), and a lowercase
//! message with the values that led to the refusal.

use kya_core::status::StatusPurpose;
use kya_core::{CredentialDigest, Timestamp};

use crate::code::Code;

/// Why a chain, a presentation or a signed request was refused.
///
/// Links are numbered from `0` (the root authorisation). A `link` of `None` means the error
/// concerns the input as a whole, or the presentation / request signature around the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The input is longer than the policy allows.
    #[error("input is {len} bytes, over the limit of {max} bytes")]
    InputTooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input is not what it must be (json, vc 2.0, kya kinds, proofs).
    #[error("{}{reason}", link_prefix(*link))]
    Malformed {
        /// The link, when the problem is inside one.
        link: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A credential or the presentation breaks VC Data Model 2.0 rules (all of them listed).
    #[error("{}breaks the vc data model 2.0: {violations}", link_prefix(*link))]
    NotVcDataModel {
        /// The link, or `None` for the presentation.
        link: Option<usize>,
        /// Every violation found.
        #[source]
        violations: kya_core::vcdm::Violations,
    },
    /// A credential or the presentation names a JSON-LD context that neither kya's kinds nor
    /// the policy accept (or an inline context).
    #[error("{}{source}", link_prefix(*link))]
    ContextNotAccepted {
        /// The link, or `None` for the presentation.
        link: Option<usize>,
        /// Which entry, and why.
        #[source]
        source: kya_core::contexts::ContextError,
    },
    /// The chain has no links.
    #[error("the credential chain is empty")]
    EmptyChain,
    /// The chain has more links than the policy allows.
    #[error("the chain has {len} links, over the limit of {max}")]
    ChainTooDeep {
        /// Links found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A credential, or the chain as a whole, carries more grants than the policy allows.
    #[error("{} {count} grants, over the limit of {max}", match link { Some(i) => format!("credential [{i}] carries"), None => "the chain carries".to_owned() })]
    TooManyGrants {
        /// The link (`None`: the total over the chain).
        link: Option<usize>,
        /// Grants found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The first link is not an agent authorisation.
    #[error("credential [{link}] is a {found}, but a chain must start with an AgentAuthorization")]
    NotAChainRoot {
        /// Always `0`.
        link: usize,
        /// The kind found.
        found: &'static str,
    },
    /// A link after the root is not a delegation.
    #[error(
        "credential [{link}] is a {found}, but every link after the root must be an AgentDelegation"
    )]
    NotADelegation {
        /// The link.
        link: usize,
        /// The kind found.
        found: &'static str,
    },
    /// The same credential (by id or digest) appears twice: a loop.
    #[error("credential [{link}] repeats credential [{first}] (same {what})")]
    DuplicateLink {
        /// The repeated link.
        link: usize,
        /// Where it first appeared.
        first: usize,
        /// `id` or `digest`.
        what: &'static str,
    },
    /// A link's issuer is not the subject of the link before it.
    #[error(
        "credential [{link}] is issued by {issuer}, but the parent's subject is {parent_subject}"
    )]
    IssuerNotParentSubject {
        /// The link.
        link: usize,
        /// Its issuer.
        issuer: String,
        /// The parent's subject.
        parent_subject: String,
    },
    /// A delegation's `parentCredential` does not name the link before it.
    #[error(
        "credential [{link}] names parent {named_id} with digest {named_digest}, but the parent is {parent_id} with digest {parent_digest}"
    )]
    ParentDigestMismatch {
        /// The link.
        link: usize,
        /// The id it names.
        named_id: String,
        /// The digest it names.
        named_digest: CredentialDigest,
        /// The parent's id.
        parent_id: String,
        /// The parent's digest.
        parent_digest: CredentialDigest,
    },
    /// A signature does not verify (or is malleated, or made by a key the issuer does not
    /// control).
    #[error("{}: {reason}", match link { Some(i) => format!("credential [{i}] signature is invalid"), None => "the presentation/request signature is invalid".to_owned() })]
    BadSignature {
        /// The link (`None`: the presentation or request signature).
        link: Option<usize>,
        /// Why.
        reason: String,
    },
    /// A link is valid outside its parent's window.
    #[error(
        "credential [{link}] is valid {valid_from} – {valid_until}, outside its parent's {parent_from} – {parent_until}"
    )]
    ValidityOutsideParent {
        /// The link.
        link: usize,
        /// Its `validFrom`.
        valid_from: Timestamp,
        /// Its `validUntil`.
        valid_until: Timestamp,
        /// The parent's `validFrom`.
        parent_from: Timestamp,
        /// The parent's `validUntil`.
        parent_until: Timestamp,
    },
    /// A delegated grant is wider than every grant of its parent.
    #[error("credential [{link}] grant {grant} widens its parent ({widening}): {reason}")]
    GrantWidened {
        /// The link.
        link: usize,
        /// The child grant's position.
        grant: usize,
        /// The closest parent grant's position.
        parent_grant: Option<usize>,
        /// The widening's stable code (kya-core `Widening::code`).
        widening: &'static str,
        /// The full explanation.
        reason: String,
    },
    /// The root issuer is not trusted by the policy.
    #[error("credential [0] is issued by {issuer}, which the policy does not trust")]
    UntrustedRoot {
        /// The issuer.
        issuer: String,
    },
    /// A link has expired.
    #[error("credential [{link}] expired at {valid_until}, {secs} s before now")]
    CredentialExpired {
        /// The link.
        link: usize,
        /// Its `validUntil`.
        valid_until: Timestamp,
        /// Seconds between `validUntil` and now.
        secs: i64,
    },
    /// A link is not valid yet.
    #[error("credential [{link}] is not valid before {valid_from}, {secs} s after now")]
    CredentialNotYetValid {
        /// The link.
        link: usize,
        /// Its `validFrom`.
        valid_from: Timestamp,
        /// Seconds between now and `validFrom`.
        secs: i64,
    },
    /// A proof's `created` lies in the future beyond the clock skew.
    #[error("{} proof was created at {created}, {secs} s after now (allowed skew {skew} s)", match link { Some(i) => format!("credential [{i}]"), None => "the presentation/request".to_owned() })]
    CreatedInFuture {
        /// The link (`None`: the presentation or request).
        link: Option<usize>,
        /// The proof's `created`.
        created: Timestamp,
        /// Seconds after now.
        secs: i64,
        /// The policy's skew.
        skew: i64,
    },
    /// A `did:pkh` root issuer did not have the signing key bound at signing time.
    #[error("credential [0] is signed by {key}, which was not bound to principal {principal} at {at}{}", if *no_registry { " (no registry view was given to check it)" } else { "" })]
    PrincipalKeyNotBound {
        /// The principal.
        principal: String,
        /// The signing key.
        key: String,
        /// The proof's `created` (or `validFrom`).
        at: Timestamp,
        /// No registry view was available.
        no_registry: bool,
    },
    /// A link's subject names a registration the registry does not know.
    #[error("credential [{link}] names agent {agent_id} in {registry}, which is not registered")]
    AgentNotRegistered {
        /// The link.
        link: usize,
        /// The agent id.
        agent_id: String,
        /// The identity registry.
        registry: String,
    },
    /// A link's subject names a registration that is not active.
    #[error("credential [{link}] names agent {agent_id} in {registry}, which is not active")]
    AgentInactive {
        /// The link.
        link: usize,
        /// The agent id.
        agent_id: String,
        /// The identity registry.
        registry: String,
    },
    /// A link's subject key is not bound to the registration it names.
    #[error("credential [{link}] subject key {key} is not bound to agent {agent_id} at {at}")]
    KeyNotBound {
        /// The link.
        link: usize,
        /// The key.
        key: String,
        /// The agent id.
        agent_id: String,
        /// When it was checked.
        at: Timestamp,
    },
    /// A link was revoked on-chain.
    #[error(
        "credential [{link}] ({digest}) was revoked by agent {agent_id} at block {block} ({time})"
    )]
    Revoked {
        /// The link.
        link: usize,
        /// Its digest.
        digest: CredentialDigest,
        /// The agent whose registration revoked it.
        agent_id: String,
        /// The block of the revocation.
        block: u64,
        /// The time of that block.
        time: Timestamp,
    },
    /// The root link was revoked on-chain by its issuer (a `did:pkh` wallet).
    #[error(
        "credential [{link}] ({digest}) was revoked by its issuer {issuer} at block {block} ({time})"
    )]
    RevokedByIssuer {
        /// The link.
        link: usize,
        /// Its digest.
        digest: CredentialDigest,
        /// The issuer that revoked it.
        issuer: String,
        /// The block of the revocation.
        block: u64,
        /// The time of that block.
        time: Timestamp,
    },
    /// A status list holds the link's bit set.
    #[error(
        "credential [{link}] was {} by its issuer: bit {index} of the status list {list} is set",
        match purpose { StatusPurpose::Suspension => "suspended", _ => "revoked" }
    )]
    StatusSet {
        /// The link.
        link: usize,
        /// Revoked or suspended.
        purpose: StatusPurpose,
        /// The list's URL.
        list: String,
        /// The link's index in it.
        index: u64,
    },
    /// The link names a status list the verifier does not hold (or the verifier holds none).
    #[error("credential [{link}] names the status list {list}, which this verifier does not hold")]
    StatusListMissing {
        /// The link.
        link: usize,
        /// The list's URL.
        list: String,
    },
    /// The status list cannot speak for the link.
    #[error("credential [{link}]: the status list {list} cannot speak for it: {reason}")]
    StatusListMismatch {
        /// The link.
        link: usize,
        /// The list's URL.
        list: String,
        /// Why.
        reason: String,
    },
    /// The status list is too old to rely on.
    #[error("credential [{link}]: the status list {list} is stale ({reason})")]
    StatusListStale {
        /// The link.
        link: usize,
        /// The list's URL.
        list: String,
        /// Why.
        reason: String,
    },
    /// The policy asks for agent cards and the card at the agent's `agentURI` is not held.
    #[error("credential [{link}]: the policy asks for agent cards and none is held for {uri}")]
    AgentCardMissing {
        /// The link.
        link: usize,
        /// The agent's `agentURI`.
        uri: String,
    },
    /// The agent's card cannot speak for its registration.
    #[error("credential [{link}]: the agent card at {uri} {reason}")]
    AgentCardMismatch {
        /// The link.
        link: usize,
        /// The agent's `agentURI`.
        uri: String,
        /// Why.
        reason: String,
    },
    /// A reputation attestation cannot count.
    #[error("attestation [{index}] refused: {reason}")]
    AttestationRefused {
        /// Its position among the attestations given.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The leaf's registered agent lacks the validations the policy requires.
    #[error(
        "agent {agent_id} has {passing} passing validations by trusted validators, the policy requires {min_count} with a response of at least {min_response}: {reason}"
    )]
    ValidationInsufficient {
        /// The agent (its id, or `(unregistered)`).
        agent_id: String,
        /// Validations that count.
        passing: u64,
        /// The policy's minimum count.
        min_count: u64,
        /// The policy's minimum response.
        min_response: u8,
        /// Why, in short.
        reason: String,
    },
    /// The combined reputation is below the policy's minimum.
    #[error(
        "reputation {average} over {count} ratings is below the policy's minimum of {min_average} over {min_count}"
    )]
    ReputationInsufficient {
        /// Ratings counted.
        count: u64,
        /// Their average.
        average: String,
        /// The policy's minimum count.
        min_count: u64,
        /// The policy's minimum average.
        min_average: String,
    },
    /// The registry view cannot answer faithfully for a record the link depends on: its
    /// on-chain record exceeds the view's bounds (e.g. a snapshot's), so it is refused.
    #[error(
        "credential [{link}] depends on {record}, whose registry record is over bounds: {reason}"
    )]
    RegistryRecordOverBounds {
        /// The link.
        link: usize,
        /// The record (`agent <id>` or a `did:pkh`).
        record: String,
        /// Which bound it exceeds.
        reason: String,
    },
    /// The nonce was seen before.
    #[error("nonce `{nonce}` was already used")]
    NonceReplayed {
        /// The nonce (truncated).
        nonce: String,
    },
    /// The agent's (or its principal's) share of the nonce store is full: the nonce cannot
    /// be remembered, so it is not accepted.
    #[error(
        "the nonce store holds this agent's full share of unexpired nonces; nonce `{nonce}` is refused"
    )]
    NonceQuotaExceeded {
        /// The nonce (truncated).
        nonce: String,
    },
    /// A proof's own `expires` has passed.
    #[error("{} proof expired at {expires}, {secs} s before now", match link { Some(i) => format!("credential [{i}]"), None => "the presentation/request".to_owned() })]
    ProofExpired {
        /// The link, or `None` for the presentation.
        link: Option<usize>,
        /// The proof's `expires`.
        expires: Timestamp,
        /// Seconds before now.
        secs: i64,
    },
    /// The registry view is older than the policy accepts.
    #[error(
        "the registry view reflects the chain as of {as_of}, {age_secs} s ago, over the policy's limit of {max_secs} s"
    )]
    RegistryStale {
        /// The time of the newest block the view reflects.
        as_of: Timestamp,
        /// Its age.
        age_secs: i64,
        /// The policy's limit.
        max_secs: i64,
    },
    /// A nonce store or ledger could not answer: neither an allow nor a refusal.
    #[error(transparent)]
    StoreUnavailable(#[from] crate::store::StoreUnavailable),
    /// The presentation or request window is longer than the policy allows.
    #[error("the window {created} – {expires} is {secs} s, over the limit of {max} s")]
    WindowTooLong {
        /// `created`.
        created: Timestamp,
        /// `expires`.
        expires: Timestamp,
        /// Its length.
        secs: i64,
        /// The limit.
        max: i64,
    },
    /// The presentation is meant for another audience.
    #[error("the presentation is for {}, but this verifier is {}", found.as_deref().unwrap_or("(no domain)"), expected.as_deref().unwrap_or("(no audience configured)"))]
    AudienceMismatch {
        /// The policy's audience.
        expected: Option<String>,
        /// The presentation's `domain`.
        found: Option<String>,
    },
    /// The presentation's challenge is missing or not the expected one.
    #[error("the presentation challenge is {}, expected {}", found.as_deref().unwrap_or("(missing)"), expected.as_deref().unwrap_or("a nonce"))]
    ChallengeMismatch {
        /// The expected challenge, if the caller named one.
        expected: Option<String>,
        /// The presentation's `challenge`.
        found: Option<String>,
    },
    /// The presentation or request has expired (or has no expiry).
    #[error("the presentation/request {}", match expires { Some(e) => format!("expired at {e}, {secs} s before now"), None => "has no expires".to_owned() })]
    PresentationExpired {
        /// Its `expires`.
        expires: Option<Timestamp>,
        /// Seconds before now.
        secs: i64,
    },
    /// A request referenced a chain by digest that this verifier has not cached (send the
    /// whole chain).
    #[error("chain {digest} is not cached here; send the whole chain")]
    ChainNotCached {
        /// The digest referenced.
        digest: String,
    },
    /// The presentation's holder or signer is not the chain's leaf subject.
    #[error(
        "the presentation/request is held or signed by {found}, but the chain's agent is {agent}"
    )]
    HolderMismatch {
        /// The chain's leaf subject.
        agent: String,
        /// The holder or signer found.
        found: String,
    },
}

fn link_prefix(link: Option<usize>) -> String {
    match link {
        Some(i) => format!("credential [{i}]: "),
        None => String::new(),
    }
}

impl VerifyError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> Code {
        match self {
            Self::InputTooLarge { .. } => Code::InputTooLarge,
            Self::Malformed { .. }
            | Self::NotVcDataModel { .. }
            | Self::ContextNotAccepted { .. } => Code::Malformed,
            Self::EmptyChain => Code::EmptyChain,
            Self::ChainTooDeep { .. } => Code::ChainTooDeep,
            Self::TooManyGrants { .. } => Code::TooManyGrants,
            Self::NotAChainRoot { .. } => Code::NotAChainRoot,
            Self::NotADelegation { .. } => Code::NotADelegation,
            Self::DuplicateLink { .. } => Code::DuplicateLink,
            Self::IssuerNotParentSubject { .. } => Code::IssuerNotParentSubject,
            Self::ParentDigestMismatch { .. } => Code::ParentDigestMismatch,
            Self::BadSignature { .. } => Code::BadSignature,
            Self::ValidityOutsideParent { .. } => Code::ValidityOutsideParent,
            Self::GrantWidened { .. } => Code::GrantWidened,
            Self::UntrustedRoot { .. } => Code::UntrustedRoot,
            Self::CredentialExpired { .. } => Code::CredentialExpired,
            Self::CredentialNotYetValid { .. } => Code::CredentialNotYetValid,
            Self::CreatedInFuture { .. } => Code::CreatedInFuture,
            Self::PrincipalKeyNotBound { .. } => Code::PrincipalKeyNotBound,
            Self::AgentNotRegistered { .. } => Code::AgentNotRegistered,
            Self::AgentInactive { .. } => Code::AgentInactive,
            Self::KeyNotBound { .. } => Code::KeyNotBound,
            Self::Revoked { .. } => Code::Revoked,
            Self::NonceReplayed { .. } => Code::NonceReplayed,
            Self::WindowTooLong { .. } => Code::WindowTooLong,
            Self::AudienceMismatch { .. } => Code::AudienceMismatch,
            Self::ChallengeMismatch { .. } => Code::ChallengeMismatch,
            Self::PresentationExpired { .. } => Code::PresentationExpired,
            Self::HolderMismatch { .. } => Code::HolderMismatch,
            Self::ChainNotCached { .. } => Code::ChainNotCached,
            Self::NonceQuotaExceeded { .. } => Code::NonceQuotaExceeded,
            Self::ProofExpired { .. } => Code::ProofExpired,
            Self::RegistryStale { .. } => Code::RegistryStale,
            Self::StoreUnavailable(_) => Code::StoreUnavailable,
            Self::RevokedByIssuer { .. } => Code::RevokedByIssuer,
            Self::RegistryRecordOverBounds { .. } => Code::RegistryRecordOverBounds,
            Self::StatusSet {
                purpose: StatusPurpose::Suspension,
                ..
            } => Code::StatusSuspended,
            Self::StatusSet { .. } => Code::StatusRevoked,
            Self::StatusListMissing { .. } => Code::StatusListMissing,
            Self::StatusListMismatch { .. } => Code::StatusListMismatch,
            Self::StatusListStale { .. } => Code::StatusListStale,
            Self::AgentCardMissing { .. } => Code::AgentCardMissing,
            Self::AgentCardMismatch { .. } => Code::AgentCardMismatch,
            Self::AttestationRefused { .. } => Code::AttestationRefused,
            Self::ReputationInsufficient { .. } => Code::ReputationInsufficient,
            Self::ValidationInsufficient { .. } => Code::ValidationInsufficient,
        }
    }

    /// The chain link the error concerns (`0` = the root), if any.
    pub fn link(&self) -> Option<usize> {
        match self {
            Self::Malformed { link, .. }
            | Self::NotVcDataModel { link, .. }
            | Self::ContextNotAccepted { link, .. }
            | Self::TooManyGrants { link, .. }
            | Self::BadSignature { link, .. }
            | Self::CreatedInFuture { link, .. }
            | Self::ProofExpired { link, .. } => *link,
            Self::NotAChainRoot { link, .. }
            | Self::NotADelegation { link, .. }
            | Self::DuplicateLink { link, .. }
            | Self::IssuerNotParentSubject { link, .. }
            | Self::ParentDigestMismatch { link, .. }
            | Self::ValidityOutsideParent { link, .. }
            | Self::GrantWidened { link, .. }
            | Self::CredentialExpired { link, .. }
            | Self::CredentialNotYetValid { link, .. }
            | Self::AgentNotRegistered { link, .. }
            | Self::AgentInactive { link, .. }
            | Self::KeyNotBound { link, .. }
            | Self::Revoked { link, .. }
            | Self::RevokedByIssuer { link, .. }
            | Self::RegistryRecordOverBounds { link, .. }
            | Self::StatusSet { link, .. }
            | Self::StatusListMissing { link, .. }
            | Self::StatusListMismatch { link, .. }
            | Self::StatusListStale { link, .. }
            | Self::AgentCardMissing { link, .. }
            | Self::AgentCardMismatch { link, .. } => Some(*link),
            Self::UntrustedRoot { .. } | Self::PrincipalKeyNotBound { .. } => Some(0),
            Self::ChainTooDeep { max, .. } => Some(*max),
            Self::InputTooLarge { .. }
            | Self::EmptyChain
            | Self::NonceReplayed { .. }
            | Self::WindowTooLong { .. }
            | Self::AudienceMismatch { .. }
            | Self::ChallengeMismatch { .. }
            | Self::PresentationExpired { .. }
            | Self::HolderMismatch { .. }
            | Self::ChainNotCached { .. }
            | Self::NonceQuotaExceeded { .. }
            | Self::RegistryStale { .. }
            | Self::StoreUnavailable(_)
            | Self::AttestationRefused { .. }
            | Self::ReputationInsufficient { .. }
            | Self::ValidationInsufficient { .. } => None,
        }
    }
}

impl serde::Serialize for VerifyError {
    /// `{"code": …, "link": …, "message": …}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("VerifyError", 3)?;
        st.serialize_field("code", &self.code())?;
        st.serialize_field("link", &self.link())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}
