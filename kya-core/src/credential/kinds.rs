//! The three kya credential kinds, their JSON forms and their builders.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{CredentialError, KYA_V1_CONTEXT, VC_V2_CONTEXT, VerifiedCredential, is_url};
use crate::did::{Did, DidKey};
use crate::digest::CredentialDigest;
use crate::grant::{Grant, GrantSet};
use crate::key::Ed25519Signer;
use crate::status::StatusEntry;
use crate::timestamp::Timestamp;

/// `type` of an agent authorisation (principal → agent).
pub const AGENT_AUTHORIZATION: &str = "AgentAuthorization";
/// `type` of a delegation (agent → sub-agent).
pub const AGENT_DELEGATION: &str = "AgentDelegation";
/// `type` of a reputation attestation (rater → agent).
pub const AGENT_REPUTATION: &str = "AgentReputationAttestation";

/// A registry contract on an EVM chain, written `eip155:<chain id>:<address>` (CAIP-10), as
/// ERC-8004 names its `agentRegistry`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegistryAddress {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Contract address.
    pub address: [u8; 20],
}

impl FromStr for RegistryAddress {
    type Err = CredentialError;
    fn from_str(s: &str) -> Result<Self, CredentialError> {
        // Same grammar and checksum rules as the account part of a did:pkh.
        let pkh: crate::did::DidPkh = format!("did:pkh:{s}").parse().map_err(|_| {
            CredentialError::Kya(format!(
                "`{}` is not an eip155:<chain id>:<address> registry",
                s.chars().take(100).collect::<String>()
            ))
        })?;
        Ok(Self {
            chain_id: pkh.chain_id(),
            address: pkh.address(),
        })
    }
}

impl fmt::Display for RegistryAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pkh = crate::did::DidPkh::new(self.chain_id, self.address);
        write!(f, "eip155:{}:{}", self.chain_id, pkh.checksummed_address())
    }
}

impl fmt::Debug for RegistryAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegistryAddress({self})")
    }
}

/// An ERC-8004 agent id (`uint256`), kept as its canonical decimal string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(String);

impl AgentId {
    /// The decimal digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<u64> for AgentId {
    fn from(n: u64) -> Self {
        Self(n.to_string())
    }
}

impl FromStr for AgentId {
    type Err = CredentialError;
    fn from_str(s: &str) -> Result<Self, CredentialError> {
        // 78 digits hold any uint256; the exact bound is checked where it is converted.
        let ok = !s.is_empty()
            && s.len() <= 78
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(CredentialError::Kya(format!(
                "agentId `{}` is not a decimal uint256 without leading zeros",
                s.chars().take(100).collect::<String>()
            )))
        }
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgentId({})", self.0)
    }
}

serde_via_string!(RegistryAddress, AgentId);

/// An agent's on-chain registration (ERC-8004 identity).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentRegistration {
    /// The identity registry.
    pub agent_registry: RegistryAddress,
    /// The agent's token id there.
    pub agent_id: AgentId,
}

/// Where an agent's reputation can be read (an ERC-8004 reputation registry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReputationRef {
    /// The reputation registry.
    pub registry: RegistryAddress,
}

/// A delegation's reference to its parent credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentRef {
    /// The parent's `id`.
    pub id: String,
    /// SHA-256 of the parent's JCS bytes, as a VC 2.0 `digestMultibase`.
    #[serde(rename = "digestMultibase")]
    pub digest: CredentialDigest,
}

/// Principal → agent: "this agent acts for me, and may do this".
#[derive(Debug, Clone, PartialEq)]
pub struct AgentAuthorization {
    /// Credential id.
    pub id: String,
    /// The principal (a did:key issuing key, or a did:pkh wallet).
    pub issuer: Did,
    /// The agent.
    pub agent: DidKey,
    /// Start of validity.
    pub valid_from: Timestamp,
    /// End of validity.
    pub valid_until: Timestamp,
    /// The agent's registration, if it is registered on-chain.
    pub registration: Option<AgentRegistration>,
    /// What the agent may do.
    pub grants: Vec<Grant>,
    /// Where its reputation is kept.
    pub reputation: Vec<ReputationRef>,
    /// Where its issuer publishes its revocation or suspension (Bitstring Status List).
    pub status: Vec<StatusEntry>,
}

/// Agent → sub-agent: a narrower share of the agent's own authority.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentDelegation {
    /// Credential id.
    pub id: String,
    /// The delegating agent (the parent credential's subject).
    pub issuer: DidKey,
    /// The sub-agent.
    pub agent: DidKey,
    /// Start of validity.
    pub valid_from: Timestamp,
    /// End of validity.
    pub valid_until: Timestamp,
    /// The sub-agent's registration, if it has one.
    pub registration: Option<AgentRegistration>,
    /// What the sub-agent may do: each grant narrower than one of the parent's.
    pub grants: Vec<Grant>,
    /// The parent credential.
    pub parent: ParentRef,
    /// Where its issuer publishes its revocation or suspension (Bitstring Status List).
    pub status: Vec<StatusEntry>,
}

/// Rater → agent: a scored, tagged claim mirroring ERC-8004 feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct ReputationAttestation {
    /// Credential id.
    pub id: String,
    /// The rater.
    pub issuer: Did,
    /// The agent rated.
    pub agent: DidKey,
    /// Start of validity.
    pub valid_from: Timestamp,
    /// End of validity, if any.
    pub valid_until: Option<Timestamp>,
    /// The agent's registration, if it has one.
    pub registration: Option<AgentRegistration>,
    /// The score as a fixed-point integer (ERC-8004 `int128 value`).
    pub value: i128,
    /// Decimal places of `value` (0–18).
    pub value_decimals: u8,
    /// First tag (ERC-8004 `tag1`).
    pub tag1: String,
    /// Second tag (ERC-8004 `tag2`).
    pub tag2: String,
    /// The endpoint the feedback is about, if any.
    pub endpoint: Option<String>,
    /// Where its issuer publishes its revocation or suspension (Bitstring Status List).
    pub status: Vec<StatusEntry>,
}

/// A kya credential's content, by kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CredentialKind {
    /// Principal → agent.
    Authorization(AgentAuthorization),
    /// Agent → sub-agent.
    Delegation(AgentDelegation),
    /// Rater → agent.
    Reputation(ReputationAttestation),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectJson {
    id: DidKey,
    #[serde(default)]
    registration: Option<AgentRegistration>,
    #[serde(default)]
    reputation: Vec<ReputationRef>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_decimals: Option<u8>,
    #[serde(default)]
    tag1: Option<String>,
    #[serde(default)]
    tag2: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
}

impl CredentialKind {
    /// The credential id.
    pub fn id(&self) -> &str {
        match self {
            Self::Authorization(c) => &c.id,
            Self::Delegation(c) => &c.id,
            Self::Reputation(c) => &c.id,
        }
    }

    /// The issuer.
    pub fn issuer(&self) -> Did {
        match self {
            Self::Authorization(c) => c.issuer,
            Self::Delegation(c) => Did::Key(c.issuer),
            Self::Reputation(c) => c.issuer,
        }
    }

    /// The agent the credential is about.
    pub fn subject(&self) -> &DidKey {
        match self {
            Self::Authorization(c) => &c.agent,
            Self::Delegation(c) => &c.agent,
            Self::Reputation(c) => &c.agent,
        }
    }

    /// Start of validity.
    pub fn valid_from(&self) -> Timestamp {
        match self {
            Self::Authorization(c) => c.valid_from,
            Self::Delegation(c) => c.valid_from,
            Self::Reputation(c) => c.valid_from,
        }
    }

    /// End of validity, if bounded.
    pub fn valid_until(&self) -> Option<Timestamp> {
        match self {
            Self::Authorization(c) => Some(c.valid_until),
            Self::Delegation(c) => Some(c.valid_until),
            Self::Reputation(c) => c.valid_until,
        }
    }

    /// The grants, for authorisations and delegations.
    pub fn grants(&self) -> &[Grant] {
        match self {
            Self::Authorization(c) => &c.grants,
            Self::Delegation(c) => &c.grants,
            Self::Reputation(_) => &[],
        }
    }

    /// The subject's on-chain registration, if given.
    pub fn registration(&self) -> Option<&AgentRegistration> {
        match self {
            Self::Authorization(c) => c.registration.as_ref(),
            Self::Delegation(c) => c.registration.as_ref(),
            Self::Reputation(c) => c.registration.as_ref(),
        }
    }

    /// Its `credentialStatus` entries.
    pub fn status(&self) -> &[StatusEntry] {
        match self {
            Self::Authorization(c) => &c.status,
            Self::Delegation(c) => &c.status,
            Self::Reputation(c) => &c.status,
        }
    }

    /// The kind's `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Authorization(_) => AGENT_AUTHORIZATION,
            Self::Delegation(_) => AGENT_DELEGATION,
            Self::Reputation(_) => AGENT_REPUTATION,
        }
    }

    pub(super) fn from_document(doc: &Map<String, Value>) -> Result<Self, CredentialError> {
        let kya = |m: String| CredentialError::Kya(m);
        let has_kya_context = doc
            .get("@context")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c == KYA_V1_CONTEXT));
        if !has_kya_context {
            return Err(kya(format!("@context must include {KYA_V1_CONTEXT}")));
        }
        let types: Vec<&str> = match doc.get("type") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        };
        let kinds: Vec<&str> = [AGENT_AUTHORIZATION, AGENT_DELEGATION, AGENT_REPUTATION]
            .into_iter()
            .filter(|k| types.contains(k))
            .collect();
        let kind = match kinds.as_slice() {
            [one] => *one,
            [] => {
                return Err(kya(format!(
                    "type must include one of {AGENT_AUTHORIZATION}, {AGENT_DELEGATION}, {AGENT_REPUTATION}"
                )));
            }
            _ => return Err(kya("type names more than one kya credential kind".into())),
        };
        let id = match doc.get("id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => return Err(kya("a kya credential needs an id".into())),
        };
        let issuer_id = match doc.get("issuer") {
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).unwrap_or_default(),
            _ => "",
        };
        let issuer: Did = issuer_id.parse().map_err(|e| kya(format!("issuer: {e}")))?;
        let subject_value = match doc.get("credentialSubject") {
            Some(v @ Value::Object(_)) => v,
            _ => return Err(kya("credentialSubject must be a single object".into())),
        };
        // Read from the borrowed value: no copy of the subject, and each grant read from its
        // own value (`Grant`'s serde path would first copy it into a new one).
        let subject = SubjectJson::deserialize(subject_value)
            .map_err(|e| kya(format!("credentialSubject: {e}")))?;
        let grants =
            subject_grants(subject_value).map_err(|e| kya(format!("credentialSubject: {e}")))?;
        let time = |p: &str| -> Result<Option<Timestamp>, CredentialError> {
            doc.get(p)
                .and_then(Value::as_str)
                .map(|s| s.parse().map_err(|e| kya(format!("{p}: {e}"))))
                .transpose()
        };
        let valid_from = time("validFrom")?.ok_or_else(|| kya("validFrom is required".into()))?;
        let status =
            StatusEntry::parse_all(doc.get("credentialStatus")).map_err(|e| kya(e.to_string()))?;
        let valid_until = time("validUntil")?;
        let bounded = || valid_until.ok_or_else(|| kya(format!("a {kind} needs validUntil")));
        let grants =
            move || grants.ok_or_else(|| kya(format!("a {kind} needs credentialSubject.grants")));
        match kind {
            AGENT_AUTHORIZATION => Ok(Self::Authorization(AgentAuthorization {
                id,
                issuer,
                agent: subject.id,
                valid_from,
                valid_until: bounded()?,
                registration: subject.registration,
                grants: grants()?,
                reputation: subject.reputation,
                status,
            })),
            AGENT_DELEGATION => {
                let Did::Key(issuer) = issuer else {
                    return Err(kya(
                        "a delegation's issuer must be the delegating agent's did:key".into(),
                    ));
                };
                let parent = doc
                    .get("parentCredential")
                    .ok_or_else(|| kya("a delegation needs parentCredential".into()))
                    .and_then(|v| {
                        ParentRef::deserialize(v).map_err(|e| kya(format!("parentCredential: {e}")))
                    })?;
                if !is_url(&parent.id) {
                    return Err(kya("parentCredential.id must be a url".into()));
                }
                Ok(Self::Delegation(AgentDelegation {
                    id,
                    issuer,
                    agent: subject.id,
                    valid_from,
                    valid_until: bounded()?,
                    registration: subject.registration,
                    grants: grants()?,
                    parent,
                    status,
                }))
            }
            _ => {
                let value = subject.value.as_deref().ok_or_else(|| {
                    kya("a reputation attestation needs credentialSubject.value".into())
                })?;
                let value = parse_i128(value).ok_or_else(|| {
                    kya(format!("value `{value}` is not a decimal int128 string"))
                })?;
                let value_decimals = subject.value_decimals.unwrap_or(0);
                if value_decimals > 18 {
                    return Err(kya(format!("valueDecimals {value_decimals} is over 18")));
                }
                Ok(Self::Reputation(ReputationAttestation {
                    id,
                    issuer,
                    agent: subject.id,
                    valid_from,
                    valid_until,
                    registration: subject.registration,
                    value,
                    value_decimals,
                    tag1: subject.tag1.unwrap_or_default(),
                    tag2: subject.tag2.unwrap_or_default(),
                    endpoint: subject.endpoint,
                    status,
                }))
            }
        }
    }
}

/// `credentialSubject.grants`: absent or null is `None`; otherwise an array of grants.
fn subject_grants(subject: &Value) -> Result<Option<Vec<Grant>>, String> {
    match subject.get("grants") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            // Exactly as many slots as grants: a verified chain keeps them (in a cache, for
            // as long as it is cached), and a collected `Result` would over-allocate.
            let mut grants = Vec::with_capacity(items.len());
            for item in items {
                grants.push(Grant::from_json_value(item).map_err(|e| e.to_string())?);
            }
            Ok(Some(grants))
        }
        Some(_) => Err("grants must be an array of grants".to_owned()),
    }
}

fn parse_i128(s: &str) -> Option<i128> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if canonical { s.parse().ok() } else { None }
}

/// A fresh `urn:uuid:` (version 4) credential id.
pub fn new_credential_id() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Builds an unsigned authorisation or delegation document, then signs it.
#[derive(Debug, Clone)]
pub struct CredentialBuilder {
    kind: &'static str,
    id: Option<String>,
    issuer: Did,
    agent: DidKey,
    valid_from: Option<Timestamp>,
    valid_until: Option<Timestamp>,
    registration: Option<AgentRegistration>,
    grants: Vec<Grant>,
    reputation: Vec<ReputationRef>,
    status: Vec<StatusEntry>,
    parent: Option<(ParentRef, Vec<Grant>, Timestamp, Option<Timestamp>)>,
}

impl AgentAuthorization {
    /// Starts an authorisation of `agent` by `principal`.
    pub fn builder(principal: Did, agent: DidKey) -> CredentialBuilder {
        CredentialBuilder {
            kind: AGENT_AUTHORIZATION,
            id: None,
            issuer: principal,
            agent,
            valid_from: None,
            valid_until: None,
            registration: None,
            grants: Vec::new(),
            reputation: Vec::new(),
            status: Vec::new(),
            parent: None,
        }
    }
}

impl AgentDelegation {
    /// Starts a delegation from the subject of `parent` (an authorisation or a delegation) to
    /// `sub_agent`. Validity defaults to the parent's; [`CredentialBuilder::build`] refuses
    /// any grant or window wider than the parent's.
    pub fn builder(
        parent: &VerifiedCredential,
        sub_agent: DidKey,
    ) -> Result<CredentialBuilder, CredentialError> {
        let kind = parent.kind();
        if matches!(kind, CredentialKind::Reputation(_)) {
            return Err(CredentialError::Kya(
                "a reputation attestation cannot be delegated".into(),
            ));
        }
        Ok(CredentialBuilder {
            kind: AGENT_DELEGATION,
            id: None,
            issuer: Did::Key(*kind.subject()),
            agent: sub_agent,
            valid_from: Some(kind.valid_from()),
            valid_until: kind.valid_until(),
            registration: None,
            grants: Vec::new(),
            reputation: Vec::new(),
            status: Vec::new(),
            parent: Some((
                ParentRef {
                    id: kind.id().to_owned(),
                    digest: parent.digest(),
                },
                kind.grants().to_vec(),
                kind.valid_from(),
                kind.valid_until(),
            )),
        })
    }
}

impl CredentialBuilder {
    /// Sets the credential id (default: a fresh `urn:uuid:`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    /// Sets `validFrom`.
    pub fn valid_from(mut self, t: Timestamp) -> Self {
        self.valid_from = Some(t);
        self
    }
    /// Sets `validUntil`.
    pub fn valid_until(mut self, t: Timestamp) -> Self {
        self.valid_until = Some(t);
        self
    }
    /// Names the subject's on-chain registration.
    pub fn registration(mut self, r: AgentRegistration) -> Self {
        self.registration = Some(r);
        self
    }
    /// Adds a grant.
    pub fn grant(mut self, g: Grant) -> Self {
        self.grants.push(g);
        self
    }
    /// Adds grants.
    pub fn grants(mut self, g: impl IntoIterator<Item = Grant>) -> Self {
        self.grants.extend(g);
        self
    }
    /// Names a reputation registry (authorisations only).
    pub fn reputation(mut self, r: ReputationRef) -> Self {
        self.reputation.push(r);
        self
    }
    /// Adds a `credentialStatus` entry: the issuer can then revoke or suspend the credential
    /// by setting its bit in the status list (see [`crate::status`]).
    pub fn status(mut self, entry: StatusEntry) -> Self {
        self.status.push(entry);
        self
    }

    /// The unsigned VC 2.0 document. For a delegation, refuses a grant or a validity window
    /// wider than the parent's.
    pub fn build(&self) -> Result<Value, CredentialError> {
        let valid_from = self
            .valid_from
            .ok_or_else(|| CredentialError::Kya("validFrom is required".into()))?;
        let valid_until = self
            .valid_until
            .ok_or_else(|| CredentialError::Kya("validUntil is required".into()))?;
        if valid_from > valid_until {
            return Err(CredentialError::InvertedValidity {
                valid_from,
                valid_until,
            });
        }
        if self.grants.is_empty() {
            return Err(CredentialError::Kya(
                "at least one grant is required".into(),
            ));
        }
        if let Some((_, parent_grants, parent_from, parent_until)) = &self.parent {
            if valid_from < *parent_from || parent_until.is_some_and(|u| valid_until > u) {
                return Err(CredentialError::OutsideParentValidity {
                    valid_from,
                    valid_until,
                    parent_from: *parent_from,
                    parent_until: *parent_until,
                });
            }
            GrantSet(&self.grants)
                .attenuates(parent_grants)
                .map_err(|w| CredentialError::WidensParent(Box::new(w)))?;
        }
        let mut subject = Map::new();
        subject.insert("id".into(), self.agent.to_string().into());
        if let Some(r) = &self.registration {
            subject.insert("registration".into(), to_value(r)?);
        }
        subject.insert("grants".into(), to_value(&self.grants)?);
        if !self.reputation.is_empty() {
            subject.insert("reputation".into(), to_value(&self.reputation)?);
        }
        let mut doc = json!({
            "@context": [VC_V2_CONTEXT, KYA_V1_CONTEXT],
            "id": self.id.clone().unwrap_or_else(new_credential_id),
            "type": ["VerifiableCredential", self.kind],
            "issuer": self.issuer.to_string(),
            "validFrom": valid_from.to_string(),
            "validUntil": valid_until.to_string(),
            "credentialSubject": subject,
        });
        if let Some((parent, ..)) = &self.parent {
            doc["parentCredential"] = to_value(parent)?;
        }
        add_status(&mut doc, &self.status);
        Ok(doc)
    }

    /// Builds and signs with an `assertionMethod` proof created at `created`.
    ///
    /// Refuses, before any signing, a key that cannot issue this credential: for a delegation
    /// anything but the parent credential's subject key
    /// ([`CredentialError::DelegatorNotSubject`]), for a `did:key` issuer anything but that
    /// key ([`CredentialError::WrongSigner`]).
    pub fn sign(
        &self,
        signer: &dyn Ed25519Signer,
        created: Timestamp,
    ) -> Result<VerifiedCredential, CredentialError> {
        let signer_did = DidKey::from_public_key(signer.public_key());
        match self.issuer {
            // A delegation's issuer is the parent's subject (set by `AgentDelegation::builder`).
            Did::Key(subject) if self.parent.is_some() && subject != signer_did => {
                return Err(CredentialError::DelegatorNotSubject {
                    signer: signer_did.to_string(),
                    subject: subject.to_string(),
                });
            }
            Did::Key(issuer) if issuer != signer_did => {
                return Err(CredentialError::WrongSigner {
                    signer: signer_did.to_string(),
                    issuer: issuer.to_string(),
                });
            }
            _ => {}
        }
        super::sign(self.build()?, signer, created)
    }
}

impl ReputationAttestation {
    /// The unsigned document of a reputation attestation.
    pub fn to_unsigned(&self) -> Result<Value, CredentialError> {
        let mut subject = Map::new();
        subject.insert("id".into(), self.agent.to_string().into());
        if let Some(r) = &self.registration {
            subject.insert("registration".into(), to_value(r)?);
        }
        subject.insert("value".into(), self.value.to_string().into());
        subject.insert("valueDecimals".into(), self.value_decimals.into());
        subject.insert("tag1".into(), self.tag1.clone().into());
        subject.insert("tag2".into(), self.tag2.clone().into());
        if let Some(e) = &self.endpoint {
            subject.insert("endpoint".into(), e.clone().into());
        }
        let mut doc = json!({
            "@context": [VC_V2_CONTEXT, KYA_V1_CONTEXT],
            "id": self.id,
            "type": ["VerifiableCredential", AGENT_REPUTATION],
            "issuer": self.issuer.to_string(),
            "validFrom": self.valid_from.to_string(),
            "credentialSubject": subject,
        });
        if let Some(u) = self.valid_until {
            doc["validUntil"] = u.to_string().into();
        }
        add_status(&mut doc, &self.status);
        Ok(doc)
    }
}

/// `credentialStatus`: one entry as an object, several as an array, none absent.
fn add_status(doc: &mut Value, status: &[StatusEntry]) {
    match status {
        [] => {}
        [one] => doc["credentialStatus"] = one.to_json(),
        many => doc["credentialStatus"] = many.iter().map(StatusEntry::to_json).collect(),
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, CredentialError> {
    serde_json::to_value(v).map_err(|e| CredentialError::Kya(e.to_string()))
}
