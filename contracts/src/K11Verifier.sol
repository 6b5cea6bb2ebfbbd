// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {P256Verifier} from "./P256Verifier.sol";

/// @title K11Verifier — checks one WebAuthn (passkey) assertion against a contract-built challenge.
/// @notice Stateless: the caller (SidecarRegistry) keeps the stored rpIdHash, public key and the
///         last sign count, passes them in, and stores the returned sign count.
///         Checks, in order, each with its own error (decisions.md D1; contracts.md §2):
///          1. authenticatorData is at least 37 bytes                 MalformedAuthenticatorData
///          2. authenticatorData[0..32] == stored rpIdHash             RpIdHashMismatch
///          3. flags (byte 32) has UP (0x01)                           UserPresenceMissing
///          4. flags has UV (0x04)                                     UserVerificationMissing
///          5. signCount (bytes 33..37, big-endian) > lastSignCount,
///             unless both are 0 (authenticator without a counter)     StaleSignCount
///          6. clientDataJSON is one JSON object with exactly one "type", one "challenge" and
///             one "origin" member, at most one "crossOrigin" (true or false) and one
///             "topOrigin" (a string), in any order, with any other members  MalformedClientDataJSON
///          7. the JSON-decoded "type" is exactly webauthn.get          WrongClientDataType
///          8. the JSON-decoded "challenge" is exactly base64url(challenge)
///             (43 chars, no padding)                                  ChallengeMismatch
///          9. ECDSA P-256 over sha256(authenticatorData ‖ sha256(clientDataJSON)) InvalidSignature
///         Steps 6–8 read CollectedClientData (WebAuthn L3 §5.8.1) with a small JSON scanner, not a
///         template: browsers write type, challenge, origin, crossOrigin, topOrigin and then
///         other members (Chromium sometimes adds one on purpose), older clients wrote other
///         orders. Members we do not compare are skipped: strings to their closing quote
///         (escapes honoured), objects and arrays to their matching bracket. JSON whitespace
///         between tokens is allowed (the WebAuthn serialisation writes none; it changes nothing).
///         origin / crossOrigin / topOrigin are not compared on chain: the rpIdHash in the
///         authenticator data binds the credential to the relying party.
///         High-s signatures are valid WebAuthn signatures and are accepted.
contract K11Verifier {
    P256Verifier public immutable p256;

    uint8 public constant FLAG_UP = 0x01;
    uint8 public constant FLAG_UV = 0x04;

    error MalformedAuthenticatorData();
    error MalformedClientDataJSON();
    error RpIdHashMismatch(bytes32 got, bytes32 expected);
    error UserPresenceMissing();
    error UserVerificationMissing();
    error StaleSignCount(uint32 got, uint32 last);
    error WrongClientDataType();
    error ChallengeMismatch();
    error InvalidSignature();

    uint256 internal constant CHALLENGE_B64_LEN = 43; // base64url(32 bytes), no padding
    /// Nesting limit for skipped object/array values of members we do not read.
    uint256 internal constant MAX_SKIP_DEPTH = 32;

    // The CollectedClientData members we read (bit flags, to refuse duplicates).
    uint256 private constant M_TYPE = 1;
    uint256 private constant M_CHALLENGE = 2;
    uint256 private constant M_ORIGIN = 4;
    uint256 private constant M_CROSS_ORIGIN = 8;
    uint256 private constant M_TOP_ORIGIN = 16;
    uint256 private constant M_REQUIRED = M_TYPE | M_CHALLENGE | M_ORIGIN;

    constructor(P256Verifier p256_) {
        p256 = p256_;
    }

    /// @notice Verify a WebAuthn assertion. Reverts with the reason of the first failed check;
    ///         returns the assertion's signCount for the caller to store.
    function verifyAssertion(
        bytes32 expectedChallenge,
        bytes32 expectedRpIdHash,
        uint256 pubX,
        uint256 pubY,
        uint32 lastSignCount,
        bytes calldata authenticatorData,
        bytes calldata clientDataJSON,
        uint256 r,
        uint256 s
    ) external view returns (uint32 signCount) {
        signCount = _checkAuthenticatorData(authenticatorData, expectedRpIdHash, lastSignCount);
        _checkClientData(clientDataJSON, expectedChallenge);
        bytes32 h = sha256(abi.encodePacked(authenticatorData, sha256(clientDataJSON)));
        if (!p256.verify(h, r, s, pubX, pubY)) revert InvalidSignature();
    }

    function _checkAuthenticatorData(bytes calldata authenticatorData, bytes32 expectedRpIdHash, uint32 lastSignCount)
        private
        pure
        returns (uint32 signCount)
    {
        if (authenticatorData.length < 37) revert MalformedAuthenticatorData();
        bytes32 rpIdHash = bytes32(authenticatorData[0:32]);
        if (rpIdHash != expectedRpIdHash) revert RpIdHashMismatch(rpIdHash, expectedRpIdHash);
        uint8 flags = uint8(authenticatorData[32]);
        if (flags & FLAG_UP == 0) revert UserPresenceMissing();
        if (flags & FLAG_UV == 0) revert UserVerificationMissing();
        signCount = uint32(bytes4(authenticatorData[33:37]));
        if ((signCount != 0 || lastSignCount != 0) && signCount <= lastSignCount) {
            revert StaleSignCount(signCount, lastSignCount);
        }
    }

    /// @dev Step 6–8: scan the one top-level JSON object member by member (RFC 8259 grammar).
    function _checkClientData(bytes calldata cd, bytes32 expectedChallenge) private pure {
        bytes memory wantChallenge = base64urlChallenge(expectedChallenge);
        uint256 seen; // members met (M_* bits)
        uint256 matched; // M_TYPE / M_CHALLENGE when their value is the expected one
        // Each token: one byte read; whitespace (all <= 0x20) only then skipped by _token.
        uint256 i = 0;
        uint8 c = _at(cd, 0);
        if (c <= 0x20) (i, c) = _token(cd, i);
        if (c != 0x7b) revert MalformedClientDataJSON(); // {
        c = _at(cd, ++i);
        if (c <= 0x20) (i, c) = _token(cd, i);
        while (true) {
            // member name
            if (c != 0x22) revert MalformedClientDataJSON();
            (uint256 nameEnd, bool nameEsc) = _string(cd, i + 1);
            uint256 m = _memberOf(cd, i + 1, nameEnd, nameEsc);
            if (seen & m != 0) revert MalformedClientDataJSON(); // a member we read, twice
            seen |= m;
            i = nameEnd + 1;
            c = _at(cd, i);
            if (c <= 0x20) (i, c) = _token(cd, i);
            if (c != 0x3a) revert MalformedClientDataJSON(); // :
            c = _at(cd, ++i);
            if (c <= 0x20) (i, c) = _token(cd, i);
            bool ok;
            (i, ok) = _memberValue(cd, i, c, m, wantChallenge);
            if (ok) matched |= m;
            c = _at(cd, i);
            if (c <= 0x20) (i, c) = _token(cd, i);
            if (c == 0x7d) break; // }
            if (c != 0x2c) revert MalformedClientDataJSON(); // ,
            c = _at(cd, ++i);
            if (c <= 0x20) (i, c) = _token(cd, i);
        }
        // nothing but whitespace after the object
        for (i = i + 1; i < cd.length; i++) {
            c = uint8(cd[i]);
            if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) revert MalformedClientDataJSON();
        }
        if (seen & M_REQUIRED != M_REQUIRED) revert MalformedClientDataJSON();
        if (matched & M_TYPE == 0) revert WrongClientDataType();
        if (matched & M_CHALLENGE == 0) revert ChallengeMismatch();
    }

    /// @dev The value of member `m` starting with byte `c` at `i`: returns the index after it,
    ///      and for type / challenge whether it is the expected string. crossOrigin must be true
    ///      or false; type, challenge, origin and topOrigin must be strings; other members'
    ///      values are skipped.
    function _memberValue(bytes calldata cd, uint256 i, uint8 c, uint256 m, bytes memory wantChallenge)
        private
        pure
        returns (uint256 next, bool ok)
    {
        if (m == 0) return (_skipValue(cd, i), false);
        if (m == M_CROSS_ORIGIN) return (_boolean(cd, i), false);
        if (c != 0x22) revert MalformedClientDataJSON();
        (uint256 end, bool esc) = _string(cd, i + 1);
        if (m == M_TYPE) ok = _decodedEquals(cd, i + 1, end, esc, "webauthn.get");
        else if (m == M_CHALLENGE) ok = _decodedEquals(cd, i + 1, end, esc, wantChallenge);
        next = end + 1;
    }

    /// @dev The next token at or after `i`: its index and first byte, after any JSON whitespace
    ///      (space, tab, LF, CR). Running off the end is a malformed document.
    function _token(bytes calldata cd, uint256 i) private pure returns (uint256, uint8 c) {
        c = _at(cd, i);
        while (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) {
            c = _at(cd, ++i);
        }
        return (i, c);
    }

    /// @dev Byte `i` of `cd`; running off the end is a malformed document.
    function _at(bytes calldata cd, uint256 i) private pure returns (uint8 c) {
        if (i >= cd.length) revert MalformedClientDataJSON();
        assembly {
            c := byte(0, calldataload(add(cd.offset, i)))
        }
    }

    /// @dev A JSON string whose content starts at `i` (just after the opening quote): returns the
    ///      index of the closing quote and whether the content has escapes. Escapes must be one of
    ///      \" \\ \/ \b \f \n \r \t \uXXXX; raw control characters are refused. Reads a word
    ///      (32 bytes) at a time and jumps to its first quote, backslash or control byte.
    function _string(bytes calldata cd, uint256 i) private pure returns (uint256 end, bool escaped) {
        uint256 n = cd.length;
        while (true) {
            if (i >= n) revert MalformedClientDataJSON(); // no closing quote
            uint256 w;
            assembly {
                w := calldataload(add(cd.offset, i))
            }
            uint256 m = _specialBytes(w);
            if (i + 32 > n) m |= HIGHS >> (8 * (n - i)); // bytes past the end count as special
            if (m == 0) {
                i += 32;
                continue;
            }
            assembly {
                // index of the first marked byte (most significant first): binary search
                let k := 0
                if iszero(shr(128, m)) {
                    k := 16
                    m := shl(128, m)
                }
                if iszero(shr(192, m)) {
                    k := add(k, 8)
                    m := shl(64, m)
                }
                if iszero(shr(224, m)) {
                    k := add(k, 4)
                    m := shl(32, m)
                }
                if iszero(shr(240, m)) {
                    k := add(k, 2)
                    m := shl(16, m)
                }
                if iszero(shr(248, m)) { k := add(k, 1) }
                i := add(i, k)
            }
            uint8 c = _at(cd, i); // reverts past the end
            if (c == 0x22) return (i, escaped);
            if (c != 0x5c) revert MalformedClientDataJSON(); // a raw control character
            escaped = true;
            uint8 e = _at(cd, i + 1);
            if (e == 0x75) {
                _hex4(cd, i + 2); // \uXXXX
                i += 6;
            } else if (
                e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74
            ) {
                i += 2;
            } else {
                revert MalformedClientDataJSON();
            }
        }
    }

    uint256 private constant ONES = 0x0101010101010101010101010101010101010101010101010101010101010101;
    uint256 private constant LOW7 = 0x7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f;
    uint256 private constant HIGHS = 0x8080808080808080808080808080808080808080808080808080808080808080;
    uint256 private constant QUOTES = 0x2222222222222222222222222222222222222222222222222222222222222222;
    uint256 private constant BACKSLASHES = 0x5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c;
    uint256 private constant TOP3 = 0xe0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0;

    /// @dev 0x80 in each byte of `w` that is a quote, a backslash or below 0x20, 0 elsewhere.
    ///      Per byte t, ((t & 0x7f) + 0x7f) | t has its top bit set iff t != 0, and the sum never
    ///      carries into the next byte, so the result is exact for all 32 bytes at once.
    function _specialBytes(uint256 w) private pure returns (uint256) {
        unchecked {
            uint256 q = w ^ QUOTES; // zero where w is "
            uint256 b = w ^ BACKSLASHES; // zero where w is \
            uint256 c = w & TOP3; // zero where w < 0x20
            uint256 nonZero = (((q & LOW7) + LOW7) | q) & (((b & LOW7) + LOW7) | b) & (((c & LOW7) + LOW7) | c);
            return ~nonZero & HIGHS;
        }
    }

    /// @dev The 4 hex digits at `i` as a number (a \u escape).
    function _hex4(bytes calldata cd, uint256 i) private pure returns (uint256 v) {
        for (uint256 k = 0; k < 4; k++) {
            uint8 c = _at(cd, i + k);
            uint256 d;
            if (c >= 0x30 && c <= 0x39) d = c - 0x30;
            else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
            else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
            else revert MalformedClientDataJSON();
            v = (v << 4) | d;
        }
    }

    /// @dev Does the JSON string content cd[start:end] decode to exactly the ASCII bytes `want`?
    ///      Without escapes the raw bytes are compared; with escapes each one is decoded first
    ///      (a \u escape above 0x7f can never equal an ASCII byte). `_string` validated the escapes.
    function _decodedEquals(bytes calldata cd, uint256 start, uint256 end, bool escaped, bytes memory want)
        private
        pure
        returns (bool)
    {
        if (!escaped) return end - start == want.length && keccak256(cd[start:end]) == keccak256(want);
        uint256 j;
        uint256 i = start;
        while (i < end) {
            uint256 c = uint8(cd[i]);
            if (c == 0x5c) {
                uint8 e = uint8(cd[i + 1]);
                if (e == 0x75) {
                    c = _hex4(cd, i + 2);
                    i += 6;
                } else {
                    c = e == 0x62 ? 0x08 : e == 0x66 ? 0x0c : e == 0x6e ? 0x0a : e == 0x72 ? 0x0d : e == 0x74 ? 0x09 : e;
                    i += 2;
                }
            } else {
                i += 1;
            }
            if (j >= want.length || c != uint8(want[j])) return false;
            j++;
        }
        return j == want.length;
    }

    /// @dev Which member we read is the name cd[start:end] (JSON-decoded)? 0 for any other.
    ///      Names without escapes (all that clients write) are compared as one word.
    function _memberOf(bytes calldata cd, uint256 start, uint256 end, bool escaped) private pure returns (uint256) {
        if (escaped) return _memberOfEscaped(cd, start, end);
        uint256 len = end - start;
        bytes32 w;
        assembly {
            w := calldataload(add(cd.offset, start))
        }
        if (len == 4) return bytes4(w) == "type" ? M_TYPE : 0;
        if (len == 9) return bytes9(w) == "challenge" ? M_CHALLENGE : bytes9(w) == "topOrigin" ? M_TOP_ORIGIN : 0;
        if (len == 6) return bytes6(w) == "origin" ? M_ORIGIN : 0;
        if (len == 11) return bytes11(w) == "crossOrigin" ? M_CROSS_ORIGIN : 0;
        return 0;
    }

    /// @dev `_memberOf` for a name written with escapes (e.g. "chall\u0065nge" is "challenge").
    function _memberOfEscaped(bytes calldata cd, uint256 start, uint256 end) private pure returns (uint256) {
        if (_decodedEquals(cd, start, end, true, "type")) return M_TYPE;
        if (_decodedEquals(cd, start, end, true, "challenge")) return M_CHALLENGE;
        if (_decodedEquals(cd, start, end, true, "origin")) return M_ORIGIN;
        if (_decodedEquals(cd, start, end, true, "crossOrigin")) return M_CROSS_ORIGIN;
        if (_decodedEquals(cd, start, end, true, "topOrigin")) return M_TOP_ORIGIN;
        return 0;
    }

    /// @dev The literal true or false at `i`; returns the index after it.
    function _boolean(bytes calldata cd, uint256 i) private pure returns (uint256) {
        bytes32 w;
        assembly {
            w := calldataload(add(cd.offset, i))
        }
        if (bytes4(w) == "true" && i + 4 <= cd.length) return i + 4;
        if (bytes5(w) == "false" && i + 5 <= cd.length) return i + 5;
        revert MalformedClientDataJSON();
    }

    /// @dev Skip the value (of a member we do not read) at `i`; returns the index after it.
    ///      Strings to their closing quote; objects and arrays to the matching bracket (strings
    ///      inside honoured, brackets must pair up, at most MAX_SKIP_DEPTH deep); true, false,
    ///      null and numbers as tokens. Skipped content is not otherwise validated: it is never
    ///      read, and the signature covers every byte.
    function _skipValue(bytes calldata cd, uint256 i) private pure returns (uint256) {
        uint8 c = _at(cd, i);
        if (c == 0x22) {
            (uint256 end,) = _string(cd, i + 1);
            return end + 1;
        }
        if (c == 0x7b || c == 0x5b) return _skipNested(cd, i);
        if (c == 0x74 || c == 0x66) return _boolean(cd, i);
        if (c == 0x6e) {
            if (i + 4 <= cd.length && bytes4(cd[i:i + 4]) == "null") return i + 4;
            revert MalformedClientDataJSON();
        }
        // a number: -?digits[.digits][(e|E)[+-]digits], checked loosely as its character set
        uint256 s = i;
        while (i < cd.length) {
            c = uint8(cd[i]);
            if (!((c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45)) break;
            unchecked {
                ++i;
            }
        }
        if (i == s) revert MalformedClientDataJSON();
        return i;
    }

    /// @dev Skip the object or array opening at `i`. `stack` holds one bit per open level
    ///      (1 = array), so a } cannot close a [.
    function _skipNested(bytes calldata cd, uint256 i) private pure returns (uint256 next) {
        uint256 stack;
        uint256 depth;
        while (true) {
            uint8 c = _at(cd, i);
            if (c == 0x22) {
                (i,) = _string(cd, i + 1);
            } else if (c == 0x7b || c == 0x5b) {
                if (depth == MAX_SKIP_DEPTH) revert MalformedClientDataJSON();
                stack = (stack << 1) | (c == 0x5b ? 1 : 0);
                depth++;
            } else if (c == 0x7d || c == 0x5d) {
                if ((stack & 1 == 1) != (c == 0x5d)) revert MalformedClientDataJSON();
                stack >>= 1;
                depth--;
                if (depth == 0) return next = i + 1;
            } else if (c < 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) {
                revert MalformedClientDataJSON();
            }
            i++;
        }
    }

    /// @notice base64url (RFC 4648 §5, no padding) of a 32-byte challenge: 43 ASCII characters,
    ///         exactly what a client puts into clientDataJSON.challenge.
    function base64urlChallenge(bytes32 challenge) public pure returns (bytes memory out) {
        // 256 bits = 42 six-bit groups (bits 255..4) + the last 4 bits padded with two zero bits.
        // The 6-bit values go one per byte into two words (chars 0..31, chars 32..42), three
        // input bytes -> four chars per step; then every byte is mapped to its symbol at once.
        uint256 v = uint256(challenge);
        uint256 a;
        uint256 b;
        unchecked {
            for (uint256 g = 0; g < 10; g++) {
                uint256 x = (v >> (232 - 24 * g)) & 0xffffff;
                uint256 lane = ((x >> 18) << 24) | (((x >> 12) & 63) << 16) | (((x >> 6) & 63) << 8) | (x & 63);
                if (g < 8) a = (a << 32) | lane;
                else b = (b << 32) | lane;
            }
            b = (b << 24) | (((v >> 10) & 63) << 16) | (((v >> 4) & 63) << 8) | ((v & 15) << 2);
            b <<= 168; // 11 chars at the top of the word
        }
        a = _base64urlSymbols(a);
        b = _base64urlSymbols(b) & ~uint256(type(uint168).max);
        out = new bytes(CHALLENGE_B64_LEN);
        assembly {
            mstore(add(out, 32), a)
            mstore(add(out, 64), b)
        }
    }

    /// @dev Map every byte x (0..63) of `x` to its base64url symbol: 'A'+x, 'a'+x-26, '0'+x-52,
    ///      '-', '_'. [x >= k] per byte is the top bit of x + (128 - k) (no carry for x < 64);
    ///      the steps keep every byte in 0..255, so nothing carries or borrows between bytes.
    function _base64urlSymbols(uint256 x) private pure returns (uint256) {
        unchecked {
            uint256 ge26 = ((x + ONES * 102) & HIGHS) >> 7;
            uint256 ge52 = ((x + ONES * 76) & HIGHS) >> 7;
            uint256 ge62 = ((x + ONES * 66) & HIGHS) >> 7;
            uint256 ge63 = ((x + ONES * 65) & HIGHS) >> 7;
            return x + ONES * 65 + ge26 * 6 - ge52 * 75 - ge62 * 13 + ge63 * 49;
        }
    }

    /// @notice The 32-byte hash the authenticator signed: sha256(authenticatorData ‖ sha256(clientDataJSON)).
    function signedHash(bytes calldata authenticatorData, bytes calldata clientDataJSON)
        external
        pure
        returns (bytes32)
    {
        return sha256(abi.encodePacked(authenticatorData, sha256(clientDataJSON)));
    }
}
