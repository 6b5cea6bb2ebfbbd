#!/usr/bin/env bash
# tests/e2e/audit_test.sh — issue 9 on the local stack: pending audit events are flushed into
# Merkle batches by AuditFlushFunction (through the emulator's Invoke API, EventBridge
# scheduled-event shape), proofs come from GET /v1/audit/proof (AuditProofFunction, master
# session), the operator anchors with shared/tools/audit-anchor, and every proof verifies on
# chain (shared/tools/audit-verify, which asks CredentialAudit.verifyEntryInRoot, and plain
# `cast call`). Negative checks: a modified event, a swapped leaf, an inner node passed as a
# leaf and a wrong root index all fail; a crash injected between the batch PUT and the pending
# deletes, followed by reruns, leaves every event in exactly one batch.
#
# Events: written directly to audit/pending/<op>/ in the canonical encoding (ak/audit.h) for an
# operator registered on chain here (software passkey, as in contracts_anvil_test.sh), so the
# counts are exact. Events from a real store/fetch flow are flushed, anchored and verified by
# tests/e2e/flow_test.sh (the `make demo` story).
#
# It starts its own stack (scripts/stack-up with AK_LOCAL_DIR in a temp dir) and a second
# emulator on the same env whose template is template.yaml plus the audit functions (taken
# from template.yaml) and one test-only copy,
# AuditFlushCrashFunction, whose dev build crashes after the batch PUT
# (AK_FAULT_CRASH_AFTER_BATCH_WRITE, compiled out of release builds).
# Env: KEEP_TMP=1 keeps the work directory; AK_AUDIT_E2E_EVENTS (default 24).
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" audit
. "$root/contracts/env.sh"
emu_pid=
stack_test_on_exit 'if [ -n "$emu_pid" ]; then kill "$emu_pid"; wait "$emu_pid"; fi'
N=${AK_AUDIT_E2E_EVENTS:-24}

# ---- binaries
make -s -j2 build/dev/functions/audit-flush/bootstrap build/release/audit-flush/bootstrap \
  build/release/audit-proof/bootstrap build/dev/tools/audit-anchor build/dev/tools/audit-verify \
  build/dev/tools/signertool >"$work/make.log" 2>&1 || { tail -30 "$work/make.log"; die "build"; }
ANCHOR=$root/build/dev/tools/audit-anchor
VERIFY=$root/build/dev/tools/audit-verify
PASSKEY=${PASSKEY:-$root/build/dev/tools/passkey}
if [ ! -x "$PASSKEY" ]; then   # the tool is a thin caller of libak's ak/passkey.h
  make -s build/dev/tools/passkey >"$work/make-passkey.log" 2>&1 || die "passkey build"
fi

# ---- stack
stack_test_up
pass "local stack up"

# ---- emulator with the audit functions
tmpl=$work/template.yaml
$PY - "$root/template.yaml" "$tmpl" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
# test-only copy that crashes after the batch PUT (dev build only)
m = re.search(r"\n  AuditFlushFunction:\n(.*?)(?=\n  [A-Za-z]+:\n)", t, re.S)
crash = "\n  AuditFlushCrashFunction:\n" + m.group(1)
crash = crash.replace("AK_AUDIT_FLUSH_LANES: '8'", "AK_AUDIT_FLUSH_LANES: '8'\n          AK_FAULT_CRASH_AFTER_BATCH_WRITE: '1'")
crash = re.sub(r"\n      Events:.*", "", crash, flags=re.S)
t = t.replace("\nOutputs:", crash + "\n\nOutputs:", 1)
open(sys.argv[2], "w").write(t)
EOF
grep -q AuditFlushCrashFunction "$tmpl" || die "template merge"
EPORT=$("$root/scripts/lib/free-ports" 1)
API2=http://127.0.0.1:$EPORT
envf=$work/emu.env
cp "$AK_EMULATOR_ENV" "$envf"
for fn in AuditFlushFunction AuditFlushCrashFunction AuditProofFunction; do
  echo "$fn.AK_SIGNER_CLIENT_CERT=$AK_PKI_DIR/audit.crt"; echo "$fn.AK_SIGNER_CLIENT_KEY=$AK_PKI_DIR/audit.key"
done >>"$envf"
echo "AK_AUDIT_LEASE_GRACE_MS=0" >>"$envf"
# The crash variant runs under AuditFlushFunction's own execution role (issue 17), and this
# emulator, like the stack's, holds no admin key: the resumed flush runs under least privilege.
sed -n 's/^AuditFlushFunction\.AWS_/AuditFlushCrashFunction.AWS_/p' "$AK_EMULATOR_ENV" >>"$envf"
grep -q '^AuditFlushCrashFunction\.AWS_SESSION_TOKEN=' "$envf" || die "AuditFlushFunction's execution role is not in $AK_EMULATOR_ENV"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "$root/build/release/bin/ak-emulator" --template "$tmpl" --root "$root" --flavour release --port "$EPORT" \
  --env-file "$envf" --bootstrap "AuditFlushCrashFunction=$root/build/dev/functions/audit-flush/bootstrap" \
  --timeout-override AuditFlushFunction=6 --timeout-override AuditFlushCrashFunction=30 \
  >"$work/emulator2.log" 2>&1 &
emu_pid=$!
for _ in $(seq 1 100); do curl -fsS "$API2/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$API2/healthz" >/dev/null || { tail -20 "$work/emulator2.log"; die "audit emulator"; }
pass "emulator with AuditFlushFunction / AuditProofFunction on $API2"

invoke() { # FUNCTION OUTFILE -> curl exit status; the body in OUTFILE
  curl -sS -o "$2" -w '%{http_code}' -X POST "$API2/2015-03-31/functions/$1/invocations" \
    -H 'content-type: application/json' --data-binary @"$root/events/audit-flush-schedule.json"
}
jq_() { jq -r "$@"; }

# ---- operator: first master registered on chain (software passkey)
MASTER_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
MASTER=$("$CAST" wallet address --private-key "$MASTER_KEY")
lower() { printf '%s' "$1" | tr 'A-F' 'a-f'; }
OP=$(printf 'agentkeysevm%s' "$(lower "$MASTER")" | sha256sum | cut -d' ' -f1)
DKH=$("$CAST" keccak "$MASTER")
"$PASSKEY" new --rpid agentkeys.local --out "$work/k11.json" >/dev/null
PX=$(jget "$work/k11.json" pub_x); PY_=$(jget "$work/k11.json" pub_y); RPH=$(jget "$work/k11.json" rp_id_hash); CRED=$(jget "$work/k11.json" cred_id)
TUPLE='(bytes32,bytes,bytes,uint256,uint256)'
CH=$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_REGISTRY_ADDRESS" 'firstMasterChallenge(address,bytes32,bytes32,uint256,uint256,uint8)(bytes32)' \
  "$MASTER" "$CRED" "$RPH" "$PX" "$PY_" 7)
"$PASSKEY" assert --key "$work/k11.json" --challenge "$CH" --sign-count 1 >"$work/a1.json"
"$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$MASTER_KEY" "$AK_REGISTRY_ADDRESS" \
  "registerFirstMasterDevice(bytes32,bytes32,uint256,uint256,uint8,$TUPLE)" \
  "$CRED" "$RPH" "$PX" "$PY_" 7 "$(jget "$work/a1.json" tuple)" >"$work/reg.log" 2>&1 || { cat "$work/reg.log"; die "register master"; }
[ "$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_REGISTRY_ADDRESS" 'isMasterWallet(bytes32,address)(bool)' "0x$OP" "$MASTER")" = true ] \
  && pass "operator master registered (op 0x${OP:0:12}…)" || die "isMasterWallet"

# ---- pending events in the canonical encoding (keys sorted, compact, ASCII)
seed() { # COUNT TAG -> writes COUNT events, prints their ids
  $PY - "$OP" "$1" "$2" "$AK_AUDIT_BUCKET" "$MASTER" "$DKH" <<'EOF'
import json, os, secrets, sys, time
import boto3
from botocore.config import Config
op, n, tag, bucket, wallet, dkh = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].lower(), sys.argv[6]
s3 = boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name=os.environ.get("AWS_REGION", "us-east-1"),
                  config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30))
for i in range(n):
    ts = int(time.time() * 1e6) + i
    eid = "%016d-%s" % (ts, secrets.token_hex(8))
    ev = {"action": "store", "data_class": "credentials", "device_key_hash": dkh, "event_id": eid, "op": "store",
          "operator_omni": "0x" + op, "outcome": "ok", "request_id": "e2e-%s-%d" % (tag, i), "service": "openrouter",
          "session_kind": "master", "ts_us": ts, "v": 1, "wallet": wallet}
    body = json.dumps(ev, sort_keys=True, separators=(",", ":")).encode()
    s3.put_object(Bucket=bucket, Key="audit/pending/%s/%s.json" % (op, eid), Body=body)
    print(eid)
EOF
}
seed "$N" a >"$work/ids" || die "seed events"
[ "$(wc -l <"$work/ids")" = "$N" ] && pass "$N pending events written" || die "seed count"

s3ls() { /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket "$AK_AUDIT_BUCKET" --prefix "$1" \
  --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n' | grep -v '^None$' | grep -c . ; }

# ---- flush (scheduled-event shape through the Invoke API)
code=$(invoke AuditFlushFunction "$work/flush1.json")
if [ "$code" = 200 ] && [ "$(jq_ .events "$work/flush1.json")" = "$N" ] && [ "$(jq_ .complete "$work/flush1.json")" = true ]; then
  pass "scheduled flush: $N events -> $(jq_ .batches "$work/flush1.json") batch"
else
  fail "scheduled flush: HTTP $code $(head -c 400 "$work/flush1.json")"
fi
[ "$(s3ls "audit/pending/$OP/")" = 0 ] && pass "pending objects deleted after the batch" || fail "pending objects left: $(s3ls "audit/pending/$OP/")"
[ "$(s3ls "audit/index/$OP/")" = "$N" ] && pass "one index object per event" || fail "index objects: $(s3ls "audit/index/$OP/")"

# ---- session JWT for the master (signed by the signer's session key with the auth identity)
export AK_SIGNER_CA_PEM=$AK_PKI_DIR/ca.crt AK_SIGNER_ATTEST_PUB=$AK_PKI_DIR/attest.pub
export AK_SIGNER_CLIENT_CERT=$AK_PKI_DIR/auth.crt AK_SIGNER_CLIENT_KEY=$AK_PKI_DIR/auth.key
now=$(date +%s)
claims=$(jq -cn --arg iss "$AK_ISSUER" --arg op "$OP" --arg w "$(lower "$MASTER")" --arg dkh "$DKH" --argjson now "$now" \
  '{iss:$iss, sub:("agentkeys:user:"+$op), aud:"agentkeys:broker", iat:$now, exp:($now+600), jti:"e2e-audit-1",
    "agentkeys.omni_account":$op, "agentkeys.wallet_address":$w, "agentkeys.identity_type":"evm",
    "agentkeys.identity_value":$w, "agentkeys.session_kind":"master", "agentkeys.operator_omni":$op,
    "agentkeys.device_key_hash":$dkh}')
SESSION=$("$root/build/dev/tools/signertool" jws session "$claims" 2>"$work/jws.err") || die "session JWT: $(cat "$work/jws.err")"

proof() { # REF OUTFILE -> HTTP status
  curl -sS -o "$2" -w '%{http_code}' -G "$API2/v1/audit/proof" --data-urlencode "event=$1" -H "authorization: Bearer $SESSION"
}
first_id=$(head -1 "$work/ids")
code=$(proof "$first_id" "$work/p0.json")
[ "$code" = 200 ] && [ "$(jq_ .event_id "$work/p0.json")" = "$first_id" ] && [ "$(jq_ .anchored "$work/p0.json")" = false ] \
  && pass "GET /v1/audit/proof before anchoring: leaf, proof, root, anchored=false" || fail "proof before anchor: $code $(head -c 300 "$work/p0.json")"
code=$(curl -sS -o "$work/p_noauth.json" -w '%{http_code}' -G "$API2/v1/audit/proof" --data-urlencode "event=$first_id")
[ "$code" = 401 ] && pass "proof without a session: 401" || fail "proof without session: $code"
code=$(proof "audit/pending/$(printf '%064d' 7)/$first_id.json" "$work/p_other.json")
[ "$code" = 403 ] && [ "$(jq_ .reason "$work/p_other.json")" = operator_mismatch ] && pass "proof for another operator's key: 403 operator_mismatch" \
  || fail "other operator: $code $(cat "$work/p_other.json")"

# ---- anchoring (operator tooling, master wallet key from the environment)
if AK_OPERATOR_KEY=$MASTER_KEY "$ANCHOR" >"$work/anchor1.log" 2>&1; then
  grep -q '^anchored ' "$work/anchor1.log" && pass "audit-anchor: appendRoot from the master wallet" || fail "anchor: $(cat "$work/anchor1.log")"
else
  fail "audit-anchor: $(cat "$work/anchor1.log")"
fi
if AK_OPERATOR_KEY=$MASTER_KEY "$ANCHOR" >"$work/anchor2.log" 2>&1 && grep -q '^skip ' "$work/anchor2.log" && ! grep -q '^anchored ' "$work/anchor2.log"; then
  pass "audit-anchor is idempotent (second run skips)"
else
  fail "anchor rerun: $(cat "$work/anchor2.log")"
fi
[ "$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_AUDIT_ADDRESS" 'rootCount(bytes32)(uint256)' "0x$OP")" = 1 ] \
  && pass "one root on chain for one batch" || fail "rootCount"
# a wallet that is not a master of the operator cannot anchor
OTHER_KEY=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9da804270a365
if AK_OPERATOR_KEY=$OTHER_KEY "$ANCHOR" --operator "0x$OP" >"$work/anchor3.log" 2>&1; then fail "non-master anchored"; else
  grep -q "not an active master" "$work/anchor3.log" && pass "a non-master wallet is refused" || fail "non-master: $(cat "$work/anchor3.log")"; fi

# ---- every proof verifies on chain
bad=0; i=0
while read -r id; do
  code=$(proof "$id" "$work/proof-$i.json")
  [ "$code" = 200 ] && [ "$(jq_ .anchored "$work/proof-$i.json")" = true ] || { bad=$((bad+1)); echo "proof $id: $code"; }
  "$VERIFY" --proof "$work/proof-$i.json" >>"$work/verify.log" 2>&1 || { bad=$((bad+1)); echo "verify $id failed"; }
  i=$((i+1))
done <"$work/ids"
[ "$bad" = 0 ] && pass "all $N proofs: anchored, VALID via verifyEntryInRoot" || fail "$bad proofs failed ($(tail -3 "$work/verify.log"))"

# same check with plain cast call (README section)
P=$work/proof-0.json
RI=$(jq_ .root_index "$P"); EVHEX=$($PY -c 'import sys,json; print("0x"+json.load(open(sys.argv[1]))["event"].encode().hex())' "$P"); PROOF=$(jq -c '.proof' "$P" | tr -d '"')
[ "$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_AUDIT_ADDRESS" 'verifyEntryInRoot(bytes32,uint256,bytes32[],bytes)(bool)' \
  "0x$OP" "$RI" "$PROOF" "$EVHEX")" = true ] && pass "cast call verifyEntryInRoot == true" || fail "cast call"

# ---- negatives (each must be INVALID, exit 1)
neg() { # LABEL ARGS...
  local label=$1; shift
  "$VERIFY" "$@" >"$work/neg.log" 2>&1; local c=$?
  if [ $c = 1 ] && grep -q '^INVALID' "$work/neg.log"; then pass "$label fails"; else fail "$label: exit $c $(cat "$work/neg.log")"; fi
}
jq -j .event "$P" | sed 's/"outcome":"ok"/"outcome":"no"/' >"$work/mod.ev"
neg "modified event" --proof "$P" --event-file "$work/mod.ev"
jq -j .event "$work/proof-1.json" >"$work/other.ev"
neg "swapped leaf (another event with this proof)" --proof "$P" --event-file "$work/other.ev"
# inner node as leaf data: level-1 node = nodeHash(leaf, proof[0]), with the rest of the proof
L0=$(jq_ .leaf "$P"); S0=$(jq_ '.proof[0]' "$P")
NODE=$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_AUDIT_ADDRESS" 'nodeHash(bytes32,bytes32)(bytes32)' "$L0" "$S0")
neg "inner node passed as a leaf" --proof "$P" --event-hex "$NODE" --proof-skip 1
neg "wrong root index" --proof "$P" --root-index $((RI + 1))

# ---- crash between batch PUT and pending delete, then reruns: exactly one batch per event
cp "$work/ids" "$work/ids.all"
seed 10 b >>"$work/ids.all" || fail "seed b"
code=$(invoke AuditFlushCrashFunction "$work/crash.json")
[ "$code" != 200 ] || grep -q errorType "$work/crash.json" || fail "crash function answered normally: $code $(cat "$work/crash.json")"
[ "$(s3ls "audit/pending/$OP/")" = 10 ] && [ "$(s3ls "audit/batches/$OP/")" = 2 ] \
  && pass "crash after the batch PUT: batch written, 10 pending objects left" || fail "after crash: pending $(s3ls "audit/pending/$OP/") batches $(s3ls "audit/batches/$OP/")"
# The rerun during the lease comes at once (the lease is the crashed run's deadline, 30 s after
# its start): the 3 new events are seeded after it, so a slow seed cannot outlast the lease.
lease_ms=$(/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp "s3://$AK_AUDIT_BUCKET/audit/flushing/$OP.json" - 2>/dev/null | jq -r .lease_until_ms)
rerun1_at=$(date +%s%3N)
code=$(invoke AuditFlushFunction "$work/rerun1.json")
[ "$code" = 200 ] && [ "$(jq_ .busy "$work/rerun1.json")" = 1 ] && pass "rerun while the crashed run's lease is live: busy, nothing written" \
  || fail "rerun1: $code $(cat "$work/rerun1.json") (lease_until_ms $lease_ms, rerun started at $rerun1_at)"
seed 3 c >>"$work/ids.all" || fail "seed c"
# wait until the crashed holder's lease (its deadline; grace 0 here) has passed
until_ms=$(/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp "s3://$AK_AUDIT_BUCKET/audit/flushing/$OP.json" - 2>/dev/null | jq -r .lease_until_ms)
while [ -n "$until_ms" ] && [ "$until_ms" != null ] && [ "$(date +%s%3N)" -le "$until_ms" ]; do sleep 0.5; done
code=$(invoke AuditFlushFunction "$work/rerun2.json")
[ "$code" = 200 ] && [ "$(jq_ .resumed "$work/rerun2.json")" = 1 ] && [ "$(jq_ .events "$work/rerun2.json")" = 3 ] \
  && pass "rerun after the lease expired: interrupted batch finished, 3 new events batched" || fail "rerun2: $code $(cat "$work/rerun2.json")"
/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp --recursive --quiet "s3://$AK_AUDIT_BUCKET/audit/batches/$OP/" "$work/batches/" || fail "download batches"
dups=$($PY - "$work/batches" "$work/ids.all" <<'EOF'
import collections, glob, json, sys
seen = collections.Counter()
for f in glob.glob(sys.argv[1] + "/*.json"):
    for lf in json.load(open(f))["leaves"]:
        seen[lf["event_id"]] += 1
want = [l.strip() for l in open(sys.argv[2]) if l.strip()]
bad = [i for i in want if seen[i] != 1] + [i for i in seen if i not in set(want)]
print(len(bad))
EOF
)
[ "$dups" = 0 ] && pass "every event ($(wc -l <"$work/ids.all")) is in exactly one batch" || fail "$dups events not in exactly one batch"
[ "$(s3ls "audit/pending/$OP/")" = 0 ] && [ "$(s3ls "audit/flushing/")" = 0 ] && pass "no pending objects and no lease left" \
  || fail "left: pending $(s3ls "audit/pending/$OP/") leases $(s3ls "audit/flushing/")"
if AK_OPERATOR_KEY=$MASTER_KEY "$ANCHOR" >"$work/anchor4.log" 2>&1 && [ "$(grep -c '^anchored ' "$work/anchor4.log")" = 2 ]; then
  pass "the two new batches anchored"
else fail "anchor after crash: $(cat "$work/anchor4.log")"; fi
id=$(tail -1 "$work/ids.all"); code=$(proof "$id" "$work/plast.json")
"$VERIFY" --proof "$work/plast.json" >/dev/null 2>&1 && pass "proof of a post-crash event verifies on chain" || fail "post-crash proof: $code"

[ "$fails" = 0 ] || { echo "audit e2e: $fails failure(s); logs in $work (KEEP_TMP=1 keeps them)"; exit 1; }
echo "audit e2e: all checks passed"
