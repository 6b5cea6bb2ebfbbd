#!/usr/bin/env bash
# tests/e2e/readyz_test.sh — issue 17 on the local stack (one stack-up for both checks that need
# every service running):
#   1. GET /readyz (ReadyFunction): 200 with signer, chain and s3 "up" while the stack runs;
#      405 for POST; after the signer is stopped, 503 naming "signer" only (chain and S3 still
#      up); after anvil is stopped too, 503 naming both.
#   2. The SES router's failure destination through the stack's own emulator (template.yaml's
#      EventInvokeConfig): an asynchronous delivery whose staged message is missing fails three
#      times and its record, with the SES messageId, lands in $AK_DESTINATIONS_DIR; once the
#      message is staged, scripts/mail-failures replay delivers it to the actor's inbox and
#      removes the record. (Runs first: it needs S3 and the emulator, not the signer.)
# Env: KEEP_TMP=1 keeps the work directory.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" readyz
stack_test_up
pass readyz_stack_up

# ---- 2. the router's failure destination, then a replay
A=3f1c9a7e52b04d8e9a61c07f2e5d3b8a4c6e0f1a2b3c4d5e6f708192a3b4c5d6   # recipient of events/ses-routed.json
MSGID=akreplay$(date +%s)$$
"$PY" -c 'import json,sys; e=json.load(open("events/ses-routed.json")); e["Records"][0]["ses"]["mail"]["messageId"]=sys.argv[1]; json.dump(e,open(sys.argv[2],"w"))' \
  "$MSGID" "$work/event.json"
rec=$AK_DESTINATIONS_DIR/SesRouterFunction.on-failure.jsonl
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'X-Amz-Invocation-Type: Event' --data-binary "@$work/event.json" \
  "$AK_API_URL/2015-03-31/functions/SesRouterFunction/invocations")
[ "$code" = 202 ] && pass "router invoked asynchronously (202)" || fail "router invoked asynchronously (got $code)"
for _ in $(seq 300); do [ -s "$rec" ] && break; sleep 0.1; done
if [ -s "$rec" ] && grep -q "\"messageId\":\"$MSGID\"" "$rec" && grep -q '"approximateInvokeCount":3' "$rec"; then
  pass "a routing failure (message not staged) lands in the failure stand-in with its message id after 3 attempts"
else
  fail "a routing failure lands in the failure stand-in with its message id"; tail -n 20 "$L/logs/emulator.log" | sed 's/^/    /'
fi
printf 'From: a@example.org\r\nSubject: replay %s\r\n\r\nbody\r\n' "$MSGID" > "$work/msg.eml"
"$PY" tests/function/lib/s3util.py put ak-mail "inbound/$MSGID" --file "$work/msg.eml" || fail "stage the message"
out=$(timeout 120 scripts/mail-failures replay --file "$rec" 2>&1); rc=$?
if [ $rc = 0 ] && grep -q "^replayed: .*messages=$MSGID" <<<"$out" && ! grep -q "$MSGID" "$rec"; then
  pass "mail-failures replay delivers it and removes the record"; else
  fail "mail-failures replay delivers it and removes the record (exit $rc)"; sed 's/^/    /' <<<"$out"; fi
keys=$("$PY" tests/function/lib/s3util.py snapshot ak-mail | "$PY" -c 'import json,sys; print("\n".join(json.load(sys.stdin)))')
if grep -q "^bots/$A/inbound/.*-$MSGID.eml$" <<<"$keys" && ! grep -q "^inbound/$MSGID$" <<<"$keys"; then
  pass "the replayed message is in the actor's inbox and its staging copy is gone"; else
  fail "the replayed message is in the actor's inbox and its staging copy is gone"; sed 's/^/    /' <<<"$keys" | head; fi

# ---- 1. readiness
readyz() { curl -sS -o "$work/readyz.json" -w '%{http_code}' --max-time 20 "$AK_API_URL/readyz"; }
jqr() { jq -r "$1" "$work/readyz.json" 2>/dev/null; }
code=$(readyz)
if [ "$code" = 200 ] && [ "$(jqr .status)" = ready ] && [ "$(jqr '[.checks.signer.status,.checks.chain.status,.checks.s3.status]|join(",")')" = up,up,up ] \
   && [ "$(jqr .checks.chain.chain_id)" = 31337 ]; then
  pass "readyz 200 with signer, chain and s3 up"; else fail "readyz 200 with signer, chain and s3 up (got $code)"; cat "$work/readyz.json"; echo; fi
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$AK_API_URL/readyz")
# No POST route: the HTTP front answers 404 (API Gateway does the same for an unrouted method).
[ "$code" = 404 ] || [ "$code" = 405 ] && pass "readyz POST is refused ($code)" || fail "readyz POST is refused (got $code)"

stop_pid() { local p; p=$(cat "$L/pids/$1" 2>/dev/null) && kill "$p" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
stop_pid signer || fail "stop the signer"
code=$(readyz)
if [ "$code" = 503 ] && [ "$(jqr '.failing|join(",")')" = signer ] && [ "$(jqr .reason)" = not_ready ] \
   && [ "$(jqr .checks.signer.status)" = down ] && [ "$(jqr .checks.signer.reason)" = signer_unavailable ] \
   && [ "$(jqr .checks.chain.status),$(jqr .checks.s3.status)" = up,up ]; then
  pass "signer stopped: readyz 503 naming signer only"; else fail "signer stopped: readyz 503 naming signer only (got $code)"; cat "$work/readyz.json"; echo; fi
stop_pid anvil || fail "stop anvil"
code=$(readyz)
if [ "$code" = 503 ] && [ "$(jqr '.failing|join(",")')" = signer,chain ] && [ "$(jqr .checks.s3.status)" = up ]; then
  pass "anvil stopped too: readyz 503 naming signer and chain"; else fail "anvil stopped too: readyz 503 naming signer and chain (got $code)"; cat "$work/readyz.json"; echo; fi
grep -q '"msg":"not_ready","dependency":"signer","reason":"signer_unavailable"' "$L/logs/emulator.log" \
  && pass "each failing dependency is logged with its reason" || fail "each failing dependency is logged with its reason"

[ $fails -eq 0 ] && echo "readyz: all passed" || echo "readyz: $fails failed"
exit $((fails > 0))
