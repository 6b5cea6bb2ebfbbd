/* rollback.c — the keystore rollback guard (see aks/rollback.h; issue 16 finding 7). */
#include "aks/rollback.h"

#include <stdio.h>
#include <string.h>

#include "ak/ct.h"
#include "ak/log.h"

static void s_rollback_log(const char *msg, ak_err why, uint64_t epoch, uint64_t held, uint64_t highest) {
    char e_s[24], h_s[24], c_s[24];
    snprintf(e_s, sizeof(e_s), "%llu", (unsigned long long)epoch);
    snprintf(h_s, sizeof(h_s), "%llu", (unsigned long long)held);
    snprintf(c_s, sizeof(c_s), "%llu", (unsigned long long)highest);
    ak_log_error(msg, "reason", ak_err_reason(why), "epoch", e_s, "epoch_max_held", h_s, "highest_committed",
                 c_s);
}

ak_err aks_rollback_verify(aks_keystore *ks, aks_epochs *e) {
    uint64_t highest = 0, held = aks_keystore_max_epoch(ks);
    AK_GUARD(aks_epochs_highest_committed(e, &highest));
    if (highest > held) {
        s_rollback_log("keystore rollback: the chain has a K3 commitment for an epoch this keystore lacks; "
                       "refusing to create it (restore a newer keystore, see docs/signer-backup.md)",
                       AK_E_SIGNER_ROLLBACK, highest, held, highest);
        return AK_E_SIGNER_ROLLBACK;
    }
    static const uint8_t zero[32] = {0};
    for (uint64_t ep = 1; ep <= highest; ep++) {
        uint8_t onchain[32], mine[32];
        AK_GUARD(aks_epochs_commitment(e, ep, onchain));
        if (ak_ct_eq(onchain, zero, 32)) continue; /* not recorded: nothing to compare */
        AK_GUARD(aks_keystore_commitment(ks, ep, mine));
        if (!ak_ct_eq(onchain, mine, 32)) {
            s_rollback_log("keystore mismatch: a K3 does not match the chain's commitment for its epoch "
                           "(another signer's keystore?); refusing to serve",
                           AK_E_SIGNER_COMMITMENT_MISMATCH, ep, held, highest);
            return AK_E_SIGNER_COMMITMENT_MISMATCH;
        }
    }
    return AK_OK;
}

ak_err aks_rollback_ensure_epoch(aks_keystore *ks, aks_epochs *e, uint64_t current) {
    uint64_t held = aks_keystore_max_epoch(ks), highest = 0;
    if (current <= held) return AK_OK;
    /* Read after deciding to create: a commitment recorded for any epoch above `held` means that
     * epoch's K3 existed once, in a keystore newer than this one. */
    AK_GUARD(aks_epochs_highest_committed(e, &highest));
    if (highest > held) {
        s_rollback_log("keystore rollback: refusing to create K3 for an epoch that already has a commitment "
                       "on chain (an older keystore was restored; see docs/signer-backup.md)",
                       AK_E_SIGNER_ROLLBACK, held + 1, held, highest);
        return AK_E_SIGNER_ROLLBACK;
    }
    return aks_keystore_ensure_epoch(ks, current);
}
