// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;
import {TestBase} from "./utils/TestBase.sol";
import {P256Verifier} from "../src/P256Verifier.sol";
contract H is P256Verifier {
    function tbl(uint256 x, uint256 y) external view returns (uint256 g) {
        g = gasleft(); _buildTable(x, y); g -= gasleft();
    }
    function inv(uint256 a) external view returns (uint256 g) {
        g = gasleft(); _modInverse(a, N, N_MINUS_2); g -= gasleft();
    }
    function full(bytes32 h, uint256 r, uint256 s, uint256 x, uint256 y) external view returns (uint256 g) {
        g = gasleft(); verifySignature(h, r, s, x, y); g -= gasleft();
    }
}
contract ExpTest is TestBase {
    function test_exp() public {
        H h = new H();
        uint256 pk = 0x1234567;
        (uint256 x, uint256 y) = vm.publicKeyP256(pk);
        bytes32 d = keccak256("hello");
        (bytes32 r, bytes32 s) = vm.signP256(pk, d);
        emit log_named_uint("table", h.tbl(x, y));
        emit log_named_uint("inv", h.inv(12345));
        emit log_named_uint("full", h.full(d, uint256(r), uint256(s), x, y));
    }
}
