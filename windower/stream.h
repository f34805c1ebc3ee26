/* quotetape — the windower stage: Kafka quotes in, Kafka windows out.
 *
 * Reads quote messages (the Kafka quote contract: value = Alpaca quote JSON,
 * key = symbol) from a topic, feeds the pure windowing core (window.h) and
 * produces one message per finished window (the window contract,
 * schema/window.schema.json): key = symbol, value = JSON, timestamp =
 * window_end - 1 ms (the window's last instant, Flink's `window_time`).
 *
 * Restart safety: the stage reads through a consumer group and commits, for
 * each partition, the offset of the first record of the oldest window still
 * open (or the next offset when none is), with the watermark in the commit
 * metadata ("qt-wm:<ms>"). A restart re-reads from there, restores the
 * watermark, and so recomputes exactly the windows that were still open:
 * no window is lost, and a window that was emitted just before a crash may
 * be emitted again with the same content — consumers dedupe by
 * (symbol, window_start). This assumes key = symbol partitioning, so all of
 * a window's records come from one partition. */
#ifndef QT_WSTREAM_H
#define QT_WSTREAM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"
#include "core/error.h"
#include "core/kafka.h"
#include "core/position.h"
#include "windower/window.h"

typedef struct qt_wstream_opts {
    const qt_kopts *kopts;
    const char *in_topic;  /* "quotes" */
    const char *out_topic; /* "quotes.w5s" */
    int64_t size_ms;       /* 5000 */
    int64_t lateness_ms;   /* 1000 */
    const qt_pos *from;    /* NULL: resume from the group's committed position */
    const char *group;     /* NULL: "quotetape-window-<out_topic>" */
    int64_t idle_flush_ms; /* 0: never; else flush open windows after this idle time */
    int time_field;        /* 0: Kafka timestamp; 1: the quote's "t" */
    int exit_at_end;       /* stop at the end of the topic, emitting every open window */
    int64_t commit_ms;     /* commit interval; 0 = 1000 */
    volatile sig_atomic_t *stop; /* may be NULL */
} qt_wstream_opts;

typedef struct qt_wstream_stats {
    int64_t messages; /* read from Kafka */
    int64_t records;  /* accepted into a window */
    int64_t late;     /* dropped as late */
    int64_t bad;      /* not a quote we could read */
    int64_t windows;  /* produced */
    int64_t restored_wm; /* watermark restored at start, QT_WINDOW_NO_WM if none */
} qt_wstream_stats;

/* Runs the stage until *stop, or the end of the topic with exit_at_end.
 * Returns QT_OK, QT_EINTR when stopped by a signal, or the first Kafka error.
 * st (may be NULL) gets the counts. */
qt_err qt_wstream_run(const qt_wstream_opts *o, qt_wstream_stats *st, char *err, size_t errsz);

/* Parsed fields of one quote message value. */
typedef struct qt_wquote {
    char symbol[QT_SYMBOL_MAX];
    double bid, ask;
    int64_t t_ms; /* from "t"; INT64_MIN if absent or unreadable */
} qt_wquote;

/* Reads S, bp, ap and (if want_t) t from an Alpaca quote object in one pass.
 * QT_EINVAL if it is not a quote ("T" other than "q", missing S/bp/ap). */
qt_err qt_wstream_parse_quote(const char *buf, size_t len, int want_t, qt_wquote *q);

/* Appends the window message value (JSON, the window contract) to out. */
qt_err qt_wstream_format(const qt_window_row *w, qt_buf *out);

#endif
