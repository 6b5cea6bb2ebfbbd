/*
 * aks/attester.h — who signs the attestation document (see ak/attest.h for its format).
 *
 *   - "local": a P-256 key from the dev PKI (attest.key). Callers pin its public key
 *     (AK_SIGNER_ATTEST_PUB). This proves "the holder of the attestation key vouches for this
 *     measurement and TLS key" — the shape of Nitro's guarantee, with the dev PKI as the root.
 *   - "nitro": the document is produced by the Nitro Secure Module (aks/nsm.h): an Attestation
 *     request with nonce = the caller's nonce, public_key = the TLS key as P-256 SPKI DER and
 *     user_data = "ak-signer-tls/v1" ‖ measurement (ak/attest.h, "the two modes"); the NSM
 *     answers a COSE_Sign1 signed by AWS's Nitro PKI, which the attester checks it can parse
 *     and that it carries exactly those three values before handing out standard base64 of it.
 *     Verifiers pin the AWS Nitro root and PCR0 instead of a key. The NSM sets the time.
 *
 * The measurement is SHA-384 of the running executable (/proc/self/exe), computed once at start.
 */
#ifndef AKS_ATTESTER_H
#define AKS_ATTESTER_H

#include "ak/attest.h"
#include "ak/pki.h"
#include "aks/nsm.h"

typedef struct aks_attester aks_attester;
struct aks_attester {
    const char *name;
    /* Appends the document for `c` to `doc`. */
    ak_err (*document)(aks_attester *a, const ak_attest_claims *c, ak_buf *doc);
    void (*destroy)(aks_attester *a);
    ak_pki_eckey *key; /* local: locked memory */
    /* nitro: the NSM transport (aks_nsm_ioctl on nsm_fd, or a test's) */
    aks_nsm_transport_fn nsm;
    void *nsm_ctx;
    int nsm_fd;
};

AK_MUST ak_err aks_attester_local_open(const char *key_pem_path, aks_attester **out);
/* Opens `device` (NULL: AKS_NSM_DEVICE) and asks the NSM for one probe document (random nonce)
 * so a signer without a working NSM fails at start, not at its first caller. Missing device or
 * failed ioctl: AK_E_ATTEST_NSM_UNAVAILABLE, logged ("nsm unavailable", the device, errno);
 * an NSM error or garbage: its reason. Never falls back to local. */
AK_MUST ak_err aks_attester_nitro_open(const char *device, aks_attester **out);
/* The same over any transport (tests); `ctx` is passed to it. Probes like the above. */
AK_MUST ak_err aks_attester_nitro_with(aks_nsm_transport_fn nsm, void *ctx, aks_attester **out);
/* The KMS recipient document (aks_recipient_doc_fn, aks/sealer.h): an NSM document whose
 * public_key is `spki_der` (the sealer's in-enclave RSA key), user_data "ak-kms-recipient/v1" and a
 * fresh random nonce; the raw COSE_Sign1 is appended to `doc`. `attester` must be a nitro
 * attester (AK_E_CONFIG otherwise); the NSM reasons as for documents. */
AK_MUST ak_err aks_attester_recipient_doc(void *attester, ak_cur spki_der, ak_buf *doc);
void aks_attester_free(aks_attester *a);

/* SHA-384 of a file (the signer measures /proc/self/exe). */
AK_MUST ak_err aks_measure_file(const char *path, uint8_t out[48]);

#endif
