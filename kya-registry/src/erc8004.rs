//! Read-only access to any ERC-8004 deployment (identity + reputation registries), through
//! the ERC-8004 functions and events only — so kya reads agents registered elsewhere.

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use kya_verify::{Feedback, ReputationSummary};
use serde::Serialize;

use crate::bindings::erc8004::IErc8004Identity::{self, IErc8004IdentityInstance, Registered};
use crate::bindings::erc8004::IErc8004Reputation::{self, IErc8004ReputationInstance};
use crate::error::{RegistryError, Result};

/// An agent's ERC-8004 identity record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Erc8004Agent {
    /// The agent id (ERC-721 token id).
    pub agent_id: U256,
    /// The token owner.
    pub owner: Address,
    /// The agent URI (`tokenURI`).
    #[serde(rename = "agentURI")]
    pub uri: String,
    /// The verified agent wallet, if set.
    pub wallet: Option<Address>,
}

/// A read-only client of an ERC-8004 identity + reputation registry pair.
#[derive(Debug, Clone)]
pub struct Erc8004Registry {
    provider: DynProvider,
    chain_id: u64,
    identity: IErc8004IdentityInstance<DynProvider>,
    reputation: IErc8004ReputationInstance<DynProvider>,
}

impl Erc8004Registry {
    /// A reader of the registries at `identity` / `reputation` (asks the node for the chain
    /// id).
    pub async fn at(provider: DynProvider, identity: Address, reputation: Address) -> Result<Self> {
        let chain_id = provider.get_chain_id().await?;
        Ok(Self::from_parts(provider, chain_id, identity, reputation))
    }

    pub(crate) fn from_parts(
        provider: DynProvider,
        chain_id: u64,
        identity: Address,
        reputation: Address,
    ) -> Self {
        Self {
            identity: IErc8004Identity::new(identity, provider.clone()),
            reputation: IErc8004Reputation::new(reputation, provider.clone()),
            provider,
            chain_id,
        }
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The identity registry address.
    pub fn identity_address(&self) -> Address {
        *self.identity.address()
    }

    /// The reputation registry address.
    pub fn reputation_address(&self) -> Address {
        *self.reputation.address()
    }

    /// The agent's owner, URI and wallet (reverts with `ERC721NonexistentToken` for an
    /// unknown agent).
    pub async fn agent(&self, agent_id: U256) -> Result<Erc8004Agent> {
        let owner = self.identity.ownerOf(agent_id).call().await?;
        let uri = self.identity.tokenURI(agent_id).call().await?;
        let wallet = self.metadata(agent_id, "agentWallet").await?;
        let wallet = (wallet.len() == 20)
            .then(|| Address::from_slice(&wallet))
            .filter(|a| !a.is_zero());
        Ok(Erc8004Agent {
            agent_id,
            owner,
            uri,
            wallet,
        })
    }

    /// Metadata `key` of the agent (empty if unset).
    pub async fn metadata(&self, agent_id: U256, key: &str) -> Result<Bytes> {
        Ok(self
            .identity
            .getMetadata(agent_id, key.to_owned())
            .call()
            .await?)
    }

    /// Every `Registered` event from block `from_block` on: (agent id, owner at registration,
    /// URI at registration), in chain order.
    pub async fn registered_agents(&self, from_block: u64) -> Result<Vec<(U256, Address, String)>> {
        let filter = Filter::new()
            .address(self.identity_address())
            .event_signature(Registered::SIGNATURE_HASH)
            .from_block(from_block);
        let logs = self.provider.get_logs(&filter).await?;
        logs.iter()
            .map(|l| {
                Registered::decode_log(&l.inner)
                    .map(|e| (e.data.agentId, e.data.owner, e.data.agentURI))
                    .map_err(|source| RegistryError::Log {
                        event: "Registered",
                        source,
                    })
            })
            .collect()
    }

    /// The reputation summary of the agent over `raters` (non-empty), filtered by tags
    /// (empty = any), as the contract computes it.
    pub async fn summary(
        &self,
        agent_id: U256,
        raters: &[Address],
        tag1: &str,
        tag2: &str,
    ) -> Result<ReputationSummary> {
        let s = self
            .reputation
            .getSummary(agent_id, raters.to_vec(), tag1.to_owned(), tag2.to_owned())
            .call()
            .await?;
        Ok(ReputationSummary {
            count: s.count,
            average: s.summaryValue,
            value_decimals: s.summaryValueDecimals,
        })
    }

    /// Number of feedback entries `client` gave the agent (its last index).
    pub async fn last_index(&self, agent_id: U256, client: Address) -> Result<u64> {
        Ok(self
            .reputation
            .getLastIndex(agent_id, client)
            .call()
            .await?)
    }

    /// One feedback entry (1-based index).
    pub async fn read_feedback(
        &self,
        agent_id: U256,
        client: Address,
        index: u64,
    ) -> Result<Feedback> {
        let f = self
            .reputation
            .readFeedback(agent_id, client, index)
            .call()
            .await?;
        Ok(Feedback {
            client: client.into_array(),
            index,
            value: f.value,
            value_decimals: f.valueDecimals,
            tag1: f.tag1,
            tag2: f.tag2,
            revoked: f.isRevoked,
        })
    }

    /// Every rater that ever gave feedback to the agent.
    pub async fn clients(&self, agent_id: U256) -> Result<Vec<Address>> {
        Ok(self.reputation.getClients(agent_id).call().await?)
    }
}
