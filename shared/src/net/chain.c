/*
 * chain.c — contract transactions with a bounded, observable wait, and revert data in words
 * (ak/chain.h).
 */
#include "ak/chain.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ak/audit.h"
#include "ak/crypto.h"
#include "ak/http.h"

/* Every `error` of contracts/src/<name>.sol, once (AgentKeysScope repeats two of SidecarRegistry's:
 * same declaration, same selector). Checked against the sources by tests/unit/chain_test.c. */
const ak_chain_error_def ak_chain_custom_errors[] = {
    /* SidecarRegistry */
    {"DeviceAlreadyRegistered(bytes32 deviceKeyHash)", "this wallet is already registered as a device"},
    {"DeviceNotRegistered(bytes32 deviceKeyHash)", "no device is registered under this key hash"},
    {"DeviceAlreadyRevoked(bytes32 deviceKeyHash)", "the device is already revoked"},
    {"OperatorAlreadyRegistered(bytes32 operatorOmni)", "this operator already has its first master"},
    {"OperatorNotRegistered(bytes32 operatorOmni)", "no operator is registered under this id"},
    {"NotAuthorized(address caller)",
     "the sending wallet may not do this (it is not an active master of the operator)"},
    {"InvalidAttestingDevice(bytes32 deviceKeyHash)",
     "the assertion names a device that is not an active master of this operator"},
    {"K11RoleMissing(uint8 requiredRole)", "the approving master device lacks the role this needs"},
    {"InsufficientQuorum(uint256 got, uint256 required)",
     "fewer master approvals than the operator's recovery threshold"},
    {"TooManyAssertions(uint256 got)", "more approvals than the contract accepts in one call"},
    {"DuplicateAttestor(bytes32 deviceKeyHash)", "the same master approved twice"},
    {"PasskeyAlreadyRegistered(bytes32 holderDeviceKeyHash)",
     "this passkey already belongs to an active master of the operator (one passkey, one approval)"},
    {"InvalidRoles(uint8 roles)", "the role bits are not allowed here"},
    {"InvalidRecoveryThreshold(uint8 threshold, uint256 activeRecoveryMasters)",
     "the threshold must be between 1 and the number of active recovery masters"},
    {"WouldStrandOperator(uint256 remainingRecoveryMasters, uint8 threshold)",
     "this would leave fewer active recovery masters than the threshold"},
    {"NotMasterDevice(bytes32 deviceKeyHash)", "the device is not a master device"},
    {"NotAgentDevice(bytes32 deviceKeyHash)", "the device is not an agent device"},
    {"InvalidAgentSignature()",
     "the agent's consent signature is not from the agent wallet (wrong operator, chain or registry?)"},
    {"InvalidPasskey()", "the passkey public data is empty"},
    {"ScopeContractAlreadyBound()", "the scope contract is already bound"},
    /* AgentKeysScope */
    {"ActorNotBound(bytes32 agentOmni, bytes32 operatorOmni)",
     "the agent is not registered under this operator"},
    {"ScopeNotSet(bytes32 operatorOmni, bytes32 agentOmni)", "the agent has no scope to revoke"},
    {"InvalidServices()", "the scope list is empty, too long, or has a zero or repeated id"},
    /* CredentialAudit */
    {"NotOperatorMaster(address caller)", "the sending wallet is not an active master of the operator"},
    {"EmptyRoot()", "an empty audit batch cannot be anchored"},
    /* K3EpochCounter */
    {"ZeroAddressGovernance()", "the governance address may not be zero"},
    {"NotSignerGovernance(address caller, address expected)",
     "only the signer governance wallet may change the key epoch"},
    {"EpochNotStarted(uint256 epoch, uint256 current)", "that K3 epoch has not started on chain yet"},
    {"EpochAlreadyCommitted(uint256 epoch, bytes32 commitment)",
     "a K3 commitment is already recorded for that epoch (it never changes)"},
    {"ZeroCommitment()", "the K3 commitment may not be zero"},
    /* K11Verifier */
    {"MalformedAuthenticatorData()", "the passkey's authenticator data is too short"},
    {"MalformedClientDataJSON()", "the passkey's client data JSON is malformed"},
    {"RpIdHashMismatch(bytes32 got, bytes32 expected)",
     "the passkey is for another relying party than the registered one"},
    {"UserPresenceMissing()", "the passkey assertion lacks user presence"},
    {"UserVerificationMissing()", "the passkey assertion lacks user verification"},
    {"StaleSignCount(uint32 got, uint32 last)",
     "the passkey's sign count is not above the last one the chain accepted (replayed or cloned passkey)"},
    {"WrongClientDataType()", "the passkey assertion is not of type webauthn.get"},
    {"ChallengeMismatch()", "the passkey signed another challenge (stale: an operator nonce moved?)"},
    {"InvalidSignature()", "the passkey signature does not verify against the registered passkey"},
    {NULL, NULL},
};

/* ---------------------------------------------------------------- declarations */

static bool s_is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

/* Splits a declaration into its name and parameters: calls `each(type, name)` per parameter. */
typedef ak_err (*s_param_fn)(void *ud, ak_cur type, ak_cur name);

static ak_err s_walk_decl(const char *decl, ak_cur *fn_name, s_param_fn each, void *ud) {
    const char *open = strchr(decl, '('), *close = strrchr(decl, ')');
    AK_ENSURE(open != NULL && close != NULL && close > open && close[1] == '\0' && open > decl,
              AK_E_INVALID_INPUT);
    *fn_name = ak_cur_from(decl, (size_t)(open - decl));
    const char *p = open + 1;
    while (p < close) {
        const char *end = p;
        while (end < close && *end != ',')
            end++;
        const char *a = p, *b = end;
        while (a < b && s_is_space(*a))
            a++;
        while (b > a && s_is_space(b[-1]))
            b--;
        const char *sp = a;
        while (sp < b && !s_is_space(*sp))
            sp++;
        ak_cur type = ak_cur_from(a, (size_t)(sp - a));
        while (sp < b && s_is_space(*sp))
            sp++;
        ak_cur name = ak_cur_from(sp, (size_t)(b - sp));
        AK_ENSURE(type.len > 0, AK_E_INVALID_INPUT);
        if (each != NULL) AK_GUARD(each(ud, type, name));
        p = end < close ? end + 1 : close;
    }
    return AK_OK;
}

typedef struct {
    ak_buf *out;
    size_t n;
} s_sig_ctx;

static ak_err s_sig_param(void *ud, ak_cur type, ak_cur name) {
    (void)name;
    s_sig_ctx *c = ud;
    if (c->n++ > 0) AK_GUARD(ak_buf_append_byte(c->out, ','));
    return ak_buf_append_cur(c->out, type);
}

ak_err ak_chain_error_signature(const char *decl, ak_buf *out) {
    ak_cur name;
    s_sig_ctx c = {out, 0};
    size_t mark = out->len;
    ak_err rc = s_walk_decl(decl, &name, NULL, NULL);
    if (rc == AK_OK) rc = ak_buf_append_cur(out, name);
    if (rc == AK_OK) rc = ak_buf_append_byte(out, '(');
    if (rc == AK_OK) rc = s_walk_decl(decl, &name, s_sig_param, &c);
    if (rc == AK_OK) rc = ak_buf_append_byte(out, ')');
    if (rc != AK_OK) out->len = mark;
    return rc;
}

/* ---------------------------------------------------------------- revert data -> words */

typedef struct {
    ak_buf *out;
    ak_abi_dec *dec;
    size_t n;
    bool bad;
} s_args_ctx;

static ak_err s_print_arg(void *ud, ak_cur type, ak_cur name) {
    s_args_ctx *c = ud;
    uint8_t w[32];
    if (c->n++ > 0) AK_GUARD(ak_buf_append_str(c->out, ", "));
    if (name.len > 0) {
        AK_GUARD(ak_buf_append_cur(c->out, name));
        AK_GUARD(ak_buf_append_byte(c->out, '='));
    }
    if (c->bad || ak_abi_dec_word(c->dec, w) != AK_OK) {
        c->bad = true;
        return ak_buf_append_str(c->out, "?");
    }
    if (ak_cur_eq_str(type, "address")) {
        AK_GUARD(ak_buf_append_str(c->out, "0x"));
        return ak_buf_append_hex(c->out, w + 12, 20);
    }
    if (ak_cur_eq_str(type, "bool")) return ak_buf_append_str(c->out, w[31] ? "true" : "false");
    if (type.len >= 4 && memcmp(type.ptr, "uint", 4) == 0) {
        ak_u256 v;
        memcpy(v.be, w, 32);
        return ak_u256_append_dec(&v, c->out);
    }
    AK_GUARD(ak_buf_append_str(c->out, "0x")); /* bytes32 and anything else: the word */
    return ak_buf_append_hex(c->out, w, 32);
}

static const char *s_panic_words(uint64_t code) {
    switch (code) {
        case 0x01:
            return "assertion failed";
        case 0x11:
            return "arithmetic overflow or underflow";
        case 0x12:
            return "division or modulo by zero";
        case 0x21:
            return "invalid enum value";
        case 0x22:
            return "bad storage byte array encoding";
        case 0x31:
            return "pop on an empty array";
        case 0x32:
            return "array index out of bounds";
        case 0x41:
            return "out of memory";
        case 0x51:
            return "call of an uninitialised function";
        default:
            return "unknown panic code";
    }
}

ak_err ak_chain_revert_text(ak_cur data, ak_buf *out) {
    if (data.len == 0) return ak_buf_append_str(out, "reverted without a reason");
    if (data.len < 4) {
        AK_GUARD(ak_buf_append_str(out, "reverted with malformed data 0x"));
        return ak_buf_append_hex(out, data.ptr, data.len);
    }
    ak_cur args = ak_cur_from(data.ptr + 4, data.len - 4);
    static const uint8_t sel_error[4] = {0x08, 0xc3, 0x79, 0xa0}, sel_panic[4] = {0x4e, 0x48, 0x7b, 0x71};
    ak_abi_dec d;
    ak_abi_dec_init(&d, args);
    if (memcmp(data.ptr, sel_error, 4) == 0) {
        ak_cur s;
        if (ak_abi_dec_string(&d, &s) != AK_OK)
            return ak_buf_append_str(out, "reverted: (malformed Error(string))");
        AK_GUARD(ak_buf_append_str(out, "reverted: "));
        for (size_t i = 0; i < s.len && i < 256; i++)
            AK_GUARD(ak_buf_append_byte(out, s.ptr[i] >= 0x20 && s.ptr[i] < 0x7f ? s.ptr[i] : '?'));
        return AK_OK;
    }
    if (memcmp(data.ptr, sel_panic, 4) == 0) {
        uint64_t code = 0;
        if (ak_abi_dec_u64(&d, 256, &code) != AK_OK) return ak_buf_append_str(out, "panic (malformed code)");
        return ak_buf_printf(out, "panic 0x%02llx: %s", (unsigned long long)code, s_panic_words(code));
    }
    ak_buf sig;
    ak_buf_init(&sig, 512);
    const ak_chain_error_def *hit = NULL;
    for (const ak_chain_error_def *e = ak_chain_custom_errors; e->decl != NULL && hit == NULL; e++) {
        uint8_t sel[4];
        ak_buf_clear(&sig);
        if (ak_chain_error_signature(e->decl, &sig) == AK_OK && ak_buf_append_byte(&sig, 0) == AK_OK &&
            ak_abi_selector((const char *)sig.ptr, sel, NULL) == AK_OK && memcmp(sel, data.ptr, 4) == 0)
            hit = e;
    }
    ak_buf_free(&sig);
    if (hit == NULL)
        return ak_buf_printf(out, "unknown error 0x%02x%02x%02x%02x (%zu bytes of arguments)", data.ptr[0],
                             data.ptr[1], data.ptr[2], data.ptr[3], args.len);
    ak_cur name;
    s_args_ctx c = {out, &d, 0, false};
    AK_GUARD(s_walk_decl(hit->decl, &name, NULL, NULL));
    AK_GUARD(ak_buf_append_cur(out, name));
    AK_GUARD(ak_buf_append_byte(out, '('));
    AK_GUARD(s_walk_decl(hit->decl, &name, s_print_arg, &c));
    AK_GUARD(ak_buf_append_str(out, c.bad ? ") (malformed arguments): " : "): "));
    return ak_buf_append_str(out, hit->words);
}

static void s_reason(ak_cur revert, char *reason, size_t cap) {
    if (reason == NULL || cap == 0) return;
    ak_buf b;
    ak_buf_init(&b, 4096);
    if (ak_chain_revert_text(revert, &b) != AK_OK) ak_buf_clear(&b);
    snprintf(reason, cap, "%s", ak_buf_cstr(&b));
    ak_buf_free(&b);
}

/* ---------------------------------------------------------------- calls */

static json_t *s_hex_json(const uint8_t *p, size_t n) {
    ak_buf b;
    ak_buf_init(&b, 2 * n + 3);
    json_t *j = NULL;
    if (ak_buf_append_str(&b, "0x") == AK_OK && ak_buf_append_hex(&b, p, n) == AK_OK)
        j = json_stringn((const char *)b.ptr, b.len);
    ak_buf_free(&b);
    return j;
}

/* [{from?, to, data, value?}, block?] */
static json_t *s_call_params(const uint8_t *from, const uint8_t to[20], ak_cur data, const ak_u256 *value,
                             const char *block) {
    json_t *o = json_object(), *p = json_array();
    bool ok = o != NULL && p != NULL;
    if (ok && from != NULL) ok = json_object_set_new(o, "from", s_hex_json(from, 20)) == 0;
    if (ok && value != NULL && !ak_u256_is_zero(value)) {
        size_t i = 0;
        while (i < 31 && value->be[i] == 0)
            i++;
        char q[70];
        int n = snprintf(q, sizeof(q), "0x%x", value->be[i]);
        for (size_t j = i + 1; j < 32 && n > 0; j++)
            n += snprintf(q + n, sizeof(q) - (size_t)n, "%02x", value->be[j]);
        ok = json_object_set_new(o, "value", json_string(q)) == 0;
    }
    if (ok) ok = json_object_set_new(o, "to", s_hex_json(to, 20)) == 0;
    if (ok) ok = json_object_set_new(o, "data", s_hex_json(data.ptr, data.len)) == 0;
    if (ok) ok = json_array_append(p, o) == 0;
    if (ok && block != NULL) ok = json_array_append_new(p, json_string(block)) == 0;
    json_decref(o);
    if (!ok) {
        json_decref(p);
        return NULL;
    }
    return p;
}

/* eth_call / eth_estimateGas with a from; the hex result into `ret` (call) or `gas` (estimate). */
static ak_err s_sim(ak_evm_rpc *rpc, const char *method, const uint8_t *from, const uint8_t to[20],
                    ak_cur data, const ak_u256 *value, const char *block, ak_buf *ret, uint64_t *gas) {
    json_t *params = s_call_params(from, to, data, value, block);
    AK_ENSURE(params != NULL, AK_E_NOMEM);
    json_t *res = NULL;
    AK_GUARD(ak_evm_rpc_call(rpc, method, params, &res));
    ak_err rc = AK_E_CHAIN_RPC;
    if (json_is_string(res)) {
        ak_cur t = ak_cur_from(json_string_value(res), json_string_length(res));
        rc = gas != NULL ? ak_eth_parse_quantity_u64(t, gas) : ak_hex_decode_buf(t, true, ret);
        if (rc != AK_OK) rc = AK_E_CHAIN_RPC;
    }
    json_decref(res);
    return rc;
}

ak_err ak_chain_call(ak_evm_rpc *rpc, const uint8_t *from, const uint8_t to[20], const char *sig,
                     const ak_abi_val *args, size_t n, ak_buf *ret, char *reason, size_t cap) {
    if (reason != NULL && cap > 0) reason[0] = '\0';
    ak_buf cd;
    ak_buf_init(&cd, 1u << 20);
    ak_err rc = ak_abi_encode_call(sig, args, n, &cd);
    if (rc == AK_OK) rc = s_sim(rpc, "eth_call", from, to, ak_buf_cur(&cd), NULL, "latest", ret, NULL);
    ak_buf_free(&cd);
    if (rc == AK_E_CHAIN_RPC && rpc->reverted) {
        s_reason(ak_buf_cur(&rpc->revert_data), reason, cap);
        return AK_E_CHAIN_REVERTED;
    }
    return rc;
}

/* ---------------------------------------------------------------- send */

static void s_sleep_ms(unsigned ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static void s_progress(const ak_chain_send_opts *o, ak_chain_stage st, const uint8_t h[32], int64_t ms) {
    if (o != NULL && o->progress != NULL) o->progress(o->progress_ud, st, h, ms);
}

ak_err ak_chain_send(ak_evm_rpc *rpc, const uint8_t key[32], const uint8_t to[20], ak_cur data,
                     const ak_chain_send_opts *o, ak_chain_result *out) {
    memset(out, 0, sizeof(*out));
    static const ak_chain_send_opts s_defaults = {0};
    if (o == NULL) o = &s_defaults;
    uint8_t pub[65];
    AK_GUARD(ak_secp256k1_pubkey(key, pub));
    ak_eth_address_from_pub(pub, out->from);
    AK_GUARD(ak_eth_chain_id(rpc, &out->chain_id));

    /* Simulate first: a revert is reported in words and nothing is signed or sent. */
    ak_err rc = s_sim(rpc, "eth_estimateGas", out->from, to, data, &o->value, NULL, NULL, &out->gas_estimate);
    if (rc == AK_E_CHAIN_RPC && rpc->reverted) {
        out->reverted = true;
        s_reason(ak_buf_cur(&rpc->revert_data), out->reason, sizeof(out->reason));
        return AK_E_CHAIN_REVERTED;
    }
    AK_GUARD(rc);
    out->gas_limit = o->gas_limit ? o->gas_limit : out->gas_estimate + out->gas_estimate / 4 + 20000;
    s_progress(o, AK_CHAIN_ESTIMATED, out->tx_hash, 0);
    if (o->dry_run) return AK_OK;

    ak_eth_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.type = AK_ETH_TX_EIP1559;
    tx.chain_id = out->chain_id;
    tx.gas_limit = out->gas_limit;
    tx.has_to = true;
    memcpy(tx.to, to, 20);
    tx.data = data;
    tx.value = o->value;
    AK_GUARD(ak_eth_get_transaction_count(rpc, out->from, "pending", &tx.nonce));
    out->nonce = tx.nonce;
    ak_u256 gp;
    uint64_t gp64;
    AK_GUARD(ak_eth_gas_price(rpc, &gp));
    AK_ENSURE(ak_u256_to_u64(&gp, &gp64) == AK_OK && gp64 < (1ULL << 62), AK_E_CHAIN_RPC);
    /* fee cap: twice the node's price plus the tip, the usual wallet rule of thumb */
    tx.max_priority_fee_per_gas = ak_u256_from_u64(1000000000ULL);
    tx.max_fee_per_gas = ak_u256_from_u64(2 * gp64 + 1000000000ULL);

    ak_buf raw;
    ak_buf_init(&raw, 1u << 20);
    uint8_t sent[32];
    rc = ak_eth_tx_sign(&tx, key, &raw, out->tx_hash);
    if (rc == AK_OK) rc = ak_eth_send_raw_transaction(rpc, ak_buf_cur(&raw), sent);
    ak_buf_free(&raw);
    if (rc == AK_E_CHAIN_RPC && rpc->reverted) { /* some nodes simulate on send */
        out->reverted = true;
        s_reason(ak_buf_cur(&rpc->revert_data), out->reason, sizeof(out->reason));
        return AK_E_CHAIN_REVERTED;
    }
    AK_GUARD(rc);
    out->sent = true;

    int64_t t0 = ak_http_now_ms(), wait = o->wait_ms > 0 ? o->wait_ms : 120000;
    unsigned poll = o->poll_ms ? o->poll_ms : 250;
    s_progress(o, AK_CHAIN_SENT, out->tx_hash, 0);
    for (;;) {
        bool found = false;
        AK_GUARD(ak_eth_get_transaction_receipt(rpc, out->tx_hash, &out->receipt, &found));
        int64_t el = ak_http_now_ms() - t0;
        if (found) break;
        if (el >= wait) return AK_E_DEADLINE;
        s_progress(o, AK_CHAIN_WAITING, out->tx_hash, el);
        s_sleep_ms(poll);
    }
    out->mined = true;
    s_progress(o, AK_CHAIN_MINED, out->tx_hash, ak_http_now_ms() - t0);
    if (out->receipt.success) return AK_OK;

    /* Mined but failed (the state moved between estimate and inclusion): replay it at its
     * block for the revert data. */
    out->reverted = true;
    char block[24];
    snprintf(block, sizeof(block), "0x%llx",
             (unsigned long long)(out->receipt.block_number ? out->receipt.block_number - 1 : 0));
    ak_buf ret;
    ak_buf_init(&ret, 1u << 16);
    rc = s_sim(rpc, "eth_call", out->from, to, data, &o->value, block, &ret, NULL);
    ak_buf_free(&ret);
    if (rc == AK_E_CHAIN_RPC && rpc->reverted)
        s_reason(ak_buf_cur(&rpc->revert_data), out->reason, sizeof(out->reason));
    else
        snprintf(out->reason, sizeof(out->reason), "mined with status 0 (out of gas?)");
    return AK_E_CHAIN_REVERTED;
}

/* ---------------------------------------------------------------- audit anchors */

ak_err ak_chain_audit_verify(ak_evm_rpc *rpc, const uint8_t audit[20], const uint8_t op[32], uint64_t idx,
                             const uint8_t (*proof)[32], size_t n, ak_cur data, ak_chain_audit_verdict *out) {
    memset(out, 0, sizeof(*out));
    AK_ENSURE(n <= AK_MERKLE_MAX_DEPTH, AK_E_LIMIT);
    /* local recomputation: the leaf node, then the fold (audit.md §3) */
    ak_merkle_leaf_hash(data, out->leaf);
    memcpy(out->folded, out->leaf, 32);
    for (size_t k = 0; k < n; k++)
        ak_merkle_node_hash(out->folded, proof[k], out->folded);

    ak_abi_val items[AK_MERKLE_MAX_DEPTH + 1];
    for (size_t k = 0; k < n; k++)
        items[k] = ak_abi_bytes32(proof[k]);
    ak_buf ret;
    ak_buf_init(&ret, 1u << 16);
    ak_err rc = AK_OK;
    ak_abi_dec d;
    ak_abi_val a1[] = {ak_abi_bytes32(op), ak_abi_u64(idx)};
    AK_GUARD_OUT(ak_chain_call(rpc, NULL, audit, "rootCount(bytes32)", a1, 1, &ret, NULL, 0));
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    AK_ENSURE_OUT(ak_abi_dec_u64(&d, 256, &out->root_count) == AK_OK, AK_E_CHAIN_RPC);
    if (idx < out->root_count) {
        ak_buf_clear(&ret);
        AK_GUARD_OUT(ak_chain_call(rpc, NULL, audit, "getRoot(bytes32,uint256)", a1, 2, &ret, NULL, 0));
        ak_abi_dec_init(&d, ak_buf_cur(&ret));
        AK_ENSURE_OUT(ak_abi_dec_bytes32(&d, out->chain_root) == AK_OK, AK_E_CHAIN_RPC);
        out->have_root = true;
    }
    /* the contract's own verdict */
    ak_buf_clear(&ret);
    ak_abi_val a2[] = {ak_abi_bytes32(op), ak_abi_u64(idx), ak_abi_array(items, n), ak_abi_bytes(data)};
    AK_GUARD_OUT(ak_chain_call(rpc, NULL, audit, "verifyEntryInRoot(bytes32,uint256,bytes32[],bytes)", a2, 4,
                               &ret, NULL, 0));
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    AK_ENSURE_OUT(ak_abi_dec_bool(&d, &out->contract_ok) == AK_OK, AK_E_CHAIN_RPC);
    out->local_ok = out->have_root && memcmp(out->folded, out->chain_root, 32) == 0;
out:
    ak_buf_free(&ret);
    return rc;
}
