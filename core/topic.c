/* quotetape — reading a topic from any position. */
#include "core/topic.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/qtime.h"

/* Bound on metadata and watermark requests. */
#define QT_TOPIC_META_MS 10000

struct qt_topic_reader {
    rd_kafka_t *rk;
    char *topic;
    int npart;
    int64_t *hi_open; /* high watermark per partition at open */
    int64_t *next;    /* next offset per partition (last returned + 1) */
    int has_group;
};

static void qt_topic_assign_at(qt_topic_reader *r, const int64_t *offsets)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->npart);
    for (int p = 0; p < r->npart; p++)
        rd_kafka_topic_partition_list_add(l, r->topic, p)->offset = offsets[p];
    rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Scans every partition from lo[p] for the first message whose timestamp is
 * >= ts_ms (or, with ts_ms < 0, just reads each partition's first timestamp
 * into *min_ts). Results go to found[p] (hi if none). Time positions work on
 * the embedded broker this way, which has no offset look-up by time. */
static qt_err qt_topic_scan(qt_topic_reader *r, const int64_t *lo, int64_t ts_ms,
                            int64_t *found, int64_t *min_ts, char *err, size_t errsz)
{
    int left = 0;
    int64_t deadline = qt_mono_ns() + 60 * QT_NS_PER_SEC;
    char *done = calloc((size_t)r->npart, 1);

    if (!done)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    if (min_ts)
        *min_ts = INT64_MAX;
    for (int p = 0; p < r->npart; p++) {
        found[p] = r->hi_open[p];
        if (lo[p] >= r->hi_open[p])
            done[p] = 1;
        else
            left++;
    }
    qt_topic_assign_at(r, lo);
    while (left > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
        if (qt_mono_ns() > deadline) {
            if (m)
                rd_kafka_message_destroy(m);
            free(done);
            return qt_fail(QT_ETIMEOUT, err, errsz,
                           "timed out scanning '%s' for a time position", r->topic);
        }
        if (!m)
            continue;
        int p = m->partition;
        if (p < 0 || p >= r->npart || done[p]) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                done[p] = 1;
                left--;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (ts_ms < 0) {
            if (ts < *min_ts)
                *min_ts = ts;
            done[p] = 1;
            left--;
        } else if (ts >= ts_ms) {
            found[p] = m->offset;
            done[p] = 1;
            left--;
        } else if (m->offset + 1 >= r->hi_open[p]) {
            done[p] = 1;
            left--;
        }
        rd_kafka_message_destroy(m);
    }
    free(done);
    return QT_OK;
}

qt_err qt_topic_reader_open(const qt_kopts *o, const char *topic, const qt_pos *from,
                            const char *group, int resume, qt_topic_reader **out, char *err,
                            size_t errsz)
{
    qt_topic_reader *r = calloc(1, sizeof *r);
    int64_t *lo = NULL, *start = NULL;
    qt_pos beg = {QT_POS_BEGINNING, 0};
    qt_err e;

    *out = NULL;
    if (!r || !(r->topic = strdup(topic))) {
        free(r);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    if (!from)
        from = &beg;
    if (from->kind == QT_POS_SEQ) {
        e = qt_fail(QT_EINVAL, err, errsz,
                    "seq:%lld is a tape position; a topic takes offset:N", (long long)from->v);
        goto fail;
    }
    r->has_group = group != NULL;
    if ((e = qt_kafka_consumer_new(o, group, &r->rk, err, errsz)))
        goto fail;
    rd_kafka_poll_set_consumer(r->rk);
    if ((e = qt_kafka_partitions(r->rk, topic, &r->npart, QT_TOPIC_META_MS, err, errsz)))
        goto fail;
    r->hi_open = calloc((size_t)r->npart, sizeof *r->hi_open);
    r->next = calloc((size_t)r->npart, sizeof *r->next);
    lo = calloc((size_t)r->npart, sizeof *lo);
    start = calloc((size_t)r->npart, sizeof *start);
    if (!r->hi_open || !r->next || !lo || !start) {
        e = qt_fail(QT_ENOMEM, err, errsz, "out of memory");
        goto fail;
    }
    for (int p = 0; p < r->npart; p++)
        if ((e = qt_kafka_watermarks(r->rk, topic, p, &lo[p], &r->hi_open[p], QT_TOPIC_META_MS,
                                     err, errsz)))
            goto fail;

    switch (from->kind) {
    case QT_POS_BEGINNING:
        memcpy(start, lo, (size_t)r->npart * sizeof *lo);
        if (resume && group) {
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->npart);
            for (int p = 0; p < r->npart; p++)
                rd_kafka_topic_partition_list_add(l, topic, p);
            if (rd_kafka_committed(r->rk, l, QT_TOPIC_META_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
                for (int i = 0; i < l->cnt; i++)
                    if (l->elems[i].offset >= 0 && l->elems[i].partition < r->npart)
                        start[l->elems[i].partition] = l->elems[i].offset;
            rd_kafka_topic_partition_list_destroy(l);
        }
        break;
    case QT_POS_END:
        memcpy(start, r->hi_open, (size_t)r->npart * sizeof *lo);
        break;
    case QT_POS_OFFSET:
        for (int p = 0; p < r->npart; p++)
            start[p] = from->v < lo[p] ? lo[p] : from->v > r->hi_open[p] ? r->hi_open[p] : from->v;
        break;
    case QT_POS_TIME:
    case QT_POS_REL: {
        int64_t ts_ms;
        if (from->kind == QT_POS_REL) {
            int64_t min_ts;
            if ((e = qt_topic_scan(r, lo, -1, start, &min_ts, err, errsz)))
                goto fail;
            ts_ms = min_ts == INT64_MAX ? INT64_MAX : min_ts + from->v / QT_NS_PER_MS;
        } else {
            /* ceil: a message at t_ns rounds down to its ms in Kafka */
            ts_ms = from->v / QT_NS_PER_MS;
        }
        if ((e = qt_topic_scan(r, lo, ts_ms, start, NULL, err, errsz)))
            goto fail;
        break;
    }
    case QT_POS_SEQ:
        break;
    }
    for (int p = 0; p < r->npart; p++)
        r->next[p] = start[p];
    qt_topic_assign_at(r, start);
    free(lo);
    free(start);
    *out = r;
    return QT_OK;
fail:
    free(lo);
    free(start);
    qt_topic_reader_free(r);
    return e;
}

int qt_topic_reader_next(qt_topic_reader *r, int timeout_ms, rd_kafka_message_t **msg, char *err,
                         size_t errsz)
{
    int64_t deadline = qt_mono_ns() + (int64_t)timeout_ms * QT_NS_PER_MS;
    for (;;) {
        int64_t left_ms = (deadline - qt_mono_ns()) / QT_NS_PER_MS;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, left_ms > 0 ? (int)left_ms : 0);
        if (!m)
            return 0;
        if (m->err) {
            rd_kafka_resp_err_t code = m->err;
            if (code == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (m->partition >= 0 && m->partition < r->npart && m->offset > r->next[m->partition])
                    r->next[m->partition] = m->offset;
                rd_kafka_message_destroy(m);
                if (left_ms <= 0)
                    return 0;
                continue;
            }
            if (code == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                code == RD_KAFKA_RESP_ERR__FATAL) {
                qt_fail(QT_EKAFKA, err, errsz, "cannot read '%s': %s", r->topic,
                        rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return -1;
            }
            qt_debug("kafka: reading '%s': %s", r->topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (left_ms <= 0)
                return 0;
            continue;
        }
        if (m->partition >= 0 && m->partition < r->npart)
            r->next[m->partition] = m->offset + 1;
        *msg = m;
        return 1;
    }
}

int qt_topic_reader_at_end(const qt_topic_reader *r)
{
    for (int p = 0; p < r->npart; p++)
        if (r->next[p] < r->hi_open[p])
            return 0;
    return 1;
}

int qt_topic_reader_part_done(const qt_topic_reader *r, int p, int64_t end)
{
    if (p < 0 || p >= r->npart)
        return 1;
    return r->next[p] >= r->hi_open[p] || (end >= 0 && r->next[p] >= end);
}

int64_t qt_topic_reader_end(const qt_topic_reader *r, int p)
{
    return p < 0 || p >= r->npart ? 0 : r->hi_open[p];
}

qt_err qt_topic_reader_commit(qt_topic_reader *r, char *err, size_t errsz)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t rc;
    if (!r->has_group)
        return QT_OK;
    l = rd_kafka_topic_partition_list_new(r->npart);
    for (int p = 0; p < r->npart; p++)
        rd_kafka_topic_partition_list_add(l, r->topic, p)->offset = r->next[p];
    rc = rd_kafka_commit(r->rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
    if (rc)
        return qt_fail(QT_EKAFKA, err, errsz, "cannot commit position on '%s': %s", r->topic,
                       rd_kafka_err2str(rc));
    return QT_OK;
}

rd_kafka_t *qt_topic_reader_handle(qt_topic_reader *r) { return r->rk; }

void qt_topic_reader_free(qt_topic_reader *r)
{
    if (!r)
        return;
    if (r->rk) {
        rd_kafka_assign(r->rk, NULL);
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    free(r->hi_open);
    free(r->next);
    free(r->topic);
    free(r);
}
