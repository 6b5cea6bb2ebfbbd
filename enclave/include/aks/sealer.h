/*
 * aks/sealer.h — the platform's sealing key, behind one small interface (decisions D7).
 *
 * A sealer turns the keystore's plaintext into an opaque blob bound to the platform and back.
 *   - "file" (local runs): AES-256-GCM under a 32-byte key read from a file (raw 32 bytes or
 *     64 hex characters, mode 0600 recommended). blob = nonce(12) ‖ ciphertext ‖ tag(16), a fresh
 *     random nonce per seal, AAD supplied by the caller (the keystore binds its format version).
 *   - "nitro" (AWS Nitro Enclaves, issue 18 item 2; enclave/README.md "KMS-sealed keystore"): the
 *     same AES-256-GCM blob, but the 32-byte sealing key is a KMS data key (AES_256). Its KMS
 *     ciphertext is stored beside the keystore (<state>/keystore.datakey: the JSON that
 *     `aws kms generate-data-key-without-plaintext --key-spec AES_256 --output json` prints,
 *     {"CiphertextBlob":"<b64>","KeyId":"arn:…"[,"KeyMaterialId":"…"]}, nothing else). At open the
 *     sealer generates an RSA-2048 key pair inside the enclave, asks `recipient_doc` for an
 *     attestation document whose public_key is its SubjectPublicKeyInfo, calls KMS Decrypt with
 *     that document as Recipient (ak/kms.h; the key policy allows it only for the enclave's
 *     measurement) and unwraps CiphertextForRecipient (ak/cms.h). The RSA key and the CMS are
 *     wiped at once; the data key lives only in the sealer's locked page. A wrong data key fails
 *     the keystore's GCM tag (AK_E_DECRYPT_FAILED), so CBC's lack of integrity cannot pass.
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

typedef struct aks_nitro_sealer_config {
    const char *datakey_path; /* <state>/keystore.datakey (format above) */
    const char *kms_endpoint; /* NULL -> https://kms.<region>.amazonaws.com (through the vsock proxy) */
    const char *kms_connect;  /* optional HOST:PORT every KMS connection goes to (the proxy port) */
    const char *region;       /* required */
    ak_sigv4_creds creds;     /* the parent's instance-role credentials, handed in */
    aks_recipient_doc_fn recipient_doc;
    void *recipient_ctx;
    unsigned timeout_ms; /* whole KMS call; 0 -> 15000 */
} aks_nitro_sealer_config;

#define AKS_DATAKEY_MAX_FILE 16384u

/* Nitro (KMS + attestation) sealer as above. AK_E_CONFIG without region, credentials or a
 * recipient document source; AK_E_IO / AK_E_KMS_DATAKEY_INVALID for the data key file; the
 * ak/kms.h and ak/cms.h reasons for the call and the unwrap. */
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
