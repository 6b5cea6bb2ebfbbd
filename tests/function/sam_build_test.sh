#!/usr/bin/env bash
# tests/function/sam_build_test.sh — our half of `sam build` (BuildMethod: makefile), checked
# without SAM CLI (not installable here): for every function of the SAM-transformed template,
# `make build-<LogicalId>` with ARTIFACTS_DIR set, run in the source tree as `sam build
# --build-in-source` (samconfig.toml) runs it, leaves exactly one file in the artifact: a
# statically linked executable `bootstrap` (no node_modules/, no build/). Also: every function
# uses BuildMethod makefile and the repository root as CodeUri, samconfig.toml asks for the
# in-source build, and a LogicalId without a target fails. Prints the sizes involved.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The function list and each one's build metadata, from template.yaml itself (the emulator's
# reader is not needed: the SAM translator's own view, through scripts/cfn-lint-check's Python).
cfn=$(command -v cfn-lint); head -c 200 "$cfn" | grep -q pyenv && cfn=$(pyenv which cfn-lint)
tpy=$(head -n1 "$cfn" | sed -n 's/^#![[:space:]]*//p'); tpy=${tpy##*/env }; tpy=${tpy%% *}
"$tpy" - template.yaml > "$work/fns" <<'PYEOF' || { echo "FAIL read the template"; exit 1; }
import sys
from cfnlint.decode import decode
t, m = decode(sys.argv[1])
g = t.get("Globals", {}).get("Function", {})
for name, r in t["Resources"].items():
    if r.get("Type") != "AWS::Serverless::Function":
        continue
    code = r.get("Properties", {}).get("CodeUri", g.get("CodeUri"))
    print(name, r.get("Metadata", {}).get("BuildMethod"), code)
PYEOF
n=$(wc -l < "$work/fns")
[ "$n" -ge 14 ] && pass "template has $n functions" || fail "template has $n functions (expected at least 14)"
bad=$(awk '$2 != "makefile" || $3 != "."' "$work/fns")
[ -z "$bad" ] && pass "every function: BuildMethod makefile, CodeUri ." || { fail "every function: BuildMethod makefile, CodeUri ."; echo "$bad"; }

total=0
while read -r id _ _; do
    art=$work/art/$id
    mkdir -p "$art"
    if ! out=$(make -s "build-$id" ARTIFACTS_DIR="$art" 2>&1); then fail "make build-$id"; echo "$out" | tail -5; continue; fi
    files=$(cd "$art" && find . -mindepth 1 | sort | tr '\n' ' ')
    if [ "$files" = "./bootstrap " ] && [ -x "$art/bootstrap" ] && file -b "$art/bootstrap" | grep -q 'statically linked'; then
        total=$((total + $(stat -c %s "$art/bootstrap"))); pass "build-$id: the artifact is one static bootstrap"
    else
        fail "build-$id: the artifact is one static bootstrap (has: $files)"
    fi
done < "$work/fns"

if out=$(make -s build-NoSuchFunction ARTIFACTS_DIR="$work/x" 2>&1); then fail "an unknown LogicalId fails"; else pass "an unknown LogicalId fails"; fi
if out=$(env -u ARTIFACTS_DIR make -s build-HealthFunction 2>&1); then fail "build-* without ARTIFACTS_DIR fails"; else pass "build-* without ARTIFACTS_DIR fails"; fi

if "$PY" -c 'import tomllib,sys; c=tomllib.load(open("samconfig.toml","rb")); b=c["default"]["build"]["parameters"]; d=c["default"]["deploy"]["parameters"]; sys.exit(0 if b.get("build_in_source") is True and b.get("parallel") is False and "CAPABILITY_IAM" in d.get("capabilities","") else 1)'; then
    pass "samconfig.toml: in-source, sequential build; CAPABILITY_IAM"; else fail "samconfig.toml: in-source, sequential build; CAPABILITY_IAM"; fi

# Figures: what the default (copying) makefile workflow would copy per function, vs the artifacts.
copy=$(du -sbL --exclude=.git --exclude=.aws-sam . 2>/dev/null | cut -f1)
echo "figures: artifacts of $n functions $((total / 1024)) KiB in all; a scratch copy of the source dir (without .git/.aws-sam, symlinks followed) would be $((copy / 1048576)) MiB per function"

check_done sam_build
