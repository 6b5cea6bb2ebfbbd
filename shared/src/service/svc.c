/* svc.c — the per-process service context (see ak/svc.h). */
#include "ak/svc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/awsjson.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"
#include "ak/log.h"
#include "ak/sigv4.h"

static const char *const s_key_names[3] = {"session", "oidc", "cap"};

/* ================================================================ default ops */

static ak_err s_ops_sign(ak_svc *svc, ak_signer_key key, ak_cur in, uint8_t sig64[64],
                         char kid[AK_SIGNER_KID_MAX]) {
    AK_ENSURE(svc->signer != NULL, AK_E_CONFIG);
    return ak_signer_sign(svc->signer, key, in, sig64, kid);
}

static ak_err s_ops_current_kid(ak_svc *svc, ak_signer_key key, bool refresh, char kid[AK_SIGNER_KID_MAX]) {
    AK_ENSURE(svc->signer != NULL, AK_E_CONFIG);
    if (refresh) AK_GUARD(ak_signer_refresh_keys(svc->signer));
    return ak_signer_current_kid(svc->signer, key, kid);
}

static ak_err s_ops_keys(ak_svc *svc, ak_buf *out) {
    AK_ENSURE(svc->signer != NULL, AK_E_CONFIG);
    return ak_signer_keys(svc->signer, out);
}

static ak_err s_ops_s3_put(ak_svc *svc, const char *bucket, ak_cur key, ak_cur body, bool if_none_match,
                           int64_t deadline_ms) {
    AK_ENSURE(svc->has_s3, AK_E_CONFIG);
    ak_s3_call call = {.creds = &svc->creds, .deadline_ms = deadline_ms};
    ak_s3_put_opts opts = {.if_none_match = if_none_match, .content_type = AK_CUR_LIT("application/json")};
    return ak_s3_put(&svc->s3, &call, bucket, key, body, &opts, NULL);
}

static ak_err s_ops_s3_get(ak_svc *svc, const char *bucket, ak_cur key, size_t max, ak_buf *out,
                           int64_t deadline_ms) {
    AK_ENSURE(svc->has_s3, AK_E_CONFIG);
    ak_s3_call call = {.creds = &svc->creds, .deadline_ms = deadline_ms};
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = ak_s3_get(&svc->s3, &call, bucket, key, max, false, &resp);
    if (rc == AK_OK) rc = ak_buf_append_cur(out, ak_buf_cur(&resp.body));
    ak_http_response_free(&resp);
    return rc;
}

static ak_err s_ops_http_do(ak_svc *svc, const ak_http_request *req, ak_http_response *resp) {
    AK_ENSURE(svc->http != NULL, AK_E_CONFIG);
    return ak_http_do(svc->http, req, resp);
}

static const ak_svc_ops s_default_ops = {
    .sign = s_ops_sign,
    .current_kid = s_ops_current_kid,
    .keys = s_ops_keys,
    .s3_put = s_ops_s3_put,
    .s3_get = s_ops_s3_get,
    .http_do = s_ops_http_do,
};

/* ================================================================ init helpers */

static const char *s_env(const char *name) {
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static ak_err s_missing(const char *name) {
    ak_log_error("service misconfigured", "missing", name);
    return AK_E_CONFIG;
}

static ak_err s_bad(const char *name) {
    ak_log_error("service misconfigured", "invalid", name);
    return AK_E_CONFIG;
}

static ak_err s_env_addr(const char *name, uint8_t out[20]) {
    const char *v = s_env(name);
    if (v == NULL) return s_missing(name);
    if (ak_eth_address_parse(ak_cur_from_str(v), out) != AK_OK) return s_bad(name);
    return AK_OK;
}

/* Writes `data` to a fresh 0600 file under $TMPDIR (or /tmp); `path` gets its name. */
static ak_err s_write_private_file(ak_cur data, char path[256]) {
    const char *dir = s_env("TMPDIR");
    int n = snprintf(path, 256, "%s/ak-svc-XXXXXX", dir ? dir : "/tmp");
    AK_ENSURE(n > 0 && n < 256, AK_E_IO);
    int fd = mkstemp(path); /* mkstemp creates the file 0600 */
    AK_ENSURE(fd >= 0, AK_E_IO);
    size_t off = 0;
    while (off < data.len) {
        ssize_t w = write(fd, data.ptr + off, data.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            unlink(path);
            return AK_E_IO;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        unlink(path);
        return AK_E_IO;
    }
    return AK_OK;
}

/* Overwrites a temporary file that held a secret with zeros, then removes it. */
static void s_shred(const char *path, size_t len) {
    if (path == NULL || path[0] == '\0') return;
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
        static const uint8_t zeros[512];
        size_t off = 0;
        while (off < len) {
            size_t k = len - off < sizeof(zeros) ? len - off : sizeof(zeros);
            ssize_t w = write(fd, zeros, k);
            if (w <= 0) break;
            off += (size_t)w;
        }
        (void)fsync(fd);
        close(fd);
    }
    unlink(path);
}

/*
 * Secrets Manager GetSecretValue (AWS Secrets Manager API Reference, "GetSecretValue"; JSON 1.1
 * protocol: POST / with X-Amz-Target secretsmanager.GetSecretValue, SigV4 service
 * "secretsmanager"). The SecretString is appended to `out` (a secret buffer).
 */
static ak_err s_secrets_get(ak_svc *svc, const char *arn, ak_buf *out) {
    ak_err rc = AK_OK;
    ak_buf body, url;
    ak_awsjson_req req;
    ak_http_response resp;
    json_t *req_j = NULL, *resp_j = NULL;
    ak_buf_init(&body, 4096);
    ak_buf_init(&url, 512);
    memset(&req, 0, sizeof(req)); /* freed on every path */
    ak_sigv4_result_init(&req.sig);
    ak_http_response_init(&resp);

    char scheme[6], host[256];
    if (!ak_sigv4_region_ok(svc->region)) AK_ENSURE_OUT(false, s_bad("AWS_REGION"));
    if (ak_sigv4_endpoint(s_env("AK_SECRETS_ENDPOINT") /* tests / VPC endpoints */, "secretsmanager",
                          svc->region, scheme, host, sizeof(host)) != AK_OK)
        AK_ENSURE_OUT(false, s_bad("AK_SECRETS_ENDPOINT"));
    AK_GUARD_OUT(ak_buf_printf(&url, "%s://%s/", scheme, host));
    req_j = json_pack("{s:s}", "SecretId", arn);
    AK_ENSURE_OUT(req_j != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(ak_json_dump(req_j, &body));

    ak_awsjson_call call = {.url = ak_buf_cstr(&url),
                            .host = ak_cur_from_str(host),
                            .region = ak_cur_from_str(svc->region),
                            .service = AK_CUR_LIT("secretsmanager"),
                            .target = AK_CUR_LIT("secretsmanager.GetSecretValue"),
                            .body = ak_buf_cur(&body),
                            .timeout_ms = 5000,
                            .idempotent = true, /* a read */
                            .max_response = 65536,
                            .body_secret = true};
    AK_GUARD_OUT(ak_awsjson_sign(&svc->creds, &call, &req));
    AK_GUARD_OUT(svc->ops.http_do(svc, &req.http, &resp));
    if (resp.status != 200) {
        ak_log_error("GetSecretValue failed", "status", resp.status >= 500 ? "5xx" : "4xx");
        AK_ENSURE_OUT(false, resp.status >= 500 ? AK_E_UPSTREAM : AK_E_CONFIG);
    }
    ak_cur ss;
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&resp.body), &resp_j) == AK_OK &&
                      ak_json_str(resp_j, "SecretString", &ss) == AK_OK,
                  AK_E_CONFIG);
    AK_GUARD_OUT(ak_buf_append_cur(out, ss));
out:
    if (req_j) json_decref(req_j);
    if (resp_j) {
        /* jansson holds the secret string; it is freed through ak_free, which does not wipe:
         * overwrite the value in place first. */
        json_t *v = json_object_get(resp_j, "SecretString");
        if (json_is_string(v)) ak_wipe((void *)json_string_value(v), json_string_length(v));
        json_decref(resp_j);
    }
    ak_buf_free(&body);
    ak_buf_free(&url);
    ak_awsjson_req_free(&req);
    ak_http_response_free(&resp);
    return rc;
}

/* Splits a client identity secret into certificate chain PEM and key PEM (see ak/svc.h). */
static ak_err s_split_identity(ak_cur secret, ak_buf *cert, ak_buf *key) {
    ak_cur t = ak_cur_trim(secret);
    if (t.len > 0 && t.ptr[0] == '{') {
        json_t *j = NULL;
        ak_cur c, k;
        ak_err rc = AK_E_CONFIG;
        if (ak_json_parse_object(t, &j) == AK_OK && ak_json_str(j, "cert_pem", &c) == AK_OK &&
            ak_json_str(j, "key_pem", &k) == AK_OK) {
            rc = ak_buf_append_cur(cert, c);
            if (rc == AK_OK) rc = ak_buf_append_cur(key, k);
        }
        if (j) {
            json_t *v = json_object_get(j, "key_pem");
            if (json_is_string(v)) ak_wipe((void *)json_string_value(v), json_string_length(v));
            json_decref(j);
        }
        return rc;
    }
    /* One PEM text: every "-----BEGIN ...PRIVATE KEY-----" block goes to the key, the rest to
     * the certificate chain. */
    while (t.len > 0) {
        long b = -1;
        for (size_t i = 0; i + 11 <= t.len; i++)
            if (memcmp(t.ptr + i, "-----BEGIN ", 11) == 0) {
                b = (long)i;
                break;
            }
        if (b < 0) break;
        ak_cur blk = ak_cur_from(t.ptr + b, t.len - (size_t)b);
        long e = -1;
        for (size_t i = 11; i + 9 <= blk.len; i++)
            if (memcmp(blk.ptr + i, "-----END ", 9) == 0) {
                e = (long)i;
                break;
            }
        AK_ENSURE(e > 0, AK_E_CONFIG);
        size_t end = (size_t)e + 9;
        while (end < blk.len && blk.ptr[end] != '\n')
            end++;
        if (end < blk.len) end++;
        ak_cur one = ak_cur_from(blk.ptr, end);
        ak_cur first_line = ak_cur_from(blk.ptr, (size_t)e);
        bool is_key = false;
        for (size_t i = 0; i + 11 <= first_line.len && first_line.ptr[i] != '\n'; i++)
            if (memcmp(first_line.ptr + i, "PRIVATE KEY", 11) == 0) is_key = true;
        AK_GUARD(ak_buf_append_cur(is_key ? key : cert, one));
        if (one.ptr[one.len - 1] != '\n') AK_GUARD(ak_buf_append_byte(is_key ? key : cert, '\n'));
        t = ak_cur_from(blk.ptr + end, blk.len - end);
    }
    AK_ENSURE(cert->len > 0 && key->len > 0, AK_E_CONFIG);
    return AK_OK;
}

static ak_err s_init_signer(ak_svc *svc) {
    ak_signer_config cfg;
    ak_err rc = AK_OK;
    char ca_tmp[256] = "", cert_tmp[256] = "", key_tmp[256] = "";
    size_t ca_len = 0, cert_len = 0, key_len = 0;
    ak_buf secret, cert, key;
    ak_buf_init_secret(&secret, 65536);
    ak_buf_init(&cert, 65536);
    ak_buf_init_secret(&key, 65536);

    const char *ca = s_env("AK_SIGNER_CA_PEM");
    const char *arn = s_env("AK_SIGNER_CLIENT_SECRET_ARN");
    bool have_paths = s_env("AK_SIGNER_CLIENT_CERT") != NULL && s_env("AK_SIGNER_CLIENT_KEY") != NULL;
    if (!have_paths && arn == NULL)
        AK_GUARD_OUT(s_missing("AK_SIGNER_CLIENT_CERT/AK_SIGNER_CLIENT_KEY or AK_SIGNER_CLIENT_SECRET_ARN"));
    /* The config is built here rather than by ak_signer_config_from_env: the CA may come as PEM
     * text and the client identity from Secrets Manager, which that helper does not handle. */
    if (s_env("AK_SIGNER_URL") == NULL) AK_GUARD_OUT(s_missing("AK_SIGNER_URL"));
    /* Attestation (AK_SIGNER_ATTESTATION local|nitro, ak/attest.h): local needs the pinned key and
     * the measurement, nitro PCR0; ak_signer_new checks the values. */
    bool nitro =
        s_env("AK_SIGNER_ATTESTATION") != NULL && strcmp(s_env("AK_SIGNER_ATTESTATION"), "nitro") == 0;
    if (nitro && s_env("AK_SIGNER_PCR0") == NULL) AK_GUARD_OUT(s_missing("AK_SIGNER_PCR0"));
    /* nitro: the CA is optional (RA-TLS, issue 18: the signer's key is authenticated by its NSM
     * document); if given, both checks apply */
    if (!nitro && ca == NULL) AK_GUARD_OUT(s_missing("AK_SIGNER_CA_PEM"));
    if (!nitro && s_env("AK_SIGNER_ATTEST_PUB") == NULL) AK_GUARD_OUT(s_missing("AK_SIGNER_ATTEST_PUB"));
    if (!nitro && s_env("AK_SIGNER_MEASUREMENT") == NULL) AK_GUARD_OUT(s_missing("AK_SIGNER_MEASUREMENT"));
    memset(&cfg, 0, sizeof(cfg));
    cfg.url = s_env("AK_SIGNER_URL");
    cfg.server_name = s_env("AK_SIGNER_SERVER_NAME");
    ak_signer_config_attest_env(&cfg);
    const char *t = s_env("AK_SIGNER_TIMEOUT_MS");
    uint64_t tv;
    if (t != NULL && ak_cur_to_u64(ak_cur_from_str(t), &tv) == AK_OK && tv > 0 && tv < 600000)
        cfg.timeout_ms = (unsigned)tv;

    if (ca != NULL && strncmp(ca, "-----BEGIN", 10) == 0) {
        ca_len = strlen(ca);
        AK_GUARD_OUT(s_write_private_file(ak_cur_from_str(ca), ca_tmp));
        cfg.ca_pem_path = ca_tmp;
    } else {
        cfg.ca_pem_path = ca;
    }
    if (have_paths) {
        cfg.cert_path = s_env("AK_SIGNER_CLIENT_CERT");
        cfg.key_path = s_env("AK_SIGNER_CLIENT_KEY");
    } else {
        AK_ENSURE_OUT(svc->region[0] != '\0', s_missing("AWS_REGION"));
        AK_ENSURE_OUT(svc->creds.access_key_id.len > 0, s_missing("AWS_ACCESS_KEY_ID"));
        rc = s_secrets_get(svc, arn, &secret);
        if (rc != AK_OK) {
            ak_log_error("signer client identity unavailable", "source", "AK_SIGNER_CLIENT_SECRET_ARN",
                         "reason", ak_err_reason(rc));
            goto out;
        }
        AK_ENSURE_OUT(s_split_identity(ak_buf_cur(&secret), &cert, &key) == AK_OK,
                      s_bad("AK_SIGNER_CLIENT_SECRET_ARN (secret shape)"));
        cert_len = cert.len;
        key_len = key.len;
        AK_GUARD_OUT(s_write_private_file(ak_buf_cur(&cert), cert_tmp));
        AK_GUARD_OUT(s_write_private_file(ak_buf_cur(&key), key_tmp));
        cfg.cert_path = cert_tmp;
        cfg.key_path = key_tmp;
    }
    rc = ak_signer_new(&cfg, &svc->signer);
    if (rc != AK_OK) ak_log_error("signer client setup failed", "reason", ak_err_reason(rc));
out:
    s_shred(ca_tmp, ca_len);
    s_shred(cert_tmp, cert_len);
    s_shred(key_tmp, key_len);
    ak_buf_free(&secret);
    ak_buf_free(&cert);
    ak_buf_free(&key);
    return rc;
}

/* ================================================================ init / free */

static void s_zero(ak_svc *svc) {
    memset(svc, 0, sizeof(*svc));
    svc->ops = s_default_ops;
    svc->margin_ms = AK_SVC_DEFAULT_MARGIN_MS;
    ak_evm_rpc_init(&svc->rpc, NULL, "");
}

ak_err ak_svc_init(ak_svc *svc, unsigned needs) {
    AK_PRECOND(svc != NULL);
    ak_err rc = AK_OK;
    s_zero(svc);
    if (needs & AK_SVC_AUDIT) needs |= AK_SVC_S3;

    const char *m = s_env("AK_DEADLINE_MARGIN_MS");
    uint64_t mv;
    if (m != NULL) {
        AK_ENSURE_OUT(ak_cur_to_u64(ak_cur_from_str(m), &mv) == AK_OK && mv < 60000,
                      s_bad("AK_DEADLINE_MARGIN_MS"));
        svc->margin_ms = (unsigned)mv;
    }

    ak_http_config hc = {.user_agent = "agentkeys/1"};
    AK_GUARD_OUT(ak_http_new(&hc, &svc->http));

    /* Region and credentials: read whenever present (the Secrets Manager path needs them too). */
    const char *region = s_env("AWS_REGION");
    if (region == NULL) region = s_env("AWS_DEFAULT_REGION");
    if (region != NULL)
        AK_ENSURE_OUT(ak_cur_to_cstr(ak_cur_from_str(region), svc->region, sizeof(svc->region)) == AK_OK,
                      s_bad("AWS_REGION"));
    bool have_creds = ak_s3_env_creds(&svc->creds) == AK_OK;
    if (needs & AK_SVC_S3) {
        if (region == NULL) AK_GUARD_OUT(s_missing("AWS_REGION"));
        if (!have_creds) AK_GUARD_OUT(s_missing("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"));
        ak_s3_config sc;
        AK_GUARD_OUT(ak_s3_config_from_env(&sc));
        if (ak_s3_init(&svc->s3, svc->http, &sc) != AK_OK) AK_GUARD_OUT(s_bad("AK_S3_ENDPOINT/AWS_REGION"));
        svc->has_s3 = true;
    }

    if (needs & AK_SVC_CHAIN) {
        const char *url = s_env("AK_CHAIN_RPC_URL");
        if (url == NULL) AK_GUARD_OUT(s_missing("AK_CHAIN_RPC_URL"));
        const char *cid = s_env("AK_CHAIN_ID");
        if (cid == NULL) AK_GUARD_OUT(s_missing("AK_CHAIN_ID"));
        AK_ENSURE_OUT(ak_cur_to_u64(ak_cur_from_str(cid), &svc->chain_id) == AK_OK && svc->chain_id > 0,
                      s_bad("AK_CHAIN_ID"));
        AK_GUARD_OUT(s_env_addr("AK_REGISTRY_ADDRESS", svc->registry));
        AK_GUARD_OUT(s_env_addr("AK_SCOPE_ADDRESS", svc->scope));
        AK_GUARD_OUT(s_env_addr("AK_EPOCH_ADDRESS", svc->epoch_counter));
        ak_evm_rpc_free(&svc->rpc);
        ak_evm_rpc_init(&svc->rpc, svc->http, url);
        svc->has_chain = true;
    }

    if (needs & AK_SVC_ISSUER) {
        const char *iss = s_env("AK_ISSUER");
        if (iss == NULL) AK_GUARD_OUT(s_missing("AK_ISSUER"));
        ak_cur i = ak_cur_from_str(iss);
        AK_ENSURE_OUT(
            (ak_cur_starts_with(i, AK_CUR_LIT("https://")) || ak_cur_starts_with(i, AK_CUR_LIT("http://"))) &&
                i.ptr[i.len - 1] != '/' && ak_cur_to_cstr(i, svc->issuer, sizeof(svc->issuer)) == AK_OK,
            s_bad("AK_ISSUER"));
    }
    if (needs & AK_SVC_AUDIT) {
        const char *b = s_env("AK_AUDIT_BUCKET");
        if (b == NULL) AK_GUARD_OUT(s_missing("AK_AUDIT_BUCKET"));
        AK_ENSURE_OUT(ak_cur_to_cstr(ak_cur_from_str(b), svc->audit_bucket, sizeof(svc->audit_bucket)) ==
                          AK_OK,
                      s_bad("AK_AUDIT_BUCKET"));
    }
    if (needs & AK_SVC_SIGNER) AK_GUARD_OUT(s_init_signer(svc));
out:
    if (rc != AK_OK) ak_svc_free(svc);
    return rc;
}

void ak_svc_init_for_test(ak_svc *svc, const ak_svc_ops *ops, const char *issuer, const char *audit_bucket) {
    AK_PRECOND(svc != NULL && ops != NULL);
    s_zero(svc);
    svc->ops = *ops;
    svc->has_chain = true;
    if (issuer) snprintf(svc->issuer, sizeof(svc->issuer), "%s", issuer);
    if (audit_bucket) snprintf(svc->audit_bucket, sizeof(svc->audit_bucket), "%s", audit_bucket);
}

void ak_svc_free(ak_svc *svc) {
    if (svc == NULL) return;
    ak_evm_rpc_free(&svc->rpc);
    ak_signer_free(svc->signer);
    ak_http_free(svc->http);
    ak_svc_ops ops = svc->ops;
    void *tu = svc->test_user;
    memset(svc, 0, sizeof(*svc));
    svc->ops = ops;
    svc->test_user = tu;
}

/* ================================================================ deadlines */

void ak_svc_begin(ak_svc *svc, uint64_t lambda_deadline_ms) {
    int64_t now = ak_http_now_ms();
    int64_t d = lambda_deadline_ms == 0 ? now + 10000 : (int64_t)lambda_deadline_ms - (int64_t)svc->margin_ms;
    if (d <= now) d = now + 1;
    svc->deadline_ms = d;
    svc->rpc.deadline_ms = d;
}

uint64_t ak_svc_remaining_ms(const ak_svc *svc) {
    int64_t left = svc->deadline_ms - ak_http_now_ms();
    return left > 0 ? (uint64_t)left : 0;
}

ak_err ak_svc_require_ms(const ak_svc *svc, uint64_t need_ms) {
    return ak_svc_remaining_ms(svc) >= need_ms ? AK_OK : AK_E_DEADLINE;
}

/* ================================================================ S3 + audit */

ak_err ak_svc_s3_put(ak_svc *svc, const char *bucket, ak_cur key, ak_cur body, bool if_none_match) {
    AK_ENSURE(svc->ops.s3_put != NULL, AK_E_CONFIG);
    return svc->ops.s3_put(svc, bucket, key, body, if_none_match, svc->deadline_ms);
}

ak_err ak_svc_s3_get(ak_svc *svc, const char *bucket, ak_cur key, size_t max, ak_buf *out) {
    AK_ENSURE(svc->ops.s3_get != NULL, AK_E_CONFIG);
    return svc->ops.s3_get(svc, bucket, key, max, out, svc->deadline_ms);
}

ak_err ak_svc_audit_write(ak_svc *svc, int64_t deadline_ms, const ak_audit_event *ev) {
    ak_buf bytes, key;
    ak_err rc = AK_OK;
    ak_buf_init(&bytes, AK_MAX_AUDIT_EVENT);
    ak_buf_init(&key, 256);
    AK_ENSURE_OUT(svc->audit_bucket[0] != '\0' && svc->ops.s3_put != NULL, AK_E_AUDIT_WRITE);
    AK_GUARD_OUT(ak_audit_event_encode(ev, &bytes));
    AK_GUARD_OUT(ak_audit_pending_key(ev, &key));
    /* D12: create-only, so two writers can never overwrite each other's event. */
    rc = svc->ops.s3_put(svc, svc->audit_bucket, ak_buf_cur(&key), ak_buf_cur(&bytes), true,
                         deadline_ms != 0 ? deadline_ms : svc->deadline_ms);
out:
    if (rc != AK_OK) {
        ak_log_error("audit write failed", "reason", ak_err_reason(rc));
        if (rc != AK_E_NOMEM) rc = AK_E_AUDIT_WRITE;
    }
    ak_buf_free(&bytes);
    ak_buf_free(&key);
    return rc;
}

/* ================================================================ signing */

typedef struct {
    ak_svc *svc;
    ak_signer_key key;
    char kid_used[AK_SIGNER_KID_MAX];
} s_sign_ctx;

static ak_err s_sign_cb(void *user, const uint8_t *in, size_t len, uint8_t sig64[64]) {
    s_sign_ctx *c = user;
    return c->svc->ops.sign(c->svc, c->key, ak_cur_from(in, len), sig64, c->kid_used);
}

ak_err ak_svc_sign_jws(ak_svc *svc, ak_signer_key key, const char *typ, ak_cur payload, ak_buf *out,
                       char kid_out[AK_SIGNER_KID_MAX]) {
    AK_ENSURE(svc->ops.sign != NULL && svc->ops.current_kid != NULL, AK_E_CONFIG);
    size_t start = out->len;
    ak_err rc = AK_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        char kid[AK_SIGNER_KID_MAX];
        s_sign_ctx c = {.svc = svc, .key = key};
        rc = svc->ops.current_kid(svc, key, attempt > 0, kid);
        if (rc != AK_OK) break;
        out->len = start;
        rc = ak_jws_sign_es256(kid, typ, payload, s_sign_cb, &c, out);
        if (rc == AK_E_CONFLICT) continue; /* the signer rotated: refresh kids, sign again */
        if (rc == AK_OK && strcmp(c.kid_used, kid) != 0) rc = AK_E_SIGN_ERROR;
        if (rc == AK_OK && kid_out != NULL) memcpy(kid_out, kid, AK_SIGNER_KID_MAX);
        break;
    }
    if (rc != AK_OK) {
        out->len = start;
        if (out->ptr) out->ptr[start] = 0;
    }
    return rc;
}

ak_err ak_svc_sign_jwt(ak_svc *svc, ak_signer_key key, const char *typ, const json_t *claims, ak_buf *out,
                       char kid_out[AK_SIGNER_KID_MAX]) {
    ak_buf payload;
    ak_buf_init(&payload, AK_MAX_JWS);
    ak_err rc = ak_json_dump(claims, &payload);
    if (rc == AK_OK) rc = ak_svc_sign_jws(svc, key, typ, ak_buf_cur(&payload), out, kid_out);
    ak_buf_free(&payload);
    return rc;
}

ak_err ak_svc_public_jwks(ak_svc *svc, ak_signer_key key, bool include_previous, json_t **out) {
    AK_PRECOND((unsigned)key < 3 && out != NULL);
    *out = NULL;
    AK_ENSURE(svc->ops.keys != NULL, AK_E_CONFIG);
    ak_buf raw;
    json_t *root = NULL, *cur = NULL, *prev = json_array();
    ak_err rc = AK_OK;
    ak_buf_init(&raw, 1u << 20);
    AK_ENSURE_OUT(prev != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(svc->ops.keys(svc, &raw));
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&raw), &root) == AK_OK, AK_E_UPSTREAM);
    json_t *keys = json_object_get(root, "keys");
    AK_ENSURE_OUT(json_is_array(keys), AK_E_UPSTREAM);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        ak_cur purpose, st;
        if (ak_json_str(k, "ak_key", &purpose) != AK_OK || !ak_cur_eq_str(purpose, s_key_names[key]))
            continue;
        AK_ENSURE_OUT(ak_json_str(k, "ak_status", &st) == AK_OK, AK_E_UPSTREAM);
        bool is_cur = ak_cur_eq_str(st, "current");
        if (!is_cur && !include_previous) continue;
        /* Check it is a proper public P-256 JWK before we publish or trust it. */
        ak_jwk_p256 parsed;
        AK_ENSURE_OUT(ak_jwk_p256_from_json(k, &parsed) == AK_OK, AK_E_UPSTREAM);
        json_t *copy = json_deep_copy(k);
        AK_ENSURE_OUT(copy != NULL, AK_E_NOMEM);
        json_object_del(copy, "ak_key");
        json_object_del(copy, "ak_status");
        if (is_cur) {
            if (cur != NULL) {
                json_decref(copy);
                AK_ENSURE_OUT(false, AK_E_UPSTREAM); /* two current keys of one purpose */
            }
            cur = copy;
        } else if (json_array_append_new(prev, copy) != 0) {
            AK_ENSURE_OUT(false, AK_E_NOMEM);
        }
    }
    AK_ENSURE_OUT(cur != NULL, AK_E_UPSTREAM);
    {
        json_t *c0 = cur;
        cur = NULL; /* json_array_insert_new steals the reference, also on failure */
        AK_ENSURE_OUT(json_array_insert_new(prev, 0, c0) == 0, AK_E_NOMEM);
    }
    *out = prev;
    prev = NULL;
out:
    if (cur) json_decref(cur);
    if (prev) json_decref(prev);
    if (root) json_decref(root);
    ak_buf_free(&raw);
    return rc;
}

/* ================================================================ sessions */

ak_err ak_svc_bearer(ak_cur authorization, ak_cur *token) {
    ak_cur a = authorization;
    AK_ENSURE(a.len > 7 && ak_cur_eq_nocase(ak_cur_from(a.ptr, 7), AK_CUR_LIT("Bearer ")), AK_E_UNAUTHORIZED);
    ak_cur t = ak_cur_from(a.ptr + 7, a.len - 7);
    AK_ENSURE(t.len > 0 && t.len <= AK_MAX_JWS, AK_E_UNAUTHORIZED);
    for (size_t i = 0; i < t.len; i++) {
        uint8_t ch = t.ptr[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || ch == '.';
        AK_ENSURE(ok, AK_E_UNAUTHORIZED);
    }
    *token = t;
    return AK_OK;
}

static ak_err s_load_session_keys(ak_svc *svc) {
    json_t *arr = NULL;
    ak_err rc = ak_svc_public_jwks(svc, AK_SIGNER_KEY_SESSION, true, &arr);
    if (rc != AK_OK) return rc;
    ak_jwks ks;
    memset(&ks, 0, sizeof(ks));
    for (size_t i = 0; i < json_array_size(arr) && ks.n < AK_JWKS_MAX_KEYS; i++) {
        if (ak_jwk_p256_from_json(json_array_get(arr, i), &ks.keys[ks.n]) != AK_OK) {
            rc = AK_E_UPSTREAM;
            break;
        }
        ks.n++;
    }
    json_decref(arr);
    if (rc != AK_OK) return rc;
    svc->session_keys = ks;
    svc->session_keys_loaded = true;
    svc->session_keys_at_ms = ak_http_now_ms();
    return AK_OK;
}

static bool s_has_kid(const ak_jwks *ks, ak_cur kid) {
    for (size_t i = 0; i < ks->n; i++)
        if (ak_cur_eq_str(kid, ks->keys[i].kid)) return true;
    return false;
}

static ak_err s_claim_str(const json_t *c, const char *k, ak_cur *out) {
    return ak_json_str(c, k, out) == AK_OK ? AK_OK : AK_E_UNAUTHORIZED;
}

ak_err ak_svc_check_session_device(ak_svc *svc, const ak_session *s, ak_device_entry *dev) {
    AK_PRECOND(svc != NULL && s != NULL);
    ak_device_entry d;
    memset(&d, 0, sizeof(d));
    if (dev != NULL) *dev = d;
    AK_GUARD(ak_registry_get_device(&svc->rpc, svc->registry, s->device_key_hash, &d));
    if (dev != NULL) *dev = d;
    AK_ENSURE(d.registered_at != 0, AK_E_DEVICE_NOT_REGISTERED);
    AK_ENSURE(!d.revoked, AK_E_DEVICE_REVOKED);
    AK_ENSURE(memcmp(d.operator_omni, s->operator_omni.b, 32) == 0, AK_E_DEVICE_BINDING_MISMATCH);
    if (s->kind == AK_SESSION_MASTER)
        AK_ENSURE(d.tier == AK_DEVICE_TIER_MASTER, AK_E_DEVICE_BINDING_MISMATCH);
    else
        AK_ENSURE(d.tier == AK_DEVICE_TIER_AGENT && memcmp(d.actor_omni, s->omni_account.b, 32) == 0,
                  AK_E_DEVICE_BINDING_MISMATCH);
    return AK_OK;
}

ak_err ak_svc_verify_session(ak_svc *svc, ak_cur token, uint64_t now, ak_session *out) {
    AK_PRECOND(svc != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    ak_jws jws;
    memset(&jws, 0, sizeof(jws));
    ak_err rc = AK_OK;
    AK_ENSURE(svc->issuer[0] != '\0', AK_E_CONFIG);
    AK_ENSURE(ak_jws_parse(token, &jws) == AK_OK, AK_E_UNAUTHORIZED);
    AK_ENSURE_OUT(jws.has_kid, AK_E_UNAUTHORIZED);
    if (!svc->session_keys_loaded) {
        AK_GUARD_OUT(s_load_session_keys(svc));
    } else if (!s_has_kid(&svc->session_keys, jws.kid) &&
               ak_http_now_ms() - svc->session_keys_at_ms >= AK_SVC_KEYS_REFRESH_MIN_MS) {
        AK_GUARD_OUT(s_load_session_keys(svc));
    }
    AK_ENSURE_OUT(ak_jws_verify_jwks(&jws, &svc->session_keys) == AK_OK, AK_E_UNAUTHORIZED);
    ak_jwt_expect ex = {.now = now,
                        .skew = AK_SESSION_SKEW,
                        .typ = "JWT",
                        .iss = svc->issuer,
                        .aud = AK_SESSION_AUD,
                        .require_exp = true};
    AK_ENSURE_OUT(ak_jwt_check_claims(&jws, &ex) == AK_OK, AK_E_UNAUTHORIZED);

    const json_t *c = jws.claims;
    ak_cur omni, op, kind, wallet, dkh, sub, jti;
    uint64_t iat, exp;
    AK_ENSURE_OUT(ak_json_u64(c, "iat", &iat) == AK_OK && ak_json_u64(c, "exp", &exp) == AK_OK && iat <= exp,
                  AK_E_UNAUTHORIZED);
    AK_GUARD_OUT(s_claim_str(c, "agentkeys.omni_account", &omni));
    AK_GUARD_OUT(s_claim_str(c, "agentkeys.operator_omni", &op));
    AK_GUARD_OUT(s_claim_str(c, "agentkeys.session_kind", &kind));
    AK_GUARD_OUT(s_claim_str(c, "agentkeys.wallet_address", &wallet));
    AK_GUARD_OUT(s_claim_str(c, "agentkeys.device_key_hash", &dkh));
    AK_GUARD_OUT(s_claim_str(c, "sub", &sub));
    AK_GUARD_OUT(s_claim_str(c, "jti", &jti));
    AK_ENSURE_OUT(ak_is_hex64_lower(omni) && ak_is_hex64_lower(op), AK_E_UNAUTHORIZED);
    AK_ENSURE_OUT(ak_omni_parse(omni, &out->omni_account) == AK_OK, AK_E_UNAUTHORIZED);
    AK_ENSURE_OUT(ak_omni_parse(op, &out->operator_omni) == AK_OK, AK_E_UNAUTHORIZED);
    AK_ENSURE_OUT(ak_eth_address_parse(wallet, out->wallet) == AK_OK, AK_E_UNAUTHORIZED);
    AK_ENSURE_OUT(ak_hash32_parse(dkh, out->device_key_hash) == AK_OK, AK_E_UNAUTHORIZED);
    AK_ENSURE_OUT(ak_cur_to_cstr(jti, out->jti, sizeof(out->jti)) == AK_OK, AK_E_UNAUTHORIZED);
    uint8_t want[32];
    ak_device_key_hash(out->wallet, want);
    AK_ENSURE_OUT(memcmp(want, out->device_key_hash, 32) == 0, AK_E_UNAUTHORIZED);
    const char *sub_prefix;
    if (ak_cur_eq_str(kind, "master")) {
        out->kind = AK_SESSION_MASTER;
        AK_ENSURE_OUT(ak_omni_eq(&out->omni_account, &out->operator_omni), AK_E_UNAUTHORIZED);
        sub_prefix = "agentkeys:user:";
    } else if (ak_cur_eq_str(kind, "agent")) {
        out->kind = AK_SESSION_AGENT;
        sub_prefix = "agentkeys:agent:";
    } else {
        AK_ENSURE_OUT(false, AK_E_UNAUTHORIZED);
    }
    size_t pl = strlen(sub_prefix);
    AK_ENSURE_OUT(sub.len == pl + 64 && memcmp(sub.ptr, sub_prefix, pl) == 0 &&
                      ak_cur_eq(ak_cur_from(sub.ptr + pl, 64), omni),
                  AK_E_UNAUTHORIZED);
    out->iat = iat;
    out->exp = exp;
out:
    ak_jws_free(&jws);
    if (rc != AK_OK) memset(out, 0, sizeof(*out));
    return rc;
}

ak_err ak_session_claims(const ak_session *s, const char *issuer, json_t **out) {
    AK_PRECOND(s != NULL && issuer != NULL && out != NULL);
    AK_ENSURE(s->kind == AK_SESSION_MASTER || s->kind == AK_SESSION_AGENT, AK_E_INVALID_INPUT);
    char omni[65], op[65], wallet[43], dkh[67], sub[96];
    ak_omni_hex(&s->omni_account, omni);
    ak_omni_hex(&s->operator_omni, op);
    ak_eth_address_hex(s->wallet, wallet);
    ak_hash32_hex0x(s->device_key_hash, dkh);
    bool master = s->kind == AK_SESSION_MASTER;
    int n = snprintf(sub, sizeof(sub), "%s%s", master ? "agentkeys:user:" : "agentkeys:agent:", omni);
    AK_ENSURE(n > 0 && (size_t)n < sizeof(sub), AK_E_INTERNAL);
    json_t *c = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "iss", issuer, "sub", sub, "aud",
        AK_SESSION_AUD, "iat", (json_int_t)s->iat, "exp", (json_int_t)s->exp, "jti", s->jti,
        "agentkeys.omni_account", omni, "agentkeys.wallet_address", wallet, "agentkeys.identity_type", "evm",
        "agentkeys.identity_value", wallet, "agentkeys.session_kind", master ? "master" : "agent",
        "agentkeys.operator_omni", op, "agentkeys.device_key_hash", dkh);
    AK_ENSURE(c != NULL, AK_E_NOMEM);
    *out = c;
    return AK_OK;
}
