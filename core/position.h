/* quotetape — positions ("from any offset") and their parsing.
 *
 * A position names a place in a tape or a topic:
 *   beginning | end | seq:N (tape sequence) | offset:N (Kafka offset)
 *   | an RFC 3339 time | +DUR (relative to the first quote: +90s, +5m).
 * Ranges are half-open: --from is inclusive, --to exclusive, so a replay
 * stopped at seq:N resumes with --from seq:N with no duplicate and no gap. */
#ifndef QT_POSITION_H
#define QT_POSITION_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum qt_pos_kind {
    QT_POS_BEGINNING = 0,
    QT_POS_END,
    QT_POS_SEQ,    /* v = tape sequence number (>= 1) */
    QT_POS_OFFSET, /* v = Kafka offset (>= 0) */
    QT_POS_TIME,   /* v = ns since the epoch */
    QT_POS_REL     /* v = ns after the first quote */
} qt_pos_kind;

typedef struct qt_pos {
    qt_pos_kind kind;
    int64_t v;
} qt_pos;

/* Parses s into *p. Unknown forms get QT_EINVAL with a reason that lists the
 * accepted forms. */
qt_err qt_pos_parse(const char *s, qt_pos *p, char *err, size_t errsz);

/* Writes p back in the form qt_pos_parse reads. */
size_t qt_pos_format(const qt_pos *p, char *buf, size_t n);

#endif
