#!/usr/bin/env bash
# tests/bench/signer_bench.sh — starts the release ak-signer on loopback with a throwaway dev PKI
# and runs build/release/bench/signer_bench: KEK derivations/s over one kept-alive mTLS
# connection, ES256 signatures/s, and the cost of one mTLS handshake. Figures only.
# Env: SIGNER (default build/release/bin/ak-signer), BENCH (default build/release/bench/signer_bench), N.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
signer=${SIGNER:-$root/build/release/bin/ak-signer}
bench=${BENCH:-$root/build/release/bench/signer_bench}
n=${N:-3000}
work=$(mktemp -d "${TMPDIR:-/tmp}/signer-bench.XXXXXX")
pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
"$root/scripts/dev-pki" "$work/pki" >/dev/null
echo 1 >"$work/epoch"
"$signer" --pki "$work/pki" --state "$work/state" --epoch-source "file:$work/epoch" --port 0 \
  --ready-file "$work/ready" >"$work/signer.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { echo "signer did not start"; tail -5 "$work/signer.log"; exit 1; }
export AK_SIGNER_URL=https://127.0.0.1:$(cat "$work/ready") AK_SIGNER_CA_PEM=$work/pki/ca.crt \
  AK_SIGNER_ATTEST_PUB=$work/pki/attest.pub AK_SIGNER_MEASUREMENT=$(sha384sum "$signer" | cut -c1-96) \
  AK_SIGNER_SERVER_NAME=localhost
as() { local r=$1; shift; AK_SIGNER_CLIENT_CERT=$work/pki/$r.crt AK_SIGNER_CLIENT_KEY=$work/pki/$r.key "$@"; }
tool=${SIGNERTOOL:-$root/build/dev/tools/signertool}
cap=$(as cap-mint "$tool" cap credentials fetch "$(printf 'a%.0s' $(seq 64))" "$(printf 'b%.0s' $(seq 64))" 1)
echo "signer: $(basename "$signer") $(stat -c %s "$signer") bytes, $(file -b "$signer" | cut -d, -f1-2,4)"
as worker-credentials "$bench" derive "$n" "$cap"
as auth "$bench" sign "$n"
as worker-credentials "$bench" handshake $((n / 10))
