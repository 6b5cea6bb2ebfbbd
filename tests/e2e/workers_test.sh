#!/usr/bin/env bash
# tests/e2e/workers_test.sh — the six worker functions end to end on a private local stack
# (issue 7 acceptance): registry + scopes on anvil, SIWE login, cap mint, OIDC → STS
# credentials, then every worker route through the emulator's HTTP front with the X-Aws-*
# passthrough. Each refusal is checked with its exact reason and counted per trust layer
# (DESIGN §2): L1 broker mint, L2 worker verify, L3 AWS IAM (STS tag), L4 bucket/role per class,
# L5 signer roles; plus faults (F) and the positive flow (P). Latency of store and fetch is
# printed, never asserted. A scan of every log under the stack's logs/ must find none of the
# secrets, KEKs, tokens or X-Aws-* values used.
#
# It always starts its own stack (scripts/stack-up in a private AK_LOCAL_DIR) because the fault
# checks stop and restart the signer and freeze radosgw and anvil; stopped via trap.
#   AK_FLAVOUR=dev tests/e2e/workers_test.sh   (default release, like stack-up)
#   KEEP=1 keeps the stack directory (logs) after the run.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
T0=$(date +%s)
declare -A LP LF
fails=0
pass() { echo "PASS [$1] $2"; LP[$1]=$(( ${LP[$1]:-0} + 1 )); }
fail() { echo "FAIL [$1] $2${3:+ ($3)}"; LF[$1]=$(( ${LF[$1]:-0} + 1 )); fails=$((fails + 1)); }
# expect LAYER NAME WANT_STATUS WANT_REASON "<status> <body>"
expect() {
  local layer=$1 name=$2 st=$3 reason=$4 got=$5 gst gbody greason
  gst=${got%% *}; gbody=${got#* }
  greason=$(jq -r '.reason // empty' <<<"$gbody" 2>/dev/null)
  if [ "$gst" = "$st" ] && { [ -z "$reason" ] || [ "$greason" = "$reason" ]; }; then pass "$layer" "$name"
  else fail "$layer" "$name" "got $gst ${greason:-$(head -c 160 <<<"$gbody")}, want $st $reason"; fi
}

# ---------------------------------------------------------------- the stack (private)
L=$(mktemp -d "${TMPDIR:-/tmp}/ak-workers-e2e.XXXXXX")
export AK_LOCAL_DIR=$L
WORK=$L/work; mkdir -p "$WORK"
stopped=()
cleanup() {
  for p in "${stopped[@]}"; do kill -CONT "$p" 2>/dev/null; done
  AK_LOCAL_DIR=$L "$top/scripts/stack-down" >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $L"; else rm -rf "$L"; fi
}
trap cleanup EXIT
if ! "$top/scripts/stack-up" 2>&1 | sed -u 's/^/    /'; then
  echo "FAIL [P] stack_up"; exit 1
fi
# shellcheck disable=SC1091
. "$L/stack.env"
export AK_WORK=$WORK
# shellcheck disable=SC1091
. "$top/tests/lib/akclient.sh"
ADMIN_AWS() { /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" "$@"; }
# Objects written through an STS role session belong to that session's identity on RGW (no
# BucketOwnerEnforced in Ceph 16), so the admin user cannot read them: these helpers act with
# the actor's own STS credentials (S3AS CREDS_JSON aws-args...).
S3AS() { local c=$1; shift; AWS_ACCESS_KEY_ID=$(jq -r .access_key_id <<<"$c") AWS_SECRET_ACCESS_KEY=$(jq -r .secret_access_key <<<"$c") \
  AWS_SESSION_TOKEN=$(jq -r .session_token <<<"$c") /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" "$@"; }
S3GET() { S3AS "$1" s3api get-object --bucket "$2" --key "$3" "$4" >/dev/null 2>"$WORK/s3.err"; }
S3PUT() { S3AS "$1" s3api put-object --bucket "$2" --key "$3" --body "$4" >/dev/null 2>"$WORK/s3.err"; }
# etag CREDS BUCKET KEY: prints the ETag, or "none" (so that two failed reads never compare equal by accident)
etag() { S3AS "$1" s3api head-object --bucket "$2" --key "$3" --query ETag --output text 2>/dev/null || echo "none-$RANDOM"; }
secrets=() # every secret value used, for the final log scan
keep_secret() { [ -n "$1" ] && secrets+=("$1"); }

# ---------------------------------------------------------------- identities on chain
ak_new_wallet MASTER && ak_new_wallet AGENT && ak_new_wallet AGENT2 && ak_new_wallet REV \
  && ak_new_wallet MASTER2 && ak_new_wallet OTHER || { echo "FAIL [P] setup_wallets"; exit 1; }
PK=$WORK/master.passkey PK2=$WORK/master2.passkey
ak_passkey_new "$PK" && ak_passkey_new "$PK2" \
  && ak_register_first_master "$MASTER_KEY" "$PK" && ak_register_first_master "$MASTER2_KEY" "$PK2" \
  && ak_register_agent "$MASTER_KEY" "$AGENT_KEY" && ak_register_agent "$MASTER_KEY" "$AGENT2_KEY" \
  && ak_register_agent "$MASTER_KEY" "$REV_KEY" && ak_register_agent "$MASTER2_KEY" "$OTHER_KEY" \
  && ak_set_scope "$MASTER_KEY" "$PK" 2 "$AGENT_ADDR" credentials:openrouter memory:notes \
  && ak_set_scope "$MASTER_KEY" "$PK" 3 "$AGENT2_ADDR" credentials:openrouter \
  && ak_set_scope "$MASTER_KEY" "$PK" 4 "$REV_ADDR" credentials:openrouter \
  && ak_set_scope "$MASTER2_KEY" "$PK2" 2 "$OTHER_ADDR" credentials:openrouter \
  || { echo "FAIL [P] setup_registry"; exit 1; }
for k in MASTER AGENT AGENT2 REV MASTER2 OTHER; do v=${k}_KEY; keep_secret "${!v#0x}"; done
OP=0x$(ak_omni "$MASTER_ADDR"); OP_HEX=${OP#0x}
AG=0x$(ak_omni "$AGENT_ADDR"); AG_HEX=${AG#0x}
AG2=0x$(ak_omni "$AGENT2_ADDR"); AG2_HEX=${AG2#0x}
RV=0x$(ak_omni "$REV_ADDR"); RV_HEX=${RV#0x}
OP2=0x$(ak_omni "$MASTER2_ADDR")
OT=0x$(ak_omni "$OTHER_ADDR"); OT_HEX=${OT#0x}
"$top/scripts/local-iam" allow-actor "$AG_HEX" "$AG2_HEX" "$RV_HEX" "$OT_HEX" "$OP_HEX" >"$WORK/iam.log" 2>&1 \
  || { echo "FAIL [P] local_iam_allow_actor"; exit 1; }
pass P setup_registry_scopes_iam

AGENT_S=$(ak_login "$AGENT_KEY") && AGENT2_S=$(ak_login "$AGENT2_KEY") && REV_S=$(ak_login "$REV_KEY") \
  && MASTER_S=$(ak_login "$MASTER_KEY") && OTHER_S=$(ak_login "$OTHER_KEY") && pass P siwe_logins \
  || { fail P siwe_logins; exit 1; }
for s in "$AGENT_S" "$AGENT2_S" "$REV_S" "$MASTER_S" "$OTHER_S"; do keep_secret "${s##*.}"; done

# creds SESSION CLASS [ACTOR_HEX] → {"access_key_id","secret_access_key","session_token"} (kept secret).
# The client-side exchange of workers.md §4: POST /v1/mint-oidc-jwt, then an unsigned
# AssumeRoleWithWebIdentity on the class role. (POST /v1/mint-aws-creds does the same inside
# OidcFunction; radosgw's STS then fetches the JWKS from OidcDiscoveryFunction.)
creds() {
  local body r jwt role out
  body=${3:+"{\"actor_omni\":\"$3\"}"}
  r=$(ak_api POST /v1/mint-oidc-jwt "$body" -H "authorization: Bearer $1")
  [ "${r%% *}" = 200 ] || { echo "mint-oidc-jwt: $r" >&2; return 1; }
  jwt=$(jq -r .jwt <<<"${r#* }"); keep_secret "${jwt##*.}"
  if [ "$2" = memory ]; then role=$AK_MEMORY_ROLE_ARN; else role=$AK_VAULT_ROLE_ARN; fi
  out=$(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= /usr/bin/aws --no-sign-request --endpoint-url "$AK_STS_ENDPOINT" \
    sts assume-role-with-web-identity --role-arn "$role" --role-session-name "e2e-$(date +%s%N | cut -c1-16)" \
    --web-identity-token "$jwt" --duration-seconds 3600 --output json 2>"$WORK/sts.err") \
    || { echo "sts: $(head -c 300 "$WORK/sts.err")" >&2; return 1; }
  out=$(jq -c '.Credentials | {access_key_id: .AccessKeyId, secret_access_key: .SecretAccessKey, session_token: .SessionToken}' <<<"$out")
  keep_secret "$(jq -r .secret_access_key <<<"$out")"; keep_secret "$(jq -r .session_token <<<"$out" | cut -c1-60)"
  keep_secret "$(jq -r .access_key_id <<<"$out")"
  printf '%s' "$out"
}
AG_CRED=$(creds "$AGENT_S" credentials) && AG_MEM=$(creds "$AGENT_S" memory) \
  && AG2_CRED=$(creds "$AGENT2_S" credentials) && RV_CRED=$(creds "$REV_S" credentials) \
  && OT_CRED=$(creds "$OTHER_S" credentials) && pass P oidc_sts_credentials || { fail P oidc_sts_credentials; exit 1; }

# cap SESSION KEY OPERATOR ACTOR SERVICE ROUTE OP CLASS → prints the cap (or "" and the answer on fd 3)
cap() {
  local r c
  r=$(ak_cap "$1" "$6" "$(ak_cap_body "$2" "$3" "$4" "$5" "$7" "$8")")
  if [ "${r%% *}" != 200 ]; then echo "cap mint $6: $r" >&2; return 1; fi
  c=$(jq -r .cap <<<"${r#* }"); keep_secret "${c##*.}"; printf '%s' "$c"
}
body_cap() { jq -cn --arg c "$1" '{cap:$c}'; }
body_store() { jq -cn --arg c "$1" --arg p "$2" '{cap:$c, plaintext_b64:$p}'; }

# A short-lived cap minted now, used at the end once it has expired (L2 freshness).
SHORT=$(ak_cap "$AGENT_S" cred-fetch "$(ak_cap_body "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter fetch credentials \
  | jq -c '.ttl_seconds = 60')")
SHORT_CAP=$(jq -r .cap <<<"${SHORT#* }"); SHORT_T=$(date +%s)

# ---------------------------------------------------------------- positive: credentials
SECRET="sk-or-v1-$(openssl rand -hex 24)-\"quoted\" and ünïcode"
SECRET_B64=$(printf '%s' "$SECRET" | base64 -w0); keep_secret "$SECRET"; keep_secret "$SECRET_B64"
C_STORE=$(cap "$AGENT_S" "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter cred-store store credentials)
C_FETCH=$(cap "$AGENT_S" "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter cred-fetch fetch credentials)
r=$(ak_worker "$AG_CRED" /v1/cred/store "$(body_store "$C_STORE" "$SECRET_B64")")
expect P cred_store 200 "" "$r"
CKEY=bots/$AG_HEX/credentials/openrouter.enc
[ "$(jq -r .s3_key <<<"${r#* }")" = "$CKEY" ] && pass P cred_store_key_d9 || fail P cred_store_key_d9 "${r#* }"
r=$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH")")
expect P cred_fetch 200 "" "$r"
got=$(jq -r .plaintext_b64 <<<"${r#* }" | base64 -d)
[ "$got" = "$SECRET" ] && pass P cred_roundtrip_byte_for_byte || fail P cred_roundtrip_byte_for_byte
S3GET "$AG_CRED" "$AK_VAULT_BUCKET" "$CKEY" "$WORK/env.bin" && [ "$(head -c1 "$WORK/env.bin" | xxd -p)" = 04 ] \
  && ! grep -q "sk-or-v1" "$WORK/env.bin" && pass P envelope_0x04_at_rest || fail P envelope_0x04_at_rest

# ---------------------------------------------------------------- positive: memory
MEMV=$(head -c 3000 /dev/urandom | base64 -w0); keep_secret "${MEMV:0:64}"
M_PUT=$(cap "$AGENT_S" "$AGENT_KEY" "$OP_HEX" "$AG_HEX" notes memory-put store memory)
M_GET=$(cap "$AGENT_S" "$AGENT_KEY" "$OP_HEX" "$AG_HEX" notes memory-get fetch memory)
expect P memory_put 200 "" "$(ak_worker "$AG_MEM" /v1/memory/put "$(body_store "$M_PUT" "$MEMV")")"
r=$(ak_worker "$AG_MEM" /v1/memory/get "$(body_cap "$M_GET")")
expect P memory_get 200 "" "$r"
[ "$(jq -r .plaintext_b64 <<<"${r#* }")" = "$MEMV" ] && pass P memory_roundtrip_byte_for_byte || fail P memory_roundtrip_byte_for_byte

# ---------------------------------------------------------------- latency (printed, not asserted)
lat() { # PATH CREDS BODY N → "min median max" ms
  local i t ts=()
  for i in $(seq "$4"); do
    t=$(curl -sS -o /dev/null -w '%{time_total}' -X POST "$AK_API_URL$1" -H 'content-type: application/json' \
      -H "x-aws-access-key-id: $(jq -r .access_key_id <<<"$2")" -H "x-aws-secret-access-key: $(jq -r .secret_access_key <<<"$2")" \
      -H "x-aws-session-token: $(jq -r .session_token <<<"$2")" --data-binary "$3")
    ts+=("$(awk -v t="$t" 'BEGIN{printf "%.1f", t*1000}')")
  done
  printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END{printf "min %s ms, median %s ms, max %s ms (n=%d)", a[1], a[int((NR+1)/2)], a[NR], NR}'
}
echo "latency cred store (end to end via the emulator): $(lat /v1/cred/store "$AG_CRED" "$(body_store "$C_STORE" "$SECRET_B64")" 15)"
echo "latency cred fetch (end to end via the emulator): $(lat /v1/cred/fetch "$AG_CRED" "$(body_cap "$C_FETCH")" 15)"

# ---------------------------------------------------------------- L1 broker mint
expect L1 mint_for_another_operator 403 operator_mismatch \
  "$(ak_cap "$AGENT_S" cred-fetch "$(ak_cap_body "$AGENT_KEY" "${OP2#0x}" "$AG_HEX" openrouter fetch credentials)")"
expect L1 mint_teardown_by_agent 403 teardown_requires_master \
  "$(ak_cap "$AGENT_S" cred-teardown "$(ak_cap_body "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter teardown credentials)")"

# ---------------------------------------------------------------- STS headers (L2, D11 step 1)
expect L2 sts_headers_missing 401 sts_headers_missing "$(ak_api POST /v1/cred/fetch "$(body_cap "$C_FETCH")")"
expect L2 sts_headers_partial 401 sts_headers_partial "$(ak_api POST /v1/cred/fetch "$(body_cap "$C_FETCH")" \
  -H "x-aws-access-key-id: $(jq -r .access_key_id <<<"$AG_CRED")" -H "x-aws-session-token: $(jq -r .session_token <<<"$AG_CRED")")"
expect L2 sts_headers_one_empty 401 sts_headers_partial "$(ak_api POST /v1/memory/get "$(body_cap "$M_GET")" \
  -H "x-aws-access-key-id: $(jq -r .access_key_id <<<"$AG_MEM")" -H "x-aws-secret-access-key: $(jq -r .secret_access_key <<<"$AG_MEM")" \
  -H "x-aws-session-token;")"
expect L2 body_unknown_field 400 unknown_field \
  "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(jq -cn --arg c "$C_FETCH" '{cap:$c, service:"github"}')")"

# ---------------------------------------------------------------- L2 cap checks
# tampered payload (one character of the claims changed)
pl=$(cut -d. -f2 <<<"$C_FETCH"); h=$(cut -d. -f1 <<<"$C_FETCH"); sg=$(cut -d. -f3 <<<"$C_FETCH")
pl2=$(printf '%s' "$pl" | base64 -d 2>/dev/null | jq -c '.service = "github"' | base64 -w0 | tr '+/' '-_' | tr -d '=')
expect L2 cap_tampered 403 broker_sig_invalid "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$h.$pl2.$sg")")"
# wrong key: the same header and claims signed by a key that is not the signer's cap key
WRONG=$(node -e '
const c=require("crypto");const [h,p]=process.argv[1].split(".");
const {privateKey}=c.generateKeyPairSync("ec",{namedCurve:"P-256"});
const s=c.sign("sha256",Buffer.from(h+"."+p),{key:privateKey,dsaEncoding:"ieee-p1363"});
process.stdout.write(h+"."+p+"."+s.toString("base64url"));' "$C_FETCH")
expect L2 cap_wrong_key 403 broker_sig_invalid "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$WRONG")")"
expect L2 cap_op_mismatch 403 cap_op_mismatch "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_STORE")")"
# credentials cap to the memory worker and the reverse (L4 one class per worker)
expect L4 cred_cap_to_memory_worker 403 cap_data_class_mismatch "$(ak_worker "$AG_MEM" /v1/memory/get "$(body_cap "$C_FETCH")")"
expect L4 memory_cap_to_cred_worker 403 cap_data_class_mismatch "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$M_GET")")"
expect L4 memory_put_cap_to_cred_store 403 cap_data_class_mismatch \
  "$(ak_worker "$AG_CRED" /v1/cred/store "$(body_store "$M_PUT" "$SECRET_B64")")"
# the memory role's STS credentials on the credentials worker's bucket (one role per class)
R_M=$(ak_worker "$AG_MEM" /v1/cred/fetch "$(body_cap "$C_FETCH")")
expect L4 memory_role_creds_on_vault_bucket 403 access_denied "$R_M"

# ---------------------------------------------------------------- L3 IAM: STS of A with B's cap
C2_STORE=$(cap "$AGENT2_S" "$AGENT2_KEY" "$OP_HEX" "$AG2_HEX" openrouter cred-store store credentials)
C2_FETCH=$(cap "$AGENT2_S" "$AGENT2_KEY" "$OP_HEX" "$AG2_HEX" openrouter cred-fetch fetch credentials)
PREV="agent2-previous-$(openssl rand -hex 8)"; keep_secret "$PREV"
expect P cred_store_agent2 200 "" "$(ak_worker "$AG2_CRED" /v1/cred/store "$(body_store "$C2_STORE" "$(printf '%s' "$PREV" | base64 -w0)")")"
K2=bots/$AG2_HEX/credentials/openrouter.enc
E2=$(etag "$AG2_CRED" "$AK_VAULT_BUCKET" "$K2"); case $E2 in none-*) fail F etag_readable "cannot read $K2";; esac
expect L3 sts_of_A_with_B_fetch_cap 403 access_denied "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C2_FETCH")")"
# and a store with A's credentials: fails at its very last step (the PUT), after KEK, envelope
# and audit: the previous version of B's object must be intact (store atomicity)
expect L3 sts_of_A_with_B_store_cap 403 access_denied \
  "$(ak_worker "$AG_CRED" /v1/cred/store "$(body_store "$C2_STORE" "$(printf 'overwrite' | base64 -w0)")")"
[ "$(etag "$AG2_CRED" "$AK_VAULT_BUCKET" "$K2")" = "$E2" ] && pass F store_failed_at_put_previous_version_intact \
  || fail F store_failed_at_put_previous_version_intact
# a cap minted for another operator's agent, presented with our agent's credentials
C_OT=$(cap "$OTHER_S" "$OTHER_KEY" "${OP2#0x}" "$OT_HEX" openrouter cred-fetch fetch credentials)
expect L3 other_operators_cap_with_our_creds 403 access_denied "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_OT")")"

# ---------------------------------------------------------------- L2 chain: revoked after mint
RV_STORE=$(cap "$REV_S" "$REV_KEY" "$OP_HEX" "$RV_HEX" openrouter cred-store store credentials)
RV_FETCH=$(cap "$REV_S" "$REV_KEY" "$OP_HEX" "$RV_HEX" openrouter cred-fetch fetch credentials)
expect P cred_store_rev 200 "" "$(ak_worker "$RV_CRED" /v1/cred/store "$(body_store "$RV_STORE" "$(printf 'rv' | base64 -w0)")")"
ak_revoke_agent "$MASTER_KEY" "$REV_ADDR" || fail L2 revoke_agent
expect L2 device_revoked_after_mint 403 device_revoked "$(ak_worker "$RV_CRED" /v1/cred/fetch "$(body_cap "$RV_FETCH")")"

# ---------------------------------------------------------------- L5 signer roles
sig_derive() { # ROLE CLASS [CAP]  (D20: the derive carries the agent's cap, verified by the signer)
  curl -sS -o "$WORK/sig.json" -w '%{http_code}' --cacert "$AK_PKI_DIR/ca.crt" --cert "$AK_PKI_DIR/$1.crt" \
    --key "$AK_PKI_DIR/$1.key" -X POST "$AK_SIGNER_URL/v1/kek/derive" -H 'content-type: application/json' \
    --data-binary "$(jq -cn --arg dc "$2" --arg o "$OP_HEX" --arg a "$AG_HEX" --arg c "${3-}" \
      '{data_class:$dc, operator_omni:$o, actor_omni:$a, epoch:1, op:"fetch"} + (if $c == "" then {} else {cap:$c} end)')"
  printf ' %s' "$(jq -c 'del(.kek_b64)' "$WORK/sig.json" 2>/dev/null)"
}
C5=$(cap "$AGENT_S" "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter cred-fetch fetch credentials)
M5=$(cap "$AGENT_S" "$AGENT_KEY" "$OP_HEX" "$AG_HEX" notes memory-get fetch memory)
expect L5 memory_role_asks_credentials_kek 403 role_not_allowed "$(sig_derive worker-memory credentials "$C5")"
expect L5 credentials_role_asks_memory_kek 403 role_not_allowed "$(sig_derive worker-credentials memory "$M5")"
for role in auth oidc cap-mint audit; do
  expect L5 "${role}_role_asks_kek" 403 role_not_allowed "$(sig_derive $role credentials "$C5")"
done
expect L5 worker_cert_without_cap_derives_nothing 400 missing_field "$(sig_derive worker-credentials credentials)"
expect L5 worker_cert_with_other_class_cap 403 cap_data_class_mismatch "$(sig_derive worker-credentials credentials "$M5")"
if curl -sS -o /dev/null --cacert "$AK_PKI_DIR/ca.crt" --cert "$AK_PKI_DIR/other-worker-credentials.crt" \
   --key "$AK_PKI_DIR/other-worker-credentials.key" "$AK_SIGNER_URL/v1/health" 2>/dev/null; then
  fail L5 foreign_ca_client_refused; else pass L5 foreign_ca_client_refused; fi
# the KEKs actually used (epoch 1), kept for the log scan
for cls in credentials memory; do
  role=worker-$cls c=$C5; [ $cls = memory ] && c=$M5
  sig_derive "$role" "$cls" "$c" >/dev/null
  cp "$WORK/sig.json" "$WORK/kek.json"
  k=$(jq -r .kek_b64 "$WORK/kek.json"); keep_secret "$k"; keep_secret "$(printf '%s' "$k" | base64 -d | xxd -p -c 64)"
  [ -n "$k" ] && [ "$k" != null ] && pass L5 "${cls}_kek_with_cap" || fail L5 "${cls}_kek_with_cap" "$(cat "$WORK/kek.json")"
done
rm -f "$WORK/kek.json" "$WORK/sig.json"

# ---------------------------------------------------------------- envelope modified in S3
S3GET "$AG_CRED" "$AK_VAULT_BUCKET" "$CKEY" "$WORK/env.bin"
/usr/bin/python3 - "$WORK/env.bin" <<'PY'
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[20]^=1; open(p,'wb').write(b)
PY
S3PUT "$AG_CRED" "$AK_VAULT_BUCKET" "$CKEY" "$WORK/env.bin"
r=$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH")")
expect L2 envelope_modified_in_s3 422 envelope_auth_failed "$r"
jq -e 'has("plaintext_b64") | not' <<<"${r#* }" >/dev/null && pass L2 envelope_modified_nothing_returned \
  || fail L2 envelope_modified_nothing_returned
expect P cred_store_again 200 "" "$(ak_worker "$AG_CRED" /v1/cred/store "$(body_store "$C_STORE" "$SECRET_B64")")"

# ---------------------------------------------------------------- K3 epoch advanced → re-key
E_NEW=$(ak_advance_epoch) && [ "$E_NEW" = 2 ] && pass P epoch_advanced_to_2 || fail P epoch_advanced "$E_NEW"
expect L2 old_epoch_cap_refused 403 k3_epoch_mismatch "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH")")"
C_FETCH2=$(cap "$AGENT_S" "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter cred-fetch fetch credentials)
r=$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH2")")
expect P fetch_after_epoch_advance 200 "" "$r"
if [ "$(jq -r .plaintext_b64 <<<"${r#* }" | base64 -d)" = "$SECRET" ] && [ "$(jq -r .rekeyed <<<"${r#* }")" = true ] \
  && [ "$(jq -r .k3_epoch <<<"${r#* }")" = 2 ]; then pass P secret_readable_and_rekeyed; else fail P secret_readable_and_rekeyed "${r#* }"; fi
S3GET "$AG_CRED" "$AK_VAULT_BUCKET" "$CKEY" "$WORK/env.bin"
[ "$(head -c5 "$WORK/env.bin" | xxd -p)" = 0400000002 ] && pass P stored_envelope_now_epoch_2 || fail P stored_envelope_now_epoch_2
r=$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH2")")
[ "$(jq -r .rekeyed <<<"${r#* }")" = false ] && pass P second_fetch_not_rekeyed || fail P second_fetch_not_rekeyed "$r"
C_STORE2=$(cap "$AGENT_S" "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter cred-store store credentials)

# ---------------------------------------------------------------- faults (fail closed, nothing written)
E_BEFORE=$(etag "$AG_CRED" "$AK_VAULT_BUCKET" "$CKEY")
case $E_BEFORE in none-*) fail F etag_readable "cannot read $CKEY";; esac
# signer down: stop it, store and fetch, restart it with the same arguments
SPID=$(cat "$L/pids/signer"); SARGS=$(tr '\0' '\n' <"/proc/$SPID/cmdline")
kill -TERM "$SPID"; for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
expect F signer_down_store 503 signer_unavailable \
  "$(ak_worker "$AG_CRED" /v1/cred/store "$(body_store "$C_STORE2" "$(printf 'new' | base64 -w0)")")"
expect F signer_down_fetch 503 signer_unavailable "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH2")")"
[ "$(etag "$AG_CRED" "$AK_VAULT_BUCKET" "$CKEY")" = "$E_BEFORE" ] && pass F signer_down_nothing_written || fail F signer_down_nothing_written
rm -f "$L/signer/ready"
mapfile -t sa <<<"$SARGS"
"${sa[@]}" >>"$L/logs/signer.log" 2>&1 &
echo $! >"$L/pids/signer"
for _ in $(seq 100); do [ -s "$L/signer/ready" ] && break; sleep 0.1; done
expect P signer_back_fetch 200 "" "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH2")")"
# chain RPC down: freeze anvil (its state survives), store → 502 chain_rpc_error
APID=$(cat "$L/pids/anvil"); kill -STOP "$APID"; stopped+=("$APID")
expect F chain_down_store 502 chain_rpc_error \
  "$(ak_worker "$AG_CRED" /v1/cred/store "$(body_store "$C_STORE2" "$(printf 'new' | base64 -w0)")")"
kill -CONT "$APID"
[ "$(etag "$AG_CRED" "$AK_VAULT_BUCKET" "$CKEY")" = "$E_BEFORE" ] && pass F chain_down_nothing_written || fail F chain_down_nothing_written
# S3 down: freeze radosgw. A fetch fails at its GET (502 s3_error); a store fails at its first S3
# write, the audit row (503 audit_write_failed), so the data PUT is never sent. Both wait for their
# function's deadline, so they are sent together (two functions, two instances).
GPID=$(cat "$L/ceph/run/pid.rgw"); kill -STOP "$GPID"; stopped+=("$GPID")
ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH2")" > "$WORK/s3down.fetch" &
f_job=$!
ak_worker "$AG_CRED" /v1/cred/store "$(body_store "$C_STORE2" "$(printf 'new' | base64 -w0)")" > "$WORK/s3down.store" &
s_job=$!
wait "$f_job" "$s_job"
expect F s3_down_fetch 502 s3_error "$(cat "$WORK/s3down.fetch")"
expect F s3_down_store 503 audit_write_failed "$(cat "$WORK/s3down.store")"
kill -CONT "$GPID"; sleep 1
[ "$(etag "$AG_CRED" "$AK_VAULT_BUCKET" "$CKEY")" = "$E_BEFORE" ] && pass F s3_down_nothing_written || fail F s3_down_nothing_written
r=$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$C_FETCH2")")
[ "$(jq -r .plaintext_b64 <<<"${r#* }" | base64 -d)" = "$SECRET" ] && pass F previous_version_intact_after_faults \
  || fail F previous_version_intact_after_faults "$r"

# ---------------------------------------------------------------- teardown (> 1000 keys, every page)
/usr/bin/python3 - "$AK_MEMORY_BUCKET" "bots/$AG_HEX/memory/" <<'PY'
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name=os.environ.get("AWS_REGION", "us-east-1"),
                  config=Config(s3={"addressing_style": "path"}, max_pool_connections=16,
                                connect_timeout=5, read_timeout=30))
with ThreadPoolExecutor(16) as ex:
    list(ex.map(lambda i: s3.put_object(Bucket=sys.argv[1], Key="%sbulk%05d.enc" % (sys.argv[2], i), Body=b"x"), range(2345)))
PY
echo keep >"$WORK/keep.bin"; ADMIN_AWS s3api put-object --bucket "$AK_MEMORY_BUCKET" --key "bots/$AG2_HEX/memory/keep.enc" --body "$WORK/keep.bin" >/dev/null
M_TD_AGENT=$(ak_cap "$AGENT_S" memory-teardown "$(ak_cap_body "$AGENT_KEY" "$OP_HEX" "$AG_HEX" notes teardown memory)")
expect L1 teardown_cap_by_agent 403 teardown_requires_master "$M_TD_AGENT"
M_TD=$(cap "$MASTER_S" "$MASTER_KEY" "$OP_HEX" "$AG_HEX" notes memory-teardown teardown memory)
# the master asks STS credentials for the bound actor (D17)
MS_MEM=$(creds "$MASTER_S" memory "$AG_HEX") || fail P master_creds_for_actor
expect L2 teardown_cap_on_fetch_route 403 cap_op_mismatch "$(ak_worker "$MS_MEM" /v1/memory/get "$(body_cap "$M_TD")")"
t0=$(date +%s%N)
r=$(ak_worker "$MS_MEM" /v1/memory/teardown "$(body_cap "$M_TD")")
t1=$(date +%s%N)
expect P memory_teardown 200 "" "$r"
n=$(jq -r .keys_deleted <<<"${r#* }")
[ "$n" = 2346 ] && pass P teardown_deleted_all_pages "2346 keys" || fail P teardown_deleted_all_pages "keys_deleted=$n"
echo "teardown of 2346 objects: $(( (t1 - t0) / 1000000 )) ms"
left=$(ADMIN_AWS s3api list-objects-v2 --bucket "$AK_MEMORY_BUCKET" --prefix "bots/$AG_HEX/memory/" --output json 2>/dev/null | jq -s '[.[] | .Contents // [] | length] | add // 0')
[ "$left" = 0 ] && pass P teardown_prefix_empty || fail P teardown_prefix_empty "KeyCount=$left"
ADMIN_AWS s3api head-object --bucket "$AK_MEMORY_BUCKET" --key "bots/$AG2_HEX/memory/keep.enc" >/dev/null 2>&1 \
  && pass P teardown_other_actor_untouched || fail P teardown_other_actor_untouched
S3AS "$AG_CRED" s3api head-object --bucket "$AK_VAULT_BUCKET" --key "$CKEY" >/dev/null 2>&1 \
  && pass P teardown_other_class_untouched || fail P teardown_other_class_untouched
# a revoked agent's data can still be wiped by its master (actorOperator kept, D17)
C_TD_RV=$(cap "$MASTER_S" "$MASTER_KEY" "$OP_HEX" "$RV_HEX" openrouter cred-teardown teardown credentials)
MS_RV=$(creds "$MASTER_S" credentials "$RV_HEX")
r=$(ak_worker "$MS_RV" /v1/cred/teardown "$(body_cap "$C_TD_RV")")
expect P teardown_revoked_agent 200 "" "$r"
[ "$(jq -r .keys_deleted <<<"${r#* }")" = 1 ] && pass P teardown_revoked_agent_count || fail P teardown_revoked_agent_count "$r"

# ---------------------------------------------------------------- the expired cap (minted at the start)
wait_s=$(( SHORT_T + 62 - $(date +%s) )); [ "$wait_s" -gt 0 ] && sleep "$wait_s"
expect L2 cap_expired 403 cap_freshness_failed "$(ak_worker "$AG_CRED" /v1/cred/fetch "$(body_cap "$SHORT_CAP")")"
keep_secret "${SHORT_CAP##*.}"

# ---------------------------------------------------------------- audit events (D12)
n=$(ADMIN_AWS s3api list-objects-v2 --bucket "$AK_AUDIT_BUCKET" --prefix "audit/pending/$OP_HEX/" --query KeyCount --output text)
ADMIN_AWS s3 cp --recursive "s3://$AK_AUDIT_BUCKET/audit/pending/$OP_HEX/" "$WORK/audit" >/dev/null 2>&1
na=$(cat "$WORK"/audit/*.json 2>/dev/null | jq -s '[.[] | select(.action=="store" or .action=="fetch" or .action=="teardown")] | length')
[ "${na:-0}" -ge 10 ] && pass P audit_events_for_worker_ops "$na of $n pending" || fail P audit_events_for_worker_ops "worker events=$na"
cat "$WORK"/audit/*.json 2>/dev/null | jq -se 'map(select(.action=="teardown" and .outcome=="ok")) | length >= 1' >/dev/null \
  && pass P audit_teardown_event || fail P audit_teardown_event

# ---------------------------------------------------------------- log scan
leaks=0
for s in "${secrets[@]}"; do
  [ "${#s}" -ge 12 ] || continue
  if grep -rlF -- "$s" "$L/logs" >/dev/null 2>&1; then leaks=$((leaks + 1)); echo "  leaked (len ${#s}) in: $(grep -rlF -- "$s" "$L/logs" | head -3 | tr '\n' ' ')"; fi
done
[ "$leaks" = 0 ] && pass P log_scan_no_secrets "${#secrets[@]} values, $(cat "$L"/logs/* 2>/dev/null | wc -l) lines" \
  || fail P log_scan_no_secrets "$leaks values found"

# ---------------------------------------------------------------- summary
echo "---- per layer (pass/fail)"
for l in P L1 L2 L3 L4 L5 F; do printf '  %-3s %3d pass %3d fail\n' "$l" "${LP[$l]:-0}" "${LF[$l]:-0}"; done
echo "workers e2e: $(( $(date +%s) - T0 )) s, $fails failed"
[ "$fails" = 0 ]
