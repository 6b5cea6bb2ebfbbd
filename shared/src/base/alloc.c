/* alloc.c — counting allocator with failure injection, and the per-invocation arena. */
#include "ak/alloc.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ak/ct.h"

/*
 * Each block carries a 16-byte header with its size so the counters stay exact and
 * ak_free_secure can wipe without being told the size twice.
 */
typedef struct {
    size_t size;
    size_t pad;
} s_hdr;

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

void *ak_malloc(size_t n) {
    if (s_should_fail() || n > SIZE_MAX - sizeof(s_hdr)) return NULL;
    s_hdr *h = malloc(sizeof(s_hdr) + n);
    if (h == NULL) return NULL;
    h->size = n;
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

void *ak_realloc(void *p, size_t n) {
    if (p == NULL) return ak_malloc(n);
    if (s_should_fail() || n > SIZE_MAX - sizeof(s_hdr)) return NULL;
    s_hdr *h = (s_hdr *)p - 1;
    size_t old = h->size;
    s_hdr *nh = realloc(h, sizeof(s_hdr) + n);
    if (nh == NULL) return NULL;
    nh->size = n;
    S_SUB(g_live_bytes, old);
    S_ADD(g_live_bytes, n);
    return nh + 1;
}

void ak_free(void *p) {
    if (p == NULL) return;
    s_hdr *h = (s_hdr *)p - 1;
    S_SUB(g_live_count, 1);
    S_SUB(g_live_bytes, h->size);
    free(h);
}

void ak_free_secure(void *p, size_t n) {
    if (p == NULL) return;
    s_hdr *h = (s_hdr *)p - 1;
    ak_wipe(p, n < h->size ? n : h->size);
    ak_free(p);
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
            ak_free(c);
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
        ak_free(a->head);
        a->head = NULL;
    }
}
