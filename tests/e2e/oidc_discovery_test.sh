#!/usr/bin/env bash
# tests/e2e/oidc_discovery_test.sh — the issuer's /.well-known/ documents come from
# OidcDiscoveryFunction, and concurrent mint-aws-creds calls no longer stall (tests/load/README.md
# finding 2), on a stack of its own whose emulator holds OidcFunction to ONE instance
# (AK_EMULATOR_ARGS="--max-instances OidcFunction=1"):
#   - GET /.well-known/openid-configuration and /.well-known/jwks.json answer (one key, with x5c),
#     served by OidcDiscoveryFunction (its invocation count grows, OidcFunction's does not);
#     POST not routed (404); OidcFunction's routes are its own still (mint-oidc-jwt without a token 401);
#   - 3 concurrent POST /v1/mint-aws-creds with OidcFunction at one instance: all 200 with
#     credentials, and OidcFunction never ran a second instance. Before the split this
#     deadlocked: the one OidcFunction instance waited in AssumeRoleWithWebIdentity while Ceph's
#     STS fetched the JWKS from that same function, queued behind the mints; each mint failed at
#     its deadline (504 upstream_timeout, 15 s) and the queued ones after it (measured once with
#     the previous template and OidcFunction binary on this setup: 3 x 504 after 14.5/29/43.5 s).
# Prints one PASS/FAIL line per check; exit status 1 if any failed.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" oidc_discovery

N_MINTS=3
AK_EMULATOR_ARGS="--max-instances OidcFunction=1" stack_test_up
export AK_WORK=$work
# shellcheck disable=SC1091
. "$root/tests/lib/akclient.sh"

fstat() { # LogicalId JQ-EXPR -> the value from the emulator's stats
  curl -sS -m 10 "$AK_API_URL/__emulator/stats" | jq -r --arg f "$1" "(.functions[] | select(.name == \$f)) | $2"
}

check oidc_function_held_to_one_instance "$(fstat OidcFunction .max_instances)" 1

# ---- the documents, from OidcDiscoveryFunction
oidc_before=$(fstat OidcFunction .invocations)
disc_before=$(fstat OidcDiscoveryFunction .invocations)
r=$(ak_api GET /.well-known/openid-configuration)
if [ "${r%% *}" = 200 ] && jq -e --arg i "$AK_ISSUER" '.issuer == $i and .jwks_uri == ($i + "/.well-known/jwks.json")' \
  <<<"${r#* }" >/dev/null; then pass discovery_document; else fail "discovery_document ($r)"; fi
r=$(ak_api GET /.well-known/jwks.json)
if [ "${r%% *}" = 200 ] && jq -e '(.keys | length) == 1 and (.keys[0].x5c | length) >= 1 and (.keys[0] | has("ak_key") | not)' \
  <<<"${r#* }" >/dev/null; then pass jwks_one_key_with_x5c; else fail "jwks_one_key_with_x5c ($r)"; fi
# only GET is routed (the template's events; API Gateway answers 404 for another method)
check jwks_post_not_routed "$(ak_api POST /.well-known/jwks.json '{}' | cut -d' ' -f1)" 404
check discovery_function_served_both "$(( $(fstat OidcDiscoveryFunction .invocations) - disc_before ))" 2
check oidc_function_not_invoked_for_them "$(( $(fstat OidcFunction .invocations) - oidc_before ))" 0
r=$(ak_api POST /v1/mint-oidc-jwt '')
check mint_oidc_jwt_still_oidc_functions "${r%% *} $(jq -r .reason <<<"${r#* }" 2>/dev/null)" "401 unauthorized"

# ---- concurrent mints above OidcFunction's instance cap
ak_new_wallet MASTER || die setup_wallet
ak_passkey_new "$work/master.passkey" && ak_register_first_master "$MASTER_KEY" "$work/master.passkey" || die setup_master
SESSION=$(ak_login "$MASTER_KEY") || die setup_login
pids=()
for i in $(seq "$N_MINTS"); do
  # each bounded well above OidcFunction's 15 s deadline: a stall shows as 504s, not as a hang
  curl -sS --max-time 90 -o "$work/mint.$i.json" -w '%{http_code}' -X POST "$AK_API_URL/v1/mint-aws-creds" \
    -H 'content-type: application/json' -H "authorization: Bearer $SESSION" \
    --data-binary '{"data_class":"credentials"}' >"$work/mint.$i.status" 2>"$work/mint.$i.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
ok=0; got=""
for i in $(seq "$N_MINTS"); do
  st=$(cat "$work/mint.$i.status" 2>/dev/null)
  if [ "$st" = 200 ] && jq -e '.access_key_id != "" and .session_token != ""' "$work/mint.$i.json" >/dev/null 2>&1; then
    ok=$((ok + 1))
  else
    got="$got ${st:-none}:$(jq -r .reason "$work/mint.$i.json" 2>/dev/null)"
  fi
done
check "concurrent_mints_all_succeed ($N_MINTS at once, OidcFunction at 1 instance;${got:- none failed})" "$ok" "$N_MINTS"
check oidc_function_never_scaled_out "$(fstat OidcFunction .instances_peak)" 1
check oidc_function_no_timeouts "$(fstat OidcFunction .timeouts)" 0

[ "$fails" = 0 ] || { echo "oidc_discovery_test: $fails failed"; exit 1; }
echo "oidc_discovery_test: all passed"
