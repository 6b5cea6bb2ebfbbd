/* ready.c — ReadyFunction's handler and its three dependency probes (see ready.h). */
#include "ready.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ak/json.h"
#include "ak/log.h"

/* ---------------------------------------------------------------- real probes */

static ak_err s_probe_signer(ready_app *app, int64_t deadline_ms) {
    (void)deadline_ms; /* the signer client's own per-call cap is AK_SIGNER_TIMEOUT_MS (template) */
    long status = 0;
    ak_buf body;
    ak_buf_init(&body, 4096);
    /* A new connection is attested before this request goes out, so "up" means: reachable, the
     * pinned CA, our client certificate accepted, and the expected measurement. */
    ak_err rc =
        ak_signer_call(app->svc.signer, "GET", "/v1/health", ak_cur_from(NULL, 0), true, &status, &body);
    json_t *doc = NULL;
    if (rc == AK_OK && (status != 200 || ak_json_parse_object(ak_buf_cur(&body), &doc) != AK_OK ||
                        !json_is_string(json_object_get(doc, "status")) ||
                        strcmp(json_string_value(json_object_get(doc, "status")), "ok") != 0))
        rc = AK_E_SIGNER_UNAVAILABLE;
    json_decref(doc);
    ak_buf_free(&body);
    return rc;
}

static ak_err s_probe_chain(ready_app *app, int64_t deadline_ms, uint64_t *chain_id) {
    app->svc.rpc.deadline_ms = deadline_ms;
    ak_err rc = ak_eth_chain_id(&app->svc.rpc, chain_id);
    app->svc.rpc.deadline_ms = app->svc.deadline_ms;
    AK_GUARD(rc);
    AK_ENSURE(*chain_id == app->svc.chain_id, AK_E_CHAIN_ID_MISMATCH);
    return AK_OK;
}

static ak_err s_count_key(void *ud, const ak_s3_list_item *item) {
    (void)item;
    (*(size_t *)ud)++;
    return AK_OK;
}

static ak_err s_probe_s3(ready_app *app, int64_t deadline_ms) {
    ak_s3_call call = {&app->svc.creds, deadline_ms};
    ak_s3_list_opts o = {.prefix = AK_CUR_LIT(AK_READY_S3_PREFIX), .page_size = 1, .max_keys = 1};
    size_t n = 0;
    return ak_s3_list_ex(&app->svc.s3, &call, app->svc.audit_bucket, &o, s_count_key, &n, NULL);
}

const ready_probes ready_real_probes = {s_probe_signer, s_probe_chain, s_probe_s3};

/* AK_READY_CHECK_MS: unset or empty -> the default; else 100..60000. */
static ak_err s_check_ms(const char *v, unsigned *out) {
    *out = AK_READY_DEFAULT_CHECK_MS;
    if (v == NULL || v[0] == '\0') return AK_OK;
    uint64_t ms;
    AK_ENSURE(ak_cur_to_u64(ak_cur_from_str(v), &ms) == AK_OK && ms >= 100 && ms <= 60000, AK_E_CONFIG);
    *out = (unsigned)ms;
    return AK_OK;
}

ak_err ready_init(void *user) {
    ready_app *app = user;
    memset(app, 0, sizeof(*app));
    ak_alloc_install_jansson();
    if (s_check_ms(getenv("AK_READY_CHECK_MS"), &app->check_ms) != AK_OK) {
        ak_log_error("config_error", "var", "AK_READY_CHECK_MS", "why", "must be 100..60000 (ms)");
        return AK_E_CONFIG;
    }
    AK_GUARD(ak_svc_init(&app->svc, AK_SVC_S3 | AK_SVC_CHAIN | AK_SVC_SIGNER | AK_SVC_AUDIT));
    app->probes = ready_real_probes;
    return AK_OK;
}

/* ---------------------------------------------------------------- handler */

/* Deadline of one check: now + check_ms, never past the invocation's own deadline. */
static int64_t s_check_deadline(const ready_app *app) {
    int64_t d = ak_http_now_ms() + (int64_t)app->check_ms;
    return d < app->svc.deadline_ms ? d : app->svc.deadline_ms;
}

/* Runs one check and records it in `checks` (and its name in `failing` when down). */
static ak_err s_record(json_t *checks, json_t *failing, const char *name, ak_err result, int64_t t0,
                       json_t *extra) {
    int64_t ms = ak_http_now_ms() - t0;
    json_t *c = result == AK_OK ? json_pack("{s:s,s:I}", "status", "up", "ms", (json_int_t)(ms < 0 ? 0 : ms))
                                : json_pack("{s:s,s:s,s:I}", "status", "down", "reason",
                                            ak_err_reason(result), "ms", (json_int_t)(ms < 0 ? 0 : ms));
    if (c != NULL && extra != NULL && json_object_update(c, extra) != 0) {
        json_decref(c);
        c = NULL;
    }
    json_decref(extra);
    AK_ENSURE(c != NULL, AK_E_NOMEM);
    AK_ENSURE(json_object_set_new(checks, name, c) == 0, AK_E_NOMEM);
    if (result != AK_OK) {
        /* One line per failing dependency: its name and reason code only. */
        ak_log_warn("not_ready", "dependency", name, "reason", ak_err_reason(result));
        AK_ENSURE(json_array_append_new(failing, json_string(name)) == 0, AK_E_NOMEM);
    }
    return AK_OK;
}

ak_err ready_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user) {
    ready_app *app = user;
    if (!ak_cur_eq_str(req->method, "GET")) {
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", "GET");
    }
    ak_svc_begin(&app->svc, ctx->inv->deadline_ms);
    ak_err rc = AK_OK;
    json_t *checks = json_object(), *failing = json_array(), *body = NULL;
    AK_ENSURE_OUT(checks != NULL && failing != NULL, AK_E_NOMEM);

    int64_t t0 = ak_http_now_ms();
    ak_err r = app->probes.signer(app, s_check_deadline(app));
    if (r == AK_E_NOMEM) AK_ENSURE_OUT(false, AK_E_NOMEM);
    AK_GUARD_OUT(s_record(checks, failing, "signer", r, t0, NULL));

    t0 = ak_http_now_ms();
    uint64_t chain_id = 0;
    r = app->probes.chain(app, s_check_deadline(app), &chain_id);
    if (r == AK_E_NOMEM) AK_ENSURE_OUT(false, AK_E_NOMEM);
    /* The id the RPC reported is shown when it answered (also on a mismatch, which says why). */
    json_t *extra = (r == AK_OK || r == AK_E_CHAIN_ID_MISMATCH)
                        ? json_pack("{s:I}", "chain_id", (json_int_t)chain_id)
                        : NULL;
    AK_GUARD_OUT(s_record(checks, failing, "chain", r, t0, extra));

    t0 = ak_http_now_ms();
    r = app->probes.s3(app, s_check_deadline(app));
    if (r == AK_E_NOMEM) AK_ENSURE_OUT(false, AK_E_NOMEM);
    AK_GUARD_OUT(s_record(checks, failing, "s3", r, t0, NULL));

    if (json_array_size(failing) == 0) {
        body = json_pack("{s:s,s:O}", "status", "ready", "checks", checks);
        AK_ENSURE_OUT(body != NULL, AK_E_NOMEM);
        rc = akrt_http_json(resp, 200, body);
    } else {
        body = json_pack("{s:s,s:s,s:s,s:O,s:O}", "error", ak_err_message(AK_E_NOT_READY), "reason",
                         ak_err_reason(AK_E_NOT_READY), "status", "not_ready", "failing", failing, "checks",
                         checks);
        AK_ENSURE_OUT(body != NULL, AK_E_NOMEM);
        rc = akrt_http_json(resp, ak_err_status(AK_E_NOT_READY), body);
    }
out:
    json_decref(body);
    json_decref(checks);
    json_decref(failing);
    return rc;
}
