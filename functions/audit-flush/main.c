/* AuditFlushFunction bootstrap: EventBridge schedule + POST /v1/audit/flush (see README.md). */
#include "flush_fn.h"

int main(void) {
    static flush_app app;
    return akrt_run_raw("audit-flush", flush_handle, flush_init, &app);
}
