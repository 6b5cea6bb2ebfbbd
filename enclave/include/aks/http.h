/*
 * aks/http.h — the signer's strict HTTP/1.1 request parser and response writer.
 *
 * Only what the signer protocol needs (RFC 9112 subset), and everything else is refused:
 *   request-line  = method SP origin-form SP "HTTP/1.1" CRLF   (method: uppercase A-Z, <= 16)
 *   header-field  = token ":" OWS field-value OWS CRLF          (no obs-fold, no bare LF)
 *   body          = exactly Content-Length bytes (absent = 0); Transfer-Encoding is refused
 * Limits (aks_http_limits): request-line length, header count, total head size, body size.
 * A duplicate Content-Length, a Host header missing or repeated, a NUL or control byte in the
 * head, a target that is not origin-form, or an HTTP version other than 1.1 is malformed.
 *
 * The parser is incremental: call it with everything received so far; it either needs more
 * bytes (AK_OK, *complete=false), has a whole request (AK_OK, *complete=true, req->total_len
 * consumed bytes), or refuses (AK_E_INVALID_INPUT malformed; AK_E_TOO_LARGE over a limit —
 * callers answer 400/413 and close). Views in `req` point into the input buffer.
 */
#ifndef AKS_HTTP_H
#define AKS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

#define AKS_HTTP_MAX_HEADERS 32u
#define AKS_HTTP_MAX_TARGET 256u
#define AKS_HTTP_MAX_METHOD 16u

typedef struct aks_http_limits {
    size_t max_head; /* request line + headers + the blank line */
    size_t max_body;
    size_t max_headers; /* <= AKS_HTTP_MAX_HEADERS */
} aks_http_limits;

/* The signer's defaults: 8 KiB head, 64 KiB body, 32 headers. */
#define AKS_HTTP_DEFAULT_LIMITS ((aks_http_limits){8192u, 65536u, AKS_HTTP_MAX_HEADERS})

typedef struct aks_http_hdr {
    ak_cur name;
    ak_cur value; /* OWS trimmed */
} aks_http_hdr;

typedef struct aks_http_req {
    ak_cur method;
    ak_cur target; /* origin-form, starts with '/' */
    ak_cur path;   /* target without the query */
    ak_cur body;
    aks_http_hdr headers[AKS_HTTP_MAX_HEADERS];
    size_t n_headers;
    bool keep_alive;  /* false when the client sent "Connection: close" */
    size_t total_len; /* bytes of the input this request used */
} aks_http_req;

AK_MUST ak_err aks_http_parse(ak_cur in, const aks_http_limits *lim, aks_http_req *req, bool *complete);

/* First header with that name (ASCII case-insensitive); false when absent. */
bool aks_http_header(const aks_http_req *req, const char *name, ak_cur *value);

/* Appends a whole response: status line, Content-Type: application/json, Content-Length,
 * Cache-Control: no-store, Connection: close when !keep_alive, then the body. */
AK_MUST ak_err aks_http_write_response(ak_buf *out, int status, ak_cur body, bool keep_alive);

#endif
