// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IKyaReputationRegistry
/// @notice ERC-8004 Reputation Registry (ABI- and event-compatible with the ERC-8004 reference
///         `ReputationRegistryUpgradeable`). Raters ("clients") give scored, tagged feedback to
///         agents of the identity registry; readers summarise it over the raters they trust.
/// @dev Changes from the reference, all within its ABI:
///      - Bounded work per call. Every read that loops is capped: at most MAX_CLIENTS raters per
///        call (getSummary / readAllFeedback / getResponseCount, including the "all raters"
///        forms) and at most MAX_SCAN feedback entries visited per call; beyond that the call
///        reverts (KyaTooManyClients / KyaTooManyEntries) instead of running out of gas
///        unpredictably. Page with readFeedback / explicit rater lists instead.
///      - getSummary requires a non-empty, caller-chosen rater set (as the reference does since
///        v2): an unfiltered average is Sybil-prone by construction.
///      - Tags are at most 255 bytes each (they are short labels; the bound keeps storage
///        compact). Tags, value, decimals and the revoked flag are packed: a feedback whose two
///        tags total at most 12 bytes uses a single storage slot.
///      - getSummary reverts (KyaSummaryOverflow) instead of silently truncating an average
///        that does not fit in int128 at the chosen decimals.
///      - Custom errors with arguments instead of revert strings.
///      - Self-feedback means the agent's owner or its agent wallet, not accounts the owner
///        approved: an approval cannot be used to silence a rater (see giveFeedback).
interface IKyaReputationRegistry {
    /// @notice `clientAddress` gave feedback number `feedbackIndex` (1-based, per agent and
    ///         rater) to `agentId`. `endpoint`, `feedbackURI` and `feedbackHash` are only logged.
    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );

    /// @notice `clientAddress` revoked its feedback `feedbackIndex` to `agentId`.
    event FeedbackRevoked(uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex);

    /// @notice `responder` appended a response to feedback (`agentId`, `clientAddress`,
    ///         `feedbackIndex`).
    event ResponseAppended(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        address indexed responder,
        string responseURI,
        bytes32 responseHash
    );

    /// @notice The identity registry address is zero.
    error KyaZeroIdentityRegistry();
    /// @notice `caller` owns `agentId` or is its agent wallet, and may not rate it.
    error KyaSelfFeedback(address caller, uint256 agentId);
    /// @notice valueDecimals must be at most 18.
    error KyaValueDecimalsTooLarge(uint8 valueDecimals);
    /// @notice |value| must be at most 1e38.
    error KyaValueOutOfRange(int128 value);
    /// @notice A tag is longer than `maxLength` bytes.
    error KyaTagTooLong(uint256 length, uint256 maxLength);
    /// @notice `feedbackIndex` is 0 or above `lastIndex` for (`agentId`, `clientAddress`).
    error KyaFeedbackIndexOutOfBounds(uint256 agentId, address clientAddress, uint64 feedbackIndex, uint64 lastIndex);
    /// @notice The feedback was already revoked.
    error KyaFeedbackAlreadyRevoked(uint256 agentId, address clientAddress, uint64 feedbackIndex);
    /// @notice appendResponse needs a non-empty responseURI.
    error KyaEmptyResponseURI();
    /// @notice getSummary needs a non-empty rater set.
    error KyaClientsRequired();
    /// @notice More than `maxClients` raters in one call.
    error KyaTooManyClients(uint256 count, uint256 maxClients);
    /// @notice More than `maxEntries` feedback entries would be visited in one call.
    error KyaTooManyEntries(uint256 maxEntries);
    /// @notice The summary average does not fit in int128 at the chosen decimals.
    error KyaSummaryOverflow(int256 average);

    /// @notice Gives feedback to `agentId`. The agent must exist and `msg.sender` must be
    ///         neither its owner nor its agent wallet. `valueDecimals` <= 18, |value| <= 1e38,
    ///         tags <= 255 bytes each.
    /// @dev Unlike the ERC-8004 reference, accounts the owner approved (`approve`,
    ///      `setApprovalForAll`) may rate: an approval is granted by the owner alone, without
    ///      the approved account's consent, so excluding approved accounts would let an owner
    ///      silence any rater by approving it (even for one block, ahead of its feedback). The
    ///      owner and the agent wallet (which consented by signing) are the accounts the agent
    ///      provably speaks through. An owner can still rate through another address: the
    ///      reader's choice of trusted raters, not this check, is the defence against Sybils.
    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external;

    /// @notice Revokes the caller's own feedback `feedbackIndex` to `agentId`. Irreversible.
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external;

    /// @notice Appends a response (by anyone, e.g. the agent or an auditor) to an existing
    ///         feedback. `responseURI` must be non-empty.
    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external;

    /// @notice The identity registry this registry rates agents of.
    function getIdentityRegistry() external view returns (address);

    /// @notice Number of feedback entries `clientAddress` gave `agentId` (its last index).
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64);

    /// @notice One feedback entry (1-based index).
    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked);

    /// @notice Average of the non-revoked feedback from `clientAddresses` (non-empty, at most
    ///         MAX_CLIENTS) matching `tag1`/`tag2` (empty = any). Values are normalised to 18
    ///         decimals, averaged, and expressed at the most frequent valueDecimals (ties: the
    ///         smallest). (0, 0, 0) when nothing matches.
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals);

    /// @notice All feedback from `clientAddresses` (empty = every rater of the agent) matching
    ///         the tags, in rater then index order. Bounded by MAX_CLIENTS and MAX_SCAN.
    function readAllFeedback(
        uint256 agentId,
        address[] calldata clientAddresses,
        string calldata tag1,
        string calldata tag2,
        bool includeRevoked
    )
        external
        view
        returns (
            address[] memory clients,
            uint64[] memory feedbackIndexes,
            int128[] memory values,
            uint8[] memory valueDecimals,
            string[] memory tag1s,
            string[] memory tag2s,
            bool[] memory revokedStatuses
        );

    /// @notice Number of responses: to one feedback; to every feedback of `clientAddress` when
    ///         `feedbackIndex` is 0; to every feedback of the agent when `clientAddress` is 0.
    ///         Counts only `responders` when non-empty. Bounded by MAX_CLIENTS and MAX_SCAN.
    function getResponseCount(uint256 agentId, address clientAddress, uint64 feedbackIndex, address[] calldata responders)
        external
        view
        returns (uint64 count);

    /// @notice Every rater that ever gave feedback to `agentId`, in order of first feedback.
    function getClients(uint256 agentId) external view returns (address[] memory);

    /// @notice Implementation version string.
    function getVersion() external pure returns (string memory);
}
