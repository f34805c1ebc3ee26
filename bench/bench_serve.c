/* bench_serve — fan-out of the local Alpaca-compatible server (core/aserver).
 *
 * Loads a tape (JSON lines), serves it on 127.0.0.1 and replays it paced by
 * receive time at --speed (100 = a 100x replay; 0 = as fast as possible) to
 * qt_aclient clients that subscribe to every quote. Each quote's "t" is
 * stamped with the publish time (CLOCK_REALTIME) so the clients measure lag
 * as arrival minus publish. Prints one key=value line:
 *   clients=N speed=S published=P delivered=D elapsed_ms=T rate=D/s
 *   lag_p50_us=.. lag_p99_us=.. client_p99_max_us=.. slow=K complete=C
 * where rate is deliveries per second over the replay (first publish to the
 * last client's last message) and client_p99_max is the worst client's own
 * p99 lag. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "core/aserver.h"
#include "core/jsonl.h"
#include "core/lines.h"
#include "core/log.h"
#include "core/pacer.h"
#include "core/qtime.h"

typedef struct bs_tape {
    qt_quote *q;
    size_t n, cap;
    double tape_secs;
} bs_tape;

static int bs_on_msg(const qt_msg *m, void *ud)
{
    bs_tape *t = ud;
    if (m->type != QT_MSG_QUOTE)
        return 0;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 4096;
        qt_quote *p = realloc(t->q, nc * sizeof *p);
        if (!p)
            return 1;
        t->q = p;
        t->cap = nc;
    }
    t->q[t->n++] = m->u.quote;
    return 0;
}

static int bs_load(const char *path, double max_secs, bs_tape *t)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_serve: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    qt_lines r;
    const char *line;
    size_t len;
    qt_err e;
    char err[256];
    qt_lines_init(&r, f, QT_FRAME_MAX);
    while (qt_lines_next(&r, &line, &len, &e) == 1) {
        if (qt_jsonl_parse_line(line, len, bs_on_msg, t, NULL, err, sizeof err))
            continue;
        if (t->n > 1 && max_secs > 0 &&
            (double)(t->q[t->n - 1].recv_ns - t->q[0].recv_ns) / 1e9 > max_secs) {
            t->n--;
            break;
        }
    }
    qt_lines_release(&r);
    fclose(f);
    if (t->n < 2)
        return -1;
    t->tape_secs = (double)(t->q[t->n - 1].recv_ns - t->q[0].recv_ns) / 1e9;
    return 0;
}

typedef struct bs_ev {
    volatile int subscribed;
    pthread_mutex_t mu;
} bs_ev;

static int bs_event(const qt_as_event *ev, void *ud)
{
    bs_ev *e = ud;
    if (ev->kind == QT_AS_SUBSCRIBE) {
        pthread_mutex_lock(&e->mu);
        e->subscribed++;
        pthread_mutex_unlock(&e->mu);
    }
    return QT_AS_SHARED;
}

static int bs_subscribed(bs_ev *e)
{
    pthread_mutex_lock(&e->mu);
    int n = e->subscribed;
    pthread_mutex_unlock(&e->mu);
    return n;
}

static const char *bs_val(const char *out, const char *key, char *buf, size_t n)
{
    char k[64];
    snprintf(k, sizeof k, " %s=", key);
    const char *p = out ? strstr(out, k) : NULL;
    if (!p) {
        snprintf(buf, n, "-1");
        return buf;
    }
    p += strlen(k);
    size_t i = 0;
    while (p[i] && p[i] != ' ' && p[i] != '\n' && i + 1 < n) {
        buf[i] = p[i];
        i++;
    }
    buf[i] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    const char *aclient = NULL, *tape = NULL;
    int clients = 100, msgpack = 0;
    double speed = 100, secs = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        char *end;
        if (strcmp(argv[i], "--aclient") == 0)
            aclient = argv[i + 1];
        else if (strcmp(argv[i], "--tape") == 0)
            tape = argv[i + 1];
        else if (strcmp(argv[i], "--clients") == 0)
            clients = (int)strtol(argv[i + 1], &end, 10);
        else if (strcmp(argv[i], "--speed") == 0)
            speed = strtod(argv[i + 1], &end);
        else if (strcmp(argv[i], "--tape-secs") == 0)
            secs = strtod(argv[i + 1], &end);
        else if (strcmp(argv[i], "--msgpack") == 0)
            msgpack = strcmp(argv[i + 1], "0") != 0;
    }
    if (!aclient || !tape || clients < 1 || clients > 4000 || speed < 0) {
        fprintf(stderr, "usage: bench_serve --aclient PATH --tape FILE.jsonl [--clients N] "
                        "[--speed S] [--tape-secs N] [--msgpack 0|1]\n");
        return 2;
    }
    bs_tape t = {0};
    if (bs_load(tape, secs, &t)) {
        fprintf(stderr, "bench_serve: no quotes in '%s'\n", tape);
        return 1;
    }
    qt_log_set_level(QT_LOG_WARN);

    bs_ev ev = {0};
    pthread_mutex_init(&ev.mu, NULL);
    qt_aserver_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bind = "127.0.0.1:0";
    cfg.on_event = bs_event;
    cfg.ud = &ev;
    qt_aserver *s;
    char err[256];
    if (qt_aserver_start(&cfg, &s, err, sizeof err)) {
        fprintf(stderr, "bench_serve: %s\n", err);
        return 1;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s' --url ws://127.0.0.1:%d/v2/iex %s --clients %d --quotes '*' --expect %zu "
             "--quiet --timeout %d",
             aclient, qt_aserver_port(s), msgpack ? "--msgpack" : "", clients, t.n,
             (int)(60000 + (speed > 0 ? t.tape_secs / speed * 1000 : 0)));
    FILE *f = popen(cmd, "r");
    if (!f) {
        fprintf(stderr, "bench_serve: cannot run '%s'\n", aclient);
        return 1;
    }
    int64_t end = qt_mono_ns() + 30 * QT_NS_PER_SEC;
    while (bs_subscribed(&ev) < clients && qt_mono_ns() < end) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    qt_pacer_cfg pc = {speed, 0, -1, 0};
    qt_pacer p;
    qt_pacer_init(&p, &pc, NULL);
    qt_pacer_tune_thread();
    int64_t t0 = qt_mono_ns();
    for (size_t i = 0; i < t.n; i++) {
        qt_quote q = t.q[i];
        qt_pacer_wait(&p, q.recv_ns, NULL);
        q.t_ns = qt_now_ns();
        if (qt_aserver_publish_quote(s, &q, NULL, 0))
            break;
    }
    int64_t pub_ns = qt_mono_ns() - t0;

    char out[8192];
    size_t len = fread(out, 1, sizeof out - 1, f);
    out[len] = '\0';
    int st = pclose(f);
    int64_t el = qt_mono_ns() - t0;
    qt_aserver_stats ss;
    qt_aserver_get_stats(s, &ss);
    qt_aserver_free(s);
    char b1[32], b2[32], b3[32], b4[32];
    printf("clients=%d speed=%g tape_secs=%.1f published=%llu delivered=%llu publish_ms=%lld "
           "elapsed_ms=%lld rate=%.0f lag_p50_us=%s lag_p99_us=%s client_p99_max_us=%s "
           "slow=%llu complete=%s frames=%llu\n",
           clients, speed, t.tape_secs, (unsigned long long)ss.published,
           (unsigned long long)ss.delivered, (long long)(pub_ns / QT_NS_PER_MS),
           (long long)(el / QT_NS_PER_MS), (double)ss.delivered / ((double)el / 1e9),
           bs_val(out, "lag_p50_us", b1, sizeof b1), bs_val(out, "lag_p99_us", b2, sizeof b2),
           bs_val(out, "client_p99_max_us", b3, sizeof b3), (unsigned long long)ss.slow,
           bs_val(out, "complete", b4, sizeof b4), (unsigned long long)ss.frames);
    free(t.q);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
