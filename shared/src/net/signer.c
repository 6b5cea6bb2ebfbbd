/* signer.c — mTLS client of the signer enclave with channel-bound attestation (see ak/signer.h). */
#include "ak/signer.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/attest.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"
#include "ak/limits.h"
#include "ak/log.h"
#include "ak/pki.h"

#define SIGNER_MAX_HEAD 16384u
#define SIGNER_MAX_BODY (1024u * 1024u)

typedef struct {
    br_ssl_client_context cc;
    br_x509_minimal_context xc;
    ak_pki_x509_eku eku; /* xc + the serverAuth check on the signer's leaf */
    /* nitro mode without a pinned CA (RA-TLS, issue 18): the leaf checked and its key captured;
     * the attestation that follows the handshake authenticates that key */
    ak_pki_x509_capture cap;
    bool capture;
    br_sslio_context io;
    int fd;
    int64_t deadline_ms;
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
} s_signer_conn;

struct ak_signer {
    char host[256];
    char port[8];
    char server_name[256];
    ak_pki_anchors cas;
    ak_pki_chain chain;
    ak_pki_eckey key;
    ak_attest_pins pins;
    unsigned timeout_ms;
    int64_t attest_max_age_ms;
    s_signer_conn *conn; /* NULL when disconnected */
    bool attested;
    uint8_t attested_tls_pub[65];
    unsigned connects;
    unsigned resumes;
    /* TLS session resumption (issue 19): the last full handshake's session, offered on the next
     * connect, with the server key that handshake authenticated (a resumed handshake shows no
     * certificate; the session is bound to that key's handshake). */
    bool no_resume;
    bool have_session;
    br_ssl_session_parameters session;
    uint8_t session_server_pub[65];
    bool have_kids;
    char kids[3][AK_SIGNER_KID_MAX];
    /* A /v1/kek/derive sent by ak_signer_derive_kek_send whose reply is still on the
     * connection (issue 19: overlapped with the chain reads). */
    bool pending;
    bool pending_reused; /* it went out on a kept-alive connection (a dead one may be retried) */
    bool queued;         /* its connection was dropped before the reply was read: resend at _recv */
    ak_buf pending_req;  /* its body, for a resend (holds the cap: wiped) */
};

static int64_t s_signer_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_signer_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- configuration ---- */

static const char *s_signer_env(const char *name) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

void ak_signer_config_attest_env(ak_signer_config *c) {
    c->attestation = s_signer_env("AK_SIGNER_ATTESTATION");
    c->attest_pub = s_signer_env("AK_SIGNER_ATTEST_PUB");
    c->measurement_hex = s_signer_env("AK_SIGNER_MEASUREMENT");
    c->pcr_hex[0] = s_signer_env("AK_SIGNER_PCR0");
    c->pcr_hex[1] = s_signer_env("AK_SIGNER_PCR1");
    c->pcr_hex[2] = s_signer_env("AK_SIGNER_PCR2");
    c->pcr_hex[3] = s_signer_env("AK_SIGNER_PCR8");
    c->nitro_root = s_signer_env("AK_SIGNER_NITRO_ROOT");
}

ak_err ak_signer_config_from_env(ak_signer_config *c) {
    /* The attestation settings depend on the mode: ak_signer_new checks them (ak/attest.h). */
    static const char *const required[] = {"AK_SIGNER_URL", "AK_SIGNER_CLIENT_CERT", "AK_SIGNER_CLIENT_KEY"};
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *v = getenv(required[i]);
        if (v == NULL || v[0] == '\0') {
            ak_log_error("signer client misconfigured", "missing", required[i]);
            return AK_E_CONFIG;
        }
    }
    c->url = getenv("AK_SIGNER_URL");
    c->ca_pem_path = s_signer_env("AK_SIGNER_CA_PEM");
    c->cert_path = getenv("AK_SIGNER_CLIENT_CERT");
    c->key_path = getenv("AK_SIGNER_CLIENT_KEY");
    ak_signer_config_attest_env(c);
    bool nitro = c->attestation != NULL && strcmp(c->attestation, "nitro") == 0;
    /* nitro: the CA is optional (RA-TLS: the signer's key is authenticated by attestation) */
    const char *need[3] = {nitro ? "AK_SIGNER_PCR0" : "AK_SIGNER_ATTEST_PUB",
                           nitro ? NULL : "AK_SIGNER_MEASUREMENT", nitro ? NULL : "AK_SIGNER_CA_PEM"};
    for (size_t i = 0; i < 3; i++) {
        if (need[i] != NULL && s_signer_env(need[i]) == NULL) {
            ak_log_error("signer client misconfigured", "missing", need[i], "mode",
                         nitro ? "nitro" : "local");
            return AK_E_CONFIG;
        }
    }
    c->server_name = getenv("AK_SIGNER_SERVER_NAME");
    const char *t = getenv("AK_SIGNER_TIMEOUT_MS");
    uint64_t v;
    if (t != NULL && ak_cur_to_u64(ak_cur_from_str(t), &v) == AK_OK && v > 0 && v < 600000)
        c->timeout_ms = (unsigned)v;
    return AK_OK;
}

/* "https://HOST:PORT" with an optional trailing "/"; IPv6 literals in brackets. */
static ak_err s_signer_parse_url(ak_signer *s, const char *url) {
    ak_cur u = ak_cur_from_str(url), host, port;
    AK_ENSURE(ak_cur_starts_with(u, AK_CUR_LIT("https://")), AK_E_CONFIG);
    u = ak_cur_from(u.ptr + 8, u.len - 8);
    if (u.len > 0 && u.ptr[u.len - 1] == '/') u.len--;
    if (u.len > 0 && u.ptr[0] == '[') {
        long close_br = ak_cur_find(u, ']');
        AK_ENSURE(close_br > 1 && (size_t)close_br + 1 < u.len && u.ptr[close_br + 1] == ':', AK_E_CONFIG);
        host = ak_cur_from(u.ptr + 1, (size_t)close_br - 1);
        port = ak_cur_from(u.ptr + close_br + 2, u.len - (size_t)close_br - 2);
    } else {
        AK_ENSURE(ak_cur_split(&u, ':', &host), AK_E_CONFIG);
        port = u;
    }
    uint64_t p;
    AK_ENSURE(host.len > 0 && ak_cur_to_u64(port, &p) == AK_OK && p > 0 && p < 65536, AK_E_CONFIG);
    AK_ENSURE(ak_cur_to_cstr(host, s->host, sizeof(s->host)) == AK_OK, AK_E_CONFIG);
    snprintf(s->port, sizeof(s->port), "%u", (unsigned)p);
    return AK_OK;
}

static bool s_signer_is_ip_literal(const char *h) {
    if (strchr(h, ':') != NULL) return true; /* IPv6 */
    for (const char *c = h; *c; c++)
        if (!((*c >= '0' && *c <= '9') || *c == '.')) return false;
    return true;
}

ak_err ak_signer_new(const ak_signer_config *c, ak_signer **out) {
    ak_buf b;
    ak_err rc = AK_OK;
    *out = NULL;
    AK_ENSURE(c->url && c->cert_path && c->key_path, AK_E_CONFIG);
    ak_signer *s = ak_calloc(1, sizeof(*s));
    AK_ENSURE(s != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(s_signer_parse_url(s, c->url));
    const char *name = c->server_name && c->server_name[0]
                           ? c->server_name
                           : (s_signer_is_ip_literal(s->host) ? AK_SIGNER_DEFAULT_SERVER_NAME : s->host);
    AK_ENSURE_OUT(ak_cur_to_cstr(ak_cur_from_str(name), s->server_name, sizeof(s->server_name)) == AK_OK,
                  AK_E_CONFIG);
    ak_attest_settings as = {c->attestation,
                             c->attest_pub,
                             c->measurement_hex,
                             {c->pcr_hex[0], c->pcr_hex[1], c->pcr_hex[2], c->pcr_hex[3]},
                             c->nitro_root};
    AK_GUARD_OUT(ak_attest_pins_parse(&as, &s->pins));
    /* Local mode pins the signer's CA; nitro mode may (then both checks apply) or may not (RA-TLS:
     * the handshake key is authenticated by the NSM document alone, ak/pki.h). */
    bool have_ca = c->ca_pem_path != NULL && c->ca_pem_path[0] != '\0';
    AK_ENSURE_OUT(have_ca || s->pins.mode == AK_ATTEST_MODE_NITRO, AK_E_CONFIG);
    s->timeout_ms = c->timeout_ms ? c->timeout_ms : AK_SIGNER_DEFAULT_TIMEOUT_MS;
    s->attest_max_age_ms = c->attest_max_age_ms;
    s->no_resume = c->no_session_resume;
    ak_buf_init_secret(&s->pending_req, 1024 + AK_MAX_JWS);

    if (have_ca) {
        AK_ENSURE_OUT(ak_pki_read_file(c->ca_pem_path, &b) == AK_OK, AK_E_CONFIG);
        rc = ak_pki_anchors_from_pem(ak_buf_cur(&b), &s->cas);
        ak_buf_free(&b);
        AK_GUARD_OUT(rc);
    }
    AK_ENSURE_OUT(ak_pki_read_file(c->cert_path, &b) == AK_OK, AK_E_CONFIG);
    rc = ak_pki_chain_from_pem(ak_buf_cur(&b), &s->chain);
    ak_buf_free(&b);
    AK_GUARD_OUT(rc);
    AK_ENSURE_OUT(ak_pki_read_file(c->key_path, &b) == AK_OK, AK_E_CONFIG);
    rc = ak_pki_eckey_from_pem(ak_buf_cur(&b), &s->key);
    ak_buf_free(&b);
    AK_GUARD_OUT(rc);
    *out = s;
out:
    if (rc != AK_OK) ak_signer_free(s);
    return rc;
}

void ak_signer_disconnect(ak_signer *s) {
    if (s->pending) s->queued = true; /* its reply is dropped with the connection: resent at _recv */
    s->pending = false;
    if (s->conn == NULL) return;
    close(s->conn->fd);
    ak_free_secure(s->conn, sizeof(*s->conn));
    s->conn = NULL;
}

void ak_signer_free(ak_signer *s) {
    if (s == NULL) return;
    ak_signer_disconnect(s);
    ak_buf_free(&s->pending_req);
    ak_pki_anchors_free(&s->cas);
    ak_pki_chain_free(&s->chain);
    ak_free_secure(s, sizeof(*s));
}

unsigned ak_signer_connects(const ak_signer *s) { return s->connects; }

unsigned ak_signer_resumes(const ak_signer *s) { return s->resumes; }

static void s_signer_forget_session(ak_signer *s) {
    s->have_session = false;
    ak_wipe(&s->session, sizeof(s->session));
}

/* ---- transport ---- */

static bool s_signer_wait(s_signer_conn *c, short ev) {
    for (;;) {
        int64_t left = c->deadline_ms - s_signer_mono_ms();
        if (left <= 0) return false;
        struct pollfd p = {c->fd, ev, 0};
        int r = poll(&p, 1, (int)left);
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

static int s_signer_low_read(void *ctx, unsigned char *buf, size_t len) {
    s_signer_conn *c = ctx;
    for (;;) {
        if (!s_signer_wait(c, POLLIN)) return -1;
        ssize_t n = read(c->fd, buf, len);
        if (n > 0) return (int)n;
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) return -1;
    }
}

static int s_signer_low_write(void *ctx, const unsigned char *buf, size_t len) {
    s_signer_conn *c = ctx;
    for (;;) {
        if (!s_signer_wait(c, POLLOUT)) return -1;
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) return (int)n;
        if (n < 0 && errno != EINTR && errno != EAGAIN) return -1;
    }
}

static int s_signer_tcp_connect(const char *host, const char *port, int64_t deadline) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) continue;
        /* Small TLS records back to back: without NODELAY each flight can wait ~40 ms for a
         * delayed ACK. */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            s_signer_conn probe = {.fd = fd, .deadline_ms = deadline};
            int err = 0;
            socklen_t el = sizeof(err);
            if (s_signer_wait(&probe, POLLOUT) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
                err == 0)
                break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static const uint16_t s_signer_suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
};

static ak_err s_signer_http(ak_signer *s, const char *method, const char *path, ak_cur body, long *status,
                            ak_buf *resp, bool *sent_nothing);

static ak_err s_signer_status_err(long status, const ak_buf *resp);

static ak_err s_signer_attest_conn(ak_signer *s, const uint8_t server_pub[65]) {
    uint8_t nonce[32];
    ak_buf req, resp, nonce_b64;
    long status = 0;
    bool sent_nothing = false;
    const char *why = NULL;
    ak_err rc = AK_OK;
    ak_buf_init(&req, 256);
    ak_buf_init(&resp, AK_ATTEST_MAX_REPLY);
    ak_buf_init(&nonce_b64, 64);
    AK_GUARD_OUT(ak_random(nonce, sizeof(nonce)));
    AK_GUARD_OUT(ak_b64_encode(nonce, sizeof(nonce), &nonce_b64));
    AK_GUARD_OUT(ak_buf_printf(&req, "{\"nonce_b64\":\"%s\"}", ak_buf_cstr(&nonce_b64)));
    AK_GUARD_OUT(s_signer_http(s, "POST", "/v1/attest", ak_buf_cur(&req), &status, &resp, &sent_nothing));
    if (status != 200) {
        /* e.g. a nitro signer whose NSM failed: 502 attest_nsm_error (the reason is logged, the
         * caller's error stays attestation_invalid) */
        ak_log_error("signer attestation failed", "check", "status", "signer_reason",
                     ak_err_reason(s_signer_status_err(status, &resp)));
        rc = AK_E_ATTESTATION_INVALID;
        goto out;
    }
    ak_attest_challenge ch = {nonce, sizeof(nonce), server_pub, s_signer_wall_ms(), s->attest_max_age_ms};
    rc = ak_attest_reply_verify(ak_buf_cur(&resp), &s->pins, &ch, &why);
    if (rc != AK_OK) {
        ak_log_error("signer attestation failed", "mode",
                     s->pins.mode == AK_ATTEST_MODE_NITRO ? "nitro" : "local", "check", why ? why : "?");
        goto out;
    }
    memcpy(s->attested_tls_pub, server_pub, 65);
    s->attested = true;
out:
    ak_buf_free(&req);
    ak_buf_free(&resp);
    ak_buf_free(&nonce_b64);
    return rc;
}

static ak_err s_signer_connect(ak_signer *s) {
    int64_t deadline = s_signer_mono_ms() + s->timeout_ms;
    uint8_t server_pub[65];
    ak_err rc = AK_OK;
    s_signer_conn *c = ak_malloc(sizeof(*c));
    AK_ENSURE(c != NULL, AK_E_NOMEM);
    memset(c, 0, offsetof(s_signer_conn, iobuf));
    c->deadline_ms = deadline;
    c->fd = s_signer_tcp_connect(s->host, s->port, deadline);
    if (c->fd < 0) {
        ak_free(c);
        return AK_E_SIGNER_UNAVAILABLE;
    }
    br_ssl_client_context *cc = &c->cc;
    br_ssl_client_zero(cc);
    br_ssl_engine_set_versions(&cc->eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_suites(&cc->eng, s_signer_suites, sizeof(s_signer_suites) / sizeof(s_signer_suites[0]));
    br_ssl_engine_set_ec(&cc->eng, br_ec_get_default());
    br_ssl_engine_set_hash(&cc->eng, br_sha256_ID, &br_sha256_vtable);
    br_ssl_engine_set_hash(&cc->eng, br_sha384_ID, &br_sha384_vtable);
    br_ssl_engine_set_prf_sha256(&cc->eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(&cc->eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_default_aes_gcm(&cc->eng);
    br_ssl_engine_set_default_chapol(&cc->eng);
    br_ssl_engine_set_default_ecdsa(&cc->eng);
    br_x509_minimal_init(&c->xc, &br_sha256_vtable, s->cas.ta, s->cas.n);
    br_x509_minimal_set_hash(&c->xc, br_sha256_ID, &br_sha256_vtable);
    br_x509_minimal_set_hash(&c->xc, br_sha384_ID, &br_sha384_vtable);
    br_x509_minimal_set_hash(&c->xc, br_sha512_ID, &br_sha512_vtable);
    br_x509_minimal_set_ecdsa(&c->xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
    ak_pki_x509_eku_init(&c->eku, &c->xc, AK_PKI_EKU_SERVER);
    /* only nitro mode goes without a CA (ak_signer_new); fail closed should that ever differ */
    c->capture = s->cas.n == 0;
    AK_ENSURE_OUT(!c->capture || s->pins.mode == AK_ATTEST_MODE_NITRO, AK_E_CONFIG);
    if (c->capture) {
        ak_pki_x509_capture_init(&c->cap);
        br_ssl_engine_set_x509(&cc->eng, &c->cap.vtable);
    } else {
        br_ssl_engine_set_x509(&cc->eng, &c->eku.vtable);
    }
    ak_pki_eckey_fix(&s->key);
    br_ssl_client_set_single_ec(cc, s->chain.certs, s->chain.n, &s->key.sk, BR_KEYTYPE_SIGN, BR_KEYTYPE_EC,
                                br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
    br_ssl_engine_set_buffer(&cc->eng, c->iobuf, sizeof(c->iobuf), 1);
    bool offer = s->have_session && !s->no_resume;
    if (offer) br_ssl_engine_set_session_parameters(&cc->eng, &s->session);
    AK_ENSURE_OUT(br_ssl_client_reset(cc, s->server_name, offer ? 1 : 0) == 1, AK_E_INTERNAL);
    br_sslio_init(&c->io, &cc->eng, s_signer_low_read, c, s_signer_low_write, c);
    if (br_sslio_flush(&c->io) != 0 || br_ssl_engine_current_state(&cc->eng) == BR_SSL_CLOSED) {
        char code[16];
        int br_err = br_ssl_engine_last_error(&cc->eng);
        snprintf(code, sizeof(code), "%d", br_err);
        if (c->capture && c->cap.rc != AK_OK && br_err >= BR_ERR_X509_OK && br_err < BR_ERR_X509_OK + 32)
            ak_log_warn("signer handshake failed", "br_err", code, "reason", ak_err_reason(c->cap.rc), "need",
                        "a P-256 serverAuth certificate for the server name (nitro: attested key)");
        else if (!c->capture && br_err == BR_ERR_X509_FORBIDDEN_KEY_USAGE && c->eku.eku_rc != AK_OK)
            ak_log_warn("signer handshake failed", "br_err", code, "reason", ak_err_reason(c->eku.eku_rc),
                        "need", "signer certificate with extendedKeyUsage serverAuth");
        else
            ak_log_warn("signer handshake failed", "br_err", code);
        s_signer_forget_session(s);
        rc = AK_E_SIGNER_UNAVAILABLE;
        goto out;
    }
    br_ssl_session_parameters sp;
    br_ssl_engine_get_session_parameters(&cc->eng, &sp);
    bool resumed = offer && sp.session_id_len == 32 && s->session.session_id_len == 32 &&
                   ak_ct_eq(sp.session_id, s->session.session_id, 32);
    if (resumed) {
        /* An abbreviated handshake: the peer proved it holds that session's master secret, made
         * in the full handshake that authenticated (and attested) this key. */
        memcpy(server_pub, s->session_server_pub, 65);
        s->resumes++;
    } else {
        /* The server key the handshake authenticated: what the attestation must name. */
        const br_x509_pkey *pk = c->capture ? c->cap.vtable->get_pkey(&c->cap.vtable, NULL)
                                            : c->xc.vtable->get_pkey(&c->xc.vtable, NULL);
        if (!(pk != NULL && pk->key_type == BR_KEYTYPE_EC && pk->key.ec.curve == BR_EC_secp256r1 &&
              pk->key.ec.qlen == 65)) {
            ak_wipe(&sp, sizeof(sp));
            s_signer_forget_session(s);
            rc = AK_E_SIGNER_UNAVAILABLE;
            goto out;
        }
        memcpy(server_pub, pk->key.ec.q, 65);
        s_signer_forget_session(s);
        if (sp.session_id_len == 32) {
            s->session = sp;
            memcpy(s->session_server_pub, server_pub, 65);
            s->have_session = true;
        }
    }
    ak_wipe(&sp, sizeof(sp));
    s->conn = c;
    s->connects++;
    if (!s->attested || !ak_ct_eq(s->attested_tls_pub, server_pub, 65)) {
        s->attested = false;
        rc = s_signer_attest_conn(s, server_pub);
        if (rc != AK_OK) {
            s_signer_forget_session(s);
            ak_signer_disconnect(s);
            return rc;
        }
    }
    return AK_OK;
out:
    close(c->fd);
    ak_free_secure(c, sizeof(*c));
    return rc;
}

/* Sends one request on the open connection (no reply read). *sent_nothing as below. */
static ak_err s_signer_http_send(ak_signer *s, const char *method, const char *path, ak_cur body,
                                 bool *sent_nothing) {
    s_signer_conn *c = s->conn;
    ak_buf head;
    ak_err rc = AK_OK;
    *sent_nothing = false;
    ak_buf_init(&head, 1024);
    c->deadline_ms = s_signer_mono_ms() + s->timeout_ms;
    AK_GUARD_OUT(ak_buf_printf(
        &head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
        method, path, s->server_name, body.len));
    if (br_sslio_write_all(&c->io, head.ptr, head.len) != 0 ||
        (body.len && br_sslio_write_all(&c->io, body.ptr, body.len) != 0) || br_sslio_flush(&c->io) != 0) {
        /* BearSSL buffers the request and sends it at flush: nothing reached the server unless
         * the flush made progress, which a dead kept-alive socket does not. */
        *sent_nothing = true;
        rc = AK_E_SIGNER_UNAVAILABLE;
        goto out;
    }
out:
    ak_buf_free(&head);
    if (rc != AK_OK) ak_signer_disconnect(s);
    return rc;
}

/* Reads the reply of the request sent last. *sent_nothing: EOF before any byte of the reply (a
 * kept-alive connection the signer had closed). */
static ak_err s_signer_http_recv(ak_signer *s, long *status, ak_buf *resp, bool *sent_nothing) {
    s_signer_conn *c = s->conn;
    ak_buf head;
    ak_err rc = AK_OK;
    *sent_nothing = false;
    *status = 0;
    ak_buf_init(&head, 1024);
    c->deadline_ms = s_signer_mono_ms() + s->timeout_ms;
    /* Response head. */
    long hdr_end = -1;
    while (hdr_end < 0) {
        uint8_t ch;
        if (br_sslio_read(&c->io, &ch, 1) != 1) {
            if (head.len == 0) *sent_nothing = true; /* a closed kept-alive connection reads EOF first */
            rc = AK_E_SIGNER_UNAVAILABLE;
            goto out;
        }
        AK_ENSURE_OUT(ak_buf_append_byte(&head, ch) == AK_OK, AK_E_UPSTREAM);
        if (head.len >= 4 && memcmp(head.ptr + head.len - 4, "\r\n\r\n", 4) == 0) hdr_end = (long)head.len;
        AK_ENSURE_OUT(head.len < SIGNER_MAX_HEAD, AK_E_UPSTREAM);
    }
    ak_cur h = ak_buf_cur(&head), line, code;
    AK_ENSURE_OUT(ak_cur_split(&h, '\n', &line), AK_E_UPSTREAM);
    AK_ENSURE_OUT(ak_cur_starts_with(line, AK_CUR_LIT("HTTP/1.1 ")) && line.len >= 12, AK_E_UPSTREAM);
    code = ak_cur_from(line.ptr + 9, 3);
    uint64_t st, cl = 0;
    bool have_cl = false, closing = false;
    AK_ENSURE_OUT(ak_cur_to_u64(code, &st) == AK_OK, AK_E_UPSTREAM);
    while (ak_cur_split(&h, '\n', &line)) {
        ak_cur name;
        line = ak_cur_trim(line);
        if (line.len == 0) break;
        AK_ENSURE_OUT(ak_cur_split(&line, ':', &name), AK_E_UPSTREAM);
        line = ak_cur_trim(line);
        if (ak_cur_eq_nocase(name, AK_CUR_LIT("content-length"))) {
            AK_ENSURE_OUT(!have_cl && ak_cur_to_u64(line, &cl) == AK_OK && cl <= SIGNER_MAX_BODY,
                          AK_E_UPSTREAM);
            have_cl = true;
        } else if (ak_cur_eq_nocase(name, AK_CUR_LIT("connection")) &&
                   ak_cur_eq_nocase(line, AK_CUR_LIT("close"))) {
            closing = true;
        }
    }
    AK_ENSURE_OUT(have_cl, AK_E_UPSTREAM);
    AK_GUARD_OUT(ak_buf_reserve(resp, (size_t)cl));
    if (cl > 0) {
        AK_ENSURE_OUT(br_sslio_read_all(&c->io, resp->ptr + resp->len, (size_t)cl) == 0,
                      AK_E_SIGNER_UNAVAILABLE);
        resp->len += (size_t)cl;
        resp->ptr[resp->len] = 0;
    }
    *status = (long)st;
    if (closing) ak_signer_disconnect(s);
out:
    ak_buf_free(&head);
    if (rc != AK_OK) ak_signer_disconnect(s);
    return rc;
}

/* One request/response on the open connection. *sent_nothing tells the caller whether a resend
 * is safe (the failure happened before any byte of the request left). */
static ak_err s_signer_http(ak_signer *s, const char *method, const char *path, ak_cur body, long *status,
                            ak_buf *resp, bool *sent_nothing) {
    *status = 0;
    AK_GUARD(s_signer_http_send(s, method, path, body, sent_nothing));
    return s_signer_http_recv(s, status, resp, sent_nothing);
}

ak_err ak_signer_call(ak_signer *s, const char *method, const char *path, ak_cur body, bool retry_safe,
                      long *status, ak_buf *resp) {
    if (s->pending) ak_signer_disconnect(s); /* a reply not read would answer this call */
    bool reused = s->conn != NULL;
    if (!reused) AK_GUARD(s_signer_connect(s));
    size_t start = resp->len;
    bool sent_nothing = false;
    ak_err rc = s_signer_http(s, method, path, body, status, resp, &sent_nothing);
    if (rc == AK_E_SIGNER_UNAVAILABLE && reused && (sent_nothing || retry_safe)) {
        /* The kept-alive connection had been closed by the signer (idle timeout): one fresh try. */
        resp->len = start;
        AK_GUARD(s_signer_connect(s));
        rc = s_signer_http(s, method, path, body, status, resp, &sent_nothing);
    }
    return rc;
}

/* Maps a non-200 answer to its D14 reason. */
static ak_err s_signer_status_err(long status, const ak_buf *resp) {
    json_t *j = NULL;
    ak_cur reason;
    char r[64];
    ak_err e = AK_E_UPSTREAM;
    if (status == 200) return AK_OK;
    if (ak_json_parse_object(ak_buf_cur(resp), &j) == AK_OK && ak_json_str(j, "reason", &reason) == AK_OK &&
        ak_cur_to_cstr(reason, r, sizeof(r)) == AK_OK) {
        ak_err f = ak_err_from_reason(r);
        if (f != AK_E__COUNT && f != AK_OK) e = f;
    }
    if (j != NULL) json_decref(j);
    return e;
}

ak_err ak_signer_attest(ak_signer *s) {
    if (s->conn == NULL) return s_signer_connect(s);
    if (s->attested) return AK_OK;
    return AK_E_INTERNAL; /* unreachable: connect attests before returning */
}

ak_err ak_signer_kek_from_reply(ak_cur reply, uint8_t kek[32]) {
    ak_buf raw;
    json_t *j = NULL;
    ak_cur k;
    ak_err rc = AK_OK;
    ak_buf_init_secret(&raw, 64);
    AK_ENSURE_OUT(ak_json_parse_object(reply, &j) == AK_OK && ak_json_str(j, "kek_b64", &k) == AK_OK,
                  AK_E_UPSTREAM);
    AK_ENSURE_OUT(ak_b64_decode(k, &raw) == AK_OK && raw.len == 32, AK_E_UPSTREAM);
    memcpy(kek, raw.ptr, 32);
out:
    if (j != NULL) {
        /* jansson holds a copy of the KEK text: overwrite it now. The allocator wipes every
         * freed block as well; this is the copy we know holds a secret. */
        json_t *v = json_object_get(j, "kek_b64");
        if (json_is_string(v)) ak_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
        json_decref(j);
    }
    ak_buf_free(&raw);
    return rc;
}

/* A compact JWS is base64url and two dots: anything else would need JSON escaping, and is no cap. */
static bool s_signer_jws_text(ak_cur c) {
    if (c.len == 0 || c.len > AK_MAX_JWS) return false;
    for (size_t i = 0; i < c.len; i++) {
        uint8_t b = c.ptr[i];
        if (!((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
              b == '_' || b == '.'))
            return false;
    }
    return true;
}

static ak_err s_signer_derive_body(ak_buf *req, const char *data_class, const char *op, ak_cur cap,
                                   const uint8_t operator_omni[32], const uint8_t actor_omni[32],
                                   uint64_t epoch) {
    char op_hex[65], actor_hex[65];
    AK_ENSURE(s_signer_jws_text(cap), AK_E_INVALID_INPUT);
    ak_hex_encode(operator_omni, 32, op_hex);
    ak_hex_encode(actor_omni, 32, actor_hex);
    return ak_buf_printf(
        req,
        "{\"data_class\":\"%s\",\"operator_omni\":\"%s\",\"actor_omni\":\"%s\",\"epoch\":%llu,"
        "\"op\":\"%s\",\"cap\":\"%.*s\"}",
        data_class, op_hex, actor_hex, (unsigned long long)epoch, op, (int)cap.len, (const char *)cap.ptr);
}

ak_err ak_signer_derive_kek(ak_signer *s, const char *data_class, const char *op, ak_cur cap,
                            const uint8_t operator_omni[32], const uint8_t actor_omni[32], uint64_t epoch,
                            uint8_t kek[32]) {
    AK_GUARD(ak_signer_derive_kek_send(s, data_class, op, cap, operator_omni, actor_omni, epoch));
    return ak_signer_derive_kek_recv(s, kek);
}

ak_err ak_signer_derive_kek_send(ak_signer *s, const char *data_class, const char *op, ak_cur cap,
                                 const uint8_t operator_omni[32], const uint8_t actor_omni[32],
                                 uint64_t epoch) {
    bool sent_nothing = false;
    ak_err rc;
    ak_signer_derive_kek_abort(s);
    AK_GUARD(s_signer_derive_body(&s->pending_req, data_class, op, cap, operator_omni, actor_omni, epoch));
    bool reused = s->conn != NULL;
    if (!reused) AK_GUARD(s_signer_connect(s));
    rc = s_signer_http_send(s, "POST", "/v1/kek/derive", ak_buf_cur(&s->pending_req), &sent_nothing);
    if (rc == AK_E_SIGNER_UNAVAILABLE && reused) {
        /* a kept-alive connection the signer had closed: one fresh try (derive is idempotent) */
        reused = false;
        AK_GUARD(s_signer_connect(s));
        rc = s_signer_http_send(s, "POST", "/v1/kek/derive", ak_buf_cur(&s->pending_req), &sent_nothing);
    }
    AK_GUARD(rc);
    s->pending = true;
    s->pending_reused = reused;
    return AK_OK;
}

ak_err ak_signer_derive_kek_recv(ak_signer *s, uint8_t kek[32]) {
    ak_buf resp;
    long status = 0;
    bool sent_nothing = false;
    ak_err rc = AK_OK;
    AK_ENSURE((s->pending && s->conn != NULL) || s->queued, AK_E_INTERNAL);
    ak_buf_init_secret(&resp, 4096);
    if (s->pending) {
        s->pending = false;
        rc = s_signer_http_recv(s, &status, &resp, &sent_nothing);
    } else {
        /* another call dropped the connection in between: the request once more, in sequence */
        s->queued = false;
        s->pending_reused = false;
        rc = ak_signer_call(s, "POST", "/v1/kek/derive", ak_buf_cur(&s->pending_req), true, &status, &resp);
    }
    if (rc == AK_E_SIGNER_UNAVAILABLE && s->pending_reused) {
        /* the kept-alive connection died under the request: resend once on a fresh one (derive
         * changes nothing at the signer, as in ak_signer_call with retry_safe) */
        ak_buf_clear(&resp);
        AK_GUARD_OUT(s_signer_connect(s));
        rc = s_signer_http(s, "POST", "/v1/kek/derive", ak_buf_cur(&s->pending_req), &status, &resp,
                           &sent_nothing);
    }
    AK_GUARD_OUT(rc);
    AK_GUARD_OUT(s_signer_status_err(status, &resp));
    rc = ak_signer_kek_from_reply(ak_buf_cur(&resp), kek);
out:
    ak_buf_clear(&s->pending_req);
    ak_buf_free(&resp);
    return rc;
}

void ak_signer_derive_kek_abort(ak_signer *s) {
    /* The KEK never leaves the socket: the connection (and the reply on it) is dropped. */
    if (s->pending) ak_signer_disconnect(s);
    s->pending = s->queued = false;
    ak_buf_clear(&s->pending_req);
}

bool ak_signer_derive_pending(const ak_signer *s) { return s->pending || s->queued; }

static const char *const s_signer_key_names[3] = {"session", "oidc", "cap"};

ak_err ak_signer_sign(ak_signer *s, ak_signer_key key, ak_cur signing_input, uint8_t sig64[64],
                      char kid[AK_SIGNER_KID_MAX]) {
    ak_buf req, resp, in_b64, raw;
    json_t *j = NULL;
    long status = 0;
    ak_cur sig, k;
    ak_err rc = AK_OK;
    AK_PRECOND((unsigned)key < 3);
    ak_buf_init(&req, 32768);
    ak_buf_init(&resp, 4096);
    ak_buf_init(&in_b64, 32768);
    ak_buf_init(&raw, 64);
    AK_GUARD_OUT(ak_b64_encode(signing_input.ptr, signing_input.len, &in_b64));
    AK_GUARD_OUT(ak_buf_printf(&req, "{\"key\":\"%s\",\"signing_input_b64\":\"%s\"}", s_signer_key_names[key],
                               ak_buf_cstr(&in_b64)));
    AK_GUARD_OUT(ak_signer_call(s, "POST", "/v1/sign", ak_buf_cur(&req), true, &status, &resp));
    AK_GUARD_OUT(s_signer_status_err(status, &resp));
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&resp), &j) == AK_OK &&
                      ak_json_str(j, "sig_b64url", &sig) == AK_OK && ak_json_str(j, "kid", &k) == AK_OK,
                  AK_E_UPSTREAM);
    AK_ENSURE_OUT(ak_b64url_decode(sig, &raw) == AK_OK && raw.len == 64, AK_E_UPSTREAM);
    AK_ENSURE_OUT(ak_cur_to_cstr(k, kid, AK_SIGNER_KID_MAX) == AK_OK, AK_E_UPSTREAM);
    memcpy(sig64, raw.ptr, 64);
out:
    if (j != NULL) json_decref(j);
    ak_buf_free(&req);
    ak_buf_free(&resp);
    ak_buf_free(&in_b64);
    ak_buf_free(&raw);
    return rc;
}

ak_err ak_signer_keys(ak_signer *s, ak_buf *out) {
    long status = 0;
    size_t start = out->len;
    AK_GUARD(ak_signer_call(s, "GET", "/v1/keys", ak_cur_from(NULL, 0), true, &status, out));
    ak_err rc = s_signer_status_err(status, out);
    if (rc != AK_OK) out->len = start;
    return rc;
}

ak_err ak_signer_refresh_keys(ak_signer *s) {
    ak_buf jwks;
    json_t *j = NULL;
    ak_err rc = AK_OK;
    ak_buf_init(&jwks, SIGNER_MAX_BODY);
    AK_GUARD_OUT(ak_signer_keys(s, &jwks));
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&jwks), &j) == AK_OK, AK_E_UPSTREAM);
    json_t *keys = json_object_get(j, "keys");
    AK_ENSURE_OUT(json_is_array(keys), AK_E_UPSTREAM);
    memset(s->kids, 0, sizeof(s->kids));
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        ak_cur purpose, st, kid;
        if (ak_json_str(k, "ak_key", &purpose) != AK_OK || ak_json_str(k, "ak_status", &st) != AK_OK ||
            ak_json_str(k, "kid", &kid) != AK_OK || !ak_cur_eq_str(st, "current"))
            continue;
        for (int p = 0; p < 3; p++)
            if (ak_cur_eq_str(purpose, s_signer_key_names[p]))
                AK_ENSURE_OUT(ak_cur_to_cstr(kid, s->kids[p], AK_SIGNER_KID_MAX) == AK_OK, AK_E_UPSTREAM);
    }
    for (int p = 0; p < 3; p++)
        AK_ENSURE_OUT(s->kids[p][0] != '\0', AK_E_UPSTREAM);
    s->have_kids = true;
out:
    if (j != NULL) json_decref(j);
    ak_buf_free(&jwks);
    return rc;
}

ak_err ak_signer_current_kid(ak_signer *s, ak_signer_key key, char kid[AK_SIGNER_KID_MAX]) {
    AK_PRECOND((unsigned)key < 3);
    if (!s->have_kids) AK_GUARD(ak_signer_refresh_keys(s));
    memcpy(kid, s->kids[key], AK_SIGNER_KID_MAX);
    return AK_OK;
}
