/*
 * jsonrpc_fuzz.c — the EVM JSON-RPC client's response handling (shared/src/net/evm.c, ak/evm.h):
 * the node's answer is outside input to the broker and the workers. The rpc's transport hook
 * (as in tests/unit/evm_test.c) hands the fuzz input back as the response body; no network.
 *
 * Input: byte 0 picks the call, byte 1 the HTTP status (bit 7 set: 400 + low bits, else 200),
 * the rest is the body. Each input runs on a fresh rpc, so the request id is always 1.
 * Properties: no crash, overread, leak or UB; every failure is AK_E_CHAIN_RPC (a node fault is
 * never a 4xx of ours) with a NUL-terminated err_msg, and a revert only ever comes with a
 * failure; a failed eth_call appends nothing; a found receipt is for the hash we asked about; a
 * sent transaction's hash is keccak256 of the raw bytes; a decoded device entry re-encodes to the
 * 11 words it came from. Batches (issue 19): a failed batch hands back no result and every
 * element failed; a successful one has a result exactly where its element succeeded, and a
 * revert only with a failed element. A chain snapshot (warm, head cached) makes at most two POSTs
 * (the body is answered again) and each read it returns is AK_OK or AK_E_CHAIN_RPC.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/evm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct s_reply {
    long status;
    ak_cur body;
    unsigned calls;
    unsigned max_calls;
} s_reply;

static ak_err s_transport(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    (void)request;
    (void)deadline_ms;
    s_reply *r = ctx;
    if (r->calls++ >= r->max_calls) abort(); /* each helper makes exactly one call (snapshot: two) */
    *status = r->status;
    return ak_buf_append_cur(body, r->body);
}

static void s_check_rc(const ak_evm_rpc *rpc, ak_err e) {
    if (e != AK_OK && e != AK_E_CHAIN_RPC) abort();
    if (memchr(rpc->err_msg, 0, sizeof(rpc->err_msg)) == NULL) abort();
    if (rpc->reverted && e == AK_OK) abort();
    if (!rpc->reverted && rpc->revert_data.len != 0) abort();
}

static void s_word(uint8_t w[32], const uint8_t *p, size_t n) {
    memset(w, 0, 32);
    memcpy(w + 32 - n, p, n);
}

static void s_u64_word(uint8_t w[32], uint64_t v) {
    memset(w, 0, 32);
    for (int i = 31; i >= 24; i--, v >>= 8)
        w[i] = (uint8_t)v;
}

/* abi.encode of the 11 DeviceEntry words, for the round trip. */
static void s_device_words(const ak_device_entry *d, uint8_t out[11][32]) {
    memcpy(out[0], d->operator_omni, 32);
    memcpy(out[1], d->actor_omni, 32);
    memcpy(out[2], d->k11_cred_id, 32);
    memcpy(out[3], d->k11_rp_id_hash, 32);
    memcpy(out[4], d->k11_pub_x.be, 32);
    memcpy(out[5], d->k11_pub_y.be, 32);
    s_u64_word(out[6], d->tier);
    s_u64_word(out[7], d->roles);
    s_u64_word(out[8], d->registered_at);
    s_u64_word(out[9], d->last_sign_count);
    uint8_t b = d->revoked ? 1 : 0;
    s_word(out[10], &b, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int installed;
    if (!installed) {
        ak_alloc_install_jansson();
        installed = 1;
    }
    if (size < 2) return 0;
    s_reply rep = {(data[1] & 0x80) ? 400 + (data[1] & 0x7f) : 200, ak_cur_from(data + 2, size - 2), 0, 1};
    ak_evm_rpc rpc;
    ak_evm_rpc_init(&rpc, NULL, "http://unused.invalid/");
    rpc.transport = s_transport;
    rpc.transport_ctx = &rep;
    static const uint8_t to[20] = {0x11, 0x22};
    static const uint8_t h32[32] = {0xaa, 0xbb, 0xcc};
    ak_err e;
    switch (data[0] % 10) {
        case 0: {
            uint64_t v;
            e = ak_eth_chain_id(&rpc, &v);
            break;
        }
        case 1: {
            ak_buf ret;
            ak_buf_init(&ret, 1u << 20);
            e = ak_eth_call(&rpc, to, ak_cur_from("\x76\x67\x18\x08", 4), NULL, &ret);
            if (e != AK_OK && ret.len != 0) abort();
            ak_buf_free(&ret);
            break;
        }
        case 2: {
            ak_device_entry d;
            e = ak_registry_get_device(&rpc, to, h32, &d);
            if (e == AK_OK) {
                /* decode -> encode -> decode is a fixed point */
                uint8_t w[11][32];
                s_device_words(&d, w);
                ak_device_entry d2;
                if (ak_device_entry_decode(ak_cur_from(w, sizeof(w)), &d2) != AK_OK) abort();
                if (memcmp(&d, &d2, sizeof(d)) != 0) abort();
            }
            break;
        }
        case 3: {
            uint64_t v;
            e = ak_k3_current_epoch(&rpc, to, &v);
            break;
        }
        case 4: {
            ak_eth_receipt rc;
            bool found = true;
            e = ak_eth_get_transaction_receipt(&rpc, h32, &rc, &found);
            if (found && (e != AK_OK || memcmp(rc.tx_hash, h32, 32) != 0)) abort();
            break;
        }
        case 5: {
            static const uint8_t raw[] = {0x02, 0xc0, 0x01};
            uint8_t got[32], want[32];
            e = ak_eth_send_raw_transaction(&rpc, ak_cur_from(raw, sizeof(raw)), got);
            ak_keccak256(raw, sizeof(raw), want);
            if (e == AK_OK && memcmp(got, want, 32) != 0) abort();
            break;
        }
        case 6: {
            bool in = false;
            e = ak_scope_is_service_in_scope(&rpc, to, h32, h32, h32, &in);
            break;
        }
        case 7: {
            uint8_t op[32];
            e = ak_registry_actor_operator(&rpc, to, h32, op);
            break;
        }
        case 8: {
            const char *m[3] = {"eth_chainId", "eth_call", "eth_getBlockByNumber"};
            json_t *p[3] = {NULL, NULL, NULL}, *res[3];
            ak_err rcs[3];
            e = ak_evm_rpc_batch(&rpc, 3, m, p, res, rcs);
            bool any_failed = false;
            for (int i = 0; i < 3; i++) {
                if (e != AK_OK && (res[i] != NULL || rcs[i] != AK_E_CHAIN_RPC)) abort();
                if (e == AK_OK && (rcs[i] == AK_OK) != (res[i] != NULL)) abort();
                if (e == AK_OK && rcs[i] != AK_OK && rcs[i] != AK_E_CHAIN_RPC) abort();
                if (rcs[i] != AK_OK) any_failed = true;
                json_decref(res[i]);
            }
            if (rpc.reverted && !any_failed) abort();
            /* the element-level diagnostics are not an overall failure: checked here instead */
            if (e == AK_OK && rpc.reverted) {
                rpc.reverted = false;
                ak_buf_clear(&rpc.revert_data);
            }
            break;
        }
        default: {
            ak_chain_query q;
            memset(&q, 0, sizeof(q));
            q.registry = q.scope = q.epoch_counter = to;
            q.want_device = q.want_actor_operator = q.want_in_scope = q.want_scope = q.want_epoch = true;
            memcpy(q.dkh, h32, 32);
            rpc.head_known = true; /* warm: one POST, or two when the head moved */
            memcpy(rpc.head_hash, h32, 32);
            rep.max_calls = 2;
            ak_chain_snapshot snap;
            e = ak_chain_snapshot_read(&rpc, &q, &snap);
            if (e == AK_OK) {
                if (snap.round_trips < 1 || snap.round_trips > 2 || snap.round_trips != rep.calls) abort();
                const ak_err each[5] = {snap.device_rc, snap.actor_operator_rc, snap.in_scope_rc,
                                        snap.scope_rc, snap.epoch_rc};
                for (int i = 0; i < 5; i++)
                    if (each[i] != AK_OK && each[i] != AK_E_CHAIN_RPC) abort();
                rpc.reverted = false;
                ak_buf_clear(&rpc.revert_data);
            }
            rep.calls = 1; /* checked above */
            break;
        }
    }
    s_check_rc(&rpc, e);
    if (rep.calls != 1) abort();
    ak_evm_rpc_free(&rpc);
    return 0;
}
