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
///          6. clientDataJSON starts with {"type":"webauthn.get"       WrongClientDataType
///          7. followed by ,"challenge":"                              MalformedClientDataJSON
///          8. then base64url(challenge) (43 chars, no padding) and "  ChallengeMismatch
///          9. ECDSA P-256 over sha256(authenticatorData ‖ sha256(clientDataJSON)) InvalidSignature
///         Steps 6–8 rely on the fixed member order every client uses to serialise
///         CollectedClientData (WebAuthn L3 §5.8.1.1: type, then challenge), the same assumption as
///         the spec's "limited verification algorithm" (§5.8.1.2). origin / crossOrigin are not
///         checked on chain: the rpIdHash binds the credential to the relying party.
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

    bytes internal constant TYPE_GET = '{"type":"webauthn.get"'; // 22 bytes
    bytes internal constant CHALLENGE_KEY = ',"challenge":"'; // 14 bytes
    uint256 internal constant CHALLENGE_AT = 36; // 22 + 14
    uint256 internal constant CHALLENGE_B64_LEN = 43; // base64url(32 bytes), no padding
    bytes internal constant B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

    function _checkClientData(bytes calldata clientDataJSON, bytes32 expectedChallenge) private pure {
        if (clientDataJSON.length < CHALLENGE_AT + CHALLENGE_B64_LEN + 1) revert MalformedClientDataJSON();
        if (keccak256(clientDataJSON[0:22]) != keccak256(TYPE_GET)) revert WrongClientDataType();
        if (keccak256(clientDataJSON[22:CHALLENGE_AT]) != keccak256(CHALLENGE_KEY)) {
            revert MalformedClientDataJSON();
        }
        if (
            keccak256(clientDataJSON[CHALLENGE_AT:CHALLENGE_AT + CHALLENGE_B64_LEN])
                != keccak256(base64urlChallenge(expectedChallenge))
                || clientDataJSON[CHALLENGE_AT + CHALLENGE_B64_LEN] != '"'
        ) revert ChallengeMismatch();
    }

    /// @notice base64url (RFC 4648 §5, no padding) of a 32-byte challenge: 43 ASCII characters,
    ///         exactly what a client puts into clientDataJSON.challenge.
    function base64urlChallenge(bytes32 challenge) public pure returns (bytes memory out) {
        out = new bytes(CHALLENGE_B64_LEN);
        uint256 v = uint256(challenge);
        bytes memory alphabet = B64URL;
        // 256 bits = 42 six-bit groups (bits 255..4) + the last 4 bits padded with two zero bits.
        for (uint256 i = 0; i < 42; i++) {
            out[i] = alphabet[(v >> (250 - 6 * i)) & 63];
        }
        out[42] = alphabet[(v & 0x0f) << 2];
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
