/*
 * audit-verify — anyone can check an audit event against the chain (D12, issue 9 item 4).
 *
 *   audit-verify --proof FILE [--rpc URL] [--audit ADDRESS] [--operator 0x<64 hex>]
 *                [--root-index N] [--event-file FILE | --event-hex HEX] [--proof-skip K]
 *
 * FILE is the JSON answer of GET /v1/audit/proof (or an audit/index/ object): "event" (the
 * canonical event text), "proof" (array of 0x hashes), optionally "root_index" and
 * "operator_omni". The leaf data is the event text byte for byte (or --event-file's raw bytes
 * / --event-hex, to check other data against the same proof); the operator is --operator, else
 * the file's operator_omni, else the event's own operator_omni member.
 *
 * Through ak_chain_audit_verify (ak/chain.h, also behind `agentkeys audit verify`), it
 * recomputes the leaf node keccak256(0x00 ‖ data), folds the proof locally (inner node
 * keccak256(0x01 ‖ min ‖ max)), reads CredentialAudit.getRoot(op, index), and asks the
 * contract itself with eth_call verifyEntryInRoot(op, index, proof, data). VALID only when the
 * contract says true (and the local fold agrees). --proof-skip K drops the first K proof
 * elements (tests: an inner node passed as leaf data). RPC and contract default to AK_RPC_URL
 * and AK_AUDIT_ADDRESS. Exit: 0 valid, 1 invalid, 2 usage or I/O error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ak/abi.h"
#include "ak/alloc.h"
#include "ak/audit.h"
#include "ak/chain.h"
#include "ak/crypto.h"
#include "ak/evm.h"
#include "ak/http.h"
#include "ak/identity.h"
#include "ak/json.h"

static int s_usage(void) {
    fprintf(stderr,
            "usage: audit-verify --proof FILE [--rpc URL] [--audit ADDR] [--operator OMNI] [--root-index N]\n"
            "                    [--event-file FILE | --event-hex HEX] [--proof-skip K]\n");
    return 2;
}

int main(int argc, char **argv) {
    ak_alloc_install_jansson();
    const char *proof_path = NULL, *rpc_url = getenv("AK_RPC_URL"), *audit_addr = getenv("AK_AUDIT_ADDRESS");
    const char *op_arg = NULL, *idx_arg = NULL, *ev_file = NULL, *ev_hex = NULL, *skip_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) return s_usage();
        if (strcmp(a, "--proof") == 0)
            proof_path = v;
        else if (strcmp(a, "--rpc") == 0)
            rpc_url = v;
        else if (strcmp(a, "--audit") == 0)
            audit_addr = v;
        else if (strcmp(a, "--operator") == 0)
            op_arg = v;
        else if (strcmp(a, "--root-index") == 0)
            idx_arg = v;
        else if (strcmp(a, "--event-file") == 0)
            ev_file = v;
        else if (strcmp(a, "--event-hex") == 0)
            ev_hex = v;
        else if (strcmp(a, "--proof-skip") == 0)
            skip_arg = v;
        else
            return s_usage();
        i++;
    }
    if (!proof_path || !rpc_url || !audit_addr) return s_usage();

    ak_buf pbuf, data;
    ak_buf_init(&pbuf, 16u << 20);
    ak_buf_init(&data, AK_MAX_AUDIT_EVENT * 4u);
    json_t *pj = NULL, *ej = NULL;
    ak_http *http = NULL;
    ak_evm_rpc rpc;
    ak_evm_rpc_init(&rpc, NULL, rpc_url);
    int code = 2;
    ak_err rc = AK_OK;
    const char *step = "--proof";
    AK_GUARD_OUT(ak_buf_append_file(&pbuf, proof_path));
    AK_GUARD_OUT(ak_json_parse_object(ak_buf_cur(&pbuf), &pj));
    json_t *proof = json_object_get(pj, "proof");
    AK_ENSURE_OUT(json_is_array(proof) && json_array_size(proof) <= AK_MERKLE_MAX_DEPTH, AK_E_INVALID_INPUT);

    step = "event";
    if (ev_file) {
        AK_GUARD_OUT(ak_buf_append_file(&data, ev_file));
    } else if (ev_hex) {
        AK_GUARD_OUT(ak_hex_decode_buf(ak_cur_from_str(ev_hex), true, &data));
    } else {
        ak_cur e;
        AK_GUARD_OUT(ak_json_str(pj, "event", &e));
        AK_GUARD_OUT(ak_buf_append_cur(&data, e));
    }

    step = "operator";
    ak_omni op;
    ak_cur opt;
    bool have_op = false;
    if (op_arg) {
        AK_GUARD_OUT(ak_omni_parse(ak_cur_from_str(op_arg), &op));
        have_op = true;
    } else if (ak_json_str(pj, "operator_omni", &opt) == AK_OK) {
        AK_GUARD_OUT(ak_omni_parse(opt, &op));
        have_op = true;
    } else if (ak_json_parse_object(ak_buf_cur(&data), &ej) == AK_OK &&
               ak_json_str(ej, "operator_omni", &opt) == AK_OK) {
        AK_GUARD_OUT(ak_omni_parse(opt, &op));
        have_op = true;
    }
    AK_ENSURE_OUT(have_op, AK_E_MISSING_FIELD);

    step = "root index";
    uint64_t idx = 0;
    if (idx_arg)
        AK_GUARD_OUT(ak_cur_to_u64(ak_cur_from_str(idx_arg), &idx));
    else
        AK_GUARD_OUT(ak_json_u64(pj, "root_index", &idx)); /* absent: the batch is not anchored yet */
    uint64_t skip = 0;
    if (skip_arg) AK_GUARD_OUT(ak_cur_to_u64(ak_cur_from_str(skip_arg), &skip));
    size_t n = json_array_size(proof);
    AK_ENSURE_OUT(skip <= n, AK_E_INVALID_INPUT);

    step = "proof";
    uint8_t pf[AK_MERKLE_MAX_DEPTH][32];
    size_t m = n - (size_t)skip;
    for (size_t k = 0; k < m; k++) {
        const char *s = json_string_value(json_array_get(proof, k + (size_t)skip));
        AK_ENSURE_OUT(s != NULL, AK_E_WRONG_TYPE);
        AK_GUARD_OUT(ak_hex_decode_exact(ak_cur_from_str(s), true, pf[k], 32));
    }

    step = "chain";
    uint8_t audit[20];
    AK_GUARD_OUT(ak_eth_address_parse(ak_cur_from_str(audit_addr), audit));
    ak_http_config hc = {.user_agent = "agentkeys-audit-verify/1"};
    AK_GUARD_OUT(ak_http_new(&hc, &http));
    rpc.http = http;
    ak_chain_audit_verdict v;
    AK_GUARD_OUT(
        ak_chain_audit_verify(&rpc, audit, op.b, idx, (const uint8_t(*)[32])pf, m, ak_buf_cur(&data), &v));
    char lh[65], rh[65], oh[65];
    ak_hex_encode(v.leaf, 32, lh);
    ak_hex_encode(v.chain_root, 32, rh);
    ak_omni_hex(&op, oh);
    bool ok = v.contract_ok && v.local_ok;
    printf("%s operator=0x%s root_index=%llu leaf=0x%s chain_root=%s%s contract=%s local=%s\n",
           ok ? "VALID" : "INVALID", oh, (unsigned long long)idx, lh, v.have_root ? "0x" : "",
           v.have_root ? rh : "(none)", v.contract_ok ? "true" : "false", v.local_ok ? "match" : "mismatch");
    code = ok ? 0 : 1;
out:
    if (rc != AK_OK)
        fprintf(stderr, "audit-verify: %s: %s%s%s\n", step, ak_err_reason(rc), rpc.err_msg[0] ? " " : "",
                rpc.err_msg);
    json_decref(pj);
    json_decref(ej);
    ak_buf_free(&pbuf);
    ak_buf_free(&data);
    ak_evm_rpc_free(&rpc);
    ak_http_free(http);
    return code;
}
