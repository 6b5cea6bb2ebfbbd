/*
 * ststool — AssumeRoleWithWebIdentity through ak_sts, for tests and local runs.
 *
 *   ststool assume ROLE_ARN SESSION_NAME TOKEN [DURATION_SECONDS] [--policy JSON]
 *
 * Endpoint: AK_STS_ENDPOINT, else AK_S3_ENDPOINT (local RGW), else AWS's regional endpoint;
 * region from AWS_REGION. Prints the temporary credentials as export lines (this is a local
 * operator tool, like `aws sts`), "arn <assumed role arn>", "expiration <time>", then "ok";
 * on failure "error <reason>" and exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/http.h"
#include "ak/log.h"
#include "ak/sts.h"

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[1], "assume") != 0) {
        fprintf(stderr,
                "usage: ststool assume ROLE_ARN SESSION_NAME TOKEN [DURATION_SECONDS] [--policy JSON]\n");
        return 2;
    }
    if (getenv("STSTOOL_VERBOSE") == NULL) ak_log_set_min_level(AK_LOG_ERROR);
    ak_sts_web_identity req = {.role_arn = ak_cur_from_str(argv[2]),
                               .role_session_name = ak_cur_from_str(argv[3]),
                               .web_identity_token = ak_cur_from_str(argv[4])};
    for (int i = 5; i < argc; i++) {
        uint64_t d;
        if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
            req.policy = ak_cur_from_str(argv[++i]);
        else if (ak_cur_to_u64(ak_cur_from_str(argv[i]), &d) == AK_OK && d <= 0xFFFFFFFFu)
            req.duration_seconds = (uint32_t)d;
        else {
            fprintf(stderr, "ststool: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    ak_sts_config cfg;
    ak_http *http = NULL;
    ak_sts sts;
    ak_sts_creds creds;
    ak_sts_creds_init(&creds);
    ak_http_config hc = {0};
    ak_err rc = ak_sts_config_from_env(&cfg);
    if (rc == AK_OK) rc = ak_http_new(&hc, &http);
    if (rc == AK_OK) rc = ak_sts_init(&sts, http, &cfg);
    req.deadline_ms = ak_http_now_ms() + 30000;
    if (rc == AK_OK) rc = ak_sts_assume_role_with_web_identity(&sts, &req, &creds);
    if (rc == AK_OK) {
        printf("export AWS_ACCESS_KEY_ID=%s\n", ak_buf_cstr(&creds.access_key_id));
        printf("export AWS_SECRET_ACCESS_KEY=%s\n", ak_buf_cstr(&creds.secret_access_key));
        printf("export AWS_SESSION_TOKEN=%s\n", ak_buf_cstr(&creds.session_token));
        printf("arn %s\nexpiration %s\nok\n", ak_buf_cstr(&creds.assumed_role_arn),
               ak_buf_cstr(&creds.expiration));
    } else {
        printf("error %s\n", ak_err_reason(rc));
    }
    ak_sts_creds_free(&creds);
    ak_http_free(http);
    ak_http_global_cleanup();
    return rc == AK_OK ? 0 : 1;
}
