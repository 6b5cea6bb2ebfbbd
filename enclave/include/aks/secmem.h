/*
 * aks/secmem.h — memory for secrets: locked, excluded from core dumps, wiped on release
 * (STYLE §9, issue 5 "hygiene").
 *
 * aks_secmem_alloc maps whole pages, mlock()s them (so they never reach swap) and marks them
 * MADV_DONTDUMP (so a core never contains them). If the lock fails (RLIMIT_MEMLOCK is small in
 * many containers) the memory is still returned and one warning is logged: refusing to start
 * would only push operators to run without the signer. aks_process_harden() makes the whole
 * process non-dumpable (no core files, no ptrace attach by same-uid processes).
 */
#ifndef AKS_SECMEM_H
#define AKS_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

#include "ak/err.h"

/* Zeroed, page-aligned, locked when possible. NULL on failure. */
void *aks_secmem_alloc(size_t n);
/* Wipes, unlocks and unmaps. NULL allowed. */
void aks_secmem_free(void *p, size_t n);
/* True when the last aks_secmem_alloc managed to mlock its pages. */
bool aks_secmem_locked(void);
/* prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE = 0. */
AK_MUST ak_err aks_process_harden(void);

#endif
