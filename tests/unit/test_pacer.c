/* Unit tests for core/pacer: due times with an injected clock (speed
 * factors, bursts, max-gap, out-of-order, late messages without drift, loop
 * re-anchoring, stop), the time asleep, the lateness histogram, sharing the
 * pacing CPU with real threads, and a short real-clock run. */
#define _GNU_SOURCE /* CPU affinity */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/pacer.h"
#include "tests/unit/qt_test.h"

#define MS INT64_C(1000000)
#define US INT64_C(1000)
#define SEC INT64_C(1000000000)

/* A fake clock: now() reads t (and adds tick per read, to let a spin end);
 * sleep_until() jumps to the target plus oversleep. */
typedef struct fake_clock {
    int64_t t, tick, oversleep;
    int sleeps;
} fake_clock;

/* When set, sleep number fake_stop_at (counted in fake_clock.sleeps) sets
 * *fake_stop to 1: a stop that arrives while the pacer sleeps. */
static volatile sig_atomic_t *fake_stop;
static int fake_stop_at;

static int64_t fake_now(void *ud)
{
    fake_clock *c = ud;
    int64_t v = c->t;
    c->t += c->tick;
    return v;
}

static void fake_sleep(int64_t until, void *ud)
{
    fake_clock *c = ud;
    c->sleeps++;
    if (fake_stop && c->sleeps == fake_stop_at)
        *fake_stop = 1;
    if (until > c->t)
        c->t = until;
    c->t += c->oversleep;
}

static void setup(qt_pacer *p, fake_clock *fc, double speed, int64_t max_gap)
{
    qt_pacer_cfg cfg = {speed, max_gap, 0, 0};
    qt_clock clk = {fake_now, fake_sleep, fc};
    qt_pacer_init(p, &cfg, &clk);
}

/* Table: pace times in, due times (relative to the anchor) out. */
typedef struct due_case {
    const char *name;
    double speed;
    int64_t max_gap;
    int n;
    int64_t ts[8];
    int64_t due[8];
} due_case;

static const due_case due_cases[] = {
    {"real time", 1.0, 0, 5, {0, 1 * MS, 1 * MS, 5 * MS, 2 * SEC}, {0, 1 * MS, 1 * MS, 5 * MS, 2 * SEC}},
    {"20x", 20.0, 0, 4, {0, 20 * MS, 2 * SEC, 2 * SEC + 1}, {0, 1 * MS, 100 * MS, 100 * MS}},
    {"100x", 100.0, 0, 3, {1000 * SEC, 1000 * SEC + 1 * SEC, 1000 * SEC + 60 * SEC}, {0, 10 * MS, 600 * MS}},
    {"half speed", 0.5, 0, 3, {0, 1 * MS, 1 * SEC}, {0, 2 * MS, 2 * SEC}},
    {"burst stays a burst", 1.0, 0, 5, {7, 7, 7, 8, 7 + 3 * MS}, {0, 0, 0, 1, 3 * MS}},
    {"max gap caps silences", 1.0, 5 * SEC, 5,
     {0, 1 * SEC, 3601 * SEC, 3602 * SEC, 3602 * SEC + 5 * SEC}, {0, 1 * SEC, 6 * SEC, 7 * SEC, 12 * SEC}},
    {"max gap at 10x", 10.0, 2 * SEC, 3, {0, 60 * SEC, 61 * SEC}, {0, 200 * MS, 300 * MS}},
    {"out of order goes with the highest seen", 1.0, 0, 5,
     {0, 10 * MS, 5 * MS, 10 * MS, 20 * MS}, {0, 10 * MS, 10 * MS, 10 * MS, 20 * MS}},
};

static void test_due_table(void)
{
    for (size_t c = 0; c < sizeof due_cases / sizeof due_cases[0]; c++) {
        const due_case *dc = &due_cases[c];
        fake_clock fc = {5 * SEC, 0, 0, 0};
        qt_pacer p;
        setup(&p, &fc, dc->speed, dc->max_gap);
        for (int i = 0; i < dc->n; i++) {
            int64_t due = qt_pacer_due(&p, dc->ts[i]);
            if (due - 5 * SEC != dc->due[i])
                fprintf(stderr, "case '%s' message %d\n", dc->name, i);
            QT_CHECK_EQ_INT(due - 5 * SEC, dc->due[i]);
        }
    }
}

/* Waiting sleeps exactly to each due time; nothing is late. */
static void test_wait_exact(void)
{
    fake_clock fc = {SEC, 0, 0, 0};
    qt_pacer p;
    int64_t ts[] = {0, 3 * MS, 3 * MS, 10 * MS};
    setup(&p, &fc, 1.0, 0);
    for (int i = 0; i < 4; i++) {
        QT_CHECK_EQ_INT(qt_pacer_wait(&p, ts[i], NULL), 0);
        QT_CHECK_EQ_INT(fc.t, SEC + ts[i]);
    }
    QT_CHECK_EQ_INT(p.late, 0);
    QT_CHECK_EQ_INT(p.lat.n, 4);
    QT_CHECK_EQ_INT(p.lat.max, 0);
    QT_CHECK_EQ_INT(fc.sleeps, 2); /* the burst and the first need none */
}

/* A late message goes at once and is counted; the next is still due on the
 * original schedule (no drift). */
static void test_late_no_drift(void)
{
    fake_clock fc = {SEC, 0, 0, 0};
    qt_pacer p;
    setup(&p, &fc, 1.0, 0);
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 0, NULL), 0);
    fc.t += 50 * MS; /* the sink blocked for 50 ms */
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 10 * MS, NULL), 40 * MS);
    QT_CHECK_EQ_INT(fc.t, SEC + 50 * MS); /* went at once */
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 100 * MS, NULL), 0);
    QT_CHECK_EQ_INT(fc.t, SEC + 100 * MS); /* on schedule again */
    fc.t += 500 * US;                     /* late, but under the 1 ms threshold */
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 100 * MS, NULL), 500 * US);
    QT_CHECK_EQ_INT(p.late, 1);
    QT_CHECK_EQ_INT(p.lat.n, 4);
    QT_CHECK_EQ_INT(p.lat.max, 40 * MS);
}

/* Oversleeping shows up as lateness and is not carried forward. */
static void test_oversleep(void)
{
    fake_clock fc = {0, 0, 30 * US, 0};
    qt_pacer p;
    setup(&p, &fc, 1.0, 0);
    qt_pacer_wait(&p, 0, NULL);
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 1 * MS, NULL), 30 * US);
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 2 * MS, NULL), 30 * US);
    QT_CHECK_EQ_INT(fc.t, 2 * MS + 30 * US);
    QT_CHECK_EQ_INT(p.late, 0);
}

/* Max speed never sleeps and records no lateness. */
static void test_max_speed(void)
{
    fake_clock fc = {SEC, 0, 0, 0};
    qt_pacer p;
    setup(&p, &fc, 0, 0);
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 0, NULL), 0);
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 3600 * SEC, NULL), 0);
    QT_CHECK_EQ_INT(fc.t, SEC);
    QT_CHECK_EQ_INT(fc.sleeps, 0);
    QT_CHECK_EQ_INT(p.lat.n, 0);
}

/* --loop: each pass re-anchors pass_gap after the last message, or at once
 * when that moment has passed; pace times restart with each pass. */
static void test_loop_reanchor(void)
{
    fake_clock fc = {SEC, 0, 0, 0};
    qt_pacer p;
    setup(&p, &fc, 2.0, 0);
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 100 * SEC, NULL), 0);
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 101 * SEC, NULL), 0); /* due at +500 ms */
    QT_CHECK_EQ_INT(fc.t, SEC + 500 * MS);
    qt_pacer_new_pass(&p, 1 * SEC);
    QT_CHECK_EQ_INT(qt_pacer_due(&p, 100 * SEC), SEC + 1000 * MS); /* 1 s of tape at 2x */
    QT_CHECK_EQ_INT(qt_pacer_due(&p, 101 * SEC), SEC + 1500 * MS);
    QT_CHECK_EQ_INT(p.passes, 2);
    /* A slow rewind: the third pass starts at once, not in a rush. */
    qt_pacer_new_pass(&p, 1 * SEC);
    fc.t = 10 * SEC;
    QT_CHECK_EQ_INT(qt_pacer_due(&p, 100 * SEC), 10 * SEC);
    QT_CHECK_EQ_INT(qt_pacer_due(&p, 100 * SEC + 2 * SEC), 11 * SEC);
    QT_CHECK_EQ_INT(p.passes, 3);
}

/* A stop request ends a wait early; nothing is recorded. */
static void test_stop(void)
{
    fake_clock fc = {SEC, 0, 0, 0};
    qt_pacer p;
    volatile sig_atomic_t stop = 0;
    setup(&p, &fc, 1.0, 0);
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 0, &stop), 0);
    stop = 1;
    QT_CHECK_EQ_INT(qt_pacer_wait(&p, 3600 * SEC, &stop), -1);
    QT_CHECK(fc.t < 2 * SEC);
    QT_CHECK_EQ_INT(p.lat.n, 1);
}

/* Long sleeps are cut into chunks so a stop flag is seen within 100 ms. */
static void test_sleep_chunks(void)
{
    fake_clock fc = {0, 0, 0, 0};
    qt_pacer p;
    setup(&p, &fc, 1.0, 0);
    qt_pacer_wait(&p, 0, NULL);
    qt_pacer_wait(&p, 1 * SEC, NULL);
    QT_CHECK_EQ_INT(fc.sleeps, 10);
    QT_CHECK_EQ_INT(fc.t, SEC);
}

/* With a spin window the sleep ends early and the spin reads the clock up
 * to the due time. */
static void test_spin(void)
{
    fake_clock fc = {0, 1 * US, 0, 0};
    qt_pacer_cfg cfg = {1.0, 0, 200 * US, 0};
    qt_clock clk = {fake_now, fake_sleep, &fc};
    qt_pacer p;
    int64_t late;
    qt_pacer_init(&p, &cfg, &clk);
    qt_pacer_wait(&p, 0, NULL);
    fc.sleeps = 0;
    late = qt_pacer_wait(&p, 10 * MS, NULL);
    QT_CHECK(late >= 0 && late <= 1 * US);
    QT_CHECK_EQ_INT(fc.sleeps, 1);
    QT_CHECK(fc.t >= 10 * MS);
}

/* The default spin window adapts to how late the machine wakes: with every
 * sleep 1 ms late, it widens past 1 ms so messages land on time anyway;
 * once sleeps are punctual it narrows again, never below 250 us. */
static void test_spin_adaptive(void)
{
    fake_clock fc = {0, 1 * US, 1 * MS, 0};
    qt_pacer_cfg cfg = {1.0, 0, -1, 0};
    qt_clock clk = {fake_now, fake_sleep, &fc};
    qt_pacer p;
    int64_t late = 0;
    qt_pacer_init(&p, &cfg, &clk);
    QT_CHECK_EQ_INT(p.spin, 1 * MS);
    for (int i = 0; i <= 20; i++)
        late = qt_pacer_wait(&p, i * 10 * MS, NULL);
    QT_CHECK(p.spin >= 1500 * US - 5 * US && p.spin <= 3 * MS);
    QT_CHECK(late >= 0 && late <= 2 * US); /* the last one lands on time */
    fc.oversleep = 0;
    for (int i = 21; i <= 20000; i++)
        qt_pacer_wait(&p, i * 10 * MS, NULL);
    QT_CHECK_EQ_INT(p.spin, 250 * US);
    /* a fixed window stays fixed */
    cfg.spin_ns = 300 * US;
    fc.oversleep = 1 * MS;
    qt_pacer_init(&p, &cfg, &clk);
    for (int i = 0; i <= 20; i++)
        qt_pacer_wait(&p, i * 10 * MS, NULL);
    QT_CHECK_EQ_INT(p.spin, 300 * US);
}

/* The two-step wait: has_time says whether work before the wait can make
 * the message late (not within the spin window, not at speed 0), and
 * wait_due lands on the due time as qt_pacer_wait does. */
static void test_has_time(void)
{
    fake_clock fc = {0, 0, 0, 0};
    qt_pacer_cfg cfg = {1.0, 0, 200 * US, 0};
    qt_clock clk = {fake_now, fake_sleep, &fc};
    qt_pacer p;
    int64_t due;
    qt_pacer_init(&p, &cfg, &clk);
    due = qt_pacer_due(&p, 0); /* the first is due now */
    QT_CHECK_EQ_INT(qt_pacer_has_time(&p, due), 0);
    QT_CHECK_EQ_INT(qt_pacer_wait_due(&p, due, NULL), 0);
    due = qt_pacer_due(&p, 10 * MS);
    QT_CHECK_EQ_INT(due, 10 * MS);
    QT_CHECK_EQ_INT(qt_pacer_has_time(&p, due), 1);
    fc.t = 10 * MS - 250 * US;
    QT_CHECK_EQ_INT(qt_pacer_has_time(&p, due), 1);
    fc.t = 10 * MS - 150 * US; /* inside the spin window */
    QT_CHECK_EQ_INT(qt_pacer_has_time(&p, due), 0);
    fc.tick = 1 * US;
    QT_CHECK(qt_pacer_wait_due(&p, due, NULL) <= 1 * US);
    QT_CHECK(fc.t >= 10 * MS);
    setup(&p, &fc, 0, 0); /* full speed: never */
    QT_CHECK_EQ_INT(qt_pacer_has_time(&p, qt_pacer_due(&p, 50 * SEC)), 0);
}

static void test_hist(void)
{
    qt_lat_hist h;
    int64_t v;
    qt_lat_hist_init(&h);
    QT_CHECK_EQ_INT(qt_lat_hist_quantile(&h, 0.99), 0);
    for (int i = 1; i <= 1000; i++)
        qt_lat_hist_add(&h, i * US);
    QT_CHECK_EQ_INT(h.n, 1000);
    QT_CHECK_EQ_INT(h.max, 1000 * US);
    v = qt_lat_hist_quantile(&h, 0.5);
    QT_CHECK(v > 485 * US && v < 515 * US);
    v = qt_lat_hist_quantile(&h, 0.99);
    QT_CHECK(v > 960 * US && v <= 1000 * US);
    QT_CHECK_EQ_INT(qt_lat_hist_quantile(&h, 1.0), 1000 * US);
    /* exact below 32 ns */
    qt_lat_hist_init(&h);
    for (int i = 0; i < 10; i++)
        qt_lat_hist_add(&h, 7);
    qt_lat_hist_add(&h, -5); /* clamps to 0 */
    QT_CHECK_EQ_INT(qt_lat_hist_quantile(&h, 0.5), 7);
    QT_CHECK_EQ_INT(qt_lat_hist_quantile(&h, 0.01), 0);
    /* huge values stay in range */
    qt_lat_hist_add(&h, INT64_C(1) << 61);
    QT_CHECK_EQ_INT(qt_lat_hist_quantile(&h, 1.0), INT64_C(1) << 61);
}

/* Regression: qt_lat_hist_add overflowed sum_ns (signed, UB) when lags are
 * years (a client measuring 2024-stamped quotes against the wall clock);
 * UBSan aborted qt_aclient. The sum now saturates; counts, max and
 * quantiles stay right, and merging saturates the same way. */
static void test_hist_sum_saturates(void)
{
    const int64_t years = INT64_C(2) * 365 * 24 * 3600 * SEC; /* ~6.3e16 ns */
    qt_lat_hist h, all;
    qt_lat_hist_init(&h);
    qt_lat_hist_init(&all);
    for (int i = 0; i < 1000; i++)
        qt_lat_hist_add(&h, years);
    QT_CHECK_EQ_INT(h.n, 1000);
    QT_CHECK(h.sum_ns == INT64_MAX);
    QT_CHECK_EQ_INT(h.max, years);
    QT_CHECK_EQ_INT(qt_lat_hist_quantile(&h, 0.99), years);
    qt_lat_hist_add(&h, INT64_MAX);
    QT_CHECK(h.sum_ns == INT64_MAX);
    QT_CHECK(h.max == INT64_MAX);
    qt_lat_hist_merge(&all, &h);
    qt_lat_hist_merge(&all, &h);
    QT_CHECK_EQ_INT(all.n, 2002);
    QT_CHECK(all.sum_ns == INT64_MAX);
    QT_CHECK(all.max == INT64_MAX);
    /* below saturation the sum is exact, merged too */
    qt_lat_hist_init(&h);
    qt_lat_hist_init(&all);
    qt_lat_hist_add(&h, 5 * US);
    qt_lat_hist_add(&h, 7 * US);
    qt_lat_hist_merge(&all, &h);
    qt_lat_hist_merge(&all, &h);
    QT_CHECK_EQ_INT(all.sum_ns, 24 * US);
    QT_CHECK_EQ_INT(all.n, 4);
    QT_CHECK_EQ_INT(all.max, 7 * US);
}

/* slept_ns adds up the time spent in sleep_until, oversleep included, and
 * not the spin: waits 10 ms apart, a fixed 1 ms window, 100 us oversleep
 * (the clock ticks 1 ns a read, so the spin ends; allow a few reads). */
static void test_slept(void)
{
    fake_clock fc = {0, 1, 100 * US, 0};
    qt_pacer_cfg cfg = {1.0, 0, 1 * MS, 0};
    qt_clock clk = {fake_now, fake_sleep, &fc};
    qt_pacer p;
    int64_t want;
    qt_pacer_init(&p, &cfg, &clk);
    qt_pacer_wait(&p, 0, NULL); /* the anchor: due at once */
    QT_CHECK_EQ_INT(p.slept_ns, 0);
    qt_pacer_wait(&p, 10 * MS, NULL);
    want = 9 * MS + 100 * US; /* from 0 to the window, then 100 us over */
    QT_CHECK(p.slept_ns >= want - 10 && p.slept_ns <= want + 10);
    qt_pacer_wait(&p, 20 * MS, NULL);
    want += 19 * MS - 10 * MS + 100 * US; /* from the due time on: the spin is not sleep */
    QT_CHECK(p.slept_ns >= want - 10 && p.slept_ns <= want + 10);
}

/* A long wait in naps: while the due time is more than max (plus the spin
 * window) off, nap sleeps max and says so; then it leaves the rest to
 * wait_due, which lands on time; it sees the stop flag; at max speed it
 * never sleeps. */
static void test_nap(void)
{
    fake_clock fc = {0, 0, 0, 0};
    qt_pacer_cfg cfg = {1.0, 0, 1 * MS, 0};
    qt_clock clk = {fake_now, fake_sleep, &fc};
    qt_pacer p;
    volatile sig_atomic_t stop = 0;
    int naps = 0;
    int64_t due;
    qt_pacer_init(&p, &cfg, &clk);
    qt_pacer_wait(&p, 0, NULL);
    due = qt_pacer_due(&p, 3500 * MS);
    while (qt_pacer_nap(&p, due, 1 * SEC, &stop) == 1) {
        naps++;
        QT_CHECK_EQ_INT(fc.t, naps * SEC);
    }
    QT_CHECK_EQ_INT(naps, 3);
    QT_CHECK_EQ_INT(p.slept_ns, 3 * SEC);
    fc.tick = 1;
    QT_CHECK(qt_pacer_wait_due(&p, due, NULL) <= 2);
    QT_CHECK_EQ_INT(p.lat.n, 2); /* naps record no lateness */
    due = qt_pacer_due(&p, 9 * SEC);
    stop = 1;
    QT_CHECK_EQ_INT(qt_pacer_nap(&p, due, 1 * SEC, &stop), -1);
    cfg.speed = 0;
    qt_pacer_init(&p, &cfg, &clk);
    QT_CHECK_EQ_INT(qt_pacer_nap(&p, fc.t + 10 * SEC, 1 * SEC, NULL), 0);
}

/* A warm() that records when it ran and takes cost (first_cost for the
 * first call) of the fake clock's time. */
typedef struct warm_rec {
    fake_clock *fc;
    int64_t cost, first_cost;
    int slow_n;        /* the call that takes slow_cost instead (-1 none) */
    int64_t slow_cost;
    volatile sig_atomic_t *stop_at_3; /* set after the third call */
    int n;
    int64_t start[256], end[256];
} warm_rec;

static void rec_warm(void *ud)
{
    warm_rec *w = ud;
    if (w->n < 256)
        w->start[w->n] = w->fc->t;
    w->fc->t += w->n == w->slow_n ? w->slow_cost
                : w->n == 0 && w->first_cost ? w->first_cost : w->cost;
    if (w->n == 2 && w->stop_at_3)
        *w->stop_at_3 = 1;
    if (w->n < 256)
        w->end[w->n] = w->fc->t;
    w->n++;
}

/* One wait for a message due 10 ms ahead with a fixed spin window; returns
 * its lateness, with the warm() calls in *w. */
static int64_t warm_wait(warm_rec *w, fake_clock *fc, int64_t spin, int64_t cost,
                         int64_t first_cost, int64_t *due)
{
    qt_pacer_cfg cfg = {1.0, 0, spin, 0};
    qt_clock clk = {fake_now, fake_sleep, fc};
    qt_pacer p;
    int64_t late;
    memset(w, 0, sizeof *w);
    w->fc = fc;
    w->cost = cost;
    w->first_cost = first_cost;
    w->slow_n = -1;
    qt_pacer_init(&p, &cfg, &clk);
    qt_pacer_set_warm(&p, rec_warm, w, 0);
    qt_pacer_wait(&p, 0, NULL); /* the anchor: due at once */
    *due = qt_pacer_due(&p, 10 * MS);
    late = qt_pacer_wait_due(&p, *due, NULL);
    QT_CHECK_EQ_INT(p.warms, (uint64_t)w->n);
    return late;
}

/* Warming while spinning: warm() runs from the start of the spin window,
 * every QT_PACER_WARM_EVERY_NS, never starts without twice its last cost
 * left (the first call: QT_PACER_WARM_COLD_NS), and never makes the message
 * late; not at all for a message already due, at full speed, or when unset. */
static void test_warm(void)
{
    fake_clock fc = {0, 1 * US, 0, 0};
    warm_rec w;
    int64_t due, late;

    /* 1 ms window, 3 us a call: every 20 us from the wake-up to the end */
    late = warm_wait(&w, &fc, 1 * MS, 3 * US, 0, &due);
    QT_CHECK(late <= 1 * US);
    QT_CHECK(w.n >= 40 && w.n <= 45);
    QT_CHECK(w.start[0] >= due - 1 * MS && w.start[0] <= due - 1 * MS + 2 * US);
    for (int i = 1; i < w.n && i < 256; i++) {
        QT_CHECK(w.start[i] - w.end[i - 1] >= QT_PACER_WARM_EVERY_NS);
        QT_CHECK(due - w.start[i] >= 2 * (w.end[i - 1] - w.start[i - 1]) - 1 * US);
    }
    QT_CHECK(w.end[w.n - 1] <= due);
    QT_CHECK(due - w.end[w.n - 1] <= QT_PACER_WARM_EVERY_NS + 10 * US); /* the last is close */

    /* a cold first call (150 us), then quick ones: still on time */
    late = warm_wait(&w, &fc, 1 * MS, 3 * US, 150 * US, &due);
    QT_CHECK(late <= 1 * US);
    QT_CHECK_EQ_INT(w.end[0] - w.start[0], 150 * US);
    QT_CHECK(w.n >= 33 && w.n <= 38);

    /* slow calls throughout (100 us): they stop in time */
    late = warm_wait(&w, &fc, 1 * MS, 100 * US, 0, &due);
    QT_CHECK(late <= 1 * US);
    QT_CHECK(w.n >= 5 && w.n <= 8);
    QT_CHECK(due - w.end[w.n - 1] >= 100 * US);

    /* a window shorter than a cold call may take: no warming */
    late = warm_wait(&w, &fc, QT_PACER_WARM_COLD_NS - 1 * US, 3 * US, 0, &due);
    QT_CHECK(late <= 1 * US);
    QT_CHECK_EQ_INT(w.n, 0);

    /* exactly the cold bound: one call at once, then more */
    late = warm_wait(&w, &fc, QT_PACER_WARM_COLD_NS, 3 * US, 0, &due);
    QT_CHECK(late <= 1 * US);
    QT_CHECK(w.n >= 1);
    QT_CHECK(w.start[0] - (due - QT_PACER_WARM_COLD_NS) <= 1 * US);

    {
        qt_pacer_cfg cfg = {1.0, 0, 1 * MS, 0};
        qt_clock clk = {fake_now, fake_sleep, &fc};
        qt_pacer p;
        volatile sig_atomic_t stop = 0;
        int sleeps;
        uint64_t warms;
        memset(&w, 0, sizeof w);
        w.fc = &fc;
        w.cost = 3 * US;
        w.slow_n = -1;
        qt_pacer_init(&p, &cfg, &clk);
        qt_pacer_set_warm(&p, rec_warm, &w, 0);
        qt_pacer_wait(&p, 0, NULL);
        /* a wait that starts inside the window (no sleep) warms too */
        due = qt_pacer_due(&p, 1 * MS);
        fc.t = due - 500 * US;
        sleeps = fc.sleeps;
        QT_CHECK(qt_pacer_wait_due(&p, due, NULL) <= 1 * US);
        QT_CHECK_EQ_INT(fc.sleeps, sleeps);
        QT_CHECK(w.n >= 15 && w.n <= 25);
        QT_CHECK_EQ_INT(w.start[0], due - 500 * US + 1 * US);
        /* a call far slower than the one before it can overrun the due
         * time: the lateness is what it was */
        w.n = 0;
        w.slow_n = 3;
        w.slow_cost = 2 * MS;
        due = qt_pacer_due(&p, 10 * MS);
        late = qt_pacer_wait_due(&p, due, NULL);
        QT_CHECK_EQ_INT(w.n, 4);
        QT_CHECK_EQ_INT(late, w.end[3] - due);
        QT_CHECK(late > 1 * MS);
        w.slow_n = -1;
        /* a stop is seen between calls */
        w.n = 0;
        w.stop_at_3 = &stop;
        due = qt_pacer_due(&p, 20 * MS);
        QT_CHECK_EQ_INT(qt_pacer_wait_due(&p, due, &stop), -1);
        QT_CHECK_EQ_INT(w.n, 3);
        w.stop_at_3 = NULL;
        w.n = 0;
        /* a message already 5 ms late goes at once, unrehearsed */
        due = qt_pacer_due(&p, 30 * MS);
        fc.t = due + 5 * MS;
        QT_CHECK(qt_pacer_wait_due(&p, due, NULL) >= 5 * MS);
        QT_CHECK_EQ_INT(w.n, 0);
        /* unset: no calls */
        qt_pacer_set_warm(&p, NULL, NULL, QT_PACER_KEEP_WARM_NS);
        warms = p.warms;
        QT_CHECK(qt_pacer_wait(&p, 60 * MS, NULL) <= 1 * US);
        QT_CHECK_EQ_INT(w.n, 0);
        QT_CHECK_EQ_INT(p.warms, warms);
        /* full speed: nothing waits, nothing is rehearsed */
        cfg.speed = 0;
        qt_pacer_init(&p, &cfg, &clk);
        qt_pacer_set_warm(&p, rec_warm, &w, 0);
        QT_CHECK_EQ_INT(qt_pacer_wait(&p, 30 * MS, NULL), 0);
        QT_CHECK_EQ_INT(w.n, 0);
    }
}

/* Keeping warm through a sleep: asleep until QT_PACER_KEEP_SPAN_NS before
 * the spin window, then a warm() call after every nap of keep_ns while one
 * more nap and a cold call fit, then the spin window as before; none for a
 * short wait, none with keep_ns 0 or as long as the span; a stop is seen
 * during a nap and between naps; a nap that wakes too close to the spin
 * window is not followed by a call, and one that wakes past it is recorded
 * as lateness and widens an adaptive window. */
static void test_keep_warm(void)
{
    const int64_t keep = 5 * MS, spin = 1 * MS, cold = QT_PACER_WARM_COLD_NS;
    fake_clock fc = {0, 1 * US, 0, 0};
    qt_pacer_cfg cfg = {1.0, 0, spin, 0};
    qt_clock clk = {fake_now, fake_sleep, &fc};
    qt_pacer p;
    warm_rec w;
    volatile sig_atomic_t stop = 0;
    int64_t due, wake, late;
    int nk, i, sleeps;

    memset(&w, 0, sizeof w);
    w.fc = &fc;
    w.cost = 3 * US;
    w.slow_n = -1;
    qt_pacer_init(&p, &cfg, &clk);
    qt_pacer_set_warm(&p, rec_warm, &w, keep);
    qt_pacer_wait(&p, 0, NULL); /* the anchor: due at once */

    /* a message 1 s off: one sleep to the span, then naps with calls */
    due = qt_pacer_due(&p, 1 * SEC);
    wake = due - spin;
    late = qt_pacer_wait_due(&p, due, NULL);
    QT_CHECK(late <= 1 * US);
    for (nk = 0; nk < w.n && w.start[nk] < wake; nk++)
        ;
    QT_CHECK_EQ_INT(p.keeps, (uint64_t)nk);
    QT_CHECK_EQ_INT(p.warms, (uint64_t)w.n);
    /* the span holds (100 ms - 200 us) / 5 ms whole naps with a call */
    QT_CHECK_EQ_INT(nk, (int)((QT_PACER_KEEP_SPAN_NS - cold) / keep));
    if (nk > 0) {
        QT_CHECK(w.start[0] >= wake - QT_PACER_KEEP_SPAN_NS + keep);
        QT_CHECK(w.start[0] <= wake - QT_PACER_KEEP_SPAN_NS + keep + 2 * US);
        for (i = 1; i < nk; i++) {
            QT_CHECK(w.start[i] - w.end[i - 1] >= keep);
            QT_CHECK(w.start[i] - w.end[i - 1] <= keep + 2 * US);
        }
        QT_CHECK(wake - w.end[nk - 1] >= cold);
        QT_CHECK(wake - w.end[nk - 1] <= keep + cold);
    }
    QT_CHECK(w.n > nk); /* and the spin window rehearses as before */
    if (w.n > nk)
        QT_CHECK(w.start[nk] >= wake);

    /* a wait no longer than a nap and a cold call before the spin window:
     * no nap, one sleep to the window */
    w.n = 0;
    p.keeps = 0;
    due = qt_pacer_due(&p, 2 * SEC);
    fc.t = due - spin - keep - cold;
    sleeps = fc.sleeps;
    QT_CHECK(qt_pacer_wait_due(&p, due, NULL) <= 1 * US);
    QT_CHECK_EQ_INT(p.keeps, 0);
    QT_CHECK_EQ_INT(fc.sleeps, sleeps + 1);
    /* 10 us more: one nap and one call, then the sleep to the window */
    due = qt_pacer_due(&p, 3 * SEC);
    fc.t = due - spin - keep - cold - 10 * US;
    sleeps = fc.sleeps;
    QT_CHECK(qt_pacer_wait_due(&p, due, NULL) <= 1 * US);
    QT_CHECK_EQ_INT(p.keeps, 1);
    QT_CHECK_EQ_INT(fc.sleeps, sleeps + 2);

    /* a nap that wakes 100 us before the spin window: no call after it,
     * and the message is on time */
    w.n = 0;
    p.keeps = 0;
    due = qt_pacer_due(&p, 4 * SEC);
    wake = due - spin;
    fc.t = wake - keep - 250 * US; /* the nap ends 100 us before wake */
    fc.oversleep = 150 * US;
    late = qt_pacer_wait_due(&p, due, NULL);
    fc.oversleep = 0;
    QT_CHECK(late <= 1 * US);
    QT_CHECK_EQ_INT(p.keeps, 0);
    for (i = 0; i < w.n && i < 256; i++)
        QT_CHECK(w.start[i] >= wake);

    /* a nap that oversleeps past the cold bound: no call after it, and
     * the lateness it causes is recorded (the wait starts 50 ms before the
     * wake-up, the first nap ends 3 ms after it) */
    w.n = 0;
    p.keeps = 0;
    due = qt_pacer_due(&p, 5 * SEC);
    fc.t = due - spin - 50 * MS;
    fc.oversleep = 48 * MS;
    late = qt_pacer_wait_due(&p, due, NULL);
    fc.oversleep = 0;
    QT_CHECK(late >= 2 * MS && late <= 2 * MS + 10 * US);
    QT_CHECK_EQ_INT(p.keeps, 0);
    QT_CHECK_EQ_INT(w.n, 0);

    /* a stop is seen between naps (raised by the third call) ... */
    w.n = 0;
    p.keeps = 0;
    w.stop_at_3 = &stop;
    due = qt_pacer_due(&p, 6 * SEC);
    QT_CHECK_EQ_INT(qt_pacer_wait_due(&p, due, &stop), -1);
    QT_CHECK_EQ_INT(w.n, 3);
    QT_CHECK_EQ_INT(p.keeps, 3);
    QT_CHECK(fc.t < due - spin);
    w.stop_at_3 = NULL;
    stop = 0;
    /* ... and during one (raised by the third nap): no call after it */
    w.n = 0;
    p.keeps = 0;
    due = qt_pacer_due(&p, 7 * SEC);
    fc.t = due - spin - 50 * MS; /* no sleep to the span: naps from here */
    fake_stop = &stop;
    fake_stop_at = fc.sleeps + 3;
    QT_CHECK_EQ_INT(qt_pacer_wait_due(&p, due, &stop), -1);
    fake_stop = NULL;
    stop = 0;
    QT_CHECK_EQ_INT(w.n, 2);
    QT_CHECK_EQ_INT(p.keeps, 2);

    /* keep_ns 0, or as long as the span: only the spin window rehearses */
    for (int k = 0; k < 2; k++) {
        qt_pacer_set_warm(&p, rec_warm, &w, k ? QT_PACER_KEEP_SPAN_NS : 0);
        w.n = 0;
        p.keeps = 0;
        due = qt_pacer_due(&p, (8 + k) * SEC);
        QT_CHECK(qt_pacer_wait_due(&p, due, NULL) <= 1 * US);
        QT_CHECK_EQ_INT(p.keeps, 0);
        QT_CHECK(w.n > 0 && w.start[0] >= due - spin);
    }

    /* adaptive window: a nap that wakes 3 ms late widens it at once */
    cfg.spin_ns = -1;
    qt_pacer_init(&p, &cfg, &clk);
    qt_pacer_set_warm(&p, rec_warm, &w, keep);
    qt_pacer_wait(&p, 0, NULL);
    {
        int64_t before = p.spin;
        due = qt_pacer_due(&p, 1 * SEC);
        fc.t = due - before - 6 * MS; /* one nap; it ends 2 ms past wake */
        fc.oversleep = 3 * MS;
        late = qt_pacer_wait_due(&p, due, NULL);
        fc.oversleep = 0;
        QT_CHECK(late >= 1 * MS);
        QT_CHECK(p.spin > before);
        QT_CHECK(p.spin >= 3 * MS); /* 1.5 x 3 ms, capped at the 3 ms maximum */
    }
}

/* The sharing policy: on from 40 % of the window asleep, off below 20 %,
 * unchanged in between and for an empty window. */
static void test_share_want(void)
{
    QT_CHECK_EQ_INT(qt_pacer_share_want(0, 400 * MS, 1 * SEC), 1);
    QT_CHECK_EQ_INT(qt_pacer_share_want(0, 399 * MS, 1 * SEC), 0);
    QT_CHECK_EQ_INT(qt_pacer_share_want(1, 399 * MS, 1 * SEC), 1);
    QT_CHECK_EQ_INT(qt_pacer_share_want(1, 200 * MS, 1 * SEC), 1);
    QT_CHECK_EQ_INT(qt_pacer_share_want(1, 199 * MS, 1 * SEC), 0);
    QT_CHECK_EQ_INT(qt_pacer_share_want(0, 990 * MS, 1 * SEC), 1);
    QT_CHECK_EQ_INT(qt_pacer_share_want(1, 0, 0), 1);
    QT_CHECK_EQ_INT(qt_pacer_share_want(0, 0, 0), 0);
}

/* A thread that idles until told to stop; it reports its CPU set on
 * request. */
typedef struct idler {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
} idler;

static void *idle_main(void *arg)
{
    idler *id = arg;
    pthread_mutex_lock(&id->mu);
    while (!id->stop)
        pthread_cond_wait(&id->cv, &id->mu);
    pthread_mutex_unlock(&id->mu);
    return NULL;
}

/* Sharing with real threads: the caller and a running thread end up on the
 * caller's one CPU, a thread started meanwhile inherits it, and unsharing
 * gives every thread the caller's earlier CPUs. Needs two CPUs. */
static void test_share_cpu(void)
{
    cpu_set_t all, set;
    idler id = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    pthread_t a, b;
    if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2) {
        printf("test_share_cpu: skipped, fewer than 2 CPUs\n");
        QT_CHECK_EQ_INT(qt_pacer_share_cpu(1), -1);
        return;
    }
    QT_CHECK(pthread_create(&a, NULL, idle_main, &id) == 0);
    QT_CHECK_EQ_INT(qt_pacer_share_cpu(1), 0);
    QT_CHECK_EQ_INT(qt_pacer_share_cpu(1), 0); /* again: no change */
    QT_CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    QT_CHECK_EQ_INT(CPU_COUNT(&set), 1);
    {
        cpu_set_t ta, tb;
        QT_CHECK(pthread_create(&b, NULL, idle_main, &id) == 0);
        QT_CHECK(pthread_getaffinity_np(a, sizeof ta, &ta) == 0);
        QT_CHECK(pthread_getaffinity_np(b, sizeof tb, &tb) == 0);
        QT_CHECK(CPU_EQUAL(&ta, &set));
        QT_CHECK(CPU_EQUAL(&tb, &set));
    }
    QT_CHECK_EQ_INT(qt_pacer_share_cpu(0), 0);
    QT_CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    QT_CHECK(CPU_EQUAL(&set, &all));
    {
        cpu_set_t ta, tb;
        QT_CHECK(pthread_getaffinity_np(a, sizeof ta, &ta) == 0);
        QT_CHECK(pthread_getaffinity_np(b, sizeof tb, &tb) == 0);
        QT_CHECK(CPU_EQUAL(&ta, &all));
        QT_CHECK(CPU_EQUAL(&tb, &all));
    }
    QT_CHECK_EQ_INT(qt_pacer_share_cpu(0), 0); /* again: no change */
    pthread_mutex_lock(&id.mu);
    id.stop = 1;
    pthread_cond_broadcast(&id.cv);
    pthread_mutex_unlock(&id.mu);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
}

/* The real clock: 20 messages 2 ms apart at 1x take 38 ms, each on time
 * within a loose bound (tests run on loaded machines and under sanitizers). */
static void test_real_clock(void)
{
    qt_pacer_cfg cfg = {1.0, 0, -1, 0};
    qt_pacer p;
    int64_t t0, t1;
    qt_pacer_tune_thread();
    qt_pacer_init(&p, &cfg, NULL);
    t0 = qt_clock_monotonic()->now(NULL);
    for (int i = 0; i < 20; i++)
        QT_CHECK(qt_pacer_wait(&p, 1000 * SEC + i * 2 * MS, NULL) >= 0);
    t1 = qt_clock_monotonic()->now(NULL);
    QT_CHECK(t1 - t0 >= 38 * MS);
    QT_CHECK(t1 - t0 < 60 * MS);
    QT_CHECK_EQ_INT(p.lat.n, 20);
    QT_CHECK(qt_lat_hist_quantile(&p.lat, 0.5) < 1 * MS);
}

int main(void)
{
    test_due_table();
    test_wait_exact();
    test_late_no_drift();
    test_oversleep();
    test_max_speed();
    test_loop_reanchor();
    test_stop();
    test_sleep_chunks();
    test_spin();
    test_spin_adaptive();
    test_has_time();
    test_slept();
    test_nap();
    test_warm();
    test_keep_warm();
    test_share_want();
    test_share_cpu();
    test_hist();
    test_hist_sum_saturates();
    test_real_clock();
    return qt_test_done("test_pacer");
}
