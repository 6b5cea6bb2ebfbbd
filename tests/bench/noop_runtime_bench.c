/*
 * tests/bench/noop_runtime_bench.c — a peer program for tests/bench/cold_start.sh, not a
 * benchmark of its own (run.sh skips it): our runtime (libakrt) with a raw handler that does
 * nothing and answers "{}", the same no-op the Node and C++ peers run. HealthFunction, the
 * "ours" peer, does real work per invoke (API Gateway decode/encode, a log line); this one
 * isolates what the runtime itself costs.
 */
#include "akrt/runtime.h"

static ak_err noop(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user) {
    (void)ctx;
    (void)event;
    (void)user;
    return ak_buf_append_str(out, "{}");
}

int main(void) { return akrt_run_raw("noop", noop, NULL, NULL); }
