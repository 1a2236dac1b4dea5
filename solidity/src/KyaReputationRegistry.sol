// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";

import {IKyaIdentityRegistry} from "./IKyaIdentityRegistry.sol";
import {IKyaReputationRegistry} from "./IKyaReputationRegistry.sol";
import {KyaPackedBytes} from "./utils/KyaPackedBytes.sol";

/// @title KyaReputationRegistry
/// @notice ERC-8004 Reputation Registry over a KyaIdentityRegistry (or any ERC-8004 identity
///         registry: it uses `ownerOf` and `getAgentWallet`). Non-upgradeable, no admin.
/// @dev Storage: one packed stream per feedback — value (16 bytes), valueDecimals (1),
///      revoked (1), len(tag1) (1), len(tag2) (1), tag1, tag2 — so tags totalling <= 12 bytes
///      fit the first slot. A rater's last index doubles as its "already a client" flag, and
///      raters form a linked list per agent (one slot per new rater instead of the reference's
///      mapping slot + exists flag + array slot). The reference's per-feedback responder list (never exposed by any getter) is replaced by a
///      per-feedback total, which makes "all responders" counts O(1).
contract KyaReputationRegistry is IKyaReputationRegistry {
    /// @notice Most raters one read call may visit.
    uint256 public constant MAX_CLIENTS = 128;
    /// @notice Most storage records (feedback entries, or entry x responder pairs) one read
    ///         call may visit.
    uint256 public constant MAX_SCAN = 1024;
    /// @notice Longest tag, in bytes.
    uint256 public constant MAX_TAG_LENGTH = 255;

    int128 private constant MAX_ABS_VALUE = 1e38;
    uint256 private constant HEAD_BYTES = 20;
    uint256 private constant REVOKED_BIT = 1 << 112;

    /// @dev Base slot of a feedback stream.
    struct Stream {
        uint256 head;
    }

    /// @dev A tag filter: empty tags match anything.
    struct TagFilter {
        uint256 len1;
        uint256 len2;
        bytes32 hash1;
        bytes32 hash2;
    }

    /// @dev readAllFeedback's columns.
    struct Columns {
        address[] clients;
        uint64[] feedbackIndexes;
        int128[] values;
        uint8[] valueDecimals;
        string[] tag1s;
        string[] tag2s;
        bool[] revokedStatuses;
    }

    IKyaIdentityRegistry private immutable _identity;

    /// @dev Per (agent, rater): last feedback index, and the next rater in the agent's list.
    struct Rater {
        uint64 lastIndex;
        address next;
    }

    /// @dev Per agent: the most recent new rater (list head) and the number of raters.
    struct RaterList {
        address head;
        uint64 count;
    }

    mapping(uint256 agentId => mapping(address client => Rater)) private _raters;
    mapping(uint256 agentId => RaterList) private _raterLists;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => Stream))) private _feedback;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => uint64))) private _totalResponses;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => mapping(address responder => uint64))))
        private _responseCount;

    /// @param identityRegistry The identity registry whose agents are rated.
    constructor(address identityRegistry) {
        if (identityRegistry == address(0)) revert KyaZeroIdentityRegistry();
        _identity = IKyaIdentityRegistry(identityRegistry);
    }

    /// @inheritdoc IKyaReputationRegistry
    function getIdentityRegistry() external view returns (address) {
        return address(_identity);
    }

    /// @inheritdoc IKyaReputationRegistry
    function getVersion() external pure returns (string memory) {
        return "2.0.0+kya.1";
    }

    // ---------------------------------------------------------------------------------------
    // Writes
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaReputationRegistry
    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external {
        if (valueDecimals > 18) revert KyaValueDecimalsTooLarge(valueDecimals);
        if (value > MAX_ABS_VALUE || value < -MAX_ABS_VALUE) revert KyaValueOutOfRange(value);
        if (bytes(tag1).length > MAX_TAG_LENGTH) revert KyaTagTooLong(bytes(tag1).length, MAX_TAG_LENGTH);
        if (bytes(tag2).length > MAX_TAG_LENGTH) revert KyaTagTooLong(bytes(tag2).length, MAX_TAG_LENGTH);
        // ownerOf reverts with ERC721NonexistentToken if the agent does not exist. Approvals are
        // not consulted: the owner grants them unilaterally (see giveFeedback's NatSpec).
        if (
            msg.sender == IERC721(address(_identity)).ownerOf(agentId)
                || msg.sender == _identity.getAgentWallet(agentId)
        ) {
            revert KyaSelfFeedback(msg.sender, agentId);
        }

        Rater storage rater = _raters[agentId][msg.sender];
        uint64 index;
        unchecked {
            index = rater.lastIndex + 1;
        }
        if (index == 1) {
            // New rater: prepend to the agent's list (getClients reverses it back).
            RaterList storage list = _raterLists[agentId];
            (address head, uint64 count) = (list.head, list.count);
            _raters[agentId][msg.sender] = Rater(1, head);
            unchecked {
                _raterLists[agentId] = RaterList(msg.sender, count + 1);
            }
        } else {
            rater.lastIndex = index;
        }
        _storeFeedback(_feedbackBase(agentId, msg.sender, index), value, valueDecimals, tag1, tag2);
        emit NewFeedback(
            agentId, msg.sender, index, value, valueDecimals, tag1, tag1, tag2, endpoint, feedbackURI, feedbackHash
        );
    }

    /// @inheritdoc IKyaReputationRegistry
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        _checkIndex(agentId, msg.sender, feedbackIndex);
        uint256 base = _feedbackBase(agentId, msg.sender, feedbackIndex);
        uint256 head = _sload(base);
        if (head & REVOKED_BIT != 0) revert KyaFeedbackAlreadyRevoked(agentId, msg.sender, feedbackIndex);
        assembly ("memory-safe") {
            sstore(base, or(head, REVOKED_BIT))
        }
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    /// @inheritdoc IKyaReputationRegistry
    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external {
        _checkIndex(agentId, clientAddress, feedbackIndex);
        if (bytes(responseURI).length == 0) revert KyaEmptyResponseURI();
        unchecked {
            ++_responseCount[agentId][clientAddress][feedbackIndex][msg.sender];
            ++_totalResponses[agentId][clientAddress][feedbackIndex];
        }
        emit ResponseAppended(agentId, clientAddress, feedbackIndex, msg.sender, responseURI, responseHash);
    }

    // ---------------------------------------------------------------------------------------
    // Reads
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IKyaReputationRegistry
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return _raters[agentId][clientAddress].lastIndex;
    }

    /// @inheritdoc IKyaReputationRegistry
    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _allClients(agentId, type(uint256).max);
    }

    /// @inheritdoc IKyaReputationRegistry
    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        _checkIndex(agentId, clientAddress, feedbackIndex);
        uint256 base = _feedbackBase(agentId, clientAddress, feedbackIndex);
        uint256 head = _sload(base);
        (value, valueDecimals, isRevoked) = _decode(head);
        (tag1, tag2) = _loadTags(base, head);
    }

    /// @inheritdoc IKyaReputationRegistry
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        uint256 n = clientAddresses.length;
        if (n == 0) revert KyaClientsRequired();
        if (n > MAX_CLIENTS) revert KyaTooManyClients(n, MAX_CLIENTS);
        TagFilter memory filter = _filter(tag1, tag2);

        int256 sum;
        uint64[19] memory decimalCounts;
        uint256 scanned;
        for (uint256 i; i < n; ++i) {
            address client = clientAddresses[i];
            uint64 last = _raters[agentId][client].lastIndex;
            scanned += last;
            if (scanned > MAX_SCAN) revert KyaTooManyEntries(MAX_SCAN);
            for (uint64 j = 1; j <= last; ++j) {
                uint256 base = _feedbackBase(agentId, client, j);
                uint256 head = _sload(base);
                if (head & REVOKED_BIT != 0 || !_matches(base, head, filter)) continue;
                (int128 value, uint8 decimals,) = _decode(head);
                sum += int256(value) * int256(10 ** uint256(18 - decimals));
                ++decimalCounts[decimals];
                ++count;
            }
        }
        if (count == 0) return (0, 0, 0);

        uint64 best;
        for (uint8 d; d <= 18; ++d) {
            if (decimalCounts[d] > best) {
                best = decimalCounts[d];
                summaryValueDecimals = d;
            }
        }
        int256 average = (sum / int256(uint256(count))) / int256(10 ** uint256(18 - summaryValueDecimals));
        if (average > type(int128).max || average < type(int128).min) revert KyaSummaryOverflow(average);
        // forge-lint: disable-next-line(unsafe-typecast) -- range checked on the line above
        summaryValue = int128(average);
    }

    /// @inheritdoc IKyaReputationRegistry
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
        )
    {
        address[] memory list = _clientList(agentId, clientAddresses);
        Columns memory c = _collect(agentId, list, _filter(tag1, tag2), includeRevoked);
        return (c.clients, c.feedbackIndexes, c.values, c.valueDecimals, c.tag1s, c.tag2s, c.revokedStatuses);
    }

    /// @inheritdoc IKyaReputationRegistry
    function getResponseCount(uint256 agentId, address clientAddress, uint64 feedbackIndex, address[] calldata responders)
        external
        view
        returns (uint64 count)
    {
        if (responders.length > MAX_CLIENTS) revert KyaTooManyClients(responders.length, MAX_CLIENTS);
        uint256 perEntry = responders.length == 0 ? 1 : responders.length;
        if (clientAddress != address(0) && feedbackIndex != 0) {
            return _countResponses(agentId, clientAddress, feedbackIndex, responders);
        }
        address[] memory list;
        if (clientAddress == address(0)) {
            list = _clientList(agentId, responders[:0]);
        } else {
            list = new address[](1);
            list[0] = clientAddress;
        }
        uint256 scanned;
        for (uint256 i; i < list.length; ++i) {
            uint64 last = _raters[agentId][list[i]].lastIndex;
            scanned += uint256(last) * perEntry;
            if (scanned > MAX_SCAN) revert KyaTooManyEntries(MAX_SCAN);
            for (uint64 j = 1; j <= last; ++j) {
                count += _countResponses(agentId, list[i], j, responders);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    /// @dev Writes the packed feedback stream (tag lengths already checked <= 255).
    function _storeFeedback(uint256 base, int128 value, uint8 valueDecimals, string calldata tag1, string calldata tag2)
        private
    {
        // forge-lint: disable-next-line(unsafe-typecast) -- both lengths checked <= 255
        (uint8 len1, uint8 len2) = (uint8(bytes(tag1).length), uint8(bytes(tag2).length));
        KyaPackedBytes.store(base, abi.encodePacked(value, valueDecimals, false, len1, len2, tag1, tag2));
    }

    function _checkIndex(uint256 agentId, address client, uint64 feedbackIndex) private view {
        uint64 last = _raters[agentId][client].lastIndex;
        if (feedbackIndex == 0 || feedbackIndex > last) {
            revert KyaFeedbackIndexOutOfBounds(agentId, client, feedbackIndex, last);
        }
    }

    function _countResponses(uint256 agentId, address client, uint64 feedbackIndex, address[] calldata responders)
        private
        view
        returns (uint64 count)
    {
        uint256 n = responders.length;
        if (n == 0) return _totalResponses[agentId][client][feedbackIndex];
        mapping(address => uint64) storage counts = _responseCount[agentId][client][feedbackIndex];
        for (uint256 k; k < n; ++k) {
            count += counts[responders[k]];
        }
    }

    /// @dev The caller's rater list, or every rater of the agent when it is empty; both bounded.
    function _clientList(uint256 agentId, address[] calldata clientAddresses)
        private
        view
        returns (address[] memory list)
    {
        uint256 n = clientAddresses.length;
        if (n == 0) {
            return _allClients(agentId, MAX_CLIENTS);
        }
        if (n > MAX_CLIENTS) revert KyaTooManyClients(n, MAX_CLIENTS);
        return clientAddresses;
    }

    /// @dev Every rater of `agentId` in order of first feedback; reverts above `max` raters.
    function _allClients(uint256 agentId, uint256 max) private view returns (address[] memory list) {
        RaterList storage l = _raterLists[agentId];
        uint256 n = l.count;
        if (n > max) revert KyaTooManyClients(n, max);
        list = new address[](n);
        address client = l.head;
        mapping(address => Rater) storage raters = _raters[agentId];
        while (n != 0) {
            list[--n] = client;
            client = raters[client].next;
        }
    }

    function _collect(uint256 agentId, address[] memory list, TagFilter memory filter, bool includeRevoked)
        private
        view
        returns (Columns memory c)
    {
        uint256 total;
        for (uint256 i; i < list.length; ++i) {
            total += _raters[agentId][list[i]].lastIndex;
        }
        if (total > MAX_SCAN) revert KyaTooManyEntries(MAX_SCAN);
        c.clients = new address[](total);
        c.feedbackIndexes = new uint64[](total);
        c.values = new int128[](total);
        c.valueDecimals = new uint8[](total);
        c.tag1s = new string[](total);
        c.tag2s = new string[](total);
        c.revokedStatuses = new bool[](total);
        uint256 k;
        for (uint256 i; i < list.length; ++i) {
            address client = list[i];
            uint64 last = _raters[agentId][client].lastIndex;
            for (uint64 j = 1; j <= last; ++j) {
                uint256 base = _feedbackBase(agentId, client, j);
                uint256 head = _sload(base);
                if ((!includeRevoked && head & REVOKED_BIT != 0) || !_matches(base, head, filter)) continue;
                c.clients[k] = client;
                c.feedbackIndexes[k] = j;
                (c.values[k], c.valueDecimals[k], c.revokedStatuses[k]) = _decode(head);
                (c.tag1s[k], c.tag2s[k]) = _loadTags(base, head);
                ++k;
            }
        }
        // Shrink every column to the k entries filled (memory arrays: rewrite the length word).
        address[] memory a = c.clients;
        uint64[] memory b = c.feedbackIndexes;
        int128[] memory v = c.values;
        uint8[] memory d = c.valueDecimals;
        string[] memory t1 = c.tag1s;
        string[] memory t2 = c.tag2s;
        bool[] memory r = c.revokedStatuses;
        assembly ("memory-safe") {
            mstore(a, k)
            mstore(b, k)
            mstore(v, k)
            mstore(d, k)
            mstore(t1, k)
            mstore(t2, k)
            mstore(r, k)
        }
    }

    function _filter(string calldata tag1, string calldata tag2) private pure returns (TagFilter memory f) {
        f.len1 = bytes(tag1).length;
        f.len2 = bytes(tag2).length;
        if (f.len1 != 0) f.hash1 = keccak256(bytes(tag1));
        if (f.len2 != 0) f.hash2 = keccak256(bytes(tag2));
    }

    /// @dev Whether the feedback at `base` (first word `head`) passes the tag filter.
    function _matches(uint256 base, uint256 head, TagFilter memory f) private view returns (bool) {
        uint256 len1 = (head >> 104) & 0xff;
        uint256 len2 = (head >> 96) & 0xff;
        if (f.len1 != 0 && f.len1 != len1) return false;
        if (f.len2 != 0 && f.len2 != len2) return false;
        if (f.len1 == 0 && f.len2 == 0) return true;
        bytes memory tags = KyaPackedBytes.load(base, HEAD_BYTES, len1 + len2);
        bytes32 h;
        if (f.len1 != 0) {
            assembly ("memory-safe") {
                h := keccak256(add(tags, 0x20), len1)
            }
            if (h != f.hash1) return false;
        }
        if (f.len2 != 0) {
            assembly ("memory-safe") {
                h := keccak256(add(add(tags, 0x20), len1), len2)
            }
            if (h != f.hash2) return false;
        }
        return true;
    }

    function _decode(uint256 head) private pure returns (int128 value, uint8 decimals, bool revoked) {
        // forge-lint: disable-next-line(unsafe-typecast) -- bit-field extraction
        value = int128(uint128(head >> 128));
        // forge-lint: disable-next-line(unsafe-typecast) -- bit-field extraction
        decimals = uint8(head >> 120);
        revoked = head & REVOKED_BIT != 0;
    }

    function _loadTags(uint256 base, uint256 head) private view returns (string memory tag1, string memory tag2) {
        uint256 len1 = (head >> 104) & 0xff;
        uint256 len2 = (head >> 96) & 0xff;
        tag1 = len1 == 0 ? "" : string(KyaPackedBytes.load(base, HEAD_BYTES, len1));
        tag2 = len2 == 0 ? "" : string(KyaPackedBytes.load(base, HEAD_BYTES + len1, len2));
    }

    function _feedbackBase(uint256 agentId, address client, uint64 index) private view returns (uint256 base) {
        Stream storage s = _feedback[agentId][client][index];
        assembly ("memory-safe") {
            base := s.slot
        }
    }

    function _sload(uint256 slot) private view returns (uint256 v) {
        assembly ("memory-safe") {
            v := sload(slot)
        }
    }
}
