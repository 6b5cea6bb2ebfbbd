/*
 * ak/cbor.h — a strict CBOR decoder (RFC 8949) for what COSE_Sign1 (RFC 9052) and AWS Nitro
 * Enclaves attestation documents need, plus the few head encoders a Sig_structure needs.
 *
 * The decoder is a validating reader over ak_cur views: ak_cbor_decode checks ONE whole data
 * item (every nested item, recursively) before it fills `out` and advances the cursor, so a
 * caller never sees a prefix of a broken item. Strings are returned as views into the input
 * (nothing is copied, nothing allocated). Containers are walked by decoding their `body` again
 * item by item (`ak_cur r = it.body; while (r.len) AK_GUARD(ak_cbor_decode(&r, lim, &x));`).
 *
 * What is accepted, and the strict choices (RFC 8949 section numbers):
 *   - major 0 / 1: unsigned and negative integers up to 64 bits (§3.1);
 *   - major 2 / 3: byte and text strings of DEFINITE length only. Indefinite-length strings
 *     (§3.2.3) are refused: no Nitro document or COSE structure uses them, and their chunks
 *     would have to be copied to give one view;
 *   - major 4 / 5: arrays and maps, definite AND indefinite length (§3.2.2): the NSM writes
 *     the attestation payload as an indefinite-length map (0xbf ... 0xff);
 *   - major 6: tags, any number, nesting one item (the caller decides which tags it allows);
 *   - major 7: only false, true and null (§3.3). Floats, `undefined`, other simple values and
 *     a stray "break" are refused (COSE and Nitro use none of them);
 *   - every head argument must be in its shortest form (preferred serialization, §4.2.1):
 *     0x18 0x05 for 5 is refused. Well-formed CBOR allows it (§3); we do not, so one value has
 *     one encoding and encoded-key comparison below is value comparison;
 *   - text strings must be valid UTF-8 (§3.1 major type 3; §5.3.1): no overlong forms, no
 *     surrogates, nothing above U+10FFFF;
 *   - map keys must be unique (§5.6: a decoder "MUST" handle duplicates; we refuse them),
 *     compared by their encoded bytes (exact given shortest form and definite strings); key
 *     ORDER is not checked (the NSM's keys are not in canonical order, §4.2.1 is not required);
 *   - nesting depth, items per container and string length are bounded by ak_cbor_limits.
 * Errors: AK_E_INVALID_INPUT for anything not well-formed or not strict (including input that
 * ends early: the cursor is then left where it was), AK_E_LIMIT past a bound.
 * ak_cbor_decode_all also refuses trailing bytes after the item (AK_E_INVALID_INPUT).
 */
#ifndef AK_CBOR_H
#define AK_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

typedef enum ak_cbor_type {
    AK_CBOR_UINT = 0,   /* major 0: val */
    AK_CBOR_NINT = 1,   /* major 1: the integer is -1 - val */
    AK_CBOR_BSTR = 2,   /* major 2: str */
    AK_CBOR_TSTR = 3,   /* major 3: str (valid UTF-8) */
    AK_CBOR_ARRAY = 4,  /* major 4: count items in body */
    AK_CBOR_MAP = 5,    /* major 5: count key/value pairs in body */
    AK_CBOR_TAG = 6,    /* major 6: val = tag number, body = the one tagged item */
    AK_CBOR_SIMPLE = 7, /* major 7: val = 20 (false), 21 (true) or 22 (null) */
} ak_cbor_type;

#define AK_CBOR_FALSE 20u
#define AK_CBOR_TRUE 21u
#define AK_CBOR_NULL 22u

typedef struct ak_cbor_limits {
    size_t max_depth; /* nesting: a scalar at top level is depth 1; 0 -> default; at most AK_CBOR_MAX_DEPTH */
    size_t max_items; /* elements (arrays) or pairs (maps) per container; 0 -> default */
    size_t max_str;   /* bytes per string; 0 -> default */
} ak_cbor_limits;

#define AK_CBOR_DEFAULT_DEPTH 16u
#define AK_CBOR_MAX_DEPTH 64u /* the decoder recurses once per level */
#define AK_CBOR_DEFAULT_ITEMS 256u
#define AK_CBOR_DEFAULT_STR (64u * 1024u)

typedef struct ak_cbor_item {
    ak_cbor_type type;
    uint64_t val;       /* see ak_cbor_type */
    size_t count;       /* arrays: elements; maps: pairs (also for indefinite length) */
    bool indefinite;    /* arrays and maps written with an indefinite length */
    ak_cur str;         /* BSTR / TSTR contents */
    ak_cur body;        /* ARRAY / MAP: the nested items (without the break); TAG: the tagged item */
    ak_cur raw;         /* the whole encoded item, head to end */
    ak_cbor_limits lim; /* the limits it was decoded with (defaults filled in); lookups reuse them */
} ak_cbor_item;

/* Decodes and validates one data item at *c (rules above; `lim` NULL = defaults), fills `out`
 * and advances *c past it. On error *c is unchanged. */
AK_MUST ak_err ak_cbor_decode(ak_cur *c, const ak_cbor_limits *lim, ak_cbor_item *out);
/* Same for an input that must be exactly one item: trailing bytes are AK_E_INVALID_INPUT. */
AK_MUST ak_err ak_cbor_decode_all(ak_cur in, const ak_cbor_limits *lim, ak_cbor_item *out);

/* Typed views of a decoded item; AK_E_WRONG_TYPE when the item is of another type. */
AK_MUST ak_err ak_cbor_get_uint(const ak_cbor_item *it, uint64_t *out);
/* UINT or NINT within int64_t (AK_E_LIMIT outside). */
AK_MUST ak_err ak_cbor_get_int(const ak_cbor_item *it, int64_t *out);
AK_MUST ak_err ak_cbor_get_bstr(const ak_cbor_item *it, ak_cur *out);
AK_MUST ak_err ak_cbor_get_tstr(const ak_cbor_item *it, ak_cur *out);
bool ak_cbor_is_null(const ak_cbor_item *it);

/* Looks a key up in a decoded MAP: a text-string key, or an integer key. AK_E_NOT_FOUND when
 * absent, AK_E_WRONG_TYPE when `map` is not a map. Keys are unique (checked by decode). */
AK_MUST ak_err ak_cbor_map_get_tstr(const ak_cbor_item *map, const char *key, ak_cbor_item *val);
AK_MUST ak_err ak_cbor_map_get_int(const ak_cbor_item *map, int64_t key, ak_cbor_item *val);

/* ---- encoding (heads only: enough to rebuild a COSE Sig_structure) ---- */
/* Writes the shortest head of major type `major` (0..7) with argument `arg` into hdr; returns
 * its length (1, 2, 3, 5 or 9). */
size_t ak_cbor_head(uint8_t major, uint64_t arg, uint8_t hdr[9]);
/* Appends the head, then for majors 2 and 3 nothing else (the caller appends the bytes). */
AK_MUST ak_err ak_cbor_put_head(ak_buf *out, uint8_t major, uint64_t arg);

#endif
