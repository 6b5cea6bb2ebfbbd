// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title K3EpochCounter — the current K3 epoch the signer must derive KEKs with (decisions.md D7).
/// @notice Starts at 1. Only `signerGovernance` advances it or hands governance over.
contract K3EpochCounter {
    uint256 public currentEpoch;
    address public signerGovernance;
    mapping(uint256 => uint256) public epochStartedAt;

    event K3Rotated(uint256 indexed newEpoch, uint256 timestamp);
    event SignerGovernanceTransferred(address indexed oldGov, address indexed newGov);

    error ZeroAddressGovernance();
    error NotSignerGovernance(address caller, address expected);

    constructor(address governance) {
        if (governance == address(0)) revert ZeroAddressGovernance();
        signerGovernance = governance;
        currentEpoch = 1;
        epochStartedAt[1] = block.timestamp;
        emit SignerGovernanceTransferred(address(0), governance);
        emit K3Rotated(1, block.timestamp);
    }

    modifier onlyGovernance() {
        if (msg.sender != signerGovernance) revert NotSignerGovernance(msg.sender, signerGovernance);
        _;
    }

    /// @notice currentEpoch += 1; returns the new epoch.
    function advanceEpoch() external onlyGovernance returns (uint256 newEpoch) {
        newEpoch = currentEpoch + 1;
        currentEpoch = newEpoch;
        epochStartedAt[newEpoch] = block.timestamp;
        emit K3Rotated(newEpoch, block.timestamp);
    }

    function setSignerGovernance(address newGov) external onlyGovernance {
        if (newGov == address(0)) revert ZeroAddressGovernance();
        emit SignerGovernanceTransferred(signerGovernance, newGov);
        signerGovernance = newGov;
    }
}
