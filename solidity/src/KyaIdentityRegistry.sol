// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IKyaIdentityRegistry} from "./IKyaIdentityRegistry.sol";
import {KyaPackedBytes} from "./utils/KyaPackedBytes.sol";

/// @title KyaIdentityRegistry
/// @notice ERC-8004 Identity Registry with the KYA bindings (agent keys, principal keys,
///         credential revocation). Non-upgradeable: no owner, no proxy, no admin key.
/// @dev Differences from the ERC-8004 reference, none visible in the ABI or in event contents:
///      - Agent URIs and metadata values are stored as one length-prefixed byte stream over
///        consecutive slots (a 66-byte URI takes 3 slots instead of 4).
///      - The agent wallet set at registration (= the registrant) is not written to storage:
///        an untouched wallet record means "the owner at mint", which stays true until the first
///        transfer, and every transfer writes an explicit "cleared" record. Reads are identical.
///      - No MetadataUpdate (ERC-4906) event at mint: the Transfer event announces a new token.
///        setAgentURI emits it, as the reference does.
///      - Registration mints with the ERC-721 receiver check done after all state changes and
///        events (checks-effects-interactions).
contract KyaIdentityRegistry is ERC721, EIP712, IKyaIdentityRegistry {
    /// @notice ERC-4906: the metadata (tokenURI) of `_tokenId` changed.
    event MetadataUpdate(uint256 _tokenId);

    /// @dev Base slot of a length-prefixed byte stream (see KyaPackedBytes).
    struct Stream {
        uint256 head;
    }

    /// @dev One binding period, in block numbers; boundAt == 0 means never bound.
    struct Period {
        uint64 boundAt;
        uint64 unboundAt;
    }

    /// @notice Longest agent URI, in bytes: the bound of the offline snapshot, so a URI accepted
    ///         here is always kept in full there.
    uint256 public constant MAX_URI_LENGTH = 8192;

    bytes32 private constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");
    string private constant AGENT_WALLET_KEY = "agentWallet";
    bytes32 private constant AGENT_WALLET_KEY_HASH = keccak256("agentWallet");
    uint256 private constant MAX_DEADLINE_DELAY = 5 minutes;
    /// @dev Wallet record flag: the record is explicit (the low 160 bits are the wallet, maybe 0).
    uint256 private constant WALLET_EXPLICIT = 1 << 160;
    bytes4 private constant ERC4906_INTERFACE_ID = 0x49064906;

    uint256 private _nextAgentId;
    /// @dev agentId => 0 (wallet = owner at mint, never transferred) or WALLET_EXPLICIT | wallet.
    mapping(uint256 agentId => uint256 record) private _walletRecord;
    mapping(uint256 agentId => Stream) private _uri;
    mapping(uint256 agentId => mapping(bytes32 keyHash => Stream)) private _metadata;
    mapping(uint256 agentId => mapping(bytes32 key => Period)) private _agentKeys;
    mapping(address principal => mapping(bytes32 key => Period)) private _principalKeys;
    mapping(uint256 agentId => mapping(bytes32 digest => uint64 blockNumber)) private _revokedAt;
    mapping(address issuer => mapping(bytes32 digest => uint64 blockNumber)) private _issuerRevokedAt;

    constructor() ERC721("KYA Agent", "KYA") EIP712("ERC8004IdentityRegistry", "1") {}

    // ---------------------------------------------------------------------------------------
    // ERC-8004: registration, URI, metadata
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaIdentityRegistry
    function register() external returns (uint256 agentId) {
        agentId = _register("");
        ERC721Utils.checkOnERC721Received(msg.sender, address(0), msg.sender, agentId, "");
    }

    /// @inheritdoc IKyaIdentityRegistry
    function register(string calldata agentURI) external returns (uint256 agentId) {
        agentId = _register(agentURI);
        ERC721Utils.checkOnERC721Received(msg.sender, address(0), msg.sender, agentId, "");
    }

    /// @inheritdoc IKyaIdentityRegistry
    function register(string calldata agentURI, MetadataEntry[] calldata metadata)
        external
        returns (uint256 agentId)
    {
        agentId = _register(agentURI);
        uint256 n = metadata.length;
        for (uint256 i; i < n; ++i) {
            MetadataEntry calldata e = metadata[i];
            _setMetadata(agentId, e.metadataKey, e.metadataValue);
        }
        ERC721Utils.checkOnERC721Received(msg.sender, address(0), msg.sender, agentId, "");
    }

    /// @inheritdoc IKyaIdentityRegistry
    function registerWithKey(string calldata agentURI, bytes32 agentKey) external returns (uint256 agentId) {
        agentId = _register(agentURI);
        _bindAgentKey(agentId, agentKey);
        ERC721Utils.checkOnERC721Received(msg.sender, address(0), msg.sender, agentId, "");
    }

    /// @inheritdoc IKyaIdentityRegistry
    function agentCount() external view returns (uint256) {
        return _nextAgentId;
    }

    /// @inheritdoc IKyaIdentityRegistry
    function setAgentURI(uint256 agentId, string calldata newURI) external {
        _authorize(agentId);
        _checkURI(bytes(newURI).length);
        _store(_uriBase(agentId), bytes(newURI));
        emit URIUpdated(agentId, newURI, msg.sender);
        emit MetadataUpdate(agentId);
    }

    /// @notice The agent URI (ERC-721 metadata). Reverts for an unknown agent.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string(_load(_uriBase(tokenId)));
    }

    /// @inheritdoc IKyaIdentityRegistry
    function getMetadata(uint256 agentId, string calldata metadataKey) external view returns (bytes memory) {
        bytes32 keyHash = keccak256(bytes(metadataKey));
        if (keyHash == AGENT_WALLET_KEY_HASH) {
            address wallet = _agentWallet(agentId);
            return wallet == address(0) ? bytes("") : abi.encodePacked(wallet);
        }
        return _load(_metadataBase(agentId, keyHash));
    }

    /// @inheritdoc IKyaIdentityRegistry
    function setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) external {
        _authorize(agentId);
        _setMetadata(agentId, metadataKey, metadataValue);
    }

    // ---------------------------------------------------------------------------------------
    // ERC-8004: agent wallet
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaIdentityRegistry
    function getAgentWallet(uint256 agentId) external view returns (address) {
        return _agentWallet(agentId);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature)
        external
    {
        address owner = _authorize(agentId);
        if (newWallet == address(0)) revert KyaInvalidWallet(newWallet);
        // The ERC-8004 signature window is defined in wall-clock time; seconds of skew are harmless.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert KyaDeadlineExpired(deadline, block.timestamp);
        // forge-lint: disable-next-line(block-timestamp)
        if (deadline > block.timestamp + MAX_DEADLINE_DELAY) {
            revert KyaDeadlineTooFar(deadline, block.timestamp + MAX_DEADLINE_DELAY);
        }
        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline)));
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != newWallet) {
            if (!SignatureChecker.isValidERC1271SignatureNow(newWallet, digest, signature)) {
                revert KyaInvalidWalletSignature(newWallet);
            }
        }
        _walletRecord[agentId] = WALLET_EXPLICIT | uint256(uint160(newWallet));
        emit MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, abi.encodePacked(newWallet));
    }

    /// @inheritdoc IKyaIdentityRegistry
    function unsetAgentWallet(uint256 agentId) external {
        _authorize(agentId);
        _walletRecord[agentId] = WALLET_EXPLICIT;
        emit MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, "");
    }

    /// @inheritdoc IKyaIdentityRegistry
    function isAuthorizedOrOwner(address spender, uint256 agentId) external view returns (bool) {
        return _isAuthorized(ownerOf(agentId), spender, agentId);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function getVersion() external pure returns (string memory) {
        return "2.0.0+kya.1";
    }

    // ---------------------------------------------------------------------------------------
    // KYA: agent keys
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaIdentityRegistry
    function setAgentKey(uint256 agentId, bytes32 key) external {
        _authorize(agentId);
        _bindAgentKey(agentId, key);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function rotateAgentKey(uint256 agentId, bytes32 oldKey, bytes32 newKey) external {
        _authorize(agentId);
        _unbindAgentKey(agentId, oldKey);
        _bindAgentKey(agentId, newKey);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function revokeAgentKey(uint256 agentId, bytes32 key) external {
        _authorize(agentId);
        _unbindAgentKey(agentId, key);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function agentKeyPeriod(uint256 agentId, bytes32 key) external view returns (uint64 boundAt, uint64 unboundAt) {
        Period storage p = _agentKeys[agentId][key];
        return (p.boundAt, p.unboundAt);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function isAgentKeyBound(uint256 agentId, bytes32 key) external view returns (bool) {
        Period storage p = _agentKeys[agentId][key];
        return p.boundAt != 0 && p.unboundAt == 0;
    }

    /// @inheritdoc IKyaIdentityRegistry
    function keyBoundAt(uint256 agentId, bytes32 key, uint256 blockNumber) external view returns (bool) {
        return _boundAt(_agentKeys[agentId][key], blockNumber);
    }

    // ---------------------------------------------------------------------------------------
    // KYA: principal keys
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaIdentityRegistry
    function bindPrincipalKey(bytes32 key) external {
        if (key == bytes32(0)) revert KyaZeroValue();
        Period storage p = _principalKeys[msg.sender][key];
        uint64 boundAt = p.boundAt;
        if (boundAt != 0) {
            uint64 unboundAt = p.unboundAt;
            if (unboundAt == 0) revert KyaPrincipalKeyAlreadyBound(msg.sender, key, boundAt);
            revert KyaPrincipalKeyRetired(msg.sender, key, unboundAt);
        }
        p.boundAt = uint64(block.number);
        emit PrincipalKeyBound(msg.sender, key);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function unbindPrincipalKey(bytes32 key) external {
        Period storage p = _principalKeys[msg.sender][key];
        if (p.boundAt == 0 || p.unboundAt != 0) revert KyaPrincipalKeyNotBound(msg.sender, key);
        p.unboundAt = uint64(block.number);
        emit PrincipalKeyUnbound(msg.sender, key);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function principalKeyPeriod(address principal, bytes32 key)
        external
        view
        returns (uint64 boundAt, uint64 unboundAt)
    {
        Period storage p = _principalKeys[principal][key];
        return (p.boundAt, p.unboundAt);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function isPrincipalKeyBound(address principal, bytes32 key) external view returns (bool) {
        Period storage p = _principalKeys[principal][key];
        return p.boundAt != 0 && p.unboundAt == 0;
    }

    /// @inheritdoc IKyaIdentityRegistry
    function principalKeyBoundAt(address principal, bytes32 key, uint256 blockNumber) external view returns (bool) {
        return _boundAt(_principalKeys[principal][key], blockNumber);
    }

    // ---------------------------------------------------------------------------------------
    // KYA: credential revocation
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaIdentityRegistry
    function revokeCredential(uint256 agentId, bytes32 digest) external {
        _authorize(agentId);
        if (digest == bytes32(0)) revert KyaZeroValue();
        uint64 at = _revokedAt[agentId][digest];
        if (at != 0) revert KyaCredentialAlreadyRevoked(agentId, digest, at);
        _revokedAt[agentId][digest] = uint64(block.number);
        emit CredentialRevoked(agentId, digest, msg.sender);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function isRevoked(uint256 agentId, bytes32 digest) external view returns (bool) {
        return _revokedAt[agentId][digest] != 0;
    }

    /// @inheritdoc IKyaIdentityRegistry
    function revokedAt(uint256 agentId, bytes32 digest) external view returns (uint64) {
        return _revokedAt[agentId][digest];
    }

    /// @inheritdoc IKyaIdentityRegistry
    function revokeIssuedCredential(bytes32 digest) external {
        if (digest == bytes32(0)) revert KyaZeroValue();
        uint64 at = _issuerRevokedAt[msg.sender][digest];
        if (at != 0) revert KyaIssuerCredentialAlreadyRevoked(msg.sender, digest, at);
        _issuerRevokedAt[msg.sender][digest] = uint64(block.number);
        emit IssuerCredentialRevoked(msg.sender, digest);
    }

    /// @inheritdoc IKyaIdentityRegistry
    function issuerRevokedAt(address issuer, bytes32 digest) external view returns (uint64) {
        return _issuerRevokedAt[issuer][digest];
    }

    // ---------------------------------------------------------------------------------------
    // ERC-165
    // ---------------------------------------------------------------------------------------

    /// @notice ERC-165: ERC-721, ERC-721 Metadata, ERC-4906 and IKyaIdentityRegistry.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == ERC4906_INTERFACE_ID || interfaceId == type(IKyaIdentityRegistry).interfaceId
            || super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    /// @dev Mints the next agent to msg.sender, stores the URI, emits Registered and the
    ///      agentWallet MetadataSet. The caller runs the ERC-721 receiver check last.
    function _register(string memory agentURI) private returns (uint256 agentId) {
        _checkURI(bytes(agentURI).length);
        unchecked {
            agentId = _nextAgentId++;
        }
        if (bytes(agentURI).length != 0) _store(_uriBase(agentId), bytes(agentURI));
        _mint(msg.sender, agentId);
        emit Registered(agentId, agentURI, msg.sender);
        emit MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, abi.encodePacked(msg.sender));
    }

    function _setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) private {
        bytes32 keyHash = keccak256(bytes(metadataKey));
        if (keyHash == AGENT_WALLET_KEY_HASH) revert KyaReservedMetadataKey(metadataKey);
        _store(_metadataBase(agentId, keyHash), metadataValue);
        emit MetadataSet(agentId, metadataKey, metadataKey, metadataValue);
    }

    /// @dev Bounds the URI to what a snapshot keeps in full (anyone can register).
    function _checkURI(uint256 length) private pure {
        if (length > MAX_URI_LENGTH) revert KyaURITooLong(length, MAX_URI_LENGTH);
    }

    /// @dev Reverts unless msg.sender is the owner of `agentId` or approved for it.
    function _authorize(uint256 agentId) private view returns (address owner) {
        owner = _ownerOf(agentId);
        if (owner == address(0)) revert ERC721NonexistentToken(agentId);
        if (!_isAuthorized(owner, msg.sender, agentId)) revert KyaUnauthorized(msg.sender, agentId);
    }

    function _bindAgentKey(uint256 agentId, bytes32 key) private {
        if (key == bytes32(0)) revert KyaZeroValue();
        Period storage p = _agentKeys[agentId][key];
        uint64 boundAt = p.boundAt;
        if (boundAt != 0) {
            uint64 unboundAt = p.unboundAt;
            if (unboundAt == 0) revert KyaKeyAlreadyBound(agentId, key, boundAt);
            revert KyaKeyRetired(agentId, key, unboundAt);
        }
        p.boundAt = uint64(block.number);
        emit AgentKeyBound(agentId, key, msg.sender);
    }

    function _unbindAgentKey(uint256 agentId, bytes32 key) private {
        Period storage p = _agentKeys[agentId][key];
        if (p.boundAt == 0 || p.unboundAt != 0) revert KyaKeyNotBound(agentId, key);
        p.unboundAt = uint64(block.number);
        emit AgentKeyUnbound(agentId, key, msg.sender);
    }

    function _boundAt(Period storage p, uint256 blockNumber) private view returns (bool) {
        uint64 boundAt = p.boundAt;
        if (boundAt == 0 || blockNumber < boundAt) return false;
        uint64 unboundAt = p.unboundAt;
        return unboundAt == 0 || blockNumber < unboundAt;
    }

    function _agentWallet(uint256 agentId) private view returns (address) {
        uint256 record = _walletRecord[agentId];
        if (record == 0) return _ownerOf(agentId);
        // forge-lint: disable-next-line(unsafe-typecast) -- the low 160 bits hold the wallet
        return address(uint160(record));
    }

    /// @dev Clears the agent wallet on every transfer (not on mint), before any receiver call.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0) && to != address(0)) {
            _walletRecord[tokenId] = WALLET_EXPLICIT;
            emit MetadataSet(tokenId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, "");
        }
    }

    function _uriBase(uint256 agentId) private view returns (uint256 base) {
        Stream storage s = _uri[agentId];
        assembly ("memory-safe") {
            base := s.slot
        }
    }

    function _metadataBase(uint256 agentId, bytes32 keyHash) private view returns (uint256 base) {
        Stream storage s = _metadata[agentId][keyHash];
        assembly ("memory-safe") {
            base := s.slot
        }
    }

    /// @dev Stream layout: 4-byte big-endian length, then the bytes.
    function _store(uint256 base, bytes memory data) private {
        KyaPackedBytes.store(base, abi.encodePacked(uint32(data.length), data));
    }

    function _load(uint256 base) private view returns (bytes memory) {
        uint256 head;
        assembly ("memory-safe") {
            head := sload(base)
        }
        return KyaPackedBytes.load(base, 4, head >> 224);
    }
}
