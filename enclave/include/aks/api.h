/*
 * aks/api.h — the signer protocol: roles, the authorization table, and request dispatch.
 *
 * JSON over HTTP/1.1 inside the mTLS session (keep-alive). Every error body is D14's
 * {"error":"<sentence>","reason":"<code>"} with the status from ak/err.h. Binary values are
 * standard base64 ("_b64") except JWS pieces (base64url, "_b64url"). Omni ids are 64 hex with or
 * without "0x" (ak_omni_parse). Unknown request members are refused (400 unknown_field).
 *
 *   GET  /v1/health        any role  -> {"status":"ok","role":R,"epoch_max":N,"measurement":"<96 hex>"}
 *   GET  /v1/keys          any role  -> {"keys":[JWK...]}  (JWKS; see below)
 *   POST /v1/attest        any role  {"nonce_b64"} (16..64 bytes) -> {"format":"local"|"nitro","document":...}
 *                                    (local: compact JWS; nitro: base64 NSM document; ak/attest.h)
 *   POST /v1/kek/derive    worker-credentials for "credentials", worker-memory for "memory"
 *        {"data_class","operator_omni","actor_omni","epoch","op","cap"} -> {"kek_b64","epoch","data_class"}
 *        D20: `cap` is the agent's cap (compact JWS) and `op` the worker route's op; the signer
 *        verifies the cap itself (ak_cap_verify against its own cap keys: signature, expiry, op,
 *        class, K10 PoP) and that operator, actor and epoch are the cap's (store: epoch ==
 *        k3_epoch; fetch/use: epoch <= k3_epoch); a teardown cap derives nothing.
 *        epoch >= 1; an epoch above the chain's current one -> 403 epoch_not_current; chain
 *        unreadable when it must be read -> 502 chain_rpc_error (D6, D7)
 *   POST /v1/sign          auth (key "session"), oidc (key "oidc"), cap-mint (key "cap") — each its
 *        own key only (D20)  {"key":"session"|"oidc"|"cap","signing_input_b64"}
 *        signing_input = ASCII b64url(header) "." b64url(payload) (<= AK_MAX_JWS); the header
 *        must be JSON with alg "ES256", typ "JWT" (session, oidc) or "ak-cap+jwt" (cap), and kid
 *        naming a held key of that purpose (current or previous) -> {"sig_b64url","kid","key"}
 *        (raw r‖s over SHA-256(signing_input), D4). A wrong typ/alg -> 400 invalid_input; an
 *        unknown kid -> 409 conflict (refresh /v1/keys and retry); another role's key -> 403
 *        role_not_allowed.
 *   POST /v1/rotate        admin only (operator tooling; no function holds it) {"key"}
 *        -> {"key","kid","previous_kid"}
 *
 *   JWK: {"kty":"EC","crv":"P-256","x","y","kid","use":"sig","alg":"ES256",
 *         "ak_key":"session|oidc|cap","ak_status":"current|previous"[,"x5c":["<b64 DER>"]]}
 *   x5c only on oidc keys: a self-signed certificate of that key (aks/x509.h).
 *
 * Wrong method on a known path -> 405 method_not_allowed; unknown path -> 404 route_not_found;
 * a caller with no recognised role gets 403 role_not_allowed on every path.
 */
#ifndef AKS_API_H
#define AKS_API_H

#include <pthread.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/cap.h"
#include "aks/attester.h"
#include "aks/epochs.h"
#include "aks/http.h"
#include "aks/keystore.h"

/* One client identity per calling function (D20; issue 16 finding 1). */
typedef enum aks_role {
    AKS_ROLE_NONE = 0,
    AKS_ROLE_AUTH,               /* AuthFunction: signs with the session key only */
    AKS_ROLE_OIDC,               /* OidcFunction: signs with the OIDC key only */
    AKS_ROLE_CAP_MINT,           /* CapMintFunction: signs with the cap key only */
    AKS_ROLE_WORKER_CREDENTIALS, /* credentials workers: derive credentials KEKs, cap in hand */
    AKS_ROLE_WORKER_MEMORY,      /* memory workers: derive memory KEKs, cap in hand */
    AKS_ROLE_AUDIT,              /* audit and readiness functions: read-only endpoints */
    AKS_ROLE_ADMIN,              /* operator tooling, never given to a function: rotation only */
    AKS_ROLE_DISCOVERY,          /* OidcDiscoveryFunction: read-only endpoints (its JWKS) */
} aks_role;

#define AKS_ROLE_URI_PREFIX "spiffe://agentkeys/role/"

const char *aks_role_name(aks_role r); /* "auth", "oidc", "cap-mint", ..., "discovery", "none" */
/*
 * Maps a client certificate's identity to a role. `uri0`/`uri1` are the SAN URIs found (up to
 * two, NULL/empty = absent).
 *   - A SAN URI "spiffe://agentkeys/role/<role>" names the role; other URIs say nothing.
 *   - The subject CN is never consulted (issue 16 finding 8): a certificate whose role is only
 *     in its CN has no role.
 *   - Two URIs naming different roles give AKS_ROLE_NONE (ambiguous identities get nothing).
 */
aks_role aks_role_from_identity(const char *uri0, const char *uri1);

typedef struct aks_x5c_cache {
    char kid[AKS_KID_MAX];
    ak_buf b64; /* base64 DER */
} aks_x5c_cache;

typedef struct aks_ctx {
    aks_keystore *ks;
    aks_epochs *epochs;
    aks_attester *attester;
    uint8_t measurement[48];
    uint8_t tls_pub[65];
    unsigned x5c_days;
    pthread_mutex_t x5c_mu;
    aks_x5c_cache x5c[2];
    /* Verified cap signatures (issue 19): a worker presents the same cap on every request until
     * it expires, so /v1/kek/derive skips the P-256 verify for exact bytes it verified before.
     * Guarded by cap_mu (connections are threads); emptied whenever the cap key set it was filled
     * under (cap_keys_seen) changes. */
    pthread_mutex_t cap_mu;
    ak_cap_sig_cache cap_cache;
    ak_jwks cap_keys_seen;
} aks_ctx;

void aks_ctx_init(aks_ctx *c);
void aks_ctx_free(aks_ctx *c);

/* Handles one parsed request as `role`. Always produces a JSON body (success or D14 error) and
 * a status; *err_out (optional) gets the ak_err behind an error status (AK_OK on success). */
void aks_api_handle(aks_ctx *ctx, aks_role role, const aks_http_req *req, int *status, ak_buf *body,
                    ak_err *err_out);

/* The D14 error body for `e`. */
AK_MUST ak_err aks_api_error_body(ak_err e, ak_buf *body);

#endif
