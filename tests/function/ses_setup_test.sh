#!/usr/bin/env bash
# tests/function/ses_setup_test.sh — scripts/ses-setup against a stub AWS CLI (AWS_CLI=...; no
# account here): which calls `apply` makes and with what, the records it prints, that it refuses
# to replace another active receipt rule set without --force, and that bad input is refused
# before any call. What SES itself answers needs a real account (docs/deploy.md).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The stub logs its arguments and answers like the CLI with --output text; ACTIVE is the
# currently active rule set ("None" for none).
cat > "$work/aws" <<'STUB'
#!/usr/bin/env bash
echo "$*" >> "$STUB_LOG"
case "$*" in
  *describe-active-receipt-rule-set*) echo "${ACTIVE:-None}" ;;
  *describe-receipt-rule-set*) [ "${NO_RULE_SET:-0}" = 1 ] && exit 254; echo "RULESET" ;;
  *verify-domain-identity*) echo "tok3nVALUE=" ;;
  *set-active-receipt-rule-set*) ;;
  *get-identity-verification-attributes*) echo "${VSTATUS:-Pending}" ;;
  *) exit 99 ;;
esac
STUB
chmod +x "$work/aws"
export AWS_CLI=$work/aws STUB_LOG=$work/log
run() { : > "$work/log"; out=$(scripts/ses-setup "$@" 2>&1); rc=$?; }

run apply --domain Bots.Example.COM --region eu-west-1
if [ $rc = 0 ] && grep -q -- '--region eu-west-1 --output text ses verify-domain-identity --domain bots.example.com' "$work/log" \
   && grep -q 'ses set-active-receipt-rule-set --rule-set-name agentkeys-inbound' "$work/log"; then
    pass "apply verifies the (lower-cased) domain and activates the rule set"; else
    fail "apply verifies the domain and activates the rule set (exit $rc)"; sed 's/^/    /' "$work/log"; echo "$out"; fi
if grep -q '_amazonses.bots.example.com. TXT "tok3nVALUE="' <<<"$out" && grep -q 'bots.example.com. MX 10 inbound-smtp.eu-west-1.amazonaws.com' <<<"$out"; then
    pass "apply prints the TXT and MX records"; else fail "apply prints the TXT and MX records"; echo "$out"; fi

ACTIVE=someone-elses run apply --domain bots.example.com --region eu-west-1
if [ $rc = 1 ] && ! grep -q set-active "$work/log" && grep -q "rule set 'someone-elses' is active" <<<"$out"; then
    pass "apply refuses to replace another active rule set"; else fail "apply refuses to replace another active rule set (exit $rc)"; fi
ACTIVE=someone-elses run apply --domain bots.example.com --region eu-west-1 --force
[ $rc = 0 ] && grep -q set-active "$work/log" && pass "--force replaces it" || fail "--force replaces it (exit $rc)"
ACTIVE=agentkeys-inbound run apply --domain bots.example.com --region eu-west-1
[ $rc = 0 ] && ! grep -q set-active "$work/log" && pass "already active: not set again" || fail "already active: not set again"
NO_RULE_SET=1 run apply --domain bots.example.com --region eu-west-1
[ $rc = 1 ] && ! grep -q verify-domain "$work/log" && grep -q 'deploy the stack first' <<<"$out" \
    && pass "no rule set (stack not deployed): stops before verifying" || fail "no rule set: stops before verifying (exit $rc)"

VSTATUS=Pending ACTIVE=agentkeys-inbound run status --domain bots.example.com --region eu-west-1
[ $rc = 1 ] && grep -q 'verification Pending' <<<"$out" && pass "status fails while verification is pending" || fail "status fails while pending (exit $rc)"
VSTATUS=Success ACTIVE=agentkeys-inbound run status --domain bots.example.com --region eu-west-1
[ $rc = 0 ] && pass "status passes when verified and active" || fail "status passes when verified and active (exit $rc)"

for bad in "apply --domain localhost --region eu-west-1" "apply --domain a_b.example.com --region eu-west-1" \
           "apply --domain bots.example.com" "frob --domain bots.example.com --region eu-west-1" "apply --domain"; do
    # shellcheck disable=SC2086
    AWS_REGION= AWS_DEFAULT_REGION= run $bad
    if [ $rc = 2 ] && [ ! -s "$work/log" ]; then pass "refused before any call: $bad"; else fail "refused before any call: $bad (exit $rc)"; fi
done
run plan --domain bots.example.com --region us-east-1
[ $rc = 0 ] && [ ! -s "$work/log" ] && grep -q 'inbound-smtp.us-east-1.amazonaws.com' <<<"$out" && pass "plan makes no call" || fail "plan makes no call"

check_done ses_setup
