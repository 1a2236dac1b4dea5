//! The result of verification: who the agent is, whom it represents, what it may do.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use kya_core::chain::Link;
use kya_core::credential::AgentRegistration;
use kya_core::grant::Grant;
use kya_core::{CredentialDigest, Did, DidKey, Timestamp};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::registry::{AgentRecord, ReputationSummary};

/// The one name of a whole chain: SHA-256 of the JCS bytes of the chain (the JSON array of
/// its credentials, root first) — exactly what a signed request's `KYA-Chain-Digest` names,
/// and what the cache and the chain store index. Since every credential's JCS bytes are
/// covered by its signature, so is this name. Written like a `digestMultibase` (`u` +
/// base64url of the sha2-256 multihash).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainDigest(pub [u8; 32]);

impl ChainDigest {
    /// The digest of a chain from the JCS bytes of its links, root first
    /// (`SHA-256("[" ‖ link₀ ‖ "," ‖ link₁ ‖ … ‖ "]")`).
    pub fn of_canonical_links<'a>(links: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut h = Sha256::new();
        h.update(b"[");
        for (i, link) in links.into_iter().enumerate() {
            if i > 0 {
                h.update(b",");
            }
            h.update(link);
        }
        h.update(b"]");
        Self(h.finalize().into())
    }

    /// The digest of a chain given as a JSON value (an array of credentials, root first).
    pub fn of_chain(chain: &serde_json::Value) -> Result<Self, kya_core::json::JsonError> {
        Ok(Self(
            Sha256::digest(kya_core::json::canonicalize(chain)?).into(),
        ))
    }

    /// `u` + base64url (no padding) of the multihash `0x12 0x20 ‖ digest`.
    pub fn to_multibase(&self) -> String {
        CredentialDigest(self.0).to_multibase()
    }
}

impl FromStr for ChainDigest {
    type Err = kya_core::digest::DigestError;
    /// Reads the `u…` multibase form or `0x` + 64 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<CredentialDigest>().map(|d| Self(d.0))
    }
}

impl fmt::Display for ChainDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_multibase())
    }
}

impl fmt::Debug for ChainDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainDigest({})", self.to_multibase())
    }
}

impl Serialize for ChainDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_multibase())
    }
}

/// What the registry said about a link's registered subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationFacts {
    /// The identity record.
    pub record: AgentRecord,
    /// The reputation among the policy's trusted raters, if any count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reputation: Option<ReputationSummary>,
}

/// One verified link of a chain: the credential's typed content ([`Link`]: an authorisation
/// or a delegation), its name, and what the registry said of its subject. Only verification
/// makes one (from a [`kya_core::credential::VerifiedCredential`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ChainLink {
    pub(crate) link: Link,
    pub(crate) digest: CredentialDigest,
    pub(crate) created: Option<Timestamp>,
    pub(crate) registry: Option<RegistrationFacts>,
}

impl ChainLink {
    /// The link's content.
    pub fn link(&self) -> &Link {
        &self.link
    }
    /// The credential id.
    pub fn id(&self) -> &str {
        self.link.id()
    }
    /// SHA-256 of the credential's JCS bytes (all signed): its one name.
    pub fn digest(&self) -> CredentialDigest {
        self.digest
    }
    /// `AgentAuthorization` or `AgentDelegation`.
    pub fn kind(&self) -> &'static str {
        self.link.type_name()
    }
    /// The issuer (the principal for the root, the parent's subject otherwise).
    pub fn issuer(&self) -> Did {
        self.link.issuer()
    }
    /// The agent the link authorises.
    pub fn subject(&self) -> &DidKey {
        self.link.subject()
    }
    /// Start of validity.
    pub fn valid_from(&self) -> Timestamp {
        self.link.valid_from()
    }
    /// End of validity.
    pub fn valid_until(&self) -> Timestamp {
        self.link.valid_until()
    }
    /// The proof's `created`, if given.
    pub fn created(&self) -> Option<Timestamp> {
        self.created
    }
    /// The link's grants.
    pub fn grants(&self) -> &[Grant] {
        self.link.grants()
    }
    /// The subject's on-chain registration, if the link names one.
    pub fn registration(&self) -> Option<&AgentRegistration> {
        self.link.registration()
    }
    /// What the registry said of the subject, when it is registered and a view was given.
    pub fn registry_facts(&self) -> Option<&RegistrationFacts> {
        self.registry.as_ref()
    }
}

impl Serialize for ChainLink {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", self.id())?;
        m.serialize_entry("digest", &self.digest)?;
        m.serialize_entry("type", self.kind())?;
        m.serialize_entry("issuer", &self.issuer())?;
        m.serialize_entry("subject", self.subject())?;
        m.serialize_entry("validFrom", &self.valid_from())?;
        m.serialize_entry("validUntil", &self.valid_until())?;
        if let Some(created) = self.created {
            m.serialize_entry("created", &created)?;
        }
        m.serialize_entry("grants", self.grants())?;
        if let Some(r) = self.registration() {
            m.serialize_entry("registration", r)?;
        }
        if let Some(f) = &self.registry {
            m.serialize_entry("registry", f)?;
        }
        m.end()
    }
}

/// What a verified presentation (or signed request) added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresentationFacts {
    /// The audience it was made for (`domain`).
    pub audience: String,
    /// The nonce (`challenge`).
    pub nonce: String,
    /// When it was made.
    pub created: Timestamp,
    /// When it expires.
    pub expires: Timestamp,
}

#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AgentInner {
    pub(crate) agent: DidKey,
    pub(crate) principal: Did,
    pub(crate) chain_digest: ChainDigest,
    pub(crate) chain: Vec<ChainLink>,
    pub(crate) valid_from: Timestamp,
    pub(crate) valid_until: Timestamp,
    pub(crate) verified_at: Timestamp,
    pub(crate) registry_checked: bool,
    #[serde(skip)]
    pub(crate) skew: i64,
    /// The root proof's key and how the root issuer controls it: what a cache hit asks the
    /// registry again (a wallet principal's key is judged now, every time).
    #[serde(skip)]
    pub(crate) root_signer: (kya_core::PublicKey, kya_core::credential::IssuerBinding),
    #[serde(skip)]
    pub(crate) keyid: AgentKeyId,
}

/// The agent key's RFC 7638 JWK thumbprint, the `keyid` each signed request by the agent
/// names: computed at its first use and kept, since every cached request compares with it.
/// A function of the agent key, so it takes no part in comparisons.
#[derive(Debug, Default)]
pub(crate) struct AgentKeyId(std::sync::OnceLock<String>);

impl AgentKeyId {
    /// The thumbprint of `agent` (the key this belongs to).
    pub(crate) fn of(&self, agent: &kya_core::PublicKey) -> &str {
        self.0.get_or_init(|| crate::http::jwk_thumbprint(agent))
    }
}

impl PartialEq for AgentKeyId {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// An agent whose credential chain verified: who it is, which principal it represents and
/// through which chain, what it may do, and until when this holds.
///
/// Only verification produces one (its fields are private and it has no public
/// constructor). Cloning is cheap (the chain is shared).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAgent {
    pub(crate) inner: Arc<AgentInner>,
    pub(crate) presentation: Option<PresentationFacts>,
}

impl VerifiedAgent {
    /// The agent (the chain leaf's subject).
    pub fn agent(&self) -> &DidKey {
        &self.inner.agent
    }

    /// The principal the agent represents (the root issuer).
    pub fn principal(&self) -> &Did {
        &self.inner.principal
    }

    /// The chain, root first.
    pub fn chain(&self) -> &[ChainLink] {
        &self.inner.chain
    }

    /// The name of the chain (see [`ChainDigest`]).
    pub fn chain_digest(&self) -> ChainDigest {
        self.inner.chain_digest
    }

    /// The effective grants: the leaf's, each a narrowing of a grant of every ancestor.
    /// Decisions still check every link ([`decide`](Self::decide)).
    pub fn effective_grants(&self) -> &[Grant] {
        self.inner.chain.last().map_or(&[], |l| l.grants())
    }

    /// The leaf's registration facts, when the leaf names a registration and a registry view
    /// was given.
    pub fn registration(&self) -> Option<&RegistrationFacts> {
        self.inner.chain.last().and_then(|l| l.registry.as_ref())
    }

    /// Whether a registry view was consulted.
    pub fn registry_checked(&self) -> bool {
        self.inner.registry_checked
    }

    /// The latest `validFrom` over the chain.
    pub fn valid_from(&self) -> Timestamp {
        self.inner.valid_from
    }

    /// The instant until which the result holds: the earliest `validUntil` over the chain,
    /// and the presentation's `expires` when there is one.
    pub fn valid_until(&self) -> Timestamp {
        match &self.presentation {
            Some(p) => p.expires.min(self.inner.valid_until),
            None => self.inner.valid_until,
        }
    }

    /// When the chain was verified.
    pub fn verified_at(&self) -> Timestamp {
        self.inner.verified_at
    }

    /// The presentation's facts, when the agent was verified through one.
    pub fn presentation(&self) -> Option<&PresentationFacts> {
        self.presentation.as_ref()
    }

    /// The clock skew the result was verified with, in seconds.
    pub(crate) fn skew(&self) -> i64 {
        self.inner.skew
    }
}

impl Serialize for VerifiedAgent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("VerifiedAgent", 11)?;
        st.serialize_field("agent", &self.inner.agent)?;
        st.serialize_field("principal", &self.inner.principal)?;
        st.serialize_field("chainDigest", &self.inner.chain_digest)?;
        st.serialize_field("chain", &self.inner.chain)?;
        st.serialize_field("effectiveGrants", self.effective_grants())?;
        st.serialize_field("validFrom", &self.inner.valid_from)?;
        st.serialize_field("validUntil", &self.valid_until())?;
        st.serialize_field("verifiedAt", &self.inner.verified_at)?;
        st.serialize_field("registryChecked", &self.inner.registry_checked)?;
        st.serialize_field("registration", &self.registration())?;
        st.serialize_field("presentation", &self.presentation)?;
        st.end()
    }
}
