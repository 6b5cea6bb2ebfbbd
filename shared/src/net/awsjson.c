/* awsjson.c — a signed AWS JSON 1.1 request (see ak/awsjson.h). */
#include "ak/awsjson.h"

#include <string.h>

#define S_AWSJSON_CONTENT_TYPE "application/x-amz-json-1.1"

ak_err ak_awsjson_sign(const ak_sigv4_creds *creds, const ak_awsjson_call *call, ak_awsjson_req *req) {
    AK_PRECOND(creds != NULL && call != NULL && req != NULL);
    memset(req, 0, sizeof(*req));
    ak_sigv4_result_init(&req->sig);
    AK_ENSURE(call->url != NULL && call->host.len > 0 && call->region.len > 0 && call->service.len > 0 &&
                  call->target.len > 0,
              AK_E_INVALID_INPUT);
    char phash[65];
    AK_GUARD(ak_sigv4_amz_date(ak_http_now_ms() / 1000, req->date));
    ak_sigv4_payload_hash(call->body, phash);
    ak_sigv4_header sh[5];
    size_t n = 0;
#define S_AWSJSON_HDR(nm, val)                                                                               \
    do {                                                                                                     \
        sh[n] = (ak_sigv4_header){AK_CUR_LIT(nm), (val)};                                                    \
        req->headers[n] = (ak_http_header){(nm), (val)};                                                     \
        n++;                                                                                                 \
    } while (0)
    S_AWSJSON_HDR("Content-Type", AK_CUR_LIT(S_AWSJSON_CONTENT_TYPE));
    S_AWSJSON_HDR("Host", call->host);
    S_AWSJSON_HDR("X-Amz-Date", ak_cur_from_str(req->date));
    S_AWSJSON_HDR("X-Amz-Target", call->target);
    if (creds->session_token.len > 0) S_AWSJSON_HDR("X-Amz-Security-Token", creds->session_token);
#undef S_AWSJSON_HDR
    ak_sigv4_request sreq = {.method = AK_CUR_LIT("POST"),
                             .path = AK_CUR_LIT("/"),
                             .headers = sh,
                             .n_headers = n,
                             .payload_hash = ak_cur_from_str(phash)};
    ak_sigv4_scope scope = {ak_cur_from_str(req->date), call->region, call->service};
    AK_GUARD(ak_sigv4_sign(&sreq, creds, &scope, &req->sig));
    req->headers[n++] = (ak_http_header){"Authorization", ak_buf_cur(&req->sig.authorization)};
    req->http = (ak_http_request){.method = "POST",
                                  .url = call->url,
                                  .headers = req->headers,
                                  .n_headers = n,
                                  .body = call->body,
                                  .deadline_ms = call->deadline_ms,
                                  .timeout_ms = call->timeout_ms,
                                  .idempotent = call->idempotent,
                                  .max_response = call->max_response,
                                  .body_secret = call->body_secret};
    return AK_OK;
}

void ak_awsjson_req_free(ak_awsjson_req *req) {
    if (req != NULL) ak_sigv4_result_free(&req->sig);
}
