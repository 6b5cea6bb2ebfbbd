/*
 * cli/passkey_browser.c — the `browser` passkey backend (cli/passkey_browser.h, issue 15).
 *
 * One ceremony = one tiny HTTP/1.1 server on 127.0.0.1:<random port> living for one call:
 * a poll loop over the listening socket and at most S_MAX_CONNS connections (browsers open
 * speculative connections that may never send a byte, so no connection is ever waited on
 * alone), every read bounded by the link's expiry and S_CONN_MS per connection, every
 * connection closed after one response.
 */
#include "passkey_browser.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

#include "ak/alloc.h"
#include "ak/cbor.h"
#include "ak/crypto.h"
#include "ak/http.h"
#include "ak/json.h"

extern char **environ;

#define S_MAX_CONNS 8
#define S_MAX_REQ (64 * 1024)
#define S_CONN_MS 15000
#define S_SOFTWARE_DEFAULT_RPID "agentkeys.local" /* cli/operator.c's default for software passkeys */
#define S_MAX_RAW_ID 1023

/* ================================================================ the record file */

typedef struct s_rec {
    char rp_id[AK_PASSKEY_MAX_RPID + 1];
    uint8_t rp_id_hash[32];
    uint8_t raw_id[S_MAX_RAW_ID];
    size_t raw_id_len;
    uint8_t cred_id[32];
    uint8_t pub[65];
} s_rec;

static int s_rec_load(akcli *c, const char *path, s_rec *r, bool *missing) {
    ak_buf b;
    ak_buf_init(&b, 16384);
    struct stat st;
    *missing = lstat(path, &st) != 0 && errno == ENOENT;
    ak_err e = *missing ? AK_E_NOT_FOUND : ak_buf_append_file(&b, path);
    json_t *o = NULL;
    ak_cur rp, rph, raw, cid, px, py, be;
    memset(r, 0, sizeof(*r));
    if (e == AK_OK) e = ak_json_parse_object(ak_buf_cur(&b), &o);
    if (e == AK_OK) e = ak_json_str(o, "backend", &be);
    if (e == AK_OK && !ak_cur_eq_str(be, "browser")) e = AK_E_INVALID_INPUT;
    if (e == AK_OK) e = ak_json_str(o, "rp_id", &rp);
    if (e == AK_OK) e = ak_json_str(o, "rp_id_hash", &rph);
    if (e == AK_OK) e = ak_json_str(o, "credential_id", &raw);
    if (e == AK_OK) e = ak_json_str(o, "cred_id", &cid);
    if (e == AK_OK) e = ak_json_str(o, "pub_x", &px);
    if (e == AK_OK) e = ak_json_str(o, "pub_y", &py);
    if (e == AK_OK) e = ak_cur_to_cstr(rp, r->rp_id, sizeof(r->rp_id));
    if (e == AK_OK) e = ak_hex_decode_exact(rph, true, r->rp_id_hash, 32);
    if (e == AK_OK) e = ak_hex_decode_exact(cid, true, r->cred_id, 32);
    if (e == AK_OK) e = ak_hex_decode_exact(px, true, r->pub + 1, 32);
    if (e == AK_OK) e = ak_hex_decode_exact(py, true, r->pub + 33, 32);
    ak_buf rb;
    ak_buf_init(&rb, S_MAX_RAW_ID);
    if (e == AK_OK) e = ak_b64url_decode(raw, &rb);
    if (e == AK_OK && (rb.len == 0 || rb.len > S_MAX_RAW_ID)) e = AK_E_INVALID_INPUT;
    if (e == AK_OK) {
        memcpy(r->raw_id, rb.ptr, rb.len);
        r->raw_id_len = rb.len;
        r->pub[0] = 0x04;
        uint8_t h[32];
        ak_sha256(r->rp_id, strlen(r->rp_id), h);
        if (memcmp(h, r->rp_id_hash, 32) != 0 || !ak_p256_pub_valid(r->pub)) e = AK_E_INVALID_INPUT;
    }
    ak_buf_free(&rb);
    if (o) json_decref(o);
    ak_buf_free(&b);
    if (e == AK_OK) return AKCLI_OK;
    if (*missing) return AKCLI_NOT_FOUND;
    return akcli_fail(c, AKCLI_ERR, ak_err_reason(e), "browser passkey record %s: cannot read it (%s)", path,
                      ak_err_message(e));
}

static ak_err s_hex_json(json_t *o, const char *key, const uint8_t *p, size_t n) {
    ak_buf h;
    ak_buf_init(&h, 4096);
    ak_err e = ak_buf_append_str(&h, "0x");
    if (e == AK_OK) e = ak_buf_append_hex(&h, p, n);
    if (e == AK_OK && json_object_set_new(o, key, json_string(ak_buf_cstr(&h))) != 0) e = AK_E_NOMEM;
    ak_buf_free(&h);
    return e;
}

static ak_err s_rec_save(const char *path, const s_rec *r) {
    json_t *o = json_object();
    ak_buf raw, out;
    ak_buf_init(&raw, 2048);
    ak_buf_init(&out, 16384);
    ak_err e = o ? AK_OK : AK_E_NOMEM;
    if (e == AK_OK && json_object_set_new(o, "backend", json_string("browser")) != 0) e = AK_E_NOMEM;
    if (e == AK_OK && json_object_set_new(o, "rp_id", json_string(r->rp_id)) != 0) e = AK_E_NOMEM;
    if (e == AK_OK) e = s_hex_json(o, "rp_id_hash", r->rp_id_hash, 32);
    if (e == AK_OK) e = ak_b64url_encode(r->raw_id, r->raw_id_len, &raw);
    if (e == AK_OK && json_object_set_new(o, "credential_id", json_string(ak_buf_cstr(&raw))) != 0)
        e = AK_E_NOMEM;
    if (e == AK_OK) e = s_hex_json(o, "cred_id", r->cred_id, 32);
    if (e == AK_OK) e = s_hex_json(o, "pub_x", r->pub + 1, 32);
    if (e == AK_OK) e = s_hex_json(o, "pub_y", r->pub + 33, 32);
    if (e == AK_OK) e = ak_json_dump(o, &out);
    if (e == AK_OK) e = ak_buf_append_byte(&out, '\n');
    if (e == AK_OK) e = akcli_write_file_0600(path, ak_buf_cur(&out));
    if (o) json_decref(o);
    ak_buf_free(&raw);
    ak_buf_free(&out);
    return e;
}

/* ================================================================ settings */

static int64_t s_timeout_ms(akcli *c) {
    const char *v = akcli_conf(c, "passkey_browser_timeout");
    uint64_t s = 300;
    if (v != NULL && v[0] != '\0' && (ak_cur_to_u64(ak_cur_from_str(v), &s) != AK_OK || s < 5 || s > 3600)) {
        akcli_note(c, "passkey_browser_timeout must be 5..3600 seconds; using 300");
        s = 300;
    }
    return (int64_t)s * 1000;
}

/* The words of this command line (argv carries no secret by convention), for the page. */
static void s_cmdline(char *out, size_t cap, char *op_flag, size_t op_cap, char *action, size_t act_cap) {
    ak_buf b;
    ak_buf_init(&b, 8192);
    out[0] = '\0';
    op_flag[0] = '\0';
    action[0] = '\0';
    if (ak_buf_append_file(&b, "/proc/self/cmdline") != AK_OK) {
        ak_buf_free(&b);
        return;
    }
    size_t o = 0, i = 0;
    bool first = true, next_is_op = false;
    while (i < b.len) {
        const char *w = (const char *)b.ptr + i;
        size_t n = strnlen(w, b.len - i);
        const char *shown = w;
        if (first) { /* the program's base name */
            const char *s = strrchr(w, '/');
            shown = s ? s + 1 : w;
        }
        if (next_is_op && n < op_cap) memcpy(op_flag, w, n + 1);
        if (strncmp(w, "akaction1.", 10) == 0 && n < act_cap) memcpy(action, w, n + 1);
        next_is_op = strcmp(w, "--operator") == 0;
        size_t sn = strlen(shown);
        bool cut = sn > 72; /* a blob: its start is enough here (the page says what it approves) */
        if (cut) sn = 28;
        if (o + sn + 8 < cap) {
            if (!first) out[o++] = ' ';
            memcpy(out + o, shown, sn);
            o += sn;
            if (cut) {
                memcpy(out + o, "\xe2\x80\xa6", 3); /* U+2026 */
                o += 3;
            }
            out[o] = '\0';
        }
        first = false;
        i += n + 1;
    }
    ak_buf_free(&b);
}

/* ================================================================ the page */

static const char s_page_head[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<link rel=\"icon\" href=\"data:,\"><title>agentkeys passkey</title><style>"
    "body{font:16px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}"
    "main{max-width:720px;margin:32px auto;background:#fff;border-radius:10px;padding:28px 32px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    "h1{font-size:22px;margin:0 0 6px}p.lead{margin:0 0 18px;color:#4a5262}"
    "table{border-collapse:collapse;width:100%;margin:8px 0 20px;table-layout:fixed}"
    "th{text-align:left;vertical-align:top;width:150px;padding:6px 10px 6px 0;color:#4a5262;font-weight:600}"
    "td{padding:6px 0;word-break:break-all;font-family:ui-monospace,monospace;font-size:14px}"
    "td.prose{font:inherit;word-break:normal;overflow-wrap:anywhere}"
    "button{font-size:17px;padding:10px 22px;border:0;border-radius:7px;background:#1f5fd6;color:#fff;"
    "cursor:pointer}button:disabled{background:#9aa6bd}"
    "#status{margin-top:18px;padding:12px 14px;border-radius:7px;display:none}"
    "body[data-state=working] #status,body[data-state=done] #status,body[data-state=error] #status"
    "{display:block}body[data-state=working] #status{background:#eef3fc}"
    "body[data-state=done] #status{background:#e6f6ea;color:#135c26}"
    "body[data-state=error] #status{background:#fdecec;color:#8a1212}"
    "</style></head><body data-state=\"ready\"><main>"
    "<h1 id=\"title\"></h1><p class=\"lead\" id=\"lead\"></p><table id=\"facts\"></table>"
    "<button id=\"go\" type=\"button\"></button><div id=\"status\" role=\"status\"></div>"
    "<p style=\"color:#6b7383;font-size:13px;margin-top:22px\">Served once by the agentkeys command "
    "in your terminal, on this computer only. Approve only if you started that command.</p>"
    "</main><script id=\"ak\" type=\"application/json\">";

static const char s_page_tail[] =
    "</script><script>\n"
    "'use strict';\n"
    "const P = JSON.parse(document.getElementById('ak').textContent);\n"
    "const enc = b => btoa(String.fromCharCode(...new Uint8Array(b)))"
    ".replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');\n"
    "const dec = s => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), ch => "
    "ch.charCodeAt(0));\n"
    "const $ = id => document.getElementById(id);\n"
    "function show(state, msg) { document.body.dataset.state = state; $('status').textContent = msg; }\n"
    "$('title').textContent = P.title; $('lead').textContent = P.lead; $('go').textContent = P.button;\n"
    "for (const [k, v] of P.facts) { const tr = document.createElement('tr'); const th = "
    "document.createElement('th');\n"
    "  const td = document.createElement('td'); th.textContent = k; td.textContent = v;\n"
    "  if (k === 'Operation' || k === 'Approves') td.className = 'prose'; tr.append(th, td); "
    "$('facts').append(tr); }\n"
    "async function post(o) {\n"
    "  o.nonce = P.nonce;\n"
    "  const r = await fetch(location.pathname + '/result', {method: 'POST', headers: {'content-type': "
    "'application/json'},\n"
    "    body: JSON.stringify(o), cache: 'no-store', credentials: 'omit'});\n"
    "  let j = {}; try { j = await r.json(); } catch (e) {}\n"
    "  return [r.status, j];\n"
    "}\n"
    "const words = {NotAllowedError: 'The passkey ceremony was cancelled, timed out or was not allowed "
    "(no user verification).',\n"
    "  SecurityError: 'The browser refused this relying party id for this page (rpId ' + P.rpId + ').',\n"
    "  NotSupportedError: 'This browser or authenticator cannot make an ES256 passkey with user "
    "verification.',\n"
    "  InvalidStateError: 'This authenticator already holds a passkey for this account.'};\n"
    "async function fail(name, message) {\n"
    "  show('error', (words[name] || name + ': ' + message) + ' Nothing was approved; agentkeys stops "
    "(see the terminal).');\n"
    "  try { await post({error: name, message: String(message).slice(0, 300)}); } catch (e) {}\n"
    "}\n"
    "async function run() {\n"
    "  $('go').disabled = true; show('working', 'Waiting for your passkey...');\n"
    "  let body;\n"
    "  try {\n"
    "    if (P.mode === 'create') {\n"
    "      const c = await navigator.credentials.create({publicKey: {rp: {id: P.rpId, name: 'agentkeys'},\n"
    "        user: {id: dec(P.userId), name: P.userName, displayName: P.userName}, challenge: "
    "dec(P.challenge),\n"
    "        pubKeyCredParams: [{type: 'public-key', alg: -7}], attestation: 'none', timeout: P.timeoutMs,\n"
    "        authenticatorSelection: {residentKey: 'required', requireResidentKey: true, userVerification: "
    "'required'}}});\n"
    "      body = {id: enc(c.rawId), type: c.type, clientDataJSON: enc(c.response.clientDataJSON),\n"
    "        attestationObject: enc(c.response.attestationObject)};\n"
    "    } else {\n"
    "      const c = await navigator.credentials.get({publicKey: {rpId: P.rpId, challenge: "
    "dec(P.challenge),\n"
    "        allowCredentials: [{type: 'public-key', id: dec(P.credentialId)}], userVerification: "
    "'required',\n"
    "        timeout: P.timeoutMs}});\n"
    "      body = {id: enc(c.rawId), type: c.type, clientDataJSON: enc(c.response.clientDataJSON),\n"
    "        authenticatorData: enc(c.response.authenticatorData), signature: enc(c.response.signature)};\n"
    "    }\n"
    "  } catch (e) { return fail(e && e.name || 'Error', e && e.message || String(e)); }\n"
    "  try {\n"
    "    const [st, j] = await post(body);\n"
    "    if (st === 200) show('done', P.done);\n"
    "    else show('error', 'agentkeys refused the result: ' + (j.error || ('HTTP ' + st)) + ' Nothing was "
    "sent.');\n"
    "  } catch (e) { show('error', 'agentkeys is no longer listening (see the terminal).'); }\n"
    "}\n"
    "if (!window.PublicKeyCredential || !navigator.credentials || !window.isSecureContext) {\n"
    "  $('go').disabled = true; fail('NotSupportedError', 'this browser has no WebAuthn (or the page is "
    "not a secure context)');\n"
    "} else { $('go').addEventListener('click', run); }\n"
    "</script></body></html>\n";

static const char s_gone_page[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>agentkeys: link used</title>"
    "</head><body style=\"font:16px system-ui,sans-serif;margin:40px\"><h1>This one-time link was already "
    "used</h1><p id=\"status\">agentkeys serves each passkey page once. It was opened a second time, so "
    "the ceremony was stopped and nothing was approved. Run the command again for a new link.</p>"
    "</body></html>\n";

/* ================================================================ the server */

typedef struct s_conn {
    int fd;
    int64_t deadline;
    size_t len;
    uint8_t buf[S_MAX_REQ];
} s_conn;

typedef struct s_req {
    ak_cur method, path, host, origin, ctype, body;
} s_req;

/* What one ceremony needs: the page's parameters and the checker of the POSTed result. */
typedef struct s_cer s_cer;
struct s_cer {
    akcli *c;
    char origin[64];
    char token[64];
    char nonce[32];
    json_t *params; /* the page's P (borrowed) */
    /* returns AKCLI_OK or fills why[] (shown on the page and in the error) */
    bool (*check)(s_cer *x, const json_t *body, char *why, size_t cap);
    void *ctx;
};

static void s_send_all(int fd, const void *p, size_t n) {
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t w = send(fd, q, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        q += w;
        n -= (size_t)w;
    }
}

static void s_respond(int fd, int status, const char *ctype, ak_cur body) {
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
                     "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n"
                     "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                     "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src "
                     "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action "
                     "'none'; frame-ancestors 'none'\r\n\r\n",
                     status, ak_http_reason_phrase(status), ctype, body.len);
    if (n > 0 && (size_t)n < sizeof head) {
        s_send_all(fd, head, (size_t)n);
        s_send_all(fd, body.ptr, body.len);
    }
}

static void s_respond_json(int fd, int status, const char *key, const char *msg) {
    json_t *o = json_pack("{s:s}", key, msg);
    char out[1024];
    size_t n = o ? json_dumpb(o, out, sizeof out, JSON_COMPACT) : 0;
    if (o) json_decref(o);
    if (n == 0 || n > sizeof out) n = 0;
    s_respond(fd, status, "application/json", ak_cur_from(out, n));
}

/* Splits at `sep`, or takes all that is left when there is none. */
static ak_cur s_next(ak_cur *c, uint8_t sep) {
    ak_cur h;
    if (ak_cur_split(c, sep, &h)) return h;
    h = *c;
    c->ptr += c->len;
    c->len = 0;
    return h;
}

/* Parses the head once it is complete; *need = total bytes the request takes (0: head incomplete). */
static bool s_parse(const s_conn *k, s_req *r, size_t *need, bool *bad) {
    memset(r, 0, sizeof(*r));
    *need = 0;
    *bad = false;
    ak_cur all = ak_cur_from(k->buf, k->len);
    size_t he = 0;
    for (size_t i = 3; i < k->len && he == 0; i++)
        if (memcmp(k->buf + i - 3, "\r\n\r\n", 4) == 0) he = i + 1;
    if (he == 0) return false;
    ak_cur head = ak_cur_from(k->buf, he - 4);
    ak_cur line = ak_cur_trim(s_next(&head, '\n'));
    r->method = s_next(&line, ' ');
    r->path = s_next(&line, ' ');
    if (r->method.len == 0 || r->path.len == 0 || !ak_cur_starts_with(line, AK_CUR_LIT("HTTP/1."))) {
        *bad = true;
        return true;
    }
    uint64_t clen = 0;
    while (head.len > 0) {
        ak_cur h = ak_cur_trim(s_next(&head, '\n')), name;
        if (!ak_cur_split(&h, ':', &name)) continue;
        ak_cur v = ak_cur_trim(h);
        if (ak_cur_eq_nocase(name, AK_CUR_LIT("host"))) r->host = v;
        if (ak_cur_eq_nocase(name, AK_CUR_LIT("origin"))) r->origin = v;
        if (ak_cur_eq_nocase(name, AK_CUR_LIT("content-type"))) r->ctype = v;
        if (ak_cur_eq_nocase(name, AK_CUR_LIT("transfer-encoding"))) *bad = true;
        if (ak_cur_eq_nocase(name, AK_CUR_LIT("content-length")) && ak_cur_to_u64(v, &clen) != AK_OK)
            *bad = true;
    }
    if (clen > S_MAX_REQ - he) *bad = true;
    if (*bad) return true;
    *need = he + (size_t)clen;
    if (k->len < *need) return false;
    r->body = ak_cur_from(all.ptr + he, (size_t)clen);
    return true;
}

typedef enum { S_GO_ON, S_DONE, S_FAIL } s_step;

/* One complete request. Returns what the ceremony does next; *rc / why on S_FAIL. */
static s_step s_handle(s_cer *x, int fd, const s_req *r, bool *served, int *rc, char *why, size_t cap,
                       const char **reason) {
    char want_path[80], want_post[96];
    snprintf(want_path, sizeof want_path, "/%s", x->token);
    snprintf(want_post, sizeof want_post, "/%s/result", x->token);
    /* only the printed URL's host: the rp id `localhost` is valid for no other (and no DNS
     * rebinding reaches the link under another name) */
    if (!ak_cur_eq_str(r->host, x->origin + strlen("http://"))) {
        s_respond_json(fd, 421, "error", "wrong Host");
        return S_GO_ON;
    }
    bool get = ak_cur_eq_str(r->method, "GET"), post = ak_cur_eq_str(r->method, "POST");
    if (get && ak_cur_eq_str(r->path, want_path)) {
        if (*served) {
            s_respond(fd, 410, "text/html; charset=utf-8", AK_CUR_LIT(s_gone_page));
            snprintf(why, cap,
                     "the one-time link was opened a second time; stopped (someone else may have it)");
            *reason = "passkey_link_reused";
            *rc = AKCLI_AUTH;
            return S_FAIL;
        }
        ak_buf page;
        ak_buf_init(&page, 256 * 1024);
        char js[16384];
        size_t n = json_dumpb(x->params, js, sizeof js, JSON_COMPACT | JSON_ESCAPE_SLASH);
        ak_err e = n > 0 && n <= sizeof js ? AK_OK : AK_E_LIMIT;
        if (e == AK_OK) e = ak_buf_append_str(&page, s_page_head);
        /* inside <script>: '/' is escaped, and no '<' may start a tag */
        for (size_t i = 0; e == AK_OK && i < n; i++)
            e = js[i] == '<' ? ak_buf_append_str(&page, "\\u003c")
                             : ak_buf_append_byte(&page, (uint8_t)js[i]);
        if (e == AK_OK) e = ak_buf_append_str(&page, s_page_tail);
        if (e == AK_OK) {
            s_respond(fd, 200, "text/html; charset=utf-8", ak_buf_cur(&page));
            *served = true;
        } else {
            s_respond_json(fd, 500, "error", "page too large");
        }
        ak_buf_free(&page);
        return S_GO_ON;
    }
    if (!post || !ak_cur_eq_str(r->path, want_post)) {
        s_respond_json(fd, 404, "error", "not found");
        return S_GO_ON;
    }
    /* the result: same origin, JSON, this page's nonce */
    if (!*served || !ak_cur_eq_str(r->origin, x->origin) ||
        !ak_cur_starts_with(r->ctype, AK_CUR_LIT("application/json"))) {
        s_respond_json(fd, 403, "error", "not from this page");
        return S_GO_ON;
    }
    json_t *b = NULL;
    ak_cur nonce, ename, emsg;
    bool has_err = false, has_msg = false;
    if (ak_json_parse_object(r->body, &b) != AK_OK || ak_json_str(b, "nonce", &nonce) != AK_OK ||
        !ak_cur_eq_str(nonce, x->nonce)) {
        if (b) json_decref(b);
        s_respond_json(fd, 403, "error", "not from this page");
        return S_GO_ON;
    }
    if (ak_json_str_opt(b, "error", &ename, &has_err) == AK_OK && has_err) {
        if (ak_json_str_opt(b, "message", &emsg, &has_msg) != AK_OK || !has_msg) emsg = AK_CUR_LIT("");
        /* only printable ASCII of what the browser says reaches the terminal */
        char n1[48], m1[240];
        size_t i1 = 0, i2 = 0;
        for (size_t i = 0; i < ename.len && i1 + 1 < sizeof n1; i++)
            if (ename.ptr[i] >= 0x20 && ename.ptr[i] < 0x7f) n1[i1++] = (char)ename.ptr[i];
        for (size_t i = 0; i < emsg.len && i2 + 1 < sizeof m1; i++)
            if (emsg.ptr[i] >= 0x20 && emsg.ptr[i] < 0x7f) m1[i2++] = (char)emsg.ptr[i];
        n1[i1] = m1[i2] = '\0';
        bool cancel = strcmp(n1, "NotAllowedError") == 0 || strcmp(n1, "AbortError") == 0;
        snprintf(why, cap, "the browser %s: %s%s%s",
                 cancel ? "ceremony was cancelled or not allowed" : "refused", n1, m1[0] ? ": " : "", m1);
        *reason = cancel                                 ? "passkey_cancelled"
                  : strcmp(n1, "SecurityError") == 0     ? "passkey_rp_id_refused"
                  : strcmp(n1, "NotSupportedError") == 0 ? "passkey_no_webauthn"
                                                         : "passkey_browser_error";
        *rc = AKCLI_AUTH;
        json_decref(b);
        s_respond_json(fd, 200, "ok", "stopped");
        return S_FAIL;
    }
    bool ok = x->check(x, b, why, cap);
    json_decref(b);
    if (!ok) {
        s_respond_json(fd, 400, "error", why);
        *reason = "passkey_result_refused";
        *rc = AKCLI_AUTH;
        return S_FAIL;
    }
    s_respond_json(fd, 200, "ok", "approved");
    return S_DONE;
}

static void s_maybe_open(akcli *c, const char *url) {
    const char *v = akcli_conf(c, "passkey_browser_open");
    if (v == NULL || strcmp(v, "1") != 0) return;
    const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
    if ((d == NULL || !d[0]) && (w == NULL || !w[0])) return;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)"xdg-open", (char *)url, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ) != 0)
        akcli_note(c, "could not start xdg-open; open the link yourself");
    posix_spawn_file_actions_destroy(&fa);
}

/* Serves one ceremony to its end: AKCLI_OK once `check` accepted a result. */
static int s_serve(s_cer *x, const char *what) {
    akcli *c = x->c;
    uint8_t rnd[32];
    ak_buf t;
    ak_buf_init(&t, 128);
    ak_err e = ak_random(rnd, 32);
    if (e == AK_OK) e = ak_b64url_encode(rnd, 32, &t);
    if (e == AK_OK) e = ak_cur_to_cstr(ak_buf_cur(&t), x->token, sizeof x->token);
    ak_buf_clear(&t);
    if (e == AK_OK) e = ak_random(rnd, 16);
    if (e == AK_OK) e = ak_b64url_encode(rnd, 16, &t);
    if (e == AK_OK) e = ak_cur_to_cstr(ak_buf_cur(&t), x->nonce, sizeof x->nonce);
    ak_buf_free(&t);
    if (e != AK_OK) return akcli_fail_err(c, e, "cannot make a one-time link");
    if (json_object_set_new(x->params, "nonce", json_string(x->nonce)) != 0)
        return akcli_fail_err(c, AK_E_NOMEM, "cannot make the page");

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
    socklen_t sl = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 16) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        if (lfd >= 0) close(lfd);
        return akcli_fail(c, AKCLI_ERR, "io_error", "cannot listen on 127.0.0.1 for the passkey page");
    }
    snprintf(x->origin, sizeof x->origin, "http://localhost:%u", (unsigned)ntohs(sa.sin_port));
    char url[160];
    snprintf(url, sizeof url, "%s/%s", x->origin, x->token);
    int64_t ttl = s_timeout_ms(c), end = ak_http_now_ms() + ttl;
    akcli_note(c, "%s: open this one-time link in a browser on this computer (valid %lld s):", what,
               (long long)(ttl / 1000));
    fprintf(stderr, "  %s\n", url);
    fflush(stderr);
    s_maybe_open(c, url);

    s_conn *conns = ak_malloc(sizeof(s_conn) * S_MAX_CONNS);
    if (conns == NULL) {
        close(lfd);
        return akcli_fail_err(c, AK_E_NOMEM, "passkey page");
    }
    for (int i = 0; i < S_MAX_CONNS; i++)
        conns[i].fd = -1;
    bool served = false;
    int rc = AKCLI_ERR;
    const char *reason = "passkey_expired";
    char why[512];
    snprintf(why, sizeof why, "the one-time link expired before the browser answered");
    s_step st = S_GO_ON;
    while (st == S_GO_ON) {
        int64_t now = ak_http_now_ms();
        if (now >= end) {
            st = S_FAIL;
            rc = AKCLI_AUTH;
            break;
        }
        struct pollfd pf[S_MAX_CONNS + 1];
        int map[S_MAX_CONNS + 1], np = 0;
        int64_t wait = end - now;
        pf[np] = (struct pollfd){.fd = lfd, .events = POLLIN};
        map[np++] = -1;
        for (int i = 0; i < S_MAX_CONNS; i++) {
            if (conns[i].fd < 0) continue;
            if (conns[i].deadline <= now) { /* an idle or slow connection: dropped */
                close(conns[i].fd);
                conns[i].fd = -1;
                continue;
            }
            if (conns[i].deadline - now < wait) wait = conns[i].deadline - now;
            pf[np] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
            map[np++] = i;
        }
        int pr = poll(pf, (nfds_t)np, (int)(wait > 1000 ? 1000 : wait));
        if (pr < 0 && errno != EINTR) {
            snprintf(why, sizeof why, "poll failed");
            reason = "io_error";
            st = S_FAIL;
            break;
        }
        for (int p = 0; pr > 0 && p < np && st == S_GO_ON; p++) {
            if (!(pf[p].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (map[p] < 0) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) continue;
                int slot = -1;
                for (int i = 0; i < S_MAX_CONNS && slot < 0; i++)
                    if (conns[i].fd < 0) slot = i;
                if (slot < 0) {
                    close(fd);
                    continue;
                }
                conns[slot].fd = fd;
                conns[slot].len = 0;
                conns[slot].deadline = ak_http_now_ms() + S_CONN_MS;
                continue;
            }
            s_conn *k = &conns[map[p]];
            ssize_t n = recv(k->fd, k->buf + k->len, S_MAX_REQ - k->len, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0) {
                close(k->fd);
                k->fd = -1;
                continue;
            }
            k->len += (size_t)n;
            s_req r;
            size_t need;
            bool bad;
            if (!s_parse(k, &r, &need, &bad)) {
                if (k->len >= S_MAX_REQ) bad = true;
                if (!bad) continue;
            }
            if (bad)
                s_respond_json(k->fd, 400, "error", "bad request");
            else
                st = s_handle(x, k->fd, &r, &served, &rc, why, sizeof why, &reason);
            close(k->fd);
            k->fd = -1;
        }
    }
    for (int i = 0; i < S_MAX_CONNS; i++)
        if (conns[i].fd >= 0) close(conns[i].fd);
    ak_free(conns);
    close(lfd);
    if (st == S_DONE) return AKCLI_OK;
    return akcli_fail(c, rc, reason, "%s; nothing was sent", why);
}

/* ================================================================ result checks */

static bool s_b64(const json_t *b, const char *key, ak_buf *out, char *why, size_t cap) {
    ak_cur v;
    if (ak_json_str(b, key, &v) != AK_OK || ak_b64url_decode(v, out) != AK_OK) {
        snprintf(why, cap, "the result has no valid base64url %s", key);
        return false;
    }
    return true;
}

/* clientDataJSON (WebAuthn L3 §5.8.1): a JSON object, members in any order; type, challenge
 * and origin exact; crossOrigin absent or false; no topOrigin (the page is never framed). */
static bool s_client_data(s_cer *x, ak_cur cdj, const char *type, const uint8_t *challenge, size_t chlen,
                          char *why, size_t cap) {
    json_t *o = NULL;
    ak_cur t, ch, org;
    bool co = false, has_co = false, ok = false;
    ak_buf want;
    ak_buf_init(&want, 128);
    if (ak_json_parse_object(cdj, &o) != AK_OK)
        snprintf(why, cap, "clientDataJSON is not one JSON object (or repeats a member)");
    else if (ak_json_str(o, "type", &t) != AK_OK || !ak_cur_eq_str(t, type))
        snprintf(why, cap, "clientDataJSON.type is not %s", type);
    else if (ak_json_str(o, "challenge", &ch) != AK_OK ||
             ak_b64url_encode(challenge, chlen, &want) != AK_OK || !ak_cur_eq(ch, ak_buf_cur(&want)))
        snprintf(why, cap, "clientDataJSON.challenge is not the challenge asked for");
    else if (ak_json_str(o, "origin", &org) != AK_OK || !ak_cur_eq_str(org, x->origin))
        snprintf(why, cap, "clientDataJSON.origin is not %s", x->origin);
    else if (ak_json_bool_opt(o, "crossOrigin", &co, &has_co) != AK_OK || co)
        snprintf(why, cap, "clientDataJSON says crossOrigin");
    else if (json_object_get(o, "topOrigin") != NULL)
        snprintf(why, cap, "clientDataJSON has a topOrigin (the page was framed)");
    else
        ok = true;
    if (o) json_decref(o);
    ak_buf_free(&want);
    return ok;
}

static bool s_flags(uint8_t flags, char *why, size_t cap) {
    if (!(flags & 0x01)) {
        snprintf(why, cap, "the authenticator did not report user presence (UP)");
        return false;
    }
    if (!(flags & 0x04)) {
        snprintf(why, cap, "the authenticator did not report user verification (UV)");
        return false;
    }
    return true;
}

typedef struct s_enroll_ctx {
    char rp_id[AK_PASSKEY_MAX_RPID + 1];
    uint8_t challenge[32];
    s_rec *out;
} s_enroll_ctx;

static bool s_cose_key(ak_cur *a, uint8_t pub[65], char *why, size_t cap) {
    ak_cbor_item m, v;
    int64_t kty = 0, alg = 0, crv = 0;
    ak_cur px, py;
    if (ak_cbor_decode(a, NULL, &m) != AK_OK || m.type != AK_CBOR_MAP ||
        ak_cbor_map_get_int(&m, 1, &v) != AK_OK || ak_cbor_get_int(&v, &kty) != AK_OK ||
        ak_cbor_map_get_int(&m, 3, &v) != AK_OK || ak_cbor_get_int(&v, &alg) != AK_OK ||
        ak_cbor_map_get_int(&m, -1, &v) != AK_OK || ak_cbor_get_int(&v, &crv) != AK_OK ||
        ak_cbor_map_get_int(&m, -2, &v) != AK_OK || ak_cbor_get_bstr(&v, &px) != AK_OK ||
        ak_cbor_map_get_int(&m, -3, &v) != AK_OK || ak_cbor_get_bstr(&v, &py) != AK_OK) {
        snprintf(why, cap, "the credential public key is not a COSE EC2 key");
        return false;
    }
    if (kty != 2 || alg != -7 || crv != 1 || px.len != 32 || py.len != 32) {
        snprintf(why, cap, "the credential is not ES256 on P-256 (kty %lld, alg %lld, crv %lld)",
                 (long long)kty, (long long)alg, (long long)crv);
        return false;
    }
    pub[0] = 0x04;
    memcpy(pub + 1, px.ptr, 32);
    memcpy(pub + 33, py.ptr, 32);
    if (!ak_p256_pub_valid(pub)) {
        snprintf(why, cap, "the credential public key is not a P-256 point");
        return false;
    }
    return true;
}

static bool s_check_create(s_cer *x, const json_t *b, char *why, size_t cap) {
    s_enroll_ctx *ec = x->ctx;
    ak_buf id, cdj, att;
    ak_buf_init(&id, 4096);
    ak_buf_init(&cdj, 4096);
    ak_buf_init(&att, 32768);
    bool ok = s_b64(b, "id", &id, why, cap) && s_b64(b, "clientDataJSON", &cdj, why, cap) &&
              s_b64(b, "attestationObject", &att, why, cap) &&
              s_client_data(x, ak_buf_cur(&cdj), "webauthn.create", ec->challenge, 32, why, cap);
    ak_cbor_item ao, ad;
    ak_cur auth;
    if (ok &&
        (ak_cbor_decode_all(ak_buf_cur(&att), NULL, &ao) != AK_OK || ao.type != AK_CBOR_MAP ||
         ak_cbor_map_get_tstr(&ao, "authData", &ad) != AK_OK || ak_cbor_get_bstr(&ad, &auth) != AK_OK)) {
        snprintf(why, cap, "the attestationObject is not CBOR with authData");
        ok = false;
    }
    uint8_t h[32], flags = 0, aaguid[16];
    ak_cur a = auth, rph, cid;
    uint32_t count;
    if (ok) {
        ak_sha256(ec->rp_id, strlen(ec->rp_id), h);
        uint8_t hi = 0, lo = 0;
        ak_cur ag;
        ok = ak_cur_take(&a, 32, &rph) == AK_OK && ak_cur_read_u8(&a, &flags) == AK_OK &&
             ak_cur_read_u32be(&a, &count) == AK_OK && ak_cur_take(&a, 16, &ag) == AK_OK &&
             ak_cur_read_u8(&a, &hi) == AK_OK && ak_cur_read_u8(&a, &lo) == AK_OK &&
             ak_cur_take(&a, (size_t)hi << 8 | lo, &cid) == AK_OK;
        if (ok) memcpy(aaguid, ag.ptr, 16);
        if (!ok) snprintf(why, cap, "authenticatorData has no attested credential data");
    }
    if (ok && memcmp(rph.ptr, h, 32) != 0) {
        snprintf(why, cap, "authenticatorData.rpIdHash is not sha256(\"%s\")", ec->rp_id);
        ok = false;
    }
    if (ok) ok = s_flags(flags, why, cap);
    if (ok && !(flags & 0x40)) {
        snprintf(why, cap, "authenticatorData has no attested credential data (AT flag)");
        ok = false;
    }
    if (ok && (cid.len == 0 || cid.len > S_MAX_RAW_ID || !ak_cur_eq(cid, ak_buf_cur(&id)))) {
        snprintf(why, cap, "the credential id does not match the attested one");
        ok = false;
    }
    s_rec *r = ec->out;
    if (ok) ok = s_cose_key(&a, r->pub, why, cap);
    if (ok && !(flags & 0x80) && a.len != 0) {
        snprintf(why, cap, "authenticatorData has trailing bytes");
        ok = false;
    }
    if (ok) {
        memcpy(r->rp_id, ec->rp_id, sizeof r->rp_id);
        memcpy(r->rp_id_hash, h, 32);
        memcpy(r->raw_id, cid.ptr, cid.len);
        r->raw_id_len = cid.len;
        if (cid.len == 32)
            memcpy(r->cred_id, cid.ptr, 32);
        else
            ak_sha256(cid.ptr, cid.len, r->cred_id);
    }
    ak_buf_free(&id);
    ak_buf_free(&cdj);
    ak_buf_free(&att);
    return ok;
}

typedef struct s_assert_ctx {
    const s_rec *rec;
    const uint8_t *challenge;
    const uint8_t *attestor;
    uint32_t chain_count;
    ak_passkey_assertion *out;
} s_assert_ctx;

static bool s_check_get(s_cer *x, const json_t *b, char *why, size_t cap) {
    s_assert_ctx *ac = x->ctx;
    const s_rec *rec = ac->rec;
    ak_buf id, cdj, ad, sig;
    ak_buf_init(&id, 4096);
    ak_buf_init(&cdj, 4096);
    ak_buf_init(&ad, 4096);
    ak_buf_init(&sig, 256);
    bool ok = s_b64(b, "id", &id, why, cap) && s_b64(b, "clientDataJSON", &cdj, why, cap) &&
              s_b64(b, "authenticatorData", &ad, why, cap) && s_b64(b, "signature", &sig, why, cap);
    if (ok && !ak_cur_eq(ak_buf_cur(&id), ak_cur_from(rec->raw_id, rec->raw_id_len))) {
        snprintf(why, cap, "the browser answered with another credential than the enrolled one");
        ok = false;
    }
    if (ok && ad.len != 37) {
        snprintf(why, cap, "authenticatorData is %zu bytes (37 expected: no extensions)", ad.len);
        ok = false;
    }
    if (ok && cdj.len >= AK_PASSKEY_MAX_CDJ) {
        snprintf(why, cap, "clientDataJSON is too long");
        ok = false;
    }
    if (ok && memcmp(ad.ptr, rec->rp_id_hash, 32) != 0) {
        snprintf(why, cap, "authenticatorData.rpIdHash is not sha256(\"%s\") of the enrolled passkey",
                 rec->rp_id);
        ok = false;
    }
    if (ok) ok = s_flags(ad.ptr[32], why, cap);
    uint32_t count = 0;
    if (ok) {
        count =
            (uint32_t)ad.ptr[33] << 24 | (uint32_t)ad.ptr[34] << 16 | (uint32_t)ad.ptr[35] << 8 | ad.ptr[36];
        if ((count != 0 || ac->chain_count != 0) && count <= ac->chain_count) {
            snprintf(why, cap,
                     "the sign count %u is not above the chain's %u (a replayed or cloned passkey?)",
                     (unsigned)count, (unsigned)ac->chain_count);
            ok = false;
        }
    }
    if (ok) ok = s_client_data(x, ak_buf_cur(&cdj), "webauthn.get", ac->challenge, 32, why, cap);
    uint8_t rs[64], msg[69];
    if (ok && ak_p256_sig_der_to_raw(ak_buf_cur(&sig), rs) != AK_OK) {
        snprintf(why, cap, "the signature is not a DER ECDSA signature");
        ok = false;
    }
    if (ok) {
        memcpy(msg, ad.ptr, 37);
        ak_sha256(cdj.ptr, cdj.len, msg + 37);
        if (ak_p256_verify_sha256(rec->pub, msg, sizeof msg, rs) != AK_OK) {
            snprintf(why, cap, "the signature does not verify with the enrolled passkey");
            ok = false;
        }
    }
    if (ok) {
        ak_passkey_assertion *o = ac->out;
        memset(o, 0, sizeof(*o));
        if (ac->attestor) memcpy(o->attestor, ac->attestor, 32);
        memcpy(o->authenticator_data, ad.ptr, 37);
        memcpy(o->client_data_json, cdj.ptr, cdj.len);
        o->client_data_json_len = cdj.len;
        ak_sha256(msg, sizeof msg, o->signed_hash);
        memcpy(o->r, rs, 32);
        memcpy(o->s, rs + 32, 32);
        o->sign_count = count;
    }
    ak_buf_free(&id);
    ak_buf_free(&cdj);
    ak_buf_free(&ad);
    ak_buf_free(&sig);
    return ok;
}

/* ================================================================ the page's words */

/* An action blob of `master approve` (cli/operator.c) in words; its operator into op[]. */
static bool s_action_words(char *blob, char *out, size_t cap, char *op, size_t op_cap) {
    char *f[10];
    int n = 0;
    for (char *p = blob; p != NULL && n < 10; n++) {
        f[n] = p;
        p = strchr(p, '.');
        if (p) *p++ = '\0';
    }
    if (n < 4 || strlen(f[2]) != 64) return false;
    snprintf(op, op_cap, "0x%s", f[2]);
    if (strcmp(f[1], "add") == 0 && n == 9)
        snprintf(out, cap, "add the master wallet 0x%s (roles %s) to operator 0x%s", f[3], f[8], f[2]);
    else if (strcmp(f[1], "revoke") == 0 && n == 4)
        snprintf(out, cap, "revoke the master device 0x%s of operator 0x%s", f[3], f[2]);
    else if (strcmp(f[1], "threshold") == 0 && n == 4)
        snprintf(out, cap, "set the recovery threshold of operator 0x%s to %s", f[2], f[3]);
    else
        return false;
    return true;
}

static json_t *s_params(akcli *c, const char *mode, const char *rp_id) {
    char cmd[600], op[100], action[1024], words[600];
    s_cmdline(cmd, sizeof cmd, op, sizeof op, action, sizeof action);
    bool has_action = action[0] && s_action_words(action, words, sizeof words, op, sizeof op);
    const char *opc = op[0] ? op : akcli_conf(c, "operator");
    json_t *facts = json_pack("[[s,s],[s,s]]", "Operation",
                              c->cmd && c->cmd->summary ? c->cmd->summary : "a K11-gated operation",
                              "Command", cmd[0] ? cmd : "agentkeys");
    json_t *p = json_pack("{s:s, s:s, s:o*}", "mode", mode, "rpId", rp_id, "facts", facts);
    if (p == NULL) return NULL;
    json_array_append_new(facts,
                          json_pack("[s,s]", "Operator",
                                    opc && opc[0] ? opc : "the operator of this wallet (its first master)"));
    if (has_action) json_array_append_new(facts, json_pack("[s,s]", "Approves", words));
    json_array_append_new(facts, json_pack("[s,s]", "Relying party", rp_id));
    return p;
}

static ak_err s_set_b64(json_t *p, const char *key, const uint8_t *v, size_t n) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    ak_err e = ak_b64url_encode(v, n, &b);
    if (e == AK_OK && json_object_set_new(p, key, json_string(ak_buf_cstr(&b))) != 0) e = AK_E_NOMEM;
    ak_buf_free(&b);
    return e;
}

static ak_err s_set_hex(json_t *facts, const char *label, const uint8_t *v, size_t n) {
    ak_buf b;
    ak_buf_init(&b, 256);
    ak_err e = ak_buf_append_str(&b, "0x");
    if (e == AK_OK) e = ak_buf_append_hex(&b, v, n);
    if (e == AK_OK && json_array_append_new(facts, json_pack("[s,s]", label, ak_buf_cstr(&b))) != 0)
        e = AK_E_NOMEM;
    ak_buf_free(&b);
    return e;
}

/* ================================================================ the backend */

static int s_b_enroll(akcli *c, akcli_passkey *pk, const char *rp_id, bool *created) {
    s_rec rec;
    bool missing;
    *created = false;
    int rc = s_rec_load(c, pk->arg, &rec, &missing);
    if (rc == AKCLI_OK || !missing) return rc;
    s_enroll_ctx ec = {.out = &rec};
    const char *rp = rp_id;
    if (rp == NULL || strcmp(rp, S_SOFTWARE_DEFAULT_RPID) == 0) rp = akcli_conf(c, "passkey_rp_id");
    if (rp == NULL || rp[0] == '\0') rp = "localhost";
    if (!ak_passkey_rpid_valid(rp))
        return akcli_fail(c, AKCLI_USAGE, "invalid_input", "the rp id must be a lowercase host name");
    memcpy(ec.rp_id, rp, strlen(rp) + 1);
    uint8_t uid[16];
    if (ak_random(ec.challenge, 32) != AK_OK || ak_random(uid, sizeof uid) != AK_OK)
        return akcli_fail_err(c, AK_E_INTERNAL, "no randomness");
    json_t *p = s_params(c, "create", ec.rp_id);
    ak_err e = p ? AK_OK : AK_E_NOMEM;
    if (e == AK_OK) e = s_set_b64(p, "challenge", ec.challenge, 32);
    if (e == AK_OK) e = s_set_b64(p, "userId", uid, sizeof uid);
    if (e == AK_OK &&
        json_object_update_new(
            p,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "title", "Create the agentkeys passkey", "lead",
                      "A new passkey (ES256, user verification required) for this operator's master wallet. "
                      "Its public key goes on chain; the private key never leaves your authenticator.",
                      "button", "Create passkey", "done",
                      "Passkey created. You can close this tab; agentkeys continues in the terminal.",
                      "userName", "agentkeys master", "timeoutMs", (json_int_t)s_timeout_ms(c))) != 0)
        e = AK_E_NOMEM;
    if (e != AK_OK) {
        if (p) json_decref(p);
        return akcli_fail_err(c, e, "cannot make the passkey page");
    }
    s_cer x = {.c = c, .params = p, .check = s_check_create, .ctx = &ec};
    rc = s_serve(&x, "create a passkey");
    json_decref(p);
    if (rc != AKCLI_OK) return rc;
    e = s_rec_save(pk->arg, &rec);
    if (e != AK_OK) return akcli_fail_err(c, e, "cannot save the browser passkey record %s", pk->arg);
    *created = true;
    return AKCLI_OK;
}

static int s_b_pub(akcli *c, akcli_passkey *pk, akcli_passkey_pub *out) {
    s_rec rec;
    bool missing;
    int rc = s_rec_load(c, pk->arg, &rec, &missing);
    if (rc != AKCLI_OK && missing)
        return akcli_fail(c, AKCLI_NOT_FOUND, "not_found",
                          "no browser passkey enrolled in %s (operator init or master request creates it)",
                          pk->arg);
    if (rc != AKCLI_OK) return rc;
    memset(out, 0, sizeof(*out));
    memcpy(out->rp_id, rec.rp_id, sizeof out->rp_id);
    memcpy(out->cred_id, rec.cred_id, 32);
    memcpy(out->rp_id_hash, rec.rp_id_hash, 32);
    memcpy(out->pub_x, rec.pub + 1, 32);
    memcpy(out->pub_y, rec.pub + 33, 32);
    return AKCLI_OK;
}

static int s_b_assert(akcli *c, akcli_passkey *pk, const uint8_t challenge[32], const uint8_t attestor[32],
                      uint32_t chain_count, ak_passkey_assertion *out) {
    s_rec rec;
    akcli_passkey_pub pub;
    bool missing;
    int rc = s_b_pub(c, pk, &pub);
    if (rc == AKCLI_OK) rc = s_rec_load(c, pk->arg, &rec, &missing);
    if (rc != AKCLI_OK) return rc;
    s_assert_ctx ac = {
        .rec = &rec, .challenge = challenge, .attestor = attestor, .chain_count = chain_count, .out = out};
    json_t *p = s_params(c, "get", rec.rp_id);
    ak_err e = p ? AK_OK : AK_E_NOMEM;
    if (e == AK_OK) e = s_set_b64(p, "challenge", challenge, 32);
    if (e == AK_OK) e = s_set_b64(p, "credentialId", rec.raw_id, rec.raw_id_len);
    json_t *facts = p ? json_object_get(p, "facts") : NULL;
    if (e == AK_OK && attestor != NULL) e = s_set_hex(facts, "Approving master", attestor, 32);
    if (e == AK_OK) e = s_set_hex(facts, "Passkey (cred id)", rec.cred_id, 32);
    if (e == AK_OK) e = s_set_hex(facts, "Challenge", challenge, 32);
    if (e == AK_OK &&
        json_object_update_new(
            p,
            json_pack("{s:s, s:s, s:s, s:s, s:I}", "title", "Approve with your agentkeys passkey", "lead",
                      "Your passkey signs the challenge below. The chain accepts it once, for exactly this "
                      "operation.",
                      "button", "Approve with passkey", "done",
                      "Approved. You can close this tab; agentkeys sends the transaction in the terminal.",
                      "timeoutMs", (json_int_t)s_timeout_ms(c))) != 0)
        e = AK_E_NOMEM;
    if (e != AK_OK) {
        if (p) json_decref(p);
        return akcli_fail_err(c, e, "cannot make the passkey page");
    }
    s_cer x = {.c = c, .params = p, .check = s_check_get, .ctx = &ac};
    rc = s_serve(&x, "approve with the passkey");
    json_decref(p);
    return rc;
}

const akcli_passkey_ops akcli_passkey_browser_ops = {"browser:", s_b_enroll, s_b_pub, s_b_assert};

int akcli_passkey_browser_open(akcli *c, akcli_passkey *out) {
    memset(out, 0, sizeof(*out));
    int n =
        snprintf(out->arg, sizeof out->arg, "%s/%s.passkey-browser.json", akcli_config_dir(c), c->profile);
    if (n <= 0 || (size_t)n >= sizeof out->arg)
        return akcli_fail(c, AKCLI_USAGE, "invalid_input", "the config directory path is too long");
    out->ops = &akcli_passkey_browser_ops;
    return AKCLI_OK;
}
