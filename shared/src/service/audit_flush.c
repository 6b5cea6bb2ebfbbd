/* audit_flush.c — pending audit events -> Merkle batches, leases, proofs (see ak/audit_flush.h,
 * functions/audit-flush/README.md). */
#include "ak/audit_flush.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/json.h"
#include "ak/log.h"

#define S_PENDING "audit/pending/"
#define S_PENDING_LEN (sizeof(S_PENDING) - 1)
/* "audit/pending/" + 64 hex + "/" + 33 + ".json" */
#define S_PENDING_KEY_LEN (S_PENDING_LEN + 64u + 1u + AK_AUDIT_EVENT_ID_LEN + 5u)
#define S_BATCH_ID_LEN (16u + 1u + 32u)
#define S_KEY_MAX 256u
#define S_LEASE_MAX 4096u
#define S_INDEX_MAX (AK_MAX_AUDIT_EVENT * 2u + 8192u)

/* ================================================================ keys */

bool ak_audit_event_id_ok(ak_cur id) {
    if (id.len != AK_AUDIT_EVENT_ID_LEN) return false;
    for (size_t i = 0; i < 16; i++)
        if (id.ptr[i] < '0' || id.ptr[i] > '9') return false;
    if (id.ptr[16] != '-') return false;
    for (size_t i = 17; i < AK_AUDIT_EVENT_ID_LEN; i++) {
        uint8_t c = id.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

ak_err ak_audit_batch_prefix(const ak_omni *op, ak_buf *out) {
    char hex[AK_OMNI_HEX_LEN + 1];
    ak_omni_hex(op, hex);
    return ak_buf_printf(out, "audit/batches/%s/", hex);
}

ak_err ak_audit_index_key(const ak_omni *op, ak_cur event_id, ak_buf *out) {
    AK_ENSURE(ak_audit_event_id_ok(event_id), AK_E_INVALID_INPUT);
    char hex[AK_OMNI_HEX_LEN + 1];
    ak_omni_hex(op, hex);
    return ak_buf_printf(out, "audit/index/%s/%.*s.json", hex, (int)event_id.len, (const char *)event_id.ptr);
}

ak_err ak_audit_lease_key(const ak_omni *op, ak_buf *out) {
    char hex[AK_OMNI_HEX_LEN + 1];
    ak_omni_hex(op, hex);
    return ak_buf_printf(out, "audit/flushing/%s.json", hex);
}

/* "audit/pending/<64 lowercase hex>/<event id>.json" -> operator hex and event id views. */
static bool s_parse_pending_key(ak_cur key, ak_cur *op_hex, ak_cur *event_id) {
    if (key.len != S_PENDING_KEY_LEN || !ak_cur_starts_with(key, AK_CUR_LIT(S_PENDING))) return false;
    ak_cur h = ak_cur_from(key.ptr + S_PENDING_LEN, 64);
    if (!ak_is_hex64_lower(h) || key.ptr[S_PENDING_LEN + 64] != '/') return false;
    ak_cur id = ak_cur_from(key.ptr + S_PENDING_LEN + 65, AK_AUDIT_EVENT_ID_LEN);
    if (!ak_audit_event_id_ok(id) || memcmp(id.ptr + id.len, ".json", 5) != 0) return false;
    *op_hex = h;
    *event_id = id;
    return true;
}

/* ================================================================ S3 store */

static ak_err s_s3_list(void *ud, ak_cur prefix, ak_s3_list_fn fn, void *fn_ud, int64_t deadline_ms) {
    ak_audit_s3 *s = ud;
    ak_s3_call call = {&s->creds, deadline_ms};
    return ak_s3_list(&s->s3[0], &call, s->bucket, prefix, 0, fn, fn_ud);
}

static ak_err s_s3_list_ex(void *ud, const ak_s3_list_opts *opts, ak_s3_list_fn fn, void *fn_ud,
                           ak_s3_list_result *res, int64_t deadline_ms) {
    ak_audit_s3 *s = ud;
    ak_s3_call call = {&s->creds, deadline_ms};
    return ak_s3_list_ex(&s->s3[0], &call, s->bucket, opts, fn, fn_ud, res);
}

static ak_err s_s3_get(void *ud, unsigned lane, ak_cur key, size_t max, ak_buf *body, ak_buf *etag,
                       int64_t deadline_ms) {
    ak_audit_s3 *s = ud;
    AK_PRECOND(lane < s->n_lanes);
    ak_s3_call call = {&s->creds, deadline_ms};
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = ak_s3_get(&s->s3[lane], &call, s->bucket, key, max, false, &resp);
    if (rc == AK_OK) rc = ak_buf_append_cur(body, ak_buf_cur(&resp.body));
    ak_cur v;
    if (rc == AK_OK && etag != NULL && ak_http_response_header(&resp, "etag", &v))
        rc = ak_buf_append_cur(etag, v);
    ak_http_response_free(&resp);
    return rc;
}

static ak_err s_s3_put(void *ud, unsigned lane, ak_cur key, ak_cur body, bool create_only, ak_cur if_match,
                       const ak_s3_meta *meta, size_t n_meta, ak_buf *new_etag, int64_t deadline_ms) {
    ak_audit_s3 *s = ud;
    AK_PRECOND(lane < s->n_lanes);
    ak_s3_call call = {&s->creds, deadline_ms};
    ak_s3_put_opts o = {.if_none_match = create_only,
                        .if_match = if_match,
                        .content_type = AK_CUR_LIT("application/json"),
                        .meta = meta,
                        .n_meta = n_meta};
    return ak_s3_put(&s->s3[lane], &call, s->bucket, key, body, &o, new_etag);
}

static ak_err s_s3_head(void *ud, unsigned lane, ak_cur key, const char *meta_name, ak_buf *meta_value,
                        bool *has_meta, int64_t deadline_ms) {
    ak_audit_s3 *s = ud;
    AK_PRECOND(lane < s->n_lanes);
    ak_s3_call call = {&s->creds, deadline_ms};
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = ak_s3_head(&s->s3[lane], &call, s->bucket, key, &resp);
    if (has_meta) *has_meta = false;
    if (rc == AK_OK && meta_name != NULL) {
        char h[128];
        snprintf(h, sizeof(h), "x-amz-meta-%s", meta_name);
        ak_cur v;
        if (ak_http_response_header(&resp, h, &v)) {
            if (has_meta) *has_meta = true;
            if (meta_value) rc = ak_buf_append_cur(meta_value, v);
        }
    }
    ak_http_response_free(&resp);
    return rc;
}

static ak_err s_s3_del(void *ud, ak_cur key, int64_t deadline_ms) {
    ak_audit_s3 *s = ud;
    ak_s3_call call = {&s->creds, deadline_ms};
    return ak_s3_delete(&s->s3[0], &call, s->bucket, key);
}

static void s_del_err(void *ud, ak_cur key, ak_cur code) {
    (void)ud;
    char k[S_KEY_MAX], c[64];
    if (ak_cur_to_cstr(key, k, sizeof(k)) != AK_OK) k[0] = 0;
    if (ak_cur_to_cstr(code, c, sizeof(c)) != AK_OK) c[0] = 0;
    ak_log_warn("audit flush: pending delete failed", "key", k, "code", c);
}

static ak_err s_s3_del_many(void *ud, const ak_cur *keys, size_t n, size_t *failed, int64_t deadline_ms) {
    ak_audit_s3 *s = ud;
    ak_s3_call call = {&s->creds, deadline_ms};
    ak_s3_delete_result res = {0};
    ak_err rc = ak_s3_delete_objects(&s->s3[0], &call, s->bucket, keys, n, s_del_err, NULL, &res);
    if (rc == AK_E_ACCESS_DENIED && res.deleted == 0 && res.failed == 0) {
        /* The DeleteObjects request itself was refused: Ceph RGW Pacific checks s3:DeleteObject
         * on the bucket ARN, not on each key (as the worker, ak/worker.h). AWS checks each key,
         * so this never runs there. One DeleteObject per key; every failure still counted. */
        ak_log_info("audit flush: DeleteObjects refused; deleting key by key");
        size_t bad = 0;
        rc = AK_OK;
        for (size_t i = 0; i < n; i++) {
            ak_err e = ak_s3_delete(&s->s3[0], &call, s->bucket, keys[i]);
            if (e == AK_E_NOMEM) return e;
            if (e == AK_OK || e == AK_E_NOT_FOUND) continue;
            if (e == AK_E_DEADLINE) { /* the rest is not attempted: still pending, next run */
                bad += n - i;
                rc = e;
                break;
            }
            s_del_err(NULL, keys[i], ak_cur_from_str(ak_err_reason(e)));
            if (rc == AK_OK || e != AK_E_ACCESS_DENIED) rc = e;
            bad++;
        }
        *failed = bad;
        return rc;
    }
    *failed = rc == AK_OK ? 0 : (res.failed ? res.failed : n - res.deleted);
    return rc;
}

ak_err ak_audit_s3_open(ak_audit_s3 *s, const ak_s3_config *cfg, const ak_sigv4_creds *creds,
                        const char *bucket, unsigned n_lanes) {
    AK_PRECOND(s != NULL && cfg != NULL && creds != NULL && bucket != NULL);
    memset(s, 0, sizeof(*s));
    AK_ENSURE(n_lanes >= 1 && n_lanes <= AK_AUDIT_FLUSH_MAX_LANES, AK_E_CONFIG);
    AK_ENSURE(ak_cur_to_cstr(ak_cur_from_str(bucket), s->bucket, sizeof(s->bucket)) == AK_OK && bucket[0],
              AK_E_CONFIG);
    s->creds = *creds;
    ak_err rc = AK_OK;
    for (unsigned i = 0; i < n_lanes; i++) {
        ak_http_config hc = {.user_agent = "agentkeys-audit/1"};
        AK_GUARD_OUT(ak_http_new(&hc, &s->http[i]));
        s->n_lanes = i + 1;
        AK_GUARD_OUT(ak_s3_init(&s->s3[i], s->http[i], cfg));
    }
out:
    if (rc != AK_OK) ak_audit_s3_close(s);
    return rc;
}

void ak_audit_s3_close(ak_audit_s3 *s) {
    if (s == NULL) return;
    for (unsigned i = 0; i < AK_AUDIT_FLUSH_MAX_LANES; i++)
        ak_http_free(s->http[i]);
    memset(s, 0, sizeof(*s));
}

void ak_audit_s3_store(ak_audit_s3 *s, ak_audit_store *st) {
    AK_PRECOND(s != NULL && st != NULL && s->n_lanes >= 1);
    *st = (ak_audit_store){.ud = s,
                           .n_lanes = s->n_lanes,
                           .list = s_s3_list,
                           .list_ex = s_s3_list_ex,
                           .get = s_s3_get,
                           .put = s_s3_put,
                           .head = s_s3_head,
                           .del = s_s3_del,
                           .del_many = s_s3_del_many,
                           .now_ms = NULL};
}

/* ================================================================ helpers */

static int64_t s_now(const ak_audit_store *st) { return st->now_ms ? st->now_ms(st->ud) : ak_http_now_ms(); }

/* JSON string of printable ASCII (events, keys): only '"' and '\\' need escaping; anything
 * else outside 0x20-0x7e is written as \u00XX so the output stays valid whatever comes in. */
static ak_err s_jstr(ak_buf *b, ak_cur s) {
    AK_GUARD(ak_buf_append_byte(b, '"'));
    size_t run = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') continue;
        AK_GUARD(ak_buf_append(b, s.ptr + run, i - run));
        if (c == '"' || c == '\\') {
            uint8_t e[2] = {'\\', c};
            AK_GUARD(ak_buf_append(b, e, 2));
        } else {
            AK_GUARD(ak_buf_printf(b, "\\u%04x", (unsigned)c));
        }
        run = i + 1;
    }
    AK_GUARD(ak_buf_append(b, s.ptr + run, s.len - run));
    return ak_buf_append_byte(b, '"');
}

static ak_err s_jhex(ak_buf *b, const uint8_t *p, size_t n) {
    AK_GUARD(ak_buf_append_str(b, "\"0x"));
    AK_GUARD(ak_buf_append_hex(b, p, n));
    return ak_buf_append_byte(b, '"');
}

static ak_err s_hex32(ak_cur text, uint8_t out[32]) { return ak_hex_decode_exact(text, true, out, 32); }

/* ================================================================ thread pool */

typedef void (*s_job_fn)(void *ctx, unsigned lane, size_t i);

typedef struct s_pool {
    s_job_fn fn;
    void *ctx;
    size_t n;
    size_t next; /* atomically incremented */
} s_pool;

typedef struct s_worker {
    s_pool *pool;
    unsigned lane;
} s_worker;

static void s_pool_run(s_pool *p, unsigned lane) {
    for (;;) {
        size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
        if (i >= p->n) return;
        p->fn(p->ctx, lane, i);
    }
}

static void *s_worker_main(void *arg) {
    s_worker *w = arg;
    s_pool_run(w->pool, w->lane);
    return NULL;
}

/* Runs fn(ctx, lane, i) for i in [0, n) on up to n_lanes threads (lane 0 is the caller). Jobs
 * record their own outcome; a thread that cannot be created just leaves more jobs to the
 * others. */
static void s_parallel(const ak_audit_store *st, size_t n, s_job_fn fn, void *ctx) {
    s_pool p = {fn, ctx, n, 0};
    unsigned lanes = st->n_lanes;
    if ((size_t)lanes > n) lanes = (unsigned)(n ? n : 1);
    pthread_t th[AK_AUDIT_FLUSH_MAX_LANES];
    s_worker w[AK_AUDIT_FLUSH_MAX_LANES];
    bool started[AK_AUDIT_FLUSH_MAX_LANES] = {false};
    for (unsigned l = 1; l < lanes && l < AK_AUDIT_FLUSH_MAX_LANES; l++) {
        w[l] = (s_worker){&p, l};
        started[l] = pthread_create(&th[l], NULL, s_worker_main, &w[l]) == 0;
    }
    s_pool_run(&p, 0);
    for (unsigned l = 1; l < lanes && l < AK_AUDIT_FLUSH_MAX_LANES; l++)
        if (started[l]) (void)pthread_join(th[l], NULL);
}

/* ================================================================ listing */

typedef struct s_keylist {
    ak_buf blob; /* keys back to back */
    size_t *off; /* start of key i in blob; key length is fixed (S_PENDING_KEY_LEN) */
    size_t n, cap;
    size_t max;     /* stop after this many */
    size_t invalid; /* keys that do not have the pending-key form */
    bool truncated;
    char last[AK_S3_MAX_KEY + 1]; /* last key listed, valid or not (start_after of the next round) */
} s_keylist;

static void s_keylist_init(s_keylist *k, size_t max) {
    memset(k, 0, sizeof(*k));
    ak_buf_init(&k->blob, max * S_PENDING_KEY_LEN + 1);
    k->max = max;
}

static void s_keylist_free(s_keylist *k) {
    ak_buf_free(&k->blob);
    ak_free(k->off);
    memset(k, 0, sizeof(*k));
}

static ak_cur s_keylist_at(const s_keylist *k, size_t i) {
    return ak_cur_from(k->blob.ptr + k->off[i], S_PENDING_KEY_LEN);
}

static ak_err s_list_cb(void *ud, const ak_s3_list_item *it) {
    s_keylist *k = ud;
    ak_cur oh, id;
    if (it->key.len <= AK_S3_MAX_KEY) {
        memcpy(k->last, it->key.ptr, it->key.len);
        k->last[it->key.len] = 0;
    }
    if (!s_parse_pending_key(it->key, &oh, &id)) {
        k->invalid++;
        return AK_OK;
    }
    if (k->n >= k->max) {
        k->truncated = true;
        return AK_E_LIMIT; /* stops the listing; not an error for the caller */
    }
    if (k->n == k->cap) {
        size_t *no = ak_grow_array(k->off, &k->cap, sizeof(*no), 1024);
        AK_ENSURE(no != NULL, AK_E_NOMEM);
        k->off = no;
    }
    k->off[k->n] = k->blob.len;
    AK_GUARD(ak_buf_append_cur(&k->blob, it->key));
    k->n++;
    return AK_OK;
}

/* ================================================================ batches */

typedef struct s_item {
    ak_cur key;      /* pending key */
    ak_cur event_id; /* inside key */
    ak_buf ev;       /* event bytes (flush path) */
    ak_cur event;    /* view of ev, or into a parsed batch (resume path) */
    uint8_t leaf[32];
    ak_err rc; /* read/check outcome */
    bool invalid;
} s_item;

typedef struct s_batch {
    const ak_audit_store *st;
    ak_omni op;
    char op_hex[AK_OMNI_HEX_LEN + 1];
    s_item *items;
    size_t n;
    ak_merkle tree;
    char key[S_KEY_MAX];
    int64_t read_deadline, deadline;
    size_t index_fail; /* index PUTs that failed (atomic) */
    ak_err index_err;
} s_batch;

static int s_item_cmp(const void *a, const void *b) {
    const s_item *x = a, *y = b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = memcmp(x->key.ptr, y->key.ptr, n);
    if (c) return c;
    return (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

/* Job: GET one pending event, check it (canonical, v1, this operator, event_id == key's id),
 * hash the leaf. */
static void s_read_job(void *ctx, unsigned lane, size_t i) {
    s_batch *b = ctx;
    s_item *it = &b->items[i];
    if (s_now(b->st) >= b->read_deadline) {
        it->rc = AK_E_DEADLINE;
        return;
    }
    ak_buf_init(&it->ev, AK_MAX_AUDIT_EVENT + 1);
    it->rc = b->st->get(b->st->ud, lane, it->key, AK_MAX_AUDIT_EVENT + 1, &it->ev, NULL, b->read_deadline);
    if (it->rc != AK_OK) return;
    it->event = ak_buf_cur(&it->ev);
    if (ak_audit_event_check(it->event, &b->op) != AK_OK) {
        it->invalid = true;
        return;
    }
    json_t *o = NULL;
    ak_cur id;
    if (ak_json_parse_object(it->event, &o) != AK_OK || ak_json_str(o, "event_id", &id) != AK_OK ||
        !ak_cur_eq(id, it->event_id))
        it->invalid = true; /* the object's name must be its own event id (index keys rely on it) */
    json_decref(o);
    if (!it->invalid) ak_merkle_leaf_hash(it->event, it->leaf);
}

/* The batch object (format: functions/audit-flush/README.md). */
static ak_err s_batch_body(const s_batch *b, const char *batch_id, ak_buf *out) {
    size_t plen = ak_merkle_proof_len(&b->tree);
    uint8_t(*proof)[32] = ak_malloc((plen ? plen : 1) * 32);
    AK_ENSURE(proof != NULL, AK_E_NOMEM);
    ak_err rc = AK_OK;
    AK_GUARD_OUT(ak_buf_printf(
        out, "{\"v\":1,\"operator_omni\":\"0x%s\",\"batch_id\":\"%s\",\"root\":", b->op_hex, batch_id));
    AK_GUARD_OUT(s_jhex(out, ak_merkle_root(&b->tree), 32));
    AK_GUARD_OUT(ak_buf_printf(out, ",\"count\":%zu,\"proof_len\":%zu,\"leaves\":[", b->n, plen));
    for (size_t i = 0; i < b->n; i++) {
        const s_item *it = &b->items[i];
        AK_GUARD_OUT(ak_buf_printf(out, "%s{\"i\":%zu,\"key\":", i ? "," : "", i));
        AK_GUARD_OUT(s_jstr(out, it->key));
        AK_GUARD_OUT(ak_buf_append_str(out, ",\"event_id\":"));
        AK_GUARD_OUT(s_jstr(out, it->event_id));
        AK_GUARD_OUT(ak_buf_append_str(out, ",\"leaf\":"));
        AK_GUARD_OUT(s_jhex(out, it->leaf, 32));
        AK_GUARD_OUT(ak_buf_append_str(out, ",\"proof\":["));
        AK_GUARD_OUT(ak_merkle_proof(&b->tree, i, proof, plen));
        for (size_t k = 0; k < plen; k++) {
            if (k) AK_GUARD_OUT(ak_buf_append_byte(out, ','));
            AK_GUARD_OUT(s_jhex(out, proof[k], 32));
        }
        AK_GUARD_OUT(ak_buf_append_str(out, "],\"event\":"));
        AK_GUARD_OUT(s_jstr(out, it->event));
        AK_GUARD_OUT(ak_buf_append_byte(out, '}'));
    }
    AK_GUARD_OUT(ak_buf_append_str(out, "]}"));
out:
    ak_free(proof);
    return rc;
}

static ak_err s_index_body(const s_batch *b, size_t i, ak_buf *out) {
    const s_item *it = &b->items[i];
    size_t plen = ak_merkle_proof_len(&b->tree);
    uint8_t proof[AK_MERKLE_MAX_DEPTH][32];
    AK_GUARD(ak_merkle_proof(&b->tree, i, proof, AK_MERKLE_MAX_DEPTH));
    AK_GUARD(ak_buf_printf(out, "{\"v\":1,\"operator_omni\":\"0x%s\",\"batch\":", b->op_hex));
    AK_GUARD(s_jstr(out, ak_cur_from_str(b->key)));
    AK_GUARD(ak_buf_append_str(out, ",\"root\":"));
    AK_GUARD(s_jhex(out, ak_merkle_root(&b->tree), 32));
    AK_GUARD(ak_buf_printf(out, ",\"count\":%zu,\"i\":%zu,\"key\":", b->n, i));
    AK_GUARD(s_jstr(out, it->key));
    AK_GUARD(ak_buf_append_str(out, ",\"event_id\":"));
    AK_GUARD(s_jstr(out, it->event_id));
    AK_GUARD(ak_buf_append_str(out, ",\"leaf\":"));
    AK_GUARD(s_jhex(out, it->leaf, 32));
    AK_GUARD(ak_buf_append_str(out, ",\"proof\":["));
    for (size_t k = 0; k < plen; k++) {
        if (k) AK_GUARD(ak_buf_append_byte(out, ','));
        AK_GUARD(s_jhex(out, proof[k], 32));
    }
    AK_GUARD(ak_buf_append_str(out, "],\"event\":"));
    AK_GUARD(s_jstr(out, it->event));
    return ak_buf_append_byte(out, '}');
}

/* Job: PUT one index object (overwrites: the content is a function of the batch). */
static void s_index_job(void *ctx, unsigned lane, size_t i) {
    s_batch *b = ctx;
    ak_buf key, body;
    ak_buf_init(&key, S_KEY_MAX);
    ak_buf_init(&body, S_INDEX_MAX);
    ak_err rc = ak_audit_index_key(&b->op, b->items[i].event_id, &key);
    if (rc == AK_OK) rc = s_index_body(b, i, &body);
    if (rc == AK_OK && s_now(b->st) >= b->deadline) rc = AK_E_DEADLINE;
    if (rc == AK_OK)
        rc = b->st->put(b->st->ud, lane, ak_buf_cur(&key), ak_buf_cur(&body), false, (ak_cur){0}, NULL, 0,
                        NULL, b->deadline);
    if (rc != AK_OK) {
        __atomic_fetch_add(&b->index_fail, 1, __ATOMIC_RELAXED);
        ak_err expected = AK_OK;
        __atomic_compare_exchange_n(&b->index_err, &expected, rc, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    ak_buf_free(&key);
    ak_buf_free(&body);
}

static ak_err s_write_indexes(s_batch *b) {
    b->index_fail = 0;
    b->index_err = AK_OK;
    s_parallel(b->st, b->n, s_index_job, b);
    return b->index_fail ? b->index_err : AK_OK;
}

static ak_err s_delete_pending(s_batch *b) {
    ak_cur *keys = ak_malloc((b->n ? b->n : 1) * sizeof(ak_cur));
    AK_ENSURE(keys != NULL, AK_E_NOMEM);
    for (size_t i = 0; i < b->n; i++)
        keys[i] = b->items[i].key;
    size_t failed = 0;
    ak_err rc = b->n ? b->st->del_many(b->st->ud, keys, b->n, &failed, b->deadline) : AK_OK;
    ak_free(keys);
    if (rc != AK_OK) {
        char f[24];
        snprintf(f, sizeof(f), "%zu", failed);
        ak_log_error("audit flush: pending objects not deleted; the lease keeps the batch for the next run",
                     "batch", b->key, "failed", f, "reason", ak_err_reason(rc));
    }
    return rc;
}

/* ================================================================ lease */

typedef struct s_lease {
    ak_buf key;
    ak_buf etag;
    char resume[S_KEY_MAX]; /* batch recorded by a dead holder ("" = none) */
    bool held;
    bool intent; /* the lease may name a batch not yet finished: never release it then */
} s_lease;

static ak_err s_lease_body(const ak_audit_flush_cfg *cfg, const char *batch_key, ak_buf *out) {
    ak_buf_clear(out);
    AK_GUARD(ak_buf_append_str(out, "{\"batch\":"));
    AK_GUARD(s_jstr(out, ak_cur_from_str(batch_key)));
    AK_GUARD(ak_buf_printf(out, ",\"lease_until_ms\":%lld,\"owner\":", (long long)cfg->deadline_ms));
    AK_GUARD(s_jstr(out, ak_cur_from_str(cfg->owner ? cfg->owner : "")));
    return ak_buf_append_str(out, ",\"v\":1}");
}

/* Records `batch_key` (or "") in our lease: conditional on our ETag, so a lease we lost is
 * noticed (AK_E_CONFLICT) instead of overwritten. */
static ak_err s_lease_set(const ak_audit_store *st, const ak_audit_flush_cfg *cfg, s_lease *l,
                          const char *batch_key) {
    ak_buf body, etag;
    ak_buf_init(&body, S_LEASE_MAX);
    ak_buf_init(&etag, 256);
    /* Set before the PUT: a write whose answer was lost may still have landed. */
    if (batch_key[0]) l->intent = true;
    ak_err rc = s_lease_body(cfg, batch_key, &body);
    if (rc == AK_OK)
        rc = st->put(st->ud, 0, ak_buf_cur(&l->key), ak_buf_cur(&body), false, ak_buf_cur(&l->etag), NULL, 0,
                     &etag, cfg->deadline_ms);
    if (rc == AK_E_PRECONDITION_FAILED) rc = AK_E_CONFLICT;
    if (rc == AK_OK) {
        ak_buf_clear(&l->etag);
        rc = ak_buf_append_cur(&l->etag, ak_buf_cur(&etag));
        if (rc == AK_OK && batch_key[0] == 0) l->intent = false;
    }
    ak_buf_free(&body);
    ak_buf_free(&etag);
    return rc;
}

/* Takes the operator's lease: creates it (If-None-Match), or takes over a stale one (If-Match
 * on its ETag, keeping the batch it records so we finish it). *busy when a live holder has it. */
static ak_err s_lease_acquire(const ak_audit_store *st, const ak_audit_flush_cfg *cfg, s_lease *l,
                              bool *busy) {
    *busy = false;
    ak_buf body, cur, etag;
    ak_buf_init(&body, S_LEASE_MAX);
    ak_buf_init(&cur, S_LEASE_MAX);
    ak_buf_init(&etag, 256);
    json_t *o = NULL;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(s_lease_body(cfg, "", &body));
    for (int attempt = 0; attempt < 2; attempt++) {
        ak_buf_clear(&etag);
        rc = st->put(st->ud, 0, ak_buf_cur(&l->key), ak_buf_cur(&body), true, (ak_cur){0}, NULL, 0, &etag,
                     cfg->deadline_ms);
        if (rc == AK_OK) {
            l->held = true;
            AK_GUARD_OUT(ak_buf_append_cur(&l->etag, ak_buf_cur(&etag)));
            goto out;
        }
        if (rc != AK_E_PRECONDITION_FAILED) goto out;
        /* Someone holds it, or held it and died. */
        ak_buf_clear(&cur);
        ak_buf_clear(&etag);
        rc = st->get(st->ud, 0, ak_buf_cur(&l->key), S_LEASE_MAX, &cur, &etag, cfg->deadline_ms);
        if (rc == AK_E_NOT_FOUND) continue; /* released in between: try to create again */
        if (rc != AK_OK) goto out;
        uint64_t until = 0;
        ak_cur batch = {0};
        json_decref(o);
        o = NULL;
        if (ak_json_parse_object(ak_buf_cur(&cur), &o) != AK_OK ||
            ak_json_u64(o, "lease_until_ms", &until) != AK_OK || ak_json_str(o, "batch", &batch) != AK_OK ||
            batch.len >= S_KEY_MAX) {
            ak_log_warn("audit flush: unreadable lease object; taking it over");
            until = 0;
            batch = (ak_cur){0};
        }
        uint64_t grace = cfg->has_grace ? cfg->lease_grace_ms : AK_AUDIT_FLUSH_DEFAULT_GRACE_MS;
        if ((uint64_t)s_now(st) <= until + grace) {
            *busy = true;
            rc = AK_OK;
            goto out;
        }
        /* Stale: take it over, keeping the recorded batch so it is finished first. */
        char resume[S_KEY_MAX];
        AK_GUARD_OUT(ak_cur_to_cstr(batch, resume, sizeof(resume)));
        AK_GUARD_OUT(s_lease_body(cfg, resume, &body));
        ak_buf new_etag;
        ak_buf_init(&new_etag, 256);
        rc = st->put(st->ud, 0, ak_buf_cur(&l->key), ak_buf_cur(&body), false, ak_buf_cur(&etag), NULL, 0,
                     &new_etag, cfg->deadline_ms);
        if (rc == AK_OK) rc = ak_buf_append_cur(&l->etag, ak_buf_cur(&new_etag));
        ak_buf_free(&new_etag);
        if (rc == AK_E_PRECONDITION_FAILED) { /* another run took it over first */
            *busy = true;
            rc = AK_OK;
            goto out;
        }
        if (rc != AK_OK) goto out;
        l->held = true;
        l->intent = resume[0] != 0;
        memcpy(l->resume, resume, sizeof(resume));
        goto out;
    }
    *busy = true; /* created and deleted under us twice: leave it to the next run */
    rc = AK_OK;
out:
    json_decref(o);
    ak_buf_free(&body);
    ak_buf_free(&cur);
    ak_buf_free(&etag);
    return rc;
}

/* ================================================================ flush */

typedef struct s_run {
    const ak_audit_store *st;
    const ak_audit_flush_cfg *cfg;
    ak_audit_flush_stats *stats;
    json_t *report;
    size_t batch_max;
} s_run;

static bool s_fault(const ak_audit_flush_cfg *cfg, ak_audit_fault p) {
    return cfg->fault && cfg->fault(cfg->fault_ud, p);
}

static void s_batch_free(s_batch *b) {
    for (size_t i = 0; b->items && i < b->n; i++)
        ak_buf_free(&b->items[i].ev);
    ak_free(b->items);
    ak_merkle_free(&b->tree);
    b->items = NULL;
    b->n = 0;
}

/* Finishes a batch a dead holder recorded: if it was written, rewrite its indexes and delete
 * its pending objects. The batch is re-verified (every leaf hash from its event bytes, the
 * tree from the leaves) before anything is deleted. */
static ak_err s_resume(s_run *r, const ak_omni *op, const char *op_hex, const char *batch_key) {
    const ak_audit_store *st = r->st;
    ak_buf body;
    ak_buf_init(&body, AK_AUDIT_BATCH_MAX_BYTES);
    json_t *o = NULL;
    s_batch b = {0};
    b.st = st;
    b.op = *op;
    memcpy(b.op_hex, op_hex, sizeof(b.op_hex));
    b.deadline = b.read_deadline = r->cfg->deadline_ms;
    ak_err rc = st->get(st->ud, 0, ak_cur_from_str(batch_key), AK_AUDIT_BATCH_MAX_BYTES, &body, NULL,
                        r->cfg->deadline_ms);
    if (rc == AK_E_NOT_FOUND) { /* died before the batch PUT: its events are all still pending */
        rc = AK_OK;
        goto out;
    }
    if (rc != AK_OK) goto out;
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&body), &o) == AK_OK, AK_E_S3_ERROR);
    json_t *leaves = json_object_get(o, "leaves");
    ak_cur root_hex;
    uint8_t root[32];
    AK_ENSURE_OUT(json_is_array(leaves) && json_array_size(leaves) >= 1 &&
                      ak_json_str(o, "root", &root_hex) == AK_OK && s_hex32(root_hex, root) == AK_OK,
                  AK_E_S3_ERROR);
    size_t n = json_array_size(leaves);
    b.items = ak_calloc(n, sizeof(s_item));
    AK_ENSURE_OUT(b.items != NULL, AK_E_NOMEM);
    b.n = n;
    AK_GUARD_OUT(ak_merkle_init(&b.tree, n));
    for (size_t i = 0; i < n; i++) {
        json_t *lf = json_array_get(leaves, i);
        s_item *it = &b.items[i];
        ak_cur oh, id;
        AK_ENSURE_OUT(json_is_object(lf) && ak_json_str(lf, "key", &it->key) == AK_OK &&
                          ak_json_str(lf, "event", &it->event) == AK_OK &&
                          s_parse_pending_key(it->key, &oh, &id) && ak_cur_eq_str(oh, op_hex),
                      AK_E_S3_ERROR);
        it->event_id = id;
        ak_merkle_leaf_hash(it->event, it->leaf);
        ak_merkle_set_leaf_hash(&b.tree, i, it->leaf);
    }
    ak_merkle_build(&b.tree);
    AK_ENSURE_OUT(memcmp(ak_merkle_root(&b.tree), root, 32) == 0, AK_E_S3_ERROR);
    AK_GUARD_OUT(ak_cur_to_cstr(ak_cur_from_str(batch_key), b.key, sizeof(b.key)));
    AK_GUARD_OUT(s_write_indexes(&b));
    AK_GUARD_OUT(s_delete_pending(&b));
    r->stats->resumed++;
    ak_log_info("audit flush: finished an interrupted batch", "batch", batch_key);
out:
    if (rc == AK_E_S3_ERROR)
        ak_log_error("audit flush: recorded batch is unreadable or inconsistent", "batch", batch_key);
    ak_free(b.items); /* items point into `o`; no per-item buffers on this path */
    b.items = NULL;
    b.n = 0;
    s_batch_free(&b);
    json_decref(o);
    ak_buf_free(&body);
    return rc;
}

/* One batch from keys[from, from+n) of operator `op`. *consumed = how many of those keys were
 * settled (moved into the batch, or invalid); stops early at the read deadline. */
static ak_err s_one_batch(s_run *r, s_lease *l, const ak_omni *op, const char *op_hex, const s_keylist *keys,
                          size_t from, size_t n, bool *faulted) {
    const ak_audit_store *st = r->st;
    const ak_audit_flush_cfg *cfg = r->cfg;
    ak_buf body;
    ak_buf_init(&body, AK_AUDIT_BATCH_MAX_BYTES);
    s_batch b = {0};
    b.st = st;
    b.op = *op;
    memcpy(b.op_hex, op_hex, sizeof(b.op_hex));
    b.deadline = cfg->deadline_ms;
    /* Reading may use half of what is left; the other half is for the batch, indexes and
     * deletes (the same number of requests again). */
    int64_t now = s_now(st);
    b.read_deadline = now + (cfg->deadline_ms - now) / 2;
    ak_err rc = AK_OK;
    b.items = ak_calloc(n, sizeof(s_item));
    AK_ENSURE_OUT(b.items != NULL, AK_E_NOMEM);
    b.n = n;
    for (size_t i = 0; i < n; i++) {
        ak_cur oh;
        b.items[i].key = s_keylist_at(keys, from + i);
        (void)s_parse_pending_key(b.items[i].key, &oh, &b.items[i].event_id);
    }
    s_parallel(st, n, s_read_job, &b);

    /* Keep the good ones, in key order (the listing order; sorted again so the batch does not
     * depend on it). Unread ones stay pending for the next run. */
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        s_item *it = &b.items[i];
        if (it->rc == AK_E_NOMEM) AK_GUARD_OUT(AK_E_NOMEM);
        if (it->rc == AK_E_DEADLINE) r->stats->deadline_hit = true;
        if (it->rc != AK_OK) {
            if (it->rc != AK_E_DEADLINE && it->rc != AK_E_NOT_FOUND)
                ak_log_warn("audit flush: pending event unreadable; left for the next run", "reason",
                            ak_err_reason(it->rc));
            if (it->rc != AK_E_NOT_FOUND) r->stats->unread++;
            ak_buf_free(&it->ev);
            continue;
        }
        if (it->invalid) {
            char k[S_KEY_MAX];
            if (ak_cur_to_cstr(it->key, k, sizeof(k)) != AK_OK) k[0] = 0;
            ak_log_error(
                "audit flush: pending object is not a canonical event of this operator; left in place", "key",
                k);
            r->stats->invalid++;
            ak_buf_free(&it->ev);
            continue;
        }
        if (good != i) {
            b.items[good] = *it;
            memset(it, 0, sizeof(*it));
            b.items[good].event = ak_buf_cur(&b.items[good].ev);
        }
        good++;
    }
    for (size_t i = good; i < n; i++)
        ak_buf_free(&b.items[i].ev);
    b.n = good;
    if (good == 0) goto out;
    qsort(b.items, b.n, sizeof(s_item), s_item_cmp);

    AK_GUARD_OUT(ak_merkle_init(&b.tree, b.n));
    for (size_t i = 0; i < b.n; i++)
        ak_merkle_set_leaf_hash(&b.tree, i, b.items[i].leaf);
    ak_merkle_build(&b.tree);

    /* batch id: first event's time prefix + keccak of the sorted keys. */
    uint8_t h[32];
    ak_keccak_ctx kc;
    ak_keccak256_init(&kc);
    for (size_t i = 0; i < b.n; i++) {
        ak_keccak256_update(&kc, b.items[i].key.ptr, b.items[i].key.len);
        ak_keccak256_update(&kc, (const uint8_t *)"\n", 1);
    }
    ak_keccak256_final(&kc, h);
    char batch_id[S_BATCH_ID_LEN + 1];
    memcpy(batch_id, b.items[0].event_id.ptr, 16);
    batch_id[16] = '-';
    ak_hex_encode(h, 16, batch_id + 17);
    snprintf(b.key, sizeof(b.key), "audit/batches/%s/%s.json", op_hex, batch_id);
    AK_GUARD_OUT(s_batch_body(&b, batch_id, &body));

    /* 1. intent: the lease names the batch before it exists (crash-safety, see the header). */
    AK_GUARD_OUT(s_lease_set(st, cfg, l, b.key));
    if (s_fault(cfg, AK_AUDIT_FAULT_AFTER_LEASE_INTENT)) goto fault;
    /* 2. the batch, create-only. A 412 means this exact key set was written before (same
     * batch id): accept it only if it holds the same root. */
    rc = st->put(st->ud, 0, ak_cur_from_str(b.key), ak_buf_cur(&body), true, (ak_cur){0}, NULL, 0, NULL,
                 cfg->deadline_ms);
    if (rc == AK_E_PRECONDITION_FAILED) {
        ak_buf prev;
        ak_buf_init(&prev, AK_AUDIT_BATCH_MAX_BYTES);
        rc = st->get(st->ud, 0, ak_cur_from_str(b.key), AK_AUDIT_BATCH_MAX_BYTES, &prev, NULL,
                     cfg->deadline_ms);
        json_t *po = NULL;
        ak_cur pr;
        uint8_t proot[32];
        if (rc == AK_OK &&
            (ak_json_parse_object(ak_buf_cur(&prev), &po) != AK_OK || ak_json_str(po, "root", &pr) != AK_OK ||
             s_hex32(pr, proot) != AK_OK || memcmp(proot, ak_merkle_root(&b.tree), 32) != 0))
            rc = AK_E_CONFLICT;
        json_decref(po);
        ak_buf_free(&prev);
    }
    if (rc != AK_OK) goto out;
    if (s_fault(cfg, AK_AUDIT_FAULT_AFTER_BATCH_PUT)) goto fault;
    /* 3. indexes, 4. pending deletes. A failure leaves the intent in the lease: the next run
     * finishes this batch first. */
    AK_GUARD_OUT(s_write_indexes(&b));
    if (s_fault(cfg, AK_AUDIT_FAULT_AFTER_INDEX_PUT)) goto fault;
    AK_GUARD_OUT(s_delete_pending(&b));
    AK_GUARD_OUT(s_lease_set(st, cfg, l, ""));

    r->stats->batches++;
    r->stats->events += b.n;
    if (r->report) {
        char root_hex[2 + 64 + 1] = "0x";
        ak_hex_encode(ak_merkle_root(&b.tree), 32, root_hex + 2);
        json_t *e = json_pack("{s:s#, s:s, s:I, s:s}", "operator_omni", op_hex, (int)AK_OMNI_HEX_LEN, "batch",
                              b.key, "count", (json_int_t)b.n, "root", root_hex);
        AK_ENSURE_OUT(e != NULL && json_array_append_new(r->report, e) == 0, AK_E_NOMEM);
    }
    {
        char c[24];
        snprintf(c, sizeof(c), "%zu", b.n);
        ak_log_info("audit flush: batch written", "batch", b.key, "count", c);
    }
    goto out;
fault:
    *faulted = true;
    rc = AK_E_INTERNAL;
out:
    s_batch_free(&b);
    ak_buf_free(&body);
    return rc;
}

/* Everything for one operator: lease, resume, batches over its keys, release. */
static ak_err s_operator(s_run *r, const s_keylist *keys, size_t from, size_t n, bool *faulted) {
    const ak_audit_store *st = r->st;
    const ak_audit_flush_cfg *cfg = r->cfg;
    ak_cur oh, id;
    (void)s_parse_pending_key(s_keylist_at(keys, from), &oh, &id);
    char op_hex[AK_OMNI_HEX_LEN + 1];
    memcpy(op_hex, oh.ptr, AK_OMNI_HEX_LEN);
    op_hex[AK_OMNI_HEX_LEN] = 0;
    ak_omni op;
    AK_GUARD(ak_omni_parse(oh, &op));
    s_lease l = {0};
    ak_buf_init(&l.key, S_KEY_MAX);
    ak_buf_init(&l.etag, 256);
    bool busy = false;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(ak_audit_lease_key(&op, &l.key));
    AK_GUARD_OUT(s_lease_acquire(st, cfg, &l, &busy));
    if (busy) {
        r->stats->busy++;
        r->stats->unread += n;
        ak_log_info("audit flush: another flush holds this operator's lease; skipped", "operator", op_hex);
        goto out;
    }
    if (l.resume[0]) {
        AK_GUARD_OUT(s_resume(r, &op, op_hex, l.resume));
        AK_GUARD_OUT(s_lease_set(st, cfg, &l, ""));
    }
    /* The listing happened before the resume: keys the resume just deleted are skipped by the
     * reads (404), never batched twice. */
    size_t done = 0;
    while (done < n) {
        if (s_now(st) >= cfg->deadline_ms) {
            r->stats->deadline_hit = true;
            break;
        }
        size_t m = n - done < r->batch_max ? n - done : r->batch_max;
        AK_GUARD_OUT(s_one_batch(r, &l, &op, op_hex, keys, from + done, m, faulted));
        done += m;
        if (r->stats->deadline_hit) break;
    }
    if (done < n) r->stats->unread += n - done;
out:
    if (*faulted) { l.held = false; /* a crashed process releases nothing */ }
    if (l.held && !l.intent) {
        /* Released only when no batch is half done; otherwise it expires and the next run
         * finishes the batch it names. */
        ak_err d = st->del(st->ud, ak_buf_cur(&l.key), cfg->deadline_ms);
        if (d != AK_OK)
            ak_log_warn("audit flush: lease not released; it expires", "reason", ak_err_reason(d));
    }
    ak_buf_free(&l.key);
    ak_buf_free(&l.etag);
    return rc;
}

/* ================================================================ operators, rotation */

typedef char s_hex[AK_OMNI_HEX_LEN + 1];

/* Operators from a delimiter listing of audit/pending/, in rotation order. */
typedef struct s_opset {
    s_hex *hex;
    size_t n, cap;
    size_t invalid; /* objects directly under audit/pending/, prefixes that are no operator */
    ak_cur stop_at; /* wrap-around part: stop at the first entry >= this (empty: none) */
} s_opset;

static ak_err s_opset_add(s_opset *o, ak_cur hex) {
    if (o->n == o->cap) {
        s_hex *nh = ak_grow_array(o->hex, &o->cap, sizeof(*nh), 64);
        AK_ENSURE(nh != NULL, AK_E_NOMEM);
        o->hex = nh;
    }
    memcpy(o->hex[o->n], hex.ptr, AK_OMNI_HEX_LEN);
    o->hex[o->n][AK_OMNI_HEX_LEN] = 0;
    o->n++;
    return AK_OK;
}

static int s_cur_cmp(ak_cur a, ak_cur b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c) return c;
    return (a.len > b.len) - (a.len < b.len);
}

static ak_err s_opset_cb(void *ud, const ak_s3_list_item *it) {
    s_opset *o = ud;
    if (o->stop_at.len && s_cur_cmp(it->key, o->stop_at) >= 0) return AK_E_LIMIT; /* wrapped around */
    /* "audit/pending/<64 lowercase hex>/" */
    if (!it->is_prefix || it->key.len != S_PENDING_LEN + AK_OMNI_HEX_LEN + 1 ||
        !ak_is_hex64_lower(ak_cur_from(it->key.ptr + S_PENDING_LEN, AK_OMNI_HEX_LEN))) {
        char k[S_KEY_MAX];
        if (ak_cur_to_cstr(it->key, k, sizeof(k)) != AK_OK) k[0] = 0;
        ak_log_error("audit flush: object or folder under audit/pending/ that is no operator; left in place",
                     "key", k);
        o->invalid++;
        return AK_OK;
    }
    return s_opset_add(o, ak_cur_from(it->key.ptr + S_PENDING_LEN, AK_OMNI_HEX_LEN));
}

/* The cursor names the operator the next scheduled run starts with. Unreadable -> none (the
 * rotation is a fairness hint, never a reason to stop). */
static bool s_cursor_get(const s_run *r, s_hex out) {
    const ak_audit_store *st = r->st;
    ak_buf body;
    ak_buf_init(&body, S_LEASE_MAX);
    json_t *o = NULL;
    ak_cur next = {0};
    bool ok = false;
    ak_err rc = st->get(st->ud, 0, AK_CUR_LIT(AK_AUDIT_FLUSH_CURSOR_KEY), S_LEASE_MAX, &body, NULL,
                        r->cfg->deadline_ms);
    if (rc == AK_OK && ak_json_parse_object(ak_buf_cur(&body), &o) == AK_OK &&
        ak_json_str(o, "next", &next) == AK_OK && ak_is_hex64_lower(next)) {
        memcpy(out, next.ptr, AK_OMNI_HEX_LEN);
        out[AK_OMNI_HEX_LEN] = 0;
        ok = true;
    } else if (rc != AK_E_NOT_FOUND) {
        ak_log_warn("audit flush: rotation cursor unreadable; starting with the first operator", "reason",
                    ak_err_reason(rc == AK_OK ? AK_E_INVALID_INPUT : rc));
    }
    json_decref(o);
    ak_buf_free(&body);
    return ok;
}

/* Plain overwrite: overlapping runs may race on it, and either value is a fine start. */
static void s_cursor_put(const s_run *r, const char *next_hex) {
    const ak_audit_store *st = r->st;
    if (s_now(st) >= r->cfg->deadline_ms) return;
    char body[128];
    snprintf(body, sizeof(body), "{\"next\":\"%s\",\"v\":1}", next_hex);
    ak_err rc = st->put(st->ud, 0, AK_CUR_LIT(AK_AUDIT_FLUSH_CURSOR_KEY), ak_cur_from_str(body), false,
                        (ak_cur){0}, NULL, 0, NULL, r->cfg->deadline_ms);
    if (rc != AK_OK) ak_log_warn("audit flush: rotation cursor not written", "reason", ak_err_reason(rc));
}

/* Every operator with pending objects, starting at the cursor's and wrapping around; at most
 * `max` (each one costs at least one key of the run's budget, so more could not be served). */
static ak_err s_operators(s_run *r, size_t max, s_opset *ops) {
    const ak_audit_store *st = r->st;
    s_hex cur;
    bool have = s_cursor_get(r, cur);
    char after[S_PENDING_LEN + AK_OMNI_HEX_LEN + 1];
    snprintf(after, sizeof(after), S_PENDING "%s", have ? cur : "");
    /* "audit/pending/<op>" sorts right before "audit/pending/<op>/": the cursor's own operator
     * comes first. */
    ak_s3_list_opts o = {.prefix = AK_CUR_LIT(S_PENDING),
                         .delimiter = AK_CUR_LIT("/"),
                         .start_after = have ? ak_cur_from_str(after) : (ak_cur){0},
                         .max_keys = max};
    ak_s3_list_result res;
    AK_GUARD(st->list_ex(st->ud, &o, s_opset_cb, ops, &res, r->cfg->deadline_ms));
    if (!have || res.truncated || res.keys + res.prefixes >= max) return AK_OK;
    /* Wrap around: the ones before the cursor. */
    o.start_after = (ak_cur){0};
    o.max_keys = max - (res.keys + res.prefixes);
    ops->stop_at = ak_cur_from_str(after);
    ak_err rc = st->list_ex(st->ud, &o, s_opset_cb, ops, NULL, r->cfg->deadline_ms);
    ops->stop_at = (ak_cur){0};
    return rc == AK_E_LIMIT ? AK_OK : rc;
}

/* An operator whose listing was cut by its share: more keys wait after `last`. */
typedef struct s_more {
    size_t op; /* index into the opset */
    char last[AK_S3_MAX_KEY + 1];
} s_more;

typedef struct s_turn_out {
    size_t listed; /* keys (valid or not) taken from the budget */
    bool more;
    bool any; /* at least one key of the pending-key form */
} s_turn_out;

/* One operator's turn: list at most `cap` of its pending keys after `after` (NULL: from the
 * start), flush them (lease, resume, batches). Errors of this operator are recorded in *first
 * (or as a deadline hit) and end its turn, not the run; AK_E_NOMEM and injected faults end the
 * run. */
static ak_err s_turn(s_run *r, const char *op_hex, size_t cap, const char *after, s_turn_out *t, char *last,
                     ak_err *first, bool *faulted) {
    const ak_audit_store *st = r->st;
    ak_audit_flush_stats *stats = r->stats;
    memset(t, 0, sizeof(*t));
    char prefix[S_PENDING_LEN + AK_OMNI_HEX_LEN + 2];
    snprintf(prefix, sizeof(prefix), S_PENDING "%s/", op_hex);
    s_keylist keys;
    s_keylist_init(&keys, cap);
    ak_s3_list_opts o = {.prefix = ak_cur_from_str(prefix),
                         .start_after = after ? ak_cur_from_str(after) : (ak_cur){0},
                         .max_keys = cap};
    ak_s3_list_result res = {0};
    ak_err e = st->list_ex(st->ud, &o, s_list_cb, &keys, &res, r->cfg->deadline_ms);
    if (e == AK_E_LIMIT && keys.truncated) { /* a store that ignored max_keys */
        e = AK_OK;
        res.truncated = true;
    }
    stats->invalid += keys.invalid;
    t->listed = res.keys + res.prefixes;
    t->any = keys.n > 0;
    memcpy(last, keys.last, sizeof(keys.last));
    size_t busy = stats->busy;
    if (e == AK_OK && keys.n > 0) e = s_operator(r, &keys, 0, keys.n, faulted);
    /* Cut by its share: another round may continue after `last` (a busy operator, an error or
     * the deadline end its run). Otherwise at least one key beyond the listing stays pending. */
    t->more = res.truncated && e == AK_OK && stats->busy == busy && !stats->deadline_hit;
    if (res.truncated && !t->more) stats->unread++;
    s_keylist_free(&keys);
    if (*faulted) return AK_E_INTERNAL;
    if (e == AK_E_NOMEM) return e;
    if (e == AK_E_DEADLINE || e == AK_E_UPSTREAM_TIMEOUT)
        stats->deadline_hit = true;
    else if (e != AK_OK && *first == AK_OK)
        *first = e;
    return AK_OK;
}

static size_t s_share(size_t budget, size_t n, size_t batch_max) {
    size_t share = budget / (n ? n : 1);
    size_t floor = batch_max < budget ? batch_max : budget; /* at least one batch */
    return share > floor ? share : floor;
}

ak_err ak_audit_flush(const ak_audit_store *st, const ak_audit_flush_cfg *cfg, ak_audit_flush_stats *stats,
                      json_t *report) {
    AK_PRECOND(st != NULL && cfg != NULL && stats != NULL && st->n_lanes >= 1);
    AK_PRECOND(st->list_ex && st->get && st->put && st->del && st->del_many);
    memset(stats, 0, sizeof(*stats));
    s_run r = {st, cfg, stats, report, cfg->batch_max ? cfg->batch_max : AK_AUDIT_FLUSH_DEFAULT_BATCH};
    AK_ENSURE(r.batch_max <= AK_MAX_AUDIT_BATCH, AK_E_INVALID_INPUT);
    size_t budget = cfg->run_max ? cfg->run_max : AK_AUDIT_FLUSH_DEFAULT_RUN_MAX;
    if (s_now(st) >= cfg->deadline_ms) { /* no request starts after the deadline */
        stats->deadline_hit = true;
        stats->unread = 1; /* unknown: not looked */
        return AK_OK;
    }
    s_opset ops = {0};
    s_more *more = NULL, *next = NULL;
    size_t n_more = 0;
    ak_err rc = AK_OK, first = AK_OK;
    bool faulted = false;
    if (cfg->only) {
        char hex[AK_OMNI_HEX_LEN + 1];
        ak_omni_hex(cfg->only, hex);
        AK_GUARD_OUT(s_opset_add(&ops, ak_cur_from(hex, AK_OMNI_HEX_LEN)));
    } else {
        AK_GUARD_OUT(s_operators(&r, budget, &ops));
        stats->invalid += ops.invalid;
        stats->operators = ops.n;
    }
    more = ak_calloc(ops.n ? ops.n : 1, sizeof(s_more));
    next = ak_calloc(ops.n ? ops.n : 1, sizeof(s_more));
    AK_ENSURE_OUT(more != NULL && next != NULL, AK_E_NOMEM);

    /* Round 1: every operator once, in rotation order, up to its share. Before a turn starts
     * the cursor moves past it (rate-limited), so whoever this run does not reach starts the
     * next one. */
    bool rotate = cfg->only == NULL && ops.n > 1;
    size_t share = s_share(budget, ops.n, r.batch_max), cursor_at = SIZE_MAX, unreached = SIZE_MAX;
    int64_t cursor_ms = 0;
    for (size_t i = 0; i < ops.n; i++) {
        if (budget == 0 || s_now(st) >= cfg->deadline_ms) {
            if (budget != 0) stats->deadline_hit = true;
            stats->unread++; /* this operator has at least one pending object */
            if (unreached == SIZE_MAX) unreached = i;
            continue;
        }
        if (rotate && (cursor_at == SIZE_MAX || s_now(st) - cursor_ms >= AK_AUDIT_FLUSH_CURSOR_EVERY_MS)) {
            cursor_at = (i + 1) % ops.n;
            cursor_ms = s_now(st);
            s_cursor_put(&r, ops.hex[cursor_at]);
        }
        s_turn_out t;
        AK_GUARD_OUT(s_turn(&r, ops.hex[i], share < budget ? share : budget, NULL, &t, more[n_more].last,
                            &first, &faulted));
        if (cfg->only && t.any) stats->operators = 1;
        budget -= t.listed < budget ? t.listed : budget;
        if (t.more) more[n_more++].op = i;
    }
    /* The periodic updates may lag behind: point at the first operator not reached (only
     * while time remains; otherwise the last update stands). */
    if (rotate && unreached != SIZE_MAX && unreached != cursor_at) s_cursor_put(&r, ops.hex[unreached]);
    /* Further rounds: the budget left goes to the operators with more, after their last key. */
    while (budget > 0 && n_more > 0 && !stats->deadline_hit) {
        share = s_share(budget, n_more, r.batch_max);
        size_t n_next = 0, listed = 0;
        for (size_t j = 0; j < n_more; j++) {
            if (budget == 0 || s_now(st) >= cfg->deadline_ms) {
                if (budget != 0) stats->deadline_hit = true;
                stats->unread++;
                continue;
            }
            s_turn_out t;
            AK_GUARD_OUT(s_turn(&r, ops.hex[more[j].op], share < budget ? share : budget, more[j].last, &t,
                                next[n_next].last, &first, &faulted));
            budget -= t.listed < budget ? t.listed : budget;
            listed += t.listed;
            if (t.more) next[n_next++].op = more[j].op;
        }
        s_more *sw = more;
        more = next;
        next = sw;
        n_more = n_next;
        if (listed == 0) break;
    }
    stats->unread += n_more; /* each has at least one more key */
    rc = first;
out:
    ak_free(ops.hex);
    ak_free(more);
    ak_free(next);
    return rc;
}

/* ================================================================ proof lookup */

ak_err ak_audit_proof_lookup(const ak_audit_store *st, const ak_omni *op, ak_cur ref, int64_t deadline_ms,
                             json_t **out) {
    AK_PRECOND(st != NULL && op != NULL && out != NULL);
    *out = NULL;
    char op_hex[AK_OMNI_HEX_LEN + 1];
    ak_omni_hex(op, op_hex);
    ak_cur id;
    if (ak_cur_starts_with(ref, AK_CUR_LIT(S_PENDING))) {
        ak_cur oh;
        AK_ENSURE(s_parse_pending_key(ref, &oh, &id), AK_E_INVALID_INPUT);
        AK_ENSURE(ak_cur_eq_str(oh, op_hex), AK_E_OPERATOR_MISMATCH);
    } else {
        AK_ENSURE(ak_audit_event_id_ok(ref), AK_E_INVALID_INPUT);
        id = ref;
    }
    ak_buf key, body, meta;
    ak_buf_init(&key, S_KEY_MAX);
    ak_buf_init(&body, S_INDEX_MAX);
    ak_buf_init(&meta, 64);
    json_t *o = NULL, *res = NULL;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(ak_audit_index_key(op, id, &key));
    rc = st->get(st->ud, 0, ak_buf_cur(&key), S_INDEX_MAX, &body, NULL, deadline_ms);
    if (rc == AK_E_NOT_FOUND) {
        ak_buf_clear(&key);
        AK_GUARD_OUT(
            ak_buf_printf(&key, S_PENDING "%s/%.*s.json", op_hex, (int)id.len, (const char *)id.ptr));
        rc = st->head(st->ud, 0, ak_buf_cur(&key), NULL, NULL, NULL, deadline_ms);
        if (rc == AK_OK) rc = AK_E_CONFLICT; /* written, not flushed yet */
        goto out;
    }
    AK_GUARD_OUT(rc);
    /* The index is ours, but it is read back from storage: check its shape and recompute. */
    ak_cur batch, root_hex, leaf_hex, ekey, eid, event;
    uint64_t count = 0, idx = 0;
    uint8_t root[32], leaf[32];
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&body), &o) == AK_OK, AK_E_S3_ERROR);
    json_t *proof = json_object_get(o, "proof");
    AK_ENSURE_OUT(ak_json_str(o, "batch", &batch) == AK_OK && ak_json_str(o, "root", &root_hex) == AK_OK &&
                      ak_json_str(o, "leaf", &leaf_hex) == AK_OK && ak_json_str(o, "key", &ekey) == AK_OK &&
                      ak_json_str(o, "event_id", &eid) == AK_OK && ak_json_str(o, "event", &event) == AK_OK &&
                      ak_json_u64(o, "count", &count) == AK_OK && ak_json_u64(o, "i", &idx) == AK_OK &&
                      json_is_array(proof) && json_array_size(proof) <= AK_MERKLE_MAX_DEPTH &&
                      s_hex32(root_hex, root) == AK_OK && s_hex32(leaf_hex, leaf) == AK_OK &&
                      ak_cur_eq(eid, id),
                  AK_E_S3_ERROR);
    uint8_t pf[AK_MERKLE_MAX_DEPTH][32];
    size_t plen = json_array_size(proof);
    for (size_t k = 0; k < plen; k++) {
        const char *s = json_string_value(json_array_get(proof, k));
        AK_ENSURE_OUT(s != NULL && s_hex32(ak_cur_from_str(s), pf[k]) == AK_OK, AK_E_S3_ERROR);
    }
    AK_ENSURE_OUT(ak_merkle_verify(root, (const uint8_t(*)[32])pf, plen, event), AK_E_S3_ERROR);
    bool has_meta = false;
    AK_GUARD_OUT(st->head(st->ud, 0, batch, AK_AUDIT_META_ROOT_INDEX, &meta, &has_meta, deadline_ms));
    uint64_t root_index = 0;
    bool anchored = has_meta && ak_cur_to_u64(ak_cur_trim(ak_buf_cur(&meta)), &root_index) == AK_OK;
    res = json_object();
    AK_ENSURE_OUT(res != NULL, AK_E_NOMEM);
    char op0x[AK_OMNI_HEX0X_LEN + 1];
    ak_omni_hex0x(op, op0x);
    int bad = json_object_set_new(res, "operator_omni", json_string(op0x));
    bad |= json_object_set_new(res, "event_id", ak_json_string_cur(eid));
    bad |= json_object_set_new(res, "event_key", ak_json_string_cur(ekey));
    bad |= json_object_set_new(res, "event", ak_json_string_cur(event));
    bad |= json_object_set_new(res, "leaf", ak_json_string_cur(leaf_hex));
    bad |= json_object_set_new(res, "leaf_index", json_integer((json_int_t)idx));
    bad |= json_object_set(res, "proof", proof);
    bad |= json_object_set_new(res, "root", ak_json_string_cur(root_hex));
    bad |= json_object_set_new(res, "count", json_integer((json_int_t)count));
    bad |= json_object_set_new(res, "batch", ak_json_string_cur(batch));
    bad |= json_object_set_new(res, "anchored", json_boolean(anchored));
    if (anchored) bad |= json_object_set_new(res, "root_index", json_integer((json_int_t)root_index));
    AK_ENSURE_OUT(bad == 0, AK_E_NOMEM);
    *out = res;
    res = NULL;
out:
    json_decref(res);
    json_decref(o);
    ak_buf_free(&key);
    ak_buf_free(&body);
    ak_buf_free(&meta);
    return rc;
}
