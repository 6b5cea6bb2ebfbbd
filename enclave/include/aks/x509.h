/*
 * aks/x509.h — a small DER encoder and the self-signed X.509 certificate for the OIDC key.
 *
 * Why: the OIDC JWK carries `x5c` (DESIGN §5: the local STS's OIDC check wants exactly one key
 * with an x5c certificate; AWS computes the issuer thumbprint from a certificate too). BearSSL
 * verifies certificates but does not write them, so the signer encodes one itself:
 *
 *   Certificate v3, serial = first 16 bytes of SHA-256(SPKI point) (top bit cleared),
 *   signature ecdsa-with-SHA256 (1.2.840.10045.4.3.2, no parameters), issuer = subject =
 *   CN=<common name> (UTF8String), validity notBefore = created - 1 h, notAfter = created +
 *   `days` (UTCTime before 2050, GeneralizedTime after, RFC 5280 §4.1.2.5), SPKI id-ecPublicKey
 *   prime256v1, extensions: basicConstraints (critical, cA FALSE), subjectKeyIdentifier
 *   (SHA-1 of the point, RFC 5280 §4.2.1.2 method 1), keyUsage is omitted on purpose (a
 *   self-signed certificate without keyCertSign is "not self-issued" to OpenSSL's verifier).
 *   Signed by the certified key itself (the keystore signs SHA-256(TBSCertificate)).
 *
 * All DER writers append to an ak_buf and return AK_E_LIMIT past its ceiling.
 */
#ifndef AKS_X509_H
#define AKS_X509_H

#include <stdint.h>

#include "ak/bytes.h"

/* tag ‖ definite length (short or long form) ‖ content */
AK_MUST ak_err aks_der_tlv(ak_buf *out, uint8_t tag, ak_cur content);
/* INTEGER from an unsigned big-endian magnitude (leading zeros stripped, 0x00 added if needed). */
AK_MUST ak_err aks_der_uint(ak_buf *out, const uint8_t *be, size_t n);
/* UTCTime (year < 2050) or GeneralizedTime, "YYMMDDHHMMSSZ" / "YYYYMMDDHHMMSSZ". */
AK_MUST ak_err aks_der_time(ak_buf *out, int64_t unix_seconds);

/* P-256 SubjectPublicKeyInfo DER of an uncompressed point. */
AK_MUST ak_err aks_der_spki_p256(ak_buf *out, const uint8_t pub65[65]);

/* Signs SHA-256(tbs) and returns raw r‖s. */
typedef ak_err (*aks_x509_sign_fn)(void *ctx, ak_cur tbs, uint8_t sig64[64]);

/* Appends the DER certificate described above. */
AK_MUST ak_err aks_x509_self_signed(ak_buf *out, const uint8_t pub65[65], const char *common_name,
                                    int64_t created_unix, unsigned days, aks_x509_sign_fn sign,
                                    void *sign_ctx);

/* The RA-TLS server certificate (issue 18; aks_tls_config_generate): the same shape with
 * CN = server_name and two more extensions, extendedKeyUsage serverAuth and subjectAltName
 * dNSName = server_name (a DNS name: letters, digits, '-', '.'; AK_E_INVALID_INPUT otherwise).
 * Self-signed by the TLS key: clients authenticate the key by attestation, not by this signature. */
AK_MUST ak_err aks_x509_tls_server(ak_buf *out, const uint8_t pub65[65], const char *server_name,
                                   int64_t created_unix, unsigned days, aks_x509_sign_fn sign,
                                   void *sign_ctx);

#endif
