#!/bin/bash
# tests/bench/cold_start.sh — our runtime against the official peers on our emulator (issue 2 §9,
# issue 19 item 1). Prints a markdown section (part of build/bench/measured.md); figures only,
# never passes or fails on them.
#
# Peers (each skipped, with the reason, when it cannot be built here):
#   ours-noop   our runtime with a no-op raw handler (tests/bench/noop_runtime_bench.c): the
#               like-for-like peer of node and cpp, which run no-op handlers too
#   ours-health build/release/health/bootstrap (HealthFunction: API Gateway decode/encode, a log line)
#   floor       the least any runtime can do through the Runtime API (tests/bench/rapi_floor_bench.c:
#               raw socket, no parsing): what the emulator and the kernel cost
#   cpp-static  a no-op handler on aws-lambda-cpp 0.2.8 linked with -static (libstdc++, libgcc,
#               glibc, libcurl all inside; tests/bench/build-cpp-peer.sh says what if not)
#   cpp-dynamic the same handler, libstdc++/libgcc_s/libc from the system's shared libraries
#   node        a no-op handler under npm aws-lambda-ric 3.3.0 (its native addon is built on first
#               use with `npm rebuild aws-lambda-ric --foreground-scripts --ignore-scripts=false`)
# Every row names its binary: path, size, how it is linked.
#
# Wall-clock figures are interleaved: round r runs every peer once (A B C … then, next round,
# starting one peer further on), so a load spike hits all peers alike. Per peer: the median over
# rounds; per pair: the median of the per-round ratios.
#   cold start  exec -> first GET /next, timestamped by the emulator; BENCH_COLD rounds (default 20)
#   invokes/s   BENCH_ROUNDS rounds (default 10) of BENCH_COUNT/BENCH_ROUNDS sequential Invoke API
#               calls on one keep-alive connection (tests/bench/invoke_bench.c)
# Counts (not time, so one run per peer suffices, whatever else the machine does):
#   instructions per warm invoke  callgrind, BENCH_CG_COUNT invokes (default 300) after 10 warm-up
#   syscalls per warm invoke      strace -f, BENCH_ST_COUNT invokes (default 200) after 10 warm-up
# BENCH_QUICK=1 lowers the defaults (COLD 8, ROUNDS 4, COUNT 800, CG 100, ST 100); BENCH_NODE=0 and
# BENCH_CPP=0 leave those peers out (the smoke test, tests/function/bench_smoke_test.sh).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_LAMBDA_OUT:-$ROOT/build/bench/lambda} # its parent gets figures.tsv
if [ "${BENCH_QUICK:-0}" = 1 ]; then q=1; else q=0; fi
COLD=${BENCH_COLD:-$([ $q = 1 ] && echo 8 || echo 20)}
ROUNDS=${BENCH_ROUNDS:-$([ $q = 1 ] && echo 4 || echo 10)}
COUNT=${BENCH_COUNT:-$([ $q = 1 ] && echo 800 || echo 2000)}
CG_COUNT=${BENCH_CG_COUNT:-$([ $q = 1 ] && echo 100 || echo 300)}
ST_COUNT=${BENCH_ST_COUNT:-$([ $q = 1 ] && echo 100 || echo 200)}
PER=$(( COUNT / ROUNDS )); [ "$PER" -ge 1 ] || PER=1
PY=/usr/bin/python3
mkdir -p "$OUT"
rm -rf "$OUT"/*.cold "$OUT"/*.warm.* "$OUT"/*.stats "$OUT"/*.bin "$OUT"/*.cg "$OUT"/*.st "$OUT"/callgrind "$OUT"/strace

echo "### Lambda runtime: ours vs aws-lambda-cpp (static and dynamic), Node aws-lambda-ric, the raw-socket floor"
skip() { echo "- $1: skipped: $2"; }

EMU="$ROOT/build/release/bin/ak-emulator"
[ -x "$EMU" ] || { echo "skipped: no build/release/bin/ak-emulator (make release)"; exit 0; }
CLIENT="$ROOT/build/release/bench/invoke_bench"
[ -x "$CLIENT" ] || { echo "skipped: no $CLIENT (make bench-build)"; exit 0; }

# describe PATH: "`path` (N KiB, static | static-pie | dynamic: libs)" for the row's binary column.
describe() {
    local f=$1 ft kind rel
    rel=${f#"$ROOT"/}
    ft=$(file -bL "$f")
    case $ft in
        *"static-pie linked"*) kind="static-pie";;
        *"statically linked"*) kind="static";;
        *"dynamically linked"*) kind="dynamic: $(ldd "$f" 2>/dev/null | awk '$1 !~ /vdso|ld-linux/ {sub(/\.so.*/, "", $1); printf "%s ", $1}' | sed 's/ $//')";;
        *) kind=$(cut -d, -f1 <<<"$ft");;
    esac
    case $ft in *", stripped"*) kind="$kind, stripped";; esac
    printf '`%s` (%d KiB, %s)' "$rel" $(( $(stat -Lc %s "$f") / 1024 )) "$kind"
}

PEERS=() # name
declare -A FN BIN DESC
add_peer() { PEERS+=("$1"); FN[$1]=$2; BIN[$1]=$3; DESC[$1]=$4; }
for p in noop_runtime rapi_floor; do
    b=$ROOT/build/release/bench/${p}_bench
    name=$([ $p = noop_runtime ] && echo ours-noop || echo floor)
    if [ -x "$b" ]; then
        add_peer "$name" "$([ $p = noop_runtime ] && echo OursNoopFunction || echo FloorFunction)" "$b" "$(describe "$b")"
    else
        skip "$name" "$b missing (make bench-build)"
    fi
done
if [ -x "$ROOT/build/release/health/bootstrap" ]; then
    add_peer ours-health OursFunction "$ROOT/build/release/health/bootstrap" "$(describe "$ROOT/build/release/health/bootstrap")"
else
    skip ours-health "build/release/health/bootstrap missing (make release)"
fi
for v in static dynamic; do
    if [ "${BENCH_CPP:-1}" = 0 ]; then
        skip "cpp-$v" "BENCH_CPP=0"
    elif CPP=$("$ROOT/tests/bench/build-cpp-peer.sh" "$ROOT" "$v" 2> "$OUT/cpp-$v-build.log"); then
        add_peer "cpp-$v" "Cpp${v^}Function" "$CPP" "$(describe "$CPP")"
        grep -h "^cpp peer:" "$OUT/cpp-$v-build.log" | sed 's/^/- /'
    else
        skip "cpp-$v" "aws-lambda-cpp peer did not build (see ${OUT#"$ROOT"/}/cpp-$v-build.log)"
    fi
done
RIC="$ROOT/node_modules/aws-lambda-ric"
if [ "${BENCH_NODE:-1}" = 0 ]; then
    skip node "BENCH_NODE=0"
elif ! command -v node > /dev/null; then
    skip node "node is not installed"
elif [ ! -d "$RIC" ]; then
    skip node "node_modules/aws-lambda-ric missing (npm ci)"
else
    if [ ! -f "$RIC/dist/rapid-client.node" ] && [ -d "$RIC/deps/aws-lambda-cpp-0.2.8" -o -f "$RIC/deps/aws-lambda-cpp-0.2.8.tar.gz" ]; then
        (cd "$ROOT" && npm rebuild aws-lambda-ric --foreground-scripts --ignore-scripts=false) > "$OUT/node-rebuild.log" 2>&1
    fi
    if [ -f "$RIC/dist/rapid-client.node" ]; then
        mkdir -p "$OUT/node"
        printf 'export const handler = async () => ({});\n' > "$OUT/node/index.mjs"
        printf '#!/bin/sh\nexec node %s/bin/index.mjs "$_HANDLER"\n' "$RIC" > "$OUT/node/bootstrap"
        chmod +x "$OUT/node/bootstrap"
        nb=$(command -v node)
        add_peer node NodeFunction "$OUT/node/bootstrap" \
            "sh \`exec node\` $(node --version) $(describe "$(readlink -f "$nb")"), aws-lambda-ric 3.3.0"
    else
        skip node "aws-lambda-ric native addon did not build (see ${OUT#"$ROOT"/}/node-rebuild.log)"
    fi
fi
[ ${#PEERS[@]} -gt 0 ] || { echo "skipped: no peer could be built"; exit 0; }

# template FILE SUFFIX: one function per peer.
template() {
    {
        echo "Resources:"
        for p in "${PEERS[@]}"; do
            printf '  %s:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: 30\n      MemorySize: 128\n' "${FN[$p]}"
            [ "$p" = node ] && printf '      Handler: index.handler\n'
        done
    } > "$1"
}
template "$OUT/template.yaml"
"$PY" -c 'import json
print(json.dumps({"version":"2.0","routeKey":"GET /healthz","rawPath":"/healthz","rawQueryString":"",
  "headers":{"host":"127.0.0.1","user-agent":"invoke_bench"},"requestContext":{"accountId":"123456789012",
  "apiId":"local","domainName":"127.0.0.1","http":{"method":"GET","path":"/healthz","protocol":"HTTP/1.1",
  "sourceIp":"127.0.0.1","userAgent":"invoke_bench"},"requestId":"bench","routeKey":"GET /healthz",
  "stage":"$default","time":"01/Jan/2025:00:00:00 +0000","timeEpoch":1735689600000},"isBase64Encoded":False}))' > "$OUT/payload.json"

EPID=
emu_stop() { [ -n "$EPID" ] && { kill -TERM "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null; }; EPID=; }
trap emu_stop EXIT
# emu_start LOG ARGS...: starts the emulator, sets EPID and P (its port); 1 when it did not start.
emu_start() {
    local log=$1; shift
    rm -f "$OUT/port"
    "$EMU" --template "$OUT/template.yaml" --root "$ROOT" --port 0 --ready-file "$OUT/port" "$@" > "$log" 2>&1 &
    EPID=$!
    for _ in $(seq 1 100); do [ -s "$OUT/port" ] && break; sleep 0.1; done
    [ -s "$OUT/port" ] || return 1
    P=$(cat "$OUT/port")
}
inv() { "$CLIENT" --port "$P" --function "${FN[$1]}" --payload-file "$OUT/payload.json" "${@:2}"; }
# emu_start_wrapped DIR EXEC: every peer but node runs as DIR/<peer>.sh, `exec` of the command
# `printf EXEC DIR PEER BINARY` gives; then emu_start on those (log DIR/emulator.log).
emu_start_wrapped() {
    local dir=$1 fmt=$2 p args=()
    mkdir -p "$dir"
    for p in "${PEERS[@]}"; do
        [ "$p" = node ] && continue
        # shellcheck disable=SC2059 # the format is the caller's
        printf "#!/bin/sh\nexec $fmt\n" "$dir" "$p" "${BIN[$p]}" > "$dir/$p.sh"
        chmod +x "$dir/$p.sh"; args+=(--bootstrap "${FN[$p]}=$dir/$p.sh")
    done
    emu_start "$dir/emulator.log" "${args[@]}"
}
# warm_up PEER: 10 warm-up invokes of a peer measured under a wrapper; 1 (leave it out) for node,
# a failed peer, or a failed warm-up.
warm_up() { [ "$1" != node ] && [ -z "${BAD[$1]:-}" ] && inv "$1" --count 10 > /dev/null 2>&1; }

# ---- wall clock, interleaved
ARGS=()
for p in "${PEERS[@]}"; do ARGS+=(--bootstrap "${FN[$p]}=${BIN[$p]}"); done
emu_start "$OUT/emulator.log" "${ARGS[@]}" || { echo "skipped: the emulator did not start (see ${OUT#"$ROOT"/}/emulator.log)"; exit 0; }
declare -A BAD
# interleaved ROUNDS STEP: round r runs `STEP PEER r` for every peer not failed yet, starting one
# peer further on than round r-1.
interleaved() {
    local r k p n=${#PEERS[@]}
    for r in $(seq 0 $(( $1 - 1 ))); do
        for k in $(seq 0 $(( n - 1 ))); do
            p=${PEERS[$(( (k + r) % n ))]}
            [ -n "${BAD[$p]:-}" ] || "$2" "$p" "$r"
        done
    done
}
cold_step() { inv "$1" --cold 1 >> "$OUT/$1.cold" 2>> "$OUT/$1.err" || BAD[$1]="cold invoke failed: $(tail -1 "$OUT/$1.err")"; }
warm_step() { inv "$1" --count "$PER" > "$OUT/$1.warm.$2" 2>> "$OUT/$1.err" || BAD[$1]="warm invoke failed: $(tail -1 "$OUT/$1.err")"; }
interleaved "$COLD" cold_step
interleaved "$ROUNDS" warm_step
curl -sS "http://127.0.0.1:$P/__emulator/stats" > "$OUT/all.stats"
emu_stop

# ---- instructions per warm invoke (callgrind); node left out: its JIT under valgrind measures valgrind
CGOK=0
if command -v valgrind > /dev/null && command -v callgrind_control > /dev/null; then
    CG=$OUT/callgrind
    if emu_start_wrapped "$CG" 'valgrind -q --tool=callgrind --callgrind-out-file=%s/%s.%%p %s'; then
        CGOK=1
        for p in "${PEERS[@]}"; do
            warm_up "$p" || continue
            pid=$(pgrep -f "callgrind-out-file=$CG/$p\\." | head -1)
            [ -n "$pid" ] || continue
            callgrind_control -z "$pid" > /dev/null 2>&1
            inv "$p" --count "$CG_COUNT" > /dev/null 2>&1 || continue
            callgrind_control -d "$pid" > /dev/null 2>&1
            dump=$(ls -t "$CG/$p.$pid".* 2>/dev/null | head -1)
            t=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump" 2>/dev/null)
            # each invoke_bench run makes one uncounted warm-up invoke before its count
            [ -n "$t" ] && echo $(( t / (CG_COUNT + 1) )) > "$OUT/$p.cg"
        done
        emu_stop
    fi
fi

# ---- syscalls per warm invoke (strace -f, every line between two marks)
STOK=0
if command -v strace > /dev/null; then
    ST=$OUT/strace
    if emu_start_wrapped "$ST" 'strace -f -qq -o %s/%s.trace %s'; then
        STOK=1
        for p in "${PEERS[@]}"; do
            warm_up "$p" || continue
            sleep 0.3; a=$(wc -l < "$ST/$p.trace")
            inv "$p" --count "$ST_COUNT" > /dev/null 2>&1 || continue
            sleep 0.3
            # lines after mark a: one per syscall (a "resumed" line belongs to its "unfinished" one)
            tail -n +"$(( a + 1 ))" "$ST/$p.trace" | grep -v 'resumed>' |
                sed -E 's/^[0-9]+ +//; s/\(.*//' | sort | uniq -c |
                awk -v n=$(( ST_COUNT + 1 )) '{t += $1; s = s sprintf("%s%s %.2g", s == "" ? "" : ", ", $2, $1 / n)} END {printf "%.2f\t%s\n", t / n, s}' > "$OUT/$p.st"
        done
        emu_stop
    fi
fi

for p in "${PEERS[@]}"; do printf '%s\t%s\t%s\t%s\n' "$p" "${FN[$p]}" "${DESC[$p]}" "${BAD[$p]:-}"; done > "$OUT/peers.tsv"
"$PY" - "$OUT" "$COLD" "$ROUNDS" "$PER" "$CG_COUNT" "$ST_COUNT" "$CGOK" "$STOK" <<'EOF'
import json, os, statistics, sys
out, cold, rounds, per, cgn, stn, cgok, stok = sys.argv[1], *map(int, sys.argv[2:9])
peers = [l.rstrip("\n").split("\t") for l in open(f"{out}/peers.tsv")]
stats = {f["name"]: f for f in json.load(open(f"{out}/all.stats"))["functions"]}
med = statistics.median
res, order = {}, []
for name, fn, desc, bad in peers:
    if bad:
        print(f"- {name}: skipped: {bad}")
        continue
    st = stats[fn]
    init = [u / 1000.0 for u in st["init_us"]]
    ips, lat = [], []
    for r in range(rounds):
        kv = dict(l.split() for l in open(f"{out}/{name}.warm.{r}"))
        ips.append(float(kv["invocations_per_s"])); lat.append(float(kv["latency_us_p50"]))
    cg = open(f"{out}/{name}.cg").read().strip() if os.path.exists(f"{out}/{name}.cg") else None
    sc = open(f"{out}/{name}.st").read().rstrip("\n").split("\t") if os.path.exists(f"{out}/{name}.st") else None
    res[name] = dict(desc=desc, init=init, ips=ips, lat=lat, cg=int(cg) if cg else None, sc=sc,
                     rt=st["warm_duration_us_sum"] / max(1, st["warm_invocations"]), hwm=st["max_rss_kb"] / 1024.0)
    order.append(name)
if not res:
    print("no figures"); sys.exit(0)
def q(v, p):
    v = sorted(v); return v[max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))]
na = lambda why: f"n/a ({why})"
print()
print("| peer | binary | cold start p50 (p90) ms | invokes/s, median | latency p50 µs | instructions / warm invoke | syscalls / warm invoke | max RSS MB |")
print("|---|---|---|---|---|---|---|---|")
for n in order:
    r = res[n]
    cg = f"{r['cg']:,}" if r["cg"] is not None else na("node: JIT" if n == "node" else "no valgrind" if not cgok else "failed")
    sc = f"{float(r['sc'][0]):.2f}" if r["sc"] else na("node: threads" if n == "node" else "no strace" if not stok else "failed")
    print(f"| {n} | {r['desc']} | {med(r['init']):.2f} ({q(r['init'], 90):.2f}) | {med(r['ips']):,.0f} | {med(r['lat']):.1f} | {cg} | {sc} | {r['hwm']:.2f} |")
print()
print("Pairs (A / B; wall clock: the median of the per-round ratios, rounds interleaved):")
print()
print("| A / B | cold start | invokes/s | instructions / invoke | syscalls / invoke |")
print("|---|---|---|---|---|")
def ratio(a, b, k):
    x, y = res[a][k], res[b][k]
    m = min(len(x), len(y))
    return med([x[i] / y[i] for i in range(m)]) if m else None
pairs = [(a, b) for a in ("ours-noop", "ours-health") for b in ("floor", "cpp-static", "cpp-dynamic", "node") if a in res and b in res]
if "cpp-static" in res and "cpp-dynamic" in res: pairs.append(("cpp-static", "cpp-dynamic"))
fig = {}
for a, b in pairs:
    c, i = ratio(a, b, "init"), ratio(a, b, "ips")
    cg = f"{res[a]['cg'] / res[b]['cg']:.2f}×" if res[a]["cg"] and res[b]["cg"] else "—"
    sc = f"{float(res[a]['sc'][0]) / float(res[b]['sc'][0]):.2f}×" if res[a]["sc"] and res[b]["sc"] and float(res[b]["sc"][0]) else "—"
    print(f"| {a} / {b} | {c:.3f}× | {i:.2f}× | {cg} | {sc} |")
    fig[f"pair {a}/{b} cold"] = f"{c:.3f}"
    if cg != "—": fig[f"pair {a}/{b} instructions"] = cg.rstrip("×")
for n in order:
    if res[n]["cg"] is not None: fig[f"{n} instructions"] = str(res[n]["cg"])
    if res[n]["sc"]: fig[f"{n} syscalls"] = f"{float(res[n]['sc'][0]):.2f}"
# machine-readable figures for run.sh's summary against the issue 19 targets
with open(os.path.join(os.path.dirname(out), "figures.tsv"), "a") as f:
    for k, v in fig.items(): f.write(f"{k}\t{v}\n")
print()
print(f"Cold start: exec → first `GET /next` as the emulator timestamps it (posix_spawn .. request parsed), "
      f"{cold} interleaved rounds. invokes/s and latency: {rounds} interleaved rounds of {per} sequential invokes on one "
      f"keep-alive connection per peer, client and emulator included (the floor is the ceiling here). "
      f"Instructions: callgrind over {cgn} warm invokes of the process alone; syscalls: `strace -f` lines over {stn} warm invokes. "
      f"Max RSS: the process's VmHWM after the warm rounds.")
sc_lines = [f"{n} {res[n]['sc'][1]}" for n in order if res[n]["sc"]]
if sc_lines:
    print()
    print("Syscalls per warm invoke, by name: " + "; ".join(sc_lines) + ".")
EOF
