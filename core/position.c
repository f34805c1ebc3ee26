/* quotetape — position parsing. */
#include "core/position.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/qtime.h"

static int qt_parse_i64(const char *s, int64_t *v)
{
    char *end;
    long long x;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

qt_err qt_pos_parse(const char *s, qt_pos *p, char *err, size_t errsz)
{
    static const char forms[] =
        "beginning, end, seq:N, offset:N, an RFC 3339 time or +DURATION (e.g. +90s)";

    if (!s || !*s)
        return qt_fail(QT_EINVAL, err, errsz, "empty position; use %s", forms);
    if (strcmp(s, "beginning") == 0 || strcmp(s, "start") == 0) {
        p->kind = QT_POS_BEGINNING;
        p->v = 0;
        return QT_OK;
    }
    if (strcmp(s, "end") == 0) {
        p->kind = QT_POS_END;
        p->v = 0;
        return QT_OK;
    }
    if (strncmp(s, "seq:", 4) == 0) {
        if (qt_parse_i64(s + 4, &p->v) || p->v < 1)
            return qt_fail(QT_EINVAL, err, errsz,
                           "position '%s': a sequence number is a whole number from 1", s);
        p->kind = QT_POS_SEQ;
        return QT_OK;
    }
    if (strncmp(s, "offset:", 7) == 0) {
        if (qt_parse_i64(s + 7, &p->v))
            return qt_fail(QT_EINVAL, err, errsz,
                           "position '%s': an offset is a whole number from 0", s);
        p->kind = QT_POS_OFFSET;
        return QT_OK;
    }
    if (s[0] == '+') {
        char e2[128];
        if (qt_dur_parse(s + 1, &p->v, e2, sizeof e2))
            return qt_fail(QT_EINVAL, err, errsz, "position '%s': %s", s, e2);
        p->kind = QT_POS_REL;
        return QT_OK;
    }
    if (s[0] >= '0' && s[0] <= '9' && strlen(s) >= 20) {
        char e2[128];
        if (qt_time_parse(s, strlen(s), &p->v, e2, sizeof e2))
            return qt_fail(QT_EINVAL, err, errsz, "position '%s': %s", s, e2);
        p->kind = QT_POS_TIME;
        return QT_OK;
    }
    return qt_fail(QT_EINVAL, err, errsz, "unknown position '%s'; use %s", s, forms);
}

size_t qt_pos_format(const qt_pos *p, char *buf, size_t n)
{
    char tmp[QT_TIME_STRMAX];
    int r = 0;
    switch (p->kind) {
    case QT_POS_BEGINNING: r = snprintf(buf, n, "beginning"); break;
    case QT_POS_END: r = snprintf(buf, n, "end"); break;
    case QT_POS_SEQ: r = snprintf(buf, n, "seq:%" PRId64, p->v); break;
    case QT_POS_OFFSET: r = snprintf(buf, n, "offset:%" PRId64, p->v); break;
    case QT_POS_TIME:
        qt_time_format(p->v, -1, tmp);
        r = snprintf(buf, n, "%s", tmp);
        break;
    case QT_POS_REL:
        qt_dur_format(p->v, tmp, sizeof tmp);
        r = snprintf(buf, n, "+%s", tmp);
        break;
    }
    return r < 0 ? 0 : (size_t)r;
}
