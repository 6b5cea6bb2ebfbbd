#!/usr/bin/env bash
# tests/e2e/passkey_browser_test.sh — the operator's WebAuthn ceremonies in a real browser
# (issue 15): `agentkeys ... --passkey browser:FILE` serves its one-time page, Debian's chromium
# (headless, driven by tests/e2e/passkey_browser.mjs over the DevTools protocol) answers it with a
# virtual authenticator (ctap2, internal, resident key, user verification), and every step is
# confirmed on anvil with `cast call`:
#   - operator init: the first master's passkey created in the browser (attestation parsed by the
#     CLI), then its self-attestation asserted in the browser; the chain holds its public key;
#   - scope grant with a browser assertion (gas printed);
#   - a second master with a second virtual authenticator (master request / approve / add);
#   - recovery threshold 2, then a 2-of-2 recovery (threshold back to 1 with both masters'
#     browser assertions);
# and the unhappy paths, each failing in words with nothing sent:
#   - a cancelled ceremony (the authenticator does not verify the user: NotAllowedError);
#   - a page without WebAuthn;
#   - a wrong rpId (the browser refuses it: SecurityError), no record written;
#   - a replayed browser-made assertion: the CLI refuses it (approval_stale) and the contract
#     refuses it when sent directly (cast send reverts; state and nonce unchanged);
#   - a second use of the one-time URL (410, the ceremony stops);
#   - the browser's result altered on its way back (origin, type, challenge, UV flag, rpIdHash,
#     clientDataJSON members reordered): the CLI's own checks refuse each in words;
#   - a link nobody opens expires (passkey_browser_timeout).
# Screenshots of the enrollment and approval pages go to $PASSKEY_SHOTS_DIR (default: the work dir).
#   KEEP_TMP=1 keeps the work directory.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" passkey_browser
AK=${AGENTKEYS_BIN:-$root/build/dev/bin/agentkeys}
case $AK in /*) ;; *) AK=$root/$AK ;; esac
[ -x "$AK" ] || die "cli_binary_missing ($AK; make build/dev/bin/agentkeys)"
[ -x /usr/bin/chromium ] || die "chromium_missing (scripts/bootstrap installs Debian's chromium)"
[ -d "$root/node_modules/puppeteer-core" ] || die "puppeteer_core_missing (npm ci)"
DRIVER=$root/tests/e2e/passkey_browser.mjs
CAST=$root/node_modules/@foundry-rs/cast-linux-amd64/bin/cast
SHOTS=${PASSKEY_SHOTS_DIR:-$work}
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache AGENTKEYS_PASSKEY_BROWSER_TIMEOUT=90
unset AGENTKEYS_PROFILE AGENTKEYS_WALLET AGENTKEYS_PASSKEY AGENTKEYS_OPERATOR AGENTKEYS_PASSKEY_BROWSER_OPEN
lower() { printf '%s' "$1" | tr 'A-F' 'a-f'; }
err_has() { if grep -qF -- "$2" "$work/err"; then pass "$1"; else fail "$1 (stderr: $(head -c 600 "$work/err"))"; fi; }
ccall() { "$CAST" call --rpc-url "$AK_RPC_URL" "$@"; }
nonce() { "$CAST" nonce --rpc-url "$AK_RPC_URL" "$1"; }
gas() { local g; g=$(jq -r '.tx.gas_used // empty' "$work/out" 2>/dev/null); [ -n "$g" ] && echo "GAS $1 $g" | tee -a "$work/gas"; }

# cer NAME WANT_RC 'DRIVER ARGS;DRIVER ARGS;...' CMD...
# Runs CMD in the background; each one-time URL it prints on stderr is answered, in order, by one
# driver run with the next group of driver arguments (none left: that URL is not opened). Waits
# are bounded: the driver's own timeouts, and a deadline for the whole command.
cer() {
  local name=$1 want=$2 opts=$3; shift 3
  local -a per; IFS=';' read -ra per <<<"$opts"
  : >"$work/driver"; : >"$work/out"; : >"$work/err" # emptied here: the child opens them later
  "$@" >>"$work/out" 2>>"$work/err" &
  local pid=$! i=0 url deadline=$((SECONDS + 300)) drv_fail=""
  while kill -0 "$pid" 2>/dev/null; do
    url=$(grep -oE 'http://localhost:[0-9]+/[A-Za-z0-9_-]{43}' "$work/err" | sed -n "$((i + 1))p")
    if [ -n "$url" ] && [ "$i" -lt "${#per[@]}" ]; then
      # shellcheck disable=SC2086
      node "$DRIVER" --url "$url" ${per[$i]} >>"$work/driver" 2>&1 || drv_fail="driver $((i + 1)): $(tail -1 "$work/driver")"
      i=$((i + 1)); continue
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then kill "$pid"; fail "$name (no exit within 300 s)"; break; fi
    sleep 0.2
  done
  wait "$pid"; local rc=$?
  if [ "$rc" = "$want" ] && [ -z "$drv_fail" ]; then pass "$name"
  else fail "$name (exit $rc, want $want; ${drv_fail:-driver ok}; $(head -c 500 "$work/err") $(head -c 300 "$work/out"))"; fi
}

stack_test_up
"$AK" config import-env "$L/stack.env" >/dev/null 2>&1 || die "config_import_env"
keyfile() { # NAME: a fresh funded wallet in a 0600 plain key file; prints its address
  local k; k=$("$CAST" wallet new --json | jq -r '.[0].private_key')
  "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$AK_DEPLOYER_KEY" "$("$CAST" wallet address --private-key "$k")" \
    --value 1ether >/dev/null || die "fund_$1"
  (umask 077; printf '%s\n' "$k" >"$work/$1.key")
  lower "$("$CAST" wallet address --private-key "$k")"
}
MASTER=$(keyfile master); AGENT=$(keyfile agent); MASTER2=$(keyfile master2); OTHER=$(keyfile other)
omni() { printf 'agentkeysevm%s' "$(lower "$1")" | sha256sum | cut -d' ' -f1; }
OP=$(omni "$MASTER")
as() { local w=$1; shift; AGENTKEYS_WALLET=$work/$w.key XDG_CACHE_HOME=$work/cache-$w "$@"; }
PK=browser:$work/master.rec PK2=browser:$work/master2.rec # the CLI's public records
AUTH1="--state $work/auth1.json" AUTH2="--state $work/auth2.json" # the two virtual authenticators
DEV='getDevice(bytes32)(bytes32,bytes32,bytes32,bytes32,uint256,uint256,uint8,uint8,uint64,uint32,bool)'
dev() { ccall "$AK_REGISTRY_ADDRESS" "$DEV" "$("$CAST" keccak "$1")" | sed -n "$2p" | cut -d' ' -f1; }
threshold() { ccall "$AK_REGISTRY_ADDRESS" 'recoveryThreshold(bytes32)(uint8)' "0x$OP"; }
dec() { case $1 in 0x*) "$CAST" to-dec "$1" ;; *) printf "%s\n" "$1" ;; esac; }

node "$DRIVER" --version --url about:blank --state /dev/null 2>/dev/null | grep -o 'Chrome/[0-9.]*' | sed 's/^/BROWSER /' | tee "$work/browser"

# ---------------------------------------------------------------- first master
cer "operator init: passkey created and asserted in the browser" 0 "$AUTH1 --shot $SHOTS/passkey-enroll.png;$AUTH1" \
  as master "$AK" --json operator init --passkey "$PK"
gas registerFirstMasterDevice
check "two one-time links (create, then approve)" "$(grep -c 'http://localhost:' "$work/err")" 2
check "chain: isMasterWallet(op, master)" "$(ccall "$AK_REGISTRY_ADDRESS" 'isMasterWallet(bytes32,address)(bool)' "0x$OP" "$MASTER")" true
check "chain: k11PubX == the browser credential's x" "$(dec "$(dev "$MASTER" 5)")" "$(dec "$(jq -r .pub_x "$work/master.rec")")"
check "chain: k11PubY == the browser credential's y" "$(dec "$(dev "$MASTER" 6)")" "$(dec "$(jq -r .pub_y "$work/master.rec")")"
check "chain: k11RpIdHash == sha256(\"localhost\")" "$(dev "$MASTER" 4)" "0x$(printf localhost | sha256sum | cut -d' ' -f1)"
check "record: rp id localhost, mode 0600" "$(jq -r .rp_id "$work/master.rec") $(stat -c %a "$work/master.rec")" "localhost 600"
SC=$(dev "$MASTER" 10)
[ "$SC" -ge 1 ] && pass "chain: sign count from the browser stored ($SC)" || fail "chain: sign count $SC"

# ---------------------------------------------------------------- an agent and a scope (K11 assertion)
as agent "$AK" agent consent --operator "$OP" >"$work/consent" 2>"$work/err" || die "agent_consent ($(cat "$work/err"))"
as master "$AK" agent add "$(cat "$work/consent")" >/dev/null 2>"$work/err" || die "agent_add ($(cat "$work/err"))"
in_scope() { ccall "$AK_SCOPE_ADDRESS" 'isServiceInScope(bytes32,bytes32,bytes32)(bool)' "0x$OP" "0x$(omni "$AGENT")" "$("$CAST" keccak "$1")"; }
cer "scope grant with a browser assertion" 0 "$AUTH1 --shot $SHOTS/passkey-approve.png" \
  as master "$AK" --json scope grant "$AGENT" credentials:openrouter --passkey "$PK"
gas setScopeWithWebauthn-browser
check "chain: credentials:openrouter in scope" "$(in_scope credentials:openrouter)" true
SC2=$(dev "$MASTER" 10)
[ "$SC2" -gt "$SC" ] && pass "chain: sign count advanced ($SC -> $SC2)" || fail "chain: sign count $SC -> $SC2"

# ---------------------------------------------------------------- negatives on one ceremony (nothing sent)
n0=$(nonce "$MASTER")
cer "cancelled ceremony (no user verification): exit 3" 3 "$AUTH1 --uv 0 --expect error" \
  as master "$AK" scope grant "$AGENT" memory:notes --passkey "$PK"
err_has "  ... says cancelled (NotAllowedError)" "ceremony was cancelled or not allowed: NotAllowedError"
err_has "  ... reason passkey_cancelled" "(passkey_cancelled)"
check "  ... memory:notes not in scope" "$(in_scope memory:notes)" false
check "  ... nothing sent" "$(nonce "$MASTER")" "$n0"

cer "browser without WebAuthn: exit 3" 3 "$AUTH1 --no-webauthn --expect error" \
  as master "$AK" scope grant "$AGENT" memory:notes --passkey "$PK"
err_has "  ... reason passkey_no_webauthn" "(passkey_no_webauthn)"
check "  ... nothing sent" "$(nonce "$MASTER")" "$n0"

# the one-time link opened twice: the second load gets 410 and the ceremony stops
: >"$work/out"; : >"$work/err"
as master "$AK" scope grant "$AGENT" memory:notes --passkey "$PK" >>"$work/out" 2>>"$work/err" &
pid=$!; url=""
for _ in $(seq 1 300); do url=$(grep -oE 'http://localhost:[0-9]+/[A-Za-z0-9_-]{43}' "$work/err" | head -1); [ -n "$url" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.2; done
[ -n "$url" ] || fail "second use: no link printed ($(head -c 300 "$work/err"))"
s1=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url"); s2=$(node "$DRIVER" --url "$url" --state "$work/auth1.json" --expect gone 2>&1)
wait $pid; rc=$?
check "second use of the one-time URL: first load 200" "$s1" 200
case $s2 in "STATE gone"*) pass "  ... second load refused (410 page)" ;; *) fail "  ... second load: $s2" ;; esac
check "  ... the command stops: exit 3" "$rc" 3
err_has "  ... reason passkey_link_reused" "(passkey_link_reused)"
check "  ... nothing sent" "$(nonce "$MASTER")" "$n0"

# the browser's result altered on its way back (driver --tamper): the CLI's own checks refuse it
while IFS='|' read -r t msg; do
  cer "result with $t altered: refused by the CLI, exit 3" 3 "$AUTH1 --tamper $t --expect error" \
    as master "$AK" scope grant "$AGENT" memory:notes --passkey "$PK"
  err_has "  ... $msg" "$msg"
  err_has "  ... reason passkey_result_refused" "(passkey_result_refused)"
  check "  ... nothing sent" "$(nonce "$MASTER")" "$n0"
done <<'TAMPER'
origin|clientDataJSON.origin is not http://localhost:
type|clientDataJSON.type is not webauthn.get
challenge|clientDataJSON.challenge is not the challenge asked for
uv|the authenticator did not report user verification (UV)
rpidhash|authenticatorData.rpIdHash is not sha256("localhost")
reorder|the signature does not verify with the enrolled passkey
TAMPER
check "memory:notes still not in scope" "$(in_scope memory:notes)" false

# nobody opens the link: it expires
cer "an unopened link expires: exit 3" 3 "" env AGENTKEYS_PASSKEY_BROWSER_TIMEOUT=5 \
  AGENTKEYS_WALLET="$work/master.key" "$AK" scope grant "$AGENT" memory:notes --passkey "$PK"
err_has "  ... reason passkey_expired" "(passkey_expired)"
check "  ... nothing sent" "$(nonce "$MASTER")" "$n0"

# a wrong rpId: the page is on localhost, the passkey asked for example.com
o0=$(nonce "$OTHER")
cer "wrong rpId (example.com on a localhost page): exit 3" 3 "--state $work/auth-other.json --expect error" \
  as other "$AK" operator init --rp-id example.com --passkey "browser:$work/other.rec"
err_has "  ... reason passkey_rp_id_refused (SecurityError)" "(passkey_rp_id_refused)"
check "  ... no record written" "$([ -e "$work/other.rec" ] && echo yes || echo no)" no
check "  ... not registered on chain" "$(ccall "$AK_REGISTRY_ADDRESS" 'isMasterWallet(bytes32,address)(bool)' "0x$(omni "$OTHER")" "$OTHER")" false
check "  ... nothing sent" "$(nonce "$OTHER")" "$o0"

# ---------------------------------------------------------------- a second master (second authenticator)
cer "master request: second passkey created in a second authenticator" 0 "$AUTH2" \
  as master2 "$AK" master request --operator "$OP" --passkey "$PK2"
REQ=$(cat "$work/out")
cer "master approve: first master's browser assertion" 0 "$AUTH1 --shot $SHOTS/passkey-approve-master.png" as master "$AK" master approve "$REQ" --passkey "$PK"
APP=$(cat "$work/out")
cer "master add: second master self-attests in its browser" 0 "$AUTH2" \
  as master2 "$AK" --json master add --operator "$OP" --passkey "$PK2" "$APP"
gas registerAdditionalMasterDevice-browser
check "chain: isMasterWallet(op, master2)" "$(ccall "$AK_REGISTRY_ADDRESS" 'isMasterWallet(bytes32,address)(bool)' "0x$OP" "$MASTER2")" true
check "chain: master2's k11PubX == its browser credential" "$(dec "$(dev "$MASTER2" 5)")" "$(dec "$(jq -r .pub_x "$work/master2.rec")")"
[ "$(jq -r .pub_x "$work/master.rec")" != "$(jq -r .pub_x "$work/master2.rec")" ] && pass "two distinct passkeys" || fail "same passkey twice"

# ---------------------------------------------------------------- 2-of-2 recovery
cer "recovery threshold 2 (first master's browser approval)" 0 "$AUTH1" \
  as master "$AK" --json recovery threshold 2 --passkey "$PK"
check "chain: recoveryThreshold == 2" "$(threshold)" 2
as master "$AK" recovery threshold 1 --request >"$work/req2" 2>"$work/err" || fail "threshold request ($(cat "$work/err"))"
cer "second master approves in its browser" 0 "$AUTH2" as master2 "$AK" master approve "$(cat "$work/req2")" --passkey "$PK2"
APP2=$(cat "$work/out")
cer "2-of-2 recovery: threshold 1 with both masters' browser assertions" 0 "$AUTH1" \
  as master "$AK" --json recovery threshold 1 --passkey "$PK" "$APP2"
gas setRecoveryThreshold-2of2-browser
check "chain: recoveryThreshold == 1" "$(threshold)" 1
check "  ... two approvals counted" "$(grep -c 'added this wallet' "$work/err")" 1

# ---------------------------------------------------------------- replay of a used browser assertion
n0=$(nonce "$MASTER"); sc0=$(dev "$MASTER2" 10)
cer "replayed approval through the CLI: refused before sending" 1 "" \
  as master "$AK" recovery threshold 1 --passkey "$PK" "$APP2"
err_has "  ... reason approval_stale" "approval_stale"
IFS=. read -r _ _ att ad cdj r s <<<"$APP2"
if "$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$(cat "$work/master.key")" "$AK_REGISTRY_ADDRESS" \
  'setRecoveryThreshold(bytes32,uint8,(bytes32,bytes,bytes,uint256,uint256)[])' "0x$OP" 2 \
  "[(0x$att,0x$ad,0x$cdj,0x$r,0x$s)]" >"$work/replay" 2>&1; then
  fail "replayed assertion sent directly: the contract accepted it"
else
  why=none
  grep -q "$("$CAST" sig 'StaleSignCount(uint32,uint32)')" "$work/replay" && why=StaleSignCount
  grep -q "$("$CAST" sig 'ChallengeMismatch()')" "$work/replay" && why=ChallengeMismatch
  [ "$why" != none ] && pass "replayed assertion sent directly: the contract refuses it ($why)" || fail "replay: $(head -c 300 "$work/replay")"
fi
check "  ... threshold unchanged" "$(threshold)" 1
check "  ... nothing mined" "$(nonce "$MASTER")" "$n0"
check "  ... master2's sign count unchanged" "$(dev "$MASTER2" 10)" "$sc0"

echo "gas used per browser-approved transaction:"; sed 's/^/    /' "$work/gas" 2>/dev/null
[ "$fails" = 0 ] || exit 1
