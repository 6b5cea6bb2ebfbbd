/*
 * cbor_test.c — the strict CBOR decoder (ak/cbor.h): RFC 8949 Appendix A examples that COSE and
 * Nitro need (expected values as printed there), Appendix F malformed inputs, and each strict
 * choice (shortest form, definite strings, UTF-8, duplicate keys, simple values, limits,
 * trailing bytes).
 */
#include "test.h"

#include "ak/cbor.h"

static ak_buf s_in;

static ak_cur s_hex(const char *hex) {
    ak_buf_free(&s_in);
    ak_buf_init(&s_in, 1u << 20);
    if (ak_hex_decode_buf(ak_cur_from_str(hex), false, &s_in) != AK_OK) fail_msg("bad test hex %s", hex);
    return ak_buf_cur(&s_in);
}

static ak_err s_dec(const char *hex, ak_cbor_item *it) {
    ak_cbor_item tmp;
    return ak_cbor_decode_all(s_hex(hex), NULL, it ? it : &tmp);
}

static void s_expect_uint(const char *hex, uint64_t want) {
    ak_cbor_item it;
    uint64_t v = 0;
    EXPECT_OK(s_dec(hex, &it));
    EXPECT_OK(ak_cbor_get_uint(&it, &v));
    if (v != want) fail_msg("%s: got %llu", hex, (unsigned long long)v);
}

static void s_expect_int(const char *hex, int64_t want) {
    ak_cbor_item it;
    int64_t v = 0;
    EXPECT_OK(s_dec(hex, &it));
    EXPECT_OK(ak_cbor_get_int(&it, &v));
    if (v != want) fail_msg("%s: got %lld", hex, (long long)v);
}

static void s_expect_tstr(const char *hex, const char *utf8) {
    ak_cbor_item it;
    ak_cur v;
    EXPECT_OK(s_dec(hex, &it));
    EXPECT_OK(ak_cbor_get_tstr(&it, &v));
    EXPECT_BYTES_EQ(v.ptr, v.len, (const uint8_t *)utf8, strlen(utf8));
}

AK_TEST(test_appendix_a_integers) {
    s_expect_uint("00", 0);
    s_expect_uint("01", 1);
    s_expect_uint("0a", 10);
    s_expect_uint("17", 23);
    s_expect_uint("1818", 24);
    s_expect_uint("1819", 25);
    s_expect_uint("1864", 100);
    s_expect_uint("1903e8", 1000);
    s_expect_uint("1a000f4240", 1000000);
    s_expect_uint("1b000000e8d4a51000", 1000000000000ull);
    s_expect_uint("1bffffffffffffffff", UINT64_MAX);
    s_expect_int("20", -1);
    s_expect_int("29", -10);
    s_expect_int("3863", -100);
    s_expect_int("3903e7", -1000);
    s_expect_int("1b7fffffffffffffff", INT64_MAX);
    s_expect_int("3b7fffffffffffffff", INT64_MIN);
    /* -18446744073709551616 decodes but does not fit an int64_t; 2^64-1 is not a signed int */
    ak_cbor_item it;
    int64_t v;
    EXPECT_OK(s_dec("3bffffffffffffffff", &it));
    EXPECT_INT_EQ(it.type, AK_CBOR_NINT);
    EXPECT_ERR(AK_E_LIMIT, ak_cbor_get_int(&it, &v));
    EXPECT_OK(s_dec("1bffffffffffffffff", &it));
    EXPECT_ERR(AK_E_LIMIT, ak_cbor_get_int(&it, &v));
    uint64_t u;
    EXPECT_OK(s_dec("20", &it));
    EXPECT_ERR(AK_E_WRONG_TYPE, ak_cbor_get_uint(&it, &u));
}

AK_TEST(test_appendix_a_strings) {
    ak_cbor_item it;
    ak_cur v;
    EXPECT_OK(s_dec("40", &it));
    EXPECT_OK(ak_cbor_get_bstr(&it, &v));
    EXPECT_INT_EQ(v.len, 0);
    EXPECT_OK(s_dec("4401020304", &it));
    EXPECT_OK(ak_cbor_get_bstr(&it, &v));
    EXPECT_BYTES_EQ(v.ptr, v.len, (const uint8_t *)"\x01\x02\x03\x04", 4);
    EXPECT_ERR(AK_E_WRONG_TYPE, ak_cbor_get_tstr(&it, &v));
    s_expect_tstr("60", "");
    s_expect_tstr("6161", "a");
    s_expect_tstr("6449455446", "IETF");
    s_expect_tstr("62225c", "\"\\");
    s_expect_tstr("62c3bc", "\xc3\xbc");             /* U+00FC */
    s_expect_tstr("63e6b0b4", "\xe6\xb0\xb4");       /* U+6C34 */
    s_expect_tstr("64f0908591", "\xf0\x90\x85\x91"); /* U+10151 */
    s_expect_tstr("64f48fbfbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
    EXPECT_OK(s_dec("6161", &it));
    EXPECT_ERR(AK_E_WRONG_TYPE, ak_cbor_get_bstr(&it, &v));
}

AK_TEST(test_appendix_a_containers) {
    ak_cbor_item it, v;
    EXPECT_OK(s_dec("80", &it));
    EXPECT_INT_EQ(it.type, AK_CBOR_ARRAY);
    EXPECT_INT_EQ(it.count, 0);
    EXPECT_OK(s_dec("83010203", &it));
    EXPECT_INT_EQ(it.count, 3);
    EXPECT_INT_EQ(it.body.len, 3);
    EXPECT_OK(s_dec("8301820203820405", &it));
    EXPECT_INT_EQ(it.count, 3);
    /* 25 items: the length needs the one-byte argument */
    EXPECT_OK(s_dec("98190102030405060708090a0b0c0d0e0f101112131415161718181819", &it));
    EXPECT_INT_EQ(it.count, 25);
    EXPECT_OK(s_dec("a0", &it));
    EXPECT_INT_EQ(it.type, AK_CBOR_MAP);
    EXPECT_OK(s_dec("a201020304", &it));
    EXPECT_INT_EQ(it.count, 2);
    EXPECT_OK(ak_cbor_map_get_int(&it, 3, &v));
    EXPECT_INT_EQ(v.val, 4);
    EXPECT_ERR(AK_E_NOT_FOUND, ak_cbor_map_get_int(&it, 2, &v));
    EXPECT_ERR(AK_E_NOT_FOUND, ak_cbor_map_get_tstr(&it, "a", &v));
    EXPECT_OK(s_dec("a26161016162820203", &it)); /* {"a": 1, "b": [2, 3]} */
    EXPECT_OK(ak_cbor_map_get_tstr(&it, "b", &v));
    EXPECT_INT_EQ(v.type, AK_CBOR_ARRAY);
    EXPECT_INT_EQ(v.count, 2);
    EXPECT_ERR(AK_E_NOT_FOUND, ak_cbor_map_get_tstr(&it, "c", &v));
    EXPECT_OK(s_dec("826161a161626163", &it)); /* ["a", {"b": "c"}] */
    EXPECT_ERR(AK_E_WRONG_TYPE, ak_cbor_map_get_tstr(&it, "a", &v));
    /* {-35 ...}: a negative integer key, as COSE's protected header {1: -35} has as value */
    EXPECT_OK(s_dec("a1013822", &it));
    EXPECT_OK(ak_cbor_map_get_int(&it, 1, &v));
    int64_t alg;
    EXPECT_OK(ak_cbor_get_int(&v, &alg));
    EXPECT_INT_EQ(alg, -35);
    EXPECT_OK(s_dec("a13822f6", &it));
    EXPECT_OK(ak_cbor_map_get_int(&it, -35, &v));
    EXPECT_TRUE(ak_cbor_is_null(&v));
}

AK_TEST(test_appendix_a_indefinite_containers) {
    ak_cbor_item it, v;
    EXPECT_OK(s_dec("9fff", &it));
    EXPECT_TRUE(it.indefinite);
    EXPECT_INT_EQ(it.count, 0);
    EXPECT_INT_EQ(it.body.len, 0);
    EXPECT_OK(s_dec("9f018202039f0405ffff", &it)); /* [_ 1, [2, 3], [_ 4, 5]] */
    EXPECT_INT_EQ(it.count, 3);
    EXPECT_INT_EQ(it.body.len, 8); /* without the final break */
    EXPECT_OK(s_dec("9f01820203820405ff", &it));
    EXPECT_OK(s_dec("83018202039f0405ff", &it));
    EXPECT_OK(s_dec("83019f0203ff820405", &it));
    EXPECT_OK(s_dec("bf61610161629f0203ffff", &it)); /* {_ "a": 1, "b": [_ 2, 3]} */
    EXPECT_INT_EQ(it.count, 2);
    EXPECT_OK(ak_cbor_map_get_tstr(&it, "b", &v));
    EXPECT_TRUE(v.indefinite);
    EXPECT_INT_EQ(v.count, 2);
    EXPECT_OK(s_dec("826161bf61626163ff", &it));       /* ["a", {_ "b": "c"}] */
    EXPECT_OK(s_dec("bf6346756ef563416d7421ff", &it)); /* {_ "Fun": true, "Amt": -2} */
    EXPECT_OK(ak_cbor_map_get_tstr(&it, "Fun", &v));
    EXPECT_INT_EQ(v.type, AK_CBOR_SIMPLE);
    EXPECT_INT_EQ(v.val, AK_CBOR_TRUE);
    EXPECT_OK(ak_cbor_map_get_tstr(&it, "Amt", &v));
    int64_t amt;
    EXPECT_OK(ak_cbor_get_int(&v, &amt));
    EXPECT_INT_EQ(amt, -2);
}

AK_TEST(test_simple_values_and_tags) {
    ak_cbor_item it;
    EXPECT_OK(s_dec("f4", &it));
    EXPECT_INT_EQ(it.val, AK_CBOR_FALSE);
    EXPECT_FALSE(ak_cbor_is_null(&it));
    EXPECT_OK(s_dec("f5", &it));
    EXPECT_INT_EQ(it.val, AK_CBOR_TRUE);
    EXPECT_OK(s_dec("f6", &it));
    EXPECT_TRUE(ak_cbor_is_null(&it));
    /* refused: undefined, unassigned simple values, every float (Appendix A spellings) */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("f7", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("f0", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("f8ff", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("f818", NULL)); /* simple(24) in two bytes: never well-formed */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("f90000", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("f93c00", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("fa47c35000", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("fb3ff199999999999a", NULL));
    /* tags: 1(1363896240), 18(...) as COSE_Sign1 wears it, 2(h'010000000000000000') */
    EXPECT_OK(s_dec("c11a514b67b0", &it));
    EXPECT_INT_EQ(it.type, AK_CBOR_TAG);
    EXPECT_INT_EQ(it.val, 1);
    EXPECT_INT_EQ(it.body.len, 5);
    EXPECT_OK(s_dec("d28443a10126a04040", &it));
    EXPECT_INT_EQ(it.val, 18);
    EXPECT_OK(s_dec("c249010000000000000000", &it));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("c1", NULL)); /* a tag needs its item */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("df00", NULL));
}

AK_TEST(test_strict_refusals) {
    /* non-shortest heads (preferred serialization, §4.2.1) */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("1817", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("190017", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("1900ff", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("1a0000ffff", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("1b00000000ffffffff", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("3817", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("5800", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("790001"
                                         "61",
                                         NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("9800", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("b800", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("d812"
                                         "00",
                                         NULL));
    EXPECT_OK(s_dec("1a00010000", NULL)); /* the smallest 4-byte argument is fine */
    /* indefinite-length strings (§3.2.3) are refused, Appendix A's two examples */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("5f42010243030405ff", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("7f657374726561646d696e67ff", NULL));
    /* UTF-8: overlong, surrogate, above U+10FFFF, lone continuation, truncated sequence, 0xff */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("62c080", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("63e08080", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("63eda080", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("64f4908080", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("64f0808080", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("6180", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("62e6b0", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("61ff", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("63e6b061", NULL));
    /* duplicate map keys, definite and indefinite, integer and text; equal values only */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("a201000100", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("a3010002000100", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("bf6161006161"
                                         "01ff",
                                         NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("a1"
                                         "a201000100"
                                         "00",
                                         NULL)); /* nested */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("a2"
                                         "820102"
                                         "00"
                                         "820102"
                                         "01",
                                         NULL)); /* array keys */
    EXPECT_OK(s_dec("a3010002002000", NULL));    /* 1, 2, -1: distinct */
    EXPECT_OK(s_dec("a2"
                    "4101"
                    "00"
                    "6101"
                    "00",
                    NULL)); /* h'01' and "\x01" differ by type */
    /* trailing bytes after the one item */
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("0000", NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_dec("80ff", NULL));
}

/* RFC 8949 Appendix F: not-well-formed inputs (every one must be refused). */
AK_TEST(test_appendix_f_malformed) {
    static const char *const bad[] = {
        /* F.1 end of input in a head */
        "18",
        "19",
        "1a",
        "1b",
        "1901",
        "1a0102",
        "1b01020304050607",
        "38",
        "58",
        "78",
        "98",
        "9a01ff00",
        "b8",
        "d8",
        "f8",
        "f900",
        "fa0000",
        "fb000000",
        /* definite-length strings with short data */
        "41",
        "61",
        "5affffffff00",
        "5bffffffffffffffff010203",
        "7affffffff00",
        "7b7fffffffffffffff010203",
        /* definite-length maps and arrays not closed with enough items */
        "81",
        "818181818181818181",
        "8200",
        "a1",
        "a20102",
        "a100",
        "a2000000",
        /* indefinite-length containers not closed by a break */
        "9f",
        "9f0102",
        "bf",
        "bf01020102",
        "819f",
        "9f8000",
        "9f9f9f9f9fffffffff",
        "9f819f819f9fffffff",
        /* reserved additional information values */
        "1c",
        "1d",
        "1e",
        "3c",
        "3d",
        "3e",
        "5c",
        "5d",
        "5e",
        "7c",
        "7d",
        "7e",
        "9c",
        "9d",
        "9e",
        "bc",
        "bd",
        "be",
        "dc",
        "dd",
        "de",
        "fc",
        "fd",
        "fe",
        /* indefinite length where it cannot be */
        "1f",
        "3f",
        "df",
        /* break occurring on its own outside of an indefinite-length item */
        "ff",
        "81ff",
        "8200ff",
        "a1ff",
        "a1ff00",
        "a100ff",
        "a20000ff",
        "9f81ff",
        "9f829f819f9fffffffff",
        /* break in an indefinite-length map that would lead to an odd number of items */
        "bf00ff",
        "bf000000ff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_cbor_item it;
        ak_cur in = s_hex(bad[i]);
        ak_cur c = in;
        ak_err e = ak_cbor_decode(&c, NULL, &it);
        if (e == AK_OK) fail_msg("accepted malformed %s", bad[i]);
        if (e != AK_E_INVALID_INPUT && e != AK_E_LIMIT) fail_msg("%s -> %s", bad[i], ak_err_reason(e));
        /* a failed read does not advance */
        EXPECT_TRUE(c.ptr == in.ptr && c.len == in.len);
    }
}

AK_TEST(test_limits) {
    ak_cbor_item it;
    /* depth: 16 nested arrays around a scalar is 17 levels */
    char deep[64] = {0};
    for (int i = 0; i < 15; i++)
        memcpy(deep + 2 * i, "81", 2);
    memcpy(deep + 30, "00", 2);
    EXPECT_OK(s_dec(deep, &it)); /* 15 arrays + scalar = 16 levels */
    char deeper[64] = {0};
    memcpy(deeper, "81", 2);
    memcpy(deeper + 2, deep, 32);
    EXPECT_ERR(AK_E_LIMIT, s_dec(deeper, &it));
    ak_cbor_limits lim = {17, 0, 0};
    EXPECT_OK(ak_cbor_decode_all(s_hex(deeper), &lim, &it));
    /* items per container, definite and indefinite */
    ak_buf hex;
    ak_buf_init(&hex, 4096);
    EXPECT_OK(ak_buf_append_str(&hex, "990101"));
    for (int i = 0; i < 257; i++)
        EXPECT_OK(ak_buf_append_str(&hex, "00"));
    EXPECT_ERR(AK_E_LIMIT, s_dec(ak_buf_cstr(&hex), &it));
    ak_buf_clear(&hex);
    EXPECT_OK(ak_buf_append_str(&hex, "9f"));
    for (int i = 0; i < 257; i++)
        EXPECT_OK(ak_buf_append_str(&hex, "00"));
    EXPECT_OK(ak_buf_append_str(&hex, "ff"));
    EXPECT_ERR(AK_E_LIMIT, s_dec(ak_buf_cstr(&hex), &it));
    lim = (ak_cbor_limits){0, 257, 0};
    EXPECT_OK(ak_cbor_decode_all(s_hex(ak_buf_cstr(&hex)), &lim, &it));
    EXPECT_INT_EQ(it.count, 257);
    ak_buf_free(&hex);
    /* a huge declared count is refused before anything is read */
    EXPECT_ERR(AK_E_LIMIT, s_dec("9bffffffffffffffff", &it));
    /* string length */
    lim = (ak_cbor_limits){0, 0, 3};
    EXPECT_OK(ak_cbor_decode_all(s_hex("43010203"), &lim, &it));
    EXPECT_ERR(AK_E_LIMIT, ak_cbor_decode_all(s_hex("4401020304"), &lim, &it));
    EXPECT_ERR(AK_E_LIMIT, ak_cbor_decode_all(s_hex("5bffffffffffffffff"), &lim, &it));
}

AK_TEST(test_cursor_advances_item_by_item) {
    ak_cur c = s_hex("01"
                     "6161"
                     "820203"
                     "f6");
    ak_cbor_item it;
    EXPECT_OK(ak_cbor_decode(&c, NULL, &it));
    EXPECT_INT_EQ(it.raw.len, 1);
    EXPECT_OK(ak_cbor_decode(&c, NULL, &it));
    EXPECT_INT_EQ(it.type, AK_CBOR_TSTR);
    EXPECT_OK(ak_cbor_decode(&c, NULL, &it));
    EXPECT_INT_EQ(it.type, AK_CBOR_ARRAY);
    EXPECT_INT_EQ(it.raw.len, 3);
    /* walking a container's body item by item */
    ak_cur r = it.body;
    ak_cbor_item x;
    uint64_t v;
    EXPECT_OK(ak_cbor_decode(&r, NULL, &x));
    EXPECT_OK(ak_cbor_get_uint(&x, &v));
    EXPECT_INT_EQ(v, 2);
    EXPECT_OK(ak_cbor_decode(&r, NULL, &x));
    EXPECT_INT_EQ(r.len, 0);
    EXPECT_OK(ak_cbor_decode(&c, NULL, &it));
    EXPECT_TRUE(ak_cbor_is_null(&it));
    EXPECT_INT_EQ(c.len, 0);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cbor_decode(&c, NULL, &it));
}

AK_TEST(test_head_encoder) {
    static const struct {
        uint8_t major;
        uint64_t arg;
        const char *hex;
    } cases[] = {
        {0, 0, "00"},
        {0, 23, "17"},
        {0, 24, "1818"},
        {0, 255, "18ff"},
        {0, 256, "190100"},
        {0, 65535, "19ffff"},
        {0, 65536, "1a00010000"},
        {0, 0xffffffffu, "1affffffff"},
        {0, 0x100000000ull, "1b0000000100000000"},
        {0, UINT64_MAX, "1bffffffffffffffff"},
        {1, 34, "3822"},
        {2, 96, "5860"},
        {3, 10, "6a"},
        {4, 4, "84"},
        {5, 1, "a1"},
        {6, 18, "d2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ak_buf b;
        ak_buf_init(&b, 16);
        EXPECT_OK(ak_cbor_put_head(&b, cases[i].major, cases[i].arg));
        ak_cur want = s_hex(cases[i].hex);
        EXPECT_BYTES_EQ(b.ptr, b.len, want.ptr, want.len);
        ak_buf_free(&b);
    }
}

static int s_teardown(void **state) {
    ak_buf_free(&s_in);
    return ak_test_teardown(state);
}
#define AK_TC(fn) cmocka_unit_test_setup_teardown(fn, ak_test_setup, s_teardown)

AK_RUN_TESTS(AK_TC(test_appendix_a_integers), AK_TC(test_appendix_a_strings),
             AK_TC(test_appendix_a_containers), AK_TC(test_appendix_a_indefinite_containers),
             AK_TC(test_simple_values_and_tags), AK_TC(test_strict_refusals),
             AK_TC(test_appendix_f_malformed), AK_TC(test_limits), AK_TC(test_cursor_advances_item_by_item),
             AK_TC(test_head_encoder))
