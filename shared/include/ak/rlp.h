/*
 * ak/rlp.h — Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B; ethereum.org
 * "Recursive-length prefix (RLP) serialization"). Encoder only: we build transactions, we never
 * parse RLP from outside.
 *
 *   a single byte < 0x80           -> itself
 *   a string of 0..55 bytes        -> 0x80+len ‖ bytes
 *   a longer string                -> 0xb7+len(len) ‖ len (big-endian, minimal) ‖ bytes
 *   a list with payload 0..55      -> 0xc0+len ‖ payload
 *   a longer list                  -> 0xf7+len(len) ‖ len ‖ payload
 * Integers are strings of their minimal big-endian bytes (0 is the empty string, 0x80).
 *
 * Lists nest with begin/end marks:
 *     size_t m;  AK_GUARD(ak_rlp_list_begin(out, &m)); …items…; AK_GUARD(ak_rlp_list_end(out, m));
 * On error the buffer may hold a partial encoding; callers discard it.
 */
#ifndef AK_RLP_H
#define AK_RLP_H

#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

AK_MUST ak_err ak_rlp_bytes(ak_buf *out, const uint8_t *p, size_t n);
static inline ak_err ak_rlp_cur(ak_buf *out, ak_cur c) { return ak_rlp_bytes(out, c.ptr, c.len); }
/* Unsigned integer: minimal big-endian, no leading zeros. */
AK_MUST ak_err ak_rlp_u64(ak_buf *out, uint64_t v);
/* Big-endian unsigned integer of any width (leading zero bytes are stripped). */
AK_MUST ak_err ak_rlp_uint_be(ak_buf *out, const uint8_t *be, size_t n);
/* Starts a list: remembers where its payload begins. */
AK_MUST ak_err ak_rlp_list_begin(ak_buf *out, size_t *mark);
/* Ends the list started at `mark`: inserts the list header in front of the payload. */
AK_MUST ak_err ak_rlp_list_end(ak_buf *out, size_t mark);

#endif
