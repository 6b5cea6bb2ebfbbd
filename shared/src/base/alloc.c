/* alloc.c — counting allocator with failure injection, and the per-invocation arena. */
#include "ak/alloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "ak/ct.h"

/*
 * Each block carries a 16-byte header with the size the caller asked for. The counters use it,
 * and so does the wipe on free: every block is overwritten before it goes back to the C library
 * (issue 16, finding 4: jansson's grown parse buffers, API Gateway bodies and signer replies
 * otherwise survive in freed heap memory, where the next allocation or a core dump can see them).
 *
 * DECISION: the size is stored in this header rather than asked of malloc_usable_size(). The
 * header was already here for the counters, it is exact on every libc (glibc, musl and ASan all
 * have malloc_usable_size, but they report different slack, which would make the byte counters
 * libc-dependent), and the caller can only have written the bytes it asked for, so wiping those
 * is complete. 16 bytes keep the user pointer aligned for max_align_t on x86-64 and aarch64
 * (checked below).
 */
typedef struct {
    size_t size; /* what the caller asked for */
    size_t bin;  /* usable bytes when the block is a block-cache bin size (below), else 0 */
} s_hdr;

_Static_assert(sizeof(s_hdr) % _Alignof(max_align_t) == 0, "ak_malloc header breaks max_align_t alignment");

/* Counters are updated atomically (relaxed): the audit flush reads and writes S3 objects from a
 * small thread pool (ak/audit_flush.h), and a racy counter would report false leaks. */
static size_t g_live_count;
static size_t g_live_bytes;
static uint64_t g_calls;
static uint64_t g_fail_at; /* absolute call number that fails; 0 = never */

#define S_ADD(v, n) ((void)__atomic_add_fetch(&(v), (n), __ATOMIC_RELAXED))
#define S_SUB(v, n) ((void)__atomic_sub_fetch(&(v), (n), __ATOMIC_RELAXED))
#define S_LOAD(v) __atomic_load_n(&(v), __ATOMIC_RELAXED)

static int s_should_fail(void) {
    uint64_t c = __atomic_add_fetch(&g_calls, 1, __ATOMIC_RELAXED);
    uint64_t f = S_LOAD(g_fail_at);
    return f != 0 && c == f;
}

/* ---- test builds: the quarantine of freed blocks and the wipe switch (ak/alloc.h) ---- */
#ifndef AK_RELEASE
static bool g_no_wipe;    /* test switch: skip the wipe on free (proves the scan can fail) */
static bool g_quarantine; /* keep freed blocks instead of returning them to libc */
static pthread_mutex_t g_q_lock = PTHREAD_MUTEX_INITIALIZER;
static s_hdr **g_q;
static size_t g_q_n, g_q_cap;

static bool s_quarantine_push(s_hdr *h) {
    bool kept = false;
    pthread_mutex_lock(&g_q_lock);
    if (g_quarantine) {
        if (g_q_n == g_q_cap) {
            size_t nc = g_q_cap ? g_q_cap * 2 : 1024;
            s_hdr **nq = realloc(g_q, nc * sizeof(*nq));
            if (nq != NULL) {
                g_q = nq;
                g_q_cap = nc;
            }
        }
        if (g_q_n < g_q_cap) {
            g_q[g_q_n++] = h;
            kept = true;
        }
    }
    pthread_mutex_unlock(&g_q_lock);
    return kept;
}

void ak_alloc_test_wipe_on_free(bool on) { __atomic_store_n(&g_no_wipe, !on, __ATOMIC_RELAXED); }

void ak_alloc_test_quarantine(bool on) {
    pthread_mutex_lock(&g_q_lock);
    g_quarantine = on;
    if (!on) {
        for (size_t i = 0; i < g_q_n; i++)
            free(g_q[i]);
        free(g_q);
        g_q = NULL;
        g_q_n = g_q_cap = 0;
    }
    pthread_mutex_unlock(&g_q_lock);
}

size_t ak_alloc_test_quarantined(void) {
    pthread_mutex_lock(&g_q_lock);
    size_t n = g_q_n;
    pthread_mutex_unlock(&g_q_lock);
    return n;
}

size_t ak_alloc_test_scan(const void *needle, size_t len) {
    size_t hits = 0;
    if (needle == NULL || len == 0) return 0;
    pthread_mutex_lock(&g_q_lock);
    for (size_t i = 0; i < g_q_n; i++)
        if (memmem(g_q[i] + 1, g_q[i]->size, needle, len) != NULL) hits++;
    pthread_mutex_unlock(&g_q_lock);
    return hits;
}
#define S_WIPE_ON() (!__atomic_load_n(&g_no_wipe, __ATOMIC_RELAXED))
#else
#define S_WIPE_ON() true
#endif

/*
 * ---- the block cache: freed mid-size blocks kept for reuse ----
 *
 * musl's allocator (mallocng, the static release build) gives a block of more than about 1 KiB
 * a group of its own while few blocks of its size are live, maps that group with mmap and
 * unmaps it as soon as the block is freed. A warm worker paid ~15 mmap + ~15 munmap per request
 * that way: curl's transfer buffer (16 KiB, allocated and freed by every transfer), jansson's
 * string buffers, ak_buf growth, the ABI parser's arena chunk.
 *
 * So a block whose size with its header is in (S_BIN_LO, S_BIN_HI] is allocated at one of 28
 * bin sizes (four per octave: at most 25% slack), and when freed it is wiped as always and then
 * kept on its bin's list, up to S_CACHE_PER_BIN blocks per bin and S_CACHE_MAX_BYTES in all,
 * for the next allocation of that bin. Past either cap, and for any block above S_BIN_HI, free()
 * as before: one large request does not pin memory. A cached block holds only wiped bytes
 * (test builds that turn the wipe off never cache), and a block taken from the cache is handed
 * out like a fresh malloc: the caller writes before it reads.
 *
 * DECISION: on by default in release builds only. In dev and fuzz builds ASan owns malloc and
 * must see every free to catch a use after free; tests turn the cache on explicitly
 * (ak_alloc_test_block_cache) to check it.
 */
#define S_BIN_LO 1024u
#define S_BIN_HI (128u * 1024u)
#define S_BIN_COUNT 28u /* (log2(S_BIN_HI) - log2(S_BIN_LO)) * 4 */
#define S_CACHE_PER_BIN 4u
#define S_CACHE_MAX_BYTES (512u * 1024u)

static struct {
    s_hdr *blocks[S_BIN_COUNT][S_CACHE_PER_BIN];
    unsigned count[S_BIN_COUNT];
    size_t bytes; /* usable bytes of all cached blocks */
} g_cache;
static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
#ifdef AK_RELEASE
static bool g_cache_on = true;
#else
static bool g_cache_on = false;
#endif

/* The bin of a block of `total` bytes (header included): its index and its size, the smallest
 * of (5, 6, 7, 8) x 2^(k-2) that holds `total`, where 2^k < total <= 2^(k+1). */
static bool s_bin_of(size_t total, unsigned *bin, size_t *bin_size) {
    if (total <= S_BIN_LO || total > S_BIN_HI) return false;
    unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(total - 1u)); /* 10..16 */
    size_t q = (total - 1u) >> (k - 2u);                                            /* 4..7 */
    *bin_size = (q + 1u) << (k - 2u);
    *bin = (k - 10u) * 4u + (unsigned)(q - 4u);
    return true;
}

static s_hdr *s_cache_take(unsigned bin) {
    s_hdr *h = NULL;
    pthread_mutex_lock(&g_cache_lock);
    if (g_cache.count[bin] > 0) {
        h = g_cache.blocks[bin][--g_cache.count[bin]];
        g_cache.bytes -= h->bin;
    }
    pthread_mutex_unlock(&g_cache_lock);
    return h;
}

/* Keeps a freed (already wiped) bin-sized block; false when it must go back to libc. */
static bool s_cache_keep(s_hdr *h) {
    unsigned bin;
    size_t bin_size;
    if (h->bin == 0 || !__atomic_load_n(&g_cache_on, __ATOMIC_RELAXED) || !S_WIPE_ON() ||
        !s_bin_of(h->bin + sizeof(s_hdr), &bin, &bin_size))
        return false;
    bool kept = false;
    pthread_mutex_lock(&g_cache_lock);
    if (g_cache.count[bin] < S_CACHE_PER_BIN && g_cache.bytes + h->bin <= S_CACHE_MAX_BYTES) {
        g_cache.blocks[bin][g_cache.count[bin]++] = h;
        g_cache.bytes += h->bin;
        kept = true;
    }
    pthread_mutex_unlock(&g_cache_lock);
    return kept;
}

size_t ak_alloc_cache_bytes(void) {
    pthread_mutex_lock(&g_cache_lock);
    size_t n = g_cache.bytes;
    pthread_mutex_unlock(&g_cache_lock);
    return n;
}

void ak_alloc_cache_trim(void) {
    pthread_mutex_lock(&g_cache_lock);
    for (unsigned b = 0; b < S_BIN_COUNT; b++) {
        while (g_cache.count[b] > 0)
            free(g_cache.blocks[b][--g_cache.count[b]]);
    }
    g_cache.bytes = 0;
    pthread_mutex_unlock(&g_cache_lock);
}

#ifndef AK_RELEASE
void ak_alloc_test_block_cache(bool on) {
    __atomic_store_n(&g_cache_on, on, __ATOMIC_RELAXED);
    if (!on) ak_alloc_cache_trim();
}
#endif

/* The one way a block leaves its owner: its first `wipe` bytes are wiped first, then it goes
 * to the test quarantine, the block cache, or back to libc. */
static void s_release(s_hdr *h, size_t wipe) {
    if (wipe > 0 && S_WIPE_ON()) ak_wipe(h + 1, wipe);
#ifndef AK_RELEASE
    if (__atomic_load_n(&g_quarantine, __ATOMIC_RELAXED) && s_quarantine_push(h)) return;
#endif
    if (s_cache_keep(h)) return;
    free(h);
}

static s_hdr *s_alloc(size_t n) {
    if (n > SIZE_MAX - sizeof(s_hdr)) return NULL;
    size_t total = sizeof(s_hdr) + n;
    unsigned bin;
    size_t bin_size;
    s_hdr *h = NULL;
    if (__atomic_load_n(&g_cache_on, __ATOMIC_RELAXED) && s_bin_of(total, &bin, &bin_size)) {
        h = s_cache_take(bin);
        if (h == NULL) h = malloc(bin_size);
        if (h != NULL) h->bin = bin_size - sizeof(s_hdr);
    } else {
        h = malloc(total);
        if (h != NULL) h->bin = 0;
    }
    if (h != NULL) h->size = n;
    return h;
}

void *ak_malloc(size_t n) {
    if (s_should_fail()) return NULL;
    s_hdr *h = s_alloc(n);
    if (h == NULL) return NULL;
    S_ADD(g_live_count, 1);
    S_ADD(g_live_bytes, n);
    return h + 1;
}

void *ak_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *p = ak_malloc(count * size);
    if (p != NULL) memset(p, 0, count * size);
    return p;
}

/*
 * Never libc's realloc: it may move the block and free the old copy without wiping it. A new
 * block, a copy, and the old one wiped and freed. Callers grow geometrically (ak_grow_array), so
 * the copy is amortised O(1) per byte.
 */
void *ak_realloc(void *p, size_t n) {
    if (p == NULL) return ak_malloc(n);
    if (s_should_fail()) return NULL;
    s_hdr *h = (s_hdr *)p - 1;
    s_hdr *nh = s_alloc(n);
    if (nh == NULL) return NULL;
    size_t old = h->size;
    memcpy(nh + 1, p, old < n ? old : n);
    S_SUB(g_live_bytes, old);
    S_ADD(g_live_bytes, n);
    s_release(h, old);
    return nh + 1;
}

void ak_free(void *p) {
    if (p == NULL) return;
    s_hdr *h = (s_hdr *)p - 1;
    S_SUB(g_live_count, 1);
    S_SUB(g_live_bytes, h->size);
    s_release(h, h->size);
}

void ak_free_secure(void *p, size_t n) {
    if (p == NULL) return;
    s_hdr *h = (s_hdr *)p - 1;
    ak_wipe(p, n < h->size ? n : h->size); /* explicit: kept even when a test turns the wipe off */
    ak_free(p);
}

/* ---- third-party allocators (libcurl): wiped and headed like ak_malloc, not counted ---- */

void *ak_ext_malloc(size_t n) {
    s_hdr *h = s_alloc(n);
    return h != NULL ? h + 1 : NULL;
}

void ak_ext_free(void *p) {
    if (p == NULL) return;
    s_hdr *h = (s_hdr *)p - 1;
    s_release(h, h->size);
}

void *ak_ext_realloc(void *p, size_t n) {
    if (p == NULL) return ak_ext_malloc(n);
    s_hdr *h = (s_hdr *)p - 1;
    s_hdr *nh = s_alloc(n);
    if (nh == NULL) return NULL;
    memcpy(nh + 1, p, h->size < n ? h->size : n);
    s_release(h, h->size);
    return nh + 1;
}

void *ak_ext_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *p = ak_ext_malloc(count * size);
    if (p != NULL) memset(p, 0, count * size);
    return p;
}

char *ak_ext_strdup(const char *s) {
    size_t n = strlen(s);
    char *d = ak_ext_malloc(n + 1);
    if (d != NULL) memcpy(d, s, n + 1);
    return d;
}

void *ak_grow_array(void *p, size_t *cap, size_t elem, size_t first) {
    if (cap == NULL || elem == 0 || first == 0) return NULL;
    size_t nc = *cap ? *cap : first / 2;
    if (nc > SIZE_MAX / 2 || nc * 2 > SIZE_MAX / elem) return NULL;
    nc = *cap ? nc * 2 : first;
    void *np = ak_realloc(p, nc * elem);
    if (np != NULL) *cap = nc;
    return np;
}

char *ak_strndup(const char *s, size_t len) {
    char *d = ak_malloc(len + 1);
    if (d == NULL) return NULL;
    if (len) memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

size_t ak_alloc_live_count(void) { return S_LOAD(g_live_count); }
size_t ak_alloc_live_bytes(void) { return S_LOAD(g_live_bytes); }
uint64_t ak_alloc_calls(void) { return S_LOAD(g_calls); }
void ak_alloc_fail_nth(uint64_t n) {
    __atomic_store_n(&g_fail_at, n ? S_LOAD(g_calls) + n : 0, __ATOMIC_RELAXED);
}

/*
 * jansson's allocator. While a thread has routed jansson into an arena (ak_alloc_jansson_arena),
 * its small allocations come from that arena and their frees are no-ops: decoding an event then
 * costs no malloc/free pair per JSON value, and no mmap/munmap churn from the C library
 * returning emptied groups to the OS. The state is per thread: other threads (the audit flush
 * pool) keep the heap. Large blocks, allocations past the budget, and any that the arena cannot
 * serve fall back to the heap, so jansson sees exactly the failures it would see without the
 * arena.
 */
#define S_JSON_ARENA_MAX_BLOCK 1024u

static _Thread_local ak_arena *t_json_arena;
static _Thread_local size_t t_json_arena_limit; /* arena used_total jansson may fill up to */

static bool s_arena_owns(const ak_arena *a, const void *p);

static void *s_json_malloc(size_t n) {
    ak_arena *a = t_json_arena;
    if (a != NULL && n <= S_JSON_ARENA_MAX_BLOCK && a->used_total + n + 15u <= t_json_arena_limit) {
        void *p = ak_arena_alloc(a, n);
        if (p != NULL) return p;
    }
    return ak_malloc(n);
}

static void s_json_free(void *p) {
    if (p == NULL) return;
    const ak_arena *a = t_json_arena;
    if (a != NULL && s_arena_owns(a, p)) return; /* released (and wiped) by ak_arena_reset */
    ak_free(p);
}

void ak_alloc_install_jansson(void) { json_set_alloc_funcs(s_json_malloc, s_json_free); }

ak_arena *ak_alloc_jansson_arena(ak_arena *a, size_t budget) {
    ak_arena *prev = t_json_arena;
    t_json_arena = a;
    t_json_arena_limit =
        a != NULL ? (a->used_total + budget < a->used_total ? SIZE_MAX : a->used_total + budget) : 0;
    return prev;
}

ak_jansson_pause ak_alloc_jansson_pause(void) {
    ak_jansson_pause p = {t_json_arena, t_json_arena_limit};
    t_json_arena = NULL;
    t_json_arena_limit = 0;
    return p;
}

void ak_alloc_jansson_resume(ak_jansson_pause p) {
    t_json_arena = p.arena;
    t_json_arena_limit = p.limit;
}

/* ---- arena: a list of chunks, each one ak_malloc block ---- */
struct ak_arena_chunk {
    ak_arena_chunk *next;
    size_t cap;
    size_t used;
    size_t pad;
    /* data follows, 16-byte aligned because the header is 32 bytes */
};

#define S_CHUNK_MIN (64u * 1024u)

void ak_arena_init(ak_arena *a, size_t max) {
    AK_PRECOND(a != NULL);
    a->head = NULL;
    a->used_total = 0;
    a->max = max;
}

void *ak_arena_alloc(ak_arena *a, size_t n) {
    AK_PRECOND(a != NULL);
    size_t need = (n + 15u) & ~(size_t)15u;
    if (need < n || a->used_total + need > a->max) return NULL;
    ak_arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > S_CHUNK_MIN ? need : S_CHUNK_MIN;
        c = ak_malloc(sizeof(ak_arena_chunk) + cap);
        if (c == NULL) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    uint8_t *p = (uint8_t *)(c + 1) + c->used;
    c->used += need;
    a->used_total += need;
    memset(p, 0, n);
    return p;
}

static bool s_arena_owns(const ak_arena *a, const void *p) {
    const uint8_t *q = p;
    for (const ak_arena_chunk *c = a->head; c != NULL; c = c->next) {
        const uint8_t *data = (const uint8_t *)(c + 1);
        if (q >= data && q < data + c->cap) return true;
    }
    return false;
}

char *ak_arena_strndup(ak_arena *a, const char *s, size_t len) {
    char *d = ak_arena_alloc(a, len + 1);
    if (d == NULL) return NULL;
    if (len) memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* Frees a chunk whose used part is already wiped: the rest of a large chunk may never have been
 * touched, and wiping it would only fault its pages in. */
static void s_chunk_release(ak_arena_chunk *c) {
    s_hdr *h = (s_hdr *)(void *)c - 1;
    S_SUB(g_live_count, 1);
    S_SUB(g_live_bytes, h->size);
    ak_wipe(c, sizeof(*c));
    s_release(h, 0);
}

/*
 * Wipes everything handed out (the arena may hold plaintext) and frees all chunks but the
 * oldest one, which is kept for the next invocation: a warm Lambda then allocates nothing per
 * invocation for typical requests (no mmap/munmap churn from the C library's allocator).
 */
void ak_arena_reset(ak_arena *a) {
    AK_PRECOND(a != NULL);
    ak_arena_chunk *c = a->head, *keep = NULL;
    while (c != NULL) {
        ak_arena_chunk *next = c->next;
        ak_wipe(c + 1, c->used);
        if (next == NULL && c->cap == S_CHUNK_MIN) {
            keep = c; /* the oldest chunk, standard size */
        } else {
            s_chunk_release(c);
        }
        c = next;
    }
    if (keep != NULL) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->used_total = 0;
}

void ak_arena_free(ak_arena *a) {
    AK_PRECOND(a != NULL);
    ak_arena_reset(a);
    if (a->head != NULL) {
        s_chunk_release(a->head); /* emptied (and wiped) by the reset */
        a->head = NULL;
    }
}
