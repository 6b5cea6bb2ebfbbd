/*
 * sigv4_test.c — SigV4 against AWS's published suite (every case, stage by stage: canonical
 * request, string to sign, Authorization) and the S3 documentation examples (header signing,
 * presigned URL, aws-chunked chunk signatures), plus S3-vs-other path rules and negative cases.
 */
#include "test.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ak/json.h"
#include "ak/sigv4.h"

#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

typedef struct {
    int cases, creq_ok, sts_ok, authz_ok;
} s_counts;

/* Parses an AWS suite .req file: request line, headers (continuation lines become further values
 * of the same header, which the suite expects joined with ','), blank line, body. */
typedef struct {
    ak_cur method, path, query, body;
    ak_sigv4_header h[32];
    size_t nh;
} s_req;

static void s_parse_req(ak_cur f, s_req *r) {
    memset(r, 0, sizeof(*r));
    ak_cur line;
    assert_true(ak_cur_split(&f, '\n', &line));
    /* "METHOD <path with possible spaces>[?query] HTTP/1.1" */
    ak_cur m;
    assert_true(ak_cur_split(&line, ' ', &m));
    r->method = m;
    size_t end = line.len;
    while (end > 0 && line.ptr[end - 1] != ' ')
        end--;
    assert_true(end > 0);
    ak_cur target = ak_cur_from(line.ptr, end - 1);
    ak_cur p;
    if (ak_cur_split(&target, '?', &p)) {
        r->path = p;
        r->query = target;
    } else {
        r->path = target;
    }
    for (;;) {
        bool last = !ak_cur_split(&f, '\n', &line);
        if (last) {
            line = f;
            f.len = 0;
        }
        if (line.len == 0) { /* blank: body follows */
            r->body = f;
            break;
        }
        if (line.ptr[0] == ' ' || line.ptr[0] == '\t') {
            assert_true(r->nh > 0 && r->nh < 32);
            r->h[r->nh].name = r->h[r->nh - 1].name;
            r->h[r->nh].value = line;
            r->nh++;
        } else {
            ak_cur name;
            assert_true(ak_cur_split(&line, ':', &name));
            assert_true(r->nh < 32);
            r->h[r->nh].name = name;
            r->h[r->nh].value = line;
            r->nh++;
        }
        if (last) break;
    }
}

static bool s_file_eq(const char *dir, const char *name, const char *ext, ak_cur got) {
    char path[2400];
    snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
    ak_buf want;
    ak_buf_init(&want, 1u << 20);
    ak_test_read_file(path, &want);
    bool eq = ak_cur_eq(ak_buf_cur(&want), got);
    if (!eq)
        fprintf(stderr, "  %s.%s differs:\n--- want\n%s\n--- got\n%.*s\n", name, ext, ak_buf_cstr(&want),
                (int)got.len, got.ptr);
    ak_buf_free(&want);
    return eq;
}

static void s_run_case(const char *dir, const char *name, s_counts *c) {
    char path[2400];
    snprintf(path, sizeof(path), "%s/%s.req", dir, name);
    ak_buf f;
    ak_buf_init(&f, 1u << 20);
    ak_test_read_file(path, &f);
    s_req r;
    s_parse_req(ak_buf_cur(&f), &r);
    char ph[65];
    ak_sigv4_payload_hash(r.body, ph);
    ak_sigv4_request req = {.method = r.method,
                            .path = r.path,
                            .query = r.query,
                            .headers = r.h,
                            .n_headers = r.nh,
                            .payload_hash = ak_cur_from_str(ph),
                            .s3 = false};
    ak_sigv4_creds cr = {.access_key_id = AK_CUR_LIT(SUITE_AK),
                         .secret_access_key = AK_CUR_LIT(SUITE_SECRET)};
    ak_sigv4_scope sc = {.amz_date = AK_CUR_LIT("20150830T123600Z"),
                         .region = AK_CUR_LIT("us-east-1"),
                         .service = AK_CUR_LIT("service")};
    ak_sigv4_result res;
    ak_sigv4_result_init(&res);
    EXPECT_OK(ak_sigv4_sign(&req, &cr, &sc, &res));
    c->cases++;
    if (s_file_eq(dir, name, "creq", ak_buf_cur(&res.canonical_request))) c->creq_ok++;
    if (s_file_eq(dir, name, "sts", ak_buf_cur(&res.string_to_sign))) c->sts_ok++;
    if (s_file_eq(dir, name, "authz", ak_buf_cur(&res.authorization))) c->authz_ok++;
    ak_sigv4_result_free(&res);
    ak_buf_free(&f);
}

/* Walks the suite: every directory holding <dirname>.req is a case. */
static void s_walk(const char *dir, s_counts *c) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    char names[64][256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        if (e->d_name[0] == '.') continue;
        snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
    for (size_t i = 0; i < n; i++) {
        char sub[1100], req[2400];
        snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        snprintf(req, sizeof(req), "%s/%s.req", sub, names[i]);
        if (stat(req, &st) == 0)
            s_run_case(sub, names[i], c);
        else
            s_walk(sub, c);
    }
}

AK_TEST(test_aws_sigv4_suite_every_case) {
    s_counts c = {0};
    s_walk(ak_test_vector_path("aws-sig-v4-test-suite"), &c);
    printf("sigv4 suite: %d cases; canonical request %d/%d, string to sign %d/%d, authorization %d/%d\n",
           c.cases, c.creq_ok, c.cases, c.sts_ok, c.cases, c.authz_ok, c.cases);
    EXPECT_INT_EQ(c.cases, 31);
    EXPECT_INT_EQ(c.creq_ok, c.cases);
    EXPECT_INT_EQ(c.sts_ok, c.cases);
    EXPECT_INT_EQ(c.authz_ok, c.cases);
}

AK_TEST(test_s3_doc_examples) {
    ak_buf f;
    ak_buf_init(&f, 1u << 20);
    ak_test_read_file(ak_test_vector_path("aws-s3-sigv4-doc-examples/s3_sigv4_examples.json"), &f);
    json_t *doc = NULL;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&f), &doc));
    ak_cur akid, secret, region, service, date;
    EXPECT_OK(ak_json_str(doc, "access_key_id", &akid));
    EXPECT_OK(ak_json_str(doc, "secret_access_key", &secret));
    EXPECT_OK(ak_json_str(doc, "region", &region));
    EXPECT_OK(ak_json_str(doc, "service", &service));
    EXPECT_OK(ak_json_str(doc, "x_amz_date", &date));
    ak_sigv4_creds cr = {.access_key_id = akid, .secret_access_key = secret};
    ak_sigv4_scope sc = {.amz_date = date, .region = region, .service = service};
    json_t *cases = json_object_get(doc, "cases");
    assert_true(json_is_array(cases));
    int total = 0, creq_ok = 0, sts_ok = 0, sig_ok = 0, chunks = 0, chunks_ok = 0, presign_ok = 0;
    size_t i;
    json_t *cs;
    json_array_foreach(cases, i, cs) {
        ak_cur name, method, uri, query, ph, want_creq, want_sts, want_sig;
        EXPECT_OK(ak_json_str(cs, "name", &name));
        EXPECT_OK(ak_json_str(cs, "method", &method));
        EXPECT_OK(ak_json_str(cs, "canonical_uri", &uri));
        EXPECT_OK(ak_json_str(cs, "canonical_query", &query));
        EXPECT_OK(ak_json_str(cs, "payload_sha256", &ph));
        EXPECT_OK(ak_json_str(cs, "canonical_request", &want_creq));
        EXPECT_OK(ak_json_str(cs, "string_to_sign", &want_sts));
        EXPECT_OK(ak_json_str(cs, "signature", &want_sig));
        ak_sigv4_header h[16];
        size_t nh = 0;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(cs, "signed_headers"), k, v) {
            h[nh].name = ak_cur_from_str(k);
            h[nh].value = ak_cur_from_str(json_string_value(v));
            nh++;
        }
        /* A body, when given, must hash to the payload hash the example signs. */
        json_t *body = json_object_get(cs, "body");
        if (body) {
            char got[65];
            ak_sigv4_payload_hash(ak_cur_from_str(json_string_value(body)), got);
            EXPECT_TRUE(ak_cur_eq_str(ph, got));
        }
        ak_sigv4_request req = {
            .method = method, .path = uri, .headers = h, .n_headers = nh, .payload_hash = ph, .s3 = true};
        ak_sigv4_result res;
        ak_sigv4_result_init(&res);
        json_t *purl = json_object_get(cs, "presigned_url");
        total++;
        if (purl) {
            ak_buf q;
            ak_buf_init(&q, 8192);
            EXPECT_OK(ak_sigv4_presign(&req, &cr, &sc, 86400, &res, &q));
            ak_buf url;
            ak_buf_init(&url, 8192);
            EXPECT_OK(ak_buf_printf(
                &url, "https://%s%.*s?%s",
                json_string_value(json_object_get(json_object_get(cs, "signed_headers"), "host")),
                (int)uri.len, uri.ptr, ak_buf_cstr(&q)));
            if (ak_cur_eq_str(ak_cur_from_str(json_string_value(purl)), ak_buf_cstr(&url)))
                presign_ok++;
            else
                fprintf(stderr, "presigned url differs:\n%s\n%s\n", json_string_value(purl),
                        ak_buf_cstr(&url));
            /* the canonical query of the vector is what we signed */
            ak_cur creq = ak_buf_cur(&res.canonical_request);
            EXPECT_TRUE(memmem(creq.ptr, creq.len, query.ptr, query.len) != NULL);
            ak_buf_free(&q);
            ak_buf_free(&url);
        } else {
            req.query = query;
            EXPECT_OK(ak_sigv4_sign(&req, &cr, &sc, &res));
        }
        if (ak_cur_eq(ak_buf_cur(&res.canonical_request), want_creq))
            creq_ok++;
        else
            fprintf(stderr, "%.*s: creq differs\n%s\n", (int)name.len, name.ptr,
                    ak_buf_cstr(&res.canonical_request));
        if (ak_cur_eq(ak_buf_cur(&res.string_to_sign), want_sts)) sts_ok++;
        if (ak_cur_eq_str(want_sig, res.signature)) sig_ok++;
        json_t *ch = json_object_get(cs, "chunks");
        if (ch) {
            uint8_t key[32];
            EXPECT_OK(ak_sigv4_signing_key(secret, &sc, key));
            size_t j;
            json_t *c1;
            char prev[65];
            memcpy(prev, res.signature, 65);
            json_array_foreach(ch, j, c1) {
                size_t sz = (size_t)json_integer_value(json_object_get(c1, "chunk_size"));
                uint8_t *data = ak_malloc(sz + 1);
                assert_non_null(data);
                memset(data, 'a', sz);
                char sig[65];
                EXPECT_TRUE(ak_cur_eq_str(
                    ak_cur_from_str(json_string_value(json_object_get(c1, "previous_signature"))), prev));
                EXPECT_OK(
                    ak_sigv4_chunk_signature(key, &sc, ak_cur_from_str(prev), ak_cur_from(data, sz), sig));
                ak_free(data);
                chunks++;
                if (strcmp(sig, json_string_value(json_object_get(c1, "signature"))) == 0) chunks_ok++;
                memcpy(prev, sig, 65);
            }
        }
        ak_sigv4_result_free(&res);
    }
    printf("s3 doc examples: %d cases; canonical request %d/%d, string to sign %d/%d, signature %d/%d, "
           "presigned url %d/1, chunk signatures %d/%d\n",
           total, creq_ok, total, sts_ok, total, sig_ok, total, presign_ok, chunks_ok, chunks);
    EXPECT_INT_EQ(total, 6);
    EXPECT_INT_EQ(creq_ok, total);
    EXPECT_INT_EQ(sts_ok, total);
    EXPECT_INT_EQ(sig_ok, total);
    EXPECT_INT_EQ(presign_ok, 1);
    EXPECT_INT_EQ(chunks, 3);
    EXPECT_INT_EQ(chunks_ok, chunks);
    json_decref(doc);
    ak_buf_free(&f);
}

static void s_creq_uri(const char *path, bool s3, const char *want) {
    ak_sigv4_header h[] = {{AK_CUR_LIT("host"), AK_CUR_LIT("h")}};
    ak_sigv4_request req = {.method = AK_CUR_LIT("GET"),
                            .path = ak_cur_from_str(path),
                            .headers = h,
                            .n_headers = 1,
                            .payload_hash = AK_CUR_LIT(AK_SIGV4_UNSIGNED_PAYLOAD),
                            .s3 = s3};
    ak_buf c, sh;
    ak_buf_init(&c, 8192);
    ak_buf_init(&sh, 1024);
    EXPECT_OK(ak_sigv4_canonical_request(&req, &c, &sh));
    ak_cur all = ak_buf_cur(&c), line;
    assert_true(ak_cur_split(&all, '\n', &line));
    assert_true(ak_cur_split(&all, '\n', &line));
    if (!ak_cur_eq_str(line, want))
        fail_msg("%s (s3=%d): got %.*s want %s", path, s3, (int)line.len, line.ptr, want);
    ak_buf_free(&c);
    ak_buf_free(&sh);
}

AK_TEST(test_s3_vs_other_path_rules) {
    /* S3: no normalisation, single encoding of the decoded path. */
    s_creq_uri("/bucket/a/../b", true, "/bucket/a/../b");
    s_creq_uri("/bucket//x//", true, "/bucket//x//");
    s_creq_uri("/bucket/a%20b", true, "/bucket/a%20b");
    s_creq_uri("/bucket/a%2fb", true, "/bucket/a%2Fb"); /* an encoded slash stays encoded (uppercase) */
    s_creq_uri("/bucket/test$file.text", true, "/bucket/test%24file.text");
    s_creq_uri("/bucket/%7Ek", true, "/bucket/~k");
    s_creq_uri("", true, "/");
    /* Others: normalise, then encode the wire form again. */
    s_creq_uri("/a/../b", false, "/b");
    s_creq_uri("//x//", false, "/x/");
    s_creq_uri("/a%20b", false, "/a%2520b");
    s_creq_uri("/./", false, "/");
}

AK_TEST(test_session_token_and_presign_token) {
    ak_sigv4_header h[] = {{AK_CUR_LIT("Host"), AK_CUR_LIT("b.s3.amazonaws.com")},
                           {AK_CUR_LIT("X-Amz-Date"), AK_CUR_LIT("20150830T123600Z")},
                           {AK_CUR_LIT("x-amz-security-token"), AK_CUR_LIT("tok/en+=")}};
    ak_sigv4_request req = {.method = AK_CUR_LIT("GET"),
                            .path = AK_CUR_LIT("/k"),
                            .headers = h,
                            .n_headers = 3,
                            .payload_hash = AK_CUR_LIT(AK_SIGV4_UNSIGNED_PAYLOAD),
                            .s3 = true};
    ak_sigv4_creds cr = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret"), AK_CUR_LIT("tok/en+=")};
    ak_sigv4_scope sc = {AK_CUR_LIT("20150830T123600Z"), AK_CUR_LIT("us-east-1"), AK_CUR_LIT("s3")};
    ak_sigv4_result r;
    ak_sigv4_result_init(&r);
    EXPECT_OK(ak_sigv4_sign(&req, &cr, &sc, &r));
    EXPECT_STR_EQ(ak_buf_cstr(&r.signed_headers), "host;x-amz-date;x-amz-security-token");
    EXPECT_TRUE(r.canonical_request.secret);
    /* presign carries the token (encoded) and signs only host */
    req.n_headers = 1;
    ak_buf q;
    ak_buf_init(&q, 8192);
    EXPECT_OK(ak_sigv4_presign(&req, &cr, &sc, 300, &r, &q));
    EXPECT_TRUE(strstr(ak_buf_cstr(&q), "X-Amz-Security-Token=tok%2Fen%2B%3D&") != NULL);
    EXPECT_TRUE(strstr(ak_buf_cstr(&q), "X-Amz-SignedHeaders=host&X-Amz-Signature=") != NULL);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_presign(&req, &cr, &sc, 0, &r, &q));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_presign(&req, &cr, &sc, AK_SIGV4_MAX_EXPIRES + 1, &r, &q));
    ak_buf_free(&q);
    ak_sigv4_result_free(&r);
}

AK_TEST(test_bad_input_rejected) {
    ak_sigv4_header h[] = {{AK_CUR_LIT("host"), AK_CUR_LIT("h")}};
    ak_sigv4_request req = {.method = AK_CUR_LIT("GET"),
                            .path = AK_CUR_LIT("/a%2"),
                            .headers = h,
                            .n_headers = 1,
                            .payload_hash = AK_CUR_LIT(AK_SIGV4_EMPTY_SHA256),
                            .s3 = true};
    ak_sigv4_creds cr = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret"), {0}};
    ak_sigv4_scope sc = {AK_CUR_LIT("20150830T123600Z"), AK_CUR_LIT("us-east-1"), AK_CUR_LIT("s3")};
    ak_sigv4_result r;
    ak_sigv4_result_init(&r);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &sc, &r)); /* truncated escape */
    req.path = AK_CUR_LIT("/a%zz");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &sc, &r));
    req.path = AK_CUR_LIT("relative");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &sc, &r));
    req.path = AK_CUR_LIT("/ok");
    req.query = AK_CUR_LIT("a=%G0");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &sc, &r));
    req.query = (ak_cur){0};
    ak_sigv4_header bad[] = {{AK_CUR_LIT("host"), AK_CUR_LIT("h\r\nx: y")}};
    req.headers = bad;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &sc, &r));
    ak_sigv4_header bad2[] = {{AK_CUR_LIT("ho st"), AK_CUR_LIT("h")}};
    req.headers = bad2;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &sc, &r));
    req.headers = h;
    req.payload_hash = AK_CUR_LIT("abc");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &sc, &r));
    req.payload_hash = AK_CUR_LIT(AK_SIGV4_EMPTY_SHA256);
    ak_sigv4_scope bad_sc = {AK_CUR_LIT("2015-08-30T12:36"), AK_CUR_LIT("us-east-1"), AK_CUR_LIT("s3")};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &bad_sc, &r));
    ak_sigv4_scope bad_sc2 = {AK_CUR_LIT("20150830T123600Z"), AK_CUR_LIT("us/east"), AK_CUR_LIT("s3")};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &bad_sc2, &r));
    ak_sigv4_creds bad_cr = {AK_CUR_LIT("AK/ID"), AK_CUR_LIT("secret"), {0}};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &bad_cr, &sc, &r));
    req.n_headers = 0;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sigv4_sign(&req, &cr, &sc, &r));
    ak_sigv4_result_free(&r);
}

AK_TEST(test_wrong_secret_changes_signature) {
    ak_sigv4_header h[] = {{AK_CUR_LIT("host"), AK_CUR_LIT("h")},
                           {AK_CUR_LIT("x-amz-date"), AK_CUR_LIT("20150830T123600Z")}};
    ak_sigv4_request req = {.method = AK_CUR_LIT("PUT"),
                            .path = AK_CUR_LIT("/b/k"),
                            .headers = h,
                            .n_headers = 2,
                            .payload_hash = AK_CUR_LIT(AK_SIGV4_EMPTY_SHA256),
                            .s3 = true};
    ak_sigv4_scope sc = {AK_CUR_LIT("20150830T123600Z"), AK_CUR_LIT("us-east-1"), AK_CUR_LIT("s3")};
    ak_sigv4_creds a = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret1"), {0}},
                   b = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret2"), {0}};
    ak_sigv4_result r1, r2;
    ak_sigv4_result_init(&r1);
    ak_sigv4_result_init(&r2);
    EXPECT_OK(ak_sigv4_sign(&req, &a, &sc, &r1));
    EXPECT_OK(ak_sigv4_sign(&req, &b, &sc, &r2));
    EXPECT_TRUE(strcmp(r1.signature, r2.signature) != 0);
    EXPECT_TRUE(ak_cur_eq(ak_buf_cur(&r1.string_to_sign), ak_buf_cur(&r2.string_to_sign)));
    ak_sigv4_result_free(&r1);
    ak_sigv4_result_free(&r2);
}

AK_TEST(test_amz_date_and_encode) {
    char d[17];
    EXPECT_OK(ak_sigv4_amz_date(1440938160, d));
    EXPECT_STR_EQ(d, "20150830T123600Z");
    ak_buf b;
    ak_buf_init(&b, 64);
    EXPECT_OK(ak_sigv4_uri_encode(AK_CUR_LIT("a b/c~*"), false, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "a%20b%2Fc~%2A");
    ak_buf_clear(&b);
    EXPECT_OK(ak_sigv4_uri_encode(AK_CUR_LIT("a b/c"), true, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "a%20b/c");
    ak_buf_free(&b);
}

AK_TEST(test_oom_paths) {
    ak_sigv4_header h[] = {{AK_CUR_LIT("host"), AK_CUR_LIT("h")},
                           {AK_CUR_LIT("x-amz-date"), AK_CUR_LIT("20150830T123600Z")}};
    ak_sigv4_request req = {.method = AK_CUR_LIT("GET"),
                            .path = AK_CUR_LIT("/b/k%20x"),
                            .query = AK_CUR_LIT("list-type=2&prefix=a"),
                            .headers = h,
                            .n_headers = 2,
                            .payload_hash = AK_CUR_LIT(AK_SIGV4_EMPTY_SHA256),
                            .s3 = true};
    ak_sigv4_creds cr = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret"), AK_CUR_LIT("tok")};
    ak_sigv4_scope sc = {AK_CUR_LIT("20150830T123600Z"), AK_CUR_LIT("us-east-1"), AK_CUR_LIT("s3")};
    for (uint64_t n = 1; n < 200; n++) {
        ak_sigv4_result r;
        ak_sigv4_result_init(&r);
        ak_buf q;
        ak_buf_init(&q, 8192);
        ak_alloc_fail_nth(n);
        ak_err e1 = ak_sigv4_sign(&req, &cr, &sc, &r);
        ak_alloc_fail_nth(n);
        ak_err e2 = ak_sigv4_presign(&req, &cr, &sc, 60, &r, &q);
        ak_alloc_fail_nth(0);
        EXPECT_TRUE(e1 == AK_OK || e1 == AK_E_NOMEM);
        EXPECT_TRUE(e2 == AK_OK || e2 == AK_E_NOMEM);
        ak_buf_free(&q);
        ak_sigv4_result_free(&r);
    }
}

/* The one endpoint rule S3, KMS and Secrets Manager share. */
AK_TEST(test_service_endpoints) {
    char scheme[6], host[64];
    EXPECT_OK(ak_sigv4_endpoint(NULL, "kms", "eu-west-1", scheme, host, sizeof(host)));
    EXPECT_STR_EQ(scheme, "https");
    EXPECT_STR_EQ(host, "kms.eu-west-1.amazonaws.com");
    EXPECT_OK(ak_sigv4_endpoint("http://127.0.0.1:7480//", "s3", "us-east-1", scheme, host, sizeof(host)));
    EXPECT_STR_EQ(scheme, "http");
    EXPECT_STR_EQ(host, "127.0.0.1:7480");
    static const char *const bad[] = {"ftp://x",     "https://",    "https://h/p", "https://u@h",
                                      "https://h?q", "https://h#f", "h.example"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ak_sigv4_endpoint(bad[i], "s3", "us-east-1", scheme, host, sizeof(host)) != AK_E_CONFIG)
            fail_msg("accepted %s", bad[i]);
    EXPECT_ERR(AK_E_CONFIG, ak_sigv4_endpoint(NULL, "s3", "US-EAST-1", scheme, host, sizeof(host)));
    EXPECT_ERR(AK_E_CONFIG, ak_sigv4_endpoint(NULL, "s3", NULL, scheme, host, sizeof(host)));
    EXPECT_ERR(AK_E_CONFIG, ak_sigv4_endpoint(NULL, "s3", "a-very-long-region-name-1", scheme, host, 16));
}

AK_RUN_TESTS(AK_T(test_service_endpoints), AK_T(test_aws_sigv4_suite_every_case), AK_T(test_s3_doc_examples),
             AK_T(test_s3_vs_other_path_rules), AK_T(test_session_token_and_presign_token),
             AK_T(test_bad_input_rejected), AK_T(test_wrong_secret_changes_signature),
             AK_T(test_amz_date_and_encode), AK_T(test_oom_paths))
