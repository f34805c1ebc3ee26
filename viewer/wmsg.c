/* quotetape — window messages and the window set. See wmsg.h. */
#include "viewer/wmsg.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/qtime.h"

/* ======================================================================
 * Parsing
 * ====================================================================== */

qt_err qt_wmsg_parse_ts(const char *s, int64_t *ms)
{
    char tmp[64];
    size_t l = strlen(s);
    int64_t ns;
    int has_zone = 0;

    if (l < 19 || l + 2 > sizeof tmp)
        return QT_EINVAL;
    memcpy(tmp, s, l + 1);
    /* A zone is Z or +hh:mm/-hh:mm after the seconds. */
    if (tmp[l - 1] == 'Z' || tmp[l - 1] == 'z' ||
        (l >= 25 && (tmp[l - 6] == '+' || tmp[l - 6] == '-') && tmp[l - 3] == ':'))
        has_zone = 1;
    if (!has_zone) {
        tmp[l] = 'Z';
        tmp[l + 1] = '\0';
        l++;
    }
    if (qt_time_parse(tmp, l, &ns, NULL, 0))
        return QT_EINVAL;
    *ms = ns / QT_NS_PER_MS - (ns % QT_NS_PER_MS < 0);
    return QT_OK;
}

static const cJSON *qt_wmsg_field(const cJSON *o, const char *const *names)
{
    for (; *names; names++) {
        const cJSON *f = cJSON_GetObjectItem(o, *names); /* case-insensitive */
        if (f && !cJSON_IsNull(f))
            return f;
    }
    return NULL;
}

static int qt_wmsg_num(const cJSON *f, double *v)
{
    if (cJSON_IsNumber(f)) {
        *v = f->valuedouble;
        return isfinite(*v) ? 0 : -1;
    }
    if (cJSON_IsString(f)) { /* DECIMAL columns may arrive as strings */
        char *end;
        *v = strtod(f->valuestring, &end);
        return *end || end == f->valuestring || !isfinite(*v) ? -1 : 0;
    }
    return -1;
}

static int qt_wmsg_time(const cJSON *f, int64_t *ms)
{
    if (cJSON_IsNumber(f)) {
        double d = f->valuedouble;
        if (!isfinite(d) || d < -9e15 || d > 9e15)
            return -1;
        *ms = (int64_t)d;
        return 0;
    }
    if (cJSON_IsString(f))
        return qt_wmsg_parse_ts(f->valuestring, ms) ? -1 : 0;
    return -1;
}

qt_err qt_wmsg_parse(const void *buf, size_t len, qt_wmsg *m, char *err, size_t errsz)
{
    static const char *const k_sym[] = {"symbol", "S", NULL};
    static const char *const k_start[] = {"window_start", NULL};
    static const char *const k_end[] = {"window_end", NULL};
    static const char *const k_price[] = {"price", "avg_bid", "avg_bid_price", NULL};
    static const char *const k_count[] = {"count", "cnt", "quote_count", NULL};
    static const char *const k_o[] = {"bid_open", NULL}, *const k_h[] = {"bid_high", NULL},
                             *const k_l[] = {"bid_low", NULL}, *const k_c[] = {"bid_close", NULL};
    static const char *const k_ask[] = {"ask_avg", "avg_ask", "avg_ask_price", NULL};
    const unsigned char *p = buf;
    const cJSON *f;
    cJSON *j;
    double d;
    qt_err rc = QT_EINVAL;

    memset(m, 0, sizeof *m);
    if (!buf || len == 0)
        return qt_fail(QT_EINVAL, err, errsz, "empty window message");
    if (len > QT_WMSG_MAX)
        return qt_fail(QT_ETOOBIG, err, errsz, "window message of %zu bytes is over the %u cap",
                       len, QT_WMSG_MAX);
    /* Confluent schema-registry framing: magic 0, 4-byte schema id. */
    if (p[0] == 0x00) {
        if (len <= 5)
            return qt_fail(QT_EINVAL, err, errsz, "schema-registry header without a body");
        p += 5;
        len -= 5;
    }
    j = cJSON_ParseWithLength((const char *)p, len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return qt_fail(QT_EINVAL, err, errsz, "window message is not a JSON object");
    }
    f = qt_wmsg_field(j, k_sym);
    if (!cJSON_IsString(f) || !f->valuestring[0] || strlen(f->valuestring) >= QT_SYMBOL_MAX) {
        qt_fail(rc, err, errsz, "window message without a usable 'symbol'");
        goto out;
    }
    memcpy(m->symbol, f->valuestring, strlen(f->valuestring) + 1);
    if (!(f = qt_wmsg_field(j, k_start)) || qt_wmsg_time(f, &m->start_ms)) {
        qt_fail(rc, err, errsz, "window message without a readable 'window_start'");
        goto out;
    }
    if (!(f = qt_wmsg_field(j, k_end)) || qt_wmsg_time(f, &m->end_ms) ||
        m->end_ms <= m->start_ms) {
        qt_fail(rc, err, errsz, "window message without a readable 'window_end'");
        goto out;
    }
    if (!(f = qt_wmsg_field(j, k_price)) || qt_wmsg_num(f, &m->price)) {
        qt_fail(rc, err, errsz, "window message without a numeric 'price'");
        goto out;
    }
    if ((f = qt_wmsg_field(j, k_count)) && !qt_wmsg_num(f, &d) && d >= 0 && d < 9e15)
        m->count = (int64_t)d;
    if ((f = qt_wmsg_field(j, k_o)) && !qt_wmsg_num(f, &m->o) && (f = qt_wmsg_field(j, k_h)) &&
        !qt_wmsg_num(f, &m->h) && (f = qt_wmsg_field(j, k_l)) && !qt_wmsg_num(f, &m->l) &&
        (f = qt_wmsg_field(j, k_c)) && !qt_wmsg_num(f, &m->c))
        m->has_ohlc = 1;
    else
        m->o = m->h = m->l = m->c = 0;
    if ((f = qt_wmsg_field(j, k_ask)) && !qt_wmsg_num(f, &m->ask))
        m->has_ask = 1;
    rc = QT_OK;
out:
    cJSON_Delete(j);
    return rc;
}

/* ======================================================================
 * The window set
 * ====================================================================== */

void qt_wset_init(qt_wset *ws, size_t last_n, const char *only)
{
    memset(ws, 0, sizeof *ws);
    ws->last_n = last_n ? last_n : 1;
    if (only)
        snprintf(ws->only, sizeof ws->only, "%s", only);
}

void qt_wset_release(qt_wset *ws)
{
    for (size_t i = 0; i < ws->ns; i++)
        free(ws->s[i].v);
    ws->ns = 0;
}

size_t qt_wset_count(const qt_wset *ws)
{
    size_t n = 0;
    for (size_t i = 0; i < ws->ns; i++)
        n += ws->s[i].n;
    return n;
}

static int qt_wmsg_same(const qt_wmsg *a, const qt_wmsg *b)
{
    return a->end_ms == b->end_ms && a->price == b->price && a->count == b->count &&
           a->has_ohlc == b->has_ohlc && a->o == b->o && a->h == b->h && a->l == b->l &&
           a->c == b->c && a->has_ask == b->has_ask && a->ask == b->ask;
}

int qt_wset_add(qt_wset *ws, const qt_wmsg *m)
{
    qt_wseries *s = NULL;
    size_t lo, hi;

    if (ws->only[0] && strcmp(ws->only, m->symbol) != 0) {
        ws->ignored++;
        return 0;
    }
    for (size_t i = 0; i < ws->ns; i++)
        if (strcmp(ws->s[i].symbol, m->symbol) == 0) {
            s = &ws->s[i];
            break;
        }
    if (!s) {
        if (ws->ns == QT_WSET_SYMBOLS_MAX) {
            ws->dropped_symbols++;
            return 0;
        }
        s = &ws->s[ws->ns];
        memset(s, 0, sizeof *s);
        memcpy(s->symbol, m->symbol, sizeof s->symbol);
        ws->ns++;
    }
    /* binary search for start_ms */
    lo = 0;
    hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].start_ms < m->start_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->v[lo].start_ms == m->start_ms) {
        int changed = !qt_wmsg_same(&s->v[lo], m);
        s->v[lo] = *m;
        ws->replaced++;
        return changed;
    }
    if (s->n == ws->last_n) {
        if (lo == 0) { /* older than every window kept */
            ws->ignored++;
            return 0;
        }
        memmove(s->v, s->v + 1, (lo - 1) * sizeof *s->v);
        lo--;
        s->n--;
    } else {
        if (s->n == s->cap) { /* grows up to last_n */
            size_t cap = s->cap ? s->cap * 2 : 64;
            qt_wmsg *nv;
            if (cap > ws->last_n)
                cap = ws->last_n;
            nv = realloc(s->v, cap * sizeof *nv);
            if (!nv)
                return -1;
            s->v = nv;
            s->cap = cap;
        }
        memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof *s->v);
    }
    s->v[lo] = *m;
    s->n++;
    ws->added++;
    return 1;
}

static int qt_wseries_cmp(const void *a, const void *b)
{
    const qt_wseries *const *x = a, *const *y = b;
    return strcmp((*x)->symbol, (*y)->symbol);
}

qt_err qt_wset_chart_build(const qt_wset *ws, int with_detail, qt_wset_chart *store,
                           qt_gp_chart *c)
{
    const qt_wseries *order[QT_WSET_SYMBOLS_MAX];
    size_t total = qt_wset_count(ws), np = 0;
    int64_t *t;
    double *d;

    memset(store, 0, sizeof *store);
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < ws->ns; i++)
        if (ws->s[i].n)
            order[np++] = &ws->s[i];
    if (!np)
        return QT_ERANGE;
    qsort(order, np, sizeof order[0], qt_wseries_cmp);
    /* one block: t[total], then 6 doubles per window */
    store->mem = malloc(total * (sizeof *t + 6 * sizeof *d));
    if (!store->mem)
        return QT_ENOMEM;
    t = store->mem;
    d = (double *)(t + total);
    for (size_t i = 0; i < np; i++) {
        const qt_wseries *s = order[i];
        qt_gp_panel *p = &store->panels[i];
        int ohlc = with_detail, ask = with_detail;
        double *price = d, *o = d + total, *h = d + 2 * total, *l = d + 3 * total,
               *cl = d + 4 * total, *a = d + 5 * total;
        for (size_t k = 0; k < s->n; k++) {
            ohlc &= s->v[k].has_ohlc;
            ask &= s->v[k].has_ask;
            t[k] = s->v[k].start_ms;
            price[k] = s->v[k].price;
            o[k] = s->v[k].o;
            h[k] = s->v[k].h;
            l[k] = s->v[k].l;
            cl[k] = s->v[k].c;
            a[k] = s->v[k].ask;
        }
        p->title = s->symbol;
        p->n = s->n;
        p->t_ms = t;
        p->price = price;
        if (ohlc) {
            p->o = o;
            p->h = h;
            p->l = l;
            p->c = cl;
        }
        if (ask)
            p->ask = a;
        t += s->n;
        d += s->n;
    }
    c->panels = store->panels;
    c->npanels = np;
    return QT_OK;
}

void qt_wset_chart_release(qt_wset_chart *store)
{
    free(store->mem);
    store->mem = NULL;
}
