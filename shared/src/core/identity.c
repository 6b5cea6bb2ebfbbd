/* identity.c — omni ids, device key hashes, names, classes, ops, routes (see ak/identity.h). */
#include "ak/identity.h"

#include <string.h>

#include "ak/crypto.h"

void ak_omni_from_address(const uint8_t addr[20], ak_omni *out) {
    AK_PRECOND(addr != NULL && out != NULL);
    /* D16 / identities.md §1: the input is the ASCII string "agentkeysevm0x<40 lowercase hex>",
     * concatenated raw with no separator (vector: address 0 → c3f7249a…ee5f). */
    char text[9 + 3 + 2 + 40 + 1];
    memcpy(text, "agentkeysevm0x", 14);
    ak_hex_encode(addr, 20, text + 14);
    ak_sha256(text, 14 + 40, out->b);
}

ak_err ak_omni_from_address_text(ak_cur addr_text, ak_omni *out) {
    uint8_t addr[20];
    AK_ENSURE(ak_eth_address_parse(addr_text, addr) == AK_OK, AK_E_INVALID_ADDRESS);
    ak_omni_from_address(addr, out);
    return AK_OK;
}

static bool s_is_hex_digit(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Accepts "0x"/"0X" + 64 hex or bare 64 hex; anything else false. */
static bool s_hex32_text(ak_cur text, ak_cur *digits) {
    if (text.len == 66 && text.ptr[0] == '0' && (text.ptr[1] == 'x' || text.ptr[1] == 'X')) {
        text.ptr += 2;
        text.len -= 2;
    }
    if (text.len != 64) return false;
    for (size_t i = 0; i < 64; i++)
        if (!s_is_hex_digit(text.ptr[i])) return false;
    *digits = text;
    return true;
}

ak_err ak_omni_parse(ak_cur text, ak_omni *out) {
    AK_PRECOND(out != NULL);
    ak_cur digits;
    AK_ENSURE(s_hex32_text(text, &digits), AK_E_INVALID_OMNI);
    AK_ENSURE(ak_hex_decode_exact(digits, false, out->b, 32) == AK_OK, AK_E_INVALID_OMNI);
    return AK_OK;
}

void ak_omni_hex(const ak_omni *o, char out[AK_OMNI_HEX_LEN + 1]) {
    AK_PRECOND(o != NULL && out != NULL);
    ak_hex_encode(o->b, 32, out);
}

void ak_omni_hex0x(const ak_omni *o, char out[AK_OMNI_HEX0X_LEN + 1]) {
    AK_PRECOND(o != NULL && out != NULL);
    ak_hash32_hex0x(o->b, out);
}

bool ak_omni_eq(const ak_omni *a, const ak_omni *b) { return memcmp(a->b, b->b, 32) == 0; }

void ak_device_key_hash(const uint8_t addr[20], uint8_t out[32]) {
    AK_PRECOND(addr != NULL && out != NULL);
    ak_keccak256(addr, 20, out);
}

ak_err ak_hash32_parse(ak_cur text, uint8_t out[32]) {
    AK_PRECOND(out != NULL);
    ak_cur digits;
    AK_ENSURE(s_hex32_text(text, &digits), AK_E_BAD_HEX);
    return ak_hex_decode_exact(digits, false, out, 32);
}

void ak_hash32_hex0x(const uint8_t h[32], char out[67]) {
    out[0] = '0';
    out[1] = 'x';
    ak_hex_encode(h, 32, out + 2);
}

/* D3: [a-z0-9][a-z0-9._-]{0,63}. Uppercase is an error, never folded. */
static bool s_name_ok(ak_cur s) {
    if (s.len == 0 || s.len > 64) return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
    }
    return true;
}

ak_err ak_service_validate(ak_cur s) { return s_name_ok(s) ? AK_OK : AK_E_INVALID_SERVICE; }
ak_err ak_namespace_validate(ak_cur s) { return s_name_ok(s) ? AK_OK : AK_E_INVALID_NAMESPACE; }

static const char *const s_class_names[] = {"credentials", "memory", "mail"};
static const char *const s_op_names[] = {"store", "fetch", "teardown", "use"};

const char *ak_data_class_str(ak_data_class c) {
    AK_PRECOND((unsigned)c < sizeof(s_class_names) / sizeof(s_class_names[0]));
    return s_class_names[c];
}

const char *ak_op_str(ak_op op) {
    AK_PRECOND((unsigned)op < sizeof(s_op_names) / sizeof(s_op_names[0]));
    return s_op_names[op];
}

ak_err ak_data_class_parse(ak_cur s, ak_data_class *out) {
    for (unsigned i = 0; i < sizeof(s_class_names) / sizeof(s_class_names[0]); i++)
        if (ak_cur_eq_str(s, s_class_names[i])) {
            *out = (ak_data_class)i;
            return AK_OK;
        }
    return AK_E_INVALID_INPUT;
}

ak_err ak_op_parse(ak_cur s, ak_op *out) {
    for (unsigned i = 0; i < sizeof(s_op_names) / sizeof(s_op_names[0]); i++)
        if (ak_cur_eq_str(s, s_op_names[i])) {
            *out = (ak_op)i;
            return AK_OK;
        }
    return AK_E_INVALID_INPUT;
}

static const struct {
    const char *path;
    ak_route_info info;
} s_routes[] = {
    {"/v1/cap/cred-store", {AK_OP_STORE, AK_CLASS_CREDENTIALS, true, false}},
    {"/v1/cap/cred-fetch", {AK_OP_FETCH, AK_CLASS_CREDENTIALS, true, false}},
    {"/v1/cap/cred-teardown", {AK_OP_TEARDOWN, AK_CLASS_CREDENTIALS, true, true}},
    {"/v1/cap/memory-put", {AK_OP_STORE, AK_CLASS_MEMORY, true, false}},
    {"/v1/cap/memory-get", {AK_OP_FETCH, AK_CLASS_MEMORY, true, false}},
    {"/v1/cap/memory-teardown", {AK_OP_TEARDOWN, AK_CLASS_MEMORY, true, true}},
    {"/v1/cred/store", {AK_OP_STORE, AK_CLASS_CREDENTIALS, false, false}},
    {"/v1/cred/fetch", {AK_OP_FETCH, AK_CLASS_CREDENTIALS, false, false}},
    {"/v1/cred/teardown", {AK_OP_TEARDOWN, AK_CLASS_CREDENTIALS, false, true}},
    {"/v1/memory/put", {AK_OP_STORE, AK_CLASS_MEMORY, false, false}},
    {"/v1/memory/get", {AK_OP_FETCH, AK_CLASS_MEMORY, false, false}},
    {"/v1/memory/teardown", {AK_OP_TEARDOWN, AK_CLASS_MEMORY, false, true}},
    /* D19: use without holding (credentials only). */
    {"/v1/cap/cred-use", {AK_OP_USE, AK_CLASS_CREDENTIALS, true, false}},
    {"/v1/cred/use", {AK_OP_USE, AK_CLASS_CREDENTIALS, false, false}},
};

ak_err ak_route_lookup(ak_cur path, ak_route_info *out) {
    AK_PRECOND(out != NULL);
    for (size_t i = 0; i < sizeof(s_routes) / sizeof(s_routes[0]); i++)
        if (ak_cur_eq_str(path, s_routes[i].path)) {
            *out = s_routes[i].info;
            return AK_OK;
        }
    return AK_E_ROUTE_NOT_FOUND;
}

ak_err ak_scope_id_of(ak_data_class c, ak_cur service, uint8_t out[32]) {
    AK_PRECOND(out != NULL);
    if (c == AK_CLASS_MEMORY)
        AK_GUARD(ak_namespace_validate(service));
    else
        AK_GUARD(ak_service_validate(service));
    /* D2: the class and the name joined by one ':' — a scope in one class grants nothing in
     * another. The name grammar has no ':', so the encoding is unambiguous. */
    const char *cls = ak_data_class_str(c);
    ak_keccak_ctx k;
    ak_keccak256_init(&k);
    ak_keccak256_update(&k, cls, strlen(cls));
    ak_keccak256_update(&k, ":", 1);
    ak_keccak256_update(&k, service.ptr, service.len);
    ak_keccak256_final(&k, out);
    return AK_OK;
}

ak_err ak_service_hash(ak_cur service, uint8_t out[32]) {
    AK_PRECOND(out != NULL);
    AK_GUARD(ak_service_validate(service));
    ak_keccak256(service.ptr, service.len, out);
    return AK_OK;
}
