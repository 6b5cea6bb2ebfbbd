/*
 * akrt/apigw.h — API Gateway HTTP API events, payload format version 2.0.
 *
 * Request: the event shape of ../shared/vectors/aws-lambda-go-events/apigw-v2-request-*.json.
 * Response: {"statusCode":N,"headers":{…},"body":"…","isBase64Encoded":bool,"cookies":[…]}.
 *
 * Decoding is strict: a wrong version, a missing or mistyped member we read, a header name that
 * appears twice (case-insensitively) → AK_E_INVALID_EVENT; a body above AK_MAX_REQUEST_BODY
 * (after base64 decoding) → AK_E_TOO_LARGE; a base64 body that is not strict RFC 4648 →
 * AK_E_BAD_BASE64. Members we do not read (stageVariables, authorizer, …) are ignored.
 * Everything decoded is copied into the invocation arena: the request does not point into the
 * event buffer or the JSON tree and lives until the arena is reset.
 *
 * HTTP handlers get a decoded request and fill a response through the akrt_http_* helpers; the
 * runtime encodes it (see akrt_http_handler in akrt/runtime.h).
 */
#ifndef AKRT_APIGW_H
#define AKRT_APIGW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/err.h"

/* A name/value pair; both NUL-terminated in the arena (ptr[len] == 0). */
typedef struct akrt_kv {
    ak_cur name;
    ak_cur value;
} akrt_kv;

typedef struct akrt_http_req {
    ak_cur version;         /* "2.0" */
    ak_cur route_key;       /* "GET /healthz", or "$default" */
    ak_cur raw_path;        /* "/healthz" */
    ak_cur raw_query;       /* "a=1&b=2" without '?'; len 0 when absent */
    ak_cur method;          /* requestContext.http.method, e.g. "GET" */
    ak_cur path;            /* requestContext.http.path */
    ak_cur source_ip;       /* requestContext.http.sourceIp; len 0 when absent */
    ak_cur request_id;      /* requestContext.requestId (API Gateway's, not Lambda's) */
    const akrt_kv *headers; /* names lower-cased; API Gateway joins repeated headers with ',' */
    size_t n_headers;
    const akrt_kv *query; /* queryStringParameters (repeated keys arrive joined with ',') */
    size_t n_query;
    const akrt_kv *path_params; /* pathParameters */
    size_t n_path_params;
    const ak_cur *cookies; /* each "name=value" as sent */
    size_t n_cookies;
    ak_cur body; /* decoded bytes (base64 already undone); NUL-terminated */
    bool body_was_base64;
} akrt_http_req;

/*
 * Decodes an event into `out`, copying into `arena`.
 * Returns AK_OK, AK_E_INVALID_EVENT, AK_E_TOO_LARGE, AK_E_BAD_BASE64 or AK_E_NOMEM.
 * On error `out` is zeroed.
 */
AK_MUST ak_err akrt_apigw_decode(ak_cur event, ak_arena *arena, akrt_http_req *out);

/* Case-insensitive header lookup. Returns true and sets *value when present. */
bool akrt_http_header(const akrt_http_req *req, const char *name, ak_cur *value);
/* Exact-case query parameter lookup. */
bool akrt_http_query(const akrt_http_req *req, const char *name, ak_cur *value);
/* Exact-case path parameter lookup ("{service}" in the route → "service"). */
bool akrt_http_path_param(const akrt_http_req *req, const char *name, ak_cur *value);

/* ---- responses ---- */

#define AKRT_HTTP_MAX_RESP_HEADERS 16u
#define AKRT_HTTP_MAX_RESP_COOKIES 8u

typedef struct akrt_http_resp {
    int status;                                  /* 100..599; 200 after reset */
    akrt_kv headers[AKRT_HTTP_MAX_RESP_HEADERS]; /* names lower-cased; copies in the arena */
    size_t n_headers;
    ak_cur cookies[AKRT_HTTP_MAX_RESP_COOKIES]; /* Set-Cookie values; copies in the arena */
    size_t n_cookies;
    ak_buf body;      /* response bytes; ceiling AK_MAX_LAMBDA_PAYLOAD; wiped on reset */
    bool body_binary; /* force base64 on the wire (non-UTF-8 bodies are base64'd anyway) */
    ak_arena *arena;
} akrt_http_resp;

/* Prepares a response that copies header strings into `arena`. Pair with akrt_http_resp_free. */
void akrt_http_resp_init(akrt_http_resp *r, ak_arena *arena);
/* Back to status 200, no headers or cookies, empty body (capacity kept, old bytes wiped). */
void akrt_http_resp_reset(akrt_http_resp *r);
void akrt_http_resp_free(akrt_http_resp *r);

/*
 * Sets (or replaces) a response header. The name must be an RFC 9110 token, the value must
 * not contain control characters other than tab. Returns AK_E_INVALID_INPUT for a bad name or
 * value, AK_E_LIMIT past AKRT_HTTP_MAX_RESP_HEADERS, AK_E_NOMEM.
 */
AK_MUST ak_err akrt_http_set_header(akrt_http_resp *r, const char *name, const char *value);
/* Adds one Set-Cookie value (no control characters). */
AK_MUST ak_err akrt_http_add_cookie(akrt_http_resp *r, const char *cookie);
/* status + content-type + body bytes (replaces the body). */
AK_MUST ak_err akrt_http_set_body(akrt_http_resp *r, int status, const char *content_type, ak_cur body);
/* status + application/json + the compact serialisation of `v` (replaces the body). */
AK_MUST ak_err akrt_http_json(akrt_http_resp *r, int status, const json_t *v);
/*
 * The D14 error response for `e`: resets `r`, status ak_err_status(e), content-type
 * application/json, body {"error":"<ak_err_message(e)>","reason":"<ak_err_reason(e)>"}.
 * AK_OK is treated as AK_E_INTERNAL (an "error" response with status 200 is a bug).
 */
AK_MUST ak_err akrt_http_error(akrt_http_resp *r, ak_err e);

/*
 * Encodes `r` as the API Gateway v2 response JSON, appended to `out`. Adds, unless the handler
 * set them: content-type application/json, cache-control no-store, x-content-type-options
 * nosniff (a credential vault's answers must not be cached or sniffed). A body that is not
 * valid UTF-8, or with body_binary set, is sent base64 with isBase64Encoded true.
 * Returns AK_E_TOO_LARGE when the encoding would pass out's ceiling, AK_E_INTERNAL for a status
 * outside 100..599, AK_E_NOMEM.
 */
AK_MUST ak_err akrt_apigw_encode(const akrt_http_resp *r, ak_buf *out);

#endif
