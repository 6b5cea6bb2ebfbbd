#!/usr/bin/env bash
# tests/e2e/contracts_anvil_test.sh — contracts on a real node, driven the way operator tooling
# drives them: a fresh anvil on a free loopback port, contracts/deploy.sh, the C software passkey
# (shared/tools/passkey.c) for WebAuthn assertions, cast for transactions and calls.
#
# Scenario: register a first master (passkey self-attestation), add an agent device (with the
# agent wallet's consent signature), set the scope credentials:openrouter for the agent;
# isServiceInScope must say true for it and false for memory:openrouter; a replayed assertion
# and a wrong-challenge assertion must be refused; a second master bringing the first master's
# passkey is refused (PasskeyAlreadyRegistered). Prints PASS/FAIL lines, deploy time, the gas of
# one P-256 verify and of one K11-gated transaction; exits non-zero on any failure.
#
# Env: PASSKEY (path of a built passkey binary; default build/dev/tools/passkey, built here if
# missing from build/deps/glibc), KEEP_TMP=1 keeps the work directory.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$root/contracts/env.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/contracts-e2e.XXXXXX")
anvil_pid=
cleanup() {
  if [ -n "$anvil_pid" ]; then kill "$anvil_pid" 2>/dev/null || true; wait "$anvil_pid" 2>/dev/null || true; fi
  if [ "${KEEP_TMP:-0}" != 1 ]; then rm -rf "$work"; else echo "work dir: $work"; fi
}
trap cleanup EXIT

. "$root/tests/lib/check.sh"
# reason <cast log> <custom error name> <label>: the revert must carry exactly that error.
reason() { if grep -q "$2" "$1"; then pass "$3 ($2)"; else fail "$3: expected $2, got: $(tail -c 300 "$1")"; fi; }

# ---- the software passkey
passkey=${PASSKEY:-$root/build/dev/tools/passkey}
if [ ! -x "$passkey" ]; then   # the tool is a thin caller of libak's ak/passkey.h
  make -s -C "$root" build/dev/tools/passkey >/dev/null 2>&1 || { echo "FAIL no passkey binary (make build/dev/tools/passkey failed)"; exit 1; }
fi

# ---- anvil on a free loopback port
port=$("$root/scripts/lib/free-ports" 1)
rpc=http://127.0.0.1:$port
t0=$(date +%s.%N)
"$ANVIL" --host 127.0.0.1 --port "$port" --silent >"$work/anvil.log" 2>&1 &
anvil_pid=$!
for _ in $(seq 1 100); do
  "$CAST" chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break
  sleep 0.1
done
"$CAST" chain-id --rpc-url "$rpc" >/dev/null || { echo "FAIL anvil did not start"; exit 1; }

# ---- deploy
"$root/contracts/deploy.sh" "$rpc" "$work/contracts.json" >"$work/deploy.log" 2>&1 || { cat "$work/deploy.log"; echo "FAIL deploy"; exit 1; }
t1=$(date +%s.%N)
printf 'deploy from nothing (anvil start + build check + deploy): %.1f s\n' "$(echo "$t1 - $t0" | bc)"
addr() { node -e 'process.stdout.write(require(process.argv[1]).addresses[process.argv[2]])' "$work/contracts.json" "$1"; }
REG=$(addr SidecarRegistry); SCOPE=$(addr AgentKeysScope); P256=$(addr P256Verifier); K11=$(addr K11Verifier)
EPOCH=$(addr K3EpochCounter)
chain=$("$CAST" chain-id --rpc-url "$rpc")
[ "$("$CAST" call --rpc-url "$rpc" "$EPOCH" 'currentEpoch()(uint256)')" = 1 ] && pass "K3EpochCounter.currentEpoch() == 1" || fail "currentEpoch"

# anvil dev accounts 1 (master wallet) and 2 (agent wallet)
MASTER_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
AGENT_KEY=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9da804270a365
MASTER=$("$CAST" wallet address --private-key "$MASTER_KEY")
AGENT=$("$CAST" wallet address --private-key "$AGENT_KEY")
lower() { printf '%s' "$1" | tr 'A-F' 'a-f'; }
omni() { printf 'agentkeysevm%s' "$(lower "$1")" | sha256sum | sed 's/ .*//; s/^/0x/'; }
OP=$(omni "$MASTER")
AGENT_OMNI=$(omni "$AGENT")
MASTER_DKH=$("$CAST" keccak "$MASTER")
[ "$("$CAST" call --rpc-url "$rpc" "$REG" 'omniOf(address)(bytes32)' "$MASTER")" = "$OP" ] \
  && pass "omni(master) computed off chain == SidecarRegistry.omniOf" || fail "omniOf mismatch"

# ---- passkey
"$passkey" new --rpid agentkeys.local --out "$work/k11.json" >/dev/null
PX=$(jget "$work/k11.json" pub_x); PY=$(jget "$work/k11.json" pub_y)
RPH=$(jget "$work/k11.json" rp_id_hash); CRED=$(jget "$work/k11.json" cred_id)
ROLES=7
TUPLE='(bytes32,bytes,bytes,uint256,uint256)'

# ---- 1. first master. Challenge derived here exactly as README.md documents, and cross-checked.
OP1=$("$CAST" keccak "agentkeys:v1:register-first-master")
CH=$("$CAST" keccak "$("$CAST" abi-encode 'f(bytes32,uint256,address,uint256,address,bytes32,bytes32,uint256,uint256,uint8)' \
  "$OP1" "$chain" "$REG" 0 "$MASTER" "$CRED" "$RPH" "$PX" "$PY" "$ROLES")")
CH_CHAIN=$("$CAST" call --rpc-url "$rpc" "$REG" 'firstMasterChallenge(address,bytes32,bytes32,uint256,uint256,uint8)(bytes32)' \
  "$MASTER" "$CRED" "$RPH" "$PX" "$PY" "$ROLES")
[ "$CH" = "$CH_CHAIN" ] && pass "first-master challenge: local derivation == contract" || fail "first-master challenge $CH != $CH_CHAIN"
"$passkey" assert --key "$work/k11.json" --challenge "$CH" --sign-count 1 >"$work/a1.json"
if "$CAST" send --rpc-url "$rpc" --private-key "$MASTER_KEY" "$REG" \
    "registerFirstMasterDevice(bytes32,bytes32,uint256,uint256,uint8,$TUPLE)" \
    "$CRED" "$RPH" "$PX" "$PY" "$ROLES" "$(jget "$work/a1.json" tuple)" >"$work/tx1.log" 2>&1; then
  pass "registerFirstMasterDevice with the software passkey"
else
  fail "registerFirstMasterDevice"; cat "$work/tx1.log"
fi
[ "$("$CAST" call --rpc-url "$rpc" "$REG" 'isMasterWallet(bytes32,address)(bool)' "$OP" "$MASTER")" = true ] \
  && pass "isMasterWallet(op, master)" || fail "isMasterWallet"
[ "$("$CAST" call --rpc-url "$rpc" "$REG" 'operatorNonce(bytes32)(uint256)' "$OP")" = 1 ] && pass "operatorNonce == 1" || fail "operatorNonce"

# ---- 2. agent device, with the agent wallet's EIP-191 consent over agentConsentMessage
OPC=$("$CAST" keccak "agentkeys:v1:agent-consent")
MSG=$("$CAST" keccak "$("$CAST" abi-encode 'f(bytes32,uint256,address,bytes32,address)' "$OPC" "$chain" "$REG" "$OP" "$AGENT")")
MSG_CHAIN=$("$CAST" call --rpc-url "$rpc" "$REG" 'agentConsentMessage(bytes32,address)(bytes32)' "$OP" "$AGENT")
[ "$MSG" = "$MSG_CHAIN" ] && pass "agent consent message: local == contract" || fail "consent message"
SIG=$("$CAST" wallet sign --private-key "$AGENT_KEY" "$MSG")
if "$CAST" send --rpc-url "$rpc" --private-key "$MASTER_KEY" "$REG" 'registerAgentDevice(bytes32,address,bytes)' \
    "$OP" "$AGENT" "$SIG" >"$work/tx2.log" 2>&1; then
  pass "registerAgentDevice"
else
  fail "registerAgentDevice"; cat "$work/tx2.log"
fi
AGENT_DKH=$("$CAST" keccak "$AGENT")
[ "$("$CAST" call --rpc-url "$rpc" "$REG" 'isActive(bytes32)(bool)' "$AGENT_DKH")" = true ] && pass "agent device active" || fail "agent active"
[ "$("$CAST" call --rpc-url "$rpc" "$REG" 'actorOperator(bytes32)(bytes32)' "$AGENT_OMNI")" = "$OP" ] \
  && pass "actorOperator(agent omni) == operator" || fail "actorOperator"

# ---- 3. scope credentials:openrouter
SID=$("$CAST" keccak "credentials:openrouter")
MEM=$("$CAST" keccak "memory:openrouter")
OPS=$("$CAST" keccak "agentkeys:v1:set-scope")
SVC_HASH=$("$CAST" keccak "$SID")   # keccak256(abi.encodePacked(bytes32[])) = keccak of the concatenated ids
CH=$("$CAST" keccak "$("$CAST" abi-encode 'f(bytes32,uint256,address,uint256,bytes32,bytes32,bytes32,bool,uint128,uint128,uint128,uint32)' \
  "$OPS" "$chain" "$SCOPE" 0 "$OP" "$AGENT_OMNI" "$SVC_HASH" false 0 0 0 0)")
CH_CHAIN=$("$CAST" call --rpc-url "$rpc" "$SCOPE" 'setScopeChallenge(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32)(bytes32)' \
  "$OP" "$AGENT_OMNI" "[$SID]" false 0 0 0 0)
[ "$CH" = "$CH_CHAIN" ] && pass "set-scope challenge: local == contract" || fail "set-scope challenge $CH != $CH_CHAIN"
"$passkey" assert --key "$work/k11.json" --challenge "$CH" --sign-count 2 --device-key-hash "$MASTER_DKH" >"$work/a2.json"
SETSCOPE="setScopeWithWebauthn(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32,$TUPLE)"
if "$CAST" send --rpc-url "$rpc" --private-key "$MASTER_KEY" "$SCOPE" "$SETSCOPE" \
    "$OP" "$AGENT_OMNI" "[$SID]" false 0 0 0 0 "$(jget "$work/a2.json" tuple)" >"$work/tx3.log" 2>&1; then
  pass "setScopeWithWebauthn credentials:openrouter"
  echo "gas of one K11-gated tx (setScopeWithWebauthn, receipt gasUsed): $(awk '$1 == "gasUsed" {print $2}' "$work/tx3.log")"
else
  fail "setScopeWithWebauthn"; cat "$work/tx3.log"
fi
[ "$("$CAST" call --rpc-url "$rpc" "$SCOPE" 'isServiceInScope(bytes32,bytes32,bytes32)(bool)' "$OP" "$AGENT_OMNI" "$SID")" = true ] \
  && pass "isServiceInScope(credentials:openrouter) == true" || fail "isServiceInScope credentials:openrouter"
[ "$("$CAST" call --rpc-url "$rpc" "$SCOPE" 'isServiceInScope(bytes32,bytes32,bytes32)(bool)' "$OP" "$AGENT_OMNI" "$MEM")" = false ] \
  && pass "isServiceInScope(memory:openrouter) == false" || fail "isServiceInScope memory:openrouter"

# ---- negative: replayed assertion, and a fresh assertion over a wrong challenge
if "$CAST" send --rpc-url "$rpc" --private-key "$MASTER_KEY" "$SCOPE" "$SETSCOPE" \
    "$OP" "$AGENT_OMNI" "[$SID]" false 0 0 0 0 "$(jget "$work/a2.json" tuple)" >"$work/tx4.log" 2>&1; then
  fail "replayed set-scope assertion was accepted"
else
  reason "$work/tx4.log" StaleSignCount "replayed set-scope assertion refused"
fi
"$passkey" assert --key "$work/k11.json" --challenge "$("$CAST" keccak wrong)" --sign-count 3 --device-key-hash "$MASTER_DKH" >"$work/a3.json"
if "$CAST" send --rpc-url "$rpc" --private-key "$MASTER_KEY" "$SCOPE" "$SETSCOPE" \
    "$OP" "$AGENT_OMNI" "[$SID]" false 0 0 0 0 "$(jget "$work/a3.json" tuple)" >"$work/tx5.log" 2>&1; then
  fail "wrong-challenge assertion was accepted"
else
  reason "$work/tx5.log" ChallengeMismatch "wrong-challenge assertion refused"
fi
"$passkey" assert --key "$work/k11.json" --challenge "$CH" --sign-count 4 --device-key-hash "$MASTER_DKH" --type webauthn.create >"$work/a4.json"
if "$CAST" send --rpc-url "$rpc" --private-key "$MASTER_KEY" "$SCOPE" "$SETSCOPE" \
    "$OP" "$AGENT_OMNI" "[$SID]" false 0 0 0 0 "$(jget "$work/a4.json" tuple)" >"$work/tx6.log" 2>&1; then
  fail "webauthn.create assertion was accepted"
else
  reason "$work/tx6.log" WrongClientDataType "webauthn.create assertion refused"
fi

# ---- negative: a second master with the first master's passkey (one touch must not count as two)
NEW_KEY=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6 # anvil dev account 3
NEW=$("$CAST" wallet address --private-key "$NEW_KEY")
CH=$("$CAST" call --rpc-url "$rpc" "$REG" 'additionalMasterChallenge(bytes32,address,bytes32,bytes32,uint256,uint256,uint8)(bytes32)' \
  "$OP" "$NEW" "$("$CAST" keccak other-cred)" "$RPH" "$PX" "$PY" 3)
"$passkey" assert --key "$work/k11.json" --challenge "$CH" --sign-count 5 >"$work/a5.json"
"$passkey" assert --key "$work/k11.json" --challenge "$CH" --sign-count 6 --device-key-hash "$MASTER_DKH" >"$work/a6.json"
if "$CAST" send --rpc-url "$rpc" --private-key "$NEW_KEY" "$REG" \
    "registerAdditionalMasterDevice(bytes32,bytes32,bytes32,uint256,uint256,uint8,$TUPLE,$TUPLE[])" \
    "$OP" "$("$CAST" keccak other-cred)" "$RPH" "$PX" "$PY" 3 "$(jget "$work/a5.json" tuple)" "[$(jget "$work/a6.json" tuple)]" \
    >"$work/tx7.log" 2>&1; then
  fail "second master with the first master's passkey was accepted"
else
  reason "$work/tx7.log" PasskeyAlreadyRegistered "second master with the first master's passkey refused"
fi
[ "$("$CAST" call --rpc-url "$rpc" "$REG" 'isMasterWallet(bytes32,address)(bool)' "$OP" "$NEW")" = false ] \
  && pass "refused master not registered" || fail "refused master registered"

# ---- gas of one P-256 verify on this node (eth_estimateGas of a call to verify(); includes the
# 21000 intrinsic gas and calldata, so the verify itself is roughly the figure minus ~22k)
H=$(jget "$work/a2.json" signed_hash); R=$(jget "$work/a2.json" r); S=$(jget "$work/a2.json" s)
[ "$("$CAST" call --rpc-url "$rpc" "$P256" 'verify(bytes32,uint256,uint256,uint256,uint256)(bool)' "$H" "$R" "$S" "$PX" "$PY")" = true ] \
  && pass "P256Verifier.verify accepts the passkey's signature" || fail "P256Verifier.verify"
gas=$("$CAST" estimate --rpc-url "$rpc" "$P256" 'verify(bytes32,uint256,uint256,uint256,uint256)' "$H" "$R" "$S" "$PX" "$PY")
echo "gas per P-256 verify (eth_estimateGas, tx incl. 21000 base): $gas"

echo "----"
if [ "$fails" -ne 0 ]; then echo "contracts anvil test: $fails FAILED"; exit 1; fi
echo "contracts anvil test: all PASS"
