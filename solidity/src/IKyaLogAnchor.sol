// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IKyaLogAnchor
/// @notice Anchors transparency-log checkpoints (RFC 9162 tree size and root hash) on chain, one
///         cheap transaction each, so that anyone can later prove when a log had a given size
///         and root, and that its operator did not go back to a smaller tree.
/// @dev Namespaces. A log is named by (anchorer, logId): `anchorer` is always `msg.sender`, so
///      nobody can write into another party's namespace; readers name the anchorer they trust
///      (e.g. the merchant's anchoring wallet). `logId` is chosen by the anchorer; kya uses
///      SHA-256 of the log's checkpoint origin line (the first line of a C2SP tlog-checkpoint,
///      UTF-8, without its newline), so one wallet can anchor several logs and a reader derives
///      the id from the checkpoint itself.
///
///      Monotonic sizes. Per (anchorer, logId) the tree size must strictly increase, so an old,
///      smaller tree can never be anchored again later (a rollback shows as a revert, not as a
///      second history). Whether two anchored roots are consistent is checked off chain with a
///      consistency proof between them.
///
///      Storage is one slot per log: the latest size, the block it was anchored in and the
///      number of anchors. Roots live only in the CheckpointAnchored events (storing the root
///      would cost a second slot, 22,100 gas more on a log's first anchor); `latestCheckpoint`
///      gives the block where the latest root's event is.
interface IKyaLogAnchor {
    /// @notice `anchorer` anchored the checkpoint (`treeSize`, `root`) of its log `logId`.
    event CheckpointAnchored(address indexed anchorer, bytes32 indexed logId, uint64 treeSize, bytes32 root);

    /// @notice `treeSize` is not above `latestTreeSize`, the size last anchored for
    ///         (`anchorer`, `logId`) (0 when none: the first size must be at least 1).
    error KyaTreeSizeNotIncreasing(address anchorer, bytes32 logId, uint64 latestTreeSize, uint64 treeSize);
    /// @notice A log id of zero is never valid.
    error KyaZeroLogId();
    /// @notice A root of zero is never valid (the empty tree's root is SHA-256 of nothing).
    error KyaZeroRoot(bytes32 logId, uint64 treeSize);

    /// @notice Anchors the checkpoint (`treeSize`, `root`) of the caller's log `logId`.
    /// @dev Reverts with KyaTreeSizeNotIncreasing unless `treeSize` is above the caller's latest
    ///      size for `logId`; with KyaZeroLogId / KyaZeroRoot for zero values.
    /// @param logId The log's id in the caller's namespace (kya: SHA-256 of the origin line).
    /// @param treeSize The checkpoint's tree size (number of leaves).
    /// @param root The checkpoint's root hash (RFC 9162 Merkle tree hash).
    function anchorCheckpoint(bytes32 logId, uint64 treeSize, bytes32 root) external;

    /// @notice The latest anchor of (`anchorer`, `logId`): its tree size, the block whose
    ///         CheckpointAnchored event holds its root, and how many anchors the log has. All
    ///         zero when the log was never anchored.
    function latestCheckpoint(address anchorer, bytes32 logId)
        external
        view
        returns (uint64 treeSize, uint64 blockNumber, uint64 anchorCount);
}
