/*
 * audit_anchor.c — one anchoring pass over an operator's audit batches (ak/audit_anchor.h),
 * moved here from shared/tools/audit-anchor.c.
 */
#include "ak/audit_anchor.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/http.h"
#include "ak/json.h"

#define S_MAX_BATCHES 100000u
#define S_MAX_ROOTS 10000000u

typedef struct s_roots {
    uint8_t (*r)[32];
    size_t n;
} s_roots;

/* All anchored roots of `op` (getRoot returns (bytes32 root, uint64 count, uint64 ts)). */
static ak_err s_load_roots(ak_evm_rpc *rpc, const uint8_t audit[20], const ak_omni *op, s_roots *out) {
    ak_buf ret;
    ak_buf_init(&ret, 4096);
    ak_err rc = AK_OK;
    ak_abi_val a1[] = {ak_abi_bytes32(op->b)};
    AK_GUARD_OUT(ak_chain_call(rpc, NULL, audit, "rootCount(bytes32)", a1, 1, &ret, NULL, 0));
    ak_abi_dec d;
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    uint64_t n = 0;
    AK_ENSURE_OUT(ak_abi_dec_u64(&d, 256, &n) == AK_OK, AK_E_CHAIN_RPC);
    AK_ENSURE_OUT(n < S_MAX_ROOTS, AK_E_LIMIT);
    ak_free(out->r);
    out->r = ak_malloc((n ? n : 1) * 32);
    AK_ENSURE_OUT(out->r != NULL, AK_E_NOMEM);
    out->n = 0;
    for (uint64_t i = 0; i < n; i++) {
        ak_buf_clear(&ret);
        ak_abi_val a2[] = {ak_abi_bytes32(op->b), ak_abi_u64(i)};
        AK_GUARD_OUT(ak_chain_call(rpc, NULL, audit, "getRoot(bytes32,uint256)", a2, 2, &ret, NULL, 0));
        ak_abi_dec_init(&d, ak_buf_cur(&ret));
        AK_ENSURE_OUT(ak_abi_dec_bytes32(&d, out->r[i]) == AK_OK, AK_E_CHAIN_RPC);
        out->n++;
    }
out:
    ak_buf_free(&ret);
    return rc;
}

static bool s_find_root(const s_roots *rs, const uint8_t root[32], uint64_t *idx) {
    for (size_t i = rs->n; i-- > 0;)
        if (memcmp(rs->r[i], root, 32) == 0) {
            *idx = i;
            return true;
        }
    return false;
}

typedef struct s_list {
    char **keys;
    size_t n;
} s_list;

static ak_err s_list_cb(void *ud, const ak_s3_list_item *it) {
    s_list *l = ud;
    AK_ENSURE(l->n < S_MAX_BATCHES, AK_E_LIMIT);
    if (it->is_prefix || it->key.len < 5 ||
        !ak_cur_eq(ak_cur_from(it->key.ptr + it->key.len - 5, 5), AK_CUR_LIT(".json")))
        return AK_OK;
    if (l->n % 256 == 0) {
        char **nk = ak_realloc(l->keys, (l->n + 256) * sizeof(char *));
        AK_ENSURE(nk != NULL, AK_E_NOMEM);
        l->keys = nk;
    }
    l->keys[l->n] = ak_strndup((const char *)it->key.ptr, it->key.len);
    AK_ENSURE(l->keys[l->n] != NULL, AK_E_NOMEM);
    l->n++;
    return AK_OK;
}

typedef struct s_ctx {
    const ak_audit_anchor_cfg *cfg;
    uint64_t chain_id;
    s_roots roots;
} s_ctx;

/* Records root_index (and the tx) in the batch object, conditional on the ETag we read. */
static ak_err s_record(s_ctx *c, const char *key, json_t *batch, ak_cur etag, uint64_t idx,
                       const char *tx_hex) {
    char audit_hex[43];
    ak_eth_address_hex(c->cfg->audit, audit_hex);
    json_t *a = json_pack("{s:I, s:s, s:I, s:s}", "root_index", (json_int_t)idx, "tx", tx_hex, "chain_id",
                          (json_int_t)c->chain_id, "contract", audit_hex);
    AK_ENSURE(a != NULL, AK_E_NOMEM);
    if (json_object_set_new(batch, "anchor", a) != 0) return AK_E_NOMEM;
    ak_buf body;
    ak_buf_init(&body, AK_AUDIT_BATCH_MAX_BYTES);
    char v[24];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)idx);
    ak_s3_meta meta[] = {{AK_AUDIT_META_ROOT_INDEX, ak_cur_from_str(v)}};
    ak_err rc = ak_json_dump(batch, &body);
    if (rc == AK_OK)
        rc = c->cfg->st->put(c->cfg->st->ud, 0, ak_cur_from_str(key), ak_buf_cur(&body), false, etag, meta, 1,
                             NULL, ak_http_now_ms() + 60000);
    ak_buf_free(&body);
    return rc;
}

static ak_err s_one(s_ctx *c, const char *key, ak_audit_anchor_item *it) {
    const ak_audit_anchor_cfg *cfg = c->cfg;
    ak_buf body, etag;
    ak_buf_init(&body, AK_AUDIT_BATCH_MAX_BYTES);
    ak_buf_init(&etag, 256);
    json_t *b = NULL;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(cfg->st->get(cfg->st->ud, 0, ak_cur_from_str(key), AK_AUDIT_BATCH_MAX_BYTES, &body, &etag,
                              ak_http_now_ms() + 60000));
    ak_cur root_hex;
    uint8_t root[32];
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&body), &b) == AK_OK &&
                      ak_json_str(b, "root", &root_hex) == AK_OK &&
                      ak_hex_decode_exact(root_hex, true, root, 32) == AK_OK &&
                      ak_json_u64(b, "count", &it->count) == AK_OK && it->count > 0,
                  AK_E_INVALID_INPUT);
    json_t *anchor = json_object_get(b, "anchor");
    if (json_is_object(anchor)) {
        uint64_t have = 0;
        AK_ENSURE_OUT(ak_json_u64(anchor, "root_index", &have) == AK_OK, AK_E_INVALID_INPUT);
        if (have < c->roots.n && memcmp(c->roots.r[have], root, 32) == 0) {
            it->status = AK_ANCHOR_SKIPPED;
            it->root_index = have;
            goto out;
        }
        /* the recorded index names another root on chain (or none): anchor it again */
    }
    char tx_hex[67] = "";
    if (s_find_root(&c->roots, root, &it->root_index)) {
        it->status = AK_ANCHOR_RECORDED;
    } else {
        if (cfg->dry_run) {
            it->status = AK_ANCHOR_WOULD;
            goto out;
        }
        ak_buf cd;
        ak_buf_init(&cd, 4096);
        ak_abi_val args[] = {ak_abi_bytes32(cfg->op.b), ak_abi_bytes32(root), ak_abi_uint(64, it->count)};
        rc = ak_abi_encode_call("appendRoot(bytes32,bytes32,uint64)", args, 3, &cd);
        ak_chain_send_opts so = {
            .wait_ms = 120000, .poll_ms = 200, .progress = cfg->progress, .progress_ud = cfg->progress_ud};
        if (rc == AK_OK) rc = ak_chain_send(cfg->rpc, cfg->key, cfg->audit, ak_buf_cur(&cd), &so, &it->tx);
        ak_buf_free(&cd);
        AK_GUARD_OUT(rc);
        tx_hex[0] = '0';
        tx_hex[1] = 'x';
        ak_hex_encode(it->tx.tx_hash, 32, tx_hex + 2);
        AK_GUARD_OUT(s_load_roots(cfg->rpc, cfg->audit, &cfg->op, &c->roots));
        AK_ENSURE_OUT(s_find_root(&c->roots, root, &it->root_index), AK_E_CHAIN_RPC);
        it->status = AK_ANCHOR_ANCHORED;
    }
    AK_GUARD_OUT(s_record(c, key, b, ak_buf_cur(&etag), it->root_index, tx_hex));
out:
    json_decref(b);
    ak_buf_free(&body);
    ak_buf_free(&etag);
    return rc;
}

static ak_err s_is_master(const ak_audit_anchor_cfg *cfg, const uint8_t from[20]) {
    ak_buf ret;
    ak_buf_init(&ret, 256);
    uint8_t reg[20];
    bool is_master = false;
    ak_abi_dec d;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(ak_chain_call(cfg->rpc, NULL, cfg->audit, "registry()", NULL, 0, &ret, NULL, 0));
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    AK_ENSURE_OUT(ak_abi_dec_address(&d, reg) == AK_OK, AK_E_CHAIN_RPC);
    ak_buf_clear(&ret);
    ak_abi_val args[] = {ak_abi_bytes32(cfg->op.b), ak_abi_address(from)};
    AK_GUARD_OUT(
        ak_chain_call(cfg->rpc, NULL, reg, "isMasterWallet(bytes32,address)", args, 2, &ret, NULL, 0));
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    AK_ENSURE_OUT(ak_abi_dec_bool(&d, &is_master) == AK_OK, AK_E_CHAIN_RPC);
    rc = is_master ? AK_OK : AK_E_FORBIDDEN;
out:
    ak_buf_free(&ret);
    return rc;
}

ak_err ak_audit_anchor(const ak_audit_anchor_cfg *cfg, ak_audit_anchor_stats *stats) {
    memset(stats, 0, sizeof(*stats));
    s_ctx c = {.cfg = cfg};
    s_list l = {0};
    ak_buf prefix;
    ak_buf_init(&prefix, 256);
    ak_err rc = AK_OK;
    uint8_t pub[65], from[20];
    AK_GUARD_OUT(ak_secp256k1_pubkey(cfg->key, pub));
    ak_eth_address_from_pub(pub, from);
    AK_GUARD_OUT(ak_eth_chain_id(cfg->rpc, &c.chain_id));
    AK_GUARD_OUT(s_is_master(cfg, from));
    AK_GUARD_OUT(s_load_roots(cfg->rpc, cfg->audit, &cfg->op, &c.roots));
    AK_GUARD_OUT(ak_audit_batch_prefix(&cfg->op, &prefix));
    AK_GUARD_OUT(cfg->st->list(cfg->st->ud, ak_buf_cur(&prefix), s_list_cb, &l, ak_http_now_ms() + 60000));
    for (size_t i = 0; i < l.n; i++) {
        ak_audit_anchor_item it;
        memset(&it, 0, sizeof(it));
        it.key = ak_cur_from_str(l.keys[i]);
        it.err = s_one(&c, l.keys[i], &it);
        if (it.err != AK_OK) it.status = AK_ANCHOR_FAILED;
        stats->batches++;
        switch (it.status) {
            case AK_ANCHOR_SKIPPED:
                stats->skipped++;
                break;
            case AK_ANCHOR_RECORDED:
                stats->recorded++;
                break;
            case AK_ANCHOR_WOULD:
                stats->would++;
                break;
            case AK_ANCHOR_ANCHORED:
                stats->anchored++;
                stats->gas_used += it.tx.receipt.gas_used;
                break;
            default:
                stats->failed++;
                break;
        }
        if (cfg->report != NULL) cfg->report(cfg->report_ud, &it);
    }
out:
    for (size_t i = 0; i < l.n; i++)
        ak_free(l.keys[i]);
    ak_free(l.keys);
    ak_free(c.roots.r);
    ak_buf_free(&prefix);
    return rc;
}
