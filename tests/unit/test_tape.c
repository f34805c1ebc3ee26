/* Unit tests: the SQLite tape store (core/tape.c) and tape I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/tape.h"
#include "core/tapeio.h"
#include "qt_test.h"

static char dir[] = "/tmp/qt_test_tape_XXXXXX";

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static qt_quote mkq(const char *sym, int64_t t, double bid)
{
    qt_quote q;
    memset(&q, 0, sizeof q);
    snprintf(q.symbol, sizeof q.symbol, "%s", sym);
    q.t_ns = t;
    q.recv_ns = t + 1000;
    q.bid_px = bid;
    q.ask_px = bid + 0.01;
    q.bid_sz = 100;
    q.ask_sz = 200;
    snprintf(q.bid_ex, sizeof q.bid_ex, "V");
    snprintf(q.ask_ex, sizeof q.ask_ex, "V");
    snprintf(q.cond, sizeof q.cond, "[\"R\"]");
    snprintf(q.tape, sizeof q.tape, "B");
    return q;
}

/* Writes 10 quotes alternating SPY/QQQ, 1 s apart, and checks reading,
 * selections and every position kind. */
static void test_write_read(void)
{
    char p[256], err[512], raw[256];
    qt_tape *t;
    int64_t session, seq, n;
    const int64_t t0 = INT64_C(1772461800000000000);

    path_in(p, sizeof p, "a.db");
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_WRITE, &t, err, sizeof err), QT_OK);
    qt_session_info si = {"test", "SPY,QQQ", NULL};
    QT_CHECK_EQ_INT(qt_tape_session_begin(t, &si, &session, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_tape_begin(t, err, sizeof err), QT_OK);
    for (int i = 0; i < 10; i++) {
        qt_quote q = mkq(i % 2 ? "QQQ" : "SPY", t0 + i * INT64_C(1000000000), 100 + i);
        int len = snprintf(raw, sizeof raw, "{\"T\":\"q\",\"S\":\"%s\",\"i\":%d}", q.symbol, i);
        QT_CHECK_EQ_INT(qt_tape_append_quote(t, session, &q, raw, (size_t)len, &seq, err, sizeof err),
                        QT_OK);
        QT_CHECK_EQ_INT(seq, i + 1);
    }
    QT_CHECK_EQ_INT(qt_tape_commit(t, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_tape_add_gap(t, session, t0, t0 + 5, "test outage", err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_tape_set_acked(t, "quotes", 7, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_tape_set_acked(t, "quotes", 9, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_tape_get_acked(t, "quotes", &seq, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(seq, 9);
    QT_CHECK_EQ_INT(qt_tape_get_acked(t, "other", &seq, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(seq, 0);
    qt_tape_free(t);

    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_READ, &t, err, sizeof err), QT_OK);
    const char *spy[] = {"SPY"};
    qt_tape_sel all = {0}, s_spy = {spy, 1, 0, 0, 0};
    QT_CHECK_EQ_INT(qt_tape_count(t, &all, &n, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(n, 10);
    QT_CHECK_EQ_INT(qt_tape_count(t, &s_spy, &n, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(n, 5);
    QT_CHECK(qt_tape_has_recv(t, &all));

    /* iterate SPY only: seqs 1,3,5,7,9 with fields intact */
    qt_tape_iter *it;
    qt_tape_row row;
    int k = 0;
    QT_CHECK_EQ_INT(qt_tape_iter_open(t, &s_spy, &it, err, sizeof err), QT_OK);
    while (qt_tape_iter_next(it, &row, err, sizeof err) == 1) {
        QT_CHECK_EQ_INT(row.seq, 2 * k + 1);
        QT_CHECK_EQ_STR(row.q.symbol, "SPY");
        QT_CHECK_EQ_INT(row.q.t_ns, t0 + 2 * k * INT64_C(1000000000));
        QT_CHECK_EQ_INT(row.q.recv_ns, row.q.t_ns + 1000);
        QT_CHECK(row.q.bid_px == 100 + 2 * k);
        QT_CHECK_EQ_STR(row.q.cond, "[\"R\"]");
        snprintf(raw, sizeof raw, "{\"T\":\"q\",\"S\":\"SPY\",\"i\":%d}", 2 * k);
        QT_CHECK(row.raw_len == strlen(raw) && memcmp(row.raw, raw, row.raw_len) == 0);
        k++;
    }
    QT_CHECK_EQ_INT(k, 5);
    qt_tape_iter_free(it);

    /* prices only: the same quotes, prices and times; the rest left empty */
    qt_tape_sel s_px = s_spy;
    s_px.prices_only = 1;
    k = 0;
    QT_CHECK_EQ_INT(qt_tape_iter_open(t, &s_px, &it, err, sizeof err), QT_OK);
    while (qt_tape_iter_next(it, &row, err, sizeof err) == 1) {
        QT_CHECK_EQ_INT(row.seq, 2 * k + 1);
        QT_CHECK_EQ_STR(row.q.symbol, "SPY");
        QT_CHECK_EQ_INT(row.q.t_ns, t0 + 2 * k * INT64_C(1000000000));
        QT_CHECK(row.q.bid_px == 100 + 2 * k && row.q.ask_px == 100 + 2 * k + 0.01);
        QT_CHECK(row.raw_len == 0 && row.q.recv_ns == 0 && row.q.cond[0] == '\0');
        k++;
    }
    QT_CHECK_EQ_INT(k, 5);
    qt_tape_iter_free(it);

    /* positions */
    static const struct {
        const char *pos;
        int spy_only;
        int64_t want;
    } cases[] = {
        {"beginning", 0, 1},
        {"end", 0, 11},
        {"seq:4", 0, 4},
        {"seq:99", 0, 11},                         /* past the end: one past the last */
        {"2026-03-02T14:30:03Z", 0, 4},            /* exact time: that quote */
        {"2026-03-02T14:30:03.000000001Z", 0, 5},  /* just after: the next */
        {"2026-03-02T14:30:03Z", 1, 5},            /* first SPY at or after */
        {"2026-03-02T15:00:00Z", 0, 11},           /* after the last: end */
        {"2026-03-02T09:30:00-05:00", 0, 1},       /* offsets honoured */
        {"+2s", 0, 3},
        {"+2500ms", 0, 4},
        {"+0s", 1, 1},
        {"+1s", 1, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qt_pos pos;
        QT_CHECK_EQ_INT(qt_pos_parse(cases[i].pos, &pos, err, sizeof err), QT_OK);
        seq = -1;
        QT_CHECK_EQ_INT(qt_tape_resolve(t, cases[i].spy_only ? &s_spy : &all, &pos, &seq, err,
                                        sizeof err),
                        QT_OK);
        if (seq != cases[i].want)
            fprintf(stderr, "position '%s' (spy_only=%d): got seq %lld\n", cases[i].pos,
                    cases[i].spy_only, (long long)seq);
        QT_CHECK_EQ_INT(seq, cases[i].want);
    }
    qt_pos off = {QT_POS_OFFSET, 3};
    QT_CHECK_EQ_INT(qt_tape_resolve(t, &all, &off, &seq, err, sizeof err), QT_EINVAL);
    QT_CHECK(strstr(err, "Kafka position") != NULL);

    /* half-open range: [3, 6) holds seqs 3,4,5 */
    qt_tape_sel r = {NULL, 0, 3, 6, 0};
    QT_CHECK_EQ_INT(qt_tape_count(t, &r, &n, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(n, 3);
    qt_tape_free(t);
}

static void test_bad_files(void)
{
    char p[256], err[512];
    qt_tape *t = NULL;
    FILE *f;

    /* missing file, read mode */
    path_in(p, sizeof p, "missing.db");
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_READ, &t, err, sizeof err), QT_ENOTFOUND);
    QT_CHECK(strstr(err, "cannot open tape") && strstr(err, "No such file"));
    QT_CHECK(t == NULL);

    /* a text file */
    path_in(p, sizeof p, "text.db");
    f = fopen(p, "w");
    fputs("this is not a database, just some text that is long enough to have a header\n", f);
    fclose(f);
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_READ, &t, err, sizeof err), QT_ETAPE);
    QT_CHECK(strstr(err, "is not a tape") != NULL);

    /* a foreign SQLite database */
    sqlite3 *db;
    path_in(p, sizeof p, "foreign.db");
    sqlite3_open(p, &db);
    sqlite3_exec(db, "CREATE TABLE x(a)", NULL, NULL, NULL);
    sqlite3_close(db);
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_WRITE, &t, err, sizeof err), QT_ETAPE);
    QT_CHECK(strstr(err, "without quotetape's schema") != NULL);

    /* a tape from the future */
    path_in(p, sizeof p, "future.db");
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_WRITE, &t, err, sizeof err), QT_OK);
    qt_tape_free(t);
    sqlite3_open(p, &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_READ, &t, err, sizeof err), QT_EVERSION);
    QT_CHECK(strstr(err, "schema version 99, newer than") != NULL);

    /* an empty database is not a tape when read */
    path_in(p, sizeof p, "empty.db");
    sqlite3_open(p, &db);
    sqlite3_close(db);
    f = fopen(p, "w");
    fclose(f);
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_READ, &t, err, sizeof err), QT_ETAPE);

    /* a directory */
    QT_CHECK_EQ_INT(qt_tape_open(dir, QT_TAPE_WRITE, &t, err, sizeof err), QT_ETAPE);
    QT_CHECK(strstr(err, "directory") != NULL);
}

/* A writer holding the lock makes a second writer fail with QT_EBUSY
 * rather than hang or corrupt. */
static void test_locked(void)
{
    char p[256], err[512];
    qt_tape *a, *b;
    path_in(p, sizeof p, "lock.db");
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_WRITE, &a, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_tape_begin(a, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_WRITE, &b, err, sizeof err), QT_OK);
    sqlite3_busy_timeout(qt_tape_db(b), 50);
    QT_CHECK_EQ_INT(qt_tape_begin(b, err, sizeof err), QT_EBUSY);
    QT_CHECK(strstr(err, "locked by another process") != NULL);
    qt_tape_free(b);
    qt_tape_free(a);
}

/* Import of tape JSON lines: counts, bad lines, strict. */
static void test_import(void)
{
    char p[256], err[512];
    const char *text =
        "{\"recv\":\"2026-03-02T14:30:00.000000100Z\",\"msg\":{\"T\":\"q\",\"S\":\"SPY\",\"bx\":\"V\","
        "\"bp\":1.5,\"bs\":1,\"ax\":\"V\",\"ap\":1.6,\"as\":2,\"c\":[\"R\"],\"z\":\"B\","
        "\"t\":\"2026-03-02T14:30:00Z\"}}\n"
        "\n"
        "[{\"T\":\"success\",\"msg\":\"connected\"}]\n"
        "{\"msg\":{\"T\":\"q\",\"S\":\"SPY\",\"bp\":\"oops\"}}\n"
        "{\"T\":\"t\",\"S\":\"SPY\",\"i\":7,\"x\":\"V\",\"p\":1.55,\"s\":10,\"c\":[\"@\"],\"z\":\"B\","
        "\"t\":\"2026-03-02T14:30:00.5Z\"}\n";
    qt_tape *t;
    qt_import_stats st = {0};
    int64_t session, n;
    FILE *f = fmemopen((void *)text, strlen(text), "r");

    path_in(p, sizeof p, "imp.db");
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_WRITE, &t, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_tape_session_begin(t, NULL, &session, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_import_stream(t, session, f, "mem", 0, NULL, &st, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(st.lines, 5);
    QT_CHECK_EQ_INT(st.quotes, 1);
    QT_CHECK_EQ_INT(st.trades, 1);
    QT_CHECK_EQ_INT(st.control, 1);
    QT_CHECK_EQ_INT(st.bad, 1);
    fclose(f);

    /* strict: the bad line aborts with its number, and the caller's
     * transaction rolls everything back */
    f = fmemopen((void *)text, strlen(text), "r");
    memset(&st, 0, sizeof st);
    QT_CHECK_EQ_INT(qt_tape_begin(t, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_import_stream(t, session, f, "mem", 1, NULL, &st, err, sizeof err),
                    QT_EINVAL);
    QT_CHECK(strncmp(err, "mem:4: ", 7) == 0);
    qt_tape_rollback(t);
    fclose(f);
    qt_tape_sel all = {0};
    QT_CHECK_EQ_INT(qt_tape_count(t, &all, &n, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(n, 1);
    qt_tape_free(t);
}

/* A new tape has 16 KiB pages, and while a writer commits batch after
 * batch its WAL stays bounded by the background checkpoints (about 32 MiB
 * each, and the writer's own at 64 MiB when it commits without pause, as
 * here). Every row is there afterwards and the WAL is gone at close. */
static void test_wal_bounded(void)
{
    char p[256], wal[300], err[512], raw[200];
    qt_tape *t;
    int64_t session, seq = 0, n = 0, page = 0, max_wal = 0;
    const int64_t t0 = INT64_C(1772461800000000000), rows = 400000;
    struct stat sb;
    sqlite3_stmt *st;

    path_in(p, sizeof p, "wal.db");
    snprintf(wal, sizeof wal, "%s-wal", p);
    memset(raw, 'x', sizeof raw);
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_WRITE, &t, err, sizeof err), QT_OK);
    QT_CHECK(sqlite3_prepare_v2(qt_tape_db(t), "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        page = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    QT_CHECK_EQ_INT(page, 16384);
    QT_CHECK_EQ_INT(qt_tape_session_begin(t, NULL, &session, err, sizeof err), QT_OK);
    for (int64_t i = 0; i < rows; i++) {
        qt_quote q = mkq("SPY", t0 + i, 100);
        if (i % 5000 == 0)
            QT_CHECK_EQ_INT(qt_tape_begin(t, err, sizeof err), QT_OK);
        if (qt_tape_append_quote(t, session, &q, raw, sizeof raw, &seq, err, sizeof err) != QT_OK)
            break;
        if (i % 5000 == 4999) {
            QT_CHECK_EQ_INT(qt_tape_commit(t, err, sizeof err), QT_OK);
            if (stat(wal, &sb) == 0 && sb.st_size > max_wal)
                max_wal = sb.st_size;
        }
    }
    QT_CHECK_EQ_INT(seq, rows);
    QT_CHECK(max_wal > 0);
    QT_CHECK(max_wal < INT64_C(72) * 1024 * 1024);
    if (max_wal >= INT64_C(72) * 1024 * 1024)
        fprintf(stderr, "test_tape: WAL grew to %lld bytes\n", (long long)max_wal);
    qt_tape_free(t);
    QT_CHECK(stat(wal, &sb) != 0);
    QT_CHECK_EQ_INT(qt_tape_open(p, QT_TAPE_READ, &t, err, sizeof err), QT_OK);
    QT_CHECK(sqlite3_prepare_v2(qt_tape_db(t), "SELECT count(*) FROM quotes", -1, &st, NULL) ==
             SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    QT_CHECK_EQ_INT(n, rows);
    qt_tape_free(t);
}

int main(void)
{
    char cmd[300];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_write_read();
    test_bad_files();
    test_locked();
    test_import();
    test_wal_bounded();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot clean %s\n", dir);
    return qt_test_done("test_tape");
}
