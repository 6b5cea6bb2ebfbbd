/*
 * ak/connector.h — where an ak_http client's connections actually go (issue 18: a Nitro enclave
 * has no network; its only way out is AF_VSOCK to the parent instance's vsock proxies).
 *
 * A connector spec (the value of --kms-connect, --chain-connect, --backup-connect, and of the
 * imds: credential source) is one of:
 *     HOST:PORT          TCP to HOST (a name or an IPv4 literal) — libcurl CURLOPT_CONNECT_TO
 *     vsock:CID:PORT     AF_VSOCK stream to CID (1..4294967294), PORT (1..4294967294)
 *     unix:/ABS/PATH     AF_UNIX stream socket (the test connector: the same code path as vsock,
 *                        reachable on any kernel; also fits a socat relay)
 * Numbers are plain decimal without leading zeros or signs; anything else is AK_E_CONFIG.
 *
 * For every form the request URL keeps naming the real server: the Host header, the TLS server
 * name (SNI) and the certificate check, and a SigV4 signature over Host all use the URL's host;
 * only the byte stream goes elsewhere. curl is pointed at an IP-literal placeholder through
 * CURLOPT_CONNECT_TO (so it never needs DNS: there is none in an enclave); for vsock and unix
 * ak_http's CURLOPT_OPENSOCKETFUNCTION creates a socket of the connector's family and its
 * CURLOPT_SOCKOPTFUNCTION replaces the placeholder address with the connector's sockaddr, so
 * curl's own non-blocking connect (bounded by the connect timeout) reaches the proxy. Why not
 * CURL_SOCKOPT_ALREADY_CONNECTED: libcurl 7.88.x calls connect() even then and fails with
 * EISCONN (curl issue #10626, fixed in 8.0.0); and the address cannot be replaced inside the
 * opensocket callback because 7.88.1 then formats it for its logs and gives up on a family it
 * cannot print (AF_VSOCK). The sockopt callback runs after that formatting and before connect()
 * (lib/cf-socket.c cf_socket_open); tests/unit/connector_test.c proves the path with unix:.
 * A failed connect is curl's CURLE_COULDNT_CONNECT: ak_http's AK_E_UPSTREAM (retried like any
 * connect failure), and the caller's own reason (kms/chain/imds) above it.
 */
#ifndef AK_CONNECTOR_H
#define AK_CONNECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
/* <linux/vm_sockets.h> needs sa_family_t (<sys/socket.h> above). musl-gcc ships no kernel
 * headers: the release build falls back to the stable kernel ABI of
 * include/uapi/linux/vm_sockets.h (the one copy; the enclave's listener uses it too). */
#if __has_include(<linux/vm_sockets.h>)
#include <linux/vm_sockets.h>
#else
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef VMADDR_CID_ANY
#define VMADDR_CID_ANY ((unsigned int)-1)
#endif
struct sockaddr_vm {
    sa_family_t svm_family;
    unsigned short svm_reserved1;
    unsigned int svm_port;
    unsigned int svm_cid;
    unsigned char svm_flags;
    unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(sa_family_t) - sizeof(unsigned short) -
                           sizeof(unsigned int) - sizeof(unsigned int) - sizeof(unsigned char)];
};
#endif

#include "ak/bytes.h"
#include "ak/err.h"

struct sockaddr_storage;

typedef enum ak_conn_kind {
    AK_CONN_TCP = 1, /* HOST:PORT through CURLOPT_CONNECT_TO */
    AK_CONN_VSOCK,   /* vsock:CID:PORT */
    AK_CONN_UNIX,    /* unix:/path */
} ak_conn_kind;

#define AK_CONNECTOR_MAX_SPEC 300u
#define AK_CONNECTOR_MAX_PATH 107u /* sun_path holds 108 bytes with the NUL */

typedef struct ak_connector {
    ak_conn_kind kind;
    char spec[AK_CONNECTOR_MAX_SPEC];     /* as given, for logs (holds no secret) */
    char host[256];                       /* TCP */
    uint32_t port;                        /* TCP (1..65535) or vsock port */
    uint32_t cid;                         /* vsock */
    char path[AK_CONNECTOR_MAX_PATH + 1]; /* unix */
} ak_connector;

/* Parses a spec strictly (see above). AK_E_CONFIG for anything else. */
AK_MUST ak_err ak_connector_parse(ak_cur spec, ak_connector *out);
/* The socket address and family of a vsock or unix connector (AK_E_CONFIG for TCP). */
AK_MUST ak_err ak_connector_sockaddr(const ak_connector *c, struct sockaddr_storage *ss, unsigned *len,
                                     int *family);
/* A stream socket connected to a vsock or unix connector, outside curl (SOCK_CLOEXEC): AK_OK with
 * *fd, or AK_E_UPSTREAM (socket/connect failed: no such device, refused, ...) or
 * AK_E_UPSTREAM_TIMEOUT (no answer within timeout_ms), with *sys_errno set. Never blocks longer
 * than timeout_ms. AK_E_CONFIG for a TCP connector. */
AK_MUST ak_err ak_connector_connect(const ak_connector *c, unsigned timeout_ms, int *fd, int *sys_errno);

#endif
