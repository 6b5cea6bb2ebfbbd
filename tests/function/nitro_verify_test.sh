#!/usr/bin/env bash
# tests/function/nitro_verify_test.sh — build/dev/tools/nitro-verify (ak_nitro_check) on the real
# AWS Nitro attestation documents of ../shared/vectors/nitro-attestation/ (read here, written
# only to a temporary directory): each verifies at its own time, base64 or binary, and prints
# the expected facts; each mutation exits 1 with its own reason; usage and I/O errors exit 2.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/check.sh
tool=build/dev/tools/nitro-verify
vec=${AK_VECTORS_DIR:-../shared/vectors}/nitro-attestation
root=$vec/aws_nitro_enclaves_root_g1.pem
py=/usr/bin/python3
[ -x "$tool" ] || { echo "FAIL nitro-verify built ($tool missing: make $tool)"; exit 1; }
[ -f "$root" ] || { echo "FAIL vectors present ($root missing)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# expect NAME WANT_EXIT REASON_OR_EMPTY -- ARGS...: runs the tool, checks exit code and reason.
expect() {
    local name=$1 want=$2 reason=$3; shift 4
    local rc
    timeout 20 "$tool" "$@" >"$work/out" 2>"$work/err"; rc=$?
    if [ "$rc" != "$want" ]; then fail "$name (exit $rc, wanted $want)"; sed 's/^/    /' "$work/out" "$work/err"; return; fi
    if [ -n "$reason" ] && ! grep -q "\"reason\":\"$reason\"" "$work/out"; then
        fail "$name (wanted reason $reason)"; sed 's/^/    /' "$work/out"; return; fi
    pass "$name"
}

for f in "$vec"/*.json; do
    n=$(basename "$f" .json)
    # doc.b64, doc.bin, ts, pcr0, and mutated copies, from the vector
    "$py" - "$f" "$work/$n" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1])); p = sys.argv[2]
doc = base64.b64decode(d["doc_b64"]); e = d["expected"]
open(p + ".b64", "w").write("\n".join(d["doc_b64"][i:i + 76] for i in range(0, len(d["doc_b64"]), 76)) + "\n")
open(p + ".bin", "wb").write(doc)
open(p + ".ts", "w").write(str(e["timestamp_ms"]))
open(p + ".pcr0", "w").write(e["pcrs"]["0"])
pcr4 = bytes.fromhex(e["pcrs"]["4"]); i = doc.index(pcr4) + 7
m = bytearray(doc); m[i] ^= 1; open(p + ".flip-payload", "wb").write(m)
m = bytearray(doc); m[-1] ^= 1; open(p + ".flip-sig", "wb").write(m)
open(p + ".trunc", "wb").write(doc[:-10])
open(p + ".trail", "wb").write(doc + b"\x00")
PY
    ts=$(cat "$work/$n.ts")
    expect "$n: base64 verifies at its time" 0 "" -- "$work/$n.b64" --root "$root" --at "$ts"
    if "$py" - "$f" "$work/out" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["expected"]; o = json.load(open(sys.argv[2]))
ok = (o["module_id"] == e["module_id"] and o["timestamp"] == e["timestamp_ms"] and o["digest"] == e["digest"]
      and o["pcrs"] == e["pcrs"] and o["public_key"] == e["public_key_hex"]
      and o["user_data"] == e["user_data_hex"] and o["nonce"] == e["nonce_hex"])
sys.exit(0 if ok else 1)
PY
    then pass "$n: facts equal expected"; else fail "$n: facts equal expected"; fi
    expect "$n: binary verifies under the built-in root fingerprint" 0 "" -- "$work/$n.bin" --at "$ts"
    expect "$n: pinned PCR0 matches" 0 "" -- "$work/$n.bin" --at "$ts" --pcr0 "$(cat "$work/$n.pcr0")"
    expect "$n: wrong PCR0 refused" 1 attest_pcr_mismatch -- "$work/$n.bin" --at "$ts" --pcr0 "$(printf 'ab%.0s' $(seq 48))"
    expect "$n: flipped payload byte refused" 1 attest_signature_invalid -- "$work/$n.flip-payload" --at "$ts"
    expect "$n: flipped signature byte refused" 1 attest_signature_invalid -- "$work/$n.flip-sig" --at "$ts"
    expect "$n: today the leaf has expired" 1 attest_cert_expired -- "$work/$n.bin"
    expect "$n: truncated refused" 1 attest_cbor_malformed -- "$work/$n.trunc" --at "$ts"
    expect "$n: trailing byte refused" 1 attest_trailing_bytes -- "$work/$n.trail" --at "$ts"
done

n=$(basename "$(ls "$vec"/*.json | head -n1)" .json); ts=$(cat "$work/$n.ts")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$work/k.pem" -out "$work/other.pem" \
    -subj /CN=other-root -days 1 >/dev/null 2>&1
expect "another root refused" 1 attest_root_mismatch -- "$work/$n.bin" --at "$ts" --root "$work/other.pem"
expect "a root file that is no certificate" 1 bad_key -- "$work/$n.bin" --at "$ts" --root "$work/k.pem"
printf 'not a document!' >"$work/garbage"
expect "garbage refused" 1 bad_base64 -- "$work/garbage" --at "$ts"
expect "missing file is an I/O error" 2 "" -- "$work/nope" --at "$ts"
expect "bad --at is a usage error" 2 "" -- "$work/$n.bin" --at yesterday
expect "no file is a usage error" 2 "" -- --at "$ts"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
