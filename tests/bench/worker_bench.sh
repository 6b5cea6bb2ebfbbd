#!/usr/bin/env bash
# tests/bench/worker_bench.sh — the credential workers on the local stack (issue 19 targets):
#   1. warm /v1/cred/fetch and /v1/cred/store through the emulator's HTTP front at BENCH_CLIENTS
#      concurrent clients (default 8, each its own keep-alive connection), rounds interleaved
#      (fetch, store; next round store, fetch), BENCH_WORKER_REQS requests per client per round:
#      p50/p90/p99 over all requests, the median of the per-round p50s, requests/s, errors
#      (any answer but 200, or no answer) counted, never hidden;
#   2. instructions per warm fetch and per warm store of the worker process alone (callgrind), and
#      its syscalls per warm fetch/store (strace -f), each on a second emulator that shares the
#      stack but runs CredFetchFunction / CredStoreFunction under the tool, one instance each.
# "Warm": the instances are up and the same cap is presented again within its TTL, so the
# per-process cap-signature cache answers (expiry, op, class, PoP and the chain are checked on
# every request); the signer connection is kept alive.
# Starts its own stack (scripts/stack-up in build/bench/stack), stops it on exit. Figures only.
# BENCH_QUICK=1: 3 rounds of 10 requests per client, callgrind/strace over 20 requests.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
if [ "${BENCH_QUICK:-0}" = 1 ]; then q=1; else q=0; fi
CLIENTS=${BENCH_CLIENTS:-8}
ROUNDS=${BENCH_WORKER_ROUNDS:-$([ $q = 1 ] && echo 3 || echo 6)}
REQS=${BENCH_WORKER_REQS:-$([ $q = 1 ] && echo 10 || echo 25)}
CGN=${BENCH_WORKER_CG:-$([ $q = 1 ] && echo 20 || echo 50)}
PY=/usr/bin/python3
echo "### Credential workers on the local stack (anvil, Ceph radosgw, ak-signer, ak-emulator)"
echo
L=$top/build/bench/stack
OUT=$top/build/bench/worker
AK_LOCAL_DIR=$L scripts/stack-down >/dev/null 2>&1
rm -rf "$L" "$OUT"; mkdir -p "$L" "$OUT"
export AK_LOCAL_DIR=$L
EPID=
cleanup() {
  [ -n "$EPID" ] && { kill -TERM "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null; }
  scripts/stack-down >/dev/null 2>&1
  rm -rf "$OUT/work" # caps, STS credentials, keys
}
trap cleanup EXIT
t0=$(date +%s)
if ! timeout -k 5 300 scripts/stack-up > "$OUT/stack-up.log" 2>&1; then
  echo "skipped: scripts/stack-up failed (see ${OUT#"$top"/}/stack-up.log: $(tail -1 "$OUT/stack-up.log"))"; exit 0
fi
# shellcheck disable=SC1091
. "$L/stack.env"
export AK_WORK=$OUT/work; mkdir -p "$AK_WORK"
# shellcheck disable=SC1091
. tests/lib/akclient.sh
die() { echo "skipped: setup failed at $1"; exit 0; }
ak_new_wallet MASTER && ak_new_wallet AGENT || die wallets
PK=$AK_WORK/master.passkey
{ ak_passkey_new "$PK" && ak_register_first_master "$MASTER_KEY" "$PK" && ak_register_agent "$MASTER_KEY" "$AGENT_KEY" \
  && ak_set_scope "$MASTER_KEY" "$PK" 2 "$AGENT_ADDR" credentials:openrouter; } > "$OUT/setup.log" 2>&1 || die registry
OP_HEX=$(ak_omni "$MASTER_ADDR"); AG_HEX=$(ak_omni "$AGENT_ADDR")
scripts/local-iam allow-actor "$AG_HEX" "$OP_HEX" >> "$OUT/setup.log" 2>&1 || die local-iam
AGENT_S=$(ak_login "$AGENT_KEY" 2>> "$OUT/setup.log") || die login
r=$(ak_api POST /v1/mint-oidc-jwt "" -H "authorization: Bearer $AGENT_S"); [ "${r%% *}" = 200 ] || die mint-oidc-jwt
jwt=$(jq -r .jwt <<<"${r#* }")
CREDS=$(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= /usr/bin/aws --no-sign-request --endpoint-url "$AK_STS_ENDPOINT" \
  sts assume-role-with-web-identity --role-arn "$AK_VAULT_ROLE_ARN" --role-session-name "bench-$(date +%s)" \
  --web-identity-token "$jwt" --duration-seconds 3600 --output json 2>> "$OUT/setup.log" \
  | jq -c '.Credentials | {access_key_id: .AccessKeyId, secret_access_key: .SecretAccessKey, session_token: .SessionToken}') \
  || die sts
mint() { # ROUTE OP: a cap of the longest TTL (the bench must not outlive it)
  local r; r=$(ak_cap "$AGENT_S" "$1" "$(ak_cap_body "$AGENT_KEY" "$OP_HEX" "$AG_HEX" openrouter "$2" credentials | jq -c '.ttl_seconds = 1800')")
  [ "${r%% *}" = 200 ] || return 1; jq -r .cap <<<"${r#* }"
}
C_FETCH=$(mint cred-fetch fetch) && C_STORE=$(mint cred-store store) || die cap-mint
SECRET_B64=$(openssl rand -base64 48 | tr -d '\n')
r=$(ak_worker "$CREDS" /v1/cred/store "$(jq -cn --arg c "$C_STORE" --arg p "$SECRET_B64" '{cap:$c, plaintext_b64:$p}')")
[ "${r%% *}" = 200 ] || die "first store (${r:0:120})"
# request files for the load client (under build/bench/worker/work, removed on exit)
jq -cn --arg c "$C_FETCH" '{cap:$c}' > "$AK_WORK/fetch.json"
jq -cn --arg c "$C_STORE" --arg p "$SECRET_B64" '{cap:$c, plaintext_b64:$p}' > "$AK_WORK/store.json"
printf '%s' "$CREDS" > "$AK_WORK/creds.json"
echo "- stack up and one agent registered, scoped, logged in, with STS credentials and caps in $(( $(date +%s) - t0 )) s"

# ---- 1. wall clock at CLIENTS concurrent clients
# load URL ROUNDS REQS CLIENTS: interleaved fetch/store rounds; prints the markdown rows.
"$PY" - "$AK_API_URL" "$ROUNDS" "$REQS" "$CLIENTS" "$AK_WORK" <<'EOF'
import http.client, json, os, statistics, sys, threading, time, urllib.parse
url, rounds, reqs, clients, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
u = urllib.parse.urlparse(url)
creds = json.load(open(f"{work}/creds.json"))
bodies = {op: open(f"{work}/{op}.json", "rb").read() for op in ("fetch", "store")}
hdr = {"content-type": "application/json", "x-aws-access-key-id": creds["access_key_id"],
       "x-aws-secret-access-key": creds["secret_access_key"], "x-aws-session-token": creds["session_token"]}
def block(op, n, k=None):
    k = clients if k is None else k
    lat, err, reasons = [], [0], {}
    lock = threading.Lock()
    def client():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        for _ in range(n):
            t = time.monotonic()
            try:
                c.request("POST", f"/v1/cred/{op}", body=bodies[op], headers=hdr)
                r = c.getresponse(); b = r.read(); st = r.status
            except Exception as e:
                st, b = 0, type(e).__name__.encode()
                c.close(); c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            d = (time.monotonic() - t) * 1000
            with lock:
                if st == 200: lat.append(d)
                else:
                    err[0] += 1
                    try: why = json.loads(b).get("reason", "?")
                    except Exception: why = b[:40].decode("utf-8", "replace")
                    reasons[f"{st} {why}"] = reasons.get(f"{st} {why}", 0) + 1
        c.close()
    ts = [threading.Thread(target=client) for _ in range(k)]
    t0 = time.monotonic()
    for t in ts: t.start()
    for t in ts: t.join()
    return lat, err[0], reasons, time.monotonic() - t0
# Where the CPU goes: every process's user+system time (/proc/PID/stat, the whole thread group)
# before and after each concurrent block, summed per part of the stack.
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
PARTS = {**dict.fromkeys(("radosgw", "ceph-osd", "ceph-mon", "ceph-mgr"), "Ceph (radosgw, OSD, monitor, manager)"),
         "anvil": "anvil (the chain)", "ak-signer": "ak-signer", "ak-emulator": "ak-emulator (HTTP front, Runtime API)",
         "bootstrap": "the worker functions (`bootstrap`)"}
def cpu():
    snap = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit(): continue
        try: st = open(f"/proc/{pid}/stat").read()
        except OSError: continue
        comm, f = st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2:].split()
        part = ("kernel threads" if pid == "2" or f[1] == "2" else "this load client (Python)" if int(pid) == os.getpid()
                else PARTS.get(comm, "everything else"))
        snap[int(pid)] = (part, int(f[11]) + int(f[12]))
    return snap
def cpu_delta(a, b, into):
    for pid, (part, t) in b.items():
        into[part] = into.get(part, 0) + (t - a[pid][1] if pid in a and a[pid][0] == part else t)
block("fetch", 2); block("store", 2)  # warm-up: every instance up, the signer connection open
res = {op: dict(lat=[], p50s=[], err=0, reasons={}, secs=0.0, n=0, cpu={}) for op in ("fetch", "store")}
for r in range(rounds):
    for op in (("fetch", "store") if r % 2 == 0 else ("store", "fetch")):
        c0 = cpu()
        lat, e, why, secs = block(op, reqs)
        x = res[op]; x["lat"] += lat; x["err"] += e; x["secs"] += secs; x["n"] += clients * reqs
        cpu_delta(c0, cpu(), x["cpu"])
        if lat: x["p50s"].append(statistics.median(lat))
        for k, v in why.items(): x["reasons"][k] = x["reasons"].get(k, 0) + v
# One client alone (the latency of a request on an idle stack, no queueing behind others).
solo = {op: dict(lat=[], err=0, secs=0.0, n=0) for op in ("fetch", "store")}
for r in range(rounds):
    for op in (("fetch", "store") if r % 2 == 0 else ("store", "fetch")):
        lat, e, why, secs = block(op, reqs, 1)
        x = solo[op]; x["lat"] += lat; x["err"] += e; x["secs"] += secs; x["n"] += reqs
def q(v, p):
    v = sorted(v); return v[max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))] if v else float("nan")
print()
fig = open(f"{work}/../../figures.tsv", "a")
print(f"| route, {clients} concurrent clients | p50 ms | p90 ms | p99 ms | median of round p50s ms | requests/s | errors |")
print("|---|---|---|---|---|---|---|")
for op in ("fetch", "store"):
    x = res[op]
    errs = f"{x['err']} of {x['n']}" + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(x["reasons"].items())) + ")" if x["reasons"] else "")
    print(f"| `POST /v1/cred/{op}` | {q(x['lat'], 50):.1f} | {q(x['lat'], 90):.1f} | {q(x['lat'], 99):.1f} | "
          f"{statistics.median(x['p50s']) if x['p50s'] else float('nan'):.1f} | {x['n'] / x['secs']:.0f} | {errs} |")
    fig.write(f"worker {op} p50\t{q(x['lat'], 50):.1f}\nworker {op} errors\t{x['err']} of {x['n']}\n")
for op in ("fetch", "store"):
    x = solo[op]
    print(f"| `POST /v1/cred/{op}`, 1 client alone | {q(x['lat'], 50):.1f} | {q(x['lat'], 90):.1f} | {q(x['lat'], 99):.1f} | "
          f"— | {x['n'] / x['secs']:.0f} | {x['err']} of {x['n']} |")
    fig.write(f"worker {op} p50 solo\t{q(x['lat'], 50):.1f}\n")
fig.close()
print()
ncpu = os.cpu_count() or 1
print(f"| CPU per request at {clients} clients, by process | ms per fetch | ms per store | share of the CPU used |")
print("|---|---|---|---|")
parts = sorted(set(res["fetch"]["cpu"]) | set(res["store"]["cpu"]),
               key=lambda k: -(res["fetch"]["cpu"].get(k, 0) + res["store"]["cpu"].get(k, 0)))
used = sum(res["fetch"]["cpu"].values()) + sum(res["store"]["cpu"].values())
for k in parts:
    f, st = res["fetch"]["cpu"].get(k, 0), res["store"]["cpu"].get(k, 0)
    print(f"| {k} | {f * TICK_MS / max(1, res['fetch']['n']):.2f} | {st * TICK_MS / max(1, res['store']['n']):.2f} | "
          f"{100 * (f + st) / max(1, used):.0f}% |")
per = {op: sum(res[op]["cpu"].values()) * TICK_MS / max(1, res[op]["n"]) for op in ("fetch", "store")}
busy = {op: 100 * sum(res[op]["cpu"].values()) * TICK_MS / 1000 / max(1e-9, res[op]["secs"]) / ncpu for op in per}
print(f"| all | {per['fetch']:.2f} | {per['store']:.2f} | {busy['fetch']:.0f}% / {busy['store']:.0f}% of {ncpu} cores busy |")
print()
print(f"CPU: user+system time of every process (/proc/PID/stat) over the {clients}-client blocks, per answered or "
      f"failed request; a request's latency at {clients} clients is bounded below by {clients} × (all CPU per request) "
      f"÷ {ncpu} cores once the cores are busy.")
print()
print(f"{rounds} rounds, fetch and store interleaved (fetch first in even rounds), {reqs} requests per client per round, "
      f"each client on its own keep-alive connection to the emulator's HTTP front (up to 4 instances per function, "
      f"the emulator's default); latency from the client, so the emulator, the chain reads, the signer's KEK derivation "
      f"and the S3 round trips are all inside.")
EOF

curl -sS --max-time 10 "$AK_API_URL/__emulator/stats" > "$OUT/stats.json" 2>/dev/null
# cold FN: "p50 ms (n starts)" of exec -> first /next, and the instances' max RSS, from the stack's emulator
cold() {
  jq -r --arg f "$1" '.functions[] | select(.name == $f) | (.init_us | sort) as $v
    | if ($v | length) == 0 then "n/a | n/a" else
      "\(($v[(($v | length) - 1) / 2 | floor] / 1000 * 100 | round) / 100) (\($v | length)) | \((.max_rss_kb / 1024 * 100 | round) / 100)" end' \
    "$OUT/stats.json" 2>/dev/null || echo "n/a | n/a"
}

# ---- 2. instructions and syscalls per warm request of the worker process alone
desc() { printf '`%s` (%d KiB, %s)' "${1#"$top"/}" $(( $(stat -Lc %s "$1") / 1024 )) "$(file -bL "$1" | grep -q 'statically linked' && echo static || echo dynamic)"; }
FB=$top/build/release/cred-fetch/bootstrap SB=$top/build/release/cred-store/bootstrap
# tool_run NAME WRAP-PREFIX: a second emulator (same stack, same env) with both workers under the
# tool; sets EPID and P (its port), 1 when it did not start.
tool_run() {
  local d=$OUT/$1
  mkdir -p "$d"
  for w in fetch store; do
    local b; b=$([ $w = fetch ] && echo "$FB" || echo "$SB")
    printf '#!/bin/sh\nexec %s %s\n' "$(printf "$2" "$d/$w")" "$b" > "$d/$w.sh"; chmod +x "$d/$w.sh"
  done
  rm -f "$d/port"
  build/release/bin/ak-emulator --template template.yaml --root "$top" --flavour release --port 0 \
    --env-file "$L/emulator.env" --ready-file "$d/port" \
    --bootstrap "CredFetchFunction=$d/fetch.sh" --bootstrap "CredStoreFunction=$d/store.sh" \
    --max-instances CredFetchFunction=1 --max-instances CredStoreFunction=1 > "$d/emulator.log" 2>&1 &
  EPID=$!
  for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.1; done
  [ -s "$d/port" ] && P=$(cat "$d/port")
}
# send PORT OP N: N sequential requests on one connection; prints the number of non-200 answers.
send() {
  "$PY" - "$1" "$2" "$3" "$AK_WORK" <<'EOF'
import http.client, json, sys
port, op, n, work = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
creds = json.load(open(f"{work}/creds.json")); body = open(f"{work}/{op}.json", "rb").read()
hdr = {"content-type": "application/json", "x-aws-access-key-id": creds["access_key_id"],
       "x-aws-secret-access-key": creds["secret_access_key"], "x-aws-session-token": creds["session_token"]}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120); bad = 0
for _ in range(n):
    c.request("POST", f"/v1/cred/{op}", body=body, headers=hdr); r = c.getresponse(); r.read(); bad += r.status != 200
print(bad)
EOF
}
declare -A CG ST SCN
if command -v valgrind > /dev/null && command -v callgrind_control > /dev/null; then
  if tool_run callgrind "valgrind -q --tool=callgrind --callgrind-out-file=%s.%%p"; then
    for w in fetch store; do
      [ "$(send "$P" $w 5)" = 0 ] || { CG[$w]="n/a (warm-up failed)"; continue; }
      pid=$(pgrep -f "callgrind-out-file=$OUT/callgrind/$w\\." | head -1)
      [ -n "$pid" ] || { CG[$w]="n/a (no valgrind process)"; continue; }
      callgrind_control -z "$pid" > /dev/null 2>&1
      bad=$(send "$P" $w "$CGN")
      callgrind_control -d "$pid" > /dev/null 2>&1
      dump=$(ls -t "$OUT/callgrind/$w.$pid".* 2>/dev/null | head -1)
      t=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump" 2>/dev/null)
      if [ -n "$t" ] && [ "$bad" = 0 ]; then CG[$w]=$(( t / CGN )); CG[$w]=$(sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta' <<<"${CG[$w]}"); else CG[$w]="n/a ($bad errors)"; fi
    done
  fi
  kill -TERM "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null; EPID=
fi
if command -v strace > /dev/null; then
  if tool_run strace "strace -f -qq -o %s.trace"; then
    for w in fetch store; do
      [ "$(send "$P" $w 5)" = 0 ] || { ST[$w]="n/a (warm-up failed)"; continue; }
      sleep 0.3; a=$(wc -l < "$OUT/strace/$w.trace")
      bad=$(send "$P" $w "$CGN"); sleep 0.3
      [ "$bad" = 0 ] || { ST[$w]="n/a ($bad errors)"; continue; }
      ST[$w]=$(tail -n +"$(( a + 1 ))" "$OUT/strace/$w.trace" | grep -vc 'resumed>' | awk -v n="$CGN" '{printf "%.1f", $1 / n}')
      SCN[$w]=$(tail -n +"$(( a + 1 ))" "$OUT/strace/$w.trace" | grep -v 'resumed>' | sed -E 's/^[0-9]+ +//; s/\(.*//' |
        sort | uniq -c | sort -rn | awk -v n="$CGN" '{s = s sprintf("%s%s %.3g", s == "" ? "" : ", ", $2, $1 / n)} END {print s}')
    done
  fi
  kill -TERM "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null; EPID=
fi
for w in fetch store; do
  case ${CG[$w]:-} in [0-9]*) printf 'worker %s instructions\t%s\n' "$w" "${CG[$w]//,/}" >> "$top/build/bench/figures.tsv";; esac
done
echo
echo "| worker | binary | instructions / warm request (callgrind) | syscalls / warm request (strace -f) | cold start p50 ms (starts) | max RSS MB |"
echo "|---|---|---|---|---|---|"
echo "| CredFetchFunction | $(desc "$FB") | ${CG[fetch]:-n/a (no valgrind)} | ${ST[fetch]:-n/a (no strace)} | $(cold CredFetchFunction) |"
echo "| CredStoreFunction | $(desc "$SB") | ${CG[store]:-n/a (no valgrind)} | ${ST[store]:-n/a (no strace)} | $(cold CredStoreFunction) |"
echo
echo "Instructions and syscalls: the worker process alone, over $CGN sequential warm requests after 5 warm-up ones, one"
echo "instance, the same cap each time. Cold start (exec → first \`GET /next\`) and max RSS: the instances of the"
echo "concurrent run above."
[ -n "${SCN[fetch]:-}" ] && printf '\n%s\n' "Syscalls per warm request, by name: fetch ${SCN[fetch]}; store ${SCN[store]:-n/a}."
exit 0
