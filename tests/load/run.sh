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
# The whole vault bucket as its owner sees it: every key must be one the agents stored
# (bots/<actor>/credentials/load<n>.enc, each already fetched and opened above), and no
# multipart upload may be left unfinished. Anything else is a half-written object.
if [ "$rc" != 2 ]; then
  scan=$(timeout -k 5 120 python3 - "$L/load/agents" "${AK_VAULT_BUCKET:-ak-vault}" <<'PY'
import os, re, sys
import boto3
from botocore.config import Config
actors = {l.split()[2] for l in open(sys.argv[1]) if l.strip()}
s3 = boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name=os.environ.get("AWS_REGION", "us-east-1"),
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
n, bad = 0, []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]):
    for o in page.get("Contents", []):
        n += 1
        m = re.fullmatch(r"bots/([0-9a-f]{64})/credentials/load[0-7]\.enc", o["Key"])
        if not m or m.group(1) not in actors or o["Size"] == 0:
            bad.append(f'{o["Key"]} ({o["Size"]} bytes)')
mp = s3.list_multipart_uploads(Bucket=sys.argv[2]).get("Uploads", [])
print(f"bucket {sys.argv[2]}: {n} objects, {len(bad)} not an agent's stored name or empty, {len(mp)} unfinished multipart uploads")
for b in bad[:20]: print("  unexpected:", b)
for u in mp[:20]: print("  unfinished upload:", u["Key"])
sys.exit(1 if bad or mp else 0)
PY
  ); src=$?
  echo "$scan"
  if [ "$src" = 1 ] && [ "$rc" = 0 ]; then rc=1; elif [ "$src" != 0 ] && [ "$src" != 1 ]; then echo "load: bucket scan failed ($src)" >&2; rc=2; fi
fi
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
