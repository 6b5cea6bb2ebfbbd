/*
 * cli/agent.h — what the agent-side commands of `agentkeys` share (CLIENT helper): opening the
 * libak client (ak/client.h) from the profile, and reporting its errors with the server's reason.
 *
 * Profile keys used here (env AGENTKEYS_<KEY> wins): api_url, chain_id, wallet, password_file,
 * s3_endpoint, region, vault_bucket, memory_bucket, mail_bucket.
 */
#ifndef AKCLI_AGENT_H
#define AKCLI_AGENT_H

#include "ak/client.h"
#include "cli.h"

typedef struct akcli_session {
    akcli *c;
    ak_client *cl;
    uint8_t key[32]; /* the K10 key once loaded (wiped by akcli_session_close) */
    bool have_key;
    int key_code; /* AKCLI_* code when loading the key failed (the message is already printed) */
} akcli_session;

/* Opens the client for the profile; on failure prints why and returns the AKCLI_* code. */
int akcli_session_open(akcli *c, akcli_session *s);
void akcli_session_close(akcli_session *s);
/* Prints the failure of `what` (server reason when there was one) and returns the exit code. */
int akcli_session_fail(akcli_session *s, ak_err e, const char *what);

/* The run/aws-creds/data tables' runners, by file. */
int akcli_cmd_config_import(akcli *c, int argc, char **argv);
int akcli_cmd_config_set(akcli *c, int argc, char **argv);
int akcli_cmd_config_show(akcli *c, int argc, char **argv);
int akcli_cmd_login(akcli *c, int argc, char **argv);
int akcli_cmd_whoami(akcli *c, int argc, char **argv);
int akcli_cmd_logout(akcli *c, int argc, char **argv);
int akcli_cmd_cred_put(akcli *c, int argc, char **argv);
int akcli_cmd_cred_get(akcli *c, int argc, char **argv);
int akcli_cmd_cred_rm(akcli *c, int argc, char **argv);
int akcli_cmd_cred_ls(akcli *c, int argc, char **argv);
int akcli_cmd_mem_put(akcli *c, int argc, char **argv);
int akcli_cmd_mem_get(akcli *c, int argc, char **argv);
int akcli_cmd_mem_rm(akcli *c, int argc, char **argv);
int akcli_cmd_mem_ls(akcli *c, int argc, char **argv);
int akcli_cmd_inbox_ls(akcli *c, int argc, char **argv);
int akcli_cmd_inbox_cat(akcli *c, int argc, char **argv);
int akcli_cmd_run(akcli *c, int argc, char **argv);
int akcli_cmd_aws_creds(akcli *c, int argc, char **argv);
int akcli_cmd_doctor(akcli *c, int argc, char **argv);

/* run's output masking, exposed for its unit test: a streaming replacer of every occurrence of
 * any of `n` values with "****", matches spanning chunk boundaries included. */
typedef struct akcli_masker {
    const ak_cur *values; /* borrowed; sorted longest first by akcli_masker_init */
    size_t n;
    ak_buf pending; /* secret: bytes that may still start a match */
} akcli_masker;
void akcli_masker_init(akcli_masker *m, ak_cur *values, size_t n);
/* Feeds a chunk; appends what is safe to emit to `out`. `final` flushes everything. */
AK_MUST ak_err akcli_masker_feed(akcli_masker *m, ak_cur chunk, bool final, ak_buf *out);
void akcli_masker_free(akcli_masker *m);

#endif
