/*
 * svc_test.c — the service context (ak/svc.h): env configuration, deadlines, audit writes,
 * signing through the (faked) signer, the published key sets and session verification.
 */
#include "test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ak/crypto.h"
#include "ak/json.h"
#include "ak/svc.h"

/* ---------------------------------------------------------------- a fake signer + S3 */

typedef struct {
    uint8_t priv[3][32], pub[3][65];
    char kid[3][AK_SIGNER_KID_MAX];
    /* a previous session key (rotation) */
    uint8_t prev_priv[32], prev_pub[65];
    bool have_prev;
    int sign_calls, kid_calls, keys_calls, refreshes;
    int conflict_once; /* next sign answers 409 once */
    bool lie_kid;      /* sign reports another kid */
    ak_err keys_err;
    /* S3 */
    int puts;
    char last_bucket[64];
    ak_buf last_key, last_body;
    bool last_inm;
    ak_err put_err;
} fake;

static fake F;

static ak_err f_sign(ak_svc *svc, ak_signer_key key, ak_cur in, uint8_t sig[64],
                     char kid[AK_SIGNER_KID_MAX]) {
    (void)svc;
    F.sign_calls++;
    if (F.conflict_once) {
        F.conflict_once = 0;
        return AK_E_CONFLICT;
    }
    snprintf(kid, AK_SIGNER_KID_MAX, "%s", F.lie_kid ? "other" : F.kid[key]);
    return ak_p256_sign_sha256(F.priv[key], in.ptr, in.len, sig);
}

static ak_err f_kid(ak_svc *svc, ak_signer_key key, bool refresh, char kid[AK_SIGNER_KID_MAX]) {
    (void)svc;
    F.kid_calls++;
    if (refresh) F.refreshes++;
    snprintf(kid, AK_SIGNER_KID_MAX, "%s", F.kid[key]);
    return AK_OK;
}

static void s_add_jwk(json_t *arr, const uint8_t pub[65], const char *kid, const char *purpose,
                      const char *status, bool x5c) {
    ak_jwk_p256 k;
    memset(&k, 0, sizeof(k));
    memcpy(k.pub65, pub, 65);
    snprintf(k.kid, sizeof(k.kid), "%s", kid);
    if (x5c) k.x5c = "MIIBfake";
    json_t *j;
    EXPECT_OK(ak_jwk_p256_to_json(&k, &j));
    json_object_set_new(j, "ak_key", json_string(purpose));
    json_object_set_new(j, "ak_status", json_string(status));
    json_array_append_new(arr, j);
}

static ak_err f_keys(ak_svc *svc, ak_buf *out) {
    (void)svc;
    F.keys_calls++;
    if (F.keys_err != AK_OK) return F.keys_err;
    static const char *names[3] = {"session", "oidc", "cap"};
    json_t *arr = json_array();
    for (int i = 0; i < 3; i++)
        s_add_jwk(arr, F.pub[i], F.kid[i], names[i], "current", i == 1);
    if (F.have_prev) s_add_jwk(arr, F.prev_pub, "sess-prev", "session", "previous", false);
    json_t *root = json_pack("{s:o}", "keys", arr);
    ak_err rc = ak_json_dump(root, out);
    json_decref(root);
    return rc;
}

static ak_err f_put(ak_svc *svc, const char *bucket, ak_cur key, ak_cur body, bool inm, int64_t dl) {
    (void)svc;
    (void)dl;
    F.puts++;
    if (F.put_err != AK_OK) return F.put_err;
    snprintf(F.last_bucket, sizeof(F.last_bucket), "%s", bucket);
    ak_buf_clear(&F.last_key);
    ak_buf_clear(&F.last_body);
    EXPECT_OK(ak_buf_append_cur(&F.last_key, key));
    EXPECT_OK(ak_buf_append_cur(&F.last_body, body));
    F.last_inm = inm;
    return AK_OK;
}

static const ak_svc_ops FAKE_OPS = {.sign = f_sign, .current_kid = f_kid, .keys = f_keys, .s3_put = f_put};

static void s_fake_reset(void) {
    memset(&F, 0, sizeof(F));
    for (int i = 0; i < 3; i++) {
        EXPECT_OK(ak_p256_keygen(F.priv[i], F.pub[i]));
        snprintf(F.kid[i], AK_SIGNER_KID_MAX, "kid-%d", i);
    }
    EXPECT_OK(ak_p256_keygen(F.prev_priv, F.prev_pub));
    ak_buf_init(&F.last_key, 4096);
    ak_buf_init(&F.last_body, 65536);
}

static void s_fake_free(void) {
    ak_buf_free(&F.last_key);
    ak_buf_free(&F.last_body);
}

#define ISS "https://broker.example.com:8443"

/* ---------------------------------------------------------------- bearer */

AK_TEST(test_bearer) {
    ak_cur t;
    EXPECT_OK(ak_svc_bearer(AK_CUR_LIT("Bearer abc.def-_.ghi"), &t));
    EXPECT_TRUE(ak_cur_eq_str(t, "abc.def-_.ghi"));
    EXPECT_OK(ak_svc_bearer(AK_CUR_LIT("bearer x.y.z"), &t));
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_bearer(AK_CUR_LIT("Basic abc"), &t));
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_bearer(AK_CUR_LIT("Bearer "), &t));
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_bearer(AK_CUR_LIT("Bearer  a.b.c"), &t));
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_bearer(AK_CUR_LIT("Bearer a.b.c "), &t));
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_bearer(AK_CUR_LIT("Bearer a+b"), &t));
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_bearer(AK_CUR_LIT(""), &t));
}

/* ---------------------------------------------------------------- deadlines */

AK_TEST(test_deadline_margin) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_init_for_test(&svc, &FAKE_OPS, ISS, "audit");
    int64_t now = ak_http_now_ms();
    ak_svc_begin(&svc, (uint64_t)(now + 3000));
    EXPECT_TRUE(svc.deadline_ms <= now + 3000 - (int64_t)AK_SVC_DEFAULT_MARGIN_MS);
    EXPECT_INT_EQ(svc.rpc.deadline_ms, svc.deadline_ms);
    EXPECT_TRUE(ak_svc_remaining_ms(&svc) <= 2500);
    EXPECT_OK(ak_svc_require_ms(&svc, 10));
    EXPECT_ERR(AK_E_DEADLINE, ak_svc_require_ms(&svc, 100000));
    /* A deadline already inside the margin leaves (almost) nothing, never a negative budget. */
    ak_svc_begin(&svc, (uint64_t)(now + 100));
    EXPECT_TRUE(ak_svc_remaining_ms(&svc) <= 1);
    EXPECT_ERR(AK_E_DEADLINE, ak_svc_require_ms(&svc, 50));
    ak_svc_free(&svc);
    s_fake_free();
}

/* ---------------------------------------------------------------- audit */

AK_TEST(test_audit_write_pending_key_and_create_only) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_init_for_test(&svc, &FAKE_OPS, ISS, "ak-audit");
    ak_svc_begin(&svc, 0);
    ak_omni op;
    memset(op.b, 0xab, 32);
    ak_audit_event ev;
    EXPECT_OK(ak_audit_event_init(&ev, AK_AUDIT_LOGIN, &op, 1760000000000000ull));
    EXPECT_OK(ak_svc_audit_write(&svc, 0, &ev));
    EXPECT_INT_EQ(F.puts, 1);
    EXPECT_STR_EQ(F.last_bucket, "ak-audit");
    EXPECT_TRUE(F.last_inm);
    char want[256];
    snprintf(want, sizeof(want), "audit/pending/%s/%s.json",
             "abababababababababababababababababababababababababababababababab", ev.event_id);
    EXPECT_STR_EQ(ak_buf_cstr(&F.last_key), want);
    json_t *j;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&F.last_body), &j));
    EXPECT_STR_EQ(json_string_value(json_object_get(j, "action")), "login");
    json_decref(j);
    /* Any S3 failure, including a 412 collision, is audit_write_failed (no audit, no access). */
    F.put_err = AK_E_PRECONDITION_FAILED;
    EXPECT_ERR(AK_E_AUDIT_WRITE, ak_svc_audit_write(&svc, 0, &ev));
    F.put_err = AK_E_S3_ERROR;
    EXPECT_ERR(AK_E_AUDIT_WRITE, ak_svc_audit_write(&svc, 0, &ev));
    F.put_err = AK_OK;
    /* An event that does not encode never reaches S3. */
    ev.outcome = AK_CUR_LIT("Not OK");
    int before = F.puts;
    EXPECT_ERR(AK_E_AUDIT_WRITE, ak_svc_audit_write(&svc, 0, &ev));
    EXPECT_INT_EQ(F.puts, before);
    /* No bucket configured: fail closed. */
    ak_svc nob;
    ak_svc_init_for_test(&nob, &FAKE_OPS, ISS, NULL);
    ev.outcome = AK_CUR_LIT("ok");
    EXPECT_ERR(AK_E_AUDIT_WRITE, ak_svc_audit_write(&nob, 0, &ev));
    ak_svc_free(&nob);
    ak_svc_free(&svc);
    s_fake_free();
}

/* ---------------------------------------------------------------- signing */

AK_TEST(test_sign_jws_verifies_and_retries_on_rotation) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_init_for_test(&svc, &FAKE_OPS, ISS, "a");
    ak_buf out;
    ak_buf_init(&out, AK_MAX_JWS);
    char kid[AK_SIGNER_KID_MAX];
    EXPECT_OK(ak_svc_sign_jws(&svc, AK_SIGNER_KEY_CAP, "ak-cap+jwt", AK_CUR_LIT("{\"a\":1}"), &out, kid));
    EXPECT_STR_EQ(kid, "kid-2");
    ak_jws jws;
    EXPECT_OK(ak_jws_parse(ak_buf_cur(&out), &jws));
    EXPECT_TRUE(ak_cur_eq_str(jws.kid, "kid-2"));
    EXPECT_TRUE(ak_cur_eq_str(jws.typ, "ak-cap+jwt"));
    EXPECT_OK(ak_jws_verify_p256(&jws, F.pub[2]));
    EXPECT_ERR(AK_E_TOKEN_INVALID, ak_jws_verify_p256(&jws, F.pub[0]));
    ak_jws_free(&jws);

    /* 409 from the signer: kids refreshed, signed again. */
    ak_buf_clear(&out);
    F.conflict_once = 1;
    F.refreshes = 0;
    EXPECT_OK(ak_svc_sign_jws(&svc, AK_SIGNER_KEY_SESSION, "JWT", AK_CUR_LIT("{}"), &out, NULL));
    EXPECT_INT_EQ(F.refreshes, 1);
    /* The signer signing under another kid than the header names is a sign error. */
    ak_buf_clear(&out);
    F.lie_kid = true;
    EXPECT_ERR(AK_E_SIGN_ERROR,
               ak_svc_sign_jws(&svc, AK_SIGNER_KEY_SESSION, "JWT", AK_CUR_LIT("{}"), &out, NULL));
    EXPECT_INT_EQ(out.len, 0);
    ak_buf_free(&out);
    ak_svc_free(&svc);
    s_fake_free();
}

AK_TEST(test_public_jwks_filters_purpose_and_status) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_init_for_test(&svc, &FAKE_OPS, ISS, "a");
    json_t *arr;
    EXPECT_OK(ak_svc_public_jwks(&svc, AK_SIGNER_KEY_OIDC, false, &arr));
    EXPECT_INT_EQ(json_array_size(arr), 1);
    json_t *k = json_array_get(arr, 0);
    EXPECT_STR_EQ(json_string_value(json_object_get(k, "kid")), "kid-1");
    EXPECT_TRUE(json_is_array(json_object_get(k, "x5c")));
    EXPECT_TRUE(json_object_get(k, "ak_key") == NULL);
    EXPECT_TRUE(json_object_get(k, "ak_status") == NULL);
    json_decref(arr);

    F.have_prev = true;
    EXPECT_OK(ak_svc_public_jwks(&svc, AK_SIGNER_KEY_SESSION, true, &arr));
    EXPECT_INT_EQ(json_array_size(arr), 2);
    EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(arr, 0), "kid")), "kid-0");
    EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(arr, 1), "kid")), "sess-prev");
    json_decref(arr);
    EXPECT_OK(ak_svc_public_jwks(&svc, AK_SIGNER_KEY_SESSION, false, &arr));
    EXPECT_INT_EQ(json_array_size(arr), 1);
    json_decref(arr);

    F.keys_err = AK_E_SIGNER_UNAVAILABLE;
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE, ak_svc_public_jwks(&svc, AK_SIGNER_KEY_SESSION, true, &arr));
    EXPECT_TRUE(arr == NULL);
    ak_svc_free(&svc);
    s_fake_free();
}

static ak_err s_keys_no_current(ak_svc *svc, ak_buf *out) {
    (void)svc;
    return ak_buf_append_str(out, "{\"keys\":[]}");
}
static ak_err s_keys_garbage(ak_svc *svc, ak_buf *out) {
    (void)svc;
    return ak_buf_append_str(
        out, "{\"keys\":[{\"kty\":\"EC\",\"ak_key\":\"session\",\"ak_status\":\"current\"}]}");
}

AK_TEST(test_public_jwks_malformed_signer_answers) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_ops ops = FAKE_OPS;
    ops.keys = s_keys_no_current;
    ak_svc_init_for_test(&svc, &ops, ISS, "a");
    json_t *arr;
    EXPECT_ERR(AK_E_UPSTREAM, ak_svc_public_jwks(&svc, AK_SIGNER_KEY_SESSION, true, &arr));
    svc.ops.keys = s_keys_garbage;
    EXPECT_ERR(AK_E_UPSTREAM, ak_svc_public_jwks(&svc, AK_SIGNER_KEY_SESSION, true, &arr));
    ak_svc_free(&svc);
    s_fake_free();
}

/* ---------------------------------------------------------------- sessions */

static void s_session(ak_session *s, ak_session_kind kind, uint64_t now) {
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    for (int i = 0; i < 20; i++)
        s->wallet[i] = (uint8_t)(i + 1);
    ak_device_key_hash(s->wallet, s->device_key_hash);
    ak_omni_from_address(s->wallet, &s->omni_account);
    if (kind == AK_SESSION_MASTER)
        s->operator_omni = s->omni_account;
    else
        memset(s->operator_omni.b, 0x77, 32);
    s->iat = now;
    s->exp = now + 600;
    snprintf(s->jti, sizeof(s->jti), "jti-1");
}

/* Signs claims with the given key/kid (bypassing the svc) so tests can forge variants. */
static void s_mint(json_t *claims, const uint8_t priv[32], const char *kid, const char *typ, ak_buf *out) {
    ak_buf_clear(out);
    EXPECT_OK(ak_jwt_sign_es256(kid, typ, claims, ak_jws_sign_local, (void *)priv, out));
}

AK_TEST(test_session_roundtrip_master_and_agent) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_init_for_test(&svc, &FAKE_OPS, ISS, "a");
    uint64_t now = (uint64_t)time(NULL);
    ak_buf tok;
    ak_buf_init(&tok, AK_MAX_JWS);
    for (int k = 0; k < 2; k++) {
        ak_session s, got;
        s_session(&s, k == 0 ? AK_SESSION_MASTER : AK_SESSION_AGENT, now);
        json_t *c;
        EXPECT_OK(ak_session_claims(&s, ISS, &c));
        ak_buf_clear(&tok);
        EXPECT_OK(ak_svc_sign_jwt(&svc, AK_SIGNER_KEY_SESSION, "JWT", c, &tok, NULL));
        json_decref(c);
        EXPECT_OK(ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
        EXPECT_INT_EQ(got.kind, s.kind);
        EXPECT_TRUE(ak_omni_eq(&got.omni_account, &s.omni_account));
        EXPECT_TRUE(ak_omni_eq(&got.operator_omni, &s.operator_omni));
        EXPECT_BYTES_EQ(got.wallet, 20, s.wallet, 20);
        EXPECT_BYTES_EQ(got.device_key_hash, 32, s.device_key_hash, 32);
        EXPECT_STR_EQ(got.jti, "jti-1");
    }
    /* Keys are cached: one JWKS fetch for both verifications. */
    EXPECT_INT_EQ(F.keys_calls, 1);
    ak_buf_free(&tok);
    ak_svc_free(&svc);
    s_fake_free();
}

AK_TEST(test_session_refusals) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_init_for_test(&svc, &FAKE_OPS, ISS, "a");
    uint64_t now = (uint64_t)time(NULL);
    ak_buf tok;
    ak_buf_init(&tok, AK_MAX_JWS);
    ak_session s, got;
    json_t *c;
    s_session(&s, AK_SESSION_MASTER, now);

    /* good baseline */
    EXPECT_OK(ak_session_claims(&s, ISS, &c));
    s_mint(c, F.priv[0], "kid-0", "JWT", &tok);
    EXPECT_OK(ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    /* expired (past the 60 s leeway) */
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now + 600 + 61, &got));
    /* wrong key under the right kid; the OIDC key never verifies sessions */
    s_mint(c, F.priv[1], "kid-0", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    s_mint(c, F.priv[1], "kid-1", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    /* wrong typ */
    s_mint(c, F.priv[0], "kid-0", "ak-cap+jwt", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    /* wrong issuer, wrong audience */
    json_object_set_new(c, "iss", json_string("https://evil.example"));
    s_mint(c, F.priv[0], "kid-0", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    json_object_set_new(c, "iss", json_string(ISS));
    json_object_set_new(c, "aud", json_string("sts.amazonaws.com"));
    s_mint(c, F.priv[0], "kid-0", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    json_object_set_new(c, "aud", json_string(AK_SESSION_AUD));
    /* a master session whose operator is not itself */
    json_object_set_new(c, "agentkeys.operator_omni",
                        json_string("7777777777777777777777777777777777777777777777777777777777777777"));
    s_mint(c, F.priv[0], "kid-0", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    json_decref(c);
    /* device_key_hash not the wallet's */
    EXPECT_OK(ak_session_claims(&s, ISS, &c));
    json_object_set_new(c, "agentkeys.device_key_hash",
                        json_string("0x1468288056310c82aa4c01a7e12a10f8111a0560e72b700555479031b86c357d"));
    s_mint(c, F.priv[0], "kid-0", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    json_decref(c);
    /* unknown kind; sub not matching */
    EXPECT_OK(ak_session_claims(&s, ISS, &c));
    json_object_set_new(c, "agentkeys.session_kind", json_string("root"));
    s_mint(c, F.priv[0], "kid-0", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    json_object_set_new(c, "agentkeys.session_kind", json_string("master"));
    json_object_set_new(c, "sub", json_string("agentkeys:agent:x"));
    s_mint(c, F.priv[0], "kid-0", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    json_decref(c);
    /* garbage */
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, AK_CUR_LIT("a.b.c"), now, &got));
    ak_buf_free(&tok);
    ak_svc_free(&svc);
    s_fake_free();
}

AK_TEST(test_session_previous_kid_and_refresh_rate_limit) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_init_for_test(&svc, &FAKE_OPS, ISS, "a");
    uint64_t now = (uint64_t)time(NULL);
    ak_buf tok;
    ak_buf_init(&tok, AK_MAX_JWS);
    ak_session s, got;
    json_t *c;
    s_session(&s, AK_SESSION_AGENT, now);
    EXPECT_OK(ak_session_claims(&s, ISS, &c));
    /* A token under a kid the cache lacks: the first unknown kid loads (cold cache)... */
    s_mint(c, F.prev_priv, "sess-prev", "JWT", &tok);
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    EXPECT_INT_EQ(F.keys_calls, 1);
    /* ...and a rotation appearing right after is picked up only after the refresh interval. */
    F.have_prev = true;
    EXPECT_ERR(AK_E_UNAUTHORIZED, ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    EXPECT_INT_EQ(F.keys_calls, 1);
    svc.session_keys_at_ms -= AK_SVC_KEYS_REFRESH_MIN_MS;
    EXPECT_OK(ak_svc_verify_session(&svc, ak_buf_cur(&tok), now, &got));
    EXPECT_INT_EQ(F.keys_calls, 2);
    /* The signer being down while keys must be fetched is not a 401. */
    ak_svc svc2;
    ak_svc_init_for_test(&svc2, &FAKE_OPS, ISS, "a");
    F.keys_err = AK_E_SIGNER_UNAVAILABLE;
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE, ak_svc_verify_session(&svc2, ak_buf_cur(&tok), now, &got));
    json_decref(c);
    ak_buf_free(&tok);
    ak_svc_free(&svc2);
    ak_svc_free(&svc);
    s_fake_free();
}

/* ---------------------------------------------------------------- env configuration */

static void s_clear_env(void) {
    static const char *vars[] = {"AWS_REGION",
                                 "AWS_DEFAULT_REGION",
                                 "AWS_ACCESS_KEY_ID",
                                 "AWS_SECRET_ACCESS_KEY",
                                 "AWS_SESSION_TOKEN",
                                 "AK_S3_ENDPOINT",
                                 "AK_CHAIN_RPC_URL",
                                 "AK_CHAIN_ID",
                                 "AK_REGISTRY_ADDRESS",
                                 "AK_SCOPE_ADDRESS",
                                 "AK_EPOCH_ADDRESS",
                                 "AK_ISSUER",
                                 "AK_AUDIT_BUCKET",
                                 "AK_SIGNER_URL",
                                 "AK_SIGNER_CA_PEM",
                                 "AK_SIGNER_CLIENT_CERT",
                                 "AK_SIGNER_CLIENT_KEY",
                                 "AK_SIGNER_CLIENT_SECRET_ARN",
                                 "AK_SIGNER_ATTEST_PUB",
                                 "AK_SIGNER_MEASUREMENT",
                                 "AK_DEADLINE_MARGIN_MS",
                                 "AK_SIGNER_ATTESTATION",
                                 "AK_SIGNER_PCR0",
                                 "AK_SIGNER_NITRO_ROOT"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

AK_TEST(test_init_from_env) {
    ak_svc svc;
    s_clear_env();
    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_S3));
    setenv("AWS_REGION", "us-east-1", 1);
    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_S3)); /* no credentials */
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    setenv("AK_S3_ENDPOINT", "http://127.0.0.1:7480", 1);
    EXPECT_OK(ak_svc_init(&svc, AK_SVC_S3));
    EXPECT_TRUE(svc.has_s3 && svc.s3.path_style);
    ak_svc_free(&svc);

    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_CHAIN));
    setenv("AK_CHAIN_RPC_URL", "http://127.0.0.1:8545", 1);
    setenv("AK_CHAIN_ID", "31337", 1);
    setenv("AK_REGISTRY_ADDRESS", "0x5FbDB2315678afecb367f032d93F642f64180aa3", 1);
    setenv("AK_SCOPE_ADDRESS", "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", 1);
    setenv("AK_EPOCH_ADDRESS", "0xnot-an-address", 1);
    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_CHAIN));
    setenv("AK_EPOCH_ADDRESS", "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0", 1);
    setenv("AK_CHAIN_ID", "0", 1);
    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_CHAIN));
    setenv("AK_CHAIN_ID", "31337", 1);
    EXPECT_OK(ak_svc_init(&svc, AK_SVC_CHAIN));
    EXPECT_INT_EQ(svc.chain_id, 31337);
    EXPECT_INT_EQ(svc.registry[0], 0x5f);
    ak_svc_free(&svc);

    setenv("AK_ISSUER", "https://broker.example.com/", 1); /* trailing slash refused */
    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_ISSUER));
    setenv("AK_ISSUER", "https://broker.example.com", 1);
    EXPECT_OK(ak_svc_init(&svc, AK_SVC_ISSUER));
    EXPECT_STR_EQ(svc.issuer, "https://broker.example.com");
    ak_svc_free(&svc);

    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_AUDIT));
    setenv("AK_AUDIT_BUCKET", "ak-audit", 1);
    EXPECT_OK(ak_svc_init(&svc, AK_SVC_AUDIT));
    EXPECT_TRUE(svc.has_s3); /* audit implies S3 */
    ak_svc_free(&svc);

    /* The signer group: no client identity at all is a config error naming no secret. */
    setenv("AK_SIGNER_URL", "https://localhost:1", 1);
    setenv("AK_SIGNER_CA_PEM", "/nonexistent/ca.pem", 1);
    setenv("AK_SIGNER_ATTEST_PUB", "/nonexistent/attest.pub", 1);
    setenv("AK_SIGNER_MEASUREMENT", "00", 1);
    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_SIGNER));
    setenv("AK_DEADLINE_MARGIN_MS", "abc", 1);
    EXPECT_ERR(AK_E_CONFIG, ak_svc_init(&svc, AK_SVC_S3));
    s_clear_env();
    ak_http_global_cleanup();
}

/* ---------------------------------------------------------------- Secrets Manager (client identity) */

/* A one-request HTTP server: records the request, answers `reply`. */
typedef struct {
    int lfd, port;
    const char *reply;
    char req[16384];
    long req_len;
    pthread_t th;
} s_sm;

/* Serves every connection (a retried request comes back) until the listener is shut down. */
static void *s_sm_serve(void *arg) {
    s_sm *s = arg;
    int fd;
    while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
        memset(s->req, 0, sizeof(s->req));
        size_t len = 0, want = 0;
        long head_end = -1;
        while (len < sizeof(s->req) - 1) {
            ssize_t r = recv(fd, s->req + len, sizeof(s->req) - 1 - len, 0);
            if (r <= 0) break;
            len += (size_t)r;
            s->req[len] = 0;
            if (head_end < 0) {
                char *e = strstr(s->req, "\r\n\r\n");
                if (e == NULL) continue;
                head_end = (e - s->req) + 4;
                char *cl = strcasestr(s->req, "content-length: ");
                size_t body = 0;
                if (cl)
                    for (cl += 16; *cl >= '0' && *cl <= '9'; cl++)
                        body = body * 10 + (size_t)(*cl - '0');
                want = (size_t)head_end + body;
            }
            if (head_end >= 0 && len >= want) break;
        }
        s->req_len = (long)len;
        size_t n = strlen(s->reply);
        while (n > 0) {
            ssize_t w = send(fd, s->reply, n, MSG_NOSIGNAL);
            if (w <= 0) break;
            n -= (size_t)w;
        }
        close(fd);
    }
    return NULL;
}

static void s_sm_start(s_sm *s, const char *reply) {
    memset(s, 0, sizeof(*s));
    s->reply = reply;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(listen(s->lfd, 4), 0);
    assert_int_equal(pthread_create(&s->th, NULL, s_sm_serve, s), 0);
}

static void s_sm_stop(s_sm *s) {
    shutdown(s->lfd, SHUT_RDWR);
    close(s->lfd);
    pthread_join(s->th, NULL);
}

static int s_count_tmp(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "ak-svc-", 7) == 0) n++;
    if (d) closedir(d);
    return n;
}

static char s_reply[4096];

static ak_err s_init_with_secret(const char *status, const char *body, s_sm *srv) {
    char ep[64];
    snprintf(s_reply, sizeof(s_reply),
             "HTTP/1.1 %s\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             status, strlen(body), body);
    s_sm_start(srv, s_reply);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", srv->port);
    setenv("AK_SECRETS_ENDPOINT", ep, 1);
    ak_svc svc;
    ak_err rc = ak_svc_init(&svc, AK_SVC_SIGNER);
    s_sm_stop(srv);
    return rc;
}

AK_TEST(test_client_identity_from_secrets_manager) {
    s_clear_env();
    char dir[] = "/tmp/ak-svc-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("TMPDIR", dir, 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    setenv("AWS_SESSION_TOKEN", "session-token", 1);
    setenv("AK_SIGNER_URL", "https://localhost:1", 1);
    setenv("AK_SIGNER_CA_PEM", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 1);
    setenv("AK_SIGNER_ATTEST_PUB", "00", 1);
    setenv("AK_SIGNER_MEASUREMENT", "00", 1);
    setenv("AK_SIGNER_CLIENT_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:broker", 1);
    s_sm srv;

    /* A well-formed secret: the request is a SigV4-signed GetSecretValue; the PEMs reach
     * ak_signer_new through private temp files (it then refuses this fake material), and no
     * temp file survives. */
    const char *ok =
        "{\"Name\":\"b\",\"SecretString\":\"{\\\"cert_pem\\\":\\\"-----BEGIN CERTIFICATE-----\\\","
        "\\\"key_pem\\\":\\\"-----BEGIN PRIVATE KEY-----\\\"}\"}";
    ak_err rc = s_init_with_secret("200 OK", ok, &srv);
    EXPECT_TRUE(rc == AK_E_CONFIG || rc == AK_E_BAD_KEY);
    EXPECT_TRUE(strncmp(srv.req, "POST / HTTP/1.1\r\n", 17) == 0);
    EXPECT_TRUE(strcasestr(srv.req, "x-amz-target: secretsmanager.GetSecretValue") != NULL);
    EXPECT_TRUE(strcasestr(srv.req, "content-type: application/x-amz-json-1.1") != NULL);
    EXPECT_TRUE(strcasestr(srv.req, "x-amz-security-token: session-token") != NULL);
    EXPECT_TRUE(strstr(srv.req, "Credential=AKIDEXAMPLE/") != NULL);
    EXPECT_TRUE(strstr(srv.req, "/eu-west-1/secretsmanager/aws4_request") != NULL);
    EXPECT_TRUE(strstr(srv.req, "{\"SecretId\":\"arn:aws:secretsmanager:eu-west-1:1:secret:broker\"}") !=
                NULL);
    EXPECT_INT_EQ(s_count_tmp(dir), 0);

    /* A secret of the wrong shape, a 4xx and a 5xx. */
    EXPECT_ERR(AK_E_CONFIG,
               s_init_with_secret("200 OK", "{\"SecretString\":\"no pem in here at all\"}", &srv));
    EXPECT_ERR(AK_E_CONFIG, s_init_with_secret("400 Bad Request", "{}", &srv));
    EXPECT_ERR(AK_E_UPSTREAM, s_init_with_secret("500 Internal Server Error", "{}", &srv));
    EXPECT_INT_EQ(s_count_tmp(dir), 0);
    rmdir(dir);
    unsetenv("TMPDIR");
    unsetenv("AK_SECRETS_ENDPOINT");
    s_clear_env();
    ak_http_global_cleanup();
}

/* ---------------------------------------------------------------- session device on chain */

/* A one-device chain: getDevice answers D (or an all-zero entry for any other key). */
static struct {
    uint8_t dkh[32];
    ak_device_entry d;
    bool down;
    int calls;
} CH;

static ak_err s_chain(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    (void)ctx;
    (void)deadline_ms;
    CH.calls++;
    if (CH.down) return AK_E_UPSTREAM;
    json_t *req;
    EXPECT_OK(ak_json_parse_object(request, &req));
    const char *data =
        json_string_value(json_object_get(json_array_get(json_object_get(req, "params"), 0), "data"));
    ak_buf raw;
    ak_buf_init(&raw, 256);
    EXPECT_OK(ak_hex_decode_buf(ak_cur_from_str(data), true, &raw));
    uint8_t w[11 * 32];
    memset(w, 0, sizeof(w));
    if (raw.len == 36 && memcmp(raw.ptr + 4, CH.dkh, 32) == 0) {
        memcpy(w, CH.d.operator_omni, 32);
        memcpy(w + 32, CH.d.actor_omni, 32);
        w[6 * 32 + 31] = CH.d.tier;
        w[7 * 32 + 31] = CH.d.roles;
        w[8 * 32 + 31] = (uint8_t)CH.d.registered_at;
        w[10 * 32 + 31] = CH.d.revoked ? 1 : 0;
    }
    ak_buf_free(&raw);
    EXPECT_OK(ak_buf_printf(body, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":\"0x",
                            (long long)json_integer_value(json_object_get(req, "id"))));
    EXPECT_OK(ak_buf_append_hex(body, w, sizeof(w)));
    EXPECT_OK(ak_buf_append_str(body, "\"}"));
    json_decref(req);
    *status = 200;
    return AK_OK;
}

/* Issue 16 findings 2 and 6: the device behind a session, re-read on chain. */
AK_TEST(test_check_session_device) {
    ak_svc svc;
    s_fake_reset();
    ak_svc_init_for_test(&svc, &FAKE_OPS, ISS, "a");
    svc.rpc.transport = s_chain;
    memset(&CH, 0, sizeof(CH));
    ak_session m, a;
    s_session(&m, AK_SESSION_MASTER, 1000);
    s_session(&a, AK_SESSION_AGENT, 1000);
    memcpy(CH.dkh, m.device_key_hash, 32);
    ak_device_entry got;
    /* unregistered (a fresh wallet's master session of itself) */
    EXPECT_ERR(AK_E_DEVICE_NOT_REGISTERED, ak_svc_check_session_device(&svc, &m, &got));
    EXPECT_INT_EQ(got.registered_at, 0);
    /* an active master device of the session's operator */
    memcpy(CH.d.operator_omni, m.operator_omni.b, 32);
    memcpy(CH.d.actor_omni, m.omni_account.b, 32);
    CH.d.tier = AK_DEVICE_TIER_MASTER;
    CH.d.roles = 7;
    CH.d.registered_at = 5;
    EXPECT_OK(ak_svc_check_session_device(&svc, &m, &got));
    EXPECT_INT_EQ(got.tier, AK_DEVICE_TIER_MASTER);
    EXPECT_OK(ak_svc_check_session_device(&svc, &m, NULL));
    /* revoked after the session was issued */
    CH.d.revoked = true;
    EXPECT_ERR(AK_E_DEVICE_REVOKED, ak_svc_check_session_device(&svc, &m, &got));
    EXPECT_INT_EQ(got.registered_at, 5);
    CH.d.revoked = false;
    /* another operator's device; an agent device behind a master session */
    CH.d.operator_omni[0] ^= 1;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, ak_svc_check_session_device(&svc, &m, NULL));
    CH.d.operator_omni[0] ^= 1;
    CH.d.tier = AK_DEVICE_TIER_AGENT;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, ak_svc_check_session_device(&svc, &m, NULL));
    /* an agent session: its own agent device of its operator and actor */
    memcpy(CH.dkh, a.device_key_hash, 32);
    memcpy(CH.d.operator_omni, a.operator_omni.b, 32);
    memcpy(CH.d.actor_omni, a.omni_account.b, 32);
    EXPECT_OK(ak_svc_check_session_device(&svc, &a, NULL));
    CH.d.actor_omni[31] ^= 1;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, ak_svc_check_session_device(&svc, &a, NULL));
    CH.d.actor_omni[31] ^= 1;
    CH.d.tier = AK_DEVICE_TIER_MASTER;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, ak_svc_check_session_device(&svc, &a, NULL));
    /* chain down: fail closed */
    CH.down = true;
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_svc_check_session_device(&svc, &a, NULL));
    EXPECT_TRUE(CH.calls > 0);
    ak_svc_free(&svc);
    s_fake_free();
}

AK_RUN_TESTS(AK_T(test_client_identity_from_secrets_manager), AK_T(test_check_session_device),
             AK_T(test_bearer), AK_T(test_deadline_margin),
             AK_T(test_audit_write_pending_key_and_create_only),
             AK_T(test_sign_jws_verifies_and_retries_on_rotation),
             AK_T(test_public_jwks_filters_purpose_and_status),
             AK_T(test_public_jwks_malformed_signer_answers), AK_T(test_session_roundtrip_master_and_agent),
             AK_T(test_session_refusals), AK_T(test_session_previous_kid_and_refresh_rate_limit),
             AK_T(test_init_from_env))
