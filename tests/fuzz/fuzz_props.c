/* Fuzz target: the -F client.properties reader. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/kafka.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_kv(const char *k, const char *v, int line, void *ud)
{
    size_t *total = ud;
    /* keys are never empty, lines count from 1 */
    if (!*k || line < 1)
        __builtin_trap();
    *total += strlen(k) + strlen(v);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    size_t total = 0;
    qt_props_parse((const char *)data, size, "fuzz.properties", on_kv, &total, err, sizeof err);
    return 0;
}
