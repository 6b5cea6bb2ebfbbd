#!/usr/bin/env bash
# tests/e2e/cli_operator_test.sh — the operator side of `agentkeys` (issue 13) end to end on a
# private local stack: every operator command through the binary, each step confirmed by reading
# the contracts' state independently with `cast call`, and the unhappy paths:
#   - the custom-error table of the binary against the compiled ABI (contracts/out): same errors,
#     same selectors as cast computes;
#   - operator init (first master + software passkey), re-run is a no-op;
#   - agent consent on the agent's wallet -> agent add on the master's; a consent for another
#     operator refused before anything is sent; agent ls;
#   - scope grant / ls / revoke (K11 assertions from the software passkey, sign counts kept);
#     a grant with another passkey reverts in words (InvalidSignature) and sends nothing;
#   - revoking an unknown agent: DeviceNotRegistered in words, nothing sent;
#   - master request / approve / add (a second master, blob exchange, no key crosses),
#     recovery threshold 2 (M-of-N), a revoke with too few approvals (WouldStrandOperator, then
#     InsufficientQuorum), threshold back to 1 with both approvals, master revoke;
#   - epoch rotate: --dry-run sends nothing, --to N advances and records the signer's K3
#     commitments of the new epochs, --to N again is a no-op (exit 0,
#     no transaction), a non-governance wallet gets NotSignerGovernance in words;
#   - agent revoke, a second revoke refused (DeviceAlreadyRevoked), scope revoke of everything.
# Gas used of every transaction is printed ("GAS <tx> <gas>") from the CLI's --json output.
#   AGENTKEYS_BIN=build/release/bin/agentkeys tests/e2e/cli_operator_test.sh   (default: dev build)
#   KEEP_TMP=1 keeps the work directory.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" cli_operator
AK=${AGENTKEYS_BIN:-$root/build/dev/bin/agentkeys}
case $AK in /*) ;; *) AK=$root/$AK ;; esac
[ -x "$AK" ] || die "cli_binary_missing ($AK; make build/dev/bin/agentkeys)"
EVMTOOL=$root/build/dev/tools/evmtool
[ -x "$EVMTOOL" ] || make -s build/dev/tools/evmtool >/dev/null 2>&1 || die "evmtool_missing"
CAST=$root/node_modules/@foundry-rs/cast-linux-amd64/bin/cast
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache
unset AGENTKEYS_PROFILE AGENTKEYS_WALLET AGENTKEYS_PASSKEY AGENTKEYS_OPERATOR
lower() { printf '%s' "$1" | tr 'A-F' 'a-f'; }
# run NAME WANT_RC CMD...: CMD's stdout in $work/out, stderr in $work/err; checks the exit code
run() {
  local name=$1 want=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then pass "$name"; else fail "$name (exit $rc, want $want: $(head -c 400 "$work/err") $(head -c 300 "$work/out"))"; fi
}
# err_has NAME TEXT: stderr of the last run contains TEXT
err_has() { if grep -qF -- "$2" "$work/err"; then pass "$1"; else fail "$1 (stderr: $(head -c 400 "$work/err"))"; fi; }
gas() { # TXNAME: prints the gas of the last --json output's tx
  local g; g=$(jq -r '.tx.gas_used // empty' "$work/out" 2>/dev/null)
  [ -n "$g" ] && echo "GAS $1 $g" | tee -a "$work/gas"
}
ccall() { "$CAST" call --rpc-url "$AK_RPC_URL" "$@"; }
nonce() { "$CAST" nonce --rpc-url "$AK_RPC_URL" "$1"; }

# ---------------------------------------------------------------- the error table vs the compiled ABI
# (before the stack: contracts/out is written by forge when the stack deploys; build it if absent)
stack_test_up
[ -d "$root/contracts/out" ] || die "contracts_out_missing"
"$EVMTOOL" errors >"$work/table" || die "evmtool_errors"
for f in "$root"/contracts/src/*.sol; do
  n=$(basename "$f" .sol)
  jq -r '.abi[] | select(.type=="error") | "\(.name)(\(.inputs | map(.type) | join(",")))"' \
    "$root/contracts/out/$n.sol/$n.json"
done | sort -u >"$work/abi-errors"
cut -d' ' -f2 "$work/table" | sort -u >"$work/table-errors"
if diff "$work/abi-errors" "$work/table-errors" >"$work/diff"; then
  pass "custom-error table == compiled ABI ($(wc -l <"$work/abi-errors") errors)"
else
  fail "custom-error table differs from contracts/out: $(cat "$work/diff")"
fi
bad=0
while read -r sel sig; do [ "$(lower "$("$CAST" sig "$sig")")" = "$sel" ] || { bad=1; echo "selector $sig: $sel"; }; done <"$work/table"
check "custom-error selectors == cast sig" "$bad" 0

# ---------------------------------------------------------------- profile and wallets
run "config import-env" 0 "$AK" config import-env "$L/stack.env"
keyfile() { # NAME [KEY]: a 0600 plain key file (a fresh funded wallet when KEY is not given)
  local k=${2:-}
  if [ -z "$k" ]; then
    k=$("$CAST" wallet new --json | jq -r '.[0].private_key')
    "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$AK_DEPLOYER_KEY" "$("$CAST" wallet address --private-key "$k")" \
      --value 1ether >/dev/null || die "fund_$1"
  fi
  (umask 077; printf '%s\n' "$k" >"$work/$1.key")
  lower "$("$CAST" wallet address --private-key "$k")"
}
MASTER=$(keyfile master); AGENT=$(keyfile agent); MASTER2=$(keyfile master2); OTHER=$(keyfile other)
GOV=$(keyfile gov "$AK_DEPLOYER_KEY")
omni() { printf 'agentkeysevm%s' "$(lower "$1")" | sha256sum | cut -d' ' -f1; }
OP=$(omni "$MASTER"); AGENT_OMNI=0x$(omni "$AGENT")
as() { local w=$1; shift; AGENTKEYS_WALLET=$work/$w.key XDG_CACHE_HOME=$work/cache-$w "$@"; }
PK=software:$work/master.passkey PK2=software:$work/master2.passkey

# ---------------------------------------------------------------- operator init
run "operator init (first master, passkey created)" 0 as master "$AK" --json operator init --passkey "$PK"; gas registerFirstMasterDevice
check "operator init prints the operator" "$(jq -r .operator_omni "$work/out")" "0x$OP"
check "chain: isMasterWallet(op, master)" "$(ccall "$AK_REGISTRY_ADDRESS" 'isMasterWallet(bytes32,address)(bool)' "0x$OP" "$MASTER")" true
check "passkey file is 0600" "$(stat -c %a "$work/master.passkey")" 600
n0=$(nonce "$MASTER")
run "operator init again: no-op, exit 0" 0 as master "$AK" --json operator init --passkey "$PK"
check "operator init again: already_registered" "$(jq -r .already_registered "$work/out")" true
check "operator init again: nothing sent" "$(nonce "$MASTER")" "$n0"

# ---------------------------------------------------------------- agents
run "agent consent (agent's wallet)" 0 as agent "$AK" agent consent --operator "$OP"
CONSENT=$(cat "$work/out")
case $CONSENT in akconsent1.*) pass "consent blob printed" ;; *) fail "consent blob: $CONSENT" ;; esac
if grep -qi "$(tr -d '\n' <"$work/agent.key" | sed 's/^0x//')" "$work/out" "$work/err"; then fail "consent leaks the key"; else pass "consent holds no key"; fi
run "agent consent for another operator" 0 as agent "$AK" agent consent --operator "$(omni "$OTHER")"
n0=$(nonce "$MASTER")
run "agent add with a consent for another operator refused" 1 as master "$AK" agent add "$(cat "$work/out")"
err_has "  ... reason consent_mismatch" consent_mismatch
check "  ... nothing sent" "$(nonce "$MASTER")" "$n0"
run "agent add (registerAgentDevice)" 0 as master "$AK" --json agent add "$CONSENT"; gas registerAgentDevice
AGENT_DKH=$("$CAST" keccak "$AGENT")
check "chain: agent device active" "$(ccall "$AK_REGISTRY_ADDRESS" 'isActive(bytes32)(bool)' "$AGENT_DKH")" true
check "chain: actorOperator(agent) == op" "$(ccall "$AK_REGISTRY_ADDRESS" 'actorOperator(bytes32)(bytes32)' "$AGENT_OMNI")" "0x$OP"
run "agent ls --json" 0 as master "$AK" --json agent ls
check "agent ls lists the agent, active" "$(jq -r --arg a "$AGENT" '.[] | select(.address==$a) | .status' "$work/out")" active
run "agent ls --operator (no wallet needed)" 0 "$AK" agent ls --operator "$OP"
grep -q "$AGENT" "$work/out" && pass "agent ls --operator shows the agent" || fail "agent ls --operator: $(cat "$work/out")"

# ---------------------------------------------------------------- scopes (K11)
sid() { "$CAST" keccak "$1"; }
in_scope() { ccall "$AK_SCOPE_ADDRESS" 'isServiceInScope(bytes32,bytes32,bytes32)(bool)' "0x$OP" "$AGENT_OMNI" "$(sid "$1")"; }
run "scope grant credentials:openrouter memory:notes" 0 as master "$AK" --json scope grant "$AGENT" credentials:openrouter memory:notes --passkey "$PK"; gas setScopeWithWebauthn
check "chain: credentials:openrouter in scope" "$(in_scope credentials:openrouter)" true
check "chain: memory:notes in scope" "$(in_scope memory:notes)" true
# the agent stores data (CLIENT helper's commands): what teardown and the audit trail work on.
# Local Ceph needs the actor in its IAM policies (scripts/local-iam); the agent never sees the
# stack's admin AWS keys.
"$root/scripts/local-iam" allow-actor "${AGENT_OMNI#0x}" >"$work/iam.log" 2>&1 || die "local_iam_allow_actor ($(tail -3 "$work/iam.log"))"
noadmin() { env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "$@"; }
run "agent: cred put openrouter" 0 as agent noadmin sh -c 'printf sk-or-e2e-value | "$0" cred put openrouter' "$AK"
run "agent: mem put notes" 0 as agent noadmin sh -c 'printf "a note" | "$0" mem put notes' "$AK"
run "teardown from the agent's own session: refused" 3 as agent noadmin "$AK" teardown "$AGENT"
err_has "  ... reason teardown_requires_master" teardown_requires_master
run "scope ls" 0 as master "$AK" scope ls "$AGENT"
grep -q "credentials:openrouter" "$work/out" && grep -q "memory:notes" "$work/out" && pass "scope ls names both" || fail "scope ls: $(cat "$work/out")"
# getDevice's 11 static words, one a line; the 10th is lastSignCount
SC1=$(ccall "$AK_REGISTRY_ADDRESS" 'getDevice(bytes32)(bytes32,bytes32,bytes32,bytes32,uint256,uint256,uint8,uint8,uint64,uint32,bool)' \
  "$("$CAST" keccak "$MASTER")" | sed -n 10p | cut -d' ' -f1)
check "chain: master passkey sign count advanced (2: init + grant)" "$SC1" 2
# a grant asserted by a passkey that is not the registered one
"$root/build/dev/tools/passkey" new --rpid agentkeys.local --out "$work/stranger.passkey" >/dev/null || die "stranger passkey"
n0=$(nonce "$MASTER")
run "scope grant with another passkey: exit 6" 6 as master "$AK" scope grant "$AGENT" credentials:other --passkey "software:$work/stranger.passkey"
err_has "  ... revert in words: InvalidSignature" "InvalidSignature(): the passkey signature does not verify"
check "  ... nothing sent" "$(nonce "$MASTER")" "$n0"
check "  ... chain: credentials:other not in scope" "$(in_scope credentials:other)" false
run "scope grant with a bad scope name: usage" 2 as master "$AK" scope grant "$AGENT" Credentials:X --passkey "$PK"
run "scope revoke memory:notes" 0 as master "$AK" --json scope revoke "$AGENT" memory:notes --passkey "$PK"; gas setScopeWithWebauthn-revoke-one
check "chain: memory:notes gone" "$(in_scope memory:notes)" false
check "chain: credentials:openrouter kept" "$(in_scope credentials:openrouter)" true
# sign counts: the key file keeps the last count; a file that lags behind the chain (restored
# from a backup, say) still signs above the chain's count
lastcount() { ccall "$AK_REGISTRY_ADDRESS" 'getDevice(bytes32)(bytes32,bytes32,bytes32,bytes32,uint256,uint256,uint8,uint8,uint64,uint32,bool)' \
  "$("$CAST" keccak "$1")" | sed -n 10p | cut -d' ' -f1; }
check "passkey file count == chain lastSignCount" "$(jq -r .sign_count "$work/master.passkey")" "$(lastcount "$MASTER")"
(umask 077; jq '.sign_count = 0' "$work/master.passkey" >"$work/pk.tmp") && mv "$work/pk.tmp" "$work/master.passkey"
run "scope grant with a key file whose count lags the chain" 0 as master "$AK" scope grant "$AGENT" credentials:github --passkey "$PK"
check "  ... chain: credentials:github in scope" "$(in_scope credentials:github)" true
check "  ... file count caught up with the chain" "$(jq -r .sign_count "$work/master.passkey")" "$(lastcount "$MASTER")"

# ---------------------------------------------------------------- unknown agent
n0=$(nonce "$MASTER")
run "agent revoke of an unknown agent: exit 6" 6 as master "$AK" agent revoke 0x000000000000000000000000000000000000dead
err_has "  ... revert in words: DeviceNotRegistered" "DeviceNotRegistered(deviceKeyHash=0x"
check "  ... nothing sent" "$(nonce "$MASTER")" "$n0"

# ---------------------------------------------------------------- a second master (M-of-N)
run "master request (new master's side)" 0 as master2 "$AK" master request --operator "$OP" --passkey "$PK2"
REQ=$(cat "$work/out")
run "master approve (existing master)" 0 as master "$AK" master approve "$REQ" --passkey "$PK"
APP=$(cat "$work/out")
run "master add (registerAdditionalMasterDevice)" 0 as master2 "$AK" --json master add --operator "$OP" --passkey "$PK2" "$APP"; gas registerAdditionalMasterDevice
check "chain: isMasterWallet(op, master2)" "$(ccall "$AK_REGISTRY_ADDRESS" 'isMasterWallet(bytes32,address)(bool)' "0x$OP" "$MASTER2")" true
run "master add again with the used approval: refused before sending" 1 as master2 "$AK" master add --operator "$OP" --passkey "$PK2" "$APP"
err_has "  ... reason approval_stale" approval_stale
run "recovery threshold 2 (own approval, threshold 1)" 0 as master "$AK" --json recovery threshold 2 --passkey "$PK"; gas setRecoveryThreshold
check "chain: recoveryThreshold == 2" "$(ccall "$AK_REGISTRY_ADDRESS" 'recoveryThreshold(bytes32)(uint8)' "0x$OP")" 2
run "master revoke with 2 masters at threshold 2: exit 6" 6 as master "$AK" master revoke "$MASTER2" --passkey "$PK"
err_has "  ... WouldStrandOperator in words" "WouldStrandOperator(remainingRecoveryMasters=1, threshold=2)"
run "recovery threshold 1 with one approval of two: exit 6" 6 as master "$AK" recovery threshold 1 --passkey "$PK"
err_has "  ... InsufficientQuorum in words" "InsufficientQuorum(got=1, required=2)"
run "recovery threshold 1 --request" 0 as master "$AK" recovery threshold 1 --request
REQ=$(cat "$work/out")
run "master2 approves the threshold change" 0 as master2 "$AK" master approve "$REQ" --passkey "$PK2"
APP2=$(cat "$work/out")
run "recovery threshold 1 (2 of 2 approvals)" 0 as master "$AK" --json recovery threshold 1 --passkey "$PK" "$APP2"; gas setRecoveryThreshold-2of2
check "chain: recoveryThreshold == 1" "$(ccall "$AK_REGISTRY_ADDRESS" 'recoveryThreshold(bytes32)(uint8)' "0x$OP")" 1
run "master revoke master2" 0 as master "$AK" --json master revoke "$MASTER2" --passkey "$PK"; gas revokeMasterDevice
check "chain: master2 inactive" "$(ccall "$AK_REGISTRY_ADDRESS" 'isActive(bytes32)(bool)' "$("$CAST" keccak "$MASTER2")")" false
run "master ls --json" 0 as master "$AK" --json master ls
check "master ls: master2 revoked" "$(jq -r --arg a "$MASTER2" '.[] | select(.address==$a) | .status' "$work/out")" revoked

# ---------------------------------------------------------------- K3 epoch
epoch() { ccall "$AK_EPOCH_ADDRESS" 'currentEpoch()(uint256)'; }
E0=$(epoch); G0=$(nonce "$GOV")
run "epoch rotate --dry-run" 0 as gov "$AK" epoch rotate --dry-run
check "  ... dry run: epoch unchanged" "$(epoch)" "$E0"
check "  ... dry run: nothing sent" "$(nonce "$GOV")" "$G0"
T=$((E0 + 2))
run "epoch rotate --to $T" 0 as gov "$AK" --json epoch rotate --to "$T"
jq -r '.txs[] | "GAS advanceEpoch \(.gas_used)"' "$work/out" | tee -a "$work/gas"
check "chain: currentEpoch == $T" "$(epoch)" "$T"
# issue 16 finding 7: the signer's K3 commitments of the new epochs recorded (write-once) on chain
jq -r '.commitments[] | "GAS commitEpoch \(.tx.gas_used)"' "$work/out" | tee -a "$work/gas"
check "  ... commitments of epochs $((E0 + 1))..$T recorded" "$(jq -r '[.commitments[].epoch] | join(",")' "$work/out")" "$((E0 + 1)),$T"
check "  ... chain: epochCommitment($T) is the signer's" \
  "$(ccall "$AK_EPOCH_ADDRESS" 'epochCommitment(uint256)(bytes32)' "$T")" "$(jq -r '.commitments[-1].commitment' "$work/out")"
G1=$(nonce "$GOV")
run "epoch rotate --to $T again: no-op, exit 0" 0 as gov "$AK" epoch rotate --to "$T"
check "  ... nothing sent" "$(nonce "$GOV")" "$G1"
run "epoch rotate --to a past epoch: refused" 1 as gov "$AK" epoch rotate --to 1
run "epoch rotate from a non-governance wallet: exit 6" 6 as master "$AK" epoch rotate
err_has "  ... NotSignerGovernance in words" "NotSignerGovernance(caller=$MASTER"
check "  ... chain: epoch unchanged" "$(epoch)" "$T"

# ---------------------------------------------------------------- revocations
run "agent revoke (by omni)" 0 as master "$AK" --json agent revoke "$AGENT_OMNI"; gas revokeAgentDevice
check "chain: agent inactive" "$(ccall "$AK_REGISTRY_ADDRESS" 'isActive(bytes32)(bool)' "$AGENT_DKH")" false
run "agent revoke again: exit 6" 6 as master "$AK" agent revoke "$AGENT"
err_has "  ... DeviceAlreadyRevoked in words" "DeviceAlreadyRevoked(deviceKeyHash=$AGENT_DKH)"
s3count() { /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket "$1" --prefix "$2" \
  --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n' | grep -v '^None$' | grep -c . ; }
AGENT_HEX=${AGENT_OMNI#0x}
check "S3: the agent's credential is stored" "$(s3count "$AK_VAULT_BUCKET" "bots/$AGENT_HEX/")" 1
run "teardown AGENT (master session, revoked agent)" 0 as master noadmin "$AK" --json teardown "$AGENT"
check "  ... credentials_deleted 1" "$(jq -r .credentials_deleted "$work/out")" 1
check "  ... memory_deleted 1" "$(jq -r .memory_deleted "$work/out")" 1
check "S3: nothing left under the agent's vault prefix" "$(s3count "$AK_VAULT_BUCKET" "bots/$AGENT_HEX/")" 0
check "S3: nothing left under the agent's memory prefix" "$(s3count "$AK_MEMORY_BUCKET" "bots/$AGENT_HEX/")" 0
run "scope revoke (everything)" 0 as master "$AK" --json scope revoke "$AGENT" --passkey "$PK"; gas revokeScope
run "scope ls --json after revoke" 0 "$AK" --json scope ls "$AGENT" --operator "$OP"
check "chain: no scope left" "$(jq -r .exists "$work/out")" false
check "chain: credentials:openrouter out of scope" "$(in_scope credentials:openrouter)" false

# ---------------------------------------------------------------- audit: anchor and verify on chain
# the agent's puts and the teardown left audit events; the scheduled flush batches them
code=$(curl -sS -o "$work/flush.json" -w '%{http_code}' -X POST "$AK_API_URL/2015-03-31/functions/AuditFlushFunction/invocations" \
  -H 'content-type: application/json' --data-binary @"$root/events/audit-flush-schedule.json")
[ "$code" = 200 ] && [ "$(jq -r '.events // 0' "$work/flush.json")" -gt 0 ] && pass "audit flush batched $(jq -r .events "$work/flush.json") events" \
  || fail "audit flush: $code $(head -c 300 "$work/flush.json")"
run "audit anchor --dry-run" 0 as master "$AK" audit anchor --dry-run
check "  ... dry run: no root on chain" "$(ccall "$AK_AUDIT_ADDRESS" 'rootCount(bytes32)(uint256)' "0x$OP")" 0
run "audit anchor (appendRoot from the master wallet)" 0 as master "$AK" --json audit anchor
jq -r '.batches[] | select(.status=="anchored") | "GAS appendRoot \(.tx.gas_used)"' "$work/out" | tee -a "$work/gas"
check "chain: one root anchored" "$(ccall "$AK_AUDIT_ADDRESS" 'rootCount(bytes32)(uint256)' "0x$OP")" 1
run "audit anchor again: idempotent" 0 as master "$AK" --json audit anchor
check "  ... nothing anchored twice" "$(jq -r '.anchored' "$work/out"):$(jq -r '.skipped' "$work/out")" "0:1"
run "audit anchor from a non-master wallet: refused" 3 as other "$AK" audit anchor --operator "$OP"
# one event's proof from the API (a master session minted by the signer, as audit_test.sh does)
export AK_SIGNER_CA_PEM=$AK_PKI_DIR/ca.crt AK_SIGNER_ATTEST_PUB=$AK_PKI_DIR/attest.pub
export AK_SIGNER_CLIENT_CERT=$AK_PKI_DIR/auth.crt AK_SIGNER_CLIENT_KEY=$AK_PKI_DIR/auth.key
now=$(date +%s)
claims=$(jq -cn --arg iss "$AK_ISSUER" --arg op "$OP" --arg w "$MASTER" --arg dkh "$("$CAST" keccak "$MASTER")" --argjson now "$now" \
  '{iss:$iss, sub:("agentkeys:user:"+$op), aud:"agentkeys:broker", iat:$now, exp:($now+600), jti:"e2e-cli-operator-1",
    "agentkeys.omni_account":$op, "agentkeys.wallet_address":$w, "agentkeys.identity_type":"evm",
    "agentkeys.identity_value":$w, "agentkeys.session_kind":"master", "agentkeys.operator_omni":$op,
    "agentkeys.device_key_hash":$dkh}')
SESSION=$("$root/build/dev/tools/signertool" jws session "$claims" 2>"$work/jws.err") || fail "session JWT: $(cat "$work/jws.err")"
EV=$(/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket "$AK_AUDIT_BUCKET" --prefix "audit/index/$OP/" \
  --query 'Contents[0].Key' --output text 2>/dev/null | sed 's|.*/||; s|\.json$||')
code=$(curl -sS -o "$work/proof.json" -w '%{http_code}' -G "$AK_API_URL/v1/audit/proof" --data-urlencode "event=$EV" \
  -H "authorization: Bearer $SESSION")
[ "$code" = 200 ] && [ "$(jq -r .anchored "$work/proof.json")" = true ] && pass "proof of event $EV (anchored)" \
  || fail "proof: $code $(head -c 300 "$work/proof.json")"
run "audit verify EVENT_FILE: VALID" 0 "$AK" audit verify "$work/proof.json"
grep -q '^VALID ' "$work/out" && pass "  ... VALID (contract and local fold agree)" || fail "  ... verify: $(cat "$work/out")"
jq '.event |= sub("\"outcome\":\"[a-z_]*\""; "\"outcome\":\"forged\"")' "$work/proof.json" >"$work/forged.json"
cmp -s "$work/proof.json" "$work/forged.json" && fail "forging the event changed nothing" || pass "forged copy of the event"
run "audit verify of a forged event: INVALID, exit 1" 1 "$AK" audit verify "$work/forged.json"
grep -q '^INVALID ' "$work/out" && pass "  ... INVALID" || fail "  ... forged: $(cat "$work/out")"
run "audit verify with a root index that does not exist: exit 1" 1 "$AK" --json audit verify "$work/proof.json" --root-index 7
check "  ... valid false" "$(jq -r .valid "$work/out")" false

# ---------------------------------------------------------------- usage
run "unknown passkey backend: usage" 2 as master "$AK" scope grant "$AGENT" credentials:x --passkey nosuch:x
err_has "  ... says so" "unknown passkey backend"
run "scope grant without a passkey: usage" 2 as master "$AK" scope grant "$AGENT" credentials:x

echo "gas used per operator transaction:"; sed 's/^/    /' "$work/gas" 2>/dev/null
[ "$fails" = 0 ] || exit 1
