// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title K3EpochCounter — the current K3 epoch the signer must derive KEKs with (decisions.md D7).
/// @notice Starts at 1. Only `signerGovernance` advances it or hands governance over.
/// @notice Rollback guard (issue 16 finding 7): governance records, once per epoch, the signer's
///         commitment to that epoch's K3 — HMAC-SHA256(K3, "agentkeys.k3.commitment.v1" ‖ epoch),
///         a one-way value, never K3. A signer whose keystore lacks an epoch that has a commitment
///         (an older keystore was restored) or holds a K3 that does not match it refuses to serve.
contract K3EpochCounter {
    uint256 public currentEpoch;
    address public signerGovernance;
    mapping(uint256 => uint256) public epochStartedAt;
    /// @notice epoch => the signer's commitment to its K3 (0 = not recorded). Write-once.
    mapping(uint256 => bytes32) public epochCommitment;
    /// @notice The highest epoch with a recorded commitment (0 = none).
    uint256 public highestCommittedEpoch;

    event K3Rotated(uint256 indexed newEpoch, uint256 timestamp);
    event SignerGovernanceTransferred(address indexed oldGov, address indexed newGov);
    event EpochCommitted(uint256 indexed epoch, bytes32 commitment);

    error ZeroAddressGovernance();
    error NotSignerGovernance(address caller, address expected);
    error EpochNotStarted(uint256 epoch, uint256 current);
    error EpochAlreadyCommitted(uint256 epoch, bytes32 commitment);
    error ZeroCommitment();

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

    /// @notice Records the signer's K3 commitment of a started epoch, once; never changes it.
    function commitEpoch(uint256 epoch, bytes32 commitment) external onlyGovernance {
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (epoch == 0 || epoch > currentEpoch) revert EpochNotStarted(epoch, currentEpoch);
        bytes32 had = epochCommitment[epoch];
        if (had != bytes32(0)) revert EpochAlreadyCommitted(epoch, had);
        epochCommitment[epoch] = commitment;
        if (epoch > highestCommittedEpoch) highestCommittedEpoch = epoch;
        emit EpochCommitted(epoch, commitment);
    }

    function setSignerGovernance(address newGov) external onlyGovernance {
        if (newGov == address(0)) revert ZeroAddressGovernance();
        emit SignerGovernanceTransferred(signerGovernance, newGov);
        signerGovernance = newGov;
    }
}
