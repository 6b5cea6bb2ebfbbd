/*
 * ak/evm.h — Ethereum transactions (legacy EIP-155 and EIP-1559 type 2, signed with
 * ak_secp256k1_sign) and a JSON-RPC client over ak/http.h, plus typed reads of our contracts
 * (spec/contracts.md, decisions D1/D2/D7/D17) built on eth_call + ak/abi.h.
 *
 * JSON-RPC error model (Ethereum JSON-RPC spec, execution-apis; EIP-1474 codes):
 *   - transport failures and HTTP 5xx/429 are retried by ak_http (every call here is flagged
 *     idempotent: reads are, and re-sending the same signed transaction is harmless); after the
 *     attempts run out: AK_E_CHAIN_RPC (AK_E_UPSTREAM_TIMEOUT when the deadline passed).
 *   - a JSON-RPC error object is NOT retried: AK_E_CHAIN_RPC, with rpc->err_code and
 *     rpc->err_msg kept for logs (the message is node text, never a secret of ours).
 *   - an execution revert (error code 3, or a message starting "execution reverted") is also
 *     AK_E_CHAIN_RPC, with rpc->reverted = true and rpc->revert_data holding the revert bytes
 *     (Error(string) = 0x08c379a0…, a custom error's selector + args, or empty).
 *   - a malformed response (bad JSON, wrong id, bad hex) is AK_E_CHAIN_RPC too: it is the
 *     upstream's fault, never a 4xx of ours.
 * Every call resets err_code/err_msg/reverted/revert_data first.
 *
 * Typical use (broker):
 *     ak_evm_rpc rpc;
 *     ak_evm_rpc_init(&rpc, http, getenv("AGENTKEYS_RPC_URL"));
 *     rpc.deadline_ms = inv->deadline_ms - 200;
 *     ak_device_entry dev;
 *     rc = ak_registry_get_device(&rpc, registry_addr, dkh, &dev);
 *     …
 *     ak_evm_rpc_free(&rpc);
 */
#ifndef AK_EVM_H
#define AK_EVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ak/abi.h"
#include "ak/bytes.h"
#include "ak/http.h"

/* ================================================================ transactions */

typedef enum ak_eth_tx_type {
    AK_ETH_TX_LEGACY = 0,  /* EIP-155 replay-protected legacy transaction */
    AK_ETH_TX_EIP1559 = 2, /* EIP-2718 type 2 (EIP-1559), with an empty access list */
} ak_eth_tx_type;

typedef struct ak_eth_tx {
    ak_eth_tx_type type;
    uint64_t chain_id;
    uint64_t nonce;
    uint64_t gas_limit;
    ak_u256 gas_price;                /* legacy only */
    ak_u256 max_priority_fee_per_gas; /* EIP-1559 only */
    ak_u256 max_fee_per_gas;          /* EIP-1559 only */
    bool has_to;                      /* false: contract creation */
    uint8_t to[20];
    ak_u256 value;
    ak_cur data; /* calldata (or init code), borrowed */
} ak_eth_tx;

/*
 * The digest that is signed: legacy keccak256(rlp([nonce, gasPrice, gas, to, value, data,
 * chainId, 0, 0])) (EIP-155); type 2 keccak256(0x02 ‖ rlp([chainId, nonce, maxPriorityFee,
 * maxFee, gas, to, value, data, accessList]))) (EIP-1559). AK_E_INVALID_INPUT for an unknown
 * type or a chain id too large for EIP-155's v.
 */
AK_MUST ak_err ak_eth_tx_sighash(const ak_eth_tx *tx, uint8_t digest[32]);
/*
 * Signs with ak_secp256k1_sign (RFC 6979, low-s) and appends the raw signed transaction to
 * `raw` (legacy: rlp([… , v, r, s]) with v = chainId*2 + 35 + recid; type 2: 0x02 ‖ rlp([…,
 * yParity, r, s])). tx_hash (may be NULL) = keccak256(raw), the hash nodes report.
 */
AK_MUST ak_err ak_eth_tx_sign(const ak_eth_tx *tx, const uint8_t seckey[32], ak_buf *raw,
                              uint8_t tx_hash[32]);

/* ================================================================ JSON-RPC */

/* Transport: POSTs `request` (a JSON-RPC body) and returns the HTTP status and body. The
 * default (ctx = the rpc) uses ak_http_do; unit tests substitute canned responses. It is called
 * outside any jansson arena window (ak/alloc.h), so it may keep what it builds. */
typedef ak_err (*ak_evm_transport_fn)(void *ctx, ak_cur request, int64_t deadline_ms, long *status,
                                      ak_buf *body);

typedef struct ak_evm_rpc {
    ak_http *http;       /* borrowed; one client per process */
    const char *url;     /* borrowed */
    int64_t deadline_ms; /* absolute epoch ms for each call; 0 -> ak_http's default timeout */
    ak_evm_transport_fn transport;
    void *transport_ctx;
    uint64_t next_id;
    /* diagnostics of the last call */
    int64_t err_code;   /* JSON-RPC error code, 0 when the last failure had none */
    char err_msg[256];  /* JSON-RPC error message (cut to fit), or a short local reason */
    bool reverted;      /* the last call failed with an execution revert */
    ak_buf revert_data; /* revert bytes when reverted (may be empty) */
    /* the chain head as last seen by ak_chain_snapshot_read (per process) */
    bool head_known;
    uint8_t head_hash[32];
    uint64_t head_number;
} ak_evm_rpc;

void ak_evm_rpc_init(ak_evm_rpc *r, ak_http *http, const char *url);
void ak_evm_rpc_free(ak_evm_rpc *r);

/*
 * Generic call: sends {"jsonrpc":"2.0","id":n,"method":method,"params":params} and returns the
 * "result" member (a new reference the caller json_decref's). Takes ownership of `params` (a
 * JSON array; NULL means []). Errors as described at the top of this file.
 */
AK_MUST ak_err ak_evm_rpc_call(ak_evm_rpc *r, const char *method, json_t *params, json_t **result);

/*
 * JSON-RPC batch: one POST of the array [{"jsonrpc":"2.0","id":k,"method":methods[i],
 * "params":params[i]} …] (ids consecutive from r->next_id). Takes ownership of every params[i]
 * (NULL means []). The whole batch fails (AK_E_CHAIN_RPC, or the transport's timeout/size
 * reason) on a transport failure, a non-2xx status, an answer that is not a JSON array of exactly
 * n JSON-RPC 2.0 objects, an id that is not one of ours or appears twice, or an element with
 * neither result nor error (the answer's order is free: elements are matched by id). Otherwise
 * AK_OK, and per element: rcs[i] = AK_OK with results[i] a new reference, or rcs[i] =
 * AK_E_CHAIN_RPC (an error object; results[i] = NULL; the first one's code/message are kept in
 * r->err_code/err_msg, r->reverted if it was a revert). 1 <= n <= AK_EVM_BATCH_MAX.
 */
#define AK_EVM_BATCH_MAX 16u
AK_MUST ak_err ak_evm_rpc_batch(ak_evm_rpc *r, size_t n, const char *const *methods, json_t **params,
                                json_t **results, ak_err *rcs);

/* Strict QUANTITY parsing: "0x" followed by 1..64 hex digits (leading zeros tolerated). */
AK_MUST ak_err ak_eth_parse_quantity(ak_cur text, ak_u256 *out);
AK_MUST ak_err ak_eth_parse_quantity_u64(ak_cur text, uint64_t *out);

AK_MUST ak_err ak_eth_chain_id(ak_evm_rpc *r, uint64_t *out);
AK_MUST ak_err ak_eth_block_number(ak_evm_rpc *r, uint64_t *out);
AK_MUST ak_err ak_eth_gas_price(ak_evm_rpc *r, ak_u256 *out);
/* block: "latest", "pending", "safe", "finalized" or a 0x quantity; NULL = "latest". */
AK_MUST ak_err ak_eth_get_transaction_count(ak_evm_rpc *r, const uint8_t addr[20], const char *block,
                                            uint64_t *out);
AK_MUST ak_err ak_eth_get_balance(ak_evm_rpc *r, const uint8_t addr[20], const char *block, ak_u256 *out);
/* eth_call {to, data} at `block`; the return data is appended to `ret`. A revert is
 * AK_E_CHAIN_RPC with r->reverted set. */
AK_MUST ak_err ak_eth_call(ak_evm_rpc *r, const uint8_t to[20], ak_cur data, const char *block, ak_buf *ret);
/* eth_sendRawTransaction. The node's hash must equal keccak256(raw) (else AK_E_CHAIN_RPC). A node
 * answering "already known" (our earlier attempt got through) counts as success. */
AK_MUST ak_err ak_eth_send_raw_transaction(ak_evm_rpc *r, ak_cur raw, uint8_t tx_hash[32]);

typedef struct ak_eth_receipt {
    uint8_t tx_hash[32];
    uint8_t block_hash[32];
    uint64_t block_number;
    uint64_t gas_used;
    bool success; /* status == 0x1 */
    bool has_contract_address;
    uint8_t contract_address[20];
    ak_u256 effective_gas_price; /* zero when the node omits it */
} ak_eth_receipt;

/* eth_getTransactionReceipt. *found = false (and AK_OK) while the transaction is pending. */
AK_MUST ak_err ak_eth_get_transaction_receipt(ak_evm_rpc *r, const uint8_t tx_hash[32], ak_eth_receipt *out,
                                              bool *found);
/* Polls for the receipt every poll_ms (0 -> 250) until `deadline_ms` (absolute epoch ms);
 * AK_E_DEADLINE when it has not appeared by then. RPC errors end the wait at once. */
AK_MUST ak_err ak_eth_wait_receipt(ak_evm_rpc *r, const uint8_t tx_hash[32], int64_t deadline_ms,
                                   unsigned poll_ms, ak_eth_receipt *out);

/* ================================================================ our contracts (eth_call views) */

/* SidecarRegistry.DeviceEntry: the 11-word struct of getDevice (contracts.md §1, D1). */
typedef struct ak_device_entry {
    uint8_t operator_omni[32];
    uint8_t actor_omni[32];
    uint8_t k11_cred_id[32];
    uint8_t k11_rp_id_hash[32];
    ak_u256 k11_pub_x;
    ak_u256 k11_pub_y;
    uint8_t tier;           /* 1 master, 2 agent */
    uint8_t roles;          /* ROLE_CAP_MINT 1, ROLE_RECOVERY 2, ROLE_SCOPE_MGMT 4 */
    uint64_t registered_at; /* 0: not registered */
    uint32_t last_sign_count;
    bool revoked;
} ak_device_entry;

#define AK_DEVICE_TIER_MASTER 1u
#define AK_DEVICE_TIER_AGENT 2u
#define AK_ROLE_CAP_MINT 1u
#define AK_ROLE_RECOVERY 2u
#define AK_ROLE_SCOPE_MGMT 4u

/* Strict decode of getDevice's return data (exactly 11 canonical words). AK_E_INVALID_INPUT otherwise. */
AK_MUST ak_err ak_device_entry_decode(ak_cur ret, ak_device_entry *out);
/* SidecarRegistry.getDevice(bytes32 deviceKeyHash). An unregistered device is an all-zero entry
 * (registered_at == 0), not an error. Undecodable return data -> AK_E_CHAIN_RPC. */
AK_MUST ak_err ak_registry_get_device(ak_evm_rpc *r, const uint8_t registry[20], const uint8_t dkh[32],
                                      ak_device_entry *out);
/* SidecarRegistry.actorOperator(bytes32 actor) -> bytes32 (D17; zero when never bound). */
AK_MUST ak_err ak_registry_actor_operator(ak_evm_rpc *r, const uint8_t registry[20], const uint8_t actor[32],
                                          uint8_t op[32]);
/* AgentKeysScope.isServiceInScope(bytes32 op, bytes32 agent, bytes32 scopeId) -> bool. */
AK_MUST ak_err ak_scope_is_service_in_scope(ak_evm_rpc *r, const uint8_t scope[20], const uint8_t op[32],
                                            const uint8_t agent[32], const uint8_t scope_id[32], bool *out);
/* AgentKeysScope.Scope, as getScope returns it (contracts.md §3: services, readOnly, the spend
 * limit fields, updatedAt, exists). */
typedef struct ak_scope_entry {
    bool exists;
    bool read_only;
    size_t n_services;
    bool has_service;                                /* the scope id asked for is among the services */
    ak_u256 max_per_call, max_per_period, max_total; /* stored, not enforced (README decisions) */
    uint32_t period_seconds;
    uint64_t updated_at;
} ak_scope_entry;

/* Strict decode of getScope's return data (one dynamic tuple, every byte accounted for);
 * `scope_id` (optional) sets has_service. AK_E_INVALID_INPUT otherwise. */
AK_MUST ak_err ak_scope_entry_decode(ak_cur ret, const uint8_t scope_id[32], ak_scope_entry *out);
/* AgentKeysScope.getScope(bytes32 op, bytes32 agent). A scope never set (or revoked) decodes
 * with exists == false. Undecodable return data -> AK_E_CHAIN_RPC. */
AK_MUST ak_err ak_scope_get(ak_evm_rpc *r, const uint8_t scope[20], const uint8_t op[32],
                            const uint8_t agent[32], const uint8_t scope_id[32], ak_scope_entry *out);
/* K3EpochCounter.currentEpoch() -> uint256, as a u64 (AK_E_CHAIN_RPC if it does not fit). */
AK_MUST ak_err ak_k3_current_epoch(ak_evm_rpc *r, const uint8_t counter[20], uint64_t *out);
/* K3EpochCounter.epochCommitment(epoch) -> bytes32 (all zero: not recorded; issue 16 finding 7). */
AK_MUST ak_err ak_k3_epoch_commitment(ak_evm_rpc *r, const uint8_t counter[20], uint64_t epoch,
                                      uint8_t out[32]);
/*
 * The reads of one request as one consistent snapshot of the chain (issue 19 item 4): every
 * eth_call of the query is pinned to one block by its hash (EIP-1898 {"blockHash": …}), so all
 * of them see the same state, and the batch also asks eth_getBlockByNumber("latest") so the
 * answer says whether that block is still the head.
 *   - warm (r->head_known) and no new block since the last request: ONE round trip,
 *     [getBlockByNumber(latest), calls @ cached head]; the head is unchanged, the calls are at
 *     latest.
 *   - a new block since (or a reorg: the cached hash is then unknown and its calls fail): the
 *     calls' answers are discarded and the batch is sent again pinned at the new head: TWO round
 *     trips; this second answer is taken whatever its own head says (it was the head one round
 *     trip earlier).
 *   - cold (no head known yet): [getBlockByNumber(latest)] first, then the pinned batch: TWO.
 * Trade-off, documented: on a chain that makes a block every ~2 s, requests further apart than a
 * block take two round trips (still fewer than one per read, and always one snapshot); a
 * deployless multicall (one eth_call running every view) would be one trip always, at the cost of
 * hand-written EVM code. Reads are never pinned to a stale block: a snapshot is at most one round
 * trip older than the head.
 * Returns AK_OK when the snapshot was taken (then each wanted read has its own rc: AK_OK with its
 * value, or AK_E_CHAIN_RPC — a per-read error object, or undecodable data), else the batch's
 * error (a read failure of the head itself is AK_E_CHAIN_RPC).
 */
typedef struct ak_chain_query {
    const uint8_t *registry, *scope, *epoch_counter; /* 20-byte addresses, borrowed */
    bool want_device;                                /* getDevice(dkh) */
    uint8_t dkh[32];
    bool want_actor_operator; /* actorOperator(actor) */
    uint8_t actor[32];
    bool want_in_scope; /* isServiceInScope(op, agent, scope_id) */
    bool want_scope;    /* getScope(op, agent), has_service against scope_id */
    uint8_t op[32], agent[32], scope_id[32];
    bool want_epoch; /* currentEpoch() */
} ak_chain_query;

typedef struct ak_chain_snapshot {
    uint8_t block_hash[32];
    uint64_t block_number;
    unsigned round_trips; /* how many POSTs this snapshot took (1 or 2) */
    ak_err device_rc, actor_operator_rc, in_scope_rc, scope_rc, epoch_rc; /* AK_E_NOT_FOUND: not asked */
    ak_device_entry device;
    uint8_t actor_operator[32];
    bool in_scope;
    ak_scope_entry scope;
    uint64_t epoch;
} ak_chain_snapshot;

AK_MUST ak_err ak_chain_snapshot_read(ak_evm_rpc *r, const ak_chain_query *q, ak_chain_snapshot *out);

/* D2: scope id = keccak256(data_class ":" service). */
void ak_scope_id(ak_cur data_class, ak_cur service, uint8_t out[32]);

#endif
