/* tls.c — BearSSL mTLS server with required client certificates (see aks/tls.h). */
#include "aks/tls.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/log.h"
#include "aks/secmem.h"
#include "aks/x509.h"

int64_t aks_now_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ak_err aks_tls_config_load(aks_tls_config *c, const char *cert_pem, const char *key_pem, const char *ca_pem) {
    ak_buf b;
    uint8_t leaf_pub[65];
    ak_err rc = AK_OK;
    memset(c, 0, sizeof(*c));
    c->key = aks_secmem_alloc(sizeof(*c->key));
    AK_ENSURE(c->key != NULL, AK_E_NOMEM);

    AK_GUARD_OUT(ak_pki_read_file(cert_pem, &b));
    rc = ak_pki_chain_from_pem(ak_buf_cur(&b), &c->chain);
    ak_buf_free(&b);
    AK_GUARD_OUT(rc);
    AK_GUARD_OUT(ak_pki_read_file(key_pem, &b));
    rc = ak_pki_eckey_from_pem(ak_buf_cur(&b), c->key);
    ak_buf_free(&b);
    AK_GUARD_OUT(rc);
    AK_GUARD_OUT(ak_pki_read_file(ca_pem, &b));
    rc = ak_pki_anchors_from_pem(ak_buf_cur(&b), &c->client_cas);
    ak_buf_free(&b);
    AK_GUARD_OUT(rc);
    /* A key that does not match the certificate would fail every handshake: say so at start. */
    AK_GUARD_OUT(
        ak_pki_cert_p256_pub(ak_cur_from(c->chain.certs[0].data, c->chain.certs[0].data_len), leaf_pub));
    AK_ENSURE_OUT(memcmp(leaf_pub, c->key->pub, 65) == 0, AK_E_BAD_KEY);
    /* Clients refuse a signer certificate that is not for server authentication: refusing to
     * start says so once, instead of every handshake failing. */
    rc = ak_pki_cert_check_eku(ak_cur_from(c->chain.certs[0].data, c->chain.certs[0].data_len),
                               AK_PKI_EKU_SERVER);
    if (rc != AK_OK) {
        ak_log_error("signer certificate refused", "file", cert_pem, "reason", ak_err_reason(rc), "need",
                     "extendedKeyUsage serverAuth");
        goto out;
    }
    AK_GUARD_OUT(aks_tls_sessions_new(0, &c->sessions));
out:
    if (rc != AK_OK) aks_tls_config_free(c);
    return rc;
}

/* ---- RA-TLS: the key born in the enclave (issue 18) ---- */

static ak_err s_tls_self_sign(void *ctx, ak_cur tbs, uint8_t sig64[64]) {
    const ak_pki_eckey *k = ctx;
    return ak_p256_sign_sha256(k->priv, tbs.ptr, tbs.len, sig64);
}

ak_err aks_tls_config_generate(aks_tls_config *c, const char *server_name, const char *ca_pem) {
    ak_buf b, der;
    uint8_t priv[32], pub[65];
    ak_err rc = AK_OK;
    memset(c, 0, sizeof(*c));
    ak_buf_init(&der, AK_PKI_MAX_LEAF);
    c->key = aks_secmem_alloc(sizeof(*c->key));
    AK_ENSURE(c->key != NULL, AK_E_NOMEM);
    /* The private scalar exists only here (wiped below) and in the locked key struct. */
    rc = ak_p256_keygen(priv, pub);
    if (rc == AK_OK) rc = ak_pki_eckey_from_raw(priv, c->key);
    ak_wipe(priv, sizeof(priv));
    AK_GUARD_OUT(rc);
    AK_GUARD_OUT(aks_x509_tls_server(&der, c->key->pub, server_name, (int64_t)time(NULL),
                                     AKS_TLS_GENERATED_DAYS, s_tls_self_sign, c->key));
    c->chain.certs[0].data = ak_malloc(der.len);
    AK_ENSURE_OUT(c->chain.certs[0].data != NULL, AK_E_NOMEM);
    memcpy(c->chain.certs[0].data, der.ptr, der.len);
    c->chain.certs[0].data_len = der.len;
    c->chain.n = 1;
    /* What a nitro client will check (ak_pki_leaf_capture_check): refuse to serve anything else. */
    AK_GUARD_OUT(ak_pki_leaf_capture_check(ak_buf_cur(&der), server_name, pub));
    AK_ENSURE_OUT(memcmp(pub, c->key->pub, 65) == 0, AK_E_INTERNAL);
    AK_GUARD_OUT(ak_pki_read_file(ca_pem, &b));
    rc = ak_pki_anchors_from_pem(ak_buf_cur(&b), &c->client_cas);
    ak_buf_free(&b);
    AK_GUARD_OUT(rc);
    AK_GUARD_OUT(aks_tls_sessions_new(0, &c->sessions));
out:
    ak_buf_free(&der);
    if (rc != AK_OK) aks_tls_config_free(c);
    return rc;
}

/* ---- session cache (issue 19) ---- */

typedef struct {
    br_ssl_session_parameters params; /* id, version, suite, master secret */
    int64_t expires_ms;               /* 0: free */
    uint64_t used;                    /* LRU stamp */
    int status[2];                    /* the validated identity: SAN URI name elements */
    char uri[2][AKS_TLS_URI_MAX];
} s_tls_session;

struct aks_tls_sessions {
    pthread_mutex_t mu;
    int64_t ttl_ms;
    uint64_t clock;
    s_tls_session e[AKS_TLS_SESSIONS];
};

ak_err aks_tls_sessions_new(unsigned ttl_ms, aks_tls_sessions **out) {
    aks_tls_sessions *c = aks_secmem_alloc(sizeof(*c));
    AK_ENSURE(c != NULL, AK_E_NOMEM);
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        aks_secmem_free(c, sizeof(*c));
        return AK_E_INTERNAL;
    }
    c->ttl_ms = ttl_ms ? ttl_ms : AKS_TLS_SESSION_TTL_MS;
    *out = c;
    return AK_OK;
}

void aks_tls_sessions_free(aks_tls_sessions *c) {
    if (c == NULL) return;
    pthread_mutex_destroy(&c->mu);
    aks_secmem_free(c, sizeof(*c));
}

static aks_tls_conn *s_tls_conn_of(br_ssl_server_context *sc) {
    return (aks_tls_conn *)(void *)((char *)sc - offsetof(aks_tls_conn, sc));
}

/* Called by BearSSL at the end of a FULL handshake only (after the client's Finished, so after
 * its certificate chain and CertificateVerify were checked): remember the session with the
 * identity that handshake validated. */
static void s_tls_cache_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                             const br_ssl_session_parameters *params) {
    (void)ctx;
    aks_tls_conn *t = s_tls_conn_of(sc);
    aks_tls_sessions *c = t->sessions;
    if (c == NULL || params->session_id_len != 32) return;
    int64_t now = aks_now_mono_ms();
    pthread_mutex_lock(&c->mu);
    size_t slot = 0;
    for (size_t i = 0; i < AKS_TLS_SESSIONS; i++) {
        s_tls_session *e = &c->e[i];
        if (e->expires_ms <= now) { /* free or expired: take it */
            slot = i;
            break;
        }
        if (e->used < c->e[slot].used) slot = i;
    }
    s_tls_session *e = &c->e[slot];
    ak_wipe(e, sizeof(*e));
    e->params = *params;
    e->expires_ms = now + c->ttl_ms;
    e->used = ++c->clock;
    for (int i = 0; i < 2; i++) {
        e->status[i] = t->names[i].status;
        if (t->names[i].status == 1) memcpy(e->uri[i], t->uri[i], sizeof(e->uri[i]));
    }
    pthread_mutex_unlock(&c->mu);
}

/* Called by BearSSL when the ClientHello offers a 32-byte session ID. On a hit the engine may
 * still fall back to a full handshake (version or suite no longer offered): what was loaded is
 * only used when the handshake ends with this very session ID (aks_tls_handshake). */
static int s_tls_cache_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                            br_ssl_session_parameters *params) {
    (void)ctx;
    aks_tls_conn *t = s_tls_conn_of(sc);
    aks_tls_sessions *c = t->sessions;
    int found = 0;
    if (c == NULL || params->session_id_len != 32) return 0;
    int64_t now = aks_now_mono_ms();
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < AKS_TLS_SESSIONS; i++) {
        s_tls_session *e = &c->e[i];
        if (e->expires_ms <= now || !ak_ct_eq(e->params.session_id, params->session_id, 32)) continue;
        *params = e->params;
        e->used = ++c->clock;
        t->resume_offered = true;
        memcpy(t->resume_id, e->params.session_id, 32);
        for (int k = 0; k < 2; k++) {
            t->resume_status[k] = e->status[k];
            memcpy(t->resume_uri[k], e->uri[k], sizeof(t->resume_uri[k]));
        }
        found = 1;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

static const br_ssl_session_cache_class s_tls_cache_vtable = {sizeof(const br_ssl_session_cache_class *),
                                                              s_tls_cache_save, s_tls_cache_load};

void aks_tls_config_free(aks_tls_config *c) {
    aks_tls_sessions_free(c->sessions);
    c->sessions = NULL;
    ak_pki_chain_free(&c->chain);
    ak_pki_anchors_free(&c->client_cas);
    aks_secmem_free(c->key, sizeof(*c->key));
    c->key = NULL;
}

/* Waits for the socket until the connection's deadline. */
static bool s_tls_wait(aks_tls_conn *t, short ev) {
    for (;;) {
        int64_t left = t->deadline_ms - aks_now_mono_ms();
        if (left <= 0) {
            t->timed_out = true;
            return false;
        }
        struct pollfd p = {t->fd, ev, 0};
        int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

static int s_tls_low_read(void *ctx, unsigned char *buf, size_t len) {
    aks_tls_conn *t = ctx;
    for (;;) {
        if (!s_tls_wait(t, POLLIN)) return -1;
        ssize_t n = read(t->fd, buf, len);
        if (n > 0) return (int)n;
        if (n == 0) return -1;
        if (errno != EINTR && errno != EAGAIN) return -1;
    }
}

static int s_tls_low_write(void *ctx, const unsigned char *buf, size_t len) {
    aks_tls_conn *t = ctx;
    for (;;) {
        if (!s_tls_wait(t, POLLOUT)) return -1;
        ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) return (int)n;
        if (n < 0 && errno != EINTR && errno != EAGAIN) return -1;
    }
}

static const uint16_t s_tls_suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
};

/* Name-element OID: SAN uniformResourceIdentifier (0x00, tag 6). The CN is not collected. */
static const unsigned char s_tls_oid_uri[] = {0x00, 0x06};

ak_err aks_tls_conn_init(aks_tls_conn *t, const aks_tls_config *cfg, int fd) {
    br_ssl_server_context *sc = &t->sc;
    memset(t, 0, offsetof(aks_tls_conn, iobuf));
    t->fd = fd;

    br_ssl_server_zero(sc);
    br_ssl_engine_set_versions(&sc->eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_suites(&sc->eng, s_tls_suites, sizeof(s_tls_suites) / sizeof(s_tls_suites[0]));
    br_ssl_engine_set_ec(&sc->eng, br_ec_get_default());
    br_ssl_engine_set_hash(&sc->eng, br_sha256_ID, &br_sha256_vtable);
    br_ssl_engine_set_hash(&sc->eng, br_sha384_ID, &br_sha384_vtable);
    br_ssl_engine_set_prf_sha256(&sc->eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(&sc->eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_default_aes_gcm(&sc->eng);
    br_ssl_engine_set_default_chapol(&sc->eng);
    /* Verifying the client's CertificateVerify signature. */
    br_ssl_engine_set_default_ecdsa(&sc->eng);
    br_ssl_server_set_single_ec(sc, cfg->chain.certs, cfg->chain.n, &cfg->key->sk, BR_KEYTYPE_SIGN,
                                BR_KEYTYPE_EC, br_ec_get_default(), br_ecdsa_sign_asn1_get_default());

    br_x509_minimal_init(&t->xc, &br_sha256_vtable, cfg->client_cas.ta, cfg->client_cas.n);
    br_x509_minimal_set_hash(&t->xc, br_sha256_ID, &br_sha256_vtable);
    br_x509_minimal_set_hash(&t->xc, br_sha384_ID, &br_sha384_vtable);
    br_x509_minimal_set_hash(&t->xc, br_sha512_ID, &br_sha512_vtable);
    br_x509_minimal_set_ecdsa(&t->xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
    for (int i = 0; i < 2; i++) {
        t->names[i].oid = s_tls_oid_uri;
        t->names[i].buf = t->uri[i];
        t->names[i].len = sizeof(t->uri[i]);
    }
    br_x509_minimal_set_name_elements(&t->xc, t->names, 2);
    ak_pki_x509_eku_init(&t->eku, &t->xc, AK_PKI_EKU_CLIENT);
    br_ssl_engine_set_x509(&sc->eng, &t->eku.vtable);
    br_ssl_server_set_trust_anchor_names_alt(sc, cfg->client_cas.ta, cfg->client_cas.n);

    t->sessions = cfg->sessions;
    if (t->sessions != NULL) {
        t->cache_vtable = &s_tls_cache_vtable;
        br_ssl_server_set_cache(sc, &t->cache_vtable);
    }

    br_ssl_engine_set_buffer(&sc->eng, t->iobuf, sizeof(t->iobuf), 1);
    AK_ENSURE(br_ssl_server_reset(sc) == 1, AK_E_INTERNAL);
    br_sslio_init(&t->io, &sc->eng, s_tls_low_read, t, s_tls_low_write, t);
    return AK_OK;
}

ak_err aks_tls_handshake(aks_tls_conn *t, int64_t deadline_ms, int *br_err) {
    t->deadline_ms = deadline_ms;
    /* Flushing with nothing queued drives the engine until application data may flow, i.e.
     * through the whole handshake (BearSSL sslio run_until SENDAPP|RECVAPP). */
    int r = br_sslio_flush(&t->io);
    unsigned st = br_ssl_engine_current_state(&t->sc.eng);
    *br_err = br_ssl_engine_last_error(&t->sc.eng);
    bool ok = r == 0 && st != BR_SSL_CLOSED && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
    if (ok && t->resume_offered) {
        /* Resumed iff the handshake ended on the session ID the cache gave (a full handshake
         * after a hit gets a fresh random ID): then no certificate was seen, and the identity is
         * the one validated by that session's full handshake. */
        br_ssl_session_parameters p;
        br_ssl_engine_get_session_parameters(&t->sc.eng, &p);
        if (p.session_id_len == 32 && ak_ct_eq(p.session_id, t->resume_id, 32)) {
            t->resumed = true;
            for (int i = 0; i < 2; i++) {
                t->names[i].status = t->resume_status[i];
                memcpy(t->uri[i], t->resume_uri[i], sizeof(t->uri[i]));
            }
        }
        ak_wipe(&p, sizeof(p));
    }
    AK_ENSURE(ok, AK_E_UNAUTHORIZED);
    return AK_OK;
}

long aks_tls_read(aks_tls_conn *t, void *buf, size_t len, int64_t deadline_ms) {
    t->deadline_ms = deadline_ms;
    int n = br_sslio_read(&t->io, buf, len);
    if (n > 0) return n;
    /* A clean close_notify from the peer leaves the engine closed without error. */
    if (br_ssl_engine_current_state(&t->sc.eng) == BR_SSL_CLOSED &&
        br_ssl_engine_last_error(&t->sc.eng) == BR_ERR_OK)
        return 0;
    return -1;
}

ak_err aks_tls_write_all(aks_tls_conn *t, const void *buf, size_t len, int64_t deadline_ms) {
    t->deadline_ms = deadline_ms;
    AK_ENSURE(br_sslio_write_all(&t->io, buf, len) == 0, AK_E_IO);
    AK_ENSURE(br_sslio_flush(&t->io) == 0, AK_E_IO);
    return AK_OK;
}

void aks_tls_close(aks_tls_conn *t, int64_t deadline_ms) {
    t->deadline_ms = deadline_ms;
    if (br_ssl_engine_current_state(&t->sc.eng) != BR_SSL_CLOSED) (void)br_sslio_close(&t->io);
}
