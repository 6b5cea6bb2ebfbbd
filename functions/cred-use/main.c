/* CredUseFunction bootstrap: the worker pipeline of ak/worker.h, op use (D19; README.md). */
#include "worker_main.h"

AK_WORKER_MAIN("cred-use", AK_OP_USE, AK_CLASS_CREDENTIALS)
