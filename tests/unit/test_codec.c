/* Unit tests for the Alpaca wire codec (core/codec.h), JSON and MessagePack,
 * and for RFC 3339 time (core/qtime.h) that the codec relies on. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/jsonl.h"
#include "core/qtime.h"
#include "tests/unit/qt_test.h"

/* ======================================================================
 * helpers: collect what a parse delivers
 * ====================================================================== */

#define GOT_MAX 16

typedef struct got {
    size_t n;
    int stop_after; /* return nonzero from the callback after this many */
    qt_msg m[GOT_MAX];
    char raw[GOT_MAX][1024];
    size_t raw_len[GOT_MAX];
    char subs[GOT_MAX][9][256]; /* each list joined with ',' */
} got;

static void join(const qt_sublist *l, char *dst, size_t n)
{
    size_t o = 0;
    dst[0] = '\0';
    for (size_t i = 0; i < l->n && o < n; i++)
        o += (size_t)snprintf(dst + o, n - o, "%s%s", i ? "," : "", l->syms[i]);
}

static int collect(const qt_msg *m, void *ud)
{
    got *g = ud;
    if (g->n < GOT_MAX) {
        g->m[g->n] = *m;
        g->raw_len[g->n] = m->raw_len;
        memcpy(g->raw[g->n], m->raw, m->raw_len < 1023 ? m->raw_len : 1023);
        g->raw[g->n][m->raw_len < 1023 ? m->raw_len : 1023] = '\0';
        if (m->type == QT_MSG_SUBSCRIPTION && m->u.sub) {
            const qt_subscription *s = m->u.sub;
            const qt_sublist *l[9] = {&s->trades,       &s->quotes,      &s->bars,
                                      &s->updated_bars, &s->daily_bars,  &s->statuses,
                                      &s->lulds,        &s->corrections, &s->cancel_errors};
            for (int k = 0; k < 9; k++)
                join(l[k], g->subs[g->n][k], sizeof g->subs[g->n][k]);
        }
        g->m[g->n].raw = NULL; /* not valid after the callback */
    }
    g->n++;
    return g->stop_after && g->n >= (size_t)g->stop_after;
}

static qt_err parse_json(const char *frame, got *g, size_t *delivered, char *err, size_t errsz)
{
    /* parse from an exact-size heap copy so ASan sees any over-read */
    size_t len = strlen(frame);
    char *copy = malloc(len ? len : 1);
    qt_err rc;
    memcpy(copy, frame, len);
    memset(g, 0, sizeof *g);
    err[0] = '\0';
    rc = qt_frame_parse_json(copy, len, 1234, collect, g, delivered, err, errsz);
    free(copy);
    return rc;
}

static qt_err parse_mp(const char *buf, size_t len, got *g, size_t *delivered, char *err,
                       size_t errsz)
{
    char *copy = malloc(len ? len : 1);
    qt_err rc;
    memcpy(copy, buf, len);
    memset(g, 0, sizeof *g);
    err[0] = '\0';
    rc = qt_frame_parse_msgpack(copy, len, 1234, collect, g, delivered, err, errsz);
    free(copy);
    return rc;
}

static int64_t ts(const char *s)
{
    int64_t ns = 0;
    char err[128];
    if (qt_time_parse(s, strlen(s), &ns, err, sizeof err))
        fprintf(stderr, "bad test timestamp %s: %s\n", s, err);
    return ns;
}

static void hex(const char *buf, size_t len, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = h[(unsigned char)buf[i] >> 4];
        out[2 * i + 1] = h[(unsigned char)buf[i] & 15];
    }
    out[2 * len] = '\0';
}

static int quote_eq(const qt_quote *a, const qt_quote *b)
{
    return strcmp(a->symbol, b->symbol) == 0 && a->t_ns == b->t_ns && a->recv_ns == b->recv_ns &&
           a->bid_px == b->bid_px && a->ask_px == b->ask_px && a->bid_sz == b->bid_sz &&
           a->ask_sz == b->ask_sz && strcmp(a->bid_ex, b->bid_ex) == 0 &&
           strcmp(a->ask_ex, b->ask_ex) == 0 && strcmp(a->cond, b->cond) == 0 &&
           strcmp(a->tape, b->tape) == 0;
}

static int trade_eq(const qt_trade *a, const qt_trade *b)
{
    return strcmp(a->symbol, b->symbol) == 0 && a->t_ns == b->t_ns && a->recv_ns == b->recv_ns &&
           a->id == b->id && a->px == b->px && a->sz == b->sz && strcmp(a->ex, b->ex) == 0 &&
           strcmp(a->cond, b->cond) == 0 && strcmp(a->tape, b->tape) == 0;
}

static int bar_eq(const qt_bar *a, const qt_bar *b)
{
    return strcmp(a->symbol, b->symbol) == 0 && a->t_ns == b->t_ns && a->recv_ns == b->recv_ns &&
           a->o == b->o && a->h == b->h && a->l == b->l && a->c == b->c && a->v == b->v &&
           a->n == b->n && a->vw == b->vw;
}

/* ======================================================================
 * parsing every message type (Alpaca's documented examples)
 * ====================================================================== */

static void test_parse_types(void)
{
    got g;
    char err[256];
    size_t d;

    /* quote */
    QT_CHECK_EQ_INT(
        parse_json("[{\"T\":\"q\",\"S\":\"AMD\",\"bx\":\"U\",\"bp\":87.66,\"bs\":1,"
                   "\"ax\":\"Q\",\"ap\":87.68,\"as\":4,"
                   "\"t\":\"2021-02-22T15:51:45.335689322Z\",\"c\":[\"R\"],\"z\":\"C\"}]",
                   &g, &d, err, sizeof err),
        QT_OK);
    QT_CHECK_EQ_INT(d, 1);
    QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_QUOTE);
    QT_CHECK_EQ_STR(g.m[0].T, "q");
    QT_CHECK_EQ_STR(g.m[0].u.quote.symbol, "AMD");
    QT_CHECK_EQ_STR(g.m[0].u.quote.bid_ex, "U");
    QT_CHECK(g.m[0].u.quote.bid_px == 87.66);
    QT_CHECK_EQ_INT(g.m[0].u.quote.bid_sz, 1);
    QT_CHECK_EQ_STR(g.m[0].u.quote.ask_ex, "Q");
    QT_CHECK(g.m[0].u.quote.ask_px == 87.68);
    QT_CHECK_EQ_INT(g.m[0].u.quote.ask_sz, 4);
    QT_CHECK_EQ_INT(g.m[0].u.quote.t_ns, INT64_C(1614009105335689322));
    QT_CHECK_EQ_INT(g.m[0].u.quote.recv_ns, 1234);
    QT_CHECK_EQ_STR(g.m[0].u.quote.cond, "[\"R\"]");
    QT_CHECK_EQ_STR(g.m[0].u.quote.tape, "C");

    /* trade */
    QT_CHECK_EQ_INT(parse_json("[{\"T\":\"t\",\"i\":96921,\"S\":\"AAPL\",\"x\":\"D\",\"p\":126.55,"
                               "\"s\":1,\"t\":\"2021-02-22T15:51:44.208Z\",\"c\":[\"@\",\"I\"],"
                               "\"z\":\"C\"}]",
                               &g, &d, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_TRADE);
    QT_CHECK_EQ_STR(g.m[0].u.trade.symbol, "AAPL");
    QT_CHECK_EQ_INT(g.m[0].u.trade.id, 96921);
    QT_CHECK_EQ_STR(g.m[0].u.trade.ex, "D");
    QT_CHECK(g.m[0].u.trade.px == 126.55);
    QT_CHECK_EQ_INT(g.m[0].u.trade.sz, 1);
    QT_CHECK_EQ_INT(g.m[0].u.trade.t_ns, INT64_C(1614009104208000000));
    QT_CHECK_EQ_STR(g.m[0].u.trade.cond, "[\"@\",\"I\"]");
    QT_CHECK_EQ_STR(g.m[0].u.trade.tape, "C");

    /* bars: minute, daily, updated */
    static const char *bar_T[] = {"b", "d", "u"};
    for (int k = 0; k < 3; k++) {
        char frame[512];
        snprintf(frame, sizeof frame,
                 "[{\"T\":\"%s\",\"S\":\"SPY\",\"o\":388.985,\"h\":389.13,\"l\":388.975,"
                 "\"c\":389.12,\"v\":49378,\"t\":\"2021-02-22T19:15:00Z\",\"n\":461,"
                 "\"vw\":389.062639}]",
                 bar_T[k]);
        QT_CHECK_EQ_INT(parse_json(frame, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_BAR);
        QT_CHECK_EQ_STR(g.m[0].T, bar_T[k]);
        QT_CHECK_EQ_STR(g.m[0].u.bar.symbol, "SPY");
        QT_CHECK(g.m[0].u.bar.o == 388.985 && g.m[0].u.bar.h == 389.13 &&
                 g.m[0].u.bar.l == 388.975 && g.m[0].u.bar.c == 389.12);
        QT_CHECK_EQ_INT(g.m[0].u.bar.v, 49378);
        QT_CHECK_EQ_INT(g.m[0].u.bar.n, 461);
        QT_CHECK(g.m[0].u.bar.vw == 389.062639);
        QT_CHECK_EQ_INT(g.m[0].u.bar.t_ns, INT64_C(1614021300000000000));
    }

    /* success, error */
    QT_CHECK_EQ_INT(
        parse_json("[{\"T\":\"success\",\"msg\":\"connected\"}]", &g, &d, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_SUCCESS);
    QT_CHECK_EQ_STR(g.m[0].u.success.msg, "connected");
    QT_CHECK_EQ_INT(parse_json("[{\"T\":\"error\",\"code\":406,\"msg\":\"connection limit "
                               "exceeded\"}]",
                               &g, &d, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_ERROR);
    QT_CHECK_EQ_INT(g.m[0].u.error.code, 406);
    QT_CHECK_EQ_STR(g.m[0].u.error.msg, "connection limit exceeded");

    /* subscription, every list */
    QT_CHECK_EQ_INT(parse_json("[{\"T\":\"subscription\",\"trades\":[\"AAPL\"],\"quotes\":[\"AMD\","
                               "\"CLDR\"],\"bars\":[\"*\"],\"updatedBars\":[],\"dailyBars\":"
                               "[\"VOO\"],\"statuses\":[\"*\"],\"lulds\":[],\"corrections\":"
                               "[\"AAPL\"],\"cancelErrors\":[\"AAPL\",\"TSLA\"]}]",
                               &g, &d, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_SUBSCRIPTION);
    QT_CHECK_EQ_STR(g.subs[0][0], "AAPL");
    QT_CHECK_EQ_STR(g.subs[0][1], "AMD,CLDR");
    QT_CHECK_EQ_STR(g.subs[0][2], "*");
    QT_CHECK_EQ_STR(g.subs[0][3], "");
    QT_CHECK_EQ_STR(g.subs[0][4], "VOO");
    QT_CHECK_EQ_STR(g.subs[0][5], "*");
    QT_CHECK_EQ_STR(g.subs[0][6], "");
    QT_CHECK_EQ_STR(g.subs[0][7], "AAPL");
    QT_CHECK_EQ_STR(g.subs[0][8], "AAPL,TSLA");

    /* other types pass through with their raw text */
    QT_CHECK_EQ_INT(parse_json("[{\"T\":\"s\",\"S\":\"AAPL\",\"sc\":\"H\"},{\"T\":\"l\"}]", &g, &d,
                               err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(d, 2);
    QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_OTHER);
    QT_CHECK_EQ_STR(g.m[0].T, "s");
    QT_CHECK_EQ_STR(g.raw[0], "{\"T\":\"s\",\"S\":\"AAPL\",\"sc\":\"H\"}");
    QT_CHECK_EQ_STR(g.m[1].T, "l");

    /* a bare object is accepted as a one-message frame */
    QT_CHECK_EQ_INT(
        parse_json(" {\"T\":\"success\",\"msg\":\"authenticated\"}\n", &g, &d, err, sizeof err),
        QT_OK);
    QT_CHECK_EQ_INT(d, 1);
    QT_CHECK_EQ_STR(g.m[0].u.success.msg, "authenticated");
    QT_CHECK_EQ_STR(g.raw[0], "{\"T\":\"success\",\"msg\":\"authenticated\"}");

    /* optional quote fields (crypto-style quote), empty frame */
    QT_CHECK_EQ_INT(parse_json("[{\"T\":\"q\",\"S\":\"BTC/USD\",\"bp\":1,\"bs\":2,\"ap\":3,"
                               "\"as\":4,\"t\":\"2024-01-01T00:00:00Z\"}]",
                               &g, &d, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_STR(g.m[0].u.quote.cond, "");
    QT_CHECK_EQ_STR(g.m[0].u.quote.bid_ex, "");
    QT_CHECK_EQ_INT(parse_json(" [ ] ", &g, &d, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(d, 0);

    /* integers past 2^53 stay exact (trade ids) */
    QT_CHECK_EQ_INT(parse_json("[{\"T\":\"t\",\"i\":9007199254740993,\"S\":\"A\",\"p\":1,\"s\":1,"
                               "\"t\":\"2024-01-01T00:00:00Z\"}]",
                               &g, &d, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(g.m[0].u.trade.id, INT64_C(9007199254740993));

    /* qt_msg_parse_json: one object */
    {
        qt_msg m;
        const char *obj = "{\"T\":\"q\",\"S\":\"X\",\"bp\":1.5,\"bs\":1,\"ap\":2.5,\"as\":2,"
                          "\"t\":\"2024-01-01T00:00:00.000000001Z\"}";
        QT_CHECK_EQ_INT(qt_msg_parse_json(obj, strlen(obj), 99, &m, err, sizeof err), QT_OK);
        QT_CHECK(m.raw == obj && m.raw_len == strlen(obj));
        QT_CHECK_EQ_INT(m.u.quote.t_ns, INT64_C(1704067200000000001));
        QT_CHECK_EQ_INT(m.u.quote.recv_ns, 99);
        const char *sub = "{\"T\":\"subscription\",\"quotes\":[\"A\"]}";
        QT_CHECK_EQ_INT(qt_msg_parse_json(sub, strlen(sub), 0, &m, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(m.type, QT_MSG_SUBSCRIPTION);
        QT_CHECK(m.u.sub == NULL);
        QT_CHECK_EQ_INT(qt_msg_parse_json("{\"T\":\"q\"} x", 11, 0, &m, err, sizeof err),
                        QT_EINVAL);
        QT_CHECK_EQ_STR(err, "trailing bytes after the message object");
        QT_CHECK_EQ_INT(qt_msg_parse_json("{\"S\":\"A\"}", 9, 0, &m, err, sizeof err), QT_EINVAL);
        QT_CHECK_EQ_STR(err, "missing field 'T'");
    }
}

/* ======================================================================
 * error codes
 * ====================================================================== */

static void test_error_codes(void)
{
    static const struct {
        int code;
        const char *text;
    } tab[] = {
        {400, "invalid syntax"},
        {401, "not authenticated"},
        {402, "auth failed"},
        {403, "already authenticated"},
        {404, "auth timeout"},
        {405, "symbol limit exceeded"},
        {406, "connection limit exceeded"},
        {407, "slow client"},
        {409, "insufficient subscription"},
        {410, "invalid subscribe action for this feed"},
        {500, "internal error"},
    };
    got g;
    char err[256], want[256];
    size_t d;
    qt_buf b;

    qt_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        QT_CHECK_EQ_STR(qt_alpaca_error_text(tab[i].code), tab[i].text);
        /* as Alpaca sends it */
        snprintf(want, sizeof want, "[{\"T\":\"error\",\"code\":%d,\"msg\":\"%s\"}]", tab[i].code,
                 tab[i].text);
        QT_CHECK_EQ_INT(parse_json(want, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_ERROR);
        QT_CHECK_EQ_INT(g.m[0].u.error.code, tab[i].code);
        QT_CHECK_EQ_STR(g.m[0].u.error.msg, tab[i].text);
        /* our encoder writes the same bytes, default text from the code */
        qt_buf_reset(&b);
        QT_CHECK_EQ_INT(qt_error_frame_json(tab[i].code, NULL, &b), QT_OK);
        QT_CHECK_EQ_STR(b.data, want);
        /* MessagePack round trip */
        qt_buf_reset(&b);
        QT_CHECK_EQ_INT(qt_error_frame_msgpack(tab[i].code, NULL, &b), QT_OK);
        QT_CHECK_EQ_INT(parse_mp(b.data, b.len, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(g.m[0].u.error.code, tab[i].code);
        QT_CHECK_EQ_STR(g.m[0].u.error.msg, tab[i].text);
        /* no msg: the default text fills in */
        snprintf(want, sizeof want, "[{\"T\":\"error\",\"code\":%d}]", tab[i].code);
        QT_CHECK_EQ_INT(parse_json(want, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_STR(g.m[0].u.error.msg, tab[i].text);
    }
    QT_CHECK(qt_alpaca_error_text(408) == NULL);
    QT_CHECK(qt_alpaca_error_text(200) == NULL);
    qt_buf_release(&b);
}

/* ======================================================================
 * encoding
 * ====================================================================== */

static qt_quote sample_quote(void)
{
    qt_quote q;
    memset(&q, 0, sizeof q);
    snprintf(q.symbol, sizeof q.symbol, "SPY");
    snprintf(q.bid_ex, sizeof q.bid_ex, "V");
    snprintf(q.ask_ex, sizeof q.ask_ex, "V");
    snprintf(q.cond, sizeof q.cond, "[\"R\"]");
    snprintf(q.tape, sizeof q.tape, "B");
    q.bid_px = 412.34;
    q.ask_px = 412.35;
    q.bid_sz = 1;
    q.ask_sz = 2;
    q.t_ns = ts("2024-03-05T14:30:00.123456789Z");
    return q;
}

static void test_encode(void)
{
    qt_buf b;
    qt_quote q = sample_quote();
    qt_trade t;
    qt_bar bar;
    qt_subscription *s = calloc(1, sizeof *s);

    qt_buf_init(&b, 0);
    QT_CHECK_EQ_INT(qt_quote_to_json(&q, &b), QT_OK);
    QT_CHECK_EQ_STR(b.data, "{\"T\":\"q\",\"S\":\"SPY\",\"bx\":\"V\",\"bp\":412.34,\"bs\":1,"
                            "\"ax\":\"V\",\"ap\":412.35,\"as\":2,\"c\":[\"R\"],\"z\":\"B\","
                            "\"t\":\"2024-03-05T14:30:00.123456789Z\"}");

    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "AAPL");
    snprintf(t.ex, sizeof t.ex, "D");
    snprintf(t.cond, sizeof t.cond, "[\"@\",\"I\"]");
    snprintf(t.tape, sizeof t.tape, "C");
    t.id = 96921;
    t.px = 126.55;
    t.sz = 100;
    t.t_ns = ts("2021-02-22T15:51:44.208Z");
    qt_buf_reset(&b);
    QT_CHECK_EQ_INT(qt_trade_to_json(&t, &b), QT_OK);
    QT_CHECK_EQ_STR(b.data, "{\"T\":\"t\",\"S\":\"AAPL\",\"i\":96921,\"x\":\"D\",\"p\":126.55,"
                            "\"s\":100,\"c\":[\"@\",\"I\"],\"z\":\"C\","
                            "\"t\":\"2021-02-22T15:51:44.208Z\"}");

    memset(&bar, 0, sizeof bar);
    snprintf(bar.symbol, sizeof bar.symbol, "SPY");
    bar.o = 388.985;
    bar.h = 389.13;
    bar.l = 388.975;
    bar.c = 389.12;
    bar.v = 49378;
    bar.n = 461;
    bar.vw = 389.062639;
    bar.t_ns = ts("2021-02-22T19:15:00Z");
    qt_buf_reset(&b);
    QT_CHECK_EQ_INT(qt_bar_to_json(&bar, &b), QT_OK);
    QT_CHECK_EQ_STR(b.data, "{\"T\":\"b\",\"S\":\"SPY\",\"o\":388.985,\"h\":389.13,\"l\":388.975,"
                            "\"c\":389.12,\"v\":49378,\"t\":\"2021-02-22T19:15:00Z\",\"n\":461,"
                            "\"vw\":389.062639}");

    qt_buf_reset(&b);
    QT_CHECK_EQ_INT(qt_success_frame_json("authenticated", &b), QT_OK);
    QT_CHECK_EQ_STR(b.data, "[{\"T\":\"success\",\"msg\":\"authenticated\"}]");
    qt_buf_reset(&b);
    QT_CHECK_EQ_INT(qt_error_frame_json(400, "invalid syntax: \"x\"", &b), QT_OK);
    QT_CHECK_EQ_STR(b.data,
                    "[{\"T\":\"error\",\"code\":400,\"msg\":\"invalid syntax: \\\"x\\\"\"}]");

    s->quotes.syms[0] = "AMD";
    s->quotes.syms[1] = "CLDR";
    s->quotes.n = 2;
    s->bars.syms[0] = "*";
    s->bars.n = 1;
    s->cancel_errors.syms[0] = "AAPL";
    s->cancel_errors.n = 1;
    qt_buf_reset(&b);
    QT_CHECK_EQ_INT(qt_subscription_frame_json(s, &b), QT_OK);
    QT_CHECK_EQ_STR(b.data, "[{\"T\":\"subscription\",\"trades\":[],\"quotes\":[\"AMD\",\"CLDR\"],"
                            "\"bars\":[\"*\"],\"updatedBars\":[],\"dailyBars\":[],"
                            "\"statuses\":[],\"lulds\":[],\"corrections\":[],"
                            "\"cancelErrors\":[\"AAPL\"]}]");
    /* ... and it parses back to the same lists */
    {
        got g;
        char err[256];
        size_t d;
        QT_CHECK_EQ_INT(parse_json(b.data, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_STR(g.subs[0][1], "AMD,CLDR");
        QT_CHECK_EQ_STR(g.subs[0][2], "*");
        QT_CHECK_EQ_STR(g.subs[0][8], "AAPL");
        /* and the MessagePack reply carries the same */
        qt_buf_reset(&b);
        QT_CHECK_EQ_INT(qt_subscription_frame_msgpack(s, &b), QT_OK);
        QT_CHECK_EQ_INT(parse_mp(b.data, b.len, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_SUBSCRIPTION);
        QT_CHECK_EQ_STR(g.subs[0][1], "AMD,CLDR");
        QT_CHECK_EQ_STR(g.subs[0][2], "*");
        QT_CHECK_EQ_STR(g.subs[0][8], "AAPL");
        QT_CHECK_EQ_STR(g.subs[0][0], "");
        qt_buf_reset(&b);
        QT_CHECK_EQ_INT(qt_success_frame_msgpack("connected", &b), QT_OK);
        QT_CHECK_EQ_INT(parse_mp(b.data, b.len, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_SUCCESS);
        QT_CHECK_EQ_STR(g.m[0].u.success.msg, "connected");
    }

    /* strings are escaped */
    qt_buf_reset(&b);
    q = sample_quote();
    snprintf(q.symbol, sizeof q.symbol, "A\"\\\n\x01");
    QT_CHECK_EQ_INT(qt_quote_to_json(&q, &b), QT_OK);
    QT_CHECK(strstr(b.data, "\"S\":\"A\\\"\\\\\\n\\u0001\"") != NULL);

    /* failures leave the buffer as it was */
    qt_buf_reset(&b);
    qt_buf_append(&b, "xy", 2);
    q = sample_quote();
    q.bid_px = NAN;
    QT_CHECK_EQ_INT(qt_quote_to_json(&q, &b), QT_EINVAL);
    QT_CHECK_EQ_INT(b.len, 2);
    QT_CHECK_EQ_STR(b.data, "xy");
    QT_CHECK_EQ_INT(qt_quote_to_msgpack(&q, &b), QT_EINVAL);
    QT_CHECK_EQ_INT(b.len, 2);
    q = sample_quote();
    snprintf(q.cond, sizeof q.cond, "R");
    QT_CHECK_EQ_INT(qt_quote_to_json(&q, &b), QT_EINVAL);
    QT_CHECK_EQ_INT(qt_quote_to_msgpack(&q, &b), QT_EINVAL);
    QT_CHECK_EQ_INT(b.len, 2);
    qt_buf_release(&b);

    /* a capped buffer: the quote does not fit, nothing is appended */
    qt_buf_init(&b, 40);
    q = sample_quote();
    QT_CHECK_EQ_INT(qt_quote_to_json(&q, &b), QT_ETOOBIG);
    QT_CHECK_EQ_INT(b.len, 0);
    QT_CHECK_EQ_INT(qt_quote_to_msgpack(&q, &b), QT_ETOOBIG);
    QT_CHECK_EQ_INT(b.len, 0);
    qt_buf_release(&b);
    free(s);
}

static void test_buf(void)
{
    qt_buf b;
    qt_buf_init(&b, 10);
    QT_CHECK_EQ_INT(qt_buf_append(&b, "12345678", 8), QT_OK);
    QT_CHECK_EQ_INT(qt_buf_append(&b, "abc", 3), QT_ETOOBIG);
    QT_CHECK_EQ_INT(b.len, 8);
    QT_CHECK_EQ_STR(b.data, "12345678");
    QT_CHECK_EQ_INT(qt_buf_printf(&b, "%d", 123), QT_ETOOBIG);
    QT_CHECK_EQ_STR(b.data, "12345678");
    QT_CHECK_EQ_INT(qt_buf_printf(&b, "%d", 12), QT_OK);
    QT_CHECK_EQ_STR(b.data, "1234567812");
    QT_CHECK_EQ_INT(b.len, 10);
    qt_buf_reset(&b);
    QT_CHECK_EQ_INT(b.len, 0);
    qt_buf_release(&b);
    QT_CHECK(b.data == NULL);
    /* growth past the first allocation through printf */
    qt_buf_init(&b, 0);
    QT_CHECK_EQ_INT(b.cap, QT_FRAME_MAX);
    for (int i = 0; i < 1000; i++)
        QT_CHECK_EQ_INT(qt_buf_printf(&b, "%04d,", i), QT_OK);
    QT_CHECK_EQ_INT(b.len, 5000);
    QT_CHECK(memcmp(b.data + 4995, "0999,", 5) == 0 && b.data[5000] == '\0');
    qt_buf_release(&b);
}

/* ======================================================================
 * round trips
 * ====================================================================== */

static const char *const rt_times[] = {
    "2024-03-05T14:30:00.123456789Z", "2024-03-05T14:30:00Z",
    "2024-02-29T23:59:59.5Z",         "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999999999Z", "2106-02-07T06:28:15Z",
    "2106-02-07T06:28:16Z",           "2262-04-11T23:47:16.854775807Z",
    "1677-09-21T00:12:43.145224192Z", "2000-01-01T00:00:00.000000001Z",
};

static void test_roundtrip(void)
{
    static const double prices[] = {412.34, 0.1, 1e-7, 99999.9999, 0, 1.0 / 3, 5e15};
    qt_buf b;
    got g;
    char err[256];
    size_t d;

    qt_buf_init(&b, 0);
    for (size_t ti = 0; ti < sizeof rt_times / sizeof rt_times[0]; ti++) {
        for (size_t pi = 0; pi < sizeof prices / sizeof prices[0]; pi++) {
            qt_quote q = sample_quote();
            qt_trade t;
            qt_bar bar;
            q.t_ns = ts(rt_times[ti]);
            q.recv_ns = 1234;
            q.bid_px = prices[pi];
            q.ask_px = prices[pi] * 2;
            q.bid_sz = (int64_t)pi * 1000003;
            if (pi == 1) /* optional fields absent */
                q.bid_ex[0] = q.ask_ex[0] = q.cond[0] = q.tape[0] = '\0';
            if (pi == 2)
                snprintf(q.cond, sizeof q.cond, "[]");
            if (pi == 3)
                snprintf(q.cond, sizeof q.cond, "[\"R\",\"\\\"q\\\"\"]");

            /* JSON */
            qt_buf_reset(&b);
            qt_buf_append(&b, "[", 1);
            QT_CHECK_EQ_INT(qt_quote_to_json(&q, &b), QT_OK);
            qt_buf_append(&b, "]", 1);
            QT_CHECK_EQ_INT(parse_json(b.data, &g, &d, err, sizeof err), QT_OK);
            QT_CHECK(d == 1 && g.m[0].type == QT_MSG_QUOTE && quote_eq(&g.m[0].u.quote, &q));
            if (!quote_eq(&g.m[0].u.quote, &q))
                fprintf(stderr, "  json quote round trip: %s (%s)\n", b.data, err);

            /* MessagePack */
            qt_buf_reset(&b);
            QT_CHECK_EQ_INT(qt_quote_to_msgpack(&q, &b), QT_OK);
            QT_CHECK_EQ_INT(parse_mp(b.data, b.len, &g, &d, err, sizeof err), QT_OK);
            QT_CHECK(d == 1 && g.m[0].type == QT_MSG_QUOTE && quote_eq(&g.m[0].u.quote, &q));
            QT_CHECK(g.raw_len[0] == b.len && memcmp(g.raw[0], b.data, b.len) == 0);
            if (!quote_eq(&g.m[0].u.quote, &q))
                fprintf(stderr, "  msgpack quote round trip failed at %s: %s\n", rt_times[ti], err);

            memset(&t, 0, sizeof t);
            snprintf(t.symbol, sizeof t.symbol, "BRK.B");
            t.t_ns = q.t_ns;
            t.recv_ns = 1234;
            t.id = INT64_C(52983525029461) + (int64_t)pi;
            t.px = prices[pi];
            t.sz = 7;
            if (pi != 1) {
                snprintf(t.ex, sizeof t.ex, "V");
                snprintf(t.cond, sizeof t.cond, "[\"@\"]");
                snprintf(t.tape, sizeof t.tape, "B");
            }
            qt_buf_reset(&b);
            QT_CHECK_EQ_INT(qt_trade_to_json(&t, &b), QT_OK);
            QT_CHECK_EQ_INT(parse_json(b.data, &g, &d, err, sizeof err), QT_OK);
            QT_CHECK(g.m[0].type == QT_MSG_TRADE && trade_eq(&g.m[0].u.trade, &t));
            qt_buf_reset(&b);
            QT_CHECK_EQ_INT(qt_trade_to_msgpack(&t, &b), QT_OK);
            QT_CHECK_EQ_INT(parse_mp(b.data, b.len, &g, &d, err, sizeof err), QT_OK);
            QT_CHECK(g.m[0].type == QT_MSG_TRADE && trade_eq(&g.m[0].u.trade, &t));

            memset(&bar, 0, sizeof bar);
            snprintf(bar.symbol, sizeof bar.symbol, "SPY");
            bar.t_ns = q.t_ns;
            bar.recv_ns = 1234;
            bar.o = prices[pi];
            bar.h = prices[pi] * 3;
            bar.l = prices[pi] / 7;
            bar.c = prices[pi] + 0.01;
            bar.v = 49378;
            bar.n = (int64_t)pi;
            bar.vw = prices[pi] * 1.5;
            qt_buf_reset(&b);
            QT_CHECK_EQ_INT(qt_bar_to_json(&bar, &b), QT_OK);
            QT_CHECK_EQ_INT(parse_json(b.data, &g, &d, err, sizeof err), QT_OK);
            QT_CHECK(g.m[0].type == QT_MSG_BAR && bar_eq(&g.m[0].u.bar, &bar));
            qt_buf_reset(&b);
            QT_CHECK_EQ_INT(qt_bar_to_msgpack(&bar, &b), QT_OK);
            QT_CHECK_EQ_INT(parse_mp(b.data, b.len, &g, &d, err, sizeof err), QT_OK);
            QT_CHECK(g.m[0].type == QT_MSG_BAR && bar_eq(&g.m[0].u.bar, &bar));
        }
    }
    qt_buf_release(&b);
}

/* ======================================================================
 * MessagePack specifics
 * ====================================================================== */

/* Finds the bytes after the last "t" key (fixstr "t" = a1 74). */
static const char *mp_after_t(const char *buf, size_t len, size_t *rest)
{
    for (size_t i = len - 2; i-- > 0;)
        if ((unsigned char)buf[i] == 0xa1 && buf[i + 1] == 't') {
            *rest = len - i - 2;
            return buf + i + 2;
        }
    *rest = 0;
    return NULL;
}

/* a byte literal and its length (it may hold NULs) */
#define MP(s) s, sizeof(s) - 1
/* a quote frame up to the value of t: {T:q,S:A,bp:1,bs:1,ap:1,as:1,t:...} */
#define MPQ                                                                                        \
    "\x91\x87\xa1T\xa1q\xa1S\xa1\x41\xa2\x62p\x01\xa2\x62s\x01\xa2\x61p\x01\xa2\x61s\x01\xa1t"

static void test_msgpack(void)
{
    static const struct {
        const char *time;
        const char *ext_hex; /* the timestamp extension's bytes */
    } tsx[] = {
        /* 64-bit form: nsec << 34 | sec */
        {"2024-03-05T14:30:00.123456789Z", "d7ff1d6f345465e72c68"},
        /* 32-bit form: whole seconds */
        {"2024-03-05T14:30:00Z", "d6ff65e72c68"},
        /* 96-bit form: before 1970 */
        {"1969-12-31T23:59:59.999999999Z", "c70cff3b9ac9ffffffffffffffffff"},
        /* 64-bit again once seconds pass 2^32 */
        {"2106-02-07T06:28:16Z", "d7ff0000000100000000"},
    };
    qt_buf b;
    got g;
    char err[256], hx[128];
    size_t d, rest;

    qt_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof tsx / sizeof tsx[0]; i++) {
        qt_quote q = sample_quote();
        q.t_ns = ts(tsx[i].time);
        qt_buf_reset(&b);
        QT_CHECK_EQ_INT(qt_quote_to_msgpack(&q, &b), QT_OK);
        const char *p = mp_after_t(b.data, b.len, &rest);
        QT_CHECK(p != NULL);
        if (p) {
            /* t is the last field, so its value runs to the end */
            hex(p, rest, hx);
            QT_CHECK_EQ_STR(hx, tsx[i].ext_hex);
        }
        QT_CHECK_EQ_INT(parse_mp(b.data, b.len, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(g.m[0].u.quote.t_ns, q.t_ns);
    }

    /* the whole quote's bytes, pinned: map of 11, keys in order */
    {
        qt_quote q = sample_quote();
        char full[512];
        qt_buf_reset(&b);
        QT_CHECK_EQ_INT(qt_quote_to_msgpack(&q, &b), QT_OK);
        hex(b.data, b.len, full);
        QT_CHECK_EQ_STR(full, "8b"
                              "a154a171"                   /* T q */
                              "a153a3535059"               /* S SPY */
                              "a26278a156"                 /* bx V */
                              "a26270cb4079c570a3d70a3d"   /* bp 412.34 */
                              "a2627301"                   /* bs 1 */
                              "a26178a156"                 /* ax V */
                              "a26170cb4079c5999999999a"   /* ap 412.35 */
                              "a2617302"                   /* as 2 */
                              "a16391a152"                 /* c [R] */
                              "a17aa142"                   /* z B */
                              "a174d7ff1d6f345465e72c68"); /* t */
    }

    /* t as a string is accepted too; several messages; raw = each map's bytes */
    {
        /* [ {T:q,S:A,bp:1,bs:1,ap:2,as:2,t:"2024-01-01T00:00:00.5Z"}, {T:success,msg:x} ] */
        static const unsigned char f[] = {
            0x92, 0x87, 0xa1, 'T', 0xa1, 'q',  0xa1, 'S',  0xa1, 'A',  0xa2, 'b', 'p',
            0x01, 0xa2, 'b',  's', 0x01, 0xa2, 'a',  'p',  0xcb, 0x40, 0x00, 0,   0,
            0,    0,    0,    0,   0xa2, 'a',  's',  0x02, 0xa1, 't',  0xb6, '2', '0',
            '2',  '4',  '-',  '0', '1',  '-',  '0',  '1',  'T',  '0',  '0',  ':', '0',
            '0',  ':',  '0',  '0', '.',  '5',  'Z',  0x82, 0xa1, 'T',  0xa7, 's', 'u',
            'c',  'c',  'e',  's', 's',  0xa3, 'm',  's',  'g',  0xa1, 'x'};
        QT_CHECK_EQ_INT(parse_mp((const char *)f, sizeof f, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(d, 2);
        QT_CHECK_EQ_INT(g.m[0].type, QT_MSG_QUOTE);
        QT_CHECK_EQ_INT(g.m[0].u.quote.t_ns, INT64_C(1704067200500000000));
        QT_CHECK(g.m[0].u.quote.bid_px == 1.0 && g.m[0].u.quote.ask_px == 2.0);
        QT_CHECK_EQ_INT(g.raw_len[0], 58);
        QT_CHECK(memcmp(g.raw[0], f + 1, 58) == 0);
        QT_CHECK_EQ_INT(g.m[1].type, QT_MSG_SUCCESS);
        QT_CHECK_EQ_STR(g.m[1].u.success.msg, "x");
        QT_CHECK_EQ_INT(g.raw_len[1], sizeof f - 59);
        QT_CHECK(memcmp(g.raw[1], f + 59, sizeof f - 59) == 0);
        /* the callback may stop the walk */
        memset(&g, 0, sizeof g);
        g.stop_after = 1;
        QT_CHECK_EQ_INT(
            qt_frame_parse_msgpack((const char *)f, sizeof f, 0, collect, &g, &d, err, sizeof err),
            QT_EINTR);
        QT_CHECK_EQ_INT(d, 1);
        /* every truncation is refused, never read past */
        for (size_t cut = 0; cut < sizeof f; cut++) {
            qt_err rc = parse_mp((const char *)f, cut, &g, &d, err, sizeof err);
            QT_CHECK_EQ_INT(rc, QT_EINVAL);
            QT_CHECK(d == (cut >= 59 ? 1u : 0u));
        }
    }

    /* malformed MessagePack */
    {
        static const struct {
            const char *bytes;
            size_t len;
            qt_err rc;
            const char *err;
        } bad[] = {
            {MP("\xa1q"), QT_EINVAL, "frame is not a MessagePack array of messages"},
            {MP(""), QT_EINVAL, "empty MessagePack frame"},
            {MP("\x91\x01"), QT_EINVAL, "message 0: message is not a MessagePack map"},
            {MP("\xdd\xff\xff\xff\xff"), QT_EINVAL, "message 0: MessagePack cut short at byte 5"},
            {MP("\x91\xdf\xff\xff\xff\xff"), QT_EINVAL,
             "message 0: MessagePack container at byte 1 claims more items than bytes"},
            {MP("\x91\x81\xa1T\x01"), QT_EINVAL,
             "message 0: field 'T' is a number, expected a string"},
            {MP("\x91\x80"), QT_EINVAL, "message 0: missing field 'T'"},
            {MP("\x91\xc1"), QT_EINVAL, "message 0: invalid MessagePack byte at 1"},
            {MP("\x90\x80"), QT_EINVAL, "trailing bytes after the frame at byte 1"},
            {MP("\x81\xa1T\xa1x\x00"), QT_EINVAL,
             "message 0: trailing bytes after the message at byte 5"},
            /* a quote whose t is a 3-byte extension, and one with nsec >= 1e9 */
            {MP(MPQ "\xc7\x03\xff\x00\x00\x00"), QT_EINVAL,
             "message 0: field 't' is a malformed or out-of-range timestamp extension"},
            {MP(MPQ "\xd7\xff\xff\xff\xff\xff\x00\x00\x00\x00"), QT_EINVAL,
             "message 0: field 't' is a malformed or out-of-range timestamp extension"},
            {MP(MPQ "\xa7\x32\x30\x32\x34\x2d\x30\x31"), QT_EINVAL,
             "message 0: field 't': timestamp '2024-01' is too short"},
            {MP(MPQ "\xc3"), QT_EINVAL,
             "message 0: field 't' is a boolean, expected an RFC 3339 string"},
            {MP("\x91\x87\xa1T\xa1q\xa1S\xa1\x41\xa2\x62p\xa1\x31\xa2\x62s\x01\xa2\x61p\x01"
                "\xa2\x61s\x01\xa1t\xd6\xff\x00\x00\x00\x00"),
             QT_EINVAL, "message 0: field 'bp' is a string, expected a number"},
            {MP("\x91\x87\xa1T\xa1q\xa1S\xa1\x41\xa2\x62p\x01\xa2\x62s\xcf\xff\xff\xff\xff"
                "\xff\xff\xff\xff\xa2\x61p\x01\xa2\x61s\x01\xa1t\xd6\xff\x00\x00\x00\x00"),
             QT_EINVAL, "message 0: field 'bs' is out of range"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            qt_err rc = parse_mp(bad[i].bytes, bad[i].len, &g, &d, err, sizeof err);
            if (strcmp(err, bad[i].err))
                fprintf(stderr, "  msgpack case %zu\n", i);
            QT_CHECK_EQ_INT(rc, bad[i].rc);
            QT_CHECK_EQ_STR(err, bad[i].err);
        }
        /* nesting deeper than the cap */
        char deep[64];
        deep[0] = (char)0x91;
        for (int k = 1; k < 40; k++)
            deep[k] = (char)0x91;
        deep[40] = (char)0xc0;
        QT_CHECK_EQ_INT(parse_mp(deep, 41, &g, &d, err, sizeof err), QT_EINVAL);
        QT_CHECK_EQ_STR(err, "message 0: MessagePack nested deeper than 30");
        /* oversize */
        char *big = calloc(1, QT_FRAME_MAX + 1);
        big[0] = (char)0x91;
        QT_CHECK_EQ_INT(
            qt_frame_parse_msgpack(big, QT_FRAME_MAX + 1, 0, collect, &g, &d, err, sizeof err),
            QT_ETOOBIG);
        free(big);
    }
    qt_buf_release(&b);
}

/* ======================================================================
 * frames: several messages, raw spans, malformed input
 * ====================================================================== */

static void test_frames(void)
{
    got g;
    char err[256];
    size_t d;

    /* several quotes in one frame, delivered in order */
    QT_CHECK_EQ_INT(parse_json("[{\"T\":\"q\",\"S\":\"A\",\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1,"
                               "\"t\":\"2024-01-01T00:00:01Z\"},"
                               "{\"T\":\"q\",\"S\":\"B\",\"bp\":3,\"bs\":1,\"ap\":4,\"as\":1,\"t\":"
                               "\"2024-01-01T00:00:02Z\"},"
                               "{\"T\":\"q\",\"S\":\"C\",\"bp\":5,\"bs\":1,\"ap\":6,\"as\":1,\"t\":"
                               "\"2024-01-01T00:00:03Z\"}]",
                               &g, &d, err, sizeof err),
                    QT_OK);
    QT_CHECK_EQ_INT(d, 3);
    QT_CHECK_EQ_INT(g.n, 3);
    QT_CHECK_EQ_STR(g.m[0].u.quote.symbol, "A");
    QT_CHECK_EQ_STR(g.m[1].u.quote.symbol, "B");
    QT_CHECK_EQ_STR(g.m[2].u.quote.symbol, "C");
    QT_CHECK(g.m[2].u.quote.ask_px == 6.0);
    QT_CHECK_EQ_INT(g.m[1].u.quote.t_ns - g.m[0].u.quote.t_ns, QT_NS_PER_SEC);

    /* raw spans are byte-exact, whitespace inside kept, around dropped */
    {
        const char *m0 = "{ \"T\" : \"q\",\n\t\"S\":\"A\" , \"bp\":1.50, \"bs\":1,\"ap\":2e0,"
                         "\"as\":1,\"t\":\"2024-01-01T00:00:01.000Z\"\r\n}";
        const char *m1 = "{\"T\":\"n\",\"x\":[ 1 , {\"a\":\"]}\\\"\"} ]}";
        char frame[512];
        snprintf(frame, sizeof frame, " \r\n[ \t%s\n ,\r\n %s  ]\n ", m0, m1);
        QT_CHECK_EQ_INT(parse_json(frame, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(d, 2);
        QT_CHECK_EQ_STR(g.raw[0], m0);
        QT_CHECK_EQ_INT(g.raw_len[0], strlen(m0));
        QT_CHECK_EQ_STR(g.raw[1], m1);
        QT_CHECK_EQ_INT(g.m[1].type, QT_MSG_OTHER);
        QT_CHECK(g.m[0].u.quote.bid_px == 1.5 && g.m[0].u.quote.ask_px == 2.0);
    }

    /* the callback stops the walk */
    memset(&g, 0, sizeof g);
    g.stop_after = 1;
    {
        const char *f = "[{\"T\":\"x\"},{\"T\":\"y\"}]";
        QT_CHECK_EQ_INT(qt_frame_parse_json(f, strlen(f), 0, collect, &g, &d, err, sizeof err),
                        QT_EINTR);
        QT_CHECK_EQ_INT(d, 1);
        QT_CHECK_EQ_INT(g.n, 1);
    }
}

#define Q_HEAD "[{\"T\":\"q\",\"S\":\"A\","
#define Q_TAIL "\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1,\"t\":\"2024-01-01T00:00:00Z\"}]"

static void test_malformed(void)
{
    static const struct {
        const char *frame;
        qt_err rc;
        size_t delivered;
        const char *err;
    } tab[] = {
        {"\"hello\"", QT_EINVAL, 0, "frame is not a JSON array of messages"},
        {"42", QT_EINVAL, 0, "frame is not a JSON array of messages"},
        {"", QT_EINVAL, 0, "frame is not a JSON array of messages"},
        {"[1,2]", QT_EINVAL, 0, "message 0: message is not a JSON object"},
        {"[\"q\"]", QT_EINVAL, 0, "message 0: message is not a JSON object"},
        {"[{\"S\":\"A\"}]", QT_EINVAL, 0, "message 0: missing field 'T'"},
        {"[{\"T\":5}]", QT_EINVAL, 0, "message 0: field 'T' is a number, expected a string"},
        {"[{\"T\":null}]", QT_EINVAL, 0, "message 0: field 'T' is null, expected a string"},
        {"[{\"T\":\"q\",\"S\":\"A\",\"bp\":\"412.34\",\"bs\":1,\"ap\":2,\"as\":1,"
         "\"t\":\"2024-01-01T00:00:00Z\"}]",
         QT_EINVAL, 0, "message 0: field 'bp' is a string, expected a number"},
        {"[{\"T\":\"q\",\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1,\"t\":\"2024-01-01T00:00:00Z\"}]",
         QT_EINVAL, 0, "message 0: missing field 'S'"},
        {"[{\"T\":\"q\",\"S\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\",\"bp\":1,\"bs\":1,\"ap\":2,"
         "\"as\":1,\"t\":\"2024-01-01T00:00:00Z\"}]",
         QT_EINVAL, 0,
         "message 0: field 'S' ('ABCDEFGHIJKLMNOPQRSTUVWXYZ012345') is longer than 31 bytes"},
        {Q_HEAD "\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1,\"t\":\"yesterday\"}]", QT_EINVAL, 0,
         "message 0: field 't': timestamp 'yesterday' is too short"},
        {Q_HEAD "\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1,\"t\":\"2024-02-30T00:00:00Z\"}]", QT_EINVAL,
         0, "message 0: field 't': timestamp '2024-02-30T00:00:00Z' has a field out of range"},
        {Q_HEAD "\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1,\"t\":\"2024-01-01 00:00:00\"}]", QT_EINVAL, 0,
         "message 0: field 't': timestamp '2024-01-01 00:00:00' is too short"},
        {Q_HEAD "\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1,\"t\":1704067200}]", QT_EINVAL, 0,
         "message 0: field 't' is a number, expected an RFC 3339 string"},
        {Q_HEAD "\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1}]", QT_EINVAL, 0,
         "message 0: missing field 't'"},
        {Q_HEAD "\"bp\":1,\"bs\":1,\"ap\":2,\"as\":1,\"t\":\"2024-01-01T00:00:00.1234567891Z\"}]",
         QT_EINVAL, 0,
         "message 0: field 't': timestamp '2024-01-01T00:00:00.1234567891Z' has more than 9 "
         "fractional digits"},
        {Q_HEAD "\"bp\":1,\"bs\":1.5,\"ap\":2,\"as\":1,\"t\":\"2024-01-01T00:00:00Z\"}]", QT_EINVAL,
         0, "message 0: field 'bs' is not an integer"},
        {Q_HEAD "\"bp\":1,\"bs\":1e300,\"ap\":2,\"as\":1,\"t\":\"2024-01-01T00:00:00Z\"}]",
         QT_EINVAL, 0, "message 0: field 'bs' is out of range"},
        {Q_HEAD "\"c\":\"R\"," Q_TAIL, QT_EINVAL, 0,
         "message 0: field 'c' is a string, expected an array of strings"},
        {Q_HEAD "\"c\":[1]," Q_TAIL, QT_EINVAL, 0,
         "message 0: field 'c' element 0 is a number, expected a string"},
        {Q_HEAD
         "\"c\":[\"aaaaaaaaaaaaaaaaaaaa\",\"bbbbbbbbbbbbbbbbbbbbb\",\"cccccccccccccccc\"]," Q_TAIL,
         QT_EINVAL, 0, "message 0: field 'c' is longer than 63 bytes as JSON"},
        {Q_HEAD "\"bx\":7," Q_TAIL, QT_EINVAL, 0,
         "message 0: field 'bx' is a number, expected a string"},
        {Q_HEAD "\"z\":\"TAPETAPE\"," Q_TAIL, QT_EINVAL, 0,
         "message 0: field 'z' ('TAPETAPE') is longer than 7 bytes"},
        {"[{\"T\":\"error\",\"code\":\"406\"}]", QT_EINVAL, 0,
         "message 0: field 'code' is a string, expected an integer"},
        {"[{\"T\":\"success\"}]", QT_EINVAL, 0, "message 0: missing field 'msg'"},
        {"[{\"T\":\"subscription\",\"quotes\":\"AAPL\"}]", QT_EINVAL, 0,
         "message 0: field 'quotes' is a string, expected an array of strings"},
        {"[{\"T\":\"subscription\",\"trades\":[\"A\",null]}]", QT_EINVAL, 0,
         "message 0: field 'trades' element 1 is null, expected a string"},
        {"[{\"T\":\"t\",\"S\":\"A\",\"p\":1,\"t\":\"2024-01-01T00:00:00Z\"}]", QT_EINVAL, 0,
         "message 0: missing field 's'"},
        {"[{\"T\":\"b\",\"S\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"v\":1,\"t\":\"2024-01-01T00:00:00Z\"}"
         "]",
         QT_EINVAL, 0, "message 0: missing field 'c'"},
        /* truncated JSON, broken syntax */
        {Q_HEAD "\"bp\":1", QT_EINVAL, 0,
         "malformed JSON frame at message 0: unexpected end of input inside JSON value"},
        {"[{\"T\":\"q\",\"S\":\"A", QT_EINVAL, 0,
         "malformed JSON frame at message 0: unterminated or broken string at byte 14"},
        {"[{\"T\":\"x\"}", QT_EINVAL, 1,
         "malformed JSON frame at message 1: expected ',' or "
         "']' at byte 10"},
        {"[{\"T\":\"x\"}] x", QT_EINVAL, 1,
         "malformed JSON frame at message 1: trailing bytes after the array at byte 12"},
        {"[{\"T\":\"x\"},]", QT_EINVAL, 1,
         "malformed JSON frame at message 1: unbalanced ']' at byte 11"},
        {"[{\"T\":tru}]", QT_EINVAL, 0, "message 0: invalid JSON at byte 5 of the message"},
        {"[{\"T\":\"q\" \"S\":1}]", QT_EINVAL, 0,
         "message 0: invalid JSON at byte 9 of the message"},
        /* the second message is bad: the first was delivered */
        {"[{\"T\":\"success\",\"msg\":\"connected\"},{\"T\":\"q\"}]", QT_EINVAL, 1,
         "message 1: missing field 'S'"},
        {"{\"T\":\"x\"} {}", QT_EINVAL, 0,
         "message 0: trailing bytes after the message at byte 10"},
    };
    got g;
    char err[256];
    size_t d;

    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        qt_err rc = parse_json(tab[i].frame, &g, &d, err, sizeof err);
        QT_CHECK_EQ_INT(rc, tab[i].rc);
        QT_CHECK_EQ_INT(d, tab[i].delivered);
        QT_CHECK_EQ_STR(err, tab[i].err);
        if (strcmp(err, tab[i].err))
            fprintf(stderr, "  json case %zu: %s\n", i, tab[i].frame);
    }

    /* oversize frame */
    {
        char *big = malloc(QT_FRAME_MAX + 2);
        memset(big, ' ', QT_FRAME_MAX + 1);
        big[0] = '[';
        big[QT_FRAME_MAX] = ']';
        big[QT_FRAME_MAX + 1] = '\0';
        QT_CHECK_EQ_INT(
            qt_frame_parse_json(big, QT_FRAME_MAX + 1, 0, collect, &g, &d, err, sizeof err),
            QT_ETOOBIG);
        QT_CHECK_EQ_STR(err, "frame of 4194305 bytes exceeds the 4194304-byte limit");
        /* exactly at the limit is fine */
        big[QT_FRAME_MAX - 1] = ']';
        QT_CHECK_EQ_INT(qt_frame_parse_json(big, QT_FRAME_MAX, 0, collect, &g, &d, err, sizeof err),
                        QT_OK);
        free(big);
    }

    /* deep nesting: 64 levels inside a message is the most accepted */
    {
        char f[512];
        size_t o = 0;
        int levels[] = {63, 64};
        for (int k = 0; k < 2; k++) {
            o = (size_t)snprintf(f, sizeof f, "[{\"T\":\"x\",\"a\":");
            for (int i = 0; i < levels[k]; i++)
                f[o++] = '[';
            for (int i = 0; i < levels[k]; i++)
                f[o++] = ']';
            f[o++] = '}';
            f[o++] = ']';
            f[o] = '\0';
            qt_err rc = parse_json(f, &g, &d, err, sizeof err);
            if (k == 0) {
                QT_CHECK_EQ_INT(rc, QT_OK);
            } else {
                QT_CHECK_EQ_INT(rc, QT_EINVAL);
                QT_CHECK_EQ_STR(err,
                                "malformed JSON frame at message 0: JSON nested deeper than 64");
            }
        }
        /* and a very deep one is refused without recursing */
        char *deep = malloc(200001);
        memset(deep, '[', 200000);
        deep[200000] = '\0';
        QT_CHECK_EQ_INT(parse_json(deep, &g, &d, err, sizeof err), QT_EINVAL);
        QT_CHECK_EQ_STR(err, "malformed JSON frame at message 0: JSON nested deeper than 64");
        free(deep);
    }

    /* every prefix of a valid frame is rejected or complete, never a crash */
    {
        const char *f =
            "[{\"T\":\"q\",\"S\":\"A\",\"bx\":\"V\",\"bp\":1.5,\"bs\":1,\"ax\":\"V\","
            "\"ap\":2,\"as\":1,\"c\":[\"R\"],\"z\":\"B\",\"t\":\"2024-01-01T00:00:00Z\"},"
            "{\"T\":\"success\",\"msg\":\"ok\"}]";
        size_t n = strlen(f), fails = 0;
        char buf[256];
        for (size_t cut = 0; cut < n; cut++) {
            memcpy(buf, f, cut);
            buf[cut] = '\0';
            if (parse_json(buf, &g, &d, err, sizeof err) == QT_EINVAL && err[0])
                fails++;
        }
        QT_CHECK_EQ_INT(fails, n);
        QT_CHECK_EQ_INT(parse_json(f, &g, &d, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(d, 2);
    }
}

/* ======================================================================
 * numbers and time
 * ====================================================================== */

static void test_fmt_double(void)
{
    static const struct {
        double v;
        const char *s;
    } tab[] = {
        {412.34, "412.34"},
        {0.1, "0.1"},
        {1e-7, "1e-7"},
        {0.30000000000000004, "0.30000000000000004"},
        {412, "412"},
        {-0.5, "-0.5"},
        {0, "0"},
        {1e21, "1e+21"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.5e-5, "2.5e-5"},
        {99999.9999, "99999.9999"},
        {389.062639, "389.062639"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        size_t n = qt_fmt_double(tab[i].v, buf);
        QT_CHECK_EQ_STR(buf, tab[i].s);
        QT_CHECK_EQ_INT(n, strlen(tab[i].s));
    }
    /* pseudo-random doubles all read back exactly */
    uint64_t x = 88172645463325252u;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        double v;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v))
            continue;
        qt_fmt_double(v, buf);
        if (strtod(buf, NULL) != v || strlen(buf) > 24)
            bad++;
        /* prices: cents and sub-pennies come out short */
        v = (double)(x % 10000000) / 10000.0;
        qt_fmt_double(v, buf);
        if (strtod(buf, NULL) != v || strlen(buf) > 12)
            bad++;
    }
    QT_CHECK_EQ_INT(bad, 0);
}

static void test_time(void)
{
    static const struct {
        const char *in;
        int64_t ns;
        const char *out; /* qt_time_format(ns, -1) */
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00Z"},
        {"1970-01-01T00:00:00.000000001Z", 1, "1970-01-01T00:00:00.000000001Z"},
        {"1969-12-31T23:59:59.999999999Z", -1, "1969-12-31T23:59:59.999999999Z"},
        {"2024-02-29T12:00:00.5Z", INT64_C(1709208000500000000), "2024-02-29T12:00:00.5Z"},
        {"2000-02-29T00:00:00Z", INT64_C(951782400000000000), "2000-02-29T00:00:00Z"},
        {"2023-12-31T23:59:59.9Z", INT64_C(1704067199900000000), "2023-12-31T23:59:59.9Z"},
        {"2024-12-31T00:00:00Z", INT64_C(1735603200000000000), "2024-12-31T00:00:00Z"},
        {"2024-03-05T09:30:00.123456789-05:00", INT64_C(1709649000123456789),
         "2024-03-05T14:30:00.123456789Z"},
        {"2024-03-05T20:00:00+05:30", INT64_C(1709649000000000000), "2024-03-05T14:30:00Z"},
        {"2024-03-05t14:30:00z", INT64_C(1709649000000000000), "2024-03-05T14:30:00Z"},
        {"2024-03-05 14:30:00Z", INT64_C(1709649000000000000), "2024-03-05T14:30:00Z"},
        {"2024-01-01T00:00:00+00:00", INT64_C(1704067200000000000), "2024-01-01T00:00:00Z"},
        {"2016-12-31T23:59:60Z", INT64_C(1483228799000000000), "2016-12-31T23:59:59Z"},
        {"2262-04-11T23:47:16.854775807Z", INT64_MAX, "2262-04-11T23:47:16.854775807Z"},
        {"1677-09-21T00:12:43.145224192Z", INT64_MIN, "1677-09-21T00:12:43.145224192Z"},
        /* 0..9 fractional digits */
        {"2024-01-02T03:04:05Z", INT64_C(1704164645000000000), "2024-01-02T03:04:05Z"},
        {"2024-01-02T03:04:05.1Z", INT64_C(1704164645100000000), "2024-01-02T03:04:05.1Z"},
        {"2024-01-02T03:04:05.12Z", INT64_C(1704164645120000000), "2024-01-02T03:04:05.12Z"},
        {"2024-01-02T03:04:05.123Z", INT64_C(1704164645123000000), "2024-01-02T03:04:05.123Z"},
        {"2024-01-02T03:04:05.1234Z", INT64_C(1704164645123400000), "2024-01-02T03:04:05.1234Z"},
        {"2024-01-02T03:04:05.12345Z", INT64_C(1704164645123450000), "2024-01-02T03:04:05.12345Z"},
        {"2024-01-02T03:04:05.123456Z", INT64_C(1704164645123456000),
         "2024-01-02T03:04:05.123456Z"},
        {"2024-01-02T03:04:05.1234567Z", INT64_C(1704164645123456700),
         "2024-01-02T03:04:05.1234567Z"},
        {"2024-01-02T03:04:05.12345678Z", INT64_C(1704164645123456780),
         "2024-01-02T03:04:05.12345678Z"},
        {"2024-01-02T03:04:05.123456789Z", INT64_C(1704164645123456789),
         "2024-01-02T03:04:05.123456789Z"},
        {"2024-01-02T03:04:05.100Z", INT64_C(1704164645100000000), "2024-01-02T03:04:05.1Z"},
    };
    static const struct {
        const char *in;
        const char *err;
    } bad[] = {
        {"2023-02-29T00:00:00Z", "timestamp '2023-02-29T00:00:00Z' has a field out of range"},
        {"1900-02-29T00:00:00Z", "timestamp '1900-02-29T00:00:00Z' has a field out of range"},
        {"2100-02-29T00:00:00Z", "timestamp '2100-02-29T00:00:00Z' has a field out of range"},
        {"2024-13-01T00:00:00Z", "timestamp '2024-13-01T00:00:00Z' has a field out of range"},
        {"2024-04-31T00:00:00Z", "timestamp '2024-04-31T00:00:00Z' has a field out of range"},
        {"2024-01-01T24:00:00Z", "timestamp '2024-01-01T24:00:00Z' has a field out of range"},
        {"2024-01-01T00:00:00", "timestamp '2024-01-01T00:00:00' is too short"},
        {"2024-01-01T00:00:00.Z", "timestamp '2024-01-01T00:00:00.Z' is not RFC 3339"},
        {"2024-01-01T00:00:00ZZ", "timestamp '2024-01-01T00:00:00ZZ' is not RFC 3339"},
        {"2024-01-01T00:00:00+0500", "timestamp '2024-01-01T00:00:00+0500' is not RFC 3339"},
        {"2024-01-01T00:00:00+24:00", "timestamp '2024-01-01T00:00:00+24:00' is not RFC 3339"},
        {"2024-01-01X00:00:00Z", "timestamp '2024-01-01X00:00:00Z' is not RFC 3339"},
        {"2024-01-01T00:00:00.0123456789Z",
         "timestamp '2024-01-01T00:00:00.0123456789Z' has more than 9 fractional digits"},
        {"2262-04-11T23:47:16.854775808Z",
         "timestamp '2262-04-11T23:47:16.854775808Z' is out of range"},
        {"1677-09-21T00:12:43.145224191Z",
         "timestamp '1677-09-21T00:12:43.145224191Z' is out of range"},
    };
    char buf[QT_TIME_STRMAX], err[160];
    int64_t ns;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ns = 42;
        QT_CHECK_EQ_INT(qt_time_parse(ok[i].in, strlen(ok[i].in), &ns, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(ns, ok[i].ns);
        size_t n = qt_time_format(ok[i].ns, -1, buf);
        QT_CHECK_EQ_STR(buf, ok[i].out);
        QT_CHECK_EQ_INT(n, strlen(ok[i].out));
        /* format -> parse is exact */
        QT_CHECK_EQ_INT(qt_time_parse(buf, n, &ns, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(ns, ok[i].ns);
        /* and so with all nine digits */
        n = qt_time_format(ok[i].ns, 9, buf);
        QT_CHECK_EQ_INT(qt_time_parse(buf, n, &ns, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(ns, ok[i].ns);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        QT_CHECK_EQ_INT(qt_time_parse(bad[i].in, strlen(bad[i].in), &ns, err, sizeof err),
                        QT_EINVAL);
        QT_CHECK_EQ_STR(err, bad[i].err);
    }
    /* fixed digit counts truncate */
    qt_time_format(INT64_C(1704164645123456789), 3, buf);
    QT_CHECK_EQ_STR(buf, "2024-01-02T03:04:05.123Z");
    qt_time_format(INT64_C(1704164645123456789), 0, buf);
    QT_CHECK_EQ_STR(buf, "2024-01-02T03:04:05Z");
    qt_time_format(-1, 3, buf);
    QT_CHECK_EQ_STR(buf, "1969-12-31T23:59:59.999Z");
    /* not NUL-terminated input: only len bytes are read */
    QT_CHECK_EQ_INT(qt_time_parse("2024-01-01T00:00:00Zjunk", 20, &ns, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(ns, INT64_C(1704067200000000000));
    /* every day for 580 years round-trips through format and parse */
    int bad_days = 0;
    for (int64_t day = -106000; day < 106000; day += 1) {
        int64_t t = day * 86400 * QT_NS_PER_SEC + (day % 86400) * QT_NS_PER_SEC + day;
        size_t n = qt_time_format(t, -1, buf);
        if (qt_time_parse(buf, n, &ns, err, sizeof err) || ns != t)
            bad_days++;
    }
    QT_CHECK_EQ_INT(bad_days, 0);
}

/* Prices decode to exactly the double strtod gives for the same text, on
 * the fast path (up to 15 digits, no exponent) and off it: random decimals
 * of 1..17 digits with 0..10 decimals, signs and exponents. */
static void test_number_decoding(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    int mismatches = 0;
    for (int n = 0; n < 50000; n++) {
        char num[64], msg[256], err[256];
        qt_msg m;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int digits = 1 + (int)(x % 17), decimals = (int)((x >> 8) % 11);
        size_t k = 0;
        if ((x >> 20) % 4 == 0)
            num[k++] = '-';
        for (int d = 0; d < digits; d++) {
            if (d == digits - decimals && d > 0)
                num[k++] = '.';
            num[k++] = (char)('0' + (d == 0 && digits - decimals > 1 ? 1 + (x >> (24 + d)) % 9
                                                                      : (x >> (24 + d)) % 10));
        }
        if ((x >> 40) % 10 == 0)
            k += (size_t)snprintf(num + k, sizeof num - k, "e%d", (int)((x >> 44) % 7) - 3);
        num[k] = '\0';
        int len = snprintf(msg, sizeof msg,
                           "{\"T\":\"q\",\"S\":\"X\",\"bp\":%s,\"bs\":1,\"ap\":1,\"as\":1,"
                           "\"t\":\"2026-03-02T14:30:00Z\"}",
                           num);
        if (qt_msg_parse_json(msg, (size_t)len, 0, &m, err, sizeof err) != QT_OK) {
            mismatches++;
            fprintf(stderr, "'%s' did not parse: %s\n", num, err);
        } else if (m.u.quote.bid_px != strtod(num, NULL)) {
            mismatches++;
            fprintf(stderr, "'%s' decoded as %.17g, strtod says %.17g\n", num, m.u.quote.bid_px,
                    strtod(num, NULL));
        }
    }
    QT_CHECK_EQ_INT(mismatches, 0);
}

/* Tape JSON lines: the envelopes quotetape writes (parsed by a fast path)
 * and every other accepted form give the same quote, with the raw text and
 * the receive time; bad envelopes keep their precise errors. */
typedef struct jl_got {
    int n;
    qt_msg m;
    char raw[512];
} jl_got;

static int jl_cb(const qt_msg *m, void *ud)
{
    jl_got *g = ud;
    g->m = *m;
    snprintf(g->raw, sizeof g->raw, "%.*s", (int)m->raw_len, m->raw);
    g->n++;
    return 0;
}

static qt_err jl_parse(const char *line, jl_got *g, char *err, size_t errsz)
{
    memset(g, 0, sizeof *g);
    err[0] = '\0';
    return qt_jsonl_parse_line(line, strlen(line), jl_cb, g, NULL, err, errsz);
}

static void test_jsonl_envelopes(void)
{
    static const char q[] = "{\"T\":\"q\",\"S\":\"SPY\",\"bx\":\"V\",\"bp\":512.34,\"bs\":1,"
                            "\"ax\":\"V\",\"ap\":512.39,\"as\":2,\"c\":[\"R\"],\"z\":\"B\","
                            "\"t\":\"2026-03-02T14:30:00.065278436Z\"}";
    static const char *const same[][2] = {
        {"{\"recv\":\"2026-03-02T14:30:00.1Z\",\"msg\":", "}"},        /* as written */
        {"{ \"recv\" : \"2026-03-02T14:30:00.1Z\", \"msg\" : ", " }"}, /* spaced */
        {"{\"msg\":", ",\"recv\":\"2026-03-02T14:30:00.1Z\"}"},        /* reordered */
        {"{\"recv\":\"2026-03-02T14:30:00.1Z\",\"msg\":", ",\"x\":[1,{}]}"}, /* extra */
    };
    char line[1024], err[256];
    jl_got g;
    int64_t recv;
    QT_CHECK(qt_time_parse("2026-03-02T14:30:00.1Z", 22, &recv, err, sizeof err) == QT_OK);
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        snprintf(line, sizeof line, "%s%s%s", same[i][0], q, same[i][1]);
        QT_CHECK_EQ_INT(jl_parse(line, &g, err, sizeof err), QT_OK);
        QT_CHECK_EQ_INT(g.n, 1);
        QT_CHECK_EQ_INT(g.m.type, QT_MSG_QUOTE);
        QT_CHECK_EQ_STR(g.m.u.quote.symbol, "SPY");
        QT_CHECK(g.m.u.quote.ask_px == 512.39);
        QT_CHECK_EQ_INT(g.m.u.quote.recv_ns, recv);
        QT_CHECK_EQ_STR(g.raw, q);
    }
    /* no receive time */
    snprintf(line, sizeof line, "{\"msg\":%s}", q);
    QT_CHECK_EQ_INT(jl_parse(line, &g, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(g.m.u.quote.recv_ns, 0);
    QT_CHECK_EQ_STR(g.raw, q);
    /* errors keep their wording */
    snprintf(line, sizeof line, "{\"recv\":\"yesterday\",\"msg\":%s}", q);
    QT_CHECK(jl_parse(line, &g, err, sizeof err) != QT_OK);
    QT_CHECK(strstr(err, "\"recv\"") != NULL);
    QT_CHECK_EQ_INT(g.n, 0);
    QT_CHECK(jl_parse("{\"msg\":{\"T\":\"q\",\"S\":\"SPY\"}}", &g, err, sizeof err) != QT_OK);
    QT_CHECK_EQ_INT(g.n, 0);
    QT_CHECK(err[0] != '\0');
    snprintf(line, sizeof line, "{\"msg\":%s", q); /* truncated */
    QT_CHECK(jl_parse(line, &g, err, sizeof err) != QT_OK);
    QT_CHECK_EQ_INT(g.n, 0);
    snprintf(line, sizeof line, "{\"msg\":%s}}", q); /* one brace too many */
    QT_CHECK(jl_parse(line, &g, err, sizeof err) != QT_OK);
    QT_CHECK_EQ_INT(g.n, 0);
}

int main(void)
{
    test_jsonl_envelopes();
    test_number_decoding();
    test_parse_types();
    test_error_codes();
    test_encode();
    test_buf();
    test_roundtrip();
    test_msgpack();
    test_frames();
    test_malformed();
    test_fmt_double();
    test_time();
    return qt_test_done("test_codec");
}
