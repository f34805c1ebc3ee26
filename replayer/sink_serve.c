/* quotetape — replay over the Alpaca-compatible websocket (--serve): the
 * websocket sink, and the shared and per-client ways of serving a replay
 * (see replay.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/codec.h"
#include "core/log.h"
#include "core/qtime.h"
#include "replayer/replay.h"

#define QT_SERVE_DRAIN_MS 5000     /* end of a shared replay: let clients catch up */
#define QT_SERVE_TICK_NS 50000000L /* main loop: look at stop and reap feeders */

/* ======================================================================
 * the sink
 * ====================================================================== */

typedef struct qt_sink_serve {
    qt_sink base;
    qt_aserver *srv;
    uint64_t client; /* 0 = every shared client */
    int restamp;
} qt_sink_serve;

/* Publishes m with its "t" replaced by m->stamp_ns (re-encoded JSON). */
static qt_err qt_sink_serve_restamped(qt_sink_serve *k, const qt_replay_msg *m, char *err,
                                      size_t errsz)
{
    qt_msg msg;
    qt_err e = qt_msg_parse_json(m->value, m->value_len, m->recv_ns, &msg, err, errsz);
    if (e)
        return e;
    switch (msg.type) {
    case QT_MSG_QUOTE: msg.u.quote.t_ns = m->stamp_ns; break;
    case QT_MSG_TRADE: msg.u.trade.t_ns = m->stamp_ns; break;
    case QT_MSG_BAR: msg.u.bar.t_ns = m->stamp_ns; break;
    default: return qt_fail(QT_EINVAL, err, errsz, "cannot serve a message of type '%s'", msg.T);
    }
    msg.raw = NULL;
    msg.raw_len = 0;
    return k->client ? qt_aserver_publish_msg_to(k->srv, k->client, &msg)
                     : qt_aserver_publish_msg(k->srv, &msg);
}

static qt_err qt_sink_serve_send(qt_sink *s, const qt_replay_msg *m, int64_t ts_ms, char *err,
                                 size_t errsz)
{
    qt_sink_serve *k = (qt_sink_serve *)s;
    char e2[256];
    qt_err e;
    (void)ts_ms;
    e2[0] = '\0';
    if (k->restamp)
        e = qt_sink_serve_restamped(k, m, e2, sizeof e2);
    else if (k->client)
        e = qt_aserver_publish_json_to(k->srv, k->client, m->value, m->value_len, e2, sizeof e2);
    else
        e = qt_aserver_publish_json(k->srv, m->value, m->value_len, e2, sizeof e2);
    if (e == QT_EINTR)
        return qt_fail(QT_EINTR, err, errsz, "the server is stopping");
    if (e == QT_ENOMEM)
        return qt_fail(e, err, errsz, "out of memory");
    if (e) {
        /* A message the Alpaca protocol cannot carry: skip it, remember it. */
        if (!k->base.failed++) {
            /* the reason is cut to fit: the summary line is for people */
            int n = snprintf(k->base.failure, sizeof k->base.failure, "message %" PRId64 ": ",
                             m->pos);
            if (n > 0 && (size_t)n < sizeof k->base.failure)
                snprintf(k->base.failure + n, sizeof k->base.failure - (size_t)n, "%.*s",
                         (int)(sizeof k->base.failure - (size_t)n - 1),
                         e2[0] ? e2 : qt_strerror(e));
            qt_warn("serve: skipping %s", k->base.failure);
        }
        return QT_OK;
    }
    k->base.delivered++;
    return QT_OK;
}

static qt_err qt_sink_serve_flush(qt_sink *s, int timeout_ms, char *err, size_t errsz)
{
    qt_sink_serve *k = (qt_sink_serve *)s;
    (void)err;
    (void)errsz;
    /* A per-client feed must not wait for every other client's queue. */
    if (!k->client)
        (void)qt_aserver_drain(k->srv, timeout_ms < QT_SERVE_DRAIN_MS ? timeout_ms
                                                                      : QT_SERVE_DRAIN_MS);
    return QT_OK;
}

static void qt_sink_serve_free(qt_sink *s)
{
    free(s);
}

qt_err qt_sink_serve_open(qt_aserver *srv, uint64_t client, int restamp, qt_sink **out,
                          char *err, size_t errsz)
{
    qt_sink_serve *k = calloc(1, sizeof *k);
    *out = NULL;
    if (!k)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    k->base.send = qt_sink_serve_send;
    k->base.flush = qt_sink_serve_flush;
    k->base.free = qt_sink_serve_free;
    k->base.first_failed_pos = -1;
    k->base.first_failed_part = -1;
    k->srv = srv;
    k->client = client;
    k->restamp = restamp;
    *out = &k->base;
    return QT_OK;
}

/* ======================================================================
 * clients and their feeders
 * ====================================================================== */

typedef struct qt_sv_client {
    uint64_t id;
    int subscribed;              /* has subscribed to something (counted) */
    int closed;                  /* the connection is gone */
    int started;                 /* a feeder thread runs or awaits its join */
    int joining;                 /* the main thread is joining it */
    volatile sig_atomic_t stop;  /* ends the feeder's replay */
    volatile sig_atomic_t done;  /* the feeder has returned */
    pthread_t thread;
    char from[128];              /* per-client: position text ("" = default) */
    double speed;
    struct qt_serve_ctx *ctx;
    struct qt_sv_client *next;
} qt_sv_client;

typedef struct qt_serve_ctx {
    qt_serve_replay_cfg *cfg;
    qt_aserver *srv;
    pthread_mutex_t mu;
    qt_sv_client *clients;
    uint64_t subscribed_now; /* shared: clients subscribed and still open */
    uint64_t feeds, feeds_failed;
    int stopping; /* no new feeders */
} qt_serve_ctx;

static qt_sv_client *qt_sv_find(qt_serve_ctx *x, uint64_t id)
{
    for (qt_sv_client *c = x->clients; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void qt_sv_unlink(qt_serve_ctx *x, qt_sv_client *c)
{
    for (qt_sv_client **pp = &x->clients; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            return;
        }
}

/* One client's own replay (a thread): opens its source at the client's
 * from, replays at its speed into that client only. A source that cannot
 * be opened (a position past the end, a topic that fails) is told to the
 * client as error 400 and the connection closes. */
static void *qt_sv_feeder(void *arg)
{
    qt_sv_client *c = arg;
    qt_serve_ctx *x = c->ctx;
    const qt_serve_replay_cfg *cfg = x->cfg;
    qt_replay_sel sel = cfg->sel;
    qt_replay_cfg rc = cfg->replay;
    qt_replay_stats st;
    qt_source *src = NULL;
    qt_sink *sink = NULL;
    char err[512], msg[600], sum[512];
    qt_err e;

    if (c->from[0])
        sel.from = c->from;
    if (cfg->db)
        e = qt_source_tape_open(cfg->db, &sel, &src, err, sizeof err);
    else
        e = qt_source_topic_open(cfg->kopts, cfg->topic, &sel, &src, err, sizeof err);
    if (!e)
        e = qt_sink_serve_open(x->srv, c->id, cfg->replay.ts_mode != QT_TS_ORIGINAL, &sink, err,
                               sizeof err);
    if (e) {
        snprintf(msg, sizeof msg, "cannot replay from %s: %s", sel.from ? sel.from : "beginning",
                 err);
        qt_info("serve: client %" PRIu64 ": %s", c->id, msg);
        (void)qt_aserver_fail_client(x->srv, c->id, QT_ALPACA_INVALID_SYNTAX, msg);
        pthread_mutex_lock(&x->mu);
        x->feeds_failed++;
        pthread_mutex_unlock(&x->mu);
        goto out;
    }
    rc.speed = c->speed;
    rc.progress = 0;
    rc.stop = &c->stop;
    e = qt_replay_run(&rc, src, sink, &st, err, sizeof err);
    qt_replay_summary(&st, sum, sizeof sum);
    if (e == QT_OK || e == QT_EINTR)
        qt_debug("serve: client %" PRIu64 " replay from %s%s: %s", c->id,
                 sel.from ? sel.from : "beginning", e ? " (stopped)" : "", sum);
    else
        qt_warn("serve: client %" PRIu64 " replay failed: %s (%s)", c->id, err, sum);
out:
    if (sink)
        sink->free(sink);
    if (src)
        src->free(src);
    c->done = 1;
    return NULL;
}

/* Checks a client's ?from=&speed= (per-client mode); 0 when usable, else -1
 * with the reason in reply. */
static int qt_sv_client_params(qt_sv_client *c, const qt_as_event *ev, double dflt_speed)
{
    char val[128], perr[256];
    qt_pos pos;
    int r;

    c->speed = dflt_speed;
    r = qt_aserver_query_get(ev->query, "speed", val, sizeof val);
    if (r < 0 || (r > 0 && qt_replay_parse_speed(val, &c->speed))) {
        snprintf(ev->reply, ev->replysz,
                 "invalid speed in URL: '%s' (use 1, a factor such as 20 or 0.5, or max)",
                 r < 0 ? "(too long)" : val);
        return -1;
    }
    r = qt_aserver_query_get(ev->query, "from", c->from, sizeof c->from);
    if (r < 0 || (r > 0 && qt_pos_parse(c->from, &pos, perr, sizeof perr))) {
        snprintf(ev->reply, ev->replysz, "invalid from in URL: %s",
                 r < 0 ? "too long" : perr);
        return -1;
    }
    if (r == 0)
        c->from[0] = '\0';
    return 0;
}

/* The server's event hook (service thread: must not block). */
static int qt_sv_on_event(const qt_as_event *ev, void *ud)
{
    qt_serve_ctx *x = ud;
    qt_sv_client *c;
    int ret = QT_AS_SHARED;

    pthread_mutex_lock(&x->mu);
    switch (ev->kind) {
    case QT_AS_OPEN:
        if (!(c = calloc(1, sizeof *c))) {
            snprintf(ev->reply, ev->replysz, "out of memory");
            ret = QT_AS_REJECT;
            break;
        }
        c->id = ev->client;
        c->ctx = x;
        if (x->cfg->per_client) {
            if (qt_sv_client_params(c, ev, x->cfg->replay.speed)) {
                free(c);
                ret = QT_AS_REJECT;
                break;
            }
            ret = QT_AS_PRIVATE;
        }
        c->next = x->clients;
        x->clients = c;
        break;
    case QT_AS_AUTH: break;
    case QT_AS_SUBSCRIBE:
        c = qt_sv_find(x, ev->client);
        if (!c || c->closed || !ev->nsyms || c->subscribed)
            break;
        c->subscribed = 1;
        if (x->stopping)
            break;
        if (!x->cfg->per_client) {
            x->subscribed_now++;
            break;
        }
        if (pthread_create(&c->thread, NULL, qt_sv_feeder, c) != 0) {
            qt_warn("serve: cannot start a replay for client %" PRIu64 ": %s", c->id,
                    strerror(errno));
            (void)qt_aserver_fail_client(x->srv, c->id, QT_ALPACA_INTERNAL_ERROR,
                                         "cannot start a replay");
            break;
        }
        c->started = 1;
        x->feeds++;
        qt_debug("serve: client %" PRIu64 " gets its own replay from %s at speed %g", c->id,
                 c->from[0] ? c->from : "the default --from", c->speed);
        break;
    case QT_AS_CLOSE:
        c = qt_sv_find(x, ev->client);
        if (!c)
            break;
        if (!x->cfg->per_client && c->subscribed && x->subscribed_now)
            x->subscribed_now--;
        c->closed = 1;
        c->stop = 1;
        if (!c->started) {
            qt_sv_unlink(x, c);
            free(c);
        } /* else the main thread joins and frees it */
        break;
    }
    pthread_mutex_unlock(&x->mu);
    return ret;
}

/* Joins feeders that have returned; with all set, stops and joins every
 * feeder. Closed clients' records are freed once joined. */
static void qt_sv_reap(qt_serve_ctx *x, int all)
{
    for (;;) {
        qt_sv_client *found = NULL;
        pthread_mutex_lock(&x->mu);
        for (qt_sv_client *c = x->clients; c; c = c->next) {
            if (all)
                c->stop = 1;
            if (c->started && !c->joining && (c->done || all)) {
                found = c;
                break;
            }
        }
        if (found)
            found->joining = 1; /* CLOSE leaves it to this thread to free */
        pthread_mutex_unlock(&x->mu);
        if (!found)
            return;
        pthread_join(found->thread, NULL);
        pthread_mutex_lock(&x->mu);
        found->started = found->joining = 0;
        if (found->closed) {
            qt_sv_unlink(x, found);
            free(found);
        }
        pthread_mutex_unlock(&x->mu);
    }
}

static void qt_sv_sleep_tick(void)
{
    struct timespec ts = {0, QT_SERVE_TICK_NS};
    nanosleep(&ts, NULL);
}

static int qt_sv_stopped(const qt_serve_replay_cfg *cfg)
{
    return cfg->replay.stop && *cfg->replay.stop;
}

qt_err qt_serve_replay_run(qt_serve_replay_cfg *cfg, qt_source *src, qt_serve_replay_stats *st,
                           char *err, size_t errsz)
{
    qt_serve_ctx x;
    qt_sink *sink = NULL;
    qt_err e = QT_OK;

    memset(st, 0, sizeof *st);
    memset(&x, 0, sizeof x);
    x.cfg = cfg;
    pthread_mutex_init(&x.mu, NULL);
    cfg->server.on_event = qt_sv_on_event;
    cfg->server.ud = &x;
    if ((e = qt_aserver_start(&cfg->server, &x.srv, err, errsz)))
        goto out;

    if (cfg->per_client) {
        qt_info("serve: every connection gets its own replay (?from=POS&speed=S in its URL)");
        while (!qt_sv_stopped(cfg)) {
            qt_sv_sleep_tick();
            qt_sv_reap(&x, 0);
        }
    } else {
        if (cfg->wait_clients > 0) {
            qt_info("serve: waiting for %" PRId64 " subscribed client(s) before the replay starts",
                    cfg->wait_clients);
            for (;;) {
                pthread_mutex_lock(&x.mu);
                uint64_t n = x.subscribed_now;
                pthread_mutex_unlock(&x.mu);
                if (n >= (uint64_t)cfg->wait_clients || qt_sv_stopped(cfg))
                    break;
                qt_sv_sleep_tick();
            }
        }
        if (qt_sv_stopped(cfg)) {
            st->replay.stopped = 1;
            e = QT_EINTR;
            goto stop;
        }
        qt_info("serve: replay starts");
        if ((e = qt_sink_serve_open(x.srv, 0, cfg->replay.ts_mode != QT_TS_ORIGINAL, &sink, err,
                                    errsz)))
            goto stop;
        e = qt_replay_run(&cfg->replay, src, sink, &st->replay, err, errsz);
        if (e == QT_OK) {
            char sum[512];
            qt_replay_summary(&st->replay, sum, sizeof sum);
            qt_info("serve: replay done (%s); still serving until stopped", sum);
            while (!qt_sv_stopped(cfg))
                qt_sv_sleep_tick();
        }
    }
stop:
    pthread_mutex_lock(&x.mu);
    x.stopping = 1;
    pthread_mutex_unlock(&x.mu);
    qt_sv_reap(&x, 1);
    qt_aserver_get_stats(x.srv, &st->server);
    qt_aserver_free(x.srv); /* CLOSE events for open clients run here */
    x.srv = NULL;
    qt_sv_reap(&x, 1);
out:
    if (sink)
        sink->free(sink);
    while (x.clients) {
        qt_sv_client *c = x.clients;
        x.clients = c->next;
        free(c);
    }
    st->feeds = x.feeds;
    st->feeds_failed = x.feeds_failed;
    pthread_mutex_destroy(&x.mu);
    return e;
}
