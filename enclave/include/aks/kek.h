/*
 * aks/kek.h — KEK derivation (decisions D6).
 *
 *   KEK = HKDF-SHA256(ikm = K3[epoch], salt = "agentkeys.kek.v1",
 *                     info = data_class ‖ 0x00 ‖ operator_omni (32 raw) ‖ actor_omni (32 raw), L = 32)
 *
 * Per class, per operator/actor pair, per epoch. Only the signer calls this; the result goes
 * only to an attested worker of that class and is wiped after the response is written.
 */
#ifndef AKS_KEK_H
#define AKS_KEK_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"

#define AKS_KEK_SALT "agentkeys.kek.v1"

/* The data classes the signer knows (D15 drops config/classify): "credentials", "memory". */
bool aks_data_class_valid(ak_cur data_class);

/* AK_E_INVALID_INPUT for an unknown class. `kek` is the caller's to wipe. */
AK_MUST ak_err aks_kek_derive(const uint8_t k3[32], ak_cur data_class, const uint8_t operator_omni[32],
                              const uint8_t actor_omni[32], uint8_t kek[32]);

#endif
