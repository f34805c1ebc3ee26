/* Tests for windower/window.c: table-driven edge cases, then randomized
 * inputs checked against a plain reference implementation written here the
 * obvious way (keep every accepted record; after each record, fire every
 * unfired window whose last instant is at or behind the watermark,
 * recomputing its aggregates from scratch). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/qt_test.h"
#include "windower/window.h"

/* ---- collecting output -------------------------------------------------- */

typedef struct row {
    char sym[QT_SYMBOL_MAX];
    int64_t start, end, count;
    double price, o, h, l, c, ask;
} row;

typedef struct rows {
    row v[20000];
    size_t n;
} rows;

static int collect(const qt_window_row *w, void *ud)
{
    rows *r = ud;
    row *x = &r->v[r->n++];
    snprintf(x->sym, sizeof x->sym, "%s", w->symbol);
    x->start = w->start_ms;
    x->end = w->end_ms;
    x->count = w->count;
    x->price = w->price;
    x->o = w->bid_open;
    x->h = w->bid_high;
    x->l = w->bid_low;
    x->c = w->bid_close;
    x->ask = w->ask_avg;
    return 0;
}

/* ---- the reference ------------------------------------------------------ */

typedef struct rec {
    const char *sym;
    int64_t ts;
    double bid, ask;
} rec;

typedef struct ref_state {
    int64_t size, lateness, wm;
    int have_wm;
    rec acc[5000];
    size_t nacc;
    struct {
        const char *sym;
        int64_t start;
    } fired[5000];
    size_t nfired;
    int64_t late;
} ref_state;

static int64_t floor_div_start(int64_t ts, int64_t size)
{
    int64_t s = (ts / size) * size;
    if (s > ts)
        s -= size;
    return s;
}

static int ref_is_fired(const ref_state *r, const char *sym, int64_t start)
{
    for (size_t i = 0; i < r->nfired; i++)
        if (r->fired[i].start == start && strcmp(r->fired[i].sym, sym) == 0)
            return 1;
    return 0;
}

/* Fires every unfired (symbol, start) among accepted records whose window's
 * last instant is <= limit, ordered by start then symbol. */
static void ref_fire(ref_state *r, int64_t limit, rows *out)
{
    for (;;) {
        /* Find the smallest (start, symbol) that is ready and unfired. */
        const char *bsym = NULL;
        int64_t bstart = 0;
        for (size_t i = 0; i < r->nacc; i++) {
            int64_t st = floor_div_start(r->acc[i].ts, r->size);
            if (st + r->size - 1 > limit || ref_is_fired(r, r->acc[i].sym, st))
                continue;
            if (!bsym || st < bstart || (st == bstart && strcmp(r->acc[i].sym, bsym) < 0)) {
                bsym = r->acc[i].sym;
                bstart = st;
            }
        }
        if (!bsym)
            return;
        row *x = &out->v[out->n++];
        memset(x, 0, sizeof *x);
        snprintf(x->sym, sizeof x->sym, "%s", bsym);
        x->start = bstart;
        x->end = bstart + r->size;
        double bsum = 0, asum = 0;
        for (size_t i = 0; i < r->nacc; i++) {
            if (strcmp(r->acc[i].sym, bsym) || floor_div_start(r->acc[i].ts, r->size) != bstart)
                continue;
            if (x->count == 0)
                x->o = x->h = x->l = r->acc[i].bid;
            x->count++;
            bsum += r->acc[i].bid;
            asum += r->acc[i].ask;
            if (r->acc[i].bid > x->h)
                x->h = r->acc[i].bid;
            if (r->acc[i].bid < x->l)
                x->l = r->acc[i].bid;
            x->c = r->acc[i].bid;
        }
        x->price = bsum / (double)x->count;
        x->ask = asum / (double)x->count;
        r->fired[r->nfired].sym = bsym;
        r->fired[r->nfired].start = bstart;
        r->nfired++;
    }
}

static void ref_feed(ref_state *r, const rec *x, rows *out)
{
    int64_t st = floor_div_start(x->ts, r->size);
    if (r->have_wm && st + r->size - 1 <= r->wm) {
        r->late++;
        return;
    }
    r->acc[r->nacc++] = *x;
    if (!r->have_wm || x->ts - r->lateness > r->wm)
        r->wm = x->ts - r->lateness;
    r->have_wm = 1;
    ref_fire(r, r->wm, out);
}

static void ref_end(ref_state *r, rows *out)
{
    ref_fire(r, INT64_MAX, out);
}

/* ---- comparing ---------------------------------------------------------- */

static int rows_equal(const rows *a, const rows *b)
{
    if (a->n != b->n) {
        fprintf(stderr, "row count %zu != %zu\n", a->n, b->n);
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        const row *x = &a->v[i], *y = &b->v[i];
        if (strcmp(x->sym, y->sym) || x->start != y->start || x->end != y->end ||
            x->count != y->count || x->price != y->price || x->o != y->o || x->h != y->h ||
            x->l != y->l || x->c != y->c || x->ask != y->ask) {
            fprintf(stderr, "row %zu differs: %s %lld n=%lld vs %s %lld n=%lld\n", i, x->sym,
                    (long long)x->start, (long long)x->count, y->sym, (long long)y->start,
                    (long long)y->count);
            return 0;
        }
    }
    return 1;
}

static rows got, want;
static ref_state ref;

/* ---- table-driven edge cases ------------------------------------------- */

static void test_edges(void)
{
    qt_window *w;
    char err[128];
    int late;

    /* size 5000, lateness 0: a record at end-1 fires its own window at once. */
    got.n = 0;
    QT_CHECK_EQ_INT(qt_window_new(5000, 0, collect, &got, &w, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_window_feed(w, "SPY", 10000, 1.0, 2.0, 0, &late), QT_OK); /* start */
    QT_CHECK_EQ_INT(got.n, 0);
    QT_CHECK_EQ_INT(qt_window_feed(w, "SPY", 14999, 3.0, 4.0, 0, &late), QT_OK); /* end-1 */
    QT_CHECK_EQ_INT(got.n, 1);
    QT_CHECK_EQ_INT(got.v[0].start, 10000);
    QT_CHECK_EQ_INT(got.v[0].end, 15000);
    QT_CHECK_EQ_INT(got.v[0].count, 2);
    QT_CHECK(got.v[0].price == 2.0);
    QT_CHECK(got.v[0].ask == 3.0);
    QT_CHECK(got.v[0].o == 1.0 && got.v[0].c == 3.0 && got.v[0].h == 3.0 && got.v[0].l == 1.0);
    /* Another record for the fired window is late, and counted. */
    QT_CHECK_EQ_INT(qt_window_feed(w, "SPY", 12000, 9.0, 9.0, 0, &late), QT_OK);
    QT_CHECK_EQ_INT(late, 1);
    QT_CHECK_EQ_INT(qt_window_get_stats(w)->late, 1);
    /* A record exactly at end belongs to the next window. */
    QT_CHECK_EQ_INT(qt_window_feed(w, "SPY", 15000, 5.0, 6.0, 0, &late), QT_OK);
    QT_CHECK_EQ_INT(late, 0);
    QT_CHECK_EQ_INT(qt_window_open_count(w), 1);
    QT_CHECK_EQ_INT(qt_window_flush(w), QT_OK);
    QT_CHECK_EQ_INT(got.n, 2);
    QT_CHECK_EQ_INT(got.v[1].start, 15000);
    QT_CHECK_EQ_INT(got.v[1].count, 1);
    /* After a flush the flushed window is closed for good. */
    QT_CHECK_EQ_INT(qt_window_feed(w, "SPY", 15001, 5.0, 6.0, 0, &late), QT_OK);
    QT_CHECK_EQ_INT(late, 1);
    QT_CHECK_EQ_INT(qt_window_get_stats(w)->emitted, 2);
    qt_window_free(w);

    /* lateness 1000: the window [0,5000) fires when a record at >= 5999
     * arrives, not before; a record at 4000 after 5998 is still on time. */
    got.n = 0;
    QT_CHECK_EQ_INT(qt_window_new(5000, 1000, collect, &got, &w, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_window_feed(w, "A", 0, 1, 1, 0, NULL), QT_OK);
    QT_CHECK_EQ_INT(qt_window_feed(w, "B", 4999, 2, 2, 0, NULL), QT_OK);
    QT_CHECK_EQ_INT(qt_window_feed(w, "A", 5998, 3, 3, 0, NULL), QT_OK);
    QT_CHECK_EQ_INT(got.n, 0);
    QT_CHECK_EQ_INT(qt_window_feed(w, "A", 4000, 4, 4, 0, &late), QT_OK);
    QT_CHECK_EQ_INT(late, 0);
    QT_CHECK_EQ_INT(qt_window_watermark(w), 4998);
    QT_CHECK_EQ_INT(qt_window_feed(w, "B", 5999, 5, 5, 0, NULL), QT_OK);
    QT_CHECK_EQ_INT(got.n, 2); /* A then B, both [0,5000) */
    QT_CHECK_EQ_STR(got.v[0].sym, "A");
    QT_CHECK_EQ_INT(got.v[0].count, 2);
    QT_CHECK(got.v[0].price == 2.5);
    QT_CHECK_EQ_STR(got.v[1].sym, "B");
    QT_CHECK_EQ_INT(got.v[1].count, 1);
    qt_window_free(w);

    /* Per-partition watermark: partition 1 racing ahead does not fire
     * windows while partition 0 (seen) is behind; the lowest one counts. */
    got.n = 0;
    QT_CHECK_EQ_INT(qt_window_new(5000, 1000, collect, &got, &w, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_window_feed(w, "A", 1000, 1, 1, UINT64_C(0) << 48, NULL), QT_OK);
    QT_CHECK_EQ_INT(qt_window_feed(w, "B", 60000, 1, 1, UINT64_C(1) << 48, NULL), QT_OK);
    QT_CHECK_EQ_INT(got.n, 0);
    QT_CHECK_EQ_INT(qt_window_watermark(w), 0);
    QT_CHECK_EQ_INT(qt_window_feed(w, "A", 2000, 1, 1, UINT64_C(0) << 48, &late), QT_OK);
    QT_CHECK_EQ_INT(late, 0);
    QT_CHECK_EQ_INT(qt_window_feed(w, "A", 7000, 1, 1, UINT64_C(0) << 48, NULL), QT_OK);
    QT_CHECK_EQ_INT(qt_window_watermark(w), 6000);
    QT_CHECK_EQ_INT(got.n, 1);
    QT_CHECK_EQ_STR(got.v[0].sym, "A");
    QT_CHECK_EQ_INT(got.v[0].count, 2);
    qt_window_free(w);

    /* Negative event times floor correctly. */
    QT_CHECK_EQ_INT(qt_window_start_of(-1, 5000), -5000);
    QT_CHECK_EQ_INT(qt_window_start_of(-5000, 5000), -5000);
    QT_CHECK_EQ_INT(qt_window_start_of(4999, 5000), 0);

    /* Bad arguments and caps. */
    QT_CHECK_EQ_INT(qt_window_new(0, 0, collect, &got, &w, err, sizeof err), QT_EINVAL);
    QT_CHECK_EQ_INT(qt_window_new(5000, -1, collect, &got, &w, err, sizeof err), QT_EINVAL);
    QT_CHECK_EQ_INT(qt_window_new(5000, 0, collect, &got, &w, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_window_feed(w, "", 1, 1, 1, 0, NULL), QT_EINVAL);
    QT_CHECK_EQ_INT(qt_window_feed(w, "0123456789012345678901234567890123456789", 1, 1, 1, 0, NULL),
                    QT_EINVAL);
    QT_CHECK_EQ_INT(qt_window_get_stats(w)->refused, 2);
    qt_window_free(w);

    /* Tags: the smallest tag per key among open windows. */
    QT_CHECK_EQ_INT(qt_window_new(5000, 10000, NULL, NULL, &w, err, sizeof err), QT_OK);
    uint64_t t = 0;
    QT_CHECK_EQ_INT(qt_window_min_tag(w, 1, &t), 0);
    qt_window_feed(w, "A", 100, 1, 1, (UINT64_C(1) << 48) | 7, NULL);
    qt_window_feed(w, "B", 5100, 1, 1, (UINT64_C(1) << 48) | 5, NULL);
    qt_window_feed(w, "A", 200, 1, 1, (UINT64_C(1) << 48) | 9, NULL); /* same window: no tag */
    qt_window_feed(w, "C", 200, 1, 1, (UINT64_C(2) << 48) | 3, NULL);
    QT_CHECK_EQ_INT(qt_window_min_tag(w, 1, &t), 1);
    QT_CHECK_EQ_INT(t & 0xffffffffffff, 5);
    QT_CHECK_EQ_INT(qt_window_min_tag(w, 2, &t), 1);
    QT_CHECK_EQ_INT(t & 0xffffffffffff, 3);
    /* Restoring a watermark fires what it reaches and makes older data late. */
    QT_CHECK_EQ_INT(qt_window_advance(w, 4999), QT_OK);
    QT_CHECK_EQ_INT(qt_window_open_count(w), 1);
    QT_CHECK_EQ_INT(qt_window_min_tag(w, 2, &t), 0);
    qt_window_free(w);
}

/* ---- randomized against the reference ---------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_random(void)
{
    static const char *syms[] = {"SPY", "QQQ", "AAPL", "BRK.B", "BTC/USD"};
    static const int64_t sizes[] = {5000, 1000, 5000, 7};
    static const int64_t latenesses[] = {0, 1000, 2500, 7000, 1};
    static rec in[3000];
    int runs = 0, any_late = 0, any_edge = 0;

    for (int round = 0; round < 40; round++) {
        int64_t size = sizes[round % 4];
        int64_t lateness = latenesses[round % 5];
        size_t n = 200 + xr() % 1000;
        int64_t base = 1700000000000 + (int64_t)(xr() % 100000);
        int nsym = 1 + (int)(xr() % 5);
        qt_window *w;
        char err[128];

        for (size_t i = 0; i < n; i++) {
            int64_t ts;
            base += (int64_t)(xr() % (uint64_t)(size / 3 + 2));
            switch (xr() % 8) {
            case 0: /* exactly at a window start */
                ts = qt_window_start_of(base, size);
                break;
            case 1: /* exactly at end - 1 ms */
                ts = qt_window_start_of(base, size) + size - 1;
                break;
            case 2: /* exactly at end */
                ts = qt_window_start_of(base, size) + size;
                break;
            case 3: /* out of order, maybe late */
                ts = base - (int64_t)(xr() % (uint64_t)(2 * lateness + 2 * size + 1));
                break;
            default:
                ts = base + (int64_t)(xr() % 50) - 25;
            }
            in[i].sym = syms[xr() % (uint64_t)nsym];
            in[i].ts = ts;
            in[i].bid = 400.0 + (double)(xr() % 10000) / 100.0;
            in[i].ask = in[i].bid + (double)(xr() % 10) / 100.0;
        }

        got.n = want.n = 0;
        memset(&ref, 0, sizeof ref);
        ref.size = size;
        ref.lateness = lateness;
        QT_CHECK_EQ_INT(qt_window_new(size, lateness, collect, &got, &w, err, sizeof err), QT_OK);
        for (size_t i = 0; i < n; i++) {
            int late = 0;
            ref_feed(&ref, &in[i], &want);
            QT_CHECK_EQ_INT(qt_window_feed(w, in[i].sym, in[i].ts, in[i].bid, in[i].ask, 0, &late),
                            QT_OK);
            /* Emitted so far must match, record by record. */
            if (got.n != want.n) {
                QT_CHECK_EQ_INT(got.n, want.n);
                break;
            }
        }
        QT_CHECK_EQ_INT(qt_window_flush(w), QT_OK);
        ref_end(&ref, &want);
        QT_CHECK(rows_equal(&got, &want));
        QT_CHECK_EQ_INT(qt_window_get_stats(w)->late, ref.late);
        QT_CHECK_EQ_INT(qt_window_get_stats(w)->records + qt_window_get_stats(w)->late, (int64_t)n);
        QT_CHECK_EQ_INT(qt_window_open_count(w), 0);
        any_late |= ref.late > 0;
        for (size_t i = 0; i < want.n; i++)
            any_edge |= want.v[i].count > 0 && want.v[i].end - want.v[i].start == size;
        qt_window_free(w);
        runs++;
    }
    QT_CHECK_EQ_INT(runs, 40);
    QT_CHECK(any_late); /* the inputs really exercised late records */
    QT_CHECK(any_edge);
}

int main(void)
{
    test_edges();
    test_random();
    return qt_test_done("test_window");
}
