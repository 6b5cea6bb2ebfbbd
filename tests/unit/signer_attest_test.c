/* signer_attest_test.c — the attestation document (ak/attest.h): a good document verifies; a
 * tampered one, a wrong measurement, a replayed (other) nonce, a stale timestamp, another TLS
 * key or another attestation key do not. Also the enclave side's self-measurement. */
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#include "ak/attest.h"
#include "ak/crypto.h"
#include "../../enclave/src/attester.c"
#include "../../enclave/src/nsm.c"
#include "../../enclave/src/secmem.c"

typedef struct {
    uint8_t priv[32];
    uint8_t pub[65];
} s_key;

static ak_err s_sign(void *ctx, ak_cur msg, uint8_t sig64[64]) {
    s_key *k = ctx;
    return ak_p256_sign_sha256(k->priv, msg.ptr, msg.len, sig64);
}

static void s_claims(ak_attest_claims *c, int64_t now) {
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < 48; i++)
        c->measurement[i] = (uint8_t)(0x40 + i);
    uint8_t tpriv[32];
    assert_int_equal(ak_p256_keygen(tpriv, c->tls_pub), AK_OK);
    for (int i = 0; i < 32; i++)
        c->nonce[i] = (uint8_t)(0x90 + i);
    c->nonce_len = 32;
    c->timestamp_ms = now;
}

static const int64_t g_now = 1790000000000;

AK_TEST(test_good_document_verifies) {
    s_key k;
    ak_attest_claims c, got;
    ak_buf doc;
    const char *why = "unset";
    EXPECT_OK(ak_p256_keygen(k.priv, k.pub));
    s_claims(&c, g_now);
    ak_buf_init(&doc, AK_ATTEST_MAX_DOC);
    EXPECT_OK(ak_attest_build(&c, s_sign, &k, &doc));
    ak_attest_expect e = {k.pub, c.measurement, c.nonce, c.nonce_len, c.tls_pub, g_now + 1500, 0};
    EXPECT_OK(ak_attest_verify(ak_buf_cur(&doc), &e, &got, &why));
    EXPECT_TRUE(why == NULL);
    EXPECT_BYTES_EQ(got.tls_pub, 65, c.tls_pub, 65);
    EXPECT_TRUE(got.timestamp_ms == g_now);
    ak_buf_free(&doc);
}

AK_TEST(test_bad_documents_are_rejected) {
    s_key k, other;
    ak_attest_claims c;
    ak_buf doc, bad;
    const char *why;
    EXPECT_OK(ak_p256_keygen(k.priv, k.pub));
    EXPECT_OK(ak_p256_keygen(other.priv, other.pub));
    s_claims(&c, g_now);
    ak_buf_init(&doc, AK_ATTEST_MAX_DOC);
    ak_buf_init(&bad, AK_ATTEST_MAX_DOC);
    EXPECT_OK(ak_attest_build(&c, s_sign, &k, &doc));
    ak_attest_expect e = {k.pub, c.measurement, c.nonce, c.nonce_len, c.tls_pub, g_now, 0};

    /* Tampered: flip one character in the payload part. */
    EXPECT_OK(ak_buf_append_cur(&bad, ak_buf_cur(&doc)));
    long dot = ak_cur_find(ak_buf_cur(&bad), '.');
    bad.ptr[dot + 10] = bad.ptr[dot + 10] == 'A' ? 'B' : 'A';
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&bad), &e, NULL, &why));
    EXPECT_STR_EQ(why, "signature");
    /* Tampered signature. */
    ak_buf_clear(&bad);
    EXPECT_OK(ak_buf_append_cur(&bad, ak_buf_cur(&doc)));
    bad.ptr[bad.len - 5] = bad.ptr[bad.len - 5] == 'A' ? 'B' : 'A';
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&bad), &e, NULL, &why));
    /* Signed by another key than the pinned one. */
    ak_attest_expect e2 = e;
    e2.attest_pub = other.pub;
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e2, NULL, &why));
    EXPECT_STR_EQ(why, "signature");
    /* Wrong measurement. */
    uint8_t m[48];
    memcpy(m, c.measurement, 48);
    m[47] ^= 1;
    e2 = e;
    e2.measurement = m;
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e2, NULL, &why));
    EXPECT_STR_EQ(why, "measurement");
    /* Replayed: a recorded document against a new nonce. */
    uint8_t fresh[32];
    memcpy(fresh, c.nonce, 32);
    fresh[0] ^= 0xff;
    e2 = e;
    e2.nonce = fresh;
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e2, NULL, &why));
    EXPECT_STR_EQ(why, "nonce");
    e2.nonce = c.nonce;
    e2.nonce_len = 31; /* a prefix is not the nonce */
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e2, NULL, &why));
    /* Stale (and from the future). */
    e2 = e;
    e2.now_ms = g_now + AK_ATTEST_DEFAULT_MAX_AGE_MS + 1;
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e2, NULL, &why));
    EXPECT_STR_EQ(why, "stale");
    e2.now_ms = g_now - AK_ATTEST_DEFAULT_MAX_AGE_MS - 1;
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e2, NULL, &why));
    e2.now_ms = g_now + 5000;
    e2.max_age_ms = 1000;
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e2, NULL, &why));
    /* Another TLS server key (the document was made for a different channel). */
    uint8_t tpriv[32], tpub[65];
    EXPECT_OK(ak_p256_keygen(tpriv, tpub));
    e2 = e;
    e2.tls_pub = tpub;
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e2, NULL, &why));
    EXPECT_STR_EQ(why, "tls_pub");
    /* Structure: truncated, no dots, alg none header. */
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_cur_from(doc.ptr, doc.len - 1), &e, NULL, &why));
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(AK_CUR_LIT("abc"), &e, NULL, &why));
    ak_buf_clear(&bad);
    EXPECT_OK(ak_b64url_encode((const uint8_t *)"{\"alg\":\"none\"}", 14, &bad));
    EXPECT_OK(ak_buf_append_cur(&bad, ak_cur_from(doc.ptr + dot, doc.len - (size_t)dot)));
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&bad), &e, NULL, &why));
    EXPECT_STR_EQ(why, "format");
    ak_buf_free(&doc);
    ak_buf_free(&bad);
}

AK_TEST(test_payload_must_be_exact) {
    /* A correctly signed payload with an extra member or another module name is refused. */
    s_key k;
    ak_attest_claims c;
    s_claims(&c, g_now);
    EXPECT_OK(ak_p256_keygen(k.priv, k.pub));
    static const char *const payloads[] = {
        "{\"v\":1,\"module\":\"other\",\"measurement\":\"00\",\"tls_pub\":\"AA\",\"nonce\":\"AA\","
        "\"timestamp\":1}",
        "{\"v\":2}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        ak_buf doc;
        uint8_t sig[64];
        ak_buf_init(&doc, 4096);
        static const char hdr[] = "{\"alg\":\"ES256\",\"typ\":\"ak-attest+jwt\"}";
        EXPECT_OK(ak_b64url_encode((const uint8_t *)hdr, sizeof(hdr) - 1, &doc));
        EXPECT_OK(ak_buf_append_byte(&doc, '.'));
        EXPECT_OK(ak_b64url_encode((const uint8_t *)payloads[i], strlen(payloads[i]), &doc));
        EXPECT_OK(ak_p256_sign_sha256(k.priv, doc.ptr, doc.len, sig));
        EXPECT_OK(ak_buf_append_byte(&doc, '.'));
        EXPECT_OK(ak_b64url_encode(sig, 64, &doc));
        ak_attest_expect e = {k.pub, c.measurement, c.nonce, c.nonce_len, NULL, g_now, 0};
        const char *why;
        EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_verify(ak_buf_cur(&doc), &e, NULL, &why));
        EXPECT_STR_EQ(why, "format");
        ak_buf_free(&doc);
    }
}

AK_TEST(test_pinned_key_settings) {
    uint8_t priv[32], pub[65], got[65];
    char hex[131];
    EXPECT_OK(ak_p256_keygen(priv, pub));
    ak_hex_encode(pub, 65, hex);
    EXPECT_OK(ak_attest_parse_pub(hex, got));
    EXPECT_BYTES_EQ(got, 65, pub, 65);
    hex[129] = hex[129] == '0' ? '1' : '0'; /* off the curve */
    EXPECT_ERR(AK_E_CONFIG, ak_attest_parse_pub(hex, got));
    EXPECT_ERR(AK_E_CONFIG, ak_attest_parse_pub("", got));
    EXPECT_ERR(AK_E_CONFIG, ak_attest_parse_pub("/nonexistent.pem", got));
}

AK_TEST(test_local_attester_and_measurement) {
    /* The local attester signs with a PEM key; its document verifies with the matching public key. */
    char dir[64], p[128];
    snprintf(dir, sizeof(dir), "/tmp/aks_att_test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/attest.key", dir);
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s 2>/dev/null", p);
    assert_int_equal(system(cmd), 0);
    aks_attester *a;
    EXPECT_OK(aks_attester_local_open(p, &a));
    ak_attest_claims c;
    s_claims(&c, g_now);
    ak_buf doc;
    ak_buf_init(&doc, AK_ATTEST_MAX_DOC);
    EXPECT_OK(a->document(a, &c, &doc));
    ak_attest_expect e = {a->key->pub, c.measurement, c.nonce, c.nonce_len, c.tls_pub, g_now, 0};
    EXPECT_OK(ak_attest_verify(ak_buf_cur(&doc), &e, NULL, NULL));
    aks_attester_free(a);
    ak_buf_free(&doc);
    EXPECT_ERR(AK_E_IO, aks_attester_local_open("/nonexistent", &a));
    EXPECT_ERR(AK_E_ATTEST_NSM_UNAVAILABLE, aks_attester_nitro_open("/nonexistent/nsm", &a));
    /* Measurement = SHA-384 of the file. */
    uint8_t m[48], want[48];
    EXPECT_OK(aks_measure_file(p, m));
    ak_buf raw;
    ak_buf_init(&raw, 65536);
    ak_test_read_file(p, &raw);
    ak_sha384(raw.ptr, raw.len, want);
    EXPECT_BYTES_EQ(m, 48, want, 48);
    ak_buf_free(&raw);
    EXPECT_ERR(AK_E_IO, aks_measure_file("/nonexistent", m));
    unlink(p);
    rmdir(dir);
}

AK_RUN_TESTS(AK_T(test_good_document_verifies), AK_T(test_bad_documents_are_rejected),
             AK_T(test_payload_must_be_exact), AK_T(test_pinned_key_settings),
             AK_T(test_local_attester_and_measurement))
