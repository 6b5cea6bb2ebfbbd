#!/usr/bin/env bash
# tests/function/enclave_image_test.sh — enclave/image/assemble.sh builds the `nitro-cli
# build-enclave` input from `make release` output: exactly the Dockerfile, the static ak-signer
# (byte-equal to build/release/bin/ak-signer) and a manifest with its SHA-384; the Dockerfile
# starts FROM scratch and copies only that binary. It refuses a missing binary, a dynamically
# linked one, and a non-empty directory that is not an earlier assembly. (docker and nitro-cli
# are not run: documented in enclave/image/README.md.)
set -u
cd "$(dirname "$0")/../.."
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
rel=build/release/bin/ak-signer
[ -x "$rel" ] || { echo "FAIL release signer present ($rel missing: make release)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/img

if enclave/image/assemble.sh "$out" >"$work/log" 2>&1; then pass "assembles from make release"; else
    fail "assembles from make release"; sed 's/^/    /' "$work/log"; fi
listing=$(cd "$out" 2>/dev/null && ls -A | sort | tr '\n' ' ')
[ "$listing" = "Dockerfile ak-signer manifest.json " ] && pass "only Dockerfile, ak-signer, manifest.json" ||
    fail "only Dockerfile, ak-signer, manifest.json (got: $listing)"
cmp -s "$rel" "$out/ak-signer" && pass "ak-signer is the release binary" || fail "ak-signer is the release binary"
want=$(sha384sum "$rel" | cut -d' ' -f1)
got=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ak_signer_sha384"])' "$out/manifest.json" 2>/dev/null)
[ "$want" = "$got" ] && pass "manifest carries the binary's SHA-384" || fail "manifest carries the binary's SHA-384 ($got)"
grep -q "sha384 $want" "$work/log" && grep -q 'nitro-cli build-enclave' "$work/log" &&
    pass "prints the measurement and the nitro-cli steps" || fail "prints the measurement and the nitro-cli steps"
# The Dockerfile: FROM scratch, one COPY of ak-signer, the entrypoint is the signer.
steps=$(grep -vE '^[[:space:]]*(#|$)' "$out/Dockerfile" | grep -oE '^[A-Z]+' | tr '\n' ' ')
[ "$steps" = "FROM COPY ENV ENTRYPOINT " ] && pass "Dockerfile steps are FROM COPY ENV ENTRYPOINT" ||
    fail "Dockerfile steps are FROM COPY ENV ENTRYPOINT (got: $steps)"
grep -qx 'FROM scratch' "$out/Dockerfile" && grep -qx 'COPY ak-signer /ak-signer' "$out/Dockerfile" &&
    grep -qx 'ENTRYPOINT \["/ak-signer"\]' "$out/Dockerfile" && pass "from scratch, only the signer" ||
    fail "from scratch, only the signer"
# the same input twice gives the same directory (fixed mtimes)
enclave/image/assemble.sh "$work/img2" >/dev/null 2>&1
a=$(cd "$out" && find . -type f -printf '%p %T@ %s\n' | sort; cat manifest.json)
b=$(cd "$work/img2" && find . -type f -printf '%p %T@ %s\n' | sort; cat manifest.json)
[ "$a" = "$b" ] && pass "reassembly is identical (names, times, sizes, manifest)" || fail "reassembly is identical"

# refusals
if AK_SIGNER_BIN=$work/nope enclave/image/assemble.sh "$work/x" >"$work/log" 2>&1; then
    fail "a missing binary is refused"; else grep -q 'make release' "$work/log" && pass "a missing binary is refused" ||
    fail "a missing binary is refused (message)"; fi
dyn=$(command -v ls)
cp "$dyn" "$work/dyn"
if AK_SIGNER_BIN=$work/dyn enclave/image/assemble.sh "$work/x" >"$work/log" 2>&1; then
    fail "a dynamically linked binary is refused"; else grep -q 'not a static ELF' "$work/log" &&
    pass "a dynamically linked binary is refused" || fail "a dynamically linked binary is refused (message)"; fi
mkdir -p "$work/precious"; echo keep >"$work/precious/file"
if enclave/image/assemble.sh "$work/precious" >"$work/log" 2>&1; then fail "a foreign directory is not replaced"
else [ -f "$work/precious/file" ] && pass "a foreign directory is not replaced" || fail "a foreign directory is not replaced (deleted)"; fi

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
