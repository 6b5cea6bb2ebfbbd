/* json.c — strict helpers over jansson (see ak/json.h). */
#include "ak/json.h"

#include <string.h>

ak_err ak_json_parse_object(ak_cur text, json_t **out) {
    json_error_t jerr;
    *out = NULL;
    json_t *v = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, &jerr);
    AK_ENSURE(v != NULL, AK_E_INVALID_JSON);
    if (!json_is_object(v)) {
        json_decref(v);
        return AK_E_WRONG_TYPE;
    }
    *out = v;
    return AK_OK;
}

ak_err ak_json_str_opt(const json_t *obj, const char *key, ak_cur *out, bool *present) {
    json_t *v = json_object_get(obj, key);
    *present = false;
    if (v == NULL || json_is_null(v)) return AK_OK;
    AK_ENSURE(json_is_string(v), AK_E_WRONG_TYPE);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    /* Embedded NULs would make C-string consumers see a different value than we checked. */
    AK_ENSURE(memchr(s, 0, n) == NULL, AK_E_INVALID_INPUT);
    *out = (ak_cur){(const uint8_t *)s, n};
    *present = true;
    return AK_OK;
}

ak_err ak_json_str(const json_t *obj, const char *key, ak_cur *out) {
    bool present;
    AK_GUARD(ak_json_str_opt(obj, key, out, &present));
    AK_ENSURE(present, AK_E_MISSING_FIELD);
    return AK_OK;
}

ak_err ak_json_u64_opt(const json_t *obj, const char *key, uint64_t *out, bool *present) {
    json_t *v = json_object_get(obj, key);
    *present = false;
    if (v == NULL || json_is_null(v)) return AK_OK;
    AK_ENSURE(json_is_integer(v), AK_E_WRONG_TYPE);
    json_int_t i = json_integer_value(v);
    AK_ENSURE(i >= 0, AK_E_INVALID_INPUT);
    *out = (uint64_t)i;
    *present = true;
    return AK_OK;
}

ak_err ak_json_u64(const json_t *obj, const char *key, uint64_t *out) {
    bool present;
    AK_GUARD(ak_json_u64_opt(obj, key, out, &present));
    AK_ENSURE(present, AK_E_MISSING_FIELD);
    return AK_OK;
}

ak_err ak_json_bool_opt(const json_t *obj, const char *key, bool *out, bool *present) {
    json_t *v = json_object_get(obj, key);
    *present = false;
    if (v == NULL || json_is_null(v)) return AK_OK;
    AK_ENSURE(json_is_boolean(v), AK_E_WRONG_TYPE);
    *out = json_is_true(v);
    *present = true;
    return AK_OK;
}

ak_err ak_json_only_keys(const json_t *obj, const char *const *allowed) {
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        (void)val;
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0) {
                ok = true;
                break;
            }
        AK_ENSURE(ok, AK_E_UNKNOWN_FIELD);
    }
    return AK_OK;
}

static ak_err s_dump(const json_t *v, ak_buf *out, size_t flags) {
    flags |= JSON_COMPACT | JSON_ENCODE_ANY;
    /*
     * jansson 2.14's dumper ignores some failed internal allocations and can return a
     * document with bytes missing while reporting success (dump.c, unchecked dump_string).
     * Measure first, dump into our own buffer, and treat any size mismatch as out of memory.
     */
    size_t need = json_dumpb(v, NULL, 0, flags);
    AK_ENSURE(need > 0, AK_E_NOMEM);
    AK_GUARD(ak_buf_reserve(out, need));
    size_t got = json_dumpb(v, (char *)out->ptr + out->len, need, flags);
    if (got != need) {
        out->ptr[out->len] = 0;
        return AK_E_NOMEM;
    }
    out->len += need;
    out->ptr[out->len] = 0;
    return AK_OK;
}

ak_err ak_json_dump(const json_t *v, ak_buf *out) { return s_dump(v, out, JSON_PRESERVE_ORDER); }
ak_err ak_json_dump_sorted(const json_t *v, ak_buf *out) { return s_dump(v, out, JSON_SORT_KEYS); }

json_t *ak_json_string_cur(ak_cur c) { return json_stringn((const char *)c.ptr, c.len); }
