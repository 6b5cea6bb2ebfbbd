/*
 * aks/sealer.h — the platform's sealing key, behind one small interface (decisions D7).
 *
 * A sealer turns the keystore's plaintext into an opaque blob bound to the platform and back.
 *   - "file" (local runs): AES-256-GCM under a 32-byte key read from a file (raw 32 bytes or
 *     64 hex characters, mode 0600 recommended). blob = nonce(12) ‖ ciphertext ‖ tag(16), a fresh
 *     random nonce per seal, AAD supplied by the caller (the keystore binds its format version).
 *   - "nitro" (AWS Nitro Enclaves, issue 18 item 2; enclave/README.md "KMS-sealed keystore"): the
 *     same AES-256-GCM blob, but the 32-byte sealing key is a KMS data key (AES_256) under the KMS
 *     key pinned in the image (`key_pin`: a key ARN or alias ARN, measured into PCR0 with the rest
 *     of the command line). At open the sealer generates an RSA-2048 key pair inside the enclave
 *     and asks `recipient_doc` for an attestation document whose public_key is its
 *     SubjectPublicKeyInfo (the key policy allows the enclave's measurement only). Then:
 *       - the data key store (below) holds the data key's KMS ciphertext: KMS Decrypt with
 *         KeyId = the pin and that document as Recipient, and CiphertextForRecipient unwrapped
 *         (ak/kms.h, ak/cms.h). A ciphertext under any other key — one a malicious parent made in
 *         an account it controls — is refused by KMS (IncorrectKeyException: kms_key_mismatch);
 *       - the store has none (first boot of a deployment) and no sealed state exists that only a
 *         lost key would open: KMS GenerateDataKey under the pin for the same Recipient; the
 *         plaintext key is unwrapped here and never leaves; its ciphertext is saved create-only.
 *         When another signer saved one first, its key is used instead (one deployment, one key);
 *       - the store has none but sealed state exists: refused (kms_datakey_missing), since a new
 *         key would orphan that state.
 *     The RSA key and the CMS are wiped at once; the data key lives only in the sealer's locked
 *     page. A wrong data key fails the keystore's GCM tag (AK_E_DECRYPT_FAILED), so CBC's lack of
 *     integrity cannot pass.
 *
 * The data key file's text (both stores): the JSON that `aws kms generate-data-key-without-plaintext
 * --key-spec AES_256 --output json` prints, {"CiphertextBlob":"<b64>","KeyId":"arn:…"
 * [,"KeyMaterialId":"…"]}, nothing else. It is not secret (only the pinned image can open it).
 * Stores: a local file (<state>/keystore.datakey, below) or, with --backup, the object
 * <prefix>keystore.datakey in the backup bucket (aks/backup.h), where a fresh enclave finds it.
 */
#ifndef AKS_SEALER_H
#define AKS_SEALER_H

#include <stdint.h>

#include "ak/bytes.h"
#include "ak/sigv4.h"

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
/* Produces the attestation document KMS gets as Recipient: public_key = `spki_der` (DER
 * SubjectPublicKeyInfo of the enclave's RSA key). Production: the NSM attester; tests: a stand-in. */
typedef ak_err (*aks_recipient_doc_fn)(void *ctx, ak_cur spki_der, ak_buf *doc);

/* Where the data key's KMS ciphertext lives (text as above). */
typedef struct aks_datakey_store {
    const char *name; /* for logs: "file" or "bucket" */
    /* Appends the stored text to `text`; AK_E_NOT_FOUND when there is none, and then `*orphans`
     * tells whether sealed state exists (a keystore, a backup) that only the missing key opens.
     * Any other error: the store could not be read (fail closed). */
    ak_err (*load)(void *ctx, ak_buf *text, bool *orphans);
    /* Saves `text` create-only: AK_E_PRECONDITION_FAILED when one exists already. */
    ak_err (*save)(void *ctx, ak_cur text);
    void *ctx;
} aks_datakey_store;

typedef struct aks_datakey_file {
    char path[600];          /* the data key file */
    char keystore_path[600]; /* its keystore: an orphan when it exists without the key */
} aks_datakey_file;

/* The local-file store over `f` (which must outlive it). AK_E_CONFIG for over-long paths. */
AK_MUST ak_err aks_datakey_file_store(aks_datakey_file *f, const char *path, const char *keystore_path,
                                      aks_datakey_store *out);

typedef struct aks_nitro_sealer_config {
    const char *key_pin;      /* required: the pinned KMS key, key ARN or alias ARN (ak_kms_key_pin) */
    aks_datakey_store store;  /* required */
    const char *kms_endpoint; /* NULL -> https://kms.<region>.amazonaws.com (through the vsock proxy) */
    const char *kms_connect;  /* optional connector every KMS connection goes to (the proxy port) */
    const char *region;       /* NULL -> the pin's region; otherwise it must be the pin's */
    ak_sigv4_creds creds;     /* the parent's instance-role credentials, handed in */
    aks_recipient_doc_fn recipient_doc;
    void *recipient_ctx;
    unsigned timeout_ms; /* each KMS call; 0 -> 15000 */
} aks_nitro_sealer_config;

#define AKS_DATAKEY_MAX_FILE 16384u

/* Nitro (KMS + attestation) sealer as above. AK_E_CONFIG without a valid pin, store, credentials
 * or recipient document source, or for a region that is not the pin's; AK_E_KMS_DATAKEY_INVALID
 * for malformed stored text, AK_E_KMS_DATAKEY_MISSING as above, the store's errors; the ak/kms.h
 * and ak/cms.h reasons for the calls and the unwrap. */
AK_MUST ak_err aks_sealer_nitro_open(const aks_nitro_sealer_config *cfg, aks_sealer **out);
#ifndef AK_RELEASE
/* TEST ONLY, absent from release builds: a recipient "document" that attests nothing — the CBOR
 * map {"module_id":"ak-test-unattested","public_key":<spki>,"image_sha384":<ctx: 48 bytes, the
 * signer's self-measurement>} — for the local KMS stand-in (tests/e2e/fixtures/kms_standin.py)
 * where /dev/nsm does not exist. Real KMS refuses it. */
AK_MUST ak_err aks_recipient_doc_test_unattested(void *ctx, ak_cur spki_der, ak_buf *doc);
#endif
/* Parses the data key file's text (exposed for tests): the decoded blob and the KeyId. */
AK_MUST ak_err aks_datakey_parse(ak_cur text, ak_buf *ciphertext_blob, ak_buf *key_id);
/* destroy + NULL check. */
void aks_sealer_free(aks_sealer *s);

#endif
