/* bench_pace_ref — the reference for the replay's pacing numbers: the
 * straightforward paced producer, measured on the same machine in the same
 * run. It reads "recv_ns<TAB>key<TAB>value" lines, then produces each value
 * with librdkafka (the replay's producer settings: idempotent, lz4, linger
 * 5 ms) at start + (recv_i - recv_0) / SPEED: an absolute sleep to 1 ms
 * before the due time, a spin, rd_kafka_producev. The thread runs real-time
 * where permitted, as the replay's pacing thread does; unlike the replay it
 * leaves the producer's threads wherever the kernel puts them. Lateness is
 * measured as the replay measures it (quotes of a burst included). Prints
 * "p50_ns p99_ns max_ns" on stdout.
 *
 * usage: bench_pace_ref BROKERS TOPIC SPEED < LINES */
#define _GNU_SOURCE /* sched_param with pthread_setschedparam */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pacer.h"

#define SPIN_NS INT64_C(1000000)

typedef struct ref_msg {
    int64_t recv_ns;
    char *key, *value;
} ref_msg;

/* Reads every line of stdin into *out; returns the count, -1 on a bad line. */
static long read_lines(ref_msg **out)
{
    char *line = NULL;
    size_t cap = 0;
    long n = 0, alloc = 0;
    ref_msg *v = NULL;
    while (getline(&line, &cap, stdin) > 0) {
        char *k = strchr(line, '\t'), *val = k ? strchr(k + 1, '\t') : NULL, *nl;
        if (!val)
            return -1;
        *k++ = 0;
        *val++ = 0;
        if ((nl = strchr(val, '\n')))
            *nl = 0;
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            if (!(v = realloc(v, (size_t)alloc * sizeof *v)))
                return -1;
        }
        v[n].recv_ns = strtoll(line, NULL, 10);
        if (!(v[n].key = strdup(k)) || !(v[n].value = strdup(val)))
            return -1;
        n++;
    }
    free(line);
    *out = v;
    return n;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench_pace_ref: %s: %s\n", k, e);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    const qt_clock *clk = qt_clock_monotonic();
    ref_msg *m;
    long n;
    double speed;
    char e[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    const struct rd_kafka_metadata *md;
    struct sched_param sp = {0};
    qt_lat_hist h;
    int64_t start;

    if (argc != 4 || (speed = strtod(argv[3], NULL)) <= 0) {
        fprintf(stderr, "usage: bench_pace_ref BROKERS TOPIC SPEED < LINES\n");
        return 2;
    }
    if ((n = read_lines(&m)) <= 0) {
        fprintf(stderr, "bench_pace_ref: no input, or a line without two tabs\n");
        return 2;
    }
    conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", argv[1]);
    set(conf, "enable.idempotence", "true");
    set(conf, "compression.type", "lz4");
    set(conf, "linger.ms", "5");
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e))) {
        fprintf(stderr, "bench_pace_ref: %s\n", e);
        return 1;
    }
    rkt = rd_kafka_topic_new(rk, argv[2], NULL);
    /* connected before the clock starts */
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench_pace_ref: no metadata from %s\n", argv[1]);
        return 1;
    }
    rd_kafka_metadata_destroy(md);

    qt_pacer_tune_thread();
    sp.sched_priority = sched_get_priority_min(SCHED_FIFO);
    (void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    qt_lat_hist_init(&h);
    start = clk->now(clk->ud);
    for (long i = 0; i < n; i++) {
        int64_t due = start + (int64_t)((double)(m[i].recv_ns - m[0].recv_ns) / speed), now;
        if ((now = clk->now(clk->ud)) < due - SPIN_NS) {
            rd_kafka_poll(rk, 0);
            clk->sleep_until(due - SPIN_NS, clk->ud);
        }
        while ((now = clk->now(clk->ud)) < due)
            ;
        qt_lat_hist_add(&h, now - due);
        if (rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                              RD_KAFKA_V_KEY(m[i].key, strlen(m[i].key)),
                              RD_KAFKA_V_VALUE(m[i].value, strlen(m[i].value)),
                              RD_KAFKA_V_TIMESTAMP(0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "bench_pace_ref: produce failed\n");
            return 1;
        }
    }
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench_pace_ref: not all delivered\n");
        return 1;
    }
    printf("%lld %lld %lld\n", (long long)qt_lat_hist_quantile(&h, 0.5),
           (long long)qt_lat_hist_quantile(&h, 0.99), (long long)h.max);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    for (long i = 0; i < n; i++) {
        free(m[i].key);
        free(m[i].value);
    }
    free(m);
    return 0;
}
