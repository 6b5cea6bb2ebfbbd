// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {Vm} from "../test/utils/TestBase.sol";
import {P256Verifier} from "../src/P256Verifier.sol";
import {K11Verifier} from "../src/K11Verifier.sol";
import {SidecarRegistry} from "../src/SidecarRegistry.sol";
import {AgentKeysScope} from "../src/AgentKeysScope.sol";
import {K3EpochCounter} from "../src/K3EpochCounter.sol";
import {CredentialAudit} from "../src/CredentialAudit.sol";

/// Deploys the whole set in dependency order (contracts.md deploy order) and binds the scope
/// contract into the registry. Env:
///   DEPLOYER_PRIVATE_KEY   signer (default: anvil's first dev account)
///   K3_GOVERNANCE          K3EpochCounter governance (default: the deployer)
///   AGENTKEYS_DEPLOY_ADDRESSES  where to write {"chainId", "deployer", "<Contract>": address…}
///                               (default: contracts/cache/deploy/addresses.json)
/// contracts/deploy.sh wraps this and adds the ABIs.
contract Deploy {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant ANVIL_KEY0 = 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80;

    function run() external {
        uint256 pk = vm.envOr("DEPLOYER_PRIVATE_KEY", ANVIL_KEY0);
        address deployer = vm.addr(pk);
        address gov = vm.envOr("K3_GOVERNANCE", deployer);
        string memory out = vm.envOr(
            "AGENTKEYS_DEPLOY_ADDRESSES", string.concat(vm.projectRoot(), "/cache/deploy/addresses.json")
        );

        vm.startBroadcast(pk);
        P256Verifier p256 = new P256Verifier();
        K11Verifier k11 = new K11Verifier(p256);
        SidecarRegistry registry = new SidecarRegistry(k11);
        AgentKeysScope scope = new AgentKeysScope(registry);
        registry.bindScopeContract(address(scope));
        K3EpochCounter epochs = new K3EpochCounter(gov);
        CredentialAudit audit = new CredentialAudit(registry);
        vm.stopBroadcast();

        string memory o = "deploy";
        vm.serializeUint(o, "chainId", block.chainid);
        vm.serializeAddress(o, "deployer", deployer);
        vm.serializeAddress(o, "K3Governance", gov);
        vm.serializeAddress(o, "P256Verifier", address(p256));
        vm.serializeAddress(o, "K11Verifier", address(k11));
        vm.serializeAddress(o, "SidecarRegistry", address(registry));
        vm.serializeAddress(o, "AgentKeysScope", address(scope));
        vm.serializeAddress(o, "K3EpochCounter", address(epochs));
        string memory json = vm.serializeAddress(o, "CredentialAudit", address(audit));
        vm.writeJson(json, out);
    }
}
