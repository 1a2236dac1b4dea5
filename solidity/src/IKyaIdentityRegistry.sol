// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IKyaIdentityRegistry
/// @notice ERC-8004 Identity Registry (ABI- and event-compatible with the ERC-8004 reference
///         `IdentityRegistryUpgradeable`), extended with the KYA bindings: an agent's Ed25519
///         keys with history, a principal's Ed25519 issuing keys with history, and credential
///         revocation by digest.
/// @dev Every state change emits an event that carries everything needed to rebuild the state
///      from logs alone (the block of the log is the block of the change).
///
///      Front-running: nothing unique is claimable by copying a pending transaction. Agent ids
///      are sequential and minted to `msg.sender`; agent keys are bound per agent (the same
///      Ed25519 key may be bound to several agents: a binding only says "agent A accepts key K",
///      and a kya credential names its `agentRegistry` + `agentId`, so a copy bound to another
///      agent proves nothing about A); principal keys are bound to `msg.sender` itself; digests
///      are revoked per agent, only by that agent's owner or operator, and per issuer, only by
///      the issuing wallet itself.
///
///      Bounds: an agent URI is at most MAX_URI_LENGTH (8192) bytes, the bound the offline
///      snapshot keeps (KyaURITooLong). Keys per agent and per principal are not bounded here:
///      a counter would cost every binding a storage write, and only the agent's owner (the
///      principal itself) can add them, so too many keys degrade only that record in a
///      snapshot, never the sync.
///
///      Key history: each (agent, key) pair — and each (principal, key) pair — has exactly one
///      binding period `[boundAt, unboundAt)` in block numbers. It is append-only: once a key is
///      unbound it can never be bound again to the same agent (principal); bind a fresh key
///      instead. So "was K bound to A at block B" has one stable answer forever.
interface IKyaIdentityRegistry {
    // ---------------------------------------------------------------------------------------
    // ERC-8004 types and events
    // ---------------------------------------------------------------------------------------

    /// @notice A metadata entry given at registration.
    struct MetadataEntry {
        string metadataKey;
        bytes metadataValue;
    }

    /// @notice A new agent `agentId` was minted to `owner` with `agentURI` (may be empty).
    event Registered(uint256 indexed agentId, string agentURI, address indexed owner);

    /// @notice Metadata `metadataKey` of `agentId` was set to `metadataValue`. Also emitted for
    ///         the reserved key "agentWallet" (20-byte address, or empty when cleared).
    event MetadataSet(
        uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue
    );

    /// @notice The agent URI of `agentId` was changed to `newURI` by `updatedBy`.
    event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy);

    // ---------------------------------------------------------------------------------------
    // KYA events
    // ---------------------------------------------------------------------------------------

    /// @notice Ed25519 key `key` was bound to agent `agentId` by `by` (its owner or operator).
    ///         The binding holds from the end of this log's block.
    event AgentKeyBound(uint256 indexed agentId, bytes32 indexed key, address indexed by);

    /// @notice Ed25519 key `key` was unbound from agent `agentId` by `by`, for good. The binding
    ///         no longer holds at the end of this log's block.
    event AgentKeyUnbound(uint256 indexed agentId, bytes32 indexed key, address indexed by);

    /// @notice Ed25519 issuing key `key` was bound to the wallet `principal` (by itself).
    event PrincipalKeyBound(address indexed principal, bytes32 indexed key);

    /// @notice Ed25519 issuing key `key` was unbound from the wallet `principal`, for good.
    event PrincipalKeyUnbound(address indexed principal, bytes32 indexed key);

    /// @notice The credential with SHA-256 digest `digest`, issued to agent `agentId`, was
    ///         revoked (irreversibly) by `by`, the agent's owner or operator.
    event CredentialRevoked(uint256 indexed agentId, bytes32 indexed digest, address indexed by);

    /// @notice The wallet `issuer` revoked (irreversibly) the credential with SHA-256 digest
    ///         `digest` that it issued (a `did:pkh` principal's authorisation), whoever owns
    ///         the agent it was issued to.
    event IssuerCredentialRevoked(address indexed issuer, bytes32 indexed digest);

    // ---------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------

    /// @notice `caller` is neither the owner of `agentId` nor approved for it.
    error KyaUnauthorized(address caller, uint256 agentId);
    /// @notice "agentWallet" can only be changed through setAgentWallet / unsetAgentWallet.
    error KyaReservedMetadataKey(string metadataKey);
    /// @notice The zero address cannot be an agent wallet.
    error KyaInvalidWallet(address wallet);
    /// @notice The wallet signature's deadline has passed.
    error KyaDeadlineExpired(uint256 deadline, uint256 timestamp);
    /// @notice The wallet signature's deadline is further than 5 minutes ahead.
    error KyaDeadlineTooFar(uint256 deadline, uint256 maxDeadline);
    /// @notice The signature is not a valid ECDSA or ERC-1271 signature of `wallet`.
    error KyaInvalidWalletSignature(address wallet);
    /// @notice A key or digest of zero is never valid.
    error KyaZeroValue();
    /// @notice `key` is currently bound to `agentId` (since block `boundAt`).
    error KyaKeyAlreadyBound(uint256 agentId, bytes32 key, uint64 boundAt);
    /// @notice `key` was bound to `agentId` and unbound at block `unboundAt`; it cannot be
    ///         bound to that agent again (history is append-only).
    error KyaKeyRetired(uint256 agentId, bytes32 key, uint64 unboundAt);
    /// @notice `key` is not currently bound to `agentId`.
    error KyaKeyNotBound(uint256 agentId, bytes32 key);
    /// @notice `key` is currently bound to `principal` (since block `boundAt`).
    error KyaPrincipalKeyAlreadyBound(address principal, bytes32 key, uint64 boundAt);
    /// @notice `key` was unbound from `principal` at block `unboundAt`; it cannot be re-bound.
    error KyaPrincipalKeyRetired(address principal, bytes32 key, uint64 unboundAt);
    /// @notice `key` is not currently bound to `principal`.
    error KyaPrincipalKeyNotBound(address principal, bytes32 key);
    /// @notice `digest` was already revoked for `agentId` at block `revokedAt`.
    error KyaCredentialAlreadyRevoked(uint256 agentId, bytes32 digest, uint64 revokedAt);
    /// @notice `issuer` already revoked `digest` at block `revokedAt`.
    error KyaIssuerCredentialAlreadyRevoked(address issuer, bytes32 digest, uint64 revokedAt);
    /// @notice An agent URI of `length` bytes is longer than `maxLength`.
    error KyaURITooLong(uint256 length, uint256 maxLength);

    // ---------------------------------------------------------------------------------------
    // ERC-8004 functions
    // ---------------------------------------------------------------------------------------

    /// @notice Registers a new agent owned by `msg.sender`, with no URI. The agent wallet starts
    ///         as `msg.sender`. Emits Transfer, Registered and MetadataSet("agentWallet").
    /// @return agentId The new agent's id (sequential from 0).
    function register() external returns (uint256 agentId);

    /// @notice Registers a new agent owned by `msg.sender` with `agentURI` (at most
    ///         MAX_URI_LENGTH bytes, else KyaURITooLong).
    /// @param agentURI URI of the agent's registration file (e.g. ipfs://…).
    /// @return agentId The new agent's id.
    function register(string calldata agentURI) external returns (uint256 agentId);

    /// @notice Registers a new agent with `agentURI` and initial metadata.
    /// @dev Reverts with KyaReservedMetadataKey if an entry uses the key "agentWallet".
    /// @return agentId The new agent's id.
    function register(string calldata agentURI, MetadataEntry[] calldata metadata)
        external
        returns (uint256 agentId);

    /// @notice Sets the agent URI (returned by `tokenURI`; at most MAX_URI_LENGTH bytes).
    ///         Owner or operator only.
    function setAgentURI(uint256 agentId, string calldata newURI) external;

    /// @notice Returns metadata `metadataKey` of `agentId` (empty if unset). For "agentWallet"
    ///         returns the 20-byte wallet address, or empty when there is none.
    function getMetadata(uint256 agentId, string calldata metadataKey) external view returns (bytes memory);

    /// @notice Sets metadata `metadataKey` of `agentId`. Owner or operator only; the key
    ///         "agentWallet" is reserved.
    function setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) external;

    /// @notice The agent's verified payment wallet (zero if none; cleared on every transfer).
    function getAgentWallet(uint256 agentId) external view returns (address);

    /// @notice Sets the agent wallet to `newWallet`, which proves control by signing the EIP-712
    ///         message `AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)`
    ///         (domain "ERC8004IdentityRegistry", version "1", this contract). ECDSA is tried
    ///         first (EOAs, EIP-7702 accounts), then ERC-1271. `deadline` must lie within
    ///         [now, now + 5 minutes]. Owner or operator only.
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature)
        external;

    /// @notice Clears the agent wallet. Owner or operator only.
    function unsetAgentWallet(uint256 agentId) external;

    /// @notice Whether `spender` is the owner of `agentId` or approved for it.
    /// @dev Reverts with ERC721NonexistentToken if the agent does not exist.
    function isAuthorizedOrOwner(address spender, uint256 agentId) external view returns (bool);

    /// @notice Implementation version string.
    function getVersion() external pure returns (string memory);

    // ---------------------------------------------------------------------------------------
    // KYA functions
    // ---------------------------------------------------------------------------------------

    /// @notice Registers a new agent with `agentURI` and binds the Ed25519 key `agentKey` to it,
    ///         in one transaction. Emits what `register(string)` emits, then AgentKeyBound.
    /// @return agentId The new agent's id.
    function registerWithKey(string calldata agentURI, bytes32 agentKey) external returns (uint256 agentId);

    /// @notice Number of agents registered so far (the next agent id).
    function agentCount() external view returns (uint256);

    /// @notice Binds the Ed25519 public key `key` (32 bytes) to `agentId`. Owner or operator
    ///         only. Several keys may be bound at once. A key once unbound from this agent can
    ///         never be bound to it again (KyaKeyRetired).
    function setAgentKey(uint256 agentId, bytes32 key) external;

    /// @notice Unbinds `oldKey` and binds `newKey` to `agentId` atomically (AgentKeyUnbound then
    ///         AgentKeyBound). Owner or operator only.
    function rotateAgentKey(uint256 agentId, bytes32 oldKey, bytes32 newKey) external;

    /// @notice Unbinds `key` from `agentId` for good (e.g. compromised). Owner or operator only.
    function revokeAgentKey(uint256 agentId, bytes32 key) external;

    /// @notice The binding period of `key` on `agentId`: bound from the end of block `boundAt`
    ///         until the end of block `unboundAt` (exclusive). (0, 0) if never bound;
    ///         `unboundAt` is 0 while still bound.
    function agentKeyPeriod(uint256 agentId, bytes32 key) external view returns (uint64 boundAt, uint64 unboundAt);

    /// @notice Whether `key` is bound to `agentId` now.
    function isAgentKeyBound(uint256 agentId, bytes32 key) external view returns (bool);

    /// @notice Whether `key` was bound to `agentId` in the state at the end of block
    ///         `blockNumber`, i.e. `boundAt <= blockNumber < unboundAt`.
    function keyBoundAt(uint256 agentId, bytes32 key, uint256 blockNumber) external view returns (bool);

    /// @notice Binds the Ed25519 issuing key `key` to `msg.sender` (the principal's wallet).
    function bindPrincipalKey(bytes32 key) external;

    /// @notice Unbinds `key` from `msg.sender` for good.
    function unbindPrincipalKey(bytes32 key) external;

    /// @notice Binding period of `key` on `principal` (see agentKeyPeriod).
    function principalKeyPeriod(address principal, bytes32 key)
        external
        view
        returns (uint64 boundAt, uint64 unboundAt);

    /// @notice Whether `key` is bound to `principal` now.
    function isPrincipalKeyBound(address principal, bytes32 key) external view returns (bool);

    /// @notice Whether `key` was bound to `principal` at the end of block `blockNumber`.
    function principalKeyBoundAt(address principal, bytes32 key, uint256 blockNumber) external view returns (bool);

    /// @notice Revokes, irreversibly, the credential with SHA-256 digest `digest` issued to
    ///         `agentId`. Owner or operator of the agent only: revocations are scoped per agent,
    ///         so nobody can revoke another agent's credentials.
    function revokeCredential(uint256 agentId, bytes32 digest) external;

    /// @notice Whether `digest` is revoked for `agentId`.
    function isRevoked(uint256 agentId, bytes32 digest) external view returns (bool);

    /// @notice Block at which `digest` was revoked for `agentId` (0 if not revoked).
    function revokedAt(uint256 agentId, bytes32 digest) external view returns (uint64);

    /// @notice Revokes, irreversibly, the credential with SHA-256 digest `digest` that
    ///         `msg.sender` issued. Anyone may call it, but it speaks only for the caller: a
    ///         verifier honours it for credentials whose issuer is the `did:pkh` of this
    ///         address on this chain, so a wallet principal can revoke an authorisation it gave
    ///         to an agent that someone else owns.
    function revokeIssuedCredential(bytes32 digest) external;

    /// @notice Block at which `issuer` revoked `digest` (0 if not revoked).
    function issuerRevokedAt(address issuer, bytes32 digest) external view returns (uint64);
}
