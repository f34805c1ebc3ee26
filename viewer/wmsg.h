/* quotetape — window messages as the viewer reads them, and the set of
 * windows it keeps.
 *
 * Two producers write window messages (schema/window.schema.json):
 *   - `quotetape window`: plain JSON, timestamps as epoch ms;
 *   - the Flink SQL job in schema/flink/ on Confluent Cloud: the same JSON
 *     after a 5-byte schema-registry header (0x00 + 4-byte schema id),
 *     timestamps as epoch ms or as "yyyy-MM-dd HH:mm:ss.SSS" strings (UTC).
 * Field names are matched without regard to case; `count` may also be
 * `cnt` or `quote_count`, `price` may also be `avg_bid` or `avg_bid_price`.
 *
 * The window set keeps, per symbol, the last N windows by window_start; a
 * window seen again (same symbol and window_start, as after a windower
 * restart) replaces the earlier one. */
#ifndef QT_WMSG_H
#define QT_WMSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/quote.h"
#include "viewer/gnuplot.h"

typedef struct qt_wmsg {
    char symbol[QT_SYMBOL_MAX];
    int64_t start_ms, end_ms;
    double price;
    int64_t count;
    double o, h, l, c; /* bid open/high/low/close when has_ohlc */
    double ask;        /* average ask when has_ask */
    int has_ohlc, has_ask;
} qt_wmsg;

/* Largest window message accepted. */
#define QT_WMSG_MAX (64u * 1024u)

/* Parses one window message value (either format). QT_EINVAL with a reason
 * for anything that is not a window message. */
qt_err qt_wmsg_parse(const void *buf, size_t len, qt_wmsg *m, char *err, size_t errsz);

/* Parses "yyyy-MM-dd HH:mm:ss[.fff]" (UTC, 'T' also accepted, optional Z
 * or offset) into epoch ms. */
qt_err qt_wmsg_parse_ts(const char *s, int64_t *ms);

/* Most symbols (panels) one set keeps; windows of further symbols are
 * counted in dropped_symbols. */
#define QT_WSET_SYMBOLS_MAX 64

typedef struct qt_wseries {
    char symbol[QT_SYMBOL_MAX];
    qt_wmsg *v; /* sorted by start_ms, at most last_n */
    size_t n, cap;
} qt_wseries;

typedef struct qt_wset {
    size_t last_n;
    char only[QT_SYMBOL_MAX]; /* "" = every symbol */
    qt_wseries s[QT_WSET_SYMBOLS_MAX];
    size_t ns;
    int64_t added, replaced, ignored, dropped_symbols;
} qt_wset;

/* only may be NULL (every symbol). last_n >= 1. */
void qt_wset_init(qt_wset *ws, size_t last_n, const char *only);
void qt_wset_release(qt_wset *ws);

/* Adds a window. Returns 1 if the shown set changed (a new window within the
 * last N, or a replaced one with different content), 0 if not, -1 on
 * allocation failure. */
int qt_wset_add(qt_wset *ws, const qt_wmsg *m);

/* Total windows held. */
size_t qt_wset_count(const qt_wset *ws);

/* A chart of the set, symbols in byte order, one panel each. The arrays
 * live in *store (released with qt_wset_chart_release) and stay valid until
 * then. with_detail adds the ask band and candlesticks when known. */
typedef struct qt_wset_chart {
    qt_gp_panel panels[QT_WSET_SYMBOLS_MAX];
    void *mem;
} qt_wset_chart;

qt_err qt_wset_chart_build(const qt_wset *ws, int with_detail, qt_wset_chart *store,
                           qt_gp_chart *c);
void qt_wset_chart_release(qt_wset_chart *store);

#endif
