/*
 * kms_test.c — KMS Decrypt for an attested recipient (ak/kms.h): endpoint parsing, the exact
 * request body, the response checks (Plaintext refused, KeyId pinned for key ARNs, unknown
 * members, bad base64) and the error-type mapping. The signed request on the wire is checked by
 * tests/e2e/kms_sealer_test.sh against a stand-in that recomputes SigV4 with botocore.
 */
#include "test.h"

#include "ak/http.h"
#include "ak/kms.h"

#define ARN "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
#define ALIAS "arn:aws:kms:us-east-1:111122223333:alias/agentkeys-signer"

static ak_http *s_http(void) {
    ak_http *h = NULL;
    ak_http_config c = {0};
    EXPECT_OK(ak_http_new(&c, &h));
    return h;
}

AK_TEST(test_init_endpoints) {
    ak_http *h = s_http();
    ak_kms k;
    ak_kms_config c = {.region = "eu-west-1"};
    EXPECT_OK(ak_kms_init(&k, h, &c));
    EXPECT_STR_EQ(k.url, "https://kms.eu-west-1.amazonaws.com/");
    EXPECT_STR_EQ(k.host, "kms.eu-west-1.amazonaws.com");
    c.endpoint = "http://127.0.0.1:8000/";
    EXPECT_OK(ak_kms_init(&k, h, &c));
    EXPECT_STR_EQ(k.url, "http://127.0.0.1:8000/");
    EXPECT_STR_EQ(k.host, "127.0.0.1:8000");
    c.endpoint = "https://kms.localhost:9443";
    EXPECT_OK(ak_kms_init(&k, h, &c));
    EXPECT_STR_EQ(k.host, "kms.localhost:9443");
    static const char *const bad[] = {"ftp://x",     "https://",    "https://h/path",
                                      "https://u@h", "https://h?q", "kms.us-east-1.amazonaws.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c.endpoint = bad[i];
        if (ak_kms_init(&k, h, &c) != AK_E_CONFIG) fail_msg("endpoint accepted: %s", bad[i]);
    }
    c.endpoint = NULL;
    c.region = "EU-west-1";
    EXPECT_ERR(AK_E_CONFIG, ak_kms_init(&k, h, &c));
    c.region = "";
    EXPECT_ERR(AK_E_CONFIG, ak_kms_init(&k, h, &c));
    ak_http_free(h);
}

AK_TEST(test_body) {
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    ak_kms_decrypt r = {.ciphertext_blob = AK_CUR_LIT("blob"),
                        .key_id = AK_CUR_LIT(ARN),
                        .attestation_doc = AK_CUR_LIT("doc!")};
    EXPECT_OK(ak_kms_decrypt_body(&r, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b),
                  "{\"CiphertextBlob\":\"YmxvYg==\",\"EncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\","
                  "\"KeyId\":\"" ARN "\",\"Recipient\":{\"AttestationDocument\":\"ZG9jIQ==\","
                  "\"KeyEncryptionAlgorithm\":\"RSAES_OAEP_SHA_256\"}}");
    /* KeyId is optional */
    ak_buf_clear(&b);
    r.key_id = (ak_cur){0};
    EXPECT_OK(ak_kms_decrypt_body(&r, &b));
    EXPECT_TRUE(strstr(ak_buf_cstr(&b), "KeyId") == NULL);
    /* sizes */
    static uint8_t big[AK_KMS_MAX_CIPHERTEXT_BLOB + 1];
    r.ciphertext_blob = ak_cur_from(big, sizeof(big));
    EXPECT_ERR(AK_E_LIMIT, ak_kms_decrypt_body(&r, &b));
    r.ciphertext_blob = (ak_cur){0};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_kms_decrypt_body(&r, &b));
    r.ciphertext_blob = AK_CUR_LIT("blob");
    r.attestation_doc = (ak_cur){0};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_kms_decrypt_body(&r, &b));
    ak_buf_free(&b);
}

static ak_err s_parse(const char *json, const char *key_id, ak_buf *cms) {
    ak_buf_init(cms, 1u << 16);
    EXPECT_OK(ak_buf_append_str(cms, "pre"));
    return ak_kms_parse_decrypt_response(ak_cur_from_str(json), ak_cur_from_str(key_id), cms);
}

AK_TEST(test_parse_response) {
    ak_buf cms;
    EXPECT_OK(s_parse("{\"KeyId\":\"" ARN "\",\"EncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\","
                      "\"CiphertextForRecipient\":\"MIIB\"}",
                      ARN, &cms));
    EXPECT_BYTES_EQ(cms.ptr, cms.len, "pre\x30\x82\x01", 6);
    ak_buf_free(&cms);
    /* an alias in the request: the answer's ARN is not compared; KeyMaterialId and a null Plaintext are fine */
    EXPECT_OK(s_parse("{\"KeyId\":\"arn:other\",\"CiphertextForRecipient\":\"MIIB\",\"KeyMaterialId\":\"x\","
                      "\"Plaintext\":null}",
                      "alias/agentkeys-signer", &cms));
    ak_buf_free(&cms);
    static const char *const bad[] = {
        "{\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":\"MIIB\",\"Plaintext\":\"AAAA\"}",
        "{\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":\"MIIB\",\"Extra\":1}",
        "{\"KeyId\":\"" ARN
        "\",\"CiphertextForRecipient\":\"MIIB\",\"EncryptionAlgorithm\":\"RSAES_OAEP_SHA_1\"}",
        "{\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":\"M!IB\"}",
        "{\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":\"\"}",
        "{\"KeyId\":\"" ARN "\"}",
        "{\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":7}",
        "[]",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_err e = s_parse(bad[i], ARN, &cms);
        if (e != AK_E_KMS_RESPONSE_MALFORMED) fail_msg("%s -> %s", bad[i], ak_err_reason(e));
        EXPECT_INT_EQ(cms.len, 3); /* nothing appended */
        ak_buf_free(&cms);
    }
    /* asked by ARN (the pin): an answer for another key, or none, is a key mismatch */
    static const struct {
        const char *json, *asked;
    } mismatch[] = {
        {"{\"KeyId\":\"arn:aws:kms:us-east-1:111122223333:key/other\",\"CiphertextForRecipient\":\"MIIB\"}",
         ARN},
        {"{\"CiphertextForRecipient\":\"MIIB\"}", ARN},
        {"{\"KeyId\":\"arn:aws:kms:us-east-1:444455556666:key/1234\",\"CiphertextForRecipient\":\"MIIB\"}",
         ALIAS},
        {"{\"CiphertextForRecipient\":\"MIIB\"}", ALIAS},
    };
    for (size_t i = 0; i < sizeof(mismatch) / sizeof(mismatch[0]); i++) {
        ak_err e = s_parse(mismatch[i].json, mismatch[i].asked, &cms);
        if (e != AK_E_KMS_KEY_MISMATCH) fail_msg("%s -> %s", mismatch[i].json, ak_err_reason(e));
        EXPECT_INT_EQ(cms.len, 3);
        ak_buf_free(&cms);
    }
    /* the alias pin: any key of its account and region */
    EXPECT_OK(s_parse("{\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":\"MIIB\"}", ALIAS, &cms));
    ak_buf_free(&cms);
}

AK_TEST(test_key_pin) {
    ak_kms_key_pin pin;
    EXPECT_OK(ak_kms_key_pin_parse(AK_CUR_LIT(ALIAS), &pin));
    EXPECT_STR_EQ(pin.arn, ALIAS);
    EXPECT_STR_EQ(pin.region, "us-east-1");
    EXPECT_TRUE(pin.alias);
    EXPECT_INT_EQ(pin.account_prefix_len, strlen("arn:aws:kms:us-east-1:111122223333:"));
    EXPECT_OK(ak_kms_key_pin_parse(AK_CUR_LIT(ARN), &pin));
    EXPECT_FALSE(pin.alias);
    EXPECT_OK(ak_kms_key_pin_parse(AK_CUR_LIT("arn:aws-cn:kms:cn-north-1:111122223333:alias/a_b/C-9"), &pin));
    EXPECT_STR_EQ(pin.region, "cn-north-1");
    static const char *const bad[] = {
        "alias/agentkeys-signer", /* not an ARN: the account would be whoever's credentials these are */
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:11112222333:alias/x",   /* 11-digit account */
        "arn:aws:kms:us-east-1:1111222233334:alias/x", /* 13 */
        "arn:aws:kms:us-east-1:11112222333a:alias/x",
        "arn:aws:s3:us-east-1:111122223333:alias/x",
        "arn:gcp:kms:us-east-1:111122223333:alias/x",
        "arn:aws:kms:US-EAST-1:111122223333:alias/x",
        "arn:aws:kms::111122223333:alias/x",
        "arn:aws:kms:us-east-1:111122223333:alias/",
        "arn:aws:kms:us-east-1:111122223333:alias/aws/ebs", /* AWS managed: not our policy */
        "arn:aws:kms:us-east-1:111122223333:alias/a b",
        "arn:aws:kms:us-east-1:111122223333:key/",
        "arn:aws:kms:us-east-1:111122223333:key/ABC",
        "arn:aws:kms:us-east-1:111122223333:keyring/x",
        "arn:aws:kms:us-east-1:111122223333",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ak_kms_key_pin_parse(ak_cur_from_str(bad[i]), &pin) != AK_E_CONFIG)
            fail_msg("accepted %s", bad[i]);
    /* answers */
    EXPECT_TRUE(ak_kms_key_answer_ok(AK_CUR_LIT(ALIAS), AK_CUR_LIT(ARN)));
    EXPECT_TRUE(ak_kms_key_answer_ok(AK_CUR_LIT(ARN), AK_CUR_LIT(ARN)));
    EXPECT_FALSE(
        ak_kms_key_answer_ok(AK_CUR_LIT(ARN), AK_CUR_LIT("arn:aws:kms:us-east-1:111122223333:key/other")));
    EXPECT_FALSE(
        ak_kms_key_answer_ok(AK_CUR_LIT(ALIAS), AK_CUR_LIT("arn:aws:kms:us-east-1:444455556666:key/1234")));
    EXPECT_FALSE(
        ak_kms_key_answer_ok(AK_CUR_LIT(ALIAS), AK_CUR_LIT("arn:aws:kms:us-west-2:111122223333:key/1234")));
    EXPECT_FALSE(
        ak_kms_key_answer_ok(AK_CUR_LIT(ALIAS), AK_CUR_LIT("arn:aws-cn:kms:us-east-1:111122223333:key/1")));
    EXPECT_FALSE(ak_kms_key_answer_ok(AK_CUR_LIT(ALIAS), AK_CUR_LIT(ALIAS))); /* an alias is not a key */
    EXPECT_FALSE(ak_kms_key_answer_ok(AK_CUR_LIT(ALIAS), AK_CUR_LIT("")));
    EXPECT_TRUE(ak_kms_key_answer_ok(AK_CUR_LIT("alias/agentkeys-signer"), AK_CUR_LIT("anything")));
}

AK_TEST(test_generate) {
    ak_buf b, blob, arn, cms;
    ak_buf_init(&b, 4096);
    ak_kms_generate g = {.key_id = AK_CUR_LIT(ALIAS), .attestation_doc = AK_CUR_LIT("\x01\x02")};
    EXPECT_OK(ak_kms_generate_body(&g, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "{\"KeyId\":\"" ALIAS "\",\"KeySpec\":\"AES_256\",\"Recipient\":{"
                                   "\"AttestationDocument\":\"AQI=\",\"KeyEncryptionAlgorithm\":"
                                   "\"RSAES_OAEP_SHA_256\"}}");
    ak_buf_clear(&b);
    g.key_id = (ak_cur){0};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_kms_generate_body(&g, &b));
    ak_buf_free(&b);
    ak_buf_init(&blob, 4096);
    ak_buf_init(&arn, 4096);
    ak_buf_init(&cms, 4096);
    EXPECT_OK(ak_kms_parse_generate_response(AK_CUR_LIT("{\"CiphertextBlob\":\"AQID\",\"KeyId\":\"" ARN
                                                        "\",\"CiphertextForRecipient\":\"MIIB\","
                                                        "\"Plaintext\":null,\"KeyMaterialId\":\"m\"}"),
                                             AK_CUR_LIT(ALIAS), &blob, &arn, &cms));
    EXPECT_BYTES_EQ(blob.ptr, blob.len, "\x01\x02\x03", 3);
    EXPECT_STR_EQ(ak_buf_cstr(&arn), ARN);
    EXPECT_BYTES_EQ(cms.ptr, cms.len, "\x30\x82\x01", 3);
    static const struct {
        const char *json;
        ak_err want;
    } bad[] = {
        {"{\"CiphertextBlob\":\"AQID\",\"KeyId\":\"" ARN
         "\",\"CiphertextForRecipient\":\"MIIB\",\"Plaintext\":\"AAAA\"}",
         AK_E_KMS_RESPONSE_MALFORMED},
        {"{\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":\"MIIB\"}", AK_E_KMS_RESPONSE_MALFORMED},
        {"{\"CiphertextBlob\":\"\",\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":\"MIIB\"}",
         AK_E_KMS_RESPONSE_MALFORMED},
        {"{\"CiphertextBlob\":\"AQID\",\"KeyId\":\"" ARN "\"}", AK_E_KMS_RESPONSE_MALFORMED},
        {"{\"CiphertextBlob\":\"AQID\",\"KeyId\":\"" ARN "\",\"CiphertextForRecipient\":\"MIIB\",\"X\":1}",
         AK_E_KMS_RESPONSE_MALFORMED},
        {"{\"CiphertextBlob\":\"AQID\",\"CiphertextForRecipient\":\"MIIB\"}", AK_E_KMS_KEY_MISMATCH},
        {"{\"CiphertextBlob\":\"AQID\",\"KeyId\":\"arn:aws:kms:us-east-1:444455556666:key/1\","
         "\"CiphertextForRecipient\":\"MIIB\"}",
         AK_E_KMS_KEY_MISMATCH},
        {"[]", AK_E_KMS_RESPONSE_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_buf_clear(&blob);
        ak_buf_clear(&arn);
        ak_buf_clear(&cms);
        EXPECT_OK(ak_buf_append_str(&blob, "b"));
        ak_err e = ak_kms_parse_generate_response(ak_cur_from_str(bad[i].json), AK_CUR_LIT(ALIAS), &blob,
                                                  &arn, &cms);
        if (e != bad[i].want) fail_msg("%s -> %s", bad[i].json, ak_err_reason(e));
        EXPECT_INT_EQ(blob.len, 1); /* nothing appended */
        EXPECT_INT_EQ(arn.len, 0);
        EXPECT_INT_EQ(cms.len, 0);
    }
    ak_buf_free(&blob);
    ak_buf_free(&arn);
    ak_buf_free(&cms);
}

static ak_err s_err(long status, const char *body, const char *hdrs, ak_buf *type) {
    ak_http_response r;
    ak_http_response_init(&r);
    r.status = status;
    EXPECT_OK(ak_buf_append_str(&r.body, body));
    EXPECT_OK(ak_buf_append_str(&r.headers, hdrs));
    ak_buf_clear(type);
    ak_err e = ak_kms_error_from_response(&r, type);
    ak_http_response_free(&r);
    return e;
}

AK_TEST(test_errors) {
    ak_buf t;
    ak_buf_init(&t, 256);
    EXPECT_ERR(
        AK_E_KMS_ACCESS_DENIED,
        s_err(400, "{\"__type\":\"com.amazonaws.kms#AccessDeniedException\",\"message\":\"m\"}", "", &t));
    EXPECT_STR_EQ(ak_buf_cstr(&t), "AccessDeniedException");
    EXPECT_ERR(AK_E_KMS_SIGNATURE_REJECTED, s_err(400, "{\"__type\":\"InvalidSignatureException\"}", "", &t));
    EXPECT_ERR(AK_E_KMS_SIGNATURE_REJECTED,
               s_err(400, "{\"__type\":\"UnrecognizedClientException\"}", "", &t));
    EXPECT_ERR(AK_E_KMS_SIGNATURE_REJECTED, s_err(400, "{\"__type\":\"ExpiredTokenException\"}", "", &t));
    EXPECT_ERR(AK_E_KMS_INVALID_CIPHERTEXT,
               s_err(400, "{\"__type\":\"InvalidCiphertextException\"}", "", &t));
    EXPECT_ERR(AK_E_KMS_KEY_MISMATCH, s_err(400, "{\"__type\":\"IncorrectKeyException\"}", "", &t));
    EXPECT_ERR(AK_E_THROTTLED, s_err(400, "{\"__type\":\"ThrottlingException\"}", "", &t));
    EXPECT_ERR(AK_E_KMS_ERROR, s_err(400, "{\"__type\":\"KMSInvalidStateException\"}", "", &t));
    EXPECT_ERR(AK_E_KMS_ERROR, s_err(400, "{\"message\":\"no type\"}", "", &t));
    /* no JSON: the x-amzn-errortype header, up to its ':' */
    EXPECT_ERR(AK_E_KMS_SIGNATURE_REJECTED,
               s_err(403, "<html/>", "x-amzn-errortype:InvalidSignatureException:http://internal\n", &t));
    EXPECT_STR_EQ(ak_buf_cstr(&t), "InvalidSignatureException");
    EXPECT_ERR(AK_E_KMS_ERROR, s_err(500, "{\"__type\":\"AccessDeniedException\"}", "", &t));
    EXPECT_ERR(AK_E_THROTTLED, s_err(503, "", "", &t));
    EXPECT_ERR(AK_E_THROTTLED, s_err(429, "", "", &t));
    EXPECT_OK(s_err(200, "{}", "", &t));
    ak_buf_free(&t);
}

AK_RUN_TESTS(AK_T(test_init_endpoints), AK_T(test_body), AK_T(test_parse_response), AK_T(test_key_pin),
             AK_T(test_generate), AK_T(test_errors))
