// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IKyaLogAnchor} from "./IKyaLogAnchor.sol";

/// @title KyaLogAnchor
/// @notice Transparency-log checkpoint anchoring: per (anchorer, logId), strictly increasing
///         tree sizes, roots in events. Non-upgradeable, no admin, no owner.
contract KyaLogAnchor is IKyaLogAnchor {
    /// @dev One slot per log.
    struct Latest {
        uint64 treeSize;
        uint64 blockNumber;
        uint64 anchorCount;
    }

    mapping(address anchorer => mapping(bytes32 logId => Latest)) private _latest;

    /// @inheritdoc IKyaLogAnchor
    function anchorCheckpoint(bytes32 logId, uint64 treeSize, bytes32 root) external {
        if (logId == bytes32(0)) revert KyaZeroLogId();
        if (root == bytes32(0)) revert KyaZeroRoot(logId, treeSize);
        Latest storage latest = _latest[msg.sender][logId];
        (uint64 latestSize, uint64 count) = (latest.treeSize, latest.anchorCount);
        if (treeSize <= latestSize) revert KyaTreeSizeNotIncreasing(msg.sender, logId, latestSize, treeSize);
        // Block numbers and a count of anchors (each needs a transaction) stay far below 2^64.
        unchecked {
            _latest[msg.sender][logId] = Latest(treeSize, uint64(block.number), count + 1);
        }
        emit CheckpointAnchored(msg.sender, logId, treeSize, root);
    }

    /// @inheritdoc IKyaLogAnchor
    function latestCheckpoint(address anchorer, bytes32 logId)
        external
        view
        returns (uint64 treeSize, uint64 blockNumber, uint64 anchorCount)
    {
        Latest storage latest = _latest[anchorer][logId];
        return (latest.treeSize, latest.blockNumber, latest.anchorCount);
    }
}
