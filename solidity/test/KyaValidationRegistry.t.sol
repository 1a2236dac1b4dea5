// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {Fixture} from "./utils/Fixture.sol";
import {IKyaValidationRegistry} from "../src/IKyaValidationRegistry.sol";
import {KyaValidationRegistry} from "../src/KyaValidationRegistry.sol";

/// @notice kya's validation registry pointed at kya's identity registry.
///         `test_Ref_*` are the ERC-8004 reference's ValidationRegistry cases (test/core.ts,
///         describe("ValidationRegistry")), one to one, in its order; each names the `it(…)` it
///         ports. Reverts the reference checks with `assert.rejects` are checked here with the
///         exact custom error.
contract KyaValidationRegistryTest is Fixture {
    KyaValidationRegistry internal val;
    uint256 internal agent;
    address internal validator = address(0x7A11D);
    address internal validator2 = address(0x7A11E);
    address internal attacker = address(0xBAD);

    function setUp() public override {
        super.setUp();
        val = new KyaValidationRegistry(address(id));
        agent = registerAs(alice);
    }

    function request(address from, address v, uint256 agentId, string memory uri, bytes32 h) internal {
        vm.prank(from);
        val.validationRequest(v, agentId, uri, h);
    }

    function respond(address v, bytes32 h, uint8 response, string memory uri, bytes32 rh, string memory tag) internal {
        vm.prank(v);
        val.validationResponse(h, response, uri, rh, tag);
    }

    function list(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    // -----------------------------------------------------------------------------------------
    // The reference's cases
    // -----------------------------------------------------------------------------------------

    /// it("Should create validation request")
    function test_Ref_ShouldCreateValidationRequest() public {
        bytes32 requestHash = keccak256("request data");
        vm.expectEmit(true, true, true, true, address(val));
        emit IKyaValidationRegistry.ValidationRequest(validator, agent, "ipfs://validation-request", requestHash);
        request(alice, validator, agent, "ipfs://validation-request", requestHash);

        (address v, uint256 a, uint8 response, bytes32 responseHash, string memory tag,) =
            val.getValidationStatus(requestHash);
        assertEq(v, validator, "validator");
        assertEq(a, agent, "agentId");
        assertEq(response, 0, "response score");
        assertEq(responseHash, bytes32(0), "responseHash");
        assertEq(tag, "", "tag");
    }

    /// it("Should submit validation response")
    function test_Ref_ShouldSubmitValidationResponse() public {
        bytes32 requestHash = keccak256("request data");
        request(alice, validator, agent, "ipfs://validation-request", requestHash);
        bytes32 responseHash = keccak256("response data");
        vm.expectEmit(true, true, true, true, address(val));
        emit IKyaValidationRegistry.ValidationResponse(
            validator, agent, requestHash, 100, "ipfs://validation-response", responseHash, "passed"
        );
        respond(validator, requestHash, 100, "ipfs://validation-response", responseHash, "passed");

        (address v, uint256 a, uint8 response, bytes32 rh, string memory tag,) = val.getValidationStatus(requestHash);
        assertEq(v, validator, "validator");
        assertEq(a, agent, "agentId");
        assertEq(response, 100, "response");
        assertEq(rh, responseHash, "responseHash");
        assertEq(tag, "passed", "tag");
    }

    /// it("Should reject duplicate validation requests")
    function test_Ref_ShouldRejectDuplicateValidationRequests() public {
        bytes32 requestHash = keccak256("request data");
        request(alice, validator, agent, "ipfs://validation-request", requestHash);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaValidationRegistry.KyaRequestExists.selector, agent, validator, requestHash)
        );
        request(alice, validator, agent, "ipfs://validation-request", requestHash);
    }

    /// it("Should only allow validator to respond")
    function test_Ref_ShouldOnlyAllowValidatorToRespond() public {
        bytes32 requestHash = keccak256("request data");
        request(alice, validator, agent, "ipfs://validation-request", requestHash);
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaNotValidator.selector, attacker, validator));
        respond(attacker, requestHash, 100, "ipfs://fake", keccak256("fake"), "tag");
    }

    /// it("Should reject response > 100")
    function test_Ref_ShouldRejectResponseAbove100() public {
        bytes32 requestHash = keccak256("request data");
        request(alice, validator, agent, "ipfs://req", requestHash);
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaResponseOutOfRange.selector, 101));
        respond(validator, requestHash, 101, "ipfs://resp", keccak256("resp"), "tag");
    }

    /// it("Should get validation summary and track validations")
    function test_Ref_ShouldGetValidationSummaryAndTrackValidations() public {
        bytes32 req1 = keccak256("request1");
        bytes32 req2 = keccak256("request2");
        request(alice, validator, agent, "ipfs://req1", req1);
        request(alice, validator2, agent, "ipfs://req2", req2);
        respond(validator, req1, 80, "ipfs://resp1", keccak256("r1"), "quality");
        respond(validator2, req2, 100, "ipfs://resp2", keccak256("r2"), "quality");

        // The reference passes the text "0x00…00" (66 characters) as the tag: it matches no
        // response's tag, so nothing is counted.
        (uint64 count, uint8 avg) = val.getSummary(
            agent, new address[](0), "0x0000000000000000000000000000000000000000000000000000000000000000"
        );
        assertEq(count, 0, "count");
        assertEq(avg, 0, "average");

        bytes32[] memory validations = val.getAgentValidations(agent);
        assertEq(validations.length, 2, "agent validations");
        bytes32[] memory requests = val.getValidatorRequests(validator);
        assertEq(requests.length, 1, "validator requests");
        assertEq(requests[0], req1, "validator's request");
    }

    /// it("Should only allow agent owner to request validation")
    function test_Ref_ShouldOnlyAllowAgentOwnerToRequestValidation() public {
        bytes32 requestHash = keccak256("request");
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaUnauthorized.selector, attacker, agent));
        request(attacker, validator, agent, "ipfs://req", requestHash);
        request(alice, validator, agent, "ipfs://req", requestHash);
    }

    /// it("Should allow multiple validation responses for same request")
    function test_Ref_ShouldAllowMultipleValidationResponsesForSameRequest() public {
        bytes32 requestHash = keccak256("request data");
        request(alice, validator, agent, "ipfs://request", requestHash);
        respond(validator, requestHash, 80, "ipfs://response1", keccak256("r1"), "soft_finality");
        (,, uint8 response,, string memory tag,) = val.getValidationStatus(requestHash);
        assertEq(response, 80, "first response");
        assertEq(tag, "soft_finality", "first tag");

        respond(validator, requestHash, 100, "ipfs://response2", keccak256("r2"), "hard_finality");
        (,, response,, tag,) = val.getValidationStatus(requestHash);
        assertEq(response, 100, "updated response");
        assertEq(tag, "hard_finality", "updated tag");
    }

    /// it("Should return the identity registry address")
    function test_Ref_ShouldReturnTheIdentityRegistryAddress() public view {
        assertEq(val.getIdentityRegistry(), address(id), "identity registry");
    }

    /// it("Should accept response of 0 (failed)")
    function test_Ref_ShouldAcceptResponseOf0Failed() public {
        bytes32 requestHash = keccak256("request");
        request(alice, validator, agent, "ipfs://req", requestHash);
        respond(validator, requestHash, 0, "ipfs://failed", keccak256("fail"), "failed");
        (,, uint8 response,,,) = val.getValidationStatus(requestHash);
        assertEq(response, 0, "response");
    }

    /// it("Should accept intermediate response values")
    function test_Ref_ShouldAcceptIntermediateResponseValues() public {
        bytes32 requestHash = keccak256("request");
        request(alice, validator, agent, "ipfs://req", requestHash);
        respond(validator, requestHash, 67, "ipfs://partial", keccak256("partial"), "partial");
        (,, uint8 response,,,) = val.getValidationStatus(requestHash);
        assertEq(response, 67, "response");
    }

    // -----------------------------------------------------------------------------------------
    // Fix (a): request keys nobody else can take
    // -----------------------------------------------------------------------------------------

    /// @notice An attacker who sees the receipt digest first binds it to its own agent and
    ///         validator; the real agent's request still goes through and is answered.
    function test_FrontRunRequestHash_DoesNotBlockOrHijack() public {
        bytes32 receipt = sha256("a merchant's receipt");
        uint256 attackerAgent = registerAs(attacker);
        request(attacker, attacker, attackerAgent, "ipfs://forged", receipt); // front-run
        request(alice, validator, agent, "ipfs://req", receipt); // the real request

        vm.prank(validator);
        val.validationResponseFor(agent, receipt, 100, "ipfs://ok", bytes32(0), "passed");
        vm.prank(attacker);
        val.validationResponseFor(attackerAgent, receipt, 0, "ipfs://forged", bytes32(0), "failed");

        (address v, uint256 a, uint8 response,,,) = val.getValidationStatusFor(agent, validator, receipt);
        assertEq(v, validator, "the real validator");
        assertEq(a, agent, "the real agent");
        assertEq(response, 100, "the real verdict");
        (,, response,,,) = val.getValidationStatusFor(attackerAgent, attacker, receipt);
        assertEq(response, 0, "the attacker's own request");
    }

    /// @notice Even naming the same validator, the attacker's request is a different key.
    function test_FrontRunSameValidator_KeysDiffer() public {
        bytes32 receipt = sha256("a merchant's receipt");
        uint256 attackerAgent = registerAs(attacker);
        request(attacker, validator, attackerAgent, "ipfs://forged", receipt);
        request(alice, validator, agent, "ipfs://req", receipt);
        assertTrue(
            val.requestKey(agent, validator, receipt) != val.requestKey(attackerAgent, validator, receipt), "keys"
        );
        vm.prank(validator);
        val.validationResponseFor(agent, receipt, 90, "ipfs://ok", bytes32(0), "");
        (,, uint8 response,,,) = val.getValidationStatusFor(attackerAgent, validator, receipt);
        assertEq(response, 0, "the attacker's request is not answered by the agent's answer");
        (uint64 requestedAt, uint32 answers) = val.getValidationRequest(attackerAgent, validator, receipt);
        assertEq(requestedAt, block.timestamp, "requested at");
        assertEq(answers, 0, "no answers");
    }

    function test_SameHashTwoValidators() public {
        bytes32 receipt = keccak256("receipt");
        request(alice, validator, agent, "ipfs://req", receipt);
        request(alice, validator2, agent, "ipfs://req", receipt);
        vm.prank(validator);
        val.validationResponseFor(agent, receipt, 100, "ipfs://a", bytes32(0), "tee");
        vm.prank(validator2);
        val.validationResponseFor(agent, receipt, 50, "ipfs://b", bytes32(0), "zk");
        (uint64 count, uint8 avg) = val.getSummary(agent, new address[](0), "");
        assertEq(count, 2, "both answers count");
        assertEq(avg, 75, "average");
        (count, avg) = val.getSummary(agent, list(validator2), "");
        assertEq(count, 1, "filtered by validator");
        assertEq(avg, 50, "filtered average");
        (count, avg) = val.getSummary(agent, new address[](0), "tee");
        assertEq(count, 1, "filtered by tag");
        assertEq(avg, 100, "tag average");
        assertEq(val.getAgentValidations(agent).length, 2, "the hash is listed once per validator");
    }

    function test_RevertWhen_HashOnlyResponseAmbiguous() public {
        bytes32 receipt = keccak256("receipt");
        request(alice, validator, agent, "ipfs://req", receipt);
        request(alice, validator2, agent, "ipfs://req", receipt);
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaAmbiguousRequestHash.selector, receipt));
        respond(validator, receipt, 100, "ipfs://a", bytes32(0), "");
    }

    function test_RevertWhen_HashOnlyStatusAmbiguous() public {
        bytes32 receipt = keccak256("receipt");
        request(alice, validator, agent, "ipfs://req", receipt);
        request(alice, validator2, agent, "ipfs://req", receipt);
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaAmbiguousRequestHash.selector, receipt));
        val.getValidationStatus(receipt);
    }

    function test_RevertWhen_HashOnlyStatusUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaUnknownRequestHash.selector, DIGEST));
        val.getValidationStatus(DIGEST);
    }

    function test_RevertWhen_HashOnlyResponseUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaUnknownRequestHash.selector, DIGEST));
        respond(validator, DIGEST, 1, "", bytes32(0), "");
    }

    function test_RevertWhen_ResponseForUnknownRequest() public {
        request(alice, validator, agent, "ipfs://req", DIGEST);
        // Another validator cannot answer the request: its key names a request that is not there.
        vm.expectRevert(
            abi.encodeWithSelector(IKyaValidationRegistry.KyaUnknownRequest.selector, agent, validator2, DIGEST)
        );
        vm.prank(validator2);
        val.validationResponseFor(agent, DIGEST, 100, "", bytes32(0), "");
    }

    function test_RevertWhen_StatusForUnknownRequest() public {
        vm.expectRevert(
            abi.encodeWithSelector(IKyaValidationRegistry.KyaUnknownRequest.selector, agent, validator, DIGEST)
        );
        val.getValidationStatusFor(agent, validator, DIGEST);
    }

    function test_RequestByOperator() public {
        vm.prank(alice);
        id.setApprovalForAll(operator, true);
        request(operator, validator, agent, "ipfs://req", DIGEST);
        (uint64 requestedAt,) = val.getValidationRequest(agent, validator, DIGEST);
        assertEq(requestedAt, block.timestamp, "operator's request recorded");
    }

    function test_RevertWhen_RequestUnknownAgent() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 99));
        request(alice, validator, 99, "ipfs://req", DIGEST);
    }

    function test_RevertWhen_RequestZeroValidator() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaInvalidValidator.selector, address(0)));
        request(alice, address(0), agent, "ipfs://req", DIGEST);
    }

    function test_RevertWhen_ConstructorZeroIdentity() public {
        vm.expectRevert(IKyaValidationRegistry.KyaZeroIdentityRegistry.selector);
        new KyaValidationRegistry(address(0));
    }

    // -----------------------------------------------------------------------------------------
    // Fix (b): answers are appended, never overwritten
    // -----------------------------------------------------------------------------------------

    function test_AnswersAreKeptWithBlockAndTime() public {
        request(alice, validator, agent, "ipfs://req", DIGEST);
        respond(validator, DIGEST, 100, "ipfs://r1", keccak256("r1"), "soft_finality");
        uint256 t1 = 1_700_000_000; // the fixture's time (via_ir may re-read block.timestamp)
        vm.roll(110);
        vm.warp(t1 + 120);
        respond(validator, DIGEST, 0, "ipfs://r2", bytes32(0), "a tag that is longer than one storage slot can hold");

        (uint64 requestedAt, uint32 answers) = val.getValidationRequest(agent, validator, DIGEST);
        assertEq(requestedAt, t1, "requested at");
        assertEq(answers, 2, "answers");
        (uint8 response, bytes32 rh, string memory tag, uint64 at, uint64 blockNumber) =
            val.getValidationResponse(agent, validator, DIGEST, 0);
        assertEq(response, 100, "first answer kept");
        assertEq(rh, keccak256("r1"), "first hash kept");
        assertEq(tag, "soft_finality", "first tag kept");
        assertEq(at, t1, "first time");
        assertEq(blockNumber, 100, "first block");
        (response, rh, tag, at, blockNumber) = val.getValidationResponse(agent, validator, DIGEST, 1);
        assertEq(response, 0, "second answer");
        assertEq(rh, bytes32(0), "second hash");
        assertEq(tag, "a tag that is longer than one storage slot can hold", "second tag");
        assertEq(at, t1 + 120, "second time");
        assertEq(blockNumber, 110, "second block");
        (,,,,, uint256 lastUpdate) = val.getValidationStatus(DIGEST);
        assertEq(lastUpdate, t1 + 120, "last update");
    }

    function test_RevertWhen_ResponseIndexOutOfBounds() public {
        request(alice, validator, agent, "ipfs://req", DIGEST);
        bytes32 key = val.requestKey(agent, validator, DIGEST);
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaResponseIndexOutOfBounds.selector, key, 0, 0));
        val.getValidationResponse(agent, validator, DIGEST, 0);
    }

    function test_RevertWhen_ResponseTagTooLong() public {
        request(alice, validator, agent, "ipfs://req", DIGEST);
        bytes memory tag = new bytes(256);
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaTagTooLong.selector, 256, 255));
        respond(validator, DIGEST, 1, "", bytes32(0), string(tag));
    }

    function test_RevertWhen_SummaryTooManyValidators() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaTooManyValidators.selector, 129, 128));
        val.getSummary(agent, new address[](129), "");
    }

    function test_RequestKey() public view {
        assertEq(val.requestKey(agent, validator, DIGEST), keccak256(abi.encode(agent, validator, DIGEST)), "key");
        assertEq(val.getVersion(), "2.0.0+kya.1", "version");
    }

    // -----------------------------------------------------------------------------------------
    // Fuzz
    // -----------------------------------------------------------------------------------------

    function testFuzz_AnswerRoundTrip(uint8 response, bytes32 responseHash, bytes memory tag) public {
        vm.assume(tag.length <= 255);
        response = uint8(bound(response, 0, 100));
        request(alice, validator, agent, "ipfs://req", DIGEST);
        respond(validator, DIGEST, response, "ipfs://r", responseHash, string(tag));
        (uint8 r, bytes32 rh, string memory t,,) = val.getValidationResponse(agent, validator, DIGEST, 0);
        assertEq(r, response, "response");
        assertEq(rh, responseHash, "responseHash");
        assertEq(bytes(t), tag, "tag");
    }

    function testFuzz_RevertWhen_ResponseAbove100(uint8 response) public {
        response = uint8(bound(response, 101, 255));
        request(alice, validator, agent, "ipfs://req", DIGEST);
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaResponseOutOfRange.selector, response));
        respond(validator, DIGEST, response, "", bytes32(0), "");
    }

    function testFuzz_OnlyOwnerOrOperatorRequests(address caller, bytes32 h) public {
        vm.assume(caller != alice);
        vm.expectRevert(abi.encodeWithSelector(IKyaValidationRegistry.KyaUnauthorized.selector, caller, agent));
        request(caller, validator, agent, "ipfs://req", h);
    }

    // -----------------------------------------------------------------------------------------
    // Gas
    // -----------------------------------------------------------------------------------------

    /// @notice Gas snapshot of a request and its first answer (scripts/gas.sh measures full
    ///         transactions).
    function test_Gas_RequestAndResponse() public {
        request(alice, validator, agent, URI66, DIGEST);
        respond(validator, DIGEST, 100, URI66, keccak256("verdict"), "passed");
    }
}
