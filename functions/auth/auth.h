/*
 * functions/auth/auth.h — AuthFunction: SIWE wallet login (broker.md §3, D16) and the session
 * JWT (broker.md §4), signed by the signer enclave's session key (D5).
 *
 *   POST /v1/auth/wallet/start   {"address":"0x…","chain_id":N[,"source_ip":"…"]}
 *        → 200 {"request_id","expires_in_seconds":2700,"siwe_message","nonce","expires_at_iso"}
 *        The challenge is persisted as s3://$AK_STATE_BUCKET/siwe/pending/<request_id>.json
 *        (Lambdas are stateless). chain_id other than AK_CHAIN_ID → 400 invalid_input. The
 *        address is accepted in one case or in its EIP-55 form (a mixed-case address with a
 *        wrong checksum → 400 invalid_address); the message carries the EIP-55 form (EIP-4361).
 *   POST /v1/auth/wallet/verify  {"request_id","signature":"0x<130 hex>"[,"message":"…"]}
 *        → 200 {"session_jwt","session_jwt_kid","expires_at","omni_account","wallet_address",
 *               "identity_type":"evm","identity_value","session_kind","operator_omni",
 *               "device_key_hash"}
 *
 * Verify, in order (first failure wins):
 *   1. request_id "siwe-" + 32 lowercase hex (else 400 invalid_input); the pending challenge
 *      (absent → 401 siwe_nonce_invalid).
 *   2. the optional `message` (the text the wallet signed, as standard SIWE clients send it):
 *      parse (400 siwe_malformed), scheme/domain/URI ours (401 siwe_domain_mismatch), Chain ID
 *      ours (401 siwe_chain_mismatch), nonce the challenge's (401 siwe_nonce_invalid),
 *      Expiration Time / Not Before (401 siwe_expired), then byte-equal to the issued message
 *      (else 401 siwe_signature_invalid: the signature is not over our challenge).
 *      Without `message` the issued message is used; its own fields are checked the same way.
 *   3. expiry of the challenge (now ≥ expires_at → 401 siwe_expired).
 *   4. nonce consumed: PUT siwe/used/<nonce> with If-None-Match: * — a replay, even a
 *      concurrent one in another Lambda, gets 412/409 → 401 siwe_nonce_invalid.
 *   5. EIP-191 ecrecover over the exact message bytes = the challenge's address
 *      (401 siwe_signature_invalid).
 *   6. D16 registry read of device_key_hash = keccak256(address) (502 chain_rpc_error):
 *      active agent device → agent session (actorOmni must be omni(address), else 403
 *      device_binding_mismatch); active master device → master session of its operator;
 *      unregistered → master session of omni(address); revoked → 403 device_revoked.
 *   7. session JWT signed (signer errors pass through: 503 signer_unavailable, …).
 *   8. audit event "login" (D12; failure → 503 audit_write_failed, no session returned).
 */
#ifndef AK_FN_AUTH_H
#define AK_FN_AUTH_H

#include <stdint.h>

#include "ak/err.h"
#include "ak/svc.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

#define AUTH_SIWE_TTL 2700u
#define AUTH_STATEMENT "Authenticate with AgentKeys broker."
#define AUTH_RESOURCE "urn:agentkeys:client:agentkeys"

typedef struct auth_fn {
    ak_svc svc;
    char state_bucket[AK_SVC_BUCKET_MAX + 1];
    char domain[AK_SVC_ISSUER_MAX + 1]; /* AK_ISSUER after "://" up to the first '/' */
    uint64_t session_ttl;               /* AK_SESSION_TTL_SECONDS, default 18000, [60, 86400] */
    uint64_t (*now_us)(void);           /* clock (tests replace it) */
} auth_fn;

/* Reads the function's own settings (AK_STATE_BUCKET, AK_SESSION_TTL_SECONDS) and derives the
 * SIWE domain from svc.issuer. The svc must be set up first. AK_E_CONFIG. */
AK_MUST ak_err auth_configure(auth_fn *a);
/* akrt_init_fn: ak_svc_init(AK_SVC_BROKER) + auth_configure. `user` is an auth_fn. */
ak_err auth_init(void *user);
/* akrt_http_handler for both routes. `user` is the auth_fn. */
ak_err auth_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user);

#endif
