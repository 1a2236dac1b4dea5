// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IKyaIdentityRegistry} from "./IKyaIdentityRegistry.sol";
import {IKyaValidationRegistry} from "./IKyaValidationRegistry.sol";
import {KyaPackedBytes} from "./utils/KyaPackedBytes.sol";

/// @title KyaValidationRegistry
/// @notice ERC-8004 Validation Registry over a KyaIdentityRegistry (or any ERC-8004 identity
///         registry: it asks `isAuthorizedOrOwner`). Non-upgradeable, no admin.
/// @dev Storage per request (keyed by requestKey): validator, request time and answer count in
///      one slot, then agentId and requestHash; the agent's and the validator's lists hold
///      keys; `_byHash` maps a hash to its one request (or AMBIGUOUS). Each answer is a packed
///      stream — response (1 byte), time (5), block (8), tag length (1), tag — so a tag of up
///      to 17 bytes fits its first slot; a non-zero responseHash takes one more slot.
contract KyaValidationRegistry is IKyaValidationRegistry {
    /// @notice Most requests one read call may visit.
    uint256 public constant MAX_SCAN = 1024;
    /// @notice Most validators one getSummary call may filter on.
    uint256 public constant MAX_VALIDATORS = 128;
    /// @notice Longest tag, in bytes.
    uint256 public constant MAX_TAG_LENGTH = 255;

    uint256 private constant HEAD_BYTES = 15;
    bytes32 private constant AMBIGUOUS = bytes32(uint256(1));

    struct Request {
        address validator;
        uint40 requestedAt;
        uint32 responseCount;
        uint256 agentId;
        bytes32 requestHash;
    }

    /// @dev Base slot of an answer stream.
    struct Stream {
        uint256 head;
    }

    IKyaIdentityRegistry private immutable _identity;

    mapping(bytes32 key => Request) private _requests;
    mapping(bytes32 requestHash => bytes32 key) private _byHash;
    mapping(uint256 agentId => bytes32[] keys) private _agentRequests;
    mapping(address validator => bytes32[] keys) private _validatorRequests;
    mapping(bytes32 key => mapping(uint256 index => Stream)) private _responses;
    mapping(bytes32 key => mapping(uint256 index => bytes32)) private _responseHashes;

    /// @param identityRegistry The identity registry whose agents are validated.
    constructor(address identityRegistry) {
        if (identityRegistry == address(0)) revert KyaZeroIdentityRegistry();
        _identity = IKyaIdentityRegistry(identityRegistry);
    }

    /// @inheritdoc IKyaValidationRegistry
    function getIdentityRegistry() external view returns (address) {
        return address(_identity);
    }

    /// @inheritdoc IKyaValidationRegistry
    function getVersion() external pure returns (string memory) {
        return "2.0.0+kya.1";
    }

    /// @inheritdoc IKyaValidationRegistry
    function requestKey(uint256 agentId, address validatorAddress, bytes32 requestHash) public pure returns (bytes32) {
        return keccak256(abi.encode(agentId, validatorAddress, requestHash));
    }

    // ---------------------------------------------------------------------------------------
    // Writes
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaValidationRegistry
    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external {
        if (validatorAddress == address(0)) revert KyaInvalidValidator(validatorAddress);
        // Reverts with ERC721NonexistentToken for an unknown agent.
        if (!_identity.isAuthorizedOrOwner(msg.sender, agentId)) revert KyaUnauthorized(msg.sender, agentId);
        bytes32 key = requestKey(agentId, validatorAddress, requestHash);
        Request storage r = _requests[key];
        if (r.validator != address(0)) revert KyaRequestExists(agentId, validatorAddress, requestHash);

        // forge-lint: disable-next-line(block-timestamp) -- a record of when, not a decision
        _requests[key] = Request(validatorAddress, uint40(block.timestamp), 0, agentId, requestHash);
        _agentRequests[agentId].push(key);
        _validatorRequests[validatorAddress].push(key);
        bytes32 known = _byHash[requestHash];
        if (known == bytes32(0)) {
            _byHash[requestHash] = key;
        } else if (known != AMBIGUOUS) {
            _byHash[requestHash] = AMBIGUOUS;
        }
        emit ValidationRequest(validatorAddress, agentId, requestURI, requestHash);
    }

    /// @inheritdoc IKyaValidationRegistry
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        bytes32 key = _soleKey(requestHash);
        Request storage r = _requests[key];
        if (r.validator != msg.sender) revert KyaNotValidator(msg.sender, r.validator);
        _respond(key, r, response, responseURI, responseHash, tag);
    }

    /// @inheritdoc IKyaValidationRegistry
    function validationResponseFor(
        uint256 agentId,
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        bytes32 key = requestKey(agentId, msg.sender, requestHash);
        Request storage r = _requests[key];
        if (r.validator == address(0)) revert KyaUnknownRequest(agentId, msg.sender, requestHash);
        _respond(key, r, response, responseURI, responseHash, tag);
    }

    // ---------------------------------------------------------------------------------------
    // Reads
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaValidationRegistry
    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        return _status(_soleKey(requestHash));
    }

    /// @inheritdoc IKyaValidationRegistry
    function getValidationStatusFor(uint256 agentId, address validatorAddress, bytes32 requestHash)
        external
        view
        returns (
            address validator,
            uint256 agent,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        return _status(_existingKey(agentId, validatorAddress, requestHash));
    }

    /// @inheritdoc IKyaValidationRegistry
    function getValidationRequest(uint256 agentId, address validatorAddress, bytes32 requestHash)
        external
        view
        returns (uint64 requestedAt, uint32 responseCount)
    {
        Request storage r = _requests[_existingKey(agentId, validatorAddress, requestHash)];
        return (r.requestedAt, r.responseCount);
    }

    /// @inheritdoc IKyaValidationRegistry
    function getValidationResponse(uint256 agentId, address validatorAddress, bytes32 requestHash, uint256 index)
        external
        view
        returns (uint8 response, bytes32 responseHash, string memory tag, uint64 respondedAt, uint64 blockNumber)
    {
        bytes32 key = _existingKey(agentId, validatorAddress, requestHash);
        uint256 count = _requests[key].responseCount;
        if (index >= count) revert KyaResponseIndexOutOfBounds(key, index, count);
        return _answer(key, index);
    }

    /// @inheritdoc IKyaValidationRegistry
    function getSummary(uint256 agentId, address[] calldata validatorAddresses, string calldata tag)
        external
        view
        returns (uint64 count, uint8 avgResponse)
    {
        uint256 nv = validatorAddresses.length;
        if (nv > MAX_VALIDATORS) revert KyaTooManyValidators(nv, MAX_VALIDATORS);
        bytes32[] storage keys = _agentRequests[agentId];
        uint256 n = keys.length;
        if (n > MAX_SCAN) revert KyaTooManyEntries(n, MAX_SCAN);
        bytes32 tagHash = keccak256(bytes(tag));
        bool anyTag = bytes(tag).length == 0;
        uint256 total;
        for (uint256 i; i < n; ++i) {
            bytes32 key = keys[i];
            Request storage r = _requests[key];
            uint256 answers = r.responseCount;
            if (answers == 0 || !_listed(r.validator, validatorAddresses)) continue;
            (uint8 response,, string memory t,,) = _answer(key, answers - 1);
            if (!anyTag && keccak256(bytes(t)) != tagHash) continue;
            total += response;
            ++count;
        }
        // forge-lint: disable-next-line(unsafe-typecast) -- an average of values <= 100
        if (count != 0) avgResponse = uint8(total / count);
    }

    /// @inheritdoc IKyaValidationRegistry
    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory) {
        return _hashes(_agentRequests[agentId]);
    }

    /// @inheritdoc IKyaValidationRegistry
    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory) {
        return _hashes(_validatorRequests[validatorAddress]);
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    function _respond(
        bytes32 key,
        Request storage r,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) private {
        if (response > 100) revert KyaResponseOutOfRange(response);
        uint256 len = bytes(tag).length;
        if (len > MAX_TAG_LENGTH) revert KyaTagTooLong(len, MAX_TAG_LENGTH);
        uint256 index = r.responseCount++;
        // forge-lint: disable-next-line(unsafe-typecast) -- len checked <= 255 above
        bytes memory stream = abi.encodePacked(response, uint40(block.timestamp), uint64(block.number), uint8(len), tag);
        KyaPackedBytes.store(_base(key, index), stream);
        if (responseHash != bytes32(0)) _responseHashes[key][index] = responseHash;
        emit ValidationResponse(r.validator, r.agentId, r.requestHash, response, responseURI, responseHash, tag);
    }

    /// @dev The one request named by `requestHash`.
    function _soleKey(bytes32 requestHash) private view returns (bytes32 key) {
        key = _byHash[requestHash];
        if (key == bytes32(0)) revert KyaUnknownRequestHash(requestHash);
        if (key == AMBIGUOUS) revert KyaAmbiguousRequestHash(requestHash);
    }

    function _existingKey(uint256 agentId, address validatorAddress, bytes32 requestHash)
        private
        view
        returns (bytes32 key)
    {
        key = requestKey(agentId, validatorAddress, requestHash);
        if (_requests[key].validator == address(0)) revert KyaUnknownRequest(agentId, validatorAddress, requestHash);
    }

    function _status(bytes32 key)
        private
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        Request storage r = _requests[key];
        (validatorAddress, agentId, lastUpdate) = (r.validator, r.agentId, r.requestedAt);
        uint256 answers = r.responseCount;
        if (answers != 0) {
            uint64 respondedAt;
            (response, responseHash, tag, respondedAt,) = _answer(key, answers - 1);
            lastUpdate = respondedAt;
        }
    }

    function _answer(bytes32 key, uint256 index)
        private
        view
        returns (uint8 response, bytes32 responseHash, string memory tag, uint64 respondedAt, uint64 blockNumber)
    {
        uint256 base = _base(key, index);
        uint256 head;
        assembly ("memory-safe") {
            head := sload(base)
        }
        // forge-lint: disable-start(unsafe-typecast) -- bit-field extraction
        response = uint8(head >> 248);
        respondedAt = uint64(uint40(head >> 208));
        blockNumber = uint64(head >> 144);
        uint256 len = uint8(head >> 136);
        // forge-lint: disable-end(unsafe-typecast)
        tag = len == 0 ? "" : string(KyaPackedBytes.load(base, HEAD_BYTES, len));
        responseHash = _responseHashes[key][index];
    }

    /// @dev The request hashes of `keys`, bounded by MAX_SCAN.
    function _hashes(bytes32[] storage keys) private view returns (bytes32[] memory out) {
        uint256 n = keys.length;
        if (n > MAX_SCAN) revert KyaTooManyEntries(n, MAX_SCAN);
        out = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            out[i] = _requests[keys[i]].requestHash;
        }
    }

    function _listed(address validator, address[] calldata list) private pure returns (bool) {
        uint256 n = list.length;
        if (n == 0) return true;
        for (uint256 j; j < n; ++j) {
            if (list[j] == validator) return true;
        }
        return false;
    }

    function _base(bytes32 key, uint256 index) private view returns (uint256 base) {
        Stream storage s = _responses[key][index];
        assembly ("memory-safe") {
            base := s.slot
        }
    }
}
