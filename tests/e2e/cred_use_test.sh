#!/usr/bin/env bash
# tests/e2e/cred_use_test.sh — D19 use without holding on a private local stack (issue 14, the
# server side): an operator provisions a use-only credential for its agent (a master store cap
# for a bound actor), the agent calls a local HTTPS "third-party API" through POST /v1/cred/use
# and never sees the secret; every refusal is checked with its exact reason.
#
# The third party (tests/e2e/fixtures/echo_https.py) listens on 127.0.0.1 with a certificate
# issued here from the stack's dev CA; scripts/stack-up gives CredUseFunction alone
# AK_CRED_USE_ALLOW_LOOPBACK=1 and SSL_CERT_FILE=<dev CA> (the template sets neither). The
# loopback refusal without that setting runs on a second emulator started here from the same
# env file minus that one line (same template, same stack).
#
# Client side: tests/lib/akclient.sh. The added latency of a /v1/cred/use call over a direct
# call to the echo server is printed, never asserted.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" cred-use
stack_test_up
export AK_WORK=$work/client
mkdir -p "$AK_WORK"
# shellcheck disable=SC1091
. "$root/tests/lib/akclient.sh"

# ---------------------------------------------------------------- the third party
read -r EPORT EMU2_PORT <<<"$("$root/scripts/lib/free-ports" 2)" || die cred_use_free_ports
TP=$work/thirdparty
ECHO_PID=$("$root/tests/e2e/fixtures/thirdparty-up" "$TP" "$EPORT" "$AK_PKI_DIR") || die cred_use_echo_up
stack_test_on_exit "kill $ECHO_PID"
API=https://localhost:$EPORT

# ---------------------------------------------------------------- identities, scopes
ak_new_wallet MASTER && ak_new_wallet AGENT && ak_new_wallet STRANGER || die cred_use_wallets
PK=$AK_WORK/master.passkey
ak_passkey_new "$PK" && ak_register_first_master "$MASTER_KEY" "$PK" && ak_register_agent "$MASTER_KEY" "$AGENT_KEY" \
  && ak_set_scope "$MASTER_KEY" "$PK" 2 "$AGENT_ADDR" credentials:echoapi credentials:plainapi credentials:queryapi \
  || die cred_use_registry
OP_HEX=$(ak_omni "$MASTER_ADDR"); AG_HEX=$(ak_omni "$AGENT_ADDR"); ST_HEX=$(ak_omni "$STRANGER_ADDR")
# Ceph cannot evaluate the ABAC tag variable: local-iam writes one statement per known actor.
"$root/scripts/local-iam" allow-actor "$AG_HEX" "$OP_HEX" >"$work/iam.log" 2>&1 || die cred_use_local_iam
MASTER_S=$(ak_login "$MASTER_KEY") && AGENT_S=$(ak_login "$AGENT_KEY") || die cred_use_logins

# creds SESSION [ACTOR_HEX]: STS credentials of the credentials role for the actor (mint-oidc-jwt,
# then AssumeRoleWithWebIdentity; see tests/e2e/workers_test.sh for why not mint-aws-creds here).
creds() {
  local r jwt out body=""
  [ -n "${2:-}" ] && body="{\"actor_omni\":\"$2\"}"
  r=$(ak_api POST /v1/mint-oidc-jwt "$body" -H "authorization: Bearer $1")
  [ "${r%% *}" = 200 ] || { echo "mint-oidc-jwt: $r" >&2; return 1; }
  jwt=$(jq -r .jwt <<<"${r#* }")
  out=$(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= /usr/bin/aws --no-sign-request --endpoint-url "$AK_STS_ENDPOINT" \
    sts assume-role-with-web-identity --role-arn "$AK_VAULT_ROLE_ARN" --role-session-name "use-$(date +%s%N | cut -c1-16)" \
    --web-identity-token "$jwt" --duration-seconds 3600 --output json 2>"$AK_WORK/sts.err") \
    || { echo "sts: $(head -c 300 "$AK_WORK/sts.err")" >&2; return 1; }
  jq -c '.Credentials | {access_key_id: .AccessKeyId, secret_access_key: .SecretAccessKey, session_token: .SessionToken}' <<<"$out"
}
# cap SESSION KEY ACTOR_HEX SERVICE ROUTE OP → the cap, or fails with the answer on stderr
cap() {
  local r
  r=$(ak_cap "$1" "$5" "$(ak_cap_body "$2" "$OP_HEX" "$3" "$4" "$6" credentials)")
  [ "${r%% *}" = 200 ] || { echo "cap $5: $r" >&2; return 1; }
  jq -r .cap <<<"${r#* }"
}
AG_CRED=$(creds "$AGENT_S") && MA_FOR_AG=$(creds "$MASTER_S" "$AG_HEX") || die cred_use_sts

# ---------------------------------------------------------------- D19: the operator provisions
SECRET="sk-live-$(openssl rand -hex 20)"
POLICY=$(jq -cn --arg h "localhost:$EPORT" \
  '{use_only:true, allowed_hosts:[$h], allowed_methods:["GET","POST"], inject:{header:"Authorization", template:"Bearer {}"}}')
r=$(ak_cap "$MASTER_S" cred-store "$(ak_cap_body "$MASTER_KEY" "$OP_HEX" "$AG_HEX" echoapi store credentials)")
check_reply d19_master_store_cap_for_bound_agent 200 "" "$r"
MCAP=$(jq -r .cap <<<"${r#* }")
check_reply d19_master_store_cap_for_unbound_actor_refused 403 actor_mismatch \
  "$(ak_cap "$MASTER_S" cred-store "$(ak_cap_body "$MASTER_KEY" "$OP_HEX" "$ST_HEX" echoapi store credentials)")"
check_reply d19_master_fetch_cap_for_agent_still_refused 403 actor_mismatch \
  "$(ak_cap "$MASTER_S" cred-fetch "$(ak_cap_body "$MASTER_KEY" "$OP_HEX" "$AG_HEX" echoapi fetch credentials)")"
check_reply d19_operator_provisions_use_only 200 "" "$(ak_worker "$MA_FOR_AG" /v1/cred/store "$(jq -cn --arg c "$MCAP" \
  --arg p "$(printf '%s' "$SECRET" | base64 -w0)" --argjson pol "$POLICY" '{cap:$c, plaintext_b64:$p, policy:$pol}')")"
check_reply store_policy_invalid_400 400 invalid_use_policy "$(ak_worker "$MA_FOR_AG" /v1/cred/store "$(jq -cn --arg c "$MCAP" \
  --arg p "$(printf '%s' "$SECRET" | base64 -w0)" '{cap:$c, plaintext_b64:$p, policy:{allowed_hosts:["10.0.0.1"], inject:{query:"k"}}}')")"

# ---------------------------------------------------------------- the agent uses it
UCAP=$(cap "$AGENT_S" "$AGENT_KEY" "$AG_HEX" echoapi cred-use use) && pass agent_mints_use_cap || fail agent_mints_use_cap
FCAP=$(cap "$AGENT_S" "$AGENT_KEY" "$AG_HEX" echoapi cred-fetch fetch) || fail agent_mints_fetch_cap
use() { # METHOD URL [EXTRA_JQ] → "<status> <body>"
  ak_worker "$AG_CRED" /v1/cred/use "$(jq -cn --arg c "$UCAP" --arg m "$1" --arg u "$2" "{cap:\$c, method:\$m, url:\$u} ${3:-}")"
}
ANSWERS=$AK_WORK/answers; : >"$ANSWERS"
r=$(use POST "$API/v1/echo?x=1" '+ {headers:{"content-type":"application/json"}, body_b64:"eyJhIjoxfQ=="}')
printf '%s\n' "$r" >>"$ANSWERS"
check_reply use_200 200 "" "$r"
[ "$(jq -r .status <<<"${r#* }")" = 200 ] && pass use_upstream_status || fail use_upstream_status
# the injected header arrived at the third party (compared by hash: the test prints no secret)
got=$(jq -r 'select(.path=="/v1/echo?x=1") | .headers.authorization' "$TP/requests.log" | head -1)
[ "$(printf '%s' "$got" | sha256sum)" = "$(printf 'Bearer %s' "$SECRET" | sha256sum)" ] \
  && pass injected_header_arrived || fail injected_header_arrived
BODY=$(jq -r .body_b64 <<<"${r#* }" | base64 -d)
[ "$(jq -r .body_b64 <<<"$BODY")" = "eyJhIjoxfQ==" ] && pass request_body_forwarded || fail request_body_forwarded
[ "$(jq -r '.headers["content-type"]' <<<"$BODY")" = application/json ] && pass agent_header_forwarded || fail agent_header_forwarded
[ "$(jq -r .authorization <<<"$BODY")" = "Bearer [REDACTED]" ] && pass echoed_header_redacted || fail echoed_header_redacted
[ "$(jq -r '.headers[] | select(.[0]=="x-echo-authorization") | .[1]' <<<"${r#* }")" = "Bearer [REDACTED]" ] \
  && pass response_header_redacted || fail response_header_redacted
n=$(jq -r .redactions <<<"${r#* }"); [ "${n:-0}" -ge 9 ] && pass "redactions_counted_$n" || fail "redactions_counted ($n)"

# ---------------------------------------------------------------- refusals
r=$(ak_worker "$AG_CRED" /v1/cred/fetch "$(jq -cn --arg c "$FCAP" '{cap:$c}')"); printf '%s\n' "$r" >>"$ANSWERS"
check_reply use_only_fetch_refused 403 use_only "$r"
r=$(use GET "https://localhost.localdomain:$EPORT/v1/echo"); printf '%s\n' "$r" >>"$ANSWERS"
check_reply host_outside_policy 403 host_not_allowed "$r"
check_reply host_other_port 403 host_not_allowed "$(use GET "https://localhost:1/v1/echo")"
check_reply ip_literal_host 403 host_not_allowed "$(use GET "https://127.0.0.1:$EPORT/v1/echo")"
check_reply http_scheme 403 scheme_not_allowed "$(use GET "http://localhost:$EPORT/v1/echo")"
check_reply method_outside_policy 405 method_not_allowed "$(use DELETE "$API/v1/echo")"
check_reply agent_sets_injected_header 400 invalid_input "$(use GET "$API/v1/echo" '+ {headers:{authorization:"Bearer mine"}}')"
before=$(grep -c followed "$TP/requests.log")
r=$(use GET "$API/redirect"); printf '%s\n' "$r" >>"$ANSWERS"
if [ "${r%% *}" = 200 ] && [ "$(jq -r .status <<<"${r#* }")" = 302 ] \
  && [ "$(jq -r '.headers[] | select(.[0]=="location") | .[1]' <<<"${r#* }")" = "https://127.0.0.1:$EPORT/followed" ] \
  && [ "$(grep -c followed "$TP/requests.log")" = "$before" ]; then pass redirect_returned_not_followed
else fail "redirect_returned_not_followed (${r:0:200})"; fi
# a plain (0x04, no policy) credential is fetchable but not usable
PCAP=$(cap "$AGENT_S" "$AGENT_KEY" "$AG_HEX" plainapi cred-store store)
check_reply plain_store 200 "" "$(ak_worker "$AG_CRED" /v1/cred/store "$(jq -cn --arg c "$PCAP" '{cap:$c, plaintext_b64:"cGxhaW4tc2VjcmV0"}')")"
PUCAP=$(cap "$AGENT_S" "$AGENT_KEY" "$AG_HEX" plainapi cred-use use)
check_reply no_policy_not_usable 403 use_policy_missing \
  "$(ak_worker "$AG_CRED" /v1/cred/use "$(jq -cn --arg c "$PUCAP" --arg u "$API/x" '{cap:$c, method:"GET", url:$u}')")"
check_reply fetch_cap_on_use_route 403 cap_op_mismatch \
  "$(ak_worker "$AG_CRED" /v1/cred/use "$(jq -cn --arg c "$FCAP" --arg u "$API/x" '{cap:$c, method:"GET", url:$u}')")"

# query injection (an agent's own usable credential): the key arrives percent-encoded in the
# URL, the echo reflects it raw, encoded and in the echoed path; none of it comes back
QSECRET="q+$(openssl rand -hex 12)/s=cr&t"
QCAP=$(cap "$AGENT_S" "$AGENT_KEY" "$AG_HEX" queryapi cred-store store)
check_reply query_policy_store 200 "" "$(ak_worker "$AG_CRED" /v1/cred/store "$(jq -cn --arg c "$QCAP" \
  --arg p "$(printf '%s' "$QSECRET" | base64 -w0)" --arg h "localhost:$EPORT" \
  '{cap:$c, plaintext_b64:$p, policy:{allowed_hosts:[$h], inject:{query:"key"}}}')")"
QUCAP=$(cap "$AGENT_S" "$AGENT_KEY" "$AG_HEX" queryapi cred-use use)
r=$(ak_worker "$AG_CRED" /v1/cred/use "$(jq -cn --arg c "$QUCAP" --arg u "$API/maps?q=1" '{cap:$c, method:"GET", url:$u}')")
printf '%s\n' "$r" >"$AK_WORK/query-answer"
check_reply query_use_200 200 "" "$r"
got=$(jq -r 'select(.path|startswith("/maps")) | .path' "$TP/requests.log" | head -1)
[ "$(printf '%s' "$got" | sha256sum)" = "$(printf '/maps?q=1&key=%s' "$(jq -rn --arg s "$QSECRET" '$s|@uri')" | sha256sum)" ] \
  && pass query_injected_percent_encoded || fail query_injected_percent_encoded
QDEC=$(jq -r .body_b64 <<<"${r#* }" | base64 -d)
QPCT=$(jq -rn --arg s "$QSECRET" '$s|@uri'); QB64=$(printf '%s' "$QSECRET" | base64 -w0)
leak=0
for form in "$QSECRET" "$QPCT" "$QB64" "$(printf '%s' "$QSECRET" | xxd -p | tr -d '\n')"; do
  grep -qF -- "$form" <<<"$QDEC" && leak=1; grep -qF -- "$form" "$AK_WORK/query-answer" && leak=1
done
[ "$leak" = 0 ] && [ "$(jq -r .path <<<"$QDEC")" = "/maps?q=1&key=[REDACTED]" ] && pass query_answer_free_of_secret \
  || fail query_answer_free_of_secret

# loopback without the local-stack setting: a second emulator, same env minus that line
grep -v '^CredUseFunction.AK_CRED_USE_ALLOW_LOOPBACK=' "$AK_EMULATOR_ENV" >"$work/emulator-noloop.env"
if [ "$AK_FLAVOUR" = release ]; then EMU=$root/build/release/bin/ak-emulator; else EMU=$root/build/dev/bin/ak-emulator; fi
"$EMU" --template "$root/template.yaml" --root "$root" --flavour "$AK_FLAVOUR" --port "$EMU2_PORT" \
  --env-file "$work/emulator-noloop.env" --pid-file "$work/emu2.pid" --ready-file "$work/emu2.ready" >"$work/emu2.log" 2>&1 &
EMU2_PID=$!
stack_test_on_exit "kill $EMU2_PID"
for _ in $(seq 100); do timeout 2 curl -fsS -o /dev/null "http://127.0.0.1:$EMU2_PORT/healthz" 2>/dev/null && break; sleep 0.2; done
r=$(AK_API_URL=http://127.0.0.1:$EMU2_PORT use GET "$API/v1/echo"); printf '%s\n' "$r" >>"$ANSWERS"
check_reply loopback_without_setting 403 destination_not_allowed "$r"
kill "$EMU2_PID" 2>/dev/null

# ---------------------------------------------------------------- the agent never saw the secret
B64=$(printf '%s' "$SECRET" | base64 -w0); B64URL=$(printf '%s' "$B64" | tr '+/' '-_' | tr -d =)
HEX=$(printf '%s' "$SECRET" | xxd -p | tr -d '\n')
scan() { # FILE → 0 when none of the forms occurs, in the text or in any body_b64 decoded
  local f=$1 dec
  dec=$(jq -r '.body_b64? // empty' <(sed 's/^[0-9]* //' "$f") 2>/dev/null | while read -r b; do printf '%s' "$b" | base64 -d 2>/dev/null; echo; done)
  for form in "$SECRET" "$B64" "${B64:4:24}" "$B64URL" "$HEX" "${SECRET:8:24}" "$QSECRET" "$QPCT" "$QB64"; do
    grep -qF -- "$form" "$f" && return 1
    grep -qF -- "$form" <<<"$dec" && return 1
  done
  return 0
}
scan "$ANSWERS" && pass agent_answers_free_of_secret || fail agent_answers_free_of_secret
cat "$L"/logs/*.log "$work/emu2.log" >"$AK_WORK/all-logs" 2>/dev/null
scan "$AK_WORK/all-logs" && pass logs_free_of_secret || fail logs_free_of_secret

# ---------------------------------------------------------------- audit rows
AUD=$AK_WORK/audit; mkdir -p "$AUD"
/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp --recursive --quiet "s3://$AK_AUDIT_BUCKET/audit/pending/$OP_HEX/" "$AUD/" \
  >/dev/null 2>&1
cat "$AUD"/*.json >"$AK_WORK/audit-all" 2>/dev/null
jq -s -e 'map(select(.action=="use" and .extra.phase=="after_call" and .extra.host=="localhost"
  and .extra.path=="/v1/echo" and .extra.method=="POST" and .extra.status=="200")) | length >= 1' "$AUD"/*.json >/dev/null 2>&1 \
  && pass audit_use_row || fail audit_use_row
jq -s -e 'map(select(.action=="cap_mint" and .extra.provisioned_for=="bound_actor" and .op=="store"
  and .session_kind=="master" and .actor_omni=="0x'"$AG_HEX"'")) | length == 1' "$AUD"/*.json >/dev/null 2>&1 \
  && pass audit_provisioning_row || fail audit_provisioning_row
jq -s -e 'map(select(.action=="fetch" and .reason=="use_only")) | length >= 1' "$AUD"/*.json >/dev/null 2>&1 \
  && pass audit_use_only_refusal_row || fail audit_use_only_refusal_row
{ scan "$AK_WORK/audit-all" && ! grep -q 'x=1' "$AK_WORK/audit-all"; } && pass audit_free_of_secret_and_query \
  || fail audit_free_of_secret_and_query

# ---------------------------------------------------------------- latency (printed, never asserted)
# Both sides over one kept-alive connection per client (one curl, N transfers; the first, with
# the handshake, is dropped): direct = curl → echo server (TLS); use = curl → emulator (HTTP) →
# CredUseFunction (cap, chain, S3 GET, signer KEK, two audit PUTs, TLS call kept alive) → echo.
N=9
med() { tail -n +2 | sort -n | awk '{a[NR]=$1*1000} END{printf "%.1f", a[int((NR+1)/2)]}'; }
urls=(); for _ in $(seq $N); do urls+=(-o /dev/null "$API/v1/echo"); done
d=$(curl -sS --cacert "$AK_PKI_DIR/ca.crt" -H "authorization: Bearer x" -w '%{time_total}\n' "${urls[@]}" | med)
jq -cn --arg c "$UCAP" --arg u "$API/v1/echo" '{cap:$c, method:"GET", url:$u}' >"$AK_WORK/use-body.json"
urls=(); for _ in $(seq $N); do urls+=(-o /dev/null "$AK_API_URL/v1/cred/use"); done
p=$(curl -sS -w '%{time_total}\n' -X POST -H 'content-type: application/json' \
  -H "x-aws-access-key-id: $(jq -r .access_key_id <<<"$AG_CRED")" -H "x-aws-secret-access-key: $(jq -r .secret_access_key <<<"$AG_CRED")" \
  -H "x-aws-session-token: $(jq -r .session_token <<<"$AG_CRED")" --data-binary @"$AK_WORK/use-body.json" "${urls[@]}" | med)
# reference: a fetch of the plain credential, the same pipeline without the outbound call
PFCAP=$(cap "$AGENT_S" "$AGENT_KEY" "$AG_HEX" plainapi cred-fetch fetch)
jq -cn --arg c "$PFCAP" '{cap:$c}' >"$AK_WORK/fetch-body.json"
urls=(); for _ in $(seq $N); do urls+=(-o /dev/null "$AK_API_URL/v1/cred/fetch"); done
f=$(curl -sS -w '%{time_total}\n' -X POST -H 'content-type: application/json' \
  -H "x-aws-access-key-id: $(jq -r .access_key_id <<<"$AG_CRED")" -H "x-aws-secret-access-key: $(jq -r .secret_access_key <<<"$AG_CRED")" \
  -H "x-aws-session-token: $(jq -r .session_token <<<"$AG_CRED")" --data-binary @"$AK_WORK/fetch-body.json" "${urls[@]}" | med)
echo "latency direct to the echo server: median $d ms; via /v1/cred/use: median $p ms; added: $(awk -v a="$p" -v b="$d" 'BEGIN{printf "%.1f", a-b}') ms (n=$((N - 1)) each, local stack, emulator; /v1/cred/fetch of a plain credential for reference: median $f ms)"

[ "$fails" -eq 0 ] || exit 1
