/* quotetape — reading a Kafka topic from any position.
 *
 * A reader assigns every partition of a topic (no group join, so it starts
 * at once) from a position: beginning, end, offset:N (on every partition),
 * an absolute time or +DUR from the earliest message. Time positions are
 * found by reading timestamps, because the embedded broker cannot look
 * offsets up by time. The reader remembers each partition's high watermark
 * at open, so "read to the end" has a definite end. */
#ifndef QT_TOPIC_H
#define QT_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "core/error.h"
#include "core/kafka.h"
#include "core/position.h"

typedef struct qt_topic_reader qt_topic_reader;

/* Opens a reader on topic from position from (NULL = beginning). group may
 * be NULL; with a group, qt_topic_reader_commit stores positions and a
 * position of kind QT_POS_BEGINNING resumes from the committed offsets when
 * resume is nonzero. QT_ENOTFOUND if the topic does not exist. */
qt_err qt_topic_reader_open(const qt_kopts *o, const char *topic, const qt_pos *from,
                            const char *group, int resume, qt_topic_reader **out, char *err,
                            size_t errsz);

/* Waits up to timeout_ms for the next message. Returns 1 with *msg set (the
 * caller destroys it with rd_kafka_message_destroy), 0 on timeout, -1 on a
 * fatal error (text in err). Partition EOFs are consumed internally. */
int qt_topic_reader_next(qt_topic_reader *r, int timeout_ms, rd_kafka_message_t **msg, char *err,
                         size_t errsz);

/* Nonzero once every partition has been read up to the high watermark it had
 * when the reader opened. */
int qt_topic_reader_at_end(const qt_topic_reader *r);

/* Nonzero once partition p has no more messages below end (exclusive; < 0
 * for none) for the reader to return: it has been read up to end or to the
 * high watermark it had at open. */
int qt_topic_reader_part_done(const qt_topic_reader *r, int p, int64_t end);

/* Partition p's high watermark when the reader opened (0 for an unknown p). */
int64_t qt_topic_reader_end(const qt_topic_reader *r, int p);

/* Commits the offsets after the last messages returned (group readers). */
qt_err qt_topic_reader_commit(qt_topic_reader *r, char *err, size_t errsz);

/* The consumer handle, for callers that need more. */
rd_kafka_t *qt_topic_reader_handle(qt_topic_reader *r);

void qt_topic_reader_free(qt_topic_reader *r);

#endif
