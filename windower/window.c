/* quotetape — tumbling windows with Flink semantics (the pure core).
 * See window.h for the exact semantics. */
#include "windower/window.h"

#include <stdlib.h>
#include <string.h>

/* ---- state ------------------------------------------------------------- */

typedef struct qt_wopen {
    int64_t start;
    int64_t count;
    double bid_sum, ask_sum;
    double open, high, low, close;
    uint64_t tag;
} qt_wopen;

typedef struct qt_wsym {
    char name[QT_SYMBOL_MAX];
    qt_wopen *wins; /* open windows of this symbol, unordered */
    size_t n, cap;
} qt_wsym;

/* One window about to fire, for sorting. */
typedef struct qt_wfire {
    const qt_wsym *sym;
    qt_wopen win;
} qt_wfire;

struct qt_window {
    int64_t size, lateness;
    int64_t wm;       /* watermark, QT_WINDOW_NO_WM before the first record */
    int64_t min_end;  /* smallest end among open windows; INT64_MAX if none */
    size_t nopen;
    qt_wsym *syms;
    size_t nsyms, syms_cap;
    uint32_t *index;  /* open-addressing hash of symbol -> syms[i] + 1 */
    size_t index_cap; /* power of two */
    qt_wfire *fire;   /* scratch for firing */
    size_t fire_cap;
    int64_t *pmax;    /* highest event time per source partition (tag >> 48) */
    size_t npmax;
    qt_window_emit_cb cb;
    void *ud;
    qt_window_stats st;
};

int64_t qt_window_start_of(int64_t ts_ms, int64_t size_ms)
{
    int64_t r = ts_ms % size_ms;
    if (r < 0)
        r += size_ms;
    return ts_ms - r;
}

qt_err qt_window_new(int64_t size_ms, int64_t lateness_ms, qt_window_emit_cb cb, void *ud,
                     qt_window **out, char *err, size_t errsz)
{
    qt_window *w;
    if (size_ms <= 0)
        return qt_fail(QT_EINVAL, err, errsz, "window size must be at least 1 ms");
    if (lateness_ms < 0)
        return qt_fail(QT_EINVAL, err, errsz, "lateness must not be negative");
    w = calloc(1, sizeof *w);
    if (!w)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    w->size = size_ms;
    w->lateness = lateness_ms;
    w->wm = QT_WINDOW_NO_WM;
    w->min_end = INT64_MAX;
    w->cb = cb;
    w->ud = ud;
    *out = w;
    return QT_OK;
}

void qt_window_free(qt_window *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nsyms; i++)
        free(w->syms[i].wins);
    free(w->syms);
    free(w->index);
    free(w->fire);
    free(w->pmax);
    free(w);
}

int64_t qt_window_watermark(const qt_window *w)
{
    return w->wm;
}

size_t qt_window_open_count(const qt_window *w)
{
    return w->nopen;
}

const qt_window_stats *qt_window_get_stats(const qt_window *w)
{
    return &w->st;
}

/* ---- symbol table ------------------------------------------------------ */

static uint32_t qt_wsym_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static qt_err qt_wsym_rehash(qt_window *w, size_t cap)
{
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return QT_ENOMEM;
    for (size_t i = 0; i < w->nsyms; i++) {
        size_t j = qt_wsym_hash(w->syms[i].name) & (cap - 1);
        while (idx[j])
            j = (j + 1) & (cap - 1);
        idx[j] = (uint32_t)(i + 1);
    }
    free(w->index);
    w->index = idx;
    w->index_cap = cap;
    return QT_OK;
}

/* Finds or adds symbol; NULL with *rc set on failure. */
static qt_wsym *qt_wsym_get(qt_window *w, const char *symbol, qt_err *rc)
{
    size_t len = strlen(symbol), j;
    if (len == 0 || len >= QT_SYMBOL_MAX) {
        *rc = QT_EINVAL;
        return NULL;
    }
    if (w->index_cap) {
        j = qt_wsym_hash(symbol) & (w->index_cap - 1);
        while (w->index[j]) {
            qt_wsym *s = &w->syms[w->index[j] - 1];
            if (strcmp(s->name, symbol) == 0)
                return s;
            j = (j + 1) & (w->index_cap - 1);
        }
    }
    if (w->nsyms >= QT_WINDOW_SYMBOLS_MAX) {
        *rc = QT_ETOOBIG;
        return NULL;
    }
    if (w->nsyms == w->syms_cap) {
        size_t cap = w->syms_cap ? w->syms_cap * 2 : 16;
        qt_wsym *ns = realloc(w->syms, cap * sizeof *ns);
        if (!ns) {
            *rc = QT_ENOMEM;
            return NULL;
        }
        w->syms = ns;
        w->syms_cap = cap;
    }
    /* Keep the hash at most half full. */
    if ((w->nsyms + 1) * 2 > w->index_cap) {
        size_t cap = w->index_cap ? w->index_cap * 2 : 32;
        if (qt_wsym_rehash(w, cap)) {
            *rc = QT_ENOMEM;
            return NULL;
        }
    }
    qt_wsym *s = &w->syms[w->nsyms];
    memset(s, 0, sizeof *s);
    memcpy(s->name, symbol, len + 1);
    j = qt_wsym_hash(symbol) & (w->index_cap - 1);
    while (w->index[j])
        j = (j + 1) & (w->index_cap - 1);
    w->index[j] = (uint32_t)(++w->nsyms);
    return s;
}

/* ---- firing ------------------------------------------------------------ */

static int qt_wfire_cmp(const void *a, const void *b)
{
    const qt_wfire *x = a, *y = b;
    if (x->win.start != y->win.start)
        return x->win.start < y->win.start ? -1 : 1;
    return strcmp(x->sym->name, y->sym->name);
}

/* Emits, in order, every open window whose last instant (end - 1) is <= limit,
 * removes them, and recomputes min_end. */
static qt_err qt_window_fire(qt_window *w, int64_t limit)
{
    size_t nf = 0;
    int stop = 0;

    if (w->min_end == INT64_MAX || w->min_end - 1 > limit)
        return QT_OK;
    if (w->fire_cap < w->nopen) {
        qt_wfire *nf2 = realloc(w->fire, w->nopen * sizeof *nf2);
        if (!nf2)
            return QT_ENOMEM;
        w->fire = nf2;
        w->fire_cap = w->nopen;
    }
    w->min_end = INT64_MAX;
    for (size_t i = 0; i < w->nsyms; i++) {
        qt_wsym *s = &w->syms[i];
        size_t k = 0;
        for (size_t j = 0; j < s->n; j++) {
            int64_t end = s->wins[j].start + w->size;
            if (end - 1 <= limit) {
                w->fire[nf].sym = s;
                w->fire[nf].win = s->wins[j];
                nf++;
            } else {
                if (end < w->min_end)
                    w->min_end = end;
                s->wins[k++] = s->wins[j];
            }
        }
        s->n = k;
    }
    w->nopen -= nf;
    qsort(w->fire, nf, sizeof *w->fire, qt_wfire_cmp);
    for (size_t i = 0; i < nf; i++) {
        const qt_wopen *o = &w->fire[i].win;
        qt_window_row r;
        r.symbol = w->fire[i].sym->name;
        r.start_ms = o->start;
        r.end_ms = o->start + w->size;
        r.count = o->count;
        r.price = o->bid_sum / (double)o->count;
        r.bid_open = o->open;
        r.bid_high = o->high;
        r.bid_low = o->low;
        r.bid_close = o->close;
        r.ask_avg = o->ask_sum / (double)o->count;
        w->st.emitted++;
        if (w->cb && w->cb(&r, w->ud))
            stop = 1;
    }
    return stop ? QT_EINTR : QT_OK;
}

qt_err qt_window_advance(qt_window *w, int64_t wm)
{
    if (wm > w->wm || w->wm == QT_WINDOW_NO_WM)
        w->wm = wm;
    return qt_window_fire(w, w->wm);
}

qt_err qt_window_flush(qt_window *w)
{
    int64_t newest = QT_WINDOW_NO_WM;
    for (size_t i = 0; i < w->nsyms; i++)
        for (size_t j = 0; j < w->syms[i].n; j++)
            if (w->syms[i].wins[j].start > newest)
                newest = w->syms[i].wins[j].start;
    if (newest == QT_WINDOW_NO_WM)
        return QT_OK;
    return qt_window_advance(w, newest + w->size - 1);
}

/* ---- feeding ----------------------------------------------------------- */

qt_err qt_window_feed(qt_window *w, const char *symbol, int64_t ts_ms, double bid, double ask,
                      uint64_t tag, int *late)
{
    int64_t start = qt_window_start_of(ts_ms, w->size);
    qt_err rc = QT_OK;
    qt_wsym *s;
    qt_wopen *o = NULL;

    if (late)
        *late = 0;
    /* Late: the window's last instant is at or behind the watermark. */
    if (w->wm != QT_WINDOW_NO_WM && start + w->size - 1 <= w->wm) {
        w->st.late++;
        if (late)
            *late = 1;
        return QT_OK;
    }
    s = qt_wsym_get(w, symbol, &rc);
    if (!s) {
        w->st.refused++;
        return rc;
    }
    for (size_t j = 0; j < s->n; j++)
        if (s->wins[j].start == start) {
            o = &s->wins[j];
            break;
        }
    if (!o) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 2;
            qt_wopen *nw;
            if (s->cap >= QT_WINDOW_OPEN_MAX) {
                w->st.refused++;
                return QT_ETOOBIG;
            }
            nw = realloc(s->wins, cap * sizeof *nw);
            if (!nw) {
                w->st.refused++;
                return QT_ENOMEM;
            }
            s->wins = nw;
            s->cap = cap;
        }
        o = &s->wins[s->n++];
        memset(o, 0, sizeof *o);
        o->start = start;
        o->open = o->high = o->low = bid;
        o->tag = tag;
        w->nopen++;
        if (start + w->size < w->min_end)
            w->min_end = start + w->size;
    }
    o->count++;
    o->bid_sum += bid;
    o->ask_sum += ask;
    if (bid > o->high)
        o->high = bid;
    if (bid < o->low)
        o->low = bid;
    o->close = bid;
    w->st.records++;

    /* The watermark follows the highest event time, minus the lateness; with
     * several source partitions, the lowest of their highest event times
     * (as Flink's Kafka source does), over the partitions seen so far. */
    {
        size_t key = (size_t)(tag >> 48);
        int64_t low;
        if (key >= QT_WINDOW_PARTS_MAX)
            key = QT_WINDOW_PARTS_MAX - 1;
        if (key >= w->npmax) {
            int64_t *np = realloc(w->pmax, (key + 1) * sizeof *np);
            if (!np)
                return QT_ENOMEM;
            for (size_t i = w->npmax; i <= key; i++)
                np[i] = INT64_MIN;
            w->pmax = np;
            w->npmax = key + 1;
        }
        if (ts_ms > w->pmax[key])
            w->pmax[key] = ts_ms;
        low = INT64_MAX;
        for (size_t i = 0; i < w->npmax; i++)
            if (w->pmax[i] != INT64_MIN && w->pmax[i] < low)
                low = w->pmax[i];
        if (low - w->lateness > w->wm || w->wm == QT_WINDOW_NO_WM)
            w->wm = low - w->lateness;
    }
    return qt_window_fire(w, w->wm);
}

int qt_window_min_tag(const qt_window *w, uint64_t key, uint64_t *tag)
{
    int found = 0;
    for (size_t i = 0; i < w->nsyms; i++)
        for (size_t j = 0; j < w->syms[i].n; j++) {
            uint64_t t = w->syms[i].wins[j].tag;
            if ((t >> 48) == key && (!found || t < *tag)) {
                *tag = t;
                found = 1;
            }
        }
    return found;
}
