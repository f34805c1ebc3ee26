/* bench_replay_timer — the machine's own timer floor, for reading the
 * replay's pacing numbers: N absolute sleeps (clock_nanosleep TIMER_ABSTIME
 * on CLOCK_MONOTONIC, timer slack 1 ns) of GAP microseconds, no spin, and
 * how late each one woke. Prints "p50_ns p99_ns max_ns".
 *
 * usage: bench_replay_timer [N [GAP_US]]   (default 2000 sleeps of 2000 us) */
#include <stdio.h>
#include <stdlib.h>

#include "core/pacer.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    long gap_us = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    const qt_clock *c = qt_clock_monotonic();
    qt_lat_hist h;

    if (n < 1 || n > 1000000 || gap_us < 1 || gap_us > 1000000) {
        fprintf(stderr, "usage: bench_replay_timer [N [GAP_US]]\n");
        return 2;
    }
    qt_pacer_tune_thread();
    qt_lat_hist_init(&h);
    for (long i = 0; i < n; i++) {
        int64_t due = c->now(c->ud) + gap_us * 1000;
        int64_t now;
        do {
            c->sleep_until(due, c->ud);
        } while ((now = c->now(c->ud)) < due);
        qt_lat_hist_add(&h, now - due);
    }
    printf("%lld %lld %lld\n", (long long)qt_lat_hist_quantile(&h, 0.5),
           (long long)qt_lat_hist_quantile(&h, 0.99), (long long)h.max);
    return 0;
}
