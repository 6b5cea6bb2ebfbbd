// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {Fixture, SoftKey, Tweak} from "./utils/Fixture.sol";
import {K11Verifier} from "../src/K11Verifier.sol";
import {SidecarRegistry, K11Assertion, DeviceEntry} from "../src/SidecarRegistry.sol";

contract SidecarRegistryTest is Fixture {
    SoftKey internal k1; // master 1 (bootstrap)
    SoftKey internal k2; // master 2
    SoftKey internal k3; // master 3
    SoftKey internal other; // a passkey nobody registered
    address internal w1 = address(0x1001);
    address internal w2 = address(0x1002);
    address internal w3 = address(0x1003);
    uint256 internal constant AGENT_PK = 0xA6E47;
    bytes32 internal op;
    bytes32 internal d1;

    function setUp() public {
        deployAll();
        k1 = newKey(101);
        k2 = newKey(102);
        k3 = newKey(103);
        other = newKey(999);
        (op, d1) = bootstrap(w1, k1, ROLES_FIRST);
    }

    // ------------------------------------------------------------ identities (D16 vectors)

    function test_identity_vectors() public view {
        // identities.md: actor_omni(0x00…00) and device_key_hash(0x00…01)
        vm.assertEq(
            reg.omniOf(address(0)), 0xc3f7249ad2f03d898a95fdbe95113041282dd1f5a115d14a65d7e7ede4afee5f, "omni vector"
        );
        vm.assertEq(
            reg.deviceKeyHashOf(address(1)),
            0x1468288056310c82aa4c01a7e12a10f8111a0560e72b700555479031b86c357d,
            "dkh vector"
        );
        // lowercase hex of a mixed-case address
        address a = 0xabCDeF0123456789AbcdEf0123456789aBCDEF01;
        vm.assertEq(reg.omniOf(a), sha256("agentkeysevm0xabcdef0123456789abcdef0123456789abcdef01"), "lowercase");
    }

    // ------------------------------------------------------------ first master

    function test_first_master_registered() public view {
        DeviceEntry memory e = reg.getDevice(d1);
        vm.assertEq(d1, keccak256(abi.encodePacked(w1)), "dkh");
        vm.assertEq(e.operatorOmni, reg.omniOf(w1), "op = omni(wallet)");
        vm.assertEq(e.actorOmni, op, "actor = op");
        vm.assertEq(e.k11RpIdHash, RP_ID_HASH, "rpIdHash");
        vm.assertEq(e.k11PubX, k1.x, "x");
        vm.assertEq(e.k11PubY, k1.y, "y");
        vm.assertEq(uint256(e.tier), 1, "tier");
        vm.assertEq(uint256(e.roles), 7, "roles");
        vm.assertEq(uint256(e.lastSignCount), 1, "sign count stored");
        vm.assertTrue(e.registeredAt != 0 && !e.revoked, "active");
        vm.assertEq(reg.operatorMasterWallet(op), w1, "master wallet");
        vm.assertEq(uint256(reg.recoveryThreshold(op)), 1, "threshold");
        vm.assertEq(reg.operatorNonce(op), 1, "nonce consumed");
        vm.assertEq(reg.actorOperator(op), op, "actorOperator");
        vm.assertTrue(reg.isMasterWallet(op, w1), "isMasterWallet");
        vm.assertEq(reg.activeRecoveryMasterCount(op), 1, "recovery count");
        vm.assertEq(reg.deviceWallet(d1), w1, "deviceWallet");
    }

    function test_getDevice_is_11_words() public view {
        (bool ok, bytes memory ret) = address(reg).staticcall(abi.encodeWithSelector(reg.getDevice.selector, d1));
        vm.assertTrue(ok, "call");
        vm.assertEq(ret.length, 11 * 32, "11 ABI words");
    }

    function test_first_master_twice_rejected() public {
        bytes32 ch = reg.firstMasterChallenge(w1, bytes32(uint256(1)), RP_ID_HASH, k1.x, k1.y, 7);
        K11Assertion memory a = assertWith(k1, 0, ch);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.DeviceAlreadyRegistered.selector, d1));
        reg.registerFirstMasterDevice(bytes32(uint256(1)), RP_ID_HASH, k1.x, k1.y, 7, a);
    }

    function test_first_master_without_recovery_role_rejected() public {
        SoftKey storage k = k2;
        bytes32 ch = reg.firstMasterChallenge(w2, 0, RP_ID_HASH, k.x, k.y, 5);
        K11Assertion memory a = assertWith(k, 0, ch);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InvalidRoles.selector, uint8(5)));
        reg.registerFirstMasterDevice(0, RP_ID_HASH, k.x, k.y, 5, a);
    }

    function test_first_master_signed_params_differ_rejected() public {
        // signed for roles 7, submitted with roles 3: the challenge differs
        bytes32 ch = reg.firstMasterChallenge(w2, 0, RP_ID_HASH, k2.x, k2.y, 7);
        K11Assertion memory a = assertWith(k2, 0, ch);
        vm.prank(w2);
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        reg.registerFirstMasterDevice(0, RP_ID_HASH, k2.x, k2.y, 3, a);
    }

    function test_first_master_other_sender_rejected() public {
        // assertion made for wallet w2, submitted by w3 (front-running): challenge binds the wallet
        bytes32 ch = reg.firstMasterChallenge(w2, 0, RP_ID_HASH, k2.x, k2.y, 7);
        K11Assertion memory a = assertWith(k2, 0, ch);
        vm.prank(w3);
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        reg.registerFirstMasterDevice(0, RP_ID_HASH, k2.x, k2.y, 7, a);
    }

    function test_first_master_wrong_key_rejected() public {
        bytes32 ch = reg.firstMasterChallenge(w2, 0, RP_ID_HASH, k2.x, k2.y, 7);
        Tweak memory t = defaults();
        t.signWith = other.pk;
        K11Assertion memory a = assertWith(k2, 0, ch, t);
        vm.prank(w2);
        vm.expectRevert(K11Verifier.InvalidSignature.selector);
        reg.registerFirstMasterDevice(0, RP_ID_HASH, k2.x, k2.y, 7, a);
    }

    function test_first_master_missing_uv_rejected() public {
        bytes32 ch = reg.firstMasterChallenge(w2, 0, RP_ID_HASH, k2.x, k2.y, 7);
        Tweak memory t = defaults();
        t.flags = 0x01;
        K11Assertion memory a = assertWith(k2, 0, ch, t);
        vm.prank(w2);
        vm.expectRevert(K11Verifier.UserVerificationMissing.selector);
        reg.registerFirstMasterDevice(0, RP_ID_HASH, k2.x, k2.y, 7, a);
    }

    // ------------------------------------------------------------ additional masters

    function test_add_master_and_replay_rejected() public {
        bytes32 ch = reg.additionalMasterChallenge(op, w2, bytes32(uint256(2)), RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        K11Assertion memory ap = assertWith(k1, d1, ch);
        vm.prank(w2);
        bytes32 d2 = reg.registerAdditionalMasterDevice(op, bytes32(uint256(2)), RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
        vm.assertEq(reg.getDevice(d2).actorOmni, reg.omniOf(w2), "actor of new master");
        vm.assertEq(reg.activeRecoveryMasterCount(op), 2, "two recovery masters");
        vm.assertEq(reg.operatorNonce(op), 2, "nonce bumped");
        vm.assertTrue(reg.isMasterWallet(op, w2), "w2 master");

        // Exact replay of the same transaction: the passkey counters have moved on.
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.DeviceAlreadyRegistered.selector, d2));
        reg.registerAdditionalMasterDevice(op, bytes32(uint256(2)), RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));

        // Fresh assertions (new counters) over a challenge built with the consumed nonce 1.
        bytes32 stale = keccak256(
            abi.encode(
                reg.OP_REGISTER_2ND_MASTER(), block.chainid, address(reg), uint256(1), op, w3, bytes32(0), RP_ID_HASH, k3.x, k3.y, uint8(3)
            )
        );
        vm.assertTrue(stale != reg.additionalMasterChallenge(op, w3, 0, RP_ID_HASH, k3.x, k3.y, 3), "nonce in challenge");
        K11Assertion memory self3 = assertWith(k3, 0, stale);
        K11Assertion memory ap3 = assertWith(k1, d1, stale);
        vm.prank(w3);
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k3.x, k3.y, 3, self3, one(ap3));
    }

    function test_add_master_stale_sign_count_rejected() public {
        bytes32 ch = reg.additionalMasterChallenge(op, w2, 0, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        Tweak memory t = defaults();
        t.keepCounter = true; // k1 reuses counter 1, already recorded at bootstrap
        K11Assertion memory ap = assertWith(k1, d1, ch, t);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(K11Verifier.StaleSignCount.selector, uint32(1), uint32(1)));
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    function test_add_master_wrong_rp_id_rejected() public {
        bytes32 ch = reg.additionalMasterChallenge(op, w2, 0, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        Tweak memory t = defaults();
        t.rpIdHash = keccak256("phish.example");
        K11Assertion memory ap = assertWith(k1, d1, ch, t);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(K11Verifier.RpIdHashMismatch.selector, t.rpIdHash, RP_ID_HASH));
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    function test_add_master_missing_up_rejected() public {
        bytes32 ch = reg.additionalMasterChallenge(op, w2, 0, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        Tweak memory t = defaults();
        t.flags = 0x04;
        K11Assertion memory ap = assertWith(k1, d1, ch, t);
        vm.prank(w2);
        vm.expectRevert(K11Verifier.UserPresenceMissing.selector);
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    function test_add_master_create_type_rejected() public {
        bytes32 ch = reg.additionalMasterChallenge(op, w2, 0, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        Tweak memory t = defaults();
        t.typ = "webauthn.create";
        K11Assertion memory ap = assertWith(k1, d1, ch, t);
        vm.prank(w2);
        vm.expectRevert(K11Verifier.WrongClientDataType.selector);
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    function test_add_master_approval_by_unregistered_passkey_rejected() public {
        bytes32 ch = reg.additionalMasterChallenge(op, w2, 0, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        // names d1 but is signed by another key
        Tweak memory t = defaults();
        t.signWith = other.pk;
        K11Assertion memory ap = assertWith(k1, d1, ch, t);
        vm.prank(w2);
        vm.expectRevert(K11Verifier.InvalidSignature.selector);
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    function test_add_master_no_approval_rejected() public {
        bytes32 ch = reg.additionalMasterChallenge(op, w2, 0, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InsufficientQuorum.selector, 0, 1));
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k2.x, k2.y, 3, self, new K11Assertion[](0));
    }

    function test_add_master_approver_without_recovery_role_rejected() public {
        bytes32 d2 = addMaster(op, w2, k2, 1, k1, d1); // CAP_MINT only
        bytes32 ch = reg.additionalMasterChallenge(op, w3, 0, RP_ID_HASH, k3.x, k3.y, 3);
        K11Assertion memory self = assertWith(k3, 0, ch);
        K11Assertion memory ap = assertWith(k2, d2, ch);
        vm.prank(w3);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.K11RoleMissing.selector, uint8(2)));
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k3.x, k3.y, 3, self, one(ap));
    }

    function test_add_master_approver_of_other_operator_rejected() public {
        (bytes32 op2, bytes32 dOther) = bootstrap(w3, k3, 7);
        vm.assertTrue(op2 != op, "distinct operators");
        bytes32 ch = reg.additionalMasterChallenge(op, w2, 0, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        K11Assertion memory ap = assertWith(k3, dOther, ch);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InvalidAttestingDevice.selector, dOther));
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    function test_add_master_bad_self_attestation_rejected() public {
        bytes32 ch = reg.additionalMasterChallenge(op, w2, 0, RP_ID_HASH, k2.x, k2.y, 3);
        Tweak memory t = defaults();
        t.signWith = other.pk;
        K11Assertion memory self = assertWith(k2, 0, ch, t);
        K11Assertion memory ap = assertWith(k1, d1, ch);
        vm.prank(w2);
        vm.expectRevert(K11Verifier.InvalidSignature.selector);
        reg.registerAdditionalMasterDevice(op, 0, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    // ------------------------------------------------------------ threshold and revocation

    function _threeMasters() internal returns (bytes32 d2, bytes32 d3) {
        d2 = addMaster(op, w2, k2, 3, k1, d1);
        d3 = addMaster(op, w3, k3, 3, k1, d1);
    }

    function _setThreshold(uint8 t) internal {
        bytes32 ch = reg.setThresholdChallenge(op, t);
        K11Assertion[] memory q = one(assertWith(k1, d1, ch)); // before prank: it makes calls
        vm.prank(w1);
        reg.setRecoveryThreshold(op, t, q);
    }

    function test_set_threshold_and_quorum_enforced() public {
        (bytes32 d2, bytes32 d3) = _threeMasters();
        _setThreshold(2);
        vm.assertEq(uint256(reg.recoveryThreshold(op)), 2, "threshold 2");

        // quorum below threshold: one approval for a revoke
        bytes32 ch = reg.revokeMasterChallenge(op, d3);
        K11Assertion memory a1 = assertWith(k1, d1, ch);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InsufficientQuorum.selector, 1, 2));
        reg.revokeMasterDevice(d3, one(a1));

        // duplicate attestor does not count twice
        K11Assertion memory a1b = assertWith(k1, d1, ch);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.DuplicateAttestor.selector, d1));
        reg.revokeMasterDevice(d3, two(a1, a1b));

        // one bad assertion in the quorum reverts the whole call
        Tweak memory t = defaults();
        t.signWith = other.pk;
        K11Assertion memory bad = assertWith(k2, d2, ch, t);
        vm.prank(w1);
        vm.expectRevert(K11Verifier.InvalidSignature.selector);
        reg.revokeMasterDevice(d3, two(a1b, bad));

        // a proper 2-of-3 revokes d3
        K11Assertion[] memory q = two(a1b, assertWith(k2, d2, ch));
        vm.prank(w1);
        reg.revokeMasterDevice(d3, q);
        vm.assertTrue(reg.getDevice(d3).revoked, "d3 revoked");
        vm.assertFalse(reg.isMasterWallet(op, w3), "w3 no longer master");
        vm.assertEq(reg.activeRecoveryMasterCount(op), 2, "two left");
        vm.assertEq(reg.actorOperator(reg.omniOf(w3)), op, "actorOperator kept after revocation");
    }

    function _twoOfThreeThenRevokeD3() internal returns (bytes32 d2, bytes32 d3) {
        (d2, d3) = _threeMasters();
        _setThreshold(2);
        bytes32 ch = reg.revokeMasterChallenge(op, d3);
        K11Assertion memory a1 = assertWith(k1, d1, ch);
        K11Assertion memory a2 = assertWith(k2, d2, ch);
        vm.prank(w1);
        reg.revokeMasterDevice(d3, two(a1, a2));
    }

    function test_revoke_that_would_strand_rejected() public {
        (bytes32 d2,) = _twoOfThreeThenRevokeD3();
        // 2 recovery masters, threshold 2: revoking another would leave 1 < 2
        bytes32 ch = reg.revokeMasterChallenge(op, d2);
        K11Assertion memory x1 = assertWith(k1, d1, ch);
        K11Assertion memory x2 = assertWith(k2, d2, ch);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.WouldStrandOperator.selector, 1, uint8(2)));
        reg.revokeMasterDevice(d2, two(x1, x2));
    }

    function test_revoked_master_cannot_attest() public {
        (, bytes32 d3) = _twoOfThreeThenRevokeD3();
        bytes32 ch = reg.setThresholdChallenge(op, 1);
        K11Assertion memory x1 = assertWith(k1, d1, ch);
        K11Assertion memory x3 = assertWith(k3, d3, ch);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InvalidAttestingDevice.selector, d3));
        reg.setRecoveryThreshold(op, 1, two(x1, x3));
    }

    function test_revoked_master_wallet_loses_authority() public {
        _twoOfThreeThenRevokeD3();
        bytes memory sig = consentSig(AGENT_PK, op);
        vm.prank(w3);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.NotAuthorized.selector, w3));
        reg.registerAgentDevice(op, vm.addr(AGENT_PK), sig);
    }

    function test_threshold_above_active_recovery_rejected() public {
        bytes32 ch = reg.setThresholdChallenge(op, 2);
        K11Assertion memory a = assertWith(k1, d1, ch);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InvalidRecoveryThreshold.selector, uint8(2), 1));
        reg.setRecoveryThreshold(op, 2, one(a));
    }

    function test_threshold_zero_rejected() public {
        bytes32 ch = reg.setThresholdChallenge(op, 0);
        K11Assertion memory a = assertWith(k1, d1, ch);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InvalidRecoveryThreshold.selector, uint8(0), 1));
        reg.setRecoveryThreshold(op, 0, one(a));
    }

    function test_threshold_replayed_nonce_rejected() public {
        addMaster(op, w2, k2, 3, k1, d1);
        bytes32 ch = reg.setThresholdChallenge(op, 2);
        K11Assertion memory a = assertWith(k1, d1, ch);
        vm.prank(w1);
        reg.setRecoveryThreshold(op, 2, one(a));
        // same assertion again (nonce moved on; also the quorum is now 2)
        K11Assertion memory b = assertWith(k2, reg.deviceKeyHashOf(w2), ch);
        vm.prank(w1);
        vm.expectRevert(K11Verifier.ChallengeMismatch.selector);
        reg.setRecoveryThreshold(op, 2, two(b, a));
    }

    function test_threshold_by_non_master_rejected() public {
        bytes32 ch = reg.setThresholdChallenge(op, 1);
        K11Assertion memory a = assertWith(k1, d1, ch);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.NotAuthorized.selector, w2));
        reg.setRecoveryThreshold(op, 1, one(a));
    }

    function test_revoke_only_master_strands_rejected() public {
        bytes32 ch = reg.revokeMasterChallenge(op, d1);
        K11Assertion memory a = assertWith(k1, d1, ch);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.WouldStrandOperator.selector, 0, uint8(1)));
        reg.revokeMasterDevice(d1, one(a));
    }

    function test_revoke_non_recovery_master_keeps_count() public {
        bytes32 d2 = addMaster(op, w2, k2, 1, k1, d1); // no RECOVERY
        bytes32 ch = reg.revokeMasterChallenge(op, d2);
        K11Assertion[] memory q = one(assertWith(k1, d1, ch));
        vm.prank(w1);
        reg.revokeMasterDevice(d2, q);
        vm.assertTrue(reg.getDevice(d2).revoked, "revoked");
        vm.assertEq(reg.activeRecoveryMasterCount(op), 1, "count unchanged");
        vm.assertEq(reg.operatorNonce(op), 3, "nonce");
    }

    function test_revoke_master_twice_rejected() public {
        bytes32 d2 = addMaster(op, w2, k2, 1, k1, d1);
        bytes32 ch = reg.revokeMasterChallenge(op, d2);
        K11Assertion[] memory q = one(assertWith(k1, d1, ch));
        vm.prank(w1);
        reg.revokeMasterDevice(d2, q);
        q = one(assertWith(k1, d1, ch));
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.DeviceAlreadyRevoked.selector, d2));
        reg.revokeMasterDevice(d2, q);
    }

    // ------------------------------------------------------------ one passkey, one master (issue 16, 5)

    function test_add_master_with_held_public_key_rejected() public {
        bytes32 cred = keccak256("a new credential id");
        bytes32 ch = reg.additionalMasterChallenge(op, w2, cred, RP_ID_HASH, k1.x, k1.y, 3);
        K11Assertion memory self = assertWith(k1, 0, ch); // the same passkey as master d1
        K11Assertion memory ap = assertWith(k1, d1, ch);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.PasskeyAlreadyRegistered.selector, d1));
        reg.registerAdditionalMasterDevice(op, cred, RP_ID_HASH, k1.x, k1.y, 3, self, one(ap));
        vm.assertFalse(reg.isMasterWallet(op, w2), "w2 not registered");
        vm.assertEq(reg.activeRecoveryMasterCount(op), 1, "still one recovery master");
    }

    function test_add_master_with_held_credential_id_rejected() public {
        bytes32 cred = bytes32(uint256(1)); // d1's credential id (bootstrap), another key
        bytes32 ch = reg.additionalMasterChallenge(op, w2, cred, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        K11Assertion memory ap = assertWith(k1, d1, ch);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.PasskeyAlreadyRegistered.selector, d1));
        reg.registerAdditionalMasterDevice(op, cred, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    function test_held_passkey_refused_for_third_master_too() public {
        bytes32 d2 = addMaster(op, w2, k2, 3, k1, d1);
        bytes32 cred = keccak256("third");
        bytes32 ch = reg.additionalMasterChallenge(op, w3, cred, RP_ID_HASH, k2.x, k2.y, 3);
        K11Assertion memory self = assertWith(k2, 0, ch);
        K11Assertion memory ap = assertWith(k1, d1, ch);
        vm.prank(w3);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.PasskeyAlreadyRegistered.selector, d2));
        reg.registerAdditionalMasterDevice(op, cred, RP_ID_HASH, k2.x, k2.y, 3, self, one(ap));
    }

    /// Only an *active* master of the *same* operator blocks a passkey: after d1 is revoked its
    /// passkey may join again, and another operator may use a passkey held here.
    function test_passkey_free_after_revocation_and_in_other_operator() public {
        bytes32 d2 = addMaster(op, w2, k2, 3, k1, d1);
        bytes32 ch = reg.revokeMasterChallenge(op, d1);
        K11Assertion[] memory q = one(assertWith(k2, d2, ch));
        vm.prank(w2);
        reg.revokeMasterDevice(d1, q);
        bytes32 d3 = addMaster(op, w3, k1, 3, k2, d2);
        vm.assertTrue(reg.isActive(d3), "k1 back on a new device");

        address w4 = address(0x1004);
        (bytes32 op2, bytes32 e1) = bootstrap(w4, k3, ROLES_FIRST);
        bytes32 e2 = addMaster(op2, address(0x1005), k2, 3, k3, e1); // k2 is held in op, not in op2
        vm.assertTrue(reg.isActive(e2), "same passkey in another operator");
    }

    /// Approvals are counted by passkey. A registry holding two masters with one public key
    /// (state from before the check; made here with vm.store) cannot pass a 2-of-N with one touch.
    function test_quorum_counts_one_passkey_once() public {
        (bytes32 d2, bytes32 d3) = _threeMasters();
        _setThreshold(2);
        bytes32 base = keccak256(abi.encode(d2, uint256(1))); // devices[d2] (mapping at slot 1)
        vm.assertEq(uint256(vm.load(address(reg), bytes32(uint256(base) + 4))), k2.x, "layout: k11PubX");
        vm.assertEq(uint256(vm.load(address(reg), bytes32(uint256(base) + 5))), k2.y, "layout: k11PubY");
        vm.store(address(reg), bytes32(uint256(base) + 4), bytes32(k1.x));
        vm.store(address(reg), bytes32(uint256(base) + 5), bytes32(k1.y));
        vm.assertEq(reg.getDevice(d2).k11PubX, k1.x, "d2 now holds k1's key");

        bytes32 ch = reg.revokeMasterChallenge(op, d3);
        K11Assertion memory a1 = assertWith(k1, d1, ch);
        K11Assertion memory a2 = assertWith(k1, d2, ch); // one passkey, two devices
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InsufficientQuorum.selector, 1, 2));
        reg.revokeMasterDevice(d3, two(a1, a2));

        // with a second passkey it passes; the doubled one still counts once
        K11Assertion[] memory q = new K11Assertion[](3);
        q[0] = a1;
        q[1] = a2;
        q[2] = assertWith(k3, d3, ch);
        vm.prank(w1);
        reg.revokeMasterDevice(d3, q);
        vm.assertTrue(reg.getDevice(d3).revoked, "d3 revoked by 2 distinct passkeys");
    }

    /// The normal 2-of-2: two masters, threshold 2, a third joins with both approvals (one is
    /// not enough), then the lost first device is revoked by the other two.
    function test_two_of_two_recovery() public {
        bytes32 d2 = addMaster(op, w2, k2, 3, k1, d1);
        _setThreshold(2);
        bytes32 cred = credIdOf(k3);
        bytes32 ch = reg.additionalMasterChallenge(op, w3, cred, RP_ID_HASH, k3.x, k3.y, 3);
        K11Assertion memory self = assertWith(k3, 0, ch);
        K11Assertion memory a1 = assertWith(k1, d1, ch);
        vm.prank(w3);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.InsufficientQuorum.selector, 1, 2));
        reg.registerAdditionalMasterDevice(op, cred, RP_ID_HASH, k3.x, k3.y, 3, self, one(a1));
        K11Assertion[] memory q = two(a1, assertWith(k2, d2, ch));
        vm.prank(w3);
        bytes32 d3 = reg.registerAdditionalMasterDevice(op, cred, RP_ID_HASH, k3.x, k3.y, 3, self, q);
        vm.assertEq(reg.activeRecoveryMasterCount(op), 3, "three recovery masters");

        ch = reg.revokeMasterChallenge(op, d1);
        q = two(assertWith(k2, d2, ch), assertWith(k3, d3, ch));
        vm.prank(w2);
        reg.revokeMasterDevice(d1, q);
        vm.assertTrue(reg.getDevice(d1).revoked, "d1 revoked");
        vm.assertEq(reg.activeRecoveryMasterCount(op), 2, "two left");
        vm.assertFalse(reg.isMasterWallet(op, w1), "w1 no longer master");
    }

    /// Gas of a first and of an additional master registration (printed; bounded loosely).
    function test_gas_register_masters() public {
        address w = address(0x1010);
        bytes32 ch = reg.firstMasterChallenge(w, credIdOf(k2), RP_ID_HASH, k2.x, k2.y, 7);
        K11Assertion memory a = assertWith(k2, 0, ch);
        vm.prank(w);
        uint256 g = gasleft();
        bytes32 e1 = reg.registerFirstMasterDevice(credIdOf(k2), RP_ID_HASH, k2.x, k2.y, 7, a);
        g -= gasleft();
        emit log_named_uint("gas per registerFirstMasterDevice", g);
        bytes32 op2 = reg.omniOf(w);
        address w2b = address(0x1011);
        bytes32 cred = credIdOf(k3);
        ch = reg.additionalMasterChallenge(op2, w2b, cred, RP_ID_HASH, k3.x, k3.y, 3);
        K11Assertion memory self = assertWith(k3, 0, ch);
        K11Assertion[] memory q = one(assertWith(k2, e1, ch));
        vm.prank(w2b);
        g = gasleft();
        reg.registerAdditionalMasterDevice(op2, cred, RP_ID_HASH, k3.x, k3.y, 3, self, q);
        g -= gasleft();
        emit log_named_uint("gas per registerAdditionalMasterDevice (1 approval)", g);
        vm.assertLt(g, 900_000, "additional master above 900k gas");
    }

    // ------------------------------------------------------------ agents

    function test_agent_register_revoke_and_binding_kept() public {
        bytes32 da = addAgent(op, w1, AGENT_PK);
        address agent = vm.addr(AGENT_PK);
        DeviceEntry memory e = reg.getDevice(da);
        vm.assertEq(da, keccak256(abi.encodePacked(agent)), "agent dkh");
        vm.assertEq(e.actorOmni, reg.omniOf(agent), "agent actor = omni(agent wallet)");
        vm.assertEq(e.operatorOmni, op, "operator");
        vm.assertEq(uint256(e.tier), 2, "tier agent");
        vm.assertEq(uint256(e.roles), 1, "CAP_MINT");
        vm.assertEq(e.k11PubX, 0, "no passkey");
        vm.assertTrue(reg.isActive(da), "active");
        vm.assertFalse(reg.isMasterWallet(op, agent), "agent is not a master");

        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.NotAuthorized.selector, w2));
        reg.revokeAgentDevice(da);

        vm.prank(w1);
        reg.revokeAgentDevice(da);
        vm.assertFalse(reg.isActive(da), "revoked");
        vm.assertEq(reg.actorOperator(e.actorOmni), op, "actorOperator kept (D17)");

        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.DeviceAlreadyRevoked.selector, da));
        reg.revokeAgentDevice(da);

        // a revoked agent's wallet cannot come back as anything (no re-binding to another operator)
        K11Assertion memory a = assertWith(k2, 0, bytes32(0));
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.DeviceAlreadyRegistered.selector, da));
        reg.registerFirstMasterDevice(0, RP_ID_HASH, k2.x, k2.y, 7, a);
    }

    function test_agent_by_non_master_rejected() public {
        bytes memory sig = consentSig(AGENT_PK, op);
        vm.prank(w2);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.NotAuthorized.selector, w2));
        reg.registerAgentDevice(op, vm.addr(AGENT_PK), sig);
    }

    function test_agent_without_its_consent_rejected() public {
        bytes memory sig = consentSig(0xBAD, op); // signed by some other wallet
        vm.prank(w1);
        vm.expectRevert(SidecarRegistry.InvalidAgentSignature.selector);
        reg.registerAgentDevice(op, vm.addr(AGENT_PK), sig);
    }

    function test_agent_consent_for_other_operator_rejected() public {
        bytes memory sig = consentSig(AGENT_PK, keccak256("another operator"));
        vm.prank(w1);
        vm.expectRevert(SidecarRegistry.InvalidAgentSignature.selector);
        reg.registerAgentDevice(op, vm.addr(AGENT_PK), sig);
    }

    function test_revoke_agent_on_master_rejected() public {
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.NotAgentDevice.selector, d1));
        reg.revokeAgentDevice(d1);
    }

    function test_revoke_master_on_agent_rejected() public {
        bytes32 da = addAgent(op, w1, AGENT_PK);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.NotMasterDevice.selector, da));
        reg.revokeMasterDevice(da, new K11Assertion[](0));
    }

    // ------------------------------------------------------------ scope binding

    function test_consume_master_assertion_only_scope_contract() public {
        K11Assertion memory a = assertWith(k1, d1, bytes32(uint256(7)));
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.NotAuthorized.selector, address(this)));
        reg.consumeMasterAssertion(op, bytes32(uint256(7)), 4, a);
    }

    function test_bind_scope_contract_once_and_only_deployer() public {
        vm.expectRevert(SidecarRegistry.ScopeContractAlreadyBound.selector);
        reg.bindScopeContract(address(0xdead));
        SidecarRegistry r2 = new SidecarRegistry(k11);
        vm.prank(w1);
        vm.expectRevert(abi.encodeWithSelector(SidecarRegistry.NotAuthorized.selector, w1));
        r2.bindScopeContract(address(0xdead));
    }
}
