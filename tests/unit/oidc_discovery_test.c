/*
 * oidc_discovery_test.c — OidcDiscoveryFunction's handler (functions/oidc-discovery) against
 * fakes: the discovery document, the JWKS (current key only, or current + previous with
 * AK_OIDC_PUBLISH_PREVIOUS=1; every key with x5c), refusals (wrong method, other routes, a
 * signer that is down, a JWKS without x5c) and the sample events. OidcFunction no longer
 * answers these routes (tests/unit/oidc_test.c).
 */
#include "../../functions/oidc-discovery/discovery.c"

#include "test.h"

#include <stdlib.h>

#include "broker_fakes.h"

static discovery_fn DF;

static void s_setup(void) {
    memset(&DF, 0, sizeof(DF));
    bf_reset(&DF.svc);
    unsetenv("AK_OIDC_PUBLISH_PREVIOUS");
    discovery_configure(&DF);
}

static void s_teardown(void) { bf_free(&DF.svc); }

/* The signer's JWKS during an OIDC rotation: current and previous OIDC keys; `x5c` false leaves
 * the certificate out of the previous key. */
static bool s_prev_x5c = true;
static ak_err s_keys_rotating(ak_svc *svc, ak_buf *out) {
    (void)svc;
    json_t *arr = json_array();
    for (int i = 0; i < 2; i++) {
        ak_jwk_p256 k;
        memset(&k, 0, sizeof(k));
        memcpy(k.pub65, BF.pub[AK_SIGNER_KEY_OIDC], 65);
        snprintf(k.kid, sizeof(k.kid), "%s", i == 0 ? "v1-2" : "v1-1");
        if (i == 0 || s_prev_x5c) k.x5c = "MIIBcert";
        json_t *j;
        if (ak_jwk_p256_to_json(&k, &j) != AK_OK) return AK_E_INTERNAL;
        json_object_set_new(j, "ak_key", json_string("oidc"));
        json_object_set_new(j, "ak_status", json_string(i == 0 ? "current" : "previous"));
        json_array_append_new(arr, j);
    }
    json_t *root = json_pack("{s:o}", "keys", arr);
    ak_err rc = ak_json_dump(root, out);
    json_decref(root);
    return rc;
}

AK_TEST(test_discovery_document) {
    s_setup();
    bf_call c;
    bf_invoke(&c, discovery_handle, &DF, "GET", "/.well-known/openid-configuration", NULL, NULL);
    EXPECT_INT_EQ(c.status, 200);
    EXPECT_STR_EQ(bf_str(&c, "issuer"), BF_ISSUER);
    EXPECT_STR_EQ(bf_str(&c, "jwks_uri"), BF_ISSUER "/.well-known/jwks.json");
    EXPECT_STR_EQ(json_string_value(
                      json_array_get(json_object_get(c.body, "id_token_signing_alg_values_supported"), 0)),
                  "ES256");
    EXPECT_INT_EQ(json_array_size(json_object_get(c.body, "claims_supported")), 14);
    bf_call_free(&c);
    /* the document needs no signer */
    BF.sign_err = AK_E_SIGNER_UNAVAILABLE;
    bf_invoke(&c, discovery_handle, &DF, "GET", "/.well-known/openid-configuration", NULL, NULL);
    EXPECT_INT_EQ(c.status, 200);
    bf_call_free(&c);
    s_teardown();
}

AK_TEST(test_jwks_current_key) {
    s_setup();
    bf_call c;
    bf_invoke(&c, discovery_handle, &DF, "GET", "/.well-known/jwks.json", NULL, NULL);
    EXPECT_INT_EQ(c.status, 200);
    json_t *keys = json_object_get(c.body, "keys");
    EXPECT_INT_EQ(json_array_size(keys), 1); /* Ceph gotcha 7: exactly one key */
    json_t *k = json_array_get(keys, 0);
    EXPECT_STR_EQ(json_string_value(json_object_get(k, "kid")), "v1-1");
    EXPECT_TRUE(json_is_array(json_object_get(k, "x5c")));
    EXPECT_TRUE(json_object_get(k, "ak_key") == NULL);
    ak_jwk_p256 parsed;
    EXPECT_OK(ak_jwk_p256_from_json(k, &parsed));
    EXPECT_BYTES_EQ(parsed.pub65, 65, BF.pub[AK_SIGNER_KEY_OIDC], 65);
    bf_call_free(&c);
    /* the signer down: the JWKS fails closed with the signer's reason */
    BF.sign_err = AK_E_SIGNER_UNAVAILABLE;
    bf_invoke(&c, discovery_handle, &DF, "GET", "/.well-known/jwks.json", NULL, NULL);
    BF_EXPECT_REASON(&c, AK_E_SIGNER_UNAVAILABLE);
    bf_call_free(&c);
    s_teardown();
}

AK_TEST(test_jwks_previous_key) {
    s_setup();
    DF.svc.ops.keys = s_keys_rotating;
    s_prev_x5c = true;
    bf_call c;
    /* default: the current key only, even during a rotation */
    bf_invoke(&c, discovery_handle, &DF, "GET", "/.well-known/jwks.json", NULL, NULL);
    EXPECT_INT_EQ(c.status, 200);
    EXPECT_INT_EQ(json_array_size(json_object_get(c.body, "keys")), 1);
    EXPECT_STR_EQ(
        json_string_value(json_object_get(json_array_get(json_object_get(c.body, "keys"), 0), "kid")),
        "v1-2");
    bf_call_free(&c);
    setenv("AK_OIDC_PUBLISH_PREVIOUS", "1", 1);
    discovery_configure(&DF);
    EXPECT_TRUE(DF.publish_previous);
    bf_invoke(&c, discovery_handle, &DF, "GET", "/.well-known/jwks.json", NULL, NULL);
    EXPECT_INT_EQ(c.status, 200);
    EXPECT_INT_EQ(json_array_size(json_object_get(c.body, "keys")), 2);
    bf_call_free(&c);
    /* a published key without its certificate: STS could not match it, so nothing is served */
    s_prev_x5c = false;
    bf_invoke(&c, discovery_handle, &DF, "GET", "/.well-known/jwks.json", NULL, NULL);
    BF_EXPECT_REASON(&c, AK_E_UPSTREAM);
    bf_call_free(&c);
    s_prev_x5c = true;
    setenv("AK_OIDC_PUBLISH_PREVIOUS", "yes", 1); /* only "1" turns it on */
    discovery_configure(&DF);
    EXPECT_FALSE(DF.publish_previous);
    unsetenv("AK_OIDC_PUBLISH_PREVIOUS");
    s_teardown();
}

AK_TEST(test_refusals) {
    s_setup();
    bf_call c;
    bf_invoke(&c, discovery_handle, &DF, "POST", "/.well-known/jwks.json", NULL, NULL);
    EXPECT_INT_EQ(c.status, 405);
    bf_call_free(&c);
    bf_invoke(&c, discovery_handle, &DF, "DELETE", "/.well-known/openid-configuration", NULL, NULL);
    EXPECT_INT_EQ(c.status, 405);
    bf_call_free(&c);
    /* the mint routes are OidcFunction's, not this function's */
    bf_invoke(&c, discovery_handle, &DF, "POST", "/v1/mint-aws-creds", NULL, NULL);
    BF_EXPECT_REASON(&c, AK_E_ROUTE_NOT_FOUND);
    bf_call_free(&c);
    bf_invoke(&c, discovery_handle, &DF, "GET", "/.well-known/jwks.json/x", NULL, NULL);
    BF_EXPECT_REASON(&c, AK_E_ROUTE_NOT_FOUND);
    bf_call_free(&c);
    s_teardown();
}

AK_TEST(test_sample_events) {
    s_setup();
    bf_call c;
    bf_invoke_event(&c, discovery_handle, &DF, "oidc-discovery.json");
    EXPECT_INT_EQ(c.status, 200);
    bf_call_free(&c);
    bf_invoke_event(&c, discovery_handle, &DF, "oidc-jwks.json");
    EXPECT_INT_EQ(c.status, 200);
    bf_call_free(&c);
    s_teardown();
}

AK_RUN_TESTS(AK_T(test_discovery_document), AK_T(test_jwks_current_key), AK_T(test_jwks_previous_key),
             AK_T(test_refusals), AK_T(test_sample_events))
