// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IKyaValidationRegistry
/// @notice ERC-8004 Validation Registry (ABI- and event-compatible with the ERC-8004 reference
///         `ValidationRegistryUpgradeable`): an agent's owner or operator asks a validator
///         (re-execution, TEE attestation, zk proof) to check a piece of the agent's work named
///         by `requestHash`, and the validator answers on chain with a score from 0 to 100.
///         kya uses a receipt's digest (SHA-256 over its signed bytes) as `requestHash`, so an
///         auditor reads the merchant's receipt and the validators' verdicts together.
/// @dev Changes from the reference, all within its ABI (plus kya-only functions):
///      - Unforgeable request keys. The reference keys a request by `requestHash` alone, first
///        come first served: whoever sees a pending request (or a public receipt) can register
///        the same hash first for their own agent and validator, binding the hash to them and
///        locking the real agent out. Here a request is keyed by (agentId, validator,
///        requestHash) — `requestKey` — and only the agent's owner or operator can create keys
///        under its agentId, so nobody can take or block another agent's request. The
///        reference's hash-only functions (`validationResponse(bytes32,…)`,
///        `getValidationStatus(bytes32)`) still work while a hash names exactly one request;
///        once it names several they revert with KyaAmbiguousRequestHash, and the explicit
///        forms (`validationResponseFor`, `getValidationStatusFor`) always work.
///      - Append-only answers. The reference overwrites a response in place, so its state only
///        ever shows the latest answer. The ERC-8004 text lets a validator answer again
///        ("soft" then "hard" finality), so answers may follow each other, but none is ever
///        overwritten: every answer is kept with its block and time
///        (`getValidationResponse`), and `getValidationStatus` shows the latest. A verdict as
///        of a time is fixed forever.
///      - Bounded reads: lists and summaries visit at most MAX_SCAN requests (KyaTooManyEntries)
///        and at most MAX_VALIDATORS validators (KyaTooManyValidators); read events for more.
///      - Tags are at most MAX_TAG_LENGTH (255) bytes; custom errors with arguments.
interface IKyaValidationRegistry {
    /// @notice The owner or an operator of `agentId` asked `validatorAddress` to validate the
    ///         work named by `requestHash` (details at `requestURI`).
    event ValidationRequest(
        address indexed validatorAddress, uint256 indexed agentId, string requestURI, bytes32 indexed requestHash
    );

    /// @notice `validatorAddress` answered the request (`agentId`, `validatorAddress`,
    ///         `requestHash`) with `response` (0 failed … 100 passed).
    event ValidationResponse(
        address indexed validatorAddress,
        uint256 indexed agentId,
        bytes32 indexed requestHash,
        uint8 response,
        string responseURI,
        bytes32 responseHash,
        string tag
    );

    /// @notice The identity registry address is zero.
    error KyaZeroIdentityRegistry();
    /// @notice The validator address is zero.
    error KyaInvalidValidator(address validator);
    /// @notice `caller` is neither the owner of `agentId` nor approved for it.
    error KyaUnauthorized(address caller, uint256 agentId);
    /// @notice The request (`agentId`, `validator`, `requestHash`) exists already.
    error KyaRequestExists(uint256 agentId, address validator, bytes32 requestHash);
    /// @notice No request (`agentId`, `validator`, `requestHash`).
    error KyaUnknownRequest(uint256 agentId, address validator, bytes32 requestHash);
    /// @notice No request has `requestHash`.
    error KyaUnknownRequestHash(bytes32 requestHash);
    /// @notice `requestHash` names several requests: use the forms that name the agent and
    ///         the validator.
    error KyaAmbiguousRequestHash(bytes32 requestHash);
    /// @notice `caller` is not `validator`, the request's validator.
    error KyaNotValidator(address caller, address validator);
    /// @notice A response is at most 100.
    error KyaResponseOutOfRange(uint8 response);
    /// @notice A tag is longer than `maxLength` bytes.
    error KyaTagTooLong(uint256 length, uint256 maxLength);
    /// @notice Answer `index` does not exist; the request has `count` answers.
    error KyaResponseIndexOutOfBounds(bytes32 requestKey, uint256 index, uint256 count);
    /// @notice More than `maxValidators` validators in one call.
    error KyaTooManyValidators(uint256 count, uint256 maxValidators);
    /// @notice More than `maxEntries` requests would be visited in one call.
    error KyaTooManyEntries(uint256 count, uint256 maxEntries);

    /// @notice Asks `validatorAddress` to validate the work named by `requestHash` for
    ///         `agentId`. The caller must be the agent's owner or operator (else KyaUnauthorized;
    ///         an unknown agent reverts in the identity registry with ERC721NonexistentToken).
    /// @dev Reverts with KyaRequestExists if (agentId, validatorAddress, requestHash) was asked
    ///      before; the same hash may be asked of several validators, and for several agents.
    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external;

    /// @notice Answers the one request named by `requestHash` (the reference's form). The
    ///         caller must be its validator.
    /// @dev Reverts with KyaAmbiguousRequestHash when the hash names several requests: use
    ///      validationResponseFor.
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external;

    /// @notice Answers the request (`agentId`, `msg.sender`, `requestHash`). Answers are
    ///         appended: an earlier one stays readable with its block and time.
    function validationResponseFor(
        uint256 agentId,
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external;

    /// @notice The one request named by `requestHash` with its latest answer (zeros and an
    ///         empty tag before any); `lastUpdate` is the latest answer's time, else the
    ///         request's. Reverts KyaUnknownRequestHash / KyaAmbiguousRequestHash.
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
        );

    /// @notice As getValidationStatus, for the request (`agentId`, `validatorAddress`,
    ///         `requestHash`) (KyaUnknownRequest if there is none).
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
        );

    /// @notice When the request was made (block time) and how many answers it has.
    function getValidationRequest(uint256 agentId, address validatorAddress, bytes32 requestHash)
        external
        view
        returns (uint64 requestedAt, uint32 responseCount);

    /// @notice Answer `index` (0-based, in the order given) of a request.
    function getValidationResponse(uint256 agentId, address validatorAddress, bytes32 requestHash, uint256 index)
        external
        view
        returns (uint8 response, bytes32 responseHash, string memory tag, uint64 respondedAt, uint64 blockNumber);

    /// @notice Number of answered requests of `agentId` (latest answers) from
    ///         `validatorAddresses` (empty = any) with `tag` (empty = any), and their average.
    /// @dev An empty validator list counts validators the agent's owner chose; pass the
    ///      validators you trust.
    function getSummary(uint256 agentId, address[] calldata validatorAddresses, string calldata tag)
        external
        view
        returns (uint64 count, uint8 avgResponse);

    /// @notice The request hashes of `agentId`, in request order (a hash asked of two
    ///         validators appears twice).
    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory);

    /// @notice The request hashes addressed to `validatorAddress`, in request order.
    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory);

    /// @notice The key of the request (`agentId`, `validatorAddress`, `requestHash`):
    ///         keccak256(abi.encode(agentId, validatorAddress, requestHash)).
    function requestKey(uint256 agentId, address validatorAddress, bytes32 requestHash) external pure returns (bytes32);

    /// @notice The identity registry whose agents are validated.
    function getIdentityRegistry() external view returns (address);

    /// @notice Implementation version string.
    function getVersion() external pure returns (string memory);
}
