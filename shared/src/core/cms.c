/* cms.c — KMS's CiphertextForRecipient (CMS EnvelopedData) and the enclave's RSA key (ak/cms.h). */
#include "ak/cms.h"

#include <bearssl.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"

/* ---- strict DER reading ---- */

static const uint8_t s_oid_enveloped[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03};
static const uint8_t s_oid_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01};
static const uint8_t s_oid_rsaes_oaep[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x07};
static const uint8_t s_oid_mgf1[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08};
static const uint8_t s_oid_rsa[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
static const uint8_t s_oid_sha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t s_oid_aes256_cbc[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A};

/* One TLV with exactly `tag`; definite, shortest length; the value must be inside `c`. */
static ak_err s_cms_tlv(ak_cur *c, uint8_t tag, ak_cur *val) {
    ak_cur in = *c;
    uint8_t t, b;
    size_t len;
    AK_ENSURE(ak_cur_read_u8(&in, &t) == AK_OK && t == tag, AK_E_CMS_MALFORMED);
    AK_ENSURE(ak_cur_read_u8(&in, &b) == AK_OK, AK_E_CMS_MALFORMED);
    if (b < 0x80) {
        len = b;
    } else if (b == 0x81) {
        AK_ENSURE(ak_cur_read_u8(&in, &b) == AK_OK && b >= 0x80, AK_E_CMS_MALFORMED);
        len = b;
    } else if (b == 0x82) {
        uint8_t hi, lo;
        AK_ENSURE(ak_cur_read_u8(&in, &hi) == AK_OK && ak_cur_read_u8(&in, &lo) == AK_OK && hi != 0,
                  AK_E_CMS_MALFORMED);
        len = ((size_t)hi << 8) | lo;
    } else {
        return AK_E_CMS_MALFORMED; /* indefinite (0x80) or longer than our whole bound */
    }
    AK_ENSURE(ak_cur_take(&in, len, val) == AK_OK, AK_E_CMS_MALFORMED);
    *c = in;
    return AK_OK;
}

static bool s_cms_peek(ak_cur c, uint8_t tag) { return c.len > 0 && c.ptr[0] == tag; }

static ak_err s_cms_end(ak_cur c) { return c.len == 0 ? AK_OK : AK_E_CMS_MALFORMED; }

/* An OID that must be `want`: another well-formed OID is "unsupported". */
static ak_err s_cms_oid(ak_cur *c, const uint8_t *want, size_t n) {
    ak_cur v;
    AK_GUARD(s_cms_tlv(c, 0x06, &v));
    AK_ENSURE(v.len > 0, AK_E_CMS_MALFORMED);
    AK_ENSURE(v.len == n && memcmp(v.ptr, want, n) == 0, AK_E_CMS_UNSUPPORTED);
    return AK_OK;
}

/* A version INTEGER: one content octet, 0..127. */
static ak_err s_cms_small_uint(ak_cur *c, uint32_t *v) {
    ak_cur x;
    AK_GUARD(s_cms_tlv(c, 0x02, &x));
    AK_ENSURE(x.len == 1 && x.ptr[0] < 0x80, AK_E_CMS_MALFORMED);
    *v = x.ptr[0];
    return AK_OK;
}

/* AlgorithmIdentifier { sha256, NULL or absent }. */
static ak_err s_cms_sha256_alg(ak_cur *c) {
    ak_cur a, nul;
    AK_GUARD(s_cms_tlv(c, 0x30, &a));
    AK_GUARD(s_cms_oid(&a, s_oid_sha256, sizeof(s_oid_sha256)));
    if (a.len > 0) {
        AK_GUARD(s_cms_tlv(&a, 0x05, &nul));
        AK_ENSURE(nul.len == 0, AK_E_CMS_MALFORMED);
    }
    return s_cms_end(a);
}

/* RSAES-OAEP-params with SHA-256 and MGF1-SHA-256 stated, the default (empty) label. */
static ak_err s_cms_oaep_params(ak_cur *c) {
    ak_cur p, h, m, ma;
    AK_ENSURE(s_cms_peek(*c, 0x30), AK_E_CMS_UNSUPPORTED); /* absent params = SHA-1 defaults */
    AK_GUARD(s_cms_tlv(c, 0x30, &p));
    AK_ENSURE(s_cms_peek(p, 0xA0),
              s_cms_peek(p, 0xA1) || p.len == 0 ? AK_E_CMS_UNSUPPORTED : AK_E_CMS_MALFORMED);
    AK_GUARD(s_cms_tlv(&p, 0xA0, &h));
    AK_GUARD(s_cms_sha256_alg(&h));
    AK_GUARD(s_cms_end(h));
    AK_ENSURE(s_cms_peek(p, 0xA1), p.len == 0 ? AK_E_CMS_UNSUPPORTED : AK_E_CMS_MALFORMED);
    AK_GUARD(s_cms_tlv(&p, 0xA1, &m));
    AK_GUARD(s_cms_tlv(&m, 0x30, &ma));
    AK_GUARD(s_cms_end(m));
    AK_GUARD(s_cms_oid(&ma, s_oid_mgf1, sizeof(s_oid_mgf1)));
    AK_GUARD(s_cms_sha256_alg(&ma));
    AK_GUARD(s_cms_end(ma));
    AK_ENSURE(!s_cms_peek(p, 0xA2), AK_E_CMS_UNSUPPORTED); /* a pSource label */
    return s_cms_end(p);
}

ak_err ak_cms_parse(ak_cur der, ak_cms_enveloped *out) {
    ak_cur ci, ex, ed, ris, ri, alg, eci, calg;
    memset(out, 0, sizeof(*out));
    AK_ENSURE(der.len <= AK_CMS_MAX_DER, AK_E_LIMIT);
    AK_GUARD(s_cms_tlv(&der, 0x30, &ci));
    AK_ENSURE(der.len == 0, AK_E_CMS_TRAILING);
    AK_GUARD(s_cms_oid(&ci, s_oid_enveloped, sizeof(s_oid_enveloped)));
    AK_GUARD(s_cms_tlv(&ci, 0xA0, &ex));
    AK_GUARD(s_cms_end(ci));
    AK_GUARD(s_cms_tlv(&ex, 0x30, &ed));
    AK_GUARD(s_cms_end(ex));

    /* EnvelopedData */
    AK_GUARD(s_cms_small_uint(&ed, &out->version));
    AK_ENSURE(!s_cms_peek(ed, 0xA0), AK_E_CMS_UNSUPPORTED); /* originatorInfo */
    AK_GUARD(s_cms_tlv(&ed, 0x31, &ris));
    AK_ENSURE(s_cms_peek(ris, 0x30), ris.len == 0 ? AK_E_CMS_MALFORMED : AK_E_CMS_UNSUPPORTED);
    AK_GUARD(s_cms_tlv(&ris, 0x30, &ri));
    AK_ENSURE(ris.len == 0, AK_E_CMS_UNSUPPORTED); /* KMS names exactly one recipient */

    /* KeyTransRecipientInfo */
    AK_GUARD(s_cms_small_uint(&ri, &out->ktri_version));
    if (out->ktri_version == 0) {
        AK_GUARD(s_cms_tlv(&ri, 0x30, &out->rid));
    } else if (out->ktri_version == 2) {
        AK_GUARD(s_cms_tlv(&ri, 0x80, &out->rid));
    } else {
        return AK_E_CMS_UNSUPPORTED;
    }
    AK_ENSURE(out->rid.len > 0, AK_E_CMS_MALFORMED);
    /* RFC 5652 §6.1: version 0 exactly when every RecipientInfo is version 0 (no originator, no attributes). */
    AK_ENSURE(out->version == out->ktri_version, AK_E_CMS_MALFORMED);
    AK_GUARD(s_cms_tlv(&ri, 0x30, &alg));
    AK_GUARD(s_cms_oid(&alg, s_oid_rsaes_oaep, sizeof(s_oid_rsaes_oaep)));
    AK_GUARD(s_cms_oaep_params(&alg));
    AK_GUARD(s_cms_end(alg));
    AK_GUARD(s_cms_tlv(&ri, 0x04, &out->encrypted_key));
    AK_GUARD(s_cms_end(ri));
    AK_ENSURE(out->encrypted_key.len > 0, AK_E_CMS_MALFORMED);

    /* EncryptedContentInfo */
    AK_GUARD(s_cms_tlv(&ed, 0x30, &eci));
    AK_GUARD(s_cms_oid(&eci, s_oid_data, sizeof(s_oid_data)));
    AK_GUARD(s_cms_tlv(&eci, 0x30, &calg));
    AK_GUARD(s_cms_oid(&calg, s_oid_aes256_cbc, sizeof(s_oid_aes256_cbc)));
    AK_GUARD(s_cms_tlv(&calg, 0x04, &out->iv));
    AK_GUARD(s_cms_end(calg));
    AK_ENSURE(out->iv.len == 16, AK_E_CMS_MALFORMED);
    AK_ENSURE(!s_cms_peek(eci, 0xA0), AK_E_CMS_UNSUPPORTED); /* constructed (BER-style) content */
    AK_GUARD(s_cms_tlv(&eci, 0x80, &out->encrypted_content));
    AK_GUARD(s_cms_end(eci));
    AK_ENSURE(!s_cms_peek(ed, 0xA1), AK_E_CMS_UNSUPPORTED); /* unprotectedAttrs */
    AK_GUARD(s_cms_end(ed));
    AK_ENSURE(out->encrypted_content.len >= 16 && out->encrypted_content.len % 16 == 0, AK_E_CMS_MALFORMED);
    AK_ENSURE(out->encrypted_content.len <= AK_CMS_MAX_CONTENT + 16, AK_E_LIMIT);
    return AK_OK;
}

/* ---- RSA keys ---- */

struct ak_rsa_priv {
    br_rsa_private_key sk;
    br_rsa_public_key pk;
    unsigned char kpriv[BR_RSA_KBUF_PRIV_SIZE(AK_RSA_MAX_BITS)];
    unsigned char kpub[BR_RSA_KBUF_PUB_SIZE(AK_RSA_MAX_BITS)];
};

void ak_rsa_free(ak_rsa_priv *k) {
    if (k != NULL) ak_free_secure(k, sizeof(*k));
}

unsigned ak_rsa_bits(const ak_rsa_priv *k) { return (unsigned)k->sk.n_bitlen; }

ak_err ak_rsa_keygen(unsigned bits, ak_rsa_priv **out) {
    uint8_t seed[48];
    br_hmac_drbg_context drbg;
    *out = NULL;
    AK_ENSURE(bits >= 2048 && bits <= AK_RSA_MAX_BITS && bits % 16 == 0, AK_E_INVALID_INPUT);
    ak_rsa_priv *k = ak_calloc(1, sizeof(*k));
    AK_ENSURE(k != NULL, AK_E_NOMEM);
    ak_err rc = ak_random(seed, sizeof(seed));
    if (rc == AK_OK) {
        br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, sizeof(seed));
        if (br_rsa_keygen_get_default()(&drbg.vtable, &k->sk, k->kpriv, &k->pk, k->kpub, bits, 65537) != 1)
            rc = AK_E_INTERNAL;
    }
    ak_wipe(seed, sizeof(seed));
    ak_wipe(&drbg, sizeof(drbg));
    if (rc != AK_OK) {
        ak_rsa_free(k);
        return rc;
    }
    *out = k;
    return AK_OK;
}

/* Copies one big-endian integer into the key's buffer at *off. */
static ak_err s_cms_copy_int(unsigned char *buf, size_t cap, size_t *off, const unsigned char *src, size_t n,
                             unsigned char **dst) {
    AK_ENSURE(n <= cap - *off, AK_E_BAD_KEY);
    memcpy(buf + *off, src, n);
    *dst = buf + *off;
    *off += n;
    return AK_OK;
}

ak_err ak_rsa_priv_from_der(ak_cur der, ak_rsa_priv **out) {
    br_skey_decoder_context *dc;
    ak_err rc = AK_OK;
    size_t off = 0;
    *out = NULL;
    dc = ak_calloc(1, sizeof(*dc));
    AK_ENSURE(dc != NULL, AK_E_NOMEM);
    ak_rsa_priv *k = ak_calloc(1, sizeof(*k));
    AK_ENSURE_OUT(k != NULL, AK_E_NOMEM);
    br_skey_decoder_init(dc);
    br_skey_decoder_push(dc, der.ptr, der.len);
    AK_ENSURE_OUT(br_skey_decoder_last_error(dc) == 0 && br_skey_decoder_key_type(dc) == BR_KEYTYPE_RSA,
                  AK_E_BAD_KEY);
    const br_rsa_private_key *s = br_skey_decoder_get_rsa(dc);
    AK_ENSURE_OUT(s->n_bitlen >= 2048 && s->n_bitlen <= AK_RSA_MAX_BITS, AK_E_BAD_KEY);
    k->sk.n_bitlen = s->n_bitlen;
    k->sk.plen = s->plen;
    k->sk.qlen = s->qlen;
    k->sk.dplen = s->dplen;
    k->sk.dqlen = s->dqlen;
    k->sk.iqlen = s->iqlen;
    AK_GUARD_OUT(s_cms_copy_int(k->kpriv, sizeof(k->kpriv), &off, s->p, s->plen, &k->sk.p));
    AK_GUARD_OUT(s_cms_copy_int(k->kpriv, sizeof(k->kpriv), &off, s->q, s->qlen, &k->sk.q));
    AK_GUARD_OUT(s_cms_copy_int(k->kpriv, sizeof(k->kpriv), &off, s->dp, s->dplen, &k->sk.dp));
    AK_GUARD_OUT(s_cms_copy_int(k->kpriv, sizeof(k->kpriv), &off, s->dq, s->dqlen, &k->sk.dq));
    AK_GUARD_OUT(s_cms_copy_int(k->kpriv, sizeof(k->kpriv), &off, s->iq, s->iqlen, &k->sk.iq));
    /* The public half from the private one: n = p·q; e is recomputed by BearSSL only when p, q = 3
     * mod 4, otherwise 65537 is assumed — and either is checked by a private/public round trip. */
    size_t nlen = br_rsa_compute_modulus_get_default()(NULL, &k->sk);
    uint32_t e = br_rsa_compute_pubexp_get_default()(&k->sk);
    if (e == 0) e = 65537;
    AK_ENSURE_OUT(nlen > 0 && nlen + 4 <= sizeof(k->kpub), AK_E_BAD_KEY);
    br_rsa_compute_modulus_get_default()(k->kpub, &k->sk);
    k->pk.n = k->kpub;
    k->pk.nlen = nlen;
    for (int i = 0; i < 4; i++)
        k->kpub[nlen + (size_t)i] = (unsigned char)(e >> (24 - 8 * i));
    k->pk.e = k->kpub + nlen;
    k->pk.elen = 4;
    while (k->pk.elen > 1 && k->pk.e[0] == 0) {
        k->pk.e++;
        k->pk.elen--;
    }
    {
        unsigned char x[AK_RSA_MAX_BITS / 8], y[AK_RSA_MAX_BITS / 8];
        memset(x, 0x5a, nlen);
        x[0] = 0;
        memcpy(y, x, nlen);
        bool ok = br_rsa_private_get_default()(y, &k->sk) == 1 &&
                  br_rsa_public_get_default()(y, nlen, &k->pk) == 1 && memcmp(x, y, nlen) == 0;
        ak_wipe(y, sizeof(y));
        AK_ENSURE_OUT(ok, AK_E_BAD_KEY);
    }
    *out = k;
    k = NULL;
out:
    ak_rsa_free(k);
    ak_free_secure(dc, sizeof(*dc));
    return rc;
}

/* DER header for a value of `len` bytes. */
static ak_err s_cms_put_hdr(ak_buf *b, uint8_t tag, size_t len) {
    AK_GUARD(ak_buf_append_byte(b, tag));
    if (len < 0x80) return ak_buf_append_byte(b, (uint8_t)len);
    if (len < 0x100) {
        AK_GUARD(ak_buf_append_byte(b, 0x81));
        return ak_buf_append_byte(b, (uint8_t)len);
    }
    AK_ENSURE(len <= 0xFFFF, AK_E_LIMIT);
    AK_GUARD(ak_buf_append_byte(b, 0x82));
    AK_GUARD(ak_buf_append_byte(b, (uint8_t)(len >> 8)));
    return ak_buf_append_byte(b, (uint8_t)len);
}

static size_t s_cms_hdr_len(size_t len) { return len < 0x80 ? 2 : len < 0x100 ? 3 : 4; }

/* A non-negative INTEGER from big-endian magnitude (leading zeros dropped, 0x00 added when the top bit is set). */
static size_t s_cms_int_len(const unsigned char *p, size_t n, size_t *skip, bool *pad) {
    size_t s = 0;
    while (s + 1 < n && p[s] == 0)
        s++;
    *skip = s;
    *pad = (p[s] & 0x80) != 0;
    size_t v = n - s + (*pad ? 1 : 0);
    return s_cms_hdr_len(v) + v;
}

static ak_err s_cms_put_int(ak_buf *b, const unsigned char *p, size_t n) {
    size_t skip;
    bool pad;
    (void)s_cms_int_len(p, n, &skip, &pad);
    AK_GUARD(s_cms_put_hdr(b, 0x02, n - skip + (pad ? 1u : 0u)));
    if (pad) AK_GUARD(ak_buf_append_byte(b, 0));
    return ak_buf_append(b, p + skip, n - skip);
}

ak_err ak_rsa_spki_der(const ak_rsa_priv *k, ak_buf *out) {
    size_t skip;
    bool pad;
    size_t nl = s_cms_int_len(k->pk.n, k->pk.nlen, &skip, &pad);
    size_t el = s_cms_int_len(k->pk.e, k->pk.elen, &skip, &pad);
    size_t rsapub = s_cms_hdr_len(nl + el) + nl + el; /* SEQ { n, e } */
    size_t bits = 1 + rsapub;                         /* BIT STRING: unused-bits octet + DER */
    size_t algid = 2 + sizeof(s_oid_rsa) + 2;         /* SEQ { OID, NULL } content */
    size_t body = s_cms_hdr_len(algid) + algid + s_cms_hdr_len(bits) + bits;
    AK_GUARD(s_cms_put_hdr(out, 0x30, body));
    AK_GUARD(s_cms_put_hdr(out, 0x30, algid));
    AK_GUARD(s_cms_put_hdr(out, 0x06, sizeof(s_oid_rsa)));
    AK_GUARD(ak_buf_append(out, s_oid_rsa, sizeof(s_oid_rsa)));
    AK_GUARD(ak_buf_append(out, "\x05\x00", 2));
    AK_GUARD(s_cms_put_hdr(out, 0x03, bits));
    AK_GUARD(ak_buf_append_byte(out, 0));
    AK_GUARD(s_cms_put_hdr(out, 0x30, nl + el));
    AK_GUARD(s_cms_put_int(out, k->pk.n, k->pk.nlen));
    return s_cms_put_int(out, k->pk.e, k->pk.elen);
}

/* ---- unwrap ---- */

ak_err ak_cms_unwrap(ak_cur der, const ak_rsa_priv *key, ak_buf *pt) {
    ak_cms_enveloped e;
    uint8_t ek[AK_RSA_MAX_BITS / 8], iv[16];
    br_aes_ct64_cbcdec_keys aes;
    size_t start = pt->len, n, len;
    ak_err rc = AK_OK;
    AK_GUARD(ak_cms_parse(der, &e));
    size_t mod = (key->sk.n_bitlen + 7) / 8;
    AK_ENSURE(e.encrypted_key.len == mod, AK_E_CMS_DECRYPT_FAILED);
    memcpy(ek, e.encrypted_key.ptr, mod);
    len = mod;
    uint32_t ok = br_rsa_oaep_decrypt_get_default()(&br_sha256_vtable, NULL, 0, &key->sk, ek, &len);
    AK_ENSURE_OUT(ok == 1 && len == 32, AK_E_CMS_DECRYPT_FAILED);
    n = e.encrypted_content.len;
    AK_GUARD_OUT(ak_buf_append_cur(pt, e.encrypted_content));
    memcpy(iv, e.iv.ptr, 16);
    br_aes_ct64_cbcdec_init(&aes, ek, 32);
    br_aes_ct64_cbcdec_run(&aes, iv, pt->ptr + start, n);
    /* PKCS#7: the last octet p in 1..16 and the last p octets all equal p (checked without branching on data). */
    uint8_t p = pt->ptr[start + n - 1];
    uint32_t bad = (uint32_t)(p == 0) | (uint32_t)(p > 16);
    for (size_t i = 1; i <= 16; i++) {
        uint32_t in_pad = (uint32_t)(i <= p);
        bad |= in_pad & (uint32_t)(pt->ptr[start + n - i] != p);
    }
    if (bad != 0) {
        rc = AK_E_CMS_DECRYPT_FAILED;
        goto out;
    }
    ak_wipe(pt->ptr + start + n - p, p);
    pt->len = start + n - p;
out:
    if (rc != AK_OK && pt->len > start) {
        ak_wipe(pt->ptr + start, pt->len - start);
        pt->len = start;
    }
    ak_wipe(ek, sizeof(ek));
    ak_wipe(iv, sizeof(iv));
    ak_wipe(&aes, sizeof(aes));
    return rc;
}
