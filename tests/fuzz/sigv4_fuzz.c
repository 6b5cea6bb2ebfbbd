/*
 * sigv4_fuzz.c — libFuzzer target: SigV4 canonicalisation of arbitrary method/path/query/headers.
 * Input layout: byte 0 = flags (bit0: S3 rules, bit1: presign), then '\n'-separated fields:
 * method, path, query, then "name:value" header lines.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ak/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t flags = data[0];
    ak_cur in = ak_cur_from(data + 1, size - 1);
    ak_cur method = {0}, path = {0}, query = {0};
    if (!ak_cur_split(&in, '\n', &method) || !ak_cur_split(&in, '\n', &path) ||
        !ak_cur_split(&in, '\n', &query))
        return 0;
    ak_sigv4_header h[AK_SIGV4_MAX_HEADERS + 2];
    size_t nh = 0;
    ak_cur line;
    while (nh < sizeof(h) / sizeof(h[0])) {
        bool more = ak_cur_split(&in, '\n', &line);
        if (!more) line = in;
        ak_cur name;
        if (ak_cur_split(&line, ':', &name)) {
            h[nh].name = name;
            h[nh].value = line;
            nh++;
        }
        if (!more) break;
    }
    ak_sigv4_request req = {.method = method,
                            .path = path,
                            .query = query,
                            .headers = h,
                            .n_headers = nh,
                            .payload_hash = AK_CUR_LIT(AK_SIGV4_UNSIGNED_PAYLOAD),
                            .s3 = (flags & 1) != 0};
    ak_sigv4_creds cr = {AK_CUR_LIT("AKIDEXAMPLE"), AK_CUR_LIT("secret"), AK_CUR_LIT("token")};
    ak_sigv4_scope sc = {AK_CUR_LIT("20150830T123600Z"), AK_CUR_LIT("us-east-1"),
                         AK_CUR_LIT(flags & 1 ? "s3" : "service")};
    ak_sigv4_result r;
    ak_sigv4_result_init(&r);
    ak_err e;
    if (flags & 2) {
        ak_buf q;
        ak_buf_init(&q, 1u << 20);
        e = ak_sigv4_presign(&req, &cr, &sc, 60, &r, &q);
        ak_buf_free(&q);
    } else {
        e = ak_sigv4_sign(&req, &cr, &sc, &r);
    }
    if (e == AK_OK) {
        /* Invariants: the canonical request has exactly 6 newlines before the headers block ends,
         * its URI starts with '/', and signing is deterministic. */
        ak_cur c = ak_buf_cur(&r.canonical_request), l1, l2;
        if (!ak_cur_split(&c, '\n', &l1) || !ak_cur_split(&c, '\n', &l2) || l2.len == 0 || l2.ptr[0] != '/')
            __builtin_trap();
        if (strlen(r.signature) != 64) __builtin_trap();
        if (!(flags & 2)) {
            ak_sigv4_result r2;
            ak_sigv4_result_init(&r2);
            if (ak_sigv4_sign(&req, &cr, &sc, &r2) != AK_OK || strcmp(r.signature, r2.signature) != 0)
                __builtin_trap();
            ak_sigv4_result_free(&r2);
        }
    }
    ak_sigv4_result_free(&r);
    return 0;
}
