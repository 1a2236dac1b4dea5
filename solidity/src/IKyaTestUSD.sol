// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IEIP3009
/// @notice EIP-3009 "Transfer With Authorization": a token holder signs an EIP-712 message that
///         moves an exact amount to one recipient within a time window, and anyone (an x402
///         facilitator) submits it and pays the gas. Each (authorizer, nonce) is usable once.
/// @dev The signed struct is
///      `TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)`
///      or, for `receiveWithAuthorization`, the same fields under
///      `ReceiveWithAuthorization(...)`; the window is open for
///      `validAfter < block.timestamp < validBefore` (both bounds exclusive, as in EIP-3009).
interface IEIP3009 {
    /// @notice The authorization (`authorizer`, `nonce`) was used (and can never be used again).
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);

    /// @notice The authorization is not valid yet: `blockTime` is not after `validAfter`.
    error KyaAuthorizationNotYetValid(uint256 validAfter, uint256 blockTime);
    /// @notice The authorization expired: `blockTime` is not before `validBefore`.
    error KyaAuthorizationExpired(uint256 validBefore, uint256 blockTime);
    /// @notice (`authorizer`, `nonce`) was already used.
    error KyaAuthorizationAlreadyUsed(address authorizer, bytes32 nonce);
    /// @notice The signature does not recover to `from` (`recovered` is zero for a malformed one).
    error KyaInvalidAuthorizationSigner(address from, address recovered);
    /// @notice `receiveWithAuthorization` must be called by its payee `to`.
    error KyaCallerNotPayee(address caller, address to);

    /// @notice Moves `value` from `from` to `to`, authorized by `from`'s EIP-712 signature
    ///         (`v`, `r`, `s`) over TransferWithAuthorization; callable by anyone.
    /// @param from The payer (the signer).
    /// @param to The payee.
    /// @param value The amount, in the token's smallest unit.
    /// @param validAfter The authorization is valid strictly after this unix time.
    /// @param validBefore The authorization is valid strictly before this unix time.
    /// @param nonce A unique 32-byte nonce chosen by the payer.
    /// @param v Signature recovery id.
    /// @param r Signature r.
    /// @param s Signature s.
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
    ) external;

    /// @notice As the (`v`, `r`, `s`) overload, with the 65-byte signature `r ‖ s ‖ v` in one
    ///         argument (the form USDC v2.2 also accepts).
    /// @param from The payer (the signer).
    /// @param to The payee.
    /// @param value The amount, in the token's smallest unit.
    /// @param validAfter The authorization is valid strictly after this unix time.
    /// @param validBefore The authorization is valid strictly before this unix time.
    /// @param nonce A unique 32-byte nonce chosen by the payer.
    /// @param signature The 65-byte ECDSA signature.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;

    /// @notice As `transferWithAuthorization` over ReceiveWithAuthorization, callable only by the
    ///         payee `to` (so a front-runner cannot submit it elsewhere).
    /// @param from The payer (the signer).
    /// @param to The payee, who must be the caller.
    /// @param value The amount, in the token's smallest unit.
    /// @param validAfter The authorization is valid strictly after this unix time.
    /// @param validBefore The authorization is valid strictly before this unix time.
    /// @param nonce A unique 32-byte nonce chosen by the payer.
    /// @param v Signature recovery id.
    /// @param r Signature r.
    /// @param s Signature s.
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
    ) external;

    /// @notice Whether (`authorizer`, `nonce`) was used.
    /// @param authorizer The payer.
    /// @param nonce The nonce.
    /// @return used True once the authorization was used.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool used);
}

/// @title IKyaTestUSD
/// @notice A USDC-like test stablecoin (6 decimals, EIP-3009) for local chains: the x402
///         `exact` scheme settles in it. Its minter mints; nobody else can create tokens.
interface IKyaTestUSD is IEIP3009 {
    /// @notice Only the minter may mint.
    error KyaNotMinter(address caller, address minter);

    /// @notice Mints `amount` to `to` (minter only).
    /// @param to The recipient.
    /// @param amount The amount, in the token's smallest unit.
    function mint(address to, uint256 amount) external;

    /// @notice The account allowed to mint (the deployer).
    /// @return The minter.
    function minter() external view returns (address);

    /// @notice The EIP-712 domain version (x402's `extra.version`).
    /// @return The version string.
    function version() external view returns (string memory);

    /// @notice The EIP-712 domain separator of this token on this chain.
    /// @return The separator.
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
