/*
 * jwstool — ES256 JWS/JWKS from the command line, for the npm `jose` interop test
 * (tests/e2e/jose_interop_test.sh) and for debugging. Never prints private keys.
 *
 *   jwstool sign TYP CLAIMS_JSON
 *       Generates a throwaway P-256 key whose kid is its RFC 7638 thumbprint, signs CLAIMS_JSON
 *       (a JSON object) as a compact JWS with header {"alg":"ES256","typ":TYP,"kid":…}, and prints
 *       two lines: the token, then the JWKS ({"keys":[…]}) holding the public key.
 *   jwstool verify JWKS_FILE TOKEN_FILE [ISS AUD TYP]
 *       Verifies the token against the JWKS (kid selection) and, when given, iss/aud/typ with
 *       exp required and 60 s skew at the current time. Prints "ok" or "error <reason>".
 *   jwstool thumbprint JWK_JSON
 *       Prints the RFC 7638 thumbprint (base64url) of a JWK.
 * Exit status: 0 ok, 1 verification/signing error, 2 usage.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/jose.h"
#include "ak/json.h"

static int s_read(const char *path, ak_buf *out) {
    if (ak_buf_append_file(out, path) == AK_OK) return 0;
    fprintf(stderr, "jwstool: cannot read %s\n", path);
    return -1;
}

static int s_err(ak_err e) {
    printf("error %s\n", ak_err_reason(e));
    return 1;
}

static int s_sign(const char *typ, const char *claims_text) {
    uint8_t priv[32];
    ak_jwks set = {.n = 1};
    ak_buf tok, jwks;
    json_t *claims = NULL;
    ak_buf_init(&tok, 65536);
    ak_buf_init(&jwks, 65536);
    ak_err rc = ak_p256_keygen(priv, set.keys[0].pub65);
    if (rc == AK_OK) rc = ak_jwk_p256_thumbprint_b64(set.keys[0].pub65, set.keys[0].kid);
    if (rc == AK_OK) rc = ak_json_parse_object(ak_cur_from_str(claims_text), &claims);
    if (rc == AK_OK) rc = ak_jwt_sign_es256(set.keys[0].kid, typ, claims, ak_jws_sign_local, priv, &tok);
    if (rc == AK_OK) rc = ak_jwks_dump(&set, &jwks);
    ak_wipe(priv, sizeof(priv));
    json_decref(claims);
    int status = 0;
    if (rc == AK_OK)
        printf("%s\n%s\n", ak_buf_cstr(&tok), ak_buf_cstr(&jwks));
    else
        status = s_err(rc);
    ak_buf_free(&tok);
    ak_buf_free(&jwks);
    return status;
}

static int s_verify(int argc, char **argv) {
    ak_buf jwks_text, token;
    ak_buf_init(&jwks_text, 1u << 20);
    ak_buf_init(&token, 1u << 20);
    if (s_read(argv[0], &jwks_text) != 0 || s_read(argv[1], &token) != 0) return 2;
    ak_jwks set;
    ak_jws j;
    ak_err rc = ak_jwks_parse(ak_buf_cur(&jwks_text), &set);
    if (rc == AK_OK) {
        ak_jwt_expect ex = {.now = (uint64_t)time(NULL), .skew = 60};
        if (argc >= 5) {
            ex.iss = argv[2];
            ex.aud = argv[3];
            ex.typ = argv[4];
            ex.require_exp = true;
        }
        rc = ak_jwt_verify(ak_cur_trim(ak_buf_cur(&token)), &set, &ex, &j);
        if (rc == AK_OK) ak_jws_free(&j);
    }
    ak_buf_free(&jwks_text);
    ak_buf_free(&token);
    if (rc != AK_OK) return s_err(rc);
    printf("ok\n");
    return 0;
}

static int s_thumbprint(const char *jwk_text) {
    json_t *jwk = NULL;
    uint8_t h[32];
    ak_buf b;
    ak_buf_init(&b, 64);
    ak_err rc = ak_json_parse_object(ak_cur_from_str(jwk_text), &jwk);
    if (rc == AK_OK) rc = ak_jwk_thumbprint(jwk, h);
    if (rc == AK_OK) rc = ak_b64url_encode(h, 32, &b);
    json_decref(jwk);
    int status = rc == AK_OK ? (printf("%s\n", ak_buf_cstr(&b)), 0) : s_err(rc);
    ak_buf_free(&b);
    return status;
}

int main(int argc, char **argv) {
    ak_alloc_install_jansson();
    if (argc == 4 && strcmp(argv[1], "sign") == 0) return s_sign(argv[2], argv[3]);
    if ((argc == 4 || argc == 7) && strcmp(argv[1], "verify") == 0) return s_verify(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "thumbprint") == 0) return s_thumbprint(argv[2]);
    fprintf(stderr, "usage: jwstool sign TYP CLAIMS_JSON | verify JWKS_FILE TOKEN_FILE [ISS AUD TYP] | "
                    "thumbprint JWK_JSON\n");
    return 2;
}
