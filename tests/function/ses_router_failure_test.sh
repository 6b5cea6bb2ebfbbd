#!/usr/bin/env bash
# tests/function/ses_router_failure_test.sh — the router's on-failure destination (issue 17
# item 4), exercised locally: the emulator runs SesRouterFunction's real bootstrap from the real
# template.yaml, whose EventInvokeConfig says two retries then the SQS failure queue; the
# emulator's stand-in for that queue is <--destinations-dir>/SesRouterFunction.on-failure.jsonl.
# The routing failure is a real one: S3 does not answer (AK_S3_ENDPOINT points at a port nobody
# listens on), so every attempt fails with the router's own error and the record must carry the
# SES messageId. Negative cases: a synchronous failure and a success write nothing, a copy of the
# template without a destination discards the failure, MaximumRetryAttempts 0 gives one attempt.
#   BOOTSTRAP=build/release/ses-router/bootstrap tests/function/ses_router_failure_test.sh
set -u
cd "$(dirname "$0")/../.."
BOOTSTRAP=${BOOTSTRAP:-build/dev/functions/ses-router/bootstrap}
EMU=${EMU:-build/dev/bin/ak-emulator}
PY=/usr/bin/python3
. tests/lib/check.sh
for b in "$BOOTSTRAP" "$EMU"; do [ -x "$b" ] || { echo "FAIL ses_router_failure: $b not built"; exit 1; }; done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
work=$(mktemp -d /tmp/ak-ses-failure-test.XXXXXX)
emu_pid=""
cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
    if [ "${AK_KEEP_WORK:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
read -r port dead_port <<<"$(scripts/lib/free-ports 2)" || { echo "FAIL no free ports"; exit 1; }

# start_emu TEMPLATE NAME: the emulator on $port with the router's bootstrap and a dead S3.
start_emu() {
    rm -f "$work/ready"
    "$EMU" --template "$1" --root "$PWD" --port "$port" --ready-file "$work/ready" \
        --bootstrap "SesRouterFunction=$PWD/$BOOTSTRAP" --destinations-dir "$work/dest-$2" \
        --env AK_MAIL_BUCKET=ak-mail --env "AK_S3_ENDPOINT=http://127.0.0.1:$dead_port" \
        --env AWS_ACCESS_KEY_ID=AKIDLOCALTEST --env AWS_SECRET_ACCESS_KEY=local-test-secret \
        > "$work/emu-$2.log" 2>&1 &
    emu_pid=$!
    for _ in $(seq 200); do [ -s "$work/ready" ] && return 0; sleep 0.05; done
    echo "emulator did not start:"; tail -n 20 "$work/emu-$2.log"; return 1
}
stop_emu() { kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=""; }
invoke() { # invoke TYPE EVENT_FILE: prints the HTTP status
    curl -sS -o "$work/out" -w '%{http_code}' -X POST -H "X-Amz-Invocation-Type: $1" --data-binary "@$2" \
        "http://127.0.0.1:$port/2015-03-31/functions/SesRouterFunction/invocations"
}
# wait_log NAME PATTERN: bounded wait (20 s) for a line in the emulator's log.
wait_log() { for _ in $(seq 400); do grep -q "$2" "$work/emu-$1.log" && return 0; sleep 0.05; done; return 1; }

# An event whose message id is unique to this run, so the record is unmistakably this one.
MSGID=akfail$(date +%s)$$
"$PY" -c 'import json,sys; e=json.load(open("events/ses-routed.json")); e["Records"][0]["ses"]["mail"]["messageId"]=sys.argv[1]; json.dump(e,open(sys.argv[2],"w"))' \
    "$MSGID" "$work/event.json"

# ---- the real template: 2 retries, then the record
start_emu template.yaml real || { echo "FAIL emulator_start"; exit 1; }
code=$(invoke Event "$work/event.json")
[ "$code" = 202 ] && pass "async invocation accepted (202)" || fail "async invocation accepted (202, got $code)"
rec=$work/dest-real/SesRouterFunction.on-failure.jsonl
if wait_log real "after 3 attempts: record appended"; then pass "three attempts, then the record (log)"; else
    fail "three attempts, then the record (log)"; tail -n 30 "$work/emu-real.log" | sed 's/^/    /'; fi
n_retry=$(grep -c "async invocation .* attempt [12] of 3: retrying" "$work/emu-real.log")
[ "$n_retry" = 2 ] && pass "two retries logged" || fail "two retries logged (got $n_retry)"
if [ -f "$rec" ] && [ "$(wc -l < "$rec")" = 1 ]; then pass "one record in the failure stand-in"; else
    fail "one record in the failure stand-in"; ls -la "$work/dest-real" 2>&1 | sed 's/^/    /'; fi
check_rec() { # check_rec NAME PYTHON_EXPR (over `r`, the first record)
    if "$PY" -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$rec" "$2" 2>/dev/null; then pass "$1"; else fail "$1"; head -c 600 "$rec" 2>/dev/null | sed 's/^/    /'; echo; fi
}
check_rec "record carries the SES message id" "r['requestPayload']['Records'][0]['ses']['mail']['messageId'] == '$MSGID'"
check_rec "record is Lambda's shape: RetriesExhausted after 3 attempts" \
    "r['version'] == '1.0' and r['requestContext']['condition'] == 'RetriesExhausted' and r['requestContext']['approximateInvokeCount'] == 3 and r['responseContext']['functionError'] == 'Unhandled'"
check_rec "record carries the router's error type" "r['responsePayload']['errorType'].startswith('AgentKeys.')"
check_rec "record names the function" "r['requestContext']['functionArn'].endswith(':function:SesRouterFunction:\$LATEST')"
check_rec "record's payload replays as is (the whole event)" "r['requestPayload'] == json.load(open('$work/event.json'))"
stats=$(curl -sS "http://127.0.0.1:$port/__emulator/stats")
if "$PY" -c 'import json,sys; f=[x for x in json.loads(sys.argv[1])["functions"] if x["name"]=="SesRouterFunction"][0]; sys.exit(0 if (f["async_retries"], f["async_failed"]) == (2, 1) else 1)' "$stats"; then
    pass "emulator stats count 2 retries and 1 failed async invocation"; else fail "emulator stats count 2 retries and 1 failed async invocation"; fi
[ "$(stat -c %a "$rec" 2>/dev/null)" = 600 ] && pass "record file is private (0600)" || fail "record file is private (0600)"

# A synchronous failure is the caller's to see: no record, no retry.
code=$(invoke RequestResponse "$work/event.json")
if [ "$code" = 200 ] && grep -q '"errorType"' "$work/out" && [ "$(wc -l < "$rec")" = 1 ]; then
    pass "a RequestResponse failure writes no record"; else fail "a RequestResponse failure writes no record (HTTP $code)"; fi
# A malformed event fails at once (nothing read or moved): it is recorded too, with its id.
"$PY" -c 'import json,sys; e=json.load(open(sys.argv[1])); e["Records"][0]["ses"]["receipt"]["recipients"]=["a b@x"]; e["Records"][0]["ses"]["mail"]["messageId"]=sys.argv[3]; json.dump(e,open(sys.argv[2],"w"))' \
    "$work/event.json" "$work/bad.json" "${MSGID}bad"
invoke Event "$work/bad.json" >/dev/null
for _ in $(seq 400); do [ "$(wc -l < "$rec")" -ge 2 ] && break; sleep 0.05; done
if [ "$(wc -l < "$rec")" = 2 ] && tail -n1 "$rec" | grep -q "\"messageId\":\"${MSGID}bad\"" && tail -n1 "$rec" | grep -q 'AgentKeys.invalid_event'; then
    pass "a malformed event is recorded with its message id (invalid_event)"; else
    fail "a malformed event is recorded with its message id (invalid_event)"; fi

# scripts/mail-failures on the stand-in: ls shows both; a replay that fails again keeps the
# record (S3 is still down), and --message-id picks one message's records only.
export AWS_ACCESS_KEY_ID=AKIDLOCALTEST AWS_SECRET_ACCESS_KEY=local-test-secret AWS_REGION=us-east-1
out=$(scripts/mail-failures ls --file "$rec" 2>&1)
if [ "$(grep -c 'error=AgentKeys' <<<"$out")" = 2 ] && grep -q "messages=$MSGID error=AgentKeys.upstream_error attempts=3" <<<"$out"; then
    pass "mail-failures ls lists both records with their message ids"; else
    fail "mail-failures ls lists both records with their message ids"; sed 's/^/    /' <<<"$out"; fi
out=$(timeout 60 scripts/mail-failures replay --file "$rec" --message-id "$MSGID" --endpoint-url "http://127.0.0.1:$port" 2>&1); rc=$?
if [ $rc = 1 ] && [ "$(grep -c '^still failing, kept' <<<"$out")" = 1 ] && [ "$(wc -l < "$rec")" = 2 ]; then
    pass "a replay that fails again keeps the record (exit 1)"; else
    fail "a replay that fails again keeps the record (exit $rc)"; sed 's/^/    /' <<<"$out"; fi
if scripts/mail-failures replay --file "$rec" --queue-url http://x >/dev/null 2>&1; then
    fail "mail-failures refuses two sources"; else pass "mail-failures refuses two sources"; fi
stop_emu

# ---- no OnFailure destination: the failure is discarded, as on Lambda (and said in the log)
sed '/^      EventInvokeConfig:$/,/^            Destination: /d' template.yaml > "$work/nodest.yaml"
if ! grep -q 'EventInvokeConfig' "$work/nodest.yaml"; then pass "copy without EventInvokeConfig made"; else fail "copy without EventInvokeConfig made"; fi
start_emu "$work/nodest.yaml" nodest || { echo "FAIL emulator_start_nodest"; exit 1; }
invoke Event "$work/event.json" >/dev/null
if wait_log nodest "after 3 attempts: discarded (no OnFailure destination"; then pass "without a destination the failure is discarded after 3 attempts"; else
    fail "without a destination the failure is discarded after 3 attempts"; fi
[ ! -e "$work/dest-nodest" ] && pass "without a destination nothing is written" || fail "without a destination nothing is written"
stop_emu

# ---- MaximumRetryAttempts 0: one attempt, then the record
sed 's/^        MaximumRetryAttempts: 2$/        MaximumRetryAttempts: 0/' template.yaml > "$work/noretry.yaml"
start_emu "$work/noretry.yaml" noretry || { echo "FAIL emulator_start_noretry"; exit 1; }
invoke Event "$work/event.json" >/dev/null
if wait_log noretry "after 1 attempts: record appended" && ! grep -q "retrying" "$work/emu-noretry.log"; then
    pass "MaximumRetryAttempts 0: one attempt, then the record"; else fail "MaximumRetryAttempts 0: one attempt, then the record"; fi
stop_emu

# ---- a bad EventInvokeConfig is a template error
sed 's/^        MaximumRetryAttempts: 2$/        MaximumRetryAttempts: 3/' template.yaml > "$work/bad-retry.yaml"
out=$(timeout 10 "$EMU" --template "$work/bad-retry.yaml" --root "$PWD" --port "$port" 2>&1 </dev/null); rc=$?
if [ $rc = 2 ] && grep -q 'MaximumRetryAttempts must be 0..2' <<<"$out"; then pass "MaximumRetryAttempts 3 is refused"; else
    fail "MaximumRetryAttempts 3 is refused (exit $rc)"; sed 's/^/    /' <<<"$out" | head -5; fi

check_done ses_router_failure
