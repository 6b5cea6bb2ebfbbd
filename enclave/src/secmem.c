/* secmem.c — locked, no-dump memory for secrets and process hardening (see aks/secmem.h). */
#include "aks/secmem.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ak/ct.h"
#include "ak/log.h"

static bool g_secmem_locked;
static bool g_secmem_warned;

static size_t s_secmem_round(size_t n) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (n + pg - 1) / pg * pg;
}

void *aks_secmem_alloc(size_t n) {
    if (n == 0) return NULL;
    size_t len = s_secmem_round(n);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    /* Best effort on both: see the header for why a failed lock is a warning, not a refusal. */
    (void)madvise(p, len, MADV_DONTDUMP);
    g_secmem_locked = mlock(p, len) == 0;
    if (!g_secmem_locked && !g_secmem_warned) {
        g_secmem_warned = true;
        ak_log_warn("mlock failed; secrets may be swapped (raise RLIMIT_MEMLOCK)");
    }
    return p;
}

void aks_secmem_free(void *p, size_t n) {
    if (p == NULL) return;
    size_t len = s_secmem_round(n);
    ak_wipe(p, len);
    (void)munlock(p, len);
    (void)munmap(p, len);
}

bool aks_secmem_locked(void) { return g_secmem_locked; }

ak_err aks_process_harden(void) {
    struct rlimit no_core = {0, 0};
    AK_ENSURE(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, AK_E_INTERNAL);
    AK_ENSURE(setrlimit(RLIMIT_CORE, &no_core) == 0, AK_E_INTERNAL);
    return AK_OK;
}
