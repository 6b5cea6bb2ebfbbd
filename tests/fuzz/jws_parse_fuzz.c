/*
 * jws_parse_fuzz.c — the JWS/JWT path a worker or broker runs on a bearer token from outside:
 * ak_jws_parse -> ak_jws_verify_jwks / ak_jws_verify_p256 -> ak_jwt_check_claims, plus
 * ak_jwks_parse on the same bytes (JWKS documents come from the signer / OIDC discovery).
 * Every input must either fail cleanly with a reason or succeed; no crash, leak or UB.
 * Seeds: tests/fuzz/corpus/jws_parse_fuzz/ (valid tokens signed with the key below).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ak_jwks g_set;
static bool g_init;

static void s_init(void) {
    ak_alloc_install_jansson();
    /* A fixed key (the RFC 7515 A.3 key), so that seeds signed with it reach the claims checks. */
    static const uint8_t d[32] = {0x8e, 0x9b, 0x10, 0x9e, 0x71, 0x90, 0x98, 0xbf, 0x98, 0x04, 0x87,
                                  0xdf, 0x1f, 0x5d, 0x77, 0xe9, 0xcb, 0x29, 0x60, 0x6e, 0xbe, 0xd2,
                                  0x26, 0x3b, 0x5f, 0x57, 0xc2, 0x13, 0xdf, 0x84, 0xf4, 0xb2};
    g_set.n = 1;
    if (ak_p256_pub_from_priv(d, g_set.keys[0].pub65) != AK_OK) abort();
    memcpy(g_set.keys[0].kid, "k1", 3);
    g_init = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_init) s_init();
    size_t live = ak_alloc_live_count();
    ak_cur in = ak_cur_from(data, size);

    ak_jws j;
    if (ak_jws_parse(in, &j) == AK_OK) {
        /* a parsed token always has a header and claims object and a 64-byte signature */
        if (j.header == NULL || j.claims == NULL) abort();
        (void)ak_jws_verify_jwks(&j, &g_set);
        (void)ak_jws_verify_p256(&j, g_set.keys[0].pub65);
        ak_jwt_expect ex = {
            .now = 1700000000, .skew = 60, .typ = "JWT", .iss = "i", .aud = "a", .require_exp = true};
        (void)ak_jwt_check_claims(&j, &ex);
        ak_jwt_expect loose = {.now = 0, .max_age = 10};
        (void)ak_jwt_check_claims(&j, &loose);
        ak_jws_free(&j);
    }
    ak_jwks set;
    if (ak_jwks_parse(in, &set) == AK_OK) {
        if (set.n > AK_JWKS_MAX_KEYS) abort();
        for (size_t i = 0; i < set.n; i++)
            if (!ak_p256_pub_valid(set.keys[i].pub65)) abort();
    }
    if (ak_alloc_live_count() != live) abort(); /* leak on some path */
    return 0;
}
