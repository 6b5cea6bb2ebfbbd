// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {TestBase} from "./utils/TestBase.sol";
import {K3EpochCounter} from "../src/K3EpochCounter.sol";

contract K3EpochCounterTest is TestBase {
    K3EpochCounter internal c;
    address internal gov = address(0x6060);

    event K3Rotated(uint256 indexed newEpoch, uint256 timestamp);

    function setUp() public {
        vm.warp(1000);
        c = new K3EpochCounter(gov);
    }

    function test_starts_at_one() public view {
        vm.assertEq(c.currentEpoch(), 1, "epoch 1");
        vm.assertEq(c.epochStartedAt(1), 1000, "started");
        vm.assertEq(c.signerGovernance(), gov, "gov");
    }

    function test_advance_by_governance() public {
        vm.warp(2000);
        vm.prank(gov);
        vm.assertEq(c.advanceEpoch(), 2, "returns new epoch");
        vm.assertEq(c.currentEpoch(), 2, "epoch 2");
        vm.assertEq(c.epochStartedAt(2), 2000, "timestamp");
    }

    function test_advance_by_other_rejected() public {
        vm.prank(address(0xBEEF));
        vm.expectRevert(abi.encodeWithSelector(K3EpochCounter.NotSignerGovernance.selector, address(0xBEEF), gov));
        c.advanceEpoch();
        vm.assertEq(c.currentEpoch(), 1, "unchanged");
    }

    function test_governance_transfer() public {
        vm.prank(gov);
        c.setSignerGovernance(address(0x7070));
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(K3EpochCounter.NotSignerGovernance.selector, gov, address(0x7070)));
        c.advanceEpoch();
        vm.prank(address(0x7070));
        c.advanceEpoch();
        vm.assertEq(c.currentEpoch(), 2, "new gov advanced");
    }

    function test_transfer_by_other_and_to_zero_rejected() public {
        vm.prank(address(0xBEEF));
        vm.expectRevert(abi.encodeWithSelector(K3EpochCounter.NotSignerGovernance.selector, address(0xBEEF), gov));
        c.setSignerGovernance(address(0xBEEF));
        vm.prank(gov);
        vm.expectRevert(K3EpochCounter.ZeroAddressGovernance.selector);
        c.setSignerGovernance(address(0));
    }

    function test_zero_governance_constructor_rejected() public {
        vm.expectRevert(K3EpochCounter.ZeroAddressGovernance.selector);
        new K3EpochCounter(address(0));
    }

    function test_commit_once_by_governance() public {
        vm.prank(gov);
        c.commitEpoch(1, bytes32(uint256(0xc1)));
        vm.assertEq(c.epochCommitment(1), bytes32(uint256(0xc1)), "recorded");
        vm.assertEq(c.highestCommittedEpoch(), 1, "highest");
        vm.prank(gov);
        vm.expectRevert(
            abi.encodeWithSelector(K3EpochCounter.EpochAlreadyCommitted.selector, 1, bytes32(uint256(0xc1)))
        );
        c.commitEpoch(1, bytes32(uint256(0xc2)));
        vm.assertEq(c.epochCommitment(1), bytes32(uint256(0xc1)), "write-once");
    }

    function test_commit_refusals() public {
        vm.prank(address(0xBEEF));
        vm.expectRevert(abi.encodeWithSelector(K3EpochCounter.NotSignerGovernance.selector, address(0xBEEF), gov));
        c.commitEpoch(1, bytes32(uint256(1)));
        vm.prank(gov);
        vm.expectRevert(K3EpochCounter.ZeroCommitment.selector);
        c.commitEpoch(1, bytes32(0));
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(K3EpochCounter.EpochNotStarted.selector, 2, 1));
        c.commitEpoch(2, bytes32(uint256(1)));
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(K3EpochCounter.EpochNotStarted.selector, 0, 1));
        c.commitEpoch(0, bytes32(uint256(1)));
        vm.assertEq(c.highestCommittedEpoch(), 0, "nothing recorded");
    }

    function test_commit_out_of_order_keeps_highest() public {
        vm.startPrank(gov);
        c.advanceEpoch();
        c.advanceEpoch();
        c.commitEpoch(3, bytes32(uint256(3)));
        c.commitEpoch(1, bytes32(uint256(1)));
        vm.stopPrank();
        vm.assertEq(c.highestCommittedEpoch(), 3, "highest stays 3");
        vm.assertEq(c.epochCommitment(2), bytes32(0), "2 unrecorded");
    }
}
