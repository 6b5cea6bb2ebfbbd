/*
 * evm_test.c — transaction signing against published vectors, and the JSON-RPC client against a
 * scripted transport (no network): result parsing, error objects (not retried), reverts with
 * data, HTTP/transport failures, malformed responses, receipts and the bounded wait, and the
 * typed contract reads (getDevice, isServiceInScope, currentEpoch).
 */
#include "test.h"

#include "ak/crypto.h"
#include "ak/evm.h"
#include "ak/json.h"

static void s_hex(const char *hex, ak_buf *out) {
    if (ak_hex_decode_buf(ak_cur_from_str(hex), true, out) != AK_OK) fail_msg("bad hex");
}

/* ---- transactions ---- */

/*
 * EIP-155 "Example": nonce 9, gasprice 20 * 10**9, startgas 21000, to 0x3535…35, value 10**18,
 * data '', chain id 1, private key 0x4646…46. Signing data, signing hash and the signed
 * transaction are quoted from EIP-155.
 */
AK_TEST(test_eip155_spec_example) {
    ak_eth_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.type = AK_ETH_TX_LEGACY;
    tx.chain_id = 1;
    tx.nonce = 9;
    tx.gas_price = ak_u256_from_u64(20000000000ULL);
    tx.gas_limit = 21000;
    tx.has_to = true;
    memset(tx.to, 0x35, 20);
    tx.value = ak_u256_from_u64(1000000000000000000ULL);
    uint8_t key[32];
    memset(key, 0x46, 32);

    uint8_t digest[32], want_digest[32];
    EXPECT_OK(ak_eth_tx_sighash(&tx, digest));
    EXPECT_OK(
        ak_hex_decode_exact(AK_CUR_LIT("daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"),
                            false, want_digest, 32));
    EXPECT_BYTES_EQ(digest, 32, want_digest, 32);

    ak_buf raw, want;
    ak_buf_init(&raw, 4096);
    ak_buf_init(&want, 4096);
    uint8_t h[32], hh[32];
    EXPECT_OK(ak_eth_tx_sign(&tx, key, &raw, h));
    s_hex("0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61"
          "340bd939bc"
          "2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b"
          "297fb196"
          "6a3b6d83",
          &want);
    EXPECT_BYTES_EQ(raw.ptr, raw.len, want.ptr, want.len);
    ak_keccak256(raw.ptr, raw.len, hh);
    EXPECT_BYTES_EQ(h, 32, hh, 32);
    ak_buf_free(&raw);
    ak_buf_free(&want);
}

/*
 * EIP-1559 (type 2): same parties, max priority fee 2 gwei, max fee 30 gwei. Expected bytes from
 * an independent implementation: `cast mktx --private-key 0x4646…46 --chain 1 --nonce 9
 * --gas-limit 21000 --priority-gas-price 2000000000 --gas-price 30000000000 --value 10^18
 * 0x3535…35` (foundry cast 1.7.1). The signer address must also recover from the signature.
 */
AK_TEST(test_eip1559_vs_cast) {
    ak_eth_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.type = AK_ETH_TX_EIP1559;
    tx.chain_id = 1;
    tx.nonce = 9;
    tx.max_priority_fee_per_gas = ak_u256_from_u64(2000000000ULL);
    tx.max_fee_per_gas = ak_u256_from_u64(30000000000ULL);
    tx.gas_limit = 21000;
    tx.has_to = true;
    memset(tx.to, 0x35, 20);
    tx.value = ak_u256_from_u64(1000000000000000000ULL);
    uint8_t key[32];
    memset(key, 0x46, 32);
    ak_buf raw, want;
    ak_buf_init(&raw, 4096);
    ak_buf_init(&want, 4096);
    EXPECT_OK(ak_eth_tx_sign(&tx, key, &raw, NULL));
    s_hex("0x02f873010984773594008506fc23ac00825208943535353535353535353535353535353535353535880de0b6b3a76400"
          "0080c080a0"
          "2b03b67e070f45175ce9d07c4512720168bd468a24edb6997977a53d48c87a12a0733d775fdd689d306e08ac8ab399f34b"
          "5a0253b4"
          "7ed81b8bf2d2a6ea607fcac7",
          &want);
    EXPECT_BYTES_EQ(raw.ptr, raw.len, want.ptr, want.len);

    /* recover the sender from (sighash, r, s, yParity) */
    uint8_t digest[32], sig[65], addr[20], pub[65], want_addr[20];
    EXPECT_OK(ak_eth_tx_sighash(&tx, digest));
    /* tail: yParity (0x80 = 0, 0x01 = 1), 0xa0 r(32), 0xa0 s(32) */
    memcpy(sig, raw.ptr + raw.len - 65, 32);
    memcpy(sig + 32, raw.ptr + raw.len - 32, 32);
    sig[64] = raw.ptr[raw.len - 67] == 0x80 ? 0 : 1;
    EXPECT_OK(ak_secp256k1_recover(digest, sig, addr));
    EXPECT_OK(ak_secp256k1_pubkey(key, pub));
    ak_eth_address_from_pub(pub, want_addr);
    EXPECT_BYTES_EQ(addr, 20, want_addr, 20);
    ak_buf_free(&raw);
    ak_buf_free(&want);
}

AK_TEST(test_tx_rejects_bad_fields) {
    ak_eth_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.type = AK_ETH_TX_LEGACY;
    uint8_t key[32], d[32];
    memset(key, 0x46, 32);
    ak_buf raw;
    ak_buf_init(&raw, 4096);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_eth_tx_sighash(&tx, d)); /* chain id 0 */
    tx.chain_id = UINT64_MAX;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_eth_tx_sighash(&tx, d)); /* v would overflow */
    tx.chain_id = 1;
    tx.type = (ak_eth_tx_type)1;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_eth_tx_sign(&tx, key, &raw, NULL));
    tx.type = AK_ETH_TX_EIP1559;
    memset(key, 0, 32); /* the zero key is not a valid secp256k1 key */
    EXPECT_ERR(AK_E_BAD_KEY, ak_eth_tx_sign(&tx, key, &raw, NULL));
    EXPECT_INT_EQ(raw.len, 0);
    /* contract creation: empty `to` */
    memset(key, 0x46, 32);
    tx.has_to = false;
    EXPECT_OK(ak_eth_tx_sign(&tx, key, &raw, NULL));
    EXPECT_INT_EQ(raw.ptr[0], 0x02);
    ak_buf_free(&raw);
}

/* ---- scripted JSON-RPC transport ---- */

typedef struct {
    long status;        /* HTTP status to answer */
    ak_err err;         /* transport error instead of a response (AK_OK: none) */
    const char *member; /* "\"result\":…" or "\"error\":{…}" */
    const char *raw;    /* a raw body instead (malformed cases) */
} s_reply;

typedef struct {
    const s_reply *replies;
    size_t n, next;
    json_t *last_request;
} s_script;

static ak_err s_fake_transport(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    (void)deadline_ms;
    s_script *s = ctx;
    if (s->next >= s->n) fail_msg("unexpected extra RPC call");
    const s_reply *r = &s->replies[s->next++];
    json_decref(s->last_request);
    s->last_request = NULL;
    if (ak_json_parse_object(request, &s->last_request) != AK_OK) fail_msg("request is not JSON");
    if (r->err != AK_OK) return r->err;
    *status = r->status;
    if (r->raw != NULL) return ak_buf_append_str(body, r->raw);
    json_int_t id = json_integer_value(json_object_get(s->last_request, "id"));
    return ak_buf_printf(body, "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}", (long long)id, r->member);
}

static void s_rpc(ak_evm_rpc *rpc, s_script *s, const s_reply *replies, size_t n) {
    memset(s, 0, sizeof(*s));
    s->replies = replies;
    s->n = n;
    ak_evm_rpc_init(rpc, NULL, "http://unused.invalid/");
    rpc->transport = s_fake_transport;
    rpc->transport_ctx = s;
}

static void s_done(ak_evm_rpc *rpc, s_script *s) {
    if (s->next != s->n) fail_msg("only %zu of %zu scripted replies used", s->next, s->n);
    json_decref(s->last_request);
    ak_evm_rpc_free(rpc);
}

static const char *s_req_method(const s_script *s) {
    return json_string_value(json_object_get(s->last_request, "method"));
}

AK_TEST(test_rpc_quantities) {
    static const s_reply rs[] = {{200, AK_OK, "\"result\":\"0x7a69\"", NULL},
                                 {200, AK_OK, "\"result\":\"0x0\"", NULL},
                                 {200, AK_OK, "\"result\":\"0x10000000000000000\"", NULL},
                                 {200, AK_OK, "\"result\":\"7a69\"", NULL},
                                 {200, AK_OK, "\"result\":12", NULL}};
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, 5);
    uint64_t v = 99;
    EXPECT_OK(ak_eth_chain_id(&rpc, &v));
    EXPECT_INT_EQ(v, 31337);
    EXPECT_STR_EQ(s_req_method(&s), "eth_chainId");
    EXPECT_TRUE(json_is_array(json_object_get(s.last_request, "params")));
    EXPECT_OK(ak_eth_block_number(&rpc, &v));
    EXPECT_INT_EQ(v, 0);
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_block_number(&rpc, &v)); /* 2^64 does not fit */
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_block_number(&rpc, &v)); /* no 0x */
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_block_number(&rpc, &v)); /* a JSON number */
    s_done(&rpc, &s);

    ak_u256 q;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_eth_parse_quantity(AK_CUR_LIT("0x"), &q));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_eth_parse_quantity(AK_CUR_LIT("0xg"), &q));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_eth_parse_quantity(AK_CUR_LIT("0x-1"), &q));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_eth_parse_quantity(
                   AK_CUR_LIT("0x10000000000000000000000000000000000000000000000000000000000000000"), &q));
    EXPECT_OK(ak_eth_parse_quantity(
        AK_CUR_LIT("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), &q));
    EXPECT_OK(ak_eth_parse_quantity(AK_CUR_LIT("0xABC"), &q));
    EXPECT_INT_EQ(q.be[30], 0x0a);
    EXPECT_INT_EQ(q.be[31], 0xbc);
}

AK_TEST(test_rpc_error_object_is_not_retried) {
    static const s_reply rs[] = {
        {200, AK_OK, "\"error\":{\"code\":-32601,\"message\":\"method not found\"}", NULL}};
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, 1);
    uint64_t v;
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_chain_id(&rpc, &v));
    EXPECT_TRUE(rpc.err_code == -32601);
    EXPECT_STR_EQ(rpc.err_msg, "method not found");
    EXPECT_FALSE(rpc.reverted);
    s_done(&rpc, &s); /* exactly one call was made */
}

AK_TEST(test_rpc_revert_with_data) {
    /* Error(string) "nope": 0x08c379a0 ‖ abi.encode("nope") */
    static const s_reply rs[] = {
        {200, AK_OK,
         "\"error\":{\"code\":3,\"message\":\"execution reverted: nope\",\"data\":\"0x08c379a0"
         "0000000000000000000000000000000000000000000000000000000000000020"
         "0000000000000000000000000000000000000000000000000000000000000004"
         "6e6f706500000000000000000000000000000000000000000000000000000000\"}",
         NULL},
        {200, AK_OK, "\"error\":{\"code\":-32000,\"message\":\"execution reverted\"}", NULL},
        {200, AK_OK, "\"result\":\"0x\"", NULL}};
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, 3);
    uint8_t to[20] = {1};
    ak_buf ret;
    ak_buf_init(&ret, 4096);
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_call(&rpc, to, AK_CUR_LIT("\x76\x67\x18\x08"), NULL, &ret));
    EXPECT_TRUE(rpc.reverted);
    EXPECT_INT_EQ(rpc.revert_data.len, 4 + 96);
    EXPECT_INT_EQ(rpc.revert_data.ptr[0], 0x08);
    /* the request carried {to, data} and "latest" */
    json_t *params = json_object_get(s.last_request, "params");
    EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(params, 0), "to")),
                  "0x0100000000000000000000000000000000000000");
    EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(params, 0), "data")), "0x76671808");
    EXPECT_STR_EQ(json_string_value(json_array_get(params, 1)), "latest");
    /* a plain revert (no data) */
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_call(&rpc, to, AK_CUR_LIT("\x76\x67\x18\x08"), NULL, &ret));
    EXPECT_TRUE(rpc.reverted);
    EXPECT_INT_EQ(rpc.revert_data.len, 0);
    /* success resets the diagnostics */
    EXPECT_OK(ak_eth_call(&rpc, to, AK_CUR_LIT("\x76\x67\x18\x08"), NULL, &ret));
    EXPECT_FALSE(rpc.reverted);
    EXPECT_INT_EQ(ret.len, 0);
    ak_buf_free(&ret);
    s_done(&rpc, &s);
}

AK_TEST(test_rpc_transport_and_malformed) {
    static const s_reply rs[] = {
        {0, AK_E_UPSTREAM, NULL, NULL},
        {0, AK_E_UPSTREAM_TIMEOUT, NULL, NULL},
        {502, AK_OK, NULL, "bad gateway"},
        {200, AK_OK, NULL, "not json"},
        {200, AK_OK, NULL, "[1]"},
        {200, AK_OK, NULL, "{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":\"0x1\"}"}, /* another id */
        {200, AK_OK, NULL, "{\"id\":7,\"result\":\"0x1\"}"},                       /* no jsonrpc */
        {200, AK_OK, "\"other\":1", NULL},                                         /* neither */
        {200, AK_OK, "\"error\":\"boom\"", NULL},                                  /* error not an object */
    };
    size_t n = sizeof(rs) / sizeof(rs[0]);
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, n);
    uint64_t v;
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_chain_id(&rpc, &v));
    EXPECT_ERR(AK_E_UPSTREAM_TIMEOUT, ak_eth_chain_id(&rpc, &v));
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_chain_id(&rpc, &v));
    EXPECT_STR_EQ(rpc.err_msg, "http status 502");
    for (size_t i = 3; i < n; i++)
        EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_chain_id(&rpc, &v));
    s_done(&rpc, &s);
}

/* ---- JSON-RPC batches ---- */

typedef struct {
    const char *const *bodies; /* raw answers, one per POST */
    size_t n, next;
    long status;
    json_t *last;
} s_bscript;

static ak_err s_batch_transport(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    (void)deadline_ms;
    s_bscript *s = ctx;
    if (s->next >= s->n) fail_msg("unexpected extra RPC call");
    json_decref(s->last);
    s->last = json_loadb((const char *)request.ptr, request.len, 0, NULL);
    *status = s->status;
    return ak_buf_append_str(body, s->bodies[s->next++]);
}

static void s_brpc(ak_evm_rpc *rpc, s_bscript *s, const char *const *bodies, size_t n) {
    memset(s, 0, sizeof(*s));
    s->bodies = bodies;
    s->n = n;
    s->status = 200;
    ak_evm_rpc_init(rpc, NULL, "http://unused.invalid/");
    rpc->transport = s_batch_transport;
    rpc->transport_ctx = s;
}

/* Three calls (ids 1..3); the answers out of order, one an error object. */
static ak_err s_batch3(ak_evm_rpc *rpc, json_t *res[3], ak_err rcs[3]) {
    const char *m[3] = {"eth_chainId", "eth_blockNumber", "eth_call"};
    json_t *p[3] = {NULL, json_array(), json_pack("[s]", "x")};
    return ak_evm_rpc_batch(rpc, 3, m, p, res, rcs);
}

AK_TEST(test_rpc_batch) {
    static const char *const bodies[] = {"[{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":3,\"message\":"
                                         "\"execution reverted\",\"data\":\"0x01\"}},"
                                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x7a69\"},"
                                         "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x5\"}]"};
    ak_evm_rpc rpc;
    s_bscript s;
    s_brpc(&rpc, &s, bodies, 1);
    json_t *res[3];
    ak_err rcs[3];
    EXPECT_OK(s_batch3(&rpc, res, rcs));
    /* one POST of an array, consecutive ids, params as given ([] for NULL) */
    EXPECT_TRUE(json_is_array(s.last));
    EXPECT_INT_EQ(json_array_size(s.last), 3);
    for (size_t i = 0; i < 3; i++) {
        const json_t *el = json_array_get(s.last, i);
        EXPECT_INT_EQ(json_integer_value(json_object_get(el, "id")), (json_int_t)(i + 1));
        EXPECT_STR_EQ(json_string_value(json_object_get(el, "jsonrpc")), "2.0");
        EXPECT_TRUE(json_is_array(json_object_get(el, "params")));
    }
    EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(s.last, 2), "method")), "eth_call");
    /* matched by id, not by position */
    EXPECT_OK(rcs[0]);
    EXPECT_STR_EQ(json_string_value(res[0]), "0x7a69");
    EXPECT_OK(rcs[1]);
    EXPECT_STR_EQ(json_string_value(res[1]), "0x5");
    EXPECT_ERR(AK_E_CHAIN_RPC, rcs[2]);
    EXPECT_TRUE(res[2] == NULL);
    EXPECT_TRUE(rpc.reverted);
    EXPECT_INT_EQ(rpc.revert_data.len, 1);
    json_decref(res[0]);
    json_decref(res[1]);
    json_decref(s.last);
    ak_evm_rpc_free(&rpc);
}

AK_TEST(test_rpc_batch_malformed) {
    /* batch k carries ids 3k+1 .. 3k+3 */
    static const char *const bodies[] = {
        /* an object, not an array */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"}",
        /* no answers */
        "[]",
        /* too few */
        "[{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":\"0x1\"}"
        "]",
        /* too many */
        "[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":11,\"result\":"
        "\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":12,"
        "\"result\":\"0x1\"}]",
        /* a duplicated id (one missing) */
        "[{\"jsonrpc\":\"2.0\",\"id\":13,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":13,\"result\":"
        "\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":15,\"result\":\"0x1\"}]",
        /* an id that is not ours (an earlier batch's) */
        "[{\"jsonrpc\":\"2.0\",\"id\":16,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":17,\"result\":"
        "\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"}]",
        /* no jsonrpc member */
        "[{\"jsonrpc\":\"2.0\",\"id\":19,\"result\":\"0x1\"},{\"id\":20,\"result\":\"0x1\"},{\"jsonrpc\":\"2."
        "0\",\"id\":21,\"result\":\"0x1\"}]",
        /* neither result nor error */
        "[{\"jsonrpc\":\"2.0\",\"id\":22,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":23},{\"jsonrpc\":"
        "\"2.0\",\"id\":24,\"result\":\"0x1\"}]",
        /* an error that is not an object */
        "[{\"jsonrpc\":\"2.0\",\"id\":25,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":26,\"error\":"
        "\"boom\"},{\"jsonrpc\":\"2.0\",\"id\":27,\"result\":\"0x1\"}]",
        /* a string id */
        "[{\"jsonrpc\":\"2.0\",\"id\":\"28\",\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":29,\"result\":"
        "\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":30,\"result\":\"0x1\"}]",
        /* not JSON */
        "not json",
        /* well-formed, but the HTTP status is 500 */
        "[{\"jsonrpc\":\"2.0\",\"id\":34,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":35,\"result\":"
        "\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":36,\"result\":\"0x1\"}]",
        /* and the same shape is fine */
        "[{\"jsonrpc\":\"2.0\",\"id\":37,\"result\":\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":38,\"result\":"
        "\"0x1\"},{\"jsonrpc\":\"2.0\",\"id\":39,\"result\":\"0x1\"}]",
    };
    size_t n = sizeof(bodies) / sizeof(bodies[0]);
    ak_evm_rpc rpc;
    s_bscript s;
    s_brpc(&rpc, &s, bodies, n);
    json_t *res[3];
    ak_err rcs[3];
    for (size_t i = 0; i + 2 < n; i++) {
        EXPECT_ERR(AK_E_CHAIN_RPC, s_batch3(&rpc, res, rcs));
        for (size_t k = 0; k < 3; k++) {
            EXPECT_TRUE(res[k] == NULL);
            EXPECT_ERR(AK_E_CHAIN_RPC, rcs[k]);
        }
    }
    s.status = 500;
    EXPECT_ERR(AK_E_CHAIN_RPC, s_batch3(&rpc, res, rcs));
    EXPECT_STR_EQ(rpc.err_msg, "http status 500");
    s.status = 200;
    EXPECT_OK(s_batch3(&rpc, res, rcs));
    for (size_t k = 0; k < 3; k++) {
        EXPECT_OK(rcs[k]);
        json_decref(res[k]);
    }
    EXPECT_INT_EQ(s.next, n);
    /* bounds: an empty batch and one over the limit are refused before any POST (params freed) */
    const char *m[AK_EVM_BATCH_MAX + 1];
    json_t *p[AK_EVM_BATCH_MAX + 1], *r2[AK_EVM_BATCH_MAX + 1];
    ak_err c2[AK_EVM_BATCH_MAX + 1];
    for (size_t i = 0; i <= AK_EVM_BATCH_MAX; i++) {
        m[i] = "eth_chainId";
        p[i] = json_array();
    }
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_evm_rpc_batch(&rpc, AK_EVM_BATCH_MAX + 1, m, p, r2, c2));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_evm_rpc_batch(&rpc, 0, m, p, r2, c2));
    EXPECT_INT_EQ(s.next, n);
    json_decref(s.last);
    ak_evm_rpc_free(&rpc);
}

AK_TEST(test_rpc_send_raw_transaction) {
    /* keccak256 of the one-byte "raw transaction" 0x01 */
    static const s_reply rs[] = {
        {200, AK_OK, "\"result\":\"0x5fe7f977e71dba2ea1a68e21057beebb9be2ac30c6410aa38d4f3fbe41dcffd2\"",
         NULL},
        {200, AK_OK, "\"result\":\"0x0000000000000000000000000000000000000000000000000000000000000000\"",
         NULL},
        {200, AK_OK, "\"error\":{\"code\":-32000,\"message\":\"already known\"}", NULL},
        {200, AK_OK, "\"error\":{\"code\":-32000,\"message\":\"nonce too low\"}", NULL},
    };
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, 4);
    uint8_t h[32], want[32];
    ak_keccak256("\x01", 1, want);
    EXPECT_OK(ak_eth_send_raw_transaction(&rpc, AK_CUR_LIT("\x01"), h));
    EXPECT_BYTES_EQ(h, 32, want, 32);
    EXPECT_STR_EQ(json_string_value(json_array_get(json_object_get(s.last_request, "params"), 0)), "0x01");
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_send_raw_transaction(&rpc, AK_CUR_LIT("\x01"), h)); /* wrong hash */
    memset(h, 0, 32);
    EXPECT_OK(ak_eth_send_raw_transaction(&rpc, AK_CUR_LIT("\x01"), h)); /* already known */
    EXPECT_BYTES_EQ(h, 32, want, 32);
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_send_raw_transaction(&rpc, AK_CUR_LIT("\x01"), h));
    EXPECT_STR_EQ(rpc.err_msg, "nonce too low");
    s_done(&rpc, &s);
}

#define TXH "0x5fe7f977e71dba2ea1a68e21057beebb9be2ac30c6410aa38d4f3fbe41dcffd2"
#define RECEIPT(status)                                                                                      \
    "\"result\":{\"transactionHash\":\"" TXH "\",\"blockHash\":\"0x"                                         \
    "11111111111111111111111111111111"                                                                       \
    "11111111111111111111111111111111\",\"blockNumber\":\"0x2\",\"gasUsed\":\"0x5208\",\"status\":\"" status \
    "\",\"contractAddress\":null,\"effectiveGasPrice\":\"0x3b9aca00\",\"logs\":[]}"

AK_TEST(test_rpc_receipts_and_wait) {
    static const s_reply rs[] = {
        {200, AK_OK, "\"result\":null", NULL},
        {200, AK_OK, "\"result\":null", NULL},
        {200, AK_OK, RECEIPT("0x1"), NULL},
        {200, AK_OK, RECEIPT("0x0"), NULL},
        {200, AK_OK, RECEIPT("0x2"), NULL},
        {200, AK_OK, "\"result\":{\"transactionHash\":\"" TXH "\"}", NULL},
    };
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, 6);
    uint8_t h[32];
    EXPECT_OK(ak_hex_decode_exact(AK_CUR_LIT(TXH), true, h, 32));
    ak_eth_receipt rc;
    EXPECT_OK(ak_eth_wait_receipt(&rpc, h, ak_http_now_ms() + 60000, 1, &rc));
    EXPECT_INT_EQ(s.next, 3); /* two pending polls, then the receipt */
    EXPECT_TRUE(rc.success);
    EXPECT_INT_EQ(rc.block_number, 2);
    EXPECT_INT_EQ(rc.gas_used, 21000);
    EXPECT_FALSE(rc.has_contract_address);
    EXPECT_INT_EQ(rc.effective_gas_price.be[31], 0x00);
    EXPECT_INT_EQ(rc.effective_gas_price.be[28], 0x3b);
    bool found;
    EXPECT_OK(ak_eth_get_transaction_receipt(&rpc, h, &rc, &found));
    EXPECT_TRUE(found);
    EXPECT_FALSE(rc.success); /* a reverted transaction */
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_get_transaction_receipt(&rpc, h, &rc, &found)); /* status 2 */
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_get_transaction_receipt(&rpc, h, &rc, &found)); /* fields missing */
    EXPECT_FALSE(found);
    /* a receipt for a different hash is refused */
    s_done(&rpc, &s);

    static const s_reply other[] = {{200, AK_OK, RECEIPT("0x1"), NULL}};
    s_rpc(&rpc, &s, other, 1);
    h[0] ^= 1;
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_eth_get_transaction_receipt(&rpc, h, &rc, &found));
    s_done(&rpc, &s);

    /* the wait ends at its deadline */
    static const s_reply pending[] = {{200, AK_OK, "\"result\":null", NULL}};
    s_rpc(&rpc, &s, pending, 1);
    EXPECT_ERR(AK_E_DEADLINE, ak_eth_wait_receipt(&rpc, h, ak_http_now_ms() + 5, 50, &rc));
    s_done(&rpc, &s);
}

/* ---- our contracts ---- */

#define DEVICE_WORDS                                                                                         \
    "1111111111111111111111111111111111111111111111111111111111111111"                                       \
    "2222222222222222222222222222222222222222222222222222222222222222"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000002"                                       \
    "0000000000000000000000000000000000000000000000000000000000000001"                                       \
    "0000000000000000000000000000000000000000000000000000000065f00000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000001"

AK_TEST(test_registry_get_device) {
    static const s_reply rs[] = {
        {200, AK_OK, "\"result\":\"0x" DEVICE_WORDS "\"", NULL},
        {200, AK_OK, "\"result\":\"0x" DEVICE_WORDS "00\"", NULL}, /* one byte too many */
        {200, AK_OK, "\"result\":\"0x\"", NULL},                   /* no code at the address */
    };
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, 3);
    uint8_t reg[20], dkh[32];
    memset(reg, 0xaa, 20);
    memset(dkh, 0xdd, 32);
    ak_device_entry e;
    EXPECT_OK(ak_registry_get_device(&rpc, reg, dkh, &e));
    EXPECT_INT_EQ(e.operator_omni[0], 0x11);
    EXPECT_INT_EQ(e.actor_omni[31], 0x22);
    EXPECT_INT_EQ(e.tier, AK_DEVICE_TIER_AGENT);
    EXPECT_INT_EQ(e.roles, AK_ROLE_CAP_MINT);
    EXPECT_TRUE(e.registered_at == 0x65f00000);
    EXPECT_TRUE(e.revoked);
    /* calldata = getDevice selector 0x6a7f745e ‖ dkh */
    json_t *params = json_object_get(s.last_request, "params");
    const char *data = json_string_value(json_object_get(json_array_get(params, 0), "data"));
    char want[2 + 8 + 64 + 1] = "0x6a7f745e";
    memset(want + 10, 'd', 64);
    want[74] = 0;
    EXPECT_STR_EQ(data, want);
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_registry_get_device(&rpc, reg, dkh, &e));
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_registry_get_device(&rpc, reg, dkh, &e));
    s_done(&rpc, &s);

    /* the pure decoder: non-canonical words are invalid input */
    ak_buf b;
    ak_buf_init(&b, 4096);
    s_hex(DEVICE_WORDS, &b);
    EXPECT_OK(ak_device_entry_decode(ak_buf_cur(&b), &e));
    b.ptr[10 * 32 + 31] = 2; /* revoked = 2 */
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_device_entry_decode(ak_buf_cur(&b), &e));
    b.ptr[10 * 32 + 31] = 1;
    b.ptr[9 * 32 + 27] = 1; /* lastSignCount > 2^32 */
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_device_entry_decode(ak_buf_cur(&b), &e));
    b.ptr[9 * 32 + 27] = 0;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_device_entry_decode(ak_cur_from(b.ptr, 10 * 32), &e));
    ak_buf_free(&b);
}

AK_TEST(test_scope_and_epoch) {
    static const s_reply rs[] = {
        {200, AK_OK, "\"result\":\"0x0000000000000000000000000000000000000000000000000000000000000001\"",
         NULL},
        {200, AK_OK, "\"result\":\"0x0000000000000000000000000000000000000000000000000000000000000002\"",
         NULL},
        {200, AK_OK, "\"result\":\"0x0000000000000000000000000000000000000000000000000000000000000007\"",
         NULL},
        {200, AK_OK, "\"result\":\"0x0100000000000000000000000000000000000000000000000000000000000007\"",
         NULL},
    };
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, 4);
    uint8_t addr[20] = {0}, op[32], agent[32], sid[32];
    memset(op, 1, 32);
    memset(agent, 2, 32);
    ak_scope_id(AK_CUR_LIT("credentials"), AK_CUR_LIT("openrouter"), sid);
    uint8_t want[32];
    ak_keccak256("credentials:openrouter", 22, want);
    EXPECT_BYTES_EQ(sid, 32, want, 32);
    bool in = false;
    EXPECT_OK(ak_scope_is_service_in_scope(&rpc, addr, op, agent, sid, &in));
    EXPECT_TRUE(in);
    const char *data = json_string_value(
        json_object_get(json_array_get(json_object_get(s.last_request, "params"), 0), "data"));
    EXPECT_TRUE(strncmp(data, "0x13337240", 10) == 0);
    EXPECT_INT_EQ(strlen(data), 2 + 8 + 3 * 64);
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_scope_is_service_in_scope(&rpc, addr, op, agent, sid, &in)); /* bool = 2 */
    uint64_t ep = 0;
    EXPECT_OK(ak_k3_current_epoch(&rpc, addr, &ep));
    EXPECT_INT_EQ(ep, 7);
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_k3_current_epoch(&rpc, addr, &ep)); /* > 2^64 */
    s_done(&rpc, &s);
}

/* getScope's return data, made by `cast abi-encode "f((bytes32[],bool,uint128,uint128,uint128,uint32,
 * uint64,bool))" "([0x11…11,0x22…22],true,5,6,7,86400,1700000000,true)"` (Foundry, independent of
 * our encoder), and the same for a scope never set ("([],false,0,0,0,0,0,false)"). */
#define SCOPE_WORDS                                                                                          \
    "0000000000000000000000000000000000000000000000000000000000000020"                                       \
    "0000000000000000000000000000000000000000000000000000000000000100"                                       \
    "0000000000000000000000000000000000000000000000000000000000000001"                                       \
    "0000000000000000000000000000000000000000000000000000000000000005"                                       \
    "0000000000000000000000000000000000000000000000000000000000000006"                                       \
    "0000000000000000000000000000000000000000000000000000000000000007"                                       \
    "0000000000000000000000000000000000000000000000000000000000015180"                                       \
    "000000000000000000000000000000000000000000000000000000006553f100"                                       \
    "0000000000000000000000000000000000000000000000000000000000000001"                                       \
    "0000000000000000000000000000000000000000000000000000000000000002"                                       \
    "1111111111111111111111111111111111111111111111111111111111111111"                                       \
    "2222222222222222222222222222222222222222222222222222222222222222"                                       \
    ""
#define SCOPE_NONE_WORDS                                                                                     \
    "0000000000000000000000000000000000000000000000000000000000000020"                                       \
    "0000000000000000000000000000000000000000000000000000000000000100"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    "0000000000000000000000000000000000000000000000000000000000000000"                                       \
    ""

AK_TEST(test_scope_get) {
    static const s_reply rs[] = {
        {200, AK_OK, "\"result\":\"0x" SCOPE_WORDS "\"", NULL},
        {200, AK_OK, "\"result\":\"0x" SCOPE_NONE_WORDS "\"", NULL},
        {200, AK_OK, "\"result\":\"0x" SCOPE_WORDS "00\"", NULL}, /* a byte too many */
        {200, AK_OK, "\"result\":\"0x\"", NULL},                  /* no code at the address */
    };
    ak_evm_rpc rpc;
    s_script s;
    s_rpc(&rpc, &s, rs, 4);
    uint8_t addr[20] = {0}, op[32], agent[32], sid[32], other[32];
    memset(op, 1, 32);
    memset(agent, 2, 32);
    memset(sid, 0x22, 32);
    memset(other, 0x33, 32);
    ak_scope_entry e;
    EXPECT_OK(ak_scope_get(&rpc, addr, op, agent, sid, &e));
    EXPECT_TRUE(e.exists);
    EXPECT_TRUE(e.read_only);
    EXPECT_TRUE(e.has_service);
    EXPECT_INT_EQ(e.n_services, 2);
    EXPECT_INT_EQ(e.period_seconds, 86400);
    EXPECT_TRUE(e.updated_at == 1700000000u);
    EXPECT_INT_EQ(e.max_per_call.be[31], 5);
    EXPECT_INT_EQ(e.max_total.be[31], 7);
    /* calldata = getScope selector 0xc53ee1be ‖ op ‖ agent */
    const char *data = json_string_value(
        json_object_get(json_array_get(json_object_get(s.last_request, "params"), 0), "data"));
    EXPECT_TRUE(strncmp(data, "0xc53ee1be", 10) == 0);
    EXPECT_INT_EQ(strlen(data), 2 + 8 + 2 * 64);
    EXPECT_OK(ak_scope_get(&rpc, addr, op, agent, sid, &e));
    EXPECT_FALSE(e.exists);
    EXPECT_FALSE(e.read_only);
    EXPECT_FALSE(e.has_service);
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_scope_get(&rpc, addr, op, agent, sid, &e));
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_scope_get(&rpc, addr, op, agent, sid, &e));
    s_done(&rpc, &s);

    /* the pure decoder: another scope id is not among the services; non-canonical data refused */
    ak_buf b;
    ak_buf_init(&b, 4096);
    s_hex(SCOPE_WORDS, &b);
    EXPECT_OK(ak_scope_entry_decode(ak_buf_cur(&b), other, &e));
    EXPECT_FALSE(e.has_service);
    EXPECT_TRUE(e.read_only);
    EXPECT_OK(ak_scope_entry_decode(ak_buf_cur(&b), NULL, &e));
    b.ptr[2 * 32 + 31] = 2; /* readOnly = 2 */
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_scope_entry_decode(ak_buf_cur(&b), NULL, &e));
    b.ptr[2 * 32 + 31] = 1;
    b.ptr[3 * 32 + 15] = 1; /* maxPerCall above 2^128 */
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_scope_entry_decode(ak_buf_cur(&b), NULL, &e));
    b.ptr[3 * 32 + 15] = 0;
    b.ptr[9 * 32 + 31] = 3; /* three services announced, two present */
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_scope_entry_decode(ak_buf_cur(&b), NULL, &e));
    b.ptr[9 * 32 + 31] = 2;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_scope_entry_decode(ak_cur_from(b.ptr, b.len - 32), NULL, &e));
    EXPECT_OK(ak_scope_entry_decode(ak_buf_cur(&b), NULL, &e));
    ak_buf_free(&b);
}

AK_RUN_TESTS(AK_T(test_eip155_spec_example), AK_T(test_eip1559_vs_cast), AK_T(test_tx_rejects_bad_fields),
             AK_T(test_rpc_quantities), AK_T(test_rpc_error_object_is_not_retried),
             AK_T(test_rpc_revert_with_data), AK_T(test_rpc_transport_and_malformed), AK_T(test_rpc_batch),
             AK_T(test_rpc_batch_malformed), AK_T(test_rpc_send_raw_transaction),
             AK_T(test_rpc_receipts_and_wait), AK_T(test_registry_get_device), AK_T(test_scope_and_epoch),
             AK_T(test_scope_get))
