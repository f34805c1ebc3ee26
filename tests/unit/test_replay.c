/* Unit tests for the replay loop (replayer/replay.c) with a scripted source
 * and a recording sink: Kafka timestamps per --timestamps mode, --loop
 * passes and their event-time shift, the resume position after a stop, a
 * failed send and a failed delivery, empty selections, source errors,
 * rehearsing sends while spinning, real-time scheduling and CPU sharing
 * while pacing. */
#define _GNU_SOURCE /* CPU affinity */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/qtime.h"
#include "core/pacer.h"
#include "replayer/replay.h"
#include "tests/unit/qt_test.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define NMAX 64

typedef struct fake_src {
    qt_source base;
    int n, i, fail_at; /* fail_at: index whose read fails (-1 none) */
    int64_t ev[NMAX];
} fake_src;

static int fs_next(qt_source *s, qt_replay_msg *m, char *err, size_t errsz)
{
    fake_src *f = (fake_src *)s;
    if (f->i == f->fail_at) {
        qt_fail(QT_EIO, err, errsz, "disk on fire");
        return -1;
    }
    if (f->i >= f->n)
        return 0;
    memset(m, 0, sizeof *m);
    m->pos = 100 + f->i;
    m->partition = -1;
    m->key = "SPY";
    m->key_len = 3;
    m->value = "{}";
    m->value_len = 2;
    m->event_ns = f->ev[f->i];
    m->recv_ns = f->ev[f->i] + 1000;
    f->i++;
    return 1;
}

static qt_err fs_rewind(qt_source *s, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    ((fake_src *)s)->i = 0;
    return QT_OK;
}

static size_t fs_resume(qt_source *s, int64_t pos, int32_t part, char *buf, size_t n)
{
    (void)s;
    (void)part;
    return (size_t)snprintf(buf, n, "seq:%" PRId64, pos);
}

static void fs_free(qt_source *s) { (void)s; }

static void fs_init(fake_src *f, int n, int64_t t0, int64_t step)
{
    memset(f, 0, sizeof *f);
    f->base.next = fs_next;
    f->base.rewind = fs_rewind;
    f->base.resume = fs_resume;
    f->base.free = fs_free;
    f->base.total = n;
    f->base.has_recv = 1;
    f->n = n;
    f->fail_at = -1;
    for (int i = 0; i < n; i++)
        f->ev[i] = t0 + i * step;
}

typedef struct fake_sink {
    qt_sink base;
    int n, fail_at;          /* fail_at: send index that fails (-1 none) */
    int64_t dr_fail_pos;     /* reported as failed at flush (-1 none) */
    volatile sig_atomic_t *stop_after; /* set *stop_after after stop_n sends */
    int stop_n;
    int idles, idle_fail_at; /* idle() calls; the call that fails (-1 none) */
    int idles_before[NMAX * 4]; /* idle() calls made before send i */
    int64_t pos[NMAX * 4], ts[NMAX * 4];
    int cpus[NMAX * 4];       /* CPUs the sending thread may run on, at send i */
    pthread_t *probe;         /* another thread of the process, or NULL */
    int probe_cpus[NMAX * 4]; /* CPUs that one may run on, at send i */
    int warms, warm_wrong;    /* warm() calls; those not for the next send */
    int warms_before[NMAX * 4]; /* warm() calls made before send i */
} fake_sink;

static qt_err fk_send(qt_sink *s, const qt_replay_msg *m, int64_t ts_ms, char *err, size_t errsz)
{
    fake_sink *k = (fake_sink *)s;
    if (k->n == k->fail_at)
        return qt_fail(QT_EKAFKA, err, errsz, "broker said no");
    k->pos[k->n] = m->pos;
    k->ts[k->n] = ts_ms;
    k->idles_before[k->n] = k->idles;
    k->warms_before[k->n] = k->warms;
    {
        cpu_set_t set;
        k->cpus[k->n] = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
        if (k->probe)
            k->probe_cpus[k->n] = pthread_getaffinity_np(*k->probe, sizeof set, &set) == 0
                                      ? CPU_COUNT(&set)
                                      : -1;
    }
    k->n++;
    k->base.delivered++;
    if (k->stop_after && k->n == k->stop_n)
        *k->stop_after = 1;
    return QT_OK;
}

static qt_err fk_flush(qt_sink *s, int timeout_ms, char *err, size_t errsz)
{
    fake_sink *k = (fake_sink *)s;
    (void)timeout_ms;
    (void)err;
    (void)errsz;
    if (k->dr_fail_pos >= 0) {
        k->base.delivered -= 2;
        k->base.failed = 2;
        k->base.first_failed_pos = k->dr_fail_pos;
        snprintf(k->base.failure, sizeof k->base.failure, "Local: Message timed out");
    }
    return QT_OK;
}

static qt_err fk_idle(qt_sink *s, char *err, size_t errsz)
{
    fake_sink *k = (fake_sink *)s;
    if (k->idles++ == k->idle_fail_at)
        return qt_fail(QT_EKAFKA, err, errsz, "no delivery confirmation");
    return QT_OK;
}

/* warm() must be for the message send() gets next, with its bytes. */
static void fk_warm(qt_sink *s, const qt_replay_msg *m)
{
    fake_sink *k = (fake_sink *)s;
    if (m->pos != 100 + k->n || m->key_len != 3 || memcmp(m->key, "SPY", 3) != 0)
        k->warm_wrong++;
    k->warms++;
}

static void fk_init(fake_sink *k)
{
    memset(k, 0, sizeof *k);
    k->idle_fail_at = -1;
    k->base.send = fk_send;
    k->base.idle = fk_idle;
    k->base.warm = fk_warm;
    k->base.flush = fk_flush;
    k->base.free = NULL;
    k->base.first_failed_pos = -1;
    k->fail_at = -1;
    k->dr_fail_pos = -1;
}

static qt_replay_cfg max_cfg(qt_ts_mode mode)
{
    qt_replay_cfg c;
    memset(&c, 0, sizeof c);
    c.speed = 0;
    c.loops = 1;
    c.ts_mode = mode;
    return c;
}

static void test_original(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    char err[256];
    fs_init(&f, 5, 1772461800065278436, 499 * MS + 999999);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(st.sent, 5);
    QT_CHECK_EQ_INT(st.delivered, 5);
    QT_CHECK_EQ_INT(st.passes, 1);
    QT_CHECK_EQ_INT(st.stopped, 0);
    QT_CHECK_EQ_STR(st.resume, "");
    for (int i = 0; i < 5; i++) {
        QT_CHECK_EQ_INT(k.pos[i], 100 + i);
        QT_CHECK_EQ_INT(k.ts[i], f.ev[i] / MS); /* floor to ms */
    }
    QT_CHECK_EQ_INT(k.ts[0], 1772461800065);
}

static void test_shift(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_SHIFT);
    int64_t before = qt_now_ns() / MS, after;
    char err[256];
    fs_init(&f, 4, 1000 * SEC, 250 * MS);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    after = qt_now_ns() / MS;
    QT_CHECK(k.ts[0] >= before && k.ts[0] <= after);
    for (int i = 1; i < 4; i++)
        QT_CHECK_EQ_INT(k.ts[i] - k.ts[0], 250 * i); /* spacing kept */
}

static void test_wall(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_WALL);
    int64_t before = qt_now_ns() / MS, after;
    char err[256];
    fs_init(&f, 4, 1000 * SEC, 3600 * SEC);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    after = qt_now_ns() / MS;
    for (int i = 0; i < 4; i++)
        QT_CHECK(k.ts[i] >= before && k.ts[i] <= after);
}

/* Three passes; each is shifted past the previous by its span + 1 s. */
static void test_loop(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    char err[256];
    c.loops = 3;
    fs_init(&f, 3, 1000 * SEC, 2 * SEC); /* span 4 s */
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(st.sent, 9);
    QT_CHECK_EQ_INT(st.passes, 3);
    QT_CHECK_EQ_INT(k.ts[0], 1000000);
    QT_CHECK_EQ_INT(k.ts[2], 1004000);
    QT_CHECK_EQ_INT(k.ts[3], 1005000); /* 4 s span + 1 s gap */
    QT_CHECK_EQ_INT(k.ts[6], 1010000);
    QT_CHECK_EQ_INT(k.ts[8], 1014000);
    QT_CHECK_EQ_INT(k.pos[3], 100); /* the tape starts again */
}

/* A stop between messages: resume at the one after the last sent. */
static void test_stop_resume(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    volatile sig_atomic_t stop = 0;
    char err[256];
    fs_init(&f, 10, 1000 * SEC, SEC);
    fk_init(&k);
    k.stop_after = &stop;
    k.stop_n = 4;
    c.stop = &stop;
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_EINTR);
    QT_CHECK_EQ_INT(st.sent, 4);
    QT_CHECK_EQ_INT(st.stopped, 1);
    QT_CHECK_EQ_STR(st.resume, "seq:104");
}

/* A stop while waiting for a paced message: resume at that message. */
static void test_stop_while_waiting(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    volatile sig_atomic_t stop = 0;
    char err[256];
    c.speed = 1;
    fs_init(&f, 3, 1000 * SEC, 3600 * SEC); /* an hour apart */
    fk_init(&k);
    k.stop_after = &stop;
    k.stop_n = 1;
    c.stop = &stop;
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_EINTR);
    QT_CHECK_EQ_INT(st.sent, 1);
    QT_CHECK_EQ_STR(st.resume, "seq:101");
    QT_CHECK(st.elapsed_ns < SEC);
}

static void test_send_fails(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    char err[256];
    fs_init(&f, 10, 1000 * SEC, SEC);
    fk_init(&k);
    k.fail_at = 3;
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_EKAFKA);
    QT_CHECK_EQ_STR(err, "broker said no");
    QT_CHECK_EQ_INT(st.sent, 3);
    QT_CHECK_EQ_STR(st.resume, "seq:103");
}

/* Delivery failures found at the final flush: resume at the lowest. */
static void test_delivery_fails(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    char err[256];
    fs_init(&f, 10, 1000 * SEC, SEC);
    fk_init(&k);
    k.dr_fail_pos = 108;
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_EKAFKA);
    QT_CHECK(strstr(err, "2 message(s) not delivered: Local: Message timed out") != NULL);
    QT_CHECK_EQ_INT(st.sent, 10);
    QT_CHECK_EQ_INT(st.delivered, 8);
    QT_CHECK_EQ_INT(st.failed, 2);
    QT_CHECK_EQ_STR(st.resume, "seq:108");
}

static void test_empty_and_errors(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    char err[256], sum[512];
    fs_init(&f, 0, 0, 0);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_ERANGE);
    QT_CHECK(strstr(err, "nothing to replay") != NULL);
    /* --loop over an empty selection must not spin */
    c.loops = 0;
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_ERANGE);
    c.loops = 1;
    fs_init(&f, 5, 1000 * SEC, SEC);
    f.fail_at = 2;
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_EIO);
    QT_CHECK_EQ_STR(err, "disk on fire");
    QT_CHECK_EQ_INT(st.sent, 2);
    QT_CHECK_EQ_STR(st.resume, "seq:102");
    qt_replay_summary(&st, sum, sizeof sum);
    QT_CHECK(strncmp(sum, "sent 2, delivered 2, failed 0 in ", 33) == 0);
    st.paced = 1;
    st.late = 3;
    st.p50_ns = 1500;
    st.p99_ns = 250000;
    st.max_ns = 12500000;
    st.passes = 2;
    qt_replay_summary(&st, sum, sizeof sum);
    QT_CHECK(strncmp(sum, "sent 2, delivered 2, failed 0, late 3, lateness p50 1.5us p99 250.0us "
                          "max 12.5ms, 2 passes in ", 94) == 0);
}

/* Paced at 1000x by receive time: 5 messages 100 ms apart take ~0.4 ms x 1000. */
static void test_paced(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    char err[256];
    c.speed = 1000;
    fs_init(&f, 5, 1000 * SEC, 10 * SEC); /* 40 s of tape -> 40 ms */
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK(st.elapsed_ns >= 40 * MS && st.elapsed_ns < 200 * MS);
    QT_CHECK(st.max_ns < 30 * MS);
    /* the sink's housekeeping runs before each wait, never at the due
     * time: not before the first message (due at once), then once before
     * each of the others */
    QT_CHECK_EQ_INT(k.idles, 4);
    for (int i = 0; i < 5; i++)
        QT_CHECK_EQ_INT(k.idles_before[i], i);
    /* a burst (equal times) is all due at once: no housekeeping in it */
    fs_init(&f, 5, 1000 * SEC, 0);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(st.sent, 5);
    QT_CHECK_EQ_INT(k.idles, 0);
}

/* At full speed nothing waits, so idle() is never called; a paced replay
 * whose idle() fails stops there, and the message not yet sent is where it
 * resumes. */
static void test_idle(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    char err[256];
    fs_init(&f, 5, 1000 * SEC, SEC);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(k.idles, 0);
    c.speed = 1000;
    fs_init(&f, 5, 1000 * SEC, 10 * SEC); /* 10 ms apart */
    fk_init(&k);
    k.idle_fail_at = 2; /* the third call: before the fourth message */
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_EKAFKA);
    QT_CHECK_EQ_STR(err, "no delivery confirmation");
    QT_CHECK_EQ_INT(st.sent, 3);
    QT_CHECK_EQ_STR(st.resume, "seq:103");
    /* a long wait calls idle() again every idle_every (here 100 ms, a
     * 450 ms gap: at 0, 100, 200, 300 and maybe 400 ms), and a failure
     * there stops the replay before the message it waited for */
    c.speed = 1;
    c.idle_every_ns = 100 * MS;
    fs_init(&f, 3, 1000 * SEC, 450 * MS);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(k.n, 3);
    QT_CHECK(k.idles_before[1] >= 4 && k.idles_before[1] <= 5);
    QT_CHECK(k.idles_before[2] - k.idles_before[1] >= 4);
    fs_init(&f, 3, 1000 * SEC, 450 * MS);
    fk_init(&k);
    k.idle_fail_at = 2; /* the third idle(), in the first gap */
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_EKAFKA);
    QT_CHECK_EQ_INT(st.sent, 1);
    QT_CHECK_EQ_STR(st.resume, "seq:101");
}

/* A paced replay rehearses each waited-for message with the sink's warm()
 * between naps and while it spins to the due time: the message it is about
 * to send, never one already sent; a message due at once (the first, the
 * rest of a burst) is not rehearsed, and at full speed nothing is. */
static void test_warm(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    char err[256];
    c.speed = 1000;
    fs_init(&f, 10, 1000 * SEC, 10 * SEC); /* 10 ms apart */
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(k.n, 10);
    QT_CHECK_EQ_INT(k.warm_wrong, 0);
    QT_CHECK_EQ_INT(k.warms_before[0], 0);
    /* a 1 ms spin window at first, a call every 20 us (how many depends
     * on how late the machine wakes; test_pacer counts them exactly) */
    QT_CHECK(k.warms > 0);
    QT_CHECK_EQ_INT(k.warms, k.warms_before[9]);
    fs_init(&f, 5, 1000 * SEC, 0); /* a burst */
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(k.warms, 0);
    c.speed = 0;
    fs_init(&f, 5, 1000 * SEC, 10 * SEC);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(k.warms, 0);
}

/* A paced replay asked to run real-time takes SCHED_FIFO where the process
 * may (root, CAP_SYS_NICE) and gives it back when it ends. */
static void test_realtime(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    qt_sched saved;
    char err[256];
    int granted = qt_pacer_realtime(&saved) == 0;
    if (granted) {
        QT_CHECK_EQ_INT(sched_getscheduler(0), SCHED_FIFO);
        qt_pacer_unrealtime(&saved);
    }
    QT_CHECK_EQ_INT(sched_getscheduler(0), SCHED_OTHER);
    c.speed = 1000;
    c.realtime = 1;
    fs_init(&f, 3, 1000 * SEC, SEC);
    fk_init(&k);
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(st.sent, 3);
    QT_CHECK_EQ_INT(sched_getscheduler(0), SCHED_OTHER);
    if (!granted)
        fprintf(stderr, "test_replay: real-time scheduling refused here; policy checks skipped\n");
}

/* A real-time pacing thread that mostly sleeps shares its CPU after the
 * first second (the sends after it run on one CPU, as does a thread of the
 * process), and every thread has all its CPUs back when the replay ends. */
static void *share_idle(void *arg)
{
    volatile sig_atomic_t *stop = arg;
    struct timespec ts = {0, 5000000};
    while (!*stop)
        nanosleep(&ts, NULL);
    return NULL;
}

static void test_share_cpu(void)
{
    fake_src f;
    fake_sink k;
    qt_replay_stats st;
    qt_replay_cfg c = max_cfg(QT_TS_ORIGINAL);
    qt_sched saved;
    cpu_set_t all, other;
    pthread_t t;
    volatile sig_atomic_t stop_thread = 0;
    char err[256];
    if (qt_pacer_realtime(&saved) != 0 || sched_getaffinity(0, sizeof all, &all) != 0 ||
        CPU_COUNT(&all) < 2) {
        fprintf(stderr, "test_replay: no real-time scheduling or one CPU; sharing not checked\n");
        return;
    }
    qt_pacer_unrealtime(&saved);
    QT_CHECK(pthread_create(&t, NULL, share_idle, (void *)&stop_thread) == 0);
    c.speed = 1;
    c.realtime = 1;
    fs_init(&f, 6, 1000 * SEC, 300 * MS); /* 1.5 s, asleep nearly all of it */
    fk_init(&k);
    k.probe = &t;
    QT_CHECK_EQ_INT(qt_replay_run(&c, &f.base, &k.base, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(k.n, 6);
    QT_CHECK_EQ_INT(k.cpus[0], CPU_COUNT(&all)); /* not in the first second */
    QT_CHECK_EQ_INT(k.probe_cpus[0], CPU_COUNT(&all));
    QT_CHECK_EQ_INT(k.cpus[5], 1); /* 1.5 s in: shared */
    QT_CHECK_EQ_INT(k.probe_cpus[5], 1);
    QT_CHECK(sched_getaffinity(0, sizeof other, &other) == 0);
    QT_CHECK(CPU_EQUAL(&other, &all));
    QT_CHECK(pthread_getaffinity_np(t, sizeof other, &other) == 0);
    QT_CHECK(CPU_EQUAL(&other, &all));
    stop_thread = 1;
    pthread_join(t, NULL);
}

int main(void)
{
    test_original();
    test_shift();
    test_wall();
    test_loop();
    test_stop_resume();
    test_stop_while_waiting();
    test_send_fails();
    test_delivery_fails();
    test_empty_and_errors();
    test_paced();
    test_idle();
    test_warm();
    test_realtime();
    test_share_cpu();
    return qt_test_done("test_replay");
}
