#!/usr/bin/env bash
# tests/e2e/broker_test.sh — the broker functions (AuthFunction, OidcFunction, CapMintFunction)
# end to end through the emulator's HTTP front on the local stack (issue 6 acceptance):
#   - SIWE login for a fresh anvil wallet; replayed nonce, expired message, wrong chain id, wrong
#     domain, signature by another key — each refused with its reason code;
#   - cap mint refusals, each with its exact reason: operator mismatch, device not registered, device
#     revoked, binding mismatch, PoP stale / future / wrong key, service not in scope (also a
#     scope of the other data class), invalid service, teardown asked by an agent session;
#   - session, OIDC and cap tokens verify with npm jose against the published keys (OIDC: the
#     broker's /.well-known/jwks.json, OidcDiscoveryFunction's; session and cap: the signer's
#     /v1/keys JWKS);
#   - mint-aws-creds credentials write under their own actor prefix and get AccessDenied under
#     another actor's.
# Uses a running stack when build/local/stack.env exists (AK_LOCAL_DIR overrides), else starts
# one in a private directory with scripts/stack-up and stops it on exit.
# Prints one PASS/FAIL line per check; exit status 1 if any failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. tests/lib/check.sh

# ---------------------------------------------------------------- the stack
. tests/lib/stack-reuse.sh broker
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ak-broker-work.XXXXXX")
cleanup() {
  stack_reuse_down
  rm -rf "$WORK"
}
trap cleanup EXIT
export AK_WORK=$WORK
# shellcheck disable=SC1091
. "$top/tests/lib/akclient.sh"
JOSE="node $top/tests/e2e/broker_jose.mjs"
NOW() { date +%s; }

# ---------------------------------------------------------------- identities on chain
ak_new_wallet MASTER && ak_new_wallet AGENT && ak_new_wallet REV && ak_new_wallet MAL && ak_new_wallet FRESH \
  && ak_new_wallet MASTER2 && ak_new_wallet OTHER || { echo "FAIL setup_wallets"; exit 1; }
PK=$WORK/master.passkey PK2=$WORK/master2.passkey
ak_passkey_new "$PK" && ak_passkey_new "$PK2" || { echo "FAIL setup_passkeys"; exit 1; }
ak_register_first_master "$MASTER_KEY" "$PK" && ak_register_first_master "$MASTER2_KEY" "$PK2" \
  && ak_register_agent "$MASTER_KEY" "$AGENT_KEY" && ak_register_agent "$MASTER_KEY" "$REV_KEY" \
  && ak_register_agent "$MASTER2_KEY" "$OTHER_KEY" \
  && ak_set_scope "$MASTER_KEY" "$PK" 2 "$AGENT_ADDR" credentials:openrouter memory:notes \
  && ak_set_scope "$MASTER_KEY" "$PK" 3 "$REV_ADDR" credentials:openrouter \
  || { echo "FAIL setup_registry"; exit 1; }
pass setup_registry
# Bare lowercase hex: the K10 PoP preimage (caps.md §4) uses the ids without "0x", and
# ak_cap_body puts the same text in the body (the broker accepts both forms there).
OP=$(ak_omni "$MASTER_ADDR"); OP_HEX=$OP
AG=$(ak_omni "$AGENT_ADDR"); AG_HEX=$AG
RV=$(ak_omni "$REV_ADDR")
FR=$(ak_omni "$FRESH_ADDR")
OT=$(ak_omni "$OTHER_ADDR"); OT_HEX=$OT

# ---------------------------------------------------------------- published keys
curl -fsS --cacert "$AK_PKI_DIR/ca.crt" --cert "$AK_PKI_DIR/audit.crt" --key "$AK_PKI_DIR/audit.key" \
  "$AK_SIGNER_URL/v1/keys" >"$WORK/signer-keys.json" 2>/dev/null \
  && $JOSE filter "$WORK/signer-keys.json" session >"$WORK/session-jwks.json" \
  && $JOSE filter "$WORK/signer-keys.json" cap >"$WORK/cap-jwks.json" \
  && pass signer_keys_fetched || fail signer_keys_fetched
r=$(ak_api GET /.well-known/jwks.json)
if [ "${r%% *}" = 200 ] && jq -e '(.keys | length) == 1 and (.keys[0].x5c | length) >= 1 and (.keys[0] | has("ak_key") | not)' \
  <<<"${r#* }" >/dev/null; then pass oidc_jwks_one_key_with_x5c; else fail oidc_jwks_one_key_with_x5c "$r"; fi
printf '%s' "${r#* }" >"$WORK/oidc-jwks.json"
r=$(ak_api GET /.well-known/openid-configuration)
if [ "${r%% *}" = 200 ] && jq -e --arg i "$AK_ISSUER" '.issuer == $i and .jwks_uri == ($i + "/.well-known/jwks.json")' \
  <<<"${r#* }" >/dev/null; then pass oidc_discovery; else fail oidc_discovery "$r"; fi

# ---------------------------------------------------------------- login
# start WALLET_ADDR [CHAIN] -> sets RID, MSG
start() {
  local r
  r=$(ak_api POST /v1/auth/wallet/start "{\"address\":\"$1\",\"chain_id\":${2:-$AK_CHAIN_ID}}")
  RID=$(jq -r .request_id <<<"${r#* }"); MSG=$(jq -r .siwe_message <<<"${r#* }")
  printf '%s' "$r"
}
verify() { # RID SIG [MESSAGE]
  local body
  body=$(jq -cn --arg r "$1" --arg s "$2" --arg m "${3:-}" '{request_id:$r, signature:$s} + (if $m == "" then {} else {message:$m} end)')
  ak_api POST /v1/auth/wallet/verify "$body"
}
sign() { "$CAST" wallet sign --private-key "$1" "$2"; }

start "$FRESH_ADDR" >/dev/null
SIG=$(sign "$FRESH_KEY" "$MSG")
r=$(verify "$RID" "$SIG")
check_reply login_fresh_wallet 200 "" "$r"
FRESH_SESSION=$(jq -r .session_jwt <<<"${r#* }")
if [ "$(jq -r .session_kind <<<"${r#* }")" = master ] && [ "$(jq -r .omni_account <<<"${r#* }")" = "$FR" ]; then
  pass login_fresh_wallet_is_master_of_itself; else fail login_fresh_wallet_is_master_of_itself "${r#* }"; fi
check_reply login_replayed_nonce 401 siwe_nonce_invalid "$(verify "$RID" "$SIG")"

start "$FRESH_ADDR" >/dev/null
check_reply login_signature_by_another_key 401 siwe_signature_invalid "$(verify "$RID" "$(sign "$MAL_KEY" "$MSG")")"

check_reply login_wrong_chain_id_at_start 400 invalid_input "$(start "$FRESH_ADDR" 1)"
start "$FRESH_ADDR" >/dev/null
M2=${MSG/Chain ID: $AK_CHAIN_ID/Chain ID: 1}
check_reply login_wrong_chain_id_in_message 401 siwe_chain_mismatch "$(verify "$RID" "$(sign "$FRESH_KEY" "$M2")" "$M2")"

start "$FRESH_ADDR" >/dev/null
dom=${AK_ISSUER#*://}; dom=${dom%%/*}
M2=${MSG/#$dom wants/evil.example wants}
check_reply login_wrong_domain 401 siwe_domain_mismatch "$(verify "$RID" "$(sign "$FRESH_KEY" "$M2")" "$M2")"

# Expired: the challenge lives 2700 s, so the message the wallet signed carries an Expiration
# Time already past (the server-side expiry itself is covered by tests/unit/auth_test.c).
start "$FRESH_ADDR" >/dev/null
exp_line=$(grep '^Expiration Time: ' <<<"$MSG")
M2=${MSG/$exp_line/Expiration Time: 2020-01-01T00:00:00Z}
check_reply login_expired_message 401 siwe_expired "$(verify "$RID" "$(sign "$FRESH_KEY" "$M2")" "$M2")"

AGENT_SESSION=$(ak_login "$AGENT_KEY") && pass login_agent || fail login_agent
MASTER_SESSION=$(ak_login "$MASTER_KEY") && pass login_master || fail login_master
REV_SESSION=$(ak_login "$REV_KEY") && pass login_agent_to_be_revoked || fail login_agent_to_be_revoked
OTHER_SESSION=$(ak_login "$OTHER_KEY") || true

printf '%s' "$AGENT_SESSION" >"$WORK/agent-session.jwt"
out=$($JOSE jwt "$WORK/agent-session.jwt" "$WORK/session-jwks.json" "$AK_ISSUER" agentkeys:broker JWT)
if [ "${out%% *}" = ok ] && jq -e --arg a "$AG_HEX" --arg o "$OP_HEX" \
  '.["agentkeys.session_kind"] == "agent" and .["agentkeys.omni_account"] == $a and .["agentkeys.operator_omni"] == $o' \
  <<<"${out#ok }" >/dev/null; then pass session_jwt_verifies_with_jose; else fail session_jwt_verifies_with_jose "$out"; fi

# ---------------------------------------------------------------- cap mint
expect_cap() { # NAME STATUS REASON SESSION ROUTE BODY
  check_reply "$1" "$2" "$3" "$(ak_cap "$4" "$5" "$6")"
}
now=$(NOW)
r=$(ak_cap "$AGENT_SESSION" cred-fetch "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter fetch credentials)")
check_reply cap_mint_agent_ok 200 "" "$r"
jq -r .cap <<<"${r#* }" >"$WORK/cap.jws"
out=$($JOSE jws "$WORK/cap.jws" "$WORK/cap-jwks.json" ak-cap+jwt)
if [ "${out%% *}" = ok ] && jq -e --arg a "0x$AG" '.op == "fetch" and .data_class == "credentials" and .actor_omni == $a
  and (.jti | length) == 32 and (.pop.sig | length) == 132' <<<"${out#ok }" >/dev/null; then
  pass cap_token_verifies_with_jose; else fail cap_token_verifies_with_jose "$out"; fi

expect_cap cap_operator_mismatch 403 operator_mismatch "$AGENT_SESSION" cred-fetch \
  "$(ak_cap_body "$AGENT_KEY" "$FR" "$AG" openrouter fetch credentials)"
expect_cap cap_device_not_registered 403 device_not_registered "$FRESH_SESSION" cred-store \
  "$(ak_cap_body "$FRESH_KEY" "$FR" "$FR" openrouter store credentials)"
# binding mismatch: the PoP device (another operator's agent, its key in hand) is not bound to
# the session's operator/actor
expect_cap cap_device_binding_mismatch 403 device_binding_mismatch "$AGENT_SESSION" cred-fetch \
  "$(ak_cap_body "$OTHER_KEY" "$OP" "$AG" openrouter fetch credentials)"
expect_cap cap_pop_stale 403 cap_pop_invalid "$AGENT_SESSION" cred-fetch \
  "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter fetch credentials $((now - 400)))"
expect_cap cap_pop_future 403 cap_pop_invalid "$AGENT_SESSION" cred-fetch \
  "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter fetch credentials $((now + 120)))"
wrong=$(ak_cap_body "$MAL_KEY" "$OP" "$AG" openrouter fetch credentials \
  | jq -c --arg d "$(ak_dkh "$AGENT_ADDR")" '.device_key_hash = $d')
expect_cap cap_pop_wrong_key 403 cap_pop_invalid "$AGENT_SESSION" cred-fetch "$wrong"
expect_cap cap_service_not_in_scope 403 service_not_in_scope "$AGENT_SESSION" cred-fetch \
  "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" github fetch credentials)"
expect_cap cap_scope_of_other_class 403 service_not_in_scope "$AGENT_SESSION" memory-get \
  "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter fetch memory)"
expect_cap cap_invalid_service 400 invalid_service "$AGENT_SESSION" cred-fetch \
  "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" OpenRouter fetch credentials)"
expect_cap cap_teardown_by_agent 403 teardown_requires_master "$AGENT_SESSION" cred-teardown \
  "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter teardown credentials)"
expect_cap cap_master_teardown_of_bound_agent 200 "" "$MASTER_SESSION" cred-teardown \
  "$(ak_cap_body "$MASTER_KEY" "$OP" "$AG" openrouter teardown credentials)"
expect_cap cap_no_session 401 unauthorized "x.y.z" cred-fetch \
  "$(ak_cap_body "$AGENT_KEY" "$OP" "$AG" openrouter fetch credentials)"
ak_revoke_agent "$MASTER_KEY" "$REV_ADDR" || fail revoke_agent
expect_cap cap_device_revoked 403 device_revoked "$REV_SESSION" cred-fetch \
  "$(ak_cap_body "$REV_KEY" "$OP" "$RV" openrouter fetch credentials)"
start "$REV_ADDR" >/dev/null
check_reply login_revoked_device 403 device_revoked "$(verify "$RID" "$(sign "$REV_KEY" "$MSG")")"
# device_role_missing: an additional master of OP registered with RECOVERY only (no CAP_MINT),
# approved by the first master's passkey (its 4th assertion), signs in and asks for a cap.
ak_new_wallet NOMINT && ak_passkey_new "$WORK/nomint.passkey" \
  && ak_register_additional_master "$MASTER_KEY" "$PK" 4 "$NOMINT_KEY" "$WORK/nomint.passkey" 2 \
  && NOMINT_SESSION=$(ak_login "$NOMINT_KEY") || fail setup_master_without_cap_mint
expect_cap cap_device_role_missing 403 device_role_missing "$NOMINT_SESSION" cred-fetch \
  "$(ak_cap_body "$NOMINT_KEY" "$OP" "$OP" openrouter fetch credentials)"

# ---------------------------------------------------------------- OIDC + mint-aws-creds
r=$(ak_api POST /v1/mint-oidc-jwt '' -H "authorization: Bearer $AGENT_SESSION")
check_reply mint_oidc_jwt 200 "" "$r"
jq -r .jwt <<<"${r#* }" >"$WORK/oidc.jwt"
out=$($JOSE jwt "$WORK/oidc.jwt" "$WORK/oidc-jwks.json" "$AK_ISSUER" sts.amazonaws.com JWT)
if [ "${out%% *}" = ok ] && jq -e --arg a "$AG_HEX" '.agentkeys_actor_omni == $a and
  .["https://aws.amazon.com/tags"].principal_tags.agentkeys_actor_omni == [$a]' <<<"${out#ok }" >/dev/null; then
  pass oidc_jwt_verifies_with_jose; else fail oidc_jwt_verifies_with_jose "$out"; fi
check_reply mint_oidc_jwt_agent_other_actor 403 actor_mismatch \
  "$(ak_api POST /v1/mint-oidc-jwt "{\"actor_omni\":\"$OP\"}" -H "authorization: Bearer $AGENT_SESSION")"

"$top/scripts/local-iam" allow-actor "$AG_HEX" "$OT_HEX" >"$WORK/local-iam.log" 2>&1 || fail local_iam_allow_actor
# probe_creds NAME CREDS_JSON: own prefix writable, another actor's prefix AccessDenied.
probe_creds() {
  local name=$1 CREDS=$2 out
  # our S3 client (shared/tools/s3tool); the verdict comes from RGW's policy evaluation. (The
  # aws CLI cannot parse RGW's AccessDenied body for a session-tag denial: botocore crashes.)
  s3() {
    AWS_ACCESS_KEY_ID=$(jq -r .access_key_id <<<"$CREDS") AWS_SECRET_ACCESS_KEY=$(jq -r .secret_access_key <<<"$CREDS") \
      AWS_SESSION_TOKEN=$(jq -r .session_token <<<"$CREDS") "$top/build/dev/tools/s3tool" "$@" 2>/dev/null | tail -n 1
  }
  out=$(s3 put "$AK_VAULT_BUCKET" "bots/$AG_HEX/credentials/e2e-probe.txt" --data e2e)
  [ "$out" = ok ] && pass "${name}_write_own_prefix" || fail "${name}_write_own_prefix" "$out"
  out=$(s3 put "$AK_VAULT_BUCKET" "bots/$OT_HEX/credentials/e2e-probe.txt" --data e2e)
  [ "$out" = "error access_denied" ] && pass "${name}_other_prefix_denied" || fail "${name}_other_prefix_denied" "$out"
}
# 1. the client-side exchange of iam.md §6: our OIDC JWT straight to STS (layer 3 on its own)
STS=$(/usr/bin/aws --endpoint-url "$AK_STS_ENDPOINT" --region "$AWS_REGION" --no-sign-request sts \
  assume-role-with-web-identity --role-arn "$AK_VAULT_ROLE_ARN" --role-session-name e2e-client \
  --web-identity-token "$(cat "$WORK/oidc.jwt")" --output json 2>"$WORK/sts.err")
if [ -n "$STS" ]; then
  pass oidc_jwt_sts_exchange
  probe_creds oidc_sts_creds "$(jq -c '.Credentials | {access_key_id: .AccessKeyId, secret_access_key: .SecretAccessKey, session_token: .SessionToken}' <<<"$STS")"
else fail oidc_jwt_sts_exchange "$(head -c 300 "$WORK/sts.err")"; fi
# 2. the broker's pivot (D13). RGW fetches our JWKS during the call, from OidcDiscoveryFunction
# (tests/e2e/oidc_discovery_test.sh: with OidcFunction at one instance, concurrent mints).
CREDS=$(ak_aws_creds "$AGENT_SESSION" credentials) && pass mint_aws_creds || fail mint_aws_creds
[ -n "${CREDS:-}" ] && probe_creds aws_creds "$CREDS"
check_reply mint_aws_creds_bad_class 400 invalid_input \
  "$(ak_api POST /v1/mint-aws-creds '{"data_class":"config"}' -H "authorization: Bearer $AGENT_SESSION")"
check_reply mint_aws_creds_no_session 401 unauthorized "$(ak_api POST /v1/mint-aws-creds '{"data_class":"memory"}')"

# ---------------------------------------------------------------- audit events landed (D12)
n=$(/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket "$AK_AUDIT_BUCKET" \
  --prefix "audit/pending/$OP_HEX/" --query 'length(Contents)' --output text 2>/dev/null || echo 0)
if [ "${n:-0}" -ge 4 ] 2>/dev/null; then pass audit_events_pending; else fail audit_events_pending "KeyCount=$n"; fi

[ "$fails" = 0 ] && exit 0 || exit 1
