/* Fuzz target: positions, durations and RFC 3339 times, with round trips
 * checked: whatever parses must format back to something that parses to
 * the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/position.h"
#include "core/qtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[128], buf[128], err[256];
    qt_pos p, q;
    int64_t ns, ns2;

    if (size >= sizeof s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (qt_pos_parse(s, &p, err, sizeof err) == QT_OK) {
        qt_pos_format(&p, buf, sizeof buf);
        if (qt_pos_parse(buf, &q, err, sizeof err) != QT_OK || q.kind != p.kind || q.v != p.v)
            abort();
    }
    if (qt_dur_parse(s, &ns, err, sizeof err) == QT_OK) {
        qt_dur_format(ns, buf, sizeof buf);
        if (qt_dur_parse(buf, &ns2, err, sizeof err) != QT_OK || ns2 != ns)
            abort();
    }
    if (qt_time_parse(s, size, &ns, err, sizeof err) == QT_OK) {
        size_t n = qt_time_format(ns, -1, buf);
        if (qt_time_parse(buf, n, &ns2, err, sizeof err) != QT_OK || ns2 != ns)
            abort();
    }
    return 0;
}
