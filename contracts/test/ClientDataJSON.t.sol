// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {Fixture, SoftKey, Tweak} from "./utils/Fixture.sol";
import {K11Verifier} from "../src/K11Verifier.sol";
import {K11Assertion} from "../src/SidecarRegistry.sol";

/// K11Verifier reads clientDataJSON as JSON (WebAuthn L3 §5.8.1), not as a template: member
/// order, crossOrigin, topOrigin, extra members, escapes and whitespace. Every accepted variant
/// is signed by the test key, so acceptance means the whole verifyAssertion passed; every refused
/// variant is signed too, so the refusal is the parser's, not the signature's.
contract ClientDataJSONTest is Fixture {
    SoftKey internal key;
    bytes32 internal constant CH = keccak256("operation challenge");
    bytes32 internal constant OTHER = keccak256("another operation");
    string internal c; // base64url(CH), 43 chars
    string internal w; // base64url(OTHER)

    function setUp() public {
        deployAll();
        key = newKey(0xC11E47);
        c = string(b64url(abi.encodePacked(CH)));
        w = string(b64url(abi.encodePacked(OTHER)));
    }

    function signed(bytes memory cdj, uint8 flags) internal returns (K11Assertion memory a) {
        Tweak memory t = defaults();
        t.flags = flags;
        a = assertWith(key, 0, CH, t);
        a.clientDataJSON = cdj;
        (a.r, a.s) = signWebauthn(key.pk, a.authenticatorData, a.clientDataJSON);
    }

    function verify(K11Assertion memory a) internal view returns (uint32) {
        return k11.verifyAssertion(CH, RP_ID_HASH, key.x, key.y, 0, a.authenticatorData, a.clientDataJSON, a.r, a.s);
    }

    function accepts(bytes memory cdj, string memory what) internal {
        K11Assertion memory a = signed(cdj, 0x05);
        vm.assertEq(uint256(verify(a)), uint256(key.counter), what);
    }

    function refuses(bytes memory cdj, bytes4 err) internal {
        K11Assertion memory a = signed(cdj, 0x05);
        vm.expectRevert(err);
        verify(a);
    }

    function malformed(bytes memory cdj) internal {
        refuses(cdj, K11Verifier.MalformedClientDataJSON.selector);
    }

    // ------------------------------------------------------------------ member order

    /// All 24 orders of type, challenge, origin and crossOrigin are accepted.
    function test_accepts_every_member_order() public {
        bytes[4] memory m = [
            bytes('"type":"webauthn.get"'),
            abi.encodePacked('"challenge":"', c, '"'),
            bytes('"origin":"https://agentkeys.local"'),
            bytes('"crossOrigin":false')
        ];
        uint256 n;
        for (uint256 p = 0; p < 256; p++) {
            uint256 a = p & 3;
            uint256 b = (p >> 2) & 3;
            uint256 d = (p >> 4) & 3;
            uint256 e = (p >> 6) & 3;
            if (a == b || a == d || a == e || b == d || b == e || d == e) continue;
            accepts(abi.encodePacked("{", m[a], ",", m[b], ",", m[d], ",", m[e], "}"), "member order");
            n++;
        }
        vm.assertEq(n, 24, "24 permutations");
    }

    /// The orders older clients wrote (fido2-net-lib's test files; pre-L2 browsers).
    function test_accepts_old_client_orders() public {
        accepts(
            abi.encodePacked('{"challenge":"', c, '","origin":"https://localhost:44329","type":"webauthn.get"}'),
            "challenge first, type last"
        );
        accepts(
            abi.encodePacked(
                '{"challenge":"',
                c,
                '","clientExtensions":{},"hashAlgorithm":"SHA-256","origin":"https://agentkeys.local","type":"webauthn.get"}'
            ),
            "old Edge/Firefox shape"
        );
        accepts(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"https://agentkeys.local"}'),
            "no crossOrigin member"
        );
    }

    // ------------------------------------------------------------------ crossOrigin, topOrigin

    function test_cross_origin_true_false_and_top_origin() public {
        bytes memory head = abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"https://a.example"');
        accepts(abi.encodePacked(head, ',"crossOrigin":false}'), "crossOrigin false");
        accepts(abi.encodePacked(head, ',"crossOrigin":true}'), "crossOrigin true");
        accepts(abi.encodePacked(head, ',"crossOrigin":true,"topOrigin":"https://b.example"}'), "topOrigin");
        accepts(
            abi.encodePacked(
                '{"topOrigin":"https://b.example","crossOrigin":true,"type":"webauthn.get","origin":"x","challenge":"', c, '"}'
            ),
            "topOrigin first"
        );
        malformed(abi.encodePacked(head, ',"crossOrigin":"true"}')); // a string, not a boolean
        malformed(abi.encodePacked(head, ',"crossOrigin":1}'));
        malformed(abi.encodePacked(head, ',"crossOrigin":null}'));
        malformed(abi.encodePacked(head, ',"crossOrigin":tru}'));
        malformed(abi.encodePacked(head, ',"crossOrigin":false,"crossOrigin":true}')); // twice
        malformed(abi.encodePacked(head, ',"topOrigin":true}')); // not a string
        malformed(abi.encodePacked(head, ',"topOrigin":"x","topOrigin":"y"}'));
    }

    // ------------------------------------------------------------------ extra members

    function test_accepts_extra_members_before_between_and_after() public {
        accepts(
            abi.encodePacked('{"extra":"before","type":"webauthn.get","challenge":"', c, '","origin":"https://x"}'),
            "before"
        );
        accepts(
            abi.encodePacked('{"type":"webauthn.get","n":-12.5e+3,"challenge":"', c, '","z":null,"origin":"https://x"}'),
            "between (number, null)"
        );
        accepts(
            abi.encodePacked(
                '{"type":"webauthn.get","challenge":"',
                c,
                '","origin":"https://x","crossOrigin":false,"other_keys_can_be_added_here":"do not compare clientDataJSON against a template. See https://goo.gl/yabPex"}'
            ),
            "Chromium's extra member"
        );
        accepts(
            abi.encodePacked(
                '{"type":"webauthn.get","challenge":"',
                c,
                '","origin":"https://x","tokenBinding":{"status":"present","id":"b}]\\"x"},"a":[1,{"b":"]}"},[],{},true,false,null]}'
            ),
            "nested objects and arrays with brackets inside strings"
        );
        accepts(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"https://x","Challenge":"', w, '"}'),
            "names are case-sensitive: Challenge is an extra member"
        );
    }

    function test_refuses_broken_extra_members() public {
        bytes memory head = abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x"');
        malformed(abi.encodePacked(head, ',"a":[1,2}}')); // ] expected
        malformed(abi.encodePacked(head, ',"a":{"b":1]}'));
        malformed(abi.encodePacked(head, ',"a":[[[1]]}')); // never closed
        malformed(abi.encodePacked(head, ',"a":}'));
        malformed(abi.encodePacked(head, ',"a":nul}'));
        malformed(abi.encodePacked(head, ',"a":x}'));
        malformed(abi.encodePacked(head, ',"a"}'));
        malformed(abi.encodePacked(head, ',a:1}'));
        malformed(abi.encodePacked(head, ',}')); // trailing comma
        malformed(abi.encodePacked(head, ',,"a":1}'));
        // 33 levels of nesting: over the limit; 32 levels: fine
        bytes memory deep;
        bytes memory close;
        for (uint256 i = 0; i < 32; i++) {
            deep = abi.encodePacked(deep, "[");
            close = abi.encodePacked(close, "]");
        }
        accepts(abi.encodePacked(head, ',"a":', deep, close, "}"), "32 levels");
        malformed(abi.encodePacked(head, ',"a":[', deep, close, "]}"));
    }

    // ------------------------------------------------------------------ escapes

    function test_escapes_in_values_and_names() public {
        // escaped quote and backslash in a value we do not compare
        accepts(
            abi.encodePacked(
                '{"type":"webauthn.get","origin":"https://x\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00","challenge":"', c, '"}'
            ),
            "escapes in origin"
        );
        // compared values: equal once JSON-decoded
        accepts(
            abi.encodePacked('{"type":"webauthn\\u002eget","challenge":"', c, '","origin":"x"}'), "type with a \\u escape"
        );
        bytes memory cb = bytes(c);
        bytes memory rest = new bytes(42);
        for (uint256 i = 0; i < 42; i++) {
            rest[i] = cb[i + 1];
        }
        accepts(
            abi.encodePacked(
                '{"type":"webauthn.get","challenge":"\\u00', _hex2(uint8(cb[0])), rest, '","origin":"x"}'
            ),
            "challenge with its first char as \\u escape"
        );
        // escaped member names are the same members
        accepts(
            abi.encodePacked('{"t\\u0079pe":"webauthn.get","chall\\u0065nge":"', c, '","\\u006frigin":"x"}'),
            "escaped names"
        );
        // ... so writing one twice, once escaped, is a duplicate
        malformed(
            abi.encodePacked('{"type":"webauthn.get","chall\\u0065nge":"', w, '","challenge":"', c, '","origin":"x"}')
        );
        // a name with an escaped quote is another member
        accepts(
            abi.encodePacked('{"type":"webauthn.get","challenge\\"":"', w, '","challenge":"', c, '","origin":"x"}'),
            "name challenge\\\" is not challenge"
        );
        // decoded compare: non-ASCII or different escapes never equal
        refuses(
            abi.encodePacked('{"type":"webauthn\\u00aeget","challenge":"', c, '","origin":"x"}'),
            K11Verifier.WrongClientDataType.selector
        );
        refuses(
            abi.encodePacked('{"type":"webauthn.get\\u0000","challenge":"', c, '","origin":"x"}'),
            K11Verifier.WrongClientDataType.selector
        );
        refuses(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '\\n","origin":"x"}'),
            K11Verifier.ChallengeMismatch.selector
        );
        // invalid escapes and raw control characters
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"\\x"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"\\u12"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"\\u12g4"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"a\nb"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"a\\"}'));
    }

    // ------------------------------------------------------------------ where the challenge is

    function test_challenge_inside_another_value_is_not_taken() public {
        // the right challenge inside origin's string (escaped quotes), the member itself wrong
        refuses(
            abi.encodePacked('{"type":"webauthn.get","origin":"\\",\\"challenge\\":\\"', c, '\\"","challenge":"', w, '"}'),
            K11Verifier.ChallengeMismatch.selector
        );
        // ... or as the only one: no challenge member at all
        malformed(abi.encodePacked('{"type":"webauthn.get","origin":"\\",\\"challenge\\":\\"', c, '\\""}'));
        // the right challenge inside a nested object
        refuses(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', w, '","origin":"x","e":{"challenge":"', c, '"}}'),
            K11Verifier.ChallengeMismatch.selector
        );
        refuses(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', w, '","origin":"x","e":["challenge","', c, '"]}'),
            K11Verifier.ChallengeMismatch.selector
        );
        // the right type inside another value, the member wrong
        refuses(
            abi.encodePacked('{"origin":"\\"type\\":\\"webauthn.get\\"","type":"webauthn.create","challenge":"', c, '"}'),
            K11Verifier.WrongClientDataType.selector
        );
        // exact: a prefix, padding or a longer value is not the challenge
        refuses(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '=","origin":"x"}'),
            K11Verifier.ChallengeMismatch.selector
        );
        bytes memory short = new bytes(42);
        for (uint256 i = 0; i < 42; i++) {
            short[i] = bytes(c)[i];
        }
        refuses(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', short, '","origin":"x"}'),
            K11Verifier.ChallengeMismatch.selector
        );
        refuses(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', c, 'A","origin":"x"}'),
            K11Verifier.ChallengeMismatch.selector
        );
    }

    function test_duplicate_members_refused() public {
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","challenge":"', c, '","origin":"x"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x","challenge":"', w, '"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', w, '","origin":"x","challenge":"', c, '"}'));
        malformed(abi.encodePacked('{"type":"webauthn.create","challenge":"', c, '","origin":"x","type":"webauthn.get"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x","origin":"y"}'));
        // an extra member twice is not ours to judge
        accepts(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x","e":1,"e":2}'), "extra twice");
    }

    // ------------------------------------------------------------------ structure, whitespace

    function test_required_members_and_structure() public {
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '"}')); // no origin
        malformed(abi.encodePacked('{"challenge":"', c, '","origin":"x"}')); // no type
        malformed(bytes('{"type":"webauthn.get","origin":"x"}')); // no challenge
        malformed(bytes("{}"));
        malformed(bytes(""));
        malformed(abi.encodePacked('["type","webauthn.get","challenge","', c, '"]'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x"')); // not closed
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x}')); // string not closed
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x"}}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x"}{}'));
        malformed(abi.encodePacked('{"type":"webauthn.get" "challenge":"', c, '","origin":"x"}')); // no comma
        malformed(abi.encodePacked('{"type"="webauthn.get","challenge":"', c, '","origin":"x"}'));
        malformed(abi.encodePacked('{"type":webauthn.get,"challenge":"', c, '","origin":"x"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":', c, ',"origin":"x"}'));
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":1}'));
        malformed(abi.encodePacked(hex"efbbbf", '{"type":"webauthn.get","challenge":"', c, '","origin":"x"}')); // BOM
        refuses(
            abi.encodePacked('{"type":"webauthn.create","challenge":"', c, '","origin":"x"}'),
            K11Verifier.WrongClientDataType.selector
        );
        refuses(
            abi.encodePacked('{"type":"webauthn.get","challenge":"', w, '","origin":"x"}'),
            K11Verifier.ChallengeMismatch.selector
        );
    }

    /// Decision: JSON whitespace (RFC 8259: space, tab, LF, CR) between tokens is accepted. The
    /// WebAuthn serialisation writes none, but a client that writes some means the same members;
    /// nothing we compare changes. Whitespace inside a compared string is part of the value.
    function test_whitespace_between_tokens_accepted_inside_values_not() public {
        accepts(
            abi.encodePacked(
                ' \n{ "type" : "webauthn.get" ,\r\n\t"challenge":\t"', c, '" , "origin" : "x" , "crossOrigin" : false , "e" : [ 1 , { } ] }\n '
            ),
            "pretty-printed"
        );
        refuses(
            abi.encodePacked('{"type":"webauthn.get","challenge":" ', c, '","origin":"x"}'),
            K11Verifier.ChallengeMismatch.selector
        );
        refuses(
            abi.encodePacked('{"type":" webauthn.get","challenge":"', c, '","origin":"x"}'),
            K11Verifier.WrongClientDataType.selector
        );
        malformed(abi.encodePacked('{"type":"webauthn.get","challenge":"', c, '","origin":"x"}\x0b')); // VT is not JSON whitespace
    }

    // ------------------------------------------------------------------ flags (issue 15)

    /// The fido2-net-lib shape from issue 15: flags 0x01 (UP only) with clientDataJSON that begins
    /// with {"challenge". The JSON is now read; the missing UV is still refused (D1: UP and UV).
    function test_flags_up_only_refused_even_with_good_client_data() public {
        bytes memory cdj = abi.encodePacked('{"challenge":"', c, '","origin":"https://localhost:44329","type":"webauthn.get"}');
        K11Assertion memory a = signed(cdj, 0x01);
        vm.expectRevert(K11Verifier.UserVerificationMissing.selector);
        verify(a);
        a = signed(cdj, 0x05);
        vm.assertEq(uint256(verify(a)), uint256(key.counter), "same JSON with UP|UV accepted");
        a = signed(cdj, 0x04);
        vm.expectRevert(K11Verifier.UserPresenceMissing.selector);
        verify(a);
    }

    // ------------------------------------------------------------------ W3C vectors, reordered

    /// Every W3C L3 authentication clientDataJSON with a 32-byte challenge (14: crossOrigin true,
    /// topOrigin, extraData members), rebuilt with its members in reverse order and signed by the
    /// test key: accepted with its own challenge, and refused with another one. (The vectors
    /// themselves, with their own keys and signatures, pass in K11Verifier.t.sol.)
    function test_w3c_client_data_in_reverse_member_order() public {
        string memory json = vm.readFile(
            string.concat(vectorsDir(), "/webauthn-w3c-l3-test-vectors/webauthn_l3_test_vectors.json")
        );
        uint256 n;
        for (uint256 i = 0; i < 64; i++) {
            string memory ep = string.concat(".examples[", vm.toString(i), "]");
            if (!_keyExists(json, ep)) break;
            if (!_keyExists(json, string.concat(ep, ".authentication.clientDataJSON"))) continue;
            bytes memory ch = hexBytes(vm.parseJsonString(json, string.concat(ep, ".authentication.challenge")));
            if (ch.length != 32) continue;
            string memory cdj =
                string(hexBytes(vm.parseJsonString(json, string.concat(ep, ".authentication.clientDataJSON"))));
            bytes memory rev = _reversed(cdj);
            vm.assertTrue(keccak256(rev) != keccak256(bytes(cdj)), "order changed");
            Tweak memory t = defaults();
            K11Assertion memory a = assertWith(key, 0, CH, t);
            a.clientDataJSON = rev;
            (a.r, a.s) = signWebauthn(key.pk, a.authenticatorData, rev);
            uint32 got = k11.verifyAssertion(
                bytes32(ch), RP_ID_HASH, key.x, key.y, 0, a.authenticatorData, rev, a.r, a.s
            );
            vm.assertEq(uint256(got), uint256(key.counter), "reordered W3C clientDataJSON");
            vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
            k11.verifyAssertion(CH, RP_ID_HASH, key.x, key.y, 0, a.authenticatorData, rev, a.r, a.s);
            n++;
        }
        vm.assertEq(n, 14, "14 W3C authentications with a 32-byte challenge");
    }

    function _reversed(string memory cdj) internal view returns (bytes memory out) {
        string[] memory keys = vm.parseJsonKeys(cdj, "$");
        out = "{";
        for (uint256 k = keys.length; k > 0; k--) {
            string memory name = keys[k - 1];
            bytes memory v;
            if (keccak256(bytes(name)) == keccak256("crossOrigin")) {
                v = vm.parseJsonBool(cdj, ".crossOrigin") ? bytes("true") : bytes("false");
            } else {
                v = abi.encodePacked('"', vm.parseJsonString(cdj, string.concat(".", name)), '"');
            }
            out = abi.encodePacked(out, k == keys.length ? "" : ",", '"', name, '":', v);
        }
        out = abi.encodePacked(out, "}");
    }

    function _keyExists(string memory json, string memory key_) internal view returns (bool) {
        (bool ok, bytes memory ret) =
            address(vm).staticcall(abi.encodeWithSignature("keyExistsJson(string,string)", json, key_));
        return ok && abi.decode(ret, (bool));
    }

    // ------------------------------------------------------------------ robustness

    /// Every truncation of a good clientDataJSON is refused as malformed (never a panic, never
    /// accepted); every one-byte change is refused with one of the verifier's own errors.
    function testFuzz_truncated_and_mutated_client_data(uint256 pos, uint8 b) public {
        bytes memory cdj = abi.encodePacked(
            '{"type":"webauthn.get","challenge":"', c, '","origin":"https://x\\"y","crossOrigin":false,"e":[{"a":"\\u0041"}]}'
        );
        pos = pos % cdj.length;
        K11Assertion memory a = signed(cdj, 0x05);
        bytes memory cut = new bytes(pos);
        for (uint256 i = 0; i < pos; i++) {
            cut[i] = cdj[i];
        }
        try k11.verifyAssertion(CH, RP_ID_HASH, key.x, key.y, 0, a.authenticatorData, cut, a.r, a.s) {
            revert("truncated clientDataJSON accepted");
        } catch (bytes memory err) {
            vm.assertEq(bytes4(err), K11Verifier.MalformedClientDataJSON.selector, "truncation: not malformed");
        }
        if (uint8(cdj[pos]) == b) return;
        cdj[pos] = bytes1(b);
        try k11.verifyAssertion(CH, RP_ID_HASH, key.x, key.y, 0, a.authenticatorData, cdj, a.r, a.s) {
            revert("mutated clientDataJSON accepted");
        } catch (bytes memory err) {
            bytes4 e = bytes4(err);
            vm.assertTrue(
                e == K11Verifier.MalformedClientDataJSON.selector || e == K11Verifier.WrongClientDataType.selector
                    || e == K11Verifier.ChallengeMismatch.selector || e == K11Verifier.InvalidSignature.selector,
                "mutation: unexpected error (a panic?)"
            );
        }
    }

    function _hex2(uint8 v) internal pure returns (bytes memory out) {
        bytes memory d = "0123456789abcdef";
        out = new bytes(2);
        out[0] = d[v >> 4];
        out[1] = d[v & 15];
    }
}
