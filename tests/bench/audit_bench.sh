#!/usr/bin/env bash
# tests/bench/audit_bench.sh — issue 9 figures: Merkle build over 1M leaves in memory, and the
# audit flush's throughput (events/s) on the local S3 (a throw-away Ceph radosgw: own data dir,
# random ports). Prints figures; asserts no timing.
#
#   tests/bench/audit_bench.sh                 merkle 1M + flush 10k (+ 100k when SIZES says so)
#   SIZES="10000 100000" tests/bench/audit_bench.sh
#   MERKLE=100000 tests/bench/audit_bench.sh     (fewer leaves; make bench's BENCH_QUICK=1)
#   AK_AUDIT_FLUSH_LANES=16 AK_AUDIT_BATCH_MAX=4096 tests/bench/audit_bench.sh
#
# The flush is the library call AuditFlushFunction makes (ak_audit_flush over AK_AUDIT_FLUSH_LANES
# S3 clients), run in-process so Lambda emulation is not in the figure; per event it does one GET
# and one index PUT, per batch one PUT, a DeleteObjects per 1000 events and two lease PUTs.
set -u
cd "$(dirname "$0")/../.."
SIZES=${SIZES:-10000}
BIN=build/release/bench/audit_bench
[ -x "$BIN" ] || make -s "$BIN" >/dev/null || { echo "audit_bench: build failed"; exit 1; }
PY=/usr/bin/python3
work=$(mktemp -d /tmp/ak-audit-bench.XXXXXX)
cleanup() { AK_CEPH_DIR=$work/ceph scripts/ceph-down >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT

"$BIN" merkle "${MERKLE:-1000000}"

AK_CEPH_DIR=$work/ceph AK_RGW_PORT=auto \
    scripts/ceph-up > "$work/ceph-up.log" 2>&1 \
    || { cat "$work/ceph-up.log"; echo "audit_bench: ceph-up failed"; exit 1; }
# shellcheck disable=SC1091
source "$work/ceph/env"
export AK_AUDIT_BUCKET=ak-audit-bench
for n in $SIZES; do
    "$BIN" flush "$n" || echo "audit_bench: flush $n reported an error"
done
echo "(machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
