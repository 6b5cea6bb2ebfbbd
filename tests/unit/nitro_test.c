/*
 * nitro_test.c — AWS Nitro attestation documents (ak/nitro.h) against the real NSM documents in
 * ../shared/vectors/nitro-attestation/ (read at test time, never copied here) and the AWS
 * Nitro Enclaves Root-G1 certificate beside them.
 *
 * Every document verifies at its own timestamp, under the root PEM and under the built-in
 * fingerprint, and its facts equal the vector's `expected`. Then each mutation is refused with
 * the reason of the check it breaks: payload byte, signature byte, a cabundle certificate, the
 * leaf, the root, a pinned PCR0, expiry, not-yet-valid, truncation, trailing bytes, COSE
 * header, payload field, nonce / public key / user data bindings, staleness.
 */
#include "test.h"

#include <jansson.h>

#include "ak/crypto.h"
#include "ak/json.h"
#include "ak/nitro.h"

static const char *const s_vectors[] = {
    "nitro-attestation/blocky-nitrite-2024-09-07.json",
    "nitro-attestation/cape-js-2022-07-14.json",
    "nitro-attestation/fastcrypto-pcr16-2025-11-10.json",
};
#define S_NVEC (sizeof(s_vectors) / sizeof(s_vectors[0]))

/* One loaded vector: the document, the root DER, the `expected` object. */
typedef struct s_vec {
    const char *name;
    json_t *j, *exp;
    ak_buf doc, root, pem;
    int64_t ts;
} s_vec;

static void s_load(size_t i, s_vec *v) {
    memset(v, 0, sizeof(*v));
    v->name = s_vectors[i];
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    ak_test_read_file(ak_test_vector_path(v->name), &b);
    json_error_t e;
    v->j = json_loadb((const char *)b.ptr, b.len, 0, &e);
    ak_buf_free(&b);
    if (v->j == NULL) fail_msg("%s: %s", v->name, e.text);
    v->exp = json_object_get(v->j, "expected");
    ak_cur b64;
    EXPECT_OK(ak_json_str(v->j, "doc_b64", &b64));
    ak_buf_init(&v->doc, AK_NITRO_MAX_DOC + 16);
    EXPECT_OK(ak_b64_decode(b64, &v->doc));
    uint64_t ts;
    EXPECT_OK(ak_json_u64(v->exp, "timestamp_ms", &ts));
    v->ts = (int64_t)ts;
    ak_buf_init(&v->pem, 1u << 16);
    ak_test_read_file(ak_test_vector_path("nitro-attestation/aws_nitro_enclaves_root_g1.pem"), &v->pem);
    ak_buf_init(&v->root, 4096);
    EXPECT_OK(ak_nitro_root_from_pem(ak_buf_cur(&v->pem), &v->root));
}

static void s_free(s_vec *v) {
    json_decref(v->j);
    ak_buf_free(&v->doc);
    ak_buf_free(&v->root);
    ak_buf_free(&v->pem);
}

static ak_nitro_policy s_at(int64_t ms) {
    ak_nitro_policy p;
    memset(&p, 0, sizeof(p));
    p.now_ms = ms;
    return p;
}

static void s_expect_sha256(ak_cur c, const json_t *exp, const char *key) {
    ak_cur want;
    EXPECT_OK(ak_json_str(exp, key, &want));
    uint8_t h[32];
    char hex[65];
    ak_sha256(c.ptr, c.len, h);
    ak_hex_encode(h, 32, hex);
    EXPECT_BYTES_EQ(hex, 64, want.ptr, want.len);
}

/* expected.<key>: hex string, "" or null, against an optional field */
static void s_expect_opt(const ak_nitro_opt *o, const json_t *exp, const char *key) {
    const json_t *w = json_object_get(exp, key);
    if (json_is_null(w)) {
        EXPECT_FALSE(o->present);
        EXPECT_TRUE(o->null);
        return;
    }
    EXPECT_TRUE(o->present);
    ak_buf b;
    ak_buf_init(&b, 4096);
    EXPECT_OK(ak_hex_decode_buf(ak_cur_from_str(json_string_value(w)), false, &b));
    EXPECT_BYTES_EQ(o->v.ptr, o->v.len, b.ptr, b.len);
    ak_buf_free(&b);
}

static void s_pcr_expected(const s_vec *v, unsigned idx, ak_buf *out) {
    char k[4];
    snprintf(k, sizeof(k), "%u", idx);
    const json_t *p = json_object_get(json_object_get(v->exp, "pcrs"), k);
    if (!json_is_string(p)) fail_msg("%s: no pcr %u", v->name, idx);
    ak_buf_init(out, 128);
    EXPECT_OK(ak_hex_decode_buf(ak_cur_from_str(json_string_value(p)), false, out));
}

AK_TEST(test_vectors_verify_with_expected_facts) {
    for (size_t i = 0; i < S_NVEC; i++) {
        s_vec v;
        s_load(i, &v);
        print_message("%s\n", v.name);
        ak_cur doc = ak_buf_cur(&v.doc);
        s_expect_sha256(doc, v.exp, "doc_sha256");
        ak_nitro_policy pol = s_at(v.ts);
        ak_nitro_facts f;
        EXPECT_OK(ak_nitro_verify(doc, ak_buf_cur(&v.root), &pol, &f));
        /* the built-in G1 fingerprint pins the same root */
        EXPECT_OK(ak_nitro_verify(doc, ak_cur_from(NULL, 0), &pol, NULL));
        s_expect_sha256(ak_buf_cur(&v.root), v.exp, "cabundle0_sha256");

        ak_cur s;
        EXPECT_OK(ak_json_str(v.exp, "module_id", &s));
        EXPECT_BYTES_EQ(f.module_id.ptr, f.module_id.len, s.ptr, s.len);
        EXPECT_OK(ak_json_str(v.exp, "digest", &s));
        EXPECT_BYTES_EQ(f.digest.ptr, f.digest.len, s.ptr, s.len);
        EXPECT_INT_EQ(f.timestamp_ms, (uint64_t)v.ts);
        EXPECT_FALSE(f.tagged);
        uint64_t n;
        EXPECT_OK(ak_json_u64(v.exp, "cabundle_len", &n));
        EXPECT_INT_EQ(f.cabundle_len, n);
        s_expect_sha256(f.certificate, v.exp, "certificate_sha256");
        s_expect_opt(&f.public_key, v.exp, "public_key_hex");
        s_expect_opt(&f.user_data, v.exp, "user_data_hex");
        s_expect_opt(&f.nonce, v.exp, "nonce_hex");
        /* every PCR, and no other */
        const json_t *pcrs = json_object_get(v.exp, "pcrs");
        size_t count = 0;
        for (unsigned k = 0; k < AK_NITRO_MAX_PCRS; k++) {
            if (!f.pcr_present[k]) continue;
            count++;
            ak_buf want;
            s_pcr_expected(&v, k, &want);
            EXPECT_BYTES_EQ(f.pcrs[k].ptr, f.pcrs[k].len, want.ptr, want.len);
            ak_buf_free(&want);
        }
        EXPECT_INT_EQ(count, json_object_size(pcrs));
        /* the leaf window brackets the timestamp; the JSON facts carry the same values */
        EXPECT_TRUE(f.leaf_not_before_s * 1000 <= v.ts && v.ts <= f.leaf_not_after_s * 1000);
        ak_buf js;
        ak_buf_init(&js, 1u << 16);
        EXPECT_OK(ak_nitro_facts_json(&f, &js));
        json_t *o = NULL;
        EXPECT_OK(ak_json_parse_object(ak_buf_cur(&js), &o));
        EXPECT_TRUE(json_equal(json_object_get(o, "pcrs"), pcrs));
        EXPECT_TRUE(json_equal(json_object_get(o, "module_id"), json_object_get(v.exp, "module_id")));
        EXPECT_TRUE(json_equal(json_object_get(o, "nonce"), json_object_get(v.exp, "nonce_hex")));
        EXPECT_TRUE(json_equal(json_object_get(o, "user_data"), json_object_get(v.exp, "user_data_hex")));
        EXPECT_TRUE(json_equal(json_object_get(o, "public_key"), json_object_get(v.exp, "public_key_hex")));
        EXPECT_INT_EQ(json_integer_value(json_object_get(o, "timestamp")), v.ts);
        json_decref(o);
        ak_buf_free(&js);
        s_free(&v);
    }
}

AK_TEST(test_policy_accepts_matching_bindings) {
    for (size_t i = 0; i < S_NVEC; i++) {
        s_vec v;
        s_load(i, &v);
        ak_nitro_facts f;
        EXPECT_OK(ak_nitro_parse(ak_buf_cur(&v.doc), &f));
        ak_buf p0, p4;
        s_pcr_expected(&v, 0, &p0);
        s_pcr_expected(&v, 4, &p4);
        ak_nitro_pcr_pin pins[2] = {{0, ak_buf_cur(&p0)}, {4, ak_buf_cur(&p4)}};
        ak_nitro_policy pol = s_at(v.ts + 1500);
        pol.max_age_ms = 2000;
        pol.pcrs = pins;
        pol.n_pcrs = 2;
        if (f.nonce.present) pol.nonce = f.nonce.v;
        if (f.public_key.present) pol.public_key = f.public_key.v;
        if (f.user_data.present) pol.user_data = f.user_data.v;
        EXPECT_OK(ak_nitro_verify(ak_buf_cur(&v.doc), ak_buf_cur(&v.root), &pol, NULL));
        ak_buf_free(&p0);
        ak_buf_free(&p4);
        s_free(&v);
    }
}

/* Verifies a copy of the document with byte `off` XOR 0x01. */
static ak_err s_flip(const s_vec *v, size_t off, const ak_nitro_policy *pol) {
    ak_buf m;
    ak_buf_init(&m, AK_NITRO_MAX_DOC + 16);
    EXPECT_OK(ak_buf_append(&m, v->doc.ptr, v->doc.len));
    if (off >= m.len) fail_msg("flip offset %zu past %zu", off, m.len);
    m.ptr[off] ^= 0x01;
    ak_err e = ak_nitro_verify(ak_buf_cur(&m), ak_buf_cur(&v->root), pol, NULL);
    ak_buf_free(&m);
    return e;
}

static size_t s_off(const s_vec *v, ak_cur inside) { return (size_t)(inside.ptr - v->doc.ptr); }

/* Offset of the second serialNumber byte of a certificate: 30 82 LL LL 30 82 LL LL a0 03 02 01
 * 02 | 02 len serial... (asserted, so a differently shaped certificate fails loudly). */
static size_t s_serial_byte(const s_vec *v, ak_cur cert) {
    EXPECT_TRUE(cert.len > 20 && cert.ptr[0] == 0x30 && cert.ptr[1] == 0x82 && cert.ptr[4] == 0x30 &&
                cert.ptr[5] == 0x82 && cert.ptr[8] == 0xa0 && cert.ptr[13] == 0x02 && cert.ptr[14] >= 2);
    return s_off(v, cert) + 16;
}

AK_TEST(test_each_mutation_has_its_own_reason) {
    for (size_t i = 0; i < S_NVEC; i++) {
        s_vec v;
        s_load(i, &v);
        print_message("%s\n", v.name);
        ak_cur doc = ak_buf_cur(&v.doc), root = ak_buf_cur(&v.root);
        ak_nitro_facts f;
        ak_nitro_policy pol = s_at(v.ts);
        EXPECT_OK(ak_nitro_verify(doc, root, &pol, &f));

        /* payload: a byte of PCR4's value (non-zero in every vector): still well-formed CBOR */
        EXPECT_ERR(AK_E_ATTEST_SIGNATURE_INVALID, s_flip(&v, s_off(&v, f.pcrs[4]) + 7, &pol));
        /* signature: its last byte is the document's last */
        EXPECT_ERR(AK_E_ATTEST_SIGNATURE_INVALID, s_flip(&v, doc.len - 1, &pol));
        EXPECT_ERR(AK_E_ATTEST_SIGNATURE_INVALID, s_flip(&v, doc.len - 96, &pol));
        /* a CA certificate of the bundle (serial number: the DER stays valid) */
        EXPECT_ERR(AK_E_ATTEST_CHAIN_INVALID, s_flip(&v, s_serial_byte(&v, f.cabundle[1]), &pol));
        EXPECT_ERR(AK_E_ATTEST_CHAIN_INVALID, s_flip(&v, s_serial_byte(&v, f.cabundle[2]), &pol));
        EXPECT_ERR(AK_E_ATTEST_CHAIN_INVALID, s_flip(&v, s_serial_byte(&v, f.cabundle[3]), &pol));
        /* ... and its signature value (last byte of the DER) */
        EXPECT_ERR(AK_E_ATTEST_CHAIN_INVALID,
                   s_flip(&v, s_off(&v, f.cabundle[2]) + f.cabundle[2].len - 1, &pol));
        /* the leaf certificate */
        EXPECT_ERR(AK_E_ATTEST_LEAF_INVALID, s_flip(&v, s_serial_byte(&v, f.certificate), &pol));
        EXPECT_ERR(AK_E_ATTEST_LEAF_INVALID,
                   s_flip(&v, s_off(&v, f.certificate) + f.certificate.len - 1, &pol));
        /* the root inside the bundle, and a different pinned root */
        EXPECT_ERR(AK_E_ATTEST_ROOT_MISMATCH, s_flip(&v, s_serial_byte(&v, f.cabundle[0]), &pol));
        EXPECT_ERR(AK_E_ATTEST_ROOT_MISMATCH, ak_nitro_verify(doc, f.cabundle[1], &pol, NULL));
        /* a certificate whose DER no longer parses */
        EXPECT_ERR(AK_E_ATTEST_CERT_MALFORMED, s_flip(&v, s_off(&v, f.cabundle[2]), &pol));
        EXPECT_ERR(AK_E_ATTEST_CERT_MALFORMED, s_flip(&v, s_off(&v, f.certificate) + 1, &pol));

        /* time: one second after the leaf's notAfter, one before its notBefore */
        ak_nitro_policy late = s_at((f.leaf_not_after_s + 1) * 1000);
        EXPECT_ERR(AK_E_ATTEST_CERT_EXPIRED, ak_nitro_verify(doc, root, &late, NULL));
        late = s_at(f.leaf_not_after_s * 1000 + 999); /* still the last valid second */
        EXPECT_OK(ak_nitro_verify(doc, root, &late, NULL));
        ak_nitro_policy early = s_at((f.leaf_not_before_s - 1) * 1000);
        EXPECT_ERR(AK_E_ATTEST_CERT_NOT_YET_VALID, ak_nitro_verify(doc, root, &early, NULL));
        ak_nitro_policy today = s_at(1764633600000LL); /* 2025-12-02: every leaf has expired */
        EXPECT_ERR(AK_E_ATTEST_CERT_EXPIRED, ak_nitro_verify(doc, root, &today, NULL));

        /* PCRs: a wrong PCR0, a PCR0 of the wrong length, a PCR the document does not have */
        uint8_t ff[48];
        memset(ff, 0xff, sizeof(ff));
        ak_nitro_pcr_pin pin = {0, ak_cur_from(ff, 48)};
        ak_nitro_policy pp = s_at(v.ts);
        pp.pcrs = &pin;
        pp.n_pcrs = 1;
        EXPECT_ERR(AK_E_ATTEST_PCR_MISMATCH, ak_nitro_verify(doc, root, &pp, NULL));
        pin.value = ak_cur_from(f.pcrs[0].ptr, 32);
        EXPECT_ERR(AK_E_ATTEST_PCR_MISMATCH, ak_nitro_verify(doc, root, &pp, NULL));
        pin.index = 31;
        pin.value = f.pcrs[0];
        EXPECT_ERR(AK_E_ATTEST_PCR_MISMATCH, ak_nitro_verify(doc, root, &pp, NULL));
        pin.index = 0;
        EXPECT_OK(ak_nitro_verify(doc, root, &pp, NULL));

        /* bindings: one byte off, or expected where the document has none */
        uint8_t other[2048];
        ak_nitro_policy pb = s_at(v.ts);
        ak_cur got = f.nonce.present ? f.nonce.v : ak_cur_from("x", 1);
        memcpy(other, got.ptr, got.len);
        other[0] ^= 0x80;
        pb.nonce = ak_cur_from(other, got.len);
        EXPECT_ERR(AK_E_ATTEST_NONCE_MISMATCH, ak_nitro_verify(doc, root, &pb, NULL));
        pb = s_at(v.ts);
        pb.public_key = ak_cur_from(f.public_key.v.ptr, f.public_key.v.len - 1);
        EXPECT_ERR(AK_E_ATTEST_PUBLIC_KEY_MISMATCH, ak_nitro_verify(doc, root, &pb, NULL));
        pb = s_at(v.ts);
        pb.user_data = ak_cur_from("u", 1);
        EXPECT_ERR(AK_E_ATTEST_USER_DATA_MISMATCH, ak_nitro_verify(doc, root, &pb, NULL));

        /* freshness: older than max_age, or from the future */
        ak_nitro_policy ps = s_at(v.ts + 1001);
        ps.max_age_ms = 1000;
        EXPECT_ERR(AK_E_ATTEST_STALE, ak_nitro_verify(doc, root, &ps, NULL));
        ps.now_ms = v.ts - 1001;
        EXPECT_ERR(AK_E_ATTEST_STALE, ak_nitro_verify(doc, root, &ps, NULL));
        ps.now_ms = v.ts + 1000;
        EXPECT_OK(ak_nitro_verify(doc, root, &ps, NULL));

        /* truncation anywhere, and bytes after the end */
        for (size_t len = 0; len < doc.len; len += (len < 64 ? 1 : 61)) {
            ak_err e = ak_nitro_verify(ak_cur_from(doc.ptr, len), root, &pol, NULL);
            if (e != AK_E_ATTEST_CBOR_MALFORMED) fail_msg("truncated to %zu: %s", len, ak_err_reason(e));
        }
        EXPECT_ERR(AK_E_ATTEST_CBOR_MALFORMED,
                   ak_nitro_verify(ak_cur_from(doc.ptr, doc.len - 1), root, &pol, NULL));
        ak_buf m;
        ak_buf_init(&m, AK_NITRO_MAX_DOC + 16);
        EXPECT_OK(ak_buf_append(&m, doc.ptr, doc.len));
        EXPECT_OK(ak_buf_append_byte(&m, 0x00));
        EXPECT_ERR(AK_E_ATTEST_TRAILING, ak_nitro_verify(ak_buf_cur(&m), root, &pol, NULL));

        /* COSE framing: alg ES512 (-36) in the protected header; tag 18 accepted, tag 17 not */
        EXPECT_INT_EQ(doc.ptr[1], 0x44);
        EXPECT_INT_EQ(doc.ptr[5], 0x22);
        EXPECT_ERR(AK_E_ATTEST_COSE_MALFORMED, s_flip(&v, 5, &pol)); /* 0x22 -> 0x23 */
        ak_buf_clear(&m);
        EXPECT_OK(ak_buf_append_byte(&m, 0xd2));
        EXPECT_OK(ak_buf_append(&m, doc.ptr, doc.len));
        ak_nitro_facts tf;
        EXPECT_OK(ak_nitro_verify(ak_buf_cur(&m), root, &pol, &tf));
        EXPECT_TRUE(tf.tagged);
        m.ptr[0] = 0xd1;
        EXPECT_ERR(AK_E_ATTEST_COSE_MALFORMED, ak_nitro_verify(ak_buf_cur(&m), root, &pol, NULL));
        ak_buf_free(&m);

        /* payload fields: digest "SHA384" -> "SHA385" (parsed before the signature is checked) */
        EXPECT_ERR(AK_E_ATTEST_PAYLOAD_MALFORMED, s_flip(&v, s_off(&v, f.digest) + 5, &pol));
        /* a PCR's bstr head 58 30 (48 bytes) made 58 31: the payload no longer parses as CBOR */
        size_t hd = s_off(&v, f.pcrs[0]) - 2; /* 58 30: bstr of 48 */
        EXPECT_INT_EQ(doc.ptr[hd], 0x58);
        EXPECT_ERR(AK_E_ATTEST_CBOR_MALFORMED, s_flip(&v, hd + 1, &pol));
        s_free(&v);
    }
}

AK_TEST(test_check_one_call) {
    s_vec v;
    s_load(0, &v);
    ak_buf b64, js;
    ak_buf_init(&b64, 4 * AK_NITRO_MAX_DOC);
    ak_buf_init(&js, 1u << 16);
    /* base64 with line breaks, as `base64` writes it */
    ak_buf raw;
    ak_buf_init(&raw, 4 * AK_NITRO_MAX_DOC);
    EXPECT_OK(ak_b64_encode(v.doc.ptr, v.doc.len, &raw));
    for (size_t i = 0; i < raw.len; i += 76) {
        EXPECT_OK(ak_buf_append(&b64, raw.ptr + i, raw.len - i < 76 ? raw.len - i : 76));
        EXPECT_OK(ak_buf_append_byte(&b64, '\n'));
    }
    ak_buf_free(&raw);
    ak_cur pcr0 = AK_CUR_LIT(
        "e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a");
    EXPECT_OK(ak_nitro_check(ak_buf_cur(&b64), ak_buf_cur(&v.pem), v.ts, pcr0, &js));
    json_t *o = NULL;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&js), &o));
    EXPECT_TRUE(json_equal(json_object_get(o, "pcrs"), json_object_get(v.exp, "pcrs")));
    json_decref(o);
    ak_buf_clear(&js);
    /* binary input, no root PEM (built-in fingerprint), no PCR pin */
    EXPECT_OK(ak_nitro_check(ak_buf_cur(&v.doc), ak_cur_from(NULL, 0), v.ts, ak_cur_from(NULL, 0), &js));
    EXPECT_TRUE(js.len > 0);
    ak_buf_clear(&js);
    ak_cur zero0 = AK_CUR_LIT(
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000");
    EXPECT_ERR(AK_E_ATTEST_PCR_MISMATCH,
               ak_nitro_check(ak_buf_cur(&v.doc), ak_cur_from(NULL, 0), v.ts, zero0, &js));
    EXPECT_ERR(AK_E_BAD_HEX,
               ak_nitro_check(ak_buf_cur(&v.doc), ak_cur_from(NULL, 0), v.ts, AK_CUR_LIT("zz"), &js));
    EXPECT_ERR(AK_E_BAD_KEY,
               ak_nitro_check(ak_buf_cur(&v.doc), AK_CUR_LIT("not a pem"), v.ts, ak_cur_from(NULL, 0), &js));
    EXPECT_ERR(AK_E_ATTEST_CERT_EXPIRED, ak_nitro_check(ak_buf_cur(&v.doc), ak_cur_from(NULL, 0),
                                                        v.ts + 86400000, ak_cur_from(NULL, 0), &js));
    EXPECT_ERR(AK_E_BAD_BASE64,
               ak_nitro_check(AK_CUR_LIT("hello!"), ak_cur_from(NULL, 0), v.ts, ak_cur_from(NULL, 0), &js));
    EXPECT_ERR(AK_E_BAD_BASE64,
               ak_nitro_check(AK_CUR_LIT(" \n"), ak_cur_from(NULL, 0), v.ts, ak_cur_from(NULL, 0), &js));
    EXPECT_INT_EQ(js.len, 0); /* nothing written on failure */
    ak_buf_free(&b64);
    ak_buf_free(&js);
    s_free(&v);
}

AK_TEST(test_root_pem) {
    ak_buf der;
    ak_buf_init(&der, 4096);
    EXPECT_ERR(AK_E_BAD_KEY, ak_nitro_root_from_pem(AK_CUR_LIT(""), &der));
    EXPECT_ERR(AK_E_BAD_KEY,
               ak_nitro_root_from_pem(
                   AK_CUR_LIT("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), &der));
    ak_buf pem;
    ak_buf_init(&pem, 1u << 16);
    ak_test_read_file(ak_test_vector_path("nitro-attestation/aws_nitro_enclaves_root_g1.pem"), &pem);
    /* without its final newline it still decodes; twice is two objects: refused */
    ak_buf_clear(&der);
    EXPECT_OK(ak_nitro_root_from_pem(ak_cur_from(pem.ptr, pem.len - 1), &der));
    uint8_t fp[32];
    ak_sha256(der.ptr, der.len, fp);
    EXPECT_BYTES_EQ(fp, 32, AK_NITRO_ROOT_G1_SHA256, 32);
    ak_buf two;
    ak_buf_init(&two, 1u << 17);
    EXPECT_OK(ak_buf_append(&two, pem.ptr, pem.len));
    EXPECT_OK(ak_buf_append(&two, pem.ptr, pem.len));
    ak_buf_clear(&der);
    EXPECT_ERR(AK_E_BAD_KEY, ak_nitro_root_from_pem(ak_buf_cur(&two), &der));
    ak_buf_free(&two);
    ak_buf_free(&pem);
    ak_buf_free(&der);
}

AK_TEST(test_hand_made_malformed) {
    ak_nitro_policy pol = s_at(1700000000000LL);
    ak_buf b;
    ak_buf_init(&b, 256);
    static const char *const cbor_bad[] = {"", "84", "ff", "9f", "5f4101ff"};
    for (size_t i = 0; i < sizeof(cbor_bad) / sizeof(cbor_bad[0]); i++) {
        ak_buf_clear(&b);
        EXPECT_OK(ak_hex_decode_buf(ak_cur_from_str(cbor_bad[i]), false, &b));
        EXPECT_ERR(AK_E_ATTEST_CBOR_MALFORMED,
                   ak_nitro_verify(ak_buf_cur(&b), ak_cur_from(NULL, 0), &pol, NULL));
    }
    /* (prefix, then 96 zero bytes of "signature" when sig96) */
    static const struct {
        const char *hex;
        bool sig96;
    } cose_bad[] = {
        {"83404040", false},                  /* three elements */
        {"a0", false},                        /* not an array */
        {"8444a1013822a04040", false},        /* 0-byte signature */
        {"8443a10126a0405860", true},         /* alg ES256 */
        {"8444a1013822a1013822405860", true}, /* alg repeated unprotected */
        {"8444a1013822f6405860", true},       /* unprotected is not a map */
        {"84a1013822a0405860", true},         /* protected is not a bstr */
        {"c98444a1013822a0405860", true},     /* tag 9, not 18 */
    };
    for (size_t i = 0; i < sizeof(cose_bad) / sizeof(cose_bad[0]); i++) {
        ak_buf_clear(&b);
        EXPECT_OK(ak_hex_decode_buf(ak_cur_from_str(cose_bad[i].hex), false, &b));
        for (int k = 0; cose_bad[i].sig96 && k < 96; k++)
            EXPECT_OK(ak_buf_append_byte(&b, 0));
        ak_err want = AK_E_ATTEST_COSE_MALFORMED;
        ak_err e = ak_nitro_verify(ak_buf_cur(&b), ak_cur_from(NULL, 0), &pol, NULL);
        if (e != want) fail_msg("cose_bad[%zu] -> %s", i, ak_err_reason(e));
    }
    /* protected header {1: -35, 4: h''}: more than the algorithm */
    ak_buf_clear(&b);
    EXPECT_OK(ak_hex_decode_buf(AK_CUR_LIT("8446a20138220440a0405860"), false, &b));
    for (int k = 0; k < 96; k++)
        EXPECT_OK(ak_buf_append_byte(&b, 0));
    EXPECT_ERR(AK_E_ATTEST_COSE_MALFORMED, ak_nitro_verify(ak_buf_cur(&b), ak_cur_from(NULL, 0), &pol, NULL));
    /* a well-formed COSE_Sign1 whose payload is an empty map: fields missing */
    ak_buf_clear(&b);
    EXPECT_OK(ak_hex_decode_buf(AK_CUR_LIT("8444a1013822a041a05860"), false, &b));
    for (int i = 0; i < 96; i++)
        EXPECT_OK(ak_buf_append_byte(&b, 0));
    EXPECT_ERR(AK_E_ATTEST_PAYLOAD_MALFORMED,
               ak_nitro_verify(ak_buf_cur(&b), ak_cur_from(NULL, 0), &pol, NULL));
    ak_buf_free(&b);
}

/* Every allocation of the one-call check can fail (base64 text, root DER, JSON): each failure
 * is reported as out_of_memory and nothing leaks; with no failure it succeeds. */
AK_TEST(test_check_oom_sweep) {
    s_vec v;
    s_load(0, &v);
    ak_buf b64;
    ak_buf_init(&b64, 4 * AK_NITRO_MAX_DOC);
    EXPECT_OK(ak_b64_encode(v.doc.ptr, v.doc.len, &b64));
    ak_cur pcr0 = AK_CUR_LIT("e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2"
                             "d65710a27aa94ae3949dd54e7c9fe86a");
    bool done = false;
    for (uint64_t n = 1; n < 4096 && !done; n++) {
        ak_buf js;
        ak_buf_init(&js, 1u << 16);
        ak_alloc_fail_nth(n);
        ak_err rc = ak_nitro_check(ak_buf_cur(&b64), ak_buf_cur(&v.pem), v.ts, pcr0, &js);
        ak_alloc_fail_nth(0);
        if (rc == AK_OK) {
            done = true;
            EXPECT_TRUE(js.len > 0);
        } else if (rc != AK_E_NOMEM) {
            fail_msg("unexpected %s at n=%llu", ak_err_reason(rc), (unsigned long long)n);
        } else {
            EXPECT_INT_EQ(js.len, 0);
        }
        ak_buf_free(&js);
    }
    EXPECT_TRUE(done);
    ak_buf_free(&b64);
    s_free(&v);
}

AK_RUN_TESTS(AK_T(test_vectors_verify_with_expected_facts), AK_T(test_policy_accepts_matching_bindings),
             AK_T(test_each_mutation_has_its_own_reason), AK_T(test_check_one_call), AK_T(test_root_pem),
             AK_T(test_hand_made_malformed), AK_T(test_check_oom_sweep))
