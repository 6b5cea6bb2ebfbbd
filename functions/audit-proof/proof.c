/* proof.c — AuditProofFunction's handler (see proof.h). */
#include "proof.h"

#include <string.h>

#include <jansson.h>

ak_err proof_init(void *user) {
    proof_app *app = user;
    memset(app, 0, sizeof(*app));
    ak_alloc_install_jansson();
    AK_GUARD(ak_svc_init(&app->svc, AK_SVC_S3 | AK_SVC_AUDIT | AK_SVC_SIGNER | AK_SVC_ISSUER | AK_SVC_CHAIN));
    /* One lane borrowing the service context's S3 client: this function makes two requests. */
    app->s3.n_lanes = 1;
    app->s3.s3[0] = app->svc.s3;
    app->s3.creds = app->svc.creds;
    memcpy(app->s3.bucket, app->svc.audit_bucket, sizeof(app->s3.bucket) - 1);
    ak_audit_s3_store(&app->s3, &app->store);
    return AK_OK;
}

ak_err proof_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user) {
    proof_app *app = user;
    if (!ak_cur_eq_str(req->method, "GET")) {
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", "GET");
    }
    ak_cur auth, token, ref;
    AK_ENSURE(akrt_http_header(req, "authorization", &auth), AK_E_UNAUTHORIZED);
    AK_GUARD(ak_svc_bearer(auth, &token));
    ak_svc_begin(&app->svc, ctx->inv->deadline_ms);
    ak_session s;
    AK_GUARD(ak_svc_verify_session(&app->svc, token, (uint64_t)(ak_http_now_ms() / 1000), &s));
    /* The audit trail of an operator is the operator's: agents get no proofs (D10/D17 spirit). */
    AK_ENSURE(s.kind == AK_SESSION_MASTER, AK_E_FORBIDDEN);
    /* ... and only while the session's master device is registered and active on chain: a
     * revoked master loses audit access at once, not when its session expires; an
     * unregistered wallet's session has no operator to read (issue 16, findings 2 and 6). */
    AK_GUARD(ak_svc_check_session_device(&app->svc, &s, NULL));
    AK_ENSURE(akrt_http_query(req, "event", &ref) && ref.len > 0, AK_E_MISSING_FIELD);
    json_t *o = NULL;
    AK_GUARD(ak_audit_proof_lookup(&app->store, &s.operator_omni, ref, app->svc.deadline_ms, &o));
    ak_err rc = akrt_http_json(resp, 200, o);
    json_decref(o);
    return rc;
}
