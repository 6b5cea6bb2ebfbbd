#!/usr/bin/env bash
# scripts/demo.sh — the main job of agentkeys, told step by step on the local stack (`make demo`).
# Every step is an `agentkeys` command a reader could type, printed before it runs ($ ...).
#
#   operator wallet + software passkey -> first master registered on chain
#   agent wallet; its consent; registered by the operator; scopes credentials:openrouter, memory:notes
#   agent signs in with its wallet (SIWE) -> cached session
#   secret stored, fetched back byte for byte; an out-of-scope service refused; memory put/get
#   a process gets the secret in its environment only, masked in its output
#   any AWS SDK gets the agent's confined STS credentials through credential_process
#   K3 epoch advanced on chain -> the secret is still readable (and re-keyed)
#   the operator provisions a use-only key; the agent calls an API with it (call, proxy), never sees it
#   mail to the agent's address routed into its inbox (SES router); read by the agent
#   the operator tears the agent's data down
#   audit flush -> Merkle batch -> anchored on chain -> verified against the chain alone
#
# Only three steps are not `agentkeys` commands, each marked "(local stack)": gas for the new
# wallets from the chain's deployer, the IAM stand-in for AWS's session-tag variables
# (scripts/local-iam), and SES's own delivery of a mail (staged in S3, then the router invoked).
#
# Starts the stack itself (scripts/stack-up) and stops everything it started on exit.
# AK_DEMO_KEEP=1 leaves the stack running for exploring (then: scripts/stack-down).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$'\033[1m' G=$'\033[32m' R=$'\033[31m' D=$'\033[2m' N=$'\033[0m'
else B='' G='' R='' D='' N=''; fi
bold() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
ok() { printf '   %sok%s %s\n' "$G" "$N" "$*"; }
show() { printf '   %-28s %s\n' "$1" "$2"; }
die() { printf '   %sFAILED%s %s\n' "$R" "$N" "$*"; exit 1; }
# run 'COMMAND LINE': prints it as the reader would type it, then runs it (output indented).
run() {
  printf '   %s$ %s%s\n' "$D" "$1" "$N"
  local o rc=0
  o=$(eval "$1" 2>&1) || rc=$?
  [ -z "$o" ] || printf '%s\n' "$o" | sed 's/^/     /'
  return $rc
}
# out 'COMMAND LINE': prints it, runs it, and keeps its stdout in $OUT (stderr shown).
out() {
  printf '   %s$ %s%s\n' "$D" "$1" "$N"
  local rc=0
  OUT=$(eval "$1" 2>"$AK_WORK/stderr") || rc=$?
  [ -s "$AK_WORK/stderr" ] && sed 's/^/     /' "$AK_WORK/stderr"
  return $rc
}

AK_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ak-demo.XXXXXX")
cleanup() {
  if [ "${AK_DEMO_KEEP:-0}" = 1 ]; then
    echo; echo "stack left running (AK_DEMO_KEEP=1): source ${AK_LOCAL_DIR:-build/local}/stack.env; scripts/stack-down to stop"
  else
    scripts/stack-down >/dev/null 2>&1 || true
  fi
  [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null
  [ -n "${ECHO_PID:-}" ] && kill "$ECHO_PID" 2>/dev/null
  rm -rf "$AK_WORK"
}
trap cleanup EXIT

bold "Starting the local stack (anvil + contracts, Ceph S3/STS/IAM, signer enclave, Lambda emulator)"
scripts/stack-down >/dev/null 2>&1 || true
scripts/stack-up | sed 's/^/   /'
STACK_ENV=${AK_LOCAL_DIR:-$top/build/local}/stack.env
# shellcheck disable=SC1090
. "$STACK_ENV"
# The reader's shell: `agentkeys` on PATH, its config and cache in this demo's own directory.
export PATH=$top/build/release/bin:$PATH XDG_CONFIG_HOME=$AK_WORK/config XDG_CACHE_HOME=$AK_WORK/cache
unset AGENTKEYS_PROFILE
command -v agentkeys >/dev/null || die "build/release/bin/agentkeys is missing (make release)"
CAST=$top/node_modules/@foundry-rs/cast-linux-amd64/bin/cast
PY=/usr/bin/python3
# reason_of: the "reason" of a --json error answer in $OUT
reason_of() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get("reason","?"))' <<<"$OUT"; }
fund() { "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$AK_DEPLOYER_KEY" "$1" --value 1ether >/dev/null || die "fund $1"; }

r=$(curl -fsS --max-time 30 "$AK_API_URL/healthz") || die "healthz"
show "GET /healthz" "$r"

bold "1. Operator: a wallet (K10) and a software passkey (K11) register the first master"
run "agentkeys --profile operator config import-env $STACK_ENV"
run "agentkeys --profile operator wallet new --plain" || die "operator wallet"
OPERATOR_ADDR=$(agentkeys --profile operator wallet address)
fund "$OPERATOR_ADDR"; ok "(local stack) gas for $OPERATOR_ADDR from the chain's deployer"
run "agentkeys --profile operator config set passkey software:$AK_WORK/operator.passkey" || die "passkey setting"
out "agentkeys --profile operator operator init" || die "operator init"
printf '%s\n' "$OUT" | sed 's/^/     /'
OPERATOR_OMNI=$(awk '$1 == "operator" {print $2}' <<<"$OUT"); OPERATOR_OMNI=${OPERATOR_OMNI#0x}
[ ${#OPERATOR_OMNI} = 64 ] || die "operator id not printed"
run "agentkeys --profile operator master ls" || die "master ls"

bold "2. Agent: its own wallet; it consents on its own machine, the operator registers it"
run "agentkeys --profile agent config import-env $STACK_ENV"
run "agentkeys --profile agent wallet new --plain" || die "agent wallet"
AGENT_ADDR=$(agentkeys --profile agent wallet address)
out "agentkeys --profile agent agent consent --operator $OPERATOR_OMNI" || die "consent"
CONSENT=$OUT
show "consent blob" "${CONSENT:0:24}… (address + EIP-191 signature; no key crosses)"
out "agentkeys --profile operator agent add $CONSENT" || die "agent add"
printf '%s\n' "$OUT" | sed 's/^/     /'
AGENT_OMNI=$(awk '$1 == "actor_omni" {print $2}' <<<"$OUT"); AGENT_OMNI=${AGENT_OMNI#0x}
[ ${#AGENT_OMNI} = 64 ] || die "agent actor id not printed"
run "agentkeys --profile operator agent ls" || die "agent ls"

bold "3. Scopes credentials:openrouter, memory:notes and credentials:weather (passkey-gated)"
run "agentkeys --profile operator scope grant $AGENT_ADDR credentials:openrouter memory:notes credentials:weather" \
  || die "scope grant"
run "agentkeys --profile operator scope ls $AGENT_ADDR" || die "scope ls"
scripts/local-iam allow-actor "$AGENT_OMNI" >/dev/null
ok "(local stack) IAM: the per-class roles know this actor (stand-in for the template's ABAC variables)"

# The agent's shell never holds the stack's admin keys.
ADMIN_AWS=(AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY")
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

bold "4. Agent signs in with its wallet (SIWE, EIP-191); the session is cached (0600)"
run "agentkeys --profile agent login" || die "agent login"
run "agentkeys --profile agent whoami" || die "whoami"

bold "5. Store a secret, fetch it back (cap minted with K10 proof of possession, chain-checked)"
SECRET="sk-or-v1-demo-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$SECRET" >"$AK_WORK/openrouter.key"
run "agentkeys --profile agent cred put openrouter --file $AK_WORK/openrouter.key" || die "cred put"
out "agentkeys --profile agent cred get openrouter" || die "cred get"
[ "$OUT" = "$SECRET" ] && ok "fetched secret equals the stored one, byte for byte" || die "fetched secret differs"
run "agentkeys --profile agent cred ls" || die "cred ls"
if out "agentkeys --profile agent --json cred get github"; then die "an out-of-scope service was served"; else rc=$?; fi
show "credentials:github" "refused: $(reason_of) (exit $rc)"
out "agentkeys --profile agent aws-creds --class credentials" || die "aws-creds"
RAW=$(AWS_ACCESS_KEY_ID=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["AccessKeyId"])' <<<"$OUT") \
  AWS_SECRET_ACCESS_KEY=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["SecretAccessKey"])' <<<"$OUT") \
  AWS_SESSION_TOKEN=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["SessionToken"])' <<<"$OUT") \
  /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp "s3://$AK_VAULT_BUCKET/bots/$AGENT_OMNI/credentials/openrouter.enc" - 2>/dev/null \
  | xxd -p | tr -d '\n' | head -c 40)
show "what S3 holds (hex)" "${RAW}… (version byte 04, epoch, nonce, ciphertext)"

bold "6. Memory: put and get the namespace notes"
NOTE='{"todo":["book flight","renew passport"]}'
printf '%s' "$NOTE" >"$AK_WORK/notes.json"
run "agentkeys --profile agent mem put notes --file $AK_WORK/notes.json" || die "mem put"
out "agentkeys --profile agent mem get notes" || die "mem get"
[ "$OUT" = "$NOTE" ] && ok "memory round trip: $NOTE" || die "memory differs"

bold "7. A process gets the secret in its environment only; its output is masked"
run "agentkeys --profile agent run --env OPENROUTER_API_KEY=cred:openrouter -- sh -c 'echo \"the child sees \$OPENROUTER_API_KEY\"; exit 3'" \
  && die "run: the child's exit code was not passed through" || [ $? = 3 ] || die "run: wrong exit code"
ok "the child's exit code (3) is agentkeys's; its output never shows the value"

bold "8. Any AWS SDK: credential_process gives the agent's confined credentials"
cat >"$AK_WORK/aws-config" <<EOF
[profile agent]
credential_process = $top/build/release/bin/agentkeys --profile agent aws-creds --class credentials
region = ${AWS_REGION:-us-east-1}
EOF
printf '   %s[profile agent] credential_process = agentkeys --profile agent aws-creds --class credentials%s\n' "$D" "$N"
run "AWS_CONFIG_FILE=$AK_WORK/aws-config /usr/bin/aws --profile agent --endpoint-url $AK_S3_ENDPOINT s3 ls s3://$AK_VAULT_BUCKET/bots/$AGENT_OMNI/credentials/" \
  || die "aws s3 ls with credential_process"

bold "9. K3 epoch advanced on chain; the secret is still readable, and re-keyed"
run "agentkeys --profile governance config import-env $STACK_ENV"
(umask 077; printf '%s\n' "$AK_DEPLOYER_KEY" >"$AK_WORK/governance.hex")
run "agentkeys --profile governance wallet import --key-file $AK_WORK/governance.hex --plain" || die "governance wallet"
run "agentkeys --profile governance epoch rotate" || die "epoch rotate"
out "agentkeys --profile agent cred get openrouter" || die "fetch after epoch advance"
[ "$OUT" = "$SECRET" ] && ok "same secret after the epoch change (lazily re-encrypted under the new epoch)" \
  || die "secret differs after re-key"

bold "10. Mail: a message to the agent's address lands in its own inbox; the agent reads it"
MID="demo$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
# What SES's receipt rule does first: the raw message into the staging prefix (admin credentials
# stand in for SES here), then SesRouterFunction is invoked with the receipt event.
printf 'From: ci@example.com\r\nTo: %s@mail.example.com\r\nSubject: build finished\r\n\r\nYour build finished.\r\n' "$AGENT_OMNI" \
  | env "${ADMIN_AWS[@]}" /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp - "s3://$AK_MAIL_BUCKET/inbound/$MID" >/dev/null || die "stage mail"
"$PY" - "$MID" "$AGENT_OMNI@mail.example.com" events/ses-routed.json >"$AK_WORK/ses.json" <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[3]))
e["Records"][0]["ses"]["mail"]["messageId"] = sys.argv[1]
e["Records"][0]["ses"]["receipt"]["recipients"] = [sys.argv[2]]
print(json.dumps(e))
PYEOF
r=$(curl -sS --max-time 60 -X POST --data-binary @"$AK_WORK/ses.json" "$AK_API_URL/2015-03-31/functions/SesRouterFunction/invocations")
show "(local stack) SES -> router" "$r"
out "agentkeys --profile agent inbox ls" || die "inbox ls"
printf '%s\n' "$OUT" | sed 's/^/     /'
MSG=$(head -n1 <<<"$OUT")
out "agentkeys --profile agent inbox cat $MSG" || die "inbox cat"
show "read with mail-role creds" "$(grep -m1 '^Subject:' <<<"$OUT" | tr -d '\r')"

bold "11. Use without holding: the operator provisions a use-only key; the agent calls the API with it, never sees it"
read -r EPORT PPORT <<<"$("$top/scripts/lib/free-ports" 2)" || die "free ports"
TP=$AK_WORK/thirdparty
ECHO_PID=$("$top/tests/e2e/fixtures/thirdparty-up" "$TP" "$EPORT" "$AK_PKI_DIR") || die "the third-party API did not start"
ok "(local stack) a third-party HTTPS API on localhost:$EPORT that echoes what it receives (certificate from the dev CA)"
USE_SECRET="wx-live-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
(umask 077; printf '%s\n' "$USE_SECRET" >"$AK_WORK/weather.key")
run "agentkeys --profile operator cred put weather --file $AK_WORK/weather.key --use-only --allow-host localhost:$EPORT --allow-method GET --inject 'header:Authorization: Bearer {}' --for $AGENT_ADDR" \
  || die "provision the use-only key"
rm -f "$AK_WORK/weather.key"
if out "agentkeys --profile agent --json cred get weather"; then die "a use-only credential was served"; else rc=$?; fi
show "agent fetches it" "refused: $(reason_of) (exit $rc)"
out "agentkeys --profile agent call weather GET https://localhost:$EPORT/v1/forecast?city=Lisbon" || die "agentkeys call"
show "the API's answer" "$(head -c 160 <<<"$OUT")…"
agentkeys --profile agent proxy --listen "127.0.0.1:$PPORT" --upstream "weather=localhost:$EPORT" >"$AK_WORK/proxy.out" 2>"$AK_WORK/proxy.err" &
PROXY_PID=$!
for _ in $(seq 100); do grep -q "^http://127.0.0.1:$PPORT\$" "$AK_WORK/proxy.out" 2>/dev/null && break; sleep 0.1; done
printf '   %s$ agentkeys --profile agent proxy --listen 127.0.0.1:%s --upstream weather=localhost:%s &%s\n' "$D" "$PPORT" "$EPORT" "$N"
out "curl -sS -H 'Authorization: Bearer sk-dummy' http://127.0.0.1:$PPORT/weather/v1/forecast?city=Porto" || die "a plain client through the proxy"
show "plain curl via the proxy" "$(head -c 120 <<<"$OUT")…"
kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=
"$PY" - "$TP/requests.log" "$USE_SECRET" <<'PYEOF' || die "the key did not reach the third party"
import json, sys
seen = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
auth = [r["headers"].get("Authorization") or r["headers"].get("authorization") for r in seen]
sys.exit(0 if auth and all(a == "Bearer " + sys.argv[2] for a in auth) else 1)
PYEOF
if grep -rqF "$USE_SECRET" "$AK_WORK/config" "$AK_WORK/cache" "$AK_WORK/proxy.out" "$AK_WORK/proxy.err" \
  || grep -qF "$USE_SECRET" <<<"$OUT"; then die "the secret reached the agent's side"; fi
ok "the third party received 'Authorization: Bearer <the key>' $(grep -c . "$TP/requests.log") times; the agent's output, config and cache never held it"
kill "$ECHO_PID" 2>/dev/null; ECHO_PID=
for k in $(env "${ADMIN_AWS[@]}" /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket "$AK_AUDIT_BUCKET" \
    --prefix "audit/pending/$OPERATOR_OMNI/" --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n'); do
  env "${ADMIN_AWS[@]}" /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp "s3://$AK_AUDIT_BUCKET/$k" - 2>/dev/null
  echo
done | "$PY" -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if not line: continue
    e = json.loads(line)
    if e.get("service") == "weather":
        print("   audit: %-8s %-12s %-8s %s" % (e.get("action"), e.get("data_class"), e.get("service"), e.get("outcome")))'

bold "12. The operator tears the agent's credentials down"
run "agentkeys --profile operator login" || die "operator login"
run "agentkeys --profile operator teardown $AGENT_ADDR --class credentials" || die "teardown"
if out "agentkeys --profile agent --json cred get openrouter"; then die "the secret survived the teardown"; else rc=$?; fi
show "fetch after teardown" "refused: $(reason_of) (exit $rc)"

bold "13. Audit: flush -> Merkle batch; the operator anchors the root on chain; anyone verifies"
run "agentkeys --profile operator audit flush" || die "audit flush"
# The operator reads its audit bucket with its own AWS credentials (the stack's admin keys here).
export "${ADMIN_AWS[@]}"
run "agentkeys --profile operator audit anchor" || die "audit anchor"
out "agentkeys --profile operator audit ls" || die "audit ls"
EVENTS=$(grep -c . <<<"$OUT")
EVENT_ID=$(head -n1 <<<"$OUT")
show "flushed events" "$EVENTS"
run "agentkeys --profile operator audit proof $EVENT_ID --out $AK_WORK/proof.json" || die "audit proof"
run "agentkeys --profile operator audit verify $AK_WORK/proof.json" || die "audit verify"
"$PY" - "$AK_WORK/proof.json" "$AK_WORK/forged.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["event"] = p["event"].replace('"ok"', '"OK"', 1)
json.dump(p, open(sys.argv[2], "w"))
PYEOF
if run "agentkeys --profile operator audit verify $AK_WORK/forged.json"; then die "a forged event verified"; fi
ok "a forged event does not verify (INVALID)"

bold "Done: every step above ran against real services on 127.0.0.1; the stack is stopped on exit."
