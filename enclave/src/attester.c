/* attester.c — local attestation key and self-measurement (see aks/attester.h). */
#include "aks/attester.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "aks/secmem.h"

static ak_err s_attester_sign(void *ctx, ak_cur msg, uint8_t sig64[64]) {
    const ak_pki_eckey *k = ctx;
    return ak_p256_sign_sha256(k->priv, msg.ptr, msg.len, sig64);
}

static ak_err s_attester_document(aks_attester *a, const ak_attest_claims *c, ak_buf *doc) {
    return ak_attest_build(c, s_attester_sign, a->key, doc);
}

static void s_attester_destroy(aks_attester *a) {
    aks_secmem_free(a->key, sizeof(*a->key));
    ak_free(a);
}

ak_err aks_attester_local_open(const char *key_pem_path, aks_attester **out) {
    ak_buf pem;
    ak_err rc = AK_OK;
    *out = NULL;
    AK_GUARD(ak_pki_read_file(key_pem_path, &pem));
    aks_attester *a = ak_calloc(1, sizeof(*a));
    AK_ENSURE_OUT(a != NULL, AK_E_NOMEM);
    a->key = aks_secmem_alloc(sizeof(*a->key));
    if (a->key == NULL) {
        ak_free(a);
        rc = AK_E_NOMEM;
        goto out;
    }
    a->name = "local";
    a->document = s_attester_document;
    a->destroy = s_attester_destroy;
    rc = ak_pki_eckey_from_pem(ak_buf_cur(&pem), a->key);
    if (rc != AK_OK) {
        s_attester_destroy(a);
        goto out;
    }
    *out = a;
out:
    ak_buf_free(&pem);
    return rc;
}

ak_err aks_attester_nitro_open(aks_attester **out) {
    *out = NULL;
    return AK_E_CONFIG;
}

void aks_attester_free(aks_attester *a) {
    if (a != NULL) a->destroy(a);
}

ak_err aks_measure_file(const char *path, uint8_t out[48]) {
    br_sha384_context h;
    uint8_t chunk[16384];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    AK_ENSURE(fd >= 0, AK_E_IO);
    br_sha384_init(&h);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            close(fd);
            return AK_E_IO;
        }
        if (n == 0) break;
        br_sha384_update(&h, chunk, (size_t)n);
    }
    close(fd);
    br_sha384_out(&h, out);
    return AK_OK;
}
