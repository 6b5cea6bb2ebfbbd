// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {K11Verifier} from "./K11Verifier.sol";

/// @notice One WebAuthn assertion by a registered master device (ABI tuple
///         `(bytes32,bytes,bytes,uint256,uint256)`). `attestingDeviceKeyHash` names the master
///         device whose stored passkey (rpIdHash, pubX, pubY) must verify it; it is ignored where
///         the key is supplied in the same call (self-attestation of a new passkey).
struct K11Assertion {
    bytes32 attestingDeviceKeyHash;
    bytes authenticatorData;
    bytes clientDataJSON;
    uint256 r;
    uint256 s;
}

/// @notice The 11-word device record (decisions.md D1; contracts.md §1). All fields are static, so
///         `getDevice` returns exactly 11 ABI words in this order.
struct DeviceEntry {
    bytes32 operatorOmni;
    bytes32 actorOmni;
    bytes32 k11CredId; // indexer hint; 0 for agents
    bytes32 k11RpIdHash; // sha256(rpId); 0 for agents
    uint256 k11PubX;
    uint256 k11PubY;
    uint8 tier; // 1 master, 2 agent
    uint8 roles; // ROLE_* bits
    uint64 registeredAt; // block.timestamp; 0 = not registered
    uint32 lastSignCount; // last accepted WebAuthn signCount of this passkey
    bool revoked;
}

/// @title SidecarRegistry — devices, masters (passkey-gated, M-of-N recovery) and agents per operator.
/// @notice Identities (decisions.md D16): every device is one secp256k1 wallet (K10);
///         `device_key_hash = keccak256(wallet 20 bytes)`, `omni(wallet) = sha256("agentkeys" ‖ "evm" ‖
///         lowercase "0x…" address text)`. The contract derives both from addresses itself, so a
///         device's key hash and actor omni can never disagree with its wallet. An operator's id is
///         the omni of its first master wallet. Each K11-gated operation signs a challenge
///         `keccak256(abi.encode(OP_*, block.chainid, address(this), operatorNonce[op], …params))`
///         (exact tuples in README.md) and consumes the nonce.
///         Recovery rules: master additions, master revocations and threshold changes need a quorum
///         of `recoveryThreshold[op]` distinct active masters with ROLE_RECOVERY, counted by
///         passkey (two approvals signed by one public key count once); no revocation or
///         threshold change may leave fewer active recovery masters than the threshold, or zero.
///         A passkey (its public key, or its non-zero credential id) is held by at most one
///         active master of an operator, so one touch can never stand for two masters.
contract SidecarRegistry {
    uint8 public constant ROLE_CAP_MINT = 0x01;
    uint8 public constant ROLE_RECOVERY = 0x02;
    uint8 public constant ROLE_SCOPE_MGMT = 0x04;
    uint8 public constant ROLES_ALL = 0x07;
    uint8 public constant TIER_MASTER = 1;
    uint8 public constant TIER_AGENT = 2;
    uint256 public constant MAX_QUORUM_ASSERTIONS = 16;

    bytes32 public constant OP_REGISTER_1ST_MASTER = keccak256("agentkeys:v1:register-first-master");
    bytes32 public constant OP_REGISTER_2ND_MASTER = keccak256("agentkeys:v1:register-master");
    bytes32 public constant OP_REVOKE_MASTER = keccak256("agentkeys:v1:revoke-master");
    bytes32 public constant OP_SET_THRESHOLD = keccak256("agentkeys:v1:set-recovery-threshold");
    bytes32 public constant OP_AGENT_CONSENT = keccak256("agentkeys:v1:agent-consent");

    K11Verifier public immutable k11Verifier;
    address private immutable deployer;

    /// The one contract allowed to spend master assertions through `consumeMasterAssertion`
    /// (AgentKeysScope), bound once by the deployer right after both are deployed.
    address public scopeContract;

    mapping(bytes32 => DeviceEntry) private devices;
    mapping(bytes32 => bytes32[]) private operatorDevices;
    /// The wallet that bootstrapped the operator (its first master). Kept for reference; what
    /// authorises a wallet is `isMasterWallet` (any active master of the operator).
    mapping(bytes32 => address) public operatorMasterWallet;
    mapping(bytes32 => uint8) public recoveryThreshold;
    mapping(bytes32 => uint256) public operatorNonce;
    /// actor omni → operator omni, written at registration and never cleared, also not by a
    /// revocation (D17: a master may still tear down a revoked agent's data).
    mapping(bytes32 => bytes32) public actorOperator;
    /// device_key_hash → wallet address.
    mapping(bytes32 => address) public deviceWallet;
    mapping(bytes32 => uint256) private activeRecoveryCount;
    /// keccak256(abi.encode(op, pubX, pubY)) and, for a non-zero credential id,
    /// keccak256(abi.encode(op, credId)) → the active master device holding that passkey.
    /// Written when a master registers, cleared when it is revoked.
    mapping(bytes32 => bytes32) private passkeyHolder;

    event DeviceRegistered(
        bytes32 indexed deviceKeyHash, bytes32 indexed operatorOmni, bytes32 indexed actorOmni, uint8 tier, uint8 roles, bytes32 k11CredId
    );
    event DeviceRevoked(bytes32 indexed deviceKeyHash, bytes32 indexed operatorOmni);
    event OperatorBootstrapped(bytes32 indexed operatorOmni, address indexed masterWallet);
    event RecoveryThresholdSet(bytes32 indexed operatorOmni, uint8 newThreshold);
    event ScopeContractBound(address scopeContract);

    error DeviceAlreadyRegistered(bytes32 deviceKeyHash);
    error DeviceNotRegistered(bytes32 deviceKeyHash);
    error DeviceAlreadyRevoked(bytes32 deviceKeyHash);
    error OperatorAlreadyRegistered(bytes32 operatorOmni);
    error OperatorNotRegistered(bytes32 operatorOmni);
    error NotAuthorized(address caller);
    error InvalidAttestingDevice(bytes32 deviceKeyHash);
    error K11RoleMissing(uint8 requiredRole);
    error InsufficientQuorum(uint256 got, uint256 required);
    error TooManyAssertions(uint256 got);
    error DuplicateAttestor(bytes32 deviceKeyHash);
    error InvalidRoles(uint8 roles);
    error InvalidRecoveryThreshold(uint8 threshold, uint256 activeRecoveryMasters);
    error WouldStrandOperator(uint256 remainingRecoveryMasters, uint8 threshold);
    error NotMasterDevice(bytes32 deviceKeyHash);
    error NotAgentDevice(bytes32 deviceKeyHash);
    error InvalidAgentSignature();
    error InvalidPasskey();
    error ScopeContractAlreadyBound();
    error PasskeyAlreadyRegistered(bytes32 holderDeviceKeyHash);

    constructor(K11Verifier k11Verifier_) {
        k11Verifier = k11Verifier_;
        deployer = msg.sender;
    }

    /// @notice One-time binding of the scope contract (deploy step; only the deployer).
    function bindScopeContract(address scope) external {
        if (msg.sender != deployer) revert NotAuthorized(msg.sender);
        if (scopeContract != address(0)) revert ScopeContractAlreadyBound();
        if (scope == address(0)) revert NotAuthorized(address(0));
        scopeContract = scope;
        emit ScopeContractBound(scope);
    }

    // ------------------------------------------------------------------ identities (D16)

    /// @notice sha256("agentkeys" ‖ "evm" ‖ lowercase "0x" + 40 hex of `wallet`).
    function omniOf(address wallet) public pure returns (bytes32) {
        bytes memory text = new bytes(42);
        bytes memory digits = "0123456789abcdef";
        text[0] = "0";
        text[1] = "x";
        uint160 v = uint160(wallet);
        for (uint256 i = 41; i >= 2; i--) {
            text[i] = digits[v & 0x0f];
            v >>= 4;
        }
        return sha256(abi.encodePacked("agentkeysevm", text));
    }

    /// @notice keccak256 of the 20 address bytes.
    function deviceKeyHashOf(address wallet) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(wallet));
    }

    // ------------------------------------------------------------------ challenges

    function firstMasterChallenge(
        address wallet,
        bytes32 credId,
        bytes32 rpIdHash,
        uint256 pubX,
        uint256 pubY,
        uint8 roles
    ) public view returns (bytes32) {
        bytes32 op = omniOf(wallet);
        return keccak256(
            abi.encode(
                OP_REGISTER_1ST_MASTER, block.chainid, address(this), operatorNonce[op], wallet, credId, rpIdHash, pubX, pubY, roles
            )
        );
    }

    function additionalMasterChallenge(
        bytes32 op,
        address newWallet,
        bytes32 credId,
        bytes32 rpIdHash,
        uint256 pubX,
        uint256 pubY,
        uint8 roles
    ) public view returns (bytes32) {
        return keccak256(
            abi.encode(
                OP_REGISTER_2ND_MASTER, block.chainid, address(this), operatorNonce[op], op, newWallet, credId, rpIdHash, pubX, pubY, roles
            )
        );
    }

    function revokeMasterChallenge(bytes32 op, bytes32 target) public view returns (bytes32) {
        return keccak256(abi.encode(OP_REVOKE_MASTER, block.chainid, address(this), operatorNonce[op], op, target));
    }

    function setThresholdChallenge(bytes32 op, uint8 threshold) public view returns (bytes32) {
        return keccak256(abi.encode(OP_SET_THRESHOLD, block.chainid, address(this), operatorNonce[op], op, threshold));
    }

    /// @notice The 32-byte message an agent wallet personal_signs (EIP-191) to consent to being
    ///         registered under `op`.
    function agentConsentMessage(bytes32 op, address agentWallet) public view returns (bytes32) {
        return keccak256(abi.encode(OP_AGENT_CONSENT, block.chainid, address(this), op, agentWallet));
    }

    // ------------------------------------------------------------------ masters

    /// @notice Bootstrap: the sending wallet becomes the first master of operator omniOf(sender),
    ///         self-attested by its new passkey over `firstMasterChallenge`. Roles must include
    ///         ROLE_RECOVERY (else the operator would start stranded). Threshold := 1.
    function registerFirstMasterDevice(
        bytes32 credId,
        bytes32 rpIdHash,
        uint256 pubX,
        uint256 pubY,
        uint8 roles,
        K11Assertion calldata selfAttestation
    ) external returns (bytes32 deviceKeyHash) {
        address wallet = msg.sender;
        bytes32 op = omniOf(wallet);
        deviceKeyHash = deviceKeyHashOf(wallet);
        if (devices[deviceKeyHash].registeredAt != 0) revert DeviceAlreadyRegistered(deviceKeyHash);
        if (operatorMasterWallet[op] != address(0)) revert OperatorAlreadyRegistered(op);
        if (roles == 0 || roles & ~ROLES_ALL != 0 || roles & ROLE_RECOVERY == 0) revert InvalidRoles(roles);
        if (rpIdHash == bytes32(0)) revert InvalidPasskey();

        DeviceEntry memory e = _entry(op, op, credId, rpIdHash, pubX, pubY, TIER_MASTER, roles);
        e.lastSignCount = _verifyNewPasskey(firstMasterChallenge(wallet, credId, rpIdHash, pubX, pubY, roles), e, selfAttestation);

        operatorMasterWallet[op] = wallet;
        recoveryThreshold[op] = 1;
        operatorNonce[op] += 1;
        _store(deviceKeyHash, wallet, e);
        emit OperatorBootstrapped(op, wallet);
        emit RecoveryThresholdSet(op, 1);
    }

    /// @notice The sending wallet becomes an additional master of `op`, approved by a quorum
    ///         (recoveryThreshold) of existing recovery masters and self-attested by its own new
    ///         passkey, all over the same `additionalMasterChallenge`.
    function registerAdditionalMasterDevice(
        bytes32 op,
        bytes32 credId,
        bytes32 rpIdHash,
        uint256 pubX,
        uint256 pubY,
        uint8 roles,
        K11Assertion calldata selfAttestation,
        K11Assertion[] calldata approvals
    ) external returns (bytes32 deviceKeyHash) {
        address wallet = msg.sender;
        if (operatorMasterWallet[op] == address(0)) revert OperatorNotRegistered(op);
        deviceKeyHash = deviceKeyHashOf(wallet);
        if (devices[deviceKeyHash].registeredAt != 0) revert DeviceAlreadyRegistered(deviceKeyHash);
        if (roles == 0 || roles & ~ROLES_ALL != 0) revert InvalidRoles(roles);
        if (rpIdHash == bytes32(0)) revert InvalidPasskey();
        _requireNewPasskey(op, credId, pubX, pubY);

        DeviceEntry memory e = _entry(op, omniOf(wallet), credId, rpIdHash, pubX, pubY, TIER_MASTER, roles);
        bytes32 challenge = additionalMasterChallenge(op, wallet, credId, rpIdHash, pubX, pubY, roles);
        _consumeQuorum(op, challenge, approvals);
        e.lastSignCount = _verifyNewPasskey(challenge, e, selfAttestation);

        operatorNonce[op] += 1;
        _store(deviceKeyHash, wallet, e);
    }

    /// @notice Revoke master device `target` by M-of-N quorum. Sender: an active master wallet of
    ///         the target's operator. Refused if fewer than max(1, threshold) active recovery
    ///         masters would remain.
    function revokeMasterDevice(bytes32 target, K11Assertion[] calldata approvals) external {
        DeviceEntry storage d = devices[target];
        if (d.registeredAt == 0) revert DeviceNotRegistered(target);
        if (d.tier != TIER_MASTER) revert NotMasterDevice(target);
        if (d.revoked) revert DeviceAlreadyRevoked(target);
        bytes32 op = d.operatorOmni;
        if (!isMasterWallet(op, msg.sender)) revert NotAuthorized(msg.sender);

        uint8 t = recoveryThreshold[op];
        uint256 remaining = activeRecoveryCount[op];
        if (d.roles & ROLE_RECOVERY != 0) remaining -= 1;
        if (remaining == 0 || remaining < t) revert WouldStrandOperator(remaining, t);

        _consumeQuorum(op, revokeMasterChallenge(op, target), approvals);
        operatorNonce[op] += 1;
        d.revoked = true;
        if (d.roles & ROLE_RECOVERY != 0) activeRecoveryCount[op] -= 1;
        _releasePasskey(op, target, d.k11CredId, d.k11PubX, d.k11PubY);
        emit DeviceRevoked(target, op);
    }

    /// @notice Set the recovery threshold to `threshold` ∈ [1, activeRecoveryMasterCount] with a
    ///         quorum of the current threshold. Sender: an active master wallet of `op`.
    function setRecoveryThreshold(bytes32 op, uint8 threshold, K11Assertion[] calldata approvals) external {
        if (operatorMasterWallet[op] == address(0)) revert OperatorNotRegistered(op);
        if (!isMasterWallet(op, msg.sender)) revert NotAuthorized(msg.sender);
        uint256 active = activeRecoveryCount[op];
        if (threshold == 0 || threshold > active) revert InvalidRecoveryThreshold(threshold, active);

        _consumeQuorum(op, setThresholdChallenge(op, threshold), approvals);
        operatorNonce[op] += 1;
        recoveryThreshold[op] = threshold;
        emit RecoveryThresholdSet(op, threshold);
    }

    // ------------------------------------------------------------------ agents

    /// @notice Register `agentWallet` as an agent device (tier 2, ROLE_CAP_MINT) of `op`.
    ///         Sender: an active master wallet of `op`. `agentSig` (65 bytes r‖s‖v, v ∈ {27,28}
    ///         or {0,1}, low s) is the agent wallet's EIP-191 personal_sign of
    ///         `agentConsentMessage(op, agentWallet)`, so nobody can bind a wallet they don't hold.
    function registerAgentDevice(bytes32 op, address agentWallet, bytes calldata agentSig)
        external
        returns (bytes32 deviceKeyHash)
    {
        if (operatorMasterWallet[op] == address(0)) revert OperatorNotRegistered(op);
        if (!isMasterWallet(op, msg.sender)) revert NotAuthorized(msg.sender);
        deviceKeyHash = deviceKeyHashOf(agentWallet);
        if (devices[deviceKeyHash].registeredAt != 0) revert DeviceAlreadyRegistered(deviceKeyHash);
        if (_recoverPersonal(agentConsentMessage(op, agentWallet), agentSig) != agentWallet) {
            revert InvalidAgentSignature();
        }
        _store(deviceKeyHash, agentWallet, _entry(op, omniOf(agentWallet), 0, 0, 0, 0, TIER_AGENT, ROLE_CAP_MINT));
    }

    /// @notice Revoke agent device `deviceKeyHash`. Sender: an active master wallet of its operator.
    ///         `actorOperator` stays (D17).
    function revokeAgentDevice(bytes32 deviceKeyHash) external {
        DeviceEntry storage d = devices[deviceKeyHash];
        if (d.registeredAt == 0) revert DeviceNotRegistered(deviceKeyHash);
        if (d.tier != TIER_AGENT) revert NotAgentDevice(deviceKeyHash);
        if (d.revoked) revert DeviceAlreadyRevoked(deviceKeyHash);
        if (!isMasterWallet(d.operatorOmni, msg.sender)) revert NotAuthorized(msg.sender);
        d.revoked = true;
        emit DeviceRevoked(deviceKeyHash, d.operatorOmni);
    }

    // ------------------------------------------------------------------ for AgentKeysScope

    /// @notice Verify one assertion of an active master of `op` holding `requiredRole` over
    ///         `challenge`, and record its sign count. Only the bound scope contract may call this
    ///         (it builds the challenge, including its own nonce and address).
    function consumeMasterAssertion(bytes32 op, bytes32 challenge, uint8 requiredRole, K11Assertion calldata a)
        external
        returns (bytes32 attestor)
    {
        if (msg.sender != scopeContract || msg.sender == address(0)) revert NotAuthorized(msg.sender);
        _consumeOne(op, challenge, requiredRole, a);
        return a.attestingDeviceKeyHash;
    }

    // ------------------------------------------------------------------ views

    function getDevice(bytes32 deviceKeyHash) external view returns (DeviceEntry memory) {
        return devices[deviceKeyHash];
    }

    function getOperatorDevices(bytes32 op) external view returns (bytes32[] memory) {
        return operatorDevices[op];
    }

    function isActive(bytes32 deviceKeyHash) public view returns (bool) {
        DeviceEntry storage d = devices[deviceKeyHash];
        return d.registeredAt != 0 && !d.revoked;
    }

    /// @notice True iff `wallet` is an active master device of `op`.
    function isMasterWallet(bytes32 op, address wallet) public view returns (bool) {
        DeviceEntry storage d = devices[deviceKeyHashOf(wallet)];
        return d.registeredAt != 0 && !d.revoked && d.tier == TIER_MASTER && d.operatorOmni == op;
    }

    function activeRecoveryMasterCount(bytes32 op) external view returns (uint256) {
        return activeRecoveryCount[op];
    }

    // ------------------------------------------------------------------ internals

    function _entry(
        bytes32 op,
        bytes32 actor,
        bytes32 credId,
        bytes32 rpIdHash,
        uint256 pubX,
        uint256 pubY,
        uint8 tier,
        uint8 roles
    ) private view returns (DeviceEntry memory) {
        return DeviceEntry({
            operatorOmni: op,
            actorOmni: actor,
            k11CredId: credId,
            k11RpIdHash: rpIdHash,
            k11PubX: pubX,
            k11PubY: pubY,
            tier: tier,
            roles: roles,
            registeredAt: uint64(block.timestamp),
            lastSignCount: 0,
            revoked: false
        });
    }

    function _store(bytes32 dkh, address wallet, DeviceEntry memory e) private {
        devices[dkh] = e;
        operatorDevices[e.operatorOmni].push(dkh);
        deviceWallet[dkh] = wallet;
        actorOperator[e.actorOmni] = e.operatorOmni;
        if (e.tier == TIER_MASTER) {
            if (e.roles & ROLE_RECOVERY != 0) activeRecoveryCount[e.operatorOmni] += 1;
            passkeyHolder[_keySlot(e.operatorOmni, e.k11PubX, e.k11PubY)] = dkh;
            if (e.k11CredId != bytes32(0)) passkeyHolder[_credSlot(e.operatorOmni, e.k11CredId)] = dkh;
        }
        emit DeviceRegistered(dkh, e.operatorOmni, e.actorOmni, e.tier, e.roles, e.k11CredId);
    }

    function _keySlot(bytes32 op, uint256 pubX, uint256 pubY) private pure returns (bytes32) {
        return keccak256(abi.encode(op, pubX, pubY));
    }

    function _credSlot(bytes32 op, bytes32 credId) private pure returns (bytes32) {
        return keccak256(abi.encode(op, credId));
    }

    /// @dev Refuse a passkey (public key, or non-zero credential id) that an active master of
    ///      `op` already holds: with it, one touch would count as two masters in a quorum.
    function _requireNewPasskey(bytes32 op, bytes32 credId, uint256 pubX, uint256 pubY) private view {
        bytes32 holder = passkeyHolder[_keySlot(op, pubX, pubY)];
        if (holder != bytes32(0) && isActive(holder)) revert PasskeyAlreadyRegistered(holder);
        if (credId == bytes32(0)) return;
        holder = passkeyHolder[_credSlot(op, credId)];
        if (holder != bytes32(0) && isActive(holder)) revert PasskeyAlreadyRegistered(holder);
    }

    function _releasePasskey(bytes32 op, bytes32 dkh, bytes32 credId, uint256 pubX, uint256 pubY) private {
        bytes32 k = _keySlot(op, pubX, pubY);
        if (passkeyHolder[k] == dkh) delete passkeyHolder[k];
        if (credId == bytes32(0)) return;
        k = _credSlot(op, credId);
        if (passkeyHolder[k] == dkh) delete passkeyHolder[k];
    }

    function _verifyNewPasskey(bytes32 challenge, DeviceEntry memory e, K11Assertion calldata a)
        private
        view
        returns (uint32)
    {
        return k11Verifier.verifyAssertion(
            challenge, e.k11RpIdHash, e.k11PubX, e.k11PubY, 0, a.authenticatorData, a.clientDataJSON, a.r, a.s
        );
    }

    function _consumeOne(bytes32 op, bytes32 challenge, uint8 requiredRole, K11Assertion calldata a) private {
        DeviceEntry storage d = devices[a.attestingDeviceKeyHash];
        if (d.registeredAt == 0 || d.revoked || d.tier != TIER_MASTER || d.operatorOmni != op) {
            revert InvalidAttestingDevice(a.attestingDeviceKeyHash);
        }
        if (d.roles & requiredRole == 0) revert K11RoleMissing(requiredRole);
        d.lastSignCount = k11Verifier.verifyAssertion(
            challenge, d.k11RpIdHash, d.k11PubX, d.k11PubY, d.lastSignCount, a.authenticatorData, a.clientDataJSON, a.r, a.s
        );
    }

    /// @dev Verify every approval (each must be valid) and count them by passkey: approvals by
    ///      devices that share one public key count once. The same device twice is refused.
    function _consumeQuorum(bytes32 op, bytes32 challenge, K11Assertion[] calldata approvals) private {
        uint256 required = recoveryThreshold[op];
        if (required == 0) required = 1;
        if (approvals.length < required) revert InsufficientQuorum(approvals.length, required);
        if (approvals.length > MAX_QUORUM_ASSERTIONS) revert TooManyAssertions(approvals.length);
        bytes32[] memory keys = new bytes32[](approvals.length);
        uint256 distinct;
        for (uint256 i = 0; i < approvals.length; i++) {
            bytes32 dkh = approvals[i].attestingDeviceKeyHash;
            for (uint256 j = 0; j < i; j++) {
                if (approvals[j].attestingDeviceKeyHash == dkh) revert DuplicateAttestor(dkh);
            }
            _consumeOne(op, challenge, ROLE_RECOVERY, approvals[i]);
            DeviceEntry storage d = devices[dkh];
            bytes32 key = keccak256(abi.encode(d.k11PubX, d.k11PubY));
            bool seen;
            for (uint256 j = 0; j < i; j++) {
                if (keys[j] == key) seen = true;
            }
            keys[i] = key;
            if (!seen) distinct++;
        }
        if (distinct < required) revert InsufficientQuorum(distinct, required);
    }

    uint256 private constant SECP256K1_N_HALF = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @dev EIP-191 personal_sign recovery for a 32-byte message; address(0) on any malformation.
    function _recoverPersonal(bytes32 message, bytes calldata sig) private pure returns (address) {
        if (sig.length != 65) return address(0);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v < 27) v += 27;
        if (v != 27 && v != 28) return address(0);
        if (uint256(s) > SECP256K1_N_HALF) return address(0);
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", message));
        return ecrecover(digest, v, r, s);
    }
}
