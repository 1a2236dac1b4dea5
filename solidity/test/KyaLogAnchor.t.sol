// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {KyaTest} from "./utils/KyaTest.sol";
import {IKyaLogAnchor} from "../src/IKyaLogAnchor.sol";
import {KyaLogAnchor} from "../src/KyaLogAnchor.sol";

contract KyaLogAnchorTest is KyaTest {
    KyaLogAnchor internal anchor;
    address internal merchant = address(0x3E2C4A27);
    address internal attacker = address(0xBAD);
    // kya derives log ids with SHA-256 (a precompile call); keccak256 constants fold at compile time.
    bytes32 internal constant LOG = keccak256("shop.example/kya-receipts");
    bytes32 internal constant LOG2 = keccak256("shop.example/other-log");
    bytes32 internal constant ROOT1 = keccak256("root 1");
    bytes32 internal constant ROOT2 = keccak256("root 2");

    function setUp() public {
        vm.roll(100);
        anchor = new KyaLogAnchor();
    }

    function anchorAs(address who, bytes32 logId, uint64 size, bytes32 root) internal {
        vm.prank(who);
        anchor.anchorCheckpoint(logId, size, root);
    }

    function test_AnchorCheckpoint() public {
        vm.expectEmit(true, true, true, true, address(anchor));
        emit IKyaLogAnchor.CheckpointAnchored(merchant, LOG, 10, ROOT1);
        anchorAs(merchant, LOG, 10, ROOT1);
        (uint64 size, uint64 blockNumber, uint64 count) = anchor.latestCheckpoint(merchant, LOG);
        assertEq(size, 10, "size");
        assertEq(blockNumber, 100, "block");
        assertEq(count, 1, "count");

        vm.roll(105);
        vm.expectEmit(true, true, true, true, address(anchor));
        emit IKyaLogAnchor.CheckpointAnchored(merchant, LOG, 11, ROOT2);
        anchorAs(merchant, LOG, 11, ROOT2);
        (size, blockNumber, count) = anchor.latestCheckpoint(merchant, LOG);
        assertEq(size, 11, "size after the second anchor");
        assertEq(blockNumber, 105, "block after the second anchor");
        assertEq(count, 2, "count after the second anchor");
    }

    function test_LatestCheckpoint_NeverAnchored() public view {
        (uint64 size, uint64 blockNumber, uint64 count) = anchor.latestCheckpoint(merchant, LOG);
        assertEq(size + blockNumber + count, 0, "all zero");
    }

    /// @notice Another sender anchoring the same logId writes into its own namespace only.
    function test_AnchorCheckpoint_NamespacedBySender() public {
        anchorAs(merchant, LOG, 10, ROOT1);
        // The attacker "anchors" a larger, forged tree under the same log id ...
        anchorAs(attacker, LOG, 1_000_000, ROOT2);
        // ... which leaves the merchant's log untouched and blocks nothing for it.
        (uint64 size,, uint64 count) = anchor.latestCheckpoint(merchant, LOG);
        assertEq(size, 10, "merchant's size");
        assertEq(count, 1, "merchant's count");
        anchorAs(merchant, LOG, 11, ROOT2);
        (size,,) = anchor.latestCheckpoint(attacker, LOG);
        assertEq(size, 1_000_000, "attacker's own namespace");
    }

    function test_AnchorCheckpoint_LogsAreIndependent() public {
        anchorAs(merchant, LOG, 10, ROOT1);
        anchorAs(merchant, LOG2, 1, ROOT1);
        (uint64 size,,) = anchor.latestCheckpoint(merchant, LOG2);
        assertEq(size, 1, "second log starts on its own");
    }

    function test_RevertWhen_AnchorCheckpointSameSize() public {
        anchorAs(merchant, LOG, 10, ROOT1);
        vm.expectRevert(abi.encodeWithSelector(IKyaLogAnchor.KyaTreeSizeNotIncreasing.selector, merchant, LOG, 10, 10));
        anchorAs(merchant, LOG, 10, ROOT2);
    }

    function test_RevertWhen_AnchorCheckpointOldSmallerTree() public {
        anchorAs(merchant, LOG, 10, ROOT1);
        anchorAs(merchant, LOG, 20, ROOT2);
        vm.expectRevert(abi.encodeWithSelector(IKyaLogAnchor.KyaTreeSizeNotIncreasing.selector, merchant, LOG, 20, 10));
        anchorAs(merchant, LOG, 10, ROOT1);
    }

    function test_RevertWhen_AnchorCheckpointSizeZero() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaLogAnchor.KyaTreeSizeNotIncreasing.selector, merchant, LOG, 0, 0));
        anchorAs(merchant, LOG, 0, ROOT1);
    }

    function test_RevertWhen_AnchorCheckpointZeroLogId() public {
        vm.expectRevert(IKyaLogAnchor.KyaZeroLogId.selector);
        anchorAs(merchant, bytes32(0), 1, ROOT1);
    }

    function test_RevertWhen_AnchorCheckpointZeroRoot() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaLogAnchor.KyaZeroRoot.selector, LOG, 1));
        anchorAs(merchant, LOG, 1, bytes32(0));
    }

    function testFuzz_SizesStrictlyIncrease(uint64 first, uint64 second, bytes32 root) public {
        vm.assume(root != bytes32(0));
        first = uint64(bound(first, 1, type(uint64).max));
        anchorAs(merchant, LOG, first, root);
        if (second <= first) {
            vm.expectRevert(
                abi.encodeWithSelector(IKyaLogAnchor.KyaTreeSizeNotIncreasing.selector, merchant, LOG, first, second)
            );
        }
        anchorAs(merchant, LOG, second, root);
        (uint64 size,, uint64 count) = anchor.latestCheckpoint(merchant, LOG);
        assertEq(size, second > first ? second : first, "latest size");
        assertEq(count, second > first ? 2 : 1, "count");
    }

    function testFuzz_OtherSendersNeverTouchALog(address other, bytes32 logId, uint64 size) public {
        vm.assume(other != merchant && logId != bytes32(0));
        size = uint64(bound(size, 1, type(uint64).max));
        anchorAs(merchant, logId, 1, ROOT1);
        anchorAs(other, logId, size, ROOT2);
        (uint64 latest,, uint64 count) = anchor.latestCheckpoint(merchant, logId);
        assertEq(latest, 1, "merchant's size");
        assertEq(count, 1, "merchant's count");
    }

    /// @notice Gas snapshot of a log's first and second anchor (cast measures full transactions
    ///         in scripts/gas.sh).
    function test_Gas_AnchorFirstAndRepeat() public {
        anchorAs(merchant, LOG, 1000, ROOT1);
        anchorAs(merchant, LOG, 2000, ROOT2);
    }
}

/// @notice Random anchors by several senders into a few logs, with a model of each namespace.
contract AnchorHandler is KyaTest {
    KyaLogAnchor public immutable anchor;
    address[3] internal senders = [address(0xA1), address(0xA2), address(0xA3)];
    bytes32[2] internal logs = [sha256("log a"), sha256("log b")];

    mapping(address => mapping(bytes32 => uint64)) public modelSize;
    mapping(address => mapping(bytes32 => uint64)) public modelCount;
    uint256 public anchors;
    uint256 public refusals;

    constructor(KyaLogAnchor anchor_) {
        anchor = anchor_;
    }

    function sender(uint256 i) external view returns (address) {
        return senders[i];
    }

    function log(uint256 i) external view returns (bytes32) {
        return logs[i];
    }

    function advance(uint8 blocks) external {
        vm.roll(block.number + 1 + blocks);
    }

    function anchorOne(uint256 senderSeed, uint256 logSeed, uint64 size, bytes32 root) external {
        address s = senders[senderSeed % 3];
        bytes32 l = logs[logSeed % 2];
        if (root == bytes32(0)) root = bytes32(uint256(1));
        // Mostly small steps, sometimes backwards: both paths get exercised.
        size = uint64(bound(size, 0, uint256(modelSize[s][l]) + 5));
        bool expectOk = size > modelSize[s][l];
        vm.prank(s);
        try anchor.anchorCheckpoint(l, size, root) {
            require(expectOk, "a non-increasing size was accepted");
            modelSize[s][l] = size;
            ++modelCount[s][l];
            ++anchors;
        } catch {
            require(!expectOk, "an increasing size was refused");
            ++refusals;
        }
    }
}

contract KyaLogAnchorInvariantsTest is KyaTest {
    KyaLogAnchor internal anchor;
    AnchorHandler internal handler;
    uint64[3][2] internal seen;

    function setUp() public {
        vm.roll(10);
        anchor = new KyaLogAnchor();
        handler = new AnchorHandler(anchor);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Every (sender, log) holds exactly what that sender anchored: the latest size is
    ///         its own largest anchor (so it never decreases), and its count its own anchors —
    ///         no anchor ever appears under another sender.
    function invariant_EachNamespaceHoldsOnlyItsOwnAnchors() public view {
        for (uint256 i; i < 3; ++i) {
            for (uint256 j; j < 2; ++j) {
                address s = handler.sender(i);
                bytes32 l = handler.log(j);
                (uint64 size,, uint64 count) = anchor.latestCheckpoint(s, l);
                assertEq(size, handler.modelSize(s, l), "latest size");
                assertEq(count, handler.modelCount(s, l), "anchor count");
            }
        }
    }

    /// @notice The latest size of a log never goes down between two checks.
    function invariant_LatestSizeNeverDecreases() public {
        for (uint256 i; i < 3; ++i) {
            for (uint256 j; j < 2; ++j) {
                (uint64 size,,) = anchor.latestCheckpoint(handler.sender(i), handler.log(j));
                assertTrue(size >= seen[j][i], "latest size decreased");
                seen[j][i] = size;
            }
        }
    }
}
