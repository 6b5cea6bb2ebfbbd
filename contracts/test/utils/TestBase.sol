// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @dev The few Foundry cheatcodes our tests and scripts use, declared by hand. The npm package
///      `forge-std` 1.1.2 is the only forge-std on the npm registry we can pin, and its Test.sol
///      imports `ds-test`, which that package does not ship; so we declare the cheatcode interface
///      ourselves (signatures as documented in the Foundry book, "Cheatcodes reference").
interface Vm {
    // assertions (revert with a readable message on failure)
    function assertEq(uint256 left, uint256 right, string calldata err) external pure;
    function assertEq(bytes32 left, bytes32 right, string calldata err) external pure;
    function assertEq(address left, address right, string calldata err) external pure;
    function assertEq(bool left, bool right, string calldata err) external pure;
    function assertEq(bytes calldata left, bytes calldata right, string calldata err) external pure;
    function assertEq(string calldata left, string calldata right, string calldata err) external pure;
    function assertTrue(bool condition, string calldata err) external pure;
    function assertFalse(bool condition, string calldata err) external pure;
    function assertLt(uint256 left, uint256 right, string calldata err) external pure;
    // reverts, callers, time, keys
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert() external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function warp(uint256 newTimestamp) external;
    function load(address target, bytes32 slot) external view returns (bytes32 data);
    function store(address target, bytes32 slot, bytes32 value) external;
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function signP256(uint256 privateKey, bytes32 digest) external pure returns (bytes32 r, bytes32 s);
    function publicKeyP256(uint256 privateKey) external pure returns (uint256 publicKeyX, uint256 publicKeyY);
    // files, JSON, env
    function projectRoot() external view returns (string memory path);
    function readFile(string calldata path) external view returns (string memory data);
    function writeFile(string calldata path, string calldata data) external;
    function createDir(string calldata path, bool recursive) external;
    function parseJson(string calldata json, string calldata key) external pure returns (bytes memory abiEncodedData);
    function parseJsonKeys(string calldata json, string calldata key) external pure returns (string[] memory keys);
    function parseJsonString(string calldata json, string calldata key) external pure returns (string memory);
    function parseJsonBool(string calldata json, string calldata key) external pure returns (bool);
    function parseJsonStringArray(string calldata json, string calldata key) external pure returns (string[] memory);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseBytes(string calldata stringifiedValue) external pure returns (bytes memory parsedValue);
    function toString(uint256 value) external pure returns (string memory stringifiedValue);
    function toString(bytes32 value) external pure returns (string memory stringifiedValue);
    function toString(address value) external pure returns (string memory stringifiedValue);
    function envOr(string calldata name, string calldata defaultValue) external view returns (string memory value);
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256 value);
    function envOr(string calldata name, address defaultValue) external view returns (address value);
    // scripts
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
    function serializeAddress(string calldata objectKey, string calldata valueKey, address value)
        external
        returns (string memory json);
    function serializeUint(string calldata objectKey, string calldata valueKey, uint256 value)
        external
        returns (string memory json);
    function writeJson(string calldata json, string calldata path) external;
}

/// @dev Minimal test base: forge treats a test as passed iff it does not revert (and, for
///      `testFail`-free forge 1.x, that is the whole contract). Assertions are the Vm's.
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    event log_named_uint(string key, uint256 val);
    event log_named_bytes32(string key, bytes32 val);
    event log_string(string val);

    /// Repository root (contracts/ is one level below it).
    function repoRoot() internal view returns (string memory) {
        return string.concat(vm.projectRoot(), "/..");
    }

    /// The shared public vectors folder (../shared/vectors relative to the repository root),
    /// overridable with AGENTKEYS_VECTORS_DIR.
    function vectorsDir() internal view returns (string memory) {
        return vm.envOr("AGENTKEYS_VECTORS_DIR", string.concat(repoRoot(), "/../shared/vectors"));
    }

    function hexBytes(string memory h) internal pure returns (bytes memory) {
        return vm.parseBytes(string.concat("0x", h));
    }

    function hexUint(string memory h) internal pure returns (uint256 v) {
        bytes memory b = hexBytes(h);
        require(b.length <= 32, "hexUint: too long");
        for (uint256 i = 0; i < b.length; i++) {
            v = (v << 8) | uint8(b[i]);
        }
    }
}
