//! Errors: contract reverts decoded into [`KyaError`], everything else in [`RegistryError`].

use alloy::primitives::{Address, B256, Bytes, I256, U256};
use alloy::sol_types::{Revert, SolError, SolInterface};

use crate::bindings::KyaIdentityRegistry::KyaIdentityRegistryErrors;
use crate::bindings::KyaReputationRegistry::KyaReputationRegistryErrors;

/// Everything that can go wrong talking to the registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The contract refused: a custom error (or revert string / panic) it reverted with.
    #[error("the registry refused: {0}")]
    Contract(KyaError),
    /// The transaction was mined but reverted (no revert data is available from a receipt).
    #[error("transaction {tx_hash} reverted on-chain")]
    Reverted {
        /// The transaction.
        tx_hash: B256,
    },
    /// The node could not be reached, or answered with an error that is not a revert.
    #[error("rpc error: {0}")]
    Rpc(String),
    /// A receipt or log did not have the expected shape (wrong contract at that address?).
    #[error("unexpected chain data: {0}")]
    Unexpected(String),
    /// A value given by the caller is out of range (e.g. an agent id that is not a uint256).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Reading or writing a file (snapshot, deployment file) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A reorganisation went deeper than the snapshot's kept block window, and rebuilding
    /// from scratch was not allowed.
    #[error("chain reorganisation deeper than the snapshot's kept window (snapshot block {block})")]
    DeepReorg {
        /// The snapshot's block.
        block: u64,
    },
    /// The snapshot belongs to another chain or other registry contracts.
    #[error("snapshot mismatch: {0}")]
    SnapshotMismatch(String),
}

/// A revert of the kya registry contracts (or of any ERC-8004 registry sharing their
/// errors), decoded from the revert data. Variant and field names follow the Solidity custom
/// errors; `Display` is a readable sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KyaError {
    /// `ERC721IncorrectOwner`: the ERC-721 sender is not the token owner.
    #[error("{sender} is not the owner of agent {token_id} (the owner is {owner})")]
    ERC721IncorrectOwner {
        /// `sender`.
        sender: Address,
        /// The agent (token) id.
        token_id: U256,
        /// `owner`.
        owner: Address,
    },
    /// `ERC721InsufficientApproval`: the operator is not approved for the token.
    #[error("{operator} is not approved for agent {token_id}")]
    ERC721InsufficientApproval {
        /// `operator`.
        operator: Address,
        /// The agent (token) id.
        token_id: U256,
    },
    /// `ERC721InvalidApprover`: invalid ERC-721 approver.
    #[error("invalid approver {approver}")]
    ERC721InvalidApprover {
        /// `approver`.
        approver: Address,
    },
    /// `ERC721InvalidOperator`: invalid ERC-721 operator.
    #[error("invalid operator {operator}")]
    ERC721InvalidOperator {
        /// `operator`.
        operator: Address,
    },
    /// `ERC721InvalidOwner`: invalid ERC-721 owner.
    #[error("invalid owner {owner}")]
    ERC721InvalidOwner {
        /// `owner`.
        owner: Address,
    },
    /// `ERC721InvalidReceiver`: invalid ERC-721 receiver.
    #[error("invalid receiver {receiver}")]
    ERC721InvalidReceiver {
        /// `receiver`.
        receiver: Address,
    },
    /// `ERC721InvalidSender`: invalid ERC-721 sender.
    #[error("invalid sender {sender}")]
    ERC721InvalidSender {
        /// `sender`.
        sender: Address,
    },
    /// `ERC721NonexistentToken`: the agent (ERC-721 token) does not exist.
    #[error("agent {token_id} does not exist")]
    ERC721NonexistentToken {
        /// The agent (token) id.
        token_id: U256,
    },
    /// `InvalidShortString`: invalid short string (EIP-712 domain).
    #[error("invalid short string")]
    InvalidShortString,
    /// `KyaCredentialAlreadyRevoked`: the digest is already revoked for the agent.
    #[error("credential {digest} is already revoked for agent {agent_id} (at block {revoked_at})")]
    KyaCredentialAlreadyRevoked {
        /// The agent id.
        agent_id: U256,
        /// The credential digest (SHA-256).
        digest: B256,
        /// Block of the revocation.
        revoked_at: u64,
    },
    /// `KyaIssuerCredentialAlreadyRevoked`: the issuer already revoked the digest.
    #[error(
        "credential {digest} is already revoked by its issuer {issuer} (at block {revoked_at})"
    )]
    KyaIssuerCredentialAlreadyRevoked {
        /// The issuing wallet.
        issuer: Address,
        /// The credential digest (SHA-256).
        digest: B256,
        /// Block of the revocation.
        revoked_at: u64,
    },
    /// `KyaURITooLong`: the agent URI is longer than the registry accepts.
    #[error("the agent uri is {length} bytes, over the limit of {max_length}")]
    KyaURITooLong {
        /// Its length in bytes.
        length: U256,
        /// The limit.
        max_length: U256,
    },
    /// `KyaDeadlineExpired`: the wallet signature deadline has passed.
    #[error("the wallet signature deadline {deadline} has passed (block time {timestamp})")]
    KyaDeadlineExpired {
        /// `deadline`.
        deadline: U256,
        /// `timestamp`.
        timestamp: U256,
    },
    /// `KyaDeadlineTooFar`: the wallet signature deadline is more than 5 minutes ahead.
    #[error("the wallet signature deadline {deadline} is too far ahead (at most {max_deadline})")]
    KyaDeadlineTooFar {
        /// `deadline`.
        deadline: U256,
        /// `maxDeadline`.
        max_deadline: U256,
    },
    /// `KyaInvalidWallet`: the zero address cannot be an agent wallet.
    #[error("{wallet} cannot be an agent wallet")]
    KyaInvalidWallet {
        /// `wallet`.
        wallet: Address,
    },
    /// `KyaInvalidWalletSignature`: the wallet signature is neither valid ECDSA nor ERC-1271.
    #[error("invalid wallet signature for {wallet}")]
    KyaInvalidWalletSignature {
        /// `wallet`.
        wallet: Address,
    },
    /// `KyaKeyAlreadyBound`: the key is currently bound to the agent.
    #[error("key {key} is already bound to agent {agent_id} (since block {bound_at})")]
    KyaKeyAlreadyBound {
        /// The agent id.
        agent_id: U256,
        /// The Ed25519 key (32 bytes).
        key: B256,
        /// Block of the binding.
        bound_at: u64,
    },
    /// `KyaKeyNotBound`: the key is not currently bound to the agent.
    #[error("key {key} is not bound to agent {agent_id}")]
    KyaKeyNotBound {
        /// The agent id.
        agent_id: U256,
        /// The Ed25519 key (32 bytes).
        key: B256,
    },
    /// `KyaKeyRetired`: the key was unbound from the agent and can never be bound to it again.
    #[error(
        "key {key} was unbound from agent {agent_id} at block {unbound_at} and cannot be bound again"
    )]
    KyaKeyRetired {
        /// The agent id.
        agent_id: U256,
        /// The Ed25519 key (32 bytes).
        key: B256,
        /// Block of the unbinding.
        unbound_at: u64,
    },
    /// `KyaPrincipalKeyAlreadyBound`: the issuing key is currently bound to the principal.
    #[error("key {key} is already bound to principal {principal} (since block {bound_at})")]
    KyaPrincipalKeyAlreadyBound {
        /// The principal wallet.
        principal: Address,
        /// The Ed25519 key (32 bytes).
        key: B256,
        /// Block of the binding.
        bound_at: u64,
    },
    /// `KyaPrincipalKeyNotBound`: the issuing key is not currently bound to the principal.
    #[error("key {key} is not bound to principal {principal}")]
    KyaPrincipalKeyNotBound {
        /// The principal wallet.
        principal: Address,
        /// The Ed25519 key (32 bytes).
        key: B256,
    },
    /// `KyaPrincipalKeyRetired`: the issuing key was unbound from the principal for good.
    #[error(
        "key {key} was unbound from principal {principal} at block {unbound_at} and cannot be bound again"
    )]
    KyaPrincipalKeyRetired {
        /// The principal wallet.
        principal: Address,
        /// The Ed25519 key (32 bytes).
        key: B256,
        /// Block of the unbinding.
        unbound_at: u64,
    },
    /// `KyaReservedMetadataKey`: the metadata key is reserved (`agentWallet`).
    #[error("metadata key `{metadata_key}` is reserved")]
    KyaReservedMetadataKey {
        /// `metadataKey`.
        metadata_key: String,
    },
    /// `KyaUnauthorized`: the caller is neither the owner of the agent nor approved for it.
    #[error("{caller} is neither the owner nor an operator of agent {agent_id}")]
    KyaUnauthorized {
        /// The caller.
        caller: Address,
        /// The agent id.
        agent_id: U256,
    },
    /// `KyaZeroValue`: a key or digest of zero was given.
    #[error("a zero key or digest is never valid")]
    KyaZeroValue,
    /// `StringTooLong`: a string is too long for a short string.
    #[error("string too long: `{value}`")]
    StringTooLong {
        /// `str`.
        value: String,
    },
    /// `KyaClientsRequired`: a summary was asked for without raters.
    #[error("a summary needs a non-empty set of raters")]
    KyaClientsRequired,
    /// `KyaEmptyResponseURI`: an empty response URI was given.
    #[error("a response needs a non-empty response uri")]
    KyaEmptyResponseURI,
    /// `KyaFeedbackAlreadyRevoked`: the feedback is already revoked.
    #[error("feedback {feedback_index} of {client_address} to agent {agent_id} is already revoked")]
    KyaFeedbackAlreadyRevoked {
        /// The agent id.
        agent_id: U256,
        /// `clientAddress`.
        client_address: Address,
        /// `feedbackIndex`.
        feedback_index: u64,
    },
    /// `KyaFeedbackIndexOutOfBounds`: the feedback index is 0 or past the rater's last index.
    #[error(
        "feedback index {feedback_index} of {client_address} to agent {agent_id} is out of bounds (last index {last_index})"
    )]
    KyaFeedbackIndexOutOfBounds {
        /// The agent id.
        agent_id: U256,
        /// `clientAddress`.
        client_address: Address,
        /// `feedbackIndex`.
        feedback_index: u64,
        /// `lastIndex`.
        last_index: u64,
    },
    /// `KyaSelfFeedback`: the caller owns the agent it tried to rate, or is its agent wallet.
    #[error("{caller} owns agent {agent_id} or is its agent wallet, and may not rate it")]
    KyaSelfFeedback {
        /// The caller.
        caller: Address,
        /// The agent id.
        agent_id: U256,
    },
    /// `KyaSummaryOverflow`: the summary average overflows int128.
    #[error("the summary average {average} does not fit in int128")]
    KyaSummaryOverflow {
        /// `average`.
        average: I256,
    },
    /// `KyaTagTooLong`: a tag is too long.
    #[error("a tag is {length} bytes long (at most {max_length})")]
    KyaTagTooLong {
        /// `length`.
        length: U256,
        /// `maxLength`.
        max_length: U256,
    },
    /// `KyaTooManyClients`: too many raters in one call.
    #[error("{count} raters in one call (at most {max_clients})")]
    KyaTooManyClients {
        /// `count`.
        count: U256,
        /// `maxClients`.
        max_clients: U256,
    },
    /// `KyaTooManyEntries`: too many feedback entries would be visited.
    #[error("more than {max_entries} feedback entries would be visited")]
    KyaTooManyEntries {
        /// `maxEntries`.
        max_entries: U256,
    },
    /// `KyaValueDecimalsTooLarge`: valueDecimals is above 18.
    #[error("value decimals {value_decimals} is above 18")]
    KyaValueDecimalsTooLarge {
        /// `valueDecimals`.
        value_decimals: u8,
    },
    /// `KyaValueOutOfRange`: the feedback value is out of range.
    #[error("feedback value {value} is out of range (|value| <= 1e38)")]
    KyaValueOutOfRange {
        /// `value`.
        value: i128,
    },
    /// `KyaZeroIdentityRegistry`: the identity registry address is zero.
    #[error("the identity registry address is zero")]
    KyaZeroIdentityRegistry,
    /// A `revert("…")` / `require(…, "…")` string.
    #[error("reverted: {0}")]
    Revert(String),
    /// A Solidity panic (`Panic(uint256)`: overflow, division by zero, …).
    #[error("panic code {code:#x}")]
    Panic {
        /// The panic code.
        code: U256,
    },
    /// A custom error this client does not know (another contract's).
    #[error("unknown custom error with selector 0x{}", hex::encode(selector))]
    Unknown {
        /// The 4-byte error selector.
        selector: [u8; 4],
        /// The full revert data.
        data: Bytes,
    },
    /// The call reverted without any data.
    #[error("reverted without a reason")]
    NoReason,
}

impl KyaError {
    /// Decodes revert data against the identity and reputation registries' errors, then the
    /// standard `Error(string)` and `Panic(uint256)`.
    pub fn decode(data: &[u8]) -> Self {
        if data.len() < 4 {
            return Self::NoReason;
        }
        if let Ok(e) = KyaIdentityRegistryErrors::abi_decode(data) {
            return e.into();
        }
        if let Ok(e) = KyaReputationRegistryErrors::abi_decode(data) {
            return e.into();
        }
        if let Ok(r) = Revert::abi_decode(data) {
            return Self::Revert(r.reason);
        }
        if let Ok(p) = alloy::sol_types::Panic::abi_decode(data) {
            return Self::Panic { code: p.code };
        }
        let mut selector = [0u8; 4];
        selector.copy_from_slice(&data[..4]);
        Self::Unknown {
            selector,
            data: Bytes::copy_from_slice(data),
        }
    }
}

impl From<KyaIdentityRegistryErrors> for KyaError {
    fn from(e: KyaIdentityRegistryErrors) -> Self {
        match e {
            KyaIdentityRegistryErrors::ERC721IncorrectOwner(e) => Self::ERC721IncorrectOwner {
                sender: e.sender,
                token_id: e.tokenId,
                owner: e.owner,
            },
            KyaIdentityRegistryErrors::ERC721InsufficientApproval(e) => {
                Self::ERC721InsufficientApproval {
                    operator: e.operator,
                    token_id: e.tokenId,
                }
            }
            KyaIdentityRegistryErrors::ERC721InvalidApprover(e) => Self::ERC721InvalidApprover {
                approver: e.approver,
            },
            KyaIdentityRegistryErrors::ERC721InvalidOperator(e) => Self::ERC721InvalidOperator {
                operator: e.operator,
            },
            KyaIdentityRegistryErrors::ERC721InvalidOwner(e) => {
                Self::ERC721InvalidOwner { owner: e.owner }
            }
            KyaIdentityRegistryErrors::ERC721InvalidReceiver(e) => Self::ERC721InvalidReceiver {
                receiver: e.receiver,
            },
            KyaIdentityRegistryErrors::ERC721InvalidSender(e) => {
                Self::ERC721InvalidSender { sender: e.sender }
            }
            KyaIdentityRegistryErrors::ERC721NonexistentToken(e) => Self::ERC721NonexistentToken {
                token_id: e.tokenId,
            },
            KyaIdentityRegistryErrors::InvalidShortString(_) => Self::InvalidShortString,
            KyaIdentityRegistryErrors::KyaCredentialAlreadyRevoked(e) => {
                Self::KyaCredentialAlreadyRevoked {
                    agent_id: e.agentId,
                    digest: e.digest,
                    revoked_at: e.revokedAt,
                }
            }
            KyaIdentityRegistryErrors::KyaIssuerCredentialAlreadyRevoked(e) => {
                Self::KyaIssuerCredentialAlreadyRevoked {
                    issuer: e.issuer,
                    digest: e.digest,
                    revoked_at: e.revokedAt,
                }
            }
            KyaIdentityRegistryErrors::KyaURITooLong(e) => Self::KyaURITooLong {
                length: e.length,
                max_length: e.maxLength,
            },
            KyaIdentityRegistryErrors::KyaDeadlineExpired(e) => Self::KyaDeadlineExpired {
                deadline: e.deadline,
                timestamp: e.timestamp,
            },
            KyaIdentityRegistryErrors::KyaDeadlineTooFar(e) => Self::KyaDeadlineTooFar {
                deadline: e.deadline,
                max_deadline: e.maxDeadline,
            },
            KyaIdentityRegistryErrors::KyaInvalidWallet(e) => {
                Self::KyaInvalidWallet { wallet: e.wallet }
            }
            KyaIdentityRegistryErrors::KyaInvalidWalletSignature(e) => {
                Self::KyaInvalidWalletSignature { wallet: e.wallet }
            }
            KyaIdentityRegistryErrors::KyaKeyAlreadyBound(e) => Self::KyaKeyAlreadyBound {
                agent_id: e.agentId,
                key: e.key,
                bound_at: e.boundAt,
            },
            KyaIdentityRegistryErrors::KyaKeyNotBound(e) => Self::KyaKeyNotBound {
                agent_id: e.agentId,
                key: e.key,
            },
            KyaIdentityRegistryErrors::KyaKeyRetired(e) => Self::KyaKeyRetired {
                agent_id: e.agentId,
                key: e.key,
                unbound_at: e.unboundAt,
            },
            KyaIdentityRegistryErrors::KyaPrincipalKeyAlreadyBound(e) => {
                Self::KyaPrincipalKeyAlreadyBound {
                    principal: e.principal,
                    key: e.key,
                    bound_at: e.boundAt,
                }
            }
            KyaIdentityRegistryErrors::KyaPrincipalKeyNotBound(e) => {
                Self::KyaPrincipalKeyNotBound {
                    principal: e.principal,
                    key: e.key,
                }
            }
            KyaIdentityRegistryErrors::KyaPrincipalKeyRetired(e) => Self::KyaPrincipalKeyRetired {
                principal: e.principal,
                key: e.key,
                unbound_at: e.unboundAt,
            },
            KyaIdentityRegistryErrors::KyaReservedMetadataKey(e) => Self::KyaReservedMetadataKey {
                metadata_key: e.metadataKey,
            },
            KyaIdentityRegistryErrors::KyaUnauthorized(e) => Self::KyaUnauthorized {
                caller: e.caller,
                agent_id: e.agentId,
            },
            KyaIdentityRegistryErrors::KyaZeroValue(_) => Self::KyaZeroValue,
            KyaIdentityRegistryErrors::StringTooLong(e) => Self::StringTooLong { value: e.str },
        }
    }
}

impl From<KyaReputationRegistryErrors> for KyaError {
    fn from(e: KyaReputationRegistryErrors) -> Self {
        match e {
            KyaReputationRegistryErrors::KyaClientsRequired(_) => Self::KyaClientsRequired,
            KyaReputationRegistryErrors::KyaEmptyResponseURI(_) => Self::KyaEmptyResponseURI,
            KyaReputationRegistryErrors::KyaFeedbackAlreadyRevoked(e) => {
                Self::KyaFeedbackAlreadyRevoked {
                    agent_id: e.agentId,
                    client_address: e.clientAddress,
                    feedback_index: e.feedbackIndex,
                }
            }
            KyaReputationRegistryErrors::KyaFeedbackIndexOutOfBounds(e) => {
                Self::KyaFeedbackIndexOutOfBounds {
                    agent_id: e.agentId,
                    client_address: e.clientAddress,
                    feedback_index: e.feedbackIndex,
                    last_index: e.lastIndex,
                }
            }
            KyaReputationRegistryErrors::KyaSelfFeedback(e) => Self::KyaSelfFeedback {
                caller: e.caller,
                agent_id: e.agentId,
            },
            KyaReputationRegistryErrors::KyaSummaryOverflow(e) => {
                Self::KyaSummaryOverflow { average: e.average }
            }
            KyaReputationRegistryErrors::KyaTagTooLong(e) => Self::KyaTagTooLong {
                length: e.length,
                max_length: e.maxLength,
            },
            KyaReputationRegistryErrors::KyaTooManyClients(e) => Self::KyaTooManyClients {
                count: e.count,
                max_clients: e.maxClients,
            },
            KyaReputationRegistryErrors::KyaTooManyEntries(e) => Self::KyaTooManyEntries {
                max_entries: e.maxEntries,
            },
            KyaReputationRegistryErrors::KyaValueDecimalsTooLarge(e) => {
                Self::KyaValueDecimalsTooLarge {
                    value_decimals: e.valueDecimals,
                }
            }
            KyaReputationRegistryErrors::KyaValueOutOfRange(e) => {
                Self::KyaValueOutOfRange { value: e.value }
            }
            KyaReputationRegistryErrors::KyaZeroIdentityRegistry(_) => {
                Self::KyaZeroIdentityRegistry
            }
        }
    }
}

impl From<alloy::contract::Error> for RegistryError {
    fn from(e: alloy::contract::Error) -> Self {
        if let Some(data) = e.as_revert_data() {
            return Self::Contract(KyaError::decode(&data));
        }
        if let alloy::contract::Error::TransportError(t) = &e {
            return rpc_error(t);
        }
        Self::Rpc(e.to_string())
    }
}

impl From<alloy::transports::TransportError> for RegistryError {
    fn from(e: alloy::transports::TransportError) -> Self {
        rpc_error(&e)
    }
}

impl From<alloy::providers::PendingTransactionError> for RegistryError {
    fn from(e: alloy::providers::PendingTransactionError) -> Self {
        match e {
            alloy::providers::PendingTransactionError::TransportError(t) => rpc_error(&t),
            other => Self::Rpc(other.to_string()),
        }
    }
}

/// A transport error, with revert data decoded when the node attached some (e.g. to an
/// `eth_estimateGas` or `eth_call` error).
fn rpc_error(e: &alloy::transports::TransportError) -> RegistryError {
    if let Some(resp) = e.as_error_resp() {
        if let Some(data) = resp.as_revert_data() {
            return RegistryError::Contract(KyaError::decode(&data));
        }
        // Reverts without data ("execution reverted") are still reverts.
        if resp.message.contains("revert") {
            return RegistryError::Contract(KyaError::NoReason);
        }
    }
    RegistryError::Rpc(e.to_string())
}

/// Shorthand for results of this crate.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
