/* flush_fn.c — AuditFlushFunction's handler (see flush_fn.h, README.md). */
#include "flush_fn.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ak/json.h"
#include "ak/log.h"

static ak_err s_env_u64(const char *name, uint64_t lo, uint64_t hi, uint64_t *out, bool *present) {
    const char *v = getenv(name);
    *present = v != NULL && v[0] != '\0';
    if (!*present) return AK_OK;
    uint64_t x;
    if (ak_cur_to_u64(ak_cur_from_str(v), &x) != AK_OK || x < lo || x > hi) {
        ak_log_error("audit flush: bad setting", "var", name);
        return AK_E_CONFIG;
    }
    *out = x;
    return AK_OK;
}

ak_err flush_init(void *user) {
    flush_app *app = user;
    memset(app, 0, sizeof(*app));
    ak_alloc_install_jansson();
    /* jansson seeds its hash function lazily; do it here, before any worker thread exists. */
    json_object_seed(0);
    ak_s3_config cfg;
    ak_sigv4_creds creds;
    AK_GUARD(ak_s3_config_from_env(&cfg));
    AK_GUARD(ak_s3_env_creds(&creds));
    const char *bucket = getenv("AK_AUDIT_BUCKET");
    if (bucket == NULL || bucket[0] == '\0') {
        ak_log_error("audit flush: missing setting", "var", "AK_AUDIT_BUCKET");
        return AK_E_CONFIG;
    }
    uint64_t lanes = AK_AUDIT_FLUSH_DEFAULT_LANES, batch = 0, run = 0, grace = 0, margin = 1000;
    bool p;
    AK_GUARD(s_env_u64("AK_AUDIT_FLUSH_LANES", 1, AK_AUDIT_FLUSH_MAX_LANES, &lanes, &p));
    AK_GUARD(s_env_u64("AK_AUDIT_BATCH_MAX", 1, AK_MAX_AUDIT_BATCH, &batch, &p));
    AK_GUARD(s_env_u64("AK_AUDIT_RUN_MAX", 1, 10000000, &run, &p));
    AK_GUARD(s_env_u64("AK_AUDIT_LEASE_GRACE_MS", 0, 3600000, &grace, &app->has_grace));
    AK_GUARD(s_env_u64("AK_DEADLINE_MARGIN_MS", 0, 60000, &margin, &p));
    app->batch_max = (size_t)batch;
    app->run_max = (size_t)run;
    app->grace_ms = grace;
    app->margin_ms = (unsigned)margin;
    AK_GUARD(ak_audit_s3_open(&app->s3, &cfg, &creds, bucket, (unsigned)lanes));
    ak_audit_s3_store(&app->s3, &app->store);
    return AK_OK;
}

#ifndef AK_RELEASE
/* Test builds only: crash (no cleanup, like a killed sandbox) at a named point.
 *   AK_FAULT_CRASH_AFTER_BATCH_WRITE=1           after the batch PUT
 *   AK_FAULT_CRASH_AT=lease_intent|batch_put|index_put */
static bool s_fault(void *ud, ak_audit_fault point) {
    (void)ud;
    static const char *const names[] = {"", "lease_intent", "batch_put", "index_put"};
    const char *a = getenv("AK_FAULT_CRASH_AFTER_BATCH_WRITE");
    const char *b = getenv("AK_FAULT_CRASH_AT");
    bool hit = (point == AK_AUDIT_FAULT_AFTER_BATCH_PUT && a != NULL && strcmp(a, "1") == 0) ||
               (b != NULL && (unsigned)point < 4 && strcmp(b, names[point]) == 0);
    if (hit) {
        ak_log_warn("audit flush: injected crash", "point", names[point]);
        _exit(1);
    }
    return false;
}
#endif

/* Runs the flush with the invocation's deadline; the JSON summary goes to *out_json. */
static ak_err s_run(flush_app *app, const akrt_ctx *ctx, const ak_omni *only, json_t **out_json) {
    int64_t deadline = (int64_t)ctx->inv->deadline_ms - (int64_t)app->margin_ms;
    int64_t now = ak_http_now_ms();
    if (deadline <= now) deadline = now + 1;
    ak_audit_flush_cfg cfg = {.batch_max = app->batch_max,
                              .run_max = app->run_max,
                              .deadline_ms = deadline,
                              .lease_grace_ms = app->grace_ms,
                              .has_grace = app->has_grace,
                              .only = only,
                              .owner = akrt_request_id(ctx)};
#ifndef AK_RELEASE
    cfg.fault = s_fault;
#endif
    json_t *report = json_array();
    AK_ENSURE(report != NULL, AK_E_NOMEM);
    ak_audit_flush_stats st;
    ak_err rc = ak_audit_flush(&app->store, &cfg, &st, report);
    char n[4][24];
    snprintf(n[0], sizeof(n[0]), "%zu", st.batches);
    snprintf(n[1], sizeof(n[1]), "%zu", st.events);
    snprintf(n[2], sizeof(n[2]), "%zu", st.unread);
    snprintf(n[3], sizeof(n[3]), "%zu", st.invalid);
    ak_log_info("audit flush: run done", "reason", ak_err_reason(rc), "batches", n[0], "events", n[1],
                "unread", n[2], "invalid", n[3]);
    if (rc != AK_OK) {
        json_decref(report);
        return rc;
    }
    json_t *o =
        json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:o}", "ok", 1, "operators",
                  (json_int_t)st.operators, "batches", (json_int_t)st.batches, "events",
                  (json_int_t)st.events, "invalid", (json_int_t)st.invalid, "busy", (json_int_t)st.busy,
                  "resumed", (json_int_t)st.resumed, "unread", (json_int_t)st.unread, "deadline_hit",
                  st.deadline_hit, "complete", st.unread == 0 && st.busy == 0, "written", report);
    AK_ENSURE(o != NULL, AK_E_NOMEM);
    *out_json = o;
    return AK_OK;
}

/* POST /v1/audit/flush: a master session flushes its own operator. */
static ak_err s_http(flush_app *app, akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp) {
    AK_ENSURE(ak_cur_eq_str(req->raw_path, "/v1/audit/flush"), AK_E_ROUTE_NOT_FOUND);
    if (!ak_cur_eq_str(req->method, "POST")) {
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", "POST");
    }
    ak_cur auth, token;
    AK_ENSURE(akrt_http_header(req, "authorization", &auth), AK_E_UNAUTHORIZED);
    AK_GUARD(ak_svc_bearer(auth, &token));
    if (!app->svc_ready) {
        AK_GUARD(ak_svc_init(&app->svc, AK_SVC_SIGNER | AK_SVC_ISSUER | AK_SVC_CHAIN));
        app->svc_ready = true;
    }
    ak_svc_begin(&app->svc, ctx->inv->deadline_ms);
    ak_session s;
    AK_GUARD(ak_svc_verify_session(&app->svc, token, (uint64_t)(ak_http_now_ms() / 1000), &s));
    AK_ENSURE(s.kind == AK_SESSION_MASTER, AK_E_FORBIDDEN);
    /* The session's master device, on chain: registered (an unregistered wallet's session
     * flushes nothing) and not revoked (a revoked master loses audit access at once). */
    AK_GUARD(ak_svc_check_session_device(&app->svc, &s, NULL));
    json_t *o = NULL;
    AK_GUARD(s_run(app, ctx, &s.operator_omni, &o));
    ak_err rc = akrt_http_json(resp, 200, o);
    json_decref(o);
    return rc;
}

typedef enum { S_EV_HTTP, S_EV_SCHEDULE } s_kind;

static ak_err s_classify(ak_cur event, s_kind *kind) {
    json_t *o = NULL;
    AK_ENSURE(ak_json_parse_object(event, &o) == AK_OK, AK_E_INVALID_EVENT);
    const char *ver = json_string_value(json_object_get(o, "version"));
    const char *src = json_string_value(json_object_get(o, "source"));
    ak_err rc = AK_OK;
    if (ver != NULL && strcmp(ver, "2.0") == 0 && json_is_object(json_object_get(o, "requestContext")))
        *kind = S_EV_HTTP;
    else if (src != NULL && strcmp(src, "aws.events") == 0)
        *kind = S_EV_SCHEDULE; /* EventBridge scheduled event (detail-type "Scheduled Event") */
    else
        rc = AK_E_INVALID_EVENT;
    json_decref(o);
    return rc;
}

ak_err flush_handle(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user) {
    flush_app *app = user;
    s_kind kind;
    AK_GUARD(s_classify(event, &kind));
    if (kind == S_EV_SCHEDULE) {
        json_t *o = NULL;
        AK_GUARD(s_run(app, ctx, NULL, &o));
        ak_err rc = ak_json_dump(o, out);
        json_decref(o);
        return rc;
    }
    /* An HTTP API event inside a raw handler: decode, route, encode as akrt_run_http would. */
    akrt_http_req req;
    akrt_http_resp resp;
    akrt_http_resp_init(&resp, ctx->arena);
    ak_err rc = akrt_apigw_decode(event, ctx->arena, &req);
    if (rc == AK_OK) rc = s_http(app, ctx, &req, &resp);
    if (rc != AK_OK) rc = akrt_http_error(&resp, rc);
    if (rc == AK_OK) rc = akrt_apigw_encode(&resp, out);
    akrt_http_resp_free(&resp);
    return rc;
}
