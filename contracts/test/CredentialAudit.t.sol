// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {Fixture, SoftKey} from "./utils/Fixture.sol";
import {CredentialAudit} from "../src/CredentialAudit.sol";
import {K11Assertion} from "../src/SidecarRegistry.sol";

/// Merkle batches built here the way audit.md §3 describes (independent of the contract's code).
contract CredentialAuditTest is Fixture {
    SoftKey internal k1;
    address internal w1 = address(0x3001);
    bytes32 internal op;
    bytes32 internal d1;

    function setUp() public {
        deployAll();
        k1 = newKey(301);
        (op, d1) = bootstrap(w1, k1, ROLES_FIRST);
    }

    function leafNode(bytes memory data) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(uint8(0), data));
    }

    function inner(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        (bytes32 lo, bytes32 hi) = a < b ? (a, b) : (b, a);
        return keccak256(abi.encodePacked(uint8(1), lo, hi));
    }

    /// Root and the proof of leaf `idx` (odd level: last node paired with itself).
    function tree(bytes[] memory leaves, uint256 idx) internal pure returns (bytes32 root, bytes32[] memory proof) {
        bytes32[] memory level = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; i++) {
            level[i] = leafNode(leaves[i]);
        }
        bytes32[] memory tmp = new bytes32[](16);
        uint256 depth;
        while (level.length > 1) {
            uint256 sib = idx % 2 == 1 ? idx - 1 : (idx + 1 < level.length ? idx + 1 : idx);
            tmp[depth++] = level[sib];
            bytes32[] memory next = new bytes32[]((level.length + 1) / 2);
            for (uint256 i = 0; i < next.length; i++) {
                bytes32 a = level[2 * i];
                bytes32 b = 2 * i + 1 < level.length ? level[2 * i + 1] : a;
                next[i] = inner(a, b);
            }
            level = next;
            idx /= 2;
        }
        proof = new bytes32[](depth);
        for (uint256 i = 0; i < depth; i++) {
            proof[i] = tmp[i];
        }
        root = level[0];
    }

    function fiveLeaves() internal pure returns (bytes[] memory l) {
        l = new bytes[](5);
        for (uint256 i = 0; i < 5; i++) {
            l[i] = abi.encode(keccak256(abi.encode("event", i)));
        }
    }

    function test_append_and_verify_every_leaf() public {
        bytes[] memory l = fiveLeaves();
        (bytes32 root,) = tree(l, 0);
        vm.prank(w1);
        vm.assertEq(audit.appendRoot(op, root, 5), 0, "index 0");
        vm.assertEq(audit.rootCount(op), 1, "rootCount");
        vm.assertEq(audit.totalEntries(op), 5, "totalEntries");
        CredentialAudit.AuditRoot memory r = audit.getRoot(op, 0);
        vm.assertEq(r.merkleRoot, root, "root");
        vm.assertEq(uint256(r.entryCount), 5, "count");
        for (uint256 i = 0; i < 5; i++) {
            (, bytes32[] memory proof) = tree(l, i);
            vm.assertTrue(audit.verifyEntryInRoot(op, 0, proof, l[i]), "leaf verifies");
            vm.assertFalse(audit.verifyEntryInRoot(op, 1, proof, l[i]), "out-of-range index is false");
            vm.assertFalse(audit.verifyEntryInRoot(op, 0, proof, abi.encode(keccak256("forged"))), "forged leaf");
        }
    }

    function test_internal_node_as_leaf_rejected() public {
        bytes[] memory l = fiveLeaves();
        (bytes32 root, bytes32[] memory proof0) = tree(l, 0);
        vm.prank(w1);
        audit.appendRoot(op, root, 5);
        // The level-1 node over leaves 0 and 1, offered as a "leaf" with the rest of leaf 0's proof.
        bytes32 node01 = inner(leafNode(l[0]), leafNode(l[1]));
        bytes32[] memory rest = new bytes32[](proof0.length - 1);
        for (uint256 i = 1; i < proof0.length; i++) {
            rest[i - 1] = proof0[i];
        }
        // Without domain separation this would verify: fold the node itself up the tree.
        bytes32 c = node01;
        for (uint256 i = 0; i < rest.length; i++) {
            c = inner(c, rest[i]);
        }
        vm.assertEq(c, root, "the node really is on the path (sanity)");
        vm.assertFalse(audit.verifyEntryInRoot(op, 0, rest, abi.encodePacked(node01)), "internal node accepted as leaf");
    }

    function test_non_master_append_rejected() public {
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(CredentialAudit.NotOperatorMaster.selector, address(0xBAD)));
        audit.appendRoot(op, keccak256("r"), 1);
        // an agent of the operator is not its master either
        bytes32 da = addAgent(op, w1, 0xA6E);
        address agentWallet = vm.addr(0xA6E);
        vm.assertTrue(reg.isActive(da), "agent active");
        vm.prank(agentWallet);
        vm.expectRevert(abi.encodeWithSelector(CredentialAudit.NotOperatorMaster.selector, agentWallet));
        audit.appendRoot(op, keccak256("r"), 1);
        // and a master of another operator is not this operator's master
        SoftKey storage k = k1;
        k.counter = 0;
        address w2 = address(0x3002);
        (bytes32 op2,) = bootstrap(w2, k, 7);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(CredentialAudit.NotOperatorMaster.selector, w2));
        audit.appendRoot(op, keccak256("r"), 1);
        vm.prank(w2);
        audit.appendRoot(op2, keccak256("r"), 1);
        vm.assertEq(audit.rootCount(op), 0, "nothing anchored for op");
    }

    function test_empty_root_rejected() public {
        vm.prank(w1);
        vm.expectRevert(CredentialAudit.EmptyRoot.selector);
        audit.appendRoot(op, bytes32(0), 0);
        vm.prank(w1);
        vm.expectRevert(CredentialAudit.EmptyRoot.selector);
        audit.appendRoot(op, keccak256("r"), 0);
    }

    function test_single_leaf_tree() public {
        bytes[] memory l = new bytes[](1);
        l[0] = bytes("only event");
        (bytes32 root, bytes32[] memory proof) = tree(l, 0);
        vm.assertEq(proof.length, 0, "no siblings");
        vm.prank(w1);
        audit.appendRoot(op, root, 1);
        vm.assertTrue(audit.verifyEntryInRoot(op, 0, proof, l[0]), "single leaf");
        vm.assertFalse(audit.verifyProof(leafNode(l[0]), proof, abi.encodePacked(leafNode(l[0]))), "leaf node as leaf");
    }
}
