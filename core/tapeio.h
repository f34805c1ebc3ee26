/* quotetape — moving tapes to and from text: import, export, info. */
#ifndef QT_TAPEIO_H
#define QT_TAPEIO_H

#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include "core/error.h"
#include "core/tape.h"

typedef struct qt_import_stats {
    int64_t lines;    /* lines read */
    int64_t quotes;   /* quotes stored */
    int64_t trades;   /* trades stored */
    int64_t bars;     /* bars stored */
    int64_t control;  /* success/subscription/error messages skipped */
    int64_t bad;      /* lines rejected */
} qt_import_stats;

/* Reads tape JSON lines from f into session of t. Bad lines are reported
 * on stderr as "name:line: reason" and counted; with strict, the first bad
 * line stops the import with QT_EINVAL (the caller rolls back). Commits in
 * batches unless the caller holds a transaction. stop (may be NULL) is
 * polled between lines. */
qt_err qt_import_stream(qt_tape *t, int64_t session, FILE *f, const char *name, int strict,
                        const volatile sig_atomic_t *stop, qt_import_stats *st, char *err, size_t errsz);

typedef enum qt_export_format { QT_EXPORT_JSONL = 0, QT_EXPORT_CSV } qt_export_format;

/* Writes the selected quotes to f; *n gets the count. */
qt_err qt_export(qt_tape *t, const qt_tape_sel *sel, qt_export_format fmt, FILE *f, int64_t *n,
                 char *err, size_t errsz);

/* Writes a human summary of the tape (sessions, symbols, counts, time
 * range, gaps) to f. */
qt_err qt_tape_info(qt_tape *t, const char *path, FILE *f, char *err, size_t errsz);

#endif
