/* OidcDiscoveryFunction bootstrap: OIDC discovery and JWKS (see discovery.h). */
#include "discovery.h"

static discovery_fn s_discovery;

int main(void) { return akrt_run_http("oidc-discovery", discovery_handle, discovery_init, &s_discovery); }
