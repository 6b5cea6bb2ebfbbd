/* signer_client_test.c — the signer client's configuration and failure modes (ak/signer.h).
 * The happy paths over real mTLS (attestation, derive, sign) are in tests/e2e/signer_test.sh. */
#include "test.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ak/signer.h"

static char g_dir[64];

static void s_pki(void) {
    char cmd[1024];
    snprintf(g_dir, sizeof(g_dir), "/tmp/aks_client_test.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(
        cmd, sizeof(cmd),
        "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null && "
        "openssl req -new -x509 -key ca.key -out ca.crt -days 2 -subj /CN=ca "
        "-addext basicConstraints=critical,CA:TRUE 2>/dev/null && "
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out c.key 2>/dev/null && "
        "openssl req -new -key c.key -subj /CN=broker -out c.csr 2>/dev/null && "
        "openssl x509 -req -in c.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out c.crt 2>/dev/null "
        "&& "
        "openssl pkey -in ca.key -pubout -out attest.pub 2>/dev/null",
        g_dir);
    assert_int_equal(system(cmd), 0);
}

static void s_rm(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

static char g_paths[4][128];
static const char *g_m96 = "000000000000000000000000000000000000000000000000"
                           "000000000000000000000000000000000000000000000000";

static ak_signer_config s_cfg(const char *url) {
    snprintf(g_paths[0], sizeof(g_paths[0]), "%s/ca.crt", g_dir);
    snprintf(g_paths[1], sizeof(g_paths[1]), "%s/c.crt", g_dir);
    snprintf(g_paths[2], sizeof(g_paths[2]), "%s/c.key", g_dir);
    snprintf(g_paths[3], sizeof(g_paths[3]), "%s/attest.pub", g_dir);
    ak_signer_config c = {url, NULL, g_paths[0], g_paths[1], g_paths[2], g_paths[3], g_m96, 500, 0};
    return c;
}

AK_TEST(test_config_errors) {
    ak_signer *s = NULL;
    s_pki();
    ak_signer_config c = s_cfg("https://127.0.0.1:1");
    EXPECT_OK(ak_signer_new(&c, &s));
    ak_signer_free(s);
    static const char *const bad_urls[] = {"http://127.0.0.1:1", "https://127.0.0.1", "https://:1",
                                           "https://h:0",        "https://h:65536",   "https://[::1",
                                           "127.0.0.1:1"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        c = s_cfg(bad_urls[i]);
        EXPECT_ERR(AK_E_CONFIG, ak_signer_new(&c, &s));
    }
    c = s_cfg("https://[::1]:7443/");
    EXPECT_OK(ak_signer_new(&c, &s));
    ak_signer_free(s);
    c = s_cfg("https://signer.example:7443");
    c.measurement_hex = "abc";
    EXPECT_ERR(AK_E_CONFIG, ak_signer_new(&c, &s));
    c = s_cfg("https://signer.example:7443");
    c.attest_pub = "/nonexistent";
    EXPECT_ERR(AK_E_CONFIG, ak_signer_new(&c, &s));
    /* issue 18: nitro mode pins PCR0 (and optionally the root) instead of the key */
    static const char pcr0[] =
        "101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010";
    c = s_cfg("https://signer.example:7443");
    c.attestation = "nitro";
    c.attest_pub = NULL;
    c.measurement_hex = NULL;
    EXPECT_ERR(AK_E_CONFIG, ak_signer_new(&c, &s)); /* no PCR0 */
    c.pcr_hex[0] = pcr0;
    EXPECT_OK(ak_signer_new(&c, &s));
    ak_signer_free(s);
    c.nitro_root = g_paths[2]; /* a key is not a root certificate */
    EXPECT_ERR(AK_E_CONFIG, ak_signer_new(&c, &s));
    c.nitro_root = g_paths[0];
    EXPECT_OK(ak_signer_new(&c, &s));
    ak_signer_free(s);
    c.attestation = "sev";
    EXPECT_ERR(AK_E_CONFIG, ak_signer_new(&c, &s));
    c = s_cfg("https://signer.example:7443");
    c.key_path = g_paths[1]; /* a certificate is not a key */
    EXPECT_ERR(AK_E_BAD_KEY, ak_signer_new(&c, &s));
    c = s_cfg("https://signer.example:7443");
    c.ca_pem_path = g_paths[2]; /* a key is not a CA */
    EXPECT_ERR(AK_E_BAD_KEY, ak_signer_new(&c, &s));
    s_rm();
}

AK_TEST(test_env_config_requires_everything) {
    ak_signer_config c;
    unsetenv("AK_SIGNER_URL");
    EXPECT_ERR(AK_E_CONFIG, ak_signer_config_from_env(&c));
    setenv("AK_SIGNER_URL", "https://127.0.0.1:1", 1);
    setenv("AK_SIGNER_CA_PEM", "x", 1);
    setenv("AK_SIGNER_CLIENT_CERT", "x", 1);
    setenv("AK_SIGNER_CLIENT_KEY", "x", 1);
    setenv("AK_SIGNER_ATTEST_PUB", "x", 1);
    EXPECT_ERR(AK_E_CONFIG, ak_signer_config_from_env(&c));
    setenv("AK_SIGNER_MEASUREMENT", "x", 1);
    setenv("AK_SIGNER_TIMEOUT_MS", "1234", 1);
    EXPECT_OK(ak_signer_config_from_env(&c));
    EXPECT_INT_EQ(c.timeout_ms, 1234);
    /* nitro mode: PCR0 is what must be there; the local key is not needed */
    setenv("AK_SIGNER_ATTESTATION", "nitro", 1);
    EXPECT_ERR(AK_E_CONFIG, ak_signer_config_from_env(&c));
    unsetenv("AK_SIGNER_ATTEST_PUB");
    unsetenv("AK_SIGNER_MEASUREMENT");
    setenv("AK_SIGNER_PCR0", "x", 1);
    setenv("AK_SIGNER_PCR8", "y", 1);
    setenv("AK_SIGNER_NITRO_ROOT", "/r.pem", 1);
    EXPECT_OK(ak_signer_config_from_env(&c));
    EXPECT_STR_EQ(c.attestation, "nitro");
    EXPECT_STR_EQ(c.pcr_hex[0], "x");
    EXPECT_TRUE(c.pcr_hex[1] == NULL && c.pcr_hex[2] == NULL);
    EXPECT_STR_EQ(c.pcr_hex[3], "y");
    EXPECT_STR_EQ(c.nitro_root, "/r.pem");
    unsetenv("AK_SIGNER_ATTESTATION");
    unsetenv("AK_SIGNER_PCR0");
    unsetenv("AK_SIGNER_PCR8");
    unsetenv("AK_SIGNER_NITRO_ROOT");
    EXPECT_ERR(AK_E_CONFIG, ak_signer_config_from_env(&c)); /* local again: key and measurement */
}

AK_TEST(test_unreachable_and_non_tls_signer) {
    ak_signer *s = NULL;
    uint8_t op[32] = {0}, kek[32];
    s_pki();
    /* Nothing listens: signer_unavailable, no KEK. */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(probe, (struct sockaddr *)&a, len), 0);
    assert_int_equal(getsockname(probe, (struct sockaddr *)&a, &len), 0);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    close(probe);
    ak_signer_config c = s_cfg(url);
    EXPECT_OK(ak_signer_new(&c, &s));
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE,
               ak_signer_derive_kek(s, "credentials", "fetch", AK_CUR_LIT("a.b.c"), op, op, 1, kek));
    EXPECT_INT_EQ(ak_signer_connects(s), 0);
    /* A cap that is not compact-JWS text never leaves (it would need JSON escaping). */
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_signer_derive_kek(s, "credentials", "fetch",
                                                        AK_CUR_LIT("a.b\",\"x\":\"c"), op, op, 1, kek));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_signer_derive_kek(s, "credentials", "fetch", AK_CUR_LIT(""), op, op, 1, kek));
    /* The split derive (issue 19): a send that cannot connect leaves nothing pending; a receive
     * with nothing sent is refused; an abort with nothing pending does nothing. */
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE,
               ak_signer_derive_kek_send(s, "credentials", "fetch", AK_CUR_LIT("a.b.c"), op, op, 1));
    EXPECT_FALSE(ak_signer_derive_pending(s));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_signer_derive_kek_send(s, "credentials", "fetch", AK_CUR_LIT("a\"b"), op, op, 1));
    EXPECT_FALSE(ak_signer_derive_pending(s));
    EXPECT_ERR(AK_E_INTERNAL, ak_signer_derive_kek_recv(s, kek));
    ak_signer_derive_kek_abort(s);
    EXPECT_FALSE(ak_signer_derive_pending(s));
    EXPECT_INT_EQ(ak_signer_resumes(s), 0);
    ak_signer_free(s);
    /* Something listens but never speaks TLS: the handshake times out, still unavailable. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = 0;
    len = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, len), 0);
    assert_int_equal(listen(l, 4), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    c = s_cfg(url);
    c.timeout_ms = 200;
    EXPECT_OK(ak_signer_new(&c, &s));
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE, ak_signer_attest(s));
    ak_signer_free(s);
    close(l);
    s_rm();
}

AK_RUN_TESTS(AK_T(test_config_errors), AK_T(test_env_config_requires_everything),
             AK_T(test_unreachable_and_non_tls_signer))
