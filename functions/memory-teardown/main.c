/* MemoryTeardownFunction bootstrap: the worker pipeline of ak/worker.h for one route (README.md). */
#include "worker_main.h"

AK_WORKER_MAIN("memory-teardown", AK_OP_TEARDOWN, AK_CLASS_MEMORY)
