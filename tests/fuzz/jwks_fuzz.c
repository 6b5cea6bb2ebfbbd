/*
 * jwks_fuzz.c — JWK sets (ak/jose.h): ak_jwks_parse on arbitrary text (key sets come from the
 * signer and from OIDC discovery), the ak_jwks_dump round trip, and RFC 7638 thumbprints of every
 * key object in the document.
 *
 * Properties: no crash, overread, leak or UB; a set that parses has at most AK_JWKS_MAX_KEYS
 * valid points and distinct kids, dumps, and the dump parses to the same set (fixed point); a
 * P-256 key's thumbprint from its JSON object equals the one computed from the parsed point.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/jose.h"
#include "ak/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool s_set_eq(const ak_jwks *a, const ak_jwks *b) {
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(a->keys[i].pub65, b->keys[i].pub65, 65) != 0 ||
            strcmp(a->keys[i].kid, b->keys[i].kid) != 0)
            return false;
    return true;
}

/* Thumbprints of the document's key objects; P-256 ones must match the parsed set, in order. */
static void s_thumbprints(ak_cur in, const ak_jwks *set) {
    json_t *root = NULL;
    if (ak_json_parse_object(in, &root) != AK_OK) return;
    const json_t *keys = json_object_get(root, "keys");
    size_t ours = 0;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *k = json_array_get(keys, i);
        uint8_t t[32], t2[32];
        ak_err e = ak_jwk_thumbprint(k, t);
        if (e != AK_OK && e != AK_E_BAD_KEY && e != AK_E_NOMEM) abort();
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *crv = json_string_value(json_object_get(k, "crv"));
        if (set == NULL || kty == NULL || crv == NULL || strcmp(kty, "EC") != 0 || strcmp(crv, "P-256") != 0)
            continue;
        if (ours >= set->n || e != AK_OK) abort();
        if (ak_jwk_p256_thumbprint(set->keys[ours].pub65, t2) != AK_OK || memcmp(t, t2, 32) != 0) abort();
        char b64[44];
        if (ak_jwk_p256_thumbprint_b64(set->keys[ours].pub65, b64) != AK_OK || strlen(b64) != 43) abort();
        ours++;
    }
    if (set != NULL && ours != set->n) abort();
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int installed;
    if (!installed) {
        ak_alloc_install_jansson();
        installed = 1;
    }
    ak_cur in = ak_cur_from(data, size);
    ak_jwks set, again;
    ak_err e = ak_jwks_parse(in, &set);
    if (e != AK_OK) {
        static const ak_jwks zero;
        if (memcmp(&set, &zero, sizeof(set)) != 0) abort(); /* nothing half-parsed */
        s_thumbprints(in, NULL);
        return 0;
    }
    if (set.n > AK_JWKS_MAX_KEYS) abort();
    for (size_t i = 0; i < set.n; i++) {
        if (!ak_p256_pub_valid(set.keys[i].pub65)) abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(set.keys[i].kid, set.keys[j].kid) == 0) abort();
    }
    ak_buf text;
    ak_buf_init(&text, 1u << 20);
    if (ak_jwks_dump(&set, &text) != AK_OK) abort();
    if (ak_jwks_parse(ak_buf_cur(&text), &again) != AK_OK) abort();
    if (!s_set_eq(&set, &again)) abort();
    ak_buf_free(&text);
    s_thumbprints(in, &set);
    return 0;
}
