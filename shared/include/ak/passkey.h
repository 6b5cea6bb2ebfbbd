/*
 * ak/passkey.h — a software WebAuthn authenticator (ES256 / P-256) for K11-gated chain calls:
 * the `agentkeys` CLI's `software:FILE` passkey backend and shared/tools/passkey (tests, demo).
 *
 * It produces exactly what contracts/src/K11Verifier.sol accepts (contracts/README.md,
 * "K11 assertions"):
 *   authenticatorData = sha256(rpId) ‖ flags (UP|UV = 0x05) ‖ signCount (u32 big-endian)   37 bytes
 *   clientDataJSON    = {"type":"webauthn.get","challenge":"<base64url(32 bytes)>",
 *                        "origin":"https://<rpId>","crossOrigin":false}
 *                       (member order of WebAuthn L3 §5.8.1.1, which the verifier relies on)
 *   signature         = ECDSA P-256 over sha256(authenticatorData ‖ sha256(clientDataJSON)),
 *                       raw r, s (RFC 6979 deterministic; s is not normalised, WebAuthn allows
 *                       high s and so does the verifier).
 *
 * Key file (JSON, mode 0600, never followed through a symlink):
 *   {"rp_id","rp_id_hash","cred_id","pub_x","pub_y","private_key","sign_count"}
 * "sign_count" is the last signCount this key signed (0 = never; absent in files written before
 * it existed). The verifier refuses a count that is not above the stored one (StaleSignCount),
 * so a caller that asserts through the file bumps and saves the count BEFORE it uses the
 * assertion: a crash can skip a number, never reuse one.
 */
#ifndef AK_PASSKEY_H
#define AK_PASSKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/abi.h"
#include "ak/bytes.h"
#include "ak/err.h"

#define AK_PASSKEY_MAX_RPID 253 /* DNS name limit */
#define AK_PASSKEY_MAX_ORIGIN 512
#define AK_PASSKEY_MAX_CDJ 1024
#define AK_PASSKEY_MAX_FILE 4096
#define AK_PASSKEY_FLAGS_UP_UV 0x05

typedef struct ak_passkey {
    char rp_id[AK_PASSKEY_MAX_RPID + 1];
    uint8_t rp_id_hash[32]; /* sha256(rp_id) */
    uint8_t cred_id[32];
    uint8_t priv[32]; /* secret: ak_passkey_wipe when done */
    uint8_t pub[65];  /* 0x04 ‖ X ‖ Y */
    uint32_t sign_count;
} ak_passkey;

/* One assertion: the K11Assertion tuple (bytes32,bytes,bytes,uint256,uint256) and its parts. */
typedef struct ak_passkey_assertion {
    uint8_t attestor[32]; /* attestingDeviceKeyHash (0 for a self-attestation) */
    uint8_t authenticator_data[37];
    char client_data_json[AK_PASSKEY_MAX_CDJ];
    size_t client_data_json_len;
    uint8_t signed_hash[32];
    uint8_t r[32], s[32];
    uint32_t sign_count;
} ak_passkey_assertion;

/* Knobs for negative tests; a zeroed struct (or NULL) gives a valid assertion. */
typedef struct ak_passkey_assert_opts {
    bool set_flags;
    uint8_t flags;      /* used when set_flags (default UP|UV) */
    const char *type;   /* NULL: "webauthn.get" */
    const char *origin; /* NULL: "https://<rp_id>" */
} ak_passkey_assert_opts;

/* rpId: a lowercase host name, [a-z0-9.-], 1..253 characters. */
bool ak_passkey_rpid_valid(const char *rp_id);
/* A fresh credential for rp_id (random private key and credential id, sign_count 0).
 * AK_E_INVALID_INPUT for a bad rp_id. */
AK_MUST ak_err ak_passkey_new(const char *rp_id, ak_passkey *out);
/* Parses a key file's text. The stored public key, when present, must match the private key;
 * a missing sign_count is 0. AK_E_INVALID_INPUT (or AK_E_BAD_KEY) otherwise. */
AK_MUST ak_err ak_passkey_parse(ak_cur json, ak_passkey *out);
/* Appends the key file text (private key included) to `out`. */
AK_MUST ak_err ak_passkey_serialize(const ak_passkey *k, ak_buf *out);
/* Appends the public part as JSON {"rp_id","rp_id_hash","cred_id","pub_x","pub_y"}. */
AK_MUST ak_err ak_passkey_public_json(const ak_passkey *k, ak_buf *out);
/* Reads a key file (refusing symlinks: AK_E_IO). */
AK_MUST ak_err ak_passkey_load(const char *path, ak_passkey *out);
/* Writes a key file atomically: temp file in the same directory (0600), fsync, rename over
 * `path` (a symlink at `path` is replaced, never followed). Nothing half-written on failure. */
AK_MUST ak_err ak_passkey_save(const char *path, const ak_passkey *k);
/* Signs `challenge` with signCount `sign_count`; attestor may be NULL (zero). */
AK_MUST ak_err ak_passkey_assert(const ak_passkey *k, const uint8_t challenge[32], uint32_t sign_count,
                                 const uint8_t attestor[32], const ak_passkey_assert_opts *o,
                                 ak_passkey_assertion *out);
/* The K11Assertion tuple value over `a` (borrows a; items must hold 5 values). */
ak_abi_val ak_passkey_assertion_abi(const ak_passkey_assertion *a, ak_abi_val items[5]);
void ak_passkey_wipe(ak_passkey *k);

#endif
