/* health.c — HealthFunction's handler (see health.h). */
#include "health.h"

#include <time.h>

#include <jansson.h>

ak_err health_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user) {
    (void)user;
    if (!ak_cur_eq_str(req->method, "GET")) {
        /* Built here rather than returned, so the 405 can carry `allow` (RFC 9110 §15.5.6). */
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", "GET");
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:I}", "status", "ok", "function", ctx->function_name,
                             "version", AK_VERSION, "time", (json_int_t)time(NULL));
    AK_ENSURE(body != NULL, AK_E_NOMEM);
    ak_err rc = akrt_http_json(resp, 200, body);
    json_decref(body);
    return rc;
}
