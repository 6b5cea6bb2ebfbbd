/*
 * ak/limits.h — every named ceiling in one place (STYLE §3).
 */
#ifndef AK_LIMITS_H
#define AK_LIMITS_H

/* Lambda: synchronous request and response payloads are capped at 6 MiB (lambda.md B6). */
#define AK_MAX_LAMBDA_PAYLOAD (6u * 1024u * 1024u)
/* Largest HTTP body a function accepts after base64 decoding (a secret or a memory blob). */
#define AK_MAX_REQUEST_BODY (1024u * 1024u)
/* Largest plaintext a worker seals (credentials are small; memory blobs up to this). */
#define AK_MAX_PLAINTEXT (512u * 1024u)
/* One HTTP header line (name + value) we are willing to read. */
#define AK_MAX_HEADER_LINE 8192u
/* A Runtime API request id / ARN / trace id. */
#define AK_MAX_REQUEST_ID 128u
#define AK_MAX_ARN 512u
#define AK_MAX_TRACE_ID 512u
#define AK_MAX_CLIENT_CONTEXT 16384u
/* Service names: [a-z0-9][a-z0-9._-]{0,63} (decisions D3). */
#define AK_MAX_SERVICE_LEN 64u
/* Responses we accept from upstreams (S3 GET of an envelope, STS XML, JSON-RPC). */
#define AK_MAX_UPSTREAM_BODY (8u * 1024u * 1024u)
/* A compact JWS we accept. */
#define AK_MAX_JWS 16384u
/* Per-invocation arena ceiling. */
#define AK_MAX_ARENA (64u * 1024u * 1024u)
/* S3 DeleteObjects batch size (S3 API limit). */
#define AK_S3_DELETE_BATCH 1000u
/* One encoded audit event (ak/audit.h) and the leaves of one Merkle batch (4M; the flush
 * keeps every tree level: 2N x 32 bytes). */
#define AK_MAX_AUDIT_EVENT 8192u
#define AK_MAX_AUDIT_BATCH (1u << 22)
/* Log line ceiling; longer lines are cut with a marker, never overflowed. */
#define AK_MAX_LOG_LINE 4096u

#endif
