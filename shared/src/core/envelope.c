/* envelope.c — version 0x04 envelopes (decisions D8; see ak/envelope.h). */
#include "ak/envelope.h"

#include <string.h>

#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/limits.h"

static ak_err s_check_name(const ak_env_binding *b) {
    if (b->data_class == AK_CLASS_MEMORY) return ak_namespace_validate(b->service);
    return ak_service_validate(b->service);
}

/* Formats the AAD into a stack array (no allocation on the crypto path): it never exceeds
 * AK_ENV_MAX_AAD once the name is valid. */
static ak_err s_aad_v(const ak_env_binding *b, uint32_t epoch, uint8_t version, uint8_t aad[AK_ENV_MAX_AAD],
                      size_t *aad_len) {
    AK_GUARD(s_check_name(b));
    /* 0x05 differs only in the prefix (docs/spec/use-policy.md §3): a blob cannot be relabelled. */
    const char *prefix = version == AK_ENV_VERSION_POLICY ? "agentkeys.env.v5|" : "agentkeys.env.v4|";
    const size_t prefix_len = 17;
    const char *cls = ak_data_class_str(b->data_class);
    size_t cls_len = strlen(cls);
    char dec[10];
    size_t dn = 0;
    uint32_t v = epoch;
    do {
        dec[sizeof(dec) - 1 - dn++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    size_t n = 0;
    /* D8: agentkeys.env.v4|<data_class>|<operator_hex>|<actor_hex>|<service>|<epoch decimal> */
    memcpy(aad + n, prefix, prefix_len);
    n += prefix_len;
    memcpy(aad + n, cls, cls_len);
    n += cls_len;
    aad[n++] = '|';
    char hex[AK_OMNI_HEX_LEN + 1];
    ak_omni_hex(&b->operator_omni, hex);
    memcpy(aad + n, hex, AK_OMNI_HEX_LEN);
    n += AK_OMNI_HEX_LEN;
    aad[n++] = '|';
    ak_omni_hex(&b->actor_omni, hex);
    memcpy(aad + n, hex, AK_OMNI_HEX_LEN);
    n += AK_OMNI_HEX_LEN;
    aad[n++] = '|';
    memcpy(aad + n, b->service.ptr, b->service.len); /* <= 64, checked by s_check_name */
    n += b->service.len;
    aad[n++] = '|';
    memcpy(aad + n, dec + sizeof(dec) - dn, dn);
    n += dn;
    *aad_len = n;
    return AK_OK;
}

static ak_err s_aad(const ak_env_binding *b, uint32_t epoch, uint8_t aad[AK_ENV_MAX_AAD], size_t *aad_len) {
    return s_aad_v(b, epoch, AK_ENV_VERSION, aad, aad_len);
}

ak_err ak_envelope_aad(const ak_env_binding *b, uint32_t epoch, ak_buf *out) {
    AK_PRECOND(b != NULL && out != NULL);
    uint8_t aad[AK_ENV_MAX_AAD];
    size_t n = 0;
    AK_GUARD(s_aad(b, epoch, aad, &n));
    return ak_buf_append(out, aad, n);
}

ak_err ak_envelope_seal(const uint8_t kek[32], uint32_t epoch, const ak_env_binding *b, ak_cur plaintext,
                        ak_buf *out) {
    return ak_envelope_seal_version(kek, epoch, AK_ENV_VERSION, b, plaintext, out);
}

ak_err ak_envelope_seal_version(const uint8_t kek[32], uint32_t epoch, uint8_t version,
                                const ak_env_binding *b, ak_cur plaintext, ak_buf *out) {
    AK_PRECOND(kek != NULL && b != NULL && out != NULL);
    AK_PRECOND(version == AK_ENV_VERSION || version == AK_ENV_VERSION_POLICY);
    AK_ENSURE(plaintext.len <= AK_MAX_PLAINTEXT, AK_E_TOO_LARGE);
    uint8_t aad[AK_ENV_MAX_AAD];
    size_t aad_len = 0;
    AK_GUARD(s_aad_v(b, epoch, version, aad, &aad_len));

    uint8_t hdr[AK_ENV_HEADER_LEN];
    hdr[0] = version;
    hdr[1] = (uint8_t)(epoch >> 24);
    hdr[2] = (uint8_t)(epoch >> 16);
    hdr[3] = (uint8_t)(epoch >> 8);
    hdr[4] = (uint8_t)epoch;
    /* A fresh 96-bit random nonce per seal: with at most a few writes per (KEK, key) the
     * birthday bound (2^-32 after 2^32 seals under one KEK) is far away. */
    AK_GUARD(ak_random(hdr + 5, 12));

    /* Reserve everything first so the seal below cannot fail half-way. */
    AK_GUARD(ak_buf_reserve(out, AK_ENV_OVERHEAD + plaintext.len));
    uint8_t *p = out->ptr + out->len;
    memcpy(p, hdr, AK_ENV_HEADER_LEN);
    if (plaintext.len) memcpy(p + AK_ENV_HEADER_LEN, plaintext.ptr, plaintext.len);
    ak_aes256gcm_seal(kek, hdr + 5, aad, aad_len, p + AK_ENV_HEADER_LEN, plaintext.len,
                      p + AK_ENV_HEADER_LEN + plaintext.len);
    out->len += AK_ENV_OVERHEAD + plaintext.len;
    out->ptr[out->len] = 0;
    return AK_OK;
}

/* Length, then version (ak/envelope.h "checks run in that order"). */
static ak_err s_header_any(ak_cur blob, bool policy_ok, uint32_t *epoch) {
    AK_ENSURE(blob.len >= AK_ENV_OVERHEAD, AK_E_ENVELOPE_TRUNCATED);
    AK_ENSURE(blob.ptr[0] == AK_ENV_VERSION || (policy_ok && blob.ptr[0] == AK_ENV_VERSION_POLICY),
              AK_E_ENVELOPE_VERSION);
    *epoch = ((uint32_t)blob.ptr[1] << 24) | ((uint32_t)blob.ptr[2] << 16) | ((uint32_t)blob.ptr[3] << 8) |
             (uint32_t)blob.ptr[4];
    return AK_OK;
}

static ak_err s_header(ak_cur blob, uint32_t *epoch) { return s_header_any(blob, false, epoch); }

ak_err ak_envelope_peek(ak_cur blob, uint32_t *epoch, uint8_t *version) {
    AK_PRECOND(epoch != NULL && version != NULL);
    AK_GUARD(s_header_any(blob, true, epoch));
    *version = blob.ptr[0];
    return AK_OK;
}

ak_err ak_envelope_peek_epoch(ak_cur blob, uint32_t *epoch) {
    AK_PRECOND(epoch != NULL);
    return s_header(blob, epoch);
}

static ak_err s_open(const uint8_t kek[32], uint32_t kek_epoch, const ak_env_binding *b, ak_cur blob,
                     bool policy_ok, ak_buf *out) {
    AK_PRECOND(kek != NULL && b != NULL && out != NULL);
    AK_PRECOND(out->secret); /* plaintext must live in a buffer that wipes itself */
    uint32_t epoch;
    AK_GUARD(s_header_any(blob, policy_ok, &epoch));
    size_t n = blob.len - AK_ENV_OVERHEAD;
    AK_ENSURE(n <= AK_MAX_PLAINTEXT, AK_E_TOO_LARGE);
    /* The KEK is per epoch (D6): a key for another epoch cannot open this blob, and saying so
     * early avoids handing a wrong key to the cipher. */
    AK_ENSURE(epoch == kek_epoch, AK_E_DECRYPT_FAILED);

    uint8_t aad[AK_ENV_MAX_AAD];
    size_t aad_len = 0;
    AK_GUARD(s_aad_v(b, epoch, blob.ptr[0], aad, &aad_len));

    AK_GUARD(ak_buf_reserve(out, n));
    uint8_t *p = out->ptr + out->len;
    if (n) memcpy(p, blob.ptr + AK_ENV_HEADER_LEN, n);
    /* Opens in place; on a bad tag the crypto layer wipes the n bytes it decrypted. */
    ak_err rc = ak_aes256gcm_open(kek, blob.ptr + 5, 12, aad, aad_len, p, n, blob.ptr + AK_ENV_HEADER_LEN + n,
                                  AK_ENV_TAG_LEN);
    if (rc != AK_OK) {
        ak_wipe(p, n); /* belt and braces: nothing unauthenticated stays behind */
        out->ptr[out->len] = 0;
        return AK_E_DECRYPT_FAILED;
    }
    out->len += n;
    out->ptr[out->len] = 0;
    return AK_OK;
}

ak_err ak_envelope_open(const uint8_t kek[32], uint32_t kek_epoch, const ak_env_binding *b, ak_cur blob,
                        ak_buf *out) {
    return s_open(kek, kek_epoch, b, blob, false, out);
}

ak_err ak_envelope_open_version(const uint8_t kek[32], uint32_t kek_epoch, const ak_env_binding *b,
                                ak_cur blob, ak_buf *out, uint8_t *version) {
    AK_PRECOND(version != NULL);
    AK_GUARD(s_open(kek, kek_epoch, b, blob, true, out));
    *version = blob.ptr[0];
    return AK_OK;
}
