#!/usr/bin/env bash
# tests/e2e/exec_roles_test.sh — every function runs under its own execution role locally
# (issue 17 item 2; scripts/local-iam exec-roles):
#   - the emulator env file gives each function of template.yaml its own STS session
#     (key, secret, token) and no global key; the emulator process holds no AWS key, and a
#     running function holds its own session, not the admin's;
#   - with a function's own credentials (through libak's S3 client, build/dev/tools/s3tool),
#     what its `Policies` allow succeeds and what they lack is refused with AccessDenied:
#     another bucket, another prefix, an action it was not given, a list outside its prefix;
#   - a GET of a missing key is 404 only where the policy has s3:ListBucket (AWS semantics,
#     reproduced by Ceph for the `ak-lambda` sessions), and through the API an unknown SIWE
#     request is 401 siwe_nonce_invalid;
#   - negative, through the function itself: a second emulator runs AuthFunction under the role
#     of a template copy without its s3:ListBucket statement, and the same request is refused
#     by S3 (403 access_denied, as before the template fix).
# Uses a running stack when build/local/stack.env exists (AK_LOCAL_DIR overrides), else starts
# one in a private directory with scripts/stack-up and stops it on exit.
# Prints one PASS/FAIL line per check; exit status 1 if any failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. tests/lib/check.sh
. tests/lib/stack-reuse.sh execroles
trap stack_reuse_down EXIT
ENVF=$AK_EMULATOR_ENV
T=$top/build/dev/tools/s3tool
[ -x "$T" ] || { echo "FAIL s3tool missing (make all)"; exit 1; }
ADMIN_KEY=$AWS_ACCESS_KEY_ID

# ---- 1. one session per function, none global, none the admin's
fns=$(/usr/bin/python3 - "$top/template.yaml" <<'EOF'
import sys, yaml
class L(yaml.SafeLoader): pass
L.add_multi_constructor("!", lambda l, s, n: None)
t = yaml.load(open(sys.argv[1]), Loader=L)
print(" ".join(k for k, v in t["Resources"].items() if v.get("Type") == "AWS::Serverless::Function"))
EOF
)
n_fns=$(wc -w <<<"$fns")
[ "$n_fns" -ge 10 ] && pass "template lists $n_fns functions" || fail "template lists functions" "$n_fns"
grep -Eq '^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=' "$ENVF" \
  && fail "no global AWS key in the emulator env file" || pass "no global AWS key in the emulator env file"
missing=""
for f in $fns; do
  for v in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN; do
    grep -Eq "^$f\\.$v=.+" "$ENVF" || missing="$missing $f.$v"
  done
done
check "every function has its own key, secret and session token" "${missing# }" ""
keys=$(grep -E '^[A-Za-z]+\.AWS_ACCESS_KEY_ID=' "$ENVF" | cut -d= -f2)
check "the $n_fns access keys are distinct" "$(sort -u <<<"$keys" | grep -c .)" "$n_fns"
grep -qx "$ADMIN_KEY" <<<"$keys" && fail "no function has the admin key" || pass "no function has the admin key"
check "the emulator env file is private" "$(stat -c %a "$ENVF")" 600

epid=$(cat "$L/pids/emulator")
tr '\0' '\n' <"/proc/$epid/environ" | grep -q '^AWS_ACCESS_KEY_ID=' \
  && fail "the emulator process holds no AWS key" || pass "the emulator process holds no AWS key"

# Warm AuthFunction (an unknown SIWE request: must be 401, not 403 - the ListBucket fix)
rid=siwe-$(openssl rand -hex 16)
out=$(curl -sS -m 20 -w ' %{http_code}' -X POST "$AK_API_URL/v1/auth/wallet/verify" -H 'content-type: application/json' \
  -d "{\"request_id\":\"$rid\",\"signature\":\"0x$(openssl rand -hex 65)\"}")
check "unknown SIWE request: 401 siwe_nonce_invalid under AuthFunction's own role" \
  "${out##* } $(jq -r .reason <<<"${out% *}" 2>/dev/null)" "401 siwe_nonce_invalid"
# A running function's environment: its own key, not the admin's.
own=$(grep '^AuthFunction\.AWS_ACCESS_KEY_ID=' "$ENVF" | cut -d= -f2)
seen=""
for p in $(pgrep -P "$epid"); do
  e=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null) || continue
  grep -qx 'AWS_LAMBDA_FUNCTION_NAME=AuthFunction' <<<"$e" || continue
  seen=$(grep '^AWS_ACCESS_KEY_ID=' <<<"$e" | cut -d= -f2); break
done
check "the running AuthFunction holds its own key" "$seen" "$own"

# ---- 2. what each function's policy allows, and what it lacks
# as FN s3tool-args...: the last line of s3tool under FN's own session
as() {
  local f=$1; shift
  AWS_ACCESS_KEY_ID=$(grep "^$f\.AWS_ACCESS_KEY_ID=" "$ENVF" | cut -d= -f2-) \
  AWS_SECRET_ACCESS_KEY=$(grep "^$f\.AWS_SECRET_ACCESS_KEY=" "$ENVF" | cut -d= -f2-) \
  AWS_SESSION_TOKEN=$(grep "^$f\.AWS_SESSION_TOKEN=" "$ENVF" | cut -d= -f2-) \
    timeout -k 1 30 "$T" "$@" 2>/dev/null | tail -n 1
}
op=$(openssl rand -hex 32)
ev="audit/pending/$op/exec-roles-$(openssl rand -hex 8).json"
check "CredStoreFunction may write an audit event" "$(as CredStoreFunction put "$AK_AUDIT_BUCKET" "$ev" --data '{}')" ok
check "CredStoreFunction may not read it back (no GetObject)" "$(as CredStoreFunction get "$AK_AUDIT_BUCKET" "$ev")" "error access_denied"
check "CredStoreFunction may not write the vault (data only with the caller's session)" \
  "$(as CredStoreFunction put "$AK_VAULT_BUCKET" "bots/$op/credentials/x.enc" --data x)" "error access_denied"
check "CredStoreFunction may not write audit batches" \
  "$(as CredStoreFunction put "$AK_AUDIT_BUCKET" "audit/batches/$op/x.json" --data x)" "error access_denied"
check "AuthFunction may write SIWE state" "$(as AuthFunction put "$AK_STATE_BUCKET" "siwe/pending/exec-roles-test.json" --data '{}')" ok
check "AuthFunction may not delete it (no DeleteObject)" \
  "$(as AuthFunction rm "$AK_STATE_BUCKET" "siwe/pending/exec-roles-test.json")" "error access_denied"
check "AuthFunction may not write outside siwe/" "$(as AuthFunction put "$AK_STATE_BUCKET" "other/x" --data x)" "error access_denied"
check "AuthFunction may not read the memory bucket" "$(as AuthFunction ls "$AK_MEMORY_BUCKET" bots/)" "error access_denied"
check "AuditProofFunction may read audit events" "$(as AuditProofFunction head "$AK_AUDIT_BUCKET" "$ev" | awk '{print $NF}')" ok
check "AuditProofFunction may not write an index" \
  "$(as AuditProofFunction put "$AK_AUDIT_BUCKET" "audit/index/$op/x.json" --data x)" "error access_denied"
check "ReadyFunction may list readyz/" "$(as ReadyFunction ls "$AK_AUDIT_BUCKET" readyz/ | awk '{print $NF}')" ok
check "ReadyFunction may not list audit/" "$(as ReadyFunction ls "$AK_AUDIT_BUCKET" audit/)" "error access_denied"
check "HealthFunction (no policy) may do nothing" "$(as HealthFunction ls "$AK_AUDIT_BUCKET" readyz/)" "error access_denied"
check "OidcDiscoveryFunction (secretsmanager only) may not write audit events" \
  "$(as OidcDiscoveryFunction put "$AK_AUDIT_BUCKET" "audit/pending/$op/x.json" --data '{}')" "error access_denied"
check "OidcDiscoveryFunction may not list any bucket" "$(as OidcDiscoveryFunction ls "$AK_VAULT_BUCKET" bots/)" "error access_denied"
check "SesRouterFunction may not write aliases/ (read only)" \
  "$(as SesRouterFunction put "$AK_MAIL_BUCKET" "aliases/x" --data x)" "error access_denied"
check "AuditFlushFunction may delete pending events" "$(as AuditFlushFunction rm "$AK_AUDIT_BUCKET" "$ev")" ok
check "AuditFlushFunction may not write the state bucket" \
  "$(as AuditFlushFunction put "$AK_STATE_BUCKET" "siwe/x" --data x)" "error access_denied"

# ---- 3. a missing key is 404 only with s3:ListBucket (without it 403, as on AWS: the unknown
# SIWE request above was 403 access_denied before the template granted AuthFunction ListBucket)
check "missing key, ListBucket granted (AuthFunction): not found" \
  "$(as AuthFunction get "$AK_STATE_BUCKET" "siwe/pending/never-$(openssl rand -hex 8).json")" "error not_found"
check "missing key, ListBucket granted (AuditProofFunction): not found" \
  "$(as AuditProofFunction head "$AK_AUDIT_BUCKET" "audit/pending/$op/never.json")" "error not_found"
# ---- 4. through a function: the same request under a role that lacks s3:ListBucket is refused
# A copy of the template without AuthFunction's ListBucket statement, its roles made beside the
# stack's (prefix akneg-), and a second emulator whose AuthFunction holds that role only.
work=$(mktemp -d "${TMPDIR:-/tmp}/ak-execroles-work.XXXXXX")
emu_pid=""
cleanup() {
  if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; fi
  rm -rf "$work"
  stack_reuse_down
}
trap cleanup EXIT
/usr/bin/python3 - "$top/template.yaml" "$work/t.yaml" <<'PYEOF'
import sys
t = open(sys.argv[1]).read()
stmt = "            - Effect: Allow\n              Action: s3:ListBucket\n              Resource: !GetAtt StateBucket.Arn\n"
assert t.count(stmt) == 1, "AuthFunction's ListBucket statement not found"
open(sys.argv[2], "w").write(t.replace(stmt, ""))
PYEOF
[ -s "$work/t.yaml" ] && ! grep -q 'Resource: !GetAtt StateBucket.Arn' "$work/t.yaml" \
  && pass "template copy without AuthFunction's s3:ListBucket" || fail "template copy without AuthFunction's s3:ListBucket"
if ( . "$L/ceph/env" && AK_TEMPLATE=$work/t.yaml AK_EXEC_ROLE_PREFIX=akneg- timeout -k 5 120 \
       "$top/scripts/local-iam" exec-roles "$work/roles.env" >"$work/local-iam.log" 2>&1 ); then
  pass "local-iam made the copy's roles"
else fail "local-iam made the copy's roles" "$(tail -n 3 "$work/local-iam.log")"; fi
{ grep -v '^AuthFunction\.AWS_' "$ENVF"; grep '^AuthFunction\.AWS_' "$work/roles.env"; } >"$work/emu.env"
EPORT=$("$top/scripts/lib/free-ports" 1)
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "$top/build/release/bin/ak-emulator" \
  --template "$work/t.yaml" --root "$top" --flavour release --port "$EPORT" --env-file "$work/emu.env" \
  >"$work/emulator.log" 2>&1 &
emu_pid=$!
for _ in $(seq 1 100); do curl -fsS -m 2 "http://127.0.0.1:$EPORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
out=$(curl -sS -m 20 -w ' %{http_code}' -X POST "http://127.0.0.1:$EPORT/v1/auth/wallet/verify" -H 'content-type: application/json' \
  -d "{\"request_id\":\"siwe-$(openssl rand -hex 16)\",\"signature\":\"0x$(openssl rand -hex 65)\"}")
check "AuthFunction without s3:ListBucket: the same unknown request is refused by S3 (403 access_denied)" \
  "${out##* } $(jq -r .reason <<<"${out% *}" 2>/dev/null)" "403 access_denied"

check_done exec-roles
