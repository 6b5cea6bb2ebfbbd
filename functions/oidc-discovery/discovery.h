/*
 * functions/oidc-discovery/discovery.h — OidcDiscoveryFunction: the issuer's public documents
 * (broker.md §5; decisions D5, D13, D20), split from OidcFunction (issue 16, load finding 2).
 *
 *   GET /.well-known/openid-configuration   discovery (issuer = AK_ISSUER)
 *   GET /.well-known/jwks.json              the signer's OIDC key(s), each with its x5c
 *        certificate. Only the CURRENT key is served unless AK_OIDC_PUBLISH_PREVIOUS=1: Ceph
 *        RGW's STS (the local stack) accepts a JWKS of exactly one key (ceph-local.md gotcha 7),
 *        while AWS wants current + previous during a rotation (D5) — set the variable in AWS.
 *
 * Why a function of its own: STS (AWS, and Ceph locally) fetches the JWKS from the issuer while
 * OidcFunction's POST /v1/mint-aws-creds waits for STS. Served by OidcFunction itself, enough
 * concurrent mints to fill its instances (reserved concurrency, the account limit, a cold burst;
 * the emulator's --max-instances) left no instance to answer STS: every mint stalled until its
 * deadline. This function never calls STS, so it is always free to answer.
 *
 * Least privilege (D20): the signer identity `discovery` may read only /v1/health, /v1/keys and
 * /v1/attest (no signing key, no KEK); no S3, no chain, no audit (the documents are public).
 * Environment: AK_ISSUER, the signer group of ak/svc.h, AK_OIDC_PUBLISH_PREVIOUS.
 */
#ifndef AK_FN_OIDC_DISCOVERY_H
#define AK_FN_OIDC_DISCOVERY_H

#include <stdbool.h>

#include "ak/err.h"
#include "ak/svc.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

typedef struct discovery_fn {
    ak_svc svc;
    bool publish_previous;
} discovery_fn;

/* Reads AK_OIDC_PUBLISH_PREVIOUS ("1" publishes the previous OIDC key too). */
void discovery_configure(discovery_fn *d);
ak_err discovery_init(void *user);
ak_err discovery_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user);

#endif
