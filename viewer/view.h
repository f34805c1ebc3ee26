/* quotetape — the viewer stage: window messages from Kafka to a chart.
 *
 * Reads a window topic (either format, wmsg.h) from any position without a
 * consumer group, keeps the last N windows per symbol, deduped by
 * (symbol, window_start), and renders a line of the window price over time
 * of day through gnuplot, one panel per symbol:
 *   - PNG/SVG once the topic has been read to the end it had at start; with
 *     follow, again after every batch of new windows, replacing the file
 *     atomically;
 *   - the terminal: redrawn in place (cursor home, clear) on every batch;
 *   - a live web page (serve, viewer/web.h): after the topic's end, each
 *     symbol's chart is rendered as SVG (the same code and chart as `--svg`
 *     with `--symbol`) whenever its windows change, at most 4 times a
 *     second, and pushed to every browser showing that symbol. One Kafka
 *     consumer serves all browsers. */
#ifndef QT_VIEW_H
#define QT_VIEW_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/kafka.h"
#include "core/position.h"
#include "viewer/gnuplot.h"

typedef struct qt_view_opts {
    const qt_kopts *kopts;
    const char *topic;     /* "quotes.w5s" */
    const qt_pos *from;    /* NULL = beginning */
    const char *symbol;    /* NULL = every symbol (one panel each) */
    size_t last_n;         /* windows kept per symbol */
    qt_gp_format fmt;
    const char *out;       /* file for PNG/SVG */
    int follow;            /* keep reading and re-rendering */
    int width, height;     /* 0 = default (terminal: its size) */
    volatile sig_atomic_t *stop; /* may be NULL */
    const char *serve;     /* "HOST:PORT": the live web page instead of fmt/out;
                              implies follow */
    int serve_any_address; /* allow a non-loopback serve address */
} qt_view_opts;

typedef struct qt_view_stats {
    int64_t messages; /* read */
    int64_t bad;      /* not window messages */
    int64_t renders;  /* charts drawn */
    size_t windows;   /* windows in the last chart */
} qt_view_stats;

/* Runs the viewer. Without follow it returns after one render (QT_ERANGE
 * with "no windows" if the topic held none from that position); with follow
 * it runs until *stop (then QT_EINTR). */
qt_err qt_view_run(const qt_view_opts *o, qt_view_stats *st, char *err, size_t errsz);

#endif
