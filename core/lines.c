/* quotetape — bounded line reader. */
#include "core/lines.h"

#include <stdlib.h>
#include <string.h>

qt_err qt_lines_init(qt_lines *r, FILE *f, size_t cap)
{
    r->f = f;
    r->cap = cap;
    r->lineno = 0;
    r->buf = malloc(cap + 2);
    return r->buf ? QT_OK : QT_ENOMEM;
}

void qt_lines_release(qt_lines *r)
{
    free(r->buf);
    r->buf = NULL;
}

int qt_lines_next(qt_lines *r, const char **line, size_t *len, qt_err *e)
{
    size_t n;
    int c;

    /* fgets scans with memchr: far faster than a getc loop on long lines.
     * The buffer holds cap bytes plus the '\n' and the NUL. */
    if (!fgets(r->buf, (int)(r->cap + 2), r->f)) {
        if (ferror(r->f)) {
            *e = QT_EIO;
            return -1;
        }
        return 0;
    }
    r->lineno++;
    n = strlen(r->buf);
    if (n && r->buf[n - 1] == '\n') {
        r->buf[--n] = '\0';
    } else if (n > r->cap) {
        /* overlong: skip to the end of the line so reading can go on */
        while ((c = getc(r->f)) != EOF && c != '\n')
            ;
        *e = QT_ETOOBIG;
        return -1;
    }
    *line = r->buf;
    *len = n;
    return 1;
}
