/* quotetape — error strings and exit codes. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *text;
    int exit_code;
} qt_errtab[] = {
    [QT_OK] = {"success", 0},
    [QT_EUSAGE] = {"bad usage", 64},           /* EX_USAGE */
    [QT_EINVAL] = {"malformed input", 65},     /* EX_DATAERR */
    [QT_EIO] = {"input/output error", 74},     /* EX_IOERR */
    [QT_ENOMEM] = {"out of memory", 71},       /* EX_OSERR */
    [QT_ETAPE] = {"not a valid tape", 65},     /* EX_DATAERR */
    [QT_EVERSION] = {"tape version too new", 65},
    [QT_EKAFKA] = {"kafka error", 69},         /* EX_UNAVAILABLE */
    [QT_ETIMEOUT] = {"timed out", 75},         /* EX_TEMPFAIL */
    [QT_ENOTFOUND] = {"not found", 66},        /* EX_NOINPUT */
    [QT_ERANGE] = {"out of range", 65},
    [QT_EAUTH] = {"authentication failed", 77}, /* EX_NOPERM */
    [QT_ENET] = {"network error", 69},
    [QT_EGNUPLOT] = {"gnuplot error", 69},
    [QT_ETOOBIG] = {"input too large", 65},
    [QT_EINTR] = {"interrupted", 130},
    [QT_ECONFIG] = {"configuration error", 78}, /* EX_CONFIG */
    [QT_EBUSY] = {"resource busy", 75},
    [QT_ELIMIT] = {"connection limit exceeded", 75},
    [QT_EPROTO] = {"protocol error", 76},       /* EX_PROTOCOL */
    [QT_EINTERNAL] = {"internal error", 70},    /* EX_SOFTWARE */
};

#define QT_NERR (sizeof qt_errtab / sizeof qt_errtab[0])

const char *qt_strerror(qt_err e)
{
    if ((size_t)e >= QT_NERR || !qt_errtab[e].text)
        return "unknown error";
    return qt_errtab[e].text;
}

int qt_exit_code(qt_err e)
{
    if ((size_t)e >= QT_NERR || !qt_errtab[e].text)
        return 70;
    return qt_errtab[e].exit_code;
}

qt_err qt_fail(qt_err e, char *err, size_t errsz, const char *fmt, ...)
{
    if (err && errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return e;
}
