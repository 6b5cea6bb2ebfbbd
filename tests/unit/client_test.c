/*
 * client_test — ak/client.h against a fake API on loopback: SIWE login (the fake recovers the
 * signer of the exact message), the session cache across client instances, renewal near expiry
 * and after a 401, caps with a PoP the fake verifies (ak_cap_pop_verify) and their cache, a
 * cached cap refused as stale (re-minted once), STS credentials and the X-Aws-* headers on the
 * worker calls, and the unhappy paths: revoked device, a SIWE message for another wallet (never
 * signed), a key callback that fails, an unreachable API, a corrupt cache.
 *
 * The fake serves one connection at a time in its own thread and frees whatever it allocated
 * before it answers, so the leak check of the test thread sees a quiet allocator.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ak/cap.h"
#include "ak/client.h"
#include "ak/crypto.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/siwe.h"
#include "test.h"

#define T_NOW 1800000000ull

/* ---------------------------------------------------------------- the fake API */

typedef struct {
    int lfd, port;
    atomic_int stop;
    pthread_t th;
    /* counters */
    atomic_int starts, verifies, mints, sts, puts, gets;
    /* behaviour */
    int min_jwt;               /* JWTs numbered below this are refused 401 unauthorized */
    int jwt_next;              /* next JWT number */
    uint64_t session_exp;      /* expires_at in verify answers */
    const char *verify_reason; /* refuse verify with 403 and this reason */
    bool wrong_address;        /* start answers a message for another wallet */
    int stale_caps_below;      /* worker refuses caps numbered below this: cap_freshness_failed */
    const char *stale_reason;  /* ... with this reason instead (NULL: cap_freshness_failed) */
    int cap_next;
    bool missing_sts_headers_ok;
    char pending_addr[43];
    char stored[4096]; /* the one stored value, base64 */
    bool have_stored;
    char last_aws_key[64];
    /* use (D19) */
    atomic_int uses;
    const char *use_reason; /* refuse /v1/cred/use with 403 and this reason */
    char last_actor[80];    /* actor_omni of the last cap mint */
    char last_body[8192];   /* the last worker request body */
} s_fake;

static s_fake g_f;
static uint64_t g_now = T_NOW;
static uint64_t s_clock(void) { return g_now; }

static void s_send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static long s_read_request(int fd, char *buf, size_t cap) {
    size_t len = 0, want = 0;
    long head_end = -1;
    for (;;) {
        if (len + 1 >= cap) return -1;
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0) return -1;
        len += (size_t)r;
        buf[len] = '\0';
        if (head_end < 0) {
            char *e = strstr(buf, "\r\n\r\n");
            if (!e) continue;
            head_end = e - buf + 4;
            char *cl = strcasestr(buf, "content-length:");
            want = cl && cl < e ? strtoul(cl + 15, NULL, 10) : 0;
        }
        if (len >= (size_t)head_end + want) return (long)len;
    }
}

/* Copies the JSON string member `name` of a flat object (no escapes in our fields). */
static bool s_field(const char *body, const char *name, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = strstr(body, pat);
    if (!p) return false;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= cap) return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return true;
}

static bool s_header(const char *req, const char *name, char *out, size_t cap) {
    char pat[80];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strcasestr(req, pat);
    if (!p) return false;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    const char *e = strstr(p, "\r\n");
    if (!e || (size_t)(e - p) >= cap) return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return true;
}

static int s_jwt_ok(const char *req) {
    char auth[128];
    if (!s_header(req, "authorization", auth, sizeof auth) || strncmp(auth, "Bearer jwt-", 11) != 0) return 0;
    int n = (int)strtol(auth + 11, NULL, 10);
    return n >= g_f.min_jwt ? 1 : 0;
}

static char g_out[16384];
static int s_answer(int status, const char *body) {
    snprintf(g_out, sizeof g_out, "%d\n%s", status, body);
    return status;
}
static int s_err(int status, const char *reason) {
    char b[128];
    snprintf(b, sizeof b, "{\"error\":\"x\",\"reason\":\"%s\"}", reason);
    return s_answer(status, b);
}

static const char *OMNI_OP = "1111111111111111111111111111111111111111111111111111111111111111";

static void s_handle(const char *req, const char *body) {
    char path[128] = "";
    const char *sp = strchr(req, ' ');
    if (sp) {
        size_t n = strcspn(sp + 1, " \r\n");
        if (n < sizeof path) {
            memcpy(path, sp + 1, n);
            path[n] = '\0';
        }
    }
    char tmp[8192];
    if (strcmp(path, "/v1/auth/wallet/start") == 0) {
        g_f.starts++;
        if (!s_field(body, "address", g_f.pending_addr, sizeof g_f.pending_addr)) {
            s_err(400, "invalid_address");
            return;
        }
        /* The real /start writes the EIP-55 form whatever case the client sent (EIP-4361). */
        uint8_t raw[20];
        char a[43];
        if (ak_eth_address_parse(ak_cur_from_str(g_f.wrong_address
                                                     ? "0x000000000000000000000000000000000000dead"
                                                     : g_f.pending_addr),
                                 raw) != AK_OK) {
            s_err(400, "invalid_address");
            return;
        }
        ak_eth_address_eip55(raw, a);
        snprintf(
            tmp, sizeof tmp,
            "{\"request_id\":\"siwe-1\",\"siwe_message\":\"localhost wants you to sign in with your Ethereum "
            "account:\\n%s\\n\\nAuthenticate with AgentKeys broker.\\n\\nURI: http://localhost\\nVersion: "
            "1\\nChain ID: 31337\\nNonce: 0123456789abcdef\\nIssued At: 2027-01-15T08:00:00Z\"}",
            a);
        s_answer(200, tmp);
        return;
    }
    if (strcmp(path, "/v1/auth/wallet/verify") == 0) {
        g_f.verifies++;
        if (g_f.verify_reason) {
            s_err(403, g_f.verify_reason);
            return;
        }
        char sig[200], msg[1024];
        if (!s_field(body, "signature", sig, sizeof sig)) {
            s_err(400, "invalid_input");
            return;
        }
        uint8_t praw[20];
        char pa[43];
        if (ak_eth_address_parse(ak_cur_from_str(g_f.pending_addr), praw) != AK_OK) {
            s_err(400, "invalid_address");
            return;
        }
        ak_eth_address_eip55(praw, pa);
        snprintf(
            msg, sizeof msg,
            "localhost wants you to sign in with your Ethereum account:\n%s\n\nAuthenticate with AgentKeys "
            "broker.\n\nURI: http://localhost\nVersion: 1\nChain ID: 31337\nNonce: 0123456789abcdef\nIssued "
            "At: "
            "2027-01-15T08:00:00Z",
            pa);
        uint8_t addr[20], want[20];
        if (ak_siwe_recover(ak_cur_from_str(msg), ak_cur_from_str(sig), addr) != AK_OK ||
            ak_eth_address_parse(ak_cur_from_str(g_f.pending_addr), want) != AK_OK ||
            memcmp(addr, want, 20) != 0) {
            s_err(401, "siwe_signature_invalid");
            return;
        }
        ak_omni omni;
        char omni_hex[65], dkh_hex[67];
        uint8_t dkh[32];
        ak_omni_from_address(addr, &omni);
        ak_omni_hex(&omni, omni_hex);
        ak_device_key_hash(addr, dkh);
        ak_hash32_hex0x(dkh, dkh_hex);
        snprintf(tmp, sizeof tmp,
                 "{\"session_jwt\":\"jwt-%d\",\"expires_at\":%llu,\"omni_account\":\"%s\",\"operator_omni\":"
                 "\"0x%s\","
                 "\"session_kind\":\"agent\",\"device_key_hash\":\"%s\",\"wallet_address\":\"%s\"}",
                 g_f.jwt_next++, (unsigned long long)g_f.session_exp, omni_hex, OMNI_OP, dkh_hex,
                 g_f.pending_addr);
        s_answer(200, tmp);
        return;
    }
    if (strncmp(path, "/v1/cap/", 8) == 0) {
        g_f.mints++;
        if (!s_jwt_ok(req)) {
            s_err(401, "unauthorized");
            return;
        }
        /* verify the PoP as the broker would */
        char op[80], actor[80], svc[80], dkh[80], sig[200], nonce[80];
        if (!s_field(body, "operator_omni", op, sizeof op) ||
            !s_field(body, "actor_omni", actor, sizeof actor) || !s_field(body, "service", svc, sizeof svc) ||
            !s_field(body, "device_key_hash", dkh, sizeof dkh) ||
            !s_field(body, "client_sig", sig, sizeof sig) ||
            !s_field(body, "client_nonce", nonce, sizeof nonce)) {
            s_err(400, "missing_field");
            return;
        }
        const char *ts = strstr(body, "\"client_ts\":");
        ak_cap_pop_msg m = {.service = ak_cur_from_str(svc),
                            .client_nonce = ak_cur_from_str(nonce),
                            .client_ts = ts ? strtoull(ts + 12, NULL, 10) : 0};
        const char *route = path + 8;
        m.data_class = strncmp(route, "cred", 4) == 0 ? AK_CLASS_CREDENTIALS : AK_CLASS_MEMORY;
        m.op = strstr(route, "store") || strstr(route, "put")   ? AK_OP_STORE
               : strstr(route, "fetch") || strstr(route, "get") ? AK_OP_FETCH
               : strcmp(route, "cred-use") == 0                 ? AK_OP_USE
                                                                : AK_OP_TEARDOWN;
        snprintf(g_f.last_actor, sizeof g_f.last_actor, "%s", actor);
        uint8_t sig65[65], dkh32[32];
        if (strcmp(op, OMNI_OP) != 0 || ak_omni_parse(ak_cur_from_str(op), &m.operator_omni) != AK_OK ||
            ak_omni_parse(ak_cur_from_str(actor), &m.actor_omni) != AK_OK ||
            ak_hex_decode_exact(ak_cur_from_str(sig), true, sig65, 65) != AK_OK ||
            ak_hash32_parse(ak_cur_from_str(dkh), dkh32) != AK_OK ||
            ak_cap_pop_verify(&m, sig65, dkh32, g_now) != AK_OK) {
            s_err(403, "cap_pop_invalid");
            return;
        }
        snprintf(tmp, sizeof tmp, "{\"cap\":\"cap-%d\",\"expires_at\":%llu}", g_f.cap_next++,
                 (unsigned long long)(g_now + 300));
        s_answer(200, tmp);
        return;
    }
    if (strcmp(path, "/v1/mint-aws-creds") == 0) {
        g_f.sts++;
        if (!s_jwt_ok(req)) {
            s_err(401, "unauthorized");
            return;
        }
        snprintf(tmp, sizeof tmp,
                 "{\"access_key_id\":\"AKIA%d\",\"secret_access_key\":\"sk\",\"session_token\":\"tok\","
                 "\"expiration\":%llu,\"expiration_iso\":\"x\"}",
                 (int)g_f.sts, (unsigned long long)(g_now + 3600));
        s_answer(200, tmp);
        return;
    }
    if (strncmp(path, "/v1/cred/", 9) == 0 || strncmp(path, "/v1/memory/", 11) == 0) {
        char k[64], s[64], t[64], cap[64];
        bool h = s_header(req, "x-aws-access-key-id", k, sizeof k) &&
                 s_header(req, "x-aws-secret-access-key", s, sizeof s) &&
                 s_header(req, "x-aws-session-token", t, sizeof t);
        if (!h) {
            s_err(401, "sts_headers_missing");
            return;
        }
        snprintf(g_f.last_aws_key, sizeof g_f.last_aws_key, "%s", k);
        if (!s_field(body, "cap", cap, sizeof cap) || strncmp(cap, "cap-", 4) != 0) {
            s_err(403, "broker_sig_invalid");
            return;
        }
        if ((int)strtol(cap + 4, NULL, 10) < g_f.stale_caps_below) {
            s_err(403, g_f.stale_reason ? g_f.stale_reason : "cap_freshness_failed");
            return;
        }
        snprintf(g_f.last_body, sizeof g_f.last_body, "%s", body);
        if (strcmp(path, "/v1/cred/use") == 0) {
            g_f.uses++;
            if (g_f.use_reason) {
                s_err(403, g_f.use_reason);
                return;
            }
            /* {"ok","status","headers","body_b64" = base64("answer"),"redactions"} */
            s_answer(200, "{\"ok\":true,\"status\":201,\"headers\":[[\"content-type\",\"text/plain\"]],"
                          "\"body_b64\":\"YW5zd2Vy\",\"redactions\":2}");
            return;
        }
        if (strstr(path, "store") || strstr(path, "put")) {
            g_f.puts++;
            if (!s_field(body, "plaintext_b64", g_f.stored, sizeof g_f.stored)) {
                s_err(400, "missing_field");
                return;
            }
            g_f.have_stored = true;
            s_answer(200, "{\"ok\":true}");
        } else if (strstr(path, "fetch") || strstr(path, "get")) {
            g_f.gets++;
            if (!g_f.have_stored) {
                s_err(404, "not_found");
                return;
            }
            snprintf(tmp, sizeof tmp, "{\"ok\":true,\"plaintext_b64\":\"%s\"}", g_f.stored);
            s_answer(200, tmp);
        } else {
            g_f.have_stored = false;
            s_answer(200, "{\"ok\":true,\"keys_deleted\":1,\"failed\":[]}");
        }
        return;
    }
    s_err(404, "route_not_found");
}

static void *s_serve(void *arg) {
    (void)arg;
    static char req[65536];
    while (!atomic_load(&g_f.stop)) {
        struct pollfd p = {.fd = g_f.lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(g_f.lfd, NULL, NULL);
        if (fd < 0) continue;
        long n = s_read_request(fd, req, sizeof req);
        if (n > 0) {
            const char *body = strstr(req, "\r\n\r\n") + 4;
            s_handle(req, body);
            /* g_out = "<status>\n<body>" */
            char *nl = strchr(g_out, '\n');
            *nl = '\0';
            char head[256];
            int hl = snprintf(head, sizeof head,
                              "HTTP/1.1 %s OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n",
                              g_out, strlen(nl + 1));
            s_send_all(fd, head, (size_t)hl);
            s_send_all(fd, nl + 1, strlen(nl + 1));
        }
        close(fd);
    }
    return NULL;
}

static void s_fake_start(void) {
    memset(&g_f, 0, sizeof g_f);
    g_now = T_NOW;
    g_f.session_exp = T_NOW + 3600;
    g_f.jwt_next = 1;
    g_f.cap_next = 1;
    g_f.lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(g_f.lfd >= 0);
    int one = 1;
    setsockopt(g_f.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(g_f.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(g_f.lfd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(g_f.lfd, (struct sockaddr *)&a, &al);
    g_f.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&g_f.th, NULL, s_serve, NULL), 0);
}

static void s_fake_stop(void) {
    atomic_store(&g_f.stop, 1);
    pthread_join(g_f.th, NULL);
    close(g_f.lfd);
}

/* ---------------------------------------------------------------- client set-up */

static const uint8_t KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static int g_key_calls;
static ak_err g_key_err;
static ak_err s_key(void *ud, uint8_t key[32]) {
    (void)ud;
    g_key_calls++;
    if (g_key_err != AK_OK) return g_key_err;
    memcpy(key, KEY, 32);
    return AK_OK;
}

static char g_url[64], g_cache[256];

static ak_client *s_client(const char *cache) {
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d/", g_f.port);
    ak_client_config cfg = {
        .api_url = g_url, .chain_id = 31337, .cache_path = cache, .get_key = s_key, .now = s_clock};
    ak_client *cl = NULL;
    EXPECT_OK(ak_client_new(&cfg, &cl));
    return cl;
}

static void s_cache_path(void) {
    snprintf(g_cache, sizeof g_cache, "/tmp/ak-client-test-%ld/sub/cache.json", (long)getpid());
    unlink(g_cache);
}

/* ---------------------------------------------------------------- tests */

AK_TEST(test_login_cache_across_instances) {
    s_fake_start();
    s_cache_path();
    g_key_calls = 0;
    g_key_err = AK_OK;
    ak_client *cl = s_client(g_cache);
    ak_client_session s;
    ak_client_session_info(cl, &s);
    EXPECT_FALSE(s.valid);
    EXPECT_OK(ak_client_login(cl, false));
    EXPECT_INT_EQ(g_f.verifies, 1);
    ak_client_session_info(cl, &s);
    EXPECT_TRUE(s.valid);
    EXPECT_STR_EQ(s.kind, "agent");
    EXPECT_STR_EQ(s.operator_omni, OMNI_OP); /* "0x" dropped, lowercase */
    EXPECT_INT_EQ(strlen(s.omni), 64);
    ak_client_free(cl);
    struct stat st;
    EXPECT_INT_EQ(stat(g_cache, &st), 0);
    EXPECT_INT_EQ(st.st_mode & 0777, 0600);
    /* a second process: the cached session, no key, no login */
    int calls = g_key_calls;
    cl = s_client(g_cache);
    EXPECT_OK(ak_client_login(cl, false));
    EXPECT_INT_EQ(g_key_calls, calls);
    EXPECT_INT_EQ(g_f.verifies, 1);
    /* logout removes the cache */
    EXPECT_OK(ak_client_logout(cl));
    EXPECT_TRUE(stat(g_cache, &st) != 0);
    ak_client_session_info(cl, &s);
    EXPECT_FALSE(s.valid);
    ak_client_free(cl);
    s_fake_stop();
}

AK_TEST(test_put_get_caps_cached) {
    s_fake_start();
    s_cache_path();
    g_key_err = AK_OK;
    ak_client *cl = s_client(g_cache);
    ak_buf v;
    ak_buf_init_secret(&v, 4096);
    EXPECT_ERR(AK_E_NOT_FOUND, ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), &v));
    EXPECT_STR_EQ(ak_client_last_reason(cl), "not_found");
    EXPECT_INT_EQ(ak_client_last_status(cl), 404);
    EXPECT_OK(ak_client_put(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), AK_CUR_LIT("sk-or-secret")));
    EXPECT_OK(ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), &v));
    EXPECT_BYTES_EQ(v.ptr, v.len, "sk-or-secret", 12);
    EXPECT_STR_EQ(g_f.last_aws_key, "AKIA1"); /* the X-Aws-* headers of the minted credentials */
    /* fetch cap and STS credentials came from the cache the second time */
    EXPECT_INT_EQ(g_f.mints, 2);
    EXPECT_INT_EQ(g_f.sts, 1);
    ak_client_free(cl);
    /* and from the cache file in a new instance */
    cl = s_client(g_cache);
    ak_buf_clear(&v);
    EXPECT_OK(ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), &v));
    EXPECT_INT_EQ(g_f.mints, 2);
    EXPECT_INT_EQ(g_f.sts, 1);
    /* past the cap's expiry: a new mint */
    g_now += 300;
    ak_buf_clear(&v);
    EXPECT_OK(ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), &v));
    EXPECT_INT_EQ(g_f.mints, 3);
    /* bad names never leave the client */
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("Open Router"), &v));
    EXPECT_ERR(AK_E_INVALID_NAMESPACE,
               ak_client_put(cl, AK_CLASS_MEMORY, AK_CUR_LIT("../x"), AK_CUR_LIT("v")));
    EXPECT_INT_EQ(g_f.mints, 3);
    /* teardown */
    uint64_t deleted = 0;
    EXPECT_OK(ak_client_teardown(cl, AK_CLASS_CREDENTIALS, NULL, &deleted));
    EXPECT_INT_EQ(deleted, 1);
    ak_buf_free(&v);
    ak_client_free(cl);
    unlink(g_cache);
    s_fake_stop();
}

AK_TEST(test_session_renewed_near_expiry_and_after_401) {
    s_fake_start();
    s_cache_path();
    g_key_err = AK_OK;
    ak_client *cl = s_client(g_cache);
    EXPECT_OK(ak_client_login(cl, false));
    EXPECT_INT_EQ(g_f.verifies, 1);
    /* near expiry: renewed before use */
    g_now = g_f.session_exp - 10;
    g_f.session_exp = g_now + 3600;
    ak_buf cap;
    ak_buf_init_secret(&cap, 4096);
    EXPECT_OK(ak_client_cap(cl, AK_OP_FETCH, AK_CLASS_MEMORY, AK_CUR_LIT("notes"), NULL, &cap));
    EXPECT_INT_EQ(g_f.verifies, 2);
    /* the server no longer takes the session (401 unauthorized): one fresh login, then the call */
    g_f.min_jwt = 3;
    ak_buf_clear(&cap);
    EXPECT_OK(ak_client_cap(cl, AK_OP_STORE, AK_CLASS_MEMORY, AK_CUR_LIT("notes"), NULL, &cap));
    EXPECT_INT_EQ(g_f.verifies, 3);
    EXPECT_BYTES_EQ(cap.ptr, cap.len, "cap-2", 5);
    /* a refusal that persists is returned, not looped on */
    g_f.min_jwt = 1000;
    ak_buf_clear(&cap);
    EXPECT_ERR(AK_E_UNAUTHORIZED,
               ak_client_cap(cl, AK_OP_STORE, AK_CLASS_CREDENTIALS, AK_CUR_LIT("x"), NULL, &cap));
    EXPECT_INT_EQ(g_f.verifies, 4);
    ak_buf_free(&cap);
    ak_client_free(cl);
    unlink(g_cache);
    s_fake_stop();
}

AK_TEST(test_stale_cached_cap_reminted_once) {
    s_fake_start();
    g_key_err = AK_OK;
    ak_client *cl = s_client(NULL);
    ak_buf v;
    ak_buf_init_secret(&v, 4096);
    EXPECT_OK(ak_client_put(cl, AK_CLASS_MEMORY, AK_CUR_LIT("notes"), AK_CUR_LIT("hello")));
    EXPECT_OK(ak_client_get(cl, AK_CLASS_MEMORY, AK_CUR_LIT("notes"), &v)); /* cap-2 cached */
    g_f.stale_caps_below = 3;                                               /* the worker refuses cap-2 now */
    ak_buf_clear(&v);
    EXPECT_OK(ak_client_get(cl, AK_CLASS_MEMORY, AK_CUR_LIT("notes"), &v));
    EXPECT_BYTES_EQ(v.ptr, v.len, "hello", 5);
    EXPECT_INT_EQ(g_f.mints, 3);
    /* a fresh cap refused too: the error comes back after one retry only */
    g_f.stale_caps_below = 1000;
    ak_buf_clear(&v);
    EXPECT_ERR(AK_E_CAP_EXPIRED, ak_client_get(cl, AK_CLASS_MEMORY, AK_CUR_LIT("notes"), &v));
    EXPECT_INT_EQ(g_f.mints, 4);
    EXPECT_INT_EQ(v.len, 0);
    ak_buf_free(&v);
    ak_client_free(cl);
    s_fake_stop();
}

/* Issue 16: after an epoch rotation every cached cap is refused with k3_epoch_mismatch; the
 * retry mints a new cap but keeps the cached STS credentials (no burst of STS mints), while a
 * refusal of the credentials (access_denied) still renews them. */
AK_TEST(test_epoch_refusal_renews_cap_only) {
    s_fake_start();
    g_key_err = AK_OK;
    ak_client *cl = s_client(NULL);
    ak_buf v;
    ak_buf_init_secret(&v, 4096);
    EXPECT_OK(ak_client_put(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), AK_CUR_LIT("hello")));
    EXPECT_OK(ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), &v));
    int sts0 = g_f.sts, mints0 = g_f.mints;
    EXPECT_INT_EQ(sts0, 1);
    g_f.stale_reason = "k3_epoch_mismatch";
    g_f.stale_caps_below = g_f.cap_next; /* every cap minted so far is of the old epoch */
    ak_buf_clear(&v);
    EXPECT_OK(ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), &v));
    EXPECT_BYTES_EQ(v.ptr, v.len, "hello", 5);
    EXPECT_INT_EQ(g_f.mints, mints0 + 1);
    EXPECT_INT_EQ(g_f.sts, sts0); /* the STS credentials were not minted again */
    /* the credentials refused: the retry renews both */
    g_f.stale_reason = "access_denied";
    g_f.stale_caps_below = g_f.cap_next;
    ak_buf_clear(&v);
    EXPECT_OK(ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), &v));
    EXPECT_INT_EQ(g_f.mints, mints0 + 2);
    EXPECT_INT_EQ(g_f.sts, sts0 + 1);
    /* a refusal that persists comes back after one retry */
    g_f.stale_reason = "k3_epoch_mismatch";
    g_f.stale_caps_below = 1000;
    ak_buf_clear(&v);
    EXPECT_ERR(AK_E_K3_EPOCH_MISMATCH, ak_client_get(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), &v));
    EXPECT_INT_EQ(g_f.mints, mints0 + 3);
    EXPECT_INT_EQ(g_f.sts, sts0 + 1);
    g_f.stale_reason = NULL;
    g_f.stale_caps_below = 0;
    ak_buf_free(&v);
    ak_client_free(cl);
    s_fake_stop();
}

AK_TEST(test_refusals) {
    s_fake_start();
    g_key_err = AK_OK;
    /* revoked device: the server's reason comes back */
    g_f.verify_reason = "device_revoked";
    ak_client *cl = s_client(NULL);
    EXPECT_ERR(AK_E_DEVICE_REVOKED, ak_client_login(cl, false));
    EXPECT_STR_EQ(ak_client_last_reason(cl), "device_revoked");
    EXPECT_INT_EQ(ak_client_last_status(cl), 403);
    ak_client_session s;
    ak_client_session_info(cl, &s);
    EXPECT_FALSE(s.valid);
    /* a message for another wallet is never signed (no verify call) */
    g_f.verify_reason = NULL;
    g_f.wrong_address = true;
    int v = g_f.verifies;
    EXPECT_ERR(AK_E_SIWE_MALFORMED, ak_client_login(cl, false));
    EXPECT_INT_EQ(g_f.verifies, v);
    g_f.wrong_address = false;
    /* the key callback's error passes through */
    g_key_err = AK_E_BAD_KEY;
    EXPECT_ERR(AK_E_BAD_KEY, ak_client_login(cl, false));
    g_key_err = AK_OK;
    /* no S3 configured for list/delete */
    EXPECT_OK(ak_client_login(cl, false));
    EXPECT_ERR(AK_E_CONFIG, ak_client_delete(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_client_mail_get(cl, "inbound", AK_CUR_LIT("../x"), NULL));
    ak_client_free(cl);
    s_fake_stop();
    /* API down */
    cl = s_client(NULL);
    EXPECT_ERR(AK_E_UPSTREAM, ak_client_login(cl, false));
    ak_client_free(cl);
}

AK_TEST(test_corrupt_cache_ignored) {
    s_fake_start();
    s_cache_path();
    g_key_err = AK_OK;
    ak_client *cl = s_client(g_cache);
    EXPECT_OK(ak_client_login(cl, false));
    ak_client_free(cl);
    FILE *f = fopen(g_cache, "w");
    assert_non_null(f);
    fputs("{\"v\":1,\"api_url\":", f);
    fclose(f);
    cl = s_client(g_cache);
    ak_client_session s;
    ak_client_session_info(cl, &s);
    EXPECT_FALSE(s.valid);
    EXPECT_OK(ak_client_login(cl, false));
    EXPECT_INT_EQ(g_f.verifies, 2);
    ak_client_free(cl);
    /* a cache written for another wallet is ignored */
    ak_client_config cw = {.api_url = g_url,
                           .chain_id = 31337,
                           .cache_path = g_cache,
                           .get_key = s_key,
                           .address = "0x000000000000000000000000000000000000dEaD"};
    EXPECT_OK(ak_client_new(&cw, &cl));
    ak_client_session_info(cl, &s);
    EXPECT_FALSE(s.valid);
    ak_client_free(cl);
    /* a cache for another API URL is ignored too */
    ak_client_config cfg = {
        .api_url = "http://127.0.0.1:1", .chain_id = 31337, .cache_path = g_cache, .get_key = s_key};
    EXPECT_OK(ak_client_new(&cfg, &cl));
    ak_client_session_info(cl, &s);
    EXPECT_FALSE(s.valid);
    ak_client_free(cl);
    /* no API URL */
    ak_client_config bad = {.chain_id = 1};
    EXPECT_ERR(AK_E_CONFIG, ak_client_new(&bad, &cl));
    unlink(g_cache);
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/ak-client-test-%ld/sub", (long)getpid());
    rmdir(dir);
    dir[strlen(dir) - 4] = '\0';
    rmdir(dir);
    s_fake_stop();
}

AK_TEST(test_put_with_policy_and_for_actor) {
    s_fake_start();
    g_key_err = AK_OK;
    ak_client *cl = s_client(NULL);
    /* written with spaces and out of order: sent canonical (docs/spec/use-policy.md §2) */
    ak_client_put_opts o = {
        .policy_json = AK_CUR_LIT("{ \"inject\": {\"header\":\"Authorization\",\"template\":\"Bearer {}\"},"
                                  " \"allowed_hosts\": [\"api.example.com\"], \"use_only\": true }")};
    EXPECT_OK(
        ak_client_put_ex(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("echoapi"), AK_CUR_LIT("sk-live-123456"), &o));
    EXPECT_TRUE(strstr(g_f.last_body,
                       ",\"policy\":{\"allowed_hosts\":[\"api.example.com\"],\"inject\":{\"header\":"
                       "\"Authorization\",\"template\":\"Bearer {}\"},\"use_only\":true,\"v\":1}}") != NULL);
    int mints = g_f.mints;
    /* a bad policy, a secret a policy cannot carry, a policy on memory: refused before any mint */
    ak_client_put_opts bad = {
        .policy_json = AK_CUR_LIT("{\"allowed_hosts\":[\"10.0.0.1\"],\"inject\":{\"query\":\"k\"}}")};
    EXPECT_ERR(AK_E_USE_POLICY_INVALID, ak_client_put_ex(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("echoapi"),
                                                         AK_CUR_LIT("sk-live-123456"), &bad));
    ak_client_put_opts notjson = {.policy_json = AK_CUR_LIT("[1]")};
    EXPECT_ERR(AK_E_USE_POLICY_INVALID, ak_client_put_ex(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("echoapi"),
                                                         AK_CUR_LIT("sk-live-123456"), &notjson));
    EXPECT_ERR(AK_E_USE_POLICY_INVALID,
               ak_client_put_ex(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("echoapi"), AK_CUR_LIT("short"), &o));
    EXPECT_ERR(AK_E_USE_POLICY_INVALID,
               ak_client_put_ex(cl, AK_CLASS_MEMORY, AK_CUR_LIT("notes"), AK_CUR_LIT("sk-live-123456"), &o));
    EXPECT_INT_EQ(g_f.mints, mints);
    /* D19 provisioning: the cap is minted for the named actor */
    const char *agent = "0xABCDEF0000000000000000000000000000000000000000000000000000000001";
    ak_client_put_opts f = {.actor_hex = agent};
    EXPECT_OK(ak_client_put_ex(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("plain"), AK_CUR_LIT("v"), &f));
    EXPECT_STR_EQ(g_f.last_actor, "abcdef0000000000000000000000000000000000000000000000000000000001");
    EXPECT_TRUE(strstr(g_f.last_body, "\"policy\"") == NULL);
    ak_client_put_opts badactor = {.actor_hex = "0x12"};
    EXPECT_ERR(AK_E_INVALID_OMNI,
               ak_client_put_ex(cl, AK_CLASS_CREDENTIALS, AK_CUR_LIT("plain"), AK_CUR_LIT("v"), &badactor));
    ak_client_free(cl);
    s_fake_stop();
}

AK_TEST(test_use) {
    s_fake_start();
    g_key_err = AK_OK;
    ak_client *cl = s_client(NULL);
    ak_http_header hs[2] = {{"content-type", AK_CUR_LIT("application/json")}, {"x-q", AK_CUR_LIT("a\"b")}};
    ak_client_use_req rq = {.method = "POST",
                            .url = AK_CUR_LIT("https://api.example.com/v1/x?y=1"),
                            .headers = hs,
                            .n_headers = 2,
                            .body = AK_CUR_LIT("{\"a\":1}")};
    ak_client_use_resp r;
    ak_client_use_resp_init(&r);
    EXPECT_OK(ak_client_use(cl, AK_CUR_LIT("echoapi"), &rq, &r));
    EXPECT_INT_EQ(r.status, 201);
    EXPECT_BYTES_EQ(r.body.ptr, r.body.len, "answer", 6);
    EXPECT_INT_EQ(r.redactions, 2);
    EXPECT_INT_EQ(json_array_size(r.headers), 1);
    /* the request as the worker reads it; the use cap came from /v1/cap/cred-use */
    json_t *b = NULL;
    EXPECT_OK(ak_json_parse_object(ak_cur_from_str(g_f.last_body), &b));
    EXPECT_STR_EQ(json_string_value(json_object_get(b, "method")), "POST");
    EXPECT_STR_EQ(json_string_value(json_object_get(b, "url")), "https://api.example.com/v1/x?y=1");
    EXPECT_STR_EQ(json_string_value(json_object_get(json_object_get(b, "headers"), "x-q")), "a\"b");
    EXPECT_STR_EQ(json_string_value(json_object_get(b, "body_b64")), "eyJhIjoxfQ==");
    EXPECT_STR_EQ(g_f.last_aws_key, "AKIA1");
    json_decref(b);
    ak_client_use_resp_free(&r);
    /* the cap is cached: a second use, no mint */
    int mints = g_f.mints;
    ak_client_use_resp_init(&r);
    ak_client_use_req get = {.method = "GET", .url = AK_CUR_LIT("https://api.example.com/")};
    EXPECT_OK(ak_client_use(cl, AK_CUR_LIT("echoapi"), &get, &r));
    EXPECT_INT_EQ(g_f.mints, mints);
    EXPECT_TRUE(strstr(g_f.last_body, "body_b64") == NULL && strstr(g_f.last_body, "headers") == NULL);
    ak_client_use_resp_free(&r);
    /* a refusal comes back with its reason and nothing in the answer */
    g_f.use_reason = "host_not_allowed";
    ak_client_use_resp_init(&r);
    EXPECT_ERR(AK_E_HOST_NOT_ALLOWED, ak_client_use(cl, AK_CUR_LIT("echoapi"), &get, &r));
    EXPECT_STR_EQ(ak_client_last_reason(cl), "host_not_allowed");
    EXPECT_INT_EQ(r.body.len, 0);
    EXPECT_TRUE(r.headers == NULL);
    ak_client_use_resp_free(&r);
    /* bad input never leaves the client */
    int uses = g_f.uses;
    ak_client_use_resp_init(&r);
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_client_use(cl, AK_CUR_LIT("Echo API"), &get, &r));
    ak_client_use_req nourl = {.method = "GET", .url = AK_CUR_LIT("")};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_client_use(cl, AK_CUR_LIT("echoapi"), &nourl, &r));
    EXPECT_INT_EQ(g_f.uses, uses);
    ak_client_use_resp_free(&r);
    ak_client_free(cl);
    s_fake_stop();
}

typedef struct {
    ak_client_use_material *m;
    ak_err rc;
    long status, st;
    char reason[64];
} s_send_arg;

static void *s_send_thread(void *arg) {
    s_send_arg *a = arg;
    ak_http *h = NULL;
    ak_http_config hc = {.retry = {.max_attempts = 1}};
    a->rc = ak_http_new(&hc, &h);
    if (a->rc != AK_OK) return NULL;
    ak_client_use_req rq = {.method = "GET", .url = AK_CUR_LIT("https://api.example.com/")};
    ak_client_use_resp r;
    ak_client_use_resp_init(&r);
    a->rc = ak_client_use_send(a->m, h, &rq, &r, a->reason, &a->st);
    a->status = r.status;
    ak_client_use_resp_free(&r);
    ak_http_free(h);
    return NULL;
}

AK_TEST(test_use_two_steps_and_retry) {
    s_fake_start();
    g_key_err = AK_OK;
    ak_client *cl = s_client(NULL);
    ak_client_use_material m;
    ak_client_use_material_init(&m);
    EXPECT_OK(ak_client_use_prepare(cl, AK_CUR_LIT("echoapi"), AK_OK, &m));
    EXPECT_FALSE(m.cached);
    EXPECT_TRUE(m.cap.len > 0 && m.creds.access_key_id.len > 0);
    /* the call from another thread on its own handle: no client state involved */
    s_send_arg a = {.m = &m};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_send_thread, &a), 0);
    pthread_join(th, NULL);
    EXPECT_OK(a.rc);
    EXPECT_INT_EQ(a.status, 201);
    /* a refusal on that path fills the caller's reason and status */
    g_f.use_reason = "scheme_not_allowed";
    assert_int_equal(pthread_create(&th, NULL, s_send_thread, &a), 0);
    pthread_join(th, NULL);
    EXPECT_INT_EQ(a.rc, AK_E_SCHEME_NOT_ALLOWED);
    EXPECT_STR_EQ(a.reason, "scheme_not_allowed");
    EXPECT_INT_EQ(a.st, 403);
    g_f.use_reason = NULL;
    /* the second prepare comes from the cache */
    EXPECT_OK(ak_client_use_prepare(cl, AK_CUR_LIT("echoapi"), AK_OK, &m));
    EXPECT_TRUE(m.cached);
    ak_client_use_material_free(&m);
    /* a cached use cap the worker refuses: ak_client_use re-mints once */
    int mints = g_f.mints;
    g_f.stale_caps_below = g_f.cap_next;
    ak_client_use_req rq = {.method = "GET", .url = AK_CUR_LIT("https://api.example.com/")};
    ak_client_use_resp r;
    ak_client_use_resp_init(&r);
    EXPECT_OK(ak_client_use(cl, AK_CUR_LIT("echoapi"), &rq, &r));
    EXPECT_INT_EQ(g_f.mints, mints + 1);
    EXPECT_INT_EQ(r.status, 201);
    ak_client_use_resp_free(&r);
    /* refused again with a fresh cap: returned after one retry */
    g_f.stale_caps_below = 1000;
    ak_client_use_resp_init(&r);
    EXPECT_ERR(AK_E_CAP_EXPIRED, ak_client_use(cl, AK_CUR_LIT("echoapi"), &rq, &r));
    EXPECT_INT_EQ(g_f.mints, mints + 2);
    EXPECT_TRUE(r.headers == NULL && r.body.len == 0);
    ak_client_use_resp_free(&r);
    ak_client_free(cl);
    s_fake_stop();
}

/* The use path as the store/fetch path (issue 16): a cap refusal (k3_epoch_mismatch after an
 * epoch rotation) renews only the cap, in ak_client_use and in the two-step API the proxy uses;
 * a refusal of the credentials (access_denied) renews both. */
AK_TEST(test_use_epoch_refusal_renews_cap_only) {
    s_fake_start();
    g_key_err = AK_OK;
    ak_client *cl = s_client(NULL);
    ak_client_use_req rq = {.method = "GET", .url = AK_CUR_LIT("https://api.example.com/")};
    ak_client_use_resp r;
    ak_client_use_resp_init(&r);
    EXPECT_OK(ak_client_use(cl, AK_CUR_LIT("echoapi"), &rq, &r)); /* cap and credentials cached */
    ak_client_use_resp_free(&r);
    int sts0 = g_f.sts, mints0 = g_f.mints;
    EXPECT_INT_EQ(sts0, 1);
    g_f.stale_reason = "k3_epoch_mismatch";
    g_f.stale_caps_below = g_f.cap_next;
    ak_client_use_resp_init(&r);
    EXPECT_OK(ak_client_use(cl, AK_CUR_LIT("echoapi"), &rq, &r));
    EXPECT_INT_EQ(r.status, 201);
    ak_client_use_resp_free(&r);
    EXPECT_INT_EQ(g_f.mints, mints0 + 1);
    EXPECT_INT_EQ(g_f.sts, sts0); /* the STS credentials were not minted again */
    /* the two-step API: the caller hands the refusal back */
    g_f.stale_caps_below = g_f.cap_next;
    ak_client_use_material m;
    ak_client_use_material_init(&m);
    EXPECT_OK(ak_client_use_prepare(cl, AK_CUR_LIT("echoapi"), AK_OK, &m));
    EXPECT_TRUE(m.cached);
    EXPECT_INT_EQ(g_f.mints, mints0 + 1);
    EXPECT_OK(ak_client_use_prepare(cl, AK_CUR_LIT("echoapi"), AK_E_K3_EPOCH_MISMATCH, &m));
    EXPECT_INT_EQ(g_f.mints, mints0 + 2);
    EXPECT_INT_EQ(g_f.sts, sts0);
    EXPECT_TRUE(m.cached); /* the credentials still from the cache */
    /* the credentials refused: both renewed */
    EXPECT_OK(ak_client_use_prepare(cl, AK_CUR_LIT("echoapi"), AK_E_ACCESS_DENIED, &m));
    EXPECT_INT_EQ(g_f.mints, mints0 + 3);
    EXPECT_INT_EQ(g_f.sts, sts0 + 1);
    EXPECT_FALSE(m.cached);
    ak_client_use_material_free(&m);
    g_f.stale_reason = "access_denied";
    g_f.stale_caps_below = g_f.cap_next;
    ak_client_use_resp_init(&r);
    EXPECT_OK(ak_client_use(cl, AK_CUR_LIT("echoapi"), &rq, &r));
    ak_client_use_resp_free(&r);
    EXPECT_INT_EQ(g_f.mints, mints0 + 4);
    EXPECT_INT_EQ(g_f.sts, sts0 + 2);
    g_f.stale_reason = NULL;
    g_f.stale_caps_below = 0;
    ak_client_free(cl);
    s_fake_stop();
}

AK_RUN_TESTS(AK_T(test_put_with_policy_and_for_actor), AK_T(test_use), AK_T(test_use_two_steps_and_retry),
             AK_T(test_login_cache_across_instances), AK_T(test_put_get_caps_cached),
             AK_T(test_session_renewed_near_expiry_and_after_401), AK_T(test_stale_cached_cap_reminted_once),
             AK_T(test_epoch_refusal_renews_cap_only), AK_T(test_use_epoch_refusal_renews_cap_only),
             AK_T(test_refusals), AK_T(test_corrupt_cache_ignored))
