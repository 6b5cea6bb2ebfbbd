/* attester.c — local attestation key and self-measurement (see aks/attester.h). */
#include "aks/attester.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/log.h"
#include "ak/nitro.h"
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

/* ---- nitro (aks/nsm.h) ---- */

/* One NSM round trip for three fields; appends the raw document to `raw` only when it carries
 * exactly the nonce, public key and user data asked for. */
static ak_err s_nitro_fields(aks_attester *a, ak_cur user_data, ak_cur nonce, ak_cur public_key,
                             ak_buf *raw) {
    ak_buf req, resp;
    ak_cur doc;
    const char *code = NULL;
    size_t got = 0;
    ak_err rc = AK_OK;
    ak_buf_init(&req, AKS_NSM_REQUEST_MAX);
    ak_buf_init(&resp, AKS_NSM_RESPONSE_MAX);
    AK_GUARD_OUT(aks_nsm_attestation_request(user_data, nonce, public_key, &req));
    AK_GUARD_OUT(ak_buf_reserve(&resp, AKS_NSM_RESPONSE_MAX));
    AK_GUARD_OUT(a->nsm(a->nsm_ctx, ak_buf_cur(&req), resp.ptr, AKS_NSM_RESPONSE_MAX, &got));
    AK_ENSURE_OUT(got <= AKS_NSM_RESPONSE_MAX, AK_E_ATTEST_NSM_MALFORMED);
    resp.len = got;
    rc = aks_nsm_attestation_response(ak_buf_cur(&resp), &doc, &code);
    if (rc == AK_E_ATTEST_NSM_ERROR) ak_log_error("nsm refused the attestation", "nsm_error", code);
    AK_GUARD_OUT(rc);
    /* The NSM is trusted to sign, but what it signed must be what we asked for: a document
     * that does not parse or names other values is never handed to a caller. */
    ak_nitro_facts f;
    if (ak_nitro_parse(doc, &f) != AK_OK || !f.nonce.present || !ak_cur_eq(f.nonce.v, nonce) ||
        !f.public_key.present || !ak_cur_eq(f.public_key.v, public_key) || !f.user_data.present ||
        !ak_cur_eq(f.user_data.v, user_data)) {
        ak_log_error("nsm document does not carry the binding asked for");
        rc = AK_E_ATTEST_NSM_MALFORMED;
        goto out;
    }
    AK_GUARD_OUT(ak_buf_append_cur(raw, doc));
out:
    ak_buf_free(&req);
    ak_buf_free(&resp);
    return rc;
}

/* The TLS binding's document for the claims (enclave/README.md "Attestation"). */
static ak_err s_nitro_raw(aks_attester *a, const ak_attest_claims *c, ak_buf *raw) {
    uint8_t spki[AK_ATTEST_TLS_SPKI_LEN], ud[AK_ATTEST_NITRO_USER_DATA_LEN];
    ak_attest_tls_spki(c->tls_pub, spki);
    ak_attest_nitro_user_data(c->measurement, ud);
    return s_nitro_fields(a, ak_cur_from(ud, sizeof(ud)), ak_cur_from(c->nonce, c->nonce_len),
                          ak_cur_from(spki, sizeof(spki)), raw);
}

static ak_err s_nitro_document(aks_attester *a, const ak_attest_claims *c, ak_buf *doc) {
    ak_buf raw;
    ak_buf_init(&raw, AK_NITRO_MAX_DOC);
    ak_err rc = s_nitro_raw(a, c, &raw);
    if (rc == AK_OK) rc = ak_b64_encode(raw.ptr, raw.len, doc);
    ak_buf_free(&raw);
    return rc;
}

static void s_nitro_destroy(aks_attester *a) {
    if (a->nsm_fd >= 0) close(a->nsm_fd);
    ak_free(a);
}

/* fd >= 0: the device transport on it (closed by destroy, also when the probe fails). */
static ak_err s_nitro_new(aks_nsm_transport_fn nsm, void *ctx, int fd, aks_attester **out) {
    *out = NULL;
    aks_attester *a = ak_calloc(1, sizeof(*a));
    if (a == NULL) {
        if (fd >= 0) close(fd);
        return AK_E_NOMEM;
    }
    a->name = "nitro";
    a->document = s_nitro_document;
    a->destroy = s_nitro_destroy;
    a->nsm = nsm;
    a->nsm_fd = fd;
    a->nsm_ctx = fd >= 0 ? (void *)&a->nsm_fd : ctx;
    /* The probe: a throwaway document over a random nonce and an empty binding. */
    ak_attest_claims probe;
    ak_buf raw;
    memset(&probe, 0, sizeof(probe));
    probe.tls_pub[0] = 0x04;
    probe.nonce_len = 32;
    ak_buf_init(&raw, AK_NITRO_MAX_DOC);
    ak_err rc = ak_random(probe.nonce, probe.nonce_len);
    if (rc == AK_OK) rc = s_nitro_raw(a, &probe, &raw);
    ak_buf_free(&raw);
    if (rc != AK_OK) {
        ak_log_error("nsm attester unusable", "reason", ak_err_reason(rc));
        s_nitro_destroy(a);
        return rc;
    }
    *out = a;
    return AK_OK;
}

ak_err aks_attester_nitro_with(aks_nsm_transport_fn nsm, void *ctx, aks_attester **out) {
    return s_nitro_new(nsm, ctx, -1, out);
}

ak_err aks_attester_nitro_open(const char *device, aks_attester **out) {
    const char *path = device != NULL ? device : AKS_NSM_DEVICE;
    *out = NULL;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        char e[16];
        snprintf(e, sizeof(e), "%d", errno);
        ak_log_error("nsm unavailable: not inside a Nitro enclave, or the nsm driver is not loaded", "device",
                     path, "errno", e);
        return AK_E_ATTEST_NSM_UNAVAILABLE;
    }
    return s_nitro_new(aks_nsm_ioctl, NULL, fd, out);
}

ak_err aks_attester_recipient_doc(void *attester, ak_cur spki_der, ak_buf *doc) {
    aks_attester *a = attester;
    uint8_t nonce[32];
    static const char tag[] = "ak-kms-recipient/v1";
    /* Only the NSM can vouch for the enclave to KMS; a local attester has nothing KMS accepts. */
    AK_ENSURE(a != NULL && a->nsm != NULL, AK_E_CONFIG);
    AK_GUARD(ak_random(nonce, sizeof(nonce)));
    return s_nitro_fields(a, ak_cur_from(tag, sizeof(tag) - 1), ak_cur_from(nonce, sizeof(nonce)), spki_der,
                          doc);
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
