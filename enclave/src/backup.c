/* backup.c — the sealed keystore's backup in S3 (see aks/backup.h; issue 18 item 3). */
#include "aks/backup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/http.h"
#include "ak/imds.h"
#include "ak/log.h"
#include "ak/s3.h"

#define BK_NAME_PREFIX "keystore-"
#define BK_NAME_SUFFIX ".sealed"
#define BK_MAX_OBJECT (1u << 20)
#define BK_DATAKEY_NAME "keystore.datakey"

struct aks_backup {
    ak_http *http;
    ak_imds *imds; /* borrowed; NULL = credentials from the AWS_* environment */
    ak_s3 s3;
    char bucket[64];
    char prefix[256];         /* "" or ends with '/' */
    char local_keystore[600]; /* the data key store's orphan check (aks_backup_datakey_store) */
    /* The last listing, kept until this signer next writes to the prefix: a start (data key,
     * restore, sync) lists once. Another signer's write in between is the same race as with a
     * fresh listing: backups are create-only and the rollback guard judges what is restored. */
    bool scan_held;
    struct s_backup_scan {
        size_t prefix_len;
        char best[AKS_BACKUP_KEY_MAX];
        bool datakey; /* <prefix>keystore.datakey is there */
        unsigned objects;
    } scan;
};
typedef struct s_backup_scan s_backup_scan;

ak_err aks_backup_open(const char *spec, const char *connect, ak_imds *imds, aks_backup **out) {
    ak_cur s = ak_cur_from_str(spec), bucket;
    ak_s3_config cfg;
    ak_sigv4_creds creds;
    ak_err rc = AK_OK;
    *out = NULL;
    AK_ENSURE(ak_cur_starts_with(s, AK_CUR_LIT("s3://")), AK_E_CONFIG);
    s = ak_cur_from(s.ptr + 5, s.len - 5);
    if (!ak_cur_split(&s, '/', &bucket)) {
        bucket = s;
        s.len = 0;
    }
    AK_ENSURE(bucket.len >= 3 && bucket.len < 64, AK_E_CONFIG);
    AK_ENSURE(s.len < 200, AK_E_CONFIG);
    AK_GUARD(ak_s3_config_from_env(&cfg));
    if (imds == NULL) AK_GUARD(ak_s3_env_creds(&creds));
    aks_backup *b = ak_calloc(1, sizeof(*b));
    AK_ENSURE(b != NULL, AK_E_NOMEM);
    b->imds = imds;
    AK_GUARD_OUT(ak_cur_to_cstr(bucket, b->bucket, sizeof(b->bucket)));
    AK_GUARD_OUT(ak_cur_to_cstr(s, b->prefix, sizeof(b->prefix) - 1));
    size_t pl = strlen(b->prefix);
    if (pl > 0 && b->prefix[pl - 1] != '/') {
        b->prefix[pl] = '/';
        b->prefix[pl + 1] = '\0';
    }
    ak_http_config hc;
    memset(&hc, 0, sizeof(hc));
    hc.user_agent = "agentkeys-signer/1";
    hc.connect_to = connect; /* --backup-connect: e.g. vsock:3:8001 inside the enclave (ak/connector.h) */
    AK_GUARD_OUT(ak_http_new(&hc, &b->http));
    AK_GUARD_OUT(ak_s3_init(&b->s3, b->http, &cfg));
out:
    if (rc != AK_OK) {
        aks_backup_free(b);
        return rc == AK_E_NOMEM ? rc : AK_E_CONFIG;
    }
    *out = b;
    return AK_OK;
}

void aks_backup_free(aks_backup *b) {
    if (b == NULL) return;
    ak_http_free(b->http);
    ak_free(b);
}

/* One call's credentials: the environment's, or the instance role's from IMDS (refreshed by
 * ak_imds before expiry); `held` is wiped by s_backup_done. */
typedef struct s_backup_creds {
    ak_sigv4_creds v;
    ak_aws_creds held;
} s_backup_creds;

static ak_err s_backup_call(aks_backup *b, ak_s3_call *call, s_backup_creds *c) {
    memset(call, 0, sizeof(*call));
    memset(&c->v, 0, sizeof(c->v));
    if (b->imds != NULL) {
        ak_err rc = ak_imds_credentials(b->imds, ak_http_now_ms() + 10000, &c->held);
        if (rc != AK_OK) {
            ak_log_error("keystore backup has no credentials", "reason", ak_err_reason(rc));
            return AK_E_SIGNER_BACKUP;
        }
        c->v = ak_aws_creds_view(&c->held);
    } else {
        AK_ENSURE(ak_s3_env_creds(&c->v) == AK_OK, AK_E_CONFIG);
    }
    call->creds = &c->v;
    return AK_OK;
}

static void s_backup_done(s_backup_creds *c) {
    ak_aws_creds_wipe(&c->held);
    ak_wipe(&c->v, sizeof(c->v));
}

bool aks_backup_parse_name(ak_cur name, uint32_t *n_epochs, uint64_t *ms, uint8_t hash8[8]) {
    /* keystore-EEEEEEEEEE-MMMMMMMMMMMMM-HHHHHHHHHHHHHHHH.sealed */
    size_t want = strlen(BK_NAME_PREFIX) + 10 + 1 + 13 + 1 + 16 + strlen(BK_NAME_SUFFIX);
    if (name.len != want || !ak_cur_starts_with(name, AK_CUR_LIT(BK_NAME_PREFIX))) return false;
    const uint8_t *p = name.ptr + strlen(BK_NAME_PREFIX);
    uint64_t e = 0, t = 0;
    for (int i = 0; i < 10; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        e = e * 10 + (uint64_t)(p[i] - '0');
    }
    if (p[10] != '-' || p[24] != '-') return false;
    for (int i = 11; i < 24; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        t = t * 10 + (uint64_t)(p[i] - '0');
    }
    if (e > UINT32_MAX || ak_hex_decode_exact(ak_cur_from(p + 25, 16), false, hash8, 8) != AK_OK)
        return false;
    if (memcmp(p + 41, BK_NAME_SUFFIX, strlen(BK_NAME_SUFFIX)) != 0) return false;
    *n_epochs = (uint32_t)e;
    *ms = t;
    return true;
}

ak_err aks_backup_put(aks_backup *b, ak_cur sealed, uint32_t n_epochs) {
    char key[AKS_BACKUP_KEY_MAX], hex[17];
    uint8_t h[32];
    struct timespec ts;
    ak_s3_call call;
    s_backup_creds creds;
    clock_gettime(CLOCK_REALTIME, &ts);
    ak_sha256(sealed.ptr, sealed.len, h);
    ak_hex_encode(h, 8, hex);
    unsigned long long ms =
        (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
    AK_ENSURE((size_t)snprintf(key, sizeof(key), "%s" BK_NAME_PREFIX "%010u-%013llu-%s" BK_NAME_SUFFIX,
                               b->prefix, n_epochs, ms, hex) < sizeof(key),
              AK_E_CONFIG);
    b->scan_held = false; /* the prefix changes (or may have, if the put fails half-way) */
    AK_GUARD(s_backup_call(b, &call, &creds));
    ak_s3_put_opts po;
    memset(&po, 0, sizeof(po));
    po.content_type = AK_CUR_LIT("application/octet-stream");
    /* create only: a name is never reused, so nothing is ever overwritten */
    po.if_none_match = true;
    ak_err rc = ak_s3_put(&b->s3, &call, b->bucket, ak_cur_from_str(key), sealed, &po, NULL);
    s_backup_done(&creds);
    if (rc != AK_OK) {
        ak_log_error("keystore backup failed", "bucket", b->bucket, "reason", ak_err_reason(rc));
        return AK_E_SIGNER_BACKUP;
    }
    ak_log_info("keystore backed up", "bucket", b->bucket, "key", key);
    return AK_OK;
}

ak_err aks_backup_on_saved(void *ud, ak_cur sealed, uint32_t n_epochs) {
    return aks_backup_put(ud, sealed, n_epochs);
}

static ak_err s_backup_scan_one(void *ud, const ak_s3_list_item *it) {
    s_backup_scan *sc = ud;
    uint32_t n;
    uint64_t ms;
    uint8_t h[8];
    if (it->is_prefix || it->key.len <= sc->prefix_len || it->key.len >= AKS_BACKUP_KEY_MAX) return AK_OK;
    ak_cur name = ak_cur_from(it->key.ptr + sc->prefix_len, it->key.len - sc->prefix_len);
    sc->objects++;
    if (ak_cur_eq_str(name, BK_DATAKEY_NAME)) sc->datakey = true;
    if (!aks_backup_parse_name(name, &n, &ms, h)) return AK_OK; /* not ours: ignored */
    /* Fixed-width fields: the greatest key is the most epochs, then the latest. */
    size_t bl = strlen(sc->best);
    if (bl == 0 || (it->key.len == bl && memcmp(it->key.ptr, sc->best, bl) > 0)) {
        memcpy(sc->best, it->key.ptr, it->key.len); /* < AKS_BACKUP_KEY_MAX, checked above */
        sc->best[it->key.len] = '\0';
    }
    return AK_OK;
}

/* The prefix's own objects (one listing, held until the next write: b->scan); AK_E_SIGNER_BACKUP
 * when the listing fails. */
static ak_err s_backup_list(aks_backup *b, const s_backup_scan **out) {
    ak_s3_call call;
    s_backup_creds creds;
    s_backup_scan *sc = &b->scan;
    *out = sc;
    if (b->scan_held) return AK_OK;
    memset(sc, 0, sizeof(*sc));
    sc->prefix_len = strlen(b->prefix);
    AK_GUARD(s_backup_call(b, &call, &creds));
    ak_s3_list_opts lo;
    memset(&lo, 0, sizeof(lo));
    lo.prefix = ak_cur_from_str(b->prefix);
    lo.delimiter = AK_CUR_LIT("/"); /* only this prefix's own objects */
    ak_err rc = ak_s3_list_ex(&b->s3, &call, b->bucket, &lo, s_backup_scan_one, sc, NULL);
    s_backup_done(&creds);
    if (rc != AK_OK) {
        ak_log_error("keystore backup listing failed", "bucket", b->bucket, "reason", ak_err_reason(rc));
        return AK_E_SIGNER_BACKUP;
    }
    b->scan_held = true;
    char n[16];
    snprintf(n, sizeof(n), "%u", sc->objects);
    ak_log_info("keystore backups listed", "bucket", b->bucket, "objects", n);
    return AK_OK;
}

ak_err aks_backup_newest(aks_backup *b, char key[AKS_BACKUP_KEY_MAX]) {
    const s_backup_scan *sc;
    AK_GUARD(s_backup_list(b, &sc));
    AK_ENSURE(sc->best[0] != '\0', AK_E_NOT_FOUND);
    memcpy(key, sc->best, AKS_BACKUP_KEY_MAX);
    return AK_OK;
}

/* GETs `key` and checks the bytes against the hash in its name. */
static ak_err s_backup_fetch(aks_backup *b, const char *key, ak_http_response *resp) {
    ak_s3_call call;
    s_backup_creds creds;
    uint32_t n;
    uint64_t ms;
    uint8_t want[8], h[32];
    AK_ENSURE(aks_backup_parse_name(ak_cur_from_str(key + strlen(b->prefix)), &n, &ms, want), AK_E_INTERNAL);
    AK_GUARD(s_backup_call(b, &call, &creds));
    ak_err rc = ak_s3_get(&b->s3, &call, b->bucket, ak_cur_from_str(key), BK_MAX_OBJECT, false, resp);
    s_backup_done(&creds);
    if (rc != AK_OK) {
        ak_log_error("keystore backup read failed", "bucket", b->bucket, "key", key, "reason",
                     ak_err_reason(rc));
        return AK_E_SIGNER_BACKUP;
    }
    ak_sha256(resp->body.ptr, resp->body.len, h);
    if (!ak_ct_eq(h, want, 8)) {
        ak_log_error("keystore backup does not match its name", "bucket", b->bucket, "key", key);
        return AK_E_SIGNER_BACKUP;
    }
    return AK_OK;
}

ak_err aks_backup_restore(aks_backup *b, const char *path, char key[AKS_BACKUP_KEY_MAX]) {
    ak_http_response resp;
    AK_GUARD(aks_backup_newest(b, key));
    ak_http_response_init(&resp);
    ak_err rc = s_backup_fetch(b, key, &resp);
    if (rc == AK_OK && ak_file_write_0600(path, ak_buf_cur(&resp.body)) != AK_OK) rc = AK_E_IO;
    ak_http_response_free(&resp);
    if (rc == AK_OK) ak_log_info("keystore restored from backup", "bucket", b->bucket, "key", key);
    return rc;
}

ak_err aks_backup_sync(aks_backup *b, ak_cur sealed, uint32_t n_epochs) {
    char key[AKS_BACKUP_KEY_MAX];
    uint8_t h[32], want[8];
    uint32_t n;
    uint64_t ms;
    ak_err rc = aks_backup_newest(b, key);
    if (rc == AK_OK) {
        ak_sha256(sealed.ptr, sealed.len, h);
        if (aks_backup_parse_name(ak_cur_from_str(key + strlen(b->prefix)), &n, &ms, want) && n == n_epochs &&
            ak_ct_eq(h, want, 8))
            return AK_OK; /* the newest backup is this file */
    } else if (rc != AK_E_NOT_FOUND) {
        return rc;
    }
    return aks_backup_put(b, sealed, n_epochs);
}

/* ---- the KMS data key's store (aks/sealer.h) ---- */

static ak_err s_backup_datakey_load(void *ctx, ak_buf *text, bool *orphans) {
    aks_backup *b = ctx;
    const s_backup_scan *sc;
    char key[AKS_BACKUP_KEY_MAX];
    *orphans = false;
    AK_GUARD(s_backup_list(b, &sc));
    if (!sc->datakey) {
        /* A successful listing without it: there is none (a missing bucket failed the listing). */
        *orphans = sc->best[0] != '\0' || access(b->local_keystore, F_OK) == 0 || errno != ENOENT;
        return AK_E_NOT_FOUND;
    }
    snprintf(key, sizeof(key), "%s" BK_DATAKEY_NAME, b->prefix);
    ak_s3_call call;
    s_backup_creds creds;
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = s_backup_call(b, &call, &creds);
    if (rc == AK_OK) {
        rc = ak_s3_get(&b->s3, &call, b->bucket, ak_cur_from_str(key), AKS_DATAKEY_MAX_FILE, false, &resp);
        s_backup_done(&creds);
        if (rc == AK_E_TOO_LARGE || rc == AK_E_LIMIT) rc = AK_E_KMS_DATAKEY_INVALID;
        if (rc == AK_OK) rc = ak_buf_append_cur(text, ak_buf_cur(&resp.body));
        if (rc != AK_OK) {
            ak_log_error("kms data key read failed", "bucket", b->bucket, "key", key, "reason",
                         ak_err_reason(rc));
            if (rc != AK_E_KMS_DATAKEY_INVALID) rc = AK_E_SIGNER_BACKUP;
        }
    }
    ak_http_response_free(&resp);
    return rc;
}

static ak_err s_backup_datakey_save(void *ctx, ak_cur text) {
    aks_backup *b = ctx;
    char key[AKS_BACKUP_KEY_MAX];
    ak_s3_call call;
    s_backup_creds creds;
    snprintf(key, sizeof(key), "%s" BK_DATAKEY_NAME, b->prefix);
    b->scan_held = false;
    AK_GUARD(s_backup_call(b, &call, &creds));
    ak_s3_put_opts po;
    memset(&po, 0, sizeof(po));
    po.content_type = AK_CUR_LIT("application/json");
    po.if_none_match = true; /* the first signer's key is the deployment's */
    ak_err rc = ak_s3_put(&b->s3, &call, b->bucket, ak_cur_from_str(key), text, &po, NULL);
    s_backup_done(&creds);
    /* 409 ConditionalRequestConflict: another create of it is in flight — theirs wins */
    if (rc == AK_E_PRECONDITION_FAILED || rc == AK_E_CONFLICT) return AK_E_PRECONDITION_FAILED;
    if (rc != AK_OK) {
        ak_log_error("kms data key upload failed", "bucket", b->bucket, "key", key, "reason",
                     ak_err_reason(rc));
        return AK_E_SIGNER_BACKUP;
    }
    ak_log_info("kms data key stored beside the backups", "bucket", b->bucket, "key", key);
    return AK_OK;
}

ak_err aks_backup_datakey_store(aks_backup *b, const char *keystore_path, aks_datakey_store *out) {
    AK_PRECOND(b != NULL && keystore_path != NULL && out != NULL);
    AK_ENSURE(strlen(keystore_path) < sizeof(b->local_keystore), AK_E_CONFIG);
    memcpy(b->local_keystore, keystore_path, strlen(keystore_path) + 1);
    *out = (aks_datakey_store){
        .name = "bucket", .load = s_backup_datakey_load, .save = s_backup_datakey_save, .ctx = b};
    return AK_OK;
}
