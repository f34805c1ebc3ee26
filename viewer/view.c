/* quotetape — the viewer stage. See view.h. */
#include "viewer/view.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/log.h"
#include "core/qtime.h"
#include "core/topic.h"
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

static qt_err qt_view_draw(const qt_view_opts *o, const qt_wset *ws, qt_view_stats *st,
                           char *err, size_t errsz)
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
    if (o->fmt == QT_GP_TERM) {
        if (!c.width || !c.height)
            qt_view_term_size(&c.width, &c.height);
        fputs("\033[H\033[2J", stdout); /* home, clear: redraw in place */
        fflush(stdout);
    }
    rc = qt_gp_render(&c, o->fmt, o->out, err, errsz);
    if (!rc) {
        st->renders++;
        st->windows = qt_wset_count(ws);
    }
    qt_wset_chart_release(&store);
    return rc;
}

qt_err qt_view_run(const qt_view_opts *o, qt_view_stats *st, char *err, size_t errsz)
{
    qt_view_stats local;
    qt_topic_reader *r = NULL;
    qt_wset ws;
    int changed = 0, caught_up = 0;
    int64_t last_draw = 0;
    qt_err rc;

    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    qt_wset_init(&ws, o->last_n, o->symbol);
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
            }
            rd_kafka_message_destroy(m);
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
    if (ws.dropped_symbols)
        qt_warn("more than %d symbols in '%s': %" PRId64 " window(s) of further symbols not shown"
                " (use --symbol)",
                QT_WSET_SYMBOLS_MAX, o->topic, ws.dropped_symbols);
out:
    qt_topic_reader_free(r);
    qt_wset_release(&ws);
    return rc;
}
