# tests/lib/stack-reuse.sh — sourced by the end-to-end tests that run on the local stack already up
# ($AK_LOCAL_DIR, default build/local, when its stack.env is there) and start one of their own
# otherwise (scripts/stack-up in a temporary directory, its progress in the test's log). With
# `top` (the repository) set:
#
#   . "$top/tests/lib/stack-reuse.sh" NAME
#
# Sets   L (the stack's directory; exported as AK_LOCAL_DIR when started here) and sources its
#        stack.env; prints `FAIL stack_up` and exits 1 when the stack does not come up.
# Gives  stack_reuse_down: stops a stack started here and removes its directory (a stack that was
#        already up is left running); for the test's EXIT trap.
_stack_reuse_started=0
L=${AK_LOCAL_DIR:-$top/build/local}
if [ ! -f "$L/stack.env" ]; then
  L=$(mktemp -d "${TMPDIR:-/tmp}/ak-${1:-stack}-e2e.XXXXXX")
  export AK_LOCAL_DIR=$L
  if ! "$top/scripts/stack-up" 2>&1 | sed -u 's/^/    /'; then
    echo "FAIL stack_up"; rm -rf "$L"; exit 1
  fi
  _stack_reuse_started=1
fi
stack_reuse_down() {
  [ "$_stack_reuse_started" = 1 ] && AK_LOCAL_DIR=$L "$top/scripts/stack-down" >/dev/null 2>&1 && rm -rf "$L"
  true
}
# shellcheck disable=SC1091
. "$L/stack.env"
