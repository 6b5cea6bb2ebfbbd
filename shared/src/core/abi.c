/*
 * abi.c — Solidity ABI encoding and strict decoding (see ak/abi.h).
 *
 * Spec: Solidity "Contract ABI Specification", "Formal Specification of the Encoding":
 *   enc((X1..Xk)) = head(X1) … head(Xk) tail(X1) … tail(Xk); head(Xi) = enc(Xi) for static Xi,
 *   else enc(len(head(X1)..head(Xk) tail(X1)..tail(X(i-1)))) (the offset from the tuple start);
 *   enc(T[] with k items) = enc(k) enc((X[0], …, X[k-1]));
 *   enc(bytes of length k) = enc(k) ‖ the bytes, right-padded with zeros to a multiple of 32;
 *   uintN / address / bool: left-padded big-endian 32-byte words; bytesN: right-padded.
 */
#include <string.h>

#include "ak/abi.h"
#include "ak/crypto.h"

/* ------------------------------------------------------------------ u256 */

ak_u256 ak_u256_from_u64(uint64_t v) {
    ak_u256 r;
    memset(&r, 0, sizeof(r));
    for (unsigned i = 0; i < 8; i++)
        r.be[31 - i] = (uint8_t)(v >> (8 * i));
    return r;
}

bool ak_u256_is_zero(const ak_u256 *v) {
    uint8_t acc = 0;
    for (unsigned i = 0; i < 32; i++)
        acc |= v->be[i];
    return acc == 0;
}

ak_err ak_u256_to_u64(const ak_u256 *v, uint64_t *out) {
    for (unsigned i = 0; i < 24; i++)
        AK_ENSURE(v->be[i] == 0, AK_E_LIMIT);
    uint64_t r = 0;
    for (unsigned i = 24; i < 32; i++)
        r = (r << 8) | v->be[i];
    *out = r;
    return AK_OK;
}

ak_err ak_u256_from_dec(ak_cur text, ak_u256 *out) {
    AK_ENSURE(text.len > 0 && text.len <= 78, AK_E_INVALID_INPUT);
    ak_u256 r;
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < text.len; i++) {
        uint8_t ch = text.ptr[i];
        AK_ENSURE(ch >= '0' && ch <= '9', AK_E_INVALID_INPUT);
        unsigned carry = (unsigned)(ch - '0');
        for (int k = 31; k >= 0; k--) {
            unsigned t = (unsigned)r.be[k] * 10u + carry;
            r.be[k] = (uint8_t)t;
            carry = t >> 8;
        }
        AK_ENSURE(carry == 0, AK_E_INVALID_INPUT); /* > 2^256 - 1 */
    }
    *out = r;
    return AK_OK;
}

ak_err ak_u256_append_dec(const ak_u256 *v, ak_buf *out) {
    ak_u256 t = *v;
    char digits[80];
    size_t nd = 0;
    do {
        unsigned rem = 0;
        for (unsigned k = 0; k < 32; k++) { /* t /= 10, long division from the top byte */
            unsigned cur = (rem << 8) | t.be[k];
            t.be[k] = (uint8_t)(cur / 10u);
            rem = cur % 10u;
        }
        digits[nd++] = (char)('0' + rem);
    } while (!ak_u256_is_zero(&t));
    char rev[80];
    for (size_t i = 0; i < nd; i++)
        rev[i] = digits[nd - 1 - i];
    return ak_buf_append(out, rev, nd);
}

/* ------------------------------------------------------------------ value constructors */

static ak_abi_val s_val(ak_abi_kind kind, uint16_t size) {
    ak_abi_val v;
    memset(&v, 0, sizeof(v));
    v.kind = kind;
    v.size = size;
    return v;
}

ak_abi_val ak_abi_uint256(const ak_u256 *v) { return ak_abi_uint256_be(v->be); }

ak_abi_val ak_abi_uint256_be(const uint8_t be[32]) {
    ak_abi_val v = s_val(AK_ABI_UINT, 256);
    memcpy(v.word, be, 32);
    return v;
}

ak_abi_val ak_abi_uint(unsigned bits, uint64_t x) {
    ak_abi_val v = s_val(AK_ABI_UINT, (uint16_t)bits);
    ak_u256 w = ak_u256_from_u64(x);
    memcpy(v.word, w.be, 32);
    return v; /* a value too wide for `bits` is caught by the encoder's word check */
}

ak_abi_val ak_abi_bool(bool b) {
    ak_abi_val v = s_val(AK_ABI_BOOL, 0);
    v.word[31] = b ? 1 : 0;
    return v;
}

ak_abi_val ak_abi_address(const uint8_t addr[20]) {
    ak_abi_val v = s_val(AK_ABI_ADDRESS, 0);
    memcpy(v.word + 12, addr, 20);
    return v;
}

ak_abi_val ak_abi_bytes32(const uint8_t b[32]) { return ak_abi_fixed_bytes(b, 32); }

ak_abi_val ak_abi_fixed_bytes(const uint8_t *b, unsigned n) {
    ak_abi_val v = s_val(AK_ABI_FIXED_BYTES, (uint16_t)n);
    if (n >= 1 && n <= 32) memcpy(v.word, b, n); /* a bad n is rejected by the encoder */
    return v;
}

ak_abi_val ak_abi_bytes(ak_cur b) {
    ak_abi_val v = s_val(AK_ABI_BYTES, 0);
    v.data = b;
    return v;
}

ak_abi_val ak_abi_string(ak_cur s) {
    ak_abi_val v = s_val(AK_ABI_STRING, 0);
    v.data = s;
    return v;
}

ak_abi_val ak_abi_tuple(const ak_abi_val *items, size_t n) {
    ak_abi_val v = s_val(AK_ABI_TUPLE, 0);
    v.items = items;
    v.count = n;
    return v;
}

ak_abi_val ak_abi_array(const ak_abi_val *items, size_t n) {
    ak_abi_val v = s_val(AK_ABI_ARRAY, 0);
    v.items = items;
    v.count = n;
    return v;
}

bool ak_abi_val_is_dynamic(const ak_abi_val *v) {
    switch (v->kind) {
        case AK_ABI_BYTES:
        case AK_ABI_STRING:
        case AK_ABI_ARRAY:
            return true;
        case AK_ABI_TUPLE:
            for (size_t i = 0; i < v->count; i++)
                if (ak_abi_val_is_dynamic(&v->items[i])) return true;
            return false;
        default:
            return false;
    }
}

/* ------------------------------------------------------------------ word checks (shared) */

static bool s_uint_bits_ok(unsigned bits) { return bits >= 8 && bits <= 256 && bits % 8 == 0; }

/* The word is a canonical value of a static scalar type. */
static bool s_word_ok(ak_abi_kind kind, unsigned size, const uint8_t w[32]) {
    uint8_t acc = 0;
    switch (kind) {
        case AK_ABI_UINT:
            if (!s_uint_bits_ok(size)) return false;
            for (unsigned i = 0; i < 32 - size / 8; i++)
                acc |= w[i];
            return acc == 0;
        case AK_ABI_BOOL:
            for (unsigned i = 0; i < 31; i++)
                acc |= w[i];
            return acc == 0 && w[31] <= 1;
        case AK_ABI_ADDRESS:
            for (unsigned i = 0; i < 12; i++)
                acc |= w[i];
            return acc == 0;
        case AK_ABI_FIXED_BYTES:
            if (size < 1 || size > 32) return false;
            for (unsigned i = size; i < 32; i++)
                acc |= w[i];
            return acc == 0;
        default:
            return false;
    }
}

static size_t s_pad32(size_t n) { return (n + 31u) & ~(size_t)31u; }

static ak_err s_add(size_t *acc, size_t n) {
    AK_ENSURE(*acc <= SIZE_MAX - n, AK_E_LIMIT);
    *acc += n;
    return AK_OK;
}

/* ------------------------------------------------------------------ encoder */

/* Both values have the same ABI type (array items must). Empty arrays match any array. */
static bool s_same_shape(const ak_abi_val *a, const ak_abi_val *b, unsigned depth) {
    if (depth > AK_ABI_MAX_DEPTH || a->kind != b->kind || a->size != b->size) return false;
    if (a->kind == AK_ABI_TUPLE) {
        if (a->count != b->count) return false;
        for (size_t i = 0; i < a->count; i++)
            if (!s_same_shape(&a->items[i], &b->items[i], depth + 1)) return false;
    }
    if (a->kind == AK_ABI_ARRAY && a->count > 0 && b->count > 0)
        return s_same_shape(&a->items[0], &b->items[0], depth + 1);
    return true;
}

static ak_err s_enc_size(const ak_abi_val *v, unsigned depth, size_t *out);

/* Size of the tuple encoding of items[0..n): heads plus tails. */
static ak_err s_tuple_size(const ak_abi_val *items, size_t n, unsigned depth, size_t *out) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s;
        AK_GUARD(s_enc_size(&items[i], depth, &s));
        if (ak_abi_val_is_dynamic(&items[i])) AK_GUARD(s_add(&total, 32));
        AK_GUARD(s_add(&total, s));
    }
    *out = total;
    return AK_OK;
}

/* Validates v and returns the size of enc(v) (its tail when dynamic, its inline size if static). */
static ak_err s_enc_size(const ak_abi_val *v, unsigned depth, size_t *out) {
    AK_ENSURE(depth <= AK_ABI_MAX_DEPTH, AK_E_LIMIT);
    switch (v->kind) {
        case AK_ABI_UINT:
        case AK_ABI_BOOL:
        case AK_ABI_ADDRESS:
        case AK_ABI_FIXED_BYTES:
            AK_ENSURE(s_word_ok(v->kind, v->size, v->word), AK_E_INVALID_INPUT);
            *out = 32;
            return AK_OK;
        case AK_ABI_BYTES:
        case AK_ABI_STRING:
            AK_ENSURE(v->data.ptr != NULL || v->data.len == 0, AK_E_INVALID_INPUT);
            AK_ENSURE(v->data.len <= SIZE_MAX - 64, AK_E_LIMIT);
            *out = 32 + s_pad32(v->data.len);
            return AK_OK;
        case AK_ABI_ARRAY: {
            AK_ENSURE(v->items != NULL || v->count == 0, AK_E_INVALID_INPUT);
            for (size_t i = 1; i < v->count; i++)
                AK_ENSURE(s_same_shape(&v->items[0], &v->items[i], depth + 1), AK_E_INVALID_INPUT);
            size_t s;
            AK_GUARD(s_tuple_size(v->items, v->count, depth + 1, &s));
            AK_GUARD(s_add(&s, 32));
            *out = s;
            return AK_OK;
        }
        case AK_ABI_TUPLE:
            AK_ENSURE(v->items != NULL || v->count == 0, AK_E_INVALID_INPUT);
            return s_tuple_size(v->items, v->count, depth + 1, out);
        default:
            return AK_E_INVALID_INPUT;
    }
}

static void s_put_len(uint8_t *dst, size_t n) {
    memset(dst, 0, 32);
    for (unsigned i = 0; i < sizeof(size_t) && i < 8; i++)
        dst[31 - i] = (uint8_t)((uint64_t)n >> (8 * i));
}

static void s_write(const ak_abi_val *v, uint8_t *dst);

/* Writes the tuple encoding of items at dst (sizes were validated by s_enc_size). */
static void s_write_tuple(const ak_abi_val *items, size_t n, uint8_t *dst) {
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = 0;
        (void)s_enc_size(&items[i], 0, &s);
        tail += ak_abi_val_is_dynamic(&items[i]) ? 32 : s;
    }
    for (size_t i = 0; i < n; i++) {
        size_t s = 0;
        (void)s_enc_size(&items[i], 0, &s);
        if (ak_abi_val_is_dynamic(&items[i])) {
            s_put_len(dst + head, tail); /* offset from the start of this tuple */
            s_write(&items[i], dst + tail);
            tail += s;
            head += 32;
        } else {
            s_write(&items[i], dst + head);
            head += s;
        }
    }
}

static void s_write(const ak_abi_val *v, uint8_t *dst) {
    switch (v->kind) {
        case AK_ABI_BYTES:
        case AK_ABI_STRING:
            s_put_len(dst, v->data.len);
            if (v->data.len) memcpy(dst + 32, v->data.ptr, v->data.len);
            memset(dst + 32 + v->data.len, 0, s_pad32(v->data.len) - v->data.len);
            return;
        case AK_ABI_ARRAY:
            s_put_len(dst, v->count);
            s_write_tuple(v->items, v->count, dst + 32);
            return;
        case AK_ABI_TUPLE:
            s_write_tuple(v->items, v->count, dst);
            return;
        default:
            memcpy(dst, v->word, 32);
            return;
    }
}

ak_err ak_abi_encode(const ak_abi_val *items, size_t n, ak_buf *out) {
    AK_PRECOND(out != NULL && (items != NULL || n == 0));
    size_t total;
    AK_GUARD(s_tuple_size(items, n, 1, &total));
    AK_GUARD(ak_buf_reserve(out, total));
    s_write_tuple(items, n, out->ptr + out->len);
    out->len += total;
    out->ptr[out->len] = 0;
    return AK_OK;
}

/* ------------------------------------------------------------------ types */

bool ak_abi_type_is_dynamic(const ak_abi_type *t) {
    switch (t->kind) {
        case AK_ABI_BYTES:
        case AK_ABI_STRING:
        case AK_ABI_ARRAY:
            return true;
        case AK_ABI_TUPLE:
            for (size_t i = 0; i < t->count; i++)
                if (ak_abi_type_is_dynamic(&t->members[i])) return true;
            return false;
        default:
            return false;
    }
}

typedef struct {
    ak_arena *arena;
    ak_cur s;
    size_t pos;
} s_parser;

static bool s_is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static bool s_take_lit(s_parser *p, const char *lit) {
    size_t n = strlen(lit);
    if (p->s.len - p->pos < n || memcmp(p->s.ptr + p->pos, lit, n) != 0) return false;
    p->pos += n;
    return true;
}

/* Optional decimal suffix (no leading zero); *present=false when none. */
static ak_err s_take_num(s_parser *p, unsigned *out, bool *present) {
    size_t start = p->pos;
    unsigned v = 0;
    while (p->pos < p->s.len && s_is_digit(p->s.ptr[p->pos])) {
        AK_ENSURE(p->pos - start < 3, AK_E_INVALID_INPUT);
        v = v * 10u + (unsigned)(p->s.ptr[p->pos] - '0');
        p->pos++;
    }
    *present = p->pos > start;
    AK_ENSURE(!*present || p->s.ptr[start] != '0', AK_E_INVALID_INPUT);
    *out = v;
    return AK_OK;
}

static ak_err s_parse_tuple(s_parser *p, unsigned depth, ak_abi_type *out);

static ak_err s_parse_type(s_parser *p, unsigned depth, ak_abi_type *out) {
    AK_ENSURE(depth <= AK_ABI_MAX_DEPTH, AK_E_LIMIT);
    AK_ENSURE(p->pos < p->s.len, AK_E_INVALID_INPUT);
    memset(out, 0, sizeof(*out));
    unsigned n = 0;
    bool has_n = false;
    if (p->s.ptr[p->pos] == '(') {
        AK_GUARD(s_parse_tuple(p, depth + 1, out));
    } else if (s_take_lit(p, "uint")) {
        AK_GUARD(s_take_num(p, &n, &has_n));
        out->kind = AK_ABI_UINT;
        out->size = (uint16_t)(has_n ? n : 256);
        AK_ENSURE(s_uint_bits_ok(out->size), AK_E_INVALID_INPUT);
    } else if (s_take_lit(p, "bool")) {
        out->kind = AK_ABI_BOOL;
    } else if (s_take_lit(p, "address")) {
        out->kind = AK_ABI_ADDRESS;
    } else if (s_take_lit(p, "string")) {
        out->kind = AK_ABI_STRING;
    } else if (s_take_lit(p, "bytes")) {
        AK_GUARD(s_take_num(p, &n, &has_n));
        out->kind = has_n ? AK_ABI_FIXED_BYTES : AK_ABI_BYTES;
        out->size = (uint16_t)(has_n ? n : 0);
        AK_ENSURE(!has_n || (n >= 1 && n <= 32), AK_E_INVALID_INPUT);
    } else {
        return AK_E_INVALID_INPUT; /* int, fixed, function, T[k], names … are not supported */
    }
    /* any number of "[]" suffixes wrap the type into dynamic arrays */
    while (s_take_lit(p, "[]")) {
        AK_ENSURE(++depth <= AK_ABI_MAX_DEPTH, AK_E_LIMIT);
        ak_abi_type *elem = ak_arena_alloc(p->arena, sizeof(*elem));
        AK_ENSURE(elem != NULL, AK_E_LIMIT);
        *elem = *out;
        memset(out, 0, sizeof(*out));
        out->kind = AK_ABI_ARRAY;
        out->elem = elem;
    }
    return AK_OK;
}

/* "(t1,…,tn)" at p->pos. */
static ak_err s_parse_tuple(s_parser *p, unsigned depth, ak_abi_type *out) {
    AK_ENSURE(depth <= AK_ABI_MAX_DEPTH, AK_E_LIMIT);
    AK_ENSURE(s_take_lit(p, "("), AK_E_INVALID_INPUT);
    /* count the members first: commas at nesting level 0 up to the matching ')' */
    size_t count = 0, lvl = 0, i = p->pos;
    bool closed = false;
    for (; i < p->s.len && !closed; i++) {
        uint8_t c = p->s.ptr[i];
        if (c == '(')
            lvl++;
        else if (c == ')' && lvl == 0)
            closed = true;
        else if (c == ')')
            lvl--;
        else if (c == ',' && lvl == 0)
            count++;
    }
    AK_ENSURE(closed, AK_E_INVALID_INPUT);
    bool empty = p->s.ptr[p->pos] == ')';
    if (!empty) count++;
    memset(out, 0, sizeof(*out));
    out->kind = AK_ABI_TUPLE;
    out->count = count;
    if (count > 0) {
        ak_abi_type *m = ak_arena_alloc(p->arena, count * sizeof(*m));
        AK_ENSURE(m != NULL, AK_E_LIMIT);
        for (size_t k = 0; k < count; k++) {
            if (k > 0) AK_ENSURE(s_take_lit(p, ","), AK_E_INVALID_INPUT);
            AK_GUARD(s_parse_type(p, depth, &m[k]));
        }
        out->members = m;
    }
    AK_ENSURE(s_take_lit(p, ")"), AK_E_INVALID_INPUT);
    return AK_OK;
}

ak_err ak_abi_parse_types(ak_arena *arena, ak_cur text, ak_abi_type *out_tuple) {
    AK_PRECOND(arena != NULL && out_tuple != NULL);
    s_parser p = {arena, text, 0};
    if (text.len > 0 && text.ptr[0] == '(') {
        /* "(a,b)" is the list itself only when the first ')' that closes it ends the text */
        size_t lvl = 0, i = 0;
        for (; i < text.len; i++) {
            if (text.ptr[i] == '(')
                lvl++;
            else if (text.ptr[i] == ')' && --lvl == 0)
                break;
        }
        if (i + 1 == text.len) {
            AK_GUARD(s_parse_tuple(&p, 1, out_tuple));
            AK_ENSURE(p.pos == text.len, AK_E_INVALID_INPUT);
            return AK_OK;
        }
    }
    /* bare list "t1,t2": parse it as if it were parenthesised, without copying */
    size_t count = text.len == 0 ? 0 : 1, lvl = 0;
    for (size_t i = 0; i < text.len; i++) {
        if (text.ptr[i] == '(')
            lvl++;
        else if (text.ptr[i] == ')') {
            AK_ENSURE(lvl > 0, AK_E_INVALID_INPUT);
            lvl--;
        } else if (text.ptr[i] == ',' && lvl == 0)
            count++;
    }
    AK_ENSURE(lvl == 0, AK_E_INVALID_INPUT);
    memset(out_tuple, 0, sizeof(*out_tuple));
    out_tuple->kind = AK_ABI_TUPLE;
    out_tuple->count = count;
    if (count == 0) return AK_OK;
    ak_abi_type *m = ak_arena_alloc(arena, count * sizeof(*m));
    AK_ENSURE(m != NULL, AK_E_LIMIT);
    for (size_t k = 0; k < count; k++) {
        if (k > 0) AK_ENSURE(s_take_lit(&p, ","), AK_E_INVALID_INPUT);
        AK_GUARD(s_parse_type(&p, 1, &m[k]));
    }
    AK_ENSURE(p.pos == text.len, AK_E_INVALID_INPUT);
    out_tuple->members = m;
    return AK_OK;
}

static bool s_ident_char(uint8_t c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
           (!first && s_is_digit(c));
}

ak_err ak_abi_parse_signature(ak_arena *arena, ak_cur sig, ak_cur *name, ak_abi_type *params,
                              ak_abi_type *returns, bool *has_returns) {
    AK_PRECOND(arena != NULL && name != NULL && params != NULL && has_returns != NULL);
    size_t i = 0;
    while (i < sig.len && sig.ptr[i] != '(') {
        AK_ENSURE(s_ident_char(sig.ptr[i], i == 0), AK_E_INVALID_INPUT);
        i++;
    }
    AK_ENSURE(i > 0 && i < sig.len, AK_E_INVALID_INPUT);
    *name = ak_cur_from(sig.ptr, i);
    s_parser p = {arena, sig, i};
    AK_GUARD(s_parse_tuple(&p, 1, params));
    *has_returns = false;
    if (p.pos < sig.len) {
        AK_ENSURE(returns != NULL, AK_E_INVALID_INPUT);
        AK_GUARD(s_parse_tuple(&p, 1, returns));
        *has_returns = true;
    }
    AK_ENSURE(p.pos == sig.len, AK_E_INVALID_INPUT);
    return AK_OK;
}

ak_err ak_abi_type_append(const ak_abi_type *t, ak_buf *out) {
    switch (t->kind) {
        case AK_ABI_UINT:
            return ak_buf_printf(out, "uint%u", (unsigned)t->size);
        case AK_ABI_BOOL:
            return ak_buf_append_str(out, "bool");
        case AK_ABI_ADDRESS:
            return ak_buf_append_str(out, "address");
        case AK_ABI_FIXED_BYTES:
            return ak_buf_printf(out, "bytes%u", (unsigned)t->size);
        case AK_ABI_BYTES:
            return ak_buf_append_str(out, "bytes");
        case AK_ABI_STRING:
            return ak_buf_append_str(out, "string");
        case AK_ABI_ARRAY:
            AK_GUARD(ak_abi_type_append(t->elem, out));
            return ak_buf_append_str(out, "[]");
        case AK_ABI_TUPLE:
            AK_GUARD(ak_buf_append_byte(out, '('));
            for (size_t i = 0; i < t->count; i++) {
                if (i > 0) AK_GUARD(ak_buf_append_byte(out, ','));
                AK_GUARD(ak_abi_type_append(&t->members[i], out));
            }
            return ak_buf_append_byte(out, ')');
        default:
            return AK_E_INVALID_INPUT;
    }
}

/* Canonical "name(t1,…)" of a signature (returns part dropped) appended to out. */
static ak_err s_canonical_sig(ak_arena *arena, const char *sig, ak_abi_type *params, ak_buf *out) {
    ak_cur name;
    ak_abi_type rets;
    bool has_rets;
    AK_GUARD(ak_abi_parse_signature(arena, ak_cur_from_str(sig), &name, params, &rets, &has_rets));
    AK_GUARD(ak_buf_append_cur(out, name));
    return ak_abi_type_append(params, out);
}

ak_err ak_abi_selector(const char *sig, uint8_t sel[4], uint8_t topic[32]) {
    AK_PRECOND(sig != NULL && sel != NULL);
    ak_arena arena;
    ak_arena_init(&arena, 1u << 20);
    ak_buf canon;
    ak_buf_init(&canon, 4096);
    ak_abi_type params;
    ak_err rc = s_canonical_sig(&arena, sig, &params, &canon);
    if (rc == AK_OK) {
        uint8_t h[32];
        ak_keccak256(canon.ptr, canon.len, h);
        memcpy(sel, h, 4);
        if (topic != NULL) memcpy(topic, h, 32);
    }
    ak_buf_free(&canon);
    ak_arena_free(&arena);
    return rc;
}

/* The value has exactly the type t (arrays: every item has the element type). */
static bool s_val_matches(const ak_abi_type *t, const ak_abi_val *v, unsigned depth) {
    if (depth > AK_ABI_MAX_DEPTH || t->kind != v->kind || t->size != v->size) return false;
    if (t->kind == AK_ABI_TUPLE) {
        if (t->count != v->count) return false;
        for (size_t i = 0; i < t->count; i++)
            if (!s_val_matches(&t->members[i], &v->items[i], depth + 1)) return false;
    }
    if (t->kind == AK_ABI_ARRAY) {
        for (size_t i = 0; i < v->count; i++)
            if (!s_val_matches(t->elem, &v->items[i], depth + 1)) return false;
    }
    return true;
}

ak_err ak_abi_encode_call(const char *sig, const ak_abi_val *items, size_t n, ak_buf *out) {
    AK_PRECOND(sig != NULL && out != NULL && (items != NULL || n == 0));
    ak_err rc;
    ak_arena arena;
    ak_arena_init(&arena, 1u << 20);
    ak_buf canon;
    ak_buf_init(&canon, 4096);
    size_t start = out->len;
    ak_abi_type params;
    AK_GUARD_OUT(s_canonical_sig(&arena, sig, &params, &canon));
    ak_abi_val as_tuple = ak_abi_tuple(items, n);
    AK_ENSURE_OUT(s_val_matches(&params, &as_tuple, 0), AK_E_INVALID_INPUT);
    uint8_t h[32];
    ak_keccak256(canon.ptr, canon.len, h);
    AK_GUARD_OUT(ak_buf_append(out, h, 4));
    rc = ak_abi_encode(items, n, out);
    if (rc != AK_OK) out->len = start; /* nothing appended on error */
out:
    if (out->ptr != NULL) out->ptr[out->len] = 0;
    ak_buf_free(&canon);
    ak_arena_free(&arena);
    return rc;
}

/* ------------------------------------------------------------------ strict decoder */

void ak_abi_dec_init(ak_abi_dec *d, ak_cur data) {
    AK_PRECOND(d != NULL);
    memset(d, 0, sizeof(*d));
    d->all = data;
    d->hiwater = &d->root_hi;
    d->first_tail = SIZE_MAX;
}

static void s_mark(ak_abi_dec *d, size_t rel_end) {
    size_t abs = d->base + rel_end;
    if (abs > *d->hiwater) *d->hiwater = abs;
}

/* Reads the head word at d->head without advancing. */
static ak_err s_peek(const ak_abi_dec *d, uint8_t out[32]) {
    AK_ENSURE(d->head <= d->all.len && d->all.len - d->head >= 32, AK_E_INVALID_INPUT);
    memcpy(out, d->all.ptr + d->head, 32);
    return AK_OK;
}

/* A 32-byte length/offset word as a size_t no greater than `max`. */
static ak_err s_word_to_size(const uint8_t w[32], size_t max, size_t *out) {
    for (unsigned i = 0; i < 24; i++)
        AK_ENSURE(w[i] == 0, AK_E_INVALID_INPUT);
    uint64_t v = 0;
    for (unsigned i = 24; i < 32; i++)
        v = (v << 8) | w[i];
    AK_ENSURE(v <= (uint64_t)max, AK_E_INVALID_INPUT);
    *out = (size_t)v;
    return AK_OK;
}

ak_err ak_abi_dec_word(ak_abi_dec *d, uint8_t out[32]) {
    AK_PRECOND(d != NULL && out != NULL);
    AK_GUARD(s_peek(d, out));
    d->head += 32;
    s_mark(d, d->head);
    return AK_OK;
}

/* Reads a static scalar of `kind`/`size` with its canonical-form check. */
static ak_err s_dec_scalar(ak_abi_dec *d, ak_abi_kind kind, unsigned size, uint8_t w[32]) {
    AK_GUARD(s_peek(d, w));
    AK_ENSURE(s_word_ok(kind, size, w), AK_E_INVALID_INPUT);
    d->head += 32;
    s_mark(d, d->head);
    return AK_OK;
}

ak_err ak_abi_dec_bytes32(ak_abi_dec *d, uint8_t out[32]) {
    AK_PRECOND(d != NULL && out != NULL);
    return ak_abi_dec_word(d, out);
}

ak_err ak_abi_dec_fixed_bytes(ak_abi_dec *d, unsigned n, uint8_t *out) {
    AK_PRECOND(d != NULL && out != NULL && n >= 1 && n <= 32);
    uint8_t w[32];
    AK_GUARD(s_dec_scalar(d, AK_ABI_FIXED_BYTES, n, w));
    memcpy(out, w, n);
    return AK_OK;
}

ak_err ak_abi_dec_uint(ak_abi_dec *d, unsigned bits, ak_u256 *out) {
    AK_PRECOND(d != NULL && out != NULL && s_uint_bits_ok(bits));
    return s_dec_scalar(d, AK_ABI_UINT, bits, out->be);
}

ak_err ak_abi_dec_u64(ak_abi_dec *d, unsigned bits, uint64_t *out) {
    AK_PRECOND(d != NULL && out != NULL && s_uint_bits_ok(bits));
    ak_u256 v;
    AK_GUARD(s_peek(d, v.be));
    AK_ENSURE(s_word_ok(AK_ABI_UINT, bits, v.be), AK_E_INVALID_INPUT);
    AK_GUARD(ak_u256_to_u64(&v, out));
    d->head += 32;
    s_mark(d, d->head);
    return AK_OK;
}

ak_err ak_abi_dec_bool(ak_abi_dec *d, bool *out) {
    AK_PRECOND(d != NULL && out != NULL);
    uint8_t w[32];
    AK_GUARD(s_dec_scalar(d, AK_ABI_BOOL, 0, w));
    *out = w[31] == 1;
    return AK_OK;
}

ak_err ak_abi_dec_address(ak_abi_dec *d, uint8_t out[20]) {
    AK_PRECOND(d != NULL && out != NULL);
    uint8_t w[32];
    AK_GUARD(s_dec_scalar(d, AK_ABI_ADDRESS, 0, w));
    memcpy(out, w + 12, 20);
    return AK_OK;
}

/* Reads the offset word in the head (not advancing) and returns it, checked to lie within
 * the block with at least `need` bytes after it. */
static ak_err s_offset(const ak_abi_dec *d, size_t need, size_t *off) {
    uint8_t w[32];
    AK_GUARD(s_peek(d, w));
    AK_GUARD(s_word_to_size(w, d->all.len, off));
    AK_ENSURE(d->all.len - *off >= need, AK_E_INVALID_INPUT);
    return AK_OK;
}

static void s_note_tail(ak_abi_dec *d, size_t off) {
    if (off < d->first_tail) d->first_tail = off;
}

ak_err ak_abi_dec_bytes(ak_abi_dec *d, ak_cur *out) {
    AK_PRECOND(d != NULL && out != NULL);
    size_t off, len;
    AK_GUARD(s_offset(d, 32, &off));
    size_t avail = d->all.len - off - 32;
    AK_GUARD(s_word_to_size(d->all.ptr + off, avail, &len));
    size_t padded = s_pad32(len);
    AK_ENSURE(padded <= avail, AK_E_INVALID_INPUT); /* the zero pad must be present */
    const uint8_t *p = d->all.ptr + off + 32;
    uint8_t acc = 0;
    for (size_t i = len; i < padded; i++)
        acc |= p[i];
    AK_ENSURE(acc == 0, AK_E_INVALID_INPUT);
    *out = ak_cur_from(p, len);
    s_note_tail(d, off);
    d->head += 32;
    s_mark(d, d->head);
    s_mark(d, off + 32 + padded);
    return AK_OK;
}

ak_err ak_abi_dec_string(ak_abi_dec *d, ak_cur *out) { return ak_abi_dec_bytes(d, out); }

static void s_sub(ak_abi_dec *d, ak_abi_dec *sub, size_t start) {
    memset(sub, 0, sizeof(*sub));
    sub->all = ak_cur_from(d->all.ptr + start, d->all.len - start);
    sub->base = d->base + start;
    sub->hiwater = d->hiwater;
    sub->depth = d->depth + 1;
    sub->first_tail = SIZE_MAX;
}

ak_err ak_abi_dec_tuple(ak_abi_dec *d, ak_abi_dec *sub) {
    AK_PRECOND(d != NULL && sub != NULL && sub != d);
    AK_ENSURE(d->depth < AK_ABI_MAX_DEPTH, AK_E_LIMIT);
    size_t off;
    AK_GUARD(s_offset(d, 32, &off)); /* a dynamic tuple has at least one head word */
    s_note_tail(d, off);
    d->head += 32;
    s_mark(d, d->head);
    s_sub(d, sub, off);
    return AK_OK;
}

ak_err ak_abi_dec_array(ak_abi_dec *d, ak_abi_dec *sub, size_t *count) {
    AK_PRECOND(d != NULL && sub != NULL && sub != d && count != NULL);
    AK_ENSURE(d->depth < AK_ABI_MAX_DEPTH, AK_E_LIMIT);
    size_t off, n;
    AK_GUARD(s_offset(d, 32, &off));
    /* every element has at least one 32-byte head word after the length */
    AK_GUARD(s_word_to_size(d->all.ptr + off, (d->all.len - off - 32) / 32, &n));
    s_note_tail(d, off);
    d->head += 32;
    s_mark(d, d->head);
    s_mark(d, off + 32);
    s_sub(d, sub, off + 32);
    *count = n;
    return AK_OK;
}

ak_err ak_abi_dec_finish(const ak_abi_dec *d) {
    AK_PRECOND(d != NULL && d->hiwater == &d->root_hi);
    AK_ENSURE(d->root_hi == d->all.len, AK_E_INVALID_INPUT);
    AK_ENSURE(d->head == (d->first_tail == SIZE_MAX ? d->all.len : d->first_tail), AK_E_INVALID_INPUT);
    return AK_OK;
}

/* ------------------------------------------------------------------ generic decode */

typedef struct {
    ak_arena *arena;
    size_t budget; /* nodes left */
} s_gen;

static ak_err s_dec_value(s_gen *g, ak_abi_dec *d, const ak_abi_type *t, ak_abi_val *out, unsigned depth);

static ak_err s_alloc_vals(s_gen *g, size_t n, ak_abi_val **out) {
    *out = NULL;
    if (n == 0) return AK_OK;
    AK_ENSURE(n <= g->budget, AK_E_LIMIT);
    g->budget -= n;
    *out = ak_arena_alloc(g->arena, n * sizeof(ak_abi_val));
    AK_ENSURE(*out != NULL, AK_E_LIMIT);
    return AK_OK;
}

static ak_err s_dec_members(s_gen *g, ak_abi_dec *d, const ak_abi_type *t, ak_abi_val *out, unsigned depth) {
    ak_abi_val *items;
    AK_GUARD(s_alloc_vals(g, t->count, &items));
    for (size_t i = 0; i < t->count; i++)
        AK_GUARD(s_dec_value(g, d, &t->members[i], &items[i], depth + 1));
    *out = ak_abi_tuple(items, t->count);
    return AK_OK;
}

static ak_err s_dec_value(s_gen *g, ak_abi_dec *d, const ak_abi_type *t, ak_abi_val *out, unsigned depth) {
    AK_ENSURE(depth <= AK_ABI_MAX_DEPTH, AK_E_LIMIT);
    memset(out, 0, sizeof(*out));
    switch (t->kind) {
        case AK_ABI_UINT:
        case AK_ABI_BOOL:
        case AK_ABI_ADDRESS:
        case AK_ABI_FIXED_BYTES:
            AK_GUARD(s_dec_scalar(d, t->kind, t->size, out->word));
            out->kind = t->kind;
            out->size = t->size;
            return AK_OK;
        case AK_ABI_BYTES:
        case AK_ABI_STRING:
            AK_GUARD(ak_abi_dec_bytes(d, &out->data));
            out->kind = t->kind;
            return AK_OK;
        case AK_ABI_TUPLE: {
            if (!ak_abi_type_is_dynamic(t)) return s_dec_members(g, d, t, out, depth); /* inline */
            ak_abi_dec sub;
            AK_GUARD(ak_abi_dec_tuple(d, &sub));
            return s_dec_members(g, &sub, t, out, depth);
        }
        case AK_ABI_ARRAY: {
            ak_abi_dec sub;
            size_t n;
            ak_abi_val *items;
            AK_GUARD(ak_abi_dec_array(d, &sub, &n));
            AK_GUARD(s_alloc_vals(g, n, &items));
            for (size_t i = 0; i < n; i++)
                AK_GUARD(s_dec_value(g, &sub, t->elem, &items[i], depth + 1));
            *out = ak_abi_array(items, n);
            out->elem = t->elem;
            return AK_OK;
        }
        default:
            return AK_E_INVALID_INPUT;
    }
}

ak_err ak_abi_decode(ak_arena *arena, const ak_abi_type *t, ak_cur data, ak_abi_val *out) {
    AK_PRECOND(arena != NULL && t != NULL && out != NULL && t->kind == AK_ABI_TUPLE);
    s_gen g = {arena, AK_ABI_MAX_ITEMS};
    ak_abi_dec d;
    ak_abi_dec_init(&d, data);
    AK_GUARD(s_dec_members(&g, &d, t, out, 0));
    /* an empty tuple decodes from empty data only */
    return ak_abi_dec_finish(&d);
}
