/*
 * tests/lib/fake_rapi.h — a scripted fake Lambda Runtime API for unit tests.
 *
 * A loopback HTTP/1.1 server on a random port, in its own thread, serving one connection at a
 * time with keep-alive (like the real one). Each GET .../runtime/invocation/next consumes the
 * next scripted step:
 *   - an invocation: 200 with the step's headers and body;
 *   - DROP: the connection is closed without an answer (a transport error for the client);
 *   - DOWN: the connection and the listening socket are closed (connection refused from then on)
 *     until the test calls fake_rapi_up(), which listens again on the same port.
 * With no step left, /next is answered like DROP. Every POST is recorded and answered with
 * `post_status` (202 unless the test changes it before starting the runtime).
 *
 * Every request is recorded (method, path, raw header block, body up to FAKE_MAX_BODY bytes and
 * its full length). The fake uses no heap at all (only static storage), so it never disturbs the
 * ak_alloc counters that the leak check reads; the test thread only reads the records after the
 * runtime under test has returned.
 *
 * One fake at a time per test binary (the storage is static).
 */
#ifndef FAKE_RAPI_H
#define FAKE_RAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_MAX_STEPS 64u
#define FAKE_MAX_REQS 96u
#define FAKE_MAX_BODY 65536u
#define FAKE_MAX_HEAD 8192u

typedef struct fake_req {
    char method[8];
    char path[256];
    char head[FAKE_MAX_HEAD];     /* header lines after the request line, "\r\n"-separated */
    char body[FAKE_MAX_BODY + 1]; /* NUL-terminated copy of the first FAKE_MAX_BODY bytes */
    size_t body_len;              /* full length received */
} fake_req;

/* Starts the server thread on 127.0.0.1:<random free port>. Fails the test on error. */
void fake_rapi_start(void);
/* Stops the thread and closes every socket; the script and records are discarded. */
void fake_rapi_stop(void);
/* "127.0.0.1:<port>", for akrt_config.runtime_api. */
const char *fake_rapi_addr(void);

/* Scripted /next answers. `headers` are complete lines, each ending in "\r\n" (copied);
 * `body` is NOT copied and must outlive the run. */
void fake_rapi_push_raw(const char *headers, const void *body, size_t len);
/* An invocation with the usual headers: request id `rid`, a deadline 60 s from now, an ARN and
 * a trace id. */
void fake_rapi_push_invocation(const char *rid, const char *body);
void fake_rapi_push_drop(void);
void fake_rapi_push_down(void);
/* After a DOWN step: listen again on the same port (synchronously: connects succeed as soon as
 * this returns). Safe to call from the runtime's thread (e.g. from a backoff hook). */
void fake_rapi_up(void);
/* Status for POST answers (default 202). Set before the runtime starts. */
void fake_rapi_set_post_status(int status);

/* Records. */
size_t fake_rapi_count(void); /* all requests */
const fake_req *fake_rapi_req(size_t i);
size_t fake_rapi_next_count(void); /* GET /next requests */
size_t fake_rapi_post_count(void);
const fake_req *fake_rapi_post(size_t nth); /* the nth POST (0-based), NULL if none */
/* Case-insensitive header lookup in a recorded request; copies the trimmed value. */
bool fake_req_header(const fake_req *r, const char *name, char *out, size_t cap);

#endif
