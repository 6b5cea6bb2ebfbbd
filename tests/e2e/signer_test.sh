#!/usr/bin/env bash
# tests/e2e/signer_test.sh — the signer enclave against real mTLS clients (issue 5 acceptance).
#
# Starts ak-signer on 127.0.0.1 (random port) with a fresh dev PKI (scripts/dev-pki) and a file
# epoch source, then drives it with curl (OpenSSL: an independent TLS stack) and
# build/dev/tools/signertool (our client: ak/signer.h with channel-bound attestation):
#   roles (worker-credentials derives credentials; worker-memory refused with role_not_allowed;
#   workers and audit cannot sign), handshake refusals (no client cert, another CA's cert; issue 16
#   finding 8: a client cert without clientAuth EKU, one issued by the server CA, one whose role is
#   only in its CN, a server cert without serverAuth — at the signer and at our client;
#   issue 18: --tls-key generate refused without the nitro attester),
#   attestation (good; wrong measurement; wrong pinned key), epochs (above current refused;
#   advance gives a new K3 while the old epoch keeps its KEK; restarts keep every epoch), JWS
#   signed through the signer verified by npm jose against /v1/keys, the x5c certificate parsed
#   and verified by openssl, keep-alive, size limits, malformed HTTP; and, when anvil and
#   contracts/deploy.sh are available, the same epoch rule against K3EpochCounter on chain; the
#   rollback guard (issue 16 finding 7): an older keystore.sealed restored after an epoch advance
#   whose commitment was recorded (file: commitments file, and commitEpoch on anvil) makes the
#   signer exit non-zero with keystore_rollback; an empty one too; the matching one serves.
#
# Env: SIGNER (binary; default build/release/bin/ak-signer if built, else build/dev/bin/ak-signer),
#      SIGNERTOOL (default build/dev/tools/signertool), KEEP_TMP=1.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=/usr/bin/python3
signer=${SIGNER:-}
if [ -z "$signer" ]; then
  if [ -x "$root/build/release/bin/ak-signer" ]; then signer=$root/build/release/bin/ak-signer; else signer=$root/build/dev/bin/ak-signer; fi
fi
tool=${SIGNERTOOL:-$root/build/dev/tools/signertool}
for b in "$signer" "$tool"; do [ -x "$b" ] || { echo "FAIL signer_setup (missing $b)"; exit 1; }; done

work=$(mktemp -d "${TMPDIR:-/tmp}/signer-e2e.XXXXXX")
pid=
anvil_pid=
pid2=
spid=
fpid=
stop_pid() { if [ -n "${1:-}" ]; then kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; fi; }
cleanup() {
  stop_pid "$pid"; stop_pid "$pid2"; stop_pid "$anvil_pid"; stop_pid "$spid"; stop_pid "$fpid"
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "work dir: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

. "$root/tests/lib/check.sh"

pki=$work/pki
"$root/scripts/dev-pki" "$pki" >/dev/null || { echo "FAIL signer_setup (dev-pki)"; exit 1; }
echo 1 >"$work/epoch"
measurement=$(sha384sum "$signer" | cut -c1-96)

start_signer() { # state-dir epoch-source ready-file log -> sets $started_pid
  rm -f "$3"
  "$signer" --pki "$pki" --state "$1" --epoch-source "$2" --port 0 --ready-file "$3" \
    --idle-timeout-ms 5000 >>"$4" 2>&1 &
  started_pid=$!
  for _ in $(seq 1200); do [ -s "$3" ] && break; kill -0 "$started_pid" 2>/dev/null || break; sleep 0.05; done
  [ -s "$3" ]
}
start_main() {
  start_signer "$work/state" "file:$work/epoch" "$work/ready" "$work/signer.log" || { echo "FAIL signer_start"; tail -5 "$work/signer.log"; exit 1; }
  pid=$started_pid
  port=$(cat "$work/ready")
}
stop_main() { stop_pid "$pid"; pid=; }

OP=$(printf 'a%.0s' $(seq 64))
ACTOR=0x$(printf 'B%.0s' $(seq 64))
# req ROLE METHOD PATH [BODY] -> prints "<status> <body>"
req() {
  local role=$1 method=$2 path=$3 body=${4:-} out
  local certargs=()
  [ "$role" != none ] && certargs=(--cert "$pki/$role.crt" --key "$pki/$role.key")
  out=$(curl -sS --max-time 10 --cacert "$pki/ca.crt" --resolve "localhost:$port:127.0.0.1" "${certargs[@]}" \
    -X "$method" ${body:+--data-binary "$body"} -H 'Content-Type: application/json' \
    -w '\n%{http_code}' "https://localhost:$port$path" 2>"$work/curl.err")
  printf '%s %s' "$(tail -n1 <<<"$out")" "$(sed '$d' <<<"$out")"
}
# D20: every derive carries the agent's cap; the signer verifies it itself. The test caps are
# minted through the signer with the cap-mint identity (signertool cap: PoP by a test device key).
mint_cap() { # CLASS OP OPERATOR ACTOR K3_EPOCH [ISSUED_AT] -> the token (against the signer on $port)
  AK_SIGNER_URL=https://127.0.0.1:$port AK_SIGNER_CA_PEM=$pki/ca.crt AK_SIGNER_ATTEST_PUB=$pki/attest.pub \
    AK_SIGNER_MEASUREMENT=$measurement AK_SIGNER_SERVER_NAME=localhost \
    AK_SIGNER_CLIENT_CERT=$pki/cap-mint.crt AK_SIGNER_CLIENT_KEY=$pki/cap-mint.key "$tool" cap "$@" 2>>"$work/mint.err"
}
mint_main_caps() { # fetch caps of k3_epoch 3 (reads of epochs 1..3) for both classes
  CAPC=$(mint_cap credentials fetch "$OP" "$ACTOR" 3) && CAPM=$(mint_cap memory fetch "$OP" "$ACTOR" 3) \
    && [ -n "$CAPC" ] && [ -n "$CAPM" ] || { echo "FAIL signer_mint_caps ($(tail -2 "$work/mint.err"))"; exit 1; }
}
# derive_body CLASS EPOCH [OP CAP]
derive_body() {
  local cap=$CAPC; [ "$1" = memory ] && cap=$CAPM
  printf '{"data_class":"%s","operator_omni":"%s","actor_omni":"%s","epoch":%s,"op":"%s","cap":"%s"}' \
    "$1" "$OP" "$ACTOR" "$2" "${3:-fetch}" "${4:-$cap}"
}
status_of() { cut -d' ' -f1 <<<"$1"; }
body_of() { cut -d' ' -f2- <<<"$1"; }
reason_of() { body_of "$1" | jget reason; }
# Rollback guard (issue 16 finding 7): a signer that must refuse to start. expect_refused NAME
# STATE SOURCE LOG REASON: exits non-zero without listening, its log names the reason.
expect_refused() {
  if start_signer "$2" "$3" "$work/ready-r" "$4"; then
    stop_pid "$started_pid"; fail "$1" "it started"
  else
    wait "$started_pid" 2>/dev/null; local rc=$?
    if [ "$rc" != 0 ] && grep -q "\"reason\":\"$5\"" "$4"; then pass "$1"; else fail "$1" "exit $rc, $(tail -2 "$4")"; fi
  fi
}

start_main
mint_main_caps

# ---- health and roles
r=$(req worker-credentials GET /v1/health)
check signer_health "$(status_of "$r") $(body_of "$r" | jget role)" "200 worker-credentials"
# OidcDiscoveryFunction's identity: it reads the public keys (its JWKS) and signs/derives nothing (below)
r=$(req discovery GET /v1/health)
check signer_discovery_role "$(status_of "$r") $(body_of "$r" | jget role)" "200 discovery"
r=$(req discovery GET /v1/keys)
check signer_discovery_reads_keys "$(status_of "$r") $(body_of "$r" | $PY -c 'import json,sys; print(sum(1 for k in json.load(sys.stdin)["keys"] if k.get("ak_key") == "oidc" and k.get("x5c")))' 2>/dev/null)" "200 1"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1)")
kek1=$(body_of "$r" | jget kek_b64)
if [ "$(status_of "$r")" = 200 ] && [ "$(printf '%s' "$kek1" | base64 -d 2>/dev/null | wc -c)" = 32 ]; then
  pass signer_worker_credentials_derives_credentials_kek
else fail signer_worker_credentials_derives_credentials_kek "$r"; fi
r=$(req worker-memory POST /v1/kek/derive "$(derive_body credentials 1)")
check signer_worker_memory_refused_credentials_kek "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
r=$(req worker-memory POST /v1/kek/derive "$(derive_body memory 1)")
kekm=$(body_of "$r" | jget kek_b64)
if [ "$(status_of "$r")" = 200 ] && [ "$kekm" != "$kek1" ]; then pass signer_worker_memory_derives_memory_kek; else fail signer_worker_memory_derives_memory_kek "$r"; fi
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body memory 1)")
check signer_worker_credentials_refused_memory_kek "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
for role in auth oidc cap-mint audit discovery admin; do
  r=$(req $role POST /v1/kek/derive "$(derive_body credentials 1)")
  check "signer_${role}_cannot_derive" "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
done

# ---- D20 (issue 16 finding 1): a worker certificate alone derives nothing
r=$(req worker-credentials POST /v1/kek/derive "$(printf '{"data_class":"credentials","operator_omni":"%s","actor_omni":"%s","epoch":1,"op":"fetch"}' "$OP" "$ACTOR")")
check signer_worker_cert_without_cap_derives_nothing "$(status_of "$r") $(reason_of "$r")" "400 missing_field"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1 fetch "$(mint_cap credentials fetch "$OP" "$ACTOR" 1 $(( $(date +%s) - 3600 )))")")
check signer_expired_cap_refused "$(status_of "$r") $(reason_of "$r")" "403 cap_freshness_failed"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1 fetch "$CAPM")")
check signer_cap_for_other_class_refused "$(status_of "$r") $(reason_of "$r")" "403 cap_data_class_mismatch"
OTHER_ACTOR=0x$(printf 'c%.0s' $(seq 64))
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1 fetch "$(mint_cap credentials fetch "$OP" "$OTHER_ACTOR" 3)")")
check signer_cap_for_other_actor_refused "$(status_of "$r") $(reason_of "$r")" "403 actor_mismatch"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1 fetch "$(mint_cap credentials fetch "$OTHER_ACTOR" "$ACTOR" 3)")")
check signer_cap_for_other_operator_refused "$(status_of "$r") $(reason_of "$r")" "403 operator_mismatch"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1 store "$(mint_cap credentials store "$OP" "$ACTOR" 2)")")
check signer_cap_for_other_epoch_refused "$(status_of "$r") $(reason_of "$r")" "403 k3_epoch_mismatch"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1 teardown "$(mint_cap credentials teardown "$OP" "$ACTOR" 1)")")
check signer_teardown_cap_derives_nothing "$(status_of "$r") $(reason_of "$r")" "403 cap_op_mismatch"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1 store)")
check signer_cap_op_differs_from_request_refused "$(status_of "$r") $(reason_of "$r")" "403 cap_op_mismatch"
# a cap-shaped token signed by the session key (the auth identity can sign those, never caps)
forged=$(AK_SIGNER_URL=https://127.0.0.1:$port AK_SIGNER_CA_PEM=$pki/ca.crt AK_SIGNER_ATTEST_PUB=$pki/attest.pub \
  AK_SIGNER_MEASUREMENT=$measurement AK_SIGNER_SERVER_NAME=localhost AK_SIGNER_CLIENT_CERT=$pki/auth.crt \
  AK_SIGNER_CLIENT_KEY=$pki/auth.key "$tool" jws session "$(printf '%s' "${CAPC#*.}" | cut -d. -f1 | tr '_-' '/+' | base64 -d 2>/dev/null)")
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1 fetch "$forged")")
check signer_cap_signed_by_session_key_refused "$(status_of "$r") $(reason_of "$r")" "403 broker_sig_invalid"
out=$(AK_SIGNER_URL=https://127.0.0.1:$port AK_SIGNER_CA_PEM=$pki/ca.crt AK_SIGNER_ATTEST_PUB=$pki/attest.pub \
  AK_SIGNER_MEASUREMENT=$measurement AK_SIGNER_SERVER_NAME=localhost AK_SIGNER_CLIENT_CERT=$pki/auth.crt \
  AK_SIGNER_CLIENT_KEY=$pki/auth.key "$tool" cap credentials fetch "$OP" "$ACTOR" 1 2>&1 >/dev/null)
check signer_auth_cannot_mint_caps "$(grep -o role_not_allowed <<<"$out" | head -1)" role_not_allowed

# ---- handshake refusals
handshake() { # cert-name|none -> curl exit code (0 = a TLS session was established)
  local certargs=()
  [ "$1" != none ] && certargs=(--cert "$pki/$1.crt" --key "$pki/$1.key")
  curl -sS --max-time 10 --cacert "$pki/ca.crt" --resolve "localhost:$port:127.0.0.1" "${certargs[@]}" \
    -o /dev/null "https://localhost:$port/v1/health" 2>/dev/null
  echo $?
}
rc=$(handshake none)
if [ "$rc" != 0 ]; then pass signer_no_client_cert_fails_handshake; else fail signer_no_client_cert_fails_handshake "curl rc=$rc"; fi
rc=$(handshake other-worker-credentials)
if [ "$rc" != 0 ]; then pass signer_other_ca_cert_fails_handshake; else fail signer_other_ca_cert_fails_handshake "curl rc=$rc"; fi
rc=$(handshake other-cap-mint)
if [ "$rc" != 0 ]; then pass signer_other_ca_cap_mint_fails_handshake; else fail signer_other_ca_cap_mint_fails_handshake "curl rc=$rc"; fi
rc=$(handshake audit)
check signer_same_ca_cert_handshakes "$rc" 0
# Finding 8 (issue 16): the purpose, the CA and the SAN URI of each side are checked.
rc=$(handshake noeku-worker-memory)
if [ "$rc" != 0 ]; then pass signer_client_cert_without_clientauth_eku_fails_handshake; else fail signer_client_cert_without_clientauth_eku_fails_handshake "curl rc=$rc"; fi
if grep '"tls handshake failed"' "$work/signer.log" | grep -q '"reason":"cert_eku_missing"'; then
  pass signer_missing_eku_logged_with_reason
else fail signer_missing_eku_logged_with_reason; fi
rc=$(handshake servca-worker-memory)
if [ "$rc" != 0 ]; then pass signer_client_cert_from_server_ca_fails_handshake; else fail signer_client_cert_from_server_ca_fails_handshake "curl rc=$rc"; fi
r=$(req cnonly-worker-memory GET /v1/health)
check signer_role_only_in_cn_gets_no_role "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
r=$(req cnonly-worker-memory POST /v1/kek/derive "$(derive_body memory 1)")
check signer_role_only_in_cn_cannot_derive "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
if grep -q '"client authenticated without a role"' "$work/signer.log"; then pass signer_roleless_client_logged; else fail signer_roleless_client_logged; fi
# The signer refuses to start with a certificate that is not for serverAuth.
if "$signer" --pki "$pki" --tls-cert "$pki/signer-noeku-chain.crt" --tls-key "$pki/signer-noeku.key" \
     --state "$work/state-noeku" --epoch-source "file:$work/epoch" --port 0 >"$work/noeku.log" 2>&1; then
  fail signer_refuses_server_cert_without_serverauth "it started"
elif grep '"signer certificate refused"' "$work/noeku.log" | grep -q cert_eku_missing; then
  pass signer_refuses_server_cert_without_serverauth
else fail signer_refuses_server_cert_without_serverauth "$(tail -2 "$work/noeku.log")"; fi
# RA-TLS (issue 18): a key born in the signer needs the nitro attester (clients attest the key).
if "$signer" --pki "$pki" --tls-key generate --state "$work/state-gen" --epoch-source "file:$work/epoch" \
     --port 0 >"$work/gen.log" 2>&1; then
  fail signer_generated_tls_key_needs_nitro "it started"
elif grep -q 'tls-key generate needs --attester nitro' "$work/gen.log"; then
  pass signer_generated_tls_key_needs_nitro
else fail signer_generated_tls_key_needs_nitro "$(tail -2 "$work/gen.log")"; fi
if grep -q '"tls handshake failed"' "$work/signer.log"; then pass signer_handshake_failures_logged; else fail signer_handshake_failures_logged; fi
# TLS 1.1 and a non-ECDSA suite are refused too.
if curl -sS --max-time 5 --cacert "$pki/ca.crt" --resolve "localhost:$port:127.0.0.1" --cert "$pki/audit.crt" --key "$pki/audit.key" \
     --tls-max 1.1 "https://localhost:$port/v1/health" >/dev/null 2>&1; then fail signer_tls11_refused; else pass signer_tls11_refused; fi

# ---- signing (D20; issue 16 finding 1): each broker function signs with its own key only
sign_body() { printf '{"key":"%s","signing_input_b64":"%s"}' "$1" "$(printf 'e30.e30' | base64 -w0)"; }
for role in worker-credentials worker-memory audit admin; do
  r=$(req $role POST /v1/sign "$(sign_body session)")
  check "signer_${role}_cannot_sign" "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
done
# another function's key: refused before the body is looked at (a malformed header would be 400)
for pair in auth:oidc auth:cap oidc:session oidc:cap cap-mint:session cap-mint:oidc discovery:oidc discovery:session discovery:cap; do
  r=$(req "${pair%%:*}" POST /v1/sign "$(sign_body "${pair#*:}")")
  check "signer_${pair%%:*}_cannot_sign_${pair#*:}" "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
done
# own key: past the role check, to the header check (the e30 header has no alg: 400)
for pair in auth:session oidc:oidc cap-mint:cap; do
  r=$(req "${pair%%:*}" POST /v1/sign "$(sign_body "${pair#*:}")")
  check "signer_${pair%%:*}_own_key_reaches_header_check" "$(status_of "$r") $(reason_of "$r")" "400 invalid_input"
done
# rotation: no function, whichever key; the operator's admin identity only
for role in auth oidc cap-mint worker-credentials worker-memory audit discovery; do
  for key in session oidc cap; do
    r=$(req $role POST /v1/rotate "{\"key\":\"$key\"}")
    check "signer_${role}_cannot_rotate_${key}" "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
  done
done

# ---- our client: attestation bound to the channel
export AK_SIGNER_URL=https://127.0.0.1:$port AK_SIGNER_CA_PEM=$pki/ca.crt AK_SIGNER_ATTEST_PUB=$pki/attest.pub \
  AK_SIGNER_MEASUREMENT=$measurement AK_SIGNER_SERVER_NAME=localhost
as_role() { local role=$1; shift; AK_SIGNER_CLIENT_CERT=$pki/$role.crt AK_SIGNER_CLIENT_KEY=$pki/$role.key "$tool" "$@" 2>"$work/tool.err"; }
out=$(as_role worker-credentials attest)
check signer_attestation_verifies "$out" '{"attested":true}'
# Our client refuses a server certificate without serverAuth (an OpenSSL server that would
# otherwise complete mTLS with it); the same server with the real signer certificate gets past the
# handshake (and then fails, as it is no signer): the check is what refuses.
sport=$("$root/scripts/lib/free-ports" 1)
tls_server() { # cert key
  openssl s_server -accept "127.0.0.1:$sport" -www -quiet -Verify 1 -CAfile "$pki/client-ca.crt" \
    -cert "$1" -key "$2" >"$work/s_server.log" 2>&1 &
  spid=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$sport) 2>/dev/null && break; sleep 0.05; done
}
tls_server "$pki/signer-noeku.crt" "$pki/signer-noeku.key"
# (the client's log lines go to stdout)
AK_SIGNER_URL=https://127.0.0.1:$sport as_role worker-credentials attest >"$work/tool.out"
check signer_client_refuses_server_cert_without_serverauth "$(grep '"signer handshake failed"' "$work/tool.out" | grep -o 'cert_eku_missing' | head -1) $(grep -o signer_unavailable "$work/tool.err")" "cert_eku_missing signer_unavailable"
stop_pid "$spid"
tls_server "$pki/signer.crt" "$pki/signer.key"
AK_SIGNER_URL=https://127.0.0.1:$sport as_role worker-credentials attest >"$work/tool.out"
# (BearSSL checks the server chain before it sends its own certificate: the server seeing ours
# means ours accepted the server's.)
check signer_client_control_server_cert_passes_eku "$(grep -c 'signer handshake failed' "$work/tool.out") $(grep -c 'CN = worker-credentials' "$work/s_server.log")" "0 1"
stop_pid "$spid"
# ... and a signer certificate from the client CA (the CA it must not trust for the signer).
AK_SIGNER_CA_PEM=$pki/client-ca.crt as_role worker-credentials attest >/dev/null
check signer_client_refuses_signer_under_client_ca "$(grep -o 'signer_unavailable' "$work/tool.err" | head -1)" signer_unavailable
out=$(AK_SIGNER_MEASUREMENT=$(printf '0%.0s' $(seq 96)) as_role worker-credentials attest)
check signer_attestation_wrong_measurement_rejected "$(grep -o 'attestation_invalid' "$work/tool.err" | head -1)" attestation_invalid
openssl pkey -in "$pki/other-ca.key" -pubout -out "$work/wrong-attest.pub" 2>/dev/null
out=$(AK_SIGNER_ATTEST_PUB=$work/wrong-attest.pub as_role worker-credentials attest)
check signer_attestation_wrong_key_rejected "$(grep -o 'attestation_invalid' "$work/tool.err" | head -1)" attestation_invalid
# issue 18: the mode is the client's configuration. A nitro-mode client refuses this local signer's
# JWS by its format; the signer says which format it sends; a nitro attester without /dev/nsm
# refuses to start (no fallback to local).
r=$(req audit POST /v1/attest '{"nonce_b64":"AAAAAAAAAAAAAAAAAAAAAA=="}')
check signer_attest_reply_names_local_format "$(status_of "$r") $(body_of "$r" | jget format)" "200 local"
out=$(AK_SIGNER_ATTESTATION=nitro AK_SIGNER_PCR0=$(printf '1%.0s' $(seq 96)) as_role worker-credentials attest)
check signer_nitro_client_refuses_local_attestation "$(grep -o 'attest_mode_mismatch' "$work/tool.err" | head -1)" attest_mode_mismatch
out=$(AK_SIGNER_ATTESTATION=nitro AK_SIGNER_PCR0=$(printf '0%.0s' $(seq 96)) as_role worker-credentials attest)
check signer_nitro_client_refuses_zero_pcr0 "$(grep -o 'config_error' "$work/tool.err" | head -1)" config_error
if [ -e /dev/nsm ]; then pass "signer_nitro_attester_without_nsm_fails_closed (skipped: /dev/nsm exists)"; else
  timeout 20 "$signer" --pki "$pki" --state "$work/state-nitro" --epoch-source "file:$work/epoch" --port 0 \
    --attester nitro >"$work/nitro.log" 2>&1
  rc=$?
  check signer_nitro_attester_without_nsm_fails_closed "$rc $(grep -c '"nsm unavailable' "$work/nitro.log") $(grep -o '"step":"attester","reason":"attest_nsm_unavailable"' "$work/nitro.log" | head -1)" \
    '1 1 "step":"attester","reason":"attest_nsm_unavailable"'
fi
out=$(AK_SIGNER_ATTEST_PUB=$work/wrong-attest.pub as_role worker-credentials derive credentials "$OP" "$ACTOR" 1 fetch "$CAPC")
check signer_no_kek_without_attestation "$(grep -c kek_hex <<<"$out") $(grep -o attestation_invalid "$work/tool.err" | head -1)" "0 attestation_invalid"
kek1_hex=$(printf '%s' "$kek1" | base64 -d | od -An -tx1 | tr -d ' \n')
out=$(as_role worker-credentials derive credentials "$OP" "$ACTOR" 1 fetch "$CAPC" | jget kek_hex)
check signer_client_derive_matches_curl "$out" "$kek1_hex"
# the split derive (issue 19): sent, then received; another call in between (the request is
# sent again); sent and aborted (the reply is dropped, the handle still works)
out=$(as_role worker-credentials derive credentials "$OP" "$ACTOR" 1 fetch "$CAPC" send-recv | jget kek_hex)
check signer_client_split_derive "$out" "$kek1_hex"
out=$(as_role worker-credentials derive credentials "$OP" "$ACTOR" 1 fetch "$CAPC" split | jget kek_hex)
check signer_client_split_derive_call_between "$out" "$kek1_hex"
out=$(as_role worker-credentials derive credentials "$OP" "$ACTOR" 1 fetch "$CAPC" abort)
check signer_client_split_derive_abort "$out" '{"aborted":true,"pending":false,"health":200}'
out=$(as_role worker-memory derive credentials "$OP" "$ACTOR" 1 fetch "$CAPC")
check signer_client_maps_reason "$(grep -o role_not_allowed "$work/tool.err" | head -1)" role_not_allowed

# ---- epochs: above the chain refused; restart keeps every epoch; advance adds one
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 2)")
check signer_epoch_above_current_refused "$(status_of "$r") $(reason_of "$r")" "403 epoch_not_current"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 0)")
check signer_epoch_zero_refused "$(status_of "$r") $(reason_of "$r")" "400 invalid_input"
kid_before=$(req audit GET /v1/keys | cut -d' ' -f2- | $PY -c 'import json,sys; print(sorted(k["kid"] for k in json.load(sys.stdin)["keys"]))')
stop_main
start_main
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1)")
check signer_restart_keeps_epoch_kek "$(body_of "$r" | jget kek_b64)" "$kek1"
kid_after=$(req audit GET /v1/keys | cut -d' ' -f2- | $PY -c 'import json,sys; print(sorted(k["kid"] for k in json.load(sys.stdin)["keys"]))')
check signer_restart_keeps_signing_keys "$kid_after" "$kid_before"
echo 2 >"$work/epoch"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 2)")
kek2=$(body_of "$r" | jget kek_b64)
if [ "$(status_of "$r")" = 200 ] && [ -n "$kek2" ] && [ "$kek2" != "$kek1" ]; then pass signer_epoch_advance_new_k3; else fail signer_epoch_advance_new_k3 "$r"; fi
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1)")
check signer_old_epoch_keeps_old_kek "$(body_of "$r" | jget kek_b64)" "$kek1"
r=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 3)")
check signer_epoch_above_new_current_refused "$(status_of "$r") $(reason_of "$r")" "403 epoch_not_current"
stop_main
start_main
r1=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 1)")
r2=$(req worker-credentials POST /v1/kek/derive "$(derive_body credentials 2)")
check signer_restart_keeps_every_epoch "$(body_of "$r1" | jget kek_b64) $(body_of "$r2" | jget kek_b64)" "$kek1 $kek2"
export AK_SIGNER_URL=https://127.0.0.1:$port

# ---- JWS through the signer, verified by npm jose against the published JWKS
req audit GET /v1/keys | cut -d' ' -f2- >"$work/jwks.json"
now=$(date +%s)
cat >"$work/verify.mjs" <<'JS'
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.argv[2] + '/package.json');
const jose = await import(require.resolve('jose'));
const [, , , jwksFile, token, typ] = process.argv;
const jwks = JSON.parse(readFileSync(jwksFile, 'utf8'));
try {
  const { protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), { algorithms: ['ES256'], typ });
  console.log('ok ' + protectedHeader.kid.split('-')[0]);
} catch (e) { console.log('error ' + (e.code || e.message)); process.exit(1); }
JS
for key in session oidc cap; do
  typ=JWT; [ $key = cap ] && typ=ak-cap+jwt
  signer_role=auth; [ $key = oidc ] && signer_role=oidc; [ $key = cap ] && signer_role=cap-mint
  tok=$(as_role $signer_role jws $key "{\"sub\":\"e2e\",\"iat\":$now,\"exp\":$((now + 300))}")
  out=$(node "$work/verify.mjs" "$root" "$work/jwks.json" "$tok" "$typ")
  check "signer_jws_${key}_verifies_with_jose" "$out" "ok $key"
  if [ $key = cap ]; then
    bad="${tok%.*}.$(printf '%s' "${tok##*.}" | tr 'A-Za-z' 'B-ZAb-za')"
    out=$(node "$work/verify.mjs" "$root" "$work/jwks.json" "$bad" "$typ")
    case "$out" in error*) pass signer_jws_tampered_rejected_by_jose ;; *) fail signer_jws_tampered_rejected_by_jose "$out" ;; esac
  fi
done
out=$(as_role worker-credentials jws session '{"sub":"x"}')
check signer_client_worker_cannot_sign "$(grep -o role_not_allowed "$work/tool.err" | head -1)" role_not_allowed

# ---- x5c of the OIDC key: parses with openssl, self-signature verifies, key matches the JWK
$PY - "$work/jwks.json" "$work" <<'EOF'
import json, sys, base64
d = json.load(open(sys.argv[1]))
k = [k for k in d["keys"] if k.get("ak_key") == "oidc" and k.get("ak_status") == "current"][0]
open(sys.argv[2] + "/x5c.der", "wb").write(base64.b64decode(k["x5c"][0]))
pad = lambda s: s + "=" * (-len(s) % 4)
pub = b"\x04" + base64.urlsafe_b64decode(pad(k["x"])) + base64.urlsafe_b64decode(pad(k["y"]))
open(sys.argv[2] + "/jwk.hex", "w").write(pub.hex())
EOF
if openssl x509 -inform DER -in "$work/x5c.der" -noout -text >"$work/x5c.txt" 2>&1 && grep -q 'ecdsa-with-SHA256' "$work/x5c.txt"; then
  pass signer_x5c_parses_with_openssl
else fail signer_x5c_parses_with_openssl "$(head -3 "$work/x5c.txt")"; fi
openssl x509 -inform DER -in "$work/x5c.der" -out "$work/x5c.pem" 2>/dev/null
if openssl verify -CAfile "$work/x5c.pem" "$work/x5c.pem" >/dev/null 2>&1; then pass signer_x5c_self_signature_verifies; else fail signer_x5c_self_signature_verifies; fi
certpub=$(openssl x509 -in "$work/x5c.pem" -noout -pubkey | openssl pkey -pubin -outform DER 2>/dev/null | tail -c 65 | od -An -tx1 | tr -d ' \n')
check signer_x5c_key_matches_jwk "$certpub" "$(cat "$work/jwk.hex")"

# ---- several clients at once: 16 concurrent connections, 8 kept-alive derives each
{ printf 'data = "%s"\n' "$(derive_body credentials 1 | sed 's/"/\\"/g')"
  for _ in $(seq 8); do printf 'url = "https://localhost:%s/v1/kek/derive"\n' "$port"; done; } >"$work/par.cfg"
par_pids=()
for i in $(seq 16); do
  curl -sS --cacert "$pki/ca.crt" --resolve "localhost:$port:127.0.0.1" --cert "$pki/worker-credentials.crt" \
    --key "$pki/worker-credentials.key" -H 'Content-Type: application/json' -w '\n' -K "$work/par.cfg" \
    >"$work/par$i.out" 2>&1 &
  par_pids+=($!)
done
wait "${par_pids[@]}"
ok=$(cat "$work"/par*.out | grep -c "\"kek_b64\":\"$kek1\"")
check signer_concurrent_clients "$ok" 128

# ---- HTTP: keep-alive, limits, malformed input
n=$(curl -sS --cacert "$pki/ca.crt" --resolve "localhost:$port:127.0.0.1" --cert "$pki/audit.crt" --key "$pki/audit.key" \
  -o /dev/null -o /dev/null -w '%{num_connects}\n' "https://localhost:$port/v1/health" "https://localhost:$port/v1/keys" | tr '\n' ' ')
check signer_keep_alive_reuses_connection "$n" "1 0 "
head -c 70000 /dev/zero | tr '\0' 'a' >"$work/big.json"
r=$(req worker-credentials POST /v1/kek/derive "@$work/big.json")
check signer_oversize_body_413 "$(status_of "$r") $(reason_of "$r")" "413 too_large"
code=$(curl -sS --cacert "$pki/ca.crt" --resolve "localhost:$port:127.0.0.1" --cert "$pki/audit.crt" --key "$pki/audit.key" \
  -H 'Transfer-Encoding: chunked' --data-binary '{}' -o "$work/chunked.out" -w '%{http_code}' "https://localhost:$port/v1/attest")
check signer_chunked_body_refused "$code $(jget reason <"$work/chunked.out")" "400 invalid_input"
r=$(req audit POST /v1/attest '{"nonce_b64":"AAAA"}')
check signer_short_nonce_refused "$(status_of "$r") $(reason_of "$r")" "400 invalid_input"
r=$(req audit GET /v1/nope)
check signer_unknown_route_404 "$(status_of "$r") $(reason_of "$r")" "404 route_not_found"
if grep -qi "$kek1" "$work/signer.log" || grep -q "$kek1_hex" "$work/signer.log"; then fail signer_log_has_no_kek; else pass signer_log_has_no_kek; fi

# ---- rotation by the operator's admin identity (last: it changes the kids above)
r=$(req admin POST /v1/rotate '{"key":"oidc"}')
if [ "$(status_of "$r")" = 200 ] && [ -n "$(body_of "$r" | jget previous_kid)" ]; then pass signer_admin_rotates; else fail signer_admin_rotates "$r"; fi

# ---- TLS session resumption (issue 19): a reconnect resumes the last session and keeps the
# role its full handshake validated; a session never gives another role; after a restart the
# offered session is unknown and the handshake is a full one again.
rc_roles() { $PY -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["connects"], d["resumes"], d["roles"])' 2>/dev/null; }
out=$(as_role worker-credentials reconnect 4 | rc_roles)
check signer_reconnect_resumes_same_role "$out" "4 3 worker-credentials,worker-credentials,worker-credentials,worker-credentials"
out=$(as_role worker-memory reconnect 3 | rc_roles)
check signer_resumed_memory_session_stays_memory "$out" "3 2 worker-memory,worker-memory,worker-memory"
out=$(AK_SIGNER_NO_RESUME=1 as_role worker-credentials reconnect 3 | rc_roles)
check signer_no_resume_full_handshakes "$out" "3 0 worker-credentials,worker-credentials,worker-credentials"
n=$(grep '"client authenticated"' "$work/signer.log" | grep -c '"resumed":"1"')
if [ "$n" -ge 5 ]; then pass signer_logs_resumed_handshakes; else fail signer_logs_resumed_handshakes "$n"; fi
# OpenSSL as the client: a session saved by one role, resumed while holding another role's
# certificate (or none), answers as the session's role, never the certificate's.
sclient() { # SESS_OUT|- SESS_IN|- ROLE|none -> "<Reused|New> <role or status>"
  local args=(-connect "127.0.0.1:$port" -servername localhost -CAfile "$pki/ca.crt" -ign_eof)
  [ "$1" != - ] && args+=(-sess_out "$1")
  [ "$2" != - ] && args+=(-sess_in "$2")
  [ "$3" != none ] && args+=(-cert "$pki/$3.crt" -key "$pki/$3.key")
  printf 'GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 10 openssl s_client "${args[@]}" >"$work/sc.out" 2>&1
  local kind role
  kind=$(grep -oE '^(Reused|New),' "$work/sc.out" | head -1 | tr -d ,)
  role=$(grep -oE '"role":"[a-z-]+"' "$work/sc.out" | head -1 | cut -d'"' -f4)
  [ -z "$role" ] && role=$(grep -oE '"reason":"[a-z_]+"' "$work/sc.out" | head -1 | cut -d'"' -f4)
  echo "${kind:-none} ${role:-none}"
}
check signer_openssl_full_handshake_credentials "$(sclient "$work/sess-cred" - worker-credentials)" "New worker-credentials"
check signer_openssl_full_handshake_memory "$(sclient "$work/sess-mem" - worker-memory)" "New worker-memory"
check signer_openssl_resume_keeps_role "$(sclient - "$work/sess-cred" worker-credentials)" "Reused worker-credentials"
check signer_openssl_credentials_session_with_memory_cert "$(sclient - "$work/sess-cred" worker-memory)" "Reused worker-credentials"
check signer_openssl_memory_session_with_credentials_cert "$(sclient - "$work/sess-mem" worker-credentials)" "Reused worker-memory"
check signer_openssl_memory_session_without_cert "$(sclient - "$work/sess-mem" none)" "Reused worker-memory"
# a session of a certificate without a role (role only in its CN) stays without one
check signer_openssl_roleless_full_handshake "$(sclient "$work/sess-none" - cnonly-worker-memory)" "New role_not_allowed"
check signer_openssl_roleless_session_with_credentials_cert "$(sclient - "$work/sess-none" worker-credentials)" "Reused role_not_allowed"
# after a restart the session is unknown: a full handshake, the certificate decides (none: refused)
stop_main
start_main
check signer_restart_unknown_session_full_handshake "$(sclient - "$work/sess-mem" worker-credentials)" "New worker-credentials"
check signer_restart_unknown_session_needs_cert "$(sclient - "$work/sess-mem" none)" "New none"
# our client across a restart (same port): the offered session is refused, a full handshake
# follows and the connection works with its role
stop_main
rport=$("$root/scripts/lib/free-ports" 1)
rstart() { rm -f "$work/ready3"; "$signer" --pki "$pki" --state "$work/state" --epoch-source "file:$work/epoch" --port "$rport" \
  --ready-file "$work/ready3" >>"$work/signer3.log" 2>&1 & pid=$!
  for _ in $(seq 1200); do [ -s "$work/ready3" ] && break; sleep 0.05; done; }
rstart
rm -f "$work/go"
AK_SIGNER_URL=https://127.0.0.1:$rport as_role worker-credentials reconnect 3 "$work/go" >"$work/rc.out" &
rcpid=$!
for _ in $(seq 1200); do grep -q waiting "$work/rc.out" && break; sleep 0.05; done
stop_main
rstart
touch "$work/go"
wait "$rcpid"
check signer_restart_client_falls_back_to_full_handshake "$(tail -1 "$work/rc.out" | rc_roles)" \
  "3 1 worker-credentials,worker-credentials,worker-credentials"
# sessions expire from their full handshake (--session-ttl-ms); 0 turns resumption off
stop_main
rstart_ttl() { rm -f "$work/ready3"; "$signer" --pki "$pki" --state "$work/state" --epoch-source "file:$work/epoch" --port "$rport" \
  --session-ttl-ms "$1" --ready-file "$work/ready3" >>"$work/signer3.log" 2>&1 & pid=$!
  for _ in $(seq 1200); do [ -s "$work/ready3" ] && break; sleep 0.05; done; }
rstart_ttl 1000
rm -f "$work/go"
AK_SIGNER_URL=https://127.0.0.1:$rport as_role worker-credentials reconnect 2 "$work/go" >"$work/rc.out" &
rcpid=$!
for _ in $(seq 1200); do grep -q waiting "$work/rc.out" && break; sleep 0.05; done
sleep 1.5 # past the 1000 ms lifetime (a slower machine only adds to it)
touch "$work/go"
wait "$rcpid"
check signer_expired_session_full_handshake "$(tail -1 "$work/rc.out" | rc_roles)" \
  "2 0 worker-credentials,worker-credentials"
stop_main
rstart_ttl 0
out=$(AK_SIGNER_URL=https://127.0.0.1:$rport as_role worker-credentials reconnect 3 | rc_roles)
check signer_session_ttl_zero_no_resumption "$out" "3 0 worker-credentials,worker-credentials,worker-credentials"
stop_main
start_main
export AK_SIGNER_URL=https://127.0.0.1:$port
# ---- rollback guard with the file: epoch source (commitments file beside it)
echo 1 >"$work/fepoch"
if start_signer "$work/state-f" "file:$work/fepoch" "$work/ready-f" "$work/signer-f.log"; then
  fpid=$started_pid port_main=$port; port=$(cat "$work/ready-f")
  r=$(req admin POST /v1/epoch/commitment '{"epoch":1}'); c1=$(body_of "$r" | jget commitment)
  if [ "$(status_of "$r")" = 200 ] && [[ "$c1" =~ ^0x[0-9a-f]{64}$ ]]; then pass signer_commitment_epoch1; else fail signer_commitment_epoch1 "$r"; fi
  r=$(req worker-memory POST /v1/epoch/commitment '{"epoch":1}')
  check signer_commitment_admin_only "$(status_of "$r") $(reason_of "$r")" "403 role_not_allowed"
  check signer_health_shows_commitment "$(req audit GET /v1/health | cut -d' ' -f2- | jget commitment)" "$c1"
  echo "1 $c1" >"$work/fepoch.commitments"
  cp "$work/state-f/keystore.sealed" "$work/ks-f-epoch1.sealed" # the backup of epoch 1
  echo 2 >"$work/fepoch"
  r=$(req admin POST /v1/epoch/commitment '{"epoch":2}'); c2=$(body_of "$r" | jget commitment)
  if [ "$(status_of "$r")" = 200 ] && [ -n "$c2" ] && [ "$c2" != "$c1" ]; then pass signer_commitment_new_epoch; else fail signer_commitment_new_epoch "$r"; fi
  echo "2 $c2" >>"$work/fepoch.commitments"
  stop_pid "$fpid"; fpid=; port=$port_main
  cp "$work/state-f/keystore.sealed" "$work/ks-f-epoch2.sealed"
  cp "$work/ks-f-epoch1.sealed" "$work/state-f/keystore.sealed"
  expect_refused signer_file_older_keystore_refused "$work/state-f" "file:$work/fepoch" "$work/signer-f2.log" keystore_rollback
  mkdir -p "$work/state-f3"
  expect_refused signer_file_empty_keystore_refused "$work/state-f3" "file:$work/fepoch" "$work/signer-f3.log" keystore_rollback
  cp "$work/ks-f-epoch2.sealed" "$work/state-f/keystore.sealed"
  if start_signer "$work/state-f" "file:$work/fepoch" "$work/ready-f" "$work/signer-f4.log"; then
    pass signer_file_matching_keystore_starts; stop_pid "$started_pid"
  else fail signer_file_matching_keystore_starts "$(tail -2 "$work/signer-f4.log")"; fi
else fail signer_file_start "$(tail -3 "$work/signer-f.log")"; fi

# ---- on chain: K3EpochCounter on anvil (when the contracts tooling is present)
if [ -x "$root/contracts/deploy.sh" ] && [ -e "$root/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" ]; then
  ( . "$root/contracts/env.sh"; echo "$ANVIL $CAST" ) >"$work/foundry" 2>/dev/null
  read -r ANVIL CAST <"$work/foundry"
  aport=$("$root/scripts/lib/free-ports" 1)
  rpc=http://127.0.0.1:$aport
  "$ANVIL" --host 127.0.0.1 --port "$aport" --silent >"$work/anvil.log" 2>&1 &
  anvil_pid=$!
  for _ in $(seq 100); do "$CAST" chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.1; done
  if "$root/contracts/deploy.sh" "$rpc" "$work/contracts.json" >"$work/deploy.log" 2>&1; then
    ctr=$(node -e 'process.stdout.write(require(process.argv[1]).addresses.K3EpochCounter)' "$work/contracts.json")
    if start_signer "$work/state-chain" "evm:$rpc#$ctr" "$work/ready2" "$work/signer2.log"; then
      pid2=$started_pid
      port_main=$port; port=$(cat "$work/ready2")
      capc_main=$CAPC capm_main=$CAPM
      mint_main_caps # this signer has its own cap key
      r=$(req worker-memory POST /v1/kek/derive "$(derive_body memory 1)")
      c1=$(body_of "$r" | jget kek_b64)
      check signer_chain_epoch1_derives "$(status_of "$r")" 200
      r=$(req worker-memory POST /v1/kek/derive "$(derive_body memory 2)")
      check signer_chain_epoch_above_refused "$(status_of "$r") $(reason_of "$r")" "403 epoch_not_current"
      gov_key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil dev key 0 = default governance
      cp "$work/state-chain/keystore.sealed" "$work/ks-chain-epoch1.sealed" # a backup taken at epoch 1
      "$CAST" send --rpc-url "$rpc" --private-key "$gov_key" "$ctr" 'advanceEpoch()' >/dev/null 2>&1
      check signer_chain_advanced "$("$CAST" call --rpc-url "$rpc" "$ctr" 'currentEpoch()(uint256)' 2>/dev/null)" 2
      r=$(req worker-memory POST /v1/kek/derive "$(derive_body memory 2)")
      c2=$(body_of "$r" | jget kek_b64)
      if [ "$(status_of "$r")" = 200 ] && [ "$c2" != "$c1" ]; then pass signer_chain_advance_new_k3; else fail signer_chain_advance_new_k3 "$r"; fi
      r=$(req worker-memory POST /v1/kek/derive "$(derive_body memory 1)")
      check signer_chain_old_epoch_keeps_kek "$(body_of "$r" | jget kek_b64)" "$c1"
      # Rollback guard on chain: record both epochs' commitments (what `agentkeys epoch rotate`
      # does), then restart from the epoch-1 keystore: refused; the current one: serves.
      for ep in 1 2; do
        cm=$(req admin POST /v1/epoch/commitment "{\"epoch\":$ep}" | cut -d' ' -f2- | jget commitment)
        "$CAST" send --rpc-url "$rpc" --private-key "$gov_key" "$ctr" 'commitEpoch(uint256,bytes32)' "$ep" "$cm" >/dev/null 2>&1
      done
      check signer_chain_commitment_recorded "$("$CAST" call --rpc-url "$rpc" "$ctr" 'epochCommitment(uint256)(bytes32)' 2 2>/dev/null)" "$cm"
      check signer_chain_commitment_write_once "$("$CAST" send --rpc-url "$rpc" --private-key "$gov_key" "$ctr" 'commitEpoch(uint256,bytes32)' 2 "$cm" >/dev/null 2>&1; echo $?)" 1
      stop_pid "$pid2"; pid2=
      cp "$work/state-chain/keystore.sealed" "$work/ks-chain-epoch2.sealed"
      cp "$work/ks-chain-epoch1.sealed" "$work/state-chain/keystore.sealed"
      expect_refused signer_chain_older_keystore_refused "$work/state-chain" "evm:$rpc#$ctr" "$work/signer2b.log" keystore_rollback
      cp "$work/ks-chain-epoch2.sealed" "$work/state-chain/keystore.sealed"
      if start_signer "$work/state-chain" "evm:$rpc#$ctr" "$work/ready2" "$work/signer2c.log"; then
        pid2=$started_pid; port=$(cat "$work/ready2")
        r=$(req worker-memory POST /v1/kek/derive "$(derive_body memory 2)")
        check signer_chain_matching_keystore_serves "$(status_of "$r") $(body_of "$r" | jget kek_b64)" "200 $c2"
      else fail signer_chain_matching_keystore_serves "$(tail -2 "$work/signer2c.log")"; fi
      port=$port_main CAPC=$capc_main CAPM=$capm_main
    else fail signer_chain_start "$(tail -3 "$work/signer2.log")"; fi
  else fail signer_chain_deploy "$(tail -3 "$work/deploy.log")"; fi
else
  echo "SKIP signer_chain_epochs (no contracts/deploy.sh or anvil)"
fi

echo "signer e2e: $fails failure(s)"
[ "$fails" = 0 ]
