/* quotetape — replay sink: a Kafka topic through an idempotent producer. */
#define _GNU_SOURCE /* pipe2 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/qtime.h"
#include "replayer/replay.h"

/* How long one produce call may wait on a full local queue. */
#define QT_SINK_QUEUE_WAIT_MS 60000
/* The longest silence from the broker the final flush sits through. */
#define QT_SINK_STALL_MAX_MS 10000

typedef struct qt_sink_kafka {
    qt_sink base;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt; /* held, so no per-message look-up by name */
    char *topic;
    uint64_t produced;
    int timeout_ms;        /* message.timeout.ms in effect */
    int64_t last_progress; /* mono ns when reports last moved (or start) */
    uint64_t reports, seen_reports; /* delivery reports: all, as of last_progress */
    int stalled;           /* no report for timeout_ms with messages out */
    int connect_timeout_ms;
    int answered;          /* the cluster answered a metadata request */
    char *brokers;         /* for messages; NULL = from -F/-X */
    int warm_pipe[2];      /* for warm(): the kernel's pipe path; -1 = none */
    int rehearse;          /* warm() may call producev (see there) */
    uint64_t rehearsed;    /* rehearsals librdkafka refused, as meant */
    uint64_t rehearsals_queued, rehearsals_out; /* ones it took, and not reported yet */
} qt_sink_kafka;

/* The opaque of warm()'s rehearsal messages: real ones carry a position,
 * which is never negative. */
#define QT_SINK_KAFKA_REHEARSAL ((void *)(intptr_t)-2)

/* Delivery report: counts confirmations and remembers the lowest failed
 * position (each message's opaque is its tape seq or topic offset). */
static void qt_sink_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    qt_sink_kafka *k = opaque;
    int64_t pos = (int64_t)(intptr_t)m->_private;
    (void)rk;
    if (m->_private == QT_SINK_KAFKA_REHEARSAL) {
        k->rehearsals_out--; /* one that was queued (see warm()), now failed */
        return;
    }
    k->reports++;
    if (!m->err) {
        k->base.delivered++;
        return;
    }
    k->base.failed++;
    if (!k->base.failure[0])
        snprintf(k->base.failure, sizeof k->base.failure, "%s", rd_kafka_err2str(m->err));
    if (k->base.first_failed_pos < 0 || pos < k->base.first_failed_pos) {
        k->base.first_failed_pos = pos;
        k->base.first_failed_part = m->partition;
    }
}

/* Serves delivery reports for up to timeout_ms; notes when the last ones
 * came (one clock read per poll, not per report). */
static void qt_sink_kafka_poll(qt_sink_kafka *k, int timeout_ms)
{
    rd_kafka_poll(k->rk, timeout_ms);
    if (k->reports != k->seen_reports) {
        k->seen_reports = k->reports;
        k->last_progress = qt_mono_ns();
    }
}

/* Fails when the broker has been silent too long with messages out. Before
 * its first delivery report the limit is connect_timeout_ms, and then a
 * metadata request decides: no answer (unreachable) or a topic error fails,
 * an answer only marks the cluster slow and limit_ms applies from then on. */
static qt_err qt_sink_kafka_silence(qt_sink_kafka *k, int limit_ms, char *err, size_t errsz)
{
    int first = k->reports == 0 && !k->answered;
    int ms = first ? k->connect_timeout_ms : limit_ms;
    if (k->produced == k->base.delivered + k->base.failed ||
        qt_mono_ns() - k->last_progress <= (int64_t)ms * QT_NS_PER_MS)
        return QT_OK;
    if (first) {
        /* Nothing confirmed yet: unreachable, or only slow (a remote
         * cluster's handshake, a topic still being created)? Ask. */
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t r = rd_kafka_metadata(k->rk, 0, k->rkt, &md, 500);
        if (r) {
            k->stalled = 1;
            return qt_fail(QT_EKAFKA, err, errsz,
                           "cannot reach Kafka at '%s' within %d ms (%s); nothing was delivered",
                           k->brokers ? k->brokers : "(from -F/-X)", ms, rd_kafka_err2str(r));
        }
        r = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_metadata_destroy(md);
        if (r) {
            k->stalled = 1;
            return qt_fail(QT_EKAFKA, err, errsz,
                           "Kafka at '%s' answers, but topic '%s' cannot take messages: %s; "
                           "nothing was delivered",
                           k->brokers ? k->brokers : "(from -F/-X)", k->topic,
                           rd_kafka_err2str(r));
        }
        k->answered = 1; /* reachable: from now on message.timeout.ms applies */
        return QT_OK;
    }
    k->stalled = 1;
    return qt_fail(QT_EKAFKA, err, errsz,
                   "no delivery confirmation from Kafka for %d ms (broker down?)", ms);
}

/* Serves delivery reports; fails on a delivery error or on a broker silent
 * for longer than message.timeout.ms with messages out. */
static qt_err qt_sink_kafka_serve(qt_sink_kafka *k, char *err, size_t errsz)
{
    qt_sink_kafka_poll(k, 0);
    if (k->base.failed)
        return qt_fail(QT_EKAFKA, err, errsz, "delivery to '%s' failed: %s", k->topic,
                       k->base.failure);
    /* An idempotent producer may hold messages for a broker that went away
     * well past message.timeout.ms; a silence that long with messages out
     * is a failure now, so the replay does not run on into the void. */
    return qt_sink_kafka_silence(k, k->timeout_ms, err, errsz);
}

static qt_err qt_sink_kafka_idle(qt_sink *s, char *err, size_t errsz)
{
    return qt_sink_kafka_serve((qt_sink_kafka *)s, err, errsz);
}

/* Rehearses sending m: the same producev, with m's key and value, to a
 * partition that cannot exist. librdkafka builds the message (the same
 * allocation and copy) and takes the topic's lock, then refuses it and
 * frees it: nothing is queued or sent. Before that, the default
 * partitioner's CRC of the key; after, a byte through a pipe of our own,
 * for the kernel's side of the wake-up of librdkafka's network thread that
 * the first send after a quiet spell makes.
 *
 * librdkafka refuses at once only while it knows the topic's partitions;
 * otherwise it would hold the message for later (and fail it then). So
 * producev waits for the first delivered quote, and should librdkafka ever
 * take a rehearsal all the same (the topic's metadata expired), rehearsals
 * stop and that one is left out of the flush's count until its report
 * comes. Not with interceptor plugins (-X plugin.library.paths), which
 * would see the rehearsals as sends. */
static void qt_sink_kafka_warm(qt_sink *s, const qt_replay_msg *m)
{
    qt_sink_kafka *k = (qt_sink_kafka *)s;
    char c = 0;

    if (m->key_len > 0)
        (void)rd_kafka_msg_partitioner_consistent(k->rkt, m->key, m->key_len, 1, NULL, NULL);
    if (k->rehearse && k->base.delivered > 0) {
        rd_kafka_resp_err_t r = rd_kafka_producev(
            k->rk, RD_KAFKA_V_RKT(k->rkt), RD_KAFKA_V_PARTITION(INT32_MAX),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
            RD_KAFKA_V_TIMESTAMP(0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(QT_SINK_KAFKA_REHEARSAL), RD_KAFKA_V_END);
        if (r == RD_KAFKA_RESP_ERR_NO_ERROR) {
            k->rehearsals_queued++;
            k->rehearsals_out++;
            k->rehearse = 0;
            qt_debug("kafka: a rehearsed send was queued (topic metadata unknown); "
                     "no more rehearsals");
        } else {
            k->rehearsed++;
        }
    }
    if (k->warm_pipe[1] >= 0 && write(k->warm_pipe[1], &c, 1) == 1)
        (void)!read(k->warm_pipe[0], &c, 1);
}

static qt_err qt_sink_kafka_send(qt_sink *s, const qt_replay_msg *m, int64_t ts_ms, char *err,
                                 size_t errsz)
{
    qt_sink_kafka *k = (qt_sink_kafka *)s;
    qt_err e;
    /* Serve delivery reports every 64 messages: a poll per message (a lock
     * and a clock read each) would cost a fifth of a full-speed replay, and
     * in a paced one idle() serves them while there is time. */
    if ((k->produced & 63) == 0 && (e = qt_sink_kafka_serve(k, err, errsz)))
        return e;
    /* Like qt_kafka_produce, through the held topic handle: on a full local
     * queue, serve delivery reports and retry, so a slow broker slows the
     * replay rather than losing quotes. */
    for (int waited = 0;;) {
        rd_kafka_resp_err_t r = rd_kafka_producev(
            k->rk, RD_KAFKA_V_RKT(k->rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
            RD_KAFKA_V_TIMESTAMP(ts_ms), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)m->pos), RD_KAFKA_V_END);
        if (r == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return qt_fail(QT_EKAFKA, err, errsz, "cannot produce to '%s': %s", k->topic,
                           rd_kafka_err2str(r));
        if (waited >= QT_SINK_QUEUE_WAIT_MS)
            return qt_fail(QT_ETIMEOUT, err, errsz,
                           "cannot produce to '%s': local queue full for %d ms (broker down?)",
                           k->topic, waited);
        qt_sink_kafka_poll(k, 10);
        waited += 10;
        if ((e = qt_sink_kafka_silence(k, k->timeout_ms, err, errsz)))
            return e;
    }
    if (k->produced == k->base.delivered + k->base.failed)
        k->last_progress = qt_mono_ns(); /* the silence starts with the first one out */
    k->produced++;
    return QT_OK;
}

/* Waits up to timeout_ms for every message out to be confirmed, serving
 * delivery reports. A broker that is gone for good would hold messages until
 * message.timeout.ms expires (30 s by default) and then some, long after
 * pacing ended; so when no delivery report has come for QT_SINK_STALL_MAX_MS
 * (or message.timeout.ms if lower) while messages are out, give up at once.
 * Either way what is still out is purged and fails through its delivery
 * report, so the counts and the resume position cover it. */
static qt_err qt_sink_kafka_flush(qt_sink *s, int timeout_ms, char *err, size_t errsz)
{
    qt_sink_kafka *k = (qt_sink_kafka *)s;
    /* After a stall, a last second for stragglers; none when the broker
     * never answered at all. */
    int wait_ms = !k->stalled ? timeout_ms : k->reports || k->answered ? 1000 : 0;
    int stall_ms = k->timeout_ms < QT_SINK_STALL_MAX_MS ? k->timeout_ms : QT_SINK_STALL_MAX_MS;
    int64_t end = qt_mono_ns() + (int64_t)wait_ms * QT_NS_PER_MS, now;
    qt_err e = QT_OK;
    int left;

    for (;;) {
        /* rd_kafka_flush, not a poll: it also sends what is queued at once
         * rather than after linger.ms, and serves delivery reports. */
        rd_kafka_flush(k->rk, 50);
        qt_sink_kafka_poll(k, 0);
        /* a rehearsal librdkafka took (see warm()) is not ours to wait for */
        if ((left = rd_kafka_outq_len(k->rk) - (int)k->rehearsals_out) <= 0)
            break;
        if (k->reports == 0 && !k->answered &&
            (e = qt_sink_kafka_silence(k, stall_ms, err, errsz)))
            break;
        now = qt_mono_ns();
        if (k->produced > k->base.delivered + k->base.failed &&
            now - k->last_progress > (int64_t)stall_ms * QT_NS_PER_MS) {
            e = qt_fail(QT_EKAFKA, err, errsz,
                        "%d message(s) not delivered: no delivery report from Kafka for %d ms "
                        "(broker gone?)",
                        left, stall_ms);
            break;
        }
        if (now >= end) {
            e = qt_fail(QT_ETIMEOUT, err, errsz,
                        "%d message(s) not confirmed by Kafka after %d ms", left, wait_ms);
            break;
        }
    }
    if (e) {
        /* Whatever is still queued or in flight fails now, through the
         * delivery reports, so the resume position covers it. */
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(k->rk, 1000);
        rd_kafka_poll(k->rk, 0);
    }
    if (k->rehearsed || k->rehearsals_queued)
        qt_debug("kafka: %" PRIu64 " rehearsed sends refused as meant, %" PRIu64 " queued",
                 k->rehearsed, k->rehearsals_queued);
    return e;
}

static void qt_sink_kafka_free(qt_sink *s)
{
    qt_sink_kafka *k = (qt_sink_kafka *)s;
    if (!k)
        return;
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk) {
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(k->rk, 1000);
        rd_kafka_destroy(k->rk);
    }
    if (k->warm_pipe[0] >= 0) {
        close(k->warm_pipe[0]);
        close(k->warm_pipe[1]);
    }
    free(k->topic);
    free(k->brokers);
    free(k);
}

static int qt_sink_kafka_user_set(const qt_kopts *ko, const char *key)
{
    for (size_t i = 0; i < ko->nprops; i++)
        if (strcmp(ko->props[i].key, key) == 0)
            return 1;
    return 0;
}

qt_err qt_sink_kafka_open(qt_kopts *ko, const char *topic, int connect_timeout_ms, qt_sink **out,
                          char *err, size_t errsz)
{
    qt_sink_kafka *k;
    int user_timeout = 0, timeout_ms = 30000;
    long queue_max = 10000;
    qt_err e;

    *out = NULL;
    for (size_t i = 0; i < ko->nprops; i++)
        user_timeout |= strcmp(ko->props[i].key, "message.timeout.ms") == 0 ||
                        strcmp(ko->props[i].key, "delivery.timeout.ms") == 0;
    if (!user_timeout && (e = qt_kopts_add_kv(ko, "message.timeout.ms=30000", err, errsz)))
        return e;
    /* Bound the local queue: a full-speed replay outruns the broker, and
     * without a cap the queue (and the process) grows with the tape. A full
     * queue makes the replay wait, it never drops. */
    if (!qt_sink_kafka_user_set(ko, "queue.buffering.max.kbytes") &&
        (e = qt_kopts_add_kv(ko, "queue.buffering.max.kbytes=8192", err, errsz)))
        return e;
    /* Each queued message also costs librdkafka a few hundred bytes of its
     * own; 10000 in flight keep batches full at no cost in speed. */
    if (!qt_sink_kafka_user_set(ko, "queue.buffering.max.messages") &&
        (e = qt_kopts_add_kv(ko, "queue.buffering.max.messages=10000", err, errsz)))
        return e;
    for (size_t i = 0; i < ko->nprops; i++) {
        long v = strtol(ko->props[i].value, NULL, 10);
        if (strcmp(ko->props[i].key, "message.timeout.ms") == 0 ||
            strcmp(ko->props[i].key, "delivery.timeout.ms") == 0)
            timeout_ms = v > 0 && v < INT_MAX ? (int)v : 30000;
        else if (strcmp(ko->props[i].key, "queue.buffering.max.messages") == 0)
            queue_max = v > 0 && v < INT_MAX ? v : 10000;
    }
    /* Batches of a quarter of the queue, so that the queue holds several:
     * the replay keeps filling it while batches are in flight. With
     * librdkafka's default (up to 1 MB, about 7000 quotes) the queue held
     * one and a half, and the replay stalled on every acknowledgement. */
    if (!qt_sink_kafka_user_set(ko, "batch.num.messages")) {
        char kv[64];
        long batch = queue_max / 4 < 1 ? 1 : queue_max / 4 > 1000000 ? 1000000 : queue_max / 4;
        snprintf(kv, sizeof kv, "batch.num.messages=%ld", batch); /* librdkafka's range */
        if ((e = qt_kopts_add_kv(ko, kv, err, errsz)))
            return e;
    }
    k = calloc(1, sizeof *k);
    if (!k || !(k->topic = strdup(topic)) || (ko->brokers && !(k->brokers = strdup(ko->brokers)))) {
        if (k)
            free(k->topic);
        free(k);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    k->warm_pipe[0] = k->warm_pipe[1] = -1;
    k->rehearse = !qt_sink_kafka_user_set(ko, "plugin.library.paths");
    if (pipe2(k->warm_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        k->warm_pipe[0] = k->warm_pipe[1] = -1; /* warm() does without */
    k->base.send = qt_sink_kafka_send;
    k->base.idle = qt_sink_kafka_idle;
    k->base.warm = qt_sink_kafka_warm;
    k->base.flush = qt_sink_kafka_flush;
    k->base.free = qt_sink_kafka_free;
    k->base.first_failed_pos = -1;
    k->base.first_failed_part = -1;
    k->timeout_ms = timeout_ms;
    k->connect_timeout_ms = connect_timeout_ms;
    k->last_progress = qt_mono_ns();
    if ((e = qt_kafka_producer_new(ko, 1, qt_sink_kafka_dr, k, &k->rk, err, errsz)))
        goto fail;
    /* The topic handle makes the producer connect and look the topic up in
     * the background, while the caller opens its source. Nothing waits for
     * the cluster here: the first messages queue up meanwhile, and a
     * cluster that never answers fails the replay connect_timeout_ms after
     * the first message (qt_sink_kafka_silence), with nothing delivered. */
    if (!(k->rkt = rd_kafka_topic_new(k->rk, topic, NULL))) {
        e = qt_fail(QT_EKAFKA, err, errsz, "cannot use topic '%s': %s", topic,
                    rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    *out = &k->base;
    return QT_OK;
fail:
    qt_sink_kafka_free(&k->base);
    return e;
}
