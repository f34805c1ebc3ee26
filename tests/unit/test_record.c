/* Unit tests for the recorder stage: reassembly growth, the Alpaca error
 * table, and the dual sink against a real tape and the embedded broker
 * (acked seq, sync with no duplicates after a lost acked mark). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/broker.h"
#include "core/kafka.h"
#include "core/topic.h"
#include "recorder/recorder.h"
#include "recorder/sink.h"
#include "tests/unit/qt_test.h"

static void test_grow(void)
{
    static const struct {
        size_t have, need, cap, want;
    } c[] = {
        {0, 10, 1 << 20, 65536},        {65536, 65537, 1 << 20, 131072},
        {0, 300000, 1 << 20, 524288},   {524288, 1 << 20, 1 << 20, 1 << 20},
        {0, (1 << 20) + 1, 1 << 20, 0}, {0, 100, 1000, 1000},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        QT_CHECK_EQ_INT(qt_rec_grow(c[i].have, c[i].need, c[i].cap), c[i].want);
}

static void test_error_actions(void)
{
    static const struct {
        int code, action;
        qt_err e;
    } c[] = {
        {400, 3, QT_EPROTO}, {401, 1, QT_OK},    {402, 3, QT_EAUTH}, {403, 0, QT_OK},
        {404, 1, QT_OK},     {405, 3, QT_EUSAGE}, {406, 2, QT_OK},   {407, 0, QT_OK},
        {409, 3, QT_EAUTH},  {410, 3, QT_EPROTO}, {500, 1, QT_OK},   {599, 1, QT_OK},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        qt_err e = QT_OK;
        QT_CHECK_EQ_INT(qt_rec_error_action(c[i].code, &e), c[i].action);
        QT_CHECK_EQ_INT(e, c[i].e);
    }
}

static void fill(qt_quote *q, int i)
{
    memset(q, 0, sizeof *q);
    snprintf(q->symbol, sizeof q->symbol, "%s", i % 3 == 0 ? "SPY" : i % 3 == 1 ? "QQQ" : "IBM");
    q->t_ns = INT64_C(1709649000000000000) + (int64_t)i * 1000000;
    q->bid_px = 100 + i;
    q->ask_px = 101 + i;
}

static int64_t topic_count(const qt_kopts *k, const char *topic)
{
    qt_topic_reader *r;
    rd_kafka_message_t *m;
    char err[256];
    int64_t n = 0;
    if (qt_topic_reader_open(k, topic, NULL, NULL, 0, &r, err, sizeof err))
        return -1;
    while (!qt_topic_reader_at_end(r)) {
        int rc = qt_topic_reader_next(r, 2000, &m, err, sizeof err);
        if (rc <= 0)
            break;
        n++;
        rd_kafka_message_destroy(m);
    }
    qt_topic_reader_free(r);
    return n;
}

static void test_sink_kafka(void)
{
    char dir[] = "/tmp/qt_test_record_XXXXXX", db[128], err[512], raw[128];
    qt_broker *b;
    qt_kopts k;
    qt_sink *s;
    qt_sink_opts so;
    qt_session_info si = {"test", "SPY,QQQ,IBM", "q"};
    qt_sink_stats st;
    int64_t produced = -1, skipped = -1, acked = -1;

    QT_CHECK(mkdtemp(dir) != NULL);
    snprintf(db, sizeof db, "%s/t.db", dir);
    QT_CHECK_EQ_INT(qt_broker_start(1, 3, &b, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_broker_create_topic(b, "q", 3, err, sizeof err), QT_OK);
    qt_kopts_init(&k);
    qt_kopts_set_brokers(&k, qt_broker_bootstraps(b));

    memset(&so, 0, sizeof so);
    so.db = db;
    so.kopts = &k;
    so.topic = "q";
    so.dedupe = 1;
    QT_CHECK_EQ_INT(qt_sink_open(&so, &s, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_sink_session_begin(s, &si, NULL, err, sizeof err), QT_OK);
    for (int i = 0; i < 300; i++) {
        qt_quote q;
        fill(&q, i);
        int n = snprintf(raw, sizeof raw, "{\"T\":\"q\",\"S\":\"%s\",\"i\":%d}", q.symbol, i);
        QT_CHECK_EQ_INT(qt_sink_quote(s, &q, raw, (size_t)n, err, sizeof err), QT_OK);
        if (i % 100 == 99)
            QT_CHECK_EQ_INT(qt_sink_commit(s, err, sizeof err), QT_OK);
    }
    QT_CHECK_EQ_INT(qt_sink_drain(s, 10000, err, sizeof err), QT_OK);
    qt_sink_get_stats(s, &st);
    QT_CHECK_EQ_INT(st.quotes, 300);
    QT_CHECK_EQ_INT(st.produced, 300);
    QT_CHECK_EQ_INT(st.delivered, 300);
    QT_CHECK_EQ_INT(st.acked, 300);
    qt_sink_free(s, 1);

    /* lose the acked mark, as a recorder killed before saving it would:
     * sync must find every quote already in the topic and produce none */
    {
        qt_tape *t;
        QT_CHECK_EQ_INT(qt_tape_open(db, QT_TAPE_WRITE, &t, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(qt_tape_set_acked(t, "q", 120, err, sizeof err), QT_OK);
        qt_tape_free(t);
    }
    QT_CHECK_EQ_INT(qt_rec_sync(db, &k, "q", 10000, &produced, &skipped, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(produced, 0);
    QT_CHECK_EQ_INT(skipped, 180);
    QT_CHECK_EQ_INT(topic_count(&k, "q"), 300);

    /* a fresh topic: sync produces the whole tape once, then nothing */
    QT_CHECK_EQ_INT(qt_rec_sync(db, &k, "q2", 10000, &produced, &skipped, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(produced, 300);
    QT_CHECK_EQ_INT(qt_rec_sync(db, &k, "q2", 10000, &produced, &skipped, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(produced, 0);
    QT_CHECK_EQ_INT(topic_count(&k, "q2"), 300);
    {
        qt_tape *t;
        QT_CHECK_EQ_INT(qt_tape_open(db, QT_TAPE_READ, &t, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(qt_tape_get_acked(t, "q2", &acked, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(acked, 300);
        qt_tape_free(t);
    }
    /* a missing tape is an error, not a new empty tape */
    QT_CHECK_EQ_INT(qt_rec_sync("/nonexistent/x.db", &k, "q", 1000, NULL, NULL, err, sizeof err),
                    QT_ENOTFOUND);

    qt_kopts_release(&k);
    qt_broker_free(b);
    snprintf(raw, sizeof raw, "%s/t.db-wal", dir);
    unlink(raw);
    snprintf(raw, sizeof raw, "%s/t.db-shm", dir);
    unlink(raw);
    unlink(db);
    rmdir(dir);
}

int main(void)
{
    test_grow();
    test_error_actions();
    test_sink_kafka();
    return qt_test_done("test_record");
}
