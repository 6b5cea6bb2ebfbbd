/*
 * flush_fn.h — AuditFlushFunction (README.md in this folder): one raw handler for both of its
 * triggers, told apart by the event's shape:
 *   - an EventBridge scheduled event ("source":"aws.events") flushes every operator;
 *   - an API Gateway HTTP API v2 event for POST /v1/audit/flush (Bearer: a master session)
 *     flushes that session's operator only.
 */
#ifndef AK_FN_AUDIT_FLUSH_H
#define AK_FN_AUDIT_FLUSH_H

#include <stdbool.h>

#include "ak/audit_flush.h"
#include "ak/svc.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

typedef struct flush_app {
    ak_audit_s3 s3;
    ak_audit_store store;
    size_t batch_max, run_max;
    uint64_t grace_ms;
    bool has_grace;
    unsigned margin_ms;
    /* Session verification for the HTTP trigger; opened on first use so a signer outage never
     * stops the scheduled flush. */
    ak_svc svc;
    bool svc_ready;
} flush_app;

/* Reads the environment (README.md) and opens the S3 lanes. */
ak_err flush_init(void *user);
ak_err flush_handle(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user);

#endif
