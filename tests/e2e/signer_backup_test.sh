#!/usr/bin/env bash
# tests/e2e/signer_backup_test.sh — the signer's keystore backup in S3 (issue 18 item 3) and the
# rollback guard on a restored keystore (issue 16 finding 7), against a throwaway local Ceph.
#
#   1. ak-signer --backup s3://BUCKET/signer/ (versioned bucket): one object per keystore write
#      (epoch 1 at start, epoch 2 after the advance), never overwritten, named by epoch count;
#   2. the local state is deleted; a restart restores the newest backup (one listing for restore
#      and sync) and serves the same K3
#      (same commitment, same KEK);
#   3. a prefix holding only the epoch-1 backup (a stale backup) is restored and REFUSED:
#      exit non-zero, keystore_rollback in the log, nothing listening;
#   4. a backup bucket that does not exist: with no local keystore the signer does not start;
#      with one it serves the held epochs, but the next epoch answers 503 keystore_backup_failed
#      and is not created (fail closed).
#   5. the nitro sealer (dev build, KMS stand-in): a deployment's first boot makes the data key and
#      stores it create-only as PREFIX/keystore.datakey; a fresh enclave reads it there and restores
#      the same K3; backups without their data key are refused (kms_datakey_missing); an unlistable
#      bucket fails closed without making a key; two signers racing at first boot end with one data
#      key object, the loser opening the winner's key.
# The epoch source is file: with its commitments file (what `agentkeys epoch rotate` records on
# chain). Prints PASS/FAIL lines; exit non-zero on any failure. Env: KEEP_TMP=1.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
PY=/usr/bin/python3
signer=$root/build/release/bin/ak-signer
[ -x "$signer" ] || signer=$root/build/dev/bin/ak-signer
tool=$root/build/dev/tools/signertool
for b in "$signer" "$tool"; do [ -x "$b" ] || { echo "FAIL signer_backup_setup (missing $b)"; exit 1; }; done
work=$(mktemp -d "${TMPDIR:-/tmp}/signer-backup.XXXXXX")
spid=
stop_pid() { if [ -n "${1:-}" ]; then kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; fi; }
cleanup() {
  stop_pid "$spid"
  AK_CEPH_DIR=$work/ceph scripts/ceph-down >/dev/null 2>&1
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "work dir: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
. "$root/tests/lib/check.sh"

if ! AK_CEPH_DIR=$work/ceph AK_RGW_PORT=auto timeout -k 5 240 scripts/ceph-up >"$work/ceph-up.log" 2>&1; then
  tail -n 20 "$work/ceph-up.log"; echo "FAIL signer_backup_ceph_up"; exit 1
fi
# shellcheck disable=SC1091
source "$work/ceph/env"
BUCKET=ak-signer-backup
s3py() { # python snippet with an S3 client `s3` and the bucket name `B`
  timeout -k 2 60 "$PY" -c "
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url=os.environ['AK_S3_ENDPOINT'], region_name='us-east-1',
                  config=Config(s3={'addressing_style': 'path'}, connect_timeout=5, read_timeout=30, retries={'max_attempts': 2}))
B = '$BUCKET'
$1" "${@:2}"
}
s3py "
s3.create_bucket(Bucket=B)
s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={'Status': 'Enabled'})
print(s3.get_bucket_versioning(Bucket=B).get('Status'))" >"$work/bucket.out" 2>&1
check signer_backup_bucket_versioned "$(tail -n1 "$work/bucket.out")" Enabled
list() { # PREFIX -> one key per line
  s3py "
for o in s3.list_objects_v2(Bucket=B, Prefix=sys.argv[1]).get('Contents', []): print(o['Key'])" "$1"
}

pki=$work/pki
scripts/dev-pki "$pki" >/dev/null || { echo "FAIL signer_backup_setup (dev-pki)"; exit 1; }
echo 1 >"$work/epoch"
: >"$work/epoch.commitments"
measurement=$(sha384sum "$signer" | cut -c1-96)
start_signer() { # STATE BACKUP LOG -> $spid, $port; non-zero when it did not come up
  rm -f "$work/ready"
  "$signer" --pki "$pki" --state "$1" --epoch-source "file:$work/epoch" --port 0 --ready-file "$work/ready" \
    --backup "$2" --idle-timeout-ms 5000 ${BACKUP_CONNECT:+--backup-connect "$BACKUP_CONNECT"} >>"$3" 2>&1 &
  spid=$!
  for _ in $(seq 300); do [ -s "$work/ready" ] && break; kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
  [ -s "$work/ready" ] && port=$(cat "$work/ready")
}
req() { # ROLE METHOD PATH [BODY] -> "<status> <body>"
  local out
  out=$(curl -sS --max-time 10 --cacert "$pki/ca.crt" --resolve "localhost:$port:127.0.0.1" \
    --cert "$pki/$1.crt" --key "$pki/$1.key" -X "$2" ${4:+--data-binary "$4"} -w '\n%{http_code}' \
    "https://localhost:$port$3" 2>>"$work/curl.err")
  printf '%s %s' "$(tail -n1 <<<"$out")" "$(sed '$d' <<<"$out")"
}
commit() { # EPOCH -> records the signer's commitment in the commitments file; prints it
  local r c
  r=$(req admin POST /v1/epoch/commitment "{\"epoch\":$1}"); c=$(cut -d' ' -f2- <<<"$r" | jget commitment)
  [ -n "$c" ] && echo "$1 $c" >>"$work/epoch.commitments"
  echo "$c"
}
kek() { # EPOCH -> a memory KEK of that epoch (cap minted through this signer)
  local cap
  cap=$(AK_SIGNER_URL=https://127.0.0.1:$port AK_SIGNER_CA_PEM=$pki/ca.crt AK_SIGNER_ATTEST_PUB=$pki/attest.pub \
    AK_SIGNER_MEASUREMENT=$measurement AK_SIGNER_SERVER_NAME=localhost AK_SIGNER_CLIENT_CERT=$pki/cap-mint.crt \
    AK_SIGNER_CLIENT_KEY=$pki/cap-mint.key "$tool" cap memory fetch "$OP" "$ACTOR" 5 2>>"$work/mint.err")
  req worker-memory POST /v1/kek/derive \
    "{\"data_class\":\"memory\",\"operator_omni\":\"$OP\",\"actor_omni\":\"$ACTOR\",\"epoch\":$1,\"op\":\"fetch\",\"cap\":\"$cap\"}" \
    | cut -d' ' -f2- | jget kek_b64
}
OP=$(printf 'a%.0s' $(seq 64))
ACTOR=$(printf 'b%.0s' $(seq 64))
DEST=s3://$BUCKET/signer/

# ---- 1. backups on every keystore write
start_signer "$work/state" "$DEST" "$work/s1.log" || { tail -5 "$work/s1.log"; echo "FAIL signer_backup_start"; exit 1; }
c1=$(commit 1)
check signer_backup_written_at_start "$(list signer/ | grep -c 'keystore-0000000001-')" 1
echo 2 >"$work/epoch"
c2=$(commit 2)
kek2=$(kek 2)
keys=$(list signer/)
check signer_backup_written_per_new_epoch "$(grep -c 'keystore-0000000002-' <<<"$keys") $(wc -l <<<"$keys")" "1 2"
if grep -q '"msg":"keystore backed up"' "$work/s1.log" && ! grep -qi "$c2" "$work/s1.log"; then
  pass signer_backup_logged; else fail signer_backup_logged; fi
versions=$(s3py "print(len(s3.list_object_versions(Bucket=B, Prefix='signer/').get('Versions', [])), len(s3.list_object_versions(Bucket=B, Prefix='signer/').get('DeleteMarkers', [])))")
check signer_backup_versions_no_deletes "$versions" "2 0"
# The object is the sealed file, byte for byte (nothing in clear).
s3py "s3.download_file(B, sys.argv[1], sys.argv[2])" "$(tail -n1 <<<"$keys")" "$work/newest.sealed"
check signer_backup_is_the_sealed_file "$(cmp -s "$work/newest.sealed" "$work/state/keystore.sealed" && echo same)" same
stop_pid "$spid"; spid=

# ---- 2. local state lost: restored from the newest backup, same K3
rm -rf "$work/state"
if start_signer "$work/state" "$DEST" "$work/s2.log"; then
  pass signer_backup_restart_without_local_state
  grep -q '"msg":"keystore restored from backup"' "$work/s2.log" && pass signer_backup_restored_logged || fail signer_backup_restored_logged
  check signer_backup_restored_commitment "$(req audit GET /v1/health | cut -d' ' -f2- | jget commitment)" "$c2"
  check signer_backup_restored_same_kek "$(kek 2)" "$kek2"
  check signer_backup_no_new_object_for_same_file "$(list signer/ | wc -l)" 2
  # restore and the start's sync share one listing (nothing was written in between)
  check signer_backup_restart_lists_once "$(grep -c '"msg":"keystore backups listed"' "$work/s2.log")" 1
  stop_pid "$spid"; spid=
else fail signer_backup_restart_without_local_state "$(tail -3 "$work/s2.log")"; fi

# ---- 2b. through --backup-connect (inside the enclave: vsock:3:8001, the parent's proxy; here a
# TCP target): the endpoint's host does not resolve, so the restore works only if every
# connection goes to the connect target while the request keeps the endpoint's name.
rm -rf "$work/state"
s3hostport=${AK_S3_ENDPOINT#http://}
if AK_S3_ENDPOINT=http://s3.backup.invalid:${s3hostport##*:} BACKUP_CONNECT=$s3hostport \
  start_signer "$work/state" "$DEST" "$work/s2b.log"; then
  check signer_backup_via_connect_restored "$(req audit GET /v1/health | cut -d' ' -f2- | jget commitment)" "$c2"
  stop_pid "$spid"; spid=
else fail signer_backup_via_connect_restored "$(tail -3 "$work/s2b.log")"; fi
rm -rf "$work/state"
if AK_S3_ENDPOINT=http://s3.backup.invalid:${s3hostport##*:} start_signer "$work/state" "$DEST" "$work/s2c.log"; then
  fail signer_backup_unresolvable_without_connect_refused "it started"; stop_pid "$spid"; spid=
else pass signer_backup_unresolvable_without_connect_refused; fi
rm -rf "$work/state"
start_signer "$work/state" "$DEST" "$work/s2d.log" && { stop_pid "$spid"; spid=; } # restored again for step 3

# ---- 3. a stale backup (only epoch 1) is refused, not served
first=$(list signer/ | head -n1)
s3py "s3.copy_object(Bucket=B, Key='stale/' + sys.argv[1].split('/')[-1], CopySource={'Bucket': B, 'Key': sys.argv[1]})" "$first"
rm -rf "$work/state"
if start_signer "$work/state" "s3://$BUCKET/stale" "$work/s3.log"; then
  fail signer_backup_stale_refused "it started"; stop_pid "$spid"; spid=
else
  wait "$spid" 2>/dev/null; rc=$?; spid=
  if [ "$rc" != 0 ] && grep -q '"reason":"keystore_rollback"' "$work/s3.log" && grep -q "keystore restored from backup" "$work/s3.log"; then
    pass signer_backup_stale_refused; else fail signer_backup_stale_refused "exit $rc: $(tail -2 "$work/s3.log")"; fi
fi
check signer_backup_stale_not_overwritten "$(list stale/ | wc -l)" 1

# ---- 4. the backup cannot be reached
# without a local keystore: it cannot know whether a backup exists, so it does not start
rm -rf "$work/state"
if start_signer "$work/state" "s3://ak-no-such-bucket/x" "$work/s4.log"; then
  fail signer_backup_unreachable_no_local_refused "it started"; stop_pid "$spid"; spid=
else
  wait "$spid" 2>/dev/null; rc=$?; spid=
  if [ "$rc" != 0 ] && grep -q '"step":"backup restore","reason":"keystore_backup_failed"' "$work/s4.log"; then
    pass signer_backup_unreachable_no_local_refused; else fail signer_backup_unreachable_no_local_refused "exit $rc"; fi
fi
# with its local keystore (epochs 1..2): it serves them, but epoch 3 is not created (fail closed)
mkdir -p "$work/state" && chmod 700 "$work/state" && cp "$work/newest.sealed" "$work/state/keystore.sealed"
if start_signer "$work/state" "s3://ak-no-such-bucket/x" "$work/s5.log"; then
  grep -q "keystore backup at start failed" "$work/s5.log" && pass signer_backup_down_at_start_logged || fail signer_backup_down_at_start_logged
  check signer_backup_down_held_epoch_serves "$(kek 2)" "$kek2"
  echo 3 >"$work/epoch"
  r=$(req admin POST /v1/epoch/commitment '{"epoch":3}')
  check signer_backup_down_epoch_not_served "$(cut -d' ' -f1 <<<"$r") $(cut -d' ' -f2- <<<"$r" | jget reason)" "503 keystore_backup_failed"
  check signer_backup_down_epoch_not_created "$(req audit GET /v1/health | cut -d' ' -f2- | jget epoch_max)" 2
  stop_pid "$spid"; spid=
else fail signer_backup_down_start "$(tail -3 "$work/s5.log")"; fi

# ---- 5. the nitro sealer's data key lives in the bucket (issue 18: a fresh enclave's state dir is
# empty). Dev signer (the TEST-ONLY recipient document), the KMS stand-in (tests/e2e/fixtures/
# kms_standin.py) on the same credentials as the bucket, its own epoch source.
dev=$root/build/dev/bin/ak-signer
kport=$("$root/scripts/lib/free-ports" 1) || { echo "FAIL signer_backup_setup (free-ports)"; exit 1; }
echo ok >"$work/kms.mode"
"$PY" "$root/tests/e2e/fixtures/kms_standin.py" --port "$kport" --region "$AWS_REGION" \
  --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" --session-token "${AWS_SESSION_TOKEN:-}" \
  --mode-file "$work/kms.mode" --record "$work/kms.jsonl" --ready-file "$work/kms.ready" --max-seconds 900 \
  2>"$work/kms.log" &
kpid=$!
trap 'kill "$kpid" 2>/dev/null; cleanup' EXIT
for _ in $(seq 300); do [ -s "$work/kms.ready" ] && break; kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
[ -s "$work/kms.ready" ] || { cat "$work/kms.log"; echo "FAIL signer_backup_kms_standin"; exit 1; }
PIN=arn:aws:kms:$AWS_REGION:111122223333:alias/agentkeys-signer
echo 1 >"$work/epoch5"
: >"$work/epoch5.commitments"
nitro_start() { # STATE DEST LOG [extra...] -> background signer in $npid; ready file STATE.ready
  local st=$1 dest=$2 log=$3; shift 3
  rm -f "$st.ready"
  "$dev" --pki "$pki" --state "$st" --epoch-source "file:$work/epoch5" --port 0 --ready-file "$st.ready" \
    --backup "$dest" --sealer nitro --kms-key "$PIN" --kms-endpoint "http://127.0.0.1:$kport" \
    --kms-recipient-doc test-unattested --kms-timeout-ms 150000 "$@" >>"$log" 2>&1 &
  npid=$!
}
nitro_wait() { # STATE PID -> 0 when it is listening; non-zero when it exited (bounded: 120 s)
  for _ in $(seq 1200); do [ -s "$1.ready" ] && return 0; kill -0 "$2" 2>/dev/null || return 1; sleep 0.1; done
  return 1
}
kms_count() { grep -c "\"$1\"" "$work/kms.jsonl" 2>/dev/null; }
startup_reason() { "$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    try: d = json.loads(l)
    except ValueError: continue
    if d.get("msg") == "startup failed": print(d.get("step"), d.get("reason")); break' "$1"; }
health_commitment() { # STATE -> the running signer's commitment
  port=$(cat "$1.ready"); req audit GET /v1/health | cut -d' ' -f2- | jget commitment
}

# 5a. first boot of a deployment: an empty prefix; the signer makes the data key and stores it there
nitro_start "$work/n1" "s3://$BUCKET/nitro/" "$work/n1.log"
if nitro_wait "$work/n1" "$npid"; then
  pass datakey_first_boot_starts
  n1c=$(health_commitment "$work/n1")
  stop_pid "$npid"
else
  fail datakey_first_boot_starts "$(tail -3 "$work/n1.log")"; stop_pid "$npid"
fi
nk=$(list nitro/)
check datakey_stored_beside_backups "$(grep -c '^nitro/keystore.datakey$' <<<"$nk") $(grep -c '^nitro/keystore-0000000001-' <<<"$nk")" "1 1"
check datakey_made_by_generate "$(kms_count TrentService.GenerateDataKey) $(kms_count TrentService.Decrypt)" "1 0"
check datakey_not_kept_locally "$(ls "$work/n1" | tr '\n' ' ')" "keystore.sealed "
s3py "print(sorted(__import__('json').loads(s3.get_object(Bucket=B, Key='nitro/keystore.datakey')['Body'].read())))" \
  >"$work/dk.out" 2>&1
check datakey_object_shape "$(tail -n1 "$work/dk.out")" "['CiphertextBlob', 'KeyId']"
grep -q "$(tail -n1 "$work/kms.jsonl" | jget dk_sha256)" "$work/n1.log" && fail datakey_never_logged || pass datakey_never_logged

# 5b. a new enclave (empty state dir): the data key comes from the bucket, the keystore from the backup
nitro_start "$work/n2" "s3://$BUCKET/nitro/" "$work/n2.log"
if nitro_wait "$work/n2" "$npid"; then
  check datakey_fresh_enclave_same_k3 "$(health_commitment "$work/n2")" "${n1c:-none}"
  stop_pid "$npid"
else
  fail datakey_fresh_enclave_same_k3 "$(tail -3 "$work/n2.log")"; stop_pid "$npid"
fi
check datakey_fresh_enclave_decrypts "$(kms_count TrentService.GenerateDataKey) $(kms_count TrentService.Decrypt)" "1 1"
# data key, restore and sync from one listing of the prefix
check datakey_fresh_enclave_lists_once "$(grep -c '"msg":"keystore backups listed"' "$work/n2.log")" 1
check datakey_decrypt_asks_the_pin "$(tail -n1 "$work/kms.jsonl" | jget key_id)" "$PIN"
versions=$(s3py "print(len(s3.list_object_versions(Bucket=B, Prefix='nitro/keystore.datakey').get('Versions', [])))")
check datakey_written_once "$versions" 1

# 5c. backups without their data key: a new key would orphan them — refused, nothing stored
s3py "s3.copy_object(Bucket=B, Key='orphan/' + sys.argv[1].split('/')[-1], CopySource={'Bucket': B, 'Key': sys.argv[1]})" \
  "$(grep '^nitro/keystore-' <<<"$nk" | head -n1)"
nitro_start "$work/n3" "s3://$BUCKET/orphan/" "$work/n3.log"
if nitro_wait "$work/n3" "$npid"; then fail datakey_orphaned_backups_refused "it started"; stop_pid "$npid"; else
  check datakey_orphaned_backups_refused "$(startup_reason "$work/n3.log")" "sealer kms_datakey_missing"; fi
check datakey_orphan_nothing_stored "$(list orphan/ | wc -l) $(kms_count TrentService.GenerateDataKey)" "1 1"

# 5d. the bucket cannot be listed: fail closed, no key made (never taken for "no data key yet")
nitro_start "$work/n4" "s3://ak-no-such-bucket/x/" "$work/n4.log"
if nitro_wait "$work/n4" "$npid"; then fail datakey_unreachable_bucket_refused "it started"; stop_pid "$npid"; else
  check datakey_unreachable_bucket_refused "$(startup_reason "$work/n4.log")" "sealer keystore_backup_failed"; fi
check datakey_unreachable_no_generate "$(kms_count TrentService.GenerateDataKey)" 1
nitro_start "$work/n5" "s3://$BUCKET/nitro/" "$work/n5.log" --kms-datakey "$work/elsewhere"
if nitro_wait "$work/n5" "$npid"; then fail datakey_two_stores_refused "it started"; stop_pid "$npid"; else
  check datakey_two_stores_refused "$(startup_reason "$work/n5.log")" "sealer config_error"; fi

# 5e. two signers at a deployment's first boot (the stand-in holds both GenerateDataKey calls until
# both have asked): one data key object; the loser opens the winner's key, not its own.
# An unversioned bucket here: Ceph Pacific ignores If-None-Match on a versioned bucket (it adds a
# version), where AWS S3 honours it on both (docs/signer-backup.md, "Ceph and conditional writes").
s3py "s3.create_bucket(Bucket='ak-signer-race')" >/dev/null 2>&1
echo race2 >"$work/kms.mode"
nitro_start "$work/r1" "s3://ak-signer-race/race/" "$work/r1.log"; rp1=$npid
nitro_start "$work/r2" "s3://ak-signer-race/race/" "$work/r2.log"; rp2=$npid
nitro_wait "$work/r1" "$rp1"; ok1=$?
nitro_wait "$work/r2" "$rp2"; ok2=$?
stop_pid "$rp1"; stop_pid "$rp2"
echo ok >"$work/kms.mode"
check datakey_race_both_start "$ok1 $ok2" "0 0"
check datakey_race_one_lost "$(cat "$work/r1.log" "$work/r2.log" | grep -c 'another signer stored a kms data key first')" 1
versions=$(s3py "print(len(s3.list_object_versions(Bucket='ak-signer-race', Prefix='race/keystore.datakey').get('Versions', [])))")
check datakey_race_one_object "$versions" 1
"$PY" - "$work/kms.jsonl" >"$work/race.out" 2>&1 <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
gen = [r for r in rows if r.get("target") == "TrentService.GenerateDataKey" and r.get("mode") == "race2"]
dec = [r for r in rows if r.get("target") == "TrentService.Decrypt" and r.get("mode") == "race2"]
made = {r["blob_sha256"]: r["dk_sha256"] for r in gen if r.get("status") == 200}
# the loser decrypts one of the two made blobs and gets that blob's key
print(len(made), len(dec), all(d.get("blob_sha256") in made and made[d["blob_sha256"]] == d.get("dk_sha256") for d in dec))
PYEOF
check datakey_race_loser_uses_winners_key "$(tail -n1 "$work/race.out")" "2 1 True"

echo "signer backup e2e: $fails failure(s)"
[ "$fails" = 0 ]
