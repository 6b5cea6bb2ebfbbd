/*
 * aks/attester.h — who signs the attestation document (see ak/attest.h for its format).
 *
 *   - "local": a P-256 key from the dev PKI (attest.key). Callers pin its public key
 *     (AK_SIGNER_ATTEST_PUB). This proves "the holder of the attestation key vouches for this
 *     measurement and TLS key" — the shape of Nitro's guarantee, with the dev PKI as the root.
 *   - "nitro" (design, enclave/README.md): the document is produced by the Nitro Security Module
 *     (/dev/nsm, NSM_GET_ATTESTATION_DOC with user_data = the payload's SHA-256, nonce, and
 *     public_key = the TLS key), a COSE_Sign1 signed by AWS's Nitro PKI; verifiers pin the AWS
 *     Nitro root and PCR0 instead of a key. Not built in this version (AK_E_CONFIG).
 *
 * The measurement is SHA-384 of the running executable (/proc/self/exe), computed once at start.
 */
#ifndef AKS_ATTESTER_H
#define AKS_ATTESTER_H

#include "ak/attest.h"
#include "ak/pki.h"

typedef struct aks_attester aks_attester;
struct aks_attester {
    const char *name;
    /* Appends the document for `c` to `doc`. */
    ak_err (*document)(aks_attester *a, const ak_attest_claims *c, ak_buf *doc);
    void (*destroy)(aks_attester *a);
    ak_pki_eckey *key; /* local: locked memory */
};

AK_MUST ak_err aks_attester_local_open(const char *key_pem_path, aks_attester **out);
AK_MUST ak_err aks_attester_nitro_open(aks_attester **out);
void aks_attester_free(aks_attester *a);

/* SHA-384 of a file (the signer measures /proc/self/exe). */
AK_MUST ak_err aks_measure_file(const char *path, uint8_t out[48]);

#endif
