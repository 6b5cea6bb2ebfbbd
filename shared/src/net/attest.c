/* attest.c — the signer attestation document: build and verify (see ak/attest.h). */
#include "ak/attest.h"

#include <string.h>

#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"
#include "ak/pki.h"

#define ATTEST_HEADER "{\"alg\":\"ES256\",\"typ\":\"ak-attest+jwt\"}"

ak_err ak_attest_build(const ak_attest_claims *c, ak_attest_sign_fn sign, void *ctx, ak_buf *doc) {
    ak_buf payload, pub_b64, nonce_b64, sig_b64;
    char mhex[97];
    uint8_t sig[64];
    ak_err rc = AK_OK;
    AK_PRECOND(c->nonce_len <= AK_ATTEST_NONCE_MAX);
    ak_buf_init(&payload, 1024);
    ak_buf_init(&pub_b64, 128);
    ak_buf_init(&nonce_b64, 128);
    ak_buf_init(&sig_b64, 128);
    ak_hex_encode(c->measurement, 48, mhex);
    AK_GUARD_OUT(ak_b64url_encode(c->tls_pub, 65, &pub_b64));
    AK_GUARD_OUT(ak_b64url_encode(c->nonce, c->nonce_len, &nonce_b64));
    AK_GUARD_OUT(ak_buf_printf(
        &payload,
        "{\"v\":1,\"module\":\"" AK_ATTEST_MODULE "\",\"measurement\":\"%s\",\"tls_pub\":\"%s\","
        "\"nonce\":\"%s\",\"timestamp\":%lld}",
        mhex, ak_buf_cstr(&pub_b64), ak_buf_cstr(&nonce_b64), (long long)c->timestamp_ms));
    size_t start = doc->len;
    AK_GUARD_OUT(ak_b64url_encode((const uint8_t *)ATTEST_HEADER, sizeof(ATTEST_HEADER) - 1, doc));
    AK_GUARD_OUT(ak_buf_append_byte(doc, '.'));
    AK_GUARD_OUT(ak_b64url_encode(payload.ptr, payload.len, doc));
    AK_GUARD_OUT(sign(ctx, ak_cur_from(doc->ptr + start, doc->len - start), sig));
    AK_GUARD_OUT(ak_b64url_encode(sig, 64, &sig_b64));
    AK_GUARD_OUT(ak_buf_append_byte(doc, '.'));
    AK_GUARD_OUT(ak_buf_append_cur(doc, ak_buf_cur(&sig_b64)));
out:
    ak_buf_free(&payload);
    ak_buf_free(&pub_b64);
    ak_buf_free(&nonce_b64);
    ak_buf_free(&sig_b64);
    return rc;
}

static ak_err s_attest_fail(const char **why, const char *what) {
    if (why != NULL) *why = what;
    return AK_E_ATTESTATION_INVALID;
}

/* Decodes a base64url string member into exactly `n` bytes (n = 0: any length up to cap). */
static bool s_attest_b64_member(const json_t *o, const char *key, uint8_t *dst, size_t n, size_t cap,
                                size_t *got) {
    ak_cur s;
    ak_buf b;
    bool ok = false;
    if (ak_json_str(o, key, &s) != AK_OK) return false;
    ak_buf_init(&b, cap);
    if (ak_b64url_decode(s, &b) == AK_OK && (n == 0 ? b.len <= cap : b.len == n)) {
        memcpy(dst, b.ptr, b.len);
        if (got) *got = b.len;
        ok = true;
    }
    ak_buf_free(&b);
    return ok;
}

ak_err ak_attest_verify(ak_cur doc, const ak_attest_expect *exp, ak_attest_claims *out, const char **why) {
    ak_cur rest = doc, h64, p64, s64, mod, mhex;
    ak_buf header, payload, sig;
    json_t *pj = NULL;
    ak_attest_claims c;
    uint64_t v, ts;
    ak_err rc = AK_OK;
    AK_PRECOND(exp != NULL && exp->attest_pub != NULL && exp->measurement != NULL && exp->nonce != NULL);
    memset(&c, 0, sizeof(c));
    ak_buf_init(&header, 256);
    ak_buf_init(&payload, AK_ATTEST_MAX_DOC);
    ak_buf_init(&sig, 64);
    if (why) *why = "format";

    AK_ENSURE_OUT(doc.len <= AK_ATTEST_MAX_DOC, AK_E_ATTESTATION_INVALID);
    AK_ENSURE_OUT(ak_cur_split(&rest, '.', &h64) && ak_cur_split(&rest, '.', &p64), AK_E_ATTESTATION_INVALID);
    s64 = rest;
    AK_ENSURE_OUT(ak_b64url_decode(h64, &header) == AK_OK && ak_b64url_decode(p64, &payload) == AK_OK &&
                      ak_b64url_decode(s64, &sig) == AK_OK && sig.len == 64,
                  AK_E_ATTESTATION_INVALID);
    /* The header is fixed: comparing bytes avoids any alg-confusion parsing. */
    AK_ENSURE_OUT(ak_cur_eq_str(ak_buf_cur(&header), ATTEST_HEADER), AK_E_ATTESTATION_INVALID);
    if (ak_p256_verify_sha256(exp->attest_pub, doc.ptr, h64.len + 1 + p64.len, sig.ptr) != AK_OK) {
        rc = s_attest_fail(why, "signature");
        goto out;
    }
    if (why) *why = "format";
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&payload), &pj) == AK_OK, AK_E_ATTESTATION_INVALID);
    static const char *const allowed[] = {"v",     "module",    "measurement", "tls_pub",
                                          "nonce", "timestamp", NULL};
    AK_ENSURE_OUT(ak_json_only_keys(pj, allowed) == AK_OK, AK_E_ATTESTATION_INVALID);
    AK_ENSURE_OUT(ak_json_u64(pj, "v", &v) == AK_OK && v == 1, AK_E_ATTESTATION_INVALID);
    AK_ENSURE_OUT(ak_json_str(pj, "module", &mod) == AK_OK && ak_cur_eq_str(mod, AK_ATTEST_MODULE),
                  AK_E_ATTESTATION_INVALID);
    AK_ENSURE_OUT(ak_json_str(pj, "measurement", &mhex) == AK_OK &&
                      ak_hex_decode_exact(mhex, false, c.measurement, 48) == AK_OK,
                  AK_E_ATTESTATION_INVALID);
    AK_ENSURE_OUT(s_attest_b64_member(pj, "tls_pub", c.tls_pub, 65, 65, NULL), AK_E_ATTESTATION_INVALID);
    AK_ENSURE_OUT(s_attest_b64_member(pj, "nonce", c.nonce, 0, AK_ATTEST_NONCE_MAX, &c.nonce_len),
                  AK_E_ATTESTATION_INVALID);
    AK_ENSURE_OUT(ak_json_u64(pj, "timestamp", &ts) == AK_OK && ts <= (uint64_t)INT64_MAX,
                  AK_E_ATTESTATION_INVALID);
    c.timestamp_ms = (int64_t)ts;

    if (!ak_ct_eq(c.measurement, exp->measurement, 48)) {
        rc = s_attest_fail(why, "measurement");
        goto out;
    }
    if (!ak_ct_eq_len(c.nonce, c.nonce_len, exp->nonce, exp->nonce_len)) {
        rc = s_attest_fail(why, "nonce");
        goto out;
    }
    int64_t max_age = exp->max_age_ms > 0 ? exp->max_age_ms : AK_ATTEST_DEFAULT_MAX_AGE_MS;
    int64_t age = exp->now_ms - c.timestamp_ms;
    if (age > max_age || age < -max_age) {
        rc = s_attest_fail(why, "stale");
        goto out;
    }
    if (exp->tls_pub != NULL && !ak_ct_eq(c.tls_pub, exp->tls_pub, 65)) {
        rc = s_attest_fail(why, "tls_pub");
        goto out;
    }
    if (why) *why = NULL;
    if (out != NULL) *out = c;
out:
    if (pj != NULL) json_decref(pj);
    ak_buf_free(&header);
    ak_buf_free(&payload);
    ak_buf_free(&sig);
    return rc;
}

ak_err ak_attest_parse_pub(const char *setting, uint8_t pub65[65]) {
    ak_buf pem;
    AK_ENSURE(setting != NULL && setting[0] != '\0', AK_E_CONFIG);
    ak_cur s = ak_cur_from_str(setting);
    if (s.len == 130 && ak_hex_decode_exact(s, false, pub65, 65) == AK_OK) {
        AK_ENSURE(ak_p256_pub_valid(pub65), AK_E_CONFIG);
        return AK_OK;
    }
    AK_ENSURE(ak_pki_read_file(setting, &pem) == AK_OK, AK_E_CONFIG);
    ak_err rc = ak_pki_spki_p256_pem(ak_buf_cur(&pem), pub65);
    ak_buf_free(&pem);
    return rc == AK_OK ? AK_OK : AK_E_CONFIG;
}
