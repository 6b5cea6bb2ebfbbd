/* CapMintFunction bootstrap: POST /v1/cap/{cred,memory}-{store|put,fetch|get,teardown} (capmint.h). */
#include "capmint.h"

static capmint_fn s_capmint;

int main(void) { return akrt_run_http("cap-mint", capmint_handle, capmint_init, &s_capmint); }
