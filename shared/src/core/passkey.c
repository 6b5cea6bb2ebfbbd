/*
 * passkey.c — the software WebAuthn authenticator (ak/passkey.h), moved here from
 * shared/tools/passkey.c so the CLI and the tool share one implementation.
 */
#include "ak/passkey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"

bool ak_passkey_rpid_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > AK_PASSKEY_MAX_RPID) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
    }
    return true;
}

/* Printable ASCII without '"' or '\\': safe to embed verbatim in clientDataJSON. */
static bool s_json_safe(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
    }
    return true;
}

void ak_passkey_wipe(ak_passkey *k) {
    if (k != NULL) ak_wipe(k, sizeof(*k));
}

ak_err ak_passkey_new(const char *rp_id, ak_passkey *out) {
    memset(out, 0, sizeof(*out));
    AK_ENSURE(ak_passkey_rpid_valid(rp_id), AK_E_INVALID_INPUT);
    memcpy(out->rp_id, rp_id, strlen(rp_id) + 1);
    ak_sha256(out->rp_id, strlen(out->rp_id), out->rp_id_hash);
    ak_err rc = ak_random(out->cred_id, sizeof(out->cred_id));
    if (rc == AK_OK) rc = ak_p256_keygen(out->priv, out->pub);
    if (rc != AK_OK) ak_passkey_wipe(out);
    return rc;
}

static ak_err s_hex32(const json_t *o, const char *name, uint8_t out[32], bool *present) {
    ak_cur v;
    bool have = false;
    AK_GUARD(ak_json_str_opt(o, name, &v, &have));
    if (present != NULL) *present = have;
    if (!have) return present != NULL ? AK_OK : AK_E_MISSING_FIELD;
    return ak_hex_decode_exact(v, true, out, 32);
}

ak_err ak_passkey_parse(ak_cur text, ak_passkey *out) {
    memset(out, 0, sizeof(*out));
    json_t *o = NULL;
    ak_err rc = AK_OK;
    ak_cur rp;
    uint8_t x[32], y[32];
    bool hx = false, hy = false, hc = false;
    uint64_t count = 0;
    AK_GUARD_OUT(ak_json_parse_object(text, &o));
    AK_GUARD_OUT(ak_json_str(o, "rp_id", &rp));
    AK_ENSURE_OUT(rp.len > 0 && rp.len <= AK_PASSKEY_MAX_RPID, AK_E_INVALID_INPUT);
    memcpy(out->rp_id, rp.ptr, rp.len);
    out->rp_id[rp.len] = '\0';
    AK_ENSURE_OUT(ak_passkey_rpid_valid(out->rp_id), AK_E_INVALID_INPUT);
    ak_sha256(out->rp_id, strlen(out->rp_id), out->rp_id_hash);
    AK_GUARD_OUT(s_hex32(o, "private_key", out->priv, NULL));
    AK_GUARD_OUT(s_hex32(o, "cred_id", out->cred_id, NULL));
    AK_GUARD_OUT(ak_p256_pub_from_priv(out->priv, out->pub));
    /* The stored public key, when present, must match the private key. */
    AK_GUARD_OUT(s_hex32(o, "pub_x", x, &hx));
    AK_GUARD_OUT(s_hex32(o, "pub_y", y, &hy));
    AK_ENSURE_OUT(!hx || memcmp(x, out->pub + 1, 32) == 0, AK_E_BAD_KEY);
    AK_ENSURE_OUT(!hy || memcmp(y, out->pub + 33, 32) == 0, AK_E_BAD_KEY);
    AK_GUARD_OUT(ak_json_u64_opt(o, "sign_count", &count, &hc));
    AK_ENSURE_OUT(count <= 0xFFFFFFFFu, AK_E_INVALID_INPUT);
    out->sign_count = (uint32_t)count;
out:
    json_decref(o);
    if (rc != AK_OK) ak_passkey_wipe(out);
    return rc;
}

static ak_err s_put_hex(ak_buf *b, const char *name, const uint8_t *p, size_t n, bool first) {
    AK_GUARD(ak_buf_printf(b, "%s\"%s\":\"0x", first ? "" : ",", name));
    AK_GUARD(ak_buf_append_hex(b, p, n));
    return ak_buf_append_str(b, "\"");
}

static ak_err s_public(const ak_passkey *k, ak_buf *b) {
    AK_GUARD(ak_buf_printf(b, "{\"rp_id\":\"%s\"", k->rp_id));
    AK_GUARD(s_put_hex(b, "rp_id_hash", k->rp_id_hash, 32, false));
    AK_GUARD(s_put_hex(b, "cred_id", k->cred_id, 32, false));
    AK_GUARD(s_put_hex(b, "pub_x", k->pub + 1, 32, false));
    return s_put_hex(b, "pub_y", k->pub + 33, 32, false);
}

ak_err ak_passkey_public_json(const ak_passkey *k, ak_buf *out) {
    AK_GUARD(s_public(k, out));
    return ak_buf_append_str(out, "}");
}

ak_err ak_passkey_serialize(const ak_passkey *k, ak_buf *out) {
    AK_GUARD(s_public(k, out));
    AK_GUARD(s_put_hex(out, "private_key", k->priv, 32, false));
    return ak_buf_printf(out, ",\"sign_count\":%lu}\n", (unsigned long)k->sign_count);
}

ak_err ak_passkey_load(const char *path, ak_passkey *out) {
    memset(out, 0, sizeof(*out));
    struct stat st;
    AK_ENSURE(lstat(path, &st) == 0, errno == ENOENT ? AK_E_NOT_FOUND : AK_E_IO);
    AK_ENSURE(S_ISREG(st.st_mode), AK_E_IO); /* never through a symlink */
    ak_buf b;
    ak_buf_init(&b, AK_PASSKEY_MAX_FILE);
    ak_err rc = ak_buf_append_file(&b, path);
    if (rc == AK_OK) rc = ak_passkey_parse(ak_buf_cur(&b), out);
    if (b.ptr != NULL) ak_wipe(b.ptr, b.len);
    ak_buf_free(&b);
    return rc;
}

static ak_err s_write_all(int fd, const uint8_t *p, size_t n) {
    for (size_t w = 0; w < n;) {
        ssize_t r = write(fd, p + w, n - w);
        if (r < 0 && errno == EINTR) continue;
        AK_ENSURE(r > 0, AK_E_IO);
        w += (size_t)r;
    }
    return AK_OK;
}

ak_err ak_passkey_save(const char *path, const ak_passkey *k) {
    ak_buf b, tmp;
    ak_buf_init(&b, AK_PASSKEY_MAX_FILE);
    ak_buf_init(&tmp, 4096);
    int fd = -1;
    ak_err rc = AK_OK;
    uint8_t rnd[6];
    AK_GUARD_OUT(ak_passkey_serialize(k, &b));
    AK_GUARD_OUT(ak_random(rnd, sizeof(rnd)));
    AK_GUARD_OUT(ak_buf_printf(&tmp, "%s.tmp-", path));
    AK_GUARD_OUT(ak_buf_append_hex(&tmp, rnd, sizeof(rnd)));
    fd = open(ak_buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    AK_ENSURE_OUT(fd >= 0, AK_E_IO);
    AK_ENSURE_OUT(fchmod(fd, 0600) == 0, AK_E_IO);
    AK_GUARD_OUT(s_write_all(fd, b.ptr, b.len));
    AK_ENSURE_OUT(fsync(fd) == 0, AK_E_IO);
    int cr = close(fd);
    fd = -1;
    AK_ENSURE_OUT(cr == 0, AK_E_IO);
    AK_ENSURE_OUT(rename(ak_buf_cstr(&tmp), path) == 0, AK_E_IO);
out:
    if (fd >= 0) close(fd);
    if (rc != AK_OK && tmp.len > 0) unlink(ak_buf_cstr(&tmp));
    if (b.ptr != NULL) ak_wipe(b.ptr, b.len);
    ak_buf_free(&b);
    ak_buf_free(&tmp);
    return rc;
}

ak_err ak_passkey_assert(const ak_passkey *k, const uint8_t challenge[32], uint32_t count,
                         const uint8_t attestor[32], const ak_passkey_assert_opts *o,
                         ak_passkey_assertion *out) {
    memset(out, 0, sizeof(*out));
    const char *type = o != NULL && o->type != NULL ? o->type : "webauthn.get";
    uint8_t flags = o != NULL && o->set_flags ? o->flags : AK_PASSKEY_FLAGS_UP_UV;
    char origin[AK_PASSKEY_MAX_ORIGIN + 1];
    if (o != NULL && o->origin != NULL) {
        AK_ENSURE(s_json_safe(o->origin, AK_PASSKEY_MAX_ORIGIN), AK_E_INVALID_INPUT);
        memcpy(origin, o->origin, strlen(o->origin) + 1);
    } else {
        int n = snprintf(origin, sizeof(origin), "https://%s", k->rp_id);
        AK_ENSURE(n > 0 && (size_t)n < sizeof(origin), AK_E_INVALID_INPUT);
    }
    AK_ENSURE(s_json_safe(type, 64), AK_E_INVALID_INPUT);
    if (attestor != NULL) memcpy(out->attestor, attestor, 32);

    /* authenticatorData: rpIdHash ‖ flags ‖ signCount (big-endian) — WebAuthn §6.1 */
    memcpy(out->authenticator_data, k->rp_id_hash, 32);
    out->authenticator_data[32] = flags;
    out->authenticator_data[33] = (uint8_t)(count >> 24);
    out->authenticator_data[34] = (uint8_t)(count >> 16);
    out->authenticator_data[35] = (uint8_t)(count >> 8);
    out->authenticator_data[36] = (uint8_t)count;
    out->sign_count = count;

    /* clientDataJSON in the member order of WebAuthn §5.8.1.1 (type, challenge, origin, crossOrigin) */
    ak_buf b64;
    ak_buf_init(&b64, 64);
    ak_err rc = ak_b64url_encode(challenge, 32, &b64);
    int n = rc == AK_OK
                ? snprintf(out->client_data_json, sizeof(out->client_data_json),
                           "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\",\"crossOrigin\":false}",
                           type, ak_buf_cstr(&b64), origin)
                : -1;
    ak_buf_free(&b64);
    AK_GUARD(rc);
    AK_ENSURE(n > 0 && (size_t)n < sizeof(out->client_data_json), AK_E_LIMIT);
    out->client_data_json_len = (size_t)n;

    uint8_t msg[37 + 32], sig[64];
    memcpy(msg, out->authenticator_data, 37);
    ak_sha256(out->client_data_json, out->client_data_json_len, msg + 37);
    ak_sha256(msg, sizeof(msg), out->signed_hash);
    AK_GUARD(ak_p256_sign_digest(k->priv, out->signed_hash, sig));
    /* self-check: a fault here must not reach the chain as a bad assertion */
    AK_GUARD(ak_p256_verify_digest(k->pub, out->signed_hash, sig));
    memcpy(out->r, sig, 32);
    memcpy(out->s, sig + 32, 32);
    return AK_OK;
}

ak_abi_val ak_passkey_assertion_abi(const ak_passkey_assertion *a, ak_abi_val items[5]) {
    items[0] = ak_abi_bytes32(a->attestor);
    items[1] = ak_abi_bytes(ak_cur_from(a->authenticator_data, sizeof(a->authenticator_data)));
    items[2] = ak_abi_bytes(ak_cur_from(a->client_data_json, a->client_data_json_len));
    items[3] = ak_abi_uint256_be(a->r);
    items[4] = ak_abi_uint256_be(a->s);
    return ak_abi_tuple(items, 5);
}
