/*
 * audit_bench — figures for issue 9 (printed, never asserted).
 *
 *   audit_bench merkle [N]      Merkle tree over N leaves in memory (default 1,000,000):
 *                               leaf hashing, ak_merkle_build, and writing all N proofs
 *   audit_bench flush N         seeds N canonical pending events for a fresh operator on the S3
 *                               of the environment (AK_S3_ENDPOINT, AWS_*, AK_AUDIT_BUCKET;
 *                               the bucket is created if missing), then runs ak_audit_flush
 *                               with AK_AUDIT_FLUSH_LANES (default 8) lanes and batches of
 *                               AK_AUDIT_BATCH_MAX (default 4096); prints events/s of both
 *
 * tests/bench/audit_bench.sh runs both against a throw-away Ceph radosgw.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ak/alloc.h"
#include "ak/audit.h"
#include "ak/audit_flush.h"
#include "ak/crypto.h"
#include "ak/http.h"

static double s_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_merkle(size_t n) {
    ak_merkle t;
    if (ak_merkle_init(&t, n) != AK_OK) return 1;
    /* Leaves from ~300-byte event-like payloads, so the leaf figure is realistic. */
    char ev[320];
    memset(ev, 'x', sizeof(ev));
    double t0 = s_now_s();
    for (size_t i = 0; i < n; i++) {
        snprintf(ev, 32, "%020zu", i);
        ak_merkle_set_leaf(&t, i, ak_cur_from(ev, sizeof(ev)));
    }
    double t1 = s_now_s();
    ak_merkle_build(&t);
    double t2 = s_now_s();
    uint8_t proof[AK_MERKLE_MAX_DEPTH][32];
    size_t plen = ak_merkle_proof_len(&t);
    uint64_t sink = 0;
    for (size_t i = 0; i < n; i++) {
        if (ak_merkle_proof(&t, i, proof, AK_MERKLE_MAX_DEPTH) != AK_OK) return 1;
        sink += proof[plen ? plen - 1 : 0][0];
    }
    double t3 = s_now_s();
    printf("merkle %zu leaves: leaf hashing (320 B each) %.0f ms, tree build %.0f ms (%.2f M nodes/s), "
           "all %zu proofs (%zu elements) %.0f ms, memory %.1f MiB [%llu]\n",
           n, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (double)(n - 1) / (t2 - t1) / 1e6, n, plen, (t3 - t2) * 1e3,
           (double)(t.level_off[t.n_levels - 1] + 1) * 32.0 / 1048576.0, (unsigned long long)(sink & 1));
    ak_merkle_free(&t);
    return 0;
}

typedef struct s_seed {
    ak_audit_s3 *s3;
    ak_omni op;
    size_t n;
    size_t next;
    unsigned lanes;
    size_t errors;
} s_seed;

typedef struct s_seed_w {
    s_seed *s;
    unsigned lane;
} s_seed_w;

static void *s_seed_main(void *arg) {
    s_seed_w *w = arg;
    s_seed *s = w->s;
    ak_audit_store st;
    ak_audit_s3_store(s->s3, &st);
    ak_buf body, key;
    ak_buf_init(&body, AK_MAX_AUDIT_EVENT);
    ak_buf_init(&key, 512);
    for (;;) {
        size_t i = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
        if (i >= s->n) break;
        ak_audit_event ev;
        ak_buf_clear(&body);
        ak_buf_clear(&key);
        uint64_t now_us = (uint64_t)ak_http_now_ms() * 1000u + (uint64_t)(i % 1000u);
        ak_err rc = ak_audit_event_init(&ev, AK_AUDIT_FETCH, &s->op, now_us);
        if (rc == AK_OK) {
            ev.has_op_class = true;
            ev.op = AK_OP_FETCH;
            ev.data_class = AK_CLASS_CREDENTIALS;
            ev.service = AK_CUR_LIT("openrouter");
            ev.request_id = AK_CUR_LIT("bench-0123456789abcdef");
            ev.session_kind = AK_SESSION_AGENT;
            ev.has_actor = true;
            memset(ev.actor_omni.b, 0xab, 32);
            rc = ak_audit_event_encode(&ev, &body);
        }
        if (rc == AK_OK) rc = ak_audit_pending_key(&ev, &key);
        if (rc == AK_OK)
            rc = st.put(st.ud, w->lane, ak_buf_cur(&key), ak_buf_cur(&body), true, (ak_cur){0}, NULL, 0, NULL,
                        ak_http_now_ms() + 30000);
        if (rc != AK_OK) __atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
    }
    ak_buf_free(&body);
    ak_buf_free(&key);
    return NULL;
}

static unsigned s_env_u(const char *name, unsigned def) {
    const char *v = getenv(name);
    uint64_t x;
    if (v && ak_cur_to_u64(ak_cur_from_str(v), &x) == AK_OK && x > 0 && x < 1000000000u) return (unsigned)x;
    return def;
}

static int s_flush(size_t n) {
    ak_s3_config cfg;
    ak_sigv4_creds creds;
    const char *bucket = getenv("AK_AUDIT_BUCKET");
    if (ak_s3_config_from_env(&cfg) != AK_OK || ak_s3_env_creds(&creds) != AK_OK || bucket == NULL) {
        fprintf(
            stderr,
            "audit_bench flush: set AK_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID/SECRET, AK_AUDIT_BUCKET\n");
        return 2;
    }
    unsigned lanes = s_env_u("AK_AUDIT_FLUSH_LANES", AK_AUDIT_FLUSH_DEFAULT_LANES);
    if (lanes > AK_AUDIT_FLUSH_MAX_LANES) lanes = AK_AUDIT_FLUSH_MAX_LANES;
    ak_audit_s3 s3;
    if (ak_audit_s3_open(&s3, &cfg, &creds, bucket, lanes) != AK_OK) return 1;
    ak_s3_call call = {&creds, ak_http_now_ms() + 10000};
    if (ak_s3_create_bucket(&s3.s3[0], &call, bucket) != AK_OK) {
        fprintf(stderr, "audit_bench: cannot create bucket %s\n", bucket);
        ak_audit_s3_close(&s3);
        return 1;
    }
    json_object_seed(0);

    s_seed sd = {.s3 = &s3, .n = n, .lanes = lanes};
    if (ak_random(sd.op.b, 32) != AK_OK) return 1;
    double t0 = s_now_s();
    pthread_t th[AK_AUDIT_FLUSH_MAX_LANES];
    s_seed_w w[AK_AUDIT_FLUSH_MAX_LANES];
    for (unsigned l = 0; l < lanes; l++) {
        w[l] = (s_seed_w){&sd, l};
        if (pthread_create(&th[l], NULL, s_seed_main, &w[l]) != 0) {
            ak_audit_s3_close(&s3);
            return 1;
        }
    }
    for (unsigned l = 0; l < lanes; l++)
        (void)pthread_join(th[l], NULL);
    double t1 = s_now_s();
    printf("seed %zu pending events: %.1f s (%.0f PUT/s, %u lanes, %zu errors)\n", n, t1 - t0,
           (double)n / (t1 - t0), lanes, sd.errors);

    ak_audit_store st;
    ak_audit_s3_store(&s3, &st);
    ak_audit_flush_cfg fc = {.batch_max = s_env_u("AK_AUDIT_BATCH_MAX", AK_AUDIT_FLUSH_DEFAULT_BATCH),
                             .run_max = n + 10,
                             .deadline_ms = ak_http_now_ms() + 3600000,
                             .only = &sd.op,
                             .owner = "bench"};
    ak_audit_flush_stats stats;
    double t2 = s_now_s();
    ak_err rc = ak_audit_flush(&st, &fc, &stats, NULL);
    double t3 = s_now_s();
    printf("flush %zu events: %.1f s = %.0f events/s (%zu batches of <= %zu, %u lanes; per event: 1 GET + 1 "
           "index "
           "PUT, per batch: 1 PUT + DeleteObjects) rc=%s unread=%zu invalid=%zu\n",
           stats.events, t3 - t2, (double)stats.events / (t3 - t2), stats.batches, fc.batch_max, lanes,
           ak_err_reason(rc), stats.unread, stats.invalid);
    ak_audit_s3_close(&s3);
    return rc == AK_OK && stats.events == n - sd.errors ? 0 : 1;
}

int main(int argc, char **argv) {
    ak_alloc_install_jansson();
    if (argc >= 2 && strcmp(argv[1], "merkle") == 0) {
        uint64_t n = 1000000;
        if (argc >= 3 && ak_cur_to_u64(ak_cur_from_str(argv[2]), &n) != AK_OK) return 2;
        if (n < 1 || n > AK_MAX_AUDIT_BATCH) return 2;
        return s_merkle((size_t)n);
    }
    if (argc >= 3 && strcmp(argv[1], "flush") == 0) {
        uint64_t n;
        if (ak_cur_to_u64(ak_cur_from_str(argv[2]), &n) != AK_OK || n < 1 || n > 10000000) return 2;
        return s_flush((size_t)n);
    }
    fprintf(stderr, "usage: audit_bench merkle [N] | audit_bench flush N\n");
    return 2;
}
