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

/* ---- extended key usage (issue 16 finding 8) ----
 *
 * BearSSL's br_x509_minimal validates the chain but ignores extendedKeyUsage, so an mTLS peer
 * could present a server certificate as a client identity (or the reverse). The signer and its
 * clients therefore require the purpose explicitly:
 *   - the end-entity certificate must carry the extendedKeyUsage extension (2.5.29.37) and it
 *     must list the wanted purpose: id-kp-serverAuth (1.3.6.1.5.5.7.3.1) for the signer,
 *     id-kp-clientAuth (1.3.6.1.5.5.7.3.2) for its callers;
 *   - anyExtendedKeyUsage (2.5.29.37.0) does not count, and neither does an absent extension
 *     (RFC 5280 would read "no EKU" as "any purpose"; we do not).
 */
typedef enum { AK_PKI_EKU_SERVER = 1, AK_PKI_EKU_CLIENT = 2 } ak_pki_eku;

/* "serverAuth" / "clientAuth". */
const char *ak_pki_eku_name(ak_pki_eku want);

/* Checks one DER certificate. AK_OK when its EKU lists `want`; AK_E_CERT_EKU_MISSING when the
 * extension is absent or lacks the purpose; AK_E_BAD_KEY when the DER does not parse. */
AK_MUST ak_err ak_pki_cert_check_eku(ak_cur der, ak_pki_eku want);

/* Largest end-entity certificate the EKU check buffers during a handshake. */
#define AK_PKI_MAX_LEAF 8192u

/*
 * An X.509 engine for BearSSL that runs br_x509_minimal (`inner`, initialised by the caller
 * with its trust anchors and algorithms) and, once the chain validated, the EKU check on the
 * end-entity certificate. A chain whose leaf fails it ends with BR_ERR_X509_FORBIDDEN_KEY_USAGE
 * (the handshake aborts) and `eku_rc` tells why (AK_E_CERT_EKU_MISSING, AK_E_BAD_KEY, or
 * AK_E_TOO_LARGE past AK_PKI_MAX_LEAF). Install with br_ssl_engine_set_x509(eng, &x->vtable).
 */
typedef struct ak_pki_x509_eku {
    const br_x509_class *vtable;
    br_x509_minimal_context *inner;
    ak_pki_eku want;
    unsigned cert_index;
    bool overflow;
    size_t leaf_len;
    ak_err eku_rc;
    unsigned char leaf[AK_PKI_MAX_LEAF];
} ak_pki_x509_eku;

void ak_pki_x509_eku_init(ak_pki_x509_eku *x, br_x509_minimal_context *inner, ak_pki_eku want);

/* ---- RA-TLS: a server certificate authenticated by attestation, not by a CA (issue 18) ----
 *
 * A nitro-mode signer generates its TLS key inside the enclave at boot and serves a self-signed
 * certificate for it; no CA ever vouches for it. Its clients (ak/signer.h, nitro mode without
 * AK_SIGNER_CA_PEM) accept that certificate through this X.509 engine, which checks everything
 * about the end-entity certificate except who issued it, and hands BearSSL its public key:
 *   - it parses (BearSSL's decoder and br_x509_minimal's strict parser), its key is EC P-256;
 *   - its extendedKeyUsage lists serverAuth (as ak_pki_cert_check_eku);
 *   - it names the server: br_x509_minimal's SAN dNSName matching against the handshake's server
 *     name, run with the leaf's own key as a direct-trust anchor (so its issuer is not looked at)
 *     and the current time (validity dates checked);
 *   - any further certificates of the chain are ignored.
 * The authentication is the attestation that follows the handshake: the client then requires an
 * NSM document binding exactly `pub` (the key the peer proved it holds in the handshake) before
 * it sends any request. A man in the middle with its own certificate passes this engine and
 * fails there (attest_public_key_mismatch).
 *
 * ak_pki_leaf_capture_check is the same check on one DER certificate: AK_OK and the P-256 point;
 * AK_E_BAD_KEY (does not parse, not P-256), AK_E_CERT_EKU_MISSING, AK_E_CERT_NAME_MISMATCH, or
 * AK_E_CERT_INVALID (br_x509_minimal refused it otherwise: dates, critical extension, ...).
 * `server_name` NULL or "" skips the name check (BearSSL's rule; the signer client always sets one).
 */
AK_MUST ak_err ak_pki_leaf_capture_check(ak_cur der, const char *server_name, uint8_t pub65[65]);

typedef struct ak_pki_x509_capture {
    const br_x509_class *vtable;
    const char *server_name; /* as given by the engine at start_chain (lives for the handshake) */
    unsigned cert_index;
    bool overflow;
    size_t leaf_len;
    ak_err rc;         /* why the chain was refused (AK_OK once accepted) */
    uint8_t pub[65];   /* the captured key, valid when rc == AK_OK */
    br_x509_pkey pkey; /* what get_pkey answers (q -> pub) */
    unsigned char leaf[AK_PKI_MAX_LEAF];
} ak_pki_x509_capture;

void ak_pki_x509_capture_init(ak_pki_x509_capture *x);

#endif
