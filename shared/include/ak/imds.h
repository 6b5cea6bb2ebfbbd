/*
 * ak/imds.h — the instance role's credentials from EC2 IMDSv2 (issue 18: inside a Nitro enclave
 * the signer signs KMS and S3 requests with its parent instance's role, reached through the
 * parent's vsock proxy to 169.254.169.254:80, port 8002 by convention).
 *
 * Wire (EC2 User Guide, "Use IMDSv2", "Retrieve security credentials from instance metadata"):
 *   PUT /latest/api/token                         X-aws-ec2-metadata-token-ttl-seconds: 21600
 *       -> 200, the session token (text)
 *   GET /latest/meta-data/iam/security-credentials/          X-aws-ec2-metadata-token: <token>
 *       -> 200, the role name (one line; exactly one role is accepted)
 *   GET /latest/meta-data/iam/security-credentials/<role>    X-aws-ec2-metadata-token: <token>
 *       -> 200 {"Code":"Success","LastUpdated":"…","Type":"AWS-HMAC","AccessKeyId":"ASIA…",
 *               "SecretAccessKey":"…","Token":"…","Expiration":"2026-12-02T10:00:00Z"}
 * A 401 on a GET (token expired) gets one new token and one retry.
 *
 * Caching: credentials are kept (secret, wiped on free) and fetched again once fewer than
 * refresh_margin_ms (default 5 min; AWS makes new ones available at least 5 min before the old
 * expire) remain. If that refresh fails while the held ones are still valid, they are served
 * (and the failure logged); once expired, the failure is returned. Thread-safe (one mutex).
 *
 * Errors: transport errors keep ak_http's reasons (AK_E_UPSTREAM, AK_E_UPSTREAM_TIMEOUT); an
 * HTTP error status or a role list that is not one role -> AK_E_IMDS_ERROR; a credentials
 * document that is malformed, not "Success", or already expired -> AK_E_IMDS_CREDENTIALS_INVALID.
 */
#ifndef AK_IMDS_H
#define AK_IMDS_H

#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/sigv4.h"

#define AK_IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define AK_IMDS_DEFAULT_MARGIN_MS 300000u
#define AK_IMDS_TOKEN_TTL_S 21600u

typedef struct ak_imds_config {
    const char *connect;        /* connector spec (ak/connector.h), e.g. "vsock:3:8002"; NULL direct */
    const char *endpoint;       /* NULL -> AK_IMDS_DEFAULT_ENDPOINT (http only) */
    unsigned refresh_margin_ms; /* 0 -> AK_IMDS_DEFAULT_MARGIN_MS */
} ak_imds_config;

/* One set of credentials, owned by the caller (wipe with ak_aws_creds_wipe). */
typedef struct ak_aws_creds {
    char access_key_id[129];
    char secret_access_key[129];
    char session_token[4097];
    int64_t expiration_ms; /* Unix epoch ms */
} ak_aws_creds;

typedef struct ak_imds ak_imds;

/* AK_E_CONFIG for a bad connector or endpoint. */
AK_MUST ak_err ak_imds_new(const ak_imds_config *cfg, ak_imds **out);
void ak_imds_free(ak_imds *m);
/* Current credentials, copied into *out (fetched or refreshed as above). */
AK_MUST ak_err ak_imds_credentials(ak_imds *m, int64_t deadline_ms, ak_aws_creds *out);
/* Parses the credentials document (tests, fuzz). `now_ms` refuses expired ones. */
AK_MUST ak_err ak_imds_parse_credentials(ak_cur json, int64_t now_ms, ak_aws_creds *out);
/* A view for ak_sigv4 (valid while `c` lives). */
ak_sigv4_creds ak_aws_creds_view(const ak_aws_creds *c);
void ak_aws_creds_wipe(ak_aws_creds *c);

#endif
