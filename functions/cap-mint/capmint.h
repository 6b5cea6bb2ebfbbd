/*
 * functions/cap-mint/capmint.h — CapMintFunction: chain-checked capability tokens
 * (caps.md §1–§4, §6; decisions D2, D3, D4, D10, D12, D17).
 *
 * Routes (all POST, Bearer session JWT). The op and data class come ONLY from the matched route
 * (the event's routeKey, or rawPath when routeKey is "$default"; when both name a route they
 * must agree), never from the body:
 *   /v1/cap/cred-store  store/credentials     /v1/cap/memory-put       store/memory
 *   /v1/cap/cred-fetch  fetch/credentials     /v1/cap/memory-get       fetch/memory
 *   /v1/cap/cred-teardown teardown/credentials /v1/cap/memory-teardown teardown/memory
 *   /v1/cap/cred-use    use/credentials (D19: same checks as cred-fetch)
 *
 * Body (caps.md §2, unknown members refused): {"operator_omni","actor_omni","service",
 * "device_key_hash","ttl_seconds"?,"client_sig","client_nonce","client_ts"}.
 *
 * Mint, in order (first failure wins; caps.md §3 with D17):
 *    0. body: 400 invalid_json / missing_field / wrong_type / unknown_field / invalid_omni /
 *       bad_hex / invalid_input; service D3 → 400 invalid_service (memory: invalid_namespace)
 *    1. Bearer session JWT (ak_svc_verify_session) → 401 unauthorized
 *    2. teardown route with an agent session → 403 teardown_requires_master (D10)
 *       operator_omni ≠ session operator → 403 operator_mismatch
 *       non-teardown: actor_omni ≠ session actor → 403 actor_mismatch (D17), except that a
 *       master session may mint a STORE cap for another actor (D19: provisioning a credential,
 *       e.g. use-only, its agent can use but never read)
 *    4. getDevice(device_key_hash) not registered, or (when the PoP names another device) the
 *       session's own device not registered → 403 device_not_registered (D16: an unregistered
 *       wallet may only bootstrap itself as first master, on chain)
 *    5. revoked → 403 device_revoked
 *    6. device.operatorOmni ≠ session operator or device.actorOmni ≠ session actor
 *       → 403 device_binding_mismatch
 *    7. roles lack CAP_MINT → 403 device_role_missing
 *    8. K10 PoP (caps.md §4: fresh −300/+60 s, recovers to device_key_hash) and
 *       device_key_hash = the session wallet's → 403 cap_pop_invalid
 *    9. scope: skipped for a master session on its own data (actor = operator); a master
 *       teardown or store (D19) for another actor needs actorOperator(actor) = O (else 403
 *       actor_mismatch), and the store still needs the actor's scope below; otherwise isServiceInScope(O, actor, keccak256(class ":" service)) → 403
 *       service_not_in_scope (a scope of the other class grants nothing, D2)
 *   9b. store and teardown caps, except a master's on its own data: getScope(O, actor) with
 *       readOnly → 403 scope_read_only (whoever asks; lift or revoke the scope first)
 *   10. K3EpochCounter.currentEpoch() embedded (chain failures anywhere: 502 chain_rpc_error)
 *   11. claims (ak/cap.h) signed by the signer's cap key, typ ak-cap+jwt (503/500 on failure)
 *   12. audit event cap_mint (D12; failure → 503 audit_write_failed, no cap returned); a D19
 *       provisioning mint adds extra {"provisioned_for":"bound_actor","session_omni":"0x…"}
 *       next to the master's wallet/device/session_kind and the actor_omni
 *
 * Response 200: {"cap":"<compact JWS>","kid","jti","op","data_class","service",
 *                "operator_omni","actor_omni","k3_epoch","issued_at","expires_at"}
 */
#ifndef AK_FN_CAPMINT_H
#define AK_FN_CAPMINT_H

#include <stdint.h>

#include "ak/err.h"
#include "ak/svc.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

typedef struct capmint_fn {
    ak_svc svc;
    uint64_t (*now_us)(void); /* clock (tests replace it) */
} capmint_fn;

ak_err capmint_init(void *user);
ak_err capmint_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user);

#endif
