// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {KyaTest} from "./utils/KyaTest.sol";
import {IEIP3009, IKyaTestUSD} from "../src/IKyaTestUSD.sol";
import {KyaTestUSD} from "../src/KyaTestUSD.sol";

contract KyaTestUSDTest is KyaTest {
    KyaTestUSD internal token;
    uint256 internal constant PAYER_KEY = 0xA11CE;
    uint256 internal constant OTHER_KEY = 0xB0B;
    address internal payer;
    address internal merchant = address(0x3E2C4A27);
    address internal facilitator = address(0xFAC);
    bytes32 internal constant NONCE = keccak256("nonce 1");
    uint256 internal constant T0 = 1_750_000_000;
    uint256 internal constant PRICE = 12_500_000; // 12.50 kUSD

    function setUp() public {
        vm.warp(T0);
        token = new KyaTestUSD();
        payer = vm.addr(PAYER_KEY);
        token.mint(payer, 100_000_000);
    }

    function digest(bytes32 typehash, address from, address to, uint256 value, uint256 va, uint256 vb, bytes32 nonce)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(typehash, from, to, value, va, vb, nonce));
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    /// @dev Signs, with `key`, an authorization naming `payer` as `from`.
    function signTransfer(uint256 key, address to, uint256 value, uint256 va, uint256 vb, bytes32 nonce)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        return vm.sign(
            key, digest(token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), payer, to, value, va, vb, nonce)
        );
    }

    function pay(uint256 value, uint256 va, uint256 vb, bytes32 nonce) internal {
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, value, va, vb, nonce);
        vm.prank(facilitator);
        token.transferWithAuthorization(payer, merchant, value, va, vb, nonce, v, r, s);
    }

    function test_Metadata() public view {
        assertEq(token.decimals(), 6, "decimals");
        assertEq(token.name(), "KYA Test USD", "name");
        assertEq(token.symbol(), "kUSD", "symbol");
        assertEq(token.version(), "1", "version");
        assertEq(token.minter(), address(this), "minter");
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("KYA Test USD"),
                keccak256("1"),
                block.chainid,
                address(token)
            )
        );
        assertEq(token.DOMAIN_SEPARATOR(), expected, "domain separator");
        assertEq(
            token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(),
            keccak256(
                "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
            ),
            "transfer typehash"
        );
        assertEq(
            token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(),
            keccak256(
                "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
            ),
            "receive typehash"
        );
    }

    function test_TransferWithAuthorization() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IEIP3009.AuthorizationUsed(payer, NONCE);
        pay(PRICE, T0 - 600, T0 + 60, NONCE);
        assertEq(token.balanceOf(merchant), PRICE, "merchant balance");
        assertEq(token.balanceOf(payer), 100_000_000 - PRICE, "payer balance");
        assertTrue(token.authorizationState(payer, NONCE), "nonce used");
        assertEq(token.balanceOf(facilitator), 0, "facilitator gets nothing");
    }

    function test_TransferWithAuthorization_BytesSignature() public {
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, PRICE, 0, T0 + 60, NONCE);
        token.transferWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, NONCE, abi.encodePacked(r, s, v));
        assertEq(token.balanceOf(merchant), PRICE, "merchant balance");
        assertTrue(token.authorizationState(payer, NONCE), "nonce used");
    }

    function test_ReceiveWithAuthorization() public {
        bytes32 d =
            digest(token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), payer, merchant, PRICE, 0, T0 + 60, NONCE);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, d);
        vm.prank(merchant);
        token.receiveWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, NONCE, v, r, s);
        assertEq(token.balanceOf(merchant), PRICE, "merchant balance");
    }

    function test_RevertWhen_ReceiveCalledByOther() public {
        bytes32 d =
            digest(token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), payer, merchant, PRICE, 0, T0 + 60, NONCE);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, d);
        vm.prank(facilitator);
        vm.expectRevert(abi.encodeWithSelector(IEIP3009.KyaCallerNotPayee.selector, facilitator, merchant));
        token.receiveWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, NONCE, v, r, s);
    }

    function test_RevertWhen_ReceiveSignatureUsedAsTransfer() public {
        // A ReceiveWithAuthorization signature is not a TransferWithAuthorization one.
        bytes32 d =
            digest(token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), payer, merchant, PRICE, 0, T0 + 60, NONCE);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, d);
        vm.expectRevert();
        token.transferWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, NONCE, v, r, s);
        assertEq(token.balanceOf(merchant), 0, "no transfer");
    }

    function test_RevertWhen_Replayed() public {
        pay(PRICE, 0, T0 + 60, NONCE);
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, PRICE, 0, T0 + 60, NONCE);
        vm.expectRevert(abi.encodeWithSelector(IEIP3009.KyaAuthorizationAlreadyUsed.selector, payer, NONCE));
        token.transferWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, NONCE, v, r, s);
        assertEq(token.balanceOf(merchant), PRICE, "paid once");
    }

    function test_RevertWhen_NonceReusedForOtherAmount() public {
        pay(PRICE, 0, T0 + 60, NONCE);
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, 1, 0, T0 + 60, NONCE);
        vm.expectRevert(abi.encodeWithSelector(IEIP3009.KyaAuthorizationAlreadyUsed.selector, payer, NONCE));
        token.transferWithAuthorization(payer, merchant, 1, 0, T0 + 60, NONCE, v, r, s);
    }

    function test_RevertWhen_Expired() public {
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, PRICE, 0, T0, NONCE);
        vm.expectRevert(abi.encodeWithSelector(IEIP3009.KyaAuthorizationExpired.selector, T0, T0));
        token.transferWithAuthorization(payer, merchant, PRICE, 0, T0, NONCE, v, r, s);
        assertFalse(token.authorizationState(payer, NONCE), "nonce unused");
    }

    function test_RevertWhen_NotYetValid() public {
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, PRICE, T0, T0 + 60, NONCE);
        vm.expectRevert(abi.encodeWithSelector(IEIP3009.KyaAuthorizationNotYetValid.selector, T0, T0));
        token.transferWithAuthorization(payer, merchant, PRICE, T0, T0 + 60, NONCE, v, r, s);
        vm.warp(T0 + 1);
        token.transferWithAuthorization(payer, merchant, PRICE, T0, T0 + 60, NONCE, v, r, s);
        assertEq(token.balanceOf(merchant), PRICE, "valid one second later");
    }

    function test_RevertWhen_WrongSigner() public {
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(OTHER_KEY, merchant, PRICE, 0, T0 + 60, NONCE);
        vm.expectRevert(
            abi.encodeWithSelector(IEIP3009.KyaInvalidAuthorizationSigner.selector, payer, vm.addr(OTHER_KEY))
        );
        token.transferWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, NONCE, v, r, s);
        assertEq(token.balanceOf(merchant), 0, "no transfer");
    }

    function test_RevertWhen_TamperedRecipient() public {
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, PRICE, 0, T0 + 60, NONCE);
        vm.expectRevert();
        token.transferWithAuthorization(payer, facilitator, PRICE, 0, T0 + 60, NONCE, v, r, s);
        assertEq(token.balanceOf(facilitator), 0, "no transfer");
    }

    function test_RevertWhen_MalformedSignature() public {
        vm.expectRevert(
            abi.encodeWithSelector(IEIP3009.KyaInvalidAuthorizationSigner.selector, payer, address(0))
        );
        token.transferWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, NONCE, hex"0102");
    }

    function test_RevertWhen_HighS() public {
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, PRICE, 0, T0 + 60, NONCE);
        // The malleable twin (n - s, flipped v) recovers the same key; OpenZeppelin refuses it.
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        bytes32 s2 = bytes32(n - uint256(s));
        uint8 v2 = v == 27 ? 28 : 27;
        vm.expectRevert(
            abi.encodeWithSelector(IEIP3009.KyaInvalidAuthorizationSigner.selector, payer, address(0))
        );
        token.transferWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, NONCE, v2, r, s2);
    }

    function test_RevertWhen_InsufficientBalance() public {
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, 100_000_001, 0, T0 + 60, NONCE);
        vm.expectRevert();
        token.transferWithAuthorization(payer, merchant, 100_000_001, 0, T0 + 60, NONCE, v, r, s);
        assertFalse(token.authorizationState(payer, NONCE), "nonce unused after a failed transfer");
    }

    function test_RevertWhen_MintByOther() public {
        vm.prank(facilitator);
        vm.expectRevert(abi.encodeWithSelector(IKyaTestUSD.KyaNotMinter.selector, facilitator, address(this)));
        token.mint(facilitator, 1);
    }

    /// @dev Any value, window and nonce: a valid authorization moves exactly `value` once, and
    ///      only inside its window.
    function testFuzz_TransferWithAuthorization(uint256 value, uint256 va, uint256 vb, bytes32 nonce, uint256 at)
        public
    {
        value = bound(value, 0, 100_000_000);
        va = bound(va, 0, T0 + 1000);
        vb = bound(vb, 0, T0 + 2000);
        at = bound(at, T0 - 1000, T0 + 3000);
        vm.warp(at);
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(PAYER_KEY, merchant, value, va, vb, nonce);
        bool open = at > va && at < vb;
        if (!open) vm.expectRevert();
        token.transferWithAuthorization(payer, merchant, value, va, vb, nonce, v, r, s);
        assertEq(token.balanceOf(merchant), open ? value : 0, "merchant balance");
        assertEq(token.authorizationState(payer, nonce), open, "nonce state");
        if (open) {
            vm.expectRevert(abi.encodeWithSelector(IEIP3009.KyaAuthorizationAlreadyUsed.selector, payer, nonce));
            token.transferWithAuthorization(payer, merchant, value, va, vb, nonce, v, r, s);
            assertEq(token.balanceOf(merchant), value, "never twice");
        }
    }

    /// @dev A signature by any other key never moves the payer's tokens.
    function testFuzz_RevertWhen_OtherKey(uint256 key, bytes32 nonce) public {
        key = bound(key, 1, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140);
        vm.assume(key != PAYER_KEY);
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(key, merchant, PRICE, 0, T0 + 60, nonce);
        vm.expectRevert(
            abi.encodeWithSelector(IEIP3009.KyaInvalidAuthorizationSigner.selector, payer, vm.addr(key))
        );
        token.transferWithAuthorization(payer, merchant, PRICE, 0, T0 + 60, nonce, v, r, s);
    }
}

/// @notice Drives the token with authorizations, some fresh, some replayed, some expired.
contract PaymentHandler is KyaTest {
    KyaTestUSD internal immutable token;
    uint256 internal constant PAYER_KEY = 0xA11CE;
    address internal immutable payer;
    address public constant MERCHANT = address(0x3E2C4A27);
    uint256 public paid;
    uint256 public calls;
    bytes32[] internal used;

    constructor(KyaTestUSD token_) {
        token = token_;
        payer = vm.addr(PAYER_KEY);
    }

    /// @dev Pays `value` with a fresh nonce, or replays an used one (`replay`), in or out of
    ///      its window (`expired`).
    function pay(uint256 value, bytes32 nonce, bool replay, bool expired) external {
        calls++;
        value = bound(value, 0, 1_000_000);
        if (replay && used.length > 0) nonce = used[uint256(nonce) % used.length];
        uint256 vb = expired ? block.timestamp : block.timestamp + 60;
        bytes32 structHash = keccak256(
            abi.encode(token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), payer, MERCHANT, value, 0, vb, nonce)
        );
        bytes32 d = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, d);
        bool wasUsed = token.authorizationState(payer, nonce);
        try token.transferWithAuthorization(payer, MERCHANT, value, 0, vb, nonce, v, r, s) {
            if (wasUsed || expired) fail("an used or expired authorization settled");
            paid += value;
            used.push(nonce);
        } catch {
            if (!wasUsed && !expired && token.balanceOf(payer) >= value) fail("a valid authorization failed");
        }
    }
}

contract KyaTestUSDInvariantsTest is KyaTest {
    KyaTestUSD internal token;
    PaymentHandler internal handler;
    uint256 internal constant SUPPLY = 1_000_000_000_000;

    function setUp() public {
        vm.warp(1_750_000_000);
        token = new KyaTestUSD();
        handler = new PaymentHandler(token);
        token.mint(vm.addr(0xA11CE), SUPPLY);
    }

    /// @notice Forge reads this to pick fuzz targets.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice The merchant holds exactly what the accepted authorizations moved; supply is kept.
    function invariant_MerchantGetsExactlyWhatWasAuthorized() public view {
        assertEq(token.balanceOf(handler.MERCHANT()), handler.paid(), "merchant balance");
        assertEq(token.balanceOf(vm.addr(0xA11CE)) + handler.paid(), SUPPLY, "supply conserved");
        assertEq(token.totalSupply(), SUPPLY, "total supply");
    }
}
