/*
 * attest_doc_fuzz.c — ak_attest_verify (ak/attest.h), the signer's attestation document every
 * caller checks before the first secret crosses, against a fixed pinned key and measurement.
 *
 * Input: byte 0 picks the mode, the rest is its input.
 *   even: the rest is the whole document (compact JWS) as the network delivers it;
 *   odd:  the rest is the payload, signed here with the pinned key (deterministic ECDSA), so
 *         the claim checks behind the signature are reached too.
 * Properties: no crash, overread, leak or UB; a failure names one of the documented checks;
 * claims that verify re-build (ak_attest_build, same key) to a document that verifies to the
 * same claims (fixed point); a document never verifies under another pinned key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/attest.h"
#include "ak/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1760000000000LL

static uint8_t s_priv[32], s_pub[65], s_other_pub[65], s_tls_pub[65];
static uint8_t s_measurement[48], s_nonce[16];

static void s_init(void) {
    static int done;
    if (done) return;
    done = 1;
    ak_alloc_install_jansson();
    /* Fixed keys: deterministic runs, and seeds can carry valid documents. */
    uint8_t p[32];
    for (int i = 0; i < 32; i++)
        s_priv[i] = (uint8_t)(i + 1);
    if (ak_p256_pub_from_priv(s_priv, s_pub) != AK_OK) abort();
    memset(p, 0x22, 32);
    if (ak_p256_pub_from_priv(p, s_tls_pub) != AK_OK) abort();
    memset(p, 0x33, 32);
    if (ak_p256_pub_from_priv(p, s_other_pub) != AK_OK) abort();
    memset(s_measurement, 0x5a, sizeof(s_measurement));
    memset(s_nonce, 0xa5, sizeof(s_nonce));
}

static ak_err s_sign(void *ctx, ak_cur msg, uint8_t sig64[64]) {
    (void)ctx;
    return ak_p256_sign_sha256(s_priv, msg.ptr, msg.len, sig64);
}

static ak_attest_expect s_expect(const uint8_t *pub) {
    ak_attest_expect x = {pub, s_measurement, s_nonce, sizeof(s_nonce), s_tls_pub, NOW_MS, 0};
    return x;
}

static bool s_claims_eq(const ak_attest_claims *a, const ak_attest_claims *b) {
    return memcmp(a->measurement, b->measurement, 48) == 0 && memcmp(a->tls_pub, b->tls_pub, 65) == 0 &&
           a->nonce_len == b->nonce_len && memcmp(a->nonce, b->nonce, a->nonce_len) == 0 &&
           a->timestamp_ms == b->timestamp_ms;
}

static void s_verify(ak_cur doc) {
    ak_attest_expect x = s_expect(s_pub);
    ak_attest_claims c;
    const char *why = "unset";
    ak_err e = ak_attest_verify(doc, &x, &c, &why);
    if (e != AK_OK) {
        if (e != AK_E_ATTESTATION_INVALID || why == NULL) abort();
        static const char *const whys[] = {"signature", "measurement", "nonce", "stale", "tls_pub", "format"};
        bool known = false;
        for (size_t i = 0; i < sizeof(whys) / sizeof(whys[0]); i++)
            known |= strcmp(why, whys[i]) == 0;
        if (!known) abort();
        return;
    }
    if (why != NULL) abort();
    ak_attest_expect other = s_expect(s_other_pub);
    if (ak_attest_verify(doc, &other, NULL, NULL) == AK_OK) abort();
    /* fixed point: build from the claims, verify again, same claims */
    ak_buf again;
    ak_buf_init(&again, AK_ATTEST_MAX_DOC);
    if (ak_attest_build(&c, s_sign, NULL, &again) != AK_OK) abort();
    ak_attest_claims c2;
    if (ak_attest_verify(ak_buf_cur(&again), &x, &c2, NULL) != AK_OK) abort();
    if (!s_claims_eq(&c, &c2)) abort();
    ak_buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    s_init();
    if (size == 0) return 0;
    ak_cur in = ak_cur_from(data + 1, size - 1);
    if (data[0] % 2 == 0) {
        s_verify(in);
        return 0;
    }
    if (in.len > AK_ATTEST_MAX_DOC) return 0;
    static const char header[] = "{\"alg\":\"ES256\",\"typ\":\"ak-attest+jwt\"}";
    ak_buf doc, sig;
    ak_buf_init(&doc, 2 * AK_ATTEST_MAX_DOC);
    ak_buf_init(&sig, 128);
    uint8_t raw[64];
    if (ak_b64url_encode((const uint8_t *)header, sizeof(header) - 1, &doc) != AK_OK ||
        ak_buf_append_byte(&doc, '.') != AK_OK || ak_b64url_encode(in.ptr, in.len, &doc) != AK_OK ||
        s_sign(NULL, ak_buf_cur(&doc), raw) != AK_OK || ak_b64url_encode(raw, 64, &sig) != AK_OK ||
        ak_buf_append_byte(&doc, '.') != AK_OK || ak_buf_append_cur(&doc, ak_buf_cur(&sig)) != AK_OK)
        abort();
    s_verify(ak_buf_cur(&doc));
    ak_buf_free(&doc);
    ak_buf_free(&sig);
    return 0;
}
