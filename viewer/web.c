/* quotetape — the viewer's live web page. See web.h. */
#include "viewer/web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "core/aserver.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/quote.h"
#include "viewer/web_page.h"

#define WEB_DEFAULT_BIND "127.0.0.1:8080"
#define WEB_PROTOCOL "quotetape-view"
#define WEB_RX_MAX 1024            /* a browser only ever sends {"symbol":S} */
#define WEB_HTTP_CHUNK (16 * 1024) /* HTTP body bytes per writeable callback */

/* ======================================================================
 * State
 * ====================================================================== */

typedef struct web_chart {
    char symbol[QT_SYMBOL_MAX];
    char *svg; /* the SVG as gnuplot wrote it */
    size_t svg_len;
    char *msg; /* the websocket message that carries it */
    size_t msg_len;
    uint64_t version;
} web_chart;

/* One websocket connection (lws per-session data). */
typedef struct web_client {
    int open;
    char symbol[QT_SYMBOL_MAX]; /* selected; "" = the default */
    uint64_t sent_version;      /* chart version last sent for symbol */
    uint64_t sent_syms;         /* symbols-list version last sent */
    unsigned char *tx;          /* LWS_PRE + message */
    size_t txcap;
    char rx[WEB_RX_MAX + 1];
    size_t rxlen;
    int rx_bad;
} web_client;

/* One HTTP request (lws per-session data). */
typedef struct web_http {
    char *body;
    size_t len, off;
} web_http;

struct qt_web {
    qt_web_cfg cfg;
    char *topic, *default_symbol;
    char host[64];
    int port;
    struct lws_context *ctx;
    pthread_t thread;
    int thread_started;

    pthread_mutex_t mu; /* guards everything below */
    int stopping;
    web_chart charts[QT_WEB_SYMBOLS_MAX]; /* sorted by symbol (byte order) */
    size_t ncharts;
    char *syms_msg; /* {"type":"symbols",...} */
    size_t syms_len;
    uint64_t syms_version, next_version;
    qt_web_stats st;
};

/* ======================================================================
 * Messages (built under the mutex)
 * ====================================================================== */

/* The symbols message; also the body of /symbols.json. */
static char *web_symbols_json(const qt_web *w, int with_type)
{
    cJSON *j = cJSON_CreateObject(), *a;
    char *out = NULL;
    if (!j)
        return NULL;
    if (with_type)
        cJSON_AddStringToObject(j, "type", "symbols");
    a = cJSON_AddArrayToObject(j, "symbols");
    for (size_t i = 0; a && i < w->ncharts; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(w->charts[i].symbol));
    cJSON_AddStringToObject(j, "topic", w->topic ? w->topic : "");
    cJSON_AddNumberToObject(j, "last", (double)w->cfg.last_n);
    if (w->default_symbol)
        cJSON_AddStringToObject(j, "default", w->default_symbol);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return out;
}

static char *web_chart_json(const char *symbol, const char *svg, size_t len, size_t points,
                            uint64_t version)
{
    cJSON *j = cJSON_CreateObject();
    char *out = NULL, *copy = malloc(len + 1);
    if (!j || !copy) {
        cJSON_Delete(j);
        free(copy);
        return NULL;
    }
    memcpy(copy, svg, len);
    copy[len] = '\0';
    cJSON_AddStringToObject(j, "type", "chart");
    cJSON_AddStringToObject(j, "symbol", symbol);
    cJSON_AddNumberToObject(j, "points", (double)points);
    cJSON_AddNumberToObject(j, "version", (double)version);
    cJSON_AddStringToObject(j, "svg", copy);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    free(copy);
    return out;
}

/* The chart a client sees: its own symbol, or the default, or the first. */
static web_chart *web_find(qt_web *w, const char *symbol)
{
    if (symbol && *symbol) {
        for (size_t i = 0; i < w->ncharts; i++)
            if (strcmp(w->charts[i].symbol, symbol) == 0)
                return &w->charts[i];
        return NULL;
    }
    if (w->default_symbol) {
        web_chart *c = web_find(w, w->default_symbol);
        if (c)
            return c;
    }
    return w->ncharts ? &w->charts[0] : NULL;
}

qt_err qt_web_publish(qt_web *w, const char *symbol, const char *svg, size_t len, size_t points)
{
    size_t sl = symbol ? strlen(symbol) : 0;
    web_chart *c;
    char *svgc, *msg;
    qt_err rc = QT_OK;

    if (!sl || sl >= QT_SYMBOL_MAX || len > QT_WEB_SVG_MAX)
        return QT_EINVAL;
    if (!(svgc = malloc(len + 1)))
        return QT_ENOMEM;
    memcpy(svgc, svg, len);
    svgc[len] = '\0';
    pthread_mutex_lock(&w->mu);
    uint64_t version = ++w->next_version;
    msg = web_chart_json(symbol, svg, len, points, version);
    c = web_find(w, symbol);
    if (!msg) {
        rc = QT_ENOMEM;
    } else if (!c && w->ncharts >= QT_WEB_SYMBOLS_MAX) {
        rc = QT_ERANGE;
    } else if (!c) {
        /* a new symbol: insert in byte order, announce the new list */
        size_t at = 0;
        while (at < w->ncharts && strcmp(w->charts[at].symbol, symbol) < 0)
            at++;
        memmove(&w->charts[at + 1], &w->charts[at], (w->ncharts - at) * sizeof *w->charts);
        c = &w->charts[at];
        memset(c, 0, sizeof *c);
        memcpy(c->symbol, symbol, sl + 1);
        w->ncharts++;
        char *sm = web_symbols_json(w, 1);
        if (sm) {
            free(w->syms_msg);
            w->syms_msg = sm;
            w->syms_len = strlen(sm);
            w->syms_version = version;
        }
    }
    if (!rc) {
        free(c->svg);
        cJSON_free(c->msg);
        c->svg = svgc;
        c->svg_len = len;
        c->msg = msg;
        c->msg_len = strlen(msg);
        c->version = version;
        svgc = msg = NULL;
        w->st.published++;
    }
    pthread_mutex_unlock(&w->mu);
    free(svgc);
    cJSON_free(msg);
    if (!rc)
        lws_cancel_service(w->ctx);
    return rc;
}

/* ======================================================================
 * HTTP
 * ====================================================================== */

/* Copies the query value of name (already URL-decoded by lws) into val. */
static int web_query(struct lws *wsi, const char *name, char *val, size_t n)
{
    char frag[256];
    size_t nl = strlen(name);
    for (int i = 0;
         lws_hdr_copy_fragment(wsi, frag, (int)sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        if (strncmp(frag, name, nl) == 0 && frag[nl] == '=') {
            if (strlen(frag + nl + 1) >= n)
                return -1;
            snprintf(val, n, "%s", frag + nl + 1);
            return 1;
        }
    }
    return 0;
}

static int web_http_status(struct lws *wsi, unsigned code)
{
    if (lws_return_http_status(wsi, code, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Answers one GET: takes a copy of the body under the mutex, sends the
 * headers now and the body from the writeable callback. */
static int web_http_begin(qt_web *w, struct lws *wsi, web_http *h, const char *uri)
{
    unsigned char buf[LWS_PRE + 1024], *start = &buf[LWS_PRE], *p = start,
                                       *end = &buf[sizeof buf - 1];
    const char *ctype;
    char sym[QT_SYMBOL_MAX] = "";

    h->body = NULL;
    h->len = h->off = 0;
    pthread_mutex_lock(&w->mu);
    w->st.http_requests++;
    if (strcmp(uri, "/") == 0 || strcmp(uri, "/index.html") == 0) {
        ctype = "text/html; charset=utf-8";
        h->len = sizeof qt_web_page - 1;
        h->body = malloc(h->len);
        if (h->body)
            memcpy(h->body, qt_web_page, h->len);
    } else if (strcmp(uri, "/symbols.json") == 0) {
        ctype = "application/json";
        h->body = web_symbols_json(w, 0);
        h->len = h->body ? strlen(h->body) : 0;
    } else if (strcmp(uri, "/chart.svg") == 0) {
        web_chart *c = NULL;
        ctype = "image/svg+xml";
        if (web_query(wsi, "symbol", sym, sizeof sym) >= 0)
            c = web_find(w, sym);
        if (!c || !c->svg) {
            pthread_mutex_unlock(&w->mu);
            return web_http_status(wsi, HTTP_STATUS_NOT_FOUND);
        }
        h->len = c->svg_len;
        h->body = malloc(h->len ? h->len : 1);
        if (h->body)
            memcpy(h->body, c->svg, h->len);
    } else {
        pthread_mutex_unlock(&w->mu);
        return web_http_status(wsi, HTTP_STATUS_NOT_FOUND);
    }
    pthread_mutex_unlock(&w->mu);
    if (!h->body)
        return web_http_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR);
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, ctype, (lws_filepos_t)h->len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int web_http_write(struct lws *wsi, web_http *h)
{
    unsigned char buf[LWS_PRE + WEB_HTTP_CHUNK];
    size_t n = h->len - h->off;
    int final;
    if (!h->body)
        return 0;
    if (n > WEB_HTTP_CHUNK)
        n = WEB_HTTP_CHUNK;
    final = h->off + n == h->len;
    memcpy(buf + LWS_PRE, h->body + h->off, n);
    if (lws_write(wsi, buf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    h->off += n;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    free(h->body);
    h->body = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int web_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    qt_web *w = lws_context_user(lws_get_context(wsi));
    web_http *h = user;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_HTTP: return web_http_begin(w, wsi, h, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_WRITEABLE: return h ? web_http_write(wsi, h) : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (h) {
            free(h->body);
            h->body = NULL;
        }
        return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ======================================================================
 * Websocket
 * ====================================================================== */

/* Copies the next message this client needs (the symbols list first, then
 * its chart when newer than what it has) into c->tx. Returns its length,
 * 0 when the client is up to date, -1 on allocation failure. */
static long web_next_message(qt_web *w, web_client *c)
{
    const char *msg = NULL;
    size_t len = 0;
    long out = 0;
    pthread_mutex_lock(&w->mu);
    if (w->syms_msg && c->sent_syms != w->syms_version) {
        msg = w->syms_msg;
        len = w->syms_len;
        c->sent_syms = w->syms_version;
    } else {
        web_chart *ch = web_find(w, c->symbol);
        if (ch && ch->msg && ch->version != c->sent_version) {
            msg = ch->msg;
            len = ch->msg_len;
            c->sent_version = ch->version;
            if (!c->symbol[0])
                memcpy(c->symbol, ch->symbol, sizeof c->symbol);
            w->st.charts_sent++;
        }
    }
    if (msg) {
        if (LWS_PRE + len > c->txcap) {
            unsigned char *p = realloc(c->tx, LWS_PRE + len);
            if (!p) {
                pthread_mutex_unlock(&w->mu);
                return -1;
            }
            c->tx = p;
            c->txcap = LWS_PRE + len;
        }
        memcpy(c->tx + LWS_PRE, msg, len);
        out = (long)len;
    }
    pthread_mutex_unlock(&w->mu);
    return out;
}

/* {"symbol":"S"}: the browser picked a symbol. Anything else is ignored. */
static void web_select(qt_web *w, struct lws *wsi, web_client *c)
{
    cJSON *j = cJSON_ParseWithLength(c->rx, c->rxlen);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "symbol");
    if (cJSON_IsString(s) && strlen(s->valuestring) < sizeof c->symbol) {
        pthread_mutex_lock(&w->mu);
        snprintf(c->symbol, sizeof c->symbol, "%s", s->valuestring);
        c->sent_version = 0;
        pthread_mutex_unlock(&w->mu);
        lws_callback_on_writable(wsi);
    }
    cJSON_Delete(j);
}

static int web_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    qt_web *w = lws_context_user(lws_get_context(wsi));
    web_client *c = user;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* a chart was published: every browser checks what it needs */
        if (w && lws_get_protocol(wsi))
            lws_callback_on_writable_all_protocol(lws_get_context(wsi), lws_get_protocol(wsi));
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof *c);
        c->open = 1;
        pthread_mutex_lock(&w->mu);
        w->st.clients_now++;
        w->st.clients_total++;
        pthread_mutex_unlock(&w->mu);
        qt_debug("view: a browser connected");
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c || !c->open)
            return -1;
        if (lws_is_first_fragment(wsi)) {
            c->rxlen = 0;
            c->rx_bad = 0;
        }
        if (c->rxlen + len > WEB_RX_MAX)
            c->rx_bad = 1;
        else {
            memcpy(c->rx + c->rxlen, in, len);
            c->rxlen += len;
        }
        if (lws_is_final_fragment(wsi) && !c->rx_bad)
            web_select(w, wsi, c);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (!c || !c->open)
            return 0;
        long n = web_next_message(w, c);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (lws_write(wsi, c->tx + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
            return -1;
        lws_callback_on_writable(wsi); /* maybe more: the chart after the list */
        return 0;
    }
    case LWS_CALLBACK_CLOSED:
        if (c && c->open) {
            c->open = 0;
            free(c->tx);
            c->tx = NULL;
            pthread_mutex_lock(&w->mu);
            w->st.clients_now--;
            pthread_mutex_unlock(&w->mu);
            qt_debug("view: a browser disconnected");
        }
        return 0;
    default: return 0;
    }
}

static const struct lws_protocols web_protocols[] = {
    {"http", web_http_cb, sizeof(web_http), 0, 0, NULL, 0},
    {WEB_PROTOCOL, web_ws_cb, sizeof(web_client), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ======================================================================
 * Start, stop
 * ====================================================================== */


static void *web_thread(void *arg)
{
    qt_web *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int stop = w->stopping;
        pthread_mutex_unlock(&w->mu);
        if (stop || lws_service(w->ctx, 0) < 0)
            break;
    }
    return NULL;
}

static void web_free_parts(qt_web *w)
{
    for (size_t i = 0; i < w->ncharts; i++) {
        free(w->charts[i].svg);
        cJSON_free(w->charts[i].msg);
    }
    cJSON_free(w->syms_msg);
    free(w->topic);
    free(w->default_symbol);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

qt_err qt_web_start(const qt_web_cfg *cfg, qt_web **out, char *err, size_t errsz)
{
    char host[64];
    int port, loop;
    qt_err rc;
    *out = NULL;
    rc = qt_net_parse_bind(cfg->bind ? cfg->bind : WEB_DEFAULT_BIND, host, sizeof host, &port,
                               &loop, err, errsz);
    if (rc)
        return rc;
    if (!loop && !cfg->allow_remote)
        return qt_fail(QT_EUSAGE, err, errsz,
                       "refusing to serve on '%s': not a loopback address (allow it explicitly)",
                       host);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if ((rc = qt_net_probe_bind(host, port, err, errsz)))
        return rc;

    qt_web *w = calloc(1, sizeof *w);
    if (!w)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    pthread_mutex_init(&w->mu, NULL);
    w->cfg = *cfg;
    w->topic = cfg->topic ? strdup(cfg->topic) : NULL;
    w->default_symbol = cfg->default_symbol ? strdup(cfg->default_symbol) : NULL;
    snprintf(w->host, sizeof w->host, "%s", host);
    if ((cfg->topic && !w->topic) || (cfg->default_symbol && !w->default_symbol) ||
        !(w->syms_msg = web_symbols_json(w, 1))) {
        web_free_parts(w);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    w->syms_len = strlen(w->syms_msg);
    w->syms_version = ++w->next_version;

    if ((rc = qt_net_listen(w->host, port, web_protocols, w, &w->ctx, &w->port, err, errsz))) {
        web_free_parts(w);
        return rc;
    }
    if (pthread_create(&w->thread, NULL, web_thread, w)) {
        lws_context_destroy(w->ctx);
        web_free_parts(w);
        return qt_fail(QT_ENET, err, errsz, "cannot serve on %s:%d: cannot start a thread", host,
                       port);
    }
    w->thread_started = 1;
    qt_info("view: serving the live page on http://%s%s%s:%d/", strchr(w->host, ':') ? "[" : "",
            w->host, strchr(w->host, ':') ? "]" : "", w->port);
    *out = w;
    return QT_OK;
}

int qt_web_port(const qt_web *w)
{
    return w ? w->port : -1;
}

void qt_web_get_stats(qt_web *w, qt_web_stats *st)
{
    pthread_mutex_lock(&w->mu);
    *st = w->st;
    pthread_mutex_unlock(&w->mu);
}

void qt_web_free(qt_web *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_mutex_unlock(&w->mu);
    lws_cancel_service(w->ctx);
    if (w->thread_started)
        pthread_join(w->thread, NULL);
    lws_context_destroy(w->ctx);
    web_free_parts(w);
}
