#!/bin/bash
# tests/bench/run.sh — `make bench`: runs every benchmark, prints the figures as markdown and
# writes the same text to build/bench/measured.md, which scripts/readme-measured puts into the
# README's "Measured" section. Never fails on a figure or a missing peer: what cannot run says
# "skipped: why". Every comparison inside is interleaved (A B A B …) with medians and ratios per
# pair; each row names its binary.
#   1. tests/bench/cold_start.sh     the Lambda runtime against aws-lambda-cpp (static, dynamic),
#                                    Node aws-lambda-ric and the raw-socket floor
#   2. tests/bench/worker_bench.sh   CredFetch/CredStore on the local stack, 8 concurrent clients;
#                                    callgrind and strace per warm request
#   3. build/release/bench/crypto_bench   our crypto calls against the raw library calls
#   4. tests/bench/signer_bench.sh, audit_bench.sh, ses_router_bench.sh   (their own text output)
# A new benchmark: one `section` line below (nothing runs a program by globbing).
# BENCH_QUICK=1: reduced counts everywhere (about 3.5 minutes on the busy 2-core dev machine;
# the full counts about 7);
# BENCH_ONLY="cold_start worker_bench …" runs only those sections. Each section is time-capped.
# measured.md: the machine line, the issue 19 targets beside this run's figures (printed last on
# stdout, as they are known only then), every section, the run's duration and load.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=build/bench
mkdir -p "$OUT"
QUICK=${BENCH_QUICK:-0}
CAP=$([ "$QUICK" = 1 ] && echo 300 || echo 900)
BODY=$OUT/measured.body
: > "$BODY"
rm -f "$OUT/figures.tsv" # the sections append "name<TAB>value" lines for the summary below
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
head_line="Machine: ${cpu:-unknown CPU}, $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r); $(date -u '+%Y-%m-%d %H:%M') UTC; commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)'); $([ "$QUICK" = 1 ] && echo 'BENCH_QUICK=1 (reduced counts)' || echo 'full counts'); load average at start $LOAD0${BENCH_ONLY:+; only the sections $BENCH_ONLY}."
echo "$head_line"

want() { [ -z "${BENCH_ONLY:-}" ] || grep -qw -- "$1" <<<"$BENCH_ONLY"; }
# section NAME FENCE CMD...: runs one benchmark under the time cap; FENCE=1 wraps its plain-text
# output in a code block under a heading.
section() {
    local name=$1 fence=$2; shift 2
    want "$name" || return 0
    local t=$(date +%s)
    {
        echo
        [ "$fence" = 1 ] && printf '### %s\n\n```text\n' "$name"
        # (log lines of the library under test are not figures)
        timeout -k 10 "$CAP" "$@" 2>&1 | grep -v '^{"ts":'
        rc=${PIPESTATUS[0]}
        [ "$rc" = 124 ] && echo "$name: stopped after the ${CAP} s cap (figures above may be partial)"
        [ "$rc" != 0 ] && [ "$rc" != 124 ] && echo "$name: exited with status $rc (figures above may be partial)"
        [ "$fence" = 1 ] && printf '```\n'
    } | tee -a "$BODY"
    echo "($name: $(( $(date +%s) - t )) s)" >&2
}
if [ "$QUICK" = 1 ]; then
    export N=${N:-500} SIZES=${SIZES:-2000} MERKLE=${MERKLE:-100000}
fi
section cold_start 0 tests/bench/cold_start.sh
section worker_bench 0 tests/bench/worker_bench.sh
want crypto_bench && { echo; echo "### Crypto: our calls against the raw library calls"; } | tee -a "$BODY"
section crypto_bench 0 build/release/bench/crypto_bench
section signer_bench 1 tests/bench/signer_bench.sh
section audit_bench 1 tests/bench/audit_bench.sh
section ses_router_bench 1 env N="$([ "$QUICK" = 1 ] && echo 100 || echo 300)" tests/bench/ses_router_bench.sh
# The issue 19 targets beside what this run measured (figures, not pass/fail).
/usr/bin/python3 - "$OUT/figures.tsv" > "$OUT/summary.md" <<'PY'
import os, sys
f = {}
if os.path.exists(sys.argv[1]):
    for line in open(sys.argv[1]):
        k, _, v = line.rstrip("\n").partition("\t"); f[k] = v
g = lambda k, fmt="{}": fmt.format(f[k]) if k in f else "not measured"
def instr():
    if "worker fetch instructions" not in f: return "not measured"
    n = int(f["worker fetch instructions"]); return f"{n / 1e6:.2f}M = {n / 13.8e6:.2f}× of 13.8M"
rows = [
    ("warm `/v1/cred/fetch` p50 ≤ 12 ms, 0 errors, 8 concurrent clients", g("worker fetch p50", "{} ms") + ", errors " + g("worker fetch errors") + "; one client alone " + g("worker fetch p50 solo", "{} ms")),
    ("warm `/v1/cred/store` p50 ≤ 12 ms, 0 errors, 8 concurrent clients", g("worker store p50", "{} ms") + ", errors " + g("worker store errors") + "; one client alone " + g("worker store p50 solo", "{} ms")),
    ("worker instructions per warm fetch ≤ 1/3 of issue 19's 13.8M", instr()),
    ("runtime instructions per warm no-op invoke ≤ 2× the raw-socket floor", g("pair ours-noop/floor instructions", "{}×")),
    ("syscalls per warm invoke ≤ 5", "ours-noop " + g("ours-noop syscalls") + ", ours-health " + g("ours-health syscalls") + ", floor " + g("floor syscalls")),
    ("cold start ≤ 0.5× statically linked aws-lambda-cpp", "ours-noop " + g("pair ours-noop/cpp-static cold", "{}×") + ", ours-health " + g("pair ours-health/cpp-static cold", "{}×")),
]
print("| issue 19 target | this run |")
print("|---|---|")
for t, v in rows: print(f"| {t} | {v} |")
PY
foot="make bench took $(( $(date +%s) - T0 )) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
{ echo; echo "$foot"; } | tee -a "$BODY"
echo; cat "$OUT/summary.md"
{ echo "$head_line"; echo; cat "$OUT/summary.md"; cat "$BODY"; } > "$OUT/measured.md"
rm -f "$BODY"
echo "(written to $OUT/measured.md; scripts/readme-measured puts it into README.md)"
exit 0
