/*
 * cli/data.c — the agent's command table (CLIENT helper): session, data, run, aws-creds, doctor,
 * config. The commands live in cli/session.c, cli/store.c, cli/run.c, cli/awscreds.c,
 * cli/doctor.c and cli/config.c (declared in cli/agent.h).
 */
#include "agent.h"

const akcli_cmd akcli_agent_data_cmds[] = {
    {"config import-env", "FILE",
     "copy the public settings of a stack env file (build/local/stack.env) into the profile",
     akcli_cmd_config_import},
    {"config set", "KEY VALUE | --unset KEY",
     "set one profile setting (api_url, chain_id, wallet, password_file, ...)", akcli_cmd_config_set},
    {"config show", "", "the profile's settings (env AGENTKEYS_<KEY> wins over the file)",
     akcli_cmd_config_show},
    {"login", "[--if-needed]", "SIWE login with the profile's wallet; the session is cached (0600)",
     akcli_cmd_login},
    {"whoami", "", "the session's wallet, omni, operator and expiry (renewed if expired)", akcli_cmd_whoami},
    {"logout", "", "forget the cached session, caps and AWS credentials", akcli_cmd_logout},
    {"cred put",
     "SERVICE [--file F] [--raw] [--policy FILE | --use-only --allow-host H... [--allow-method M...] "
     "--inject SPEC] [--for AGENT]",
     "store a credential read from stdin or F (never from argv), optionally with a sealed use policy",
     akcli_cmd_cred_put},
    {"cred get", "SERVICE", "print a credential", akcli_cmd_cred_get},
    {"cred rm", "SERVICE", "delete one credential", akcli_cmd_cred_rm},
    {"cred ls", "", "list the agent's credentials", akcli_cmd_cred_ls},
    {"mem put", "NAMESPACE [--file F]", "store a memory blob read from stdin or F", akcli_cmd_mem_put},
    {"mem get", "NAMESPACE", "print a memory blob", akcli_cmd_mem_get},
    {"mem rm", "NAMESPACE", "delete one memory blob", akcli_cmd_mem_rm},
    {"mem ls", "", "list the agent's memory namespaces", akcli_cmd_mem_ls},
    {"inbox ls", "[--quarantine]", "list the agent's mail", akcli_cmd_inbox_ls},
    {"inbox cat", "ID [--quarantine]", "print one mail message (RFC 5322)", akcli_cmd_inbox_cat},
    {"run", "--env NAME=cred:SERVICE|mem:NS ... [--no-masking] -- CMD [ARGS...]",
     "run CMD with values in its environment only, masking them in its output; exits with its status",
     akcli_cmd_run},
    {"aws-creds", "--class credentials|memory|mail [--actor OMNI]",
     "print credential_process JSON (Version 1) of the agent's confined STS credentials",
     akcli_cmd_aws_creds},
    {"doctor", "", "check config, API, clock skew, chain id and contract code", akcli_cmd_doctor},
    {0},
};
