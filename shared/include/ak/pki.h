/*
 * ak/pki.h — PEM/DER material for BearSSL: certificate chains, trust anchors, P-256 keys.
 *
 * Used by the signer enclave (server chain, worker CA, attestation key) and by the signer client
 * (pinned CA, client identity, pinned attestation public key). Everything is decoded ONCE at
 * start-up into BearSSL structures; nothing here is on a per-request path.
 *
 * Only P-256 keys are accepted (the project's one TLS and attestation curve, DESIGN §4): an
 * RSA or other-curve key is AK_E_BAD_KEY. Private key bytes live inside ak_pki_eckey and are
 * wiped by ak_pki_eckey_wipe; callers that keep one for the process lifetime should place the
 * struct in locked memory (the enclave does).
 */
#ifndef AK_PKI_H
#define AK_PKI_H

#include <bearssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

/* Largest PEM/DER file we read (a chain of a few certificates, or a key). */
#define AK_PKI_MAX_FILE (64u * 1024u)
/* Most certificates in a chain or CA bundle we accept. */
#define AK_PKI_MAX_CERTS 16u

/* Reads a whole small file (<= AK_PKI_MAX_FILE) into `out` (initialised by the callee; secret
 * flag set so key files are wiped on free). AK_E_IO when unreadable, AK_E_TOO_LARGE when big. */
AK_MUST ak_err ak_pki_read_file(const char *path, ak_buf *out);

/* A certificate chain (leaf first), DER, in BearSSL's shape. */
typedef struct ak_pki_chain {
    br_x509_certificate certs[AK_PKI_MAX_CERTS];
    size_t n;
} ak_pki_chain;

/* Every "CERTIFICATE" object of a PEM text, in order. AK_E_BAD_KEY when there is none or the PEM
 * is malformed; AK_E_LIMIT past AK_PKI_MAX_CERTS. Free with ak_pki_chain_free. */
AK_MUST ak_err ak_pki_chain_from_pem(ak_cur pem, ak_pki_chain *out);
void ak_pki_chain_free(ak_pki_chain *c);

/* Trust anchors (CA certificates) decoded from PEM, flagged BR_X509_TA_CA. Only EC P-256 CA keys. */
typedef struct ak_pki_anchors {
    br_x509_trust_anchor ta[AK_PKI_MAX_CERTS];
    size_t n;
} ak_pki_anchors;
AK_MUST ak_err ak_pki_anchors_from_pem(ak_cur pem, ak_pki_anchors *out);
void ak_pki_anchors_free(ak_pki_anchors *a);

/* A P-256 private key with its public point, ready for BearSSL (sk.x points into priv). */
typedef struct ak_pki_eckey {
    uint8_t priv[32];
    uint8_t pub[65];
    br_ec_private_key sk;
    br_ec_public_key pk; /* pk.q points into pub */
} ak_pki_eckey;

/* Decodes "EC PRIVATE KEY" (SEC1) or "PRIVATE KEY" (PKCS#8) PEM; P-256 only. */
AK_MUST ak_err ak_pki_eckey_from_pem(ak_cur pem, ak_pki_eckey *out);
/* Builds the struct from a raw 32-byte scalar (computes the public point). */
AK_MUST ak_err ak_pki_eckey_from_raw(const uint8_t priv[32], ak_pki_eckey *out);
/* Re-points sk.x / pk.q after the struct was copied or moved. */
void ak_pki_eckey_fix(ak_pki_eckey *k);
void ak_pki_eckey_wipe(ak_pki_eckey *k);

/* Parses a P-256 SubjectPublicKeyInfo (DER) into a 65-byte uncompressed point (checked on curve). */
AK_MUST ak_err ak_pki_spki_p256_der(ak_cur der, uint8_t pub65[65]);
/* Same from PEM "PUBLIC KEY". */
AK_MUST ak_err ak_pki_spki_p256_pem(ak_cur pem, uint8_t pub65[65]);
/* The end-entity public key of one DER certificate (P-256 only). */
AK_MUST ak_err ak_pki_cert_p256_pub(ak_cur der, uint8_t pub65[65]);

#endif
