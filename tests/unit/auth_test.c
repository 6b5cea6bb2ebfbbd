/*
 * auth_test.c — AuthFunction's handler (functions/auth) against fakes: the exact SIWE message,
 * the stored challenge, every login refusal with its reason, D16 session kinds, the session
 * JWT's claims and signature, and the audit event.
 */
#include "../../functions/auth/auth.c"

#include "test.h"

#include <stdlib.h>

#include "ak/siwe.h"
#include "broker_fakes.h"

static auth_fn A;

static void s_setup(void) {
    memset(&A, 0, sizeof(A));
    bf_reset(&A.svc);
    setenv("AK_STATE_BUCKET", "ak-state", 1);
    unsetenv("AK_SESSION_TTL_SECONDS");
    A.now_us = bf_now_us;
    EXPECT_OK(auth_configure(&A));
}

static void s_teardown(void) { bf_free(&A.svc); }

/* POST start for a wallet; returns request_id and message (static storage). */
static void t_start(const bf_wallet *w, char rid[64], ak_buf *msg) {
    char addr[43], body[256];
    ak_eth_address_hex(w->addr, addr);
    snprintf(body, sizeof(body), "{\"address\":\"%s\",\"chain_id\":31337}", addr);
    bf_call c;
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL, body);
    EXPECT_INT_EQ(c.status, 200);
    snprintf(rid, 64, "%s", bf_str(&c, "request_id"));
    ak_buf_clear(msg);
    EXPECT_OK(ak_buf_append_str(msg, bf_str(&c, "siwe_message")));
    bf_call_free(&c);
}

static void s_sign(const uint8_t sk[32], ak_cur msg, char out[133]) {
    uint8_t d[32], sig[65];
    ak_eip191_hash(msg.ptr, msg.len, d);
    EXPECT_OK(ak_secp256k1_sign(sk, d, sig));
    out[0] = '0';
    out[1] = 'x';
    ak_hex_encode(sig, 65, out + 2);
}

static void t_verify(bf_call *c, const char *rid, const char *sig, const char *message) {
    json_t *b = json_pack("{s:s, s:s}", "request_id", rid, "signature", sig);
    if (message) json_object_set_new(b, "message", json_string(message));
    char *t = json_dumps(b, JSON_COMPACT);
    bf_invoke(c, auth_handle, &A, "POST", "/v1/auth/wallet/verify", NULL, t);
    ak_free(t);
    json_decref(b);
}

AK_TEST(test_start_exact_message_and_pending_record) {
    s_setup();
    bf_wallet w;
    bf_wallet_make(&w, 1);
    char rid[64], addr[43];
    ak_buf msg;
    ak_buf_init(&msg, 8192);
    t_start(&w, rid, &msg);
    ak_eth_address_eip55(w.addr, addr); /* EIP-4361: the checksummed address */
    EXPECT_INT_EQ(strlen(rid), 37);
    EXPECT_TRUE(strncmp(rid, "siwe-", 5) == 0);
    char want[2048];
    ak_siwe_msg m;
    EXPECT_OK(ak_siwe_parse(ak_buf_cur(&msg), &m));
    snprintf(
        want, sizeof(want),
        "broker.test:8443 wants you to sign in with your Ethereum account:\n%s\n\n"
        "Authenticate with AgentKeys broker.\n\nURI: https://broker.test:8443\nVersion: 1\nChain ID: 31337\n"
        "Nonce: %.*s\nIssued At: 2026-01-01T00:00:00Z\nExpiration Time: 2026-01-01T00:45:00Z\nResources:\n"
        "- urn:agentkeys:client:agentkeys",
        addr, (int)m.nonce.len, (const char *)m.nonce.ptr);
    EXPECT_STR_EQ(ak_buf_cstr(&msg), want);
    EXPECT_INT_EQ(m.nonce.len, 32);
    char key[128];
    snprintf(key, sizeof(key), "siwe/pending/%s.json", rid);
    bf_obj *o = bf_find("ak-state", key);
    assert_non_null(o);
    json_t *rec;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&o->body), &rec));
    EXPECT_STR_EQ(json_string_value(json_object_get(rec, "message")), ak_buf_cstr(&msg));
    EXPECT_INT_EQ(json_integer_value(json_object_get(rec, "expires_at")), 1767225600 + 2700);
    json_decref(rec);
    ak_buf_free(&msg);
    s_teardown();
}

AK_TEST(test_start_refusals) {
    s_setup();
    bf_call c;
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL,
              "{\"address\":\"0x0000000000000000000000000000000000000001\",\"chain_id\":1}");
    BF_EXPECT_REASON(&c, AK_E_INVALID_INPUT); /* wrong chain id at start: 400 (documented) */
    bf_call_free(&c);
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL,
              "{\"address\":\"0x01\",\"chain_id\":31337}");
    BF_EXPECT_REASON(&c, AK_E_INVALID_ADDRESS);
    bf_call_free(&c);
    /* EIP-55: a mixed-case address with a wrong checksum is refused; one case only is not a claim */
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL,
              "{\"address\":\"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD\",\"chain_id\":31337}");
    BF_EXPECT_REASON(&c, AK_E_INVALID_ADDRESS);
    bf_call_free(&c);
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL,
              "{\"address\":\"0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED\",\"chain_id\":31337}");
    EXPECT_INT_EQ(c.status, 200);
    EXPECT_TRUE(strstr(bf_str(&c, "siwe_message"), "\n0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n") != NULL);
    bf_call_free(&c);
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL,
              "{\"address\":\"0x0000000000000000000000000000000000000001\",\"chain_id\":31337,\"x\":1}");
    BF_EXPECT_REASON(&c, AK_E_UNKNOWN_FIELD);
    bf_call_free(&c);
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL,
              "{\"address\":\"0x0000000000000000000000000000000000000001\"}");
    BF_EXPECT_REASON(&c, AK_E_MISSING_FIELD);
    bf_call_free(&c);
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL, "not json");
    BF_EXPECT_REASON(&c, AK_E_INVALID_JSON);
    bf_call_free(&c);
    bf_invoke(&c, auth_handle, &A, "GET", "/v1/auth/wallet/start", NULL, NULL);
    EXPECT_INT_EQ(c.status, 405); /* built by the handler itself, with `allow` */
    EXPECT_STR_EQ(bf_str(&c, "reason"), "method_not_allowed");
    bf_call_free(&c);
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/other", NULL, "{}");
    BF_EXPECT_REASON(&c, AK_E_ROUTE_NOT_FOUND);
    bf_call_free(&c);
    /* State bucket down: no challenge issued. */
    BF.put_err = AK_E_S3_ERROR;
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/start", NULL,
              "{\"address\":\"0x0000000000000000000000000000000000000001\",\"chain_id\":31337}");
    BF_EXPECT_REASON(&c, AK_E_S3_ERROR);
    bf_call_free(&c);
    s_teardown();
}

/* Logs in; returns the parsed session (verified through the svc as the other functions do). */
static void s_login_ok(const bf_wallet *w, ak_session *s, bf_call *c) {
    char rid[64], sig[133];
    ak_buf msg;
    ak_buf_init(&msg, 8192);
    t_start(w, rid, &msg);
    s_sign(w->sk, ak_buf_cur(&msg), sig);
    t_verify(c, rid, sig, NULL);
    if (c->rc != AK_OK) fail_msg("login: %s", ak_err_reason(c->rc));
    EXPECT_INT_EQ(c->status, 200);
    EXPECT_OK(
        ak_svc_verify_session(&A.svc, ak_cur_from_str(bf_str(c, "session_jwt")), BF.now_us / 1000000u, s));
    ak_buf_free(&msg);
}

AK_TEST(test_fresh_wallet_gets_master_session_of_itself) {
    s_setup();
    bf_wallet w;
    bf_wallet_make(&w, 2);
    ak_session s;
    bf_call c;
    s_login_ok(&w, &s, &c);
    EXPECT_INT_EQ(s.kind, AK_SESSION_MASTER);
    EXPECT_TRUE(ak_omni_eq(&s.omni_account, &w.omni));
    EXPECT_TRUE(ak_omni_eq(&s.operator_omni, &w.omni));
    EXPECT_BYTES_EQ(s.device_key_hash, 32, w.dkh, 32);
    EXPECT_INT_EQ(s.exp - s.iat, 18000);
    EXPECT_STR_EQ(bf_str(&c, "session_kind"), "master");
    EXPECT_STR_EQ(bf_str(&c, "identity_type"), "evm");
    EXPECT_STR_EQ(bf_str(&c, "session_jwt_kid"), "ak-session-1");
    char hex[65];
    ak_omni_hex(&w.omni, hex);
    EXPECT_STR_EQ(bf_str(&c, "omni_account"), hex);
    /* The JWT header and claims as broker.md §4 names them. */
    ak_jws jws;
    EXPECT_OK(ak_jws_parse(ak_cur_from_str(bf_str(&c, "session_jwt")), &jws));
    EXPECT_TRUE(ak_cur_eq_str(jws.typ, "JWT"));
    EXPECT_OK(ak_jws_verify_p256(&jws, BF.pub[AK_SIGNER_KEY_SESSION]));
    EXPECT_STR_EQ(json_string_value(json_object_get(jws.claims, "aud")), "agentkeys:broker");
    EXPECT_STR_EQ(json_string_value(json_object_get(jws.claims, "iss")), BF_ISSUER);
    ak_jws_free(&jws);
    /* One login audit event under the operator, and the nonce marker. */
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "audit/pending/%s/", hex);
    EXPECT_INT_EQ(bf_count_prefix(BF_AUDIT, prefix), 1);
    EXPECT_INT_EQ(bf_count_prefix("ak-state", "siwe/used/"), 1);
    bf_call_free(&c);
    s_teardown();
}

AK_TEST(test_registered_devices_d16) {
    s_setup();
    bf_wallet master, agent, other;
    bf_wallet_make(&master, 3);
    bf_wallet_make(&agent, 4);
    bf_wallet_make(&other, 5);
    ak_omni op = master.omni;
    /* a second master device of O (its own omni is not O) */
    bf_add_device(other.dkh, &op, &op, AK_DEVICE_TIER_MASTER, 3, false);
    bf_add_device(agent.dkh, &op, &agent.omni, AK_DEVICE_TIER_AGENT, 1, false);
    ak_session s;
    bf_call c;
    s_login_ok(&other, &s, &c);
    EXPECT_INT_EQ(s.kind, AK_SESSION_MASTER);
    EXPECT_TRUE(ak_omni_eq(&s.omni_account, &op));
    EXPECT_TRUE(ak_omni_eq(&s.operator_omni, &op));
    bf_call_free(&c);
    s_login_ok(&agent, &s, &c);
    EXPECT_INT_EQ(s.kind, AK_SESSION_AGENT);
    EXPECT_TRUE(ak_omni_eq(&s.omni_account, &agent.omni));
    EXPECT_TRUE(ak_omni_eq(&s.operator_omni, &op));
    EXPECT_STR_EQ(bf_str(&c, "session_kind"), "agent");
    bf_call_free(&c);
    s_teardown();
}

static void s_login_refused(const bf_wallet *w, ak_err want) {
    char rid[64], sig[133];
    ak_buf msg;
    ak_buf_init(&msg, 8192);
    t_start(w, rid, &msg);
    s_sign(w->sk, ak_buf_cur(&msg), sig);
    bf_call c;
    t_verify(&c, rid, sig, NULL);
    BF_EXPECT_REASON(&c, want);
    bf_call_free(&c);
    ak_buf_free(&msg);
}

AK_TEST(test_device_refusals_and_upstreams) {
    s_setup();
    bf_wallet rev, bad, w;
    bf_wallet_make(&rev, 6);
    bf_wallet_make(&bad, 7);
    bf_wallet_make(&w, 8);
    bf_add_device(rev.dkh, &rev.omni, &rev.omni, AK_DEVICE_TIER_AGENT, 1, true);
    bf_add_device(bad.dkh, &w.omni, &w.omni, AK_DEVICE_TIER_AGENT, 1, false); /* actor is not omni(addr) */
    s_login_refused(&rev, AK_E_DEVICE_REVOKED);
    s_login_refused(&bad, AK_E_DEVICE_BINDING_MISMATCH);
    BF.chain_down = true;
    s_login_refused(&w, AK_E_CHAIN_RPC);
    BF.chain_down = false;
    BF.fail_prefix = "audit/";
    BF.put_err_prefix = AK_E_S3_ERROR;
    s_login_refused(&w, AK_E_AUDIT_WRITE);
    BF.fail_prefix = NULL;
    BF.sign_err = AK_E_SIGNER_UNAVAILABLE;
    s_login_refused(&w, AK_E_SIGNER_UNAVAILABLE);
    s_teardown();
}

AK_TEST(test_siwe_refusals) {
    s_setup();
    bf_wallet w, mallory;
    bf_wallet_make(&w, 9);
    bf_wallet_make(&mallory, 10);
    char rid[64], sig[133];
    ak_buf msg, alt;
    ak_buf_init(&msg, 8192);
    ak_buf_init(&alt, 8192);
    bf_call c;

    /* replayed nonce */
    t_start(&w, rid, &msg);
    s_sign(w.sk, ak_buf_cur(&msg), sig);
    t_verify(&c, rid, sig, NULL);
    EXPECT_INT_EQ(c.status, 200);
    bf_call_free(&c);
    t_verify(&c, rid, sig, NULL);
    BF_EXPECT_REASON(&c, AK_E_SIWE_NONCE);
    bf_call_free(&c);

    /* signature by another key (and it burns the challenge: one attempt per nonce) */
    t_start(&w, rid, &msg);
    s_sign(mallory.sk, ak_buf_cur(&msg), sig);
    t_verify(&c, rid, sig, NULL);
    BF_EXPECT_REASON(&c, AK_E_SIWE_SIGNATURE);
    bf_call_free(&c);
    s_sign(w.sk, ak_buf_cur(&msg), sig);
    t_verify(&c, rid, sig, NULL);
    BF_EXPECT_REASON(&c, AK_E_SIWE_NONCE);
    bf_call_free(&c);

    /* expired: the clock passes the 2700 s TTL */
    t_start(&w, rid, &msg);
    s_sign(w.sk, ak_buf_cur(&msg), sig);
    uint64_t saved = BF.now_us;
    BF.now_us += 2700ull * 1000000u;
    t_verify(&c, rid, sig, NULL);
    BF_EXPECT_REASON(&c, AK_E_SIWE_EXPIRED);
    bf_call_free(&c);
    BF.now_us = saved;

    /* the message the wallet signed names another chain / another domain / another URI */
    const char *subs[][3] = {
        {"Chain ID: 31337", "Chain ID: 1", "siwe_chain_mismatch"},
        {"broker.test:8443 wants", "evil.test:8443 wants", "siwe_domain_mismatch"},
        {"URI: https://broker.test:8443", "URI: https://evil.test", "siwe_domain_mismatch"},
        {"Expiration Time: 2026-01-01T00:45:00Z", "Expiration Time: 2025-01-01T00:45:00Z", "siwe_expired"},
        {"Authenticate with AgentKeys broker.", "Send all funds.", "siwe_signature_invalid"},
        {"URI: ", "URI ", "siwe_malformed"},
    };
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        t_start(&w, rid, &msg);
        const char *p = strstr(ak_buf_cstr(&msg), subs[i][0]);
        assert_non_null(p);
        ak_buf_clear(&alt);
        EXPECT_OK(ak_buf_append(&alt, msg.ptr, (size_t)(p - (const char *)msg.ptr)));
        EXPECT_OK(ak_buf_append_str(&alt, subs[i][1]));
        EXPECT_OK(ak_buf_append_str(&alt, p + strlen(subs[i][0])));
        s_sign(w.sk, ak_buf_cur(&alt), sig);
        t_verify(&c, rid, sig, ak_buf_cstr(&alt));
        if (strcmp(bf_str(&c, "reason"), subs[i][2]) != 0) fail_msg("case %zu: %s", i, bf_str(&c, "reason"));
        bf_call_free(&c);
    }
    /* the signed message sent back unchanged works */
    t_start(&w, rid, &msg);
    s_sign(w.sk, ak_buf_cur(&msg), sig);
    t_verify(&c, rid, sig, ak_buf_cstr(&msg));
    EXPECT_INT_EQ(c.status, 200);
    bf_call_free(&c);

    /* unknown and malformed request ids, malformed signature text */
    t_verify(&c, "siwe-00000000000000000000000000000000", sig, NULL);
    BF_EXPECT_REASON(&c, AK_E_SIWE_NONCE);
    bf_call_free(&c);
    t_verify(&c, "../../etc/passwd", sig, NULL);
    BF_EXPECT_REASON(&c, AK_E_INVALID_INPUT);
    bf_call_free(&c);
    t_start(&w, rid, &msg);
    t_verify(&c, rid, "0x1234", NULL);
    BF_EXPECT_REASON(&c, AK_E_SIWE_SIGNATURE);
    bf_call_free(&c);
    bf_invoke(&c, auth_handle, &A, "POST", "/v1/auth/wallet/verify", NULL,
              "{\"request_id\":\"x\",\"signature\":\"y\",\"z\":1}");
    BF_EXPECT_REASON(&c, AK_E_UNKNOWN_FIELD);
    bf_call_free(&c);
    ak_buf_free(&msg);
    ak_buf_free(&alt);
    s_teardown();
}

AK_TEST(test_configure) {
    s_setup();
    setenv("AK_SESSION_TTL_SECONDS", "59", 1);
    EXPECT_ERR(AK_E_CONFIG, auth_configure(&A));
    setenv("AK_SESSION_TTL_SECONDS", "3600", 1);
    EXPECT_OK(auth_configure(&A));
    EXPECT_INT_EQ(A.session_ttl, 3600);
    EXPECT_STR_EQ(A.domain, "broker.test:8443");
    unsetenv("AK_STATE_BUCKET");
    EXPECT_ERR(AK_E_CONFIG, auth_configure(&A));
    unsetenv("AK_SESSION_TTL_SECONDS");
    s_teardown();
}

AK_TEST(test_sample_events) {
    s_setup();
    bf_call c;
    bf_invoke_event(&c, auth_handle, &A, "auth-start.json");
    EXPECT_INT_EQ(c.status, 200);
    bf_call_free(&c);
    bf_invoke_event(&c, auth_handle, &A, "auth-verify.json");
    BF_EXPECT_REASON(&c, AK_E_SIWE_NONCE);
    bf_call_free(&c);
    s_teardown();
}

AK_RUN_TESTS(AK_T(test_sample_events), AK_T(test_start_exact_message_and_pending_record),
             AK_T(test_start_refusals), AK_T(test_fresh_wallet_gets_master_session_of_itself),
             AK_T(test_registered_devices_d16), AK_T(test_device_refusals_and_upstreams),
             AK_T(test_siwe_refusals), AK_T(test_configure))
