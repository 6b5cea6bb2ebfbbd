# tests/lib/akclient.sh — a test driver, not a client for people (they use `agentkeys`, cli/):
# the older end-to-end tests speak the wire protocol through it with independent tools — cast
# (wallets, EIP-191 signatures, transactions), the C software passkey, curl and jq — so they
# can also send what no well-behaved client sends (PoPs for other ops, stale timestamps, caps
# presented at the wrong worker) and check each refusal's reason. `make demo` and the CLI tests
# no longer use it.
#
# Requires: `source build/local/stack.env` first (scripts/stack-up writes it).
# Every function prints its result on stdout and fails (non-zero) with a message on stderr.
# Secrets (keys, tokens, STS credentials) are kept in shell variables or files under $AK_WORK,
# never echoed by these functions.

AK_TOP=${AK_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CAST=${CAST:-$AK_TOP/node_modules/@foundry-rs/cast-linux-amd64/bin/cast}
PASSKEY=${PASSKEY:-$AK_TOP/build/dev/tools/passkey}
AK_WORK=${AK_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/akclient.XXXXXX")}
AK_TUPLE='(bytes32,bytes,bytes,uint256,uint256)'
AK_RPID=${AK_RPID:-agentkeys.local}

ak_die() { echo "akclient: $*" >&2; return 1; }
ak_lower() { printf '%s' "$1" | tr 'A-F' 'a-f'; }
# omni(addr) = sha256("agentkeys" || "evm" || lowercase "0x..." address text), bare hex (D16)
ak_omni() { printf 'agentkeysevm%s' "$(ak_lower "$1")" | sha256sum | cut -d' ' -f1; }
ak_dkh() { "$CAST" keccak "$(ak_lower "$1")"; }
ak_jget() { jq -er "$2" "$1"; }

# ak_new_wallet NAME: creates a funded wallet; sets <NAME>_KEY and <NAME>_ADDR.
ak_new_wallet() {
  local name=$1 out key addr
  out=$("$CAST" wallet new --json) || return 1
  key=$(jq -r '.[0].private_key' <<<"$out"); addr=$(jq -r '.[0].address' <<<"$out")
  "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$AK_DEPLOYER_KEY" "$addr" --value 1ether >/dev/null \
    || ak_die "funding $name failed" || return 1
  printf -v "${name}_KEY" '%s' "$key"
  printf -v "${name}_ADDR" '%s' "$(ak_lower "$addr")"
}

# ak_passkey_new FILE: a software passkey (P-256) for $AK_RPID.
ak_passkey_new() { "$PASSKEY" new --rpid "$AK_RPID" --out "$1" >/dev/null; }
# ak_passkey_assert FILE CHALLENGE COUNT [DKH]: prints the K11Assertion tuple for cast.
ak_passkey_assert() {
  local args=(assert --key "$1" --challenge "$2" --sign-count "$3")
  [ -n "${4:-}" ] && args+=(--device-key-hash "$4")
  "$PASSKEY" "${args[@]}" | jq -r .tuple
}

# ak_register_first_master KEY PASSKEY_FILE: registers the wallet of KEY as the first master
# (roles 7 = CAP_MINT|SCOPE|RECOVERY) of the operator omni(wallet). Sign count starts at 1.
ak_register_first_master() {
  local key=$1 pk=$2 addr cred rph px py ch tuple
  addr=$("$CAST" wallet address --private-key "$key")
  cred=$(jq -r .cred_id "$pk"); rph=$(jq -r .rp_id_hash "$pk"); px=$(jq -r .pub_x "$pk"); py=$(jq -r .pub_y "$pk")
  ch=$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_REGISTRY_ADDRESS" \
    'firstMasterChallenge(address,bytes32,bytes32,uint256,uint256,uint8)(bytes32)' "$addr" "$cred" "$rph" "$px" "$py" 7)
  tuple=$(ak_passkey_assert "$pk" "$ch" 1) || return 1
  "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$key" "$AK_REGISTRY_ADDRESS" \
    "registerFirstMasterDevice(bytes32,bytes32,uint256,uint256,uint8,$AK_TUPLE)" \
    "$cred" "$rph" "$px" "$py" 7 "$tuple" >/dev/null || ak_die "registerFirstMasterDevice failed"
}

# ak_register_agent MASTER_KEY AGENT_KEY: binds the agent wallet to the master's operator
# (the agent consents with an EIP-191 signature over agentConsentMessage).
ak_register_agent() {
  local mkey=$1 akey=$2 maddr aaddr op msg sig
  maddr=$("$CAST" wallet address --private-key "$mkey"); aaddr=$("$CAST" wallet address --private-key "$akey")
  op=0x$(ak_omni "$maddr")
  msg=$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_REGISTRY_ADDRESS" 'agentConsentMessage(bytes32,address)(bytes32)' "$op" "$aaddr")
  sig=$("$CAST" wallet sign --private-key "$akey" "$msg")
  "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$mkey" "$AK_REGISTRY_ADDRESS" \
    'registerAgentDevice(bytes32,address,bytes)' "$op" "$aaddr" "$sig" >/dev/null || ak_die "registerAgentDevice failed"
}

# ak_revoke_agent MASTER_KEY AGENT_ADDR
ak_revoke_agent() {
  local mkey=$1 aaddr=$2
  "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$mkey" "$AK_REGISTRY_ADDRESS" \
    'revokeAgentDevice(bytes32)' "$(ak_dkh "$aaddr")" >/dev/null || ak_die "revokeAgentDevice failed"
}

# ak_set_scope MASTER_KEY PASSKEY_FILE SIGN_COUNT AGENT_ADDR CLASS:SERVICE...
# (AK_SCOPE_READ_ONLY=true sets the scope's readOnly flag: no store or teardown for the agent.)
ak_set_scope() {
  local mkey=$1 pk=$2 count=$3 aaddr=$4; shift 4
  local maddr op actor ids=() list ch tuple s ro=${AK_SCOPE_READ_ONLY:-false}
  maddr=$("$CAST" wallet address --private-key "$mkey")
  op=0x$(ak_omni "$maddr"); actor=0x$(ak_omni "$aaddr")
  for s in "$@"; do ids+=("$("$CAST" keccak "$s")"); done
  list="[$(IFS=,; echo "${ids[*]}")]"
  ch=$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_SCOPE_ADDRESS" \
    'setScopeChallenge(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32)(bytes32)' "$op" "$actor" "$list" "$ro" 0 0 0 0)
  tuple=$(ak_passkey_assert "$pk" "$ch" "$count" "$(ak_dkh "$maddr")") || return 1
  "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$mkey" "$AK_SCOPE_ADDRESS" \
    "setScopeWithWebauthn(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32,$AK_TUPLE)" \
    "$op" "$actor" "$list" "$ro" 0 0 0 0 "$tuple" >/dev/null || ak_die "setScopeWithWebauthn failed"
}

# ak_advance_epoch: K3EpochCounter.advance from the governance (deployer) key; prints the new epoch.
ak_advance_epoch() {
  "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$AK_DEPLOYER_KEY" "$AK_EPOCH_ADDRESS" 'advanceEpoch()' >/dev/null \
    || ak_die "advanceEpoch failed" || return 1
  "$CAST" call --rpc-url "$AK_RPC_URL" "$AK_EPOCH_ADDRESS" 'currentEpoch()(uint256)'
}

# ak_api METHOD PATH [BODY] [EXTRA CURL ARGS...]: prints "<status> <body>" (body compact JSON).
ak_api() {
  local method=$1 path=$2 body=${3:-}; shift 3 2>/dev/null || shift $#
  local out status resp
  resp=$(mktemp "$AK_WORK/resp.XXXXXX") || return 1 # its own file: calls may run at once
  out=$(curl -sS --connect-timeout 10 --max-time "${AK_HTTP_MAX_TIME:-120}" -o "$resp" -w '%{http_code}' -X "$method" "$AK_API_URL$path" \
    -H 'content-type: application/json' ${body:+--data-binary "$body"} "$@") || { rm -f "$resp"; return 1; }
  status=$out
  printf '%s %s\n' "$status" "$(cat "$resp")"
  rm -f "$resp"
}

# ak_login KEY: SIWE login (start, EIP-191 sign of the exact message, verify); prints the session JWT.
ak_login() {
  local key=$1 addr start rid msg sig verify
  addr=$(ak_lower "$("$CAST" wallet address --private-key "$key")")
  start=$(ak_api POST /v1/auth/wallet/start "{\"address\":\"$addr\",\"chain_id\":$AK_CHAIN_ID}")
  [ "${start%% *}" = 200 ] || ak_die "login start: $start" || return 1
  rid=$(jq -r .request_id <<<"${start#* }"); msg=$(jq -r .siwe_message <<<"${start#* }")
  sig=$("$CAST" wallet sign --private-key "$key" "$msg")
  verify=$(ak_api POST /v1/auth/wallet/verify "{\"request_id\":\"$rid\",\"signature\":\"$sig\"}")
  [ "${verify%% *}" = 200 ] || ak_die "login verify: $verify" || return 1
  jq -r .session_jwt <<<"${verify#* }"
}

# ak_cap_body KEY OPERATOR_HEX ACTOR_HEX SERVICE OP CLASS [TS]: the signed cap-mint request body.
# PoP (caps.md §4 with D2/D3): m = keccak256("agentkeys-cap-pop:v1:<op>:<actor>:<keccak(service)>:
# <op>:<class>:<nonce>:<ts>"), client_sig = EIP-191 sign(K10, m).
ak_cap_body() {
  local key=$1 operator=${2#0x} actor=${3#0x} service=$4 op=$5 class=$6 ts=${7:-$(date +%s)}
  local nonce svc m sig dkh
  operator=$(ak_lower "$operator"); actor=$(ak_lower "$actor")  # caps.md §4: bare lowercase hex
  nonce=$(openssl rand -hex 16)
  svc=$("$CAST" keccak "$service"); svc=${svc#0x}
  m=$("$CAST" keccak "agentkeys-cap-pop:v1:$operator:$actor:$svc:$op:$class:$nonce:$ts")
  sig=$("$CAST" wallet sign --private-key "$key" "$m")
  dkh=$(ak_dkh "$("$CAST" wallet address --private-key "$key")")
  printf '{"operator_omni":"%s","actor_omni":"%s","service":"%s","device_key_hash":"%s","client_sig":"%s","client_nonce":"%s","client_ts":%s}' \
    "$operator" "$actor" "$service" "$dkh" "$sig" "$nonce" "$ts"
}

# ak_cap SESSION ROUTE BODY: POST /v1/cap/<ROUTE>; prints "<status> <body>".
ak_cap() { ak_api POST "/v1/cap/$2" "$3" -H "authorization: Bearer $1"; }

# ak_aws_creds SESSION CLASS [ACTOR_HEX]: POST /v1/mint-aws-creds; prints the JSON with the
# temporary credentials (keep it in a variable, never log it).
ak_aws_creds() {
  local body="{\"data_class\":\"$2\"${3:+,\"actor_omni\":\"$3\"}}" r
  r=$(ak_api POST /v1/mint-aws-creds "$body" -H "authorization: Bearer $1")
  [ "${r%% *}" = 200 ] || ak_die "mint-aws-creds: $r" || return 1
  printf '%s\n' "${r#* }"
}

# ak_worker CREDS_JSON PATH BODY: POST to a worker with the X-Aws-* passthrough headers.
ak_worker() {
  local creds=$1 path=$2 body=$3
  ak_api POST "$path" "$body" \
    -H "x-aws-access-key-id: $(jq -r .access_key_id <<<"$creds")" \
    -H "x-aws-secret-access-key: $(jq -r .secret_access_key <<<"$creds")" \
    -H "x-aws-session-token: $(jq -r .session_token <<<"$creds")"
}

# ak_register_additional_master OP_KEY OP_PASSKEY OP_COUNT NEW_KEY NEW_PASSKEY ROLES: adds the
# wallet of NEW_KEY as another master of OP_KEY's operator with ROLES (1 CAP_MINT, 2 RECOVERY,
# 4 SCOPE); the existing master approves with its passkey (quorum 1 of the default threshold),
# the new passkey self-attests, both over additionalMasterChallenge.
ak_register_additional_master() {
  local okey=$1 opk=$2 ocount=$3 nkey=$4 npk=$5 roles=$6 oaddr naddr op cred rph px py ch self appr
  oaddr=$("$CAST" wallet address --private-key "$okey"); naddr=$("$CAST" wallet address --private-key "$nkey")
  op=0x$(ak_omni "$oaddr")
  cred=$(jq -r .cred_id "$npk"); rph=$(jq -r .rp_id_hash "$npk"); px=$(jq -r .pub_x "$npk"); py=$(jq -r .pub_y "$npk")
  ch=$("$CAST" call --rpc-url "$AK_RPC_URL" "$AK_REGISTRY_ADDRESS" \
    'additionalMasterChallenge(bytes32,address,bytes32,bytes32,uint256,uint256,uint8)(bytes32)' "$op" "$naddr" "$cred" "$rph" "$px" "$py" "$roles")
  self=$(ak_passkey_assert "$npk" "$ch" 1) || return 1
  appr=$(ak_passkey_assert "$opk" "$ch" "$ocount" "$(ak_dkh "$oaddr")") || return 1
  "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$nkey" "$AK_REGISTRY_ADDRESS" \
    "registerAdditionalMasterDevice(bytes32,bytes32,bytes32,uint256,uint256,uint8,$AK_TUPLE,$AK_TUPLE[])" \
    "$op" "$cred" "$rph" "$px" "$py" "$roles" "$self" "[$appr]" >/dev/null || ak_die "registerAdditionalMasterDevice failed"
}
