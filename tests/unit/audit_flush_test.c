/*
 * audit_flush_test.c — the audit flush and proof lookup (ak/audit_flush.h) over an in-memory S3
 * fake (thread-safe: the flush reads with several lanes), with a fake clock.
 *
 * Invariant checked after every scenario: each event written to audit/pending/ ends up in
 * exactly one batch object (never zero once flushed, never two), every leaf's proof verifies
 * against its batch root, and no pending object of a flushed event remains.
 */
#include "test.h"

#include <pthread.h>
#include <stdlib.h>

#include <jansson.h>

#include "ak/audit.h"
#include "ak/audit_flush.h"
#include "ak/crypto.h"
#include "ak/json.h"

/* ================================================================ fake S3 */

#define F_MAX_OBJ 4096
typedef struct f_obj {
    char *key;
    ak_buf body;
    unsigned etag;
    char meta_root_index[32];
} f_obj;

typedef struct fake {
    pthread_mutex_t mu;
    f_obj obj[F_MAX_OBJ];
    size_t n;
    unsigned next_etag;
    int64_t now;
    int64_t tick_per_get;        /* clock advance per GET of a pending object */
    const char *fail_delete_key; /* DeleteObjects reports this key as failed */
    size_t gets, puts, lists;
} fake;

static f_obj *f_find(fake *f, ak_cur key) {
    for (size_t i = 0; i < f->n; i++)
        if (f->obj[i].key && ak_cur_eq_str(key, f->obj[i].key)) return &f->obj[i];
    return NULL;
}

static void f_put_raw(fake *f, const char *key, ak_cur body) {
    f_obj *o = f_find(f, ak_cur_from_str(key));
    if (o == NULL) {
        assert_true(f->n < F_MAX_OBJ);
        o = &f->obj[f->n++];
        o->key = ak_strndup(key, strlen(key));
        ak_buf_init(&o->body, 128u * 1024u * 1024u);
    }
    ak_buf_clear(&o->body);
    assert_int_equal(ak_buf_append_cur(&o->body, body), AK_OK);
    o->etag = ++f->next_etag;
    o->meta_root_index[0] = 0;
}

static void f_remove(f_obj *o) {
    ak_free(o->key);
    o->key = NULL;
    ak_buf_free(&o->body);
}

static void f_free(fake *f) {
    for (size_t i = 0; i < f->n; i++)
        if (f->obj[i].key) f_remove(&f->obj[i]);
    pthread_mutex_destroy(&f->mu);
}

static int f_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static ak_err f_list(void *ud, ak_cur prefix, ak_s3_list_fn fn, void *fn_ud, int64_t deadline_ms) {
    (void)deadline_ms;
    fake *f = ud;
    pthread_mutex_lock(&f->mu);
    const char **keys = ak_malloc(F_MAX_OBJ * sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->obj[i].key && ak_cur_starts_with(ak_cur_from_str(f->obj[i].key), prefix))
            keys[n++] = f->obj[i].key;
    qsort(keys, n, sizeof(char *), f_cmp);
    pthread_mutex_unlock(&f->mu);
    ak_err rc = AK_OK;
    for (size_t i = 0; i < n && rc == AK_OK; i++) {
        ak_s3_list_item it = {.key = ak_cur_from_str(keys[i])};
        rc = fn(fn_ud, &it);
    }
    ak_free(keys);
    return rc;
}

/* ListObjectsV2 with delimiter / start-after / max-keys over the same objects. */
static ak_err f_list_ex(void *ud, const ak_s3_list_opts *o, ak_s3_list_fn fn, void *fn_ud,
                        ak_s3_list_result *res, int64_t deadline_ms) {
    (void)deadline_ms;
    fake *f = ud;
    ak_s3_list_result dummy;
    if (res == NULL) res = &dummy;
    memset(res, 0, sizeof(*res));
    char after[1100] = "";
    assert_int_equal(ak_cur_to_cstr(o->start_after, after, sizeof(after)), AK_OK);
    pthread_mutex_lock(&f->mu);
    f->lists++;
    const char **keys = ak_malloc(F_MAX_OBJ * sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->obj[i].key && ak_cur_starts_with(ak_cur_from_str(f->obj[i].key), o->prefix) &&
            strcmp(f->obj[i].key, after) > 0)
            keys[n++] = f->obj[i].key;
    qsort(keys, n, sizeof(char *), f_cmp);
    pthread_mutex_unlock(&f->mu);
    ak_err rc = AK_OK;
    char last_pfx[1100] = "";
    for (size_t i = 0; i < n && rc == AK_OK; i++) {
        ak_s3_list_item it = {.key = ak_cur_from_str(keys[i])};
        if (o->delimiter.len) {
            ak_cur rest = ak_cur_from_str(keys[i] + o->prefix.len);
            for (size_t j = 0; j + o->delimiter.len <= rest.len; j++)
                if (memcmp(rest.ptr + j, o->delimiter.ptr, o->delimiter.len) == 0) {
                    it.key.len = o->prefix.len + j + o->delimiter.len;
                    it.is_prefix = true;
                    break;
                }
            if (it.is_prefix && strlen(last_pfx) == it.key.len &&
                memcmp(last_pfx, it.key.ptr, it.key.len) == 0)
                continue; /* rolled up */
        }
        if (o->max_keys && res->keys + res->prefixes == o->max_keys) {
            res->truncated = true;
            break;
        }
        if (it.is_prefix) {
            memcpy(last_pfx, it.key.ptr, it.key.len);
            last_pfx[it.key.len] = 0;
            res->prefixes++;
        } else {
            res->keys++;
        }
        rc = fn(fn_ud, &it);
    }
    ak_free(keys);
    return rc;
}

static void f_etag(ak_buf *etag, unsigned e) {
    if (etag) assert_int_equal(ak_buf_printf(etag, "\"e%u\"", e), AK_OK);
}

static ak_err f_get(void *ud, unsigned lane, ak_cur key, size_t max, ak_buf *body, ak_buf *etag,
                    int64_t deadline_ms) {
    (void)lane;
    (void)deadline_ms;
    fake *f = ud;
    pthread_mutex_lock(&f->mu);
    f->gets++;
    if (ak_cur_starts_with(key, AK_CUR_LIT("audit/pending/"))) f->now += f->tick_per_get;
    f_obj *o = f_find(f, key);
    ak_err rc = AK_E_NOT_FOUND;
    if (o) {
        rc = o->body.len <= max ? ak_buf_append_cur(body, ak_buf_cur(&o->body)) : AK_E_TOO_LARGE;
        f_etag(etag, o->etag);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static ak_err f_put(void *ud, unsigned lane, ak_cur key, ak_cur body, bool create_only, ak_cur if_match,
                    const ak_s3_meta *meta, size_t n_meta, ak_buf *new_etag, int64_t deadline_ms) {
    (void)lane;
    (void)deadline_ms;
    fake *f = ud;
    char k[512];
    assert_int_equal(ak_cur_to_cstr(key, k, sizeof(k)), AK_OK);
    pthread_mutex_lock(&f->mu);
    f->puts++;
    f_obj *o = f_find(f, key);
    ak_err rc = AK_OK;
    if (create_only && o) rc = AK_E_PRECONDITION_FAILED;
    if (if_match.len) {
        char want[32];
        snprintf(want, sizeof(want), "e%u", o ? o->etag : 0u);
        ak_cur im = ak_s3_etag_unquote(if_match);
        if (o == NULL || !ak_cur_eq_str(im, want)) rc = AK_E_PRECONDITION_FAILED;
    }
    if (rc == AK_OK) {
        f_put_raw(f, k, body);
        o = f_find(f, key);
        for (size_t i = 0; i < n_meta; i++)
            if (strcmp(meta[i].name, AK_AUDIT_META_ROOT_INDEX) == 0)
                assert_int_equal(
                    ak_cur_to_cstr(meta[i].value, o->meta_root_index, sizeof(o->meta_root_index)), AK_OK);
        f_etag(new_etag, o->etag);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static ak_err f_head(void *ud, unsigned lane, ak_cur key, const char *meta_name, ak_buf *meta_value,
                     bool *has_meta, int64_t deadline_ms) {
    (void)lane;
    (void)deadline_ms;
    fake *f = ud;
    pthread_mutex_lock(&f->mu);
    f_obj *o = f_find(f, key);
    ak_err rc = o ? AK_OK : AK_E_NOT_FOUND;
    if (has_meta) *has_meta = false;
    if (o && meta_name && o->meta_root_index[0]) {
        if (has_meta) *has_meta = true;
        if (meta_value) rc = ak_buf_append_str(meta_value, o->meta_root_index);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static ak_err f_del(void *ud, ak_cur key, int64_t deadline_ms) {
    (void)deadline_ms;
    fake *f = ud;
    pthread_mutex_lock(&f->mu);
    f_obj *o = f_find(f, key);
    if (o) f_remove(o);
    pthread_mutex_unlock(&f->mu);
    return AK_OK;
}

static ak_err f_del_many(void *ud, const ak_cur *keys, size_t n, size_t *failed, int64_t deadline_ms) {
    (void)deadline_ms;
    fake *f = ud;
    *failed = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < n; i++) {
        if (f->fail_delete_key && ak_cur_eq_str(keys[i], f->fail_delete_key)) {
            (*failed)++;
            continue;
        }
        f_obj *o = f_find(f, keys[i]);
        if (o) f_remove(o);
    }
    pthread_mutex_unlock(&f->mu);
    return *failed ? AK_E_S3_ERROR : AK_OK;
}

static int64_t f_now(void *ud) {
    fake *f = ud;
    pthread_mutex_lock(&f->mu);
    int64_t t = f->now;
    pthread_mutex_unlock(&f->mu);
    return t;
}

static void f_init(fake *f, ak_audit_store *st, unsigned lanes) {
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->now = 1700000000000;
    *st = (ak_audit_store){.ud = f,
                           .n_lanes = lanes,
                           .list = f_list,
                           .list_ex = f_list_ex,
                           .get = f_get,
                           .put = f_put,
                           .head = f_head,
                           .del = f_del,
                           .del_many = f_del_many,
                           .now_ms = f_now};
}

static size_t f_count_prefix(fake *f, const char *prefix) {
    size_t c = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->obj[i].key && strncmp(f->obj[i].key, prefix, strlen(prefix)) == 0) c++;
    return c;
}

/* ================================================================ events */

static void s_op(int which, ak_omni *op) {
    memset(op, 0, sizeof(*op));
    op->b[0] = (uint8_t)(0x10 * which);
    op->b[31] = (uint8_t)which;
}

/* Writes one pending event of operator `op` at time t_us; returns its event id in id_out. */
static void s_pending(fake *f, const ak_omni *op, uint64_t t_us, char id_out[AK_AUDIT_EVENT_ID_LEN + 1]) {
    ak_audit_event ev;
    EXPECT_OK(ak_audit_event_init(&ev, AK_AUDIT_STORE, op, t_us));
    ev.has_op_class = true;
    ev.op = AK_OP_STORE;
    ev.data_class = AK_CLASS_CREDENTIALS;
    ev.service = AK_CUR_LIT("openrouter");
    ev.request_id = AK_CUR_LIT("req \"quoted\" \\ slash");
    ak_buf body, key;
    ak_buf_init(&body, AK_MAX_AUDIT_EVENT);
    ak_buf_init(&key, 512);
    EXPECT_OK(ak_audit_event_encode(&ev, &body));
    EXPECT_OK(ak_audit_pending_key(&ev, &key));
    f_put_raw(f, ak_buf_cstr(&key), ak_buf_cur(&body));
    if (id_out) memcpy(id_out, ev.event_id, AK_AUDIT_EVENT_ID_LEN + 1);
    ak_buf_free(&body);
    ak_buf_free(&key);
}

static ak_audit_flush_cfg s_cfg(fake *f) {
    ak_audit_flush_cfg c = {
        .deadline_ms = f->now + 60000, .has_grace = true, .lease_grace_ms = 1000, .owner = "t"};
    return c;
}

/* ================================================================ invariants */

/* For every batch object: count, root, leaf hashes, proofs, sorted keys, batch id. Returns the
 * number of times `event_id` occurs across all batches (NULL: total leaves). */
static size_t s_check_batches(fake *f, const char *event_id) {
    size_t hits = 0;
    for (size_t i = 0; i < f->n; i++) {
        f_obj *o = &f->obj[i];
        if (!o->key || strncmp(o->key, "audit/batches/", 14) != 0) continue;
        json_t *b = NULL;
        EXPECT_OK(ak_json_parse_object(ak_buf_cur(&o->body), &b));
        ak_cur root_hex;
        uint8_t root[32];
        uint64_t count, v;
        EXPECT_OK(ak_json_str(b, "root", &root_hex));
        EXPECT_OK(ak_hex_decode_exact(root_hex, true, root, 32));
        EXPECT_OK(ak_json_u64(b, "count", &count));
        EXPECT_OK(ak_json_u64(b, "v", &v));
        EXPECT_INT_EQ(v, 1);
        json_t *leaves = json_object_get(b, "leaves");
        assert_true(json_is_array(leaves));
        EXPECT_INT_EQ(json_array_size(leaves), count);
        ak_merkle t;
        EXPECT_OK(ak_merkle_init(&t, count));
        ak_keccak_ctx kc;
        ak_keccak256_init(&kc);
        const char *prev = "";
        for (size_t j = 0; j < count; j++) {
            json_t *lf = json_array_get(leaves, j);
            const char *key = json_string_value(json_object_get(lf, "key"));
            const char *ev = json_string_value(json_object_get(lf, "event"));
            const char *id = json_string_value(json_object_get(lf, "event_id"));
            assert_non_null(key);
            assert_non_null(ev);
            assert_non_null(id);
            assert_true(strcmp(prev, key) < 0); /* sorted by key, no duplicates */
            prev = key;
            EXPECT_INT_EQ(json_integer_value(json_object_get(lf, "i")), j);
            ak_keccak256_update(&kc, (const uint8_t *)key, strlen(key));
            ak_keccak256_update(&kc, (const uint8_t *)"\n", 1);
            uint8_t leaf[32], stored[32];
            ak_merkle_leaf_hash(ak_cur_from_str(ev), leaf);
            EXPECT_OK(ak_hex_decode_exact(ak_cur_from_str(json_string_value(json_object_get(lf, "leaf"))),
                                          true, stored, 32));
            EXPECT_BYTES_EQ(leaf, 32, stored, 32);
            ak_merkle_set_leaf(&t, j, ak_cur_from_str(ev));
            json_t *pf = json_object_get(lf, "proof");
            uint8_t p[AK_MERKLE_MAX_DEPTH][32];
            for (size_t k = 0; k < json_array_size(pf); k++)
                EXPECT_OK(ak_hex_decode_exact(ak_cur_from_str(json_string_value(json_array_get(pf, k))), true,
                                              p[k], 32));
            assert_true(
                ak_merkle_verify(root, (const uint8_t(*)[32])p, json_array_size(pf), ak_cur_from_str(ev)));
            if (event_id == NULL || strcmp(id, event_id) == 0) hits++;
        }
        ak_merkle_build(&t);
        EXPECT_BYTES_EQ(ak_merkle_root(&t), 32, root, 32);
        ak_merkle_free(&t);
        /* batch id = first id's time prefix + keccak(sorted keys) */
        uint8_t h[32];
        ak_keccak256_final(&kc, h);
        char want[64];
        const char *first = json_string_value(json_object_get(json_array_get(leaves, 0), "event_id"));
        memcpy(want, first, 16);
        want[16] = '-';
        ak_hex_encode(h, 16, want + 17);
        EXPECT_STR_EQ(json_string_value(json_object_get(b, "batch_id")), want);
        assert_non_null(strstr(o->key, want));
        json_decref(b);
    }
    return hits;
}

/* Every id in ids[] is in exactly one batch, has an index and no pending object. */
static void s_exactly_once(fake *f, char (*ids)[AK_AUDIT_EVENT_ID_LEN + 1], size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s_check_batches(f, ids[i]) != 1)
            fail_msg("event %s is in %zu batches", ids[i], s_check_batches(f, ids[i]));
    }
    EXPECT_INT_EQ(s_check_batches(f, NULL), n);
    EXPECT_INT_EQ(f_count_prefix(f, "audit/pending/"), 0);
    EXPECT_INT_EQ(f_count_prefix(f, "audit/index/"), n);
    EXPECT_INT_EQ(f_count_prefix(f, "audit/flushing/"), 0);
}

/* ================================================================ tests */

AK_TEST(t_nothing_pending) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 2);
    ak_audit_flush_cfg cfg = s_cfg(&f);
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.batches, 0);
    EXPECT_INT_EQ(s.operators, 0);
    EXPECT_INT_EQ(f.n, 0);
    f_free(&f);
}

AK_TEST(t_one_batch_format_and_order) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 4);
    ak_omni op;
    s_op(1, &op);
    char ids[7][AK_AUDIT_EVENT_ID_LEN + 1];
    /* Written out of time order: the batch must still be in key (= time) order. */
    uint64_t ts[7] = {5000, 1000, 7000, 2000, 6000, 3000, 4000};
    for (int i = 0; i < 7; i++)
        s_pending(&f, &op, 1700000000000000ull + ts[i], ids[i]);
    ak_audit_flush_cfg cfg = s_cfg(&f);
    ak_audit_flush_stats s;
    json_t *report = json_array();
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, report));
    EXPECT_INT_EQ(s.batches, 1);
    EXPECT_INT_EQ(s.events, 7);
    EXPECT_INT_EQ(s.operators, 1);
    EXPECT_INT_EQ(s.unread, 0);
    EXPECT_FALSE(s.deadline_hit);
    EXPECT_INT_EQ(json_array_size(report), 1);
    EXPECT_INT_EQ(json_integer_value(json_object_get(json_array_get(report, 0), "count")), 7);
    json_decref(report);
    s_exactly_once(&f, ids, 7);
    /* The first leaf is the earliest event. */
    for (size_t i = 0; i < f.n; i++) {
        if (!f.obj[i].key || strncmp(f.obj[i].key, "audit/batches/", 14)) continue;
        json_t *b = NULL;
        EXPECT_OK(ak_json_parse_object(ak_buf_cur(&f.obj[i].body), &b));
        EXPECT_STR_EQ(
            json_string_value(json_object_get(json_array_get(json_object_get(b, "leaves"), 0), "event_id")),
            ids[1]);
        EXPECT_INT_EQ(json_integer_value(json_object_get(b, "proof_len")), 3);
        json_decref(b);
    }
    /* A second run finds nothing. */
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.batches, 0);
    f_free(&f);
}

AK_TEST(t_operators_are_separate_and_batch_max) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 3);
    ak_omni a, b;
    s_op(1, &a);
    s_op(2, &b);
    char ids[13][AK_AUDIT_EVENT_ID_LEN + 1];
    for (int i = 0; i < 10; i++)
        s_pending(&f, &a, 1700000000000000ull + (uint64_t)i, ids[i]);
    for (int i = 10; i < 13; i++)
        s_pending(&f, &b, 1700000000000000ull + (uint64_t)i, ids[i]);
    ak_audit_flush_cfg cfg = s_cfg(&f);
    cfg.batch_max = 4;
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.operators, 2);
    EXPECT_INT_EQ(s.batches, 4); /* a: 4+4+2, b: 3 */
    EXPECT_INT_EQ(s.events, 13);
    s_exactly_once(&f, ids, 13);
    char pa[80], pb[80], ha[65], hb[65];
    ak_omni_hex(&a, ha);
    ak_omni_hex(&b, hb);
    snprintf(pa, sizeof(pa), "audit/batches/%s/", ha);
    snprintf(pb, sizeof(pb), "audit/batches/%s/", hb);
    EXPECT_INT_EQ(f_count_prefix(&f, pa), 3);
    EXPECT_INT_EQ(f_count_prefix(&f, pb), 1);
    f_free(&f);
}

AK_TEST(t_invalid_objects_are_left_and_reported) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 2);
    ak_omni a, b;
    s_op(1, &a);
    s_op(2, &b);
    char ids[2][AK_AUDIT_EVENT_ID_LEN + 1];
    s_pending(&f, &a, 1700000000000001ull, ids[0]);
    s_pending(&f, &a, 1700000000000002ull, ids[1]);
    char ha[65], k[256];
    ak_omni_hex(&a, ha);
    /* not canonical (a space), under a well-formed key */
    snprintf(k, sizeof(k), "audit/pending/%s/1700000000000003-0000000000000001.json", ha);
    f_put_raw(&f, k, AK_CUR_LIT("{\"action\": \"store\"}"));
    /* a valid event of operator b stored under a's prefix */
    char idb[AK_AUDIT_EVENT_ID_LEN + 1];
    s_pending(&f, &b, 1700000000000004ull, idb);
    f_obj *ob = NULL;
    for (size_t i = 0; i < f.n; i++)
        if (f.obj[i].key && strstr(f.obj[i].key, idb)) ob = &f.obj[i];
    assert_non_null(ob);
    snprintf(k, sizeof(k), "audit/pending/%s/%s.json", ha, idb);
    f_put_raw(&f, k, ak_buf_cur(&ob->body));
    f_remove(ob);
    /* a valid event of a under another event's name */
    char idc[AK_AUDIT_EVENT_ID_LEN + 1];
    s_pending(&f, &a, 1700000000000005ull, idc);
    for (size_t i = 0; i < f.n; i++)
        if (f.obj[i].key && strstr(f.obj[i].key, idc)) {
            char *nk = ak_strndup(f.obj[i].key, strlen(f.obj[i].key));
            nk[strlen(nk) - 6] = (char)(nk[strlen(nk) - 6] == '0' ? '1' : '0');
            ak_free(f.obj[i].key);
            f.obj[i].key = nk;
        }
    /* a key that is not a pending-key form */
    snprintf(k, sizeof(k), "audit/pending/%s/junk.json", ha);
    f_put_raw(&f, k, AK_CUR_LIT("{}"));
    ak_audit_flush_cfg cfg = s_cfg(&f);
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.batches, 1);
    EXPECT_INT_EQ(s.events, 2);
    EXPECT_INT_EQ(s.invalid, 4);
    EXPECT_INT_EQ(s_check_batches(&f, NULL), 2);
    EXPECT_INT_EQ(s_check_batches(&f, ids[0]), 1);
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/pending/"), 4); /* the bad ones stay for a human */
    f_free(&f);
}

static bool s_fault_at(void *ud, ak_audit_fault p) { return p == *(ak_audit_fault *)ud; }

/* A crash at each point, more events arriving, a rerun while the lease is live (busy), then
 * one after it expired: every event in exactly one batch. */
AK_TEST(t_crash_then_rerun_exactly_once) {
    static const ak_audit_fault points[] = {AK_AUDIT_FAULT_AFTER_LEASE_INTENT, AK_AUDIT_FAULT_AFTER_BATCH_PUT,
                                            AK_AUDIT_FAULT_AFTER_INDEX_PUT};
    for (size_t p = 0; p < 3; p++) {
        fake f;
        ak_audit_store st;
        f_init(&f, &st, 4);
        ak_omni a;
        s_op(3, &a);
        char ids[9][AK_AUDIT_EVENT_ID_LEN + 1];
        for (int i = 0; i < 6; i++)
            s_pending(&f, &a, 1700000000000000ull + (uint64_t)i * 10, ids[i]);
        ak_audit_flush_cfg cfg = s_cfg(&f);
        ak_audit_fault at = points[p];
        cfg.fault = s_fault_at;
        cfg.fault_ud = &at;
        ak_audit_flush_stats s;
        EXPECT_ERR(AK_E_INTERNAL, ak_audit_flush(&st, &cfg, &s, NULL));
        EXPECT_INT_EQ(f_count_prefix(&f, "audit/flushing/"), 1); /* the crashed run's lease */
        EXPECT_INT_EQ(f_count_prefix(&f, "audit/pending/"), 6);
        EXPECT_INT_EQ(f_count_prefix(&f, "audit/batches/"), at == AK_AUDIT_FAULT_AFTER_LEASE_INTENT ? 0 : 1);
        /* New events, interleaved in time with the old ones. */
        for (int i = 6; i < 9; i++)
            s_pending(&f, &a, 1700000000000000ull + (uint64_t)(i - 6) * 10 + 5, ids[i]);
        /* Rerun before the lease expired: busy, nothing changes. */
        cfg.fault = NULL;
        EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
        EXPECT_INT_EQ(s.busy, 1);
        EXPECT_INT_EQ(s.batches, 0);
        EXPECT_INT_EQ(f_count_prefix(&f, "audit/pending/"), 9);
        /* After the crashed holder's deadline + grace. */
        f.now = cfg.deadline_ms + 1001;
        cfg.deadline_ms = f.now + 60000;
        EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
        EXPECT_INT_EQ(s.busy, 0);
        EXPECT_INT_EQ(s.resumed, at == AK_AUDIT_FAULT_AFTER_LEASE_INTENT ? 0 : 1);
        EXPECT_INT_EQ(s.batches, 1);
        EXPECT_INT_EQ(s.events, at == AK_AUDIT_FAULT_AFTER_LEASE_INTENT ? 9 : 3);
        s_exactly_once(&f, ids, 9);
        EXPECT_INT_EQ(f_count_prefix(&f, "audit/batches/"), at == AK_AUDIT_FAULT_AFTER_LEASE_INTENT ? 1 : 2);
        f_free(&f);
    }
}

AK_TEST(t_deadline_stops_cleanly) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 1); /* one lane: the clock advances deterministically per GET */
    ak_omni a;
    s_op(4, &a);
    char ids[20][AK_AUDIT_EVENT_ID_LEN + 1];
    for (int i = 0; i < 20; i++)
        s_pending(&f, &a, 1700000000000000ull + (uint64_t)i, ids[i]);
    f.tick_per_get = 100;
    ak_audit_flush_cfg cfg = s_cfg(&f);
    cfg.deadline_ms = f.now + 1000; /* reads may use 500 ms: 5 GETs */
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_TRUE(s.deadline_hit);
    EXPECT_INT_EQ(s.batches, 1);
    EXPECT_INT_EQ(s.events, 5);
    EXPECT_INT_EQ(s.unread, 15);
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/pending/"), 15);
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/flushing/"), 0); /* nothing half done: released */
    /* Past the deadline: nothing starts. */
    cfg.deadline_ms = f.now - 1;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_TRUE(s.deadline_hit);
    EXPECT_INT_EQ(s.batches, 0);
    /* Later runs take the rest. */
    f.tick_per_get = 0;
    cfg.deadline_ms = f.now + 60000;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_FALSE(s.deadline_hit);
    EXPECT_INT_EQ(s.events, 15);
    s_exactly_once(&f, ids, 20);
    f_free(&f);
}

AK_TEST(t_delete_failure_keeps_intent) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 2);
    ak_omni a;
    s_op(5, &a);
    char ids[4][AK_AUDIT_EVENT_ID_LEN + 1];
    for (int i = 0; i < 4; i++)
        s_pending(&f, &a, 1700000000000000ull + (uint64_t)i, ids[i]);
    char ha[65], k[256];
    ak_omni_hex(&a, ha);
    snprintf(k, sizeof(k), "audit/pending/%s/%s.json", ha, ids[2]);
    f.fail_delete_key = k;
    ak_audit_flush_cfg cfg = s_cfg(&f);
    ak_audit_flush_stats s;
    EXPECT_ERR(AK_E_S3_ERROR, ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/pending/"), 1);
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/flushing/"), 1); /* kept: it names the batch */
    f.fail_delete_key = NULL;
    f.now = cfg.deadline_ms + 1001;
    cfg.deadline_ms = f.now + 60000;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.resumed, 1);
    EXPECT_INT_EQ(s.batches, 0);
    s_exactly_once(&f, ids, 4);
    f_free(&f);
}

AK_TEST(t_tampered_batch_is_not_resumed) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 1);
    ak_omni a;
    s_op(6, &a);
    for (int i = 0; i < 3; i++)
        s_pending(&f, &a, 1700000000000000ull + (uint64_t)i, NULL);
    ak_audit_flush_cfg cfg = s_cfg(&f);
    ak_audit_fault at = AK_AUDIT_FAULT_AFTER_BATCH_PUT;
    cfg.fault = s_fault_at;
    cfg.fault_ud = &at;
    ak_audit_flush_stats s;
    EXPECT_ERR(AK_E_INTERNAL, ak_audit_flush(&st, &cfg, &s, NULL));
    /* Flip one byte of an event inside the written batch. */
    for (size_t i = 0; i < f.n; i++)
        if (f.obj[i].key && strncmp(f.obj[i].key, "audit/batches/", 14) == 0) {
            char *e = strstr((char *)f.obj[i].body.ptr, "openrouter");
            assert_non_null(e);
            e[0] = 'O';
        }
    cfg.fault = NULL;
    f.now = cfg.deadline_ms + 1001;
    cfg.deadline_ms = f.now + 60000;
    EXPECT_ERR(AK_E_S3_ERROR, ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/pending/"), 3); /* nothing deleted on a bad batch */
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/flushing/"), 1);
    f_free(&f);
}

AK_TEST(t_live_lease_means_busy) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 1);
    ak_omni a;
    s_op(7, &a);
    s_pending(&f, &a, 1700000000000000ull, NULL);
    char ha[65], k[256], body[128];
    ak_omni_hex(&a, ha);
    snprintf(k, sizeof(k), "audit/flushing/%s.json", ha);
    snprintf(body, sizeof(body), "{\"batch\":\"\",\"lease_until_ms\":%lld,\"owner\":\"x\",\"v\":1}",
             (long long)(f.now + 5000));
    f_put_raw(&f, k, ak_cur_from_str(body));
    ak_audit_flush_cfg cfg = s_cfg(&f);
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.busy, 1);
    EXPECT_INT_EQ(s.batches, 0);
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/batches/"), 0);
    /* A garbage lease object is treated as stale and taken over. */
    f_put_raw(&f, k, AK_CUR_LIT("not json"));
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.batches, 1);
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/flushing/"), 0);
    f_free(&f);
}

AK_TEST(t_only_one_operator) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 2);
    ak_omni a, b;
    s_op(1, &a);
    s_op(2, &b);
    s_pending(&f, &a, 1700000000000000ull, NULL);
    s_pending(&f, &b, 1700000000000001ull, NULL);
    ak_audit_flush_cfg cfg = s_cfg(&f);
    cfg.only = &b;
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.batches, 1);
    EXPECT_INT_EQ(s.operators, 1);
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/pending/"), 1);
    char ha[65], p[128];
    ak_omni_hex(&a, ha);
    snprintf(p, sizeof(p), "audit/pending/%s/", ha);
    EXPECT_INT_EQ(f_count_prefix(&f, p), 1);
    f_free(&f);
}

AK_TEST(t_proof_lookup) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 2);
    ak_omni a, b;
    s_op(1, &a);
    s_op(2, &b);
    char ids[5][AK_AUDIT_EVENT_ID_LEN + 1];
    for (int i = 0; i < 5; i++)
        s_pending(&f, &a, 1700000000000000ull + (uint64_t)i, ids[i]);
    ak_audit_flush_cfg cfg = s_cfg(&f);
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    char late[AK_AUDIT_EVENT_ID_LEN + 1];
    s_pending(&f, &a, 1700000000000099ull, late);

    json_t *o = NULL;
    EXPECT_OK(ak_audit_proof_lookup(&st, &a, ak_cur_from_str(ids[3]), f.now + 1000, &o));
    EXPECT_STR_EQ(json_string_value(json_object_get(o, "event_id")), ids[3]);
    EXPECT_INT_EQ(json_integer_value(json_object_get(o, "leaf_index")), 3);
    EXPECT_INT_EQ(json_integer_value(json_object_get(o, "count")), 5);
    assert_true(json_is_false(json_object_get(o, "anchored")));
    assert_null(json_object_get(o, "root_index"));
    uint8_t root[32], p[8][32];
    EXPECT_OK(
        ak_hex_decode_exact(ak_cur_from_str(json_string_value(json_object_get(o, "root"))), true, root, 32));
    json_t *pf = json_object_get(o, "proof");
    for (size_t k = 0; k < json_array_size(pf); k++)
        EXPECT_OK(
            ak_hex_decode_exact(ak_cur_from_str(json_string_value(json_array_get(pf, k))), true, p[k], 32));
    ak_cur ev = ak_cur_from_str(json_string_value(json_object_get(o, "event")));
    assert_true(ak_merkle_verify(root, (const uint8_t(*)[32])p, json_array_size(pf), ev));
    /* negatives on the same proof: one byte of the event changed; another event's bytes */
    ak_buf m;
    ak_buf_init(&m, AK_MAX_AUDIT_EVENT);
    EXPECT_OK(ak_buf_append_cur(&m, ev));
    m.ptr[10] ^= 1;
    assert_false(ak_merkle_verify(root, (const uint8_t(*)[32])p, json_array_size(pf), ak_buf_cur(&m)));
    ak_buf_free(&m);
    /* an inner node as leaf data: the level-1 node with the rest of the proof */
    uint8_t leaf[32], node[32];
    ak_merkle_leaf_hash(ev, leaf);
    ak_merkle_node_hash(leaf, p[0], node);
    assert_false(ak_merkle_verify(root, (const uint8_t(*)[32])(p + 1), json_array_size(pf) - 1,
                                  ak_cur_from(node, 32)));
    const char *batch = json_string_value(json_object_get(o, "batch"));
    char batch_key[256];
    snprintf(batch_key, sizeof(batch_key), "%s", batch);
    json_decref(o);

    /* by pending key */
    char ha[65], hb[65], k[256];
    ak_omni_hex(&a, ha);
    ak_omni_hex(&b, hb);
    snprintf(k, sizeof(k), "audit/pending/%s/%s.json", ha, ids[0]);
    EXPECT_OK(ak_audit_proof_lookup(&st, &a, ak_cur_from_str(k), f.now + 1000, &o));
    EXPECT_INT_EQ(json_integer_value(json_object_get(o, "leaf_index")), 0);
    json_decref(o);
    /* anchored: the anchor tool's metadata */
    f_obj *bo = f_find(&f, ak_cur_from_str(batch_key));
    assert_non_null(bo);
    snprintf(bo->meta_root_index, sizeof(bo->meta_root_index), "7");
    EXPECT_OK(ak_audit_proof_lookup(&st, &a, ak_cur_from_str(ids[1]), f.now + 1000, &o));
    assert_true(json_is_true(json_object_get(o, "anchored")));
    EXPECT_INT_EQ(json_integer_value(json_object_get(o, "root_index")), 7);
    json_decref(o);

    /* negatives */
    snprintf(k, sizeof(k), "audit/pending/%s/%s.json", hb, ids[0]);
    EXPECT_ERR(AK_E_OPERATOR_MISMATCH, ak_audit_proof_lookup(&st, &a, ak_cur_from_str(k), f.now + 1000, &o));
    EXPECT_ERR(AK_E_NOT_FOUND, ak_audit_proof_lookup(&st, &b, ak_cur_from_str(ids[0]), f.now + 1000, &o));
    EXPECT_ERR(AK_E_CONFLICT, ak_audit_proof_lookup(&st, &a, ak_cur_from_str(late), f.now + 1000, &o));
    EXPECT_ERR(AK_E_NOT_FOUND, ak_audit_proof_lookup(&st, &a, AK_CUR_LIT("1700000000000000-0000000000000000"),
                                                     f.now + 1000, &o));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_proof_lookup(&st, &a, AK_CUR_LIT("../../etc"), f.now + 1000, &o));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_audit_proof_lookup(&st, &a, AK_CUR_LIT("audit/pending/x.json"), f.now + 1000, &o));
    EXPECT_ERR(
        AK_E_INVALID_INPUT,
        ak_audit_proof_lookup(&st, &a, AK_CUR_LIT("1700000000000000-000000000000000G"), f.now + 1000, &o));
    /* a corrupted index (its event no longer matches its proof) is refused, not served */
    snprintf(k, sizeof(k), "audit/index/%s/%s.json", ha, ids[2]);
    f_obj *io = f_find(&f, ak_cur_from_str(k));
    assert_non_null(io);
    char *e = strstr((char *)io->body.ptr, "openrouter");
    assert_non_null(e);
    e[0] = 'O';
    EXPECT_ERR(AK_E_S3_ERROR, ak_audit_proof_lookup(&st, &a, ak_cur_from_str(ids[2]), f.now + 1000, &o));
    assert_null(o);
    f_free(&f);
}

static size_t s_pending_of(fake *f, const ak_omni *op) {
    char h[65], p[128];
    ak_omni_hex(op, h);
    snprintf(p, sizeof(p), "audit/pending/%s/", h);
    return f_count_prefix(f, p);
}

/* One operator's backlog is larger than the run's budget: the operator after it is still
 * flushed in the same run (fair share), the backlog in the next one. The old flat listing
 * spent the whole budget on the first operator and never reached the second. */
AK_TEST(t_backlog_does_not_starve_next_operator) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 2);
    ak_omni a, b;
    s_op(1, &a); /* sorts first */
    s_op(2, &b);
    char ids[33][AK_AUDIT_EVENT_ID_LEN + 1];
    for (int i = 0; i < 30; i++)
        s_pending(&f, &a, 1700000000000000ull + (uint64_t)i, ids[i]);
    for (int i = 30; i < 33; i++)
        s_pending(&f, &b, 1700000000000100ull + (uint64_t)i, ids[i]);
    ak_audit_flush_cfg cfg = s_cfg(&f);
    cfg.run_max = 20;
    cfg.batch_max = 5;
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.operators, 2);
    EXPECT_INT_EQ(s_pending_of(&f, &b), 0);  /* b flushed in the first run */
    EXPECT_INT_EQ(s_pending_of(&f, &a), 13); /* a: its share (10), then the 7 keys left of the budget */
    EXPECT_INT_EQ(s.events, 20);
    EXPECT_INT_EQ(s.batches, 5); /* a: 5+5, b: 3, a again: 5+2 */
    EXPECT_TRUE(s.unread >= 1);
    EXPECT_FALSE(s.deadline_hit);
    EXPECT_INT_EQ(f_count_prefix(&f, "audit/flushing/"), 0);
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.events, 13);
    EXPECT_INT_EQ(s.unread, 0);
    s_exactly_once(&f, ids, 33);
    f_free(&f);
}

/* The budget covers two of three operators: the third starts the next run (cursor object). */
AK_TEST(t_rotation_cursor) {
    fake f;
    ak_audit_store st;
    f_init(&f, &st, 1);
    ak_omni op[3];
    char ids[15][AK_AUDIT_EVENT_ID_LEN + 1];
    for (int k = 0; k < 3; k++) {
        s_op(k + 1, &op[k]);
        for (int i = 0; i < 5; i++)
            s_pending(&f, &op[k], 1700000000000000ull + (uint64_t)(k * 10 + i), ids[k * 5 + i]);
    }
    ak_audit_flush_cfg cfg = s_cfg(&f);
    cfg.run_max = 4;
    cfg.batch_max = 2; /* share = max(4 / 3, one batch) = 2: the budget lasts two operators */
    ak_audit_flush_stats s;
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.events, 4);
    EXPECT_INT_EQ(s_pending_of(&f, &op[0]), 3);
    EXPECT_INT_EQ(s_pending_of(&f, &op[1]), 3);
    EXPECT_INT_EQ(s_pending_of(&f, &op[2]), 5);
    EXPECT_TRUE(s.unread >= 1);
    char h2[65];
    ak_omni_hex(&op[2], h2);
    f_obj *c = f_find(&f, AK_CUR_LIT(AK_AUDIT_FLUSH_CURSOR_KEY));
    assert_non_null(c);
    assert_non_null(strstr(ak_buf_cstr(&c->body), h2));
    /* Next run: the third operator first, then the first; the second waits (cursor). */
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s_pending_of(&f, &op[2]), 3);
    EXPECT_INT_EQ(s_pending_of(&f, &op[0]), 1);
    EXPECT_INT_EQ(s_pending_of(&f, &op[1]), 3);
    /* A garbage cursor is ignored (start with the first operator), and every event still ends in
     * exactly one batch after a few runs. */
    f_put_raw(&f, AK_AUDIT_FLUSH_CURSOR_KEY, AK_CUR_LIT("{\"next\":\"../x\"}"));
    for (int run = 0; run < 10 && f_count_prefix(&f, "audit/pending/") > 0; run++)
        EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    s_exactly_once(&f, ids, 15);
    /* The HTTP trigger (one operator) neither reads nor moves the cursor. */
    f_put_raw(&f, AK_AUDIT_FLUSH_CURSOR_KEY, AK_CUR_LIT("{\"next\":\"kept\"}"));
    s_pending(&f, &op[1], 1700000000000900ull, NULL);
    cfg.only = &op[1];
    EXPECT_OK(ak_audit_flush(&st, &cfg, &s, NULL));
    EXPECT_INT_EQ(s.events, 1);
    EXPECT_STR_EQ(ak_buf_cstr(&f_find(&f, AK_CUR_LIT(AK_AUDIT_FLUSH_CURSOR_KEY))->body),
                  "{\"next\":\"kept\"}");
    f_free(&f);
}

AK_TEST(t_event_id_form) {
    assert_true(ak_audit_event_id_ok(AK_CUR_LIT("1700000000000000-0123456789abcdef")));
    assert_false(ak_audit_event_id_ok(AK_CUR_LIT("1700000000000000-0123456789ABCDEF")));
    assert_false(ak_audit_event_id_ok(AK_CUR_LIT("170000000000000-0123456789abcdef0")));
    assert_false(ak_audit_event_id_ok(AK_CUR_LIT("1700000000000000_0123456789abcdef")));
    assert_false(ak_audit_event_id_ok(AK_CUR_LIT("")));
}

AK_RUN_TESTS(AK_T(t_nothing_pending), AK_T(t_one_batch_format_and_order),
             AK_T(t_operators_are_separate_and_batch_max), AK_T(t_invalid_objects_are_left_and_reported),
             AK_T(t_crash_then_rerun_exactly_once), AK_T(t_deadline_stops_cleanly),
             AK_T(t_delete_failure_keeps_intent), AK_T(t_tampered_batch_is_not_resumed),
             AK_T(t_live_lease_means_busy), AK_T(t_only_one_operator), AK_T(t_proof_lookup),
             AK_T(t_backlog_does_not_starve_next_operator), AK_T(t_rotation_cursor), AK_T(t_event_id_form))
