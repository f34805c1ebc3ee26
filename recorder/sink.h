/* quotetape — the recorder's dual sink: the tape first, then Kafka.
 *
 * The tape is the store of record. Appends go into a batch transaction; a
 * batch is committed by qt_sink_commit (the recorder's writer thread calls
 * it after each batch it is handed, see writer.h). Only committed rows are
 * produced to Kafka, so Kafka never holds a quote the tape lost in a crash.
 *
 * Kafka delivery is tracked per quote: the tape stores (table kafka_acked)
 * the highest quote seq such that every quote up to it is confirmed, written
 * in the same transaction as the next batch. Quotes after it are produced
 * again by the catch-up pump at the next start or by `quotetape sync`. Each
 * Kafka message carries the header "qt.seq" (the tape seq); before catching
 * up, the sink reads the last message of every partition, so quotes Kafka
 * already holds (delivered but not yet acked in the tape when a recorder was
 * killed) are not produced twice.
 *
 * The producer is idempotent with message.timeout.ms=0 (retry until the
 * broker returns), so a Kafka outage only fills the local queue; when it is
 * full the sink stops producing live and later catches up from the tape.
 * Nothing here blocks for long: produce never waits, polls are 0 ms, except
 * qt_sink_drain which is bounded by its timeout.
 *
 * Single-threaded (the recorder runs it on its writer thread); the delivery
 * reports run inside qt_sink_poll. */
#ifndef QT_SINK_H
#define QT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/kafka.h"
#include "core/quote.h"
#include "core/tape.h"

typedef struct qt_sink qt_sink;

typedef struct qt_sink_opts {
    const char *db;              /* tape path, created if missing */
    const qt_kopts *kopts;       /* NULL: tape only */
    const char *topic;           /* quotes topic (with kopts) */
    const char *trades_topic;    /* NULL: trades stay in the tape */
    const char *bars_topic;      /* NULL: bars stay in the tape */
    size_t batch_max;            /* rows per transaction; 0 = 10000 */
    int dedupe;                  /* read partition tails to skip delivered quotes */
} qt_sink_opts;

typedef struct qt_sink_stats {
    int64_t quotes, trades, bars;  /* appended to the tape by this sink */
    int64_t produced;              /* quotes handed to Kafka */
    int64_t delivered;             /* quotes Kafka confirmed */
    int64_t skipped;               /* quotes found already in Kafka */
    int64_t acked;                 /* the tape's acked seq */
    int64_t commits;
    int kafka_live;                /* 1: producing live, 0: catching up from the tape */
    int kafka_failed;              /* Kafka gave up (non-retriable error) */
} qt_sink_stats;

/* Opens the tape (and the producer with kopts). Errors: those of
 * qt_tape_open, QT_EKAFKA / QT_ECONFIG / QT_EUSAGE from the producer. */
qt_err qt_sink_open(const qt_sink_opts *o, qt_sink **out, char *err, size_t errsz);

/* Starts a session in the tape; returns its id. */
qt_err qt_sink_session_begin(qt_sink *s, const qt_session_info *si, int64_t *id, char *err,
                             size_t errsz);

/* Appends into the current batch (the raw text is copied). */
qt_err qt_sink_quote(qt_sink *s, const qt_quote *q, const char *raw, size_t raw_len, char *err,
                     size_t errsz);
qt_err qt_sink_trade(qt_sink *s, const qt_trade *t, const char *raw, size_t raw_len, char *err,
                     size_t errsz);
qt_err qt_sink_bar(qt_sink *s, const qt_bar *b, const char *raw, size_t raw_len, char *err,
                   size_t errsz);
/* Records an outage in the tape (committed with the next batch). */
qt_err qt_sink_gap(qt_sink *s, int64_t from_ns, int64_t to_ns, const char *reason, char *err,
                   size_t errsz);

/* Rows waiting in the open batch; the caller commits when it reaches
 * qt_sink_batch_full. */
int qt_sink_batch_full(const qt_sink *s);
int qt_sink_pending(const qt_sink *s);

/* Commits the batch (with the acked seq), then produces it to Kafka (or
 * pumps the backlog when catching up). */
qt_err qt_sink_commit(qt_sink *s, char *err, size_t errsz);

/* Serves delivery reports and, when catching up, pumps the backlog. Never
 * blocks. */
void qt_sink_poll(qt_sink *s);

/* Commits, produces everything the tape holds after the acked seq and waits
 * up to timeout_ms for Kafka to confirm it; the acked seq is saved.
 * QT_ETIMEOUT if Kafka did not confirm everything in time (the rest is left
 * for `quotetape sync`). */
qt_err qt_sink_drain(qt_sink *s, int timeout_ms, char *err, size_t errsz);

void qt_sink_get_stats(const qt_sink *s, qt_sink_stats *st);

/* Ends the session (if one was begun) at ended_ns, commits, and frees
 * everything; NULL is fine. Call qt_sink_drain first for a clean stop. */
void qt_sink_free(qt_sink *s, int64_t ended_ns);

#endif
