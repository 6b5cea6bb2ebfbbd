/*
 * evm.c — transaction signing (EIP-155, EIP-1559), the JSON-RPC client and typed contract reads
 * (see ak/evm.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/evm.h"
#include "ak/json.h"
#include "ak/limits.h"
#include "ak/rlp.h"

/* ================================================================ transactions */

/* Largest chain id whose EIP-155 v = chainId*2 + 35 + recid still fits in a u64. */
#define S_MAX_CHAIN_ID ((UINT64_MAX - 36u) / 2u)
/* Ceiling of the arena a chain snapshot builds its JSON in (ak_chain_snapshot_read); past it,
 * jansson falls back to the heap. */
#define S_SNAPSHOT_ARENA_MAX (1024u * 1024u)

static ak_err s_rlp_u256(ak_buf *out, const ak_u256 *v) { return ak_rlp_uint_be(out, v->be, 32); }

static ak_err s_rlp_to(ak_buf *out, const ak_eth_tx *tx) {
    return tx->has_to ? ak_rlp_bytes(out, tx->to, 20) : ak_rlp_bytes(out, NULL, 0);
}

/*
 * Serialises the transaction. sig65 == NULL: the signing payload; else the signed form.
 * EIP-155: "If block.number >= FORK_BLKNUM and CHAIN_ID is available, then when computing the
 * hash of a transaction for the purposes of signing, instead of hashing only six rlp encoded
 * elements (nonce, gasprice, startgas, to, value, data), you SHOULD hash nine rlp encoded
 * elements (nonce, gasprice, startgas, to, value, data, chainid, 0, 0)" and "v = CHAIN_ID * 2 + 35
 * or v = CHAIN_ID * 2 + 36".
 * EIP-1559: "0x02 || rlp([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas_limit,
 * destination, amount, data, access_list, signature_y_parity, signature_r, signature_s])", and
 * the signature is over keccak256(0x02 || rlp([... the first nine ...])).
 */
static ak_err s_tx_encode(const ak_eth_tx *tx, const uint8_t *sig65, ak_buf *out) {
    AK_ENSURE(tx->chain_id >= 1 && tx->chain_id <= S_MAX_CHAIN_ID, AK_E_INVALID_INPUT);
    AK_ENSURE(tx->data.ptr != NULL || tx->data.len == 0, AK_E_INVALID_INPUT);
    size_t m;
    if (tx->type == AK_ETH_TX_LEGACY) {
        AK_GUARD(ak_rlp_list_begin(out, &m));
        AK_GUARD(ak_rlp_u64(out, tx->nonce));
        AK_GUARD(s_rlp_u256(out, &tx->gas_price));
        AK_GUARD(ak_rlp_u64(out, tx->gas_limit));
        AK_GUARD(s_rlp_to(out, tx));
        AK_GUARD(s_rlp_u256(out, &tx->value));
        AK_GUARD(ak_rlp_cur(out, tx->data));
        if (sig65 == NULL) {
            AK_GUARD(ak_rlp_u64(out, tx->chain_id));
            AK_GUARD(ak_rlp_u64(out, 0));
            AK_GUARD(ak_rlp_u64(out, 0));
        } else {
            AK_GUARD(ak_rlp_u64(out, tx->chain_id * 2u + 35u + (uint64_t)(sig65[64] - 27u)));
            AK_GUARD(ak_rlp_uint_be(out, sig65, 32));
            AK_GUARD(ak_rlp_uint_be(out, sig65 + 32, 32));
        }
        return ak_rlp_list_end(out, m);
    }
    AK_ENSURE(tx->type == AK_ETH_TX_EIP1559, AK_E_INVALID_INPUT);
    AK_GUARD(ak_buf_append_byte(out, 0x02));
    AK_GUARD(ak_rlp_list_begin(out, &m));
    AK_GUARD(ak_rlp_u64(out, tx->chain_id));
    AK_GUARD(ak_rlp_u64(out, tx->nonce));
    AK_GUARD(s_rlp_u256(out, &tx->max_priority_fee_per_gas));
    AK_GUARD(s_rlp_u256(out, &tx->max_fee_per_gas));
    AK_GUARD(ak_rlp_u64(out, tx->gas_limit));
    AK_GUARD(s_rlp_to(out, tx));
    AK_GUARD(s_rlp_u256(out, &tx->value));
    AK_GUARD(ak_rlp_cur(out, tx->data));
    size_t al; /* access list: always empty here */
    AK_GUARD(ak_rlp_list_begin(out, &al));
    AK_GUARD(ak_rlp_list_end(out, al));
    if (sig65 != NULL) {
        AK_GUARD(ak_rlp_u64(out, (uint64_t)(sig65[64] - 27u)));
        AK_GUARD(ak_rlp_uint_be(out, sig65, 32));
        AK_GUARD(ak_rlp_uint_be(out, sig65 + 32, 32));
    }
    return ak_rlp_list_end(out, m);
}

ak_err ak_eth_tx_sighash(const ak_eth_tx *tx, uint8_t digest[32]) {
    AK_PRECOND(tx != NULL && digest != NULL);
    ak_buf b;
    ak_buf_init(&b, AK_MAX_REQUEST_BODY + 1024u);
    ak_err rc = s_tx_encode(tx, NULL, &b);
    if (rc == AK_OK) ak_keccak256(b.ptr, b.len, digest);
    ak_buf_free(&b);
    return rc;
}

ak_err ak_eth_tx_sign(const ak_eth_tx *tx, const uint8_t seckey[32], ak_buf *raw, uint8_t tx_hash[32]) {
    AK_PRECOND(tx != NULL && seckey != NULL && raw != NULL);
    uint8_t digest[32], sig[65];
    size_t start = raw->len;
    AK_GUARD(ak_eth_tx_sighash(tx, digest));
    AK_GUARD(ak_secp256k1_sign(seckey, digest, sig));
    AK_ENSURE(sig[64] == 27 || sig[64] == 28, AK_E_SIGN_ERROR);
    ak_err rc = s_tx_encode(tx, sig, raw);
    if (rc != AK_OK) {
        raw->len = start;
        if (raw->ptr != NULL) raw->ptr[start] = 0;
        return rc;
    }
    if (tx_hash != NULL) ak_keccak256(raw->ptr + start, raw->len - start, tx_hash);
    return AK_OK;
}

/* ================================================================ JSON-RPC */

static ak_err s_http_transport(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    ak_evm_rpc *r = ctx;
    AK_ENSURE(r->http != NULL && r->url != NULL, AK_E_CONFIG);
    ak_http_header hdr[] = {{"content-type", AK_CUR_LIT("application/json")}};
    ak_http_request req;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = r->url;
    req.headers = hdr;
    req.n_headers = 1;
    req.body = request;
    req.deadline_ms = deadline_ms;
    req.idempotent = true; /* see ak/evm.h: every JSON-RPC call we make is safe to repeat */
    req.max_response = AK_MAX_UPSTREAM_BODY;
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = ak_http_do(r->http, &req, &resp);
    if (rc == AK_OK) {
        *status = resp.status;
        rc = ak_buf_append_cur(body, ak_buf_cur(&resp.body));
    }
    ak_http_response_free(&resp);
    return rc;
}

void ak_evm_rpc_init(ak_evm_rpc *r, ak_http *http, const char *url) {
    AK_PRECOND(r != NULL);
    memset(r, 0, sizeof(*r));
    r->http = http;
    r->url = url;
    r->transport = s_http_transport;
    r->transport_ctx = r;
    r->next_id = 1;
    ak_buf_init(&r->revert_data, AK_MAX_UPSTREAM_BODY);
}

void ak_evm_rpc_free(ak_evm_rpc *r) {
    if (r == NULL) return;
    ak_buf_free(&r->revert_data);
}

/* The transport runs outside any jansson arena window (ak_chain_snapshot_read opens one): what
 * it builds is its own business, and it may keep trees past the call (test stand-ins do). */
static ak_err s_transport(ak_evm_rpc *r, ak_cur request, long *status, ak_buf *reply) {
    ak_jansson_pause window = ak_alloc_jansson_pause();
    ak_err rc = r->transport(r->transport_ctx, request, r->deadline_ms, status, reply);
    ak_alloc_jansson_resume(window);
    return rc;
}

static void s_reset_diag(ak_evm_rpc *r) {
    r->err_code = 0;
    r->err_msg[0] = '\0';
    r->reverted = false;
    ak_buf_clear(&r->revert_data);
}

static ak_err s_fail(ak_evm_rpc *r, ak_err e, const char *why) {
    snprintf(r->err_msg, sizeof(r->err_msg), "%s", why);
    return e;
}

static bool s_starts_with_nocase(const char *s, const char *prefix) {
    size_t n = strlen(prefix);
    return strlen(s) >= n && ak_cur_eq_nocase(ak_cur_from(s, n), ak_cur_from_str(prefix));
}

static bool s_contains_nocase(const char *s, const char *needle) {
    size_t n = strlen(needle), len = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (ak_cur_eq_nocase(ak_cur_from(s + i, n), ak_cur_from(needle, n))) return true;
    return false;
}

/* Records a JSON-RPC error object; detects execution reverts (EIP-1474 code 3 / geth's text). */
static ak_err s_rpc_error(ak_evm_rpc *r, const json_t *err) {
    const json_t *code = json_object_get(err, "code");
    const json_t *msg = json_object_get(err, "message");
    r->err_code = json_is_integer(code) ? (int64_t)json_integer_value(code) : 0;
    snprintf(r->err_msg, sizeof(r->err_msg), "%s",
             json_is_string(msg) ? json_string_value(msg) : "(no message)");
    if (r->err_code == 3 || s_starts_with_nocase(r->err_msg, "execution reverted")) {
        r->reverted = true;
        const json_t *data = json_object_get(err, "data");
        if (json_is_object(data)) data = json_object_get(data, "data"); /* some nodes nest it */
        if (json_is_string(data)) {
            ak_cur hex = ak_cur_from(json_string_value(data), json_string_length(data));
            if (ak_hex_decode_buf(hex, true, &r->revert_data) != AK_OK) ak_buf_clear(&r->revert_data);
        }
    }
    return AK_E_CHAIN_RPC;
}

ak_err ak_evm_rpc_call(ak_evm_rpc *r, const char *method, json_t *params, json_t **result) {
    AK_PRECOND(r != NULL && method != NULL && result != NULL && r->transport != NULL);
    ak_err rc = AK_OK;
    json_t *req = NULL, *resp = NULL;
    ak_buf body, reply;
    ak_buf_init(&body, AK_MAX_REQUEST_BODY * 2u);
    ak_buf_init(&reply, AK_MAX_UPSTREAM_BODY);
    *result = NULL;
    s_reset_diag(r);
    if (params == NULL) params = json_array();
    AK_ENSURE_OUT(params != NULL, AK_E_NOMEM);
    uint64_t id = r->next_id++;
    /* "o" steals the reference to params, also when json_pack fails (jansson >= 2.11) */
    req = json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", (json_int_t)id, "method", method, "params",
                    params);
    AK_ENSURE_OUT(req != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(ak_json_dump(req, &body));
    long status = 0;
    rc = s_transport(r, ak_buf_cur(&body), &status, &reply);
    if (rc == AK_E_UPSTREAM) {
        rc = s_fail(r, AK_E_CHAIN_RPC, "transport failure");
        goto out;
    }
    if (rc != AK_OK) goto out; /* UPSTREAM_TIMEOUT, TOO_LARGE, NOMEM, CONFIG keep their reason */
    if (status < 200 || status > 299) {
        snprintf(r->err_msg, sizeof(r->err_msg), "http status %ld", status);
        rc = AK_E_CHAIN_RPC;
        goto out;
    }
    /* JSON_ALLOW_NUL: anvil's revert messages quote the raw custom-error bytes ("custom error
     * 0x…: \u0000…"); the message is only copied up to its first NUL, the data member is hex. */
    resp = json_loadb((const char *)reply.ptr, reply.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!json_is_object(resp)) {
        rc = s_fail(r, AK_E_CHAIN_RPC, "response is not a JSON object");
        goto out;
    }
    const json_t *ver = json_object_get(resp, "jsonrpc");
    const json_t *rid = json_object_get(resp, "id");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 || !json_is_integer(rid) ||
        (uint64_t)json_integer_value(rid) != id) {
        rc = s_fail(r, AK_E_CHAIN_RPC, "response is not JSON-RPC 2.0 for our id");
        goto out;
    }
    const json_t *err = json_object_get(resp, "error");
    json_t *res = json_object_get(resp, "result");
    if (err != NULL && !json_is_null(err)) {
        rc = json_is_object(err) ? s_rpc_error(r, err) : s_fail(r, AK_E_CHAIN_RPC, "malformed error member");
        goto out;
    }
    if (res == NULL) {
        rc = s_fail(r, AK_E_CHAIN_RPC, "response has neither result nor error");
        goto out;
    }
    *result = json_incref(res);
out:
    json_decref(req);
    json_decref(resp);
    ak_buf_free(&body);
    ak_buf_free(&reply);
    return rc;
}

ak_err ak_evm_rpc_batch(ak_evm_rpc *r, size_t n, const char *const *methods, json_t **params,
                        json_t **results, ak_err *rcs) {
    AK_PRECOND(r != NULL && methods != NULL && params != NULL && results != NULL && rcs != NULL &&
               r->transport != NULL);
    ak_err rc = AK_OK;
    json_t *req = NULL, *resp = NULL;
    ak_buf body, reply;
    ak_buf_init(&body, AK_MAX_REQUEST_BODY * 2u);
    ak_buf_init(&reply, AK_MAX_UPSTREAM_BODY);
    s_reset_diag(r);
    for (size_t i = 0; i < n; i++) {
        results[i] = NULL;
        rcs[i] = AK_E_CHAIN_RPC;
    }
    uint64_t base = r->next_id;
    r->next_id += n;
    req = json_array();
    if (req == NULL || n == 0 || n > AK_EVM_BATCH_MAX) {
        for (size_t i = 0; i < n; i++)
            json_decref(params[i]);
        AK_ENSURE_OUT(n >= 1 && n <= AK_EVM_BATCH_MAX, AK_E_INVALID_INPUT);
        AK_ENSURE_OUT(false, AK_E_NOMEM);
    }
    bool built = true;
    for (size_t i = 0; i < n; i++) {
        json_t *p = params[i] != NULL ? params[i] : json_array();
        params[i] = NULL;
        if (!built || p == NULL || methods[i] == NULL) {
            json_decref(p);
            built = false;
            continue;
        }
        /* "o" steals p, also when json_pack fails */
        json_t *e = json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", (json_int_t)(base + i), "method",
                              methods[i], "params", p);
        if (e == NULL || json_array_append_new(req, e) != 0) built = false;
    }
    AK_ENSURE_OUT(built, AK_E_NOMEM);
    AK_GUARD_OUT(ak_json_dump(req, &body));
    long status = 0;
    rc = s_transport(r, ak_buf_cur(&body), &status, &reply);
    if (rc == AK_E_UPSTREAM) {
        rc = s_fail(r, AK_E_CHAIN_RPC, "transport failure");
        goto out;
    }
    if (rc != AK_OK) goto out;
    if (status < 200 || status > 299) {
        snprintf(r->err_msg, sizeof(r->err_msg), "http status %ld", status);
        rc = AK_E_CHAIN_RPC;
        goto out;
    }
    resp = json_loadb((const char *)reply.ptr, reply.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!json_is_array(resp) || json_array_size(resp) != n) {
        rc = s_fail(r, AK_E_CHAIN_RPC, "batch response is not an array of one answer per call");
        goto out;
    }
    bool seen[AK_EVM_BATCH_MAX] = {false};
    bool first_err = true;
    for (size_t k = 0; k < n; k++) {
        const json_t *el = json_array_get(resp, k);
        const json_t *ver = json_object_get(el, "jsonrpc");
        const json_t *rid = json_object_get(el, "id");
        json_int_t idv = json_is_integer(rid) ? json_integer_value(rid) : -1;
        if (!json_is_object(el) || !json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 ||
            idv < 0 || (uint64_t)idv < base || (uint64_t)idv - base >= n || seen[(uint64_t)idv - base]) {
            rc = s_fail(r, AK_E_CHAIN_RPC, "batch element is not JSON-RPC 2.0 for one of our ids");
            goto out;
        }
        size_t i = (size_t)((uint64_t)idv - base);
        seen[i] = true;
        const json_t *err = json_object_get(el, "error");
        json_t *res = json_object_get(el, "result");
        if (err != NULL && !json_is_null(err)) {
            if (!json_is_object(err)) {
                rc = s_fail(r, AK_E_CHAIN_RPC, "malformed error member");
                goto out;
            }
            if (first_err) (void)s_rpc_error(r, err);
            first_err = false;
            continue;
        }
        if (res == NULL) {
            rc = s_fail(r, AK_E_CHAIN_RPC, "batch element has neither result nor error");
            goto out;
        }
        results[i] = json_incref(res);
        rcs[i] = AK_OK;
    }
out:
    if (rc != AK_OK)
        for (size_t i = 0; i < n; i++) {
            json_decref(results[i]);
            results[i] = NULL;
            rcs[i] = AK_E_CHAIN_RPC;
        }
    json_decref(req);
    json_decref(resp);
    ak_buf_free(&body);
    ak_buf_free(&reply);
    return rc;
}

ak_err ak_eth_parse_quantity(ak_cur text, ak_u256 *out) {
    AK_ENSURE(text.len >= 3 && text.len <= 66 && text.ptr[0] == '0' &&
                  (text.ptr[1] == 'x' || text.ptr[1] == 'X'),
              AK_E_INVALID_INPUT);
    uint8_t padded[64];
    size_t nd = text.len - 2;
    memset(padded, '0', sizeof(padded));
    memcpy(padded + 64 - nd, text.ptr + 2, nd);
    ak_err rc = ak_hex_decode_exact(ak_cur_from(padded, 64), false, out->be, 32);
    return rc == AK_OK ? AK_OK : AK_E_INVALID_INPUT;
}

ak_err ak_eth_parse_quantity_u64(ak_cur text, uint64_t *out) {
    ak_u256 v;
    AK_GUARD(ak_eth_parse_quantity(text, &v));
    return ak_u256_to_u64(&v, out) == AK_OK ? AK_OK : AK_E_INVALID_INPUT;
}

/* "0x" + lowercase hex of the bytes, as a new JSON string. */
static json_t *s_json_hex(const uint8_t *p, size_t n) {
    ak_buf b;
    ak_buf_init(&b, 2 * n + 3);
    json_t *s = NULL;
    if (ak_buf_append_str(&b, "0x") == AK_OK && ak_buf_append_hex(&b, p, n) == AK_OK)
        s = json_stringn((const char *)b.ptr, b.len);
    ak_buf_free(&b);
    return s;
}

/* The result must be a QUANTITY string. */
static ak_err s_result_quantity(ak_evm_rpc *r, const json_t *res, ak_u256 *out) {
    if (!json_is_string(res) ||
        ak_eth_parse_quantity(ak_cur_from(json_string_value(res), json_string_length(res)), out) != AK_OK)
        return s_fail(r, AK_E_CHAIN_RPC, "result is not a quantity");
    return AK_OK;
}

static ak_err s_call_quantity(ak_evm_rpc *r, const char *method, json_t *params, ak_u256 *out) {
    json_t *res = NULL;
    AK_GUARD(ak_evm_rpc_call(r, method, params, &res));
    ak_err rc = s_result_quantity(r, res, out);
    json_decref(res);
    return rc;
}

static ak_err s_call_quantity_u64(ak_evm_rpc *r, const char *method, json_t *params, uint64_t *out) {
    ak_u256 v;
    AK_GUARD(s_call_quantity(r, method, params, &v));
    if (ak_u256_to_u64(&v, out) != AK_OK) return s_fail(r, AK_E_CHAIN_RPC, "quantity exceeds 64 bits");
    return AK_OK;
}

ak_err ak_eth_chain_id(ak_evm_rpc *r, uint64_t *out) {
    return s_call_quantity_u64(r, "eth_chainId", NULL, out);
}

ak_err ak_eth_block_number(ak_evm_rpc *r, uint64_t *out) {
    return s_call_quantity_u64(r, "eth_blockNumber", NULL, out);
}

ak_err ak_eth_gas_price(ak_evm_rpc *r, ak_u256 *out) { return s_call_quantity(r, "eth_gasPrice", NULL, out); }

/* [address, block] params. */
static json_t *s_addr_block_params(const uint8_t addr[20], const char *block) {
    return json_pack("[o,s]", s_json_hex(addr, 20), block != NULL ? block : "latest");
}

ak_err ak_eth_get_transaction_count(ak_evm_rpc *r, const uint8_t addr[20], const char *block, uint64_t *out) {
    AK_PRECOND(addr != NULL && out != NULL);
    json_t *p = s_addr_block_params(addr, block);
    AK_ENSURE(p != NULL, AK_E_NOMEM);
    return s_call_quantity_u64(r, "eth_getTransactionCount", p, out);
}

ak_err ak_eth_get_balance(ak_evm_rpc *r, const uint8_t addr[20], const char *block, ak_u256 *out) {
    AK_PRECOND(addr != NULL && out != NULL);
    json_t *p = s_addr_block_params(addr, block);
    AK_ENSURE(p != NULL, AK_E_NOMEM);
    return s_call_quantity(r, "eth_getBalance", p, out);
}

ak_err ak_eth_call(ak_evm_rpc *r, const uint8_t to[20], ak_cur data, const char *block, ak_buf *ret) {
    AK_PRECOND(r != NULL && to != NULL && ret != NULL);
    json_t *p = json_pack("[{s:o,s:o},s]", "to", s_json_hex(to, 20), "data", s_json_hex(data.ptr, data.len),
                          block != NULL ? block : "latest");
    AK_ENSURE(p != NULL, AK_E_NOMEM);
    json_t *res = NULL;
    AK_GUARD(ak_evm_rpc_call(r, "eth_call", p, &res));
    ak_err rc = AK_OK;
    size_t start = ret->len;
    if (!json_is_string(res) ||
        ak_hex_decode_buf(ak_cur_from(json_string_value(res), json_string_length(res)), true, ret) != AK_OK) {
        ret->len = start;
        if (ret->ptr != NULL) ret->ptr[start] = 0;
        rc = s_fail(r, AK_E_CHAIN_RPC, "eth_call result is not hex data");
    }
    json_decref(res);
    return rc;
}

/* A JSON string that is "0x" + exactly 2n hex digits. */
static ak_err s_json_fixed_hex(const json_t *v, uint8_t *out, size_t n) {
    AK_ENSURE(json_is_string(v), AK_E_INVALID_INPUT);
    return ak_hex_decode_exact(ak_cur_from(json_string_value(v), json_string_length(v)), true, out, n) ==
                   AK_OK
               ? AK_OK
               : AK_E_INVALID_INPUT;
}

ak_err ak_eth_send_raw_transaction(ak_evm_rpc *r, ak_cur raw, uint8_t tx_hash[32]) {
    AK_PRECOND(r != NULL && tx_hash != NULL && raw.len > 0);
    uint8_t local[32];
    ak_keccak256(raw.ptr, raw.len, local);
    json_t *p = json_pack("[o]", s_json_hex(raw.ptr, raw.len));
    AK_ENSURE(p != NULL, AK_E_NOMEM);
    json_t *res = NULL;
    ak_err rc = ak_evm_rpc_call(r, "eth_sendRawTransaction", p, &res);
    if (rc == AK_E_CHAIN_RPC && !r->reverted &&
        (s_contains_nocase(r->err_msg, "already known") ||
         s_contains_nocase(r->err_msg, "known transaction"))) {
        /* an earlier attempt (a retry after a lost response) already delivered it */
        memcpy(tx_hash, local, 32);
        return AK_OK;
    }
    AK_GUARD(rc);
    uint8_t got[32];
    if (s_json_fixed_hex(res, got, 32) != AK_OK)
        rc = s_fail(r, AK_E_CHAIN_RPC, "bad transaction hash");
    else if (memcmp(got, local, 32) != 0)
        rc = s_fail(r, AK_E_CHAIN_RPC, "node reports another transaction hash");
    else
        memcpy(tx_hash, local, 32);
    json_decref(res);
    return rc;
}

static ak_err s_json_quantity_u64(const json_t *v, uint64_t *out) {
    AK_ENSURE(json_is_string(v), AK_E_INVALID_INPUT);
    return ak_eth_parse_quantity_u64(ak_cur_from(json_string_value(v), json_string_length(v)), out);
}

static ak_err s_parse_receipt(const json_t *o, ak_eth_receipt *out) {
    memset(out, 0, sizeof(*out));
    AK_ENSURE(json_is_object(o), AK_E_INVALID_INPUT);
    AK_GUARD(s_json_fixed_hex(json_object_get(o, "transactionHash"), out->tx_hash, 32));
    AK_GUARD(s_json_fixed_hex(json_object_get(o, "blockHash"), out->block_hash, 32));
    AK_GUARD(s_json_quantity_u64(json_object_get(o, "blockNumber"), &out->block_number));
    AK_GUARD(s_json_quantity_u64(json_object_get(o, "gasUsed"), &out->gas_used));
    uint64_t status;
    AK_GUARD(s_json_quantity_u64(json_object_get(o, "status"), &status)); /* post-Byzantium receipts */
    AK_ENSURE(status <= 1, AK_E_INVALID_INPUT);
    out->success = status == 1;
    const json_t *ca = json_object_get(o, "contractAddress");
    if (ca != NULL && !json_is_null(ca)) {
        AK_GUARD(s_json_fixed_hex(ca, out->contract_address, 20));
        out->has_contract_address = true;
    }
    const json_t *egp = json_object_get(o, "effectiveGasPrice");
    if (egp != NULL && !json_is_null(egp)) {
        AK_ENSURE(json_is_string(egp), AK_E_INVALID_INPUT);
        AK_GUARD(ak_eth_parse_quantity(ak_cur_from(json_string_value(egp), json_string_length(egp)),
                                       &out->effective_gas_price));
    }
    return AK_OK;
}

ak_err ak_eth_get_transaction_receipt(ak_evm_rpc *r, const uint8_t tx_hash[32], ak_eth_receipt *out,
                                      bool *found) {
    AK_PRECOND(r != NULL && tx_hash != NULL && out != NULL && found != NULL);
    *found = false;
    json_t *p = json_pack("[o]", s_json_hex(tx_hash, 32));
    AK_ENSURE(p != NULL, AK_E_NOMEM);
    json_t *res = NULL;
    AK_GUARD(ak_evm_rpc_call(r, "eth_getTransactionReceipt", p, &res));
    ak_err rc = AK_OK;
    if (!json_is_null(res)) {
        if (s_parse_receipt(res, out) != AK_OK)
            rc = s_fail(r, AK_E_CHAIN_RPC, "malformed receipt");
        else if (memcmp(out->tx_hash, tx_hash, 32) != 0)
            rc = s_fail(r, AK_E_CHAIN_RPC, "receipt for another transaction");
        else
            *found = true;
    }
    json_decref(res);
    return rc;
}

static void s_sleep_ms(unsigned ms) {
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

ak_err ak_eth_wait_receipt(ak_evm_rpc *r, const uint8_t tx_hash[32], int64_t deadline_ms, unsigned poll_ms,
                           ak_eth_receipt *out) {
    AK_PRECOND(r != NULL && tx_hash != NULL && out != NULL);
    if (poll_ms == 0) poll_ms = 250;
    int64_t saved = r->deadline_ms;
    /* no single RPC may outlive the wait's own deadline */
    if (r->deadline_ms == 0 || r->deadline_ms > deadline_ms) r->deadline_ms = deadline_ms;
    ak_err rc;
    for (;;) {
        bool found = false;
        rc = ak_eth_get_transaction_receipt(r, tx_hash, out, &found);
        if (rc != AK_OK || found) break;
        int64_t now = ak_http_now_ms();
        if (now + (int64_t)poll_ms >= deadline_ms) {
            rc = s_fail(r, AK_E_DEADLINE, "receipt did not appear before the deadline");
            break;
        }
        s_sleep_ms(poll_ms);
    }
    r->deadline_ms = saved;
    return rc;
}

/* ================================================================ our contracts */

/* selector(sig) ‖ abi.encode(args) -> eth_call at "latest" -> ret. */
static ak_err s_view(ak_evm_rpc *r, const uint8_t to[20], const char *sig, const ak_abi_val *args, size_t n,
                     ak_buf *ret) {
    ak_buf calldata;
    ak_buf_init(&calldata, 64u * 1024u);
    ak_err rc = ak_abi_encode_call(sig, args, n, &calldata);
    if (rc == AK_OK) rc = ak_eth_call(r, to, ak_buf_cur(&calldata), "latest", ret);
    ak_buf_free(&calldata);
    return rc;
}

ak_err ak_device_entry_decode(ak_cur ret, ak_device_entry *out) {
    AK_PRECOND(out != NULL);
    ak_device_entry e;
    memset(&e, 0, sizeof(e));
    uint64_t tier, roles, sc;
    ak_abi_dec d;
    ak_abi_dec_init(&d, ret);
    /* DeviceEntry is all-static: its 11 members are inline words (contracts.md §1) */
    AK_GUARD(ak_abi_dec_bytes32(&d, e.operator_omni));
    AK_GUARD(ak_abi_dec_bytes32(&d, e.actor_omni));
    AK_GUARD(ak_abi_dec_bytes32(&d, e.k11_cred_id));
    AK_GUARD(ak_abi_dec_bytes32(&d, e.k11_rp_id_hash));
    AK_GUARD(ak_abi_dec_uint(&d, 256, &e.k11_pub_x));
    AK_GUARD(ak_abi_dec_uint(&d, 256, &e.k11_pub_y));
    AK_GUARD(ak_abi_dec_u64(&d, 8, &tier));
    AK_GUARD(ak_abi_dec_u64(&d, 8, &roles));
    AK_GUARD(ak_abi_dec_u64(&d, 64, &e.registered_at));
    AK_GUARD(ak_abi_dec_u64(&d, 32, &sc));
    AK_GUARD(ak_abi_dec_bool(&d, &e.revoked));
    AK_GUARD(ak_abi_dec_finish(&d));
    e.tier = (uint8_t)tier;
    e.roles = (uint8_t)roles;
    e.last_sign_count = (uint32_t)sc;
    *out = e;
    return AK_OK;
}

ak_err ak_registry_get_device(ak_evm_rpc *r, const uint8_t registry[20], const uint8_t dkh[32],
                              ak_device_entry *out) {
    AK_PRECOND(r != NULL && registry != NULL && dkh != NULL && out != NULL);
    ak_abi_val args[] = {ak_abi_bytes32(dkh)};
    ak_buf ret;
    ak_buf_init(&ret, 4096);
    ak_err rc = s_view(r, registry, "getDevice(bytes32)", args, 1, &ret);
    if (rc == AK_OK && ak_device_entry_decode(ak_buf_cur(&ret), out) != AK_OK)
        rc = s_fail(r, AK_E_CHAIN_RPC, "getDevice returned undecodable data");
    ak_buf_free(&ret);
    return rc;
}

/* Strict decode of one static word (bytes32 / bool / uint<size>): exactly 32 bytes. */
static ak_err s_decode_word(ak_cur ret, ak_abi_kind kind, unsigned size, uint8_t word[32]) {
    ak_abi_dec d;
    ak_abi_dec_init(&d, ret);
    if (kind == AK_ABI_BOOL) {
        bool b = false;
        AK_GUARD(ak_abi_dec_bool(&d, &b));
        memset(word, 0, 32);
        word[31] = b ? 1 : 0;
    } else if (kind == AK_ABI_UINT) {
        ak_u256 v;
        AK_GUARD(ak_abi_dec_uint(&d, size, &v));
        memcpy(word, v.be, 32);
    } else {
        AK_GUARD(ak_abi_dec_bytes32(&d, word));
    }
    return ak_abi_dec_finish(&d);
}

/* A view returning one static word (bytes32 / bool / uint256): strict decode, exactly 32 bytes. */
static ak_err s_view_word(ak_evm_rpc *r, const uint8_t to[20], const char *sig, const ak_abi_val *args,
                          size_t n, ak_abi_kind kind, unsigned size, uint8_t word[32]) {
    ak_buf ret;
    ak_buf_init(&ret, 4096);
    ak_err rc = s_view(r, to, sig, args, n, &ret);
    if (rc == AK_OK && s_decode_word(ak_buf_cur(&ret), kind, size, word) != AK_OK)
        rc = s_fail(r, AK_E_CHAIN_RPC, "view returned undecodable data");
    ak_buf_free(&ret);
    return rc;
}

ak_err ak_registry_actor_operator(ak_evm_rpc *r, const uint8_t registry[20], const uint8_t actor[32],
                                  uint8_t op[32]) {
    AK_PRECOND(r != NULL && registry != NULL && actor != NULL && op != NULL);
    ak_abi_val args[] = {ak_abi_bytes32(actor)};
    return s_view_word(r, registry, "actorOperator(bytes32)", args, 1, AK_ABI_FIXED_BYTES, 32, op);
}

ak_err ak_scope_is_service_in_scope(ak_evm_rpc *r, const uint8_t scope[20], const uint8_t op[32],
                                    const uint8_t agent[32], const uint8_t scope_id[32], bool *out) {
    AK_PRECOND(r != NULL && scope != NULL && op != NULL && agent != NULL && scope_id != NULL && out != NULL);
    ak_abi_val args[] = {ak_abi_bytes32(op), ak_abi_bytes32(agent), ak_abi_bytes32(scope_id)};
    uint8_t w[32];
    AK_GUARD(s_view_word(r, scope, "isServiceInScope(bytes32,bytes32,bytes32)", args, 3, AK_ABI_BOOL, 0, w));
    *out = w[31] == 1;
    return AK_OK;
}

ak_err ak_scope_entry_decode(ak_cur ret, const uint8_t scope_id[32], ak_scope_entry *out) {
    AK_PRECOND(out != NULL);
    ak_scope_entry e;
    memset(&e, 0, sizeof(e));
    uint64_t period;
    ak_abi_dec root, sc, svc;
    ak_abi_dec_init(&root, ret);
    /* getScope returns one Scope: a dynamic tuple (it holds bytes32[]), so an offset first */
    AK_GUARD(ak_abi_dec_tuple(&root, &sc));
    AK_GUARD(ak_abi_dec_array(&sc, &svc, &e.n_services));
    AK_GUARD(ak_abi_dec_bool(&sc, &e.read_only));
    AK_GUARD(ak_abi_dec_uint(&sc, 128, &e.max_per_call));
    AK_GUARD(ak_abi_dec_uint(&sc, 128, &e.max_per_period));
    AK_GUARD(ak_abi_dec_uint(&sc, 128, &e.max_total));
    AK_GUARD(ak_abi_dec_u64(&sc, 32, &period));
    AK_GUARD(ak_abi_dec_u64(&sc, 64, &e.updated_at));
    AK_GUARD(ak_abi_dec_bool(&sc, &e.exists));
    for (size_t i = 0; i < e.n_services; i++) {
        uint8_t id[32];
        AK_GUARD(ak_abi_dec_bytes32(&svc, id));
        if (scope_id != NULL && memcmp(id, scope_id, 32) == 0) e.has_service = true;
    }
    AK_GUARD(ak_abi_dec_finish(&root));
    e.period_seconds = (uint32_t)period;
    *out = e;
    return AK_OK;
}

ak_err ak_scope_get(ak_evm_rpc *r, const uint8_t scope[20], const uint8_t op[32], const uint8_t agent[32],
                    const uint8_t scope_id[32], ak_scope_entry *out) {
    AK_PRECOND(r != NULL && scope != NULL && op != NULL && agent != NULL && out != NULL);
    ak_abi_val args[] = {ak_abi_bytes32(op), ak_abi_bytes32(agent)};
    ak_buf ret;
    /* 64 services at most (AgentKeysScope.MAX_SERVICES): 12 + 64 words */
    ak_buf_init(&ret, 8192);
    ak_err rc = s_view(r, scope, "getScope(bytes32,bytes32)", args, 2, &ret);
    if (rc == AK_OK && ak_scope_entry_decode(ak_buf_cur(&ret), scope_id, out) != AK_OK)
        rc = s_fail(r, AK_E_CHAIN_RPC, "getScope returned undecodable data");
    ak_buf_free(&ret);
    return rc;
}

ak_err ak_k3_current_epoch(ak_evm_rpc *r, const uint8_t counter[20], uint64_t *out) {
    AK_PRECOND(r != NULL && counter != NULL && out != NULL);
    ak_u256 v;
    AK_GUARD(s_view_word(r, counter, "currentEpoch()", NULL, 0, AK_ABI_UINT, 256, v.be));
    if (ak_u256_to_u64(&v, out) != AK_OK) return s_fail(r, AK_E_CHAIN_RPC, "epoch exceeds 64 bits");
    return AK_OK;
}

ak_err ak_k3_epoch_commitment(ak_evm_rpc *r, const uint8_t counter[20], uint64_t epoch, uint8_t out[32]) {
    AK_PRECOND(r != NULL && counter != NULL && out != NULL);
    ak_abi_val args[] = {ak_abi_uint(256, epoch)};
    return s_view_word(r, counter, "epochCommitment(uint256)", args, 1, AK_ABI_FIXED_BYTES, 32, out);
}

/* ---------------------------------------------------------------- one snapshot (issue 19) */

enum { S_Q_DEVICE, S_Q_ACTOR_OP, S_Q_IN_SCOPE, S_Q_SCOPE, S_Q_EPOCH, S_Q_N };

/* The eth_call params [{to, data}, {"blockHash": h}] of one view. */
static json_t *s_pinned_call(const uint8_t to[20], const char *sig, const ak_abi_val *args, size_t n,
                             const uint8_t block_hash[32]) {
    ak_buf calldata;
    ak_buf_init(&calldata, 4096);
    json_t *p = NULL;
    if (ak_abi_encode_call(sig, args, n, &calldata) == AK_OK)
        p = json_pack("[{s:o,s:o},{s:o}]", "to", s_json_hex(to, 20), "data",
                      s_json_hex(calldata.ptr, calldata.len), "blockHash", s_json_hex(block_hash, 32));
    ak_buf_free(&calldata);
    return p;
}

/* eth_getBlockByNumber's answer: an object with a 32-byte "hash" and a QUANTITY "number". */
static ak_err s_parse_head(const json_t *res, uint8_t hash[32], uint64_t *number) {
    AK_ENSURE(json_is_object(res), AK_E_INVALID_INPUT);
    AK_GUARD(s_json_fixed_hex(json_object_get(res, "hash"), hash, 32));
    const json_t *num = json_object_get(res, "number");
    AK_ENSURE(json_is_string(num), AK_E_INVALID_INPUT);
    return ak_eth_parse_quantity_u64(ak_cur_from(json_string_value(num), json_string_length(num)), number);
}

static json_t *s_head_params(void) { return json_pack("[s,b]", "latest", 0); }

/* One eth_call result as hex data into `ret`. */
static ak_err s_result_data(const json_t *res, ak_buf *ret) {
    AK_ENSURE(json_is_string(res), AK_E_INVALID_INPUT);
    return ak_hex_decode_buf(ak_cur_from(json_string_value(res), json_string_length(res)), true, ret);
}

/* Decodes the answer of view `k` into the snapshot (rc per read). */
static void s_snapshot_decode(int k, const ak_chain_query *q, ak_err rc, const json_t *res,
                              ak_chain_snapshot *out) {
    ak_buf ret;
    ak_buf_init(&ret, 8192);
    if (rc == AK_OK && s_result_data(res, &ret) != AK_OK) rc = AK_E_CHAIN_RPC;
    ak_cur c = ak_buf_cur(&ret);
    uint8_t w[32];
    switch (k) {
        case S_Q_DEVICE:
            if (rc == AK_OK && ak_device_entry_decode(c, &out->device) != AK_OK) rc = AK_E_CHAIN_RPC;
            out->device_rc = rc;
            break;
        case S_Q_ACTOR_OP:
            if (rc == AK_OK && s_decode_word(c, AK_ABI_FIXED_BYTES, 32, out->actor_operator) != AK_OK)
                rc = AK_E_CHAIN_RPC;
            out->actor_operator_rc = rc;
            break;
        case S_Q_IN_SCOPE:
            if (rc == AK_OK && s_decode_word(c, AK_ABI_BOOL, 0, w) != AK_OK) rc = AK_E_CHAIN_RPC;
            out->in_scope = rc == AK_OK && w[31] == 1;
            out->in_scope_rc = rc;
            break;
        case S_Q_SCOPE:
            if (rc == AK_OK && ak_scope_entry_decode(c, q->scope_id, &out->scope) != AK_OK)
                rc = AK_E_CHAIN_RPC;
            out->scope_rc = rc;
            break;
        default: {
            ak_u256 v;
            if (rc == AK_OK && (s_decode_word(c, AK_ABI_UINT, 256, v.be) != AK_OK ||
                                ak_u256_to_u64(&v, &out->epoch) != AK_OK))
                rc = AK_E_CHAIN_RPC;
            out->epoch_rc = rc;
            break;
        }
    }
    ak_buf_free(&ret);
}

/* One POST: [getBlockByNumber(latest), the wanted views pinned at r->head_hash]. *moved = the
 * head is no longer r->head_hash (the cache then holds the new head). */
static ak_err s_snapshot_once(ak_evm_rpc *r, const ak_chain_query *q, ak_chain_snapshot *out, bool *moved) {
    const char *methods[1 + S_Q_N];
    json_t *params[1 + S_Q_N], *results[1 + S_Q_N];
    ak_err rcs[1 + S_Q_N];
    int kind[1 + S_Q_N];
    size_t n = 0;
    const uint8_t *h = r->head_hash;
    methods[n] = "eth_getBlockByNumber";
    params[n] = s_head_params();
    kind[n++] = -1;
    if (q->want_device) {
        ak_abi_val a[] = {ak_abi_bytes32(q->dkh)};
        methods[n] = "eth_call";
        params[n] = s_pinned_call(q->registry, "getDevice(bytes32)", a, 1, h);
        kind[n++] = S_Q_DEVICE;
    }
    if (q->want_actor_operator) {
        ak_abi_val a[] = {ak_abi_bytes32(q->actor)};
        methods[n] = "eth_call";
        params[n] = s_pinned_call(q->registry, "actorOperator(bytes32)", a, 1, h);
        kind[n++] = S_Q_ACTOR_OP;
    }
    if (q->want_in_scope) {
        ak_abi_val a[] = {ak_abi_bytes32(q->op), ak_abi_bytes32(q->agent), ak_abi_bytes32(q->scope_id)};
        methods[n] = "eth_call";
        params[n] = s_pinned_call(q->scope, "isServiceInScope(bytes32,bytes32,bytes32)", a, 3, h);
        kind[n++] = S_Q_IN_SCOPE;
    }
    if (q->want_scope) {
        ak_abi_val a[] = {ak_abi_bytes32(q->op), ak_abi_bytes32(q->agent)};
        methods[n] = "eth_call";
        params[n] = s_pinned_call(q->scope, "getScope(bytes32,bytes32)", a, 2, h);
        kind[n++] = S_Q_SCOPE;
    }
    if (q->want_epoch) {
        methods[n] = "eth_call";
        params[n] = s_pinned_call(q->epoch_counter, "currentEpoch()", NULL, 0, h);
        kind[n++] = S_Q_EPOCH;
    }
    bool built = true;
    for (size_t i = 0; i < n; i++)
        if (params[i] == NULL) built = false;
    if (!built) {
        for (size_t i = 0; i < n; i++)
            json_decref(params[i]);
        return AK_E_NOMEM;
    }
    uint8_t pinned[32];
    memcpy(pinned, r->head_hash, 32);
    uint64_t pinned_number = r->head_number;
    AK_GUARD(ak_evm_rpc_batch(r, n, methods, params, results, rcs));
    out->round_trips++;
    uint8_t head[32];
    uint64_t number = 0;
    ak_err rc = rcs[0];
    if (rc == AK_OK && s_parse_head(results[0], head, &number) != AK_OK)
        rc = s_fail(r, AK_E_CHAIN_RPC, "latest block is malformed");
    if (rc == AK_OK) {
        *moved = !r->head_known || memcmp(head, pinned, 32) != 0;
        memcpy(r->head_hash, head, 32);
        r->head_number = number;
        r->head_known = true;
        memcpy(out->block_hash, pinned, 32);
        out->block_number = pinned_number;
        for (size_t i = 1; i < n; i++)
            s_snapshot_decode(kind[i], q, rcs[i], results[i], out);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(results[i]);
    return rc;
}

static ak_err s_snapshot_read(ak_evm_rpc *r, const ak_chain_query *q, ak_chain_snapshot *out) {
    memset(out, 0, sizeof(*out));
    if (!r->head_known) {
        /* cold: learn the head first (one extra round trip per process) */
        const char *m[1] = {"eth_getBlockByNumber"};
        json_t *p[1] = {s_head_params()}, *res[1];
        ak_err rcs[1];
        AK_ENSURE(p[0] != NULL, AK_E_NOMEM);
        AK_GUARD(ak_evm_rpc_batch(r, 1, m, p, res, rcs));
        out->round_trips++;
        ak_err rc = rcs[0];
        if (rc == AK_OK && s_parse_head(res[0], r->head_hash, &r->head_number) != AK_OK)
            rc = s_fail(r, AK_E_CHAIN_RPC, "latest block is malformed");
        json_decref(res[0]);
        AK_GUARD(rc);
        r->head_known = true;
    }
    for (int attempt = 0;; attempt++) {
        /* a discarded attempt leaves nothing behind */
        unsigned trips = out->round_trips;
        memset(out, 0, sizeof(*out));
        out->round_trips = trips;
        out->device_rc = out->actor_operator_rc = out->in_scope_rc = out->scope_rc = out->epoch_rc =
            AK_E_NOT_FOUND;
        bool moved = false;
        AK_GUARD(s_snapshot_once(r, q, out, &moved));
        /* the pinned block is the head, or was one round trip ago (after a cold start or a move) */
        if (!moved || attempt == 1 || trips > 0) return AK_OK;
    }
}

/*
 * The JSON of a snapshot (the batch request, the node's answer: a few hundred small values) is
 * built in an arena of its own instead of the heap: on a warm worker that was most of the
 * process's allocations per request, and musl's allocator mapped and unmapped a page group for
 * them on every request. Every tree is released before the window closes (s_snapshot_once
 * drops the results it decoded); the transport runs outside the window (s_transport). The
 * arena's chunk comes from, and goes back to, ak_malloc's block cache; it is wiped on free.
 */
ak_err ak_chain_snapshot_read(ak_evm_rpc *r, const ak_chain_query *q, ak_chain_snapshot *out) {
    AK_PRECOND(r != NULL && q != NULL && out != NULL);
    AK_PRECOND(!(q->want_device || q->want_actor_operator) || q->registry != NULL);
    AK_PRECOND(!(q->want_in_scope || q->want_scope) || q->scope != NULL);
    AK_PRECOND(!q->want_epoch || q->epoch_counter != NULL);
    ak_arena arena;
    ak_arena_init(&arena, S_SNAPSHOT_ARENA_MAX);
    ak_jansson_pause outer = ak_alloc_jansson_pause(); /* a caller's window, if any, comes back as it was */
    (void)ak_alloc_jansson_arena(&arena, S_SNAPSHOT_ARENA_MAX);
    ak_err rc = s_snapshot_read(r, q, out);
    ak_alloc_jansson_resume(outer);
    ak_arena_free(&arena);
    return rc;
}

void ak_scope_id(ak_cur data_class, ak_cur service, uint8_t out[32]) {
    ak_keccak_ctx c;
    ak_keccak256_init(&c);
    ak_keccak256_update(&c, data_class.ptr, data_class.len);
    ak_keccak256_update(&c, ":", 1);
    ak_keccak256_update(&c, service.ptr, service.len);
    ak_keccak256_final(&c, out);
}
