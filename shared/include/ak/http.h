/*
 * ak/http.h — the one HTTP(S) client: libcurl 7.88.1 (BearSSL backend) behind a small API.
 *
 * Shape (STYLE §12, DESIGN §7, §8):
 *   - An `ak_http` client owns ONE curl easy handle, reused for every request so keep-alive
 *     connections, DNS and TLS sessions survive across Lambda invocations. Create one client per
 *     peer class per process (e.g. one for AWS + chain RPC, one for the signer with its mTLS
 *     identity) at init and keep it; never one per request. Not thread-safe: one client is used
 *     by one thread at a time (the Lambda runtime loop is single-threaded).
 *   - TLS verification is always on; there is no option to turn it off. Trust anchors are parsed
 *     ONCE per process (not per connection): the bundle path is resolved from SSL_CERT_FILE, then
 *     /etc/ssl/certs/ca-certificates.crt (Debian), then /etc/pki/tls/certs/ca-bundle.crt (Amazon
 *     Linux). A client may instead pin its own CA (PEM; the signer's attested-worker CA) and then
 *     trusts only that CA. Hostnames are verified; an IP-literal https URL is refused (BearSSL
 *     through curl cannot verify IP SANs), so use "localhost" with a DNS SAN in tests.
 *   - mTLS: an optional client identity (PEM certificate chain + P-256 EC private key, SEC1 or
 *     PKCS#8) is decoded once into BearSSL structures by ak_http_new and set on the
 *     br_ssl_client_context from CURLOPT_SSL_CTX_FUNCTION (br_ssl_client_set_single_ec).
 *   - Deadlines: callers pass an absolute deadline (Unix epoch milliseconds, as in the Lambda
 *     `Lambda-Runtime-Deadline-Ms` header). Every attempt's timeout and every backoff sleep is cut
 *     to fit before it; a request that cannot start in time fails with AK_E_UPSTREAM_TIMEOUT.
 *   - Retries: bounded, full-jitter exponential backoff, ONLY for requests flagged idempotent,
 *     on transport errors (connect/reset/timeout of one attempt while time remains), 5xx and 429.
 *     (S3's SlowDown is a 503.) A non-idempotent request is retried only when the connection
 *     could not be made at all (resolve/connect failure: nothing was sent); a 5xx, 429 or a
 *     failure after sending is returned as is.
 *   - Response bodies have a ceiling (default AK_MAX_UPSTREAM_BODY): exceeding it aborts the
 *     transfer with AK_E_TOO_LARGE. Redirects are not followed; proxies are disabled (env ignored);
 *     only http:// and https:// URLs are accepted.
 *   - Logging: method, host and status only. Never URLs' query strings (presigned URLs carry
 *     signatures and tokens), never header values, never bodies (STYLE §9).
 *
 * Status codes are data: ak_http_do returns AK_OK whenever an HTTP response was received (after
 * any retries), whatever its status; the caller maps the status and body (e.g. S3 error XML) to
 * its own reason. ak_http_status_err gives a generic mapping for callers with no better one.
 */
#ifndef AK_HTTP_H
#define AK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"

struct sockaddr;
struct ak_connector;

/* Defaults used when a config or request field is 0. */
#define AK_HTTP_DEFAULT_TIMEOUT_MS 10000u /* per request when no deadline is given */
#define AK_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 3000u
#define AK_HTTP_DEFAULT_MAX_ATTEMPTS 3u
#define AK_HTTP_DEFAULT_BACKOFF_BASE_MS 50u
#define AK_HTTP_DEFAULT_BACKOFF_MAX_MS 1000u
/* An attempt is not started with less than this left before the deadline. */
#define AK_HTTP_MIN_ATTEMPT_MS 20u
/* Ceiling on the total size of a response's header block we keep. */
#define AK_HTTP_MAX_RESPONSE_HEADERS (64u * 1024u)
#define AK_HTTP_MAX_REQUEST_HEADERS 64u

typedef struct ak_http ak_http; /* opaque client: one curl easy handle + TLS material */

typedef struct ak_http_retry {
    unsigned max_attempts; /* total attempts including the first; 0 -> default (3); 1 = no retry */
    unsigned base_ms;      /* backoff before retry n (n>=1) is uniform in [0, min(max, base*2^(n-1))] */
    unsigned max_backoff_ms;
} ak_http_retry;

typedef struct ak_http_config {
    /* Optional pinned CA(s), PEM text. When set, ONLY these anchors are trusted (signer channel). */
    ak_cur pinned_ca_pem;
    /* Optional mTLS identity: PEM certificate chain (leaf first) and EC P-256 private key PEM
     * ("EC PRIVATE KEY" or "PRIVATE KEY"). Both or neither. Copied and decoded by ak_http_new;
     * the caller may wipe its copies afterwards. The client wipes the key on ak_http_free. */
    ak_cur client_cert_pem;
    ak_cur client_key_pem;
    unsigned connect_timeout_ms; /* 0 -> AK_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    ak_http_retry retry;         /* zeros -> defaults */
    const char *user_agent;      /* NULL -> "agentkeys/1" */
    /* Optional: called with every address a connection is about to be opened to, after DNS and
     * before connect (CURLOPT_OPENSOCKETFUNCTION), so the check is on the address actually
     * connected to. false refuses it; a request whose connection failed after a refusal ends
     * with AK_E_DESTINATION_NOT_ALLOWED (never retried). Used by ak/egress.h (D19). */
    bool (*sock_check)(void *user, const struct sockaddr *sa, unsigned len);
    void *sock_check_user;
    /* Optional connector spec (ak/connector.h): "HOST:PORT" (CURLOPT_CONNECT_TO),
     * "vsock:CID:PORT" or "unix:/path" (a socket we open and connect ourselves). Every connection
     * goes there instead, while the URL's host still names the server (Host header, SNI,
     * certificate check, SigV4). For the parent instance's vsock proxies (issue 18). A malformed
     * spec is AK_E_CONFIG; so is a vsock/unix connector together with sock_check (the check is
     * on IP addresses). */
    const char *connect_to;
    /* Optional, instead of connect_to: an already parsed connector (copied), e.g. one whose
     * `open` a test replaced. */
    const struct ak_connector *connector;
} ak_http_config;

typedef struct ak_http_header {
    const char *name; /* e.g. "x-amz-date"; NUL-terminated (libcurl boundary) */
    ak_cur value;     /* must not contain CR or LF (AK_E_INVALID_INPUT) */
} ak_http_header;

typedef struct ak_http_request {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE", ... */
    const char *url;    /* absolute http:// or https:// URL, already encoded */
    const ak_http_header *headers;
    size_t n_headers;    /* <= AK_HTTP_MAX_REQUEST_HEADERS */
    ak_cur body;         /* sent as-is with Content-Length (even when empty for PUT/POST) */
    int64_t deadline_ms; /* absolute epoch ms; 0 -> now + timeout_ms (or the default) */
    unsigned timeout_ms; /* optional cap on the whole call (all attempts) when no deadline */
    bool idempotent;     /* allows retries (GET/HEAD/PUT/DELETE usually are; POST is not) */
    size_t max_response; /* body ceiling; 0 -> AK_MAX_UPSTREAM_BODY */
    bool body_secret;    /* response body holds a secret: wiped on growth and free */
} ak_http_request;

typedef struct ak_http_response {
    long status;    /* final HTTP status, 0 when none was received */
    ak_buf headers; /* final response's headers as "name:value\n" lines, names lowercased, values trimmed */
    ak_buf body;
    unsigned attempts; /* attempts made (1 = no retry) */
} ak_http_response;

/* Unix epoch time in milliseconds (CLOCK_REALTIME, the clock Lambda deadlines use). */
int64_t ak_http_now_ms(void);

/*
 * Creates a client. Initialises libcurl's globals on first use (call from the single-threaded
 * init phase). Decodes the optional pinned CA and client identity.
 * Returns AK_E_BAD_KEY for an unusable key/certificate, AK_E_CONFIG for other bad settings,
 * AK_E_NOMEM.
 */
AK_MUST ak_err ak_http_new(const ak_http_config *cfg, ak_http **out);
/* Frees the client (closing its connections) and wipes its key material. NULL is allowed. */
void ak_http_free(ak_http *c);

/*
 * Releases process-wide state (the parsed system CA bundle, libcurl globals). Only for tests and
 * tools that check for leaks at exit; functions never call it. No client may be alive.
 */
void ak_http_global_cleanup(void);

/* Initialises an empty response (headers and body buffers with their ceilings set per request). */
void ak_http_response_init(ak_http_response *r);
/* Frees the response's buffers (wiping the body when the request set body_secret). */
void ak_http_response_free(ak_http_response *r);

/*
 * Performs the request with retries (see above). `resp` must be initialised; its previous content
 * is discarded. Returns:
 *   AK_OK                   a response was received (any status; see resp->status)
 *   AK_E_UPSTREAM_TIMEOUT   the deadline passed (during an attempt or before one could start)
 *   AK_E_TOO_LARGE          the body exceeded max_response (never retried)
 *   AK_E_UPSTREAM           transport failure (DNS, connect, reset, TLS handshake or
 *                           certificate verification) after the allowed attempts
 *   AK_E_INVALID_INPUT      bad URL scheme or a header value with CR/LF
 *   AK_E_CONFIG             no usable CA bundle for an https URL (and no pinned CA)
 *   AK_E_DESTINATION_NOT_ALLOWED  the config's sock_check refused an address and no
 *                           connection was made
 *   AK_E_NOMEM
 * After a retried 5xx/429 the LAST response is returned with AK_OK.
 */
AK_MUST ak_err ak_http_do(ak_http *c, const ak_http_request *req, ak_http_response *resp);

/* Case-insensitive lookup of a response header; the first occurrence. Returns false if absent. */
bool ak_http_response_header(const ak_http_response *r, const char *name, ak_cur *value);

/*
 * Generic status mapping for callers without a protocol-specific one: 2xx -> AK_OK,
 * 404 -> NOT_FOUND, 412 -> PRECONDITION_FAILED, 409 -> CONFLICT, 401/403 -> ACCESS_DENIED,
 * 413 -> TOO_LARGE, 429 -> THROTTLED, 503 -> THROTTLED, 504 -> UPSTREAM_TIMEOUT, other -> UPSTREAM.
 */
ak_err ak_http_status_err(long status);

/* True when a status is one ak_http_do retries for idempotent requests (5xx, 429). */
bool ak_http_status_retryable(long status);

/* The RFC 9110 reason phrase of a status, for our servers' status lines (the signer, the
 * emulator); "Status" for one not in the table (clients must not depend on the phrase). */
const char *ak_http_reason_phrase(int status);

#endif
