/* quotetape — the pacing clock (see pacer.h). */
#define _GNU_SOURCE /* CPU affinity, gettid */
#include "core/pacer.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
#endif

#define QT_PACER_SPIN_DEFAULT INT64_C(1000000)  /* 1 ms: the adaptive window starts wide */
#define QT_PACER_SPIN_MIN INT64_C(250000)       /* 250 us: below, the wake-up tail shows */
#define QT_PACER_SPIN_MAX INT64_C(3000000)      /* 3 ms: beyond that, spinning costs a core */
#define QT_PACER_LATE_DEFAULT INT64_C(1000000)  /* 1 ms */
#define QT_PACER_SLEEP_CHUNK INT64_C(100000000) /* re-check stop every 100 ms */

/* ---- the real clock ---------------------------------------------------- */

static int64_t qt_mono_now(void *ud)
{
    struct timespec ts;
    (void)ud;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

static void qt_mono_sleep_until(int64_t mono_ns, void *ud)
{
    struct timespec ts;
    (void)ud;
    ts.tv_sec = (time_t)(mono_ns / INT64_C(1000000000));
    ts.tv_nsec = (long)(mono_ns % INT64_C(1000000000));
    /* EINTR: return and let the caller look at its stop flag. */
    (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static const qt_clock qt_clock_mono = {qt_mono_now, qt_mono_sleep_until, NULL};

const qt_clock *qt_clock_monotonic(void)
{
    return &qt_clock_mono;
}

void qt_pacer_tune_thread(void)
{
#ifdef __linux__
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

int qt_pacer_realtime(qt_sched *saved)
{
#ifdef __linux__
    struct sched_param sp = {0};
    if (pthread_getschedparam(pthread_self(), &saved->policy, &sp) != 0)
        return -1;
    saved->priority = sp.sched_priority;
    sp.sched_priority = sched_get_priority_min(SCHED_FIFO);
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0 ? 0 : -1;
#else
    (void)saved;
    return -1;
#endif
}

void qt_pacer_unrealtime(const qt_sched *saved)
{
#ifdef __linux__
    struct sched_param sp = {0};
    sp.sched_priority = saved->priority;
    (void)pthread_setschedparam(pthread_self(), saved->policy, &sp);
#else
    (void)saved;
#endif
}

/* ---- sharing the pacing CPU ------------------------------------------- */

#ifdef __linux__
/* The CPUs the pacing thread had before it shared one: one pacing thread per
 * process (see pacer.h), so one saved set. */
static cpu_set_t qt_share_all;
static int qt_share_on;

/* Sets the affinity of every thread of the process but self (ignoring
 * threads that exit meanwhile). */
static void qt_share_set_others(pid_t self, const cpu_set_t *set)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long tid = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end || tid <= 0 || (pid_t)tid == self)
            continue;
        (void)sched_setaffinity((pid_t)tid, sizeof *set, set);
    }
    closedir(d);
}
#endif

int qt_pacer_share_cpu(int on)
{
#ifdef __linux__
    pid_t self = gettid();
    if (on) {
        cpu_set_t one;
        int cpu;
        if (qt_share_on)
            return 0;
        if (sched_getaffinity(0, sizeof qt_share_all, &qt_share_all) != 0 ||
            CPU_COUNT(&qt_share_all) < 2 || (cpu = sched_getcpu()) < 0 ||
            !CPU_ISSET(cpu, &qt_share_all))
            return -1;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0)
            return -1;
        qt_share_set_others(self, &one);
        qt_share_on = 1;
        return 0;
    }
    if (!qt_share_on)
        return 0;
    qt_share_set_others(self, &qt_share_all);
    qt_share_on = 0;
    return sched_setaffinity(0, sizeof qt_share_all, &qt_share_all) == 0 ? 0 : -1;
#else
    return on ? -1 : 0;
#endif
}

int qt_pacer_share_want(int sharing, int64_t slept_ns, int64_t window_ns)
{
    if (window_ns <= 0)
        return sharing;
    if (sharing)
        return slept_ns * 5 >= window_ns; /* off below 20 % asleep */
    return slept_ns * 5 >= window_ns * 2; /* on from 40 % */
}

/* ---- lateness histogram ------------------------------------------------ */

void qt_lat_hist_init(qt_lat_hist *h)
{
    memset(h, 0, sizeof *h);
}

static int qt_lat_bucket(int64_t v)
{
    int e;
    if (v < 0)
        v = 0;
    if (v < 32)
        return (int)v;
    e = 63 - __builtin_clzll((unsigned long long)v); /* floor(log2 v), >= 5 */
    return 32 + (e - QT_LAT_SUB_BITS) * 32 + (int)((v >> (e - QT_LAT_SUB_BITS)) & 31);
}

/* Middle of bucket i, in ns. */
static int64_t qt_lat_bucket_mid(int i)
{
    int e, sub;
    int64_t lo, width;
    if (i < 32)
        return i;
    e = (i - 32) / 32 + QT_LAT_SUB_BITS;
    sub = (i - 32) % 32;
    width = INT64_C(1) << (e - QT_LAT_SUB_BITS);
    lo = (int64_t)(32 + sub) * width;
    return lo + width / 2;
}

void qt_lat_hist_add(qt_lat_hist *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    h->b[qt_lat_bucket(ns)]++;
    h->n++;
    /* Saturates: a lag of years (a client measuring old quotes against the
     * wall clock) must not overflow the sum. */
    h->sum_ns = ns > INT64_MAX - h->sum_ns ? INT64_MAX : h->sum_ns + ns;
    if (ns > h->max)
        h->max = ns;
}

void qt_lat_hist_merge(qt_lat_hist *dst, const qt_lat_hist *src)
{
    for (int i = 0; i < QT_LAT_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->n += src->n;
    dst->sum_ns = src->sum_ns > INT64_MAX - dst->sum_ns ? INT64_MAX : dst->sum_ns + src->sum_ns;
    if (src->max > dst->max)
        dst->max = src->max;
}

int64_t qt_lat_hist_quantile(const qt_lat_hist *h, double q)
{
    uint64_t rank, seen = 0;
    int i;
    if (!h->n)
        return 0;
    if (q <= 0)
        q = 1e-12;
    if (q > 1)
        q = 1;
    rank = (uint64_t)((double)h->n * q);
    if ((double)rank < (double)h->n * q)
        rank++;
    if (rank < 1)
        rank = 1;
    for (i = 0; i < QT_LAT_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            int64_t mid = qt_lat_bucket_mid(i);
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

/* ---- pacer ------------------------------------------------------------- */

void qt_pacer_init(qt_pacer *p, const qt_pacer_cfg *cfg, const qt_clock *clk)
{
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    if (p->cfg.speed < 0)
        p->cfg.speed = 0;
    if (p->cfg.max_gap_ns < 0)
        p->cfg.max_gap_ns = 0;
    p->adaptive = p->cfg.spin_ns < 0;
    p->spin = p->adaptive ? QT_PACER_SPIN_DEFAULT : p->cfg.spin_ns;
    if (p->cfg.late_ns <= 0)
        p->cfg.late_ns = QT_PACER_LATE_DEFAULT;
    p->clk = clk ? *clk : qt_clock_mono;
    qt_lat_hist_init(&p->lat);
}

/* Tape time scaled to wall time at the configured speed. */
static int64_t qt_pacer_scale(const qt_pacer *p, int64_t tape_ns)
{
    if (p->cfg.speed == 1.0)
        return tape_ns;
    return (int64_t)((double)tape_ns / p->cfg.speed);
}

int64_t qt_pacer_due(qt_pacer *p, int64_t ts)
{
    int64_t now, d;

    if (p->cfg.speed == 0) {
        /* Nothing waits at full speed: skip the clock read per message. */
        p->started = 1;
        return 0;
    }
    if (!p->started) {
        /* Anchor the pass: at once, or pass_gap after the last pass's end,
         * whichever is later. Anchoring again (rather than continuing the
         * old anchor) keeps a slow rewind from being paid back in a rush. */
        now = p->clk.now(p->clk.ud);
        p->anchor = now;
        if (p->passes > 0 && p->last_due) {
            int64_t planned = p->last_due + qt_pacer_scale(p, p->pass_gap);
            if (planned > now)
                p->anchor = planned;
        }
        p->started = 1;
        p->passes++;
        p->hw_ts = ts;
        p->vt = 0;
        p->last_due = p->anchor;
        return p->anchor;
    }
    d = ts - p->hw_ts;
    if (d > 0) {
        if (p->cfg.max_gap_ns && d > p->cfg.max_gap_ns)
            d = p->cfg.max_gap_ns;
        p->vt += d;
        p->hw_ts = ts;
    }
    p->last_due = p->anchor + qt_pacer_scale(p, p->vt);
    return p->last_due;
}

int qt_pacer_has_time(const qt_pacer *p, int64_t due)
{
    return p->cfg.speed != 0 && p->clk.now(p->clk.ud) < due - p->spin;
}

/* Sleeps until the clock reads until, in chunks so a stop is seen, and adds
 * the time asleep to slept_ns. now is the clock's reading; returns the
 * reading after, or -1 if *stop became nonzero. */
static int64_t qt_pacer_sleep_to(qt_pacer *p, int64_t now, int64_t until,
                                 volatile sig_atomic_t *stop)
{
    while (now < until) {
        int64_t target = until - now > QT_PACER_SLEEP_CHUNK ? now + QT_PACER_SLEEP_CHUNK : until;
        int64_t woke;
        if (stop && *stop)
            return -1;
        p->clk.sleep_until(target, p->clk.ud);
        woke = p->clk.now(p->clk.ud);
        p->slept_ns += woke - now;
        now = woke;
    }
    return now;
}

int qt_pacer_nap(qt_pacer *p, int64_t due, int64_t max_ns, volatile sig_atomic_t *stop)
{
    int64_t now;

    if (p->cfg.speed == 0)
        return 0;
    now = p->clk.now(p->clk.ud);
    if (now + max_ns >= due - p->spin)
        return 0;
    return qt_pacer_sleep_to(p, now, now + max_ns, stop) < 0 ? -1 : 1;
}

int64_t qt_pacer_wait(qt_pacer *p, int64_t ts, volatile sig_atomic_t *stop)
{
    return qt_pacer_wait_due(p, qt_pacer_due(p, ts), stop);
}

/* Keeping the send's memory warm through a sleep to wake: asleep until
 * QT_PACER_KEEP_SPAN_NS before it, then naps of keep_ns, each followed by a
 * warm() call, while one more nap and a cold call still fit (a nap starts
 * when the previous call ends). Returns the clock's reading, which an
 * oversleeping nap or a slow call may have taken past wake, or -1 if *stop
 * became nonzero; *over is the last nap's oversleep (left alone if none). */
static int64_t qt_pacer_keep_warm(qt_pacer *p, int64_t now, int64_t wake,
                                  volatile sig_atomic_t *stop, int64_t *over)
{
    int64_t from = wake - QT_PACER_KEEP_SPAN_NS, target;
    if (now < from && (now = qt_pacer_sleep_to(p, now, from, stop)) < 0)
        return -1;
    while (wake - now - QT_PACER_WARM_COLD_NS > p->keep_ns) {
        target = now + p->keep_ns;
        if ((now = qt_pacer_sleep_to(p, now, target, stop)) < 0)
            return -1;
        *over = now - target;
        if (wake - now < QT_PACER_WARM_COLD_NS)
            break; /* overslept: no time for a call */
        if (stop && *stop)
            return -1;
        p->warm(p->warm_ud);
        p->warms++;
        p->keeps++;
        now = p->clk.now(p->clk.ud);
    }
    return now;
}

int64_t qt_pacer_wait_due(qt_pacer *p, int64_t due, volatile sig_atomic_t *stop)
{
    int64_t now, wake, late, over = -1; /* the last wake-up's oversleep; -1 = none */

    if (p->cfg.speed == 0)
        return 0;
    wake = due - p->spin;
    now = p->clk.now(p->clk.ud);
    if (now < wake && p->warm && p->keep_ns > 0 &&
        (now = qt_pacer_keep_warm(p, now, wake, stop, &over)) < 0)
        return -1;
    if (now < wake) {
        if ((now = qt_pacer_sleep_to(p, now, wake, stop)) < 0)
            return -1;
        over = now - wake;
    }
    if (over >= 0 && p->adaptive) {
        /* how late did this machine wake (at the end of the sleep, or of
         * the nap that ended it)? widen at once, narrow slowly: the window
         * has to cover the tail of the wake-ups, not their typical delay */
        int64_t want = over + over / 2;
        if (want > p->spin)
            p->spin = want;
        else
            p->spin -= (p->spin - want) / 1024;
        if (p->spin < QT_PACER_SPIN_MIN)
            p->spin = QT_PACER_SPIN_MIN;
        if (p->spin > QT_PACER_SPIN_MAX)
            p->spin = QT_PACER_SPIN_MAX;
    }
    if (p->warm) {
        /* rehearse the send while spinning; the first call while spinning
         * may be slow (cold memory), a later one likely takes what the last
         * one took, and none starts without twice that left */
        int64_t cost = QT_PACER_WARM_COLD_NS / 2, next = now, t0;
        while (now < due) {
            if (now >= next && due - now >= 2 * cost) {
                if (stop && *stop)
                    return -1;
                t0 = now;
                p->warm(p->warm_ud);
                p->warms++;
                now = p->clk.now(p->clk.ud);
                cost = now - t0;
                next = now + QT_PACER_WARM_EVERY_NS;
                continue;
            }
            now = p->clk.now(p->clk.ud);
        }
    }
    while (now < due)
        now = p->clk.now(p->clk.ud);
    late = now - due;
    qt_lat_hist_add(&p->lat, late);
    if (late > p->cfg.late_ns)
        p->late++;
    return late;
}

void qt_pacer_set_warm(qt_pacer *p, void (*warm)(void *ud), void *ud, int64_t keep_ns)
{
    p->warm = warm;
    p->warm_ud = ud;
    /* a nap as long as the span never fits in it: none (and no overflow) */
    p->keep_ns = keep_ns > 0 && keep_ns < QT_PACER_KEEP_SPAN_NS ? keep_ns : 0;
}

void qt_pacer_new_pass(qt_pacer *p, int64_t gap_ns)
{
    p->started = 0;
    p->pass_gap = gap_ns < 0 ? 0 : gap_ns;
}
