/*
 * ak/abi.h — Solidity contract ABI encoding and strict decoding for the types our contracts use
 * (spec/contracts.md): uintN (N = 8..256), bool, address, bytesN (bytes32, bytes4 …), bytes,
 * string, T[] (e.g. bytes32[]) and static or dynamic tuples. Reference: the Solidity ABI
 * specification ("Contract ABI Specification", docs.soliditylang.org, section "Formal
 * Specification of the Encoding"). Signed intN and fixed-size arrays T[k] are not supported
 * (no contract of ours uses them); the type parser rejects them.
 *
 * Encoding: build an array of ak_abi_val with the constructors below (they do not allocate;
 * bytes/string/array values point at caller memory that must outlive the encode call) and
 * call ak_abi_encode (abi.encode) or ak_abi_encode_call (selector + abi.encode):
 *
 *     ak_abi_val args[] = {ak_abi_bytes32(op), ak_abi_bytes32(agent), ak_abi_bytes32(svc)};
 *     AK_GUARD(ak_abi_encode_call("isServiceInScope(bytes32,bytes32,bytes32)", args, 3, &calldata));
 *
 * Decoding: a cursor over the head of one tuple (ak_abi_dec). Static members, including the
 * members of a nested STATIC tuple (all inline in the head), are read in order with the typed
 * getters; dynamic members (bytes, string, T[], dynamic tuples) are followed through their
 * offset word, which is bounds-checked. Every getter rejects non-canonical words with
 * AK_E_INVALID_INPUT: a bool other than 0/1, an address or uintN with non-zero high bytes, a
 * bytesN or bytes/string tail with non-zero padding, a missing pad, an offset or length that
 * points outside the data. Nothing is read past the input. A getter that fails does not
 * advance. Example (SidecarRegistry.getDevice, an 11-word static struct):
 *
 *     ak_abi_dec d;
 *     ak_abi_dec_init(&d, ret);
 *     AK_GUARD(ak_abi_dec_bytes32(&d, e.operator_omni)); … AK_GUARD(ak_abi_dec_bool(&d, &e.revoked));
 *     AK_GUARD(ak_abi_dec_finish(&d));   // no trailing or unread bytes
 *
 * A generic, type-string-driven decoder (ak_abi_decode) builds an ak_abi_val tree in an arena;
 * tools and the fuzz target use it.
 */
#ifndef AK_ABI_H
#define AK_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/alloc.h"
#include "ak/bytes.h"

/* Nesting depth of tuples/arrays accepted by the encoder, the type parser and the decoder. */
#define AK_ABI_MAX_DEPTH 8u
/* Ceiling on element counts the generic decoder materialises (one arena node each). */
#define AK_ABI_MAX_ITEMS 65536u

/* ---- 256-bit unsigned integers, big-endian (wei amounts, uint256 words) ---- */
typedef struct ak_u256 {
    uint8_t be[32];
} ak_u256;
ak_u256 ak_u256_from_u64(uint64_t v);
/* Returns AK_E_LIMIT when the value does not fit in 64 bits. */
AK_MUST ak_err ak_u256_to_u64(const ak_u256 *v, uint64_t *out);
/* Strict unsigned decimal (no sign, no spaces, at most 78 digits, no overflow) -> AK_E_INVALID_INPUT. */
AK_MUST ak_err ak_u256_from_dec(ak_cur text, ak_u256 *out);
/* Appends the decimal form ("0" for zero). */
AK_MUST ak_err ak_u256_append_dec(const ak_u256 *v, ak_buf *out);
bool ak_u256_is_zero(const ak_u256 *v);

/* ---- values ---- */
typedef enum ak_abi_kind {
    AK_ABI_UINT = 1, /* size = bits, 8..256 step 8 */
    AK_ABI_BOOL,
    AK_ABI_ADDRESS,
    AK_ABI_FIXED_BYTES, /* bytesN: size = N, 1..32 (bytes32 is the common one) */
    AK_ABI_BYTES,
    AK_ABI_STRING,
    AK_ABI_ARRAY, /* T[]: dynamic-length array; every item must have the same type */
    AK_ABI_TUPLE,
} ak_abi_kind;

typedef struct ak_abi_val {
    ak_abi_kind kind;
    uint16_t size;                  /* bits for UINT, N for FIXED_BYTES, else 0 */
    uint8_t word[32];               /* the 32-byte ABI word of a UINT/BOOL/ADDRESS/FIXED_BYTES */
    ak_cur data;                    /* BYTES / STRING content */
    const struct ak_abi_val *items; /* TUPLE members / ARRAY elements */
    size_t count;
    const struct ak_abi_type *elem; /* ARRAY: element type (set by the decoder; optional when encoding) */
} ak_abi_val;

ak_abi_val ak_abi_uint256(const ak_u256 *v);
ak_abi_val ak_abi_uint256_be(const uint8_t be[32]);
/* uintN (N in 8..256) from a u64 (also fine for uint256 fields holding small numbers). */
ak_abi_val ak_abi_uint(unsigned bits, uint64_t v);
static inline ak_abi_val ak_abi_u64(uint64_t v) { return ak_abi_uint(256, v); }
ak_abi_val ak_abi_bool(bool v);
ak_abi_val ak_abi_address(const uint8_t addr[20]);
ak_abi_val ak_abi_bytes32(const uint8_t b[32]);
ak_abi_val ak_abi_fixed_bytes(const uint8_t *b, unsigned n); /* bytesN, 1 <= n <= 32 */
ak_abi_val ak_abi_bytes(ak_cur b);
ak_abi_val ak_abi_string(ak_cur s);
ak_abi_val ak_abi_tuple(const ak_abi_val *items, size_t n);
ak_abi_val ak_abi_array(const ak_abi_val *items, size_t n);

/* True when the value is dynamically encoded (bytes, string, T[], or a tuple holding one). */
bool ak_abi_val_is_dynamic(const ak_abi_val *v);

/*
 * Appends abi.encode(items[0], …, items[n-1]) (the items encoded as one tuple) to `out`.
 * Returns AK_E_LIMIT if nesting exceeds AK_ABI_MAX_DEPTH or `out` would pass its ceiling,
 * AK_E_INVALID_INPUT for a malformed value (bad size, array items of mixed types); nothing is
 * appended on error.
 */
AK_MUST ak_err ak_abi_encode(const ak_abi_val *items, size_t n, ak_buf *out);
/*
 * Appends selector(sig) ‖ abi.encode(items…). The signature's parameter types must match the
 * values (kind, size, nesting), else AK_E_INVALID_INPUT: it catches a wrong argument list.
 */
AK_MUST ak_err ak_abi_encode_call(const char *sig, const ak_abi_val *items, size_t n, ak_buf *out);

/*
 * Function selector: the first 4 bytes of keccak256 of the canonical signature "name(t1,t2)".
 * The signature is parsed and re-serialised canonically first ("uint" -> "uint256"; no spaces
 * or parameter names are accepted); a malformed signature is AK_E_INVALID_INPUT. Also writes the full 32-byte hash
 * (the event topic for an event signature) when topic != NULL.
 */
AK_MUST ak_err ak_abi_selector(const char *sig, uint8_t sel[4], uint8_t topic[32]);

/* ---- types (parsed from signature text) ---- */
typedef struct ak_abi_type {
    ak_abi_kind kind;
    uint16_t size;                     /* bits / N as in ak_abi_val */
    const struct ak_abi_type *members; /* TUPLE members */
    size_t count;                      /* TUPLE member count */
    const struct ak_abi_type *elem;    /* ARRAY element type */
} ak_abi_type;

/*
 * Parses a type list "(t1,t2,…)" or "t1,t2" (e.g. "bytes32,uint256[],(bool,string)") into
 * one TUPLE type allocated in `arena`. Accepts "uint" as uint256; no whitespace, no parameter names.
 */
AK_MUST ak_err ak_abi_parse_types(ak_arena *arena, ak_cur text, ak_abi_type *out_tuple);
/* Splits "name(t1,…)" or "name(t1,…)(r1,…)" into name, params and (optional) returns. */
AK_MUST ak_err ak_abi_parse_signature(ak_arena *arena, ak_cur sig, ak_cur *name, ak_abi_type *params,
                                      ak_abi_type *returns, bool *has_returns);
/* Appends the canonical type text ("(bytes32,uint256[])" for a tuple). */
AK_MUST ak_err ak_abi_type_append(const ak_abi_type *t, ak_buf *out);
/* True when the type is dynamically encoded. */
bool ak_abi_type_is_dynamic(const ak_abi_type *t);

/* ---- strict decoding ---- */
typedef struct ak_abi_dec {
    ak_cur all;        /* the enclosing block: offsets of this tuple are relative to all.ptr */
    size_t head;       /* next head word of this tuple, relative to all.ptr */
    size_t base;       /* all.ptr's offset from the root data (for the coverage check) */
    size_t *hiwater;   /* root's furthest byte read (shared with nested decoders) */
    size_t root_hi;    /* storage for hiwater in a root decoder */
    size_t first_tail; /* smallest tail offset followed from this head (SIZE_MAX: none yet) */
    unsigned depth;
} ak_abi_dec;

void ak_abi_dec_init(ak_abi_dec *d, ak_cur data);
/* The next raw head word, unchecked. */
AK_MUST ak_err ak_abi_dec_word(ak_abi_dec *d, uint8_t out[32]);
AK_MUST ak_err ak_abi_dec_bytes32(ak_abi_dec *d, uint8_t out[32]);
/* bytesN, 1..32: the low 32-n bytes of the word must be zero. */
AK_MUST ak_err ak_abi_dec_fixed_bytes(ak_abi_dec *d, unsigned n, uint8_t *out);
/* uintN (bits 8..256): the word must fit in `bits`. */
AK_MUST ak_err ak_abi_dec_uint(ak_abi_dec *d, unsigned bits, ak_u256 *out);
/* uintN into a u64: AK_E_INVALID_INPUT when the word does not fit `bits`, AK_E_LIMIT when it is a
 * valid uintN (N > 64) that does not fit 64 bits. */
AK_MUST ak_err ak_abi_dec_u64(ak_abi_dec *d, unsigned bits, uint64_t *out);
AK_MUST ak_err ak_abi_dec_bool(ak_abi_dec *d, bool *out);
AK_MUST ak_err ak_abi_dec_address(ak_abi_dec *d, uint8_t out[20]);
/* bytes / string: follows the offset; `out` points into the input. */
AK_MUST ak_err ak_abi_dec_bytes(ak_abi_dec *d, ak_cur *out);
AK_MUST ak_err ak_abi_dec_string(ak_abi_dec *d, ak_cur *out);
/* A dynamic tuple member: follows the offset; `sub` reads the tuple's own head. */
AK_MUST ak_err ak_abi_dec_tuple(ak_abi_dec *d, ak_abi_dec *sub);
/* T[]: follows the offset, reads the length; `sub` reads the `count` element heads (for
 * bytes32[]: ak_abi_dec_bytes32 `count` times). The count is bounded by the data left. */
AK_MUST ak_err ak_abi_dec_array(ak_abi_dec *d, ak_abi_dec *sub, size_t *count);
/* Root decoder only, after the last member: the furthest byte read is the end of the input (no
 * trailing data) and the head was read up to the first tail (or to the end when there is none).
 * The decoder must not be copied after ak_abi_dec_init (nested decoders point into it). */
AK_MUST ak_err ak_abi_dec_finish(const ak_abi_dec *d);

/*
 * Generic decode of `data` as the tuple type `t` into a value tree allocated in `arena`
 * (out->kind == AK_ABI_TUPLE). Data views point into `data`. Strict as the getters above, and
 * the whole input must be consumed. AK_E_LIMIT when the arena or AK_ABI_MAX_ITEMS runs out.
 */
AK_MUST ak_err ak_abi_decode(ak_arena *arena, const ak_abi_type *t, ak_cur data, ak_abi_val *out);

#endif
