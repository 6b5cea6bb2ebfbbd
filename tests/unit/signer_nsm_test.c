/*
 * signer_nsm_test.c — the NSM attester (aks/nsm.h, enclave/src/attester.c) without Nitro
 * hardware: the exact Attestation request bytes, canned NSM responses (the document, each error
 * form, garbage, trailing bytes, oversize) read or refused with their reason, the attester over a
 * fake NSM (tests/unit/nitro_fake.h: a test P-384 PKI) whose documents a nitro-mode client
 * accepts end to end, and the real device transport failing closed where there is no /dev/nsm.
 */
#include "test.h"

#include <stdlib.h>
#include <time.h>

#include "ak/attest.h"
#include "ak/crypto.h"
#include "nitro_fake.h"
#include "../../enclave/src/attester.c"
#include "../../enclave/src/nsm.c"
#include "../../enclave/src/secmem.c"

static ak_cur s_hex(const char *hex, ak_buf *b) {
    ak_buf_init(b, 1u << 16);
    assert_int_equal(ak_hex_decode_buf(ak_cur_from_str(hex), false, b), AK_OK);
    return ak_buf_cur(b);
}

AK_TEST(test_request_bytes) {
    ak_buf req, want;
    ak_buf_init(&req, AKS_NSM_REQUEST_MAX);
    uint8_t pk = 0x01;
    EXPECT_OK(aks_nsm_attestation_request(AK_CUR_LIT("ab"), ak_cur_from((const uint8_t *)"", 0),
                                          ak_cur_from(&pk, 1), &req));
    /* {"Attestation": {"user_data": h'6162', "nonce": h'', "public_key": h'01'}} */
    s_hex("a1"
          "6b"
          "4174746573746174696f6e"
          "a3"
          "69"
          "757365725f64617461"
          "42"
          "6162"
          "65"
          "6e6f6e6365"
          "40"
          "6a"
          "7075626c69635f6b6579"
          "41"
          "01",
          &want);
    EXPECT_BYTES_EQ(req.ptr, req.len, want.ptr, want.len);
    ak_buf_free(&want);
    /* every field at the NSM's maximum still fits one request; one byte more is refused */
    static uint8_t big[AKS_NSM_FIELD_MAX + 1];
    ak_buf_clear(&req);
    ak_cur max = ak_cur_from(big, AKS_NSM_FIELD_MAX);
    EXPECT_OK(aks_nsm_attestation_request(max, max, max, &req));
    EXPECT_TRUE(req.len <= AKS_NSM_REQUEST_MAX);
    ak_buf_clear(&req);
    EXPECT_ERR(AK_E_LIMIT, aks_nsm_attestation_request(ak_cur_from(big, sizeof(big)), max, max, &req));
    EXPECT_ERR(AK_E_LIMIT, aks_nsm_attestation_request(max, ak_cur_from(big, sizeof(big)), max, &req));
    EXPECT_ERR(AK_E_LIMIT, aks_nsm_attestation_request(max, max, ak_cur_from(big, sizeof(big)), &req));
    EXPECT_INT_EQ(req.len, 0);
    ak_buf_free(&req);
}

/* {"Attestation": {"document": h'84...'}} with a 3-byte stand-in document */
#define S_GOOD                                                                                               \
    "a1"                                                                                                     \
    "6b4174746573746174696f6e"                                                                               \
    "a1"                                                                                                     \
    "68646f63756d656e74"                                                                                     \
    "43"                                                                                                     \
    "840102"

AK_TEST(test_response_document_and_errors) {
    ak_buf b;
    ak_cur doc;
    const char *code = "unset";
    /* the document, also with indefinite-length maps (the NSM writes its payload map that way) */
    static const char *const good[] = {S_GOOD, "bf6b4174746573746174696f6ebf68646f63756d656e7443840102ffff"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        code = "unset";
        EXPECT_OK(aks_nsm_attestation_response(s_hex(good[i], &b), &doc, &code));
        EXPECT_TRUE(code == NULL);
        EXPECT_BYTES_EQ(doc.ptr, doc.len, "\x84\x01\x02", 3);
        ak_buf_free(&b);
    }
    /* ... but one member only, also there */
    EXPECT_ERR(
        AK_E_ATTEST_NSM_MALFORMED,
        aks_nsm_attestation_response(
            s_hex("bf6b4174746573746174696f6ebf68646f63756d656e7443840102617801ffff", &b), &doc, &code));
    ak_buf_free(&b);
    /* {"Error": "InternalError"} and the other codes: attest_nsm_error, the code named, no document */
    static const struct {
        const char *hex, *code;
    } errors[] = {
        /* a1 "Error" (654572726f72) then the code as text */
        {"a1654572726f726d496e7465726e616c4572726f72", "InternalError"},
        {"a1654572726f726d496e707574546f6f4c61726765", "InputTooLarge"},
        {"a1654572726f7265576861743f", "unrecognised"},
    };
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        EXPECT_ERR(AK_E_ATTEST_NSM_ERROR,
                   aks_nsm_attestation_response(s_hex(errors[i].hex, &b), &doc, &code));
        EXPECT_STR_EQ(code, errors[i].code);
        EXPECT_TRUE(doc.ptr == NULL);
        ak_buf_free(&b);
    }
}

AK_TEST(test_response_garbage_refused) {
    static const char *const bad[] = {
        "",          /* empty */
        "ff",        /* a stray break */
        "00",        /* not a map */
        "a0",        /* no member */
        S_GOOD "00", /* trailing byte */
        "a1"
        "6b4174746573746174696f6e"
        "a1"
        "68646f63756d656e74"
        "43"
        "8401", /* truncated */
        "a2"
        "6b4174746573746174696f6e"
        "a0"
        "654572726f72"
        "6141", /* two members */
        "a1"
        "6b4174746573746174696f6e"
        "a1"
        "68646f63756d656e74"
        "63"
        "616263", /* document is text */
        "a1"
        "6b4174746573746174696f6e"
        "a1"
        "68646f63756d656e74"
        "40", /* empty document */
        "a1"
        "6b4174746573746174696f6e"
        "a1"
        "63646f63"
        "43"
        "840102", /* another member name */
        "a1"
        "6b4174746573746174696f6e"
        "a2"
        "68646f63756d656e74"
        "43"
        "840102"
        "6178"
        "01", /* extra inner */
        "a1"
        "6b4174746573746174696f6e"
        "43"
        "840102", /* not a map inside */
        "a1"
        "684465736372696265"
        "a0", /* another response */
        "a1"
        "6b4174746573746174696f6e"
        "a1"
        "68646f63756d656e74"
        "5f"
        "43840102"
        "ff", /* indefinite bstr */
        "a1"
        "6b4174746573746174696f6e"
        "a1"
        "68646f63756d656e74"
        "5803"
        "840102", /* non-shortest length */
        "a1"
        "654572726f72"
        "05", /* error code not text */
        "a1"
        "01"
        "a0", /* integer key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_buf b;
        ak_cur doc;
        const char *code = "unset";
        ak_err e = aks_nsm_attestation_response(s_hex(bad[i], &b), &doc, &code);
        if (e != AK_E_ATTEST_NSM_MALFORMED) fail_msg("case %zu: %s", i, ak_err_reason(e));
        EXPECT_TRUE(code == NULL);
        ak_buf_free(&b);
    }
    /* larger than the driver's response buffer: refused before decoding */
    ak_buf big;
    ak_buf_init(&big, AKS_NSM_RESPONSE_MAX + 8);
    for (size_t i = 0; i < AKS_NSM_RESPONSE_MAX + 1; i++)
        EXPECT_OK(ak_buf_append_byte(&big, 0));
    ak_cur doc;
    EXPECT_ERR(AK_E_ATTEST_NSM_MALFORMED, aks_nsm_attestation_response(ak_buf_cur(&big), &doc, NULL));
    ak_buf_free(&big);
}

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A test PKI, a fake NSM over it (documents stamped now) and a nitro attester started on it. */
static aks_attester *s_attester_up(nf_pki *pki, nf_nsm *nsm) {
    aks_attester *a = NULL;
    nf_nsm_up(pki, nsm, 7, s_now_ms());
    assert_int_equal(aks_attester_nitro_with(nf_nsm_transport, nsm, &a), AK_OK);
    return a;
}

AK_TEST(test_attester_over_fake_nsm_verifies_in_a_nitro_client) {
    nf_pki pki;
    nf_nsm nsm;
    aks_attester *a = s_attester_up(&pki, &nsm);
    EXPECT_INT_EQ(nsm.calls, 1); /* the start-up probe */
    EXPECT_STR_EQ(a->name, "nitro");

    ak_attest_claims c;
    memset(&c, 0, sizeof(c));
    uint8_t tpriv[32];
    EXPECT_OK(ak_p256_keygen(tpriv, c.tls_pub));
    memset(c.measurement, 0x4d, 48);
    EXPECT_OK(ak_random(c.nonce, 32));
    c.nonce_len = 32;
    ak_buf doc, reply;
    ak_buf_init(&doc, AK_ATTEST_MAX_REPLY);
    ak_buf_init(&reply, AK_ATTEST_MAX_REPLY);
    EXPECT_OK(a->document(a, &c, &doc));
    EXPECT_OK(ak_buf_printf(&reply, "{\"format\":\"nitro\",\"document\":\"%s\"}", ak_buf_cstr(&doc)));

    /* the client: pins the test root, PCR0 and the measurement */
    ak_buf pem;
    ak_buf_init(&pem, 8192);
    nf_root_pem(&pki, &pem);
    char path[] = "/tmp/ak-nsm-root-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_TRUE(fd >= 0);
    EXPECT_TRUE(write(fd, pem.ptr, pem.len) == (ssize_t)pem.len);
    close(fd);
    char pcr0[97], m[97];
    ak_hex_encode(nf_opts(0).pcr[0], 48, pcr0);
    ak_hex_encode(c.measurement, 48, m);
    ak_attest_settings st = {"nitro", NULL, m, {pcr0, NULL, NULL, NULL}, path};
    ak_attest_pins pins;
    EXPECT_OK(ak_attest_pins_parse(&st, &pins));
    unlink(path);
    ak_attest_challenge ch = {c.nonce, c.nonce_len, c.tls_pub, s_now_ms(), 0};
    const char *why = "unset";
    EXPECT_OK(ak_attest_reply_verify(ak_buf_cur(&reply), &pins, &ch, &why));
    EXPECT_TRUE(why == NULL);
    /* the same reply for another TLS key or another challenge is refused */
    uint8_t other_pub[65], other_nonce[32];
    EXPECT_OK(ak_p256_keygen(tpriv, other_pub));
    memset(other_nonce, 0x5a, sizeof(other_nonce));
    ak_attest_challenge ch2 = ch;
    ch2.tls_pub = other_pub;
    EXPECT_ERR(AK_E_ATTEST_PUBLIC_KEY_MISMATCH,
               ak_attest_reply_verify(ak_buf_cur(&reply), &pins, &ch2, &why));
    EXPECT_STR_EQ(why, "attest_public_key_mismatch");
    ch2 = ch;
    ch2.nonce = other_nonce;
    EXPECT_ERR(AK_E_ATTEST_NONCE_MISMATCH, ak_attest_reply_verify(ak_buf_cur(&reply), &pins, &ch2, &why));

    /* NSM failures after start: the document call fails with the NSM's reason, nothing appended */
    ak_buf_clear(&doc);
    static const struct {
        nf_nsm_mode mode;
        ak_err want;
    } fails[] = {{NF_ERROR, AK_E_ATTEST_NSM_ERROR},
                 {NF_GARBAGE, AK_E_ATTEST_NSM_MALFORMED},
                 {NF_OTHER_NONCE, AK_E_ATTEST_NSM_MALFORMED},
                 {NF_TRANSPORT_FAIL, AK_E_ATTEST_NSM_UNAVAILABLE},
                 {NF_HUGE, AK_E_ATTEST_NSM_MALFORMED}};
    for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
        nsm.mode = fails[i].mode;
        EXPECT_ERR(fails[i].want, a->document(a, &c, &doc));
        EXPECT_INT_EQ(doc.len, 0);
    }
    aks_attester_free(a);

    /* ... and at start: the attester is not created */
    for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
        nsm.mode = fails[i].mode;
        a = (aks_attester *)&nsm; /* must be reset to NULL */
        EXPECT_ERR(fails[i].want, aks_attester_nitro_with(nf_nsm_transport, &nsm, &a));
        EXPECT_TRUE(a == NULL);
    }
    ak_buf_free(&doc);
    ak_buf_free(&reply);
    ak_buf_free(&pem);
    nf_pki_free(&pki);
}

/* The KMS recipient document (issue 18 item 2): the NSM vouches for the sealer's RSA key. */
AK_TEST(test_recipient_doc_carries_the_sealer_key) {
    nf_pki pki;
    nf_nsm nsm;
    aks_attester *a = s_attester_up(&pki, &nsm);
    uint8_t spki[294];
    for (size_t i = 0; i < sizeof(spki); i++)
        spki[i] = (uint8_t)(i * 7 + 1);
    ak_buf doc;
    ak_buf_init(&doc, AK_NITRO_MAX_DOC);
    EXPECT_OK(aks_attester_recipient_doc(a, ak_cur_from(spki, sizeof(spki)), &doc));
    ak_nitro_facts f;
    EXPECT_OK(ak_nitro_parse(ak_buf_cur(&doc), &f));
    EXPECT_TRUE(f.public_key.present && ak_cur_eq(f.public_key.v, ak_cur_from(spki, sizeof(spki))));
    EXPECT_TRUE(f.user_data.present && ak_cur_eq_str(f.user_data.v, "ak-kms-recipient/v1"));
    EXPECT_TRUE(f.nonce.present && f.nonce.v.len == 32);
    /* an NSM that signs something else is never handed to KMS */
    ak_buf_clear(&doc);
    nsm.mode = NF_OTHER_NONCE;
    EXPECT_ERR(AK_E_ATTEST_NSM_MALFORMED,
               aks_attester_recipient_doc(a, ak_cur_from(spki, sizeof(spki)), &doc));
    EXPECT_INT_EQ(doc.len, 0);
    aks_attester_free(a);
    /* a local attester cannot vouch to KMS */
    EXPECT_ERR(AK_E_CONFIG, aks_attester_recipient_doc(NULL, ak_cur_from(spki, sizeof(spki)), &doc));
    ak_buf_free(&doc);
    nf_pki_free(&pki);
}

AK_TEST(test_device_missing_fails_closed) {
    aks_attester *a = (aks_attester *)1;
    EXPECT_ERR(AK_E_ATTEST_NSM_UNAVAILABLE, aks_attester_nitro_open("/nonexistent/nsm", &a));
    EXPECT_TRUE(a == NULL);
    /* a device that is not an NSM: the ioctl fails (ENOTTY) in the start-up probe */
    a = (aks_attester *)1;
    EXPECT_ERR(AK_E_ATTEST_NSM_UNAVAILABLE, aks_attester_nitro_open("/dev/null", &a));
    EXPECT_TRUE(a == NULL);
    /* the transport itself refuses an oversize request before any ioctl */
    int fd = -1;
    uint8_t out[16];
    size_t got = 99;
    static uint8_t big[AKS_NSM_REQUEST_MAX + 1];
    EXPECT_ERR(AK_E_TOO_LARGE, aks_nsm_ioctl(&fd, ak_cur_from(big, sizeof(big)), out, sizeof(out), &got));
    EXPECT_INT_EQ(got, 0);
    /* a bad descriptor: unavailable, not a crash */
    EXPECT_ERR(AK_E_ATTEST_NSM_UNAVAILABLE, aks_nsm_ioctl(&fd, ak_cur_from(big, 8), out, sizeof(out), &got));
}

AK_RUN_TESTS(AK_T(test_request_bytes), AK_T(test_response_document_and_errors),
             AK_T(test_response_garbage_refused),
             AK_T(test_attester_over_fake_nsm_verifies_in_a_nitro_client),
             AK_T(test_recipient_doc_carries_the_sealer_key), AK_T(test_device_missing_fails_closed))
