#!/usr/bin/env bash
# contracts/test.sh — run the forge tests (offline) and print a summary.
# Exit status: 0 iff every test passed. Extra arguments go to `forge test` (e.g. --mc K11).
# The vector tests read ../shared/vectors/ (relative to the repo root); AGENTKEYS_VECTORS_DIR
# overrides that location.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$contracts_dir"
log=$(mktemp "${TMPDIR:-/tmp}/contracts-test.XXXXXX")
trap 'rm -f "$log"' EXIT
start=$(date +%s)
set +e
"$FORGE" test --root "$contracts_dir" -vv "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
end=$(date +%s)
passed=$(grep -c '^\[PASS\]' "$log" || true)
failed=$(grep -c '^\[FAIL' "$log" || true)
gas=$(grep -m1 'gas per P-256 verify' "$log" | sed 's/.*: //' || true)
echo "contracts: ${passed} passed, ${failed} failed in $((end - start)) s; P-256 verify: ${gas:-?} gas"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "contracts: FAIL" >&2
  exit 1
fi
echo "contracts: PASS"
