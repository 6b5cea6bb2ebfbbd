#!/usr/bin/env bash
# contracts/deploy.sh — deploy every contract to a running chain and write addresses + ABIs.
# Usage: contracts/deploy.sh [rpc-url] [out.json]
#   rpc-url   default $AGENTKEYS_RPC_URL or http://127.0.0.1:8545
#   out.json  default $AGENTKEYS_CONTRACTS_JSON or <repo>/build/local/contracts.json
# Env: DEPLOYER_PRIVATE_KEY (default anvil's first dev key), K3_GOVERNANCE (default deployer).
# Output shape (README.md "Deployment file"):
#   {"chainId":31337,"rpcUrl":"…","deployer":"0x…","k3Governance":"0x…",
#    "addresses":{"SidecarRegistry":"0x…",…},
#    "contracts":{"SidecarRegistry":{"address":"0x…","abi":[…]},…}}
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
rpc=${1:-${AGENTKEYS_RPC_URL:-http://127.0.0.1:8545}}
out=${2:-${AGENTKEYS_CONTRACTS_JSON:-$repo_root/build/local/contracts.json}}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
cd "$contracts_dir"
start=$(date +%s.%N)

# The artifacts come from the build (`make`: contracts/out, without the tests); forge's cache
# makes this a no-op then. On a fresh clone without them it compiles here, and says so: the
# compiler's output goes to this script's output (scripts/stack-up keeps it in logs/deploy.log
# and prints it on failure), never to /dev/null.
phase() { printf 'deploy: %6.1f s %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$*"; }
if [ -e "$contracts_dir/out/.built" ]; then phase "reusing compiled artifacts (contracts/out)"
else phase "no artifacts from make: compiling now (slow with solcjs)"; fi
"$FORGE" build --root "$contracts_dir" --skip test
phase "artifacts ready"
mkdir -p cache/deploy
addresses="$contracts_dir/cache/deploy/addresses.$$.json"
trap 'rm -f "$addresses"' EXIT
AGENTKEYS_DEPLOY_ADDRESSES="$addresses" \
  "$FORGE" script --root "$contracts_dir" script/Deploy.s.sol:Deploy \
  --rpc-url "$rpc" --broadcast --non-interactive >"$contracts_dir/cache/deploy/forge-script.log" 2>&1 || {
    cat "$contracts_dir/cache/deploy/forge-script.log" >&2
    echo "deploy: forge script failed" >&2
    exit 1
  }
phase "contracts deployed"

mkdir -p "$(dirname "$out")"
node - "$addresses" "$contracts_dir/out" "$out" "$rpc" <<'JS'
const fs = require('fs');
const [addrFile, outDir, outFile, rpcUrl] = process.argv.slice(2);
const a = JSON.parse(fs.readFileSync(addrFile, 'utf8'));
const names = ['P256Verifier', 'K11Verifier', 'SidecarRegistry', 'AgentKeysScope', 'K3EpochCounter', 'CredentialAudit'];
const doc = { chainId: Number(a.chainId), rpcUrl, deployer: a.deployer, k3Governance: a.K3Governance, addresses: {}, contracts: {} };
for (const n of names) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(a[n] || '')) throw new Error(`no address for ${n}`);
  const art = JSON.parse(fs.readFileSync(`${outDir}/${n}.sol/${n}.json`, 'utf8'));
  doc.addresses[n] = a[n];
  doc.contracts[n] = { address: a[n], abi: art.abi };
}
const tmp = `${outFile}.tmp.${process.pid}`;
fs.writeFileSync(tmp, JSON.stringify(doc, null, 1) + '\n');
fs.renameSync(tmp, outFile);
JS

# Every address must hold code.
for name in SidecarRegistry AgentKeysScope K3EpochCounter CredentialAudit K11Verifier P256Verifier; do
  addr=$(node -e 'const d=require(process.argv[1]);process.stdout.write(d.addresses[process.argv[2]])' "$out" "$name")
  code=$("$CAST" code --rpc-url "$rpc" "$addr")
  if [ "${#code}" -le 2 ]; then echo "deploy: no code at $name $addr" >&2; exit 1; fi
done
end=$(date +%s.%N)
printf 'deploy: wrote %s (%.1f s)\n' "$out" "$(echo "$end - $start" | bc)"
