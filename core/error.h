/* quotetape — one error enum for the whole project.
 *
 * Functions return a qt_err; QT_OK is zero so `if (rc) return rc;` works.
 * Values are never renumbered: scripts see them through the exit code
 * (qt_exit_code), which follows BSD sysexits where one fits. */
#ifndef QT_ERROR_H
#define QT_ERROR_H

#include <stddef.h>

typedef enum qt_err {
    QT_OK = 0,
    QT_EUSAGE = 1,     /* bad flags or arguments */
    QT_EINVAL = 2,     /* malformed input data (frame, line, position) */
    QT_EIO = 3,        /* read/write/OS failure */
    QT_ENOMEM = 4,     /* allocation failed */
    QT_ETAPE = 5,      /* not a tape, or a corrupt one */
    QT_EVERSION = 6,   /* tape written by a newer quotetape */
    QT_EKAFKA = 7,     /* Kafka client or broker error */
    QT_ETIMEOUT = 8,   /* bounded wait ran out */
    QT_ENOTFOUND = 9,  /* file, topic, symbol not found */
    QT_ERANGE = 10,    /* position out of range, empty selection */
    QT_EAUTH = 11,     /* authentication refused (Alpaca 402, bad key) */
    QT_ENET = 12,      /* websocket / network failure */
    QT_EGNUPLOT = 13,  /* gnuplot missing or failed */
    QT_ETOOBIG = 14,   /* input exceeds a cap */
    QT_EINTR = 15,     /* stopped by a signal before finishing */
    QT_ECONFIG = 16,   /* configuration file or -X property error */
    QT_EBUSY = 17,     /* resource locked (tape in use) */
    QT_ELIMIT = 18,    /* Alpaca connection limit (406) */
    QT_EPROTO = 19,    /* peer broke the protocol */
    QT_EINTERNAL = 20  /* a bug */
} qt_err;

/* Short lowercase description of an error value; never NULL. */
const char *qt_strerror(qt_err e);

/* Process exit code for an error value (0 for QT_OK). Documented in
 * docs/exit-codes.md; stable. */
int qt_exit_code(qt_err e);

/* Formats into err (if non-NULL and errsz > 0) and returns e. For the
 * `return qt_fail(QT_EIO, err, errsz, "cannot open '%s': %s", ...)` idiom. */
qt_err qt_fail(qt_err e, char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
