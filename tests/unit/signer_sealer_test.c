/*
 * signer_sealer_test.c — the nitro sealer's pieces that need no network (aks/sealer.h): the data
 * key file format (exactly what `aws kms generate-data-key-without-plaintext --output json`
 * prints, nothing else), the refusals before any KMS call (no region, credentials or recipient
 * document source), the data key stores, and the test-only recipient document's CBOR.
 * The KMS round trip itself: tests/e2e/kms_sealer_test.sh.
 */
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
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

#define PIN "arn:aws:kms:us-east-1:111122223333:alias/agentkeys-signer"

/* A scripted data key store: what load answers, and what was asked of it. */
typedef struct {
    ak_err load_rc;
    bool orphans;
    const char *text;
    int loads, saves;
} s_fake_store;

static ak_err s_fake_load(void *ctx, ak_buf *text, bool *orphans) {
    s_fake_store *f = ctx;
    f->loads++;
    *orphans = f->orphans;
    if (f->load_rc == AK_OK) EXPECT_OK(ak_buf_append_str(text, f->text));
    return f->load_rc;
}

static ak_err s_fake_save(void *ctx, ak_cur text) {
    s_fake_store *f = ctx;
    (void)text;
    f->saves++;
    return AK_OK;
}

static int g_docs;
static ak_err s_doc(void *ctx, ak_cur spki, ak_buf *doc) {
    (void)ctx;
    g_docs++;
    return ak_buf_append_cur(doc, spki);
}

static aks_nitro_sealer_config s_config(s_fake_store *f) {
    return (aks_nitro_sealer_config){.key_pin = PIN,
                                     .store = {"fake", s_fake_load, s_fake_save, f},
                                     .kms_endpoint = "http://127.0.0.1:9", /* never reached here */
                                     .creds = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret"), {0}},
                                     .recipient_doc = s_never_called};
}

/* Refused before any key pair, document or KMS call: the pin, the region, credentials, sources. */
AK_TEST(test_open_refusals) {
    aks_sealer *s = NULL;
    s_fake_store f = {.load_rc = AK_E_NOT_FOUND};
    aks_nitro_sealer_config c = s_config(&f);
    static const char *const bad_pins[] = {
        NULL,
        "",
        "alias/agentkeys-signer", /* not an ARN: whoever's credentials these are */
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:111122223333:alias/aws/ebs",
        "arn:aws:kms:us-east-1:111122223333"};
    for (size_t i = 0; i < sizeof(bad_pins) / sizeof(bad_pins[0]); i++) {
        c.key_pin = bad_pins[i];
        EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&c, &s));
    }
    c.key_pin = PIN;
    c.region = "us-west-2"; /* KMS keys are regional: the pin's region or nothing */
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&c, &s));
    c.region = NULL;
    c.creds.secret_access_key = (ak_cur){0};
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&c, &s));
    c.creds.secret_access_key = AK_CUR_LIT("secret");
    c.store.load = NULL;
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&c, &s));
    c.store.load = s_fake_load;
    c.recipient_doc = NULL;
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&c, &s));
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(NULL, &s));
    assert_null(s);
    EXPECT_INT_EQ(f.loads, 0);
}

/* The store's answers that end the open before KMS: its own failure (never taken for "none"),
 * orphaned sealed state (no new key is made, nothing saved), malformed stored text. */
AK_TEST(test_store_outcomes_before_kms) {
    aks_sealer *s = NULL;
    static const struct {
        ak_err load_rc;
        bool orphans;
        const char *text;
        ak_err want;
    } cases[] = {
        {AK_E_SIGNER_BACKUP, false, NULL, AK_E_SIGNER_BACKUP},
        {AK_E_IO, false, NULL, AK_E_IO},
        {AK_E_NOT_FOUND, true, NULL, AK_E_KMS_DATAKEY_MISSING},
        {AK_OK, false, "{\"CiphertextBlob\":\"AQ==\"}", AK_E_KMS_DATAKEY_INVALID},
        {AK_OK, false, "{\"CiphertextBlob\":\"AQ==\",\"KeyId\":\"k\",\"Plaintext\":\"AA==\"}",
         AK_E_KMS_DATAKEY_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s_fake_store f = {.load_rc = cases[i].load_rc, .orphans = cases[i].orphans, .text = cases[i].text};
        aks_nitro_sealer_config c = s_config(&f);
        c.recipient_doc = s_doc;
        g_docs = 0;
        ak_err e = aks_sealer_nitro_open(&c, &s);
        if (e != cases[i].want) fail_msg("case %zu -> %s", i, ak_err_reason(e));
        EXPECT_INT_EQ(f.loads, 1);
        EXPECT_INT_EQ(f.saves, 0);
        EXPECT_INT_EQ(g_docs, 1); /* one recipient key pair per open */
        assert_null(s);
    }
}

/* The local file store: none, none with an orphaned keystore, create-only save, then the text. */
AK_TEST(test_file_store) {
    char dir[] = "/tmp/ak-sealer-XXXXXX", path[64], ks[64];
    aks_datakey_file file;
    aks_datakey_store st;
    ak_buf text;
    bool orphans = true;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/keystore.datakey", dir);
    snprintf(ks, sizeof(ks), "%s/keystore.sealed", dir);
    EXPECT_OK(aks_datakey_file_store(&file, path, ks, &st));
    EXPECT_STR_EQ(st.name, "file");
    ak_buf_init(&text, AKS_DATAKEY_MAX_FILE);
    EXPECT_ERR(AK_E_NOT_FOUND, st.load(st.ctx, &text, &orphans));
    EXPECT_FALSE(orphans);
    FILE *f = fopen(ks, "w");
    assert_non_null(f);
    fclose(f);
    EXPECT_ERR(AK_E_NOT_FOUND, st.load(st.ctx, &text, &orphans));
    EXPECT_TRUE(orphans); /* a keystore without its key */
    EXPECT_OK(st.save(st.ctx, AK_CUR_LIT("{\"first\":1}")));
    EXPECT_ERR(AK_E_PRECONDITION_FAILED, st.save(st.ctx, AK_CUR_LIT("{\"second\":2}")));
    EXPECT_OK(st.load(st.ctx, &text, &orphans));
    EXPECT_STR_EQ(ak_buf_cstr(&text), "{\"first\":1}");
    struct stat sb;
    EXPECT_INT_EQ(stat(path, &sb), 0);
    EXPECT_INT_EQ(sb.st_mode & 0777, 0600);
    char big[700];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    EXPECT_ERR(AK_E_CONFIG, aks_datakey_file_store(&file, big, ks, &st));
    ak_buf_free(&text);
    unlink(path);
    unlink(ks);
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

AK_RUN_TESTS(AK_T(test_datakey_format), AK_T(test_open_refusals), AK_T(test_store_outcomes_before_kms),
             AK_T(test_file_store), AK_T(test_test_document))
