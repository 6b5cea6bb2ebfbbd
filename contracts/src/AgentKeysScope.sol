// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {SidecarRegistry, K11Assertion} from "./SidecarRegistry.sol";

/// @title AgentKeysScope — which services an actor of an operator may use, per data class.
/// @notice Scope ids are `keccak256(data_class ":" service)` (decisions.md D2), e.g.
///         keccak256("credentials:openrouter"); a scope in one class grants nothing in another.
///         Setting and revoking need (a) a transaction from an active master wallet of the operator
///         and (b) a WebAuthn assertion of an active master of that operator holding
///         ROLE_SCOPE_MGMT, verified by the registry against that device's stored rpIdHash and key
///         (sign count recorded there), over
///         `keccak256(abi.encode(OP_*, block.chainid, address(this), scopeNonce[op][agent], …))`.
///         Spend limits are stored for the broker to read; no code path here enforces them.
contract AgentKeysScope {
    struct Scope {
        bytes32[] services;
        bool readOnly;
        uint128 maxPerCall;
        uint128 maxPerPeriod;
        uint128 maxTotal;
        uint32 periodSeconds;
        uint64 updatedAt;
        bool exists;
    }

    bytes32 public constant OP_SET_SCOPE = keccak256("agentkeys:v1:set-scope");
    bytes32 public constant OP_REVOKE_SCOPE = keccak256("agentkeys:v1:revoke-scope");
    uint256 public constant MAX_SERVICES = 64;

    SidecarRegistry public immutable registry;

    mapping(bytes32 => mapping(bytes32 => Scope)) private scopes;
    mapping(bytes32 => mapping(bytes32 => uint256)) public scopeNonce;

    event ScopeUpdated(
        bytes32 indexed operatorOmni,
        bytes32 indexed agentOmni,
        bytes32[] services,
        bool readOnly,
        uint128 maxPerCall,
        uint128 maxPerPeriod,
        uint128 maxTotal,
        uint32 periodSeconds
    );
    event ScopeRevoked(bytes32 indexed operatorOmni, bytes32 indexed agentOmni);

    error OperatorNotRegistered(bytes32 operatorOmni);
    error NotAuthorized(address caller);
    error ActorNotBound(bytes32 agentOmni, bytes32 operatorOmni);
    error ScopeNotSet(bytes32 operatorOmni, bytes32 agentOmni);
    error InvalidServices();

    constructor(SidecarRegistry registry_) {
        registry = registry_;
    }

    /// @notice keccak256(dataClass ":" service) — the on-chain scope id (D2).
    function scopeId(string calldata dataClass, string calldata service) external pure returns (bytes32) {
        return keccak256(abi.encodePacked(dataClass, ":", service));
    }

    function setScopeChallenge(
        bytes32 op,
        bytes32 agent,
        bytes32[] calldata services,
        bool readOnly,
        uint128 maxPerCall,
        uint128 maxPerPeriod,
        uint128 maxTotal,
        uint32 periodSeconds
    ) public view returns (bytes32) {
        return keccak256(
            abi.encode(
                OP_SET_SCOPE,
                block.chainid,
                address(this),
                scopeNonce[op][agent],
                op,
                agent,
                keccak256(abi.encodePacked(services)),
                readOnly,
                maxPerCall,
                maxPerPeriod,
                maxTotal,
                periodSeconds
            )
        );
    }

    function revokeScopeChallenge(bytes32 op, bytes32 agent) public view returns (bytes32) {
        return keccak256(abi.encode(OP_REVOKE_SCOPE, block.chainid, address(this), scopeNonce[op][agent], op, agent));
    }

    /// @notice Replace the scope of `agent` (an actor bound to `op`) with `services` (1..64
    ///         distinct non-zero scope ids).
    function setScopeWithWebauthn(
        bytes32 op,
        bytes32 agent,
        bytes32[] calldata services,
        bool readOnly,
        uint128 maxPerCall,
        uint128 maxPerPeriod,
        uint128 maxTotal,
        uint32 periodSeconds,
        K11Assertion calldata a
    ) external {
        _checkCaller(op, agent);
        if (services.length == 0 || services.length > MAX_SERVICES) revert InvalidServices();
        for (uint256 i = 0; i < services.length; i++) {
            if (services[i] == bytes32(0)) revert InvalidServices();
            for (uint256 j = 0; j < i; j++) {
                if (services[j] == services[i]) revert InvalidServices();
            }
        }
        bytes32 challenge =
            setScopeChallenge(op, agent, services, readOnly, maxPerCall, maxPerPeriod, maxTotal, periodSeconds);
        registry.consumeMasterAssertion(op, challenge, registry.ROLE_SCOPE_MGMT(), a);
        scopeNonce[op][agent] += 1;

        Scope storage sc = scopes[op][agent];
        sc.services = services;
        sc.readOnly = readOnly;
        sc.maxPerCall = maxPerCall;
        sc.maxPerPeriod = maxPerPeriod;
        sc.maxTotal = maxTotal;
        sc.periodSeconds = periodSeconds;
        sc.updatedAt = uint64(block.timestamp);
        sc.exists = true;
        emit ScopeUpdated(op, agent, services, readOnly, maxPerCall, maxPerPeriod, maxTotal, periodSeconds);
    }

    /// @notice Delete the scope of `agent` under `op`.
    function revokeScope(bytes32 op, bytes32 agent, K11Assertion calldata a) external {
        _checkCaller(op, agent);
        if (!scopes[op][agent].exists) revert ScopeNotSet(op, agent);
        registry.consumeMasterAssertion(op, revokeScopeChallenge(op, agent), registry.ROLE_SCOPE_MGMT(), a);
        scopeNonce[op][agent] += 1;
        delete scopes[op][agent];
        emit ScopeRevoked(op, agent);
    }

    function getScope(bytes32 op, bytes32 agent) external view returns (Scope memory) {
        return scopes[op][agent];
    }

    /// @notice True iff `agent` under `op` has a scope containing `serviceId`
    ///         (= keccak256(data_class ":" service)).
    function isServiceInScope(bytes32 op, bytes32 agent, bytes32 serviceId) external view returns (bool) {
        Scope storage sc = scopes[op][agent];
        if (!sc.exists) return false;
        bytes32[] storage list = sc.services;
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == serviceId) return true;
        }
        return false;
    }

    function _checkCaller(bytes32 op, bytes32 agent) private view {
        if (registry.operatorMasterWallet(op) == address(0)) revert OperatorNotRegistered(op);
        if (!registry.isMasterWallet(op, msg.sender)) revert NotAuthorized(msg.sender);
        if (registry.actorOperator(agent) != op) revert ActorNotBound(agent, op);
    }
}
