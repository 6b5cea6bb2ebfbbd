/*
 * ak/chain.h — sending contract transactions and reading what went wrong, for operator tooling
 * (the `agentkeys` CLI, shared/tools/evmtool, shared/tools/audit-anchor).
 *
 *   ak_chain_send: eth_estimateGas from the sender (a revert here is decoded and nothing is
 *   sent), then an EIP-1559 (type 2) transaction built and signed with ak/evm.h, sent, and its
 *   receipt awaited until a deadline with a progress callback. A mined transaction that failed
 *   is replayed with eth_call at its block to recover the revert data.
 *
 *   ak_chain_revert_text: revert data -> words. Error(string) and Panic(uint256) as Solidity
 *   defines them; our contracts' custom errors (contracts/src/<name>.sol) by their 4-byte selector,
 *   with the arguments decoded and a sentence saying what it means. The table of custom errors
 *   is ak_chain_custom_errors; tests/unit/chain_test.c checks it against the `error`
 *   declarations of contracts/src/<name>.sol and tests/e2e/cli_operator_test.sh against the compiled
 *   ABI (contracts/out), so it cannot drift from the contracts.
 */
#ifndef AK_CHAIN_H
#define AK_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/abi.h"
#include "ak/bytes.h"
#include "ak/evm.h"

/* One custom error: its declaration as written in the contract, minus "error " and ";"
 * ("StaleSignCount(uint32 got, uint32 last)"), and what it means for the user. */
typedef struct ak_chain_error_def {
    const char *decl;
    const char *words;
} ak_chain_error_def;

extern const ak_chain_error_def ak_chain_custom_errors[]; /* ends with {NULL, NULL} */

/* "Name(t1,t2)" of a declaration (parameter names dropped, spaces removed) into `out`. */
AK_MUST ak_err ak_chain_error_signature(const char *decl, ak_buf *out);
/*
 * Appends a human reading of revert data to `out`:
 *   ""                        -> "reverted without a reason"
 *   Error(string)             -> "reverted: <text>" (non-printable bytes as '?')
 *   Panic(uint256)            -> "panic 0x11: arithmetic overflow or underflow"
 *   a known custom error      -> "StaleSignCount(got=3, last=5): <words>"
 *   an unknown selector       -> "unknown error 0x12345678 (N bytes of arguments)"
 * Malformed arguments of a known error are shown as "(malformed arguments)". Only AK_E_LIMIT /
 * AK_E_NOMEM from the buffer can fail.
 */
AK_MUST ak_err ak_chain_revert_text(ak_cur data, ak_buf *out);

typedef enum ak_chain_stage {
    AK_CHAIN_ESTIMATED = 1, /* gas estimated; the transaction is about to be signed */
    AK_CHAIN_SENT,          /* accepted by the node; tx_hash is set */
    AK_CHAIN_WAITING,       /* one poll without a receipt; elapsed_ms since SENT */
    AK_CHAIN_MINED,         /* the receipt arrived */
} ak_chain_stage;

typedef void (*ak_chain_progress_fn)(void *ud, ak_chain_stage stage, const uint8_t tx_hash[32],
                                     int64_t elapsed_ms);

typedef struct ak_chain_send_opts {
    ak_u256 value;      /* wei sent along (zero for contract calls) */
    uint64_t gas_limit; /* 0: the estimate + 25% + 20000 */
    int64_t wait_ms;    /* how long to wait for the receipt; 0 -> 120000 */
    unsigned poll_ms;   /* 0 -> 250 */
    bool dry_run;       /* estimate only: nothing is signed or sent */
    ak_chain_progress_fn progress;
    void *progress_ud;
} ak_chain_send_opts;

typedef struct ak_chain_result {
    uint8_t from[20];
    uint64_t chain_id;
    uint64_t gas_estimate;
    bool sent;
    uint8_t tx_hash[32];
    uint64_t nonce;
    uint64_t gas_limit;
    bool mined;
    ak_eth_receipt receipt;
    bool reverted;    /* the simulation or the mined transaction reverted */
    char reason[512]; /* ak_chain_revert_text of the revert data (cut to fit), or the node's text */
} ak_chain_result;

/*
 * Sends `data` to `to` from the wallet of `key` (see the top of this file). Returns:
 *   AK_OK               mined and successful (or, with dry_run, the estimate succeeded)
 *   AK_E_CHAIN_REVERTED reverted (in the estimate: nothing sent; or mined with status 0);
 *                       out->reverted and out->reason say why
 *   AK_E_DEADLINE       sent, but no receipt within wait_ms (out->sent, out->tx_hash set)
 *   AK_E_CHAIN_RPC      any other node failure (rpc->err_msg has the node's text)
 */
AK_MUST ak_err ak_chain_send(ak_evm_rpc *rpc, const uint8_t key[32], const uint8_t to[20], ak_cur data,
                             const ak_chain_send_opts *o, ak_chain_result *out);

/* eth_call of selector(sig) ‖ abi.encode(args) at "latest" with an optional `from` (NULL: none);
 * the return data is appended to `ret`. A revert is AK_E_CHAIN_REVERTED with the words in `reason`
 * (reason may be NULL, cap its size). */
AK_MUST ak_err ak_chain_call(ak_evm_rpc *rpc, const uint8_t *from, const uint8_t to[20], const char *sig,
                             const ak_abi_val *args, size_t n, ak_buf *ret, char *reason, size_t cap);

/* ---------------------------------------------------------------- audit anchors (D12) */

/* The verdict on one audit event against CredentialAudit, trusting only the chain. */
typedef struct ak_chain_audit_verdict {
    uint8_t leaf[32];       /* keccak256(0x00 ‖ data) */
    uint8_t folded[32];     /* the proof folded locally from the leaf */
    uint64_t root_count;    /* rootCount(op) */
    bool have_root;         /* root_index < root_count */
    uint8_t chain_root[32]; /* getRoot(op, root_index).merkleRoot */
    bool contract_ok;       /* verifyEntryInRoot(op, root_index, proof, data) */
    bool local_ok;          /* have_root and folded == chain_root */
} ak_chain_audit_verdict;

/* Valid only when both contract_ok and local_ok. Errors are RPC/decoding failures only
 * (an unknown root index is a verdict, not an error). n <= AK_MERKLE_MAX_DEPTH. */
AK_MUST ak_err ak_chain_audit_verify(ak_evm_rpc *rpc, const uint8_t audit[20], const uint8_t op[32],
                                     uint64_t root_index, const uint8_t (*proof)[32], size_t n, ak_cur data,
                                     ak_chain_audit_verdict *out);

#endif
