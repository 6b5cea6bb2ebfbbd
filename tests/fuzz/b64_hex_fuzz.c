/*
 * b64_hex_fuzz.c — the hex and base64 decoders of ak/bytes.h on arbitrary input. Whatever a
 * strict decoder accepts must re-encode to the same text (base64: byte for byte, since padding
 * and trailing bits are canonical; hex: case-insensitively, minus an allowed "0x"), and the
 * exact-length hex decoder must agree with the buffer one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check_b64(ak_cur in, bool url) {
    ak_buf dec, enc;
    ak_buf_init(&dec, 1u << 20);
    ak_buf_init(&enc, 1u << 21);
    ak_err rc = url ? ak_b64url_decode(in, &dec) : ak_b64_decode(in, &dec);
    if (rc == AK_OK) {
        rc = url ? ak_b64url_encode(dec.ptr, dec.len, &enc) : ak_b64_encode(dec.ptr, dec.len, &enc);
        if (rc != AK_OK) abort();
        if (!ak_cur_eq(ak_buf_cur(&enc), in)) abort(); /* accepted a non-canonical form */
    } else if (rc != AK_E_BAD_BASE64 && rc != AK_E_LIMIT) {
        abort();
    }
    ak_buf_free(&dec);
    ak_buf_free(&enc);
}

static void s_check_hex(ak_cur in, bool allow_0x) {
    ak_buf dec;
    ak_buf_init(&dec, 1u << 20);
    ak_err rc = ak_hex_decode_buf(in, allow_0x, &dec);
    if (rc == AK_OK) {
        ak_cur body = in;
        if (allow_0x && body.len >= 2 && body.ptr[0] == '0' && (body.ptr[1] == 'x' || body.ptr[1] == 'X')) {
            body.ptr += 2;
            body.len -= 2;
        }
        if (body.len != dec.len * 2) abort();
        char *hex = ak_malloc(dec.len * 2 + 1);
        if (hex == NULL) abort();
        ak_hex_encode(dec.ptr, dec.len, hex);
        if (!ak_cur_eq_nocase(ak_cur_from(hex, dec.len * 2), body)) abort();
        /* the exact-length decoder agrees */
        uint8_t *ex = ak_malloc(dec.len + 1);
        if (ex == NULL) abort();
        if (ak_hex_decode_exact(in, allow_0x, ex, dec.len) != AK_OK) abort();
        if (dec.len && memcmp(ex, dec.ptr, dec.len) != 0) abort();
        ak_free(ex);
        ak_free(hex);
    } else if (rc != AK_E_BAD_HEX && rc != AK_E_LIMIT) {
        abort();
    }
    ak_buf_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ak_cur in = ak_cur_from(data, size);
    size_t live = ak_alloc_live_count();
    s_check_b64(in, false);
    s_check_b64(in, true);
    s_check_hex(in, false);
    s_check_hex(in, true);
    if (ak_alloc_live_count() != live) abort();
    return 0;
}
