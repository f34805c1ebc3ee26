/* Tests for viewer/wmsg.c: both window message formats, timestamps, the
 * window set (dedupe by symbol and window_start, last N, --symbol) and the
 * chart it builds. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/qt_test.h"
#include "viewer/wmsg.h"

static void test_parse(void)
{
    qt_wmsg m;
    char err[256];
    const char *ours = "{\"symbol\":\"SPY\",\"window_start\":1709649000000,"
                       "\"window_end\":1709649005000,\"price\":512.345,\"count\":17,"
                       "\"bid_open\":512.3,\"bid_high\":512.4,\"bid_low\":512.2,"
                       "\"bid_close\":512.35,\"ask_avg\":512.39}";
    QT_CHECK_EQ_INT(qt_wmsg_parse(ours, strlen(ours), &m, err, sizeof err), QT_OK);
    QT_CHECK_EQ_STR(m.symbol, "SPY");
    QT_CHECK_EQ_INT(m.start_ms, 1709649000000);
    QT_CHECK_EQ_INT(m.end_ms, 1709649005000);
    QT_CHECK(m.price == 512.345);
    QT_CHECK_EQ_INT(m.count, 17);
    QT_CHECK(m.has_ohlc && m.o == 512.3 && m.h == 512.4 && m.l == 512.2 && m.c == 512.35);
    QT_CHECK(m.has_ask && m.ask == 512.39);

    /* Flink on Confluent Cloud: 5-byte schema-registry header, timestamps as
     * strings, upper-case names, count as EXPR-style alias. */
    static const char flink_json[] =
        "{\"SYMBOL\":\"QQQ\",\"window_start\":\"2024-03-05 14:30:05.000\","
        "\"window_end\":\"2024-03-05 14:30:10.000\",\"price\":430.5,\"cnt\":3}";
    unsigned char buf[512];
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 0;
    buf[3] = 0x01;
    buf[4] = 0x86; /* schema id 390 */
    memcpy(buf + 5, flink_json, sizeof flink_json - 1);
    QT_CHECK_EQ_INT(qt_wmsg_parse(buf, 5 + sizeof flink_json - 1, &m, err, sizeof err), QT_OK);
    QT_CHECK_EQ_STR(m.symbol, "QQQ");
    QT_CHECK_EQ_INT(m.start_ms, 1709649005000);
    QT_CHECK_EQ_INT(m.end_ms, 1709649010000);
    QT_CHECK(m.price == 430.5);
    QT_CHECK_EQ_INT(m.count, 3);
    QT_CHECK(!m.has_ohlc && !m.has_ask);

    /* Flink with epoch-ms timestamps and a DECIMAL price as a string. */
    static const char flink_ms[] = "{\"symbol\":\"IWM\",\"window_start\":1709649000000,"
                                   "\"window_end\":1709649005000,\"price\":\"201.25\","
                                   "\"window_time\":1709649004999}";
    memcpy(buf + 5, flink_ms, sizeof flink_ms - 1);
    QT_CHECK_EQ_INT(qt_wmsg_parse(buf, 5 + sizeof flink_ms - 1, &m, err, sizeof err), QT_OK);
    QT_CHECK(m.price == 201.25);
    QT_CHECK_EQ_INT(m.start_ms, 1709649000000);

    /* timestamps */
    int64_t ms;
    QT_CHECK_EQ_INT(qt_wmsg_parse_ts("2024-03-05 14:30:00.123", &ms), QT_OK);
    QT_CHECK_EQ_INT(ms, 1709649000123);
    QT_CHECK_EQ_INT(qt_wmsg_parse_ts("2024-03-05 14:30:00", &ms), QT_OK);
    QT_CHECK_EQ_INT(ms, 1709649000000);
    QT_CHECK_EQ_INT(qt_wmsg_parse_ts("2024-03-05T14:30:00.5Z", &ms), QT_OK);
    QT_CHECK_EQ_INT(ms, 1709649000500);
    QT_CHECK_EQ_INT(qt_wmsg_parse_ts("2024-03-05T15:30:00+01:00", &ms), QT_OK);
    QT_CHECK_EQ_INT(ms, 1709649000000);
    QT_CHECK_EQ_INT(qt_wmsg_parse_ts("14:30:00", &ms), QT_EINVAL);
    QT_CHECK_EQ_INT(qt_wmsg_parse_ts("2024-13-05 14:30:00.000", &ms), QT_EINVAL);

    /* Not window messages, each with a reason. */
    static const char *bad[] = {
        "{\"T\":\"q\",\"S\":\"SPY\",\"bp\":1}",
        "{\"symbol\":\"SPY\",\"window_start\":1,\"window_end\":1,\"price\":1}", /* end<=start */
        "{\"symbol\":\"SPY\",\"window_start\":1,\"window_end\":2,\"price\":\"x\"}",
        "{\"symbol\":\"\",\"window_start\":1,\"window_end\":2,\"price\":1}",
        "{\"symbol\":\"SPY\",\"window_start\":\"yesterday\",\"window_end\":2,\"price\":1}",
        "[1]", "not json", "{",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        QT_CHECK_EQ_INT(qt_wmsg_parse(bad[i], strlen(bad[i]), &m, err, sizeof err), QT_EINVAL);
        QT_CHECK(err[0] != '\0');
    }
    unsigned char hdr_only[5] = {0, 0, 0, 0, 1};
    QT_CHECK_EQ_INT(qt_wmsg_parse(hdr_only, 5, &m, err, sizeof err), QT_EINVAL);
    QT_CHECK_EQ_INT(qt_wmsg_parse("", 0, &m, err, sizeof err), QT_EINVAL);
    char *huge = malloc(QT_WMSG_MAX + 2);
    memset(huge, ' ', QT_WMSG_MAX + 1);
    huge[QT_WMSG_MAX + 1] = '\0';
    QT_CHECK_EQ_INT(qt_wmsg_parse(huge, QT_WMSG_MAX + 1, &m, err, sizeof err), QT_ETOOBIG);
    free(huge);
}

static qt_wmsg mk(const char *sym, int64_t start, double price)
{
    qt_wmsg m;
    memset(&m, 0, sizeof m);
    snprintf(m.symbol, sizeof m.symbol, "%s", sym);
    m.start_ms = start;
    m.end_ms = start + 5000;
    m.price = price;
    m.count = 1;
    return m;
}

static void test_set(void)
{
    qt_wset ws;
    qt_wmsg m;

    qt_wset_init(&ws, 3, NULL);
    /* out of order arrival is kept sorted */
    m = mk("SPY", 10000, 1);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 1);
    m = mk("SPY", 0, 2);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 1);
    m = mk("SPY", 5000, 3);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 1);
    QT_CHECK_EQ_INT(ws.s[0].v[0].start_ms, 0);
    QT_CHECK_EQ_INT(ws.s[0].v[1].start_ms, 5000);
    QT_CHECK_EQ_INT(ws.s[0].v[2].start_ms, 10000);
    /* the same window again, identical: no change; different: replaced */
    m = mk("SPY", 5000, 3);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 0);
    m = mk("SPY", 5000, 4);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 1);
    QT_CHECK(ws.s[0].v[1].price == 4);
    QT_CHECK_EQ_INT(qt_wset_count(&ws), 3);
    /* last N: a newer one pushes out the oldest; an older one is ignored */
    m = mk("SPY", 15000, 5);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 1);
    QT_CHECK_EQ_INT(ws.s[0].v[0].start_ms, 5000);
    QT_CHECK_EQ_INT(ws.s[0].v[2].start_ms, 15000);
    m = mk("SPY", 0, 9);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 0);
    /* a newer one landing in the middle after eviction */
    m = mk("SPY", 12000, 6);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 1);
    QT_CHECK_EQ_INT(ws.s[0].v[0].start_ms, 10000);
    QT_CHECK_EQ_INT(ws.s[0].v[1].start_ms, 12000);
    QT_CHECK_EQ_INT(ws.s[0].v[2].start_ms, 15000);
    /* a second symbol gets its own series; chart panels in byte order */
    m = mk("AAPL", 0, 170);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 1);
    qt_wset_chart store;
    qt_gp_chart c;
    QT_CHECK_EQ_INT(qt_wset_chart_build(&ws, 1, &store, &c), QT_OK);
    QT_CHECK_EQ_INT(c.npanels, 2);
    QT_CHECK_EQ_STR(c.panels[0].title, "AAPL");
    QT_CHECK_EQ_INT(c.panels[0].n, 1);
    QT_CHECK(c.panels[0].price[0] == 170);
    QT_CHECK_EQ_STR(c.panels[1].title, "SPY");
    QT_CHECK_EQ_INT(c.panels[1].n, 3);
    QT_CHECK_EQ_INT(c.panels[1].t_ms[0], 10000);
    QT_CHECK(c.panels[1].price[0] == 1 && c.panels[1].price[1] == 6 && c.panels[1].price[2] == 5);
    QT_CHECK(c.panels[1].o == NULL); /* no OHLC in these messages */
    qt_wset_chart_release(&store);
    qt_wset_release(&ws);

    /* --symbol */
    qt_wset_init(&ws, 20, "QQQ");
    m = mk("SPY", 0, 1);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 0);
    m = mk("QQQ", 0, 1);
    QT_CHECK_EQ_INT(qt_wset_add(&ws, &m), 1);
    QT_CHECK_EQ_INT(qt_wset_count(&ws), 1);
    QT_CHECK_EQ_INT(ws.ignored, 1);
    qt_wset_release(&ws);

    /* empty set: nothing to chart */
    qt_wset_init(&ws, 20, NULL);
    QT_CHECK_EQ_INT(qt_wset_chart_build(&ws, 0, &store, &c), QT_ERANGE);
    /* symbol cap */
    for (int i = 0; i < QT_WSET_SYMBOLS_MAX + 5; i++) {
        char s[16];
        snprintf(s, sizeof s, "S%d", i);
        m = mk(s, 0, 1);
        qt_wset_add(&ws, &m);
    }
    QT_CHECK_EQ_INT(ws.ns, QT_WSET_SYMBOLS_MAX);
    QT_CHECK_EQ_INT(ws.dropped_symbols, 5);
    qt_wset_release(&ws);
}

int main(void)
{
    test_parse();
    test_set();
    return qt_test_done("test_view");
}
