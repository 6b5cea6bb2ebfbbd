/* identity_test.c — omni ids, device key hashes, names, classes, ops, routes, scope ids.
 * Expected hashes were computed outside this code base:
 *   printf 'agentkeysevm0x…' | sha256sum          (omni)
 *   cast keccak <hex or text>                     (foundry's cast: device_key_hash, scope ids) */
#include "test.h"

#include "ak/identity.h"

static void s_hex32(const char *hex, uint8_t out[32]) {
    if (ak_hex_decode_exact(ak_cur_from_str(hex), true, out, 32) != AK_OK) fail_msg("bad hex in test");
}

AK_TEST(test_omni_vector_from_identities_md) {
    uint8_t zero[20] = {0};
    ak_omni o;
    ak_omni_from_address(zero, &o);
    char hex[65];
    ak_omni_hex(&o, hex);
    EXPECT_STR_EQ(hex, "c3f7249ad2f03d898a95fdbe95113041282dd1f5a115d14a65d7e7ede4afee5f");
}

AK_TEST(test_omni_from_text_lowercases_before_hashing) {
    /* sha256("agentkeysevm0xabcdef0123456789abcdef0123456789abcdef01") */
    ak_omni a, b;
    EXPECT_OK(ak_omni_from_address_text(AK_CUR_LIT("0xabcdef0123456789abcdef0123456789abcdef01"), &a));
    EXPECT_OK(ak_omni_from_address_text(AK_CUR_LIT("0xABCDEF0123456789abcdef0123456789ABCDEF01"), &b));
    char hex[65];
    ak_omni_hex(&a, hex);
    EXPECT_STR_EQ(hex, "e1bb2bbd64de67bd957d3e007a41db3db8a04dd3f9e3ce664b656090ed8b51ae");
    EXPECT_TRUE(ak_omni_eq(&a, &b));
}

AK_TEST(test_omni_from_text_rejects_non_addresses) {
    ak_omni o;
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_omni_from_address_text(AK_CUR_LIT("abcdef0123456789abcdef0123456789abcdef01"), &o));
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_omni_from_address_text(AK_CUR_LIT("0xabcdef0123456789abcdef0123456789abcdef0"), &o));
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_omni_from_address_text(AK_CUR_LIT("0xabcdef0123456789abcdef0123456789abcdef012"), &o));
    EXPECT_ERR(AK_E_INVALID_ADDRESS,
               ak_omni_from_address_text(AK_CUR_LIT("0xgbcdef0123456789abcdef0123456789abcdef01"), &o));
    EXPECT_ERR(AK_E_INVALID_ADDRESS, ak_omni_from_address_text(AK_CUR_LIT(""), &o));
}

AK_TEST(test_device_key_hash_vector) {
    uint8_t addr[20] = {0};
    addr[19] = 1;
    uint8_t h[32], want[32];
    ak_device_key_hash(addr, h);
    s_hex32("0x1468288056310c82aa4c01a7e12a10f8111a0560e72b700555479031b86c357d", want);
    EXPECT_BYTES_EQ(h, 32, want, 32);
    char hex[67];
    ak_hash32_hex0x(h, hex);
    EXPECT_STR_EQ(hex, "0x1468288056310c82aa4c01a7e12a10f8111a0560e72b700555479031b86c357d");
}

AK_TEST(test_omni_parse_accepts_both_forms_any_case) {
    const char *canon = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const char *forms[] = {
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "0X00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
        "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        ak_omni o;
        EXPECT_OK(ak_omni_parse(ak_cur_from_str(forms[i]), &o));
        char hex[65], hex0x[67];
        ak_omni_hex(&o, hex);
        EXPECT_STR_EQ(hex, canon);
        ak_omni_hex0x(&o, hex0x);
        EXPECT_STR_EQ(hex0x + 2, canon);
        EXPECT_TRUE(hex0x[0] == '0' && hex0x[1] == 'x');
    }
}

AK_TEST(test_omni_parse_rejects) {
    const char *bad[] = {
        "",
        "0x",
        "0011223344556677889900112233445566778899aabbccddeeff00112233445566",  /* 66 w/o 0x */
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef",     /* 63 */
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0",   /* 65 */
        "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeef",   /* 0x + 63 */
        "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0", /* 0x + 65 */
        "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        " 0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "0x0x112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "x000112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_omni o;
        memset(&o, 0x5a, sizeof(o));
        EXPECT_ERR(AK_E_INVALID_OMNI, ak_omni_parse(ak_cur_from_str(bad[i]), &o));
        EXPECT_INT_EQ(o.b[0], 0x5a); /* untouched */
    }
    /* An embedded NUL is not a hex digit. */
    char nul[64];
    memset(nul, 'a', sizeof(nul));
    nul[10] = 0;
    ak_omni o;
    EXPECT_ERR(AK_E_INVALID_OMNI, ak_omni_parse(ak_cur_from(nul, sizeof(nul)), &o));
    uint8_t h[32];
    EXPECT_ERR(AK_E_BAD_HEX, ak_hash32_parse(ak_cur_from(nul, sizeof(nul)), h));
    EXPECT_OK(
        ak_hash32_parse(AK_CUR_LIT("0x1468288056310c82aa4c01a7e12a10f8111a0560e72b700555479031b86c357d"), h));
}

AK_TEST(test_service_grammar) {
    const char *good[] = {
        "openrouter", "a",
        "0",          "a.b",
        "a_b",        "a-b",
        "x9.-_",      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 64 */};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        EXPECT_OK(ak_service_validate(ak_cur_from_str(good[i])));
        EXPECT_OK(ak_namespace_validate(ak_cur_from_str(good[i])));
    }
    const char *bad[] = {"",
                         "OpenRouter",
                         "openRouter",
                         "A",
                         ".a",
                         "_a",
                         "-a",
                         "a b",
                         "a/b",
                         "a:b",
                         "memory:notes",
                         "a\xc3\xa9",
                         "a\n",
                         "../x",
                         "a*",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 65 */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(AK_E_INVALID_SERVICE, ak_service_validate(ak_cur_from_str(bad[i])));
        EXPECT_ERR(AK_E_INVALID_NAMESPACE, ak_namespace_validate(ak_cur_from_str(bad[i])));
    }
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_service_validate(ak_cur_from("ab\0c", 4)));
}

AK_TEST(test_class_and_op_strings) {
    EXPECT_STR_EQ(ak_data_class_str(AK_CLASS_CREDENTIALS), "credentials");
    EXPECT_STR_EQ(ak_data_class_str(AK_CLASS_MEMORY), "memory");
    EXPECT_STR_EQ(ak_data_class_str(AK_CLASS_MAIL), "mail");
    EXPECT_STR_EQ(ak_op_str(AK_OP_STORE), "store");
    EXPECT_STR_EQ(ak_op_str(AK_OP_FETCH), "fetch");
    EXPECT_STR_EQ(ak_op_str(AK_OP_TEARDOWN), "teardown");
    EXPECT_INT_EQ(AK_OP_STORE, 0); /* CredentialAudit OP_* numbering, caps.md §1 */
    EXPECT_INT_EQ(AK_OP_TEARDOWN, 2);
    ak_data_class c;
    ak_op op;
    EXPECT_OK(ak_data_class_parse(AK_CUR_LIT("memory"), &c));
    EXPECT_INT_EQ(c, AK_CLASS_MEMORY);
    EXPECT_OK(ak_op_parse(AK_CUR_LIT("teardown"), &op));
    EXPECT_INT_EQ(op, AK_OP_TEARDOWN);
    const char *bad_classes[] = {"", "Credentials", "config", "classify", "credential", "memory "};
    for (size_t i = 0; i < sizeof(bad_classes) / sizeof(bad_classes[0]); i++)
        EXPECT_ERR(AK_E_INVALID_INPUT, ak_data_class_parse(ak_cur_from_str(bad_classes[i]), &c));
    const char *bad_ops[] = {"", "put", "get", "classify", "STORE", "read", "store\n"};
    for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++)
        EXPECT_ERR(AK_E_INVALID_INPUT, ak_op_parse(ak_cur_from_str(bad_ops[i]), &op));
}

AK_TEST(test_routes) {
    ak_route_info r;
    EXPECT_OK(ak_route_lookup(AK_CUR_LIT("/v1/cap/memory-put"), &r));
    EXPECT_INT_EQ(r.op, AK_OP_STORE);
    EXPECT_INT_EQ(r.data_class, AK_CLASS_MEMORY);
    EXPECT_TRUE(r.cap_mint);
    EXPECT_FALSE(r.master_only);
    EXPECT_OK(ak_route_lookup(AK_CUR_LIT("/v1/cap/cred-teardown"), &r));
    EXPECT_INT_EQ(r.op, AK_OP_TEARDOWN);
    EXPECT_INT_EQ(r.data_class, AK_CLASS_CREDENTIALS);
    EXPECT_TRUE(r.master_only);
    EXPECT_OK(ak_route_lookup(AK_CUR_LIT("/v1/memory/get"), &r));
    EXPECT_INT_EQ(r.op, AK_OP_FETCH);
    EXPECT_FALSE(r.cap_mint);
    EXPECT_OK(ak_route_lookup(AK_CUR_LIT("/v1/cred/fetch"), &r));
    EXPECT_INT_EQ(r.data_class, AK_CLASS_CREDENTIALS);
    const char *bad[] = {"",
                         "/v1/cap/classify",
                         "/v1/cap/config-store",
                         "/v1/cap/cred-store/",
                         "/v1/cap/cred-store?x=1",
                         "/V1/cap/cred-store",
                         "/v1/memory/store",
                         "/v1/cred/put",
                         "v1/cap/cred-store"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(AK_E_ROUTE_NOT_FOUND, ak_route_lookup(ak_cur_from_str(bad[i]), &r));
}

AK_TEST(test_scope_id_and_service_hash) {
    uint8_t h[32], want[32];
    EXPECT_OK(ak_scope_id_of(AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), h));
    s_hex32("0x63cfa4450c6553f1956516afc00f2f87c194439dc8eca5b1b101d5307456dc5a", want);
    EXPECT_BYTES_EQ(h, 32, want, 32);
    EXPECT_OK(ak_scope_id_of(AK_CLASS_MEMORY, AK_CUR_LIT("notes"), h));
    s_hex32("0x26d5004becdfd5f8d4cc5fb6c14692399430c36ceadb703de1c5cba1a41a5837", want);
    EXPECT_BYTES_EQ(h, 32, want, 32);
    /* A scope in one class is a different id in another (D2). */
    uint8_t other[32];
    EXPECT_OK(ak_scope_id_of(AK_CLASS_MEMORY, AK_CUR_LIT("openrouter"), other));
    EXPECT_OK(ak_scope_id_of(AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), h));
    EXPECT_TRUE(memcmp(h, other, 32) != 0);
    EXPECT_OK(ak_service_hash(AK_CUR_LIT("openrouter"), h));
    s_hex32("0x9d7e3ece28d263e0a6e678cbd132b82021f93a63ae6e7daadf937b2ed9a1e901", want);
    EXPECT_BYTES_EQ(h, 32, want, 32);
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_scope_id_of(AK_CLASS_CREDENTIALS, AK_CUR_LIT("OpenRouter"), h));
    EXPECT_ERR(AK_E_INVALID_NAMESPACE, ak_scope_id_of(AK_CLASS_MEMORY, AK_CUR_LIT("a:b"), h));
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_service_hash(AK_CUR_LIT(""), h));
}

AK_RUN_TESTS(AK_T(test_omni_vector_from_identities_md), AK_T(test_omni_from_text_lowercases_before_hashing),
             AK_T(test_omni_from_text_rejects_non_addresses), AK_T(test_device_key_hash_vector),
             AK_T(test_omni_parse_accepts_both_forms_any_case), AK_T(test_omni_parse_rejects),
             AK_T(test_service_grammar), AK_T(test_class_and_op_strings), AK_T(test_routes),
             AK_T(test_scope_id_and_service_hash))
