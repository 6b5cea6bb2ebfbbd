/*
 * signer_ratls_test.c — RA-TLS (issue 18): the nitro signer's TLS key born in the enclave
 * (aks_tls_config_generate, `--tls-key generate`) and nitro-mode clients that accept its
 * self-signed certificate through the capture X.509 engine (ak/pki.h) and authenticate the key
 * by the NSM document alone.
 *
 *   - the capture check on single certificates: the signer's own, and openssl-made ones with a
 *     good shape, the wrong EKU, no EKU, the wrong name, a P-384 key, expired, garbage;
 *   - in process over real TLS on 127.0.0.1: a signer loop (the enclave's TLS server, its
 *     /v1/attest handler and an attester over the fake NSM of nitro_fake.h) that records every
 *     request path it receives, reached by ak/signer.h clients:
 *       nitro client without a CA -> attested, request served, reconnect resumes without a
 *       second attestation;
 *       a man in the middle with its own key (the document binds the real signer's key) ->
 *       attest_public_key_mismatch and nothing but /v1/attest ever reached it;
 *       a nitro client whose signer attests in the local format or whose NSM fails -> refused,
 *       no request;
 *       a local-mode client (CA pinned, required) and a nitro client that also pins a CA ->
 *       handshake refused, nothing received.
 */
#include "test.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ak/attest.h"
#include "ak/crypto.h"
#include "ak/signer.h"
#include "nitro_fake.h"
#include "../../enclave/src/api.c"
#include "../../enclave/src/attester.c"
#include "../../enclave/src/nsm.c"
#include "../../enclave/src/epochs.c"
#include "../../enclave/src/http.c"
#include "../../enclave/src/kek.c"
#include "../../enclave/src/keystore.c"
#include "../../enclave/src/rollback.c"
#include "../../enclave/src/sealer.c"
#include "../../enclave/src/secmem.c"
#include "../../enclave/src/tls.c"
#include "../../enclave/src/x509.c"

static char g_dir[64];

static void s_sh(const char *fmt, const char *arg) {
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), fmt, arg);
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

/* openssl material: a client CA + a client cert with a role (mTLS callers, as today), and the
 * certificates for the capture check. */
static void s_pki(void) {
    snprintf(g_dir, sizeof(g_dir), "/tmp/aks_ratls_test.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    s_sh("cd %s && "
         "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null && "
         "openssl req -new -x509 -key ca.key -out ca.crt -days 2 -subj /CN=client-ca "
         "-addext basicConstraints=critical,CA:TRUE 2>/dev/null && "
         "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out c.key 2>/dev/null && "
         "openssl req -new -key c.key -subj /CN=audit -out c.csr 2>/dev/null && "
         "printf 'subjectAltName=URI:spiffe://agentkeys/role/audit\\nextendedKeyUsage=clientAuth\\n' > c.ext "
         "&& "
         "openssl x509 -req -in c.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile c.ext "
         "-out c.crt 2>/dev/null && "
         "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out s.key 2>/dev/null && "
         "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out s384.key 2>/dev/null",
         g_dir);
    static const struct {
        const char *name, *key, *ext, *days;
    } leaves[] = {
        {"good", "s.key",
         "-addext subjectAltName=DNS:signer.agentkeys.internal -addext extendedKeyUsage=serverAuth", "2"},
        {"client_eku", "s.key",
         "-addext subjectAltName=DNS:signer.agentkeys.internal -addext extendedKeyUsage=clientAuth", "2"},
        {"no_eku", "s.key", "-addext subjectAltName=DNS:signer.agentkeys.internal", "2"},
        {"other_name", "s.key", "-addext subjectAltName=DNS:evil.example -addext extendedKeyUsage=serverAuth",
         "2"},
        {"p384", "s384.key",
         "-addext subjectAltName=DNS:signer.agentkeys.internal -addext extendedKeyUsage=serverAuth", "2"},
    };
    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        char cmd[1024];
        snprintf(
            cmd, sizeof(cmd),
            "cd %s && openssl req -new -x509 -key %s -subj /CN=signer -days %s %s -outform DER -out %s.der "
            "2>/dev/null",
            g_dir, leaves[i].key, leaves[i].days, leaves[i].ext, leaves[i].name);
        if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
    }
}

static void s_rm(void) { s_sh("rm -rf '%s'", g_dir); }

static void s_read(const char *name, ak_buf *out) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    assert_int_equal(ak_pki_read_file(path, out), AK_OK);
}

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ak_err s_sign_with(void *ctx, ak_cur tbs, uint8_t sig64[64]) {
    return ak_p256_sign_sha256(ctx, tbs.ptr, tbs.len, sig64);
}

/* Drives the capture engine the way BearSSL does, in uneven chunks; returns end_chain's code. */
static unsigned s_engine(ak_pki_x509_capture *x, const char *name, ak_cur leaf, bool second) {
    const br_x509_class **v = &x->vtable;
    (*v)->start_chain(v, name);
    (*v)->start_cert(v, (uint32_t)leaf.len);
    for (size_t off = 0; off < leaf.len; off += 77)
        (*v)->append(v, leaf.ptr + off, leaf.len - off < 77 ? leaf.len - off : 77);
    (*v)->end_cert(v);
    if (second) { /* a further certificate is ignored, whatever it is */
        (*v)->start_cert(v, 3);
        (*v)->append(v, (const unsigned char *)"xyz", 3);
        (*v)->end_cert(v);
    }
    return (*v)->end_chain(v);
}

AK_TEST(test_capture_check) {
    s_pki();
    uint8_t pub[65], want[65], priv[32];
    ak_buf der;
    static const char name[] = "signer.agentkeys.internal";

    /* the signer's own generated certificate */
    EXPECT_OK(ak_p256_keygen(priv, want));
    ak_buf_init(&der, AK_PKI_MAX_LEAF);
    EXPECT_OK(aks_x509_tls_server(&der, want, name, (int64_t)time(NULL), AKS_TLS_GENERATED_DAYS, s_sign_with,
                                  priv));
    EXPECT_OK(ak_pki_leaf_capture_check(ak_buf_cur(&der), name, pub));
    EXPECT_BYTES_EQ(pub, 65, want, 65);
    EXPECT_ERR(AK_E_CERT_NAME_MISMATCH, ak_pki_leaf_capture_check(ak_buf_cur(&der), "other.internal", pub));
    /* expired (made in 2020 for one day; openssl 3.0 cannot backdate) and not yet valid */
    ak_buf old;
    ak_buf_init(&old, AK_PKI_MAX_LEAF);
    EXPECT_OK(aks_x509_tls_server(&old, want, name, 1577836800, 1, s_sign_with, priv));
    EXPECT_ERR(AK_E_CERT_INVALID, ak_pki_leaf_capture_check(ak_buf_cur(&old), name, pub));
    ak_buf_clear(&old);
    EXPECT_OK(aks_x509_tls_server(&old, want, name, (int64_t)time(NULL) + 86400, 1, s_sign_with, priv));
    EXPECT_ERR(AK_E_CERT_INVALID, ak_pki_leaf_capture_check(ak_buf_cur(&old), name, pub));
    ak_buf_free(&old);
    /* names that are no DNS names are never put in a certificate */
    ak_buf bad;
    ak_buf_init(&bad, AK_PKI_MAX_LEAF);
    EXPECT_ERR(AK_E_INVALID_INPUT,
               aks_x509_tls_server(&bad, want, "a b", (int64_t)time(NULL), 1, s_sign_with, priv));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               aks_x509_tls_server(&bad, want, "", (int64_t)time(NULL), 1, s_sign_with, priv));
    ak_buf_free(&bad);

    /* through the engine: the key captured, get_pkey answers it; a chain of two still only the leaf */
    ak_pki_x509_capture *x = ak_malloc(sizeof(*x));
    assert_non_null(x);
    ak_pki_x509_capture_init(x);
    EXPECT_TRUE(x->vtable->get_pkey(&x->vtable, NULL) == NULL); /* nothing before a chain */
    EXPECT_INT_EQ(s_engine(x, name, ak_buf_cur(&der), true), 0);
    unsigned usages = 0;
    const br_x509_pkey *pk = x->vtable->get_pkey(&x->vtable, &usages);
    assert_non_null(pk);
    EXPECT_TRUE(pk->key_type == BR_KEYTYPE_EC && pk->key.ec.curve == BR_EC_secp256r1);
    EXPECT_BYTES_EQ(pk->key.ec.q, pk->key.ec.qlen, want, 65);
    EXPECT_TRUE((usages & BR_KEYTYPE_SIGN) != 0);
    EXPECT_INT_EQ(s_engine(x, "other.internal", ak_buf_cur(&der), false), BR_ERR_X509_BAD_SERVER_NAME);
    EXPECT_TRUE(x->vtable->get_pkey(&x->vtable, NULL) == NULL);
    ak_buf_free(&der);

    /* openssl-made leaves */
    static const struct {
        const char *file;
        ak_err want;
        unsigned br;
    } cases[] = {
        {"good.der", AK_OK, 0},
        {"client_eku.der", AK_E_CERT_EKU_MISSING, BR_ERR_X509_FORBIDDEN_KEY_USAGE},
        {"no_eku.der", AK_E_CERT_EKU_MISSING, BR_ERR_X509_FORBIDDEN_KEY_USAGE},
        {"other_name.der", AK_E_CERT_NAME_MISMATCH, BR_ERR_X509_BAD_SERVER_NAME},
        {"p384.der", AK_E_BAD_KEY, BR_ERR_X509_NOT_TRUSTED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s_read(cases[i].file, &der);
        ak_err e = ak_pki_leaf_capture_check(ak_buf_cur(&der), name, pub);
        if (e != cases[i].want) fail_msg("%s: %s", cases[i].file, ak_err_reason(e));
        EXPECT_INT_EQ(s_engine(x, name, ak_buf_cur(&der), false), cases[i].br);
        EXPECT_INT_EQ(x->rc, cases[i].want);
        EXPECT_TRUE((x->vtable->get_pkey(&x->vtable, NULL) != NULL) == (cases[i].want == AK_OK));
        if (strcmp(cases[i].file, "good.der") == 0) {
            /* garbage: truncated, a flipped tag, trailing bytes, empty */
            EXPECT_ERR(AK_E_BAD_KEY, ak_pki_leaf_capture_check(ak_cur_from(der.ptr, der.len - 1), name, pub));
            der.ptr[0] ^= 0x01;
            EXPECT_ERR(AK_E_BAD_KEY, ak_pki_leaf_capture_check(ak_buf_cur(&der), name, pub));
            EXPECT_INT_EQ(s_engine(x, name, ak_buf_cur(&der), false), BR_ERR_X509_NOT_TRUSTED);
            der.ptr[0] ^= 0x01;
            EXPECT_OK(ak_buf_append_byte(&der, 0));
            EXPECT_TRUE(ak_pki_leaf_capture_check(ak_buf_cur(&der), name, pub) != AK_OK);
            EXPECT_ERR(AK_E_BAD_KEY, ak_pki_leaf_capture_check(ak_cur_from(der.ptr, 0), name, pub));
            EXPECT_ERR(AK_E_BAD_KEY, ak_pki_leaf_capture_check(AK_CUR_LIT("not a certificate"), name, pub));
        }
        ak_buf_free(&der);
    }
    /* an empty chain, and a leaf larger than the engine holds */
    x->vtable->start_chain(&x->vtable, name);
    EXPECT_INT_EQ(x->vtable->end_chain(&x->vtable), BR_ERR_X509_EMPTY_CHAIN);
    static uint8_t huge[AK_PKI_MAX_LEAF + 1];
    EXPECT_INT_EQ(s_engine(x, name, ak_cur_from(huge, sizeof(huge)), false), BR_ERR_X509_NOT_TRUSTED);
    EXPECT_INT_EQ(x->rc, AK_E_TOO_LARGE);
    ak_free(x);
    s_rm();
}

/* ---- an in-process signer over TLS that records what reaches it ---- */

typedef struct {
    aks_tls_config tls;
    aks_ctx ctx;
    int lfd;
    unsigned port;
    volatile int stop;
    pthread_t th;
    pthread_mutex_t mu;
    char paths[32][64];
    unsigned npaths, handshakes;
} s_srv;

static void s_srv_record(s_srv *s, ak_cur path) {
    pthread_mutex_lock(&s->mu);
    if (s->npaths < 32 && ak_cur_to_cstr(path, s->paths[s->npaths], sizeof(s->paths[0])) != AK_OK)
        snprintf(s->paths[s->npaths], sizeof(s->paths[0]), "(long path)");
    s->npaths++;
    pthread_mutex_unlock(&s->mu);
}

static void s_srv_conn(s_srv *s, aks_tls_conn *t) {
    ak_buf in, body, out;
    int br_err = 0;
    aks_http_limits lim = AKS_HTTP_DEFAULT_LIMITS;
    ak_buf_init(&in, 1u << 20);
    ak_buf_init(&body, 1u << 20);
    ak_buf_init(&out, 1u << 20);
    if (aks_tls_handshake(t, aks_now_mono_ms() + 3000, &br_err) != AK_OK) goto out;
    __atomic_fetch_add(&s->handshakes, 1, __ATOMIC_SEQ_CST);
    aks_role role = aks_role_from_identity(t->names[0].status == 1 ? t->uri[0] : NULL,
                                           t->names[1].status == 1 ? t->uri[1] : NULL);
    for (;;) {
        aks_http_req req;
        bool complete = false;
        if (aks_http_parse(ak_buf_cur(&in), &lim, &req, &complete) != AK_OK) break;
        if (complete) {
            int status = 500;
            s_srv_record(s, req.path);
            if (ak_cur_eq_str(req.path, "/v1/attest")) {
                aks_api_handle(&s->ctx, role, &req, &status, &body, NULL);
            } else { /* whatever else arrives is only recorded */
                status = 200;
                assert_int_equal(ak_buf_append_str(&body, "{\"keys\":[]}"), AK_OK);
            }
            ak_buf_clear(&out);
            if (aks_http_write_response(&out, status, ak_buf_cur(&body), true) != AK_OK ||
                aks_tls_write_all(t, out.ptr, out.len, aks_now_mono_ms() + 3000) != AK_OK)
                break;
            ak_buf_clear(&body);
            size_t rest = in.len - req.total_len;
            memmove(in.ptr, in.ptr + req.total_len, rest);
            in.len = rest;
            if (rest) continue;
        }
        uint8_t chunk[4096];
        long n = aks_tls_read(t, chunk, sizeof(chunk), aks_now_mono_ms() + 3000);
        if (n <= 0 || ak_buf_append(&in, chunk, (size_t)n) != AK_OK) break;
    }
    aks_tls_close(t, aks_now_mono_ms() + 200);
out:
    ak_buf_free(&in);
    ak_buf_free(&body);
    ak_buf_free(&out);
}

static void *s_srv_main(void *arg) {
    s_srv *s = arg;
    while (!s->stop) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        aks_tls_conn *t = ak_malloc(sizeof(*t));
        if (t != NULL && aks_tls_conn_init(t, &s->tls, fd) == AK_OK) s_srv_conn(s, t);
        ak_free_secure(t, sizeof(*t));
        close(fd);
    }
    return NULL;
}

/* A signer with a generated key; `att` attests; `attested_pub` NULL: its own TLS key (the honest
 * signer), else the key its documents bind (a man in the middle relaying /v1/attest to the real
 * signer gets documents for the real signer's key). */
static void s_srv_up(s_srv *s, aks_attester *att, const uint8_t *attested_pub) {
    char ca[128];
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    snprintf(ca, sizeof(ca), "%s/ca.crt", g_dir);
    EXPECT_OK(aks_tls_config_generate(&s->tls, AKS_TLS_GENERATED_NAME, ca));
    aks_ctx_init(&s->ctx);
    s->ctx.attester = att;
    memset(s->ctx.measurement, 0x4d, 48);
    memcpy(s->ctx.tls_pub, attested_pub ? attested_pub : s->tls.key->pub, 65);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, len), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, s_srv_main, s), 0);
}

static void s_srv_down(s_srv *s) {
    s->stop = 1;
    pthread_join(s->th, NULL);
    close(s->lfd);
    aks_ctx_free(&s->ctx);
    aks_tls_config_free(&s->tls);
    pthread_mutex_destroy(&s->mu);
}

static char g_url[64], g_paths[4][128], g_pcr0[97], g_root[64];

/* A nitro-mode client pinning the fake PKI's root and PCR0; no CA. */
static ak_signer_config s_nitro_cfg(const s_srv *s) {
    snprintf(g_url, sizeof(g_url), "https://127.0.0.1:%u", s->port);
    snprintf(g_paths[1], sizeof(g_paths[1]), "%s/c.crt", g_dir);
    snprintf(g_paths[2], sizeof(g_paths[2]), "%s/c.key", g_dir);
    ak_hex_encode(nf_opts(0).pcr[0], 48, g_pcr0);
    ak_signer_config c;
    memset(&c, 0, sizeof(c));
    c.url = g_url;
    c.cert_path = g_paths[1];
    c.key_path = g_paths[2];
    c.timeout_ms = 3000;
    c.attestation = "nitro";
    c.pcr_hex[0] = g_pcr0;
    c.nitro_root = g_root;
    return c;
}

static unsigned s_count(s_srv *s, const char *path) {
    unsigned n = 0;
    pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < s->npaths && i < 32; i++)
        if (strcmp(s->paths[i], path) == 0) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

typedef struct {
    nf_pki pki;
    nf_nsm nsm;
    aks_attester *att;
} s_fake;

static void s_fake_up(s_fake *f) {
    nf_nsm_up(&f->pki, &f->nsm, 7, s_now_ms());
    EXPECT_OK(aks_attester_nitro_with(nf_nsm_transport, &f->nsm, &f->att));
    nf_root_pem_file(&f->pki, g_root);
}

static void s_fake_down(s_fake *f) {
    aks_attester_free(f->att);
    unlink(g_root);
    nf_pki_free(&f->pki);
}

AK_TEST(test_nitro_client_attests_a_generated_key) {
    s_pki();
    s_fake f;
    s_fake_up(&f);
    s_srv s;
    s_srv_up(&s, f.att, NULL);
    ak_signer_config c = s_nitro_cfg(&s);
    ak_signer *cl = NULL;
    ak_buf keys;
    ak_buf_init(&keys, 4096);
    EXPECT_OK(ak_signer_new(&c, &cl));
    EXPECT_OK(ak_signer_keys(cl, &keys));
    EXPECT_STR_EQ(ak_buf_cstr(&keys), "{\"keys\":[]}");
    EXPECT_INT_EQ(s_count(&s, "/v1/attest"), 1);
    EXPECT_INT_EQ(s_count(&s, "/v1/keys"), 1);
    EXPECT_STR_EQ(s.paths[0], "/v1/attest"); /* the attestation came first */
    /* a reconnect resumes the attested session: no second document needed */
    ak_signer_disconnect(cl);
    ak_buf_clear(&keys);
    EXPECT_OK(ak_signer_keys(cl, &keys));
    EXPECT_INT_EQ(ak_signer_connects(cl), 2);
    EXPECT_INT_EQ(ak_signer_resumes(cl), 1);
    EXPECT_INT_EQ(s_count(&s, "/v1/attest"), 1);
    EXPECT_INT_EQ(s_count(&s, "/v1/keys"), 2);
    ak_signer_free(cl);
    /* a fresh client (no session): a full handshake, attested again */
    EXPECT_OK(ak_signer_new(&c, &cl));
    EXPECT_OK(ak_signer_attest(cl));
    EXPECT_INT_EQ(s_count(&s, "/v1/attest"), 2);
    ak_signer_free(cl);
    /* the same signer with a pinned CA too (both checks): its key has no CA -> refused, nothing sent */
    snprintf(g_paths[0], sizeof(g_paths[0]), "%s/ca.crt", g_dir);
    c.ca_pem_path = g_paths[0];
    unsigned before = s.npaths;
    EXPECT_OK(ak_signer_new(&c, &cl));
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE, ak_signer_keys(cl, &keys));
    EXPECT_INT_EQ(s.npaths, before);
    ak_signer_free(cl);
    ak_buf_free(&keys);
    s_srv_down(&s);
    s_fake_down(&f);
    s_rm();
}

AK_TEST(test_mitm_with_its_own_key_is_refused_before_any_request) {
    s_pki();
    s_fake f;
    s_fake_up(&f);
    /* key A: the real signer's; the MITM serves key B and relays /v1/attest (documents bind A) */
    uint8_t priv_a[32], pub_a[65];
    EXPECT_OK(ak_p256_keygen(priv_a, pub_a));
    s_srv s;
    s_srv_up(&s, f.att, pub_a);
    ak_signer_config c = s_nitro_cfg(&s);
    ak_signer *cl = NULL;
    uint8_t op[32] = {1}, kek[32];
    EXPECT_OK(ak_signer_new(&c, &cl));
    EXPECT_ERR(AK_E_ATTEST_PUBLIC_KEY_MISMATCH,
               ak_signer_derive_kek(cl, "credentials", "fetch", AK_CUR_LIT("a.b.c"), op, op, 1, kek));
    EXPECT_ERR(AK_E_ATTEST_PUBLIC_KEY_MISMATCH,
               ak_signer_derive_kek_send(cl, "credentials", "fetch", AK_CUR_LIT("a.b.c"), op, op, 1));
    EXPECT_FALSE(ak_signer_derive_pending(cl));
    ak_buf out;
    ak_buf_init(&out, 4096);
    EXPECT_ERR(AK_E_ATTEST_PUBLIC_KEY_MISMATCH, ak_signer_keys(cl, &out));
    EXPECT_INT_EQ(ak_signer_resumes(cl), 0); /* a refused key's session is never offered again */
    ak_signer_free(cl);
    /* only attestation requests ever reached the MITM: no derive body, no other request */
    EXPECT_INT_EQ(s_count(&s, "/v1/attest"), 3);
    EXPECT_INT_EQ(s.npaths, 3);
    EXPECT_INT_EQ(s.handshakes, 3);
    ak_buf_free(&out);
    s_srv_down(&s);
    s_fake_down(&f);
    s_rm();
}

static ak_err s_local_doc(aks_attester *a, const ak_attest_claims *c, ak_buf *doc) {
    (void)a;
    (void)c;
    return ak_buf_append_str(doc, "e30.e30.AAAA");
}

AK_TEST(test_without_nitro_attestation_no_request) {
    s_pki();
    s_fake f;
    s_fake_up(&f);
    uint8_t op[32] = {1}, kek[32];
    /* a signer whose NSM fails now: /v1/attest answers 502, the client goes no further */
    s_srv s;
    s_srv_up(&s, f.att, NULL);
    f.nsm.mode = NF_ERROR;
    ak_signer_config c = s_nitro_cfg(&s);
    ak_signer *cl = NULL;
    EXPECT_OK(ak_signer_new(&c, &cl));
    EXPECT_ERR(AK_E_ATTESTATION_INVALID,
               ak_signer_derive_kek(cl, "credentials", "fetch", AK_CUR_LIT("a.b.c"), op, op, 1, kek));
    ak_signer_free(cl);
    EXPECT_INT_EQ(s.npaths, 1);
    s_srv_down(&s);
    /* a signer that attests in the local format (its own key, no NSM): attest_mode_mismatch */
    aks_attester local = {.name = "local", .document = s_local_doc};
    s_srv_up(&s, &local, NULL);
    c = s_nitro_cfg(&s);
    EXPECT_OK(ak_signer_new(&c, &cl));
    ak_err e = ak_signer_derive_kek(cl, "credentials", "fetch", AK_CUR_LIT("a.b.c"), op, op, 1, kek);
    EXPECT_TRUE(e != AK_OK);
    ak_signer_free(cl);
    EXPECT_INT_EQ(s.npaths, 1);
    EXPECT_STR_EQ(s.paths[0], "/v1/attest");
    /* the document of a fake NSM under another root (not the pinned one) */
    s_srv_down(&s);
    nf_pki other;
    nf_pki_init(&other, 9, s_now_ms() / 1000);
    f.nsm.mode = NF_OK;
    f.nsm.pki = &other;
    s_srv_up(&s, f.att, NULL);
    c = s_nitro_cfg(&s);
    EXPECT_OK(ak_signer_new(&c, &cl));
    e = ak_signer_derive_kek(cl, "credentials", "fetch", AK_CUR_LIT("a.b.c"), op, op, 1, kek);
    EXPECT_TRUE(e != AK_OK && e != AK_E_SIGNER_UNAVAILABLE);
    ak_signer_free(cl);
    EXPECT_INT_EQ(s.npaths, 1);
    s_srv_down(&s);
    nf_pki_free(&other);
    s_fake_down(&f);
    s_rm();
}

AK_TEST(test_local_mode_needs_and_keeps_its_ca) {
    s_pki();
    s_fake f;
    s_fake_up(&f);
    s_srv s;
    s_srv_up(&s, f.att, NULL);
    ak_signer_config c = s_nitro_cfg(&s);
    ak_signer *cl = NULL;
    /* local mode: the CA is required ... */
    char m96[97];
    memset(m96, '0', 96);
    m96[96] = '\0';
    uint8_t apriv[32], apub[65];
    char apub_hex[131];
    EXPECT_OK(ak_p256_keygen(apriv, apub));
    ak_hex_encode(apub, 65, apub_hex);
    c.attestation = NULL;
    c.pcr_hex[0] = NULL;
    c.nitro_root = NULL;
    c.attest_pub = apub_hex;
    c.measurement_hex = m96;
    EXPECT_ERR(AK_E_CONFIG, ak_signer_new(&c, &cl));
    /* ... and pinned: a generated key chains to no CA, the handshake fails, nothing is sent */
    snprintf(g_paths[0], sizeof(g_paths[0]), "%s/ca.crt", g_dir);
    c.ca_pem_path = g_paths[0];
    EXPECT_OK(ak_signer_new(&c, &cl));
    uint8_t op[32] = {1}, kek[32];
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE,
               ak_signer_derive_kek(cl, "credentials", "fetch", AK_CUR_LIT("a.b.c"), op, op, 1, kek));
    ak_signer_free(cl);
    EXPECT_INT_EQ(s.npaths, 0);
    EXPECT_INT_EQ(s.handshakes, 0);
    s_srv_down(&s);
    s_fake_down(&f);

    /* the environment: AK_SIGNER_CA_PEM is required in local mode only */
    ak_signer_config ec;
    setenv("AK_SIGNER_URL", "https://127.0.0.1:1", 1);
    setenv("AK_SIGNER_CLIENT_CERT", "x", 1);
    setenv("AK_SIGNER_CLIENT_KEY", "x", 1);
    setenv("AK_SIGNER_ATTEST_PUB", "x", 1);
    setenv("AK_SIGNER_MEASUREMENT", "x", 1);
    unsetenv("AK_SIGNER_CA_PEM");
    EXPECT_ERR(AK_E_CONFIG, ak_signer_config_from_env(&ec));
    setenv("AK_SIGNER_CA_PEM", "", 1);
    EXPECT_ERR(AK_E_CONFIG, ak_signer_config_from_env(&ec));
    setenv("AK_SIGNER_CA_PEM", "ca.pem", 1);
    EXPECT_OK(ak_signer_config_from_env(&ec));
    EXPECT_STR_EQ(ec.ca_pem_path, "ca.pem");
    unsetenv("AK_SIGNER_CA_PEM");
    setenv("AK_SIGNER_ATTESTATION", "nitro", 1);
    setenv("AK_SIGNER_PCR0", "y", 1);
    EXPECT_OK(ak_signer_config_from_env(&ec));
    EXPECT_TRUE(ec.ca_pem_path == NULL);
    unsetenv("AK_SIGNER_ATTESTATION");
    unsetenv("AK_SIGNER_PCR0");
    s_rm();
}

AK_RUN_TESTS(AK_T(test_capture_check), AK_T(test_nitro_client_attests_a_generated_key),
             AK_T(test_mitm_with_its_own_key_is_refused_before_any_request),
             AK_T(test_without_nitro_attestation_no_request), AK_T(test_local_mode_needs_and_keeps_its_ca))
