# tests/lib/check.sh — sourced by the shell tests (tests/function, tests/e2e; tests/lib/stack-test.sh
# sources it too): the `PASS name` / `FAIL name` lines of CONTRIBUTING and their count.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib/check.sh"
#
# Sets   fails=0, passes=0 (the FAIL and PASS lines printed so far).
# Gives  pass NAME              prints `PASS NAME`;
#        fail NAME [DETAIL]     prints `FAIL NAME` (`FAIL NAME (DETAIL)` with a detail), counts it;
#        die NAME               prints `FAIL NAME` and exits 1 (a setup step without which nothing
#                               else can run);
#        check NAME GOT WANT    PASS when GOT = WANT, else FAIL with both;
#        check_cmd NAME CMD...  PASS when CMD succeeds;
#        check_reply NAME STATUS REASON "STATUS BODY"
#                               PASS when an HTTP answer (status, a space, the body) has that status
#                               and, unless REASON is empty, that JSON "reason";
#        jget [FILE] KEY        a top-level member of the JSON object in FILE (`-` or none: stdin),
#                               a string as is, anything else as JSON; non-zero if absent or not JSON;
#        check_done [LABEL]     prints `LABEL: all passed` / `LABEL: N failed` (with a LABEL) and
#                               exits non-zero when any check failed.
fails=0 passes=0
pass() { printf 'PASS %s\n' "$1"; passes=$((passes + 1)); }
fail() { printf 'FAIL %s%s\n' "$1" "${2:+ ($2)}"; fails=$((fails + 1)); }
die() { printf 'FAIL %s\n' "$1"; exit 1; }
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
check_cmd() {
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
check_reply() {
  local name=$1 st=$2 reason=$3 got=$4 gst gbody greason
  gst=${got%% *}; gbody=${got#* }
  greason=$(jq -r '.reason // empty' <<<"$gbody" 2>/dev/null)
  if [ "$gst" = "$st" ] && { [ -z "$reason" ] || [ "$greason" = "$reason" ]; }; then pass "$name"
  else fail "$name" "got $gst ${greason:-$(head -c 200 <<<"$gbody")}, want $st $reason"; fi
}
jget() {
  /usr/bin/python3 -c '
import json, sys
f = sys.stdin if sys.argv[1] in ("", "-") else open(sys.argv[1], encoding="utf-8")
d = json.load(f)
if not isinstance(d, dict) or sys.argv[2] not in d:
    sys.exit(3)
v = d[sys.argv[2]]
print(v if isinstance(v, str) else json.dumps(v))' "${2:+$1}" "${2:-$1}" 2>/dev/null
}
check_done() {
  if [ -n "${1:-}" ]; then
    if [ "$fails" -eq 0 ]; then echo "$1: all passed"; else echo "$1: $fails failed"; fi
  fi
  exit $((fails > 0))
}
