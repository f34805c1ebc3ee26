/* quotetape — report charts straight from a tape.
 *
 * Reads the selected quotes of a tape (core/tape.h) and, per symbol, groups
 * them into tumbling windows of event time [start, start+size), all of them
 * (a tape is complete, so no watermark is needed: this equals the windower's
 * output with unbounded lateness). One panel per symbol: the bid-ask band
 * (window averages), bid candlesticks per window (open/high/low/close in
 * tape order) and the windowed average bid as a line. */
#ifndef QT_CHART_H
#define QT_CHART_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "viewer/gnuplot.h"

typedef struct qt_chart_opts {
    const char *db;               /* tape path */
    const char *const *symbols;   /* NULL = every symbol in the tape */
    size_t nsymbols;
    const char *from, *to;        /* positions (core/position.h); NULL = all */
    int64_t size_ms;              /* window size, e.g. 5000 */
    qt_gp_format fmt;             /* PNG or SVG */
    const char *out;
    int width, height;            /* 0 = default */
} qt_chart_opts;

typedef struct qt_chart_stats {
    int64_t quotes;   /* quotes read */
    size_t windows;   /* windows drawn */
    size_t symbols;   /* panels */
} qt_chart_stats;

/* Draws the chart. QT_ERANGE if the selection holds no quotes; tape errors
 * as qt_tape_open returns them; QT_EGNUPLOT. */
qt_err qt_chart_tape(const qt_chart_opts *o, qt_chart_stats *st, char *err, size_t errsz);

#endif
