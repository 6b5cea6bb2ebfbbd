/*
 * functions/lib/worker_main.h — the whole main.c of a worker function (ak/worker.h):
 *
 *     #include "worker_main.h"
 *     AK_WORKER_MAIN("cred-store", AK_OP_STORE, AK_CLASS_CREDENTIALS)
 *
 * It adapts the API Gateway request (akrt/apigw.h) to ak_worker_req and the answer back, so
 * the pipeline itself (shared/src/service/worker.c, in libak) does not depend on the runtime
 * library. It lives on the functions' side, not in libak, because libak knows nothing of
 * Lambda (no akrt/ include: `make lint` checks the layering); being a header, the adapter is
 * compiled into each worker function's own object.
 *
 * The op is the function's (one route per function, template.yaml), never taken from the body;
 * the data class is checked against AK_DATA_CLASS at init. Only POST is answered (405
 * otherwise, with `allow: POST`).
 */
#ifndef AK_FN_WORKER_MAIN_H
#define AK_FN_WORKER_MAIN_H

#include <stdio.h>
#include <string.h>

#include "ak/worker.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

typedef struct ak_worker_fn {
    ak_worker w;
    ak_op op;
    ak_data_class data_class;
} ak_worker_fn;

static inline ak_err ak_worker_fn_init(void *user) {
    ak_worker_fn *f = user;
    return ak_worker_init(&f->w, f->data_class);
}

/* The HTTP handler of a worker function (user = ak_worker_fn*). Tests call it directly. */
static inline ak_err ak_worker_fn_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp,
                                         void *user) {
    ak_worker_fn *f = user;
    if (!ak_cur_eq_str(req->method, "POST")) {
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", "POST");
    }
    ak_worker_req r;
    memset(&r, 0, sizeof(r));
    r.op = f->op;
    r.body = req->body;
    r.has_access_key_id = akrt_http_header(req, "x-aws-access-key-id", &r.access_key_id);
    r.has_secret_access_key = akrt_http_header(req, "x-aws-secret-access-key", &r.secret_access_key);
    r.has_session_token = akrt_http_header(req, "x-aws-session-token", &r.session_token);
    r.request_id = ak_cur_from_str(akrt_request_id(ctx));
    r.deadline_ms = ctx->inv->deadline_ms;
    ak_worker_resp wr;
    ak_worker_resp_init(&wr);
    ak_err rc = ak_worker_handle(&f->w, &r, &wr);
    if (rc == AK_OK) rc = akrt_http_set_body(resp, wr.status, "application/json", ak_buf_cur(&wr.body));
    ak_worker_resp_free(&wr);
    return rc;
}

#define AK_WORKER_MAIN(name, op_, class_)                                                                    \
    static ak_worker_fn s_worker_fn = {.op = (op_), .data_class = (class_)};                                 \
    int main(void) { return akrt_run_http((name), ak_worker_fn_handle, ak_worker_fn_init, &s_worker_fn); }

#endif
