/*
 * cli/main.c — `agentkeys`: global options, dispatch over the group tables, help, man page.
 *
 *   agentkeys [--profile NAME] [--json] COMMAND [ARGS...]
 *   agentkeys help [COMMAND...] | help --man | help --commands
 *
 * The command is the longest run of words matching a table entry's name ("cred put" beats
 * "cred"). --json and --profile NAME are also accepted after the command (before any "--"), and
 * `COMMAND --help` prints the command's synopsis without running it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/http.h"
#include "ak/log.h"
#include "cli.h"

#ifndef AK_VERSION
#define AK_VERSION "dev"
#endif

const akcli_cmd *const akcli_tables[] = {akcli_wallet_cmds, akcli_agent_data_cmds, akcli_operator_cmds,
                                         akcli_audit_cmds,  akcli_use_cmds,        NULL};
static const char *const s_table_titles[] = {"Identity (K10 key)", "Agent session and data",
                                             "Operator (chain and passkey)", "Audit trail and signer",
                                             "Use without holding (the agent never sees the secret)"};

static const char s_exit_codes[] =
    "Exit codes: 0 ok, 1 error, 2 usage, 3 refused by the server (auth; its reason is "
    "printed), 4 not found, 5 network/upstream, 6 chain.\n";

/* Number of space-separated words in a command name. */
static int s_words(const char *name) {
    int n = 1;
    for (const char *p = name; *p; p++)
        if (*p == ' ') n++;
    return n;
}

/* True when the first words of argv spell `name` exactly. */
static bool s_matches(const char *name, int argc, char **argv) {
    int i = 0;
    const char *p = name;
    while (*p) {
        if (i >= argc) return false;
        size_t n = strcspn(p, " ");
        if (strlen(argv[i]) != n || strncmp(argv[i], p, n) != 0) return false;
        p += n;
        if (*p == ' ') p++;
        i++;
    }
    return true;
}

static const akcli_cmd *s_find(int argc, char **argv, int *used) {
    const akcli_cmd *best = NULL;
    int best_n = 0;
    for (int t = 0; akcli_tables[t]; t++)
        for (const akcli_cmd *c = akcli_tables[t]; c->name; c++) {
            int n = s_words(c->name);
            if (n > best_n && s_matches(c->name, argc, argv)) {
                best = c;
                best_n = n;
            }
        }
    *used = best_n;
    return best;
}

static void s_cmd_usage(FILE *f, const akcli_cmd *c) {
    fprintf(f, "usage: agentkeys %s%s%s\n", c->name, c->args && *c->args ? " " : "", c->args ? c->args : "");
    fprintf(f, "  %s\n", c->summary ? c->summary : "");
}

static void s_help(FILE *f, int argc, char **argv) {
    if (argc > 0) {
        int used;
        const akcli_cmd *c = s_find(argc, argv, &used);
        if (c && used == argc) {
            s_cmd_usage(f, c);
            fputs(s_exit_codes, f);
            return;
        }
    }
    fprintf(f, "usage: agentkeys [--profile NAME] [--json] COMMAND [ARGS...]\n"
               "       agentkeys COMMAND --help | help [COMMAND] | help --man | --version\n\n"
               "Global options:\n"
               "  --profile NAME  profile to use (env AGENTKEYS_PROFILE; default \"default\")\n"
               "  --json          machine-readable output (errors as {\"error\",\"reason\"})\n\n");
    for (int t = 0; akcli_tables[t]; t++) {
        bool any = false;
        for (const akcli_cmd *c = akcli_tables[t]; c->name; c++) {
            if (argc > 0 && strncmp(c->name, argv[0], strlen(argv[0])) != 0) continue;
            if (!any) fprintf(f, "%s:\n", s_table_titles[t]);
            any = true;
            char syn[256];
            snprintf(syn, sizeof syn, "%s%s%s", c->name, c->args && *c->args ? " " : "",
                     c->args ? c->args : "");
            if (strlen(syn) > 38)
                fprintf(f, "  %s\n  %-38s  %s\n", syn, "", c->summary ? c->summary : "");
            else
                fprintf(f, "  %-38s  %s\n", syn, c->summary ? c->summary : "");
        }
        if (any) fputc('\n', f);
    }
    fputs("Configuration: env AGENTKEYS_<KEY> > $XDG_CONFIG_HOME/agentkeys/<profile>.conf (see `config "
          "show`).\n",
          f);
    fputs(s_exit_codes, f);
}

/* roff-escapes a string: backslash, leading dot/quote, and '-' (so man shows real hyphens). */
static void s_roff(FILE *f, const char *s) {
    if (*s == '.' || *s == '\'') fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
    }
}

static void s_man(FILE *f) {
    fprintf(f, ".TH AGENTKEYS 1 \"\" \"agentkeys %s\" \"User Commands\"\n", AK_VERSION);
    fputs(
        ".SH NAME\nagentkeys \\- agent credential vault client: identity, data, processes, operator\n"
        ".SH SYNOPSIS\n.B agentkeys\n[\\fB\\-\\-profile\\fR \\fINAME\\fR] [\\fB\\-\\-json\\fR] "
        "\\fICOMMAND\\fR [\\fIARGS\\fR...]\n.br\n.B agentkeys\n\\fICOMMAND\\fR \\fB\\-\\-help\\fR\n"
        ".SH DESCRIPTION\nOne tool for agents and operators of agentkeys: the K10 wallet, SIWE login with a "
        "cached session, credentials and memory, running a process with secrets in its environment only, "
        "AWS credential_process, and the operator's on\\-chain administration. Data goes to stdout, "
        "messages to stderr. Secrets are read from stdin or files, never from the command line.\n"
        ".SH GLOBAL OPTIONS\n.TP\n\\fB\\-\\-profile\\fR \\fINAME\\fR\nProfile to use "
        "(env AGENTKEYS_PROFILE; default \\fBdefault\\fR).\n.TP\n\\fB\\-\\-json\\fR\nMachine\\-readable "
        "output; "
        "errors print {\"error\",\"reason\"} on stdout.\n.TP\n\\fB\\-\\-help\\fR\nHelp for the tool or for a "
        "command.\n.TP\n\\fB\\-\\-version\\fR\nPrint the version.\n",
        f);
    for (int t = 0; akcli_tables[t]; t++) {
        if (!akcli_tables[t][0].name) continue;
        fputs(".SH \"", f);
        s_roff(f, s_table_titles[t]);
        fputs("\"\n", f);
        for (const akcli_cmd *c = akcli_tables[t]; c->name; c++) {
            fputs(".TP\n\\fBagentkeys ", f);
            s_roff(f, c->name);
            fputs("\\fR", f);
            if (c->args && *c->args) {
                fputc(' ', f);
                s_roff(f, c->args);
            }
            fputc('\n', f);
            s_roff(f, c->summary ? c->summary : "");
            fputc('\n', f);
        }
    }
    fputs(".SH ENVIRONMENT\n.TP\n\\fBAGENTKEYS_PROFILE\\fR\nThe profile when \\-\\-profile is not given.\n"
          ".TP\n\\fBAGENTKEYS_\\fR\\fIKEY\\fR\nOverrides the profile's \\fIkey\\fR (API_URL, RPC_URL, "
          "CHAIN_ID, "
          "REGISTRY, SCOPE_CONTRACT, EPOCH_CONTRACT, AUDIT_CONTRACT, WALLET, PASSWORD_FILE, PASSKEY).\n"
          ".TP\n\\fBXDG_CONFIG_HOME\\fR, \\fBXDG_CACHE_HOME\\fR\nBase directories of the files below.\n"
          ".TP\n\\fBNO_COLOR\\fR\nNo colour in messages.\n"
          ".SH FILES\n.TP\n\\fI$XDG_CONFIG_HOME/agentkeys/PROFILE.conf\\fR\nkey = value lines (mode 0600).\n"
          ".TP\n\\fI$XDG_CACHE_HOME/agentkeys/PROFILE/\\fR\nThe session and capability cache (mode 0600).\n"
          ".SH EXIT STATUS\n0 ok; 1 error; 2 usage; 3 refused by the server (its reason is printed); "
          "4 not found; 5 network or upstream failure; 6 chain failure. \\fBrun\\fR exits with the child's "
          "status (128+N when killed by signal N).\n",
          f);
}

static int s_help_cmd(akcli *c, int argc, char **argv) {
    (void)c;
    if (argc == 1 && strcmp(argv[0], "--man") == 0) {
        s_man(stdout);
        return AKCLI_OK;
    }
    if (argc == 1 && strcmp(argv[0], "--commands") == 0) {
        for (int t = 0; akcli_tables[t]; t++)
            for (const akcli_cmd *k = akcli_tables[t]; k->name; k++)
                printf("%s\n", k->name);
        return AKCLI_OK;
    }
    s_help(stdout, argc, argv);
    return AKCLI_OK;
}

static const akcli_cmd s_help_entry = {"help", "[COMMAND...] | --man | --commands",
                                       "this help, a command's help, the man page (roff) or the command list",
                                       s_help_cmd};

/* Sets up dirs and profile (common.c). */
void akcli_init(akcli *c, const char *profile, bool json);
void akcli_fini(akcli *c);

int main(int argc, char **argv) {
    const char *profile = NULL;
    bool json = false, help = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--profile") == 0 && i + 1 < argc)
            profile = argv[++i];
        else if (strncmp(a, "--profile=", 10) == 0)
            profile = a + 10;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            help = true;
        else if (strcmp(a, "--version") == 0) {
            printf("agentkeys %s\n", AK_VERSION);
            return AKCLI_OK;
        } else if (a[0] == '-') {
            fprintf(stderr, "agentkeys: unknown option %s (see agentkeys --help)\n", a);
            return AKCLI_USAGE;
        } else
            break;
    }
    int nargs = argc - i;
    char **args = argv + i;
    /* Take --json / --profile out of the command's words (up to "--", which run keeps). */
    int w = 0;
    bool cmd_help = false;
    for (int r = 0; r < nargs; r++) {
        if (strcmp(args[r], "--") == 0) {
            while (r < nargs)
                args[w++] = args[r++];
            break;
        }
        if (strcmp(args[r], "--json") == 0)
            json = true;
        else if (strcmp(args[r], "--profile") == 0 && r + 1 < nargs)
            profile = args[++r];
        else if (strncmp(args[r], "--profile=", 10) == 0)
            profile = args[r] + 10;
        else if (strcmp(args[r], "--help") == 0 || strcmp(args[r], "-h") == 0)
            cmd_help = true;
        else
            args[w++] = args[r];
    }
    nargs = w;
    if (nargs == 0) {
        s_help(help ? stdout : stderr, 0, NULL);
        return help ? AKCLI_OK : AKCLI_USAGE;
    }
    int used = 0;
    const akcli_cmd *cmd =
        strcmp(args[0], "help") == 0 ? (used = 1, &s_help_entry) : s_find(nargs, args, &used);
    if (cmd == NULL) {
        /* A group word alone ("cred") lists the group; anything else is unknown. */
        bool group = false;
        for (int t = 0; akcli_tables[t] && !group; t++)
            for (const akcli_cmd *k = akcli_tables[t]; k->name && !group; k++)
                group = strncmp(k->name, args[0], strlen(args[0])) == 0 && k->name[strlen(args[0])] == ' ';
        if (group) {
            s_help(help || cmd_help ? stdout : stderr, 1, args);
            return help || cmd_help ? AKCLI_OK : AKCLI_USAGE;
        }
        fprintf(stderr, "agentkeys: unknown command '%s' (see agentkeys help)\n", args[0]);
        return AKCLI_USAGE;
    }
    if (help || cmd_help) {
        s_cmd_usage(stdout, cmd);
        return AKCLI_OK;
    }
    ak_alloc_install_jansson();
    /* libak's JSON log lines are for servers; the CLI reports errors itself (AGENTKEYS_DEBUG=1 shows them) */
    const char *dbg = getenv("AGENTKEYS_DEBUG");
    ak_log_set_min_level(dbg && *dbg && strcmp(dbg, "0") != 0 ? AK_LOG_DEBUG : AK_LOG_ERROR);
    akcli ctx;
    akcli_init(&ctx, profile, json);
    ctx.cmd = cmd;
    int rc = cmd->run(&ctx, nargs - used, args + used);
    akcli_fini(&ctx);
    fflush(stdout);
    ak_http_global_cleanup();
    return rc;
}
