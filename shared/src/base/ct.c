/* ct.c — constant-time compare and wipe (see ak/ct.h). */
#include "ak/ct.h"

#include <string.h>

int ak_ct_eq(const void *a, const void *b, size_t len) {
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint32_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= (uint32_t)(x[i] ^ y[i]);
    return (int)(ak_ct_eq32(acc, 0) & 1u);
}

int ak_ct_eq_len(const void *a, size_t len_a, const void *b, size_t len_b) {
    if (len_a != len_b) return 0; /* lengths are public */
    return ak_ct_eq(a, b, len_a);
}

void ak_wipe(void *p, size_t len) {
    if (p == NULL || len == 0) return;
    /* explicit_bzero exists in glibc >= 2.25 and musl; it is not optimised away. */
    explicit_bzero(p, len);
}
