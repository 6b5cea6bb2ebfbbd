/* discovery.c — OidcDiscoveryFunction's handler (see discovery.h). */
#include "discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void discovery_configure(discovery_fn *d) {
    const char *p = getenv("AK_OIDC_PUBLISH_PREVIOUS");
    d->publish_previous = p != NULL && strcmp(p, "1") == 0;
}

ak_err discovery_init(void *user) {
    discovery_fn *d = user;
    /* The signer (its public keys) and the issuer only: no S3, chain or audit bucket. */
    AK_GUARD(ak_svc_init(&d->svc, AK_SVC_SIGNER | AK_SVC_ISSUER));
    discovery_configure(d);
    return AK_OK;
}

static ak_err s_discovery(discovery_fn *d, akrt_http_resp *resp) {
    char jwks_uri[AK_SVC_ISSUER_MAX + 32];
    int n = snprintf(jwks_uri, sizeof(jwks_uri), "%s/.well-known/jwks.json", d->svc.issuer);
    AK_ENSURE(n > 0 && (size_t)n < sizeof(jwks_uri), AK_E_CONFIG);
    json_t *doc = json_pack("{s:s, s:s, s:[s], s:[s], s:[s], s:[s], s:[s], s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s]}",
                            "issuer", d->svc.issuer, "jwks_uri", jwks_uri, "response_types_supported",
                            "id_token", "subject_types_supported", "public",
                            "id_token_signing_alg_values_supported", "ES256", "scopes_supported", "openid",
                            "token_endpoint_auth_methods_supported", "none", "claims_supported", "iss", "sub",
                            "aud", "iat", "exp", "nbf", "agentkeys_attested_at", "agentkeys_enclave_tier",
                            "agentkeys_child_wallet", "agentkeys_grant_id", "agentkeys_operation",
                            "agentkeys_user_wallet", "agentkeys_actor_omni", "https://aws.amazon.com/tags");
    AK_ENSURE(doc != NULL, AK_E_NOMEM);
    ak_err rc = akrt_http_json(resp, 200, doc);
    json_decref(doc);
    if (rc == AK_OK) rc = akrt_http_set_header(resp, "cache-control", "public, max-age=300");
    return rc;
}

static ak_err s_jwks(discovery_fn *d, akrt_http_resp *resp) {
    json_t *keys = NULL, *doc = NULL;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(ak_svc_public_jwks(&d->svc, AK_SIGNER_KEY_OIDC, d->publish_previous, &keys));
    /* STS (AWS and Ceph) matches the issuer's certificate: every published key carries x5c. */
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *x5c = json_object_get(json_array_get(keys, i), "x5c");
        AK_ENSURE_OUT(json_is_array(x5c) && json_array_size(x5c) >= 1, AK_E_UPSTREAM);
    }
    doc = json_pack("{s:O}", "keys", keys);
    AK_ENSURE_OUT(doc != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(akrt_http_json(resp, 200, doc));
    AK_GUARD_OUT(akrt_http_set_header(resp, "cache-control", "public, max-age=300"));
out:
    if (keys) json_decref(keys);
    if (doc) json_decref(doc);
    return rc;
}

ak_err discovery_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user) {
    discovery_fn *d = user;
    bool jwks;
    if (ak_cur_eq_str(req->raw_path, "/.well-known/openid-configuration"))
        jwks = false;
    else if (ak_cur_eq_str(req->raw_path, "/.well-known/jwks.json"))
        jwks = true;
    else
        return AK_E_ROUTE_NOT_FOUND;
    if (!ak_cur_eq_str(req->method, "GET")) {
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", "GET");
    }
    ak_svc_begin(&d->svc, ctx->inv->deadline_ms);
    return jwks ? s_jwks(d, resp) : s_discovery(d, resp);
}
