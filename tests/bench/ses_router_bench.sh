#!/usr/bin/env bash
# tests/bench/ses_router_bench.sh — messages routed per second by SesRouterFunction's bootstrap on
# the local S3 (Ceph radosgw, own data dir, random ports). Prints figures; asserts no timing.
#
#   N=500 tests/bench/ses_router_bench.sh
#   BOOTSTRAP=build/dev/functions/ses-router/bootstrap tests/bench/ses_router_bench.sh
#
# Each message is one event (one record) with one recipient; half go to a 64-hex recipient
# (HEAD + CopyObject + DeleteObject = 3 S3 requests), half to an alias (+ 1 GET = 4 requests).
# One bootstrap process handles every event in turn (a warm Lambda sandbox), fed by the fake
# Runtime API in tests/function/lib (python; its per-invocation cost is included). The rate is
# measured between the first and the last answer, so process start and Ceph start are excluded.
set -u
cd "$(dirname "$0")/../.."
N=${N:-300}
if [ -z "${BOOTSTRAP:-}" ]; then
    BOOTSTRAP=build/release/ses-router/bootstrap
    [ -x "$BOOTSTRAP" ] || BOOTSTRAP=build/dev/functions/ses-router/bootstrap
fi
PY=/usr/bin/python3
LIB=tests/function/lib
BUCKET=ak-mail-bench
[ -x "$BOOTSTRAP" ] || { echo "ses_router_bench: $BOOTSTRAP not built"; exit 1; }
work=$(mktemp -d /tmp/ak-ses-router-bench.XXXXXX)
fake_pid=""; boot_pid=""
cleanup() {
    [ -n "$boot_pid" ] && kill "$boot_pid" 2>/dev/null
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
    AK_CEPH_DIR=$work/ceph scripts/ceph-down >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
AK_CEPH_DIR=$work/ceph AK_RGW_PORT=auto \
    scripts/ceph-up > "$work/ceph-up.log" 2>&1 \
    || { cat "$work/ceph-up.log"; echo "ses_router_bench: ceph-up failed"; exit 1; }
# shellcheck disable=SC1091
source "$work/ceph/env"
export AK_MAIL_BUCKET=$BUCKET

# Bucket, alias, N staged messages (~2 KB each) and N events, from one python process.
"$PY" - "$work" "$N" "$BUCKET" <<'PYEOF'
import copy, json, os, sys
import boto3
from botocore.config import Config
work, n, bucket = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s3 = boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket=bucket)
A = "3f1c9a7e52b04d8e9a61c07f2e5d3b8a4c6e0f1a2b3c4d5e6f708192a3b4c5d6"
B = "7d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e"
s3.put_object(Bucket=bucket, Key="aliases/agent-b@mail.example.com", Body=B.encode())
base = json.load(open("events/ses-routed.json"))
os.makedirs(work + "/ev")
body = ("From: bench <b@example.org>\r\nSubject: bench\r\n\r\n" + "x" * 2000 + "\r\n").encode()
for i in range(n):
    mid = "bench%08d" % i
    s3.put_object(Bucket=bucket, Key="inbound/" + mid, Body=body)
    e = copy.deepcopy(base)
    e["Records"][0]["ses"]["mail"]["messageId"] = mid
    e["Records"][0]["ses"]["receipt"]["recipients"] = [(A + "@mail.example.com") if i % 2 == 0 else "agent-b@mail.example.com"]
    with open("%s/ev/%08d.json" % (work, i), "w") as f:
        json.dump(e, f)
PYEOF

rm -f "$work/port"
"$PY" $LIB/fake_rapi.py "$work/port" "$work/posts" --fn SesRouterFunction "$work"/ev/*.json &
fake_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$work/port")" AK_LOG_LEVEL=warn "$BOOTSTRAP" > "$work/log" 2>&1 &
boot_pid=$!
wait "$fake_pid"; fake_pid=""
for _ in $(seq 200); do kill -0 "$boot_pid" 2>/dev/null || break; sleep 0.05; done
kill "$boot_pid" 2>/dev/null; boot_pid=""

"$PY" - "$work/posts" "$N" "$BOOTSTRAP" <<'PYEOF'
import json, sys
p = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
ok = sum(1 for x in p if x["path"].endswith("/response") and json.loads(x["body"])["copied"] == 1)
t = [x["t"] for x in p]
dt = t[-1] - t[0]
rate = (len(p) - 1) / dt if dt > 0 else float("nan")
print("ses_router_bench: bootstrap %s" % sys.argv[3])
print("ses_router_bench: %d events, %d routed ok, %d errors" % (len(p), ok, len(p) - ok))
print("ses_router_bench: %.1f messages/s (%.2f ms/message, 3.5 S3 requests/message avg, incl. fake Runtime API)" % (rate, 1000.0 / rate))
sys.exit(0 if ok == n else 1)
PYEOF
