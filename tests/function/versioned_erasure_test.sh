#!/usr/bin/env bash
# tests/function/versioned_erasure_test.sh — issue 17 item 3, the lifecycle option, on Ceph with
# versioning on: the vault and memory buckets' LifecycleConfiguration, read from template.yaml
# itself, removes what teardown and lazy re-key leave behind on a versioned bucket. The worker's
# S3 calls are replayed with boto3 on an actor's key: a store (PUT), a re-key (a second PUT: a new
# version, the old-epoch one becomes noncurrent) and a teardown (DeleteObjects without a version
# id: a delete marker). Before lifecycle: 2 versions + 1 marker under the
# actor's prefix. radosgw runs with `rgw lc debug interval` (a "day" = a few seconds) and
# `radosgw-admin lc process` forces a pass; after it: zero versions and zero markers. The same
# calls on a versioned bucket WITHOUT the rule keep everything (the negative case).
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
. tests/lib/check.sh
work=$(mktemp -d /tmp/ak-erasure-test.XXXXXX)
cleanup() { AK_CEPH_DIR=$work/ceph scripts/ceph-down >/dev/null 2>&1; [ "${AK_KEEP_WORK:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

# The rules as template.yaml states them (CloudFormation's property names), with the decoder
# cfn-lint uses (scripts/cfn-lint-check finds its Python the same way).
cfn=$(command -v cfn-lint); head -c 200 "$cfn" | grep -q pyenv && cfn=$(pyenv which cfn-lint)
tpy=$(head -n1 "$cfn" | sed -n 's/^#![[:space:]]*//p'); tpy=${tpy##*/env }; tpy=${tpy%% *}
"$tpy" - template.yaml > "$work/rules.json" <<'PYEOF' || { echo "FAIL read the lifecycle rules from template.yaml"; exit 1; }
import json, sys
from cfnlint.decode import decode
t, _ = decode(sys.argv[1])
r = t["Resources"]
v, m = (r[b]["Properties"].get("LifecycleConfiguration") for b in ("VaultBucket", "MemoryBucket"))
assert r["VaultBucket"]["Properties"]["VersioningConfiguration"]["Status"] == "Enabled"
assert v == m, "vault and memory rules differ"
json.dump(json.loads(json.dumps(v)), sys.stdout)
PYEOF
pass "template: vault and memory buckets are versioned and share one lifecycle configuration"

if ! AK_CEPH_DIR=$work/ceph AK_RGW_PORT=auto AK_RGW_LC_DEBUG_INTERVAL=4 scripts/ceph-up > "$work/ceph-up.log" 2>&1; then
    tail -n 20 "$work/ceph-up.log"; echo "FAIL versioned_erasure_ceph_up"; exit 1
fi
# shellcheck disable=SC1091
source "$work/ceph/env"
grep -q '^rgw lc debug interval = 4$' "$work/ceph/ceph.conf" && pass "radosgw: lifecycle day = 4 s (test setting)" || fail "radosgw: lifecycle day = 4 s"

"$PY" - "$work/rules.json" > "$work/s3.out" 2>&1 <<'PYEOF'
import json, os, subprocess, sys, time
import boto3
from botocore.config import Config

def ok(name, cond, detail=""):
    print(("PASS " if cond else "FAIL ") + name + ("" if cond or not detail else " (" + detail + ")"))
    return cond

cfn = json.load(open(sys.argv[1]))
def s3_rule(r):  # CloudFormation's LifecycleConfiguration.Rules[] -> the S3 API's
    out = {"ID": r["Id"], "Status": r["Status"], "Filter": {"Prefix": r.get("Prefix", "")}}
    if "NoncurrentVersionExpiration" in r:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(r["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    if "NoncurrentVersionExpirationInDays" in r:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(r["NoncurrentVersionExpirationInDays"])}
    if r.get("ExpiredObjectDeleteMarker"):
        out["Expiration"] = {"ExpiredObjectDeleteMarker": True}
    if "ExpirationInDays" in r:
        out["Expiration"] = {"Days": int(r["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in r:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    return out

s3 = boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30,
                                retries={"max_attempts": 2}))
actor = "ab" * 32
key = "bots/%s/credentials/openai" % actor
prefix = "bots/%s/" % actor

def worker_calls(bucket):
    # store (epoch 1), lazy re-key (epoch 2), teardown (DeleteObjects without a version id).
    # The worker's re-key PUT carries If-Match: the ETag it read. Ceph 16 answers 412 to If-Match
    # on a versioned bucket even when the ETag matches (AWS S3 honours it), so the replay here
    # writes unconditionally: the effect on versions is the same (a new current version, the
    # old-epoch one noncurrent).
    s3.put_object(Bucket=bucket, Key=key, Body=b"\x04epoch-1-ciphertext")
    s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=b"\x04epoch-2-ciphertext")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}], "Quiet": True})

def census(bucket):
    r = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return len(r.get("Versions", [])), len(r.get("DeleteMarkers", []))

for b in ("ak-vault-lc", "ak-vault-nolc"):
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
s3.put_bucket_lifecycle_configuration(Bucket="ak-vault-lc",
                                      LifecycleConfiguration={"Rules": [s3_rule(r) for r in cfn["Rules"]]})
got = s3.get_bucket_lifecycle_configuration(Bucket="ak-vault-lc")["Rules"]
ok("the template's rules are accepted by Ceph (%d rules)" % len(got), len(got) == len(cfn["Rules"]))

worker_calls("ak-vault-lc")
worker_calls("ak-vault-nolc")
v, d = census("ak-vault-lc")
ok("after store, re-key and teardown: 2 versions and 1 delete marker remain (versioning keeps them)", (v, d) == (2, 1), "%d, %d" % (v, d))
try:
    s3.get_object(Bucket="ak-vault-lc", Key=key)
    ok("teardown hides the current object", False)
except s3.exceptions.NoSuchKey:
    ok("teardown hides the current object", True)

# Lifecycle passes: each noncurrent version expires one "day" (4 s) after it became noncurrent;
# a marker with nothing under it is removed by a later pass. Bounded: at most 12 passes.
conf = os.environ["AK_CEPH_CONF"]
for i in range(12):
    time.sleep(5)
    subprocess.run(["timeout", "60", "radosgw-admin", "-c", conf, "lc", "process"], capture_output=True)
    if census("ak-vault-lc") == (0, 0):
        break
v, d = census("ak-vault-lc")
ok("after lifecycle: 0 versions and 0 delete markers of the actor (%d passes)" % (i + 1), (v, d) == (0, 0), "%d, %d" % (v, d))
v, d = census("ak-vault-nolc")
ok("without the rule the same passes keep 2 versions and the marker (negative case)", (v, d) == (2, 1), "%d, %d" % (v, d))
PYEOF
rc=$?
grep -E '^(PASS|FAIL) ' "$work/s3.out"
fails=$((fails + $(grep -c '^FAIL ' "$work/s3.out")))
[ $rc = 0 ] || { fail "the S3 checks ran to the end"; tail -n 5 "$work/s3.out"; }
check_done versioned_erasure
