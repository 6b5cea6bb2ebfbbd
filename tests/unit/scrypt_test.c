/*
 * scrypt_test.c — PBKDF2-HMAC-SHA256 and scrypt against the test vectors of RFC 7914 (§8
 * Salsa20/8, §9 BlockMix, §10 ROMix, §11 PBKDF2, §12 scrypt; short public values typed from the
 * RFC text), the parameter bounds (the RFC's 4th vector, N = 2^20 r = 8, needs 1 GiB and is
 * refused), and every allocation failing in turn.
 */
#include "test.h"

#include "ak/scrypt.h"

/* Hex with spaces and newlines, as the RFC prints it. */
static size_t s_unhex(const char *h, uint8_t *out, size_t cap) {
    ak_buf clean;
    ak_buf_init(&clean, 4096);
    for (const char *p = h; *p; p++)
        if (*p != ' ' && *p != '\n') assert_int_equal(ak_buf_append_byte(&clean, (uint8_t)*p), AK_OK);
    size_t n = clean.len / 2;
    assert_true(n <= cap);
    EXPECT_OK(ak_hex_decode_exact(ak_buf_cur(&clean), false, out, n));
    ak_buf_free(&clean);
    return n;
}

/* RFC 7914 §9 / §10 input block (r = 1, 128 bytes) */
static const char *s_mix_in = "f7 ce 0b 65 3d 2d 72 a4 10 8c f5 ab e9 12 ff dd"
                              "77 76 16 db bb 27 a7 0e 82 04 f3 ae 2d 0f 6f ad"
                              "89 f6 8f 48 11 d1 e8 7b cc 3b d7 40 0a 9f fd 29"
                              "09 4f 01 84 63 95 74 f3 9a e5 a1 31 52 17 bc d7"
                              "89 49 91 44 72 13 bb 22 6c 25 b5 4d a8 63 70 fb"
                              "cd 98 43 80 37 46 66 bb 8f fc b5 bf 40 c2 54 b0"
                              "67 d2 7c 51 ce 4a d5 fe d8 29 c9 0b 50 5a 57 1b"
                              "7f 4d 1c ad 6a 52 3c da 77 0e 67 bc ea af 7e 89";

AK_TEST(test_salsa20_8_rfc7914_s8) {
    uint8_t in[64], want[64], out[64];
    s_unhex("7e 87 9a 21 4f 3e c9 86 7c a9 40 e6 41 71 8f 26"
            "ba ee 55 5b 8c 61 c1 b5 0d f8 46 11 6d cd 3b 1d"
            "ee 24 f3 19 df 9b 3d 85 14 12 1e 4b 5a c5 aa 32"
            "76 02 1d 29 09 c7 48 29 ed eb c6 8d b8 b8 c2 5e",
            in, 64);
    s_unhex("a4 1f 85 9c 66 08 cc 99 3b 81 ca cb 02 0c ef 05"
            "04 4b 21 81 a2 fd 33 7d fd 7b 1c 63 96 68 2f 29"
            "b4 39 31 68 e3 c9 e6 bc fe 6b c5 b7 a0 6d 96 ba"
            "e4 24 cc 10 2c 91 74 5c 24 ad 67 3d c7 61 8f 81",
            want, 64);
    ak_salsa20_8(in, out);
    EXPECT_BYTES_EQ(out, 64, want, 64);
    ak_salsa20_8(in, in); /* in place */
    EXPECT_BYTES_EQ(in, 64, want, 64);
}

AK_TEST(test_blockmix_rfc7914_s9) {
    uint8_t in[128], want[128], out[128];
    s_unhex(s_mix_in, in, 128);
    s_unhex("a4 1f 85 9c 66 08 cc 99 3b 81 ca cb 02 0c ef 05"
            "04 4b 21 81 a2 fd 33 7d fd 7b 1c 63 96 68 2f 29"
            "b4 39 31 68 e3 c9 e6 bc fe 6b c5 b7 a0 6d 96 ba"
            "e4 24 cc 10 2c 91 74 5c 24 ad 67 3d c7 61 8f 81"
            "20 ed c9 75 32 38 81 a8 05 40 f6 4c 16 2d cd 3c"
            "21 07 7c fe 5f 8d 5f e2 b1 a4 16 8f 95 36 78 b7"
            "7d 3b 3d 80 3b 60 e4 ab 92 09 96 e5 9b 4d 53 b6"
            "5d 2a 22 58 77 d5 ed f5 84 2c b9 f1 4e ef e4 25",
            want, 128);
    ak_scrypt_blockmix(in, out, 1);
    EXPECT_BYTES_EQ(out, 128, want, 128);
}

AK_TEST(test_romix_rfc7914_s10) {
    uint8_t b[128], want[128];
    s_unhex(s_mix_in, b, 128);
    s_unhex("79 cc c1 93 62 9d eb ca 04 7f 0b 70 60 4b f6 b6"
            "2c e3 dd 4a 96 26 e3 55 fa fc 61 98 e6 ea 2b 46"
            "d5 84 13 67 3b 99 b0 29 d6 65 c3 57 60 1f b4 26"
            "a0 b2 f4 bb a2 00 ee 9f 0a 43 d1 9b 57 1a 9c 71"
            "ef 11 42 e6 5d 5a 26 6f dd ca 83 2c e5 9f aa 7c"
            "ac 0b 9c f1 be 2b ff ca 30 0d 01 ee 38 76 19 c4"
            "ae 12 fd 44 38 f2 03 a0 e4 e1 c4 7e c3 14 86 1f"
            "4e 90 87 cb 33 39 6a 68 73 e8 f9 d2 53 9a 4b 8e",
            want, 128);
    size_t n = ak_scrypt_romix_scratch(16, 1);
    void *scratch = ak_malloc(n);
    assert_non_null(scratch);
    ak_scrypt_romix(b, 1, 16, scratch);
    ak_free(scratch);
    EXPECT_BYTES_EQ(b, 128, want, 128);
}

AK_TEST(test_pbkdf2_rfc7914_s11) {
    uint8_t got[64], want[64];
    s_unhex("55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05"
            "f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc"
            "49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31"
            "7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83",
            want, 64);
    EXPECT_OK(ak_pbkdf2_sha256("passwd", 6, "salt", 4, 1, got, 64));
    EXPECT_BYTES_EQ(got, 64, want, 64);
    s_unhex("4d dc d8 f6 0b 98 be 21 83 0c ee 5e f2 27 01 f9"
            "64 1a 44 18 d0 4c 04 14 ae ff 08 87 6b 34 ab 56"
            "a1 d4 25 a1 22 58 33 54 9a db 84 1b 51 c9 b3 17"
            "6a 27 2b de bb a1 d0 78 47 8f 62 b3 97 f3 3c 8d",
            want, 64);
    EXPECT_OK(ak_pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, got, 64));
    EXPECT_BYTES_EQ(got, 64, want, 64);
    /* a prefix of the output is the same derivation with a shorter dkLen */
    uint8_t short_out[20];
    EXPECT_OK(ak_pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, short_out, 20));
    EXPECT_BYTES_EQ(short_out, 20, want, 20);
}

AK_TEST(test_scrypt_rfc7914_s12) {
    uint8_t got[64], want[64];
    s_unhex("77 d6 57 62 38 65 7b 20 3b 19 ca 42 c1 8a 04 97"
            "f1 6b 48 44 e3 07 4a e8 df df fa 3f ed e2 14 42"
            "fc d0 06 9d ed 09 48 f8 32 6a 75 3a 0f c8 1f 17"
            "e8 d3 e0 fb 2e 0d 36 28 cf 35 e2 0c 38 d1 89 06",
            want, 64);
    EXPECT_OK(ak_scrypt("", 0, "", 0, 16, 1, 1, got, 64));
    EXPECT_BYTES_EQ(got, 64, want, 64);
    s_unhex("fd ba be 1c 9d 34 72 00 78 56 e7 19 0d 01 e9 fe"
            "7c 6a d7 cb c8 23 78 30 e7 73 76 63 4b 37 31 62"
            "2e af 30 d9 2e 22 a3 88 6f f1 09 27 9d 98 30 da"
            "c7 27 af b9 4a 83 ee 6d 83 60 cb df a2 cc 06 40",
            want, 64);
    EXPECT_OK(ak_scrypt("password", 8, "NaCl", 4, 1024, 8, 16, got, 64));
    EXPECT_BYTES_EQ(got, 64, want, 64);
    s_unhex("70 23 bd cb 3a fd 73 48 46 1c 06 cd 81 fd 38 eb"
            "fd a8 fb ba 90 4f 8e 3e a9 b5 43 f6 54 5d a1 f2"
            "d5 43 29 55 61 3f 0f cf 62 d4 97 05 24 2a 9a f9"
            "e6 1e 85 dc 0d 65 1e 40 df cf 01 7b 45 57 58 87",
            want, 64);
    EXPECT_OK(ak_scrypt("pleaseletmein", 13, "SodiumChloride", 14, 16384, 8, 1, got, 64));
    EXPECT_BYTES_EQ(got, 64, want, 64);
    /* RFC 7914's 4th vector (N = 2^20, r = 8) needs 1 GiB: above AK_SCRYPT_MAX_MEM, refused
     * before anything is allocated, with the output zeroed. */
    memset(got, 0xaa, sizeof(got));
    uint64_t calls = ak_alloc_calls();
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt("pleaseletmein", 13, "SodiumChloride", 14, 1048576, 8, 1, got, 64));
    EXPECT_INT_EQ(ak_alloc_calls(), calls);
    static const uint8_t zero[64];
    EXPECT_BYTES_EQ(got, 64, zero, 64);
}

AK_TEST(test_scrypt_param_bounds) {
    EXPECT_OK(ak_scrypt_check(2, 1, 1));
    EXPECT_OK(ak_scrypt_check(262144, 8, 1)); /* geth standard */
    EXPECT_OK(ak_scrypt_check(262144, 1, 8)); /* Web3 Secret Storage vector */
    EXPECT_OK(ak_scrypt_check(4096, 8, 6));   /* geth light */
    EXPECT_OK(ak_scrypt_check(1u << 20, 4, 1));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(0, 8, 1));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(1, 8, 1));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(3, 8, 1));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(262143, 8, 1));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(1u << 21, 1, 1)); /* N above max */
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(1ull << 63, 1, 1));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(16, 0, 1));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(16, 1, 0));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(16, 33, 1));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(16, 1, 17));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(16, 1ull << 40, 1ull << 40));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(1u << 20, 8, 1));  /* 1 GiB */
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt_check(1u << 19, 4, 16)); /* 256 MiB but 2^25 work */
    uint8_t out[32];
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_pbkdf2_sha256("p", 1, "s", 1, 0, out, 32));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_pbkdf2_sha256("p", 1, "s", 1, AK_PBKDF2_MAX_ITER + 1ull, out, 32));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_pbkdf2_sha256("p", 1, "s", 1, 1, out, 0));
    EXPECT_ERR(AK_E_KDF_PARAMS, ak_scrypt("p", 1, "s", 1, 16, 1, 1, out, 0));
}

AK_TEST(test_scrypt_out_of_memory) {
    uint8_t want[32], got[32];
    EXPECT_OK(ak_scrypt("pw", 2, "salt", 4, 64, 2, 2, want, 32));
    for (uint64_t nth = 1; nth <= 2; nth++) {
        memset(got, 0xaa, sizeof(got));
        ak_alloc_fail_nth(nth);
        EXPECT_ERR(AK_E_NOMEM, ak_scrypt("pw", 2, "salt", 4, 64, 2, 2, got, 32));
        ak_alloc_fail_nth(0);
        static const uint8_t zero[32];
        EXPECT_BYTES_EQ(got, 32, zero, 32);
    }
    EXPECT_OK(ak_scrypt("pw", 2, "salt", 4, 64, 2, 2, got, 32));
    EXPECT_BYTES_EQ(got, 32, want, 32);
    /* one changed input bit changes the output */
    EXPECT_OK(ak_scrypt("pv", 2, "salt", 4, 64, 2, 2, got, 32));
    EXPECT_FALSE(memcmp(got, want, 32) == 0);
}

AK_RUN_TESTS(AK_T(test_salsa20_8_rfc7914_s8), AK_T(test_blockmix_rfc7914_s9), AK_T(test_romix_rfc7914_s10),
             AK_T(test_pbkdf2_rfc7914_s11), AK_T(test_scrypt_rfc7914_s12), AK_T(test_scrypt_param_bounds),
             AK_T(test_scrypt_out_of_memory))
