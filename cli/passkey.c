/*
 * cli/passkey.c — passkey backends behind cli/passkey.h. Only `software:FILE` exists today.
 */
#include "passkey.h"

#include "passkey_browser.h"

#include <string.h>

static int s_sw_fail(akcli *c, ak_err e, const char *what, const char *path) {
    return akcli_fail(c, e == AK_E_NOT_FOUND ? AKCLI_NOT_FOUND : AKCLI_ERR, ak_err_reason(e),
                      "passkey %s: %s (%s)", path, what, ak_err_message(e));
}

static int s_sw_enroll(akcli *c, akcli_passkey *pk, const char *rp_id, bool *created) {
    ak_passkey k;
    ak_err e = ak_passkey_load(pk->arg, &k);
    *created = false;
    if (e == AK_E_NOT_FOUND) {
        if (!ak_passkey_rpid_valid(rp_id)) {
            ak_passkey_wipe(&k);
            return akcli_fail(c, AKCLI_USAGE, "invalid_input", "--rp-id must be a lowercase host name");
        }
        e = ak_passkey_new(rp_id, &k);
        if (e == AK_OK) e = ak_passkey_save(pk->arg, &k);
        if (e == AK_OK) *created = true;
    }
    ak_passkey_wipe(&k);
    return e == AK_OK ? AKCLI_OK : s_sw_fail(c, e, *created ? "cannot create it" : "cannot read it", pk->arg);
}

static int s_sw_pub(akcli *c, akcli_passkey *pk, akcli_passkey_pub *out) {
    ak_passkey k;
    ak_err e = ak_passkey_load(pk->arg, &k);
    if (e == AK_OK) {
        memset(out, 0, sizeof(*out));
        memcpy(out->rp_id, k.rp_id, sizeof(out->rp_id));
        memcpy(out->cred_id, k.cred_id, 32);
        memcpy(out->rp_id_hash, k.rp_id_hash, 32);
        memcpy(out->pub_x, k.pub + 1, 32);
        memcpy(out->pub_y, k.pub + 33, 32);
    }
    ak_passkey_wipe(&k);
    return e == AK_OK ? AKCLI_OK : s_sw_fail(c, e, "cannot read it", pk->arg);
}

static int s_sw_assert(akcli *c, akcli_passkey *pk, const uint8_t challenge[32], const uint8_t attestor[32],
                       uint32_t chain_count, ak_passkey_assertion *out) {
    ak_passkey k;
    ak_err e = ak_passkey_load(pk->arg, &k);
    if (e == AK_OK) {
        uint32_t base = k.sign_count > chain_count ? k.sign_count : chain_count;
        e = base < 0xFFFFFFFFu ? AK_OK : AK_E_LIMIT;
        /* the count is saved before the assertion exists: a crash skips a number, never reuses one */
        if (e == AK_OK) {
            k.sign_count = base + 1;
            e = ak_passkey_save(pk->arg, &k);
        }
        if (e == AK_OK) e = ak_passkey_assert(&k, challenge, k.sign_count, attestor, NULL, out);
    }
    ak_passkey_wipe(&k);
    return e == AK_OK ? AKCLI_OK : s_sw_fail(c, e, "cannot sign with it", pk->arg);
}

static const akcli_passkey_ops s_software = {"software:", s_sw_enroll, s_sw_pub, s_sw_assert};

static const akcli_passkey_ops *const s_backends[] = {&s_software, &akcli_passkey_browser_ops, NULL};

int akcli_passkey_open(akcli *c, const char *flag, akcli_passkey *out) {
    memset(out, 0, sizeof(*out));
    const char *spec = flag != NULL ? flag : akcli_conf(c, "passkey");
    if (spec == NULL || spec[0] == '\0')
        return akcli_fail(c, AKCLI_USAGE, "passkey_required",
                          "this needs a passkey: --passkey software:FILE (or the `passkey` setting)");
    if (strcmp(spec, "browser") == 0) return akcli_passkey_browser_open(c, out);
    for (const akcli_passkey_ops *const *b = s_backends; *b != NULL; b++) {
        size_t n = strlen((*b)->prefix);
        if (strncmp(spec, (*b)->prefix, n) != 0) continue;
        if (spec[n] == '\0' || strlen(spec + n) >= sizeof(out->arg))
            return akcli_fail(c, AKCLI_USAGE, "invalid_input", "--passkey %s needs a file name",
                              (*b)->prefix);
        out->ops = *b;
        memcpy(out->arg, spec + n, strlen(spec + n) + 1);
        return AKCLI_OK;
    }
    return akcli_fail(c, AKCLI_USAGE, "invalid_input",
                      "unknown passkey backend (want software:FILE, browser or browser:FILE)");
}

int akcli_passkey_enroll(akcli *c, akcli_passkey *pk, const char *rp_id, akcli_passkey_pub *out,
                         bool *created) {
    int rc = pk->ops->enroll(c, pk, rp_id, created);
    return rc != AKCLI_OK ? rc : pk->ops->pub(c, pk, out);
}

int akcli_passkey_get_pub(akcli *c, akcli_passkey *pk, akcli_passkey_pub *out) {
    return pk->ops->pub(c, pk, out);
}

int akcli_passkey_assert(akcli *c, akcli_passkey *pk, const uint8_t challenge[32], const uint8_t attestor[32],
                         uint32_t chain_count, ak_passkey_assertion *out) {
    return pk->ops->assert_(c, pk, challenge, attestor, chain_count, out);
}
