/*
 * cbor.c — strict CBOR decoder and head encoder (see ak/cbor.h for the rules; RFC 8949).
 */
#include <string.h>

#include "ak/cbor.h"

#define S_BREAK 0xffu

static ak_cbor_limits s_resolve(const ak_cbor_limits *lim) {
    ak_cbor_limits l = {AK_CBOR_DEFAULT_DEPTH, AK_CBOR_DEFAULT_ITEMS, AK_CBOR_DEFAULT_STR};
    if (lim != NULL) {
        if (lim->max_depth != 0) l.max_depth = lim->max_depth;
        if (lim->max_items != 0) l.max_items = lim->max_items;
        if (lim->max_str != 0) l.max_str = lim->max_str;
    }
    if (l.max_depth > AK_CBOR_MAX_DEPTH) l.max_depth = AK_CBOR_MAX_DEPTH;
    return l;
}

/* RFC 3629 §4 syntax: no overlong forms, no surrogates (U+D800..DFFF), nothing above U+10FFFF. */
static bool s_utf8_ok(ak_cur s) {
    size_t i = 0;
    while (i < s.len) {
        uint8_t b = s.ptr[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */
        if (b >= 0xc2 && b <= 0xdf) {
            n = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            n = 2;
            if (b == 0xe0) lo = 0xa0; /* overlong */
            if (b == 0xed) hi = 0x9f; /* surrogates */
        } else if (b >= 0xf0 && b <= 0xf4) {
            n = 3;
            if (b == 0xf0) lo = 0x90; /* overlong */
            if (b == 0xf4) hi = 0x8f; /* > U+10FFFF */
        } else {
            return false; /* continuation byte first, 0xc0/0xc1 (overlong), 0xf5.. */
        }
        if (s.len - i <= n) return false;
        if (s.ptr[i + 1] < lo || s.ptr[i + 1] > hi) return false;
        for (size_t k = 2; k <= n; k++)
            if ((s.ptr[i + k] & 0xc0) != 0x80) return false;
        i += n + 1;
    }
    return true;
}

/* Reads one head: major type, additional information, argument. ai 31 (indefinite) leaves
 * arg 0. Refuses reserved ai 28..30 and non-shortest arguments (§4.2.1). Advances *c. */
static ak_err s_head(ak_cur *c, uint8_t *major, uint8_t *ai, uint64_t *arg) {
    uint8_t ib;
    AK_GUARD(ak_cur_read_u8(c, &ib));
    *major = (uint8_t)(ib >> 5);
    *ai = (uint8_t)(ib & 0x1f);
    *arg = 0;
    if (*ai < 24) {
        *arg = *ai;
        return AK_OK;
    }
    if (*ai >= 28 && *ai <= 30) return AK_E_INVALID_INPUT;
    if (*ai == 31) return AK_OK;
    size_t n = (size_t)1 << (*ai - 24);
    ak_cur v;
    AK_GUARD(ak_cur_take(c, n, &v));
    uint64_t a = 0;
    for (size_t i = 0; i < n; i++)
        a = (a << 8) | v.ptr[i];
    /* Floats (major 7, ai 25..27) have no "shortest" rule here: the caller refuses them. */
    if (*major != 7) {
        static const uint64_t floor[4] = {24u, 0x100u, 0x10000u, 0x100000000u};
        if (a < floor[*ai - 24]) return AK_E_INVALID_INPUT;
    }
    *arg = a;
    return AK_OK;
}

static ak_err s_item(ak_cur *c, const ak_cbor_limits *lim, size_t depth, ak_cbor_item *out);

/* Skips one item that s_item has already validated (no checks beyond bounds: linear time, so
 * the duplicate-key scan below costs O(pairs x map size), not a re-validation per key). */
static ak_err s_skip(ak_cur *r) {
    uint8_t major, ai;
    uint64_t arg;
    AK_GUARD(s_head(r, &major, &ai, &arg));
    ak_cur skipped;
    switch (major) {
        case 2:
        case 3:
            return ak_cur_take(r, (size_t)arg, &skipped);
        case 4:
        case 5: {
            uint64_t per = major == 5 ? 2 : 1;
            if (ai == 31) {
                for (;;) {
                    AK_ENSURE(r->len > 0, AK_E_INVALID_INPUT);
                    if (r->ptr[0] == S_BREAK) return ak_cur_take(r, 1, &skipped);
                    for (uint64_t k = 0; k < per; k++)
                        AK_GUARD(s_skip(r));
                }
            }
            for (uint64_t i = 0; i < arg; i++)
                for (uint64_t k = 0; k < per; k++)
                    AK_GUARD(s_skip(r));
            return AK_OK;
        }
        case 6:
            return s_skip(r);
        default:
            return AK_OK;
    }
}

/* Is the just-decoded key `key` (raw encoding) already among the keys of the map body that
 * starts at `start` and ends where `key` begins? That part of the body is already validated. */
static ak_err s_dup_key(ak_cur start, ak_cur key) {
    ak_cur r = {start.ptr, (size_t)(key.ptr - start.ptr)};
    while (r.len > 0) {
        ak_cur k = r;
        AK_GUARD(s_skip(&r));
        k.len = (size_t)(r.ptr - k.ptr);
        if (ak_cur_eq(k, key)) return AK_E_INVALID_INPUT;
        AK_GUARD(s_skip(&r));
    }
    return AK_OK;
}

/* Arrays (pairs == false) and maps: `n` items/pairs, or up to a break when indefinite. */
static ak_err s_container(ak_cur *r, const ak_cbor_limits *lim, size_t depth, bool pairs, bool indefinite,
                          uint64_t n, ak_cbor_item *out) {
    if (!indefinite && n > lim->max_items) return AK_E_LIMIT;
    ak_cur body_start = *r;
    size_t count = 0;
    for (;;) {
        if (indefinite) {
            if (r->len == 0) return AK_E_INVALID_INPUT;
            if (r->ptr[0] == S_BREAK) break;
            if (count == lim->max_items) return AK_E_LIMIT;
        } else if (count == n) {
            break;
        }
        ak_cbor_item k, v;
        AK_GUARD(s_item(r, lim, depth + 1, &k));
        if (pairs) {
            AK_GUARD(s_dup_key(body_start, k.raw));
            AK_GUARD(s_item(r, lim, depth + 1, &v));
        }
        count++;
    }
    out->body = (ak_cur){body_start.ptr, (size_t)(r->ptr - body_start.ptr)};
    if (indefinite) {
        r->ptr++; /* the break */
        r->len--;
    }
    out->count = count;
    out->indefinite = indefinite;
    return AK_OK;
}

static ak_err s_item(ak_cur *c, const ak_cbor_limits *lim, size_t depth, ak_cbor_item *out) {
    if (depth > lim->max_depth) return AK_E_LIMIT;
    ak_cur r = *c;
    uint8_t major, ai;
    uint64_t arg;
    AK_GUARD(s_head(&r, &major, &ai, &arg));
    memset(out, 0, sizeof(*out));
    out->type = (ak_cbor_type)major;
    out->val = arg;
    out->lim = *lim;
    bool indefinite = ai == 31;
    switch (major) {
        case 0:
        case 1:
            AK_ENSURE(!indefinite, AK_E_INVALID_INPUT);
            break;
        case 2:
        case 3:
            AK_ENSURE(!indefinite, AK_E_INVALID_INPUT); /* indefinite-length strings: refused */
            if (arg > lim->max_str) return AK_E_LIMIT;
            AK_GUARD(ak_cur_take(&r, (size_t)arg, &out->str));
            if (major == 3 && !s_utf8_ok(out->str)) return AK_E_INVALID_INPUT;
            out->val = 0;
            break;
        case 4:
        case 5:
            AK_GUARD(s_container(&r, lim, depth, major == 5, indefinite, arg, out));
            out->val = 0;
            break;
        case 6: {
            AK_ENSURE(!indefinite, AK_E_INVALID_INPUT);
            ak_cbor_item inner;
            AK_GUARD(s_item(&r, lim, depth + 1, &inner));
            out->body = inner.raw;
            break;
        }
        default: /* 7: only false, true, null */
            AK_ENSURE(ai == AK_CBOR_FALSE || ai == AK_CBOR_TRUE || ai == AK_CBOR_NULL, AK_E_INVALID_INPUT);
            break;
    }
    out->raw = (ak_cur){c->ptr, (size_t)(r.ptr - c->ptr)};
    *c = r;
    return AK_OK;
}

ak_err ak_cbor_decode(ak_cur *c, const ak_cbor_limits *lim, ak_cbor_item *out) {
    AK_PRECOND(c != NULL && out != NULL);
    ak_cbor_limits l = s_resolve(lim);
    ak_cur r = *c;
    AK_GUARD(s_item(&r, &l, 1, out));
    *c = r;
    return AK_OK;
}

ak_err ak_cbor_decode_all(ak_cur in, const ak_cbor_limits *lim, ak_cbor_item *out) {
    AK_GUARD(ak_cbor_decode(&in, lim, out));
    AK_ENSURE(in.len == 0, AK_E_INVALID_INPUT);
    return AK_OK;
}

ak_err ak_cbor_get_uint(const ak_cbor_item *it, uint64_t *out) {
    AK_PRECOND(it != NULL && out != NULL);
    AK_ENSURE(it->type == AK_CBOR_UINT, AK_E_WRONG_TYPE);
    *out = it->val;
    return AK_OK;
}

ak_err ak_cbor_get_int(const ak_cbor_item *it, int64_t *out) {
    AK_PRECOND(it != NULL && out != NULL);
    AK_ENSURE(it->type == AK_CBOR_UINT || it->type == AK_CBOR_NINT, AK_E_WRONG_TYPE);
    AK_ENSURE(it->val <= (uint64_t)INT64_MAX, AK_E_LIMIT);
    *out = it->type == AK_CBOR_UINT ? (int64_t)it->val : -1 - (int64_t)it->val;
    return AK_OK;
}

ak_err ak_cbor_get_bstr(const ak_cbor_item *it, ak_cur *out) {
    AK_PRECOND(it != NULL && out != NULL);
    AK_ENSURE(it->type == AK_CBOR_BSTR, AK_E_WRONG_TYPE);
    *out = it->str;
    return AK_OK;
}

ak_err ak_cbor_get_tstr(const ak_cbor_item *it, ak_cur *out) {
    AK_PRECOND(it != NULL && out != NULL);
    AK_ENSURE(it->type == AK_CBOR_TSTR, AK_E_WRONG_TYPE);
    *out = it->str;
    return AK_OK;
}

bool ak_cbor_is_null(const ak_cbor_item *it) {
    AK_PRECOND(it != NULL);
    return it->type == AK_CBOR_SIMPLE && it->val == AK_CBOR_NULL;
}

/* Walks the pairs of `map`, returning the value whose key's encoding equals `key_enc`. */
static ak_err s_map_get(const ak_cbor_item *map, ak_cur key_enc, ak_cbor_item *val) {
    AK_PRECOND(map != NULL && val != NULL);
    AK_ENSURE(map->type == AK_CBOR_MAP, AK_E_WRONG_TYPE);
    ak_cur r = map->body;
    while (r.len > 0) {
        ak_cbor_item k, v;
        AK_GUARD(ak_cbor_decode(&r, &map->lim, &k));
        AK_GUARD(ak_cbor_decode(&r, &map->lim, &v));
        if (ak_cur_eq(k.raw, key_enc)) {
            *val = v;
            return AK_OK;
        }
    }
    return AK_E_NOT_FOUND;
}

ak_err ak_cbor_map_get_tstr(const ak_cbor_item *map, const char *key, ak_cbor_item *val) {
    AK_PRECOND(key != NULL);
    size_t n = strlen(key);
    uint8_t enc[64 + 9];
    AK_ENSURE(n <= 64, AK_E_NOT_FOUND); /* no key we look up is longer */
    size_t h = ak_cbor_head(3, n, enc);
    memcpy(enc + h, key, n);
    return s_map_get(map, ak_cur_from(enc, h + n), val);
}

ak_err ak_cbor_map_get_int(const ak_cbor_item *map, int64_t key, ak_cbor_item *val) {
    uint8_t enc[9];
    size_t h = key >= 0 ? ak_cbor_head(0, (uint64_t)key, enc) : ak_cbor_head(1, (uint64_t)(-1 - key), enc);
    return s_map_get(map, ak_cur_from(enc, h), val);
}

size_t ak_cbor_head(uint8_t major, uint64_t arg, uint8_t hdr[9]) {
    AK_PRECOND(major <= 7 && hdr != NULL);
    uint8_t mt = (uint8_t)(major << 5);
    size_t n;
    if (arg < 24) {
        hdr[0] = (uint8_t)(mt | arg);
        return 1;
    } else if (arg <= 0xff) {
        hdr[0] = (uint8_t)(mt | 24);
        n = 1;
    } else if (arg <= 0xffff) {
        hdr[0] = (uint8_t)(mt | 25);
        n = 2;
    } else if (arg <= 0xffffffffu) {
        hdr[0] = (uint8_t)(mt | 26);
        n = 4;
    } else {
        hdr[0] = (uint8_t)(mt | 27);
        n = 8;
    }
    for (size_t i = 0; i < n; i++)
        hdr[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
    return 1 + n;
}

ak_err ak_cbor_put_head(ak_buf *out, uint8_t major, uint64_t arg) {
    uint8_t hdr[9];
    size_t n = ak_cbor_head(major, arg, hdr);
    return ak_buf_append(out, hdr, n);
}
