/*
 * ak/bytes.h — length-carrying views and bounded buffers (STYLE §2, §3), hex and base64.
 *
 * ak_cur is a read-only view {ptr, len} passed by value. Readers that meet short input return
 * an error and do not advance. NUL-terminated strings appear only at libc/libcurl boundaries.
 *
 * ak_buf is an owned, growable buffer with a hard ceiling `max` fixed at init (like curl's
 * dynbuf): appending past `max` returns AK_E_LIMIT and leaves the buffer unchanged. The bytes
 * are always followed by a NUL (not counted in len) so the content can be handed to libc.
 */
#ifndef AK_BYTES_H
#define AK_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/err.h"

typedef struct ak_cur {
    const uint8_t *ptr;
    size_t len;
} ak_cur;

#define AK_CUR_LIT(s) ((ak_cur){(const uint8_t *)(s), sizeof(s) - 1})

ak_cur ak_cur_from_str(const char *s); /* NULL gives an empty view */
ak_cur ak_cur_from(const void *p, size_t len);
bool ak_cur_eq(ak_cur a, ak_cur b);
bool ak_cur_eq_str(ak_cur a, const char *s);
bool ak_cur_eq_nocase(ak_cur a, ak_cur b); /* ASCII case-insensitive */
bool ak_cur_starts_with(ak_cur a, ak_cur prefix);
ak_cur ak_cur_trim(ak_cur a); /* strips ASCII spaces, tabs, CR, LF at both ends */
/* Returns the first `n` bytes of `c` and advances `c`; AK_E_INVALID_INPUT (no advance) if short. */
AK_MUST ak_err ak_cur_take(ak_cur *c, size_t n, ak_cur *out);
AK_MUST ak_err ak_cur_read_u8(ak_cur *c, uint8_t *out);
AK_MUST ak_err ak_cur_read_u32be(ak_cur *c, uint32_t *out);
/* Splits at the first `sep`: *head gets the part before, `c` the part after. Returns false (no change) if absent. */
bool ak_cur_split(ak_cur *c, uint8_t sep, ak_cur *head);
/* Index of the first `b` in c, or -1. */
long ak_cur_find(ak_cur c, uint8_t b);
/* Strict unsigned decimal: digits only, no sign, no leading '+', no overflow. */
AK_MUST ak_err ak_cur_to_u64(ak_cur c, uint64_t *out);
/* Copies into a caller array with NUL; AK_E_LIMIT if it does not fit (cap includes the NUL). */
AK_MUST ak_err ak_cur_to_cstr(ak_cur c, char *dst, size_t cap);

typedef struct ak_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;  /* allocated bytes (excluding the trailing NUL slot) */
    size_t max;  /* hard ceiling on len */
    bool secret; /* wipe on growth and on free */
} ak_buf;

void ak_buf_init(ak_buf *b, size_t max);
void ak_buf_init_secret(ak_buf *b, size_t max);
void ak_buf_free(ak_buf *b);  /* wipes first when secret */
void ak_buf_clear(ak_buf *b); /* len = 0; wipes when secret */
AK_MUST ak_err ak_buf_reserve(ak_buf *b, size_t extra);
AK_MUST ak_err ak_buf_append(ak_buf *b, const void *p, size_t n);
AK_MUST ak_err ak_buf_append_cur(ak_buf *b, ak_cur c);
AK_MUST ak_err ak_buf_append_str(ak_buf *b, const char *s);
AK_MUST ak_err ak_buf_append_byte(ak_buf *b, uint8_t v);
AK_MUST ak_err ak_buf_append_u64(ak_buf *b, uint64_t v); /* decimal */
AK_MUST ak_err ak_buf_printf(ak_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the whole file at `path` (the read chunks are wiped, so key files may pass through).
 * AK_E_IO when it cannot be opened or read, AK_E_LIMIT past b's ceiling; on error `b` may hold
 * part of the file (callers free it). */
AK_MUST ak_err ak_buf_append_file(ak_buf *b, const char *path);
/* Writes `data` to `path` as a new file of mode 0600, atomically: a temp file beside it, fsync,
 * rename (a reader sees the old content or the new, never a part). Missing parent directories
 * are created 0700. AK_E_IO on any failure (the temp file is removed); AK_E_LIMIT for a path
 * over 1023 bytes. */
AK_MUST ak_err ak_file_write_0600(const char *path, ak_cur data);
/* The same, create only: the complete file appears at `path` (hard link of the fsynced temp file)
 * or nothing does; AK_E_PRECONDITION_FAILED when `path` already exists (its content untouched). */
AK_MUST ak_err ak_file_create_0600(const char *path, ak_cur data);
static inline ak_cur ak_buf_cur(const ak_buf *b) { return (ak_cur){b->ptr, b->len}; }
static inline const char *ak_buf_cstr(const ak_buf *b) { return b->ptr ? (const char *)b->ptr : ""; }

/* ---- hex ---- */
/* Lowercase hex of `n` bytes into `dst` (2n+1 bytes with NUL). */
void ak_hex_encode(const uint8_t *src, size_t n, char *dst);
AK_MUST ak_err ak_buf_append_hex(ak_buf *b, const uint8_t *src, size_t n);
/* Decodes exactly `n` bytes from hex (either case); optional "0x" prefix when allow_0x. AK_E_BAD_HEX otherwise. */
AK_MUST ak_err ak_hex_decode_exact(ak_cur hex, bool allow_0x, uint8_t *dst, size_t n);
/* Decodes any even-length hex into `out` (appends). */
AK_MUST ak_err ak_hex_decode_buf(ak_cur hex, bool allow_0x, ak_buf *out);
/* True when `c` is exactly 64 lowercase hex characters (un-prefixed omni form). */
bool ak_is_hex64_lower(ak_cur c);

/* ---- base64 (RFC 4648) ---- */
AK_MUST ak_err ak_b64_encode(const uint8_t *src, size_t n, ak_buf *out);    /* standard, padded */
AK_MUST ak_err ak_b64url_encode(const uint8_t *src, size_t n, ak_buf *out); /* url-safe, unpadded */
/* Strict decoders: reject bad characters, bad padding and non-zero trailing bits. */
AK_MUST ak_err ak_b64_decode(ak_cur in, ak_buf *out);
AK_MUST ak_err ak_b64url_decode(ak_cur in, ak_buf *out); /* no padding accepted */

#endif
