/* MemoryGetFunction bootstrap: the worker pipeline of ak/worker.h for one route (README.md). */
#include "worker_main.h"

AK_WORKER_MAIN("memory-get", AK_OP_FETCH, AK_CLASS_MEMORY)
