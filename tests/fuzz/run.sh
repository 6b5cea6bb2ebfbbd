#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS — run every libFuzzer target (build/fuzz/*_fuzz) for SECONDS each,
# with its seed corpus from tests/fuzz/corpus/<name>/ when present. `make fuzz` runs it for 60 s
# each; `make test` runs a short smoke. Crashes are saved under build/fuzz/artifacts/.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${1:-60}
mkdir -p build/fuzz/artifacts build/fuzz/corpus
rc=0; n=0
for f in build/fuzz/*_fuzz; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  work=build/fuzz/corpus/$name; mkdir -p "$work"
  seeds=tests/fuzz/corpus/$name
  args=("$work"); [ -d "$seeds" ] && args+=("$seeds")
  if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
       -artifact_prefix=build/fuzz/artifacts/"$name"- "${args[@]}" > build/fuzz/"$name".log 2>&1; then
    echo "PASS fuzz $name ($(grep -o 'Done [0-9]* runs' build/fuzz/$name.log | tail -n1))"
  else
    echo "FAIL fuzz $name (see build/fuzz/$name.log)"; tail -n 30 build/fuzz/"$name".log; rc=1
  fi
  n=$((n+1))
done
echo "fuzz targets run: $n"
exit $rc
