/*
 * rlp_test.c — RLP encoding against the examples of the Ethereum wiki / ethereum.org "Recursive-
 * length prefix (RLP) serialization" page (expected bytes as printed there), plus long-form
 * headers and integer edge cases.
 */
#include "test.h"

#include "ak/rlp.h"

static void s_expect_hex(const ak_buf *b, const char *hex) {
    ak_buf want;
    ak_buf_init(&want, 1u << 16);
    if (ak_hex_decode_buf(ak_cur_from_str(hex), true, &want) != AK_OK) fail_msg("bad hex");
    EXPECT_BYTES_EQ(b->ptr, b->len, want.ptr, want.len);
    ak_buf_free(&want);
}

static ak_err s_str(ak_buf *b, const char *s) { return ak_rlp_bytes(b, (const uint8_t *)s, strlen(s)); }

AK_TEST(test_wiki_strings_and_ints) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    EXPECT_OK(s_str(&b, "dog")); /* "dog" = [0x83, 'd', 'o', 'g'] */
    s_expect_hex(&b, "83646f67");
    ak_buf_clear(&b);
    EXPECT_OK(s_str(&b, "")); /* the empty string ('null') = [0x80] */
    s_expect_hex(&b, "80");
    ak_buf_clear(&b);
    EXPECT_OK(ak_rlp_u64(&b, 0)); /* the integer 0 = [0x80] */
    s_expect_hex(&b, "80");
    ak_buf_clear(&b);
    uint8_t zero = 0; /* the encoded integer 0 ('\x00') = [0x00] */
    EXPECT_OK(ak_rlp_bytes(&b, &zero, 1));
    s_expect_hex(&b, "00");
    ak_buf_clear(&b);
    EXPECT_OK(ak_rlp_u64(&b, 15)); /* the encoded integer 15 ('\x0f') = [0x0f] */
    s_expect_hex(&b, "0f");
    ak_buf_clear(&b);
    EXPECT_OK(ak_rlp_u64(&b, 1024)); /* the encoded integer 1024 ('\x04\x00') = [0x82, 0x04, 0x00] */
    s_expect_hex(&b, "820400");
    ak_buf_clear(&b);
    EXPECT_OK(ak_rlp_u64(&b, 0x80)); /* a single byte >= 0x80 gets a header */
    s_expect_hex(&b, "8180");
    ak_buf_clear(&b);
    EXPECT_OK(ak_rlp_u64(&b, UINT64_MAX));
    s_expect_hex(&b, "88ffffffffffffffff");
    ak_buf_clear(&b);
    /* "Lorem ipsum dolor sit amet, consectetur adipisicing elit" (56 bytes) = [0xb8, 0x38, ...] */
    const char *lorem = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
    EXPECT_OK(s_str(&b, lorem));
    EXPECT_INT_EQ(b.len, 58);
    EXPECT_INT_EQ(b.ptr[0], 0xb8);
    EXPECT_INT_EQ(b.ptr[1], 0x38);
    EXPECT_TRUE(memcmp(b.ptr + 2, lorem, 56) == 0);
    ak_buf_clear(&b);
    /* 55 bytes is still the short form */
    EXPECT_OK(ak_rlp_bytes(&b, (const uint8_t *)lorem, 55));
    EXPECT_INT_EQ(b.ptr[0], 0x80 + 55);
    ak_buf_clear(&b);
    /* leading zeros of a big-endian integer are not encoded */
    const uint8_t be[] = {0, 0, 0x04, 0x00};
    EXPECT_OK(ak_rlp_uint_be(&b, be, sizeof(be)));
    s_expect_hex(&b, "820400");
    ak_buf_clear(&b);
    const uint8_t zeros[32] = {0};
    EXPECT_OK(ak_rlp_uint_be(&b, zeros, 32));
    s_expect_hex(&b, "80");
    ak_buf_free(&b);
}

AK_TEST(test_wiki_lists) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    size_t m, m1, m2, m3;
    /* ["cat", "dog"] = [0xc8, 0x83, 'c', 'a', 't', 0x83, 'd', 'o', 'g'] */
    EXPECT_OK(ak_rlp_list_begin(&b, &m));
    EXPECT_OK(s_str(&b, "cat"));
    EXPECT_OK(s_str(&b, "dog"));
    EXPECT_OK(ak_rlp_list_end(&b, m));
    s_expect_hex(&b, "c88363617483646f67");
    ak_buf_clear(&b);
    /* the empty list = [0xc0] */
    EXPECT_OK(ak_rlp_list_begin(&b, &m));
    EXPECT_OK(ak_rlp_list_end(&b, m));
    s_expect_hex(&b, "c0");
    ak_buf_clear(&b);
    /* the set theoretical representation of three, [ [], [[]], [ [], [[]] ] ] =
     * [ 0xc7, 0xc0, 0xc1, 0xc0, 0xc3, 0xc0, 0xc1, 0xc0 ] */
    EXPECT_OK(ak_rlp_list_begin(&b, &m));
    EXPECT_OK(ak_rlp_list_begin(&b, &m1));
    EXPECT_OK(ak_rlp_list_end(&b, m1));
    EXPECT_OK(ak_rlp_list_begin(&b, &m1));
    EXPECT_OK(ak_rlp_list_begin(&b, &m2));
    EXPECT_OK(ak_rlp_list_end(&b, m2));
    EXPECT_OK(ak_rlp_list_end(&b, m1));
    EXPECT_OK(ak_rlp_list_begin(&b, &m1));
    EXPECT_OK(ak_rlp_list_begin(&b, &m2));
    EXPECT_OK(ak_rlp_list_end(&b, m2));
    EXPECT_OK(ak_rlp_list_begin(&b, &m2));
    EXPECT_OK(ak_rlp_list_begin(&b, &m3));
    EXPECT_OK(ak_rlp_list_end(&b, m3));
    EXPECT_OK(ak_rlp_list_end(&b, m2));
    EXPECT_OK(ak_rlp_list_end(&b, m1));
    EXPECT_OK(ak_rlp_list_end(&b, m));
    s_expect_hex(&b, "c7c0c1c0c3c0c1c0");
    ak_buf_clear(&b);
    /* a list whose payload is 56 bytes takes the long form 0xf8 0x38 */
    EXPECT_OK(ak_rlp_list_begin(&b, &m));
    for (int i = 0; i < 14; i++)
        EXPECT_OK(s_str(&b, "abc")); /* 14 * 4 = 56 */
    EXPECT_OK(ak_rlp_list_end(&b, m));
    EXPECT_INT_EQ(b.len, 58);
    EXPECT_INT_EQ(b.ptr[0], 0xf8);
    EXPECT_INT_EQ(b.ptr[1], 0x38);
    EXPECT_INT_EQ(b.ptr[2], 0x83);
    ak_buf_clear(&b);
    /* a 1024-byte string inside a list: two-byte lengths for both */
    uint8_t big[1024];
    memset(big, 'a', sizeof(big));
    EXPECT_OK(ak_rlp_list_begin(&b, &m));
    EXPECT_OK(ak_rlp_bytes(&b, big, sizeof(big)));
    EXPECT_OK(ak_rlp_list_end(&b, m));
    EXPECT_INT_EQ(b.len, 1024 + 3 + 3);
    EXPECT_INT_EQ(b.ptr[0], 0xf9);
    EXPECT_INT_EQ(b.ptr[1], 0x04);
    EXPECT_INT_EQ(b.ptr[2], 0x03);
    EXPECT_INT_EQ(b.ptr[3], 0xb9);
    EXPECT_INT_EQ(b.ptr[4], 0x04);
    EXPECT_INT_EQ(b.ptr[5], 0x00);
    ak_buf_free(&b);
}

AK_TEST(test_ceiling_is_an_error) {
    ak_buf b;
    ak_buf_init(&b, 4);
    EXPECT_ERR(AK_E_LIMIT, s_str(&b, "dogs")); /* needs 5 bytes */
    EXPECT_INT_EQ(b.len, 0);
    size_t m;
    EXPECT_OK(ak_rlp_list_begin(&b, &m));
    EXPECT_OK(s_str(&b, "dog"));
    /* the list header would make it 5 bytes: refused, payload left as it was */
    EXPECT_ERR(AK_E_LIMIT, ak_rlp_list_end(&b, m));
    EXPECT_INT_EQ(b.len, 4);
    ak_buf_free(&b);
}

AK_RUN_TESTS(AK_T(test_wiki_strings_and_ints), AK_T(test_wiki_lists), AK_T(test_ceiling_is_an_error))
