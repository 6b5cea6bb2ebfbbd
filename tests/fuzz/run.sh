#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS — run every libFuzzer target (build/fuzz/*_fuzz) for SECONDS each,
# with its seed corpus from tests/fuzz/corpus/<name>/ when present. `make fuzz` runs it for 60 s
# each; `make test` runs a short smoke. Crashes are saved under build/fuzz/artifacts/.
# FUZZ_JOBS targets run at once (default: the number of cores; each target is one process on one
# core); the results are printed in target order once all have finished.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${1:-60}
jobs=${FUZZ_JOBS:-$(nproc)}
mkdir -p build/fuzz/artifacts build/fuzz/corpus
one() { # NAME: one target; its exit status in build/fuzz/NAME.rc
  local name=$1 work=build/fuzz/corpus/$1 seeds=tests/fuzz/corpus/$1 rc=0
  mkdir -p "$work"
  local args=("$work"); [ -d "$seeds" ] && args+=("$seeds")
  build/fuzz/"$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
    -artifact_prefix=build/fuzz/artifacts/"$name"- "${args[@]}" > build/fuzz/"$name".log 2>&1 || rc=$?
  echo "$rc" > build/fuzz/"$name".rc
}
names=()
for f in build/fuzz/*_fuzz; do
  [ -x "$f" ] || continue
  names+=("$(basename "$f")")
  rm -f build/fuzz/"${names[-1]}".rc
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  one "${names[-1]}" &
done
wait
rc=0
for name in "${names[@]}"; do
  if [ "$(cat build/fuzz/"$name".rc 2>/dev/null)" = 0 ]; then
    echo "PASS fuzz $name ($(grep -o 'Done [0-9]* runs' build/fuzz/"$name".log | tail -n1))"
  else
    echo "FAIL fuzz $name (exit $(cat build/fuzz/"$name".rc 2>/dev/null || echo '?'); see build/fuzz/$name.log)"
    tail -n 30 build/fuzz/"$name".log; rc=1
  fi
done
echo "fuzz targets run: ${#names[@]} ($jobs at a time)"
exit $rc
