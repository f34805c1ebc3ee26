/* qt_testalpaca — a scripted Alpaca market-data server for tests, and small
 * tape/broker helpers the recorder tests need.
 *
 *   qt_testalpaca serve [options]    websocket server on 127.0.0.1
 *   qt_testalpaca count DB           number of quotes in a tape
 *   qt_testalpaca dump DB            "symbol<TAB>ts_ms<TAB>raw" per quote, tape order
 *   qt_testalpaca broker FILE        embedded broker; bootstrap written to FILE;
 *                                    SIGUSR1 takes broker 1 down, SIGUSR2 up
 *
 * The server speaks the documented protocol: on connect it sends
 * [{"T":"success","msg":"connected"}]; it answers {"action":"auth",...} with
 * "authenticated" (or 402 for a wrong key/secret, 406 when another
 * connection already holds the key), and {"action":"subscribe",...} with the
 * subscription reply, then streams quotes for the subscribed symbols. Every
 * quote it writes to a socket is appended (raw JSON, one per line) to the
 * --sent file, so a test can compare what a client recorded with what was
 * sent. The quote sequence continues across connections. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "core/broker.h"
#include "core/qtime.h"
#include "core/tape.h"

/* ------------------------------------------------------------------------ */
/* Options and shared state                                                  */
/* ------------------------------------------------------------------------ */

enum {
    SC_NORMAL,
    SC_BATCH,
    SC_FRAGMENT,
    SC_DISCONNECT,
    SC_MALFORMED,
    SC_SILENT,
    SC_SLOW,
    SC_ERROR,
    SC_BENCH
};

static const char *const sc_names[] = {"normal", "batch",  "fragment", "disconnect", "malformed",
                                       "silent", "slow",   "error",    "bench"};

#define TA_MAXSYM 64
#define TA_FRAME_CAP (8u * 1024u * 1024u)

typedef struct ta_conf {
    int scenario;
    const char *key, *secret;
    long long count;       /* quotes to send in all */
    int per_frame;         /* quotes per frame; 0 = 1..3 varying */
    long long at;          /* disconnect / silent / 407 / malformed point */
    int error_code;        /* scenario error */
    long long oversize;    /* size of the oversize frame (malformed) */
    long long rate;        /* quotes per second; 0 = as fast as the client reads */
    const char *sent_path; /* --sent */
    const char *stats_path;
    const char *port_file;
    int port;
    unsigned seed;
} ta_conf;

typedef struct ta_pss ta_pss;

typedef struct ta_state {
    ta_conf c;
    FILE *sent;
    long long next;        /* index of the next quote to generate */
    long long sent_count;  /* quotes written to sockets */
    int connections, auth_ok, rejected;
    int event_done;        /* one-shot scenario event happened */
    ta_pss *conns[64];
    double px[TA_MAXSYM];
    uint64_t rng;
    int64_t t0;
    int64_t t_start; /* --rate: monotonic time of the first quote */
    /* bench: pre-encoded frames, cycled */
    char **bench_frames;
    size_t *bench_len;
    size_t nbench;
} ta_state;

struct ta_pss {
    struct lws *wsi;
    int authed, subscribed, closing, silent, error_sent;
    char key[128];
    char syms[TA_MAXSYM][32];
    int nsyms;
    /* control frames waiting to go out, in order */
    char *ctl[8];
    size_t ctl_len[8];
    int nctl;
    /* the frame being written (LWS_PRE bytes of headroom first) */
    unsigned char *frame;
    size_t frame_len, frame_off;
    int frame_frags, frame_frag; /* fragment count and the one next */
    long long frame_quotes;      /* quotes in it, for accounting */
};

static volatile sig_atomic_t ta_stop;
static struct lws_context *ta_ctx;
static volatile sig_atomic_t ta_broker_cmd;

static void ta_on_signal(int sig)
{
    ta_stop = sig;
}

static void ta_on_usr(int sig)
{
    ta_broker_cmd = sig;
}

static uint64_t ta_rand(ta_state *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static void ta_write_stats(ta_state *s)
{
    if (!s->c.stats_path)
        return;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->c.stats_path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "connections=%d\nauth_ok=%d\nrejected=%d\nsent=%lld\n", s->connections,
            s->auth_ok, s->rejected, s->sent_count);
    fclose(f);
    rename(tmp, s->c.stats_path);
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                    */
/* ------------------------------------------------------------------------ */

/* Appends quote number idx for symbol sym to buf as raw JSON; returns the
 * length. Every 7th quote has spaces after its commas, to check that the
 * raw text is kept byte for byte. */
static size_t ta_quote(ta_state *s, ta_pss *p, long long idx, char *buf, size_t cap)
{
    int si = p->nsyms ? (int)(idx % p->nsyms) : 0;
    const char *sym = p->nsyms ? p->syms[si] : "SPY";
    static const char ex[] = "VQNPKZ";
    char ts[QT_TIME_STRMAX];
    int64_t t = s->t0 + idx * 1000003LL + (int64_t)(ta_rand(s) % 1000);
    s->px[si] += ((double)(ta_rand(s) % 21) - 10.0) / 100.0;
    if (s->px[si] < 1)
        s->px[si] = 100;
    long long bp = (long long)(s->px[si] * 100 + 0.5);
    long long ap = bp + 1 + (long long)(ta_rand(s) % 5);
    const char *sep = idx % 7 == 3 ? ", " : ",";
    qt_time_format(t, -1, ts);
    int n = snprintf(buf, cap,
                     "{\"T\":\"q\"%s\"S\":\"%s\"%s\"bx\":\"%c\"%s\"bp\":%lld.%02lld%s\"bs\":%d%s"
                     "\"ax\":\"%c\"%s\"ap\":%lld.%02lld%s\"as\":%d%s\"c\":[\"R\"]%s\"z\":\"B\"%s"
                     "\"t\":\"%s\"}",
                     sep, sym, sep, ex[ta_rand(s) % 6], sep, bp / 100, bp % 100, sep,
                     (int)(1 + ta_rand(s) % 9), sep, ex[ta_rand(s) % 6], sep, ap / 100, ap % 100,
                     sep, (int)(1 + ta_rand(s) % 9), sep, sep, sep, ts);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void ta_set_frame(ta_pss *p, const char *data, size_t len, int frags, long long nq)
{
    free(p->frame);
    p->frame = malloc(LWS_PRE + len + 1);
    if (!p->frame) {
        p->frame_len = 0;
        return;
    }
    memcpy(p->frame + LWS_PRE, data, len);
    p->frame_len = len;
    p->frame_off = 0;
    p->frame_frags = frags < 1 ? 1 : frags;
    p->frame_frag = 0;
    p->frame_quotes = nq;
}

static void ta_ctl(ta_pss *p, const char *text)
{
    if (p->nctl >= 8)
        return;
    size_t n = strlen(text);
    p->ctl[p->nctl] = malloc(LWS_PRE + n + 1);
    if (!p->ctl[p->nctl])
        return;
    memcpy(p->ctl[p->nctl] + LWS_PRE, text, n + 1);
    p->ctl_len[p->nctl++] = n;
    lws_callback_on_writable(p->wsi);
}

static void ta_error(ta_pss *p, int code, const char *msg)
{
    char buf[256];
    snprintf(buf, sizeof buf, "[{\"T\":\"error\",\"code\":%d,\"msg\":\"%s\"}]", code, msg);
    ta_ctl(p, buf);
}

static const char *ta_errtext(int code)
{
    switch (code) {
    case 400: return "invalid syntax";
    case 401: return "not authenticated";
    case 402: return "auth failed";
    case 403: return "already authenticated";
    case 404: return "auth timeout";
    case 405: return "symbol limit exceeded";
    case 406: return "connection limit exceeded";
    case 407: return "slow client";
    case 409: return "insufficient subscription";
    case 410: return "invalid subscribe action for this feed";
    default: return "internal error";
    }
}

/* Errors after which Alpaca closes the connection. */
static int ta_error_closes(int code)
{
    return code == 401 || code == 402 || code == 404 || code == 406 || code == 500;
}

/* Builds the next data frame for p into p->frame; returns 0 when there is
 * nothing more to send now. */
static int ta_next_frame(ta_state *s, ta_pss *p)
{
    static char buf[TA_FRAME_CAP];
    char line[512];
    size_t len = 0;
    long long nq = 0;

    if (s->c.scenario == SC_BENCH) {
        if (s->next >= s->c.count)
            return 0;
        size_t k = (size_t)(s->next / 100) % s->nbench;
        ta_set_frame(p, s->bench_frames[k], s->bench_len[k], 1, 100);
        s->next += 100;
        return 1;
    }
    if (s->next >= s->c.count)
        return 0;
    if (s->c.rate > 0) {
        int64_t el = qt_mono_ns() - s->t_start;
        if (!s->t_start) {
            s->t_start = qt_mono_ns();
            el = 0;
        }
        if ((double)s->next >= (double)s->c.rate * ((double)el / 1e9) + (double)s->c.rate / 100)
            return 0;
    }

    /* one-shot events at quote number `at` */
    if (!s->event_done && s->next == s->c.at) {
        switch (s->c.scenario) {
        case SC_DISCONNECT:
            s->event_done = 1;
            p->closing = 1;
            return 0;
        case SC_SILENT:
            s->event_done = 1;
            p->silent = 1;
            lws_rx_flow_control(p->wsi, 0);
            return 0;
        case SC_SLOW:
            s->event_done = 1;
            ta_set_frame(p, "[{\"T\":\"error\",\"code\":407,\"msg\":\"slow client\"}]", 46, 1, 0);
            return 1;
        case SC_MALFORMED: {
            static const char *bad[] = {
                "[{\"T\":\"q\",\"S\":",                       /* truncated */
                "{\"T\":\"q\",\"S\":\"SPY\",\"bp\":\"x\"}",   /* wrong type */
                ("[{\"T\":\"q\",\"S\":\"SPY\",\"bx\":\"V\",\"bp\":1,\"bs\":1,\"ax\":\"V\","
                 "\"ap\":1,\"as\":1,\"c\":[],\"z\":\"B\",\"t\":\"yesterday\"}]"), /* bad time */
                "not json at all",
            };
            s->event_done = 1;
            for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
                ta_ctl(p, bad[k]);
            if (s->c.oversize > 0) {
                /* an array of good-looking quotes larger than the client's
                 * cap; none of them counts as sent */
                size_t n = (size_t)s->c.oversize, o = 0;
                char *big = malloc(n + 600);
                if (big) {
                    big[o++] = '[';
                    for (long long k = 0; o < n; k++) {
                        if (k)
                            big[o++] = ',';
                        o += ta_quote(s, p, s->c.count + 1000000 + k, big + o, 512);
                    }
                    big[o++] = ']';
                    ta_set_frame(p, big, o, 4, 0);
                    free(big);
                    return 1;
                }
            }
            return 0;
        }
        default:
            break;
        }
    }

    int per = s->c.per_frame > 0 ? s->c.per_frame : (int)(1 + ta_rand(s) % 3);
    buf[len++] = '[';
    while (nq < per && s->next < s->c.count) {
        if (!s->event_done && s->next == s->c.at && s->c.scenario != SC_NORMAL &&
            s->c.scenario != SC_BATCH && s->c.scenario != SC_FRAGMENT &&
            s->c.scenario != SC_ERROR)
            break;
        size_t q = ta_quote(s, p, s->next, line, sizeof line);
        if (len + q + 2 >= sizeof buf)
            break;
        if (nq)
            buf[len++] = ',';
        memcpy(buf + len, line, q);
        len += q;
        if (s->sent) {
            fwrite(line, 1, q, s->sent);
            fputc('\n', s->sent);
        }
        nq++;
        s->next++;
    }
    if (!nq)
        return 0;
    buf[len++] = ']';
    if (s->sent)
        fflush(s->sent);
    ta_set_frame(p, buf, len, s->c.scenario == SC_FRAGMENT ? 3 : 1, nq);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Protocol                                                                  */
/* ------------------------------------------------------------------------ */

static void ta_on_message(ta_state *s, ta_pss *p, const char *in, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(in, len);
    const cJSON *a = j ? cJSON_GetObjectItemCaseSensitive(j, "action") : NULL;
    if (!cJSON_IsString(a)) {
        ta_error(p, 400, "invalid syntax");
        cJSON_Delete(j);
        return;
    }
    if (strcmp(a->valuestring, "auth") == 0) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(j, "secret");
        if (p->authed) {
            ta_error(p, 403, "already authenticated");
        } else if (!cJSON_IsString(k) || !cJSON_IsString(sec) ||
                   strcmp(k->valuestring, s->c.key) != 0 ||
                   strcmp(sec->valuestring, s->c.secret) != 0) {
            ta_error(p, 402, "auth failed");
            p->closing = 1;
            s->rejected++;
        } else {
            int held = 0;
            for (int i = 0; i < 64; i++) {
                ta_pss *o = s->conns[i];
                if (!o || o == p || !o->authed || strcmp(o->key, k->valuestring) != 0)
                    continue;
                if (o->silent) { /* a stale connection: drop it, as Alpaca does */
                    o->authed = 0;
                    lws_set_timeout(o->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
                    continue;
                }
                held = 1;
            }
            if (held) {
                ta_error(p, 406, "connection limit exceeded");
                p->closing = 1;
                s->rejected++;
            } else {
                p->authed = 1;
                snprintf(p->key, sizeof p->key, "%s", k->valuestring);
                s->auth_ok++;
                ta_ctl(p, "[{\"T\":\"success\",\"msg\":\"authenticated\"}]");
            }
        }
    } else if (strcmp(a->valuestring, "subscribe") == 0) {
        if (!p->authed) {
            ta_error(p, 401, "not authenticated");
            p->closing = 1;
        } else {
            const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "quotes"), *e;
            char reply[4096];
            size_t n = 0;
            n += (size_t)snprintf(reply + n, sizeof reply - n,
                                  "[{\"T\":\"subscription\",\"trades\":[],\"quotes\":[");
            p->nsyms = 0;
            cJSON_ArrayForEach(e, q)
            {
                if (!cJSON_IsString(e) || p->nsyms >= TA_MAXSYM)
                    continue;
                snprintf(p->syms[p->nsyms], sizeof p->syms[0], "%s", e->valuestring);
                if (n < sizeof reply - 64)
                    n += (size_t)snprintf(reply + n, sizeof reply - n, "%s\"%s\"",
                                          p->nsyms ? "," : "", p->syms[p->nsyms]);
                p->nsyms++;
            }
            snprintf(reply + n, sizeof reply - n, "],\"bars\":[]}]");
            if (s->c.scenario == SC_ERROR && !p->error_sent && !s->event_done) {
                s->event_done = 1;
                p->error_sent = 1;
                ta_error(p, s->c.error_code, ta_errtext(s->c.error_code));
                if (ta_error_closes(s->c.error_code))
                    p->closing = 1;
                else if (s->c.error_code != 407) {
                    cJSON_Delete(j);
                    return;
                }
            }
            if (!p->closing) {
                ta_ctl(p, reply);
                p->subscribed = 1;
            }
        }
    }
    cJSON_Delete(j);
}

static int ta_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    ta_pss *p = user;
    ta_state *s = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(p, 0, sizeof *p);
        p->wsi = wsi;
        for (int i = 0; i < 64; i++)
            if (!s->conns[i]) {
                s->conns[i] = p;
                break;
            }
        s->connections++;
        ta_write_stats(s);
        ta_ctl(p, "[{\"T\":\"success\",\"msg\":\"connected\"}]");
        break;
    case LWS_CALLBACK_CLOSED:
        /* A frame cut off by the close was taken from the stream and written
         * to --sent: it is sent, and lost with the connection. Counting it
         * keeps `sent` equal to the --sent file. */
        if (p->frame_len) {
            s->sent_count += p->frame_quotes;
            p->frame_len = 0;
        }
        for (int i = 0; i < 64; i++)
            if (s->conns[i] == p)
                s->conns[i] = NULL;
        for (int i = 0; i < p->nctl; i++)
            free(p->ctl[i]);
        free(p->frame);
        p->frame = NULL;
        p->nctl = 0;
        ta_write_stats(s);
        break;
    case LWS_CALLBACK_RECEIVE:
        if (!lws_is_first_fragment(wsi) || !lws_is_final_fragment(wsi))
            break; /* clients send small single-frame messages */
        ta_on_message(s, p, in, len);
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (p->silent)
            break;
        if (p->nctl && !(p->frame_len && p->frame_frag > 0)) {
            char *m = p->ctl[0];
            size_t n = p->ctl_len[0];
            int w = lws_write(wsi, (unsigned char *)m + LWS_PRE, n, LWS_WRITE_TEXT);
            free(m);
            memmove(p->ctl, p->ctl + 1, (size_t)(p->nctl - 1) * sizeof p->ctl[0]);
            memmove(p->ctl_len, p->ctl_len + 1, (size_t)(p->nctl - 1) * sizeof p->ctl_len[0]);
            p->nctl--;
            if (w < (int)n)
                return -1;
            if (p->nctl || p->subscribed || p->closing)
                lws_callback_on_writable(wsi);
            break;
        }
        if (!p->frame_len && p->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, NULL, 0);
            return -1;
        }
        if (!p->subscribed)
            break;
        if (!p->frame_len && !ta_next_frame(s, p)) {
            if (p->closing || p->nctl)
                lws_callback_on_writable(wsi);
            break;
        }
        if (!p->frame_len)
            break;
        if (p->nctl && p->frame_frag == 0) {
            /* control frames first; never inside a fragmented message */
            lws_callback_on_writable(wsi);
            break;
        }
        {
            size_t per = p->frame_len / (size_t)p->frame_frags + 1;
            size_t n = p->frame_len - p->frame_off;
            int last = 1;
            if (p->frame_frag < p->frame_frags - 1 && n > per) {
                n = per;
                last = 0;
            }
            int flags = p->frame_frag == 0 ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION;
            if (!last)
                flags |= LWS_WRITE_NO_FIN;
            /* lws needs LWS_PRE writable bytes before the payload; for a
             * continuation that is inside the frame, so save and restore */
            unsigned char save[LWS_PRE];
            unsigned char *at = p->frame + LWS_PRE + p->frame_off;
            memcpy(save, at - LWS_PRE, LWS_PRE);
            int w = lws_write(wsi, at, n, (enum lws_write_protocol)flags);
            memcpy(at - LWS_PRE, save, LWS_PRE);
            if (w < (int)n)
                return -1;
            p->frame_off += n;
            p->frame_frag++;
            if (last) {
                s->sent_count += p->frame_quotes;
                p->frame_len = 0;
                if (s->sent_count % 1000 < (long long)p->frame_quotes || s->next >= s->c.count)
                    ta_write_stats(s);
            }
        }
        lws_callback_on_writable(wsi);
        break;
    }
    default:
        break;
    }
    return 0;
}

static lws_sorted_usec_list_t ta_sul;

/* Wakes the loop every 5 ms so rate-limited streams keep moving. */
static void ta_tick(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    lws_sul_schedule(ta_ctx, 0, &ta_sul, ta_tick, 5000);
}

static const struct lws_protocols ta_protocols[] = {
    {"alpaca", ta_callback, sizeof(ta_pss), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ------------------------------------------------------------------------ */
/* Modes                                                                     */
/* ------------------------------------------------------------------------ */

static int ta_usage(void)
{
    fprintf(stderr,
            "usage: qt_testalpaca serve [--scenario NAME] [--count N] [--per-frame N] [--at N]\n"
            "                           [--rate QPS] [--error-code N] [--oversize BYTES] [--key K]\n"
            "                           [--secret S] [--sent FILE] [--stats FILE]\n"
            "                           [--port N] [--port-file FILE] [--seed N]\n"
            "                           [--tls-cert PEM --tls-key PEM]\n"
            "       qt_testalpaca count DB | dump DB | broker BOOTSTRAP_FILE\n"
            "scenarios: normal batch fragment disconnect malformed silent slow error bench\n");
    return 64;
}

static void ta_bench_frames(ta_state *s)
{
    ta_pss fake;
    char line[512];
    memset(&fake, 0, sizeof fake);
    fake.nsyms = 4;
    snprintf(fake.syms[0], 32, "SPY");
    snprintf(fake.syms[1], 32, "QQQ");
    snprintf(fake.syms[2], 32, "AAPL");
    snprintf(fake.syms[3], 32, "MSFT");
    s->nbench = 64;
    s->bench_frames = calloc(s->nbench, sizeof *s->bench_frames);
    s->bench_len = calloc(s->nbench, sizeof *s->bench_len);
    for (size_t f = 0; f < s->nbench; f++) {
        char *b = malloc(100 * 300);
        size_t n = 0;
        b[n++] = '[';
        for (int i = 0; i < 100; i++) {
            size_t q = ta_quote(s, &fake, (long long)f * 100 + i, line, sizeof line);
            if (i)
                b[n++] = ',';
            memcpy(b + n, line, q);
            n += q;
        }
        b[n++] = ']';
        s->bench_frames[f] = b;
        s->bench_len[f] = n;
    }
}

static int ta_serve(int argc, char **argv)
{
    static ta_state s;
    struct lws_context_creation_info info;
    struct lws_context *ctx;
    const char *scn = "normal", *tls_cert = NULL, *tls_key = NULL;

    memset(&s, 0, sizeof s);
    s.c.key = "testkey";
    s.c.secret = "testsecret";
    s.c.count = 1000;
    s.c.at = -1;
    s.c.error_code = 500;
    s.c.seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return ta_usage();
        i++;
        if (!strcmp(o, "--scenario"))
            scn = v;
        else if (!strcmp(o, "--count"))
            s.c.count = strtoll(v, NULL, 10);
        else if (!strcmp(o, "--per-frame"))
            s.c.per_frame = (int)strtol(v, NULL, 10);
        else if (!strcmp(o, "--at"))
            s.c.at = strtoll(v, NULL, 10);
        else if (!strcmp(o, "--error-code"))
            s.c.error_code = (int)strtol(v, NULL, 10);
        else if (!strcmp(o, "--rate"))
            s.c.rate = strtoll(v, NULL, 10);
        else if (!strcmp(o, "--oversize"))
            s.c.oversize = strtoll(v, NULL, 10);
        else if (!strcmp(o, "--key"))
            s.c.key = v;
        else if (!strcmp(o, "--secret"))
            s.c.secret = v;
        else if (!strcmp(o, "--sent"))
            s.c.sent_path = v;
        else if (!strcmp(o, "--stats"))
            s.c.stats_path = v;
        else if (!strcmp(o, "--port"))
            s.c.port = (int)strtol(v, NULL, 10);
        else if (!strcmp(o, "--port-file"))
            s.c.port_file = v;
        else if (!strcmp(o, "--seed"))
            s.c.seed = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(o, "--tls-cert"))
            tls_cert = v;
        else if (!strcmp(o, "--tls-key"))
            tls_key = v;
        else
            return ta_usage();
    }
    s.c.scenario = -1;
    for (size_t k = 0; k < sizeof sc_names / sizeof sc_names[0]; k++)
        if (!strcmp(scn, sc_names[k]))
            s.c.scenario = (int)k;
    if (s.c.scenario < 0 || !tls_cert != !tls_key)
        return ta_usage();
    if (s.c.scenario == SC_BATCH && !s.c.per_frame)
        s.c.per_frame = 100;
    if (s.c.at < 0)
        s.c.at = s.c.count / 2;
    s.rng = 0x9e3779b97f4a7c15ULL ^ s.c.seed;
    s.t0 = INT64_C(1709649000000000000); /* 2024-03-05T14:30:00Z */
    for (int i = 0; i < TA_MAXSYM; i++)
        s.px[i] = 100.0 + 50.0 * i;
    if (s.c.scenario == SC_BENCH)
        ta_bench_frames(&s);
    if (s.c.sent_path && !(s.sent = fopen(s.c.sent_path, "w"))) {
        fprintf(stderr, "qt_testalpaca: cannot open '%s': %s\n", s.c.sent_path,
                strerror(errno));
        return 74;
    }

    signal(SIGINT, ta_on_signal);
    signal(SIGTERM, ta_on_signal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof info);
    info.port = s.c.port;
    info.iface = "127.0.0.1";
    info.protocols = ta_protocols;
    info.user = &s;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (tls_cert) { /* wss:// */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = tls_cert;
        info.ssl_private_key_filepath = tls_key;
    }
    ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "qt_testalpaca: cannot start the server\n");
        return 69;
    }
    ta_ctx = ctx;
    lws_sul_schedule(ctx, 0, &ta_sul, ta_tick, 5000);
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
    int port = vh ? lws_get_vhost_listen_port(vh) : s.c.port;
    if (s.c.port_file) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s.tmp", s.c.port_file);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
            rename(tmp, s.c.port_file);
        }
    }
    ta_write_stats(&s);
    while (!ta_stop) {
        if (lws_service(ctx, 0) < 0)
            break;
        /* keep streaming connections moving */
        for (int i = 0; i < 64; i++)
            if (s.conns[i] && s.conns[i]->subscribed && !s.conns[i]->silent &&
                (s.next < s.c.count || s.conns[i]->frame_len || s.conns[i]->closing))
                lws_callback_on_writable(s.conns[i]->wsi);
    }
    ta_write_stats(&s);
    lws_context_destroy(ctx);
    if (s.sent)
        fclose(s.sent);
    for (size_t f = 0; f < s.nbench; f++)
        free(s.bench_frames[f]);
    free(s.bench_frames);
    free(s.bench_len);
    return 0;
}

static int ta_tape(const char *db, int dump)
{
    qt_tape *t;
    char err[512];
    if (qt_tape_open(db, QT_TAPE_READ, &t, err, sizeof err)) {
        fprintf(stderr, "qt_testalpaca: %s\n", err);
        return 66;
    }
    if (!dump) {
        int64_t n = 0;
        qt_err e = qt_tape_count(t, NULL, &n, err, sizeof err);
        qt_tape_free(t);
        if (e) {
            fprintf(stderr, "qt_testalpaca: %s\n", err);
            return 65;
        }
        printf("%lld\n", (long long)n);
        return 0;
    }
    qt_tape_iter *it;
    qt_tape_row row;
    int r;
    if (qt_tape_iter_open(t, NULL, &it, err, sizeof err)) {
        fprintf(stderr, "qt_testalpaca: %s\n", err);
        qt_tape_free(t);
        return 65;
    }
    while ((r = qt_tape_iter_next(it, &row, err, sizeof err)) == 1) {
        int64_t ms = row.q.t_ns / QT_NS_PER_MS;
        printf("%s\t%lld\t%.*s\n", row.q.symbol, (long long)ms, (int)row.raw_len, row.raw);
    }
    qt_tape_iter_free(it);
    qt_tape_free(t);
    if (r < 0) {
        fprintf(stderr, "qt_testalpaca: %s\n", err);
        return 65;
    }
    return 0;
}

static int ta_broker(const char *path)
{
    qt_broker *b;
    char err[512];
    if (qt_broker_start(1, 3, &b, err, sizeof err)) {
        fprintf(stderr, "qt_testalpaca: %s\n", err);
        return 69;
    }
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", qt_broker_bootstraps(b));
        fclose(f);
    }
    signal(SIGINT, ta_on_signal);
    signal(SIGTERM, ta_on_signal);
    signal(SIGUSR1, ta_on_usr);
    signal(SIGUSR2, ta_on_usr);
    while (!ta_stop) {
        if (ta_broker_cmd) {
            int down = ta_broker_cmd == SIGUSR1;
            ta_broker_cmd = 0;
            qt_broker_set_down(b, 1, down);
            fprintf(stderr, "qt_testalpaca: broker %s\n", down ? "down" : "up");
        }
        usleep(20000);
    }
    qt_broker_free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "serve"))
        return ta_serve(argc - 1, argv + 1);
    if (argc == 3 && !strcmp(argv[1], "count"))
        return ta_tape(argv[2], 0);
    if (argc == 3 && !strcmp(argv[1], "dump"))
        return ta_tape(argv[2], 1);
    if (argc == 3 && !strcmp(argv[1], "broker"))
        return ta_broker(argv[2]);
    return ta_usage();
}
