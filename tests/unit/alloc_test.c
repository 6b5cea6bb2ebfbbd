/*
 * alloc_test.c — the block cache of ak/alloc.h (freed blocks of 1 KiB to 128 KiB kept, wiped,
 * for reuse; on by default in release builds, turned on here): a freed block comes back for the
 * next allocation of its bin with none of the previous owner's bytes, the cache never holds
 * more than its caps, blocks outside the range and blocks freed with the wipe off or into the
 * quarantine are never kept, allocation failure injection still fails, and concurrent threads
 * leave it consistent. Also the pause of a jansson arena window (the window itself and the
 * arena are tested in bytes_test.c).
 */
#include "test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"

#define S_HDR 16u /* ak_malloc's block header (alloc.c) */
#define S_CAP_BYTES (512u * 1024u)

static int s_cache_on(void **state) {
    ak_alloc_test_block_cache(true);
    ak_alloc_cache_trim();
    return ak_test_setup(state);
}

static int s_cache_off(void **state) {
    int rc = ak_test_teardown(state);
    ak_alloc_test_block_cache(false);
    return rc;
}

#define AK_TC(fn) cmocka_unit_test_setup_teardown(fn, s_cache_on, s_cache_off)

static bool s_has_byte(const uint8_t *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] == v) return true;
    return false;
}

AK_TEST(test_freed_block_is_reused_and_wiped) {
    uint8_t *p = ak_malloc(3000);
    EXPECT_TRUE(p != NULL);
    memset(p, 0xA5, 3000);
    EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
    ak_free(p);
    size_t held = ak_alloc_cache_bytes();
    EXPECT_TRUE(held >= 3000 && held <= 3000u * 5u / 4u + S_HDR); /* one bin block, <= 25% slack */
    uint8_t *q = ak_malloc(2900); /* the same bin (2049..3072 with the header) */
    EXPECT_TRUE(q == p);
    EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
    EXPECT_FALSE(s_has_byte(q, 3000, 0xA5)); /* the bytes the previous owner wrote are gone */
    ak_free(q);
    /* another bin does not get it */
    uint8_t *r = ak_malloc(9000);
    EXPECT_TRUE(r != NULL && r != p);
    EXPECT_TRUE(ak_alloc_cache_bytes() == held);
    ak_free(r);
    ak_alloc_cache_trim();
    EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
}

/* A secret ak_buf that grew to 4 KiB and was freed: the next buffer of that size gets the block
 * and finds none of the secret (a reused buffer is wiped between uses). */
AK_TEST(test_reused_secret_buf_holds_no_secret) {
    ak_buf a, b;
    ak_buf_init_secret(&a, 1u << 20);
    for (int i = 0; i < 4000; i++)
        EXPECT_OK(ak_buf_append_byte(&a, 0x5C));
    uint8_t *block = a.ptr;
    size_t cap = a.cap;
    ak_buf_free(&a);
    ak_buf_init(&b, 1u << 20);
    EXPECT_OK(ak_buf_reserve(&b, cap));
    EXPECT_TRUE(b.ptr == block);
    EXPECT_FALSE(s_has_byte(b.ptr, cap + 1, 0x5C));
    ak_buf_free(&b);
}

/* One request of many large blocks does not pin memory: at most 4 blocks per bin, at most
 * 512 KiB in all, and nothing above 128 KiB is kept. */
AK_TEST(test_cache_is_capped) {
    enum { N = 32 };
    void *big[N];
    for (int i = 0; i < N; i++)
        EXPECT_TRUE((big[i] = ak_malloc(100u * 1024u)) != NULL);
    for (int i = 0; i < N; i++)
        ak_free(big[i]);
    size_t held = ak_alloc_cache_bytes();
    EXPECT_TRUE(held > 0 && held <= 4u * (125u * 1024u)); /* 4 blocks of <= 1.25x */
    /* other bins fill up to the byte cap, never past it */
    void *mid[N];
    for (size_t sz = 1100; sz <= 120u * 1024u; sz = sz * 5u / 4u) {
        for (int i = 0; i < N; i++)
            EXPECT_TRUE((mid[i] = ak_malloc(sz)) != NULL);
        for (int i = 0; i < N; i++)
            ak_free(mid[i]);
        EXPECT_TRUE(ak_alloc_cache_bytes() <= S_CAP_BYTES);
    }
    EXPECT_TRUE(ak_alloc_cache_bytes() > S_CAP_BYTES / 2u); /* it did fill */
    held = ak_alloc_cache_bytes();
    void *huge = ak_malloc(1u << 20);
    EXPECT_TRUE(huge != NULL);
    ak_free(huge);
    EXPECT_TRUE(ak_alloc_cache_bytes() == held); /* not kept */
    ak_alloc_cache_trim();
    EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
}

/* The range: a block of exactly 1 KiB with its header is not kept, one byte more is; a block
 * of exactly 128 KiB with its header is kept, one byte more is not. */
AK_TEST(test_cache_range_edges) {
    struct {
        size_t n;
        bool kept;
    } cases[] = {{1024u - S_HDR, false},
                 {1024u - S_HDR + 1u, true},
                 {128u * 1024u - S_HDR, true},
                 {128u * 1024u - S_HDR + 1u, false},
                 {10, false},
                 {0, false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ak_alloc_cache_trim();
        void *p = ak_malloc(cases[i].n);
        EXPECT_TRUE(p != NULL);
        ak_free(p);
        if (cases[i].kept) {
            EXPECT_TRUE(ak_alloc_cache_bytes() >= cases[i].n);
        } else {
            EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
        }
    }
    ak_alloc_cache_trim();
}

/* Off: nothing is kept, and turning it off gives back what it held. */
AK_TEST(test_cache_off_keeps_nothing) {
    void *p = ak_malloc(5000);
    ak_free(p);
    EXPECT_TRUE(ak_alloc_cache_bytes() > 0);
    ak_alloc_test_block_cache(false);
    EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
    p = ak_malloc(5000);
    ak_free(p);
    EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
    ak_alloc_test_block_cache(true);
}

/* The quarantine comes first (a scan sees every freed block), and with the wipe switched off
 * nothing is cached (a cached block must hold only wiped bytes). */
AK_TEST(test_quarantine_and_no_wipe_bypass_the_cache) {
    static const char secret[] = "hotpath-secret-marker";
    ak_alloc_test_quarantine(true);
    size_t q0 = ak_alloc_test_quarantined();
    char *p = ak_malloc(4000);
    memset(p, 'x', 4000);
    memcpy(p + 100, secret, sizeof(secret) - 1);
    ak_free(p);
    EXPECT_INT_EQ(ak_alloc_test_quarantined(), q0 + 1u);
    EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
    EXPECT_INT_EQ(ak_alloc_test_scan(secret, sizeof(secret) - 1), 0); /* wiped */
    ak_alloc_test_quarantine(false);

    ak_alloc_test_wipe_on_free(false);
    p = ak_malloc(4000);
    memcpy(p, secret, sizeof(secret) - 1);
    ak_free(p);
    ak_alloc_test_wipe_on_free(true);
    EXPECT_INT_EQ(ak_alloc_cache_bytes(), 0);
}

/* ak_realloc through the cache keeps the content; an injected failure still fails even when
 * the cache could serve the request, and leaves the cached block where it was. */
AK_TEST(test_realloc_and_fail_nth) {
    uint8_t *p = ak_malloc(2000);
    for (int i = 0; i < 2000; i++)
        p[i] = (uint8_t)i;
    uint8_t *q = ak_realloc(p, 6000);
    EXPECT_TRUE(q != NULL);
    for (int i = 0; i < 2000; i++)
        EXPECT_INT_EQ(q[i], (uint8_t)i);
    size_t held = ak_alloc_cache_bytes(); /* the old 2000-byte block */
    EXPECT_TRUE(held >= 2000);
    ak_alloc_fail_nth(1);
    EXPECT_TRUE(ak_malloc(2000) == NULL);
    EXPECT_TRUE(ak_alloc_cache_bytes() == held);
    ak_alloc_fail_nth(0);
    ak_free(q);
}

static void *s_churn(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *held[8] = {NULL};
    for (int i = 0; i < 4000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t slot = (seed >> 8) % 8u;
        size_t n = 900u + (seed >> 12) % (130u * 1024u);
        ak_free(held[slot]);
        held[slot] = ak_malloc(n);
        if (held[slot] == NULL) return (void *)1;
        memset(held[slot], 0x77, n < 64 ? n : 64);
    }
    for (int i = 0; i < 8; i++)
        ak_free(held[i]);
    return NULL;
}

/* The audit flush frees and allocates from a thread pool: the cache is shared and locked. */
AK_TEST(test_threads_share_the_cache) {
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        EXPECT_INT_EQ(pthread_create(&t[i], NULL, s_churn, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        EXPECT_INT_EQ(pthread_join(t[i], &r), 0);
        EXPECT_TRUE(r == NULL);
    }
    EXPECT_TRUE(ak_alloc_cache_bytes() <= S_CAP_BYTES);
    ak_alloc_cache_trim();
}

/* ak_alloc_jansson_pause/resume: while paused jansson allocates on the heap (a tree built then
 * may outlive the window), and the window comes back with the arena and the budget it had. */
AK_TEST(test_jansson_pause_and_resume) {
    ak_arena a;
    ak_arena_init(&a, 1u << 20);
    EXPECT_TRUE(ak_alloc_jansson_arena(&a, 2048) == NULL);
    json_t *in1 = json_string("in the window");
    size_t used = a.used_total;
    EXPECT_TRUE(used > 0);
    ak_jansson_pause p = ak_alloc_jansson_pause();
    EXPECT_TRUE(p.arena == &a);
    size_t live = ak_alloc_live_count();
    json_t *kept = json_string("made while paused");
    EXPECT_TRUE(kept != NULL && a.used_total == used);
    EXPECT_TRUE(ak_alloc_live_count() > live);            /* on the heap */
    EXPECT_TRUE(ak_alloc_jansson_arena(NULL, 0) == NULL); /* no window while paused */
    ak_alloc_jansson_resume(p);
    json_t *in2 = json_string("in the window again");
    EXPECT_TRUE(a.used_total > used);
    /* the budget is the one the window was opened with: 2048 bytes in all, then the heap */
    json_t *past[64];
    for (size_t i = 0; i < 64; i++)
        EXPECT_TRUE((past[i] = json_string("past the budget")) != NULL);
    EXPECT_TRUE(a.used_total <= 2048u);
    for (size_t i = 0; i < 64; i++)
        json_decref(past[i]);
    json_decref(in2);
    json_decref(in1);
    EXPECT_TRUE(ak_alloc_jansson_arena(NULL, 0) == &a);
    ak_arena_free(&a);
    json_decref(kept); /* a heap tree: freed after the window closed */
}

AK_RUN_TESTS(AK_TC(test_freed_block_is_reused_and_wiped), AK_TC(test_reused_secret_buf_holds_no_secret),
             AK_TC(test_cache_is_capped), AK_TC(test_cache_range_edges), AK_TC(test_cache_off_keeps_nothing),
             AK_TC(test_quarantine_and_no_wipe_bypass_the_cache), AK_TC(test_realloc_and_fail_nth),
             AK_TC(test_threads_share_the_cache), AK_T(test_jansson_pause_and_resume))
