/* attest.c — the signer attestation document: build and verify (see ak/attest.h). */
#include "ak/attest.h"

#include <stdio.h>
#include <string.h>

#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"
#include "ak/log.h"
#include "ak/nitro.h"
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

/* ======================================================================== modes (issue 18) */

const unsigned AK_ATTEST_PCR_INDEX[AK_ATTEST_PCR_SLOTS] = {0, 1, 2, 8};

/* SubjectPublicKeyInfo { AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, BIT STRING } up to
 * the point (RFC 5480 §2): the fixed 26-byte prefix of every P-256 SPKI. */
static const uint8_t s_p256_spki_prefix[26] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                               0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                               0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

void ak_attest_tls_spki(const uint8_t pub65[65], uint8_t out[AK_ATTEST_TLS_SPKI_LEN]) {
    memcpy(out, s_p256_spki_prefix, sizeof(s_p256_spki_prefix));
    memcpy(out + sizeof(s_p256_spki_prefix), pub65, 65);
}

void ak_attest_nitro_user_data(const uint8_t measurement[48], uint8_t out[AK_ATTEST_NITRO_USER_DATA_LEN]) {
    memcpy(out, AK_ATTEST_NITRO_TAG, AK_ATTEST_NITRO_TAG_LEN);
    memcpy(out + AK_ATTEST_NITRO_TAG_LEN, measurement, 48);
}

static ak_err s_attest_bad_setting(const char *name, const char *what) {
    ak_log_error("signer attestation misconfigured", "setting", name, "problem", what);
    return AK_E_CONFIG;
}

static bool s_attest_set(const char *v) { return v != NULL && v[0] != '\0'; }

static const char *const s_attest_pcr_names[AK_ATTEST_PCR_SLOTS] = {"AK_SIGNER_PCR0", "AK_SIGNER_PCR1",
                                                                    "AK_SIGNER_PCR2", "AK_SIGNER_PCR8"};

static ak_err s_attest_pins_nitro(const ak_attest_settings *s, ak_attest_pins *out) {
    for (size_t i = 0; i < AK_ATTEST_PCR_SLOTS; i++) {
        if (!s_attest_set(s->pcr_hex[i])) {
            if (i == 0) return s_attest_bad_setting(s_attest_pcr_names[0], "required in nitro mode");
            continue;
        }
        uint8_t *v = out->pcr_value[out->n_pcrs];
        if (ak_hex_decode_exact(ak_cur_from_str(s->pcr_hex[i]), true, v, 48) != AK_OK)
            return s_attest_bad_setting(s_attest_pcr_names[i], "not 96 hex characters (a SHA-384 PCR)");
        if (i == 0) {
            uint8_t any = 0;
            for (size_t k = 0; k < 48; k++)
                any |= v[k];
            if (any == 0)
                return s_attest_bad_setting(s_attest_pcr_names[0],
                                            "all zero: a debug-mode enclave, which anyone can start");
        }
        out->pcr_index[out->n_pcrs++] = AK_ATTEST_PCR_INDEX[i];
    }
    if (s_attest_set(s->measurement_hex)) {
        if (ak_hex_decode_exact(ak_cur_from_str(s->measurement_hex), false, out->measurement, 48) != AK_OK)
            return s_attest_bad_setting("AK_SIGNER_MEASUREMENT", "not 96 hex characters");
        out->have_measurement = true;
    }
    if (s_attest_set(s->nitro_root)) {
        ak_buf pem, der;
        ak_buf_init(&der, AK_NITRO_MAX_CERT);
        if (ak_pki_read_file(s->nitro_root, &pem) != AK_OK) {
            ak_buf_free(&der);
            return s_attest_bad_setting("AK_SIGNER_NITRO_ROOT", "unreadable");
        }
        ak_err rc = ak_nitro_root_from_pem(ak_buf_cur(&pem), &der);
        if (rc == AK_OK) {
            memcpy(out->root_der, der.ptr, der.len);
            out->root_len = der.len;
        }
        ak_buf_free(&pem);
        ak_buf_free(&der);
        if (rc != AK_OK)
            return s_attest_bad_setting("AK_SIGNER_NITRO_ROOT",
                                        "not one PEM certificate of at most 1024 bytes");
    }
    return AK_OK;
}

ak_err ak_attest_pins_parse(const ak_attest_settings *s, ak_attest_pins *out) {
    AK_PRECOND(s != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (!s_attest_set(s->mode) || strcmp(s->mode, "local") == 0) {
        out->mode = AK_ATTEST_MODE_LOCAL;
        if (!s_attest_set(s->attest_pub))
            return s_attest_bad_setting("AK_SIGNER_ATTEST_PUB", "required in local mode");
        if (!s_attest_set(s->measurement_hex))
            return s_attest_bad_setting("AK_SIGNER_MEASUREMENT", "required in local mode");
        if (ak_hex_decode_exact(ak_cur_from_str(s->measurement_hex), false, out->measurement, 48) != AK_OK)
            return s_attest_bad_setting("AK_SIGNER_MEASUREMENT", "not 96 hex characters");
        out->have_measurement = true;
        if (ak_attest_parse_pub(s->attest_pub, out->attest_pub) != AK_OK)
            return s_attest_bad_setting("AK_SIGNER_ATTEST_PUB", "neither 130 hex nor a PEM public key file");
        return AK_OK;
    }
    if (strcmp(s->mode, "nitro") != 0)
        return s_attest_bad_setting("AK_SIGNER_ATTESTATION", "not local or nitro");
    out->mode = AK_ATTEST_MODE_NITRO;
    ak_err rc = s_attest_pins_nitro(s, out);
    if (rc != AK_OK) memset(out, 0, sizeof(*out));
    return rc;
}

ak_err ak_attest_nitro_verify(ak_cur doc, const ak_attest_pins *p, const ak_attest_challenge *ch,
                              ak_nitro_facts *out) {
    AK_PRECOND(p != NULL && ch != NULL && ch->nonce != NULL && ch->tls_pub != NULL && ch->now_ms > 0);
    AK_PRECOND(p->mode == AK_ATTEST_MODE_NITRO && p->n_pcrs >= 1 && p->n_pcrs <= AK_ATTEST_PCR_SLOTS);
    ak_nitro_pcr_pin pins[AK_ATTEST_PCR_SLOTS];
    uint8_t spki[AK_ATTEST_TLS_SPKI_LEN], ud[AK_ATTEST_NITRO_USER_DATA_LEN];
    ak_nitro_facts local;
    ak_nitro_facts *f = out ? out : &local;
    for (size_t i = 0; i < p->n_pcrs; i++)
        pins[i] = (ak_nitro_pcr_pin){p->pcr_index[i], ak_cur_from(p->pcr_value[i], 48)};
    ak_attest_tls_spki(ch->tls_pub, spki);
    ak_nitro_policy pol = {
        .now_ms = ch->now_ms,
        .max_age_ms = ch->max_age_ms > 0 ? ch->max_age_ms : AK_ATTEST_DEFAULT_MAX_AGE_MS,
        .pcrs = pins,
        .n_pcrs = p->n_pcrs,
        .nonce = ak_cur_from(ch->nonce, ch->nonce_len),
        .public_key = ak_cur_from(spki, sizeof(spki)),
        .user_data = {NULL, 0},
    };
    if (p->have_measurement) {
        ak_attest_nitro_user_data(p->measurement, ud);
        pol.user_data = ak_cur_from(ud, sizeof(ud));
    }
    ak_err rc = ak_nitro_verify(doc, ak_cur_from(p->root_der, p->root_len), &pol, f);
    if (rc == AK_E_ATTEST_PCR_MISMATCH) {
        /* What the enclave reports (public values): what an operator compares with the pins. */
        for (size_t i = 0; i < p->n_pcrs; i++) {
            char name[8], hex[2 * 64 + 1] = "absent";
            unsigned k = p->pcr_index[i];
            snprintf(name, sizeof(name), "PCR%u", k);
            if (f->pcr_present[k]) ak_hex_encode(f->pcrs[k].ptr, f->pcrs[k].len, hex);
            ak_log_warn("attested PCR", "pcr", name, "attested", hex);
        }
    }
    AK_GUARD(rc);
    /* Without a pinned measurement the purpose tag is still required: a document the NSM made for
     * something else (a KMS recipient, another program's binding) is not a TLS binding. */
    AK_ENSURE(f->user_data.present && f->user_data.v.len == AK_ATTEST_NITRO_USER_DATA_LEN &&
                  memcmp(f->user_data.v.ptr, AK_ATTEST_NITRO_TAG, AK_ATTEST_NITRO_TAG_LEN) == 0,
              AK_E_ATTEST_USER_DATA_MISMATCH);
    return AK_OK;
}

ak_err ak_attest_reply_verify(ak_cur reply, const ak_attest_pins *p, const ak_attest_challenge *ch,
                              const char **why) {
    static const char *const allowed[] = {"format", "document", NULL};
    json_t *j = NULL;
    ak_cur format, doc;
    ak_buf raw;
    ak_err rc = AK_OK;
    AK_PRECOND(p != NULL && ch != NULL);
    ak_buf_init(&raw, AK_NITRO_MAX_DOC);
    if (why) *why = "format";
    AK_ENSURE_OUT(reply.len <= AK_ATTEST_MAX_REPLY && ak_json_parse_object(reply, &j) == AK_OK &&
                      ak_json_only_keys(j, allowed) == AK_OK && ak_json_str(j, "format", &format) == AK_OK &&
                      ak_json_str(j, "document", &doc) == AK_OK,
                  AK_E_ATTESTATION_INVALID);
    const char *want = p->mode == AK_ATTEST_MODE_NITRO ? "nitro" : "local";
    if (!ak_cur_eq_str(format, want)) {
        rc = AK_E_ATTEST_MODE_MISMATCH;
        if (why) *why = ak_err_reason(rc);
        goto out;
    }
    if (p->mode == AK_ATTEST_MODE_LOCAL) {
        ak_attest_expect exp = {p->attest_pub, p->measurement, ch->nonce,     ch->nonce_len,
                                ch->tls_pub,   ch->now_ms,     ch->max_age_ms};
        rc = ak_attest_verify(doc, &exp, NULL, why);
        goto out;
    }
    rc = ak_b64_decode(doc, &raw);
    if (rc == AK_E_LIMIT)
        rc = AK_E_TOO_LARGE;
    else if (rc != AK_OK)
        rc = AK_E_ATTEST_CBOR_MALFORMED; /* not base64: not a document */
    if (rc == AK_OK) rc = ak_attest_nitro_verify(ak_buf_cur(&raw), p, ch, NULL);
    if (why) *why = rc == AK_OK ? NULL : ak_err_reason(rc);
out:
    if (j != NULL) json_decref(j);
    ak_buf_free(&raw);
    return rc;
}
