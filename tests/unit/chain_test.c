/*
 * chain_test.c — ak/chain.h: the custom-error table against the contracts' sources (it cannot
 * drift: every `error` declaration of contracts/src/<name>.sol is in the table and nothing else
 * is), revert data in words (Error(string), Panic, custom errors with arguments, unknown and
 * malformed data), and ak_chain_send against a scripted node: estimate, EIP-1559 signing, the
 * progress callback, the bounded wait, a revert in the estimate (nothing sent) and a mined
 * failure replayed for its reason.
 */
#include "test.h"

#include <dirent.h>
#include <stdlib.h>

#include <jansson.h>

#include "ak/chain.h"
#include "ak/crypto.h"
#include "ak/json.h"

/* ---- the table against contracts/src ---- */

/* "Name(type a, type b)" with the spaces after commas removed, so formatting cannot matter. */
static void s_norm(const char *in, size_t n, ak_buf *out) {
    for (size_t i = 0; i < n; i++) {
        if (in[i] == ' ' && i > 0 && in[i - 1] == ',') continue;
        if (ak_buf_append_byte(out, (uint8_t)in[i]) != AK_OK) fail_msg("buf");
    }
    if (ak_buf_append_byte(out, '\n') != AK_OK) fail_msg("buf");
}

static const char *s_src_dir(void) {
    static char path[1024];
    const char *env = getenv("AK_CONTRACTS_SRC");
    if (env != NULL) return env;
    /* the unit tests run from the repository root (tests/run-all.sh) */
    snprintf(path, sizeof(path), "contracts/src");
    return path;
}

static int s_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted, deduplicated lines of `b` joined back (in place). */
static void s_sort_lines(ak_buf *b, ak_buf *out) {
    char *lines[256];
    size_t n = 0;
    if (ak_buf_append_byte(b, 0) != AK_OK) fail_msg("buf");
    for (char *p = (char *)b->ptr; *p != 0 && n < 256;) {
        char *nl = strchr(p, '\n');
        if (nl == NULL) break;
        *nl = 0;
        lines[n++] = p;
        p = nl + 1;
    }
    qsort(lines, n, sizeof(char *), s_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(lines[i], lines[i - 1]) == 0) continue;
        if (ak_buf_printf(out, "%s\n", lines[i]) != AK_OK) fail_msg("buf");
    }
}

AK_TEST(test_table_matches_contract_sources) {
    ak_buf src, tab, a, b;
    ak_buf_init(&src, 1u << 20);
    ak_buf_init(&tab, 1u << 20);
    ak_buf_init(&a, 1u << 20);
    ak_buf_init(&b, 1u << 20);
    DIR *d = opendir(s_src_dir());
    if (d == NULL)
        fail_msg("cannot open %s (run from the repository root or set AK_CONTRACTS_SRC)", s_src_dir());
    size_t files = 0, decls = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".sol") != 0) continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", s_src_dir(), e->d_name);
        ak_buf f;
        ak_buf_init(&f, 1u << 22);
        ak_test_read_file(path, &f);
        files++;
        const char *p = (const char *)f.ptr, *end = p + f.len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL) nl = end;
            const char *q = p;
            while (q < nl && (*q == ' ' || *q == '\t'))
                q++;
            if (nl - q > 7 && memcmp(q, "error ", 6) == 0) {
                const char *semi = memchr(q, ';', (size_t)(nl - q));
                if (semi == NULL) fail_msg("multi-line error declaration in %s: extend this parser", path);
                s_norm(q + 6, (size_t)(semi - q - 6), &src);
                decls++;
            }
            p = nl + 1;
        }
        ak_buf_free(&f);
    }
    closedir(d);
    EXPECT_TRUE(files >= 5);
    EXPECT_TRUE(decls >= 30);
    size_t rows = 0;
    for (const ak_chain_error_def *r = ak_chain_custom_errors; r->decl != NULL; r++, rows++) {
        s_norm(r->decl, strlen(r->decl), &tab);
        EXPECT_TRUE(r->words != NULL && strlen(r->words) > 5);
    }
    s_sort_lines(&src, &a);
    s_sort_lines(&tab, &b);
    if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0)
        fail_msg("ak_chain_custom_errors differs from contracts/src:\n--- sources\n%.*s--- table\n%.*s",
                 (int)a.len, (const char *)a.ptr, (int)b.len, (const char *)b.ptr);
    /* no duplicate rows in the table itself */
    size_t uniq = 0;
    for (size_t i = 0; i < b.len; i++)
        uniq += b.ptr[i] == '\n';
    EXPECT_INT_EQ(uniq, rows);
    ak_buf_free(&src);
    ak_buf_free(&tab);
    ak_buf_free(&a);
    ak_buf_free(&b);
}

AK_TEST(test_error_signature) {
    ak_buf b;
    ak_buf_init(&b, 256);
    EXPECT_OK(ak_chain_error_signature("StaleSignCount(uint32 got, uint32 last)", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "StaleSignCount(uint32,uint32)");
    ak_buf_clear(&b);
    EXPECT_OK(ak_chain_error_signature("InvalidSignature()", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "InvalidSignature()");
    ak_buf_clear(&b);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_chain_error_signature("NoParens", &b));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_chain_error_signature("(uint8 x)", &b));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_chain_error_signature("X(uint8 a) trailing", &b));
    EXPECT_INT_EQ(b.len, 0);
    ak_buf_free(&b);
}

/* ---- revert data in words ---- */

static void s_words(const char *hex, const char *want) {
    ak_buf data, out;
    ak_buf_init(&data, 4096);
    ak_buf_init(&out, 4096);
    EXPECT_OK(ak_hex_decode_buf(ak_cur_from_str(hex), true, &data));
    EXPECT_OK(ak_chain_revert_text(ak_buf_cur(&data), &out));
    EXPECT_STR_EQ(ak_buf_cstr(&out), want);
    ak_buf_free(&data);
    ak_buf_free(&out);
}

#define ZERO31 "00000000000000000000000000000000000000000000000000000000000000"

AK_TEST(test_revert_words) {
    s_words("0x", "reverted without a reason");
    s_words("0x0102", "reverted with malformed data 0x0102");
    /* Error("nope") */
    s_words("0x08c379a0"
            "0000000000000000000000000000000000000000000000000000000000000020"
            "0000000000000000000000000000000000000000000000000000000000000004"
            "6e6f706500000000000000000000000000000000000000000000000000000000",
            "reverted: nope");
    s_words("0x08c379a000", "reverted: (malformed Error(string))");
    /* Panic(0x11) */
    s_words("0x4e487b71" ZERO31 "11", "panic 0x11: arithmetic overflow or underflow");
    /* StaleSignCount(3, 5): selector = keccak("StaleSignCount(uint32,uint32)")[0..4] */
    uint8_t sel[4];
    EXPECT_OK(ak_abi_selector("StaleSignCount(uint32,uint32)", sel, NULL));
    char hex[512];
    snprintf(hex, sizeof(hex), "0x%02x%02x%02x%02x" ZERO31 "03" ZERO31 "05", sel[0], sel[1], sel[2], sel[3]);
    s_words(hex,
            "StaleSignCount(got=3, last=5): the passkey's sign count is not above the last one the chain "
            "accepted (replayed or cloned passkey)");
    /* the same with a missing argument word */
    snprintf(hex, sizeof(hex), "0x%02x%02x%02x%02x" ZERO31 "03", sel[0], sel[1], sel[2], sel[3]);
    s_words(hex,
            "StaleSignCount(got=3, last=?) (malformed arguments): the passkey's sign count is not above the "
            "last one the chain accepted (replayed or cloned passkey)");
    /* NotSignerGovernance(address, address) */
    EXPECT_OK(ak_abi_selector("NotSignerGovernance(address,address)", sel, NULL));
    snprintf(hex, sizeof(hex),
             "0x%02x%02x%02x%02x"
             "000000000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "000000000000000000000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
             sel[0], sel[1], sel[2], sel[3]);
    s_words(hex,
            "NotSignerGovernance(caller=0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, "
            "expected=0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb): only the signer governance wallet may "
            "change the key epoch");
    /* InvalidSignature() */
    EXPECT_OK(ak_abi_selector("InvalidSignature()", sel, NULL));
    snprintf(hex, sizeof(hex), "0x%02x%02x%02x%02x", sel[0], sel[1], sel[2], sel[3]);
    s_words(hex, "InvalidSignature(): the passkey signature does not verify against the registered passkey");
    s_words("0xdeadbeef00", "unknown error 0xdeadbeef (1 bytes of arguments)");
    /* every row decodes to its own name */
    ak_buf sig, data, out;
    ak_buf_init(&sig, 512);
    ak_buf_init(&data, 4096);
    ak_buf_init(&out, 4096);
    for (const ak_chain_error_def *r = ak_chain_custom_errors; r->decl != NULL; r++) {
        ak_buf_clear(&sig);
        ak_buf_clear(&data);
        ak_buf_clear(&out);
        EXPECT_OK(ak_chain_error_signature(r->decl, &sig));
        EXPECT_OK(ak_buf_append_byte(&sig, 0));
        EXPECT_OK(ak_abi_selector((const char *)sig.ptr, sel, NULL));
        EXPECT_OK(ak_buf_append(&data, sel, 4));
        uint8_t zero[32 * 3] = {0};
        EXPECT_OK(ak_buf_append(&data, zero, sizeof(zero)));
        EXPECT_OK(ak_chain_revert_text(ak_buf_cur(&data), &out));
        size_t nl = (size_t)(strchr(r->decl, '(') - r->decl);
        EXPECT_TRUE(out.len > nl && memcmp(out.ptr, r->decl, nl) == 0 && out.ptr[nl] == '(');
        EXPECT_TRUE(strstr(ak_buf_cstr(&out), r->words) != NULL);
    }
    ak_buf_free(&sig);
    ak_buf_free(&data);
    ak_buf_free(&out);
}

/* ---- ak_chain_send against a scripted node ---- */

typedef struct {
    const char *estimate; /* JSON member for eth_estimateGas */
    int pending_polls;    /* receipts that are null before the real one */
    const char *status;   /* receipt status */
    const char *replay;   /* JSON member for the replay eth_call */
    int calls, sends, polls, replays;
    char tx_hash[67];
    json_t *raw_tx;
} s_node;

static ak_err s_node_transport(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    (void)deadline_ms;
    s_node *n = ctx;
    json_t *req = NULL;
    if (ak_json_parse_object(request, &req) != AK_OK) fail_msg("request is not JSON");
    const char *m = json_string_value(json_object_get(req, "method"));
    json_int_t id = json_integer_value(json_object_get(req, "id"));
    json_t *params = json_object_get(req, "params");
    char member[1024];
    n->calls++;
    if (strcmp(m, "eth_chainId") == 0) {
        snprintf(member, sizeof(member), "\"result\":\"0x7a69\"");
    } else if (strcmp(m, "eth_estimateGas") == 0) {
        if (json_object_get(json_array_get(params, 0), "from") == NULL) fail_msg("estimate without from");
        snprintf(member, sizeof(member), "%s", n->estimate);
    } else if (strcmp(m, "eth_getTransactionCount") == 0) {
        snprintf(member, sizeof(member), "\"result\":\"0x7\"");
    } else if (strcmp(m, "eth_gasPrice") == 0) {
        snprintf(member, sizeof(member), "\"result\":\"0x3b9aca00\"");
    } else if (strcmp(m, "eth_sendRawTransaction") == 0) {
        n->sends++;
        const char *raw = json_string_value(json_array_get(params, 0));
        ak_buf b;
        ak_buf_init(&b, 1u << 16);
        if (ak_hex_decode_buf(ak_cur_from_str(raw), true, &b) != AK_OK) fail_msg("raw tx hex");
        if (b.len == 0 || b.ptr[0] != 0x02) fail_msg("not an EIP-1559 (type 2) transaction");
        uint8_t h[32];
        ak_keccak256(b.ptr, b.len, h);
        ak_buf_free(&b);
        n->tx_hash[0] = '0';
        n->tx_hash[1] = 'x';
        ak_hex_encode(h, 32, n->tx_hash + 2);
        snprintf(member, sizeof(member), "\"result\":\"%s\"", n->tx_hash);
    } else if (strcmp(m, "eth_getTransactionReceipt") == 0) {
        if (n->polls++ < n->pending_polls)
            snprintf(member, sizeof(member), "\"result\":null");
        else
            snprintf(
                member, sizeof(member),
                "\"result\":{\"transactionHash\":\"%s\",\"blockHash\":\"0x%064d\",\"blockNumber\":\"0x9\","
                "\"gasUsed\":\"0xa410\",\"status\":\"%s\",\"contractAddress\":null,\"logs\":[]}",
                n->tx_hash, 1, n->status);
    } else if (strcmp(m, "eth_call") == 0) {
        n->replays++;
        if (!json_is_string(json_array_get(params, 1)) ||
            strcmp(json_string_value(json_array_get(params, 1)), "0x8") != 0)
            fail_msg("the replay must run at the block before the receipt's");
        snprintf(member, sizeof(member), "%s", n->replay);
    } else {
        fail_msg("unexpected method %s", m);
    }
    json_decref(req);
    *status = 200;
    return ak_buf_printf(body, "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}", (long long)id, member);
}

typedef struct {
    int stages[8];
    int64_t last_elapsed;
} s_seen;

static void s_on_progress(void *ud, ak_chain_stage st, const uint8_t h[32], int64_t ms) {
    (void)h;
    s_seen *s = ud;
    if ((int)st < 8) s->stages[st]++;
    s->last_elapsed = ms;
}

static void s_node_rpc(ak_evm_rpc *rpc, s_node *n) {
    ak_evm_rpc_init(rpc, NULL, "http://unused.invalid/");
    rpc->transport = s_node_transport;
    rpc->transport_ctx = n;
}

#define REVERT_INVALID_SIG "\"error\":{\"code\":3,\"message\":\"execution reverted\",\"data\":\"0x8baa579f\"}"
/* anvil quotes a custom error's raw argument bytes in the message, NULs included */
#define REVERT_WITH_NUL                                                                                      \
    "\"error\":{\"code\":3,\"message\":\"execution reverted: custom error 0xd40fb0dc: "                      \
    "\\u0000\\u0001\",\"data\":"                                                                             \
    "\"0xd40fb0dc" ZERO31 "01" ZERO31 "02\"}"

AK_TEST(test_send_success_with_progress) {
    s_node n = {.estimate = "\"result\":\"0xa410\"", .pending_polls = 2, .status = "0x1"};
    ak_evm_rpc rpc;
    s_node_rpc(&rpc, &n);
    uint8_t key[32], to[20];
    memset(key, 0x46, 32);
    memset(to, 0x35, 20);
    s_seen seen = {0};
    ak_chain_send_opts o = {.poll_ms = 1, .progress = s_on_progress, .progress_ud = &seen};
    ak_chain_result r;
    EXPECT_OK(ak_chain_send(&rpc, key, to, AK_CUR_LIT("\x01\x02\x03\x04"), &o, &r));
    EXPECT_TRUE(r.sent && r.mined && r.receipt.success && !r.reverted);
    EXPECT_INT_EQ(r.chain_id, 31337);
    EXPECT_INT_EQ(r.nonce, 7);
    EXPECT_INT_EQ(r.gas_estimate, 0xa410);
    EXPECT_INT_EQ(r.gas_limit, 0xa410 + 0xa410 / 4 + 20000);
    EXPECT_INT_EQ(r.receipt.gas_used, 0xa410);
    EXPECT_INT_EQ(n.sends, 1);
    EXPECT_INT_EQ(seen.stages[AK_CHAIN_ESTIMATED], 1);
    EXPECT_INT_EQ(seen.stages[AK_CHAIN_SENT], 1);
    EXPECT_INT_EQ(seen.stages[AK_CHAIN_WAITING], 2);
    EXPECT_INT_EQ(seen.stages[AK_CHAIN_MINED], 1);
    ak_evm_rpc_free(&rpc);
}

AK_TEST(test_send_revert_in_estimate_sends_nothing) {
    s_node n = {.estimate = REVERT_INVALID_SIG};
    ak_evm_rpc rpc;
    s_node_rpc(&rpc, &n);
    uint8_t key[32], to[20];
    memset(key, 0x46, 32);
    memset(to, 0x35, 20);
    ak_chain_result r;
    EXPECT_ERR(AK_E_CHAIN_REVERTED, ak_chain_send(&rpc, key, to, AK_CUR_LIT("\x01"), NULL, &r));
    EXPECT_TRUE(r.reverted && !r.sent);
    EXPECT_INT_EQ(n.sends, 0);
    EXPECT_TRUE(strncmp(r.reason, "InvalidSignature(): ", 20) == 0);
    ak_evm_rpc_free(&rpc);
}

AK_TEST(test_send_revert_message_with_nul) {
    s_node n = {.estimate = REVERT_WITH_NUL};
    ak_evm_rpc rpc;
    s_node_rpc(&rpc, &n);
    uint8_t key[32], to[20];
    memset(key, 0x46, 32);
    memset(to, 0x35, 20);
    ak_chain_result r;
    EXPECT_ERR(AK_E_CHAIN_REVERTED, ak_chain_send(&rpc, key, to, AK_CUR_LIT("\x01"), NULL, &r));
    EXPECT_TRUE(strncmp(r.reason, "WouldStrandOperator(remainingRecoveryMasters=1, threshold=2): ", 62) == 0);
    EXPECT_INT_EQ(n.sends, 0);
    ak_evm_rpc_free(&rpc);
}

AK_TEST(test_send_dry_run_sends_nothing) {
    s_node n = {.estimate = "\"result\":\"0x5208\""};
    ak_evm_rpc rpc;
    s_node_rpc(&rpc, &n);
    uint8_t key[32], to[20];
    memset(key, 0x46, 32);
    memset(to, 0x35, 20);
    ak_chain_send_opts o = {.dry_run = true};
    ak_chain_result r;
    EXPECT_OK(ak_chain_send(&rpc, key, to, AK_CUR_LIT("\x01"), &o, &r));
    EXPECT_TRUE(!r.sent);
    EXPECT_INT_EQ(r.gas_estimate, 21000);
    EXPECT_INT_EQ(n.sends, 0);
    EXPECT_INT_EQ(n.calls, 2); /* chainId + estimate, nothing else */
    ak_evm_rpc_free(&rpc);
}

AK_TEST(test_send_mined_failure_is_replayed) {
    s_node n = {.estimate = "\"result\":\"0x5208\"", .status = "0x0", .replay = REVERT_INVALID_SIG};
    ak_evm_rpc rpc;
    s_node_rpc(&rpc, &n);
    uint8_t key[32], to[20];
    memset(key, 0x46, 32);
    memset(to, 0x35, 20);
    ak_chain_send_opts o = {.poll_ms = 1};
    ak_chain_result r;
    EXPECT_ERR(AK_E_CHAIN_REVERTED, ak_chain_send(&rpc, key, to, AK_CUR_LIT("\x01"), &o, &r));
    EXPECT_TRUE(r.sent && r.mined && r.reverted && !r.receipt.success);
    EXPECT_INT_EQ(n.replays, 1);
    EXPECT_TRUE(strncmp(r.reason, "InvalidSignature(): ", 20) == 0);
    ak_evm_rpc_free(&rpc);
}

AK_TEST(test_send_wait_is_bounded) {
    s_node n = {.estimate = "\"result\":\"0x5208\"", .pending_polls = 1000000, .status = "0x1"};
    ak_evm_rpc rpc;
    s_node_rpc(&rpc, &n);
    uint8_t key[32], to[20];
    memset(key, 0x46, 32);
    memset(to, 0x35, 20);
    ak_chain_send_opts o = {.poll_ms = 5, .wait_ms = 30};
    ak_chain_result r;
    EXPECT_ERR(AK_E_DEADLINE, ak_chain_send(&rpc, key, to, AK_CUR_LIT("\x01"), &o, &r));
    EXPECT_TRUE(r.sent && !r.mined);
    ak_evm_rpc_free(&rpc);
}

AK_RUN_TESTS(AK_T(test_table_matches_contract_sources), AK_T(test_error_signature), AK_T(test_revert_words),
             AK_T(test_send_success_with_progress), AK_T(test_send_revert_in_estimate_sends_nothing),
             AK_T(test_send_revert_message_with_nul), AK_T(test_send_dry_run_sends_nothing),
             AK_T(test_send_mined_failure_is_replayed), AK_T(test_send_wait_is_bounded))
