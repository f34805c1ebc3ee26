/* Tests for windower/stream.c on the embedded broker: quote parsing, the
 * window message bytes, a whole run (Kafka timestamps and the quote's "t")
 * compared byte for byte with the core fed the same records, and a stop and
 * restart that must lose nothing (deduped by symbol and window_start). */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/broker.h"
#include "core/kafka.h"
#include "core/log.h"
#include "core/qtime.h"
#include "core/topic.h"
#include "tests/unit/qt_test.h"
#include "windower/stream.h"

#define NQ 3000

typedef struct in_rec {
    char sym[8];
    int64_t ts_ms;
    double bid, ask;
    char value[256];
} in_rec;

static in_rec in[NQ];

/* Expected output: the core fed the same records in the same order. */
typedef struct out_row {
    char key[QT_SYMBOL_MAX];
    char value[512];
    int64_t start, ts;
} out_row;

static out_row want[NQ], got[2 * NQ];
static size_t nwant, ngot;

static int want_cb(const qt_window_row *w, void *ud)
{
    qt_buf b;
    (void)ud;
    qt_buf_init(&b, 0);
    qt_wstream_format(w, &b);
    snprintf(want[nwant].key, sizeof want[nwant].key, "%s", w->symbol);
    snprintf(want[nwant].value, sizeof want[nwant].value, "%.*s", (int)b.len, b.data);
    want[nwant].start = w->start_ms;
    want[nwant].ts = w->end_ms - 1;
    nwant++;
    qt_buf_release(&b);
    return 0;
}

static void make_input(size_t n, int64_t base)
{
    static const char *syms[] = {"SPY", "QQQ", "IWM"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        char ts[QT_TIME_STRMAX], bp[32], ap[32];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        base += (int64_t)(x % 40);
        in[i].ts_ms = base - (int64_t)((x >> 20) % 8 == 0 ? (x >> 30) % 3000 : 0);
        const char *sym = syms[(x >> 8) % 3];
        snprintf(in[i].sym, sizeof in[i].sym, "%s", sym);
        in[i].bid = 500 + (double)((x >> 12) % 1000) / 100.0;
        in[i].ask = in[i].bid + 0.02;
        /* "t" is 250 ms behind the Kafka timestamp, so the two modes differ */
        qt_time_format((in[i].ts_ms - 250) * QT_NS_PER_MS + 123456, 9, ts);
        qt_fmt_double(in[i].bid, bp);
        qt_fmt_double(in[i].ask, ap);
        snprintf(in[i].value, sizeof in[i].value,
                 "{\"T\":\"q\",\"S\":\"%s\",\"bx\":\"V\",\"bp\":%s,\"bs\":1,\"ax\":\"V\","
                 "\"ap\":%s,\"as\":2,\"c\":[\"R\"],\"z\":\"B\",\"t\":\"%s\"}",
                 sym, bp, ap, ts);
    }
}

static void produce(const qt_kopts *k, const char *topic, size_t from, size_t to)
{
    rd_kafka_t *p;
    char err[256];
    QT_CHECK_EQ_INT(qt_kafka_producer_new(k, 1, NULL, NULL, &p, err, sizeof err), QT_OK);
    for (size_t i = from; i < to; i++)
        QT_CHECK_EQ_INT(qt_kafka_produce(p, topic, 0, in[i].sym, strlen(in[i].sym), in[i].value,
                                         strlen(in[i].value), in[i].ts_ms, NULL, 5000, err,
                                         sizeof err),
                        QT_OK);
    QT_CHECK_EQ_INT(qt_kafka_flush(p, 10000, err, sizeof err), QT_OK);
    rd_kafka_destroy(p);
}

static void expect(size_t n, int time_field, int64_t size, int64_t lateness)
{
    qt_window *w;
    char err[128];
    nwant = 0;
    qt_window_new(size, lateness, want_cb, NULL, &w, err, sizeof err);
    for (size_t i = 0; i < n; i++)
        qt_window_feed(w, in[i].sym, time_field ? in[i].ts_ms - 250 : in[i].ts_ms, in[i].bid,
                       in[i].ask, 0, NULL);
    qt_window_flush(w);
    qt_window_free(w);
}

static void read_output(const qt_kopts *k, const char *topic)
{
    qt_topic_reader *r;
    char err[256];
    ngot = 0;
    QT_CHECK_EQ_INT(qt_topic_reader_open(k, topic, NULL, NULL, 0, &r, err, sizeof err), QT_OK);
    while (!qt_topic_reader_at_end(r)) {
        rd_kafka_message_t *m;
        int got1 = qt_topic_reader_next(r, 1000, &m, err, sizeof err);
        if (got1 < 0)
            break;
        if (got1 == 0)
            continue;
        out_row *o = &got[ngot++];
        snprintf(o->key, sizeof o->key, "%.*s", (int)m->key_len, (const char *)m->key);
        snprintf(o->value, sizeof o->value, "%.*s", (int)m->len, (const char *)m->payload);
        o->ts = rd_kafka_message_timestamp(m, NULL);
        rd_kafka_message_destroy(m);
    }
    qt_topic_reader_free(r);
}

static int same_rows(const out_row *a, size_t na, const out_row *b, size_t nb)
{
    if (na != nb) {
        fprintf(stderr, "rows: %zu != %zu\n", na, nb);
        return 0;
    }
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].key, b[i].key) || strcmp(a[i].value, b[i].value) || a[i].ts != b[i].ts) {
            fprintf(stderr, "row %zu: %s %s ts=%lld vs %s %s ts=%lld\n", i, a[i].key, a[i].value,
                    (long long)a[i].ts, b[i].key, b[i].value, (long long)b[i].ts);
            return 0;
        }
    return 1;
}

static void test_parse(void)
{
    qt_wquote q;
    const char *ok = "{\"T\":\"q\",\"S\":\"BRK.B\",\"bp\":412.5,\"ap\":412.75,"
                     "\"c\":[\"R\",{\"x\":1}],\"t\":\"2024-03-05T14:30:00.123999999Z\"}";
    QT_CHECK_EQ_INT(qt_wstream_parse_quote(ok, strlen(ok), 1, &q), QT_OK);
    QT_CHECK_EQ_STR(q.symbol, "BRK.B");
    QT_CHECK(q.bid == 412.5 && q.ask == 412.75);
    QT_CHECK_EQ_INT(q.t_ms, 1709649000123);
    const char *esc = "{\"S\":\"A\\\"B\",\"bp\":1,\"ap\":2}";
    QT_CHECK_EQ_INT(qt_wstream_parse_quote(esc, strlen(esc), 0, &q), QT_OK);
    QT_CHECK_EQ_STR(q.symbol, "A\"B");
    const char *bad[] = {
        "{\"T\":\"t\",\"S\":\"A\",\"bp\":1,\"ap\":2}", /* a trade */
        "{\"S\":\"A\",\"bp\":1}",                       /* no ask */
        "{\"S\":\"A\",\"bp\":\"x\",\"ap\":2}",          /* not a number */
        "[1,2]", "", "{\"S\":\"A\",\"bp\":1,\"ap\":2",  /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        QT_CHECK_EQ_INT(qt_wstream_parse_quote(bad[i], strlen(bad[i]), 0, &q), QT_EINVAL);
    /* want_t: a quote without a readable t is refused */
    QT_CHECK_EQ_INT(qt_wstream_parse_quote(esc, strlen(esc), 1, &q), QT_EINVAL);

    /* The window message bytes (the contract in schema/window.schema.json). */
    qt_window_row r = {"S\"P\n", 1000, 6000, 3, 2.5, 1, 4, 0.5, 2, 3.25};
    qt_buf b;
    qt_buf_init(&b, 0);
    QT_CHECK_EQ_INT(qt_wstream_format(&r, &b), QT_OK);
    QT_CHECK_EQ_INT(qt_buf_append(&b, "", 1), QT_OK);
    QT_CHECK_EQ_STR(b.data, "{\"symbol\":\"S\\\"P\\u000a\",\"window_start\":1000,"
                            "\"window_end\":6000,\"price\":2.5,\"count\":3,\"bid_open\":1,"
                            "\"bid_high\":4,\"bid_low\":0.5,\"bid_close\":2,\"ask_avg\":3.25}");
    qt_buf_release(&b);
}

typedef struct run_arg {
    qt_wstream_opts o;
    qt_wstream_stats st;
    qt_err rc;
    char err[512];
} run_arg;

static void *run_thread(void *p)
{
    run_arg *a = p;
    a->rc = qt_wstream_run(&a->o, &a->st, a->err, sizeof a->err);
    return NULL;
}

int main(void)
{
    qt_broker *b;
    qt_kopts k;
    char err[512];
    qt_wstream_stats st;
    qt_pos beg = {QT_POS_BEGINNING, 0};

    qt_log_set_level(QT_LOG_WARN);
    test_parse();

    QT_CHECK_EQ_INT(qt_broker_start(1, 1, &b, err, sizeof err), QT_OK);
    qt_kopts_init(&k);
    qt_kopts_set_brokers(&k, qt_broker_bootstraps(b));
    qt_broker_create_topic(b, "quotes", 1, err, sizeof err);
    qt_broker_create_topic(b, "w-kafka", 1, err, sizeof err);
    qt_broker_create_topic(b, "w-t", 1, err, sizeof err);
    qt_broker_create_topic(b, "quotes2", 1, err, sizeof err);
    qt_broker_create_topic(b, "w-restart", 1, err, sizeof err);
    make_input(NQ, 1709649000000);
    produce(&k, "quotes", 0, NQ);

    /* 1. event time = Kafka timestamp; to the end of the topic. */
    qt_wstream_opts o = {0};
    o.kopts = &k;
    o.in_topic = "quotes";
    o.out_topic = "w-kafka";
    o.size_ms = 5000;
    o.lateness_ms = 1000;
    o.from = &beg;
    o.exit_at_end = 1;
    QT_CHECK_EQ_INT(qt_wstream_run(&o, &st, err, sizeof err), QT_OK);
    expect(NQ, 0, 5000, 1000);
    read_output(&k, "w-kafka");
    QT_CHECK(same_rows(got, ngot, want, nwant));
    QT_CHECK_EQ_INT(st.windows, (int64_t)nwant);
    QT_CHECK_EQ_INT(st.messages, NQ);
    QT_CHECK(st.late > 0);
    QT_CHECK_EQ_INT(st.records + st.late, NQ);
    QT_CHECK(nwant > 20);

    /* 2. event time = the quote's t, 2 s windows, no lateness. */
    o.out_topic = "w-t";
    o.time_field = 1;
    o.size_ms = 2000;
    o.lateness_ms = 0;
    QT_CHECK_EQ_INT(qt_wstream_run(&o, &st, err, sizeof err), QT_OK);
    expect(NQ, 1, 2000, 0);
    read_output(&k, "w-t");
    QT_CHECK(same_rows(got, ngot, want, nwant));

    /* 3. stop half-way (open windows pending), then restart from the
     * committed position: deduped output equals one uninterrupted run. */
    produce(&k, "quotes2", 0, NQ / 2);
    run_arg a;
    memset(&a, 0, sizeof a);
    volatile sig_atomic_t stop = 0;
    a.o.kopts = &k;
    a.o.in_topic = "quotes2";
    a.o.out_topic = "w-restart";
    a.o.size_ms = 5000;
    a.o.lateness_ms = 1000;
    a.o.group = "test-restart";
    a.o.commit_ms = 50;
    a.o.stop = &stop;
    pthread_t th;
    pthread_create(&th, NULL, run_thread, &a);
    struct timespec ts = {1, 500000000};
    nanosleep(&ts, NULL);
    stop = 1;
    pthread_join(th, NULL);
    QT_CHECK_EQ_INT(a.rc, QT_EINTR);
    QT_CHECK_EQ_INT(a.st.messages, NQ / 2);
    read_output(&k, "w-restart");
    size_t first = ngot;
    QT_CHECK(first > 10);
    produce(&k, "quotes2", NQ / 2, NQ);
    memset(&a.st, 0, sizeof a.st);
    a.o.stop = NULL;
    a.o.exit_at_end = 1;
    a.rc = qt_wstream_run(&a.o, &a.st, a.err, sizeof a.err);
    QT_CHECK_EQ_INT(a.rc, QT_OK);
    QT_CHECK(a.st.restored_wm != QT_WINDOW_NO_WM);
    QT_CHECK(a.st.messages < NQ); /* resumed, not from the beginning */
    read_output(&k, "w-restart");
    /* dedupe by (symbol, window_start): keep the last of each */
    {
        static out_row dd[2 * NQ];
        size_t nd = 0;
        for (size_t i = 0; i < ngot; i++) {
            const char *ws = strstr(got[i].value, "\"window_start\":");
            got[i].start = ws ? strtoll(ws + 15, NULL, 10) : -1;
            size_t j;
            for (j = 0; j < nd; j++)
                if (dd[j].start == got[i].start && strcmp(dd[j].key, got[i].key) == 0)
                    break;
            if (j < nd)
                QT_CHECK_EQ_STR(dd[j].value, got[i].value); /* a repeat is identical */
            else
                dd[nd++] = got[i];
        }
        expect(NQ, 0, 5000, 1000);
        QT_CHECK(same_rows(dd, nd, want, nwant));
    }

    qt_kopts_release(&k);
    qt_broker_free(b);
    return qt_test_done("test_window_kafka");
}
