/*
 * cli/passkey.h — the K11 passkey of `agentkeys` (OPERATOR helper): one small interface over
 * backends, chosen by a spec string from `--passkey SPEC` or the `passkey` setting:
 *
 *   software:FILE   libak's software authenticator (ak/passkey.h), key file FILE (0600 JSON with
 *                   the private key and the last sign count). For CI and headless machines.
 *   browser[:FILE]  a WebAuthn ceremony in a real browser on a one-time loopback page; FILE
 *                   keeps the credential's public record (cli/passkey_browser.h).
 *
 * A backend is a table of three functions (akcli_passkey_ops); a new one is a new table and a
 * new prefix in s_backends (cli/passkey.c), with no change to any caller.
 *
 * Sign counts: K11Verifier refuses a count that is not above the one the chain stored for the
 * passkey (StaleSignCount). Callers pass that stored count (`chain_count`, from getDevice's
 * lastSignCount; 0 for a new passkey); the software backend signs with max(file, chain) + 1 and
 * saves that count to its key file before returning the assertion.
 */
#ifndef AKCLI_PASSKEY_H
#define AKCLI_PASSKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/passkey.h"
#include "cli.h"

/* The public data a registration needs (registerFirstMasterDevice / additional masters). */
typedef struct akcli_passkey_pub {
    char rp_id[AK_PASSKEY_MAX_RPID + 1];
    uint8_t cred_id[32];
    uint8_t rp_id_hash[32];
    uint8_t pub_x[32], pub_y[32];
} akcli_passkey_pub;

typedef struct akcli_passkey akcli_passkey;

typedef struct akcli_passkey_ops {
    const char *prefix; /* "software:" */
    /* Creates the credential if it does not exist yet (enroll); *created says which. */
    int (*enroll)(akcli *c, akcli_passkey *pk, const char *rp_id, bool *created);
    int (*pub)(akcli *c, akcli_passkey *pk, akcli_passkey_pub *out);
    int (*assert_)(akcli *c, akcli_passkey *pk, const uint8_t challenge[32], const uint8_t attestor[32],
                   uint32_t chain_count, ak_passkey_assertion *out);
} akcli_passkey_ops;

struct akcli_passkey {
    const akcli_passkey_ops *ops;
    char arg[1024]; /* the backend's argument (software: the file path) */
};

/* The spec: `flag` (a --passkey value, may be NULL) > akcli_conf(c, "passkey"). Returns AKCLI_OK
 * or prints why (no spec: usage; unknown backend) and returns the AKCLI_* code. */
int akcli_passkey_open(akcli *c, const char *flag, akcli_passkey *out);
/* Enrolls a credential for rp_id if the backend has none yet, then fills `out`. */
int akcli_passkey_enroll(akcli *c, akcli_passkey *pk, const char *rp_id, akcli_passkey_pub *out,
                         bool *created);
int akcli_passkey_get_pub(akcli *c, akcli_passkey *pk, akcli_passkey_pub *out);
/* One assertion over `challenge` (attestor may be NULL: self-attestation). */
int akcli_passkey_assert(akcli *c, akcli_passkey *pk, const uint8_t challenge[32], const uint8_t attestor[32],
                         uint32_t chain_count, ak_passkey_assertion *out);

#endif
