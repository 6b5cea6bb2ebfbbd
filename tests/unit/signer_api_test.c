/* signer_api_test.c — the signer protocol without TLS: the role table (DESIGN §2 layer 5), the
 * epoch rule (D7), input validation and the response shapes the broker and workers depend on. */
#include "test.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ak/attest.h"
#include "ak/cap.h"
#include "ak/identity.h"
#include "ak/jose.h"
#include "ak/limits.h"
#include "ak/crypto.h"
#include "ak/json.h"
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
#include "../../enclave/src/x509.c"

typedef struct {
    char dir[64], epoch_file[128], ks_path[128];
    aks_sealer *sealer;
    aks_keystore ks;
    aks_epochs *epochs;
    aks_attester att;
    ak_pki_eckey *attest_key;
    aks_ctx ctx;
} s_env;

static s_env *g_env; /* the environment whose cap key signs the caps (s_mint) */

static ak_err s_doc(aks_attester *a, const ak_attest_claims *c, ak_buf *doc) {
    (void)a;
    (void)c;
    return ak_buf_append_str(doc, "doc");
}

static void s_set_epoch(s_env *e, unsigned v) {
    FILE *f = fopen(e->epoch_file, "w");
    fprintf(f, "%u\n", v);
    fclose(f);
}

static void s_env_up(s_env *e) {
    static const uint8_t key[32] = {9};
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/aks_api_test.XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->epoch_file, sizeof(e->epoch_file), "%s/epoch", e->dir);
    snprintf(e->ks_path, sizeof(e->ks_path), "%s/ks", e->dir);
    s_set_epoch(e, 2);
    assert_int_equal(aks_sealer_from_key(key, &e->sealer), AK_OK);
    assert_int_equal(aks_keystore_open(&e->ks, e->ks_path, e->sealer), AK_OK);
    assert_int_equal(aks_epochs_open(e->epoch_file, 2000, &e->epochs), AK_E_CONFIG); /* no scheme */
    char spec[160];
    snprintf(spec, sizeof(spec), "file:%s", e->epoch_file);
    assert_int_equal(aks_epochs_open(spec, 2000, &e->epochs), AK_OK);
    e->att.name = "test";
    e->att.document = s_doc;
    aks_ctx_init(&e->ctx);
    g_env = e;
    e->ctx.ks = &e->ks;
    e->ctx.epochs = e->epochs;
    e->ctx.attester = &e->att;
}

static void s_env_down(s_env *e) {
    char cmd[128];
    aks_ctx_free(&e->ctx);
    aks_epochs_free(e->epochs);
    aks_keystore_close(&e->ks);
    aks_sealer_free(e->sealer);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
}

/* Runs one request; returns the status; the body (JSON) in *body (caller frees). */
static int s_call(s_env *e, aks_role role, const char *method, const char *path, const char *json,
                  ak_buf *body, ak_err *err) {
    ak_buf raw;
    aks_http_req req;
    bool done;
    int status = 0;
    ak_buf_init(&raw, 1 << 20);
    assert_int_equal(ak_buf_printf(&raw, "%s %s HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s", method,
                                   path, json ? strlen(json) : 0, json ? json : ""),
                     AK_OK);
    aks_http_limits lim = AKS_HTTP_DEFAULT_LIMITS;
    assert_int_equal(aks_http_parse(ak_buf_cur(&raw), &lim, &req, &done), AK_OK);
    assert_true(done);
    ak_buf_init_secret(body, 1 << 20);
    aks_api_handle(&e->ctx, role, &req, &status, body, err);
    ak_buf_free(&raw);
    return status;
}

/* The body is an error with this reason (line: the caller's, for the failure message). */
#define s_expect_reason(body, reason) s_expect_reason_at(__LINE__, body, reason)
static void s_expect_reason_at(int line, const ak_buf *body, const char *reason) {
    json_t *j;
    ak_cur r;
    if (ak_json_parse_object(ak_buf_cur(body), &j) != AK_OK)
        fail_msg("line %d: not JSON: %s", line, ak_buf_cstr(body));
    if (ak_json_str(j, "reason", &r) != AK_OK) fail_msg("line %d: no reason: %s", line, ak_buf_cstr(body));
    if (!ak_cur_eq_str(r, reason))
        fail_msg("line %d: reason %.*s, expected %s", line, (int)r.len, r.ptr, reason);
    assert_non_null(json_object_get(j, "error"));
    json_decref(j);
}

/* One request whose body is not needed further: its status, and with a reason (NULL: any), the
 * body's reason. */
#define s_expect(...) s_expect_at(__LINE__, __VA_ARGS__)
static void s_expect_at(int line, s_env *e, aks_role role, const char *method, const char *path,
                        const char *json, int status, const char *reason) {
    ak_buf body;
    ak_err err;
    int st = s_call(e, role, method, path, json, &body, &err);
    if (st != status)
        fail_msg("line %d: %s %s as %s: status %d, expected %d: %s", line, method, path, aks_role_name(role),
                 st, status, ak_buf_cstr(&body));
    if (reason) s_expect_reason_at(line, &body, reason);
    ak_buf_free(&body);
}

#define OMNI_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OMNI_B "0xBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

/* ---- caps (D20: /v1/kek/derive verifies the agent's cap itself) ---- */

static const uint8_t s_k10[32] = {0x4b, 0x10, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
                                  15,   16,   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};

static ak_err s_cap_sign(void *user, const uint8_t *in, size_t len, uint8_t sig64[64]) {
    const char *kid = user;
    char used[AKS_KID_MAX];
    return aks_keystore_sign(&g_env->ks, AKS_KEY_CAP, ak_cur_from_str(kid), in, len, sig64, used);
}

typedef struct {
    const char *dc;         /* "credentials" | "memory" (NULL = memory) */
    ak_op op;               /* route op the cap is for */
    uint32_t k3;            /* cap's k3_epoch */
    uint64_t at;            /* issued_at (0 = now) */
    uint8_t actor;          /* actor byte (0xbb = OMNI_B) */
    uint8_t oper;           /* operator byte (0xaa = OMNI_A) */
    const uint8_t *k10_pop; /* PoP key (NULL = s_k10, the device's) */
    bool sign_with_session; /* a forgery: the session key signs it */
} s_capspec;

/* A cap for `sp`, minted as cap-mint would (PoP by the device key, signed by the cap key). */
static void s_mint(const s_capspec *sp, ak_buf *tok) {
    ak_cap_request r;
    ak_cap_claims c;
    ak_cap_pop_msg m;
    ak_data_class dc;
    uint8_t pub[65], addr[20];
    uint64_t at = sp->at ? sp->at : (uint64_t)time(NULL);
    assert_int_equal(ak_data_class_parse(ak_cur_from_str(sp->dc ? sp->dc : "memory"), &dc), AK_OK);
    memset(&r, 0, sizeof(r));
    memset(r.operator_omni.b, sp->oper ? sp->oper : 0xaa, 32);
    memset(r.actor_omni.b, sp->actor ? sp->actor : 0xbb, 32);
    const char *svc = dc == AK_CLASS_MEMORY ? "notes" : "openrouter";
    r.service_len = strlen(svc);
    memcpy(r.service, svc, r.service_len);
    EXPECT_OK(ak_secp256k1_pubkey(s_k10, pub));
    ak_eth_address_from_pub(pub, addr);
    ak_device_key_hash(addr, r.device_key_hash);
    r.ttl_seconds = 300;
    memcpy(r.pop.nonce, "00112233445566778899aabbccddeeff", 32);
    r.pop.nonce_len = 32;
    r.pop.ts = at;
    m.operator_omni = r.operator_omni;
    m.actor_omni = r.actor_omni;
    m.service = ak_cur_from(r.service, r.service_len);
    m.op = sp->op;
    m.data_class = dc;
    m.client_nonce = ak_cur_from(r.pop.nonce, r.pop.nonce_len);
    m.client_ts = at;
    EXPECT_OK(ak_cap_pop_sign(sp->k10_pop ? sp->k10_pop : s_k10, &m, r.pop.sig));
    EXPECT_OK(ak_cap_claims_new(&r, sp->op, dc, sp->k3, at, &c));
    aks_pubkey pubs[6];
    size_t n = aks_keystore_public_keys(&g_env->ks, pubs);
    aks_key_purpose want = sp->sign_with_session ? AKS_KEY_SESSION : AKS_KEY_CAP;
    const char *kid = NULL;
    for (size_t i = 0; i < n; i++)
        if (pubs[i].purpose == want && pubs[i].current) kid = pubs[i].kid;
    assert_non_null(kid);
    ak_buf_init(tok, AK_MAX_JWS);
    if (sp->sign_with_session) {
        /* the session key signing a cap-shaped token */
        uint8_t priv[32];
        pthread_mutex_lock(&g_env->ks.mu);
        memcpy(priv, g_env->ks.s->keys[AKS_KEY_SESSION][0].priv, 32);
        pthread_mutex_unlock(&g_env->ks.mu);
        EXPECT_OK(ak_cap_sign(&c, kid, ak_jws_sign_local, priv, tok));
        ak_wipe(priv, sizeof(priv));
    } else {
        EXPECT_OK(ak_cap_sign(&c, kid, s_cap_sign, (void *)(uintptr_t)kid, tok));
    }
}

/* A derive body for (dc, epoch) with a fetch cap of k3_epoch 9 for that class (operator A, actor B). */
static const char *s_derive_body(const char *dc, unsigned epoch) {
    static char big[AK_MAX_JWS + 512];
    ak_buf tok;
    s_capspec sp = {.dc = dc, .op = AK_OP_FETCH, .k3 = 9};
    if (strcmp(dc, "credentials") != 0 && strcmp(dc, "memory") != 0) sp.dc = "memory";
    s_mint(&sp, &tok);
    snprintf(big, sizeof(big),
             "{\"data_class\":\"%s\",\"operator_omni\":\"" OMNI_A "\",\"actor_omni\":\"" OMNI_B
             "\",\"epoch\":%u,\"op\":\"fetch\",\"cap\":\"%s\"}",
             dc, epoch, ak_buf_cstr(&tok));
    ak_buf_free(&tok);
    return big;
}

/* A derive body with an explicit cap, op and request fields. */
static const char *s_derive_with(const char *dc, const char *op, const char *actor, unsigned epoch,
                                 const s_capspec *sp) {
    static char big[AK_MAX_JWS + 512];
    ak_buf tok;
    s_mint(sp, &tok);
    snprintf(big, sizeof(big),
             "{\"data_class\":\"%s\",\"operator_omni\":\"" OMNI_A "\",\"actor_omni\":\"%s\",\"epoch\":%u,"
             "\"op\":\"%s\",\"cap\":\"%s\"}",
             dc, actor, epoch, op, ak_buf_cstr(&tok));
    ak_buf_free(&tok);
    return big;
}

AK_TEST(test_roles_from_identity) {
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/auth", NULL), AKS_ROLE_AUTH);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/oidc", NULL), AKS_ROLE_OIDC);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/cap-mint", NULL), AKS_ROLE_CAP_MINT);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/admin", NULL), AKS_ROLE_ADMIN);
    /* The shared "broker" identity is gone (D20): it names no role. */
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/broker", NULL), AKS_ROLE_NONE);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/audit", NULL), AKS_ROLE_AUDIT);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/discovery", NULL), AKS_ROLE_DISCOVERY);
    EXPECT_STR_EQ(aks_role_name(AKS_ROLE_DISCOVERY), "discovery");
    EXPECT_INT_EQ(aks_role_from_identity(NULL, "spiffe://agentkeys/role/worker-memory"),
                  AKS_ROLE_WORKER_MEMORY);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://other/x", "spiffe://agentkeys/role/worker-credentials"),
                  AKS_ROLE_WORKER_CREDENTIALS);
    /* Disagreements and look-alikes give nothing; there is no CN input any more (finding 8). */
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/auth", "spiffe://agentkeys/role/audit"),
                  AKS_ROLE_NONE);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/authx", NULL), AKS_ROLE_NONE);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/", NULL), AKS_ROLE_NONE);
    EXPECT_INT_EQ(aks_role_from_identity("worker-memory", NULL), AKS_ROLE_NONE);
    EXPECT_INT_EQ(aks_role_from_identity("spiffe://agentkeys/role/Auth", NULL), AKS_ROLE_NONE);
    EXPECT_INT_EQ(aks_role_from_identity(NULL, NULL), AKS_ROLE_NONE);
}

AK_TEST(test_derive_role_table) {
    s_env e;
    ak_buf body;
    ak_err err;
    s_env_up(&e);
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_WORKER_CREDENTIALS, "POST", "/v1/kek/derive",
                         s_derive_body("credentials", 1), &body, &err),
                  200);
    json_t *j;
    ak_cur kb;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&body), &j));
    EXPECT_OK(ak_json_str(j, "kek_b64", &kb));
    /* The KEK is D6 over the held K3 of epoch 1. */
    uint8_t k3[32], want[32], op[32], actor[32];
    char want_b64[64];
    EXPECT_OK(aks_keystore_k3(&e.ks, 1, k3));
    memset(op, 0xaa, 32);
    memset(actor, 0xbb, 32);
    EXPECT_OK(aks_kek_derive(k3, AK_CUR_LIT("credentials"), op, actor, want));
    ak_buf wb;
    ak_buf_init(&wb, 64);
    EXPECT_OK(ak_b64_encode(want, 32, &wb));
    snprintf(want_b64, sizeof(want_b64), "%s", ak_buf_cstr(&wb));
    EXPECT_TRUE(ak_cur_eq_str(kb, want_b64));
    ak_buf_free(&wb);
    json_decref(j);
    ak_buf_free(&body);

    struct {
        aks_role role;
        const char *dc;
        int status;
        const char *reason;
    } cases[] = {
        {AKS_ROLE_WORKER_MEMORY, "credentials", 403, "role_not_allowed"},
        {AKS_ROLE_WORKER_CREDENTIALS, "memory", 403, "role_not_allowed"},
        {AKS_ROLE_WORKER_MEMORY, "memory", 200, NULL},
        {AKS_ROLE_AUTH, "credentials", 403, "role_not_allowed"},
        {AKS_ROLE_OIDC, "credentials", 403, "role_not_allowed"},
        {AKS_ROLE_CAP_MINT, "memory", 403, "role_not_allowed"},
        {AKS_ROLE_ADMIN, "memory", 403, "role_not_allowed"},
        {AKS_ROLE_AUDIT, "memory", 403, "role_not_allowed"},
        {AKS_ROLE_DISCOVERY, "credentials", 403, "role_not_allowed"},
        {AKS_ROLE_NONE, "credentials", 403, "role_not_allowed"},
        {AKS_ROLE_WORKER_MEMORY, "config", 400, "invalid_input"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st =
            s_call(&e, cases[i].role, "POST", "/v1/kek/derive", s_derive_body(cases[i].dc, 1), &body, &err);
        if (st != cases[i].status) fail_msg("case %zu: status %d", i, st);
        if (cases[i].reason) s_expect_reason(&body, cases[i].reason);
        ak_buf_free(&body);
    }
    s_env_down(&e);
}

AK_TEST(test_derive_epoch_rule) {
    s_env e;
    uint8_t k3_2[32];
    s_env_up(&e);
    /* Epochs 1..2 exist after the first derive that needed the chain (or at boot in main). */
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 2), 200, NULL);
    EXPECT_INT_EQ(aks_keystore_max_epoch(&e.ks), 2);
    EXPECT_OK(aks_keystore_k3(&e.ks, 2, k3_2));
    /* Above the chain: refused with its code. */
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 3), 403,
             "epoch_not_current");
    /* The chain advances: epoch 3 is created, epoch 2 keeps its K3. */
    s_set_epoch(&e, 3); /* no wait: a fresh read must see it at once */
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 3), 200, NULL);
    uint8_t again[32];
    EXPECT_OK(aks_keystore_k3(&e.ks, 2, again));
    EXPECT_BYTES_EQ(again, 32, k3_2, 32);
    /* Epoch 0 and non-integers are bad input; the chain unreadable is 502. */
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 0), 400, NULL);
    unlink(e.epoch_file);
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 9), 502,
             "chain_rpc_error");
    /* ...but held epochs still derive without the chain. */
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 1), 200, NULL);
    s_env_down(&e);
}

AK_TEST(test_bad_input) {
    s_env e;
    ak_buf body;
    ak_err err;
    s_env_up(&e);
    struct {
        const char *json;
        const char *reason;
    } cases[] = {
        {"not json", "invalid_json"},
        {"[]", "wrong_type"},
        {"{\"data_class\":\"memory\",\"operator_omni\":\"" OMNI_A "\",\"actor_omni\":\"" OMNI_A "\"}",
         "missing_field"},
        {"{\"data_class\":\"memory\",\"operator_omni\":\"" OMNI_A "\",\"actor_omni\":\"" OMNI_A
         "\",\"epoch\":\"1\"}",
         "wrong_type"},
        {"{\"data_class\":\"memory\",\"operator_omni\":\"abc\",\"actor_omni\":\"" OMNI_A
         "\",\"epoch\":1,\"op\":\"fetch\",\"cap\":\"x\"}",
         "invalid_omni"},
        {"{\"data_class\":\"memory\",\"operator_omni\":\"" OMNI_A "\",\"actor_omni\":\"" OMNI_A
         "\",\"epoch\":1,\"x\":1}",
         "unknown_field"},
        {"{\"data_class\":\"memory\",\"operator_omni\":\"" OMNI_A "\",\"actor_omni\":\"" OMNI_A
         "\",\"epoch\":-1}",
         "invalid_input"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = s_call(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", cases[i].json, &body, &err);
        if (st != 400) fail_msg("case %zu: status %d %s", i, st, ak_buf_cstr(&body));
        s_expect_reason(&body, cases[i].reason);
        ak_buf_free(&body);
    }
    s_expect(&e, AKS_ROLE_AUDIT, "GET", "/v1/nope", NULL, 404, "route_not_found");
    s_expect(&e, AKS_ROLE_CAP_MINT, "GET", "/v1/sign", NULL, 405, "method_not_allowed");
    s_expect(&e, AKS_ROLE_NONE, "GET", "/v1/health", NULL, 403, NULL);
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_AUDIT, "GET", "/v1/health", NULL, &body, &err), 200);
    EXPECT_TRUE(strstr(ak_buf_cstr(&body), "\"role\":\"audit\"") != NULL);
    ak_buf_free(&body);
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_DISCOVERY, "GET", "/v1/health", NULL, &body, &err), 200);
    EXPECT_TRUE(strstr(ak_buf_cstr(&body), "\"role\":\"discovery\"") != NULL);
    ak_buf_free(&body);
    /* Attestation nonce bounds. */
    s_expect(&e, AKS_ROLE_AUDIT, "POST", "/v1/attest", "{\"nonce_b64\":\"AAAA\"}", 400, NULL);
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_AUDIT, "POST", "/v1/attest",
                         "{\"nonce_b64\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}", &body, &err),
                  200);
    EXPECT_STR_EQ(ak_buf_cstr(&body), "{\"format\":\"test\",\"document\":\"doc\"}");
    ak_buf_free(&body);
    s_env_down(&e);
}

static void s_signing_input(const char *typ, const char *kid, ak_buf *out_b64) {
    ak_buf hdr, in;
    ak_buf_init(&hdr, 512);
    ak_buf_init(&in, 2048);
    assert_int_equal(ak_buf_printf(&hdr, "{\"alg\":\"ES256\",\"typ\":\"%s\",\"kid\":\"%s\"}", typ, kid),
                     AK_OK);
    assert_int_equal(ak_b64url_encode(hdr.ptr, hdr.len, &in), AK_OK);
    assert_int_equal(ak_buf_append_str(&in, ".eyJzdWIiOiJ4In0"), AK_OK);
    ak_buf_init(out_b64, 4096);
    assert_int_equal(ak_b64_encode(in.ptr, in.len, out_b64), AK_OK);
    ak_buf_free(&hdr);
    ak_buf_free(&in);
}

AK_TEST(test_sign_and_keys) {
    s_env e;
    ak_buf body, in_b64;
    ak_err err;
    aks_pubkey pubs[6];
    char req[4096];
    s_env_up(&e);
    aks_keystore_public_keys(&e.ks, pubs);
    const char *cap_kid = pubs[2].kid;
    EXPECT_INT_EQ(pubs[2].purpose, AKS_KEY_CAP);

    s_signing_input("ak-cap+jwt", cap_kid, &in_b64);
    snprintf(req, sizeof(req), "{\"key\":\"cap\",\"signing_input_b64\":\"%s\"}", ak_buf_cstr(&in_b64));
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_CAP_MINT, "POST", "/v1/sign", req, &body, &err), 200);
    json_t *j;
    ak_cur sig_text, kid;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&body), &j));
    EXPECT_OK(ak_json_str(j, "sig_b64url", &sig_text));
    EXPECT_OK(ak_json_str(j, "kid", &kid));
    EXPECT_TRUE(ak_cur_eq_str(kid, cap_kid));
    ak_buf sig, input;
    ak_buf_init(&sig, 64);
    ak_buf_init(&input, 4096);
    EXPECT_OK(ak_b64url_decode(sig_text, &sig));
    EXPECT_OK(ak_b64_decode(ak_buf_cur(&in_b64), &input));
    EXPECT_OK(ak_p256_verify_sha256(pubs[2].pub, input.ptr, input.len, sig.ptr));
    json_decref(j);
    ak_buf_free(&sig);
    ak_buf_free(&input);
    ak_buf_free(&body);
    /* Workers, audit, admin, and the other broker functions cannot sign with the cap key. */
    aks_role nope[] = {AKS_ROLE_WORKER_CREDENTIALS,
                       AKS_ROLE_WORKER_MEMORY,
                       AKS_ROLE_AUDIT,
                       AKS_ROLE_ADMIN,
                       AKS_ROLE_AUTH,
                       AKS_ROLE_OIDC,
                       AKS_ROLE_DISCOVERY,
                       AKS_ROLE_NONE};
    for (size_t i = 0; i < sizeof(nope) / sizeof(nope[0]); i++) {
        s_expect(&e, nope[i], "POST", "/v1/sign", req, 403, "role_not_allowed");
    }
    ak_buf_free(&in_b64);
    /* A session header on the cap key, a cap key's kid on the session key, an unknown kid. */
    s_signing_input("JWT", cap_kid, &in_b64);
    snprintf(req, sizeof(req), "{\"key\":\"cap\",\"signing_input_b64\":\"%s\"}", ak_buf_cstr(&in_b64));
    s_expect(&e, AKS_ROLE_CAP_MINT, "POST", "/v1/sign", req, 400, NULL);
    snprintf(req, sizeof(req), "{\"key\":\"session\",\"signing_input_b64\":\"%s\"}", ak_buf_cstr(&in_b64));
    s_expect(&e, AKS_ROLE_AUTH, "POST", "/v1/sign", req, 409, "conflict");
    ak_buf_free(&in_b64);
    snprintf(req, sizeof(req), "{\"key\":\"session\",\"signing_input_b64\":\"bm90IGEgand0\"}");
    s_expect(&e, AKS_ROLE_AUTH, "POST", "/v1/sign", req, 400, NULL);
    snprintf(req, sizeof(req), "{\"key\":\"other\",\"signing_input_b64\":\"bm90IGEgand0\"}");
    s_expect(&e, AKS_ROLE_CAP_MINT, "POST", "/v1/sign", req, 400, NULL);

    /* JWKS: three keys, the OIDC one with an x5c; after a rotation four. */
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_WORKER_MEMORY, "GET", "/v1/keys", NULL, &body, &err), 200);
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&body), &j));
    json_t *keys = json_object_get(j, "keys");
    EXPECT_INT_EQ(json_array_size(keys), 3);
    EXPECT_TRUE(json_is_array(json_object_get(json_array_get(keys, 1), "x5c")));
    EXPECT_TRUE(json_object_get(json_array_get(keys, 0), "x5c") == NULL);
    json_decref(j);
    ak_buf_free(&body);
    /* D20: no function rotates, whichever key; only the admin identity does. */
    aks_role no_rotate[] = {AKS_ROLE_AUTH,      AKS_ROLE_OIDC,          AKS_ROLE_CAP_MINT,
                            AKS_ROLE_AUDIT,     AKS_ROLE_WORKER_MEMORY, AKS_ROLE_WORKER_CREDENTIALS,
                            AKS_ROLE_DISCOVERY, AKS_ROLE_NONE};
    const char *rot_keys[] = {"{\"key\":\"session\"}", "{\"key\":\"oidc\"}", "{\"key\":\"cap\"}"};
    for (size_t i = 0; i < sizeof(no_rotate) / sizeof(no_rotate[0]); i++)
        for (size_t k = 0; k < 3; k++) {
            s_expect(&e, no_rotate[i], "POST", "/v1/rotate", rot_keys[k], 403, "role_not_allowed");
        }
    s_expect(&e, AKS_ROLE_ADMIN, "POST", "/v1/rotate", "{\"key\":\"oidc\"}", 200, NULL);
    /* OidcDiscoveryFunction's identity reads the keys (its JWKS), as every role does */
    s_expect(&e, AKS_ROLE_DISCOVERY, "GET", "/v1/keys", NULL, 200, NULL);
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_AUDIT, "GET", "/v1/keys", NULL, &body, &err), 200);
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&body), &j));
    keys = json_object_get(j, "keys");
    EXPECT_INT_EQ(json_array_size(keys), 4);
    int with_x5c = 0;
    for (size_t i = 0; i < 4; i++)
        with_x5c += json_object_get(json_array_get(keys, i), "x5c") != NULL;
    EXPECT_INT_EQ(with_x5c, 2);
    json_decref(j);
    ak_buf_free(&body);
    s_env_down(&e);
}

/* D20: every identity against every key: only auth/session, oidc/oidc, cap-mint/cap sign. */
AK_TEST(test_sign_identity_matrix) {
    s_env e;
    ak_buf body, in_b64;
    ak_err err;
    aks_pubkey pubs[6];
    char req[4096];
    s_env_up(&e);
    size_t n = aks_keystore_public_keys(&e.ks, pubs);
    static const char *const names[] = {"session", "oidc", "cap"};
    aks_role roles[] = {AKS_ROLE_AUTH,  AKS_ROLE_OIDC,          AKS_ROLE_CAP_MINT,
                        AKS_ROLE_AUDIT, AKS_ROLE_WORKER_MEMORY, AKS_ROLE_WORKER_CREDENTIALS,
                        AKS_ROLE_ADMIN, AKS_ROLE_DISCOVERY,     AKS_ROLE_NONE};
    for (int p = 0; p < 3; p++) {
        const char *kid = NULL;
        for (size_t i = 0; i < n; i++)
            if ((int)pubs[i].purpose == p && pubs[i].current) kid = pubs[i].kid;
        assert_non_null(kid);
        s_signing_input(p == AKS_KEY_CAP ? "ak-cap+jwt" : "JWT", kid, &in_b64);
        snprintf(req, sizeof(req), "{\"key\":\"%s\",\"signing_input_b64\":\"%s\"}", names[p],
                 ak_buf_cstr(&in_b64));
        for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
            bool own = (roles[r] == AKS_ROLE_AUTH && p == AKS_KEY_SESSION) ||
                       (roles[r] == AKS_ROLE_OIDC && p == AKS_KEY_OIDC) ||
                       (roles[r] == AKS_ROLE_CAP_MINT && p == AKS_KEY_CAP);
            int st = s_call(&e, roles[r], "POST", "/v1/sign", req, &body, &err);
            if (st != (own ? 200 : 403))
                fail_msg("role %s key %s: status %d", aks_role_name(roles[r]), names[p], st);
            if (!own) s_expect_reason(&body, "role_not_allowed");
            ak_buf_free(&body);
        }
        ak_buf_free(&in_b64);
    }
    s_env_down(&e);
}

/* D20: a worker certificate alone derives nothing; every mismatch between the request and the
 * cap is refused with its own reason. */
AK_TEST(test_derive_needs_cap) {
    s_env e;
    ak_buf body;
    ak_err err;
    char req[1024];
    static const uint8_t other_k10[32] = {7, 7, 7};
    uint64_t now = (uint64_t)time(NULL);
    s_env_up(&e);
    /* no cap at all, and a cap that is not a JWS */
    snprintf(req, sizeof(req),
             "{\"data_class\":\"memory\",\"operator_omni\":\"" OMNI_A "\",\"actor_omni\":\"" OMNI_B
             "\",\"epoch\":1,\"op\":\"fetch\"}");
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", req, 400, "missing_field");
    snprintf(req, sizeof(req),
             "{\"data_class\":\"memory\",\"operator_omni\":\"" OMNI_A "\",\"actor_omni\":\"" OMNI_B
             "\",\"epoch\":1,\"op\":\"fetch\",\"cap\":\"x.y.z\"}");
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", req, 403, "broker_sig_invalid");
    /* The request: op and epoch as given, class the cap's unless .dc, actor B unless .actor. */
    const s_capspec credentials_fetch = {.dc = "credentials", .op = AK_OP_FETCH, .k3 = 1};
    struct {
        const char *op;
        unsigned epoch;
        s_capspec sp;
        int status;
        const char *reason, *dc, *actor;
    } cases[] = {
        /* the good ones: fetch at or below the cap's epoch, store at exactly it, use */
        {"fetch", 1, {.op = AK_OP_FETCH, .k3 = 2}, 200, NULL},
        {"fetch", 2, {.op = AK_OP_FETCH, .k3 = 2}, 200, NULL},
        {"store", 2, {.op = AK_OP_STORE, .k3 = 2}, 200, NULL},
        {"use", 1, {.dc = "credentials", .op = AK_OP_USE, .k3 = 1}, 200, NULL},
        /* expired (issued an hour ago, ttl 300) */
        {"fetch", 1, {.op = AK_OP_FETCH, .k3 = 1, .at = now - 3600}, 403, "cap_freshness_failed"},
        /* a cap for the other class (its PoP and class are credentials) */
        {"fetch", 1, credentials_fetch, 403, "cap_data_class_mismatch", "memory"},
        /* another op than the request's; a teardown cap derives nothing */
        {"store", 1, {.op = AK_OP_FETCH, .k3 = 1}, 403, "cap_op_mismatch"},
        {"teardown", 1, {.op = AK_OP_TEARDOWN, .k3 = 1}, 403, "cap_op_mismatch"},
        {"get", 1, {.op = AK_OP_FETCH, .k3 = 1}, 400, "invalid_input"},
        /* another actor, another operator */
        {"fetch", 1, {.op = AK_OP_FETCH, .k3 = 1}, 403, "actor_mismatch", NULL, OMNI_A},
        {"fetch", 1, {.op = AK_OP_FETCH, .k3 = 1, .oper = 0xcc}, 403, "operator_mismatch"},
        /* another epoch: above the cap's for a read, anything but it for a write */
        {"fetch", 2, {.op = AK_OP_FETCH, .k3 = 1}, 403, "k3_epoch_mismatch"},
        {"store", 1, {.op = AK_OP_STORE, .k3 = 2}, 403, "k3_epoch_mismatch"},
        /* PoP by another key than the cap's device; a token signed by the session key */
        {"fetch", 1, {.op = AK_OP_FETCH, .k3 = 1, .k10_pop = other_k10}, 403, "cap_pop_invalid"},
        {"fetch", 1, {.op = AK_OP_FETCH, .k3 = 1, .sign_with_session = true}, 403, "broker_sig_invalid"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *dc = cases[i].dc ? cases[i].dc : cases[i].sp.dc ? cases[i].sp.dc : "memory";
        const char *b = s_derive_with(dc, cases[i].op, cases[i].actor ? cases[i].actor : OMNI_B,
                                      cases[i].epoch, &cases[i].sp);
        aks_role role = strcmp(dc, "credentials") == 0 ? AKS_ROLE_WORKER_CREDENTIALS : AKS_ROLE_WORKER_MEMORY;
        int st = s_call(&e, role, "POST", "/v1/kek/derive", b, &body, &err);
        if (st != cases[i].status) fail_msg("case %zu: status %d %s", i, st, ak_buf_cstr(&body));
        if (cases[i].reason) s_expect_reason(&body, cases[i].reason);
        ak_buf_free(&body);
    }
    /* A cap signed by the previous cap key still derives after a rotation (tokens minted just
     * before it live on); one from another signer's key does not. */
    s_capspec sp = {.dc = "memory", .op = AK_OP_FETCH, .k3 = 1};
    const char *before = s_derive_with("memory", "fetch", OMNI_B, 1, &sp);
    char saved[AK_MAX_JWS + 512];
    snprintf(saved, sizeof(saved), "%s", before);
    /* The same cap twice: one P-256 verify, then a cache hit (issue 19: the signer verified every
     * derive's cap afresh, ~1 ms each). */
    uint64_t v0 = e.ctx.cap_cache.verifies, h0 = e.ctx.cap_cache.hits;
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", saved, 200, NULL);
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", saved, 200, NULL);
    EXPECT_INT_EQ(e.ctx.cap_cache.hits - h0, 1);
    EXPECT_INT_EQ(e.ctx.cap_cache.verifies - v0, 1);
    EXPECT_OK(aks_keystore_rotate(&e.ks, AKS_KEY_CAP));
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", saved, 200, NULL);
    /* A rotation changed the key set: the cache was emptied (counters too), the cap verified again. */
    EXPECT_INT_EQ(e.ctx.cap_cache.verifies, 1);
    EXPECT_INT_EQ(e.ctx.cap_cache.hits, 0);
    /* The second rotation drops the key that signed it: a cached entry must not keep it alive. */
    EXPECT_OK(aks_keystore_rotate(&e.ks, AKS_KEY_CAP));
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", saved, 403, "broker_sig_invalid");
    s_env_down(&e);
}

/* issue 18: /v1/attest with the nitro attester (over the test-only fake NSM and PKI): the reply a
 * nitro-mode client verifies, bound to this signer's TLS key and measurement and the caller's
 * nonce; an NSM failure is the caller's 5xx with the NSM reason, and no document. */
AK_TEST(test_attest_nitro) {
    s_env e;
    ak_buf body;
    ak_err err;
    s_env_up(&e);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    nf_pki pki;
    nf_nsm nsm;
    nf_nsm_up(&pki, &nsm, 5, now);
    aks_attester *a = NULL;
    EXPECT_OK(aks_attester_nitro_with(nf_nsm_transport, &nsm, &a));
    e.ctx.attester = a;
    uint8_t tpriv[32];
    EXPECT_OK(ak_p256_keygen(tpriv, e.ctx.tls_pub));
    memset(e.ctx.measurement, 0x4d, 48);
    uint8_t nonce[32];
    memset(nonce, 0x33, sizeof(nonce));
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/attest",
                         "{\"nonce_b64\":\"MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\"}", &body, &err),
                  200);
    char root[64], m[97];
    nf_root_pem_file(&pki, root);
    ak_hex_encode(e.ctx.measurement, 48, m);
    ak_attest_settings st = {
        "nitro",
        NULL,
        m,
        {"101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010",
         NULL, NULL, NULL},
        root};
    ak_attest_pins pins;
    EXPECT_OK(ak_attest_pins_parse(&st, &pins));
    unlink(root);
    ak_attest_challenge ch = {nonce, sizeof(nonce), e.ctx.tls_pub, now, 0};
    const char *why = "unset";
    EXPECT_OK(ak_attest_reply_verify(ak_buf_cur(&body), &pins, &ch, &why));
    nonce[0] ^= 1; /* another caller's challenge */
    EXPECT_ERR(AK_E_ATTEST_NONCE_MISMATCH, ak_attest_reply_verify(ak_buf_cur(&body), &pins, &ch, &why));
    ak_buf_free(&body);
    nsm.mode = NF_ERROR;
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/attest",
             "{\"nonce_b64\":\"MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\"}", 502, "attest_nsm_error");
    nsm.mode = NF_TRANSPORT_FAIL;
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/attest",
             "{\"nonce_b64\":\"MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\"}", 503,
             "attest_nsm_unavailable");
    aks_attester_free(a);
    nf_pki_free(&pki);
    s_env_down(&e);
}

/* Issue 16 finding 7: the commitment endpoint (admin only) and the rollback rule on derive. */
AK_TEST(test_commitment_and_rollback_rule) {
    s_env e;
    ak_buf body;
    ak_err err;
    char path[160];
    uint8_t c2[32], zero[32] = {0};
    s_env_up(&e);
    /* Only the admin identity; a worker is refused. */
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/epoch/commitment", "{\"epoch\":1}", 403,
             "role_not_allowed");
    /* Above the chain: refused; at the chain's epoch: created and committed to. */
    s_expect(&e, AKS_ROLE_ADMIN, "POST", "/v1/epoch/commitment", "{\"epoch\":3}", 403, "epoch_not_current");
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_ADMIN, "POST", "/v1/epoch/commitment", "{\"epoch\":2}", &body, &err),
                  200);
    EXPECT_OK(aks_keystore_commitment(&e.ks, 2, c2));
    char hex[65], want[96];
    ak_hex_encode(c2, 32, hex);
    snprintf(want, sizeof(want), "\"commitment\":\"0x%s\"", hex);
    assert_non_null(strstr(ak_buf_cstr(&body), want));
    EXPECT_FALSE(memcmp(c2, zero, 32) == 0);
    ak_buf_free(&body);
    /* Health shows the highest epoch's commitment to every role (one-way, never K3). */
    EXPECT_INT_EQ(s_call(&e, AKS_ROLE_AUDIT, "GET", "/v1/health", NULL, &body, &err), 200);
    assert_non_null(strstr(ak_buf_cstr(&body), want));
    ak_buf_free(&body);
    /* The chain records commitments for epochs 1..3 although this keystore holds only 1..2
     * (epoch 3's K3 lives in a newer keystore that was lost): epoch 3 must not be created. */
    s_set_epoch(&e, 3);
    snprintf(path, sizeof(path), "%s.commitments", e.epoch_file);
    FILE *f = fopen(path, "w");
    fprintf(f, "2 0x%s\n3 0x%064x\n", hex, 7);
    fclose(f);
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 3), 503,
             "keystore_rollback");
    s_expect(&e, AKS_ROLE_ADMIN, "POST", "/v1/epoch/commitment", "{\"epoch\":3}", 503, "keystore_rollback");
    EXPECT_INT_EQ(aks_keystore_max_epoch(&e.ks), 2);
    /* Held epochs still serve. */
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 2), 200, NULL);
    /* Without the record of epoch 3 the same keystore creates it (fresh-chain behaviour). */
    f = fopen(path, "w");
    fprintf(f, "2 0x%s\n", hex);
    fclose(f);
    s_expect(&e, AKS_ROLE_WORKER_MEMORY, "POST", "/v1/kek/derive", s_derive_body("memory", 3), 200, NULL);
    EXPECT_INT_EQ(aks_keystore_max_epoch(&e.ks), 3);
    s_env_down(&e);
}

AK_RUN_TESTS(AK_T(test_attest_nitro), AK_T(test_commitment_and_rollback_rule), AK_T(test_roles_from_identity),
             AK_T(test_derive_needs_cap), AK_T(test_sign_identity_matrix), AK_T(test_derive_role_table),
             AK_T(test_derive_epoch_rule), AK_T(test_bad_input), AK_T(test_sign_and_keys))
