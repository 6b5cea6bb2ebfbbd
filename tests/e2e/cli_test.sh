#!/usr/bin/env bash
# tests/e2e/cli_test.sh — the agent side of `agentkeys` (issue 13) end to end on a private
# local stack, through the binary only: config import-env, login, whoami, cred put/get/rm/ls,
# mem put/get/ls, a session expired in the cache renewed, a session the server refuses renewed,
# a revoked agent refused with device_revoked (exit 3), `run` masking values (also split across
# writes) and passing exit codes and signals through, --no-masking, `aws-creds` as the
# credential_process of Debian's /usr/bin/aws listing the agent's own prefix and denied another
# agent's (AccessDenied), logout, doctor, and no value ever on disk or in the stack's logs.
#
# The operator side (first master, agents' consent and registration, scopes, revocation) is done
# with the `agentkeys` operator commands too; only funding the master's wallet (cast) and the
# local stack's IAM tagging (scripts/local-iam) are outside the binary, in SETUP. Nothing uses
# jq or scripts/lib/akclient.sh.
#   AGENTKEYS_BIN=build/release/bin/agentkeys tests/e2e/cli_test.sh   (default: the dev build)
#   KEEP_TMP=1 keeps the work directory.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" cli
AK=${AGENTKEYS_BIN:-$root/build/dev/bin/agentkeys}
case $AK in /*) ;; *) AK=$root/$AK ;; esac
[ -x "$AK" ] || die "cli_binary_missing ($AK; make build/dev/bin/agentkeys)"
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache
unset AGENTKEYS_PROFILE
ak() { "$AK" "$@"; }
# expect_rc NAME WANT_RC CMD...: runs CMD (output in $work/out, $work/err), checks the exit code
expect_rc() {
  local name=$1 want=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then pass "$name"; else fail "$name (exit $rc, want $want: $(head -c 300 "$work/err"))"; fi
}

stack_test_up

# ================================================================ SETUP (operator side)
# Every step is an `agentkeys` command except funding the master's wallet with gas (cast, from
# the stack's deployer key) and the local stack's IAM tagging of actors (scripts/local-iam).
CAST=${CAST:-$root/node_modules/@foundry-rs/cast-linux-amd64/bin/cast}
PK=$work/master.passkey
for p in master agent other rev; do
  ak --profile "$p" config import-env "$L/stack.env" >/dev/null 2>&1 || die "setup_import_env_$p"
  ak --profile "$p" wallet new --plain --out "$work/$p.key" >"$work/$p.addr" 2>"$work/err" || die "setup_wallet_new_$p ($(cat "$work/err"))"
done
ak --profile master config set passkey "software:$PK" || die setup_passkey_setting
MASTER_ADDR=$(cat "$work/master.addr"); AGENT_ADDR=$(cat "$work/agent.addr")
OTHER_ADDR=$(cat "$work/other.addr"); REV_ADDR=$(cat "$work/rev.addr")
"$CAST" send --rpc-url "$AK_RPC_URL" --private-key "$AK_DEPLOYER_KEY" "$MASTER_ADDR" --value 1ether >/dev/null 2>&1 \
  || die setup_fund_master
ak --profile master operator init >"$work/init.out" 2>"$work/err" || die "setup_operator_init ($(cat "$work/err"))"
OP=$(awk '$1 == "operator" {print $2}' "$work/init.out")
declare -A OMNI
for p in agent other rev; do
  blob=$(ak --profile "$p" agent consent --operator "$OP" 2>"$work/err") || die "setup_consent_$p ($(cat "$work/err"))"
  ak --profile master agent add "$blob" >"$work/add.out" 2>"$work/err" || die "setup_agent_add_$p ($(cat "$work/err"))"
  o=$(awk '$1 == "actor_omni" {print $2}' "$work/add.out"); OMNI[$p]=${o#0x}
done
ak --profile master scope grant "$AGENT_ADDR" credentials:openrouter credentials:github memory:notes >/dev/null 2>"$work/err" \
  && ak --profile master scope grant "$OTHER_ADDR" credentials:openrouter >/dev/null 2>>"$work/err" \
  && ak --profile master scope grant "$REV_ADDR" credentials:openrouter >/dev/null 2>>"$work/err" \
  || die "setup_scopes ($(cat "$work/err"))"
AG_HEX=${OMNI[agent]}; OT_HEX=${OMNI[other]}; RV_HEX=${OMNI[rev]}
[ ${#AG_HEX} = 64 ] && [ ${#OT_HEX} = 64 ] || die "setup_actor_omnis ($AG_HEX $OT_HEX)"
"$root/scripts/local-iam" allow-actor "$AG_HEX" "$OT_HEX" "$RV_HEX" >"$work/iam.log" 2>&1 || die "setup_local_iam"
# one message in the agent's inbox, written with the stack's admin keys as SesRouterFunction would
printf 'Subject: welcome\r\n\r\nhello agent\r\n' >"$work/mail.eml"
/usr/bin/aws --endpoint-url "$AK_S3_ENDPOINT" s3api put-object --bucket "$AK_MAIL_BUCKET" \
  --key "bots/$AG_HEX/inbound/1700000000-e2e.eml" --body "$work/mail.eml" >/dev/null 2>"$work/err" || die "setup_mail ($(cat "$work/err"))"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN # the stack's admin keys: not for the agent
pass setup_operator_side_with_agentkeys
# ================================================================ END OF SETUP

SECRET="sk-or-v1-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
MEMVAL="remember: $(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"

# ---- config
expect_rc config_show 0 ak --profile agent config show
grep -q "^api_url *= $AK_API_URL\$" "$work/out" && ! grep -qi "AKIA\|secret_access\|deployer" "$work/out" \
  && pass config_import_env_public_settings_only || fail config_import_env_public_settings_only
expect_rc config_set_unknown_key_refused 2 ak --profile agent config set no_such_key x

# ---- login, whoami
expect_rc login 0 ak --profile agent login
expect_rc whoami 0 ak --profile agent --json whoami
grep -q "\"omni\":\"$AG_HEX\"" "$work/out" && grep -q '"kind":"agent"' "$work/out" && pass whoami_agent_omni \
  || fail "whoami_agent_omni ($(cat "$work/out"))"
cache=$(ls "$XDG_CACHE_HOME"/agentkeys/agent/session-*.json 2>/dev/null | head -n1)
[ -n "$cache" ] && [ "$(stat -c %a "$cache")" = 600 ] && pass session_cache_0600 || fail session_cache_0600

# ---- cred / mem
printf '%s\n' "$SECRET" | ak --profile agent cred put openrouter >"$work/out" 2>"$work/err" \
  && pass cred_put_stdin || fail "cred_put_stdin ($(cat "$work/err"))"
expect_rc cred_get 0 ak --profile agent cred get openrouter
[ "$(cat "$work/out")" = "$SECRET" ] && pass cred_get_value || fail cred_get_value
expect_rc cred_put_value_in_argv_refused 2 ak --profile agent cred put openrouter "$SECRET"
expect_rc cred_get_absent_not_found 4 ak --profile agent cred get github
expect_rc cred_get_absent_json 4 ak --profile agent --json cred get github
grep -q '"reason":"not_found"' "$work/out" && pass cred_get_absent_json_reason || fail cred_get_absent_json_reason
expect_rc cred_get_out_of_scope 3 ak --profile agent cred get stripe
grep -q service_not_in_scope "$work/err" && pass cred_out_of_scope_reason || fail "cred_out_of_scope_reason ($(cat "$work/err"))"
printf 'gh-token' >"$work/gh.txt"
expect_rc cred_put_file 0 ak --profile agent cred put github --file "$work/gh.txt"
expect_rc cred_ls 0 ak --profile agent cred ls
[ "$(sort "$work/out" | tr '\n' ' ')" = "github openrouter " ] && pass cred_ls_names || fail "cred_ls_names ($(cat "$work/out"))"
expect_rc cred_rm 0 ak --profile agent cred rm github
expect_rc cred_rm_again_not_found 4 ak --profile agent cred rm github
expect_rc cred_get_after_rm 4 ak --profile agent cred get github
expect_rc cred_ls_after_rm 0 ak --profile agent cred ls
[ "$(cat "$work/out")" = openrouter ] && pass cred_ls_after_rm_names || fail "cred_ls_after_rm_names ($(cat "$work/out"))"
printf '%s' "$MEMVAL" | ak --profile agent mem put notes >/dev/null 2>"$work/err" && pass mem_put || fail "mem_put ($(cat "$work/err"))"
expect_rc mem_get 0 ak --profile agent mem get notes
[ "$(cat "$work/out")" = "$MEMVAL" ] && pass mem_get_value || fail mem_get_value
expect_rc mem_ls 0 ak --profile agent mem ls
[ "$(cat "$work/out")" = notes ] && pass mem_ls_names || fail "mem_ls_names ($(cat "$work/out"))"
expect_rc inbox_ls 0 ak --profile agent inbox ls
[ "$(cat "$work/out")" = 1700000000-e2e.eml ] && pass inbox_ls_names || fail "inbox_ls_names ($(cat "$work/out"))"
expect_rc inbox_cat 0 ak --profile agent inbox cat 1700000000-e2e.eml
cmp -s "$work/out" "$work/mail.eml" && pass inbox_cat_message || fail inbox_cat_message
expect_rc inbox_cat_absent 4 ak --profile agent inbox cat 0-nothing.eml
expect_rc inbox_cat_path_refused 2 ak --profile agent inbox cat ../x.eml
expect_rc inbox_other_agent_empty 0 ak --profile other inbox ls
[ ! -s "$work/out" ] && pass inbox_other_agent_sees_nothing || fail inbox_other_agent_sees_nothing

# ---- sessions renewed: expired in the cache, and refused by the server
exp_before=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["session"]["expires_at"])' "$cache")
"$PY" - "$cache" <<'EOF'
import json, sys, time
p = sys.argv[1]; d = json.load(open(p))
d["session"]["expires_at"] = int(time.time()) - 5
json.dump(d, open(p, "w"))
EOF
expect_rc expired_session_renewed 0 ak --profile agent cred get openrouter
exp_after=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["session"]["expires_at"])' "$cache")
[ "$(cat "$work/out")" = "$SECRET" ] && [ "$exp_after" -gt "$((exp_before - 1))" ] && [ "$exp_after" -gt "$(date +%s)" ] \
  && pass expired_session_new_expiry || fail "expired_session_new_expiry ($exp_before -> $exp_after)"
"$PY" - "$cache" <<'EOF'
import json, sys
p = sys.argv[1]; d = json.load(open(p))
d["session"]["jwt"] = d["session"]["jwt"][:-8] + "AAAAAAAA"  # a signature the server refuses (401)
d["caps"] = []; d["sts"] = {}
json.dump(d, open(p, "w"))
EOF
expect_rc refused_session_renewed 0 ak --profile agent cred get openrouter
[ "$(cat "$work/out")" = "$SECRET" ] && pass refused_session_value || fail refused_session_value

# ---- run
expect_rc run_exit_code 3 ak --profile agent run --env OR=cred:openrouter --env NOTE=mem:notes -- \
  sh -c 'echo "key=$OR"; echo "note=$NOTE" >&2; exit 3'
[ "$(cat "$work/out")" = "key=****" ] && [ "$(cat "$work/err")" = "note=****" ] && pass run_masks_stdout_stderr \
  || fail "run_masks_stdout_stderr ($(cat "$work/out") / $(cat "$work/err"))"
# the value written in two pieces, with a pause between the writes: still one mask
expect_rc run_split_value 0 ak --profile agent run --env OR=cred:openrouter -- \
  sh -c 'h=${OR%??????}; printf "[%s" "$h"; sleep 0.3; printf "%s]\n" "${OR#"$h"}"'
[ "$(cat "$work/out")" = "[****]" ] && pass run_masks_across_reads || fail "run_masks_across_reads ($(cat "$work/out"))"
expect_rc run_no_masking 0 ak --profile agent run --no-masking --env OR=cred:openrouter -- sh -c 'echo "$OR"'
[ "$(cat "$work/out")" = "$SECRET" ] && pass run_no_masking_value || fail run_no_masking_value
expect_rc run_env_only_in_child 0 ak --profile agent run --env OR=cred:openrouter -- sh -c 'test -n "$OR"'
expect_rc run_signal_128_plus 137 ak --profile agent run --env OR=cred:openrouter -- sh -c 'kill -KILL $$'
expect_rc run_missing_value_nothing_runs 4 ak --profile agent run --env X=cred:github -- sh -c "touch $work/ran"
[ ! -e "$work/ran" ] && pass run_nothing_ran || fail run_nothing_ran
expect_rc run_bad_spec 2 ak --profile agent run --env OR=vault:x -- true

# ---- aws-creds as credential_process
expect_rc aws_creds_json 0 ak --profile agent aws-creds --class credentials
grep -q '"Version":1' "$work/out" && grep -q '"Expiration":"20[0-9-]*T[0-9:]*Z"' "$work/out" \
  && pass aws_creds_document || fail "aws_creds_document ($(head -c 80 "$work/out"))"
expect_rc aws_creds_bad_class 2 ak --profile agent aws-creds --class vault
cat >"$work/aws.config" <<EOF
[profile agentkeys-agent]
region = ${AWS_REGION:-us-east-1}
credential_process = $AK --profile agent aws-creds --class credentials
EOF
awsq() { AWS_CONFIG_FILE=$work/aws.config AWS_SHARED_CREDENTIALS_FILE=/dev/null /usr/bin/aws --profile agentkeys-agent \
  --endpoint-url "$AK_S3_ENDPOINT" "$@"; }
if awsq s3api list-objects-v2 --bucket "$AK_VAULT_BUCKET" --prefix "bots/$AG_HEX/credentials/" \
  --query 'Contents[].Key' --output text >"$work/out" 2>"$work/err" && grep -q "bots/$AG_HEX/credentials/openrouter.enc" "$work/out"; then
  pass aws_cli_credential_process_lists_own_prefix
else fail "aws_cli_credential_process_lists_own_prefix ($(head -c 300 "$work/err"))"; fi
# (botocore cannot parse RGW's AccessDenied body for a session-tag denial and exits with a
# Python error, see broker_test.sh; --debug shows the S3 answer it got.)
if awsq --debug s3api list-objects-v2 --bucket "$AK_VAULT_BUCKET" --prefix "bots/$OT_HEX/credentials/" >"$work/out" 2>"$work/err"; then
  fail aws_cli_other_agent_prefix_denied
else grep -q "<Code>AccessDenied</Code>" "$work/err" && pass aws_cli_other_agent_prefix_denied \
  || fail "aws_cli_other_agent_prefix_denied ($(grep -v DEBUG "$work/err" | head -c 300))"; fi

# ---- revoked agent
expect_rc rev_login 0 ak --profile rev login
printf 'x1' | ak --profile rev cred put openrouter >/dev/null 2>&1
expect_rc operator_agent_revoke 0 ak --profile master agent revoke "$REV_ADDR"
expect_rc revoked_cached_session_refused 3 ak --profile rev cred get openrouter
grep -q device_revoked "$work/err" && pass revoked_reason_cap || fail "revoked_reason_cap ($(cat "$work/err"))"
expect_rc revoked_login_refused 3 ak --profile rev --json login
grep -q '"reason":"device_revoked"' "$work/out" && pass revoked_reason_login_json || fail "revoked_reason_login_json ($(cat "$work/out"))"

# ---- other agent cannot read ours (its own cred of the same name is separate)
expect_rc other_agent_get_absent 4 ak --profile other cred get openrouter

# ---- doctor, logout
expect_rc doctor 0 ak --profile agent doctor
grep -q "^ok *api" "$work/out" && grep -q "^ok *registry" "$work/out" && pass doctor_checks || fail "doctor_checks ($(cat "$work/out"))"
expect_rc logout 0 ak --profile agent logout
[ ! -e "$cache" ] && pass logout_removes_cache || fail logout_removes_cache

# ---- no value on disk (config, cache) or in the stack's logs
if grep -rqF -e "$SECRET" -e "$MEMVAL" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$L/logs" 2>/dev/null; then
  fail no_value_on_disk_or_in_logs
else pass no_value_on_disk_or_in_logs; fi

[ "$fails" = 0 ] || { echo "cli_test: $fails failure(s)"; exit 1; }
echo "cli_test: all passed"
