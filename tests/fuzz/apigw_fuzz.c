/*
 * apigw_fuzz.c — API Gateway v2 event decoding (outside input: every HTTP request becomes one).
 * Invariants: no crash or sanitizer report; on success every decoded view is NUL-terminated and
 * the body respects AK_MAX_REQUEST_BODY; the response path (D14 error + encode) always works.
 */
#include <stddef.h>
#include <stdint.h>

#include "ak/alloc.h"
#include "ak/limits.h"
#include "akrt/apigw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int installed;
    if (!installed) {
        ak_alloc_install_jansson();
        installed = 1;
    }
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_req req;
    ak_err e = akrt_apigw_decode(ak_cur_from(data, size), &a, &req);
    if (e == AK_OK) {
        if (req.body.len > AK_MAX_REQUEST_BODY || req.method.ptr[req.method.len] != 0) __builtin_trap();
        for (size_t i = 0; i < req.n_headers; i++) {
            ak_cur v;
            if (!akrt_http_header(&req, (const char *)req.headers[i].name.ptr, &v)) __builtin_trap();
        }
    }
    akrt_http_resp resp;
    akrt_http_resp_init(&resp, &a);
    ak_buf out;
    ak_buf_init(&out, AK_MAX_LAMBDA_PAYLOAD);
    if (akrt_http_error(&resp, e) != AK_OK || akrt_apigw_encode(&resp, &out) != AK_OK) __builtin_trap();
    /* The decoded body, echoed, must always encode (text or base64). */
    if (e == AK_OK) {
        akrt_http_resp_reset(&resp);
        ak_buf_clear(&out);
        if (akrt_http_set_body(&resp, 200, "application/octet-stream", req.body) != AK_OK) __builtin_trap();
        if (akrt_apigw_encode(&resp, &out) != AK_OK) __builtin_trap();
    }
    ak_buf_free(&out);
    akrt_http_resp_free(&resp);
    ak_arena_free(&a);
    return 0;
}
