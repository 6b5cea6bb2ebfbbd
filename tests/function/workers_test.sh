#!/usr/bin/env bash
# tests/function/workers_test.sh — the six worker bootstraps (ak/worker.h) driven by events/*.json
# through the fake Lambda Runtime API (tests/function/lib/fake_rapi.py), with no upstream up:
# a dev PKI in a temp dir (the signer client loads it at init but nothing listens on the signer
# port), an unreachable chain RPC. Checks what a worker decides on its own, in D11 order:
# STS headers (missing / partial → 401), the body (unknown field, bad base64 → 400), method (405),
# then an unreachable signer when the cap keys are needed → 503 signer_unavailable (fail closed);
# init refuses a function whose AK_DATA_CLASS is not its class; no X-Aws-* value in the logs.
#   FLAVOUR=release tests/function/workers_test.sh   (default: dev build)
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
FLAVOUR=${FLAVOUR:-dev}
. tests/lib/check.sh
bootstrap() { if [ "$FLAVOUR" = release ]; then echo "build/release/$1/bootstrap"; else echo "build/dev/functions/$1/bootstrap"; fi; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

./scripts/dev-pki "$work/pki" > /dev/null 2>&1 || { echo "FAIL workers: dev-pki"; exit 1; }
closed_port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

# run FN CLASS ROLE_CERT EVENT... → $work/<FN>.posts.jsonl and $work/<FN>.log
run() {
    local fn=$1 cls=$2 role=$3; shift 3
    local b; b=$(bootstrap "$fn")
    [ -x "$b" ] || { fail "$fn built" "$b missing"; return 1; }
    rm -f "$work/$fn.port" "$work/$fn.posts.jsonl"
    "$PY" tests/function/lib/fake_rapi.py "$work/$fn.port" "$work/$fn.posts.jsonl" --fn "$fn" "$@" &
    local fake=$!
    pids+=("$fake")
    for _ in $(seq 100); do [ -s "$work/$fn.port" ] && break; sleep 0.05; done
    env -i PATH=/usr/bin:/bin \
        AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$work/$fn.port")" \
        AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDEXECROLE AWS_SECRET_ACCESS_KEY=exec-role-secret-not-real \
        AK_S3_ENDPOINT=http://127.0.0.1:$closed_port \
        AK_DATA_CLASS="$cls" AK_VAULT_BUCKET=ak-vault AK_MEMORY_BUCKET=ak-memory AK_AUDIT_BUCKET=ak-audit \
        AK_CHAIN_RPC_URL=http://127.0.0.1:$closed_port AK_CHAIN_ID=31337 \
        AK_REGISTRY_ADDRESS=0x5FbDB2315678afecb367f032d93F642f64180aa3 \
        AK_SCOPE_ADDRESS=0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512 \
        AK_EPOCH_ADDRESS=0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0 \
        AK_SIGNER_URL=https://127.0.0.1:$closed_port AK_SIGNER_CA_PEM="$work/pki/ca.crt" \
        AK_SIGNER_CLIENT_CERT="$work/pki/$role.crt" AK_SIGNER_CLIENT_KEY="$work/pki/$role.key" \
        AK_SIGNER_ATTEST_PUB="$work/pki/attest.pub" \
        AK_SIGNER_MEASUREMENT=$(printf '0%.0s' $(seq 96)) AK_SIGNER_TIMEOUT_MS=1000 \
        "$b" > "$work/$fn.log" 2>&1 &
    local boot=$!
    pids+=("$boot")
    for _ in $(seq 300); do kill -0 "$fake" 2>/dev/null || break; sleep 0.05; done
    for _ in $(seq 100); do kill -0 "$boot" 2>/dev/null || break; sleep 0.05; done
    kill "$fake" "$boot" 2>/dev/null
}

# check_post NAME FN INDEX STATUS REASON
check_post() {
    if "$PY" - "$work/$2.posts.jsonl" "$3" "$4" "$5" <<'PYEOF'
import json, sys
p = [json.loads(l) for l in open(sys.argv[1])]
i, st, reason = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = p[i]
assert r['path'].endswith('/fn-test-%d/response' % i), r['path']
doc = json.loads(r['body'])
assert doc['statusCode'] == st, doc
body = json.loads(doc['body'])
assert body['reason'] == reason, body
assert set(body) == {'error', 'reason'}, body
PYEOF
    then pass "$1"; else fail "$1"; fi
}

run cred-fetch credentials worker-credentials events/cred-fetch-no-sts.json events/cred-fetch-partial-sts.json \
    events/cred-fetch-unknown-field.json events/cred-fetch-get.json events/cred-fetch.json
check_post cred_fetch_sts_missing_401 cred-fetch 0 401 sts_headers_missing
check_post cred_fetch_sts_partial_401 cred-fetch 1 401 sts_headers_partial
check_post cred_fetch_unknown_field_400 cred-fetch 2 400 unknown_field
check_post cred_fetch_get_405 cred-fetch 3 405 method_not_allowed
check_post cred_fetch_signer_down_503 cred-fetch 4 503 signer_unavailable

run cred-store credentials worker-credentials events/cred-store-bad-base64.json events/cred-store.json
check_post cred_store_bad_base64_400 cred-store 0 400 bad_base64
check_post cred_store_signer_down_503 cred-store 1 503 signer_unavailable

run cred-use credentials worker-credentials events/cred-use.json events/cred-fetch-no-sts.json
check_post cred_use_signer_down_503 cred-use 0 503 signer_unavailable
check_post cred_use_sts_missing_401 cred-use 1 401 sts_headers_missing

run cred-teardown credentials worker-credentials events/cred-teardown.json
check_post cred_teardown_signer_down_503 cred-teardown 0 503 signer_unavailable
run memory-put memory worker-memory events/memory-put.json
check_post memory_put_signer_down_503 memory-put 0 503 signer_unavailable
run memory-get memory worker-memory events/memory-get.json events/cred-fetch-no-sts.json
check_post memory_get_signer_down_503 memory-get 0 503 signer_unavailable
check_post memory_get_sts_missing_401 memory-get 1 401 sts_headers_missing
run memory-teardown memory worker-memory events/memory-teardown.json
check_post memory_teardown_signer_down_503 memory-teardown 0 503 signer_unavailable

# A credentials function configured with the memory class refuses to start (init error).
run cred-store memory worker-credentials events/cred-store.json
if grep -q '/init/error' "$work/cred-store.posts.jsonl" && grep -q 'AgentKeys.config_error' "$work/cred-store.posts.jsonl"; then
    pass cred_store_wrong_class_init_error
else
    fail cred_store_wrong_class_init_error
fi

# No X-Aws-* value, cap token or execution-role secret in any log line.
leaks=0
for s in example-secret-not-real example-session-token-not-real ASIAEXAMPLEEXAMPLE01 exec-role-secret-not-real \
         eyJhbGciOiJFUzI1NiIsInR5cCI6ImFrLWNhcCtqd3QiLCJraWQiOiJleGFtcGxlIn0 c2stb3ItdjEtZXhhbXBsZQ; do
    if grep -l -- "$s" "$work"/*.log >/dev/null 2>&1; then echo "  leaked: $s"; leaks=1; fi
done
[ $leaks = 0 ] && pass workers_logs_have_no_secrets || fail workers_logs_have_no_secrets
echo "workers function tests: $passes passed, $fails failed"
exit $((fails > 0))
