#!/usr/bin/env bash
# enclave/image/assemble.sh [OUT_DIR] — assembles the `nitro-cli build-enclave` input directory
# (default build/enclave-image) from `make release` output: the Dockerfile beside it and the
# static build/release/bin/ak-signer (or $AK_SIGNER_BIN), nothing else, plus manifest.json
# (SHA-384 of the binary = the signer's self-measurement, AK_SIGNER_MEASUREMENT; its size; the
# source commit). Refuses a missing or dynamically linked binary. Prints the commands that
# build the image and the EIF and show the PCR0 to pin. It runs neither docker nor nitro-cli.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/enclave-image}
bin=${AK_SIGNER_BIN:-$top/build/release/bin/ak-signer}
die() { echo "assemble: $*" >&2; exit 1; }

[ -f "$bin" ] && [ -x "$bin" ] || die "$bin missing: run 'make release' first"
desc=$(file -b "$bin")
case "$desc" in
  *ELF*"statically linked"*) ;;
  *) die "$bin is not a static ELF ($desc): the image has no libc; use make release" ;;
esac

# Only an earlier assembly (or nothing) is replaced: never an arbitrary directory.
if [ -e "$out" ]; then
  [ -d "$out" ] || die "$out exists and is not a directory"
  if [ -n "$(ls -A "$out")" ] && [ ! -f "$out/manifest.json" ]; then die "$out is not empty and not an earlier assembly"; fi
  rm -rf -- "$out"
fi
mkdir -p "$out"
cp "$top/enclave/image/Dockerfile" "$out/Dockerfile"
cp "$bin" "$out/ak-signer"
chmod 0555 "$out/ak-signer"
# A fixed mtime (the commit's time when known): docker layers and the EIF ramdisk record file
# times, so an unchanged binary gives the same image.
commit=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}
touch -d "@$epoch" "$out/ak-signer" "$out/Dockerfile"
sha=$(sha384sum "$out/ak-signer" | cut -d' ' -f1)
size=$(stat -c %s "$out/ak-signer")
printf '{"ak_signer_sha384":"%s","ak_signer_size":%s,"source_commit":"%s","source_date_epoch":%s}\n' \
  "$sha" "$size" "$commit" "$epoch" > "$out/manifest.json"
touch -d "@$epoch" "$out/manifest.json"

tag=agentkeys-signer:${commit:0:12}
cat <<MSG
assembled $out
  ak-signer  $size bytes, static, sha384 $sha
next, on the parent instance (Amazon Linux 2023 with aws-nitro-enclaves-cli), not run here:
  nitro-cli build-enclave --docker-dir $out --docker-uri $tag --output-file $out/ak-signer.eif
      # prints {"Measurements":{"PCR0":...,"PCR1":...,"PCR2":...}}: pin PCR0
  nitro-cli describe-eif --eif-path $out/ak-signer.eif      # the same PCRs, later
  nitro-cli run-enclave --eif-path $out/ak-signer.eif --cpu-count 2 --memory 512 --enclave-cid 16
then check a document it produces: build/dev/tools/nitro-verify DOC --pcr0 <PCR0>
MSG
