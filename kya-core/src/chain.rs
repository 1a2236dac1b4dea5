//! Delegation chains, typed. A chain is an agent authorisation (principal → agent) followed
//! by delegations (agent → sub-agent), each issued by its parent's subject and naming its
//! parent by id and digest.
//!
//! Agent frameworks build a [`Chain`] from the verified credentials they hold
//! ([`Chain::new`], [`Chain::push`]) rather than assembling JSON arrays by hand; its
//! [`to_value`](Chain::to_value) is the JSON array every kya verifier reads (root first). A
//! [`Link`] is one link's content: an authorisation or a delegation, so an always-present
//! `validUntil` is a fact of the type.

use serde_json::Value;

use crate::credential::{
    AgentAuthorization, AgentDelegation, AgentRegistration, CredentialKind, VerifiedCredential,
};
use crate::did::{Did, DidKey};
use crate::grant::Grant;
use crate::timestamp::Timestamp;

/// One link of a chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// The root: principal → agent.
    Authorization(AgentAuthorization),
    /// Every later link: agent → sub-agent.
    Delegation(AgentDelegation),
}

impl Link {
    /// The link's kind as a credential kind, if it can be a link (a reputation attestation
    /// cannot).
    pub fn from_kind(kind: CredentialKind) -> Option<Self> {
        match kind {
            CredentialKind::Authorization(a) => Some(Self::Authorization(a)),
            CredentialKind::Delegation(d) => Some(Self::Delegation(d)),
            _ => None,
        }
    }

    /// The credential id.
    pub fn id(&self) -> &str {
        match self {
            Self::Authorization(c) => &c.id,
            Self::Delegation(c) => &c.id,
        }
    }

    /// The issuer.
    pub fn issuer(&self) -> Did {
        match self {
            Self::Authorization(c) => c.issuer,
            Self::Delegation(c) => Did::Key(c.issuer),
        }
    }

    /// The agent the link authorises.
    pub fn subject(&self) -> &DidKey {
        match self {
            Self::Authorization(c) => &c.agent,
            Self::Delegation(c) => &c.agent,
        }
    }

    /// Start of validity.
    pub fn valid_from(&self) -> Timestamp {
        match self {
            Self::Authorization(c) => c.valid_from,
            Self::Delegation(c) => c.valid_from,
        }
    }

    /// End of validity (every link has one).
    pub fn valid_until(&self) -> Timestamp {
        match self {
            Self::Authorization(c) => c.valid_until,
            Self::Delegation(c) => c.valid_until,
        }
    }

    /// What the subject may do.
    pub fn grants(&self) -> &[Grant] {
        match self {
            Self::Authorization(c) => &c.grants,
            Self::Delegation(c) => &c.grants,
        }
    }

    /// The subject's on-chain registration, if given.
    pub fn registration(&self) -> Option<&AgentRegistration> {
        match self {
            Self::Authorization(c) => c.registration.as_ref(),
            Self::Delegation(c) => c.registration.as_ref(),
        }
    }

    /// Its `credentialStatus` entries.
    pub fn status(&self) -> &[crate::status::StatusEntry] {
        match self {
            Self::Authorization(c) => &c.status,
            Self::Delegation(c) => &c.status,
        }
    }

    /// The `type` name (`AgentAuthorization`, `AgentDelegation`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Authorization(_) => crate::credential::AGENT_AUTHORIZATION,
            Self::Delegation(_) => crate::credential::AGENT_DELEGATION,
        }
    }
}

/// Why credentials do not make a chain.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainError {
    /// A chain starts with an agent authorisation.
    #[error("a chain starts with an AgentAuthorization, not a {found}")]
    NotAnAuthorization {
        /// The kind found.
        found: &'static str,
    },
    /// Every later link is a delegation.
    #[error("every link after the root is an AgentDelegation, not a {found}")]
    NotADelegation {
        /// The kind found.
        found: &'static str,
    },
    /// The delegation is not the leaf's: another issuer, or another parent.
    #[error(
        "the delegation {id} does not continue the chain: it must be issued by {leaf_subject} and name its credential {leaf_id}"
    )]
    DoesNotContinue {
        /// The delegation's id.
        id: String,
        /// The chain leaf's subject.
        leaf_subject: String,
        /// The chain leaf's id.
        leaf_id: String,
    },
}

/// A chain of verified credentials, root first, each link continuing the previous one.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    links: Vec<VerifiedCredential>,
}

impl Chain {
    /// A chain of one: the principal's authorisation of an agent.
    pub fn new(root: VerifiedCredential) -> Result<Self, ChainError> {
        match root.kind() {
            CredentialKind::Authorization(_) => Ok(Self { links: vec![root] }),
            other => Err(ChainError::NotAnAuthorization {
                found: other.type_name(),
            }),
        }
    }

    /// Appends a delegation by the leaf's subject that names the leaf as its parent.
    pub fn push(&mut self, delegation: VerifiedCredential) -> Result<(), ChainError> {
        let leaf = self.leaf();
        let CredentialKind::Delegation(d) = delegation.kind() else {
            return Err(ChainError::NotADelegation {
                found: delegation.kind().type_name(),
            });
        };
        if d.issuer != *leaf.kind().subject()
            || d.parent.id != leaf.id()
            || d.parent.digest != leaf.digest()
        {
            return Err(ChainError::DoesNotContinue {
                id: d.id.chars().take(200).collect(),
                leaf_subject: leaf.kind().subject().to_string(),
                leaf_id: leaf.id().chars().take(200).collect(),
            });
        }
        self.links.push(delegation);
        Ok(())
    }

    /// The links, root first.
    pub fn links(&self) -> &[VerifiedCredential] {
        &self.links
    }

    /// The last link (the acting agent's credential).
    pub fn leaf(&self) -> &VerifiedCredential {
        // A chain is never empty: `new` makes one link and nothing removes any.
        &self.links[self.links.len() - 1]
    }

    /// The acting agent (the leaf's subject).
    pub fn agent(&self) -> &DidKey {
        self.leaf().kind().subject()
    }

    /// The credential documents, root first.
    pub fn documents(&self) -> Vec<Value> {
        self.links.iter().map(|c| c.document().clone()).collect()
    }

    /// The chain as the JSON array verifiers read.
    pub fn to_value(&self) -> Value {
        Value::Array(self.documents())
    }
}
