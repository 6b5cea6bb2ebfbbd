/* err.c — the error table's accessors (see ak/err.h). */
#include "ak/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *reason;
    int status;
    const char *message;
    const char *type;
} s_table[] = {
#define AK_X_ROW(name, reason, status, msg) {reason, status, msg, "AgentKeys." reason},
    AK_ERROR_TABLE(AK_X_ROW)
#undef AK_X_ROW
};

static unsigned s_index(ak_err e) {
    return ((unsigned)e < (unsigned)AK_E__COUNT) ? (unsigned)e : (unsigned)AK_E_INTERNAL;
}

const char *ak_err_reason(ak_err e) { return s_table[s_index(e)].reason; }
int ak_err_status(ak_err e) { return s_table[s_index(e)].status; }
const char *ak_err_message(ak_err e) { return s_table[s_index(e)].message; }
const char *ak_err_type(ak_err e) { return s_table[s_index(e)].type; }

ak_err ak_err_from_reason(const char *reason) {
    if (reason == NULL) return AK_E__COUNT;
    for (unsigned i = 0; i < (unsigned)AK_E__COUNT; i++) {
        if (strcmp(s_table[i].reason, reason) == 0) return (ak_err)i;
    }
    return AK_E__COUNT;
}

void ak_abort_misuse(const char *file, int line, const char *what) {
    fprintf(stderr,
            "{\"level\":\"fatal\",\"msg\":\"precondition violated\",\"where\":\"%s:%d\",\"cond\":\"%s\"}\n",
            file, line, what);
    fflush(stderr);
    abort();
}
