#!/usr/bin/env bash
# tests/e2e/flow_test.sh — the `make demo` story as a test (every step an `agentkeys` command): the whole positive flow on the local
# stack (first master with a software passkey, agent, scopes, SIWE login, caps, OIDC -> STS,
# store/fetch byte for byte, memory put/get, epoch advance with lazy re-key, mail routed into the
# agent's inbox and read with /v1/mint-aws-creds mail credentials, operator teardown, audit flush
# and anchoring). The demo exits non-zero on any failed step. Then every event of
# that REAL flow is checked on chain: each audit/index object's proof must verify with
# CredentialAudit.verifyEntryInRoot (shared/tools/audit-verify), and a tampered copy must not.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
L=$(mktemp -d "${TMPDIR:-/tmp}/ak-flow.XXXXXX")
export AK_LOCAL_DIR=$L
. tests/lib/check.sh
cleanup() { "$top/scripts/stack-down" >/dev/null 2>&1; rm -rf "$L"; }
trap cleanup EXIT

if AK_DEMO_KEEP=1 "$top/scripts/demo.sh" >"$L/demo.log" 2>&1; then
  pass "demo flow: every step succeeded"
else
  fail "demo flow"; tail -n 30 "$L/demo.log"; exit 1
fi
grep -q "fetched secret equals the stored one, byte for byte" "$L/demo.log" && pass "credentials round trip" || fail "credentials round trip"
grep -q "memory round trip" "$L/demo.log" && pass "memory round trip" || fail "memory round trip"
grep -q "same secret after the epoch change" "$L/demo.log" && pass "re-keyed after the epoch advance" || fail "re-key"
grep -q "credentials:github           refused: service_not_in_scope (exit 3)" "$L/demo.log" && pass "out-of-scope cap refused" || fail "scope refusal"
grep -q "fetch after teardown         refused: not_found (exit 4)" "$L/demo.log" && pass "nothing left after teardown" || fail "teardown"
grep -q '"routed":1' "$L/demo.log" && grep -q "read with mail-role creds    Subject: build finished" "$L/demo.log" \
  && pass "mail routed to the agent's inbox and read with its mail-role credentials" || fail "mail"

# shellcheck disable=SC1091
. "$L/stack.env"
# Rollback guard (issue 16 finding 7): stack-up recorded epoch 1's K3 commitment on chain, the
# demo's `agentkeys epoch rotate` epoch 2's; both are the signer's own.
CAST=$top/node_modules/@foundry-rs/cast-linux-amd64/bin/cast
okc=1
for ep in 1 2; do
  onchain=$(timeout 20 "$CAST" call --rpc-url "$AK_RPC_URL" "$AK_EPOCH_ADDRESS" 'epochCommitment(uint256)(bytes32)' "$ep" 2>/dev/null)
  mine=$(curl -fsS --max-time 10 --cacert "$AK_SIGNER_CA_PEM" --cert "$AK_SIGNER_ADMIN_CERT" --key "$AK_SIGNER_ADMIN_KEY" \
    -X POST --data "{\"epoch\":$ep}" "$AK_SIGNER_URL/v1/epoch/commitment" 2>/dev/null | jq -r .commitment)
  [ -n "$mine" ] && [ "$onchain" = "$mine" ] || okc=0
done
grep -q "epoch 2 commitment 0x[0-9a-f]* recorded" "$L/demo.log" || okc=0
[ "$okc" = 1 ] && pass "K3 commitments of epochs 1 and 2 recorded on chain, equal to the signer's" || fail "K3 commitments on chain"
VERIFY=$top/build/dev/tools/audit-verify
mkdir -p "$L/index"
/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp --recursive --quiet s3://ak-audit/audit/index/ "$L/index/" 2>/dev/null
n=0; bad=0
# The root index lives on the batch object (x-amz-meta-ak-root-index, written by audit-anchor);
# many events share a batch, so each batch is asked once (an aws CLI start takes about a second).
declare -A root_of
batch_root() { # BATCH_KEY -> ri
  [ -n "${root_of[$1]:-}" ] || root_of[$1]=$(/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api head-object \
    --bucket ak-audit --key "$1" --query 'Metadata."ak-root-index"' --output text 2>/dev/null)
  ri=${root_of[$1]}
}
while IFS= read -r f; do
  n=$((n + 1))
  batch_root "$(jq -r .batch "$f")"
  "$VERIFY" --proof "$f" --root-index "$ri" --rpc "$AK_RPC_URL" --audit "$AK_AUDIT_ADDRESS" >"$L/v.log" 2>&1 \
    || { bad=$((bad + 1)); cat "$L/v.log"; }
done < <(find "$L/index" -name '*.json' | sort)
if [ "$n" -ge 15 ] && [ "$bad" -eq 0 ]; then pass "all $n events of the real flow verify on chain"; else fail "on-chain verification: $bad of $n failed"; fi
# A tampered event (one byte changed) must not verify against the same proof.
f=$(find "$L/index" -name '*.json' | sort | head -n1)
jq -r .event "$f" | tr -d '\n' | sed 's/"store"/"fetch"/; s/"fetch"/"store"/; s/"ok"/"OK"/' >"$L/forged.json"
batch_root "$(jq -r .batch "$f")"
if "$VERIFY" --proof "$f" --root-index "$ri" --rpc "$AK_RPC_URL" --audit "$AK_AUDIT_ADDRESS" \
    --event-file "$L/forged.json" >/dev/null 2>&1; then
  fail "a tampered event verified"
else
  pass "a tampered event does not verify"
fi
echo "flow test: $fails failed"
[ "$fails" -eq 0 ]
