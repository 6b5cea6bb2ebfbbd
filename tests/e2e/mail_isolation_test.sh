#!/usr/bin/env bash
# tests/e2e/mail_isolation_test.sh — issue 8 acceptance on the local stack: mail routed by
# SesRouterFunction is readable by its actor only, through the broker's OIDC issuer and STS.
#
#   1. scripts/stack-up in a temp AK_LOCAL_DIR (anvil + contracts, Ceph S3/STS/IAM, signer,
#      emulator = the OIDC issuer Ceph's STS trusts, local-iam).
#   2. An operator (first master, software passkey) registers two agent wallets A and B.
#   3. The mail role's policy: MailRole from template.yaml, translated per actor by
#      scripts/local-iam allow-actor (Ceph rejects ${aws:PrincipalTag/...};
#      ../shared/reference/ceph-local.md gotcha 9).
#   4. Two messages are routed by the real SesRouterFunction bootstrap (fake Runtime API, admin
#      credentials standing in for the execution role): one to A's hex address, one to B's alias.
#   5. Each agent logs in (SIWE) and gets mail-role credentials tagged with its own actor, by
#      both routes the broker offers: A through POST /v1/mint-aws-creds {"data_class":"mail"}
#      (the broker makes the STS call, D13), B with an OIDC JWT from POST /v1/mint-oidc-jwt and
#      its own AssumeRoleWithWebIdentity. A's mint is also checked against an unknown class.
#   6. A lists and reads its own inbox and quarantine and may delete its own message; A gets
#      AccessDenied on B's inbox (list and get), on aliases/, unrouted/ and on writing; the same
#      for B.
# Env: KEEP_TMP=1 keeps the work directory.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" mail_isolation
BOOTSTRAP=${BOOTSTRAP:-build/release/ses-router/bootstrap}
[ -x "$BOOTSTRAP" ] || BOOTSTRAP=build/dev/functions/ses-router/bootstrap
fake_pid=""; boot_pid=""
stack_test_on_exit '[ -n "$boot_pid" ] && kill "$boot_pid"'
stack_test_on_exit '[ -n "$fake_pid" ] && kill "$fake_pid"'

[ -x "$BOOTSTRAP" ] || die "mail_isolation: $BOOTSTRAP not built"
stack_test_up
export AK_WORK=$work/ak
mkdir -p "$AK_WORK"
# shellcheck disable=SC1091
. "$root/tests/lib/akclient.sh"
pass mail_isolation_stack_up

# ---- operator and two agents
ak_new_wallet M && ak_passkey_new "$work/pk.json" && ak_register_first_master "$M_KEY" "$work/pk.json" \
  && ak_new_wallet AGA && ak_new_wallet AGB && ak_register_agent "$M_KEY" "$AGA_KEY" && ak_register_agent "$M_KEY" "$AGB_KEY" \
  || die "mail_isolation_register_agents"
A=$(ak_omni "$AGA_ADDR"); B=$(ak_omni "$AGB_ADDR")
pass mail_isolation_register_agents

# ---- the roles' policies for A and B (scripts/local-iam translates template.yaml's MailRole,
# VaultRole and MemoryRole per actor); the mail role's must name both actors and no other
"$root/scripts/local-iam" allow-actor "$A" "$B" > "$work/local-iam.log" 2>&1 || { cat "$work/local-iam.log"; die "mail_isolation_allow_actor"; }
"$PY" - "$A" "$B" <<'PYEOF' || die "mail_isolation_mail_role_policy"
import json, os, re, sys
import boto3
from botocore.config import Config
iam = boto3.client("iam", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name="us-east-1",
                   config=Config(connect_timeout=5, read_timeout=30))
doc = iam.get_role_policy(RoleName="agentkeys-mail-role", PolicyName="agentkeys-mail-role-inline")["PolicyDocument"]
doc = json.loads(doc) if isinstance(doc, str) else doc
named = set(re.findall(r"[0-9a-f]{64}", json.dumps(doc)))
print("mail role: %d statements, actors %d" % (len(doc["Statement"]), len(named)))
sys.exit(0 if named == set(sys.argv[1:3]) else 1)
PYEOF
pass mail_isolation_mail_role_policy

# ---- route one message to A (hex address) and one to B (alias) with the real bootstrap
scripts/mail-alias set agent-b@mail.example.com "$B" >/dev/null || die "mail_isolation_alias"
"$PY" - "$work" "$A" <<'PYEOF' || die "mail_isolation_stage"
import copy, json, os, sys
import boto3
from botocore.config import Config
work, A = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30))
base = json.load(open("events/ses-routed.json"))
for name, mid, rcpt, spam in (("a", "e2emaila0001", A + "@mail.example.com", "PASS"),
                              ("aq", "e2emailaq001", A + "@mail.example.com", "FAIL"),
                              ("b", "e2emailb0001", "agent-b@mail.example.com", "PASS")):
    s3.put_object(Bucket=os.environ["AK_MAIL_BUCKET"], Key="inbound/" + mid, Body=("Subject: for %s\r\n\r\nhello %s\r\n" % (name, name)).encode())
    e = copy.deepcopy(base)
    e["Records"][0]["ses"]["mail"]["messageId"] = mid
    e["Records"][0]["ses"]["receipt"]["recipients"] = [rcpt]
    e["Records"][0]["ses"]["receipt"]["spamVerdict"]["status"] = spam
    json.dump(e, open("%s/ev-%s.json" % (work, name), "w"))
PYEOF
rm -f "$work/port"
"$PY" tests/function/lib/fake_rapi.py "$work/port" "$work/posts" --fn SesRouterFunction "$work/ev-a.json" "$work/ev-aq.json" "$work/ev-b.json" &
fake_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$work/port")" "$BOOTSTRAP" > "$work/router.log" 2>&1 &
boot_pid=$!
for _ in $(seq 600); do kill -0 "$fake_pid" 2>/dev/null || break; sleep 0.05; done
kill "$fake_pid" 2>/dev/null; fake_pid=""
for _ in $(seq 100); do kill -0 "$boot_pid" 2>/dev/null || break; sleep 0.05; done
kill "$boot_pid" 2>/dev/null; boot_pid=""
if [ "$(grep -c '/response' "$work/posts" 2>/dev/null)" = 3 ]; then pass mail_isolation_routed; else cat "$work/posts" "$work/router.log" | tail -20; die "mail_isolation_routed"; fi

# ---- agents: SIWE session -> A: /v1/mint-aws-creds (mail); B: OIDC JWT for its own STS call
sess=$(ak_login "$AGA_KEY") || die "mail_isolation_login_AGA"
r=$(ak_api POST /v1/mint-aws-creds '{"data_class":"mail"}' -H "authorization: Bearer $sess")
if [ "${r%% *}" = 200 ] && [ "$(jq -r '.data_class + " " + .actor_omni' <<<"${r#* }")" = "mail $A" ]; then
  jq '{AccessKeyId: .access_key_id, SecretAccessKey: .secret_access_key, SessionToken: .session_token}' \
    <<<"${r#* }" > "$work/creds-AGA"
  pass mail_isolation_mint_aws_creds_mail
else
  die "mail_isolation_mint_aws_creds_mail: ${r%% *} $(jq -c '{error,reason}' <<<"${r#* }" 2>/dev/null)"
fi
r=$(ak_api POST /v1/mint-aws-creds '{"data_class":"inbox"}' -H "authorization: Bearer $sess")
[ "${r%% *}" = 400 ] && [ "$(jq -r .reason <<<"${r#* }")" = invalid_input ] \
  && pass mail_isolation_mint_aws_creds_unknown_class_400 || fail "mail_isolation_mint_aws_creds_unknown_class_400: $r"
sess=$(ak_login "$AGB_KEY") || die "mail_isolation_login_AGB"
r=$(ak_api POST /v1/mint-oidc-jwt '{}' -H "authorization: Bearer $sess")
[ "${r%% *}" = 200 ] || die "mail_isolation_mint_oidc_jwt_AGB: ${r%% *}"
jq -r .jwt <<<"${r#* }" > "$work/jwt-AGB"
pass mail_isolation_oidc_jwt

# ---- STS + the isolation checks (boto3; RGW's empty <Message> crashes awscli, gotcha 2)
"$PY" - "$work" "$A" "$B" <<'PYEOF'
import json, os, sys
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
work, A, B = sys.argv[1:4]
ep, bucket, role = os.environ["AK_STS_ENDPOINT"], os.environ["AK_MAIL_BUCKET"], os.environ["AK_MAIL_ROLE_ARN"]
cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
fails = 0
def check(name, cond):
    global fails
    print(("PASS " if cond else "FAIL ") + name); fails += 0 if cond else 1
def code(f):
    try:
        f(); return "ok"
    except ClientError as e:
        return e.response.get("Error", {}).get("Code", "?")
def s3_for(x):
    if os.path.exists("%s/creds-%s" % (work, x)):   # minted by the broker
        c = json.load(open("%s/creds-%s" % (work, x)))
        return boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name="us-east-1", config=cfg,
                            aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                            aws_session_token=c["SessionToken"])
    sts = boto3.client("sts", endpoint_url=ep, region_name="us-east-1", config=Config(signature_version=UNSIGNED, connect_timeout=5, read_timeout=60,
                                                                            retries={"max_attempts": 2}))
    c = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="mail-e2e-" + x,
                                          WebIdentityToken=open("%s/jwt-%s" % (work, x)).read().strip())["Credentials"]
    return boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"], region_name="us-east-1", config=cfg,
                        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])
try:
    sa, sb = s3_for("AGA"), s3_for("AGB")
    check("mail_isolation_sts_assume_mail_role", True)
except Exception as e:
    print("   ", repr(e)[:300]); check("mail_isolation_sts_assume_mail_role", False); sys.exit(1)
def keys(c, prefix):
    return [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
ka = keys(sa, "bots/%s/inbound/" % A)
check("mail_isolation_A_lists_own_inbox", len(ka) == 1 and ka[0].endswith("-e2emaila0001.eml"))
check("mail_isolation_A_reads_own_message", len(ka) == 1 and sa.get_object(Bucket=bucket, Key=ka[0])["Body"].read() == b"Subject: for a\r\n\r\nhello a\r\n")
kq = keys(sa, "bots/%s/quarantine/" % A)
check("mail_isolation_A_lists_own_quarantine", len(kq) == 1 and kq[0].endswith("-e2emailaq001.eml"))
kb = keys(sb, "bots/%s/inbound/" % B)
check("mail_isolation_B_lists_own_inbox", len(kb) == 1 and kb[0].endswith("-e2emailb0001.eml"))
check("mail_isolation_A_list_B_denied", code(lambda: sa.list_objects_v2(Bucket=bucket, Prefix="bots/%s/inbound/" % B)) == "AccessDenied")
check("mail_isolation_A_get_B_denied", len(kb) == 1 and code(lambda: sa.get_object(Bucket=bucket, Key=kb[0])) == "AccessDenied")
check("mail_isolation_A_delete_B_denied", len(kb) == 1 and code(lambda: sa.delete_object(Bucket=bucket, Key=kb[0])) == "AccessDenied")
check("mail_isolation_B_get_A_denied", len(ka) == 1 and code(lambda: sb.get_object(Bucket=bucket, Key=ka[0])) == "AccessDenied")
check("mail_isolation_B_list_A_quarantine_denied", code(lambda: sb.list_objects_v2(Bucket=bucket, Prefix="bots/%s/quarantine/" % A)) == "AccessDenied")
check("mail_isolation_A_list_bucket_root_denied", code(lambda: sa.list_objects_v2(Bucket=bucket, Prefix="")) == "AccessDenied")
check("mail_isolation_A_aliases_denied", code(lambda: sa.get_object(Bucket=bucket, Key="aliases/agent-b@mail.example.com")) == "AccessDenied")
check("mail_isolation_A_cannot_write_own_inbox", code(lambda: sa.put_object(Bucket=bucket, Key="bots/%s/inbound/forged.eml" % A, Body=b"x")) == "AccessDenied")
check("mail_isolation_A_deletes_own_message", len(ka) == 1 and code(lambda: sa.delete_object(Bucket=bucket, Key=ka[0])) == "ok" and keys(sa, "bots/%s/inbound/" % A) == [])
sys.exit(1 if fails else 0)
PYEOF
[ $? = 0 ] || fails=$((fails + 1))
exit $((fails > 0))
