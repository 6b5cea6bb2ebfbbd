#!/usr/bin/env bash
# tests/bench/worker_fetch_cg.sh — instructions per warm /v1/cred/fetch inside CredFetchFunction
# (issue 19 item 3), counted by valgrind callgrind on a private local stack.
#
# Starts scripts/stack-up (release binaries) in a private AK_LOCAL_DIR, registers a master and an
# agent with a scope, logs the agent in, gets its STS credentials and one store + one fetch cap,
# stores a secret, then for each binary in CG_BINS restarts the emulator with CredFetchFunction
# run under callgrind, makes WARM fetches (not counted: cold start, signer connect, caches), zeroes
# the counters, makes COUNT fetches with the same cap and dumps. Prints instructions per fetch and
# the inclusive top functions (callgrind_annotate --inclusive=yes).
#
# Env: CG_BINS   "label=path ..." (default "own=build/release/cred-fetch/bootstrap")
#      COUNT     counted fetches (default 20); WARM (default 5); KEEP=1 keeps the stack dir.
# A measurement, not a test: it prints figures and fails only when the flow itself fails.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
COUNT=${COUNT:-20}
WARM=${WARM:-5}
CG_BINS=${CG_BINS:-own=$top/build/release/cred-fetch/bootstrap}
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || { echo "valgrind missing"; exit 1; }

L=$(mktemp -d "${TMPDIR:-/tmp}/ak-fetch-cg.XXXXXX")
export AK_LOCAL_DIR=$L
WORK=$L/work; mkdir -p "$WORK"
EPID=
cleanup() {
  [ -n "$EPID" ] && kill "$EPID" 2>/dev/null
  AK_LOCAL_DIR=$L "$top/scripts/stack-down" >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $L"; else rm -rf "$L"; fi
}
trap cleanup EXIT
die() { echo "worker_fetch_cg: $*" >&2; exit 1; }
"$top/scripts/stack-up" >"$WORK/stack-up.log" 2>&1 || { tail -20 "$WORK/stack-up.log"; die "stack-up failed"; }
# shellcheck disable=SC1091
. "$L/stack.env"
export AK_WORK=$WORK
# shellcheck disable=SC1091
. "$top/tests/lib/akclient.sh"

ak_new_wallet MASTER && ak_new_wallet AGENT || die wallets
PK=$WORK/master.passkey
ak_passkey_new "$PK" && ak_register_first_master "$MASTER_KEY" "$PK" && ak_register_agent "$MASTER_KEY" "$AGENT_KEY" \
  && ak_set_scope "$MASTER_KEY" "$PK" 2 "$AGENT_ADDR" credentials:openrouter || die registry
OP_HEX=$(ak_omni "$MASTER_ADDR"); AG_HEX=$(ak_omni "$AGENT_ADDR")
"$top/scripts/local-iam" allow-actor "$AG_HEX" "$OP_HEX" >"$WORK/iam.log" 2>&1 || die local-iam
AGENT_S=$(ak_login "$AGENT_KEY") || die login
r=$(ak_api POST /v1/mint-oidc-jwt "" -H "authorization: Bearer $AGENT_S")
[ "${r%% *}" = 200 ] || die "mint-oidc-jwt: $r"
jwt=$(jq -r .jwt <<<"${r#* }")
out=$(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= /usr/bin/aws --no-sign-request --endpoint-url "$AK_STS_ENDPOINT" \
  sts assume-role-with-web-identity --role-arn "$AK_VAULT_ROLE_ARN" --role-session-name "cg-$(date +%s)" \
  --web-identity-token "$jwt" --duration-seconds 3600 --output json 2>"$WORK/sts.err") || die "sts: $(head -c 300 "$WORK/sts.err")"
CREDS=$(jq -c '.Credentials | {access_key_id: .AccessKeyId, secret_access_key: .SecretAccessKey, session_token: .SessionToken}' <<<"$out")
cap() { local r; r=$(ak_cap "$AGENT_S" "$1" "$(ak_cap_body "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter "$2" credentials)")
  [ "${r%% *}" = 200 ] || die "cap $1: $r"; jq -r .cap <<<"${r#* }"; }
C_STORE=$(cap cred-store store); C_FETCH=$(cap cred-fetch fetch)
SECRET_B64=$(printf 'sk-bench-%s' "$(openssl rand -hex 24)" | base64 -w0)
r=$(ak_worker "$CREDS" /v1/cred/store "$(jq -cn --arg c "$C_STORE" --arg p "$SECRET_B64" '{cap:$c, plaintext_b64:$p}')")
[ "${r%% *}" = 200 ] || die "store: $r"
FETCH_BODY=$(jq -cn --arg c "$C_FETCH" '{cap:$c}')
fetch() { local r; r=$(ak_worker "$CREDS" /v1/cred/fetch "$FETCH_BODY"); [ "${r%% *}" = 200 ] || die "fetch: $r"; }
fetch

# The emulator again, on the same port and environment, with CredFetchFunction under callgrind.
API_PORT=${AK_API_URL##*:}
API_PORT=${API_PORT%%/*}
kill "$(cat "$L/pids/emulator")" 2>/dev/null
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$API_PORT/healthz" >/dev/null 2>&1 || break; sleep 0.1; done
for spec in $CG_BINS; do
  label=${spec%%=*} bin=${spec#*=}
  [ -x "$bin" ] || die "$bin missing"
  CG=$WORK/cg-$label; mkdir -p "$CG"
  printf '#!/bin/sh\nexec valgrind -q --tool=callgrind --callgrind-out-file=%s/out.%%p %s\n' "$CG" "$bin" >"$CG/wrap.sh"
  chmod +x "$CG/wrap.sh"
  rm -f "$L/emulator.ready"
  "$top/build/release/bin/ak-emulator" --template "$top/template.yaml" --root "$top" --flavour release --port "$API_PORT" \
    --env-file "$L/emulator.env" --ready-file "$L/emulator.ready" --destinations-dir "$L/destinations" \
    --bootstrap "CredFetchFunction=$CG/wrap.sh" >"$CG/emulator.log" 2>&1 &
  EPID=$!
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$API_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  for _ in $(seq "$WARM"); do fetch; done
  pid=$(pgrep -f "callgrind-out-file=$CG/out\\." | head -1)
  [ -n "$pid" ] || die "no valgrind process for $label"
  callgrind_control -z "$pid" >/dev/null 2>&1
  for _ in $(seq "$COUNT"); do fetch; done
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  dump=$(ls -t "$CG"/out.* 2>/dev/null | head -1)
  [ -n "$dump" ] || die "no callgrind dump for $label"
  total=$(callgrind_annotate "$dump" 2>/dev/null | grep -m1 'PROGRAM TOTALS' | tr -d ',' | awk '{print $1}')
  echo "$label: $bin"
  echo "  instructions per warm fetch: $((total / COUNT)) (callgrind, $COUNT fetches after $WARM warm-up)"
  echo "  top inclusive (instructions over the $COUNT fetches):"
  callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -40 | sed 's/^/    /'
  kill "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null; EPID=
done
