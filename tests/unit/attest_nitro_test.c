/*
 * attest_nitro_test.c — the client side of the nitro mode (ak/attest.h "the two modes"):
 * the settings a client pins, the /v1/attest reply checked by ak_attest_reply_verify (what
 * ak_signer runs on every new signer key), with
 *   - the real NSM documents of ../shared/vectors/nitro-attestation/ through the client path:
 *     their chains verify under the built-in AWS root, and then the binding is refused with the
 *     exact reason (PCR0, nonce, public key);
 *   - a full success path with a document from the test-only Nitro PKI (tests/unit/nitro_fake.h:
 *     P-384 root -> intermediate -> leaf generated in the test, the root pinned through a PEM
 *     file as AK_SIGNER_NITRO_ROOT would), and each mutation refused with its reason;
 *   - mode confusion: a local JWS reply to a nitro client and a nitro reply to a local client.
 */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "ak/attest.h"
#include "ak/crypto.h"
#include "ak/json.h"
#include "nitro_fake.h"

/* ---------------------------------------------------------------- settings */

static char g_root_path[64];

static void s_write_root(const nf_pki *p) { nf_root_pem_file(p, g_root_path); }

static const char *const g_pcr0 =
    "101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010";
static const char *const g_pcr1 =
    "111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111";
static const char *const g_m =
    "4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d";

AK_TEST(test_pins_settings) {
    ak_attest_pins p;
    ak_attest_settings s;
    char pub[131];
    uint8_t priv[32], pub65[65];
    EXPECT_OK(ak_p256_keygen(priv, pub65));
    ak_hex_encode(pub65, 65, pub);
    /* local (the default): key and measurement required */
    s = (ak_attest_settings){NULL, pub, g_m, {NULL, NULL, NULL, NULL}, NULL};
    EXPECT_OK(ak_attest_pins_parse(&s, &p));
    EXPECT_INT_EQ(p.mode, AK_ATTEST_MODE_LOCAL);
    s.mode = "local";
    EXPECT_OK(ak_attest_pins_parse(&s, &p));
    s.attest_pub = NULL;
    EXPECT_ERR(AK_E_CONFIG, ak_attest_pins_parse(&s, &p));
    s = (ak_attest_settings){"local", pub, NULL, {g_pcr0, NULL, NULL, NULL}, NULL};
    EXPECT_ERR(AK_E_CONFIG, ak_attest_pins_parse(&s, &p));
    /* nitro: PCR0 required; the local settings are not needed */
    s = (ak_attest_settings){"nitro", NULL, NULL, {g_pcr0, NULL, NULL, NULL}, NULL};
    EXPECT_OK(ak_attest_pins_parse(&s, &p));
    EXPECT_INT_EQ(p.mode, AK_ATTEST_MODE_NITRO);
    EXPECT_INT_EQ(p.n_pcrs, 1);
    EXPECT_FALSE(p.have_measurement);
    EXPECT_INT_EQ(p.root_len, 0); /* the built-in Root-G1 fingerprint */
    s = (ak_attest_settings){"nitro", NULL, g_m, {g_pcr0, g_pcr1, g_pcr1, g_pcr1}, NULL};
    EXPECT_OK(ak_attest_pins_parse(&s, &p));
    EXPECT_INT_EQ(p.n_pcrs, 4);
    EXPECT_INT_EQ(p.pcr_index[3], 8);
    EXPECT_TRUE(p.have_measurement);
    static const char *const bad_pcr0[] = {
        "", "1010",
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "z01010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010",
        "10101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010"};
    for (size_t i = 0; i < sizeof(bad_pcr0) / sizeof(bad_pcr0[0]); i++) {
        s = (ak_attest_settings){"nitro", NULL, NULL, {bad_pcr0[i], NULL, NULL, NULL}, NULL};
        EXPECT_ERR(AK_E_CONFIG, ak_attest_pins_parse(&s, &p));
    }
    s = (ak_attest_settings){"nitro", NULL, NULL, {g_pcr0, "11", NULL, NULL}, NULL};
    EXPECT_ERR(AK_E_CONFIG, ak_attest_pins_parse(&s, &p));
    s = (ak_attest_settings){"nitro", NULL, "abc", {g_pcr0, NULL, NULL, NULL}, NULL};
    EXPECT_ERR(AK_E_CONFIG, ak_attest_pins_parse(&s, &p));
    s = (ak_attest_settings){"nitro", NULL, NULL, {g_pcr0, NULL, NULL, NULL}, "/nonexistent.pem"};
    EXPECT_ERR(AK_E_CONFIG, ak_attest_pins_parse(&s, &p));
    s = (ak_attest_settings){"Nitro", NULL, NULL, {g_pcr0, NULL, NULL, NULL}, NULL};
    EXPECT_ERR(AK_E_CONFIG, ak_attest_pins_parse(&s, &p));
    /* the AWS root as a pinned PEM, and a PEM that is not a certificate */
    s = (ak_attest_settings){"nitro",
                             NULL,
                             NULL,
                             {g_pcr0, NULL, NULL, NULL},
                             ak_test_vector_path("nitro-attestation/aws_nitro_enclaves_root_g1.pem")};
    EXPECT_OK(ak_attest_pins_parse(&s, &p));
    EXPECT_TRUE(p.root_len > 0 && p.root_len <= AK_NITRO_MAX_CERT);
    uint8_t fp[32];
    ak_sha256(p.root_der, p.root_len, fp);
    EXPECT_BYTES_EQ(fp, 32, AK_NITRO_ROOT_G1_SHA256, 32);
    s.nitro_root = ak_test_vector_path("nitro-attestation/SOURCE.md");
    EXPECT_ERR(AK_E_CONFIG, ak_attest_pins_parse(&s, &p));
}

AK_TEST(test_binding_encodings) {
    uint8_t pub[65], spki[AK_ATTEST_TLS_SPKI_LEN], ud[AK_ATTEST_NITRO_USER_DATA_LEN], m[48];
    for (int i = 0; i < 65; i++)
        pub[i] = (uint8_t)i;
    ak_attest_tls_spki(pub, spki);
    /* the DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480), then the point */
    static const char prefix[] = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
    char hex[2 * AK_ATTEST_TLS_SPKI_LEN + 1];
    ak_hex_encode(spki, 26, hex);
    EXPECT_STR_EQ(hex, prefix);
    EXPECT_BYTES_EQ(spki + 26, 65, pub, 65);
    memset(m, 0xab, 48);
    ak_attest_nitro_user_data(m, ud);
    EXPECT_BYTES_EQ(ud, 16, "ak-signer-tls/v1", 16);
    EXPECT_BYTES_EQ(ud + 16, 48, m, 48);
}

/* ---------------------------------------------------------------- replies */

static void s_reply(ak_buf *reply, const char *format, ak_cur raw_doc) {
    ak_buf b64;
    ak_buf_init(&b64, AK_ATTEST_MAX_REPLY);
    assert_int_equal(ak_b64_encode(raw_doc.ptr, raw_doc.len, &b64), AK_OK);
    ak_buf_clear(reply);
    assert_int_equal(
        ak_buf_printf(reply, "{\"format\":\"%s\",\"document\":\"%s\"}", format, ak_buf_cstr(&b64)), AK_OK);
    ak_buf_free(&b64);
}

/* The public NSM documents: the chain is AWS's and valid at the document's time, so a nitro
 * client gets as far as the binding and refuses it with the exact reason. */
AK_TEST(test_public_vectors_through_the_client_path) {
    static const char *const vecs[] = {"nitro-attestation/blocky-nitrite-2024-09-07.json",
                                       "nitro-attestation/fastcrypto-pcr16-2025-11-10.json"};
    for (size_t i = 0; i < 2; i++) {
        ak_buf f, doc, reply, nonce;
        ak_buf_init(&f, 1u << 20);
        ak_test_read_file(ak_test_vector_path(vecs[i]), &f);
        json_error_t je;
        json_t *j = json_loadb((const char *)f.ptr, f.len, 0, &je);
        assert_non_null(j);
        json_t *exp = json_object_get(j, "expected");
        ak_cur b64, pcr0;
        uint64_t ts;
        EXPECT_OK(ak_json_str(j, "doc_b64", &b64));
        EXPECT_OK(ak_json_u64(exp, "timestamp_ms", &ts));
        EXPECT_OK(ak_json_str(json_object_get(exp, "pcrs"), "0", &pcr0));
        ak_buf_init(&doc, AK_NITRO_MAX_DOC);
        EXPECT_OK(ak_b64_decode(b64, &doc));
        char pcr0s[97];
        EXPECT_OK(ak_cur_to_cstr(pcr0, pcr0s, sizeof(pcr0s)));

        ak_attest_settings s = {"nitro", NULL, NULL, {pcr0s, NULL, NULL, NULL}, NULL};
        ak_attest_pins p;
        EXPECT_OK(ak_attest_pins_parse(&s, &p));
        uint8_t chal[32], tls[65], priv[32];
        memset(chal, 0x42, sizeof(chal));
        EXPECT_OK(ak_p256_keygen(priv, tls));
        ak_attest_challenge ch = {chal, sizeof(chal), tls, (int64_t)ts, 0};
        ak_buf_init(&reply, AK_ATTEST_MAX_REPLY);
        s_reply(&reply, "nitro", ak_buf_cur(&doc));
        const char *why = NULL;
        /* chain and signature valid, PCR0 pinned right: our challenge is not its nonce */
        EXPECT_ERR(AK_E_ATTEST_NONCE_MISMATCH, ak_attest_reply_verify(ak_buf_cur(&reply), &p, &ch, &why));
        EXPECT_STR_EQ(why, "attest_nonce_mismatch");
        /* with its own nonce as the challenge (blocky: 1024 x 0x01): its public key is not our TLS key */
        ak_cur nh;
        ak_buf_init(&nonce, 2048);
        if (ak_json_str(exp, "nonce_hex", &nh) == AK_OK) {
            EXPECT_OK(ak_hex_decode_buf(nh, false, &nonce));
            ak_attest_challenge ch2 = {nonce.ptr, nonce.len, tls, (int64_t)ts, 0};
            EXPECT_ERR(AK_E_ATTEST_PUBLIC_KEY_MISMATCH,
                       ak_attest_reply_verify(ak_buf_cur(&reply), &p, &ch2, &why));
        }
        /* another PCR0 pinned */
        pcr0s[0] = pcr0s[0] == 'a' ? 'b' : 'a';
        EXPECT_OK(ak_attest_pins_parse(&s, &p));
        EXPECT_ERR(AK_E_ATTEST_PCR_MISMATCH, ak_attest_reply_verify(ak_buf_cur(&reply), &p, &ch, &why));
        /* now (not the document's time): the leaf expired years ago */
        ch.now_ms = 1796000000000;
        EXPECT_ERR(AK_E_ATTEST_CERT_EXPIRED, ak_attest_reply_verify(ak_buf_cur(&reply), &p, &ch, &why));
        /* a local-mode client refuses the Nitro reply without reading it */
        char pub[131];
        ak_hex_encode(tls, 65, pub);
        ak_attest_settings ls = {"local", pub, g_m, {NULL, NULL, NULL, NULL}, NULL};
        ak_attest_pins lp;
        EXPECT_OK(ak_attest_pins_parse(&ls, &lp));
        EXPECT_ERR(AK_E_ATTEST_MODE_MISMATCH, ak_attest_reply_verify(ak_buf_cur(&reply), &lp, &ch, &why));
        ak_buf_free(&nonce);
        ak_buf_free(&reply);
        ak_buf_free(&doc);
        ak_buf_free(&f);
        json_decref(j);
    }
}

/* ---------------------------------------------------------------- the test PKI, end to end */

typedef struct s_env {
    nf_pki pki, other;
    ak_attest_pins pins;
    uint8_t tls_pub[65], nonce[32], m[48];
    int64_t now_ms;
    ak_buf doc, reply;
} s_env;

static void s_env_up(s_env *e) {
    memset(e, 0, sizeof(*e));
    e->now_ms = 1800000000000;
    nf_pki_init(&e->other, 2, e->now_ms / 1000);
    nf_pki_init(&e->pki, 1, e->now_ms / 1000);
    s_write_root(&e->pki);
    ak_attest_settings s = {"nitro", NULL, g_m, {g_pcr0, g_pcr1, NULL, NULL}, g_root_path};
    assert_int_equal(ak_attest_pins_parse(&s, &e->pins), AK_OK);
    unlink(g_root_path);
    uint8_t priv[32];
    assert_int_equal(ak_p256_keygen(priv, e->tls_pub), AK_OK);
    memset(e->nonce, 0x33, sizeof(e->nonce));
    memset(e->m, 0x4d, sizeof(e->m));
    ak_buf_init(&e->doc, AK_NITRO_MAX_DOC);
    ak_buf_init(&e->reply, AK_ATTEST_MAX_REPLY);
}

static void s_env_down(s_env *e) {
    nf_pki_free(&e->pki);
    nf_pki_free(&e->other);
    ak_buf_free(&e->doc);
    ak_buf_free(&e->reply);
}

/* What the signer would send for this challenge: the binding of ak/attest.h. */
static uint8_t g_spki[AK_ATTEST_TLS_SPKI_LEN], g_ud[AK_ATTEST_NITRO_USER_DATA_LEN];
static nf_doc_opts s_good_opts(const s_env *e, int64_t ts_ms) {
    nf_doc_opts o = nf_opts((uint64_t)ts_ms);
    ak_attest_tls_spki(e->tls_pub, g_spki);
    ak_attest_nitro_user_data(e->m, g_ud);
    o.nonce = ak_cur_from(e->nonce, sizeof(e->nonce));
    o.public_key = ak_cur_from(g_spki, sizeof(g_spki));
    o.user_data = ak_cur_from(g_ud, sizeof(g_ud));
    return o;
}

static ak_err s_check(s_env *e, const nf_pki *pki, const nf_doc_opts *o, const char **why) {
    ak_buf_clear(&e->doc);
    nf_doc(pki, o, &e->doc);
    s_reply(&e->reply, "nitro", ak_buf_cur(&e->doc));
    ak_attest_challenge ch = {e->nonce, sizeof(e->nonce), e->tls_pub, e->now_ms, 0};
    return ak_attest_reply_verify(ak_buf_cur(&e->reply), &e->pins, &ch, why);
}

AK_TEST(test_test_pki_success_and_mutations) {
    s_env e;
    s_env_up(&e);
    const char *why = "unset";
    nf_doc_opts o = s_good_opts(&e, e.now_ms - 1500);
    EXPECT_OK(s_check(&e, &e.pki, &o, &why));
    EXPECT_TRUE(why == NULL);
    /* COSE tag 18 too; and without a pinned measurement (the tag is still required) */
    o.tagged = true;
    EXPECT_OK(s_check(&e, &e.pki, &o, &why));
    o.tagged = false;
    ak_attest_pins keep = e.pins;
    e.pins.have_measurement = false;
    EXPECT_OK(s_check(&e, &e.pki, &o, &why));
    uint8_t wrong_ud[AK_ATTEST_NITRO_USER_DATA_LEN];
    memcpy(wrong_ud, g_ud, sizeof(wrong_ud));
    wrong_ud[0] ^= 1; /* another purpose tag */
    o.user_data = ak_cur_from(wrong_ud, sizeof(wrong_ud));
    EXPECT_ERR(AK_E_ATTEST_USER_DATA_MISMATCH, s_check(&e, &e.pki, &o, &why));
    o.user_data = ak_cur_from(g_ud, 16); /* the tag alone */
    EXPECT_ERR(AK_E_ATTEST_USER_DATA_MISMATCH, s_check(&e, &e.pki, &o, &why));
    e.pins = keep;

    /* each binding and policy check, with its own reason */
    struct {
        const char *name;
        ak_err want;
    } cases[] = {
        {"nonce", AK_E_ATTEST_NONCE_MISMATCH},
        {"nonce null", AK_E_ATTEST_NONCE_MISMATCH},
        {"public key", AK_E_ATTEST_PUBLIC_KEY_MISMATCH},
        {"public key raw point", AK_E_ATTEST_PUBLIC_KEY_MISMATCH},
        {"measurement", AK_E_ATTEST_USER_DATA_MISMATCH},
        {"user data null", AK_E_ATTEST_USER_DATA_MISMATCH},
        {"pcr0", AK_E_ATTEST_PCR_MISMATCH},
        {"pcr1", AK_E_ATTEST_PCR_MISMATCH},
        {"stale", AK_E_ATTEST_STALE},
        {"future", AK_E_ATTEST_STALE},
        {"leaf expired", AK_E_ATTEST_CERT_EXPIRED},
        {"signed by another key", AK_E_ATTEST_SIGNATURE_INVALID},
        {"another root", AK_E_ATTEST_ROOT_MISMATCH},
    };
    uint8_t other_nonce[32], other_m[48];
    memset(other_nonce, 0x34, sizeof(other_nonce));
    memset(other_m, 0x4e, sizeof(other_m));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nf_doc_opts m = s_good_opts(&e, e.now_ms - 1500);
        const nf_pki *pki = &e.pki;
        uint8_t ud[AK_ATTEST_NITRO_USER_DATA_LEN];
        switch (i) {
            case 0:
                m.nonce = ak_cur_from(other_nonce, sizeof(other_nonce));
                break;
            case 1:
                m.nonce = ak_cur_from(NULL, 0);
                break;
            case 2:
                g_spki[40] ^= 1;
                break;
            case 3:
                m.public_key = ak_cur_from(e.tls_pub, 65);
                break;
            case 4:
                ak_attest_nitro_user_data(other_m, ud);
                m.user_data = ak_cur_from(ud, sizeof(ud));
                break;
            case 5:
                m.user_data = ak_cur_from(NULL, 0);
                break;
            case 6:
                m.pcr[0][47] ^= 1;
                break;
            case 7:
                m.pcr[1][0] ^= 1;
                break;
            case 8:
                m.timestamp_ms = (uint64_t)(e.now_ms - AK_ATTEST_DEFAULT_MAX_AGE_MS - 1);
                break;
            case 9:
                m.timestamp_ms = (uint64_t)(e.now_ms + AK_ATTEST_DEFAULT_MAX_AGE_MS + 1);
                break;
            case 10:
                m.timestamp_ms = (uint64_t)(e.now_ms + 2 * 3600 * 1000);
                break;
            case 11:
                m.sign_with = &e.pki.inter;
                break;
            case 12:
                pki = &e.other;
                break;
        }
        ak_err got = s_check(&e, pki, &m, &why);
        if (got != cases[i].want)
            fail_msg("%s: got %s, want %s", cases[i].name, ak_err_reason(got), ak_err_reason(cases[i].want));
        EXPECT_STR_EQ(why, ak_err_reason(cases[i].want));
    }
    /* a byte flipped in the document (the nonce inside the signed payload) */
    o = s_good_opts(&e, e.now_ms - 1500);
    ak_buf_clear(&e.doc);
    nf_doc(&e.pki, &o, &e.doc);
    uint8_t *hit = memmem(e.doc.ptr, e.doc.len, e.nonce, sizeof(e.nonce));
    assert_non_null(hit);
    hit[5] ^= 0x80;
    s_reply(&e.reply, "nitro", ak_buf_cur(&e.doc));
    ak_attest_challenge ch = {e.nonce, sizeof(e.nonce), e.tls_pub, e.now_ms, 0};
    EXPECT_ERR(AK_E_ATTEST_SIGNATURE_INVALID,
               ak_attest_reply_verify(ak_buf_cur(&e.reply), &e.pins, &ch, &why));
    s_env_down(&e);
}

static ak_err s_p256_sign(void *ctx, ak_cur msg, uint8_t sig64[64]) {
    return ak_p256_sign_sha256(ctx, msg.ptr, msg.len, sig64);
}

AK_TEST(test_reply_shapes_and_mode_confusion) {
    s_env e;
    s_env_up(&e);
    const char *why;
    ak_attest_challenge ch = {e.nonce, sizeof(e.nonce), e.tls_pub, e.now_ms, 0};
    /* a valid local-mode JWS for this very challenge */
    uint8_t apriv[32], apub[65];
    EXPECT_OK(ak_p256_keygen(apriv, apub));
    ak_attest_claims c;
    memset(&c, 0, sizeof(c));
    memcpy(c.measurement, e.m, 48);
    memcpy(c.tls_pub, e.tls_pub, 65);
    memcpy(c.nonce, e.nonce, 32);
    c.nonce_len = 32;
    c.timestamp_ms = e.now_ms;
    ak_buf jws, reply;
    ak_buf_init(&jws, AK_ATTEST_MAX_DOC);
    ak_buf_init(&reply, AK_ATTEST_MAX_REPLY);
    EXPECT_OK(ak_attest_build(&c, s_p256_sign, apriv, &jws));
    char pub[131];
    ak_hex_encode(apub, 65, pub);
    ak_attest_settings ls = {NULL, pub, g_m, {NULL, NULL, NULL, NULL}, NULL};
    ak_attest_pins lp;
    EXPECT_OK(ak_attest_pins_parse(&ls, &lp));
    EXPECT_OK(ak_buf_printf(&reply, "{\"format\":\"local\",\"document\":\"%s\"}", ak_buf_cstr(&jws)));
    /* the local client accepts it (the default mode keeps working) ... */
    EXPECT_OK(ak_attest_reply_verify(ak_buf_cur(&reply), &lp, &ch, &why));
    /* ... a nitro client refuses it by its format, and also when it is relabelled "nitro" */
    EXPECT_ERR(AK_E_ATTEST_MODE_MISMATCH, ak_attest_reply_verify(ak_buf_cur(&reply), &e.pins, &ch, &why));
    EXPECT_STR_EQ(why, "attest_mode_mismatch");
    ak_buf_clear(&reply);
    EXPECT_OK(ak_buf_printf(&reply, "{\"format\":\"nitro\",\"document\":\"%s\"}", ak_buf_cstr(&jws)));
    EXPECT_ERR(AK_E_ATTEST_CBOR_MALFORMED, ak_attest_reply_verify(ak_buf_cur(&reply), &e.pins, &ch, &why));
    /* a good nitro reply relabelled "local" reaches a local client as a JWS: refused */
    nf_doc_opts o = s_good_opts(&e, e.now_ms);
    nf_doc(&e.pki, &o, &e.doc);
    s_reply(&reply, "nitro", ak_buf_cur(&e.doc));
    EXPECT_OK(ak_attest_reply_verify(ak_buf_cur(&reply), &e.pins, &ch, &why));
    EXPECT_ERR(AK_E_ATTEST_MODE_MISMATCH, ak_attest_reply_verify(ak_buf_cur(&reply), &lp, &ch, &why));
    s_reply(&reply, "local", ak_buf_cur(&e.doc));
    EXPECT_ERR(AK_E_ATTESTATION_INVALID, ak_attest_reply_verify(ak_buf_cur(&reply), &lp, &ch, &why));
    EXPECT_ERR(AK_E_ATTEST_MODE_MISMATCH, ak_attest_reply_verify(ak_buf_cur(&reply), &e.pins, &ch, &why));
    /* reply shapes: not JSON, no format (the old server's reply), extra member, wrong types */
    static const char *const bad[] = {"",
                                      "[]",
                                      "{\"document\":\"AAAA\"}",
                                      "{\"format\":\"nitro\",\"document\":\"AAAA\",\"x\":1}",
                                      "{\"format\":1,\"document\":\"AAAA\"}",
                                      "{\"format\":\"nitro\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(AK_E_ATTESTATION_INVALID,
                   ak_attest_reply_verify(ak_cur_from_str(bad[i]), &e.pins, &ch, &why));
    EXPECT_ERR(
        AK_E_ATTEST_MODE_MISMATCH,
        ak_attest_reply_verify(AK_CUR_LIT("{\"format\":\"sev\",\"document\":\"AAAA\"}"), &e.pins, &ch, &why));
    /* document: not base64, not CBOR, larger than any NSM document */
    EXPECT_ERR(AK_E_ATTEST_CBOR_MALFORMED,
               ak_attest_reply_verify(AK_CUR_LIT("{\"format\":\"nitro\",\"document\":\"@@@@\"}"), &e.pins,
                                      &ch, &why));
    EXPECT_ERR(
        AK_E_ATTEST_CBOR_MALFORMED,
        ak_attest_reply_verify(AK_CUR_LIT("{\"format\":\"nitro\",\"document\":\"\"}"), &e.pins, &ch, &why));
    ak_buf big;
    ak_buf_init(&big, AK_NITRO_MAX_DOC + 16);
    for (size_t i = 0; i < AK_NITRO_MAX_DOC + 3; i++)
        EXPECT_OK(ak_buf_append_byte(&big, 0x84));
    s_reply(&reply, "nitro", ak_buf_cur(&big));
    EXPECT_ERR(AK_E_TOO_LARGE, ak_attest_reply_verify(ak_buf_cur(&reply), &e.pins, &ch, &why));
    ak_buf_free(&big);
    ak_buf_free(&jws);
    ak_buf_free(&reply);
    s_env_down(&e);
}

AK_RUN_TESTS(AK_T(test_pins_settings), AK_T(test_binding_encodings),
             AK_T(test_public_vectors_through_the_client_path), AK_T(test_test_pki_success_and_mutations),
             AK_T(test_reply_shapes_and_mode_confusion))
