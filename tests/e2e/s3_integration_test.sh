#!/bin/bash
# s3_integration_test.sh — the C S3 client (build/dev/tools/s3tool) against a real S3 server:
# Debian's Ceph radosgw started by scripts/ceph-up on random loopback ports, stopped by trap.
# Covers put/get/head/delete, conditional create and If-Match, copy, > 1000 keys across list
# pages, start-after / max-keys / delimiter (common prefixes) listings, batch delete, and a wrong secret rejected by the server. If STS tooling is built
# (build/dev/tools/ststool) and python3-jwt is present, also AssumeRoleWithWebIdentity against
# a throwaway OIDC issuer, and S3 with the temporary credentials.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
T=${S3TOOL:-$top/build/dev/tools/s3tool}
STS=${STSTOOL:-$top/build/dev/tools/ststool}
PY=/usr/bin/python3
AWS=/usr/bin/aws
. "$top/tests/lib/check.sh"
check() { # check NAME WANT GOT  (GOT's last line must equal WANT)
  local last; last=$(printf '%s\n' "$3" | tail -n1)
  if [ "$last" = "$2" ]; then pass "$1"; else fail "$1" "want '$2', got '$last'"; fi
}
[ -x "$T" ] || { echo "FAIL s3_setup (missing $T; make build/dev/tools/s3tool)"; exit 1; }

tmp=$(mktemp -d)
export AK_CEPH_DIR=$tmp/ceph
oidc_pid=
cleanup() {
  [ -n "$oidc_pid" ] && kill "$oidc_pid" 2>/dev/null
  "$top/scripts/ceph-down" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
# Fixed for this cluster (not AK_RGW_PORT=auto): the second ceph-up below must find the same one.
ports=$("$top/scripts/lib/free-ports" 3 --range 21) || { echo "FAIL free_ports"; exit 1; }
read -r AK_RGW_PORT AK_CEPH_MON_PORT AK_CEPH_MON_V1_PORT <<<"$(head -n1 <<<"$ports")"
base=$(tail -n1 <<<"$ports")
export AK_RGW_PORT AK_CEPH_MON_PORT AK_CEPH_MON_V1_PORT AK_CEPH_OSD_PORTS=$base-$((base + 20))

if "$top/scripts/ceph-up" > "$tmp/ceph-up.log" 2>&1; then pass "ceph_up"; else fail "ceph_up" "$(tail -n 5 "$tmp/ceph-up.log")"; exit 1; fi
out=$("$top/scripts/ceph-up" 2>&1)
[[ "$out" == *"already up"* ]] && pass "ceph_up_idempotent" || fail "ceph_up_idempotent" "$out"
# shellcheck disable=SC1091
source "$AK_CEPH_DIR/env"
B=ak-it-bucket

check create_bucket ok "$($T mb $B)"
check create_bucket_again_is_ok ok "$($T mb $B)"

# ---- put / get / head / delete
check put "ok" "$($T put $B 'dir/a b+c.txt' --data hello --meta owner=agent-1)"
out=$($T get $B 'dir/a b+c.txt'); [ "$(printf '%s' "$out" | head -n1)" = hello ] && pass get_body || fail get_body "$out"
out=$($T head $B 'dir/a b+c.txt')
grep -qx 'size 5' <<<"$out" && grep -qx 'meta owner agent-1' <<<"$out" && pass head_size_and_meta || fail head_size_and_meta "$out"
check delete ok "$($T rm $B 'dir/a b+c.txt')"
check get_after_delete "error not_found" "$($T get $B 'dir/a b+c.txt')"
check head_after_delete "error not_found" "$($T head $B 'dir/a b+c.txt')"
check get_missing_bucket "error not_found" "$($T get no-such-bucket-x k)"

# ---- conditional writes
check conditional_create_first ok "$($T put $B cond.txt --if-none-match --data v1)"
check conditional_create_second "error precondition_failed" "$($T put $B cond.txt --if-none-match --data v2)"
out=$($T get $B cond.txt); [ "$(head -n1 <<<"$out")" = v1 ] && pass conditional_create_kept_first || fail conditional_create_kept_first "$out"
etag=$($T head $B cond.txt | awk '$1=="etag"{print $2}')
[[ "$etag" == \"*\" ]] && pass head_etag_quoted || fail head_etag_quoted "$etag"
check if_match_quoted_etag_accepted ok "$($T put $B cond.txt --if-match "$etag" --data v3)"
check if_match_stale_etag "error precondition_failed" "$($T put $B cond.txt --if-match "$etag" --data v4)"

# ---- copy
check copy ok "$($T cp $B cond.txt $B copy.txt)"
out=$($T get $B copy.txt); [ "$(head -n1 <<<"$out")" = v3 ] && pass copy_body || fail copy_body "$out"
check copy_missing_source "error not_found" "$($T cp $B nope.txt $B copy2.txt)"

# ---- > 1000 keys: list across pages, batch delete
n=1100
check fill_$n ok "$($T fill $B many/ $n)"
out=$($T ls $B many/)
check list_${n}_keys_across_pages "count $n" "$(tail -n2 <<<"$out" | head -n1)"
[ "$(sed -n 1p <<<"$out")" = many/000000 ] && [ "$(sed -n ${n}p <<<"$out")" = many/$(printf %06d $((n-1))) ] \
  && pass list_in_key_order || fail list_in_key_order "$(sed -n 1p <<<"$out") .. $(sed -n ${n}p <<<"$out")"
# ---- start-after, max-keys (stop after N in total, across pages)
out=$($T ls $B many/ --start-after many/001097)
[ "$(head -n3 <<<"$out" | tr '\n' ' ')" = "many/001098 many/001099 count 2 " ] && pass list_start_after || fail list_start_after "$(tr '\n' ' ' <<<"$out")"
out=$($T ls $B many/ --max-keys 1050)
[ "$(tail -n3 <<<"$out" | head -n2 | tr '\n' ' ')" = "count 1050 truncated 1 " ] && [ "$(sed -n 1050p <<<"$out")" = many/001049 ] \
  && pass list_max_keys_across_pages || fail list_max_keys_across_pages "$(tail -n3 <<<"$out" | tr '\n' ' ')"
out=$($T ls $B many/ --max-keys 2000)
check list_max_keys_above_total_not_truncated "truncated 0" "$(tail -n2 <<<"$out" | head -n1)"
out=$($T ls $B many/ --start-after many/000999 --max-keys 3 --page 2)
[ "$(head -n5 <<<"$out" | tr '\n' ' ')" = "many/001000 many/001001 many/001002 count 3 truncated 1 " ] \
  && pass list_start_after_max_keys_small_pages || fail list_start_after_max_keys_small_pages "$(tr '\n' ' ' <<<"$out")"

# ---- delimiter: common prefixes merged with objects in key order (the audit flush's operator listing)
for k in tree/a/1 tree/a/2 tree/b/1 tree/b/x/2 tree/c.txt tree/d/1; do $T put $B $k --data x >/dev/null; done
out=$($T ls $B tree/ --delimiter /)
want="prefix tree/a/ prefix tree/b/ tree/c.txt prefix tree/d/ count 4 ok "
[ "$(tr '\n' ' ' <<<"$out")" = "$want" ] && pass list_delimiter_common_prefixes || fail list_delimiter_common_prefixes "$(tr '\n' ' ' <<<"$out")"
out=$($T ls $B tree/ --delimiter / --page 1)
[ "$(tr '\n' ' ' <<<"$out")" = "$want" ] && pass list_delimiter_one_per_page || fail list_delimiter_one_per_page "$(tr '\n' ' ' <<<"$out")"
out=$($T ls $B tree/ --delimiter / --start-after tree/b)
[ "$(tr '\n' ' ' <<<"$out")" = "prefix tree/b/ tree/c.txt prefix tree/d/ count 3 ok " ] \
  && pass list_delimiter_start_after_includes_folder || fail list_delimiter_start_after_includes_folder "$(tr '\n' ' ' <<<"$out")"
out=$($T ls $B tree/ --delimiter / --start-after tree/c.txt)
[ "$(tr '\n' ' ' <<<"$out")" = "prefix tree/d/ count 1 ok " ] && pass list_delimiter_start_after || fail list_delimiter_start_after "$(tr '\n' ' ' <<<"$out")"
out=$($T ls $B tree/ --delimiter / --max-keys 2)
[ "$(tr '\n' ' ' <<<"$out")" = "prefix tree/a/ prefix tree/b/ count 2 truncated 1 ok " ] \
  && pass list_delimiter_max_keys || fail list_delimiter_max_keys "$(tr '\n' ' ' <<<"$out")"
out=$($T ls $B tree/b/ --delimiter /)
[ "$(tr '\n' ' ' <<<"$out")" = "tree/b/1 prefix tree/b/x/ count 2 ok " ] && pass list_delimiter_nested || fail list_delimiter_nested "$(tr '\n' ' ' <<<"$out")"
out=$($T rmprefix $B tree/)
check delete_tree "deleted 6 failed 0" "$(tail -n2 <<<"$out" | head -n1)"

out=$($T rmprefix $B many/)
check batch_delete_$n "deleted $n failed 0" "$(tail -n2 <<<"$out" | head -n1)"
check list_after_batch_delete "count 0" "$($T ls $B many/ | tail -n2 | head -n1)"
$T put $B 'x&<y>.txt' --data 1 >/dev/null
out=$($T rmkeys $B 'x&<y>.txt' cond.txt copy.txt never-existed)
check batch_delete_xml_special_keys "deleted 4 failed 0" "$(tail -n2 <<<"$out" | head -n1)"

# ---- the server checks the signature
check wrong_secret_rejected "error access_denied" "$(AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY $T put $B w.txt --data x)"
check unknown_access_key_rejected "error access_denied" "$(AWS_ACCESS_KEY_ID=AKIDNOTKNOWN0000000 $T get $B w.txt)"
# RGW answers an undecodable token with 400 InvalidArgument (AWS: 400 InvalidToken -> access_denied)
out=$(AWS_SESSION_TOKEN=bogus $T get $B w.txt | tail -n1)
[[ "$out" == "error access_denied" || "$out" == "error s3_error" ]] && pass bad_session_token_rejected || fail bad_session_token_rejected "$out"

# ---- STS AssumeRoleWithWebIdentity (optional: needs ststool and python3-jwt)
if [ -x "$STS" ] && $PY -c 'import jwt, cryptography' 2>/dev/null && [ -x "$AWS" ]; then
  oport=$("$top/scripts/lib/free-ports" 1); ISS=http://127.0.0.1:$oport/oidc; AUD=agentkeys-s3
  mkdir -p "$tmp/oidc/www/oidc/.well-known"
  cat > "$tmp/oidc/mk.py" <<'EOF'
# ES256 key + self-signed cert; RGW Pacific verifies only with the JWKS x5c cert (ceph-local.md gotcha 7)
import base64, datetime, hashlib, json, sys, time
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
import jwt
cmd = sys.argv[1]
if cmd == "issuer":
    iss, out = sys.argv[2], sys.argv[3]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "it-oidc")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    open("signer.key", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    json.dump({"keys": [{"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
                         "x5c": [base64.b64encode(der).decode()]}]}, open(out + "/jwks.json", "w"))
    json.dump({"issuer": iss, "jwks_uri": iss + "/jwks.json", "id_token_signing_alg_values_supported": ["ES256"],
               "response_types_supported": ["id_token"], "subject_types_supported": ["public"]},
              open(out + "/.well-known/openid-configuration", "w"))
    print(hashlib.sha1(der).hexdigest())
else:
    iss, aud, sub, ttl = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    now = int(time.time())
    print(jwt.encode({"iss": iss, "sub": sub, "aud": aud, "iat": now, "nbf": now, "exp": now + ttl},
                     open("signer.key").read(), algorithm="ES256", headers={"kid": "k1"}))
EOF
  cd "$tmp/oidc"
  TP=$($PY mk.py issuer "$ISS" www/oidc)
  (cd www && exec $PY -m http.server "$oport" --bind 127.0.0.1 > ../httpd.log 2>&1) &
  oidc_pid=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null "$ISS/.well-known/openid-configuration" 2>/dev/null && break; sleep 0.05; done
  EP=$AK_S3_ENDPOINT
  PARN=arn:aws:iam:::oidc-provider/127.0.0.1:$oport/oidc
  TRUST="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Federated\":[\"$PARN\"]},\"Action\":[\"sts:AssumeRoleWithWebIdentity\"],\"Condition\":{\"StringEquals\":{\"127.0.0.1:$oport/oidc:aud\":\"$AUD\"}}}]}"
  POL="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:PutObject\",\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::$B/bots/*\"]}]}"
  if $AWS --endpoint-url "$EP" iam create-open-id-connect-provider --url "$ISS" --client-id-list $AUD --thumbprint-list "$TP" >/dev/null 2>&1 &&
     $AWS --endpoint-url "$EP" iam create-role --role-name it-agent --assume-role-policy-document "$TRUST" >/dev/null 2>&1 &&
     $AWS --endpoint-url "$EP" iam put-role-policy --role-name it-agent --policy-name p --policy-document "$POL" >/dev/null 2>&1; then
    pass sts_iam_setup
  else
    fail sts_iam_setup "awscli iam calls failed"
  fi
  ROLE=arn:aws:iam:::role/it-agent
  out=$("$STS" assume "$ROLE" s1 "$($PY mk.py jwt "$ISS" "$AUD" agent-1 600)" 900)
  if grep -q '^arn arn:aws:sts:::assumed-role/it-agent/s1$' <<<"$out" && [ "$(tail -n1 <<<"$out")" = ok ]; then
    pass sts_assume_role_with_web_identity
    ak=$(awk '$1=="export"&&$2 ~ /^AWS_ACCESS_KEY_ID=/{sub(/^AWS_ACCESS_KEY_ID=/,"",$2);print $2}' <<<"$out")
    sk=$(awk '$1=="export"&&$2 ~ /^AWS_SECRET_ACCESS_KEY=/{sub(/^AWS_SECRET_ACCESS_KEY=/,"",$2);print $2}' <<<"$out")
    st=$(awk '$1=="export"&&$2 ~ /^AWS_SESSION_TOKEN=/{sub(/^AWS_SESSION_TOKEN=/,"",$2);print $2}' <<<"$out")
    check sts_creds_put_allowed_prefix ok "$(AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_SESSION_TOKEN=$st $T put $B bots/a/x.txt --data t)"
    check sts_creds_put_other_prefix_denied "error access_denied" "$(AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_SESSION_TOKEN=$st $T put $B other.txt --data t)"
    check sts_creds_without_token_denied "error access_denied" "$(AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk $T get $B bots/a/x.txt)"
  else
    fail sts_assume_role_with_web_identity "$(tail -n1 <<<"$out")"
  fi
  check sts_wrong_audience_denied "error access_denied" "$("$STS" assume "$ROLE" s1 "$($PY mk.py jwt "$ISS" wrong-aud agent-1 600)" 900)"
  check sts_expired_token_denied "error access_denied" "$("$STS" assume "$ROLE" s1 "$($PY mk.py jwt "$ISS" "$AUD" agent-1 -60)" 900)"
  check sts_garbage_token_denied "error access_denied" "$("$STS" assume "$ROLE" s1 not.a.jwt 900)"
  cd "$top"
else
  echo "SKIP sts_round_trip (needs build/dev/tools/ststool, python3-jwt, /usr/bin/aws)"
fi

exit $((fails > 0))
