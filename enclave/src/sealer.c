/* sealer.c — the local file-key sealer and the KMS/attestation (Nitro) sealer (see aks/sealer.h, D7). */
#include "aks/sealer.h"

#include <string.h>

#include "ak/alloc.h"
#include "ak/cbor.h"
#include "ak/cms.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/http.h"
#include "ak/json.h"
#include "ak/kms.h"
#include "ak/log.h"
#include "ak/pki.h"
#include "aks/secmem.h"

static ak_err s_sealer_seal(aks_sealer *s, ak_cur aad, ak_cur pt, ak_buf *out) {
    uint8_t nonce[12], tag[16];
    size_t start = out->len;
    AK_GUARD(ak_random(nonce, sizeof(nonce)));
    AK_GUARD(ak_buf_reserve(out, 12 + pt.len + 16));
    AK_GUARD(ak_buf_append(out, nonce, sizeof(nonce)));
    AK_GUARD(ak_buf_append_cur(out, pt));
    ak_aes256gcm_seal(s->key, nonce, aad.ptr, aad.len, out->ptr + start + 12, pt.len, tag);
    return ak_buf_append(out, tag, sizeof(tag));
}

static ak_err s_sealer_unseal(aks_sealer *s, ak_cur aad, ak_cur blob, ak_buf *pt) {
    AK_ENSURE(blob.len >= AKS_SEAL_OVERHEAD, AK_E_DECRYPT_FAILED);
    size_t n = blob.len - AKS_SEAL_OVERHEAD;
    size_t start = pt->len;
    AK_GUARD(ak_buf_append(pt, blob.ptr + 12, n));
    ak_err rc =
        ak_aes256gcm_open(s->key, blob.ptr, 12, aad.ptr, aad.len, pt->ptr + start, n, blob.ptr + 12 + n, 16);
    if (rc != AK_OK) {
        ak_wipe(pt->ptr + start, n);
        pt->len = start;
        return AK_E_DECRYPT_FAILED;
    }
    return AK_OK;
}

static void s_sealer_destroy(aks_sealer *s) {
    aks_secmem_free(s->key, 32);
    ak_free(s);
}

ak_err aks_sealer_from_key(const uint8_t key[32], aks_sealer **out) {
    aks_sealer *s = ak_calloc(1, sizeof(*s));
    AK_ENSURE(s != NULL, AK_E_NOMEM);
    s->key = aks_secmem_alloc(32);
    if (s->key == NULL) {
        ak_free(s);
        return AK_E_NOMEM;
    }
    memcpy(s->key, key, 32);
    s->name = "file";
    s->seal = s_sealer_seal;
    s->unseal = s_sealer_unseal;
    s->destroy = s_sealer_destroy;
    *out = s;
    return AK_OK;
}

ak_err aks_sealer_file_open(const char *key_path, aks_sealer **out) {
    ak_buf raw;
    uint8_t key[32];
    ak_err rc = AK_OK;
    *out = NULL;
    AK_GUARD(ak_pki_read_file(key_path, &raw));
    if (raw.len == 32) {
        memcpy(key, raw.ptr, 32);
    } else {
        /* 64 hex characters, optionally followed by one newline (what `openssl rand -hex` writes). */
        ak_cur t = ak_buf_cur(&raw);
        if (t.len == 65 && t.ptr[64] == '\n') t.len = 64;
        AK_ENSURE_OUT(t.len == 64 && ak_hex_decode_exact(t, false, key, 32) == AK_OK, AK_E_BAD_KEY);
    }
    rc = aks_sealer_from_key(key, out);
out:
    ak_wipe(key, sizeof(key));
    ak_buf_free(&raw);
    return rc;
}

ak_err aks_datakey_parse(ak_cur text, ak_buf *ciphertext_blob, ak_buf *key_id) {
    static const char *const allowed[] = {"CiphertextBlob", "KeyId", "KeyMaterialId", NULL};
    json_t *o = NULL;
    ak_cur blob, id;
    ak_err rc = AK_OK;
    AK_ENSURE(text.len <= AKS_DATAKEY_MAX_FILE, AK_E_KMS_DATAKEY_INVALID);
    AK_ENSURE(ak_json_parse_object(text, &o) == AK_OK, AK_E_KMS_DATAKEY_INVALID);
    AK_ENSURE_OUT(ak_json_only_keys(o, allowed) == AK_OK, AK_E_KMS_DATAKEY_INVALID);
    AK_ENSURE_OUT(ak_json_str(o, "CiphertextBlob", &blob) == AK_OK && ak_json_str(o, "KeyId", &id) == AK_OK,
                  AK_E_KMS_DATAKEY_INVALID);
    AK_ENSURE_OUT(id.len > 0 && id.len <= AK_KMS_MAX_KEY_ID, AK_E_KMS_DATAKEY_INVALID);
    AK_ENSURE_OUT(ak_b64_decode(blob, ciphertext_blob) == AK_OK && ciphertext_blob->len > 0 &&
                      ciphertext_blob->len <= AK_KMS_MAX_CIPHERTEXT_BLOB,
                  AK_E_KMS_DATAKEY_INVALID);
    AK_GUARD_OUT(ak_buf_append_cur(key_id, id));
out:
    json_decref(o);
    return rc;
}

ak_err aks_sealer_nitro_open(const aks_nitro_sealer_config *cfg, aks_sealer **out) {
    ak_buf file, blob, key_id, spki, doc, cms, dk;
    ak_rsa_priv *rsa = NULL;
    ak_http *http = NULL;
    ak_kms kms;
    ak_err rc = AK_OK;
    *out = NULL;
    AK_ENSURE(cfg != NULL && cfg->recipient_doc != NULL && cfg->datakey_path != NULL && cfg->region != NULL &&
                  cfg->creds.access_key_id.len > 0 && cfg->creds.secret_access_key.len > 0,
              AK_E_CONFIG);
    ak_buf_init(&file, AKS_DATAKEY_MAX_FILE);
    ak_buf_init(&blob, AK_KMS_MAX_CIPHERTEXT_BLOB);
    ak_buf_init(&key_id, AK_KMS_MAX_KEY_ID);
    ak_buf_init(&spki, 2048);
    ak_buf_init(&doc, AK_KMS_MAX_ATTESTATION);
    ak_buf_init(&cms, AK_KMS_MAX_RESPONSE);
    ak_buf_init_secret(&dk, AK_CMS_MAX_CONTENT);
    if (ak_buf_append_file(&file, cfg->datakey_path) != AK_OK) {
        ak_log_error("kms data key file unreadable", "path", cfg->datakey_path);
        rc = AK_E_IO;
        goto out;
    }
    AK_GUARD_OUT(aks_datakey_parse(ak_buf_cur(&file), &blob, &key_id));
    /* The recipient key pair: generated here, used once, never leaves this function. */
    AK_GUARD_OUT(ak_rsa_keygen(AK_RSA_BITS, &rsa));
    AK_GUARD_OUT(ak_rsa_spki_der(rsa, &spki));
    AK_GUARD_OUT(cfg->recipient_doc(cfg->recipient_ctx, ak_buf_cur(&spki), &doc));
    ak_http_config hc = {.user_agent = "agentkeys-signer/1", .connect_to = cfg->kms_connect};
    AK_GUARD_OUT(ak_http_new(&hc, &http));
    ak_kms_config kc = {.endpoint = cfg->kms_endpoint, .region = cfg->region};
    AK_GUARD_OUT(ak_kms_init(&kms, http, &kc));
    ak_kms_decrypt req = {.ciphertext_blob = ak_buf_cur(&blob),
                          .key_id = ak_buf_cur(&key_id),
                          .attestation_doc = ak_buf_cur(&doc),
                          .deadline_ms = ak_http_now_ms() + (cfg->timeout_ms ? cfg->timeout_ms : 15000u)};
    AK_GUARD_OUT(ak_kms_decrypt_for_recipient(&kms, &cfg->creds, &req, &cms));
    rc = ak_cms_unwrap(ak_buf_cur(&cms), rsa, &dk);
    if (rc != AK_OK) {
        ak_log_error("kms recipient ciphertext refused", "reason", ak_err_reason(rc));
        goto out;
    }
    AK_ENSURE_OUT(dk.len == 32, AK_E_KMS_DATAKEY_INVALID); /* not an AES_256 data key */
    AK_GUARD_OUT(aks_sealer_from_key(dk.ptr, out));
    (*out)->name = "nitro";
out:
    ak_rsa_free(rsa);
    ak_http_free(http);
    ak_buf_free(&file);
    ak_buf_free(&blob);
    ak_buf_free(&key_id);
    ak_buf_free(&spki);
    ak_buf_free(&doc);
    ak_buf_free(&cms);
    ak_buf_free(&dk);
    return rc;
}

#ifndef AK_RELEASE
/* CBOR map {"module_id": "ak-test-unattested", "public_key": <spki>, "image_sha384": <48 bytes>}:
 * what the KMS stand-in reads (its model of kms:RecipientAttestation:ImageSha384). */
ak_err aks_recipient_doc_test_unattested(void *ctx, ak_cur spki_der, ak_buf *doc) {
    static const char mod[] = "ak-test-unattested";
    const uint8_t *measurement = ctx;
    AK_PRECOND(measurement != NULL);
    AK_GUARD(ak_cbor_put_head(doc, 5, 3));
    AK_GUARD(ak_cbor_put_head(doc, 3, 9));
    AK_GUARD(ak_buf_append_str(doc, "module_id"));
    AK_GUARD(ak_cbor_put_head(doc, 3, sizeof(mod) - 1));
    AK_GUARD(ak_buf_append_str(doc, mod));
    AK_GUARD(ak_cbor_put_head(doc, 3, 10));
    AK_GUARD(ak_buf_append_str(doc, "public_key"));
    AK_GUARD(ak_cbor_put_head(doc, 2, spki_der.len));
    AK_GUARD(ak_buf_append_cur(doc, spki_der));
    AK_GUARD(ak_cbor_put_head(doc, 3, 12));
    AK_GUARD(ak_buf_append_str(doc, "image_sha384"));
    AK_GUARD(ak_cbor_put_head(doc, 2, 48));
    return ak_buf_append(doc, measurement, 48);
}
#endif

void aks_sealer_free(aks_sealer *s) {
    if (s != NULL) s->destroy(s);
}
