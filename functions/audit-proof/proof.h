/*
 * proof.h — AuditProofFunction: GET /v1/audit/proof?event=<pending key | event id>
 * (Bearer: a master session of the event's operator). Answers the event's leaf, proof, batch
 * root and, once anchored, the on-chain root index (ak_audit_proof_lookup; README.md of
 * functions/audit-flush).
 */
#ifndef AK_FN_AUDIT_PROOF_H
#define AK_FN_AUDIT_PROOF_H

#include "ak/audit_flush.h"
#include "ak/svc.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

typedef struct proof_app {
    ak_svc svc;
    ak_audit_s3 s3; /* one lane over svc's S3 client (not owned) */
    ak_audit_store store;
} proof_app;

ak_err proof_init(void *user);
ak_err proof_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user);

#endif
