// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {SidecarRegistry} from "./SidecarRegistry.sol";

/// @title CredentialAudit — Merkle roots of audit batches, anchored by the operator's master wallet.
/// @notice decisions.md D12 / audit.md §3 (domain-separated variant):
///           leaf node  L = keccak256(0x00 ‖ leafData)
///           inner node   = keccak256(0x01 ‖ min(a,b) ‖ max(a,b))   (bytewise unsigned order)
///         An odd level pairs its last node with itself; an empty batch is never anchored. The
///         prefixes make a 32-byte inner node presented as leaf data hash to something else.
contract CredentialAudit {
    struct AuditRoot {
        bytes32 merkleRoot;
        uint64 entryCount;
        uint64 timestamp;
    }

    SidecarRegistry public immutable registry;

    mapping(bytes32 => AuditRoot[]) private roots;
    /// Sum of entryCount over every anchored root of the operator.
    mapping(bytes32 => uint256) public totalEntries;

    event AuditRootAppended(bytes32 indexed operatorOmni, bytes32 indexed merkleRoot, uint256 rootIndex, uint64 entryCount);

    error NotOperatorMaster(address caller);
    error EmptyRoot();

    constructor(SidecarRegistry registry_) {
        registry = registry_;
    }

    /// @notice Anchor a batch root. Sender: an active master wallet of `op` (registry.isMasterWallet).
    function appendRoot(bytes32 op, bytes32 merkleRoot, uint64 entryCount) external returns (uint256 rootIndex) {
        if (!registry.isMasterWallet(op, msg.sender)) revert NotOperatorMaster(msg.sender);
        if (merkleRoot == bytes32(0) || entryCount == 0) revert EmptyRoot();
        rootIndex = roots[op].length;
        roots[op].push(AuditRoot({merkleRoot: merkleRoot, entryCount: entryCount, timestamp: uint64(block.timestamp)}));
        totalEntries[op] += entryCount;
        emit AuditRootAppended(op, merkleRoot, rootIndex, entryCount);
    }

    function rootCount(bytes32 op) external view returns (uint256) {
        return roots[op].length;
    }

    function getRoot(bytes32 op, uint256 rootIndex) external view returns (AuditRoot memory) {
        return roots[op][rootIndex];
    }

    /// @notice True iff `leafData` is in the batch anchored at `rootIndex` (false if out of range).
    function verifyEntryInRoot(bytes32 op, uint256 rootIndex, bytes32[] calldata proof, bytes calldata leafData)
        external
        view
        returns (bool)
    {
        if (rootIndex >= roots[op].length) return false;
        return verifyProof(roots[op][rootIndex].merkleRoot, proof, leafData);
    }

    function verifyProof(bytes32 root, bytes32[] calldata proof, bytes calldata leafData) public pure returns (bool) {
        bytes32 c = leafHash(leafData);
        for (uint256 i = 0; i < proof.length; i++) {
            c = nodeHash(c, proof[i]);
        }
        return c == root;
    }

    function leafHash(bytes calldata leafData) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), leafData));
    }

    function nodeHash(bytes32 a, bytes32 b) public pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(bytes1(0x01), a, b)) : keccak256(abi.encodePacked(bytes1(0x01), b, a));
    }
}
