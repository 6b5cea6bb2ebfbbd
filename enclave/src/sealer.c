/* sealer.c — the local file-key sealer and the KMS/attestation (Nitro) sealer (see aks/sealer.h, D7). */
#include "aks/sealer.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

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

/* ---- the local data key file ---- */

static ak_err s_datakey_file_load(void *ctx, ak_buf *text, bool *orphans) {
    aks_datakey_file *f = ctx;
    *orphans = false;
    if (access(f->path, F_OK) != 0 && errno == ENOENT) {
        *orphans = access(f->keystore_path, F_OK) == 0 || errno != ENOENT;
        return AK_E_NOT_FOUND;
    }
    ak_err rc = ak_buf_append_file(text, f->path);
    if (rc != AK_OK)
        ak_log_error("kms data key file unreadable", "path", f->path, "reason", ak_err_reason(rc));
    return rc == AK_E_LIMIT || rc == AK_E_TOO_LARGE ? AK_E_KMS_DATAKEY_INVALID
           : rc == AK_OK                            ? AK_OK
                                                    : AK_E_IO;
}

static ak_err s_datakey_file_save(void *ctx, ak_cur text) {
    aks_datakey_file *f = ctx;
    return ak_file_create_0600(f->path, text);
}

ak_err aks_datakey_file_store(aks_datakey_file *f, const char *path, const char *keystore_path,
                              aks_datakey_store *out) {
    AK_PRECOND(f != NULL && path != NULL && keystore_path != NULL && out != NULL);
    AK_ENSURE(strlen(path) < sizeof(f->path) && strlen(keystore_path) < sizeof(f->keystore_path),
              AK_E_CONFIG);
    memcpy(f->path, path, strlen(path) + 1);
    memcpy(f->keystore_path, keystore_path, strlen(keystore_path) + 1);
    *out = (aks_datakey_store){
        .name = "file", .load = s_datakey_file_load, .save = s_datakey_file_save, .ctx = f};
    return AK_OK;
}

/* ---- the nitro sealer ---- */

/* One open's KMS session: the recipient key pair and its attestation document, the client. */
typedef struct s_nitro {
    const aks_nitro_sealer_config *cfg;
    ak_kms_key_pin pin;
    ak_rsa_priv *rsa;
    ak_buf doc;
    ak_http *http;
    ak_kms kms;
} s_nitro;

static int64_t s_nitro_deadline(const s_nitro *n) {
    return ak_http_now_ms() + (n->cfg->timeout_ms ? n->cfg->timeout_ms : 15000u);
}

/* The stored text's data key, through KMS Decrypt under the pin (never the file's own KeyId). */
static ak_err s_nitro_decrypt(s_nitro *n, ak_cur text, ak_buf *cms) {
    ak_buf blob, file_key_id;
    ak_buf_init(&blob, AK_KMS_MAX_CIPHERTEXT_BLOB);
    ak_buf_init(&file_key_id, AK_KMS_MAX_KEY_ID);
    ak_err rc = aks_datakey_parse(text, &blob, &file_key_id);
    if (rc == AK_OK) {
        ak_kms_decrypt req = {.ciphertext_blob = ak_buf_cur(&blob),
                              .key_id = ak_cur_from_str(n->pin.arn),
                              .attestation_doc = ak_buf_cur(&n->doc),
                              .deadline_ms = s_nitro_deadline(n)};
        rc = ak_kms_decrypt_for_recipient(&n->kms, &n->cfg->creds, &req, cms);
    }
    ak_buf_free(&blob);
    ak_buf_free(&file_key_id);
    return rc;
}

/* A new data key under the pin: its CMS for us in `cms`, its stored text in `text`. */
static ak_err s_nitro_generate(s_nitro *n, ak_buf *cms, ak_buf *text) {
    ak_buf blob, arn, b64;
    json_t *o = NULL;
    ak_buf_init(&blob, AK_KMS_MAX_CIPHERTEXT_BLOB);
    ak_buf_init(&arn, AK_KMS_MAX_KEY_ID);
    ak_buf_init(&b64, 2 * AK_KMS_MAX_CIPHERTEXT_BLOB);
    ak_kms_generate req = {.key_id = ak_cur_from_str(n->pin.arn),
                           .attestation_doc = ak_buf_cur(&n->doc),
                           .deadline_ms = s_nitro_deadline(n)};
    ak_err rc = ak_kms_generate_for_recipient(&n->kms, &n->cfg->creds, &req, &blob, &arn, cms);
    if (rc == AK_OK) rc = ak_b64_encode(blob.ptr, blob.len, &b64);
    if (rc == AK_OK) {
        /* json_object_set_new takes the value (NULL included) whatever it returns */
        o = json_object();
        bool ok = o != NULL &&
                  json_object_set_new(o, "CiphertextBlob", ak_json_string_cur(ak_buf_cur(&b64))) == 0 &&
                  json_object_set_new(o, "KeyId", ak_json_string_cur(ak_buf_cur(&arn))) == 0;
        rc = ok ? ak_json_dump(o, text) : AK_E_NOMEM;
    }
    if (rc == AK_OK) rc = ak_buf_append_str(text, "\n");
    json_decref(o);
    ak_buf_free(&blob);
    ak_buf_free(&arn);
    ak_buf_free(&b64);
    return rc;
}

/* The data key: the stored one, or a new one saved create-only (a lost race uses the winner's). */
static ak_err s_nitro_datakey(s_nitro *n, ak_buf *dk) {
    const aks_datakey_store *st = &n->cfg->store;
    ak_buf text, cms;
    ak_err rc = AK_OK;
    ak_buf_init(&text, AKS_DATAKEY_MAX_FILE);
    ak_buf_init(&cms, AK_KMS_MAX_RESPONSE);
    for (int attempt = 0;; attempt++) {
        bool orphans = false;
        ak_buf_clear(&text);
        ak_buf_clear(&cms);
        rc = st->load(st->ctx, &text, &orphans);
        if (rc == AK_OK) {
            AK_GUARD_OUT(s_nitro_decrypt(n, ak_buf_cur(&text), &cms));
            break;
        }
        if (rc != AK_E_NOT_FOUND) goto out;
        if (orphans) {
            ak_log_error("sealed state exists but its kms data key is gone; refusing to make a new one",
                         "store", st->name);
            rc = AK_E_KMS_DATAKEY_MISSING;
            goto out;
        }
        AK_GUARD_OUT(s_nitro_generate(n, &cms, &text));
        rc = st->save(st->ctx, ak_buf_cur(&text));
        if (rc == AK_OK) {
            ak_log_info("new kms data key made and stored", "store", st->name, "kms_key", n->pin.arn);
            break;
        }
        if (rc != AK_E_PRECONDITION_FAILED || attempt > 0) {
            ak_log_error("kms data key could not be stored; not used", "store", st->name, "reason",
                         ak_err_reason(rc));
            goto out;
        }
        ak_log_info("another signer stored a kms data key first; using it", "store", st->name);
    }
    rc = ak_cms_unwrap(ak_buf_cur(&cms), n->rsa, dk);
    if (rc != AK_OK) {
        ak_log_error("kms recipient ciphertext refused", "reason", ak_err_reason(rc));
        goto out;
    }
    AK_ENSURE_OUT(dk->len == 32, AK_E_KMS_DATAKEY_INVALID); /* not an AES_256 data key */
out:
    ak_buf_free(&text);
    ak_buf_free(&cms);
    return rc;
}

ak_err aks_sealer_nitro_open(const aks_nitro_sealer_config *cfg, aks_sealer **out) {
    s_nitro n;
    ak_buf spki, dk;
    ak_err rc = AK_OK;
    *out = NULL;
    AK_ENSURE(cfg != NULL && cfg->recipient_doc != NULL && cfg->key_pin != NULL && cfg->store.load != NULL &&
                  cfg->store.save != NULL && cfg->creds.access_key_id.len > 0 &&
                  cfg->creds.secret_access_key.len > 0,
              AK_E_CONFIG);
    memset(&n, 0, sizeof(n));
    n.cfg = cfg;
    if (ak_kms_key_pin_parse(ak_cur_from_str(cfg->key_pin), &n.pin) != AK_OK) {
        ak_log_error("the kms key pin is not a key ARN or alias ARN", "kms_key", cfg->key_pin);
        return AK_E_CONFIG;
    }
    if (cfg->region != NULL && cfg->region[0] != '\0' && strcmp(cfg->region, n.pin.region) != 0) {
        ak_log_error("the kms region is not the pinned key's", "region", cfg->region, "kms_key",
                     cfg->key_pin);
        return AK_E_CONFIG;
    }
    ak_buf_init(&spki, 2048);
    ak_buf_init(&n.doc, AK_KMS_MAX_ATTESTATION);
    ak_buf_init_secret(&dk, AK_CMS_MAX_CONTENT);
    /* The recipient key pair: generated here, used for this open only, never leaves this function. */
    AK_GUARD_OUT(ak_rsa_keygen(AK_RSA_BITS, &n.rsa));
    AK_GUARD_OUT(ak_rsa_spki_der(n.rsa, &spki));
    AK_GUARD_OUT(cfg->recipient_doc(cfg->recipient_ctx, ak_buf_cur(&spki), &n.doc));
    ak_http_config hc = {.user_agent = "agentkeys-signer/1", .connect_to = cfg->kms_connect};
    AK_GUARD_OUT(ak_http_new(&hc, &n.http));
    ak_kms_config kc = {.endpoint = cfg->kms_endpoint, .region = n.pin.region};
    AK_GUARD_OUT(ak_kms_init(&n.kms, n.http, &kc));
    AK_GUARD_OUT(s_nitro_datakey(&n, &dk));
    AK_GUARD_OUT(aks_sealer_from_key(dk.ptr, out));
    (*out)->name = "nitro";
out:
    ak_rsa_free(n.rsa);
    ak_http_free(n.http);
    ak_buf_free(&spki);
    ak_buf_free(&n.doc);
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
