/*
 * tests/unit/broker_fakes.h — fakes shared by the broker function tests (auth, oidc, cap_mint):
 * a signer (three P-256 keys with kids, /v1/keys JWKS with x5c on the OIDC key), an S3 with
 * If-None-Match semantics, a chain (getDevice, actorOperator, isServiceInScope, getScope,
 * currentEpoch, eth_getBlockByNumber("latest"); single requests and JSON-RPC batches; eth_call
 * at "latest" or pinned to a block hash of ours, EIP-1898) behind ak_evm_rpc's transport hook, a
 * fixed clock, and API Gateway v2 events built in memory.
 * Header-only (static functions marked unused) so each test binary includes what it uses.
 */
#ifndef AK_TEST_BROKER_FAKES_H
#define AK_TEST_BROKER_FAKES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ak/abi.h"
#include "ak/crypto.h"
#include "ak/evm.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/svc.h"
#include "akrt/apigw.h"
#include "akrt/runtime.h"

#define BF_UNUSED __attribute__((unused))
#define BF_ISSUER "https://broker.test:8443"
#define BF_AUDIT "ak-audit"
#define BF_MAX_OBJ 256
#define BF_MAX_DEV 16
#define BF_MAX_SCOPE 16

typedef struct {
    char bucket[64];
    char key[512];
    ak_buf body;
} bf_obj;

typedef struct {
    uint8_t dkh[32];
    ak_device_entry e;
} bf_dev;

typedef struct {
    uint8_t op[32], actor[32], sid[32];
    bool read_only; /* AgentKeysScope.Scope.readOnly of the (op, actor) scope */
} bf_scope;

typedef struct {
    /* signer */
    uint8_t priv[3][32], pub[3][65];
    char kid[3][AK_SIGNER_KID_MAX];
    ak_err sign_err;
    /* s3 */
    bf_obj objs[BF_MAX_OBJ];
    size_t n_objs;
    ak_err put_err;          /* every PUT fails with this */
    const char *fail_prefix; /* PUTs under this key prefix fail with put_err_prefix */
    ak_err put_err_prefix;
    /* chain */
    bf_dev devs[BF_MAX_DEV];
    size_t n_devs;
    uint8_t bound_actor[BF_MAX_DEV][32], bound_op[BF_MAX_DEV][32];
    size_t n_bound;
    bf_scope scopes[BF_MAX_SCOPE];
    size_t n_scopes;
    uint64_t epoch;
    bool chain_down;
    int chain_calls;     /* POSTs: one per round trip */
    int chain_views;     /* eth_call elements answered */
    uint64_t block;      /* the head's number; its hash is bf_block_hash(block) */
    bool block_per_post; /* a new block before every POST is answered (the head always moved) */
    /* clock */
    uint64_t now_us;
} bf_world;

static bf_world BF;

/* ---------------------------------------------------------------- signer */

static ak_err bf_sign(ak_svc *svc, ak_signer_key key, ak_cur in, uint8_t sig[64],
                      char kid[AK_SIGNER_KID_MAX]) {
    (void)svc;
    if (BF.sign_err != AK_OK) return BF.sign_err;
    snprintf(kid, AK_SIGNER_KID_MAX, "%s", BF.kid[key]);
    return ak_p256_sign_sha256(BF.priv[key], in.ptr, in.len, sig);
}

static ak_err bf_kid(ak_svc *svc, ak_signer_key key, bool refresh, char kid[AK_SIGNER_KID_MAX]) {
    (void)svc;
    (void)refresh;
    if (BF.sign_err != AK_OK) return BF.sign_err;
    snprintf(kid, AK_SIGNER_KID_MAX, "%s", BF.kid[key]);
    return AK_OK;
}

static ak_err bf_keys(ak_svc *svc, ak_buf *out) {
    (void)svc;
    if (BF.sign_err != AK_OK) return BF.sign_err;
    static const char *names[3] = {"session", "oidc", "cap"};
    json_t *arr = json_array();
    for (int i = 0; i < 3; i++) {
        ak_jwk_p256 k;
        memset(&k, 0, sizeof(k));
        memcpy(k.pub65, BF.pub[i], 65);
        snprintf(k.kid, sizeof(k.kid), "%s", BF.kid[i]);
        if (i == 1) k.x5c = "MIIBcert";
        json_t *j;
        if (ak_jwk_p256_to_json(&k, &j) != AK_OK) return AK_E_INTERNAL;
        json_object_set_new(j, "ak_key", json_string(names[i]));
        json_object_set_new(j, "ak_status", json_string("current"));
        json_array_append_new(arr, j);
    }
    json_t *root = json_pack("{s:o}", "keys", arr);
    ak_err rc = ak_json_dump(root, out);
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------------- S3 */

static BF_UNUSED bf_obj *bf_find(const char *bucket, const char *key) {
    for (size_t i = 0; i < BF.n_objs; i++)
        if (strcmp(BF.objs[i].bucket, bucket) == 0 && strcmp(BF.objs[i].key, key) == 0) return &BF.objs[i];
    return NULL;
}

static BF_UNUSED size_t bf_count_prefix(const char *bucket, const char *prefix) {
    size_t n = 0;
    for (size_t i = 0; i < BF.n_objs; i++)
        if (strcmp(BF.objs[i].bucket, bucket) == 0 && strncmp(BF.objs[i].key, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

static ak_err bf_put(ak_svc *svc, const char *bucket, ak_cur key, ak_cur body, bool inm, int64_t dl) {
    (void)svc;
    (void)dl;
    char k[512];
    if (ak_cur_to_cstr(key, k, sizeof(k)) != AK_OK) return AK_E_INVALID_INPUT;
    if (BF.put_err != AK_OK) return BF.put_err;
    if (BF.fail_prefix != NULL && strncmp(k, BF.fail_prefix, strlen(BF.fail_prefix)) == 0)
        return BF.put_err_prefix;
    bf_obj *o = bf_find(bucket, k);
    if (o != NULL && inm) return AK_E_PRECONDITION_FAILED;
    if (o == NULL) {
        if (BF.n_objs == BF_MAX_OBJ) return AK_E_S3_ERROR;
        o = &BF.objs[BF.n_objs++];
        snprintf(o->bucket, sizeof(o->bucket), "%s", bucket);
        snprintf(o->key, sizeof(o->key), "%s", k);
        ak_buf_init(&o->body, 1u << 20);
    }
    ak_buf_clear(&o->body);
    return ak_buf_append_cur(&o->body, body);
}

static ak_err bf_get(ak_svc *svc, const char *bucket, ak_cur key, size_t max, ak_buf *out, int64_t dl) {
    (void)svc;
    (void)dl;
    char k[512];
    if (ak_cur_to_cstr(key, k, sizeof(k)) != AK_OK) return AK_E_INVALID_INPUT;
    bf_obj *o = bf_find(bucket, k);
    if (o == NULL) return AK_E_NOT_FOUND;
    if (max && o->body.len > max) return AK_E_TOO_LARGE;
    return ak_buf_append_cur(out, ak_buf_cur(&o->body));
}

/* ---------------------------------------------------------------- chain */

static ak_err bf_word_result(const uint8_t *words, size_t n, ak_buf *hexout) {
    AK_GUARD(ak_buf_append_str(hexout, "0x"));
    return ak_buf_append_hex(hexout, words, n * 32);
}

static void bf_block_hash(uint64_t n, uint8_t h[32]) {
    memset(h, 0xb1, 32);
    for (int b = 0; b < 8; b++)
        h[31 - b] = (uint8_t)(n >> (8 * b));
}

/* One view: calldata (hex) -> the return data (hex) into `hex`. */
static ak_err bf_view(const char *data, ak_buf *hex) {
    if (data == NULL) return AK_E_INTERNAL;
    ak_buf raw;
    ak_buf_init(&raw, 4096);
    ak_err rc = ak_hex_decode_buf(ak_cur_from_str(data), true, &raw);
    BF.chain_views++;
    uint8_t sel_dev[4], sel_op[4], sel_scope[4], sel_epoch[4], sel_get_scope[4];
    if (rc == AK_OK) rc = ak_abi_selector("getDevice(bytes32)", sel_dev, NULL);
    if (rc == AK_OK) rc = ak_abi_selector("actorOperator(bytes32)", sel_op, NULL);
    if (rc == AK_OK) rc = ak_abi_selector("isServiceInScope(bytes32,bytes32,bytes32)", sel_scope, NULL);
    if (rc == AK_OK) rc = ak_abi_selector("currentEpoch()", sel_epoch, NULL);
    if (rc == AK_OK) rc = ak_abi_selector("getScope(bytes32,bytes32)", sel_get_scope, NULL);
    uint8_t w[(10 + BF_MAX_SCOPE) * 32];
    memset(w, 0, sizeof(w));
    const uint8_t *a = raw.ptr + 4;
    if (rc == AK_OK && raw.len >= 4 && memcmp(raw.ptr, sel_dev, 4) == 0 && raw.len == 36) {
        for (size_t i = 0; i < BF.n_devs; i++) {
            if (memcmp(BF.devs[i].dkh, a, 32) != 0) continue;
            const ak_device_entry *e = &BF.devs[i].e;
            memcpy(w, e->operator_omni, 32);
            memcpy(w + 32, e->actor_omni, 32);
            w[6 * 32 + 31] = e->tier;
            w[7 * 32 + 31] = e->roles;
            for (int b = 0; b < 8; b++)
                w[8 * 32 + 31 - b] = (uint8_t)(e->registered_at >> (8 * b));
            w[10 * 32 + 31] = e->revoked ? 1 : 0;
        }
        rc = bf_word_result(w, 11, hex);
    } else if (rc == AK_OK && raw.len == 36 && memcmp(raw.ptr, sel_op, 4) == 0) {
        for (size_t i = 0; i < BF.n_bound; i++)
            if (memcmp(BF.bound_actor[i], a, 32) == 0) memcpy(w, BF.bound_op[i], 32);
        rc = bf_word_result(w, 1, hex);
    } else if (rc == AK_OK && raw.len == 100 && memcmp(raw.ptr, sel_scope, 4) == 0) {
        for (size_t i = 0; i < BF.n_scopes; i++)
            if (memcmp(BF.scopes[i].op, a, 32) == 0 && memcmp(BF.scopes[i].actor, a + 32, 32) == 0 &&
                memcmp(BF.scopes[i].sid, a + 64, 32) == 0)
                w[31] = 1;
        rc = bf_word_result(w, 1, hex);
    } else if (rc == AK_OK && raw.len == 68 && memcmp(raw.ptr, sel_get_scope, 4) == 0) {
        /* getScope(op, agent) -> (Scope): offset, then the tuple head (services offset,
         * readOnly, three limits, period, updatedAt, exists), then the services array */
        size_t n = 0;
        bool ro = false;
        for (size_t i = 0; i < BF.n_scopes; i++)
            if (memcmp(BF.scopes[i].op, a, 32) == 0 && memcmp(BF.scopes[i].actor, a + 32, 32) == 0) {
                memcpy(w + (10 + n) * 32, BF.scopes[i].sid, 32);
                ro = ro || BF.scopes[i].read_only;
                n++;
            }
        w[31] = 0x20;
        w[32 + 30] = 0x01; /* 0x100: the services array after the 8 head words */
        w[2 * 32 + 31] = ro ? 1 : 0;
        w[7 * 32 + 31] = n > 0 ? 1 : 0; /* updatedAt */
        w[8 * 32 + 31] = n > 0 ? 1 : 0; /* exists */
        w[9 * 32 + 31] = (uint8_t)n;
        rc = bf_word_result(w, 10 + n, hex);
    } else if (rc == AK_OK && raw.len == 4 && memcmp(raw.ptr, sel_epoch, 4) == 0) {
        for (int b = 0; b < 8; b++)
            w[31 - b] = (uint8_t)(BF.epoch >> (8 * b));
        rc = bf_word_result(w, 1, hex);
    } else if (rc == AK_OK) {
        rc = AK_E_INTERNAL;
    }
    ak_buf_free(&raw);
    return rc;
}

/* The answer to one request object (a new JSON object), NULL when it is not one we serve. */
static json_t *bf_answer(const json_t *req) {
    json_t *id = json_object_get(req, "id");
    const char *method = json_string_value(json_object_get(req, "method"));
    const json_t *params = json_object_get(req, "params");
    if (method == NULL || !json_is_integer(id)) return NULL;
    uint8_t h[32];
    char hh[67];
    if (strcmp(method, "eth_getBlockByNumber") == 0) {
        bf_block_hash(BF.block, h);
        snprintf(hh, 3, "0x");
        for (int i = 0; i < 32; i++)
            snprintf(hh + 2 + 2 * i, 3, "%02x", h[i]);
        char num[24];
        snprintf(num, sizeof(num), "0x%llx", (unsigned long long)BF.block);
        return json_pack("{s:s,s:O,s:{s:s,s:s}}", "jsonrpc", "2.0", "id", id, "result", "hash", hh, "number",
                         num);
    }
    if (strcmp(method, "eth_call") != 0) return NULL;
    const json_t *at = json_array_get(params, 1);
    if (json_is_object(at)) {
        /* EIP-1898: a block hash of ours (any block up to the head) */
        const char *bh = json_string_value(json_object_get(at, "blockHash"));
        bool known = false;
        for (uint64_t n = 0; bh != NULL && n <= BF.block; n++) {
            uint8_t got[32];
            bf_block_hash(n, h);
            if (ak_hex_decode_exact(ak_cur_from_str(bh), true, got, 32) == AK_OK && memcmp(got, h, 32) == 0)
                known = true;
        }
        if (!known)
            return json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id, "error", "code", -32001,
                             "message", "Resource not found");
    } else if (!json_is_string(at) || strcmp(json_string_value(at), "latest") != 0) {
        return NULL;
    }
    ak_buf hex;
    ak_buf_init(&hex, 8192);
    json_t *out = NULL;
    if (bf_view(json_string_value(json_object_get(json_array_get(params, 0), "data")), &hex) == AK_OK)
        out = json_pack("{s:s,s:O,s:s}", "jsonrpc", "2.0", "id", id, "result", ak_buf_cstr(&hex));
    ak_buf_free(&hex);
    return out;
}

static ak_err bf_transport(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    (void)ctx;
    (void)deadline_ms;
    BF.chain_calls++;
    if (BF.chain_down) return AK_E_UPSTREAM;
    if (BF.block_per_post) BF.block++;
    json_t *req = json_loadb((const char *)request.ptr, request.len, JSON_REJECT_DUPLICATES, NULL);
    json_t *resp = NULL;
    if (json_is_array(req)) {
        resp = json_array();
        for (size_t i = 0; i < json_array_size(req); i++) {
            json_t *a = bf_answer(json_array_get(req, i));
            if (a == NULL || json_array_append_new(resp, a) != 0) {
                json_decref(resp);
                resp = NULL;
                break;
            }
        }
    } else if (json_is_object(req)) {
        resp = bf_answer(req);
    }
    json_decref(req);
    if (resp == NULL) return AK_E_INTERNAL;
    ak_err rc = ak_json_dump(resp, body);
    json_decref(resp);
    *status = 200;
    return rc;
}

static BF_UNUSED void bf_add_device(const uint8_t dkh[32], const ak_omni *op, const ak_omni *actor,
                                    uint8_t tier, uint8_t roles, bool revoked) {
    bf_dev *d = &BF.devs[BF.n_devs++];
    memset(d, 0, sizeof(*d));
    memcpy(d->dkh, dkh, 32);
    memcpy(d->e.operator_omni, op->b, 32);
    memcpy(d->e.actor_omni, actor->b, 32);
    d->e.tier = tier;
    d->e.roles = roles;
    d->e.registered_at = 1700000000;
    d->e.revoked = revoked;
}

static BF_UNUSED void bf_bind(const ak_omni *actor, const ak_omni *op) {
    memcpy(BF.bound_actor[BF.n_bound], actor->b, 32);
    memcpy(BF.bound_op[BF.n_bound], op->b, 32);
    BF.n_bound++;
}

static BF_UNUSED void bf_grant(const ak_omni *op, const ak_omni *actor, ak_data_class c,
                               const char *service) {
    bf_scope *s = &BF.scopes[BF.n_scopes++];
    memcpy(s->op, op->b, 32);
    memcpy(s->actor, actor->b, 32);
    assert_int_equal(ak_scope_id_of(c, ak_cur_from_str(service), s->sid), AK_OK);
}

/* Marks the (op, actor) scope read-only (its services must have been granted first). */
static BF_UNUSED void bf_set_read_only(const ak_omni *op, const ak_omni *actor, bool ro) {
    for (size_t i = 0; i < BF.n_scopes; i++)
        if (memcmp(BF.scopes[i].op, op->b, 32) == 0 && memcmp(BF.scopes[i].actor, actor->b, 32) == 0)
            BF.scopes[i].read_only = ro;
}

static BF_UNUSED uint64_t bf_now_us(void) { return BF.now_us; }

/* ---------------------------------------------------------------- world */

static const ak_svc_ops BF_OPS = {
    .sign = bf_sign, .current_kid = bf_kid, .keys = bf_keys, .s3_put = bf_put, .s3_get = bf_get};

static BF_UNUSED void bf_reset(ak_svc *svc) {
    for (size_t i = 0; i < BF.n_objs; i++)
        ak_buf_free(&BF.objs[i].body);
    memset(&BF, 0, sizeof(BF));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ak_p256_keygen(BF.priv[i], BF.pub[i]), AK_OK);
        snprintf(BF.kid[i], AK_SIGNER_KID_MAX, "%s-1", i == 0 ? "ak-session" : i == 1 ? "v1" : "cap");
    }
    BF.epoch = 3;
    BF.block = 7;
    BF.now_us = 1767225600ull * 1000000u + 123456u;
    ak_svc_init_for_test(svc, &BF_OPS, BF_ISSUER, BF_AUDIT);
    svc->chain_id = 31337;
    svc->rpc.transport = bf_transport;
    svc->rpc.transport_ctx = NULL;
    memset(svc->registry, 0x11, 20);
    memset(svc->scope, 0x22, 20);
    memset(svc->epoch_counter, 0x33, 20);
}

static BF_UNUSED void bf_free(ak_svc *svc) {
    for (size_t i = 0; i < BF.n_objs; i++)
        ak_buf_free(&BF.objs[i].body);
    BF.n_objs = 0;
    ak_svc_free(svc);
}

/* A wallet: secret key from a small integer, its address, omni and device_key_hash. */
typedef struct {
    uint8_t sk[32];
    uint8_t addr[20];
    ak_omni omni;
    uint8_t dkh[32];
} bf_wallet;

static BF_UNUSED void bf_wallet_make(bf_wallet *w, uint8_t seed) {
    memset(w, 0, sizeof(*w));
    w->sk[31] = seed;
    w->sk[0] = 0x42;
    uint8_t pub[65];
    assert_int_equal(ak_secp256k1_pubkey(w->sk, pub), AK_OK);
    ak_eth_address_from_pub(pub, w->addr);
    ak_omni_from_address(w->addr, &w->omni);
    ak_device_key_hash(w->addr, w->dkh);
}

/* ---------------------------------------------------------------- invoking a handler */

typedef struct {
    ak_arena arena;
    akrt_invocation inv;
    akrt_ctx ctx;
    akrt_http_req req;
    akrt_http_resp resp;
    json_t *body; /* parsed response body, or NULL */
    ak_err rc;
    int status;
} bf_call;

/* Builds an API Gateway v2 event and runs `h`. The response status/body follow the runtime's
 * rules (an error code becomes the D14 body). */
static BF_UNUSED void bf_invoke(bf_call *c, akrt_http_handler h, void *user, const char *method,
                                const char *path, const char *bearer, const char *body) {
    memset(c, 0, sizeof(*c));
    ak_arena_init(&c->arena, AK_MAX_ARENA);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:{}, s:{s:{s:s, s:s, s:s, s:s}, s:s}, s:b}", "version",
                           "2.0", "routeKey", "$default", "rawPath", path, "rawQueryString", "", "headers",
                           "requestContext", "http", "method", method, "path", path, "sourceIp", "127.0.0.1",
                           "protocol", "HTTP/1.1", "requestId", "apigw-1", "isBase64Encoded", 0);
    char rk[256];
    snprintf(rk, sizeof(rk), "%s %s", method, path);
    json_object_set_new(ev, "routeKey", json_string(rk));
    if (bearer != NULL) {
        char a[20000];
        snprintf(a, sizeof(a), "Bearer %s", bearer);
        json_object_set_new(json_object_get(ev, "headers"), "authorization", json_string(a));
    }
    json_object_set_new(json_object_get(ev, "headers"), "content-type", json_string("application/json"));
    if (body != NULL) json_object_set_new(ev, "body", json_string(body));
    ak_buf evb;
    ak_buf_init(&evb, 1u << 20);
    assert_int_equal(ak_json_dump(ev, &evb), AK_OK);
    json_decref(ev);
    assert_int_equal(akrt_apigw_decode(ak_buf_cur(&evb), &c->arena, &c->req), AK_OK);
    ak_buf_free(&evb);
    snprintf(c->inv.request_id, sizeof(c->inv.request_id), "rid-1");
    c->inv.deadline_ms = (uint64_t)ak_http_now_ms() + 10000;
    c->ctx.arena = &c->arena;
    c->ctx.inv = &c->inv;
    c->ctx.function_name = "test";
    akrt_http_resp_init(&c->resp, &c->arena);
    c->rc = h(&c->ctx, &c->req, &c->resp, user);
    if (c->rc != AK_OK) assert_int_equal(akrt_http_error(&c->resp, c->rc), AK_OK);
    c->status = c->resp.status;
    if (c->resp.body.len > 0) (void)!ak_json_parse_object(ak_buf_cur(&c->resp.body), &c->body);
}

/* Runs `h` on a sample event file from events/ ($AK_EVENTS_DIR, default "events"). */
static BF_UNUSED void bf_invoke_event(bf_call *c, akrt_http_handler h, void *user, const char *file) {
    memset(c, 0, sizeof(*c));
    ak_arena_init(&c->arena, AK_MAX_ARENA);
    const char *dir = getenv("AK_EVENTS_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", (dir && dir[0]) ? dir : "events", file);
    ak_buf evb;
    ak_buf_init(&evb, 1u << 20);
    ak_test_read_file(path, &evb);
    assert_int_equal(akrt_apigw_decode(ak_buf_cur(&evb), &c->arena, &c->req), AK_OK);
    ak_buf_free(&evb);
    snprintf(c->inv.request_id, sizeof(c->inv.request_id), "rid-ev");
    c->inv.deadline_ms = (uint64_t)ak_http_now_ms() + 10000;
    c->ctx.arena = &c->arena;
    c->ctx.inv = &c->inv;
    c->ctx.function_name = "test";
    akrt_http_resp_init(&c->resp, &c->arena);
    c->rc = h(&c->ctx, &c->req, &c->resp, user);
    if (c->rc != AK_OK) assert_int_equal(akrt_http_error(&c->resp, c->rc), AK_OK);
    c->status = c->resp.status;
    if (c->resp.body.len > 0) (void)!ak_json_parse_object(ak_buf_cur(&c->resp.body), &c->body);
}

static BF_UNUSED void bf_call_free(bf_call *c) {
    if (c->body) json_decref(c->body);
    akrt_http_resp_free(&c->resp);
    ak_arena_free(&c->arena);
}

static BF_UNUSED const char *bf_str(const bf_call *c, const char *k) {
    return c->body ? json_string_value(json_object_get(c->body, k)) : NULL;
}

/* Expects a D14 error with this reason. */
#define BF_EXPECT_REASON(call, code)                                                                         \
    do {                                                                                                     \
        if ((call)->rc != (code))                                                                            \
            fail_msg("got %s, expected %s", ak_err_reason((call)->rc), ak_err_reason(code));                 \
        assert_int_equal((call)->status, ak_err_status(code));                                               \
        assert_string_equal(bf_str((call), "reason"), ak_err_reason(code));                                  \
    } while (0)

/* A session JWT for wallet w, signed through svc's (fake) signer: kind, operator and actor as
 * given — what AuthFunction would issue. */
static BF_UNUSED void bf_session(ak_svc *svc, const bf_wallet *w, ak_session_kind kind, const ak_omni *op,
                                 const ak_omni *actor, ak_buf *out) {
    ak_session s;
    memset(&s, 0, sizeof(s));
    s.kind = kind;
    memcpy(s.wallet, w->addr, 20);
    memcpy(s.device_key_hash, w->dkh, 32);
    s.operator_omni = *op;
    s.omni_account = *actor;
    s.iat = BF.now_us / 1000000u;
    s.exp = s.iat + 3600;
    snprintf(s.jti, sizeof(s.jti), "j");
    json_t *c;
    EXPECT_OK(ak_session_claims(&s, BF_ISSUER, &c));
    ak_buf_clear(out);
    EXPECT_OK(ak_svc_sign_jwt(svc, AK_SIGNER_KEY_SESSION, "JWT", c, out, NULL));
    json_decref(c);
}

#endif
