/*
 * jose.c — compact JWS ES256, JWT claims, P-256 JWK/JWKS, RFC 7638 thumbprints (see ak/jose.h).
 */
#include "ak/jose.h"

#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/json.h"
#include "ak/limits.h"

/* ------------------------------------------------------------------ helpers */

/* Decoding errors of untrusted token parts are all "token invalid"; only OOM stays itself. */
static ak_err s_tok(ak_err e) { return (e == AK_OK || e == AK_E_NOMEM) ? e : AK_E_TOKEN_INVALID; }
static ak_err s_key(ak_err e) { return (e == AK_OK || e == AK_E_NOMEM) ? e : AK_E_BAD_KEY; }

/* Optional string member that must not contain NUL: *present=false when absent. Wrong type is `bad`. */
static ak_err s_str_opt(const json_t *o, const char *k, ak_cur *out, bool *present, ak_err bad) {
    json_t *v = json_object_get(o, k);
    *present = false;
    *out = (ak_cur){NULL, 0};
    if (v == NULL) return AK_OK;
    AK_ENSURE(json_is_string(v), bad);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    AK_ENSURE(memchr(s, 0, n) == NULL, bad);
    *out = (ak_cur){(const uint8_t *)s, n};
    *present = true;
    return AK_OK;
}

/* Decodes canonical base64url of exactly n bytes into dst. */
static ak_err s_b64url_exact(ak_cur in, uint8_t *dst, size_t n) {
    ak_buf b;
    ak_buf_init(&b, n);
    ak_err rc = ak_b64url_decode(in, &b);
    if (rc == AK_OK && b.len != n) rc = AK_E_BAD_BASE64;
    if (rc == AK_OK) memcpy(dst, b.ptr, n);
    ak_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------ signing */

ak_err ak_jws_sign_local(void *user, const uint8_t *signing_input, size_t len, uint8_t sig64[64]) {
    AK_PRECOND(user != NULL);
    return ak_p256_sign_sha256((const uint8_t *)user, signing_input, len, sig64);
}

ak_err ak_jws_sign_es256(const char *kid, const char *typ, ak_cur payload, ak_jws_sign_fn sign, void *user,
                         ak_buf *out) {
    AK_PRECOND(sign != NULL && out != NULL);
    ak_err rc = AK_OK;
    json_t *h = NULL;
    ak_buf hj, tok;
    ak_buf_init(&hj, AK_MAX_JWS);
    ak_buf_init(&tok, AK_MAX_JWS);
    uint8_t sig[64];

    /* RFC 7515 §4.1; order alg, typ, kid. json_string() refuses invalid UTF-8. */
    h = json_object();
    AK_ENSURE_OUT(h != NULL, AK_E_NOMEM);
    AK_ENSURE_OUT(json_object_set_new(h, "alg", json_string("ES256")) == 0, AK_E_NOMEM);
    if (typ) AK_ENSURE_OUT(json_object_set_new(h, "typ", json_string(typ)) == 0, AK_E_INVALID_INPUT);
    if (kid) {
        AK_ENSURE_OUT(strlen(kid) <= AK_JWK_KID_MAX, AK_E_INVALID_INPUT);
        AK_ENSURE_OUT(json_object_set_new(h, "kid", json_string(kid)) == 0, AK_E_INVALID_INPUT);
    }
    AK_GUARD_OUT(ak_json_dump(h, &hj));
    AK_GUARD_OUT(ak_b64url_encode(hj.ptr, hj.len, &tok));
    AK_GUARD_OUT(ak_buf_append_byte(&tok, '.'));
    AK_GUARD_OUT(ak_b64url_encode(payload.ptr, payload.len, &tok));
    /* D5: the callback may be the signer enclave; it signs exactly the ASCII signing input. */
    AK_GUARD_OUT(sign(user, tok.ptr, tok.len, sig));
    AK_GUARD_OUT(ak_buf_append_byte(&tok, '.'));
    AK_GUARD_OUT(ak_b64url_encode(sig, 64, &tok));
    AK_GUARD_OUT(ak_buf_append(out, tok.ptr, tok.len));
out:
    json_decref(h);
    ak_buf_free(&hj);
    ak_buf_free(&tok);
    return rc;
}

ak_err ak_jwt_sign_es256(const char *kid, const char *typ, const json_t *claims, ak_jws_sign_fn sign,
                         void *user, ak_buf *out) {
    AK_ENSURE(json_is_object(claims), AK_E_WRONG_TYPE);
    ak_buf pj;
    ak_buf_init(&pj, AK_MAX_JWS);
    ak_err rc = ak_json_dump(claims, &pj);
    if (rc == AK_OK) rc = ak_jws_sign_es256(kid, typ, ak_buf_cur(&pj), sign, user, out);
    ak_buf_free(&pj);
    return rc;
}

/* ------------------------------------------------------------------ parsing */

void ak_jws_free(ak_jws *jws) {
    if (jws == NULL) return;
    json_decref(jws->header);
    json_decref(jws->claims);
    memset(jws, 0, sizeof(*jws));
}

/* RFC 7515 §4.1: the header members we understand; alg must be ES256 (RFC 7518 §3.4), and a
 * `crit` we cannot honour makes the JWS invalid (§4.1.11). */
static ak_err s_check_header(ak_jws *j) {
    ak_cur alg;
    bool present;
    AK_GUARD(s_str_opt(j->header, "alg", &alg, &present, AK_E_TOKEN_INVALID));
    AK_ENSURE(present && ak_cur_eq_str(alg, "ES256"), AK_E_TOKEN_INVALID);
    AK_ENSURE(json_object_get(j->header, "crit") == NULL, AK_E_TOKEN_INVALID);
    AK_GUARD(s_str_opt(j->header, "kid", &j->kid, &j->has_kid, AK_E_TOKEN_INVALID));
    AK_ENSURE(j->kid.len <= AK_JWK_KID_MAX, AK_E_TOKEN_INVALID);
    AK_GUARD(s_str_opt(j->header, "typ", &j->typ, &j->has_typ, AK_E_TOKEN_INVALID));
    return AK_OK;
}

ak_err ak_jws_parse(ak_cur token, ak_jws *out) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    AK_ENSURE(token.ptr != NULL && token.len > 0 && token.len <= AK_MAX_JWS, AK_E_TOKEN_INVALID);
    ak_err rc = AK_OK;
    ak_buf b;
    ak_buf_init(&b, AK_MAX_JWS);
    ak_cur rest = token, h64, p64;
    AK_ENSURE_OUT(ak_cur_split(&rest, '.', &h64), AK_E_TOKEN_INVALID);
    AK_ENSURE_OUT(ak_cur_split(&rest, '.', &p64), AK_E_TOKEN_INVALID);
    /* Exactly three parts (a JWE has five); 64 signature bytes are 86 base64url characters. */
    AK_ENSURE_OUT(ak_cur_find(rest, '.') < 0 && rest.len == 86, AK_E_TOKEN_INVALID);
    AK_ENSURE_OUT(h64.len > 0 && p64.len > 0, AK_E_TOKEN_INVALID);
    out->signing_input = (ak_cur){token.ptr, h64.len + 1 + p64.len};

    /* One buffer for the three decoded parts: header | payload | signature. */
    AK_GUARD_OUT(ak_buf_reserve(&b, (h64.len + p64.len) / 4 * 3 + 3 + 64 + 3));
    AK_GUARD_OUT(s_tok(ak_b64url_decode(h64, &b)));
    size_t hlen = b.len;
    AK_GUARD_OUT(s_tok(ak_b64url_decode(p64, &b)));
    size_t plen = b.len - hlen;
    AK_GUARD_OUT(s_tok(ak_b64url_decode(rest, &b)));
    AK_ENSURE_OUT(b.len - hlen - plen == 64, AK_E_TOKEN_INVALID);
    memcpy(out->sig, b.ptr + hlen + plen, 64);

    /* Strict JSON: duplicate members are refused (RFC 7515 §5.2 allows rejecting them). */
    AK_GUARD_OUT(s_tok(ak_json_parse_object(ak_cur_from(b.ptr, hlen), &out->header)));
    AK_GUARD_OUT(s_check_header(out));
    AK_GUARD_OUT(s_tok(ak_json_parse_object(ak_cur_from(b.ptr + hlen, plen), &out->claims)));
out:
    ak_buf_free(&b);
    if (rc != AK_OK) ak_jws_free(out);
    return rc;
}

ak_err ak_jws_verify_p256(const ak_jws *jws, const uint8_t pub65[65]) {
    AK_PRECOND(jws != NULL && pub65 != NULL);
    AK_ENSURE(jws->signing_input.ptr != NULL, AK_E_TOKEN_INVALID);
    /* RFC 7518 §3.4: ECDSA P-256 over SHA-256 of the ASCII signing input, R||S. */
    ak_err rc = ak_p256_verify_sha256(pub65, jws->signing_input.ptr, jws->signing_input.len, jws->sig);
    return rc == AK_OK ? AK_OK : AK_E_TOKEN_INVALID;
}

ak_err ak_jws_verify_jwks(const ak_jws *jws, const ak_jwks *jwks) {
    AK_PRECOND(jws != NULL && jwks != NULL);
    AK_ENSURE(jws->has_kid && jws->kid.len > 0, AK_E_TOKEN_INVALID);
    for (size_t i = 0; i < jwks->n && i < AK_JWKS_MAX_KEYS; i++) {
        if (ak_cur_eq_str(jws->kid, jwks->keys[i].kid)) return ak_jws_verify_p256(jws, jwks->keys[i].pub65);
    }
    return AK_E_TOKEN_INVALID;
}

/* ------------------------------------------------------------------ claims */

/* NumericDate (RFC 7519 §2): we accept only non-negative integers (we and npm jose issue those). */
static ak_err s_date(const json_t *claims, const char *k, uint64_t *v, bool *present) {
    json_t *x = json_object_get(claims, k);
    *present = false;
    if (x == NULL) return AK_OK;
    AK_ENSURE(json_is_integer(x) && json_integer_value(x) >= 0, AK_E_TOKEN_CLAIMS);
    *v = (uint64_t)json_integer_value(x);
    *present = true;
    return AK_OK;
}

/* True when t is later than now + skew, without overflow. */
static bool s_in_future(uint64_t t, uint64_t now, uint64_t skew) { return t > now && t - now > skew; }

ak_err ak_jwt_check_claims(const ak_jws *jws, const ak_jwt_expect *e) {
    AK_PRECOND(jws != NULL && e != NULL && jws->claims != NULL);
    const json_t *c = jws->claims;
    uint64_t exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;
    AK_GUARD(s_date(c, "exp", &exp, &has_exp));
    AK_GUARD(s_date(c, "nbf", &nbf, &has_nbf));
    AK_GUARD(s_date(c, "iat", &iat, &has_iat));

    if (e->typ) AK_ENSURE(jws->has_typ && ak_cur_eq_str(jws->typ, e->typ), AK_E_TOKEN_CLAIMS);
    /* §4.1.4: the current time MUST be before exp (plus leeway). */
    AK_ENSURE(has_exp || !e->require_exp, AK_E_TOKEN_CLAIMS);
    if (has_exp) AK_ENSURE(exp > e->now || e->now - exp < e->skew, AK_E_TOKEN_EXPIRED);
    /* §4.1.5 nbf; §4.1.6 iat: neither may lie in the future. */
    if (has_nbf) AK_ENSURE(!s_in_future(nbf, e->now, e->skew), AK_E_TOKEN_CLAIMS);
    if (has_iat) AK_ENSURE(!s_in_future(iat, e->now, e->skew), AK_E_TOKEN_CLAIMS);
    if (e->max_age > 0) {
        AK_ENSURE(has_iat, AK_E_TOKEN_CLAIMS);
        AK_ENSURE(iat >= e->now || e->now - iat <= e->max_age + e->skew, AK_E_TOKEN_EXPIRED);
    }
    ak_cur v;
    bool present;
    /* §4.1.1 iss: a StringOrURI compared as a case-sensitive string. */
    AK_GUARD(s_str_opt(c, "iss", &v, &present, AK_E_TOKEN_CLAIMS));
    if (e->iss) AK_ENSURE(present && ak_cur_eq_str(v, e->iss), AK_E_TOKEN_CLAIMS);
    /* §4.1.3 aud: a string or an array of strings; ours must be among them. */
    json_t *aud = json_object_get(c, "aud");
    if (aud != NULL && !json_is_string(aud)) {
        AK_ENSURE(json_is_array(aud), AK_E_TOKEN_CLAIMS);
        for (size_t i = 0; i < json_array_size(aud); i++)
            AK_ENSURE(json_is_string(json_array_get(aud, i)), AK_E_TOKEN_CLAIMS);
    }
    if (e->aud) {
        AK_ENSURE(aud != NULL, AK_E_TOKEN_CLAIMS);
        bool found = false;
        if (json_is_string(aud)) {
            found = ak_cur_eq_str(ak_cur_from(json_string_value(aud), json_string_length(aud)), e->aud);
        } else {
            for (size_t i = 0; i < json_array_size(aud) && !found; i++) {
                json_t *a = json_array_get(aud, i);
                found = ak_cur_eq_str(ak_cur_from(json_string_value(a), json_string_length(a)), e->aud);
            }
        }
        AK_ENSURE(found, AK_E_TOKEN_CLAIMS);
    }
    return AK_OK;
}

ak_err ak_jwt_verify(ak_cur token, const ak_jwks *jwks, const ak_jwt_expect *expect, ak_jws *out) {
    ak_err rc = AK_OK;
    AK_GUARD(ak_jws_parse(token, out));
    AK_GUARD_OUT(ak_jws_verify_jwks(out, jwks));
    AK_GUARD_OUT(ak_jwt_check_claims(out, expect));
out:
    if (rc != AK_OK) ak_jws_free(out);
    return rc;
}

/* ------------------------------------------------------------------ JWK / JWKS */

/* RFC 7517 §4.3: "key_ops" is an array of unique strings naming the operations the key is
 * intended for. Every key read here is used to verify signatures, so when the member is present
 * it must be well-formed and list "verify"; a key meant only for "sign", "encrypt", ... is
 * refused rather than used against its stated intent. Absent: no restriction (§4.3 optional). */
static ak_err s_key_ops_verify(const json_t *ops) {
    if (ops == NULL) return AK_OK;
    AK_ENSURE(json_is_array(ops), AK_E_BAD_KEY);
    bool verify = false;
    for (size_t i = 0; i < json_array_size(ops); i++) {
        const json_t *v = json_array_get(ops, i);
        AK_ENSURE(json_is_string(v), AK_E_BAD_KEY);
        /* "Duplicate key operation values MUST NOT be present in the array." */
        for (size_t j = 0; j < i; j++)
            AK_ENSURE(!json_equal((json_t *)v, json_array_get(ops, j)), AK_E_BAD_KEY);
        if (strcmp(json_string_value(v), "verify") == 0 && json_string_length(v) == 6) verify = true;
    }
    AK_ENSURE(verify, AK_E_BAD_KEY);
    return AK_OK;
}

ak_err ak_jwk_p256_from_json(const json_t *jwk, ak_jwk_p256 *out) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    AK_ENSURE(json_is_object(jwk), AK_E_BAD_KEY);
    ak_cur kty, crv, x, y, kid, use, alg;
    bool p_kty, p_crv, p_x, p_y, p_kid, p_use, p_alg;
    AK_GUARD(s_str_opt(jwk, "kty", &kty, &p_kty, AK_E_BAD_KEY));
    AK_GUARD(s_str_opt(jwk, "crv", &crv, &p_crv, AK_E_BAD_KEY));
    AK_ENSURE(p_kty && ak_cur_eq_str(kty, "EC") && p_crv && ak_cur_eq_str(crv, "P-256"), AK_E_BAD_KEY);
    AK_ENSURE(json_object_get(jwk, "d") == NULL, AK_E_BAD_KEY);
    AK_GUARD(s_str_opt(jwk, "x", &x, &p_x, AK_E_BAD_KEY));
    AK_GUARD(s_str_opt(jwk, "y", &y, &p_y, AK_E_BAD_KEY));
    AK_ENSURE(p_x && p_y, AK_E_BAD_KEY);
    out->pub65[0] = 0x04;
    /* RFC 7518 §6.2.1.2: x and y are the full 32-byte coordinates, not shortened. */
    AK_GUARD(s_key(s_b64url_exact(x, out->pub65 + 1, 32)));
    AK_GUARD(s_key(s_b64url_exact(y, out->pub65 + 33, 32)));
    AK_ENSURE(ak_p256_pub_valid(out->pub65), AK_E_BAD_KEY);
    AK_GUARD(s_str_opt(jwk, "use", &use, &p_use, AK_E_BAD_KEY));
    AK_ENSURE(!p_use || ak_cur_eq_str(use, "sig"), AK_E_BAD_KEY);
    AK_GUARD(s_str_opt(jwk, "alg", &alg, &p_alg, AK_E_BAD_KEY));
    AK_ENSURE(!p_alg || ak_cur_eq_str(alg, "ES256"), AK_E_BAD_KEY);
    AK_GUARD(s_key_ops_verify(json_object_get(jwk, "key_ops")));
    AK_GUARD(s_str_opt(jwk, "kid", &kid, &p_kid, AK_E_BAD_KEY));
    if (p_kid) AK_GUARD(s_key(ak_cur_to_cstr(kid, out->kid, sizeof(out->kid))));
    return AK_OK;
}

static ak_err s_set_b64url(json_t *o, const char *k, const uint8_t *p, size_t n) {
    ak_buf b;
    ak_buf_init(&b, 128);
    ak_err rc = ak_b64url_encode(p, n, &b);
    if (rc == AK_OK && json_object_set_new(o, k, json_stringn((const char *)b.ptr, b.len)) != 0)
        rc = AK_E_NOMEM;
    ak_buf_free(&b);
    return rc;
}

ak_err ak_jwk_p256_to_json(const ak_jwk_p256 *key, json_t **out) {
    AK_PRECOND(key != NULL && out != NULL);
    *out = NULL;
    ak_err rc = AK_OK;
    json_t *o = json_object();
    AK_ENSURE_OUT(o != NULL, AK_E_NOMEM);
    AK_ENSURE_OUT(json_object_set_new(o, "kty", json_string("EC")) == 0, AK_E_NOMEM);
    AK_ENSURE_OUT(json_object_set_new(o, "crv", json_string("P-256")) == 0, AK_E_NOMEM);
    AK_GUARD_OUT(s_set_b64url(o, "x", key->pub65 + 1, 32));
    AK_GUARD_OUT(s_set_b64url(o, "y", key->pub65 + 33, 32));
    if (key->kid[0])
        AK_ENSURE_OUT(json_object_set_new(o, "kid", json_string(key->kid)) == 0, AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(json_object_set_new(o, "use", json_string("sig")) == 0, AK_E_NOMEM);
    AK_ENSURE_OUT(json_object_set_new(o, "alg", json_string("ES256")) == 0, AK_E_NOMEM);
    if (key->x5c) {
        /* RFC 7517 §4.7: an array of standard-base64 (not url) DER certificates. */
        json_t *arr = json_array();
        AK_ENSURE_OUT(arr != NULL, AK_E_NOMEM);
        AK_ENSURE_OUT(json_object_set_new(o, "x5c", arr) == 0, AK_E_NOMEM);
        AK_ENSURE_OUT(json_array_append_new(arr, json_string(key->x5c)) == 0, AK_E_INVALID_INPUT);
    }
    *out = o;
    o = NULL;
out:
    json_decref(o);
    return rc;
}

ak_err ak_jwks_parse(ak_cur text, ak_jwks *out) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    ak_err rc = AK_OK;
    AK_GUARD(ak_json_parse_object(text, &root));
    json_t *keys = json_object_get(root, "keys");
    AK_ENSURE_OUT(json_is_array(keys), AK_E_BAD_KEY);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        AK_ENSURE_OUT(json_is_object(k), AK_E_BAD_KEY);
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *crv = json_string_value(json_object_get(k, "crv"));
        AK_ENSURE_OUT(kty != NULL, AK_E_BAD_KEY);
        if (strcmp(kty, "EC") != 0 || crv == NULL || strcmp(crv, "P-256") != 0)
            continue; /* not ours to use */
        AK_ENSURE_OUT(out->n < AK_JWKS_MAX_KEYS, AK_E_LIMIT);
        AK_GUARD_OUT(ak_jwk_p256_from_json(k, &out->keys[out->n]));
        /* Duplicate kids would make key selection ambiguous. */
        for (size_t j = 0; j < out->n; j++)
            AK_ENSURE_OUT(strcmp(out->keys[j].kid, out->keys[out->n].kid) != 0, AK_E_BAD_KEY);
        out->n++;
    }
out:
    json_decref(root);
    if (rc != AK_OK) memset(out, 0, sizeof(*out));
    return rc;
}

ak_err ak_jwks_dump(const ak_jwks *jwks, ak_buf *out) {
    AK_PRECOND(jwks != NULL && out != NULL);
    ak_err rc = AK_OK;
    json_t *root = json_object();
    json_t *arr = json_array();
    if (root == NULL || arr == NULL || json_object_set_new(root, "keys", arr) != 0) {
        json_decref(root);
        return AK_E_NOMEM;
    }
    for (size_t i = 0; i < jwks->n && i < AK_JWKS_MAX_KEYS; i++) {
        json_t *k = NULL;
        AK_GUARD_OUT(ak_jwk_p256_to_json(&jwks->keys[i], &k));
        AK_ENSURE_OUT(json_array_append_new(arr, k) == 0, AK_E_NOMEM);
    }
    AK_GUARD_OUT(ak_json_dump(root, out));
out:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ RFC 7638 thumbprints */

ak_err ak_jwk_thumbprint(const json_t *jwk, uint8_t out[32]) {
    AK_ENSURE(json_is_object(jwk), AK_E_BAD_KEY);
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    AK_ENSURE(kty != NULL, AK_E_BAD_KEY);
    /* §3.2: the required members for each key type, in lexicographic order. */
    static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
    static const char *const rsa[] = {"e", "kty", "n", NULL};
    static const char *const okp[] = {"crv", "kty", "x", NULL};
    const char *const *members = strcmp(kty, "EC") == 0    ? ec
                                 : strcmp(kty, "RSA") == 0 ? rsa
                                 : strcmp(kty, "OKP") == 0 ? okp
                                                           : NULL;
    AK_ENSURE(members != NULL, AK_E_BAD_KEY);
    ak_err rc = AK_OK;
    ak_buf canon;
    ak_buf_init(&canon, 16384);
    json_t *c = json_object();
    AK_ENSURE_OUT(c != NULL, AK_E_NOMEM);
    for (const char *const *m = members; *m; m++) {
        json_t *v = json_object_get(jwk, *m);
        AK_ENSURE_OUT(json_is_string(v), AK_E_BAD_KEY);
        AK_ENSURE_OUT(json_object_set(c, *m, v) == 0, AK_E_NOMEM);
    }
    /* §3.3: no whitespace, members sorted; member values are base64url or fixed ASCII names, so
     * jansson's compact output has no escapes to disagree about. */
    AK_GUARD_OUT(ak_json_dump_sorted(c, &canon));
    ak_sha256(canon.ptr, canon.len, out);
out:
    json_decref(c);
    ak_buf_free(&canon);
    return rc;
}

ak_err ak_jwk_p256_thumbprint(const uint8_t pub65[65], uint8_t out[32]) {
    ak_err rc = AK_OK;
    ak_buf canon;
    ak_buf_init(&canon, 256);
    AK_GUARD_OUT(ak_buf_append_str(&canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""));
    AK_GUARD_OUT(ak_b64url_encode(pub65 + 1, 32, &canon));
    AK_GUARD_OUT(ak_buf_append_str(&canon, "\",\"y\":\""));
    AK_GUARD_OUT(ak_b64url_encode(pub65 + 33, 32, &canon));
    AK_GUARD_OUT(ak_buf_append_str(&canon, "\"}"));
    ak_sha256(canon.ptr, canon.len, out);
out:
    ak_buf_free(&canon);
    return rc;
}

ak_err ak_jwk_p256_thumbprint_b64(const uint8_t pub65[65], char out[44]) {
    uint8_t h[32];
    AK_GUARD(ak_jwk_p256_thumbprint(pub65, h));
    ak_buf b;
    ak_buf_init(&b, 64);
    ak_err rc = ak_b64url_encode(h, 32, &b);
    if (rc == AK_OK) rc = ak_cur_to_cstr(ak_buf_cur(&b), out, 44);
    ak_buf_free(&b);
    return rc;
}
