#!/usr/bin/env bash
# tests/function/release_binaries_test.sh — every release bootstrap (and the signer) is a static
# ELF of at most 2 MB stripped (DESIGN.md §7), and every function in template.yaml has one.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
max=$((2 * 1024 * 1024))
fails=0; n=0
check() { # PATH
  local b=$1 size desc
  n=$((n + 1))
  if [ ! -x "$b" ]; then echo "FAIL $b missing (make release)"; fails=$((fails + 1)); return; fi
  size=$(stat -c %s "$b"); desc=$(file -b "$b")
  if [[ "$desc" != *"statically linked"* ]]; then echo "FAIL $b is not statically linked: $desc"; fails=$((fails + 1))
  elif [ "$size" -gt "$max" ]; then echo "FAIL $b is $size bytes (> $max)"; fails=$((fails + 1))
  else printf 'PASS %-40s %8d bytes, static\n' "$b" "$size"; fi
}
# The functions the template declares (LogicalId -> functions/<kebab> directory).
for id in $(grep -E '^  [A-Za-z]+Function:$' template.yaml | tr -d ' :'); do
  dir=$(printf '%s' "${id%Function}" | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z')
  check "build/release/$dir/bootstrap"
  [ -f "build/release/$dir/$dir.zip" ] || { echo "FAIL build/release/$dir/$dir.zip missing"; fails=$((fails + 1)); }
done
check build/release/bin/ak-signer
echo "release binaries: $n checked, $fails failed"
[ "$fails" -eq 0 ]
