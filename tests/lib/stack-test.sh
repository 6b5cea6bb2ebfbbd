# tests/lib/stack-test.sh — sourced by the end-to-end tests that start a local stack of their own
# (scripts/stack-up in a temporary AK_LOCAL_DIR). Usage, right after `set -uo pipefail`:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" NAME
#
# Sets   root (repository), work (a fresh temp dir, NAME in its name), L ($work/local), PY;
#        cds to $root; sources tests/lib/check.sh (fails=0, pass, fail, die, check, jget, ...).
# Gives  #        stack_test_up: scripts/stack-up with its progress in this test's log, then stack.env
#        sourced (dies "<NAME>_stack_up" on failure);
#        stack_test_on_exit 'CMD': CMD runs first when the test exits (kill a helper, ...).
# On exit (any exit, also a harness's TERM): the registered commands, scripts/stack-down for $L,
# and the work dir removed unless KEEP_TMP=1 (then its path is printed).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/${1:-stack-test}.XXXXXX") || exit 1
L=$work/local
. "$root/tests/lib/check.sh"
_stack_test_name=${1:-stack-test}
_stack_test_exit_cmds=()
stack_test_on_exit() { _stack_test_exit_cmds+=("$1"); }
_stack_test_cleanup() {
  local c
  for c in "${_stack_test_exit_cmds[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  AK_LOCAL_DIR=$L "$root/scripts/stack-down" >/dev/null 2>&1 || true
  if [ "${KEEP_TMP:-0}" != 1 ]; then rm -rf "$work"; else echo "work dir: $work"; fi
}
trap _stack_test_cleanup EXIT
stack_test_up() {
  AK_LOCAL_DIR=$L "$root/scripts/stack-up" 2>&1 | sed -u 's/^/    /' || die "${_stack_test_name}_stack_up"
  # shellcheck disable=SC1091
  . "$L/stack.env"
}
