/*
 * ak/signer.h — the client of the signer enclave, used by the broker and worker functions
 * (DESIGN §2 layer 5; decisions D4–D7; protocol in enclave/include/aks/api.h).
 *
 * Transport: its own BearSSL client over a kept-alive socket rather than ak/http.h, because the
 * attestation document must be bound to THIS TLS channel: the client compares the document's
 * tls_pub with the server key it saw in the handshake, which curl does not expose. TLS 1.2,
 * ECDHE-ECDSA AES-GCM/ChaCha20, the signer's CA pinned (the only trust anchor), the server name
 * checked, and the function's client certificate (mTLS) presented. Nitro mode without a CA
 * (RA-TLS, issue 18): the signer's key is born in the enclave with a self-signed certificate;
 * the leaf is checked but not its issuer (ak/pki.h ak_pki_x509_capture) and the attestation
 * below, which must bind exactly the handshake's key, is the authentication.
 *
 * Reconnects (issue 19): the session of the last full handshake is offered on the next connect
 * (TLS 1.2 session ID resumption; the signer keeps sessions for at most an hour from their full
 * handshake, in memory only). A resumed connection keeps the server key of that full handshake,
 * so the attestation is not repeated; a refused offer is a full handshake as before.
 *
 * Attestation (ak/attest.h): on every new connection whose server key has not been attested yet,
 * the client sends a fresh 32-byte random nonce to /v1/attest and verifies the document against
 * its pins (local: the attestation key and measurement; nitro: the AWS root, PCRs and the NSM
 * binding — ak/attest.h "the two modes") BEFORE any other request goes out on that connection. Reconnecting to the same signer (same TLS key) does not attest again: the
 * result is cached for the life of the handle (one handle per process).
 *
 * Configuration (ak_signer_config_from_env):
 *   AK_SIGNER_URL           https://HOST:PORT
 *   AK_SIGNER_CA_PEM        path of the signer's CA (pinned); required in local mode, optional in
 *                           nitro mode (unset: RA-TLS as above; set: both checks)
 *   AK_SIGNER_CLIENT_CERT   path of this function's client certificate chain (PEM)
 *   AK_SIGNER_CLIENT_KEY    path of its P-256 key (PEM)
 *   AK_SIGNER_ATTESTATION   local (default) or nitro: which attestation is accepted (ak/attest.h)
 *   AK_SIGNER_ATTEST_PUB    local: pinned attestation key: path of a PEM public key, or 130 hex
 *   AK_SIGNER_MEASUREMENT   expected SHA-384 of the signer binary, 96 hex (local: required;
 *                           nitro: optional, checked in the document's user_data)
 *   AK_SIGNER_PCR0          nitro: required, 96 hex (the enclave image's PCR0; not all zero)
 *   AK_SIGNER_PCR1, _PCR2, _PCR8   nitro: optional further pins, 96 hex
 *   AK_SIGNER_NITRO_ROOT    nitro: optional PEM of the root to pin (default: the built-in AWS
 *                           Nitro Enclaves Root-G1 fingerprint)
 *   AK_SIGNER_SERVER_NAME   optional: the name to verify in the server certificate; default the
 *                           URL host, or "signer.agentkeys.internal" when the host is an IP
 *                           literal (BearSSL matches DNS names only)
 *   AK_SIGNER_TIMEOUT_MS    optional, per call (default 5000)
 *
 * Errors: transport or TLS failure -> AK_E_SIGNER_UNAVAILABLE; attestation -> AK_E_ATTESTATION_INVALID
 * (local mode), the attest_* reason of the failed check (nitro mode), attest_mode_mismatch (a
 * document of the other mode);
 * a signer error response -> the ak_err of its `reason` (e.g. AK_E_ROLE_NOT_ALLOWED,
 * AK_E_EPOCH_NOT_YET), or AK_E_UPSTREAM when the reason is unknown.
 *
 * Not thread-safe: one handle per thread (Lambda functions are single-threaded).
 */
#ifndef AK_SIGNER_H
#define AK_SIGNER_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"

#define AK_SIGNER_KID_MAX 64u
#define AK_SIGNER_DEFAULT_TIMEOUT_MS 5000u
#define AK_SIGNER_DEFAULT_SERVER_NAME "signer.agentkeys.internal"

typedef struct ak_signer ak_signer;

typedef struct ak_signer_config {
    const char *url;
    const char *server_name; /* NULL -> see above */
    const char *ca_pem_path;
    const char *cert_path;
    const char *key_path;
    const char *attest_pub;      /* path or 130 hex */
    const char *measurement_hex; /* 96 hex */
    unsigned timeout_ms;         /* 0 -> default */
    int64_t attest_max_age_ms;   /* 0 -> AK_ATTEST_DEFAULT_MAX_AGE_MS */
    const char *attestation;     /* "local" (NULL too) or "nitro" */
    const char *pcr_hex[4];      /* nitro: PCR0 (required), PCR1, PCR2, PCR8 */
    const char *nitro_root;      /* nitro: optional root PEM path */
    bool no_session_resume;      /* true: every connect a full handshake (measurements) */
} ak_signer_config;

typedef enum { AK_SIGNER_KEY_SESSION = 0, AK_SIGNER_KEY_OIDC = 1, AK_SIGNER_KEY_CAP = 2 } ak_signer_key;

/* Fills `c` from the environment (strings point into the environment). AK_E_CONFIG naming
 * nothing secret when a required variable is missing. */
AK_MUST ak_err ak_signer_config_from_env(ak_signer_config *c);
/* Only the attestation settings (AK_SIGNER_ATTESTATION, _ATTEST_PUB, _MEASUREMENT, _PCR0/1/2/8,
 * _NITRO_ROOT) into `c`, unchecked (ak_signer_new checks them); for callers that build the rest
 * of the config themselves. */
void ak_signer_config_attest_env(ak_signer_config *c);

/* Loads and checks all material (CA, client identity, pinned key, measurement); does not
 * connect. AK_E_CONFIG / AK_E_BAD_KEY on bad settings. */
AK_MUST ak_err ak_signer_new(const ak_signer_config *c, ak_signer **out);
void ak_signer_free(ak_signer *s);

/* Connects (if needed) and attests now. Normally implicit. */
AK_MUST ak_err ak_signer_attest(ak_signer *s);

/* D6 KEK for (data_class, operator, actor, epoch). D20: the signer derives only against the
 * agent's cap — `cap` the compact JWS the worker verified, `op` its route's op ("store", "fetch",
 * "use") — and checks the cap itself (signature, expiry, op, class, PoP, operator, actor, epoch).
 * AK_E_INVALID_INPUT for a cap that is not compact-JWS text (never sent). `kek` is the caller's
 * to wipe. */
AK_MUST ak_err ak_signer_derive_kek(ak_signer *s, const char *data_class, const char *op, ak_cur cap,
                                    const uint8_t operator_omni[32], const uint8_t actor_omni[32],
                                    uint64_t epoch, uint8_t kek[32]);

/* ak_signer_derive_kek in two halves, so the derivation runs at the signer while the caller does
 * other work (issue 19: the worker's chain reads). _send connects if needed and sends the request
 * (nothing is read); _recv reads its reply into `kek` (the caller's to wipe), resending once on a
 * fresh connection when the kept-alive one turned out dead; _abort drops a reply not yet read by
 * closing the connection, so the KEK never enters this process. Any other call on the handle while
 * a reply is pending drops that connection first, and _recv then sends the request again (in
 * sequence). One derive in flight at a time; _pending: one was sent and not yet received/aborted. */
AK_MUST ak_err ak_signer_derive_kek_send(ak_signer *s, const char *data_class, const char *op, ak_cur cap,
                                         const uint8_t operator_omni[32], const uint8_t actor_omni[32],
                                         uint64_t epoch);
AK_MUST ak_err ak_signer_derive_kek_recv(ak_signer *s, uint8_t kek[32]);
void ak_signer_derive_kek_abort(ak_signer *s);
bool ak_signer_derive_pending(const ak_signer *s);

/* The KEK of a 200 /v1/kek/derive reply body ({"kek_b64":…}); AK_E_UPSTREAM when malformed.
 * ak_signer_derive_kek's parser, exposed so the secret-scan test runs it on a reply of the
 * in-process signer. */
AK_MUST ak_err ak_signer_kek_from_reply(ak_cur reply, uint8_t kek[32]);

/* Signs a JWS signing input (ASCII "b64url(header).b64url(payload)", the header naming the kid)
 * with the given key: raw r‖s, and the kid the signer used. */
AK_MUST ak_err ak_signer_sign(ak_signer *s, ak_signer_key key, ak_cur signing_input, uint8_t sig64[64],
                              char kid[AK_SIGNER_KID_MAX]);

/* The current kid of a key (from /v1/keys, fetched once and refreshed by ak_signer_refresh_keys). */
AK_MUST ak_err ak_signer_current_kid(ak_signer *s, ak_signer_key key, char kid[AK_SIGNER_KID_MAX]);
AK_MUST ak_err ak_signer_refresh_keys(ak_signer *s);

/* Raw JWKS JSON of /v1/keys (appended to `out`). */
AK_MUST ak_err ak_signer_keys(ak_signer *s, ak_buf *out);

/* A raw call: method + path + JSON body; the status and body come back whatever the status.
 * `retry_safe` allows one reconnect-and-resend when a kept-alive connection turned out dead. */
AK_MUST ak_err ak_signer_call(ak_signer *s, const char *method, const char *path, ak_cur body,
                              bool retry_safe, long *status, ak_buf *resp);

/* Connections made so far (tests and the bench check keep-alive with it), and how many of them
 * resumed the previous TLS session (an abbreviated handshake: no certificate signature or
 * verification on either side, no ECDHE). */
unsigned ak_signer_connects(const ak_signer *s);
unsigned ak_signer_resumes(const ak_signer *s);
/* Drops the connection (the next call reconnects; attestation is not repeated for the same key). */
void ak_signer_disconnect(ak_signer *s);

#endif
