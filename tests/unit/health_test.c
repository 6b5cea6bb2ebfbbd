/*
 * health_test.c — HealthFunction's handler, driven by events/health-*.json through the real
 * runtime loop and a fake Runtime API.
 *
 * The handler source is compiled into this test directly (functions/<name>/ .c files other than
 * main.c are the handler; the Makefile has no rule linking a function's objects into a unit
 * test). Events are read from $AK_EVENTS_DIR, default "events" (tests run from the repo root).
 */
#include "../../functions/health/health.c"

#include "test.h"

#include <stdlib.h>
#include <time.h>

#include "ak/json.h"
#include "fake_rapi.h"

static void s_load_event(const char *name, ak_buf *b) {
    const char *dir = getenv("AK_EVENTS_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", (dir && dir[0]) ? dir : "events", name);
    ak_buf_init(b, 1u << 20);
    ak_test_read_file(path, b);
}

/* Runs the health handler once through akrt_run; returns the posted /response document. */
static json_t *s_invoke(const char *event_file) {
    ak_buf ev;
    s_load_event(event_file, &ev);
    fake_rapi_start();
    fake_rapi_push_invocation("health-rid", ak_buf_cstr(&ev));
    akrt_config c = {
        .name = "health", .http = health_handle, .runtime_api = fake_rapi_addr(), .max_invocations = 1};
    EXPECT_INT_EQ(akrt_run(&c), 0);
    fake_rapi_stop();
    ak_buf_free(&ev);
    const fake_req *p = fake_rapi_post(0);
    assert_non_null(p);
    EXPECT_STR_EQ(p->path, "/2018-06-01/runtime/invocation/health-rid/response");
    json_t *doc;
    EXPECT_OK(ak_json_parse_object(ak_cur_from(p->body, p->body_len), &doc));
    return doc;
}

AK_TEST(test_get_healthz_is_ok) {
    time_t before = time(NULL);
    json_t *doc = s_invoke("health-get.json");
    time_t after = time(NULL);
    EXPECT_INT_EQ(json_integer_value(json_object_get(doc, "statusCode")), 200);
    EXPECT_TRUE(json_is_false(json_object_get(doc, "isBase64Encoded")));
    json_t *h = json_object_get(doc, "headers");
    EXPECT_STR_EQ(json_string_value(json_object_get(h, "content-type")), "application/json");
    EXPECT_STR_EQ(json_string_value(json_object_get(h, "cache-control")), "no-store");
    json_t *body;
    EXPECT_OK(ak_json_parse_object(ak_cur_from_str(json_string_value(json_object_get(doc, "body"))), &body));
    EXPECT_STR_EQ(json_string_value(json_object_get(body, "status")), "ok");
    EXPECT_STR_EQ(json_string_value(json_object_get(body, "function")), "health");
    EXPECT_STR_EQ(json_string_value(json_object_get(body, "version")), AK_VERSION);
    json_int_t t = json_integer_value(json_object_get(body, "time"));
    EXPECT_TRUE(t >= (json_int_t)before && t <= (json_int_t)after);
    EXPECT_INT_EQ(json_object_size(body), 4);
    json_decref(body);
    json_decref(doc);
}

AK_TEST(test_post_healthz_is_405_with_d14_body) {
    json_t *doc = s_invoke("health-post.json");
    EXPECT_INT_EQ(json_integer_value(json_object_get(doc, "statusCode")), 405);
    json_t *h = json_object_get(doc, "headers");
    EXPECT_STR_EQ(json_string_value(json_object_get(h, "allow")), "GET");
    EXPECT_STR_EQ(json_string_value(json_object_get(doc, "body")),
                  "{\"error\":\"method not allowed on this route\",\"reason\":\"method_not_allowed\"}");
    json_decref(doc);
}

AK_TEST(test_handler_direct_and_out_of_memory) {
    ak_buf ev;
    s_load_event("health-get.json", &ev);
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_req req;
    EXPECT_OK(akrt_apigw_decode(ak_buf_cur(&ev), &a, &req));
    akrt_invocation inv = {.deadline_ms = 1};
    akrt_ctx ctx = {&a, &inv, "health"};
    akrt_http_resp resp;
    akrt_http_resp_init(&resp, &a);
    EXPECT_OK(health_handle(&ctx, &req, &resp, NULL));
    EXPECT_INT_EQ(resp.status, 200);
    /* Every allocation the handler makes can fail; it reports NOMEM, never crashes. */
    for (uint64_t n = 1; n < 64; n++) {
        akrt_http_resp_reset(&resp);
        ak_alloc_fail_nth(n);
        ak_err e = health_handle(&ctx, &req, &resp, NULL);
        ak_alloc_fail_nth(0);
        EXPECT_TRUE(e == AK_OK || e == AK_E_NOMEM);
    }
    akrt_http_resp_free(&resp);
    ak_arena_free(&a);
    ak_buf_free(&ev);
}

AK_RUN_TESTS(AK_T(test_get_healthz_is_ok), AK_T(test_post_healthz_is_405_with_d14_body),
             AK_T(test_handler_direct_and_out_of_memory))
