/*
 * cli/wallet.h — the K10 key of `agentkeys` (KEYSTORE helper): loading it for every command that
 * signs, and the `wallet new|import|address` commands (cli/wallet.c).
 *
 * A wallet file is either an Ethereum keystore v3 JSON file (ak/keystore.h; what `cast wallet
 * new` and geth write) or a plain key file: 64 hex characters (optional 0x, surrounding white
 * space ignored). A plain key file is used only when no one but its owner can read or write it
 * (mode 0600 or 0400, owned by the user), as ssh insists for private keys; anything else is
 * refused with reason `key_file_permissions`.
 *
 * The keystore password comes from the file named by the `password_file` setting (env
 * AGENTKEYS_PASSWORD_FILE; trailing white space stripped, as cast's --password-file does), else from a no-echo prompt on /dev/tty;
 * with neither, loading fails with reason `password_required`. Never from argv or env values.
 */
#ifndef AKCLI_WALLET_H
#define AKCLI_WALLET_H

#include <stdint.h>

#include "cli.h"

/* Reads the key named by akcli_conf(c, "wallet") into `key` and returns AKCLI_OK, or prints the
 * reason (akcli_fail) and returns its AKCLI_* code with `key` zeroed. The caller wipes `key`. */
int akcli_wallet_load(akcli *c, uint8_t key[32]);

/* The same for an explicit file; `addr` (may be NULL) gets the key's address. */
int akcli_wallet_load_file(akcli *c, const char *path, uint8_t key[32], uint8_t addr[20]);

/* EIP-55 mixed-case checksummed "0x..." address (43 bytes with NUL), as cast prints it. */
void akcli_address_checksum(const uint8_t addr[20], char out[43]);

#endif
