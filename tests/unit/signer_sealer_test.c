/*
 * signer_sealer_test.c — the nitro sealer's pieces that need no network (aks/sealer.h): the data
 * key file format (exactly what `aws kms generate-data-key-without-plaintext --output json`
 * prints, nothing else), the refusals before any KMS call (no region, credentials or recipient
 * document source; missing or malformed file), and the test-only recipient document's CBOR.
 * The KMS round trip itself: tests/e2e/kms_sealer_test.sh.
 */
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#include "ak/cbor.h"
#include "ak/cms.h"
#include "../../enclave/src/sealer.c"
#include "../../enclave/src/secmem.c"

#define ARN "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

static ak_err s_parse(const char *text, ak_buf *blob, ak_buf *id) {
    ak_buf_init(blob, AK_KMS_MAX_CIPHERTEXT_BLOB);
    ak_buf_init(id, AK_KMS_MAX_KEY_ID);
    return aks_datakey_parse(ak_cur_from_str(text), blob, id);
}

AK_TEST(test_datakey_format) {
    ak_buf blob, id;
    /* the aws CLI's pretty-printed output */
    EXPECT_OK(
        s_parse("{\n    \"CiphertextBlob\": \"AQIDBA==\",\n    \"KeyId\": \"" ARN "\"\n}\n", &blob, &id));
    EXPECT_BYTES_EQ(blob.ptr, blob.len, "\x01\x02\x03\x04", 4);
    EXPECT_STR_EQ(ak_buf_cstr(&id), ARN);
    ak_buf_free(&blob);
    ak_buf_free(&id);
    EXPECT_OK(s_parse("{\"CiphertextBlob\":\"AQIDBA==\",\"KeyId\":\"" ARN "\",\"KeyMaterialId\":\"abc\"}",
                      &blob, &id));
    ak_buf_free(&blob);
    ak_buf_free(&id);
    static const char *const bad[] = {
        "{\"CiphertextBlob\":\"AQIDBA==\",\"KeyId\":\"" ARN "\",\"Plaintext\":\"AAAA\"}", /* never stored */
        "{\"CiphertextBlob\":\"AQIDBA==\"}",
        "{\"KeyId\":\"" ARN "\"}",
        "{\"CiphertextBlob\":\"\",\"KeyId\":\"" ARN "\"}",
        "{\"CiphertextBlob\":\"AQ!DBA==\",\"KeyId\":\"" ARN "\"}",
        "{\"CiphertextBlob\":\"AQIDBA==\",\"KeyId\":\"\"}",
        "{\"CiphertextBlob\":\"AQIDBA==\",\"KeyId\":\"" ARN "\",\"KeyId\":\"" ARN "\"}",
        "{\"CiphertextBlob\":1,\"KeyId\":\"" ARN "\"}",
        "[]",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_err e = s_parse(bad[i], &blob, &id);
        if (e != AK_E_KMS_DATAKEY_INVALID) fail_msg("%s -> %s", bad[i], ak_err_reason(e));
        ak_buf_free(&blob);
        ak_buf_free(&id);
    }
}

static ak_err s_never_called(void *ctx, ak_cur spki, ak_buf *doc) {
    (void)ctx;
    (void)spki;
    (void)doc;
    fail_msg("recipient document requested before the checks");
    return AK_E_INTERNAL;
}

AK_TEST(test_open_refusals) {
    char dir[] = "/tmp/ak-sealer-XXXXXX", path[64], junk[64];
    aks_sealer *s = NULL;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/none", dir);
    snprintf(junk, sizeof(junk), "%s/junk", dir);
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fputs("{\"CiphertextBlob\":\"AQ==\"}", f);
    fclose(f);
    aks_nitro_sealer_config c = {.datakey_path = path,
                                 .region = "us-east-1",
                                 .kms_endpoint = "http://127.0.0.1:9",
                                 .creds = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret"), {0}},
                                 .recipient_doc = s_never_called};
    EXPECT_ERR(AK_E_IO, aks_sealer_nitro_open(&c, &s));
    c.datakey_path = junk;
    EXPECT_ERR(AK_E_KMS_DATAKEY_INVALID, aks_sealer_nitro_open(&c, &s));
    c.region = NULL;
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&c, &s));
    c.region = "us-east-1";
    c.creds.secret_access_key = (ak_cur){0};
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&c, &s));
    c.creds.secret_access_key = AK_CUR_LIT("secret");
    c.recipient_doc = NULL;
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&c, &s));
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(NULL, &s));
    assert_null(s);
    unlink(junk);
    rmdir(dir);
}

AK_TEST(test_test_document) {
    ak_buf doc;
    ak_cbor_item m, v;
    ak_cur str;
    ak_buf_init(&doc, 4096);
    uint8_t meas[48];
    memset(meas, 0xab, sizeof(meas));
    EXPECT_OK(aks_recipient_doc_test_unattested(meas, AK_CUR_LIT("\x30\x82spki"), &doc));
    EXPECT_OK(ak_cbor_decode_all(ak_buf_cur(&doc), NULL, &m));
    EXPECT_INT_EQ(m.type, AK_CBOR_MAP);
    EXPECT_INT_EQ(m.count, 3);
    EXPECT_OK(ak_cbor_map_get_tstr(&m, "image_sha384", &v));
    EXPECT_OK(ak_cbor_get_bstr(&v, &str));
    EXPECT_BYTES_EQ(str.ptr, str.len, meas, 48);
    EXPECT_OK(ak_cbor_map_get_tstr(&m, "module_id", &v));
    EXPECT_OK(ak_cbor_get_tstr(&v, &str));
    EXPECT_TRUE(ak_cur_eq_str(str, "ak-test-unattested"));
    EXPECT_OK(ak_cbor_map_get_tstr(&m, "public_key", &v));
    EXPECT_OK(ak_cbor_get_bstr(&v, &str));
    EXPECT_BYTES_EQ(str.ptr, str.len, "\x30\x82spki", 6);
    ak_buf_free(&doc);
}

AK_RUN_TESTS(AK_T(test_datakey_format), AK_T(test_open_refusals), AK_T(test_test_document))
