/* quotetape — the recorder's websocket client loop. See recorder.h. */
#include "recorder/recorder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "core/log.h"
#include "core/qtime.h"
#include "recorder/sink.h"
#include "recorder/writer.h"

/* How often the housekeeping timer runs: commits, Kafka polls, silence
 * checks and the stop flag are all looked at this often. */
#define QT_TICK_US 20000
#define QT_OUT_MAX 16384

enum {
    QT_RS_IDLE,       /* no connection; a retry may be scheduled */
    QT_RS_CONNECTING, /* TCP/TLS/websocket handshake */
    QT_RS_CONNECTED,  /* waiting for "connected" */
    QT_RS_AUTH,       /* auth sent, waiting for "authenticated" */
    QT_RS_SUB,        /* subscribe sent, waiting for the subscription reply */
    QT_RS_STREAMING
};

typedef struct qt_rec {
    const qt_rec_opts *o;
    qt_rec_stats st;
    qt_sink *sink;
    qt_writer *w; /* the sink's thread while the connection loop runs */
    struct lws_context *ctx;
    struct lws *wsi;
    lws_sorted_usec_list_t sul_connect, sul_tick;
    uint32_t retry_ms[16];
    uint32_t limit_ms[1];
    lws_retry_bo_t retry, limit;
    uint16_t retry_count, limit_count;
    int state, done, use_limit;
    char host[256], path[1024], url_copy[1280];
    int port, tls;
    /* frame reassembly */
    char *rx;
    size_t rx_len, rx_alloc, frame_max;
    int rx_oversize;
    /* the one outgoing text message and ping */
    unsigned char out[LWS_PRE + QT_OUT_MAX];
    size_t out_len;
    int want_ping;
    /* clocks */
    int64_t last_rx_mono, last_ping_mono, last_commit_mono, conn_mono;
    int64_t last_rx_ns;
    /* outage bookkeeping: down_ns != 0 while disconnected after streaming */
    int64_t down_ns;
    char reason[512];
    int ever_streamed;
    qt_err fatal;
    char fatal_msg[512];
    int64_t warned_bad;
} qt_rec;

static void qt_rec_connect(lws_sorted_usec_list_t *sul);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

size_t qt_rec_grow(size_t have, size_t need, size_t cap)
{
    size_t n = have ? have : 65536;
    if (need > cap)
        return 0;
    while (n < need)
        n = n > cap / 2 ? cap : n * 2;
    return n > cap ? cap : n;
}

int qt_rec_error_action(int code, qt_err *e)
{
    switch (code) {
    case 403: /* already authenticated */
    case 407: /* slow client */
        return 0;
    case 401: /* not authenticated: our state went wrong; start over */
    case 404: /* auth timeout */
    case 500: /* internal error */
        return 1;
    case 406:
        return 2;
    case 402:
    case 409:
        *e = QT_EAUTH;
        return 3;
    case 405:
        *e = QT_EUSAGE;
        return 3;
    case 400:
    case 410:
        *e = QT_EPROTO;
        return 3;
    default:
        return 1;
    }
}

/* Sets why the connection is (about to be) down, unless a reason is set. */
static void qt_rec_reason(qt_rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qt_rec_reason(qt_rec *r, const char *fmt, ...)
{
    va_list ap;
    if (r->reason[0])
        return;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

static void qt_rec_kill(qt_rec *r)
{
    if (r->wsi)
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void qt_rec_fatal(qt_rec *r, qt_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void qt_rec_fatal(qt_rec *r, qt_err e, const char *fmt, ...)
{
    va_list ap;
    if (!r->fatal) {
        r->fatal = e;
        va_start(ap, fmt);
        vsnprintf(r->fatal_msg, sizeof r->fatal_msg, fmt, ap);
        va_end(ap);
    }
    qt_rec_reason(r, "%s", r->fatal_msg);
    if (r->wsi)
        qt_rec_kill(r);
    else
        r->done = 1;
}

/* Queues one text message (built by the caller in r->out + LWS_PRE). */
static void qt_rec_send(qt_rec *r, size_t len)
{
    r->out_len = len;
    if (r->wsi)
        lws_callback_on_writable(r->wsi);
}

static int qt_rec_json_list(char *b, size_t cap, size_t *n, const char *name,
                            const char *const *syms, size_t nsyms)
{
    int w = snprintf(b + *n, cap - *n, ",\"%s\":[", name);
    if (w < 0 || (size_t)w >= cap - *n)
        return -1;
    *n += (size_t)w;
    for (size_t i = 0; i < nsyms; i++) {
        w = snprintf(b + *n, cap - *n, "%s\"%s\"", i ? "," : "", syms[i]);
        if (w < 0 || (size_t)w >= cap - *n)
            return -1;
        *n += (size_t)w;
    }
    if (*n + 1 >= cap)
        return -1;
    b[(*n)++] = ']';
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

static void qt_rec_send_auth(qt_rec *r)
{
    char *b = (char *)r->out + LWS_PRE;
    int n = snprintf(b, QT_OUT_MAX, "{\"action\":\"auth\",\"key\":\"%s\",\"secret\":\"%s\"}",
                     r->o->key_id, r->o->secret);
    if (n < 0 || n >= QT_OUT_MAX) {
        qt_rec_fatal(r, QT_EAUTH, "the Alpaca key or secret is too long");
        return;
    }
    r->state = QT_RS_AUTH;
    qt_rec_send(r, (size_t)n);
}

static void qt_rec_send_subscribe(qt_rec *r)
{
    char *b = (char *)r->out + LWS_PRE;
    size_t n = 0;
    int w = snprintf(b, QT_OUT_MAX, "{\"action\":\"subscribe\"");
    n = (size_t)w;
    if (qt_rec_json_list(b, QT_OUT_MAX, &n, "quotes", r->o->symbols, r->o->nsymbols) ||
        (r->o->trades &&
         qt_rec_json_list(b, QT_OUT_MAX, &n, "trades", r->o->symbols, r->o->nsymbols)) ||
        (r->o->bars &&
         qt_rec_json_list(b, QT_OUT_MAX, &n, "bars", r->o->symbols, r->o->nsymbols)) ||
        n + 2 >= QT_OUT_MAX) {
        qt_rec_fatal(r, QT_EUSAGE, "too many symbols for one subscribe message");
        return;
    }
    b[n++] = '}';
    r->state = QT_RS_SUB;
    qt_rec_send(r, n);
}

static int qt_rec_has(const qt_sublist *l, const char *sym)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->syms[i], sym) == 0 || strcmp(l->syms[i], "*") == 0)
            return 1;
    return 0;
}

/* Checks the subscription reply lists what was asked. */
static void qt_rec_on_subscription(qt_rec *r, const qt_subscription *sub)
{
    for (size_t i = 0; i < r->o->nsymbols; i++) {
        const char *sy = r->o->symbols[i];
        if (!qt_rec_has(&sub->quotes, sy) || (r->o->trades && !qt_rec_has(&sub->trades, sy)) ||
            (r->o->bars && !qt_rec_has(&sub->bars, sy))) {
            qt_rec_fatal(r, QT_EPROTO,
                         "the subscription reply does not include '%s'; asked for quotes%s%s", sy,
                         r->o->trades ? ", trades" : "", r->o->bars ? ", bars" : "");
            return;
        }
    }
    r->state = QT_RS_STREAMING;
    r->retry_count = 0;
    r->limit_count = 0;
    if (r->down_ns) {
        int64_t now = qt_now_ns();
        qt_writer_gap(r->w, r->down_ns, now, r->reason);
        r->st.gaps++;
        qt_info("reconnected after %lld ms; gap recorded (%s)",
                (long long)((now - r->down_ns) / QT_NS_PER_MS), r->reason);
        r->down_ns = 0;
    } else if (!r->ever_streamed) {
        qt_info("subscribed to %zu symbol(s); recording", r->o->nsymbols);
    }
    r->reason[0] = '\0';
    r->ever_streamed = 1;
}

static void qt_rec_on_error(qt_rec *r, int code, const char *msg)
{
    qt_err e = QT_EPROTO;
    char d[32];
    switch (qt_rec_error_action(code, &e)) {
    case 0:
        if (code == 407)
            qt_warn("alpaca: 407 slow client: the recorder fell behind and the server may have "
                    "dropped messages; carrying on");
        else
            qt_warn("alpaca: %d %s; carrying on", code, msg);
        return;
    case 1:
        qt_warn("alpaca: %d %s; reconnecting", code, msg);
        qt_rec_reason(r, "alpaca error %d %s", code, msg);
        qt_rec_kill(r);
        return;
    case 2:
        qt_dur_format(r->limit_ms[0] * QT_NS_PER_MS, d, sizeof d);
        qt_warn("alpaca: 406 connection limit exceeded: another client holds this key's one "
                "connection; waiting %s (about) before trying again so a stale connection can "
                "expire",
                d);
        r->use_limit = 1;
        qt_rec_reason(r, "alpaca error 406 connection limit exceeded");
        qt_rec_kill(r);
        return;
    default:
        break;
    }
    switch (code) {
    case 402:
        qt_rec_fatal(r, e,
                     "alpaca: 402 auth failed: the key in APCA_API_KEY_ID / APCA_API_SECRET_KEY "
                     "was refused");
        break;
    case 405:
        qt_rec_fatal(r, e, "alpaca: 405 symbol limit exceeded: subscribe to fewer symbols");
        break;
    case 409:
        qt_rec_fatal(r, e,
                     "alpaca: 409 insufficient subscription: this account may not use this feed");
        break;
    case 410:
        qt_rec_fatal(r, e, "alpaca: 410 invalid subscribe action for this feed");
        break;
    default:
        qt_rec_fatal(r, e, "alpaca: %d %s", code, msg);
        break;
    }
}

static int qt_rec_on_msg(const qt_msg *m, void *ud)
{
    qt_rec *r = ud;
    char err[512];
    qt_err e = QT_OK;

    /* After a fatal error (a tape write failed: disk full, I/O error) nothing
     * more is appended, so the tape stays a prefix of what was received and
     * holds no hole where a rolled-back batch was. Once done (--max-quotes),
     * frames still buffered in the socket are not recorded either. */
    if (r->fatal || r->done)
        return 1;
    switch (m->type) {
    case QT_MSG_SUCCESS:
        if (strcmp(m->u.success.msg, "connected") == 0 && r->state == QT_RS_CONNECTED)
            qt_rec_send_auth(r);
        else if (strcmp(m->u.success.msg, "authenticated") == 0 && r->state == QT_RS_AUTH)
            qt_rec_send_subscribe(r);
        break;
    case QT_MSG_ERROR:
        qt_rec_on_error(r, m->u.error.code, m->u.error.msg);
        return r->fatal != 0;
    case QT_MSG_SUBSCRIPTION:
        if (r->state == QT_RS_SUB)
            qt_rec_on_subscription(r, m->u.sub);
        break;
    case QT_MSG_QUOTE:
        if (r->state != QT_RS_STREAMING)
            break;
        qt_writer_quote(r->w, &m->u.quote, m->raw, m->raw_len);
        r->st.quotes++;
        break;
    case QT_MSG_TRADE:
        if (r->state != QT_RS_STREAMING || !r->o->trades)
            break;
        qt_writer_trade(r->w, &m->u.trade, m->raw, m->raw_len);
        r->st.trades++;
        break;
    case QT_MSG_BAR:
        if (r->state != QT_RS_STREAMING || !r->o->bars)
            break;
        qt_writer_bar(r->w, &m->u.bar, m->raw, m->raw_len);
        r->st.bars++;
        break;
    default:
        break;
    }
    if (m->type >= QT_MSG_QUOTE && m->type <= QT_MSG_BAR && r->state == QT_RS_STREAMING) {
        if (r->o->fanout)
            r->o->fanout(m, r->o->fanout_ud);
        if (qt_writer_batch_full(r->w)) {
            if ((e = qt_writer_flush(r->w, err, sizeof err))) {
                qt_rec_fatal(r, e, "%s", err);
                return 1;
            }
            r->last_commit_mono = qt_mono_ns();
        }
        if (r->o->max_quotes && r->st.quotes >= r->o->max_quotes) {
            r->done = 1;
            return 1;
        }
    }
    return 0;
}

/* One complete frame: parse and dispatch; a malformed frame is counted and
 * skipped (the messages before the bad one were recorded). */
static void qt_rec_frame(qt_rec *r, const char *buf, size_t len)
{
    char err[512];
    size_t delivered = 0;
    qt_err e = qt_frame_parse_json(buf, len, qt_now_ns(), qt_rec_on_msg, r, &delivered, err,
                                   sizeof err);
    r->st.frames++;
    if (e && e != QT_EINTR) {
        r->st.bad_frames++;
        if (r->st.bad_frames <= 10 || r->st.bad_frames % 1000 == 0)
            qt_warn("skipped a malformed frame (%lld so far, %zu message(s) before the bad one "
                    "kept): %s",
                    (long long)r->st.bad_frames, delivered, err);
    }
}

/* ------------------------------------------------------------------------ */
/* libwebsockets                                                             */
/* ------------------------------------------------------------------------ */

static void qt_rec_schedule(qt_rec *r)
{
    char conceal;
    unsigned ms;
    if (r->done)
        return;
    if (r->use_limit) {
        ms = lws_retry_get_delay_ms(r->ctx, &r->limit, &r->limit_count, &conceal);
        r->use_limit = 0;
    } else {
        ms = lws_retry_get_delay_ms(r->ctx, &r->retry, &r->retry_count, &conceal);
    }
    qt_debug("reconnecting in %u ms", ms);
    lws_sul_schedule(r->ctx, 0, &r->sul_connect, qt_rec_connect, (lws_usec_t)ms * 1000);
}

/* The connection is gone: note the outage, then retry or finish. */
static void qt_rec_lost(qt_rec *r, const char *why)
{
    r->wsi = NULL;
    if (r->done)
        return; /* closing at the end of the run */
    r->out_len = 0;
    r->rx_len = 0;
    r->rx_oversize = 0;
    qt_rec_reason(r, "%s", why);
    if (r->ever_streamed && !r->down_ns) {
        r->down_ns = r->last_rx_ns ? r->last_rx_ns : qt_now_ns();
        r->st.disconnects++;
        qt_warn("connection lost: %s", r->reason);
    } else if (!r->fatal) {
        qt_warn("cannot connect to '%s': %s", r->o->url, r->reason);
    }
    r->state = QT_RS_IDLE;
    if (r->fatal) {
        r->done = 1;
        return;
    }
    if (!r->down_ns)
        r->reason[0] = '\0';
    qt_rec_schedule(r);
}

static int qt_rec_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    qt_rec *r = lws_context_user(lws_get_context(wsi));
    (void)user;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[sizeof r->reason];
        const char *text = in ? (const char *)in : "connection failed";
        /* libwebsockets reports a refused certificate as a bare OpenSSL
         * code ("connect SSL err 1: ..."); say what it most likely is */
        if (r->tls && !r->o->insecure && strstr(text, "SSL") && r->o->ca_file)
            snprintf(why, sizeof why, "TLS handshake failed (%s): the server's certificate is "
                     "not signed by a CA in '%s', is for another host name, or the server "
                     "does not speak TLS", text, r->o->ca_file);
        else if (r->tls && !r->o->insecure && strstr(text, "SSL"))
            snprintf(why, sizeof why, "TLS handshake failed (%s): the server's certificate is "
                     "not signed by a CA this machine trusts (--ca-file FILE names others), is "
                     "for another host name, or the server does not speak TLS", text);
        else
            snprintf(why, sizeof why, "%s", text);
        if (r->wsi == wsi || !r->wsi)
            qt_rec_lost(r, why);
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        r->state = QT_RS_CONNECTED;
        r->st.connects++;
        r->last_rx_mono = qt_mono_ns();
        qt_debug("websocket open to '%s'", r->o->url);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        int final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
        r->last_rx_mono = qt_mono_ns();
        r->last_rx_ns = qt_now_ns();
        if (final && r->rx_len == 0 && !r->rx_oversize && len <= r->frame_max) {
            /* a whole frame in one piece, the usual case: parse it where
             * libwebsockets holds it, without copying */
            qt_rec_frame(r, in, len);
            break;
        }
        if (!r->rx_oversize) {
            if (r->rx_len + len > r->rx_alloc) {
                size_t n = qt_rec_grow(r->rx_alloc, r->rx_len + len, r->frame_max);
                char *p = n ? realloc(r->rx, n) : NULL;
                if (!p) {
                    r->rx_oversize = 1;
                } else {
                    r->rx = p;
                    r->rx_alloc = n;
                }
            }
            if (!r->rx_oversize) {
                memcpy(r->rx + r->rx_len, in, len);
                r->rx_len += len;
            }
        }
        if (final) {
            if (r->rx_oversize) {
                r->st.oversize_frames++;
                r->st.bad_frames++;
                qt_warn("skipped a frame larger than %zu bytes (%lld so far)", r->frame_max,
                        (long long)r->st.oversize_frames);
            } else {
                qt_rec_frame(r, r->rx, r->rx_len);
            }
            r->rx_len = 0;
            r->rx_oversize = 0;
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        r->last_rx_mono = qt_mono_ns();
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (r->out_len) {
            size_t n = r->out_len;
            int w = lws_write(wsi, r->out + LWS_PRE, n, LWS_WRITE_TEXT);
            /* the auth message holds the secret: do not keep it around */
            memset(r->out + LWS_PRE, 0, n);
            r->out_len = 0;
            if (w < (int)n) {
                qt_rec_reason(r, "write failed");
                return -1;
            }
            if (r->want_ping)
                lws_callback_on_writable(wsi);
        } else if (r->want_ping) {
            r->want_ping = 0;
            if (lws_write(wsi, r->out + LWS_PRE, 0, LWS_WRITE_PING) < 0)
                return -1;
        }
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        qt_rec_reason(r, "the server closed the connection");
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (r->wsi == wsi)
            qt_rec_lost(r, "the connection closed");
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols qt_rec_protocols[] = {
    {"alpaca", qt_rec_callback, 0, 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

static void qt_rec_connect(lws_sorted_usec_list_t *sul)
{
    qt_rec *r = lws_container_of(sul, qt_rec, sul_connect);
    struct lws_client_connect_info ci;

    if (r->done)
        return;
    memset(&ci, 0, sizeof ci);
    ci.context = r->ctx;
    ci.address = r->host;
    ci.port = r->port;
    ci.path = r->path;
    ci.host = r->host;
    ci.origin = r->host;
    ci.protocol = NULL;
    ci.local_protocol_name = "alpaca";
    ci.pwsi = &r->wsi;
    if (r->tls) {
        ci.ssl_connection = LCCSCF_USE_SSL;
        if (r->o->insecure)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                 LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    r->state = QT_RS_CONNECTING;
    r->conn_mono = qt_mono_ns();
    r->reason[0] = r->down_ns ? r->reason[0] : '\0';
    if (!lws_client_connect_via_info(&ci)) {
        r->wsi = NULL;
        qt_rec_lost(r, "cannot start the connection");
    }
}

/* Housekeeping every QT_TICK_US: stop flag, commits, Kafka, silence and
 * handshake timeouts, pings. */
static void qt_rec_tick(lws_sorted_usec_list_t *sul)
{
    qt_rec *r = lws_container_of(sul, qt_rec, sul_tick);
    int64_t now = qt_mono_ns();
    char err[512];

    if (r->o->stop && *r->o->stop)
        r->done = 1;
    if (qt_writer_pending(r->w) && now - r->last_commit_mono >= r->o->commit_interval_ns) {
        qt_err e = qt_writer_flush(r->w, err, sizeof err);
        if (e)
            qt_rec_fatal(r, e, "%s", err);
        r->last_commit_mono = now;
    } else {
        qt_err e = qt_writer_failed(r->w, err, sizeof err);
        if (e)
            qt_rec_fatal(r, e, "%s", err);
    }
    if (r->wsi && r->state >= QT_RS_CONNECTED) {
        int64_t idle = now - r->last_rx_mono;
        if (r->state < QT_RS_STREAMING && now - r->conn_mono > r->o->connect_timeout_ns) {
            qt_rec_reason(r, "no subscription reply within the handshake timeout");
            qt_rec_kill(r);
        } else if (idle > r->o->idle_timeout_ns) {
            char d[32];
            qt_dur_format(r->o->idle_timeout_ns, d, sizeof d);
            qt_rec_reason(r, "silent socket: no data and no pong for %s", d);
            qt_rec_kill(r);
        } else if (idle > r->o->idle_timeout_ns / 3 &&
                   now - r->last_ping_mono > r->o->idle_timeout_ns / 3) {
            r->want_ping = 1;
            r->last_ping_mono = now;
            lws_callback_on_writable(r->wsi);
        }
    } else if (r->wsi && now - r->conn_mono > r->o->connect_timeout_ns) {
        qt_rec_reason(r, "connect timed out");
        qt_rec_kill(r);
    }
    if (r->done)
        lws_cancel_service(r->ctx);
    else
        lws_sul_schedule(r->ctx, 0, &r->sul_tick, qt_rec_tick, QT_TICK_US);
}

/* ------------------------------------------------------------------------ */
/* Run                                                                       */
/* ------------------------------------------------------------------------ */

static qt_err qt_rec_parse_url(qt_rec *r, char *err, size_t errsz)
{
    const char *prot, *addr, *path;
    int port;
    snprintf(r->url_copy, sizeof r->url_copy, "%s", r->o->url);
    if (lws_parse_uri(r->url_copy, &prot, &addr, &port, &path) || !*addr)
        return qt_fail(QT_EUSAGE, err, errsz, "cannot parse URL '%s'", r->o->url);
    if (strcmp(prot, "wss") == 0)
        r->tls = 1;
    else if (strcmp(prot, "ws") != 0)
        return qt_fail(QT_EUSAGE, err, errsz, "URL '%s' is not ws:// or wss://", r->o->url);
    if (r->tls && port == 80)
        port = 443;
    snprintf(r->host, sizeof r->host, "%s", addr);
    snprintf(r->path, sizeof r->path, "/%s", path);
    r->port = port;
    return QT_OK;
}

/* Backoff: min, 2*min, 4*min, ... up to max, 30% jitter; the 406 backoff is
 * one long step with the same jitter. */
static void qt_rec_tables(qt_rec *r)
{
    int64_t ms = r->o->backoff_min_ns / QT_NS_PER_MS, max = r->o->backoff_max_ns / QT_NS_PER_MS;
    uint16_t n = 0;
    if (ms < 1)
        ms = 1;
    while (n < 16) {
        r->retry_ms[n++] = (uint32_t)(ms < max ? ms : max);
        if (ms >= max)
            break;
        ms *= 2;
    }
    memset(&r->retry, 0, sizeof r->retry);
    r->retry.retry_ms_table = r->retry_ms;
    r->retry.retry_ms_table_count = n;
    r->retry.conceal_count = LWS_RETRY_CONCEAL_ALWAYS;
    r->retry.jitter_percent = 30;
    r->limit_ms[0] = (uint32_t)(r->o->limit_backoff_ns / QT_NS_PER_MS);
    r->limit = r->retry;
    r->limit.retry_ms_table = r->limit_ms;
    r->limit.retry_ms_table_count = 1;
}

static void qt_rec_lws_log(int level, const char *line)
{
    (void)level;
    qt_debug("lws: %.*s", (int)strcspn(line, "\n"), line);
}

qt_err qt_rec_run(const qt_rec_opts *oin, qt_rec_stats *st, char *err, size_t errsz)
{
    qt_rec_opts o = *oin;
    struct lws_context_creation_info info;
    qt_sink_opts so;
    qt_session_info si;
    qt_rec *r;
    qt_err e;
    char syms[4096];
    size_t sl = 0;

    if (st)
        memset(st, 0, sizeof *st);
    if (!o.key_id || !*o.key_id || !o.secret || !*o.secret)
        return qt_fail(QT_EAUTH, err, errsz,
                       "no Alpaca keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY");
    for (const char *p = o.key_id; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            return qt_fail(QT_EAUTH, err, errsz, "APCA_API_KEY_ID holds a character no key has");
    for (const char *p = o.secret; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            return qt_fail(QT_EAUTH, err, errsz,
                           "APCA_API_SECRET_KEY holds a character no secret has");
    if (!o.nsymbols)
        return qt_fail(QT_EUSAGE, err, errsz, "no symbols to record");
    if (!o.backoff_min_ns)
        o.backoff_min_ns = 500 * QT_NS_PER_MS;
    if (!o.backoff_max_ns)
        o.backoff_max_ns = 30 * QT_NS_PER_SEC;
    if (o.backoff_max_ns < o.backoff_min_ns)
        o.backoff_max_ns = o.backoff_min_ns;
    if (!o.limit_backoff_ns)
        o.limit_backoff_ns = 60 * QT_NS_PER_SEC;
    if (!o.idle_timeout_ns)
        o.idle_timeout_ns = 30 * QT_NS_PER_SEC;
    if (!o.commit_interval_ns)
        o.commit_interval_ns = 200 * QT_NS_PER_MS;
    if (!o.connect_timeout_ns)
        o.connect_timeout_ns = 15 * QT_NS_PER_SEC;
    if (!o.flush_timeout_ms)
        o.flush_timeout_ms = 10000;
    if (!o.frame_max)
        o.frame_max = QT_FRAME_MAX;

    r = calloc(1, sizeof *r);
    if (!r)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    r->o = &o;
    r->frame_max = o.frame_max;
    if ((e = qt_rec_parse_url(r, err, errsz))) {
        free(r);
        return e;
    }
    qt_rec_tables(r);

    memset(&so, 0, sizeof so);
    so.db = o.db;
    so.kopts = o.kopts;
    so.topic = o.topic;
    so.trades_topic = o.trades ? o.trades_topic : NULL;
    so.bars_topic = o.bars ? o.bars_topic : NULL;
    so.batch_max = o.batch_max;
    so.dedupe = 1;
    if ((e = qt_sink_open(&so, &r->sink, err, errsz))) {
        free(r);
        return e;
    }
    syms[0] = '\0';
    for (size_t i = 0; i < o.nsymbols && sl < sizeof syms - 1; i++) {
        int w = snprintf(syms + sl, sizeof syms - sl, "%s%s", i ? "," : "", o.symbols[i]);
        if (w < 0)
            break;
        sl += (size_t)w;
    }
    si.source = o.source ? o.source : o.url;
    si.symbols = syms;
    si.topic = o.kopts ? o.topic : NULL;
    if ((e = qt_sink_session_begin(r->sink, &si, NULL, err, errsz))) {
        qt_sink_free(r->sink, 0);
        free(r);
        return e;
    }
    /* Batches of a quarter of a transaction: the writer may hold one while
     * the next fills, so a kill -9 loses at most half of batch_max rows,
     * and the two batches stay small (memory). */
    if ((e = qt_writer_start(r->sink, (o.batch_max ? o.batch_max : 10000) / 4, &r->w, err,
                             errsz))) {
        qt_sink_free(r->sink, qt_now_ns());
        free(r);
        return e;
    }

    lws_set_log_level(qt_log_get_level() >= QT_LOG_DEBUG ? LLL_ERR | LLL_WARN : 0,
                      qt_rec_lws_log);
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = qt_rec_protocols;
    info.user = r;
    info.options = r->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    info.client_ssl_ca_filepath = r->tls ? r->o->ca_file : NULL;
    info.fd_limit_per_thread = 8;
    r->ctx = lws_create_context(&info);
    if (!r->ctx) {
        qt_writer_stop(r->w, NULL, 0);
        qt_sink_free(r->sink, qt_now_ns());
        free(r);
        return qt_fail(QT_ENET, err, errsz, "cannot create the websocket context");
    }
    r->last_commit_mono = qt_mono_ns();
    lws_sul_schedule(r->ctx, 0, &r->sul_connect, qt_rec_connect, 1);
    lws_sul_schedule(r->ctx, 0, &r->sul_tick, qt_rec_tick, QT_TICK_US);
    qt_info("connecting to '%s'", o.url);

    while (!r->done && lws_service(r->ctx, 0) >= 0)
        if (o.stop && *o.stop)
            r->done = 1;

    lws_sul_cancel(&r->sul_connect);
    lws_sul_cancel(&r->sul_tick);
    lws_context_destroy(r->ctx);
    {
        /* everything received is written and committed; the sink is this
         * thread's again */
        char e2[512];
        qt_err we = qt_writer_stop(r->w, e2, sizeof e2);
        r->w = NULL;
        if (we && !r->fatal) {
            r->fatal = we;
            snprintf(r->fatal_msg, sizeof r->fatal_msg, "%s", e2);
        }
    }
    /* an outage that lasts until the stop is a gap too */
    if (!r->fatal && r->down_ns &&
        qt_sink_gap(r->sink, r->down_ns, qt_now_ns(), r->reason, err, errsz) == 0)
        r->st.gaps++;

    e = r->fatal;
    if (e)
        snprintf(err, errsz, "%s", r->fatal_msg);
    {
        char e2[512];
        qt_err de = qt_sink_drain(r->sink, o.flush_timeout_ms, e2, sizeof e2);
        if (de)
            qt_warn("%s", e2);
    }
    qt_sink_stats ss;
    qt_sink_get_stats(r->sink, &ss);
    /* what reached the tape: a batch lost to a failed write is not counted */
    r->st.quotes = ss.quotes;
    r->st.trades = ss.trades;
    r->st.bars = ss.bars;
    r->st.kafka_produced = ss.produced;
    r->st.kafka_delivered = ss.delivered;
    r->st.kafka_skipped = ss.skipped;
    r->st.kafka_acked = ss.acked;
    qt_sink_free(r->sink, qt_now_ns());
    if (st)
        *st = r->st;
    free(r->rx);
    free(r);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Sync                                                                      */
/* ------------------------------------------------------------------------ */

qt_err qt_rec_sync(const char *db, const qt_kopts *k, const char *topic, int timeout_ms,
                   int64_t *produced, int64_t *skipped, char *err, size_t errsz)
{
    qt_sink_opts so;
    qt_sink *s;
    qt_sink_stats ss;
    qt_err e;

    if (access(db, F_OK) != 0)
        return qt_fail(QT_ENOTFOUND, err, errsz, "cannot open tape '%s': no such file", db);
    memset(&so, 0, sizeof so);
    so.db = db;
    so.kopts = k;
    so.topic = topic;
    so.dedupe = 1;
    if ((e = qt_sink_open(&so, &s, err, errsz)))
        return e;
    e = qt_sink_drain(s, timeout_ms, err, errsz);
    qt_sink_get_stats(s, &ss);
    if (produced)
        *produced = ss.produced;
    if (skipped)
        *skipped = ss.skipped;
    qt_sink_free(s, 0);
    return e;
}
