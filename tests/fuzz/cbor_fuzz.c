/*
 * cbor_fuzz.c — the strict CBOR decoder (ak/cbor.h) that COSE_Sign1 and Nitro attestation
 * documents go through.
 *
 * Input: byte 0 picks the limits (depth 1..16, items, string length), the rest is decoded as a
 * sequence of items until the first error.
 * Properties: no crash, overread, leak or UB; an error leaves the cursor where it was; a
 * decoded item's `raw` is exactly the bytes consumed and decodes alone (decode_all) to the
 * same item; walking a container's body finds `count` items (pairs for maps) and nothing
 * else, recursively; map lookups find each key of a map; text strings are valid UTF-8 by
 * construction (re-checked by decoding them alone); an item accepted under tight limits is
 * accepted under the defaults.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check(const ak_cbor_item *it, size_t depth);

static void s_same(const ak_cbor_item *a, const ak_cbor_item *b) {
    if (a->type != b->type || a->val != b->val || a->count != b->count || a->indefinite != b->indefinite ||
        !ak_cur_eq(a->raw, b->raw) || !ak_cur_eq(a->str, b->str) || !ak_cur_eq(a->body, b->body))
        abort();
}

static void s_walk(const ak_cbor_item *it, size_t per, size_t depth) {
    ak_cur r = it->body;
    size_t n = 0;
    while (r.len > 0) {
        for (size_t k = 0; k < per; k++) {
            ak_cbor_item x;
            if (ak_cbor_decode(&r, &it->lim, &x) != AK_OK) abort();
            s_check(&x, depth + 1);
            if (per == 2 && k == 0) {
                /* the key must be found again by lookup when it is an int or a short text */
                ak_cbor_item v;
                int64_t ik;
                if (ak_cbor_get_int(&x, &ik) == AK_OK && ak_cbor_map_get_int(it, ik, &v) != AK_OK) abort();
            }
        }
        n++;
    }
    if (n != it->count) abort();
}

static void s_check(const ak_cbor_item *it, size_t depth) {
    if (depth > AK_CBOR_MAX_DEPTH) abort();
    ak_cbor_item again;
    if (ak_cbor_decode_all(it->raw, &it->lim, &again) != AK_OK) abort();
    s_same(it, &again);
    switch (it->type) {
        case AK_CBOR_ARRAY:
            s_walk(it, 1, depth);
            break;
        case AK_CBOR_MAP:
            s_walk(it, 2, depth);
            break;
        case AK_CBOR_TAG: {
            ak_cbor_item inner;
            if (ak_cbor_decode_all(it->body, &it->lim, &inner) != AK_OK) abort();
            s_check(&inner, depth + 1);
            break;
        }
        case AK_CBOR_SIMPLE:
            if (it->val != AK_CBOR_FALSE && it->val != AK_CBOR_TRUE && it->val != AK_CBOR_NULL) abort();
            break;
        default:
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    ak_cbor_limits lim = {(size_t)(data[0] & 0x0f) + 1, (size_t)((data[0] >> 4) & 0x07) * 8 + 1,
                          (data[0] & 0x80) ? 16u : 0u};
    ak_cur c = ak_cur_from(data + 1, size - 1);
    while (c.len > 0) {
        ak_cur before = c;
        ak_cbor_item it;
        ak_err e = ak_cbor_decode(&c, &lim, &it);
        if (e != AK_OK) {
            if (c.ptr != before.ptr || c.len != before.len) abort();
            if (e != AK_E_INVALID_INPUT && e != AK_E_LIMIT) abort();
            break;
        }
        if (it.raw.ptr != before.ptr || it.raw.len != (size_t)(c.ptr - before.ptr)) abort();
        s_check(&it, 1);
        ak_cur c3 = before;
        ak_cbor_item loose;
        if (ak_cbor_decode(&c3, NULL, &loose) != AK_OK) abort();
        s_same(&it, &loose);
    }
    return 0;
}
