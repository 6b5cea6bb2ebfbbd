#!/usr/bin/env bash
# tests/e2e/stack_test.sh — the local stack's own tooling (scripts/stack-up, stack-down,
# ceph-up, lib/free-ports), which every other end-to-end test and `make demo` stand on:
#   - free-ports hands out distinct ports below the kernel's ephemeral range, and a free range;
#   - a Ceph that fails to come up on the first try (here: a radosgw that exits at once, through
#     a PATH shim) is stopped and started again on fresh ports, and the stack comes up whole;
#     the first attempt's log is kept;
#   - stack-up refuses a second start over a running stack without touching it;
#   - stack-down stops every process stack-up recorded and leaves no stack.env behind;
#   - the contract deploy reuses the build's artifacts (no solc compile under its time cap), and
#     a deploy that fails (here: its cap cut to 1 s through a `timeout` PATH shim) puts its own
#     log and the reason (timed out) in stack-up's output.
# Env: KEEP_TMP=1 keeps the work directory.
set -uo pipefail
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stack-test.sh" stack

# ---- free-ports
low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
out=$(scripts/lib/free-ports 6 --range 21) || fail "free_ports_runs"
read -r -a ports <<<"$(head -n1 <<<"$out")"
base=$(tail -n1 <<<"$out")
uniq=$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)
below=1
for p in "${ports[@]}" "$base" "$((base + 20))"; do [ "$p" -lt "$low" ] && [ "$p" -ge 1024 ] || below=0; done
inrange=0
for p in "${ports[@]}"; do [ "$p" -ge "$base" ] && [ "$p" -le $((base + 20)) ] && inrange=1; done
{ [ "${#ports[@]}" = 6 ] && [ "$uniq" = 6 ] && [ $below = 1 ] && [ $inrange = 0 ]; } \
  && pass "free_ports_distinct_below_ephemeral" || fail "free_ports_distinct_below_ephemeral: $out (ephemeral from $low)"
scripts/lib/free-ports nope >/dev/null 2>&1; [ $? = 2 ] && pass "free_ports_usage_error" || fail "free_ports_usage_error"

# ---- a radosgw that fails its first start: stack-up retries Ceph once, on fresh ports
mkdir -p "$work/shim"
cat > "$work/shim/radosgw" <<EOF
#!/bin/sh
if [ ! -e "$work/shim/failed-once" ]; then : > "$work/shim/failed-once"; echo "shim: radosgw fails this once" >&2; exit 1; fi
exec /usr/bin/radosgw "\$@"
EOF
chmod +x "$work/shim/radosgw"
if PATH=$work/shim:$PATH AK_LOCAL_DIR=$L scripts/stack-up > "$work/up.log" 2>&1; then
  pass "stack_up_after_one_ceph_failure"
else
  sed 's/^/    /' "$work/up.log"; fail "stack_up_after_one_ceph_failure"
fi
grep -q "trying once more on fresh ports" "$work/up.log" && [ -e "$work/shim/failed-once" ] \
  && pass "stack_up_retried_ceph" || fail "stack_up_retried_ceph"
grep -q "shim: radosgw fails this once" "$L/logs/ceph-up.1.log" 2>/dev/null \
  && pass "stack_up_kept_first_attempt_log" || fail "stack_up_kept_first_attempt_log"
# shellcheck disable=SC1091
. "$L/stack.env" 2>/dev/null
if [ -n "${AK_API_URL:-}" ] && curl -fsS -m 10 "$AK_API_URL/healthz" >/dev/null \
  && curl -fsS -m 10 -o /dev/null "$AK_S3_ENDPOINT/"; then
  pass "stack_serves_api_and_s3"
else
  fail "stack_serves_api_and_s3"
fi

# ---- the deploy compiled nothing: make / stack-up built contracts/out before its 180 s cap
if grep -q "reusing compiled artifacts" "$L/logs/deploy.log" 2>/dev/null && ! grep -q "Compiling" "$L/logs/deploy.log"; then
  pass "deploy_reuses_build_artifacts"
else fail "deploy_reuses_build_artifacts: $(head -c 400 "$L/logs/deploy.log" 2>/dev/null)"; fi

# ---- a second stack-up over a running stack is a no-op
pids_before=$(cat "$L"/pids/* "$L"/ceph/run/pid.* 2>/dev/null | sort | tr '\n' ' ')
out=$(AK_LOCAL_DIR=$L scripts/stack-up 2>&1)
pids_after=$(cat "$L"/pids/* "$L"/ceph/run/pid.* 2>/dev/null | sort | tr '\n' ' ')
[[ "$out" == *"already up"* ]] && [ "$pids_before" = "$pids_after" ] && [ -n "$pids_before" ] \
  && pass "stack_up_twice_is_noop" || fail "stack_up_twice_is_noop: $out"

# ---- stack-down stops every recorded process
AK_LOCAL_DIR=$L scripts/stack-down >/dev/null 2>&1
alive=""
for p in $pids_before; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
[ -z "$alive" ] && pass "stack_down_stops_everything" || fail "stack_down_stops_everything: still running:$alive"
[ ! -e "$L/stack.env" ] && pass "stack_down_removes_stack_env" || fail "stack_down_removes_stack_env"

# ---- a failed deploy explains itself: its log and the cause reach stack-up's output
mkdir -p "$work/shim2"
printf '%s\n' '#!/bin/bash' \
  '# the deploy (under timeout -k 5 180) runs to its end, then hangs until a 1 s cap cuts it:' \
  '# exit 124 and a deploy log however fast or slow the machine is; every other cap is left alone' \
  'if [ "${1:-}" = -k ] && [ "${3:-}" = 180 ]; then shift 3; "$@"; exec /usr/bin/timeout -k 1 1 sleep 600; fi' \
  'exec /usr/bin/timeout "$@"' > "$work/shim2/timeout"
chmod +x "$work/shim2/timeout"
L2=$work/local2
if PATH=$work/shim2:$PATH AK_LOCAL_DIR=$L2 scripts/stack-up > "$work/up2.log" 2>&1; then
  fail "stack_up_deploy_failure_reported: stack-up succeeded though its deploy timed out"
  AK_LOCAL_DIR=$L2 scripts/stack-down >/dev/null 2>&1
elif grep -q "contract deploy failed (exit 124, timed out" "$work/up2.log" && grep -q "deploy.log: deploy:" "$work/up2.log"; then
  pass "stack_up_deploy_failure_reported"
else
  sed 's/^/    /' "$work/up2.log"; fail "stack_up_deploy_failure_reported"
fi
[ ! -e "$L2/stack.env" ] && pass "stack_up_deploy_failure_leaves_no_stack" || fail "stack_up_deploy_failure_leaves_no_stack"

exit $((fails > 0))
