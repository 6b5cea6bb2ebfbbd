/*
 * abi_decode_fuzz.c — libFuzzer target for the ABI type parser and the strict decoder.
 *
 * Input: "<type list>\n<data>" when a newline appears in the first 256 bytes (the type text is
 * fuzzed too), else byte 0 picks one of the type lists our contracts use and the rest is data.
 * Properties: no crash / overread (ASan); a successful decode re-encodes, and the re-encoding
 * decodes again to the same bytes (canonical fixed point).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/abi.h"

static const char *const s_types[] = {
    "bytes32,bytes32,bytes32,bytes32,uint256,uint256,uint8,uint8,uint64,uint32,bool", /* getDevice */
    "bytes32[]",
    "bool",
    "uint256",
    "bytes32,uint256,address,bytes,string,bytes32[]",
    "(bytes32[],bool,uint128,uint128,uint128,uint32,uint64,bool)", /* getScope */
    "(bytes32,bytes,bytes,uint256,uint256,uint256)[]",             /* K11Assertion[] */
    "uint256[][],string[]",
    "(bytes32,(bytes,string)[])",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    ak_cur types, body;
    const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
    if (nl != NULL) {
        types = ak_cur_from(data, (size_t)(nl - data));
        body = ak_cur_from(nl + 1, size - (size_t)(nl - data) - 1);
    } else {
        types = ak_cur_from_str(s_types[data[0] % (sizeof(s_types) / sizeof(s_types[0]))]);
        body = ak_cur_from(data + 1, size - 1);
    }
    ak_arena arena;
    ak_arena_init(&arena, 32u << 20);
    ak_abi_type t;
    ak_abi_val v;
    ak_buf enc1, enc2;
    ak_buf_init(&enc1, 64u << 20);
    ak_buf_init(&enc2, 64u << 20);
    if (ak_abi_parse_types(&arena, types, &t) == AK_OK && ak_abi_decode(&arena, &t, body, &v) == AK_OK) {
        /* aliased offsets can make the canonical form larger than any ceiling: that is allowed */
        ak_err rc = ak_abi_encode(v.items, v.count, &enc1);
        if (rc == AK_E_LIMIT || rc == AK_E_NOMEM) goto out;
        if (rc != AK_OK) abort();
        ak_abi_val v2;
        if (ak_abi_decode(&arena, &t, ak_buf_cur(&enc1), &v2) != AK_OK) abort();
        if (ak_abi_encode(v2.items, v2.count, &enc2) != AK_OK) abort();
        if (enc1.len != enc2.len || memcmp(enc1.ptr, enc2.ptr, enc1.len) != 0) abort();
        /* static types have one encoding: strict decoding accepted exactly that */
        if (!ak_abi_type_is_dynamic(&t) &&
            (enc1.len != body.len || memcmp(enc1.ptr, body.ptr, body.len) != 0))
            abort();
    }
out:
    ak_buf_free(&enc1);
    ak_buf_free(&enc2);
    ak_arena_free(&arena);
    return 0;
}
