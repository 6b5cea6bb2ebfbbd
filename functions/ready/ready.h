/*
 * functions/ready/ready.h — ReadyFunction (GET /readyz): the readiness probe (issue 17).
 *
 * Checks, one after the other and each under its own time cap (AK_READY_CHECK_MS, default
 * 2000, never beyond the invocation's deadline), that the three dependencies every
 * credential operation needs answer:
 *   signer  GET /v1/health over the pinned mTLS channel, attested (ak/signer.h) -> 200 "ok"
 *   chain   eth_chainId equals AK_CHAIN_ID
 *   s3      ListObjectsV2 of the audit bucket, prefix "readyz/", MaxKeys 1 (IAM: s3:ListBucket
 *           on that prefix only: the probe can read nothing)
 * 200 {"status":"ready","checks":{"signer":{"status":"up","ms":n},"chain":{"status":"up",
 *   "ms":n,"chain_id":n},"s3":{"status":"up","ms":n}}} when all are up; otherwise 503 with the
 * D14 members "error" and "reason" ("not_ready"), "status":"not_ready", "failing":[names], and
 * each failing check as {"status":"down","reason":"<ak_err reason>"}. Every check runs every
 * time (one down dependency does not hide another). Any other method: 405 with `allow: GET`.
 * No secret, URL or upstream message reaches the body or the log.
 *
 * The checks are function pointers (ready_probes) so tests can fake each dependency.
 */
#ifndef AK_FN_READY_H
#define AK_FN_READY_H

#include <stdint.h>

#include "ak/err.h"
#include "ak/svc.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

#define AK_READY_DEFAULT_CHECK_MS 2000u
#define AK_READY_S3_PREFIX "readyz/"

typedef struct ready_app ready_app;

/* One dependency check: AK_OK when it answers as expected before `deadline_ms` (absolute epoch
 * ms); else the reason (AK_E_SIGNER_UNAVAILABLE, AK_E_CHAIN_RPC, AK_E_CHAIN_ID_MISMATCH,
 * AK_E_ACCESS_DENIED, ...). `chain_id` (chain only) receives the id the RPC reported. */
typedef struct ready_probes {
    ak_err (*signer)(ready_app *app, int64_t deadline_ms);
    ak_err (*chain)(ready_app *app, int64_t deadline_ms, uint64_t *chain_id);
    ak_err (*s3)(ready_app *app, int64_t deadline_ms);
} ready_probes;

struct ready_app {
    ak_svc svc;
    ready_probes probes;
    unsigned check_ms;
    void *test_user; /* for fakes */
};

/* akrt_init_fn: ak_svc with S3 + chain + signer + audit bucket (no upstream call is made: a
 * dependency that is down at cold start is reported by the probe, not by a failed init), the
 * real probes, AK_READY_CHECK_MS. */
AK_MUST ak_err ready_init(void *user);
/* The real probes (ready_init installs them; tests call ready_install_probes with fakes). */
extern const ready_probes ready_real_probes;
/* akrt_http_handler for GET /readyz; `user` is the ready_app. */
ak_err ready_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user);

#endif
