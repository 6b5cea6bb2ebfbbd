/*
 * audit-anchor — operator tooling (D12: anchoring is signed by the operator's master wallet,
 * never by a Lambda). For every batch object of the operator that is not anchored yet, sends
 * CredentialAudit.appendRoot(op, root, count) from the master wallet (transaction signed here
 * with ak/evm.h) and records the root index in the batch object: member "anchor"
 * {"root_index","tx","chain_id","contract"} plus metadata x-amz-meta-ak-root-index, rewritten
 * with If-Match on the ETag it read (unquoted: ak_s3_put strips the quotes RGW rejects).
 *
 * Idempotent: before sending, the operator's anchored roots are read from the chain
 * (rootCount/getRoot); a batch whose root is already there (e.g. a previous run died between
 * the transaction and the S3 rewrite) only gets its index recorded. A batch that already
 * records an index is checked against the chain and skipped.
 *
 *   audit-anchor [--operator 0x<64 hex>] [--dry-run]
 *
 * Environment: AK_OPERATOR_KEY (0x + 64 hex: the master wallet's secp256k1 key; read from the
 * environment, never argv), AK_RPC_URL (or AK_CHAIN_RPC_URL), AK_AUDIT_ADDRESS,
 * AK_AUDIT_BUCKET, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY[, AWS_SESSION_TOKEN],
 * AK_S3_ENDPOINT (local). The operator defaults to omni(wallet) (its first master); pass
 * --operator when the wallet is an additional master. Prints one line per batch; exit 0 when
 * every batch is anchored, 1 on any error, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ak/abi.h"
#include "ak/alloc.h"
#include "ak/audit_flush.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/evm.h"
#include "ak/http.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/s3.h"

#define S_MAX_BATCHES 100000u

typedef struct s_roots {
    uint8_t (*r)[32];
    size_t n;
} s_roots;

static int s_usage(void) {
    fprintf(
        stderr,
        "usage: audit-anchor [--operator 0x<64 hex>] [--dry-run]   (env: see shared/tools/audit-anchor.c)\n");
    return 2;
}

static const char *s_env(const char *a, const char *b) {
    const char *v = getenv(a);
    if ((v == NULL || v[0] == 0) && b != NULL) v = getenv(b);
    return (v && v[0]) ? v : NULL;
}

static ak_err s_call(ak_evm_rpc *rpc, const uint8_t to[20], const char *sig, const ak_abi_val *args, size_t n,
                     ak_buf *ret) {
    ak_buf cd;
    ak_buf_init(&cd, 4096);
    ak_err rc = ak_abi_encode_call(sig, args, n, &cd);
    if (rc == AK_OK) rc = ak_eth_call(rpc, to, ak_buf_cur(&cd), "latest", ret);
    ak_buf_free(&cd);
    return rc;
}

/* All anchored roots of `op` (getRoot returns (bytes32 root, uint64 count, uint64 ts)). */
static ak_err s_load_roots(ak_evm_rpc *rpc, const uint8_t audit[20], const ak_omni *op, s_roots *out) {
    ak_buf ret;
    ak_buf_init(&ret, 4096);
    ak_err rc = AK_OK;
    ak_abi_val a1[] = {ak_abi_bytes32(op->b)};
    AK_GUARD_OUT(s_call(rpc, audit, "rootCount(bytes32)", a1, 1, &ret));
    ak_abi_dec d;
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    uint64_t n = 0;
    AK_GUARD_OUT(ak_abi_dec_u64(&d, 256, &n));
    AK_ENSURE_OUT(n < 10000000, AK_E_LIMIT);
    ak_free(out->r);
    out->r = ak_malloc((n ? n : 1) * 32);
    AK_ENSURE_OUT(out->r != NULL, AK_E_NOMEM);
    out->n = 0;
    for (uint64_t i = 0; i < n; i++) {
        ak_buf_clear(&ret);
        ak_abi_val a2[] = {ak_abi_bytes32(op->b), ak_abi_u64(i)};
        AK_GUARD_OUT(s_call(rpc, audit, "getRoot(bytes32,uint256)", a2, 2, &ret));
        ak_abi_dec_init(&d, ak_buf_cur(&ret));
        AK_GUARD_OUT(ak_abi_dec_bytes32(&d, out->r[i]));
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
    if (!ak_cur_eq(ak_cur_from(it->key.ptr + it->key.len - 5, 5), AK_CUR_LIT(".json"))) return AK_OK;
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
    ak_evm_rpc *rpc;
    ak_audit_store *st;
    uint8_t audit[20];
    uint8_t key[32];
    uint8_t from[20];
    ak_omni op;
    uint64_t chain_id;
    s_roots roots;
    bool dry;
} s_ctx;

/* appendRoot from the master wallet; waits for the receipt. */
static ak_err s_append_root(s_ctx *c, const uint8_t root[32], uint64_t count, uint8_t tx_hash[32]) {
    ak_buf cd, raw;
    ak_buf_init(&cd, 4096);
    ak_buf_init(&raw, 8192);
    ak_err rc = AK_OK;
    ak_abi_val args[] = {ak_abi_bytes32(c->op.b), ak_abi_bytes32(root), ak_abi_uint(64, count)};
    AK_GUARD_OUT(ak_abi_encode_call("appendRoot(bytes32,bytes32,uint64)", args, 3, &cd));
    ak_eth_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.type = AK_ETH_TX_LEGACY;
    tx.chain_id = c->chain_id;
    AK_GUARD_OUT(ak_eth_get_transaction_count(c->rpc, c->from, "pending", &tx.nonce));
    AK_GUARD_OUT(ak_eth_gas_price(c->rpc, &tx.gas_price));
    /* appendRoot: registry.isMasterWallet + two new storage slots + totalEntries + an event:
     * ~120k gas; 250k leaves room without an estimate round trip. */
    tx.gas_limit = 250000;
    tx.has_to = true;
    memcpy(tx.to, c->audit, 20);
    tx.data = ak_buf_cur(&cd);
    uint8_t sent[32];
    AK_GUARD_OUT(ak_eth_tx_sign(&tx, c->key, &raw, tx_hash));
    AK_GUARD_OUT(ak_eth_send_raw_transaction(c->rpc, ak_buf_cur(&raw), sent));
    ak_eth_receipt r;
    AK_GUARD_OUT(ak_eth_wait_receipt(c->rpc, sent, ak_http_now_ms() + 120000, 200, &r));
    AK_ENSURE_OUT(r.success, AK_E_CHAIN_RPC);
out:
    ak_buf_free(&cd);
    ak_buf_free(&raw);
    return rc;
}

/* Records root_index (and the tx) in the batch object, conditional on the ETag we read. */
static ak_err s_record(s_ctx *c, const char *key, json_t *batch, ak_cur etag, uint64_t idx,
                       const char *tx_hex) {
    char audit_hex[43];
    ak_eth_address_hex(c->audit, audit_hex);
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
        rc = c->st->put(c->st->ud, 0, ak_cur_from_str(key), ak_buf_cur(&body), false, etag, meta, 1, NULL,
                        ak_http_now_ms() + 60000);
    ak_buf_free(&body);
    return rc;
}

static ak_err s_one(s_ctx *c, const char *key) {
    ak_buf body, etag;
    ak_buf_init(&body, AK_AUDIT_BATCH_MAX_BYTES);
    ak_buf_init(&etag, 256);
    json_t *b = NULL;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(c->st->get(c->st->ud, 0, ak_cur_from_str(key), AK_AUDIT_BATCH_MAX_BYTES, &body, &etag,
                            ak_http_now_ms() + 60000));
    ak_cur root_hex;
    uint64_t count = 0;
    uint8_t root[32];
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&body), &b) == AK_OK &&
                      ak_json_str(b, "root", &root_hex) == AK_OK &&
                      ak_hex_decode_exact(root_hex, true, root, 32) == AK_OK &&
                      ak_json_u64(b, "count", &count) == AK_OK && count > 0,
                  AK_E_INVALID_INPUT);
    uint64_t idx = 0;
    json_t *anchor = json_object_get(b, "anchor");
    if (json_is_object(anchor)) {
        uint64_t have = 0;
        AK_ENSURE_OUT(ak_json_u64(anchor, "root_index", &have) == AK_OK, AK_E_INVALID_INPUT);
        if (have < c->roots.n && memcmp(c->roots.r[have], root, 32) == 0) {
            printf("skip %s root_index=%llu (already anchored)\n", key, (unsigned long long)have);
            goto out;
        }
        fprintf(stderr, "audit-anchor: %s records root_index %llu but the chain disagrees; re-anchoring\n",
                key, (unsigned long long)have);
    }
    char tx_hex[67] = "";
    if (s_find_root(&c->roots, root, &idx)) {
        printf("found %s root_index=%llu (on chain already; recording)\n", key, (unsigned long long)idx);
    } else {
        if (c->dry) {
            printf("would anchor %s count=%llu\n", key, (unsigned long long)count);
            goto out;
        }
        uint8_t h[32];
        AK_GUARD_OUT(s_append_root(c, root, count, h));
        tx_hex[0] = '0';
        tx_hex[1] = 'x';
        ak_hex_encode(h, 32, tx_hex + 2);
        AK_GUARD_OUT(s_load_roots(c->rpc, c->audit, &c->op, &c->roots));
        AK_ENSURE_OUT(s_find_root(&c->roots, root, &idx), AK_E_CHAIN_RPC);
        printf("anchored %s root_index=%llu tx=%s\n", key, (unsigned long long)idx, tx_hex);
    }
    if (!c->dry) AK_GUARD_OUT(s_record(c, key, b, ak_buf_cur(&etag), idx, tx_hex));
out:
    json_decref(b);
    ak_buf_free(&body);
    ak_buf_free(&etag);
    return rc;
}

int main(int argc, char **argv) {
    ak_alloc_install_jansson();
    const char *op_arg = NULL;
    bool dry = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--operator") == 0 && i + 1 < argc)
            op_arg = argv[++i];
        else if (strcmp(argv[i], "--dry-run") == 0)
            dry = true;
        else
            return s_usage();
    }
    const char *key_hex = s_env("AK_OPERATOR_KEY", NULL), *rpc_url = s_env("AK_RPC_URL", "AK_CHAIN_RPC_URL"),
               *audit_addr = s_env("AK_AUDIT_ADDRESS", NULL), *bucket = s_env("AK_AUDIT_BUCKET", NULL);
    if (!key_hex || !rpc_url || !audit_addr || !bucket) {
        fprintf(stderr, "audit-anchor: set AK_OPERATOR_KEY, AK_RPC_URL, AK_AUDIT_ADDRESS, AK_AUDIT_BUCKET\n");
        return 2;
    }
    s_ctx c;
    memset(&c, 0, sizeof(c));
    c.dry = dry;
    ak_http *http = NULL;
    ak_evm_rpc rpc;
    ak_audit_s3 s3;
    ak_audit_store st;
    memset(&s3, 0, sizeof(s3));
    ak_evm_rpc_init(&rpc, NULL, rpc_url);
    s_list l = {0};
    ak_buf prefix;
    ak_buf_init(&prefix, 256);
    int ret = 1;
    ak_err rc = AK_OK;
    const char *step = "key";
    uint8_t pub[65];
    AK_GUARD_OUT(ak_hex_decode_exact(ak_cur_from_str(key_hex), true, c.key, 32));
    AK_GUARD_OUT(ak_secp256k1_pubkey(c.key, pub));
    ak_eth_address_from_pub(pub, c.from);
    step = "--operator";
    if (op_arg)
        AK_GUARD_OUT(ak_omni_parse(ak_cur_from_str(op_arg), &c.op));
    else
        ak_omni_from_address(c.from, &c.op);
    step = "AK_AUDIT_ADDRESS";
    AK_GUARD_OUT(ak_eth_address_parse(ak_cur_from_str(audit_addr), c.audit));
    step = "http";
    ak_http_config hc = {.user_agent = "agentkeys-audit-anchor/1"};
    AK_GUARD_OUT(ak_http_new(&hc, &http));
    rpc.http = http;
    c.rpc = &rpc;
    step = "S3 config";
    ak_s3_config sc;
    ak_sigv4_creds creds;
    AK_GUARD_OUT(ak_s3_config_from_env(&sc));
    AK_GUARD_OUT(ak_s3_env_creds(&creds));
    AK_GUARD_OUT(ak_audit_s3_open(&s3, &sc, &creds, bucket, 1));
    ak_audit_s3_store(&s3, &st);
    c.st = &st;
    step = "eth_chainId";
    AK_GUARD_OUT(ak_eth_chain_id(&rpc, &c.chain_id));
    step = "isMasterWallet";
    {
        char rh[43];
        ak_eth_address_hex(c.from, rh);
        ak_buf ret_b;
        ak_buf_init(&ret_b, 256);
        ak_abi_val args[] = {ak_abi_bytes32(c.op.b), ak_abi_address(c.from)};
        rc = s_call(&rpc, c.audit, "registry()", NULL, 0, &ret_b);
        uint8_t reg[20];
        ak_abi_dec d;
        ak_abi_dec_init(&d, ak_buf_cur(&ret_b));
        if (rc == AK_OK) rc = ak_abi_dec_address(&d, reg);
        ak_buf_clear(&ret_b);
        if (rc == AK_OK) rc = s_call(&rpc, reg, "isMasterWallet(bytes32,address)", args, 2, &ret_b);
        bool is_master = false;
        ak_abi_dec_init(&d, ak_buf_cur(&ret_b));
        if (rc == AK_OK) rc = ak_abi_dec_bool(&d, &is_master);
        ak_buf_free(&ret_b);
        if (rc != AK_OK) goto out;
        if (!is_master) {
            fprintf(stderr, "audit-anchor: %s is not an active master wallet of this operator\n", rh);
            rc = AK_E_FORBIDDEN;
            goto out;
        }
    }
    step = "rootCount/getRoot";
    AK_GUARD_OUT(s_load_roots(&rpc, c.audit, &c.op, &c.roots));
    step = "list batches";
    AK_GUARD_OUT(ak_audit_batch_prefix(&c.op, &prefix));
    AK_GUARD_OUT(st.list(st.ud, ak_buf_cur(&prefix), s_list_cb, &l, ak_http_now_ms() + 60000));
    size_t errors = 0;
    for (size_t i = 0; i < l.n; i++) {
        ak_err e = s_one(&c, l.keys[i]);
        if (e != AK_OK) {
            fprintf(stderr, "audit-anchor: %s: %s", l.keys[i], ak_err_reason(e));
            if (rpc.err_msg[0]) fprintf(stderr, " (%s)", rpc.err_msg);
            fprintf(stderr, "\n");
            errors++;
        }
    }
    printf("batches: %zu, errors: %zu\n", l.n, errors);
    ret = errors ? 1 : 0;
out:
    if (rc != AK_OK)
        fprintf(stderr, "audit-anchor: %s: %s%s%s\n", step, ak_err_reason(rc), rpc.err_msg[0] ? " " : "",
                rpc.err_msg);
    for (size_t i = 0; i < l.n; i++)
        ak_free(l.keys[i]);
    ak_free(l.keys);
    ak_free(c.roots.r);
    ak_wipe(c.key, sizeof(c.key));
    ak_buf_free(&prefix);
    ak_audit_s3_close(&s3);
    ak_evm_rpc_free(&rpc);
    ak_http_free(http);
    return ret;
}
