// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {KyaTest} from "./utils/KyaTest.sol";
import {KyaIdentityRegistry} from "../src/KyaIdentityRegistry.sol";
import {KyaReputationRegistry} from "../src/KyaReputationRegistry.sol";

/// @notice Drives both registries with random operations and keeps a model of what must hold.
///         Every contract call is wrapped in try/catch; the handler itself reverts (failing the
///         run, fail_on_revert = true) only when the contract and the model disagree on whether
///         a call may succeed.
contract Handler is KyaTest {
    KyaIdentityRegistry public immutable id;
    KyaReputationRegistry public immutable rep;

    address[] public actors;
    bytes32[4] internal keys = [keccak256("k0"), keccak256("k1"), keccak256("k2"), keccak256("k3")];

    // model
    uint256 public agents;
    mapping(uint256 => address) public ownerOfModel;
    mapping(uint256 => bool) public transferred;

    struct Period {
        uint64 boundAt;
        uint64 unboundAt;
    }

    mapping(uint256 => mapping(bytes32 => Period)) public agentKey;
    mapping(address => mapping(bytes32 => Period)) public principalKey;

    struct Revocation {
        uint256 agentId;
        bytes32 digest;
        uint64 at;
    }

    Revocation[] public revocations;
    mapping(uint256 => mapping(bytes32 => bool)) public revokedModel;

    struct IssuerRevocation {
        address issuer;
        bytes32 digest;
        uint64 at;
    }

    IssuerRevocation[] public issuerRevocations;
    mapping(address => mapping(bytes32 => bool)) public issuerRevokedModel;

    struct Feedback {
        uint256 agentId;
        address client;
        uint64 index;
        bool revoked;
    }

    Feedback[] public feedback;
    mapping(uint256 => mapping(address => uint64)) public lastIndexModel;

    uint256 public calls;

    constructor(KyaIdentityRegistry id_, KyaReputationRegistry rep_) {
        id = id_;
        rep = rep_;
        for (uint160 i = 1; i <= 4; ++i) {
            actors.push(address(0xAC7000 + i));
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function revocationCount() external view returns (uint256) {
        return revocations.length;
    }

    function feedbackCount() external view returns (uint256) {
        return feedback.length;
    }

    function keyAt(uint256 i) external view returns (bytes32) {
        return keys[i];
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _agent(uint256 seed) internal view returns (bool ok, uint256 agentId) {
        if (agents == 0) return (false, 0);
        return (true, seed % agents);
    }

    // ----- operations ------------------------------------------------------------------------

    function advance(uint8 blocks) external {
        vm.roll(block.number + 1 + blocks);
    }

    function register(uint256 actorSeed, bool withKey, uint8 keySeed) external {
        ++calls;
        address a = _actor(actorSeed);
        vm.prank(a);
        uint256 agentId = withKey ? id.registerWithKey("ipfs://x", keys[keySeed % 4]) : id.register("ipfs://x");
        require(agentId == agents, "sequential ids");
        ++agents;
        ownerOfModel[agentId] = a;
        if (withKey) agentKey[agentId][keys[keySeed % 4]].boundAt = uint64(block.number);
    }

    function setKey(uint256 agentSeed, uint8 keySeed) external {
        ++calls;
        (bool ok, uint256 agentId) = _agent(agentSeed);
        if (!ok) return;
        bytes32 key = keys[keySeed % 4];
        Period storage p = agentKey[agentId][key];
        bool expectOk = p.boundAt == 0;
        vm.prank(ownerOfModel[agentId]);
        try id.setAgentKey(agentId, key) {
            require(expectOk, "bound a key that was bound or retired");
            p.boundAt = uint64(block.number);
        } catch {
            require(!expectOk, "refused a fresh key");
        }
    }

    function rotateKey(uint256 agentSeed, uint8 oldSeed, uint8 newSeed) external {
        ++calls;
        (bool ok, uint256 agentId) = _agent(agentSeed);
        if (!ok) return;
        bytes32 oldKey = keys[oldSeed % 4];
        bytes32 newKey = keys[newSeed % 4];
        Period storage o = agentKey[agentId][oldKey];
        Period storage n = agentKey[agentId][newKey];
        bool expectOk = o.boundAt != 0 && o.unboundAt == 0 && n.boundAt == 0;
        vm.prank(ownerOfModel[agentId]);
        try id.rotateAgentKey(agentId, oldKey, newKey) {
            require(expectOk, "rotation should have failed");
            o.unboundAt = uint64(block.number);
            n.boundAt = uint64(block.number);
        } catch {
            require(!expectOk, "rotation should have worked");
        }
    }

    function revokeKey(uint256 agentSeed, uint8 keySeed) external {
        ++calls;
        (bool ok, uint256 agentId) = _agent(agentSeed);
        if (!ok) return;
        bytes32 key = keys[keySeed % 4];
        Period storage p = agentKey[agentId][key];
        bool expectOk = p.boundAt != 0 && p.unboundAt == 0;
        vm.prank(ownerOfModel[agentId]);
        try id.revokeAgentKey(agentId, key) {
            require(expectOk, "unbound a key that was not bound");
            p.unboundAt = uint64(block.number);
        } catch {
            require(!expectOk, "refused to unbind a bound key");
        }
    }

    /// @dev A stranger (not owner) tries to change keys or revoke: must always fail.
    function strangerAttack(uint256 agentSeed, uint256 actorSeed, uint8 keySeed, bytes32 digest) external {
        ++calls;
        (bool ok, uint256 agentId) = _agent(agentSeed);
        if (!ok) return;
        address a = _actor(actorSeed);
        if (a == ownerOfModel[agentId]) return;
        vm.prank(a);
        try id.setAgentKey(agentId, keys[keySeed % 4]) {
            revert("stranger bound a key");
        } catch {}
        vm.prank(a);
        try id.revokeCredential(agentId, digest) {
            revert("stranger revoked a credential");
        } catch {}
    }

    function revokeCredential(uint256 agentSeed, uint8 digestSeed) external {
        ++calls;
        (bool ok, uint256 agentId) = _agent(agentSeed);
        if (!ok) return;
        bytes32 digest = keccak256(abi.encode("digest", digestSeed % 8));
        bool expectOk = !revokedModel[agentId][digest];
        vm.prank(ownerOfModel[agentId]);
        try id.revokeCredential(agentId, digest) {
            require(expectOk, "revoked twice");
            revokedModel[agentId][digest] = true;
            revocations.push(Revocation(agentId, digest, uint64(block.number)));
        } catch {
            require(!expectOk, "refused a first revocation");
        }
    }

    function revokeIssuedCredential(uint256 actorSeed, uint8 digestSeed) external {
        ++calls;
        address a = _actor(actorSeed);
        bytes32 digest = keccak256(abi.encode("digest", digestSeed % 8));
        bool expectOk = !issuerRevokedModel[a][digest];
        vm.prank(a);
        try id.revokeIssuedCredential(digest) {
            require(expectOk, "issuer revoked twice");
            issuerRevokedModel[a][digest] = true;
            issuerRevocations.push(IssuerRevocation(a, digest, uint64(block.number)));
        } catch {
            require(!expectOk, "refused a first issuer revocation");
        }
    }

    function issuerRevocationCount() external view returns (uint256) {
        return issuerRevocations.length;
    }

    function transfer(uint256 agentSeed, uint256 toSeed) external {
        ++calls;
        (bool ok, uint256 agentId) = _agent(agentSeed);
        if (!ok) return;
        address from = ownerOfModel[agentId];
        address to = _actor(toSeed);
        vm.prank(from);
        id.transferFrom(from, to, agentId);
        ownerOfModel[agentId] = to;
        // Every transfer clears the wallet, a self-transfer included.
        transferred[agentId] = true;
    }

    function bindPrincipalKey(uint256 actorSeed, uint8 keySeed) external {
        ++calls;
        address a = _actor(actorSeed);
        bytes32 key = keys[keySeed % 4];
        Period storage p = principalKey[a][key];
        bool expectOk = p.boundAt == 0;
        vm.prank(a);
        try id.bindPrincipalKey(key) {
            require(expectOk, "principal key re-bound");
            p.boundAt = uint64(block.number);
        } catch {
            require(!expectOk, "principal key refused");
        }
    }

    function unbindPrincipalKey(uint256 actorSeed, uint8 keySeed) external {
        ++calls;
        address a = _actor(actorSeed);
        bytes32 key = keys[keySeed % 4];
        Period storage p = principalKey[a][key];
        bool expectOk = p.boundAt != 0 && p.unboundAt == 0;
        vm.prank(a);
        try id.unbindPrincipalKey(key) {
            require(expectOk, "principal key unbound twice");
            p.unboundAt = uint64(block.number);
        } catch {
            require(!expectOk, "principal unbind refused");
        }
    }

    function giveFeedback(uint256 actorSeed, uint256 agentSeed, int128 value, uint8 decimals) external {
        ++calls;
        (bool ok, uint256 agentId) = _agent(agentSeed);
        if (!ok) return;
        address a = _actor(actorSeed);
        decimals = decimals % 19;
        value = value % 1e38;
        bool expectOk = a != ownerOfModel[agentId];
        vm.prank(a);
        try rep.giveFeedback(agentId, value, decimals, "t", "", "", "", bytes32(0)) {
            require(expectOk, "self feedback accepted");
            uint64 index = ++lastIndexModel[agentId][a];
            feedback.push(Feedback(agentId, a, index, false));
        } catch {
            require(!expectOk, "feedback refused");
        }
    }

    function revokeFeedback(uint256 fbSeed) external {
        ++calls;
        if (feedback.length == 0) return;
        Feedback storage f = feedback[fbSeed % feedback.length];
        vm.prank(f.client);
        try rep.revokeFeedback(f.agentId, f.index) {
            require(!f.revoked, "revoked twice");
            f.revoked = true;
        } catch {
            require(f.revoked, "revocation refused");
        }
    }
}

contract KyaInvariantsTest is KyaTest {
    KyaIdentityRegistry internal id;
    KyaReputationRegistry internal rep;
    Handler internal handler;

    function setUp() public {
        vm.roll(10);
        id = new KyaIdentityRegistry();
        rep = new KyaReputationRegistry(address(id));
        handler = new Handler(id, rep);
    }

    /// @notice Forge reads this (as forge-std's StdInvariant would provide) to pick fuzz targets.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice A revoked digest never becomes unrevoked, and its revocation block never changes.
    function invariant_RevocationIsPermanent() public view {
        uint256 n = handler.revocationCount();
        for (uint256 i; i < n; ++i) {
            (uint256 agentId, bytes32 digest, uint64 at) = handler.revocations(i);
            assertTrue(id.isRevoked(agentId, digest), "revoked");
            assertEq(id.revokedAt(agentId, digest), at, "revokedAt");
        }
    }

    /// @notice An issuer's revocation is permanent, its block never changes, and it names only
    ///         the issuer that made it.
    function invariant_IssuerRevocationIsPermanent() public view {
        uint256 n = handler.issuerRevocationCount();
        for (uint256 i; i < n; ++i) {
            (address issuer, bytes32 digest, uint64 at) = handler.issuerRevocations(i);
            assertEq(id.issuerRevokedAt(issuer, digest), at, "issuerRevokedAt");
            if (!handler.issuerRevokedModel(address(this), digest)) {
                assertEq(id.issuerRevokedAt(address(this), digest), 0, "not another issuer's");
            }
        }
    }

    /// @notice Key history is append-only: every recorded period is exactly what the contract
    ///         reports (a bound key's start never moves, an unbound key is never re-bound).
    function invariant_KeyHistoryAppendOnly() public view {
        uint256 agents = handler.agents();
        for (uint256 a; a < agents; ++a) {
            for (uint256 k; k < 4; ++k) {
                bytes32 key = handler.keyAt(k);
                (uint64 mb, uint64 mu) = handler.agentKey(a, key);
                (uint64 b, uint64 u) = id.agentKeyPeriod(a, key);
                assertEq(b, mb, "boundAt");
                assertEq(u, mu, "unboundAt");
                assertEq(id.isAgentKeyBound(a, key), mb != 0 && mu == 0, "current");
                if (mb != 0) assertTrue(id.keyBoundAt(a, key, mb) == (mu == 0 || mu > mb), "bound at start");
                if (mu != 0) assertFalse(id.keyBoundAt(a, key, mu), "unbound at end");
            }
        }
        uint256 actors = handler.actorCount();
        for (uint256 i; i < actors; ++i) {
            address p = handler.actors(i);
            for (uint256 k; k < 4; ++k) {
                bytes32 key = handler.keyAt(k);
                (uint64 mb, uint64 mu) = handler.principalKey(p, key);
                (uint64 b, uint64 u) = id.principalKeyPeriod(p, key);
                assertEq(b, mb, "principal boundAt");
                assertEq(u, mu, "principal unboundAt");
            }
        }
    }

    /// @notice The owner of every agent is its ERC-721 owner in the model; balances add up; a
    ///         transferred agent has no wallet.
    function invariant_OwnershipAndWallet() public view {
        uint256 agents = handler.agents();
        assertEq(id.agentCount(), agents, "agent count");
        for (uint256 a; a < agents; ++a) {
            address owner = handler.ownerOfModel(a);
            assertEq(id.ownerOf(a), owner, "owner");
            assertTrue(id.isAuthorizedOrOwner(owner, a), "owner authorized");
            assertEq(id.getAgentWallet(a), handler.transferred(a) ? address(0) : owner, "wallet");
        }
        uint256 total;
        uint256 actors = handler.actorCount();
        for (uint256 i; i < actors; ++i) {
            total += id.balanceOf(handler.actors(i));
        }
        assertEq(total, agents, "balances");
    }

    /// @notice Feedback indexes and revoked flags match the model; revoked feedback stays revoked.
    function invariant_FeedbackConsistent() public view {
        uint256 n = handler.feedbackCount();
        for (uint256 i; i < n; ++i) {
            (uint256 agentId, address client, uint64 index, bool revoked) = handler.feedback(i);
            assertEq(rep.getLastIndex(agentId, client), handler.lastIndexModel(agentId, client), "last index");
            (,,,, bool isRevoked) = rep.readFeedback(agentId, client, index);
            assertEq(isRevoked, revoked, "revoked flag");
        }
    }

    /// @notice The handler really ran (guards against a silently empty campaign).
    function invariant_HandlerRuns() public view {
        assertTrue(handler.calls() > 0 || handler.agents() == 0, "calls");
    }
}
