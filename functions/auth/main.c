/* AuthFunction bootstrap: POST /v1/auth/wallet/{start,verify} (see auth.h, README.md). */
#include "auth.h"

static auth_fn s_auth;

int main(void) { return akrt_run_http("auth", auth_handle, auth_init, &s_auth); }
