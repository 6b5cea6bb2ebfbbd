/* imds.c — instance role credentials from IMDSv2 over ak_http (see ak/imds.h). */
#include "ak/imds.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/ct.h"
#include "ak/http.h"
#include "ak/json.h"
#include "ak/log.h"

#define S_IMDS_CREDS_PATH "/latest/meta-data/iam/security-credentials/"

struct ak_imds {
    ak_http *http;
    char endpoint[256];
    unsigned margin_ms;
    pthread_mutex_t mu;
    char token[256]; /* secret-ish: wiped on free */
    int64_t token_expires_ms;
    bool have;
    ak_aws_creds creds;
};

ak_sigv4_creds ak_aws_creds_view(const ak_aws_creds *c) {
    return (ak_sigv4_creds){ak_cur_from_str(c->access_key_id), ak_cur_from_str(c->secret_access_key),
                            ak_cur_from_str(c->session_token)};
}

void ak_aws_creds_wipe(ak_aws_creds *c) {
    if (c != NULL) ak_wipe(c, sizeof(*c));
}

ak_err ak_imds_new(const ak_imds_config *cfg, ak_imds **out) {
    AK_PRECOND(cfg != NULL && out != NULL);
    *out = NULL;
    const char *ep = cfg->endpoint ? cfg->endpoint : AK_IMDS_DEFAULT_ENDPOINT;
    ak_cur e = ak_cur_from_str(ep);
    AK_ENSURE(ak_cur_starts_with(e, AK_CUR_LIT("http://")) && e.len > 7 && e.len < 256 &&
                  ak_cur_find(ak_cur_from(e.ptr + 7, e.len - 7), '/') < 0,
              AK_E_CONFIG);
    ak_imds *m = ak_calloc(1, sizeof(*m));
    AK_ENSURE(m != NULL, AK_E_NOMEM);
    memcpy(m->endpoint, ep, e.len + 1);
    m->margin_ms = cfg->refresh_margin_ms ? cfg->refresh_margin_ms : AK_IMDS_DEFAULT_MARGIN_MS;
    pthread_mutex_init(&m->mu, NULL);
    /* IMDS answers in milliseconds; two attempts is plenty and keeps a dead proxy's cost small. */
    ak_http_config hc = {
        .user_agent = "agentkeys-signer/1", .connect_to = cfg->connect, .retry = {.max_attempts = 2}};
    ak_err rc = ak_http_new(&hc, &m->http);
    if (rc != AK_OK) {
        ak_imds_free(m);
        return rc;
    }
    *out = m;
    return AK_OK;
}

void ak_imds_free(ak_imds *m) {
    if (m == NULL) return;
    ak_http_free(m->http);
    pthread_mutex_destroy(&m->mu);
    ak_wipe(m, sizeof(*m));
    ak_free(m);
}

/* "YYYY-MM-DDTHH:MM:SSZ" -> epoch ms. */
static int64_t s_imds_days(int64_t y, unsigned mo, unsigned d) {
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (mo + (mo > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool s_imds_time(ak_cur t, int64_t *ms) {
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (t.len != sizeof(shape) - 1) return false;
    unsigned v[6] = {0};
    int k = 0;
    for (size_t i = 0; i < t.len; i++) {
        if (shape[i] == 'd') {
            if (t.ptr[i] < '0' || t.ptr[i] > '9') return false;
            v[k] = v[k] * 10 + (unsigned)(t.ptr[i] - '0');
        } else {
            if (t.ptr[i] != (uint8_t)shape[i]) return false;
            k++;
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60) return false;
    *ms = (s_imds_days(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5]) * 1000;
    return true;
}

ak_err ak_imds_parse_credentials(ak_cur text, int64_t now_ms, ak_aws_creds *out) {
    json_t *o = NULL;
    ak_cur code, ak, sk, tok, exp;
    ak_err rc = AK_OK;
    ak_aws_creds c;
    memset(&c, 0, sizeof(c));
    AK_ENSURE(ak_json_parse_object(text, &o) == AK_OK, AK_E_IMDS_CREDENTIALS_INVALID);
    AK_ENSURE_OUT(ak_json_str(o, "Code", &code) == AK_OK && ak_cur_eq_str(code, "Success") &&
                      ak_json_str(o, "AccessKeyId", &ak) == AK_OK &&
                      ak_json_str(o, "SecretAccessKey", &sk) == AK_OK &&
                      ak_json_str(o, "Token", &tok) == AK_OK && ak_json_str(o, "Expiration", &exp) == AK_OK,
                  AK_E_IMDS_CREDENTIALS_INVALID);
    AK_ENSURE_OUT(ak.len > 0 && sk.len > 0 && tok.len > 0, AK_E_IMDS_CREDENTIALS_INVALID);
    AK_ENSURE_OUT(ak_cur_to_cstr(ak, c.access_key_id, sizeof(c.access_key_id)) == AK_OK &&
                      ak_cur_to_cstr(sk, c.secret_access_key, sizeof(c.secret_access_key)) == AK_OK &&
                      ak_cur_to_cstr(tok, c.session_token, sizeof(c.session_token)) == AK_OK,
                  AK_E_IMDS_CREDENTIALS_INVALID);
    AK_ENSURE_OUT(s_imds_time(exp, &c.expiration_ms) && c.expiration_ms > now_ms,
                  AK_E_IMDS_CREDENTIALS_INVALID);
    *out = c;
out:
    ak_wipe(&c, sizeof(c));
    json_decref(o);
    return rc;
}

/* One request; body kept in `resp` (a secret buffer). */
static ak_err s_imds_do(ak_imds *m, const char *method, const char *path, const ak_http_header *h,
                        int64_t deadline_ms, ak_http_response *resp) {
    char url[512];
    int n = snprintf(url, sizeof(url), "%s%s", m->endpoint, path);
    AK_ENSURE(n > 0 && (size_t)n < sizeof(url), AK_E_LIMIT);
    ak_http_request req = {.method = method,
                           .url = url,
                           .headers = h,
                           .n_headers = 1,
                           .deadline_ms = deadline_ms,
                           .idempotent = true,
                           .max_response = 16384,
                           .body_secret = true};
    return ak_http_do(m->http, &req, resp);
}

static ak_err s_imds_token(ak_imds *m, int64_t deadline_ms) {
    ak_http_response r;
    ak_err rc = AK_OK;
    ak_http_response_init(&r);
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%u", AK_IMDS_TOKEN_TTL_S);
    ak_http_header h = {"X-aws-ec2-metadata-token-ttl-seconds", ak_cur_from_str(ttl)};
    AK_GUARD_OUT(s_imds_do(m, "PUT", "/latest/api/token", &h, deadline_ms, &r));
    AK_ENSURE_OUT(r.status == 200, AK_E_IMDS_ERROR);
    ak_cur t = ak_cur_trim(ak_buf_cur(&r.body));
    AK_ENSURE_OUT(t.len > 0 && ak_cur_find(t, '\n') < 0 &&
                      ak_cur_to_cstr(t, m->token, sizeof(m->token)) == AK_OK,
                  AK_E_IMDS_ERROR);
    /* renew a minute early so a token never expires between our check and IMDS's */
    m->token_expires_ms = ak_http_now_ms() + (int64_t)AK_IMDS_TOKEN_TTL_S * 1000 - 60000;
out:
    ak_http_response_free(&r);
    return rc;
}

/* GET with the session token; a 401 gets one new token and one retry. */
static ak_err s_imds_get(ak_imds *m, const char *path, int64_t deadline_ms, ak_http_response *r) {
    for (int i = 0; i < 2; i++) {
        if (m->token[0] == '\0' || ak_http_now_ms() >= m->token_expires_ms)
            AK_GUARD(s_imds_token(m, deadline_ms));
        ak_http_header h = {"X-aws-ec2-metadata-token", ak_cur_from_str(m->token)};
        AK_GUARD(s_imds_do(m, "GET", path, &h, deadline_ms, r));
        if (r->status != 401) break;
        ak_wipe(m->token, sizeof(m->token));
    }
    return r->status == 200 ? AK_OK : AK_E_IMDS_ERROR;
}

static bool s_imds_role_ok(ak_cur r) {
    if (r.len == 0 || r.len > 64) return false;
    for (size_t i = 0; i < r.len; i++) {
        uint8_t ch = r.ptr[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  (ch != 0 && strchr("+=,.@_-", ch) != NULL);
        if (!ok) return false;
    }
    return true;
}

static ak_err s_imds_fetch(ak_imds *m, int64_t deadline_ms, ak_aws_creds *out) {
    ak_http_response r;
    ak_err rc = AK_OK;
    char path[160];
    ak_http_response_init(&r);
    AK_GUARD_OUT(s_imds_get(m, S_IMDS_CREDS_PATH, deadline_ms, &r));
    ak_cur role = ak_cur_trim(ak_buf_cur(&r.body));
    AK_ENSURE_OUT(s_imds_role_ok(role), AK_E_IMDS_ERROR); /* exactly one role (no '\n' inside) */
    int n = snprintf(path, sizeof(path), S_IMDS_CREDS_PATH "%.*s", (int)role.len, (const char *)role.ptr);
    AK_ENSURE_OUT(n > 0 && (size_t)n < sizeof(path), AK_E_IMDS_ERROR);
    AK_GUARD_OUT(s_imds_get(m, path, deadline_ms, &r));
    rc = ak_imds_parse_credentials(ak_buf_cur(&r.body), ak_http_now_ms(), out);
out:
    ak_http_response_free(&r);
    return rc;
}

ak_err ak_imds_credentials(ak_imds *m, int64_t deadline_ms, ak_aws_creds *out) {
    AK_PRECOND(m != NULL && out != NULL);
    ak_err rc = AK_OK;
    pthread_mutex_lock(&m->mu);
    int64_t now = ak_http_now_ms();
    if (!m->have || now + (int64_t)m->margin_ms >= m->creds.expiration_ms) {
        ak_aws_creds fresh;
        rc = s_imds_fetch(m, deadline_ms, &fresh);
        if (rc == AK_OK) {
            m->creds = fresh;
            m->have = true;
        } else {
            ak_log_warn("imds credentials fetch failed", "reason", ak_err_reason(rc), "held",
                        m->have && now < m->creds.expiration_ms ? "valid" : "none");
            if (m->have && now < m->creds.expiration_ms) rc = AK_OK; /* serve the held ones */
        }
        ak_wipe(&fresh, sizeof(fresh));
    }
    if (rc == AK_OK) *out = m->creds;
    pthread_mutex_unlock(&m->mu);
    return rc;
}
