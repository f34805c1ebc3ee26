/* qt_genfix — deterministic generator of the synthetic sample tapes in
 * fixtures/.
 *
 * Writes canonical tape JSON lines (schema/tape-jsonl.md), one Alpaca quote
 * per line:
 *
 *   {"recv":"<RFC 3339, 9 digits>","msg":{"T":"q","S":..,"bx":..,"bp":..,
 *    "bs":..,"ax":..,"ap":..,"as":..,"c":[..],"z":..,"t":".."}}
 *
 * Two shapes:
 *   spy       a regular-hours SPY session shaped like Alpaca's IEX feed:
 *             bursts (runs of quotes microseconds apart, some with equal
 *             timestamps), quiet stretches of seconds, a busier opening,
 *             a cent-tick random walk near 512 USD, 1-5 cent spreads, a few
 *             late (out-of-order) quotes;
 *   fakepaca  Alpaca's test stream (wss://.../v2/test, symbol FAKEPACA):
 *             one quote about every 5 s.
 *
 * Determinism: the only randomness is our own xoshiro256** seeded through
 * splitmix64 from --seed, and every computation is integer arithmetic (no
 * floating point, no libm, no locale), so one seed gives the same bytes on
 * every machine and compiler. Prices are integer cents printed the way
 * Alpaca's JSON encoder prints a float64: shortest form, so 512.3 and 512.
 *
 * The output is SYNTHETIC; it is not real market data. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/qtime.h"

#define GF_NAME "qt_genfix"
#define GF_SPY_START "2026-03-02T14:30:00Z"
#define GF_FAKEPACA_START "2026-03-02T13:00:00Z"
#define GF_MINUTES_MAX 1440

/* ------------------------------------------------------------------------ */
/* PRNG: splitmix64 seeds xoshiro256** (Blackman & Vigna)                    */
/* ------------------------------------------------------------------------ */

typedef struct gf_rng {
    uint64_t s[4];
} gf_rng;

static uint64_t gf_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void gf_rng_seed(gf_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = gf_splitmix64(&seed);
}

static uint64_t gf_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t gf_next(gf_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = gf_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = gf_rotl(s[3], 45);
    return result;
}

/* Uniform integer in [lo, hi] (inclusive). The modulo bias is below 2^-40
 * for the small ranges used here, and it is the same on every machine. */
static int64_t gf_range(gf_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(gf_next(r) % span);
}

/* True with probability num/den. */
static int gf_chance(gf_rng *r, uint64_t num, uint64_t den)
{
    return gf_next(r) % den < num;
}

/* Index drawn from integer weights w[0..n-1]. */
static int gf_pick(gf_rng *r, const unsigned *w, int n)
{
    uint64_t total = 0, x;
    for (int i = 0; i < n; i++)
        total += w[i];
    x = gf_next(r) % total;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct gf_quote {
    const char *sym;
    const char *bx, *ax, *z;
    int64_t bp, ap; /* cents */
    int bs, as;
    int64_t t, recv; /* ns since the epoch */
} gf_quote;

/* Formats cents as Alpaca's encoder prints the float64 price: the shortest
 * decimal, no trailing zeros ("512.34", "512.3", "512"). */
static void gf_price(int64_t cents, char *buf, size_t n)
{
    int64_t whole = cents / 100, frac = cents % 100;
    if (frac == 0)
        snprintf(buf, n, "%" PRId64, whole);
    else if (frac % 10 == 0)
        snprintf(buf, n, "%" PRId64 ".%" PRId64, whole, frac / 10);
    else
        snprintf(buf, n, "%" PRId64 ".%02" PRId64, whole, frac);
}

/* Writes one canonical tape line. recv has exactly 9 fractional digits; the
 * event time t is written as Alpaca writes it (Go's RFC3339Nano: trailing
 * zeros of the fraction trimmed). Returns 0, or -1 on a write error. */
static int gf_write(FILE *f, const gf_quote *q)
{
    char recv[QT_TIME_STRMAX], t[QT_TIME_STRMAX], bp[32], ap[32];
    qt_time_format(q->recv, 9, recv);
    qt_time_format(q->t, -1, t);
    gf_price(q->bp, bp, sizeof bp);
    gf_price(q->ap, ap, sizeof ap);
    return fprintf(f,
                   "{\"recv\":\"%s\",\"msg\":{\"T\":\"q\",\"S\":\"%s\",\"bx\":\"%s\",\"bp\":%s,"
                   "\"bs\":%d,\"ax\":\"%s\",\"ap\":%s,\"as\":%d,\"c\":[\"R\"],\"z\":\"%s\","
                   "\"t\":\"%s\"}}\n",
                   recv, q->sym, q->bx, bp, q->bs, q->ax, ap, q->as, q->z, t) < 0
               ? -1
               : 0;
}

/* Statistics printed to stderr at the end, copied into fixtures/README.md. */
typedef struct gf_stats {
    long quotes, equal_t, late, gaps3s;
    int64_t max_gap, max_late;
    int64_t lo, hi; /* bid range, cents */
} gf_stats;

/* ------------------------------------------------------------------------ */
/* SPY on the IEX feed                                                       */
/* ------------------------------------------------------------------------ */

/* Quiet stretches: a few seconds without a quote, about 1 in 400 events. */
#define SPY_GAP_DEN 400
#define SPY_GAP_MIN_US 3000000
#define SPY_GAP_MAX_US 12000000
/* Bursts: about 1 in 10 events starts a run of 2..14 more quotes, a
 * quarter of them with the same timestamp as the one before. */
#define SPY_BURST_DEN 10
#define SPY_BURST_MAX 14
#define SPY_SAME_T_PCT 25
/* Late quotes: about 1 in 1000 events carries an event time 50 ms..3 s
 * behind the stream (what window lateness handling must cope with). */
#define SPY_LATE_DEN 1000
#define SPY_LATE_MIN_US 50000
#define SPY_LATE_MAX_US 3000000

/* Inter-arrival of ordinary quotes: log-spaced buckets (µs), heavy-tailed
 * like real quote traffic; mean about 250 ms before the opening boost. */
static const int64_t spy_dt_lo[] = {1000, 10000, 50000, 150000, 400000, 1000000};
static const int64_t spy_dt_hi[] = {10000, 50000, 150000, 400000, 1000000, 2500000};
static const unsigned spy_dt_w[] = {15, 25, 25, 20, 10, 5};

/* Spread in cents 1..5, sizes in round lots 1..10 (Alpaca reports quote
 * sizes in lots of 100 shares: 3 means 300 shares). */
static const unsigned spy_spread_w[] = {55, 25, 12, 5, 3};
static const unsigned spy_size_w[] = {30, 22, 15, 10, 8, 5, 4, 3, 2, 1};
/* Bid moves per quote: 0, +-1, +-2, +-3 cents. */
static const unsigned spy_move_w[] = {65, 28, 5, 2};

/* Network latency from the venue to us: 0.3 ms + the smaller of two
 * uniform draws up to 2.7 ms (skewed towards fast), with ns jitter. */
static int64_t spy_latency(gf_rng *r)
{
    int64_t a = gf_range(r, 0, 2700), b = gf_range(r, 0, 2700);
    return (300 + (a < b ? a : b)) * QT_NS_PER_US + gf_range(r, 0, 999);
}

/* Updates the book state for one quote: the bid walks in cents, the spread
 * and sizes are redrawn. Clamped to 500..600 USD. */
static void spy_step(gf_rng *r, gf_quote *q, int busy)
{
    int mv = gf_pick(r, spy_move_w, 4);
    if (busy && mv == 0 && gf_chance(r, 1, 2))
        mv = 1; /* bursts flicker the book */
    if (mv) {
        int64_t d = gf_chance(r, 1, 2) ? mv : -mv;
        q->bp += d;
        if (q->bp < 50000)
            q->bp = 50000;
        if (q->bp > 59990)
            q->bp = 59990;
    }
    q->ap = q->bp + 1 + gf_pick(r, spy_spread_w, 5);
    q->bs = 1 + gf_pick(r, spy_size_w, 10);
    q->as = 1 + gf_pick(r, spy_size_w, 10);
}

/* Emits q with event time t: recv is t plus latency, at least recv_min,
 * and never before the previous recv (lines are in receive order). */
static int spy_emit(FILE *f, gf_rng *r, gf_quote *q, int64_t t, int64_t recv_min,
                    int64_t *last_recv, int64_t *last_t, int64_t *max_t, gf_stats *st)
{
    int64_t recv = t + spy_latency(r);
    if (recv < recv_min)
        recv = recv_min;
    if (recv < *last_recv)
        recv = *last_recv;
    q->t = t;
    q->recv = recv;
    *last_recv = recv;
    if (st->quotes > 0) {
        if (t == *last_t)
            st->equal_t++;
        if (t < *max_t) {
            st->late++;
            if (*max_t - t > st->max_late)
                st->max_late = *max_t - t;
        } else if (t - *max_t >= 3 * QT_NS_PER_SEC) {
            st->gaps3s++;
        }
        if (t > *max_t && t - *max_t > st->max_gap)
            st->max_gap = t - *max_t;
    }
    if (st->quotes == 0 || t > *max_t)
        *max_t = t;
    *last_t = t;
    if (q->bp < st->lo)
        st->lo = q->bp;
    if (q->bp > st->hi)
        st->hi = q->bp;
    st->quotes++;
    return gf_write(f, q);
}

/* Opening activity: quotes come 3x as often in the first 2 minutes and 2x
 * in the next 3, as they do after the 09:30 open. */
static int64_t spy_boost(int64_t dt, int64_t since_start)
{
    if (since_start < 120 * QT_NS_PER_SEC)
        return dt / 3;
    if (since_start < 300 * QT_NS_PER_SEC)
        return dt / 2;
    return dt;
}

/* Generates the SPY session into f. */
static int gen_spy(FILE *f, gf_rng *r, int64_t start, int minutes, gf_stats *st)
{
    int64_t end = start + (int64_t)minutes * 60 * QT_NS_PER_SEC;
    int64_t t = start + gf_range(r, 1000, 400000) * QT_NS_PER_US + gf_range(r, 0, 999);
    int64_t last_recv = 0, last_t = 0, max_t = 0;
    gf_quote q = {"SPY", "V", "V", "B", 51234, 51236, 3, 2, 0, 0};

    while (t < end) {
        int n = 1;
        if (gf_chance(r, 1, SPY_BURST_DEN))
            n += (int)gf_range(r, 2, SPY_BURST_MAX);
        for (int i = 0; i < n && t < end; i++) {
            if (i > 0 && !gf_chance(r, SPY_SAME_T_PCT, 100))
                t += gf_range(r, 1, 80000); /* 1 ns .. 80 µs apart */
            spy_step(r, &q, n > 1);
            if (spy_emit(f, r, &q, t, 0, &last_recv, &last_t, &max_t, st))
                return -1;
        }
        if (gf_chance(r, 1, SPY_LATE_DEN)) {
            int64_t late = gf_range(r, SPY_LATE_MIN_US, SPY_LATE_MAX_US) * QT_NS_PER_US;
            int64_t lt = t - late - gf_range(r, 0, 999);
            if (lt > start) {
                /* it arrives now, not when it happened */
                int64_t now = t + gf_range(r, 1000, 20000) * QT_NS_PER_US;
                spy_step(r, &q, 0);
                if (spy_emit(f, r, &q, lt, now, &last_recv, &last_t, &max_t, st))
                    return -1;
            }
        }
        if (gf_chance(r, 1, SPY_GAP_DEN)) {
            t += gf_range(r, SPY_GAP_MIN_US, SPY_GAP_MAX_US) * QT_NS_PER_US;
        } else {
            int b = gf_pick(r, spy_dt_w, 6);
            int64_t dt = gf_range(r, spy_dt_lo[b], spy_dt_hi[b]) * QT_NS_PER_US;
            t += spy_boost(dt, t - start) + gf_range(r, 0, 999);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* FAKEPACA on the test stream                                               */
/* ------------------------------------------------------------------------ */

/* Generates the test-stream sample into f: one quote every 5 s plus 0.8 to
 * 2.2 ms of drift, bid exchange "O", ask exchange "R", tape "A", prices
 * jumping around 134 USD with a wide spread, about one quote in four an
 * exact repeat of the previous one apart from its time (all as seen on
 * wss://stream.data.alpaca.markets/v2/test). recv is 15..40 ms after t:
 * the test stream is reached over the internet. */
static int gen_fakepaca(FILE *f, gf_rng *r, int64_t start, int minutes, gf_stats *st)
{
    int64_t end = start + (int64_t)minutes * 60 * QT_NS_PER_SEC;
    int64_t t = start + gf_range(r, 1, QT_NS_PER_SEC - 1);
    int64_t last_recv = 0, last_t = 0, max_t = 0;
    gf_quote q = {"FAKEPACA", "O", "R", "A", 0, 0, 0, 0, 0, 0};

    while (t < end) {
        if (st->quotes == 0 || !gf_chance(r, 1, 4)) {
            q.bp = gf_range(r, 13200, 13600);
            q.ap = q.bp + gf_range(r, 20, 250);
            q.bs = (int)gf_range(r, 1, 9);
            q.as = (int)gf_range(r, 1, 9);
        }
        int64_t recv = t + gf_range(r, 15000, 40000) * QT_NS_PER_US + gf_range(r, 0, 999);
        if (recv < last_recv)
            recv = last_recv;
        q.t = t;
        q.recv = recv;
        last_recv = recv;
        if (st->quotes > 0 && t - max_t > st->max_gap)
            st->max_gap = t - max_t;
        if (st->quotes > 0 && t - max_t >= 3 * QT_NS_PER_SEC)
            st->gaps3s++;
        max_t = last_t = t;
        if (q.bp < st->lo)
            st->lo = q.bp;
        if (q.bp > st->hi)
            st->hi = q.bp;
        st->quotes++;
        if (gf_write(f, &q))
            return -1;
        t += 5 * QT_NS_PER_SEC + gf_range(r, 800000, 2200000);
    }
    (void)last_t;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */
/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " GF_NAME " --kind spy|fakepaca [--seed N] [--minutes N] [--start TIME]\n"
            "                 [--out FILE]\n"
            "\n"
            "Writes a SYNTHETIC sample tape (not real market data) as tape JSON lines\n"
            "(schema/tape-jsonl.md). The same options give the same bytes on every machine.\n"
            "\n"
            "options:\n"
            "  --kind KIND     spy: a regular-hours SPY session shaped like Alpaca's IEX feed\n"
            "                  (bursts, quiet stretches, a few late quotes);\n"
            "                  fakepaca: Alpaca's test stream, a FAKEPACA quote every ~5 s\n"
            "  --seed N        PRNG seed, decimal or 0x hex (default 1)\n"
            "  --minutes N     session length in minutes, 1..%d (default 30 for spy,\n"
            "                  5 for fakepaca)\n"
            "  --start TIME    session start, RFC 3339 (default " GF_SPY_START " for spy,\n"
            "                  " GF_FAKEPACA_START " for fakepaca)\n"
            "  --out FILE      write to FILE instead of stdout\n"
            "  --help          show this help\n"
            "\n"
            "example:\n"
            "  " GF_NAME " --kind spy --seed 20260302 --out fixtures/spy-30m.jsonl\n",
            GF_MINUTES_MAX);
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, GF_NAME ": %s '%s'\n", msg, arg);
    fprintf(stderr, "try '" GF_NAME " --help'\n");
    return qt_exit_code(QT_EUSAGE);
}

int main(int argc, char **argv)
{
    const char *kind = NULL, *out = NULL, *start_s = NULL, *minutes_s = NULL;
    uint64_t seed = 1;
    int minutes;
    int64_t start;
    char err[256];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--kind") && strcmp(a, "--seed") && strcmp(a, "--minutes") &&
            strcmp(a, "--start") && strcmp(a, "--out"))
            return usage_error("unknown option", a);
        if (i + 1 >= argc)
            return usage_error("missing value for option", a);
        const char *v = argv[++i];
        if (strcmp(a, "--kind") == 0) {
            kind = v;
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--start") == 0) {
            start_s = v;
        } else if (strcmp(a, "--minutes") == 0) {
            minutes_s = v;
        } else {
            char *endp;
            errno = 0;
            unsigned long long s = strtoull(v, &endp, 0);
            if (errno || endp == v || *endp || v[0] == '-')
                return usage_error("invalid seed", v);
            seed = (uint64_t)s;
        }
    }
    if (!kind)
        return usage_error("missing option", "--kind");
    int spy = strcmp(kind, "spy") == 0;
    if (!spy && strcmp(kind, "fakepaca") != 0)
        return usage_error("unknown kind (expected spy or fakepaca)", kind);

    minutes = spy ? 30 : 5;
    if (minutes_s) {
        char *endp;
        errno = 0;
        long m = strtol(minutes_s, &endp, 10);
        if (errno || endp == minutes_s || *endp || m < 1 || m > GF_MINUTES_MAX)
            return usage_error("invalid minutes (expected 1..1440)", minutes_s);
        minutes = (int)m;
    }
    if (!start_s)
        start_s = spy ? GF_SPY_START : GF_FAKEPACA_START;
    if (qt_time_parse(start_s, strlen(start_s), &start, err, sizeof err)) {
        fprintf(stderr, GF_NAME ": invalid start time '%s': %s\n", start_s, err);
        return qt_exit_code(QT_EUSAGE);
    }

    FILE *f = stdout;
    if (out) {
        f = fopen(out, "w");
        if (!f) {
            fprintf(stderr, GF_NAME ": cannot open '%s': %s\n", out, strerror(errno));
            return qt_exit_code(QT_EIO);
        }
    }

    gf_rng r;
    gf_stats st = {0, 0, 0, 0, 0, 0, INT64_MAX, INT64_MIN};
    gf_rng_seed(&r, seed);
    int rc = spy ? gen_spy(f, &r, start, minutes, &st) : gen_fakepaca(f, &r, start, minutes, &st);
    int cerr = out ? fclose(f) : fflush(f);
    if (rc || cerr) {
        fprintf(stderr, GF_NAME ": cannot write '%s': %s\n", out ? out : "<stdout>",
                strerror(errno));
        return qt_exit_code(QT_EIO);
    }
    fprintf(stderr,
            GF_NAME ": %s seed %" PRIu64 ": %ld quotes, %ld equal-t pairs, %ld late"
                    " (max %" PRId64 " ms), %ld gaps >= 3 s (max %" PRId64
                    " ms), bid %" PRId64 ".%02" PRId64 "..%" PRId64 ".%02" PRId64 "\n",
            kind, seed, st.quotes, st.equal_t, st.late, st.max_late / QT_NS_PER_MS, st.gaps3s,
            st.max_gap / QT_NS_PER_MS, st.lo / 100, st.lo % 100, st.hi / 100, st.hi % 100);
    return 0;
}
