#!/usr/bin/env bash
# tests/e2e/kms_sealer_test.sh — the KMS-sealed keystore (issue 18 item 2) against a local KMS
# stand-in (tests/e2e/fixtures/kms_standin.py: SigV4 recomputed with botocore, body shape checked,
# CiphertextForRecipient built with `openssl cms` for the public key in the attestation document).
#
#   - the operator's documented command, `aws kms generate-data-key-without-plaintext ... --output
#     json > <state>/keystore.datakey`, run with the real aws CLI against the stand-in;
#   - `ak-signer --sealer nitro` (dev build; the recipient document is the explicit TEST-ONLY
#     unattested one, as /dev/nsm does not exist here) boots, seals a new keystore, restarts and
#     unseals it (same signing keys in /v1/keys) — the restart through --kms-connect, the endpoint
#     named kms.<region>.amazonaws.com as inside an enclave; a fresh RSA key per boot; the Decrypt request
#     signed over content-type;host;x-amz-date;x-amz-security-token;x-amz-target with the
#     Recipient {RSAES_OAEP_SHA_256, AttestationDocument} and the data key's KeyId;
#   - the same keystore does not open under the file sealer;
#   - fail closed, each with its reason in the start-up log: wrong secret key (stand-in:
#     InvalidSignatureException -> kms_signature_rejected), another signer image (the stand-in's
#     model of kms:RecipientAttestation:ImageSha384 -> kms_access_denied), unknown access key
#     (UnrecognizedClientException -> kms_signature_rejected), key policy denial
#     (kms_access_denied), a response that carries Plaintext (kms_response_malformed), a corrupted
#     CMS (cms_decrypt_failed), a tampered data key blob (kms_invalid_ciphertext), a data key file
#     with an unknown member (kms_datakey_invalid), no recipient document source (config_error:
#     --kms-recipient-doc nsm needs --attester nitro), no credentials (config_error), and the
#     release binary refusing the test-only document (config_error);
#   - a deployment's first boot (no data key yet): the signer calls GenerateDataKey under the
#     pinned key (--kms-key, an alias ARN) for its recipient document, stores the ciphertext
#     create-only (0600) and reopens it at the next boot; a keystore whose data key is gone is
#     refused (kms_datakey_missing) rather than orphaned by a new key; a generate answer naming
#     another key, or carrying Plaintext, stores nothing;
#   - a parent's substitution: a data key made under the attacker's key (another account, the same
#     alias name) is refused by KMS because the signer asks for the pinned key
#     (IncorrectKeyException -> kms_key_mismatch), and the same file opens under the attacker's
#     own pin (the control that shows the pin is what refuses it);
#   - no pin, a bare alias name as pin, a region other than the pin's: config_error;
#   - the local mode (file sealer) still starts by default.
#
# Env: SIGNER_DEV (default build/dev/bin/ak-signer), SIGNER_REL (default build/release/bin/ak-signer,
#      skipped when absent), KEEP_TMP=1.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=/usr/bin/python3
signer=${SIGNER_DEV:-$root/build/dev/bin/ak-signer}
signer_rel=${SIGNER_REL:-$root/build/release/bin/ak-signer}
[ -x "$signer" ] || { echo "FAIL kms_setup (missing $signer)"; exit 1; }
AWS=/usr/bin/aws; [ -x "$AWS" ] || AWS=$(command -v aws) || { echo "FAIL kms_setup (aws CLI missing)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kms-e2e.XXXXXX")
kpid=
spid=
stop_pid() { if [ -n "${1:-}" ]; then kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; fi; }
cleanup() {
  stop_pid "$spid"; stop_pid "$kpid"
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "work dir: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

. "$root/tests/lib/check.sh"

AK=AKIDSTANDIN0000TEST
SK=standin-secret-key-for-tests-only
TOK=standin-session-token
REGION=us-east-1
port=$("$root/scripts/lib/free-ports" 1) || { echo "FAIL kms_setup (free-ports)"; exit 1; }
echo ok >"$work/mode"
image=$(sha384sum "$signer" | cut -c1-96) # the key policy's ImageSha384, modelled by the stand-in
"$PY" "$root/tests/e2e/fixtures/kms_standin.py" --port "$port" --region "$REGION" --access-key "$AK" \
  --require-image-sha384 "$image" \
  --secret-key "$SK" --session-token "$TOK" --mode-file "$work/mode" --record "$work/rec.jsonl" \
  --ready-file "$work/kms.ready" --max-seconds 400 2>"$work/kms.log" &
kpid=$!
for _ in $(seq 100); do [ -s "$work/kms.ready" ] && break; kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
[ -s "$work/kms.ready" ] || { echo "FAIL kms_setup (stand-in did not start)"; cat "$work/kms.log"; exit 1; }
endpoint=http://127.0.0.1:$port

"$root/scripts/dev-pki" "$work/pki" >/dev/null || { echo "FAIL kms_setup (dev-pki)"; exit 1; }
echo 1 >"$work/epoch"
state=$work/state
mkdir -m 0700 "$state"

# ---- the data key, made as an operator would (docs: enclave/README.md) ----
if AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_SESSION_TOKEN=$TOK AWS_DEFAULT_REGION=$REGION \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null timeout 60 \
  "$AWS" kms generate-data-key-without-plaintext --endpoint-url "$endpoint" --key-id alias/agentkeys-signer \
  --key-spec AES_256 --output json >"$state/keystore.datakey" 2>"$work/aws.err"; then
  pass kms_datakey_created_by_aws_cli
else
  fail kms_datakey_created_by_aws_cli "$(tail -2 "$work/aws.err")"
fi
keys=$("$PY" -c 'import json,sys; print(",".join(sorted(json.load(open(sys.argv[1])))))' "$state/keystore.datakey" 2>/dev/null)
check kms_datakey_file_shape "$keys" "CiphertextBlob,KeyId"
arn=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["KeyId"])' "$state/keystore.datakey" 2>/dev/null)

# run_signer NAME BINARY STATE [extra args...] with the KMS env; leaves $spid running when ready,
# returns 1 (and stops it) when it exited or did not get ready in 60 s.
run_signer() {
  local name=$1 bin=$2 st=$3; shift 3
  rm -f "$work/ready"
  AWS_ACCESS_KEY_ID=${T_AK-$AK} AWS_SECRET_ACCESS_KEY=${T_SK-$SK} AWS_SESSION_TOKEN=$TOK AWS_REGION=$REGION \
    "$bin" --pki "$work/pki" --state "$st" --epoch-source "file:$work/epoch" --port 0 \
    --ready-file "$work/ready" "$@" >"$work/$name.log" 2>&1 &
  spid=$!
  for _ in $(seq 600); do [ -s "$work/ready" ] && return 0; kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$spid"; spid=
  return 1
}
PIN=arn:aws:kms:$REGION:111122223333:alias/agentkeys-signer # measured into the image in production
ATTACKER_PIN=arn:aws:kms:$REGION:444455556666:alias/agentkeys-signer
nitro=(--sealer nitro --kms-key "$PIN" --kms-endpoint "$endpoint" --kms-recipient-doc test-unattested)
keys_of() { # the kids the running signer publishes
  curl -sS --max-time 10 --cacert "$work/pki/ca.crt" --resolve "localhost:$(cat "$work/ready"):127.0.0.1" \
    --cert "$work/pki/auth.crt" --key "$work/pki/auth.key" "https://localhost:$(cat "$work/ready")/v1/keys" |
    "$PY" -c 'import json,sys; print(" ".join(sorted(k["kid"] for k in json.load(sys.stdin)["keys"])))' 2>/dev/null
}
# same_keys_after_restart CHECK LOGNAME STATE KIDS_BEFORE [signer args...]: a restart publishes the same kids
same_keys_after_restart() {
  local check=$1 name=$2 st=$3 before=$4 after; shift 4
  if run_signer "$name" "$signer" "$st" "$@"; then
    after=$(keys_of)
    stop_pid "$spid"; spid=
    if [ -n "$before" ] && [ "$before" = "$after" ]; then pass "$check"; else fail "$check" "'$before' vs '$after'"; fi
  else
    fail "$check" "$(tail -3 "$work/$name.log")"
  fi
}
last_rec() { tail -n1 "$work/rec.jsonl" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get(sys.argv[1]))' "$1"; }
reason_of() { # the reason of the "startup failed" line (or of the sealer's own error line)
  "$PY" - "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("msg") == "startup failed":
        print(d.get("reason")); break
EOF
}

# ---- boot, seal, restart, unseal ----
if run_signer nitro1 "$signer" "$state" "${nitro[@]}"; then
  pass kms_nitro_boot_creates_keystore
  grep -q '"sealer":"nitro"' "$work/nitro1.log" && pass kms_nitro_sealer_logged || fail kms_nitro_sealer_logged
  grep -q 'TEST ONLY: the KMS recipient document is unattested' "$work/nitro1.log" &&
    pass kms_test_document_is_announced || fail kms_test_document_is_announced
  kids1=$(keys_of)
  stop_pid "$spid"; spid=
else
  fail kms_nitro_boot_creates_keystore "$(tail -3 "$work/nitro1.log")"
fi
[ -s "$state/keystore.sealed" ] && pass kms_keystore_written || fail kms_keystore_written
check kms_request_target "$(last_rec target)" TrentService.Decrypt
check kms_request_signed_headers "$(last_rec signed_headers)" \
  "['content-type', 'host', 'x-amz-date', 'x-amz-security-token', 'x-amz-target']"
check kms_request_body_members "$(last_rec body_keys)" "['CiphertextBlob', 'EncryptionAlgorithm', 'KeyId', 'Recipient']"
check kms_request_key_id_is_the_pin "$(last_rec key_id)" "$PIN"
check kms_recipient_key_rsa2048 "$(last_rec public_key_bits)" 2048
check kms_document_names_the_image "$(last_rec image_sha384)" "$image"
pk1=$(last_rec public_key_sha256)

# the restart goes the production way: the real endpoint name, connected through the proxy port
via_proxy=(--sealer nitro --kms-key "$PIN" --kms-endpoint "http://kms.$REGION.amazonaws.com"
  --kms-connect "127.0.0.1:$port" --kms-recipient-doc test-unattested)
same_keys_after_restart kms_restart_unseals_same_keys nitro2 "$state" "${kids1:-}" "${via_proxy[@]}"
pk2=$(last_rec public_key_sha256)
check kms_connect_keeps_endpoint_host "$(last_rec host)" "kms.$REGION.amazonaws.com"
if [ -n "$pk1" ] && [ "$pk1" != "$pk2" ]; then pass kms_fresh_recipient_key_per_boot; else
  fail kms_fresh_recipient_key_per_boot "$pk1 / $pk2"; fi

# ---- the KMS-sealed keystore is not the file sealer's ----
if run_signer filesealer "$signer" "$state"; then stop_pid "$spid"; spid=; fail kms_keystore_needs_kms "file sealer opened it"; else
  check kms_keystore_needs_kms "$(reason_of "$work/filesealer.log")" envelope_auth_failed; fi

# ---- fail closed, one reason each ----
expect_fail() { # name reason binary state [args...]
  local name=$1 want=$2 bin=$3 st=$4; shift 4
  if run_signer "$name" "$bin" "$st" "$@"; then stop_pid "$spid"; spid=; fail "$name" "signer started"; return; fi
  check "$name" "$(reason_of "$work/$name.log")" "$want"
}
T_SK=wrong-secret expect_fail kms_bad_signature_refused kms_signature_rejected "$signer" "$state" "${nitro[@]}"
check kms_standin_saw_bad_signature "$(last_rec error)" InvalidSignatureException
T_AK=AKIDUNKNOWN expect_fail kms_unknown_access_key_refused kms_signature_rejected "$signer" "$state" "${nitro[@]}"
check kms_standin_saw_unknown_key "$(last_rec error)" UnrecognizedClientException
# another image (one byte appended: still runs, measures differently) is refused by the policy
cp "$signer" "$work/other-signer" && printf 'x' >>"$work/other-signer"
expect_fail kms_other_image_denied kms_access_denied "$work/other-signer" "$state" "${nitro[@]}"
echo deny >"$work/mode"
expect_fail kms_policy_denial_refused kms_access_denied "$signer" "$state" "${nitro[@]}"
echo plaintext >"$work/mode"
expect_fail kms_plaintext_in_response_refused kms_response_malformed "$signer" "$state" "${nitro[@]}"
echo corrupt-cms >"$work/mode"
expect_fail kms_corrupt_cms_refused cms_decrypt_failed "$signer" "$state" "${nitro[@]}"
echo ok >"$work/mode"

bad=$work/bad; mkdir -m 0700 "$bad"
"$PY" - "$state/keystore.datakey" "$bad/tampered" "$bad/extra" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1]))
b = bytearray(base64.b64decode(d["CiphertextBlob"])); b[-1] ^= 1
json.dump({"CiphertextBlob": base64.b64encode(bytes(b)).decode(), "KeyId": d["KeyId"]}, open(sys.argv[2], "w"))
d["Plaintext"] = "AAAA"
json.dump(d, open(sys.argv[3], "w"))
EOF
expect_fail kms_tampered_datakey_refused kms_invalid_ciphertext "$signer" "$bad" "${nitro[@]}" --kms-datakey "$bad/tampered"
expect_fail kms_datakey_extra_member_refused kms_datakey_invalid "$signer" "$bad" "${nitro[@]}" --kms-datakey "$bad/extra"
expect_fail kms_no_recipient_source_refused config_error "$signer" "$state" --sealer nitro --kms-key "$PIN" \
  --kms-endpoint "$endpoint"
expect_fail kms_no_pin_refused config_error "$signer" "$state" --sealer nitro --kms-endpoint "$endpoint" \
  --kms-recipient-doc test-unattested
expect_fail kms_bare_alias_pin_refused config_error "$signer" "$state" "${nitro[@]}" --kms-key alias/agentkeys-signer
expect_fail kms_region_not_the_pins_refused config_error "$signer" "$state" "${nitro[@]}" --kms-region us-west-2
T_AK= expect_fail kms_no_credentials_refused config_error "$signer" "$state" "${nitro[@]}"
if [ -x "$signer_rel" ]; then
  expect_fail kms_release_has_no_test_document config_error "$signer_rel" "$state" "${nitro[@]}"
else
  echo "SKIP kms_release_has_no_test_document (no release build)"
fi
[ ! -e "$bad/keystore.sealed" ] && pass kms_failures_write_nothing || fail kms_failures_write_nothing

# ---- a deployment's first boot: the signer makes its own data key (GenerateDataKey under the pin) ----
gen=$work/gen; mkdir -m 0700 "$gen"
if run_signer gen1 "$signer" "$gen" "${nitro[@]}"; then
  kids_g1=$(keys_of)
  stop_pid "$spid"; spid=
  pass kms_first_boot_makes_datakey
else
  fail kms_first_boot_makes_datakey "$(tail -3 "$work/gen1.log")"
fi
check kms_generate_target "$(grep -c '"TrentService.GenerateDataKey"' "$work/rec.jsonl")" 1
gen_rec=$(grep '"TrentService.GenerateDataKey"' "$work/rec.jsonl" | tail -n1)
check kms_generate_key_id_is_the_pin "$(echo "$gen_rec" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["key_id"])')" "$PIN"
check kms_generate_body_members "$(echo "$gen_rec" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["body_keys"])')" \
  "['KeyId', 'KeySpec', 'Recipient']"
check kms_generated_datakey_mode "$(stat -c %a "$gen/keystore.datakey" 2>/dev/null)" 600
check kms_generated_datakey_names_key "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sorted(d), d["KeyId"])' \
  "$gen/keystore.datakey" 2>/dev/null)" "['CiphertextBlob', 'KeyId'] $arn"
same_keys_after_restart kms_generated_datakey_reopens gen2 "$gen" "${kids_g1:-}" "${nitro[@]}"
check kms_reboot_decrypts "$(last_rec target)" TrentService.Decrypt
# the data key lost while its keystore remains: a new key would orphan the keystore — refused
mv "$gen/keystore.datakey" "$work/gen.datakey"
expect_fail kms_orphaned_keystore_refused kms_datakey_missing "$signer" "$gen" "${nitro[@]}"
[ ! -e "$gen/keystore.datakey" ] && pass kms_orphan_makes_no_new_key || fail kms_orphan_makes_no_new_key
# answers the client must not keep: another key's ARN, a plaintext; nothing is stored after either
for m in wrong-keyid:kms_key_mismatch plaintext:kms_response_malformed; do
  d=$work/gen-${m%%:*}; mkdir -m 0700 "$d"
  echo "${m%%:*}" >"$work/mode"
  expect_fail "kms_generate_${m%%:*}_refused" "${m#*:}" "$signer" "$d" "${nitro[@]}"
  [ -z "$(ls -A "$d")" ] && pass "kms_generate_${m%%:*}_stores_nothing" || fail "kms_generate_${m%%:*}_stores_nothing" "$(ls "$d")"
done
echo ok >"$work/mode"

# ---- a parent substitutes a data key under a key it controls (another account, same alias) ----
evil=$work/evil; mkdir -m 0700 "$evil"
AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_SESSION_TOKEN=$TOK AWS_DEFAULT_REGION=$REGION \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null timeout 60 \
  "$AWS" kms generate-data-key-without-plaintext --endpoint-url "$endpoint" --key-id "$ATTACKER_PIN" \
  --key-spec AES_256 --output json >"$evil/keystore.datakey" 2>"$work/aws-evil.err" ||
  fail kms_attacker_datakey_made "$(tail -2 "$work/aws-evil.err")"
expect_fail kms_substituted_datakey_refused kms_key_mismatch "$signer" "$evil" "${nitro[@]}"
check kms_substitution_refused_by_kms "$(last_rec error)" IncorrectKeyException
[ ! -e "$evil/keystore.sealed" ] && pass kms_substitution_seals_nothing || fail kms_substitution_seals_nothing
# control: the same file opens under the attacker's own pin — the refusal above is the pin's doing
if run_signer evil-control "$signer" "$evil" --sealer nitro --kms-key "$ATTACKER_PIN" --kms-endpoint "$endpoint" \
  --kms-recipient-doc test-unattested; then
  stop_pid "$spid"; spid=
  pass kms_substitution_control_opens
else
  fail kms_substitution_control_opens "$(tail -3 "$work/evil-control.log")"
fi

# ---- local mode unchanged ----
if run_signer local "$signer" "$work/local-state"; then
  grep -q '"sealer":"file"' "$work/local.log" && pass kms_local_mode_default || fail kms_local_mode_default
  stop_pid "$spid"; spid=
else
  fail kms_local_mode_default "$(tail -3 "$work/local.log")"
fi

echo "kms_sealer_test: $fails failure(s)"
[ "$fails" = 0 ]
