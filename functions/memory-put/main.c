/* MemoryPutFunction bootstrap: the worker pipeline of ak/worker.h for one route (README.md). */
#include "worker_main.h"

AK_WORKER_MAIN("memory-put", AK_OP_STORE, AK_CLASS_MEMORY)
