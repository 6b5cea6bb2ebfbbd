/*
 * aks/rollback.h — the keystore rollback guard (issue 16 finding 7).
 *
 * Restoring an older keystore.sealed would make the signer create new, different K3 values for
 * epochs it had already used: every secret stored under them silently lost. So the operator
 * records, per epoch, the signer's commitment to its K3 (aks_k3_commitment, a one-way HMAC) on
 * chain (K3EpochCounter.commitEpoch, write-once; `agentkeys epoch rotate` does it), and the
 * signer checks the keystore against those records:
 *
 *   - at start (aks_rollback_verify): every held epoch that has a commitment must match it
 *     (AK_E_SIGNER_COMMITMENT_MISMATCH: another signer's keystore), and the highest committed
 *     epoch must be held (AK_E_SIGNER_ROLLBACK: an older keystore); the signer then exits
 *     non-zero instead of serving;
 *   - before it creates K3 for a new epoch (aks_rollback_ensure_epoch): only when no epoch at or
 *     above the first one to be created has a commitment, i.e. highest committed <= held;
 *     otherwise AK_E_SIGNER_ROLLBACK (503 keystore_rollback) and nothing is created.
 *
 * Held epochs keep serving without the chain (an older keystore holds the same K3 for the
 * epochs it has); the guard only stops *creating* K3 where one already existed.
 */
#ifndef AKS_ROLLBACK_H
#define AKS_ROLLBACK_H

#include <stdint.h>

#include "aks/epochs.h"
#include "aks/keystore.h"

/* Checks the whole keystore against the chain's commitments. AK_E_CHAIN_RPC when unreadable. */
AK_MUST ak_err aks_rollback_verify(aks_keystore *ks, aks_epochs *e);
/* aks_keystore_ensure_epoch(current) under the rule above (no chain read when nothing is new). */
AK_MUST ak_err aks_rollback_ensure_epoch(aks_keystore *ks, aks_epochs *e, uint64_t current);

#endif
