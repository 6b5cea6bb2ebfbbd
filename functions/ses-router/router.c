/* router.c — SesRouterFunction's handler (see router.h and README.md). */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/json.h"
#include "ak/log.h"

/* ================================================================ pure parts */

static bool s_is_alnum(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
static uint8_t s_lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c; }

static bool s_local_ok(ak_cur l) {
    if (l.len == 0 || l.len > SES_MAX_LOCAL) return false;
    if (l.ptr[0] == '.' || l.ptr[l.len - 1] == '.') return false;
    for (size_t i = 0; i < l.len; i++) {
        uint8_t c = l.ptr[i];
        if (!(s_is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-')) return false;
        if (c == '.' && i + 1 < l.len && l.ptr[i + 1] == '.') return false;
    }
    return true;
}

static bool s_domain_ok(ak_cur d) {
    if (d.len == 0 || d.len > SES_MAX_DOMAIN) return false;
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= d.len; i++) {
        if (i < d.len && d.ptr[i] != '.') {
            if (!(s_is_alnum(d.ptr[i]) || d.ptr[i] == '-')) return false;
            continue;
        }
        size_t n = i - start; /* label d[start, i) */
        if (n == 0 || n > SES_MAX_LABEL) return false;
        if (d.ptr[start] == '-' || d.ptr[i - 1] == '-') return false;
        labels++;
        start = i + 1;
    }
    return labels >= 2;
}

ak_err ses_parse_recipient(ak_cur in, ses_recipient *out) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    AK_ENSURE(in.ptr != NULL && in.len >= 3 && in.len <= SES_MAX_ADDR, AK_E_INVALID_EVENT);
    long at = ak_cur_find(in, '@');
    AK_ENSURE(at > 0, AK_E_INVALID_EVENT);
    ak_cur local = {in.ptr, (size_t)at};
    ak_cur domain = {in.ptr + at + 1, in.len - (size_t)at - 1};
    AK_ENSURE(ak_cur_find(domain, '@') < 0, AK_E_INVALID_EVENT);
    AK_ENSURE(s_local_ok(local) && s_domain_ok(domain), AK_E_INVALID_EVENT);
    for (size_t i = 0; i < local.len; i++)
        out->local[i] = (char)s_lower(local.ptr[i]);
    for (size_t i = 0; i < domain.len; i++)
        out->domain[i] = (char)s_lower(domain.ptr[i]);
    memcpy(out->addr, out->local, local.len);
    out->addr[local.len] = '@';
    memcpy(out->addr + local.len + 1, out->domain, domain.len);
    return AK_OK;
}

bool ses_valid_message_id(ak_cur id) {
    if (id.ptr == NULL || id.len == 0 || id.len > SES_MAX_MESSAGE_ID || id.ptr[0] == '.') return false;
    for (size_t i = 0; i < id.len; i++) {
        uint8_t c = id.ptr[i];
        if (!(s_is_alnum(c) || c == '.' || c == '_' || c == '-')) return false;
        if (c == '.' && i + 1 < id.len && id.ptr[i + 1] == '.') return false;
    }
    return true;
}

/* Reads `n` digits at in[*i] as a number; false when short or not digits. */
static bool s_digits(ak_cur in, size_t *i, size_t n, unsigned *v) {
    if (*i + n > in.len) return false;
    unsigned x = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t c = in.ptr[*i + k];
        if (c < '0' || c > '9') return false;
        x = x * 10u + (unsigned)(c - '0');
    }
    *i += n;
    *v = x;
    return true;
}

static bool s_lit(ak_cur in, size_t *i, uint8_t c) {
    if (*i >= in.len || in.ptr[*i] != c) return false;
    (*i)++;
    return true;
}

ak_err ses_parse_timestamp(ak_cur in, char out[SES_TS_LEN + 1]) {
    size_t i = 0;
    unsigned y, mo, d, h, mi, s;
    bool ok = s_digits(in, &i, 4, &y) && s_lit(in, &i, '-') && s_digits(in, &i, 2, &mo) &&
              s_lit(in, &i, '-') && s_digits(in, &i, 2, &d) && s_lit(in, &i, 'T') &&
              s_digits(in, &i, 2, &h) && s_lit(in, &i, ':') && s_digits(in, &i, 2, &mi) &&
              s_lit(in, &i, ':') && s_digits(in, &i, 2, &s);
    AK_ENSURE(ok, AK_E_INVALID_EVENT);
    AK_ENSURE(mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60, AK_E_INVALID_EVENT);
    char frac[4] = "000";
    if (i < in.len && in.ptr[i] == '.') {
        i++;
        size_t n = 0;
        while (i < in.len && in.ptr[i] >= '0' && in.ptr[i] <= '9') {
            if (n < 3) frac[n] = (char)in.ptr[i];
            n++;
            i++;
        }
        AK_ENSURE(n >= 1 && n <= 9, AK_E_INVALID_EVENT);
    }
    AK_ENSURE(i + 1 == in.len && in.ptr[i] == 'Z', AK_E_INVALID_EVENT);
    int n = snprintf(out, SES_TS_LEN + 1, "%04u%02u%02uT%02u%02u%02u.%sZ", y, mo, d, h, mi, s, frac);
    AK_ENSURE(n == (int)SES_TS_LEN, AK_E_INTERNAL);
    return AK_OK;
}

bool ses_valid_verdict(ak_cur v) {
    if (v.ptr == NULL || v.len == 0 || v.len > SES_MAX_VERDICT) return false;
    for (size_t i = 0; i < v.len; i++)
        if (!((v.ptr[i] >= 'A' && v.ptr[i] <= 'Z') || v.ptr[i] == '_')) return false;
    return true;
}

bool ses_valid_staging_prefix(ak_cur p) {
    if (p.ptr == NULL || p.len == 0 || p.len > SES_MAX_PREFIX) return false;
    if (p.ptr[0] == '/' || p.ptr[p.len - 1] != '/') return false;
    for (size_t i = 0; i < p.len; i++) {
        uint8_t c = p.ptr[i];
        if (!(s_is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '/')) return false;
        if (i + 1 < p.len && ((c == '.' && p.ptr[i + 1] == '.') || (c == '/' && p.ptr[i + 1] == '/')))
            return false;
    }
    /* The router writes under these; a staging prefix inside them would route its own output. */
    static const char *const reserved[] = {"bots/", "aliases/", "unrouted/"};
    for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
        if (ak_cur_starts_with(p, ak_cur_from_str(reserved[k]))) return false;
    return true;
}

ak_err ses_dest_key(ses_dest_kind kind, const char *actor, const ses_message *m, ak_buf *out) {
    AK_PRECOND(m != NULL && out != NULL);
    if (kind == SES_DEST_UNROUTED) return ak_buf_printf(out, "unrouted/%s", m->message_id);
    AK_PRECOND(actor != NULL);
    AK_ENSURE(ak_is_hex64_lower(ak_cur_from_str(actor)), AK_E_INVALID_OMNI);
    return ak_buf_printf(out, "bots/%s/%s/%s-%s.eml", actor,
                         kind == SES_DEST_QUARANTINE ? "quarantine" : "inbound", m->ts, m->message_id);
}

ak_err ses_alias_key(const ses_recipient *r, ak_buf *out) {
    AK_PRECOND(r != NULL && out != NULL);
    return ak_buf_printf(out, "aliases/%s", r->addr);
}

ak_err ses_parse_alias_body(ak_cur body, char actor[65]) {
    ak_cur t = ak_cur_trim(body);
    AK_ENSURE(ak_is_hex64_lower(t), AK_E_INVALID_OMNI);
    memcpy(actor, t.ptr, 64);
    actor[64] = '\0';
    return AK_OK;
}

ak_err ses_meta_value(ak_cur in, size_t max, ak_buf *out, bool *truncated) {
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;
    *truncated = false;
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        bool keep = c >= 0x20 && c <= 0x7e && c != '%';
        size_t need = keep ? 1u : 3u;
        if (used + need > max) {
            *truncated = true;
            return AK_OK;
        }
        if (keep) {
            AK_GUARD(ak_buf_append_byte(out, c));
        } else {
            uint8_t e[3] = {'%', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
            AK_GUARD(ak_buf_append(out, e, 3));
        }
        used += need;
    }
    return AK_OK;
}

/* ================================================================ event parsing */

static ak_err s_bad(const char *why, size_t rec) {
    char r[24];
    snprintf(r, sizeof(r), "%zu", rec);
    ak_log_warn("invalid ses event", "why", why, "record", r);
    return AK_E_INVALID_EVENT;
}

static const json_t *s_obj(const json_t *parent, const char *key) {
    const json_t *v = json_object_get(parent, key);
    return json_is_object(v) ? v : NULL;
}

/* Optional string member: absent/null -> empty view; any other non-string -> error. */
static bool s_str_opt(const json_t *obj, const char *key, ak_cur *out) {
    bool present = false;
    *out = (ak_cur){(const uint8_t *)"", 0};
    if (ak_json_str_opt(obj, key, out, &present) != AK_OK) return false;
    if (!present) *out = (ak_cur){(const uint8_t *)"", 0};
    return true;
}

/* receipt.<key>: absent -> "NONE"; else {"status": <verdict>}. */
static bool s_verdict(const json_t *receipt, const char *key, char out[SES_MAX_VERDICT + 1]) {
    const json_t *v = json_object_get(receipt, key);
    if (v == NULL || json_is_null(v)) {
        memcpy(out, "NONE", 5);
        return true;
    }
    if (!json_is_object(v)) return false;
    ak_cur st;
    if (ak_json_str(v, "status", &st) != AK_OK || !ses_valid_verdict(st)) return false;
    memcpy(out, st.ptr, st.len);
    out[st.len] = '\0';
    return true;
}

static ak_err s_parse_record(const json_t *rec, size_t idx, ses_message *m) {
    if (!json_is_object(rec)) return s_bad("record is not an object", idx);
    ak_cur src;
    if (ak_json_str(rec, "eventSource", &src) != AK_OK || !ak_cur_eq_str(src, "aws:ses"))
        return s_bad("eventSource is not aws:ses", idx);
    const json_t *ses = s_obj(rec, "ses");
    if (ses == NULL) return s_bad("ses missing or not an object", idx);
    const json_t *mail = s_obj(ses, "mail");
    const json_t *receipt = s_obj(ses, "receipt");
    if (mail == NULL || receipt == NULL)
        return s_bad("ses.mail or ses.receipt missing or not an object", idx);

    /* The router is the receipt rule's Lambda action: SES names the action that invoked it in
     * receipt.action. Any other action type (S3, SNS, Bounce, ...) is not an invocation of this
     * function by SES, whatever else the event looks like. */
    const json_t *action = s_obj(receipt, "action");
    ak_cur atype;
    if (action == NULL || ak_json_str(action, "type", &atype) != AK_OK || !ak_cur_eq_str(atype, "Lambda"))
        return s_bad("receipt.action.type is not Lambda", idx);

    ak_cur id;
    if (ak_json_str(mail, "messageId", &id) != AK_OK || !ses_valid_message_id(id))
        return s_bad("mail.messageId missing or malformed", idx);
    memcpy(m->message_id, id.ptr, id.len);
    m->message_id[id.len] = '\0';

    ak_cur ts;
    if (ak_json_str(receipt, "timestamp", &ts) != AK_OK || ses_parse_timestamp(ts, m->ts) != AK_OK)
        return s_bad("receipt.timestamp missing or malformed", idx);

    if (!s_str_opt(mail, "source", &m->source)) return s_bad("mail.source is not a string", idx);
    m->from = NULL;
    m->subject = (ak_cur){(const uint8_t *)"", 0};
    const json_t *ch = json_object_get(mail, "commonHeaders");
    if (ch != NULL && !json_is_null(ch)) {
        if (!json_is_object(ch)) return s_bad("mail.commonHeaders is not an object", idx);
        if (!s_str_opt(ch, "subject", &m->subject))
            return s_bad("commonHeaders.subject is not a string", idx);
        const json_t *from = json_object_get(ch, "from");
        if (from != NULL && !json_is_null(from)) {
            if (!json_is_array(from)) return s_bad("commonHeaders.from is not an array", idx);
            for (size_t i = 0; i < json_array_size(from); i++)
                if (!json_is_string(json_array_get(from, i)))
                    return s_bad("commonHeaders.from has a non-string", idx);
            m->from = from;
        }
    }

    if (!s_verdict(receipt, "spamVerdict", m->v.spam) || !s_verdict(receipt, "virusVerdict", m->v.virus) ||
        !s_verdict(receipt, "spfVerdict", m->v.spf) || !s_verdict(receipt, "dkimVerdict", m->v.dkim) ||
        !s_verdict(receipt, "dmarcVerdict", m->v.dmarc))
        return s_bad("a receipt verdict is malformed", idx);
    m->quarantine = strcmp(m->v.spam, "FAIL") == 0 || strcmp(m->v.virus, "FAIL") == 0;

    const json_t *rcpts = json_object_get(receipt, "recipients");
    if (!json_is_array(rcpts)) return s_bad("receipt.recipients missing or not an array", idx);
    size_t n = json_array_size(rcpts);
    if (n == 0) return s_bad("receipt.recipients is empty", idx);
    if (n > SES_MAX_RECIPIENTS) return s_bad("too many recipients", idx);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(rcpts, i);
        if (!json_is_string(r)) return s_bad("a recipient is not a string", idx);
        ak_cur rc = {(const uint8_t *)json_string_value(r), json_string_length(r)};
        if (ses_parse_recipient(rc, &m->rcpt[i]) != AK_OK) return s_bad("a recipient is malformed", idx);
    }
    m->n_rcpt = n;
    return AK_OK;
}

ak_err ses_event_parse(ak_cur json, ses_event *ev) {
    AK_PRECOND(ev != NULL);
    memset(ev, 0, sizeof(*ev));
    json_t *root = NULL;
    ak_err rc = ak_json_parse_object(json, &root);
    if (rc == AK_E_NOMEM) return rc;
    if (rc != AK_OK) return s_bad("event is not a JSON object", 0);
    ev->json = root;
    const json_t *recs = json_object_get(root, "Records");
    AK_ENSURE_OUT(json_is_array(recs), s_bad("Records missing or not an array", 0));
    size_t n = json_array_size(recs);
    AK_ENSURE_OUT(n >= 1 && n <= SES_MAX_RECORDS, s_bad("Records count out of range", 0));
    ev->msg = ak_calloc(n, sizeof(ses_message));
    AK_ENSURE_OUT(ev->msg != NULL, AK_E_NOMEM);
    for (size_t i = 0; i < n; i++)
        AK_GUARD_OUT(s_parse_record(json_array_get(recs, i), i, &ev->msg[i]));
    ev->n_msg = n;
    return AK_OK;
out:
    ses_event_free(ev);
    return rc;
}

void ses_event_free(ses_event *ev) {
    if (ev == NULL) return;
    ak_free(ev->msg);
    if (ev->json) json_decref(ev->json);
    memset(ev, 0, sizeof(*ev));
}

/* ================================================================ S3 side */

typedef struct s_dest {
    ses_dest_kind kind;
    char actor[65];
    const ses_recipient *rcpt; /* first recipient that resolved here (routed kinds) */
    ak_buf key;
} s_dest;

typedef struct s_counts {
    uint64_t routed, quarantined, unrouted, copied, present;
} s_counts;

typedef struct s_inv {
    ses_router *r;
    ak_s3_call call;
    uint64_t copies; /* successful copies in this invocation (fault injection counts these) */
} s_inv;

/* Recipient -> actor. *found=false for an unknown recipient (no alias object, or a malformed one:
 * never dropped, it goes to unrouted/). S3 failures other than 404 are returned. */
static ak_err s_resolve(s_inv *inv, const ses_recipient *rc, char actor[65], bool *found) {
    *found = false;
    if (ak_is_hex64_lower(ak_cur_from_str(rc->local))) {
        memcpy(actor, rc->local, 65);
        *found = true;
        return AK_OK;
    }
    ak_buf key;
    ak_http_response resp;
    ak_buf_init(&key, AK_S3_MAX_KEY);
    ak_http_response_init(&resp);
    ak_err rc2 = ses_alias_key(rc, &key);
    if (rc2 == AK_OK)
        rc2 = ak_s3_get(&inv->r->s3, &inv->call, inv->r->bucket, ak_buf_cur(&key), SES_MAX_ALIAS_BODY, false,
                        &resp);
    if (rc2 == AK_OK) {
        if (ses_parse_alias_body(ak_buf_cur(&resp.body), actor) == AK_OK) {
            *found = true;
        } else {
            ak_log_error("alias object malformed; recipient unrouted", "alias", ak_buf_cstr(&key));
        }
    } else if (rc2 == AK_E_TOO_LARGE) {
        ak_log_error("alias object too large; recipient unrouted", "alias", ak_buf_cstr(&key));
        rc2 = AK_OK;
    } else if (rc2 == AK_E_NOT_FOUND) {
        rc2 = AK_OK;
    }
    ak_buf_free(&key);
    ak_http_response_free(&resp);
    return rc2;
}

/* Per-destination metadata (the values' storage lives in `bufs`). Returns the count. */
typedef struct s_meta {
    ak_buf from, subject, rcpt, trunc;
    ak_s3_meta items[AK_S3_MAX_META];
    size_t n;
} s_meta;

static void s_meta_init(s_meta *mt) {
    memset(mt, 0, sizeof(*mt));
    ak_buf_init(&mt->from, SES_META_FROM_MAX);
    ak_buf_init(&mt->subject, SES_META_SUBJECT_MAX);
    ak_buf_init(&mt->rcpt, SES_META_RECIPIENTS_MAX);
    ak_buf_init(&mt->trunc, 64);
}

static void s_meta_free(s_meta *mt) {
    ak_buf_free(&mt->from);
    ak_buf_free(&mt->subject);
    ak_buf_free(&mt->rcpt);
    ak_buf_free(&mt->trunc);
}

static void s_meta_add(s_meta *mt, const char *name, ak_cur v) {
    AK_PRECOND(mt->n < AK_S3_MAX_META);
    mt->items[mt->n++] = (ak_s3_meta){name, v};
}

static ak_err s_note_trunc(s_meta *mt, bool t, const char *field) {
    if (!t) return AK_OK;
    if (mt->trunc.len) AK_GUARD(ak_buf_append_byte(&mt->trunc, ','));
    return ak_buf_append_str(&mt->trunc, field);
}

static ak_err s_build_meta(const ses_message *m, const s_dest *d, const ses_recipient *const *unknown,
                           size_t n_unknown, s_meta *mt) {
    bool t = false, any = false;
    /* from: commonHeaders.from joined with ", ", else the envelope sender. */
    size_t nfrom = m->from != NULL ? json_array_size(m->from) : 0;
    if (nfrom == 0) AK_GUARD(ses_meta_value(m->source, SES_META_FROM_MAX, &mt->from, &any));
    for (size_t i = 0; i < nfrom && !any; i++) {
        const json_t *s = json_array_get(m->from, i);
        if (i > 0)
            AK_GUARD(ses_meta_value(AK_CUR_LIT(", "), SES_META_FROM_MAX - mt->from.len, &mt->from, &any));
        if (!any)
            AK_GUARD(ses_meta_value(ak_cur_from(json_string_value(s), json_string_length(s)),
                                    SES_META_FROM_MAX - mt->from.len, &mt->from, &any));
    }
    AK_GUARD(s_note_trunc(mt, any, "from"));
    AK_GUARD(ses_meta_value(m->subject, SES_META_SUBJECT_MAX, &mt->subject, &t));
    AK_GUARD(s_note_trunc(mt, t, "subject"));
    if (d->kind == SES_DEST_UNROUTED) {
        any = false;
        for (size_t i = 0; i < n_unknown; i++) {
            size_t need = strlen(unknown[i]->addr) + (mt->rcpt.len ? 1u : 0u);
            if (mt->rcpt.len + need > SES_META_RECIPIENTS_MAX) {
                any = true;
                break;
            }
            if (mt->rcpt.len) AK_GUARD(ak_buf_append_byte(&mt->rcpt, ','));
            AK_GUARD(ak_buf_append_str(&mt->rcpt, unknown[i]->addr));
        }
        AK_GUARD(s_note_trunc(mt, any, "recipients"));
        s_meta_add(mt, "recipients", ak_buf_cur(&mt->rcpt));
    } else {
        s_meta_add(mt, "recipient", ak_cur_from_str(d->rcpt->addr));
    }
    s_meta_add(mt, "from", ak_buf_cur(&mt->from));
    s_meta_add(mt, "subject", ak_buf_cur(&mt->subject));
    s_meta_add(mt, "ses-message-id", ak_cur_from_str(m->message_id));
    s_meta_add(mt, "received", ak_cur_from_str(m->ts));
    s_meta_add(mt, "spf", ak_cur_from_str(m->v.spf));
    s_meta_add(mt, "dkim", ak_cur_from_str(m->v.dkim));
    s_meta_add(mt, "dmarc", ak_cur_from_str(m->v.dmarc));
    s_meta_add(mt, "spam", ak_cur_from_str(m->v.spam));
    s_meta_add(mt, "virus", ak_cur_from_str(m->v.virus));
    if (mt->trunc.len) s_meta_add(mt, "truncated", ak_buf_cur(&mt->trunc));
    return AK_OK;
}

static ak_err s_head_exists(s_inv *inv, ak_cur key, bool *exists) {
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = ak_s3_head(&inv->r->s3, &inv->call, inv->r->bucket, key, &resp);
    ak_http_response_free(&resp);
    *exists = rc == AK_OK;
    return (rc == AK_OK || rc == AK_E_NOT_FOUND) ? AK_OK : rc;
}

static ak_err s_copy(s_inv *inv, ak_cur src, ak_cur dst, const s_meta *mt) {
#ifndef AK_RELEASE
    /* Fault injection for tests (README "Fault injection"); compiled out of release builds. */
    if (inv->r->fault_after_copies && inv->copies >= inv->r->fault_after_copies) {
        ak_log_warn("fault injected: copy fails", "after_copies", getenv("AK_FAULT_AFTER_COPIES"));
        return AK_E_S3_ERROR;
    }
#endif
    ak_s3_put_opts opts = {.content_type = AK_CUR_LIT("message/rfc822"), .meta = mt->items, .n_meta = mt->n};
    AK_GUARD(ak_s3_copy(&inv->r->s3, &inv->call, inv->r->bucket, src, inv->r->bucket, dst, &opts));
    inv->copies++;
    return AK_OK;
}

static ak_err s_route_message(s_inv *inv, const ses_message *m, s_counts *cnt) {
    ak_err rc = AK_OK;
    size_t nd = 0, n_unknown = 0;
    bool staging_missing = false;
    s_dest *dests = ak_calloc(SES_MAX_RECIPIENTS + 1, sizeof(s_dest));
    const ses_recipient **unknown = ak_calloc(SES_MAX_RECIPIENTS, sizeof(*unknown));
    ak_buf staging;
    ak_buf_init(&staging, AK_S3_MAX_KEY);
    AK_ENSURE_OUT(dests != NULL && unknown != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(ak_buf_printf(&staging, "%s%s", inv->r->staging, m->message_id));

    /* 1-2. resolve every recipient, build the deduplicated destination list */
    for (size_t i = 0; i < m->n_rcpt; i++) {
        char actor[65];
        bool found;
        AK_GUARD_OUT(s_resolve(inv, &m->rcpt[i], actor, &found));
        if (!found) {
            unknown[n_unknown++] = &m->rcpt[i];
            ak_log_warn("unknown recipient: message goes to unrouted/", "message_id", m->message_id,
                        "recipient", m->rcpt[i].addr);
            continue;
        }
        s_dest *d = &dests[nd];
        d->kind = m->quarantine ? SES_DEST_QUARANTINE : SES_DEST_INBOX;
        memcpy(d->actor, actor, 65);
        d->rcpt = &m->rcpt[i];
        ak_buf_init(&d->key, AK_S3_MAX_KEY);
        nd++;
        AK_GUARD_OUT(ses_dest_key(d->kind, actor, m, &d->key));
        for (size_t k = 0; k + 1 < nd; k++) {
            if (ak_cur_eq(ak_buf_cur(&dests[k].key), ak_buf_cur(&d->key))) { /* same actor twice */
                ak_buf_free(&d->key);
                nd--;
                break;
            }
        }
    }
    if (n_unknown) {
        s_dest *d = &dests[nd];
        d->kind = SES_DEST_UNROUTED;
        ak_buf_init(&d->key, AK_S3_MAX_KEY);
        nd++;
        AK_GUARD_OUT(ses_dest_key(SES_DEST_UNROUTED, NULL, m, &d->key));
    }

    /* 3. each destination: present -> done; absent -> copy from staging */
    for (size_t k = 0; k < nd; k++) {
        bool exists;
        ak_cur dk = ak_buf_cur(&dests[k].key);
        AK_GUARD_OUT(s_head_exists(inv, dk, &exists));
        if (!exists) {
            s_meta mt;
            s_meta_init(&mt);
            rc = s_build_meta(m, &dests[k], unknown, n_unknown, &mt);
            if (rc == AK_OK) rc = s_copy(inv, ak_buf_cur(&staging), dk, &mt);
            s_meta_free(&mt);
            if (rc == AK_E_NOT_FOUND) {
                /* No staging object: a concurrent delivery may have just finished (it copies
                 * before it deletes), so look at the destination once more. */
                AK_GUARD_OUT(s_head_exists(inv, dk, &exists));
                rc = AK_OK;
                if (!exists)
                    staging_missing = true;
                else
                    cnt->present++;
            } else if (rc != AK_OK) {
                ak_log_error("copy failed; staging object kept for the retry", "message_id", m->message_id,
                             "dest", ak_buf_cstr(&dests[k].key), "reason", ak_err_reason(rc));
                goto out;
            } else {
                cnt->copied++;
            }
        } else {
            cnt->present++;
        }
    }
    if (staging_missing) {
        ak_log_error("staging object missing and a destination is absent: cannot route", "message_id",
                     m->message_id, "staging", ak_buf_cstr(&staging));
        AK_ENSURE_OUT(false, AK_E_NOT_FOUND);
    }

    /* 4. every destination exists: the staging object may go (204 even when already gone) */
    AK_GUARD_OUT(ak_s3_delete(&inv->r->s3, &inv->call, inv->r->bucket, ak_buf_cur(&staging)));
    for (size_t k = 0; k < nd; k++) {
        if (dests[k].kind == SES_DEST_INBOX)
            cnt->routed++;
        else if (dests[k].kind == SES_DEST_QUARANTINE)
            cnt->quarantined++;
    }
    cnt->unrouted += n_unknown;
    {
        char a[24], b[24];
        snprintf(a, sizeof(a), "%zu", nd);
        snprintf(b, sizeof(b), "%zu", n_unknown);
        ak_log_info("message routed", "message_id", m->message_id, "destinations", a, "unrouted_recipients",
                    b, "quarantine", m->quarantine ? "true" : "false");
    }
out:
    if (dests != NULL)
        for (size_t k = 0; k < nd; k++)
            ak_buf_free(&dests[k].key);
    ak_free(dests);
    ak_free(unknown);
    ak_buf_free(&staging);
    return rc;
}

/* ================================================================ init + handler */

ak_err ses_router_init(void *user) {
    ses_router *r = user;
    AK_PRECOND(r != NULL);
    const char *bucket = getenv("AK_MAIL_BUCKET");
    AK_ENSURE(bucket != NULL && strlen(bucket) >= 3 && strlen(bucket) <= 63, AK_E_CONFIG);
    r->bucket = bucket;
    const char *pfx = getenv("AK_MAIL_STAGING_PREFIX");
    if (pfx == NULL || pfx[0] == '\0') pfx = "inbound/";
    if (!ses_valid_staging_prefix(ak_cur_from_str(pfx))) {
        ak_log_error("AK_MAIL_STAGING_PREFIX is not an allowed prefix");
        return AK_E_CONFIG;
    }
    memcpy(r->staging, pfx, strlen(pfx) + 1);
    r->fault_after_copies = 0;
#ifndef AK_RELEASE
    const char *f = getenv("AK_FAULT_AFTER_COPIES");
    if (f != NULL && f[0] != '\0') {
        AK_ENSURE(ak_cur_to_u64(ak_cur_from_str(f), &r->fault_after_copies) == AK_OK, AK_E_CONFIG);
        ak_log_warn("fault injection armed (dev build)", "after_copies", f);
    }
#endif
    ak_s3_config cfg;
    AK_GUARD(ak_s3_config_from_env(&cfg));
    AK_GUARD(ak_s3_env_creds(&r->creds));
    ak_http_config hc = {0};
    AK_GUARD(ak_http_new(&hc, &r->http));
    return ak_s3_init(&r->s3, r->http, &cfg);
}

ak_err ses_router_handle(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user) {
    ses_router *r = user;
    AK_PRECOND(r != NULL && ctx != NULL && out != NULL);
    ses_event ev;
    s_counts cnt = {0};
    json_t *resp = NULL;
    /* Validate the WHOLE event before anything is read or moved. */
    AK_GUARD(ses_event_parse(event, &ev));
    s_inv inv = {.r = r, .call = {.creds = &r->creds, .deadline_ms = (int64_t)ctx->inv->deadline_ms}};
    ak_err rc = AK_OK;
    for (size_t i = 0; i < ev.n_msg; i++)
        AK_GUARD_OUT(s_route_message(&inv, &ev.msg[i], &cnt));
    /* B11: a RequestResponse invocation may answer a disposition; CONTINUE lets later rule
     * actions run. Event invocations ignore the payload. */
    resp = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "disposition", "CONTINUE", "routed",
                     (json_int_t)cnt.routed, "quarantined", (json_int_t)cnt.quarantined, "unrouted",
                     (json_int_t)cnt.unrouted, "copied", (json_int_t)cnt.copied, "already_present",
                     (json_int_t)cnt.present);
    AK_ENSURE_OUT(resp != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(ak_json_dump(resp, out));
out:
    if (resp) json_decref(resp);
    ses_event_free(&ev);
    return rc;
}
