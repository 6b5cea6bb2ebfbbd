/*
 * ak/keystore.h — the Ethereum keystore v3 JSON format (Web3 Secret Storage Definition), so a
 * K10 key moves between agentkeys, `cast wallet` and geth.
 *
 * A keystore holds one secp256k1 private key encrypted with AES-128-CTR under the first 16 bytes
 * of a key derived from a password (kdf "scrypt" or "pbkdf2" with prf "hmac-sha256"); its "mac"
 * is keccak256(derivedKey[16..31] || ciphertext). Reading checks, in this order: the JSON shape,
 * version 3, cipher, kdf and its parameters against the maxima of ak/scrypt.h (before deriving
 * anything), then the MAC in constant time (before decrypting anything), then the decrypted key
 * (a valid secp256k1 scalar) and, when the file names one, its "address".
 *
 * Accepted on read: "crypto" or geth's older "Crypto"; an "address" with or without "0x" (or
 * none, as cast writes); ciphertexts shorter than 32 bytes (left-padded with zeros, as geth does
 * for the 31- and 30-byte keys old tools wrote); dklen 32..64 (the first 32 bytes are used).
 * Written: geth's layout with "address", scrypt or pbkdf2, dklen 32, a 32-byte salt and a
 * 16-byte IV from the OS CSPRNG, and a random (version 4) UUID "id".
 */
#ifndef AK_KEYSTORE_H
#define AK_KEYSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"

#define AK_KEYSTORE_MAX_JSON (64u * 1024u) /* a keystore is ~500 bytes */
#define AK_KEYSTORE_MAX_PASSWORD 4096u
#define AK_KEYSTORE_MAX_SALT 256u

typedef enum ak_keystore_kdf { AK_KEYSTORE_SCRYPT = 1, AK_KEYSTORE_PBKDF2 = 2 } ak_keystore_kdf;

typedef struct ak_keystore_params {
    ak_keystore_kdf kdf;
    uint32_t n, r, p; /* scrypt */
    uint32_t c;       /* pbkdf2 iterations */
} ak_keystore_params;

/* geth's StandardScryptN/P (and what `agentkeys wallet new` writes): scrypt N=2^18, r=8, p=1,
 * 256 MiB and about a second per use. */
ak_keystore_params ak_keystore_params_standard(void);
/* geth's LightScryptN/P: scrypt N=2^12, r=8, p=6 (4 MiB); for tests and small machines. */
ak_keystore_params ak_keystore_params_light(void);

/* What a successful decrypt read besides the key. */
typedef struct ak_keystore_info {
    uint8_t address[20];       /* the key's address (always derived from the key) */
    bool address_present;      /* the file named an address (and it matched) */
    ak_keystore_params params; /* the file's KDF and parameters */
    char id[64];               /* the file's "id" (NUL-terminated; empty when absent or too long) */
} ak_keystore_info;

/* A keystore read and checked (shape, version, cipher, kdf, parameters within bounds) but not
 * decrypted: what ak_keystore_open needs. Holds no secret. */
typedef struct ak_keystore_parsed {
    ak_keystore_params params;
    uint32_t dklen;
    uint8_t salt[AK_KEYSTORE_MAX_SALT];
    size_t salt_len;
    uint8_t iv[16];
    uint8_t ct[32];
    size_t ct_len; /* 1..32 */
    uint8_t mac[32];
    bool address_present;
    uint8_t address[20];
    char id[64]; /* NUL-terminated; empty when absent or too long */
} ak_keystore_parsed;

/*
 * Parses a keystore v3 document without deriving anything (cheap: no password needed, so a
 * caller can refuse a bad file before asking for one). Errors (*ks zeroed):
 *   AK_E_KEYSTORE_INVALID     not JSON, not an object, a field missing, of the wrong type or
 *                             malformed hex (address included), a ciphertext longer than 32
 *                             bytes, text longer than AK_KEYSTORE_MAX_JSON
 *   AK_E_KEYSTORE_UNSUPPORTED version other than 3, cipher other than aes-128-ctr, kdf other than
 *                             scrypt/pbkdf2, prf other than hmac-sha256
 *   AK_E_KDF_PARAMS           N, r, p, c, dklen or salt outside ak/scrypt.h's bounds
 *   AK_E_NOMEM
 */
AK_MUST ak_err ak_keystore_parse(ak_cur json, ak_keystore_parsed *ks);

/*
 * Derives the key from `password`, checks the MAC (constant time) and only then decrypts.
 * Returns AK_OK with key (32 bytes, the caller wipes it) and addr (may be NULL). Errors (key
 * zeroed): AK_E_KEYSTORE_MAC (wrong password or a modified file), AK_E_BAD_KEY (the MAC matched
 * but the plaintext is not a valid secp256k1 key), AK_E_KEYSTORE_ADDRESS (the file's "address"
 * is not the key's), AK_E_LIMIT (password longer than AK_KEYSTORE_MAX_PASSWORD),
 * AK_E_KDF_PARAMS, AK_E_NOMEM.
 */
AK_MUST ak_err ak_keystore_open(const ak_keystore_parsed *ks, ak_cur password, uint8_t key[32],
                                uint8_t addr[20]);

/* ak_keystore_parse + ak_keystore_open, with their errors; info (may be NULL) gets the address,
 * parameters and id on success. */
AK_MUST ak_err ak_keystore_decrypt(ak_cur json, ak_cur password, uint8_t key[32], ak_keystore_info *info);

/*
 * Encrypts `key` (a valid secp256k1 private key, else AK_E_BAD_KEY) under `password` and appends
 * the keystore JSON (one line, no trailing newline) to `out`. Salt, IV and id are random.
 * AK_E_KDF_PARAMS for parameters decrypt would refuse; AK_E_LIMIT for a long password or a full
 * `out`; AK_E_INTERNAL if the CSPRNG fails; AK_E_NOMEM.
 */
AK_MUST ak_err ak_keystore_encrypt(const uint8_t key[32], ak_cur password, const ak_keystore_params *params,
                                   ak_buf *out);
/* The same with caller-chosen salt (32 bytes), IV and id bytes (the UUID version/variant bits are
 * set on a copy), so tests can compare against fixed output. */
AK_MUST ak_err ak_keystore_encrypt_with(const uint8_t key[32], ak_cur password,
                                        const ak_keystore_params *params, const uint8_t salt[32],
                                        const uint8_t iv[16], const uint8_t uuid[16], ak_buf *out);

/*
 * Writes `data` to `path` atomically with mode 0600: a new temporary file in the same directory
 * (O_EXCL, 0600), fsync, then into place and the directory fsynced. With replace=false an
 * existing `path` is never overwritten (hard link, then unlink of the temporary):
 * AK_E_PRECONDITION_FAILED if it exists. AK_E_IO on any other failure; nothing half-written and
 * no temporary left behind.
 */
AK_MUST ak_err ak_keystore_write_file(const char *path, ak_cur data, bool replace);

#endif
