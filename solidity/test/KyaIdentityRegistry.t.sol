// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture, MockERC1271Wallet, RegistrantContract} from "./utils/Fixture.sol";
import {IKyaIdentityRegistry} from "../src/IKyaIdentityRegistry.sol";
import {KyaIdentityRegistry} from "../src/KyaIdentityRegistry.sol";

contract KyaIdentityRegistryTest is Fixture {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event MetadataUpdate(uint256 _tokenId);

    // -----------------------------------------------------------------------------------------
    // register
    // -----------------------------------------------------------------------------------------

    function test_Register_NoURI() public {
        vm.expectEmit(true, true, true, true, address(id));
        emit Transfer(address(0), alice, 0);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.Registered(0, "", alice);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.MetadataSet(0, "agentWallet", "agentWallet", abi.encodePacked(alice));
        vm.prank(alice);
        uint256 agentId = id.register();
        assertEq(agentId, 0, "first id");
        assertEq(id.ownerOf(0), alice, "owner");
        assertEq(id.tokenURI(0), "", "uri");
        assertEq(id.getAgentWallet(0), alice, "wallet");
        assertEq(id.getMetadata(0, "agentWallet"), abi.encodePacked(alice), "wallet metadata");
        assertEq(id.agentCount(), 1, "count");
    }

    function test_Register_WithURI() public {
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.Registered(0, URI66, alice);
        uint256 a = registerAs(alice);
        uint256 b = registerAs(bob);
        assertEq(a, 0, "id a");
        assertEq(b, 1, "id b");
        assertEq(id.tokenURI(a), URI66, "uri a");
        assertEq(id.ownerOf(b), bob, "owner b");
        assertEq(id.getAgentWallet(b), bob, "wallet b");
        assertEq(id.balanceOf(alice), 1, "balance");
        assertEq(id.agentCount(), 2, "count");
    }

    function test_Register_WithMetadata() public {
        IKyaIdentityRegistry.MetadataEntry[] memory md = new IKyaIdentityRegistry.MetadataEntry[](2);
        md[0] = IKyaIdentityRegistry.MetadataEntry("name", bytes("Shopping agent"));
        md[1] = IKyaIdentityRegistry.MetadataEntry("long", bytes(string.concat(URI66, URI66, URI66)));
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.Registered(0, URI66, alice);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.MetadataSet(0, "agentWallet", "agentWallet", abi.encodePacked(alice));
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.MetadataSet(0, "name", "name", bytes("Shopping agent"));
        vm.prank(alice);
        uint256 agentId = id.register(URI66, md);
        assertEq(id.getMetadata(agentId, "name"), bytes("Shopping agent"), "name");
        assertEq(id.getMetadata(agentId, "long"), bytes(string.concat(URI66, URI66, URI66)), "long");
        assertEq(id.getMetadata(agentId, "missing"), "", "missing");
    }

    function test_RevertWhen_RegisterWithReservedMetadataKey() public {
        IKyaIdentityRegistry.MetadataEntry[] memory md = new IKyaIdentityRegistry.MetadataEntry[](1);
        md[0] = IKyaIdentityRegistry.MetadataEntry("agentWallet", abi.encodePacked(bob));
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaReservedMetadataKey.selector, "agentWallet"));
        vm.prank(alice);
        id.register(URI66, md);
    }

    function test_Register_ContractReceiver() public {
        RegistrantContract c = new RegistrantContract(true);
        uint256 agentId = c.register(id, URI66);
        assertEq(id.ownerOf(agentId), address(c), "owner");
    }

    function test_RevertWhen_RegisterFromNonReceiverContract() public {
        RegistrantContract c = new RegistrantContract(false);
        vm.expectRevert(abi.encodeWithSignature("ERC721InvalidReceiver(address)", address(c)));
        c.register(id, URI66);
    }

    function test_RegisterWithKey() public {
        vm.roll(200);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.Registered(0, URI66, alice);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.AgentKeyBound(0, KEY1, alice);
        vm.prank(alice);
        uint256 agentId = id.registerWithKey(URI66, KEY1);
        assertTrue(id.isAgentKeyBound(agentId, KEY1), "bound");
        (uint64 boundAt, uint64 unboundAt) = id.agentKeyPeriod(agentId, KEY1);
        assertEq(boundAt, 200, "boundAt");
        assertEq(unboundAt, 0, "unboundAt");
        assertEq(id.tokenURI(agentId), URI66, "uri");
    }

    function test_RevertWhen_RegisterWithZeroKey() public {
        vm.expectRevert(IKyaIdentityRegistry.KyaZeroValue.selector);
        vm.prank(alice);
        id.registerWithKey(URI66, bytes32(0));
    }

    // -----------------------------------------------------------------------------------------
    // agent URI
    // -----------------------------------------------------------------------------------------

    function test_SetAgentURI() public {
        uint256 agentId = registerAs(alice);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.URIUpdated(agentId, "https://x.example/agent.json", alice);
        vm.expectEmit(true, true, true, true, address(id));
        emit MetadataUpdate(agentId);
        vm.prank(alice);
        id.setAgentURI(agentId, "https://x.example/agent.json");
        assertEq(id.tokenURI(agentId), "https://x.example/agent.json", "shorter");
        vm.prank(alice);
        id.setAgentURI(agentId, string.concat(URI66, URI66));
        assertEq(id.tokenURI(agentId), string.concat(URI66, URI66), "longer");
        vm.prank(alice);
        id.setAgentURI(agentId, "");
        assertEq(id.tokenURI(agentId), "", "empty");
    }

    function test_SetAgentURI_ByApprovedAndOperator() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.approve(bob, agentId);
        vm.prank(bob);
        id.setAgentURI(agentId, "a");
        vm.prank(alice);
        id.setApprovalForAll(operator, true);
        vm.prank(operator);
        id.setAgentURI(agentId, "b");
        assertEq(id.tokenURI(agentId), "b", "uri");
    }

    function test_RevertWhen_SetAgentURIUnauthorized() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(unauthorized(bob, agentId));
        vm.prank(bob);
        id.setAgentURI(agentId, "x");
    }

    function test_RevertWhen_SetAgentURIUnknownAgent() public {
        vm.expectRevert(nonexistent(7));
        vm.prank(alice);
        id.setAgentURI(7, "x");
    }

    function test_RevertWhen_TokenURIUnknownAgent() public {
        vm.expectRevert(nonexistent(3));
        id.tokenURI(3);
    }

    // -----------------------------------------------------------------------------------------
    // metadata
    // -----------------------------------------------------------------------------------------

    function test_SetMetadata() public {
        uint256 agentId = registerAs(alice);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.MetadataSet(agentId, "k", "k", hex"0102");
        vm.prank(alice);
        id.setMetadata(agentId, "k", hex"0102");
        assertEq(id.getMetadata(agentId, "k"), hex"0102", "value");
        vm.prank(alice);
        id.setMetadata(agentId, "k", "");
        assertEq(id.getMetadata(agentId, "k"), "", "cleared");
    }

    function test_RevertWhen_SetMetadataReservedKey() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaReservedMetadataKey.selector, "agentWallet"));
        vm.prank(alice);
        id.setMetadata(agentId, "agentWallet", abi.encodePacked(bob));
    }

    function test_RevertWhen_SetMetadataUnauthorized() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(unauthorized(bob, agentId));
        vm.prank(bob);
        id.setMetadata(agentId, "k", "v");
    }

    function test_RevertWhen_SetMetadataUnknownAgent() public {
        vm.expectRevert(nonexistent(9));
        vm.prank(alice);
        id.setMetadata(9, "k", "v");
    }

    function testFuzz_MetadataRoundTrip(string calldata key, bytes calldata value) public {
        vm.assume(keccak256(bytes(key)) != keccak256("agentWallet"));
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setMetadata(agentId, key, value);
        assertEq(id.getMetadata(agentId, key), value, "roundtrip");
    }

    function testFuzz_URIRoundTrip(string calldata a, string calldata b) public {
        vm.prank(alice);
        uint256 agentId = id.register(a);
        assertEq(id.tokenURI(agentId), a, "first");
        vm.prank(alice);
        id.setAgentURI(agentId, b);
        assertEq(id.tokenURI(agentId), b, "second");
    }

    // -----------------------------------------------------------------------------------------
    // agent wallet
    // -----------------------------------------------------------------------------------------

    function test_SetAgentWallet_ECDSA() public {
        uint256 agentId = registerAs(alice);
        uint256 deadline = block.timestamp + 60;
        bytes memory sig = signWallet(WALLET_PK, agentId, alice, deadline);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.MetadataSet(agentId, "agentWallet", "agentWallet", abi.encodePacked(wallet));
        vm.prank(alice);
        id.setAgentWallet(agentId, wallet, deadline, sig);
        assertEq(id.getAgentWallet(agentId), wallet, "wallet");
        assertEq(id.getMetadata(agentId, "agentWallet"), abi.encodePacked(wallet), "metadata");
    }

    function test_SetAgentWallet_ERC1271() public {
        uint256 agentId = registerAs(alice);
        MockERC1271Wallet w = new MockERC1271Wallet();
        uint256 deadline = block.timestamp + 300;
        w.accept(walletDigest(agentId, address(w), alice, deadline));
        vm.prank(alice);
        id.setAgentWallet(agentId, address(w), deadline, hex"00");
        assertEq(id.getAgentWallet(agentId), address(w), "wallet");
    }

    function test_SetAgentWallet_ByOperator() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setApprovalForAll(operator, true);
        uint256 deadline = block.timestamp;
        // The signed message names the owner, not the operator.
        bytes memory sig = signWallet(WALLET_PK, agentId, alice, deadline);
        vm.prank(operator);
        id.setAgentWallet(agentId, wallet, deadline, sig);
        assertEq(id.getAgentWallet(agentId), wallet, "wallet");
    }

    function test_RevertWhen_SetAgentWalletExpired() public {
        uint256 agentId = registerAs(alice);
        uint256 deadline = block.timestamp - 1;
        bytes memory sig = signWallet(WALLET_PK, agentId, alice, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaIdentityRegistry.KyaDeadlineExpired.selector, deadline, block.timestamp)
        );
        vm.prank(alice);
        id.setAgentWallet(agentId, wallet, deadline, sig);
    }

    function test_RevertWhen_SetAgentWalletDeadlineTooFar() public {
        uint256 agentId = registerAs(alice);
        uint256 deadline = block.timestamp + 301;
        bytes memory sig = signWallet(WALLET_PK, agentId, alice, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaIdentityRegistry.KyaDeadlineTooFar.selector, deadline, block.timestamp + 300)
        );
        vm.prank(alice);
        id.setAgentWallet(agentId, wallet, deadline, sig);
    }

    function test_RevertWhen_SetAgentWalletZero() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaInvalidWallet.selector, address(0)));
        vm.prank(alice);
        id.setAgentWallet(agentId, address(0), block.timestamp, "");
    }

    function test_RevertWhen_SetAgentWalletBadSignature() public {
        uint256 agentId = registerAs(alice);
        uint256 deadline = block.timestamp + 10;
        // Signed by the wrong key.
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_PK, walletDigest(agentId, wallet, alice, deadline));
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaInvalidWalletSignature.selector, wallet));
        vm.prank(alice);
        id.setAgentWallet(agentId, wallet, deadline, abi.encodePacked(r, s, v));
    }

    function test_RevertWhen_SetAgentWalletSignatureForOtherAgent() public {
        uint256 a = registerAs(alice);
        uint256 b = registerAs(alice);
        uint256 deadline = block.timestamp + 10;
        bytes memory sig = signWallet(WALLET_PK, a, alice, deadline);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaInvalidWalletSignature.selector, wallet));
        vm.prank(alice);
        id.setAgentWallet(b, wallet, deadline, sig);
    }

    function test_RevertWhen_SetAgentWalletERC1271Rejects() public {
        uint256 agentId = registerAs(alice);
        MockERC1271Wallet w = new MockERC1271Wallet();
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaInvalidWalletSignature.selector, address(w)));
        vm.prank(alice);
        id.setAgentWallet(agentId, address(w), block.timestamp, hex"00");
    }

    function test_RevertWhen_SetAgentWalletUnauthorized() public {
        uint256 agentId = registerAs(alice);
        bytes memory sig = signWallet(WALLET_PK, agentId, alice, block.timestamp);
        vm.expectRevert(unauthorized(bob, agentId));
        vm.prank(bob);
        id.setAgentWallet(agentId, wallet, block.timestamp, sig);
    }

    function test_UnsetAgentWallet() public {
        uint256 agentId = registerAs(alice);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.MetadataSet(agentId, "agentWallet", "agentWallet", "");
        vm.prank(alice);
        id.unsetAgentWallet(agentId);
        assertEq(id.getAgentWallet(agentId), address(0), "wallet");
        assertEq(id.getMetadata(agentId, "agentWallet"), "", "metadata");
    }

    function test_RevertWhen_UnsetAgentWalletUnauthorized() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(unauthorized(bob, agentId));
        vm.prank(bob);
        id.unsetAgentWallet(agentId);
    }

    function test_TransferClearsAgentWallet() public {
        uint256 agentId = registerAs(alice);
        bytes memory sig = signWallet(WALLET_PK, agentId, alice, block.timestamp);
        vm.prank(alice);
        id.setAgentWallet(agentId, wallet, block.timestamp, sig);
        vm.expectEmit(true, true, true, true, address(id));
        emit Transfer(alice, bob, agentId);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.MetadataSet(agentId, "agentWallet", "agentWallet", "");
        vm.prank(alice);
        id.transferFrom(alice, bob, agentId);
        assertEq(id.getAgentWallet(agentId), address(0), "cleared");
        assertEq(id.getMetadata(agentId, "agentWallet"), "", "metadata cleared");
    }

    function test_TransferClearsImplicitWallet() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.safeTransferFrom(alice, bob, agentId);
        assertEq(id.getAgentWallet(agentId), address(0), "cleared, not the new owner");
        assertEq(id.ownerOf(agentId), bob, "owner");
    }

    function test_GetAgentWallet_UnknownAgent() public view {
        assertEq(id.getAgentWallet(42), address(0), "none");
        assertEq(id.getMetadata(42, "agentWallet"), "", "none");
    }

    // -----------------------------------------------------------------------------------------
    // misc ERC-8004 / ERC-721
    // -----------------------------------------------------------------------------------------

    function test_IsAuthorizedOrOwner() public {
        uint256 agentId = registerAs(alice);
        assertTrue(id.isAuthorizedOrOwner(alice, agentId), "owner");
        assertFalse(id.isAuthorizedOrOwner(bob, agentId), "stranger");
        vm.prank(alice);
        id.approve(bob, agentId);
        assertTrue(id.isAuthorizedOrOwner(bob, agentId), "approved");
        vm.prank(alice);
        id.setApprovalForAll(operator, true);
        assertTrue(id.isAuthorizedOrOwner(operator, agentId), "operator");
    }

    function test_RevertWhen_IsAuthorizedOrOwnerUnknownAgent() public {
        vm.expectRevert(nonexistent(5));
        id.isAuthorizedOrOwner(alice, 5);
    }

    function test_Metadata() public view {
        assertEq(id.name(), "KYA Agent", "name");
        assertEq(id.symbol(), "KYA", "symbol");
        assertEq(id.getVersion(), "2.0.0+kya.1", "version");
        (, string memory name, string memory version,, address verifyingContract,,) = id.eip712Domain();
        assertEq(name, "ERC8004IdentityRegistry", "eip712 name");
        assertEq(version, "1", "eip712 version");
        assertEq(verifyingContract, address(id), "eip712 contract");
    }

    function test_SupportsInterface() public view {
        assertTrue(id.supportsInterface(0x80ac58cd), "erc721");
        assertTrue(id.supportsInterface(0x5b5e139f), "erc721 metadata");
        assertTrue(id.supportsInterface(0x49064906), "erc4906");
        assertTrue(id.supportsInterface(0x01ffc9a7), "erc165");
        assertTrue(id.supportsInterface(type(IKyaIdentityRegistry).interfaceId), "kya");
        assertFalse(id.supportsInterface(0xffffffff), "none");
    }

    // -----------------------------------------------------------------------------------------
    // agent keys
    // -----------------------------------------------------------------------------------------

    function test_SetAgentKey() public {
        uint256 agentId = registerAs(alice);
        vm.roll(150);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.AgentKeyBound(agentId, KEY1, alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY2);
        assertTrue(id.isAgentKeyBound(agentId, KEY1), "key1");
        assertTrue(id.isAgentKeyBound(agentId, KEY2), "key2 (several keys at once)");
        assertFalse(id.keyBoundAt(agentId, KEY1, 149), "before");
        assertTrue(id.keyBoundAt(agentId, KEY1, 150), "at");
        assertTrue(id.keyBoundAt(agentId, KEY1, 10_000), "after");
    }

    function test_SetAgentKey_ByOperator() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setApprovalForAll(operator, true);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.AgentKeyBound(agentId, KEY1, operator);
        vm.prank(operator);
        id.setAgentKey(agentId, KEY1);
    }

    function test_SameKeyOnTwoAgents() public {
        uint256 a = registerAs(alice);
        uint256 b = registerAs(bob);
        vm.prank(alice);
        id.setAgentKey(a, KEY1);
        vm.prank(bob);
        id.setAgentKey(b, KEY1);
        assertTrue(id.isAgentKeyBound(a, KEY1) && id.isAgentKeyBound(b, KEY1), "per-agent binding");
    }

    function test_RevertWhen_SetAgentKeyAlreadyBound() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaIdentityRegistry.KyaKeyAlreadyBound.selector, agentId, KEY1, uint64(100))
        );
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
    }

    function test_RevertWhen_SetAgentKeyRetired() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.roll(120);
        vm.prank(alice);
        id.revokeAgentKey(agentId, KEY1);
        vm.roll(130);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaIdentityRegistry.KyaKeyRetired.selector, agentId, KEY1, uint64(120))
        );
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
    }

    function test_RevertWhen_SetAgentKeyZero() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(IKyaIdentityRegistry.KyaZeroValue.selector);
        vm.prank(alice);
        id.setAgentKey(agentId, bytes32(0));
    }

    function test_RevertWhen_SetAgentKeyUnauthorized() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(unauthorized(bob, agentId));
        vm.prank(bob);
        id.setAgentKey(agentId, KEY1);
    }

    function test_RevertWhen_SetAgentKeyUnknownAgent() public {
        vm.expectRevert(nonexistent(0));
        vm.prank(alice);
        id.setAgentKey(0, KEY1);
    }

    function test_RotateAgentKey() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.roll(110);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.AgentKeyUnbound(agentId, KEY1, alice);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.AgentKeyBound(agentId, KEY2, alice);
        vm.prank(alice);
        id.rotateAgentKey(agentId, KEY1, KEY2);
        (uint64 b1, uint64 u1) = id.agentKeyPeriod(agentId, KEY1);
        (uint64 b2, uint64 u2) = id.agentKeyPeriod(agentId, KEY2);
        assertEq(b1, 100, "b1");
        assertEq(u1, 110, "u1");
        assertEq(b2, 110, "b2");
        assertEq(u2, 0, "u2");
        assertTrue(id.keyBoundAt(agentId, KEY1, 109), "old key before rotation");
        assertFalse(id.keyBoundAt(agentId, KEY1, 110), "old key at rotation");
        assertFalse(id.keyBoundAt(agentId, KEY2, 109), "new key before rotation");
        assertTrue(id.keyBoundAt(agentId, KEY2, 110), "new key at rotation");
        assertFalse(id.isAgentKeyBound(agentId, KEY1), "old unbound");
    }

    function test_RevertWhen_RotateAgentKeyOldNotBound() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaKeyNotBound.selector, agentId, KEY1));
        vm.prank(alice);
        id.rotateAgentKey(agentId, KEY1, KEY2);
    }

    function test_RevertWhen_RotateAgentKeyToSameKey() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.roll(101);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaIdentityRegistry.KyaKeyRetired.selector, agentId, KEY1, uint64(101))
        );
        vm.prank(alice);
        id.rotateAgentKey(agentId, KEY1, KEY1);
    }

    function test_RevertWhen_RotateAgentKeyNewAlreadyBound() public {
        uint256 agentId = registerAs(alice);
        vm.startPrank(alice);
        id.setAgentKey(agentId, KEY1);
        id.setAgentKey(agentId, KEY2);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaIdentityRegistry.KyaKeyAlreadyBound.selector, agentId, KEY2, uint64(100))
        );
        id.rotateAgentKey(agentId, KEY1, KEY2);
        vm.stopPrank();
    }

    function test_RevertWhen_RotateAgentKeyUnauthorized() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.expectRevert(unauthorized(bob, agentId));
        vm.prank(bob);
        id.rotateAgentKey(agentId, KEY1, KEY2);
    }

    function test_RevokeAgentKey() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.AgentKeyUnbound(agentId, KEY1, alice);
        vm.prank(alice);
        id.revokeAgentKey(agentId, KEY1);
        (uint64 b, uint64 u) = id.agentKeyPeriod(agentId, KEY1);
        assertEq(b, 100, "b");
        assertEq(u, 100, "u");
        assertFalse(id.keyBoundAt(agentId, KEY1, 100), "bound and unbound in one block: never bound at a block end");
    }

    function test_RevertWhen_RevokeAgentKeyNotBound() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaKeyNotBound.selector, agentId, KEY1));
        vm.prank(alice);
        id.revokeAgentKey(agentId, KEY1);
    }

    function test_RevertWhen_RevokeAgentKeyTwice() public {
        uint256 agentId = registerAs(alice);
        vm.startPrank(alice);
        id.setAgentKey(agentId, KEY1);
        id.revokeAgentKey(agentId, KEY1);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaKeyNotBound.selector, agentId, KEY1));
        id.revokeAgentKey(agentId, KEY1);
        vm.stopPrank();
    }

    function test_RevertWhen_RevokeAgentKeyUnauthorized() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.expectRevert(unauthorized(bob, agentId));
        vm.prank(bob);
        id.revokeAgentKey(agentId, KEY1);
    }

    function test_KeysSurviveTransfer_NewOwnerControls() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.prank(alice);
        id.transferFrom(alice, bob, agentId);
        assertTrue(id.isAgentKeyBound(agentId, KEY1), "still bound");
        vm.expectRevert(unauthorized(alice, agentId));
        vm.prank(alice);
        id.revokeAgentKey(agentId, KEY1);
        vm.prank(bob);
        id.revokeAgentKey(agentId, KEY1);
    }

    function testFuzz_KeyBoundAt(uint64 bindBlock, uint64 gap, uint256 query) public {
        bindBlock = uint64(bound(bindBlock, 1, type(uint64).max / 2));
        gap = uint64(bound(gap, 0, type(uint64).max / 4));
        uint256 agentId = registerAs(alice);
        vm.roll(bindBlock);
        vm.prank(alice);
        id.setAgentKey(agentId, KEY1);
        vm.roll(uint256(bindBlock) + gap);
        vm.prank(alice);
        id.revokeAgentKey(agentId, KEY1);
        bool expected = query >= bindBlock && query < uint256(bindBlock) + gap;
        assertEq(id.keyBoundAt(agentId, KEY1, query), expected, "period");
    }

    // -----------------------------------------------------------------------------------------
    // principal keys
    // -----------------------------------------------------------------------------------------

    function test_BindPrincipalKey() public {
        vm.roll(300);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.PrincipalKeyBound(carol, KEY1);
        vm.prank(carol);
        id.bindPrincipalKey(KEY1);
        assertTrue(id.isPrincipalKeyBound(carol, KEY1), "bound");
        assertFalse(id.isPrincipalKeyBound(bob, KEY1), "per principal");
        (uint64 b, uint64 u) = id.principalKeyPeriod(carol, KEY1);
        assertEq(b, 300, "boundAt");
        assertEq(u, 0, "unboundAt");
        assertFalse(id.principalKeyBoundAt(carol, KEY1, 299), "before");
        assertTrue(id.principalKeyBoundAt(carol, KEY1, 300), "at");
    }

    function test_SamePrincipalKeyTwoPrincipals() public {
        vm.prank(carol);
        id.bindPrincipalKey(KEY1);
        // A copy of carol's transaction only binds the key to the copier.
        vm.prank(bob);
        id.bindPrincipalKey(KEY1);
        assertTrue(id.isPrincipalKeyBound(carol, KEY1) && id.isPrincipalKeyBound(bob, KEY1), "both");
    }

    function test_UnbindPrincipalKey() public {
        vm.prank(carol);
        id.bindPrincipalKey(KEY1);
        vm.roll(400);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.PrincipalKeyUnbound(carol, KEY1);
        vm.prank(carol);
        id.unbindPrincipalKey(KEY1);
        assertFalse(id.isPrincipalKeyBound(carol, KEY1), "unbound");
        assertTrue(id.principalKeyBoundAt(carol, KEY1, 399), "history kept");
        assertFalse(id.principalKeyBoundAt(carol, KEY1, 400), "ended");
    }

    function test_RevertWhen_BindPrincipalKeyAlreadyBound() public {
        vm.startPrank(carol);
        id.bindPrincipalKey(KEY1);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaIdentityRegistry.KyaPrincipalKeyAlreadyBound.selector, carol, KEY1, uint64(100))
        );
        id.bindPrincipalKey(KEY1);
        vm.stopPrank();
    }

    function test_RevertWhen_BindPrincipalKeyRetired() public {
        vm.startPrank(carol);
        id.bindPrincipalKey(KEY1);
        vm.roll(101);
        id.unbindPrincipalKey(KEY1);
        vm.expectRevert(
            abi.encodeWithSelector(IKyaIdentityRegistry.KyaPrincipalKeyRetired.selector, carol, KEY1, uint64(101))
        );
        id.bindPrincipalKey(KEY1);
        vm.stopPrank();
    }

    function test_RevertWhen_BindPrincipalKeyZero() public {
        vm.expectRevert(IKyaIdentityRegistry.KyaZeroValue.selector);
        vm.prank(carol);
        id.bindPrincipalKey(bytes32(0));
    }

    function test_RevertWhen_UnbindPrincipalKeyNotBound() public {
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaPrincipalKeyNotBound.selector, carol, KEY1));
        vm.prank(carol);
        id.unbindPrincipalKey(KEY1);
    }

    function test_RevertWhen_UnbindPrincipalKeyOfAnother() public {
        vm.prank(carol);
        id.bindPrincipalKey(KEY1);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaPrincipalKeyNotBound.selector, bob, KEY1));
        vm.prank(bob);
        id.unbindPrincipalKey(KEY1);
        assertTrue(id.isPrincipalKeyBound(carol, KEY1), "untouched");
    }

    function testFuzz_PrincipalKeyBoundAt(address principal, bytes32 key, uint64 bindBlock, uint256 query) public {
        vm.assume(key != bytes32(0));
        bindBlock = uint64(bound(bindBlock, 1, type(uint64).max));
        vm.roll(bindBlock);
        vm.prank(principal);
        id.bindPrincipalKey(key);
        assertEq(id.principalKeyBoundAt(principal, key, query), query >= bindBlock, "open period");
    }

    // -----------------------------------------------------------------------------------------
    // credential revocation
    // -----------------------------------------------------------------------------------------

    function test_RevokeCredential() public {
        uint256 agentId = registerAs(alice);
        vm.roll(500);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.CredentialRevoked(agentId, DIGEST, alice);
        vm.prank(alice);
        id.revokeCredential(agentId, DIGEST);
        assertTrue(id.isRevoked(agentId, DIGEST), "revoked");
        assertEq(id.revokedAt(agentId, DIGEST), 500, "block");
        assertFalse(id.isRevoked(agentId, KEY1), "other digest");
    }

    function test_RevokeIssuedCredential() public {
        vm.roll(600);
        vm.expectEmit(true, true, true, true, address(id));
        emit IKyaIdentityRegistry.IssuerCredentialRevoked(wallet, DIGEST);
        vm.prank(wallet);
        id.revokeIssuedCredential(DIGEST);
        assertEq(id.issuerRevokedAt(wallet, DIGEST), 600, "block");
        assertEq(id.issuerRevokedAt(alice, DIGEST), 0, "only the caller's revocation");
        assertEq(id.issuerRevokedAt(wallet, KEY1), 0, "other digest");
    }

    /// @dev A wallet principal revokes an authorisation it gave to an agent it does not own
    ///      (the agent's owner revoking nothing): no agent permission is needed.
    function test_RevokeIssuedCredential_ForAgentOwnedBySomeoneElse() public {
        uint256 agentId = registerAs(alice);
        vm.prank(wallet);
        id.revokeIssuedCredential(DIGEST);
        assertEq(id.issuerRevokedAt(wallet, DIGEST), block.number, "issuer revocation");
        assertFalse(id.isRevoked(agentId, DIGEST), "agent-scoped revocation untouched");
    }

    function test_RevertWhen_RevokeIssuedCredentialTwice() public {
        vm.roll(300);
        vm.prank(wallet);
        id.revokeIssuedCredential(DIGEST);
        vm.roll(305);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKyaIdentityRegistry.KyaIssuerCredentialAlreadyRevoked.selector, wallet, DIGEST, uint64(300)
            )
        );
        vm.prank(wallet);
        id.revokeIssuedCredential(DIGEST);
    }

    function test_RevertWhen_RevokeIssuedCredentialZeroDigest() public {
        vm.expectRevert(IKyaIdentityRegistry.KyaZeroValue.selector);
        vm.prank(wallet);
        id.revokeIssuedCredential(bytes32(0));
    }

    function test_RevertWhen_RegisterURITooLong() public {
        string memory uri = string(new bytes(8193));
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaURITooLong.selector, 8193, 8192));
        vm.prank(alice);
        id.register(uri);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaURITooLong.selector, 8193, 8192));
        vm.prank(alice);
        id.registerWithKey(uri, KEY1);
    }

    function test_RevertWhen_SetAgentURITooLong() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(abi.encodeWithSelector(IKyaIdentityRegistry.KyaURITooLong.selector, 8193, 8192));
        vm.prank(alice);
        id.setAgentURI(agentId, string(new bytes(8193)));
    }

    function test_RegisterURIAtTheBound() public {
        string memory uri = string(new bytes(8192));
        vm.prank(alice);
        uint256 agentId = id.register(uri);
        assertEq(bytes(id.tokenURI(agentId)).length, 8192, "kept in full");
    }

    function test_RevokeCredential_ScopedPerAgent() public {
        uint256 a = registerAs(alice);
        uint256 b = registerAs(bob);
        vm.prank(alice);
        id.revokeCredential(a, DIGEST);
        assertFalse(id.isRevoked(b, DIGEST), "other agent unaffected");
        vm.expectRevert(unauthorized(alice, b));
        vm.prank(alice);
        id.revokeCredential(b, DIGEST);
    }

    function test_RevokeCredential_ByApproved() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.approve(bob, agentId);
        vm.prank(bob);
        id.revokeCredential(agentId, DIGEST);
        assertTrue(id.isRevoked(agentId, DIGEST), "revoked");
    }

    function test_RevertWhen_RevokeCredentialTwice() public {
        uint256 agentId = registerAs(alice);
        vm.prank(alice);
        id.revokeCredential(agentId, DIGEST);
        vm.roll(600);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKyaIdentityRegistry.KyaCredentialAlreadyRevoked.selector, agentId, DIGEST, uint64(100)
            )
        );
        vm.prank(alice);
        id.revokeCredential(agentId, DIGEST);
    }

    function test_RevertWhen_RevokeCredentialUnauthorized() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(unauthorized(bob, agentId));
        vm.prank(bob);
        id.revokeCredential(agentId, DIGEST);
    }

    function test_RevertWhen_RevokeCredentialUnknownAgent() public {
        vm.expectRevert(nonexistent(11));
        vm.prank(alice);
        id.revokeCredential(11, DIGEST);
    }

    function test_RevertWhen_RevokeCredentialZeroDigest() public {
        uint256 agentId = registerAs(alice);
        vm.expectRevert(IKyaIdentityRegistry.KyaZeroValue.selector);
        vm.prank(alice);
        id.revokeCredential(agentId, bytes32(0));
    }

    function testFuzz_RevokeCredential(bytes32 digest, bytes32 other, uint64 atBlock) public {
        vm.assume(digest != bytes32(0) && other != digest);
        atBlock = uint64(bound(atBlock, 1, type(uint64).max));
        uint256 a = registerAs(alice);
        uint256 b = registerAs(bob);
        vm.roll(atBlock);
        vm.prank(alice);
        id.revokeCredential(a, digest);
        assertEq(id.revokedAt(a, digest), atBlock, "revokedAt");
        assertFalse(id.isRevoked(a, other), "other digest");
        assertFalse(id.isRevoked(b, digest), "other agent");
    }

    // -----------------------------------------------------------------------------------------
    // gas (also recorded by `forge snapshot`)
    // -----------------------------------------------------------------------------------------

    function test_Gas_RegisterWithURI() public {
        registerAs(bob); // counter already non-zero, as on a live registry
        vm.prank(alice);
        id.register(URI66);
    }

    function test_Gas_RegisterWithKey() public {
        registerAs(bob);
        vm.prank(alice);
        id.registerWithKey(URI66, KEY1);
    }
}
