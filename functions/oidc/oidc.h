/*
 * functions/oidc/oidc.h — OidcFunction: our OIDC issuer for STS federation (broker.md §5, §6;
 * iam.md; decisions D5, D12, D13, D17).
 *
 *   (GET /.well-known/openid-configuration and /.well-known/jwks.json, the documents STS reads
 *   while this function waits for it, are OidcDiscoveryFunction's: functions/oidc-discovery.)
 *   POST /v1/mint-oidc-jwt   Bearer session; body empty or {"actor_omni"?}
 *        → {"jwt","wallet","expiration","actor_omni"}
 *   POST /v1/mint-aws-creds  Bearer session; body empty or {"data_class"?:"credentials"|"memory"|
 *        "mail" (absent: "credentials", as the seed's callers expect), "actor_omni"?,
 *        "duration_seconds"? (900..3600, default 900)} → D13: OIDC JWT → STS AssumeRoleWithWebIdentity
 *        (role AK_VAULT_ROLE_ARN / AK_MEMORY_ROLE_ARN; unsigned call to AK_STS_ENDPOINT, default
 *        https://sts.<region>.amazonaws.com) → {"access_key_id","secret_access_key",
 *        "session_token","expiration","expiration_iso","actor_omni","wallet","data_class"}
 *
 * Actor (D17): absent = the session's actor. An agent session may name only itself; a master
 * session of O itself or an actor with SidecarRegistry.actorOperator(actor) == O; else 403
 * actor_mismatch. The session's device is re-checked on chain (D16): it must be registered (an
 * unregistered wallet's session may only bootstrap itself as first master, on chain: 403
 * device_not_registered), active (403 device_revoked), bound to the session's operator (and, for
 * an agent, to its actor; a master session to a master device: 403 device_binding_mismatch) and
 * hold CAP_MINT (403 device_role_missing).
 *
 * OIDC JWT (ES256, the signer's OIDC key, typ JWT): iss, sub "agentkeys:agent:<user_wallet>",
 * aud "sts.amazonaws.com", iat, exp (AK_OIDC_JWT_TTL_SECONDS, default 300, [60, 900]),
 * agentkeys_user_wallet, agentkeys_actor_omni, https://aws.amazon.com/tags {principal_tags:
 * {agentkeys_user_wallet:[…], agentkeys_actor_omni:[…]}, transitive_tag_keys:[both]}.
 *
 * Audit (D12/D13): one event per mint call, written before the answer (a failed write fails an
 * otherwise good call with 503 audit_write_failed). mint-aws-creds records requested_role
 * "data-role-via-jwt", outcome ok | auth_failed | backend_error | sts_error, token_sha256 of the
 * bearer, the wallet, the STS session name (with a microsecond suffix) and both actors (the
 * session's and the tagged one). Failure events are best effort (the original error is
 * returned). A refused call whose caller has no registered device (no or a bad session: outcome
 * auth_failed; an unregistered wallet's session: device_not_registered) writes no S3 object —
 * anyone could make one per request — but one log line ("mint refused": reason, action,
 * outcome, token_sha256, and unaudited_refusals, a per-process saturating count).
 */
#ifndef AK_FN_OIDC_H
#define AK_FN_OIDC_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/err.h"
#include "ak/sts.h"
#include "ak/svc.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

#define OIDC_AUD "sts.amazonaws.com"
/* Lifetimes bound how long a revoked device keeps access (README "Trust and revocation"): the
 * OIDC JWT (its holder can call STS itself until it expires) and the STS credentials minted
 * here. STS refuses below 900 s; above 3600 s the role's MaxSessionDuration (AWS default 1 h)
 * would refuse anyway, so the broker does not ask for more. */
#define OIDC_JWT_TTL_DEFAULT 300u
#define OIDC_JWT_TTL_MAX 900u
#define OIDC_STS_DURATION_DEFAULT 900u
#define OIDC_STS_DURATION_MAX 3600u

typedef struct oidc_fn oidc_fn;

/* The STS call (default: ak_sts_assume_role_with_web_identity on `sts`; tests replace it). */
typedef ak_err (*oidc_assume_fn)(oidc_fn *o, const ak_sts_web_identity *req, ak_sts_creds *out);

struct oidc_fn {
    ak_svc svc;
    ak_sts sts;
    bool has_sts;
    char vault_role_arn[AK_MAX_ARN];
    char memory_role_arn[AK_MAX_ARN];
    char mail_role_arn[AK_MAX_ARN]; /* optional: "" refuses data_class "mail" with config_error */
    uint64_t jwt_ttl;
    uint64_t unaudited_refusals; /* refusals of callers without a registered device (log only) */
    oidc_assume_fn assume;
    uint64_t (*now_us)(void);
};

/* Reads AK_VAULT_ROLE_ARN, AK_MEMORY_ROLE_ARN (required), AK_MAIL_ROLE_ARN (optional),
 * AK_OIDC_JWT_TTL_SECONDS (svc must be set up). AK_E_CONFIG. */
AK_MUST ak_err oidc_configure(oidc_fn *o);
ak_err oidc_init(void *user);
ak_err oidc_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user);

#endif
