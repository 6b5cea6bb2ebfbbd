/*
 * ak/sigv4.h — AWS Signature Version 4 (header signing, query presigning, aws-chunked chunks).
 *
 * Implements the AWS SigV4 process (AWS General Reference, "Create a signed AWS API request";
 * S3 API Reference, "Signature Calculations for the Authorization Header" and "Query String
 * Authentication"), in stages that tests check one by one against AWS's suite:
 *   1. canonical request   = method \n canonical URI \n canonical query \n canonical headers \n
 *                            \n signed headers \n payload hash
 *   2. string to sign      = "AWS4-HMAC-SHA256" \n amz-date \n scope \n hex(sha256(creq))
 *   3. signing key         = HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request"
 *   4. signature           = hex(HMAC(signing key, string to sign))
 *
 * Path rules (the one place S3 differs):
 *   - other services: the wire path is normalised (empty and "." segments dropped, ".." resolved,
 *     a trailing "/" kept) and then URI-encoded AGAIN, '%' included ("double encoding");
 *   - S3 (`s3 = true`): no normalisation; the path is percent-decoded and re-encoded once, which is
 *     what S3 itself computes from the wire path (so "/a%2Fb" and "//x" are kept as they are).
 * URI encoding is RFC 3986 with AWS's rule: A-Z a-z 0-9 - . _ ~ stay, everything else is %XX with
 * uppercase hex; '/' stays in paths. Query parameters are decoded, re-encoded and sorted by name
 * then value; a parameter without '=' gets an empty value. '+' is a literal plus, not a space.
 * Header names are lowercased, values trimmed with inner runs of spaces/tabs collapsed to one
 * space, repeated names joined with ',' in the given order, then sorted by name.
 *
 * Secrets: the secret key, the signing key and the canonical request (it may hold the session
 * token) are kept in wiped buffers; results carry no secret except the signature itself.
 */
#ifndef AK_SIGV4_H
#define AK_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"

#define AK_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define AK_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string, the payload hash of a request without a body. */
#define AK_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define AK_SIGV4_MAX_HEADERS 64u
#define AK_SIGV4_MAX_QUERY_PARAMS 256u
#define AK_SIGV4_MAX_PATH 4096u
/* Ceiling on the canonical request (headers, path and query included). */
#define AK_SIGV4_MAX_CANONICAL (64u * 1024u)
/* Presigned URLs may live at most 7 days (S3 rule). */
#define AK_SIGV4_MAX_EXPIRES 604800u

typedef struct ak_sigv4_creds {
    ak_cur access_key_id;
    ak_cur secret_access_key;
    ak_cur session_token; /* empty when long-term credentials */
} ak_sigv4_creds;

typedef struct ak_sigv4_scope {
    ak_cur amz_date; /* "YYYYMMDDTHHMMSSZ" (16 characters); the scope date is its first 8 */
    ak_cur region;   /* "us-east-1" */
    ak_cur service;  /* "s3", "sts", ... */
} ak_sigv4_scope;

typedef struct ak_sigv4_header {
    ak_cur name;
    ak_cur value;
} ak_sigv4_header;

typedef struct ak_sigv4_request {
    ak_cur method;                  /* "GET" */
    ak_cur path;                    /* absolute path as sent on the wire (percent-encoded); empty means "/" */
    ak_cur query;                   /* query as sent, without '?'; may be empty */
    const ak_sigv4_header *headers; /* every header to sign; must include host (and x-amz-date) */
    size_t n_headers;
    ak_cur payload_hash; /* lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    bool s3;             /* S3 path rules (see above) */
} ak_sigv4_request;

/* Every stage, for callers and for the tests. Initialise with ak_sigv4_result_init. */
typedef struct ak_sigv4_result {
    ak_buf canonical_request; /* secret buffer (may contain the session token) */
    ak_buf signed_headers;    /* "host;x-amz-date" */
    ak_buf string_to_sign;
    char signature[65];   /* lowercase hex */
    ak_buf authorization; /* "AWS4-HMAC-SHA256 Credential=AK/scope, SignedHeaders=..., Signature=..." */
} ak_sigv4_result;

void ak_sigv4_result_init(ak_sigv4_result *r);
void ak_sigv4_result_free(ak_sigv4_result *r);

/* Formats an epoch time as "YYYYMMDDTHHMMSSZ" (out: 17 bytes with NUL). */
AK_MUST ak_err ak_sigv4_amz_date(int64_t epoch_seconds, char out[17]);

/* Stage 1 alone: canonical request and signed header list. Returns AK_E_INVALID_INPUT for a
 * bad percent-escape, a header name that is empty or not a token, a value with CR/LF/NUL, a path
 * not starting with '/', or an empty method; AK_E_LIMIT past the ceilings above. */
AK_MUST ak_err ak_sigv4_canonical_request(const ak_sigv4_request *req, ak_buf *creq, ak_buf *signed_headers);

/* Stage 3: the signing key (secret; the caller wipes it). */
AK_MUST ak_err ak_sigv4_signing_key(ak_cur secret_access_key, const ak_sigv4_scope *scope, uint8_t key[32]);

/*
 * Signs a request for the Authorization header: fills every stage in `out`. The caller must have
 * put host, x-amz-date (equal to scope->amz_date) and, for S3, x-amz-content-sha256 and (with a
 * session token) x-amz-security-token among the headers; ak_sigv4_sign does not add headers.
 */
AK_MUST ak_err ak_sigv4_sign(const ak_sigv4_request *req, const ak_sigv4_creds *creds,
                             const ak_sigv4_scope *scope, ak_sigv4_result *out);

/*
 * Query-string presigning (S3 "Query String Authentication"): `req->query` holds the caller's own
 * parameters (may be empty), `req->headers` the headers to sign (at least host), payload hash
 * normally UNSIGNED-PAYLOAD. Appends to `query_out` the full query to put after '?':
 * the caller's parameters plus X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders, X-Amz-Security-Token (when a token is given, signed as AWS requires for
 * S3) and finally X-Amz-Signature. `out` gets the stages (authorization stays empty).
 * AK_E_INVALID_INPUT when expires_seconds is 0 or above AK_SIGV4_MAX_EXPIRES.
 */
AK_MUST ak_err ak_sigv4_presign(const ak_sigv4_request *req, const ak_sigv4_creds *creds,
                                const ak_sigv4_scope *scope, uint32_t expires_seconds, ak_sigv4_result *out,
                                ak_buf *query_out);

/*
 * aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) chunk signature:
 * HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" date \n scope \n previous-signature \n sha256("") \n sha256(chunk)).
 */
AK_MUST ak_err ak_sigv4_chunk_signature(const uint8_t signing_key[32], const ak_sigv4_scope *scope,
                                        ak_cur previous_signature, ak_cur chunk, char signature[65]);

/* AWS URI encoding (see above) of raw bytes, appended to out; '/' kept when keep_slash. */
AK_MUST ak_err ak_sigv4_uri_encode(ak_cur raw, bool keep_slash, ak_buf *out);

/* Lowercase hex SHA-256 of a payload (out: 65 bytes with NUL), for x-amz-content-sha256. */
void ak_sigv4_payload_hash(ak_cur payload, char out[65]);

/* A credential scope's region: [a-z0-9-]{1,63} ("us-east-1"). */
bool ak_sigv4_region_ok(const char *region);
/* An AWS service endpoint as configured (S3, KMS, Secrets Manager): NULL or "" -> https and
 * "<service>.<region>.amazonaws.com"; otherwise "http(s)://host[:port]", trailing '/'s allowed,
 * nothing else (no path, userinfo, query or fragment: the requests sign their own path). Fills
 * `scheme` ("https"/"http") and `host` (host[:port], as sent in Host and signed). AK_E_CONFIG for
 * anything else or a region that fails ak_sigv4_region_ok. */
AK_MUST ak_err ak_sigv4_endpoint(const char *endpoint, const char *service, const char *region,
                                 char scheme[6], char *host, size_t host_cap);

#endif
