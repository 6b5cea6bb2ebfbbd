#!/usr/bin/env bash
# contracts/build.sh — compile the contracts (forge build, offline, solcjs behind solc-wrapper).
# Usage: contracts/build.sh [extra forge build args]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$contracts_dir"
exec "$FORGE" build --root "$contracts_dir" "$@"
