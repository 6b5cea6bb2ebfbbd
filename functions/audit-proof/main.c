/* AuditProofFunction bootstrap: GET /v1/audit/proof (see proof.h). */
#include "proof.h"

int main(void) {
    static proof_app app;
    return akrt_run_http("audit-proof", proof_handle, proof_init, &app);
}
