/*
 * s3tool — drives the ak_s3 client from the shell (tests/e2e/s3_integration_test.sh, debugging).
 * Credentials and endpoint from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, AWS_REGION, AK_S3_ENDPOINT — e.g. `source build/local/ceph/env`).
 *
 *   s3tool mb BUCKET
 *   s3tool put BUCKET KEY [--if-none-match] [--if-match ETAG] [--meta NAME=VALUE]... (body: stdin, or --data STR)
 *   s3tool get BUCKET KEY                 body to stdout
 *   s3tool head BUCKET KEY                "etag <e>", "size <n>", "meta <name> <value>" lines
 *   s3tool rm BUCKET KEY
 *   s3tool ls BUCKET [PREFIX] [--delimiter D] [--start-after KEY] [--max-keys N] [--page N]
 *                                         one key per line ("prefix <p>" for a common prefix), then
 *                                         "count <n>" (objects + prefixes) and, with --max-keys,
 *                                         "truncated <0|1>"
 *   s3tool fill BUCKET PREFIX N           PUTs N small objects PREFIX000000..
 *   s3tool rmprefix BUCKET PREFIX         lists, then DeleteObjects in batches: "deleted <n> failed <m>"
 *   s3tool rmkeys BUCKET KEY...           DeleteObjects on the given keys
 *   s3tool cp SRC_BUCKET SRC_KEY DST_BUCKET DST_KEY
 *
 * Last stdout line: "ok" or "error <reason>" (exit 1). S3TOOL_VERBOSE=1 shows library log lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/http.h"
#include "ak/log.h"
#include "ak/s3.h"

typedef struct {
    ak_buf keys; /* NUL-separated */
    size_t n;
} s_keys;

static ak_err s_collect(void *ud, const ak_s3_list_item *it) {
    s_keys *k = ud;
    if (it->is_prefix) AK_GUARD(ak_buf_append_str(&k->keys, "prefix "));
    AK_GUARD(ak_buf_append_cur(&k->keys, it->key));
    AK_GUARD(ak_buf_append_byte(&k->keys, 0));
    k->n++;
    return AK_OK;
}

static void s_on_del_error(void *ud, ak_cur key, ak_cur code) {
    (void)ud;
    printf("delete-error %.*s %.*s\n", (int)key.len, key.ptr, (int)code.len, code.ptr);
}

static ak_err s_delete_keys(ak_s3 *s3, const ak_s3_call *call, const char *bucket, s_keys *k) {
    ak_cur *v = ak_calloc(k->n ? k->n : 1, sizeof(ak_cur));
    AK_ENSURE(v != NULL, AK_E_NOMEM);
    const uint8_t *p = k->keys.ptr;
    for (size_t i = 0; i < k->n; i++) {
        v[i] = ak_cur_from_str((const char *)p);
        p += v[i].len + 1;
    }
    ak_s3_delete_result res;
    ak_err rc = ak_s3_delete_objects(s3, call, bucket, v, k->n, s_on_del_error, NULL, &res);
    printf("deleted %zu failed %zu\n", res.deleted, res.failed);
    ak_free(v);
    return rc;
}

static int s_usage(void) {
    fprintf(stderr, "usage: s3tool mb|put|get|head|rm|ls|fill|rmprefix|rmkeys|cp ... (see source header)\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 3) return s_usage();
    if (getenv("S3TOOL_VERBOSE") == NULL) ak_log_set_min_level(AK_LOG_ERROR);
    const char *cmd = argv[1], *bucket = argv[2];
    ak_s3_config cfg;
    ak_sigv4_creds creds;
    ak_http *http = NULL;
    ak_s3 s3;
    ak_err rc = ak_s3_config_from_env(&cfg);
    if (rc == AK_OK) rc = ak_s3_env_creds(&creds);
    ak_http_config hc = {0};
    if (rc == AK_OK) rc = ak_http_new(&hc, &http);
    if (rc == AK_OK) rc = ak_s3_init(&s3, http, &cfg);
    ak_s3_call call = {.creds = &creds, .deadline_ms = 0};
    ak_buf body;
    ak_buf_init(&body, 64u * 1024u * 1024u);
    ak_http_response resp;
    ak_http_response_init(&resp);
    s_keys keys = {.n = 0};
    ak_buf_init(&keys.keys, 256u * 1024u * 1024u);
    int usage = 0;
    if (rc != AK_OK) goto out;
    call.deadline_ms = ak_http_now_ms() + 120000;

    if (strcmp(cmd, "mb") == 0) {
        rc = ak_s3_create_bucket(&s3, &call, bucket);
    } else if (strcmp(cmd, "put") == 0 && argc >= 4) {
        ak_s3_meta meta[AK_S3_MAX_META];
        char mnames[AK_S3_MAX_META][96];
        ak_s3_put_opts o = {.meta = meta};
        const char *data = NULL;
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--if-none-match") == 0)
                o.if_none_match = true;
            else if (strcmp(argv[i], "--if-match") == 0 && i + 1 < argc)
                o.if_match = ak_cur_from_str(argv[++i]);
            else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
                data = argv[++i];
            else if (strcmp(argv[i], "--meta") == 0 && i + 1 < argc && o.n_meta < AK_S3_MAX_META) {
                ak_cur kv = ak_cur_from_str(argv[++i]), name;
                if (!ak_cur_split(&kv, '=', &name) || ak_cur_to_cstr(name, mnames[o.n_meta], 96) != AK_OK) {
                    usage = 1;
                    goto out;
                }
                meta[o.n_meta].name = mnames[o.n_meta];
                meta[o.n_meta].value = kv;
                o.n_meta++;
            } else {
                usage = 1;
                goto out;
            }
        }
        if (data) {
            rc = ak_buf_append_str(&body, data);
        } else {
            uint8_t chunk[65536];
            size_t n;
            while (rc == AK_OK && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
                rc = ak_buf_append(&body, chunk, n);
        }
        ak_buf etag;
        ak_buf_init(&etag, 256);
        if (rc == AK_OK)
            rc = ak_s3_put(&s3, &call, bucket, ak_cur_from_str(argv[3]), ak_buf_cur(&body), &o, &etag);
        if (rc == AK_OK) printf("etag %s\n", ak_buf_cstr(&etag));
        ak_buf_free(&etag);
    } else if (strcmp(cmd, "get") == 0 && argc == 4) {
        rc = ak_s3_get(&s3, &call, bucket, ak_cur_from_str(argv[3]), 0, false, &resp);
        if (rc == AK_OK) {
            fwrite(resp.body.ptr ? (const void *)resp.body.ptr : "", 1, resp.body.len, stdout);
            printf("\n");
        }
    } else if (strcmp(cmd, "head") == 0 && argc == 4) {
        rc = ak_s3_head(&s3, &call, bucket, ak_cur_from_str(argv[3]), &resp);
        if (rc == AK_OK) {
            ak_cur all = ak_buf_cur(&resp.headers), line;
            while (ak_cur_split(&all, '\n', &line)) {
                ak_cur name;
                if (!ak_cur_split(&line, ':', &name)) continue;
                if (ak_cur_eq_str(name, "etag"))
                    printf("etag %.*s\n", (int)line.len, line.ptr);
                else if (ak_cur_eq_str(name, "content-length"))
                    printf("size %.*s\n", (int)line.len, line.ptr);
                else if (ak_cur_starts_with(name, AK_CUR_LIT("x-amz-meta-")))
                    printf("meta %.*s %.*s\n", (int)name.len - 11, name.ptr + 11, (int)line.len, line.ptr);
            }
        }
    } else if (strcmp(cmd, "rm") == 0 && argc == 4) {
        rc = ak_s3_delete(&s3, &call, bucket, ak_cur_from_str(argv[3]));
    } else if (strcmp(cmd, "ls") == 0) {
        ak_s3_list_opts o = {0};
        ak_s3_list_result res;
        bool ex = false;
        for (int i = 3; i < argc; i++) {
            uint64_t v = 0;
            if (strcmp(argv[i], "--delimiter") == 0 && i + 1 < argc)
                o.delimiter = ak_cur_from_str(argv[++i]);
            else if (strcmp(argv[i], "--start-after") == 0 && i + 1 < argc)
                o.start_after = ak_cur_from_str(argv[++i]);
            else if ((strcmp(argv[i], "--max-keys") == 0 || strcmp(argv[i], "--page") == 0) && i + 1 < argc &&
                     ak_cur_to_u64(ak_cur_from_str(argv[i + 1]), &v) == AK_OK && v > 0 && v <= 10000000) {
                if (argv[i][2] == 'm') {
                    o.max_keys = (size_t)v;
                    ex = true;
                } else {
                    o.page_size = (unsigned)v;
                }
                i++;
            } else if (i == 3 && argv[i][0] != '-')
                o.prefix = ak_cur_from_str(argv[i]);
            else {
                usage = 1;
                goto out;
            }
        }
        rc = ak_s3_list_ex(&s3, &call, bucket, &o, s_collect, &keys, &res);
        const uint8_t *p = keys.keys.ptr;
        for (size_t i = 0; rc == AK_OK && i < keys.n; i++) {
            size_t l = strlen((const char *)p);
            printf("%s\n", (const char *)p);
            p += l + 1;
        }
        if (rc == AK_OK) printf("count %zu\n", keys.n);
        if (rc == AK_OK && ex) printf("truncated %d\n", res.truncated ? 1 : 0);
    } else if (strcmp(cmd, "fill") == 0 && argc == 5) {
        uint64_t n;
        rc = ak_cur_to_u64(ak_cur_from_str(argv[4]), &n);
        char key[1100];
        for (uint64_t i = 0; rc == AK_OK && i < n; i++) {
            snprintf(key, sizeof(key), "%s%06llu", argv[3], (unsigned long long)i);
            rc = ak_s3_put(&s3, &call, bucket, ak_cur_from_str(key), AK_CUR_LIT("x"), NULL, NULL);
        }
    } else if (strcmp(cmd, "rmprefix") == 0 && argc == 4) {
        rc = ak_s3_list(&s3, &call, bucket, ak_cur_from_str(argv[3]), 0, s_collect, &keys);
        if (rc == AK_OK) rc = s_delete_keys(&s3, &call, bucket, &keys);
    } else if (strcmp(cmd, "rmkeys") == 0 && argc >= 4) {
        for (int i = 3; rc == AK_OK && i < argc; i++)
            rc = s_collect(&keys, &(ak_s3_list_item){.key = ak_cur_from_str(argv[i])});
        if (rc == AK_OK) rc = s_delete_keys(&s3, &call, bucket, &keys);
    } else if (strcmp(cmd, "cp") == 0 && argc == 6) {
        rc =
            ak_s3_copy(&s3, &call, bucket, ak_cur_from_str(argv[3]), argv[4], ak_cur_from_str(argv[5]), NULL);
    } else {
        usage = 1;
    }
out:
    ak_http_response_free(&resp);
    ak_buf_free(&body);
    ak_buf_free(&keys.keys);
    ak_http_free(http);
    ak_http_global_cleanup();
    if (usage) return s_usage();
    if (rc != AK_OK) {
        printf("error %s\n", ak_err_reason(rc));
        return 1;
    }
    printf("ok\n");
    return 0;
}
