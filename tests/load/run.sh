#!/usr/bin/env bash
# tests/load/run.sh — load and fault figures on a private local stack (issue 16; `make load`).
# Starts its own stack (scripts/stack-up in a fresh AK_LOCAL_DIR, stopped on exit), registers
# LOAD_AGENTS agents in bulk, then runs build/release/bin/ak-load with tests/load/fault as the
# fault hook and prints its table. Figures only: the exit status is ak-load's (1 = something
# lost, half-written or read wrong; 2 = the harness broke), never about time.
#   LOAD_AGENTS (300)  LOAD_THREADS (16)  LOAD_PHASE_SECONDS (20)  LOAD_NAMES (3)
#   LOAD_PHASES (steady,signer,s3,chain,fnkill,epoch,after)   LOAD_OPS (0 = phases end by time)
#   LOAD_CHAIN_HOLD (20) seconds anvil stays stopped (longer than the functions' 15 s timeout)
#   LOAD_EXTRA_ACTORS (0) more actors in the local IAM policy (what its size costs)
#   LOAD_OUT=FILE      also write the table there          KEEP=1 keeps the stack's directory
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
: "${LOAD_AGENTS:=300}" "${LOAD_THREADS:=16}" "${LOAD_PHASE_SECONDS:=20}"
: "${LOAD_PHASES:=steady,signer,s3,chain,fnkill,epoch,after}"
export LOAD_CHAIN_HOLD=${LOAD_CHAIN_HOLD:-20}
export LOAD_AGENTS LOAD_THREADS LOAD_PHASE_SECONDS LOAD_PHASES
BIN=$top/build/release/bin/ak-load
[ -x "$BIN" ] || { echo "load: $BIN missing: make release" >&2; exit 2; }
L=$(mktemp -d "${TMPDIR:-/tmp}/ak-load.XXXXXX")
export AK_LOCAL_DIR=$L
cleanup() {
  [ -f "$L/load/anvil.stopped" ] && kill -CONT "$(cat "$L/load/anvil.stopped")" 2>/dev/null
  AK_LOCAL_DIR=$L "$top/scripts/stack-down" >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then echo "load: kept $L" >&2; else rm -rf "$L"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$(date +%s)
echo "load: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start (other work on this machine shows in the figures)"
"$top/scripts/stack-up" > "$L/stack-up.out" 2>&1 || { cat "$L/stack-up.out" >&2; echo "load: stack-up failed" >&2; exit 2; }
# shellcheck disable=SC1091
. "$L/stack.env"
mkdir -p "$L/load"
timeout -k 5 $(( 120 + LOAD_AGENTS * 2 )) "$BIN" register "$LOAD_AGENTS" "$L/load/agents" \
  || { echo "load: registration failed" >&2; exit 2; }
# LOAD_EXTRA_ACTORS=N also allows N random actors nobody uses: the local IAM stand-in has one
# policy statement per actor, so this shows what the policy's size costs radosgw.
extra=$(for _ in $(seq "${LOAD_EXTRA_ACTORS:-0}"); do od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; echo; done)
mapfile -t actors < <(awk '{print $3}' "$L/load/agents"; [ -n "$extra" ] && printf '%s\n' "$extra")
timeout -k 5 300 "$top/scripts/local-iam" allow-actor "${actors[@]}" > "$L/logs/local-iam-load.log" 2>&1 \
  || { cat "$L/logs/local-iam-load.log" >&2; echo "load: local-iam allow-actor failed" >&2; exit 2; }
nph=$(tr ',' '\n' <<<"$LOAD_PHASES" | grep -c .)
cap=$(( nph * (LOAD_PHASE_SECONDS + 120) + 300 + LOAD_AGENTS ))
LOAD_HOOK=$top/tests/load/fault timeout -k 10 "$cap" "$BIN" run "$L/load/agents" > "$L/load/out" 2> "$L/load/err"
rc=$?
cat "$L/load/out"
[ "$rc" = 124 ] && echo "load: ak-load did not finish within ${cap}s (harness failure)" >&2 && rc=2
if [ "$rc" != 0 ]; then echo "--- ak-load stderr (last 40 lines)"; tail -n 40 "$L/load/err"; fi
grep -E '^fault: ' "$L/load/err" || true
[ -n "${LOAD_OUT:-}" ] && cp "$L/load/out" "$LOAD_OUT"
# LOAD_CONTROL=1: the checker's negative control on 4 more agents of the same stack: one
# acknowledged object deleted and one overwritten with junk (LOAD_INJECT) must be reported as
# lost 1 and half-written 1, with exit status 1.
if [ "${LOAD_CONTROL:-0}" = 1 ] && [ "$rc" != 2 ]; then
  crc=0
  timeout -k 5 120 "$BIN" register 4 "$L/load/control" >/dev/null \
    && mapfile -t cactors < <(awk '{print $3}' "$L/load/control") \
    && timeout -k 5 300 "$top/scripts/local-iam" allow-actor "${cactors[@]}" >/dev/null 2>&1 \
    || crc=2
  if [ "$crc" = 0 ]; then
    LOAD_PHASES=steady LOAD_PHASE_SECONDS=3 LOAD_THREADS=4 LOAD_INJECT=1 LOAD_HOOK='' \
      timeout -k 10 300 "$BIN" run "$L/load/control" > "$L/load/control.out" 2> "$L/load/control.err" || crc=$?
  fi
  grep -E '^(ak-load: injected|lost )' "$L/load/control.out" | sed 's/^/control: /'
  echo "control: exit $crc"
fi
echo "load: ${LOAD_AGENTS} agents, ${LOAD_THREADS} in flight, total $(( $(date +%s) - t0 )) s, load average $(cut -d' ' -f1-3 /proc/loadavg) at end; exit $rc"
exit "$rc"
