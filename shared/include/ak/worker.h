/*
 * ak/worker.h — the credentials and memory workers (DESIGN §1, §2 layer 2; decisions D6, D8,
 * D9, D11, D12, D14, D17, D19; workers.md §2/§3). The seven functions CredStore/CredFetch/
 * CredTeardown/CredUse and MemoryPut/MemoryGet/MemoryTeardown are this one pipeline with a
 * different (op, data class); their main.c is AK_WORKER_MAIN (functions/lib/worker_main.h).
 *
 * Request pipeline (D11; the first failure wins, each with its own reason, ak/err.h):
 *   1. X-Aws-Access-Key-Id / X-Aws-Secret-Access-Key / X-Aws-Session-Token: all three present
 *      and non-empty, or none. Some but not all, or any of them empty → 401 sts_headers_partial.
 *      None → 401 sts_headers_missing in strict mode (the default); with
 *      AGENTKEYS_WORKER_REQUIRE_STS = 0/false/no (local tests without IAM only) the execution
 *      role's credentials are used instead. The values are never logged and live only in the
 *      invocation arena (wiped after the response).
 *   2. Body, strict JSON object (unknown members → 400 unknown_field):
 *        store:            {"cap":"<compact JWS>","plaintext_b64":"<standard base64>"}
 *        fetch, teardown:  {"cap":"<compact JWS>"}
 *      DECISION: plaintext_b64 is decoded here (400 bad_base64; above AK_MAX_PLAINTEXT → 413
 *      too_large), i.e. the body is fully validated before any cryptography or upstream call.
 *   3. ak_cap_verify (ak/cap.h): signature against the signer's CAP key set (by kid; the set is
 *      cached per process and refetched at most every AK_WORKER_KEYS_REFRESH_MIN_MS on an
 *      unknown kid) → broker_sig_invalid; expires_at/issued_at → cap_freshness_failed; op →
 *      cap_op_mismatch; data_class → cap_data_class_mismatch; K10 PoP → cap_pop_invalid.
 *   4. Chain (our own reads; never trusts the broker's):
 *        getDevice(device_key_hash): registeredAt == 0 → device_not_registered; revoked →
 *          device_revoked;
 *        bound: device.operatorOmni == cap.operator_omni, and
 *          - store/fetch by an agent device: device.actorOmni == cap.actor_omni;
 *          - store/fetch by a master device: cap.actor_omni == cap.operator_omni (a master
 *            session speaks for its operator, D16/D17);
 *          - teardown: the device must be a master (else teardown_requires_master) and the
 *            actor is the operator itself or bound to it: actorOperator(actor) == operator (D17,
 *            kept after revocation so a revoked agent can be wiped);
 *          any other mismatch → device_binding_mismatch;
 *        roles & CAP_MINT → device_role_missing;
 *        scope: isServiceInScope(operator, actor, keccak256(class ":" service)) (D2) →
 *          service_not_in_scope. Skipped when operator == actor (own data). DECISION: also
 *          skipped for teardown, which wipes the actor's whole class prefix as the operator's
 *          master (D10/D17), not one service;
 *        readOnly: store and teardown, except on own data: getScope(operator, actor) exists
 *          with readOnly → scope_read_only (whoever minted the cap);
 *        K3EpochCounter.currentEpoch() == cap.k3_epoch → k3_epoch_mismatch.
 *      Any chain transport/RPC failure → 502 chain_rpc_error.
 *   5. The operation (S3 with the request's credentials, KEK from the signer for this worker's
 *      data class only — the signer refuses other classes to this worker's certificate).
 *
 * Operations:
 *   store    KEK(current epoch) → 0x04 envelope (D8) → audit event → one PutObject of the whole
 *            envelope at bots/<actor_hex>/<class>/<service>.enc (D9). PutObject is atomic: the
 *            previous version stays until the new one fully lands, and a failed PUT leaves
 *            nothing new. DECISION (D12, "no audit, no access"): the audit event is written
 *            BEFORE the data (outcome "ok", extra phase=before_write and envelope_sha256, which
 *            binds the row to the exact bytes stored), so data never becomes visible without its
 *            audit row; if the audit write fails nothing is written (503 audit_write_failed); if
 *            the PUT then fails, a second event (outcome "error", reason) is written best effort
 *            and the request fails. → 200 {"ok":true,"s3_key","envelope_size","k3_epoch"}.
 *   fetch    GetObject (absent → 404 not_found) → peek the epoch → KEK of that epoch → open
 *            (any tamper → 422 envelope_auth_failed, nothing returned). An older epoch is
 *            re-sealed under the current epoch and written back with If-Match: <etag> (RGW
 *            wants it unquoted) before answering (D8); if the object changed meanwhile (412) the
 *            whole fetch is retried once, then 409 conflict. Audit event, then
 *            → 200 {"ok":true,"plaintext_b64","k3_epoch","rekeyed":bool}.
 *   teardown Lists every ListObjectsV2 page of bots/<actor_hex>/<class>/ (at most
 *            AK_WORKER_TEARDOWN_MAX_KEYS keys per call; more is reported as partial with
 *            "more":true), audit event (phase before_delete, keys count), DeleteObjects in
 *            batches of ≤ 1000 (if the DeleteObjects request itself is refused with AccessDenied —
 *            Ceph RGW 16 authorizes it against the bucket ARN, which the v3 policies' object-ARN
 *            grants do not cover, while AWS authorizes it per key — each key is deleted with
 *            DeleteObject instead, which both authorize per object) → 200 {"ok":true,"keys_deleted":n,"failed":[]}; any per-key or
 *            batch failure → 502 {"error","reason","ok":false,"keys_deleted":n,"failed":[{key,code}…
 *            at most AK_WORKER_FAILED_REPORT_MAX],"failed_count":m,"not_attempted":k,"more":bool}.
 *
 *   use      (D19, CredUseFunction; docs/spec/use-policy.md) body
 *            {"cap","method","url","headers"?:{name:value},"body_b64"?}; chain checks as fetch;
 *            GetObject → open; a 0x04 envelope (no policy) → 403 use_policy_missing; the
 *            request is checked against the sealed policy and the secret injected
 *            (ak_use_plan: scheme_not_allowed, host_not_allowed, method_not_allowed, 400
 *            invalid_input); audit event (phase before_call: host, method, path — never the
 *            query) → the HTTPS call (ak/egress.h: destination_not_allowed; upstream_error /
 *            upstream_timeout / response_too_large) → redaction → audit event (phase
 *            after_call: status, bytes_out, bytes_in, redactions) → 200 {"ok":true,"status",
 *            "headers":[[n,v]…],"body_b64","redactions"}. An upstream 3xx is returned as is.
 *   store with "policy" (D19): the secret is framed with its policy (ak_use_frame) and sealed
 *            in a 0x05 envelope; fetch of a 0x05 envelope whose policy is use_only → 403
 *            use_only (audited), otherwise the secret alone plus "policy". A re-key keeps the
 *            version.
 *
 * Upstream failures fail closed: signer → 503 signer_unavailable (attestation_invalid,
 * role_not_allowed and epoch_not_current pass through with their own codes); S3 transport/5xx
 * → 502 s3_error (403 → access_denied, e.g. STS credentials of another actor); chain → 502
 * chain_rpc_error. Once the cap has verified, failures are also audited best effort (the
 * operator is known); failures before that are only logged.
 *
 * Secrets: KEKs are wiped right after use; plaintext lives only in secret buffers (wiped);
 * cap tokens, X-Aws-* values, plaintext and KEKs never reach a log line.
 *
 * Environment (ak_worker_init; plus ak_svc_init(AK_SVC_WORKER)'s, ak/svc.h):
 *   AK_DATA_CLASS                  "credentials" | "memory" (must match the function)
 *   AK_VAULT_BUCKET                data bucket of the credentials class
 *   AK_MEMORY_BUCKET               data bucket of the memory class
 *   AGENTKEYS_WORKER_REQUIRE_STS   optional; strict unless 0/false/no
 *   AK_CRED_USE_ALLOW_LOOPBACK     optional; "1" lets op use connect to loopback (local stack
 *                                  only; the template never sets it)
 */
#ifndef AK_WORKER_H
#define AK_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/cap.h"
#include "ak/egress.h"
#include "ak/err.h"
#include "ak/evm.h"
#include "ak/identity.h"
#include "ak/jose.h"
#include "ak/s3.h"
#include "ak/sigv4.h"
#include "ak/svc.h"

#define AK_WORKER_KEYS_REFRESH_MIN_MS 30000
#define AK_WORKER_TEARDOWN_MAX_KEYS 200000u
#define AK_WORKER_FAILED_REPORT_MAX 100u
/* Largest stored object we read: the envelope of the largest plaintext. */
#define AK_WORKER_MAX_OBJECT (AK_MAX_PLAINTEXT + 64u)

typedef struct ak_worker ak_worker;

/* Upstream operations; defaults talk to the signer, the chain (svc.rpc) and S3 (svc.s3 with
 * the per-request credentials). Unit tests replace them (ak_worker_init_for_test). */
typedef struct ak_worker_ops {
    /* D6 KEK of this worker's data class. */
    ak_err (*derive_kek)(ak_worker *w, const ak_omni *operator_omni, const ak_omni *actor_omni,
                         uint32_t epoch, uint8_t kek[32]);
    /* Issue 19, optional (all three or none): the KEK of the cap's epoch asked for BEFORE the
     * chain reads and read only when the operation first needs a KEK, after every check passed
     * (ak_signer_derive_kek_send/_recv/_abort). A request refused on the way aborts it: the reply
     * is dropped unread. Its outcome is reported where derive_kek would have been called, so the
     * refusal reasons and their order are those of the sequential path (NULL: derive_kek only). */
    ak_err (*derive_kek_send)(ak_worker *w, const ak_omni *operator_omni, const ak_omni *actor_omni,
                              uint32_t epoch);
    ak_err (*derive_kek_recv)(ak_worker *w, uint8_t kek[32]);
    void (*derive_kek_abort)(ak_worker *w);
    ak_err (*get_device)(ak_worker *w, const uint8_t dkh[32], ak_device_entry *out);
    ak_err (*actor_operator)(ak_worker *w, const uint8_t actor[32], uint8_t op[32]);
    ak_err (*in_scope)(ak_worker *w, const uint8_t op[32], const uint8_t actor[32],
                       const uint8_t scope_id[32], bool *out);
    /* AgentKeysScope.getScope(op, actor): *out = the scope exists and is readOnly. */
    ak_err (*read_only)(ak_worker *w, const uint8_t op[32], const uint8_t actor[32], bool *out);
    ak_err (*current_epoch)(ak_worker *w, uint64_t *out);
    /* Every chain read of one request as ONE snapshot (ak_chain_snapshot_read over svc.rpc: one
     * JSON-RPC batch pinned to one block; issue 19). The checks read its values in the D11 order
     * above, so a failed read only matters where the per-read path would have made it. NULL: the
     * per-read ops above, one eth_call each at latest. */
    ak_err (*chain_snapshot)(ak_worker *w, const ak_chain_query *q, ak_chain_snapshot *out);
    /* GetObject of the data bucket: body appended to `body` (a secret buffer), ETag (as sent)
     * appended to `etag`. 404 → AK_E_NOT_FOUND. */
    ak_err (*get)(ak_worker *w, const ak_sigv4_creds *c, ak_cur key, ak_buf *body, ak_buf *etag);
    /* PutObject of the whole body; if_match non-empty → replace only that ETag. */
    ak_err (*put)(ak_worker *w, const ak_sigv4_creds *c, ak_cur key, ak_cur body, ak_cur if_match);
    /* ListObjectsV2 over every page. */
    ak_err (*list)(ak_worker *w, const ak_sigv4_creds *c, ak_cur prefix, ak_s3_list_fn fn, void *ud);
    /* DeleteObjects in batches of <= AK_S3_DELETE_BATCH (ak_s3_delete_objects semantics). */
    ak_err (*delete_objects)(ak_worker *w, const ak_sigv4_creds *c, const ak_cur *keys, size_t n,
                             ak_s3_delete_error_fn on_error, void *ud, ak_s3_delete_result *res);
    /* DeleteObject of one key (the fallback when DeleteObjects is refused as a whole). */
    ak_err (*delete_one)(ak_worker *w, const ak_sigv4_creds *c, ak_cur key);
    /* op use (D19): the outbound third-party call (ak/egress.h; ak_http_do semantics). */
    ak_err (*egress)(ak_worker *w, const ak_http_request *req, ak_http_response *resp);
} ak_worker_ops;

struct ak_worker {
    ak_svc svc; /* signer, chain, S3 client, audit (execution role) */
    ak_worker_ops ops;
    ak_data_class data_class;
    char bucket[AK_SVC_BUCKET_MAX + 1];
    bool require_sts;
    ak_jwks cap_keys;
    ak_cap_sig_cache cap_cache; /* verified cap signatures (ak/cap.h); cleared with every key reload */
    bool cap_keys_loaded;
    int64_t cap_keys_at_ms;
    ak_egress egress; /* op use: created on the first use call */
    bool egress_ready;
    bool allow_loopback; /* AK_CRED_USE_ALLOW_LOOPBACK=1 (local stack only) */
    /* The request in flight (set by ak_worker_handle once the cap verified, cleared at its end):
     * the default derive_kek sends this cap and op to the signer, which checks them itself (D20). */
    ak_cur req_cap;
    ak_op req_op;
    /* The overlapped derivation of the request in flight (ops.derive_kek_send): sent = its reply
     * is still at the signer; have = its outcome (rc, kek) waits for the first derive. */
    struct {
        bool sent, have;
        uint32_t epoch;
        ak_omni operator_omni, actor_omni;
        ak_err rc;
        uint8_t kek[32];
    } kek_pre;
    void *test_user; /* for fakes */
};

/* One request, already decoded from the API Gateway event. */
typedef struct ak_worker_req {
    ak_op op; /* the route's op (the function's), never from the body */
    ak_cur body;
    bool has_access_key_id, has_secret_access_key, has_session_token; /* header present */
    ak_cur access_key_id, secret_access_key, session_token;
    ak_cur request_id;    /* for audit rows and logs */
    uint64_t deadline_ms; /* Lambda deadline (epoch ms); 0 = now + 10 s */
    uint64_t now;         /* seconds; 0 = the clock */
} ak_worker_req;

/* The success answer (or the teardown partial-failure answer): status and JSON body. */
typedef struct ak_worker_resp {
    int status;
    ak_buf body; /* secret buffer: a fetch answer carries the plaintext */
} ak_worker_resp;

void ak_worker_resp_init(ak_worker_resp *r);
void ak_worker_resp_free(ak_worker_resp *r); /* wipes */

/* Reads the environment above, checks AK_DATA_CLASS == `expect_class`, and opens the service
 * context. AK_E_CONFIG naming the variable (never a value) on failure. */
AK_MUST ak_err ak_worker_init(ak_worker *w, ak_data_class expect_class);
/* A worker over fakes: svc from ak_svc_init_for_test(svc_ops, NULL, audit_bucket). */
void ak_worker_init_for_test(ak_worker *w, ak_data_class c, const char *bucket, bool require_sts,
                             const ak_svc_ops *svc_ops, const char *audit_bucket, const ak_worker_ops *ops);
void ak_worker_free(ak_worker *w);

/* Runs the pipeline above. AK_OK → `resp` holds the answer to send (200, or 502 for a partial
 * teardown); any other code → the caller answers with the D14 body of that code. */
AK_MUST ak_err ak_worker_handle(ak_worker *w, const ak_worker_req *req, ak_worker_resp *resp);

/* "bots/<actor_hex>/<class>/<service>.enc" (D9), appended. Validates the name (D3). */
AK_MUST ak_err ak_worker_object_key(ak_data_class c, const ak_omni *actor, ak_cur service, ak_buf *out);
/* "bots/<actor_hex>/<class>/", appended. */
AK_MUST ak_err ak_worker_prefix(ak_data_class c, const ak_omni *actor, ak_buf *out);
/* Strict mode from AGENTKEYS_WORKER_REQUIRE_STS's value (NULL = unset): false only for
 * 0/false/no (any case). */
bool ak_worker_strict_sts(const char *value);

#endif
