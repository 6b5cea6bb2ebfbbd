#!/usr/bin/env bash
# tests/e2e/hardening_test.sh — issue 16's findings about routes, on the local stack (its own,
# scripts/stack-up in a temp dir), each check named after its finding:
#   f2  an unregistered wallet's session (a fresh wallet's master session of omni(addr)) gets
#       403 device_not_registered from /v1/mint-oidc-jwt, /v1/mint-aws-creds, /v1/audit/flush,
#       /v1/audit/proof and every cap route; refused unauthenticated and unregistered requests
#       write no audit object (the pending prefixes of the zero operator and of the fresh wallet
#       do not grow) but a log line with a refusal count;
#   f3  a read-only scope: cap-mint refuses store and teardown caps (scope_read_only) and the
#       worker refuses a store cap minted before the flag was set; fetch still works;
#   f6  a master revoked on chain loses /v1/audit/flush and /v1/audit/proof at once (its
#       session is still unexpired): device_revoked;
#   f9  SIWE: /start answers a lowercase address with the EIP-55 address in the message, a
#       message with the address lowercased is siwe_malformed, clients sending lowercase still
#       log in; STS credentials from the broker last 900 s by default;
#   i17 /v1/mint-aws-creds with no body or {} answers credentials-class credentials.
# Prints one PASS/FAIL line per check; exit status 1 if any failed. KEEP_TMP=1 keeps the work dir.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" hardening
make -s -j2 build/dev/tools/passkey >"$work/make.log" 2>&1 || { tail -20 "$work/make.log"; die "hardening_build"; }
stack_test_up
export AK_WORK=$work
# shellcheck disable=SC1091
. "$root/tests/lib/akclient.sh"
audit_count() { # PREFIX -> number of objects under it in the audit bucket
  /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket "$AK_AUDIT_BUCKET" \
    --prefix "$1" --query 'length(Contents || `[]`)' --output text 2>/dev/null || echo error
}
bearer() { printf 'authorization: Bearer %s' "$1"; }

# ---------------------------------------------------------------- identities
# passkey sign counts of MASTER's passkey: 1 register, 2 scope, 3 approve M2, 4 read-only scope,
# 5 approve M2's revocation
ak_new_wallet MASTER && ak_new_wallet AGENT && ak_new_wallet FRESH && ak_new_wallet M2 \
  || die "hardening_setup_wallets"
PK=$work/master.passkey PK2=$work/m2.passkey
ak_passkey_new "$PK" && ak_passkey_new "$PK2" \
  && ak_register_first_master "$MASTER_KEY" "$PK" && ak_register_agent "$MASTER_KEY" "$AGENT_KEY" \
  && ak_set_scope "$MASTER_KEY" "$PK" 2 "$AGENT_ADDR" credentials:openrouter memory:notes \
  && ak_register_additional_master "$MASTER_KEY" "$PK" 3 "$M2_KEY" "$PK2" 1 \
  || die "hardening_setup_registry"
OP=$(ak_omni "$MASTER_ADDR"); AG=$(ak_omni "$AGENT_ADDR"); FR=$(ak_omni "$FRESH_ADDR")
ZERO=$(printf '%064d' 0)
"$root/scripts/local-iam" allow-actor "$AG" >"$work/iam.log" 2>&1 || die "hardening_local_iam"
pass "setup: master, agent, second master, scope, IAM"

# ---------------------------------------------------------------- f9: SIWE EIP-55
r=$(ak_api POST /v1/auth/wallet/start "{\"address\":\"$AGENT_ADDR\",\"chain_id\":$AK_CHAIN_ID}")
RID=$(jq -r .request_id <<<"${r#* }"); MSG=$(jq -r .siwe_message <<<"${r#* }")
CHECKSUMMED=$("$CAST" to-check-sum-address "$AGENT_ADDR")
if [ "$(sed -n 2p <<<"$MSG")" = "$CHECKSUMMED" ] && [ "$CHECKSUMMED" != "$AGENT_ADDR" ]; then
  pass "f9 siwe: a lowercase address at /start gets its EIP-55 form in the message"
else fail "f9 siwe: message address $(sed -n 2p <<<"$MSG"), want $CHECKSUMMED"; fi
LOWER_MSG=${MSG/$CHECKSUMMED/$AGENT_ADDR}
SIG=$("$CAST" wallet sign --private-key "$AGENT_KEY" "$LOWER_MSG")
check_reply "f9 siwe: a message with the address not checksummed is refused" 400 siwe_malformed \
  "$(ak_api POST /v1/auth/wallet/verify "$(jq -cn --arg r "$RID" --arg s "$SIG" --arg m "$LOWER_MSG" '{request_id:$r,signature:$s,message:$m}')")"
AGENT_S=$(ak_login "$AGENT_KEY") && MASTER_S=$(ak_login "$MASTER_KEY") && M2_S=$(ak_login "$M2_KEY") \
  && FRESH_S=$(ak_login "$FRESH_KEY") && pass "f9 siwe: clients sending a lowercase address log in" \
  || die "hardening_logins"

# ---------------------------------------------------------------- f2: unregistered wallets
zero_before=$(audit_count "audit/pending/$ZERO/")
fresh_before=$(audit_count "audit/pending/$FR/")
check_reply "f2 unregistered: mint-oidc-jwt" 403 device_not_registered "$(ak_api POST /v1/mint-oidc-jwt '' -H "$(bearer "$FRESH_S")")"
check_reply "f2 unregistered: mint-oidc-jwt {}" 403 device_not_registered "$(ak_api POST /v1/mint-oidc-jwt '{}' -H "$(bearer "$FRESH_S")")"
check_reply "f2 unregistered: mint-aws-creds (no body)" 403 device_not_registered "$(ak_api POST /v1/mint-aws-creds '' -H "$(bearer "$FRESH_S")")"
check_reply "f2 unregistered: mint-aws-creds memory" 403 device_not_registered \
  "$(ak_api POST /v1/mint-aws-creds '{"data_class":"memory"}' -H "$(bearer "$FRESH_S")")"
check_reply "f2 unregistered: audit flush" 403 device_not_registered "$(ak_api POST /v1/audit/flush '{}' -H "$(bearer "$FRESH_S")")"
check_reply "f2 unregistered: audit proof" 403 device_not_registered \
  "$(ak_api GET "/v1/audit/proof?event=audit/pending/$FR/x.json" '' -H "$(bearer "$FRESH_S")")"
for route in cred-store:store:credentials cred-fetch:fetch:credentials cred-teardown:teardown:credentials \
  memory-put:store:memory memory-get:fetch:memory memory-teardown:teardown:memory; do
  IFS=: read -r rt op cls <<<"$route"
  check_reply "f2 unregistered: cap $rt" 403 device_not_registered \
    "$(ak_cap "$FRESH_S" "$rt" "$(ak_cap_body "$FRESH_KEY" "$FR" "$FR" notes "$op" "$cls")")"
done
for i in 1 2 3; do
  check_reply "f2 no session: mint-aws-creds #$i" 401 unauthorized "$(ak_api POST /v1/mint-aws-creds '{"data_class":"memory"}')"
  check_reply "f2 forged session: mint-oidc-jwt #$i" 401 "" "$(ak_api POST /v1/mint-oidc-jwt '' -H "$(bearer "$FRESH_S.x")")"
done
zero_after=$(audit_count "audit/pending/$ZERO/"); fresh_after=$(audit_count "audit/pending/$FR/")
if [ "$zero_after" = "$zero_before" ] && [ "$zero_after" = 0 ] && [ "$fresh_after" = "$fresh_before" ]; then
  pass "f2 refused requests wrote no audit object (zero operator: $zero_after, fresh wallet: $fresh_after)"
else fail "f2 audit objects: zero operator $zero_before -> $zero_after, fresh wallet $fresh_before -> $fresh_after"; fi
if grep -h '"msg":"mint refused"' "$L"/logs/* 2>/dev/null | grep -q '"unaudited_refusals":"[1-9][0-9]*"'; then
  pass "f2 refused requests are logged with a refusal count"
else fail "f2 no 'mint refused' log line with unaudited_refusals"; fi

# ---------------------------------------------------------------- i17 + f9: mint-aws-creds
r=$(ak_api POST /v1/mint-aws-creds '' -H "$(bearer "$AGENT_S")")
check_reply "i17 mint-aws-creds with no body" 200 "" "$r"
CREDS=${r#* }
[ "$(jq -r .data_class <<<"$CREDS" 2>/dev/null)" = credentials ] && pass "i17 no body = the credentials class" \
  || fail "i17 data_class $(jq -r .data_class <<<"$CREDS" 2>/dev/null)"
left=$(( $(jq -r .expiration <<<"$CREDS" 2>/dev/null || echo 0) - $(date +%s) ))
if [ "$left" -gt 600 ] && [ "$left" -le 960 ]; then pass "f9 broker STS credentials last 900 s by default ($left s left)"
else fail "f9 STS credentials expire in $left s, want about 900"; fi
r=$(ak_api POST /v1/mint-aws-creds '{}' -H "$(bearer "$AGENT_S")")
check_reply "i17 mint-aws-creds with {}" 200 "" "$r"
[ "$(jq -r .data_class <<<"${r#* }" 2>/dev/null)" = credentials ] && pass "i17 {} = the credentials class" \
  || fail "i17 {} data_class"

# ---------------------------------------------------------------- f3: read-only scope
capof() { jq -r .cap <<<"${1#* }"; }
r=$(ak_cap "$AGENT_S" cred-store "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter store credentials)")
check_reply "f3 store cap while the scope is writable" 200 "" "$r"
STORE1=$(capof "$r")
r=$(ak_cap "$AGENT_S" cred-store "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter store credentials)")
STORE2=$(capof "$r")
r=$(ak_cap "$AGENT_S" cred-fetch "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter fetch credentials)")
FETCH=$(capof "$r")
check_reply "f3 store before read-only" 200 "" \
  "$(ak_worker "$CREDS" /v1/cred/store "$(jq -cn --arg c "$STORE1" '{cap:$c, plaintext_b64:"Zmlyc3Q="}')")"
AK_SCOPE_READ_ONLY=true ak_set_scope "$MASTER_KEY" "$PK" 4 "$AGENT_ADDR" credentials:openrouter memory:notes \
  && pass "f3 scope set read-only on chain" || fail "f3 setScope readOnly"
check_reply "f3 cap-mint: store cap refused" 403 scope_read_only \
  "$(ak_cap "$AGENT_S" cred-store "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter store credentials)")"
check_reply "f3 cap-mint: memory put cap refused" 403 scope_read_only \
  "$(ak_cap "$AGENT_S" memory-put "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" notes store memory)")"
check_reply "f3 cap-mint: master teardown cap for the read-only actor refused" 403 scope_read_only \
  "$(ak_cap "$MASTER_S" cred-teardown "$(ak_cap_body "$MASTER_KEY" "$OP" "$AG" openrouter teardown credentials)")"
check_reply "f3 cap-mint: fetch cap still minted" 200 "" \
  "$(ak_cap "$AGENT_S" cred-fetch "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter fetch credentials)")"
check_reply "f3 worker: store cap minted before the flag refused" 403 scope_read_only \
  "$(ak_worker "$CREDS" /v1/cred/store "$(jq -cn --arg c "$STORE2" '{cap:$c, plaintext_b64:"c2Vjb25k"}')")"
r=$(ak_worker "$CREDS" /v1/cred/fetch "$(jq -cn --arg c "$FETCH" '{cap:$c}')")
check_reply "f3 worker: fetch still works" 200 "" "$r"
[ "$(jq -r .plaintext_b64 <<<"${r#* }" 2>/dev/null)" = Zmlyc3Q= ] && pass "f3 the stored value is unchanged" \
  || fail "f3 stored value changed"

# ---------------------------------------------------------------- f6: revoked master, audit routes
check_reply "f6 second master: audit flush before revocation" 200 "" "$(ak_api POST /v1/audit/flush '{}' -H "$(bearer "$M2_S")")"
r=$(ak_api GET "/v1/audit/proof?event=audit/pending/$OP/none.json" '' -H "$(bearer "$M2_S")")
case "${r%% *}" in  # the lookup itself answers (400/404/409): the session passed the device check
  401|403|5*) fail "f6 second master: audit proof before revocation: $r" ;;
  *) pass "f6 second master: audit proof route reached before revocation (${r%% *})" ;;
esac
M2_DKH=$(ak_dkh "$M2_ADDR")
ch=$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_REGISTRY_ADDRESS" 'revokeMasterChallenge(bytes32,bytes32)(bytes32)' "0x$OP" "$M2_DKH")
appr=$(ak_passkey_assert "$PK" "$ch" 5 "$(ak_dkh "$MASTER_ADDR")")
"$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$MASTER_KEY" "$AK_REGISTRY_ADDRESS" \
  "revokeMasterDevice(bytes32,$AK_TUPLE[])" "$M2_DKH" "[$appr]" >/dev/null \
  && pass "f6 second master revoked on chain" || fail "f6 revokeMasterDevice"
check_reply "f6 revoked master: audit flush refused at once" 403 device_revoked "$(ak_api POST /v1/audit/flush '{}' -H "$(bearer "$M2_S")")"
check_reply "f6 revoked master: audit proof refused at once" 403 device_revoked \
  "$(ak_api GET "/v1/audit/proof?event=audit/pending/$OP/none.json" '' -H "$(bearer "$M2_S")")"
check_reply "f6 revoked master: mint-oidc-jwt refused" 403 device_revoked "$(ak_api POST /v1/mint-oidc-jwt '' -H "$(bearer "$M2_S")")"
check_reply "f6 the remaining master still flushes" 200 "" "$(ak_api POST /v1/audit/flush '{}' -H "$(bearer "$MASTER_S")")"

[ "$fails" = 0 ] && exit 0 || exit 1
