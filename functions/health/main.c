/* HealthFunction bootstrap: GET /healthz (see health.h, README.md). */
#include "health.h"

int main(void) { return akrt_run_http("health", health_handle, NULL, NULL); }
