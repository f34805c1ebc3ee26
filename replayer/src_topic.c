/* quotetape — replay source: a Kafka topic, from any position.
 *
 * The selection is [from, to) on every partition. --from goes to the topic
 * reader (core/topic.h), which finds time positions by reading timestamps.
 * --to is resolved the same way, once, by opening a second reader at that
 * position and taking its per-partition start offsets as exclusive ends, so
 * both ends mean exactly the same thing. The selection ends at the high
 * watermarks the topic had when it was opened.
 *
 * Partitions are merged by event time: a topic keyed by symbol has each
 * symbol in order within its partition, but the consumer hands partitions
 * out a fetch at a time, so a paced replay of them in arrival order would
 * sleep through one partition and then send the next one late, in a burst.
 * The source buffers what arrives per partition and hands out the earliest
 * head once every partition still being read has one (ties: the lower
 * partition). The buffer is bounded (QT_SRC_TOPIC_BUF_PER_PART messages
 * times the partitions, in all); past that, the earliest head of those
 * buffered goes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonscan.h"
#include "core/log.h"
#include "core/qtime.h"
#include "core/topic.h"
#include "replayer/replay.h"

/* Longest silence from the cluster before a read is an error. */
#define QT_SRC_TOPIC_IDLE_NS (30 * QT_NS_PER_SEC)
/* Most partitions a topic source handles. */
#define QT_SRC_TOPIC_MAXPART 4096
/* Messages buffered per partition for the merge, at most. A fetch brings up
 * to 1 MiB per partition (about 6000 quotes), so this holds one in full. */
#define QT_SRC_TOPIC_BUF_PER_PART 10000

/* One partition's messages waiting for the merge, in offset order:
 * m[head..len), with their event times in ev. */
typedef struct qt_src_part {
    rd_kafka_message_t **m;
    int64_t *ev;
    size_t head, len, cap;
} qt_src_part;

typedef struct qt_src_topic {
    qt_source base;
    const qt_kopts *ko;
    char *topic;
    qt_pos from;
    qt_topic_reader *r;
    rd_kafka_message_t *cur; /* the message handed out last */
    int npart;
    int64_t *end; /* exclusive end offset per partition; -1 = none */
    qt_src_part *parts;
    size_t buffered, buf_max;
    const char *const *symbols;
    size_t nsymbols;
} qt_src_topic;

static int qt_src_topic_want(const qt_src_topic *s, const rd_kafka_message_t *m)
{
    if (m->partition < 0 || m->partition >= s->npart)
        return 0;
    if (s->end[m->partition] >= 0 && m->offset >= s->end[m->partition])
        return 0;
    /* what arrived after the replay started is not in the selection */
    if (m->offset >= qt_topic_reader_end(s->r, m->partition))
        return 0;
    if (!s->nsymbols)
        return 1;
    for (size_t i = 0; i < s->nsymbols; i++)
        if (m->key_len == strlen(s->symbols[i]) &&
            memcmp(m->key, s->symbols[i], m->key_len) == 0)
            return 1;
    return 0;
}

/* The quote's event time from its "t" member; the Kafka timestamp (ms) when
 * the value has none. */
static int64_t qt_src_topic_event(const rd_kafka_message_t *m)
{
    const char *v;
    size_t vl;
    int64_t ns;
    if (m->payload &&
        qt_json_member(m->payload, m->len, "t", &v, &vl, NULL, 0) == QT_OK && vl >= 2 &&
        v[0] == '"' && qt_time_parse(v + 1, vl - 2, &ns, NULL, 0) == QT_OK)
        return ns;
    return rd_kafka_message_timestamp(m, NULL) * QT_NS_PER_MS;
}

/* Appends m to its partition's buffer; -1 when out of memory. */
static int qt_src_part_push(qt_src_part *q, rd_kafka_message_t *m, int64_t ev)
{
    if (q->head > 0 && q->len == q->cap) {
        memmove(q->m, q->m + q->head, (q->len - q->head) * sizeof *q->m);
        memmove(q->ev, q->ev + q->head, (q->len - q->head) * sizeof *q->ev);
        q->len -= q->head;
        q->head = 0;
    }
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        rd_kafka_message_t **nm = realloc(q->m, cap * sizeof *nm);
        int64_t *nev;
        if (!nm)
            return -1;
        q->m = nm;
        if (!(nev = realloc(q->ev, cap * sizeof *nev)))
            return -1;
        q->ev = nev;
        q->cap = cap;
    }
    q->m[q->len] = m;
    q->ev[q->len] = ev;
    q->len++;
    return 0;
}

/* Destroys every buffered message. */
static void qt_src_topic_drop(qt_src_topic *st)
{
    for (int p = 0; st->parts && p < st->npart; p++) {
        qt_src_part *q = &st->parts[p];
        while (q->head < q->len)
            rd_kafka_message_destroy(q->m[q->head++]);
        q->head = q->len = 0;
    }
    st->buffered = 0;
}

static int qt_src_topic_next(qt_source *s, qt_replay_msg *out, char *err, size_t errsz)
{
    qt_src_topic *st = (qt_src_topic *)s;
    int64_t idle_since = qt_mono_ns();
    if (st->cur) {
        rd_kafka_message_destroy(st->cur);
        st->cur = NULL;
    }
    for (;;) {
        int best = -1, waiting = 0;
        rd_kafka_message_t *m = NULL;
        qt_src_part *q;
        int r;
        for (int p = 0; p < st->npart; p++) {
            q = &st->parts[p];
            if (q->head < q->len) {
                if (best < 0 ||
                    q->ev[q->head] < st->parts[best].ev[st->parts[best].head])
                    best = p;
            } else if (!qt_topic_reader_part_done(st->r, p, st->end[p])) {
                waiting = 1;
            }
        }
        if (best >= 0 && (!waiting || st->buffered >= st->buf_max)) {
            q = &st->parts[best];
            m = q->m[q->head];
            out->event_ns = q->ev[q->head];
            q->head++;
            st->buffered--;
            st->cur = m;
            out->pos = m->offset;
            out->partition = m->partition;
            out->key = m->key;
            out->key_len = m->key ? m->key_len : 0;
            out->value = m->payload;
            out->value_len = m->len;
            out->recv_ns = 0;
            return 1;
        }
        if (best < 0 && !waiting)
            return 0;
        r = qt_topic_reader_next(st->r, 200, &m, err, errsz);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (qt_mono_ns() - idle_since > QT_SRC_TOPIC_IDLE_NS) {
                qt_fail(QT_ETIMEOUT, err, errsz, "no message from '%s' for 30 s before its end",
                        st->topic);
                return -1;
            }
            continue;
        }
        idle_since = qt_mono_ns();
        if (!qt_src_topic_want(st, m)) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (qt_src_part_push(&st->parts[m->partition], m, qt_src_topic_event(m)) < 0) {
            rd_kafka_message_destroy(m);
            st->base.last_err = QT_ENOMEM;
            qt_fail(QT_ENOMEM, err, errsz, "out of memory");
            return -1;
        }
        st->buffered++;
    }
}

static qt_err qt_src_topic_rewind(qt_source *s, char *err, size_t errsz)
{
    qt_src_topic *st = (qt_src_topic *)s;
    if (st->cur) {
        rd_kafka_message_destroy(st->cur);
        st->cur = NULL;
    }
    qt_src_topic_drop(st);
    qt_topic_reader_free(st->r);
    st->r = NULL;
    return qt_topic_reader_open(st->ko, st->topic, &st->from, NULL, 0, &st->r, err, errsz);
}

static size_t qt_src_topic_resume(qt_source *s, int64_t pos, int32_t partition, char *buf,
                                  size_t n)
{
    qt_src_topic *st = (qt_src_topic *)s;
    int r;
    (void)partition;
    if (st->npart != 1)
        return 0;
    r = snprintf(buf, n, "offset:%" PRId64, pos);
    return r < 0 ? 0 : (size_t)r;
}

static void qt_src_topic_free(qt_source *s)
{
    qt_src_topic *st = (qt_src_topic *)s;
    if (!st)
        return;
    if (st->cur)
        rd_kafka_message_destroy(st->cur);
    qt_src_topic_drop(st);
    for (int p = 0; st->parts && p < st->npart; p++) {
        free(st->parts[p].m);
        free(st->parts[p].ev);
    }
    free(st->parts);
    qt_topic_reader_free(st->r);
    free(st->end);
    free(st->topic);
    free(st);
}

/* Start offsets per partition of a reader (its assignment). */
static qt_err qt_src_topic_offsets(qt_topic_reader *r, int npart, int64_t *off, char *err,
                                   size_t errsz)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_resp_err_t rc = rd_kafka_assignment(qt_topic_reader_handle(r), &l);
    if (rc)
        return qt_fail(QT_EKAFKA, err, errsz, "cannot read assignment: %s", rd_kafka_err2str(rc));
    for (int p = 0; p < npart; p++)
        off[p] = -1;
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].partition >= 0 && l->elems[i].partition < npart)
            off[l->elems[i].partition] = l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return QT_OK;
}

static qt_err qt_src_topic_parse(const char *text, int is_to, qt_pos *p, char *err, size_t errsz)
{
    char e2[256];
    qt_err e;
    if (!text) {
        p->kind = is_to ? QT_POS_END : QT_POS_BEGINNING;
        p->v = 0;
        return QT_OK;
    }
    if ((e = qt_pos_parse(text, p, e2, sizeof e2)))
        return qt_fail(e, err, errsz, "--%s: %s", is_to ? "to" : "from", e2);
    if (p->kind == QT_POS_SEQ)
        return qt_fail(QT_EINVAL, err, errsz,
                       "--%s %s: seq:N is a tape position; a topic takes offset:N, a time or "
                       "+DURATION",
                       is_to ? "to" : "from", text);
    return QT_OK;
}

qt_err qt_source_topic_open(const qt_kopts *k, const char *topic, const qt_replay_sel *sel,
                            qt_source **out, char *err, size_t errsz)
{
    qt_src_topic *st;
    qt_pos to;
    int64_t *start = NULL;
    rd_kafka_topic_partition_list_t *l = NULL;
    qt_err e;
    int any = 0;

    *out = NULL;
    st = calloc(1, sizeof *st);
    if (!st || !(st->topic = strdup(topic))) {
        free(st);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    st->base.next = qt_src_topic_next;
    st->base.rewind = qt_src_topic_rewind;
    st->base.resume = qt_src_topic_resume;
    st->base.free = qt_src_topic_free;
    st->base.total = -1;
    st->base.has_recv = 0;
    st->ko = k;
    st->symbols = sel->symbols;
    st->nsymbols = sel->nsymbols;
    if ((e = qt_src_topic_parse(sel->from, 0, &st->from, err, errsz)) ||
        (e = qt_src_topic_parse(sel->to, 1, &to, err, errsz)))
        goto fail;
    if (st->from.kind == QT_POS_OFFSET && to.kind == QT_POS_OFFSET && st->from.v > to.v) {
        e = qt_fail(QT_ERANGE, err, errsz, "--from %s is after --to %s", sel->from, sel->to);
        goto fail;
    }
    if ((st->from.kind == QT_POS_TIME || st->from.kind == QT_POS_REL) &&
        to.kind == st->from.kind && st->from.v > to.v) {
        e = qt_fail(QT_ERANGE, err, errsz, "--from %s is after --to %s", sel->from, sel->to);
        goto fail;
    }
    if ((e = qt_topic_reader_open(k, topic, &st->from, NULL, 0, &st->r, err, errsz)))
        goto fail;
    if (rd_kafka_assignment(qt_topic_reader_handle(st->r), &l) || !l || l->cnt <= 0 ||
        l->cnt > QT_SRC_TOPIC_MAXPART) {
        e = qt_fail(QT_EKAFKA, err, errsz, "cannot read the partitions of '%s'", topic);
        goto fail;
    }
    st->npart = l->cnt;
    rd_kafka_topic_partition_list_destroy(l);
    l = NULL;
    st->end = calloc((size_t)st->npart, sizeof *st->end);
    st->parts = calloc((size_t)st->npart, sizeof *st->parts);
    st->buf_max = (size_t)st->npart * QT_SRC_TOPIC_BUF_PER_PART;
    start = calloc((size_t)st->npart, sizeof *start);
    if (!st->end || !st->parts || !start) {
        e = qt_fail(QT_ENOMEM, err, errsz, "out of memory");
        goto fail;
    }
    if ((e = qt_src_topic_offsets(st->r, st->npart, start, err, errsz)))
        goto fail;
    if (to.kind == QT_POS_END) {
        for (int p = 0; p < st->npart; p++)
            st->end[p] = -1;
    } else if (to.kind == QT_POS_BEGINNING) {
        for (int p = 0; p < st->npart; p++)
            st->end[p] = 0;
    } else if (to.kind == QT_POS_OFFSET) {
        for (int p = 0; p < st->npart; p++)
            st->end[p] = to.v;
    } else {
        qt_topic_reader *tr = NULL;
        if ((e = qt_topic_reader_open(k, topic, &to, NULL, 0, &tr, err, errsz)))
            goto fail;
        e = qt_src_topic_offsets(tr, st->npart, st->end, err, errsz);
        qt_topic_reader_free(tr);
        if (e)
            goto fail;
    }
    /* An empty selection is an error now, not after reading the topic. */
    {
        rd_kafka_t *rk = qt_topic_reader_handle(st->r);
        for (int p = 0; p < st->npart; p++) {
            int64_t lo = 0, hi = 0;
            if ((e = qt_kafka_watermarks(rk, topic, p, &lo, &hi, 10000, err, errsz)))
                goto fail;
            int64_t s = start[p] < 0 ? lo : start[p];
            int64_t en = st->end[p] < 0 || st->end[p] > hi ? hi : st->end[p];
            if (s < en)
                any = 1;
        }
    }
    if (!any) {
        e = qt_fail(QT_ERANGE, err, errsz, "nothing to replay: no messages in [%s, %s) of '%s'",
                    sel->from ? sel->from : "beginning", sel->to ? sel->to : "end", topic);
        goto fail;
    }
    free(start);
    *out = &st->base;
    return QT_OK;
fail:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    free(start);
    qt_src_topic_free(&st->base);
    return e;
}
