/* sealer.c — the local file-key sealer and the Nitro placeholder (see aks/sealer.h, D7). */
#include "aks/sealer.h"

#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"
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

ak_err aks_sealer_nitro_open(aks_sealer **out) {
    *out = NULL;
    return AK_E_CONFIG;
}

void aks_sealer_free(aks_sealer *s) {
    if (s != NULL) s->destroy(s);
}
