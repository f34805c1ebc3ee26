/* quotetape — the pacing clock: when each replayed message is due.
 *
 * Message i of a pass is due at
 *
 *     anchor + vt_i / speed      (CLOCK_MONOTONIC)
 *
 * where vt_i is the message's pace time (receive or event time, ns) minus the
 * first one's, with every silence longer than max_gap cut down to max_gap.
 * Due times are absolute: a message that goes late (the sink blocked, the
 * machine was busy) does not push the ones after it, so lateness never
 * accumulates into drift. A late message goes at once and is counted. Equal
 * or near pace times give equal or near due times, so bursts stay bursts. A
 * pace time lower than one already seen (out of order across symbols) is due
 * with the highest seen so far.
 *
 * Waiting is an absolute-time sleep (clock_nanosleep with TIMER_ABSTIME, so a
 * wake-up delay is never added twice) to a spin window before the due time,
 * then a spin on the clock; with the process timer slack set to 1 ns this
 * lands within a few microseconds. By default the window adapts: it starts
 * at 1 ms and follows how late this machine actually wakes from such sleeps
 * (the worst recent oversleep plus a half, narrowing by 1/1024 a sleep,
 * between 250 us and 3 ms): the window must cover the tail of the wake-up
 * delays, not their median, and spinning 250 us costs under 1 % of a core
 * at the gaps of a real-time replay. A thread that spins can still be
 * preempted by other threads of the machine; qt_pacer_realtime() asks for a
 * real-time policy so that they cannot. What no spin can hide is the host
 * taking the CPU away: on a shared VM that sets the floor (bench/replay.sh
 * measures it).
 *
 * The clock is injectable (qt_clock) so the arithmetic is tested without
 * sleeping. Lateness (wake-up time minus due time) goes into a log-linear
 * histogram of fixed size, so memory does not grow with the tape. */
#ifndef QT_PACER_H
#define QT_PACER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* A monotonic clock: now() in ns; sleep_until() sleeps until the clock reads
 * at least mono_ns, or returns earlier (a signal arrived). */
typedef struct qt_clock {
    int64_t (*now)(void *ud);
    void (*sleep_until)(int64_t mono_ns, void *ud);
    void *ud;
} qt_clock;

/* The real clock: CLOCK_MONOTONIC and clock_nanosleep(TIMER_ABSTIME). */
const qt_clock *qt_clock_monotonic(void);

/* Lowers this thread's timer slack to 1 ns (Linux; a no-op elsewhere), so an
 * absolute sleep is not rounded up by the default 50 us. */
void qt_pacer_tune_thread(void);

/* The scheduling policy of a thread, to put back. */
typedef struct qt_sched {
    int policy, priority;
} qt_sched;

/* Asks for real-time scheduling (SCHED_FIFO at its lowest priority) for the
 * calling thread, so that no ordinary thread of the machine can preempt it
 * while it spins to a due time. Returns 0 when granted, with the old policy
 * in *saved; -1 when refused (no CAP_SYS_NICE, RLIMIT_RTPRIO 0, not Linux),
 * and nothing changed. For one pacing thread: many real-time spinners would
 * starve everything else. The kernel's real-time throttling (95 % of a
 * core by default) still bounds what it can take. */
int qt_pacer_realtime(qt_sched *saved);
/* Puts back the policy qt_pacer_realtime() replaced. */
void qt_pacer_unrealtime(const qt_sched *saved);

/* Sharing the pacing CPU. Handing a message to a thread of another CPU that
 * sleeps (the Kafka producer's network thread, after a quiet spell) makes
 * the sender wake that CPU: on a VM that wake costs the sender 15 us at the
 * median and 50 us at p99, and every quote of a burst waits behind it. Woken
 * on the sender's own CPU, the same thread costs 1-2 us and, the sender being
 * real-time, runs once the sender sleeps.
 *
 * qt_pacer_share_cpu(1) keeps the calling thread on the CPU it runs on and
 * moves every other thread of the process there too (threads they start
 * later inherit it); qt_pacer_share_cpu(0) gives every thread the CPUs the
 * caller had before. Returns 0 on success; -1 when the process has a single
 * CPU to run on, or the system refuses (not Linux, a cpuset), with nothing
 * changed. Only for a real-time caller, which ordinary threads on its CPU
 * cannot preempt; one such caller per process. */
int qt_pacer_share_cpu(int on);

/* Whether a real-time pacing thread should share its CPU, given whether it
 * does now and how much of the last window_ns it slept: only while it sleeps
 * most of the time do the other threads get enough of its CPU. Turns on at
 * 40 % asleep, off below 20 % (the gap keeps it from flapping). */
int qt_pacer_share_want(int sharing, int64_t slept_ns, int64_t window_ns);

/* ---- lateness histogram ------------------------------------------------ */

/* Log-linear buckets: exact below 32 ns, then 32 per power of two (about 3 %
 * resolution) up to 2^62 ns. */
#define QT_LAT_SUB_BITS 5
#define QT_LAT_BUCKETS (32 + 58 * 32)

typedef struct qt_lat_hist {
    uint64_t n;
    int64_t max, sum_ns; /* sum_ns saturates at INT64_MAX */
    uint64_t b[QT_LAT_BUCKETS];
} qt_lat_hist;

void qt_lat_hist_init(qt_lat_hist *h);
void qt_lat_hist_add(qt_lat_hist *h, int64_t ns);
/* Adds every value of src into dst (sum saturating as in _add). */
void qt_lat_hist_merge(qt_lat_hist *dst, const qt_lat_hist *src);
/* The q-quantile (0 < q <= 1) in ns: the middle of the bucket holding the
 * ceil(q*n)-th smallest value, capped by the exact max. 0 when empty. */
int64_t qt_lat_hist_quantile(const qt_lat_hist *h, double q);

/* ---- pacer ------------------------------------------------------------- */

typedef struct qt_pacer_cfg {
    double speed;       /* 1 real time, N N-times faster, 0 as fast as possible */
    int64_t max_gap_ns; /* longest silence kept, in tape time; 0 = no cap */
    int64_t spin_ns;    /* spin this long before the due time; < 0 = adaptive (default) */
    int64_t late_ns;    /* lateness above this counts as late; <= 0 = default 1 ms */
} qt_pacer_cfg;

typedef struct qt_pacer {
    qt_pacer_cfg cfg;
    qt_clock clk;
    int started;       /* this pass has its anchor */
    int64_t anchor;    /* mono ns at which the pass's first message is due */
    int64_t hw_ts;     /* highest pace time seen this pass */
    int64_t vt;        /* tape time from the pass's first message to hw_ts, gaps capped */
    int64_t last_due;  /* due time of the last message; 0 before any */
    int64_t pass_gap;  /* tape time between the last message of a pass and the next */
    uint64_t passes;   /* passes begun */
    uint64_t late;     /* messages later than cfg.late_ns */
    qt_lat_hist lat;   /* lateness of every paced message */
    int adaptive;      /* the spin window follows observed oversleep */
    int64_t spin;      /* the spin window in force */
    int64_t slept_ns;  /* time spent asleep in qt_pacer_wait_due(), in all */
    void (*warm)(void *ud); /* see qt_pacer_set_warm(); NULL = none */
    void *warm_ud;
    int64_t keep_ns;   /* warm() every keep_ns before a wake-up; 0 = none */
    uint64_t warms;    /* warm() calls, in all */
    uint64_t keeps;    /* of them, calls between naps (keep_ns) */
} qt_pacer;

/* Sets the pacer up; clk NULL = qt_clock_monotonic(). Copies cfg and clk. */
void qt_pacer_init(qt_pacer *p, const qt_pacer_cfg *cfg, const qt_clock *clk);

/* The due time (monotonic ns) of the next message, whose pace time is ts, and
 * advances the pacer past it. The first message of a pass is due now (or, on
 * a later pass, pass_gap/speed after the previous pass's last message,
 * whichever is later). At speed 0 every message is due at once: returns 0
 * without reading the clock. */
int64_t qt_pacer_due(qt_pacer *p, int64_t ts);

/* Waits until the next message (pace time ts) is due; returns its lateness in
 * ns (>= 0), recorded in the histogram and counted as late above late_ns, or
 * -1 if *stop became nonzero while waiting (nothing recorded). stop may be
 * NULL. At speed 0 returns 0 at once and records nothing. */
int64_t qt_pacer_wait(qt_pacer *p, int64_t ts, volatile sig_atomic_t *stop);

/* qt_pacer_wait in two steps, for a caller with work to do in between:
 * qt_pacer_due(), then qt_pacer_has_time() (1 when due is far enough off
 * that the wait will sleep, so work done now cannot make the message late;
 * always 0 at speed 0), then qt_pacer_wait_due() with that due time. */
int qt_pacer_has_time(const qt_pacer *p, int64_t due);

/* For a caller with work to repeat during a long wait: when due is more than
 * max_ns (plus the spin window) off, sleeps max_ns (counted in slept_ns) and
 * returns 1, for the caller to do its work and ask again; otherwise returns 0
 * at once, and qt_pacer_wait_due() does the rest. -1 if *stop became nonzero
 * while sleeping (stop may be NULL); 0 at speed 0. */
int qt_pacer_nap(qt_pacer *p, int64_t due, int64_t max_ns, volatile sig_atomic_t *stop);
int64_t qt_pacer_wait_due(qt_pacer *p, int64_t due, volatile sig_atomic_t *stop);

/* Warming. On a VM, a thread that slept for more than a few milliseconds
 * finds its memory cold: the host ran other work on the CPU meanwhile and
 * evicted caches and address translations, and some pages apparently
 * have to be mapped again by the hypervisor. Measured on a 2-vCPU VM:
 * touching 16 pages 500 us after a 50 ms sleep took over 50 us one time in
 * five (under 4 us after a 2 ms sleep), and the first Kafka send after a
 * quiet spell took 120-200 us one time in three. Every quote of a burst
 * waits behind that first send.
 *
 * warm(ud), when set, rehearses the next send without sending (the sink's
 * warm()): qt_pacer_wait_due() calls it while it spins, QT_PACER_WARM_EVERY_NS
 * after the end of the previous call, so the send at the due time finds its
 * memory warm. The first call while spinning (after a sleep, the slow one)
 * only starts when at least QT_PACER_WARM_COLD_NS remain, a later one only
 * when twice the last call's time remains: a call makes the message late
 * only if it takes longer than that. A stop is seen between calls. NULL
 * turns it off.
 *
 * Rehearsing only in the spin window comes too late when the host took the
 * memory during a long sleep: the first rehearsal is then the slow one, and
 * the next ones need not be fast yet. With keep_ns > 0, a wait that sleeps
 * breaks its last QT_PACER_KEEP_SPAN_NS before the spin window into naps
 * of keep_ns with a warm() call after each (while one more nap and a cold
 * call fit; a nap starts when the call before it ends), so the memory never
 * sits idle long. A nap that oversleeps past the spin window counts for the
 * adaptive window like the sleep it replaces. keep_ns of 0, or not below
 * QT_PACER_KEEP_SPAN_NS, means no naps. Measured on the busy 2-vCPU VM, 1x
 * busiest minute, alternating runs: the median p99 lateness went from
 * 696 us to 288 us with keep_ns 5 ms (332 us with 2 ms); naps without the
 * calls gave 493 us. QT_PACER_KEEP_WARM_NS is the period to use: one call
 * and one wake-up per period, only while a message is close. */
#define QT_PACER_WARM_EVERY_NS INT64_C(20000)
#define QT_PACER_WARM_COLD_NS INT64_C(200000)
#define QT_PACER_KEEP_WARM_NS INT64_C(5000000)
#define QT_PACER_KEEP_SPAN_NS INT64_C(100000000)
void qt_pacer_set_warm(qt_pacer *p, void (*warm)(void *ud), void *ud, int64_t keep_ns);

/* Starts a new pass (--loop): the next message re-anchors, due gap_ns of
 * tape time (divided by speed) after the last one, or at once if that moment
 * has passed. */
void qt_pacer_new_pass(qt_pacer *p, int64_t gap_ns);

#endif
