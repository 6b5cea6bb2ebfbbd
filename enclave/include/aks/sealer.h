/*
 * aks/sealer.h — the platform's sealing key, behind one small interface (decisions D7).
 *
 * A sealer turns the keystore's plaintext into an opaque blob bound to the platform and back.
 *   - "file" (local runs): AES-256-GCM under a 32-byte key read from a file (raw 32 bytes or
 *     64 hex characters, mode 0600 recommended). blob = nonce(12) ‖ ciphertext ‖ tag(16), a fresh
 *     random nonce per seal, AAD supplied by the caller (the keystore binds its format version).
 *   - "nitro" (AWS Nitro Enclaves, design, see enclave/README.md): the same AES-256-GCM blob, but
 *     the 32-byte sealing key is a KMS data key. Its ciphertext is stored next to the keystore; at
 *     boot the enclave calls KMS Decrypt through the vsock proxy with the NSM attestation document
 *     as `Recipient`, and the KMS key policy allows Decrypt only for the enclave's PCR0/PCR8, so
 *     only the measured signer can recover it. That path is not built in this version:
 *     aks_sealer_nitro_open returns AK_E_CONFIG.
 */
#ifndef AKS_SEALER_H
#define AKS_SEALER_H

#include <stdint.h>

#include "ak/bytes.h"

typedef struct aks_sealer aks_sealer;
struct aks_sealer {
    const char *name;
    /* Appends the sealed blob of `pt` to `out`. */
    ak_err (*seal)(aks_sealer *s, ak_cur aad, ak_cur pt, ak_buf *out);
    /* Appends the plaintext to `pt` (a secret buffer); AK_E_DECRYPT_FAILED on any tampering. */
    ak_err (*unseal)(aks_sealer *s, ak_cur aad, ak_cur blob, ak_buf *pt);
    void (*destroy)(aks_sealer *s);
    uint8_t *key; /* 32 bytes in locked memory (file sealer) */
};

#define AKS_SEAL_OVERHEAD 28u /* nonce + tag */

/* Reads the sealing key file. AK_E_IO unreadable, AK_E_BAD_KEY wrong size/format. */
AK_MUST ak_err aks_sealer_file_open(const char *key_path, aks_sealer **out);
/* A file-style sealer over a key given in memory (tests). */
AK_MUST ak_err aks_sealer_from_key(const uint8_t key[32], aks_sealer **out);
/* Nitro (KMS + NSM) sealer: not built in this version; AK_E_CONFIG. */
AK_MUST ak_err aks_sealer_nitro_open(aks_sealer **out);
/* destroy + NULL check. */
void aks_sealer_free(aks_sealer *s);

#endif
