// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IKyaTestUSD, IEIP3009} from "./IKyaTestUSD.sol";

/// @title KyaTestUSD
/// @notice "KYA Test USD" (kUSD): an ERC-20 with 6 decimals and EIP-3009 transfers with
///         authorization, EIP-712 domain ("KYA Test USD", "1", chainid, this). For tests and
///         demos on local chains: the deployer mints. Non-upgradeable; ECDSA through
///         OpenZeppelin (low-s only, no malleable second signature).
contract KyaTestUSD is ERC20, EIP712, IKyaTestUSD {
    /// @dev keccak256("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH =
        0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267;
    /// @dev keccak256("ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH =
        0xd099cc98ef71107a616c4f0f941f04c322d8e254fe26b3c6668db87aae413de8;

    string private constant NAME = "KYA Test USD";
    string private constant VERSION = "1";

    /// @inheritdoc IKyaTestUSD
    address public immutable minter;

    mapping(address authorizer => mapping(bytes32 nonce => bool used)) private _authorizationStates;

    constructor() ERC20(NAME, "kUSD") EIP712(NAME, VERSION) {
        minter = msg.sender;
    }

    /// @notice Six decimals, like USDC.
    /// @return 6.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @inheritdoc IKyaTestUSD
    function version() external pure returns (string memory) {
        return VERSION;
    }

    /// @inheritdoc IKyaTestUSD
    // forge-lint: disable-next-line(mixed-case-function) -- the name EIP-2612/USDC readers call
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IKyaTestUSD
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert KyaNotMinter(msg.sender, minter);
        _mint(to, amount);
    }

    /// @inheritdoc IEIP3009
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    /// @inheritdoc IEIP3009
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        _checkAuthorization(from, validAfter, validBefore, nonce);
        bytes32 digest = _digest(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
        _settle(from, to, value, nonce, recovered, err);
    }

    /// @inheritdoc IEIP3009
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        _checkAuthorization(from, validAfter, validBefore, nonce);
        bytes32 digest = _digest(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        _settle(from, to, value, nonce, recovered, err);
    }

    /// @inheritdoc IEIP3009
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (msg.sender != to) revert KyaCallerNotPayee(msg.sender, to);
        _checkAuthorization(from, validAfter, validBefore, nonce);
        bytes32 digest = _digest(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
        _settle(from, to, value, nonce, recovered, err);
    }

    /// @dev The window (EIP-3009: both bounds exclusive) and the nonce's single use.
    function _checkAuthorization(address from, uint256 validAfter, uint256 validBefore, bytes32 nonce) private view {
        // EIP-3009 windows are in unix seconds; a validator's few seconds of drift are the
        // payer's chosen margin.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= validAfter) revert KyaAuthorizationNotYetValid(validAfter, block.timestamp);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp >= validBefore) revert KyaAuthorizationExpired(validBefore, block.timestamp);
        if (_authorizationStates[from][nonce]) revert KyaAuthorizationAlreadyUsed(from, nonce);
    }

    function _digest(
        bytes32 typehash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce
    ) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(typehash, from, to, value, validAfter, validBefore, nonce)));
    }

    /// @dev Checks the signer, marks the nonce used, moves the tokens, then emits.
    function _settle(
        address from,
        address to,
        uint256 value,
        bytes32 nonce,
        address recovered,
        ECDSA.RecoverError err
    ) private {
        if (err != ECDSA.RecoverError.NoError || recovered != from) {
            revert KyaInvalidAuthorizationSigner(from, err == ECDSA.RecoverError.NoError ? recovered : address(0));
        }
        _authorizationStates[from][nonce] = true;
        _transfer(from, to, value);
        emit AuthorizationUsed(from, nonce);
    }
}
