/*
 * ak/awsjson.h — one request of an AWS "JSON 1.1" service (KMS, Secrets Manager), signed
 * (AWS General Reference, "Signature Version 4"; each service's API reference, "Common
 * Parameters"): POST / with
 *     Content-Type: application/x-amz-json-1.1
 *     Host: <host[:port]>
 *     X-Amz-Date: <now>
 *     X-Amz-Target: <Prefix.Operation>        (TrentService.Decrypt, secretsmanager.GetSecretValue)
 *     [X-Amz-Security-Token: <session token>]
 *     Authorization: AWS4-HMAC-SHA256 ... SignedHeaders=content-type;host;x-amz-date;
 *                    [x-amz-security-token;]x-amz-target ...
 * The caller sends the prepared ak_http_request itself (ak_http_do, or a test's transport) and
 * reads the status with its own service's error map.
 */
#ifndef AK_AWSJSON_H
#define AK_AWSJSON_H

#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/http.h"
#include "ak/sigv4.h"

typedef struct ak_awsjson_call {
    const char *url;     /* scheme://host[:port]/ */
    ak_cur host;         /* host[:port] exactly as in `url`: sent and signed */
    ak_cur region;       /* the credential scope's region */
    ak_cur service;      /* "kms", "secretsmanager" */
    ak_cur target;       /* "TrentService.Decrypt" */
    ak_cur body;         /* the JSON request */
    int64_t deadline_ms; /* absolute; 0 -> timeout_ms / the ak_http default */
    unsigned timeout_ms;
    bool idempotent; /* retried on transport errors and 5xx when true */
    size_t max_response;
    bool body_secret; /* the answer holds a secret */
} ak_awsjson_call;

/* The signed request; `http` is ready to send and borrows from `call` and from this struct. */
typedef struct ak_awsjson_req {
    char date[17];
    ak_sigv4_result sig;
    ak_http_header headers[6];
    ak_http_request http;
} ak_awsjson_req;

/* AK_E_INVALID_INPUT for an empty host, region, service or target; sigv4's errors. On error `req`
 * still needs ak_awsjson_req_free. */
AK_MUST ak_err ak_awsjson_sign(const ak_sigv4_creds *creds, const ak_awsjson_call *call, ak_awsjson_req *req);
void ak_awsjson_req_free(ak_awsjson_req *req);

#endif
