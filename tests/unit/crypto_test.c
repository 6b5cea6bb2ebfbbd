/*
 * crypto_test.c — ak/crypto.h known answers and negative cases; Ethereum documentation EIP-191
 * examples and the SIWE (EIP-4361) positive verification vectors. The Wycheproof suites are in
 * crypto_wycheproof_test.c.
 */
#include "test.h"

#include <jansson.h>

#include "ak/crypto.h"
#include "ak/ct.h"

static void s_hexto(const char *hex, uint8_t *out, size_t n) {
    if (ak_hex_decode_exact(ak_cur_from_str(hex), true, out, n) != AK_OK) fail_msg("bad hex %s", hex);
}

static json_t *s_load(const char *rel) {
    ak_buf b;
    ak_buf_init(&b, 1u << 24);
    ak_test_read_file(ak_test_vector_path(rel), &b);
    json_error_t e;
    json_t *j = json_loadb((const char *)b.ptr, b.len, 0, &e);
    ak_buf_free(&b);
    if (j == NULL) fail_msg("%s: %s", rel, e.text);
    return j;
}

/* ------------------------------------------------------------------ hashes */

AK_TEST(test_sha_known_answers) {
    uint8_t h[48], want[48];
    ak_sha256("abc", 3, h);
    s_hexto("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    EXPECT_BYTES_EQ(h, 32, want, 32);
    ak_sha384("abc", 3, h);
    s_hexto(
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        want, 48);
    EXPECT_BYTES_EQ(h, 48, want, 48);
    ak_sha1("abc", 3, h);
    s_hexto("a9993e364706816aba3e25717850c26c9cd0d89d", want, 20);
    EXPECT_BYTES_EQ(h, 20, want, 20);
    /* streaming == one shot, across odd split points */
    uint8_t data[300];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    ak_sha256(data, sizeof(data), want);
    ak_sha256_ctx c;
    ak_sha256_init(&c);
    ak_sha256_update(&c, data, 1);
    ak_sha256_update(&c, data + 1, 63);
    ak_sha256_update(&c, data + 64, 0);
    ak_sha256_update(&c, data + 64, 236);
    ak_sha256_final(&c, h);
    EXPECT_BYTES_EQ(h, 32, want, 32);
    /* a changed byte changes the hash (the test can fail) */
    data[299] ^= 1;
    ak_sha256(data, sizeof(data), h);
    EXPECT_FALSE(memcmp(h, want, 32) == 0);
}

AK_TEST(test_hmac_hkdf_rfc_vectors) {
    /* RFC 4231 test case 2 */
    uint8_t mac[32], want[42];
    ak_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    s_hexto("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
    EXPECT_BYTES_EQ(mac, 32, want, 32);
    /* RFC 5869 A.3: empty salt and info */
    uint8_t ikm[22], okm[42];
    memset(ikm, 0x0b, sizeof(ikm));
    EXPECT_OK(ak_hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, okm, 42));
    s_hexto("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8", want, 42);
    EXPECT_BYTES_EQ(okm, 42, want, 42);
    /* L > 255*HashLen */
    static uint8_t big[255 * 32 + 1];
    EXPECT_ERR(AK_E_LIMIT, ak_hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, big, sizeof(big)));
    EXPECT_OK(ak_hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, big, sizeof(big) - 1));
}

AK_TEST(test_random) {
    uint8_t a[32] = {0}, b[32] = {0};
    EXPECT_OK(ak_random(a, sizeof(a)));
    EXPECT_OK(ak_random(b, sizeof(b)));
    EXPECT_FALSE(memcmp(a, b, 32) == 0);
    EXPECT_OK(ak_random(a, 0));
    static uint8_t large[100000];
    EXPECT_OK(ak_random(large, sizeof(large)));
}

/* ------------------------------------------------------------------ AES-256-GCM */

static const uint8_t s_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t s_nonce[12] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};

static bool s_all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

AK_TEST(test_gcm_round_trip_and_tamper) {
    static const char aad[] = "agentkeys.env.v4|credentials|aa|bb|openrouter|1";
    uint8_t pt[100], buf[100], tag[16], tag2[16];
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(0xA0 + i);
    memcpy(buf, pt, sizeof(buf));
    ak_aes256gcm_seal(s_key, s_nonce, aad, strlen(aad), buf, sizeof(buf), tag);
    EXPECT_FALSE(memcmp(buf, pt, sizeof(pt)) == 0);
    uint8_t ct[100];
    memcpy(ct, buf, sizeof(ct));
    EXPECT_OK(ak_aes256gcm_open(s_key, s_nonce, 12, aad, strlen(aad), buf, sizeof(buf), tag, 16));
    EXPECT_BYTES_EQ(buf, sizeof(buf), pt, sizeof(pt));

    /* tampered tag: decrypt failed, buffer wiped */
    memcpy(buf, ct, sizeof(buf));
    memcpy(tag2, tag, 16);
    tag2[15] ^= 0x01;
    EXPECT_ERR(AK_E_DECRYPT_FAILED,
               ak_aes256gcm_open(s_key, s_nonce, 12, aad, strlen(aad), buf, sizeof(buf), tag2, 16));
    EXPECT_TRUE(s_all_zero(buf, sizeof(buf)));
    /* tampered ciphertext */
    memcpy(buf, ct, sizeof(buf));
    buf[50] ^= 0x80;
    EXPECT_ERR(AK_E_DECRYPT_FAILED,
               ak_aes256gcm_open(s_key, s_nonce, 12, aad, strlen(aad), buf, sizeof(buf), tag, 16));
    EXPECT_TRUE(s_all_zero(buf, sizeof(buf)));
    /* other AAD (e.g. another actor) */
    memcpy(buf, ct, sizeof(buf));
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_aes256gcm_open(s_key, s_nonce, 12, "x", 1, buf, sizeof(buf), tag, 16));
    EXPECT_TRUE(s_all_zero(buf, sizeof(buf)));
    /* wrong key */
    uint8_t k2[32];
    memcpy(k2, s_key, 32);
    k2[0] ^= 1;
    memcpy(buf, ct, sizeof(buf));
    EXPECT_ERR(AK_E_DECRYPT_FAILED,
               ak_aes256gcm_open(k2, s_nonce, 12, aad, strlen(aad), buf, sizeof(buf), tag, 16));
    /* truncated tags and empty nonces are refused outright */
    memcpy(buf, ct, sizeof(buf));
    EXPECT_ERR(AK_E_DECRYPT_FAILED,
               ak_aes256gcm_open(s_key, s_nonce, 12, aad, strlen(aad), buf, sizeof(buf), tag, 12));
    EXPECT_TRUE(s_all_zero(buf, sizeof(buf)));
    memcpy(buf, ct, sizeof(buf));
    EXPECT_ERR(AK_E_DECRYPT_FAILED,
               ak_aes256gcm_open(s_key, s_nonce, 0, aad, strlen(aad), buf, sizeof(buf), tag, 16));
    /* empty plaintext, empty AAD */
    ak_aes256gcm_seal(s_key, s_nonce, NULL, 0, NULL, 0, tag);
    EXPECT_OK(ak_aes256gcm_open(s_key, s_nonce, 12, NULL, 0, NULL, 0, tag, 16));
    tag[0] ^= 1;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_aes256gcm_open(s_key, s_nonce, 12, NULL, 0, NULL, 0, tag, 16));
}

AK_TEST(test_gcm_nist_vector) {
    /* NIST GCM spec test case 14: K = 0^256, IV = 0^96, P = 0^128. */
    uint8_t k[32] = {0}, iv[12] = {0}, buf[16] = {0}, tag[16], want[16];
    ak_aes256gcm_seal(k, iv, NULL, 0, buf, 16, tag);
    s_hexto("cea7403d4d606b6e074ec5d3baf39d18", want, 16);
    EXPECT_BYTES_EQ(buf, 16, want, 16);
    s_hexto("d0d1c8a799996bf0265b98b5d48ab919", want, 16);
    EXPECT_BYTES_EQ(tag, 16, want, 16);
}

/* ------------------------------------------------------------------ P-256 */

/* RFC 7515 A.3 key */
static const char *const s_a3_d = "8e9b109e719098bf980487df1f5d77e9cb29606ebed2263b5f57c213df84f4b2";
static const char *const s_a3_x = "7fcdce2770f6c45d4183cbee6fdb4b7b580733357be9ef13bacf6e3c7bd15445";
static const char *const s_a3_y = "c7f144cd1bbd9b7e872cdfedb9eeb9f4b3695d6ea90b24ad8a4623288588e5ad";
static const uint8_t s_p256_n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                     0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

/* out = n - s (big-endian 32 bytes) */
static void s_neg_mod(const uint8_t n[32], const uint8_t s[32], uint8_t out[32]) {
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = (int)n[i] - (int)s[i] - borrow;
        borrow = d < 0;
        out[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

AK_TEST(test_p256_rfc7515_a3) {
    uint8_t d[32], pub[65], want[65];
    s_hexto(s_a3_d, d, 32);
    want[0] = 4;
    s_hexto(s_a3_x, want + 1, 32);
    s_hexto(s_a3_y, want + 33, 32);
    EXPECT_OK(ak_p256_pub_from_priv(d, pub));
    EXPECT_BYTES_EQ(pub, 65, want, 65);
    EXPECT_TRUE(ak_p256_pub_valid(pub));
    static const char input[] =
        "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGF"
        "tcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    uint8_t sig[64];
    s_hexto("0ed1215379636c483c2f7f155807d402a3b228033af97c7e17819ac3169ea665", sig, 32);
    s_hexto("c50a07d38c3c70e5d8f12daf084a5480a66590c5f293509a8f3f7f8a83a354d5", sig + 32, 32);
    EXPECT_OK(ak_p256_verify_sha256(pub, input, strlen(input), sig));
    /* the RFC's s is high: generic ECDSA accepts (r, n-s) as well */
    uint8_t sig2[64];
    memcpy(sig2, sig, 32);
    s_neg_mod(s_p256_n, sig + 32, sig2 + 32);
    EXPECT_OK(ak_p256_verify_sha256(pub, input, strlen(input), sig2));
    sig[10] ^= 1;
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_p256_verify_sha256(pub, input, strlen(input), sig));
    /* our own signature: deterministic, verifies, and not for another message */
    uint8_t s1[64], s2[64];
    EXPECT_OK(ak_p256_sign_sha256(d, input, strlen(input), s1));
    EXPECT_OK(ak_p256_sign_sha256(d, input, strlen(input), s2));
    EXPECT_BYTES_EQ(s1, 64, s2, 64);
    EXPECT_OK(ak_p256_verify_sha256(pub, input, strlen(input), s1));
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_p256_verify_sha256(pub, input, strlen(input) - 1, s1));
}

AK_TEST(test_p256_keys_and_bad_points) {
    uint8_t d[32], pub[65], sig[64];
    EXPECT_OK(ak_p256_keygen(d, pub));
    EXPECT_TRUE(ak_p256_pub_valid(pub));
    EXPECT_OK(ak_p256_sign_sha256(d, "m", 1, sig));
    EXPECT_OK(ak_p256_verify_sha256(pub, "m", 1, sig));

    /* out-of-range private keys */
    uint8_t zero[32] = {0};
    EXPECT_ERR(AK_E_BAD_KEY, ak_p256_pub_from_priv(zero, pub));
    EXPECT_ERR(AK_E_BAD_KEY, ak_p256_pub_from_priv(s_p256_n, pub));
    EXPECT_ERR(AK_E_BAD_KEY, ak_p256_sign_sha256(s_p256_n, "m", 1, sig));
    uint8_t nm1[32];
    memcpy(nm1, s_p256_n, 32);
    nm1[31]--;
    EXPECT_OK(ak_p256_pub_from_priv(nm1, pub)); /* n-1 is the largest valid key */

    /* bad public key points */
    uint8_t good[65], bad[65];
    EXPECT_OK(ak_p256_keygen(d, good));
    EXPECT_OK(ak_p256_sign_sha256(d, "m", 1, sig));
    memcpy(bad, good, 65);
    bad[64] ^= 1; /* off the curve */
    EXPECT_FALSE(ak_p256_pub_valid(bad));
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_p256_verify_sha256(bad, "m", 1, sig));
    memcpy(bad, good, 65);
    bad[0] = 0x02; /* compressed tag on 65 bytes */
    EXPECT_FALSE(ak_p256_pub_valid(bad));
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_p256_verify_sha256(bad, "m", 1, sig));
    memset(bad, 0, 65);
    bad[0] = 4; /* (0,0) */
    EXPECT_FALSE(ak_p256_pub_valid(bad));
    memset(bad, 0xff, 65);
    bad[0] = 4; /* coordinates >= p */
    EXPECT_FALSE(ak_p256_pub_valid(bad));

    /* r or s zero / n */
    uint8_t s0[64];
    memcpy(s0, sig, 64);
    memset(s0, 0, 32);
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_p256_verify_sha256(good, "m", 1, s0));
    memcpy(s0, sig, 64);
    memcpy(s0 + 32, s_p256_n, 32);
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_p256_verify_sha256(good, "m", 1, s0));
}

AK_TEST(test_p256_der) {
    uint8_t raw[64], back[64];
    memset(raw, 0, 64);
    raw[31] = 1;                /* r = 1: one-byte integer */
    memset(raw + 32, 0x80, 32); /* s high bit: needs a 0x00 pad */
    ak_buf der;
    ak_buf_init(&der, 128);
    EXPECT_OK(ak_p256_sig_raw_to_der(raw, &der));
    EXPECT_INT_EQ(der.len, 2 + 3 + 35);
    EXPECT_INT_EQ(der.ptr[0], 0x30);
    EXPECT_OK(ak_p256_sig_der_to_raw(ak_buf_cur(&der), back));
    EXPECT_BYTES_EQ(back, 64, raw, 64);
    /* random round trips */
    for (int i = 0; i < 50; i++) {
        EXPECT_OK(ak_random(raw, 64));
        if (i % 3 == 0) memset(raw, 0, 5);
        ak_buf_clear(&der);
        EXPECT_OK(ak_p256_sig_raw_to_der(raw, &der));
        EXPECT_OK(ak_p256_sig_der_to_raw(ak_buf_cur(&der), back));
        EXPECT_BYTES_EQ(back, 64, raw, 64);
    }
    ak_buf_free(&der);

    /* strictness */
    static const struct {
        const char *hex;
        const char *why;
    } bad[] = {
        {"3006020101020101ff", "trailing byte"},
        {"300602010102010", "odd / truncated"},
        {"30070201010201", "length beyond input"},
        {"3106020101020101", "not a SEQUENCE"},
        {"308106020101020101", "long-form length"},
        {"3007020200010201 01", "non-minimal r (leading zero before a positive byte)"},
        {"3006020181020101", "negative r"},
        {"3006020101030101", "s not an INTEGER"},
        {"3005020101020100", "length mismatch"},
        {"3005020002 0101", "zero-length integer"},
        {"3026022101"
         "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
         "020101",
         "33-byte r"},
        {"", "empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_buf b;
        ak_buf_init(&b, 256);
        char clean[256];
        size_t n = 0;
        for (const char *p = bad[i].hex; *p && n < sizeof(clean) - 1; p++)
            if (*p != ' ') clean[n++] = *p;
        clean[n] = 0;
        if (n % 2) clean[--n] = 0; /* odd case: drop the nibble, it is still truncated */
        EXPECT_OK(ak_hex_decode_buf(ak_cur_from(clean, n), false, &b));
        ak_err rc = ak_p256_sig_der_to_raw(ak_buf_cur(&b), back);
        if (rc != AK_E_BAD_SIGNATURE) fail_msg("DER case '%s' -> %s", bad[i].why, ak_err_reason(rc));
        ak_buf_free(&b);
    }
    /* the strict decoder accepts the minimal encoding of the same values */
    uint8_t ok[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
    EXPECT_OK(ak_p256_sig_der_to_raw(ak_cur_from(ok, sizeof(ok)), back));
    EXPECT_INT_EQ(back[31], 1);
    EXPECT_INT_EQ(back[63], 1);
}

/* ------------------------------------------------------------------ secp256k1 / Ethereum */

static const uint8_t s_k1_n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                   0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

static unsigned g_eip191_signed, g_eip191_hashed;

AK_TEST(test_eip191_documentation_examples) {
    json_t *root = s_load("ethereum-doc-examples/eip191_personal_sign.json");
    json_t *ex = json_object_get(root, "examples");
    g_eip191_signed = g_eip191_hashed = 0;
    for (size_t i = 0; i < json_array_size(ex); i++) {
        json_t *e = json_array_get(ex, i);
        ak_buf msg;
        ak_buf_init(&msg, 4096);
        EXPECT_OK(ak_hex_decode_buf(ak_cur_from_str(json_string_value(json_object_get(e, "message_hex"))),
                                    true, &msg));
        uint8_t h[32], want[32];
        ak_eip191_hash(msg.ptr ? msg.ptr : (const uint8_t *)"", msg.len, h);
        s_hexto(json_string_value(json_object_get(e, "message_hash")), want, 32);
        EXPECT_BYTES_EQ(h, 32, want, 32);
        g_eip191_hashed++;
        const char *sighex = json_string_value(json_object_get(e, "signature"));
        if (sighex != NULL) {
            uint8_t sig[65], addr[20], want_addr[20];
            s_hexto(sighex, sig, 65);
            EXPECT_OK(ak_eth_address_parse(ak_cur_from_str(json_string_value(json_object_get(e, "address"))),
                                           want_addr));
            EXPECT_OK(ak_secp256k1_recover(h, sig, addr));
            EXPECT_BYTES_EQ(addr, 20, want_addr, 20);
            /* v as 0/1 is the same signature */
            sig[64] -= 27;
            EXPECT_OK(ak_secp256k1_recover(h, sig, addr));
            EXPECT_BYTES_EQ(addr, 20, want_addr, 20);
            sig[64] += 27;
            const char *pkhex = json_string_value(json_object_get(e, "private_key"));
            if (pkhex) {
                uint8_t sk[32], pub[65], wpub[65], mine[65], a2[20];
                s_hexto(pkhex, sk, 32);
                EXPECT_OK(ak_secp256k1_pubkey(sk, pub));
                s_hexto(json_string_value(json_object_get(e, "signer_public_key_uncompressed")), wpub, 65);
                EXPECT_BYTES_EQ(pub, 65, wpub, 65);
                ak_eth_address_from_pub(pub, a2);
                EXPECT_BYTES_EQ(a2, 20, want_addr, 20);
                /* RFC 6979: byte-for-byte the documented signature */
                EXPECT_OK(ak_secp256k1_sign(sk, h, mine));
                EXPECT_BYTES_EQ(mine, 65, sig, 65);
            }
            g_eip191_signed++;
        }
        ak_buf_free(&msg);
    }
    json_decref(root);
    printf(
        "ethereum-doc-examples eip191_personal_sign.json: %u hashes ok, %u signatures recovered/re-signed\n",
        g_eip191_hashed, g_eip191_signed);
    EXPECT_TRUE(g_eip191_signed >= 3);
}

/* EIP-4361 §"Message format" (ABNF): the text the wallet signed, rebuilt from the vector fields. */
static void s_siwe_message(const json_t *m, ak_buf *out) {
#define F(k) json_string_value(json_object_get(m, k))
    EXPECT_OK(ak_buf_printf(out, "%s wants you to sign in with your Ethereum account:\n%s\n\n", F("domain"),
                            F("address")));
    if (F("statement")) EXPECT_OK(ak_buf_printf(out, "%s\n\n", F("statement")));
    EXPECT_OK(ak_buf_printf(out, "URI: %s\nVersion: %s\nChain ID: %lld\nNonce: %s\nIssued At: %s", F("uri"),
                            F("version"), (long long)json_integer_value(json_object_get(m, "chainId")),
                            F("nonce"), F("issuedAt")));
    if (F("expirationTime")) EXPECT_OK(ak_buf_printf(out, "\nExpiration Time: %s", F("expirationTime")));
    if (F("notBefore")) EXPECT_OK(ak_buf_printf(out, "\nNot Before: %s", F("notBefore")));
    if (F("requestId")) EXPECT_OK(ak_buf_printf(out, "\nRequest ID: %s", F("requestId")));
    json_t *res = json_object_get(m, "resources");
    if (json_array_size(res)) {
        EXPECT_OK(ak_buf_append_str(out, "\nResources:"));
        for (size_t i = 0; i < json_array_size(res); i++)
            EXPECT_OK(ak_buf_printf(out, "\n- %s", json_string_value(json_array_get(res, i))));
    }
#undef F
}

AK_TEST(test_siwe_positive_recoveries) {
    json_t *root = s_load("siwe-eip4361/verification_positive.json");
    const char *name;
    json_t *m;
    unsigned n = 0;
    json_object_foreach(root, name, m) {
        ak_buf text;
        ak_buf_init(&text, 8192);
        s_siwe_message(m, &text);
        uint8_t h[32], sig[65], addr[20], want[20];
        ak_eip191_hash(text.ptr, text.len, h);
        s_hexto(json_string_value(json_object_get(m, "signature")), sig, 65);
        EXPECT_OK(
            ak_eth_address_parse(ak_cur_from_str(json_string_value(json_object_get(m, "address"))), want));
        ak_err rc = ak_secp256k1_recover(h, sig, addr);
        if (rc != AK_OK || memcmp(addr, want, 20) != 0) fail_msg("SIWE '%s' did not recover", name);
        /* a one-character change in the message recovers someone else */
        text.ptr[0] ^= 0x20;
        ak_eip191_hash(text.ptr, text.len, h);
        if (ak_secp256k1_recover(h, sig, addr) == AK_OK) EXPECT_FALSE(memcmp(addr, want, 20) == 0);
        ak_buf_free(&text);
        n++;
    }
    json_decref(root);
    printf("siwe-eip4361 verification_positive.json: %u/%u addresses recovered\n", n, n);
    EXPECT_INT_EQ(n, 4);
}

AK_TEST(test_secp256k1_negative) {
    uint8_t sk[32], pub[65], h[32], sig[65], addr[20], addr2[20];
    memset(sk, 0x11, 32);
    ak_sha256("digest", 6, h);
    EXPECT_OK(ak_secp256k1_pubkey(sk, pub));
    EXPECT_OK(ak_secp256k1_sign(sk, h, sig));
    EXPECT_TRUE(sig[64] == 27 || sig[64] == 28);
    EXPECT_OK(ak_secp256k1_recover(h, sig, addr));
    ak_eth_address_from_pub(pub, addr2);
    EXPECT_BYTES_EQ(addr, 20, addr2, 20);

    /* high-s (EIP-2): (r, n-s, v^1) is the same point for generic ECDSA, refused by recover */
    uint8_t hs[65];
    memcpy(hs, sig, 65);
    s_neg_mod(s_k1_n, sig + 32, hs + 32);
    hs[64] = (uint8_t)(sig[64] == 27 ? 28 : 27);
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_recover(h, hs, addr));
    /* ... but accepted by the generic verify (over a SHA-256 message) */
    uint8_t s64[64], hs64[64];
    uint8_t d2[32];
    ak_sha256("msg", 3, d2);
    EXPECT_OK(ak_secp256k1_sign(sk, d2, sig));
    memcpy(s64, sig, 64);
    EXPECT_OK(ak_secp256k1_verify_sha256(pub, "msg", 3, s64));
    memcpy(hs64, s64, 32);
    s_neg_mod(s_k1_n, s64 + 32, hs64 + 32);
    EXPECT_OK(ak_secp256k1_verify_sha256(pub, "msg", 3, hs64));
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_verify_sha256(pub, "msh", 3, s64));

    /* v out of range */
    EXPECT_OK(ak_secp256k1_sign(sk, h, sig));
    static const uint8_t bad_v[] = {2, 3, 26, 29, 35, 36, 255};
    for (size_t i = 0; i < sizeof(bad_v); i++) {
        uint8_t t[65];
        memcpy(t, sig, 65);
        t[64] = bad_v[i];
        EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_recover(h, t, addr));
    }
    /* r = 0, s = 0, r = n, s = n */
    uint8_t t[65];
    memcpy(t, sig, 65);
    memset(t, 0, 32);
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_recover(h, t, addr));
    memcpy(t, sig, 65);
    memset(t + 32, 0, 32);
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_recover(h, t, addr));
    memcpy(t, sig, 65);
    memcpy(t, s_k1_n, 32);
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_recover(h, t, addr));
    memcpy(t, sig, 65);
    memcpy(t + 32, s_k1_n, 32);
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_recover(h, t, addr));
    /* the wrong v recovers a different address, never an error-free match */
    memcpy(t, sig, 65);
    t[64] = (uint8_t)(sig[64] == 27 ? 28 : 27);
    if (ak_secp256k1_recover(h, t, addr) == AK_OK) EXPECT_FALSE(memcmp(addr, addr2, 20) == 0);

    /* bad secret keys */
    uint8_t z[32] = {0};
    EXPECT_ERR(AK_E_BAD_KEY, ak_secp256k1_pubkey(z, pub));
    EXPECT_ERR(AK_E_BAD_KEY, ak_secp256k1_sign(s_k1_n, h, sig));

    /* bad public keys for verify: off-curve, hybrid tag, compressed tag */
    EXPECT_OK(ak_secp256k1_pubkey(sk, pub));
    uint8_t bp[65];
    memcpy(bp, pub, 65);
    bp[64] ^= 1;
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_verify_sha256(bp, "msg", 3, s64));
    memcpy(bp, pub, 65);
    bp[0] = (uint8_t)(0x06 | (pub[64] & 1)); /* hybrid encoding of the same point */
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_verify_sha256(bp, "msg", 3, s64));
    bp[0] = 0x02;
    EXPECT_ERR(AK_E_BAD_SIGNATURE, ak_secp256k1_verify_sha256(bp, "msg", 3, s64));
}

AK_TEST(test_eth_address_text) {
    uint8_t a[20];
    char hex[43];
    EXPECT_OK(ak_eth_address_parse(AK_CUR_LIT("0x9D85ca56217D2bb651b00f15e694EB7E713637D4"), a));
    ak_eth_address_hex(a, hex);
    EXPECT_STR_EQ(hex, "0x9d85ca56217d2bb651b00f15e694eb7e713637d4");
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_eth_address_parse(AK_CUR_LIT("9D85ca56217D2bb651b00f15e694EB7E713637D4"), a));
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_eth_address_parse(AK_CUR_LIT("0X9D85ca56217D2bb651b00f15e694EB7E713637D4"), a));
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_eth_address_parse(AK_CUR_LIT("0x9D85ca56217D2bb651b00f15e694EB7E713637D"), a));
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_eth_address_parse(AK_CUR_LIT("0x9D85ca56217D2bb651b00f15e694EB7E713637D44"), a));
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_eth_address_parse(AK_CUR_LIT("0x9D85ca56217D2bb651b00f15e694EB7E713637Dg"), a));
    EXPECT_ERR(AK_E_INVALID_ADDRESS, ak_eth_address_parse(AK_CUR_LIT(""), a));
}

/* EIP-55's own examples (eip-55.md "Test Cases"): the checksum form of each address, including
 * two whose checksum happens to be all upper case and two all lower case. */
AK_TEST(test_eth_address_eip55) {
    static const char *const v[] = {
        "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t a[20];
        char out[43];
        EXPECT_OK(ak_eth_address_parse(ak_cur_from_str(v[i]), a));
        ak_eth_address_eip55(a, out);
        EXPECT_STR_EQ(out, v[i]);
        EXPECT_TRUE(ak_eth_address_is_eip55(ak_cur_from_str(v[i])));
    }
    /* the same addresses in the wrong case, one letter flipped, or not an address at all */
    EXPECT_FALSE(ak_eth_address_is_eip55(AK_CUR_LIT("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")));
    EXPECT_FALSE(ak_eth_address_is_eip55(AK_CUR_LIT("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED")));
    EXPECT_FALSE(ak_eth_address_is_eip55(AK_CUR_LIT("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")));
    EXPECT_FALSE(ak_eth_address_is_eip55(AK_CUR_LIT("0xDE709F2102306220921060314715629080E2FB77")));
    EXPECT_FALSE(ak_eth_address_is_eip55(AK_CUR_LIT("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe")));
    EXPECT_FALSE(ak_eth_address_is_eip55(AK_CUR_LIT("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00")));
    EXPECT_TRUE(ak_eth_address_is_eip55(AK_CUR_LIT("0x0000000000000000000000000000000000000001")));
}

AK_RUN_TESTS(AK_T(test_sha_known_answers), AK_T(test_eth_address_eip55), AK_T(test_hmac_hkdf_rfc_vectors),
             AK_T(test_random), AK_T(test_gcm_round_trip_and_tamper), AK_T(test_gcm_nist_vector),
             AK_T(test_p256_rfc7515_a3), AK_T(test_p256_keys_and_bad_points), AK_T(test_p256_der),
             AK_T(test_eip191_documentation_examples), AK_T(test_siwe_positive_recoveries),
             AK_T(test_secp256k1_negative), AK_T(test_eth_address_text))
