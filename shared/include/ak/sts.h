/*
 * ak/sts.h — STS AssumeRoleWithWebIdentity (STS API Reference), the broker's pivot from our OIDC
 * JWT to AWS credentials confined by session tags (DESIGN §2 layer 3, spec D13).
 *
 * The call is unsigned (web-identity requests carry no AWS credentials): a form-encoded POST
 * (Action, Version=2011-06-15, RoleArn, RoleSessionName, WebIdentityToken, DurationSeconds,
 * optional Policy). Every value is percent-encoded with '%20' for spaces (Ceph RGW does not turn
 * '+' back into a space, ceph-local.md gotcha 3). Retried on transport errors/5xx/429 (the call
 * has no side effects) within the deadline.
 *
 * Errors: AccessDenied, InvalidIdentityToken, ExpiredTokenException, IDPRejectedClaim,
 * IDPCommunicationError's 4xx cousins and any 401/403 -> AK_E_ACCESS_DENIED; everything else
 * (malformed response, 5xx after retries, Throttling, other codes) -> AK_E_STS_ERROR; transport
 * errors keep ak_http's codes. The token, secret key and session token never reach a log line.
 */
#ifndef AK_STS_H
#define AK_STS_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/http.h"
#include "ak/sigv4.h"

#define AK_STS_MIN_DURATION 900u
#define AK_STS_MAX_DURATION 43200u
#define AK_STS_MAX_TOKEN 16384u

typedef struct ak_sts_config {
    const char *endpoint; /* NULL/"" -> "https://sts.<region>.amazonaws.com" (regional endpoint) */
    const char *region;   /* required */
} ak_sts_config;

typedef struct ak_sts {
    ak_http *http; /* borrowed */
    char url[320]; /* endpoint + "/" */
} ak_sts;

typedef struct ak_sts_web_identity {
    ak_cur role_arn;
    ak_cur role_session_name;  /* [A-Za-z0-9_+=,.@-]{2,64} */
    ak_cur web_identity_token; /* the OIDC JWT (<= AK_STS_MAX_TOKEN) */
    uint32_t duration_seconds; /* 0 -> omitted (the role's default); else 900..43200 */
    ak_cur policy;             /* optional session policy JSON, compact (gotcha 3) */
    int64_t deadline_ms;       /* absolute epoch ms; 0 -> ak_http default */
} ak_sts_web_identity;

typedef struct ak_sts_creds {
    ak_buf access_key_id;
    ak_buf secret_access_key; /* secret buffer */
    ak_buf session_token;     /* secret buffer */
    ak_buf expiration;        /* ISO 8601 as sent */
    ak_buf assumed_role_arn;
} ak_sts_creds;

/* Reads AK_STS_ENDPOINT, else AK_S3_ENDPOINT (a local RGW serves both), and AWS_REGION. */
AK_MUST ak_err ak_sts_config_from_env(ak_sts_config *cfg);
AK_MUST ak_err ak_sts_init(ak_sts *sts, ak_http *http, const ak_sts_config *cfg);

void ak_sts_creds_init(ak_sts_creds *c);
void ak_sts_creds_free(ak_sts_creds *c); /* wipes the secrets */
/* Views for signing S3 requests with the temporary credentials (valid while `c` lives). */
ak_sigv4_creds ak_sts_creds_view(const ak_sts_creds *c);

/* AK_E_INVALID_INPUT for bad parameters (checked before any request). */
AK_MUST ak_err ak_sts_assume_role_with_web_identity(ak_sts *sts, const ak_sts_web_identity *req,
                                                    ak_sts_creds *out);

/* Parses an AssumeRoleWithWebIdentityResponse body (exposed for tests and the fuzz target). */
AK_MUST ak_err ak_sts_parse_response(ak_cur xml, ak_sts_creds *out);
/* Maps an error response; `code` (optional) receives the STS error code. */
ak_err ak_sts_error_from_response(const ak_http_response *resp, ak_buf *code);

#endif
