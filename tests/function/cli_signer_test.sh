#!/usr/bin/env bash
# tests/function/cli_signer_test.sh — `agentkeys signer verify-attestation` (issue 18) on the real
# Nitro documents of ../shared/vectors/nitro-attestation: each verifies at its own time (exit 0,
# facts as JSON equal to the vector's), and each refusal exits non-zero with its own reason.
set -u
cd "$(dirname "$0")/../.."
AK=${AGENTKEYS_BIN:-build/dev/bin/agentkeys}
V=${AK_VECTORS_DIR:-../shared/vectors}/nitro-attestation
PY=/usr/bin/python3
. tests/lib/check.sh
[ -x "$AK" ] || { echo "FAIL $AK not built"; exit 1; }
[ -d "$V" ] || { echo "FAIL no vectors at $V"; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

n=0
for j in "$V"/*.json; do
  name=$(basename "$j" .json); n=$((n + 1))
  $PY - "$j" "$work/$name" <<'PYEOF' || { fail "$name: vector unreadable"; continue; }
import base64, json, sys
d = json.load(open(sys.argv[1])); out = sys.argv[2]
open(out + ".b64", "w").write(d["doc_b64"])
raw = bytearray(base64.b64decode(d["doc_b64"]))
open(out + ".bin", "wb").write(raw)
raw[-10] ^= 1  # inside the 96-byte signature, the last element of the COSE array
open(out + ".flip", "wb").write(raw)
e = d["expected"]
open(out + ".ts", "w").write(str(e["timestamp_ms"]))
open(out + ".mod", "w").write(e["module_id"])
PYEOF
  ts=$(cat "$work/$name.ts")
  for form in b64 bin; do
    if out=$("$AK" signer verify-attestation "$work/$name.$form" --at "$ts" 2>"$work/err") \
       && [ "$(jget - module_id <<<"$out")" = "$(cat "$work/$name.mod")" ]; then
      pass "$name ($form): verifies at its own time, module_id as the vector says"
    else fail "$name ($form): $(cat "$work/err")"; fi
  done
  expect() { # expect LABEL REASON ARGS...
    local label=$1 reason=$2; shift 2
    if "$AK" signer verify-attestation "$@" >/dev/null 2>"$work/err"; then fail "$name: $label accepted"
    elif grep -q "($reason)" "$work/err"; then pass "$name: $label refused ($reason)"
    else fail "$name: $label: wanted $reason, got: $(cat "$work/err")"; fi
  }
  expect "verified today (leaf expired)" attest_cert_expired "$work/$name.b64"
  expect "a pinned PCR0 that differs" attest_pcr_mismatch "$work/$name.b64" --at "$ts" --pcr0 "$(printf 'ab%.0s' $(seq 48))"
  expect "a flipped signature byte" attest_signature_invalid "$work/$name.flip" --at "$ts"
done
[ $n -ge 3 ] && pass "all $n public documents checked" || fail "only $n documents found"
if "$AK" signer verify-attestation "$work/nosuch" >/dev/null 2>&1; then fail "missing file accepted"; else pass "missing file refused"; fi
check_done cli_signer
