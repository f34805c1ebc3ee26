/* quotetape — tumbling windows with Flink semantics (the pure core).
 *
 * No I/O: records go in through qt_window_feed, finished windows come out
 * through a callback. The semantics are those of Flink's TUMBLE over an
 * event-time attribute with `WATERMARK FOR ts AS ts - INTERVAL lateness`:
 *
 *   - a record with event time ts (ms) belongs to the window
 *     [start, start + size) with start = floor(ts / size) * size;
 *   - the watermark is the highest event time seen minus the lateness; it
 *     never goes back. Records tagged with different source partitions
 *     (tag >> 48, see below) each keep their own highest event time and the
 *     watermark follows the lowest of them, as Flink's Kafka source does
 *     with per-partition watermarks (partitions not seen yet do not hold
 *     it back);
 *   - a window fires once, when the watermark reaches end - 1 ms (the
 *     window's last instant); an empty window never fires;
 *   - a record is late, dropped and counted, when its window's end - 1 ms is
 *     <= the current watermark, i.e. its window has already fired (or would
 *     have). The check uses the watermark before the record itself moves it.
 *
 * Order of output: windows that fire on the same watermark advance come out
 * by window start, then by symbol (bytewise).
 *
 * Aggregates per window: count, average bid (`price`, Flink's
 * AVG(bid_price)), bid open/high/low/close (open and close in arrival order,
 * as Flink's FIRST_VALUE/LAST_VALUE) and average ask.
 *
 * Each open window may carry one opaque 64-bit tag (the Kafka position of
 * its first record) so the caller can commit positions that are safe to
 * restart from; see qt_window_min_tag.
 *
 * Not thread-safe; one qt_window per thread. */
#ifndef QT_WINDOW_H
#define QT_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/quote.h"

/* Caps: distinct symbols and open windows per symbol. A record that would
 * exceed them is refused with QT_ETOOBIG (and counted), never an unbounded
 * allocation. */
#define QT_WINDOW_SYMBOLS_MAX 100000
#define QT_WINDOW_OPEN_MAX 4096
/* Source partitions tracked for the watermark; higher ones share the last. */
#define QT_WINDOW_PARTS_MAX 1024

/* "No watermark yet". */
#define QT_WINDOW_NO_WM INT64_MIN

/* One finished window, handed to the emit callback; valid during it. */
typedef struct qt_window_row {
    const char *symbol;
    int64_t start_ms, end_ms; /* [start, end) */
    int64_t count;
    double price;   /* average bid */
    double bid_open, bid_high, bid_low, bid_close;
    double ask_avg; /* average ask */
} qt_window_row;

/* Called for every window that fires, in the order described above. A
 * nonzero return is remembered and returned by the qt_window_* call that
 * fired the window (the rest of that batch is still emitted). */
typedef int (*qt_window_emit_cb)(const qt_window_row *w, void *ud);

typedef struct qt_window_stats {
    int64_t records;  /* accepted records */
    int64_t late;     /* dropped: their window had already fired */
    int64_t refused;  /* dropped: a cap was hit, or bad input */
    int64_t emitted;  /* windows emitted */
} qt_window_stats;

typedef struct qt_window qt_window;

/* Creates a windower with window size size_ms (> 0) and allowed lateness
 * lateness_ms (>= 0). QT_EINVAL on bad sizes, QT_ENOMEM. */
qt_err qt_window_new(int64_t size_ms, int64_t lateness_ms, qt_window_emit_cb cb, void *ud,
                     qt_window **out, char *err, size_t errsz);

/* Frees the windower and any windows still open (not emitted); NULL is fine. */
void qt_window_free(qt_window *w);

/* Feeds one record. tag is stored with the window if this record opens it.
 * Returns QT_OK (accepted, or late and counted: *late, if non-NULL, tells
 * which), QT_EINVAL for an empty or too long symbol, QT_ETOOBIG past a cap,
 * QT_ENOMEM, or QT_EINTR when the callback asked to stop. */
qt_err qt_window_feed(qt_window *w, const char *symbol, int64_t ts_ms, double bid, double ask,
                      uint64_t tag, int *late);

/* Emits every open window now, oldest first, and moves the watermark to the
 * last instant of the newest of them, so a record that arrives later for one
 * of these windows is late (no second row for a window). Used for
 * --idle-flush and at the end of a bounded input. */
qt_err qt_window_flush(qt_window *w);

/* Moves the watermark forward to wm (never back) and fires what it reaches:
 * used to restore the watermark after a restart. */
qt_err qt_window_advance(qt_window *w, int64_t wm);

/* Current watermark (QT_WINDOW_NO_WM before the first record). */
int64_t qt_window_watermark(const qt_window *w);

/* Number of open (not yet emitted) windows. */
size_t qt_window_open_count(const qt_window *w);

/* Smallest tag among open windows whose tag satisfies (tag >> 48) == key
 * (callers put a partition number in the top 16 bits); returns 0 if there
 * is none, 1 with *tag set otherwise. */
int qt_window_min_tag(const qt_window *w, uint64_t key, uint64_t *tag);

const qt_window_stats *qt_window_get_stats(const qt_window *w);

/* Window start for ts: floor(ts / size) * size, correct for negative ts. */
int64_t qt_window_start_of(int64_t ts_ms, int64_t size_ms);

#endif
