/*
 * secret_scan_test.c — no secret survives in freed heap memory (issue 16, finding 4).
 *
 * A credentials store and a fetch run end to end in process: an API Gateway v2 event (decoded
 * by akrt_apigw_decode into the invocation arena, jansson routed into it as in the runtime) →
 * the worker function's handler (functions/lib/worker_main.h) → the worker pipeline, whose KEK
 * comes from the real signer API (enclave/src/api.c: /v1/kek/derive over a keystore in a temp
 * dir) and is read back by the signer client's own reply parser (ak_signer_kek_from_reply). The
 * chain and S3 are fakes. Meanwhile the allocator keeps every freed block (the quarantine of
 * test builds, ak/alloc.h); afterwards every one of them is scanned for the plaintext, its
 * base64, the KEK, its base64 and the K3 it came from.
 *
 * Both sides: with the wipe on free, zero hits; with it turned off (test-only switch), the same
 * run leaves the plaintext's base64 and the KEK's base64 in freed blocks — so the scan can fail.
 */
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#include "ak/cap.h"
#include "ak/crypto.h"
#include "ak/http.h"
#include "ak/json.h"
#include "ak/signer.h"
#include "ak/worker.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"
#include "worker_main.h"
#include "../../enclave/src/api.c"
#include "../../enclave/src/epochs.c"
#include "../../enclave/src/http.c"
#include "../../enclave/src/kek.c"
#include "../../enclave/src/keystore.c"
#include "../../enclave/src/rollback.c"
#include "../../enclave/src/sealer.c"
#include "../../enclave/src/secmem.c"
#include "../../enclave/src/x509.c"

#define REGISTERED_AT 1700000000ull
#define EPOCH 2u
#define PLAIN_LEN 3000u /* > 1024: jansson's string buffers leave the arena for the heap */

/* ================================================================ the signer, in process */

typedef struct {
    char dir[64], epoch_file[128], ks_path[128];
    aks_sealer *sealer;
    aks_keystore ks;
    aks_epochs *epochs;
    aks_ctx ctx;
} s_signer_env;

static s_signer_env S;

static void s_signer_up(void) {
    static const uint8_t key[32] = {7};
    memset(&S, 0, sizeof(S));
    snprintf(S.dir, sizeof(S.dir), "/tmp/aks_scan_test.XXXXXX");
    assert_non_null(mkdtemp(S.dir));
    snprintf(S.epoch_file, sizeof(S.epoch_file), "%s/epoch", S.dir);
    snprintf(S.ks_path, sizeof(S.ks_path), "%s/ks", S.dir);
    FILE *f = fopen(S.epoch_file, "w");
    assert_non_null(f);
    fprintf(f, "%u\n", EPOCH);
    fclose(f);
    EXPECT_OK(aks_sealer_from_key(key, &S.sealer));
    EXPECT_OK(aks_keystore_open(&S.ks, S.ks_path, S.sealer));
    char spec[160];
    snprintf(spec, sizeof(spec), "file:%s", S.epoch_file);
    EXPECT_OK(aks_epochs_open(spec, 2000, &S.epochs));
    aks_ctx_init(&S.ctx);
    S.ctx.ks = &S.ks;
    S.ctx.epochs = S.epochs;
}

static void s_signer_down(void) {
    char cmd[128];
    aks_ctx_free(&S.ctx);
    aks_epochs_free(S.epochs);
    aks_keystore_close(&S.ks);
    aks_sealer_free(S.sealer);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", S.dir);
    assert_int_equal(system(cmd), 0);
}

/* One /v1/kek/derive as the credentials worker's certificate would send it; the reply body in
 * `reply` (a secret buffer). Returns the HTTP status. */
static int s_signer_derive(const uint8_t op[32], const uint8_t actor[32], uint32_t epoch, const char *op_name,
                           ak_cur cap, ak_buf *reply) {
    char op_hex[65], actor_hex[65];
    ak_buf raw;
    aks_http_req req;
    bool done;
    int status = 0;
    ak_err err = AK_OK;
    ak_hex_encode(op, 32, op_hex);
    ak_hex_encode(actor, 32, actor_hex);
    /* D20: the request carries the worker's op and the agent's cap; the signer verifies both */
    char json[4096];
    snprintf(json, sizeof(json),
             "{\"data_class\":\"credentials\",\"operator_omni\":\"%s\",\"actor_omni\":\"%s\",\"epoch\":%u,"
             "\"op\":\"%s\",\"cap\":\"%.*s\"}",
             op_hex, actor_hex, epoch, op_name, (int)cap.len, (const char *)cap.ptr);
    ak_buf_init(&raw, 4096);
    EXPECT_OK(ak_buf_printf(&raw, "POST /v1/kek/derive HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s",
                            strlen(json), json));
    aks_http_limits lim = AKS_HTTP_DEFAULT_LIMITS;
    EXPECT_OK(aks_http_parse(ak_buf_cur(&raw), &lim, &req, &done));
    assert_true(done);
    aks_api_handle(&S.ctx, AKS_ROLE_WORKER_CREDENTIALS, &req, &status, reply, &err);
    ak_buf_free(&raw);
    return status;
}

/* ================================================================ chain, S3, audit: fakes */

static const uint8_t K10_AGENT[32] = {[31] = 1};
static ak_omni OP, ACTOR;
static uint8_t AGENT_DKH[32], SCOPE_ID[32];
static uint8_t CAP_PUB[65];
static char CAP_KID[64];

/* Caps are signed by the in-process signer's own cap key, as CapMintFunction has it do: the
 * signer verifies every cap it derives a KEK for (D20). */
static ak_err s_sign_with_signer(void *user, const uint8_t *in, size_t len, uint8_t sig64[64]) {
    (void)user;
    char kid[AKS_KID_MAX];
    return aks_keystore_sign(&S.ks, AKS_KEY_CAP, ak_cur_from_str(CAP_KID), in, len, sig64, kid);
}

static void s_signer_cap_key(void) {
    aks_pubkey keys[2 * AKS_KEY__COUNT];
    size_t n = aks_keystore_public_keys(&S.ks, keys);
    for (size_t i = 0; i < n; i++)
        if (keys[i].purpose == AKS_KEY_CAP && keys[i].current) {
            memcpy(CAP_PUB, keys[i].pub, 65);
            snprintf(CAP_KID, sizeof(CAP_KID), "%s", keys[i].kid);
            return;
        }
    fail_msg("the signer holds no cap key");
}

static struct {
    uint8_t *data;
    size_t len;
    char key[256];
    unsigned derives;
} OBJ;

static void s_dkh_of(const uint8_t sk[32], uint8_t dkh[32]) {
    uint8_t pub[65], addr[20];
    EXPECT_OK(ak_secp256k1_pubkey(sk, pub));
    ak_eth_address_from_pub(pub, addr);
    ak_device_key_hash(addr, dkh);
}

/* The worker's KEK: the signer computes and answers; the client's parser reads the answer. */
static ak_err f_derive(ak_worker *w, const ak_omni *op, const ak_omni *actor, uint32_t epoch,
                       uint8_t kek[32]) {
    ak_buf reply;
    ak_buf_init_secret(&reply, 4096);
    int status = s_signer_derive(op->b, actor->b, epoch, ak_op_str(w->req_op), w->req_cap, &reply);
    ak_err rc = status == 200 ? ak_signer_kek_from_reply(ak_buf_cur(&reply), kek) : AK_E_SIGNER_UNAVAILABLE;
    ak_buf_free(&reply);
    OBJ.derives++;
    return rc;
}

static ak_err f_get_device(ak_worker *w, const uint8_t dkh[32], ak_device_entry *out) {
    (void)w;
    memset(out, 0, sizeof(*out));
    if (memcmp(dkh, AGENT_DKH, 32) != 0) return AK_OK;
    memcpy(out->operator_omni, OP.b, 32);
    memcpy(out->actor_omni, ACTOR.b, 32);
    out->tier = AK_DEVICE_TIER_AGENT;
    out->roles = AK_ROLE_CAP_MINT;
    out->registered_at = REGISTERED_AT;
    return AK_OK;
}

static ak_err f_actor_operator(ak_worker *w, const uint8_t actor[32], uint8_t op[32]) {
    (void)w;
    memset(op, 0, 32);
    if (memcmp(actor, ACTOR.b, 32) == 0) memcpy(op, OP.b, 32);
    return AK_OK;
}

static ak_err f_in_scope(ak_worker *w, const uint8_t op[32], const uint8_t actor[32], const uint8_t sid[32],
                         bool *out) {
    (void)w;
    *out = memcmp(op, OP.b, 32) == 0 && memcmp(actor, ACTOR.b, 32) == 0 && memcmp(sid, SCOPE_ID, 32) == 0;
    return AK_OK;
}

static ak_err f_read_only(ak_worker *w, const uint8_t op[32], const uint8_t actor[32], bool *out) {
    (void)w;
    (void)op;
    (void)actor;
    *out = false;
    return AK_OK;
}

static ak_err f_epoch(ak_worker *w, uint64_t *out) {
    (void)w;
    *out = EPOCH;
    return AK_OK;
}

static ak_err f_get(ak_worker *w, const ak_sigv4_creds *c, ak_cur key, ak_buf *body, ak_buf *etag) {
    (void)w;
    (void)c;
    if (OBJ.data == NULL || !ak_cur_eq_str(key, OBJ.key)) return AK_E_NOT_FOUND;
    AK_GUARD(ak_buf_append(body, OBJ.data, OBJ.len));
    return ak_buf_append_str(etag, "\"etag-1\"");
}

static ak_err f_put(ak_worker *w, const ak_sigv4_creds *c, ak_cur key, ak_cur body, ak_cur if_match) {
    (void)w;
    (void)c;
    (void)if_match;
    assert_true(key.len < sizeof(OBJ.key));
    free(OBJ.data); /* the stored object is an envelope (ciphertext): plain malloc, never scanned */
    OBJ.data = malloc(body.len);
    assert_non_null(OBJ.data);
    memcpy(OBJ.data, body.ptr, body.len);
    OBJ.len = body.len;
    memcpy(OBJ.key, key.ptr, key.len);
    OBJ.key[key.len] = 0;
    return AK_OK;
}

static const ak_worker_ops s_wops = {.derive_kek = f_derive,
                                     .get_device = f_get_device,
                                     .actor_operator = f_actor_operator,
                                     .in_scope = f_in_scope,
                                     .read_only = f_read_only,
                                     .current_epoch = f_epoch,
                                     .get = f_get,
                                     .put = f_put};

static ak_err f_keys(ak_svc *svc, ak_buf *out) {
    (void)svc;
    ak_jwk_p256 k;
    memset(&k, 0, sizeof(k));
    memcpy(k.pub65, CAP_PUB, 65);
    snprintf(k.kid, sizeof(k.kid), "%s", CAP_KID);
    json_t *j, *root = json_object(), *arr = json_array();
    AK_GUARD(ak_jwk_p256_to_json(&k, &j));
    json_object_set_new(j, "ak_key", json_string("cap"));
    json_object_set_new(j, "ak_status", json_string("current"));
    json_array_append_new(arr, j);
    json_object_set_new(root, "keys", arr);
    ak_err rc = ak_json_dump(root, out);
    json_decref(root);
    return rc;
}

static ak_err f_audit_put(ak_svc *svc, const char *bucket, ak_cur key, ak_cur body, bool inm, int64_t dl) {
    (void)svc;
    (void)bucket;
    (void)key;
    (void)body;
    (void)inm;
    (void)dl;
    return AK_OK;
}

static const ak_svc_ops s_sops = {.keys = f_keys, .s3_put = f_audit_put};

/* ================================================================ requests */

static void s_mint(ak_op op, ak_buf *out) {
    ak_cap_claims c;
    memset(&c, 0, sizeof(c));
    c.operator_omni = OP;
    c.actor_omni = ACTOR;
    snprintf(c.service, sizeof(c.service), "openrouter");
    c.service_len = strlen(c.service);
    c.op = op;
    c.data_class = AK_CLASS_CREDENTIALS;
    memcpy(c.device_key_hash, AGENT_DKH, 32);
    c.k3_epoch = EPOCH;
    c.issued_at = (uint64_t)(ak_http_now_ms() / 1000) - 10; /* the handler checks against the clock */
    c.expires_at = c.issued_at + 300;
    snprintf(c.nonce, sizeof(c.nonce), "%032x", 7);
    snprintf(c.jti, sizeof(c.jti), "%032x", op == AK_OP_STORE ? 9 : 10);
    snprintf(c.pop.nonce, sizeof(c.pop.nonce), "00112233445566778899aabbccddeeff");
    c.pop.nonce_len = 32;
    c.pop.ts = c.issued_at;
    ak_cap_pop_msg m;
    ak_cap_pop_msg_of(&c, &m);
    EXPECT_OK(ak_cap_pop_sign(K10_AGENT, &m, c.pop.sig));
    ak_buf_init(out, AK_MAX_JWS);
    EXPECT_OK(ak_cap_sign(&c, CAP_KID, s_sign_with_signer, NULL, out));
}

/*
 * One request the way the runtime runs it: the API Gateway v2 event text (a secret buffer here,
 * so the test's own copy never lands in a freed block unwiped) → akrt_apigw_decode into the
 * arena → the worker function's handler. The response body is appended to `out` (secret).
 */
static void s_invoke(ak_worker_fn *fn, ak_op op, const char *plain_b64, ak_buf *out) {
    ak_buf cap, ev;
    s_mint(op, &cap);
    ak_buf_init_secret(&ev, 1u << 20);
    EXPECT_OK(
        ak_buf_printf(&ev,
                      "{\"version\":\"2.0\",\"routeKey\":\"POST /v1/x\",\"rawPath\":\"/v1/x\","
                      "\"rawQueryString\":\"\",\"headers\":{\"content-type\":\"application/json\","
                      "\"x-aws-access-key-id\":\"ASIATESTKEYID0000001\","
                      "\"x-aws-secret-access-key\":\"sts-secret\",\"x-aws-session-token\":\"sts-token\"},"
                      "\"requestContext\":{\"http\":{\"method\":\"POST\",\"path\":\"/v1/x\","
                      "\"sourceIp\":\"127.0.0.1\",\"protocol\":\"HTTP/1.1\"},\"requestId\":\"apigw-1\"},"
                      "\"isBase64Encoded\":false,\"body\":\"{\\\"cap\\\":\\\"%s\\\"",
                      ak_buf_cstr(&cap)));
    if (plain_b64 != NULL) EXPECT_OK(ak_buf_printf(&ev, ",\\\"plaintext_b64\\\":\\\"%s\\\"", plain_b64));
    EXPECT_OK(ak_buf_append_str(&ev, "}\"}"));
    ak_buf_free(&cap);

    ak_arena arena;
    akrt_invocation inv;
    akrt_http_req req;
    akrt_http_resp resp;
    memset(&inv, 0, sizeof(inv));
    ak_arena_init(&arena, AK_MAX_ARENA);
    EXPECT_OK(akrt_apigw_decode(ak_buf_cur(&ev), &arena, &req));
    snprintf(inv.request_id, sizeof(inv.request_id), "rid-1");
    inv.deadline_ms = (uint64_t)ak_http_now_ms() + 10000;
    akrt_ctx ctx = {.arena = &arena, .inv = &inv, .function_name = "scan"};
    akrt_http_resp_init(&resp, &arena);
    fn->op = op;
    EXPECT_OK(ak_worker_fn_handle(&ctx, &req, &resp, fn));
    EXPECT_INT_EQ(resp.status, 200);
    EXPECT_OK(ak_buf_append_cur(out, ak_buf_cur(&resp.body)));
    akrt_http_resp_free(&resp);
    ak_arena_free(&arena);
    ak_buf_free(&ev);
}

/* ================================================================ the scan */

typedef struct {
    size_t plain, plain_b64, kek, kek_b64, k3;
} s_hits;

/*
 * Store + fetch (two KEK derivations on the signer side, two replies parsed on the client
 * side), everything freed, then every freed block scanned. `wipe` = the allocator's wipe on free.
 */
static s_hits s_run(bool wipe) {
    uint8_t plain[PLAIN_LEN], k3[32], kek[32];
    ak_buf plain_b64, kek_b64, got, fetched;
    ak_buf_init_secret(&plain_b64, 1u << 16);
    ak_buf_init_secret(&kek_b64, 64);
    ak_buf_init_secret(&got, 1u << 16);
    ak_buf_init_secret(&fetched, 1u << 16);
    for (size_t i = 0; i < sizeof(plain); i++) /* printable, unique, nothing else in the heap looks like it */
        plain[i] = (uint8_t)('!' + (i * 37 + i / 94) % 94);
    EXPECT_OK(ak_random(plain, 16));
    EXPECT_OK(ak_b64_encode(plain, sizeof(plain), &plain_b64));

    s_signer_up();
    s_signer_cap_key(); /* the worker trusts, and caps are signed with, the signer's own cap key */
    ak_alloc_test_wipe_on_free(wipe);
    ak_alloc_test_quarantine(true);
    memset(&OBJ, 0, sizeof(OBJ));
    ak_worker_fn fn = {.op = AK_OP_STORE, .data_class = AK_CLASS_CREDENTIALS};
    ak_worker_init_for_test(&fn.w, AK_CLASS_CREDENTIALS, "ak-vault", true, &s_sops, "ak-audit", &s_wops);

    /* store, then fetch: the answer carries the plaintext's base64 */
    s_invoke(&fn, AK_OP_STORE, ak_buf_cstr(&plain_b64), &got);
    assert_non_null(OBJ.data);
    EXPECT_TRUE(memmem(OBJ.data, OBJ.len, plain, 32) == NULL); /* stored sealed */
    s_invoke(&fn, AK_OP_FETCH, NULL, &fetched);
    /* Checked without parsing, so that every hit below comes from the code under test. */
    const uint8_t *at = memmem(fetched.ptr, fetched.len, "\"plaintext_b64\":\"", 17);
    assert_non_null(at);
    assert_true((size_t)(fetched.ptr + fetched.len - at) > 17 + plain_b64.len);
    EXPECT_BYTES_EQ(at + 17, plain_b64.len, plain_b64.ptr, plain_b64.len);
    EXPECT_INT_EQ(at[17 + plain_b64.len], '"');
    EXPECT_INT_EQ(OBJ.derives, 2);
    /* The KEK the worker got: D6 over the K3 of EPOCH that the signer created on the first derive. */
    EXPECT_OK(aks_keystore_k3(&S.ks, EPOCH, k3));
    EXPECT_OK(aks_kek_derive(k3, AK_CUR_LIT("credentials"), OP.b, ACTOR.b, kek));
    EXPECT_OK(ak_b64_encode(kek, 32, &kek_b64));
    ak_worker_free(&fn.w);
    s_signer_down();

    /* Everything freed so far is quarantined: scan it. A needle is the whole secret or a part
     * of it: a grown buffer's old copy holds a prefix, and a parser's reused token buffer keeps
     * the tail of a string whose head later tokens overwrote (the KEK's base64: its last 24
     * characters, 144 bits of key). */
    size_t nq = ak_alloc_test_quarantined();
    EXPECT_TRUE(nq > 100); /* the run did free (and keep) blocks: the scan has material */
    s_hits h;
    h.plain = ak_alloc_test_scan(plain, sizeof(plain)) + ak_alloc_test_scan(plain, 40) +
              ak_alloc_test_scan(plain + sizeof(plain) - 40, 40);
    h.plain_b64 = ak_alloc_test_scan(plain_b64.ptr, plain_b64.len) + ak_alloc_test_scan(plain_b64.ptr, 40) +
                  ak_alloc_test_scan(plain_b64.ptr + plain_b64.len - 40, 40);
    h.kek = ak_alloc_test_scan(kek, 32);
    h.kek_b64 = ak_alloc_test_scan(kek_b64.ptr, kek_b64.len) + ak_alloc_test_scan(kek_b64.ptr + 20, 24);
    h.k3 = ak_alloc_test_scan(k3, 32);
    print_message(
        "wipe %s: %zu freed blocks; hits plaintext %zu, plaintext_b64 %zu, kek %zu, kek_b64 %zu, k3 %zu\n",
        wipe ? "on" : "off", nq, h.plain, h.plain_b64, h.kek, h.kek_b64, h.k3);
    ak_alloc_test_quarantine(false);
    ak_alloc_test_wipe_on_free(true);

    free(OBJ.data);
    memset(&OBJ, 0, sizeof(OBJ));
    ak_wipe(plain, sizeof(plain));
    ak_wipe(k3, sizeof(k3));
    ak_wipe(kek, sizeof(kek));
    ak_buf_free(&plain_b64);
    ak_buf_free(&kek_b64);
    ak_buf_free(&got);
    ak_buf_free(&fetched);
    return h;
}

static void s_world(void) {
    memset(OP.b, 0x11, 32);
    memset(ACTOR.b, 0x22, 32);
    s_dkh_of(K10_AGENT, AGENT_DKH);
    EXPECT_OK(ak_scope_id_of(AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), SCOPE_ID));
}

/* With the wipe on free: no freed block holds any of the secrets. */
AK_TEST(test_freed_blocks_hold_no_secret) {
    s_world();
    s_hits h = s_run(true);
    EXPECT_INT_EQ(h.plain, 0);
    EXPECT_INT_EQ(h.plain_b64, 0);
    EXPECT_INT_EQ(h.kek, 0);
    EXPECT_INT_EQ(h.kek_b64, 0);
    EXPECT_INT_EQ(h.k3, 0);
}

/* The same run without the wipe on free: the scan finds the store's plaintext_b64 (jansson's
 * parse buffers of the event and of the body) and the signer's kek_b64 (the client's parse of
 * the reply) — what issue 16 reported, and proof that the test above can fail. */
AK_TEST(test_scan_finds_secrets_without_the_wipe) {
    s_world();
    s_hits h = s_run(false);
    EXPECT_TRUE(h.plain_b64 > 0);
    EXPECT_TRUE(h.kek_b64 > 0);
}

/* The allocator itself: a block freed, a block moved by ak_realloc, an arena's chunks (the
 * large one freed at reset, the kept one at ak_arena_free) — all wiped; with the switch off the
 * same scan sees the marker, so the needle and the scan are sound. */
static size_t s_alloc_paths(bool wipe) {
    static const char mark[] = "MARKER-0123456789-secret-bytes";
    size_t m = sizeof(mark) - 1;
    ak_alloc_test_wipe_on_free(wipe);
    ak_alloc_test_quarantine(true);
    char *p = ak_malloc(100);
    assert_non_null(p);
    memcpy(p + 10, mark, m);
    ak_free(p);
    p = ak_malloc(64);
    assert_non_null(p);
    memcpy(p, mark, m);
    p = ak_realloc(p, 4096); /* moves: the old block goes back wiped */
    assert_non_null(p);
    EXPECT_BYTES_EQ(p, m, mark, m);
    ak_wipe(p, m);
    ak_free(p);
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    char *small = ak_arena_alloc(&a, 64);
    char *big = ak_arena_alloc(&a, 200000); /* its own chunk, freed at reset */
    assert_non_null(small);
    assert_non_null(big);
    memcpy(small, mark, m);
    memcpy(big + 1000, mark, m);
    ak_arena_reset(&a);
    ak_arena_free(&a);
    size_t hits = ak_alloc_test_scan(mark, m);
    ak_alloc_test_quarantine(false);
    ak_alloc_test_wipe_on_free(true);
    return hits;
}

AK_TEST(test_allocator_paths_wipe) {
    EXPECT_INT_EQ(s_alloc_paths(true), 0);
    EXPECT_INT_EQ(s_alloc_paths(false), 2); /* ak_free's and ak_realloc's; the arena wipes itself */
}

/* libcurl allocates through the wiping allocator (curl_global_init_mem in ak_http_new): freeing
 * a handle returns more blocks through it than libak's own ak_malloc calls could account for. */
AK_TEST(test_curl_uses_the_wiping_allocator) {
    ak_http_config cfg = {.user_agent = "scan"};
    ak_http *c = NULL;
    ak_alloc_test_quarantine(true);
    uint64_t calls0 = ak_alloc_calls();
    size_t q0 = ak_alloc_test_quarantined();
    EXPECT_OK(ak_http_new(&cfg, &c));
    ak_http_free(c);
    size_t ours = (size_t)(ak_alloc_calls() - calls0);
    size_t freed = ak_alloc_test_quarantined() - q0;
    ak_alloc_test_quarantine(false);
    if (freed <= ours)
        fail_msg("%zu blocks freed, %zu of them could be libak's: curl is not routed", freed, ours);
}

AK_RUN_TESTS(AK_T(test_freed_blocks_hold_no_secret), AK_T(test_scan_finds_secrets_without_the_wipe),
             AK_T(test_allocator_paths_wipe), AK_T(test_curl_uses_the_wiping_allocator))
