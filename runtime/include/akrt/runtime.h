/*
 * akrt/runtime.h — agentkeys' own AWS Lambda Runtime API client (reference/lambda.md B7).
 *
 * Every function is one static `bootstrap` whose main() is a single call:
 *
 *     int main(void) { return akrt_run_http("health", health_handle, NULL, NULL); }
 *
 * Lifecycle (what akrt_run does, in order):
 *   1. Reads AWS_LAMBDA_RUNTIME_API, creates the one reused curl easy handle (no proxy, short
 *      connect timeout, HTTP/1.1 keep-alive), sets the log function name.
 *   2. Calls the optional init callback once. A failure is posted to /runtime/init/error with
 *      errorType = ak_err_type(e) and akrt_run returns non-zero (main exits, Lambda records
 *      the init failure).
 *   3. Loops: GET /runtime/invocation/next (no timeout: the sandbox is frozen while waiting),
 *      parses and checks every Lambda-Runtime-* header, sets _X_AMZN_TRACE_ID and the log
 *      request id, calls the handler, posts /response or /error, resets the per-invocation
 *      arena and buffers, and goes back to /next.
 *
 * Header checks (B7 table):
 *   Lambda-Runtime-Aws-Request-Id      required; 1..127 chars of [A-Za-z0-9._-] (it becomes a
 *                                      URL path segment). Missing or bad: the invocation cannot
 *                                      be addressed, so akrt_run logs it and returns non-zero
 *                                      (the platform reports Runtime.ExitError and restarts us).
 *   Lambda-Runtime-Deadline-Ms         required; strict decimal (digits only), non-zero. Missing
 *                                      or malformed: posted to /error as AgentKeys.invalid_event,
 *                                      the handler is NOT called.
 *   Lambda-Runtime-Invoked-Function-Arn required; starts with "arn:", printable, < AK_MAX_ARN.
 *   Lambda-Runtime-Trace-Id            optional; printable, no spaces, < AK_MAX_TRACE_ID.
 *   Lambda-Runtime-Client-Context      optional; printable, <= AK_MAX_CLIENT_CONTEXT.
 *   Lambda-Runtime-Cognito-Identity    optional; printable, <= AK_MAX_CLIENT_CONTEXT.
 *   Lambda-Runtime-Aws-Tenant-Id       optional; printable, no spaces, < AKRT_MAX_TENANT_ID.
 *   Any required header missing, any header present twice or malformed, or an event larger than
 *   AKRT_MAX_EVENT: posted to /error (invalid_event / too_large), handler not called.
 *
 * Responses:
 *   - /response bodies above AK_MAX_LAMBDA_PAYLOAD (6 MiB) are never sent: /error with
 *     AgentKeys.too_large instead.
 *   - /error and /init/error carry the header Lambda-Runtime-Function-Error-Type and the body
 *     {"errorMessage":"…","errorType":"AgentKeys.<reason>","stackTrace":[]}.
 *   - Every POST sends an explicit Content-Length and an empty `Expect:` (no 100-continue).
 *
 * Transport: a failure to talk to the Runtime API (connection refused, connection dropped,
 * nothing received) is retried with bounded exponential backoff (AKRT_RETRY_MAX attempts by
 * default); after that akrt_run returns non-zero. A 5xx answer to a POST also ends the loop
 * (RIE: "the runtime should exit"). No request has an overall timeout; /next in particular must
 * never time out.
 *
 * Threading: one invocation at a time, on the calling thread (default Lambda; not Managed
 * Instances' concurrent mode, B6). The loop is the only long-lived mutable state (STYLE §12).
 */
#ifndef AKRT_RUNTIME_H
#define AKRT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/limits.h"

/* Largest /next body accepted (RIE allows 6 MiB + 100 bytes of envelope). */
#define AKRT_MAX_EVENT (AK_MAX_LAMBDA_PAYLOAD + 100u)
#define AKRT_MAX_TENANT_ID 256u
/* Connect timeout for every Runtime API request (loopback: connects are instant). */
#define AKRT_CONNECT_TIMEOUT_MS 1000L
/* Transport retries per Runtime API request, and the first/maximum backoff. */
#define AKRT_RETRY_MAX 6u
#define AKRT_RETRY_BASE_MS 5u
#define AKRT_RETRY_CAP_MS 1000u

/*
 * One invocation, as announced by /next. Filled by the runtime, read-only for handlers, valid
 * until the handler returns. Strings are NUL-terminated; absent optional headers are "" / len 0.
 */
typedef struct akrt_invocation {
    char request_id[AK_MAX_REQUEST_ID];
    uint64_t deadline_ms; /* Unix epoch milliseconds */
    char function_arn[AK_MAX_ARN];
    char trace_id[AK_MAX_TRACE_ID];
    char tenant_id[AKRT_MAX_TENANT_ID];
    ak_cur client_context;   /* raw header value (Lambda sends JSON); len 0 when absent */
    ak_cur cognito_identity; /* raw header value; len 0 when absent */
    ak_cur event;            /* the event JSON bytes exactly as received */
} akrt_invocation;

/*
 * What a handler gets besides its input. Read-only except `arena`, which the handler allocates
 * from: everything in it is wiped and freed after the response is posted (STYLE §7), so
 * nothing of one invocation survives into the next.
 */
typedef struct akrt_ctx {
    ak_arena *arena;
    const akrt_invocation *inv;
    const char *function_name; /* the name given to akrt_run_* (also the log "fn") */
} akrt_ctx;

/* Milliseconds until the invocation's deadline, 0 once it has passed. Reads CLOCK_REALTIME. */
uint64_t akrt_remaining_ms(const akrt_ctx *ctx);
/* The request id (never NULL). */
const char *akrt_request_id(const akrt_ctx *ctx);

/*
 * Init callback: runs once before the first /next (read configuration, parse keys, open
 * long-lived clients). Returns AK_OK, or an error that is posted to /init/error.
 */
typedef ak_err (*akrt_init_fn)(void *user);

/*
 * Raw handler, for non-HTTP triggers (SES receipt rules, EventBridge schedules, direct Invoke).
 * Args: `event` is the event JSON as received; `out` is an empty bounded buffer (ceiling just
 * above AK_MAX_LAMBDA_PAYLOAD) for the response payload, normally JSON ("null" is a fine
 * empty answer; an empty buffer is sent as an empty body).
 * Returns: AK_OK → `out` is posted to /response. Any other code → /error with
 * errorType ak_err_type(e) and errorMessage ak_err_message(e); `out` is discarded.
 */
typedef ak_err (*akrt_raw_handler)(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user);

struct akrt_http_req;
struct akrt_http_resp;
/*
 * HTTP handler, for API Gateway HTTP API (payload format 2.0) routes; see akrt/apigw.h.
 * The runtime decodes the event (a malformed one never reaches the handler: the client gets
 * 400 invalid_event, 413 too_large or 400 bad_base64 with the D14 body) and encodes `resp`.
 * Returns: AK_OK → `resp` is sent as filled (status defaults to 200).
 *          An error → whatever the handler put in `resp` is dropped and the client gets the
 *          D14 response for that code (akrt_http_error): status ak_err_status(e), body
 *          {"error":"<ak_err_message>","reason":"<ak_err_reason>"}. Handlers therefore just
 *          AK_GUARD and return codes; they never build error bodies by hand.
 */
typedef ak_err (*akrt_http_handler)(akrt_ctx *ctx, const struct akrt_http_req *req,
                                    struct akrt_http_resp *resp, void *user);

/* Full configuration; akrt_run_http / akrt_run_raw fill it for the usual case. */
typedef struct akrt_config {
    const char *name;       /* function name for logs and ctx->function_name; required */
    akrt_http_handler http; /* exactly one of http / raw */
    akrt_raw_handler raw;
    akrt_init_fn init; /* optional */
    void *user;        /* passed to init and to every handler call */
    /* host:port of the Runtime API; NULL reads AWS_LAMBDA_RUNTIME_API. */
    const char *runtime_api;
    /* Test hooks. 0 = the defaults above / run forever. */
    uint64_t max_invocations; /* return 0 after this many /next answers were handled */
    unsigned retry_max;       /* transport retries per request */
    /* Called instead of sleeping before retry number `attempt` (1-based). Tests use it to
     * restart their fake Runtime API without timing dependencies. */
    void (*backoff_hook)(unsigned attempt, void *hook_user);
    void *hook_user;
} akrt_config;

/*
 * Runs the runtime loop. Returns 0 only when cfg->max_invocations was reached; otherwise it
 * returns 1 after an init failure (already reported to /init/error), a request id it cannot
 * answer, a Runtime API that stayed unreachable through all retries, or a 5xx from it.
 * Misuse (NULL cfg/name, zero or two handlers) aborts.
 */
int akrt_run(const akrt_config *cfg);
/* akrt_run with an HTTP handler. `init` may be NULL. */
int akrt_run_http(const char *name, akrt_http_handler handler, akrt_init_fn init, void *user);
/* akrt_run with a raw handler. `init` may be NULL. */
int akrt_run_raw(const char *name, akrt_raw_handler handler, akrt_init_fn init, void *user);

#endif
