/*
 * ak/s3.h — the S3 client: SigV4-signed requests over ak_http, XML errors mapped to ak_err.
 *
 * Addressing: virtual-hosted (https://<bucket>.s3.<region>.amazonaws.com/<key>) by default on
 * AWS; path-style (<endpoint>/<bucket>/<key>) when `path_style` is set, which local runs against
 * Ceph RGW need (endpoint override http://127.0.0.1:<port>). Buckets with dots always use path
 * style (a dotted name breaks the wildcard certificate).
 *
 * Credentials are passed per call (ak_sigv4_creds): workers pass the X-Aws-* passthrough values,
 * other code the Lambda environment (ak_s3_env_creds). Each request is signed with the real
 * payload SHA-256 (x-amz-content-sha256) and, with a session token, x-amz-security-token.
 *
 * Errors (S3 API Reference, "Error responses"; Ceph RGW sends an empty <Message>):
 *   AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, InvalidToken, ExpiredToken, 403
 *                                            -> AK_E_ACCESS_DENIED
 *   NoSuchKey, NoSuchBucket, 404             -> AK_E_NOT_FOUND
 *   PreconditionFailed, 412                  -> AK_E_PRECONDITION_FAILED
 *   ConditionalRequestConflict, 409          -> AK_E_CONFLICT
 *   EntityTooLarge                           -> AK_E_TOO_LARGE
 *   SlowDown / 5xx / 429 (after ak_http's bounded retries), anything else -> AK_E_S3_ERROR
 * Transport errors keep ak_http's codes (AK_E_UPSTREAM, AK_E_UPSTREAM_TIMEOUT, AK_E_TOO_LARGE).
 * Log lines carry the operation, bucket, status and S3 error code; never keys' values, bodies,
 * credentials or signatures.
 */
#ifndef AK_S3_H
#define AK_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/http.h"
#include "ak/sigv4.h"

#define AK_S3_MAX_KEY 1024u
#define AK_S3_MAX_META 16u
#define AK_S3_LIST_PAGE 1000u

typedef struct ak_s3_config {
    const char
        *endpoint;      /* NULL or "" -> "https://s3.<region>.amazonaws.com"; else "http(s)://host[:port]" */
    const char *region; /* required, e.g. "us-east-1" */
    bool path_style;
} ak_s3_config;

typedef struct ak_s3 {
    ak_http *http;  /* borrowed; the process's one client */
    char scheme[8]; /* "https" or "http" */
    char host[256]; /* endpoint host[:port] */
    char region[64];
    bool path_style;
} ak_s3;

/* One call's credentials and deadline (absolute epoch ms, e.g. the Lambda deadline; 0 = default). */
typedef struct ak_s3_call {
    const ak_sigv4_creds *creds;
    int64_t deadline_ms;
} ak_s3_call;

typedef struct ak_s3_meta {
    const char *name; /* without the "x-amz-meta-" prefix; lowercase token characters */
    ak_cur value;
} ak_s3_meta;

typedef struct ak_s3_put_opts {
    bool if_none_match; /* "If-None-Match: *": create only (412 -> AK_E_PRECONDITION_FAILED) */
    ak_cur if_match;    /* replace only this ETag; quotes are stripped (RGW rejects quoted, gotcha 10) */
    ak_cur content_type;
    const ak_s3_meta *meta;
    size_t n_meta; /* <= AK_S3_MAX_META */
} ak_s3_put_opts;

typedef struct ak_s3_list_item {
    ak_cur key;
    uint64_t size;
    ak_cur etag; /* as S3 sends it (quoted) */
    ak_cur last_modified;
    bool is_prefix; /* a CommonPrefixes entry (listings with a delimiter): `key` is the prefix
                     * (ends with the delimiter), the other fields are empty */
} ak_s3_list_item;

/* Return non-AK_OK to stop listing; ak_s3_list returns that code. */
typedef ak_err (*ak_s3_list_fn)(void *ud, const ak_s3_list_item *item);

/* ListObjectsV2 parameters (S3 API Reference, ListObjectsV2). Empty views = not sent. */
typedef struct ak_s3_list_opts {
    ak_cur prefix;
    /* Keys that contain `delimiter` after the prefix are rolled up into one CommonPrefixes entry
     * each ("audit/pending/" + "/" -> one entry per "audit/pending/<op>/"), reported to the
     * callback with is_prefix = true, merged with the objects in key order. */
    ak_cur delimiter;
    /* Only keys (and prefixes) sorting strictly after this one. Sent on the first page only
     * (the continuation token carries the position afterwards). <= AK_S3_MAX_KEY bytes. */
    ak_cur start_after;
    unsigned page_size; /* MaxKeys per request; 0 -> AK_S3_LIST_PAGE */
    /* Stop after this many items (objects + common prefixes, as S3 counts MaxKeys) over all
     * pages; 0 = no limit. The last page is requested with a smaller MaxKeys, not over-read. */
    size_t max_keys;
} ak_s3_list_opts;

typedef struct ak_s3_list_result {
    size_t keys;     /* objects passed to the callback */
    size_t prefixes; /* common prefixes passed to the callback */
    bool truncated;  /* stopped at max_keys while the server had more to list */
} ak_s3_list_result;
/* Called once per key that DeleteObjects could not delete. */
typedef void (*ak_s3_delete_error_fn)(void *ud, ak_cur key, ak_cur code);

typedef struct ak_s3_delete_result {
    size_t deleted;
    size_t failed;
} ak_s3_delete_result;

/* Reads AWS_REGION (or AWS_DEFAULT_REGION) and AK_S3_ENDPOINT (optional override; an override
 * implies path style). AK_E_CONFIG if no region. Strings point into the environment. */
AK_MUST ak_err ak_s3_config_from_env(ak_s3_config *cfg);
/* Views over AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional), the
 * Lambda execution role's credentials. AK_E_CONFIG when the first two are missing. */
AK_MUST ak_err ak_s3_env_creds(ak_sigv4_creds *creds);

/* AK_E_CONFIG for a bad endpoint or region. */
AK_MUST ak_err ak_s3_init(ak_s3 *s3, ak_http *http, const ak_s3_config *cfg);

/* PutObject. `etag` (optional, appended) receives the ETag header as sent (quoted). */
AK_MUST ak_err ak_s3_put(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur key, ak_cur body,
                         const ak_s3_put_opts *opts, ak_buf *etag);
/* GetObject into `resp` (body, headers: etag, x-amz-meta-*). `max` bounds the body (0 = default);
 * `secret` makes the body buffer wipe itself. 404 -> AK_E_NOT_FOUND. */
AK_MUST ak_err ak_s3_get(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur key, size_t max,
                         bool secret, ak_http_response *resp);
/* HeadObject: headers only. 404 -> AK_E_NOT_FOUND, 403 -> AK_E_ACCESS_DENIED. */
AK_MUST ak_err ak_s3_head(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur key,
                          ak_http_response *resp);
/* DeleteObject (S3 answers 204 whether or not the key existed). */
AK_MUST ak_err ak_s3_delete(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur key);
/*
 * DeleteObjects in batches of <= AK_S3_DELETE_BATCH (quiet mode). Every per-key failure is
 * reported to `on_error` (may be NULL) and counted; none is skipped silently. Returns AK_OK when
 * every key was deleted, AK_E_ACCESS_DENIED when every failure was AccessDenied, else AK_E_S3_ERROR
 * for per-key failures; a failed batch request returns its error at once (later batches not sent).
 */
AK_MUST ak_err ak_s3_delete_objects(ak_s3 *s3, const ak_s3_call *call, const char *bucket, const ak_cur *keys,
                                    size_t n, ak_s3_delete_error_fn on_error, void *ud,
                                    ak_s3_delete_result *res);
/* ListObjectsV2 over every page (continuation tokens), calling `fn` per object in key order.
 * `page_size` 0 -> AK_S3_LIST_PAGE. Same as ak_s3_list_ex with only prefix and page_size. */
AK_MUST ak_err ak_s3_list(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur prefix,
                          unsigned page_size, ak_s3_list_fn fn, void *ud);
/* ListObjectsV2 with options (above): `fn` gets the objects and, with a delimiter, the common
 * prefixes (is_prefix), in key order, until the listing ends, max_keys items were delivered or
 * `fn` returns non-AK_OK (returned as is). `res` (optional) is filled in every case.
 * AK_E_INVALID_INPUT for an over-long start_after/delimiter or one with a NUL byte;
 * AK_E_S3_ERROR for a malformed listing (missing Key/Size/Prefix, truncated without token). */
AK_MUST ak_err ak_s3_list_ex(ak_s3 *s3, const ak_s3_call *call, const char *bucket,
                             const ak_s3_list_opts *opts, ak_s3_list_fn fn, void *ud, ak_s3_list_result *res);
/* CopyObject (server side). A 200 whose body is an <Error> (S3 does that) is an error. */
AK_MUST ak_err ak_s3_copy(ak_s3 *s3, const ak_s3_call *call, const char *src_bucket, ak_cur src_key,
                          const char *dst_bucket, ak_cur dst_key, const ak_s3_put_opts *opts);

/* CreateBucket (local stacks and tests; region us-east-1 style, no location constraint).
 * A bucket that already exists and is ours (BucketAlreadyOwnedByYou) is AK_OK. */
AK_MUST ak_err ak_s3_create_bucket(ak_s3 *s3, const ak_s3_call *call, const char *bucket);

/* Maps a non-2xx response to ak_err (table above); `code` (optional) gets the S3 error code. */
ak_err ak_s3_error_from_response(const ak_http_response *resp, ak_buf *code);
/* ETag without surrounding quotes (and without a W/ prefix). */
ak_cur ak_s3_etag_unquote(ak_cur etag);

#endif
