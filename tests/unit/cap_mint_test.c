/*
 * cap_mint_test.c — CapMintFunction's handler (functions/cap-mint) against fakes: every
 * refusal of caps.md §3 / D10 / D17 with its exact reason, the route deciding op and class, the
 * minted cap verifying with the cap key (ak_cap_verify), and the audit event (D12).
 */
#include "../../functions/cap-mint/capmint.c"

#include "test.h"

#include <stdlib.h>

#include "ak/cap.h"
#include "broker_fakes.h"

static capmint_fn C;
static bf_wallet M, G, X, R, H, N,
    Mal; /* master, agent, unregistered, revoked, mis-bound, no-role, mallory */
static ak_omni O, O2;

static void s_setup(void) {
    memset(&C, 0, sizeof(C));
    bf_reset(&C.svc);
    C.now_us = bf_now_us;
    bf_wallet_make(&M, 1);
    bf_wallet_make(&G, 2);
    bf_wallet_make(&X, 3);
    bf_wallet_make(&R, 4);
    bf_wallet_make(&H, 5);
    bf_wallet_make(&N, 6);
    bf_wallet_make(&Mal, 7);
    O = M.omni;
    memset(O2.b, 0x99, 32);
    bf_add_device(M.dkh, &O, &O, AK_DEVICE_TIER_MASTER, 7, false);
    bf_add_device(G.dkh, &O, &G.omni, AK_DEVICE_TIER_AGENT, 1, false);
    bf_add_device(R.dkh, &O, &R.omni, AK_DEVICE_TIER_AGENT, 1, true);
    bf_add_device(H.dkh, &O2, &H.omni, AK_DEVICE_TIER_AGENT, 1, false);
    bf_add_device(N.dkh, &O, &N.omni, AK_DEVICE_TIER_AGENT, 0, false);
    bf_bind(&G.omni, &O);
    bf_bind(&R.omni, &O);
    bf_grant(&O, &G.omni, AK_CLASS_CREDENTIALS, "openrouter");
    bf_grant(&O, &R.omni, AK_CLASS_CREDENTIALS, "openrouter");
    bf_grant(&O, &N.omni, AK_CLASS_CREDENTIALS, "openrouter");
    bf_grant(&O, &G.omni, AK_CLASS_MEMORY, "notes");
}

static void s_teardown(void) { bf_free(&C.svc); }

typedef struct {
    const bf_wallet *signer; /* PoP key */
    const uint8_t *dkh;      /* device_key_hash in the body (default: signer's) */
    const ak_omni *op, *actor;
    const char *service;
    ak_op pop_op; /* op/class the PoP signs (default: the route's) */
    ak_data_class pop_class;
    bool pop_override;
    int64_t ts_delta;
    const char *extra; /* extra JSON members, e.g. ",\"x\":1" */
} s_req;

static void s_body(const s_req *r, ak_op op, ak_data_class cls, char *out, size_t cap) {
    uint64_t now = BF.now_us / 1000000u;
    ak_cap_pop_msg m = {.operator_omni = *r->op,
                        .actor_omni = *r->actor,
                        .service = ak_cur_from_str(r->service),
                        .op = r->pop_override ? r->pop_op : op,
                        .data_class = r->pop_override ? r->pop_class : cls,
                        .client_nonce = AK_CUR_LIT("00112233445566778899aabbccddeeff"),
                        .client_ts = (uint64_t)((int64_t)now + r->ts_delta)};
    uint8_t sig[65] = {0};
    /* An invalid service cannot be signed; the body then carries a dummy signature. */
    if (ak_cap_pop_sign(r->signer->sk, &m, sig) != AK_OK) sig[64] = 27;
    char sighex[131], oph[65], acth[65], dkh[67];
    ak_hex_encode(sig, 65, sighex);
    ak_omni_hex(r->op, oph);
    ak_omni_hex(r->actor, acth);
    ak_hash32_hex0x(r->dkh ? r->dkh : r->signer->dkh, dkh);
    snprintf(
        out, cap,
        "{\"operator_omni\":\"0x%s\",\"actor_omni\":\"0x%s\",\"service\":\"%s\",\"device_key_hash\":\"%s\","
        "\"client_sig\":\"0x%s\",\"client_nonce\":\"00112233445566778899aabbccddeeff\",\"client_ts\":%llu%s}",
        oph, acth, r->service, dkh, sighex, (unsigned long long)m.client_ts, r->extra ? r->extra : "");
}

static void s_mint(bf_call *c, const char *route, const ak_buf *session, const s_req *r) {
    ak_route_info ri;
    EXPECT_OK(ak_route_lookup(ak_cur_from_str(route), &ri));
    char body[2048];
    s_body(r, ri.op, ri.data_class, body, sizeof(body));
    bf_invoke(c, capmint_handle, &C, "POST", route, session ? ak_buf_cstr(session) : NULL, body);
}

static void s_expect(const char *route, const ak_buf *session, const s_req *r, ak_err want) {
    bf_call c;
    s_mint(&c, route, session, r);
    if (c.rc != want) fail_msg("%s: got %s, want %s", route, ak_err_reason(c.rc), ak_err_reason(want));
    if (want != AK_OK) {
        EXPECT_INT_EQ(c.status, ak_err_status(want));
        EXPECT_STR_EQ(bf_str(&c, "reason"), ak_err_reason(want));
    }
    bf_call_free(&c);
}

AK_TEST(test_agent_mints_and_cap_verifies) {
    s_setup();
    ak_buf sess;
    ak_buf_init(&sess, AK_MAX_JWS);
    bf_session(&C.svc, &G, AK_SESSION_AGENT, &O, &G.omni, &sess);
    s_req r = {.signer = &G, .op = &O, .actor = &G.omni, .service = "openrouter"};
    bf_call c;
    s_mint(&c, "/v1/cap/cred-fetch", &sess, &r);
    if (c.rc != AK_OK) fail_msg("mint: %s", ak_err_reason(c.rc));
    EXPECT_STR_EQ(bf_str(&c, "op"), "fetch");
    EXPECT_STR_EQ(bf_str(&c, "data_class"), "credentials");
    EXPECT_STR_EQ(bf_str(&c, "kid"), "cap-1");
    EXPECT_INT_EQ(json_integer_value(json_object_get(c.body, "k3_epoch")), 3);
    /* The worker's view: the token verifies with the cap key and carries the route's op/class. */
    ak_jwks ks;
    memset(&ks, 0, sizeof(ks));
    memcpy(ks.keys[0].pub65, BF.pub[AK_SIGNER_KEY_CAP], 65);
    snprintf(ks.keys[0].kid, sizeof(ks.keys[0].kid), "cap-1");
    ks.n = 1;
    ak_cap_claims cl;
    ak_cap_expect ex = {.op = AK_OP_FETCH, .data_class = AK_CLASS_CREDENTIALS, .now = BF.now_us / 1000000u};
    EXPECT_OK(ak_cap_verify(ak_cur_from_str(bf_str(&c, "cap")), &ks, &ex, &cl));
    EXPECT_TRUE(ak_omni_eq(&cl.actor_omni, &G.omni));
    EXPECT_BYTES_EQ(cl.device_key_hash, 32, G.dkh, 32);
    EXPECT_INT_EQ(cl.expires_at - cl.issued_at, 300);
    ex.op = AK_OP_STORE;
    EXPECT_ERR(AK_E_CAP_OP_MISMATCH, ak_cap_verify(ak_cur_from_str(bf_str(&c, "cap")), &ks, &ex, &cl));
    /* One cap_mint audit event under O. */
    char prefix[128], oh[65];
    ak_omni_hex(&O, oh);
    snprintf(prefix, sizeof(prefix), "audit/pending/%s/", oh);
    EXPECT_INT_EQ(bf_count_prefix(BF_AUDIT, prefix), 1);
    bf_call_free(&c);

    /* issue 19: the chain reads of a mint are one snapshot: warm, one round trip (the first
     * mint above also learnt the head: two); the per-read path made one per read (3 here) */
    BF.chain_calls = 0;
    s_mint(&c, "/v1/cap/cred-fetch", &sess, &r);
    EXPECT_OK(c.rc);
    EXPECT_INT_EQ(BF.chain_calls, 1);
    bf_call_free(&c);
    /* a new block meanwhile: re-pinned at the new head, two */
    BF.block++;
    BF.chain_calls = 0;
    s_mint(&c, "/v1/cap/cred-fetch", &sess, &r);
    EXPECT_OK(c.rc);
    EXPECT_INT_EQ(BF.chain_calls, 2);
    bf_call_free(&c);

    /* memory route: op store, class memory, namespace granted in the memory class */
    r.service = "notes";
    s_mint(&c, "/v1/cap/memory-put", &sess, &r);
    if (c.rc != AK_OK) fail_msg("memory mint: %s", ak_err_reason(c.rc));
    EXPECT_STR_EQ(bf_str(&c, "op"), "store");
    EXPECT_STR_EQ(bf_str(&c, "data_class"), "memory");
    bf_call_free(&c);
    /* ttl clamped */
    r.service = "openrouter";
    r.extra = ",\"ttl_seconds\":99999";
    s_mint(&c, "/v1/cap/cred-store", &sess, &r);
    EXPECT_INT_EQ(json_integer_value(json_object_get(c.body, "expires_at")) -
                      json_integer_value(json_object_get(c.body, "issued_at")),
                  1800);
    bf_call_free(&c);
    ak_buf_free(&sess);
    s_teardown();
}

AK_TEST(test_refusals_each_with_its_reason) {
    s_setup();
    ak_buf sG, sX, sR, sH, sN, sM;
    ak_buf_init(&sG, AK_MAX_JWS);
    ak_buf_init(&sX, AK_MAX_JWS);
    ak_buf_init(&sR, AK_MAX_JWS);
    ak_buf_init(&sH, AK_MAX_JWS);
    ak_buf_init(&sN, AK_MAX_JWS);
    ak_buf_init(&sM, AK_MAX_JWS);
    bf_session(&C.svc, &G, AK_SESSION_AGENT, &O, &G.omni, &sG);
    bf_session(&C.svc, &X, AK_SESSION_MASTER, &X.omni, &X.omni, &sX);
    bf_session(&C.svc, &R, AK_SESSION_AGENT, &O, &R.omni, &sR);
    bf_session(&C.svc, &H, AK_SESSION_AGENT, &O, &H.omni, &sH); /* chain says H belongs to O2 */
    bf_session(&C.svc, &N, AK_SESSION_AGENT, &O, &N.omni, &sN);
    bf_session(&C.svc, &M, AK_SESSION_MASTER, &O, &O, &sM);
    const char *rt = "/v1/cap/cred-fetch";
    s_req base = {.signer = &G, .op = &O, .actor = &G.omni, .service = "openrouter"};
    s_req r;

    /* operator mismatch */
    r = base;
    r.op = &O2;
    s_expect(rt, &sG, &r, AK_E_OPERATOR_MISMATCH);
    /* agent naming another actor */
    r = base;
    r.actor = &N.omni;
    s_expect(rt, &sG, &r, AK_E_ACTOR_MISMATCH);
    /* an unregistered wallet's bootstrap session: no cap on any route (D16, issue 16 finding 2),
     * also when its PoP names a registered device */
    static const char *const all_routes[] = {"/v1/cap/cred-store",    "/v1/cap/cred-fetch",
                                             "/v1/cap/cred-teardown", "/v1/cap/memory-put",
                                             "/v1/cap/memory-get",    "/v1/cap/memory-teardown"};
    r = (s_req){.signer = &X, .op = &X.omni, .actor = &X.omni, .service = "openrouter"};
    for (size_t i = 0; i < 6; i++)
        s_expect(all_routes[i], &sX, &r, AK_E_DEVICE_NOT_REGISTERED);
    r = (s_req){.signer = &G, .op = &X.omni, .actor = &X.omni, .service = "openrouter"};
    s_expect(rt, &sX, &r, AK_E_DEVICE_NOT_REGISTERED);
    /* a registered session whose PoP names an unregistered device */
    r = base;
    r.signer = &X;
    s_expect(rt, &sG, &r, AK_E_DEVICE_NOT_REGISTERED);
    /* device revoked */
    r = (s_req){.signer = &R, .op = &O, .actor = &R.omni, .service = "openrouter"};
    s_expect(rt, &sR, &r, AK_E_DEVICE_REVOKED);
    /* binding mismatch */
    r = (s_req){.signer = &H, .op = &O, .actor = &H.omni, .service = "openrouter"};
    s_expect(rt, &sH, &r, AK_E_DEVICE_BINDING_MISMATCH);
    /* role missing */
    r = (s_req){.signer = &N, .op = &O, .actor = &N.omni, .service = "openrouter"};
    s_expect(rt, &sN, &r, AK_E_DEVICE_ROLE_MISSING);
    /* PoP stale, future, wrong key, signed for another op / class */
    r = base;
    r.ts_delta = -301;
    s_expect(rt, &sG, &r, AK_E_CAP_POP_INVALID);
    r.ts_delta = -300;
    s_expect(rt, &sG, &r, AK_OK);
    r.ts_delta = 61;
    s_expect(rt, &sG, &r, AK_E_CAP_POP_INVALID);
    r = base;
    r.signer = &Mal;
    r.dkh = G.dkh;
    s_expect(rt, &sG, &r, AK_E_CAP_POP_INVALID);
    r = base;
    r.pop_override = true;
    r.pop_op = AK_OP_STORE;
    r.pop_class = AK_CLASS_CREDENTIALS;
    s_expect(rt, &sG, &r, AK_E_CAP_POP_INVALID);
    /* PoP by another registered device of O than the session's wallet */
    r = (s_req){.signer = &N, .op = &O, .actor = &O, .service = "openrouter"};
    s_expect(rt, &sM, &r, AK_E_DEVICE_BINDING_MISMATCH);
    /* service not in scope; a scope for the other data class grants nothing (D2) */
    r = base;
    r.service = "github";
    s_expect(rt, &sG, &r, AK_E_SERVICE_NOT_IN_SCOPE);
    r.service = "openrouter";
    s_expect("/v1/cap/memory-get", &sG, &r, AK_E_SERVICE_NOT_IN_SCOPE);
    r.service = "notes";
    s_expect("/v1/cap/cred-fetch", &sG, &r, AK_E_SERVICE_NOT_IN_SCOPE);
    /* invalid service (D3: never lowercased) */
    r.service = "OpenRouter";
    s_expect(rt, &sG, &r, AK_E_INVALID_SERVICE);
    r.service = "a/b";
    s_expect(rt, &sG, &r, AK_E_INVALID_SERVICE);
    /* teardown asked by an agent session */
    r = base;
    s_expect("/v1/cap/cred-teardown", &sG, &r, AK_E_TEARDOWN_NOT_MASTER);
    s_expect("/v1/cap/memory-teardown", &sG, &r, AK_E_TEARDOWN_NOT_MASTER);
    /* no / bad bearer */
    s_expect(rt, NULL, &base, AK_E_UNAUTHORIZED);
    ak_buf bogus;
    ak_buf_init(&bogus, 64);
    EXPECT_OK(ak_buf_append_str(&bogus, "a.b.c"));
    s_expect(rt, &bogus, &base, AK_E_UNAUTHORIZED);
    ak_buf_free(&bogus);
    /* the body cannot choose the class or op */
    r = base;
    r.extra = ",\"data_class\":\"memory\"";
    s_expect(rt, &sG, &r, AK_E_UNKNOWN_FIELD);
    r.extra = ",\"op\":\"teardown\"";
    s_expect(rt, &sG, &r, AK_E_UNKNOWN_FIELD);
    /* upstreams: chain down, audit down, signer down → no cap */
    BF.chain_down = true;
    s_expect(rt, &sG, &base, AK_E_CHAIN_RPC);
    BF.chain_down = false;
    BF.put_err = AK_E_S3_ERROR;
    s_expect(rt, &sG, &base, AK_E_AUDIT_WRITE);
    BF.put_err = AK_OK;
    ak_buf_free(&sG);
    ak_buf_free(&sX);
    ak_buf_free(&sR);
    ak_buf_free(&sH);
    ak_buf_free(&sN);
    ak_buf_free(&sM);
    s_teardown();
}

AK_TEST(test_master_rules_d10_d17) {
    s_setup();
    ak_buf sM;
    ak_buf_init(&sM, AK_MAX_JWS);
    bf_session(&C.svc, &M, AK_SESSION_MASTER, &O, &O, &sM);
    /* master on its own data: no scope needed */
    s_req r = {.signer = &M, .op = &O, .actor = &O, .service = "anything"};
    s_expect("/v1/cap/cred-store", &sM, &r, AK_OK);
    s_expect("/v1/cap/cred-teardown", &sM, &r, AK_OK);
    /* master teardown of a bound actor (also a revoked one: its data can still be wiped) */
    r.actor = &G.omni;
    s_expect("/v1/cap/memory-teardown", &sM, &r, AK_OK);
    r.actor = &R.omni;
    s_expect("/v1/cap/cred-teardown", &sM, &r, AK_OK);
    /* ... but not of an actor bound elsewhere, and not fetch for another actor */
    r.actor = &H.omni;
    s_expect("/v1/cap/cred-teardown", &sM, &r, AK_E_ACTOR_MISMATCH);
    r.actor = &G.omni;
    s_expect("/v1/cap/cred-fetch", &sM, &r, AK_E_ACTOR_MISMATCH);
    /* unknown route / method */
    bf_call c;
    bf_invoke(&c, capmint_handle, &C, "POST", "/v1/cap/config-store", ak_buf_cstr(&sM), "{}");
    BF_EXPECT_REASON(&c, AK_E_ROUTE_NOT_FOUND);
    bf_call_free(&c);
    bf_invoke(&c, capmint_handle, &C, "POST", "/v1/cred/store", ak_buf_cstr(&sM), "{}");
    BF_EXPECT_REASON(&c, AK_E_ROUTE_NOT_FOUND);
    bf_call_free(&c);
    ak_buf_free(&sM);
    s_teardown();
}

/* D19: a master may provision (store) for an actor bound to it, within the actor's scope; the
 * cap-mint row records both; use caps follow the fetch rules. */
AK_TEST(test_master_provisions_d19_and_use_route) {
    s_setup();
    ak_buf sM, sG;
    ak_buf_init(&sM, AK_MAX_JWS);
    ak_buf_init(&sG, AK_MAX_JWS);
    bf_session(&C.svc, &M, AK_SESSION_MASTER, &O, &O, &sM);
    bf_session(&C.svc, &G, AK_SESSION_AGENT, &O, &G.omni, &sG);
    s_req r = {.signer = &M, .op = &O, .actor = &G.omni, .service = "openrouter"};
    bf_call c;
    s_mint(&c, "/v1/cap/cred-store", &sM, &r);
    if (c.rc != AK_OK) fail_msg("provisioning mint: %s", ak_err_reason(c.rc));
    EXPECT_STR_EQ(bf_str(&c, "op"), "store");
    bf_call_free(&c);
    char prefix[128], oh[65];
    ak_omni_hex(&O, oh);
    snprintf(prefix, sizeof(prefix), "audit/pending/%s/", oh);
    bool found = false;
    for (size_t i = 0; i < BF.n_objs; i++) {
        const bf_obj *o = &BF.objs[i];
        if (strncmp(o->key, prefix, strlen(prefix)) != 0) continue;
        const char *t = ak_buf_cstr(&o->body);
        found = strstr(t, "\"provisioned_for\":\"bound_actor\"") != NULL &&
                strstr(t, "\"session_kind\":\"master\"") != NULL &&
                strstr(t, "\"session_omni\":\"0x") != NULL;
    }
    EXPECT_TRUE(found);
    /* outside the actor's scope, for an actor bound elsewhere, or any other op: refused */
    r.service = "notgranted";
    s_expect("/v1/cap/cred-store", &sM, &r, AK_E_SERVICE_NOT_IN_SCOPE);
    r.service = "openrouter";
    r.actor = &H.omni;
    s_expect("/v1/cap/cred-store", &sM, &r, AK_E_ACTOR_MISMATCH);
    r.actor = &G.omni;
    s_expect("/v1/cap/cred-use", &sM, &r, AK_E_ACTOR_MISMATCH);
    s_expect("/v1/cap/memory-put", &sM, &r,
             AK_E_SERVICE_NOT_IN_SCOPE); /* a store, but not granted in memory */
    /* an agent may not provision for another actor */
    s_req ra = {.signer = &G, .op = &O, .actor = &R.omni, .service = "openrouter"};
    s_expect("/v1/cap/cred-store", &sG, &ra, AK_E_ACTOR_MISMATCH);
    /* the use route: op use, class credentials, scope as fetch */
    ra.actor = &G.omni;
    s_mint(&c, "/v1/cap/cred-use", &sG, &ra);
    if (c.rc != AK_OK) fail_msg("use mint: %s", ak_err_reason(c.rc));
    EXPECT_STR_EQ(bf_str(&c, "op"), "use");
    EXPECT_STR_EQ(bf_str(&c, "data_class"), "credentials");
    bf_call_free(&c);
    ra.service = "notgranted";
    s_expect("/v1/cap/cred-use", &sG, &ra, AK_E_SERVICE_NOT_IN_SCOPE);
    ak_buf_free(&sM);
    ak_buf_free(&sG);
    s_teardown();
}

/* The sample events parse, route, and stop at the (bogus) bearer. */
AK_TEST(test_sample_events) {
    s_setup();
    static const char *files[] = {"cap-cred-store.json", "cap-cred-fetch.json", "cap-cred-teardown.json",
                                  "cap-memory-put.json", "cap-memory-get.json", "cap-memory-teardown.json",
                                  "cap-cred-use.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        bf_call c;
        bf_invoke_event(&c, capmint_handle, &C, files[i]);
        if (c.rc != AK_E_UNAUTHORIZED) fail_msg("%s: %s", files[i], ak_err_reason(c.rc));
        bf_call_free(&c);
    }
    s_teardown();
}

/* readOnly (issue 16 finding 3): no store or teardown cap for an actor whose scope is read-only,
 * whoever asks; fetch stays; a master's own data has no scope; lifting the flag restores it. */
AK_TEST(test_read_only_scope) {
    s_setup();
    ak_buf sG, sM;
    ak_buf_init(&sG, AK_MAX_JWS);
    ak_buf_init(&sM, AK_MAX_JWS);
    bf_session(&C.svc, &G, AK_SESSION_AGENT, &O, &G.omni, &sG);
    bf_session(&C.svc, &M, AK_SESSION_MASTER, &O, &O, &sM);
    s_req ga = {.signer = &G, .op = &O, .actor = &G.omni, .service = "openrouter"};
    s_req gm = {.signer = &G, .op = &O, .actor = &G.omni, .service = "notes"};
    s_req mg = {.signer = &M, .op = &O, .actor = &G.omni, .service = "openrouter"};
    s_req mo = {.signer = &M, .op = &O, .actor = &O, .service = "anything"};
    s_expect("/v1/cap/cred-store", &sG, &ga, AK_OK);
    bf_set_read_only(&O, &G.omni, true);
    s_expect("/v1/cap/cred-store", &sG, &ga, AK_E_SCOPE_READ_ONLY);
    s_expect("/v1/cap/memory-put", &sG, &gm, AK_E_SCOPE_READ_ONLY);
    s_expect("/v1/cap/cred-fetch", &sG, &ga, AK_OK);
    s_expect("/v1/cap/memory-get", &sG, &gm, AK_OK);
    s_expect("/v1/cap/cred-teardown", &sM, &mg, AK_E_SCOPE_READ_ONLY);
    s_expect("/v1/cap/memory-teardown", &sM, &mg, AK_E_SCOPE_READ_ONLY);
    s_expect("/v1/cap/cred-store", &sM, &mo, AK_OK);
    s_expect("/v1/cap/cred-teardown", &sM, &mo, AK_OK);
    /* order: a service outside the scope is still service_not_in_scope */
    ga.service = "github";
    s_expect("/v1/cap/cred-store", &sG, &ga, AK_E_SERVICE_NOT_IN_SCOPE);
    ga.service = "openrouter";
    bf_set_read_only(&O, &G.omni, false);
    s_expect("/v1/cap/cred-store", &sG, &ga, AK_OK);
    s_expect("/v1/cap/cred-teardown", &sM, &mg, AK_OK);
    ak_buf_free(&sG);
    ak_buf_free(&sM);
    s_teardown();
}

AK_RUN_TESTS(AK_T(test_sample_events), AK_T(test_agent_mints_and_cap_verifies), AK_T(test_read_only_scope),
             AK_T(test_refusals_each_with_its_reason), AK_T(test_master_rules_d10_d17),
             AK_T(test_master_provisions_d19_and_use_route))
