/* pki.c — PEM/DER certificate and P-256 key loading for BearSSL (see ak/pki.h). */
#include "ak/pki.h"

#include <string.h>
#include <sys/stat.h>

#include "ak/alloc.h"
#include "ak/ct.h"

ak_err ak_pki_read_file(const char *path, ak_buf *out) {
    ak_buf_init_secret(out, AK_PKI_MAX_FILE);
    AK_PRECOND(path != NULL);
    ak_err rc = ak_buf_append_file(out, path);
    if (rc == AK_E_LIMIT) rc = AK_E_TOO_LARGE;
    if (rc != AK_OK) ak_buf_free(out);
    return rc;
}

/* ---- PEM walking ---- */

typedef struct {
    ak_buf der;
    bool failed;
} s_pem_sink;

static void s_pem_append(void *ctx, const void *data, size_t len) {
    s_pem_sink *s = ctx;
    if (ak_buf_append(&s->der, data, len) != AK_OK) s->failed = true;
}

typedef ak_err (*s_pem_obj_fn)(void *ctx, const char *name, ak_cur der);

/* Calls `fn` for every object of a PEM text. Returns AK_E_BAD_KEY on malformed PEM. */
static ak_err s_pem_each(ak_cur pem, s_pem_obj_fn fn, void *ctx) {
    br_pem_decoder_context pc;
    s_pem_sink sink;
    char name[128];
    bool inobj = false;
    ak_err rc = AK_OK;
    /* The decoder only reports END_OBJ once it has seen the line end after the END line; feed a
     * final newline so a file without one still works (as BearSSL's own tools do). */
    const uint8_t *p = pem.ptr;
    size_t len = pem.len;
    bool fed_nl = false;
    ak_buf_init_secret(&sink.der, AK_PKI_MAX_FILE);
    sink.failed = false;
    br_pem_decoder_init(&pc);
    for (;;) {
        if (len == 0) {
            if (fed_nl) break;
            fed_nl = true;
            p = (const uint8_t *)"\n";
            len = 1;
        }
        size_t used = br_pem_decoder_push(&pc, p, len);
        p += used;
        len -= used;
        switch (br_pem_decoder_event(&pc)) {
            case BR_PEM_BEGIN_OBJ:
                AK_ENSURE_OUT(!inobj, AK_E_BAD_KEY);
                inobj = true;
                AK_ENSURE_OUT(ak_cur_to_cstr(ak_cur_from_str(br_pem_decoder_name(&pc)), name, sizeof(name)) ==
                                  AK_OK,
                              AK_E_BAD_KEY);
                ak_buf_clear(&sink.der);
                sink.failed = false;
                br_pem_decoder_setdest(&pc, s_pem_append, &sink);
                break;
            case BR_PEM_END_OBJ:
                AK_ENSURE_OUT(inobj, AK_E_BAD_KEY);
                inobj = false;
                AK_ENSURE_OUT(!sink.failed, AK_E_TOO_LARGE);
                AK_GUARD_OUT(fn(ctx, name, ak_buf_cur(&sink.der)));
                break;
            case BR_PEM_ERROR:
                rc = AK_E_BAD_KEY;
                goto out;
            default:
                /* No event and no progress would loop forever: treat it as malformed. */
                AK_ENSURE_OUT(used > 0 || len == 0, AK_E_BAD_KEY);
                break;
        }
    }
    AK_ENSURE_OUT(!inobj, AK_E_BAD_KEY);
out:
    ak_buf_free(&sink.der);
    return rc;
}

/* ---- chains ---- */

static ak_err s_chain_obj(void *ctx, const char *name, ak_cur der) {
    ak_pki_chain *c = ctx;
    if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0) return AK_OK;
    AK_ENSURE(c->n < AK_PKI_MAX_CERTS, AK_E_LIMIT);
    AK_ENSURE(der.len > 0, AK_E_BAD_KEY);
    unsigned char *copy = ak_malloc(der.len);
    AK_ENSURE(copy != NULL, AK_E_NOMEM);
    memcpy(copy, der.ptr, der.len);
    c->certs[c->n].data = copy;
    c->certs[c->n].data_len = der.len;
    c->n++;
    return AK_OK;
}

ak_err ak_pki_chain_from_pem(ak_cur pem, ak_pki_chain *out) {
    memset(out, 0, sizeof(*out));
    ak_err rc = s_pem_each(pem, s_chain_obj, out);
    if (rc == AK_OK && out->n == 0) rc = AK_E_BAD_KEY;
    if (rc != AK_OK) ak_pki_chain_free(out);
    return rc;
}

void ak_pki_chain_free(ak_pki_chain *c) {
    for (size_t i = 0; i < c->n; i++)
        ak_free(c->certs[i].data);
    memset(c, 0, sizeof(*c));
}

/* ---- trust anchors ---- */

typedef struct {
    ak_buf dn;
    bool failed;
} s_dn_sink;

static void s_dn_append(void *ctx, const void *data, size_t len) {
    s_dn_sink *s = ctx;
    if (ak_buf_append(&s->dn, data, len) != AK_OK) s->failed = true;
}

static ak_err s_anchor_obj(void *ctx, const char *name, ak_cur der) {
    ak_pki_anchors *a = ctx;
    br_x509_decoder_context dc;
    s_dn_sink sink;
    ak_err rc = AK_OK;
    if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0) return AK_OK;
    AK_ENSURE(a->n < AK_PKI_MAX_CERTS, AK_E_LIMIT);
    ak_buf_init(&sink.dn, 4096);
    sink.failed = false;
    br_x509_decoder_init(&dc, s_dn_append, &sink);
    br_x509_decoder_push(&dc, der.ptr, der.len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    AK_ENSURE_OUT(pk != NULL && !sink.failed && sink.dn.len > 0, AK_E_BAD_KEY);
    AK_ENSURE_OUT(pk->key_type == BR_KEYTYPE_EC && pk->key.ec.curve == BR_EC_secp256r1 &&
                      pk->key.ec.qlen == 65,
                  AK_E_BAD_KEY);
    br_x509_trust_anchor *ta = &a->ta[a->n];
    memset(ta, 0, sizeof(*ta));
    ta->dn.data = ak_malloc(sink.dn.len);
    ta->pkey.key.ec.q = ak_malloc(65);
    if (ta->dn.data == NULL || ta->pkey.key.ec.q == NULL) {
        ak_free(ta->dn.data);
        ak_free(ta->pkey.key.ec.q);
        memset(ta, 0, sizeof(*ta));
        rc = AK_E_NOMEM;
        goto out;
    }
    memcpy(ta->dn.data, sink.dn.ptr, sink.dn.len);
    ta->dn.len = sink.dn.len;
    ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
    ta->pkey.key_type = BR_KEYTYPE_EC;
    ta->pkey.key.ec.curve = BR_EC_secp256r1;
    memcpy(ta->pkey.key.ec.q, pk->key.ec.q, 65);
    ta->pkey.key.ec.qlen = 65;
    /* A pinned CA must be a CA: a leaf pinned as an anchor would make every chain fail anyway,
     * but saying so at start-up is kinder than a handshake failure later. */
    AK_ENSURE_OUT(ta->flags == BR_X509_TA_CA, AK_E_BAD_KEY);
    a->n++;
out:
    if (rc != AK_OK && a->n < AK_PKI_MAX_CERTS && a->ta[a->n].dn.data != NULL) {
        ak_free(a->ta[a->n].dn.data);
        ak_free(a->ta[a->n].pkey.key.ec.q);
        memset(&a->ta[a->n], 0, sizeof(a->ta[a->n]));
    }
    ak_buf_free(&sink.dn);
    return rc;
}

ak_err ak_pki_anchors_from_pem(ak_cur pem, ak_pki_anchors *out) {
    memset(out, 0, sizeof(*out));
    ak_err rc = s_pem_each(pem, s_anchor_obj, out);
    if (rc == AK_OK && out->n == 0) rc = AK_E_BAD_KEY;
    if (rc != AK_OK) ak_pki_anchors_free(out);
    return rc;
}

void ak_pki_anchors_free(ak_pki_anchors *a) {
    for (size_t i = 0; i < a->n; i++) {
        ak_free(a->ta[i].dn.data);
        ak_free(a->ta[i].pkey.key.ec.q);
    }
    memset(a, 0, sizeof(*a));
}

/* ---- EC keys ---- */

void ak_pki_eckey_fix(ak_pki_eckey *k) {
    k->sk.curve = BR_EC_secp256r1;
    k->sk.x = k->priv;
    k->sk.xlen = 32;
    k->pk.curve = BR_EC_secp256r1;
    k->pk.q = k->pub;
    k->pk.qlen = 65;
}

void ak_pki_eckey_wipe(ak_pki_eckey *k) { ak_wipe(k, sizeof(*k)); }

ak_err ak_pki_eckey_from_raw(const uint8_t priv[32], ak_pki_eckey *out) {
    br_ec_private_key sk = {BR_EC_secp256r1, (unsigned char *)(uintptr_t)priv, 32};
    memset(out, 0, sizeof(*out));
    memcpy(out->priv, priv, 32);
    ak_pki_eckey_fix(out);
    if (br_ec_compute_pub(br_ec_get_default(), NULL, out->pub, &sk) != 65) {
        ak_pki_eckey_wipe(out);
        return AK_E_BAD_KEY;
    }
    ak_pki_eckey_fix(out);
    return AK_OK;
}

typedef struct {
    ak_pki_eckey *key;
    int found;
    ak_err err;
} s_key_ctx;

static ak_err s_key_obj(void *ctx, const char *name, ak_cur der) {
    s_key_ctx *k = ctx;
    br_skey_decoder_context dc;
    if (strcmp(name, "EC PRIVATE KEY") != 0 && strcmp(name, "PRIVATE KEY") != 0) return AK_OK;
    AK_ENSURE(k->found == 0, AK_E_BAD_KEY); /* one key per file: ambiguity is an error */
    k->found = 1;
    br_skey_decoder_init(&dc);
    br_skey_decoder_push(&dc, der.ptr, der.len);
    ak_err rc = AK_OK;
    const br_ec_private_key *ec = NULL;
    if (br_skey_decoder_last_error(&dc) != 0 || br_skey_decoder_key_type(&dc) != BR_KEYTYPE_EC) {
        rc = AK_E_BAD_KEY;
    } else {
        ec = br_skey_decoder_get_ec(&dc);
        if (ec == NULL || ec->curve != BR_EC_secp256r1 || ec->xlen > 32) {
            rc = AK_E_BAD_KEY;
        } else {
            uint8_t raw[32] = {0};
            memcpy(raw + (32 - ec->xlen), ec->x, ec->xlen);
            rc = ak_pki_eckey_from_raw(raw, k->key);
            ak_wipe(raw, sizeof(raw));
        }
    }
    ak_wipe(&dc, sizeof(dc));
    return rc;
}

ak_err ak_pki_eckey_from_pem(ak_cur pem, ak_pki_eckey *out) {
    s_key_ctx k = {out, 0, AK_OK};
    memset(out, 0, sizeof(*out));
    ak_err rc = s_pem_each(pem, s_key_obj, &k);
    if (rc == AK_OK && k.found == 0) rc = AK_E_BAD_KEY;
    if (rc != AK_OK) ak_pki_eckey_wipe(out);
    return rc;
}

/* ---- public keys ---- */

/* SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused) 04 || X || Y } */
static const uint8_t s_spki_p256_prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

static bool s_point_valid(const uint8_t pub65[65]) {
    static const unsigned char one[1] = {1};
    unsigned char tmp[65];
    if (pub65[0] != 0x04) return false;
    memcpy(tmp, pub65, 65);
    return br_ec_get_default()->mul(tmp, 65, one, 1, BR_EC_secp256r1) == 1;
}

ak_err ak_pki_spki_p256_der(ak_cur der, uint8_t pub65[65]) {
    /* The P-256 SPKI has exactly one DER encoding, so a byte comparison is a complete parser. */
    AK_ENSURE(der.len == sizeof(s_spki_p256_prefix) + 65, AK_E_BAD_KEY);
    AK_ENSURE(memcmp(der.ptr, s_spki_p256_prefix, sizeof(s_spki_p256_prefix)) == 0, AK_E_BAD_KEY);
    AK_ENSURE(s_point_valid(der.ptr + sizeof(s_spki_p256_prefix)), AK_E_BAD_KEY);
    memcpy(pub65, der.ptr + sizeof(s_spki_p256_prefix), 65);
    return AK_OK;
}

typedef struct {
    uint8_t *pub;
    int found;
} s_spki_ctx;

static ak_err s_spki_obj(void *ctx, const char *name, ak_cur der) {
    s_spki_ctx *s = ctx;
    if (strcmp(name, "PUBLIC KEY") != 0) return AK_OK;
    AK_ENSURE(s->found == 0, AK_E_BAD_KEY);
    s->found = 1;
    return ak_pki_spki_p256_der(der, s->pub);
}

ak_err ak_pki_spki_p256_pem(ak_cur pem, uint8_t pub65[65]) {
    s_spki_ctx s = {pub65, 0};
    AK_GUARD(s_pem_each(pem, s_spki_obj, &s));
    AK_ENSURE(s.found == 1, AK_E_BAD_KEY);
    return AK_OK;
}

ak_err ak_pki_cert_p256_pub(ak_cur der, uint8_t pub65[65]) {
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, der.ptr, der.len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    AK_ENSURE(pk != NULL, AK_E_BAD_KEY);
    AK_ENSURE(pk->key_type == BR_KEYTYPE_EC && pk->key.ec.curve == BR_EC_secp256r1 && pk->key.ec.qlen == 65,
              AK_E_BAD_KEY);
    memcpy(pub65, pk->key.ec.q, 65);
    return AK_OK;
}

/* ---- extended key usage ---- */

const char *ak_pki_eku_name(ak_pki_eku want) {
    return want == AK_PKI_EKU_SERVER ? "serverAuth" : "clientAuth";
}

/* One DER TLV from `in` (definite lengths, at most 4 length bytes): its tag and contents. */
static bool s_der_next(ak_cur *in, uint8_t *tag, ak_cur *val) {
    if (in->len < 2) return false;
    *tag = in->ptr[0];
    if ((*tag & 0x1f) == 0x1f) return false; /* multi-byte tags never occur in certificates */
    size_t len = in->ptr[1], hdr = 2;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || in->len < 2 + n) return false;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | in->ptr[2 + i];
        hdr += n;
    }
    if (len > in->len - hdr) return false;
    *val = ak_cur_from(in->ptr + hdr, len);
    *in = ak_cur_from(in->ptr + hdr + len, in->len - hdr - len);
    return true;
}

static const uint8_t s_oid_eku[] = {0x55, 0x1d, 0x25};
static const uint8_t s_oid_kp_server[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
static const uint8_t s_oid_kp_client[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};

static bool s_der_oid_is(ak_cur v, const uint8_t *oid, size_t n) {
    return v.len == n && memcmp(v.ptr, oid, n) == 0;
}

/* ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId */
static ak_err s_eku_value(ak_cur octets, ak_pki_eku want) {
    const uint8_t *oid = want == AK_PKI_EKU_SERVER ? s_oid_kp_server : s_oid_kp_client;
    ak_cur seq, id;
    uint8_t tag;
    AK_ENSURE(s_der_next(&octets, &tag, &seq) && tag == 0x30 && octets.len == 0 && seq.len > 0, AK_E_BAD_KEY);
    while (seq.len > 0) {
        AK_ENSURE(s_der_next(&seq, &tag, &id) && tag == 0x06, AK_E_BAD_KEY);
        if (s_der_oid_is(id, oid, sizeof(s_oid_kp_server))) return AK_OK;
    }
    return AK_E_CERT_EKU_MISSING;
}

ak_err ak_pki_cert_check_eku(ak_cur der, ak_pki_eku want) {
    ak_cur cert, tbs, v;
    uint8_t tag;
    AK_PRECOND(want == AK_PKI_EKU_SERVER || want == AK_PKI_EKU_CLIENT);
    AK_ENSURE(s_der_next(&der, &tag, &cert) && tag == 0x30 && der.len == 0, AK_E_BAD_KEY);
    AK_ENSURE(s_der_next(&cert, &tag, &tbs) && tag == 0x30, AK_E_BAD_KEY);
    /* tbsCertificate: [0] version, serial, signature, issuer, validity, subject, spki, [1], [2], [3] */
    while (tbs.len > 0) {
        AK_ENSURE(s_der_next(&tbs, &tag, &v), AK_E_BAD_KEY);
        if (tag != 0xa3) continue;
        ak_cur exts, ext, id, val;
        AK_ENSURE(s_der_next(&v, &tag, &exts) && tag == 0x30 && v.len == 0, AK_E_BAD_KEY);
        bool seen = false;
        ak_err found = AK_E_CERT_EKU_MISSING;
        while (exts.len > 0) {
            AK_ENSURE(s_der_next(&exts, &tag, &ext) && tag == 0x30, AK_E_BAD_KEY);
            AK_ENSURE(s_der_next(&ext, &tag, &id) && tag == 0x06, AK_E_BAD_KEY);
            AK_ENSURE(s_der_next(&ext, &tag, &val), AK_E_BAD_KEY);
            if (tag == 0x01) AK_ENSURE(s_der_next(&ext, &tag, &val), AK_E_BAD_KEY); /* critical */
            AK_ENSURE(tag == 0x04 && ext.len == 0, AK_E_BAD_KEY);
            if (!s_der_oid_is(id, s_oid_eku, sizeof(s_oid_eku))) continue;
            AK_ENSURE(!seen, AK_E_BAD_KEY); /* RFC 5280 §4.2: one instance per extension */
            seen = true;
            found = s_eku_value(val, want);
            AK_ENSURE(found != AK_E_BAD_KEY, AK_E_BAD_KEY);
        }
        return found;
    }
    return AK_E_CERT_EKU_MISSING; /* no extensions at all */
}

static void s_eku_start_chain(const br_x509_class **ctx, const char *server_name) {
    ak_pki_x509_eku *x = (ak_pki_x509_eku *)(void *)ctx;
    x->cert_index = 0;
    x->leaf_len = 0;
    x->overflow = false;
    x->eku_rc = AK_E_CERT_EKU_MISSING;
    x->inner->vtable->start_chain(&x->inner->vtable, server_name);
}

static void s_eku_start_cert(const br_x509_class **ctx, uint32_t length) {
    ak_pki_x509_eku *x = (ak_pki_x509_eku *)(void *)ctx;
    x->inner->vtable->start_cert(&x->inner->vtable, length);
}

static void s_eku_append(const br_x509_class **ctx, const unsigned char *buf, size_t len) {
    ak_pki_x509_eku *x = (ak_pki_x509_eku *)(void *)ctx;
    if (x->cert_index == 0) {
        if (len > sizeof(x->leaf) - x->leaf_len)
            x->overflow = true;
        else
            memcpy(x->leaf + x->leaf_len, buf, len);
        if (!x->overflow) x->leaf_len += len;
    }
    x->inner->vtable->append(&x->inner->vtable, buf, len);
}

static void s_eku_end_cert(const br_x509_class **ctx) {
    ak_pki_x509_eku *x = (ak_pki_x509_eku *)(void *)ctx;
    x->cert_index++;
    x->inner->vtable->end_cert(&x->inner->vtable);
}

static unsigned s_eku_end_chain(const br_x509_class **ctx) {
    ak_pki_x509_eku *x = (ak_pki_x509_eku *)(void *)ctx;
    unsigned r = x->inner->vtable->end_chain(&x->inner->vtable);
    if (r != 0) return r; /* the chain itself failed: that error is the one to report */
    x->eku_rc =
        x->overflow ? AK_E_TOO_LARGE : ak_pki_cert_check_eku(ak_cur_from(x->leaf, x->leaf_len), x->want);
    return x->eku_rc == AK_OK ? 0 : BR_ERR_X509_FORBIDDEN_KEY_USAGE;
}

static const br_x509_pkey *s_eku_get_pkey(const br_x509_class *const *ctx, unsigned *usages) {
    const ak_pki_x509_eku *x = (const ak_pki_x509_eku *)(const void *)ctx;
    if (x->eku_rc != AK_OK) return NULL;
    return x->inner->vtable->get_pkey(&x->inner->vtable, usages);
}

static const br_x509_class s_eku_vtable = {
    sizeof(ak_pki_x509_eku), s_eku_start_chain, s_eku_start_cert, s_eku_append,
    s_eku_end_cert,          s_eku_end_chain,   s_eku_get_pkey,
};

void ak_pki_x509_eku_init(ak_pki_x509_eku *x, br_x509_minimal_context *inner, ak_pki_eku want) {
    AK_PRECOND(want == AK_PKI_EKU_SERVER || want == AK_PKI_EKU_CLIENT);
    x->vtable = &s_eku_vtable;
    x->inner = inner;
    x->want = want;
    x->cert_index = 0;
    x->leaf_len = 0;
    x->overflow = false;
    x->eku_rc = AK_E_CERT_EKU_MISSING;
}

/* ---- RA-TLS leaf capture (issue 18) ---- */

ak_err ak_pki_leaf_capture_check(ak_cur der, const char *server_name, uint8_t pub65[65]) {
    br_x509_decoder_context dc;
    s_dn_sink dn;
    uint8_t q[65];
    ak_err rc = AK_OK;
    br_x509_minimal_context *xc = NULL;
    AK_ENSURE(der.len > 0 && der.len <= AK_PKI_MAX_LEAF, AK_E_BAD_KEY);
    ak_buf_init(&dn.dn, 4096);
    dn.failed = false;
    /* 1. It parses, and its key is P-256 (the decoder also gives the subject DN). */
    br_x509_decoder_init(&dc, s_dn_append, &dn);
    br_x509_decoder_push(&dc, der.ptr, der.len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    AK_ENSURE_OUT(pk != NULL && br_x509_decoder_last_error(&dc) == 0 && !dn.failed && dn.dn.len > 0,
                  AK_E_BAD_KEY);
    AK_ENSURE_OUT(pk->key_type == BR_KEYTYPE_EC && pk->key.ec.curve == BR_EC_secp256r1 &&
                      pk->key.ec.qlen == 65,
                  AK_E_BAD_KEY);
    memcpy(q, pk->key.ec.q, 65);
    /* 2. It is for server authentication. */
    AK_GUARD_OUT(ak_pki_cert_check_eku(der, AK_PKI_EKU_SERVER));
    /* 3. br_x509_minimal over the leaf alone with the leaf's own key as a direct-trust anchor (not
     * a CA): the strict parse, the validity dates at the current time and the SAN name match,
     * and no issuer signature (that is what attestation replaces). */
    br_x509_trust_anchor ta;
    memset(&ta, 0, sizeof(ta));
    ta.dn.data = dn.dn.ptr;
    ta.dn.len = dn.dn.len;
    ta.flags = 0;
    ta.pkey.key_type = BR_KEYTYPE_EC;
    ta.pkey.key.ec.curve = BR_EC_secp256r1;
    ta.pkey.key.ec.q = q;
    ta.pkey.key.ec.qlen = 65;
    xc = ak_malloc(sizeof(*xc));
    AK_ENSURE_OUT(xc != NULL, AK_E_NOMEM);
    br_x509_minimal_init(xc, &br_sha256_vtable, &ta, 1);
    br_x509_minimal_set_hash(xc, br_sha256_ID, &br_sha256_vtable);
    br_x509_minimal_set_hash(xc, br_sha384_ID, &br_sha384_vtable);
    br_x509_minimal_set_ecdsa(xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
    const br_x509_class **v = &xc->vtable;
    (*v)->start_chain(v, server_name != NULL && server_name[0] != '\0' ? server_name : NULL);
    (*v)->start_cert(v, (uint32_t)der.len);
    (*v)->append(v, der.ptr, der.len);
    (*v)->end_cert(v);
    unsigned r = (*v)->end_chain(v);
    unsigned usages = 0;
    const br_x509_pkey *got = r == 0 ? (*v)->get_pkey(v, &usages) : NULL;
    bool same = got != NULL && got->key_type == BR_KEYTYPE_EC && got->key.ec.qlen == 65 &&
                memcmp(got->key.ec.q, q, 65) == 0 && (usages & BR_KEYTYPE_SIGN) != 0;
    AK_ENSURE_OUT(r != BR_ERR_X509_BAD_SERVER_NAME, AK_E_CERT_NAME_MISMATCH);
    AK_ENSURE_OUT(r == 0 && same, AK_E_CERT_INVALID);
    memcpy(pub65, q, 65);
out:
    ak_free(xc);
    ak_buf_free(&dn.dn);
    return rc;
}

static void s_cap_start_chain(const br_x509_class **ctx, const char *server_name) {
    ak_pki_x509_capture *x = (ak_pki_x509_capture *)(void *)ctx;
    x->server_name = server_name;
    x->cert_index = 0;
    x->leaf_len = 0;
    x->overflow = false;
    x->rc = AK_E_CERT_INVALID;
}

static void s_cap_start_cert(const br_x509_class **ctx, uint32_t length) {
    (void)ctx;
    (void)length;
}

static void s_cap_append(const br_x509_class **ctx, const unsigned char *buf, size_t len) {
    ak_pki_x509_capture *x = (ak_pki_x509_capture *)(void *)ctx;
    if (x->cert_index != 0 || x->overflow) return;
    if (len > sizeof(x->leaf) - x->leaf_len) {
        x->overflow = true;
        return;
    }
    memcpy(x->leaf + x->leaf_len, buf, len);
    x->leaf_len += len;
}

static void s_cap_end_cert(const br_x509_class **ctx) {
    ak_pki_x509_capture *x = (ak_pki_x509_capture *)(void *)ctx;
    x->cert_index++;
}

static unsigned s_cap_end_chain(const br_x509_class **ctx) {
    ak_pki_x509_capture *x = (ak_pki_x509_capture *)(void *)ctx;
    if (x->cert_index == 0) {
        x->rc = AK_E_CERT_INVALID;
        return BR_ERR_X509_EMPTY_CHAIN;
    }
    x->rc = x->overflow
                ? AK_E_TOO_LARGE
                : ak_pki_leaf_capture_check(ak_cur_from(x->leaf, x->leaf_len), x->server_name, x->pub);
    if (x->rc == AK_OK) {
        x->pkey.key_type = BR_KEYTYPE_EC;
        x->pkey.key.ec.curve = BR_EC_secp256r1;
        x->pkey.key.ec.q = x->pub;
        x->pkey.key.ec.qlen = 65;
        return 0;
    }
    if (x->rc == AK_E_CERT_NAME_MISMATCH) return BR_ERR_X509_BAD_SERVER_NAME;
    if (x->rc == AK_E_CERT_EKU_MISSING) return BR_ERR_X509_FORBIDDEN_KEY_USAGE;
    return BR_ERR_X509_NOT_TRUSTED; /* parse, dates, key type: x->rc says which */
}

static const br_x509_pkey *s_cap_get_pkey(const br_x509_class *const *ctx, unsigned *usages) {
    const ak_pki_x509_capture *x = (const ak_pki_x509_capture *)(const void *)ctx;
    if (x->rc != AK_OK) return NULL;
    if (usages != NULL) *usages = BR_KEYTYPE_SIGN; /* ECDHE_ECDSA: the key signs the key exchange */
    return &x->pkey;
}

static const br_x509_class s_cap_vtable = {
    sizeof(ak_pki_x509_capture),
    s_cap_start_chain,
    s_cap_start_cert,
    s_cap_append,
    s_cap_end_cert,
    s_cap_end_chain,
    s_cap_get_pkey,
};

void ak_pki_x509_capture_init(ak_pki_x509_capture *x) {
    memset(x, 0, offsetof(ak_pki_x509_capture, leaf));
    x->vtable = &s_cap_vtable;
    x->rc = AK_E_CERT_INVALID;
}
