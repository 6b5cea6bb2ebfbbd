/*
 * cli/use.h — use without holding on the agent side (issue 14 items 3 and 4; decision D19):
 * `cred put` with a use policy (and `--for AGENT`), `call`, `proxy` and `mcp`. The agent never
 * holds the secret: every use goes through POST /v1/cred/use (ak_client_use), where
 * CredUseFunction injects it and redacts it from the answer (docs/spec/use-policy.md).
 *
 * cli/use.c (table, cred put --policy, call), cli/proxy.c (the loopback HTTP proxy),
 * cli/mcp.c (the Model Context Protocol server over stdio).
 */
#ifndef AKCLI_USE_H
#define AKCLI_USE_H

#include "agent.h"

/* True when `cred put`'s words carry a policy option or --for (then store.c hands over). */
bool akcli_cred_put_has_use_opts(int argc, char **argv);
int akcli_cmd_cred_put_use(akcli *c, int argc, char **argv);

int akcli_cmd_call(akcli *c, int argc, char **argv);
int akcli_cmd_proxy(akcli *c, int argc, char **argv);
int akcli_cmd_mcp(akcli *c, int argc, char **argv);

/* The exit code for a refused or failed use, with the message printed (`what` names the
 * command). A policy refusal (405 method_not_allowed included) is AKCLI_AUTH. */
int akcli_use_fail(akcli_session *s, ak_err e, const char *what);
/* A short human sentence for a use failure: "<reason>: <message>" (into out). */
void akcli_use_reason(akcli_session *s, ak_err e, char *out, size_t cap);

#endif
