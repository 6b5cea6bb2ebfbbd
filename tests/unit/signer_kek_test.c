/* signer_kek_test.c — D6 KEK derivation against an independent HKDF (RFC 5869 written out over
 * BearSSL's HMAC here) and known answers computed with Python's hmac/hashlib. */
#include "test.h"

#include <bearssl.h>

#include "../../enclave/src/kek.c"

/* RFC 5869 for L = 32: PRK = HMAC(salt, IKM); OKM = T(1) = HMAC(PRK, info ‖ 0x01). */
static void s_ref_hkdf32(const uint8_t *ikm, size_t ikm_len, const char *salt, const uint8_t *info,
                         size_t info_len, uint8_t out[32]) {
    br_hmac_key_context kc;
    br_hmac_context hc;
    uint8_t prk[32];
    uint8_t one = 1;
    br_hmac_key_init(&kc, &br_sha256_vtable, salt, strlen(salt));
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, ikm, ikm_len);
    br_hmac_out(&hc, prk);
    br_hmac_key_init(&kc, &br_sha256_vtable, prk, sizeof(prk));
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, info, info_len);
    br_hmac_update(&hc, &one, 1);
    br_hmac_out(&hc, out);
}

static void s_k3(uint8_t k3[32]) {
    for (int i = 0; i < 32; i++)
        k3[i] = (uint8_t)i;
}

AK_TEST(test_known_answers) {
    uint8_t k3[32], op[32], actor[32], kek[32], want[32];
    s_k3(k3);
    memset(op, 0xaa, 32);
    memset(actor, 0xbb, 32);
    EXPECT_OK(aks_kek_derive(k3, AK_CUR_LIT("credentials"), op, actor, kek));
    EXPECT_OK(ak_hex_decode_exact(
        AK_CUR_LIT("b9173224d132f4970abb584fce77c2dae9acdf76511119a84e22e0d496658410"), false, want, 32));
    EXPECT_BYTES_EQ(kek, 32, want, 32);
    EXPECT_OK(aks_kek_derive(k3, AK_CUR_LIT("memory"), op, actor, kek));
    EXPECT_OK(ak_hex_decode_exact(
        AK_CUR_LIT("d9c0a7d06d5c059673fb7196e2ce0fe9a6133a76fff4f0ae005f1daa196f3e7c"), false, want, 32));
    EXPECT_BYTES_EQ(kek, 32, want, 32);
}

AK_TEST(test_matches_independent_hkdf) {
    uint8_t k3[32], op[32], actor[32], kek[32], ref[32], info[128];
    for (int round = 0; round < 64; round++) {
        EXPECT_OK(ak_random(k3, 32));
        EXPECT_OK(ak_random(op, 32));
        EXPECT_OK(ak_random(actor, 32));
        const char *dc = (round & 1) ? "memory" : "credentials";
        size_t n = strlen(dc);
        memcpy(info, dc, n);
        info[n++] = 0;
        memcpy(info + n, op, 32);
        memcpy(info + n + 32, actor, 32);
        s_ref_hkdf32(k3, 32, "agentkeys.kek.v1", info, n + 64, ref);
        EXPECT_OK(aks_kek_derive(k3, ak_cur_from_str(dc), op, actor, kek));
        EXPECT_BYTES_EQ(kek, 32, ref, 32);
    }
}

AK_TEST(test_every_input_separates) {
    uint8_t k3[32], op[32], actor[32], base[32], kek[32];
    s_k3(k3);
    memset(op, 1, 32);
    memset(actor, 2, 32);
    EXPECT_OK(aks_kek_derive(k3, AK_CUR_LIT("credentials"), op, actor, base));
    EXPECT_OK(aks_kek_derive(k3, AK_CUR_LIT("memory"), op, actor, kek));
    EXPECT_FALSE(memcmp(base, kek, 32) == 0);
    EXPECT_OK(
        aks_kek_derive(k3, AK_CUR_LIT("credentials"), actor, op, kek)); /* operator/actor order matters */
    EXPECT_FALSE(memcmp(base, kek, 32) == 0);
    k3[31] ^= 1; /* another epoch's K3 */
    EXPECT_OK(aks_kek_derive(k3, AK_CUR_LIT("credentials"), op, actor, kek));
    EXPECT_FALSE(memcmp(base, kek, 32) == 0);
}

AK_TEST(test_unknown_classes_are_refused) {
    uint8_t k3[32] = {0}, op[32] = {0}, kek[32];
    static const char *const bad[] = {"",         "Credentials", "credentials ", "config",
                                      "classify", "mail",        "credentials\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(AK_E_INVALID_INPUT, aks_kek_derive(k3, ak_cur_from_str(bad[i]), op, op, kek));
    /* An embedded NUL must not pass as "memory". */
    EXPECT_ERR(AK_E_INVALID_INPUT, aks_kek_derive(k3, ak_cur_from("memory\0x", 8), op, op, kek));
    EXPECT_TRUE(aks_data_class_valid(AK_CUR_LIT("memory")));
}

AK_RUN_TESTS(AK_T(test_known_answers), AK_T(test_matches_independent_hkdf), AK_T(test_every_input_separates),
             AK_T(test_unknown_classes_are_refused))
