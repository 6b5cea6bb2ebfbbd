/*
 * aks/epochs.h — where the signer learns the chain's current K3 epoch (decisions D7).
 *
 * Sources (--epoch-source / AKS_EPOCH_SOURCE):
 *   file:PATH          the decimal epoch in a file (tests, and the local stack without anvil)
 *   evm:URL#0xADDRESS  eth_call K3EpochCounter.currentEpoch() (selector 0x76671808,
 *                      contracts.md §5) on the JSON-RPC endpoint URL at "latest"
 * (ak/evm.h, when it lands, can replace the small JSON-RPC call in epochs.c; the interface stays.)
 *
 * aks_epochs caches the last value read: aks_epochs_current() answers from the cache while it
 * is younger than ttl_ms (default 2000). A caller that needs an answer at least as new as its own
 * request (a derive for an epoch above the highest held, right after the chain advanced) asks
 * with `fresh`: it gets a value read by a chain call that STARTED after it asked. Reads are
 * serialised under one mutex, so concurrent fresh callers share the read that follows their
 * arrival (coalescing) instead of each making their own. The counter only grows, so an epoch the
 * keystore already holds never needs the chain at all.
 */
#ifndef AKS_EPOCHS_H
#define AKS_EPOCHS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"

typedef struct aks_epochs aks_epochs;

/* AK_E_CONFIG for an unknown or malformed spec. */
AK_MUST ak_err aks_epochs_open(const char *spec, unsigned ttl_ms, aks_epochs **out);
/* The same, the evm: source's connections going through `connect` (NULL: direct), a connector
 * spec of ak/connector.h — inside an enclave "vsock:3:8004", the parent's proxy to the RPC
 * endpoint, while the URL's host stays the one named in Host/SNI/certificate check (issue 18).
 * AK_E_CONFIG for a malformed connector, or a connector with a file: source. */
AK_MUST ak_err aks_epochs_open_via(const char *spec, unsigned ttl_ms, const char *connect, aks_epochs **out);
void aks_epochs_free(aks_epochs *e);
/* The chain's current epoch. AK_E_CHAIN_RPC when the source cannot be read (or says 0). */
AK_MUST ak_err aks_epochs_current(aks_epochs *e, bool fresh, uint64_t *out);
/*
 * The chain's K3 commitments (rollback guard, issue 16 finding 7; aks/rollback.h). Never cached:
 * both are read only at start and when a new epoch is about to be created.
 *   evm:  K3EpochCounter.highestCommittedEpoch() (0x4b0e0fbd), epochCommitment(uint256) (0xf5be7368)
 *   file: PATH.commitments beside the epoch file, one "EPOCH 0x<64 hex>" line per recorded epoch
 *         (missing file = none recorded; a malformed line or a repeated epoch = AK_E_CHAIN_RPC).
 * aks_epochs_highest_committed: 0 when none. aks_epochs_commitment: all-zero when not recorded.
 */
AK_MUST ak_err aks_epochs_highest_committed(aks_epochs *e, uint64_t *out);
AK_MUST ak_err aks_epochs_commitment(aks_epochs *e, uint64_t epoch, uint8_t out[32]);
/* Parses a commitments file: the highest epoch listed, and the commitment of `epoch` (zero if not
 * listed; `epoch` 0 asks for none). AK_E_INVALID_INPUT when malformed. */
AK_MUST ak_err aks_epochs_parse_commitments(ak_cur text, uint64_t epoch, uint64_t *highest, uint8_t out[32]);
/* Parses a file source's content: optional whitespace around a strict decimal. */
AK_MUST ak_err aks_epochs_parse_decimal(ak_cur text, uint64_t *out);

#endif
