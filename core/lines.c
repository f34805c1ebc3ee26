/* quotetape — bounded line reader. */
#include "core/lines.h"

#include <stdlib.h>

qt_err qt_lines_init(qt_lines *r, FILE *f, size_t cap)
{
    r->f = f;
    r->cap = cap;
    r->lineno = 0;
    r->buf = malloc(cap + 1);
    return r->buf ? QT_OK : QT_ENOMEM;
}

void qt_lines_release(qt_lines *r)
{
    free(r->buf);
    r->buf = NULL;
}

int qt_lines_next(qt_lines *r, const char **line, size_t *len, qt_err *e)
{
    size_t n = 0;
    int c, too_long = 0;

    /* getc_unlocked: one reader per FILE, and the hot loop of an import. */
    while ((c = getc_unlocked(r->f)) != EOF && c != '\n') {
        if (n < r->cap)
            r->buf[n++] = (char)c;
        else
            too_long = 1;
    }
    if (c == EOF && n == 0 && !too_long) {
        if (ferror(r->f)) {
            *e = QT_EIO;
            return -1;
        }
        return 0;
    }
    r->lineno++;
    if (too_long) {
        *e = QT_ETOOBIG;
        return -1;
    }
    r->buf[n] = '\0';
    *line = r->buf;
    *len = n;
    return 1;
}
