// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {Fixture, SoftKey, Tweak} from "./utils/Fixture.sol";
import {K11Verifier} from "../src/K11Verifier.sol";
import {SidecarRegistry, K11Assertion} from "../src/SidecarRegistry.sol";
import {AgentKeysScope} from "../src/AgentKeysScope.sol";

contract AgentKeysScopeTest is Fixture {
    SoftKey internal k1;
    SoftKey internal k2;
    address internal w1 = address(0x2001);
    address internal w2 = address(0x2002);
    uint256 internal constant AGENT_PK = 0xA6E47;
    bytes32 internal op;
    bytes32 internal d1;
    bytes32 internal agent;
    bytes32 internal constant CRED_OPENROUTER = keccak256("credentials:openrouter");
    bytes32 internal constant MEM_OPENROUTER = keccak256("memory:openrouter");

    function setUp() public {
        deployAll();
        k1 = newKey(201);
        k2 = newKey(202);
        (op, d1) = bootstrap(w1, k1, ROLES_FIRST);
        addAgent(op, w1, AGENT_PK);
        agent = reg.omniOf(vm.addr(AGENT_PK));
    }

    function services1() internal pure returns (bytes32[] memory s) {
        s = new bytes32[](1);
        s[0] = CRED_OPENROUTER;
    }

    function _set(SoftKey storage k, bytes32 dkh, address sender, bytes32[] memory s) internal {
        bytes32 ch = scope.setScopeChallenge(op, agent, s, false, 0, 0, 0, 0);
        K11Assertion memory a = assertWith(k, dkh, ch);
        vm.prank(sender);
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
    }

    /// Gas of one whole K11-gated call (first scope for an agent, one service), with the
    /// clientDataJSON every browser writes. Printed for the README; bounded loosely.
    function test_gas_set_scope_with_webauthn() public {
        bytes32[] memory s = services1();
        bytes32 ch = scope.setScopeChallenge(op, agent, s, false, 0, 0, 0, 0);
        K11Assertion memory a = assertWith(k1, d1, ch);
        vm.prank(w1);
        uint256 g = gasleft();
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
        g -= gasleft();
        emit log_named_uint("gas per setScopeWithWebauthn (K11-gated call, first scope)", g);
        vm.assertLt(g, 500_000, "K11-gated call above 500k gas");
    }

    function test_scope_id_is_class_colon_service() public view {
        vm.assertEq(scope.scopeId("credentials", "openrouter"), CRED_OPENROUTER, "D2 scope id");
    }

    function test_set_scope_and_query() public {
        _set(k1, d1, w1, services1());
        vm.assertTrue(scope.isServiceInScope(op, agent, CRED_OPENROUTER), "in scope");
        vm.assertFalse(scope.isServiceInScope(op, agent, MEM_OPENROUTER), "other class not in scope");
        vm.assertFalse(scope.isServiceInScope(keccak256("other op"), agent, CRED_OPENROUTER), "other operator");
        AgentKeysScope.Scope memory sc = scope.getScope(op, agent);
        vm.assertTrue(sc.exists, "exists");
        vm.assertEq(sc.services.length, 1, "one service");
        vm.assertEq(scope.scopeNonce(op, agent), 1, "nonce");
        vm.assertEq(uint256(reg.getDevice(d1).lastSignCount), 2, "sign count recorded in the registry");
    }

    function test_replayed_scope_assertion_rejected() public {
        bytes32[] memory s = services1();
        bytes32 ch = scope.setScopeChallenge(op, agent, s, false, 0, 0, 0, 0);
        K11Assertion memory a = assertWith(k1, d1, ch);
        vm.prank(w1);
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
        // same assertion again: counter is stale
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(K11Verifier.StaleSignCount.selector, uint32(2), uint32(2)));
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
        // fresh counter, old nonce: challenge mismatch
        K11Assertion memory b = assertWith(k1, d1, ch);
        vm.prank(w1);
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, b);
    }

    function test_scope_params_bound_by_challenge() public {
        bytes32[] memory s = services1();
        bytes32 ch = scope.setScopeChallenge(op, agent, s, false, 0, 0, 0, 0);
        K11Assertion memory a = assertWith(k1, d1, ch);
        s[0] = MEM_OPENROUTER; // different service than signed
        vm.prank(w1);
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
    }

    function test_master_without_scope_role_rejected() public {
        bytes32 d2 = addMaster(op, w2, k2, 3, k1, d1); // CAP_MINT|RECOVERY, no SCOPE_MGMT
        bytes32[] memory s = services1();
        bytes32 ch = scope.setScopeChallenge(op, agent, s, false, 0, 0, 0, 0);
        K11Assertion memory a = assertWith(k2, d2, ch);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.K11RoleMissing.selector, uint8(4)));
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
    }

    function test_non_master_sender_rejected() public {
        bytes32[] memory s = services1();
        bytes32 ch = scope.setScopeChallenge(op, agent, s, false, 0, 0, 0, 0);
        K11Assertion memory a = assertWith(k1, d1, ch);
        address agentWallet = vm.addr(AGENT_PK);
        vm.prank(agentWallet);
        vm.expectRevert(abi.encodeWithSelector(AgentKeysScope.NotAuthorized.selector, agentWallet));
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
    }

    function test_unbound_actor_rejected() public {
        bytes32 stranger = keccak256("not an actor of op");
        bytes32[] memory s = services1();
        K11Assertion memory a = assertWith(k1, d1, bytes32(0));
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(AgentKeysScope.ActorNotBound.selector, stranger, op));
        scope.setScopeWithWebauthn(op, stranger, s, false, 0, 0, 0, 0, a);
    }

    function test_wrong_rp_id_and_missing_uv_rejected() public {
        bytes32[] memory s = services1();
        bytes32 ch = scope.setScopeChallenge(op, agent, s, false, 0, 0, 0, 0);
        Tweak memory t = defaults();
        t.rpIdHash = keccak256("other.rp");
        K11Assertion memory a = assertWith(k1, d1, ch, t);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(K11Verifier.RpIdHashMismatch.selector, t.rpIdHash, RP_ID_HASH));
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
        t = defaults();
        t.flags = 0x01;
        a = assertWith(k1, d1, ch, t);
        vm.prank(w1);
        vm.expectRevert(K11Verifier.UserVerificationMissing.selector);
        scope.setScopeWithWebauthn(op, agent, s, false, 0, 0, 0, 0, a);
    }

    function test_invalid_service_lists_rejected() public {
        K11Assertion memory a = assertWith(k1, d1, bytes32(0));
        bytes32[] memory dup = new bytes32[](2);
        dup[0] = CRED_OPENROUTER;
        dup[1] = CRED_OPENROUTER;
        vm.prank(w1);
        vm.expectRevert(AgentKeysScope.InvalidServices.selector);
        scope.setScopeWithWebauthn(op, agent, dup, false, 0, 0, 0, 0, a);
        vm.prank(w1);
        vm.expectRevert(AgentKeysScope.InvalidServices.selector);
        scope.setScopeWithWebauthn(op, agent, new bytes32[](0), false, 0, 0, 0, 0, a);
        vm.prank(w1);
        vm.expectRevert(AgentKeysScope.InvalidServices.selector);
        scope.setScopeWithWebauthn(op, agent, new bytes32[](1), false, 0, 0, 0, 0, a);
    }

    function test_revoke_scope() public {
        _set(k1, d1, w1, services1());
        bytes32 ch = scope.revokeScopeChallenge(op, agent);
        K11Assertion memory a = assertWith(k1, d1, ch);
        vm.prank(w1);
        scope.revokeScope(op, agent, a);
        vm.assertFalse(scope.isServiceInScope(op, agent, CRED_OPENROUTER), "revoked");
        vm.assertFalse(scope.getScope(op, agent).exists, "gone");
        vm.assertEq(scope.scopeNonce(op, agent), 2, "nonce");
        // revoke again: nothing to revoke
        a = assertWith(k1, d1, scope.revokeScopeChallenge(op, agent));
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(AgentKeysScope.ScopeNotSet.selector, op, agent));
        scope.revokeScope(op, agent, a);
    }

    function test_revoke_scope_wrong_challenge_rejected() public {
        _set(k1, d1, w1, services1());
        K11Assertion memory a = assertWith(k1, d1, keccak256("not the revoke challenge"));
        vm.prank(w1);
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        scope.revokeScope(op, agent, a);
    }

    function test_scope_for_revoked_operator_master_rejected() public {
        // an operator that does not exist
        bytes32 ghost = keccak256("ghost");
        K11Assertion memory a = assertWith(k1, d1, bytes32(0));
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(AgentKeysScope.OperatorNotRegistered.selector, ghost));
        scope.setScopeWithWebauthn(ghost, agent, services1(), false, 0, 0, 0, 0, a);
    }
}
