/*
 * sts.c — AssumeRoleWithWebIdentity over ak_http (see ak/sts.h).
 */
#include "ak/sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/log.h"
#include "ak/xml.h"

ak_err ak_sts_config_from_env(ak_sts_config *cfg) {
    AK_PRECOND(cfg != NULL);
    memset(cfg, 0, sizeof(*cfg));
    const char *r = getenv("AWS_REGION");
    if (r == NULL || r[0] == '\0') r = getenv("AWS_DEFAULT_REGION");
    AK_ENSURE(r != NULL && r[0] != '\0', AK_E_CONFIG);
    cfg->region = r;
    const char *ep = getenv("AK_STS_ENDPOINT");
    if (ep == NULL || ep[0] == '\0') ep = getenv("AK_S3_ENDPOINT");
    cfg->endpoint = ep;
    return AK_OK;
}

ak_err ak_sts_init(ak_sts *sts, ak_http *http, const ak_sts_config *cfg) {
    AK_PRECOND(sts != NULL && http != NULL && cfg != NULL);
    memset(sts, 0, sizeof(*sts));
    sts->http = http;
    ak_cur region = ak_cur_from_str(cfg->region);
    AK_ENSURE(region.len > 0 && region.len < 64, AK_E_CONFIG);
    for (size_t i = 0; i < region.len; i++) {
        uint8_t c = region.ptr[i];
        AK_ENSURE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-', AK_E_CONFIG);
    }
    int n;
    if (cfg->endpoint == NULL || cfg->endpoint[0] == '\0') {
        n = snprintf(sts->url, sizeof(sts->url), "https://sts.%s.amazonaws.com/", cfg->region);
    } else {
        ak_cur ep = ak_cur_from_str(cfg->endpoint);
        AK_ENSURE(ak_cur_starts_with(ep, AK_CUR_LIT("https://")) ||
                      ak_cur_starts_with(ep, AK_CUR_LIT("http://")),
                  AK_E_CONFIG);
        while (ep.len > 0 && ep.ptr[ep.len - 1] == '/')
            ep.len--;
        AK_ENSURE(ak_cur_find(ep, '?') < 0 && ak_cur_find(ep, '#') < 0, AK_E_CONFIG);
        n = snprintf(sts->url, sizeof(sts->url), "%.*s/", (int)ep.len, (const char *)ep.ptr);
    }
    AK_ENSURE(n > 0 && (size_t)n < sizeof(sts->url), AK_E_CONFIG);
    return AK_OK;
}

void ak_sts_creds_init(ak_sts_creds *c) {
    AK_PRECOND(c != NULL);
    ak_buf_init(&c->access_key_id, 256);
    ak_buf_init_secret(&c->secret_access_key, 256);
    ak_buf_init_secret(&c->session_token, 8192);
    ak_buf_init(&c->expiration, 64);
    ak_buf_init(&c->assumed_role_arn, 1024);
}

void ak_sts_creds_free(ak_sts_creds *c) {
    if (c == NULL) return;
    ak_buf_free(&c->access_key_id);
    ak_buf_free(&c->secret_access_key);
    ak_buf_free(&c->session_token);
    ak_buf_free(&c->expiration);
    ak_buf_free(&c->assumed_role_arn);
}

ak_sigv4_creds ak_sts_creds_view(const ak_sts_creds *c) {
    AK_PRECOND(c != NULL);
    return (ak_sigv4_creds){ak_buf_cur(&c->access_key_id), ak_buf_cur(&c->secret_access_key),
                            ak_buf_cur(&c->session_token)};
}

static void s_creds_clear(ak_sts_creds *c) {
    ak_buf_clear(&c->access_key_id);
    ak_buf_clear(&c->secret_access_key);
    ak_buf_clear(&c->session_token);
    ak_buf_clear(&c->expiration);
    ak_buf_clear(&c->assumed_role_arn);
}

ak_err ak_sts_parse_response(ak_cur body, ak_sts_creds *out) {
    AK_PRECOND(out != NULL);
    ak_xml x;
    ak_err rc = AK_OK;
    s_creds_clear(out);
    AK_ENSURE(ak_xml_parse(body, &x) == AK_OK, AK_E_STS_ERROR);
    uint32_t res, cred;
    AK_ENSURE_OUT(ak_xml_root_is(&x, "AssumeRoleWithWebIdentityResponse") &&
                      ak_xml_find(&x, 0, "AssumeRoleWithWebIdentityResult", &res) &&
                      ak_xml_child(&x, res, "Credentials", &cred),
                  AK_E_STS_ERROR);
    rc = ak_xml_text_at(&x, cred, "AccessKeyId", &out->access_key_id);
    if (rc == AK_OK) rc = ak_xml_text_at(&x, cred, "SecretAccessKey", &out->secret_access_key);
    if (rc == AK_OK) rc = ak_xml_text_at(&x, cred, "SessionToken", &out->session_token);
    if (rc == AK_OK) rc = ak_xml_text_at(&x, cred, "Expiration", &out->expiration);
    if (rc == AK_OK) rc = ak_xml_text_at(&x, res, "AssumedRoleUser/Arn", &out->assumed_role_arn);
    if (rc != AK_OK) rc = AK_E_STS_ERROR;
    AK_ENSURE_OUT(out->access_key_id.len > 0 && out->secret_access_key.len > 0 && out->session_token.len > 0,
                  AK_E_STS_ERROR);
out:
    ak_xml_free(&x);
    if (rc != AK_OK) s_creds_clear(out);
    return rc;
}

ak_err ak_sts_error_from_response(const ak_http_response *resp, ak_buf *code) {
    AK_PRECOND(resp != NULL);
    static const char *const denied[] = {"AccessDenied", "InvalidIdentityToken", "ExpiredTokenException",
                                         "IDPRejectedClaim", "AccessDeniedException"};
    ak_err e = (resp->status == 401 || resp->status == 403) ? AK_E_ACCESS_DENIED : AK_E_STS_ERROR;
    ak_xml x;
    if (resp->body.len > 0 && ak_xml_parse(ak_buf_cur(&resp->body), &x) == AK_OK) {
        /* AWS: <ErrorResponse><Error><Code>; RGW: the same or a bare <Error><Code>. */
        uint32_t n;
        bool found = ak_xml_root_is(&x, "Error") ? ak_xml_child(&x, 0, "Code", &n)
                                                 : ak_xml_find(&x, 0, "Error/Code", &n);
        ak_buf c;
        ak_buf_init(&c, 128);
        if (found && ak_xml_text(&x, n, &c) == AK_OK) {
            for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
                if (ak_cur_eq_str(ak_buf_cur(&c), denied[i])) e = AK_E_ACCESS_DENIED;
            if (code && ak_buf_append_cur(code, ak_buf_cur(&c)) != AK_OK) ak_buf_clear(code);
        }
        ak_buf_free(&c);
        ak_xml_free(&x);
    }
    return e;
}

static bool s_session_name_ok(ak_cur s) {
    if (s.len < 2 || s.len > 64) return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

static ak_err s_param(ak_buf *b, const char *name, ak_cur value) {
    AK_GUARD(ak_buf_append_byte(b, '&'));
    AK_GUARD(ak_buf_append_str(b, name));
    AK_GUARD(ak_buf_append_byte(b, '='));
    return ak_sigv4_uri_encode(value, false, b);
}

ak_err ak_sts_assume_role_with_web_identity(ak_sts *sts, const ak_sts_web_identity *req, ak_sts_creds *out) {
    AK_PRECOND(sts != NULL && req != NULL && out != NULL);
    AK_ENSURE(req->role_arn.len >= 20 && req->role_arn.len <= 2048 &&
                  ak_cur_starts_with(req->role_arn, AK_CUR_LIT("arn:")),
              AK_E_INVALID_INPUT);
    AK_ENSURE(s_session_name_ok(req->role_session_name), AK_E_INVALID_INPUT);
    AK_ENSURE(req->web_identity_token.len >= 4 && req->web_identity_token.len <= AK_STS_MAX_TOKEN,
              AK_E_INVALID_INPUT);
    AK_ENSURE(req->duration_seconds == 0 || (req->duration_seconds >= AK_STS_MIN_DURATION &&
                                             req->duration_seconds <= AK_STS_MAX_DURATION),
              AK_E_INVALID_INPUT);
    AK_ENSURE(req->policy.len <= 2048, AK_E_INVALID_INPUT);
    ak_buf body, code;
    ak_http_response resp;
    ak_err rc = AK_OK;
    ak_buf_init_secret(&body, 4u * AK_STS_MAX_TOKEN + 16384u); /* carries the bearer token */
    ak_buf_init(&code, 128);
    ak_http_response_init(&resp);
    AK_GUARD_OUT(ak_buf_append_str(&body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"));
    AK_GUARD_OUT(s_param(&body, "RoleArn", req->role_arn));
    AK_GUARD_OUT(s_param(&body, "RoleSessionName", req->role_session_name));
    AK_GUARD_OUT(s_param(&body, "WebIdentityToken", req->web_identity_token));
    if (req->duration_seconds)
        AK_GUARD_OUT(ak_buf_printf(&body, "&DurationSeconds=%u", (unsigned)req->duration_seconds));
    if (req->policy.len) AK_GUARD_OUT(s_param(&body, "Policy", req->policy));
    ak_http_header h[] = {{"Content-Type", AK_CUR_LIT("application/x-www-form-urlencoded; charset=utf-8")}};
    ak_http_request hr = {.method = "POST",
                          .url = sts->url,
                          .headers = h,
                          .n_headers = 1,
                          .body = ak_buf_cur(&body),
                          .deadline_ms = req->deadline_ms,
                          .idempotent = true, /* no side effects: safe to retry */
                          .max_response = 256u * 1024u,
                          .body_secret = true};
    AK_GUARD_OUT(ak_http_do(sts->http, &hr, &resp));
    if (resp.status != 200) {
        rc = ak_sts_error_from_response(&resp, &code);
        char st[16];
        snprintf(st, sizeof(st), "%ld", resp.status);
        ak_log_warn("sts error", "op", "AssumeRoleWithWebIdentity", "status", st, "code", ak_buf_cstr(&code),
                    "reason", ak_err_reason(rc));
        goto out;
    }
    rc = ak_sts_parse_response(ak_buf_cur(&resp.body), out);
out:
    ak_buf_free(&body);
    ak_buf_free(&code);
    ak_http_response_free(&resp);
    return rc;
}
