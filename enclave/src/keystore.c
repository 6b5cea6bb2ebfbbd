/* keystore.c — sealed per-epoch K3 and signing-key store (see aks/keystore.h, D5, D7). */
#include "aks/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/log.h"
#include "ak/pki.h"
#include "aks/secmem.h"

#define KS_MAGIC "AKKS"
#define KS_VERSION 1u
#define KS_AAD "agentkeys.keystore.v1"
#define KS_MAX_FILE (AKS_MAX_EPOCHS * 32u + 4096u)

static const char *const s_ks_purpose_names[AKS_KEY__COUNT] = {"session", "oidc", "cap"};

const char *aks_key_purpose_name(aks_key_purpose p) {
    return (unsigned)p < AKS_KEY__COUNT ? s_ks_purpose_names[p] : "unknown";
}

bool aks_key_purpose_parse(ak_cur name, aks_key_purpose *out) {
    for (unsigned i = 0; i < AKS_KEY__COUNT; i++) {
        if (ak_cur_eq_str(name, s_ks_purpose_names[i])) {
            *out = (aks_key_purpose)i;
            return true;
        }
    }
    return false;
}

void aks_keystore_kid(aks_key_purpose purpose, const uint8_t pub[65], char kid[AKS_KID_MAX]) {
    /* RFC 7638 §3.2: members crv, kty, x, y in lexicographic order, no whitespace. */
    ak_buf j, x, y, t;
    uint8_t h[32];
    ak_buf_init(&j, 256);
    ak_buf_init(&x, 64);
    ak_buf_init(&y, 64);
    ak_buf_init(&t, 64);
    if (ak_b64url_encode(pub + 1, 32, &x) != AK_OK || ak_b64url_encode(pub + 33, 32, &y) != AK_OK ||
        ak_buf_printf(&j, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", ak_buf_cstr(&x),
                      ak_buf_cstr(&y)) != AK_OK) {
        kid[0] = '\0';
    } else {
        ak_sha256(j.ptr, j.len, h);
        if (ak_b64url_encode(h, sizeof(h), &t) != AK_OK ||
            (size_t)snprintf(kid, AKS_KID_MAX, "%s-%s", aks_key_purpose_name(purpose), ak_buf_cstr(&t)) >=
                AKS_KID_MAX)
            kid[0] = '\0';
    }
    ak_buf_free(&j);
    ak_buf_free(&x);
    ak_buf_free(&y);
    ak_buf_free(&t);
}

/* ---- encoding ---- */

static ak_err s_ks_put_u32(ak_buf *b, uint32_t v) {
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return ak_buf_append(b, be, 4);
}

ak_err aks_keystore_encode(const aks_secrets *s, ak_buf *out) {
    uint32_t n_keys = 0;
    AK_ENSURE(s->n_epochs <= AKS_MAX_EPOCHS, AK_E_LIMIT);
    AK_GUARD(ak_buf_append_str(out, KS_MAGIC));
    AK_GUARD(s_ks_put_u32(out, KS_VERSION));
    AK_GUARD(s_ks_put_u32(out, s->n_epochs));
    AK_GUARD(ak_buf_append(out, s->k3, (size_t)s->n_epochs * 32u));
    for (unsigned p = 0; p < AKS_KEY__COUNT; p++)
        for (unsigned slot = 0; slot < 2; slot++)
            n_keys += s->keys[p][slot].present ? 1u : 0u;
    AK_GUARD(s_ks_put_u32(out, n_keys));
    for (unsigned p = 0; p < AKS_KEY__COUNT; p++) {
        for (unsigned slot = 0; slot < 2; slot++) {
            const aks_sigkey *k = &s->keys[p][slot];
            if (!k->present) continue;
            uint8_t hdr[10] = {(uint8_t)p, (uint8_t)slot};
            for (int i = 0; i < 8; i++)
                hdr[2 + i] = (uint8_t)(k->created >> (56 - 8 * i));
            AK_GUARD(ak_buf_append(out, hdr, sizeof(hdr)));
            AK_GUARD(ak_buf_append(out, k->priv, 32));
        }
    }
    return AK_OK;
}

ak_err aks_keystore_decode(ak_cur in, aks_secrets *s) {
    ak_cur magic, k3;
    uint32_t version, n_epochs, n_keys;
    memset(s, 0, sizeof(*s));
    AK_ENSURE(ak_cur_take(&in, 4, &magic) == AK_OK && ak_cur_eq_str(magic, KS_MAGIC), AK_E_INVALID_INPUT);
    AK_ENSURE(ak_cur_read_u32be(&in, &version) == AK_OK && version == KS_VERSION, AK_E_INVALID_INPUT);
    AK_ENSURE(ak_cur_read_u32be(&in, &n_epochs) == AK_OK && n_epochs <= AKS_MAX_EPOCHS, AK_E_INVALID_INPUT);
    AK_ENSURE(ak_cur_take(&in, (size_t)n_epochs * 32u, &k3) == AK_OK, AK_E_INVALID_INPUT);
    memcpy(s->k3, k3.ptr, k3.len);
    s->n_epochs = n_epochs;
    AK_ENSURE(ak_cur_read_u32be(&in, &n_keys) == AK_OK && n_keys <= 2u * AKS_KEY__COUNT, AK_E_INVALID_INPUT);
    for (uint32_t i = 0; i < n_keys; i++) {
        uint8_t p, slot;
        ak_cur created, priv;
        AK_ENSURE(ak_cur_read_u8(&in, &p) == AK_OK && p < AKS_KEY__COUNT, AK_E_INVALID_INPUT);
        AK_ENSURE(ak_cur_read_u8(&in, &slot) == AK_OK && slot < 2, AK_E_INVALID_INPUT);
        AK_ENSURE(ak_cur_take(&in, 8, &created) == AK_OK, AK_E_INVALID_INPUT);
        AK_ENSURE(ak_cur_take(&in, 32, &priv) == AK_OK, AK_E_INVALID_INPUT);
        aks_sigkey *k = &s->keys[p][slot];
        AK_ENSURE(!k->present, AK_E_INVALID_INPUT);
        memcpy(k->priv, priv.ptr, 32);
        AK_ENSURE(ak_p256_pub_from_priv(k->priv, k->pub) == AK_OK, AK_E_INVALID_INPUT);
        k->created = 0;
        for (int b = 0; b < 8; b++)
            k->created = (k->created << 8) | created.ptr[b];
        aks_keystore_kid((aks_key_purpose)p, k->pub, k->kid);
        k->present = true;
    }
    AK_ENSURE(in.len == 0, AK_E_INVALID_INPUT);
    /* A previous key without a current one cannot come from us. */
    for (unsigned p = 0; p < AKS_KEY__COUNT; p++)
        AK_ENSURE(s->keys[p][0].present || !s->keys[p][1].present, AK_E_INVALID_INPUT);
    return AK_OK;
}

/* ---- persistence ---- */

static ak_err s_ks_write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        AK_ENSURE(w > 0, AK_E_IO);
        p += w;
        n -= (size_t)w;
    }
    return AK_OK;
}

/* Atomic replace (D7) of the file with `sec`: temp file, fsync, rename, fsync the directory, then
 * the on_saved hook (the backup). The caller holds write_mu, not mu: readers keep being served the
 * state in ks->s while the file and the backup are written; the caller installs `sec` after. */
static ak_err s_ks_save(aks_keystore *ks, const aks_secrets *sec) {
    ak_buf pt, blob;
    char tmp[600], dir[512];
    int fd = -1;
    ak_err rc = AK_OK;
    ak_buf_init_secret(&pt, KS_MAX_FILE);
    ak_buf_init(&blob, KS_MAX_FILE + 256);
    AK_GUARD_OUT(aks_keystore_encode(sec, &pt));
    AK_GUARD_OUT(ks->sealer->seal(ks->sealer, AK_CUR_LIT(KS_AAD), ak_buf_cur(&pt), &blob));
    AK_ENSURE_OUT((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", ks->path) < sizeof(tmp), AK_E_CONFIG);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    AK_ENSURE_OUT(fd >= 0, AK_E_IO);
    AK_GUARD_OUT(s_ks_write_all(fd, blob.ptr, blob.len));
    AK_ENSURE_OUT(fsync(fd) == 0, AK_E_IO);
    AK_ENSURE_OUT(close(fd) == 0, AK_E_IO);
    fd = -1;
    AK_ENSURE_OUT(rename(tmp, ks->path) == 0, AK_E_IO);
    memcpy(dir, ks->path, sizeof(dir));
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    AK_ENSURE_OUT(dfd >= 0, AK_E_IO);
    int sync_rc = fsync(dfd);
    close(dfd);
    AK_ENSURE_OUT(sync_rc == 0, AK_E_IO);
    if (ks->on_saved != NULL) AK_GUARD_OUT(ks->on_saved(ks->on_saved_ud, ak_buf_cur(&blob), sec->n_epochs));
out:
    if (fd >= 0) {
        close(fd);
        (void)unlink(tmp);
    }
    ak_buf_free(&pt);
    ak_buf_free(&blob);
    if (rc != AK_OK) ak_log_error("keystore save failed", "reason", ak_err_reason(rc));
    return rc;
}

static ak_err s_ks_new_key(aks_sigkey *k, aks_key_purpose p) {
    memset(k, 0, sizeof(*k));
    AK_GUARD(ak_p256_keygen(k->priv, k->pub));
    k->created = (uint64_t)time(NULL);
    aks_keystore_kid(p, k->pub, k->kid);
    AK_ENSURE(k->kid[0] != '\0', AK_E_INTERNAL);
    k->present = true;
    return AK_OK;
}

ak_err aks_keystore_open(aks_keystore *ks, const char *path, aks_sealer *sealer) {
    ak_buf blob, pt;
    ak_err rc = AK_OK;
    bool dirty = false;
    memset(ks, 0, sizeof(*ks));
    AK_ENSURE(strlen(path) < sizeof(ks->path), AK_E_CONFIG);
    memcpy(ks->path, path, strlen(path) + 1);
    ks->sealer = sealer;
    ks->s = aks_secmem_alloc(sizeof(aks_secrets));
    AK_ENSURE(ks->s != NULL, AK_E_NOMEM);
    pthread_mutex_init(&ks->mu, NULL);
    pthread_mutex_init(&ks->write_mu, NULL);
    ak_buf_init(&blob, 0);
    ak_buf_init_secret(&pt, KS_MAX_FILE);

    if (access(path, F_OK) == 0) {
        AK_GUARD_OUT(ak_pki_read_file(path, &blob));
        AK_GUARD_OUT(sealer->unseal(sealer, AK_CUR_LIT(KS_AAD), ak_buf_cur(&blob), &pt));
        AK_GUARD_OUT(aks_keystore_decode(ak_buf_cur(&pt), ks->s));
    } else {
        AK_ENSURE_OUT(errno == ENOENT, AK_E_IO);
        dirty = true;
    }
    for (unsigned p = 0; p < AKS_KEY__COUNT; p++) {
        if (ks->s->keys[p][0].present) continue;
        AK_GUARD_OUT(s_ks_new_key(&ks->s->keys[p][0], (aks_key_purpose)p));
        dirty = true;
    }
    if (dirty) AK_GUARD_OUT(s_ks_save(ks, ks->s)); /* not shared yet: no lock needed */
out:
    ak_buf_free(&blob);
    ak_buf_free(&pt);
    if (rc != AK_OK) aks_keystore_close(ks);
    return rc;
}

void aks_keystore_close(aks_keystore *ks) {
    if (ks->s != NULL) {
        aks_secmem_free(ks->s, sizeof(aks_secrets));
        pthread_mutex_destroy(&ks->mu);
        pthread_mutex_destroy(&ks->write_mu);
    }
    ks->s = NULL;
}

uint64_t aks_keystore_max_epoch(aks_keystore *ks) {
    pthread_mutex_lock(&ks->mu);
    uint64_t n = ks->s->n_epochs;
    pthread_mutex_unlock(&ks->mu);
    return n;
}

/* A writer's copy of the state (locked memory; wiped when freed). Caller holds write_mu, so the
 * copy stays current until it is installed. */
static aks_secrets *s_ks_stage(aks_keystore *ks) {
    aks_secrets *st = aks_secmem_alloc(sizeof(aks_secrets));
    if (st == NULL) return NULL;
    pthread_mutex_lock(&ks->mu);
    memcpy(st, ks->s, sizeof(*st));
    pthread_mutex_unlock(&ks->mu);
    return st;
}

/* Saves the staged state and, only when saved (file and backup), makes it the served one. */
static ak_err s_ks_commit(aks_keystore *ks, aks_secrets *st) {
    ak_err rc = s_ks_save(ks, st);
    if (rc == AK_OK) {
        pthread_mutex_lock(&ks->mu);
        memcpy(ks->s, st, sizeof(*st));
        pthread_mutex_unlock(&ks->mu);
    }
    aks_secmem_free(st, sizeof(*st));
    return rc;
}

ak_err aks_keystore_ensure_epoch(aks_keystore *ks, uint64_t current) {
    ak_err rc = AK_OK;
    AK_ENSURE(current <= AKS_MAX_EPOCHS, AK_E_LIMIT);
    pthread_mutex_lock(&ks->write_mu);
    aks_secrets *st = s_ks_stage(ks);
    AK_ENSURE_OUT(st != NULL, AK_E_NOMEM);
    uint32_t had = st->n_epochs;
    if (current <= had) {
        aks_secmem_free(st, sizeof(*st));
        goto out;
    }
    /* D7: each epoch's K3 is independent randomness (no chain from one epoch to the next). */
    for (uint64_t e = had + 1; e <= current && rc == AK_OK; e++)
        rc = ak_random(st->k3[e - 1], 32);
    st->n_epochs = (uint32_t)current;
    if (rc != AK_OK) {
        aks_secmem_free(st, sizeof(*st));
        goto out;
    }
    /* Not saved means not created: never serve a K3 that a restart would lose. */
    rc = s_ks_commit(ks, st);
    if (rc == AK_OK) {
        char from[24], to[24];
        snprintf(from, sizeof(from), "%u", had + 1);
        snprintf(to, sizeof(to), "%llu", (unsigned long long)current);
        ak_log_info("k3 epochs created", "from", from, "to", to);
    }
out:
    pthread_mutex_unlock(&ks->write_mu);
    return rc;
}

ak_err aks_keystore_k3(aks_keystore *ks, uint64_t epoch, uint8_t out[32]) {
    ak_err rc = AK_OK;
    pthread_mutex_lock(&ks->mu);
    if (epoch == 0 || epoch > ks->s->n_epochs)
        rc = AK_E_NOT_FOUND;
    else
        memcpy(out, ks->s->k3[epoch - 1], 32);
    pthread_mutex_unlock(&ks->mu);
    return rc;
}

void aks_k3_commitment(const uint8_t k3[32], uint64_t epoch, uint8_t out[32]) {
    uint8_t msg[sizeof(AKS_K3_COMMITMENT_LABEL) - 1 + 8];
    memcpy(msg, AKS_K3_COMMITMENT_LABEL, sizeof(AKS_K3_COMMITMENT_LABEL) - 1);
    for (int i = 0; i < 8; i++)
        msg[sizeof(AKS_K3_COMMITMENT_LABEL) - 1 + (size_t)i] = (uint8_t)(epoch >> (56 - 8 * i));
    ak_hmac_sha256(k3, 32, msg, sizeof(msg), out);
}

ak_err aks_keystore_commitment(aks_keystore *ks, uint64_t epoch, uint8_t out[32]) {
    uint8_t k3[32];
    AK_GUARD(aks_keystore_k3(ks, epoch, k3));
    aks_k3_commitment(k3, epoch, out);
    ak_wipe(k3, sizeof(k3));
    return AK_OK;
}

ak_err aks_keystore_sign(aks_keystore *ks, aks_key_purpose purpose, ak_cur kid, const void *msg, size_t len,
                         uint8_t sig64[64], char kid_out[AKS_KID_MAX]) {
    ak_err rc = AK_E_NOT_FOUND;
    AK_PRECOND((unsigned)purpose < AKS_KEY__COUNT);
    pthread_mutex_lock(&ks->mu);
    for (unsigned slot = 0; slot < 2; slot++) {
        const aks_sigkey *k = &ks->s->keys[purpose][slot];
        if (!k->present) continue;
        if (kid.len != 0 && !ak_cur_eq_str(kid, k->kid)) continue;
        rc = ak_p256_sign_sha256(k->priv, msg, len, sig64);
        if (rc == AK_OK) memcpy(kid_out, k->kid, AKS_KID_MAX);
        break;
    }
    pthread_mutex_unlock(&ks->mu);
    return rc;
}

ak_err aks_keystore_rotate(aks_keystore *ks, aks_key_purpose purpose) {
    aks_sigkey fresh;
    ak_err rc = AK_OK;
    AK_PRECOND((unsigned)purpose < AKS_KEY__COUNT);
    AK_GUARD(s_ks_new_key(&fresh, purpose));
    pthread_mutex_lock(&ks->write_mu);
    aks_secrets *st = s_ks_stage(ks);
    if (st == NULL) {
        rc = AK_E_NOMEM;
    } else {
        st->keys[purpose][1] = st->keys[purpose][0];
        st->keys[purpose][0] = fresh;
        rc = s_ks_commit(ks, st); /* not saved: the old keys stay current */
    }
    pthread_mutex_unlock(&ks->write_mu);
    ak_wipe(&fresh, sizeof(fresh));
    return rc;
}

size_t aks_keystore_public_keys(aks_keystore *ks, aks_pubkey out[2 * AKS_KEY__COUNT]) {
    size_t n = 0;
    pthread_mutex_lock(&ks->mu);
    for (unsigned p = 0; p < AKS_KEY__COUNT; p++) {
        for (unsigned slot = 0; slot < 2; slot++) {
            const aks_sigkey *k = &ks->s->keys[p][slot];
            if (!k->present) continue;
            out[n].purpose = (aks_key_purpose)p;
            out[n].current = slot == 0;
            memcpy(out[n].pub, k->pub, 65);
            memcpy(out[n].kid, k->kid, AKS_KID_MAX);
            out[n].created = k->created;
            n++;
        }
    }
    pthread_mutex_unlock(&ks->mu);
    return n;
}
