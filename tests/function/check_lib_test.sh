#!/usr/bin/env bash
# tests/function/check_lib_test.sh — tests/lib/check.sh, the PASS/FAIL helpers every shell test
# sources: each helper passes what it should and fails what it should (a FAIL line, the count, a
# non-zero exit from check_done), so a test built on them can fail. The checks here print their
# own lines (not through the helpers under test).
set -u
cd "$(dirname "$0")/../.."
bad=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# t NAME WANT_EXIT WANT_OUTPUT SCRIPT: SCRIPT run by bash after sourcing check.sh must exit
# WANT_EXIT and print exactly WANT_OUTPUT.
t() {
    local out rc
    out=$(bash -c ". tests/lib/check.sh; $4" 2>&1); rc=$?
    if [ "$rc" = "$2" ] && [ "$out" = "$3" ]; then echo "PASS $1"; else
        echo "FAIL $1 (exit $rc, want $2)"; diff <(printf '%s\n' "$3") <(printf '%s\n' "$out") | sed 's/^/    /'
        bad=$((bad + 1))
    fi
}

t pass_line_counted 0 "PASS a
0 1" 'pass a; echo $fails $passes'
t fail_line_counts 0 "FAIL a
FAIL b (why)
2" 'fail a; fail b why; echo $fails'
t die_exits_1 1 "FAIL setup" 'die setup; echo not reached'
t check_equal_passes 0 "PASS eq" 'check eq x x'
t check_differs_fails 0 "FAIL ne (got 'x', want 'y')
1" "check ne x y; echo \$fails"
t check_cmd_true_passes 0 "PASS c" 'check_cmd c test 1 = 1'
t check_cmd_false_fails 0 "FAIL c
1" 'check_cmd c test 1 = 2; echo $fails'
t check_reply_status_and_reason 0 "PASS r" "check_reply r 403 role_not_allowed '403 {\"reason\":\"role_not_allowed\"}'"
t check_reply_any_reason 0 "PASS r" "check_reply r 200 '' '200 {}'"
t check_reply_wrong_reason_fails 0 "FAIL r (got 403 other, want 403 role_not_allowed)" \
    "check_reply r 403 role_not_allowed '403 {\"reason\":\"other\"}'"
t check_reply_wrong_status_fails 0 "FAIL r (got 500 oops, want 200 )" "check_reply r 200 '' '500 oops'"
printf '{"s":"text","n":2,"b":true,"o":{"k":1}}' > "$work/j.json"
t jget_file_string_and_json 0 'text 2 true {"k": 1}' \
    "echo \$(jget $work/j.json s) \$(jget $work/j.json n) \$(jget $work/j.json b) \$(jget $work/j.json o)"
t jget_stdin 0 "text text" "echo \$(jget - s <$work/j.json) \$(jget s <$work/j.json)"
t jget_absent_fails 0 "3" "jget $work/j.json nope; echo \$?"
t jget_not_json_fails 0 "refused" "echo 'not json' | jget s >/dev/null || echo refused"
t check_done_all_passed 0 "PASS a
x: all passed" 'pass a; check_done x'
t check_done_failed_exits_1 1 "FAIL a
x: 1 failed" 'fail a; check_done x'
t check_done_no_label 1 "FAIL a" 'fail a; check_done'

[ "$bad" -eq 0 ] && echo "check_lib: all passed" || echo "check_lib: $bad failed"
exit $((bad > 0))
