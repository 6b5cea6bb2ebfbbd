/*
 * cli/passkey_browser.h — the `browser` passkey backend of `agentkeys` (issue 15): the WebAuthn
 * ceremony runs in a real browser on a one-time page the CLI itself serves on loopback.
 *
 *   --passkey browser          the credential's public record in
 *                              $XDG_CONFIG_HOME/agentkeys/<profile>.passkey-browser.json
 *   --passkey browser:FILE     ... in FILE
 *
 * The record (JSON, 0600, no secret: the private key never leaves the authenticator):
 *   {"backend":"browser","rp_id","rp_id_hash","credential_id" (base64url raw id),
 *    "cred_id" (the bytes32 put on chain: the raw id when it is 32 bytes, else sha256(raw id)),
 *    "pub_x","pub_y"}
 *
 * Each ceremony (navigator.credentials.create to enroll, .get to assert) is one page at
 * http://localhost:<random port>/<one-time token>, bound to 127.0.0.1 only. The URL is printed on
 * stderr (and opened with xdg-open only when `passkey_browser_open` is 1 and a display is set).
 * The page can be loaded once (a second load aborts the ceremony: someone else has the link);
 * its result comes back by POST (same origin, Host checked, page nonce) and is checked here
 * before anything is sent: clientDataJSON parsed as JSON (type, challenge, origin; any member
 * order), rpIdHash = sha256(rpId), UP and UV set, the sign count above the chain's, the
 * credential id the enrolled one, and the signature verified against the enrolled key.
 * Settings: passkey_rp_id (default `localhost`, used when the command's rp id is its software
 * default), passkey_browser_timeout (seconds the link stays valid, default 300, 5..3600).
 */
#ifndef AKCLI_PASSKEY_BROWSER_H
#define AKCLI_PASSKEY_BROWSER_H

#include "passkey.h"

extern const akcli_passkey_ops akcli_passkey_browser_ops; /* prefix "browser:" */
/* `--passkey browser` (no file): the default record path for this profile. */
int akcli_passkey_browser_open(akcli *c, akcli_passkey *out);

#endif
