/*
 * worker_test.c — the worker pipeline (ak/worker.h) over fakes: an in-memory chain (devices,
 * actorOperator, scopes, K3 epoch), a local KEK deriver (D6 HKDF over per-epoch test K3s), an
 * in-memory S3 bucket with ETags and fault switches, and an audit sink behind the service
 * context's s3_put. Every D11 reason in order (a cap failing two checks reports the first),
 * strict/partial STS, envelope tamper, lazy re-key with If-Match, store atomicity under every
 * fault, audit-before-data, teardown of > 1000 keys with failures reported, and a scan of the
 * log output for the secrets used.
 */
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "ak/cap.h"
#include "ak/crypto.h"
#include "ak/envelope.h"
#include "ak/json.h"
#include "ak/worker.h"

#define NOW 1760000000ull

/* ================================================================ the fake world */

#define MAX_OBJS 4096
#define MAX_DEVS 8
#define MAX_AUDIT 64

typedef struct obj {
    char key[256];
    uint8_t *data;
    size_t len;
    unsigned etag;
    bool used;
} obj;

typedef struct dev {
    uint8_t dkh[32];
    ak_device_entry e;
} dev;

typedef struct world {
    /* chain */
    dev devs[MAX_DEVS];
    size_t n_devs;
    uint8_t bound_actor[32], bound_op[32]; /* one actorOperator entry */
    uint8_t scope_op[32], scope_actor[32];
    uint8_t scope_ids[4][32];
    size_t n_scope;
    bool scope_read_only; /* the (scope_op, scope_actor) scope is readOnly */
    unsigned read_only_calls;
    uint64_t epoch;
    bool chain_down;
    /* the snapshot path (ops.chain_snapshot, issue 19): one call per request; per-read op calls
     * counted too; fail_reads: bit k = the k-th read of the snapshot answers an error object
     * (1 device, 2 actorOperator, 4 inScope, 8 getScope, 16 epoch) */
    unsigned snapshots, per_reads, fail_reads;
    /* signer */
    bool signer_down;
    unsigned derives; /* KEKs that reached the worker */
    /* issue 19 overlap: sends, replies read, replies dropped; trace = the order of the request's
     * upstream calls (S send, C chain snapshot, G S3 get, R reply read, D sequential derive,
     * A abort) */
    unsigned pre_sends, pre_recvs, pre_aborts;
    unsigned keys_calls; /* JWKS fetches (cap key loads and refreshes) */
    char trace[64];
    size_t ntrace;
    /* S3 */
    obj objs[MAX_OBJS];
    unsigned etag_seq;
    bool put_fail, get_fail, s3_deny;
    unsigned put_412; /* answer this many conditional PUTs with 412 */
    unsigned puts;
    char last_if_match[64];
    const char *fail_delete_suffix; /* keys ending with this fail to delete */
    size_t max_delete_batch_seen;
    bool multi_delete_denied;
    unsigned delete_ones;
    /* audit */
    bool audit_fail;
    unsigned n_audit;
    char audit[MAX_AUDIT][1024];
    unsigned seq, audit_seq[MAX_AUDIT], put_seq; /* order of audit vs data writes */
    /* keys */
    uint8_t cap_priv[32];
    uint8_t cap_pub[65];
} world;

static world W;

/* Omnis / keys of the cast. */
static const uint8_t K10_AGENT[32] = {[31] = 1};
static const uint8_t K10_MASTER[32] = {[31] = 2};
static const uint8_t K10_OTHER[32] = {[31] = 3};
static ak_omni OP, ACTOR, OTHER_OP;

static void s_dkh_of(const uint8_t sk[32], uint8_t dkh[32]) {
    uint8_t pub[65], addr[20];
    EXPECT_OK(ak_secp256k1_pubkey(sk, pub));
    ak_eth_address_from_pub(pub, addr);
    ak_device_key_hash(addr, dkh);
}

static dev *s_add_dev(const uint8_t sk[32], const ak_omni *op, const ak_omni *actor, uint8_t tier) {
    dev *d = &W.devs[W.n_devs++];
    s_dkh_of(sk, d->dkh);
    memcpy(d->e.operator_omni, op->b, 32);
    memcpy(d->e.actor_omni, actor->b, 32);
    d->e.tier = tier;
    d->e.roles = AK_ROLE_CAP_MINT | (tier == AK_DEVICE_TIER_MASTER ? AK_ROLE_RECOVERY : 0);
    d->e.registered_at = NOW - 1000;
    return d;
}

static dev *s_dev(const uint8_t sk[32]) {
    uint8_t dkh[32];
    s_dkh_of(sk, dkh);
    for (size_t i = 0; i < W.n_devs; i++)
        if (memcmp(W.devs[i].dkh, dkh, 32) == 0) return &W.devs[i];
    return NULL;
}

/* ---- worker ops ---- */

static void s_k3(uint32_t epoch, uint8_t k3[32]) {
    memset(k3, 0xA0, 32);
    k3[0] = (uint8_t)epoch;
}

static void s_trace(char ch) {
    if (W.ntrace + 1 < sizeof(W.trace)) W.trace[W.ntrace++] = ch;
}

static ak_err s_derive_calc(ak_worker *w, const ak_omni *op, const ak_omni *actor, uint32_t epoch,
                            uint8_t kek[32]);

static ak_err f_derive(ak_worker *w, const ak_omni *op, const ak_omni *actor, uint32_t epoch,
                       uint8_t kek[32]) {
    s_trace('D');
    return s_derive_calc(w, op, actor, epoch, kek);
}

/* The overlapped derivation (ops.derive_kek_send/_recv/_abort): the request is recorded at send,
 * answered at recv. */
static struct {
    bool pending;
    ak_omni op, actor;
    uint32_t epoch;
} PRE;

static ak_err f_derive_send(ak_worker *w, const ak_omni *op, const ak_omni *actor, uint32_t epoch) {
    (void)w;
    s_trace('S');
    W.pre_sends++;
    assert_false(PRE.pending);
    if (W.signer_down) return AK_E_SIGNER_UNAVAILABLE;
    PRE.pending = true;
    PRE.op = *op;
    PRE.actor = *actor;
    PRE.epoch = epoch;
    return AK_OK;
}

static ak_err f_derive_recv(ak_worker *w, uint8_t kek[32]) {
    s_trace('R');
    W.pre_recvs++;
    assert_true(PRE.pending);
    PRE.pending = false;
    return s_derive_calc(w, &PRE.op, &PRE.actor, PRE.epoch, kek);
}

static void f_derive_abort(ak_worker *w) {
    (void)w;
    s_trace('A');
    W.pre_aborts++;
    assert_true(PRE.pending);
    PRE.pending = false;
}

static ak_err s_derive_calc(ak_worker *w, const ak_omni *op, const ak_omni *actor, uint32_t epoch,
                            uint8_t kek[32]) {
    if (W.signer_down) return AK_E_SIGNER_UNAVAILABLE;
    if (epoch > W.epoch) return AK_E_EPOCH_NOT_YET;
    W.derives++;
    /* D6, computed here the way the signer does. */
    uint8_t k3[32], info[16 + 1 + 64];
    const char *cls = ak_data_class_str(w->data_class);
    size_t n = strlen(cls);
    memcpy(info, cls, n);
    info[n] = 0;
    memcpy(info + n + 1, op->b, 32);
    memcpy(info + n + 33, actor->b, 32);
    s_k3(epoch, k3);
    return ak_hkdf_sha256(k3, 32, "agentkeys.kek.v1", 16, info, n + 65, kek, 32);
}

static ak_err f_get_device(ak_worker *w, const uint8_t dkh[32], ak_device_entry *out) {
    (void)w;
    W.per_reads++;
    if (W.chain_down) return AK_E_CHAIN_RPC;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < W.n_devs; i++)
        if (memcmp(W.devs[i].dkh, dkh, 32) == 0) *out = W.devs[i].e;
    return AK_OK;
}

static ak_err f_actor_operator(ak_worker *w, const uint8_t actor[32], uint8_t op[32]) {
    (void)w;
    W.per_reads++;
    if (W.chain_down) return AK_E_CHAIN_RPC;
    memset(op, 0, 32);
    if (memcmp(actor, W.bound_actor, 32) == 0) memcpy(op, W.bound_op, 32);
    return AK_OK;
}

static ak_err f_in_scope(ak_worker *w, const uint8_t op[32], const uint8_t actor[32], const uint8_t sid[32],
                         bool *out) {
    (void)w;
    W.per_reads++;
    if (W.chain_down) return AK_E_CHAIN_RPC;
    *out = false;
    if (memcmp(op, W.scope_op, 32) != 0 || memcmp(actor, W.scope_actor, 32) != 0) return AK_OK;
    for (size_t i = 0; i < W.n_scope; i++)
        if (memcmp(W.scope_ids[i], sid, 32) == 0) *out = true;
    return AK_OK;
}

static ak_err f_read_only(ak_worker *w, const uint8_t op[32], const uint8_t actor[32], bool *out) {
    (void)w;
    if (W.chain_down) return AK_E_CHAIN_RPC;
    W.read_only_calls++;
    W.per_reads++;
    *out = W.scope_read_only && W.n_scope > 0 && memcmp(op, W.scope_op, 32) == 0 &&
           memcmp(actor, W.scope_actor, 32) == 0;
    return AK_OK;
}

static ak_err f_epoch(ak_worker *w, uint64_t *out) {
    (void)w;
    W.per_reads++;
    if (W.chain_down) return AK_E_CHAIN_RPC;
    *out = W.epoch;
    return AK_OK;
}

static obj *s_obj(ak_cur key) {
    for (size_t i = 0; i < MAX_OBJS; i++)
        if (W.objs[i].used && ak_cur_eq_str(key, W.objs[i].key)) return &W.objs[i];
    return NULL;
}

static obj *s_obj_str(const char *key) { return s_obj(ak_cur_from_str(key)); }

static void s_obj_set(ak_cur key, ak_cur data) {
    obj *o = s_obj(key);
    for (size_t i = 0; o == NULL && i < MAX_OBJS; i++)
        if (!W.objs[i].used) o = &W.objs[i];
    assert_non_null(o);
    if (!o->used) {
        assert_true(key.len < sizeof(o->key));
        memcpy(o->key, key.ptr, key.len);
        o->key[key.len] = 0;
        o->used = true;
    }
    free(o->data);
    o->data = malloc(data.len ? data.len : 1);
    memcpy(o->data, data.ptr, data.len);
    o->len = data.len;
    o->etag = ++W.etag_seq;
}

static void s_obj_del(obj *o) {
    free(o->data);
    memset(o, 0, sizeof(*o));
}

static bool s_creds_ok(const ak_sigv4_creds *c) { return c != NULL && c->access_key_id.len > 0; }

static ak_err f_get(ak_worker *w, const ak_sigv4_creds *c, ak_cur key, ak_buf *body, ak_buf *etag) {
    (void)w;
    assert_true(s_creds_ok(c));
    s_trace('G');
    if (W.get_fail) return AK_E_S3_ERROR;
    if (W.s3_deny) return AK_E_ACCESS_DENIED;
    obj *o = s_obj(key);
    if (o == NULL) return AK_E_NOT_FOUND;
    AK_GUARD(ak_buf_append(body, o->data, o->len));
    return ak_buf_printf(etag, "\"etag-%u\"", o->etag);
}

static ak_err f_put(ak_worker *w, const ak_sigv4_creds *c, ak_cur key, ak_cur body, ak_cur if_match) {
    (void)w;
    assert_true(s_creds_ok(c));
    if (W.put_fail) return AK_E_S3_ERROR;
    if (W.s3_deny) return AK_E_ACCESS_DENIED;
    snprintf(W.last_if_match, sizeof(W.last_if_match), "%.*s", (int)if_match.len, (const char *)if_match.ptr);
    if (if_match.len > 0) {
        if (W.put_412 > 0) {
            W.put_412--;
            return AK_E_PRECONDITION_FAILED;
        }
        obj *o = s_obj(key);
        char want[32];
        snprintf(want, sizeof(want), "etag-%u", o ? o->etag : 0);
        if (o == NULL || !ak_cur_eq_str(if_match, want)) return AK_E_PRECONDITION_FAILED;
    }
    W.puts++;
    W.put_seq = ++W.seq;
    s_obj_set(key, body);
    return AK_OK;
}

static ak_err f_list(ak_worker *w, const ak_sigv4_creds *c, ak_cur prefix, ak_s3_list_fn fn, void *ud) {
    (void)w;
    assert_true(s_creds_ok(c));
    if (W.get_fail) return AK_E_S3_ERROR;
    for (size_t i = 0; i < MAX_OBJS; i++) {
        if (!W.objs[i].used || strncmp(W.objs[i].key, (const char *)prefix.ptr, prefix.len) != 0) continue;
        ak_s3_list_item it = {.key = ak_cur_from_str(W.objs[i].key), .size = W.objs[i].len};
        AK_GUARD(fn(ud, &it));
    }
    return AK_OK;
}

static ak_err f_delete(ak_worker *w, const ak_sigv4_creds *c, const ak_cur *keys, size_t n,
                       ak_s3_delete_error_fn on_error, void *ud, ak_s3_delete_result *res) {
    (void)w;
    assert_true(s_creds_ok(c));
    memset(res, 0, sizeof(*res));
    if (W.multi_delete_denied) return AK_E_ACCESS_DENIED; /* Ceph RGW 16: the request as a whole */
    /* Same batching contract as ak_s3_delete_objects. */
    for (size_t i = 0; i < n; i += AK_S3_DELETE_BATCH) {
        size_t m = n - i < AK_S3_DELETE_BATCH ? n - i : AK_S3_DELETE_BATCH;
        if (m > W.max_delete_batch_seen) W.max_delete_batch_seen = m;
        for (size_t j = i; j < i + m; j++) {
            obj *o = s_obj(keys[j]);
            size_t sl = W.fail_delete_suffix ? strlen(W.fail_delete_suffix) : 0;
            if (sl && keys[j].len >= sl &&
                memcmp(keys[j].ptr + keys[j].len - sl, W.fail_delete_suffix, sl) == 0) {
                res->failed++;
                if (on_error) on_error(ud, keys[j], AK_CUR_LIT("InternalError"));
                continue;
            }
            if (o) s_obj_del(o);
            res->deleted++;
        }
    }
    return res->failed ? AK_E_S3_ERROR : AK_OK;
}

static ak_err f_delete_one(ak_worker *w, const ak_sigv4_creds *c, ak_cur key) {
    (void)w;
    assert_true(s_creds_ok(c));
    W.delete_ones++;
    size_t sl = W.fail_delete_suffix ? strlen(W.fail_delete_suffix) : 0;
    if (sl && key.len >= sl && memcmp(key.ptr + key.len - sl, W.fail_delete_suffix, sl) == 0)
        return AK_E_ACCESS_DENIED;
    obj *o = s_obj(key);
    if (o) s_obj_del(o);
    return AK_OK;
}

/* ---- op use (D19): the third party, faked ---- */

static struct {
    unsigned calls;
    ak_err fail;
    char url[1024], method[16], headers[2048];
    long status;
    const char *resp_headers, *resp_body;
} EG;

static ak_err f_egress(ak_worker *w, const ak_http_request *req, ak_http_response *resp) {
    (void)w;
    EG.calls++;
    snprintf(EG.url, sizeof(EG.url), "%s", req->url);
    snprintf(EG.method, sizeof(EG.method), "%s", req->method);
    EG.headers[0] = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        size_t n = strlen(EG.headers);
        snprintf(EG.headers + n, sizeof(EG.headers) - n, "%s: %.*s\n", req->headers[i].name,
                 (int)req->headers[i].value.len, (const char *)req->headers[i].value.ptr);
    }
    if (EG.fail != AK_OK) return EG.fail;
    ak_buf_init(&resp->headers, 65536);
    ak_buf_init_secret(&resp->body, 1 << 20);
    resp->status = EG.status;
    AK_GUARD(ak_buf_append_str(&resp->headers, EG.resp_headers ? EG.resp_headers : ""));
    AK_GUARD(ak_buf_append_str(&resp->body, EG.resp_body ? EG.resp_body : ""));
    return AK_OK;
}

/* ops.chain_snapshot over the same world: each wanted read as the per-read fake answers it
 * (their counters are restored: a snapshot is one call), or its fail_reads error. */
static ak_err f_chain_snapshot(ak_worker *w, const ak_chain_query *q, ak_chain_snapshot *out) {
    W.snapshots++;
    s_trace('C');
    if (W.chain_down) return AK_E_CHAIN_RPC;
    unsigned saved = W.per_reads, ro_saved = W.read_only_calls;
    memset(out, 0, sizeof(*out));
    out->round_trips = 1;
    out->device_rc = out->actor_operator_rc = out->in_scope_rc = out->scope_rc = out->epoch_rc =
        AK_E_NOT_FOUND;
    if (q->want_device)
        out->device_rc = (W.fail_reads & 1u) ? AK_E_CHAIN_RPC : f_get_device(w, q->dkh, &out->device);
    if (q->want_actor_operator)
        out->actor_operator_rc =
            (W.fail_reads & 2u) ? AK_E_CHAIN_RPC : f_actor_operator(w, q->actor, out->actor_operator);
    if (q->want_in_scope)
        out->in_scope_rc = (W.fail_reads & 4u) ? AK_E_CHAIN_RPC
                                               : f_in_scope(w, q->op, q->agent, q->scope_id, &out->in_scope);
    if (q->want_scope) {
        bool ro = false;
        out->scope_rc = (W.fail_reads & 8u) ? AK_E_CHAIN_RPC : f_read_only(w, q->op, q->agent, &ro);
        out->scope.exists = ro;
        out->scope.read_only = ro;
    }
    if (q->want_epoch) out->epoch_rc = (W.fail_reads & 16u) ? AK_E_CHAIN_RPC : f_epoch(w, &out->epoch);
    W.per_reads = saved;
    W.read_only_calls = ro_saved;
    return AK_OK;
}

/* When set, s_worker leaves ops.chain_snapshot NULL: the per-read path. */
static bool S_PER_READ;
/* When set, s_worker leaves the overlap ops NULL: every derive sequential, after the checks. */
static bool S_NO_OVERLAP;

static const ak_worker_ops s_wops = {.derive_kek = f_derive,
                                     .derive_kek_send = f_derive_send,
                                     .derive_kek_recv = f_derive_recv,
                                     .derive_kek_abort = f_derive_abort,
                                     .get_device = f_get_device,
                                     .actor_operator = f_actor_operator,
                                     .in_scope = f_in_scope,
                                     .read_only = f_read_only,
                                     .current_epoch = f_epoch,
                                     .chain_snapshot = f_chain_snapshot,
                                     .get = f_get,
                                     .put = f_put,
                                     .list = f_list,
                                     .delete_objects = f_delete,
                                     .delete_one = f_delete_one,
                                     .egress = f_egress};

/* ---- svc ops: the signer's JWKS and the audit sink ---- */

static ak_err f_keys(ak_svc *svc, ak_buf *out) {
    (void)svc;
    W.keys_calls++;
    if (W.signer_down) return AK_E_SIGNER_UNAVAILABLE;
    ak_jwk_p256 k;
    memset(&k, 0, sizeof(k));
    memcpy(k.pub65, W.cap_pub, 65);
    snprintf(k.kid, sizeof(k.kid), "cap-1");
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
    (void)dl;
    assert_string_equal(bucket, "ak-audit");
    assert_true(inm);
    assert_true(ak_cur_starts_with(key, AK_CUR_LIT("audit/pending/")));
    if (W.audit_fail) return AK_E_S3_ERROR;
    assert_true(W.n_audit < MAX_AUDIT && body.len < sizeof(W.audit[0]));
    memcpy(W.audit[W.n_audit], body.ptr, body.len);
    W.audit[W.n_audit][body.len] = 0;
    W.audit_seq[W.n_audit++] = ++W.seq;
    return AK_OK;
}

static const ak_svc_ops s_sops = {.keys = f_keys, .s3_put = f_audit_put};

/* ================================================================ set-up */

static void s_reset_world(void) {
    for (size_t i = 0; i < MAX_OBJS; i++)
        if (W.objs[i].used) s_obj_del(&W.objs[i]);
    uint8_t priv[32], pub[65];
    memcpy(priv, W.cap_priv, 32);
    memcpy(pub, W.cap_pub, 65);
    memset(&W, 0, sizeof(W));
    memcpy(W.cap_priv, priv, 32);
    memcpy(W.cap_pub, pub, 65);
    W.epoch = 1;
    memset(&PRE, 0, sizeof(PRE));
    memset(OP.b, 0x11, 32);
    memset(ACTOR.b, 0x22, 32);
    memset(OTHER_OP.b, 0x33, 32);
    s_add_dev(K10_AGENT, &OP, &ACTOR, AK_DEVICE_TIER_AGENT);
    s_add_dev(K10_MASTER, &OP, &OP, AK_DEVICE_TIER_MASTER);
    memcpy(W.bound_actor, ACTOR.b, 32);
    memcpy(W.bound_op, OP.b, 32);
    memcpy(W.scope_op, OP.b, 32);
    memcpy(W.scope_actor, ACTOR.b, 32);
    EXPECT_OK(ak_scope_id_of(AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), W.scope_ids[0]));
    EXPECT_OK(ak_scope_id_of(AK_CLASS_MEMORY, AK_CUR_LIT("notes"), W.scope_ids[1]));
    W.n_scope = 2;
}

static void s_worker(ak_worker *w, ak_data_class c, bool strict) {
    ak_worker_init_for_test(w, c, c == AK_CLASS_CREDENTIALS ? "ak-vault" : "ak-memory", strict, &s_sops,
                            "ak-audit", &s_wops);
    if (S_PER_READ) w->ops.chain_snapshot = NULL;
    if (S_NO_OVERLAP) w->ops.derive_kek_send = NULL;
}

/* A cap as the broker would mint it (caps.md §6), with knobs for the negative cases. */
typedef struct capspec {
    const uint8_t *k10;   /* PoP signer (default agent) */
    const uint8_t *dev10; /* whose device_key_hash is named (default = k10) */
    const ak_omni *op, *actor;
    const char *service;
    ak_op op_claim;
    ak_data_class cls;
    uint64_t iat, exp;
    uint32_t epoch;
    const uint8_t *sign_key; /* cap signing key (default the signer's) */
    const char *kid;
} capspec;

static capspec s_spec(ak_op op, ak_data_class c) {
    capspec s = {.k10 = K10_AGENT,
                 .op = &OP,
                 .actor = &ACTOR,
                 .service = c == AK_CLASS_MEMORY ? "notes" : "openrouter",
                 .op_claim = op,
                 .cls = c,
                 .iat = NOW - 10,
                 .exp = NOW + 290,
                 .epoch = (uint32_t)W.epoch};
    return s;
}

static void s_mint(const capspec *s, ak_buf *out) {
    ak_cap_claims c;
    memset(&c, 0, sizeof(c));
    c.operator_omni = *s->op;
    c.actor_omni = *s->actor;
    snprintf(c.service, sizeof(c.service), "%s", s->service);
    c.service_len = strlen(s->service);
    c.op = s->op_claim;
    c.data_class = s->cls;
    s_dkh_of(s->dev10 ? s->dev10 : s->k10, c.device_key_hash);
    c.k3_epoch = s->epoch;
    c.issued_at = s->iat;
    c.expires_at = s->exp;
    snprintf(c.nonce, sizeof(c.nonce), "%032x", 7);
    snprintf(c.jti, sizeof(c.jti), "%032x", 9);
    snprintf(c.pop.nonce, sizeof(c.pop.nonce), "00112233445566778899aabbccddeeff");
    c.pop.nonce_len = 32;
    c.pop.ts = s->iat;
    ak_cap_pop_msg m;
    ak_cap_pop_msg_of(&c, &m);
    EXPECT_OK(ak_cap_pop_sign(s->k10, &m, c.pop.sig));
    ak_buf_init(out, AK_MAX_JWS);
    EXPECT_OK(ak_cap_sign(&c, s->kid ? s->kid : "cap-1", ak_jws_sign_local,
                          (void *)(uintptr_t)(s->sign_key ? s->sign_key : W.cap_priv), out));
}

/* ---- requests ---- */

typedef struct call {
    int sts;           /* 3 = all, 0 = none, 1/2 = partial, -1 = three with an empty token */
    const char *body;  /* raw body override */
    const char *plain; /* store plaintext (base64'd here) */
    size_t plain_len;
} call;

static ak_err s_run(ak_worker *w, ak_op op, const ak_buf *cap, const call *c, ak_worker_resp *resp) {
    ak_buf body;
    ak_buf_init(&body, AK_MAX_REQUEST_BODY);
    if (c->body) {
        EXPECT_OK(ak_buf_append_str(&body, c->body));
    } else {
        EXPECT_OK(ak_buf_printf(&body, "{\"cap\":\"%s\"", ak_buf_cstr(cap)));
        if (op == AK_OP_STORE) {
            ak_buf b64;
            ak_buf_init(&b64, AK_MAX_REQUEST_BODY);
            EXPECT_OK(ak_b64_encode((const uint8_t *)c->plain, c->plain_len, &b64));
            EXPECT_OK(ak_buf_printf(&body, ",\"plaintext_b64\":\"%s\"", ak_buf_cstr(&b64)));
            ak_buf_free(&b64);
        }
        EXPECT_OK(ak_buf_append_str(&body, "}"));
    }
    ak_worker_req r;
    memset(&r, 0, sizeof(r));
    r.op = op;
    r.body = ak_buf_cur(&body);
    r.now = NOW;
    r.request_id = AK_CUR_LIT("req-1");
    if (c->sts == 3 || c->sts == -1) {
        r.has_access_key_id = r.has_secret_access_key = r.has_session_token = true;
        r.access_key_id = AK_CUR_LIT("ASIATESTKEYID0000001");
        r.secret_access_key = AK_CUR_LIT("sts-secret-SHOULD-NOT-LOG");
        r.session_token = c->sts == -1 ? AK_CUR_LIT("") : AK_CUR_LIT("sts-token-SHOULD-NOT-LOG");
    } else if (c->sts == 2) {
        r.has_access_key_id = r.has_secret_access_key = true;
        r.access_key_id = AK_CUR_LIT("ASIATESTKEYID0000001");
        r.secret_access_key = AK_CUR_LIT("x");
    } else if (c->sts == 1) {
        r.has_session_token = true;
        r.session_token = AK_CUR_LIT("x");
    }
    ak_buf_clear(&resp->body);
    ak_err rc = ak_worker_handle(w, &r, resp);
    ak_buf_free(&body);
    return rc;
}

static const call STS = {.sts = 3};

static ak_err s_do(ak_worker *w, const capspec *s, const call *c, ak_worker_resp *resp) {
    ak_buf cap;
    s_mint(s, &cap);
    ak_err rc = s_run(w, s->op_claim, &cap, c, resp);
    ak_buf_free(&cap);
    return rc;
}

/* The route's op differs from the cap's in some tests: run on route `route`. */
static ak_err s_do_route(ak_worker *w, ak_op route, const capspec *s, const call *c, ak_worker_resp *resp) {
    ak_buf cap;
    s_mint(s, &cap);
    ak_err rc = s_run(w, route, &cap, c, resp);
    ak_buf_free(&cap);
    return rc;
}

static ak_err s_store(ak_worker *w, ak_data_class cls, const char *plain, ak_worker_resp *resp) {
    capspec s = s_spec(AK_OP_STORE, cls);
    call c = {.sts = 3, .plain = plain, .plain_len = strlen(plain)};
    return s_do(w, &s, &c, resp);
}

static json_t *s_json(const ak_worker_resp *r) {
    json_t *j = NULL;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&r->body), &j));
    return j;
}

static void s_expect_plain(const ak_worker_resp *r, const char *want) {
    json_t *j = s_json(r);
    ak_buf p;
    ak_buf_init(&p, 1 << 20);
    EXPECT_OK(ak_b64_decode(ak_cur_from_str(json_string_value(json_object_get(j, "plaintext_b64"))), &p));
    EXPECT_BYTES_EQ(p.ptr, p.len, want, strlen(want));
    ak_buf_free(&p);
    json_decref(j);
}

static const char *KEY_CRED =
    "bots/2222222222222222222222222222222222222222222222222222222222222222/credentials/openrouter.enc";
static const char *KEY_MEM =
    "bots/2222222222222222222222222222222222222222222222222222222222222222/memory/notes.enc";

/* ================================================================ tests */

AK_TEST(test_store_fetch_roundtrip_credentials) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "sk-or-v1-secret", &resp));
    EXPECT_INT_EQ(resp.status, 200);
    json_t *j = s_json(&resp);
    EXPECT_TRUE(json_is_true(json_object_get(j, "ok")));
    EXPECT_STR_EQ(json_string_value(json_object_get(j, "s3_key")), KEY_CRED);
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "envelope_size")), 33 + 15);
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "k3_epoch")), 1);
    json_decref(j);
    obj *o = s_obj_str(KEY_CRED);
    assert_non_null(o);
    EXPECT_INT_EQ(o->data[0], 0x04);
    EXPECT_TRUE(memmem(o->data, o->len, "sk-or-v1-secret", 15) == NULL);
    /* D12: the audit row landed before the data. */
    EXPECT_INT_EQ(W.n_audit, 1);
    EXPECT_TRUE(W.audit_seq[0] < W.put_seq);
    EXPECT_TRUE(strstr(W.audit[0], "\"action\":\"store\"") != NULL);
    EXPECT_TRUE(strstr(W.audit[0], "\"envelope_sha256\"") != NULL);

    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "sk-or-v1-secret");
    j = s_json(&resp);
    EXPECT_TRUE(json_is_false(json_object_get(j, "rekeyed")));
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "k3_epoch")), 1);
    json_decref(j);
    EXPECT_INT_EQ(W.n_audit, 2);
    EXPECT_TRUE(strstr(W.audit[1], "\"action\":\"fetch\"") != NULL);

    /* Store again: replaces the object (a new version). */
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "second", &resp));
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "second");
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_memory_roundtrip_and_binary) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_MEMORY, true);
    ak_worker_resp_init(&resp);
    capspec s = s_spec(AK_OP_STORE, AK_CLASS_MEMORY);
    const char bin[] = "\x00\x01\xff\"\\notes";
    call c = {.sts = 3, .plain = bin, .plain_len = sizeof(bin) - 1};
    EXPECT_OK(s_do(&w, &s, &c, &resp));
    assert_non_null(s_obj_str(KEY_MEM));
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_MEMORY);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    json_t *j = s_json(&resp);
    ak_buf p;
    ak_buf_init(&p, 1024);
    EXPECT_OK(ak_b64_decode(ak_cur_from_str(json_string_value(json_object_get(j, "plaintext_b64"))), &p));
    EXPECT_BYTES_EQ(p.ptr, p.len, bin, sizeof(bin) - 1);
    ak_buf_free(&p);
    json_decref(j);
    /* Empty plaintext is a value too. */
    call e = {.sts = 3, .plain = "", .plain_len = 0};
    EXPECT_OK(s_do(&w, &s, &e, &resp));
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "");
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_sts_headers) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    capspec s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    call none = {.sts = 0}, two = {.sts = 2}, one = {.sts = 1}, empty = {.sts = -1};
    EXPECT_ERR(AK_E_STS_HEADERS_MISSING, s_do(&w, &s, &none, &resp));
    EXPECT_ERR(AK_E_STS_HEADERS_PARTIAL, s_do(&w, &s, &two, &resp));
    EXPECT_ERR(AK_E_STS_HEADERS_PARTIAL, s_do(&w, &s, &one, &resp));
    EXPECT_ERR(AK_E_STS_HEADERS_PARTIAL, s_do(&w, &s, &empty, &resp));
    /* Before the body: garbage body and no headers is still the STS reason. */
    call bad = {.sts = 0, .body = "not json"};
    EXPECT_ERR(AK_E_STS_HEADERS_MISSING, s_run(&w, AK_OP_FETCH, NULL, &bad, &resp));
    EXPECT_INT_EQ(ak_err_status(AK_E_STS_HEADERS_MISSING), 401);
    EXPECT_INT_EQ(ak_err_status(AK_E_STS_HEADERS_PARTIAL), 401);
    ak_worker_free(&w);

    /* Lax mode (AGENTKEYS_WORKER_REQUIRE_STS=0): none → the execution role's creds. */
    s_worker(&w, AK_CLASS_CREDENTIALS, false);
    w.svc.creds.access_key_id = AK_CUR_LIT("EXECROLE");
    w.svc.creds.secret_access_key = AK_CUR_LIT("exec-secret");
    EXPECT_ERR(AK_E_NOT_FOUND, s_do(&w, &s, &none, &resp)); /* reached S3 with exec creds */
    EXPECT_ERR(AK_E_STS_HEADERS_PARTIAL, s_do(&w, &s, &two, &resp));
    ak_worker_free(&w);

    EXPECT_TRUE(ak_worker_strict_sts(NULL));
    EXPECT_TRUE(ak_worker_strict_sts("1"));
    EXPECT_TRUE(ak_worker_strict_sts("true"));
    EXPECT_TRUE(ak_worker_strict_sts("yes"));
    EXPECT_TRUE(ak_worker_strict_sts(""));
    EXPECT_FALSE(ak_worker_strict_sts("0"));
    EXPECT_FALSE(ak_worker_strict_sts("FALSE"));
    EXPECT_FALSE(ak_worker_strict_sts("no"));
    ak_worker_resp_free(&resp);
    s_reset_world();
}

AK_TEST(test_body_strict) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    call c = {.sts = 3};
    c.body = "{\"cap\":";
    EXPECT_ERR(AK_E_INVALID_JSON, s_run(&w, AK_OP_FETCH, NULL, &c, &resp));
    c.body = "[]";
    EXPECT_ERR(AK_E_WRONG_TYPE, s_run(&w, AK_OP_FETCH, NULL, &c, &resp));
    c.body = "{}";
    EXPECT_ERR(AK_E_MISSING_FIELD, s_run(&w, AK_OP_FETCH, NULL, &c, &resp));
    c.body = "{\"cap\":1}";
    EXPECT_ERR(AK_E_WRONG_TYPE, s_run(&w, AK_OP_FETCH, NULL, &c, &resp));
    c.body = "{\"cap\":\"a.b.c\",\"extra\":1}";
    EXPECT_ERR(AK_E_UNKNOWN_FIELD, s_run(&w, AK_OP_FETCH, NULL, &c, &resp));
    c.body = "{\"cap\":\"a.b.c\",\"plaintext_b64\":\"AA==\"}"; /* not a fetch member */
    EXPECT_ERR(AK_E_UNKNOWN_FIELD, s_run(&w, AK_OP_FETCH, NULL, &c, &resp));
    c.body = "{\"cap\":\"a.b.c\"}";
    EXPECT_ERR(AK_E_MISSING_FIELD, s_run(&w, AK_OP_STORE, NULL, &c, &resp));
    c.body = "{\"cap\":\"a.b.c\",\"plaintext_b64\":\"not base64!\"}";
    EXPECT_ERR(AK_E_BAD_BASE64, s_run(&w, AK_OP_STORE, NULL, &c, &resp));
    c.body = "{\"cap\":\"a.b.c\",\"cap\":\"a.b.c\"}";
    EXPECT_ERR(AK_E_INVALID_JSON, s_run(&w, AK_OP_FETCH, NULL, &c, &resp)); /* duplicate member */
    c.body = "{\"cap\":\"\"}";
    EXPECT_ERR(AK_E_INVALID_INPUT, s_run(&w, AK_OP_FETCH, NULL, &c, &resp));
    /* A well-formed body with a token that is not a JWS: the signature step. */
    c.body = "{\"cap\":\"a.b.c\"}";
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, s_run(&w, AK_OP_FETCH, NULL, &c, &resp));
    /* Too large a plaintext: 413. */
    size_t big = AK_MAX_PLAINTEXT + 3;
    char *p = calloc(1, big + 1);
    memset(p, 'x', big);
    capspec s = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    call cb = {.sts = 3, .plain = p, .plain_len = big};
    EXPECT_ERR(AK_E_TOO_LARGE, s_do(&w, &s, &cb, &resp));
    free(p);
    EXPECT_INT_EQ(W.puts, 0);
    EXPECT_INT_EQ(W.n_audit, 0);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_cap_checks_in_order) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    uint8_t other_priv[32], other_pub[65];
    EXPECT_OK(ak_p256_keygen(other_priv, other_pub));
    capspec s;

    /* signature: wrong key (same kid), unknown kid */
    s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    s.sign_key = other_priv;
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, s_do(&w, &s, &STS, &resp));
    s.kid = "cap-unknown";
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, s_do(&w, &s, &STS, &resp));
    /* signature beats expiry */
    s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    s.sign_key = other_priv;
    s.exp = NOW - 1;
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, s_do(&w, &s, &STS, &resp));
    /* tampered payload: flip one character of the payload part */
    {
        s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
        ak_buf cap;
        s_mint(&s, &cap);
        char *dot = strchr((char *)cap.ptr, '.');
        dot[5] = dot[5] == 'A' ? 'B' : 'A';
        EXPECT_ERR(AK_E_BROKER_SIG_INVALID, s_run(&w, AK_OP_FETCH, &cap, &STS, &resp));
        ak_buf_free(&cap);
    }
    /* freshness: expired, not yet valid; expiry beats op */
    s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    s.iat = NOW - 400;
    s.exp = NOW - 100;
    EXPECT_ERR(AK_E_CAP_EXPIRED, s_do(&w, &s, &STS, &resp));
    EXPECT_ERR(AK_E_CAP_EXPIRED, s_do_route(&w, AK_OP_STORE, &s, &STS, &resp));
    s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    s.iat = NOW + 120;
    s.exp = NOW + 400;
    EXPECT_ERR(AK_E_CAP_EXPIRED, s_do(&w, &s, &STS, &resp));
    /* op: a store cap on the fetch route; op beats class */
    s = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    EXPECT_ERR(AK_E_CAP_OP_MISMATCH, s_do_route(&w, AK_OP_FETCH, &s, &STS, &resp));
    s = s_spec(AK_OP_STORE, AK_CLASS_MEMORY);
    EXPECT_ERR(AK_E_CAP_OP_MISMATCH, s_do_route(&w, AK_OP_FETCH, &s, &STS, &resp));
    /* class: a memory cap at the credentials worker; class beats PoP */
    s = s_spec(AK_OP_FETCH, AK_CLASS_MEMORY);
    EXPECT_ERR(AK_E_CAP_DATA_CLASS_MISMATCH, s_do(&w, &s, &STS, &resp));
    s.dev10 = K10_AGENT;
    s.k10 = K10_OTHER;
    EXPECT_ERR(AK_E_CAP_DATA_CLASS_MISMATCH, s_do(&w, &s, &STS, &resp));
    /* PoP signed by another K10 than the device named; PoP beats the chain */
    s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    s.dev10 = K10_AGENT;
    s.k10 = K10_OTHER;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, s_do(&w, &s, &STS, &resp));
    W.chain_down = true;
    EXPECT_ERR(AK_E_CAP_POP_INVALID, s_do(&w, &s, &STS, &resp));
    W.chain_down = false;
    /* none of these reached the chain-checked part: no audit row, no S3 */
    EXPECT_INT_EQ(W.n_audit, 0);
    EXPECT_INT_EQ(W.derives, 0);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);

    /* The reverse direction: a credentials cap at the memory worker. */
    s_worker(&w, AK_CLASS_MEMORY, true);
    ak_worker_resp_init(&resp);
    s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_ERR(AK_E_CAP_DATA_CLASS_MISMATCH, s_do(&w, &s, &STS, &resp));
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_chain_checks_in_order) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "v", &resp));
    capspec s = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_OK(s_do(&w, &s, &STS, &resp));
    unsigned audits = W.n_audit;

    /* not registered: a K10 with no device */
    capspec u = s;
    u.k10 = K10_OTHER;
    EXPECT_ERR(AK_E_DEVICE_NOT_REGISTERED, s_do(&w, &u, &STS, &resp));
    /* revoked after the cap was minted; revoked beats scope and epoch */
    dev *a = s_dev(K10_AGENT);
    a->e.revoked = true;
    EXPECT_ERR(AK_E_DEVICE_REVOKED, s_do(&w, &s, &STS, &resp));
    W.n_scope = 0;
    W.epoch = 5;
    EXPECT_ERR(AK_E_DEVICE_REVOKED, s_do(&w, &s, &STS, &resp));
    s_reset_world();
    a = s_dev(K10_AGENT);
    /* bound: another operator's cap (the device belongs to OP) */
    capspec o = s;
    o.op = &OTHER_OP;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, s_do(&w, &o, &STS, &resp));
    /* bound: the agent speaking for another actor of the same operator */
    ak_omni other_actor;
    memset(other_actor.b, 0x44, 32);
    o = s;
    o.actor = &other_actor;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, s_do(&w, &o, &STS, &resp));
    /* bound: a master device's store/fetch cap must be for the operator itself */
    o = s;
    o.k10 = K10_MASTER;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, s_do(&w, &o, &STS, &resp));
    /* role; binding beats role */
    a->e.roles = 0;
    EXPECT_ERR(AK_E_DEVICE_ROLE_MISSING, s_do(&w, &s, &STS, &resp));
    o = s;
    o.op = &OTHER_OP;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, s_do(&w, &o, &STS, &resp));
    a->e.roles = AK_ROLE_CAP_MINT;
    /* scope (D2: a memory:notes scope grants nothing in credentials); role beats scope */
    o = s;
    o.service = "notes";
    EXPECT_ERR(AK_E_SERVICE_NOT_IN_SCOPE, s_do(&w, &o, &STS, &resp));
    a->e.roles = 0;
    EXPECT_ERR(AK_E_DEVICE_ROLE_MISSING, s_do(&w, &o, &STS, &resp));
    a->e.roles = AK_ROLE_CAP_MINT;
    /* epoch: a cap minted at epoch 1 after the chain moved to 2; scope beats epoch */
    W.epoch = 2;
    EXPECT_ERR(AK_E_K3_EPOCH_MISMATCH, s_do(&w, &s, &STS, &resp));
    EXPECT_ERR(AK_E_SERVICE_NOT_IN_SCOPE, s_do(&w, &o, &STS, &resp));
    W.epoch = 1;
    /* chain down */
    W.chain_down = true;
    EXPECT_ERR(AK_E_CHAIN_RPC, s_do(&w, &s, &STS, &resp));
    EXPECT_INT_EQ(ak_err_status(AK_E_CHAIN_RPC), 502);
    W.chain_down = false;
    /* master on own data: no scope needed */
    capspec m = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    m.k10 = K10_MASTER;
    m.actor = &OP;
    m.service = "github";
    call c = {.sts = 3, .plain = "m", .plain_len = 1};
    EXPECT_OK(s_do(&w, &m, &c, &resp));
    /* chain refusals of a genuine cap are audited (denied) */
    EXPECT_TRUE(W.n_audit > audits);
    EXPECT_INT_EQ(W.derives, 1);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

/* readOnly (issue 16 finding 3): the worker re-reads the scope on chain; a store or teardown
 * cap for an actor whose scope is read-only is refused even though the broker minted it (a cap
 * minted before the flag was set), before any signer or S3 call; fetch is unaffected. */
AK_TEST(test_read_only_scope) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "before", &resp));
    unsigned derives = W.derives;
    W.scope_read_only = true;
    capspec st = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    call c = {.sts = 3, .plain = "after", .plain_len = 5};
    EXPECT_ERR(AK_E_SCOPE_READ_ONLY, s_do(&w, &st, &c, &resp));
    EXPECT_INT_EQ(ak_err_status(AK_E_SCOPE_READ_ONLY), 403);
    EXPECT_INT_EQ(W.derives, derives);
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "before");
    capspec t = s_spec(AK_OP_TEARDOWN, AK_CLASS_CREDENTIALS);
    t.k10 = K10_MASTER;
    EXPECT_ERR(AK_E_SCOPE_READ_ONLY, s_do(&w, &t, &STS, &resp));
    EXPECT_TRUE(s_obj_str(KEY_CRED) != NULL);
    /* the master's own data has no scope */
    capspec m = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    m.k10 = K10_MASTER;
    m.actor = &OP;
    m.service = "github";
    call mc = {.sts = 3, .plain = "m", .plain_len = 1};
    EXPECT_OK(s_do(&w, &m, &mc, &resp));
    /* chain down at that read: refused, nothing written */
    W.scope_read_only = false;
    W.chain_down = true;
    EXPECT_ERR(AK_E_CHAIN_RPC, s_do(&w, &st, &c, &resp));
    W.chain_down = false;
    EXPECT_OK(s_do(&w, &st, &c, &resp));
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "after");
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

/* Issue 19: the chain reads of a request are one snapshot (one ops.chain_snapshot call, no
 * per-read call), and a read that failed inside it only matters where the D11 order reaches it:
 * an earlier refusal keeps its reason, a read the request never needs is ignored. */
AK_TEST(test_chain_one_snapshot) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "v", &resp));
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    capspec st = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    call c = {.sts = 3, .plain = "w", .plain_len = 1};
    W.snapshots = W.per_reads = 0;
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    EXPECT_OK(s_do(&w, &st, &c, &resp));
    EXPECT_INT_EQ(W.snapshots, 2);
    EXPECT_INT_EQ(W.per_reads, 0);
    /* the epoch read failed: chain_rpc_error, unless the device already refuses */
    W.fail_reads = 16;
    EXPECT_ERR(AK_E_CHAIN_RPC, s_do(&w, &f, &STS, &resp));
    capspec u = f;
    u.k10 = K10_OTHER;
    EXPECT_ERR(AK_E_DEVICE_NOT_REGISTERED, s_do(&w, &u, &STS, &resp));
    /* getScope failed: a fetch never reads it, a store does */
    W.fail_reads = 8;
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    EXPECT_ERR(AK_E_CHAIN_RPC, s_do(&w, &st, &c, &resp));
    /* isServiceInScope failed: a missing role is reported first */
    W.fail_reads = 4;
    dev *a = s_dev(K10_AGENT);
    a->e.roles = 0;
    EXPECT_ERR(AK_E_DEVICE_ROLE_MISSING, s_do(&w, &f, &STS, &resp));
    a->e.roles = AK_ROLE_CAP_MINT;
    EXPECT_ERR(AK_E_CHAIN_RPC, s_do(&w, &f, &STS, &resp));
    /* actorOperator failed: an agent's store does not need it, a master's teardown does */
    W.fail_reads = 2;
    EXPECT_OK(s_do(&w, &st, &c, &resp));
    capspec t = s_spec(AK_OP_TEARDOWN, AK_CLASS_CREDENTIALS);
    t.k10 = K10_MASTER;
    EXPECT_ERR(AK_E_CHAIN_RPC, s_do(&w, &t, &STS, &resp));
    /* getDevice failed: chain_rpc_error before anything else */
    W.fail_reads = 1;
    EXPECT_ERR(AK_E_CHAIN_RPC, s_do(&w, &f, &STS, &resp));
    W.fail_reads = 0;
    EXPECT_INT_EQ(W.per_reads, 0);
    EXPECT_TRUE(s_obj_str(KEY_CRED) != NULL);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

/* The same D11 order and reasons on the per-read path (ops.chain_snapshot NULL). */
AK_TEST(test_chain_checks_per_read) {
    S_PER_READ = true;
    test_chain_checks_in_order(state);
    test_read_only_scope(state);
    W.per_reads = W.snapshots = 0;
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "v", &resp));
    EXPECT_INT_EQ(W.snapshots, 0);
    EXPECT_INT_EQ(W.per_reads, 4); /* an agent's store: device, isServiceInScope, getScope, epoch */
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
    S_PER_READ = false;
}

/* Issue 19: the KEK derivation goes out before the chain reads and its reply is read only when
 * the operation needs the KEK, after every check passed; a refused request drops it unread. */
static void s_trace_reset(void) {
    memset(W.trace, 0, sizeof(W.trace));
    W.ntrace = 0;
}

AK_TEST(test_kek_overlapped_with_chain) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    /* store: sent before the snapshot, read after it */
    s_trace_reset();
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "overlap", &resp));
    EXPECT_STR_EQ(W.trace, "SCR");
    /* fetch: the S3 read happens while the signer answers too */
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    s_trace_reset();
    unsigned derives = W.derives;
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "overlap");
    EXPECT_STR_EQ(W.trace, "SCGR");
    EXPECT_INT_EQ(W.derives, derives + 1);
    EXPECT_INT_EQ(W.pre_sends, 2);
    EXPECT_INT_EQ(W.pre_recvs, 2);
    EXPECT_INT_EQ(W.pre_aborts, 0);

    /* a chain check fails after the derive went out (and would have succeeded): the chain's
     * reason, the reply dropped unread, no KEK in the worker, nothing read from S3 */
    dev *a = s_dev(K10_AGENT);
    a->e.revoked = true;
    s_trace_reset();
    derives = W.derives;
    EXPECT_ERR(AK_E_DEVICE_REVOKED, s_do(&w, &f, &STS, &resp));
    EXPECT_STR_EQ(W.trace, "SCA");
    EXPECT_INT_EQ(W.derives, derives);
    EXPECT_INT_EQ(resp.body.len, 0);
    a->e.revoked = false;
    /* every later check too: scope, epoch, read-only */
    W.n_scope = 0;
    s_trace_reset();
    EXPECT_ERR(AK_E_SERVICE_NOT_IN_SCOPE, s_do(&w, &f, &STS, &resp));
    EXPECT_STR_EQ(W.trace, "SCA");
    W.n_scope = 2;
    W.epoch = 2; /* the cap says 1: the signer would derive epoch 1, the chain refuses */
    s_trace_reset();
    EXPECT_ERR(AK_E_K3_EPOCH_MISMATCH, s_do(&w, &f, &STS, &resp));
    EXPECT_STR_EQ(W.trace, "SCA");
    W.epoch = 1;
    W.scope_read_only = true;
    capspec st = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    call c = {.sts = 3, .plain = "x", .plain_len = 1};
    s_trace_reset();
    EXPECT_ERR(AK_E_SCOPE_READ_ONLY, s_do(&w, &st, &c, &resp));
    EXPECT_STR_EQ(W.trace, "SCA");
    W.scope_read_only = false;
    W.chain_down = true;
    s_trace_reset();
    EXPECT_ERR(AK_E_CHAIN_RPC, s_do(&w, &f, &STS, &resp));
    EXPECT_STR_EQ(W.trace, "SCA");
    W.chain_down = false;
    EXPECT_INT_EQ(W.derives, derives);
    EXPECT_INT_EQ(W.pre_recvs, 2);
    EXPECT_INT_EQ(W.pre_aborts, 5);

    /* the signer down and the chain refusing: the chain's reason (it comes first in D11) */
    W.signer_down = true;
    a->e.revoked = true;
    EXPECT_ERR(AK_E_DEVICE_REVOKED, s_do(&w, &f, &STS, &resp));
    a->e.revoked = false;
    /* the signer down, the checks passing: signer_unavailable where the derive is, i.e. after
     * the S3 read (a missing object is still not_found) */
    s_trace_reset();
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE, s_do(&w, &f, &STS, &resp));
    EXPECT_STR_EQ(W.trace, "SCG");
    s_obj_del(s_obj_str(KEY_CRED));
    EXPECT_ERR(AK_E_NOT_FOUND, s_do(&w, &f, &STS, &resp));
    W.signer_down = false;
    /* a fetch that never needs a KEK (nothing stored): the reply is dropped */
    s_trace_reset();
    EXPECT_ERR(AK_E_NOT_FOUND, s_do(&w, &f, &STS, &resp));
    EXPECT_STR_EQ(W.trace, "SCGA");
    /* teardown derives nothing: nothing is sent */
    capspec t = s_spec(AK_OP_TEARDOWN, AK_CLASS_CREDENTIALS);
    t.k10 = K10_MASTER;
    s_trace_reset();
    EXPECT_OK(s_do(&w, &t, &STS, &resp));
    EXPECT_TRUE(strchr(W.trace, 'S') == NULL);

    /* lazy re-key: the blob's older epoch derived in sequence, the cap's epoch from the overlap */
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "old", &resp));
    W.epoch = 2;
    capspec f2 = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    s_trace_reset();
    derives = W.derives;
    EXPECT_OK(s_do(&w, &f2, &STS, &resp));
    s_expect_plain(&resp, "old");
    EXPECT_STR_EQ(W.trace, "SCGRD");
    EXPECT_INT_EQ(W.derives, derives + 2);
    EXPECT_FALSE(PRE.pending);
    EXPECT_INT_EQ(w.kek_pre.sent || w.kek_pre.have, 0);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

/* The cap key set is refreshed for a kid it does not know (at most every
 * AK_WORKER_KEYS_REFRESH_MIN_MS), judged from the token's header alone: a known kid or a
 * token whose header does not decode never refreshes. */
AK_TEST(test_cap_key_refresh_by_kid) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_ERR(AK_E_NOT_FOUND, s_do(&w, &f, &STS, &resp));
    EXPECT_INT_EQ(W.keys_calls, 1); /* the first load */
    w.cap_keys_at_ms -= AK_WORKER_KEYS_REFRESH_MIN_MS;
    EXPECT_ERR(AK_E_NOT_FOUND, s_do(&w, &f, &STS, &resp));
    EXPECT_INT_EQ(W.keys_calls, 1); /* known kid */
    call junk = {.sts = 3, .body = "{\"cap\":\"!!!.e30.AAAA\"}"};
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, s_do(&w, &f, &junk, &resp));
    EXPECT_INT_EQ(W.keys_calls, 1); /* header does not decode */
    capspec u = f;
    u.kid = "cap-2";
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, s_do(&w, &u, &STS, &resp));
    EXPECT_INT_EQ(W.keys_calls, 2); /* unknown kid: refreshed */
    EXPECT_ERR(AK_E_BROKER_SIG_INVALID, s_do(&w, &u, &STS, &resp));
    EXPECT_INT_EQ(W.keys_calls, 2); /* not again within the interval */
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

static void test_lazy_rekey(void **state);

/* The same reasons, in the same order, with every derive sequential (overlap ops NULL). */
AK_TEST(test_chain_checks_without_overlap) {
    S_NO_OVERLAP = true;
    test_chain_checks_in_order(state);
    test_read_only_scope(state);
    test_lazy_rekey(state);
    EXPECT_INT_EQ(W.pre_sends, 0);
    S_NO_OVERLAP = false;
}

AK_TEST(test_envelope_tamper_and_missing) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_ERR(AK_E_NOT_FOUND, s_do(&w, &f, &STS, &resp));
    EXPECT_INT_EQ(ak_err_status(AK_E_NOT_FOUND), 404);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "tamper-me", &resp));
    obj *o = s_obj_str(KEY_CRED);
    for (size_t i = 0; i < o->len; i++) {
        if (i >= 1 && i < 5) continue; /* the epoch bytes: checked below */
        o->data[i] ^= 0x01;
        ak_err e = s_do(&w, &f, &STS, &resp);
        if (e != AK_E_DECRYPT_FAILED) fail_msg("byte %zu: %s", i, ak_err_reason(e));
        EXPECT_INT_EQ(resp.body.len, 0);
        o->data[i] ^= 0x01;
    }
    /* epoch byte raised above the current: refused without asking the signer */
    o->data[4] = 9;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, s_do(&w, &f, &STS, &resp));
    o->data[4] = 1;
    /* truncated */
    size_t len = o->len;
    o->len = 20;
    EXPECT_ERR(AK_E_DECRYPT_FAILED, s_do(&w, &f, &STS, &resp));
    o->len = len;
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "tamper-me");
    /* moved to another service's key: the AAD binds the service */
    ak_cur blob = ak_cur_from(o->data, o->len);
    const char *moved =
        "bots/2222222222222222222222222222222222222222222222222222222222222222/credentials/github.enc";
    uint8_t sid[32];
    EXPECT_OK(ak_scope_id_of(AK_CLASS_CREDENTIALS, AK_CUR_LIT("github"), sid));
    memcpy(W.scope_ids[W.n_scope++], sid, 32);
    s_obj_set(ak_cur_from_str(moved), blob);
    capspec g = f;
    g.service = "github";
    EXPECT_ERR(AK_E_DECRYPT_FAILED, s_do(&w, &g, &STS, &resp));
    EXPECT_INT_EQ(ak_err_status(AK_E_DECRYPT_FAILED), 422);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_lazy_rekey) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "survives-rotation", &resp));
    unsigned old_etag = s_obj_str(KEY_CRED)->etag;
    W.epoch = 2;
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS); /* minted at epoch 2 */
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "survives-rotation");
    json_t *j = s_json(&resp);
    EXPECT_TRUE(json_is_true(json_object_get(j, "rekeyed")));
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "k3_epoch")), 2);
    json_decref(j);
    obj *o = s_obj_str(KEY_CRED);
    EXPECT_INT_EQ(o->data[4], 2); /* stored epoch is now 2 */
    char want[32];
    snprintf(want, sizeof(want), "etag-%u", old_etag);
    EXPECT_STR_EQ(W.last_if_match, want); /* conditional and unquoted (RGW) */
    EXPECT_TRUE(strstr(W.audit[W.n_audit - 1], "\"rekeyed_from_epoch\":\"1\"") != NULL);
    /* the epoch-2 blob opens with the epoch-2 KEK only */
    uint32_t e;
    EXPECT_OK(ak_envelope_peek_epoch(ak_cur_from(o->data, o->len), &e));
    EXPECT_INT_EQ(e, 2);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    j = s_json(&resp);
    EXPECT_TRUE(json_is_false(json_object_get(j, "rekeyed")));
    json_decref(j);

    /* Lost race once: the whole fetch is retried and succeeds. */
    W.epoch = 3;
    f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    W.put_412 = 1;
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "survives-rotation");
    /* Lost twice: 409, nothing returned, object still readable. */
    W.epoch = 4;
    f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    W.put_412 = 2;
    EXPECT_ERR(AK_E_CONFLICT, s_do(&w, &f, &STS, &resp));
    EXPECT_INT_EQ(resp.body.len, 0);
    /* Re-key write refused (S3 down for writes): fail closed, nothing returned. */
    W.put_fail = true;
    EXPECT_ERR(AK_E_S3_ERROR, s_do(&w, &f, &STS, &resp));
    EXPECT_INT_EQ(resp.body.len, 0);
    W.put_fail = false;
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "survives-rotation");
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_faults_fail_closed_and_store_atomic) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "previous", &resp));
    unsigned puts = W.puts;
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);

    W.signer_down = true;
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE, s_store(&w, AK_CLASS_CREDENTIALS, "new", &resp));
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE, s_do(&w, &f, &STS, &resp));
    EXPECT_INT_EQ(ak_err_status(AK_E_SIGNER_UNAVAILABLE), 503);
    W.signer_down = false;
    W.chain_down = true;
    EXPECT_ERR(AK_E_CHAIN_RPC, s_store(&w, AK_CLASS_CREDENTIALS, "new", &resp));
    W.chain_down = false;
    W.put_fail = true;
    unsigned audits = W.n_audit;
    EXPECT_ERR(AK_E_S3_ERROR, s_store(&w, AK_CLASS_CREDENTIALS, "new", &resp));
    EXPECT_TRUE(strstr(W.audit[W.n_audit - 1], "\"outcome\":\"error\"") != NULL); /* the failure row */
    EXPECT_TRUE(W.n_audit == audits + 2);
    W.put_fail = false;
    W.audit_fail = true;
    EXPECT_ERR(AK_E_AUDIT_WRITE, s_store(&w, AK_CLASS_CREDENTIALS, "new", &resp));
    EXPECT_ERR(AK_E_AUDIT_WRITE, s_do(&w, &f, &STS, &resp));
    EXPECT_INT_EQ(resp.body.len, 0); /* no audit, no access */
    W.audit_fail = false;
    W.s3_deny = true;
    EXPECT_ERR(AK_E_ACCESS_DENIED, s_store(&w, AK_CLASS_CREDENTIALS, "new", &resp));
    EXPECT_ERR(AK_E_ACCESS_DENIED, s_do(&w, &f, &STS, &resp));
    W.s3_deny = false;
    W.get_fail = true;
    EXPECT_ERR(AK_E_S3_ERROR, s_do(&w, &f, &STS, &resp));
    W.get_fail = false;
    /* nothing new was written by any failed store: the previous version is intact */
    EXPECT_INT_EQ(W.puts, puts);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "previous");
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

static void s_put_raw(const char *key) { s_obj_set(ak_cur_from_str(key), AK_CUR_LIT("x")); }

AK_TEST(test_teardown) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_MEMORY, true);
    ak_worker_resp_init(&resp);
    const char *pre = "bots/2222222222222222222222222222222222222222222222222222222222222222/memory/";
    char k[256];
    for (int i = 0; i < 2500; i++) {
        snprintf(k, sizeof(k), "%sns%04d.enc", pre, i);
        s_put_raw(k);
    }
    s_put_raw("bots/2222222222222222222222222222222222222222222222222222222222222222/credentials/keep.enc");
    s_put_raw("bots/3333333333333333333333333333333333333333333333333333333333333333/memory/keep.enc");

    /* an agent cannot tear down (D10) */
    capspec t = s_spec(AK_OP_TEARDOWN, AK_CLASS_MEMORY);
    EXPECT_ERR(AK_E_TEARDOWN_NOT_MASTER, s_do(&w, &t, &STS, &resp));
    /* master of another operator's actor: refused */
    t.k10 = K10_MASTER;
    memset(W.bound_op, 0x33, 32);
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, s_do(&w, &t, &STS, &resp));
    memcpy(W.bound_op, OP.b, 32);
    /* a revoked agent can still be wiped (actorOperator kept, D17); partial failure first */
    s_dev(K10_AGENT)->e.revoked = true;
    W.fail_delete_suffix = "ns0007.enc";
    EXPECT_OK(s_do(&w, &t, &STS, &resp));
    EXPECT_INT_EQ(resp.status, 502);
    json_t *j = s_json(&resp);
    EXPECT_STR_EQ(json_string_value(json_object_get(j, "reason")), "s3_error");
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "keys_deleted")), 2499);
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "failed_count")), 1);
    json_t *fl = json_object_get(j, "failed");
    EXPECT_INT_EQ(json_array_size(fl), 1);
    EXPECT_TRUE(strstr(json_string_value(json_object_get(json_array_get(fl, 0), "key")), "ns0007.enc") !=
                NULL);
    json_decref(j);
    EXPECT_TRUE(W.max_delete_batch_seen <= AK_S3_DELETE_BATCH);
    /* then the rest */
    W.fail_delete_suffix = NULL;
    EXPECT_OK(s_do(&w, &t, &STS, &resp));
    EXPECT_INT_EQ(resp.status, 200);
    j = s_json(&resp);
    EXPECT_TRUE(json_is_true(json_object_get(j, "ok")));
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "keys_deleted")), 1);
    EXPECT_INT_EQ(json_array_size(json_object_get(j, "failed")), 0);
    json_decref(j);
    /* other class and other actor untouched */
    assert_non_null(s_obj_str(
        "bots/2222222222222222222222222222222222222222222222222222222222222222/credentials/keep.enc"));
    assert_non_null(
        s_obj_str("bots/3333333333333333333333333333333333333333333333333333333333333333/memory/keep.enc"));
    /* empty prefix: ok, 0 */
    EXPECT_OK(s_do(&w, &t, &STS, &resp));
    j = s_json(&resp);
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "keys_deleted")), 0);
    json_decref(j);
    /* audit before deleting: a failed audit deletes nothing */
    s_put_raw(KEY_MEM);
    W.audit_fail = true;
    EXPECT_ERR(AK_E_AUDIT_WRITE, s_do(&w, &t, &STS, &resp));
    assert_non_null(s_obj_str(KEY_MEM));
    W.audit_fail = false;
    /* DeleteObjects refused as a whole (Ceph RGW 16): key-by-key fallback, failures reported */
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof(k), "%sfb%d.enc", pre, i);
        s_put_raw(k);
    }
    W.multi_delete_denied = true;
    W.fail_delete_suffix = "fb3.enc";
    EXPECT_OK(s_do(&w, &t, &STS, &resp));
    EXPECT_INT_EQ(resp.status, 403);
    j = s_json(&resp);
    EXPECT_STR_EQ(json_string_value(json_object_get(j, "reason")), "access_denied");
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "keys_deleted")), 5); /* KEY_MEM + 4 */
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "failed_count")), 1);
    json_decref(j);
    EXPECT_INT_EQ(W.delete_ones, 6);
    W.fail_delete_suffix = NULL;
    EXPECT_OK(s_do(&w, &t, &STS, &resp));
    EXPECT_INT_EQ(resp.status, 200);
    W.multi_delete_denied = false;
    /* master's own data */
    capspec own = t;
    own.actor = &OP;
    EXPECT_OK(s_do(&w, &own, &STS, &resp));
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_no_secret_in_logs) {
    s_reset_world();
    char path[] = "/tmp/ak-worker-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    ak_buf cap;
    capspec s = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    s_mint(&s, &cap);
    call c = {.sts = 3, .plain = "PLAINTEXT-CANARY-123", .plain_len = 20};
    EXPECT_OK(s_run(&w, AK_OP_STORE, &cap, &c, &resp));
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    W.epoch = 2;
    f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    W.signer_down = true;
    EXPECT_ERR(AK_E_SIGNER_UNAVAILABLE, s_do(&w, &f, &STS, &resp));
    W.signer_down = false;
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ak_buf log;
    ak_buf_init(&log, 1 << 20);
    ak_test_read_file(path, &log);
    close(fd);
    unlink(path);
    EXPECT_TRUE(log.len > 0);
    const char *needles[] = {"PLAINTEXT-CANARY", "UExBSU5URVhULUNBTkFSWS0xMjM", "sts-secret-SHOULD-NOT-LOG",
                             "sts-token-SHOULD-NOT-LOG", "ASIATESTKEYID0000001"};
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        if (memmem(log.ptr, log.len, needles[i], strlen(needles[i])) != NULL)
            fail_msg("log has %s", needles[i]);
    /* no part of the cap token (its signature part is the most unique) */
    const char *sig = strrchr(ak_buf_cstr(&cap), '.') + 1;
    EXPECT_TRUE(memmem(log.ptr, log.len, sig, 20) == NULL);
    /* no KEK: recompute both epochs' KEKs and look for their hex and base64 */
    for (uint32_t e = 1; e <= 2; e++) {
        uint8_t kek[32];
        char hex[65];
        EXPECT_OK(f_derive(&w, &OP, &ACTOR, e, kek));
        ak_hex_encode(kek, 32, hex);
        EXPECT_TRUE(memmem(log.ptr, log.len, hex, 16) == NULL);
        EXPECT_TRUE(memmem(log.ptr, log.len, kek, 8) == NULL);
    }
    ak_buf_free(&log);
    ak_buf_free(&cap);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_names) {
    ak_buf b;
    ak_buf_init(&b, 1024);
    ak_omni a;
    memset(a.b, 0xab, 32);
    EXPECT_OK(ak_worker_object_key(AK_CLASS_MEMORY, &a, AK_CUR_LIT("travel"), &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b),
                  "bots/abababababababababababababababababababababababababababababababab/memory/travel.enc");
    ak_buf_clear(&b);
    EXPECT_ERR(AK_E_INVALID_NAMESPACE, ak_worker_object_key(AK_CLASS_MEMORY, &a, AK_CUR_LIT("../x"), &b));
    EXPECT_ERR(AK_E_INVALID_SERVICE,
               ak_worker_object_key(AK_CLASS_CREDENTIALS, &a, AK_CUR_LIT("OpenRouter"), &b));
    EXPECT_INT_EQ(b.len, 0);
    EXPECT_OK(ak_worker_prefix(AK_CLASS_CREDENTIALS, &a, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b),
                  "bots/abababababababababababababababababababababababababababababababab/credentials/");
    ak_buf_free(&b);
}

/* Every allocation the pipeline makes can fail: it reports an error, never crashes or leaks,
 * and a failed store writes nothing half-way (the object is either the old or the new one). */
AK_TEST(test_out_of_memory_never_crashes) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, "old", &resp)); /* loads the cap keys */
    for (int op = 0; op < 2; op++) {
        capspec s = s_spec(op == 0 ? AK_OP_STORE : AK_OP_FETCH, AK_CLASS_CREDENTIALS);
        ak_buf cap, body;
        s_mint(&s, &cap);
        ak_buf_init(&body, 65536);
        EXPECT_OK(ak_buf_printf(&body,
                                op == 0 ? "{\"cap\":\"%s\",\"plaintext_b64\":\"bmV3\"}" : "{\"cap\":\"%s\"}",
                                ak_buf_cstr(&cap)));
        ak_worker_req r = {.op = s.op_claim,
                           .body = ak_buf_cur(&body),
                           .now = NOW,
                           .request_id = AK_CUR_LIT("r"),
                           .has_access_key_id = true,
                           .has_secret_access_key = true,
                           .has_session_token = true,
                           .access_key_id = AK_CUR_LIT("A"),
                           .secret_access_key = AK_CUR_LIT("B"),
                           .session_token = AK_CUR_LIT("C")};
        for (uint64_t n = 1; n < 400; n++) {
            ak_alloc_fail_nth(n);
            ak_err e = ak_worker_handle(&w, &r, &resp);
            ak_alloc_fail_nth(0);
            if (e == AK_OK) break;
            obj *o = s_obj_str(KEY_CRED);
            assert_non_null(o);
            EXPECT_INT_EQ(o->data[0], 0x04);
        }
        ak_buf_free(&cap);
        ak_buf_free(&body);
    }
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, "new");
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

/* ================================================================ op use (D19) */

#define USE_SECRET "sk-use-SECRET-0123456789"
#define USE_POLICY                                                                                           \
    "{\"use_only\":true,\"allowed_hosts\":[\"api.example.com\"],\"allowed_methods\":[\"GET\",\"POST\"],"     \
    "\"inject\":{\"header\":\"Authorization\",\"template\":\"Bearer {}\"}}"

static ak_err s_store_policy(ak_worker *w, const uint8_t *k10, const char *policy, ak_worker_resp *resp) {
    capspec s = s_spec(AK_OP_STORE, AK_CLASS_CREDENTIALS);
    s.k10 = k10;
    ak_buf cap, b64, body;
    s_mint(&s, &cap);
    ak_buf_init(&b64, 4096);
    ak_buf_init(&body, AK_MAX_REQUEST_BODY);
    EXPECT_OK(ak_b64_encode((const uint8_t *)USE_SECRET, strlen(USE_SECRET), &b64));
    EXPECT_OK(ak_buf_printf(&body, "{\"cap\":\"%s\",\"plaintext_b64\":\"%s\",\"policy\":%s}",
                            ak_buf_cstr(&cap), ak_buf_cstr(&b64), policy));
    call c = {.sts = 3, .body = ak_buf_cstr(&body)};
    ak_err rc = s_run(w, AK_OP_STORE, NULL, &c, resp);
    ak_buf_free(&cap);
    ak_buf_free(&b64);
    ak_buf_free(&body);
    return rc;
}

static ak_err s_use(ak_worker *w, const char *method, const char *url, const char *extra,
                    ak_worker_resp *resp) {
    capspec s = s_spec(AK_OP_USE, AK_CLASS_CREDENTIALS);
    ak_buf cap, body;
    s_mint(&s, &cap);
    ak_buf_init(&body, AK_MAX_REQUEST_BODY);
    EXPECT_OK(ak_buf_printf(&body, "{\"cap\":\"%s\",\"method\":\"%s\",\"url\":\"%s\"%s}", ak_buf_cstr(&cap),
                            method, url, extra ? extra : ""));
    call c = {.sts = 3, .body = ak_buf_cstr(&body)};
    ak_err rc = s_run(w, AK_OP_USE, NULL, &c, resp);
    ak_buf_free(&cap);
    ak_buf_free(&body);
    return rc;
}

static bool s_audit_has(unsigned i, const char *needle) {
    return i < W.n_audit && strstr(W.audit[i], needle) != NULL;
}

static void s_no_secret(const char *where, ak_cur text) {
    static const char *const forms[] = {USE_SECRET, "c2stdXNlLVNFQ1JFVC0wMTIzNDU2Nzg5", "sk-use-SECRET"};
    for (size_t i = 0; i < 3; i++)
        if (memmem(text.ptr, text.len, forms[i], strlen(forms[i])) != NULL)
            fail_msg("%s has %s", where, forms[i]);
}

AK_TEST(test_use_only_store_fetch_use) {
    s_reset_world();
    memset(&EG, 0, sizeof(EG));
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    EXPECT_OK(s_store_policy(&w, K10_AGENT, USE_POLICY, &resp));
    obj *o = s_obj_str(KEY_CRED);
    assert_non_null(o);
    EXPECT_INT_EQ(o->data[0], 0x05);
    EXPECT_TRUE(s_audit_has(0, "\"use_policy\":\"use_only\""));

    /* fetch: refused and audited */
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_ERR(AK_E_USE_ONLY, s_do(&w, &f, &STS, &resp));
    EXPECT_INT_EQ(resp.body.len, 0);
    EXPECT_INT_EQ(ak_err_status(AK_E_USE_ONLY), 403);
    EXPECT_TRUE(s_audit_has(1, "\"action\":\"fetch\"") && s_audit_has(1, "\"reason\":\"use_only\"") &&
                s_audit_has(1, "\"outcome\":\"denied\""));

    /* use: the secret goes out in the header, never comes back */
    EG.status = 200;
    EG.resp_headers = "content-type:application/json\nx-echo-auth:Bearer " USE_SECRET "\ncontent-length:10\n";
    EG.resp_body = "{\"auth\":\"Bearer " USE_SECRET "\",\"b64\":\"c2stdXNlLVNFQ1JFVC0wMTIzNDU2Nzg5\"}";
    unsigned before = W.n_audit;
    EXPECT_OK(s_use(&w, "POST", "https://api.example.com/v1/chat?token=QUERYSECRET",
                    ",\"headers\":{\"content-type\":\"application/json\"},\"body_b64\":\"e30=\"", &resp));
    EXPECT_INT_EQ(resp.status, 200);
    EXPECT_INT_EQ(EG.calls, 1);
    EXPECT_STR_EQ(EG.url, "https://api.example.com/v1/chat?token=QUERYSECRET");
    EXPECT_STR_EQ(EG.method, "POST");
    EXPECT_TRUE(strstr(EG.headers, "Authorization: Bearer " USE_SECRET "\n") != NULL);
    EXPECT_TRUE(strstr(EG.headers, "content-type: application/json\n") != NULL);
    s_no_secret("answer", ak_buf_cur(&resp.body));
    json_t *j = s_json(&resp);
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "status")), 200);
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "redactions")), 3);
    EXPECT_INT_EQ(json_array_size(json_object_get(j, "headers")), 2); /* content-length dropped */
    json_decref(j);
    /* two audit rows: before the call (no status) and after it; host, method, path, never the query */
    EXPECT_INT_EQ(W.n_audit, before + 2);
    EXPECT_TRUE(
        s_audit_has(before, "\"action\":\"use\"") && s_audit_has(before, "\"phase\":\"before_call\"") &&
        s_audit_has(before, "\"host\":\"api.example.com\"") && s_audit_has(before, "\"path\":\"/v1/chat\""));
    EXPECT_TRUE(s_audit_has(before + 1, "\"phase\":\"after_call\"") &&
                s_audit_has(before + 1, "\"status\":\"200\"") &&
                s_audit_has(before + 1, "\"bytes_out\":\"2\"") &&
                s_audit_has(before + 1, "\"method\":\"POST\"") && s_audit_has(before + 1, "\"op\":\"use\""));
    for (unsigned i = 0; i < W.n_audit; i++) {
        s_no_secret("audit", ak_cur_from_str(W.audit[i]));
        EXPECT_TRUE(strstr(W.audit[i], "QUERYSECRET") == NULL);
    }

    /* a redirect is the answer, not followed */
    EG.status = 302;
    EG.resp_headers = "location:https://evil.example.net/steal\n";
    EG.resp_body = "";
    EXPECT_OK(s_use(&w, "GET", "https://api.example.com/r", NULL, &resp));
    j = s_json(&resp);
    EXPECT_INT_EQ(json_integer_value(json_object_get(j, "status")), 302);
    json_decref(j);
    EXPECT_INT_EQ(EG.calls, 2);

    /* refusals before any call, each audited as denied */
    before = W.n_audit;
    EXPECT_ERR(AK_E_SCHEME_NOT_ALLOWED, s_use(&w, "GET", "http://api.example.com/v1", NULL, &resp));
    EXPECT_ERR(AK_E_HOST_NOT_ALLOWED, s_use(&w, "GET", "https://evil.example.net/v1", NULL, &resp));
    EXPECT_ERR(AK_E_METHOD_NOT_ALLOWED, s_use(&w, "DELETE", "https://api.example.com/v1", NULL, &resp));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_use(&w, "GET", "https://api.example.com/v1",
                                         ",\"headers\":{\"Authorization\":\"x\"}", &resp));
    EXPECT_INT_EQ(EG.calls, 2);
    EXPECT_INT_EQ(W.n_audit, before + 4);
    EXPECT_TRUE(s_audit_has(before, "\"reason\":\"scheme_not_allowed\"") &&
                s_audit_has(before + 1, "\"reason\":\"host_not_allowed\""));
    /* the connect-time refusal passes through */
    EG.fail = AK_E_DESTINATION_NOT_ALLOWED;
    EXPECT_ERR(AK_E_DESTINATION_NOT_ALLOWED, s_use(&w, "GET", "https://api.example.com/v1", NULL, &resp));
    EG.fail = AK_E_TOO_LARGE;
    EXPECT_ERR(AK_E_USE_RESPONSE_TOO_LARGE, s_use(&w, "GET", "https://api.example.com/v1", NULL, &resp));
    EG.fail = AK_OK;
    /* no audit, no call */
    unsigned calls = EG.calls;
    W.audit_fail = true;
    EXPECT_ERR(AK_E_AUDIT_WRITE, s_use(&w, "GET", "https://api.example.com/v1", NULL, &resp));
    W.audit_fail = false;
    EXPECT_INT_EQ(EG.calls, calls);
    /* a fetch cap is not a use cap */
    capspec u = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    ak_buf fcap, fbody;
    s_mint(&u, &fcap);
    ak_buf_init(&fbody, AK_MAX_REQUEST_BODY);
    EXPECT_OK(ak_buf_printf(&fbody,
                            "{\"cap\":\"%s\",\"method\":\"GET\",\"url\":\"https://api.example.com/\"}",
                            ak_buf_cstr(&fcap)));
    call cu = {.sts = 3, .body = ak_buf_cstr(&fbody)};
    EXPECT_ERR(AK_E_CAP_OP_MISMATCH, s_run(&w, AK_OP_USE, NULL, &cu, &resp));
    ak_buf_free(&fcap);
    ak_buf_free(&fbody);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_use_needs_policy_and_usable_fetch) {
    s_reset_world();
    memset(&EG, 0, sizeof(EG));
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    /* a 0x04 credential (no policy): fetchable, not usable */
    EXPECT_OK(s_store(&w, AK_CLASS_CREDENTIALS, USE_SECRET, &resp));
    EXPECT_ERR(AK_E_USE_POLICY_MISSING, s_use(&w, "GET", "https://api.example.com/v1", NULL, &resp));
    EXPECT_INT_EQ(EG.calls, 0);
    /* a usable (not use_only) policy: fetch answers the secret alone, plus the policy */
    EXPECT_OK(s_store_policy(
        &w, K10_AGENT, "{\"allowed_hosts\":[\"api.example.com\"],\"inject\":{\"query\":\"key\"}}", &resp));
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_OK(s_do(&w, &f, &STS, &resp));
    s_expect_plain(&resp, USE_SECRET);
    json_t *j = s_json(&resp);
    EXPECT_TRUE(json_is_false(json_object_get(json_object_get(j, "policy"), "use_only")));
    json_decref(j);
    EG.status = 200;
    EXPECT_OK(s_use(&w, "GET", "https://api.example.com/maps?q=1", NULL, &resp));
    EXPECT_STR_EQ(EG.url, "https://api.example.com/maps?q=1&key=" USE_SECRET);
    /* a bad policy or a secret that cannot carry one: 400 before anything is written */
    unsigned puts = W.puts;
    EXPECT_ERR(AK_E_USE_POLICY_INVALID,
               s_store_policy(&w, K10_AGENT,
                              "{\"allowed_hosts\":[\"10.0.0.1\"],\"inject\":{\"query\":\"k\"}}", &resp));
    EXPECT_INT_EQ(W.puts, puts);
    /* the lazy re-key keeps the policy (0x05 stays 0x05, use_only stays refused) */
    EXPECT_OK(s_store_policy(&w, K10_AGENT, USE_POLICY, &resp));
    W.epoch = 2;
    f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    EXPECT_ERR(AK_E_USE_ONLY, s_do(&w, &f, &STS, &resp));
    EXPECT_OK(s_use(&w, "GET", "https://api.example.com/v1", NULL, &resp));
    EXPECT_INT_EQ(s_obj_str(KEY_CRED)->data[0], 0x05);
    EXPECT_INT_EQ(s_obj_str(KEY_CRED)->data[4], 2);
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

AK_TEST(test_master_provisions_for_bound_actor) {
    s_reset_world();
    ak_worker w;
    ak_worker_resp resp;
    s_worker(&w, AK_CLASS_CREDENTIALS, true);
    ak_worker_resp_init(&resp);
    /* D19: the master's store cap for its bound agent works; the agent can use it */
    EXPECT_OK(s_store_policy(&w, K10_MASTER, USE_POLICY, &resp));
    EXPECT_INT_EQ(s_obj_str(KEY_CRED)->data[0], 0x05);
    /* but the master still may not fetch the agent's data (only store) */
    capspec f = s_spec(AK_OP_FETCH, AK_CLASS_CREDENTIALS);
    f.k10 = K10_MASTER;
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, s_do(&w, &f, &STS, &resp));
    /* an actor not bound to the operator: refused */
    memset(W.bound_op, 0x33, 32);
    EXPECT_ERR(AK_E_DEVICE_BINDING_MISMATCH, s_store_policy(&w, K10_MASTER, USE_POLICY, &resp));
    memcpy(W.bound_op, OP.b, 32);
    /* outside the actor's scope: refused (D17 scope rule kept) */
    W.n_scope = 0;
    EXPECT_ERR(AK_E_SERVICE_NOT_IN_SCOPE, s_store_policy(&w, K10_MASTER, USE_POLICY, &resp));
    ak_worker_resp_free(&resp);
    ak_worker_free(&w);
    s_reset_world();
}

static int s_group_setup(void) {
    memset(&W, 0, sizeof(W));
    return ak_p256_keygen(W.cap_priv, W.cap_pub) == AK_OK ? 0 : -1;
}

int main(void) {
    ak_test_init();
    if (s_group_setup() != 0) return 1;
    const struct CMUnitTest tests[] = {
        AK_T(test_store_fetch_roundtrip_credentials),
        AK_T(test_memory_roundtrip_and_binary),
        AK_T(test_sts_headers),
        AK_T(test_body_strict),
        AK_T(test_cap_checks_in_order),
        AK_T(test_chain_checks_in_order),
        AK_T(test_chain_one_snapshot),
        AK_T(test_chain_checks_per_read),
        AK_T(test_kek_overlapped_with_chain),
        AK_T(test_chain_checks_without_overlap),
        AK_T(test_cap_key_refresh_by_kid),
        AK_T(test_envelope_tamper_and_missing),
        AK_T(test_lazy_rekey),
        AK_T(test_faults_fail_closed_and_store_atomic),
        AK_T(test_teardown),
        AK_T(test_read_only_scope),
        AK_T(test_no_secret_in_logs),
        AK_T(test_names),
        AK_T(test_out_of_memory_never_crashes),
        AK_T(test_use_only_store_fetch_use),
        AK_T(test_use_needs_policy_and_usable_fetch),
        AK_T(test_master_provisions_for_bound_actor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
