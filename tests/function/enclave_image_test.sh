#!/usr/bin/env bash
# tests/function/enclave_image_test.sh — enclave/image/assemble.sh builds the `nitro-cli
# build-enclave` input from `make release` output: exactly the Dockerfile, the static ak-signer
# (byte-equal to build/release/bin/ak-signer) and a manifest with its SHA-384; the Dockerfile
# starts FROM scratch and copies only that binary. It refuses a missing binary, a dynamically
# linked one, and a non-empty directory that is not an earlier assembly. --env settings land in
# the one ENV instruction and the manifest; malformed, repeated or Dockerfile-owned names are
# refused. enclave/image/build-eif.sh runs against a stub nitro-cli: the exact build-enclave
# call, the PCR0 printed with its pins, measurements.json kept; a failed build, a malformed or
# all-zero PCR0 and a non-assembly are refused and leave no EIF. (docker and the real nitro-cli
# are not run: documented in enclave/image/README.md.)
set -u
cd "$(dirname "$0")/../.."
. tests/lib/check.sh
rel=build/release/bin/ak-signer
[ -x "$rel" ] || { echo "FAIL release signer present ($rel missing: make release)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/img
# A client CA of the dev PKI's profile (any PEM certificate will do for the assembly itself).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/client-ca.crt" \
    -days 2 -subj "/CN=test client CA" >/dev/null 2>&1 || { echo "FAIL test client CA"; exit 1; }
PIN=arn:aws:kms:eu-west-1:111122223333:alias/agentkeys-signer
assemble() { enclave/image/assemble.sh --client-ca "$work/client-ca.crt" --env AKS_KMS_KEY=$PIN "$@"; }

if assemble "$out" >"$work/log" 2>&1; then pass "assembles from make release"; else
    fail "assembles from make release"; sed 's/^/    /' "$work/log"; fi
listing=$(cd "$out" 2>/dev/null && ls -A | sort | tr '\n' ' ')
[ "$listing" = "Dockerfile ak-signer ca-certificates.crt client-ca.crt manifest.json " ] &&
    pass "only Dockerfile, ak-signer, the two CA files, manifest.json" ||
    fail "only Dockerfile, ak-signer, the two CA files, manifest.json (got: $listing)"
cmp -s "$work/client-ca.crt" "$out/client-ca.crt" && cmp -s /etc/ssl/certs/ca-certificates.crt "$out/ca-certificates.crt" &&
    [ "$(jget "$out/manifest.json" client_ca_sha256)" = "$(sha256sum "$work/client-ca.crt" | cut -d' ' -f1)" ] &&
    pass "the client CA and the system CA bundle are in the image, hashed in the manifest" ||
    fail "the client CA and the system CA bundle are in the image, hashed in the manifest"
grep -q 'AKS_CLIENT_CA=/etc/agentkeys/client-ca.crt' "$out/Dockerfile" && pass "the signer reads the image's client CA" ||
    fail "the signer reads the image's client CA"
# refused: no client CA, a key instead of a certificate
if enclave/image/assemble.sh "$work/noca" >"$work/log2" 2>&1; then fail "no --client-ca is refused"; else
    grep -q -- '--client-ca PEM is required' "$work/log2" && pass "no --client-ca is refused" || fail "no --client-ca is refused (message)"; fi
if enclave/image/assemble.sh --client-ca "$work/ca.key" "$work/noca" >"$work/log2" 2>&1; then fail "a key as --client-ca is refused"; else
    grep -q 'not a PEM certificate' "$work/log2" && pass "a key as --client-ca is refused" || fail "a key as --client-ca is refused (message)"; fi

cmp -s "$rel" "$out/ak-signer" && pass "ak-signer is the release binary" || fail "ak-signer is the release binary"
want=$(sha384sum "$rel" | cut -d' ' -f1)
got=$(jget "$out/manifest.json" ak_signer_sha384 2>/dev/null)
[ "$want" = "$got" ] && pass "manifest carries the binary's SHA-384" || fail "manifest carries the binary's SHA-384 ($got)"
grep -q "sha384 $want" "$work/log" && grep -q 'nitro-cli build-enclave' "$work/log" &&
    pass "prints the measurement and the nitro-cli steps" || fail "prints the measurement and the nitro-cli steps"
# The Dockerfile: FROM scratch, the COPY of ak-signer and the two CA files, the entrypoint is the signer.
steps=$(grep -vE '^[[:space:]]*(#|$)' "$out/Dockerfile" | grep -oE '^[A-Z]+' | tr '\n' ' ')
[ "$steps" = "FROM COPY COPY COPY ENV ENTRYPOINT " ] && pass "Dockerfile steps are FROM COPY×3 ENV ENTRYPOINT" ||
    fail "Dockerfile steps are FROM COPY×3 ENV ENTRYPOINT (got: $steps)"
grep -qx 'FROM scratch' "$out/Dockerfile" && grep -qx 'COPY ak-signer /ak-signer' "$out/Dockerfile" &&
    grep -qx 'ENTRYPOINT \["/ak-signer"\]' "$out/Dockerfile" && pass "from scratch, only the signer" ||
    fail "from scratch, only the signer"
# the same input twice gives the same directory (fixed mtimes)
assemble "$work/img2" >/dev/null 2>&1
a=$(cd "$out" && find . -type f -printf '%p %T@ %s\n' | sort; cat manifest.json)
b=$(cd "$work/img2" && find . -type f -printf '%p %T@ %s\n' | sort; cat manifest.json)
[ "$a" = "$b" ] && pass "reassembly is identical (names, times, sizes, manifest)" || fail "reassembly is identical"

# refusals
if AK_SIGNER_BIN=$work/nope assemble "$work/x" >"$work/log" 2>&1; then
    fail "a missing binary is refused"; else grep -q 'make release' "$work/log" && pass "a missing binary is refused" ||
    fail "a missing binary is refused (message)"; fi
dyn=$(command -v ls)
cp "$dyn" "$work/dyn"
if AK_SIGNER_BIN=$work/dyn assemble "$work/x" >"$work/log" 2>&1; then
    fail "a dynamically linked binary is refused"; else grep -q 'not a static ELF' "$work/log" &&
    pass "a dynamically linked binary is refused" || fail "a dynamically linked binary is refused (message)"; fi
mkdir -p "$work/precious"; echo keep >"$work/precious/file"
if assemble "$work/precious" >"$work/log" 2>&1; then fail "a foreign directory is not replaced"
else [ -f "$work/precious/file" ] && pass "a foreign directory is not replaced" || fail "a foreign directory is not replaced (deleted)"; fi


# --env: deployment settings in the one ENV instruction (measured in PCR0) and in the manifest
if assemble --env AKS_EPOCH_SOURCE=evm:http://127.0.0.1:8545#0x00ab --env AKS_BACKUP=s3://bkt/signer/ \
    "$work/envimg" >"$work/log" 2>&1; then pass "assembles with --env"; else fail "assembles with --env"; sed 's/^/    /' "$work/log"; fi
steps=$(grep -vE '^[[:space:]]*(#|$)' "$work/envimg/Dockerfile" | grep -oE '^[A-Z]+' | tr '\n' ' ')
[ "$steps" = "FROM COPY COPY COPY ENV ENTRYPOINT " ] && grep -qx '    AKS_STATE_DIR=/ak-state \\' "$work/envimg/Dockerfile" &&
    grep -qx '    AKS_EPOCH_SOURCE=evm:http://127.0.0.1:8545#0x00ab \\' "$work/envimg/Dockerfile" &&
    grep -qx '    AKS_BACKUP=s3://bkt/signer/' "$work/envimg/Dockerfile" &&
    pass "--env settings continue the one ENV instruction" || fail "--env settings continue the one ENV instruction (steps: $steps)"
got=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["env"], sort_keys=True))' "$work/envimg/manifest.json" 2>/dev/null)
[ "$got" = '{"AKS_BACKUP": "s3://bkt/signer/", "AKS_EPOCH_SOURCE": "evm:http://127.0.0.1:8545#0x00ab", "AKS_KMS_KEY": "'$PIN'"}' ] &&
    pass "manifest lists the --env settings" || fail "manifest lists the --env settings ($got)"
# (the pin continues the ENV instruction: the line before it gains its " \")
grep -qx "    AKS_KMS_KEY=$PIN" "$out/Dockerfile" &&
    grep -vx "    AKS_KMS_KEY=$PIN" "$out/Dockerfile" | sed 's|^\(    AKS_STATE_DIR=/ak-state\) \\$|\1|' |
    cmp -s - enclave/image/Dockerfile &&
    pass "with only the KMS key pin, the Dockerfile gains exactly that setting" ||
    fail "with only the KMS key pin, the Dockerfile gains exactly that setting ($(diff "$out/Dockerfile" enclave/image/Dockerfile))"
# the pin is required (the image's sealer is nitro) and must be an alias or key ARN
if enclave/image/assemble.sh --client-ca "$work/client-ca.crt" "$work/x" >"$work/log" 2>&1; then fail "an image without the KMS key pin is refused"
else grep -q 'AKS_KMS_KEY=.* is required' "$work/log" && pass "an image without the KMS key pin is refused" ||
    fail "an image without the KMS key pin is refused (message: $(cat "$work/log"))"; fi
for badpin in alias/agentkeys-signer arn:aws:kms:eu-west-1:1111:alias/x arn:aws:kms:eu-west-1:111122223333:alias/aws/ebs \
              arn:aws:s3:eu-west-1:111122223333:alias/x; do
    if enclave/image/assemble.sh --client-ca "$work/client-ca.crt" --env AKS_KMS_KEY=$badpin "$work/x" >"$work/log" 2>&1; then
        fail "KMS key pin $badpin is refused"
    else grep -q "want the key's alias ARN" "$work/log" && pass "KMS key pin $badpin is refused" ||
        fail "KMS key pin $badpin is refused (message: $(cat "$work/log"))"; fi
done
for bad in 'AKS_VSOCK=any:6000|already set by the Dockerfile' 'AKS_X=a b|want AKS_NAME=VALUE' 'AKS_X=$(id)|want AKS_NAME=VALUE' \
           'PATH=/x|want AKS_NAME=VALUE'; do
    arg=${bad%%|*}; msg=${bad#*|}
    if assemble --env "$arg" "$work/x" >"$work/log" 2>&1; then fail "--env $arg is refused"
    else grep -q "$msg" "$work/log" && pass "--env $arg is refused" || fail "--env $arg is refused (message: $(cat "$work/log"))"; fi
done
if assemble --env AKS_X=1 --env AKS_X=2 "$work/x" >"$work/log" 2>&1; then fail "a repeated --env is refused"
else grep -q 'given twice' "$work/log" && pass "a repeated --env is refused" || fail "a repeated --env is refused (message)"; fi

# build-eif.sh against a stub nitro-cli (records its arguments; STUB_MODE picks the answer)
mkdir -p "$work/stub"
cat >"$work/stub/nitro-cli" <<'STUB'
#!/bin/bash
echo "$*" >>"$STUB_LOG"
[ "$1" = --version ] && { echo "Nitro CLI 1.4.2"; exit 0; }
[ "$1" = build-enclave ] || exit 2
while [ $# -gt 0 ]; do [ "$1" = --output-file ] && eif=$2; shift; done
case "$STUB_MODE" in
  fail) echo "[ E19 ] docker not running" >&2; exit 1 ;;
  badpcr) echo fake >"$eif"; echo '{"Measurements":{"PCR0":"abc","PCR1":"x","PCR2":"y"}}' ;;
  zero) echo fake >"$eif"; printf '{"Measurements":{"PCR0":"%096d","PCR1":"x","PCR2":"y"}}\n' 0 ;;
  *) echo fake-eif >"$eif"; printf '{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"%s","PCR1":"%s","PCR2":"%s"}}\n' \
       "$(printf '%096d' 0 | tr 0 a)" "$(printf '%096d' 0 | tr 0 b)" "$(printf '%096d' 0 | tr 0 c)" ;;
esac
STUB
chmod +x "$work/stub/nitro-cli"
beif() { STUB_LOG=$work/stub.log STUB_MODE=$1 PATH="$work/stub:$PATH" enclave/image/build-eif.sh "$2" >"$work/log" 2>&1; }
pcr0=$(printf '%096d' 0 | tr 0 a)
commit=$(jget "$out/manifest.json" source_commit); commit=${commit:0:12}
: >"$work/stub.log"
if beif ok "$out"; then pass "build-eif: builds with nitro-cli"; else fail "build-eif: builds with nitro-cli"; sed 's/^/    /' "$work/log"; fi
grep -qx -- "build-enclave --docker-dir $out --docker-uri agentkeys-signer:$commit --output-file $out/ak-signer.eif" "$work/stub.log" &&
    pass "build-eif: the exact nitro-cli build-enclave call" || fail "build-eif: the exact nitro-cli build-enclave call ($(head -1 "$work/stub.log"))"
grep -qx "  PCR0 $pcr0" "$work/log" && grep -q "SignerPcr0=$pcr0" "$work/log" && grep -q "AK_SIGNER_PCR0=$pcr0" "$work/log" &&
    grep -q -- "--pcr0 $pcr0" "$work/log" && pass "build-eif: prints PCR0 and where to pin it" || fail "build-eif: prints PCR0 and where to pin it"
[ "$(jq -r .Measurements.PCR0 "$out/measurements.json" 2>/dev/null)" = "$pcr0" ] && [ -s "$out/ak-signer.eif" ] &&
    pass "build-eif: keeps the EIF and nitro-cli's measurements.json" || fail "build-eif: keeps the EIF and nitro-cli's measurements.json"
for mode in fail badpcr zero; do
    if beif $mode "$out"; then fail "build-eif: $mode is refused"
    else [ ! -e "$out/ak-signer.eif" ] && [ ! -e "$out/measurements.json" ] && pass "build-eif: $mode is refused, nothing kept" ||
        fail "build-eif: $mode is refused, nothing kept"; fi
done
beif fail "$out"; grep -q 'docker not running' "$work/log" &&
    pass "build-eif: a failed build shows nitro-cli's log" || fail "build-eif: a failed build shows nitro-cli's log"
if beif ok "$work/precious"; then fail "build-eif: a non-assembly is refused"
else grep -q 'not an assembly' "$work/log" && pass "build-eif: a non-assembly is refused" || fail "build-eif: a non-assembly is refused (message)"; fi

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
