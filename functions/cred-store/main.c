/* CredStoreFunction bootstrap: the worker pipeline of ak/worker.h for one route (README.md). */
#include "worker_main.h"

AK_WORKER_MAIN("cred-store", AK_OP_STORE, AK_CLASS_CREDENTIALS)
