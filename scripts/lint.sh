#!/usr/bin/env bash
# scripts/lint.sh [--fix] — the house rules a compiler does not check (STYLE §14):
#   1. banned functions in our C sources;
#   2. raw malloc/calloc/realloc/free outside shared/src/base/alloc.c (everything goes through ak_malloc);
#   3. clang-format: no difference from .clang-format (--fix rewrites in place);
#   4. libak's layering: every include points down (scripts/check-layers);
#   5. template.yaml (as written and SAM-transformed) and deploy/signer-host.yaml: cfn-lint, no
#      error or warning outside scripts/cfn-lint-ignore (scripts/cfn-lint-check).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
fix=0; [ "${1:-}" = "--fix" ] && fix=1
# 5 first, in the background: cfn-lint is the slow part (one Python process per template pass).
cfn_out=$(mktemp)
trap 'rm -f "$cfn_out"' EXIT
./scripts/cfn-lint-check > "$cfn_out" 2>&1 &
cfn_pid=$!
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -vE '^(node_modules|build)/' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
rc=0

banned='\b(strcpy|strcat|sprintf|vsprintf|sscanf|atoi|atol|atoll|strtok|gets|gmtime|localtime|tmpnam|mktemp)[[:space:]]*\('
# Strip comments and string literals crudely before matching, so prose can name the functions.
hits=$(for f in "${files[@]}"; do
  sed -E 's@/\*.*\*/@@g; s@"([^"\\]|\\.)*"@""@g' "$f" | grep -nE "$banned" | sed "s|^|$f:|"; done)
if [ -n "$hits" ]; then echo "banned function used:"; echo "$hits"; rc=1; fi

raw=$(for f in "${files[@]}"; do
  case "$f" in shared/src/base/alloc.c|tests/*|contracts/*) continue ;; esac
  sed -E 's@/\*.*\*/@@g; s@"([^"\\]|\\.)*"@""@g' "$f" | grep -nE '(^|[^_a-z.>])(malloc|calloc|realloc|free)[[:space:]]*\(' | sed "s|^|$f:|"; done)
if [ -n "$raw" ]; then echo "raw allocator call outside shared/src/base/alloc.c (use ak_malloc/ak_free):"; echo "$raw"; rc=1; fi

if command -v clang-format >/dev/null; then
  if [ $fix = 1 ]; then
    clang-format -i "${files[@]}"
  else
    # one process for every file; a violation is reported as FILE:LINE:COL: error: ...
    if ! cf=$(clang-format --dry-run -Werror "${files[@]}" 2>&1); then
      bad=$(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' <<<"$cf" | sort -u)
      echo "not clang-formatted (run scripts/lint.sh --fix):"; echo "${bad:-$cf}"; rc=1
    fi
  fi
else
  echo "clang-format not installed (scripts/bootstrap installs it)"; rc=1
fi
./scripts/check-layers || rc=1
wait "$cfn_pid" || rc=1
cat "$cfn_out"

[ $rc = 0 ] && echo "lint: ${#files[@]} files clean"
exit $rc
