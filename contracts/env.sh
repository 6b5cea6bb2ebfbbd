# contracts/env.sh — sourced by build.sh, test.sh, deploy.sh (not executable on its own).
# Finds the repository root from this file's location and puts the npm-installed Foundry
# binaries first on PATH; everything offline, independent of $HOME and of the caller's cwd.
contracts_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$contracts_dir/.." && pwd)
foundry_bin() { printf '%s/node_modules/@foundry-rs/%s-linux-amd64/bin/%s' "$repo_root" "$1" "$1"; }
FORGE=$(foundry_bin forge)
CAST=$(foundry_bin cast)
ANVIL=$(foundry_bin anvil)
for tool in "$FORGE" "$CAST" "$ANVIL" "$repo_root/node_modules/solc/solc.js"; do
  if [ ! -e "$tool" ]; then
    echo "contracts: missing $tool — run scripts/bootstrap first" >&2
    exit 2
  fi
done
export FOUNDRY_OFFLINE=true
export FOUNDRY_DISABLE_NIGHTLY_WARNING=1
# Never let a user-level ~/.foundry/foundry.toml change what we build.
export FOUNDRY_PROFILE=default
export PATH="$(dirname "$FORGE"):$(dirname "$CAST"):$(dirname "$ANVIL"):$PATH"
