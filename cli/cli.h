/*
 * cli/cli.h — the `agentkeys` command-line tool: the shared context, the command tables and the
 * helpers every command group uses (issue 13).
 *
 * One file per command group; each defines a table of akcli_cmd ending in {0}. main.c owns the
 * global options (--profile, --json, --help, --version), finds the command by the longest run of
 * matching words over all tables, and handles `CMD --help` itself, so a group's run() only sees
 * the words after the command name (with --json and --profile already taken out).
 *
 * Conventions (brief-cli.md): data on stdout, messages on stderr; --json everywhere; no secret
 * in argv, logs, error messages or any file but the 0600 session/cap cache; NO_COLOR honoured.
 */
#ifndef AKCLI_CLI_H
#define AKCLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ak/bytes.h"
#include "ak/err.h"

typedef struct akcli akcli; /* global context: profile, --json, config, cache dirs */

typedef struct akcli_cmd {
    const char *name;                            /* "cred put", "wallet new", "agent add" */
    const char *args;                            /* synopsis after the name, for --help and the man page */
    const char *summary;                         /* one line */
    int (*run)(akcli *c, int argc, char **argv); /* argv = the words after the command name */
} akcli_cmd;

/* each group file defines a table ending in {0}: */
extern const akcli_cmd akcli_wallet_cmds[];     /* cli/wallet.c   (KEYSTORE helper) */
extern const akcli_cmd akcli_agent_data_cmds[]; /* cli/data.c etc (CLIENT helper) */
extern const akcli_cmd akcli_operator_cmds[];   /* cli/operator.c (OPERATOR helper) */
extern const akcli_cmd
    akcli_audit_cmds[]; /* cli/audit.c    (audit flush|ls|proof, signer verify-attestation) */
extern const akcli_cmd akcli_use_cmds[]; /* cli/use.c (call, proxy, mcp: use without holding, D19) */

/* exit codes (documented in --help and the man page) */
enum {
    AKCLI_OK = 0,
    AKCLI_ERR = 1,       /* any other failure */
    AKCLI_USAGE = 2,     /* bad command line */
    AKCLI_AUTH = 3,      /* refused by the server (401/403) with its reason */
    AKCLI_NOT_FOUND = 4, /* nothing stored there */
    AKCLI_NETWORK = 5,   /* API, storage or RPC unreachable / 5xx */
    AKCLI_CHAIN = 6      /* a chain transaction reverted or the chain refused */
};

/* The context. Groups read it through the functions below; the fields are here so a group can
 * keep per-run state on the stack without allocating (do not write them). */
struct akcli {
    const char *prog;       /* "agentkeys" */
    const char *profile;    /* --profile > AGENTKEYS_PROFILE > "default" */
    bool json;              /* --json */
    bool color;             /* stderr is a tty and NO_COLOR is unset */
    const akcli_cmd *cmd;   /* the command being run (NULL in main) */
    char config_dir[512];   /* $XDG_CONFIG_HOME/agentkeys (or ~/.config/agentkeys) */
    char cache_dir[512];    /* $XDG_CACHE_HOME/agentkeys/<profile> (or ~/.cache/...) */
    char profile_path[600]; /* config_dir/<profile>.conf */
    char *conf_text;        /* the profile file, loaded lazily (ak_malloc'd) */
    bool conf_loaded;
    char conf_value[1024]; /* scratch for akcli_conf's result from the file */
};

/* "api_url", "rpc_url", "chain_id", "registry", "scope_contract", "epoch_contract",
 * "audit_contract", "wallet", "password_file", "passkey" (any key works): env AGENTKEYS_<KEY upper>
 * > the profile file > NULL. The returned string is valid until the next akcli_conf call. */
const char *akcli_conf(akcli *c, const char *key);
bool akcli_json(const akcli *c); /* --json given */
/* Prints "agentkeys: <msg> (<reason>)" to stderr, or {"error":msg,"reason":reason} on stdout
 * with --json; returns code. `reason` may be NULL (then "error"). Never pass a secret in fmt. */
int akcli_fail(akcli *c, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- helpers for all groups (CLIENT helper; main.c/common.c) ---- */
/* The exit code for a libak error: 401/403 kinds -> AKCLI_AUTH, NOT_FOUND -> AKCLI_NOT_FOUND,
 * upstream/timeout/throttled -> AKCLI_NETWORK, CHAIN_RPC -> AKCLI_CHAIN, anything else
 * (including input the server refused) -> AKCLI_ERR. */
int akcli_code_for(ak_err e);
/* akcli_fail with the code and reason of `e`; fmt describes what was being done. */
int akcli_fail_err(akcli *c, ak_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints "agentkeys: <msg>" + "usage: agentkeys <cmd> <args>" to stderr; returns AKCLI_USAGE. */
int akcli_usage(akcli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message for humans on stderr ("agentkeys: ..."), suppressed by nothing; never a secret. */
void akcli_note(akcli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes a JSON string literal (with quotes, escaped) of `s` to f. */
void akcli_json_str(FILE *f, ak_cur s);

/* Directories (created 0700 on demand by akcli_mkdir_p). */
const char *akcli_config_dir(const akcli *c);
const char *akcli_cache_dir(const akcli *c); /* per profile */
AK_MUST ak_err akcli_mkdir_p(const char *path, unsigned mode);
/* Writes `data` to `path` atomically (temp file in the same directory, fsync, rename) with
 * mode 0600, creating the parent directories 0700. Nothing half-written on failure. */
AK_MUST ak_err akcli_write_file_0600(const char *path, ak_cur data);
/* Sets (value != NULL) or removes (NULL) `key` in the profile file, keeping other lines. */
AK_MUST ak_err akcli_conf_set(akcli *c, const char *key, const char *value);
/* Reads all of stdin (or the file `path` when not NULL) into `out` (init'ed by the caller). */
AK_MUST ak_err akcli_read_input(const char *path, ak_buf *out);

/* For `agentkeys help`, the man page and completion: all tables, in order, NULL-terminated. */
extern const akcli_cmd *const akcli_tables[];

#endif
