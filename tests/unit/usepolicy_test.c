/* usepolicy_test.c — D19 use policies: parsing and canonical bytes, the framing sealed in 0x05
 * envelopes (binding), host matching, request checks and injection, redaction, the answer. */
#include "test.h"

#include <string.h>
#include <strings.h>

#include "ak/ct.h"
#include "ak/envelope.h"
#include "ak/json.h"
#include "ak/limits.h"
#include "ak/usepolicy.h"

static ak_err s_parse(const char *text, ak_use_policy *p) {
    json_t *o = NULL;
    ak_err rc = ak_json_parse_object(ak_cur_from_str(text), &o);
    if (rc == AK_OK) rc = ak_use_policy_from_json(o, p);
    if (o) json_decref(o);
    return rc;
}

static void s_encode_eq(const char *in, const char *want) {
    ak_use_policy p;
    EXPECT_OK(s_parse(in, &p));
    ak_buf b;
    ak_buf_init(&b, 8192);
    EXPECT_OK(ak_use_policy_encode(&p, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), want);
    ak_buf_free(&b);
}

AK_TEST(test_policy_canonical_bytes) {
    s_encode_eq(
        "{\"use_only\":true,\"allowed_hosts\":[\"api.example.com\",\"*.example.org\"],"
        "\"allowed_methods\":[\"POST\",\"GET\"],"
        "\"inject\":{\"header\":\"Authorization\",\"template\":\"Bearer {}\"}}",
        "{\"allowed_hosts\":[\"api.example.com\",\"*.example.org\"],\"allowed_methods\":[\"GET\",\"POST\"],"
        "\"inject\":{\"header\":\"Authorization\",\"template\":\"Bearer {}\"},\"use_only\":true,\"v\":1}");
    /* defaults: template "{}", use_only false, all methods (no member), ports kept as written */
    s_encode_eq(
        "{\"allowed_hosts\":[\"localhost:8443\"],\"inject\":{\"header\":\"x-api-key\"}}",
        "{\"allowed_hosts\":[\"localhost:8443\"],\"inject\":{\"header\":\"x-api-key\",\"template\":\"{}\"},"
        "\"use_only\":false,\"v\":1}");
    s_encode_eq(
        "{\"v\":1,\"allowed_hosts\":[\"a.b.c\"],\"inject\":{\"basic\":{\"username\":\"bob\"}}}",
        "{\"allowed_hosts\":[\"a.b.c\"],\"inject\":{\"basic\":{\"username\":\"bob\"}},\"use_only\":false,"
        "\"v\":1}");
    s_encode_eq("{\"allowed_hosts\":[\"maps.example.com\"],\"inject\":{\"query\":\"key\"}}",
                "{\"allowed_hosts\":[\"maps.example.com\"],\"inject\":{\"query\":\"key\"},\"use_only\":false,"
                "\"v\":1}");
}

AK_TEST(test_policy_rejects) {
    static const char *const bad[] = {
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\"},\"extra\":1}",
        "{\"allowed_hosts\":[\"A.example.com\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"10.0.0.1\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"[::1]\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"*.com\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"*.localhost\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"com\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"-a.example.com\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"a..example.com\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"example.com.\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"a.example.com:0\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"a.example.com:65536\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"a.example.com:0443\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"a.example.com\",\"a.example.com\"],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[],\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":\"a.example.com\",\"inject\":{\"header\":\"x\"}}",
        "{\"inject\":{\"header\":\"x\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"]}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\",\"query\":\"k\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"Host\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"Proxy-Authorization\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"bad name\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\",\"template\":\"Bearer\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\",\"template\":\"{} {}\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\",\"template\":\"a\\n{}\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"basic\":{\"username\":\"a:b\"}}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"basic\":{\"user\":\"a\"}}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"query\":\"k=v\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"query\":\"\"}}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\"},\"allowed_methods\":[\"get\"]}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\"},\"allowed_methods\":[\"GET\","
        "\"GET\"]}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\"},\"allowed_methods\":[]}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\"},\"use_only\":\"yes\"}",
        "{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\"},\"v\":2}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_use_policy p;
        ak_err rc = s_parse(bad[i], &p);
        if (rc != AK_E_USE_POLICY_INVALID)
            fail_msg("accepted or wrong code (%s): %s", ak_err_reason(rc), bad[i]);
    }
    /* 17 hosts: one too many */
    char many[2048] = "{\"inject\":{\"header\":\"x\"},\"allowed_hosts\":[";
    for (int i = 0; i < 17; i++) {
        char h[32];
        snprintf(h, sizeof(h), "%s\"h%d.example.com\"", i ? "," : "", i);
        strncat(many, h, sizeof(many) - strlen(many) - 1);
    }
    strncat(many, "]}", sizeof(many) - strlen(many) - 1);
    ak_use_policy p;
    EXPECT_ERR(AK_E_USE_POLICY_INVALID, s_parse(many, &p));
}

static const char *const s_pol_json =
    "{\"use_only\":true,\"allowed_hosts\":[\"api.example.com\",\"*.example.org\",\"localhost:8443\"],"
    "\"allowed_methods\":[\"GET\",\"POST\"],\"inject\":{\"header\":\"Authorization\",\"template\":\"Bearer "
    "{}\"}}";

AK_TEST(test_frame_round_trip_and_strictness) {
    ak_use_policy p, q;
    EXPECT_OK(s_parse(s_pol_json, &p));
    ak_buf f;
    ak_buf_init_secret(&f, AK_MAX_PLAINTEXT);
    EXPECT_OK(ak_use_frame(&p, AK_CUR_LIT("sk-test-secret-1"), &f));
    ak_cur sec;
    EXPECT_OK(ak_use_unframe(ak_buf_cur(&f), &q, &sec));
    EXPECT_TRUE(ak_cur_eq_str(sec, "sk-test-secret-1"));
    EXPECT_TRUE(q.use_only);
    EXPECT_INT_EQ(q.n_hosts, 3);
    EXPECT_INT_EQ(q.methods, AK_USE_GET | AK_USE_POST);
    /* the length prefix is big-endian and counts the canonical policy only */
    size_t l = ((size_t)f.ptr[0] << 8) | f.ptr[1];
    EXPECT_INT_EQ(l + 2 + 16, f.len);
    EXPECT_INT_EQ(f.ptr[2], '{');

    /* non-canonical policy bytes (a space) never open: one policy, one encoding */
    ak_buf g;
    ak_buf_init_secret(&g, AK_MAX_PLAINTEXT);
    static const char loose[] = "{ "
                                "\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"x\","
                                "\"template\":\"{}\"},\"use_only\":true,"
                                "\"v\":1}";
    uint8_t lp[2] = {0, (uint8_t)(sizeof(loose) - 1)};
    EXPECT_OK(ak_buf_append(&g, lp, 2));
    EXPECT_OK(ak_buf_append_str(&g, loose));
    EXPECT_OK(ak_buf_append_str(&g, "secret-secret"));
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_use_unframe(ak_buf_cur(&g), &q, &sec));
    /* truncated or oversize lengths */
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_use_unframe(ak_cur_from(f.ptr, 1), &q, &sec));
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_use_unframe(ak_cur_from(f.ptr, l + 1), &q, &sec));
    uint8_t zero[4] = {0, 0, 'x', 'y'};
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_use_unframe(ak_cur_from(zero, 4), &q, &sec));
    /* secrets that cannot carry a policy */
    ak_buf_clear(&g);
    EXPECT_ERR(AK_E_USE_POLICY_INVALID, ak_use_frame(&p, AK_CUR_LIT("short"), &g));
    EXPECT_ERR(AK_E_USE_POLICY_INVALID, ak_use_frame(&p, AK_CUR_LIT("line\r\nbreak-secret"), &g));
    EXPECT_INT_EQ(g.len, 0);
    ak_buf_free(&f);
    ak_buf_free(&g);
}

AK_TEST(test_policy_bound_to_envelope) {
    static const uint8_t kek[32] = {7};
    ak_env_binding b = {AK_CLASS_CREDENTIALS, {{0}}, {{0}}, AK_CUR_LIT("openai")};
    memset(b.operator_omni.b, 0x11, 32);
    memset(b.actor_omni.b, 0x22, 32);
    ak_use_policy p;
    EXPECT_OK(s_parse(s_pol_json, &p));
    ak_buf f, blob, out;
    ak_buf_init_secret(&f, AK_MAX_PLAINTEXT);
    ak_buf_init(&blob, AK_MAX_PLAINTEXT + 64);
    ak_buf_init_secret(&out, AK_MAX_PLAINTEXT);
    EXPECT_OK(ak_use_frame(&p, AK_CUR_LIT("sk-test-secret-1"), &f));
    EXPECT_OK(ak_envelope_seal_version(kek, 3, AK_ENV_VERSION_POLICY, &b, ak_buf_cur(&f), &blob));
    EXPECT_INT_EQ(blob.ptr[0], 0x05);
    uint8_t v = 0;
    uint32_t ep = 0;
    EXPECT_OK(ak_envelope_peek(ak_buf_cur(&blob), &ep, &v));
    EXPECT_INT_EQ(v, 5);
    EXPECT_INT_EQ(ep, 3);
    EXPECT_OK(ak_envelope_open_version(kek, 3, &b, ak_buf_cur(&blob), &out, &v));
    EXPECT_TRUE(ak_cur_eq(ak_buf_cur(&out), ak_buf_cur(&f)));
    /* the 0x04-only readers keep refusing it */
    ak_buf_clear(&out);
    EXPECT_ERR(AK_E_ENVELOPE_VERSION, ak_envelope_open(kek, 3, &b, ak_buf_cur(&blob), &out));
    EXPECT_ERR(AK_E_ENVELOPE_VERSION, ak_envelope_peek_epoch(ak_buf_cur(&blob), &ep));
    /* relabelled as 0x04 (the AAD prefix differs) → fails the tag */
    blob.ptr[0] = 0x04;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open_version(kek, 3, &b, ak_buf_cur(&blob), &out, &v));
    blob.ptr[0] = 0x05;
    /* any bit of the sealed policy (ciphertext bytes 17+2 .. 17+2+L) flipped → fails the tag */
    size_t l = ((size_t)f.ptr[0] << 8) | f.ptr[1];
    for (size_t i = 0; i < l; i += 7) {
        blob.ptr[AK_ENV_HEADER_LEN + 2 + i] ^= 0x20;
        EXPECT_ERR(AK_E_DECRYPT_FAILED, ak_envelope_open_version(kek, 3, &b, ak_buf_cur(&blob), &out, &v));
        blob.ptr[AK_ENV_HEADER_LEN + 2 + i] ^= 0x20;
    }
    EXPECT_INT_EQ(out.len, 0);
    EXPECT_OK(ak_envelope_open_version(kek, 3, &b, ak_buf_cur(&blob), &out, &v));
    /* a 0x04 blob still opens through the version-aware reader and says so */
    ak_buf_clear(&blob);
    ak_buf_clear(&out);
    EXPECT_OK(ak_envelope_seal(kek, 3, &b, AK_CUR_LIT("plain"), &blob));
    EXPECT_OK(ak_envelope_open_version(kek, 3, &b, ak_buf_cur(&blob), &out, &v));
    EXPECT_INT_EQ(v, 4);
    ak_buf_free(&f);
    ak_buf_free(&blob);
    ak_buf_free(&out);
}

AK_TEST(test_host_matching) {
    ak_use_policy p;
    EXPECT_OK(s_parse(s_pol_json, &p));
    EXPECT_TRUE(ak_use_host_allowed(&p, AK_CUR_LIT("api.example.com"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("api.example.com"), 8443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("xapi.example.com"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("api.example.com.evil.net"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("example.com"), 443));
    EXPECT_TRUE(ak_use_host_allowed(&p, AK_CUR_LIT("a.example.org"), 443));
    EXPECT_TRUE(ak_use_host_allowed(&p, AK_CUR_LIT("a.b.example.org"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("example.org"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("evil-example.org"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("evilexample.org"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT(".example.org"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("a.example.org.evil.net"), 443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("a.example.org"), 444));
    EXPECT_TRUE(ak_use_host_allowed(&p, AK_CUR_LIT("localhost"), 8443));
    EXPECT_FALSE(ak_use_host_allowed(&p, AK_CUR_LIT("localhost"), 443));
}

static ak_err s_plan(const char *pol, const char *method, const char *url, const char *headers,
                     ak_use_call *c) {
    ak_use_policy p;
    if (s_parse(pol, &p) != AK_OK) fail_msg("policy");
    json_t *h = NULL;
    if (headers != NULL && ak_json_parse_object(ak_cur_from_str(headers), &h) != AK_OK) fail_msg("headers");
    ak_use_call_init(c);
    ak_err rc =
        ak_use_plan(&p, AK_CUR_LIT("sk-live secret/+="), ak_cur_from_str(method), ak_cur_from_str(url), h, c);
    if (h) json_decref(h);
    return rc;
}

static const char *s_header(const ak_use_call *c, const char *name) {
    for (size_t i = 0; i < c->n_headers; i++)
        if (strcasecmp(c->names[i], name) == 0) return ak_use_call_value(c, i);
    return NULL;
}

AK_TEST(test_plan_refusals) {
    static const struct {
        const char *method, *url, *headers;
        ak_err want;
    } cases[] = {
        {"get", "https://api.example.com/v1", NULL, AK_E_INVALID_INPUT},
        {"TRACE", "https://api.example.com/v1", NULL, AK_E_INVALID_INPUT},
        {"GET", "http://api.example.com/v1", NULL, AK_E_SCHEME_NOT_ALLOWED},
        {"GET", "HTTP://api.example.com/v1", NULL, AK_E_SCHEME_NOT_ALLOWED},
        {"GET", "ftp://api.example.com/v1", NULL, AK_E_SCHEME_NOT_ALLOWED},
        {"GET", "file:///etc/passwd", NULL, AK_E_SCHEME_NOT_ALLOWED},
        {"GET", "https://evil.example.net/v1", NULL, AK_E_HOST_NOT_ALLOWED},
        {"GET", "https://evil-example.org/v1", NULL, AK_E_HOST_NOT_ALLOWED},
        {"GET", "https://example.org/", NULL, AK_E_HOST_NOT_ALLOWED},
        {"GET", "https://api.example.com:8443/v1", NULL, AK_E_HOST_NOT_ALLOWED},
        {"GET", "https://127.0.0.1/v1", NULL, AK_E_HOST_NOT_ALLOWED},
        {"GET", "https://2130706433/v1", NULL, AK_E_HOST_NOT_ALLOWED},
        {"GET", "https://0x7f.1/v1", NULL, AK_E_HOST_NOT_ALLOWED},
        {"GET", "https://[::1]/v1", NULL, AK_E_HOST_NOT_ALLOWED},
        {"GET", "https://user@api.example.com/v1", NULL, AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com@evil.net/v1", NULL, AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/v1#frag", NULL, AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/a b", NULL, AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com:0/", NULL, AK_E_INVALID_INPUT},
        {"GET", "https:/api.example.com/", NULL, AK_E_INVALID_INPUT},
        {"GET", "https://api_x.example.com/", NULL, AK_E_INVALID_INPUT},
        {"DELETE", "https://api.example.com/v1", NULL, AK_E_METHOD_NOT_ALLOWED},
        {"GET", "https://api.example.com/v1", "{\"Host\":\"evil.net\"}", AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/v1", "{\"authorization\":\"Bearer mine\"}", AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/v1", "{\"x-a\":\"a\\r\\nb: c\"}", AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/v1", "{\"proxy-x\":\"1\"}", AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/v1", "{\"Accept-Encoding\":\"gzip\"}", AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/v1", "{\"range\":\"bytes=10-15\"}", AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/v1", "{\"If-Range\":\"x\"}", AK_E_INVALID_INPUT},
        {"GET", "https://api.example.com/v1", "{\"x-a\":1}", AK_E_INVALID_INPUT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ak_use_call c;
        ak_err rc = s_plan(s_pol_json, cases[i].method, cases[i].url, cases[i].headers, &c);
        if (rc != cases[i].want)
            fail_msg("case %zu %s %s: got %s want %s", i, cases[i].method, cases[i].url, ak_err_reason(rc),
                     ak_err_reason(cases[i].want));
        ak_use_call_free(&c);
    }
}

AK_TEST(test_injection_templates) {
    ak_use_call c;
    EXPECT_OK(s_plan(s_pol_json, "POST", "https://API.Example.com/v1/chat?x=1",
                     "{\"content-type\":\"application/json\"}", &c));
    EXPECT_STR_EQ(ak_buf_cstr(&c.url), "https://api.example.com/v1/chat?x=1");
    EXPECT_STR_EQ(ak_buf_cstr(&c.path), "/v1/chat");
    EXPECT_STR_EQ(c.host, "api.example.com");
    EXPECT_STR_EQ(s_header(&c, "Authorization"), "Bearer sk-live secret/+=");
    EXPECT_STR_EQ(s_header(&c, "content-type"), "application/json");
    ak_use_call_free(&c);

    EXPECT_OK(s_plan("{\"allowed_hosts\":[\"localhost:8443\"],\"inject\":{\"header\":\"x-api-key\"}}", "GET",
                     "https://localhost:8443", NULL, &c));
    EXPECT_STR_EQ(ak_buf_cstr(&c.url), "https://localhost:8443/");
    EXPECT_STR_EQ(s_header(&c, "x-api-key"), "sk-live secret/+=");
    ak_use_call_free(&c);

    EXPECT_OK(s_plan("{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"basic\":{\"username\":\"bob\"}}}",
                     "GET", "https://a.example.com/x", NULL, &c));
    /* base64("bob:sk-live secret/+=") computed with coreutils base64 */
    EXPECT_STR_EQ(s_header(&c, "Authorization"), "Basic Ym9iOnNrLWxpdmUgc2VjcmV0Lys9");
    ak_use_call_free(&c);

    EXPECT_OK(s_plan("{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"query\":\"key\"}}", "GET",
                     "https://a.example.com/maps?q=a%20b", NULL, &c));
    EXPECT_STR_EQ(ak_buf_cstr(&c.url), "https://a.example.com/maps?q=a%20b&key=sk-live%20secret%2F%2B%3D");
    EXPECT_STR_EQ(ak_buf_cstr(&c.path), "/maps");
    EXPECT_INT_EQ(c.n_headers, 0);
    ak_use_call_free(&c);
    EXPECT_OK(s_plan("{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"query\":\"key\"}}", "GET",
                     "https://a.example.com/maps", NULL, &c));
    EXPECT_STR_EQ(ak_buf_cstr(&c.url), "https://a.example.com/maps?key=sk-live%20secret%2F%2B%3D");
    ak_use_call_free(&c);
    /* the agent may not name the injected parameter itself */
    EXPECT_ERR(AK_E_INVALID_INPUT,
               s_plan("{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"query\":\"key\"}}", "GET",
                      "https://a.example.com/maps?key=mine", NULL, &c));
    ak_use_call_free(&c);
    /* a header injection with a custom template, header names are case-insensitive for collisions */
    EXPECT_ERR(AK_E_INVALID_INPUT,
               s_plan("{\"allowed_hosts\":[\"a.example.com\"],\"inject\":{\"header\":\"X-Api-Key\"}}", "GET",
                      "https://a.example.com/", "{\"x-api-KEY\":\"guess\"}", &c));
    ak_use_call_free(&c);
}

/* ---- redaction ---- */

static int s_b64v(uint8_t ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+' || ch == '-') return 62;
    if (ch == '/' || ch == '_') return 63;
    return -1;
}

/* Can the secret's inner bytes be recovered by base64-decoding `text` from any character
 * offset (either alphabet, anything else read as zero bits)? An independent check of the
 * redactor, which never decodes. */
static bool s_b64_recoverable(ak_cur text, ak_cur secret) {
    ak_cur inner = ak_cur_from(secret.ptr + 1, secret.len - 2);
    for (size_t off = 0; off < 4; off++) {
        uint8_t dec[4096];
        size_t n = 0;
        for (size_t i = off; i + 4 <= text.len && n + 3 <= sizeof(dec); i += 4) {
            unsigned v = 0;
            for (int j = 0; j < 4; j++) {
                int x = s_b64v(text.ptr[i + (size_t)j]);
                v = (v << 6) | (unsigned)(x < 0 ? 0 : x);
            }
            dec[n++] = (uint8_t)(v >> 16);
            dec[n++] = (uint8_t)(v >> 8);
            dec[n++] = (uint8_t)v;
        }
        if (n >= inner.len && memmem(dec, n, inner.ptr, inner.len) != NULL) return true;
    }
    return false;
}

static void s_b64_of(const uint8_t *p, size_t n, bool url, ak_buf *out) {
    if (url)
        EXPECT_OK(ak_b64url_encode(p, n, out));
    else
        EXPECT_OK(ak_b64_encode(p, n, out));
}

AK_TEST(test_redaction_every_encoding) {
    static const char sec[] = "sk-live secret/+=?&\"x\\y~9Q";
    ak_cur s = AK_CUR_LIT(sec);
    ak_use_redactor r;
    EXPECT_OK(ak_use_redactor_init(&r, s));
    ak_buf d, enc;
    ak_buf_init(&d, 1 << 20);
    ak_buf_init(&enc, 1 << 20);
    size_t count = 0;

    /* raw, twice back to back, and inside text */
    EXPECT_OK(ak_buf_printf(&d, "a %s%s b", sec, sec));
    EXPECT_OK(ak_use_redact(&r, &d, &count));
    EXPECT_STR_EQ(ak_buf_cstr(&d), "a [REDACTED][REDACTED] b");
    EXPECT_INT_EQ(count, 2);

    /* base64 (both alphabets), standalone and inside longer strings at every alignment */
    for (int url = 0; url < 2; url++)
        for (size_t pre = 0; pre < 3; pre++)
            for (size_t post = 0; post < 3; post++) {
                uint8_t raw[64];
                memset(raw, 0xA5, sizeof(raw));
                memcpy(raw + 5 + pre, sec, s.len);
                ak_buf_clear(&enc);
                s_b64_of(raw, 5 + pre + s.len + post + 4, url != 0, &enc);
                EXPECT_TRUE(s_b64_recoverable(ak_buf_cur(&enc), s)); /* the check can fail */
                ak_buf_clear(&d);
                EXPECT_OK(ak_buf_printf(&d, "{\"blob\":\"%s\"}", ak_buf_cstr(&enc)));
                count = 0;
                EXPECT_OK(ak_use_redact(&r, &d, &count));
                EXPECT_TRUE(count >= 1);
                if (s_b64_recoverable(ak_buf_cur(&d), s))
                    fail_msg("recoverable url=%d pre=%zu post=%zu", url, pre, post);
                ak_buf_clear(&enc);
                s_b64_of(s.ptr, s.len, url != 0, &enc);
                ak_buf_clear(&d);
                EXPECT_OK(ak_buf_printf(&d, "token=%s;", ak_buf_cstr(&enc)));
                EXPECT_OK(ak_use_redact(&r, &d, &count));
                EXPECT_STR_EQ(ak_buf_cstr(&d), "token=[REDACTED];");
            }

    /* URL-encoded (upper, lower hex; form encoding), JSON-escaped, hex */
    static const char *const forms[] = {
        "sk-live%20secret%2F%2B%3D%3F%26%22x%5Cy~9Q",
        "sk-live%20secret%2f%2b%3d%3f%26%22x%5cy~9Q",
        "sk-live+secret%2F%2B%3D%3F%26%22x%5Cy~9Q",
        "sk-live secret\\/+=?&\\\"x\\\\y~9Q",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        ak_buf_clear(&d);
        EXPECT_OK(ak_buf_printf(&d, "<%s>", forms[i]));
        count = 0;
        EXPECT_OK(ak_use_redact(&r, &d, &count));
        if (strcmp(ak_buf_cstr(&d), "<[REDACTED]>") != 0) fail_msg("form %zu: %s", i, ak_buf_cstr(&d));
    }
    ak_buf_clear(&d);
    EXPECT_OK(ak_buf_append_str(&d, "h="));
    EXPECT_OK(ak_buf_append_hex(&d, s.ptr, s.len));
    EXPECT_OK(ak_use_redact(&r, &d, &count));
    EXPECT_STR_EQ(ak_buf_cstr(&d), "h=[REDACTED]");

    /* unrelated text is untouched; a fragment shorter than AK_USE_FRAGMENT is not a match */
    ak_buf_clear(&d);
    EXPECT_OK(ak_buf_append_str(&d, "sk-live sec and c2stbGl2 and ret/+=?&\"x\\"));
    count = 0;
    EXPECT_OK(ak_use_redact(&r, &d, &count));
    EXPECT_INT_EQ(count, 0);
    EXPECT_STR_EQ(ak_buf_cstr(&d), "sk-live sec and c2stbGl2 and ret/+=?&\"x\\");
    /* a reflection cut short (a prefix, a middle, a suffix of 12+ bytes) goes whole */
    ak_buf_clear(&d);
    EXPECT_OK(ak_buf_append_str(
        &d, "bad key 'sk-live secret/+...', near 'secret/+=?&\"x\\y', end 't/+=?&\"x\\y~9Q'"));
    count = 0;
    EXPECT_OK(ak_use_redact(&r, &d, &count));
    EXPECT_INT_EQ(count, 3);
    EXPECT_STR_EQ(ak_buf_cstr(&d), "bad key '[REDACTED]...', near '[REDACTED]', end '[REDACTED]'");

    ak_use_redactor_free(&r);
    ak_buf_free(&d);
    ak_buf_free(&enc);
}

AK_TEST(test_answer_shape) {
    ak_use_redactor r;
    EXPECT_OK(ak_use_redactor_init(&r, AK_CUR_LIT("sk-test-secret-1")));
    ak_buf out;
    ak_buf_init(&out, 1 << 20);
    size_t n = 0;
    static const char lines[] =
        "content-type:application/json\ncontent-length:99\nx-echo:Bearer sk-test-secret-1\n"
        "connection:keep-alive\nx-q:\"a\"\\\n";
    EXPECT_OK(ak_use_answer(&r, 201, AK_CUR_LIT(lines), AK_CUR_LIT("{\"auth\":\"Bearer sk-test-secret-1\"}"),
                            &out, &n));
    EXPECT_INT_EQ(n, 2);
    /* body_b64 = base64({"auth":"Bearer [REDACTED]"}) */
    EXPECT_STR_EQ(ak_buf_cstr(&out),
                  "{\"ok\":true,\"status\":201,\"headers\":[[\"content-type\",\"application/json\"],"
                  "[\"x-echo\",\"Bearer [REDACTED]\"],[\"x-q\",\"\\\"a\\\"\\\\\"]],"
                  "\"body_b64\":\"eyJhdXRoIjoiQmVhcmVyIFtSRURBQ1RFRF0ifQ==\",\"redactions\":2}");
    json_t *o = NULL;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&out), &o));
    json_decref(o);
    /* a compressed body cannot be redacted: refused, nothing returned */
    ak_buf_clear(&out);
    EXPECT_ERR(AK_E_REDACTION_FAILED, ak_use_answer(&r, 200, AK_CUR_LIT("content-encoding:gzip\n"),
                                                    AK_CUR_LIT("\x1f\x8b..."), &out, &n));
    ak_buf_clear(&out);
    EXPECT_OK(ak_use_answer(&r, 200, AK_CUR_LIT("Content-Encoding:identity\n"), AK_CUR_LIT("ok"), &out, &n));
    ak_buf_free(&out);
    ak_use_redactor_free(&r);
}

AK_TEST(test_allocation_failures) {
    ak_use_policy p;
    EXPECT_OK(s_parse(s_pol_json, &p));
    for (int nth = 1; nth < 40; nth++) {
        ak_buf f;
        ak_buf_init_secret(&f, AK_MAX_PLAINTEXT);
        ak_alloc_fail_nth(nth);
        ak_err rc = ak_use_frame(&p, AK_CUR_LIT("sk-test-secret-1"), &f);
        ak_alloc_fail_nth(0);
        if (rc != AK_OK && rc != AK_E_NOMEM) fail_msg("frame nth %d: %s", nth, ak_err_reason(rc));
        if (rc != AK_OK) EXPECT_INT_EQ(f.len, 0);
        ak_buf_free(&f);
        ak_use_redactor r;
        ak_alloc_fail_nth(nth);
        rc = ak_use_redactor_init(&r, AK_CUR_LIT("sk-test-secret-1"));
        ak_alloc_fail_nth(0);
        if (rc != AK_OK && rc != AK_E_NOMEM) fail_msg("redactor nth %d: %s", nth, ak_err_reason(rc));
        if (rc == AK_OK) ak_use_redactor_free(&r);
    }
}

AK_RUN_TESTS(AK_T(test_policy_canonical_bytes), AK_T(test_policy_rejects),
             AK_T(test_frame_round_trip_and_strictness), AK_T(test_policy_bound_to_envelope),
             AK_T(test_host_matching), AK_T(test_plan_refusals), AK_T(test_injection_templates),
             AK_T(test_redaction_every_encoding), AK_T(test_answer_shape), AK_T(test_allocation_failures))
