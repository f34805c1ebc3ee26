/* quotetape — the viewer's live web page: HTTP and a websocket on one port.
 *
 * One libwebsockets context with its own service thread serves:
 *   GET /                   the page (viewer/web_page.h: HTML, CSS and JS in
 *                           one string, nothing fetched from elsewhere)
 *   GET /chart.svg?symbol=S the newest chart of S (no symbol: the default)
 *   GET /symbols.json       {"symbols":[..],"topic":..,"last":N}
 *   ws  /ws                 subprotocol "quotetape-view": pushes
 *       {"type":"symbols","symbols":[..],"topic":..,"last":N} when the list
 *       changes and {"type":"chart","symbol":S,"points":N,"version":V,
 *       "svg":"<svg..."} when the chart of the client's symbol changes; the
 *       page selects a symbol by sending {"symbol":S}.
 *
 * The charts are made elsewhere (the viewer renders them with gnuplot, the
 * same code as `view --svg`); this module only keeps the newest SVG per
 * symbol and hands it out. Nothing queues up per browser: a browser that
 * is slow to read gets the newest chart when its socket drains, never a
 * backlog, so memory stays bounded by one chart per symbol plus one message
 * per connection.
 *
 * Threading: qt_web_publish may be called from any thread (it copies under
 * a mutex and wakes the service thread with lws_cancel_service); everything
 * else about connections happens on the service thread. */
#ifndef QT_WEB_H
#define QT_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct qt_web qt_web;

typedef struct qt_web_cfg {
    const char *bind;           /* "HOST:PORT"; port 0 = ephemeral; NULL = 127.0.0.1:8080 */
    int allow_remote;           /* bind a non-loopback address (else QT_EUSAGE) */
    const char *topic;          /* shown on the page */
    size_t last_n;              /* shown on the page */
    const char *default_symbol; /* selected first; NULL = the first in byte order */
} qt_web_cfg;

typedef struct qt_web_stats {
    uint64_t clients_now, clients_total; /* websocket connections */
    uint64_t charts_sent;                /* chart messages written */
    uint64_t http_requests;
    uint64_t published; /* charts handed to qt_web_publish */
} qt_web_stats;

/* Largest chart accepted (an SVG of a few thousand points is ~200 KiB). */
#define QT_WEB_SVG_MAX (8u * 1024u * 1024u)

/* Binds, creates the context and starts the service thread; the port is
 * listening when this returns. QT_EUSAGE (bad address, non-loopback without
 * allow_remote), QT_ENET (cannot listen), QT_ENOMEM. cfg strings are
 * copied. */
qt_err qt_web_start(const qt_web_cfg *cfg, qt_web **out, char *err, size_t errsz);

/* The port listened on. */
int qt_web_port(const qt_web *w);

/* Makes svg (len bytes, copied) the chart of symbol, drawn from points
 * windows; a new symbol joins the list. Browsers showing symbol get it
 * pushed. QT_EINVAL for an empty or too long symbol or an SVG over
 * QT_WEB_SVG_MAX, QT_ENOMEM; at most QT_WEB_SYMBOLS_MAX symbols (QT_ERANGE
 * after). Thread-safe. */
#define QT_WEB_SYMBOLS_MAX 64
qt_err qt_web_publish(qt_web *w, const char *symbol, const char *svg, size_t len, size_t points);

void qt_web_get_stats(qt_web *w, qt_web_stats *st);

/* Stops the service thread, closes every connection, frees everything.
 * w may be NULL. */
void qt_web_free(qt_web *w);

#endif
