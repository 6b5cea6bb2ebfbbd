#!/bin/bash
# tests/bench/run.sh — `make bench`: runs every benchmark and prints figures. Never fails on a
# figure or on a missing peer: what cannot run prints "skipped: why".
#   1. each standalone program build/release/bench/*_bench (from tests/bench/*_bench.c), except
#      cold_start.sh's helpers (invoke_bench, the Invoke API client; noop_runtime_bench and
#      rapi_floor_bench, two of its peers) and programs that have a driver script
#      tests/bench/<name>.sh
#   2. each tests/bench/*.sh benchmark script (cold_start.sh: ours vs Node vs C++ on ak-emulator)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ran=0
for b in "$ROOT"/build/release/bench/*_bench; do
    [ -x "$b" ] || continue
    # Peer programs of cold_start.sh, not benchmarks of their own.
    case "$(basename "$b")" in invoke_bench|noop_runtime_bench|rapi_floor_bench) continue;; esac
    # A program with a driver script (tests/bench/<name>.sh) is run by that script below.
    [ -e "$ROOT/tests/bench/$(basename "$b").sh" ] && continue
    echo "== $(basename "$b")"
    "$b"
    rc=$?
    [ "$rc" = 0 ] || echo "  $(basename "$b"): exited with status $rc (figures above may be partial)"
    ran=1
done
for s in "$ROOT"/tests/bench/*.sh; do
    case "$(basename "$s")" in run.sh|build-cpp-peer.sh) continue;; esac
    echo "== $(basename "$s" .sh)"
    "$s"
    rc=$?
    [ "$rc" = 0 ] || echo "  $(basename "$s"): exited with status $rc"
    ran=1
done
[ "$ran" = 1 ] || echo "no benchmarks found"
exit 0
