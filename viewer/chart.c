/* quotetape — report charts straight from a tape. See chart.h. */
#include "viewer/chart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/position.h"
#include "core/qtime.h"
#include "core/tape.h"
#include "viewer/wmsg.h"

/* Windows of one symbol, sorted by start. */
typedef struct qt_cagg {
    int64_t start, count;
    double bsum, asum, o, h, l, c;
} qt_cagg;

typedef struct qt_csym {
    char symbol[QT_SYMBOL_MAX];
    qt_cagg *v;
    size_t n, cap;
} qt_csym;

/* Most windows per symbol: a year of 1-second windows is far below. */
#define QT_CHART_WINDOWS_MAX (50u * 1000u * 1000u)

static qt_cagg *qt_chart_slot(qt_csym *s, int64_t start, int *err)
{
    size_t lo = 0, hi = s->n;
    /* tape order is nearly time order: the last window is the usual hit */
    if (s->n && s->v[s->n - 1].start == start)
        return &s->v[s->n - 1];
    if (s->n && s->v[s->n - 1].start < start)
        lo = s->n;
    else
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s->v[mid].start < start)
                lo = mid + 1;
            else
                hi = mid;
        }
    if (lo < s->n && s->v[lo].start == start)
        return &s->v[lo];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        qt_cagg *nv;
        if (cap > QT_CHART_WINDOWS_MAX) {
            *err = QT_ETOOBIG;
            return NULL;
        }
        nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) {
            *err = QT_ENOMEM;
            return NULL;
        }
        s->v = nv;
        s->cap = cap;
    }
    memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof *s->v);
    memset(&s->v[lo], 0, sizeof s->v[lo]);
    s->v[lo].start = start;
    s->n++;
    return &s->v[lo];
}

static qt_err qt_chart_resolve(qt_tape *t, const qt_tape_sel *sel, const char *text, int is_to,
                               int64_t *seq, char *err, size_t errsz)
{
    qt_pos p;
    char e2[256];
    qt_err rc;
    if (!text)
        return QT_OK;
    if ((rc = qt_pos_parse(text, &p, e2, sizeof e2)))
        return qt_fail(QT_EUSAGE, err, errsz, "%s %s", is_to ? "--to:" : "--from:", e2);
    return qt_tape_resolve(t, sel, &p, seq, err, errsz);
}

qt_err qt_chart_tape(const qt_chart_opts *o, qt_chart_stats *st, char *err, size_t errsz)
{
    qt_chart_stats local;
    qt_tape *t = NULL;
    qt_tape_iter *it = NULL;
    qt_tape_sel sel;
    qt_tape_row row;
    qt_csym syms[QT_WSET_SYMBOLS_MAX];
    size_t ns = 0;
    int64_t dropped = 0;
    qt_wset ws;
    qt_wset_chart store;
    qt_gp_chart c;
    char label[64], title[512], dur[32];
    int r, aerr = 0;
    qt_err rc;

    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    memset(syms, 0, sizeof syms);
    memset(&store, 0, sizeof store);
    qt_wset_init(&ws, QT_CHART_WINDOWS_MAX, NULL);
    memset(&sel, 0, sizeof sel);
    sel.symbols = o->symbols;
    sel.nsymbols = o->nsymbols;
    sel.prices_only = 1; /* a chart needs prices, not whole messages */
    if ((rc = qt_tape_open(o->db, QT_TAPE_READ, &t, err, errsz)))
        goto out;
    if ((rc = qt_chart_resolve(t, &sel, o->from, 0, &sel.from_seq, err, errsz)) ||
        (rc = qt_chart_resolve(t, &sel, o->to, 1, &sel.to_seq, err, errsz)))
        goto out;
    if (o->to && sel.to_seq <= sel.from_seq) {
        rc = qt_fail(QT_ERANGE, err, errsz, "--to is not after --from: nothing to chart");
        goto out;
    }
    if ((rc = qt_tape_iter_open(t, &sel, &it, err, errsz)))
        goto out;
    while ((r = qt_tape_iter_next(it, &row, err, errsz)) > 0) {
        qt_csym *s = NULL;
        qt_cagg *a;
        int64_t ms = row.q.t_ns / QT_NS_PER_MS - (row.q.t_ns % QT_NS_PER_MS < 0);
        int64_t start = ms - ((ms % o->size_ms) + o->size_ms) % o->size_ms;
        st->quotes++;
        for (size_t i = 0; i < ns; i++)
            if (strcmp(syms[i].symbol, row.q.symbol) == 0) {
                s = &syms[i];
                break;
            }
        if (!s) {
            if (ns == QT_WSET_SYMBOLS_MAX) {
                dropped++;
                continue;
            }
            s = &syms[ns++];
            snprintf(s->symbol, sizeof s->symbol, "%s", row.q.symbol);
        }
        if (!(a = qt_chart_slot(s, start, &aerr))) {
            rc = qt_fail((qt_err)aerr, err, errsz, "too many windows for '%s'", s->symbol);
            goto out;
        }
        if (a->count == 0)
            a->o = a->h = a->l = row.q.bid_px;
        a->count++;
        a->bsum += row.q.bid_px;
        a->asum += row.q.ask_px;
        if (row.q.bid_px > a->h)
            a->h = row.q.bid_px;
        if (row.q.bid_px < a->l)
            a->l = row.q.bid_px;
        a->c = row.q.bid_px;
    }
    if (r < 0) {
        rc = QT_ETAPE;
        goto out;
    }
    if (st->quotes == 0) {
        rc = qt_fail(QT_ERANGE, err, errsz, "no quotes in '%s' for that selection", o->db);
        goto out;
    }
    if (dropped)
        fprintf(stderr, "quotetape: warning: more than %d symbols: %lld quote(s) of further "
                        "symbols not charted (use --symbol)\n",
                QT_WSET_SYMBOLS_MAX, (long long)dropped);
    for (size_t i = 0; i < ns; i++)
        for (size_t k = 0; k < syms[i].n; k++) {
            const qt_cagg *a = &syms[i].v[k];
            qt_wmsg m;
            memset(&m, 0, sizeof m);
            memcpy(m.symbol, syms[i].symbol, sizeof m.symbol);
            m.start_ms = a->start;
            m.end_ms = a->start + o->size_ms;
            m.count = a->count;
            m.price = a->bsum / (double)a->count;
            m.ask = a->asum / (double)a->count;
            m.o = a->o;
            m.h = a->h;
            m.l = a->l;
            m.c = a->c;
            m.has_ohlc = m.has_ask = 1;
            if (qt_wset_add(&ws, &m) < 0) {
                rc = qt_fail(QT_ENOMEM, err, errsz, "out of memory");
                goto out;
            }
        }
    if ((rc = qt_wset_chart_build(&ws, 1, &store, &c))) {
        qt_fail(rc, err, errsz, "cannot build the chart: %s", qt_strerror(rc));
        goto out;
    }
    qt_dur_format(o->size_ms * QT_NS_PER_MS, dur, sizeof dur);
    snprintf(label, sizeof label, "average bid per %s window", dur);
    snprintf(title, sizeof title, "%s: %lld quotes in %s windows", o->db, (long long)st->quotes,
             dur);
    c.title = title;
    c.line_label = label;
    c.candle_ms = o->size_ms;
    c.width = o->width;
    c.height = o->height;
    st->windows = qt_wset_count(&ws);
    st->symbols = c.npanels;
    rc = qt_gp_render(&c, o->fmt, o->out, err, errsz);
out:
    qt_wset_chart_release(&store);
    qt_wset_release(&ws);
    for (size_t i = 0; i < ns; i++)
        free(syms[i].v);
    qt_tape_iter_free(it);
    qt_tape_free(t);
    return rc;
}
