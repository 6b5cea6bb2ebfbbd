#!/usr/bin/env bash
# tests/function/cfn_lint_test.sh — scripts/cfn-lint-check (part of `make lint`) passes on
# template.yaml and deploy/signer-host.yaml and fails on copies broken the ways it exists to
# catch: the deprecated provided.al2 runtime (W1030, issue 17), a finding that appears only in the
# SAM-transformed template (an unused parameter, W2001, is reported by the second pass), and a host
# template referring to a resource it does not define.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The templates to check, then every check at once (cfn-lint is one single-threaded Python process
# per run); the findings are read in order below.
lint_bg() { # NAME [TEMPLATE...]: scripts/cfn-lint-check in the background -> $work/NAME.out, NAME.rc
  { scripts/cfn-lint-check "${@:2}" > "$work/$1.out" 2>&1; echo $? > "$work/$1.rc"; } &
}
lint_result() { out=$(cat "$work/$1.out"); rc=$(cat "$work/$1.rc"); } # NAME -> out, rc
# The host stack with its instances put in a security group that does not exist.
sed 's/^        SecurityGroupIds: \[!Ref HostSecurityGroup\]$/        SecurityGroupIds: [!Ref HostSecurityGroupX]/' \
    deploy/signer-host.yaml > "$work/host-badref.yaml"
# The template as it was before issue 17: default provided.al2, both runtimes allowed.
sed -e 's/^    Default: provided\.al2023$/    Default: provided.al2/' \
    -e 's/^    AllowedValues: \[provided\.al2023\]$/    AllowedValues: [provided.al2, provided.al2023]/' \
    template.yaml > "$work/al2.yaml"
# A parameter nothing uses: cfn-lint on the SAM template does not see it, the transformed pass does.
awk '{print} /^Parameters:$/ {print "  UnusedByAnything:\n    Type: String\n    Default: x"}' template.yaml > "$work/unused.yaml"
# A template the translator refuses fails the check (the second pass is not silently skipped).
cat > "$work/bad.yaml" <<'YAML'
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Runtime: provided.al2023, Handler: bootstrap, CodeUri: .,
                 Events: {Bad: {Type: HttpApi, Properties: {Path: 7, Method: GET}}}}
YAML
lint_bg ours # no argument: both templates, the SAM one twice, the plain CloudFormation host stack once
lint_bg badref "$work/host-badref.yaml"
lint_bg al2 "$work/al2.yaml"
lint_bg unused "$work/unused.yaml"
lint_bg bad "$work/bad.yaml"
lint_bg nosuch "$work/nosuch.yaml"
wait

lint_result ours
if [ "$rc" = 0 ] && grep -q 'template.yaml clean, as written and SAM-transformed' <<<"$out"; then
    pass "template.yaml is clean, both passes"; else fail "template.yaml is clean, both passes"; sed 's/^/    /' <<<"$out"; fi
if grep -q 'signer-host.yaml clean, as written (plain CloudFormation, no SAM transform)' <<<"$out"; then
    pass "deploy/signer-host.yaml is clean (no transform pass)"; else fail "deploy/signer-host.yaml is clean (no transform pass)"; fi

lint_result badref
if [ "$rc" = 1 ] && grep -q 'E1020.*HostSecurityGroupX' <<<"$out" && ! grep -q 'after the SAM transform' <<<"$out"; then
    pass "a host template with a dangling Ref fails (E1020)"; else
    fail "a host template with a dangling Ref fails (E1020) (exit $rc)"; sed 's/^/    /' <<<"$out"; fi

if grep -q 'Default: provided.al2$' "$work/al2.yaml"; then pass "the al2 copy names provided.al2"; else
    fail "the al2 copy names provided.al2 (template changed shape: update this test)"; fi
lint_result al2
if [ "$rc" = 1 ] && grep -q 'W1030' <<<"$out"; then pass "provided.al2 fails lint with W1030"; else
    fail "provided.al2 fails lint with W1030 (exit $rc)"; sed 's/^/    /' <<<"$out"; fi
if grep -A3 'after the SAM transform' <<<"$out" | grep -q W1030; then pass "the transformed pass reports W1030 too"; else
    fail "the transformed pass reports W1030 too"; fi

lint_result unused
if [ "$rc" = 1 ] && grep -A3 'after the SAM transform' <<<"$out" | grep -q 'W2001.*UnusedByAnything'; then
    pass "an unused parameter fails the transformed pass"; else
    fail "an unused parameter fails the transformed pass (exit $rc)"; sed 's/^/    /' <<<"$out"; fi

lint_result bad
if [ "$rc" = 1 ] && grep -q "the SAM transform of .* failed" <<<"$out" && grep -q "transform: .*Path" <<<"$out"; then
    pass "a template the SAM transform refuses fails, with the translator's reason"; else
    fail "a template the SAM transform refuses fails, with the translator's reason (exit $rc)"; sed 's/^/    /' <<<"$out"; fi

lint_result nosuch
if [ "$rc" != 0 ]; then pass "a missing template fails"; else fail "a missing template fails"; fi

check_done cfn_lint
