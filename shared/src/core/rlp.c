/*
 * rlp.c — RLP encoder (see ak/rlp.h; Yellow Paper appendix B).
 */
#include <string.h>

#include "ak/rlp.h"

/* Writes the minimal big-endian bytes of v into be[8]; returns how many (0 for v == 0). */
static size_t s_be_min(uint64_t v, uint8_t be[8]) {
    size_t n = 0;
    for (uint64_t t = v; t != 0; t >>= 8)
        n++;
    for (size_t i = 0; i < n; i++)
        be[n - 1 - i] = (uint8_t)(v >> (8 * i));
    return n;
}

/* Header for a payload of `len` bytes: short form base+len, long form (base+55)+len(len) ‖ len. */
static size_t s_header(uint8_t base, size_t len, uint8_t hdr[9]) {
    if (len <= 55) {
        hdr[0] = (uint8_t)(base + len);
        return 1;
    }
    uint8_t be[8];
    size_t n = s_be_min((uint64_t)len, be);
    hdr[0] = (uint8_t)(base + 55 + n);
    memcpy(hdr + 1, be, n);
    return 1 + n;
}

ak_err ak_rlp_bytes(ak_buf *out, const uint8_t *p, size_t n) {
    AK_PRECOND(out != NULL && (p != NULL || n == 0));
    if (n == 1 && p[0] < 0x80) return ak_buf_append_byte(out, p[0]);
    uint8_t hdr[9];
    size_t hl = s_header(0x80, n, hdr);
    AK_GUARD(ak_buf_reserve(out, hl + n));
    AK_GUARD(ak_buf_append(out, hdr, hl));
    return ak_buf_append(out, p, n);
}

ak_err ak_rlp_u64(ak_buf *out, uint64_t v) {
    uint8_t be[8];
    size_t n = s_be_min(v, be);
    return ak_rlp_bytes(out, be, n);
}

ak_err ak_rlp_uint_be(ak_buf *out, const uint8_t *be, size_t n) {
    AK_PRECOND(be != NULL || n == 0);
    while (n > 0 && be[0] == 0) {
        be++;
        n--;
    }
    return ak_rlp_bytes(out, be, n);
}

ak_err ak_rlp_list_begin(ak_buf *out, size_t *mark) {
    AK_PRECOND(out != NULL && mark != NULL);
    *mark = out->len;
    return AK_OK;
}

ak_err ak_rlp_list_end(ak_buf *out, size_t mark) {
    AK_PRECOND(out != NULL && mark <= out->len);
    size_t len = out->len - mark;
    uint8_t hdr[9];
    size_t hl = s_header(0xc0, len, hdr);
    AK_GUARD(ak_buf_reserve(out, hl));
    memmove(out->ptr + mark + hl, out->ptr + mark, len);
    memcpy(out->ptr + mark, hdr, hl);
    out->len += hl;
    out->ptr[out->len] = 0;
    return AK_OK;
}
