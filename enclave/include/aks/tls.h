/*
 * aks/tls.h — the signer's mTLS server (BearSSL), one aks_tls_conn per accepted connection.
 *
 * Policy (issue 5 §2, DESIGN §2 layer 5):
 *   - TLS 1.2 only; ECDHE-ECDSA with AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305; the
 *     server key is EC P-256 (BR_KEYTYPE_SIGN: ECDHE_ECDSA only, no static ECDH).
 *   - Client authentication is REQUIRED: the server sends the worker CA's DN
 *     (br_ssl_server_set_trust_anchor_names_alt) and validates the client chain with
 *     br_x509_minimal against that CA only. No certificate, a certificate from another CA, an
 *     expired one or a bad CertificateVerify abort the handshake (BR_OPT_TOLERATE_NO_CLIENT_AUTH
 *     is never set).
 *   - The client certificate must be for client authentication: its extendedKeyUsage must list
 *     id-kp-clientAuth (ak/pki.h ak_pki_x509_eku wraps br_x509_minimal; no EKU, another purpose
 *     or anyExtendedKeyUsage abort the handshake with BR_ERR_X509_FORBIDDEN_KEY_USAGE and a log
 *     line naming the reason). The server's own certificate must list id-kp-serverAuth: the
 *     signer refuses to start otherwise (aks_tls_config_load -> AK_E_CERT_EKU_MISSING).
 *   - Identity: br_x509_minimal's name-element extraction (br_x509_minimal_set_name_elements)
 *     collects, from the validated end-entity certificate only, up to two SAN URIs.
 *     aks_role_from_identity (aks/api.h) maps them to a role; the subject CN is never read
 *     (issue 16 finding 8: no CN fallback). This avoids writing a second certificate parser:
 *     BearSSL decodes the names while it validates the chain.
 *   - Session resumption (issue 19): full handshakes are remembered by session ID in one cache
 *     shared by all connections (aks_tls_sessions: AKS_TLS_SESSIONS entries, least recently used
 *     replaced, in locked memory, one mutex). A resumed handshake does not see a client
 *     certificate, so each entry keeps the identity the full handshake validated (its SAN URIs)
 *     and a resumed connection gets exactly that identity back (never one of another entry or
 *     of the certificate a resuming client might hold). An entry expires ttl_ms after its full
 *     handshake, however often it is resumed: the chain is validated again at least that often.
 *     The cache lives in memory only: after a restart every client makes a full handshake.
 *   - Timeouts: the handshake must finish within handshake_ms of accept; after that each request
 *     must arrive whole within request_ms of its first byte, and a kept-alive connection may sit
 *     idle for idle_ms. Every socket read and write waits with poll() against the current deadline.
 */
#ifndef AKS_TLS_H
#define AKS_TLS_H

#include <bearssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "ak/pki.h"

#define AKS_TLS_URI_MAX 256u
#define AKS_TLS_SESSIONS 128u
#define AKS_TLS_SESSION_TTL_MS (3600u * 1000u)

typedef struct aks_tls_sessions aks_tls_sessions;

typedef struct aks_tls_config {
    ak_pki_chain chain; /* server certificate chain, leaf first */
    ak_pki_eckey *key;  /* server key (locked memory) */
    ak_pki_anchors client_cas;
    aks_tls_sessions *sessions; /* NULL: no resumption */
} aks_tls_config;

/* Loads the three PEM files. AK_E_BAD_KEY / AK_E_IO on bad material; the server key must be
 * P-256 and match the leaf certificate, and the leaf must carry the serverAuth EKU
 * (AK_E_CERT_EKU_MISSING, logged). */
AK_MUST ak_err aks_tls_config_load(aks_tls_config *c, const char *cert_pem, const char *key_pem,
                                   const char *ca_pem);
/* RA-TLS (issue 18; `--tls-key generate` in nitro mode): a fresh P-256 key generated here, in
 * locked memory, never written anywhere, and a self-signed certificate for it (aks/x509.h
 * aks_x509_tls_server: EKU serverAuth, SAN dNSName = server_name, valid AKS_TLS_GENERATED_DAYS
 * from an hour before now). No CA vouches for it: nitro-mode clients authenticate the key by
 * the NSM document that binds it (ak/pki.h "RA-TLS"). The client CA stays a file, as above. */
#define AKS_TLS_GENERATED_DAYS 3650u
#define AKS_TLS_GENERATED_NAME "signer.agentkeys.internal"
AK_MUST ak_err aks_tls_config_generate(aks_tls_config *c, const char *server_name, const char *ca_pem);
void aks_tls_config_free(aks_tls_config *c);

/* The session cache (loaded configs have one with AKS_TLS_SESSION_TTL_MS). ttl_ms 0 = default. */
AK_MUST ak_err aks_tls_sessions_new(unsigned ttl_ms, aks_tls_sessions **out);
void aks_tls_sessions_free(aks_tls_sessions *c);

typedef struct aks_tls_conn {
    br_ssl_server_context sc;
    br_x509_minimal_context xc;
    ak_pki_x509_eku eku;      /* xc + the clientAuth check on the leaf */
    br_name_element names[2]; /* SAN URI, SAN URI */
    char uri[2][AKS_TLS_URI_MAX];
    br_sslio_context io;
    int fd;
    int64_t deadline_ms; /* monotonic; the low-level I/O fails once it passes */
    bool timed_out;
    /* resumption: the cache, and what its load gave this handshake (checked at its end) */
    const br_ssl_session_cache_class *cache_vtable;
    aks_tls_sessions *sessions;
    bool resume_offered;
    bool resumed; /* the handshake resumed a cached session: names/uri are the cached identity */
    uint8_t resume_id[32];
    int resume_status[2];
    char resume_uri[2][AKS_TLS_URI_MAX];
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
} aks_tls_conn;

/* Prepares a server context on an accepted socket. */
AK_MUST ak_err aks_tls_conn_init(aks_tls_conn *t, const aks_tls_config *cfg, int fd);
/* Runs the handshake to completion before `deadline_ms`. AK_E_UNAUTHORIZED when it failed
 * (bad/no client certificate, protocol error, timeout); *br_err gets BearSSL's error code. */
AK_MUST ak_err aks_tls_handshake(aks_tls_conn *t, int64_t deadline_ms, int *br_err);
/* Reads some application bytes (blocking until at least one, or deadline). Returns the count,
 * 0 on clean close, -1 on error/timeout. */
long aks_tls_read(aks_tls_conn *t, void *buf, size_t len, int64_t deadline_ms);
/* Writes and flushes everything. */
AK_MUST ak_err aks_tls_write_all(aks_tls_conn *t, const void *buf, size_t len, int64_t deadline_ms);
/* Sends close_notify (best effort, bounded by the deadline). */
void aks_tls_close(aks_tls_conn *t, int64_t deadline_ms);

/* Monotonic milliseconds. */
int64_t aks_now_mono_ms(void);

#endif
