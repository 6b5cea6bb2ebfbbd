/*
 * ak/cms.h — the one CMS shape KMS answers an attested enclave with, and the RSA key it is
 * wrapped to (issue 18 item 2; RFC 5652 EnvelopedData, RFC 8017 RSAES-OAEP, RFC 3565 AES-CBC).
 *
 * When the enclave calls KMS Decrypt with `Recipient` = {KeyEncryptionAlgorithm RSAES_OAEP_SHA_256,
 * AttestationDocument}, KMS does not return `Plaintext`; it returns `CiphertextForRecipient`, a
 * DER ContentInfo:
 *
 *   ContentInfo SEQ { OID envelopedData (1.2.840.113549.1.7.3), [0] EXPLICIT EnvelopedData }
 *   EnvelopedData SEQ { INTEGER version (0|2), SET OF RecipientInfo (exactly one),
 *                       EncryptedContentInfo }           -- no originatorInfo, no unprotectedAttrs
 *   KeyTransRecipientInfo SEQ { INTEGER version, rid, AlgorithmIdentifier, OCTET STRING encryptedKey }
 *       version 0 with rid = issuerAndSerialNumber (SEQ), version 2 with rid = [0] subjectKeyIdentifier
 *       algorithm = rsaesOaep (1.2.840.113549.1.1.7) with params
 *         SEQ { [0] sha256, [1] mgf1(sha256) }           -- both explicit; no [2] pSource (empty label)
 *       (a hash AlgorithmIdentifier may carry NULL parameters or none)
 *   EncryptedContentInfo SEQ { OID data, SEQ { OID aes256-CBC (2.16.840.1.101.3.4.1.42),
 *                              OCTET STRING iv(16) }, [0] IMPLICIT OCTET STRING (primitive) }
 *
 * Strict DER: definite shortest lengths, exact tags, no trailing bytes at any level, bounded
 * (AK_CMS_MAX_DER in, AK_CMS_MAX_CONTENT out). Unwrap: RSAES-OAEP-SHA256 (MGF1-SHA256, empty
 * label) of encryptedKey under the private key gives a 32-byte content key; AES-256-CBC with
 * PKCS#7 padding gives the content. CBC has no integrity: a flipped byte in the IV or a middle
 * block yields wrong plaintext, not an error — the caller must authenticate the result (the
 * sealer does: a wrong data key fails the keystore's AES-GCM tag).
 *
 * Reasons: AK_E_CMS_MALFORMED (not DER / not this shape / truncated), AK_E_CMS_TRAILING (bytes
 * after the structure), AK_E_CMS_UNSUPPORTED (another content type, recipient kind, key or
 * content algorithm, OAEP hash), AK_E_CMS_DECRYPT_FAILED (the key does not open it: wrong key,
 * bad OAEP or PKCS#7 padding, wrong content-key size), AK_E_LIMIT (sizes above the bounds).
 *
 * RSA keys: the enclave's recipient key pair is generated inside (ak_rsa_keygen, BearSSL
 * keygen over an HMAC-DRBG seeded from getrandom) and never leaves it; its SubjectPublicKeyInfo
 * DER is the attestation document's public_key. The private half lives in one wiped allocation.
 */
#ifndef AK_CMS_H
#define AK_CMS_H

#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"

#define AK_CMS_MAX_DER (16u * 1024u)
#define AK_CMS_MAX_CONTENT 4096u /* KMS Decrypt returns at most 4096 bytes */
#define AK_RSA_BITS 2048u        /* the recipient key size (KMS accepts 2048..4096) */
#define AK_RSA_MAX_BITS 4096u

typedef struct ak_cms_enveloped {
    uint32_t version;      /* EnvelopedData version */
    uint32_t ktri_version; /* 0: rid is issuerAndSerialNumber, 2: subjectKeyIdentifier */
    ak_cur rid;            /* the rid's content octets */
    ak_cur encrypted_key;  /* RSAES-OAEP ciphertext */
    ak_cur iv;             /* 16 bytes */
    ak_cur encrypted_content;
} ak_cms_enveloped;

/* Parses `der` (views into it) with every check above except decryption. */
AK_MUST ak_err ak_cms_parse(ak_cur der, ak_cms_enveloped *out);

typedef struct ak_rsa_priv ak_rsa_priv; /* opaque: BearSSL private + public key, wiped on free */

/* A fresh key pair of `bits` (2048..4096, multiple of 16), e = 65537. */
AK_MUST ak_err ak_rsa_keygen(unsigned bits, ak_rsa_priv **out);
/* Loads a PKCS#1 or PKCS#8 DER RSA private key (tests and tools; the enclave generates its own). */
AK_MUST ak_err ak_rsa_priv_from_der(ak_cur der, ak_rsa_priv **out);
void ak_rsa_free(ak_rsa_priv *k);
/* Appends the DER SubjectPublicKeyInfo (rsaEncryption, NULL params) of the key. */
AK_MUST ak_err ak_rsa_spki_der(const ak_rsa_priv *k, ak_buf *out);
/* Modulus size in bits. */
unsigned ak_rsa_bits(const ak_rsa_priv *k);

/* Parses and decrypts; appends the content to `pt` (a secret buffer). Nothing is appended on error. */
AK_MUST ak_err ak_cms_unwrap(ak_cur der, const ak_rsa_priv *key, ak_buf *pt);

#endif
