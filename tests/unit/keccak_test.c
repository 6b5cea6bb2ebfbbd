/*
 * keccak_test.c — Keccak-256 (Ethereum padding) against the known values in
 * ../shared/vectors/ethereum-doc-examples/keccak256_known_values.json, plus rate-boundary
 * lengths and incremental updates split at every offset.
 */
#include "test.h"

#include "ak/crypto.h"
#include "ak/json.h"

static void s_hex32(const char *hex, uint8_t out[32]) {
    if (ak_hex_decode_exact(ak_cur_from_str(hex), true, out, 32) != AK_OK) fail_msg("bad hex %s", hex);
}

/* Deterministic test pattern: byte i = (7i + 3) mod 256. */
static void s_pattern(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + 3);
}

AK_TEST(test_known_values_file) {
    ak_buf file;
    ak_buf_init(&file, 1u << 20);
    ak_test_read_file(ak_test_vector_path("ethereum-doc-examples/keccak256_known_values.json"), &file);
    json_t *root = NULL;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&file), &root));
    json_t *vecs = json_object_get(root, "vectors");
    assert_non_null(vecs);
    size_t i;
    json_t *v;
    size_t count = 0;
    json_array_foreach(vecs, i, v) {
        ak_cur in_hex, want_hex;
        EXPECT_OK(ak_json_str(v, "input_hex", &in_hex));
        EXPECT_OK(ak_json_str(v, "keccak256", &want_hex));
        ak_buf in;
        ak_buf_init(&in, 1u << 16);
        EXPECT_OK(ak_hex_decode_buf(in_hex, true, &in));
        uint8_t want[32], got[32];
        EXPECT_OK(ak_hex_decode_exact(want_hex, true, want, 32));
        ak_keccak256(in.ptr, in.len, got);
        EXPECT_BYTES_EQ(got, 32, want, 32);
        /* and once more through the streaming API, one byte at a time */
        ak_keccak_ctx c;
        ak_keccak256_init(&c);
        for (size_t k = 0; k < in.len; k++)
            ak_keccak256_update(&c, in.ptr + k, 1);
        ak_keccak256_final(&c, got);
        EXPECT_BYTES_EQ(got, 32, want, 32);
        ak_buf_free(&in);
        count++;
    }
    EXPECT_TRUE(count >= 7);
    printf("keccak256_known_values.json: %zu vectors passed\n", count);
    json_decref(root);
    ak_buf_free(&file);
}

/*
 * Rate-boundary lengths (rate = 136 bytes): 135 puts both padding bits in one byte (0x81),
 * 136 forces a whole padding block, 137 spills one byte. Expected values were computed with an
 * independent implementation, foundry's `cast keccak 0x<pattern hex>` (cast 1.7.1).
 */
AK_TEST(test_rate_boundaries) {
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {0, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
        {1, "69c322e3248a5dfc29d73c5b0553b0185a35cd5bb6386747517ef7e53b15e287"},
        {135, "00ef96af9cf4b24c7f269d922294444a197d0a33638c2e56634c57e892103a8f"},
        {136, "742061bcad767ed4c4f5883b1dcb1aad11afdcc140dc469d953759b127b9f9ed"},
        {137, "e3371f61e770abf254c34239c3b0099ad90594507415bc81dd0a10b9692bbf2a"},
        {271, "4401c4afbe16ff911bdbf2d38e556e5b861f3fdf0f9d4306b1c46f6ae4f73584"},
        {272, "ac141fd7b0a0ffcd2e967254d508da3ec616596493c36fa304425647d90e6de5"},
        {1000, "80cdc8dd52cbb3dbaea8f383209893fa2bb52efbd5aedbb4b26dcfe307fcdc9b"},
    };
    uint8_t data[1000];
    s_pattern(data, sizeof(data));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t want[32], got[32];
        s_hex32(cases[i].hex, want);
        ak_keccak256(data, cases[i].n, got);
        EXPECT_BYTES_EQ(got, 32, want, 32);
    }
}

AK_TEST(test_not_sha3) {
    /* FIPS-202 SHA3-256("") would be a7ffc6f8…; a padding mix-up must fail here. */
    uint8_t got[32], sha3_empty[32];
    s_hex32("a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a", sha3_empty);
    ak_keccak256("", 0, got);
    EXPECT_TRUE(memcmp(got, sha3_empty, 32) != 0);
}

AK_TEST(test_incremental_split_at_every_offset) {
    /* two- and three-part splits of a 300-byte input (> 2 blocks) must equal the one-shot hash */
    uint8_t data[300], want[32], got[32];
    s_pattern(data, sizeof(data));
    ak_keccak256(data, sizeof(data), want);
    for (size_t a = 0; a <= sizeof(data); a++) {
        ak_keccak_ctx c;
        ak_keccak256_init(&c);
        ak_keccak256_update(&c, data, a);
        ak_keccak256_update(&c, data + a, sizeof(data) - a);
        ak_keccak256_final(&c, got);
        EXPECT_BYTES_EQ(got, 32, want, 32);
    }
    for (size_t a = 0; a <= sizeof(data); a += 7) {
        for (size_t b = a; b <= sizeof(data); b += 5) {
            ak_keccak_ctx c;
            ak_keccak256_init(&c);
            ak_keccak256_update(&c, data, a);
            ak_keccak256_update(&c, NULL, 0);
            ak_keccak256_update(&c, data + a, b - a);
            ak_keccak256_update(&c, data + b, sizeof(data) - b);
            ak_keccak256_final(&c, got);
            EXPECT_BYTES_EQ(got, 32, want, 32);
        }
    }
}

AK_TEST(test_different_inputs_differ) {
    uint8_t a[32], b[32];
    ak_keccak256("abc", 3, a);
    ak_keccak256("abd", 3, b);
    EXPECT_TRUE(memcmp(a, b, 32) != 0);
    ak_keccak256("\0", 1, b); /* one zero byte is not the empty string */
    ak_keccak256("", 0, a);
    EXPECT_TRUE(memcmp(a, b, 32) != 0);
}

AK_RUN_TESTS(AK_T(test_known_values_file), AK_T(test_rate_boundaries), AK_T(test_not_sha3),
             AK_T(test_incremental_split_at_every_offset), AK_T(test_different_inputs_differ))
