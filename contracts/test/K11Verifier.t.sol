// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {Fixture, SoftKey, Tweak} from "./utils/Fixture.sol";
import {K11Verifier} from "../src/K11Verifier.sol";
import {K11Assertion} from "../src/SidecarRegistry.sol";

/// K11Verifier: one negative test per check, plus real W3C assertions.
contract K11VerifierTest is Fixture {
    SoftKey internal key;
    bytes32 internal constant CH = keccak256("operation challenge");

    function setUp() public {
        deployAll();
        key = newKey(0xA11CE);
    }

    function check(K11Assertion memory a, bytes32 challenge, uint32 last) internal view returns (uint32) {
        return k11.verifyAssertion(
            challenge, RP_ID_HASH, key.x, key.y, last, a.authenticatorData, a.clientDataJSON, a.r, a.s
        );
    }

    function test_accepts_good_assertion_and_returns_sign_count() public {
        key.counter = 41;
        K11Assertion memory a = assertWith(key, 0, CH);
        vm.assertEq(check(a, CH, 41), 42, "sign count");
    }

    /// Gas of verifyAssertion with the clientDataJSON every browser writes, and the part of it
    /// that is not the P-256 verify (authenticatorData + clientDataJSON checks, hashing, call).
    function test_gas_verify_assertion() public {
        K11Assertion memory a = assertWith(key, 0, CH);
        bytes32 h = sha256(abi.encodePacked(a.authenticatorData, sha256(a.clientDataJSON)));
        uint256 g = gasleft();
        check(a, CH, 0);
        g -= gasleft();
        uint256 p = gasleft();
        vm.assertTrue(p256.verify(h, a.r, a.s, key.x, key.y), "p256");
        p -= gasleft();
        emit log_named_uint("gas per K11 verifyAssertion", g);
        emit log_named_uint("gas of verifyAssertion beyond the P-256 verify", g - p);
        vm.assertLt(g - p, 60_000, "K11 checks above 60k gas");
    }

    function test_rp_id_hash_constant() public pure {
        vm.assertEq(RP_ID_HASH, sha256("agentkeys.local"), "RP_ID_HASH literal");
    }

    function test_base64url_known_answer() public view {
        // W3C L3 "ES256 Credential with No Attestation" assertion challenge.
        bytes32 ch = 0x39c0e7521417ba54d43e8dc95174f423dee9bf3cd804ff6d65c857c9abf4d408;
        vm.assertEq(string(k11.base64urlChallenge(ch)), "OcDnUhQXulTUPo3JUXT0I97pvzzYBP9tZchXyav01Ag", "b64url");
        vm.assertEq(k11.base64urlChallenge(CH), b64url(abi.encodePacked(CH)), "b64url vs independent encoder");
    }

    function test_accepts_high_s() public {
        K11Assertion memory a = assertWith(key, 0, CH);
        a.s = a.s > P256_N / 2 ? a.s : P256_N - a.s; // force the high-s twin
        vm.assertEq(check(a, CH, 0), 1, "high s accepted");
        a.s = P256_N - a.s; // and the low-s twin
        vm.assertEq(check(a, CH, 0), 1, "low s accepted");
    }

    function test_accepts_counterless_authenticator_zero_zero() public {
        key.counter = 0;
        Tweak memory t = defaults();
        t.keepCounter = true;
        K11Assertion memory a = assertWith(key, 0, CH, t);
        vm.assertEq(check(a, CH, 0), 0, "0/0 allowed");
    }

    function test_rejects_short_authenticator_data() public {
        K11Assertion memory a = assertWith(key, 0, CH);
        a.authenticatorData = abi.encodePacked(RP_ID_HASH, uint8(5), uint16(1), uint8(0)); // 36 bytes
        vm.expectRevert(K11Verifier.MalformedAuthenticatorData.selector);
        check(a, CH, 0);
    }

    function test_rejects_wrong_rp_id_hash() public {
        Tweak memory t = defaults();
        t.rpIdHash = keccak256("evil.example");
        K11Assertion memory a = assertWith(key, 0, CH, t);
        vm.expectRevert(abi.encodeWithSelector(K11Verifier.RpIdHashMismatch.selector, t.rpIdHash, RP_ID_HASH));
        check(a, CH, 0);
    }

    function test_rejects_missing_user_presence() public {
        Tweak memory t = defaults();
        t.flags = 0x04; // UV only
        K11Assertion memory a = assertWith(key, 0, CH, t);
        vm.expectRevert(K11Verifier.UserPresenceMissing.selector);
        check(a, CH, 0);
    }

    function test_rejects_missing_user_verification() public {
        Tweak memory t = defaults();
        t.flags = 0x01 | 0x40; // UP (+AT) but no UV
        K11Assertion memory a = assertWith(key, 0, CH, t);
        vm.expectRevert(K11Verifier.UserVerificationMissing.selector);
        check(a, CH, 0);
    }

    function test_rejects_stale_sign_count_equal() public {
        key.counter = 9;
        K11Assertion memory a = assertWith(key, 0, CH); // count 10
        vm.expectRevert(abi.encodeWithSelector(K11Verifier.StaleSignCount.selector, uint32(10), uint32(10)));
        check(a, CH, 10);
    }

    function test_rejects_stale_sign_count_lower_and_zero_after_nonzero() public {
        key.counter = 0;
        Tweak memory t = defaults();
        t.keepCounter = true;
        K11Assertion memory a = assertWith(key, 0, CH, t); // count 0
        vm.expectRevert(abi.encodeWithSelector(K11Verifier.StaleSignCount.selector, uint32(0), uint32(3)));
        check(a, CH, 3);
    }

    function test_rejects_webauthn_create_type() public {
        Tweak memory t = defaults();
        t.typ = "webauthn.create";
        K11Assertion memory a = assertWith(key, 0, CH, t);
        vm.expectRevert(K11Verifier.WrongClientDataType.selector);
        check(a, CH, 0);
    }

    function test_rejects_wrong_challenge() public {
        K11Assertion memory a = assertWith(key, 0, keccak256("another operation"));
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        check(a, CH, 0);
    }

    function test_rejects_challenge_with_extra_characters() public {
        K11Assertion memory a = assertWith(key, 0, CH);
        a.clientDataJSON = abi.encodePacked(
            '{"type":"webauthn.get","challenge":"', b64url(abi.encodePacked(CH)), 'AAAA","origin":"x"}'
        );
        (a.r, a.s) = signWebauthn(key.pk, a.authenticatorData, a.clientDataJSON);
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        check(a, CH, 0);
    }

    function test_rejects_short_client_data() public {
        K11Assertion memory a = assertWith(key, 0, CH);
        a.clientDataJSON = bytes('{"type":"webauthn.get","challenge":"abc"}'); // and no origin
        vm.expectRevert(K11Verifier.MalformedClientDataJSON.selector);
        check(a, CH, 0);
    }

    function test_rejects_wrong_key() public {
        Tweak memory t = defaults();
        t.signWith = 0xB0B;
        K11Assertion memory a = assertWith(key, 0, CH, t);
        vm.expectRevert(K11Verifier.InvalidSignature.selector);
        check(a, CH, 0);
    }

    function test_rejects_tampered_authenticator_data_extension() public {
        K11Assertion memory a = assertWith(key, 0, CH);
        a.authenticatorData = abi.encodePacked(a.authenticatorData, hex"a0"); // signed bytes changed
        vm.expectRevert(K11Verifier.InvalidSignature.selector);
        check(a, CH, 0);
    }

    /// The W3C L3 ES256 assertions through the full verifier: the ones with UP+UV pass end to end
    /// (their own rpIdHash, key and 32-byte challenge), the ones without UV stop at that check —
    /// among them FIDO U2F's flags 0x01 (UP only), the case of issue 15: D1 requires UV.
    function test_w3c_assertions_through_k11() public view {
        string memory json = vm.readFile(
            string.concat(vectorsDir(), "/webauthn-w3c-l3-test-vectors/webauthn_l3_test_vectors.json")
        );
        uint256 passed;
        uint256 noUv;
        for (uint256 i = 0; i < 64; i++) {
            string memory ep = string.concat(".examples[", vm.toString(i), "]");
            if (!_keyExists(json, ep)) break;
            if (!_keyExists(json, string.concat(ep, ".derived"))) continue;
            if (_w3cOne(json, ep)) passed++;
            else noUv++;
        }
        // UP+UV: crossOrigin true, topOrigin (+extraData), long credential id, packed, TPM
        vm.assertEq(passed, 5, "the 5 UP+UV examples pass");
        vm.assertEq(passed + noUv, 10, "10 ES256 examples");
    }

    function _w3cOne(string memory json, string memory ep) internal view returns (bool fullyValid) {
        bytes memory ad = hexBytes(vm.parseJsonString(json, string.concat(ep, ".authentication.authenticatorData")));
        bytes memory cdj = hexBytes(vm.parseJsonString(json, string.concat(ep, ".authentication.clientDataJSON")));
        bytes32 ch = bytes32(hexBytes(vm.parseJsonString(json, string.concat(ep, ".authentication.challenge"))));
        uint256[4] memory k;
        k[0] = uint256(bytes32(hexBytes(vm.parseJsonString(json, string.concat(ep, ".derived.credential_public_key_x")))));
        k[1] = uint256(bytes32(hexBytes(vm.parseJsonString(json, string.concat(ep, ".derived.credential_public_key_y")))));
        k[2] = uint256(bytes32(hexBytes(vm.parseJsonString(json, string.concat(ep, ".derived.signature_r")))));
        k[3] = uint256(bytes32(hexBytes(vm.parseJsonString(json, string.concat(ep, ".derived.signature_s")))));
        bytes32 rp = sha256("example.org");
        if (uint8(ad[32]) & 0x05 == 0x05) {
            k11.verifyAssertion(ch, rp, k[0], k[1], 0, ad, cdj, k[2], k[3]);
            return true;
        }
        try k11.verifyAssertion(ch, rp, k[0], k[1], 0, ad, cdj, k[2], k[3]) {
            revert("W3C example without UV accepted");
        } catch (bytes memory err) {
            vm.assertEq(bytes4(err), K11Verifier.UserVerificationMissing.selector, "expected UserVerificationMissing");
        }
        return false;
    }

    function _keyExists(string memory json, string memory key_) internal view returns (bool) {
        (bool ok, bytes memory ret) =
            address(vm).staticcall(abi.encodeWithSignature("keyExistsJson(string,string)", json, key_));
        return ok && abi.decode(ret, (bool));
    }
}
