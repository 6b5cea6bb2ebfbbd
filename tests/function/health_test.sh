#!/usr/bin/env bash
# tests/function/health_test.sh — HealthFunction's real bootstrap driven by events/health-*.json
# through a minimal fake Lambda Runtime API (python3 on 127.0.0.1, random port).
#   BOOTSTRAP=build/release/health/bootstrap tests/function/health_test.sh   (default: dev build)
set -u
cd "$(dirname "$0")/../.."
BOOTSTRAP=${BOOTSTRAP:-build/dev/functions/health/bootstrap}
PY=/usr/bin/python3
. tests/lib/check.sh

[ -x "$BOOTSTRAP" ] || { echo "FAIL health: $BOOTSTRAP not built"; exit 1; }
work=$(mktemp -d)
fake_pid=""; boot_pid=""
cleanup() {
    [ -n "$boot_pid" ] && kill "$boot_pid" 2>/dev/null
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The fake serves each event once on /next, records every POST as a JSON line, and exits when
# every event has been answered (the bootstrap then finds the API gone and exits non-zero).
cat > "$work/fake.py" <<'PYEOF'
import http.server, json, os, sys, time
events = [open(p, 'rb').read() for p in sys.argv[3:]]
out = open(sys.argv[2], 'w')
state = {'next': 0, 'posts': 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def do_GET(self):
        if not self.path.endswith('/runtime/invocation/next') or state['next'] >= len(events):
            self.close_connection = True
            return
        i = state['next']; state['next'] += 1
        body = events[i]
        self.send_response(200)
        self.send_header('Lambda-Runtime-Aws-Request-Id', 'fn-test-%d' % i)
        self.send_header('Lambda-Runtime-Deadline-Ms', str(int(time.time() * 1000) + 30000))
        self.send_header('Lambda-Runtime-Invoked-Function-Arn', 'arn:aws:lambda:us-east-1:123456789012:function:HealthFunction')
        self.send_header('Lambda-Runtime-Trace-Id', 'Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Sampled=0')
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(n).decode()
        out.write(json.dumps({'path': self.path, 'expect': self.headers.get('Expect'),
                              'type': self.headers.get('Lambda-Runtime-Function-Error-Type'),
                              'body': body}) + '\n')
        out.flush()
        self.send_response(202)
        self.send_header('Content-Length', '0')
        self.end_headers()
        state['posts'] += 1
        if state['posts'] == len(events):
            self.wfile.flush()
            os._exit(0)
srv = http.server.HTTPServer(('127.0.0.1', 0), H)
open(sys.argv[1], 'w').write(str(srv.server_address[1]))
srv.serve_forever()
PYEOF

"$PY" "$work/fake.py" "$work/port" "$work/posts.jsonl" events/health-get.json events/health-post.json &
fake_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "FAIL health: fake runtime api did not start"; exit 1; }

AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$work/port")" "$BOOTSTRAP" > "$work/log" 2>&1 &
boot_pid=$!
for _ in $(seq 200); do kill -0 "$fake_pid" 2>/dev/null || break; sleep 0.05; done
wait "$fake_pid" 2>/dev/null; fake_pid=""
for _ in $(seq 100); do kill -0 "$boot_pid" 2>/dev/null || break; sleep 0.05; done

check_posts() { # name, python expression over p (list of posted records)
    if "$PY" - "$work/posts.jsonl" "$2" <<'PYEOF'
import json, sys
p = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if eval(sys.argv[2]) else 1)
PYEOF
    then pass "$1"; else fail "$1"; fi
}
check_posts health_get_200 "p[0]['path'].endswith('/fn-test-0/response') and json.loads(p[0]['body'])['statusCode'] == 200"
check_posts health_get_body "json.loads(json.loads(p[0]['body'])['body'])['status'] == 'ok' and json.loads(json.loads(p[0]['body'])['body'])['function'] == 'health'"
check_posts health_post_405 "p[1]['path'].endswith('/fn-test-1/response') and json.loads(p[1]['body'])['statusCode'] == 405 and json.loads(json.loads(p[1]['body'])['body'])['reason'] == 'method_not_allowed'"
check_posts health_no_expect "all(r['expect'] is None for r in p)"
if grep -q '"rid":"fn-test-0"' "$work/log" && ! grep -q '"status":"ok","function"' "$work/log"; then
    pass health_logs_rid_not_body
else
    fail health_logs_rid_not_body
fi
if kill -0 "$boot_pid" 2>/dev/null; then fail health_exits_when_api_gone; else pass health_exits_when_api_gone; fi
exit $((fails > 0))
