#!/usr/bin/env bash
# tests/function/local_iam_test.sh — scripts/local-iam's translation of each function's template
# `Policies` into its local execution role (issue 17 item 2), without Ceph (`show-exec`):
#   - one role per AWS::Serverless::Function, none lost; only s3: actions kept, every intrinsic
#     resolved to the local buckets (parameters take their Default); HealthFunction and
#     OidcDiscoveryFunction (secretsmanager only) get none;
#   - every s3 statement of the template is kept, with its resources and conditions;
#   - negative: a SAM policy template, an unresolvable !Ref and a policy variable each make it
#     fail instead of granting something other than the template's policy.
# The enforcement itself (Ceph refusing what a role lacks) is tests/e2e/exec_roles_test.sh.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
. tests/lib/check.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/ak-local-iam.XXXXXX")
trap 'rm -rf "$work"' EXIT

if out=$(AK_TEMPLATE= "$PY" scripts/local-iam show-exec 2>"$work/err"); then pass "show-exec on template.yaml"
else fail "show-exec on template.yaml: $(cat "$work/err")"; fi
echo "$out" >"$work/exec.json"
"$PY" - "$work/exec.json" template.yaml >"$work/checks" <<'PYEOF'
import json, sys, yaml
class L(yaml.SafeLoader): pass
L.add_multi_constructor("!", lambda l, s, n: None)
got = json.load(open(sys.argv[1]))
tpl = yaml.load(open(sys.argv[2]), Loader=L)
fns = [k for k, v in tpl["Resources"].items() if v.get("Type") == "AWS::Serverless::Function"]
def say(ok, name): print(("PASS " if ok else "FAIL ") + name)
say(sorted(got) == sorted("agentkeys-fn-" + f for f in fns), f"one role per function ({len(fns)})")
say(got.get("agentkeys-fn-HealthFunction", 1) is None, "HealthFunction: no policy")
say(got.get("agentkeys-fn-OidcDiscoveryFunction", 1) is None, "OidcDiscoveryFunction: no policy (its secret only)")
acts = [a for d in got.values() if d for st in d["Statement"] for a in st["Action"]]
say(acts and all(a.startswith("s3:") for a in acts), "only s3: actions")
text = json.dumps(got)
say("${" not in text and '"!' not in text and "secretsmanager" not in text, "no intrinsic, variable or secretsmanager left")
n_tpl = sum(1 for f in fns for p in tpl["Resources"][f]["Properties"].get("Policies", []) or []
            for st in p["Statement"] if any(str(a).startswith("s3:") for a in
                                           (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])))
n_got = sum(len(d["Statement"]) for d in got.values() if d)
say(n_tpl == n_got, f"every s3 statement kept ({n_tpl} in the template, {n_got} translated)")
def has(fn, action, resource, cond=None):
    d = got.get("agentkeys-fn-" + fn) or {"Statement": []}
    for st in d["Statement"]:
        rs = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if action in st["Action"] and resource in rs and st.get("Condition") == cond:
            return True
    return False
say(has("AuthFunction", "s3:ListBucket", "arn:aws:s3:::ak-state"), "AuthFunction: ListBucket on the state bucket")
say(has("AuthFunction", "s3:GetObject", "arn:aws:s3:::ak-state/siwe/*"), "AuthFunction: GetObject on siwe/*")
say(not has("AuthFunction", "s3:DeleteObject", "arn:aws:s3:::ak-state/siwe/*"), "AuthFunction: no DeleteObject")
say(has("AuditFlushFunction", "s3:ListBucket", "arn:aws:s3:::ak-audit"), "AuditFlushFunction: unconditional ListBucket")
say(has("AuditProofFunction", "s3:ListBucket", "arn:aws:s3:::ak-audit"), "AuditProofFunction: ListBucket")
say(has("ReadyFunction", "s3:ListBucket", "arn:aws:s3:::ak-audit", {"StringLike": {"s3:prefix": "readyz/*"}}),
    "ReadyFunction: ListBucket only under readyz/ (condition kept)")
say(has("SesRouterFunction", "s3:DeleteObject", "arn:aws:s3:::ak-mail/inbound/*"), "MailStagingPrefix resolved to its Default")
say(has("CredStoreFunction", "s3:PutObject", "arn:aws:s3:::ak-audit/audit/pending/*")
    and not any(st for st in got["agentkeys-fn-CredStoreFunction"]["Statement"] if "ak-vault" in json.dumps(st)),
    "CredStoreFunction: audit events only, no vault access of its own")
PYEOF
cat "$work/checks"; fails=$((fails + $(grep -c '^FAIL' "$work/checks")))

# ---- negative: what cannot be translated fails
bad() { # NAME SED-EXPRESSION: a template copy with one change must make show-exec fail
  sed "$2" template.yaml >"$work/t.yaml"
  cmp -s template.yaml "$work/t.yaml" && { fail "$1 (the edit changed nothing)"; return; }
  if AK_TEMPLATE=$work/t.yaml "$PY" scripts/local-iam show-exec >/dev/null 2>"$work/err"; then fail "$1 refused"
  elif grep -q "local-iam: " "$work/err"; then pass "$1 refused ($(head -c 120 "$work/err"))"
  else fail "$1 refused with local-iam's message"; fi
}
bad "a SAM policy template" 's/^      Timeout: 3$/      Timeout: 3\n      Policies:\n        - S3CrudPolicy: {BucketName: !Ref AuditBucket}/'
bad "an unresolvable !Ref" "0,/Resource: !Sub '\${StateBucket.Arn}\/siwe\/\*'/s//Resource: !Ref NoSuchThing/"
bad "a policy variable" "0,/Resource: !Sub '\${StateBucket.Arn}\/siwe\/\*'/s//Resource: !Sub '\${StateBucket.Arn}\/\${!aws:PrincipalTag\/x}\/*'/"

check_done local-iam
