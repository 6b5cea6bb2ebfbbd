/*
 * akrt/http1.h — the Runtime API's transport: a minimal HTTP/1.1 client over one kept-alive
 * socket (issue 19 item 5). The Runtime API is plain HTTP on loopback (reference/lambda.md B7),
 * so a general client is not needed on this path: per invocation this does one write and
 * usually one read for /next, and one writev and one read for /response. libcurl stays for every
 * outbound HTTPS call (ak/http.h).
 *
 * What it speaks: requests with an explicit Content-Length (never chunked, never
 * `Expect: 100-continue`), no proxy, no redirects. Responses: a status line `HTTP/1.x DDD`, header
 * fields (`name: value`; obs-fold, NULs, bare CR, a name with spaces are refused), interim 1xx
 * heads skipped, bodies framed by Content-Length, by chunked transfer coding, or by the
 * connection's close; `Connection: close` and HTTP/1.0 close the socket after the answer.
 * Two Content-Length fields that differ, or Content-Length with Transfer-Encoding, are refused
 * (RFC 9112 §6.3: request smuggling's ingredients).
 */
#ifndef AKRT_HTTP1_H
#define AKRT_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ak/bytes.h"
#include "ak/err.h"

/* A response head longer than this is refused (the Runtime API's headers are small; the
 * client context and Cognito identity headers are the largest, 3.5 KiB each). */
#define AKRT_HTTP1_MAX_HEAD (64u * 1024u)
#define AKRT_HTTP1_MAX_HOST 255u
#define AKRT_HTTP1_IN 16384u /* the read buffer */

/* Callbacks for one response. on_header sees each field of the final (non-1xx) head, value
 * trimmed of OWS; on_body sees the body in pieces and returns false to stop (the body is too
 * large for the caller): the request then ends with AK_E_TOO_LARGE and the socket is closed. */
typedef struct akrt_http1_cb {
    void (*on_header)(void *ud, ak_cur name, ak_cur value);
    bool (*on_body)(void *ud, const uint8_t *p, size_t n);
    void *ud;
} akrt_http1_cb;

/* The framing facts of a parsed head. */
typedef struct akrt_http1_head {
    int status;
    bool http10;     /* HTTP/1.0: no keep-alive */
    bool close;      /* Connection: close */
    bool chunked;    /* Transfer-Encoding: chunked (the only coding accepted) */
    bool has_length; /* Content-Length present */
    uint64_t content_length;
} akrt_http1_head;

typedef struct akrt_http1 {
    int fd; /* -1 while not connected */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char host[AKRT_HTTP1_MAX_HOST + 1]; /* the Host field: AWS_LAMBDA_RUNTIME_API as given */
    long connect_timeout_ms;
    uint8_t *in; /* read buffer of AKRT_HTTP1_IN bytes, allocated at the first read (not on
                  * the stack or zeroed at init: a cold start touches only what a read fills) */
    size_t off, len;
    ak_buf head; /* the response head being assembled when it spans reads */
} akrt_http1;

/* Resolves `hostport` ("127.0.0.1:9001", "[::1]:9001", "localhost:9001") once. Connects lazily.
 * Returns AK_E_CONFIG for a malformed or unresolvable address. */
AK_MUST ak_err akrt_http1_init(akrt_http1 *c, const char *hostport, long connect_timeout_ms);
void akrt_http1_free(akrt_http1 *c);

/*
 * Sends `method path` with `extra_headers` (zero or more complete "Name: value\r\n" lines, or
 * NULL) and `body` (Content-Length always sent for POST), then reads the whole response.
 * No read timeout (the Runtime API's /next blocks while the sandbox is frozen).
 * Returns: AK_OK with *status; AK_E_UPSTREAM for a transport failure worth a retry (connect
 * refused or timed out, reset, the peer closed before a complete answer: the socket is closed
 * and the next call reconnects); AK_E_TOO_LARGE when on_body refused (*status is set);
 * AK_E_INVALID_INPUT for a response that breaks the grammar above (socket closed).
 */
AK_MUST ak_err akrt_http1_request(akrt_http1 *c, const char *method, const char *path,
                                  const char *extra_headers, ak_cur body, const akrt_http1_cb *cb,
                                  int *status);

/*
 * Parses one complete response head (status line through the empty line, CRLF line ends; a bare
 * LF is accepted as a line end, as RFC 9112 §2.2 allows recipients to) and reports each field to
 * cb->on_header (cb may be NULL). Exposed for the unit test and the fuzz target.
 * Returns AK_OK or AK_E_INVALID_INPUT.
 */
AK_MUST ak_err akrt_http1_parse_head(ak_cur head, akrt_http1_head *out, const akrt_http1_cb *cb);

#endif
