// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {IKyaReputationRegistry} from "../src/IKyaReputationRegistry.sol";
import {KyaReputationRegistry} from "../src/KyaReputationRegistry.sol";

contract KyaReputationRegistryTest is Fixture {
    uint256 internal agent;
    string internal constant ENDPOINT = "https://agent.example.com/mcp";
    string internal constant FB_URI = "ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    bytes32 internal constant FB_HASH = keccak256("feedback file");

    function setUp() public override {
        super.setUp();
        agent = registerAs(alice);
    }

    function give(address from, int128 value, uint8 decimals, string memory tag1, string memory tag2) internal {
        vm.prank(from);
        rep.giveFeedback(agent, value, decimals, tag1, tag2, ENDPOINT, FB_URI, FB_HASH);
    }

    function raters(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function raters(address a, address b) internal pure returns (address[] memory list) {
        list = new address[](2);
        list[0] = a;
        list[1] = b;
    }

    // -----------------------------------------------------------------------------------------
    // constructor / getters
    // -----------------------------------------------------------------------------------------

    function test_Constructor() public view {
        assertEq(rep.getIdentityRegistry(), address(id), "identity");
        assertEq(rep.getVersion(), "2.0.0+kya.1", "version");
        assertEq(rep.MAX_CLIENTS(), 128, "max clients");
    }

    function test_RevertWhen_ConstructorZeroIdentity() public {
        vm.expectRevert(IKyaReputationRegistry.KyaZeroIdentityRegistry.selector);
        new KyaReputationRegistry(address(0));
    }

    // -----------------------------------------------------------------------------------------
    // giveFeedback
    // -----------------------------------------------------------------------------------------

    function test_GiveFeedback() public {
        vm.expectEmit(true, true, true, true, address(rep));
        emit IKyaReputationRegistry.NewFeedback(
            agent, rater, 1, 87, 0, "starred", "starred", "", ENDPOINT, FB_URI, FB_HASH
        );
        give(rater, 87, 0, "starred", "");
        give(rater, -5, 2, "a-rather-long-first-tag-over-32-bytes", "and-a-second-one");
        assertEq(rep.getLastIndex(agent, rater), 2, "last index");
        address[] memory clients = rep.getClients(agent);
        assertEq(clients.length, 1, "one client");
        assertEq(clients[0], rater, "client");
        (int128 v, uint8 d, string memory t1, string memory t2, bool revoked) = rep.readFeedback(agent, rater, 1);
        assertEq(v, 87, "v1");
        assertEq(d, 0, "d1");
        assertEq(t1, "starred", "t1");
        assertEq(t2, "", "t2");
        assertFalse(revoked, "r1");
        (v, d, t1, t2, revoked) = rep.readFeedback(agent, rater, 2);
        assertEq(v, -5, "v2");
        assertEq(d, 2, "d2");
        assertEq(t1, "a-rather-long-first-tag-over-32-bytes", "t1 long");
        assertEq(t2, "and-a-second-one", "t2 long");
        give(rater2, 1, 0, "", "");
        assertEq(rep.getClients(agent).length, 2, "two clients");
    }

    function test_RevertWhen_GiveFeedbackByOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaSelfFeedback.selector, alice, agent));
        give(alice, 1, 0, "", "");
    }

    function test_RevertWhen_GiveFeedbackByAgentWallet() public {
        // The agent wallet starts as the registrant; set an explicit one that is not the owner.
        uint256 deadline = block.timestamp + 60;
        bytes memory sig = signWallet(WALLET_PK, agent, alice, deadline);
        vm.prank(alice);
        id.setAgentWallet(agent, wallet, deadline, sig);
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaSelfFeedback.selector, wallet, agent));
        give(wallet, 1, 0, "", "");
    }

    /// @dev The censorship trick: the owner approves a rater (per token or as operator), even
    ///      for a single block, to make its feedback revert. Approval no longer excludes.
    function test_GiveFeedback_ApprovalCannotCensorRater() public {
        vm.startPrank(alice);
        id.approve(rater, agent);
        id.setApprovalForAll(rater2, true);
        vm.stopPrank();
        give(rater, 40, 0, "", "");
        give(rater2, 60, 0, "", "");
        assertEq(rep.getLastIndex(agent, rater), 1, "approved rater's feedback recorded");
        assertEq(rep.getLastIndex(agent, rater2), 1, "operator rater's feedback recorded");
        (uint64 count, int128 avg,) = rep.getSummary(agent, raters(rater, rater2), "", "");
        assertEq(count, 2, "both count");
        assertEq(avg, 50, "average");
    }

    function test_RevertWhen_GiveFeedbackByNewOwnerAfterTransfer() public {
        // The check follows the current owner: the new owner is refused, the old one may rate.
        vm.prank(alice);
        id.transferFrom(alice, bob, agent);
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaSelfFeedback.selector, bob, agent));
        give(bob, 1, 0, "", "");
        give(alice, 1, 0, "", "");
        assertEq(rep.getLastIndex(agent, alice), 1, "former owner rated");
    }

    function test_RevertWhen_GiveFeedbackUnknownAgent() public {
        vm.expectRevert(nonexistent(99));
        vm.prank(rater);
        rep.giveFeedback(99, 1, 0, "", "", "", "", bytes32(0));
    }

    function test_RevertWhen_GiveFeedbackDecimalsTooLarge() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaValueDecimalsTooLarge.selector, uint8(19)));
        give(rater, 1, 19, "", "");
    }

    function test_RevertWhen_GiveFeedbackValueTooLarge() public {
        int128 v = 1e38 + 1;
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaValueOutOfRange.selector, v));
        give(rater, v, 0, "", "");
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaValueOutOfRange.selector, -v));
        give(rater, -v, 0, "", "");
        give(rater, 1e38, 0, "", "");
        give(rater, -1e38, 0, "", "");
    }

    function test_RevertWhen_GiveFeedbackTagTooLong() public {
        bytes memory long = new bytes(256);
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTagTooLong.selector, 256, 255));
        give(rater, 1, 0, string(long), "");
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTagTooLong.selector, 256, 255));
        give(rater, 1, 0, "", string(long));
    }

    function testFuzz_FeedbackRoundTrip(int128 value, uint8 decimals, bytes memory tag1, bytes memory tag2) public {
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded to [-1e38, 1e38]
        value = int128(int256(bound(uint256(int256(value) + 1e38), 0, 2e38)) - 1e38);
        decimals = uint8(bound(decimals, 0, 18));
        vm.assume(tag1.length <= 255 && tag2.length <= 255);
        give(rater, value, decimals, string(tag1), string(tag2));
        (int128 v, uint8 d, string memory t1, string memory t2, bool revoked) = rep.readFeedback(agent, rater, 1);
        assertEq(v, value, "value");
        assertEq(d, decimals, "decimals");
        assertEq(t1, string(tag1), "tag1");
        assertEq(t2, string(tag2), "tag2");
        assertFalse(revoked, "revoked");
    }

    // -----------------------------------------------------------------------------------------
    // revokeFeedback
    // -----------------------------------------------------------------------------------------

    function test_RevokeFeedback() public {
        give(rater, 10, 0, "x", "y");
        vm.expectEmit(true, true, true, true, address(rep));
        emit IKyaReputationRegistry.FeedbackRevoked(agent, rater, 1);
        vm.prank(rater);
        rep.revokeFeedback(agent, 1);
        (int128 v,, string memory t1,, bool revoked) = rep.readFeedback(agent, rater, 1);
        assertTrue(revoked, "revoked");
        assertEq(v, 10, "value kept");
        assertEq(t1, "x", "tag kept");
    }

    function test_RevertWhen_RevokeFeedbackIndexZero() public {
        give(rater, 10, 0, "", "");
        vm.expectRevert(
            abi.encodeWithSelector(
                IKyaReputationRegistry.KyaFeedbackIndexOutOfBounds.selector, agent, rater, uint64(0), uint64(1)
            )
        );
        vm.prank(rater);
        rep.revokeFeedback(agent, 0);
    }

    function test_RevertWhen_RevokeFeedbackOfAnotherRater() public {
        give(rater, 10, 0, "", "");
        vm.expectRevert(
            abi.encodeWithSelector(
                IKyaReputationRegistry.KyaFeedbackIndexOutOfBounds.selector, agent, rater2, uint64(1), uint64(0)
            )
        );
        vm.prank(rater2);
        rep.revokeFeedback(agent, 1);
    }

    function test_RevertWhen_RevokeFeedbackTwice() public {
        give(rater, 10, 0, "", "");
        vm.startPrank(rater);
        rep.revokeFeedback(agent, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaReputationRegistry.KyaFeedbackAlreadyRevoked.selector, agent, rater, uint64(1))
        );
        rep.revokeFeedback(agent, 1);
        vm.stopPrank();
    }

    // -----------------------------------------------------------------------------------------
    // appendResponse / getResponseCount
    // -----------------------------------------------------------------------------------------

    function test_AppendResponse() public {
        give(rater, 10, 0, "", "");
        give(rater, 20, 0, "", "");
        give(rater2, 30, 0, "", "");
        vm.expectEmit(true, true, true, true, address(rep));
        emit IKyaReputationRegistry.ResponseAppended(agent, rater, 1, alice, "ipfs://r1", bytes32(uint256(1)));
        vm.prank(alice);
        rep.appendResponse(agent, rater, 1, "ipfs://r1", bytes32(uint256(1)));
        vm.prank(alice);
        rep.appendResponse(agent, rater, 1, "ipfs://r2", bytes32(0));
        vm.prank(bob);
        rep.appendResponse(agent, rater, 2, "ipfs://r3", bytes32(0));
        vm.prank(bob);
        rep.appendResponse(agent, rater2, 1, "ipfs://r4", bytes32(0));

        address[] memory none = new address[](0);
        assertEq(rep.getResponseCount(agent, rater, 1, none), 2, "one feedback, all responders");
        assertEq(rep.getResponseCount(agent, rater, 1, raters(alice)), 2, "one feedback, alice");
        assertEq(rep.getResponseCount(agent, rater, 1, raters(bob)), 0, "one feedback, bob");
        assertEq(rep.getResponseCount(agent, rater, 0, none), 3, "all of rater");
        assertEq(rep.getResponseCount(agent, rater, 0, raters(bob)), 1, "all of rater, bob");
        assertEq(rep.getResponseCount(agent, address(0), 0, none), 4, "all");
        assertEq(rep.getResponseCount(agent, address(0), 0, raters(alice, bob)), 4, "all, both");
        assertEq(rep.getResponseCount(agent, address(0), 0, raters(bob)), 2, "all, bob");
    }

    function test_RevertWhen_AppendResponseEmptyURI() public {
        give(rater, 10, 0, "", "");
        vm.expectRevert(IKyaReputationRegistry.KyaEmptyResponseURI.selector);
        vm.prank(alice);
        rep.appendResponse(agent, rater, 1, "", bytes32(0));
    }

    function test_RevertWhen_AppendResponseOutOfBounds() public {
        give(rater, 10, 0, "", "");
        vm.expectRevert(
            abi.encodeWithSelector(
                IKyaReputationRegistry.KyaFeedbackIndexOutOfBounds.selector, agent, rater, uint64(2), uint64(1)
            )
        );
        vm.prank(alice);
        rep.appendResponse(agent, rater, 2, "ipfs://r", bytes32(0));
    }

    function test_RevertWhen_GetResponseCountTooManyResponders() public {
        address[] memory many = new address[](129);
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTooManyClients.selector, 129, 128));
        rep.getResponseCount(agent, rater, 1, many);
    }

    function test_RevertWhen_GetResponseCountTooManyEntries() public {
        for (uint256 i; i < 33; ++i) {
            give(rater, 1, 0, "", "");
        }
        address[] memory many = new address[](32);
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTooManyEntries.selector, 1024));
        rep.getResponseCount(agent, rater, 0, many);
    }

    // -----------------------------------------------------------------------------------------
    // readFeedback
    // -----------------------------------------------------------------------------------------

    function test_RevertWhen_ReadFeedbackOutOfBounds() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IKyaReputationRegistry.KyaFeedbackIndexOutOfBounds.selector, agent, rater, uint64(1), uint64(0)
            )
        );
        rep.readFeedback(agent, rater, 1);
    }

    // -----------------------------------------------------------------------------------------
    // getSummary
    // -----------------------------------------------------------------------------------------

    function test_GetSummary() public {
        give(rater, 80, 0, "starred", "");
        give(rater, 9050, 2, "starred", "week"); // 90.50
        give(rater2, 100, 0, "uptime", "");
        give(rater2, 70, 0, "starred", "week");
        vm.prank(rater2);
        rep.revokeFeedback(agent, 2);

        (uint64 count, int128 value, uint8 decimals) = rep.getSummary(agent, raters(rater, rater2), "", "");
        // (80 + 90.5 + 100) / 3 = 90.1666…, mode decimals 0 (two of three)
        assertEq(count, 3, "count");
        assertEq(value, 90, "value");
        assertEq(decimals, 0, "decimals");

        (count, value, decimals) = rep.getSummary(agent, raters(rater, rater2), "starred", "");
        assertEq(count, 2, "starred count");
        // (80 + 90.5) / 2 = 85.25; tie between 0 and 2 decimals: the smaller wins
        assertEq(value, 85, "starred value");
        assertEq(decimals, 0, "starred decimals");

        (count, value, decimals) = rep.getSummary(agent, raters(rater, rater2), "starred", "week");
        assertEq(count, 1, "week count");
        assertEq(value, 9050, "week value");
        assertEq(decimals, 2, "week decimals");

        (count, value, decimals) = rep.getSummary(agent, raters(rater, rater2), "", "week");
        assertEq(count, 1, "tag2 only");

        (count, value, decimals) = rep.getSummary(agent, raters(rater2), "uptime", "");
        assertEq(count, 1, "trusted subset");
        assertEq(value, 100, "trusted subset value");

        (count, value, decimals) = rep.getSummary(agent, raters(bob), "", "");
        assertEq(count, 0, "no feedback");
        assertEq(value, 0, "no value");
        assertEq(decimals, 0, "no decimals");

        (count,,) = rep.getSummary(agent, raters(rater), "starre", "");
        assertEq(count, 0, "prefix does not match");
    }

    function test_RevertWhen_GetSummaryNoClients() public {
        vm.expectRevert(IKyaReputationRegistry.KyaClientsRequired.selector);
        rep.getSummary(agent, new address[](0), "", "");
    }

    function test_RevertWhen_GetSummaryTooManyClients() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTooManyClients.selector, 129, 128));
        rep.getSummary(agent, new address[](129), "", "");
    }

    function test_RevertWhen_GetSummaryTooManyEntries() public {
        for (uint256 i; i < 1025; ++i) {
            give(rater, 1, 0, "", "");
        }
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTooManyEntries.selector, 1024));
        rep.getSummary(agent, raters(rater), "", "");
    }

    function test_RevertWhen_GetSummaryOverflow() public {
        // 1e38 at 0 decimals, averaged and expressed at 18 decimals (mode) overflows int128.
        give(rater, 1e38, 0, "", "");
        give(rater2, 1, 18, "", "");
        address r3 = address(0x2A7E4);
        give(r3, 1, 18, "", "");
        (, int128 two,) = rep.getSummary(agent, raters(rater, rater2), "", "");
        assertEq(two, 5e37, "tie: expressed at 0 decimals, fits");
        address[] memory three = new address[](3);
        (three[0], three[1], three[2]) = (rater, rater2, r3);
        int256 average = (int256(1e38) * 1e18 + 2) / 3;
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaSummaryOverflow.selector, average));
        rep.getSummary(agent, three, "", "");
    }

    function testFuzz_GetSummarySingle(int128 value, uint8 decimals) public {
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded to [-1e38, 1e38]
        value = int128(int256(bound(uint256(int256(value) + 1e38), 0, 2e38)) - 1e38);
        decimals = uint8(bound(decimals, 0, 18));
        give(rater, value, decimals, "t", "");
        (uint64 count, int128 v, uint8 d) = rep.getSummary(agent, raters(rater), "t", "");
        assertEq(count, 1, "count");
        assertEq(v, value, "value");
        assertEq(d, decimals, "decimals");
    }

    // -----------------------------------------------------------------------------------------
    // readAllFeedback
    // -----------------------------------------------------------------------------------------

    function test_ReadAllFeedback() public {
        give(rater, 1, 0, "a", "");
        give(rater, 2, 1, "b", "x");
        give(rater2, 3, 0, "a", "y");
        vm.prank(rater);
        rep.revokeFeedback(agent, 1);

        (
            address[] memory clients,
            uint64[] memory indexes,
            int128[] memory values,
            uint8[] memory decimals,
            string[] memory t1s,
            string[] memory t2s,
            bool[] memory revoked
        ) = rep.readAllFeedback(agent, new address[](0), "", "", true);
        assertEq(clients.length, 3, "all, incl. revoked");
        assertEq(clients[2], rater2, "order");
        assertEq(indexes[1], 2, "index");
        assertEq(values[1], 2, "value");
        assertEq(decimals[1], 1, "decimals");
        assertEq(t1s[1], "b", "tag1");
        assertEq(t2s[2], "y", "tag2");
        assertTrue(revoked[0], "revoked");
        assertEq(t1s.length, 3, "columns same length");

        (clients,,,,,,) = rep.readAllFeedback(agent, new address[](0), "", "", false);
        assertEq(clients.length, 2, "without revoked");
        (clients, indexes,,,,,) = rep.readAllFeedback(agent, raters(rater2), "a", "", false);
        assertEq(clients.length, 1, "filtered");
        assertEq(indexes[0], 1, "filtered index");
        (clients,,,,,, revoked) = rep.readAllFeedback(agent, raters(rater), "", "x", true);
        assertEq(clients.length, 1, "tag2 filter");
        assertEq(revoked.length, 1, "shrunk column");
    }

    function test_RevertWhen_ReadAllFeedbackTooManyClients() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTooManyClients.selector, 129, 128));
        rep.readAllFeedback(agent, new address[](129), "", "", true);
    }

    function test_RevertWhen_ReadAllFeedbackTooManyRatersOfAgent() public {
        for (uint160 i = 1; i <= 129; ++i) {
            give(address(0x10000 + i), 1, 0, "", "");
        }
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTooManyClients.selector, 129, 128));
        rep.readAllFeedback(agent, new address[](0), "", "", true);
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTooManyClients.selector, 129, 128));
        rep.getResponseCount(agent, address(0), 0, new address[](0));
    }

    function test_RevertWhen_ReadAllFeedbackTooManyEntries() public {
        for (uint256 i; i < 1025; ++i) {
            give(rater, 1, 0, "", "");
        }
        vm.expectRevert(abi.encodeWithSelector(IKyaReputationRegistry.KyaTooManyEntries.selector, 1024));
        rep.readAllFeedback(agent, raters(rater), "", "", true);
    }

    // -----------------------------------------------------------------------------------------
    // gas (also recorded by `forge snapshot`)
    // -----------------------------------------------------------------------------------------

    function test_Gas_GiveFeedbackFirstAndRepeat() public {
        give(rater, 87, 0, "starred", "");
        give(rater, 91, 0, "starred", "");
    }
}
