#!/usr/bin/python3
"""tests/function/lib/fake_rapi.py — a minimal fake Lambda Runtime API for function tests.

Usage: fake_rapi.py PORT_FILE POSTS_JSONL [--fn NAME] EVENT_FILE...

Listens on 127.0.0.1 (random port, written to PORT_FILE), serves each event once on
GET /2018-06-01/runtime/invocation/next with the Lambda-Runtime-* headers (request id
fn-test-<i>, deadline now+30 s), records every POST (/response, /error, /init/error) as one JSON
line {"path","expect","type","body","t"} in POSTS_JSONL (t: arrival, epoch seconds), and exits once every event has been answered
(or an /init/error arrived). The bootstrap then finds the API gone and exits. Generalised from
tests/function/health_test.sh.
"""
import http.server
import json
import os
import socket
import sys
import time

args = sys.argv[1:]
fn = "Function"
if len(args) >= 4 and args[2] == "--fn":
    fn = args[3]
    del args[2:4]
port_file, posts_file, event_files = args[0], args[1], args[2:]
events = [open(p, "rb").read() for p in event_files]
out = open(posts_file, "w")
state = {"next": 0, "posts": 0}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle + the client's
        # delayed ACK add ~40 ms per answer, which would swamp any throughput figure.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next") or state["next"] >= len(events):
            self.close_connection = True
            return
        i = state["next"]
        state["next"] += 1
        body = events[i]
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "fn-test-%d" % i)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:" + fn)
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Sampled=0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        out.write(json.dumps({"path": self.path, "expect": self.headers.get("Expect"),
                              "type": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                              "body": body, "t": time.time()}) + "\n")
        out.flush()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        state["posts"] += 1
        if state["posts"] == len(events) or self.path.endswith("/init/error"):
            self.wfile.flush()
            os._exit(0)


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.replace(port_file + ".tmp", port_file)
srv.serve_forever()
