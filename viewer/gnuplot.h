/* quotetape — the gnuplot renderer: chart model, script, child process.
 *
 * gnuplot runs as a child process (pipe, fork, exec; never a shell) and
 * reads the whole script, data included, from its stdin. Every text that
 * comes from data (symbols, titles, file names) is written as a gnuplot
 * single-quoted string: inside one, gnuplot expands neither `backquotes`
 * nor @macros nor backslash escapes, and a quote is written twice; control
 * characters (a newline would end the command) become spaces. Terminals are
 * set `noenhanced`, so ^ _ { } @ & are shown as they are. No input can make
 * gnuplot run a command or change anything but the label.
 *
 * The program is $QUOTETAPE_GNUPLOT if set, else `gnuplot` from PATH; a
 * missing one is QT_EGNUPLOT with a message that says how to install it.
 * Files are written atomically: gnuplot draws into a temporary file next to
 * the target, which is renamed over it only when gnuplot succeeded. */
#ifndef QT_GNUPLOT_H
#define QT_GNUPLOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"
#include "core/error.h"

typedef enum qt_gp_format { QT_GP_PNG = 0, QT_GP_SVG, QT_GP_TERM } qt_gp_format;

/* One panel: one symbol's windows over time of day. Arrays have n
 * elements, in time order; optional arrays may be NULL. */
typedef struct qt_gp_panel {
    const char *title;    /* usually the symbol; any bytes */
    size_t n;
    const int64_t *t_ms;  /* x: window start, epoch ms */
    const double *price;  /* the line: average bid */
    const double *ask;    /* optional: average ask, drawn as a band above price */
    const double *o, *h, *l, *c; /* optional (all or none): bid candlesticks */
} qt_gp_panel;

typedef struct qt_gp_chart {
    const char *title;       /* whole-chart title, may be NULL */
    const char *line_label;  /* key text of the price line, e.g. "average bid (5s)" */
    const qt_gp_panel *panels;
    size_t npanels;
    int64_t candle_ms;       /* candle width (the window size); 0 = none */
    int width, height;       /* pixels (PNG/SVG) or characters (terminal); 0 = default */
} qt_gp_chart;

/* Appends s as a gnuplot single-quoted string literal (see above). */
qt_err qt_gp_quote(qt_buf *out, const char *s);

/* Appends the whole gnuplot script for chart c in format fmt, writing to
 * output (NULL = gnuplot's stdout, for the terminal). QT_ERANGE if a panel
 * has no points. */
qt_err qt_gp_script(const qt_gp_chart *c, qt_gp_format fmt, const char *output, qt_buf *out);

/* The gnuplot program that will be run. */
const char *qt_gp_program(void);

/* Runs gnuplot on script. Its stdout goes to ours when to_stdout is set (the
 * terminal chart), else nowhere. QT_EGNUPLOT when gnuplot is missing, is
 * killed, exits non-zero (its first error line in err), or exits before the
 * end of the script (a line gnuplot prints after the script tells). */
qt_err qt_gp_run(const char *script, size_t len, int to_stdout, char *err, size_t errsz);

/* Renders c to path (PNG or SVG) atomically, or to stdout (QT_GP_TERM,
 * path ignored). */
qt_err qt_gp_render(const qt_gp_chart *c, qt_gp_format fmt, const char *path, char *err,
                    size_t errsz);

/* Picks the format from a file name's extension (.png, .svg); -1 if
 * neither. */
int qt_gp_format_of(const char *path);

#endif
