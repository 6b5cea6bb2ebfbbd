#!/usr/bin/env bash
# tests/e2e/vsock_plumbing_test.sh — ak-signer's network inside the enclave (issue 18), proven on a
# kernel without vsock loopback: the unix: connector takes the same ak_http path as vsock: (our
# socket, the connector's address swapped in before curl's connect), to AF_UNIX stand-ins for the
# parent's proxies (tests/e2e/fixtures/vsock_standins.py):
#   --kms-connect unix:kms.sock        -> relay -> the KMS stand-in (SigV4 recomputed by botocore)
#   --aws-credentials imds:unix:imds.sock  IMDSv2 token, role, credentials (no AWS_* env at all)
#   --chain-connect unix:rpc.sock      -> JSON-RPC stand-in for evm:http://rpc.chain.example#0x…
# Checks: the signer boots with the KMS-sealed keystore using only IMDS credentials; KMS saw Host
# kms.us-east-1.amazonaws.com and a valid signature by the IMDS keys; IMDS saw the token flow with
# Host 169.254.169.254; the chain stand-in saw Host rpc.chain.example and eth_call; then the
# failures, each with its start-up reason: vsock:3:8000 on this machine (upstream_error), no
# IMDS (upstream_error), a bad connector spec for each flag (config_error), an unknown
# --aws-credentials source (config_error), --chain-connect with a file: source (config_error).
#
# Env: SIGNER_DEV (default build/dev/bin/ak-signer), KEEP_TMP=1.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=/usr/bin/python3
signer=${SIGNER_DEV:-$root/build/dev/bin/ak-signer}
[ -x "$signer" ] || { echo "FAIL vsock_setup (missing $signer)"; exit 1; }
AWS=/usr/bin/aws; [ -x "$AWS" ] || AWS=$(command -v aws) || { echo "FAIL vsock_setup (aws CLI missing)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vsock-e2e.XXXXXX")
kpid= ; vpid= ; spid=
stop_pid() { if [ -n "${1:-}" ]; then kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; fi; }
cleanup() {
  stop_pid "$spid"; stop_pid "$vpid"; stop_pid "$kpid"
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "work dir: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
. "$root/tests/lib/check.sh"

AK=AKIDIMDSROLE0000TEST
SK=imds-role-secret-for-tests-only
TOK=imds-role-session-token
REGION=us-east-1
port=$("$root/scripts/lib/free-ports" 1) || { echo "FAIL vsock_setup (free-ports)"; exit 1; }
echo ok >"$work/mode"
echo 1 >"$work/epoch"
"$PY" "$root/tests/e2e/fixtures/kms_standin.py" --port "$port" --region "$REGION" --access-key "$AK" \
  --secret-key "$SK" --session-token "$TOK" --mode-file "$work/mode" --record "$work/kms.jsonl" \
  --ready-file "$work/kms.ready" --max-seconds 300 2>"$work/kms.log" &
kpid=$!
"$PY" "$root/tests/e2e/fixtures/vsock_standins.py" --imds-sock "$work/imds.sock" --rpc-sock "$work/rpc.sock" \
  --kms-sock "$work/kms.sock" --kms-port "$port" --epoch-file "$work/epoch" --access-key "$AK" \
  --secret-key "$SK" --session-token "$TOK" --record "$work/px.jsonl" --ready-file "$work/px.ready" \
  --max-seconds 300 2>"$work/px.log" &
vpid=$!
for _ in $(seq 100); do [ -s "$work/kms.ready" ] && [ -s "$work/px.ready" ] && break; sleep 0.1; done
[ -s "$work/kms.ready" ] && [ -s "$work/px.ready" ] || { echo "FAIL vsock_setup (stand-ins)"; cat "$work"/*.log; exit 1; }

"$root/scripts/dev-pki" "$work/pki" >/dev/null || { echo "FAIL vsock_setup (dev-pki)"; exit 1; }
state=$work/state; mkdir -m 0700 "$state"
AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_SESSION_TOKEN=$TOK AWS_DEFAULT_REGION=$REGION \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null timeout 60 \
  "$AWS" kms generate-data-key-without-plaintext --endpoint-url "http://127.0.0.1:$port" \
  --key-id alias/agentkeys-signer --key-spec AES_256 --output json >"$state/keystore.datakey" 2>"$work/aws.err" ||
  { echo "FAIL vsock_setup (data key: $(tail -1 "$work/aws.err"))"; exit 1; }

EPOCH_ADDR=0x00000000000000000000000000000000000000e1
run_signer() { # NAME [args...]: no AWS_* credentials in the environment, only the region
  local name=$1; shift
  rm -f "$work/ready"
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN AWS_REGION=$REGION \
    "$signer" --pki "$work/pki" --state "$state" --port 0 --ready-file "$work/ready" "$@" >"$work/$name.log" 2>&1 &
  spid=$!
  for _ in $(seq 300); do [ -s "$work/ready" ] && return 0; kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$spid"; spid=
  return 1
}
reason_of() {
  "$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    try: d=json.loads(l)
    except ValueError: continue
    if d.get("msg")=="startup failed": print(d.get("reason")); break' "$1"
}
expect_fail() { # NAME REASON [args...]
  local name=$1 want=$2; shift 2
  if run_signer "$name" "$@"; then stop_pid "$spid"; spid=; fail "$name" "signer started"; return; fi
  check "$name" "$(reason_of "$work/$name.log")" "$want"
}
rec() { "$PY" -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
sel=[r for r in rows if r.get("who")==sys.argv[2]]
print(sel[int(sys.argv[3])].get(sys.argv[4]) if sel else None)' "$work/px.jsonl" "$@" 2>/dev/null; }

net=(--sealer nitro --kms-key "arn:aws:kms:$REGION:111122223333:alias/agentkeys-signer"
  --kms-recipient-doc test-unattested --kms-endpoint "http://kms.$REGION.amazonaws.com"
  --kms-connect "unix:$work/kms.sock" --aws-credentials "imds:unix:$work/imds.sock"
  --epoch-source "evm:http://rpc.chain.example:8545#$EPOCH_ADDR" --chain-connect "unix:$work/rpc.sock")

if run_signer boot "${net[@]}"; then
  pass vsock_signer_boots_through_connectors
  grep -q '"sealer":"nitro"' "$work/boot.log" && grep -q '"epoch_max":"1"' "$work/boot.log" &&
    pass vsock_keystore_sealed_and_epoch_read || fail vsock_keystore_sealed_and_epoch_read "$(grep listening "$work/boot.log")"
  stop_pid "$spid"; spid=
else
  fail vsock_signer_boots_through_connectors "$(tail -3 "$work/boot.log")"
fi
kms_host=$(tail -n1 "$work/kms.jsonl" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("host"))')
check vsock_kms_host_is_real_endpoint "$kms_host" "kms.$REGION.amazonaws.com"
kms_err=$(tail -n1 "$work/kms.jsonl" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("error"))')
check vsock_kms_signed_with_imds_keys "$kms_err" None
check vsock_imds_token_first "$(rec imds 0 method) $(rec imds 0 path)" "PUT /latest/api/token"
check vsock_imds_host "$(rec imds 1 host)" "169.254.169.254"
check vsock_imds_token_on_gets "$(rec imds 1 token_ok) $(rec imds 2 token_ok)" "True True"
check vsock_imds_role_credentials "$(rec imds 2 path)" "/latest/meta-data/iam/security-credentials/ak-signer-host-role"
check vsock_rpc_host_is_real_endpoint "$(rec rpc 0 host)" "rpc.chain.example:8545"
check vsock_rpc_eth_call "$(rec rpc 0 rpc)" "eth_call"
grep -q '"msg":"http failed"' "$work/boot.log" && fail vsock_no_transport_errors_on_boot || pass vsock_no_transport_errors_on_boot

# ---- failures, each with its reason ----
expect_fail vsock_kms_vsock_here_refused upstream_error "${net[@]}" --kms-connect vsock:3:8000
grep -q '"via":"vsock:3:8000"' "$work/vsock_kms_vsock_here_refused.log" && pass vsock_failure_names_connector ||
  fail vsock_failure_names_connector
expect_fail vsock_imds_absent_refused upstream_error "${net[@]}" --aws-credentials "imds:unix:$work/none.sock"
expect_fail vsock_bad_kms_spec_refused config_error "${net[@]}" --kms-connect vsock:3
expect_fail vsock_bad_chain_spec_refused config_error "${net[@]}" --chain-connect vsock:x:8004
expect_fail vsock_bad_imds_spec_refused config_error "${net[@]}" --aws-credentials imds:vsock:3:0
expect_fail vsock_unknown_credentials_source_refused config_error "${net[@]}" --aws-credentials instance
expect_fail vsock_chain_connect_with_file_source_refused config_error "${net[@]}" --epoch-source "file:$work/epoch"

echo "vsock_plumbing_test: $fails failure(s)"
[ "$fails" = 0 ]
