/*
 * runtime_test.c — the Runtime API loop against a scripted fake Runtime API (tests/lib/fake_rapi).
 *
 * Covers: success, handler error → /error with the type header and document, init failure →
 * /init/error, malformed/missing/repeated headers rejected without calling the handler, missing
 * request id, oversize response and event, transport failures (drops, a restarted server, an
 * unreachable one) with bounded retries, arena reset between invocations, per-invoke trace id,
 * log lines (request id, never the body), the HTTP path end to end.
 */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "ak/json.h"
#include "ak/limits.h"
#include "ak/log.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"
#include "fake_rapi.h"

#define S_PREFIX "/2018-06-01/runtime/invocation/"

static unsigned g_calls;    /* handler calls */
static unsigned g_backoffs; /* backoff hook calls */
static unsigned g_up_at;    /* bring the fake back up at this backoff (0 = never) */
static ak_err g_result;     /* what the test handler returns */
static size_t g_out_len;    /* raw handler: bytes to emit (0 = echo the event) */

static void s_hook(unsigned attempt, void *user) {
    (void)attempt;
    (void)user;
    g_backoffs++;
    if (g_up_at != 0 && g_backoffs == g_up_at) fake_rapi_up();
}

static void s_reset_globals(void) {
    g_calls = g_backoffs = g_up_at = 0;
    g_result = AK_OK;
    g_out_len = 0;
}

static akrt_config s_cfg(uint64_t max) {
    akrt_config c = {
        .name = "rt-test", .runtime_api = fake_rapi_addr(), .max_invocations = max, .backoff_hook = s_hook};
    return c;
}

static ak_err s_echo(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user) {
    (void)ctx;
    (void)user;
    g_calls++;
    if (g_result != AK_OK) {
        /* Output written before failing must not be sent. */
        AK_GUARD(ak_buf_append_str(out, "partial"));
        return g_result;
    }
    if (g_out_len == 0) return ak_buf_append_cur(out, event);
    AK_GUARD(ak_buf_reserve(out, g_out_len));
    memset(out->ptr, 'a', g_out_len);
    out->len = g_out_len;
    out->ptr[out->len] = 0;
    return AK_OK;
}

static void s_expect_post(size_t nth, const char *path, const char *body) {
    const fake_req *p = fake_rapi_post(nth);
    assert_non_null(p);
    EXPECT_STR_EQ(p->path, path);
    if (body) EXPECT_STR_EQ(p->body, body);
}

/* Checks a posted /error: type header, content-length, and the JSON document. */
static void s_expect_error_post(size_t nth, const char *path, const char *type) {
    const fake_req *p = fake_rapi_post(nth);
    assert_non_null(p);
    EXPECT_STR_EQ(p->path, path);
    char v[256];
    EXPECT_TRUE(fake_req_header(p, "Lambda-Runtime-Function-Error-Type", v, sizeof(v)));
    EXPECT_STR_EQ(v, type);
    json_t *doc;
    EXPECT_OK(ak_json_parse_object(ak_cur_from(p->body, p->body_len), &doc));
    EXPECT_STR_EQ(json_string_value(json_object_get(doc, "errorType")), type);
    EXPECT_TRUE(json_is_string(json_object_get(doc, "errorMessage")));
    EXPECT_TRUE(json_string_length(json_object_get(doc, "errorMessage")) > 0);
    json_t *st = json_object_get(doc, "stackTrace");
    EXPECT_TRUE(json_is_array(st) && json_array_size(st) == 0);
    EXPECT_INT_EQ(json_object_size(doc), 3);
    json_decref(doc);
}

/* ------------------------------------------------------------------ raw handler */

AK_TEST(test_success_posts_response_for_the_request_id) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_invocation("rid-1", "{\"n\":1}");
    fake_rapi_push_invocation("rid-2", "{\"n\":2}");
    akrt_config c = s_cfg(2);
    c.raw = s_echo;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 2);
    EXPECT_INT_EQ(fake_rapi_next_count(), 2);
    EXPECT_INT_EQ(fake_rapi_post_count(), 2);
    s_expect_post(0, S_PREFIX "rid-1/response", "{\"n\":1}");
    s_expect_post(1, S_PREFIX "rid-2/response", "{\"n\":2}");
    /* B7 client details: explicit length, no 100-continue, no chunking; no error type. */
    const fake_req *p = fake_rapi_post(0);
    char v[64];
    EXPECT_TRUE(fake_req_header(p, "Content-Length", v, sizeof(v)));
    EXPECT_STR_EQ(v, "7");
    EXPECT_FALSE(fake_req_header(p, "Expect", v, sizeof(v)));
    EXPECT_FALSE(fake_req_header(p, "Transfer-Encoding", v, sizeof(v)));
    EXPECT_FALSE(fake_req_header(p, "Lambda-Runtime-Function-Error-Type", v, sizeof(v)));
    /* One keep-alive handle: /next carries no body and no proxy headers. */
    const fake_req *n = fake_rapi_req(0);
    EXPECT_STR_EQ(n->method, "GET");
    EXPECT_STR_EQ(n->path, S_PREFIX "next");
    EXPECT_FALSE(fake_req_header(n, "Proxy-Connection", v, sizeof(v)));
}

AK_TEST(test_handler_error_goes_to_error_with_type) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_invocation("rid-err", "{}");
    fake_rapi_push_invocation("rid-ok", "{}");
    akrt_config c = s_cfg(1);
    c.raw = s_echo;
    g_result = AK_E_FORBIDDEN;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    /* The loop goes on after an error. */
    g_result = AK_OK;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 2);
    s_expect_error_post(0, S_PREFIX "rid-err/error", "AgentKeys.forbidden");
    const fake_req *p = fake_rapi_post(0);
    EXPECT_TRUE(strstr(p->body, "partial") == NULL);
    char v[64];
    EXPECT_FALSE(fake_req_header(p, "Expect", v, sizeof(v)));
    EXPECT_TRUE(fake_req_header(p, "Content-Length", v, sizeof(v)));
    s_expect_post(1, S_PREFIX "rid-ok/response", "{}");
}

static ak_err s_init_fail(void *user) {
    (void)user;
    return AK_E_CONFIG;
}
static unsigned g_inits;
static ak_err s_init_ok(void *user) {
    EXPECT_STR_EQ((const char *)user, "state");
    g_inits++;
    return AK_OK;
}

AK_TEST(test_init_failure_goes_to_init_error_and_exits) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_invocation("rid-1", "{}");
    akrt_config c = s_cfg(1);
    c.raw = s_echo;
    c.init = s_init_fail;
    EXPECT_INT_EQ(akrt_run(&c), 1);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 0);
    EXPECT_INT_EQ(fake_rapi_next_count(), 0);
    EXPECT_INT_EQ(fake_rapi_post_count(), 1);
    s_expect_error_post(0, "/2018-06-01/runtime/init/error", "AgentKeys.config_error");
}

AK_TEST(test_init_runs_once_with_user_state) {
    s_reset_globals();
    g_inits = 0;
    fake_rapi_start();
    fake_rapi_push_invocation("a", "1");
    fake_rapi_push_invocation("b", "2");
    akrt_config c = s_cfg(2);
    c.raw = s_echo;
    c.init = s_init_ok;
    c.user = (void *)"state";
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_inits, 1);
    EXPECT_INT_EQ(g_calls, 2);
}

/* ------------------------------------------------------------------ header checks */

#define S_ARN_H "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n"
#define S_DL_H "Lambda-Runtime-Deadline-Ms: 4102444800000\r\n"

AK_TEST(test_bad_headers_are_rejected_without_calling_the_handler) {
    static const char *const cases[] = {
        /* malformed deadlines: strict decimal only */
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: abc\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: -1\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: +1700000000000\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: 17000000000.5\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: 1e12\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: 0x10\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: 1 2\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H
        "Lambda-Runtime-Deadline-Ms: 99999999999999999999999\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms:\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: 0\r\n",
        /* missing deadline, repeated deadline */
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H,
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_ARN_H S_DL_H S_DL_H,
        /* ARN missing or not an ARN */
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_DL_H,
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_DL_H "Lambda-Runtime-Invoked-Function-Arn: function:f\r\n",
        /* optional headers present but malformed */
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_DL_H S_ARN_H "Lambda-Runtime-Trace-Id: Root=1 2\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_DL_H S_ARN_H "Lambda-Runtime-Aws-Tenant-Id: a b\r\n",
        "Lambda-Runtime-Aws-Request-Id: r\r\n" S_DL_H S_ARN_H "Lambda-Runtime-Client-Context: \x01\r\n",
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    s_reset_globals();
    fake_rapi_start();
    for (size_t i = 0; i < n; i++)
        fake_rapi_push_raw(cases[i], "{}", 2);
    fake_rapi_push_invocation("good", "{}");
    akrt_config c = s_cfg(n + 1);
    c.raw = s_echo;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 1); /* only the good one */
    EXPECT_INT_EQ(fake_rapi_post_count(), n + 1);
    for (size_t i = 0; i < n; i++) {
        s_expect_error_post(i, S_PREFIX "r/error", "AgentKeys.invalid_event");
    }
    s_expect_post(n, S_PREFIX "good/response", "{}");
    /* The message names the header. */
    EXPECT_TRUE(strstr(fake_rapi_post(0)->body, "Lambda-Runtime-Deadline-Ms") != NULL);
    EXPECT_TRUE(strstr(fake_rapi_post(12)->body, "Lambda-Runtime-Invoked-Function-Arn is missing") != NULL);
}

AK_TEST(test_missing_or_bad_request_id_ends_the_loop) {
    static const char *const cases[] = {
        S_DL_H S_ARN_H,
        "Lambda-Runtime-Aws-Request-Id: ../../init/error\r\n" S_DL_H S_ARN_H,
        "Lambda-Runtime-Aws-Request-Id:\r\n" S_DL_H S_ARN_H,
        "Lambda-Runtime-Aws-Request-Id: a\r\nLambda-Runtime-Aws-Request-Id: b\r\n" S_DL_H S_ARN_H,
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s_reset_globals();
        fake_rapi_start();
        fake_rapi_push_raw(cases[i], "{}", 2);
        fake_rapi_push_invocation("never", "{}");
        akrt_config c = s_cfg(2);
        c.raw = s_echo;
        EXPECT_INT_EQ(akrt_run(&c), 1);
        fake_rapi_stop();
        EXPECT_INT_EQ(g_calls, 0);
        EXPECT_INT_EQ(fake_rapi_post_count(), 0);
        EXPECT_INT_EQ(fake_rapi_next_count(), 1);
    }
}

/* ------------------------------------------------------------------ context */

static char g_seen_trace[AK_MAX_TRACE_ID];
static bool g_trace_set;
static uint64_t g_remaining;
static char g_seen_cc[64], g_seen_tenant[AKRT_MAX_TENANT_ID], g_seen_arn[AK_MAX_ARN];

static ak_err s_ctx_probe(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user) {
    (void)event;
    (void)user;
    g_calls++;
    const char *t = getenv("_X_AMZN_TRACE_ID");
    g_trace_set = t != NULL;
    snprintf(g_seen_trace, sizeof(g_seen_trace), "%s", t ? t : "");
    g_remaining = akrt_remaining_ms(ctx);
    snprintf(g_seen_cc, sizeof(g_seen_cc), "%.*s", (int)ctx->inv->client_context.len,
             (const char *)ctx->inv->client_context.ptr);
    snprintf(g_seen_tenant, sizeof(g_seen_tenant), "%s", ctx->inv->tenant_id);
    snprintf(g_seen_arn, sizeof(g_seen_arn), "%s", ctx->inv->function_arn);
    EXPECT_STR_EQ(ctx->function_name, "rt-test");
    return ak_buf_append_str(out, akrt_request_id(ctx));
}

AK_TEST(test_context_trace_id_and_deadline) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_raw("Lambda-Runtime-Aws-Request-Id: c1\r\n" S_ARN_H
                       "lambda-runtime-deadline-ms: 4102444800000\r\n" /* names are case-insensitive */
                       "Lambda-Runtime-Trace-Id: Root=1-abc;Sampled=1\r\n"
                       "Lambda-Runtime-Client-Context: {\"client\": {}}\r\n"
                       "Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"x\"}\r\n"
                       "Lambda-Runtime-Aws-Tenant-Id: tenant-7\r\n",
                       "{}", 2);
    akrt_config c = s_cfg(1);
    c.raw = s_ctx_probe;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    EXPECT_TRUE(g_trace_set);
    EXPECT_STR_EQ(g_seen_trace, "Root=1-abc;Sampled=1");
    EXPECT_STR_EQ(g_seen_cc, "{\"client\": {}}");
    EXPECT_STR_EQ(g_seen_tenant, "tenant-7");
    EXPECT_STR_EQ(g_seen_arn, "arn:aws:lambda:us-east-1:1:function:f");
    EXPECT_TRUE(g_remaining > 0); /* deadline in 2100 */
    s_expect_post(0, S_PREFIX "c1/response", "c1");

    /* Next invoke: no trace header → the variable is gone; a past deadline → 0 remaining. */
    fake_rapi_push_raw("Lambda-Runtime-Aws-Request-Id: c2\r\n" S_ARN_H "Lambda-Runtime-Deadline-Ms: 1000\r\n",
                       "{}", 2);
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_FALSE(g_trace_set);
    EXPECT_TRUE(g_remaining == 0);
    EXPECT_STR_EQ(g_seen_cc, "");
    EXPECT_STR_EQ(g_seen_tenant, "");
}

AK_TEST(test_remaining_ms_is_bounded_by_the_deadline) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_invocation("d1", "{}"); /* deadline = now + 60 s */
    akrt_config c = s_cfg(1);
    c.raw = s_ctx_probe;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_TRUE(g_remaining > 0 && g_remaining <= 60000);
}

/* ------------------------------------------------------------------ sizes */

AK_TEST(test_oversize_response_is_an_error_not_sent) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_invocation("big", "{}");
    fake_rapi_push_invocation("max", "{}");
    akrt_config c = s_cfg(1);
    c.raw = s_echo;
    g_out_len = AK_MAX_LAMBDA_PAYLOAD + 1u;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    /* Exactly 6 MiB is allowed. */
    g_out_len = AK_MAX_LAMBDA_PAYLOAD;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    s_expect_error_post(0, S_PREFIX "big/error", "AgentKeys.too_large");
    EXPECT_TRUE(fake_rapi_post(0)->body_len < 1024);
    const fake_req *p = fake_rapi_post(1);
    EXPECT_STR_EQ(p->path, S_PREFIX "max/response");
    EXPECT_TRUE(p->body_len == AK_MAX_LAMBDA_PAYLOAD);
    /* libcurl would add "Expect: 100-continue" to a body this large unless told not to. */
    char v[64];
    EXPECT_FALSE(fake_req_header(p, "Expect", v, sizeof(v)));
    EXPECT_TRUE(fake_req_header(p, "Content-Length", v, sizeof(v)));
    EXPECT_STR_EQ(v, "6291456");
}

AK_TEST(test_oversize_event_is_rejected_and_the_loop_recovers) {
    s_reset_globals();
    size_t n = AKRT_MAX_EVENT + 1u;
    char *big = ak_malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    fake_rapi_start();
    fake_rapi_push_raw("Lambda-Runtime-Aws-Request-Id: huge\r\n" S_ARN_H S_DL_H, big, n);
    fake_rapi_push_invocation("after", "{}");
    akrt_config c = s_cfg(2);
    c.raw = s_echo;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    ak_free(big);
    EXPECT_INT_EQ(g_calls, 1);
    s_expect_error_post(0, S_PREFIX "huge/error", "AgentKeys.too_large");
    s_expect_post(1, S_PREFIX "after/response", "{}");
}

/* ------------------------------------------------------------------ transport */

AK_TEST(test_dropped_connections_are_retried) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_drop();
    fake_rapi_push_drop();
    fake_rapi_push_invocation("r1", "{}");
    akrt_config c = s_cfg(1);
    c.raw = s_echo;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_backoffs, 2);
    EXPECT_INT_EQ(g_calls, 1);
    EXPECT_INT_EQ(fake_rapi_next_count(), 3);
    s_expect_post(0, S_PREFIX "r1/response", "{}");
}

AK_TEST(test_server_restart_then_recovery) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_invocation("before", "{}");
    fake_rapi_push_down(); /* connection and listener closed */
    fake_rapi_push_invocation("after", "{}");
    g_up_at = 3; /* refused twice, then the server is back */
    akrt_config c = s_cfg(2);
    c.raw = s_echo;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_backoffs, 3);
    EXPECT_INT_EQ(g_calls, 2);
    s_expect_post(0, S_PREFIX "before/response", "{}");
    s_expect_post(1, S_PREFIX "after/response", "{}");
}

AK_TEST(test_unreachable_runtime_api_gives_up_after_bounded_retries) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_down(); /* the first /next closes everything; nobody brings it back */
    akrt_config c = s_cfg(1);
    c.raw = s_echo;
    c.retry_max = 3;
    EXPECT_INT_EQ(akrt_run(&c), 1);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_backoffs, 3);
    EXPECT_INT_EQ(g_calls, 0);
}

AK_TEST(test_default_retry_bound_with_real_backoff) {
    /* No hook: the real (short, bounded) sleeps run; the loop still ends. */
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_down();
    akrt_config c = s_cfg(1);
    c.raw = s_echo;
    c.backoff_hook = NULL;
    EXPECT_INT_EQ(akrt_run(&c), 1);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 0);
}

AK_TEST(test_post_5xx_ends_the_loop) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_set_post_status(500);
    fake_rapi_push_invocation("r1", "{}");
    fake_rapi_push_invocation("r2", "{}");
    akrt_config c = s_cfg(2);
    c.raw = s_echo;
    EXPECT_INT_EQ(akrt_run(&c), 1);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 1);
    EXPECT_INT_EQ(fake_rapi_next_count(), 1);
}

AK_TEST(test_post_4xx_loses_only_that_invocation) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_set_post_status(403);
    fake_rapi_push_invocation("r1", "{}");
    fake_rapi_push_invocation("r2", "{}");
    akrt_config c = s_cfg(2);
    c.raw = s_echo;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 2);
}

AK_TEST(test_missing_runtime_api_variable) {
    s_reset_globals();
    akrt_config c = {.name = "x", .raw = s_echo, .max_invocations = 1};
    unsetenv("AWS_LAMBDA_RUNTIME_API");
    EXPECT_INT_EQ(akrt_run(&c), 1);
    c.runtime_api = "127.0.0.1:1/evil?";
    EXPECT_INT_EQ(akrt_run(&c), 1);
    EXPECT_INT_EQ(g_calls, 0);
}

/* ------------------------------------------------------------------ arena */

static size_t g_used_at_entry[4];
static bool g_head_null_at_entry[4];

static ak_err s_arena_user(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user) {
    (void)event;
    (void)user;
    g_used_at_entry[g_calls] = ctx->arena->used_total;
    g_head_null_at_entry[g_calls] = ctx->arena->head == NULL;
    g_calls++;
    char *p = ak_arena_alloc(ctx->arena, 100000);
    AK_ENSURE(p != NULL, AK_E_NOMEM);
    memset(p, 's', 100000);
    if (g_calls == 2) return AK_E_INTERNAL; /* the error path resets too */
    return ak_buf_append_str(out, "null");
}

AK_TEST(test_arena_is_reset_between_invocations) {
    s_reset_globals();
    fake_rapi_start();
    fake_rapi_push_invocation("a1", "{}");
    fake_rapi_push_invocation("a2", "{}");
    fake_rapi_push_invocation("a3", "{}");
    size_t live_before = ak_alloc_live_count();
    akrt_config c = s_cfg(3);
    c.raw = s_arena_user;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 3);
    for (int i = 0; i < 3; i++) {
        EXPECT_INT_EQ(g_used_at_entry[i], 0);
        EXPECT_TRUE(g_head_null_at_entry[i]);
    }
    EXPECT_INT_EQ(ak_alloc_live_count(), live_before);
}

/* ------------------------------------------------------------------ logs */

AK_TEST(test_logs_carry_request_id_never_the_body) {
    s_reset_globals();
    char path[] = "/tmp/akrt-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    fake_rapi_start();
    fake_rapi_push_invocation("log-rid-1", "{\"secret\":\"SENTINEL-BODY\"}");
    fake_rapi_push_invocation("log-rid-2", "{\"secret\":\"SENTINEL-BODY\"}");
    akrt_config c = s_cfg(2);
    c.raw = s_echo;
    g_result = AK_E_UPSTREAM; /* an error line per invocation */
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ak_buf log;
    ak_buf_init(&log, 1u << 20);
    ak_test_read_file(path, &log);
    close(fd);
    unlink(path);
    const char *s = ak_buf_cstr(&log);
    EXPECT_TRUE(strstr(s, "\"rid\":\"log-rid-1\"") != NULL);
    EXPECT_TRUE(strstr(s, "\"rid\":\"log-rid-2\"") != NULL);
    EXPECT_TRUE(strstr(s, "\"fn\":\"rt-test\"") != NULL);
    EXPECT_TRUE(strstr(s, "upstream_error") != NULL);
    EXPECT_TRUE(strstr(s, "SENTINEL-BODY") == NULL);
    /* Every line is one JSON object. */
    for (const char *line = s; *line;) {
        const char *eol = strchr(line, '\n');
        assert_non_null(eol);
        json_t *j;
        EXPECT_OK(ak_json_parse_object(ak_cur_from(line, (size_t)(eol - line)), &j));
        json_decref(j);
        line = eol + 1;
    }
    ak_buf_free(&log);
}

/* ------------------------------------------------------------------ HTTP path */

static ak_err s_http_hello(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user) {
    (void)ctx;
    (void)user;
    g_calls++;
    if (g_result != AK_OK) {
        AK_GUARD(akrt_http_set_header(resp, "x-dropped", "yes"));
        return g_result;
    }
    if (g_out_len) {
        AK_GUARD(ak_buf_reserve(&resp->body, g_out_len));
        memset(resp->body.ptr, 'b', g_out_len);
        resp->body.len = g_out_len;
        return AK_OK;
    }
    json_t *v = json_pack("{s:s%}", "method", (const char *)req->method.ptr, req->method.len);
    AK_ENSURE(v != NULL, AK_E_NOMEM);
    ak_err e = akrt_http_json(resp, 201, v);
    json_decref(v);
    return e;
}

static json_t *s_post_json(size_t nth) {
    const fake_req *p = fake_rapi_post(nth);
    assert_non_null(p);
    json_t *doc;
    EXPECT_OK(ak_json_parse_object(ak_cur_from(p->body, p->body_len), &doc));
    return doc;
}

static void s_expect_http(size_t nth, const char *rid, int status, const char *body) {
    char path[128];
    snprintf(path, sizeof(path), S_PREFIX "%s/response", rid);
    EXPECT_STR_EQ(fake_rapi_post(nth)->path, path);
    json_t *doc = s_post_json(nth);
    EXPECT_INT_EQ(json_integer_value(json_object_get(doc, "statusCode")), status);
    EXPECT_STR_EQ(json_string_value(json_object_get(doc, "body")), body);
    EXPECT_TRUE(json_is_false(json_object_get(doc, "isBase64Encoded")));
    json_t *h = json_object_get(doc, "headers");
    EXPECT_STR_EQ(json_string_value(json_object_get(h, "content-type")), "application/json");
    EXPECT_TRUE(json_object_get(h, "x-dropped") == NULL);
    json_decref(doc);
}

AK_TEST(test_http_round_trip_and_error_mapping) {
    s_reset_globals();
    ak_buf ev;
    ak_buf_init(&ev, 1u << 20);
    ak_test_read_file(ak_test_vector_path("aws-lambda-go-events/apigw-v2-request-no-authorizer.json"), &ev);
    fake_rapi_start();
    fake_rapi_push_invocation("h1", ak_buf_cstr(&ev));
    fake_rapi_push_invocation("h2", "{\"version\":\"1.0\"}"); /* not a v2 event */
    fake_rapi_push_invocation("h3", "not json");
    fake_rapi_push_invocation("h4", ak_buf_cstr(&ev)); /* handler error */
    akrt_config c = s_cfg(3);
    c.http = s_http_hello;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    g_result = AK_E_CAP_EXPIRED;
    c.max_invocations = 1;
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    EXPECT_INT_EQ(g_calls, 2); /* malformed events never reach the handler */
    s_expect_http(0, "h1", 201, "{\"method\":\"GET\"}");
    s_expect_http(1, "h2", 400,
                  "{\"error\":\"the Lambda event has an unexpected shape\",\"reason\":\"invalid_event\"}");
    s_expect_http(2, "h3", 400,
                  "{\"error\":\"the Lambda event has an unexpected shape\",\"reason\":\"invalid_event\"}");
    s_expect_http(
        3, "h4", 403,
        "{\"error\":\"the capability is expired or not yet valid\",\"reason\":\"cap_freshness_failed\"}");
    ak_buf_free(&ev);
}

AK_TEST(test_http_oversize_response_goes_to_error) {
    s_reset_globals();
    ak_buf ev;
    ak_buf_init(&ev, 1u << 20);
    ak_test_read_file(ak_test_vector_path("aws-lambda-go-events/apigw-v2-request-iam.json"), &ev);
    fake_rapi_start();
    fake_rapi_push_invocation("big", ak_buf_cstr(&ev));
    akrt_config c = s_cfg(1);
    c.http = s_http_hello;
    g_out_len = AK_MAX_LAMBDA_PAYLOAD - 10u; /* fits the body buffer, not the encoded document */
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    s_expect_error_post(0, S_PREFIX "big/error", "AgentKeys.too_large");
    ak_buf_free(&ev);
}

AK_RUN_TESTS(AK_T(test_success_posts_response_for_the_request_id),
             AK_T(test_handler_error_goes_to_error_with_type),
             AK_T(test_init_failure_goes_to_init_error_and_exits), AK_T(test_init_runs_once_with_user_state),
             AK_T(test_bad_headers_are_rejected_without_calling_the_handler),
             AK_T(test_missing_or_bad_request_id_ends_the_loop), AK_T(test_context_trace_id_and_deadline),
             AK_T(test_remaining_ms_is_bounded_by_the_deadline),
             AK_T(test_oversize_response_is_an_error_not_sent),
             AK_T(test_oversize_event_is_rejected_and_the_loop_recovers),
             AK_T(test_dropped_connections_are_retried), AK_T(test_server_restart_then_recovery),
             AK_T(test_unreachable_runtime_api_gives_up_after_bounded_retries),
             AK_T(test_default_retry_bound_with_real_backoff), AK_T(test_post_5xx_ends_the_loop),
             AK_T(test_post_4xx_loses_only_that_invocation), AK_T(test_missing_runtime_api_variable),
             AK_T(test_arena_is_reset_between_invocations), AK_T(test_logs_carry_request_id_never_the_body),
             AK_T(test_http_round_trip_and_error_mapping), AK_T(test_http_oversize_response_goes_to_error))
