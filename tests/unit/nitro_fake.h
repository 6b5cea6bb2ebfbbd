/*
 * nitro_fake.h — TEST-ONLY stand-in for AWS's Nitro PKI and the NSM, so the nitro mode can be
 * proven end to end without Nitro hardware (issue 18 item 1). Never part of libak or the signer.
 *
 *   nf_pki_init     a P-384 root CA, an intermediate CA and a leaf, generated here with BearSSL
 *                   from a fixed seed (deterministic), as DER certificates shaped like AWS's:
 *                   v3, ecdsa-with-SHA384, CN names, basicConstraints (critical; cA on the CAs).
 *   nf_doc          a COSE_Sign1 attestation document (ak/nitro.h) signed by the leaf, with the
 *                   fields the test chooses; cabundle = [root, intermediate].
 *   nf_nsm          an NSM transport (aks/nsm.h's aks_nsm_transport_fn shape): decodes the CBOR
 *                   Attestation request and answers {"Attestation":{"document":...}} for it, or a
 *                   chosen failure (NSM error, garbage, a document for another nonce).
 * The certificates and documents are built with their own small DER/CBOR writers on purpose:
 * the verifier under test must not check its own output.
 */
#ifndef NITRO_FAKE_H
#define NITRO_FAKE_H

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ak/attest.h"
#include "ak/bytes.h"
#include "ak/cbor.h"
#include "ak/crypto.h"
#include "ak/nitro.h"

typedef struct nf_key {
    br_ec_private_key sk;
    uint8_t kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
    uint8_t pub[97];
} nf_key;

typedef struct nf_pki {
    nf_key root, inter, leaf;
    ak_buf root_der, inter_der, leaf_der;
    int64_t t0; /* Unix s: the certificates are valid [t0 - 1 h, t0 + 1 h] (leaf), +-10 y (CAs) */
} nf_pki;

static br_hmac_drbg_context g_nf_rng;

static void nf_key_gen(nf_key *k) {
    size_t n = br_ec_keygen(&g_nf_rng.vtable, &br_ec_prime_i31, &k->sk, k->kbuf, BR_EC_secp384r1);
    assert_true(n == 48);
    br_ec_public_key pk;
    assert_true(br_ec_compute_pub(&br_ec_prime_i31, &pk, k->pub, &k->sk) == 97);
}

/* ---- DER ---- */
static void nf_tlv(ak_buf *out, uint8_t tag, const void *p, size_t n) {
    uint8_t h[4];
    size_t hl = 0;
    h[hl++] = tag;
    if (n < 0x80) {
        h[hl++] = (uint8_t)n;
    } else if (n <= 0xff) {
        h[hl++] = 0x81;
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x82;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    }
    assert_int_equal(ak_buf_append(out, h, hl), AK_OK);
    assert_int_equal(ak_buf_append(out, p, n), AK_OK);
}

static void nf_wrap(ak_buf *out, uint8_t tag, ak_buf *inner) {
    nf_tlv(out, tag, inner->ptr, inner->len);
    ak_buf_free(inner);
}

static const uint8_t g_nf_sha384_alg[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                          0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};

static void nf_name(ak_buf *out, const char *cn) {
    ak_buf atv, set, seq;
    ak_buf_init(&atv, 256);
    ak_buf_init(&set, 256);
    ak_buf_init(&seq, 256);
    nf_tlv(&atv, 0x06, "\x55\x04\x03", 3);
    nf_tlv(&atv, 0x0c, cn, strlen(cn));
    nf_wrap(&set, 0x30, &atv);
    nf_wrap(&seq, 0x31, &set);
    nf_wrap(out, 0x30, &seq);
}

/* UTCTime YYMMDDHHMMSSZ (years 1950..2049). */
static void nf_time(ak_buf *out, int64_t t) {
    int64_t days = t / 86400, sod = t % 86400;
    /* civil from days (H. Hinnant's algorithm) */
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    char s[64];
    snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", (int)(y % 100), (int)m, (int)d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
    assert_int_equal(strlen(s), 13);
    nf_tlv(out, 0x17, s, 13);
}

/* A certificate for `subj` (key `k`) issued by `iss_name` with key `signer`. */
static void nf_cert(ak_buf *der, const char *subj, const nf_key *k, const char *iss_name,
                    const nf_key *signer, bool ca, int64_t nb, int64_t na, uint8_t serial) {
    ak_buf tbs, in, tmp, ext, bc;
    ak_buf_init(&tbs, 2048);
    ak_buf_init(&in, 2048);
    nf_tlv(&in, 0xa0, "\x02\x01\x02", 3);
    nf_tlv(&in, 0x02, &serial, 1);
    assert_int_equal(ak_buf_append(&in, g_nf_sha384_alg, sizeof(g_nf_sha384_alg)), AK_OK);
    nf_name(&in, iss_name);
    ak_buf_init(&tmp, 64);
    nf_time(&tmp, nb);
    nf_time(&tmp, na);
    nf_wrap(&in, 0x30, &tmp);
    nf_name(&in, subj);
    /* SPKI: id-ecPublicKey, secp384r1, the point */
    ak_buf alg, spki;
    ak_buf_init(&alg, 64);
    ak_buf_init(&spki, 256);
    nf_tlv(&alg, 0x06, "\x2a\x86\x48\xce\x3d\x02\x01", 7);
    nf_tlv(&alg, 0x06, "\x2b\x81\x04\x00\x22", 5);
    nf_wrap(&spki, 0x30, &alg);
    uint8_t bits[98];
    bits[0] = 0;
    memcpy(bits + 1, k->pub, 97);
    nf_tlv(&spki, 0x03, bits, sizeof(bits));
    nf_wrap(&in, 0x30, &spki);
    /* [3] { SEQ { SEQ { basicConstraints, critical, OCTET STRING { SEQ { cA? } } } } } */
    ak_buf_init(&bc, 16);
    if (ca) nf_tlv(&bc, 0x01, "\xff", 1);
    ak_buf_init(&tmp, 16);
    nf_wrap(&tmp, 0x30, &bc);
    ak_buf_init(&ext, 64);
    nf_tlv(&ext, 0x06, "\x55\x1d\x13", 3);
    nf_tlv(&ext, 0x01, "\xff", 1);
    nf_wrap(&ext, 0x04, &tmp);
    ak_buf_init(&tmp, 64);
    nf_wrap(&tmp, 0x30, &ext);
    ak_buf_init(&ext, 64);
    nf_wrap(&ext, 0x30, &tmp);
    nf_wrap(&in, 0xa3, &ext);
    nf_wrap(&tbs, 0x30, &in);
    /* signature */
    uint8_t h[48], sig[BR_EC_KBUF_PUB_MAX_SIZE + 16], bs[BR_EC_KBUF_PUB_MAX_SIZE + 17];
    ak_sha384(tbs.ptr, tbs.len, h);
    size_t sl = br_ecdsa_i31_sign_asn1(&br_ec_prime_i31, &br_sha384_vtable, h, &signer->sk, sig);
    assert_true(sl > 0);
    bs[0] = 0;
    memcpy(bs + 1, sig, sl);
    ak_buf cert;
    ak_buf_init(&cert, 2048);
    assert_int_equal(ak_buf_append(&cert, tbs.ptr, tbs.len), AK_OK);
    assert_int_equal(ak_buf_append(&cert, g_nf_sha384_alg, sizeof(g_nf_sha384_alg)), AK_OK);
    nf_tlv(&cert, 0x03, bs, sl + 1);
    nf_wrap(der, 0x30, &cert);
    ak_buf_free(&tbs);
}

/* seed: a different seed gives a different PKI (an "other root"). t0: Unix seconds. */
static void nf_pki_init(nf_pki *p, uint8_t seed, int64_t t0) {
    uint8_t s[32];
    memset(s, seed, sizeof(s));
    br_hmac_drbg_init(&g_nf_rng, &br_sha256_vtable, s, sizeof(s));
    memset(p, 0, sizeof(*p));
    p->t0 = t0;
    nf_key_gen(&p->root);
    nf_key_gen(&p->inter);
    nf_key_gen(&p->leaf);
    ak_buf_init(&p->root_der, AK_NITRO_MAX_CERT);
    ak_buf_init(&p->inter_der, AK_NITRO_MAX_CERT);
    ak_buf_init(&p->leaf_der, AK_NITRO_MAX_CERT);
    const int64_t y10 = 10 * 365 * 86400;
    nf_cert(&p->root_der, "test-nitro-root", &p->root, "test-nitro-root", &p->root, true, t0 - y10, t0 + y10,
            1);
    nf_cert(&p->inter_der, "test-nitro-zone", &p->inter, "test-nitro-root", &p->root, true, t0 - y10,
            t0 + y10, 2);
    nf_cert(&p->leaf_der, "test-nitro-instance", &p->leaf, "test-nitro-zone", &p->inter, false, t0 - 3600,
            t0 + 3600, 3);
}

static void nf_pki_free(nf_pki *p) {
    ak_buf_free(&p->root_der);
    ak_buf_free(&p->inter_der);
    ak_buf_free(&p->leaf_der);
}

/* PEM of the root, for AK_SIGNER_NITRO_ROOT-style settings. */
static void nf_root_pem(const nf_pki *p, ak_buf *pem) {
    ak_buf b64;
    ak_buf_init(&b64, 4096);
    assert_int_equal(ak_b64_encode(p->root_der.ptr, p->root_der.len, &b64), AK_OK);
    assert_int_equal(ak_buf_append_str(pem, "-----BEGIN CERTIFICATE-----\n"), AK_OK);
    for (size_t i = 0; i < b64.len; i += 64) {
        assert_int_equal(ak_buf_append(pem, b64.ptr + i, b64.len - i < 64 ? b64.len - i : 64), AK_OK);
        assert_int_equal(ak_buf_append_byte(pem, '\n'), AK_OK);
    }
    assert_int_equal(ak_buf_append_str(pem, "-----END CERTIFICATE-----\n"), AK_OK);
    ak_buf_free(&b64);
}

/* The root PEM in a fresh temporary file (the AK_SIGNER_NITRO_ROOT setting); `path` gets its
 * name, the caller unlinks it. */
__attribute__((unused)) static void nf_root_pem_file(const nf_pki *p, char path[64]) {
    ak_buf pem;
    ak_buf_init(&pem, 8192);
    nf_root_pem(p, &pem);
    snprintf(path, 64, "/tmp/ak-nitro-root-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, pem.ptr, pem.len) == (ssize_t)pem.len);
    close(fd);
    ak_buf_free(&pem);
}

/* ---- CBOR / COSE ---- */
static void nf_head(ak_buf *b, uint8_t major, uint64_t v) {
    assert_int_equal(ak_cbor_put_head(b, major, v), AK_OK);
}
static void nf_tstr(ak_buf *b, const char *s) {
    nf_head(b, 3, strlen(s));
    assert_int_equal(ak_buf_append(b, s, strlen(s)), AK_OK);
}
static void nf_bstr(ak_buf *b, const void *p, size_t n) {
    nf_head(b, 2, n);
    assert_int_equal(ak_buf_append(b, p, n), AK_OK);
}
/* An optional field: ptr NULL -> CBOR null. */
static void nf_opt(ak_buf *b, ak_cur v) {
    if (v.ptr == NULL)
        assert_int_equal(ak_buf_append_byte(b, 0xf6), AK_OK);
    else
        nf_bstr(b, v.ptr, v.len);
}

typedef struct nf_doc_opts {
    uint64_t timestamp_ms;
    uint8_t pcr[4][48]; /* PCR0, 1, 2, 8 */
    ak_cur nonce, public_key, user_data;
    const nf_key *sign_with; /* NULL: the leaf */
    bool tagged;
} nf_doc_opts;

static void nf_doc(const nf_pki *p, const nf_doc_opts *o, ak_buf *doc) {
    static const unsigned idx[4] = {0, 1, 2, 8};
    ak_buf pl;
    ak_buf_init(&pl, AK_NITRO_MAX_DOC);
    nf_head(&pl, 5, 9);
    nf_tstr(&pl, "module_id");
    nf_tstr(&pl, "i-0123456789abcdef0-enc0123456789abcdef");
    nf_tstr(&pl, "digest");
    nf_tstr(&pl, "SHA384");
    nf_tstr(&pl, "timestamp");
    nf_head(&pl, 0, o->timestamp_ms);
    nf_tstr(&pl, "pcrs");
    nf_head(&pl, 5, 4);
    for (int i = 0; i < 4; i++) {
        nf_head(&pl, 0, idx[i]);
        nf_bstr(&pl, o->pcr[i], 48);
    }
    nf_tstr(&pl, "certificate");
    nf_bstr(&pl, p->leaf_der.ptr, p->leaf_der.len);
    nf_tstr(&pl, "cabundle");
    nf_head(&pl, 4, 2);
    nf_bstr(&pl, p->root_der.ptr, p->root_der.len);
    nf_bstr(&pl, p->inter_der.ptr, p->inter_der.len);
    nf_tstr(&pl, "public_key");
    nf_opt(&pl, o->public_key);
    nf_tstr(&pl, "user_data");
    nf_opt(&pl, o->user_data);
    nf_tstr(&pl, "nonce");
    nf_opt(&pl, o->nonce);
    /* Sig_structure (RFC 9052 §4.4), hashed with SHA-384, signed raw r||s */
    static const uint8_t prot[] = {0xa1, 0x01, 0x38, 0x22};
    ak_buf ss;
    ak_buf_init(&ss, AK_NITRO_MAX_DOC + 64);
    nf_head(&ss, 4, 4);
    nf_tstr(&ss, "Signature1");
    nf_bstr(&ss, prot, sizeof(prot));
    nf_bstr(&ss, "", 0);
    nf_bstr(&ss, pl.ptr, pl.len);
    uint8_t h[48], sig[96];
    ak_sha384(ss.ptr, ss.len, h);
    const nf_key *k = o->sign_with ? o->sign_with : &p->leaf;
    assert_true(br_ecdsa_i31_sign_raw(&br_ec_prime_i31, &br_sha384_vtable, h, &k->sk, sig) == 96);
    if (o->tagged) nf_head(doc, 6, 18);
    nf_head(doc, 4, 4);
    nf_bstr(doc, prot, sizeof(prot));
    nf_head(doc, 5, 0);
    nf_bstr(doc, pl.ptr, pl.len);
    nf_bstr(doc, sig, 96);
    ak_buf_free(&pl);
    ak_buf_free(&ss);
}

/* Options with the test's usual PCRs (PCR0 = 0x10.., PCR1 = 0x11.., PCR2 = 0x12.., PCR8 = 0x18..). */
static nf_doc_opts nf_opts(uint64_t ts_ms) {
    nf_doc_opts o;
    memset(&o, 0, sizeof(o));
    o.timestamp_ms = ts_ms;
    memset(o.pcr[0], 0x10, 48);
    memset(o.pcr[1], 0x11, 48);
    memset(o.pcr[2], 0x12, 48);
    memset(o.pcr[3], 0x18, 48);
    return o;
}

/* ---- the fake NSM ---- */
typedef enum { NF_OK, NF_ERROR, NF_GARBAGE, NF_OTHER_NONCE, NF_TRANSPORT_FAIL, NF_HUGE } nf_nsm_mode;

typedef struct nf_nsm {
    const nf_pki *pki;
    nf_nsm_mode mode;
    uint64_t now_ms;
    unsigned calls;
} nf_nsm;

/* A test PKI from `seed` and a fake NSM over it (NF_OK) stamping its documents `now_ms`. */
__attribute__((unused)) static void nf_nsm_up(nf_pki *p, nf_nsm *n, uint8_t seed, int64_t now_ms) {
    nf_pki_init(p, seed, now_ms / 1000);
    *n = (nf_nsm){p, NF_OK, (uint64_t)now_ms, 0};
}

__attribute__((unused)) static ak_cur nf_field(const ak_cbor_item *m, const char *k) {
    ak_cbor_item v;
    ak_cur c = {NULL, 0};
    assert_int_equal(ak_cbor_map_get_tstr(m, k, &v), AK_OK);
    assert_int_equal(ak_cbor_get_bstr(&v, &c), AK_OK);
    return c;
}

__attribute__((unused)) static ak_err nf_nsm_transport(void *ctx, ak_cur req, uint8_t *resp, size_t cap,
                                                       size_t *resp_len) {
    nf_nsm *n = ctx;
    n->calls++;
    *resp_len = 0;
    if (n->mode == NF_TRANSPORT_FAIL) return AK_E_ATTEST_NSM_UNAVAILABLE;
    ak_cbor_item top, att;
    assert_int_equal(ak_cbor_decode_all(req, NULL, &top), AK_OK);
    assert_int_equal(ak_cbor_map_get_tstr(&top, "Attestation", &att), AK_OK);
    assert_true(att.type == AK_CBOR_MAP && att.count == 3);
    nf_doc_opts o = nf_opts(n->now_ms);
    o.user_data = nf_field(&att, "user_data");
    o.nonce = nf_field(&att, "nonce");
    o.public_key = nf_field(&att, "public_key");
    uint8_t other[32];
    memset(other, 0xee, sizeof(other));
    if (n->mode == NF_OTHER_NONCE) o.nonce = ak_cur_from(other, sizeof(other));
    ak_buf doc, out;
    ak_buf_init(&doc, AK_NITRO_MAX_DOC);
    ak_buf_init(&out, 1u << 16);
    nf_doc(n->pki, &o, &doc);
    if (n->mode == NF_ERROR) {
        nf_head(&out, 5, 1);
        nf_tstr(&out, "Error");
        nf_tstr(&out, "InternalError");
    } else if (n->mode == NF_GARBAGE) {
        assert_int_equal(ak_buf_append_str(&out, "\xa1\x6b"
                                                 "Attestation\xa1\x68"
                                                 "document\x59\xff"),
                         AK_OK);
    } else {
        nf_head(&out, 5, 1);
        nf_tstr(&out, "Attestation");
        nf_head(&out, 5, 1);
        nf_tstr(&out, "document");
        nf_bstr(&out, doc.ptr, doc.len);
        if (n->mode == NF_HUGE)
            while (out.len <= cap)
                assert_int_equal(ak_buf_append_byte(&out, 0), AK_OK);
    }
    size_t len = out.len < cap ? out.len : cap;
    memcpy(resp, out.ptr, len);
    *resp_len = n->mode == NF_HUGE ? cap + 1 : len; /* NF_HUGE: a transport claiming too much */
    ak_buf_free(&doc);
    ak_buf_free(&out);
    return AK_OK;
}

#endif
