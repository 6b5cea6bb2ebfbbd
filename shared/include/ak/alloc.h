/*
 * ak/alloc.h — the one allocator (STYLE §7, §13).
 *
 * All heap use in agentkeys goes through ak_malloc/ak_realloc/ak_free (jansson is pointed at
 * them too, see ak_alloc_install_jansson). They count live allocations and bytes so tests can
 * assert "no leak survived", and a test can make the Nth allocation fail to exercise every
 * out-of-memory path.
 *
 * Every block is wiped before it goes back to the C library (ak_free, ak_realloc's old block,
 * the arena's chunks): freed heap memory never keeps request bodies, signer replies or
 * plaintext (issue 16, finding 4). ak_realloc therefore always moves (new block, copy, wipe).
 *
 * Release builds keep freed blocks of 1 KiB to 128 KiB (wiped) in a small per-process block
 * cache, capped in count and bytes, and hand them out again: a warm Lambda then does not mmap
 * and munmap its transfer buffers on every request (musl's allocator would; alloc.c says why).
 *
 * ak_arena is the per-invocation arena: the runtime resets it after each response, so nothing
 * allocated for one invocation survives into the next.
 */
#ifndef AK_ALLOC_H
#define AK_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/err.h"

void *ak_malloc(size_t n);
void *ak_calloc(size_t count, size_t size);
void *ak_realloc(void *p, size_t n);
void ak_free(void *p);
/* Wipes then frees a buffer of `n` bytes that held a secret (ak_free wipes too; this one wipes
 * even in a test build that switched the wipe on free off). */
void ak_free_secure(void *p, size_t n);
/* Grows an array of `*cap` elements of `elem` bytes: doubles the capacity (or starts at
 * `first`), updates *cap and returns the new array; NULL on overflow or allocation failure,
 * with `p` and *cap untouched. The usual call: when n == cap, before storing element n. */
void *ak_grow_array(void *p, size_t *cap, size_t elem, size_t first);
/* Duplicates `len` bytes plus a NUL; Returns NULL on allocation failure. */
char *ak_strndup(const char *s, size_t len);

/* Live allocations and bytes (tests: both must be back to the starting value). */
size_t ak_alloc_live_count(void);
size_t ak_alloc_live_bytes(void);
/* Make the nth allocation from now fail (1 = the next one); 0 disables. */
void ak_alloc_fail_nth(uint64_t n);
/* Number of allocation calls so far (tests use it to sweep fail_nth over a whole operation). */
uint64_t ak_alloc_calls(void);
/* Bytes held by the block cache (freed, wiped blocks kept for reuse; at most 512 KiB). */
size_t ak_alloc_cache_bytes(void);
/* Gives every block the cache holds back to the C library. */
void ak_alloc_cache_trim(void);
/* Route jansson's allocations through ak_malloc/ak_free. Call once at start-up. */
void ak_alloc_install_jansson(void);

/*
 * The same wiping allocator for third-party libraries that keep process-lifetime state
 * (libcurl: curl_global_init_mem in ak/http.h). Not counted and never failed on purpose, so a
 * library's caches are not reported as leaks and fail_nth sweeps stay about our own code.
 */
void *ak_ext_malloc(size_t n);
void ak_ext_free(void *p);
void *ak_ext_realloc(void *p, size_t n);
void *ak_ext_calloc(size_t count, size_t size);
char *ak_ext_strdup(const char *s);

#ifndef AK_RELEASE
/*
 * Test builds only (absent from release builds, so production cannot turn the wipe off):
 *   ak_alloc_test_quarantine(true)   freed blocks (after their wipe) are kept, not returned to
 *                                    libc, so a test can scan all of them; false releases them.
 *   ak_alloc_test_scan(needle, len)  the number of quarantined blocks that contain `needle`.
 *   ak_alloc_test_wipe_on_free(false) turns the wipe on free off (explicit wipes — ak_wipe,
 *                                    ak_free_secure, secret ak_bufs, the arena reset — stay), to
 *                                    show that a scan finds what the wipe removes; nothing is
 *                                    cached meanwhile.
 *   ak_alloc_test_block_cache(on)    turns the block cache on or off (off by default in test
 *                                    builds, where ASan must see every free); off also trims it.
 *                                    The quarantine, when on, comes before the cache.
 */
void ak_alloc_test_block_cache(bool on);
void ak_alloc_test_quarantine(bool on);
size_t ak_alloc_test_quarantined(void);
size_t ak_alloc_test_scan(const void *needle, size_t len);
void ak_alloc_test_wipe_on_free(bool on);
#endif

typedef struct ak_arena ak_arena;
/*
 * Routes the calling thread's small jansson allocations into arena `a` (NULL: back to the heap)
 * until up to `budget` more arena bytes are used; returns the previous arena so calls can nest.
 * Frees of arena blocks are no-ops, so every json_t built meanwhile must be released before the
 * arena is reset and before switching back (json_decref of an arena block outside the window
 * would reach ak_free). Needs ak_alloc_install_jansson; other threads are unaffected.
 */
ak_arena *ak_alloc_jansson_arena(ak_arena *a, size_t budget);
/* Closes the calling thread's window for a while (around a callback that may keep the trees it
 * builds) and reopens it exactly as it was, budget included. Nothing built in the window may be
 * freed while it is paused. */
typedef struct ak_jansson_pause {
    ak_arena *arena;
    size_t limit;
} ak_jansson_pause;
ak_jansson_pause ak_alloc_jansson_pause(void);
void ak_alloc_jansson_resume(ak_jansson_pause p);

/* ---- arena ---- */
typedef struct ak_arena_chunk ak_arena_chunk;
struct ak_arena {
    ak_arena_chunk *head;
    size_t used_total; /* bytes handed out since the last reset */
    size_t max;        /* ceiling (AK_MAX_ARENA by default) */
};

void ak_arena_init(ak_arena *a, size_t max);
/* Returns 16-byte aligned zeroed memory, or NULL when out of memory or over the ceiling. */
void *ak_arena_alloc(ak_arena *a, size_t n);
char *ak_arena_strndup(ak_arena *a, const char *s, size_t len);
/* Wipes and frees everything handed out (the arena may hold plaintext). */
void ak_arena_reset(ak_arena *a);
void ak_arena_free(ak_arena *a);

#endif
