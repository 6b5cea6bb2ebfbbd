#!/bin/bash
# tests/e2e/emulator_test.sh — end-to-end checks of ak-emulator (runtime/emulator/).
#
# Starts the emulator on 127.0.0.1 (random port) with tests/e2e/fixtures/emulator-template.yaml:
#   HealthFunction     the real build/release/health/bootstrap (falls back to the shell stand-in
#                      fixtures/health-runtime.sh, with a note, when it has not been built)
#   FixtureFunction    fixtures/fixture-runtime.sh: echo, handler error, crash, sleep, big answer
#   InitErrorFunction  the same script posting /runtime/init/error
#   InitCrashFunction  the same script exiting before its first /next
#   MissingFunction    no bootstrap at all (ReservedConcurrentExecutions 5)
#   PoolFunction       fixtures/fixture-runtime.sh, for instance pools: parallel instances, the
#                      cap (--max-instances PoolFunction=2 over the template's 3), warm reuse,
#                      timeouts of one instance, stop, and a call to itself during an invocation
#   ThrottledFunction  ReservedConcurrentExecutions 0
# and drives it through the HTTP API front (curl) and the Lambda Invoke API (/usr/bin/aws and
# curl). One PASS/FAIL line per check; exit status 1 if any failed.
#
# Env: AK_EMULATOR (default build/release/bin/ak-emulator, else build/dev/bin/ak-emulator).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FIX="$ROOT/tests/e2e/fixtures"
PY=/usr/bin/python3
AWS=/usr/bin/aws
. "$ROOT/tests/lib/check.sh"
# pyjson FILE EXPR: evaluates EXPR with d = the JSON document in FILE; true when EXPR is truthy.
pyjson() { "$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null; }

EMU=${AK_EMULATOR:-}
if [ -z "$EMU" ]; then
    for c in "$ROOT/build/release/bin/ak-emulator" "$ROOT/build/dev/bin/ak-emulator"; do
        [ -x "$c" ] && { EMU=$c; break; }
    done
fi
if [ -z "$EMU" ] || [ ! -x "$EMU" ]; then
    fail emulator_binary "build it with: make build/release/bin/ak-emulator"
    exit 1
fi

T=$(mktemp -d)
EPID=""
cleanup() {
    if [ -n "$EPID" ] && kill -0 "$EPID" 2>/dev/null; then
        kill -TERM "$EPID" 2>/dev/null
        wait "$EPID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT

HEALTH_ARGS=()
if [ -x "$ROOT/build/release/health/bootstrap" ]; then
    echo "# HealthFunction: real build/release/health/bootstrap"
else
    echo "# HealthFunction: build/release/health/bootstrap missing, using fixtures/health-runtime.sh"
    HEALTH_ARGS=(--bootstrap "HealthFunction=$FIX/health-runtime.sh")
fi

cat > "$T/env" <<'EOF'
# applied to every function
FIXTURE_ALL=everyone
# one function only
FixtureFunction.FIXTURE_OVERRIDE=only-fixture
FixtureFunction.FIXTURE_UNRESOLVED="overridden"
EOF

# A variable of ours that must not leak into the functions' environment.
mkdir "$T/pool"
FIXTURE_SECRET_FROM_PARENT=leak "$EMU" --template "$FIX/emulator-template.yaml" --root "$ROOT" \
    --flavour release --port 0 --ready-file "$T/port" --pid-file "$T/pid" --env-file "$T/env" \
    --bootstrap "FixtureFunction=$FIX/fixture-runtime.sh" \
    --bootstrap "InitErrorFunction=$FIX/fixture-runtime.sh" \
    --bootstrap "InitCrashFunction=$FIX/fixture-runtime.sh" \
    --bootstrap "PoolFunction=$FIX/fixture-runtime.sh" --env "PoolFunction.FIXTURE_DIR=$T/pool" \
    --bootstrap "ThrottledFunction=$FIX/fixture-runtime.sh" --max-instances PoolFunction=2 \
    "${HEALTH_ARGS[@]}" > "$T/log" 2>&1 &
EPID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
if [ ! -s "$T/port" ]; then
    fail emulator_start "$(cat "$T/log")"
    exit 1
fi
P=$(cat "$T/port")
URL="http://127.0.0.1:$P"
pass emulator_start
check_cmd pid_file test "$(cat "$T/pid")" = "$EPID"
# Loopback only: the listening socket is bound to 127.0.0.1.
check_cmd listens_on_loopback_only bash -c "ss -ltnH 'sport = :$P' | awk '{print \$4}' | grep -qx '127.0.0.1:$P'"

export AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
# awsinv NAME PAYLOAD OUT [extra args]: aws lambda invoke; metadata JSON to $OUT.meta
awsinv() {
    local name=$1 payload=$2 out=$3
    shift 3
    "$AWS" lambda invoke --endpoint-url "$URL" --function-name "$name" \
        --cli-binary-format raw-in-base64-out --payload "$payload" "$@" "$out" > "$out.meta" 2> "$out.err"
}
stat_of() { # stat_of FUNCTION FIELD
    curl -sS "$URL/__emulator/stats" | "$PY" -c 'import json,sys
for f in json.load(sys.stdin)["functions"]:
    if f["name"] == sys.argv[1]: print(f[sys.argv[2]])' "$1" "$2"
}
# fstat FUNCTION EXPR: true when EXPR holds for f = the function's object in /__emulator/stats.
fstat() {
    curl -sS "$URL/__emulator/stats" | "$PY" -c 'import json,sys
f = [f for f in json.load(sys.stdin)["functions"] if f["name"] == sys.argv[1]][0]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}
# wait_for TENTHS CMD...: runs CMD every 0.1 s until it succeeds, at most TENTHS times.
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
# invoke FUNCTION PAYLOAD OUT: Invoke API call with curl (bounded).
invoke() { curl -sS -m 20 -o "$3" -X POST --data "$2" "$URL/2015-03-31/functions/$1/invocations"; }
export URL PY
export -f pyjson fstat  # for the `bash -c` checks

# ---------------------------------------------------------------- HealthFunction
code=$(curl -sS -o "$T/h.json" -w '%{http_code}' "$URL/healthz")
check_cmd health_http_200 test "$code" = 200
check_cmd health_http_status_ok pyjson "$T/h.json" 'd["status"] == "ok"'
check_cmd health_report_line grep -qE '^\[HealthFunction\] REPORT RequestId: [0-9a-f-]{36}	Duration: [0-9.]+ ms	Billed Duration: [0-9]+ ms	Memory Size: 128 MB	Max Memory Used: [1-9][0-9]* MB	Init Duration: [0-9.]+ ms' "$T/log"
check_cmd health_start_end_lines bash -c "grep -q '^\[HealthFunction\] START RequestId: .* Version: \\\$LATEST' '$T/log' && grep -q '^\[HealthFunction\] END RequestId: ' '$T/log'"

# The Invoke API passes the payload through untouched, so HealthFunction gets an API Gateway v2
# event for GET /healthz: the public vector (aws-lambda-go events), re-pointed at our route.
VEC="${AK_VECTORS_DIR:-$ROOT/../shared/vectors}/aws-lambda-go-events/apigw-v2-request-no-authorizer.json"
"$PY" - "$VEC" > "$T/hev.json" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except OSError:
    d = {"version": "2.0", "headers": {}, "requestContext": {"http": {"method": "GET", "protocol": "HTTP/1.1",
         "sourceIp": "127.0.0.1", "userAgent": "t"}, "stage": "$default"}, "isBase64Encoded": False}
d["routeKey"] = d["requestContext"]["routeKey"] = "GET /healthz"
d["rawPath"] = d["requestContext"]["http"]["path"] = "/healthz"
d["requestContext"]["http"]["method"] = "GET"
print(json.dumps(d))
EOF
if awsinv HealthFunction "$(cat "$T/hev.json")" "$T/hi.json"; then
    check_cmd health_awscli_status pyjson "$T/hi.json.meta" 'd["StatusCode"] == 200 and "FunctionError" not in d and d["ExecutedVersion"] == "$LATEST"'
    check_cmd health_awscli_payload pyjson "$T/hi.json" 'd["statusCode"] == 200 and json.loads(d["body"])["status"] == "ok"'
else
    fail health_awscli "$(cat "$T/hi.json.err")"
fi
# Second call is warm: no Init Duration on its REPORT line.
n_cold=$(grep -c '^\[HealthFunction\] REPORT.*Init Duration' "$T/log")
check_cmd health_warm_second_invoke test "$n_cold" = 1

# ---------------------------------------------------------------- HTTP API front: event shape
curl -sS -o "$T/ev.json" -H 'Cookie: s=1; t=2' -H 'X-Multi: 1' -H 'X-Multi: 2' -A 'emu-test/1' \
    "$URL/echo/bob%20x?a=1&a=2&b=c%2Fd"
check_cmd event_version_routekey pyjson "$T/ev.json" 'd["version"] == "2.0" and d["routeKey"] == "ANY /echo/{name}" and d["requestContext"]["routeKey"] == d["routeKey"]'
check_cmd event_raw_path_query pyjson "$T/ev.json" 'd["rawPath"] == "/echo/bob%20x" and d["rawQueryString"] == "a=1&a=2&b=c%2Fd"'
check_cmd event_query_params pyjson "$T/ev.json" 'd["queryStringParameters"] == {"a": "1,2", "b": "c/d"}'
check_cmd event_path_params pyjson "$T/ev.json" 'd["pathParameters"] == {"name": "bob x"}'
check_cmd event_cookies pyjson "$T/ev.json" 'd["cookies"] == ["s=1", "t=2"] and "cookie" not in d["headers"]'
check_cmd event_headers_lowercase pyjson "$T/ev.json" 'd["headers"]["x-multi"] == "1,2" and d["headers"]["user-agent"] == "emu-test/1" and all(k == k.lower() for k in d["headers"])'
check_cmd event_request_context pyjson "$T/ev.json" 'd["requestContext"]["http"] == {"method": "GET", "path": "/echo/bob%20x", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "emu-test/1"} and d["requestContext"]["stage"] == "$default" and isinstance(d["requestContext"]["timeEpoch"], int) and d["requestContext"]["accountId"] and d["requestContext"]["apiId"] and d["requestContext"]["domainName"] and d["requestContext"]["requestId"] and d["requestContext"]["time"]'
check_cmd event_no_body pyjson "$T/ev.json" '"body" not in d and d["isBase64Encoded"] is False'
curl -sS -o "$T/ex.json" "$URL/echo/exact"
check_cmd route_literal_beats_param pyjson "$T/ex.json" 'd["routeKey"] == "GET /echo/exact" and "pathParameters" not in d'
curl -sS -o "$T/js.json" -X PUT -H 'Content-Type: application/json' --data '{"k":"v"}' "$URL/echo/j"
check_cmd event_text_body pyjson "$T/js.json" 'd["body"] == "{\"k\":\"v\"}" and d["isBase64Encoded"] is False and d["requestContext"]["http"]["method"] == "PUT"'
printf '\000\001\002binary' > "$T/bin"
curl -sS -o "$T/b.json" -X POST --data-binary "@$T/bin" -H 'Content-Type: application/octet-stream' "$URL/files/a/b%2Fc/d.bin"
check_cmd event_binary_body_base64 pyjson "$T/b.json" 'd["isBase64Encoded"] is True and d["body"] == "AAECYmluYXJ5"'
check_cmd event_greedy_path_param pyjson "$T/b.json" 'd["routeKey"] == "POST /files/{proxy+}" and d["pathParameters"] == {"proxy": "a/b/c/d.bin"}'

# ---------------------------------------------------------------- HTTP API front: responses
curl -sS -D "$T/sh" -o "$T/sb" "$URL/echo/x?FIXTURE_STRUCT"
check_cmd response_structured_status grep -q '^HTTP/1.1 201' "$T/sh"
check_cmd response_structured_headers bash -c "grep -qi '^x-fixture: yes' '$T/sh' && grep -qi '^content-type: text/plain' '$T/sh' && test \$(grep -ci '^set-cookie: [ab]=[12]' '$T/sh') = 2"
check_cmd response_structured_base64_body test "$(cat "$T/sb")" = hello
curl -sS -D "$T/bh" -o /dev/null "$URL/echo/bare"
check_cmd response_bare_json_is_200_json grep -qi '^content-type: application/json' "$T/bh"
code=$(curl -sS -o "$T/nf" -w '%{http_code}' "$URL/no/such/route")
check_cmd unknown_route_404 bash -c "test $code = 404 && test \"\$(cat '$T/nf')\" = '{\"message\":\"Not Found\"}'"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$URL/healthz")
check_cmd wrong_method_404 test "$code" = 404
code=$(curl -sS -o "$T/he" -w '%{http_code}' "$URL/echo/FIXTURE_ERROR")
check_cmd http_handler_error_500 bash -c "test $code = 500 && grep -q 'Internal Server Error' '$T/he'"

# ---------------------------------------------------------------- limits
head -c 7000000 /dev/zero | tr '\0' a > "$T/big"
code=$(curl -sS -o "$T/o1" -w '%{http_code}' -X POST --data-binary "@$T/big" "$URL/files/big")
check_cmd oversize_http_413 test "$code" = 413
code=$(curl -sS -D "$T/o2h" -o "$T/o2" -w '%{http_code}' -X POST --data-binary "@$T/big" \
    "$URL/2015-03-31/functions/FixtureFunction/invocations")
check_cmd oversize_invoke_413 bash -c "test $code = 413 && grep -qi '^x-amzn-errortype: RequestEntityTooLargeException' '$T/o2h' && grep -q 'RequestEntityTooLargeException' '$T/o2'"
# Exactly at the limit is accepted by the front (then refused by nobody: echo needs JSON, so a
# JSON string of 6 MiB - 2 quotes).
{ printf '"'; head -c $((6 * 1024 * 1024 - 2)) /dev/zero | tr '\0' b; printf '"'; } > "$T/edge"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary "@$T/edge" \
    "$URL/2015-03-31/functions/FixtureFunction/invocations")
check_cmd payload_at_limit_accepted test "$code" = 200
if awsinv FixtureFunction '{"x":"FIXTURE_BIG"}' "$T/big.json"; then
    check_cmd response_too_large pyjson "$T/big.json" 'd["errorType"] == "Function.ResponseSizeTooLarge"'
else
    fail response_too_large "$(cat "$T/big.json.err")"
fi
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data 'not json' "$URL/2015-03-31/functions/FixtureFunction/invocations")
check_cmd invoke_non_json_payload_400 test "$code" = 400

# ---------------------------------------------------------------- environment
if awsinv FixtureFunction '{"x":"FIXTURE_ENV"}' "$T/env.json" --log-type Tail; then
    check_cmd env_platform_vars pyjson "$T/env.json" 'd["fn"] == "FixtureFunction" and d["mem"] == "256" and d["timeout"] == "2" and d["handler"] == "fixture.handler" and d["version"] == "$LATEST" and d["task_root"].endswith("tests/e2e/fixtures")'
    check_cmd env_template_vars pyjson "$T/env.json" 'd["global"] == "from-globals" and d["stage"] == "local" and d["sub"] == "local-us-east-1"'
    check_cmd env_overrides pyjson "$T/env.json" 'd["all"] == "everyone" and d["override"] == "only-fixture" and d["unresolved"] == "overridden"'
    check_cmd env_no_leak_from_emulator pyjson "$T/env.json" 'd["home_leak"] == ""'
    check_cmd next_headers pyjson "$T/env.json" 'd["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:FixtureFunction" and int(d["deadline"]) > 1600000000000'
    check_cmd log_tail pyjson "$T/env.json.meta" '"START RequestId" in __import__("base64").b64decode(d["LogResult"]).decode() and "REPORT RequestId" in __import__("base64").b64decode(d["LogResult"]).decode()'
else
    fail env "$(cat "$T/env.json.err")"
fi

# ---------------------------------------------------------------- faults
if awsinv FixtureFunction '{"x":"FIXTURE_ERROR"}' "$T/err.json"; then
    check_cmd handler_error_unhandled pyjson "$T/err.json.meta" 'd["FunctionError"] == "Unhandled"'
    check_cmd handler_error_type pyjson "$T/err.json" 'd["errorType"] == "Fixture.HandlerError" and d["errorMessage"] == "handler failed on purpose"'
else
    fail handler_error "$(cat "$T/err.json.err")"
fi
if awsinv InitErrorFunction '{}' "$T/ie.json"; then
    check_cmd init_error_unhandled pyjson "$T/ie.json.meta" 'd["FunctionError"] == "Unhandled"'
    check_cmd init_error_type pyjson "$T/ie.json" 'd["errorType"] == "Fixture.InitError" and d["errorMessage"] == "fixture init failed"'
    check_cmd init_error_logged grep -q '^\[InitErrorFunction\] INIT_REPORT .*Status: error	Error Type: Fixture.InitError' "$T/log"
else
    fail init_error "$(cat "$T/ie.json.err")"
fi
if awsinv InitCrashFunction '{}' "$T/ic.json"; then
    check_cmd init_crash_exit_error pyjson "$T/ic.json" 'd["errorType"] == "Runtime.ExitError" and "exit status 7" in d["errorMessage"]'
else
    fail init_crash "$(cat "$T/ic.json.err")"
fi
if awsinv MissingFunction '{}' "$T/mf.json"; then
    check_cmd missing_bootstrap_invalid_entrypoint pyjson "$T/mf.json" 'd["errorType"] == "Runtime.InvalidEntrypoint"'
else
    fail missing_bootstrap "$(cat "$T/mf.json.err")"
fi
if "$AWS" lambda invoke --endpoint-url "$URL" --function-name NoSuchFunction "$T/nf.json" > /dev/null 2> "$T/nf.err"; then
    fail unknown_function_404 "invoke succeeded"
else
    check_cmd unknown_function_404 grep -q ResourceNotFoundException "$T/nf.err"
fi

pid_before=$(stat_of FixtureFunction pid)
if awsinv FixtureFunction '{"x":"FIXTURE_CRASH"}' "$T/cr.json"; then
    check_cmd crash_exit_error pyjson "$T/cr.json" 'd["errorType"] == "Runtime.ExitError" and "exit status 3" in d["errorMessage"]'
    check_cmd crash_unhandled pyjson "$T/cr.json.meta" 'd["FunctionError"] == "Unhandled"'
else
    fail crash "$(cat "$T/cr.json.err")"
fi
if awsinv FixtureFunction '{"x":"after-crash"}' "$T/rc.json"; then
    check_cmd crash_recovery pyjson "$T/rc.json" 'd == {"x": "after-crash"}'
    pid_after=$(stat_of FixtureFunction pid)
    check_cmd crash_fresh_process bash -c "test -n '$pid_after' && test '$pid_after' != '$pid_before' && test '$pid_after' != 0"
else
    fail crash_recovery "$(cat "$T/rc.json.err")"
fi

pid_before=$(stat_of FixtureFunction pid)
start=$(date +%s%N)
if awsinv FixtureFunction '{"x":"FIXTURE_SLEEP"}' "$T/to.json"; then
    took_ms=$((($(date +%s%N) - start) / 1000000))
    check_cmd timeout_sandbox_timedout pyjson "$T/to.json" 'd["errorType"] == "Sandbox.Timedout" and "Task timed out after 2.00 seconds" in d["errorMessage"]'
    check_cmd timeout_unhandled pyjson "$T/to.json.meta" 'd["FunctionError"] == "Unhandled"'
    # Not a timing assertion: only that the 30 s sleep was cut short.
    check_cmd timeout_cut_short test "$took_ms" -lt 20000
    check_cmd timeout_process_killed bash -c "! kill -0 $pid_before 2>/dev/null"
    check_cmd timeout_report_status grep -q '^\[FixtureFunction\] REPORT .*Status: timeout' "$T/log"
else
    fail timeout "$(cat "$T/to.json.err")"
fi
if awsinv FixtureFunction '{"x":"after-timeout"}' "$T/rt.json"; then
    check_cmd timeout_recovery pyjson "$T/rt.json" 'd == {"x": "after-timeout"}'
else
    fail timeout_recovery "$(cat "$T/rt.json.err")"
fi
code=$(curl -sS -o "$T/t504" -w '%{http_code}' "$URL/echo/FIXTURE_SLEEP")
check_cmd http_timeout_504 bash -c "test $code = 504 && grep -q 'Endpoint request timed out' '$T/t504'"

# Event (async) invocation: 202 at once, runs in the background.
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'X-Amz-Invocation-Type: Event' --data '{"x":"async"}' \
    "$URL/2015-03-31/functions/FixtureFunction/invocations")
check_cmd invoke_async_202 test "$code" = 202
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'X-Amz-Invocation-Type: DryRun' \
    "$URL/2015-03-31/functions/FixtureFunction/invocations")
check_cmd invoke_dryrun_204 test "$code" = 204

# Several callers at once (up to 4 instances, the default cap): all answered.
for i in 1 2 3 4; do
    curl -sS -o "$T/q$i" -X POST --data "{\"q\":$i}" "$URL/2015-03-31/functions/FixtureFunction/invocations" &
done
wait_ok=1
for i in 1 2 3 4; do wait -n 2>/dev/null || true; done
sleep 0.2
for i in 1 2 3 4; do pyjson "$T/q$i" "d == {'q': $i}" || wait_ok=0; done
check_cmd queued_invocations_all_answered test "$wait_ok" = 1

# ---------------------------------------------------------------- instance pools (PoolFunction)
check_cmd pool_cap_from_flag_over_template fstat PoolFunction 'f["max_instances"] == 2 and f["instances"] == 0 and f["state"] == "stopped"'
check_cmd pool_cap_from_template fstat MissingFunction 'f["max_instances"] == 5'
check_cmd pool_cap_default fstat FixtureFunction 'f["max_instances"] == 4 and f["instances_peak"] <= 4'
# Two concurrent invocations run in parallel: each holds until both have arrived (at most 4 s),
# which a single instance, running them one after the other, can never satisfy.
invoke PoolFunction '{"x":"FIXTURE_HOLD:par:2"}' "$T/par1" &
j1=$!
invoke PoolFunction '{"x":"FIXTURE_HOLD:par:2"}' "$T/par2" &
j2=$!
wait "$j1" "$j2"
check_cmd pool_parallel_rendezvous bash -c "pyjson '$T/par1' 'd[\"seen\"] == 2' && pyjson '$T/par2' 'd[\"seen\"] == 2'"
check_cmd pool_parallel_two_processes "$PY" -c 'import json,sys
a, b = (json.load(open(f))["pid"] for f in sys.argv[1:])
sys.exit(0 if a != b else 1)' "$T/par1" "$T/par2"
# From the log: the second START comes before the first END; both REPORTs carry Init Duration.
check_cmd pool_parallel_log_order awk '/^\[PoolFunction\] START /{s++; if (s == 2) s2 = NR} /^\[PoolFunction\] END /{if (!e) e = NR} END {exit !(s2 && e && s2 < e)}' "$T/log"
check_cmd pool_parallel_two_cold_starts bash -c "test \$(grep -c '^\[PoolFunction\] REPORT.*Init Duration' '$T/log') = 2 && grep -q '^\[PoolFunction\] scaling out: instance 2 ' '$T/log'"
check_cmd pool_parallel_stats fstat PoolFunction 'f["instances"] == 2 and f["cold_starts"] == 2 and f["instances_peak"] == 2 and f["instances_busy"] == 0 and len({i["pid"] for i in f["instance_list"]}) == 2'

# Warm reuse, most recently used first: two back-to-back invocations (each once both runtimes
# are back in GET /next) land on the same instance, with no new cold start.
both_parked() { fstat PoolFunction 'f["instances"] == 2 and all(i["parked"] for i in f["instance_list"])'; }
wait_for 50 both_parked
invoke PoolFunction '{"x":"FIXTURE_HOLD:solo:1"}' "$T/solo1"
wait_for 50 both_parked
invoke PoolFunction '{"x":"FIXTURE_HOLD:solo:2"}' "$T/solo2"
mru=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$T/solo1" 2>/dev/null)
check_cmd pool_warm_reuse_most_recent bash -c "pyjson '$T/solo2' 'd[\"pid\"] == $mru'"
check_cmd pool_warm_no_cold_start fstat PoolFunction 'f["cold_starts"] == 2 and f["instances"] == 2'

# A timeout kills only that instance; the other one keeps serving, warm.
other=$(curl -sS "$URL/__emulator/stats" | "$PY" -c 'import json,sys
f = [f for f in json.load(sys.stdin)["functions"] if f["name"] == "PoolFunction"][0]
print([i["pid"] for i in f["instance_list"] if i["pid"] != int(sys.argv[1])][0])' "$mru" 2>/dev/null)
wait_for 50 both_parked
invoke PoolFunction '{"x":"FIXTURE_SLEEP"}' "$T/pto"
check_cmd pool_timeout_one_instance bash -c "pyjson '$T/pto' 'd[\"errorType\"] == \"Sandbox.Timedout\"' && ! kill -0 $mru 2>/dev/null && kill -0 ${other:-0} 2>/dev/null"
invoke PoolFunction '{"x":"FIXTURE_HOLD:after:1"}' "$T/pafter"
check_cmd pool_timeout_sibling_serves bash -c "pyjson '$T/pafter' 'd[\"pid\"] == ${other:-0}' && fstat PoolFunction 'f[\"instances\"] == 1 and f[\"cold_starts\"] == 2'"

# The cap: three concurrent invocations with a cap of 2 -> two instances busy, one queued, until
# the test releases them; then all three are answered by those two instances.
jobs_cap=()
for i in 1 2 3; do
    invoke PoolFunction '{"x":"FIXTURE_HOLD:cap:99"}' "$T/cap$i" &
    jobs_cap+=($!)
done
check_cmd pool_cap_queues_beyond wait_for 50 fstat PoolFunction 'f["instances"] == 2 and f["instances_busy"] == 2 and f["queued"] == 1'
code=$(curl -sS -o "$T/stop409" -w '%{http_code}' -X POST "$URL/__emulator/functions/PoolFunction/stop")
check_cmd pool_stop_busy_409 bash -c "test $code = 409 && pyjson '$T/stop409' 'd[\"stopped\"] is False'"
: > "$T/pool/cap.release"
wait "${jobs_cap[@]}"
check_cmd pool_cap_all_answered bash -c "for i in 1 2 3; do pyjson '$T/cap'\$i 'd[\"group\"] == \"cap\"' || exit 1; done"
check_cmd pool_cap_never_exceeded fstat PoolFunction 'f["instances_peak"] == 2 and f["instances"] == 2 and f["cold_starts"] == 3 and f["queued"] == 0'

# Stop: every idle instance goes; the next invocation is a cold start.
pool_pids=$(curl -sS "$URL/__emulator/stats" | "$PY" -c 'import json,sys
f = [f for f in json.load(sys.stdin)["functions"] if f["name"] == "PoolFunction"][0]
print(" ".join(str(i["pid"]) for i in f["instance_list"]))' 2>/dev/null)
wait_for 50 both_parked
code=$(curl -sS -o "$T/stop" -w '%{http_code}' -X POST "$URL/__emulator/functions/PoolFunction/stop")
check_cmd pool_stop_all_idle bash -c "test $code = 200 && pyjson '$T/stop' 'd[\"instances_stopped\"] == 2' && fstat PoolFunction 'f[\"instances\"] == 0 and f[\"state\"] == \"stopped\"'"
check_cmd pool_stop_killed_processes bash -c "test -n '$pool_pids' && for p in $pool_pids; do ! kill -0 \$p 2>/dev/null || exit 1; done"

# A self-call: during its invocation the function calls the HTTP front for another of its own
# routes (as OidcFunction's mint-aws-creds -> STS -> our JWKS route). A second instance answers
# it instead of a deadlock.
code=$(curl -sS -m 20 -o "$T/self" -w '%{http_code}' "$URL/pool/self?FIXTURE_SELFCALL")
check_cmd pool_self_call_completes bash -c "test $code = 200 && pyjson '$T/self' 'd[\"inner_status\"] == \"200\" and d[\"inner\"][\"group\"] == \"inner\" and d[\"inner\"][\"pid\"] != d[\"pid\"]'"
check_cmd pool_self_call_scaled_out fstat PoolFunction 'f["instances"] == 2 and f["cold_starts"] == 5'

# ReservedConcurrentExecutions 0: throttled.
code=$(curl -sS -D "$T/thh" -o "$T/th" -w '%{http_code}' -X POST --data '{}' "$URL/2015-03-31/functions/ThrottledFunction/invocations")
check_cmd throttled_invoke_429 bash -c "test $code = 429 && grep -qi '^x-amzn-errortype: TooManyRequestsException' '$T/thh'"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/throttled")
check_cmd throttled_http_500 bash -c "test $code = 500 && fstat ThrottledFunction 'f[\"instances\"] == 0 and f[\"cold_starts\"] == 0'"

check_cmd no_sanitizer_reports bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' '$T/log'"

# ---------------------------------------------------------------- shutdown
# With work in flight: two PoolFunction invocations busy and one queued.
jobs_bye=()
for i in 1 2 3; do
    invoke PoolFunction '{"x":"FIXTURE_HOLD:bye:99"}' "$T/bye$i" &
    jobs_bye+=($!)
done
check_cmd shutdown_with_work_in_flight wait_for 50 fstat PoolFunction 'f["instances_busy"] == 2 and f["queued"] == 1'
# Every instance of every function, and whatever they started (their process groups).
kids=$(curl -sS "$URL/__emulator/stats" | "$PY" -c 'import json,sys
print(" ".join(str(i["pid"]) for f in json.load(sys.stdin)["functions"] for i in f["instance_list"]))' 2>/dev/null)
check_cmd shutdown_has_instances test -n "$kids"
kids="$kids $(for k in $kids; do pgrep -g "$k"; done 2>/dev/null | tr '\n' ' ')"
kill -TERM "$EPID"
ok=0
for _ in $(seq 1 50); do kill -0 "$EPID" 2>/dev/null || { ok=1; break; }; sleep 0.1; done
wait "$EPID" 2>/dev/null
rc=$?
EPID=""
check_cmd shutdown_on_sigterm test "$ok" = 1 -a "$rc" = 0
alive=""
sleep 0.2
# A killed child may linger as a zombie until init reaps it: count only live processes.
for k in $kids; do
    st=$(awk '{print $3}' "/proc/$k/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] && alive="$alive $k"
done
check_cmd shutdown_kills_children test -z "$alive"
check_cmd shutdown_removes_pid_file test ! -e "$T/pid"
wait "${jobs_bye[@]}" 2>/dev/null
check_cmd shutdown_no_sanitizer_reports bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' '$T/log'"

# ---------------------------------------------------------------- negative: bad templates and flags
printf 'Resources:\n  A:\n    Type: AWS::Serverless::Function\n   Properties: x\n' > "$T/bad1.yaml"
"$EMU" --template "$T/bad1.yaml" --port 0 > "$T/bad1.out" 2>&1
rc=$?
check_cmd bad_template_indentation bash -c "test $rc = 2 && grep -q 'line 4' '$T/bad1.out'"
printf 'Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: soon\n' > "$T/bad2.yaml"
"$EMU" --template "$T/bad2.yaml" --port 0 > "$T/bad2.out" 2>&1
rc=$?
check_cmd bad_template_timeout bash -c "test $rc = 2 && grep -q 'Timeout' '$T/bad2.out'"
printf 'Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n' > "$T/bad3.yaml"
"$EMU" --template "$T/bad3.yaml" --port 0 > "$T/bad3.out" 2>&1
rc=$?
check_cmd bad_template_no_functions test "$rc" = 2
"$EMU" --template "$FIX/emulator-template.yaml" --flavour debug > "$T/bad4.out" 2>&1
rc=$?
check_cmd bad_flag_flavour test "$rc" = 2
printf 'NOT A LINE\n' > "$T/badenv"
"$EMU" --template "$FIX/emulator-template.yaml" --env-file "$T/badenv" > "$T/bad5.out" 2>&1
rc=$?
check_cmd bad_env_file bash -c "test $rc = 2 && grep -q 'badenv:1' '$T/bad5.out'"
# (bounded: an emulator that accepted these would otherwise keep running)
timeout 10 "$EMU" --template "$FIX/emulator-template.yaml" --max-instances 0 > "$T/bad6.out" 2>&1
rc=$?
check_cmd bad_flag_max_instances_zero test "$rc" = 2
timeout 10 "$EMU" --template "$FIX/emulator-template.yaml" --max-instances PoolFunction=many > "$T/bad7.out" 2>&1
rc=$?
check_cmd bad_flag_max_instances_value test "$rc" = 2
printf 'Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      ReservedConcurrentExecutions: 5000\n' > "$T/bad8.yaml"
timeout 10 "$EMU" --template "$T/bad8.yaml" --port 0 > "$T/bad8.out" 2>&1
rc=$?
check_cmd bad_template_reserved_concurrency bash -c "test $rc = 2 && grep -q 'ReservedConcurrentExecutions' '$T/bad8.out'"

if [ "$fails" -ne 0 ]; then
    echo "# $fails check(s) failed; emulator log:"
    sed 's/^/#   /' "$T/log" | tail -60
    exit 1
fi
exit 0
