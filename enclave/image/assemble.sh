#!/usr/bin/env bash
# enclave/image/assemble.sh [--env AKS_NAME=VALUE]... [OUT_DIR] — assembles the `nitro-cli
# build-enclave` input directory (default build/enclave-image) from `make release` output: the
# Dockerfile beside it and the static build/release/bin/ak-signer (or $AK_SIGNER_BIN), nothing
# else, plus manifest.json (SHA-384 of the binary = the signer's self-measurement,
# AK_SIGNER_MEASUREMENT; its size; the source commit; the added environment). Each --env adds a
# deployment-specific setting of the signer to the Dockerfile's one ENV instruction (it becomes
# part of PCR0; never a secret: anyone holding the EIF can read it). Refuses a missing or
# dynamically linked binary, a malformed or repeated setting, a missing or malformed AKS_KMS_KEY
# (the Dockerfile's sealer is nitro: the pinned KMS key). Prints the commands that build the
# image and the EIF and show the PCR0 to pin (enclave/image/build-eif.sh on the build host). It
# runs neither docker nor nitro-cli.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "assemble: $*" >&2; exit 1; }
envs=()
client_ca=
ca_bundle=/etc/ssl/certs/ca-certificates.crt
while [ $# -gt 0 ]; do
  case "$1" in
    --client-ca)
      [ $# -ge 2 ] || die "--client-ca needs a PEM file"
      client_ca=$2; shift 2 ;;
    --ca-bundle)
      [ $# -ge 2 ] || die "--ca-bundle needs a PEM file"
      ca_bundle=$2; shift 2 ;;
    --env)
      [ $# -ge 2 ] || die "--env needs AKS_NAME=VALUE"
      [[ "$2" =~ ^AKS_[A-Z0-9_]+=[A-Za-z0-9._:/#@%+,=-]+$ ]] ||
        die "--env $2: want AKS_NAME=VALUE (value: letters, digits and ._:/#@%+,=- only)"
      grep -qE "(ENV|^)[[:space:]]+${2%%=*}=" "$top/enclave/image/Dockerfile" &&
        die "--env ${2%%=*}: already set by the Dockerfile (change it there)"
      for e in "${envs[@]+"${envs[@]}"}"; do [ "${e%%=*}" != "${2%%=*}" ] || die "--env ${2%%=*} given twice"; done
      envs+=("$2"); shift 2 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (usage: assemble.sh --client-ca PEM [--ca-bundle PEM] [--env AKS_NAME=VALUE]... [OUT_DIR])" ;;
    *) break ;;
  esac
done
out=${1:-$top/build/enclave-image}
bin=${AK_SIGNER_BIN:-$top/build/release/bin/ak-signer}

[ -f "$bin" ] && [ -x "$bin" ] || die "$bin missing: run 'make release' first"
# The client CA decides who may derive KEKs and the CA bundle whom the signer trusts for KMS, S3
# and the RPC: both are files of the image, so PCR0 measures them (never secrets).
[ -n "$client_ca" ] || die "--client-ca PEM is required: the CA of the functions' signer identities (docs/deploy.md section 9, step 5)"
pem_ok() { [ -f "$1" ] && grep -q -- '-----BEGIN CERTIFICATE-----' "$1" && ! grep -q -- 'PRIVATE KEY' "$1"; }
pem_ok "$client_ca" || die "--client-ca $client_ca: not a PEM certificate file (or it holds a private key)"
pem_ok "$ca_bundle" || die "--ca-bundle $ca_bundle: not a PEM certificate bundle (Debian: package ca-certificates)"
# The Dockerfile's sealer is nitro: the KMS key is pinned in the image, or it cannot start (and a
# key named from outside would let a parent substitute its own; enclave/README.md "The pinned key").
pin=
for e in "${envs[@]+"${envs[@]}"}"; do [ "${e%%=*}" != AKS_KMS_KEY ] || pin=${e#*=}; done
[ -n "$pin" ] || die "--env AKS_KMS_KEY=arn:aws:kms:REGION:ACCOUNT:alias/NAME is required (the host stack's SealingKeyPin output)"
[[ "$pin" =~ ^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(alias/[A-Za-z0-9/_-]+|key/[a-z0-9-]+)$ ]] && [[ "$pin" != *:alias/aws/* ]] ||
  die "--env AKS_KMS_KEY=$pin: want the key's alias ARN (arn:aws:kms:REGION:ACCOUNT:alias/NAME) or key ARN"
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
# The Dockerfile, with the --env settings appended to its (single, last-line-unescaped) ENV.
awk -v extra="$(printf '%s\n' "${envs[@]+"${envs[@]}"}")" '
  BEGIN { n = split(extra, add, "\n") }
  /^ENV[[:space:]]/ { inenv = 1 }
  inenv && !/\\$/ {
    inenv = 0
    for (i = 1; i <= n; i++) if (add[i] != "") { $0 = $0 " \\"; print; $0 = "    " add[i] }
  }
  { print }' "$top/enclave/image/Dockerfile" > "$out/Dockerfile"
cp "$bin" "$out/ak-signer"
chmod 0555 "$out/ak-signer"
cp "$client_ca" "$out/client-ca.crt"
cp "$ca_bundle" "$out/ca-certificates.crt"
chmod 0444 "$out/client-ca.crt" "$out/ca-certificates.crt"
# A fixed mtime (the commit's time when known): docker layers and the EIF ramdisk record file
# times, so an unchanged binary gives the same image.
commit=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}
touch -d "@$epoch" "$out/ak-signer" "$out/Dockerfile" "$out/client-ca.crt" "$out/ca-certificates.crt"
sha=$(sha384sum "$out/ak-signer" | cut -d' ' -f1)
size=$(stat -c %s "$out/ak-signer")
env_json=
for e in "${envs[@]+"${envs[@]}"}"; do env_json+=${env_json:+,}"\"${e%%=*}\":\"${e#*=}\""; done
ca_sha=$(sha256sum "$out/client-ca.crt" | cut -d' ' -f1)
bundle_sha=$(sha256sum "$out/ca-certificates.crt" | cut -d' ' -f1)
printf '{"ak_signer_sha384":"%s","ak_signer_size":%s,"source_commit":"%s","source_date_epoch":%s,"client_ca_sha256":"%s","ca_bundle_sha256":"%s","env":{%s}}\n' \
  "$sha" "$size" "$commit" "$epoch" "$ca_sha" "$bundle_sha" "$env_json" > "$out/manifest.json"
touch -d "@$epoch" "$out/manifest.json"

tag=agentkeys-signer:${commit:0:12}
env_shown="${envs[*]+"${envs[*]}"}"
[ -n "$env_shown" ] || env_shown="(only the Dockerfile defaults)"
cat <<MSG
assembled $out
  ak-signer  $size bytes, static, sha384 $sha
  client CA  sha256 $ca_sha
  CA bundle  sha256 $bundle_sha ($ca_bundle)
  env        $env_shown
next, on an x86_64 Amazon Linux 2023 build host with aws-nitro-enclaves-cli and docker (not run here):
  enclave/image/build-eif.sh $out
      # = nitro-cli build-enclave --docker-dir $out --docker-uri $tag --output-file $out/ak-signer.eif
      #   | jq -r .Measurements.PCR0     -> the PCR0 to pin (KMS key policy SignerPcr0, clients AK_SIGNER_PCR0)
  nitro-cli describe-eif --eif-path $out/ak-signer.eif      # the same PCRs, later
then upload the EIF and deploy deploy/signer-host.yaml with SignerPcr0=<PCR0> (docs/deploy.md);
check a document the enclave produces: agentkeys signer verify-attestation DOC --pcr0 <PCR0>
MSG
