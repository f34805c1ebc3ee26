/* Fuzz target: window messages as the viewer reads them (quotetape's JSON
 * and Flink's schema-registry framed JSON), fed into a window set. */
#include <stddef.h>
#include <stdint.h>

#include "viewer/wmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    qt_wmsg m;
    qt_wset ws;
    qt_wset_init(&ws, 3, NULL);
    if (qt_wmsg_parse(data, size, &m, err, sizeof err) == QT_OK) {
        qt_wset_add(&ws, &m);
        qt_wset_add(&ws, &m); /* a duplicate replaces, never grows */
        if (ws.ns != 1 || ws.s[0].n != 1)
            __builtin_trap();
    }
    qt_wset_release(&ws);
    return 0;
}
