/* OidcFunction bootstrap: mint-oidc-jwt, mint-aws-creds (see oidc.h). */
#include "oidc.h"

static oidc_fn s_oidc;

int main(void) { return akrt_run_http("oidc", oidc_handle, oidc_init, &s_oidc); }
