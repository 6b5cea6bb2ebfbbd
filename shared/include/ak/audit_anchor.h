/*
 * ak/audit_anchor.h — anchoring audit batches on chain from the operator's master wallet
 * (D12: anchoring is signed by the operator's master wallet, never by a Lambda). Shared by
 * `agentkeys audit anchor` and shared/tools/audit-anchor.
 *
 * For every batch object of the operator (ak_audit_batch_prefix) that is not anchored yet:
 * CredentialAudit.appendRoot(op, root, count) from the master wallet (ak_chain_send: estimate,
 * EIP-1559, bounded wait, revert in words), then the root index is recorded in the batch object:
 * member "anchor" {"root_index","tx","chain_id","contract"} plus metadata
 * x-amz-meta-ak-root-index, rewritten with If-Match on the ETag it read.
 *
 * Idempotent: the operator's anchored roots are read from the chain first (rootCount/getRoot);
 * a batch whose root is already there (a previous run died between the transaction and the
 * rewrite) only gets its index recorded; a batch that records an index the chain agrees with is
 * skipped; one whose recorded index the chain contradicts is anchored again.
 */
#ifndef AK_AUDIT_ANCHOR_H
#define AK_AUDIT_ANCHOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/audit_flush.h"
#include "ak/chain.h"
#include "ak/identity.h"

typedef enum ak_audit_anchor_status {
    AK_ANCHOR_SKIPPED = 1, /* recorded and on chain already */
    AK_ANCHOR_RECORDED,    /* was on chain already; its index is recorded now */
    AK_ANCHOR_WOULD,       /* dry run: would be anchored */
    AK_ANCHOR_ANCHORED,    /* appendRoot sent and mined; index recorded */
    AK_ANCHOR_FAILED,      /* err / reason say why */
} ak_audit_anchor_status;

typedef struct ak_audit_anchor_item {
    ak_cur key; /* the batch object */
    ak_audit_anchor_status status;
    uint64_t root_index;
    uint64_t count;     /* events in the batch */
    ak_chain_result tx; /* AK_ANCHOR_ANCHORED (and a failed send) */
    ak_err err;         /* AK_ANCHOR_FAILED */
} ak_audit_anchor_item;

typedef void (*ak_audit_anchor_report_fn)(void *ud, const ak_audit_anchor_item *item);

typedef struct ak_audit_anchor_cfg {
    ak_evm_rpc *rpc;
    const ak_audit_store *st;
    uint8_t audit[20];  /* CredentialAudit */
    const uint8_t *key; /* the master wallet's secp256k1 key (borrowed, 32 bytes) */
    ak_omni op;
    bool dry_run;
    ak_chain_progress_fn progress; /* per transaction (may be NULL) */
    void *progress_ud;
    ak_audit_anchor_report_fn report; /* per batch (may be NULL) */
    void *report_ud;
} ak_audit_anchor_cfg;

typedef struct ak_audit_anchor_stats {
    size_t batches, anchored, recorded, skipped, would, failed;
    uint64_t gas_used;
} ak_audit_anchor_stats;

/*
 * Runs one pass. Returns AK_E_FORBIDDEN when the wallet is not an active master of the operator
 * (registry.isMasterWallet, checked before anything else), the RPC / listing error when those
 * fail; AK_OK otherwise, with per-batch failures counted in stats->failed (and reported).
 */
AK_MUST ak_err ak_audit_anchor(const ak_audit_anchor_cfg *cfg, ak_audit_anchor_stats *stats);

#endif
