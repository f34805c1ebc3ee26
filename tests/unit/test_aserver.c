/* Tests for core/aserver: the local Alpaca-compatible websocket server,
 * driven over real loopback websockets by tests/tools/qt_aclient (built
 * beside this program). Covers every handshake path and error code in both
 * codecs, subscription filtering, frame batching, nanosecond timestamps in
 * MessagePack, 50 concurrent clients receiving the whole stream in order, a
 * slow client dropped with 407 while the others are unaffected, and private
 * per-client streams with the URL query handed to the caller. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/aserver.h"
#include "core/netaddr.h"
#include "core/qtime.h"
#include "tests/unit/qt_test.h"

static char aclient[PATH_MAX];

/* ---- server events -------------------------------------------------------- */

typedef struct ev_state {
    atomic_int opened, authed, subscribed, closed;
    atomic_uint_fast64_t last_client, private_client;
    char query[256];
    int make_private; /* OPEN with a query -> private */
    pthread_mutex_t mu;
} ev_state;

static int on_event(const qt_as_event *ev, void *ud)
{
    ev_state *e = ud;
    switch (ev->kind) {
    case QT_AS_OPEN:
        atomic_store(&e->last_client, ev->client);
        if (e->make_private && ev->query[0]) {
            pthread_mutex_lock(&e->mu);
            snprintf(e->query, sizeof e->query, "%s", ev->query);
            pthread_mutex_unlock(&e->mu);
            atomic_store(&e->private_client, ev->client);
            atomic_fetch_add(&e->opened, 1);
            return QT_AS_PRIVATE;
        }
        atomic_fetch_add(&e->opened, 1);
        return QT_AS_SHARED;
    case QT_AS_AUTH: atomic_fetch_add(&e->authed, 1); break;
    case QT_AS_SUBSCRIBE: atomic_fetch_add(&e->subscribed, 1); break;
    case QT_AS_CLOSE: atomic_fetch_add(&e->closed, 1); break;
    }
    return 0;
}

static void ev_init(ev_state *e)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
}

static int wait_for(atomic_int *v, int target, int timeout_ms)
{
    int64_t end = qt_mono_ns() + (int64_t)timeout_ms * QT_NS_PER_MS;
    while (atomic_load(v) < target) {
        if (qt_mono_ns() > end)
            return 0;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

static qt_aserver *start(ev_state *e, const char *key, const char *secret, int64_t auth_to_ns,
                         size_t queue_bytes)
{
    qt_aserver_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bind = "127.0.0.1:0";
    cfg.key = key;
    cfg.secret = secret;
    cfg.auth_timeout_ns = auth_to_ns;
    cfg.queue_bytes = queue_bytes;
    cfg.on_event = on_event;
    cfg.ud = e;
    qt_aserver *s = NULL;
    char err[256] = "";
    qt_err rc = qt_aserver_start(&cfg, &s, err, sizeof err);
    if (rc)
        fprintf(stderr, "start: %s\n", err);
    QT_CHECK_EQ_INT(rc, QT_OK);
    return s;
}

/* ---- running qt_aclient --------------------------------------------------- */

typedef struct proc {
    FILE *f;
} proc;

/* Starts qt_aclient with args (a shell-quoted string) against port. */
static FILE *client_start(int port, const char *path, const char *args)
{
    char cmd[65536];
    snprintf(cmd, sizeof cmd, "'%s' --url ws://127.0.0.1:%d%s --timeout 15000 %s", aclient, port,
             path, args);
    FILE *f = popen(cmd, "r");
    QT_CHECK(f != NULL);
    return f;
}

/* Reads the client's whole output (malloc'd) and its exit status. */
static char *client_finish(FILE *f, int *status)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 4096) {
            char *p = realloc(buf, cap * 2);
            if (!p)
                break;
            buf = p;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    int st = pclose(f);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

static char *client_run(int port, const char *path, const char *args, int *status)
{
    return client_finish(client_start(port, path, args), status);
}

static int has(const char *out, const char *needle)
{
    int ok = out && strstr(out, needle) != NULL;
    if (!ok)
        fprintf(stderr, "---- expected to find:\n%s\n---- in:\n%s\n----\n", needle,
                out ? out : "(null)");
    return ok;
}

/* Counts lines starting with "< " (frames received). */
static int count_frames(const char *out)
{
    int n = 0;
    for (const char *p = out; p && *p;) {
        if (p[0] == '<' && p[1] == ' ')
            n++;
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static long long field(const char *out, const char *line_prefix, const char *key)
{
    const char *l = out ? strstr(out, line_prefix) : NULL;
    if (!l)
        return -1;
    const char *eol = strchr(l, '\n');
    char k[64];
    snprintf(k, sizeof k, " %s=", key);
    const char *p = strstr(l, k);
    if (!p || (eol && p > eol))
        return -1;
    return strtoll(p + strlen(k), NULL, 10);
}

/* ---- messages ------------------------------------------------------------- */

static const int64_t T0 = INT64_C(1772461800123456789); /* 2026-03-02T14:30:00.123456789Z */

static void mkquote(qt_msg *m, qt_quote *q, char *raw, size_t rawsz, const char *sym, int64_t seq,
                    int64_t t_ns)
{
    char ts[QT_TIME_STRMAX];
    memset(q, 0, sizeof *q);
    snprintf(q->symbol, sizeof q->symbol, "%s", sym);
    q->t_ns = t_ns;
    q->bid_px = 512.25;
    q->ask_px = 512.5;
    q->bid_sz = seq;
    q->ask_sz = 3;
    snprintf(q->bid_ex, sizeof q->bid_ex, "V");
    snprintf(q->ask_ex, sizeof q->ask_ex, "V");
    snprintf(q->cond, sizeof q->cond, "[\"R\"]");
    snprintf(q->tape, sizeof q->tape, "B");
    qt_time_format(t_ns, -1, ts);
    snprintf(raw, rawsz,
             "{\"T\":\"q\",\"S\":\"%s\",\"bx\":\"V\",\"bp\":512.25,\"bs\":%lld,\"ax\":\"V\","
             "\"ap\":512.5,\"as\":3,\"c\":[\"R\"],\"z\":\"B\",\"t\":\"%s\"}",
             sym, (long long)seq, ts);
    memset(m, 0, sizeof *m);
    m->type = QT_MSG_QUOTE;
    m->u.quote = *q;
    m->raw = raw;
    m->raw_len = strlen(raw);
}

/* Publishes n quotes numbered from seq0 (bid size = number), t = now, in
 * batches of batch, sleeping gap_us between batches. */
static void publish_seq(qt_aserver *s, const char *sym, int64_t seq0, int n, int batch, int gap_us)
{
    qt_msg *ms = calloc((size_t)batch, sizeof *ms);
    qt_quote q;
    char(*raw)[256] = calloc((size_t)batch, sizeof *raw);
    for (int i = 0; i < n;) {
        int k = 0;
        for (; k < batch && i < n; k++, i++)
            mkquote(&ms[k], &q, raw[k], sizeof raw[k], sym, seq0 + i, qt_now_ns());
        QT_CHECK_EQ_INT(qt_aserver_publish_msgs(s, ms, (size_t)k), QT_OK);
        if (gap_us) {
            struct timespec ts = {0, (long)gap_us * 1000};
            nanosleep(&ts, NULL);
        }
    }
    free(ms);
    free(raw);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_bind(void)
{
    char host[64], err[256];
    int port, lo;
    QT_CHECK_EQ_INT(
        qt_net_parse_bind("127.0.0.1:8765", host, sizeof host, &port, &lo, err, sizeof err),
        QT_OK);
    QT_CHECK_EQ_STR(host, "127.0.0.1");
    QT_CHECK_EQ_INT(port, 8765);
    QT_CHECK_EQ_INT(lo, 1);
    QT_CHECK_EQ_INT(
        qt_net_parse_bind("0.0.0.0:80", host, sizeof host, &port, &lo, err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(lo, 0);
    QT_CHECK_EQ_INT(
        qt_net_parse_bind("[::1]:9", host, sizeof host, &port, &lo, err, sizeof err), QT_OK);
    QT_CHECK_EQ_STR(host, "::1");
    QT_CHECK_EQ_INT(lo, 1);
    QT_CHECK_EQ_INT(
        qt_net_parse_bind("localhost:1", host, sizeof host, &port, &lo, err, sizeof err),
        QT_OK);
    QT_CHECK_EQ_INT(lo, 1);
    QT_CHECK_EQ_INT(
        qt_net_parse_bind("127.0.0.1", host, sizeof host, &port, &lo, err, sizeof err),
        QT_EUSAGE);
    QT_CHECK_EQ_INT(
        qt_net_parse_bind("127.0.0.1:99999", host, sizeof host, &port, &lo, err, sizeof err),
        QT_EUSAGE);
    QT_CHECK_EQ_INT(
        qt_net_parse_bind("example.com:80", host, sizeof host, &port, &lo, err, sizeof err),
        QT_EUSAGE);

    /* non-loopback refused unless allowed; a port in use is QT_ENET */
    qt_aserver_cfg cfg;
    qt_aserver *s = NULL, *s2 = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.bind = "0.0.0.0:0";
    QT_CHECK_EQ_INT(qt_aserver_start(&cfg, &s, err, sizeof err), QT_EUSAGE);
    QT_CHECK(strstr(err, "not a loopback address") != NULL);
    cfg.bind = "127.0.0.1:0";
    cfg.key = "k";
    QT_CHECK_EQ_INT(qt_aserver_start(&cfg, &s, err, sizeof err), QT_EUSAGE);
    cfg.key = NULL;
    QT_CHECK_EQ_INT(qt_aserver_start(&cfg, &s, err, sizeof err), QT_OK);
    QT_CHECK(qt_aserver_port(s) > 0);
    char b[64];
    snprintf(b, sizeof b, "127.0.0.1:%d", qt_aserver_port(s));
    cfg.bind = b;
    QT_CHECK_EQ_INT(qt_aserver_start(&cfg, &s2, err, sizeof err), QT_ENET);
    QT_CHECK(s2 == NULL);
    QT_CHECK(strstr(err, "already in use") != NULL);
    /* publishing text that is not a quote/trade/bar */
    QT_CHECK_EQ_INT(
        qt_aserver_publish_json(s, "{\"T\":\"success\",\"msg\":\"x\"}", 26, err, sizeof err),
        QT_EINVAL);
    QT_CHECK_EQ_INT(qt_aserver_publish_json(s, "nope", 4, err, sizeof err), QT_EINVAL);
    qt_aserver_free(s);
}

/* The documented handshake, filtering and batching, in one codec. */
static void test_conformance(int msgpack)
{
    ev_state e;
    ev_init(&e);
    qt_aserver *s = start(&e, NULL, NULL, 0, 0);
    if (!s)
        return;
    int port = qt_aserver_port(s);
    char args[2048];
    snprintf(
        args, sizeof args,
        "%s --send '{\"action\":\"auth\",\"key\":\"any\",\"secret\":\"thing\"}' "
        "--send '{\"action\":\"subscribe\",\"quotes\":[\"SPY\",\"AAPL\"],\"trades\":[\"SPY\"]}' "
        "--send '{\"action\":\"unsubscribe\",\"quotes\":[\"AAPL\"]}' --expect 3 --read 300",
        msgpack ? "--msgpack" : "");
    FILE *f = client_start(port, "/v2/iex", args);
    QT_CHECK(wait_for(&e.subscribed, 2, 10000));

    /* one burst: SPY q, AAPL q (unsubscribed), MSFT q (never), SPY trade, SPY q */
    qt_msg ms[5];
    qt_quote q;
    char raw[5][256];
    mkquote(&ms[0], &q, raw[0], sizeof raw[0], "SPY", 1, T0);
    mkquote(&ms[1], &q, raw[1], sizeof raw[1], "AAPL", 2, T0);
    mkquote(&ms[2], &q, raw[2], sizeof raw[2], "MSFT", 3, T0);
    char tr[] = "{\"T\":\"t\",\"S\":\"SPY\",\"i\":7,\"x\":\"V\",\"p\":512.3,\"s\":100,"
                "\"c\":[\"@\"],\"z\":\"B\",\"t\":\"2026-03-02T14:30:00.5Z\"}";
    char err[256];
    QT_CHECK_EQ_INT(qt_msg_parse_json(tr, strlen(tr), 0, &ms[3], err, sizeof err), QT_OK);
    mkquote(&ms[4], &q, raw[4], sizeof raw[4], "SPY", 5, T0 + 1);
    QT_CHECK_EQ_INT(qt_aserver_publish_msgs(s, ms, 5), QT_OK);

    int st;
    char *out = client_finish(f, &st);
    QT_CHECK_EQ_INT(st, 0);
    if (!msgpack) {
        QT_CHECK(has(out, "< [{\"T\":\"success\",\"msg\":\"connected\"}]\n"));
        QT_CHECK(has(out, "< [{\"T\":\"success\",\"msg\":\"authenticated\"}]\n"));
        QT_CHECK(has(out, "< [{\"T\":\"subscription\",\"trades\":[\"SPY\"],\"quotes\":[\"AAPL\","
                          "\"SPY\"],\"bars\":[]"));
        QT_CHECK(has(out, "< [{\"T\":\"subscription\",\"trades\":[\"SPY\"],\"quotes\":[\"SPY\"],"
                          "\"bars\":[]"));
        /* the three wanted messages in one frame, raw text byte for byte */
        char want[1024];
        snprintf(want, sizeof want, "< [%s,%s,%s]\n", raw[0], tr, raw[4]);
        QT_CHECK(has(out, want));
        QT_CHECK(has(out, "\"t\":\"2026-03-02T14:30:00.123456789Z\""));
        QT_CHECK(has(out, "\"t\":\"2026-03-02T14:30:00.12345679Z\""));
    } else {
        QT_CHECK(has(out, "< mp [{\"T\":\"success\",\"msg\":\"connected\"}]\n"));
        QT_CHECK(has(out, "< mp [{\"T\":\"success\",\"msg\":\"authenticated\"}]\n"));
        QT_CHECK(has(out, "\"quotes\":[\"AAPL\",\"SPY\"]"));
        QT_CHECK(has(out, "< mp [{\"T\":\"subscription\",\"trades\":[\"SPY\"],\"quotes\":[\"SPY\"],"
                          "\"bars\":[]"));
        /* one frame, three messages, t as the timestamp extension with all
         * nine digits */
        QT_CHECK(has(out, "< mp [{\"T\":\"q\",\"S\":\"SPY\""));
        QT_CHECK(has(out, "\"bs\":1,"));
        QT_CHECK(has(out, "\"t\":{\"$ts\":\"2026-03-02T14:30:00.123456789Z\"}}"
                          ",{\"T\":\"t\",\"S\":\"SPY\",\"i\":7"));
        QT_CHECK(has(out, "\"t\":{\"$ts\":\"2026-03-02T14:30:00.123456790Z\"}}]\n"));
        QT_CHECK(has(out, "\"t\":{\"$ts\":\"2026-03-02T14:30:00.500000000Z\"}"));
    }
    QT_CHECK(out && !strstr(out, "AAPL\",\"bx"));
    QT_CHECK(out && !strstr(out, "MSFT"));
    QT_CHECK_EQ_INT(count_frames(out), 5); /* connected, auth, sub, sub, data */
    free(out);
    qt_aserver_stats stt;
    qt_aserver_get_stats(s, &stt);
    QT_CHECK_EQ_INT(stt.delivered, 3);
    QT_CHECK_EQ_INT(stt.frames, 1);
    qt_aserver_free(s);
}

/* Every error path, in one codec. */
static void test_errors(int msgpack)
{
    ev_state e;
    ev_init(&e);
    const char *mp = msgpack ? "--msgpack " : "";
    const char *pre = msgpack ? "< mp " : "< ";
    char want[256], args[1024];
    int st;
    qt_aserver *s = start(&e, NULL, NULL, 300 * QT_NS_PER_MS, 0);
    if (!s)
        return;
    int port = qt_aserver_port(s);

    /* 400 for bad syntax; the connection stays usable */
    snprintf(args, sizeof args,
             "%s--send 'not json' --send '{\"action\":\"dance\"}' --send '{\"nothing\":1}' "
             "--send '{\"action\":\"auth\",\"key\":\"k\",\"secret\":\"s\"}' "
             "--send '{\"action\":\"subscribe\",\"quotes\":\"SPY\"}' --read 50",
             mp);
    char *out = client_run(port, "/v2/sip", args, &st);
    snprintf(want, sizeof want, "%s[{\"T\":\"error\",\"code\":400,\"msg\":\"invalid syntax\"}]\n",
             pre);
    QT_CHECK(has(out, want));
    snprintf(want, sizeof want, "%s[{\"T\":\"success\",\"msg\":\"authenticated\"}]", pre);
    QT_CHECK(has(out, want));
    QT_CHECK(out && !strstr(out, "closed"));
    free(out);

    /* 401 before auth, then closed */
    snprintf(args, sizeof args,
             "%s--send '{\"action\":\"subscribe\",\"quotes\":[\"SPY\"]}' --read 2000", mp);
    out = client_run(port, "/v2/test", args, &st);
    snprintf(want, sizeof want,
             "%s[{\"T\":\"error\",\"code\":401,\"msg\":\"not authenticated\"}]\nclosed\n", pre);
    QT_CHECK(has(out, want));
    free(out);

    /* 403 for a second auth */
    snprintf(args, sizeof args,
             "%s--send '{\"action\":\"auth\",\"key\":\"k\",\"secret\":\"s\"}' "
             "--send '{\"action\":\"auth\",\"key\":\"k\",\"secret\":\"s\"}' --read 50",
             mp);
    out = client_run(port, "/v2/delayed_sip", args, &st);
    snprintf(want, sizeof want,
             "%s[{\"T\":\"error\",\"code\":403,\"msg\":\"already authenticated\"}]\n", pre);
    QT_CHECK(has(out, want));
    free(out);

    /* 404 after the (shortened) auth timeout, then closed */
    snprintf(args, sizeof args, "%s--read 3000", mp);
    int64_t t0 = qt_mono_ns();
    out = client_run(port, "/v2/iex", args, &st);
    int64_t took = qt_mono_ns() - t0;
    snprintf(want, sizeof want,
             "%s[{\"T\":\"error\",\"code\":404,\"msg\":\"auth timeout\"}]\nclosed\n", pre);
    QT_CHECK(has(out, want));
    QT_CHECK(took >= 300 * QT_NS_PER_MS && took < 2500 * QT_NS_PER_MS);
    free(out);

    /* 405 for more than QT_SUB_MAX symbols in a list */
    {
        size_t cap = 64 + 16 * (QT_SUB_MAX + 8);
        char *big = malloc(cap), *a2 = malloc(cap + 512);
        size_t n = (size_t)snprintf(big, cap, "{\"action\":\"subscribe\",\"quotes\":[");
        for (int i = 0; i <= QT_SUB_MAX; i++)
            n += (size_t)snprintf(big + n, cap - n, "%s\"S%d\"", i ? "," : "", i);
        snprintf(big + n, cap - n, "]}");
        snprintf(a2, cap + 512,
                 "%s--send '{\"action\":\"auth\",\"key\":\"k\",\"secret\":\"s\"}' --send '%s' "
                 "--read 50",
                 mp, big);
        out = client_run(port, "/v2/iex", a2, &st);
        snprintf(want, sizeof want,
                 "%s[{\"T\":\"error\",\"code\":405,\"msg\":\"symbol limit exceeded\"}]\n", pre);
        QT_CHECK(has(out, want));
        free(out);
        free(big);
        free(a2);
    }

    /* a path that is not a stream: the upgrade is refused */
    snprintf(args, sizeof args, "%s--read 50", mp);
    out = client_run(port, "/v2/stocks", args, &st);
    QT_CHECK(has(out, "refused"));
    QT_CHECK(st != 0);
    free(out);
    qt_aserver_stats stt;
    qt_aserver_get_stats(s, &stt);
    QT_CHECK_EQ_INT(stt.auth_timeouts, 1);
    QT_CHECK(stt.bad_syntax >= 4);
    qt_aserver_free(s);

    /* 402 with a configured key; the right key works */
    s = start(&e, "KEY1", "SECRET1", 0, 0);
    if (!s)
        return;
    port = qt_aserver_port(s);
    snprintf(args, sizeof args,
             "%s--send '{\"action\":\"auth\",\"key\":\"KEY1\",\"secret\":\"wrong\"}' --read 2000",
             mp);
    out = client_run(port, "/v2/iex", args, &st);
    snprintf(want, sizeof want,
             "%s[{\"T\":\"error\",\"code\":402,\"msg\":\"auth failed\"}]\nclosed\n", pre);
    QT_CHECK(has(out, want));
    free(out);
    snprintf(args, sizeof args,
             "%s--send '{\"action\":\"auth\",\"key\":\"KEY1\",\"secret\":\"SECRET1\"}' --read 50",
             mp);
    out = client_run(port, "/v2/iex", args, &st);
    snprintf(want, sizeof want, "%s[{\"T\":\"success\",\"msg\":\"authenticated\"}]", pre);
    QT_CHECK(has(out, want));
    free(out);
    qt_aserver_get_stats(s, &stt);
    QT_CHECK_EQ_INT(stt.auth_failed, 1);
    qt_aserver_free(s);
}

/* Wildcard subscription, and JSON actions on a msgpack connection. */
static void test_wildcard(void)
{
    ev_state e;
    ev_init(&e);
    qt_aserver *s = start(&e, NULL, NULL, 0, 0);
    if (!s)
        return;
    FILE *f = client_start(qt_aserver_port(s), "/v2/test",
                           "--msgpack --json-actions "
                           "--send '{\"action\":\"auth\",\"key\":\"k\",\"secret\":\"s\"}' "
                           "--send '{\"action\":\"subscribe\",\"quotes\":[\"*\"]}' "
                           "--expect 3 --read 200");
    QT_CHECK(wait_for(&e.subscribed, 1, 10000));
    publish_seq(s, "SPY", 1, 1, 1, 0);
    publish_seq(s, "AAPL", 2, 1, 1, 0);
    publish_seq(s, "FAKEPACA", 3, 1, 1, 0);
    int st;
    char *out = client_finish(f, &st);
    QT_CHECK_EQ_INT(st, 0);
    QT_CHECK(has(out, "\"quotes\":[\"*\"]"));
    QT_CHECK(has(out, "\"S\":\"SPY\""));
    QT_CHECK(has(out, "\"S\":\"AAPL\""));
    QT_CHECK(has(out, "\"S\":\"FAKEPACA\""));
    free(out);
    qt_aserver_free(s);
}

/* 50 concurrent clients (25 JSON, 25 msgpack) each get all 3000 quotes in
 * order. */
static void test_many(void)
{
    ev_state e;
    ev_init(&e);
    qt_aserver *s = start(&e, NULL, NULL, 0, 0);
    if (!s)
        return;
    int port = qt_aserver_port(s);
    const int n = 3000;
    char args[256];
    snprintf(args, sizeof args, "--clients 25 --quotes SPY --expect %d --seq --quiet", n);
    FILE *fj = client_start(port, "/v2/iex", args);
    snprintf(args, sizeof args, "--msgpack --clients 25 --quotes SPY --expect %d --seq --quiet", n);
    FILE *fm = client_start(port, "/v2/iex", args);
    QT_CHECK(wait_for(&e.subscribed, 50, 15000));
    publish_seq(s, "SPY", 1, n, 30, 1000);
    publish_seq(s, "QQQ", 1, 100, 100, 0); /* nobody wants these */
    int st;
    char *oj = client_finish(fj, &st);
    QT_CHECK_EQ_INT(st, 0);
    char *om = client_finish(fm, &st);
    QT_CHECK_EQ_INT(st, 0);
    const char *outs[2] = {oj, om};
    for (int k = 0; k < 2; k++) {
        QT_CHECK_EQ_INT(field(outs[k], "total:", "complete"), 25);
        QT_CHECK_EQ_INT(field(outs[k], "total:", "msgs"), 25 * n);
        QT_CHECK_EQ_INT(field(outs[k], "total:", "order_errors"), 0);
        QT_CHECK_EQ_INT(field(outs[k], "total:", "errors407"), 0);
    }
    QT_CHECK(qt_aserver_drain(s, 5000) == QT_OK);
    qt_aserver_stats stt;
    qt_aserver_get_stats(s, &stt);
    QT_CHECK_EQ_INT(stt.delivered, 50 * n);
    QT_CHECK_EQ_INT(stt.slow, 0);
    QT_CHECK(stt.frames < stt.delivered); /* batched */
    printf("50 clients: %s", oj ? strstr(oj, "total:") : "");
    free(oj);
    free(om);
    qt_aserver_free(s);
}

/* One client stops reading: it gets 407 and is closed; the other five get
 * everything, in order. The stream goes on until the server has dropped the
 * slow client (how much a stalled socket absorbs depends on the kernel's
 * buffer sizes), then an END quote marks its end. */
static void test_slow(void)
{
    ev_state e;
    ev_init(&e);
    qt_aserver *s = start(&e, NULL, NULL, 0, 512 * 1024);
    if (!s)
        return;
    FILE *f = client_start(qt_aserver_port(s), "/v2/iex",
                           "--clients 6 --slow 1 --pause 2500 --quotes SPY,END --end END --seq");
    QT_CHECK(wait_for(&e.subscribed, 6, 15000));
    int n = 0;
    qt_aserver_stats stt;
    do {
        publish_seq(s, "SPY", n + 1, 400, 400, 10000);
        n += 400;
        qt_aserver_get_stats(s, &stt);
    } while ((stt.slow == 0 || n < 20000) && n < 400000);
    publish_seq(s, "END", n + 1, 1, 1, 0);
    int st;
    char *out = client_finish(f, &st);
    QT_CHECK_EQ_INT(st, 0);
    QT_CHECK_EQ_INT(field(out, "client 0:", "error"), 407);
    QT_CHECK_EQ_INT(field(out, "client 0:", "closed"), 1);
    QT_CHECK_EQ_INT(field(out, "client 0:", "order_errors"), 0); /* a clean prefix */
    QT_CHECK_EQ_INT(field(out, "client 0:", "first"), 1);
    QT_CHECK(field(out, "client 0:", "msgs") < n);
    for (int i = 1; i < 6; i++) {
        char p[32];
        snprintf(p, sizeof p, "client %d:", i);
        QT_CHECK_EQ_INT(field(out, p, "msgs"), n + 1);
        QT_CHECK_EQ_INT(field(out, p, "first"), 1);
        QT_CHECK_EQ_INT(field(out, p, "last"), n + 1);
        QT_CHECK_EQ_INT(field(out, p, "order_errors"), 0);
        QT_CHECK_EQ_INT(field(out, p, "error"), 0);
        QT_CHECK_EQ_INT(field(out, p, "closed"), 0);
    }
    qt_aserver_get_stats(s, &stt);
    QT_CHECK_EQ_INT(stt.slow, 1);
    printf("slow client (stream of %d): %s", n, out ? strstr(out, "client 0:") : "");
    free(out);
    qt_aserver_free(s);
}

/* A private client (chosen from its URL query by the OPEN hook) gets only
 * what is published to it; a shared one only the shared stream. */
static void test_private(void)
{
    ev_state e;
    ev_init(&e);
    e.make_private = 1;
    qt_aserver *s = start(&e, NULL, NULL, 0, 0);
    if (!s)
        return;
    int port = qt_aserver_port(s);
    const char *script = "--send '{\"action\":\"auth\",\"key\":\"k\",\"secret\":\"s\"}' "
                         "--send '{\"action\":\"subscribe\",\"quotes\":[\"SPY\"]}' "
                         "--expect 2 --read 200";
    FILE *fs = client_start(port, "/v2/test", script);
    QT_CHECK(wait_for(&e.subscribed, 1, 10000));
    FILE *fp = client_start(port, "'/v2/test?from=+5m&speed=10'", script);
    QT_CHECK(wait_for(&e.subscribed, 2, 10000));
    uint64_t pc = atomic_load(&e.private_client);
    QT_CHECK(pc > 0);
    pthread_mutex_lock(&e.mu);
    QT_CHECK_EQ_STR(e.query, "from=+5m&speed=10");
    char v[16];
    QT_CHECK_EQ_INT(qt_aserver_query_get(e.query, "from", v, sizeof v), 1);
    QT_CHECK_EQ_STR(v, "+5m");
    QT_CHECK_EQ_INT(qt_aserver_query_get(e.query, "speed", v, sizeof v), 1);
    QT_CHECK_EQ_STR(v, "10");
    QT_CHECK_EQ_INT(qt_aserver_query_get(e.query, "to", v, sizeof v), 0);
    QT_CHECK_EQ_INT(qt_aserver_query_get(e.query, "from", v, 3), -1);
    pthread_mutex_unlock(&e.mu);
    char err[256];
    const char *pq = "{\"T\":\"q\",\"S\":\"SPY\",\"bp\":1.5,\"bs\":901,\"ap\":1.75,\"as\":1,"
                     "\"t\":\"2026-03-02T14:35:00Z\"}";
    publish_seq(s, "SPY", 1, 2, 1, 0);
    for (int i = 0; i < 2; i++)
        QT_CHECK_EQ_INT(qt_aserver_publish_json_to(s, pc, pq, strlen(pq), err, sizeof err), QT_OK);
    QT_CHECK_EQ_INT(qt_aserver_publish_json_to(s, 999999, pq, strlen(pq), err, sizeof err), QT_OK);
    int st;
    char *os = client_finish(fs, &st);
    char *op = client_finish(fp, &st);
    QT_CHECK(has(os, "\"bs\":1,"));
    QT_CHECK(has(os, "\"bs\":2,"));
    QT_CHECK(os && !strstr(os, "\"bs\":901"));
    QT_CHECK(has(op, pq));
    QT_CHECK(op && !strstr(op, "\"bs\":1,"));
    free(os);
    free(op);
    QT_CHECK(qt_aserver_drain(s, 2000) == QT_OK);
    qt_aserver_stats stt;
    qt_aserver_get_stats(s, &stt);
    QT_CHECK_EQ_INT(stt.dropped_private, 1);
    qt_aserver_free(s);
    QT_CHECK(atomic_load(&e.closed) >= 2);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ssize_t n = readlink("/proc/self/exe", aclient, sizeof aclient - 16);
    if (n <= 0)
        return 1;
    aclient[n] = '\0';
    char *slash = strrchr(aclient, '/');
    snprintf(slash + 1, sizeof aclient - (size_t)(slash + 1 - aclient), "qt_aclient");
    if (access(aclient, X_OK) != 0) {
        fprintf(stderr, "test_aserver: cannot run '%s': %s\n", aclient, strerror(errno));
        return 1;
    }
    test_bind();
    test_conformance(0);
    test_conformance(1);
    test_errors(0);
    test_errors(1);
    test_wildcard();
    test_private();
    test_many();
    test_slow();
    return qt_test_done("test_aserver");
}
