/* kek.c — D6 KEK derivation (see aks/kek.h). */
#include "aks/kek.h"

#include <string.h>

#include "ak/crypto.h"
#include "ak/ct.h"

bool aks_data_class_valid(ak_cur data_class) {
    return ak_cur_eq_str(data_class, "credentials") || ak_cur_eq_str(data_class, "memory");
}

ak_err aks_kek_derive(const uint8_t k3[32], ak_cur data_class, const uint8_t operator_omni[32],
                      const uint8_t actor_omni[32], uint8_t kek[32]) {
    /* info = data_class ‖ 0x00 ‖ operator_omni ‖ actor_omni (D6); the NUL keeps
     * "credentials"/"memory" from ever sharing a prefix with the binary omni bytes. */
    uint8_t info[16 + 1 + 32 + 32];
    AK_ENSURE(aks_data_class_valid(data_class), AK_E_INVALID_INPUT);
    AK_PRECOND(data_class.len <= 16);
    size_t n = 0;
    memcpy(info, data_class.ptr, data_class.len);
    n += data_class.len;
    info[n++] = 0x00;
    memcpy(info + n, operator_omni, 32);
    n += 32;
    memcpy(info + n, actor_omni, 32);
    n += 32;
    ak_err rc = ak_hkdf_sha256(k3, 32, AKS_KEK_SALT, sizeof(AKS_KEK_SALT) - 1, info, n, kek, 32);
    ak_wipe(info, sizeof(info));
    return rc;
}
