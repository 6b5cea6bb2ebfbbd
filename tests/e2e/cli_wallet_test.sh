#!/usr/bin/env bash
# tests/e2e/cli_wallet_test.sh — issue 13, `agentkeys wallet`: keys move between agentkeys and
# Foundry's cast in the Ethereum keystore v3 format, both ways, and key files are guarded.
#
#   - a keystore made by `cast wallet new DIR` opens in `agentkeys` to the same address (and is
#     imported as the profile's wallet);
#   - one made by `agentkeys wallet new` (geth's standard scrypt N=2^18 once, --light otherwise)
#     opens in `cast wallet address --keystore` and `cast wallet decrypt-keystore`, to the same
#     address and key;
#   - a plain hex key file is refused with mode 0644 / 0640 (key_file_permissions, ssh's
#     "UNPROTECTED PRIVATE KEY FILE") and accepted with 0600 / 0400;
#   - refusals carry their reason: wrong password (keystore_mac_mismatch, exit 3), garbled file
#     (keystore_invalid), no password source and no terminal (password_required), an existing
#     file is never overwritten (file_exists), a profile's wallet is not replaced silently;
#   - --json output of new / import / address, files mode 0600, the profile records the wallet.
# No stack, no network: only the binary, cast (node_modules/@foundry-rs/cast-linux-amd64) and
# python3 for reading JSON. AGENTKEYS=path picks the binary (default: release, else dev).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
AK=${AGENTKEYS:-$top/build/release/bin/agentkeys}
[ -x "$AK" ] || AK=$top/build/dev/bin/agentkeys
CAST=${CAST:-$top/node_modules/@foundry-rs/cast-linux-amd64/bin/cast}
PY=/usr/bin/python3
. "$top/tests/lib/check.sh"
[ -x "$AK" ] || { echo "FAIL cli_wallet_setup (no agentkeys binary; make build/release/bin/agentkeys)"; exit 1; }
[ -x "$CAST" ] || { echo "FAIL cli_wallet_setup (cast not found at $CAST)"; exit 1; }

tmp=$(mktemp -d)
[ "${KEEP_TMP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_CACHE_HOME=$tmp/home/.cache
mkdir -p "$HOME"
unset AGENTKEYS_WALLET AGENTKEYS_PASSWORD_FILE AGENTKEYS_PROFILE AGENTKEYS_KEYSTORE_LIGHT
printf 'correct horse 1\n' > "$tmp/pw"; chmod 600 "$tmp/pw"
printf 'wrong horse\n' > "$tmp/pw.bad"; chmod 600 "$tmp/pw.bad"
export AGENTKEYS_PASSWORD_FILE=$tmp/pw
ak() { timeout 60 "$AK" "$@"; }

# ---- cast -> agentkeys ---------------------------------------------------------------------
mkdir -p "$tmp/castks"
timeout 60 "$CAST" wallet new "$tmp/castks" --unsafe-password 'correct horse 1' > "$tmp/cast.out" 2>&1
cast_addr=$(sed -n 's/^Address: *//p' "$tmp/cast.out" | tr -d ' ')
cast_file=$(find "$tmp/castks" -type f | head -n1)
if [ -n "$cast_addr" ] && [ -f "$cast_file" ]; then
  got=$(ak wallet address --keystore "$cast_file" 2>"$tmp/err")
  [ "$got" = "$cast_addr" ] && pass cast_keystore_opens_in_agentkeys \
    || fail cast_keystore_opens_in_agentkeys "cast $cast_addr agentkeys '$got' $(head -c 300 "$tmp/err")"
  ak --json wallet import --keystore "$cast_file" > "$tmp/imp.json" 2>"$tmp/err"
  imp_path=$(jget "$tmp/imp.json" path)
  if [ "$(jget "$tmp/imp.json" address)" = "$cast_addr" ] && [ -f "$imp_path" ] && \
     [ "$(stat -c %a "$imp_path")" = 600 ] && [ "$(jget "$tmp/imp.json" profile_wallet)" = true ]; then
    pass cast_keystore_imported_0600_as_profile_wallet
  else fail cast_keystore_imported_0600_as_profile_wallet "$(cat "$tmp/imp.json" "$tmp/err" | head -c 400)"; fi
  got=$(ak wallet address 2>"$tmp/err")
  [ "$got" = "$cast_addr" ] && pass profile_wallet_is_the_cast_key || fail profile_wallet_is_the_cast_key "'$got'"
  # the imported copy is byte-identical (same password, same parameters), so cast still reads it
  cmp -s "$cast_file" "$imp_path" && pass import_copies_keystore_unchanged || fail import_copies_keystore_unchanged
else
  fail cast_wallet_new "$(head -c 300 "$tmp/cast.out")"
fi

# ---- agentkeys -> cast ---------------------------------------------------------------------
check_cast_reads() { # name file want_addr
  local name=$1 f=$2 want=$3 got
  got=$(timeout 60 "$CAST" wallet address --keystore "$f" --password 'correct horse 1' 2>&1)
  [ "$got" = "$want" ] && pass "cast_reads_agentkeys_keystore_$name" || fail "cast_reads_agentkeys_keystore_$name" "$want vs '$got'"
  # one password file serves both tools (trailing white space is not part of the password)
  printf 'correct horse 1 \r\n' > "$tmp/pw.crlf"
  got=$(timeout 60 "$CAST" wallet address --keystore "$f" --password-file "$tmp/pw.crlf" 2>&1)
  local got2
  got2=$(AGENTKEYS_PASSWORD_FILE=$tmp/pw.crlf ak wallet address --keystore "$f" 2>&1)
  [ "$got" = "$want" ] && [ "$got2" = "$want" ] && pass "same_password_file_for_cast_and_agentkeys_$name" \
    || fail "same_password_file_for_cast_and_agentkeys_$name" "cast '$got' agentkeys '$got2'"
  # cast decrypt-keystore: the private key it finds has our address (fed to agentkeys on stdin,
  # never argv)
  timeout 60 "$CAST" wallet decrypt-keystore -k "$(dirname "$f")" "$(basename "$f")" --unsafe-password 'correct horse 1' \
    > "$tmp/dec.out" 2>&1
  local key
  key=$(grep -o '0x[0-9a-fA-F]\{64\}' "$tmp/dec.out" | head -n1)
  if [ -n "$key" ]; then
    printf '%s\n' "$key" | ak --profile castcheck --json wallet import --key-file - --plain --out "$tmp/dec-$name.key" \
      > "$tmp/dec.json" 2>"$tmp/err"
    [ "$(jget "$tmp/dec.json" address)" = "$want" ] && pass "cast_decrypt_keystore_gives_our_key_$name" \
      || fail "cast_decrypt_keystore_gives_our_key_$name" "$(head -c 300 "$tmp/dec.json" "$tmp/err")"
  else
    fail "cast_decrypt_keystore_gives_our_key_$name" "$(head -c 300 "$tmp/dec.out")"
  fi
}
# geth's standard parameters, as `wallet new` writes by default
ak --profile std --json wallet new --out "$tmp/std.json" > "$tmp/new.json" 2>"$tmp/err"
std_addr=$(jget "$tmp/new.json" address)
if [ -n "$std_addr" ] && grep -q '"n":262144,"p":1,"r":8' "$tmp/std.json"; then
  pass agentkeys_new_writes_scrypt_n262144_r8_p1
  check_cast_reads standard "$tmp/std.json" "$std_addr"
else
  fail agentkeys_new_writes_scrypt_n262144_r8_p1 "$(head -c 400 "$tmp/new.json" "$tmp/err")"
fi
# the light parameters, in the profile's own config dir
ak --profile light --json wallet new --light > "$tmp/new2.json" 2>"$tmp/err"
l_addr=$(jget "$tmp/new2.json" address); l_path=$(jget "$tmp/new2.json" path)
if [ -n "$l_addr" ] && [ "$(stat -c %a "$l_path" 2>/dev/null)" = 600 ] && \
   [[ $l_path == "$XDG_CONFIG_HOME/agentkeys/wallets/"* ]] && \
   grep -qx "wallet = $l_path" "$XDG_CONFIG_HOME/agentkeys/light.conf" && \
   [ "$(jget "$tmp/new2.json" format)" = keystore-v3 ]; then
  pass wallet_new_default_location_0600_recorded_in_profile
  check_cast_reads light "$l_path" "$l_addr"
  got=$(ak --profile light wallet address 2>&1)
  [ "$got" = "$l_addr" ] && pass wallet_address_of_profile || fail wallet_address_of_profile "'$got'"
  ak --profile light --json wallet address > "$tmp/addr.json" 2>/dev/null
  [ "$(jget "$tmp/addr.json" address)" = "$l_addr" ] && [ "$(jget "$tmp/addr.json" wallet)" = "$l_path" ] \
    && pass wallet_address_json || fail wallet_address_json "$(head -c 300 "$tmp/addr.json")"
else
  fail wallet_new_default_location_0600_recorded_in_profile "$(head -c 400 "$tmp/new2.json" "$tmp/err")"
fi

# ---- refusals --------------------------------------------------------------------------------
# wrong password: MAC mismatch, exit 3, no key material in the message
AGENTKEYS_PASSWORD_FILE=$tmp/pw.bad ak --profile light --json wallet address > "$tmp/wp.json" 2>"$tmp/err"; rc=$?
[ "$(jget "$tmp/wp.json" reason)" = keystore_mac_mismatch ] && [ $rc = 3 ] && pass wrong_password_refused_mac_mismatch \
  || fail wrong_password_refused_mac_mismatch "rc=$rc $(head -c 300 "$tmp/wp.json")"
AGENTKEYS_PASSWORD_FILE=$tmp/pw.bad ak --profile light wallet address > /dev/null 2>"$tmp/err"
grep -q '(keystore_mac_mismatch)' "$tmp/err" && pass wrong_password_reason_on_stderr || fail wrong_password_reason_on_stderr "$(cat "$tmp/err")"
# no password file and no terminal
env -u AGENTKEYS_PASSWORD_FILE setsid -w "$AK" --profile light --json wallet address < /dev/null > "$tmp/np.json" 2>&1
[ "$(jget "$tmp/np.json" reason)" = password_required ] && pass no_password_source_refused \
  || fail no_password_source_refused "$(head -c 300 "$tmp/np.json")"
# the terminal prompt (on a pty, tests/lib/pty-answer: each answer is typed once its prompt shows,
# so none is lost to the prompt's TCSAFLUSH on a slow machine): echo off, so the typed password
# never shows; `wallet new` asks twice and refuses two different answers
answer=$top/tests/lib/pty-answer
env -u AGENTKEYS_PASSWORD_FILE timeout 60 "$answer" password 'correct horse 1' -- \
  "$AK" --profile light wallet address > "$tmp/tty.out" 2>&1
if grep -q "$l_addr" "$tmp/tty.out" && grep -q 'Password for' "$tmp/tty.out" && ! grep -q 'correct horse' "$tmp/tty.out"; then
  pass tty_prompt_without_echo
else fail tty_prompt_without_echo "$(head -c 300 "$tmp/tty.out" | tr -d '\r')"; fi
env -u AGENTKEYS_PASSWORD_FILE timeout 60 "$answer" password one two -- \
  "$AK" --profile tty wallet new --light --out "$tmp/tty.json" > "$tmp/tty2.out" 2>&1
grep -q 'Repeat the password' "$tmp/tty2.out" && grep -q '(password_mismatch)' "$tmp/tty2.out" && [ ! -e "$tmp/tty.json" ] \
  && pass tty_new_password_confirmation || fail tty_new_password_confirmation "$(head -c 300 "$tmp/tty2.out" | tr -d '\r')"
# garbled and truncated keystores
head -c 100 "$l_path" > "$tmp/trunc.json"
ak --json wallet address --keystore "$tmp/trunc.json" > "$tmp/tr.json" 2>/dev/null
[ "$(jget "$tmp/tr.json" reason)" = keystore_invalid ] && pass truncated_keystore_refused || fail truncated_keystore_refused "$(cat "$tmp/tr.json")"
sed 's/"kdf":"scrypt"/"kdf":"argon2id"/' "$l_path" > "$tmp/kdf.json"
ak --json wallet address --keystore "$tmp/kdf.json" > "$tmp/kd.json" 2>/dev/null
[ "$(jget "$tmp/kd.json" reason)" = keystore_unsupported ] && pass unknown_kdf_refused || fail unknown_kdf_refused "$(cat "$tmp/kd.json")"
sed 's/"n":4096/"n":4194304/' "$l_path" > "$tmp/big.json"
ak --json wallet address --keystore "$tmp/big.json" > "$tmp/bg.json" 2>/dev/null
[ "$(jget "$tmp/bg.json" reason)" = kdf_params_rejected ] && pass oversized_scrypt_refused || fail oversized_scrypt_refused "$(cat "$tmp/bg.json")"
$PY - "$l_path" "$tmp/addr-wrong.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["address"] = "00" * 20
json.dump(d, open(sys.argv[2], "w"))
EOF
ak --json wallet address --keystore "$tmp/addr-wrong.json" > "$tmp/aw.json" 2>/dev/null
[ "$(jget "$tmp/aw.json" reason)" = keystore_address_mismatch ] && pass wrong_address_field_refused || fail wrong_address_field_refused "$(cat "$tmp/aw.json")"
# never overwrite a key file; never replace a profile's wallet silently
before=$(sha256sum < "$tmp/std.json")
ak --profile other --json wallet new --light --out "$tmp/std.json" > "$tmp/ow.json" 2>/dev/null
[ "$(jget "$tmp/ow.json" reason)" = file_exists ] && [ "$(sha256sum < "$tmp/std.json")" = "$before" ] \
  && pass existing_file_never_overwritten || fail existing_file_never_overwritten "$(cat "$tmp/ow.json")"
ak --profile light --json wallet new --light > "$tmp/we.json" 2>/dev/null
[ "$(jget "$tmp/we.json" reason)" = wallet_exists ] && pass profile_wallet_not_replaced_without_force \
  || fail profile_wallet_not_replaced_without_force "$(cat "$tmp/we.json")"

# ---- plain key files: 0600 / 0400 only (ssh's rule) -----------------------------------------
# the Web3 Secret Storage test key and its address
KEY=0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d
ADDR=0x008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b
printf '%s\n' "$KEY" > "$tmp/plain.key"
for mode in 644 640 604; do
  chmod "$mode" "$tmp/plain.key"
  AGENTKEYS_WALLET=$tmp/plain.key ak --json wallet address > "$tmp/pm.json" 2>/dev/null; rc=$?
  [ "$(jget "$tmp/pm.json" reason)" = key_file_permissions ] && [ $rc = 1 ] && pass "plain_key_mode_${mode}_refused" \
    || fail "plain_key_mode_${mode}_refused" "rc=$rc $(cat "$tmp/pm.json")"
done
chmod 644 "$tmp/plain.key"
AGENTKEYS_WALLET=$tmp/plain.key ak wallet address > /dev/null 2>"$tmp/err"
grep -q 'UNPROTECTED PRIVATE KEY FILE' "$tmp/err" && grep -q '(key_file_permissions)' "$tmp/err" && \
  ! grep -q "${KEY#0x}" "$tmp/err" && pass plain_key_refusal_message_like_ssh || fail plain_key_refusal_message_like_ssh "$(cat "$tmp/err")"
for mode in 600 400; do
  chmod "$mode" "$tmp/plain.key"
  got=$(AGENTKEYS_WALLET=$tmp/plain.key ak wallet address 2>"$tmp/err")
  [ "$got" = "$ADDR" ] && pass "plain_key_mode_${mode}_accepted" || fail "plain_key_mode_${mode}_accepted" "'$got' $(cat "$tmp/err")"
done
# import of a hex key from stdin into a keystore; --plain writes a 0600 hex file
printf '%s\n' "$KEY" | AGENTKEYS_KEYSTORE_LIGHT=1 ak --profile imp --json wallet import --key-file - > "$tmp/ik.json" 2>"$tmp/err"
ik_path=$(jget "$tmp/ik.json" path)
if [ "$(jget "$tmp/ik.json" address)" = "$ADDR" ] && [ "$(stat -c %a "$ik_path" 2>/dev/null)" = 600 ] && \
   ! grep -q "${KEY#0x}" "$ik_path"; then
  pass import_hex_key_from_stdin_to_keystore
  got=$(timeout 60 "$CAST" wallet address --keystore "$ik_path" --password 'correct horse 1' 2>&1)
  [ "$got" = "$ADDR" ] && pass cast_reads_imported_key || fail cast_reads_imported_key "'$got'"
else
  fail import_hex_key_from_stdin_to_keystore "$(head -c 300 "$tmp/ik.json" "$tmp/err")"
fi
printf 'not a key\n' | ak --json wallet import --key-file - --plain --out "$tmp/x.key" > "$tmp/bk.json" 2>/dev/null
[ "$(jget "$tmp/bk.json" reason)" = bad_hex ] && [ ! -e "$tmp/x.key" ] && pass import_garbage_refused_nothing_written \
  || fail import_garbage_refused_nothing_written "$(cat "$tmp/bk.json")"
ak wallet import --key-file > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass import_usage_error_exit_2 || fail import_usage_error_exit_2 "rc=$rc"
# nothing left behind but the files we asked for (no temporaries)
left=$(find "$tmp" -name '*.tmp*' | head -n3)
[ -z "$left" ] && pass no_temporary_files_left || fail no_temporary_files_left "$left"

exit $((fails > 0))
