/* SesRouterFunction bootstrap: SES receipt rule -> actor inboxes (see router.h, README.md). */
#include "router.h"

static ses_router g_router;

int main(void) { return akrt_run_raw("ses-router", ses_router_handle, ses_router_init, &g_router); }
