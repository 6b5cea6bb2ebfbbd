/* cap_test.c — cap tokens: K10 PoP (with an independent vector), the mint request, claims,
 * signing, and the worker's verification in D11 order with every failure's exact reason. */
#include "test.h"

#include "ak/cap.h"
#include "ak/crypto.h"
#include "ak/json.h"

/* K10 secret key 1: address 0x7e5f4552091a69125d5dfcb7b8c2659029395bdf. */
static const uint8_t s_k10[32] = {[31] = 1};
static const uint8_t s_k10_other[32] = {[31] = 2};
#define NOW 1760000000ull

static void s_hex(const char *hex, uint8_t *out, size_t n) {
    if (ak_hex_decode_exact(ak_cur_from_str(hex), true, out, n) != AK_OK) fail_msg("bad hex in test");
}

static void s_dkh(const uint8_t sk[32], uint8_t dkh[32]) {
    uint8_t pub[65], addr[20];
    EXPECT_OK(ak_secp256k1_pubkey(sk, pub));
    ak_eth_address_from_pub(pub, addr);
    ak_device_key_hash(addr, dkh);
}

static ak_cap_pop_msg s_msg(void) {
    ak_cap_pop_msg m;
    memset(&m, 0, sizeof(m));
    memset(m.operator_omni.b, 0x11, 32);
    memset(m.actor_omni.b, 0x22, 32);
    m.service = AK_CUR_LIT("openrouter");
    m.op = AK_OP_FETCH;
    m.data_class = AK_CLASS_CREDENTIALS;
    m.client_nonce = AK_CUR_LIT("00112233445566778899aabbccddeeff");
    m.client_ts = NOW;
    return m;
}

/*
 * Independent vector (foundry's cast, RFC 6979 like libsecp256k1):
 *   svc=$(cast keccak openrouter)
 *   m=$(cast keccak "agentkeys-cap-pop:v1:11…11:22…22:${svc#0x}:fetch:credentials:00112233445566778899aabbccddeeff:1760000000")
 *   cast wallet sign --private-key 0x…01 $m        # EIP-191 over the 32 bytes of m
 *   cast keccak 0x7e5f4552091a69125d5dfcb7b8c2659029395bdf   # device_key_hash
 */
AK_TEST(test_pop_vector) {
    ak_cap_pop_msg m = s_msg();
    ak_buf pre;
    ak_buf_init(&pre, 1024);
    EXPECT_OK(ak_cap_pop_preimage(&m, &pre));
    EXPECT_STR_EQ(ak_buf_cstr(&pre),
                  "agentkeys-cap-pop:v1:1111111111111111111111111111111111111111111111111111111111111111:"
                  "2222222222222222222222222222222222222222222222222222222222222222:"
                  "9d7e3ece28d263e0a6e678cbd132b82021f93a63ae6e7daadf937b2ed9a1e901:fetch:credentials:"
                  "00112233445566778899aabbccddeeff:1760000000");
    ak_buf_free(&pre);
    uint8_t d[32], want[32];
    EXPECT_OK(ak_cap_pop_digest(&m, d));
    s_hex("0x983ec2bffa419d3bd39c251dac7b2db3881cfd646161d812ff3650ff39622d99", want, 32);
    EXPECT_BYTES_EQ(d, 32, want, 32);
    uint8_t sig[65], want_sig[65];
    EXPECT_OK(ak_cap_pop_sign(s_k10, &m, sig));
    s_hex("0x28b16808f957d2bcc50276a8be8f7cee0b09f9842546e9e6482015753ae23b235117b25d0cf13a01d73cdb7e5597be28"
          "ecf71510161ac3"
          "168f9399967edf81c21c",
          want_sig, 65);
    EXPECT_BYTES_EQ(sig, 65, want_sig, 65);
    uint8_t dkh[32];
    s_hex("0x3322f33946a3c503c916c8fc29768a547f01fa665e1eb22f9f66cf7e5a262012", dkh, 32);
    EXPECT_OK(ak_cap_pop_verify(&m, sig, dkh, NOW));
}

AK_TEST(test_pop_rejects) {
    ak_cap_pop_msg m = s_msg();
    uint8_t sig[65], dkh[32], other_dkh[32];
    EXPECT_OK(ak_cap_pop_sign(s_k10, &m, sig));
    s_dkh(s_k10, dkh);
    s_dkh(s_k10_other, other_dkh);
    /* freshness window: 300 s past, 60 s future */
    EXPECT_OK(ak_cap_pop_verify(&m, sig, dkh, NOW + 300));
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&m, sig, dkh, NOW + 301));
    EXPECT_OK(ak_cap_pop_verify(&m, sig, dkh, NOW - 60));
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&m, sig, dkh, NOW - 61));
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&m, sig, dkh, 0));
    /* another device */
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&m, sig, other_dkh, NOW));
    /* every signed field is bound */
    ak_cap_pop_msg x;
    x = m;
    x.operator_omni.b[0] ^= 1;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    x = m;
    x.actor_omni.b[31] ^= 1;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    x = m;
    x.service = AK_CUR_LIT("openrouter2");
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    x = m;
    x.op = AK_OP_STORE;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    x = m;
    x.op = AK_OP_TEARDOWN;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    x = m;
    x.data_class = AK_CLASS_MEMORY;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    x = m;
    x.client_nonce = AK_CUR_LIT("00112233445566778899aabbccddeefe");
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    x = m;
    x.client_ts = NOW + 1;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    /* malformed message parts are PoP failures at verify, input errors at build */
    x = m;
    x.client_nonce = AK_CUR_LIT("short");
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    x = m;
    x.client_nonce = AK_CUR_LIT("0011223344556677:899aabbccddeeff");
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    uint8_t d[32];
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cap_pop_digest(&x, d));
    x = m;
    x.service = AK_CUR_LIT("OpenRouter");
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_cap_pop_digest(&x, d));
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&x, sig, dkh, NOW));
    /* v: 0/1 accepted like 27/28; other v, flipped bits, high s refused */
    uint8_t s2[65];
    memcpy(s2, sig, 65);
    s2[64] = (uint8_t)(sig[64] - 27);
    EXPECT_OK(ak_cap_pop_verify(&m, s2, dkh, NOW));
    s2[64] = 29;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&m, s2, dkh, NOW));
    for (size_t bit = 0; bit < 64 * 8; bit += 7) {
        memcpy(s2, sig, 65);
        s2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&m, s2, dkh, NOW));
    }
    /* s' = n - s with the other recovery id recovers the same key but is high-s (EIP-2) */
    static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                  0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    memcpy(s2, sig, 65);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int v = (int)n[i] - (int)sig[32 + i] - borrow;
        borrow = v < 0;
        s2[32 + i] = (uint8_t)(v + (borrow ? 256 : 0));
    }
    s2[64] = (uint8_t)(sig[64] == 27 ? 28 : 27);
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_pop_verify(&m, s2, dkh, NOW));
}

AK_TEST(test_ttl_and_nonce_rules) {
    EXPECT_INT_EQ(ak_cap_ttl(false, 0), 300);
    EXPECT_INT_EQ(ak_cap_ttl(false, 5000), 300);
    EXPECT_INT_EQ(ak_cap_ttl(true, 0), 60);
    EXPECT_INT_EQ(ak_cap_ttl(true, 59), 60);
    EXPECT_INT_EQ(ak_cap_ttl(true, 60), 60);
    EXPECT_INT_EQ(ak_cap_ttl(true, 900), 900);
    EXPECT_INT_EQ(ak_cap_ttl(true, 1800), 1800);
    EXPECT_INT_EQ(ak_cap_ttl(true, 1801), 1800);
    EXPECT_INT_EQ(ak_cap_ttl(true, UINT64_MAX), 1800);
    EXPECT_OK(ak_cap_nonce_validate(AK_CUR_LIT("0123456789abcdef")));
    EXPECT_OK(ak_cap_nonce_validate(
        AK_CUR_LIT("AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cap_nonce_validate(AK_CUR_LIT("0123456789abcde")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cap_nonce_validate(AK_CUR_LIT(
                                       "AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-x")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cap_nonce_validate(AK_CUR_LIT("0123456789abcdef ")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cap_nonce_validate(AK_CUR_LIT("0123456789abcdef:")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cap_nonce_validate(AK_CUR_LIT("0123456789abcdef.")));
}

/* ---- request ---- */

static void s_request_body(ak_buf *out, const char *extra) {
    ak_cap_pop_msg m = s_msg();
    uint8_t sig[65], dkh[32];
    EXPECT_OK(ak_cap_pop_sign(s_k10, &m, sig));
    s_dkh(s_k10, dkh);
    char sig_hex[131], dkh_hex[65];
    ak_hex_encode(sig, 65, sig_hex);
    ak_hex_encode(dkh, 32, dkh_hex);
    ak_buf_init(out, 4096);
    EXPECT_OK(ak_buf_printf(out,
                            "{\"operator_omni\":\"0x%s\",\"actor_omni\":\"%s\",\"service\":\"openrouter\","
                            "\"device_key_hash\":\"0x%s\",\"client_sig\":\"0x%s\",\"client_nonce\":"
                            "\"00112233445566778899aabbccddeeff\",\"client_ts\":1760000000%s}",
                            "1111111111111111111111111111111111111111111111111111111111111111",
                            "2222222222222222222222222222222222222222222222222222222222222222", dkh_hex,
                            sig_hex, extra ? extra : ""));
}

AK_TEST(test_request_parse) {
    ak_buf body;
    s_request_body(&body, NULL);
    ak_cap_request r;
    EXPECT_OK(ak_cap_request_parse(ak_buf_cur(&body), &r));
    EXPECT_INT_EQ(r.operator_omni.b[0], 0x11);
    EXPECT_INT_EQ(r.actor_omni.b[31], 0x22);
    EXPECT_STR_EQ(r.service, "openrouter");
    EXPECT_INT_EQ(r.ttl_seconds, 300);
    EXPECT_INT_EQ(r.pop.ts, NOW);
    EXPECT_STR_EQ(r.pop.nonce, "00112233445566778899aabbccddeeff");
    ak_cap_pop_msg m = s_msg();
    EXPECT_OK(ak_cap_pop_verify(&m, r.pop.sig, r.device_key_hash, NOW));
    ak_buf_free(&body);
    s_request_body(&body, ",\"ttl_seconds\":5000");
    EXPECT_OK(ak_cap_request_parse(ak_buf_cur(&body), &r));
    EXPECT_INT_EQ(r.ttl_seconds, 1800);
    ak_buf_free(&body);
    s_request_body(&body, ",\"ttl_seconds\":null");
    EXPECT_OK(ak_cap_request_parse(ak_buf_cur(&body), &r));
    EXPECT_INT_EQ(r.ttl_seconds, 300);
    ak_buf_free(&body);

    static const struct {
        const char *extra;
        ak_err want;
    } bad_extra[] = {
        {",\"data_class\":\"memory\"", AK_E_UNKNOWN_FIELD},
        {",\"op\":\"teardown\"", AK_E_UNKNOWN_FIELD},
        {",\"ttl_seconds\":\"300\"", AK_E_WRONG_TYPE},
        {",\"ttl_seconds\":-1", AK_E_INVALID_INPUT},
        {",\"ttl_seconds\":1.5", AK_E_WRONG_TYPE},
        {",\"client_ts\":1", AK_E_INVALID_JSON}, /* duplicate member */
    };
    for (size_t i = 0; i < sizeof(bad_extra) / sizeof(bad_extra[0]); i++) {
        s_request_body(&body, bad_extra[i].extra);
        EXPECT_ERR(bad_extra[i].want, ak_cap_request_parse(ak_buf_cur(&body), &r));
        ak_buf_free(&body);
    }
    /* field-level replacements of a good body */
    static const struct {
        const char *from, *to;
        ak_err want;
    } subs[] = {
        {"\"service\":\"openrouter\"", "\"service\":\"OpenRouter\"", AK_E_INVALID_SERVICE},
        {"\"service\":\"openrouter\"", "\"service\":\"\"", AK_E_INVALID_SERVICE},
        {"\"service\":\"openrouter\"", "\"service\":\"credentials:x\"", AK_E_INVALID_SERVICE},
        {"\"service\":\"openrouter\"", "\"service\":7", AK_E_WRONG_TYPE},
        {"\"service\":\"openrouter\",", "", AK_E_MISSING_FIELD},
        {"\"operator_omni\":\"0x11", "\"operator_omni\":\"0x1", AK_E_INVALID_OMNI},
        {"\"operator_omni\":\"0x11", "\"operator_omni\":\"0xzz", AK_E_INVALID_OMNI},
        {"\"actor_omni\":\"22", "\"actor_omni\":\"0x2", AK_E_INVALID_OMNI},
        {"\"device_key_hash\":\"0x", "\"device_key_hash\":\"0x00", AK_E_BAD_HEX},
        {"\"client_sig\":\"0x", "\"client_sig\":\"0x00", AK_E_BAD_HEX},
        {"\"client_nonce\":\"00112233445566778899aabbccddeeff\"", "\"client_nonce\":\"abc\"",
         AK_E_INVALID_INPUT},
        {"\"client_ts\":1760000000", "\"client_ts\":\"1760000000\"", AK_E_WRONG_TYPE},
        {"\"client_ts\":1760000000", "\"client_ts\":-5", AK_E_INVALID_INPUT},
    };
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        s_request_body(&body, NULL);
        const char *txt = ak_buf_cstr(&body);
        const char *at = strstr(txt, subs[i].from);
        if (at == NULL) fail_msg("sub %zu not found", i);
        ak_buf mod;
        ak_buf_init(&mod, 4096);
        EXPECT_OK(ak_buf_append(&mod, txt, (size_t)(at - txt)));
        EXPECT_OK(ak_buf_append_str(&mod, subs[i].to));
        EXPECT_OK(ak_buf_append_str(&mod, at + strlen(subs[i].from)));
        ak_err rc = ak_cap_request_parse(ak_buf_cur(&mod), &r);
        if (rc != subs[i].want)
            fail_msg("sub %zu: %s, want %s", i, ak_err_reason(rc), ak_err_reason(subs[i].want));
        ak_buf_free(&mod);
        ak_buf_free(&body);
    }
    EXPECT_ERR(AK_E_INVALID_JSON, ak_cap_request_parse(AK_CUR_LIT("{"), &r));
    EXPECT_ERR(AK_E_WRONG_TYPE, ak_cap_request_parse(AK_CUR_LIT("[]"), &r));
    EXPECT_ERR(AK_E_MISSING_FIELD, ak_cap_request_parse(AK_CUR_LIT("{}"), &r));
}

/* ---- mint and verify ---- */

typedef struct {
    uint8_t priv[32];
    ak_jwks jwks; /* kid "cap-1" = priv's public key, plus an unrelated "cap-0" */
    uint8_t other_priv[32];
} s_keys;

static void s_keys_init(s_keys *k) {
    memset(k, 0, sizeof(*k));
    uint8_t pub[65];
    EXPECT_OK(ak_p256_keygen(k->other_priv, pub));
    memcpy(k->jwks.keys[0].pub65, pub, 65);
    memcpy(k->jwks.keys[0].kid, "cap-0", 6);
    EXPECT_OK(ak_p256_keygen(k->priv, pub));
    memcpy(k->jwks.keys[1].pub65, pub, 65);
    memcpy(k->jwks.keys[1].kid, "cap-1", 6);
    k->jwks.n = 2;
}

/* A request as the broker would have it after parsing (PoP by s_k10 unless k10 given). */
static ak_cap_request s_req(const uint8_t *k10, ak_op op, ak_data_class dc, const char *service,
                            uint64_t ts) {
    ak_cap_request r;
    memset(&r, 0, sizeof(r));
    memset(r.operator_omni.b, 0x11, 32);
    memset(r.actor_omni.b, 0x22, 32);
    r.service_len = strlen(service);
    memcpy(r.service, service, r.service_len);
    s_dkh(s_k10, r.device_key_hash);
    r.ttl_seconds = 300;
    memcpy(r.pop.nonce, "00112233445566778899aabbccddeeff", 32);
    r.pop.nonce_len = 32;
    r.pop.ts = ts;
    ak_cap_pop_msg m;
    m.operator_omni = r.operator_omni;
    m.actor_omni = r.actor_omni;
    m.service = ak_cur_from(r.service, r.service_len);
    m.op = op;
    m.data_class = dc;
    m.client_nonce = ak_cur_from(r.pop.nonce, r.pop.nonce_len);
    m.client_ts = ts;
    EXPECT_OK(ak_cap_pop_sign(k10 ? k10 : s_k10, &m, r.pop.sig));
    return r;
}

static void s_mint(s_keys *k, const ak_cap_request *r, ak_op op, ak_data_class dc, uint64_t now, ak_buf *tok,
                   ak_cap_claims *c) {
    EXPECT_OK(ak_cap_claims_new(r, op, dc, 7, now, c));
    ak_buf_init(tok, AK_MAX_JWS);
    EXPECT_OK(ak_cap_sign(c, "cap-1", ak_jws_sign_local, k->priv, tok));
}

AK_TEST(test_mint_and_verify_round_trip) {
    s_keys k;
    s_keys_init(&k);
    ak_cap_request r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    ak_buf tok;
    ak_cap_claims c, v;
    s_mint(&k, &r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW, &tok, &c);
    EXPECT_INT_EQ(c.expires_at, NOW + 300);
    EXPECT_INT_EQ(strlen(c.jti), 32);
    EXPECT_INT_EQ(strlen(c.nonce), 32);
    EXPECT_TRUE(strcmp(c.jti, c.nonce) != 0);

    /* The header is exactly what D4 says. */
    ak_jws jws;
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&tok), &jws));
    EXPECT_TRUE(ak_cur_eq_str(jws.typ, "ak-cap+jwt"));
    EXPECT_TRUE(ak_cur_eq_str(jws.kid, "cap-1"));
    ak_buf claims_text;
    ak_buf_init(&claims_text, AK_MAX_JWS);
    EXPECT_OK(ak_json_dump(jws.claims, &claims_text));
    EXPECT_TRUE(ak_cur_starts_with(
        ak_buf_cur(&claims_text),
        AK_CUR_LIT(
            "{\"operator_omni\":\"0x1111111111111111111111111111111111111111111111111111111111111111\","
            "\"actor_omni\":\"0x2222222222222222222222222222222222222222222222222222222222222222\","
            "\"service\":\"openrouter\",\"op\":\"fetch\",\"data_class\":\"credentials\",")));
    ak_buf_free(&claims_text);
    ak_jws_free(&jws);

    ak_cap_expect x = {AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW + 10};
    EXPECT_OK(ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    EXPECT_TRUE(memcmp(&c, &v, sizeof(c)) == 0);
    EXPECT_INT_EQ(v.k3_epoch, 7);
    /* Worker decision: the PoP is judged at issued_at, so a cap stays usable for its ttl. */
    ak_buf_free(&tok);
    r.ttl_seconds = 1800;
    s_mint(&k, &r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW, &tok, &c);
    x.now = NOW + 1799;
    EXPECT_OK(ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    x.now = NOW + 1800;
    EXPECT_ERR(AK_E_CAP_EXPIRED, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    ak_buf_free(&tok);

    /* memory: the service is a namespace */
    r = s_req(NULL, AK_OP_STORE, AK_CLASS_MEMORY, "notes", NOW);
    s_mint(&k, &r, AK_OP_STORE, AK_CLASS_MEMORY, NOW, &tok, &c);
    ak_cap_expect xm = {AK_OP_STORE, AK_CLASS_MEMORY, NOW};
    EXPECT_OK(ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &xm, &v));
    EXPECT_TRUE(ak_cur_eq_str(ak_cap_service(&v), "notes"));
    ak_buf_free(&tok);
}

AK_TEST(test_claims_new_rejects) {
    ak_cap_request r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    ak_cap_claims c;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_MAIL, 1, NOW, &c));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_cap_claims_new(&r, (ak_op)(AK_OP_USE + 1), AK_CLASS_CREDENTIALS, 1, NOW, &c));
    r.service[0] = 'O';
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, 1, NOW, &c));
    EXPECT_ERR(AK_E_INVALID_NAMESPACE, ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_MEMORY, 1, NOW, &c));
    r.service[0] = 'o';
    r.pop.nonce[3] = ':';
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, 1, NOW, &c));
    r.pop.nonce[3] = '3';
    r.ttl_seconds = 0;
    EXPECT_OK(ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, 1, NOW, &c));
    EXPECT_INT_EQ(c.expires_at - c.issued_at, 300);
    r.ttl_seconds = 10;
    EXPECT_OK(ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, 1, NOW, &c));
    EXPECT_INT_EQ(c.expires_at - c.issued_at, 60);
}

AK_TEST(test_verify_signature_step) {
    s_keys k;
    s_keys_init(&k);
    ak_cap_request r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    ak_cap_claims c, v;
    ak_cap_expect x = {AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW};
    ak_buf tok;

    /* the right kid with another key's signature; an unknown kid; no kid */
    EXPECT_OK(ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, 7, NOW, &c));
    ak_buf_init(&tok, AK_MAX_JWS);
    EXPECT_OK(ak_cap_sign(&c, "cap-1", ak_jws_sign_local, k.other_priv, &tok));
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    ak_buf_clear(&tok);
    EXPECT_OK(ak_cap_sign(&c, "cap-9", ak_jws_sign_local, k.priv, &tok));
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    ak_buf_clear(&tok);
    json_t *o = NULL;
    EXPECT_OK(ak_cap_claims_to_json(&c, &o));
    EXPECT_OK(ak_jwt_sign_es256(NULL, AK_CAP_TYP, o, ak_jws_sign_local, k.priv, &tok));
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    ak_buf_clear(&tok);
    /* a good signature by the cap key on a token that is not a cap (typ JWT, or none) */
    EXPECT_OK(ak_jwt_sign_es256("cap-1", "JWT", o, ak_jws_sign_local, k.priv, &tok));
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    ak_buf_clear(&tok);
    EXPECT_OK(ak_jwt_sign_es256("cap-1", NULL, o, ak_jws_sign_local, k.priv, &tok));
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    ak_buf_clear(&tok);
    json_decref(o);

    /* a valid token, then every single-character change of it fails at step 1 */
    EXPECT_OK(ak_cap_sign(&c, "cap-1", ak_jws_sign_local, k.priv, &tok));
    EXPECT_OK(ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    for (size_t i = 0; i < tok.len; i += 3) {
        uint8_t save = tok.ptr[i];
        tok.ptr[i] = (uint8_t)(save == 'A' ? 'B' : 'A');
        EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
        tok.ptr[i] = save;
    }
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(ak_cur_from(tok.ptr, tok.len - 1), &k.jwks, &x, &v));
    /* a failed verify zeroes the claims */
    EXPECT_INT_EQ(v.issued_at, 0);
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(AK_CUR_LIT(""), &k.jwks, &x, &v));
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID,
               ak_cap_verify(AK_CUR_LIT("eyJhbGciOiJub25lIn0.e30."), &k.jwks, &x, &v));
    /* signature failures win over every later step (D11 order) */
    ak_cap_expect late = {AK_OP_STORE, AK_CLASS_MEMORY, NOW + 100000};
    tok.ptr[tok.len - 2] = (uint8_t)(tok.ptr[tok.len - 2] == 'A' ? 'B' : 'A');
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &late, &v));
    ak_buf_free(&tok);
}

/* The verified-signature cache (issue 19): a hit skips only the P-256 verify of the exact same
 * bytes; every later step still runs; a changed byte, an expired entry or a cleared cache
 * (key reload) verifies again. The hit is proven by swapping the key set's public key for another
 * key under the same kid: a cached token still passes, an uncached one cannot. */
AK_TEST(test_sig_cache) {
    s_keys k;
    s_keys_init(&k);
    ak_cap_claims c, v;
    ak_buf tok;
    ak_cap_sig_cache cache;
    ak_cap_sig_cache_clear(&cache);
    ak_cap_request r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    s_mint(&k, &r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW, &tok, &c);
    ak_cap_expect x = {AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW};
    EXPECT_OK(ak_cap_verify_cached(ak_buf_cur(&tok), &k.jwks, &x, &cache, &v));
    EXPECT_INT_EQ(cache.verifies, 1);
    EXPECT_INT_EQ(cache.hits, 0);
    EXPECT_OK(ak_cap_verify_cached(ak_buf_cur(&tok), &k.jwks, &x, &cache, &v));
    EXPECT_INT_EQ(cache.verifies, 1);
    EXPECT_INT_EQ(cache.hits, 1);
    /* the key behind kid cap-1 replaced: the cached bytes pass, any other token cannot */
    ak_jwks swapped = k.jwks;
    uint8_t other_pub[65];
    EXPECT_OK(ak_p256_pub_from_priv(k.other_priv, other_pub));
    memcpy(swapped.keys[1].pub65, other_pub, 65); /* keys[1] is kid cap-1 */
    EXPECT_OK(ak_cap_verify_cached(ak_buf_cur(&tok), &swapped, &x, &cache, &v));
    uint8_t save = tok.ptr[tok.len - 3];
    tok.ptr[tok.len - 3] = (uint8_t)(save == 'A' ? 'B' : 'A');
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify_cached(ak_buf_cur(&tok), &k.jwks, &x, &cache, &v));
    tok.ptr[tok.len - 3] = save;
    /* later steps still run on a hit: op, class, freshness */
    ak_cap_expect bad = x;
    bad.op = AK_OP_STORE;
    EXPECT_ERR(AK_E_CAP_OP_MISMATCH, ak_cap_verify_cached(ak_buf_cur(&tok), &k.jwks, &bad, &cache, &v));
    bad = x;
    bad.data_class = AK_CLASS_MEMORY;
    EXPECT_ERR(AK_E_CAP_DATA_CLASS_MISMATCH,
               ak_cap_verify_cached(ak_buf_cur(&tok), &k.jwks, &bad, &cache, &v));
    bad = x;
    bad.now = c.expires_at; /* an entry is no hit once its token expired: verified again, then refused */
    EXPECT_ERR(AK_E_CAP_EXPIRED, ak_cap_verify_cached(ak_buf_cur(&tok), &k.jwks, &bad, &cache, &v));
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify_cached(ak_buf_cur(&tok), &swapped, &bad, &cache, &v));
    /* a cleared cache (the worker clears it on every key reload) verifies again */
    ak_cap_sig_cache_clear(&cache);
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, ak_cap_verify_cached(ak_buf_cur(&tok), &swapped, &x, &cache, &v));
    EXPECT_INT_EQ(cache.hits, 0);
    /* more distinct tokens than slots: all verify, the cache stays bounded */
    for (unsigned i = 0; i < AK_CAP_SIG_CACHE_N + 8u; i++) {
        ak_buf t2;
        ak_cap_claims c2;
        ak_cap_request r2 = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
        s_mint(&k, &r2, AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW, &t2, &c2);
        EXPECT_OK(ak_cap_verify_cached(ak_buf_cur(&t2), &k.jwks, &x, &cache, &v));
        ak_buf_free(&t2);
    }
    EXPECT_INT_EQ(cache.verifies, AK_CAP_SIG_CACHE_N + 8u);
    ak_buf_free(&tok);
}

AK_TEST(test_verify_order_after_signature) {
    s_keys k;
    s_keys_init(&k);
    ak_cap_claims c, v;
    ak_buf tok;
    /* A cap whose PoP is by another K10 than its device_key_hash (a broker bug or forgery). */
    ak_cap_request r = s_req(s_k10_other, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    s_mint(&k, &r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW, &tok, &c);
    ak_cap_expect x = {AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW};
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    /* data class before PoP */
    x.data_class = AK_CLASS_MEMORY;
    EXPECT_ERR(AK_E_CAP_DATA_CLASS_MISMATCH, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    /* op before data class */
    x.op = AK_OP_TEARDOWN;
    EXPECT_ERR(AK_E_CAP_OP_MISMATCH, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    x.op = AK_OP_STORE;
    EXPECT_ERR(AK_E_CAP_OP_MISMATCH, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    /* freshness before op */
    x.now = NOW + 300;
    EXPECT_ERR(AK_E_CAP_EXPIRED, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    x.now = NOW - 61;
    EXPECT_ERR(AK_E_CAP_EXPIRED, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    ak_buf_free(&tok);

    /* freshness edges on a good cap */
    r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    s_mint(&k, &r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW, &tok, &c);
    ak_cap_expect g = {AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW - 60};
    EXPECT_OK(ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &g, &v));
    g.now = NOW + 299;
    EXPECT_OK(ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &g, &v));
    g.now = NOW + 300;
    EXPECT_ERR(AK_E_CAP_EXPIRED, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &g, &v));
    ak_buf_free(&tok);

    /* a PoP that was stale when the cap was minted (broker bug) is caught at the worker */
    r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW - 301);
    s_mint(&k, &r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW, &tok, &c);
    g.now = NOW;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &g, &v));
    ak_buf_free(&tok);
    /* a PoP for another op than the cap's (signed for fetch, cap says store) */
    r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    s_mint(&k, &r, AK_OP_STORE, AK_CLASS_CREDENTIALS, NOW, &tok, &c);
    g.op = AK_OP_STORE;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &g, &v));
    ak_buf_free(&tok);
}

/* Signs a modified claims object with the right key and typ: only the schema step can object. */
static ak_err s_verify_modified(s_keys *k, void (*mod)(json_t *o), ak_cap_claims *v) {
    ak_cap_request r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    ak_cap_claims c;
    EXPECT_OK(ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, 7, NOW, &c));
    json_t *o = NULL;
    EXPECT_OK(ak_cap_claims_to_json(&c, &o));
    mod(o);
    ak_buf tok;
    ak_buf_init(&tok, AK_MAX_JWS);
    EXPECT_OK(ak_jwt_sign_es256("cap-1", AK_CAP_TYP, o, ak_jws_sign_local, k->priv, &tok));
    json_decref(o);
    ak_cap_expect x = {AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW};
    ak_err rc = ak_cap_verify(ak_buf_cur(&tok), &k->jwks, &x, v);
    ak_buf_free(&tok);
    return rc;
}

static void m_none(json_t *o) { (void)o; }
static void m_extra(json_t *o) { json_object_set_new(o, "exp", json_integer(1)); }
static void m_no_jti(json_t *o) { json_object_del(o, "jti"); }
static void m_no_pop(json_t *o) { json_object_del(o, "pop"); }
static void m_pop_extra(json_t *o) { json_object_set_new(json_object_get(o, "pop"), "x", json_true()); }
static void m_pop_sig_short(json_t *o) {
    json_object_set_new(json_object_get(o, "pop"), "sig", json_string("0x00"));
}
static void m_upper_omni(json_t *o) {
    json_object_set_new(o, "actor_omni",
                        json_string("0x2222222222222222222222222222222222222222222222222222222222222222"));
    json_object_set_new(o, "operator_omni",
                        json_string("0xAAAA111111111111111111111111111111111111111111111111111111111111"));
}
static void m_bare_omni(json_t *o) {
    json_object_set_new(o, "actor_omni",
                        json_string("2222222222222222222222222222222222222222222222222222222222222222"));
}
static void m_epoch_big(json_t *o) { json_object_set_new(o, "k3_epoch", json_integer(4294967296LL)); }
static void m_epoch_str(json_t *o) { json_object_set_new(o, "k3_epoch", json_string("7")); }
static void m_ttl_long(json_t *o) {
    json_object_set_new(o, "expires_at", json_integer((json_int_t)NOW + 1801));
}
static void m_ttl_short(json_t *o) {
    json_object_set_new(o, "expires_at", json_integer((json_int_t)NOW + 59));
}
static void m_ttl_neg(json_t *o) { json_object_set_new(o, "expires_at", json_integer((json_int_t)NOW - 1)); }
static void m_service_upper(json_t *o) { json_object_set_new(o, "service", json_string("OpenRouter")); }
static void m_class_mail(json_t *o) { json_object_set_new(o, "data_class", json_string("mail")); }
static void m_op_put(json_t *o) { json_object_set_new(o, "op", json_string("put")); }
static void m_nonce_upper(json_t *o) {
    json_object_set_new(o, "jti", json_string("00112233445566778899AABBCCDDEEFF"));
}
static void m_pop_nonce_colon(json_t *o) {
    json_object_set_new(json_object_get(o, "pop"), "nonce", json_string("00112233:44556677"));
}
static void m_dkh_short(json_t *o) { json_object_set_new(o, "device_key_hash", json_string("0x33")); }

AK_TEST(test_verify_claims_schema) {
    s_keys k;
    s_keys_init(&k);
    ak_cap_claims v;
    EXPECT_OK(s_verify_modified(&k, m_none, &v));
    static const struct {
        void (*mod)(json_t *);
        ak_err want;
    } cases[] = {
        {m_extra, AK_E_TOKEN_CLAIMS},
        {m_no_jti, AK_E_TOKEN_CLAIMS},
        {m_no_pop, AK_E_TOKEN_CLAIMS},
        {m_pop_extra, AK_E_TOKEN_CLAIMS},
        {m_pop_sig_short, AK_E_TOKEN_CLAIMS},
        {m_upper_omni, AK_E_TOKEN_CLAIMS},
        {m_bare_omni, AK_E_TOKEN_CLAIMS},
        {m_epoch_big, AK_E_TOKEN_CLAIMS},
        {m_epoch_str, AK_E_TOKEN_CLAIMS},
        {m_ttl_long, AK_E_TOKEN_CLAIMS},
        {m_ttl_short, AK_E_TOKEN_CLAIMS},
        {m_ttl_neg, AK_E_TOKEN_CLAIMS},
        {m_service_upper, AK_E_INVALID_SERVICE},
        {m_class_mail, AK_E_TOKEN_CLAIMS},
        {m_op_put, AK_E_TOKEN_CLAIMS},
        {m_nonce_upper, AK_E_TOKEN_CLAIMS},
        {m_pop_nonce_colon, AK_E_TOKEN_CLAIMS},
        {m_dkh_short, AK_E_TOKEN_CLAIMS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ak_err rc = s_verify_modified(&k, cases[i].mod, &v);
        if (rc != cases[i].want)
            fail_msg("case %zu: %s, want %s", i, ak_err_reason(rc), ak_err_reason(cases[i].want));
    }
}

AK_TEST(test_sign_oom_sweep) {
    s_keys k;
    s_keys_init(&k);
    ak_cap_request r = s_req(NULL, AK_OP_FETCH, AK_CLASS_CREDENTIALS, "openrouter", NOW);
    ak_cap_claims c, v;
    EXPECT_OK(ak_cap_claims_new(&r, AK_OP_FETCH, AK_CLASS_CREDENTIALS, 7, NOW, &c));
    ak_buf tok;
    ak_buf_init(&tok, AK_MAX_JWS);
    for (uint64_t n = 1;; n++) {
        ak_alloc_fail_nth(n);
        ak_err rc = ak_cap_sign(&c, "cap-1", ak_jws_sign_local, k.priv, &tok);
        ak_alloc_fail_nth(0);
        if (rc == AK_OK) break;
        /* jose maps a failed json_object_set_new of typ/kid (OOM or bad UTF-8) to invalid_input */
        if (rc != AK_E_NOMEM && rc != AK_E_INVALID_INPUT)
            fail_msg("n=%llu: %s", (unsigned long long)n, ak_err_reason(rc));
        EXPECT_INT_EQ(tok.len, 0);
        if (n > 500) fail_msg("sign never succeeded");
    }
    /* The token from the first n that "succeeded" is NOT checked: jansson 2.14's dumper drops
     * a failed object-key append and still reports success (dump.c, unchecked dump_string),
     * so the JWS header written by ak_jws_sign_es256 through ak_json_dump can come out altered
     * under injected OOM (it then fails verification: closed, not open). Our own payload is
     * written without jansson. Open item for json.c. Likewise there is no sweep over verify:
     * jansson's lexer ignores failed strbuffer appends (load.c lex_get_save) and can crash. */
    ak_buf_clear(&tok);
    EXPECT_OK(ak_cap_sign(&c, "cap-1", ak_jws_sign_local, k.priv, &tok));
    ak_cap_expect x = {AK_OP_FETCH, AK_CLASS_CREDENTIALS, NOW};
    EXPECT_OK(ak_cap_verify(ak_buf_cur(&tok), &k.jwks, &x, &v));
    /* and the payload encoder alone never lies under allocation failure */
    ak_buf pl;
    ak_buf_init(&pl, AK_MAX_JWS);
    for (uint64_t n = 1;; n++) {
        ak_alloc_fail_nth(n);
        ak_err rc = ak_cap_claims_encode(&c, &pl);
        ak_alloc_fail_nth(0);
        if (rc == AK_OK) break;
        EXPECT_ERR(AK_E_NOMEM, rc);
        EXPECT_INT_EQ(pl.len, 0);
    }
    json_t *o = NULL;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&pl), &o));
    EXPECT_OK(ak_cap_claims_from_json(o, &v));
    EXPECT_TRUE(memcmp(&v, &c, sizeof(c)) == 0);
    json_decref(o);
    ak_buf_free(&pl);
    ak_buf_free(&tok);
}

AK_RUN_TESTS(AK_T(test_sig_cache), AK_T(test_pop_vector), AK_T(test_pop_rejects),
             AK_T(test_ttl_and_nonce_rules), AK_T(test_request_parse), AK_T(test_mint_and_verify_round_trip),
             AK_T(test_claims_new_rejects), AK_T(test_verify_signature_step),
             AK_T(test_verify_order_after_signature), AK_T(test_verify_claims_schema),
             AK_T(test_sign_oom_sweep))
