/* ReadyFunction bootstrap: GET /readyz (see ready.h, README.md). */
#include "ready.h"

int main(void) {
    static ready_app app;
    return akrt_run_http("ready", ready_handle, ready_init, &app);
}
