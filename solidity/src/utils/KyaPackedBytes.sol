// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title KyaPackedBytes
/// @notice Stores a byte string in consecutive storage slots `base, base+1, …` with no separate
///         length slot: callers put whatever header they need (e.g. a length) at the front of
///         the stream and read it back from the first word. A 66-byte URI with a 4-byte length
///         header takes 3 slots instead of Solidity's 4 (length slot + 3 data slots).
/// @dev Slots past the end of a shorter rewrite keep stale bytes; readers never look past the
///      length recorded in their header. The last written word is zero-padded.
library KyaPackedBytes {
    /// @notice Writes `stream` to slots `base …` (ceil(len/32) words).
    function store(uint256 base, bytes memory stream) internal {
        assembly ("memory-safe") {
            let len := mload(stream)
            let src := add(stream, 0x20)
            let n := shr(5, add(len, 31))
            if n {
                let last := sub(n, 1)
                for { let k := 0 } lt(k, last) { k := add(k, 1) } {
                    sstore(add(base, k), mload(add(src, shl(5, k))))
                }
                let w := mload(add(src, shl(5, last)))
                let rem := and(len, 31)
                if rem { w := and(w, not(shr(shl(3, rem), not(0)))) }
                sstore(add(base, last), w)
            }
        }
    }

    /// @notice Returns `len` bytes of the stream stored at `base`, starting at byte `offset`.
    function load(uint256 base, uint256 offset, uint256 len) internal view returns (bytes memory out) {
        assembly ("memory-safe") {
            out := mload(0x40)
            let data := add(out, 0x20)
            let firstWord := shr(5, offset)
            let endWord := shr(5, add(add(offset, len), 31))
            let dst := sub(data, and(offset, 31))
            for { let k := firstWord } lt(k, endWord) { k := add(k, 1) } {
                mstore(add(dst, shl(5, sub(k, firstWord))), sload(add(base, k)))
            }
            mstore(out, len)
            let end := add(data, len)
            mstore(end, 0)
            mstore(0x40, and(add(end, 63), not(31)))
        }
    }
}
