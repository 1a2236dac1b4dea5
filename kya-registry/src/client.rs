//! The typed client of the kya registry contracts: deploy, register, bind, rotate, revoke,
//! rate, and read back.

use std::path::Path;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log, TransactionReceipt};
use alloy::signers::SignerSync as _;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolEvent, SolStruct as _};
use kya_core::credential::{AgentId, AgentRegistration, RegistryAddress};
use kya_core::{CredentialDigest, PublicKey};
use kya_verify::ReputationSummary;
use serde::{Deserialize, Serialize};

use crate::bindings::IKyaIdentityRegistry::MetadataEntry;
use crate::bindings::KyaIdentityRegistry::{
    self, AgentKeyBound, KyaIdentityRegistryInstance, PrincipalKeyBound, Registered,
};
use crate::bindings::KyaLogAnchor::{self, KyaLogAnchorInstance};
use crate::bindings::KyaReputationRegistry::{self, KyaReputationRegistryInstance, NewFeedback};
use crate::bindings::KyaValidationRegistry::{self, KyaValidationRegistryInstance};
use crate::erc8004::{Erc8004Agent, Erc8004Registry};

alloy::sol! {
    /// ERC-8004's consent of a new agent wallet (EIP-712, domain `ERC8004IdentityRegistry`).
    struct AgentWalletSet {
        uint256 agentId;
        address newWallet;
        address owner;
        uint256 deadline;
    }
}

/// The identity registry's EIP-712 domain name and version (as the ERC-8004 reference's).
const WALLET_DOMAIN_NAME: &str = "ERC8004IdentityRegistry";
const WALLET_DOMAIN_VERSION: &str = "1";
/// How long a wallet's consent stays valid, in chain seconds (the contract allows 5 minutes).
const WALLET_CONSENT_SECONDS: u64 = 120;
use crate::error::{RegistryError, Result};

/// Connects to a JSON-RPC node over HTTP. With a `signer`, the provider signs and sends
/// transactions from that account (gas estimated, nonce read from the node's pending count,
/// chain id fetched); without one it is read-only.
pub fn connect_http(rpc_url: &str, signer: Option<PrivateKeySigner>) -> Result<DynProvider> {
    let url = rpc_url
        .parse()
        .map_err(|e| RegistryError::Invalid(format!("rpc url `{rpc_url}`: {e}")))?;
    let builder = ProviderBuilder::default()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id();
    Ok(match signer {
        Some(s) => builder
            .wallet(EthereumWallet::from(s))
            .connect_http(url)
            .erased(),
        None => builder.connect_http(url).erased(),
    })
}

/// Where a registry lives: the chain, the two contracts, and the block they were deployed at
/// (where a sync starts). Serialised as the `registry.json` deployment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The identity registry (ERC-8004 identity + kya bindings).
    pub identity: Address,
    /// The reputation registry (ERC-8004 reputation).
    pub reputation: Address,
    /// The first block that can hold registry events (the deployment block; 0 if unknown).
    #[serde(default)]
    pub from_block: u64,
    /// The transparency-log checkpoint anchor (`KyaLogAnchor`), when deployed. Deployment
    /// files written before it existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_anchor: Option<Address>,
    /// The ERC-8004 validation registry (`KyaValidationRegistry`), when deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Address>,
}

impl Deployment {
    /// Reads a deployment file (`registry.json`).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| RegistryError::Io {
            context: format!("reading {}", path.display()),
            source,
        })?;
        // kya's one strict reader (duplicate keys, depth, size), then the typed fields.
        let value = kya_core::json::parse_strict(&bytes, kya_core::json::JsonLimits::default())
            .map_err(|e| {
                RegistryError::Invalid(format!("deployment file {}: {e}", path.display()))
            })?;
        serde_json::from_value(value).map_err(|source| RegistryError::Json {
            context: format!("deployment file {}", path.display()),
            source,
        })
    }

    /// Writes the deployment file atomically (see [`crate::write_atomic`]).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|source| RegistryError::Json {
            context: "serialising the deployment".into(),
            source,
        })?;
        json.push(b'\n');
        crate::write_atomic(path, &json)
    }

    /// The identity registry as a CAIP-10 `eip155:<chain>:<address>` (a credential's
    /// `agentRegistry`).
    pub fn agent_registry(&self) -> RegistryAddress {
        RegistryAddress {
            chain_id: self.chain_id,
            address: self.identity.into_array(),
        }
    }

    /// The reputation registry as a CAIP-10 address.
    pub fn reputation_registry(&self) -> RegistryAddress {
        RegistryAddress {
            chain_id: self.chain_id,
            address: self.reputation.into_array(),
        }
    }

    /// The registration of `agent_id` in this deployment, as a credential names it.
    pub fn registration(&self, agent_id: U256) -> AgentRegistration {
        AgentRegistration {
            agent_registry: self.agent_registry(),
            agent_id: agent_id_of(agent_id),
        }
    }
}

/// Converts an on-chain agent id to kya's [`AgentId`] (its decimal string).
pub fn agent_id_of(id: U256) -> AgentId {
    // A U256 prints as decimal digits without leading zeros, which `AgentId` always accepts;
    // the fallback is unreachable but keeps this function total.
    id.to_string()
        .parse()
        .unwrap_or_else(|_| AgentId::from(0u64))
}

/// Converts kya's [`AgentId`] to the on-chain `uint256`.
pub fn agent_id_to_u256(id: &AgentId) -> Result<U256> {
    id.as_str()
        .parse::<U256>()
        .map_err(|e| RegistryError::Invalid(format!("agent id {id} is not a uint256: {e}")))
}

/// What a mined transaction left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TxInfo {
    /// The transaction hash.
    pub tx_hash: B256,
    /// The block it was mined in.
    pub block_number: u64,
    /// Gas it used.
    pub gas_used: u64,
}

/// A newly registered agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The agent's id (ERC-721 token id).
    pub agent_id: U256,
    /// The registering transaction (the last one, when metadata and a key took two).
    pub tx: TxInfo,
}

/// What to register: an agent URI, initial metadata, and optionally its Ed25519 key.
#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    /// The registration file URI (`agentURI`; may be empty).
    pub uri: String,
    /// Initial metadata entries (`agentWallet` is reserved).
    pub metadata: Vec<(String, Vec<u8>)>,
    /// The agent's Ed25519 key to bind at registration.
    pub key: Option<PublicKey>,
}

/// A binding period of a key, in block numbers: bound from the end of block `bound_at`
/// until the end of block `unbound_at` (exclusive); `unbound_at` is `None` while bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPeriod {
    /// The key (32 bytes; an Ed25519 public key when bound through kya).
    pub key: B256,
    /// Block of the binding.
    pub bound_at: u64,
    /// Block of the unbinding, if unbound.
    pub unbound_at: Option<u64>,
}

impl KeyPeriod {
    /// Whether the key was bound in the state at the end of block `block`.
    pub fn bound_at_block(&self, block: u64) -> bool {
        self.bound_at <= block && self.unbound_at.is_none_or(|u| block < u)
    }
}

/// An agent as read back from a kya registry: the ERC-8004 record plus its key history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    /// The ERC-8004 part: id, owner, URI, wallet.
    #[serde(flatten)]
    pub record: Erc8004Agent,
    /// Every key ever bound to the agent, in binding order.
    pub keys: Vec<KeyPeriod>,
}

/// A feedback to give (ERC-8004 `giveFeedback`).
#[derive(Debug, Clone, Default)]
pub struct NewFeedbackEntry {
    /// The score, fixed point.
    pub value: i128,
    /// Decimal places of `value` (at most 18).
    pub value_decimals: u8,
    /// First tag.
    pub tag1: String,
    /// Second tag.
    pub tag2: String,
    /// The endpoint the feedback is about (logged only).
    pub endpoint: String,
    /// A URI of a feedback file (logged only).
    pub feedback_uri: String,
    /// A hash of that file (logged only; zero if none).
    pub feedback_hash: B256,
}

/// A feedback given: its index (1-based, per agent and rater) and the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackGiven {
    /// The rater's feedback index for this agent.
    pub index: u64,
    /// The transaction.
    pub tx: TxInfo,
}

/// The typed client of a kya registry deployment (identity + reputation contracts).
///
/// Writes need a provider with a signer (see [`connect_http`]); each write waits for its
/// receipt, so send one at a time per signer. Reverts come back as
/// [`RegistryError::Contract`] with the revert decoded into the generated error types
/// ([`ContractRevert`](crate::ContractRevert)).
#[derive(Debug, Clone)]
pub struct Registry {
    provider: DynProvider,
    deployment: Deployment,
    identity: KyaIdentityRegistryInstance<DynProvider>,
    reputation: KyaReputationRegistryInstance<DynProvider>,
    pub(crate) log_anchor: Option<KyaLogAnchorInstance<DynProvider>>,
    pub(crate) validation: Option<KyaValidationRegistryInstance<DynProvider>>,
}

impl Registry {
    /// Deploys the four contracts from the provider's signer — identity, then reputation and
    /// validation pointing at it, and the checkpoint anchor — and returns the client.
    pub async fn deploy(provider: DynProvider) -> Result<Self> {
        let receipt = KyaIdentityRegistry::deploy_builder(provider.clone())
            .send()
            .await?
            .get_receipt()
            .await?;
        let identity = created(&receipt)?;
        let from_block = receipt.block_number.unwrap_or_default();
        let receipt = KyaReputationRegistry::deploy_builder(provider.clone(), identity)
            .send()
            .await?
            .get_receipt()
            .await?;
        let reputation = created(&receipt)?;
        let receipt = KyaValidationRegistry::deploy_builder(provider.clone(), identity)
            .send()
            .await?
            .get_receipt()
            .await?;
        let validation = created(&receipt)?;
        let receipt = KyaLogAnchor::deploy_builder(provider.clone())
            .send()
            .await?
            .get_receipt()
            .await?;
        let log_anchor = created(&receipt)?;
        let chain_id = provider.get_chain_id().await?;
        Ok(Self::from_deployment(
            provider,
            Deployment {
                chain_id,
                identity,
                reputation,
                from_block,
                log_anchor: Some(log_anchor),
                validation: Some(validation),
            },
        ))
    }

    /// A client for contracts already deployed at `identity` / `reputation` (asks the node
    /// for the chain id; syncs start at block 0; no anchor or validation contract — use
    /// [`Registry::from_deployment`] to set the deployment block and those).
    pub async fn at(provider: DynProvider, identity: Address, reputation: Address) -> Result<Self> {
        let chain_id = provider.get_chain_id().await?;
        Ok(Self::from_deployment(
            provider,
            Deployment {
                chain_id,
                identity,
                reputation,
                from_block: 0,
                log_anchor: None,
                validation: None,
            },
        ))
    }

    /// A client for a known deployment (e.g. read from `registry.json`).
    pub fn from_deployment(provider: DynProvider, deployment: Deployment) -> Self {
        let identity = KyaIdentityRegistry::new(deployment.identity, provider.clone());
        let reputation = KyaReputationRegistry::new(deployment.reputation, provider.clone());
        let log_anchor = deployment
            .log_anchor
            .map(|a| KyaLogAnchor::new(a, provider.clone()));
        let validation = deployment
            .validation
            .map(|a| KyaValidationRegistry::new(a, provider.clone()));
        Self {
            provider,
            deployment,
            identity,
            reputation,
            log_anchor,
            validation,
        }
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The same contracts seen through the ERC-8004 surface only.
    pub fn erc8004(&self) -> Erc8004Registry {
        Erc8004Registry::from_parts(
            self.provider.clone(),
            self.deployment.chain_id,
            self.deployment.identity,
            self.deployment.reputation,
        )
    }

    /// The identity contract binding (for calls this client does not wrap).
    pub fn identity_contract(&self) -> &KyaIdentityRegistryInstance<DynProvider> {
        &self.identity
    }

    /// The reputation contract binding.
    pub fn reputation_contract(&self) -> &KyaReputationRegistryInstance<DynProvider> {
        &self.reputation
    }

    // ---------------------------------------------------------------------------------------
    // Writes
    // ---------------------------------------------------------------------------------------

    /// Registers an agent owned by the signer. With a key and no metadata this is one
    /// `registerWithKey` transaction; with metadata it is `register(uri, metadata)` and, if a
    /// key is given, a second `setAgentKey` transaction.
    pub async fn register(&self, agent: &NewAgent) -> Result<Registration> {
        let receipt = match (&agent.key, agent.metadata.is_empty()) {
            (Some(key), true) => {
                let call = self.identity.registerWithKey(agent.uri.clone(), b256(key));
                mined(call.send().await?.get_receipt().await?)?
            }
            (_, true) => {
                let call = self.identity.register_1(agent.uri.clone());
                mined(call.send().await?.get_receipt().await?)?
            }
            (_, false) => {
                let metadata = agent
                    .metadata
                    .iter()
                    .map(|(k, v)| MetadataEntry {
                        metadataKey: k.clone(),
                        metadataValue: Bytes::copy_from_slice(v),
                    })
                    .collect();
                let call = self.identity.register_2(agent.uri.clone(), metadata);
                mined(call.send().await?.get_receipt().await?)?
            }
        };
        let agent_id = receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == self.deployment.identity)
            .find_map(|l| Registered::decode_log(&l.inner).ok())
            .map(|l| l.data.agentId)
            .ok_or_else(|| {
                RegistryError::Unexpected("no Registered event in the receipt".into())
            })?;
        let mut tx = tx_info(&receipt);
        if let (Some(key), false) = (&agent.key, agent.metadata.is_empty()) {
            tx = self.set_agent_key(agent_id, key).await?;
        }
        Ok(Registration { agent_id, tx })
    }

    /// Sets the agent URI (owner or operator only).
    pub async fn set_agent_uri(&self, agent_id: U256, uri: &str) -> Result<TxInfo> {
        let call = self.identity.setAgentURI(agent_id, uri.to_owned());
        send(call.send().await?).await
    }

    /// Sets a metadata entry (owner or operator only; `agentWallet` is reserved).
    pub async fn set_metadata(&self, agent_id: U256, key: &str, value: &[u8]) -> Result<TxInfo> {
        let call =
            self.identity
                .setMetadata(agent_id, key.to_owned(), Bytes::copy_from_slice(value));
        send(call.send().await?).await
    }

    /// Makes `wallet` the agent's ERC-8004 `agentWallet` (owner or operator only): the new
    /// wallet proves it consents by signing the registry's EIP-712 `AgentWalletSet` (agent,
    /// wallet, current owner, deadline), valid for two minutes of chain time.
    pub async fn set_agent_wallet(
        &self,
        agent_id: U256,
        wallet: &PrivateKeySigner,
    ) -> Result<TxInfo> {
        let owner = self.identity.ownerOf(agent_id).call().await?;
        let latest = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| RegistryError::Unexpected("the node has no latest block".into()))?;
        let deadline = U256::from(
            latest
                .header
                .timestamp
                .saturating_add(WALLET_CONSENT_SECONDS),
        );
        let consent = AgentWalletSet {
            agentId: agent_id,
            newWallet: wallet.address(),
            owner,
            deadline,
        };
        let domain = alloy::sol_types::Eip712Domain::new(
            Some(WALLET_DOMAIN_NAME.into()),
            Some(WALLET_DOMAIN_VERSION.into()),
            Some(U256::from(self.deployment.chain_id)),
            Some(self.deployment.identity),
            None,
        );
        let signature = wallet
            .sign_hash_sync(&consent.eip712_signing_hash(&domain))
            .map_err(|e| {
                RegistryError::Unexpected(format!("cannot sign the wallet consent: {e}"))
            })?;
        let call = self.identity.setAgentWallet(
            agent_id,
            wallet.address(),
            deadline,
            Bytes::copy_from_slice(&signature.as_bytes()),
        );
        send(call.send().await?).await
    }

    /// Clears the agent's `agentWallet` (owner or operator only): no wallet pays for it.
    pub async fn unset_agent_wallet(&self, agent_id: U256) -> Result<TxInfo> {
        send(self.identity.unsetAgentWallet(agent_id).send().await?).await
    }

    /// Binds an Ed25519 key to the agent (owner or operator only).
    pub async fn set_agent_key(&self, agent_id: U256, key: &PublicKey) -> Result<TxInfo> {
        let call = self.identity.setAgentKey(agent_id, b256(key));
        send(call.send().await?).await
    }

    /// Unbinds `old` and binds `new` atomically (owner or operator only).
    pub async fn rotate_agent_key(
        &self,
        agent_id: U256,
        old: &PublicKey,
        new: &PublicKey,
    ) -> Result<TxInfo> {
        let call = self.identity.rotateAgentKey(agent_id, b256(old), b256(new));
        send(call.send().await?).await
    }

    /// Unbinds a key from the agent for good (owner or operator only).
    pub async fn revoke_agent_key(&self, agent_id: U256, key: &PublicKey) -> Result<TxInfo> {
        let call = self.identity.revokeAgentKey(agent_id, b256(key));
        send(call.send().await?).await
    }

    /// Binds an Ed25519 issuing key to the signer's own address (the principal's wallet).
    pub async fn bind_principal_key(&self, key: &PublicKey) -> Result<TxInfo> {
        let call = self.identity.bindPrincipalKey(b256(key));
        send(call.send().await?).await
    }

    /// Unbinds an issuing key from the signer's address for good.
    pub async fn unbind_principal_key(&self, key: &PublicKey) -> Result<TxInfo> {
        let call = self.identity.unbindPrincipalKey(b256(key));
        send(call.send().await?).await
    }

    /// Revokes a credential (by digest) issued to the agent; irreversible (owner or operator
    /// only).
    pub async fn revoke_credential(
        &self,
        agent_id: U256,
        digest: &CredentialDigest,
    ) -> Result<TxInfo> {
        let call = self
            .identity
            .revokeCredential(agent_id, B256::from(digest.0));
        send(call.send().await?).await
    }

    /// Revokes, as its issuer, a credential (by digest) that the signer's wallet issued (a
    /// `did:pkh` principal's authorisation); irreversible. No agent permission is needed: it
    /// speaks only for the signer.
    pub async fn revoke_issued_credential(&self, digest: &CredentialDigest) -> Result<TxInfo> {
        let call = self.identity.revokeIssuedCredential(B256::from(digest.0));
        send(call.send().await?).await
    }

    /// Gives feedback to the agent from the signer (who must be neither its owner nor its
    /// agent wallet).
    pub async fn give_feedback(
        &self,
        agent_id: U256,
        feedback: &NewFeedbackEntry,
    ) -> Result<FeedbackGiven> {
        let call = self.reputation.giveFeedback(
            agent_id,
            feedback.value,
            feedback.value_decimals,
            feedback.tag1.clone(),
            feedback.tag2.clone(),
            feedback.endpoint.clone(),
            feedback.feedback_uri.clone(),
            feedback.feedback_hash,
        );
        let receipt = mined(call.send().await?.get_receipt().await?)?;
        let index = receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == self.deployment.reputation)
            .find_map(|l| NewFeedback::decode_log(&l.inner).ok())
            .map(|l| l.data.feedbackIndex)
            .ok_or_else(|| {
                RegistryError::Unexpected("no NewFeedback event in the receipt".into())
            })?;
        Ok(FeedbackGiven {
            index,
            tx: tx_info(&receipt),
        })
    }

    /// Revokes the signer's own feedback `index` to the agent.
    pub async fn revoke_feedback(&self, agent_id: U256, index: u64) -> Result<TxInfo> {
        let call = self.reputation.revokeFeedback(agent_id, index);
        send(call.send().await?).await
    }

    // ---------------------------------------------------------------------------------------
    // Reads
    // ---------------------------------------------------------------------------------------

    /// Number of agents registered so far (the next agent id).
    pub async fn agent_count(&self) -> Result<U256> {
        Ok(self.identity.agentCount().call().await?)
    }

    /// The agent's ERC-8004 record and key history (reverts with `ERC721NonexistentToken`
    /// for an unknown agent).
    pub async fn agent(&self, agent_id: U256) -> Result<AgentInfo> {
        let record = self.erc8004().agent(agent_id).await?;
        let keys = self.agent_keys(agent_id).await?;
        Ok(AgentInfo { record, keys })
    }

    /// Every key ever bound to the agent with its binding period (keys found from
    /// `AgentKeyBound` logs, periods read from the contract).
    pub async fn agent_keys(&self, agent_id: U256) -> Result<Vec<KeyPeriod>> {
        let filter = Filter::new()
            .address(self.deployment.identity)
            .event_signature(AgentKeyBound::SIGNATURE_HASH)
            .topic1(agent_id)
            .from_block(self.deployment.from_block);
        let logs = self.provider.get_logs(&filter).await?;
        let mut out = Vec::new();
        for key in keys_from_logs::<AgentKeyBound>(&logs, |e| e.key) {
            let p = self.identity.agentKeyPeriod(agent_id, key).call().await?;
            out.push(period(key, p.boundAt, p.unboundAt));
        }
        Ok(out)
    }

    /// The binding period of `key` on the agent, `None` if never bound.
    pub async fn agent_key_period(
        &self,
        agent_id: U256,
        key: &PublicKey,
    ) -> Result<Option<KeyPeriod>> {
        let p = self
            .identity
            .agentKeyPeriod(agent_id, b256(key))
            .call()
            .await?;
        Ok((p.boundAt != 0).then(|| period(b256(key), p.boundAt, p.unboundAt)))
    }

    /// Whether `key` is bound to the agent now.
    pub async fn is_agent_key_bound(&self, agent_id: U256, key: &PublicKey) -> Result<bool> {
        Ok(self
            .identity
            .isAgentKeyBound(agent_id, b256(key))
            .call()
            .await?)
    }

    /// Whether `key` was bound to the agent in the state at the end of block `block`.
    pub async fn key_bound_at(&self, agent_id: U256, key: &PublicKey, block: u64) -> Result<bool> {
        let call = self
            .identity
            .keyBoundAt(agent_id, b256(key), U256::from(block));
        Ok(call.call().await?)
    }

    /// Every issuing key ever bound to `principal` with its binding period.
    pub async fn principal_keys(&self, principal: Address) -> Result<Vec<KeyPeriod>> {
        let filter = Filter::new()
            .address(self.deployment.identity)
            .event_signature(PrincipalKeyBound::SIGNATURE_HASH)
            .topic1(principal.into_word())
            .from_block(self.deployment.from_block);
        let logs = self.provider.get_logs(&filter).await?;
        let mut out = Vec::new();
        for key in keys_from_logs::<PrincipalKeyBound>(&logs, |e| e.key) {
            let p = self
                .identity
                .principalKeyPeriod(principal, key)
                .call()
                .await?;
            out.push(period(key, p.boundAt, p.unboundAt));
        }
        Ok(out)
    }

    /// Whether `key` was bound to `principal` at the end of block `block`.
    pub async fn principal_key_bound_at(
        &self,
        principal: Address,
        key: &PublicKey,
        block: u64,
    ) -> Result<bool> {
        let call = self
            .identity
            .principalKeyBoundAt(principal, b256(key), U256::from(block));
        Ok(call.call().await?)
    }

    /// Whether `digest` is revoked for the agent.
    pub async fn is_revoked(&self, agent_id: U256, digest: &CredentialDigest) -> Result<bool> {
        Ok(self
            .identity
            .isRevoked(agent_id, B256::from(digest.0))
            .call()
            .await?)
    }

    /// The block at which `digest` was revoked for the agent, if it was.
    pub async fn revoked_at(
        &self,
        agent_id: U256,
        digest: &CredentialDigest,
    ) -> Result<Option<u64>> {
        let at = self
            .identity
            .revokedAt(agent_id, B256::from(digest.0))
            .call()
            .await?;
        Ok((at != 0).then_some(at))
    }

    /// The reputation summary of the agent over `raters` (non-empty), optionally filtered by
    /// tags (empty = any), as the contract computes it.
    pub async fn summary(
        &self,
        agent_id: U256,
        raters: &[Address],
        tag1: &str,
        tag2: &str,
    ) -> Result<ReputationSummary> {
        self.erc8004().summary(agent_id, raters, tag1, tag2).await
    }
}

/// The address of a contract created by `receipt`.
fn created(receipt: &TransactionReceipt) -> Result<Address> {
    let receipt = mined(receipt.clone())?;
    receipt.contract_address.ok_or_else(|| {
        RegistryError::Unexpected("deployment receipt without a contract address".into())
    })
}

/// Fails with [`RegistryError::Reverted`] when the receipt says the transaction reverted.
pub(crate) fn mined(receipt: TransactionReceipt) -> Result<TransactionReceipt> {
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(RegistryError::Reverted {
            tx_hash: receipt.transaction_hash,
        })
    }
}

/// Waits for the receipt and summarises it.
pub(crate) async fn send(
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
) -> Result<TxInfo> {
    let receipt = mined(pending.get_receipt().await?)?;
    Ok(tx_info(&receipt))
}

pub(crate) fn tx_info(receipt: &TransactionReceipt) -> TxInfo {
    TxInfo {
        tx_hash: receipt.transaction_hash,
        block_number: receipt.block_number.unwrap_or_default(),
        gas_used: receipt.gas_used,
    }
}

/// The `bytes32` form of an Ed25519 public key.
pub(crate) fn b256(key: &PublicKey) -> B256 {
    B256::from(key.to_bytes())
}

fn period(key: B256, bound_at: u64, unbound_at: u64) -> KeyPeriod {
    KeyPeriod {
        key,
        bound_at,
        unbound_at: (unbound_at != 0).then_some(unbound_at),
    }
}

/// The distinct keys of the bound events in `logs`, in first-seen order.
fn keys_from_logs<E: SolEvent>(logs: &[Log], key: impl Fn(&E) -> B256) -> Vec<B256> {
    let mut keys: Vec<B256> = Vec::new();
    for log in logs {
        if let Ok(e) = E::decode_log(&log.inner) {
            let k = key(&e.data);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}
