/*
 * functions/health/health.h — HealthFunction (GET /healthz): the liveness probe.
 *
 * Answers 200 {"status":"ok","function":"health","version":"<AK_VERSION>","time":<unix seconds>}.
 * Any other method: 405 with the D14 body and `allow: GET`. No environment, no IAM, no upstream.
 * The handler is separate from main.c so tests can drive it directly.
 */
#ifndef AK_FN_HEALTH_H
#define AK_FN_HEALTH_H

#include "ak/err.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

/* Build identifier: the Makefile may pass -DAK_VERSION="$(git describe --always --dirty)". */
#ifndef AK_VERSION
#define AK_VERSION "dev"
#endif

/* akrt_http_handler for GET /healthz. `user` is unused. */
ak_err health_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user);

#endif
