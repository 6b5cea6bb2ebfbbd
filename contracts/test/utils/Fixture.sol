// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {TestBase} from "./TestBase.sol";
import {P256Verifier} from "../../src/P256Verifier.sol";
import {K11Verifier} from "../../src/K11Verifier.sol";
import {SidecarRegistry, K11Assertion, DeviceEntry} from "../../src/SidecarRegistry.sol";
import {AgentKeysScope} from "../../src/AgentKeysScope.sol";
import {K3EpochCounter} from "../../src/K3EpochCounter.sol";
import {CredentialAudit} from "../../src/CredentialAudit.sol";

/// @dev A software passkey for tests: P-256 key via Foundry's signP256 (independent of our
///      verifier), WebAuthn authenticatorData / clientDataJSON built here byte by byte.
struct SoftKey {
    uint256 pk;
    uint256 x;
    uint256 y;
    bytes32 rpIdHash;
    uint32 counter;
}

/// @dev How to deviate from a good assertion (negative tests).
struct Tweak {
    uint8 flags; // default 0x05 (UP|UV)
    string typ; // default "webauthn.get"
    bytes32 rpIdHash; // 0 = the key's
    bool keepCounter; // reuse the current counter instead of incrementing
    uint256 signWith; // 0 = the key's own private key
}

abstract contract Fixture is TestBase {
    P256Verifier internal p256;
    K11Verifier internal k11;
    SidecarRegistry internal reg;
    AgentKeysScope internal scope;
    K3EpochCounter internal epochs;
    CredentialAudit internal audit;

    /// sha256("agentkeys.local") as a literal: a sha256(...) constant is evaluated at each use through
    /// the precompile, which would be the "next call" that vm.expectRevert looks at.
    bytes32 internal constant RP_ID_HASH = 0x86d9ac120899fb6708b4e8134e19a22c0ae90c303ca3811fa132b733e2ab3cd1;
    uint8 internal constant ROLES_FIRST = 7; // CAP_MINT | RECOVERY | SCOPE_MGMT
    uint256 internal constant P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;

    function deployAll() internal {
        p256 = new P256Verifier();
        k11 = new K11Verifier(p256);
        reg = new SidecarRegistry(k11);
        scope = new AgentKeysScope(reg);
        reg.bindScopeContract(address(scope));
        epochs = new K3EpochCounter(address(this));
        audit = new CredentialAudit(reg);
    }

    function newKey(uint256 pk) internal pure returns (SoftKey memory k) {
        k.pk = pk;
        (k.x, k.y) = vm.publicKeyP256(pk);
        k.rpIdHash = RP_ID_HASH;
    }

    function defaults() internal pure returns (Tweak memory t) {
        t.flags = 0x05;
        t.typ = "webauthn.get";
    }

    // ---------------------------------------------------------------- WebAuthn building

    /// Independent base64url (RFC 4648 §5, no padding) over 3-byte groups.
    function b64url(bytes memory data) internal pure returns (bytes memory out) {
        bytes memory A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        uint256 full = data.length / 3;
        uint256 rem = data.length % 3;
        out = new bytes(full * 4 + (rem == 0 ? 0 : rem + 1));
        uint256 o;
        for (uint256 i = 0; i < full * 3; i += 3) {
            uint256 n = (uint256(uint8(data[i])) << 16) | (uint256(uint8(data[i + 1])) << 8) | uint8(data[i + 2]);
            out[o++] = A[(n >> 18) & 63];
            out[o++] = A[(n >> 12) & 63];
            out[o++] = A[(n >> 6) & 63];
            out[o++] = A[n & 63];
        }
        if (rem == 1) {
            uint256 n = uint256(uint8(data[full * 3])) << 16;
            out[o++] = A[(n >> 18) & 63];
            out[o++] = A[(n >> 12) & 63];
        } else if (rem == 2) {
            uint256 n = (uint256(uint8(data[full * 3])) << 16) | (uint256(uint8(data[full * 3 + 1])) << 8);
            out[o++] = A[(n >> 18) & 63];
            out[o++] = A[(n >> 12) & 63];
            out[o++] = A[(n >> 6) & 63];
        }
    }

    function clientData(string memory typ, bytes32 challenge) internal pure returns (bytes memory) {
        return abi.encodePacked(
            '{"type":"',
            typ,
            '","challenge":"',
            b64url(abi.encodePacked(challenge)),
            '","origin":"https://agentkeys.local","crossOrigin":false}'
        );
    }

    function authData(bytes32 rpIdHash, uint8 flags, uint32 count) internal pure returns (bytes memory) {
        return abi.encodePacked(rpIdHash, flags, count);
    }

    function signWebauthn(uint256 pk, bytes memory ad, bytes memory cdj) internal pure returns (uint256 r, uint256 s) {
        bytes32 h = sha256(abi.encodePacked(ad, sha256(cdj)));
        (bytes32 rb, bytes32 sb) = vm.signP256(pk, h);
        return (uint256(rb), uint256(sb));
    }

    /// A good assertion by `k` (naming attestor `dkh`) over `challenge`; bumps the counter.
    function assertWith(SoftKey storage k, bytes32 dkh, bytes32 challenge) internal returns (K11Assertion memory) {
        return assertWith(k, dkh, challenge, defaults());
    }

    function assertWith(SoftKey storage k, bytes32 dkh, bytes32 challenge, Tweak memory t)
        internal
        returns (K11Assertion memory a)
    {
        if (!t.keepCounter) k.counter += 1;
        a.attestingDeviceKeyHash = dkh;
        a.authenticatorData = authData(t.rpIdHash == bytes32(0) ? k.rpIdHash : t.rpIdHash, t.flags, k.counter);
        a.clientDataJSON = clientData(t.typ, challenge);
        (a.r, a.s) = signWebauthn(t.signWith == 0 ? k.pk : t.signWith, a.authenticatorData, a.clientDataJSON);
    }

    function one(K11Assertion memory a) internal pure returns (K11Assertion[] memory list) {
        list = new K11Assertion[](1);
        list[0] = a;
    }

    function two(K11Assertion memory a, K11Assertion memory b) internal pure returns (K11Assertion[] memory list) {
        list = new K11Assertion[](2);
        list[0] = a;
        list[1] = b;
    }

    // ---------------------------------------------------------------- registry helpers

    function dkhOf(address w) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(w));
    }

    function bootstrap(address wallet, SoftKey storage k, uint8 roles) internal returns (bytes32 op, bytes32 dkh) {
        bytes32 ch = reg.firstMasterChallenge(wallet, bytes32(uint256(1)), k.rpIdHash, k.x, k.y, roles);
        K11Assertion memory a = assertWith(k, bytes32(0), ch);
        vm.prank(wallet);
        dkh = reg.registerFirstMasterDevice(bytes32(uint256(1)), k.rpIdHash, k.x, k.y, roles, a);
        op = reg.omniOf(wallet);
    }

    /// `wallet` joins `op` as a master with passkey `k`, approved by `approvers` (their keys/dkhs).
    function addMaster(
        bytes32 op,
        address wallet,
        SoftKey storage k,
        uint8 roles,
        SoftKey storage approverKey,
        bytes32 approverDkh
    ) internal returns (bytes32 dkh) {
        bytes32 cred = credIdOf(k); // one credential id per passkey (the registry refuses a held one)
        bytes32 ch = reg.additionalMasterChallenge(op, wallet, cred, k.rpIdHash, k.x, k.y, roles);
        K11Assertion memory self = assertWith(k, bytes32(0), ch);
        K11Assertion memory ap = assertWith(approverKey, approverDkh, ch);
        vm.prank(wallet);
        dkh = reg.registerAdditionalMasterDevice(op, cred, k.rpIdHash, k.x, k.y, roles, self, one(ap));
    }

    function credIdOf(SoftKey storage k) internal view returns (bytes32) {
        return keccak256(abi.encode("cred", k.x));
    }

    function consentSig(uint256 agentPk, bytes32 op) internal view returns (bytes memory) {
        address agent = vm.addr(agentPk);
        bytes32 m = reg.agentConsentMessage(op, agent);
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", m));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(agentPk, digest);
        return abi.encodePacked(r, s, v);
    }

    function addAgent(bytes32 op, address master, uint256 agentPk) internal returns (bytes32 dkh) {
        bytes memory sig = consentSig(agentPk, op);
        vm.prank(master);
        dkh = reg.registerAgentDevice(op, vm.addr(agentPk), sig);
    }
}
