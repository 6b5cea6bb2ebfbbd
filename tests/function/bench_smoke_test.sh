#!/usr/bin/env bash
# tests/function/bench_smoke_test.sh — the benchmark machinery runs (no figure is judged, no
# timing asserted): tests/bench/cold_start.sh with tiny counts prints a row per built peer with a
# callgrind instruction count and a strace syscall count, and the pairs table; scripts/readme-
# measured replaces exactly the text between the README markers and refuses, changing nothing, a
# file that is not `make bench` output, a README without one marker pair, a missing file.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- cold_start.sh, tiny (node and the C++ peers left out: they need npm deps and a cmake build)
out=$(BENCH_LAMBDA_OUT=$work/lambda BENCH_NODE=0 BENCH_CPP=0 BENCH_COLD=2 BENCH_ROUNDS=2 BENCH_COUNT=10 BENCH_CG_COUNT=3 BENCH_ST_COUNT=3 \
    timeout -k 5 240 tests/bench/cold_start.sh 2>&1)
# without valgrind or strace (scripts/bootstrap installs both) the column must say so instead
cgre='^[0-9][0-9,]*$'; command -v valgrind > /dev/null || cgre='^n/a [(]no valgrind[)]$'
stre='^[0-9]+[.][0-9]+$'; command -v strace > /dev/null || stre='^n/a [(]no strace[)]$'
for p in ours-noop floor ours-health; do
    row=$(grep "^| $p | \`build/release/" <<<"$out")
    # columns: peer, binary, cold, invokes/s, latency, instructions, syscalls, RSS
    if [ -n "$row" ] && awk -F' \\| ' -v c="$cgre" -v s="$stre" '{exit !($6 ~ c && $7 ~ s)}' <<<"$row"; then
        pass "cold_start row $p (binary, instructions, syscalls)"
    else
        fail "cold_start row $p"; sed 's/^/    /' <<<"$out" | tail -20
    fi
done
grep -q '^| ours-noop / floor | [0-9.]*× | [0-9.]*× | [0-9.]*× | [0-9.]*× |$' <<<"$out" \
    && pass "cold_start pair ratios ours-noop / floor" || fail "cold_start pair ratios ours-noop / floor"
grep -q 'cpp-static: skipped: BENCH_CPP=0' <<<"$out" && pass "a left-out peer says why" || fail "a left-out peer says why"

# ---- scripts/readme-measured
printf '# T\n\n## Measured\n\nintro\n\n<!-- measured:begin x -->\nold 1\nold 2\n<!-- measured:end -->\n\nafter\n' > "$work/README.md"
printf 'Machine: test CPU, 2 cores; 2026-01-01 UTC\n\n| a | b |\n|---|---|\n| 1 | 2 |\n' > "$work/m.md"
if README=$work/README.md scripts/readme-measured --note "busy" "$work/m.md" > /dev/null 2>&1 &&
    [ "$(cat "$work/README.md")" = "$(printf '# T\n\n## Measured\n\nintro\n\n<!-- measured:begin x -->\nbusy\n\nMachine: test CPU, 2 cores; 2026-01-01 UTC\n\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- measured:end -->\n\nafter')" ]; then
    pass "readme-measured replaces only the marked section"
else
    fail "readme-measured replaces only the marked section"; sed 's/^/    /' "$work/README.md"
fi
cp "$work/README.md" "$work/before"
# refuse NAME FILE [README]: exit non-zero and the README unchanged
refuse() {
    if README=${3:-$work/README.md} scripts/readme-measured "$2" > /dev/null 2>&1; then fail "$1 (accepted)"
    elif ! cmp -s "$work/before" "$work/README.md"; then fail "$1 (README changed)"
    else pass "$1"; fi
}
printf 'no machine line\n' > "$work/bad.md"
refuse "readme-measured refuses a file that is not make bench output" "$work/bad.md"
refuse "readme-measured refuses a missing file" "$work/none.md"
: > "$work/empty.md"; refuse "readme-measured refuses an empty file" "$work/empty.md"
printf '# T\nno markers\n' > "$work/R2.md"; cp "$work/R2.md" "$work/R2.before"
if README=$work/R2.md scripts/readme-measured "$work/m.md" > /dev/null 2>&1 || ! cmp -s "$work/R2.md" "$work/R2.before"; then
    fail "readme-measured refuses a README without markers"; else pass "readme-measured refuses a README without markers"; fi
printf '<!-- measured:begin -->\n<!-- measured:end -->\n<!-- measured:begin -->\n<!-- measured:end -->\n' > "$work/R3.md"
README=$work/R3.md scripts/readme-measured "$work/m.md" > /dev/null 2>&1 \
    && fail "readme-measured refuses two marker pairs" || pass "readme-measured refuses two marker pairs"
[ "$(grep -c '^<!-- measured:begin' README.md)" = 1 ] && [ "$(grep -c '^<!-- measured:end' README.md)" = 1 ] \
    && pass "README.md has one marker pair" || fail "README.md has one marker pair"
[ "$fails" = 0 ]
