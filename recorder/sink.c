/* quotetape — the recorder's dual sink (tape + Kafka). See sink.h. */
#include "recorder/sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/qtime.h"

/* In-flight quotes Kafka has not confirmed yet. A full ring counts as a full
 * queue: the sink then catches up from the tape instead of growing. */
#define QT_RING_BITS 18
#define QT_RING_CAP ((uint64_t)1 << QT_RING_BITS)
#define QT_RING_MASK (QT_RING_CAP - 1)
/* Bytes of raw text one batch may hold before it must be committed. */
#define QT_BATCH_BYTES (8u * 1024u * 1024u)
/* Most rows one pump round reads from the tape. */
#define QT_PUMP_ROWS 20000
#define QT_MAX_PARTITIONS 1024

enum { QT_K_QUOTE, QT_K_TRADE, QT_K_BAR };

typedef struct qt_sink_ent {
    int64_t seq, ts_ms;
    uint32_t off, key_len, val_len;
    int kind;
} qt_sink_ent;

struct qt_sink {
    qt_sink_opts o;
    qt_tape *tape;
    int64_t session;
    /* the open batch */
    qt_sink_ent *ents;
    size_t nents, cap_ents;
    char *arena;
    size_t arena_len;
    int pending_gap; /* a gap is in the open transaction */
    int64_t txn_quotes, txn_trades, txn_bars; /* rows in the open batch */
    /* Kafka */
    rd_kafka_t *rk;
    int live;       /* producing each batch as it commits */
    int failed;     /* gave up after a non-retriable error */
    int64_t cursor; /* catching up: next tape seq to produce */
    int64_t last_seq;
    int64_t acked, acked_saved;
    int64_t *ring_seq;
    unsigned char *ring_st; /* 0 in flight, 1 delivered */
    uint64_t head, tail;
    int32_t nparts;
    int64_t tail_seq[QT_MAX_PARTITIONS]; /* highest qt.seq per partition at open */
    int32_t (*partitioner)(const rd_kafka_topic_t *, const void *, size_t, int32_t, void *,
                           void *);
    rd_kafka_topic_t *rkt;
    qt_sink_stats st;
};

/* ------------------------------------------------------------------------ */
/* Delivery tracking                                                         */
/* ------------------------------------------------------------------------ */

/* Moves the acked seq over every delivered entry at the ring's head. */
static void qt_sink_advance(qt_sink *s)
{
    while (s->head < s->tail && s->ring_st[s->head & QT_RING_MASK]) {
        s->acked = s->ring_seq[s->head & QT_RING_MASK];
        s->head++;
    }
}

static void qt_sink_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    qt_sink *s = opaque;
    uintptr_t pos = (uintptr_t)m->_private;
    (void)rk;
    if (m->err) {
        if (!s->failed)
            qt_error("kafka: delivery to '%s' failed: %s; recording continues into the tape "
                     "only, run 'quotetape sync' once Kafka is healthy",
                     rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        s->failed = 1;
        return;
    }
    if (!pos)
        return; /* a trade or bar: not tracked */
    s->ring_st[(pos - 1) & QT_RING_MASK] = 1;
    s->st.delivered++;
    qt_sink_advance(s);
}

/* Produces one quote tagged with its seq. Returns 0 on success, 1 if the
 * local queue (or the ring) is full, -1 on another error. */
static int qt_sink_produce_quote(qt_sink *s, int64_t seq, const char *key, size_t key_len,
                                 const char *val, size_t val_len, int64_t ts_ms)
{
    char hdr[24];
    int hl;
    rd_kafka_resp_err_t e;

    if (s->tail - s->head >= QT_RING_CAP)
        return 1;
    hl = snprintf(hdr, sizeof hdr, "%" PRId64, seq);
    uint64_t pos = s->tail;
    e = rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(s->o.topic),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY((void *)key, key_len),
                          RD_KAFKA_V_VALUE((void *)val, val_len), RD_KAFKA_V_TIMESTAMP(ts_ms),
                          RD_KAFKA_V_HEADER("qt.seq", hdr, hl),
                          RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(pos + 1)), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return 1;
    if (e) {
        if (!s->failed)
            qt_error("kafka: cannot produce to '%s': %s; recording continues into the tape only",
                     s->o.topic, rd_kafka_err2str(e));
        s->failed = 1;
        return -1;
    }
    s->ring_seq[pos & QT_RING_MASK] = seq;
    s->ring_st[pos & QT_RING_MASK] = 0;
    s->tail++;
    s->st.produced++;
    return 0;
}

/* Whether Kafka already holds seq (it was delivered before this sink
 * opened): its partition's last message carries a seq at least as high. */
static int qt_sink_in_kafka(qt_sink *s, int64_t seq, const char *key, size_t key_len)
{
    if (!s->nparts || !s->partitioner || !s->rkt)
        return 0;
    int32_t p = s->partitioner(s->rkt, key, key_len, s->nparts, NULL, NULL);
    return p >= 0 && p < s->nparts && seq <= s->tail_seq[p];
}

/* Tracks seq as delivered without producing it (Kafka has it already). */
static void qt_sink_skip(qt_sink *s, int64_t seq)
{
    if (s->tail - s->head >= QT_RING_CAP)
        return;
    s->ring_seq[s->tail & QT_RING_MASK] = seq;
    s->ring_st[s->tail & QT_RING_MASK] = 1;
    s->tail++;
    s->st.skipped++;
    qt_sink_advance(s);
}

/* Catching up: produces committed tape rows from the cursor until the queue
 * is full or the tape's end; at the end (and no transaction open) the sink
 * goes live. */
static void qt_sink_pump(qt_sink *s)
{
    char err[512];
    qt_tape_sel sel;
    qt_tape_iter *it;
    qt_tape_row row;
    int r, n = 0, full = 0;

    if (!s->rk || s->live || s->failed || qt_tape_in_txn(s->tape))
        return;
    memset(&sel, 0, sizeof sel);
    sel.from_seq = s->cursor;
    if (qt_tape_iter_open(s->tape, &sel, &it, err, sizeof err)) {
        qt_warn("kafka catch-up: %s", err);
        return;
    }
    while (n < QT_PUMP_ROWS && (r = qt_tape_iter_next(it, &row, err, sizeof err)) == 1) {
        size_t kl = strlen(row.q.symbol);
        if (qt_sink_in_kafka(s, row.seq, row.q.symbol, kl)) {
            if (s->tail - s->head >= QT_RING_CAP) {
                full = 1;
                break;
            }
            qt_sink_skip(s, row.seq);
        } else {
            int pr = qt_sink_produce_quote(s, row.seq, row.q.symbol, kl, row.raw, row.raw_len,
                                           row.q.t_ns / QT_NS_PER_MS);
            if (pr) {
                full = 1;
                break;
            }
        }
        s->cursor = row.seq + 1;
        n++;
    }
    if (n < QT_PUMP_ROWS && !full && r == 0)
        s->live = 1;
    else if (r < 0)
        qt_warn("kafka catch-up: %s", err);
    qt_tape_iter_free(it);
}

/* ------------------------------------------------------------------------ */
/* Partition tails (what Kafka already holds)                                */
/* ------------------------------------------------------------------------ */

typedef int32_t (*qt_partfn)(const rd_kafka_topic_t *, const void *, size_t, int32_t, void *,
                             void *);

/* The partitioner librdkafka uses for keyed messages under the configured
 * "partitioner" property (default consistent_random = CRC32). NULL for
 * "random", where the partition of a key cannot be known. */
static qt_partfn qt_sink_partfn(const qt_kopts *k)
{
    const char *name = "consistent_random";
    for (size_t i = 0; i < k->nprops; i++)
        if (strcmp(k->props[i].key, "partitioner") == 0)
            name = k->props[i].value;
    if (strncmp(name, "consistent", 10) == 0)
        return rd_kafka_msg_partitioner_consistent;
    if (strncmp(name, "murmur2", 7) == 0)
        return rd_kafka_msg_partitioner_murmur2;
    if (strncmp(name, "fnv1a", 5) == 0)
        return rd_kafka_msg_partitioner_fnv1a;
    return NULL;
}

/* Reads the last message of every partition of the topic and keeps its
 * qt.seq header. A topic that does not exist yet has nothing to skip. */
static qt_err qt_sink_read_tails(qt_sink *s, char *err, size_t errsz)
{
    rd_kafka_t *c = NULL;
    int n = 0, want = 0;
    qt_err e;

    if (qt_kafka_partitions(s->rk, s->o.topic, &n, 5000, NULL, 0) || n <= 0)
        return QT_OK;
    if (n > QT_MAX_PARTITIONS)
        n = QT_MAX_PARTITIONS;
    if ((e = qt_kafka_consumer_new(s->o.kopts, NULL, &c, err, errsz)))
        return e;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        int64_t lo = 0, hi = 0;
        if (qt_kafka_watermarks(c, s->o.topic, p, &lo, &hi, 5000, err, errsz)) {
            rd_kafka_topic_partition_list_destroy(l);
            rd_kafka_destroy(c);
            return QT_EKAFKA;
        }
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(l, s->o.topic, p)->offset = hi - 1;
            want++;
        }
    }
    s->nparts = n;
    if (want) {
        rd_kafka_assign(c, l);
        int64_t until = qt_mono_ns() + 10 * QT_NS_PER_SEC;
        char got[QT_MAX_PARTITIONS] = {0};
        while (want > 0 && qt_mono_ns() < until) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
            if (!m)
                continue;
            if (!m->err && m->partition >= 0 && m->partition < n && !got[m->partition]) {
                rd_kafka_headers_t *h = NULL;
                const void *v;
                size_t vl;
                got[m->partition] = 1;
                want--;
                if (!rd_kafka_message_headers(m, &h) &&
                    !rd_kafka_header_get_last(h, "qt.seq", &v, &vl) && vl < 24) {
                    char num[24];
                    memcpy(num, v, vl);
                    num[vl] = '\0';
                    s->tail_seq[m->partition] = strtoll(num, NULL, 10);
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (want > 0)
            qt_warn("kafka: could not read the end of %d partition(s) of '%s'; quotes there "
                    "may be produced twice",
                    want, s->o.topic);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return QT_OK;
}

/* ------------------------------------------------------------------------ */
/* Open and close                                                            */
/* ------------------------------------------------------------------------ */

/* The recorder's producer settings, before the user's -X / -F (which win):
 * retry forever (the tape holds everything, so giving up buys nothing) and
 * keep the local queue small so memory stays flat during an outage. */
static qt_err qt_sink_producer(qt_sink *s, char *err, size_t errsz)
{
    static const char *defaults[] = {"message.timeout.ms=0", "queue.buffering.max.kbytes=8192",
                                     "queue.buffering.max.messages=50000",
                                     "batch.num.messages=10000"};
    qt_kopts k;
    qt_err e = QT_OK;

    qt_kopts_init(&k);
    for (size_t i = 0; !e && i < sizeof defaults / sizeof defaults[0]; i++)
        e = qt_kopts_add_kv(&k, defaults[i], err, errsz);
    for (size_t i = 0; !e && i < s->o.kopts->nprops; i++) {
        char kv[2048];
        snprintf(kv, sizeof kv, "%s=%s", s->o.kopts->props[i].key, s->o.kopts->props[i].value);
        e = qt_kopts_add_kv(&k, kv, err, errsz);
    }
    if (!e && s->o.kopts->brokers)
        e = qt_kopts_set_brokers(&k, s->o.kopts->brokers);
    if (!e)
        e = qt_kafka_producer_new(&k, 1, qt_sink_dr, s, &s->rk, err, errsz);
    qt_kopts_release(&k);
    return e;
}

qt_err qt_sink_open(const qt_sink_opts *o, qt_sink **out, char *err, size_t errsz)
{
    qt_sink *s = calloc(1, sizeof *s);
    qt_err e;

    *out = NULL;
    if (!s)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    s->o = *o;
    if (!s->o.batch_max)
        s->o.batch_max = 10000;
    s->cap_ents = s->o.batch_max;
    s->ents = malloc(s->cap_ents * sizeof *s->ents);
    s->arena = malloc(QT_BATCH_BYTES);
    if (!s->ents || !s->arena) {
        qt_sink_free(s, 0);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    if ((e = qt_tape_open(o->db, QT_TAPE_WRITE, &s->tape, err, errsz))) {
        qt_sink_free(s, 0);
        return e;
    }
    if (o->kopts && o->topic) {
        s->ring_seq = malloc(QT_RING_CAP * sizeof *s->ring_seq);
        s->ring_st = malloc(QT_RING_CAP);
        if (!s->ring_seq || !s->ring_st) {
            qt_sink_free(s, 0);
            return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
        }
        if ((e = qt_sink_producer(s, err, errsz)) ||
            (e = qt_tape_get_acked(s->tape, o->topic, &s->acked, err, errsz))) {
            qt_sink_free(s, 0);
            return e;
        }
        s->acked_saved = s->acked;
        s->cursor = s->acked + 1;
        s->partitioner = qt_sink_partfn(o->kopts);
        s->rkt = rd_kafka_topic_new(s->rk, o->topic, NULL);
        if (o->dedupe && (e = qt_sink_read_tails(s, err, errsz))) {
            qt_sink_free(s, 0);
            return e;
        }
        qt_sink_pump(s); /* catch up on what earlier sessions left */
    }
    *out = s;
    return QT_OK;
}

qt_err qt_sink_session_begin(qt_sink *s, const qt_session_info *si, int64_t *id, char *err,
                             size_t errsz)
{
    qt_err e = qt_tape_session_begin(s->tape, si, &s->session, err, errsz);
    if (!e && id)
        *id = s->session;
    return e;
}

void qt_sink_free(qt_sink *s, int64_t ended_ns)
{
    char err[512];
    if (!s)
        return;
    if (s->tape) {
        if (qt_tape_in_txn(s->tape) && qt_sink_commit(s, err, sizeof err))
            qt_error("%s", err);
        if (s->session && ended_ns &&
            qt_tape_session_end(s->tape, s->session, ended_ns, err, sizeof err))
            qt_error("%s", err);
        if (s->rk && s->acked != s->acked_saved &&
            !qt_tape_set_acked(s->tape, s->o.topic, s->acked, err, sizeof err))
            s->acked_saved = s->acked;
    }
    if (s->rkt)
        rd_kafka_topic_destroy(s->rkt);
    if (s->rk)
        rd_kafka_destroy(s->rk);
    qt_tape_free(s->tape);
    free(s->ring_seq);
    free(s->ring_st);
    free(s->ents);
    free(s->arena);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Appending and committing                                                  */
/* ------------------------------------------------------------------------ */

static qt_err qt_sink_txn(qt_sink *s, char *err, size_t errsz)
{
    return qt_tape_in_txn(s->tape) ? QT_OK : qt_tape_begin(s->tape, err, errsz);
}

/* After a failed tape write: when SQLite rolled the batch back (disk full,
 * I/O error), forget it — its rows are not in the tape, so they must not be
 * counted as recorded nor produced to Kafka by a later commit (their seqs
 * will be reused). Returns e. */
static qt_err qt_sink_failed_write(qt_sink *s, qt_err e)
{
    if (qt_tape_in_txn(s->tape))
        return e;
    s->st.quotes -= s->txn_quotes;
    s->st.trades -= s->txn_trades;
    s->st.bars -= s->txn_bars;
    s->txn_quotes = s->txn_trades = s->txn_bars = 0;
    s->nents = 0;
    s->arena_len = 0;
    s->pending_gap = 0;
    return e;
}

/* Keeps a copy of key and value for producing after the commit (live
 * Kafka only). */
static void qt_sink_keep(qt_sink *s, int kind, int64_t seq, const char *key, const char *raw,
                         size_t raw_len, int64_t t_ns)
{
    size_t kl = strlen(key);
    if (!s->rk || s->failed || !s->live)
        return;
    if (kind == QT_K_TRADE && !s->o.trades_topic)
        return;
    if (kind == QT_K_BAR && !s->o.bars_topic)
        return;
    if (s->nents >= s->cap_ents || s->arena_len + kl + raw_len > QT_BATCH_BYTES) {
        /* cannot happen while callers commit at qt_sink_batch_full; be safe */
        if (kind == QT_K_QUOTE) {
            s->live = 0;
            s->cursor = seq;
        }
        return;
    }
    qt_sink_ent *en = &s->ents[s->nents++];
    en->seq = seq;
    en->ts_ms = t_ns / QT_NS_PER_MS;
    en->kind = kind;
    en->off = (uint32_t)s->arena_len;
    en->key_len = (uint32_t)kl;
    en->val_len = (uint32_t)raw_len;
    memcpy(s->arena + s->arena_len, key, kl);
    memcpy(s->arena + s->arena_len + kl, raw, raw_len);
    s->arena_len += kl + raw_len;
}

qt_err qt_sink_quote(qt_sink *s, const qt_quote *q, const char *raw, size_t raw_len, char *err,
                     size_t errsz)
{
    int64_t seq;
    qt_err e = qt_sink_txn(s, err, errsz);
    if (!e)
        e = qt_tape_append_quote(s->tape, s->session, q, raw, raw_len, &seq, err, errsz);
    if (e)
        return qt_sink_failed_write(s, e);
    s->st.quotes++;
    s->txn_quotes++;
    s->last_seq = seq;
    qt_sink_keep(s, QT_K_QUOTE, seq, q->symbol, raw, raw_len, q->t_ns);
    return QT_OK;
}

qt_err qt_sink_trade(qt_sink *s, const qt_trade *t, const char *raw, size_t raw_len, char *err,
                     size_t errsz)
{
    int64_t seq;
    qt_err e = qt_sink_txn(s, err, errsz);
    if (!e)
        e = qt_tape_append_trade(s->tape, s->session, t, raw, raw_len, &seq, err, errsz);
    if (e)
        return qt_sink_failed_write(s, e);
    s->st.trades++;
    s->txn_trades++;
    qt_sink_keep(s, QT_K_TRADE, seq, t->symbol, raw, raw_len, t->t_ns);
    return QT_OK;
}

qt_err qt_sink_bar(qt_sink *s, const qt_bar *b, const char *raw, size_t raw_len, char *err,
                   size_t errsz)
{
    int64_t seq;
    qt_err e = qt_sink_txn(s, err, errsz);
    if (!e)
        e = qt_tape_append_bar(s->tape, s->session, b, raw, raw_len, &seq, err, errsz);
    if (e)
        return qt_sink_failed_write(s, e);
    s->st.bars++;
    s->txn_bars++;
    qt_sink_keep(s, QT_K_BAR, seq, b->symbol, raw, raw_len, b->t_ns);
    return QT_OK;
}

qt_err qt_sink_gap(qt_sink *s, int64_t from_ns, int64_t to_ns, const char *reason, char *err,
                   size_t errsz)
{
    qt_err e = qt_sink_txn(s, err, errsz);
    if (!e)
        e = qt_tape_add_gap(s->tape, s->session, from_ns, to_ns, reason, err, errsz);
    if (!e)
        s->pending_gap = 1;
    return e ? qt_sink_failed_write(s, e) : e;
}

int qt_sink_batch_full(const qt_sink *s)
{
    return s->nents + 1 >= s->cap_ents || s->arena_len + 4096 > QT_BATCH_BYTES ||
           (int64_t)s->o.batch_max <= 0;
}

int qt_sink_pending(const qt_sink *s)
{
    return qt_tape_in_txn(s->tape);
}

/* Produces the committed batch; on a full queue the rest is left to the
 * catch-up pump, starting at the first quote not produced. */
static void qt_sink_produce_batch(qt_sink *s)
{
    for (size_t i = 0; i < s->nents; i++) {
        qt_sink_ent *en = &s->ents[i];
        const char *key = s->arena + en->off, *val = key + en->key_len;
        if (en->kind == QT_K_QUOTE) {
            if (!s->live || s->failed)
                continue;
            if (qt_sink_produce_quote(s, en->seq, key, en->key_len, val, en->val_len,
                                      en->ts_ms) > 0) {
                s->live = 0;
                s->cursor = en->seq;
                qt_debug("kafka: local queue full; catching up from the tape at seq %lld",
                         (long long)en->seq);
            }
        } else if (!s->failed) {
            const char *topic = en->kind == QT_K_TRADE ? s->o.trades_topic : s->o.bars_topic;
            rd_kafka_resp_err_t e = rd_kafka_producev(
                s->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY((void *)key, en->key_len),
                RD_KAFKA_V_VALUE((void *)val, en->val_len), RD_KAFKA_V_TIMESTAMP(en->ts_ms),
                RD_KAFKA_V_END);
            if (e)
                qt_warn("kafka: %s not produced to '%s': %s (it is in the tape)",
                        en->kind == QT_K_TRADE ? "trade" : "bar", topic, rd_kafka_err2str(e));
        }
    }
    s->nents = 0;
    s->arena_len = 0;
}

qt_err qt_sink_commit(qt_sink *s, char *err, size_t errsz)
{
    qt_err e;
    if (s->rk)
        rd_kafka_poll(s->rk, 0);
    if (!qt_tape_in_txn(s->tape)) {
        qt_sink_pump(s);
        return QT_OK;
    }
    if (s->rk && s->acked > s->acked_saved &&
        (e = qt_tape_set_acked(s->tape, s->o.topic, s->acked, err, errsz)))
        return qt_sink_failed_write(s, e);
    if ((e = qt_tape_commit(s->tape, err, errsz)))
        return qt_sink_failed_write(s, e);
    s->acked_saved = s->acked > s->acked_saved ? s->acked : s->acked_saved;
    s->pending_gap = 0;
    s->txn_quotes = s->txn_trades = s->txn_bars = 0;
    s->st.commits++;
    if (s->rk) {
        qt_sink_produce_batch(s);
        qt_sink_pump(s);
    }
    return QT_OK;
}

void qt_sink_poll(qt_sink *s)
{
    if (!s->rk)
        return;
    rd_kafka_poll(s->rk, 0);
    qt_sink_pump(s);
}

qt_err qt_sink_drain(qt_sink *s, int timeout_ms, char *err, size_t errsz)
{
    int64_t until = qt_mono_ns() + (int64_t)timeout_ms * QT_NS_PER_MS;
    qt_err e = qt_sink_commit(s, err, errsz);
    if (e || !s->rk)
        return e;
    while (!s->failed && (!s->live || s->head < s->tail) && qt_mono_ns() < until) {
        qt_sink_pump(s);
        rd_kafka_poll(s->rk, 20);
    }
    if (!s->failed && s->live)
        qt_kafka_flush(s->rk, 0, NULL, 0);
    if (s->acked != s->acked_saved) {
        if ((e = qt_tape_set_acked(s->tape, s->o.topic, s->acked, err, errsz)))
            return e;
        s->acked_saved = s->acked;
    }
    if (s->failed)
        return qt_fail(QT_EKAFKA, err, errsz,
                       "kafka gave up; the tape holds every quote, run 'quotetape sync'");
    if (!s->live || s->head < s->tail)
        return qt_fail(QT_ETIMEOUT, err, errsz,
                       "kafka did not confirm %llu quote(s) within %d ms; they are in the tape, "
                       "run 'quotetape sync'",
                       (unsigned long long)(s->tail - s->head) + (s->live ? 0u : 1u), timeout_ms);
    return QT_OK;
}

void qt_sink_get_stats(const qt_sink *s, qt_sink_stats *st)
{
    *st = s->st;
    st->acked = s->acked;
    st->kafka_live = s->live;
    st->kafka_failed = s->failed;
}
