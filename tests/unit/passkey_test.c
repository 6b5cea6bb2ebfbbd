/*
 * passkey_test.c — ak/passkey.h: key file round trip (sign count kept), a stored public key that
 * does not match the private key refused, bad rp ids refused, the assertion's exact bytes
 * (authenticatorData layout, clientDataJSON member order, base64url challenge) and a signature
 * that verifies over sha256(authenticatorData ‖ sha256(clientDataJSON)), atomic save at mode
 * 0600, and a symlinked key file refused.
 */
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ak/crypto.h"
#include "ak/passkey.h"

AK_TEST(test_new_serialize_parse) {
    ak_passkey k, k2;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_passkey_new("Bad_RP", &k));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_passkey_new("", &k));
    EXPECT_OK(ak_passkey_new("agentkeys.local", &k));
    uint8_t h[32];
    ak_sha256("agentkeys.local", 15, h);
    EXPECT_BYTES_EQ(k.rp_id_hash, 32, h, 32);
    EXPECT_INT_EQ(k.sign_count, 0);
    k.sign_count = 41;
    ak_buf b;
    ak_buf_init(&b, 8192);
    EXPECT_OK(ak_passkey_serialize(&k, &b));
    EXPECT_OK(ak_passkey_parse(ak_buf_cur(&b), &k2));
    EXPECT_BYTES_EQ(k2.priv, 32, k.priv, 32);
    EXPECT_BYTES_EQ(k2.pub, 65, k.pub, 65);
    EXPECT_BYTES_EQ(k2.cred_id, 32, k.cred_id, 32);
    EXPECT_INT_EQ(k2.sign_count, 41);
    /* a public key that does not belong to the private key */
    char *t = (char *)b.ptr;
    char *px = strstr(t, "\"pub_x\":\"0x");
    EXPECT_TRUE(px != NULL);
    px[12] = px[12] == 'a' ? 'b' : 'a';
    EXPECT_ERR(AK_E_BAD_KEY, ak_passkey_parse(ak_buf_cur(&b), &k2));
    EXPECT_ERR(AK_E_INVALID_JSON, ak_passkey_parse(AK_CUR_LIT("{"), &k2));
    EXPECT_ERR(AK_E_MISSING_FIELD, ak_passkey_parse(AK_CUR_LIT("{\"rp_id\":\"a.b\"}"), &k2));
    /* public JSON carries no private key */
    ak_buf_clear(&b);
    EXPECT_OK(ak_passkey_public_json(&k, &b));
    EXPECT_TRUE(strstr(ak_buf_cstr(&b), "private") == NULL);
    ak_buf_free(&b);
    ak_passkey_wipe(&k);
}

AK_TEST(test_assert_bytes_and_signature) {
    ak_passkey k;
    EXPECT_OK(ak_passkey_new("agentkeys.local", &k));
    uint8_t ch[32], dkh[32];
    memset(ch, 0x11, 32);
    memset(dkh, 0x22, 32);
    ak_passkey_assertion a;
    EXPECT_OK(ak_passkey_assert(&k, ch, 0x01020304, dkh, NULL, &a));
    EXPECT_BYTES_EQ(a.authenticator_data, 32, k.rp_id_hash, 32);
    EXPECT_INT_EQ(a.authenticator_data[32], 0x05);
    EXPECT_INT_EQ(a.authenticator_data[33], 1);
    EXPECT_INT_EQ(a.authenticator_data[36], 4);
    EXPECT_BYTES_EQ(a.attestor, 32, dkh, 32);
    EXPECT_STR_EQ(a.client_data_json, "{\"type\":\"webauthn.get\",\"challenge\":"
                                      "\"ERERERERERERERERERERERERERERERERERERERERERE\",\"origin\":"
                                      "\"https://agentkeys.local\",\"crossOrigin\":false}");
    uint8_t msg[69], hh[32], sig[64];
    memcpy(msg, a.authenticator_data, 37);
    ak_sha256(a.client_data_json, a.client_data_json_len, msg + 37);
    ak_sha256(msg, sizeof(msg), hh);
    EXPECT_BYTES_EQ(a.signed_hash, 32, hh, 32);
    memcpy(sig, a.r, 32);
    memcpy(sig + 32, a.s, 32);
    EXPECT_OK(ak_p256_verify_digest(k.pub, hh, sig));
    ak_passkey_assert_opts o = {.set_flags = true, .flags = 0x01, .type = "webauthn.create"};
    EXPECT_OK(ak_passkey_assert(&k, ch, 1, NULL, &o, &a));
    EXPECT_INT_EQ(a.authenticator_data[32], 0x01);
    EXPECT_TRUE(strncmp(a.client_data_json, "{\"type\":\"webauthn.create\"", 25) == 0);
    ak_passkey_assert_opts bad = {.origin = "https://x\"y"};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_passkey_assert(&k, ch, 1, NULL, &bad, &a));
    ak_abi_val items[5];
    ak_abi_val v = ak_passkey_assertion_abi(&a, items);
    EXPECT_INT_EQ(v.kind, AK_ABI_TUPLE);
    EXPECT_INT_EQ(v.count, 5);
    ak_passkey_wipe(&k);
}

AK_TEST(test_save_load_and_symlink) {
    char dir[] = "/tmp/passkey_test.XXXXXX";
    EXPECT_TRUE(mkdtemp(dir) != NULL);
    char path[256], link[256];
    snprintf(path, sizeof(path), "%s/k.json", dir);
    snprintf(link, sizeof(link), "%s/l.json", dir);
    ak_passkey k, k2;
    EXPECT_OK(ak_passkey_new("agentkeys.local", &k));
    k.sign_count = 7;
    EXPECT_OK(ak_passkey_save(path, &k));
    struct stat st;
    EXPECT_INT_EQ(stat(path, &st), 0);
    EXPECT_INT_EQ(st.st_mode & 0777, 0600);
    EXPECT_OK(ak_passkey_load(path, &k2));
    EXPECT_INT_EQ(k2.sign_count, 7);
    EXPECT_BYTES_EQ(k2.priv, 32, k.priv, 32);
    EXPECT_INT_EQ(symlink(path, link), 0);
    EXPECT_ERR(AK_E_IO, ak_passkey_load(link, &k2));
    unlink(link);
    snprintf(link, sizeof(link), "%s/missing.json", dir);
    EXPECT_ERR(AK_E_NOT_FOUND, ak_passkey_load(link, &k2));
    unlink(path);
    rmdir(dir);
    ak_passkey_wipe(&k);
    ak_passkey_wipe(&k2);
}

AK_RUN_TESTS(AK_T(test_new_serialize_parse), AK_T(test_assert_bytes_and_signature),
             AK_T(test_save_load_and_symlink))
