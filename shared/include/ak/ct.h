/*
 * ak/ct.h — constant-time helpers and secret wiping (STYLE §8, §9).
 *
 * Secret comparisons go through these; no secret-dependent branch or index. Masks are
 * all-ones (0xFFFFFFFF) for true and zero for false, as in BearSSL's inner.h.
 */
#ifndef AK_CT_H
#define AK_CT_H

#include <stddef.h>
#include <stdint.h>

/* Returns 1 when the `len` bytes at a and b are equal, 0 otherwise, in time independent of the data. */
int ak_ct_eq(const void *a, const void *b, size_t len);
/* Returns 1 when len_a == len_b and the bytes are equal; time depends only on the lengths. */
int ak_ct_eq_len(const void *a, size_t len_a, const void *b, size_t len_b);
/* Returns 0xFFFFFFFF when x == y, else 0. */
static inline uint32_t ak_ct_eq32(uint32_t x, uint32_t y) {
    uint32_t q = x ^ y;
    return ((q | (0u - q)) >> 31) - 1u;
}
/* Returns a when mask is all-ones, b when mask is zero. */
static inline uint32_t ak_ct_select32(uint32_t mask, uint32_t a, uint32_t b) { return b ^ (mask & (a ^ b)); }
/* Wipes `len` bytes in a way the compiler cannot elide. NULL with len 0 is allowed. */
void ak_wipe(void *p, size_t len);

#endif
