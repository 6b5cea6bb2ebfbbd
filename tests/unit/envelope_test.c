/* envelope_test.c — version 0x04 envelopes (D8): round trip, known answer, tamper, binding,
 * truncation, legacy versions, ceilings, allocation failures. */
#include "test.h"

#include <bearssl.h>

#include "ak/ct.h"
#include "ak/envelope.h"
#include "ak/limits.h"

static const uint8_t s_kek[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static ak_env_binding s_binding(void) {
    ak_env_binding b;
    b.data_class = AK_CLASS_CREDENTIALS;
    memset(b.operator_omni.b, 0x11, 32);
    memset(b.actor_omni.b, 0x22, 32);
    b.service = AK_CUR_LIT("openrouter");
    return b;
}

static void s_unhex(const char *hex, ak_buf *out) {
    ak_buf_init(out, 1 << 20);
    if (ak_hex_decode_buf(ak_cur_from_str(hex), false, out) != AK_OK) fail_msg("bad hex in test");
}

/*
 * Known answer, computed outside this code base with Python's `cryptography` (OpenSSL):
 *   from cryptography.hazmat.primitives.ciphers.aead import AESGCM
 *   key = bytes(range(32)); nonce = bytes(range(0xa0, 0xac))
 *   aad = ("agentkeys.env.v4|credentials|" + "11"*32 + "|" + "22"*32 + "|openrouter|7").encode()
 *   blob = b"\x04" + (7).to_bytes(4, "big") + nonce + AESGCM(key).encrypt(nonce, b"sk-or-v1-test-secret", aad)
 * and for the second: class memory, operator 0x33…, actor 0x44…, service "notes", epoch
 * 4294967295, empty plaintext.
 */
static const char s_kat1[] =
    "0400000007a0a1a2a3a4a5a6a7a8a9aaab9573514237e6748e4f11e2a07357b3bb13de3c64b21b3f7ee9"
    "4bb1d623b0392579112a4c";
static const char s_kat2[] = "04ffffffffa0a1a2a3a4a5a6a7a8a9aaab8a0fe8d300cf422672e278f82e64b7f7";

AK_TEST(test_known_answer_opens) {
    ak_env_binding b = s_binding();
    ak_buf blob, pt;
    s_unhex(s_kat1, &blob);
    ak_buf_init_secret(&pt, AK_MAX_PLAINTEXT);
    uint32_t ep = 0;
    EXPECT_OK(ak_envelope_peek_epoch(ak_buf_cur(&blob), &ep));
    EXPECT_INT_EQ(ep, 7);
    EXPECT_OK(ak_envelope_open(s_kek, 7, &b, ak_buf_cur(&blob), &pt));
    EXPECT_STR_EQ(ak_buf_cstr(&pt), "sk-or-v1-test-secret");
    ak_buf_free(&blob);
    ak_buf_free(&pt);

    b.data_class = AK_CLASS_MEMORY;
    memset(b.operator_omni.b, 0x33, 32);
    memset(b.actor_omni.b, 0x44, 32);
    b.service = AK_CUR_LIT("notes");
    s_unhex(s_kat2, &blob);
    ak_buf_init_secret(&pt, AK_MAX_PLAINTEXT);
    EXPECT_OK(ak_envelope_open(s_kek, 0xffffffffu, &b, ak_buf_cur(&blob), &pt));
    EXPECT_INT_EQ(pt.len, 0);
    ak_buf_free(&blob);
    ak_buf_free(&pt);
}

AK_TEST(test_aad_text) {
    ak_env_binding b = s_binding();
    ak_buf aad;
    ak_buf_init(&aad, 1024);
    EXPECT_OK(ak_envelope_aad(&b, 7, &aad));
    EXPECT_STR_EQ(
        ak_buf_cstr(&aad),
        "agentkeys.env.v4|credentials|1111111111111111111111111111111111111111111111111111111111111111|"
        "2222222222222222222222222222222222222222222222222222222222222222|openrouter|7");
    ak_buf_clear(&aad);
    b.data_class = AK_CLASS_MAIL;
    EXPECT_OK(ak_envelope_aad(&b, 0, &aad));
    EXPECT_TRUE(ak_cur_starts_with(ak_buf_cur(&aad), AK_CUR_LIT("agentkeys.env.v4|mail|")));
    EXPECT_TRUE(aad.ptr[aad.len - 2] == '|' && aad.ptr[aad.len - 1] == '0');
    ak_buf_clear(&aad);
    b.service = AK_CUR_LIT("OpenRouter");
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_envelope_aad(&b, 7, &aad));
    b.data_class = AK_CLASS_MEMORY;
    EXPECT_ERR(AK_E_INVALID_NAMESPACE, ak_envelope_aad(&b, 7, &aad));
    EXPECT_INT_EQ(aad.len, 0);
    ak_buf_free(&aad);
}

/* Opens a blob with BearSSL's GCM directly and an AAD typed out here: an independent check of
 * what ak_envelope_seal writes. */
static void s_open_raw(const uint8_t *blob, size_t len, const char *aad, uint8_t *pt_out) {
    br_aes_ct64_ctr_keys k;
    br_gcm_context g;
    br_aes_ct64_ctr_init(&k, s_kek, 32);
    br_gcm_init(&g, &k.vtable, br_ghash_ctmul64);
    br_gcm_reset(&g, blob + 5, 12);
    br_gcm_aad_inject(&g, aad, strlen(aad));
    br_gcm_flip(&g);
    size_t n = len - 33;
    memcpy(pt_out, blob + 17, n);
    br_gcm_run(&g, 0, pt_out, n);
    EXPECT_INT_EQ(br_gcm_check_tag(&g, blob + 17 + n), 1);
}

AK_TEST(test_seal_layout_matches_independent_gcm) {
    ak_env_binding b = s_binding();
    ak_buf blob;
    ak_buf_init(&blob, 1 << 20);
    EXPECT_OK(ak_envelope_seal(s_kek, 0x01020304u, &b, AK_CUR_LIT("hunter2"), &blob));
    EXPECT_INT_EQ(blob.len, 33 + 7);
    EXPECT_INT_EQ(blob.ptr[0], 0x04);
    EXPECT_INT_EQ(blob.ptr[1], 1);
    EXPECT_INT_EQ(blob.ptr[4], 4);
    uint8_t pt[7];
    s_open_raw(
        blob.ptr, blob.len,
        "agentkeys.env.v4|credentials|1111111111111111111111111111111111111111111111111111111111111111|"
        "2222222222222222222222222222222222222222222222222222222222222222|openrouter|16909060",
        pt);
    EXPECT_BYTES_EQ(pt, 7, "hunter2", 7);
    ak_buf_free(&blob);
}

AK_TEST(test_round_trip_sizes_and_fresh_nonces) {
    ak_env_binding b = s_binding();
    static const size_t sizes[] = {0, 1, 15, 16, 17, 4096, AK_MAX_PLAINTEXT};
    uint8_t *src = ak_malloc(AK_MAX_PLAINTEXT);
    assert_non_null(src);
    for (size_t i = 0; i < AK_MAX_PLAINTEXT; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ak_buf blob, blob2, pt;
        ak_buf_init(&blob, AK_MAX_PLAINTEXT + 64);
        ak_buf_init(&blob2, AK_MAX_PLAINTEXT + 64);
        ak_buf_init_secret(&pt, AK_MAX_PLAINTEXT);
        EXPECT_OK(ak_envelope_seal(s_kek, 3, &b, ak_cur_from(src, sizes[i]), &blob));
        EXPECT_OK(ak_envelope_seal(s_kek, 3, &b, ak_cur_from(src, sizes[i]), &blob2));
        EXPECT_INT_EQ(blob.len, sizes[i] + AK_ENV_OVERHEAD);
        EXPECT_FALSE(memcmp(blob.ptr + 5, blob2.ptr + 5, 12) == 0); /* fresh nonce each seal */
        EXPECT_OK(ak_envelope_open(s_kek, 3, &b, ak_buf_cur(&blob), &pt));
        EXPECT_BYTES_EQ(pt.ptr, pt.len, src, sizes[i]);
        ak_buf_free(&blob);
        ak_buf_free(&blob2);
        ak_buf_free(&pt);
    }
    ak_free(src);
}

AK_TEST(test_open_appends_and_failure_leaves_output_alone) {
    ak_env_binding b = s_binding();
    ak_buf blob, pt;
    ak_buf_init(&blob, 4096);
    ak_buf_init_secret(&pt, 4096);
    EXPECT_OK(ak_buf_append_str(&pt, "prefix:"));
    EXPECT_OK(ak_envelope_seal(s_kek, 1, &b, AK_CUR_LIT("value"), &blob));
    EXPECT_OK(ak_envelope_open(s_kek, 1, &b, ak_buf_cur(&blob), &pt));
    EXPECT_STR_EQ(ak_buf_cstr(&pt), "prefix:value");
    blob.ptr[20] ^= 1;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 1, &b, ak_buf_cur(&blob), &pt));
    EXPECT_STR_EQ(ak_buf_cstr(&pt), "prefix:value");
    /* The bytes past len where the failed decryption ran are wiped. */
    for (size_t i = pt.len + 1; i < pt.len + 1 + 4; i++)
        EXPECT_INT_EQ(pt.ptr[i], 0);
    ak_buf_free(&blob);
    ak_buf_free(&pt);
}

AK_TEST(test_every_single_bit_flip_fails) {
    ak_env_binding b = s_binding();
    ak_buf blob, pt;
    ak_buf_init(&blob, 4096);
    ak_buf_init_secret(&pt, 4096);
    EXPECT_OK(ak_envelope_seal(s_kek, 9, &b, AK_CUR_LIT("a twenty byte secret"), &blob));
    for (size_t bit = 0; bit < blob.len * 8; bit++) {
        blob.ptr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ak_err want = bit < 8 ? AK_E_ENVELOPE_VERSION : AK_E_DECRYPT_FAILED;
        EXPECT_ERR(want, ak_envelope_open(s_kek, 9, &b, ak_buf_cur(&blob), &pt));
        if (bit >= 8 && bit < 40) {
            /* An edited epoch also fails when the caller brings that epoch's "key": the epoch is in the AAD. */
            uint32_t ep;
            EXPECT_OK(ak_envelope_peek_epoch(ak_buf_cur(&blob), &ep));
            EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, ep, &b, ak_buf_cur(&blob), &pt));
        }
        EXPECT_INT_EQ(pt.len, 0);
        blob.ptr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    EXPECT_OK(ak_envelope_open(s_kek, 9, &b, ak_buf_cur(&blob), &pt));
    ak_buf_free(&blob);
    ak_buf_free(&pt);
}

AK_TEST(test_aad_binding) {
    ak_env_binding b = s_binding();
    ak_buf blob, pt;
    ak_buf_init(&blob, 4096);
    ak_buf_init_secret(&pt, 4096);
    EXPECT_OK(ak_envelope_seal(s_kek, 5, &b, AK_CUR_LIT("secret"), &blob));
    ak_cur c = ak_buf_cur(&blob);

    ak_env_binding o = b;
    o.actor_omni.b[31] ^= 1;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 5, &o, c, &pt));
    o = b;
    o.operator_omni.b[0] ^= 0x80;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 5, &o, c, &pt));
    o = b;
    o.operator_omni = b.actor_omni; /* operator and actor swapped */
    o.actor_omni = b.operator_omni;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 5, &o, c, &pt));
    o = b;
    o.service = AK_CUR_LIT("openroute");
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 5, &o, c, &pt));
    o.service = AK_CUR_LIT("openrouter2");
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 5, &o, c, &pt));
    o = b;
    o.data_class = AK_CLASS_MEMORY;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 5, &o, c, &pt));
    o.data_class = AK_CLASS_MAIL;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 5, &o, c, &pt));
    /* Another epoch's KEK (here: the same bytes claimed for another epoch) is refused. */
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(s_kek, 6, &b, c, &pt));
    /* Another KEK. */
    uint8_t k2[32];
    memcpy(k2, s_kek, 32);
    k2[0] ^= 1;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open(k2, 5, &b, c, &pt));
    /* A name that fails D3 never reaches the cipher. */
    o = b;
    o.service = AK_CUR_LIT("OPENROUTER");
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_envelope_open(s_kek, 5, &o, c, &pt));
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_envelope_seal(s_kek, 5, &o, AK_CUR_LIT("x"), &blob));
    EXPECT_INT_EQ(pt.len, 0);
    EXPECT_OK(ak_envelope_open(s_kek, 5, &b, c, &pt));
    EXPECT_STR_EQ(ak_buf_cstr(&pt), "secret");
    ak_buf_free(&blob);
    ak_buf_free(&pt);
}

AK_TEST(test_truncation_at_every_length) {
    ak_env_binding b = s_binding();
    ak_buf blob, pt;
    ak_buf_init(&blob, 4096);
    ak_buf_init_secret(&pt, 4096);
    EXPECT_OK(ak_envelope_seal(s_kek, 2, &b, AK_CUR_LIT("0123456789"), &blob));
    for (size_t n = 0; n < blob.len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past the cut. */
        uint8_t *cut = ak_malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, blob.ptr, n);
        ak_err want = n < AK_ENV_OVERHEAD ? AK_E_ENVELOPE_TRUNCATED : AK_E_DECRYPT_FAILED;
        EXPECT_ERR(want, ak_envelope_open(s_kek, 2, &b, ak_cur_from(cut, n), &pt));
        uint32_t ep;
        if (n < AK_ENV_OVERHEAD)
            EXPECT_ERR(AK_E_ENVELOPE_TRUNCATED, ak_envelope_peek_epoch(ak_cur_from(cut, n), &ep));
        EXPECT_INT_EQ(pt.len, 0);
        ak_free(cut);
    }
    EXPECT_ERR(AK_E_ENVELOPE_TRUNCATED, ak_envelope_open(s_kek, 2, &b, ak_cur_from(NULL, 0), &pt));
    ak_buf_free(&blob);
    ak_buf_free(&pt);
}

AK_TEST(test_other_versions_rejected) {
    ak_env_binding b = s_binding();
    ak_buf blob, pt;
    ak_buf_init(&blob, 4096);
    ak_buf_init_secret(&pt, 4096);
    EXPECT_OK(ak_envelope_seal(s_kek, 2, &b, AK_CUR_LIT("0123456789"), &blob));
    static const uint8_t versions[] = {0x00, 0x01, 0x02, 0x03, 0x05, 0x40, 0x84, 0xff};
    for (size_t i = 0; i < sizeof(versions); i++) {
        blob.ptr[0] = versions[i];
        uint32_t ep;
        EXPECT_ERR(AK_E_ENVELOPE_VERSION, ak_envelope_open(s_kek, 2, &b, ak_buf_cur(&blob), &pt));
        EXPECT_ERR(AK_E_ENVELOPE_VERSION, ak_envelope_peek_epoch(ak_buf_cur(&blob), &ep));
    }
    /* A legacy v2 blob (ver ‖ nonce ‖ ct ‖ tag, 29 bytes minimum) shorter than our header is truncated. */
    uint8_t v2[29] = {0x02};
    EXPECT_ERR(AK_E_ENVELOPE_TRUNCATED, ak_envelope_open(s_kek, 2, &b, ak_cur_from(v2, sizeof(v2)), &pt));
    uint8_t v2long[64] = {0x02};
    EXPECT_ERR(AK_E_ENVELOPE_VERSION,
               ak_envelope_open(s_kek, 2, &b, ak_cur_from(v2long, sizeof(v2long)), &pt));
    EXPECT_INT_EQ(pt.len, 0);
    ak_buf_free(&blob);
    ak_buf_free(&pt);
}

AK_TEST(test_size_ceiling) {
    ak_env_binding b = s_binding();
    size_t big = AK_MAX_PLAINTEXT + 1;
    uint8_t *src = ak_calloc(1, big + AK_ENV_OVERHEAD);
    assert_non_null(src);
    ak_buf blob, pt;
    ak_buf_init(&blob, 2 * AK_MAX_PLAINTEXT);
    ak_buf_init_secret(&pt, 2 * AK_MAX_PLAINTEXT);
    EXPECT_ERR(AK_E_TOO_LARGE, ak_envelope_seal(s_kek, 1, &b, ak_cur_from(src, big), &blob));
    EXPECT_INT_EQ(blob.len, 0);
    src[0] = 0x04;
    EXPECT_ERR(AK_E_TOO_LARGE, ak_envelope_open(s_kek, 0, &b, ak_cur_from(src, big + AK_ENV_OVERHEAD), &pt));
    /* An output buffer whose ceiling is too small is an error, not a cut. */
    ak_buf small;
    ak_buf_init(&small, 40);
    EXPECT_ERR(AK_E_LIMIT, ak_envelope_seal(s_kek, 1, &b, AK_CUR_LIT("eight by"), &small));
    EXPECT_INT_EQ(small.len, 0);
    ak_buf_free(&small);
    ak_buf_free(&blob);
    ak_buf_free(&pt);
    ak_free(src);
}

AK_TEST(test_allocation_failures_leave_buffers_unchanged) {
    ak_env_binding b = s_binding();
    ak_buf blob;
    ak_buf_init(&blob, 4096);
    ak_alloc_fail_nth(1);
    EXPECT_ERR(AK_E_NOMEM, ak_envelope_seal(s_kek, 1, &b, AK_CUR_LIT("x"), &blob));
    EXPECT_INT_EQ(blob.len, 0);
    EXPECT_OK(ak_envelope_seal(s_kek, 1, &b, AK_CUR_LIT("x"), &blob));
    ak_buf pt;
    ak_buf_init_secret(&pt, 4096);
    ak_alloc_fail_nth(1);
    EXPECT_ERR(AK_E_NOMEM, ak_envelope_open(s_kek, 1, &b, ak_buf_cur(&blob), &pt));
    EXPECT_INT_EQ(pt.len, 0);
    EXPECT_OK(ak_envelope_open(s_kek, 1, &b, ak_buf_cur(&blob), &pt));
    EXPECT_STR_EQ(ak_buf_cstr(&pt), "x");
    ak_buf_free(&blob);
    ak_buf_free(&pt);
}

AK_RUN_TESTS(AK_T(test_known_answer_opens), AK_T(test_aad_text),
             AK_T(test_seal_layout_matches_independent_gcm), AK_T(test_round_trip_sizes_and_fresh_nonces),
             AK_T(test_open_appends_and_failure_leaves_output_alone), AK_T(test_every_single_bit_flip_fails),
             AK_T(test_aad_binding), AK_T(test_truncation_at_every_length),
             AK_T(test_other_versions_rejected), AK_T(test_size_ceiling),
             AK_T(test_allocation_failures_leave_buffers_unchanged))
