/*
 * ak/identity.h — identities, names and classes shared by the broker, the workers, the SES
 * router and the audit flush. Pure functions: no network, no allocation.
 *
 * Identifiers (decisions D16, identities.md §1):
 *   omni(addr)        = SHA256("agentkeys" ‖ "evm" ‖ lowercase "0x…" address text)   32 bytes
 *   device_key_hash   = keccak256(address, the 20 raw bytes)                          32 bytes
 *   scope id (D2)     = keccak256(data_class ":" service), e.g. "credentials:openrouter"
 *   service hash      = keccak256(service)  (the cap PoP's svc_hash, caps.md §4; see ak/cap.h)
 *
 * Text forms of 32-byte ids on the wire: "0x" + 64 hex or bare 64 hex, either case, are
 * accepted (ak_omni_parse, ak_hash32_parse); our canonical output is bare lowercase 64 hex
 * (ak_omni_hex) and, where a field is specified with a prefix (cap claims, caps.md §6),
 * "0x" + lowercase (ak_omni_hex0x).
 *
 * Service names (D3): [a-z0-9][a-z0-9._-]{0,63}. Never lowercased silently: "OpenRouter" is
 * rejected with AK_E_INVALID_SERVICE, not turned into "openrouter". Memory namespaces use the
 * same grammar (they take the service's place in the memory class: scope "memory:<namespace>",
 * key bots/<actor>/memory/<namespace>.enc, D2/D9) and fail with AK_E_INVALID_NAMESPACE.
 *
 * Operations (decision recorded here; caps.md §1 + D10): the cap's `op` claim is one of
 * "store", "fetch", "teardown" for every data class, and "use" (D19) for credentials only. The
 * memory routes say put/get, but they
 * are route verbs, not op values:
 *
 *   route                          op         data_class    who may mint
 *   POST /v1/cap/cred-store        store      credentials   agent or master
 *   POST /v1/cap/cred-fetch        fetch      credentials   agent or master
 *   POST /v1/cap/cred-teardown     teardown   credentials   master only (D10)
 *   POST /v1/cap/memory-put        store      memory        agent or master
 *   POST /v1/cap/memory-get        fetch      memory        agent or master
 *   POST /v1/cap/memory-teardown   teardown   memory        master only (D10)
 *   POST /v1/cap/cred-use          use        credentials   agent or master (D19)
 *   POST /v1/cred/{store,fetch,teardown,use} worker routes, same op, credentials
 *   POST /v1/memory/{put,get,teardown}       worker routes, store/fetch/teardown, memory
 *
 * so "put"/"get" never appear as an `op` string (ak_op_parse rejects them). The numeric
 * values of ak_op keep the seed's CapOp numbering (store 0, fetch 1, teardown 2, caps.md §1);
 * our CredentialAudit has no op codes (audit leaves are whole events, ak/audit.h).
 * The mail class has no cap routes (the SES router writes mail; no caps are minted for it).
 */
#ifndef AK_IDENTITY_H
#define AK_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"

/* ---- omni ids ---- */

typedef struct ak_omni {
    uint8_t b[32];
} ak_omni;

#define AK_OMNI_HEX_LEN 64u   /* bare lowercase form, without NUL */
#define AK_OMNI_HEX0X_LEN 66u /* "0x" form, without NUL */

/* omni of an EVM address (D16): SHA256("agentkeys" ‖ "evm" ‖ "0x" + 40 lowercase hex). */
void ak_omni_from_address(const uint8_t addr[20], ak_omni *out);
/* Same from address text ("0x" + 40 hex, either case; the EIP-55 checksum is not enforced).
 * Returns AK_E_INVALID_ADDRESS when the text is not an address. */
AK_MUST ak_err ak_omni_from_address_text(ak_cur addr_text, ak_omni *out);
/* Parses an omni id: "0x"/"0X" + 64 hex, or bare 64 hex, either case; nothing else (no
 * spaces, no other length). Returns AK_E_INVALID_OMNI, *out untouched on failure. */
AK_MUST ak_err ak_omni_parse(ak_cur text, ak_omni *out);
/* Canonical text: 64 lowercase hex + NUL (65 bytes). */
void ak_omni_hex(const ak_omni *o, char out[AK_OMNI_HEX_LEN + 1]);
/* "0x" + 64 lowercase hex + NUL (67 bytes), the form of cap claims (caps.md §6). */
void ak_omni_hex0x(const ak_omni *o, char out[AK_OMNI_HEX0X_LEN + 1]);
/* Equality of two ids (ids are public; plain compare). */
bool ak_omni_eq(const ak_omni *a, const ak_omni *b);

/* ---- other 32-byte hashes (device_key_hash, scope ids) ---- */

/* device_key_hash (identities.md §2) = keccak256(addr20). */
void ak_device_key_hash(const uint8_t addr[20], uint8_t out[32]);
/* Parses "0x" + 64 hex or bare 64 hex (either case) into 32 bytes. Returns AK_E_BAD_HEX. */
AK_MUST ak_err ak_hash32_parse(ak_cur text, uint8_t out[32]);
/* "0x" + 64 lowercase hex + NUL (67 bytes). */
void ak_hash32_hex0x(const uint8_t h[32], char out[67]);

/* ---- service names and memory namespaces (D3) ---- */

/* AK_OK when `s` matches [a-z0-9][a-z0-9._-]{0,63}; AK_E_INVALID_SERVICE otherwise. */
AK_MUST ak_err ak_service_validate(ak_cur s);
/* Same grammar; AK_E_INVALID_NAMESPACE otherwise. */
AK_MUST ak_err ak_namespace_validate(ak_cur s);

/* ---- data classes and operations ---- */

typedef enum ak_data_class {
    AK_CLASS_CREDENTIALS = 0, /* "credentials" */
    AK_CLASS_MEMORY = 1,      /* "memory" */
    AK_CLASS_MAIL = 2,        /* "mail" */
} ak_data_class;

typedef enum ak_op {
    AK_OP_STORE = 0,    /* "store": cred-store, memory-put */
    AK_OP_FETCH = 1,    /* "fetch": cred-fetch, memory-get */
    AK_OP_TEARDOWN = 2, /* "teardown": cred-teardown, memory-teardown (master only, D10) */
    AK_OP_USE = 3,      /* "use": cred-use, credentials only (D19, docs/spec/use-policy.md) */
} ak_op;

/* Static strings; misuse (a value outside the enum) aborts. */
const char *ak_data_class_str(ak_data_class c);
const char *ak_op_str(ak_op op);
/* Exact, case-sensitive parse of the strings above. AK_E_INVALID_INPUT otherwise. */
AK_MUST ak_err ak_data_class_parse(ak_cur s, ak_data_class *out);
AK_MUST ak_err ak_op_parse(ak_cur s, ak_op *out);

/* What a route means (see the table at the top). */
typedef struct ak_route_info {
    ak_op op;
    ak_data_class data_class;
    bool cap_mint;    /* true for /v1/cap/..., false for the worker routes */
    bool master_only; /* teardown (D10) */
} ak_route_info;

/* Looks up an HTTP path ("/v1/cap/memory-put", "/v1/memory/put", …); exact match, no trailing
 * slash, no query. Returns AK_E_ROUTE_NOT_FOUND for anything else. */
AK_MUST ak_err ak_route_lookup(ak_cur path, ak_route_info *out);

/* ---- scope ids (D2) and service hashes (caps.md §4) ---- */

/* keccak256(data_class ":" service). (ak/evm.h's ak_scope_id computes the same hash from raw
 * strings without validation; this is the checked form.) Validates the service (AK_E_INVALID_SERVICE; for the
 * memory class the name is a namespace: AK_E_INVALID_NAMESPACE). */
AK_MUST ak_err ak_scope_id_of(ak_data_class c, ak_cur service, uint8_t out[32]);
/* keccak256(service) after validation (AK_E_INVALID_SERVICE). */
AK_MUST ak_err ak_service_hash(ak_cur service, uint8_t out[32]);

#endif
