/* tests/lib/test.c — harness support (see test.h). */
#include "test.h"

#include <stdlib.h>

static size_t g_live_at_start;

void ak_test_init(void) {
    ak_alloc_install_jansson();
    /* cmocka prints to stdout; keep it line-buffered so CI logs interleave sanely. */
    setvbuf(stdout, NULL, _IOLBF, 0);
}

int ak_test_setup(void **state) {
    (void)state;
    ak_alloc_fail_nth(0);
    g_live_at_start = ak_alloc_live_count();
    return 0;
}

int ak_test_teardown(void **state) {
    (void)state;
    ak_alloc_fail_nth(0);
    size_t now = ak_alloc_live_count();
    if (now != g_live_at_start) {
        fprintf(stderr, "leak: %zu allocation(s) still live after the test\n", now - g_live_at_start);
        return -1;
    }
    return 0;
}

const char *ak_test_vector_path(const char *rel) {
    static char path[4096];
    const char *dir = getenv("AK_VECTORS_DIR");
    if (dir == NULL || dir[0] == '\0') dir = AK_VECTORS_DEFAULT;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return path;
}

void ak_test_read_file(const char *path, ak_buf *out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) fail_msg("cannot open %s", path);
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (ak_buf_append(out, chunk, n) != AK_OK) {
            fclose(f);
            fail_msg("%s is too large", path);
        }
    }
    fclose(f);
}
