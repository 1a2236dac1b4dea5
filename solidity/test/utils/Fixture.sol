// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {KyaTest} from "./KyaTest.sol";
import {KyaIdentityRegistry} from "../../src/KyaIdentityRegistry.sol";
import {KyaReputationRegistry} from "../../src/KyaReputationRegistry.sol";
import {IKyaIdentityRegistry} from "../../src/IKyaIdentityRegistry.sol";

/// @notice ERC-1271 wallet that accepts exactly one digest.
contract MockERC1271Wallet {
    bytes32 public accepted;

    function accept(bytes32 digest) external {
        accepted = digest;
    }

    function isValidSignature(bytes32 digest, bytes calldata) external view returns (bytes4) {
        return digest == accepted ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
}

/// @notice A contract that registers agents; optionally accepts ERC-721 tokens.
contract RegistrantContract {
    bool public immutable acceptsTokens;

    constructor(bool acceptsTokens_) {
        acceptsTokens = acceptsTokens_;
    }

    function register(KyaIdentityRegistry registry, string calldata uri) external returns (uint256) {
        return registry.register(uri);
    }

    function onERC721Received(address, address, uint256, bytes calldata) external view returns (bytes4) {
        return acceptsTokens ? this.onERC721Received.selector : bytes4(0);
    }
}

abstract contract Fixture is KyaTest {
    KyaIdentityRegistry internal id;
    KyaReputationRegistry internal rep;

    uint256 internal constant ALICE_PK = 0xA11CE;
    uint256 internal constant WALLET_PK = 0x3A11E7;
    address internal alice = vm.addr(ALICE_PK);
    address internal wallet = vm.addr(WALLET_PK);
    address internal bob = address(0xB0B);
    address internal carol = address(0xCA201);
    address internal operator = address(0x0BE2A702);
    address internal rater = address(0x2A7E2);
    address internal rater2 = address(0x2A7E3);

    string internal constant URI66 = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    bytes32 internal constant KEY1 = keccak256("ed25519 key 1");
    bytes32 internal constant KEY2 = keccak256("ed25519 key 2");
    bytes32 internal constant KEY3 = keccak256("ed25519 key 3");
    bytes32 internal constant DIGEST = keccak256("sha-256 digest of a credential");

    bytes32 internal constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");

    function setUp() public virtual {
        vm.roll(100);
        vm.warp(1_700_000_000);
        id = new KyaIdentityRegistry();
        rep = new KyaReputationRegistry(address(id));
    }

    function registerAs(address who) internal returns (uint256 agentId) {
        vm.prank(who);
        agentId = id.register(URI66);
    }

    function walletDigest(uint256 agentId, address newWallet, address owner, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            id.eip712Domain();
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(name)),
                keccak256(bytes(version)),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash = keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function signWallet(uint256 pk, uint256 agentId, address owner, uint256 deadline)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, walletDigest(agentId, vm.addr(pk), owner, deadline));
        return abi.encodePacked(r, s, v);
    }

    function unauthorized(address caller, uint256 agentId) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IKyaIdentityRegistry.KyaUnauthorized.selector, caller, agentId);
    }

    function nonexistent(uint256 agentId) internal pure returns (bytes memory) {
        return abi.encodeWithSignature("ERC721NonexistentToken(uint256)", agentId);
    }
}
