#!/usr/bin/env bash
# tests/function/cli_local_test.sh — `agentkeys` without any server (issue 13): global options,
# dispatch, help/man/completion words, usage errors and their exit codes, --json errors, config
# import-env keeping only public settings in a 0600 profile, and `run` passing exit codes and
# signals through (no --env, so no server). The binary: AGENTKEYS_BIN (default the dev build).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
AK=${AGENTKEYS_BIN:-$root/build/dev/bin/agentkeys}
[ -x "$AK" ] || { echo "FAIL cli_binary_missing ($AK)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/cli-local.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache HOME=$work
unset AGENTKEYS_PROFILE AGENTKEYS_API_URL AGENTKEYS_CHAIN_ID AGENTKEYS_WALLET
. "$root/tests/lib/check.sh"
# rc NAME WANT CMD...
rc() {
  local name=$1 want=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  [ "$got" = "$want" ] && pass "$name" || fail "$name (exit $got, want $want: $(head -c 200 "$work/err"))"
}

rc help 0 "$AK" help
for w in "wallet new" "cred put" "run" "aws-creds" "doctor" "agent add" "scope grant"; do
  grep -q "^  $w" "$work/out" || fail "help_lists_$w"
done
grep -q "Exit codes:" "$work/out" && pass help_lists_commands_and_exit_codes || fail help_exit_codes
rc version 0 "$AK" --version
grep -q '^agentkeys ' "$work/out" && pass version_text || fail version_text
rc no_command_usage 2 "$AK"
rc unknown_command 2 "$AK" frobnicate
rc unknown_global_option 2 "$AK" --frob help
rc group_word_lists_group 2 "$AK" cred
grep -q "cred put" "$work/err" && pass group_word_listing || fail group_word_listing
rc command_help 0 "$AK" cred put --help
grep -q "^usage: agentkeys cred put SERVICE" "$work/out" && pass command_help_synopsis || fail command_help_synopsis
rc help_of_command 0 "$AK" help run
grep -q "^usage: agentkeys run" "$work/out" && pass help_of_command_synopsis || fail help_of_command_synopsis
rc man 0 "$AK" help --man
head -n1 "$work/out" | grep -q '^\.TH AGENTKEYS 1' && grep -q 'cred put' "$work/out" && grep -q '^\.SH EXIT STATUS' "$work/out" \
  && pass man_page_roff || fail man_page_roff
rc commands 0 "$AK" help --commands
[ "$(grep -c . "$work/out")" -ge 30 ] && grep -qx "inbox cat" "$work/out" && pass command_words || fail command_words

# no profile: a usage-class error, in words or in JSON
rc whoami_without_config 2 "$AK" whoami
grep -q "config_error" "$work/err" && pass whoami_without_config_reason || fail whoami_without_config_reason
rc json_error 2 "$AK" --json cred get openrouter
grep -q '^{"error":".*","reason":"config_error"}$' "$work/out" && pass json_error_shape || fail "json_error_shape ($(cat "$work/out"))"
rc value_in_argv_refused 2 "$AK" cred put openrouter sk-secret
rc aws_creds_needs_class 2 "$AK" aws-creds

# config import-env: public settings only, profile file 0600
cat >"$work/stack.env" <<'EOF'
# written by scripts/stack-up; source it
export AK_API_URL=http://127.0.0.1:1
export AK_CHAIN_ID=31337
export AWS_ACCESS_KEY_ID=AKIAADMINADMIN AWS_SECRET_ACCESS_KEY=admin-secret-value
export AK_DEPLOYER_KEY=0xdeadbeef
export AK_VAULT_BUCKET=ak-vault AK_MEMORY_BUCKET=ak-memory AK_MAIL_BUCKET=ak-mail
EOF
rc import_env 0 "$AK" --profile t config import-env "$work/stack.env"
f=$XDG_CONFIG_HOME/agentkeys/t.conf
[ "$(stat -c %a "$f")" = 600 ] && pass profile_file_0600 || fail profile_file_0600
grep -q "admin-secret-value\|AKIAADMIN\|deadbeef" "$f" && fail import_env_no_secrets || pass import_env_no_secrets
grep -q "^vault_bucket = ak-vault$" "$f" && grep -q "^chain_id = 31337$" "$f" && pass import_env_settings || fail import_env_settings
AGENTKEYS_API_URL=http://override:9 "$AK" --profile t config show >"$work/out"
grep -q "^api_url *= http://override:9$" "$work/out" && pass env_overrides_profile || fail env_overrides_profile
rc import_env_nothing 1 "$AK" --profile t config import-env /dev/null
rc config_set_unset 0 "$AK" --profile t config set --unset mail_bucket
grep -q mail_bucket "$f" && fail config_unset_removed || pass config_unset_removed
rc bad_profile_name_falls_back 0 "$AK" --profile ../x config show

# run without --env: no server involved
rc run_exit_code 7 "$AK" run -- sh -c 'exit 7'
rc run_signal 143 "$AK" run -- sh -c 'kill -TERM $$'
rc run_not_found 127 "$AK" run -- /nonexistent/prog
rc run_no_command 2 "$AK" run --env A=cred:x
rc run_bad_env_name 2 "$AK" run --env 1A=cred:x -- true
"$AK" run -- sh -c 'printf "a\nb"; printf "c" >&2' >"$work/out" 2>"$work/err"
[ "$(cat "$work/out")" = "$(printf 'a\nb')" ] && [ "$(cat "$work/err")" = c ] && pass run_output_passthrough \
  || fail run_output_passthrough

# the completion file completes command words from the binary
out=$(PATH=$(dirname "$AK"):$PATH bash -c ". '$root/cli/agentkeys.bash'; COMP_WORDS=(agentkeys cred ''); COMP_CWORD=2; _agentkeys; echo \"\${COMPREPLY[*]}\"")
[ "$out" = "get ls put rm" ] && pass bash_completion_words || fail "bash_completion_words ($out)"

# the release binary: static, stripped, at most 2 MB (issue 13)
rel=$root/build/release/bin/agentkeys
if [ -x "$rel" ]; then
  size=$(stat -c %s "$rel")
  file -b "$rel" | grep -q "statically linked" && [ "$size" -le 2097152 ] && pass "release_static_at_most_2MB ($size bytes)" \
    || fail "release_static_at_most_2MB ($size bytes, $(file -b "$rel"))"
fi

[ "$fails" = 0 ] || exit 1
