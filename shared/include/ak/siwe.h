/*
 * ak/siwe.h — Sign-In with Ethereum messages (EIP-4361): a strict parser, the formatter
 * AuthFunction uses (broker.md §3), RFC 3339 timestamps, and EIP-191 signature recovery.
 *
 * Grammar (EIP-4361 "Message Format", ABNF; lines joined with LF, no trailing LF):
 *
 *   [ scheme "://" ] domain " wants you to sign in with your Ethereum account:" LF
 *   address LF
 *   LF
 *   [ statement LF ]
 *   LF
 *   "URI: " URI LF
 *   "Version: " "1" LF
 *   "Chain ID: " 1*DIGIT LF
 *   "Nonce: " 8*( ALPHA / DIGIT ) LF
 *   "Issued At: " date-time
 *   [ LF "Expiration Time: " date-time ]
 *   [ LF "Not Before: " date-time ]
 *   [ LF "Request ID: " *pchar ]
 *   [ LF "Resources:" *( LF "- " URI ) ]
 *
 * Checks: domain is an RFC 3986 authority ([userinfo "@"] host [":" port], IP literals in
 * brackets); address is "0x" + 40 hex in exactly its EIP-55 checksum form (EIP-4361: an
 * all-lowercase or all-uppercase address is refused like a wrong checksum); statement has no LF and only
 * RFC 3986 reserved/unreserved characters and spaces; URIs have a scheme and no spaces or
 * controls; date-times are RFC 3339 (fraction optional, "Z" or a numeric offset) with valid
 * calendar values. Every failure is AK_E_SIWE_MALFORMED. Views point into the parsed text.
 */
#ifndef AK_SIWE_H
#define AK_SIWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"

#define AK_SIWE_MAX_MESSAGE 8192u
#define AK_SIWE_MAX_RESOURCES 16u
#define AK_SIWE_PREAMBLE " wants you to sign in with your Ethereum account:"

typedef struct ak_siwe_msg {
    bool has_scheme;
    ak_cur scheme;
    ak_cur domain;
    ak_cur address_text;
    uint8_t address[20];
    bool has_statement;
    ak_cur statement;
    ak_cur uri;
    ak_cur version;
    uint64_t chain_id;
    ak_cur nonce;
    ak_cur issued_at;
    int64_t issued_at_unix; /* seconds (fraction dropped) */
    bool has_expiration;
    ak_cur expiration_time;
    int64_t expiration_unix;
    bool has_not_before;
    ak_cur not_before;
    int64_t not_before_unix;
    bool has_request_id;
    ak_cur request_id;
    bool has_resources; /* the "Resources:" line is present (possibly with no items) */
    size_t n_resources;
    ak_cur resources[AK_SIWE_MAX_RESOURCES];
} ak_siwe_msg;

/* Parses a whole message (see top). AK_E_SIWE_MALFORMED for anything off-grammar, AK_E_LIMIT
 * for more than AK_SIWE_MAX_RESOURCES resources or a message above AK_SIWE_MAX_MESSAGE. */
AK_MUST ak_err ak_siwe_parse(ak_cur text, ak_siwe_msg *out);

/* Appends the message text of `m` (the fields that are set, in grammar order). The address
 * is written as m->address_text when set, else the EIP-55 form of m->address. Does not validate;
 * AK_E_LIMIT when `out` fills up. */
AK_MUST ak_err ak_siwe_format(const ak_siwe_msg *m, ak_buf *out);

/* RFC 3339 date-time -> Unix seconds (fraction dropped, offset applied). AK_E_SIWE_MALFORMED. */
AK_MUST ak_err ak_rfc3339_parse(ak_cur text, int64_t *unix_seconds);
/* Unix seconds -> "YYYY-MM-DDTHH:MM:SSZ" + NUL (21 bytes). AK_E_INVALID_INPUT for years
 * outside 1970..9999. */
AK_MUST ak_err ak_rfc3339_format(int64_t unix_seconds, char out[21]);

/* EIP-191 personal_sign recovery over the exact message bytes: signature is "0x" + 130 hex
 * (r‖s‖v, v in {0,1,27,28}). AK_E_SIWE_SIGNATURE when the text is malformed or nothing
 * recovers; the recovered address is written to `addr`. */
AK_MUST ak_err ak_siwe_recover(ak_cur message, ak_cur signature_hex, uint8_t addr[20]);

#endif
