#!/usr/bin/env bash
# enclave/image/build-eif.sh [DIR] — on the build host (x86_64 Amazon Linux 2023 with
# aws-nitro-enclaves-cli, aws-nitro-enclaves-cli-devel and a running docker; no enclave support
# needed), turns an assembly made by enclave/image/assemble.sh (default build/enclave-image) into
# DIR/ak-signer.eif with nitro-cli build-enclave, keeps nitro-cli's answer in DIR/measurements.json
# and prints the PCR0 to pin:
#   nitro-cli build-enclave --docker-dir DIR --docker-uri agentkeys-signer:<commit> \
#       --output-file DIR/ak-signer.eif | jq -r .Measurements.PCR0
# Refuses a directory that is not an assembly, a failed build and an answer without a well-formed
# PCR0 (96 hex, not all zero). Not run in this repository (no nitro-cli here);
# tests/function/enclave_image_test.sh runs it against a stub nitro-cli.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$top/build/enclave-image}
die() { echo "build-eif: $*" >&2; exit 1; }

[ -f "$dir/manifest.json" ] && [ -f "$dir/Dockerfile" ] && [ -f "$dir/ak-signer" ] ||
  die "$dir is not an assembly (run enclave/image/assemble.sh first)"
command -v nitro-cli >/dev/null || die "nitro-cli not found (dnf install aws-nitro-enclaves-cli aws-nitro-enclaves-cli-devel)"
command -v jq >/dev/null || die "jq not found (dnf install jq)"
commit=$(jq -r .source_commit "$dir/manifest.json")
[[ "$commit" =~ ^[0-9a-f]{12,40}$|^unknown$ ]] || die "$dir/manifest.json: no source commit"
tag=agentkeys-signer:${commit:0:12}
eif=$dir/ak-signer.eif
rm -f "$eif" "$dir/measurements.json"

if ! nitro-cli build-enclave --docker-dir "$dir" --docker-uri "$tag" --output-file "$eif" \
    >"$dir/measurements.json.tmp" 2>"$dir/build-enclave.log"; then
  sed 's/^/  /' "$dir/build-enclave.log" >&2
  rm -f "$dir/measurements.json.tmp" "$eif"
  die "nitro-cli build-enclave failed (its log above; docker running? the user in the docker and ne groups?)"
fi
pcr0=$(jq -r '.Measurements.PCR0 // empty' "$dir/measurements.json.tmp" 2>/dev/null || true)
if ! [[ "$pcr0" =~ ^[0-9a-f]{96}$ ]] || [[ "$pcr0" =~ ^0+$ ]]; then
  rm -f "$dir/measurements.json.tmp" "$eif"
  die "nitro-cli's answer has no usable PCR0 (got '${pcr0}'); nothing kept"
fi
[ -s "$eif" ] || { rm -f "$dir/measurements.json.tmp"; die "nitro-cli reported success but wrote no $eif"; }
mv "$dir/measurements.json.tmp" "$dir/measurements.json"
pcr1=$(jq -r .Measurements.PCR1 "$dir/measurements.json")
pcr2=$(jq -r .Measurements.PCR2 "$dir/measurements.json")
ver=$(nitro-cli --version 2>/dev/null | head -n1 || true)

cat <<MSG
built $eif ($(stat -c %s "$eif") bytes) with ${ver:-nitro-cli}
  PCR0 $pcr0
  PCR1 $pcr1
  PCR2 $pcr2
(measurements.json holds nitro-cli's answer; PCR0 changes with ak-signer, the Dockerfile's ENV and the nitro-cli version)
pin PCR0:
  KMS key policy     deploy/signer-host.yaml SignerPcr0=$pcr0
                     (during an upgrade: SignerPcr0Next=$pcr0, docs/deploy.md)
  clients            AK_SIGNER_PCR0=$pcr0
                     agentkeys signer verify-attestation DOC --pcr0 $pcr0
upload:
  aws s3 cp $eif s3://<EifBucket>/agentkeys/ak-signer-${commit:0:12}.eif
MSG
