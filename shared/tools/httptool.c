/*
 * httptool — one request through ak_http, for tests and debugging (TLS, mTLS, pinned CA).
 *
 *   httptool [--ca CA.pem] [--cert CHAIN.pem --key KEY.pem] [-X METHOD] [-d BODY]
 *            [--timeout-ms N] [--attempts N] URL
 *
 * Prints "status <code>" on the first stdout line and the body after it; on failure prints
 * "error <reason>" to stdout and exits 1. Never prints request headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/ct.h"
#include "ak/http.h"

static int s_read(const char *path, ak_buf *out) {
    if (ak_buf_append_file(out, path) == AK_OK) return 0;
    fprintf(stderr, "httptool: cannot read %s\n", path);
    return -1;
}

static int s_u32(const char *s, unsigned *out) {
    uint64_t v;
    if (ak_cur_to_u64(ak_cur_from_str(s), &v) != AK_OK || v > 0xFFFFFFFFu) return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv) {
    const char *ca = NULL, *cert = NULL, *key = NULL, *method = "GET", *body = NULL, *url = NULL;
    unsigned timeout_ms = 5000, attempts = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--ca") == 0 && v)
            ca = argv[++i];
        else if (strcmp(a, "--cert") == 0 && v)
            cert = argv[++i];
        else if (strcmp(a, "--key") == 0 && v)
            key = argv[++i];
        else if (strcmp(a, "-X") == 0 && v)
            method = argv[++i];
        else if (strcmp(a, "-d") == 0 && v)
            body = argv[++i];
        else if (strcmp(a, "--timeout-ms") == 0 && v && s_u32(argv[++i], &timeout_ms) == 0)
            continue;
        else if (strcmp(a, "--attempts") == 0 && v && s_u32(argv[++i], &attempts) == 0)
            continue;
        else if (a[0] != '-' && url == NULL)
            url = a;
        else {
            fprintf(stderr, "usage: httptool [--ca F] [--cert F --key F] [-X M] [-d BODY] [--timeout-ms N] "
                            "[--attempts N] URL\n");
            return 2;
        }
    }
    if (url == NULL) {
        fprintf(stderr, "httptool: URL required\n");
        return 2;
    }
    ak_buf ca_pem, cert_pem, key_pem;
    ak_buf_init(&ca_pem, 1u << 20);
    ak_buf_init(&cert_pem, 1u << 20);
    ak_buf_init_secret(&key_pem, 1u << 16);
    int status = 1;
    ak_http *c = NULL;
    ak_http_response r;
    ak_http_response_init(&r);
    if ((ca && s_read(ca, &ca_pem)) || (cert && s_read(cert, &cert_pem)) || (key && s_read(key, &key_pem)))
        goto out;
    ak_http_config cfg = {.pinned_ca_pem = ak_buf_cur(&ca_pem),
                          .client_cert_pem = ak_buf_cur(&cert_pem),
                          .client_key_pem = ak_buf_cur(&key_pem),
                          .retry = {.max_attempts = attempts}};
    ak_err e = ak_http_new(&cfg, &c);
    ak_buf_free(&key_pem); /* the client holds its own decoded copy */
    if (e == AK_OK) {
        ak_http_request req = {.method = method,
                               .url = url,
                               .body = ak_cur_from_str(body),
                               .timeout_ms = timeout_ms,
                               .idempotent = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0};
        e = ak_http_do(c, &req, &r);
    }
    if (e != AK_OK) {
        printf("error %s\n", ak_err_reason(e));
        goto out;
    }
    printf("status %ld\n", r.status);
    fwrite(r.body.ptr ? (const void *)r.body.ptr : "", 1, r.body.len, stdout);
    status = 0;
out:
    ak_http_response_free(&r);
    ak_http_free(c);
    ak_buf_free(&ca_pem);
    ak_buf_free(&cert_pem);
    ak_buf_free(&key_pem);
    ak_http_global_cleanup();
    return status;
}
