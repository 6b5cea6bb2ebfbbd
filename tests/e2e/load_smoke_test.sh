#!/usr/bin/env bash
# tests/e2e/load_smoke_test.sh — issue 16's load and fault run, small (20 agents, 6 s phases):
# tests/load/run.sh on its own stack with every fault (signer killed, radosgw stopped, anvil
# stopped, CredStoreFunction killed mid-store, K3 epoch advanced). Checks only correctness, never
# time: nothing acknowledged lost, nothing half-written, no wrong read, every phase ran
# requests, every refusal carried an HTTP status and a reason, and the stack served again after
# the faults. Then the checker's own negative control (LOAD_CONTROL): one deleted and one
# junk-overwritten object must come out as lost 1, half-written 1, exit 1.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
. tests/lib/check.sh
out=$(mktemp "${TMPDIR:-/tmp}/ak-load-smoke.XXXXXX")
trap 'rm -f "$out"' EXIT

LOAD_AGENTS=${LOAD_AGENTS:-20} LOAD_THREADS=${LOAD_THREADS:-8} LOAD_PHASE_SECONDS=${LOAD_PHASE_SECONDS:-6} \
  LOAD_CHAIN_HOLD=${LOAD_CHAIN_HOLD:-0} LOAD_CONTROL=1 timeout -k 10 420 tests/load/run.sh > "$out" 2>&1
rc=$?
sed 's/^/    /' "$out"
[ "$rc" = 0 ] && pass load_run_exit_0 || fail load_run_exit_0 "exit $rc"
grep -q '^lost 0, half-written 0, wrong reads 0, unverifiable 0 ' "$out" \
  && pass load_nothing_lost_or_half_written || fail load_nothing_lost_or_half_written
grep -qE '^bucket ak-vault: [1-9][0-9]* objects, 0 not an agent.s stored name or empty, 0 unfinished multipart uploads$' "$out" \
  && pass load_bucket_holds_only_stored_objects || fail load_bucket_holds_only_stored_objects
rows=$(grep -E '^\| (steady|signer|s3|chain|fnkill|epoch|after|verify) ' "$out")
for ph in steady signer s3 chain fnkill epoch after verify; do
  n=$(awk -F'|' -v p="$ph" '{gsub(/ /,"",$2)} $2==p {gsub(/ /,"",$4); print $4}' <<<"$rows")
  [ "${n:-0}" -gt 0 ] 2>/dev/null && pass "load_phase_${ph}_ran ($n requests)" || fail "load_phase_${ph}_ran" "row: ${n:-missing}"
done
# every refusal is "<http status>:<reason>" (fail closed with a reason), none a bare network error
bad=$(awk -F'|' '/^\| (login|steady|signer|s3|chain|fnkill|epoch|after|verify) /{print $11}' "$out" | tr ' ' '\n' \
  | grep -vE '^(-|)$' | grep -vE '^[45][0-9][0-9]:[a-z0-9_]+=[0-9]+$')
[ -z "$bad" ] && pass load_refusals_have_status_and_reason || fail load_refusals_have_status_and_reason "$(tr '\n' ' ' <<<"$bad")"
grep -q '^fault: signer stop: signer back' "$out" && grep -q '^fault: s3 stop: radosgw back' "$out" \
  && grep -q '^fault: chain stop: anvil .* continued' "$out" && grep -q 'killed mid-store' "$out" \
  && grep -q '^fault: epoch start: K3 epoch 1 -> 2' "$out" && pass load_every_fault_injected || fail load_every_fault_injected
ok_after=$(awk -F'|' '{gsub(/ /,"",$2)} $2=="after" {gsub(/ /,"",$5); print $5}' "$out")
[ "${ok_after:-0}" -gt 0 ] 2>/dev/null && pass "load_stack_serves_after_faults ($ok_after ok)" || fail load_stack_serves_after_faults
grep -q '^control: ak-load: injected (LOAD_INJECT): 1 acknowledged object(s) deleted, 1 overwritten with junk' "$out" \
  && grep -q '^control: lost 1, half-written 1, wrong reads 0' "$out" && grep -q '^control: exit 1$' "$out" \
  && pass load_checker_catches_lost_and_half_written || fail load_checker_catches_lost_and_half_written
[ "$fails" = 0 ] || { echo "load_smoke_test: $fails failed"; exit 1; }
echo "load_smoke_test: all passed"
