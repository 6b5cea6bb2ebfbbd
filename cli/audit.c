/*
 * cli/audit.c — the operator's audit trail through our API (the on-chain side, `audit anchor` and
 * `audit verify`, is in operator.c):
 *
 *   audit flush                 POST /v1/audit/flush (master session): pending events -> Merkle batch
 *   audit ls [--pending]        the operator's event ids, from the audit bucket (ambient AWS
 *                               credentials, as `audit anchor` uses)
 *   audit proof EVENT [--out F] GET /v1/audit/proof?event=EVENT: the file `audit verify` checks
 *
 * Also `signer verify-attestation` (a Nitro attestation document checked offline, ak/nitro.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"
#include "ak/json.h"
#include "ak/nitro.h"
#include "ak/s3.h"
#include "cli.h"

/* The event id or pending key becomes a query value: keep it to characters that need no encoding. */
static bool s_event_ok(const char *e) {
    size_t n = strlen(e);
    if (n == 0 || n > 512) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = e[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || ch == '.' || ch == '/';
        if (!ok) return false;
    }
    return true;
}

/* Parses "[--flag VALUE|--switch]... [POS]" for the few flags of this file. */
static int s_opts(akcli *c, int argc, char **argv, const char *with_value, const char *switch_name,
                  const char **value, bool *sw, const char **pos) {
    *pos = NULL;
    for (int i = 0; i < argc; i++) {
        if (with_value && strcmp(argv[i], with_value) == 0) {
            if (i + 1 >= argc) return akcli_usage(c, "%s needs a value", with_value);
            *value = argv[++i];
        } else if (switch_name && strcmp(argv[i], switch_name) == 0) {
            *sw = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return akcli_usage(c, "unknown option %s", argv[i]);
        } else if (*pos == NULL) {
            *pos = argv[i];
        } else {
            return akcli_usage(c, "unexpected argument %s", argv[i]);
        }
    }
    return AKCLI_OK;
}

static int s_audit_flush(akcli *c, int argc, char **argv) {
    (void)argv;
    if (argc != 0) return akcli_usage(c, "audit flush takes no arguments");
    akcli_session s;
    int rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    json_t *r = NULL;
    ak_err e = ak_client_call(s.cl, "POST", "/v1/audit/flush", AK_CUR_LIT("{}"), &r);
    if (e != AK_OK) {
        rc = akcli_session_fail(&s, e, "audit flush");
    } else if (akcli_json(c)) {
        json_dumpf(r, stdout, JSON_COMPACT);
        printf("\n");
    } else {
        printf("flushed %lld event(s) into %lld batch(es)\n",
               (long long)json_integer_value(json_object_get(r, "events")),
               (long long)json_integer_value(json_object_get(r, "batches")));
    }
    if (r) json_decref(r);
    akcli_session_close(&s);
    return rc;
}

static int s_audit_proof(akcli *c, int argc, char **argv) {
    const char *out = NULL, *ev = NULL;
    bool unused = false;
    int rc = s_opts(c, argc, argv, "--out", NULL, &out, &unused, &ev);
    if (rc != AKCLI_OK) return rc;
    if (ev == NULL)
        return akcli_usage(c, "EVENT (an event id from `audit ls`, or its pending key) is required");
    if (!s_event_ok(ev)) return akcli_fail(c, AKCLI_USAGE, "invalid_input", "%s is not an event id", ev);
    char path[600];
    snprintf(path, sizeof(path), "/v1/audit/proof?event=%s", ev);
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    json_t *r = NULL;
    ak_buf text;
    ak_buf_init(&text, 16u << 20);
    ak_err e = ak_client_call(s.cl, "GET", path, ak_cur_from(NULL, 0), &r);
    if (e == AK_OK) e = ak_json_dump(r, &text);
    if (e == AK_OK) e = ak_buf_append_byte(&text, '\n');
    if (e != AK_OK) {
        rc = akcli_session_fail(&s, e, "audit proof");
    } else if (out != NULL) {
        e = akcli_write_file_0600(out, ak_buf_cur(&text));
        if (e != AK_OK) rc = akcli_fail_err(c, e, "cannot write %s", out);
    } else {
        fwrite(text.ptr, 1, text.len, stdout);
    }
    if (r) json_decref(r);
    ak_buf_free(&text);
    akcli_session_close(&s);
    return rc;
}

typedef struct s_ls {
    akcli *c;
    size_t n;
    json_t *arr;
    bool pending;
} s_ls;

static ak_err s_ls_item(void *ud, const ak_s3_list_item *it) {
    s_ls *l = ud;
    /* audit/index/<op>/<event id>.json or audit/pending/<op>/<key>: print the last segment */
    ak_cur k = it->key;
    size_t i = k.len;
    while (i > 0 && k.ptr[i - 1] != '/')
        i--;
    ak_cur name = ak_cur_from(k.ptr + i, k.len - i);
    if (!l->pending && name.len > 5 && memcmp(name.ptr + name.len - 5, ".json", 5) == 0) name.len -= 5;
    if (name.len == 0) return AK_OK;
    l->n++;
    if (l->arr)
        json_array_append_new(l->arr, json_stringn((const char *)name.ptr, name.len));
    else
        printf("%.*s\n", (int)name.len, (const char *)name.ptr);
    return AK_OK;
}

static int s_audit_ls(akcli *c, int argc, char **argv) {
    const char *bucket = NULL, *pos = NULL;
    bool pending = false;
    int rc = s_opts(c, argc, argv, "--bucket", "--pending", &bucket, &pending, &pos);
    if (rc != AKCLI_OK) return rc;
    if (pos != NULL) return akcli_usage(c, "unexpected argument %s", pos);
    if (bucket == NULL) bucket = akcli_conf(c, "audit_bucket");
    if (bucket == NULL || bucket[0] == '\0') bucket = getenv("AK_AUDIT_BUCKET");
    char bucket_copy[128];
    if (bucket == NULL || bucket[0] == '\0' || strlen(bucket) >= sizeof(bucket_copy))
        return akcli_fail(
            c, AKCLI_USAGE, "config_error",
            "the audit bucket is unknown (--bucket, the `audit_bucket` setting or AK_AUDIT_BUCKET)");
    /* akcli_conf's answer lives in a scratch buffer that the next lookup reuses */
    snprintf(bucket_copy, sizeof(bucket_copy), "%s", bucket);
    bucket = bucket_copy;
    /* the operator id: the profile's master session */
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    ak_err e = ak_client_login(s.cl, false);
    if (e != AK_OK) {
        rc = akcli_session_fail(&s, e, "login");
        akcli_session_close(&s);
        return rc;
    }
    ak_client_session info;
    ak_client_session_info(s.cl, &info);
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "audit/%s/%s/", pending ? "pending" : "index", info.operator_omni);
    ak_s3_config sc;
    ak_sigv4_creds creds;
    ak_s3 s3;
    s_ls l = {c, 0, akcli_json(c) ? json_array() : NULL, pending};
    e = ak_s3_config_from_env(&sc);
    if (e == AK_OK) e = ak_s3_env_creds(&creds);
    if (e == AK_OK) e = ak_s3_init(&s3, ak_client_http(s.cl), &sc);
    if (e == AK_OK) {
        ak_s3_call call = {.creds = &creds, .deadline_ms = 0};
        e = ak_s3_list(&s3, &call, bucket, ak_cur_from_str(prefix), 0, s_ls_item, &l);
    }
    if (e != AK_OK) {
        rc = akcli_fail_err(
            c, e, "cannot list s3://%s/%s (the audit bucket is read with the ambient AWS credentials)",
            bucket, prefix);
    } else if (l.arr) {
        json_dumpf(l.arr, stdout, JSON_COMPACT);
        printf("\n");
    } else if (l.n == 0) {
        akcli_note(c, "no %s events for operator %s", pending ? "pending" : "flushed", info.operator_omni);
    }
    if (l.arr) json_decref(l.arr);
    akcli_session_close(&s);
    return rc;
}

/* `signer verify-attestation FILE [--at UNIX_MS] [--pcr0 HEX] [--root PEM]` (issue 18): exit 0
 * only when the document verifies; the decoded facts as JSON on stdout. */
static int s_verify_attestation(akcli *c, int argc, char **argv) {
    const char *file = NULL, *at = NULL, *pcr0 = "", *root = NULL;
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--at") == 0     ? &at
                            : strcmp(argv[i], "--pcr0") == 0 ? &pcr0
                            : strcmp(argv[i], "--root") == 0 ? &root
                                                             : NULL;
        if (slot != NULL) {
            if (i + 1 >= argc) return akcli_usage(c, "%s needs a value", argv[i]);
            *slot = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return akcli_usage(c, "unknown option %s", argv[i]);
        } else if (file == NULL) {
            file = argv[i];
        } else {
            return akcli_usage(c, "unexpected argument %s", argv[i]);
        }
    }
    if (file == NULL)
        return akcli_usage(c, "FILE (a raw attestation document, binary or base64) is required");
    int64_t at_ms;
    if (at != NULL) {
        uint64_t v = 0;
        if (ak_cur_to_u64(ak_cur_from_str(at), &v) != AK_OK || v > (uint64_t)INT64_MAX)
            return akcli_usage(c, "--at takes Unix milliseconds");
        at_ms = (int64_t)v;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    ak_buf doc, pem, out;
    ak_buf_init(&doc, 1u << 20);
    ak_buf_init(&pem, 1u << 20);
    ak_buf_init(&out, 1u << 20);
    int rc = AKCLI_OK;
    ak_err e = akcli_read_input(file, &doc);
    if (e != AK_OK) {
        rc = akcli_fail_err(c, e, "cannot read %s", file);
        goto out;
    }
    if (root != NULL && (e = ak_buf_append_file(&pem, root)) != AK_OK) {
        rc = akcli_fail_err(c, e, "cannot read %s", root);
        goto out;
    }
    e = ak_nitro_check(ak_buf_cur(&doc), ak_buf_cur(&pem), at_ms, ak_cur_from_str(pcr0), &out);
    if (e != AK_OK) {
        /* not a server refusal: an attestation that does not verify is exit 1 with its reason */
        rc = akcli_fail(c, e == AK_E_BAD_HEX ? AKCLI_USAGE : AKCLI_ERR, ak_err_reason(e),
                        "the attestation document does not verify: %s", ak_err_message(e));
        goto out;
    }
    fwrite(out.ptr, 1, out.len, stdout);
    printf("\n");
out:
    ak_buf_free(&doc);
    ak_buf_free(&pem);
    ak_buf_free(&out);
    return rc;
}

const akcli_cmd akcli_audit_cmds[] = {
    {"audit flush", "", "master session: batch the operator's pending audit events (Merkle tree, proofs)",
     s_audit_flush},
    {"audit ls", "[--pending] [--bucket NAME]",
     "the operator's flushed (or pending) audit event ids, from the audit bucket (ambient AWS credentials)",
     s_audit_ls},
    {"audit proof", "EVENT [--out FILE]",
     "an event's Merkle proof and root index (GET /v1/audit/proof): the file `audit verify` checks",
     s_audit_proof},
    {"signer verify-attestation", "FILE [--at UNIX_MS] [--pcr0 HEX] [--root PEM]",
     "verify a Nitro attestation document (COSE, chain to the AWS root, PCR0); prints its facts as JSON",
     s_verify_attestation},
    {0},
};
