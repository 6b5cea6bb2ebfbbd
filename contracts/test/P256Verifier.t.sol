// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {TestBase} from "./utils/TestBase.sol";
import {P256Verifier} from "../src/P256Verifier.sol";

contract P256VerifierQuickTest is TestBase {
    P256Verifier internal v;

    function setUp() public {
        v = new P256Verifier();
    }

    function test_signP256_roundtrip() public {
        uint256 pk = 0x1234567;
        (uint256 x, uint256 y) = vm.publicKeyP256(pk);
        bytes32 h = keccak256("hello");
        (bytes32 r, bytes32 s) = vm.signP256(pk, h);
        uint256 g = gasleft();
        bool ok = v.verify(h, uint256(r), uint256(s), x, y);
        g = g - gasleft();
        emit log_named_uint("gas", g);
        vm.assertTrue(ok, "valid sig rejected");
        vm.assertFalse(v.verify(keccak256("hellp"), uint256(r), uint256(s), x, y), "wrong msg accepted");
    }
}
