/*
 * ak/usepolicy.h — use without holding (decision D19; docs/spec/use-policy.md is the wire
 * format). Pure: the policy a credential is sealed with, the framing that binds it to the
 * secret inside a 0x05 envelope (ak/envelope.h), the check of an agent's request against it,
 * the injection of the secret into the outbound request, and the redaction of the secret from
 * the answer. The worker (ak/worker.h, op "use") does the I/O; ak/egress.h makes the call.
 *
 * Policy (the store body's "policy" member; unknown members → AK_E_USE_POLICY_INVALID):
 *   {"use_only":bool?, "allowed_hosts":[HOST…], "allowed_methods":[METHOD…]?,
 *    "inject": {"header":NAME,"template":"… {} …"?} | {"basic":{"username":U}} | {"query":NAME}}
 *   HOST     lowercase DNS name ([a-z0-9-] labels of 1..63, ≤ 253, ≥ 2 labels, last label not
 *            all digits: no IP literals) or "*." + such a name (any name with at least one more
 *            label: "*.example.org" matches "a.example.org", "a.b.example.org", never
 *            "example.org" or "evil-example.org"); optional ":PORT" (1..65535), default 443.
 *            1..AK_USE_MAX_HOSTS entries.
 *   METHOD   GET HEAD POST PUT PATCH DELETE OPTIONS (exact, upper case); absent = all seven.
 *   header   NAME an RFC 9110 token ≤ 64 chars, not a framing/hop-by-hop header (host,
 *            content-length, transfer-encoding, connection, keep-alive, te, trailer, upgrade,
 *            expect, proxy-*) nor accept-encoding, range, if-range; template printable ASCII ≤ 256 with exactly one "{}" (default "{}").
 *   basic    "Authorization: Basic base64(U ":" secret)"; U printable ASCII ≤ 128 without ':'.
 *   query    NAME [A-Za-z0-9._~-]{1,64}; "NAME=" + percent-encoded secret appended to the query.
 * A credential with a policy has a secret of AK_USE_SECRET_MIN..AK_USE_SECRET_MAX bytes of
 * printable ASCII (0x20..0x7e): it goes into a header line, and short secrets cannot be
 * redacted without mangling unrelated text (AK_E_USE_POLICY_INVALID otherwise).
 *
 * Framing (the plaintext of a 0x05 envelope): u16 big-endian policy length L (1..
 * AK_USE_MAX_POLICY) ‖ L bytes canonical policy ‖ the secret. Canonical policy = the parsed
 * policy written back as compact JSON with keys sorted bytewise and "v":1 added
 * (ak_use_policy_encode); ak_use_unframe accepts only canonical bytes.
 */
#ifndef AK_USEPOLICY_H
#define AK_USEPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ak/bytes.h"
#include "ak/err.h"

#define AK_USE_MAX_HOSTS 16u
#define AK_USE_MAX_HOST 253u
#define AK_USE_MAX_POLICY 4096u
#define AK_USE_SECRET_MIN 8u
#define AK_USE_SECRET_MAX 4096u
#define AK_USE_MAX_HEADERS 32u /* agent headers per request */
#define AK_USE_MAX_HEADER_NAME 64u
#define AK_USE_MAX_URL 8192u
#define AK_USE_MAX_NEEDLES 16u
#define AK_USE_REDACTED "[REDACTED]"
/* Any run of the raw secret this long or longer is redacted too (a truncated reflection). */
#define AK_USE_FRAGMENT 12u

/* Method bits. */
enum {
    AK_USE_GET = 1u << 0,
    AK_USE_HEAD = 1u << 1,
    AK_USE_POST = 1u << 2,
    AK_USE_PUT = 1u << 3,
    AK_USE_PATCH = 1u << 4,
    AK_USE_DELETE = 1u << 5,
    AK_USE_OPTIONS = 1u << 6,
    AK_USE_ALL_METHODS = (1u << 7) - 1u,
};

typedef enum ak_use_inject {
    AK_USE_INJECT_HEADER = 0,
    AK_USE_INJECT_BASIC,
    AK_USE_INJECT_QUERY
} ak_use_inject;

typedef struct ak_use_host {
    char name[AK_USE_MAX_HOST + 1]; /* without the "*." */
    bool wildcard;
    unsigned port; /* 443 unless given */
    bool has_port; /* ":PORT" was written (kept in the canonical form) */
} ak_use_host;

typedef struct ak_use_policy {
    bool use_only;
    size_t n_hosts;
    ak_use_host hosts[AK_USE_MAX_HOSTS];
    bool has_methods;
    unsigned methods; /* AK_USE_* bits; AK_USE_ALL_METHODS when !has_methods */
    ak_use_inject inject;
    char name[AK_USE_MAX_HEADER_NAME + 1]; /* header name or query parameter */
    char tmpl[257];                        /* header template (contains "{}" once) */
    bool has_tmpl;
    char username[129]; /* basic */
} ak_use_policy;

/* Strict read of a policy object (the store body's member, see top). AK_E_USE_POLICY_INVALID
 * for every problem (also a "v" other than 1), AK_E_NOMEM. */
AK_MUST ak_err ak_use_policy_from_json(const json_t *o, ak_use_policy *out);
/* Appends the canonical bytes (see top). AK_E_NOMEM / AK_E_LIMIT. */
AK_MUST ak_err ak_use_policy_encode(const ak_use_policy *p, ak_buf *out);
/* The policy as a JSON object (the canonical members; caller json_decref's). NULL on ENOMEM. */
json_t *ak_use_policy_to_json(const ak_use_policy *p);
/* AK_OK when `secret` may carry a policy (length and bytes, see top); else USE_POLICY_INVALID. */
AK_MUST ak_err ak_use_secret_check(ak_cur secret);

/* Appends u16be(L) ‖ canonical policy ‖ secret to `out` (a secret buffer). Checks the secret. */
AK_MUST ak_err ak_use_frame(const ak_use_policy *p, ak_cur secret, ak_buf *out);
/* Splits a 0x05 plaintext: the policy (canonical bytes only) and a view of the secret inside
 * `plain`. AK_E_DECRYPT_FAILED for any malformed framing (it was authenticated: only a bug
 * writes one), AK_E_NOMEM. */
AK_MUST ak_err ak_use_unframe(ak_cur plain, ak_use_policy *p, ak_cur *secret);

/* ---- the agent's request ---- */

/* Method word → bit; 0 for anything outside the seven. */
unsigned ak_use_method_bit(ak_cur m);
/* True when `host` (lowercase) and `port` match one entry (exact, or *.suffix with at least
 * one more label; ports equal). */
bool ak_use_host_allowed(const ak_use_policy *p, ak_cur host, unsigned port);

/* The outbound call, built by ak_use_plan. Holds the secret (url for query injection, one
 * header value): free it with ak_use_call_free (wipes). */
typedef struct ak_use_call {
    char method[8];
    char host[AK_USE_MAX_HOST + 1];
    unsigned port;
    ak_buf url;  /* secret buffer: "https://host[:port]/path[?query]" */
    ak_buf path; /* path without the query, for the audit row */
    size_t n_headers;
    char names[AK_USE_MAX_HEADERS + 1][AK_USE_MAX_HEADER_NAME + 1];
    ak_buf values; /* secret buffer: the values, each NUL-terminated, at voff[i] */
    size_t voff[AK_USE_MAX_HEADERS + 1];
} ak_use_call;

void ak_use_call_init(ak_use_call *c);
void ak_use_call_free(ak_use_call *c);
static inline const char *ak_use_call_value(const ak_use_call *c, size_t i) {
    return (const char *)c->values.ptr + c->voff[i];
}

/*
 * Checks the agent's request against the policy and builds the call with the secret injected.
 * First failure wins:
 *   method not one of the seven → AK_E_INVALID_INPUT
 *   URL scheme other than https (http:// included) → AK_E_SCHEME_NOT_ALLOWED
 *   URL malformed (userinfo, fragment, bad port, non-printable, > AK_USE_MAX_URL, IPv6 literal
 *     or a host that is not a DNS name) → AK_E_INVALID_INPUT, except that an IP literal host is
 *     AK_E_HOST_NOT_ALLOWED (a policy never names one)
 *   host/port not in allowed_hosts → AK_E_HOST_NOT_ALLOWED
 *   method not in allowed_methods → AK_E_METHOD_NOT_ALLOWED
 *   headers (NULL = none; else an object of string values): more than AK_USE_MAX_HEADERS, a
 *     bad name or value (CR/LF/NUL), a framing/hop-by-hop header, the injected header (or
 *     Authorization for basic), or for query injection the URL already naming the parameter
 *     → AK_E_INVALID_INPUT
 * The URL's host is lowercased; everything else is kept byte for byte.
 */
AK_MUST ak_err ak_use_plan(const ak_use_policy *p, ak_cur secret, ak_cur method, ak_cur url,
                           const json_t *headers, ak_use_call *out);

/* ---- redaction ---- */

/* The encodings of one secret that are removed from an answer (docs/spec/use-policy.md §6):
 * raw; standard base64 padded (standalone) and its three alignment cores; URL-safe base64
 * unpadded (standalone) and its three cores; percent-encoded (upper and lower hex, and the
 * form variant with '+' for space); JSON-escaped; hex (lower, upper). Duplicates are dropped;
 * longest first. Then every run of ≥ AK_USE_FRAGMENT bytes that is a substring of the raw
 * secret (a prefix cut short by an upstream's error message, say) is redacted as one. */
typedef struct ak_use_redactor {
    ak_buf text; /* secret buffer: the needles back to back */
    size_t off[AK_USE_MAX_NEEDLES];
    size_t len[AK_USE_MAX_NEEDLES];
    size_t n;
    /* fragments: every AK_USE_FRAGMENT-byte window of the raw secret (hash, offset), sorted */
    ak_buf raw; /* secret buffer: the secret */
    uint64_t *wh;
    uint32_t *wo;
    size_t nw;
} ak_use_redactor;

AK_MUST ak_err ak_use_redactor_init(ak_use_redactor *r, ak_cur secret);
void ak_use_redactor_free(ak_use_redactor *r); /* wipes */
/* Replaces every occurrence of every needle in `data` (any buffer) by AK_USE_REDACTED, adding
 * the count to *count, and checks that none is left (AK_E_REDACTION_FAILED otherwise, with
 * `data` cleared). AK_E_NOMEM / AK_E_LIMIT. */
AK_MUST ak_err ak_use_redact(const ak_use_redactor *r, ak_buf *data, size_t *count);

/*
 * The answer of /v1/cred/use, appended to `out`:
 *   {"ok":true,"status":N,"headers":[["name","value"],…],"body_b64":"…","redactions":n}
 * `header_lines` is the upstream's "name:value\n" block (ak_http_response.headers); framing and
 * hop-by-hop headers (connection, keep-alive, transfer-encoding, content-length, te, trailer,
 * upgrade, proxy-connection) are dropped; names and values are redacted, as is (a copy of)
 * `body`. Non-ASCII bytes in header values are escaped as \u00XX (Latin-1). A Content-Encoding
 * other than identity → AK_E_REDACTION_FAILED (a compressed body cannot be redacted).
 */
AK_MUST ak_err ak_use_answer(const ak_use_redactor *r, long status, ak_cur header_lines, ak_cur body,
                             ak_buf *out, size_t *redactions);

#endif
