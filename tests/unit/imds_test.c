/*
 * imds_test.c — instance role credentials from IMDSv2 (ak/imds.h) against a local IMDS stand-in
 * reached through the unix: test connector (the vsock path of ak_http): token then role then
 * credentials, the token header on every GET, Host = 169.254.169.254, caching, refresh inside the
 * margin, a 401 renewing the token, and the failures: no token header accepted (imds_error),
 * malformed or expired credentials (imds_credentials_invalid), the proxy absent (upstream_error),
 * a bad connector (config_error).
 */
#include "test.h"

#include "ak/http.h"
#include "ak/imds.h"
#include "unix_standin.h"

typedef struct {
    const char *expiration; /* the document's Expiration */
    bool reject_token;      /* answer 401 to every GET */
    bool expire_token_once; /* the first GET gets a 401 */
    bool bad_json;
    atomic_int tokens;
} s_imds;

static long s_reply(char *out, size_t cap, int status, const char *body) {
    int n = snprintf(out, cap, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n%s", status, strlen(body), body);
    return n > 0 ? n : 0;
}

static long s_imds_respond(void *user, const char *req, long len, char *out, size_t cap) {
    s_imds *st = user;
    (void)len;
    static char body[2048];
    if (strncmp(req, "PUT /latest/api/token ", 22) == 0) {
        if (strstr(req, "\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n") == NULL)
            return s_reply(out, cap, 400, "");
        int t = atomic_fetch_add(&st->tokens, 1) + 1;
        snprintf(body, sizeof(body), "TOKEN%d", t);
        return s_reply(out, cap, 200, body);
    }
    if (strncmp(req, "GET ", 4) != 0) return s_reply(out, cap, 405, "");
    char want[64];
    snprintf(want, sizeof(want), "\r\nX-aws-ec2-metadata-token: TOKEN%d\r\n", atomic_load(&st->tokens));
    if (st->reject_token || strstr(req, want) == NULL) return s_reply(out, cap, 401, "");
    if (st->expire_token_once) {
        st->expire_token_once = false;
        return s_reply(out, cap, 401, "");
    }
    if (strncmp(req, "GET /latest/meta-data/iam/security-credentials/ ", 48) == 0)
        return s_reply(out, cap, 200, "ak-signer-host-role");
    if (strncmp(req, "GET /latest/meta-data/iam/security-credentials/ak-signer-host-role ", 67) == 0) {
        snprintf(body, sizeof(body),
                 st->bad_json
                     ? "{\"Code\":\"Success\",\"AccessKeyId\":3}"
                     : "{\"Code\":\"Success\",\"LastUpdated\":\"2026-01-01T00:00:00Z\",\"Type\":\"AWS-HMAC\","
                       "\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"sk-example\","
                       "\"Token\":\"session-token-example\",\"Expiration\":\"%s\"}",
                 st->expiration);
        return s_reply(out, cap, 200, body);
    }
    return s_reply(out, cap, 404, "");
}

/* epoch ms -> "YYYY-MM-DDTHH:MM:SSZ" (civil_from_days; gmtime is banned). */
static void s_iso(int64_t ms, char out[64]) {
    int64_t z = ms / 86400000 + 719468, secs = (ms / 1000) % 86400;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned mo = mp < 10 ? mp + 3 : mp - 9;
    if (mo <= 2) y++;
    snprintf(out, 64, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, mo, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
}

static ak_imds *s_new(const us_srv *s) {
    char spec[160];
    us_spec(s, spec, sizeof(spec));
    ak_imds_config c = {.connect = spec};
    ak_imds *m = NULL;
    EXPECT_OK(ak_imds_new(&c, &m));
    return m;
}

AK_TEST(test_fetch_cache_refresh) {
    s_imds st = {.expiration = "2999-01-01T00:00:00Z"};
    us_srv s;
    us_start(&s, s_imds_respond, &st);
    ak_imds *m = s_new(&s);
    ak_aws_creds c;
    EXPECT_OK(ak_imds_credentials(m, 0, &c));
    EXPECT_STR_EQ(c.access_key_id, "ASIAEXAMPLE");
    EXPECT_STR_EQ(c.secret_access_key, "sk-example");
    EXPECT_STR_EQ(c.session_token, "session-token-example");
    ak_sigv4_creds v = ak_aws_creds_view(&c);
    EXPECT_TRUE(ak_cur_eq_str(v.session_token, "session-token-example"));
    EXPECT_INT_EQ(atomic_load(&s.reqs), 3); /* token, role, credentials */
    pthread_mutex_lock(&s.mu);
    EXPECT_TRUE(strstr(s.log, "\r\nHost: 169.254.169.254\r\n") != NULL);
    pthread_mutex_unlock(&s.mu);
    /* cached: no request */
    EXPECT_OK(ak_imds_credentials(m, 0, &c));
    EXPECT_INT_EQ(atomic_load(&s.reqs), 3);
    ak_imds_free(m);
    /* a new client: its own fetch; then cached, the stand-in not asked again */
    m = s_new(&s);
    EXPECT_OK(ak_imds_credentials(m, 0, &c));
    int before = atomic_load(&s.reqs);
    EXPECT_INT_EQ(before, 6);
    EXPECT_OK(ak_imds_credentials(m, 0, &c));
    EXPECT_INT_EQ(atomic_load(&s.reqs), before);
    ak_imds_free(m);
    ak_aws_creds_wipe(&c);
    us_stop(&s);
}

AK_TEST(test_refresh_within_margin_and_token_renewal) {
    s_imds st = {.expiration = "2999-01-01T00:00:00Z"};
    us_srv s;
    us_start(&s, s_imds_respond, &st);
    char spec[160];
    us_spec(&s, spec, sizeof(spec));
    /* a margin longer than the credentials' remaining life (49 days): every call refreshes */
    ak_imds_config cfg = {.connect = spec, .refresh_margin_ms = 4294967295u};
    ak_imds *m = NULL;
    EXPECT_OK(ak_imds_new(&cfg, &m));
    char exp[64];
    s_iso(ak_http_now_ms() + 86400000LL, exp);
    st.expiration = exp;
    ak_aws_creds c;
    EXPECT_OK(ak_imds_credentials(m, 0, &c));
    int before = atomic_load(&s.reqs);
    EXPECT_OK(ak_imds_credentials(m, 0, &c));
    EXPECT_INT_EQ(atomic_load(&s.reqs), before + 2); /* role + credentials, token reused */
    st.expire_token_once = true;                     /* 401 -> a new token, one retry */
    EXPECT_OK(ak_imds_credentials(m, 0, &c));
    EXPECT_INT_EQ(atomic_load(&st.tokens), 2);
    /* a refresh failing while the held ones are valid: served, not an error */
    st.reject_token = true;
    EXPECT_OK(ak_imds_credentials(m, 0, &c));
    EXPECT_STR_EQ(c.access_key_id, "ASIAEXAMPLE");
    ak_imds_free(m);
    ak_aws_creds_wipe(&c);
    us_stop(&s);
}

AK_TEST(test_failures) {
    s_imds st = {.expiration = "2020-01-01T00:00:00Z"}; /* expired */
    us_srv s;
    us_start(&s, s_imds_respond, &st);
    ak_imds *m = s_new(&s);
    ak_aws_creds c;
    EXPECT_ERR(AK_E_IMDS_CREDENTIALS_INVALID, ak_imds_credentials(m, 0, &c));
    st.expiration = "2999-01-01T00:00:00Z";
    st.bad_json = true;
    EXPECT_ERR(AK_E_IMDS_CREDENTIALS_INVALID, ak_imds_credentials(m, 0, &c));
    st.bad_json = false;
    st.reject_token = true;
    EXPECT_ERR(AK_E_IMDS_ERROR, ak_imds_credentials(m, 0, &c));
    ak_imds_free(m);
    us_stop(&s);
    /* the proxy is not there */
    ak_imds_config cfg = {.connect = "unix:/nonexistent/ak-imds.sock"};
    EXPECT_OK(ak_imds_new(&cfg, &m));
    EXPECT_ERR(AK_E_UPSTREAM, ak_imds_credentials(m, 0, &c));
    ak_imds_free(m);
    /* vsock on this machine: a clean upstream error */
    cfg.connect = "vsock:3:8002";
    EXPECT_OK(ak_imds_new(&cfg, &m));
    ak_err e = ak_imds_credentials(m, ak_http_now_ms() + 3000, &c);
    EXPECT_TRUE(e == AK_E_UPSTREAM || e == AK_E_UPSTREAM_TIMEOUT);
    ak_imds_free(m);
    /* config */
    m = NULL;
    cfg.connect = "vsock:3:";
    EXPECT_ERR(AK_E_CONFIG, ak_imds_new(&cfg, &m));
    cfg.connect = NULL;
    cfg.endpoint = "https://169.254.169.254";
    EXPECT_ERR(AK_E_CONFIG, ak_imds_new(&cfg, &m));
    cfg.endpoint = "http://169.254.169.254/latest";
    EXPECT_ERR(AK_E_CONFIG, ak_imds_new(&cfg, &m));
    EXPECT_TRUE(m == NULL);
}

AK_TEST(test_parse) {
    ak_aws_creds c;
    static const char good[] =
        "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
        "\"Expiration\":\"2026-12-02T10:00:00Z\"}";
    EXPECT_OK(ak_imds_parse_credentials(AK_CUR_LIT(good), 0, &c));
    EXPECT_TRUE(c.expiration_ms == 1796205600000LL); /* 2026-12-02T10:00:00Z */
    EXPECT_ERR(AK_E_IMDS_CREDENTIALS_INVALID,
               ak_imds_parse_credentials(AK_CUR_LIT(good), 1796205600000LL, &c));
    static const char *const bad[] = {
        "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
        "\"Expiration\":\"2026-12-02T10:00:00Z\"}",
        "{\"Code\":\"Success\",\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":"
        "\"2026-12-02T10:00:00Z\"}",
        "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2026-12-"
        "02T10:00:00Z\"}",
        "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
        "\"Expiration\":\"2026-12-02 10:00:00\"}",
        "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
        "\"Expiration\":\"2026-13-02T10:00:00Z\"}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ak_imds_parse_credentials(ak_cur_from_str(bad[i]), 0, &c) != AK_E_IMDS_CREDENTIALS_INVALID)
            fail_msg("accepted: %s", bad[i]);
    ak_aws_creds_wipe(&c);
}

AK_RUN_TESTS(AK_T(test_fetch_cache_refresh), AK_T(test_refresh_within_margin_and_token_renewal),
             AK_T(test_failures), AK_T(test_parse))
