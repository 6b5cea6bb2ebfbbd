/*
 * audit_anchor_test.c — ak/audit_anchor.h against an in-memory batch store and a scripted chain
 * node: batches anchored (appendRoot sent, root index recorded in the object with If-Match and
 * the ak-root-index metadata), a second pass only skips (idempotent, nothing sent), a root that
 * is on chain but not recorded is only recorded, a dry run sends and writes nothing, a wallet
 * that is not a master is refused before anything is listed or sent, and a failed rewrite
 * (ETag changed underneath) counted as a failure.
 */
#include "test.h"

#include <jansson.h>

#include "ak/audit_anchor.h"
#include "ak/crypto.h"
#include "ak/json.h"

/* ---- in-memory store ---- */

#define S_MAX_OBJ 8
typedef struct {
    char key[256];
    ak_buf body;
    int etag;
    char meta[32];
} s_obj;

typedef struct {
    s_obj o[S_MAX_OBJ];
    size_t n;
    int next_etag;
    int lists, puts;
    bool break_etag; /* every put sees a foreign write first */
} s_store;

static s_obj *s_find(s_store *s, ak_cur key) {
    for (size_t i = 0; i < s->n; i++)
        if (ak_cur_eq(ak_cur_from_str(s->o[i].key), key)) return &s->o[i];
    return NULL;
}

static ak_err s_list(void *ud, ak_cur prefix, ak_s3_list_fn fn, void *fn_ud, int64_t deadline_ms) {
    (void)deadline_ms;
    s_store *s = ud;
    s->lists++;
    for (size_t i = 0; i < s->n; i++) {
        if (strncmp(s->o[i].key, (const char *)prefix.ptr, prefix.len) != 0) continue;
        ak_s3_list_item it = {.key = ak_cur_from_str(s->o[i].key)};
        AK_GUARD(fn(fn_ud, &it));
    }
    return AK_OK;
}

static ak_err s_get(void *ud, unsigned lane, ak_cur key, size_t max, ak_buf *body, ak_buf *etag, int64_t dl) {
    (void)lane;
    (void)max;
    (void)dl;
    s_obj *o = s_find(ud, key);
    if (o == NULL) return AK_E_NOT_FOUND;
    AK_GUARD(ak_buf_append(body, o->body.ptr, o->body.len));
    return etag ? ak_buf_printf(etag, "e%d", o->etag) : AK_OK;
}

static ak_err s_put(void *ud, unsigned lane, ak_cur key, ak_cur body, bool create_only, ak_cur if_match,
                    const ak_s3_meta *meta, size_t n_meta, ak_buf *new_etag, int64_t dl) {
    (void)lane;
    (void)create_only;
    (void)new_etag;
    (void)dl;
    s_store *s = ud;
    s_obj *o = s_find(s, key);
    if (o == NULL) fail_msg("put of an unknown object");
    if (s->break_etag) o->etag = ++s->next_etag;
    char want[16];
    snprintf(want, sizeof(want), "e%d", o->etag);
    if (!ak_cur_eq(if_match, ak_cur_from_str(want))) return AK_E_PRECONDITION_FAILED;
    s->puts++;
    ak_buf_clear(&o->body);
    AK_GUARD(ak_buf_append(&o->body, body.ptr, body.len));
    o->etag = ++s->next_etag;
    if (n_meta != 1 || strcmp(meta[0].name, AK_AUDIT_META_ROOT_INDEX) != 0)
        fail_msg("root index metadata missing");
    snprintf(o->meta, sizeof(o->meta), "%.*s", (int)meta[0].value.len, (const char *)meta[0].value.ptr);
    return AK_OK;
}

static void s_add_batch(s_store *s, const ak_omni *op, int i, uint8_t root[32]) {
    ak_buf prefix;
    ak_buf_init(&prefix, 256);
    EXPECT_OK(ak_audit_batch_prefix(op, &prefix));
    s_obj *o = &s->o[s->n++];
    snprintf(o->key, sizeof(o->key), "%.*sb%d.json", (int)prefix.len, (const char *)prefix.ptr, i);
    ak_buf_free(&prefix);
    memset(root, 0x10 + i, 32);
    char hex[65];
    ak_hex_encode(root, 32, hex);
    ak_buf_init(&o->body, 1u << 16);
    EXPECT_OK(ak_buf_printf(&o->body, "{\"root\":\"0x%s\",\"count\":%d,\"v\":1}", hex, 3 + i));
    o->etag = ++s->next_etag;
}

static void s_store_init(s_store *s, ak_audit_store *st) {
    memset(s, 0, sizeof(*s));
    memset(st, 0, sizeof(*st));
    st->ud = s;
    st->n_lanes = 1;
    st->list = s_list;
    st->get = s_get;
    st->put = s_put;
}

static void s_store_free(s_store *s) {
    for (size_t i = 0; i < s->n; i++)
        ak_buf_free(&s->o[i].body);
}

/* ---- scripted chain ---- */

typedef struct {
    bool is_master;
    uint8_t roots[8][32];
    size_t n_roots;
    uint8_t pending_root[32];
    int sends;
    char tx_hash[67];
} s_node;

static void s_word_hex(char *out, const uint8_t w[32]) {
    out[0] = '0';
    out[1] = 'x';
    ak_hex_encode(w, 32, out + 2);
}

static bool s_is(const char *sig, const uint8_t *data) {
    uint8_t sel[4];
    if (ak_abi_selector(sig, sel, NULL) != AK_OK) fail_msg("selector %s", sig);
    return memcmp(sel, data, 4) == 0;
}

static ak_err s_transport(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    (void)deadline_ms;
    s_node *n = ctx;
    json_t *req = NULL;
    if (ak_json_parse_object(request, &req) != AK_OK) fail_msg("request is not JSON");
    const char *m = json_string_value(json_object_get(req, "method"));
    json_int_t id = json_integer_value(json_object_get(req, "id"));
    json_t *params = json_object_get(req, "params");
    char member[1200];
    if (strcmp(m, "eth_chainId") == 0) {
        snprintf(member, sizeof(member), "\"result\":\"0x7a69\"");
    } else if (strcmp(m, "eth_call") == 0) {
        const char *data = json_string_value(json_object_get(json_array_get(params, 0), "data"));
        ak_buf d;
        ak_buf_init(&d, 4096);
        if (ak_hex_decode_buf(ak_cur_from_str(data), true, &d) != AK_OK || d.len < 4) fail_msg("call data");
        uint8_t w[32] = {0};
        char h[67], h2[67];
        if (s_is("registry()", d.ptr)) {
            memset(w + 12, 0xaa, 20);
            s_word_hex(h, w);
            snprintf(member, sizeof(member), "\"result\":\"%s\"", h);
        } else if (s_is("isMasterWallet(bytes32,address)", d.ptr)) {
            w[31] = n->is_master;
            s_word_hex(h, w);
            snprintf(member, sizeof(member), "\"result\":\"%s\"", h);
        } else if (s_is("rootCount(bytes32)", d.ptr)) {
            w[31] = (uint8_t)n->n_roots;
            s_word_hex(h, w);
            snprintf(member, sizeof(member), "\"result\":\"%s\"", h);
        } else if (s_is("getRoot(bytes32,uint256)", d.ptr)) {
            size_t i = d.ptr[4 + 32 + 31];
            if (i >= n->n_roots) fail_msg("getRoot out of range");
            s_word_hex(h, n->roots[i]);
            w[31] = 3;
            s_word_hex(h2, w);
            snprintf(member, sizeof(member), "\"result\":\"%s%s%s\"", h, h2 + 2, h2 + 2);
        } else {
            fail_msg("unexpected eth_call");
        }
        ak_buf_free(&d);
    } else if (strcmp(m, "eth_estimateGas") == 0) {
        const char *data = json_string_value(json_object_get(json_array_get(params, 0), "data"));
        ak_buf d;
        ak_buf_init(&d, 4096);
        if (ak_hex_decode_buf(ak_cur_from_str(data), true, &d) != AK_OK || d.len != 4 + 96)
            fail_msg("appendRoot data");
        memcpy(n->pending_root, d.ptr + 4 + 32, 32);
        ak_buf_free(&d);
        snprintf(member, sizeof(member), "\"result\":\"0x1d4c0\"");
    } else if (strcmp(m, "eth_getTransactionCount") == 0) {
        snprintf(member, sizeof(member), "\"result\":\"0x%x\"", n->sends);
    } else if (strcmp(m, "eth_gasPrice") == 0) {
        snprintf(member, sizeof(member), "\"result\":\"0x3b9aca00\"");
    } else if (strcmp(m, "eth_sendRawTransaction") == 0) {
        const char *raw = json_string_value(json_array_get(params, 0));
        ak_buf b;
        ak_buf_init(&b, 1u << 16);
        if (ak_hex_decode_buf(ak_cur_from_str(raw), true, &b) != AK_OK) fail_msg("raw");
        uint8_t hh[32];
        ak_keccak256(b.ptr, b.len, hh);
        ak_buf_free(&b);
        s_word_hex(n->tx_hash, hh);
        memcpy(n->roots[n->n_roots++], n->pending_root, 32); /* mined at once */
        n->sends++;
        snprintf(member, sizeof(member), "\"result\":\"%s\"", n->tx_hash);
    } else if (strcmp(m, "eth_getTransactionReceipt") == 0) {
        snprintf(member, sizeof(member),
                 "\"result\":{\"transactionHash\":\"%s\",\"blockHash\":\"0x%064d\",\"blockNumber\":\"0x5\","
                 "\"gasUsed\":\"0x1d4c0\",\"status\":\"0x1\",\"contractAddress\":null,\"logs\":[]}",
                 n->tx_hash, 1);
    } else {
        fail_msg("unexpected method %s", m);
    }
    json_decref(req);
    *status = 200;
    return ak_buf_printf(body, "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}", (long long)id, member);
}

typedef struct {
    int by_status[8];
} s_seen;

static void s_report(void *ud, const ak_audit_anchor_item *it) {
    s_seen *s = ud;
    s->by_status[it->status]++;
}

static void s_setup(ak_evm_rpc *rpc, s_node *n, ak_audit_anchor_cfg *cfg, const ak_audit_store *st,
                    uint8_t key[32], s_seen *seen) {
    ak_evm_rpc_init(rpc, NULL, "http://unused.invalid/");
    rpc->transport = s_transport;
    rpc->transport_ctx = n;
    memset(cfg, 0, sizeof(*cfg));
    memset(key, 0x46, 32);
    cfg->rpc = rpc;
    cfg->st = st;
    memset(cfg->audit, 0x35, 20);
    cfg->key = key;
    memset(cfg->op.b, 0x77, 32);
    cfg->report = s_report;
    cfg->report_ud = seen;
}

AK_TEST(test_anchor_then_skip) {
    s_store s;
    ak_audit_store st;
    s_store_init(&s, &st);
    s_node n = {.is_master = true};
    ak_evm_rpc rpc;
    ak_audit_anchor_cfg cfg;
    uint8_t key[32], r0[32], r1[32];
    s_seen seen = {0};
    s_setup(&rpc, &n, &cfg, &st, key, &seen);
    s_add_batch(&s, &cfg.op, 0, r0);
    s_add_batch(&s, &cfg.op, 1, r1);
    ak_audit_anchor_stats stats;
    EXPECT_OK(ak_audit_anchor(&cfg, &stats));
    EXPECT_INT_EQ(stats.batches, 2);
    EXPECT_INT_EQ(stats.anchored, 2);
    EXPECT_INT_EQ(stats.gas_used, 2 * 0x1d4c0);
    EXPECT_INT_EQ(n.sends, 2);
    EXPECT_INT_EQ(s.puts, 2);
    EXPECT_BYTES_EQ(n.roots[0], 32, r0, 32);
    EXPECT_STR_EQ(s.o[0].meta, "0");
    EXPECT_STR_EQ(s.o[1].meta, "1");
    json_t *b = NULL;
    uint64_t idx = 9;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&s.o[1].body), &b));
    EXPECT_OK(ak_json_u64(json_object_get(b, "anchor"), "root_index", &idx));
    EXPECT_INT_EQ(idx, 1);
    json_decref(b);
    /* a second pass only skips */
    EXPECT_OK(ak_audit_anchor(&cfg, &stats));
    EXPECT_INT_EQ(stats.skipped, 2);
    EXPECT_INT_EQ(stats.anchored, 0);
    EXPECT_INT_EQ(n.sends, 2);
    EXPECT_INT_EQ(s.puts, 2);
    EXPECT_INT_EQ(seen.by_status[AK_ANCHOR_SKIPPED], 2);
    ak_evm_rpc_free(&rpc);
    s_store_free(&s);
}

AK_TEST(test_on_chain_but_unrecorded_is_only_recorded) {
    s_store s;
    ak_audit_store st;
    s_store_init(&s, &st);
    s_node n = {.is_master = true};
    ak_evm_rpc rpc;
    ak_audit_anchor_cfg cfg;
    uint8_t key[32], r0[32];
    s_seen seen = {0};
    s_setup(&rpc, &n, &cfg, &st, key, &seen);
    s_add_batch(&s, &cfg.op, 0, r0);
    memcpy(n.roots[n.n_roots++], r0, 32); /* a previous run died after the transaction */
    ak_audit_anchor_stats stats;
    EXPECT_OK(ak_audit_anchor(&cfg, &stats));
    EXPECT_INT_EQ(stats.recorded, 1);
    EXPECT_INT_EQ(n.sends, 0);
    EXPECT_INT_EQ(s.puts, 1);
    EXPECT_STR_EQ(s.o[0].meta, "0");
    ak_evm_rpc_free(&rpc);
    s_store_free(&s);
}

AK_TEST(test_dry_run_and_not_master) {
    s_store s;
    ak_audit_store st;
    s_store_init(&s, &st);
    s_node n = {.is_master = true};
    ak_evm_rpc rpc;
    ak_audit_anchor_cfg cfg;
    uint8_t key[32], r0[32];
    s_seen seen = {0};
    s_setup(&rpc, &n, &cfg, &st, key, &seen);
    s_add_batch(&s, &cfg.op, 0, r0);
    cfg.dry_run = true;
    ak_audit_anchor_stats stats;
    EXPECT_OK(ak_audit_anchor(&cfg, &stats));
    EXPECT_INT_EQ(stats.would, 1);
    EXPECT_INT_EQ(n.sends, 0);
    EXPECT_INT_EQ(s.puts, 0);
    n.is_master = false;
    cfg.dry_run = false;
    int lists = s.lists;
    EXPECT_ERR(AK_E_FORBIDDEN, ak_audit_anchor(&cfg, &stats));
    EXPECT_INT_EQ(s.lists, lists);
    EXPECT_INT_EQ(n.sends, 0);
    ak_evm_rpc_free(&rpc);
    s_store_free(&s);
}

AK_TEST(test_foreign_write_fails_the_record) {
    s_store s;
    ak_audit_store st;
    s_store_init(&s, &st);
    s_node n = {.is_master = true};
    ak_evm_rpc rpc;
    ak_audit_anchor_cfg cfg;
    uint8_t key[32], r0[32];
    s_seen seen = {0};
    s_setup(&rpc, &n, &cfg, &st, key, &seen);
    s_add_batch(&s, &cfg.op, 0, r0);
    s.break_etag = true;
    ak_audit_anchor_stats stats;
    EXPECT_OK(ak_audit_anchor(&cfg, &stats));
    EXPECT_INT_EQ(stats.failed, 1);
    EXPECT_INT_EQ(seen.by_status[AK_ANCHOR_FAILED], 1);
    EXPECT_INT_EQ(n.sends, 1); /* anchored on chain; the next pass records it */
    s.break_etag = false;
    EXPECT_OK(ak_audit_anchor(&cfg, &stats));
    EXPECT_INT_EQ(stats.recorded, 1);
    EXPECT_INT_EQ(n.sends, 1);
    ak_evm_rpc_free(&rpc);
    s_store_free(&s);
}

AK_RUN_TESTS(AK_T(test_anchor_then_skip), AK_T(test_on_chain_but_unrecorded_is_only_recorded),
             AK_T(test_dry_run_and_not_master), AK_T(test_foreign_write_fails_the_record))
