/*
 * ready_test.c — ReadyFunction's handler (GET /readyz) with each dependency faked: all up is
 * 200; any one down is 503 naming exactly that one (and the others still checked); a chain
 * that serves another chain id is down with chain_id_mismatch; each probe's deadline is capped
 * by AK_READY_CHECK_MS and by the invocation's deadline; other methods are 405; allocation
 * failures give NOMEM, never a crash. The handler source is compiled in (see health_test.c).
 */
#include "../../functions/ready/ready.c"

#include "test.h"

#include <stdlib.h>

#include "ak/json.h"

typedef struct {
    ak_err signer, chain, s3;
    uint64_t chain_id;
    int calls[3];
    int64_t deadline[3];
} s_fake;

static ak_err s_fake_signer(ready_app *app, int64_t deadline_ms) {
    s_fake *f = app->test_user;
    f->calls[0]++;
    f->deadline[0] = deadline_ms;
    return f->signer;
}
static ak_err s_fake_chain(ready_app *app, int64_t deadline_ms, uint64_t *id) {
    s_fake *f = app->test_user;
    f->calls[1]++;
    f->deadline[1] = deadline_ms;
    *id = f->chain_id;
    if (f->chain == AK_OK && f->chain_id != app->svc.chain_id) return AK_E_CHAIN_ID_MISMATCH;
    return f->chain;
}
static ak_err s_fake_s3(ready_app *app, int64_t deadline_ms) {
    s_fake *f = app->test_user;
    f->calls[2]++;
    f->deadline[2] = deadline_ms;
    return f->s3;
}

static const ak_svc_ops s_no_ops; /* the probes are faked; no svc op may be reached */

typedef struct {
    ak_arena a;
    ak_buf ev;
    akrt_http_req req;
    akrt_invocation inv;
    akrt_ctx ctx;
    akrt_http_resp resp;
    ready_app app;
    s_fake fake;
} s_env;

static void s_setup(s_env *e, const char *event, uint64_t deadline_ms) {
    memset(e, 0, sizeof(*e));
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", getenv("AK_EVENTS_DIR") ? getenv("AK_EVENTS_DIR") : "events",
             event);
    ak_buf_init(&e->ev, 1u << 20);
    ak_test_read_file(path, &e->ev);
    ak_arena_init(&e->a, AK_MAX_ARENA);
    EXPECT_OK(akrt_apigw_decode(ak_buf_cur(&e->ev), &e->a, &e->req));
    e->inv.deadline_ms = deadline_ms;
    e->ctx = (akrt_ctx){&e->a, &e->inv, "ready"};
    akrt_http_resp_init(&e->resp, &e->a);
    ak_svc_init_for_test(&e->app.svc, &s_no_ops, NULL, "ak-audit");
    e->app.svc.chain_id = 31337;
    e->app.probes = (ready_probes){s_fake_signer, s_fake_chain, s_fake_s3};
    e->app.check_ms = AK_READY_DEFAULT_CHECK_MS;
    e->app.test_user = &e->fake;
    e->fake.chain_id = 31337;
}

static void s_teardown(s_env *e) {
    akrt_http_resp_free(&e->resp);
    ak_svc_free(&e->app.svc);
    ak_arena_free(&e->a);
    ak_buf_free(&e->ev);
}

static json_t *s_body(s_env *e) {
    json_t *b = NULL;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&e->resp.body), &b));
    return b;
}

static const char *s_check(json_t *b, const char *name, const char *field) {
    return json_string_value(json_object_get(json_object_get(json_object_get(b, "checks"), name), field));
}

static uint64_t s_far_deadline(void) { return (uint64_t)ak_http_now_ms() + 60000u; }

AK_TEST(test_all_up_is_200) {
    s_env e;
    s_setup(&e, "ready-get.json", s_far_deadline());
    EXPECT_OK(ready_handle(&e.ctx, &e.req, &e.resp, &e.app));
    EXPECT_INT_EQ(e.resp.status, 200);
    json_t *b = s_body(&e);
    EXPECT_STR_EQ(json_string_value(json_object_get(b, "status")), "ready");
    EXPECT_STR_EQ(s_check(b, "signer", "status"), "up");
    EXPECT_STR_EQ(s_check(b, "chain", "status"), "up");
    EXPECT_STR_EQ(s_check(b, "s3", "status"), "up");
    EXPECT_INT_EQ(json_integer_value(
                      json_object_get(json_object_get(json_object_get(b, "checks"), "chain"), "chain_id")),
                  31337);
    EXPECT_TRUE(json_object_get(b, "failing") == NULL && json_object_get(b, "reason") == NULL);
    EXPECT_INT_EQ(e.fake.calls[0] + e.fake.calls[1] + e.fake.calls[2], 3);
    json_decref(b);
    s_teardown(&e);
}

/* One dependency down: 503, `failing` names exactly it, its reason is shown, the rest are up. */
static void s_one_down(int which, ak_err why) {
    static const char *const names[3] = {"signer", "chain", "s3"};
    s_env e;
    s_setup(&e, "ready-get.json", s_far_deadline());
    if (which == 0) e.fake.signer = why;
    if (which == 1) e.fake.chain = why;
    if (which == 2) e.fake.s3 = why;
    EXPECT_OK(ready_handle(&e.ctx, &e.req, &e.resp, &e.app));
    EXPECT_INT_EQ(e.resp.status, 503);
    json_t *b = s_body(&e);
    EXPECT_STR_EQ(json_string_value(json_object_get(b, "status")), "not_ready");
    EXPECT_STR_EQ(json_string_value(json_object_get(b, "reason")), "not_ready");
    EXPECT_TRUE(json_is_string(json_object_get(b, "error")));
    json_t *failing = json_object_get(b, "failing");
    EXPECT_INT_EQ(json_array_size(failing), 1);
    EXPECT_STR_EQ(json_string_value(json_array_get(failing, 0)), names[which]);
    for (int i = 0; i < 3; i++) {
        EXPECT_STR_EQ(s_check(b, names[i], "status"), i == which ? "down" : "up");
        EXPECT_INT_EQ(e.fake.calls[i], 1); /* every check ran */
    }
    EXPECT_STR_EQ(s_check(b, names[which], "reason"), ak_err_reason(why));
    json_decref(b);
    s_teardown(&e);
}

AK_TEST(test_signer_down_is_503_naming_it) { s_one_down(0, AK_E_SIGNER_UNAVAILABLE); }
AK_TEST(test_signer_attestation_failure_is_503) { s_one_down(0, AK_E_ATTESTATION_INVALID); }
AK_TEST(test_chain_down_is_503_naming_it) { s_one_down(1, AK_E_CHAIN_RPC); }
AK_TEST(test_s3_down_is_503_naming_it) { s_one_down(2, AK_E_S3_ERROR); }
AK_TEST(test_s3_denied_is_503_naming_it) { s_one_down(2, AK_E_ACCESS_DENIED); }

AK_TEST(test_wrong_chain_is_down_with_its_id) {
    s_env e;
    s_setup(&e, "ready-get.json", s_far_deadline());
    e.fake.chain_id = 1;
    EXPECT_OK(ready_handle(&e.ctx, &e.req, &e.resp, &e.app));
    EXPECT_INT_EQ(e.resp.status, 503);
    json_t *b = s_body(&e);
    EXPECT_STR_EQ(s_check(b, "chain", "reason"), "chain_id_mismatch");
    EXPECT_INT_EQ(json_integer_value(
                      json_object_get(json_object_get(json_object_get(b, "checks"), "chain"), "chain_id")),
                  1);
    json_decref(b);
    s_teardown(&e);
}

AK_TEST(test_all_down_lists_all_in_order) {
    s_env e;
    s_setup(&e, "ready-get.json", s_far_deadline());
    e.fake.signer = AK_E_SIGNER_UNAVAILABLE;
    e.fake.chain = AK_E_UPSTREAM_TIMEOUT;
    e.fake.s3 = AK_E_UPSTREAM;
    EXPECT_OK(ready_handle(&e.ctx, &e.req, &e.resp, &e.app));
    EXPECT_INT_EQ(e.resp.status, 503);
    json_t *b = s_body(&e);
    json_t *failing = json_object_get(b, "failing");
    EXPECT_INT_EQ(json_array_size(failing), 3);
    EXPECT_STR_EQ(json_string_value(json_array_get(failing, 0)), "signer");
    EXPECT_STR_EQ(json_string_value(json_array_get(failing, 1)), "chain");
    EXPECT_STR_EQ(json_string_value(json_array_get(failing, 2)), "s3");
    EXPECT_TRUE(json_object_get(json_object_get(json_object_get(b, "checks"), "chain"), "chain_id") == NULL);
    json_decref(b);
    s_teardown(&e);
}

AK_TEST(test_probe_deadlines_are_capped) {
    s_env e;
    /* Far invocation deadline: each probe gets about check_ms, not the whole invocation. */
    s_setup(&e, "ready-get.json", s_far_deadline());
    e.app.check_ms = 700;
    int64_t before = ak_http_now_ms();
    EXPECT_OK(ready_handle(&e.ctx, &e.req, &e.resp, &e.app));
    int64_t after = ak_http_now_ms();
    for (int i = 0; i < 3; i++)
        EXPECT_TRUE(e.fake.deadline[i] >= before + 700 && e.fake.deadline[i] <= after + 700);
    s_teardown(&e);
    /* Near invocation deadline: no probe may run past it (minus the margin ak_svc_begin keeps). */
    uint64_t near = (uint64_t)ak_http_now_ms() + 300u;
    s_setup(&e, "ready-get.json", near);
    EXPECT_OK(ready_handle(&e.ctx, &e.req, &e.resp, &e.app));
    for (int i = 0; i < 3; i++)
        EXPECT_TRUE(e.fake.deadline[i] <= (int64_t)near);
    s_teardown(&e);
}

AK_TEST(test_post_is_405) {
    s_env e;
    s_setup(&e, "ready-post.json", s_far_deadline());
    EXPECT_OK(ready_handle(&e.ctx, &e.req, &e.resp, &e.app));
    EXPECT_INT_EQ(e.resp.status, 405);
    EXPECT_INT_EQ(e.fake.calls[0] + e.fake.calls[1] + e.fake.calls[2], 0);
    s_teardown(&e);
}

AK_TEST(test_out_of_memory_never_crashes) {
    for (int down = 0; down < 2; down++) {
        for (uint64_t n = 1; n < 80; n++) {
            s_env e;
            s_setup(&e, "ready-get.json", s_far_deadline());
            if (down) e.fake.s3 = AK_E_S3_ERROR;
            ak_alloc_fail_nth(n);
            ak_err r = ready_handle(&e.ctx, &e.req, &e.resp, &e.app);
            ak_alloc_fail_nth(0);
            EXPECT_TRUE(r == AK_OK || r == AK_E_NOMEM);
            s_teardown(&e);
        }
    }
}

AK_TEST(test_check_ms_setting) {
    unsigned ms = 0;
    EXPECT_OK(s_check_ms(NULL, &ms));
    EXPECT_INT_EQ(ms, AK_READY_DEFAULT_CHECK_MS);
    EXPECT_OK(s_check_ms("", &ms));
    EXPECT_INT_EQ(ms, AK_READY_DEFAULT_CHECK_MS);
    EXPECT_OK(s_check_ms("700", &ms));
    EXPECT_INT_EQ(ms, 700);
    EXPECT_OK(s_check_ms("100", &ms));
    EXPECT_OK(s_check_ms("60000", &ms));
    EXPECT_ERR(AK_E_CONFIG, s_check_ms("99", &ms));
    EXPECT_ERR(AK_E_CONFIG, s_check_ms("60001", &ms));
    EXPECT_ERR(AK_E_CONFIG, s_check_ms("2s", &ms));
    EXPECT_ERR(AK_E_CONFIG, s_check_ms("-5", &ms));
    /* ready_init refuses a bad value before touching anything else. */
    setenv("AK_READY_CHECK_MS", "5", 1);
    ready_app app;
    EXPECT_ERR(AK_E_CONFIG, ready_init(&app));
    unsetenv("AK_READY_CHECK_MS");
}

AK_RUN_TESTS(AK_T(test_all_up_is_200), AK_T(test_signer_down_is_503_naming_it),
             AK_T(test_signer_attestation_failure_is_503), AK_T(test_chain_down_is_503_naming_it),
             AK_T(test_s3_down_is_503_naming_it), AK_T(test_s3_denied_is_503_naming_it),
             AK_T(test_wrong_chain_is_down_with_its_id), AK_T(test_all_down_lists_all_in_order),
             AK_T(test_probe_deadlines_are_capped), AK_T(test_post_is_405),
             AK_T(test_out_of_memory_never_crashes), AK_T(test_check_ms_setting))
