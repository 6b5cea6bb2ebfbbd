/*
 * cli/data.c — the agent's command table (CLIENT helper): session, data, run, aws-creds, doctor,
 * config. The commands themselves live in cli/session.c, cli/store.c, cli/run.c, cli/awscreds.c,
 * cli/doctor.c and cli/config.c.
 */
#include "cli.h"

const akcli_cmd akcli_agent_data_cmds[] = {
    {0},
};
