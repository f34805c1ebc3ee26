/* quotetape — a bounded line reader.
 *
 * Reads '\n'-terminated lines from a FILE without ever holding more than
 * cap bytes of one line: a longer line is reported as too long (QT_ETOOBIG)
 * and skipped to its end, so one bad line cannot exhaust memory. */
#ifndef QT_LINES_H
#define QT_LINES_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

typedef struct qt_lines {
    FILE *f;
    char *buf;
    size_t cap;    /* longest line accepted, without '\n' */
    size_t lineno; /* number of the line last returned */
} qt_lines;

/* Sets up a reader on f (not owned). */
qt_err qt_lines_init(qt_lines *r, FILE *f, size_t cap);
void qt_lines_release(qt_lines *r);

/* Returns 1 with *line and *len (no '\n'; valid until the next call), 0 at end
 * of file, or -1 with *e set (QT_ETOOBIG for an overlong line, after which
 * reading may go on; QT_EIO for a read error). */
int qt_lines_next(qt_lines *r, const char **line, size_t *len, qt_err *e);

#endif
