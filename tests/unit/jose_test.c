/*
 * jose_test.c — compact JWS ES256, JWT claims, JWK/JWKS, RFC 7638 thumbprints; against
 * ../shared/vectors/jose-rfc-examples/ and with negative cases for every check in ak/jose.h.
 * Interop with npm `jose` is tests/e2e/jose_interop_test.sh.
 */
#include "test.h"

#include <jansson.h>

#include "ak/crypto.h"
#include "ak/jose.h"
#include "ak/json.h"
#include "ak/limits.h"

#define AK_MAX_JWS_TEST 16384

static json_t *s_load_json(const char *rel) {
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    ak_test_read_file(ak_test_vector_path(rel), &b);
    json_error_t e;
    json_t *j = json_loadb((const char *)b.ptr, b.len, 0, &e);
    ak_buf_free(&b);
    if (j == NULL) fail_msg("%s: %s", rel, e.text);
    return j;
}

static void s_hexto(const char *hex, uint8_t *out, size_t n) {
    if (ak_hex_decode_exact(ak_cur_from_str(hex), false, out, n) != AK_OK) fail_msg("bad hex %s", hex);
}

/* A P-256 key pair for the tests, with its JWKS entry. */
typedef struct s_key {
    uint8_t priv[32];
    ak_jwk_p256 jwk;
} s_key;

static void s_keygen(s_key *k, const char *kid) {
    memset(k, 0, sizeof(*k));
    EXPECT_OK(ak_p256_keygen(k->priv, k->jwk.pub65));
    snprintf(k->jwk.kid, sizeof(k->jwk.kid), "%s", kid);
}

static void s_sign_claims(s_key *k, const char *typ, const char *claims_json, ak_buf *tok) {
    json_t *c = NULL;
    EXPECT_OK(ak_json_parse_object(ak_cur_from_str(claims_json), &c));
    ak_buf_init(tok, AK_MAX_JWS_TEST);
    EXPECT_OK(ak_jwt_sign_es256(k->jwk.kid[0] ? k->jwk.kid : NULL, typ, c, ak_jws_sign_local, k->priv, tok));
    json_decref(c);
}

/* ------------------------------------------------------------------ RFC / published examples */

AK_TEST(test_es256_published_examples) {
    json_t *root = s_load_json("jose-rfc-examples/es256_jwt_examples.json");
    json_t *ex = json_object_get(root, "examples");
    unsigned n = 0;
    for (size_t i = 0; i < json_array_size(ex); i++) {
        json_t *e = json_array_get(ex, i);
        const char *token = json_string_value(json_object_get(e, "token"));
        ak_jwk_p256 key;
        EXPECT_OK(ak_jwk_p256_from_json(json_object_get(e, "public_jwk"), &key));
        uint8_t want[65];
        want[0] = 4;
        s_hexto(json_string_value(json_object_get(e, "public_key_x_hex")), want + 1, 32);
        s_hexto(json_string_value(json_object_get(e, "public_key_y_hex")), want + 33, 32);
        EXPECT_BYTES_EQ(key.pub65, 65, want, 65);
        ak_jws j;
        EXPECT_OK(ak_jws_parse(ak_cur_from_str(token), &j));
        uint8_t d[32], wd[32];
        ak_sha256(j.signing_input.ptr, j.signing_input.len, d);
        s_hexto(json_string_value(json_object_get(e, "signing_input_sha256")), wd, 32);
        EXPECT_BYTES_EQ(d, 32, wd, 32);
        uint8_t r[32];
        s_hexto(json_string_value(json_object_get(e, "signature_r_hex")), r, 32);
        EXPECT_BYTES_EQ(j.sig, 32, r, 32);
        EXPECT_OK(ak_jws_verify_p256(&j, key.pub65));
        /* payload parsed as given */
        json_t *want_payload = NULL;
        EXPECT_OK(ak_json_parse_object(ak_cur_from_str(json_string_value(json_object_get(e, "payload_utf8"))),
                                       &want_payload));
        EXPECT_TRUE(json_equal(j.claims, want_payload));
        json_decref(want_payload);
        /* another key does not verify it */
        uint8_t other[32], opub[65];
        EXPECT_OK(ak_p256_keygen(other, opub));
        EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_verify_p256(&j, opub));
        ak_jws_free(&j);
        n++;
    }
    json_decref(root);
    printf("jose-rfc-examples es256_jwt_examples.json: %u/%u tokens verified\n", n, n);
    EXPECT_INT_EQ(n, 3);
}

AK_TEST(test_rfc7515_a3_text_and_resign) {
    /* The A.3 key signs A.3's signing input; ECDSA is randomised in the RFC, deterministic here,
     * so the signature differs but must verify. */
    uint8_t d[32];
    s_hexto("8e9b109e719098bf980487df1f5d77e9cb29606ebed2263b5f57c213df84f4b2", d, 32);
    ak_buf tok;
    ak_buf_init(&tok, AK_MAX_JWS_TEST);
    static const char payload[] =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    EXPECT_OK(
        ak_jws_sign_es256(NULL, NULL, ak_cur_from(payload, strlen(payload)), ak_jws_sign_local, d, &tok));
    static const char want_prefix[] =
        "eyJhbGciOiJFUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.";
    EXPECT_TRUE(ak_cur_starts_with(ak_buf_cur(&tok), AK_CUR_LIT(want_prefix)));
    uint8_t pub[65];
    EXPECT_OK(ak_p256_pub_from_priv(d, pub));
    ak_jws j;
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&tok), &j));
    EXPECT_OK(ak_jws_verify_p256(&j, pub));
    EXPECT_FALSE(j.has_kid);
    EXPECT_FALSE(j.has_typ);
    ak_jws_free(&j);
    ak_jws_free(&j); /* idempotent */
    ak_buf_free(&tok);
}

AK_TEST(test_rfc7638_thumbprints) {
    /* Parse the vector text: every "JWK: {...}" line is followed by its "Thumbprint (base64url): ..." */
    ak_buf f;
    ak_buf_init(&f, 1u << 20);
    ak_test_read_file(ak_test_vector_path("jose-rfc-examples/rfc7638_jwk_thumbprints.txt"), &f);
    ak_cur c = ak_buf_cur(&f), line;
    json_t *jwk = NULL;
    unsigned n = 0, ec = 0;
    while (c.len > 0) {
        if (!ak_cur_split(&c, '\n', &line)) {
            line = c;
            c.len = 0;
        }
        if (ak_cur_starts_with(line, AK_CUR_LIT("JWK: "))) {
            json_decref(jwk);
            jwk = NULL;
            EXPECT_OK(ak_json_parse_object(ak_cur_from(line.ptr + 5, line.len - 5), &jwk));
        } else if (ak_cur_starts_with(line, AK_CUR_LIT("Thumbprint (base64url): ")) && jwk) {
            ak_cur want = ak_cur_trim(ak_cur_from(line.ptr + 24, line.len - 24));
            uint8_t h[32];
            EXPECT_OK(ak_jwk_thumbprint(jwk, h));
            ak_buf b;
            ak_buf_init(&b, 64);
            EXPECT_OK(ak_b64url_encode(h, 32, &b));
            if (!ak_cur_eq(ak_buf_cur(&b), want)) fail_msg("thumbprint %u: %s", n, ak_buf_cstr(&b));
            ak_buf_free(&b);
            /* the P-256 fast path agrees */
            ak_jwk_p256 k;
            if (ak_jwk_p256_from_json(jwk, &k) == AK_OK) {
                char t[44];
                EXPECT_OK(ak_jwk_p256_thumbprint_b64(k.pub65, t));
                EXPECT_TRUE(ak_cur_eq_str(want, t));
                ec++;
            }
            n++;
        }
    }
    json_decref(jwk);
    ak_buf_free(&f);
    printf("jose-rfc-examples rfc7638_jwk_thumbprints.txt: %u/%u thumbprints (RSA, OKP, %u P-256)\n", n, n,
           ec);
    EXPECT_INT_EQ(n, 4);
    EXPECT_INT_EQ(ec, 2);
    /* members other than the required ones do not change it; a missing one is refused */
    json_t *k = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x",
                          "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y",
                          "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid", "anything", "use", "sig");
    uint8_t h[32], want[32];
    EXPECT_OK(ak_jwk_thumbprint(k, h));
    s_hexto("a0a232c2f194a53553cb1310ddbc0821e414b9d7ebfc290b323084d7d1020fe5", want, 32);
    EXPECT_BYTES_EQ(h, 32, want, 32);
    json_object_del(k, "y");
    EXPECT_ERR(AK_E_BAD_KEY, ak_jwk_thumbprint(k, h));
    json_object_set_new(k, "kty", json_string("oct"));
    EXPECT_ERR(AK_E_BAD_KEY, ak_jwk_thumbprint(k, h));
    json_decref(k);
}

/* ------------------------------------------------------------------ sign / verify / JWKS */

AK_TEST(test_sign_verify_jwks_rotation) {
    s_key cur, prev;
    s_keygen(&cur, "k2");
    s_keygen(&prev, "k1");
    ak_jwks set = {.n = 2};
    set.keys[0] = prev.jwk;
    set.keys[1] = cur.jwk;
    ak_buf t1, t2;
    s_sign_claims(&cur, "JWT",
                  "{\"iss\":\"https://issuer\",\"aud\":\"sts.amazonaws.com\",\"exp\":2000000000}", &t1);
    s_sign_claims(&prev, "JWT",
                  "{\"iss\":\"https://issuer\",\"aud\":[\"x\",\"sts.amazonaws.com\"],\"exp\":2000000000}",
                  &t2);
    ak_jwt_expect ex = {.now = 1700000000,
                        .skew = 60,
                        .typ = "JWT",
                        .iss = "https://issuer",
                        .aud = "sts.amazonaws.com",
                        .require_exp = true};
    ak_jws j;
    EXPECT_OK(ak_jwt_verify(ak_buf_cur(&t1), &set, &ex, &j));
    EXPECT_TRUE(ak_cur_eq_str(j.kid, "k2"));
    ak_jws_free(&j);
    EXPECT_OK(ak_jwt_verify(ak_buf_cur(&t2), &set, &ex, &j));
    ak_jws_free(&j);
    /* previous key dropped from the set: its tokens stop verifying */
    ak_jwks only_cur = {.n = 1};
    only_cur.keys[0] = cur.jwk;
    EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jwt_verify(ak_buf_cur(&t2), &only_cur, &ex, &j));
    /* kid swapped to a key that did not sign it */
    ak_jwks swapped = {.n = 1};
    swapped.keys[0] = prev.jwk;
    snprintf(swapped.keys[0].kid, sizeof(swapped.keys[0].kid), "k2");
    EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jwt_verify(ak_buf_cur(&t1), &swapped, &ex, &j));

    /* JWKS round trip through JSON, with x5c on output */
    set.keys[1].x5c = "MIIBfake==";
    ak_buf js;
    ak_buf_init(&js, 65536);
    EXPECT_OK(ak_jwks_dump(&set, &js));
    EXPECT_TRUE(strstr(ak_buf_cstr(&js), "\"use\":\"sig\",\"alg\":\"ES256\"") != NULL);
    EXPECT_TRUE(strstr(ak_buf_cstr(&js), "\"x5c\":[\"MIIBfake==\"]") != NULL);
    ak_jwks back;
    EXPECT_OK(ak_jwks_parse(ak_buf_cur(&js), &back));
    EXPECT_INT_EQ(back.n, 2);
    EXPECT_BYTES_EQ(back.keys[1].pub65, 65, cur.jwk.pub65, 65);
    EXPECT_STR_EQ(back.keys[0].kid, "k1");
    EXPECT_OK(ak_jwt_verify(ak_buf_cur(&t1), &back, &ex, &j));
    ak_jws_free(&j);
    ak_buf_free(&js);
    ak_buf_free(&t1);
    ak_buf_free(&t2);
}

static ak_err s_failing_signer(void *user, const uint8_t *in, size_t len, uint8_t sig[64]) {
    (void)user, (void)in, (void)len;
    memset(sig, 0, 64);
    return AK_E_SIGNER_UNAVAILABLE;
}

AK_TEST(test_signer_callback_errors_pass_up) {
    ak_buf t;
    ak_buf_init(&t, AK_MAX_JWS_TEST);
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE,
               ak_jws_sign_es256("k", "JWT", AK_CUR_LIT("{}"), s_failing_signer, NULL, &t));
    EXPECT_INT_EQ(t.len, 0); /* nothing partial appended */
    uint8_t zero[32] = {0};
    EXPECT_ERR(AK_E_BAD_KEY, ak_jws_sign_es256("k", "JWT", AK_CUR_LIT("{}"), ak_jws_sign_local, zero, &t));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_jws_sign_es256("k\xff", "JWT", AK_CUR_LIT("{}"), ak_jws_sign_local, zero, &t));
    ak_buf_free(&t);
}

/* Build a token from header and payload JSON text, signed (correctly) with k. */
static void s_forge(s_key *k, const char *header, const char *payload, ak_buf *out) {
    ak_buf_init(out, AK_MAX_JWS_TEST);
    EXPECT_OK(ak_b64url_encode((const uint8_t *)header, strlen(header), out));
    EXPECT_OK(ak_buf_append_byte(out, '.'));
    EXPECT_OK(ak_b64url_encode((const uint8_t *)payload, strlen(payload), out));
    uint8_t sig[64];
    EXPECT_OK(ak_p256_sign_sha256(k->priv, out->ptr, out->len, sig));
    EXPECT_OK(ak_buf_append_byte(out, '.'));
    EXPECT_OK(ak_b64url_encode(sig, 64, out));
}

AK_TEST(test_parse_rejects) {
    s_key k;
    s_keygen(&k, "k");
    ak_jwks set = {.n = 1};
    set.keys[0] = k.jwk;
    ak_jws j;
    ak_buf t;
    /* a well-formed control token passes, so each failure below is about its one change */
    s_forge(&k, "{\"alg\":\"ES256\",\"kid\":\"k\"}", "{\"sub\":\"a\"}", &t);
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&t), &j));
    EXPECT_OK(ak_jws_verify_jwks(&j, &set));
    ak_jws_free(&j);
    ak_buf_free(&t);

    static const struct {
        const char *h, *p, *why;
    } bad[] = {
        {"{\"alg\":\"none\",\"kid\":\"k\"}", "{}", "alg none"},
        {"{\"alg\":\"HS256\",\"kid\":\"k\"}", "{}", "alg HS256"},
        {"{\"alg\":\"es256\",\"kid\":\"k\"}", "{}", "alg case"},
        {"{\"alg\":\"ES256K\",\"kid\":\"k\"}", "{}", "alg ES256K"},
        {"{\"kid\":\"k\"}", "{}", "alg missing"},
        {"{\"alg\":[\"ES256\"],\"kid\":\"k\"}", "{}", "alg array"},
        {"{\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"k\"}", "{}", "duplicate member"},
        {"{\"alg\":\"ES256\",\"kid\":\"k\",\"crit\":[\"b64\"],\"b64\":false}", "{}", "crit"},
        {"{\"alg\":\"ES256\",\"kid\":7}", "{}", "kid type"},
        {"{\"alg\":\"ES256\",\"kid\":\"k\",\"typ\":1}", "{}", "typ type"},
        {"[\"alg\",\"ES256\"]", "{}", "header not an object"},
        {"{\"alg\":\"ES256\",\"kid\":\"k\"}", "[1]", "payload not an object"},
        {"{\"alg\":\"ES256\",\"kid\":\"k\"}", "{\"a\":1,\"a\":2}", "duplicate claim"},
        {"{\"alg\":\"ES256\",\"kid\":\"k\"}", "not json", "payload not JSON"},
        {"{\"alg\":\"ES256\",\"kid\":\"k\"", "{}", "header not JSON"},
        {"{\"alg\":\"ES256\",\"kid\":\"k\\u0000x\"}", "{}", "NUL in kid"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s_forge(&k, bad[i].h, bad[i].p, &t);
        ak_err rc = ak_jws_parse(ak_buf_cur(&t), &j);
        if (rc != AK_E_TOKEN_INVALID) fail_msg("case '%s' -> %s", bad[i].why, ak_err_reason(rc));
        ak_buf_free(&t);
    }

    /* structure */
    s_forge(&k, "{\"alg\":\"ES256\",\"kid\":\"k\"}", "{\"sub\":\"a\"}", &t);
    ak_cur good = ak_buf_cur(&t);
    char tmp[2048];
    EXPECT_TRUE(good.len < sizeof(tmp) - 8);
    const char *g = (const char *)good.ptr;
    const char *dot1 = strchr(g, '.');
    const char *dot2 = strrchr(g, '.');
#define REJECT(expr_text)                                                                                    \
    do {                                                                                                     \
        EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_parse(ak_cur_from_str(expr_text), &j));                        \
    } while (0)
    REJECT("");
    REJECT("a.b");
    REJECT("..");
    snprintf(tmp, sizeof(tmp), "%s.", g); /* four parts */
    REJECT(tmp);
    snprintf(tmp, sizeof(tmp), "%s.x.y", g); /* JWE-like five parts */
    REJECT(tmp);
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(dot2 - g + 1), g); /* no signature */
    REJECT(tmp);
    snprintf(tmp, sizeof(tmp), "%s==", g); /* padded signature */
    REJECT(tmp);
    snprintf(tmp, sizeof(tmp), "%.*s", (int)good.len - 1, g); /* 85 chars */
    REJECT(tmp);
    snprintf(tmp, sizeof(tmp), "%sAA", g); /* 65+ bytes */
    REJECT(tmp);
    snprintf(tmp, sizeof(tmp), "%s", g);
    tmp[dot2 - g + 5] = '+'; /* standard, not url, alphabet */
    REJECT(tmp);
    snprintf(tmp, sizeof(tmp), "%s", g);
    tmp[strlen(tmp) - 1] = (char)(tmp[strlen(tmp) - 1] == 'A' ? 'B' : 'A');
    /* last char of 86: its low 4 bits are padding, so most single-character changes are
     * non-canonical -> rejected by the decoder, or change s -> rejected by verify */
    {
        ak_err rc = ak_jws_parse(ak_cur_from_str(tmp), &j);
        if (rc == AK_OK) {
            EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_verify_jwks(&j, &set));
            ak_jws_free(&j);
        } else {
            EXPECT_INT_EQ(rc, AK_E_TOKEN_INVALID);
        }
    }
    snprintf(tmp, sizeof(tmp), "%.*s.%s", (int)(dot1 - g), g, dot1 + 1); /* fine: same token */
    EXPECT_OK(ak_jws_parse(ak_cur_from_str(tmp), &j));
    ak_jws_free(&j);
    /* DER signature instead of raw r||s */
    {
        ak_buf der, t2;
        ak_buf_init(&der, 128);
        ak_buf_init(&t2, AK_MAX_JWS_TEST);
        EXPECT_OK(ak_jws_parse(good, &j));
        EXPECT_OK(ak_p256_sig_raw_to_der(j.sig, &der));
        ak_jws_free(&j);
        EXPECT_OK(ak_buf_append(&t2, g, (size_t)(dot2 - g + 1)));
        EXPECT_OK(ak_b64url_encode(der.ptr, der.len, &t2));
        EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_parse(ak_buf_cur(&t2), &j));
        ak_buf_free(&der);
        ak_buf_free(&t2);
    }
    /* payload tampered after signing */
    snprintf(tmp, sizeof(tmp), "%s", g);
    tmp[dot1 - g + 2] = (char)(tmp[dot1 - g + 2] == 'e' ? 'f' : 'e');
    if (ak_jws_parse(ak_cur_from_str(tmp), &j) == AK_OK) {
        EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_verify_jwks(&j, &set));
        ak_jws_free(&j);
    }
    /* too long */
    static char huge[AK_MAX_JWS + 2];
    memset(huge, 'A', sizeof(huge) - 1);
    REJECT(huge);
#undef REJECT
    /* no kid: a JWKS never has a default key */
    ak_buf t3;
    s_forge(&k, "{\"alg\":\"ES256\"}", "{}", &t3);
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&t3), &j));
    EXPECT_OK(ak_jws_verify_p256(&j, k.jwk.pub65));
    EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_verify_jwks(&j, &set));
    ak_jws_free(&j);
    ak_buf_free(&t3);
    /* unknown kid */
    s_forge(&k, "{\"alg\":\"ES256\",\"kid\":\"other\"}", "{}", &t3);
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&t3), &j));
    EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_verify_jwks(&j, &set));
    ak_jws_free(&j);
    ak_buf_free(&t3);
    /* header-embedded jwk is never used: a token signed by an attacker key with its own jwk */
    s_key evil;
    s_keygen(&evil, "k");
    s_forge(&evil, "{\"alg\":\"ES256\",\"kid\":\"k\",\"jwk\":{\"kty\":\"EC\"}}", "{}", &t3);
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&t3), &j));
    EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_verify_jwks(&j, &set));
    ak_jws_free(&j);
    ak_buf_free(&t3);
    ak_buf_free(&t);
}

AK_TEST(test_claims) {
    s_key k;
    s_keygen(&k, "k");
    ak_jws j;
    ak_buf t;
    const uint64_t now = 1700000000;
    ak_jwt_expect base = {.now = now,
                          .skew = 30,
                          .typ = "ak-cap+jwt",
                          .iss = "agentkeys",
                          .aud = "worker",
                          .require_exp = true};
    struct {
        const char *claims;
        const char *typ;
        ak_err want;
        const char *why;
    } cases[] = {
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1700000100,\"nbf\":1700000000,\"iat\":"
         "1700000000}",
         "ak-cap+jwt", AK_OK, "all good"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1700000100}", "JWT", AK_E_TOKEN_CLAIMS,
         "typ JWT for a cap"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1700000100}", NULL, AK_E_TOKEN_CLAIMS,
         "typ missing"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1700000100}", "AK-CAP+JWT", AK_E_TOKEN_CLAIMS,
         "typ case"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1699999970}", "ak-cap+jwt", AK_E_TOKEN_EXPIRED,
         "exp == now - skew"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1699999971}", "ak-cap+jwt", AK_OK,
         "exp within skew"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\"}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS, "exp missing"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":\"1700000100\"}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS,
         "exp string"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1700000100.5}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS,
         "exp real"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":-1}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS,
         "exp negative"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":null}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS,
         "exp null"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1700000100,\"nbf\":1700000031}", "ak-cap+jwt",
         AK_E_TOKEN_CLAIMS, "nbf beyond skew"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1700000100,\"nbf\":1700000030}", "ak-cap+jwt",
         AK_OK, "nbf within skew"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":1700000100,\"iat\":1700000031}", "ak-cap+jwt",
         AK_E_TOKEN_CLAIMS, "iat in the future"},
        {"{\"iss\":\"other\",\"aud\":\"worker\",\"exp\":1700000100}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS, "iss"},
        {"{\"aud\":\"worker\",\"exp\":1700000100}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS, "iss missing"},
        {"{\"iss\":1,\"aud\":\"worker\",\"exp\":1700000100}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS, "iss number"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"Worker\",\"exp\":1700000100}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS,
         "aud case"},
        {"{\"iss\":\"agentkeys\",\"aud\":[\"a\",\"worker\"],\"exp\":1700000100}", "ak-cap+jwt", AK_OK,
         "aud array"},
        {"{\"iss\":\"agentkeys\",\"aud\":[\"a\",\"b\"],\"exp\":1700000100}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS,
         "aud array without us"},
        {"{\"iss\":\"agentkeys\",\"aud\":[\"worker\",1],\"exp\":1700000100}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS,
         "aud array with a number"},
        {"{\"iss\":\"agentkeys\",\"aud\":[],\"exp\":1700000100}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS,
         "aud empty"},
        {"{\"iss\":\"agentkeys\",\"exp\":1700000100}", "ak-cap+jwt", AK_E_TOKEN_CLAIMS, "aud missing"},
        {"{\"iss\":\"agentkeys\",\"aud\":{\"x\":\"worker\"},\"exp\":1700000100}", "ak-cap+jwt",
         AK_E_TOKEN_CLAIMS, "aud object"},
        {"{\"iss\":\"agentkeys\",\"aud\":\"worker\",\"exp\":18446744073709551615}", "ak-cap+jwt",
         AK_E_TOKEN_CLAIMS, "exp beyond int64 (jansson refuses the number)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_error_t je;
        json_t *c = json_loads(cases[i].claims, JSON_REJECT_DUPLICATES, &je);
        if (c == NULL) { /* jansson refuses integers beyond int64: such a token cannot parse */
            EXPECT_INT_EQ(cases[i].want, AK_E_TOKEN_CLAIMS);
            continue;
        }
        ak_buf_init(&t, AK_MAX_JWS_TEST);
        EXPECT_OK(ak_jwt_sign_es256("k", cases[i].typ, c, ak_jws_sign_local, k.priv, &t));
        json_decref(c);
        EXPECT_OK(ak_jws_parse(ak_buf_cur(&t), &j));
        ak_err rc = ak_jwt_check_claims(&j, &base);
        if (rc != cases[i].want)
            fail_msg("claims case '%s' -> %s, want %s", cases[i].why, ak_err_reason(rc),
                     ak_err_reason(cases[i].want));
        ak_jws_free(&j);
        ak_buf_free(&t);
    }
    /* max_age */
    s_sign_claims(&k, NULL, "{\"iat\":1699999000}", &t);
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&t), &j));
    ak_jwt_expect age = {.now = now, .max_age = 900, .skew = 0};
    EXPECT_ERR(AK_E_TOKEN_EXPIRED, ak_jwt_check_claims(&j, &age));
    age.max_age = 1000;
    EXPECT_OK(ak_jwt_check_claims(&j, &age));
    ak_jwt_expect none = {.now = now};
    EXPECT_OK(ak_jwt_check_claims(&j, &none)); /* nothing required */
    ak_jws_free(&j);
    ak_buf_free(&t);
    s_sign_claims(&k, NULL, "{}", &t);
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&t), &j));
    EXPECT_ERR(AK_E_TOKEN_CLAIMS, ak_jwt_check_claims(&j, &age)); /* iat required by max_age */
    ak_jws_free(&j);
    ak_buf_free(&t);
}

AK_TEST(test_jwk_rejects) {
    static const char *const good_x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    static const char *const good_y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    static const char *const other_y = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
    ak_jwk_p256 k;
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", good_x, "y",
                          good_y, "kid", "a", "use", "sig", "alg", "ES256");
    EXPECT_OK(ak_jwk_p256_from_json(j, &k));
    EXPECT_STR_EQ(k.kid, "a");
    json_decref(j);
    /* RFC 7517 §4.3: key_ops naming "verify" (alone or among others) is a verification key */
    j = json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y, "key_ops",
                  "verify");
    EXPECT_OK(ak_jwk_p256_from_json(j, &k));
    json_decref(j);
    j = json_pack("{s:s,s:s,s:s,s:s,s:[s,s]}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y,
                  "key_ops", "sign", "verify");
    EXPECT_OK(ak_jwk_p256_from_json(j, &k));
    json_decref(j);
    struct {
        json_t *jwk;
        const char *why;
    } bad[] = {
        {json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-384", "x", good_x, "y", good_y), "curve"},
        {json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "crv", "P-256", "x", good_x, "y", good_y), "kty"},
        {json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", good_x, "y", other_y), "off curve"},
        {json_pack("{s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", good_x), "y missing"},
        {json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x",
                   "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE", "y", good_y),
         "x short"},
        {json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x",
                   "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=", "y", good_y),
         "x padded"},
        {json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x",
                   "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEV", "y", good_y),
         "x non-canonical trailing bits"},
        {json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y, "d",
                   "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"),
         "private d"},
        {json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y, "use",
                   "enc"),
         "use enc"},
        {json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y, "alg",
                   "ES384"),
         "alg ES384"},
        {json_pack("{s:s,s:s,s:s,s:s,s:i}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y, "kid", 5),
         "kid number"},
        {json_pack("[]"), "not an object"},
        {json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y,
                   "key_ops", "sign"),
         "key_ops without verify"},
        {json_pack("{s:s,s:s,s:s,s:s,s:[]}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y,
                   "key_ops"),
         "key_ops empty"},
        {json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y, "key_ops",
                   "verify"),
         "key_ops not an array"},
        {json_pack("{s:s,s:s,s:s,s:s,s:[s,i]}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y,
                   "key_ops", "verify", 1),
         "key_ops with a non-string"},
        {json_pack("{s:s,s:s,s:s,s:s,s:[s,s]}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y,
                   "key_ops", "verify", "verify"),
         "key_ops duplicate"},
        {json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "kty", "EC", "crv", "P-256", "x", good_x, "y", good_y,
                   "key_ops", "verifyX"),
         "key_ops near miss"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_err rc = ak_jwk_p256_from_json(bad[i].jwk, &k);
        if (rc != AK_E_BAD_KEY) fail_msg("jwk case '%s' -> %s", bad[i].why, ak_err_reason(rc));
        json_decref(bad[i].jwk);
    }
    /* JWKS: other key types skipped; bad P-256 entry, duplicate kids, too many keys refused */
    ak_jwks s;
    char doc[4096];
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"crv\":\"P-256\","
             "\"x\":\"%s\",\"y\":"
             "\"%s\",\"kid\":\"a\"}]}",
             good_x, good_y);
    EXPECT_OK(ak_jwks_parse(ak_cur_from_str(doc), &s));
    EXPECT_INT_EQ(s.n, 1);
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\"},{\"kty\":"
             "\"EC\",\"crv\":"
             "\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\"}]}",
             good_x, good_y, good_x, good_y);
    EXPECT_ERR(AK_E_BAD_KEY, ak_jwks_parse(ak_cur_from_str(doc), &s));
    snprintf(doc, sizeof(doc), "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             good_x, other_y);
    EXPECT_ERR(AK_E_BAD_KEY, ak_jwks_parse(ak_cur_from_str(doc), &s));
    /* a key set whose P-256 key is marked for signing only is not used for verification */
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\","
             "\"key_ops\":[\"sign\"]}]}",
             good_x, good_y);
    EXPECT_ERR(AK_E_BAD_KEY, ak_jwks_parse(ak_cur_from_str(doc), &s));
    EXPECT_ERR(AK_E_BAD_KEY, ak_jwks_parse(AK_CUR_LIT("{\"keys\":{}}"), &s));
    EXPECT_ERR(AK_E_BAD_KEY, ak_jwks_parse(AK_CUR_LIT("{\"keys\":[1]}"), &s));
    EXPECT_ERR(AK_E_INVALID_JSON, ak_jwks_parse(AK_CUR_LIT("{\"keys\":["), &s));
    ak_buf many;
    ak_buf_init(&many, 65536);
    EXPECT_OK(ak_buf_append_str(&many, "{\"keys\":["));
    for (unsigned i = 0; i <= AK_JWKS_MAX_KEYS; i++)
        EXPECT_OK(ak_buf_printf(
            &many, "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"k%u\"}",
            i ? "," : "", good_x, good_y, i));
    EXPECT_OK(ak_buf_append_str(&many, "]}"));
    EXPECT_ERR(AK_E_LIMIT, ak_jwks_parse(ak_buf_cur(&many), &s));
    ak_buf_free(&many);
}

AK_TEST(test_oom_paths_do_not_leak) {
    s_key k;
    s_keygen(&k, "k");
    ak_jwks set = {.n = 1};
    set.keys[0] = k.jwk;
    ak_buf t;
    s_sign_claims(&k, "JWT", "{\"iss\":\"i\",\"exp\":2000000000}", &t);
    ak_jwt_expect ex = {.now = 1700000000, .iss = "i", .typ = "JWT"};
    /* Fail each allocation in turn: every path either succeeds or reports an error, no leaks
     * (the harness checks the live count after the test). */
    for (uint64_t n = 1; n < 200; n++) {
        ak_alloc_fail_nth(n);
        ak_jws j;
        ak_err rc = ak_jwt_verify(ak_buf_cur(&t), &set, &ex, &j);
        ak_alloc_fail_nth(0);
        if (rc == AK_OK) {
            ak_jws_free(&j);
            break;
        }
    }
    for (uint64_t n = 1; n < 200; n++) {
        ak_buf o;
        ak_buf_init(&o, AK_MAX_JWS_TEST);
        ak_alloc_fail_nth(n);
        ak_err rc = ak_jws_sign_es256("k", "JWT", AK_CUR_LIT("{}"), ak_jws_sign_local, k.priv, &o);
        ak_alloc_fail_nth(0);
        ak_buf_free(&o);
        if (rc == AK_OK) break;
    }
    ak_buf_free(&t);
}

AK_RUN_TESTS(AK_T(test_es256_published_examples), AK_T(test_rfc7515_a3_text_and_resign),
             AK_T(test_rfc7638_thumbprints), AK_T(test_sign_verify_jwks_rotation),
             AK_T(test_signer_callback_errors_pass_up), AK_T(test_parse_rejects), AK_T(test_claims),
             AK_T(test_jwk_rejects), AK_T(test_oom_paths_do_not_leak))
