/*
 * connector_test.c — ak/connector.h and its use by ak_http (issue 18: vsock to the parent).
 *
 * This kernel has no vsock loopback, so the plumbing is proven with the unix: connector, which
 * takes the very same path in ak_http (our socket from CURLOPT_OPENSOCKETFUNCTION, then
 * CURL_SOCKOPT_ALREADY_CONNECTED) to a stand-in thread (unix_standin.h):
 *   - specs parse strictly (vsock:CID:PORT, unix:/path, HOST:PORT; everything else config_error);
 *   - a real vsock connect here fails cleanly and bounded, with a reason and an errno;
 *   - a request reaches the stand-in with Host = the URL's real host; keep-alive reuses the one
 *     connection; a replaced `open` is used (pluggable);
 *   - https: the ClientHello that reaches the stand-in names the real host (SNI);
 *   - KMS Decrypt through the connector: Host and the SigV4 signature use the real endpoint name
 *     (recomputed here), and a KMS error keeps its kms_* reason;
 *   - failures: no such socket / vsock → upstream_error, bad spec → config_error.
 */
#include "test.h"

#include <errno.h>

#include "ak/connector.h"
#include "ak/http.h"
#include "ak/kms.h"
#include "ak/sigv4.h"
#include "unix_standin.h"

AK_TEST(test_parse_good) {
    ak_connector c;
    EXPECT_OK(ak_connector_parse(AK_CUR_LIT("vsock:3:8000"), &c));
    EXPECT_INT_EQ(c.kind, AK_CONN_VSOCK);
    EXPECT_INT_EQ(c.cid, 3);
    EXPECT_INT_EQ(c.port, 8000);
    EXPECT_STR_EQ(c.spec, "vsock:3:8000");
    EXPECT_OK(ak_connector_parse(AK_CUR_LIT("vsock:4294967294:4294967294"), &c));
    EXPECT_INT_EQ(c.cid, 4294967294u);
    EXPECT_OK(ak_connector_parse(AK_CUR_LIT("unix:/run/kms.sock"), &c));
    EXPECT_INT_EQ(c.kind, AK_CONN_UNIX);
    EXPECT_STR_EQ(c.path, "/run/kms.sock");
    EXPECT_OK(ak_connector_parse(AK_CUR_LIT("127.0.0.1:8000"), &c));
    EXPECT_INT_EQ(c.kind, AK_CONN_TCP);
    EXPECT_STR_EQ(c.host, "127.0.0.1");
    EXPECT_INT_EQ(c.port, 8000);
    EXPECT_OK(ak_connector_parse(AK_CUR_LIT("proxy.internal:65535"), &c));
}

AK_TEST(test_parse_bad) {
    static const char *const bad[] = {
        "",
        "vsock:",
        "vsock:3",
        "vsock:3:",
        "vsock::8000",
        "vsock:0:8000",          /* hypervisor CID */
        "vsock:4294967295:8000", /* VMADDR_CID_ANY */
        "vsock:3:0",
        "vsock:3:4294967295", /* VMADDR_PORT_ANY */
        "vsock:3:8000:1",
        "vsock:03:8000", /* leading zero */
        "vsock:+3:8000",
        "vsock:-1:8000",
        "vsock: 3:8000",
        "vsock:3:8000 ",
        "vsock:0x3:8000",
        "vsock:99999999999:8000",
        "VSOCK:3:8000",
        "vsock:any:8000",
        "unix:",
        "unix:/",
        "unix:relative.sock",
        "unix:/"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaa",
        "host",
        "host:",
        ":80",
        "host:0",
        "host:65536",
        "host:080",
        "[::1]:80",
        "::1:80",
        "http://host:80",
        "user@host:80",
        "host/x:80",
        "host:80/x",
        "ho st:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_connector c;
        if (ak_connector_parse(ak_cur_from_str(bad[i]), &c) != AK_E_CONFIG)
            fail_msg("spec accepted: '%s'", bad[i]);
    }
    ak_connector c;
    EXPECT_ERR(AK_E_CONFIG, ak_connector_parse(ak_cur_from("vsock:3:80\0", 11), &c)); /* embedded NUL */
}

/* This machine: no vsock device (or nothing listening). The connect fails with a reason and an
 * errno, at once or within the bound; never a crash, never a hang. */
AK_TEST(test_vsock_connect_fails_cleanly) {
    ak_connector c;
    int fd = 12345, err = 0;
    EXPECT_OK(ak_connector_parse(AK_CUR_LIT("vsock:3:8000"), &c));
    ak_err e = ak_connector_connect(&c, 300, &fd, &err);
    EXPECT_TRUE(e == AK_E_UPSTREAM || e == AK_E_UPSTREAM_TIMEOUT);
    EXPECT_INT_EQ(fd, -1);
    EXPECT_TRUE(err != 0);
    /* a unix socket that does not exist */
    EXPECT_OK(ak_connector_parse(AK_CUR_LIT("unix:/nonexistent/ak-test.sock"), &c));
    EXPECT_ERR(AK_E_UPSTREAM, ak_connector_connect(&c, 300, &fd, &err));
    EXPECT_INT_EQ(err, ENOENT);
    /* TCP specs are curl's to connect: the builtin refuses them */
    EXPECT_OK(ak_connector_parse(AK_CUR_LIT("127.0.0.1:1"), &c));
    EXPECT_ERR(AK_E_CONFIG, ak_connector_connect(&c, 300, &fd, &err));
}

static long s_echo(void *user, const char *req, long len, char *out, size_t cap) {
    (void)user;
    int n = snprintf(out, cap, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n", len);
    if (n <= 0 || (size_t)n + (size_t)len > cap) return 0;
    memcpy(out + n, req, (size_t)len);
    return n + len;
}

static ak_http *s_client(const char *spec, const ak_connector *conn, unsigned attempts) {
    ak_http_config cfg = {.retry = {.max_attempts = attempts, .base_ms = 5, .max_backoff_ms = 20},
                          .connect_to = spec,
                          .connector = conn};
    ak_http *h = NULL;
    EXPECT_OK(ak_http_new(&cfg, &h));
    return h;
}

static ak_err s_get(ak_http *h, const char *url, ak_http_response *r) {
    ak_http_request req = {.method = "GET", .url = url, .idempotent = true, .timeout_ms = 5000};
    return ak_http_do(h, &req, r);
}

AK_TEST(test_http_over_unix_connector) {
    us_srv s;
    char spec[160];
    us_start(&s, s_echo, NULL);
    us_spec(&s, spec, sizeof(spec));
    ak_http *h = s_client(spec, NULL, 1);
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(s_get(h, "http://rpc.example.internal:8545/a", &r));
    EXPECT_INT_EQ(r.status, 200);
    /* the request reached the stand-in, naming the real host */
    EXPECT_TRUE(ak_cur_starts_with(ak_buf_cur(&r.body), AK_CUR_LIT("GET /a HTTP/1.1\r\n")));
    EXPECT_TRUE(memmem(r.body.ptr, r.body.len, "\r\nHost: rpc.example.internal:8545\r\n", 35) != NULL);
    /* keep-alive: the second request rides the same connection */
    EXPECT_OK(s_get(h, "http://rpc.example.internal:8545/b", &r));
    EXPECT_INT_EQ(r.status, 200);
    EXPECT_INT_EQ(atomic_load(&s.reqs), 2);
    EXPECT_INT_EQ(atomic_load(&s.conns), 1);
    ak_http_response_free(&r);
    ak_http_free(h);
    us_stop(&s);
}

/* An already parsed connector (ak_http_config.connector) takes the same path. */
AK_TEST(test_parsed_connector) {
    us_srv s;
    char spec[160];
    us_start(&s, s_echo, NULL);
    us_spec(&s, spec, sizeof(spec));
    ak_connector c;
    EXPECT_OK(ak_connector_parse(ak_cur_from_str(spec), &c));
    ak_http *h = s_client(NULL, &c, 1);
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(s_get(h, "http://kms.us-east-1.amazonaws.com/", &r));
    EXPECT_INT_EQ(r.status, 200);
    EXPECT_TRUE(memmem(r.body.ptr, r.body.len, "\r\nHost: kms.us-east-1.amazonaws.com\r\n", 37) != NULL);
    EXPECT_INT_EQ(atomic_load(&s.conns), 1);
    ak_http_response_free(&r);
    ak_http_free(h);
    us_stop(&s);
}

AK_TEST(test_failures_have_reasons) {
    ak_http *h = NULL;
    ak_http_response r;
    ak_http_response_init(&r);
    /* bad specs: config_error at client creation */
    ak_http_config cfg = {.connect_to = "vsock:3"};
    EXPECT_ERR(AK_E_CONFIG, ak_http_new(&cfg, &h));
    cfg.connect_to = "vsock:3:80:";
    EXPECT_ERR(AK_E_CONFIG, ak_http_new(&cfg, &h));
    cfg.connect_to = "unix:x";
    EXPECT_ERR(AK_E_CONFIG, ak_http_new(&cfg, &h));
    EXPECT_TRUE(h == NULL);
    /* no listener: upstream_error after the bounded attempts */
    h = s_client("unix:/nonexistent/ak-test.sock", NULL, 2);
    EXPECT_ERR(AK_E_UPSTREAM, s_get(h, "http://kms.us-east-1.amazonaws.com/", &r));
    EXPECT_INT_EQ(r.attempts, 2);
    EXPECT_INT_EQ(r.status, 0);
    ak_http_free(h);
    /* vsock on this machine: upstream_error (or a timeout), no crash, no hang */
    h = s_client("vsock:3:8000", NULL, 2);
    ak_err e = s_get(h, "https://kms.us-east-1.amazonaws.com/", &r);
    EXPECT_TRUE(e == AK_E_UPSTREAM || e == AK_E_UPSTREAM_TIMEOUT);
    EXPECT_INT_EQ(r.status, 0);
    ak_http_free(h);
    ak_http_response_free(&r);
    ak_http_global_cleanup();
}

/* TLS through the connector: what arrives is a ClientHello whose SNI is the URL's host. */
static long s_close(void *user, const char *req, long len, char *out, size_t cap) {
    (void)user, (void)req, (void)len, (void)out, (void)cap;
    return 0;
}

AK_TEST(test_https_sni_is_the_real_host) {
    us_srv s;
    char spec[160];
    us_start(&s, s_close, NULL);
    s.raw = true;
    us_spec(&s, spec, sizeof(spec));
    ak_http *h = s_client(spec, NULL, 1);
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_ERR(AK_E_UPSTREAM, s_get(h, "https://kms.us-east-1.amazonaws.com/", &r));
    pthread_mutex_lock(&s.mu);
    EXPECT_TRUE(s.log_len > 5 && (uint8_t)s.log[0] == 0x16); /* a TLS handshake record */
    EXPECT_TRUE(memmem(s.log, s.log_len, "kms.us-east-1.amazonaws.com", 27) != NULL);
    EXPECT_TRUE(memmem(s.log, s.log_len, "127.0.0.1", 9) == NULL);
    pthread_mutex_unlock(&s.mu);
    ak_http_response_free(&r);
    ak_http_free(h);
    ak_http_global_cleanup();
    us_stop(&s);
}

static long s_kms_denied(void *user, const char *req, long len, char *out, size_t cap) {
    (void)user, (void)req, (void)len;
    static const char body[] = "{\"__type\":\"AccessDeniedException\",\"message\":\"denied\"}";
    int n = snprintf(out, cap,
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     sizeof(body) - 1, body);
    return n > 0 ? n : 0;
}

/* The header `name` of a recorded request, into out. */
static bool s_hdr(const char *req, const char *name, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s: ", name);
    const char *p = strstr(req, pat);
    if (p == NULL) return false;
    p += strlen(pat);
    const char *e = strstr(p, "\r\n");
    if (e == NULL || (size_t)(e - p) >= cap) return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return true;
}

AK_TEST(test_kms_through_connector_signs_real_host) {
    us_srv s;
    char spec[160];
    us_start(&s, s_kms_denied, NULL);
    us_spec(&s, spec, sizeof(spec));
    ak_http *h = s_client(spec, NULL, 1);
    ak_kms kms;
    ak_kms_config kc = {.region = "us-east-1"}; /* default endpoint: https://kms.us-east-1... */
    EXPECT_OK(ak_kms_init(&kms, h, &kc));
    /* plain http to the stand-in, still named as the real endpoint */
    kc.endpoint = "http://kms.us-east-1.amazonaws.com";
    EXPECT_OK(ak_kms_init(&kms, h, &kc));
    ak_sigv4_creds cr = {AK_CUR_LIT("AKIDEXAMPLE"), AK_CUR_LIT("secret-for-tests"), AK_CUR_LIT("tok")};
    ak_kms_decrypt d = {.ciphertext_blob = AK_CUR_LIT("blob"), .attestation_doc = AK_CUR_LIT("doc")};
    ak_buf cms;
    ak_buf_init(&cms, 4096);
    EXPECT_ERR(AK_E_KMS_ACCESS_DENIED, ak_kms_decrypt_for_recipient(&kms, &cr, &d, &cms));
    ak_buf_free(&cms);

    pthread_mutex_lock(&s.mu);
    char host[128], date[32], target[64], ctype[64], auth[512];
    EXPECT_TRUE(s_hdr(s.log, "Host", host, sizeof(host)));
    EXPECT_STR_EQ(host, "kms.us-east-1.amazonaws.com");
    EXPECT_TRUE(s_hdr(s.log, "X-Amz-Date", date, sizeof(date)));
    EXPECT_TRUE(s_hdr(s.log, "X-Amz-Target", target, sizeof(target)));
    EXPECT_TRUE(s_hdr(s.log, "Content-Type", ctype, sizeof(ctype)));
    EXPECT_TRUE(s_hdr(s.log, "Authorization", auth, sizeof(auth)));
    const char *body = strstr(s.log, "\r\n\r\n");
    EXPECT_TRUE(body != NULL);
    body += 4;
    const char *body_end = strstr(body, "\n--\n");
    EXPECT_TRUE(body_end != NULL);
    ak_cur b = ak_cur_from(body, (size_t)(body_end - body));
    /* recompute the signature over what arrived, with Host = the real name */
    char phash[65];
    ak_sigv4_payload_hash(b, phash);
    ak_sigv4_header sh[] = {{AK_CUR_LIT("Content-Type"), ak_cur_from_str(ctype)},
                            {AK_CUR_LIT("Host"), AK_CUR_LIT("kms.us-east-1.amazonaws.com")},
                            {AK_CUR_LIT("X-Amz-Date"), ak_cur_from_str(date)},
                            {AK_CUR_LIT("X-Amz-Target"), ak_cur_from_str(target)},
                            {AK_CUR_LIT("X-Amz-Security-Token"), AK_CUR_LIT("tok")}};
    ak_sigv4_request sreq = {.method = AK_CUR_LIT("POST"),
                             .path = AK_CUR_LIT("/"),
                             .headers = sh,
                             .n_headers = 5,
                             .payload_hash = ak_cur_from_str(phash)};
    ak_sigv4_scope scope = {ak_cur_from_str(date), AK_CUR_LIT("us-east-1"), AK_CUR_LIT("kms")};
    ak_sigv4_result sr;
    ak_sigv4_result_init(&sr);
    EXPECT_OK(ak_sigv4_sign(&sreq, &cr, &scope, &sr));
    EXPECT_STR_EQ(ak_buf_cstr(&sr.authorization), auth);
    ak_sigv4_result_free(&sr);
    pthread_mutex_unlock(&s.mu);
    ak_http_free(h);
    us_stop(&s);
}

AK_TEST(test_kms_connector_refused_keeps_upstream_reason) {
    ak_http *h = s_client("unix:/nonexistent/ak-kms.sock", NULL, 1);
    ak_kms kms;
    ak_kms_config kc = {.region = "us-east-1"};
    EXPECT_OK(ak_kms_init(&kms, h, &kc));
    ak_sigv4_creds cr = {AK_CUR_LIT("AKIDEXAMPLE"), AK_CUR_LIT("secret-for-tests"), {0}};
    ak_kms_decrypt d = {.ciphertext_blob = AK_CUR_LIT("blob"), .attestation_doc = AK_CUR_LIT("doc")};
    ak_buf cms;
    ak_buf_init(&cms, 4096);
    EXPECT_ERR(AK_E_UPSTREAM, ak_kms_decrypt_for_recipient(&kms, &cr, &d, &cms));
    ak_buf_free(&cms);
    ak_http_free(h);
}

static bool connector_test_any(void *u, const struct sockaddr *sa, unsigned len) {
    (void)u, (void)sa, (void)len;
    return true;
}

AK_TEST(test_sock_check_with_socket_connector_refused) {
    ak_http *h = NULL;
    ak_http_config cfg = {.connect_to = "vsock:3:8000", .sock_check = NULL};
    EXPECT_OK(ak_http_new(&cfg, &h));
    ak_http_free(h);
    h = NULL;
    cfg.sock_check = connector_test_any;
    EXPECT_ERR(AK_E_CONFIG, ak_http_new(&cfg, &h));
    cfg.connect_to = "127.0.0.1:8000"; /* TCP: the check still applies to curl's own connect */
    EXPECT_OK(ak_http_new(&cfg, &h));
    ak_http_free(h);
}

AK_RUN_TESTS(AK_T(test_parse_good), AK_T(test_parse_bad), AK_T(test_vsock_connect_fails_cleanly),
             AK_T(test_http_over_unix_connector), AK_T(test_parsed_connector),
             AK_T(test_failures_have_reasons), AK_T(test_https_sni_is_the_real_host),
             AK_T(test_kms_through_connector_signs_real_host),
             AK_T(test_kms_connector_refused_keeps_upstream_reason),
             AK_T(test_sock_check_with_socket_connector_refused))
