/* qt_aclient — a test and benchmark client for Alpaca-compatible market-data
 * websockets (quotetape's server, or anything speaking the v2 protocol).
 *
 * Script mode (one connection, --send given or --read): prints every frame
 * received as one line "< FRAME" (JSON frames byte for byte; MessagePack
 * frames rendered as JSON, the timestamp extension as {"$ts":"RFC3339"} with
 * nine digits, plus "mp" markers), sends each --send after the previous
 * reply, reads --read MS more, prints "closed" if the server closed.
 *
 * Stream mode (--clients N): N connections authenticate, subscribe, count
 * data messages and check them, then print one line per client and a total:
 *   client I: msgs=N frames=F order_errors=E error=CODE closed=0|1 first=S last=S
 *   total: clients=N ready=R complete=C msgs=M frames=F order_errors=E
 *          errors407=K closed=X elapsed_ms=T rate=MSGS/S lag_p50_us=.. lag_p99_us=..
 *          lag_max_us=.. client_p99_max_us=..
 * Lag is arrival (CLOCK_REALTIME) minus the message's own "t" (slow
 * clients left out of the lag figures): meaningful
 * when the publisher stamps t with the publish time on the same machine.
 * --seq checks that each client's quotes have bid sizes rising by one (the
 * publisher numbers them so), which proves order and no loss.
 * --end SYM: a client is done when a quote for SYM arrives (an end marker,
 * for streams whose length the client cannot know).
 * --slow K makes the first K clients stop reading for --pause MS after
 * subscribing (their socket fills up), then read again.
 *
 * Exit status: 0 when every client finished as asked (complete, or closed
 * for a slow one), 1 on timeout or connection failure, 2 on bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <msgpack.h>

#include "core/codec.h"
#include "core/pacer.h"
#include "core/qtime.h"

#define AC_MAX_SENDS 32
#define AC_MAX_CLIENTS 4096

typedef struct ac_opts {
    char host[128];
    int port;
    char path[256];
    int msgpack, json_actions;
    int nclients;
    const char *key, *secret;
    int no_auth;
    const char *quotes, *trades, *bars;
    long long expect;
    const char *end_sym;
    int seq;
    int slow;
    int pause_ms;
    int timeout_ms;
    const char *sends[AC_MAX_SENDS];
    int nsends;
    int read_ms;
    int script;
    int quiet;
} ac_opts;

typedef struct ac_client {
    struct ac_state *st;
    struct lws *wsi;
    int idx;
    int phase; /* 0 connecting, 1 connected, 2 authed, 3 subscribed */
    int closed, failed, slow, ended;
    int error; /* last error code received */
    long long msgs, frames, order_errors;
    long long first_seq, last_seq;
    qt_lat_hist lat;
    char *rx;
    size_t rxlen, rxcap;
    unsigned char *tx; /* pending outgoing frame (LWS_PRE + body) */
    size_t txlen;
    int txbin;
    int sends_done, awaiting, expect_met;
    int64_t done_at; /* script: read until */
    lws_sorted_usec_list_t sul;
} ac_client;

typedef struct ac_state {
    ac_opts o;
    struct lws_context *ctx;
    ac_client *c;
    int ready;
    int stop;
    lws_sorted_usec_list_t tick; /* wakes the loop to check deadlines */
} ac_state;

static volatile sig_atomic_t ac_sig;
static void ac_on_sig(int s)
{
    (void)s;
    ac_sig = 1;
}

/* ---- output rendering --------------------------------------------------- */

static void ac_put_mp(FILE *f, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: fputs("null", f); break;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        char b[32];
        qt_fmt_double(o->via.f64, b);
        fputs(b, f);
        break;
    }
    case MSGPACK_OBJECT_STR:
        fputc('"', f);
        fwrite(o->via.str.ptr, 1, o->via.str.size, f);
        fputc('"', f);
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputc('[', f);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputc(',', f);
            ac_put_mp(f, &o->via.array.ptr[i]);
        }
        fputc(']', f);
        break;
    case MSGPACK_OBJECT_MAP:
        fputc('{', f);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                fputc(',', f);
            ac_put_mp(f, &o->via.map.ptr[i].key);
            fputc(':', f);
            ac_put_mp(f, &o->via.map.ptr[i].val);
        }
        fputc('}', f);
        break;
    case MSGPACK_OBJECT_EXT: {
        const unsigned char *p = (const unsigned char *)o->via.ext.ptr;
        uint32_t n = o->via.ext.size;
        int64_t sec = 0, nsec = 0;
        int ok = o->via.ext.type == -1;
        if (ok && n == 4) {
            sec = ((int64_t)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
        } else if (ok && n == 8) {
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v = (v << 8) | p[i];
            nsec = (int64_t)(v >> 34);
            sec = (int64_t)(v & 0x3ffffffffULL);
        } else if (ok && n == 12) {
            uint64_t s = 0;
            for (int i = 0; i < 4; i++)
                nsec = (nsec << 8) | p[i];
            for (int i = 4; i < 12; i++)
                s = (s << 8) | p[i];
            sec = (int64_t)s;
        } else {
            ok = 0;
        }
        if (ok) {
            char t[QT_TIME_STRMAX];
            qt_time_format(sec * QT_NS_PER_SEC + nsec, 9, t);
            fprintf(f, "{\"$ts\":\"%s\"}", t);
        } else {
            fprintf(f, "{\"$ext\":%d}", o->via.ext.type);
        }
        break;
    }
    default: fputs("?", f); break;
    }
}

/* ---- frames ------------------------------------------------------------- */

typedef struct ac_walk {
    ac_client *c;
    int64_t now;
} ac_walk;

static int ac_on_msg(const qt_msg *m, void *ud)
{
    ac_walk *w = ud;
    ac_client *c = w->c;
    int64_t t = 0;
    switch (m->type) {
    case QT_MSG_SUCCESS:
        if (strcmp(m->u.success.msg, "connected") == 0 && c->phase < 1)
            c->phase = 1;
        else if (strcmp(m->u.success.msg, "authenticated") == 0 && c->phase < 2)
            c->phase = 2;
        return 0;
    case QT_MSG_ERROR: c->error = m->u.error.code; return 0;
    case QT_MSG_SUBSCRIPTION:
        if (c->phase < 3) {
            c->phase = 3;
            c->st->ready++;
        }
        return 0;
    case QT_MSG_QUOTE:
        t = m->u.quote.t_ns;
        if (c->st->o.end_sym && strcmp(m->u.quote.symbol, c->st->o.end_sym) == 0)
            c->ended = 1;
        if (c->st->o.seq) {
            long long s = (long long)m->u.quote.bid_sz;
            if (c->msgs == 0)
                c->first_seq = s;
            else if (s != c->last_seq + 1)
                c->order_errors++;
            c->last_seq = s;
        }
        break;
    case QT_MSG_TRADE: t = m->u.trade.t_ns; break;
    case QT_MSG_BAR: t = m->u.bar.t_ns; break;
    default: return 0;
    }
    c->msgs++;
    if (t > 0 && w->now > t)
        qt_lat_hist_add(&c->lat, w->now - t);
    else if (t > 0)
        qt_lat_hist_add(&c->lat, 0);
    return 0;
}

static void ac_frame(ac_client *c, const char *buf, size_t len, int binary)
{
    ac_walk w = {c, qt_now_ns()};
    char err[256];
    size_t before = (size_t)c->msgs;
    if (c->st->o.script) {
        if (binary) {
            msgpack_unpacked u;
            size_t off = 0;
            msgpack_unpacked_init(&u);
            fputs("< mp ", stdout);
            if (msgpack_unpack_next(&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS)
                ac_put_mp(stdout, &u.data);
            else
                fputs("(bad msgpack)", stdout);
            msgpack_unpacked_destroy(&u);
        } else {
            fputs("< ", stdout);
            fwrite(buf, 1, len, stdout);
        }
        fputc('\n', stdout);
        fflush(stdout);
    }
    qt_err rc = binary ? qt_frame_parse_msgpack(buf, len, 0, ac_on_msg, &w, NULL, err, sizeof err)
                       : qt_frame_parse_json(buf, len, 0, ac_on_msg, &w, NULL, err, sizeof err);
    if (rc && !c->st->o.script)
        fprintf(stderr, "qt_aclient: client %d: bad frame: %s\n", c->idx, err);
    if ((size_t)c->msgs > before)
        c->frames++;
}

/* ---- sending ------------------------------------------------------------ */

static void ac_pack_json(msgpack_packer *pk, const cJSON *j)
{
    if (cJSON_IsObject(j)) {
        msgpack_pack_map(pk, (size_t)cJSON_GetArraySize(j));
        for (const cJSON *e = j->child; e; e = e->next) {
            size_t n = strlen(e->string);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, e->string, n);
            ac_pack_json(pk, e);
        }
    } else if (cJSON_IsArray(j)) {
        msgpack_pack_array(pk, (size_t)cJSON_GetArraySize(j));
        for (const cJSON *e = j->child; e; e = e->next)
            ac_pack_json(pk, e);
    } else if (cJSON_IsString(j)) {
        size_t n = strlen(j->valuestring);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, j->valuestring, n);
    } else if (cJSON_IsNumber(j)) {
        msgpack_pack_double(pk, j->valuedouble);
    } else if (cJSON_IsBool(j)) {
        if (cJSON_IsTrue(j))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    } else {
        msgpack_pack_nil(pk);
    }
}

/* Queues text as the next frame: msgpack (converted from JSON) on a msgpack
 * connection unless --json-actions or the text is not JSON. */
static void ac_send(ac_client *c, const char *text)
{
    const ac_opts *o = &c->st->o;
    size_t n = strlen(text);
    msgpack_sbuffer sb;
    int bin = 0;
    msgpack_sbuffer_init(&sb);
    if (o->msgpack && !o->json_actions) {
        cJSON *j = cJSON_Parse(text);
        if (j) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            ac_pack_json(&pk, j);
            cJSON_Delete(j);
            text = sb.data;
            n = sb.size;
            bin = 1;
        }
    }
    free(c->tx);
    c->tx = malloc(LWS_PRE + n + 1);
    if (c->tx) {
        memcpy(c->tx + LWS_PRE, text, n);
        c->txlen = n;
        c->txbin = bin;
        lws_callback_on_writable(c->wsi);
    }
    msgpack_sbuffer_destroy(&sb);
    if (o->script) {
        printf("> %s\n", o->msgpack && !o->json_actions ? "(msgpack)" : "");
        fflush(stdout);
    }
}

static void ac_send_subscribe(ac_client *c)
{
    const ac_opts *o = &c->st->o;
    cJSON *j = cJSON_CreateObject();
    const char *lists[3][2] = {{"quotes", o->quotes}, {"trades", o->trades}, {"bars", o->bars}};
    cJSON_AddStringToObject(j, "action", "subscribe");
    for (int k = 0; k < 3; k++) {
        if (!lists[k][1])
            continue;
        cJSON *a = cJSON_AddArrayToObject(j, lists[k][0]);
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", lists[k][1]);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(a, cJSON_CreateString(t));
    }
    char *txt = cJSON_PrintUnformatted(j);
    if (txt)
        ac_send(c, txt);
    free(txt);
    cJSON_Delete(j);
}

static void ac_send_auth(ac_client *c)
{
    const ac_opts *o = &c->st->o;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "action", "auth");
    cJSON_AddStringToObject(j, "key", o->key);
    cJSON_AddStringToObject(j, "secret", o->secret);
    char *txt = cJSON_PrintUnformatted(j);
    if (txt)
        ac_send(c, txt);
    free(txt);
    cJSON_Delete(j);
}

static void ac_tick(lws_sorted_usec_list_t *sul)
{
    ac_state *s = lws_container_of(sul, ac_state, tick);
    lws_sul_schedule(s->ctx, 0, &s->tick, ac_tick, 20 * LWS_US_PER_MS);
}

static void ac_resume(lws_sorted_usec_list_t *sul)
{
    ac_client *c = lws_container_of(sul, ac_client, sul);
    if (c->wsi && !c->closed)
        lws_rx_flow_control(c->wsi, 1);
}

/* What to do after a frame: drive the handshake (stream mode) or the
 * script. */
static void ac_step(ac_client *c, int phase_before)
{
    const ac_opts *o = &c->st->o;
    if (o->script) {
        if (c->sends_done < o->nsends) {
            ac_send(c, o->sends[c->sends_done++]);
        } else if (!c->done_at) {
            c->done_at = qt_mono_ns() + (int64_t)o->read_ms * QT_NS_PER_MS;
        } else if (o->expect >= 0 && c->msgs >= o->expect && !c->expect_met) {
            /* read --read MS more after the last expected message, to catch extras */
            c->expect_met = 1;
            c->done_at = qt_mono_ns() + (int64_t)o->read_ms * QT_NS_PER_MS;
        }
        return;
    }
    if (phase_before < 1 && c->phase >= 1) {
        if (o->no_auth)
            ac_send_subscribe(c);
        else
            ac_send_auth(c);
    } else if (phase_before < 2 && c->phase >= 2) {
        ac_send_subscribe(c);
    } else if (phase_before < 3 && c->phase >= 3 && c->slow) {
        lws_rx_flow_control(c->wsi, 0);
        lws_sul_schedule(c->st->ctx, 0, &c->sul, ac_resume,
                         (lws_usec_t)c->st->o.pause_ms * LWS_US_PER_MS);
    }
}

static int ac_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    ac_client *c = user;
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!c || !c->st->o.msgpack)
            return 0;
        unsigned char **p = (unsigned char **)in, *end = (*p) + len;
        static const char ct[] = "application/msgpack";
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                         (const unsigned char *)ct, (int)strlen(ct), p, end))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c && !c->st->stop) {
            fprintf(stderr, "qt_aclient: client %d: connection failed: %s\n", c->idx,
                    in ? (const char *)in : "?");
            c->failed = c->closed = 1;
            c->wsi = NULL;
            if (c->st->o.script) {
                printf("refused %s\n", in ? (const char *)in : "");
                fflush(stdout);
            }
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!c)
            return 0;
        if (lws_is_first_fragment(wsi))
            c->rxlen = 0;
        if (c->rxlen + len + 1 > c->rxcap) {
            size_t nc = c->rxcap ? c->rxcap : 65536;
            while (nc < c->rxlen + len + 1)
                nc *= 2;
            if (nc > 64u * 1024u * 1024u)
                return -1;
            char *p = realloc(c->rx, nc);
            if (!p)
                return -1;
            c->rx = p;
            c->rxcap = nc;
        }
        memcpy(c->rx + c->rxlen, in, len);
        c->rxlen += len;
        if (!lws_is_final_fragment(wsi))
            return 0;
        int before = c->phase;
        ac_frame(c, c->rx, c->rxlen, lws_frame_is_binary(wsi));
        if (c->st->o.script || c->phase != before)
            ac_step(c, before);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c && c->tx) {
            int r = lws_write(wsi, c->tx + LWS_PRE, c->txlen,
                              c->txbin ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            free(c->tx);
            c->tx = NULL;
            if (r < 0)
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            c->closed = 1;
            c->wsi = NULL;
            lws_sul_cancel(&c->sul);
            if (c->st->o.script && !c->st->stop) {
                printf("closed\n");
                fflush(stdout);
            }
        }
        return 0;
    default: return 0;
    }
}

static const struct lws_protocols ac_protocols[] = {
    {"alpaca-client", ac_callback, 0, 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- options ------------------------------------------------------------ */

static void ac_usage(FILE *f)
{
    fputs("usage: qt_aclient --url ws://HOST:PORT/PATH [options]\n"
          "  --msgpack           ask for MessagePack (Content-Type: application/msgpack)\n"
          "  --json-actions      send actions as JSON text even with --msgpack\n"
          "  --key K --secret S  credentials (default key/secret)\n"
          "  --no-auth           subscribe without authenticating\n"
          "  --quotes A,B --trades A,B --bars A,B   what to subscribe to\n"
          "script mode (one connection, prints every frame):\n"
          "  --send TEXT         send TEXT after the previous reply (repeatable)\n"
          "  --read MS           then read for MS milliseconds (with --expect N: until N\n"
          "                      data messages came, then MS more)\n"
          "stream mode:\n"
          "  --clients N         connections (default 1)\n"
          "  --expect N          data messages each client waits for\n"
          "  --end SYM           a client is done when a quote for SYM arrives\n"
          "  --seq               quotes' bid sizes must rise by one\n"
          "  --slow K --pause MS the first K clients stop reading MS after subscribing\n"
          "  --quiet             no per-client lines\n"
          "  --timeout MS        give up after MS (default 20000)\n"
          "example: qt_aclient --url ws://127.0.0.1:8765/v2/iex --clients 50 --quotes SPY "
          "--expect 1000 --seq\n",
          f);
}

static int ac_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int ac_parse_url(ac_opts *o, const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5, *colon = strchr(h, ':'), *slash = strchr(h, '/');
    if (!colon || !slash || colon > slash || (size_t)(colon - h) >= sizeof o->host)
        return -1;
    memcpy(o->host, h, (size_t)(colon - h));
    o->host[colon - h] = '\0';
    char pb[16];
    if ((size_t)(slash - colon - 1) >= sizeof pb)
        return -1;
    memcpy(pb, colon + 1, (size_t)(slash - colon - 1));
    pb[slash - colon - 1] = '\0';
    long long p;
    if (ac_num(pb, 1, 65535, &p))
        return -1;
    o->port = (int)p;
    snprintf(o->path, sizeof o->path, "%s", slash);
    return 0;
}

static int ac_parse(ac_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->nclients = 1;
    o->key = "key";
    o->secret = "secret";
    o->timeout_ms = 20000;
    o->pause_ms = 1000;
    o->expect = -1;
    int have_url = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
#define NEED()                                                                                     \
    do {                                                                                           \
        if (!v) {                                                                                  \
            fprintf(stderr, "qt_aclient: %s needs a value\n", a);                                  \
            return -1;                                                                             \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (strcmp(a, "--url") == 0) {
            NEED();
            if (ac_parse_url(o, v)) {
                fprintf(stderr, "qt_aclient: bad url '%s'\n", v);
                return -1;
            }
            have_url = 1;
        } else if (strcmp(a, "--msgpack") == 0) {
            o->msgpack = 1;
        } else if (strcmp(a, "--json-actions") == 0) {
            o->json_actions = 1;
        } else if (strcmp(a, "--key") == 0) {
            NEED();
            o->key = v;
        } else if (strcmp(a, "--secret") == 0) {
            NEED();
            o->secret = v;
        } else if (strcmp(a, "--no-auth") == 0) {
            o->no_auth = 1;
        } else if (strcmp(a, "--quotes") == 0) {
            NEED();
            o->quotes = v;
        } else if (strcmp(a, "--trades") == 0) {
            NEED();
            o->trades = v;
        } else if (strcmp(a, "--bars") == 0) {
            NEED();
            o->bars = v;
        } else if (strcmp(a, "--send") == 0) {
            NEED();
            if (o->nsends == AC_MAX_SENDS)
                return -1;
            o->sends[o->nsends++] = v;
            o->script = 1;
        } else if (strcmp(a, "--read") == 0) {
            NEED();
            if (ac_num(v, 0, 600000, &n))
                return -1;
            o->read_ms = (int)n;
            o->script = 1;
        } else if (strcmp(a, "--clients") == 0) {
            NEED();
            if (ac_num(v, 1, AC_MAX_CLIENTS, &n))
                return -1;
            o->nclients = (int)n;
        } else if (strcmp(a, "--expect") == 0) {
            NEED();
            if (ac_num(v, 0, INT64_MAX, &n))
                return -1;
            o->expect = n;
        } else if (strcmp(a, "--end") == 0) {
            NEED();
            o->end_sym = v;
        } else if (strcmp(a, "--seq") == 0) {
            o->seq = 1;
        } else if (strcmp(a, "--slow") == 0) {
            NEED();
            if (ac_num(v, 0, AC_MAX_CLIENTS, &n))
                return -1;
            o->slow = (int)n;
        } else if (strcmp(a, "--pause") == 0) {
            NEED();
            if (ac_num(v, 0, 600000, &n))
                return -1;
            o->pause_ms = (int)n;
        } else if (strcmp(a, "--timeout") == 0) {
            NEED();
            if (ac_num(v, 1, 3600000, &n))
                return -1;
            o->timeout_ms = (int)n;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            ac_usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "qt_aclient: unknown option '%s'\n", a);
            return -1;
        }
#undef NEED
    }
    if (!have_url) {
        fprintf(stderr, "qt_aclient: --url is required\n");
        return -1;
    }
    if (o->script)
        o->nclients = 1;
    return 0;
}

/* ---- main --------------------------------------------------------------- */

static int ac_finished(ac_state *s)
{
    const ac_opts *o = &s->o;
    for (int i = 0; i < o->nclients; i++) {
        ac_client *c = &s->c[i];
        if (c->closed)
            continue;
        if (o->script) {
            if (o->expect >= 0 && c->msgs < o->expect)
                return 0;
            if (!c->done_at || qt_mono_ns() < c->done_at)
                return 0;
        } else if (c->slow || !(c->ended || (o->expect >= 0 && c->msgs >= o->expect))) {
            return 0;
        }
    }
    return 1;
}

static void ac_report(ac_state *s, int64_t elapsed)
{
    const ac_opts *o = &s->o;
    long long msgs = 0, frames = 0, oe = 0, e407 = 0, closed = 0, complete = 0;
    int64_t cp99max = 0;
    qt_lat_hist all;
    qt_lat_hist_init(&all);
    for (int i = 0; i < o->nclients; i++) {
        ac_client *c = &s->c[i];
        msgs += c->msgs;
        frames += c->frames;
        oe += c->order_errors;
        e407 += c->error == QT_ALPACA_SLOW_CLIENT;
        closed += c->closed;
        complete += ((o->expect >= 0 && c->msgs == o->expect) || c->ended) && !c->order_errors;
        if (!o->quiet)
            printf("client %d: msgs=%lld frames=%lld order_errors=%lld error=%d closed=%d "
                   "first=%lld last=%lld\n",
                   i, c->msgs, c->frames, c->order_errors, c->error, c->closed, c->first_seq,
                   c->last_seq);
        if (c->slow)
            continue; /* lag figures are about the clients that keep up */
        qt_lat_hist_merge(&all, &c->lat);
        int64_t p = qt_lat_hist_quantile(&c->lat, 0.99);
        if (p > cp99max)
            cp99max = p;
    }
    double secs = (double)elapsed / 1e9;
    printf("total: clients=%d ready=%d complete=%lld msgs=%lld frames=%lld order_errors=%lld "
           "errors407=%lld closed=%lld elapsed_ms=%lld rate=%.0f lag_p50_us=%lld "
           "lag_p99_us=%lld lag_max_us=%lld client_p99_max_us=%lld\n",
           o->nclients, s->ready, complete, msgs, frames, oe, e407, closed,
           (long long)(elapsed / QT_NS_PER_MS), secs > 0 ? (double)msgs / secs : 0.0,
           (long long)(qt_lat_hist_quantile(&all, 0.5) / 1000),
           (long long)(qt_lat_hist_quantile(&all, 0.99) / 1000), (long long)(all.max / 1000),
           (long long)(cp99max / 1000));
}

int main(int argc, char **argv)
{
    ac_state s;
    memset(&s, 0, sizeof s);
    if (ac_parse(&s.o, argc, argv)) {
        ac_usage(stderr);
        return 2;
    }
    signal(SIGINT, ac_on_sig);
    signal(SIGTERM, ac_on_sig);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ac_protocols;
    info.fd_limit_per_thread = (unsigned int)(s.o.nclients + 64);
    s.ctx = lws_create_context(&info);
    if (!s.ctx) {
        fprintf(stderr, "qt_aclient: cannot create a libwebsockets context\n");
        return 1;
    }
    s.c = calloc((size_t)s.o.nclients, sizeof *s.c);
    if (!s.c)
        return 1;
    for (int i = 0; i < s.o.nclients; i++) {
        ac_client *c = &s.c[i];
        c->st = &s;
        c->idx = i;
        c->slow = i < s.o.slow;
        qt_lat_hist_init(&c->lat);
        struct lws_client_connect_info ci;
        memset(&ci, 0, sizeof ci);
        ci.context = s.ctx;
        ci.address = s.o.host;
        ci.port = s.o.port;
        ci.path = s.o.path;
        ci.host = s.o.host;
        ci.origin = s.o.host;
        ci.protocol = NULL;
        ci.local_protocol_name = "alpaca-client";
        ci.userdata = c;
        ci.pwsi = &c->wsi;
        if (!lws_client_connect_via_info(&ci)) {
            c->failed = c->closed = 1;
            fprintf(stderr, "qt_aclient: client %d: cannot connect\n", i);
        }
    }
    lws_sul_schedule(s.ctx, 0, &s.tick, ac_tick, 20 * LWS_US_PER_MS);
    int64_t t0 = qt_mono_ns(), deadline = t0 + (int64_t)s.o.timeout_ms * QT_NS_PER_MS;
    int timed_out = 0;
    while (!ac_sig) {
        if (ac_finished(&s))
            break;
        if (qt_mono_ns() > deadline) {
            timed_out = 1;
            break;
        }
        lws_service(s.ctx, 0);
    }
    int64_t elapsed = qt_mono_ns() - t0;
    int failed = timed_out;
    for (int i = 0; i < s.o.nclients; i++)
        failed |= s.c[i].failed;
    if (!s.o.script)
        ac_report(&s, elapsed);
    else if (timed_out)
        printf("timeout\n");
    if (timed_out)
        fprintf(stderr, "qt_aclient: timed out after %d ms\n", s.o.timeout_ms);
    s.stop = 1; /* what closes now is our own doing: not reported */
    lws_context_destroy(s.ctx);
    for (int i = 0; i < s.o.nclients; i++) {
        free(s.c[i].rx);
        free(s.c[i].tx);
    }
    free(s.c);
    return failed ? 1 : 0;
}
