#!/usr/bin/env bash
# tests/run-all.sh — the body of `make test` (after the build): every suite, one summary.
#
# Suites, in order: unit (build/dev/tests/*_test, ASan/UBSan, cmocka), function
# (tests/function/*_test.sh), contracts (contracts/test.sh: forge), end-to-end
# (tests/e2e/*_test.sh, on the local stack with the release binaries), fuzz smoke
# (each libFuzzer target briefly), lint. Each suite runs under a time cap so a hang fails
# instead of stalling CI. Logs: build/test-logs/<suite>.log. Exit status: 0 only if all pass.
#
# Select suites with AK_TEST_ONLY="unit e2e" (space-separated kinds) or one file with AK_TEST_MATCH=regex.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logs=build/test-logs
rm -rf "$logs"; mkdir -p "$logs"
only=${AK_TEST_ONLY:-"unit function contracts e2e fuzz lint"}
match=${AK_TEST_MATCH:-.}
passed=0; failed=0; failures=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Every curl a test script runs reads tests/lib/curl/.curlrc: connect and total time caps, so a
# server that accepts and never answers fails that one request instead of the whole suite's clock.
export CURL_HOME=$top/tests/lib/curl
# Python's output reaches the log line by line, so a suite stopped by its cap shows how far it got.
export PYTHONUNBUFFERED=1

run() { # run KIND NAME CAP_SECONDS CMD...
  local kind=$1 name=$2 cap=$3; shift 3
  case " $only " in *" $kind "*) ;; *) return 0 ;; esac
  [[ "$name" =~ $match ]] || return 0
  local log="$logs/$kind-$(basename "$name").log" t0=$SECONDS rc
  timeout --kill-after=10 "$cap" "$@" > "$log" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed+1)); printf 'PASS %-8s %-40s %4ss\n' "$kind" "$name" $((SECONDS-t0))
  else
    failed=$((failed+1)); failures+=("$log")
    printf 'FAIL %-8s %-40s %4ss (exit %d%s) log: %s\n' "$kind" "$name" $((SECONDS-t0)) $rc \
      "$([ $rc -eq 124 ] && echo ', timed out')" "$log"
    tail -n 25 "$log" | sed 's/^/    | /'
  fi
}

for t in build/dev/tests/*_test; do [ -x "$t" ] && run unit "$(basename "$t")" 300 "$t"; done
for t in tests/function/*_test.sh; do [ -x "$t" ] && run function "$(basename "$t")" 600 "$t"; done
[ -x contracts/test.sh ] && run contracts forge 900 contracts/test.sh
for t in tests/e2e/*_test.sh; do [ -x "$t" ] && run e2e "$(basename "$t")" 480 "$t"; done
# fuzz smoke: every target for 3 s, one per core at a time (`make fuzz` runs FUZZ_SECONDS, default 60, each)
[ -x tests/fuzz/run.sh ] && run fuzz smoke 600 tests/fuzz/run.sh "${AK_FUZZ_SMOKE_SECONDS:-3}"
[ -x scripts/lint.sh ] && run lint lint 300 scripts/lint.sh

echo
echo "suites: $passed passed, $failed failed"
if [ $failed -ne 0 ]; then printf 'failed log: %s\n' "${failures[@]}"; exit 1; fi
exit 0
