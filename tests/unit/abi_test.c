/*
 * abi_test.c — ABI encoding against the Solidity ABI specification's worked examples
 * (docs.soliditylang.org, "Contract ABI Specification" → "Examples" and "Use of Dynamic Types"),
 * expected bytes written out word by word from the spec text; strict decoding with its
 * negative cases (truncation, bad offsets, huge lengths, dirty padding, non-canonical words,
 * trailing data, aliasing bombs); selectors from contracts.md; u256 helpers; OOM sweep.
 */
#include "test.h"

#include "ak/abi.h"
#include "ak/crypto.h"

/* Concatenates hex strings (each "" or a word / selector) into a buffer. */
static void s_hex_words(ak_buf *out, const char *const *parts, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ak_hex_decode_buf(ak_cur_from_str(parts[i]), true, out) != AK_OK) fail_msg("bad hex part %zu", i);
}
#define HEXW(buf, ...)                                                                                       \
    do {                                                                                                     \
        static const char *const p_[] = {__VA_ARGS__};                                                       \
        s_hex_words((buf), p_, sizeof(p_) / sizeof(p_[0]));                                                  \
    } while (0)

#define W0 "0000000000000000000000000000000000000000000000000000000000000000"
#define WN(hex) ("00000000000000000000000000000000000000000000000000000000000000" hex)

static ak_cur s_lit(const char *s) { return ak_cur_from_str(s); }

/* ---- the spec's examples ---- */

/* baz(uint32,bool) with (69, true) -> 0xcdcd77c0 ‖ 0x45 ‖ 0x01 */
AK_TEST(test_spec_baz) {
    ak_buf got, want;
    ak_buf_init(&got, 4096);
    ak_buf_init(&want, 4096);
    ak_abi_val a[] = {ak_abi_uint(32, 69), ak_abi_bool(true)};
    EXPECT_OK(ak_abi_encode_call("baz(uint32,bool)", a, 2, &got));
    HEXW(&want, "cdcd77c0", WN("45"), WN("01"));
    EXPECT_BYTES_EQ(got.ptr, got.len, want.ptr, want.len);
    ak_buf_free(&got);
    ak_buf_free(&want);
}

/* sam(bytes,bool,uint256[]) with ("dave", true, [1,2,3]) */
static void s_sam_expected(ak_buf *want) {
    HEXW(want, "a5643bf2", WN("60"), WN("01"), WN("a0"), WN("04"),
         "6461766500000000000000000000000000000000000000000000000000000000", WN("03"), WN("01"), WN("02"),
         WN("03"));
}

AK_TEST(test_spec_sam_and_decode_back) {
    ak_buf got, want;
    ak_buf_init(&got, 4096);
    ak_buf_init(&want, 4096);
    ak_abi_val nums[] = {ak_abi_u64(1), ak_abi_u64(2), ak_abi_u64(3)};
    ak_abi_val a[] = {ak_abi_bytes(s_lit("dave")), ak_abi_bool(true), ak_abi_array(nums, 3)};
    EXPECT_OK(ak_abi_encode_call("sam(bytes,bool,uint256[])", a, 3, &got));
    s_sam_expected(&want);
    EXPECT_BYTES_EQ(got.ptr, got.len, want.ptr, want.len);

    /* cursor decoder */
    ak_abi_dec d, sub;
    ak_abi_dec_init(&d, ak_cur_from(got.ptr + 4, got.len - 4));
    ak_cur b;
    bool flag = false;
    size_t n = 0;
    uint64_t v;
    EXPECT_OK(ak_abi_dec_bytes(&d, &b));
    EXPECT_TRUE(ak_cur_eq_str(b, "dave"));
    EXPECT_OK(ak_abi_dec_bool(&d, &flag));
    EXPECT_TRUE(flag);
    EXPECT_OK(ak_abi_dec_array(&d, &sub, &n));
    EXPECT_INT_EQ(n, 3);
    for (uint64_t i = 1; i <= 3; i++) {
        EXPECT_OK(ak_abi_dec_u64(&sub, 256, &v));
        EXPECT_INT_EQ(v, i);
    }
    EXPECT_OK(ak_abi_dec_finish(&d));

    /* generic decoder */
    ak_arena ar;
    ak_arena_init(&ar, 1u << 20);
    ak_abi_type t;
    ak_abi_val out;
    EXPECT_OK(ak_abi_parse_types(&ar, s_lit("bytes,bool,uint256[]"), &t));
    EXPECT_OK(ak_abi_decode(&ar, &t, ak_cur_from(got.ptr + 4, got.len - 4), &out));
    EXPECT_INT_EQ(out.count, 3);
    EXPECT_TRUE(ak_cur_eq_str(out.items[0].data, "dave"));
    EXPECT_INT_EQ(out.items[2].count, 3);
    EXPECT_INT_EQ(out.items[2].items[2].word[31], 3);
    /* re-encoding the decoded tree gives the same bytes */
    ak_buf re;
    ak_buf_init(&re, 4096);
    EXPECT_OK(ak_abi_encode(out.items, out.count, &re));
    EXPECT_BYTES_EQ(re.ptr, re.len, got.ptr + 4, got.len - 4);
    ak_buf_free(&re);
    ak_arena_free(&ar);
    ak_buf_free(&got);
    ak_buf_free(&want);
}

/* f(uint256,uint32[],bytes10,bytes) with (0x123, [0x456, 0x789], "1234567890", "Hello, world!") */
AK_TEST(test_spec_f_dynamic) {
    ak_buf got, want;
    ak_buf_init(&got, 4096);
    ak_buf_init(&want, 4096);
    ak_abi_val arr[] = {ak_abi_uint(32, 0x456), ak_abi_uint(32, 0x789)};
    ak_abi_val a[] = {ak_abi_u64(0x123), ak_abi_array(arr, 2),
                      ak_abi_fixed_bytes((const uint8_t *)"1234567890", 10),
                      ak_abi_bytes(s_lit("Hello, world!"))};
    EXPECT_OK(ak_abi_encode_call("f(uint256,uint32[],bytes10,bytes)", a, 4, &got));
    HEXW(&want, "8be65246", "0000000000000000000000000000000000000000000000000000000000000123", WN("80"),
         "3132333435363738393000000000000000000000000000000000000000000000", WN("e0"), WN("02"),
         "0000000000000000000000000000000000000000000000000000000000000456",
         "0000000000000000000000000000000000000000000000000000000000000789", WN("0d"),
         "48656c6c6f2c20776f726c642100000000000000000000000000000000000000");
    EXPECT_BYTES_EQ(got.ptr, got.len, want.ptr, want.len);
    ak_buf_free(&got);
    ak_buf_free(&want);
}

/* g(uint256[][],string[]) with ([[1, 2], [3]], ["one", "two", "three"]) — nested offsets */
static void s_g_expected(ak_buf *want) {
    HEXW(want, "2289b18c", WN("40"), "0000000000000000000000000000000000000000000000000000000000000140",
         WN("02"), WN("40"), WN("a0"), WN("02"), WN("01"), WN("02"), WN("01"), WN("03"), WN("03"), WN("60"),
         WN("a0"), WN("e0"), WN("03"), "6f6e650000000000000000000000000000000000000000000000000000000000",
         WN("03"), "74776f0000000000000000000000000000000000000000000000000000000000", WN("05"),
         "7468726565000000000000000000000000000000000000000000000000000000");
}

AK_TEST(test_spec_g_nested) {
    ak_buf got, want;
    ak_buf_init(&got, 4096);
    ak_buf_init(&want, 4096);
    ak_abi_val in1[] = {ak_abi_u64(1), ak_abi_u64(2)}, in2[] = {ak_abi_u64(3)};
    ak_abi_val outer[] = {ak_abi_array(in1, 2), ak_abi_array(in2, 1)};
    ak_abi_val strs[] = {ak_abi_string(s_lit("one")), ak_abi_string(s_lit("two")),
                         ak_abi_string(s_lit("three"))};
    ak_abi_val a[] = {ak_abi_array(outer, 2), ak_abi_array(strs, 3)};
    EXPECT_OK(ak_abi_encode_call("g(uint256[][],string[])", a, 2, &got));
    s_g_expected(&want);
    EXPECT_BYTES_EQ(got.ptr, got.len, want.ptr, want.len);

    ak_arena ar;
    ak_arena_init(&ar, 1u << 20);
    ak_abi_type t;
    ak_abi_val out;
    EXPECT_OK(ak_abi_parse_types(&ar, s_lit("(uint256[][],string[])"), &t));
    EXPECT_OK(ak_abi_decode(&ar, &t, ak_cur_from(got.ptr + 4, got.len - 4), &out));
    EXPECT_INT_EQ(out.items[0].count, 2);
    EXPECT_INT_EQ(out.items[0].items[1].items[0].word[31], 3);
    EXPECT_TRUE(ak_cur_eq_str(out.items[1].items[2].data, "three"));
    ak_arena_free(&ar);
    ak_buf_free(&got);
    ak_buf_free(&want);
}

/* A dynamic tuple member and a static tuple member (inline), e.g. K11Assertion-like shapes. */
AK_TEST(test_tuples_static_inline_dynamic_offset) {
    ak_buf got, want;
    ak_buf_init(&got, 4096);
    ak_buf_init(&want, 4096);
    uint8_t h[32];
    memset(h, 0xab, 32);
    ak_abi_val st[] = {ak_abi_u64(7), ak_abi_bool(true)};
    ak_abi_val dy[] = {ak_abi_bytes32(h), ak_abi_bytes(s_lit("xy"))};
    ak_abi_val a[] = {ak_abi_tuple(st, 2), ak_abi_tuple(dy, 2), ak_abi_u64(9)};
    EXPECT_OK(ak_abi_encode(a, 3, &got));
    /* head: static tuple inline (2 words), offset of dynamic tuple, 9; tail: bytes32, offset 0x40, len 2, "xy" */
    HEXW(&want, WN("07"), WN("01"), WN("80"), WN("09"),
         "abababababababababababababababababababababababababababababababab", WN("40"), WN("02"),
         "7879000000000000000000000000000000000000000000000000000000000000");
    EXPECT_BYTES_EQ(got.ptr, got.len, want.ptr, want.len);

    ak_abi_dec d, sub;
    ak_abi_dec_init(&d, ak_buf_cur(&got));
    uint64_t v;
    bool b;
    uint8_t w[32];
    ak_cur c;
    EXPECT_OK(ak_abi_dec_u64(&d, 256, &v)); /* static tuple members read straight from the head */
    EXPECT_OK(ak_abi_dec_bool(&d, &b));
    EXPECT_OK(ak_abi_dec_tuple(&d, &sub));
    EXPECT_OK(ak_abi_dec_bytes32(&sub, w));
    EXPECT_OK(ak_abi_dec_bytes(&sub, &c));
    EXPECT_TRUE(ak_cur_eq_str(c, "xy"));
    EXPECT_OK(ak_abi_dec_u64(&d, 256, &v));
    EXPECT_INT_EQ(v, 9);
    EXPECT_OK(ak_abi_dec_finish(&d));

    ak_arena ar;
    ak_arena_init(&ar, 1u << 20);
    ak_abi_type t;
    ak_abi_val out;
    EXPECT_OK(ak_abi_parse_types(&ar, s_lit("(uint256,bool),(bytes32,bytes),uint256"), &t));
    EXPECT_FALSE(ak_abi_type_is_dynamic(&t.members[0]));
    EXPECT_TRUE(ak_abi_type_is_dynamic(&t.members[1]));
    EXPECT_OK(ak_abi_decode(&ar, &t, ak_buf_cur(&got), &out));
    EXPECT_TRUE(ak_cur_eq_str(out.items[1].items[1].data, "xy"));
    ak_arena_free(&ar);
    ak_buf_free(&got);
    ak_buf_free(&want);
}

AK_TEST(test_empty_values) {
    ak_buf got, want;
    ak_buf_init(&got, 4096);
    ak_buf_init(&want, 4096);
    ak_abi_val a[] = {ak_abi_bytes(ak_cur_from(NULL, 0)), ak_abi_string(s_lit("")), ak_abi_array(NULL, 0)};
    EXPECT_OK(ak_abi_encode(a, 3, &got));
    HEXW(&want, WN("60"), WN("80"), WN("a0"), W0, W0, W0);
    EXPECT_BYTES_EQ(got.ptr, got.len, want.ptr, want.len);
    ak_buf_clear(&got);
    EXPECT_OK(ak_abi_encode(NULL, 0, &got));
    EXPECT_INT_EQ(got.len, 0);
    ak_buf_free(&got);
    ak_buf_free(&want);
}

/* ---- getDevice: the 11-word DeviceEntry (contracts.md §1) ---- */

static void s_device_words(ak_buf *b) {
    HEXW(b, "1111111111111111111111111111111111111111111111111111111111111111",
         "2222222222222222222222222222222222222222222222222222222222222222", W0,
         "3333333333333333333333333333333333333333333333333333333333333333",
         "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
         "4444444444444444444444444444444444444444444444444444444444444444", WN("01"), WN("07"),
         "0000000000000000000000000000000000000000000000000000000065f00000", WN("2a"), W0);
}

AK_TEST(test_device_entry_words) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    s_device_words(&b);
    EXPECT_INT_EQ(b.len, 11 * 32);
    ak_arena ar;
    ak_arena_init(&ar, 1u << 20);
    ak_abi_type t;
    ak_abi_val out;
    EXPECT_OK(ak_abi_parse_types(
        &ar, s_lit("(bytes32,bytes32,bytes32,bytes32,uint256,uint256,uint8,uint8,uint64,uint32,bool)"), &t));
    EXPECT_OK(ak_abi_decode(&ar, &t, ak_buf_cur(&b), &out));
    EXPECT_INT_EQ(out.count, 11);
    EXPECT_INT_EQ(out.items[7].word[31], 7);
    /* uint8 tier = 0x100 is not canonical */
    b.ptr[6 * 32 + 30] = 1;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_decode(&ar, &t, ak_buf_cur(&b), &out));
    ak_arena_free(&ar);
    ak_buf_free(&b);
}

/* ---- strict decoding: negatives ---- */

static ak_err s_decode_as(const char *types, ak_cur data) {
    ak_arena ar;
    ak_arena_init(&ar, 64u << 20);
    ak_abi_type t;
    ak_abi_val out;
    ak_err rc = ak_abi_parse_types(&ar, ak_cur_from_str(types), &t);
    if (rc == AK_OK) rc = ak_abi_decode(&ar, &t, data, &out);
    ak_arena_free(&ar);
    return rc;
}

AK_TEST(test_decode_every_truncation_fails) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    s_g_expected(&b);
    ak_cur full = ak_cur_from(b.ptr + 4, b.len - 4);
    EXPECT_OK(s_decode_as("uint256[][],string[]", full));
    for (size_t n = 0; n < full.len; n++)
        EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as("uint256[][],string[]", ak_cur_from(full.ptr, n)));
    /* trailing data is rejected too */
    EXPECT_OK(ak_buf_append(&b, b.ptr + 4, 32));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as("uint256[][],string[]", ak_cur_from(b.ptr + 4, b.len - 4)));
    ak_buf_free(&b);
}

AK_TEST(test_decode_bad_offsets_and_lengths) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    s_sam_expected(&b);
    uint8_t *d = b.ptr + 4;
    ak_cur c = ak_cur_from(d, b.len - 4);
    const char *ty = "bytes,bool,uint256[]";
    EXPECT_OK(s_decode_as(ty, c));
    /* offset past the end */
    d[31] = 0xff;
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    /* offset with a high bit set (> 2^64) */
    d[31] = 0x60;
    d[0] = 0x80;
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    d[0] = 0;
    /* offset pointing into the head (non-canonical: head not read up to the first tail) */
    d[31] = 0x40;
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    d[31] = 0x60;
    /* huge bytes length */
    memset(d + 0x60, 0xff, 32);
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    /* length just past the data */
    memset(d + 0x60, 0, 32);
    d[0x60 + 31] = 0xa1;
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    d[0x60 + 31] = 4;
    /* dirty padding after "dave" */
    d[0x80 + 31] = 1;
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    d[0x80 + 31] = 0;
    /* array count larger than the data left */
    d[0xa0 + 31] = 4;
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    memset(d + 0xa0, 0xff, 32);
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    memset(d + 0xa0, 0, 32);
    d[0xa0 + 31] = 3;
    /* bool = 2 */
    d[32 + 31] = 2;
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as(ty, c));
    d[32 + 31] = 1;
    EXPECT_OK(s_decode_as(ty, c));
    ak_buf_free(&b);
}

AK_TEST(test_decode_bytes_missing_pad) {
    /* bytes of length 4 whose padding word is cut: not canonical, even though the 4 bytes are there */
    ak_buf b;
    ak_buf_init(&b, 4096);
    HEXW(&b, WN("20"), WN("04"), "64617665");
    EXPECT_ERR(AK_E_INVALID_INPUT, s_decode_as("bytes", ak_buf_cur(&b)));
    ak_buf_free(&b);
}

AK_TEST(test_decode_dirty_scalars) {
    uint8_t w[32];
    ak_abi_dec d;
    /* address with a non-zero high byte */
    memset(w, 0, 32);
    w[11] = 1;
    uint8_t addr[20];
    ak_abi_dec_init(&d, ak_cur_from(w, 32));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_dec_address(&d, addr));
    EXPECT_INT_EQ(d.head, 0); /* a failed getter does not advance */
    w[11] = 0;
    w[12] = 0xaa;
    EXPECT_OK(ak_abi_dec_address(&d, addr));
    EXPECT_INT_EQ(addr[0], 0xaa);
    /* uint32 with bits above 32 */
    memset(w, 0, 32);
    w[27] = 1;
    uint64_t v;
    ak_abi_dec_init(&d, ak_cur_from(w, 32));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_dec_u64(&d, 32, &v));
    EXPECT_OK(ak_abi_dec_u64(&d, 64, &v));
    EXPECT_TRUE(v == 0x100000000ULL);
    /* a uint256 that does not fit a u64 is a limit, not bad data */
    w[0] = 1;
    ak_abi_dec_init(&d, ak_cur_from(w, 32));
    EXPECT_ERR(AK_E_LIMIT, ak_abi_dec_u64(&d, 256, &v));
    /* bytes4 with dirty low bytes */
    memset(w, 0, 32);
    memcpy(w, "abcd", 4);
    w[4] = 1;
    uint8_t b4[5];
    ak_abi_dec_init(&d, ak_cur_from(w, 32));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_dec_fixed_bytes(&d, 4, b4));
    EXPECT_OK(ak_abi_dec_fixed_bytes(&d, 5, b4)); /* as bytes5 it is canonical */
    /* a short word */
    ak_abi_dec_init(&d, ak_cur_from(w, 31));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_dec_bytes32(&d, w));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_dec_finish(&d));
}

/* Many array elements whose offsets all point at one large inner array: the node budget stops it. */
AK_TEST(test_decode_alias_bomb_is_bounded) {
    const size_t outer = 3000, inner = 1000;
    ak_buf b;
    ak_buf_init(&b, 1u << 22);
    uint8_t w[32];
    memset(w, 0, 32);
    w[31] = 0x20; /* offset of the outer array */
    EXPECT_OK(ak_buf_append(&b, w, 32));
    ak_u256 n = ak_u256_from_u64(outer);
    EXPECT_OK(ak_buf_append(&b, n.be, 32));
    ak_u256 off = ak_u256_from_u64(outer * 32); /* relative to the element heads */
    for (size_t i = 0; i < outer; i++)
        EXPECT_OK(ak_buf_append(&b, off.be, 32));
    n = ak_u256_from_u64(inner);
    EXPECT_OK(ak_buf_append(&b, n.be, 32));
    memset(w, 0, 32);
    for (size_t i = 0; i < inner; i++)
        EXPECT_OK(ak_buf_append(&b, w, 32));
    EXPECT_ERR(AK_E_LIMIT, s_decode_as("bytes32[][]", ak_buf_cur(&b)));
    ak_buf_free(&b);
}

/* ---- encoder negatives ---- */

AK_TEST(test_encode_rejects_bad_values) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    ak_abi_val too_big = ak_abi_uint(8, 300);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode(&too_big, 1, &b));
    ak_abi_val bad_bits = ak_abi_uint(7, 1);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode(&bad_bits, 1, &b));
    ak_abi_val bad_bool = ak_abi_bool(true);
    bad_bool.word[31] = 2;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode(&bad_bool, 1, &b));
    ak_abi_val bad_fixed = ak_abi_fixed_bytes((const uint8_t *)"x", 33);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode(&bad_fixed, 1, &b));
    ak_abi_val mixed_items[] = {ak_abi_u64(1), ak_abi_bool(true)};
    ak_abi_val mixed = ak_abi_array(mixed_items, 2);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode(&mixed, 1, &b));
    EXPECT_INT_EQ(b.len, 0); /* nothing appended on error */
    /* a nesting deeper than AK_ABI_MAX_DEPTH */
    ak_abi_val chain[12];
    chain[0] = ak_abi_u64(1);
    for (size_t i = 1; i < 12; i++)
        chain[i] = ak_abi_tuple(&chain[i - 1], 1);
    EXPECT_ERR(AK_E_LIMIT, ak_abi_encode(&chain[11], 1, &b));
    /* the output ceiling is an error, not a cut */
    ak_buf small;
    ak_buf_init(&small, 40);
    ak_abi_val two[] = {ak_abi_u64(1), ak_abi_u64(2)};
    EXPECT_ERR(AK_E_LIMIT, ak_abi_encode(two, 2, &small));
    EXPECT_INT_EQ(small.len, 0);
    ak_buf_free(&small);
    ak_buf_free(&b);
}

AK_TEST(test_encode_call_checks_signature) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    uint8_t h[32] = {0};
    ak_abi_val a[] = {ak_abi_bytes32(h)};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode_call("getDevice(uint256)", a, 1, &b));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode_call("getDevice(bytes32,bytes32)", a, 1, &b));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode_call("getDevice(bytes32", a, 1, &b));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_encode_call("getDevice (bytes32)", a, 1, &b));
    EXPECT_INT_EQ(b.len, 0);
    EXPECT_OK(ak_abi_encode_call("getDevice(bytes32)", a, 1, &b));
    EXPECT_INT_EQ(b.len, 36);
    ak_buf_free(&b);
}

/* ---- selectors and types ---- */

static void s_expect_sel(const char *sig, const char *hex) {
    uint8_t sel[4], want[4];
    if (ak_abi_selector(sig, sel, NULL) != AK_OK) fail_msg("selector(%s) failed", sig);
    if (ak_hex_decode_exact(ak_cur_from_str(hex), true, want, 4) != AK_OK) fail_msg("bad hex");
    if (memcmp(sel, want, 4) != 0) fail_msg("selector(%s) mismatch", sig);
}

AK_TEST(test_selectors) {
    /* contracts.md selectors [C] and well-known ERC-20 ones */
    s_expect_sel("getDevice(bytes32)", "0x6a7f745e");
    s_expect_sel("isServiceInScope(bytes32,bytes32,bytes32)", "0x13337240");
    s_expect_sel("currentEpoch()", "0x76671808");
    s_expect_sel("isActive(bytes32)", "0x5c36901c");
    s_expect_sel("getOperatorDevices(bytes32)", "0x6ed3a46b");
    s_expect_sel("transfer(address,uint256)", "0xa9059cbb");
    s_expect_sel("transfer(address,uint)", "0xa9059cbb"); /* "uint" is uint256 */
    s_expect_sel("baz(uint32,bool)", "0xcdcd77c0");
    s_expect_sel("currentEpoch()(uint256)", "0x76671808"); /* a returns part is ignored */
    uint8_t sel[4], topic[32], want[32];
    EXPECT_OK(ak_abi_selector("Transfer(address,address,uint256)", sel, topic));
    EXPECT_OK(ak_hex_decode_exact(s_lit("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"),
                                  false, want, 32));
    EXPECT_BYTES_EQ(topic, 32, want, 32);
    static const char *const bad[] = {
        "",           "f",           "(uint256)",    "f(int256)",         "f(uint7)",
        "f(uint264)", "f(bytes33)",  "f(bytes0)",    "f(uint256[2])",     "f(uint08)",
        "f(,)",       "f(bool,)",    "f(bool))",     "f((bool)",          "1f()",
        "f()()x",     "f(function)", "f(uint256 a)", "f(address payable)"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ak_abi_selector(bad[i], sel, NULL) != AK_E_INVALID_INPUT)
            fail_msg("accepted bad signature '%s'", bad[i]);
}

AK_TEST(test_type_text_round_trip) {
    ak_arena ar;
    ak_arena_init(&ar, 1u << 20);
    ak_abi_type t;
    ak_buf b;
    ak_buf_init(&b, 4096);
    EXPECT_OK(ak_abi_parse_types(&ar, s_lit("uint,bytes32[][],(bool,(string,address)[])[],bytes4"), &t));
    EXPECT_OK(ak_abi_type_append(&t, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "(uint256,bytes32[][],(bool,(string,address)[])[],bytes4)");
    EXPECT_OK(ak_abi_parse_types(&ar, s_lit("()"), &t));
    EXPECT_INT_EQ(t.count, 0);
    EXPECT_OK(ak_abi_parse_types(&ar, s_lit(""), &t));
    EXPECT_INT_EQ(t.count, 0);
    EXPECT_OK(ak_abi_parse_types(&ar, s_lit("(bool),(bool)"), &t)); /* two 1-tuples, not one list */
    EXPECT_INT_EQ(t.count, 2);
    EXPECT_ERR(AK_E_LIMIT, ak_abi_parse_types(&ar, s_lit("uint256[][][][][][][][][][]"), &t));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_abi_parse_types(&ar, s_lit("bool)"), &t));
    ak_buf_free(&b);
    ak_arena_free(&ar);
}

/* ---- u256 ---- */

AK_TEST(test_u256_decimal) {
    ak_u256 v;
    ak_buf b;
    ak_buf_init(&b, 128);
    const char *max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    EXPECT_OK(ak_u256_from_dec(ak_cur_from_str(max), &v));
    for (unsigned i = 0; i < 32; i++)
        EXPECT_INT_EQ(v.be[i], 0xff);
    EXPECT_OK(ak_u256_append_dec(&v, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), max);
    EXPECT_ERR(
        AK_E_INVALID_INPUT,
        ak_u256_from_dec(
            s_lit("115792089237316195423570985008687907853269984665640564039457584007913129639936"), &v));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_u256_from_dec(s_lit(""), &v));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_u256_from_dec(s_lit("-1"), &v));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_u256_from_dec(s_lit("1 "), &v));
    EXPECT_OK(ak_u256_from_dec(s_lit("1000000000000000000"), &v));
    uint64_t u;
    EXPECT_OK(ak_u256_to_u64(&v, &u));
    EXPECT_TRUE(u == 1000000000000000000ULL);
    ak_buf_clear(&b);
    v = ak_u256_from_u64(0);
    EXPECT_OK(ak_u256_append_dec(&v, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "0");
    ak_buf_free(&b);
}

/* Every allocation inside encode_call can fail; each failure is reported and nothing leaks. */
AK_TEST(test_encode_call_oom_sweep) {
    ak_abi_val nums[] = {ak_abi_u64(1), ak_abi_u64(2), ak_abi_u64(3)};
    ak_abi_val a[] = {ak_abi_bytes(s_lit("dave")), ak_abi_bool(true), ak_abi_array(nums, 3)};
    for (uint64_t n = 1; n < 64; n++) {
        ak_buf b;
        ak_buf_init(&b, 4096);
        ak_alloc_fail_nth(n);
        ak_err rc = ak_abi_encode_call("sam(bytes,bool,uint256[])", a, 3, &b);
        ak_alloc_fail_nth(0);
        ak_buf_free(&b);
        if (rc == AK_OK) return;
        if (rc != AK_E_NOMEM && rc != AK_E_LIMIT)
            fail_msg("unexpected %s at n=%llu", ak_err_reason(rc), (unsigned long long)n);
    }
    fail_msg("encode_call never succeeded");
}

AK_RUN_TESTS(AK_T(test_spec_baz), AK_T(test_spec_sam_and_decode_back), AK_T(test_spec_f_dynamic),
             AK_T(test_spec_g_nested), AK_T(test_tuples_static_inline_dynamic_offset),
             AK_T(test_empty_values), AK_T(test_device_entry_words), AK_T(test_decode_every_truncation_fails),
             AK_T(test_decode_bad_offsets_and_lengths), AK_T(test_decode_bytes_missing_pad),
             AK_T(test_decode_dirty_scalars), AK_T(test_decode_alias_bomb_is_bounded),
             AK_T(test_encode_rejects_bad_values), AK_T(test_encode_call_checks_signature),
             AK_T(test_selectors), AK_T(test_type_text_round_trip), AK_T(test_u256_decimal),
             AK_T(test_encode_call_oom_sweep))
