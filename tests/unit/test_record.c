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
#include "recorder/writer.h"
#include "tests/unit/qt_test.h"

#include <sqlite3.h>

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

static void rm_tape(const char *dir, const char *db)
{
    char p[160];
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
    unlink(db);
    rmdir(dir);
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
    rm_tape(dir, db);
}

/* One integer from a query on the tape at path (a connection of its own). */
static int64_t tape_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* The writer thread: records reach the tape in the order given, with their
 * raw text; a handed-over batch is committed while the next one fills (a
 * second connection sees it); a failed write stops the writer, its message
 * comes back to the caller, and the tape holds a prefix of what was given. */
static void test_writer(void)
{
    char dir[] = "/tmp/qt_test_writer_XXXXXX", db[128], err[512], raw[128];
    qt_sink *s;
    qt_sink_opts so;
    qt_session_info si = {"test", "SPY,QQQ,IBM", NULL};
    qt_writer *w;
    qt_trade t;
    qt_quote q;
    int n;

    QT_CHECK(mkdtemp(dir) != NULL);
    snprintf(db, sizeof db, "%s/w.db", dir);
    memset(&so, 0, sizeof so);
    so.db = db;
    QT_CHECK_EQ_INT(qt_sink_open(&so, &s, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_sink_session_begin(s, &si, NULL, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_writer_start(s, 3, &w, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_writer_pending(w), 0);
    for (int i = 0; i < 7; i++) {
        fill(&q, i);
        n = snprintf(raw, sizeof raw, "{\"T\":\"q\",\"S\":\"%s\",\"i\":%d}", q.symbol, i);
        qt_writer_quote(w, &q, raw, (size_t)n);
        QT_CHECK_EQ_INT(qt_writer_pending(w), 1);
        QT_CHECK_EQ_INT(qt_writer_batch_full(w), i % 3 == 2);
        if (qt_writer_batch_full(w))
            QT_CHECK_EQ_INT(qt_writer_flush(w, err, sizeof err), QT_OK);
        if (i == 5) { /* the second flush waited for the first batch: committed */
            int64_t c = tape_int(db, "SELECT count(*) FROM quotes");
            QT_CHECK(c == 3 || c == 6);
        }
    }
    qt_writer_gap(w, 1000, 2000, "the server closed the connection");
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "SPY");
    t.px = 512.5;
    qt_writer_trade(w, &t, "{\"T\":\"t\"}", 9);
    QT_CHECK_EQ_INT(qt_writer_stop(w, err, sizeof err), QT_OK);
    qt_sink_free(s, 1);
    QT_CHECK_EQ_INT(tape_int(db, "SELECT count(*) FROM quotes"), 7);
    QT_CHECK_EQ_INT(tape_int(db, "SELECT count(*) FROM quotes WHERE raw = "
                                 "'{\"T\":\"q\",\"S\":\"QQQ\",\"i\":4}' AND seq = 5 AND "
                                 "bid_px = 104"),
                    1);
    QT_CHECK_EQ_INT(tape_int(db, "SELECT count(*) FROM gaps WHERE from_ns = 1000 AND to_ns = "
                                 "2000 AND reason = 'the server closed the connection'"),
                    1);
    QT_CHECK_EQ_INT(tape_int(db, "SELECT count(*) FROM trades WHERE px = 512.5 AND raw = "
                                 "'{\"T\":\"t\"}'"),
                    1);

    /* a tape that refuses the fifth quote (a trigger stands in for a full
     * disk): the writer stops there */
    {
        sqlite3 *h;
        QT_CHECK(sqlite3_open(db, &h) == SQLITE_OK);
        QT_CHECK(sqlite3_exec(h, "DELETE FROM quotes; CREATE TRIGGER no_neg BEFORE INSERT ON "
                                 "quotes WHEN NEW.bid_px < 0 BEGIN SELECT RAISE(ABORT, "
                                 "'no negative bids'); END;",
                              NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(h);
    }
    QT_CHECK_EQ_INT(qt_sink_open(&so, &s, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_sink_session_begin(s, &si, NULL, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_writer_start(s, 3, &w, err, sizeof err), QT_OK);
    for (int i = 0; i < 9; i++) {
        fill(&q, i);
        if (i == 4)
            q.bid_px = -1;
        n = snprintf(raw, sizeof raw, "%d", i);
        qt_writer_quote(w, &q, raw, (size_t)n);
        if (qt_writer_batch_full(w) && qt_writer_flush(w, err, sizeof err) != QT_OK)
            break;
    }
    QT_CHECK(qt_writer_stop(w, err, sizeof err) != QT_OK);
    QT_CHECK(strstr(err, "no negative bids") != NULL);
    qt_sink_free(s, 1);
    QT_CHECK_EQ_INT(tape_int(db, "SELECT count(*) FROM quotes"), 4);
    QT_CHECK_EQ_INT(tape_int(db, "SELECT max(CAST(raw AS INTEGER)) FROM quotes"), 3);
    rm_tape(dir, db);
}

int main(void)
{
    test_grow();
    test_error_actions();
    test_sink_kafka();
    test_writer();
    return qt_test_done("test_record");
}
