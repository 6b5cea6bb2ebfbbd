/* x509.c — DER encoding and the self-signed OIDC certificate (see aks/x509.h). */
#include "aks/x509.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ak/crypto.h"

#define X509_MAX 2048u

ak_err aks_der_tlv(ak_buf *out, uint8_t tag, ak_cur content) {
    uint8_t hdr[6];
    size_t n = 0;
    hdr[n++] = tag;
    if (content.len < 0x80) {
        hdr[n++] = (uint8_t)content.len;
    } else if (content.len <= 0xff) {
        hdr[n++] = 0x81;
        hdr[n++] = (uint8_t)content.len;
    } else if (content.len <= 0xffff) {
        hdr[n++] = 0x82;
        hdr[n++] = (uint8_t)(content.len >> 8);
        hdr[n++] = (uint8_t)content.len;
    } else {
        return AK_E_LIMIT; /* nothing we encode comes near 64 KiB */
    }
    AK_GUARD(ak_buf_append(out, hdr, n));
    return ak_buf_append_cur(out, content);
}

ak_err aks_der_uint(ak_buf *out, const uint8_t *be, size_t n) {
    uint8_t tmp[66];
    while (n > 1 && be[0] == 0) {
        be++;
        n--;
    }
    AK_ENSURE(n > 0 && n < sizeof(tmp), AK_E_LIMIT);
    size_t k = 0;
    if (be[0] & 0x80) tmp[k++] = 0x00; /* keep it positive */
    memcpy(tmp + k, be, n);
    return aks_der_tlv(out, 0x02, ak_cur_from(tmp, k + n));
}

ak_err aks_der_time(ak_buf *out, int64_t unix_seconds) {
    struct tm tm;
    char s[64];
    time_t t = (time_t)unix_seconds;
    AK_ENSURE(unix_seconds >= 0 && gmtime_r(&t, &tm) != NULL, AK_E_INVALID_INPUT);
    int year = tm.tm_year + 1900;
    AK_ENSURE(year >= 1950 && year <= 9999, AK_E_INVALID_INPUT);
    if (year < 2050) {
        snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        return aks_der_tlv(out, 0x17, ak_cur_from_str(s));
    }
    snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    return aks_der_tlv(out, 0x18, ak_cur_from_str(s));
}

/* OID bodies (without tag and length). */
static const uint8_t s_oid_ec_public_key[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t s_oid_prime256v1[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t s_oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t s_oid_cn[] = {0x55, 0x04, 0x03};
static const uint8_t s_oid_basic_constraints[] = {0x55, 0x1d, 0x13};
static const uint8_t s_oid_ski[] = {0x55, 0x1d, 0x0e};
static const uint8_t s_oid_eku[] = {0x55, 0x1d, 0x25};
static const uint8_t s_oid_san[] = {0x55, 0x1d, 0x11};
static const uint8_t s_oid_kp_server[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};

static ak_err s_x509_oid(ak_buf *out, const uint8_t *oid, size_t n) {
    return aks_der_tlv(out, 0x06, ak_cur_from(oid, n));
}

ak_err aks_der_spki_p256(ak_buf *out, const uint8_t pub65[65]) {
    ak_buf alg, body, bits;
    ak_err rc = AK_OK;
    ak_buf_init(&alg, 64);
    ak_buf_init(&body, 128);
    ak_buf_init(&bits, 80);
    AK_GUARD_OUT(s_x509_oid(&alg, s_oid_ec_public_key, sizeof(s_oid_ec_public_key)));
    AK_GUARD_OUT(s_x509_oid(&alg, s_oid_prime256v1, sizeof(s_oid_prime256v1)));
    AK_GUARD_OUT(aks_der_tlv(&body, 0x30, ak_buf_cur(&alg)));
    AK_GUARD_OUT(ak_buf_append_byte(&bits, 0x00)); /* unused bits */
    AK_GUARD_OUT(ak_buf_append(&bits, pub65, 65));
    AK_GUARD_OUT(aks_der_tlv(&body, 0x03, ak_buf_cur(&bits)));
    AK_GUARD_OUT(aks_der_tlv(out, 0x30, ak_buf_cur(&body)));
out:
    ak_buf_free(&alg);
    ak_buf_free(&body);
    ak_buf_free(&bits);
    return rc;
}

static ak_err s_x509_name(ak_buf *out, const char *cn) {
    ak_buf atv, set, rdn;
    ak_err rc = AK_OK;
    ak_buf_init(&atv, 256);
    ak_buf_init(&set, 256);
    ak_buf_init(&rdn, 256);
    AK_GUARD_OUT(s_x509_oid(&atv, s_oid_cn, sizeof(s_oid_cn)));
    AK_GUARD_OUT(aks_der_tlv(&atv, 0x0c, ak_cur_from_str(cn))); /* UTF8String */
    AK_GUARD_OUT(aks_der_tlv(&set, 0x30, ak_buf_cur(&atv)));
    AK_GUARD_OUT(aks_der_tlv(&rdn, 0x31, ak_buf_cur(&set)));
    AK_GUARD_OUT(aks_der_tlv(out, 0x30, ak_buf_cur(&rdn)));
out:
    ak_buf_free(&atv);
    ak_buf_free(&set);
    ak_buf_free(&rdn);
    return rc;
}

static ak_err s_x509_sigalg(ak_buf *out) {
    ak_buf alg;
    ak_buf_init(&alg, 32);
    ak_err rc = s_x509_oid(&alg, s_oid_ecdsa_sha256, sizeof(s_oid_ecdsa_sha256));
    if (rc == AK_OK) rc = aks_der_tlv(out, 0x30, ak_buf_cur(&alg));
    ak_buf_free(&alg);
    return rc;
}

/* `san`: NULL for the OIDC certificate; a DNS name for the TLS server certificate, which then
 * also gets extendedKeyUsage serverAuth and subjectAltName dNSName = san. */
static ak_err s_x509_extensions(ak_buf *out, const uint8_t pub65[65], const char *san) {
    ak_buf ext, exts, list, tmp, inner;
    uint8_t ski[20];
    static const uint8_t bc_false[] = {0x30, 0x00}; /* BasicConstraints ::= SEQUENCE {} (cA defaults FALSE) */
    static const uint8_t critical[] = {0x01, 0x01, 0xff};
    ak_err rc = AK_OK;
    ak_buf_init(&ext, 256);
    ak_buf_init(&exts, 512);
    ak_buf_init(&list, 512);
    ak_buf_init(&tmp, 64);
    ak_buf_init(&inner, 64);
    /* basicConstraints, critical */
    AK_GUARD_OUT(s_x509_oid(&ext, s_oid_basic_constraints, sizeof(s_oid_basic_constraints)));
    AK_GUARD_OUT(ak_buf_append(&ext, critical, sizeof(critical)));
    AK_GUARD_OUT(aks_der_tlv(&ext, 0x04, ak_cur_from(bc_false, sizeof(bc_false))));
    AK_GUARD_OUT(aks_der_tlv(&exts, 0x30, ak_buf_cur(&ext)));
    ak_buf_clear(&ext);
    /* subjectKeyIdentifier = SHA-1(subjectPublicKey bits) */
    ak_sha1(pub65, 65, ski);
    AK_GUARD_OUT(s_x509_oid(&ext, s_oid_ski, sizeof(s_oid_ski)));
    AK_GUARD_OUT(aks_der_tlv(&inner, 0x04, ak_cur_from(ski, sizeof(ski))));
    AK_GUARD_OUT(aks_der_tlv(&ext, 0x04, ak_buf_cur(&inner)));
    AK_GUARD_OUT(aks_der_tlv(&exts, 0x30, ak_buf_cur(&ext)));
    if (san != NULL) {
        /* extendedKeyUsage = SEQUENCE { id-kp-serverAuth } */
        ak_buf_clear(&ext);
        ak_buf_clear(&inner);
        ak_buf_clear(&tmp);
        AK_GUARD_OUT(s_x509_oid(&tmp, s_oid_kp_server, sizeof(s_oid_kp_server)));
        AK_GUARD_OUT(aks_der_tlv(&inner, 0x30, ak_buf_cur(&tmp)));
        AK_GUARD_OUT(s_x509_oid(&ext, s_oid_eku, sizeof(s_oid_eku)));
        AK_GUARD_OUT(aks_der_tlv(&ext, 0x04, ak_buf_cur(&inner)));
        AK_GUARD_OUT(aks_der_tlv(&exts, 0x30, ak_buf_cur(&ext)));
        /* subjectAltName = GeneralNames { dNSName [2] IMPLICIT IA5String } */
        ak_buf_clear(&ext);
        ak_buf_clear(&inner);
        ak_buf_clear(&tmp);
        AK_GUARD_OUT(aks_der_tlv(&tmp, 0x82, ak_cur_from_str(san)));
        AK_GUARD_OUT(aks_der_tlv(&inner, 0x30, ak_buf_cur(&tmp)));
        AK_GUARD_OUT(s_x509_oid(&ext, s_oid_san, sizeof(s_oid_san)));
        AK_GUARD_OUT(aks_der_tlv(&ext, 0x04, ak_buf_cur(&inner)));
        AK_GUARD_OUT(aks_der_tlv(&exts, 0x30, ak_buf_cur(&ext)));
    }
    /* [3] EXPLICIT Extensions */
    AK_GUARD_OUT(aks_der_tlv(&list, 0x30, ak_buf_cur(&exts)));
    AK_GUARD_OUT(aks_der_tlv(out, 0xa3, ak_buf_cur(&list)));
out:
    ak_buf_free(&ext);
    ak_buf_free(&exts);
    ak_buf_free(&list);
    ak_buf_free(&tmp);
    ak_buf_free(&inner);
    return rc;
}

static ak_err s_x509_build(ak_buf *out, const uint8_t pub65[65], const char *common_name, const char *san,
                           int64_t created_unix, unsigned days, aks_x509_sign_fn sign, void *sign_ctx) {
    ak_buf tbs_body, tbs, validity, cert_body, sig_der, bits;
    uint8_t h[32], sig[64];
    static const uint8_t v3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
    ak_err rc = AK_OK;
    ak_buf_init(&tbs_body, X509_MAX);
    ak_buf_init(&tbs, X509_MAX);
    ak_buf_init(&validity, 64);
    ak_buf_init(&cert_body, X509_MAX);
    ak_buf_init(&sig_der, 80);
    ak_buf_init(&bits, 80);

    AK_GUARD_OUT(ak_buf_append(&tbs_body, v3, sizeof(v3)));
    ak_sha256(pub65, 65, h);
    h[0] &= 0x7f;
    h[0] |= 0x01; /* positive and never zero-led: exactly 16 content bytes */
    AK_GUARD_OUT(aks_der_uint(&tbs_body, h, 16));
    AK_GUARD_OUT(s_x509_sigalg(&tbs_body));
    AK_GUARD_OUT(s_x509_name(&tbs_body, common_name));
    AK_GUARD_OUT(aks_der_time(&validity, created_unix - 3600));
    AK_GUARD_OUT(aks_der_time(&validity, created_unix + (int64_t)days * 86400));
    AK_GUARD_OUT(aks_der_tlv(&tbs_body, 0x30, ak_buf_cur(&validity)));
    AK_GUARD_OUT(s_x509_name(&tbs_body, common_name));
    AK_GUARD_OUT(aks_der_spki_p256(&tbs_body, pub65));
    AK_GUARD_OUT(s_x509_extensions(&tbs_body, pub65, san));
    AK_GUARD_OUT(aks_der_tlv(&tbs, 0x30, ak_buf_cur(&tbs_body)));

    AK_GUARD_OUT(sign(sign_ctx, ak_buf_cur(&tbs), sig));
    AK_GUARD_OUT(ak_p256_sig_raw_to_der(sig, &sig_der));
    AK_GUARD_OUT(ak_buf_append_byte(&bits, 0x00));
    AK_GUARD_OUT(ak_buf_append_cur(&bits, ak_buf_cur(&sig_der)));

    AK_GUARD_OUT(ak_buf_append_cur(&cert_body, ak_buf_cur(&tbs)));
    AK_GUARD_OUT(s_x509_sigalg(&cert_body));
    AK_GUARD_OUT(aks_der_tlv(&cert_body, 0x03, ak_buf_cur(&bits)));
    AK_GUARD_OUT(aks_der_tlv(out, 0x30, ak_buf_cur(&cert_body)));
out:
    ak_buf_free(&tbs_body);
    ak_buf_free(&tbs);
    ak_buf_free(&validity);
    ak_buf_free(&cert_body);
    ak_buf_free(&sig_der);
    ak_buf_free(&bits);
    return rc;
}

ak_err aks_x509_self_signed(ak_buf *out, const uint8_t pub65[65], const char *common_name,
                            int64_t created_unix, unsigned days, aks_x509_sign_fn sign, void *sign_ctx) {
    return s_x509_build(out, pub65, common_name, NULL, created_unix, days, sign, sign_ctx);
}

ak_err aks_x509_tls_server(ak_buf *out, const uint8_t pub65[65], const char *server_name,
                           int64_t created_unix, unsigned days, aks_x509_sign_fn sign, void *sign_ctx) {
    size_t n = strlen(server_name);
    AK_ENSURE(n > 0 && n < 254, AK_E_INVALID_INPUT);
    for (size_t i = 0; i < n; i++) {
        char c = server_name[i];
        AK_ENSURE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.',
                  AK_E_INVALID_INPUT);
    }
    return s_x509_build(out, pub65, server_name, server_name, created_unix, days, sign, sign_ctx);
}
