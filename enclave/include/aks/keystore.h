/*
 * aks/keystore.h — the signer's sealed keystore (decisions D5, D7).
 *
 * Holds, in locked no-dump memory (aks/secmem.h):
 *   - K3 for every epoch 1..n (32 independent random bytes each; epochs start at 1 like the
 *     K3EpochCounter contract). aks_keystore_ensure_epoch(c) creates n+1..c when the chain's
 *     current epoch c first exceeds n; old epochs are never dropped (old envelopes still open).
 *   - the P-256 signing keys for "session", "oidc" and "cap" tokens (D4): a current key per
 *     purpose, created at first boot, and the previous one after a rotation (one step back), so
 *     tokens signed just before a rotation still verify against the published JWKS.
 *
 * Persistence: the whole state is one file, sealed with an aks_sealer (AES-256-GCM), AAD
 * "agentkeys.keystore.v1". Every change rewrites it atomically — write <path>.tmp, fsync,
 * rename over <path>, fsync the directory — BEFORE the new key is used, so a crash never leaves
 * a K3 that served a KEK but was not saved. Plaintext layout (all integers big-endian):
 *     "AKKS" ‖ u32 version(1) ‖ u32 n_epochs ‖ n_epochs × K3(32)
 *            ‖ u32 n_keys ‖ n_keys × { u8 purpose ‖ u8 slot(0 current, 1 previous) ‖ u64 created_unix ‖ priv(32) }
 *
 * Thread safety: every call takes the keystore's mutex; secrets are copied out under it and the
 * copy is the caller's to wipe.
 *
 * kid = "<purpose>-" ‖ RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical EC JWK),
 * e.g. "oidc-NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".
 */
#ifndef AKS_KEYSTORE_H
#define AKS_KEYSTORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "aks/sealer.h"

/* Most epochs held (1 KiB locked per 32 epochs). Rotations are rare (operator action). */
#define AKS_MAX_EPOCHS 1024u
#define AKS_KID_MAX 64u

typedef enum { AKS_KEY_SESSION = 0, AKS_KEY_OIDC = 1, AKS_KEY_CAP = 2, AKS_KEY__COUNT = 3 } aks_key_purpose;

/* "session" / "oidc" / "cap". */
const char *aks_key_purpose_name(aks_key_purpose p);
/* Parses the name; false when unknown. */
bool aks_key_purpose_parse(ak_cur name, aks_key_purpose *out);

typedef struct aks_sigkey {
    bool present;
    uint8_t priv[32];
    uint8_t pub[65];
    uint64_t created;
    char kid[AKS_KID_MAX];
} aks_sigkey;

typedef struct aks_secrets {
    uint32_t n_epochs; /* epochs 1..n_epochs are held */
    uint8_t k3[AKS_MAX_EPOCHS][32];
    aks_sigkey keys[AKS_KEY__COUNT][2]; /* [purpose][0 current, 1 previous] */
} aks_secrets;

/* Called after every successful write of the sealed file, with the sealed bytes and the epoch
 * count (the backup, aks/backup.h). It runs under the writers' lock only: readers (derive, sign,
 * keys) keep being served the previous state meanwhile, and the change becomes visible only after
 * it returns AK_OK. An error drops the change: the new K3 or key is never served (fail closed),
 * the next attempt makes a fresh one. */
typedef ak_err (*aks_keystore_saved_fn)(void *ud, ak_cur sealed, uint32_t n_epochs);

typedef struct aks_keystore {
    char path[512];
    aks_sealer *sealer;             /* borrowed */
    aks_secrets *s;                 /* locked memory */
    pthread_mutex_t mu;             /* the served state (ks->s): short critical sections only */
    pthread_mutex_t write_mu;       /* one writer at a time: stage a copy, save it, install it under mu */
    aks_keystore_saved_fn on_saved; /* optional; set after aks_keystore_open */
    void *on_saved_ud;
} aks_keystore;

/* A public key entry for the JWKS. */
typedef struct aks_pubkey {
    aks_key_purpose purpose;
    bool current;
    uint8_t pub[65];
    char kid[AKS_KID_MAX];
    uint64_t created;
} aks_pubkey;

/*
 * Opens the keystore at `path`: unseals it when it exists (AK_E_DECRYPT_FAILED when the file was
 * tampered with or the sealing key differs, AK_E_INVALID_INPUT when the plaintext is malformed),
 * otherwise creates the three signing keys and saves. Any missing signing key is created too.
 */
AK_MUST ak_err aks_keystore_open(aks_keystore *ks, const char *path, aks_sealer *sealer);
void aks_keystore_close(aks_keystore *ks);

/* Highest epoch held (0 when none). */
uint64_t aks_keystore_max_epoch(aks_keystore *ks);
/* Creates K3 for every epoch up to `current` that is not held yet, then saves (no-op when held).
 * AK_E_LIMIT when `current` exceeds AKS_MAX_EPOCHS. */
AK_MUST ak_err aks_keystore_ensure_epoch(aks_keystore *ks, uint64_t current);
/* Copies K3[epoch] out. AK_E_NOT_FOUND when not held (or epoch 0). */
AK_MUST ak_err aks_keystore_k3(aks_keystore *ks, uint64_t epoch, uint8_t out[32]);

/* Signs SHA-256(msg) (ES256, raw r‖s) with the key of `purpose` named `kid` (current or previous;
 * NULL kid = current). AK_E_NOT_FOUND when no held key has that kid. kid_out gets the kid used. */
AK_MUST ak_err aks_keystore_sign(aks_keystore *ks, aks_key_purpose purpose, ak_cur kid, const void *msg,
                                 size_t len, uint8_t sig64[64], char kid_out[AKS_KID_MAX]);
/* Current key becomes previous, a fresh current key is created, and the store is saved. */
AK_MUST ak_err aks_keystore_rotate(aks_keystore *ks, aks_key_purpose purpose);
/* Lists public keys (current first per purpose); returns the count (<= 2 * AKS_KEY__COUNT). */
size_t aks_keystore_public_keys(aks_keystore *ks, aks_pubkey out[2 * AKS_KEY__COUNT]);

/* The one-way commitment to an epoch's K3 recorded on chain (issue 16 finding 7):
 * HMAC-SHA256(key = K3, "agentkeys.k3.commitment.v1" ‖ uint64 big-endian epoch). */
#define AKS_K3_COMMITMENT_LABEL "agentkeys.k3.commitment.v1"
void aks_k3_commitment(const uint8_t k3[32], uint64_t epoch, uint8_t out[32]);
/* The commitment of a held epoch; AK_E_NOT_FOUND when not held (or epoch 0). */
AK_MUST ak_err aks_keystore_commitment(aks_keystore *ks, uint64_t epoch, uint8_t out[32]);

/* Serialisation, exposed for tests. */
AK_MUST ak_err aks_keystore_encode(const aks_secrets *s, ak_buf *out);
AK_MUST ak_err aks_keystore_decode(ak_cur in, aks_secrets *s);
/* kid for a public key (see above). */
void aks_keystore_kid(aks_key_purpose purpose, const uint8_t pub[65], char kid[AKS_KID_MAX]);

#endif
