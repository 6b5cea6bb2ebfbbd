/*
 * ak/json.h — thin, strict helpers over jansson.
 *
 * Parsing rejects duplicate keys, trailing data and NUL bytes inside strings; field getters
 * return a typed error (missing_field / wrong_type) so handlers map bad input to a clear 4xx.
 * Strings returned as ak_cur point into the json_t and live as long as it does.
 */
#ifndef AK_JSON_H
#define AK_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"

/* Parses a whole document that must be an object. Returns AK_E_INVALID_JSON or AK_E_WRONG_TYPE. */
AK_MUST ak_err ak_json_parse_object(ak_cur text, json_t **out);
/* Required string field. */
AK_MUST ak_err ak_json_str(const json_t *obj, const char *key, ak_cur *out);
/* Optional string field: *present=false when absent or JSON null. */
AK_MUST ak_err ak_json_str_opt(const json_t *obj, const char *key, ak_cur *out, bool *present);
/* Required non-negative integer field (JSON integer, no fraction). */
AK_MUST ak_err ak_json_u64(const json_t *obj, const char *key, uint64_t *out);
AK_MUST ak_err ak_json_u64_opt(const json_t *obj, const char *key, uint64_t *out, bool *present);
AK_MUST ak_err ak_json_bool_opt(const json_t *obj, const char *key, bool *out, bool *present);
/* Rejects any member not in the NULL-terminated `allowed` list (AK_E_UNKNOWN_FIELD). */
AK_MUST ak_err ak_json_only_keys(const json_t *obj, const char *const *allowed);
/* Serialises compactly (no spaces, keys in insertion order) and appends to `out`. */
AK_MUST ak_err ak_json_dump(const json_t *v, ak_buf *out);
/* Serialises with sorted keys (canonical form used where bytes are hashed). */
AK_MUST ak_err ak_json_dump_sorted(const json_t *v, ak_buf *out);
/* json_stringn from a cursor; NULL on failure. */
json_t *ak_json_string_cur(ak_cur c);

#endif
