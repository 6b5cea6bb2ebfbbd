/*
 * cli/awscreds.c — `agentkeys aws-creds --class credentials|memory|mail [--actor OMNI]`
 *
 * Prints the AWS CLI/SDK `credential_process` document (AWS SDKs and Tools Reference Guide,
 * "Process credential provider"): {"Version":1,"AccessKeyId","SecretAccessKey","SessionToken",
 * "Expiration":"<RFC 3339>"}, on stdout only, for this line in ~/.aws/config:
 *
 *   credential_process = agentkeys --profile NAME aws-creds --class memory
 *
 * The credentials are the agent's STS session from /v1/mint-aws-creds, tagged with its actor
 * omni: IAM confines them to bots/<actor>/<class dir>/ (iam.md §3). They come from the 0600
 * cache while they have more than two minutes left.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "ak/siwe.h"

int akcli_cmd_aws_creds(akcli *c, int argc, char **argv) {
    const char *cls_s = NULL, *actor = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--class") == 0 && i + 1 < argc)
            cls_s = argv[++i];
        else if (strncmp(argv[i], "--class=", 8) == 0)
            cls_s = argv[i] + 8;
        else if (strcmp(argv[i], "--actor") == 0 && i + 1 < argc)
            actor = argv[++i];
        else
            return akcli_usage(c, "unexpected argument '%s'", argv[i]);
    }
    ak_data_class cls;
    if (cls_s == NULL || ak_data_class_parse(ak_cur_from_str(cls_s), &cls) != AK_OK)
        return akcli_usage(c, "--class credentials|memory|mail is required");
    akcli_session s;
    int rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    ak_client_creds cr;
    ak_err e = ak_client_aws_creds(s.cl, cls, actor, &cr);
    if (e != AK_OK) {
        rc = akcli_session_fail(&s, e, "aws-creds");
    } else {
        char exp[21];
        if (ak_rfc3339_format((int64_t)cr.expiration, exp) != AK_OK)
            snprintf(exp, sizeof exp, "1970-01-01T00:00:00Z");
        printf("{\"Version\":1,\"AccessKeyId\":");
        akcli_json_str(stdout, ak_buf_cur(&cr.access_key_id));
        printf(",\"SecretAccessKey\":");
        akcli_json_str(stdout, ak_buf_cur(&cr.secret_access_key));
        printf(",\"SessionToken\":");
        akcli_json_str(stdout, ak_buf_cur(&cr.session_token));
        printf(",\"Expiration\":\"%s\"}\n", exp);
        fflush(stdout);
    }
    ak_client_creds_free(&cr);
    akcli_session_close(&s);
    return rc;
}
