/* quotetape — the local Alpaca-compatible websocket server (see aserver.h).
 *
 * Sections: messages and the hand-over ring; clients, subscriptions and
 * queues; client actions; the libwebsockets callback; start/stop and the
 * public publishing calls.
 *
 * Ownership: a published message (as_msg) is allocated by the publisher and
 * handed to the service thread through the ring; from then on only the
 * service thread touches it. It is reference-counted (a plain int, service
 * thread only): one reference per client queue holding it, plus one while it
 * is being fanned out. Control frames (success, error, subscription) are
 * as_msg too, with one reference, holding a whole frame in the client's codec,
 * so they keep their place in that client's queue relative to data. */
#include "core/aserver.h"
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <msgpack.h>

#include "core/log.h"
#include "core/qtime.h"

#define AS_DEFAULT_BIND "127.0.0.1:8765"
#define AS_AUTH_TIMEOUT_NS (10 * QT_NS_PER_SEC)
#define AS_QUEUE_BYTES (8u * 1024u * 1024u)
#define AS_QUEUE_MSGS 100000u
#define AS_FRAME_MAX (256u * 1024u)
#define AS_RING_MSGS 65536u
#define AS_RX_MAX (256u * 1024u) /* one client action, reassembled */
#define AS_QUERY_MAX 1024
#define AS_CLOSE_GRACE_S 3 /* a closing client that cannot take its last frame */

/* The subscription lists, in Alpaca's order; the first three filter data. */
#define AS_NLISTS 9
static const char *const as_list_keys[AS_NLISTS] = {"trades",      "quotes",      "bars",
                                                    "updatedBars", "dailyBars",   "statuses",
                                                    "lulds",       "corrections", "cancelErrors"};
enum { AS_L_TRADES = 0, AS_L_QUOTES = 1, AS_L_BARS = 2 };

/* ======================================================================
 * messages and the hand-over ring
 * ====================================================================== */

typedef struct as_msg {
    int refs;
    int control;     /* a whole frame for one client, in that client's codec */
    int list;        /* AS_L_* for data */
    int binary;      /* control: msgpack frame */
    uint64_t target; /* 0 = every shared client; else that client only */
    char sym[QT_SYMBOL_MAX];
    qt_msg_type type;
    union {
        qt_quote q;
        qt_trade t;
        qt_bar b;
    } u;
    char *json; /* data: the object; control: the frame */
    size_t json_len;
    char *mp; /* msgpack object (data, encoded on first need) or frame */
    size_t mp_len;
    int mp_failed;
    int fail_code; /* control with a target: close that client with this code */
} as_msg;

static void as_msg_free(as_msg *m)
{
    if (!m)
        return;
    free(m->json);
    free(m->mp);
    free(m);
}

static void as_msg_unref(as_msg *m)
{
    if (m && --m->refs <= 0)
        as_msg_free(m);
}

/* Takes b's bytes as a malloc'd block (b is left empty). */
static char *as_steal(qt_buf *b, size_t *len)
{
    char *p = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}

/* The msgpack bytes of a data message, encoded on first need (service
 * thread). Returns 0 if the message cannot be encoded (counted, skipped). */
static int as_msg_mp(as_msg *m)
{
    if (m->mp)
        return 1;
    if (m->mp_failed)
        return 0;
    qt_buf b;
    qt_err rc;
    qt_buf_init(&b, 0);
    if (m->type == QT_MSG_QUOTE)
        rc = qt_quote_to_msgpack(&m->u.q, &b);
    else if (m->type == QT_MSG_TRADE)
        rc = qt_trade_to_msgpack(&m->u.t, &b);
    else
        rc = qt_bar_to_msgpack(&m->u.b, &b);
    if (rc || !b.data) {
        qt_buf_release(&b);
        m->mp_failed = 1;
        return 0;
    }
    m->mp = as_steal(&b, &m->mp_len);
    return 1;
}

/* ======================================================================
 * the server and its clients
 * ====================================================================== */

typedef struct as_list {
    char **syms; /* sorted, strdup'd */
    size_t n, alloc;
    int wild; /* holds "*" */
} as_list;

typedef struct as_client {
    /* filled in by the filter callback (lws-owned session memory) */
    char path[32];
    char query[AS_QUERY_MAX];
    int msgpack;
    int opened; /* ESTABLISHED ran: the fields below are live */

    struct lws *wsi;
    uint64_t id;
    int authed, priv;
    int closing;    /* Alpaca code of the error it is being closed with */
    int close_sent; /* the last frame has been written */
    as_list lists[AS_NLISTS];
    as_msg **q; /* ring of queued messages */
    size_t qhead, qlen, qcap, qbytes;
    int want_write;
    char *rx;
    size_t rxlen;
    int rx_bad; /* the frame being reassembled passed AS_RX_MAX */
    unsigned char *tx;
    size_t txcap;
    struct as_client *prev, *next;
} as_client;

struct qt_aserver {
    qt_aserver_cfg cfg;
    char *key, *secret;
    char host[64];
    int port;
    struct lws_context *ctx;
    pthread_t thread;
    int thread_started;

    /* the hand-over ring; producers and the service thread */
    pthread_mutex_t mu;
    pthread_cond_t notfull;
    as_msg **ring;
    size_t rhead, rlen, rcap;
    int stopping;

    /* service thread only */
    as_client *clients;
    uint64_t next_id;
    as_msg **scratch;          /* drained ring entries */
    qt_subscription *subframe; /* for building subscription replies */
    char reply[256];           /* an OPEN event's rejection message */

    /* counters, any thread */
    atomic_uint_fast64_t st_clients_now, st_clients_total, st_published, st_delivered, st_frames,
        st_bytes, st_slow, st_auth_failed, st_auth_timeouts, st_bad_syntax, st_dropped_private;
    atomic_uint_fast64_t queued; /* messages in client queues */
};

static void as_inc(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void as_dec(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}

static void as_event(qt_aserver *s, as_client *c, qt_as_event_kind kind, int *ret)
{
    if (!s->cfg.on_event)
        return;
    qt_as_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.client = c->id;
    ev.path = c->path;
    ev.query = c->query;
    ev.msgpack = c->msgpack;
    for (int k = 0; k < AS_NLISTS; k++)
        ev.nsyms += c->lists[k].n;
    ev.close_code = c->closing;
    if (kind == QT_AS_OPEN) {
        s->reply[0] = '\0';
        ev.reply = s->reply;
        ev.replysz = sizeof s->reply;
    }
    int r = s->cfg.on_event(&ev, s->cfg.ud);
    if (ret)
        *ret = r;
}

/* ---- subscription lists ---------------------------------------------- */

static int as_list_find(const as_list *l, const char *sym, size_t *at)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(l->syms[mid], sym);
        if (c == 0) {
            *at = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return 0;
}

static qt_err as_list_add(as_list *l, const char *sym)
{
    size_t at;
    if (as_list_find(l, sym, &at))
        return QT_OK;
    if (l->n == l->alloc) {
        size_t na = l->alloc ? l->alloc * 2 : 8;
        char **p = realloc(l->syms, na * sizeof *p);
        if (!p)
            return QT_ENOMEM;
        l->syms = p;
        l->alloc = na;
    }
    char *d = strdup(sym);
    if (!d)
        return QT_ENOMEM;
    memmove(l->syms + at + 1, l->syms + at, (l->n - at) * sizeof *l->syms);
    l->syms[at] = d;
    l->n++;
    l->wild = as_list_find(l, "*", &at);
    return QT_OK;
}

static void as_list_del(as_list *l, const char *sym)
{
    size_t at;
    if (!as_list_find(l, sym, &at))
        return;
    free(l->syms[at]);
    memmove(l->syms + at, l->syms + at + 1, (l->n - at - 1) * sizeof *l->syms);
    l->n--;
    l->wild = as_list_find(l, "*", &at);
}

static void as_list_release(as_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->syms[i]);
    free(l->syms);
    memset(l, 0, sizeof *l);
}

static int as_wants(const as_client *c, const as_msg *m)
{
    const as_list *l = &c->lists[m->list];
    size_t at;
    return l->wild || (l->n && as_list_find(l, m->sym, &at));
}

/* ---- client queues ---------------------------------------------------- */

static size_t as_msg_size(const as_client *c, const as_msg *m)
{
    return c->msgpack ? m->mp_len : m->json_len;
}

static as_msg *as_q_at(const as_client *c, size_t i)
{
    return c->q[(c->qhead + i) % c->qcap];
}

static qt_err as_q_push(qt_aserver *s, as_client *c, as_msg *m)
{
    if (c->qlen == c->qcap) {
        size_t nc = c->qcap ? c->qcap * 2 : 64;
        as_msg **p = malloc(nc * sizeof *p);
        if (!p)
            return QT_ENOMEM;
        for (size_t i = 0; i < c->qlen; i++)
            p[i] = as_q_at(c, i);
        free(c->q);
        c->q = p;
        c->qcap = nc;
        c->qhead = 0;
    }
    c->q[(c->qhead + c->qlen) % c->qcap] = m;
    c->qlen++;
    c->qbytes += as_msg_size(c, m);
    m->refs++;
    as_inc(&s->queued, 1);
    return QT_OK;
}

static void as_q_pop(qt_aserver *s, as_client *c, size_t n)
{
    for (size_t i = 0; i < n && c->qlen; i++) {
        as_msg *m = c->q[c->qhead];
        c->qbytes -= as_msg_size(c, m);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
        as_dec(&s->queued, 1);
        as_msg_unref(m);
    }
}

static void as_want_write(as_client *c)
{
    if (c->wsi && !c->want_write) {
        c->want_write = 1;
        lws_callback_on_writable(c->wsi);
    }
}

/* Queues a one-message control frame for c in its codec. */
static void as_control(qt_aserver *s, as_client *c, qt_err (*jf)(qt_buf *, const void *),
                       qt_err (*mf)(qt_buf *, const void *), const void *arg)
{
    as_msg *m = calloc(1, sizeof *m);
    qt_buf b;
    qt_buf_init(&b, 0);
    if (!m)
        return;
    m->control = 1;
    m->binary = c->msgpack;
    if ((c->msgpack ? mf(&b, arg) : jf(&b, arg)) || !b.data) {
        qt_buf_release(&b);
        free(m);
        return;
    }
    if (c->msgpack)
        m->mp = as_steal(&b, &m->mp_len);
    else
        m->json = as_steal(&b, &m->json_len);
    if (as_q_push(s, c, m))
        as_msg_free(m);
    as_want_write(c);
}

static qt_err as_success_j(qt_buf *b, const void *a)
{
    return qt_success_frame_json(a, b);
}
static qt_err as_success_m(qt_buf *b, const void *a)
{
    return qt_success_frame_msgpack(a, b);
}
static qt_err as_error_j(qt_buf *b, const void *a)
{
    int code = *(const int *)a;
    return qt_error_frame_json(code, qt_alpaca_error_text(code), b);
}
static qt_err as_error_m(qt_buf *b, const void *a)
{
    int code = *(const int *)a;
    return qt_error_frame_msgpack(code, qt_alpaca_error_text(code), b);
}
typedef struct as_err_arg {
    int code;
    const char *msg;
} as_err_arg;
static qt_err as_error_msg_j(qt_buf *b, const void *a)
{
    const as_err_arg *e = a;
    return qt_error_frame_json(e->code, e->msg, b);
}
static qt_err as_error_msg_m(qt_buf *b, const void *a)
{
    const as_err_arg *e = a;
    return qt_error_frame_msgpack(e->code, e->msg, b);
}
static qt_err as_sub_j(qt_buf *b, const void *a)
{
    return qt_subscription_frame_json(a, b);
}
static qt_err as_sub_m(qt_buf *b, const void *a)
{
    return qt_subscription_frame_msgpack(a, b);
}

static void as_send_success(qt_aserver *s, as_client *c, const char *msg)
{
    as_control(s, c, as_success_j, as_success_m, msg);
}

static void as_send_error(qt_aserver *s, as_client *c, int code)
{
    as_control(s, c, as_error_j, as_error_m, &code);
}

/* Sends error code and closes once it is written (or after a grace period
 * when the client does not read). Alpaca closes after these errors. */
static void as_fail_close(qt_aserver *s, as_client *c, int code)
{
    if (c->closing)
        return;
    as_send_error(s, c, code);
    c->closing = code;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, AS_CLOSE_GRACE_S);
}

/* The client cannot keep up: forget what it has not been sent, tell it 407,
 * close. What is already in its socket buffers still reaches it first. */
static void as_slow(qt_aserver *s, as_client *c)
{
    as_q_pop(s, c, c->qlen);
    as_inc(&s->st_slow, 1);
    qt_info("serve: client %llu is too slow (queue full): 407", (unsigned long long)c->id);
    as_fail_close(s, c, QT_ALPACA_SLOW_CLIENT);
}

/* Queues data message m for c if c wants it; 407 when c's queue is full. */
static void as_offer(qt_aserver *s, as_client *c, as_msg *m)
{
    if (c->closing || !c->authed || !as_wants(c, m))
        return;
    if (c->msgpack && !as_msg_mp(m))
        return;
    size_t sz = as_msg_size(c, m);
    if (c->qlen + 1 > s->cfg.queue_msgs || c->qbytes + sz > s->cfg.queue_bytes) {
        as_slow(s, c);
        return;
    }
    if (as_q_push(s, c, m)) {
        as_slow(s, c);
        return;
    }
    as_want_write(c);
}

static as_client *as_find(qt_aserver *s, uint64_t id)
{
    for (as_client *c = s->clients; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

/* Moves everything on the hand-over ring into client queues. */
static void as_drain_ring(qt_aserver *s)
{
    size_t n;
    pthread_mutex_lock(&s->mu);
    n = s->rlen;
    for (size_t i = 0; i < n; i++)
        s->scratch[i] = s->ring[(s->rhead + i) % s->rcap];
    s->rhead = (s->rhead + n) % s->rcap;
    s->rlen = 0;
    pthread_cond_broadcast(&s->notfull);
    pthread_mutex_unlock(&s->mu);

    for (size_t i = 0; i < n; i++) {
        as_msg *m = s->scratch[i];
        m->refs = 1;
        if (m->control) {
            as_client *c = as_find(s, m->target);
            if (c && !c->closing && !as_q_push(s, c, m)) {
                c->closing = m->fail_code;
                lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, AS_CLOSE_GRACE_S);
                as_want_write(c);
            }
        } else if (m->target) {
            as_client *c = as_find(s, m->target);
            if (c)
                as_offer(s, c, m);
            else
                as_inc(&s->st_dropped_private, 1);
        } else {
            for (as_client *c = s->clients; c; c = c->next)
                if (!c->priv)
                    as_offer(s, c, m);
        }
        as_msg_unref(m);
    }
}

/* Writes the head of c's queue: one control frame, or as many data messages
 * as fit in frame_max as one frame. Returns -1 to close the connection. */
static int as_write(qt_aserver *s, as_client *c)
{
    c->want_write = 0;
    if (!c->qlen) {
        if (c->closing) {
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    }
    as_msg *h = as_q_at(c, 0);
    size_t n = 0, len = 0;
    const size_t hdr = 5; /* room for a msgpack array header */
    if (h->control) {
        n = 1;
        len = c->msgpack ? h->mp_len : h->json_len;
    } else {
        while (n < c->qlen) {
            as_msg *m = as_q_at(c, n);
            size_t sz = as_msg_size(c, m) + 1;
            if (m->control || (n && len + sz + 2 > s->cfg.frame_max))
                break;
            len += sz;
            n++;
        }
        len += 2;
    }
    size_t need = LWS_PRE + hdr + len + 1;
    if (need > c->txcap) {
        unsigned char *p = realloc(c->tx, need);
        if (!p)
            return -1;
        c->tx = p;
        c->txcap = need;
    }
    unsigned char *body = c->tx + LWS_PRE + hdr, *start = body;
    size_t w = 0;
    if (h->control) {
        memcpy(body, c->msgpack ? h->mp : h->json, len);
        w = len;
    } else if (c->msgpack) {
        for (size_t i = 0; i < n; i++) {
            as_msg *m = as_q_at(c, i);
            memcpy(body + w, m->mp, m->mp_len);
            w += m->mp_len;
        }
        if (n < 16) {
            *--start = (unsigned char)(0x90 | n);
        } else if (n < 65536) {
            *--start = (unsigned char)(n & 0xff);
            *--start = (unsigned char)(n >> 8);
            *--start = 0xdc;
        } else {
            for (int k = 0; k < 4; k++)
                *--start = (unsigned char)((n >> (8 * k)) & 0xff);
            *--start = 0xdd;
        }
        w += (size_t)(body - start);
    } else {
        body[w++] = '[';
        for (size_t i = 0; i < n; i++) {
            as_msg *m = as_q_at(c, i);
            if (i)
                body[w++] = ',';
            memcpy(body + w, m->json, m->json_len);
            w += m->json_len;
        }
        body[w++] = ']';
    }
    int r = lws_write(c->wsi, start, w, c->msgpack ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (r < (int)w)
        return -1;
    if (!h->control) {
        as_inc(&s->st_delivered, n);
        as_inc(&s->st_frames, 1);
        as_inc(&s->st_bytes, w);
    }
    as_q_pop(s, c, n);
    if (c->qlen || c->closing)
        as_want_write(c);
    return 0;
}

/* ======================================================================
 * client actions
 * ====================================================================== */

/* A msgpack object as a cJSON tree (maps with string keys, arrays, strings,
 * numbers, booleans, nil), so one handler reads both codecs. NULL if it has
 * anything else or nests deeper than 8. */
static cJSON *as_mp_to_json(const msgpack_object *o, int depth)
{
    if (depth > 8)
        return NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return cJSON_CreateNull();
    case MSGPACK_OBJECT_BOOLEAN: return cJSON_CreateBool(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return cJSON_CreateNumber((double)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return cJSON_CreateNumber((double)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return cJSON_CreateNumber(o->via.f64);
    case MSGPACK_OBJECT_STR: {
        char *t = malloc(o->via.str.size + 1);
        if (!t)
            return NULL;
        memcpy(t, o->via.str.ptr, o->via.str.size);
        t[o->via.str.size] = '\0';
        cJSON *j = strlen(t) == o->via.str.size ? cJSON_CreateString(t) : NULL;
        free(t);
        return j;
    }
    case MSGPACK_OBJECT_ARRAY: {
        cJSON *a = cJSON_CreateArray();
        for (uint32_t i = 0; a && i < o->via.array.size; i++) {
            cJSON *e = as_mp_to_json(&o->via.array.ptr[i], depth + 1);
            if (!e) {
                cJSON_Delete(a);
                return NULL;
            }
            cJSON_AddItemToArray(a, e);
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        cJSON *m = cJSON_CreateObject();
        for (uint32_t i = 0; m && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            cJSON *e =
                kv->key.type == MSGPACK_OBJECT_STR ? as_mp_to_json(&kv->val, depth + 1) : NULL;
            char key[64];
            if (!e || kv->key.via.str.size >= sizeof key) {
                cJSON_Delete(e);
                cJSON_Delete(m);
                return NULL;
            }
            memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
            key[kv->key.via.str.size] = '\0';
            cJSON_AddItemToObject(m, key, e);
        }
        return m;
    }
    default: return NULL;
    }
}

static cJSON *as_parse_action(const char *buf, size_t len, int binary)
{
    if (!binary)
        return cJSON_ParseWithLength(buf, len);
    msgpack_unpacked u;
    size_t off = 0;
    cJSON *j = NULL;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        j = as_mp_to_json(&u.data, 0);
    msgpack_unpacked_destroy(&u);
    return j;
}

/* Equal strings in time that does not depend on where they differ. */
static int as_secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return d == 0;
}

static void as_reply_subscription(qt_aserver *s, as_client *c)
{
    qt_subscription *f = s->subframe;
    qt_sublist *dst[AS_NLISTS] = {&f->trades,       &f->quotes,      &f->bars,
                                  &f->updated_bars, &f->daily_bars,  &f->statuses,
                                  &f->lulds,        &f->corrections, &f->cancel_errors};
    for (int k = 0; k < AS_NLISTS; k++) {
        dst[k]->n = c->lists[k].n;
        for (size_t i = 0; i < c->lists[k].n; i++)
            dst[k]->syms[i] = c->lists[k].syms[i];
    }
    as_control(s, c, as_sub_j, as_sub_m, f);
}

/* Applies a subscribe (add = 1) or unsubscribe. Returns 0, or the Alpaca
 * error code to send. All lists are checked before any is changed. */
static int as_subscribe(as_client *c, const cJSON *j, int add)
{
    for (int k = 0; k < AS_NLISTS; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, as_list_keys[k]);
        if (!a)
            continue;
        if (!cJSON_IsArray(a))
            return QT_ALPACA_INVALID_SYNTAX;
        size_t fresh = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, a)
        {
            size_t at;
            if (!cJSON_IsString(e) || !e->valuestring[0] || strlen(e->valuestring) >= QT_SYMBOL_MAX)
                return QT_ALPACA_INVALID_SYNTAX;
            if (add && !as_list_find(&c->lists[k], e->valuestring, &at))
                fresh++;
        }
        if (add && c->lists[k].n + fresh > QT_SUB_MAX)
            return QT_ALPACA_SYMBOL_LIMIT;
    }
    for (int k = 0; k < AS_NLISTS; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, as_list_keys[k]), *e;
        if (!a)
            continue;
        cJSON_ArrayForEach(e, a)
        {
            if (!add)
                as_list_del(&c->lists[k], e->valuestring);
            else if (as_list_add(&c->lists[k], e->valuestring))
                return QT_ALPACA_INTERNAL_ERROR;
        }
    }
    return 0;
}

/* Handles one complete client message (an action object, or an array of
 * them as some clients send). */
static void as_handle(qt_aserver *s, as_client *c, const char *buf, size_t len, int binary)
{
    cJSON *root = as_parse_action(buf, len, binary);
    const cJSON *items[64];
    size_t n = 0;
    if (root && cJSON_IsArray(root)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, root)
        {
            if (n == sizeof items / sizeof *items)
                break;
            items[n++] = e;
        }
    } else if (root) {
        items[n++] = root;
    }
    if (!n) {
        as_inc(&s->st_bad_syntax, 1);
        as_send_error(s, c, QT_ALPACA_INVALID_SYNTAX);
    }
    for (size_t i = 0; i < n && !c->closing; i++) {
        const cJSON *j = items[i];
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "action");
        const char *a = cJSON_IsString(act) ? act->valuestring : NULL;
        if (!cJSON_IsObject(j) || !a) {
            as_inc(&s->st_bad_syntax, 1);
            as_send_error(s, c, QT_ALPACA_INVALID_SYNTAX);
        } else if (strcmp(a, "auth") == 0) {
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(j, "secret");
            if (c->authed) {
                as_send_error(s, c, QT_ALPACA_ALREADY_AUTHENTICATED);
            } else if (!cJSON_IsString(k) || !cJSON_IsString(sec)) {
                as_inc(&s->st_bad_syntax, 1);
                as_send_error(s, c, QT_ALPACA_INVALID_SYNTAX);
            } else if (s->key && !(as_secret_eq(k->valuestring, s->key) &
                                   as_secret_eq(sec->valuestring, s->secret))) {
                as_inc(&s->st_auth_failed, 1);
                as_fail_close(s, c, QT_ALPACA_AUTH_FAILED);
            } else {
                c->authed = 1;
                lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
                as_send_success(s, c, "authenticated");
                as_event(s, c, QT_AS_AUTH, NULL);
            }
        } else if (strcmp(a, "subscribe") == 0 || strcmp(a, "unsubscribe") == 0) {
            if (!c->authed) {
                as_fail_close(s, c, QT_ALPACA_NOT_AUTHENTICATED);
                continue;
            }
            int code = as_subscribe(c, j, a[0] == 's');
            if (code == QT_ALPACA_INVALID_SYNTAX)
                as_inc(&s->st_bad_syntax, 1);
            if (code) {
                as_send_error(s, c, code);
            } else {
                as_reply_subscription(s, c);
                as_event(s, c, QT_AS_SUBSCRIBE, NULL);
            }
        } else {
            as_inc(&s->st_bad_syntax, 1);
            as_send_error(s, c, QT_ALPACA_INVALID_SYNTAX);
        }
    }
    cJSON_Delete(root);
}

/* ======================================================================
 * the libwebsockets callback
 * ====================================================================== */

static int as_path_ok(const char *p)
{
    static const char *const paths[] = {"/v2/iex", "/v2/sip", "/v2/delayed_sip", "/v2/test"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (strcmp(p, paths[i]) == 0)
            return 1;
    return 0;
}

/* Reads path, query and codec from the upgrade request; 0 to accept. */
static int as_filter(struct lws *wsi, as_client *c)
{
    char ct[128];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) >= (int)sizeof c->path ||
        lws_hdr_copy(wsi, c->path, sizeof c->path, WSI_TOKEN_GET_URI) < 0)
        return 1;
    char *qm = strchr(c->path, '?');
    if (qm)
        *qm = '\0';
    size_t plen = strlen(c->path);
    while (plen > 1 && c->path[plen - 1] == '/')
        c->path[--plen] = '\0';
    if (!as_path_ok(c->path))
        return 1;
    /* lws keeps the query as percent-decoded fragments (split at '&', '+'
     * turned into ' '); join them back with '&' and keep '+' a '+', since
     * positions like from=+5m use it and no value we read holds a space. */
    c->query[0] = '\0';
    size_t ql = 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) >= AS_QUERY_MAX - 64)
        return 1; /* query too long */
    for (int i = 0; lws_hdr_copy_fragment(wsi, c->query + ql, (int)(sizeof c->query - ql),
                                          WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
         i++) {
        size_t fl = strlen(c->query + ql);
        for (size_t k = 0; k < fl; k++)
            if (c->query[ql + k] == ' ')
                c->query[ql + k] = '+';
        ql += fl;
        if (ql + 2 >= sizeof c->query)
            return 1; /* query too long */
        c->query[ql++] = '&';
        c->query[ql] = '\0';
    }
    if (ql && c->query[ql - 1] == '&')
        c->query[--ql] = '\0';
    c->msgpack = 0;
    if (lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) > 0)
        c->msgpack = strncasecmp(ct, "application/msgpack", 19) == 0;
    return 0;
}

static void as_client_release(qt_aserver *s, as_client *c)
{
    as_q_pop(s, c, c->qlen);
    free(c->q);
    free(c->rx);
    free(c->tx);
    for (int k = 0; k < AS_NLISTS; k++)
        as_list_release(&c->lists[k]);
    if (c->prev)
        c->prev->next = c->next;
    else if (s->clients == c)
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->opened = 0;
}

static int as_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    qt_aserver *s = lws_context_user(lws_get_context(wsi));
    as_client *c = user;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (s)
            as_drain_ring(s);
        return 0;

    case LWS_CALLBACK_HTTP:
        /* plain HTTP on a stream path or elsewhere: not found */
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
            return -1;
        return lws_http_transaction_completed(wsi);

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return c ? as_filter(wsi, c) : 1;

    case LWS_CALLBACK_ESTABLISHED: {
        c->wsi = wsi;
        c->id = ++s->next_id;
        c->opened = 1;
        c->next = s->clients;
        if (s->clients)
            s->clients->prev = c;
        s->clients = c;
        as_inc(&s->st_clients_now, 1);
        as_inc(&s->st_clients_total, 1);
        int priv = QT_AS_SHARED;
        as_event(s, c, QT_AS_OPEN, &priv);
        c->priv = priv != QT_AS_SHARED;
        qt_debug("serve: client %llu opened %s%s%s (%s)", (unsigned long long)c->id, c->path,
                 c->query[0] ? "?" : "", c->query, c->msgpack ? "msgpack" : "json");
        as_send_success(s, c, "connected");
        if (priv == QT_AS_REJECT) {
            as_err_arg ea = {QT_ALPACA_INVALID_SYNTAX, s->reply[0] ? s->reply : "invalid URL"};
            qt_info("serve: client %llu refused: %s", (unsigned long long)c->id, ea.msg);
            as_control(s, c, as_error_msg_j, as_error_msg_m, &ea);
            c->closing = QT_ALPACA_INVALID_SYNTAX;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, AS_CLOSE_GRACE_S);
            return 0;
        }
        lws_set_timer_usecs(wsi, (lws_usec_t)(s->cfg.auth_timeout_ns / 1000));
        return 0;
    }

    case LWS_CALLBACK_TIMER:
        if (c && c->opened && !c->authed && !c->closing) {
            as_inc(&s->st_auth_timeouts, 1);
            as_fail_close(s, c, QT_ALPACA_AUTH_TIMEOUT);
        }
        return 0;

    case LWS_CALLBACK_RECEIVE: {
        if (!c || !c->opened)
            return -1;
        if (c->closing)
            return 0;
        int first = lws_is_first_fragment(wsi), last = lws_is_final_fragment(wsi);
        if (first) {
            c->rxlen = 0;
            c->rx_bad = 0;
        }
        if (!c->rx_bad && c->rxlen + len > AS_RX_MAX)
            c->rx_bad = 1;
        if (!c->rx_bad && len) {
            char *p = realloc(c->rx, c->rxlen + len + 1);
            if (!p)
                return -1;
            c->rx = p;
            memcpy(c->rx + c->rxlen, in, len);
            c->rxlen += len;
        }
        if (!last)
            return 0;
        if (c->rx_bad) {
            as_inc(&s->st_bad_syntax, 1);
            as_send_error(s, c, QT_ALPACA_INVALID_SYNTAX);
        } else {
            as_handle(s, c, c->rx ? c->rx : "", c->rxlen, lws_frame_is_binary(wsi));
        }
        c->rxlen = 0;
        return 0;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c || !c->opened)
            return 0;
        return as_write(s, c);

    case LWS_CALLBACK_CLOSED:
        if (c && c->opened) {
            as_event(s, c, QT_AS_CLOSE, NULL);
            qt_debug("serve: client %llu closed", (unsigned long long)c->id);
            as_dec(&s->st_clients_now, 1);
            as_client_release(s, c);
        }
        return 0;

    default: return 0;
    }
}

static const struct lws_protocols as_protocols[] = {
    {"alpaca", as_callback, sizeof(as_client), 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ======================================================================
 * start, stop, publish
 * ====================================================================== */


static void *as_thread(void *arg)
{
    qt_aserver *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        if (lws_service(s->ctx, 0) < 0)
            break;
    }
    return NULL;
}

static void as_free_parts(qt_aserver *s)
{
    free(s->ring);
    free(s->scratch);
    free(s->subframe);
    free(s->key);
    free(s->secret);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->notfull);
    free(s);
}

qt_err qt_aserver_start(const qt_aserver_cfg *cfg, qt_aserver **out, char *err, size_t errsz)
{
    int port, loop;
    char host[64];
    *out = NULL;
    qt_err rc = qt_net_parse_bind(cfg->bind ? cfg->bind : AS_DEFAULT_BIND, host, sizeof host,
                                      &port, &loop, err, errsz);
    if (rc)
        return rc;
    if (!loop && !cfg->allow_remote)
        return qt_fail(QT_EUSAGE, err, errsz,
                       "refusing to serve on '%s': not a loopback address (allow it explicitly)",
                       host);
    if (!cfg->key != !cfg->secret)
        return qt_fail(QT_EUSAGE, err, errsz, "a serve key needs a secret and a secret a key");

    rc = qt_net_probe_bind(strcmp(host, "localhost") ? host : "127.0.0.1", port, err, errsz);
    if (rc)
        return rc;

    qt_aserver *s = calloc(1, sizeof *s);
    if (!s)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->notfull, NULL);
    s->cfg = *cfg;
    s->cfg.bind = NULL;
    s->cfg.key = s->cfg.secret = NULL;
    if (!s->cfg.auth_timeout_ns)
        s->cfg.auth_timeout_ns = AS_AUTH_TIMEOUT_NS;
    if (!s->cfg.queue_bytes)
        s->cfg.queue_bytes = AS_QUEUE_BYTES;
    if (!s->cfg.queue_msgs)
        s->cfg.queue_msgs = AS_QUEUE_MSGS;
    if (!s->cfg.frame_max)
        s->cfg.frame_max = AS_FRAME_MAX;
    if (!s->cfg.ring_msgs)
        s->cfg.ring_msgs = AS_RING_MSGS;
    snprintf(s->host, sizeof s->host, "%s", strcmp(host, "localhost") ? host : "127.0.0.1");
    s->rcap = s->cfg.ring_msgs;
    s->ring = calloc(s->rcap, sizeof *s->ring);
    s->scratch = calloc(s->rcap, sizeof *s->scratch);
    s->subframe = calloc(1, sizeof *s->subframe);
    if (cfg->key) {
        s->key = strdup(cfg->key);
        s->secret = strdup(cfg->secret);
    }
    if (!s->ring || !s->scratch || !s->subframe || (cfg->key && (!s->key || !s->secret))) {
        as_free_parts(s);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }

    if ((rc = qt_net_listen(s->host, port, as_protocols, s, &s->ctx, &s->port, err, errsz))) {
        as_free_parts(s);
        return rc;
    }
    if (pthread_create(&s->thread, NULL, as_thread, s)) {
        lws_context_destroy(s->ctx);
        as_free_parts(s);
        return qt_fail(QT_ENOMEM, err, errsz, "cannot start the serve thread");
    }
    s->thread_started = 1;
    qt_info("serve: listening on ws://%s:%d/v2/{iex,sip,delayed_sip,test}", host, s->port);
    *out = s;
    return QT_OK;
}

int qt_aserver_port(const qt_aserver *s)
{
    return s ? s->port : -1;
}

/* Hands n messages to the service thread in one go (they land in client
 * queues together, so they travel in one frame when the client is idle).
 * Waits while the ring is full. Takes ownership of ms[0..n) in every case. */
static qt_err as_push(qt_aserver *s, as_msg **ms, size_t n)
{
    size_t i = 0;
    int wake = 0, busy = 0;
    /* the service thread itself (an event callback) must never wait for
     * itself to drain the ring */
    int self = s->thread_started && pthread_equal(pthread_self(), s->thread);
    pthread_mutex_lock(&s->mu);
    while (i < n) {
        if (self && s->rlen == s->rcap) {
            busy = 1;
            break;
        }
        while (!s->stopping && s->rlen == s->rcap) {
            if (wake) {
                lws_cancel_service(s->ctx);
                wake = 0;
            }
            pthread_cond_wait(&s->notfull, &s->mu);
        }
        if (s->stopping)
            break;
        if (s->rlen == 0)
            wake = 1;
        s->ring[(s->rhead + s->rlen) % s->rcap] = ms[i++];
        s->rlen++;
    }
    pthread_mutex_unlock(&s->mu);
    if (wake)
        lws_cancel_service(s->ctx);
    as_inc(&s->st_published, i);
    for (size_t k = i; k < n; k++)
        as_msg_free(ms[k]);
    return i == n ? QT_OK : busy ? QT_EBUSY : QT_EINTR;
}

/* Builds the as_msg for m (JSON and, for msgpack raw, msgpack bytes). */
static qt_err as_msg_make(const qt_msg *m, uint64_t target, as_msg **out)
{
    as_msg *a = calloc(1, sizeof *a);
    qt_buf b;
    qt_err rc = QT_OK;
    if (!a)
        return QT_ENOMEM;
    a->target = target;
    a->type = m->type;
    qt_buf_init(&b, 0);
    switch (m->type) {
    case QT_MSG_QUOTE:
        a->list = AS_L_QUOTES;
        a->u.q = m->u.quote;
        memcpy(a->sym, m->u.quote.symbol, sizeof a->sym);
        break;
    case QT_MSG_TRADE:
        a->list = AS_L_TRADES;
        a->u.t = m->u.trade;
        memcpy(a->sym, m->u.trade.symbol, sizeof a->sym);
        break;
    case QT_MSG_BAR:
        a->list = AS_L_BARS;
        a->u.b = m->u.bar;
        memcpy(a->sym, m->u.bar.symbol, sizeof a->sym);
        break;
    default: free(a); return QT_EINVAL;
    }
    a->sym[sizeof a->sym - 1] = '\0';
    int raw_json = m->raw && m->raw_len && m->raw[0] == '{';
    if (raw_json) {
        rc = qt_buf_append(&b, m->raw, m->raw_len);
    } else {
        if (m->raw && m->raw_len) {
            a->mp = malloc(m->raw_len);
            if (!a->mp) {
                free(a);
                return QT_ENOMEM;
            }
            memcpy(a->mp, m->raw, m->raw_len);
            a->mp_len = m->raw_len;
        }
        if (m->type == QT_MSG_QUOTE)
            rc = qt_quote_to_json(&a->u.q, &b);
        else if (m->type == QT_MSG_TRADE)
            rc = qt_trade_to_json(&a->u.t, &b);
        else
            rc = qt_bar_to_json(&a->u.b, &b);
    }
    if (rc || !b.data) {
        qt_buf_release(&b);
        as_msg_free(a);
        return rc ? rc : QT_EINVAL;
    }
    a->json = as_steal(&b, &a->json_len);
    *out = a;
    return QT_OK;
}

static qt_err as_publish_one(qt_aserver *s, uint64_t target, const qt_msg *m)
{
    as_msg *a;
    qt_err rc = as_msg_make(m, target, &a);
    if (rc)
        return rc;
    return as_push(s, &a, 1);
}

qt_err qt_aserver_publish_msg(qt_aserver *s, const qt_msg *m)
{
    return as_publish_one(s, 0, m);
}

qt_err qt_aserver_publish_msg_to(qt_aserver *s, uint64_t client, const qt_msg *m)
{
    if (!client)
        return QT_EINVAL;
    return as_publish_one(s, client, m);
}

qt_err qt_aserver_publish_quote(qt_aserver *s, const qt_quote *q, const char *raw_json,
                                size_t raw_len)
{
    qt_msg m;
    memset(&m, 0, sizeof m);
    m.type = QT_MSG_QUOTE;
    m.u.quote = *q;
    if (raw_json && raw_len && raw_json[0] == '{') {
        m.raw = raw_json;
        m.raw_len = raw_len;
    }
    return as_publish_one(s, 0, &m);
}

qt_err qt_aserver_publish_msgs(qt_aserver *s, const qt_msg *ms, size_t n)
{
    as_msg *stack[64], **v = n <= 64 ? stack : malloc(n * sizeof *v);
    qt_err rc = QT_OK;
    size_t k = 0;
    if (!v)
        return QT_ENOMEM;
    for (; k < n && !rc; k++)
        rc = as_msg_make(&ms[k], 0, &v[k]);
    if (rc) {
        for (size_t i = 0; i + 1 < k; i++)
            as_msg_free(v[i]);
    } else {
        rc = as_push(s, v, n);
    }
    if (v != stack)
        free(v);
    return rc;
}

static qt_err as_publish_json(qt_aserver *s, uint64_t target, const char *json, size_t len,
                              char *err, size_t errsz)
{
    qt_msg m;
    qt_err rc = qt_msg_parse_json(json, len, 0, &m, err, errsz);
    if (rc)
        return rc;
    if (m.type != QT_MSG_QUOTE && m.type != QT_MSG_TRADE && m.type != QT_MSG_BAR)
        return qt_fail(QT_EINVAL, err, errsz, "cannot serve a message of type '%s'", m.T);
    return as_publish_one(s, target, &m);
}

qt_err qt_aserver_publish_json(qt_aserver *s, const char *json, size_t len, char *err, size_t errsz)
{
    return as_publish_json(s, 0, json, len, err, errsz);
}

qt_err qt_aserver_publish_json_to(qt_aserver *s, uint64_t client, const char *json, size_t len,
                                  char *err, size_t errsz)
{
    if (!client)
        return qt_fail(QT_EINVAL, err, errsz, "client id 0");
    return as_publish_json(s, client, json, len, err, errsz);
}

qt_err qt_aserver_fail_client(qt_aserver *s, uint64_t client, int code, const char *msg)
{
    as_msg *a;
    qt_buf b;
    qt_err rc;
    if (!client)
        return QT_EINVAL;
    if (!msg)
        msg = qt_alpaca_error_text(code);
    if (!(a = calloc(1, sizeof *a)))
        return QT_ENOMEM;
    a->control = 1;
    a->target = client;
    a->fail_code = code;
    /* the client's codec is not known here: make both frames */
    qt_buf_init(&b, 0);
    rc = qt_error_frame_json(code, msg, &b);
    a->json = as_steal(&b, &a->json_len);
    if (!rc)
        rc = qt_error_frame_msgpack(code, msg, &b);
    a->mp = as_steal(&b, &a->mp_len);
    if (rc || !a->json || !a->mp) {
        as_msg_free(a);
        return rc ? rc : QT_ENOMEM;
    }
    return as_push(s, &a, 1);
}

int qt_aserver_query_get(const char *query, const char *name, char *val, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t fl = amp ? (size_t)(amp - p) : strlen(p);
        if (fl > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = fl - nl - 1;
            if (vl >= n)
                return -1;
            memcpy(val, p + nl + 1, vl);
            val[vl] = '\0';
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

static uint64_t as_get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void qt_aserver_get_stats(qt_aserver *s, qt_aserver_stats *st)
{
    memset(st, 0, sizeof *st);
    st->clients_now = as_get(&s->st_clients_now);
    st->clients_total = as_get(&s->st_clients_total);
    st->published = as_get(&s->st_published);
    st->delivered = as_get(&s->st_delivered);
    st->frames = as_get(&s->st_frames);
    st->bytes = as_get(&s->st_bytes);
    st->slow = as_get(&s->st_slow);
    st->auth_failed = as_get(&s->st_auth_failed);
    st->auth_timeouts = as_get(&s->st_auth_timeouts);
    st->bad_syntax = as_get(&s->st_bad_syntax);
    st->dropped_private = as_get(&s->st_dropped_private);
}

qt_err qt_aserver_drain(qt_aserver *s, int timeout_ms)
{
    int64_t end = qt_mono_ns() + (int64_t)timeout_ms * QT_NS_PER_MS;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t r = s->rlen;
        pthread_mutex_unlock(&s->mu);
        if (!r && as_get(&s->queued) == 0)
            return QT_OK;
        if (qt_mono_ns() >= end)
            return QT_ETIMEOUT;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void qt_aserver_free(qt_aserver *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->notfull);
    pthread_mutex_unlock(&s->mu);
    lws_cancel_service(s->ctx);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    /* Closes every connection; CLOSED callbacks run here, on this thread,
     * now that the service thread is gone. */
    lws_context_destroy(s->ctx);
    for (size_t i = 0; i < s->rlen; i++)
        as_msg_free(s->ring[(s->rhead + i) % s->rcap]);
    as_free_parts(s);
}
