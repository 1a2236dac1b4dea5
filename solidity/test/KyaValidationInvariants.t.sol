// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {KyaTest} from "./utils/KyaTest.sol";
import {KyaIdentityRegistry} from "../src/KyaIdentityRegistry.sol";
import {KyaValidationRegistry} from "../src/KyaValidationRegistry.sol";

/// @notice Random requests (by owners and by strangers) and answers (hash-only and explicit,
///         by validators and by strangers), with a model of every request and answer.
contract ValidationHandler is KyaTest {
    KyaIdentityRegistry public immutable id;
    KyaValidationRegistry public immutable val;

    address[3] internal owners = [address(0x0A1), address(0x0A2), address(0x0A3)];
    address[3] internal validators = [address(0x7A1), address(0x7A2), address(0x0A1)];
    bytes32[3] internal hashes = [keccak256("receipt 1"), keccak256("receipt 2"), keccak256("receipt 3")];

    struct Req {
        uint256 agentId;
        address validator;
        bytes32 requestHash;
        uint32 answers;
    }

    struct Answer {
        uint256 agentId;
        address validator;
        bytes32 requestHash;
        uint256 index;
        uint8 response;
        bytes32 responseHash;
        bytes32 tagHash;
        uint64 blockNumber;
    }

    Req[] public reqs;
    Answer[] public answers;
    mapping(bytes32 key => uint256 slot) public reqIndex; // index + 1
    mapping(bytes32 requestHash => uint256) public requestsWithHash;
    uint256 public accepted;

    constructor(KyaIdentityRegistry id_, KyaValidationRegistry val_) {
        id = id_;
        val = val_;
        for (uint256 i; i < 3; ++i) {
            vm.prank(owners[i]);
            require(id.register("ipfs://agent") == i, "agent ids");
        }
    }

    function reqCount() external view returns (uint256) {
        return reqs.length;
    }

    function answerCount() external view returns (uint256) {
        return answers.length;
    }

    function getReq(uint256 i) external view returns (Req memory) {
        return reqs[i];
    }

    function getAnswer(uint256 i) external view returns (Answer memory) {
        return answers[i];
    }

    function advance(uint8 blocks) external {
        vm.roll(block.number + 1 + blocks);
    }

    function requestOne(uint256 callerSeed, uint256 agentSeed, uint256 validatorSeed, uint256 hashSeed) external {
        address caller = owners[callerSeed % 3];
        uint256 agentId = agentSeed % 3;
        address v = validators[validatorSeed % 3];
        bytes32 h = hashes[hashSeed % 3];
        bytes32 key = val.requestKey(agentId, v, h);
        bool expectOk = caller == owners[agentId] && reqIndex[key] == 0;
        vm.prank(caller);
        try val.validationRequest(v, agentId, "ipfs://req", h) {
            require(expectOk, "a request was accepted that must be refused");
            reqs.push(Req(agentId, v, h, 0));
            reqIndex[key] = reqs.length;
            ++requestsWithHash[h];
        } catch {
            require(!expectOk, "a request by the agent's owner was refused");
        }
    }

    function answerOne(uint256 reqSeed, uint256 callerSeed, uint8 response, bool hashOnly, bool stranger) external {
        if (reqs.length == 0) return;
        Req storage named = reqs[reqSeed % reqs.length];
        address caller = stranger ? validators[callerSeed % 3] : named.validator;
        response = uint8(bound(response, 0, 101));
        bytes32 rh = keccak256(abi.encode(block.number, response));
        string memory tag = response % 2 == 0 ? "even" : "odd and longer than seventeen bytes";
        // The request the call reaches: the explicit form names (agent, caller, hash); the
        // hash-only form reaches the hash's one request (when there is one) and needs its
        // validator to be the caller.
        uint256 target = reqIndex[val.requestKey(named.agentId, caller, named.requestHash)];
        if (hashOnly) target = requestsWithHash[named.requestHash] == 1 ? reqIndex[_sole(named)] : 0;
        bool expectOk = target != 0 && reqs[target - 1].validator == caller && response <= 100;
        vm.prank(caller);
        bool ok;
        if (hashOnly) {
            try val.validationResponse(named.requestHash, response, "ipfs://r", rh, tag) {
                ok = true;
            } catch {}
        } else {
            try val.validationResponseFor(named.agentId, named.requestHash, response, "ipfs://r", rh, tag) {
                ok = true;
            } catch {}
        }
        require(ok == expectOk, "an answer was judged unlike the model");
        if (!ok) return;
        Req storage r = reqs[target - 1];
        answers.push(
            Answer(
                r.agentId,
                r.validator,
                r.requestHash,
                r.answers,
                response,
                rh,
                keccak256(bytes(tag)),
                uint64(block.number)
            )
        );
        ++r.answers;
        ++accepted;
    }

    /// @dev The key of the one request with `r`'s hash (the model has exactly one).
    function _sole(Req storage r) internal view returns (bytes32) {
        return val.requestKey(r.agentId, r.validator, r.requestHash);
    }
}

contract KyaValidationInvariantsTest is KyaTest {
    KyaIdentityRegistry internal id;
    KyaValidationRegistry internal val;
    ValidationHandler internal handler;

    function setUp() public {
        vm.roll(10);
        id = new KyaIdentityRegistry();
        val = new KyaValidationRegistry(address(id));
        handler = new ValidationHandler(id, val);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Every answer ever recorded reads back exactly as it was given, at its index:
    ///         a later answer never changes an earlier one.
    function invariant_AnswersNeverChange() public view {
        uint256 n = handler.answerCount();
        for (uint256 i; i < n; ++i) {
            ValidationHandler.Answer memory a = handler.getAnswer(i);
            (uint8 response, bytes32 rh, string memory tag,, uint64 blockNumber) =
                val.getValidationResponse(a.agentId, a.validator, a.requestHash, a.index);
            assertEq(response, a.response, "response");
            assertEq(rh, a.responseHash, "responseHash");
            assertEq(keccak256(bytes(tag)), a.tagHash, "tag");
            assertEq(blockNumber, a.blockNumber, "block");
        }
    }

    /// @notice Exactly the requests the model accepted exist, each with its number of answers,
    ///         under its own agent and validator.
    function invariant_RequestsMatchModel() public view {
        uint256 n = handler.reqCount();
        for (uint256 i; i < n; ++i) {
            ValidationHandler.Req memory r = handler.getReq(i);
            (, uint32 count) = val.getValidationRequest(r.agentId, r.validator, r.requestHash);
            assertEq(count, r.answers, "answer count");
            (address v, uint256 agentId,,,,) = val.getValidationStatusFor(r.agentId, r.validator, r.requestHash);
            assertEq(v, r.validator, "validator");
            assertEq(agentId, r.agentId, "agent");
        }
        uint256 listed;
        for (uint256 a; a < 3; ++a) {
            listed += val.getAgentValidations(a).length;
        }
        assertEq(listed, n, "every request is listed under its agent once");
    }
}
