/* quotetape — the viewer stage. See view.h. */
#include "viewer/view.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/log.h"
#include "core/qtime.h"
#include "core/topic.h"
#include "viewer/web.h"
#include "viewer/wmsg.h"

#define QT_VIEW_POLL_MS 100
/* In follow mode a burst of windows is drawn once, at most this often. */
#define QT_VIEW_MIN_REDRAW_MS 200

static void qt_view_term_size(int *w, int *h)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 && ws.ws_row > 8) {
        *w = ws.ws_col;
        *h = ws.ws_row - 1;
    }
}

/* Draws the set (or, with only, just that symbol's panel: the chart that
 * `--symbol ONLY` would draw) in format fmt to out. *points gets the number
 * of windows drawn (may be NULL). */
static qt_err qt_view_draw_as(const qt_view_opts *o, const qt_wset *ws, const char *only,
                              qt_gp_format fmt, const char *out, qt_view_stats *st,
                              size_t *points, char *err, size_t errsz)
{
    qt_wset_chart store;
    qt_gp_chart c;
    char label[64], title[256];
    qt_err rc = qt_wset_chart_build(ws, 0, &store, &c);

    if (rc == QT_ERANGE)
        return qt_fail(rc, err, errsz, "no windows in '%s' from that position%s%s", o->topic,
                       o->symbol ? " for symbol " : "", o->symbol ? o->symbol : "");
    if (rc)
        return qt_fail(rc, err, errsz, "out of memory");
    if (only) {
        size_t k = 0;
        while (k < c.npanels && strcmp(c.panels[k].title, only) != 0)
            k++;
        if (k == c.npanels) {
            qt_wset_chart_release(&store);
            return qt_fail(QT_ERANGE, err, errsz, "no windows of '%s'", only);
        }
        c.panels = &c.panels[k];
        c.npanels = 1;
    }
    {
        /* window size from the data, for the key */
        const qt_gp_panel *p = &c.panels[0];
        const qt_wseries *s0 = NULL;
        for (size_t i = 0; i < ws->ns; i++)
            if (strcmp(ws->s[i].symbol, p->title) == 0)
                s0 = &ws->s[i];
        char dur[32] = "";
        if (s0 && s0->n)
            qt_dur_format((s0->v[0].end_ms - s0->v[0].start_ms) * QT_NS_PER_MS, dur, sizeof dur);
        snprintf(label, sizeof label, "average bid per %s window", dur[0] ? dur : "");
    }
    snprintf(title, sizeof title, "%s: last %zu window(s) per symbol", o->topic, o->last_n);
    c.line_label = label;
    c.title = c.npanels > 1 ? title : NULL;
    c.width = o->width;
    c.height = o->height;
    if (fmt == QT_GP_TERM) {
        if (!c.width || !c.height)
            qt_view_term_size(&c.width, &c.height);
        fputs("\033[H\033[2J", stdout); /* home, clear: redraw in place */
        fflush(stdout);
    }
    rc = qt_gp_render(&c, fmt, out, err, errsz);
    if (!rc) {
        st->renders++;
        st->windows = qt_wset_count(ws);
        if (points) {
            *points = 0;
            for (size_t i = 0; i < c.npanels; i++)
                *points += c.panels[i].n;
        }
    }
    qt_wset_chart_release(&store);
    return rc;
}

static qt_err qt_view_draw(const qt_view_opts *o, const qt_wset *ws, qt_view_stats *st,
                           char *err, size_t errsz)
{
    return qt_view_draw_as(o, ws, NULL, o->fmt, o->out, st, NULL, err, errsz);
}

/* ======================================================================
 * The live web page (--serve)
 * ====================================================================== */

/* A symbol's chart is rendered at most this often (4 per second): a burst
 * of windows costs a few gnuplot runs, not one per window. */
#define QT_VIEW_WEB_MIN_RENDER_MS 250

typedef struct qt_view_web {
    qt_web *web;
    char dir[PATH_MAX - 16]; /* private temporary directory for gnuplot's output */
    char path[PATH_MAX]; /* dir/chart.svg */
    struct {
        char symbol[QT_SYMBOL_MAX];
        int dirty;
        int64_t last_ns; /* monotonic time of the last render, 0 = never */
    } sym[QT_WSET_SYMBOLS_MAX];
    size_t nsym;
} qt_view_web;

static qt_err qt_view_web_start(const qt_view_opts *o, qt_view_web *v, char *err, size_t errsz)
{
    const char *tmp = getenv("TMPDIR");
    qt_web_cfg cfg;
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (snprintf(v->dir, sizeof v->dir, "%s/quotetape-view.XXXXXX", tmp) >= (int)sizeof v->dir ||
        !mkdtemp(v->dir)) {
        v->dir[0] = '\0';
        return qt_fail(QT_EIO, err, errsz, "cannot create a temporary directory in '%s': %s", tmp,
                       strerror(errno));
    }
    snprintf(v->path, sizeof v->path, "%s/chart.svg", v->dir);
    memset(&cfg, 0, sizeof cfg);
    cfg.bind = o->serve;
    cfg.allow_remote = o->serve_any_address;
    cfg.topic = o->topic;
    cfg.last_n = o->last_n;
    cfg.default_symbol = o->symbol;
    return qt_web_start(&cfg, &v->web, err, errsz);
}

static void qt_view_web_dirty(qt_view_web *v, const char *symbol)
{
    for (size_t i = 0; i < v->nsym; i++)
        if (strcmp(v->sym[i].symbol, symbol) == 0) {
            v->sym[i].dirty = 1;
            return;
        }
    if (v->nsym < QT_WSET_SYMBOLS_MAX) {
        snprintf(v->sym[v->nsym].symbol, QT_SYMBOL_MAX, "%s", symbol);
        v->sym[v->nsym].dirty = 1;
        v->sym[v->nsym].last_ns = 0;
        v->nsym++;
    }
}

/* Reads the SVG gnuplot wrote into a new buffer (*out, *len). */
static qt_err qt_view_web_slurp(const char *path, char **out, size_t *len, char *err, size_t errsz)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return qt_fail(QT_EIO, err, errsz, "cannot read '%s': %s", path, strerror(errno));
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64u * 1024u;
            if (cap > QT_WEB_SVG_MAX + 1) {
                free(b);
                fclose(f);
                return qt_fail(QT_ERANGE, err, errsz, "chart '%s' is larger than %u bytes",
                               path, (unsigned)QT_WEB_SVG_MAX);
            }
            char *p = realloc(b, cap);
            if (!p) {
                free(b);
                fclose(f);
                return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
            }
            b = p;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *out = b;
    *len = n;
    return QT_OK;
}

/* Renders, with the same code as --svg, the chart of every changed symbol
 * whose last render is at least QT_VIEW_WEB_MIN_RENDER_MS old, and hands it
 * to the web server. A gnuplot failure ends the viewer (as with --follow). */
static qt_err qt_view_web_render(const qt_view_opts *o, const qt_wset *ws, qt_view_web *v,
                                 qt_view_stats *st, char *err, size_t errsz)
{
    int64_t now = qt_mono_ns();
    for (size_t i = 0; i < v->nsym; i++) {
        char *svg = NULL;
        size_t len = 0, points = 0;
        qt_err rc;
        if (!v->sym[i].dirty || (v->sym[i].last_ns &&
                                 now - v->sym[i].last_ns < QT_VIEW_WEB_MIN_RENDER_MS * QT_NS_PER_MS))
            continue;
        rc = qt_view_draw_as(o, ws, v->sym[i].symbol, QT_GP_SVG, v->path, st, &points, err,
                             errsz);
        if (rc == QT_ERANGE) { /* a symbol the set does not keep */
            v->sym[i].dirty = 0;
            continue;
        }
        if (rc || (rc = qt_view_web_slurp(v->path, &svg, &len, err, errsz)))
            return rc;
        rc = qt_web_publish(v->web, v->sym[i].symbol, svg, len, points);
        free(svg);
        if (rc)
            qt_warn("view: cannot show '%s' on the page: %s", v->sym[i].symbol, qt_strerror(rc));
        qt_debug("view: %s: %zu window(s) rendered for the page", v->sym[i].symbol, points);
        v->sym[i].dirty = 0;
        v->sym[i].last_ns = qt_mono_ns();
    }
    return QT_OK;
}

static void qt_view_web_end(qt_view_web *v, const qt_view_stats *st)
{
    qt_web_stats ws;
    qt_web_get_stats(v->web, &ws);
    qt_info("view: %" PRId64 " chart(s) rendered; %llu browser connection(s) in all, %llu chart(s)"
            " pushed, %llu HTTP request(s)",
            st->renders, (unsigned long long)ws.clients_total, (unsigned long long)ws.charts_sent,
            (unsigned long long)ws.http_requests);
}

static void qt_view_web_release(qt_view_web *v)
{
    qt_web_free(v->web);
    v->web = NULL;
    if (v->dir[0]) {
        unlink(v->path);
        rmdir(v->dir);
        v->dir[0] = '\0';
    }
}

qt_err qt_view_run(const qt_view_opts *o, qt_view_stats *st, char *err, size_t errsz)
{
    qt_view_stats local;
    qt_topic_reader *r = NULL;
    qt_wset ws;
    qt_view_web web;
    int changed = 0, caught_up = 0;
    int64_t last_draw = 0;
    qt_err rc;

    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    qt_wset_init(&ws, o->last_n, o->symbol);
    memset(&web, 0, sizeof web);
    if (o->serve && (rc = qt_view_web_start(o, &web, err, errsz)))
        goto out;
    if ((rc = qt_topic_reader_open(o->kopts, o->topic, o->from, NULL, 0, &r, err, errsz)))
        goto out;
    for (;;) {
        rd_kafka_message_t *m = NULL;
        int got;
        if (o->stop && *o->stop) {
            rc = QT_EINTR;
            break;
        }
        if (!caught_up && qt_topic_reader_at_end(r)) {
            caught_up = 1;
            if (web.web) {
                qt_info("view: read '%s' to its end: %zu window(s) of %zu symbol(s)", o->topic,
                        qt_wset_count(&ws), ws.ns);
                if ((rc = qt_view_web_render(o, &ws, &web, st, err, errsz)))
                    break;
                continue;
            }
            if ((rc = qt_view_draw(o, &ws, st, err, errsz)) && !(rc == QT_ERANGE && o->follow))
                break;
            rc = QT_OK;
            changed = 0;
            last_draw = qt_mono_ns();
            if (!o->follow)
                break;
        }
        got = qt_topic_reader_next(r, caught_up ? QT_VIEW_POLL_MS : 1000, &m, err, errsz);
        if (got < 0) {
            rc = QT_EKAFKA;
            break;
        }
        if (got > 0) {
            qt_wmsg w;
            char e2[256];
            st->messages++;
            if (qt_wmsg_parse(m->payload, m->len, &w, e2, sizeof e2)) {
                if (st->bad++ == 0)
                    qt_warn("skipping a message in '%s' (partition %d, offset %" PRId64
                            "): %s; further ones are counted",
                            o->topic, (int)m->partition, (int64_t)m->offset, e2);
            } else {
                int a = qt_wset_add(&ws, &w);
                if (a < 0) {
                    rd_kafka_message_destroy(m);
                    rc = qt_fail(QT_ENOMEM, err, errsz, "out of memory");
                    break;
                }
                changed |= a;
                if (a > 0 && web.web)
                    qt_view_web_dirty(&web, w.symbol);
            }
            rd_kafka_message_destroy(m);
        }
        if (web.web) {
            /* each changed symbol's chart, at most every QT_VIEW_WEB_MIN_RENDER_MS */
            if (caught_up && (rc = qt_view_web_render(o, &ws, &web, st, err, errsz)))
                break;
            continue;
        }
        /* Follow: draw a burst of new windows once the burst is over (or
         * every QT_VIEW_MIN_REDRAW_MS while it lasts). */
        if (caught_up && changed &&
            (got == 0 || qt_mono_ns() - last_draw >= QT_VIEW_MIN_REDRAW_MS * QT_NS_PER_MS)) {
            if ((rc = qt_view_draw(o, &ws, st, err, errsz)))
                break;
            changed = 0;
            last_draw = qt_mono_ns();
        }
    }
    if (web.web)
        qt_view_web_end(&web, st);
    if (ws.dropped_symbols)
        qt_warn("more than %d symbols in '%s': %" PRId64 " window(s) of further symbols not shown"
                " (use --symbol)",
                QT_WSET_SYMBOLS_MAX, o->topic, ws.dropped_symbols);
out:
    qt_view_web_release(&web);
    qt_topic_reader_free(r);
    qt_wset_release(&ws);
    return rc;
}
