// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {TestBase} from "./utils/TestBase.sol";
import {P256Verifier} from "../src/P256Verifier.sol";

/// P256Verifier against public vectors (read at test time from ../shared/vectors, never copied)
/// and against Foundry's own P-256 signer.
contract P256VerifierTest is TestBase {
    P256Verifier internal v;
    uint256 internal constant N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;
    uint256 internal constant P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF;

    function setUp() public {
        v = new P256Verifier();
    }

    /// Leading zero bytes allowed (Wycheproof writes wy with a sign byte), at most 32 significant.
    function hexToUint(string memory h) internal pure returns (uint256 x) {
        bytes memory b = hexBytes(h);
        for (uint256 i = 0; i < b.length; i++) {
            require(i + 32 >= b.length || b[i] == 0, "hexToUint: value over 256 bits");
            x = (x << 8) | uint8(b[i]);
        }
    }

    /// Wycheproof ecdsa_secp256r1_sha256_p1363_test.json: all 262 cases, exact verdicts.
    /// A P1363 signature that is not exactly 64 bytes cannot be split into r ‖ s (our ABI takes
    /// two uint256): those cases are rejected at decoding, as any caller must do.
    function test_wycheproof_p1363_all() public {
        string memory json =
            vm.readFile(string.concat(vectorsDir(), "/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json"));
        uint256 total = vm.parseJsonUint(json, ".numberOfTests");
        uint256[4] memory c; // seen, valid, invalid, valid-with-high-s
        // Every cheatcode call copies the 240 KB JSON into fresh memory; rewind the free memory
        // pointer after each group and case so memory (and its quadratic gas) stays bounded.
        uint256 base;
        assembly ("memory-safe") {
            base := mload(0x40)
        }
        for (uint256 g = 0; ; g++) {
            assembly ("memory-safe") {
                mstore(0x40, base)
            }
            if (!_wycheproofGroup(json, g, c)) break;
        }
        vm.assertEq(c[0], total, "not every wycheproof case was run");
        emit log_named_uint("wycheproof cases", c[0]);
        emit log_named_uint("  valid accepted", c[1]);
        emit log_named_uint("  invalid rejected", c[2]);
        emit log_named_uint("  valid with high s", c[3]);
        vm.assertTrue(c[3] > 0, "expected high-s valid cases");
    }

    function _wycheproofGroup(string memory json, uint256 g, uint256[4] memory c) internal view returns (bool) {
        string memory gp = string.concat(".testGroups[", vm.toString(g), "]");
        if (!_has(json, gp)) return false;
        uint256 qx = hexToUint(vm.parseJsonString(json, string.concat(gp, ".publicKey.wx")));
        uint256 qy = hexToUint(vm.parseJsonString(json, string.concat(gp, ".publicKey.wy")));
        uint256 fmp;
        assembly ("memory-safe") {
            fmp := mload(0x40)
        }
        for (uint256 t = 0; ; t++) {
            assembly ("memory-safe") {
                mstore(0x40, fmp)
            }
            string memory tp = string.concat(gp, ".tests[", vm.toString(t), "]");
            if (!_has(json, tp)) break;
            (bool expected, bool high) = _wycheproofCase(json, tp, qx, qy);
            c[0]++;
            if (expected) c[1]++;
            else c[2]++;
            if (high) c[3]++;
        }
        return true;
    }

    /// Runs one case; reverts on a verdict mismatch. Returns (expected verdict, valid with high s).
    function _wycheproofCase(string memory json, string memory tp, uint256 qx, uint256 qy)
        internal
        view
        returns (bool expected, bool high)
    {
        string memory result = vm.parseJsonString(json, string.concat(tp, ".result"));
        expected = keccak256(bytes(result)) == keccak256("valid");
        require(expected || keccak256(bytes(result)) == keccak256("invalid"), "unexpected verdict kind");
        bytes memory sig = hexBytes(vm.parseJsonString(json, string.concat(tp, ".sig")));
        bool got;
        if (sig.length == 64) {
            bytes32 h = sha256(hexBytes(vm.parseJsonString(json, string.concat(tp, ".msg"))));
            (uint256 r, uint256 s) = abi.decode(sig, (uint256, uint256));
            got = v.verify(h, r, s, qx, qy);
            high = expected && s > N / 2;
        }
        if (got != expected) revert(string.concat("wycheproof verdict mismatch at ", tp));
    }

    function _has(string memory json, string memory key) internal view returns (bool) {
        (bool ok, bytes memory ret) =
            address(vm).staticcall(abi.encodeWithSignature("keyExistsJson(string,string)", json, key));
        return ok && abi.decode(ret, (bool));
    }

    /// W3C WebAuthn L3 ES256 assertions: the signature over sha256(authData ‖ sha256(clientDataJSON))
    /// verifies (computed here from the raw bytes), and fails when one byte of authData changes.
    function test_w3c_webauthn_es256_assertions() public {
        string memory json = vm.readFile(
            string.concat(vectorsDir(), "/webauthn-w3c-l3-test-vectors/webauthn_l3_test_vectors.json")
        );
        uint256 n;
        uint256 high;
        for (uint256 i = 0; ; i++) {
            string memory ep = string.concat(".examples[", vm.toString(i), "]");
            if (!_has(json, ep)) break;
            if (!_has(json, string.concat(ep, ".derived"))) continue;
            if (_checkW3c(json, ep, i)) high++;
            n++;
        }
        emit log_named_uint("W3C ES256 assertions verified", n);
        emit log_named_uint("  of which high s", high);
        vm.assertEq(n, 10, "expected the 10 ES256 examples");
        vm.assertTrue(high > 0, "expected high-s examples");
    }

    function _checkW3c(string memory json, string memory ep, uint256 i) internal view returns (bool high) {
        bytes memory ad = hexBytes(vm.parseJsonString(json, string.concat(ep, ".authentication.authenticatorData")));
        bytes memory cdj = hexBytes(vm.parseJsonString(json, string.concat(ep, ".authentication.clientDataJSON")));
        uint256[4] memory k; // x, y, r, s
        k[0] = hexToUint(vm.parseJsonString(json, string.concat(ep, ".derived.credential_public_key_x")));
        k[1] = hexToUint(vm.parseJsonString(json, string.concat(ep, ".derived.credential_public_key_y")));
        k[2] = hexToUint(vm.parseJsonString(json, string.concat(ep, ".derived.signature_r")));
        k[3] = hexToUint(vm.parseJsonString(json, string.concat(ep, ".derived.signature_s")));
        bytes32 h = sha256(abi.encodePacked(ad, sha256(cdj)));
        bytes32 want = bytes32(hexToUint(vm.parseJsonString(json, string.concat(ep, ".derived.signed_message_sha256"))));
        vm.assertEq(h, want, "signed hash differs from the vector's");
        vm.assertTrue(v.verify(h, k[2], k[3], k[0], k[1]), string.concat("W3C example rejected: ", vm.toString(i)));
        ad[33] = bytes1(uint8(ad[33]) ^ 1);
        vm.assertFalse(
            v.verify(sha256(abi.encodePacked(ad, sha256(cdj))), k[2], k[3], k[0], k[1]), "tampered W3C example accepted"
        );
        return k[3] > N / 2;
    }

    function test_gas_per_verify() public {
        uint256 pk = 0xC0FFEE;
        (uint256 x, uint256 y) = vm.publicKeyP256(pk);
        uint256 total;
        for (uint256 i = 0; i < 8; i++) {
            bytes32 h = keccak256(abi.encode("gas", i));
            (bytes32 r, bytes32 s) = vm.signP256(pk, h);
            uint256 g = gasleft();
            bool ok = v.verify(h, uint256(r), uint256(s), x, y);
            total += g - gasleft();
            vm.assertTrue(ok, "valid signature rejected");
        }
        emit log_named_uint("gas per P-256 verify (external call, avg of 8)", total / 8);
        vm.assertLt(total / 8, 250_000, "P-256 verify above the 250k gas budget");
    }

    /// Random keys and messages signed by Foundry's P-256 signer verify; high-s twin too; any
    /// change of message, r, s or key fails.
    function testFuzz_sign_verify(uint256 pkSeed, bytes32 h) public view {
        uint256 pk = 1 + (pkSeed % (N - 1));
        (uint256 x, uint256 y) = vm.publicKeyP256(pk);
        (bytes32 rb, bytes32 sb) = vm.signP256(pk, h);
        uint256 r = uint256(rb);
        uint256 s = uint256(sb);
        vm.assertTrue(v.verify(h, r, s, x, y), "valid rejected");
        vm.assertTrue(v.verify(h, r, N - s, x, y), "high-s / low-s twin rejected");
        vm.assertFalse(v.verify(bytes32(uint256(h) ^ 1), r, s, x, y), "other message accepted");
        vm.assertFalse(v.verify(h, r, s == 1 ? 2 : s - 1, x, y), "other s accepted");
        (uint256 x2, uint256 y2) = vm.publicKeyP256(pk == 1 ? 2 : pk - 1);
        vm.assertFalse(v.verify(h, r, s, x2, y2), "other key accepted");
    }

    function test_rejects_out_of_range_and_bad_keys() public view {
        uint256 pk = 42;
        (uint256 x, uint256 y) = vm.publicKeyP256(pk);
        bytes32 h = keccak256("m");
        (bytes32 rb, bytes32 sb) = vm.signP256(pk, h);
        uint256 r = uint256(rb);
        uint256 s = uint256(sb);
        vm.assertTrue(v.verify(h, r, s, x, y), "baseline");
        vm.assertFalse(v.verify(h, 0, s, x, y), "r = 0");
        vm.assertFalse(v.verify(h, r, 0, x, y), "s = 0");
        if (r < type(uint256).max - N) vm.assertFalse(v.verify(h, r + N, s, x, y), "r + n");
        if (s < type(uint256).max - N) vm.assertFalse(v.verify(h, r, s + N, x, y), "s + n");
        vm.assertFalse(v.verify(h, N, s, x, y), "r = n");
        vm.assertFalse(v.verify(h, r, N, x, y), "s = n");
        vm.assertFalse(v.verify(h, r, s, 0, 0), "key (0,0)");
        vm.assertFalse(v.verify(h, r, s, x, y ^ 1), "key off curve");
        vm.assertFalse(v.verify(h, r, s, P, y), "x = p");
        if (x < type(uint256).max - P) vm.assertFalse(v.verify(h, r, s, x + P, y), "x + p");
        vm.assertFalse(v.verify(h, r, s, x, type(uint256).max), "y >= p");
        vm.assertFalse(v.verify(h, r, s, x, P - y), "negated key");
        vm.assertTrue(v.isOnCurve(x, P - y), "negation is on the curve");
    }
}
