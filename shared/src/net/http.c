/*
 * http.c — the HTTP(S) client over libcurl 7.88.1 + BearSSL (see ak/http.h).
 *
 * TLS trust: we never let curl's BearSSL backend read a CA file. curl 7.88.1's BearSSL backend
 * re-parses CURLOPT_CAINFO on EVERY new connection (vtls/bearssl.c load_cafile, no CA cache for
 * this backend), which would put a ~200 KB PEM parse on the cold path of each invocation that
 * opens a connection (DESIGN §7: "no per-invocation re-parsing of CA bundles or keys"). Instead
 * CURLOPT_CAINFO/CAPATH are NULL (so curl loads no anchors) and our CURLOPT_SSL_CTX_FUNCTION
 * installs a br_x509_minimal engine over anchors we parsed once per process. curl calls the
 * callback after br_ssl_client_init_full() and before br_ssl_client_reset(ctx, hostname), so
 * the server name still reaches our engine and is checked against the certificate.
 */
#include "ak/http.h"

#include <bearssl.h>
#include <curl/curl.h>
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/connector.h"
#include "ak/ct.h"
#include "ak/limits.h"
#include "ak/log.h"

/* ---------------------------------------------------------------- trust anchors */

typedef struct s_anchors {
    br_x509_trust_anchor *ta;
    size_t n;
} s_anchors;

static void s_anchors_free(s_anchors *a) {
    for (size_t i = 0; i < a->n; i++)
        ak_free(a->ta[i].dn.data);
    ak_free(a->ta);
    a->ta = NULL;
    a->n = 0;
}

/* One decoded PEM object. */
typedef struct s_pem_obj {
    char name[64];
    ak_buf der;
} s_pem_obj;

typedef struct s_pem_list {
    s_pem_obj *v;
    size_t n;
    bool secret;
    ak_err err;
} s_pem_list;

static void s_pem_list_free(s_pem_list *l) {
    for (size_t i = 0; i < l->n; i++)
        ak_buf_free(&l->v[i].der);
    ak_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void s_pem_push(void *ctx, const void *p, size_t n) {
    s_pem_list *l = ctx;
    if (l->err != AK_OK || l->n == 0) return;
    ak_err e = ak_buf_append(&l->v[l->n - 1].der, p, n);
    if (e != AK_OK) l->err = e;
}

/* Decodes every PEM object in `pem`. AK_E_BAD_KEY on malformed PEM or an unterminated object. */
static ak_err s_pem_decode(ak_cur pem, bool secret, s_pem_list *out) {
    br_pem_decoder_context pc;
    bool in_obj = false;
    *out = (s_pem_list){.secret = secret, .err = AK_OK};
    br_pem_decoder_init(&pc);
    br_pem_decoder_setdest(&pc, s_pem_push, out);
    const uint8_t *p = pem.ptr;
    size_t n = pem.len;
    /* A final newline flushes the decoder's last line. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            p = (const uint8_t *)"\n";
            n = 1;
        }
        while (n > 0) {
            size_t used = br_pem_decoder_push(&pc, p, n);
            p += used;
            n -= used;
            if (out->err != AK_OK) goto fail;
            switch (br_pem_decoder_event(&pc)) {
                case 0:
                    break;
                case BR_PEM_BEGIN_OBJ: {
                    s_pem_obj *nv = ak_realloc(out->v, (out->n + 1) * sizeof(*nv));
                    if (nv == NULL) {
                        out->err = AK_E_NOMEM;
                        goto fail;
                    }
                    out->v = nv;
                    s_pem_obj *o = &out->v[out->n++];
                    memset(o, 0, sizeof(*o));
                    if (secret)
                        ak_buf_init_secret(&o->der, 64u * 1024u);
                    else
                        ak_buf_init(&o->der, 64u * 1024u);
                    const char *name = br_pem_decoder_name(&pc);
                    size_t nl = strlen(name);
                    if (nl >= sizeof(o->name)) nl = sizeof(o->name) - 1;
                    memcpy(o->name, name, nl);
                    o->name[nl] = '\0';
                    in_obj = true;
                    break;
                }
                case BR_PEM_END_OBJ:
                    in_obj = false;
                    break;
                default: /* BR_PEM_ERROR */
                    out->err = AK_E_BAD_KEY;
                    goto fail;
            }
        }
    }
    if (in_obj) out->err = AK_E_BAD_KEY;
fail:
    ak_wipe(&pc, sizeof(pc));
    if (out->err != AK_OK) {
        ak_err e = out->err;
        s_pem_list_free(out);
        return e;
    }
    return AK_OK;
}

typedef struct s_dn_acc {
    ak_buf dn;
    ak_err err;
} s_dn_acc;

static void s_dn_append(void *ctx, const void *p, size_t n) {
    s_dn_acc *a = ctx;
    if (a->err != AK_OK) return;
    ak_err e = ak_buf_append(&a->dn, p, n);
    if (e != AK_OK) a->err = e;
}

/* Adds one DER certificate as a trust anchor (dn and key bytes in one allocation). */
static ak_err s_anchor_add(s_anchors *a, ak_cur der) {
    br_x509_decoder_context xc;
    s_dn_acc acc = {.err = AK_OK};
    ak_err rc = AK_OK;
    ak_buf_init(&acc.dn, 4096);
    br_x509_decoder_init(&xc, s_dn_append, &acc);
    br_x509_decoder_push(&xc, der.ptr, der.len);
    AK_ENSURE_OUT(acc.err == AK_OK, acc.err);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&xc);
    AK_ENSURE_OUT(pk != NULL && br_x509_decoder_last_error(&xc) == 0, AK_E_BAD_KEY);
    size_t klen;
    if (pk->key_type == BR_KEYTYPE_RSA)
        klen = pk->key.rsa.nlen + pk->key.rsa.elen;
    else if (pk->key_type == BR_KEYTYPE_EC)
        klen = pk->key.ec.qlen;
    else
        AK_ENSURE_OUT(false, AK_E_BAD_KEY);
    br_x509_trust_anchor *nv = ak_realloc(a->ta, (a->n + 1) * sizeof(*nv));
    AK_ENSURE_OUT(nv != NULL, AK_E_NOMEM);
    a->ta = nv;
    uint8_t *mem = ak_malloc(acc.dn.len + klen + 1);
    AK_ENSURE_OUT(mem != NULL, AK_E_NOMEM);
    br_x509_trust_anchor *ta = &a->ta[a->n++];
    memset(ta, 0, sizeof(*ta));
    if (acc.dn.len) memcpy(mem, acc.dn.ptr, acc.dn.len);
    ta->dn.data = mem;
    ta->dn.len = acc.dn.len;
    ta->flags = br_x509_decoder_isCA(&xc) ? BR_X509_TA_CA : 0;
    ta->pkey = *pk;
    uint8_t *k = mem + acc.dn.len;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        memcpy(k, pk->key.rsa.n, pk->key.rsa.nlen);
        memcpy(k + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
        ta->pkey.key.rsa.n = k;
        ta->pkey.key.rsa.e = k + pk->key.rsa.nlen;
    } else {
        memcpy(k, pk->key.ec.q, pk->key.ec.qlen);
        ta->pkey.key.ec.q = k;
    }
out:
    ak_buf_free(&acc.dn);
    return rc;
}

/* Parses every CERTIFICATE in a PEM bundle into anchors. A bundle with none is AK_E_CONFIG. */
static ak_err s_anchors_from_pem(ak_cur pem, s_anchors *out) {
    s_pem_list l;
    ak_err rc = AK_OK;
    *out = (s_anchors){0};
    AK_GUARD(s_pem_decode(pem, false, &l));
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.v[i].name, "CERTIFICATE") != 0 && strcmp(l.v[i].name, "X509 CERTIFICATE") != 0) continue;
        AK_GUARD_OUT(s_anchor_add(out, ak_buf_cur(&l.v[i].der)));
    }
    AK_ENSURE_OUT(out->n > 0, AK_E_CONFIG);
out:
    s_pem_list_free(&l);
    if (rc != AK_OK) s_anchors_free(out);
    return rc;
}

/* Process-wide system bundle: resolved and parsed once, on the first https connection. */
static s_anchors g_sys;
static bool g_sys_loaded;

static ak_err s_sys_anchors(const s_anchors **out) {
    if (!g_sys_loaded) {
        static const char *const paths[] = {"/etc/ssl/certs/ca-certificates.crt",
                                            "/etc/pki/tls/certs/ca-bundle.crt"};
        const char *env = getenv("SSL_CERT_FILE");
        ak_err rc = AK_E_CONFIG;
        for (int i = -1; i < 2 && rc != AK_OK; i++) {
            const char *path = i < 0 ? env : paths[i];
            if (path == NULL || path[0] == '\0') continue;
            ak_buf pem;
            ak_buf_init(&pem, 4u * 1024u * 1024u);
            rc = ak_buf_append_file(&pem, path);
            if (rc == AK_OK) rc = s_anchors_from_pem(ak_buf_cur(&pem), &g_sys);
            ak_buf_free(&pem);
            if (rc == AK_E_NOMEM) break;
        }
        if (rc != AK_OK) {
            ak_log_error("http: no usable CA bundle (SSL_CERT_FILE, Debian and Amazon Linux paths)");
            return rc == AK_E_NOMEM ? rc : AK_E_CONFIG;
        }
        g_sys_loaded = true;
    }
    *out = &g_sys;
    return AK_OK;
}

/* ---------------------------------------------------------------- client */

struct ak_http {
    CURL *curl;
    unsigned connect_timeout_ms;
    ak_http_retry retry;
    char user_agent[128];
    s_anchors pinned;           /* when n > 0, the only anchors trusted */
    br_x509_certificate *chain; /* mTLS client chain (DER), leaf first */
    size_t n_chain;
    br_ec_private_key key; /* key.x points into key_x */
    uint8_t key_x[BR_EC_KBUF_PRIV_MAX_SIZE];
    bool has_identity;
    br_x509_minimal_context x509; /* re-initialised for each handshake (one at a time per handle) */
    ak_err tls_err;               /* set by the SSL ctx callback */
    uint64_t rng;                 /* backoff jitter only; not a security use */
    /* per-request state for the callbacks */
    ak_http_response *resp;
    bool (*sock_check)(void *user, const struct sockaddr *sa, unsigned len);
    void *sock_check_user;
    bool sock_refused;               /* this attempt: sock_check said no */
    struct curl_slist *connect_to;   /* "::HOST:PORT" when the config names one */
    ak_connector conn;               /* a vsock/unix connector when conn_socket (ak/connector.h) */
    bool conn_socket;                /* connections go to conn's socket address */
    struct curl_sockaddr *conn_addr; /* curl's address of the socket being opened (see s_sockopt_cb) */
    size_t max_body;
    bool too_large;
    char errbuf[CURL_ERROR_SIZE];
};

static bool g_curl_init;

int64_t ak_http_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static uint64_t s_rng_next(ak_http *c) {
    /* xorshift64*: jitter spreads retries of many functions apart; it guards no secret. */
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void s_free_identity(ak_http *c) {
    for (size_t i = 0; i < c->n_chain; i++)
        ak_free(c->chain[i].data);
    ak_free(c->chain);
    c->chain = NULL;
    c->n_chain = 0;
    ak_wipe(c->key_x, sizeof(c->key_x));
    ak_wipe(&c->key, sizeof(c->key));
    c->has_identity = false;
}

/* Decodes the client chain and EC key once (spec: keys are parsed at init, never per request). */
static ak_err s_load_identity(ak_http *c, ak_cur cert_pem, ak_cur key_pem) {
    s_pem_list certs = {0}, keys = {0};
    br_skey_decoder_context kd;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(s_pem_decode(cert_pem, false, &certs));
    for (size_t i = 0; i < certs.n; i++) {
        if (strcmp(certs.v[i].name, "CERTIFICATE") != 0) continue;
        br_x509_certificate *nv = ak_realloc(c->chain, (c->n_chain + 1) * sizeof(*nv));
        AK_ENSURE_OUT(nv != NULL, AK_E_NOMEM);
        c->chain = nv;
        uint8_t *d = ak_malloc(certs.v[i].der.len);
        AK_ENSURE_OUT(d != NULL, AK_E_NOMEM);
        memcpy(d, certs.v[i].der.ptr, certs.v[i].der.len);
        c->chain[c->n_chain].data = d;
        c->chain[c->n_chain].data_len = certs.v[i].der.len;
        c->n_chain++;
    }
    AK_ENSURE_OUT(c->n_chain > 0, AK_E_BAD_KEY);
    AK_GUARD_OUT(s_pem_decode(key_pem, true, &keys));
    AK_ENSURE_OUT(keys.n == 1, AK_E_BAD_KEY);
    AK_ENSURE_OUT(strcmp(keys.v[0].name, "EC PRIVATE KEY") == 0 || strcmp(keys.v[0].name, "PRIVATE KEY") == 0,
                  AK_E_BAD_KEY);
    br_skey_decoder_init(&kd);
    br_skey_decoder_push(&kd, keys.v[0].der.ptr, keys.v[0].der.len);
    AK_ENSURE_OUT(br_skey_decoder_last_error(&kd) == 0 && br_skey_decoder_key_type(&kd) == BR_KEYTYPE_EC,
                  AK_E_BAD_KEY);
    const br_ec_private_key *sk = br_skey_decoder_get_ec(&kd);
    AK_ENSURE_OUT(sk != NULL && sk->curve == BR_EC_secp256r1 && sk->xlen <= sizeof(c->key_x), AK_E_BAD_KEY);
    memcpy(c->key_x, sk->x, sk->xlen);
    c->key.curve = sk->curve;
    c->key.x = c->key_x;
    c->key.xlen = sk->xlen;
    c->has_identity = true;
out:
    ak_wipe(&kd, sizeof(kd));
    s_pem_list_free(&certs);
    s_pem_list_free(&keys);
    if (rc != AK_OK) s_free_identity(c);
    return rc;
}

ak_err ak_http_new(const ak_http_config *cfg, ak_http **out) {
    AK_PRECOND(cfg != NULL && out != NULL);
    ak_err rc = AK_OK;
    *out = NULL;
    if (!g_curl_init) {
        /* libcurl's own buffers (the receive buffer, header lines, TLS records of BearSSL's
         * engine) hold request and response data: route them through the wiping allocator. */
        AK_ENSURE(curl_global_init_mem(CURL_GLOBAL_DEFAULT, ak_ext_malloc, ak_ext_free, ak_ext_realloc,
                                       ak_ext_strdup, ak_ext_calloc) == CURLE_OK,
                  AK_E_CONFIG);
        g_curl_init = true;
    }
    ak_http *c = ak_calloc(1, sizeof(*c));
    AK_ENSURE(c != NULL, AK_E_NOMEM);
    c->connect_timeout_ms =
        cfg->connect_timeout_ms ? cfg->connect_timeout_ms : AK_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    c->retry.max_attempts = cfg->retry.max_attempts ? cfg->retry.max_attempts : AK_HTTP_DEFAULT_MAX_ATTEMPTS;
    c->retry.base_ms = cfg->retry.base_ms ? cfg->retry.base_ms : AK_HTTP_DEFAULT_BACKOFF_BASE_MS;
    c->retry.max_backoff_ms =
        cfg->retry.max_backoff_ms ? cfg->retry.max_backoff_ms : AK_HTTP_DEFAULT_BACKOFF_MAX_MS;
    AK_GUARD_OUT(ak_cur_to_cstr(ak_cur_from_str(cfg->user_agent ? cfg->user_agent : "agentkeys/1"),
                                c->user_agent, sizeof(c->user_agent)));
    c->sock_check = cfg->sock_check;
    c->sock_check_user = cfg->sock_check_user;
    c->rng = (uint64_t)ak_http_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
    if (c->rng == 0) c->rng = 0x9E3779B97F4A7C15ULL;
    if (cfg->pinned_ca_pem.len > 0) {
        rc = s_anchors_from_pem(cfg->pinned_ca_pem, &c->pinned);
        if (rc == AK_E_CONFIG) rc = AK_E_BAD_KEY;
        if (rc != AK_OK) goto out;
    }
    AK_ENSURE_OUT((cfg->client_cert_pem.len > 0) == (cfg->client_key_pem.len > 0), AK_E_CONFIG);
    if (cfg->client_cert_pem.len > 0)
        AK_GUARD_OUT(s_load_identity(c, cfg->client_cert_pem, cfg->client_key_pem));
    if (cfg->connector != NULL || cfg->connect_to != NULL) {
        char spec[300];
        if (cfg->connector != NULL)
            c->conn = *cfg->connector;
        else
            AK_GUARD_OUT(ak_connector_parse(ak_cur_from_str(cfg->connect_to), &c->conn));
        int n;
        if (c->conn.kind == AK_CONN_TCP) {
            n = snprintf(spec, sizeof(spec), "::%s:%u", c->conn.host, (unsigned)c->conn.port);
        } else {
            /* curl wants an address of its own: an IP literal needs no DNS (none in an enclave);
             * s_open_cb / s_sockopt_cb swap in the connector's socket and address. */
            AK_ENSURE_OUT(cfg->sock_check == NULL, AK_E_CONFIG);
            c->conn_socket = true;
            n = snprintf(spec, sizeof(spec), "::127.0.0.1:%u",
                         c->conn.kind == AK_CONN_VSOCK && c->conn.port <= 65535 ? (unsigned)c->conn.port
                                                                                : 9u);
        }
        AK_ENSURE_OUT(n > 0 && (size_t)n < sizeof(spec), AK_E_CONFIG);
        c->connect_to = curl_slist_append(NULL, spec);
        AK_ENSURE_OUT(c->connect_to != NULL, AK_E_NOMEM);
    }
    c->curl = curl_easy_init();
    AK_ENSURE_OUT(c->curl != NULL, AK_E_NOMEM);
    *out = c;
out:
    if (rc != AK_OK) ak_http_free(c);
    return rc;
}

void ak_http_free(ak_http *c) {
    if (c == NULL) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->connect_to);
    s_free_identity(c);
    s_anchors_free(&c->pinned);
    ak_wipe(&c->x509, sizeof(c->x509));
    ak_free(c);
}

void ak_http_global_cleanup(void) {
    s_anchors_free(&g_sys);
    g_sys_loaded = false;
    if (g_curl_init) {
        curl_global_cleanup();
        g_curl_init = false;
    }
}

void ak_http_response_init(ak_http_response *r) {
    AK_PRECOND(r != NULL);
    memset(r, 0, sizeof(*r));
    ak_buf_init(&r->headers, AK_HTTP_MAX_RESPONSE_HEADERS);
    ak_buf_init(&r->body, AK_MAX_UPSTREAM_BODY);
}

void ak_http_response_free(ak_http_response *r) {
    if (r == NULL) return;
    ak_buf_free(&r->headers);
    ak_buf_free(&r->body);
    r->status = 0;
    r->attempts = 0;
}

/* ---------------------------------------------------------------- curl callbacks */

static CURLcode s_ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *userp) {
    (void)curl;
    ak_http *c = userp;
    br_ssl_client_context *cc = ssl_ctx;
    const s_anchors *a = &c->pinned;
    if (a->n == 0) {
        ak_err e = s_sys_anchors(&a);
        if (e != AK_OK) {
            c->tls_err = e;
            return CURLE_SSL_CACERT_BADFILE;
        }
    }
    /* Same engine setup as br_ssl_client_init_full, over our pre-parsed anchors. */
    br_x509_minimal_init(&c->x509, &br_sha256_vtable, a->ta, a->n);
    br_x509_minimal_set_hash(&c->x509, br_sha1_ID, &br_sha1_vtable);
    br_x509_minimal_set_hash(&c->x509, br_sha224_ID, &br_sha224_vtable);
    br_x509_minimal_set_hash(&c->x509, br_sha256_ID, &br_sha256_vtable);
    br_x509_minimal_set_hash(&c->x509, br_sha384_ID, &br_sha384_vtable);
    br_x509_minimal_set_hash(&c->x509, br_sha512_ID, &br_sha512_vtable);
    br_x509_minimal_set_rsa(&c->x509, br_rsa_pkcs1_vrfy_get_default());
    br_x509_minimal_set_ecdsa(&c->x509, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
    br_ssl_engine_set_x509(&cc->eng, &c->x509.vtable);
    if (c->has_identity) {
        /* ECDSA signing only (no static ECDH): the server sees a normal ECDHE_ECDSA client auth. */
        br_ssl_client_set_single_ec(cc, c->chain, c->n_chain, &c->key, BR_KEYTYPE_SIGN, BR_KEYTYPE_EC,
                                    br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
    }
    return CURLE_OK;
}

static size_t s_write_cb(char *ptr, size_t size, size_t nmemb, void *userp) {
    ak_http *c = userp;
    size_t n = size * nmemb;
    if (c->resp->body.len + n > c->max_body) {
        c->too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (ak_buf_append(&c->resp->body, ptr, n) != AK_OK) return 0;
    return n;
}

static size_t s_header_cb(char *ptr, size_t size, size_t nmemb, void *userp) {
    ak_http *c = userp;
    size_t n = size * nmemb;
    ak_cur line = ak_cur_trim(ak_cur_from(ptr, n));
    if (ak_cur_starts_with(line, AK_CUR_LIT("HTTP/"))) {
        /* A new header block (after 1xx, or a new attempt): keep only the final one. */
        ak_buf_clear(&c->resp->headers);
        return n;
    }
    ak_cur name;
    if (!ak_cur_split(&line, ':', &name)) return n; /* blank line or folded junk: ignore */
    name = ak_cur_trim(name);
    ak_cur value = ak_cur_trim(line);
    if (name.len == 0) return n;
    ak_buf *h = &c->resp->headers;
    if (ak_buf_reserve(h, name.len + value.len + 2) != AK_OK) { /* over the ceiling: abort */
        c->too_large = true;
        return 0;
    }
    for (size_t i = 0; i < name.len; i++) {
        uint8_t ch = name.ptr[i];
        if (ch >= 'A' && ch <= 'Z') ch = (uint8_t)(ch + 32);
        h->ptr[h->len++] = ch;
    }
    h->ptr[h->len++] = ':';
    if (value.len) memcpy(h->ptr + h->len, value.ptr, value.len);
    h->len += value.len;
    h->ptr[h->len++] = '\n';
    h->ptr[h->len] = '\0';
    return n;
}

/* ---------------------------------------------------------------- request */

bool ak_http_response_header(const ak_http_response *r, const char *name, ak_cur *value) {
    AK_PRECOND(r != NULL && name != NULL && value != NULL);
    ak_cur all = ak_buf_cur(&r->headers);
    ak_cur want = ak_cur_from_str(name);
    ak_cur line;
    while (ak_cur_split(&all, '\n', &line)) {
        ak_cur n;
        if (!ak_cur_split(&line, ':', &n)) continue;
        if (ak_cur_eq_nocase(n, want)) {
            *value = line;
            return true;
        }
    }
    return false;
}

ak_err ak_http_status_err(long status) {
    if (status >= 200 && status < 300) return AK_OK;
    switch (status) {
        case 404:
            return AK_E_NOT_FOUND;
        case 412:
            return AK_E_PRECONDITION_FAILED;
        case 409:
            return AK_E_CONFLICT;
        case 401:
        case 403:
            return AK_E_ACCESS_DENIED;
        case 413:
            return AK_E_TOO_LARGE;
        case 429:
        case 503:
            return AK_E_THROTTLED;
        case 504:
            return AK_E_UPSTREAM_TIMEOUT;
        default:
            return AK_E_UPSTREAM;
    }
}

bool ak_http_status_retryable(long status) { return status == 429 || (status >= 500 && status <= 599); }

/* Host part of a URL for log lines (never the path's query: presigned URLs carry secrets). */
static void s_url_host(const char *url, char *out, size_t cap) {
    ak_cur u = ak_cur_from_str(url);
    long i = ak_cur_find(u, ':');
    out[0] = '\0';
    if (i < 0 || (size_t)i + 3 > u.len) return;
    u.ptr += i + 3;
    u.len -= (size_t)i + 3;
    size_t n = 0;
    while (n < u.len && u.ptr[n] != '/' && u.ptr[n] != '?' && u.ptr[n] != '#' && u.ptr[n] != '@')
        n++;
    if (n >= cap) n = cap - 1;
    memcpy(out, u.ptr, n);
    out[n] = '\0';
}

static bool s_has_header(const ak_http_request *req, const char *name) {
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0) return true;
    return false;
}

static void s_slist_free_wiped(struct curl_slist *l) {
    /* Header lines may hold Authorization / X-Amz-Security-Token values: wipe before freeing. */
    for (struct curl_slist *p = l; p != NULL; p = p->next)
        if (p->data) ak_wipe(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

static ak_err s_build_headers(const ak_http_request *req, struct curl_slist **out) {
    struct curl_slist *l = NULL;
    ak_buf line;
    ak_err rc = AK_OK;
    ak_buf_init_secret(&line, AK_MAX_HEADER_LINE);
    AK_ENSURE_OUT(req->n_headers <= AK_HTTP_MAX_REQUEST_HEADERS, AK_E_LIMIT);
    for (size_t i = 0; i < req->n_headers; i++) {
        const ak_http_header *h = &req->headers[i];
        AK_PRECOND(h->name != NULL);
        ak_cur name = ak_cur_from_str(h->name);
        AK_ENSURE_OUT(name.len > 0 && ak_cur_find(name, ':') < 0 && ak_cur_find(name, '\r') < 0 &&
                          ak_cur_find(name, '\n') < 0 && ak_cur_find(name, ' ') < 0,
                      AK_E_INVALID_INPUT);
        AK_ENSURE_OUT(ak_cur_find(h->value, '\r') < 0 && ak_cur_find(h->value, '\n') < 0 &&
                          ak_cur_find(h->value, '\0') < 0,
                      AK_E_INVALID_INPUT);
        ak_buf_clear(&line);
        AK_GUARD_OUT(ak_buf_append_cur(&line, name));
        /* "Name;" is curl's spelling for a header sent with an empty value. */
        if (h->value.len == 0) {
            AK_GUARD_OUT(ak_buf_append_str(&line, ";"));
        } else {
            AK_GUARD_OUT(ak_buf_append_str(&line, ": "));
            AK_GUARD_OUT(ak_buf_append_cur(&line, h->value));
        }
        struct curl_slist *nl = curl_slist_append(l, ak_buf_cstr(&line));
        AK_ENSURE_OUT(nl != NULL, AK_E_NOMEM);
        l = nl;
    }
    /* No "Expect: 100-continue" round trip (adds up to 1 s on PUT bodies); no implicit
     * form-urlencoded Content-Type that the caller did not ask for (and did not sign). */
    static const char *const suppress[] = {"Expect:", "Content-Type:", "Accept:"};
    static const char *const names[] = {"Expect", "Content-Type", "Accept"};
    for (size_t i = 0; i < 3; i++) {
        if (s_has_header(req, names[i])) continue;
        struct curl_slist *nl = curl_slist_append(l, suppress[i]);
        AK_ENSURE_OUT(nl != NULL, AK_E_NOMEM);
        l = nl;
    }
    *out = l;
    l = NULL;
out:
    ak_buf_free(&line);
    if (l) s_slist_free_wiped(l);
    return rc;
}

typedef enum { S_DONE, S_RETRY, S_RETRY_ANY } s_verdict;

/* Maps one attempt's CURLcode to an ak_err and whether it may be retried. */
static ak_err s_map_curl(ak_http *c, CURLcode cc, s_verdict *v) {
    *v = S_DONE;
    switch (cc) {
        case CURLE_OK:
            return AK_OK;
        case CURLE_OPERATION_TIMEDOUT:
            *v = S_RETRY;
            return AK_E_UPSTREAM_TIMEOUT;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
            *v = S_RETRY_ANY;
            return AK_E_UPSTREAM;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
            *v = S_RETRY;
            return AK_E_UPSTREAM;
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
            return c->too_large || cc == CURLE_FILESIZE_EXCEEDED ? AK_E_TOO_LARGE : AK_E_NOMEM;
        case CURLE_SSL_CACERT_BADFILE:
            return c->tls_err != AK_OK ? c->tls_err : AK_E_CONFIG;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            return AK_E_INVALID_INPUT;
        case CURLE_OUT_OF_MEMORY:
            return AK_E_NOMEM;
        default:
            return AK_E_UPSTREAM; /* includes PEER_FAILED_VERIFICATION: not retried */
    }
}

/* CURLOPT_OPENSOCKETFUNCTION: the address curl is about to connect to, after DNS. With a
 * vsock/unix connector the address is our placeholder: the connector opens and connects the
 * real socket (bounded by the attempt's connect budget) and s_sockopt_cb tells curl so. */
static curl_socket_t s_open_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
    ak_http *c = clientp;
    (void)purpose;
    if (c->conn_socket) {
        struct sockaddr_storage ss;
        unsigned len;
        int family;
        if (ak_connector_sockaddr(&c->conn, &ss, &len, &family) != AK_OK) return CURL_SOCKET_BAD;
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            char en[16];
            snprintf(en, sizeof(en), "%d", errno);
            ak_log_warn("http connector failed", "via", c->conn.spec, "errno", en, "detail", strerror(errno));
            return CURL_SOCKET_BAD;
        }
        c->conn_addr = a; /* the address is replaced in s_sockopt_cb, before curl's connect() */
        return fd;
    }
    if (!c->sock_check(c->sock_check_user, &a->addr, (unsigned)a->addrlen)) {
        c->sock_refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* CURLOPT_SOCKOPTFUNCTION with a vsock/unix connector: curl has formatted the placeholder
 * address for its logs; now the address its connect() uses becomes the connector's (see
 * ak/connector.h for why not CURL_SOCKOPT_ALREADY_CONNECTED on libcurl 7.88). curl's struct
 * behind `conn_addr` is a Curl_sockaddr_ex whose storage holds any sockaddr (sockaddr_un too). */
static int s_sockopt_cb(void *clientp, curl_socket_t fd, curlsocktype purpose) {
    ak_http *c = clientp;
    (void)fd;
    struct sockaddr_storage ss;
    unsigned len;
    int family;
    if (purpose != CURLSOCKTYPE_IPCXN || c->conn_addr == NULL) return CURL_SOCKOPT_ERROR;
    if (ak_connector_sockaddr(&c->conn, &ss, &len, &family) != AK_OK) return CURL_SOCKOPT_ERROR;
    struct curl_sockaddr *a = c->conn_addr;
    c->conn_addr = NULL;
    a->family = family;
    a->socktype = SOCK_STREAM;
    a->protocol = 0;
    a->addrlen = len;
    memcpy(&a->addr, &ss, len);
    return CURL_SOCKOPT_OK;
}

static ak_err s_setopt_all(ak_http *c, const ak_http_request *req, struct curl_slist *hdrs) {
    CURL *h = c->curl;
    CURLcode e = CURLE_OK;
    /* curl_easy_reset keeps live connections, the DNS cache and TLS session ids. */
    curl_easy_reset(h);
#define S_SET(opt, val)                                                                                      \
    do {                                                                                                     \
        if (e == CURLE_OK) e = curl_easy_setopt(h, opt, val);                                                \
    } while (0)
    S_SET(CURLOPT_URL, req->url);
    S_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    S_SET(CURLOPT_FOLLOWLOCATION, 0L);
    S_SET(CURLOPT_PROXY, ""); /* ignore http_proxy & co. from the environment */
    S_SET(CURLOPT_NOPROXY, "*");
    S_SET(CURLOPT_NOSIGNAL, 1L);
    S_SET(CURLOPT_SSL_VERIFYPEER, 1L);
    S_SET(CURLOPT_SSL_VERIFYHOST, 2L);
    S_SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    S_SET(CURLOPT_CAINFO, (char *)NULL); /* anchors come from s_ssl_ctx_cb, parsed once */
    S_SET(CURLOPT_SSL_CTX_FUNCTION, s_ssl_ctx_cb);
    S_SET(CURLOPT_SSL_CTX_DATA, c);
    S_SET(CURLOPT_USERAGENT, c->user_agent);
    S_SET(CURLOPT_HTTPHEADER, hdrs);
    S_SET(CURLOPT_WRITEFUNCTION, s_write_cb);
    S_SET(CURLOPT_WRITEDATA, c);
    S_SET(CURLOPT_HEADERFUNCTION, s_header_cb);
    S_SET(CURLOPT_HEADERDATA, c);
    S_SET(CURLOPT_ERRORBUFFER, c->errbuf);
    S_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
    S_SET(CURLOPT_ACCEPT_ENCODING, (char *)NULL);
    if (c->connect_to != NULL) S_SET(CURLOPT_CONNECT_TO, c->connect_to);
    if (c->sock_check != NULL || c->conn_socket) {
        S_SET(CURLOPT_OPENSOCKETFUNCTION, s_open_cb);
        S_SET(CURLOPT_OPENSOCKETDATA, c);
    }
    if (c->conn_socket) {
        S_SET(CURLOPT_SOCKOPTFUNCTION, s_sockopt_cb);
        S_SET(CURLOPT_SOCKOPTDATA, c);
    }
    const char *m = req->method;
    if (strcmp(m, "GET") == 0 && req->body.len == 0) {
        S_SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        S_SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "DELETE") == 0 && req->body.len == 0) {
        S_SET(CURLOPT_CUSTOMREQUEST, m);
    } else {
        /* Body (possibly empty) with an exact Content-Length; method name as given. */
        S_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
        S_SET(CURLOPT_POSTFIELDS, req->body.len ? (const char *)req->body.ptr : "");
        if (strcmp(m, "POST") != 0) S_SET(CURLOPT_CUSTOMREQUEST, m);
    }
#undef S_SET
    if (e == CURLE_OUT_OF_MEMORY) return AK_E_NOMEM;
    return e == CURLE_OK ? AK_OK : AK_E_CONFIG;
}

ak_err ak_http_do(ak_http *c, const ak_http_request *req, ak_http_response *resp) {
    AK_PRECOND(c != NULL && req != NULL && resp != NULL && req->method != NULL && req->url != NULL);
    struct curl_slist *hdrs = NULL;
    ak_err rc = AK_OK;
    char host[256];
    s_url_host(req->url, host, sizeof(host));
    bool https = strncasecmp(req->url, "https://", 8) == 0;
    AK_ENSURE(https || strncasecmp(req->url, "http://", 7) == 0, AK_E_INVALID_INPUT);
    AK_ENSURE(ak_cur_find(ak_cur_from_str(req->method), ' ') < 0 && req->method[0] != '\0',
              AK_E_INVALID_INPUT);

    int64_t now = ak_http_now_ms();
    int64_t deadline = req->deadline_ms;
    int64_t cap = now + (req->timeout_ms ? req->timeout_ms : AK_HTTP_DEFAULT_TIMEOUT_MS);
    if (deadline == 0 || (req->timeout_ms && cap < deadline)) deadline = cap;

    ak_buf_free(&resp->headers);
    ak_buf_free(&resp->body);
    ak_buf_init(&resp->headers, AK_HTTP_MAX_RESPONSE_HEADERS);
    c->max_body = req->max_response ? req->max_response : AK_MAX_UPSTREAM_BODY;
    if (req->body_secret)
        ak_buf_init_secret(&resp->body, c->max_body);
    else
        ak_buf_init(&resp->body, c->max_body);
    resp->status = 0;
    resp->attempts = 0;
    c->resp = resp;

    AK_GUARD_OUT(s_build_headers(req, &hdrs));
    AK_GUARD_OUT(s_setopt_all(c, req, hdrs));

    for (unsigned attempt = 1;; attempt++) {
        now = ak_http_now_ms();
        AK_ENSURE_OUT(deadline - now >= (int64_t)AK_HTTP_MIN_ATTEMPT_MS,
                      resp->status ? AK_OK : AK_E_UPSTREAM_TIMEOUT);
        long left = (long)(deadline - now);
        long conn = (long)c->connect_timeout_ms < left ? (long)c->connect_timeout_ms : left;
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, left);
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, conn);
        c->conn_addr = NULL;
        ak_buf_clear(&resp->headers);
        ak_buf_clear(&resp->body);
        resp->status = 0;
        resp->attempts = attempt;
        c->too_large = false;
        c->sock_refused = false;
        c->tls_err = AK_OK;
        c->errbuf[0] = '\0';

        CURLcode cc = curl_easy_perform(c->curl);
        s_verdict v;
        rc = s_map_curl(c, cc, &v);
        if (rc != AK_OK && c->sock_refused) {
            rc = AK_E_DESTINATION_NOT_ALLOWED;
            v = S_DONE;
        }
        if (rc == AK_OK) {
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
            v = ak_http_status_retryable(resp->status) && req->idempotent ? S_RETRY : S_DONE;
        } else {
            if (rc == AK_E_UPSTREAM_TIMEOUT && ak_http_now_ms() + (int64_t)AK_HTTP_MIN_ATTEMPT_MS > deadline)
                v = S_DONE;
            if (v == S_RETRY && !req->idempotent) v = S_DONE;
        }
        if (v == S_DONE || attempt >= c->retry.max_attempts) break;

        /* Full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
        uint64_t ceil_ms = c->retry.base_ms;
        for (unsigned i = 1; i < attempt && ceil_ms < c->retry.max_backoff_ms; i++)
            ceil_ms *= 2;
        if (ceil_ms > c->retry.max_backoff_ms) ceil_ms = c->retry.max_backoff_ms;
        unsigned sleep_ms = (unsigned)(s_rng_next(c) % (ceil_ms + 1));
        if (ak_http_now_ms() + sleep_ms + (int64_t)AK_HTTP_MIN_ATTEMPT_MS > deadline)
            break; /* keep the last result */
        char st[24], at[24];
        snprintf(st, sizeof(st), "%ld", resp->status);
        snprintf(at, sizeof(at), "%u", attempt + 1);
        ak_log_warn("http retry", "method", req->method, "host", host, "status", st, "reason",
                    ak_err_reason(rc != AK_OK ? rc : ak_http_status_err(resp->status)), "attempt", at);
        s_sleep_ms(sleep_ms);
    }
    if (rc != AK_OK) {
        char at[24];
        snprintf(at, sizeof(at), "%u", resp->attempts);
        /* errbuf holds curl's sentence (host/port, TLS alert); never headers or bodies. With a
         * connector, curl's sentence names its placeholder address: "via" says where it went. */
        ak_log_warn("http failed", "method", req->method, "host", host, "reason", ak_err_reason(rc),
                    "attempts", at, "detail", c->errbuf, "via", c->conn_socket ? c->conn.spec : "");
    }
out:
    if (hdrs) s_slist_free_wiped(hdrs);
    if (c->curl) curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    c->resp = NULL;
    return rc;
}

const char *ak_http_reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 410:
            return "Gone";
        case 412:
            return "Precondition Failed";
        case 413:
            return "Content Too Large";
        case 422:
            return "Unprocessable Content";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}
