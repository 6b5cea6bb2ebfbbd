/*
 * evmtool — a small CLI over ak/evm.h and ak/abi.h, used by tests/e2e/evm_anvil_test.sh to
 * cross-check our C code against foundry's `cast` on anvil, and handy for operator scripts.
 *
 *   evmtool chain-id     --rpc URL
 *   evmtool block-number --rpc URL
 *   evmtool nonce        --rpc URL ADDRESS          (pending)
 *   evmtool balance      --rpc URL ADDRESS          (wei, decimal)
 *   evmtool send         --rpc URL --key-env VAR --to ADDRESS --value WEI [--legacy] [--data HEX]
 *                        signs in C, sends, waits for the receipt; prints the tx hash and status
 *                        (EIP-1559 through ak/chain.h, a revert printed in words; --legacy: an
 *                        EIP-155 transaction built here)
 *   evmtool call         --rpc URL --to ADDRESS SIG [ARGS…]   eth_call; prints the return data hex
 *   evmtool selector     SIG
 *   evmtool calldata     SIG [ARGS…]                like `cast calldata`
 *   evmtool abi-decode   SIG DATA                   like `cast abi-decode --json` ("f()(types)")
 *   evmtool errors                                  our contracts' custom errors: "0xSELECTOR Name(types)"
 *   evmtool revert       HEX                        revert data in words (ak_chain_revert_text)
 *
 * ARGS use cast's text forms: uintN decimal or 0x hex, true/false, 0x addresses and bytes, raw
 * strings, "[a,b]" arrays and "(a,b)" tuples. The private key is read from an environment
 * variable (never from argv, which other users can see in ps). Exit status 0 on success, 1 on an
 * error (the reason code is printed to stderr), 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ak/abi.h"
#include "ak/alloc.h"
#include "ak/chain.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/evm.h"
#include "ak/http.h"
#include "ak/json.h"

static int s_usage(void) {
    fprintf(stderr,
            "usage: evmtool chain-id|block-number|nonce|balance|send|call|selector|calldata|abi-decode …\n"
            "(see the comment at the top of shared/tools/evmtool.c)\n");
    return 2;
}

static int s_fail(const char *what, ak_err e, const ak_evm_rpc *rpc) {
    fprintf(stderr, "evmtool: %s: %s", what, ak_err_reason(e));
    if (rpc != NULL && rpc->err_msg[0] != '\0') fprintf(stderr, " (%s)", rpc->err_msg);
    fprintf(stderr, "\n");
    return 1;
}

/* ---- argument text -> ABI values (tool-local; cast's forms) ---- */

/* Splits "[a,b,(c,d)]" / "(a,b)" contents at top-level commas. Returns the count (max cap). */
static size_t s_split_list(ak_cur inner, ak_cur *parts, size_t cap) {
    size_t n = 0, start = 0, lvl = 0;
    if (inner.len == 0) return 0;
    for (size_t i = 0; i <= inner.len; i++) {
        uint8_t c = i < inner.len ? inner.ptr[i] : ',';
        if (c == '[' || c == '(')
            lvl++;
        else if (c == ']' || c == ')')
            lvl--;
        else if (c == ',' && lvl == 0) {
            if (n < cap) parts[n] = ak_cur_trim(ak_cur_from(inner.ptr + start, i - start));
            n++;
            start = i + 1;
        }
    }
    return n;
}

static ak_err s_parse_arg(ak_arena *a, const ak_abi_type *t, ak_cur text, ak_abi_val *out) {
    memset(out, 0, sizeof(*out));
    out->kind = t->kind;
    out->size = t->size;
    switch (t->kind) {
        case AK_ABI_UINT: {
            ak_u256 v;
            if (text.len > 2 && text.ptr[0] == '0' && text.ptr[1] == 'x')
                AK_GUARD(ak_eth_parse_quantity(text, &v));
            else
                AK_GUARD(ak_u256_from_dec(text, &v));
            memcpy(out->word, v.be, 32);
            return AK_OK;
        }
        case AK_ABI_BOOL:
            AK_ENSURE(ak_cur_eq_str(text, "true") || ak_cur_eq_str(text, "false"), AK_E_INVALID_INPUT);
            out->word[31] = ak_cur_eq_str(text, "true");
            return AK_OK;
        case AK_ABI_ADDRESS:
            return ak_eth_address_parse(text, out->word + 12);
        case AK_ABI_FIXED_BYTES:
            return ak_hex_decode_exact(text, true, out->word, t->size);
        case AK_ABI_BYTES: {
            ak_buf b;
            ak_buf_init(&b, 1u << 20);
            ak_err rc = ak_hex_decode_buf(text, true, &b);
            uint8_t *copy = rc == AK_OK ? ak_arena_alloc(a, b.len + 1) : NULL;
            if (copy != NULL) memcpy(copy, b.ptr, b.len);
            out->data = ak_cur_from(copy, b.len);
            ak_buf_free(&b);
            AK_GUARD(rc);
            return copy != NULL ? AK_OK : AK_E_NOMEM;
        }
        case AK_ABI_STRING:
            out->data = text;
            return AK_OK;
        case AK_ABI_ARRAY:
        case AK_ABI_TUPLE: {
            uint8_t open = t->kind == AK_ABI_ARRAY ? '[' : '(', close = t->kind == AK_ABI_ARRAY ? ']' : ')';
            AK_ENSURE(text.len >= 2 && text.ptr[0] == open && text.ptr[text.len - 1] == close,
                      AK_E_INVALID_INPUT);
            ak_cur inner = ak_cur_from(text.ptr + 1, text.len - 2);
            size_t n = s_split_list(inner, NULL, 0);
            ak_cur *parts = n ? ak_arena_alloc(a, n * sizeof(ak_cur)) : NULL;
            ak_abi_val *items = n ? ak_arena_alloc(a, n * sizeof(ak_abi_val)) : NULL;
            AK_ENSURE(n == 0 || (parts != NULL && items != NULL), AK_E_NOMEM);
            s_split_list(inner, parts, n);
            if (t->kind == AK_ABI_TUPLE) AK_ENSURE(n == t->count, AK_E_INVALID_INPUT);
            for (size_t i = 0; i < n; i++)
                AK_GUARD(
                    s_parse_arg(a, t->kind == AK_ABI_ARRAY ? t->elem : &t->members[i], parts[i], &items[i]));
            out->items = items;
            out->count = n;
            return AK_OK;
        }
        default:
            return AK_E_INVALID_INPUT;
    }
}

/* Encodes SIG + argv[] into `out` (selector first). */
static ak_err s_calldata(ak_arena *a, const char *sig, char **argv, int argc, ak_buf *out) {
    ak_cur name;
    ak_abi_type params, rets;
    bool has_rets;
    AK_GUARD(ak_abi_parse_signature(a, ak_cur_from_str(sig), &name, &params, &rets, &has_rets));
    AK_ENSURE((size_t)argc == params.count, AK_E_INVALID_INPUT);
    ak_abi_val *vals = params.count ? ak_arena_alloc(a, params.count * sizeof(ak_abi_val)) : NULL;
    AK_ENSURE(params.count == 0 || vals != NULL, AK_E_NOMEM);
    for (size_t i = 0; i < params.count; i++)
        AK_GUARD(s_parse_arg(a, &params.members[i], ak_cur_from_str(argv[i]), &vals[i]));
    return ak_abi_encode_call(sig, vals, params.count, out);
}

/* ---- decoded values -> JSON in cast's `abi-decode --json` shape ---- */

static json_t *s_hex_json(const uint8_t *p, size_t n) {
    ak_buf b;
    ak_buf_init(&b, 2 * n + 3);
    json_t *j = NULL;
    if (ak_buf_append_str(&b, "0x") == AK_OK && ak_buf_append_hex(&b, p, n) == AK_OK)
        j = json_stringn((const char *)b.ptr, b.len);
    ak_buf_free(&b);
    return j;
}

static json_t *s_to_json(const ak_abi_val *v) {
    switch (v->kind) {
        case AK_ABI_UINT: {
            ak_u256 u;
            memcpy(u.be, v->word, 32);
            uint64_t small;
            if (ak_u256_to_u64(&u, &small) == AK_OK && small <= (1ULL << 53))
                return json_integer((json_int_t)small);
            ak_buf b;
            ak_buf_init(&b, 100);
            json_t *j = ak_u256_append_dec(&u, &b) == AK_OK ? json_stringn((const char *)b.ptr, b.len) : NULL;
            ak_buf_free(&b);
            return j;
        }
        case AK_ABI_BOOL:
            return json_boolean(v->word[31] == 1);
        case AK_ABI_ADDRESS:
            return s_hex_json(v->word + 12, 20);
        case AK_ABI_FIXED_BYTES:
            return s_hex_json(v->word, v->size);
        case AK_ABI_BYTES:
            return s_hex_json(v->data.ptr, v->data.len);
        case AK_ABI_STRING:
            return json_stringn((const char *)v->data.ptr, v->data.len);
        case AK_ABI_ARRAY:
        case AK_ABI_TUPLE: {
            json_t *arr = json_array();
            for (size_t i = 0; arr != NULL && i < v->count; i++) {
                json_t *x = s_to_json(&v->items[i]);
                if (x == NULL || json_array_append_new(arr, x) != 0) {
                    json_decref(arr);
                    arr = NULL;
                }
            }
            return arr;
        }
        default:
            return NULL;
    }
}

static int s_abi_decode(const char *sig, const char *hex) {
    ak_arena a;
    ak_arena_init(&a, 64u << 20);
    ak_buf data, out;
    ak_buf_init(&data, 16u << 20);
    ak_buf_init(&out, 64u << 20);
    int ret = 1;
    ak_cur name;
    ak_abi_type params, rets;
    bool has_rets;
    ak_abi_val v;
    ak_err rc = ak_abi_parse_signature(&a, ak_cur_from_str(sig), &name, &params, &rets, &has_rets);
    if (rc == AK_OK && !has_rets) rc = AK_E_INVALID_INPUT;
    if (rc == AK_OK) rc = ak_hex_decode_buf(ak_cur_from_str(hex), true, &data);
    if (rc == AK_OK) rc = ak_abi_decode(&a, &rets, ak_buf_cur(&data), &v);
    json_t *j = rc == AK_OK ? s_to_json(&v) : NULL;
    if (rc == AK_OK && j == NULL) rc = AK_E_NOMEM;
    if (rc == AK_OK) rc = ak_json_dump(j, &out);
    if (rc == AK_OK) {
        printf("%s\n", ak_buf_cstr(&out));
        ret = 0;
    } else {
        s_fail("abi-decode", rc, NULL);
    }
    json_decref(j);
    ak_buf_free(&data);
    ak_buf_free(&out);
    ak_arena_free(&a);
    return ret;
}

/* `errors`: the custom-error table (ak_chain_custom_errors), one "0xSELECTOR Name(types)" a line,
 * for the check against the compiled ABI in tests/e2e/cli_operator_test.sh. */
static int s_errors(void) {
    ak_buf sig;
    ak_buf_init(&sig, 1024);
    int ret = 0;
    for (const ak_chain_error_def *e = ak_chain_custom_errors; e->decl != NULL; e++) {
        uint8_t sel[4];
        ak_buf_clear(&sig);
        if (ak_chain_error_signature(e->decl, &sig) != AK_OK || ak_buf_append_byte(&sig, 0) != AK_OK ||
            ak_abi_selector((const char *)sig.ptr, sel, NULL) != AK_OK) {
            ret = 1;
            break;
        }
        printf("0x%02x%02x%02x%02x %s\n", sel[0], sel[1], sel[2], sel[3], (const char *)sig.ptr);
    }
    ak_buf_free(&sig);
    return ret;
}

/* `revert HEX`: revert data in words. */
static int s_revert(const char *hex) {
    ak_buf d, out;
    ak_buf_init(&d, 1u << 20);
    ak_buf_init(&out, 1u << 16);
    ak_err rc = ak_hex_decode_buf(ak_cur_from_str(hex), true, &d);
    if (rc == AK_OK) rc = ak_chain_revert_text(ak_buf_cur(&d), &out);
    if (rc == AK_OK) printf("%s\n", ak_buf_cstr(&out));
    ak_buf_free(&d);
    ak_buf_free(&out);
    return rc == AK_OK ? 0 : s_fail("revert", rc, NULL);
}

static int s_print_hex(const ak_buf *b) {
    ak_buf h;
    ak_buf_init(&h, 2 * b->len + 3);
    if (ak_buf_append_str(&h, "0x") != AK_OK || ak_buf_append_hex(&h, b->ptr, b->len) != AK_OK) {
        ak_buf_free(&h);
        return 1;
    }
    printf("%s\n", ak_buf_cstr(&h));
    ak_buf_free(&h);
    return 0;
}

/* ---- chain commands ---- */

typedef struct {
    const char *rpc, *key_env, *to, *value, *data;
    bool legacy;
    int nargs;
    char **args;
} s_opts;

static bool s_parse_opts(int argc, char **argv, s_opts *o) {
    memset(o, 0, sizeof(*o));
    o->args = argv;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--rpc") == 0)
            slot = &o->rpc;
        else if (strcmp(a, "--key-env") == 0)
            slot = &o->key_env;
        else if (strcmp(a, "--to") == 0)
            slot = &o->to;
        else if (strcmp(a, "--value") == 0)
            slot = &o->value;
        else if (strcmp(a, "--data") == 0)
            slot = &o->data;
        else if (strcmp(a, "--legacy") == 0) {
            o->legacy = true;
            continue;
        } else {
            argv[o->nargs++] = argv[i]; /* positional, compacted in place */
            continue;
        }
        if (i + 1 >= argc) return false;
        *slot = argv[++i];
    }
    return true;
}

/* Legacy transactions (--legacy, kept for the cross-check against cast) are built here; the
 * default EIP-1559 path is libak's ak_chain_send (estimate, sign, send, bounded wait, revert in
 * words), the same code the agentkeys CLI uses. */
static int s_send(ak_evm_rpc *rpc, const s_opts *o) {
    const char *key_hex = o->key_env ? getenv(o->key_env) : NULL;
    if (key_hex == NULL || o->to == NULL || o->value == NULL) return s_usage();
    uint8_t key[32], pub[65], from[20], to[20];
    ak_eth_tx tx;
    memset(&tx, 0, sizeof(tx));
    ak_buf raw, data;
    ak_buf_init(&raw, 1u << 20);
    ak_buf_init(&data, 1u << 20);
    int ret = 1;
    ak_err rc;
    const char *step = "key";
#define STEP(name, expr)                                                                                     \
    do {                                                                                                     \
        step = (name);                                                                                       \
        rc = (expr);                                                                                         \
        if (rc != AK_OK) goto out;                                                                           \
    } while (0)
    STEP("key", ak_hex_decode_exact(ak_cur_from_str(key_hex), true, key, 32));
    STEP("key", ak_secp256k1_pubkey(key, pub));
    ak_eth_address_from_pub(pub, from);
    STEP("--to", ak_eth_address_parse(ak_cur_from_str(o->to), to));
    STEP("--value", ak_u256_from_dec(ak_cur_from_str(o->value), &tx.value));
    if (o->data != NULL) STEP("--data", ak_hex_decode_buf(ak_cur_from_str(o->data), true, &data));
    char hh[65];
    if (!o->legacy) {
        ak_chain_result r;
        ak_chain_send_opts so = {.value = tx.value, .wait_ms = 30000, .poll_ms = 100};
        step = "send";
        rc = ak_chain_send(rpc, key, to, ak_buf_cur(&data), &so, &r);
        if (rc == AK_E_CHAIN_REVERTED) fprintf(stderr, "evmtool: reverted: %s\n", r.reason);
        if (rc != AK_OK && rc != AK_E_CHAIN_REVERTED) goto out;
        ak_hex_encode(r.tx_hash, 32, hh);
        if (r.sent)
            printf("tx 0x%s type 2 nonce %llu block %llu gas %llu status %s\n", hh,
                   (unsigned long long)r.nonce, (unsigned long long)r.receipt.block_number,
                   (unsigned long long)r.receipt.gas_used, r.reverted ? "reverted" : "success");
        ret = rc == AK_OK ? 0 : 1;
        rc = AK_OK;
        goto out;
    }
    memcpy(tx.to, to, 20);
    tx.has_to = true;
    tx.data = ak_buf_cur(&data);
    STEP("eth_chainId", ak_eth_chain_id(rpc, &tx.chain_id));
    STEP("eth_getTransactionCount", ak_eth_get_transaction_count(rpc, from, "pending", &tx.nonce));
    STEP("eth_gasPrice", ak_eth_gas_price(rpc, &tx.gas_price));
    tx.gas_limit = o->data != NULL ? 200000 : 21000;
    tx.type = AK_ETH_TX_LEGACY;
    uint8_t h[32], sent[32];
    STEP("sign", ak_eth_tx_sign(&tx, key, &raw, h));
    STEP("eth_sendRawTransaction", ak_eth_send_raw_transaction(rpc, ak_buf_cur(&raw), sent));
    ak_eth_receipt r;
    STEP("receipt", ak_eth_wait_receipt(rpc, sent, ak_http_now_ms() + 30000, 100, &r));
    ak_hex_encode(h, 32, hh);
    printf("tx 0x%s type %d nonce %llu block %llu status %s\n", hh, (int)tx.type,
           (unsigned long long)tx.nonce, (unsigned long long)r.block_number,
           r.success ? "success" : "reverted");
    ret = r.success ? 0 : 1;
out:
#undef STEP
    if (ret != 0 && rc != AK_OK) s_fail(step, rc, rpc);
    ak_wipe(key, sizeof(key));
    ak_buf_free(&raw);
    ak_buf_free(&data);
    return ret;
}

static int s_chain(const char *cmd, s_opts *o) {
    if (o->rpc == NULL) return s_usage();
    ak_http *http = NULL;
    ak_http_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    ak_err rc = ak_http_new(&cfg, &http);
    if (rc != AK_OK) return s_fail("http", rc, NULL);
    ak_evm_rpc rpc;
    ak_evm_rpc_init(&rpc, http, o->rpc);
    int ret = 1;
    if (strcmp(cmd, "chain-id") == 0 || strcmp(cmd, "block-number") == 0) {
        uint64_t v = 0;
        rc = strcmp(cmd, "chain-id") == 0 ? ak_eth_chain_id(&rpc, &v) : ak_eth_block_number(&rpc, &v);
        if (rc == AK_OK) printf("%llu\n", (unsigned long long)v);
    } else if ((strcmp(cmd, "nonce") == 0 || strcmp(cmd, "balance") == 0) && o->nargs == 1) {
        uint8_t addr[20];
        rc = ak_eth_address_parse(ak_cur_from_str(o->args[0]), addr);
        if (rc == AK_OK && strcmp(cmd, "nonce") == 0) {
            uint64_t n = 0;
            rc = ak_eth_get_transaction_count(&rpc, addr, "pending", &n);
            if (rc == AK_OK) printf("%llu\n", (unsigned long long)n);
        } else if (rc == AK_OK) {
            ak_u256 bal;
            ak_buf b;
            ak_buf_init(&b, 100);
            rc = ak_eth_get_balance(&rpc, addr, "latest", &bal);
            if (rc == AK_OK) rc = ak_u256_append_dec(&bal, &b);
            if (rc == AK_OK) printf("%s\n", ak_buf_cstr(&b));
            ak_buf_free(&b);
        }
    } else if (strcmp(cmd, "send") == 0) {
        ret = s_send(&rpc, o);
        goto done;
    } else if (strcmp(cmd, "call") == 0 && o->nargs >= 1 && o->to != NULL) {
        ak_arena a;
        ak_arena_init(&a, 16u << 20);
        ak_buf cd, out;
        ak_buf_init(&cd, 1u << 20);
        ak_buf_init(&out, 16u << 20);
        uint8_t to[20];
        rc = ak_eth_address_parse(ak_cur_from_str(o->to), to);
        if (rc == AK_OK) rc = s_calldata(&a, o->args[0], o->args + 1, o->nargs - 1, &cd);
        if (rc == AK_OK) rc = ak_eth_call(&rpc, to, ak_buf_cur(&cd), "latest", &out);
        if (rc == AK_OK)
            s_print_hex(&out);
        else if (rpc.reverted)
            fprintf(stderr, "evmtool: reverted, %zu bytes of revert data\n", rpc.revert_data.len);
        ak_buf_free(&cd);
        ak_buf_free(&out);
        ak_arena_free(&a);
    } else {
        ret = s_usage();
        goto done;
    }
    ret = rc == AK_OK ? 0 : s_fail(cmd, rc, &rpc);
done:
    ak_evm_rpc_free(&rpc);
    ak_http_free(http);
    ak_http_global_cleanup();
    return ret;
}

int main(int argc, char **argv) {
    ak_alloc_install_jansson();
    if (argc < 2) return s_usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "selector") == 0 && argc == 3) {
        uint8_t sel[4];
        ak_err rc = ak_abi_selector(argv[2], sel, NULL);
        if (rc != AK_OK) return s_fail("selector", rc, NULL);
        printf("0x%02x%02x%02x%02x\n", sel[0], sel[1], sel[2], sel[3]);
        return 0;
    }
    if (strcmp(cmd, "calldata") == 0 && argc >= 3) {
        ak_arena a;
        ak_arena_init(&a, 16u << 20);
        ak_buf out;
        ak_buf_init(&out, 16u << 20);
        ak_err rc = s_calldata(&a, argv[2], argv + 3, argc - 3, &out);
        int ret = rc == AK_OK ? s_print_hex(&out) : s_fail("calldata", rc, NULL);
        ak_buf_free(&out);
        ak_arena_free(&a);
        return ret;
    }
    if (strcmp(cmd, "abi-decode") == 0 && argc == 4) return s_abi_decode(argv[2], argv[3]);
    if (strcmp(cmd, "errors") == 0 && argc == 2) return s_errors();
    if (strcmp(cmd, "revert") == 0 && argc == 3) return s_revert(argv[2]);
    s_opts o;
    if (!s_parse_opts(argc - 2, argv + 2, &o)) return s_usage();
    return s_chain(cmd, &o);
}
