#!/usr/bin/env bash
# scripts/demo.sh — the main job of agentkeys, told step by step on the local stack (`make demo`).
#
#   operator wallet + software passkey -> first master registered on chain
#   agent device registered; scopes credentials:openrouter and memory:notes set
#   agent signs in with its wallet (SIWE) -> session JWT
#   cap minted; OIDC -> STS credentials tagged with the agent's actor id
#   secret stored, fetched back byte for byte; memory put/get
#   K3 epoch advanced on chain -> the secret is still readable (and re-keyed)
#   mail to the agent's address routed into its inbox (SES router); read with mail-role creds
#   operator tears the agent's data down
#   the audit events written for each step
#
# Starts the stack itself (scripts/stack-up) and stops everything it started on exit.
# AK_DEMO_KEEP=1 leaves the stack running for exploring (then: scripts/stack-down).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok() { printf '   \033[32mok\033[0m %s\n' "$*"; }
show() { printf '   %-28s %s\n' "$1" "$2"; }
die() { printf '   \033[31mFAILED\033[0m %s\n' "$*"; exit 1; }
short() { local v=$1; [ ${#v} -gt 20 ] && printf '%s…%s' "${v:0:10}" "${v: -6}" || printf '%s' "$v"; }

cleanup() {
  if [ "${AK_DEMO_KEEP:-0}" = 1 ]; then
    echo; echo "stack left running (AK_DEMO_KEEP=1): source ${AK_LOCAL_DIR:-build/local}/stack.env; scripts/stack-down to stop"
  else
    scripts/stack-down >/dev/null 2>&1 || true
  fi
  rm -rf "${AK_WORK:-/nonexistent}"
}
trap cleanup EXIT

bold "Starting the local stack (anvil + contracts, Ceph S3/STS/IAM, signer enclave, Lambda emulator)"
scripts/stack-down >/dev/null 2>&1 || true
scripts/stack-up | sed 's/^/   /'
# shellcheck disable=SC1091
. "${AK_LOCAL_DIR:-$top/build/local}/stack.env"
# shellcheck source=lib/akclient.sh
. scripts/lib/akclient.sh

r=$(curl -fsS --max-time 30 "$AK_API_URL/healthz") || die "healthz"
show "GET /healthz" "$r"

bold "1. Operator: a wallet (K10) and a software passkey (K11) register the first master"
ak_new_wallet OPERATOR
ak_passkey_new "$AK_WORK/operator-passkey.json"
ak_register_first_master "$OPERATOR_KEY" "$AK_WORK/operator-passkey.json"
OPERATOR_OMNI=$(ak_omni "$OPERATOR_ADDR")
show "operator wallet" "$OPERATOR_ADDR"
show "operator id (omni)" "$(short "$OPERATOR_OMNI")"
show "isMasterWallet" "$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_REGISTRY_ADDRESS" 'isMasterWallet(bytes32,address)(bool)' "0x$OPERATOR_OMNI" "$OPERATOR_ADDR")"

bold "2. Agent device registered under the operator"
ak_new_wallet AGENT
ak_register_agent "$OPERATOR_KEY" "$AGENT_KEY"
AGENT_OMNI=$(ak_omni "$AGENT_ADDR")
show "agent wallet" "$AGENT_ADDR"
show "agent actor id" "$(short "$AGENT_OMNI")"
show "device active" "$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_REGISTRY_ADDRESS" 'isActive(bytes32)(bool)' "$(ak_dkh "$AGENT_ADDR")")"

bold "3. Scopes credentials:openrouter and memory:notes (passkey-gated)"
ak_set_scope "$OPERATOR_KEY" "$AK_WORK/operator-passkey.json" 2 "$AGENT_ADDR" credentials:openrouter memory:notes
for s in credentials:openrouter memory:notes credentials:github; do
  show "isServiceInScope $s" "$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_SCOPE_ADDRESS" 'isServiceInScope(bytes32,bytes32,bytes32)(bool)' "0x$OPERATOR_OMNI" "0x$AGENT_OMNI" "$("$CAST" keccak "$s")")"
done
scripts/local-iam allow-actor "$AGENT_OMNI" >/dev/null
ok "IAM: the per-class roles know this actor (local stand-in for the template's ABAC variables)"

bold "4. Agent signs in with its wallet (SIWE, EIP-191)"
AGENT_SESSION=$(ak_login "$AGENT_KEY") || die "agent login"
claims=$(cut -d. -f2 <<<"$AGENT_SESSION" | tr '_-' '/+' | base64 -d 2>/dev/null || true)
show "session kind" "$(jq -r '."agentkeys.session_kind" // "?"' <<<"$claims" 2>/dev/null)"
show "session JWT" "$(short "$AGENT_SESSION") (ES256, signed inside the signer enclave)"

bold "5. Cap minted for credentials:openrouter (chain-checked, K10 proof of possession)"
r=$(ak_cap "$AGENT_SESSION" cred-store "$(ak_cap_body "$AGENT_KEY" "$OPERATOR_OMNI" "$AGENT_OMNI" openrouter store credentials)")
[ "${r%% *}" = 200 ] || die "cap mint: $r"
STORE_CAP=$(jq -r .cap <<<"${r#* }")
show "cap (typ ak-cap+jwt)" "$(short "$STORE_CAP")"
r=$(ak_cap "$AGENT_SESSION" cred-fetch "$(ak_cap_body "$AGENT_KEY" "$OPERATOR_OMNI" "$AGENT_OMNI" openrouter fetch credentials)")
[ "${r%% *}" = 200 ] || die "cap mint (fetch): $r"
FETCH_CAP=$(jq -r .cap <<<"${r#* }")
r=$(ak_cap "$AGENT_SESSION" cred-store "$(ak_cap_body "$AGENT_KEY" "$OPERATOR_OMNI" "$AGENT_OMNI" github store credentials)")
show "cap for credentials:github" "refused: $(jq -r .reason <<<"${r#* }") (HTTP ${r%% *})"

bold "6. OIDC -> STS: temporary AWS credentials tagged agentkeys_actor_omni=<agent>"
CREDS=$(ak_aws_creds "$AGENT_SESSION" credentials) || die "mint-aws-creds"
show "access key id" "$(short "$(jq -r .access_key_id <<<"$CREDS")")"
show "expiration" "$(jq -r .expiration <<<"$CREDS")"

bold "7. Store a secret, fetch it back"
SECRET="sk-or-v1-demo-$(openssl rand -hex 12)"
r=$(ak_worker "$CREDS" /v1/cred/store "{\"cap\":\"$STORE_CAP\",\"plaintext_b64\":\"$(printf '%s' "$SECRET" | base64 -w0)\"}")
[ "${r%% *}" = 200 ] || die "store: $r"
show "stored at" "$(jq -r .s3_key <<<"${r#* }") ($(jq -r .envelope_size <<<"${r#* }") bytes, envelope 0x04, epoch $(jq -r .k3_epoch <<<"${r#* }"))"
r=$(ak_worker "$CREDS" /v1/cred/fetch "{\"cap\":\"$FETCH_CAP\"}")
[ "${r%% *}" = 200 ] || die "fetch: $r"
GOT=$(jq -r .plaintext_b64 <<<"${r#* }" | base64 -d)
[ "$GOT" = "$SECRET" ] && ok "fetched secret equals the stored one, byte for byte" || die "fetched secret differs"
# Objects written with STS credentials belong to that session on radosgw: read with the agent's own.
RAW=$(AWS_ACCESS_KEY_ID=$(jq -r .access_key_id <<<"$CREDS") AWS_SECRET_ACCESS_KEY=$(jq -r .secret_access_key <<<"$CREDS") \
  AWS_SESSION_TOKEN=$(jq -r .session_token <<<"$CREDS") /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" \
  s3 cp "s3://ak-vault/bots/$AGENT_OMNI/credentials/openrouter.enc" - 2>/dev/null | xxd -p | tr -d '\n' | head -c 40)
show "what S3 holds (hex)" "${RAW}… (version byte 04, epoch, nonce, ciphertext)"

bold "8. Memory: put and get the namespace notes"
MCREDS=$(ak_aws_creds "$AGENT_SESSION" memory) || die "mint-aws-creds memory"
r=$(ak_cap "$AGENT_SESSION" memory-put "$(ak_cap_body "$AGENT_KEY" "$OPERATOR_OMNI" "$AGENT_OMNI" notes store memory)")
[ "${r%% *}" = 200 ] || die "cap memory-put: $r"
MPUT=$(jq -r .cap <<<"${r#* }")
NOTE='{"todo":["book flight","renew passport"]}'
r=$(ak_worker "$MCREDS" /v1/memory/put "{\"cap\":\"$MPUT\",\"plaintext_b64\":\"$(printf '%s' "$NOTE" | base64 -w0)\"}")
[ "${r%% *}" = 200 ] || die "memory put: $r"
r=$(ak_cap "$AGENT_SESSION" memory-get "$(ak_cap_body "$AGENT_KEY" "$OPERATOR_OMNI" "$AGENT_OMNI" notes fetch memory)")
MGET=$(jq -r .cap <<<"${r#* }")
r=$(ak_worker "$MCREDS" /v1/memory/get "{\"cap\":\"$MGET\"}")
[ "${r%% *}" = 200 ] || die "memory get: $r"
[ "$(jq -r .plaintext_b64 <<<"${r#* }" | base64 -d)" = "$NOTE" ] && ok "memory round trip: $NOTE" || die "memory differs"
r=$(ak_worker "$MCREDS" /v1/memory/get "{\"cap\":\"$FETCH_CAP\"}")
show "credentials cap at memory worker" "refused: $(jq -r .reason <<<"${r#* }") (HTTP ${r%% *})"

bold "9. K3 epoch advanced on chain; the secret is still readable, and re-keyed"
EPOCH=$(ak_advance_epoch)
show "current epoch" "$EPOCH"
r=$(ak_cap "$AGENT_SESSION" cred-fetch "$(ak_cap_body "$AGENT_KEY" "$OPERATOR_OMNI" "$AGENT_OMNI" openrouter fetch credentials)")
[ "${r%% *}" = 200 ] || die "cap after epoch advance: $r"
FETCH_CAP2=$(jq -r .cap <<<"${r#* }")
r=$(ak_worker "$CREDS" /v1/cred/fetch "{\"cap\":\"$FETCH_CAP2\"}")
[ "${r%% *}" = 200 ] || die "fetch after epoch advance: $r"
[ "$(jq -r .plaintext_b64 <<<"${r#* }" | base64 -d)" = "$SECRET" ] && ok "same secret after the epoch change" || die "secret differs after re-key"
show "re-keyed to epoch" "$(jq -r .k3_epoch <<<"${r#* }") (rekeyed: $(jq -r .rekeyed <<<"${r#* }"))"
r=$(ak_worker "$CREDS" /v1/cred/fetch "{\"cap\":\"$FETCH_CAP\"}")
show "old-epoch cap" "refused: $(jq -r .reason <<<"${r#* }") (HTTP ${r%% *})"

bold "10. Mail: a message to the agent's address lands in its own inbox; it reads it with its own credentials"
MID="demo$(openssl rand -hex 8)"
# What SES's receipt rule does first: the raw message into the staging prefix (admin credentials
# stand in for SES here), then SesRouterFunction is invoked with the receipt event.
printf 'From: ci@example.com\r\nTo: %s@mail.example.com\r\nSubject: build finished\r\n\r\nYour build finished.\r\n' "$AGENT_OMNI" \
  | /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp - "s3://$AK_MAIL_BUCKET/inbound/$MID" >/dev/null || die "stage mail"
jq --arg id "$MID" --arg to "$AGENT_OMNI@mail.example.com" \
  '.Records[0].ses.mail.messageId = $id | .Records[0].ses.receipt.recipients = [$to]' events/ses-routed.json > "$AK_WORK/ses.json"
r=$(curl -sS --max-time 60 -X POST --data-binary @"$AK_WORK/ses.json" "$AK_API_URL/2015-03-31/functions/SesRouterFunction/invocations")
show "SesRouterFunction" "$(jq -c . <<<"$r" 2>/dev/null || printf '%s' "$r")"
MAILCREDS=$(ak_aws_creds "$AGENT_SESSION" mail) || die "mint-aws-creds mail"
as_agent() { AWS_ACCESS_KEY_ID=$(jq -r .access_key_id <<<"$MAILCREDS") AWS_SECRET_ACCESS_KEY=$(jq -r .secret_access_key <<<"$MAILCREDS") \
  AWS_SESSION_TOKEN=$(jq -r .session_token <<<"$MAILCREDS") /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" "$@"; }
KEY=$(as_agent s3api list-objects-v2 --bucket "$AK_MAIL_BUCKET" --prefix "bots/$AGENT_OMNI/inbound/" --query 'Contents[0].Key' --output text) \
  || die "list own inbox"
show "in the agent's inbox" "bots/$(short "$AGENT_OMNI")/inbound/${KEY##*/}"
show "read with mail-role creds" "$(as_agent s3 cp "s3://$AK_MAIL_BUCKET/$KEY" - | grep -m1 '^Subject:' | tr -d '\r')"

bold "11. Operator tears the agent's credentials down"
OPERATOR_SESSION=$(ak_login "$OPERATOR_KEY") || die "operator login"
r=$(ak_cap "$AGENT_SESSION" cred-teardown "$(ak_cap_body "$AGENT_KEY" "$OPERATOR_OMNI" "$AGENT_OMNI" openrouter teardown credentials)")
show "teardown cap for the agent" "refused: $(jq -r .reason <<<"${r#* }") (HTTP ${r%% *})"
r=$(ak_cap "$OPERATOR_SESSION" cred-teardown "$(ak_cap_body "$OPERATOR_KEY" "$OPERATOR_OMNI" "$AGENT_OMNI" openrouter teardown credentials)")
[ "${r%% *}" = 200 ] || die "teardown cap: $r"
TCAP=$(jq -r .cap <<<"${r#* }")
r=$(ak_worker "$CREDS" /v1/cred/teardown "{\"cap\":\"$TCAP\"}")
[ "${r%% *}" = 200 ] || die "teardown: $r"
show "keys deleted" "$(jq -r .keys_deleted <<<"${r#* }")"
r=$(ak_worker "$CREDS" /v1/cred/fetch "{\"cap\":\"$FETCH_CAP2\"}")
show "fetch after teardown" "HTTP ${r%% *} $(jq -r .reason <<<"${r#* }")"

bold "12. The audit trail (one event per mint and per worker operation, D12)"
/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket ak-audit --prefix "audit/pending/$OPERATOR_OMNI/" \
  --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n' | grep -c . | xargs printf '   %s events pending for this operator\n'
for k in $(/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket ak-audit --prefix "audit/pending/$OPERATOR_OMNI/" \
    --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n' | head -n 40); do
  /usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3 cp "s3://ak-audit/$k" - 2>/dev/null \
    | jq -r '"   " + ([.action, .data_class, .service, .outcome] | map(. // "-") | join("  "))' 2>/dev/null || true
done

bold "13. Audit flush -> Merkle batch; the operator anchors the root on chain; anyone verifies"
r=$(ak_api POST /v1/audit/flush '{}' -H "authorization: Bearer $OPERATOR_SESSION")
[ "${r%% *}" = 200 ] || die "flush: $r"
show "flushed" "$(jq -r '"\(.events) events into \(.batches) batch(es)"' <<<"${r#* }")"
AK_OPERATOR_KEY=$OPERATOR_KEY AK_RPC_URL=$AK_RPC_URL "$AK_TOP/build/dev/tools/audit-anchor" 2>&1 | sed 's/^/   /' | head -n 3
EVENT_ID=$(/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api list-objects-v2 --bucket ak-audit --prefix "audit/index/$OPERATOR_OMNI/" \
  --query 'Contents[0].Key' --output text | sed 's|.*/||; s|\.json$||')
r=$(curl -sS --max-time 60 -G "$AK_API_URL/v1/audit/proof" --data-urlencode "event=$EVENT_ID" -H "authorization: Bearer $OPERATOR_SESSION")
printf '%s' "$r" > "$AK_WORK/proof.json"
show "proof for event" "$EVENT_ID (root index $(jq -r .root_index <<<"$r"), $(jq -r '.proof | length' <<<"$r") hashes)"
"$AK_TOP/build/dev/tools/audit-verify" --proof "$AK_WORK/proof.json" --rpc "$AK_RPC_URL" --audit "$AK_AUDIT_ADDRESS" 2>&1 | sed 's/^/   /' | tail -n 2
jq -r .event <<<"$r" | tr -d '\n' | sed 's/"ok"/"OK"/' > "$AK_WORK/forged.json"
"$AK_TOP/build/dev/tools/audit-verify" --proof "$AK_WORK/proof.json" --rpc "$AK_RPC_URL" --audit "$AK_AUDIT_ADDRESS" \
  --event-file "$AK_WORK/forged.json" 2>&1 | sed 's/^/   a forged event: /' | tail -n 1 || true  # INVALID exits 1

bold "Done: every step above ran against real services on 127.0.0.1; the stack is stopped on exit."
