/*
 * signer_epochs_test.c — the signer's evm: epoch source through a connector (issue 18:
 * `--chain-connect vsock:3:8004`), proven with the unix: connector (vsock's code path in ak_http)
 * against a JSON-RPC stand-in thread: the eth_call reaches it with Host = the URL's host and the
 * epoch is read; a connector that cannot connect is chain_rpc_error; a bad connector spec, or one
 * given with a file: source, is config_error.
 */
#include "test.h"

#include "../../enclave/src/epochs.c"
#include "unix_standin.h"

static long s_rpc(void *user, const char *req, long len, char *out, size_t cap) {
    (void)user, (void)len;
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
                               "\"0x0000000000000000000000000000000000000000000000000000000000000007\"}";
    if (strstr(req, "\"method\":\"eth_call\"") == NULL || strstr(req, "\"data\":\"0x76671808\"") == NULL)
        return 0;
    int n = snprintf(out, cap,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof(body) - 1, body);
    return n > 0 ? n : 0;
}

#define S_SRC "evm:http://rpc.chain.example:8545/v1#0x00000000000000000000000000000000000000e1"

AK_TEST(test_evm_through_connector) {
    us_srv s;
    char spec[160];
    us_start(&s, s_rpc, NULL);
    us_spec(&s, spec, sizeof(spec));
    aks_epochs *e = NULL;
    EXPECT_OK(aks_epochs_open_via(S_SRC, 1000, spec, &e));
    uint64_t v = 0;
    EXPECT_OK(aks_epochs_current(e, true, &v));
    EXPECT_INT_EQ(v, 7);
    pthread_mutex_lock(&s.mu);
    EXPECT_TRUE(strstr(s.log, "POST /v1 HTTP/1.1\r\n") == s.log);
    EXPECT_TRUE(strstr(s.log, "\r\nHost: rpc.chain.example:8545\r\n") != NULL);
    pthread_mutex_unlock(&s.mu);
    aks_epochs_free(e);
    us_stop(&s);
}

AK_TEST(test_failures) {
    aks_epochs *e = NULL;
    uint64_t v = 0;
    EXPECT_OK(aks_epochs_open_via(S_SRC, 1000, "unix:/nonexistent/ak-rpc.sock", &e));
    EXPECT_ERR(AK_E_CHAIN_RPC, aks_epochs_current(e, true, &v));
    aks_epochs_free(e);
    EXPECT_OK(aks_epochs_open_via(S_SRC, 1000, "vsock:3:8004", &e)); /* no vsock here: a clean failure */
    EXPECT_ERR(AK_E_CHAIN_RPC, aks_epochs_current(e, true, &v));
    aks_epochs_free(e);
    e = NULL;
    EXPECT_ERR(AK_E_CONFIG, aks_epochs_open_via(S_SRC, 1000, "vsock:3:", &e));
    EXPECT_ERR(AK_E_CONFIG, aks_epochs_open_via(S_SRC, 1000, "vsock:3:8004:1", &e));
    EXPECT_ERR(AK_E_CONFIG, aks_epochs_open_via("file:/tmp/epoch", 1000, "vsock:3:8004", &e));
    EXPECT_TRUE(e == NULL);
    EXPECT_OK(aks_epochs_open_via("file:/tmp/epoch", 1000, NULL, &e)); /* no connector: as before */
    aks_epochs_free(e);
}

AK_RUN_TESTS(AK_T(test_evm_through_connector), AK_T(test_failures))
