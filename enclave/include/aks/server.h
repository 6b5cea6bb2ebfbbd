/*
 * aks/server.h — the connection loop: accept, one thread per connection (capped), mTLS
 * handshake, then kept-alive HTTP/1.1 requests until the client closes or a timeout passes.
 *
 * Limits: at most max_conns connections at once (further ones are closed at accept and logged);
 * requests over the aks_http_limits get 413/400 and the connection is closed; handshake,
 * per-request and idle timeouts as in aks/tls.h. Per connection ~40 KiB (BearSSL context and
 * its bidirectional record buffer) plus the request buffer; all of it is wiped on close (TLS keys
 * and KEKs pass through it).
 *
 * Logs one line per handshake failure (BearSSL error code, peer address) and per request
 * (method, path, role, status, reason) — never bodies, KEKs, signatures or nonces.
 */
#ifndef AKS_SERVER_H
#define AKS_SERVER_H

#include <signal.h>
#include <stdint.h>

#include "aks/api.h"
#include "aks/http.h"
#include "aks/tls.h"

typedef struct aks_server_opts {
    unsigned max_conns;    /* default 64 */
    unsigned handshake_ms; /* default 5000 */
    unsigned request_ms;   /* default 10000 */
    unsigned idle_ms;      /* default 60000 */
    aks_http_limits limits;
} aks_server_opts;

typedef struct aks_server {
    int lfd;
    aks_ctx *ctx;
    const aks_tls_config *tls;
    aks_server_opts opts;
    unsigned active; /* atomic */
    volatile sig_atomic_t *stop;
} aks_server;

/* Accepts until *stop becomes non-zero (a signal handler sets it), then waits briefly for the
 * connections in flight. */
AK_MUST ak_err aks_server_run(aks_server *s);

#endif
