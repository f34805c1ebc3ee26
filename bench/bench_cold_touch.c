/* bench_cold_touch — the machine's cold-memory floor, for reading the
 * replay's pacing numbers: what it costs a thread to touch memory it used
 * before, right after it slept. A real-time thread sleeps GAP microseconds
 * (absolute sleep to 500 us before the moment, then a spin, as the pacer
 * does), then reads one byte from each of PAGES pages it wrote at start, and
 * times that. Where nothing else ran on the CPU meanwhile, the gap would
 * not matter; on a shared VM a long sleep lets the host evict the guest's
 * caches and mappings, and the first touches pay. Prints "p50_ns p99_ns
 * max_ns".
 *
 * usage: bench_cold_touch [N [GAP_US [PAGES]]]   (default 300, 20000 us, 16) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pacer.h"

#define PAGE 4096

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 300;
    long gap_us = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
    long pages = argc > 3 ? strtol(argv[3], NULL, 10) : 16;
    const qt_clock *c = qt_clock_monotonic();
    volatile unsigned char sink = 0;
    unsigned char *mem;
    qt_lat_hist h;
    qt_sched saved;
    int rt;

    if (n < 1 || n > 100000 || gap_us < 600 || gap_us > 1000000 || pages < 1 || pages > 4096) {
        fprintf(stderr, "usage: bench_cold_touch [N [GAP_US >= 600 [PAGES]]]\n");
        return 2;
    }
    if (!(mem = malloc((size_t)pages * PAGE))) {
        fprintf(stderr, "bench_cold_touch: out of memory\n");
        return 1;
    }
    memset(mem, 1, (size_t)pages * PAGE);
    qt_pacer_tune_thread();
    rt = qt_pacer_realtime(&saved) == 0;
    qt_lat_hist_init(&h);
    for (long i = 0; i < n; i++) {
        int64_t at = c->now(c->ud) + gap_us * 1000, t0;
        do
            c->sleep_until(at - 500000, c->ud);
        while (c->now(c->ud) < at - 500000);
        while (c->now(c->ud) < at)
            ;
        t0 = c->now(c->ud);
        for (long p = 0; p < pages; p++)
            sink += mem[(size_t)p * PAGE + (size_t)(i % 64) * 64];
        qt_lat_hist_add(&h, c->now(c->ud) - t0);
    }
    (void)sink; /* the reads are the point */
    if (rt)
        qt_pacer_unrealtime(&saved);
    printf("%lld %lld %lld\n", (long long)qt_lat_hist_quantile(&h, 0.5),
           (long long)qt_lat_hist_quantile(&h, 0.99), (long long)h.max);
    free(mem);
    return 0;
}
