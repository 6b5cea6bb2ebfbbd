/* signer_x509_test.c — the DER encoder and the self-signed OIDC certificate (enclave/src/x509.c):
 * encodings byte for byte, and the certificate decoded by BearSSL's X.509 decoder with its
 * signature checked over the TBS bytes. (tests/e2e/signer_test.sh also parses the published x5c
 * with `openssl x509 -inform DER -text` and `openssl verify`.) */
#include "test.h"

#include <bearssl.h>

#include "ak/crypto.h"
#include "ak/pki.h"
#include "../../enclave/src/x509.c"

AK_TEST(test_tlv_lengths) {
    ak_buf b;
    uint8_t big[300] = {0};
    ak_buf_init(&b, 1024);
    EXPECT_OK(aks_der_tlv(&b, 0x04, ak_cur_from(big, 5)));
    EXPECT_INT_EQ(b.len, 7);
    EXPECT_INT_EQ(b.ptr[1], 5);
    ak_buf_clear(&b);
    EXPECT_OK(aks_der_tlv(&b, 0x04, ak_cur_from(big, 127)));
    EXPECT_INT_EQ(b.ptr[1], 127);
    ak_buf_clear(&b);
    EXPECT_OK(aks_der_tlv(&b, 0x04, ak_cur_from(big, 128)));
    EXPECT_INT_EQ(b.ptr[1], 0x81);
    EXPECT_INT_EQ(b.ptr[2], 128);
    ak_buf_clear(&b);
    EXPECT_OK(aks_der_tlv(&b, 0x04, ak_cur_from(big, 300)));
    EXPECT_INT_EQ(b.ptr[1], 0x82);
    EXPECT_INT_EQ(b.ptr[2], 1);
    EXPECT_INT_EQ(b.ptr[3], 44);
    ak_buf_free(&b);
    /* Past the buffer's ceiling: an error, not a cut. */
    ak_buf_init(&b, 4);
    EXPECT_ERR(AK_E_LIMIT, aks_der_tlv(&b, 0x04, ak_cur_from(big, 5)));
    ak_buf_free(&b);
}

AK_TEST(test_integers_and_times) {
    ak_buf b;
    ak_buf_init(&b, 256);
    uint8_t v1[] = {0x00, 0x00, 0x7f};
    EXPECT_OK(aks_der_uint(&b, v1, sizeof(v1)));
    EXPECT_BYTES_EQ(b.ptr, b.len, "\x02\x01\x7f", 3);
    ak_buf_clear(&b);
    uint8_t v2[] = {0x80};
    EXPECT_OK(aks_der_uint(&b, v2, 1));
    EXPECT_BYTES_EQ(b.ptr, b.len, "\x02\x02\x00\x80", 4);
    ak_buf_clear(&b);
    uint8_t v3[] = {0x00};
    EXPECT_OK(aks_der_uint(&b, v3, 1));
    EXPECT_BYTES_EQ(b.ptr, b.len, "\x02\x01\x00", 3);
    ak_buf_clear(&b);
    EXPECT_OK(aks_der_time(&b, 1700000000)); /* 2023-11-14 22:13:20 */
    EXPECT_BYTES_EQ(b.ptr, b.len,
                    "\x17\x0d"
                    "231114221320Z",
                    15);
    ak_buf_clear(&b);
    EXPECT_OK(aks_der_time(&b, 2524608000)); /* 2050-01-01: GeneralizedTime */
    EXPECT_BYTES_EQ(b.ptr, b.len,
                    "\x18\x0f"
                    "20500101000000Z",
                    17);
    ak_buf_clear(&b);
    EXPECT_ERR(AK_E_INVALID_INPUT, aks_der_time(&b, -1));
    ak_buf_free(&b);
}

AK_TEST(test_spki_matches_pki_parser) {
    uint8_t priv[32], pub[65], back[65];
    ak_buf b;
    ak_buf_init(&b, 256);
    EXPECT_OK(ak_p256_keygen(priv, pub));
    EXPECT_OK(aks_der_spki_p256(&b, pub));
    EXPECT_INT_EQ(b.len, 91);
    EXPECT_OK(ak_pki_spki_p256_der(ak_buf_cur(&b), back));
    EXPECT_BYTES_EQ(back, 65, pub, 65);
    ak_buf_free(&b);
}

typedef struct {
    uint8_t priv[32];
    int calls;
} s_signer;

static ak_err s_sign(void *ctx, ak_cur tbs, uint8_t sig64[64]) {
    s_signer *s = ctx;
    s->calls++;
    return ak_p256_sign_sha256(s->priv, tbs.ptr, tbs.len, sig64);
}

static ak_err s_sign_fails(void *ctx, ak_cur tbs, uint8_t sig64[64]) {
    (void)ctx;
    (void)tbs;
    (void)sig64;
    return AK_E_SIGN_ERROR;
}

/* Minimal DER walk: returns the content of the TLV at *c and advances past it. */
static ak_cur s_take_tlv(ak_cur *c, uint8_t *tag, ak_cur *whole) {
    const uint8_t *start = c->ptr;
    *tag = c->ptr[0];
    size_t len = c->ptr[1], hdr = 2;
    if (len & 0x80) {
        size_t nb = len & 0x7f;
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = (len << 8) | c->ptr[2 + i];
        hdr += nb;
    }
    ak_cur content = ak_cur_from(c->ptr + hdr, len);
    *whole = ak_cur_from(start, hdr + len);
    *c = ak_cur_from(c->ptr + hdr + len, c->len - hdr - len);
    return content;
}

AK_TEST(test_self_signed_certificate) {
    s_signer s = {{0}, 0};
    uint8_t pub[65];
    ak_buf der;
    EXPECT_OK(ak_p256_keygen(s.priv, pub));
    ak_buf_init(&der, 4096);
    EXPECT_OK(aks_x509_self_signed(&der, pub, "agentkeys-oidc", 1790000000, 3650, s_sign, &s));
    EXPECT_INT_EQ(s.calls, 1);

    /* BearSSL decodes it: the key is ours, it is not a CA, signed with ECDSA. */
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, der.ptr, der.len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    assert_non_null(pk);
    EXPECT_INT_EQ(pk->key_type, BR_KEYTYPE_EC);
    EXPECT_BYTES_EQ(pk->key.ec.q, pk->key.ec.qlen, pub, 65);
    EXPECT_FALSE(br_x509_decoder_isCA(&dc));
    EXPECT_INT_EQ(br_x509_decoder_get_signer_key_type(&dc), BR_KEYTYPE_EC);
    EXPECT_INT_EQ(br_x509_decoder_get_signer_hash_id(&dc), br_sha256_ID);

    /* Certificate = SEQ { tbs, alg, BIT STRING sig }: the signature verifies over the TBS bytes. */
    uint8_t tag;
    ak_cur whole, c = ak_buf_cur(&der);
    ak_cur body = s_take_tlv(&c, &tag, &whole);
    EXPECT_INT_EQ(tag, 0x30);
    EXPECT_INT_EQ(c.len, 0);
    ak_cur tbs_whole, alg_whole, sig_whole;
    (void)s_take_tlv(&body, &tag, &tbs_whole);
    (void)s_take_tlv(&body, &tag, &alg_whole);
    ak_cur bits = s_take_tlv(&body, &tag, &sig_whole);
    EXPECT_INT_EQ(tag, 0x03);
    EXPECT_INT_EQ(bits.ptr[0], 0);
    uint8_t sig[64];
    EXPECT_OK(ak_p256_sig_der_to_raw(ak_cur_from(bits.ptr + 1, bits.len - 1), sig));
    EXPECT_OK(ak_p256_verify_sha256(pub, tbs_whole.ptr, tbs_whole.len, sig));
    /* The same input gives the same TBS (serial and dates derive from the key and creation time). */
    ak_buf again;
    ak_buf_init(&again, 4096);
    EXPECT_OK(aks_x509_self_signed(&again, pub, "agentkeys-oidc", 1790000000, 3650, s_sign, &s));
    EXPECT_TRUE(memcmp(again.ptr, der.ptr, tbs_whole.len + 4) == 0);
    ak_buf_clear(&again);
    EXPECT_ERR(AK_E_SIGN_ERROR,
               aks_x509_self_signed(&again, pub, "agentkeys-oidc", 1790000000, 3650, s_sign_fails, NULL));
    ak_buf_free(&again);
    ak_buf_free(&der);
}

AK_RUN_TESTS(AK_T(test_tlv_lengths), AK_T(test_integers_and_times), AK_T(test_spki_matches_pki_parser),
             AK_T(test_self_signed_certificate))
