/*
 * ak/nitro.h — AWS Nitro Enclaves attestation documents, verified (issue 18 item 1).
 *
 * An attestation document is what the Nitro Secure Module (/dev/nsm) returns inside an enclave:
 * a COSE_Sign1 structure (RFC 9052 §4.2), untagged or with tag 18,
 *
 *     [ protected: bstr .cbor {1: -35},        ; alg ES384, nothing else
 *       unprotected: map,                      ; ignored, but may not carry alg (label 1)
 *       payload: bstr .cbor AttestationDoc,
 *       signature: bstr .size 96 ]             ; raw r ‖ s, P-384
 *
 * signed over Sig_structure ["Signature1", protected, h'', payload] (RFC 9052 §4.4) with SHA-384
 * and the public key of the payload's `certificate`. The payload (AWS, "Nitro Enclaves
 * attestation process", syntactical validation) is a map of exactly these keys:
 *
 *     module_id: tstr (1..256)          digest: "SHA384"        timestamp: uint ms (> 0)
 *     pcrs: {index 0..31 => bstr .size 32/48/64} (1..32 entries)
 *     certificate: bstr DER (1..1024)   cabundle: [+ bstr DER (1..1024)] (root first, 1..8)
 *     ? public_key: bstr (1..1024) / null   ? user_data: bstr (0..1024) / null
 *     ? nonce: bstr (0..1024) / null
 *
 * Unknown payload keys are refused (strict: a new AWS field must be read here before a document
 * with it is accepted). CBOR is decoded by ak/cbor.h (shortest form, unique keys, definite
 * strings; the NSM's indefinite-length payload map is accepted).
 *
 * ak_nitro_verify checks, in this order, each failure with its own reason (err.h, the
 * "Nitro attestation" group):
 *   1. the document is one CBOR item (attest_cbor_malformed; bytes after it:
 *      attest_trailing_bytes; larger than AK_NITRO_MAX_DOC: too_large);
 *   2. the COSE_Sign1 shape and alg ES384 (attest_cose_malformed);
 *   3. the payload's fields, types and sizes (attest_payload_malformed, or
 *      attest_cbor_malformed when the payload bytes are not strict CBOR);
 *   4. cabundle[0] is the pinned root: byte-equal to the caller's root DER, or, when the caller
 *      passes none, its SHA-256 equals AK_NITRO_ROOT_G1_SHA256 (attest_root_mismatch);
 *   5. every certificate parses (strict DER outside, BearSSL's decoder inside), has a P-384 key
 *      and is signed with ecdsa-with-SHA384 (attest_cert_malformed);
 *   6. each cabundle certificate is a CA (basicConstraints) whose issuer name equals the
 *      previous one's subject and whose signature verifies with the previous one's key
 *      (attest_chain_invalid); the leaf likewise under the last cabundle certificate, and is
 *      not a CA (attest_leaf_invalid);
 *   7. every certificate is valid (notBefore <= t <= notAfter, to the second) both at the
 *      caller's time `now_ms` and at the document's own timestamp (attest_cert_expired,
 *      attest_cert_not_yet_valid);
 *   8. the COSE signature verifies with the leaf's key (attest_signature_invalid);
 *   9. the caller's policy: pinned PCRs (attest_pcr_mismatch), nonce (attest_nonce_mismatch),
 *      public key (attest_public_key_mismatch), user data (attest_user_data_mismatch),
 *      |now - timestamp| <= max_age_ms (attest_stale).
 * Not checked: revocation (AWS publishes no CRL for this chain), keyUsage and pathLenConstraint
 * (the chain length is bounded by AK_NITRO_MAX_CERTS instead), name constraints.
 *
 * Pure: no clock, no files. The caller gives the time and the root. Facts returned are views
 * into `doc`: keep the document alive while using them.
 */
#ifndef AK_NITRO_H
#define AK_NITRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

#define AK_NITRO_MAX_DOC (16u * 1024u) /* NSM documents are 4-8 KB; fields are bounded below */
#define AK_NITRO_MAX_PCRS 32u
#define AK_NITRO_MAX_CERTS 8u    /* cabundle entries (AWS: root, regional, zonal, instance) */
#define AK_NITRO_MAX_CERT 1024u  /* DER bytes per certificate (AWS: 1..1024) */
#define AK_NITRO_MAX_FIELD 1024u /* public_key, user_data, nonce (the NSM's maximum) */
#define AK_NITRO_MAX_MODULE_ID 256u

/* SHA-256 of the DER of the AWS Nitro Enclaves Root-G1 certificate, as AWS publishes it in
 * "Verifying the root of trust": 64:1A:03:21:...:8F:79:BB:5B. A public fingerprint. */
extern const uint8_t AK_NITRO_ROOT_G1_SHA256[32];

/* An optional byte-string field: present == false when absent or CBOR null (bytes may be
 * empty when present: h''). */
typedef struct ak_nitro_opt {
    bool present;
    bool null; /* written as null (rather than absent) */
    ak_cur v;
} ak_nitro_opt;

typedef struct ak_nitro_facts {
    bool tagged; /* COSE tag 18 present */
    ak_cur module_id;
    ak_cur digest; /* "SHA384" */
    uint64_t timestamp_ms;
    bool pcr_present[AK_NITRO_MAX_PCRS];
    ak_cur pcrs[AK_NITRO_MAX_PCRS];
    ak_cur certificate; /* leaf DER */
    ak_cur cabundle[AK_NITRO_MAX_CERTS];
    size_t cabundle_len;
    ak_nitro_opt public_key, user_data, nonce;
    int64_t leaf_not_before_s, leaf_not_after_s; /* Unix seconds, from the leaf certificate */
} ak_nitro_facts;

typedef struct ak_nitro_pcr_pin {
    unsigned index; /* 0..31 */
    ak_cur value;   /* must equal the document's PCR exactly (length included) */
} ak_nitro_pcr_pin;

typedef struct ak_nitro_policy {
    int64_t now_ms;     /* verification time, Unix ms (> 0): certificates must be valid at it */
    int64_t max_age_ms; /* > 0: refuse when |now_ms - timestamp| > max_age_ms; 0: not checked */
    const ak_nitro_pcr_pin *pcrs;
    size_t n_pcrs;
    /* Expected bindings; a NULL .ptr means "not checked". When checked, the document's field
     * must be present and byte-equal (an empty expectation matches only h''). */
    ak_cur nonce, public_key, user_data;
} ak_nitro_policy;

/* Verifies `doc` (raw COSE_Sign1 bytes) as described above. root_der: the pinned root
 * certificate (DER); empty (len 0) = check AK_NITRO_ROOT_G1_SHA256 instead. `out` (optional)
 * gets the decoded facts, also on failures after step 3 (for diagnostics only: never trust
 * facts of a document that did not verify). */
AK_MUST ak_err ak_nitro_verify(ak_cur doc, ak_cur root_der, const ak_nitro_policy *pol, ak_nitro_facts *out);

/* Parses the payload only (steps 1-3), no signature or chain: for tools and fuzzing. */
AK_MUST ak_err ak_nitro_parse(ak_cur doc, ak_nitro_facts *out);

/* Decodes one PEM "CERTIFICATE" (exactly one object) into DER, appended to `der`.
 * AK_E_BAD_KEY when the PEM is malformed or holds anything else. */
AK_MUST ak_err ak_nitro_root_from_pem(ak_cur pem, ak_buf *der);

/* A document as an operator has it in a file: raw CBOR (first byte 0x84 or 0xd2) or standard
 * base64 of it (whitespace and line breaks ignored). Appends the raw bytes to `doc`.
 * AK_E_BAD_BASE64 when neither; AK_E_TOO_LARGE past AK_NITRO_MAX_DOC. */
AK_MUST ak_err ak_nitro_doc_from_file(ak_cur file, ak_buf *doc);

/* Appends the facts as one JSON object: {"module_id","timestamp","digest","pcrs":{"0":hex..},
 * "public_key","user_data","nonce" (hex, or null when absent/null),"cabundle_len",
 * "leaf_not_before","leaf_not_after" (Unix s),"cose_tagged"}. */
AK_MUST ak_err ak_nitro_facts_json(const ak_nitro_facts *f, ak_buf *out);

/* The operator's check in one call (`nitro-verify`, `agentkeys signer verify-attestation`):
 * file = the document file's bytes (binary or base64), root_pem = the root certificate PEM
 * (empty: the built-in G1 fingerprint), at_ms = verification time, pcr0_hex = expected PCR0 in
 * hex (empty: not pinned; malformed: bad_hex). On AK_OK appends the facts JSON to `json`. */
AK_MUST ak_err ak_nitro_check(ak_cur file, ak_cur root_pem, int64_t at_ms, ak_cur pcr0_hex, ak_buf *json);

#endif
