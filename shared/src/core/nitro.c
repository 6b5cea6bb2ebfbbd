/*
 * nitro.c — AWS Nitro Enclaves attestation document verification (see ak/nitro.h for the
 * format, the order of checks and what each reason means).
 *
 * Sources: RFC 9052 §4.2 (COSE_Sign1), §4.4 (Sig_structure), RFC 9053 §2.1 (ES384: raw r ‖ s,
 * 48 bytes each); AWS "Nitro Enclaves attestation process" (payload fields, syntactical and
 * semantic validation, "the first certificate in the cabundle is the root"); RFC 5280 §4.1
 * (Certificate, TBSCertificate); RFC 5758 §3.2 (ecdsa-with-SHA384); RFC 3279 §2.2.3
 * (Ecdsa-Sig-Value).
 */
#include <string.h>

#include <bearssl.h>
#include <jansson.h>

#include "ak/cbor.h"
#include "ak/crypto.h"
#include "ak/json.h"
#include "ak/nitro.h"

const uint8_t AK_NITRO_ROOT_G1_SHA256[32] = {
    0x64, 0x1a, 0x03, 0x21, 0xa3, 0xe2, 0x44, 0xef, 0xe4, 0x56, 0x46, 0x31, 0x95, 0xd6, 0x06, 0x31,
    0x7e, 0xd7, 0xcd, 0xcc, 0x3c, 0x17, 0x56, 0xe0, 0x98, 0x93, 0xf3, 0xc6, 0x8f, 0x79, 0xbb, 0x5b,
};

/* COSE alg ES384 (RFC 9053 §2.1). */
#define S_ES384 (-35)
#define S_SIG_LEN 96u
#define S_P384_POINT 97u
/* BearSSL counts days from 0000-01-01 (proleptic Gregorian); 1970-01-01 is day 719528. */
#define S_BR_UNIX_DAY 719528

/* AlgorithmIdentifier ecdsa-with-SHA384 (1.2.840.10045.4.3.3), parameters absent (RFC 5758 §3.2). */
static const uint8_t s_alg_ecdsa_sha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                             0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};

/* The CBOR limits for documents: shallow (payload depth is 3), few items, small strings. */
static const ak_cbor_limits s_lim = {8, 64, AK_NITRO_MAX_DOC};

/* ---------------------------------------------------------------- strict DER, just enough */

/* One DER TLV with a one-byte tag and a definite, minimal length (at most 2 length bytes:
 * certificates are <= 1024 bytes). `whole` is the full TLV. Advances *c. */
static ak_err s_der(ak_cur *c, uint8_t want_tag, ak_cur *content, ak_cur *whole) {
    ak_cur r = *c;
    uint8_t tag, l0;
    AK_GUARD(ak_cur_read_u8(&r, &tag));
    AK_ENSURE(tag == want_tag, AK_E_INVALID_INPUT);
    AK_GUARD(ak_cur_read_u8(&r, &l0));
    size_t len = l0;
    if (l0 == 0x81) {
        uint8_t b;
        AK_GUARD(ak_cur_read_u8(&r, &b));
        AK_ENSURE(b >= 0x80, AK_E_INVALID_INPUT);
        len = b;
    } else if (l0 == 0x82) {
        uint8_t b0, b1;
        AK_GUARD(ak_cur_read_u8(&r, &b0));
        AK_GUARD(ak_cur_read_u8(&r, &b1));
        len = ((size_t)b0 << 8) | b1;
        AK_ENSURE(len >= 0x100, AK_E_INVALID_INPUT);
    } else {
        AK_ENSURE(l0 < 0x80, AK_E_INVALID_INPUT);
    }
    AK_GUARD(ak_cur_take(&r, len, content));
    if (whole) *whole = (ak_cur){c->ptr, (size_t)(r.ptr - c->ptr)};
    *c = r;
    return AK_OK;
}

/* An Ecdsa-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) into raw r ‖ s of 48 bytes each.
 * Strict: minimal positive INTEGERs of at most 48 value bytes, nothing trailing. */
static ak_err s_ecdsa_der_to_raw(ak_cur der, uint8_t raw[S_SIG_LEN]) {
    ak_cur seq;
    AK_GUARD(s_der(&der, 0x30, &seq, NULL));
    AK_ENSURE(der.len == 0, AK_E_INVALID_INPUT);
    memset(raw, 0, S_SIG_LEN);
    for (int i = 0; i < 2; i++) {
        ak_cur v;
        AK_GUARD(s_der(&seq, 0x02, &v, NULL));
        AK_ENSURE(v.len > 0 && (v.ptr[0] & 0x80) == 0, AK_E_INVALID_INPUT);
        if (v.ptr[0] == 0) {
            AK_ENSURE(v.len > 1 && (v.ptr[1] & 0x80) != 0, AK_E_INVALID_INPUT); /* minimal */
            v.ptr++;
            v.len--;
        }
        AK_ENSURE(v.len <= 48, AK_E_INVALID_INPUT);
        memcpy(raw + 48 * i + (48 - v.len), v.ptr, v.len);
    }
    AK_ENSURE(seq.len == 0, AK_E_INVALID_INPUT);
    return AK_OK;
}

/* What the chain check needs of one certificate. */
typedef struct s_cert {
    ak_cur tbs;    /* the whole TBSCertificate TLV: the signed bytes */
    ak_cur issuer; /* Name TLVs, compared byte for byte */
    ak_cur subject;
    uint8_t sig[S_SIG_LEN];
    uint8_t pub[S_P384_POINT];
    int64_t not_before, not_after; /* Unix seconds */
    bool is_ca;
} s_cert;

/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 * (RFC 5280 §4.1); the TBS fields up to the subject are walked here, the key, validity and
 * basicConstraints come from BearSSL's decoder. Any failure is attest_cert_malformed. */
static ak_err s_cert_parse(ak_cur der, s_cert *out) {
    ak_cur r = der, cert, tbs_in, alg, bits, v;
    AK_ENSURE(der.len > 0 && der.len <= AK_NITRO_MAX_CERT, AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(s_der(&r, 0x30, &cert, NULL) == AK_OK && r.len == 0, AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(s_der(&cert, 0x30, &tbs_in, &out->tbs) == AK_OK, AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(s_der(&cert, 0x30, &v, &alg) == AK_OK &&
                  ak_cur_eq(alg, ak_cur_from(s_alg_ecdsa_sha384, sizeof(s_alg_ecdsa_sha384))),
              AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(s_der(&cert, 0x03, &bits, NULL) == AK_OK && cert.len == 0, AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(bits.len > 1 && bits.ptr[0] == 0, AK_E_ATTEST_CERT_MALFORMED); /* no unused bits */
    AK_ENSURE(s_ecdsa_der_to_raw(ak_cur_from(bits.ptr + 1, bits.len - 1), out->sig) == AK_OK,
              AK_E_ATTEST_CERT_MALFORMED);
    /* TBSCertificate: [0] version, serialNumber, signature, issuer, validity, subject, ... */
    AK_ENSURE(s_der(&tbs_in, 0xa0, &v, NULL) == AK_OK, AK_E_ATTEST_CERT_MALFORMED); /* v3 only */
    AK_ENSURE(s_der(&tbs_in, 0x02, &v, NULL) == AK_OK, AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(s_der(&tbs_in, 0x30, &v, &alg) == AK_OK &&
                  ak_cur_eq(alg, ak_cur_from(s_alg_ecdsa_sha384, sizeof(s_alg_ecdsa_sha384))),
              AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(s_der(&tbs_in, 0x30, &v, &out->issuer) == AK_OK, AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(s_der(&tbs_in, 0x30, &v, NULL) == AK_OK, AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(s_der(&tbs_in, 0x30, &v, &out->subject) == AK_OK, AK_E_ATTEST_CERT_MALFORMED);

    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, der.ptr, der.len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    AK_ENSURE(pk != NULL && br_x509_decoder_last_error(&dc) == 0, AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(pk->key_type == BR_KEYTYPE_EC && pk->key.ec.curve == BR_EC_secp384r1 &&
                  pk->key.ec.qlen == S_P384_POINT && pk->key.ec.q[0] == 0x04,
              AK_E_ATTEST_CERT_MALFORMED);
    AK_ENSURE(br_x509_decoder_get_signer_key_type(&dc) == BR_KEYTYPE_EC &&
                  br_x509_decoder_get_signer_hash_id(&dc) == br_sha384_ID,
              AK_E_ATTEST_CERT_MALFORMED);
    memcpy(out->pub, pk->key.ec.q, S_P384_POINT);
    out->not_before = ((int64_t)dc.notbefore_days - S_BR_UNIX_DAY) * 86400 + (int64_t)dc.notbefore_seconds;
    out->not_after = ((int64_t)dc.notafter_days - S_BR_UNIX_DAY) * 86400 + (int64_t)dc.notafter_seconds;
    out->is_ca = br_x509_decoder_isCA(&dc) != 0;
    return AK_OK;
}

/* ECDSA P-384 over SHA-384(data), raw r ‖ s (BearSSL i31, constant time). */
static bool s_p384_verify(const uint8_t pub[S_P384_POINT], const uint8_t sig[S_SIG_LEN],
                          const uint8_t hash[48]) {
    br_ec_public_key pk = {BR_EC_secp384r1, (unsigned char *)pub, S_P384_POINT};
    return br_ecdsa_i31_vrfy_raw(&br_ec_prime_i31, hash, 48, &pk, sig, S_SIG_LEN) == 1;
}

static bool s_cert_signed_by(const s_cert *c, const s_cert *issuer) {
    uint8_t h[48];
    ak_sha384(c->tbs.ptr, c->tbs.len, h);
    return ak_cur_eq(c->issuer, issuer->subject) && s_p384_verify(issuer->pub, c->sig, h);
}

/* notBefore <= t <= notAfter at second granularity (RFC 5280 §4.1.2.5: both inclusive). */
static ak_err s_cert_time(const s_cert *c, int64_t t_ms) {
    int64_t t = t_ms / 1000;
    AK_ENSURE(t >= c->not_before, AK_E_ATTEST_CERT_NOT_YET_VALID);
    AK_ENSURE(t <= c->not_after, AK_E_ATTEST_CERT_EXPIRED);
    return AK_OK;
}

/* ---------------------------------------------------------------- COSE and payload */

typedef struct s_cose {
    ak_cur protected_raw; /* the bstr's contents, as signed */
    ak_cur payload;
    ak_cur sig;
    bool tagged;
} s_cose;

static ak_err s_cose_parse(ak_cur doc, s_cose *out) {
    AK_ENSURE(doc.len <= AK_NITRO_MAX_DOC, AK_E_TOO_LARGE);
    ak_cbor_item top, it;
    ak_cur r = doc;
    AK_ENSURE(ak_cbor_decode(&r, &s_lim, &top) == AK_OK, AK_E_ATTEST_CBOR_MALFORMED);
    AK_ENSURE(r.len == 0, AK_E_ATTEST_TRAILING);
    out->tagged = false;
    if (top.type == AK_CBOR_TAG) { /* COSE_Sign1_Tagged = #6.18(COSE_Sign1) */
        AK_ENSURE(top.val == 18, AK_E_ATTEST_COSE_MALFORMED);
        AK_ENSURE(ak_cbor_decode_all(top.body, &s_lim, &top) == AK_OK, AK_E_ATTEST_CBOR_MALFORMED);
        out->tagged = true;
    }
    AK_ENSURE(top.type == AK_CBOR_ARRAY && top.count == 4, AK_E_ATTEST_COSE_MALFORMED);
    r = top.body;
    ak_cbor_item prot, unprot, payload, sig;
    AK_ENSURE(ak_cbor_decode(&r, &s_lim, &prot) == AK_OK && ak_cbor_decode(&r, &s_lim, &unprot) == AK_OK &&
                  ak_cbor_decode(&r, &s_lim, &payload) == AK_OK && ak_cbor_decode(&r, &s_lim, &sig) == AK_OK,
              AK_E_ATTEST_CBOR_MALFORMED);
    AK_ENSURE(ak_cbor_get_bstr(&prot, &out->protected_raw) == AK_OK &&
                  ak_cbor_get_bstr(&payload, &out->payload) == AK_OK &&
                  ak_cbor_get_bstr(&sig, &out->sig) == AK_OK && unprot.type == AK_CBOR_MAP,
              AK_E_ATTEST_COSE_MALFORMED);
    AK_ENSURE(out->sig.len == S_SIG_LEN, AK_E_ATTEST_COSE_MALFORMED);
    /* protected = bstr .cbor {1: -35}: exactly the algorithm, nothing else to interpret */
    ak_cbor_item hdr;
    int64_t alg;
    AK_ENSURE(ak_cbor_decode_all(out->protected_raw, &s_lim, &hdr) == AK_OK, AK_E_ATTEST_COSE_MALFORMED);
    AK_ENSURE(hdr.type == AK_CBOR_MAP && hdr.count == 1 && ak_cbor_map_get_int(&hdr, 1, &it) == AK_OK &&
                  ak_cbor_get_int(&it, &alg) == AK_OK && alg == S_ES384,
              AK_E_ATTEST_COSE_MALFORMED);
    /* the algorithm must not also appear unprotected (RFC 9052 §3: a label once only) */
    AK_ENSURE(ak_cbor_map_get_int(&unprot, 1, &it) == AK_E_NOT_FOUND, AK_E_ATTEST_COSE_MALFORMED);
    return AK_OK;
}

static ak_err s_bstr_field(const ak_cbor_item *v, size_t min, size_t max, ak_cur *out) {
    AK_ENSURE(ak_cbor_get_bstr(v, out) == AK_OK && out->len >= min && out->len <= max,
              AK_E_ATTEST_PAYLOAD_MALFORMED);
    return AK_OK;
}

static ak_err s_opt_field(const ak_cbor_item *v, size_t min, ak_nitro_opt *out) {
    if (ak_cbor_is_null(v)) {
        out->null = true;
        return AK_OK;
    }
    AK_GUARD(s_bstr_field(v, min, AK_NITRO_MAX_FIELD, &out->v));
    out->present = true;
    return AK_OK;
}

static ak_err s_pcrs(const ak_cbor_item *m, ak_nitro_facts *f) {
    AK_ENSURE(m->type == AK_CBOR_MAP && m->count >= 1 && m->count <= AK_NITRO_MAX_PCRS,
              AK_E_ATTEST_PAYLOAD_MALFORMED);
    ak_cur r = m->body;
    while (r.len > 0) {
        ak_cbor_item k, v;
        uint64_t idx;
        ak_cur val;
        AK_ENSURE(ak_cbor_decode(&r, &s_lim, &k) == AK_OK && ak_cbor_decode(&r, &s_lim, &v) == AK_OK,
                  AK_E_ATTEST_CBOR_MALFORMED);
        AK_ENSURE(ak_cbor_get_uint(&k, &idx) == AK_OK && idx < AK_NITRO_MAX_PCRS,
                  AK_E_ATTEST_PAYLOAD_MALFORMED);
        AK_ENSURE(ak_cbor_get_bstr(&v, &val) == AK_OK && (val.len == 32 || val.len == 48 || val.len == 64),
                  AK_E_ATTEST_PAYLOAD_MALFORMED);
        f->pcr_present[idx] = true; /* keys are unique: checked by the decoder */
        f->pcrs[idx] = val;
    }
    return AK_OK;
}

static ak_err s_payload_parse(ak_cur payload, ak_nitro_facts *f) {
    ak_cbor_item map;
    AK_ENSURE(ak_cbor_decode_all(payload, &s_lim, &map) == AK_OK, AK_E_ATTEST_CBOR_MALFORMED);
    AK_ENSURE(map.type == AK_CBOR_MAP, AK_E_ATTEST_PAYLOAD_MALFORMED);
    enum { MODULE = 1, DIGEST = 2, TIME = 4, PCRS = 8, CERT = 16, BUNDLE = 32, REQUIRED = 63 };
    unsigned seen = 0;
    ak_cur r = map.body;
    while (r.len > 0) {
        ak_cbor_item k, v;
        ak_cur key;
        AK_ENSURE(ak_cbor_decode(&r, &s_lim, &k) == AK_OK && ak_cbor_decode(&r, &s_lim, &v) == AK_OK,
                  AK_E_ATTEST_CBOR_MALFORMED);
        AK_ENSURE(ak_cbor_get_tstr(&k, &key) == AK_OK, AK_E_ATTEST_PAYLOAD_MALFORMED);
        if (ak_cur_eq_str(key, "module_id")) {
            AK_ENSURE(ak_cbor_get_tstr(&v, &f->module_id) == AK_OK && f->module_id.len >= 1 &&
                          f->module_id.len <= AK_NITRO_MAX_MODULE_ID,
                      AK_E_ATTEST_PAYLOAD_MALFORMED);
            seen |= MODULE;
        } else if (ak_cur_eq_str(key, "digest")) {
            /* The only digest the NSM uses; PCR lengths and the signature hash follow from it. */
            AK_ENSURE(ak_cbor_get_tstr(&v, &f->digest) == AK_OK && ak_cur_eq_str(f->digest, "SHA384"),
                      AK_E_ATTEST_PAYLOAD_MALFORMED);
            seen |= DIGEST;
        } else if (ak_cur_eq_str(key, "timestamp")) {
            AK_ENSURE(ak_cbor_get_uint(&v, &f->timestamp_ms) == AK_OK && f->timestamp_ms > 0 &&
                          f->timestamp_ms <= (uint64_t)INT64_MAX,
                      AK_E_ATTEST_PAYLOAD_MALFORMED);
            seen |= TIME;
        } else if (ak_cur_eq_str(key, "pcrs")) {
            AK_GUARD(s_pcrs(&v, f));
            seen |= PCRS;
        } else if (ak_cur_eq_str(key, "certificate")) {
            AK_GUARD(s_bstr_field(&v, 1, AK_NITRO_MAX_CERT, &f->certificate));
            seen |= CERT;
        } else if (ak_cur_eq_str(key, "cabundle")) {
            AK_ENSURE(v.type == AK_CBOR_ARRAY && v.count >= 1 && v.count <= AK_NITRO_MAX_CERTS,
                      AK_E_ATTEST_PAYLOAD_MALFORMED);
            ak_cur b = v.body;
            while (b.len > 0) {
                ak_cbor_item c;
                AK_ENSURE(ak_cbor_decode(&b, &s_lim, &c) == AK_OK, AK_E_ATTEST_CBOR_MALFORMED);
                AK_GUARD(s_bstr_field(&c, 1, AK_NITRO_MAX_CERT, &f->cabundle[f->cabundle_len]));
                f->cabundle_len++;
            }
            seen |= BUNDLE;
        } else if (ak_cur_eq_str(key, "public_key")) {
            AK_GUARD(s_opt_field(&v, 1, &f->public_key));
        } else if (ak_cur_eq_str(key, "user_data")) {
            AK_GUARD(s_opt_field(&v, 0, &f->user_data));
        } else if (ak_cur_eq_str(key, "nonce")) {
            AK_GUARD(s_opt_field(&v, 0, &f->nonce));
        } else {
            return AK_E_ATTEST_PAYLOAD_MALFORMED; /* unknown field: strict (see ak/nitro.h) */
        }
    }
    AK_ENSURE(seen == REQUIRED, AK_E_ATTEST_PAYLOAD_MALFORMED);
    return AK_OK;
}

static ak_err s_parse(ak_cur doc, s_cose *cose, ak_nitro_facts *f) {
    memset(f, 0, sizeof(*f));
    AK_GUARD(s_cose_parse(doc, cose));
    f->tagged = cose->tagged;
    return s_payload_parse(cose->payload, f);
}

ak_err ak_nitro_parse(ak_cur doc, ak_nitro_facts *out) {
    AK_PRECOND(out != NULL);
    s_cose cose;
    return s_parse(doc, &cose, out);
}

/* SHA-384 of Sig_structure = ["Signature1", body_protected, external_aad = h'', payload]
 * (RFC 9052 §4.4), fed piece by piece: no copy of the payload. */
static void s_sig_structure_hash(const s_cose *c, uint8_t out[48]) {
    br_sha384_context h;
    uint8_t hd[9];
    br_sha384_init(&h);
    br_sha384_update(&h, hd, ak_cbor_head(4, 4, hd));
    br_sha384_update(&h, hd, ak_cbor_head(3, 10, hd));
    br_sha384_update(&h, "Signature1", 10);
    br_sha384_update(&h, hd, ak_cbor_head(2, c->protected_raw.len, hd));
    br_sha384_update(&h, c->protected_raw.ptr, c->protected_raw.len);
    br_sha384_update(&h, hd, ak_cbor_head(2, 0, hd));
    br_sha384_update(&h, hd, ak_cbor_head(2, c->payload.len, hd));
    br_sha384_update(&h, c->payload.ptr, c->payload.len);
    br_sha384_out(&h, out);
}

static ak_err s_root_check(ak_cur bundle0, ak_cur root_der) {
    if (root_der.len == 0) {
        uint8_t fp[32];
        ak_sha256(bundle0.ptr, bundle0.len, fp);
        AK_ENSURE(memcmp(fp, AK_NITRO_ROOT_G1_SHA256, 32) == 0, AK_E_ATTEST_ROOT_MISMATCH);
        return AK_OK;
    }
    AK_ENSURE(ak_cur_eq(bundle0, root_der), AK_E_ATTEST_ROOT_MISMATCH);
    return AK_OK;
}

/* Expected binding vs the document's field (see ak_nitro_policy). Public values: plain compare. */
static bool s_binding_ok(ak_cur want, const ak_nitro_opt *got) {
    if (want.ptr == NULL) return true;
    return got->present && ak_cur_eq(want, got->v);
}

static ak_err s_policy(const ak_nitro_facts *f, const ak_nitro_policy *pol) {
    for (size_t i = 0; i < pol->n_pcrs; i++) {
        const ak_nitro_pcr_pin *p = &pol->pcrs[i];
        AK_PRECOND(p->index < AK_NITRO_MAX_PCRS);
        AK_ENSURE(f->pcr_present[p->index] && ak_cur_eq(p->value, f->pcrs[p->index]),
                  AK_E_ATTEST_PCR_MISMATCH);
    }
    AK_ENSURE(s_binding_ok(pol->nonce, &f->nonce), AK_E_ATTEST_NONCE_MISMATCH);
    AK_ENSURE(s_binding_ok(pol->public_key, &f->public_key), AK_E_ATTEST_PUBLIC_KEY_MISMATCH);
    AK_ENSURE(s_binding_ok(pol->user_data, &f->user_data), AK_E_ATTEST_USER_DATA_MISMATCH);
    if (pol->max_age_ms > 0) {
        int64_t ts = (int64_t)f->timestamp_ms;
        int64_t age = pol->now_ms >= ts ? pol->now_ms - ts : ts - pol->now_ms;
        AK_ENSURE(age <= pol->max_age_ms, AK_E_ATTEST_STALE);
    }
    return AK_OK;
}

ak_err ak_nitro_verify(ak_cur doc, ak_cur root_der, const ak_nitro_policy *pol, ak_nitro_facts *out) {
    AK_PRECOND(pol != NULL && pol->now_ms > 0 && (pol->pcrs != NULL || pol->n_pcrs == 0));
    ak_nitro_facts local;
    ak_nitro_facts *f = out ? out : &local;
    s_cose cose;
    AK_GUARD(s_parse(doc, &cose, f));
    AK_GUARD(s_root_check(f->cabundle[0], root_der));

    /* Chain, root first (AWS: cabundle[0] is the root, the last entry signs the leaf). */
    s_cert prev, cur;
    memset(&cur, 0, sizeof(cur));
    AK_GUARD(s_cert_parse(f->cabundle[0], &prev));
    AK_ENSURE(prev.is_ca, AK_E_ATTEST_CHAIN_INVALID);
    int64_t ts = (int64_t)f->timestamp_ms;
    AK_GUARD(s_cert_time(&prev, pol->now_ms));
    AK_GUARD(s_cert_time(&prev, ts));
    for (size_t i = 1; i <= f->cabundle_len; i++) {
        bool leaf = i == f->cabundle_len;
        AK_GUARD(s_cert_parse(leaf ? f->certificate : f->cabundle[i], &cur));
        ak_err bad = leaf ? AK_E_ATTEST_LEAF_INVALID : AK_E_ATTEST_CHAIN_INVALID;
        AK_ENSURE(s_cert_signed_by(&cur, &prev), bad);
        AK_ENSURE(cur.is_ca != leaf, bad);
        AK_GUARD(s_cert_time(&cur, pol->now_ms));
        AK_GUARD(s_cert_time(&cur, ts));
        prev = cur;
    }
    f->leaf_not_before_s = cur.not_before;
    f->leaf_not_after_s = cur.not_after;

    uint8_t h[48];
    s_sig_structure_hash(&cose, h);
    AK_ENSURE(s_p384_verify(cur.pub, cose.sig.ptr, h), AK_E_ATTEST_SIGNATURE_INVALID);
    return s_policy(f, pol);
}

/* ---------------------------------------------------------------- files, PEM, JSON, the CLI */

typedef struct s_pem_sink {
    ak_buf *der;
    ak_err err;
} s_pem_sink;

static void s_pem_append(void *ctx, const void *p, size_t n) {
    s_pem_sink *s = ctx;
    if (s->err == AK_OK) s->err = ak_buf_append(s->der, p, n); /* NOMEM or LIMIT, reported as is */
}

ak_err ak_nitro_root_from_pem(ak_cur pem, ak_buf *der) {
    AK_PRECOND(der != NULL);
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    s_pem_sink sink = {der, AK_OK};
    size_t objects = 0, start = der->len;
    bool in_cert = false;
    /* a final newline is pushed too: BearSSL needs the END line terminated, files may not be */
    ak_cur parts[2] = {pem, AK_CUR_LIT("\n")};
    for (int part = 0; part < 2; part++) {
        ak_cur r = parts[part];
        while (r.len > 0) {
            size_t used = br_pem_decoder_push(&pc, r.ptr, r.len);
            r.ptr += used;
            r.len -= used;
            switch (br_pem_decoder_event(&pc)) {
                case BR_PEM_BEGIN_OBJ:
                    in_cert = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0;
                    AK_ENSURE(in_cert && objects == 0, AK_E_BAD_KEY);
                    br_pem_decoder_setdest(&pc, s_pem_append, &sink);
                    break;
                case BR_PEM_END_OBJ:
                    AK_ENSURE(in_cert, AK_E_BAD_KEY);
                    objects++;
                    in_cert = false;
                    break;
                case BR_PEM_ERROR:
                    return AK_E_BAD_KEY;
                default:
                    break;
            }
        }
    }
    AK_GUARD(sink.err);
    AK_ENSURE(objects == 1 && !in_cert && der->len > start, AK_E_BAD_KEY);
    return AK_OK;
}

ak_err ak_nitro_doc_from_file(ak_cur file, ak_buf *doc) {
    AK_PRECOND(doc != NULL);
    if (file.len > 0 && (file.ptr[0] == 0x84 || file.ptr[0] == 0xd2)) {
        AK_ENSURE(file.len <= AK_NITRO_MAX_DOC, AK_E_TOO_LARGE);
        return ak_buf_append_cur(doc, file);
    }
    /* base64 text: drop ASCII whitespace (line-wrapped files), then strict decoding */
    AK_ENSURE(file.len <= 2 * AK_NITRO_MAX_DOC, AK_E_TOO_LARGE);
    ak_buf text;
    ak_buf_init(&text, 2 * AK_NITRO_MAX_DOC);
    ak_err rc = AK_OK;
    for (size_t i = 0; i < file.len; i++) {
        uint8_t b = file.ptr[i];
        if (b == ' ' || b == '\t' || b == '\r' || b == '\n') continue;
        AK_GUARD_OUT(ak_buf_append_byte(&text, b));
    }
    AK_ENSURE_OUT(text.len > 0, AK_E_BAD_BASE64);
    AK_GUARD_OUT(ak_b64_decode(ak_buf_cur(&text), doc));
    AK_ENSURE_OUT(doc->len <= AK_NITRO_MAX_DOC, AK_E_TOO_LARGE);
out:
    ak_buf_free(&text);
    return rc;
}

/* hex string of `c`, or JSON null */
static json_t *s_hex_json(ak_cur c, bool present) {
    if (!present) return json_null();
    ak_buf h;
    ak_buf_init(&h, 2 * AK_NITRO_MAX_DOC + 1);
    json_t *v = NULL;
    if (ak_buf_append_hex(&h, c.ptr, c.len) == AK_OK) v = json_stringn(ak_buf_cstr(&h), h.len);
    ak_buf_free(&h);
    return v;
}

/* json_object_set_new that remembers a failure (NULL value or allocation) */
static void s_set(json_t *o, const char *k, json_t *v, bool *ok) {
    if (v == NULL || json_object_set_new(o, k, v) != 0) *ok = false;
}

ak_err ak_nitro_facts_json(const ak_nitro_facts *f, ak_buf *out) {
    AK_PRECOND(f != NULL && out != NULL);
    json_t *o = json_object(), *pcrs = json_object();
    bool ok = o != NULL && pcrs != NULL;
    if (ok) {
        s_set(o, "module_id", json_stringn((const char *)f->module_id.ptr, f->module_id.len), &ok);
        s_set(o, "timestamp", json_integer((json_int_t)f->timestamp_ms), &ok);
        s_set(o, "digest", json_stringn((const char *)f->digest.ptr, f->digest.len), &ok);
        for (unsigned i = 0; i < AK_NITRO_MAX_PCRS; i++) {
            if (!f->pcr_present[i]) continue;
            char k[4] = {(char)(i < 10 ? '0' + i : '0' + i / 10), (char)(i < 10 ? 0 : '0' + i % 10), 0, 0};
            s_set(pcrs, k, s_hex_json(f->pcrs[i], true), &ok);
        }
        s_set(o, "pcrs", pcrs, &ok);
        pcrs = NULL;
        s_set(o, "public_key", s_hex_json(f->public_key.v, f->public_key.present), &ok);
        s_set(o, "user_data", s_hex_json(f->user_data.v, f->user_data.present), &ok);
        s_set(o, "nonce", s_hex_json(f->nonce.v, f->nonce.present), &ok);
        s_set(o, "cabundle_len", json_integer((json_int_t)f->cabundle_len), &ok);
        s_set(o, "leaf_not_before", json_integer((json_int_t)f->leaf_not_before_s), &ok);
        s_set(o, "leaf_not_after", json_integer((json_int_t)f->leaf_not_after_s), &ok);
        s_set(o, "cose_tagged", json_boolean(f->tagged), &ok);
    }
    ak_err rc = ok ? ak_json_dump(o, out) : AK_E_NOMEM;
    json_decref(pcrs);
    json_decref(o);
    return rc;
}

ak_err ak_nitro_check(ak_cur file, ak_cur root_pem, int64_t at_ms, ak_cur pcr0_hex, ak_buf *json) {
    AK_PRECOND(json != NULL && at_ms > 0);
    ak_buf doc, root, pcr0;
    ak_buf_init(&doc, AK_NITRO_MAX_DOC);
    ak_buf_init(&root, AK_NITRO_MAX_CERT * 4);
    ak_buf_init(&pcr0, 64);
    ak_err rc = AK_OK;
    if (root_pem.len > 0) AK_GUARD_OUT(ak_nitro_root_from_pem(root_pem, &root));
    ak_nitro_pcr_pin pin = {0, {NULL, 0}};
    ak_nitro_policy pol = {at_ms, 0, NULL, 0, {NULL, 0}, {NULL, 0}, {NULL, 0}};
    if (pcr0_hex.len > 0) {
        AK_GUARD_OUT(ak_hex_decode_buf(pcr0_hex, true, &pcr0));
        pin.value = ak_buf_cur(&pcr0);
        pol.pcrs = &pin;
        pol.n_pcrs = 1;
    }
    AK_GUARD_OUT(ak_nitro_doc_from_file(file, &doc));
    ak_nitro_facts f;
    AK_GUARD_OUT(ak_nitro_verify(ak_buf_cur(&doc), ak_buf_cur(&root), &pol, &f));
    AK_GUARD_OUT(ak_nitro_facts_json(&f, json));
out:
    ak_buf_free(&doc);
    ak_buf_free(&root);
    ak_buf_free(&pcr0);
    return rc;
}
