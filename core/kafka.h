/* quotetape — Kafka client set-up shared by every stage.
 *
 * Options as kcat takes them: -b brokers (default $QUOTETAPE_BROKERS),
 * -X key=value (any librdkafka property), -F file (a client.properties file
 * as Confluent Cloud hands out: key=value lines, # and ! comments, blank
 * lines). Later options override earlier ones; -b overrides bootstrap.servers
 * from -F. Secrets (sasl.password, ...) never reach a log: errors name the
 * key and file:line, never the value. */
#ifndef QT_KAFKA_H
#define QT_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "core/error.h"

#define QT_KOPTS_MAX 64

/* One property and where it came from (for file:line errors). */
typedef struct qt_kprop {
    char *key, *value;
    char *origin; /* "client.properties:12" or "-X" */
} qt_kprop;

typedef struct qt_kopts {
    char *brokers; /* -b or $QUOTETAPE_BROKERS; NULL if neither */
    qt_kprop props[QT_KOPTS_MAX];
    size_t nprops;
} qt_kopts;

void qt_kopts_init(qt_kopts *o);
void qt_kopts_release(qt_kopts *o);

/* -b */
qt_err qt_kopts_set_brokers(qt_kopts *o, const char *brokers);
/* -X key=value */
qt_err qt_kopts_add_kv(qt_kopts *o, const char *kv, char *err, size_t errsz);
/* -F file: reads a properties file; errors name file:line. */
qt_err qt_kopts_add_file(qt_kopts *o, const char *path, char *err, size_t errsz);

/* Callback for each key/value read from a properties file (the fuzzable core
 * of qt_kopts_add_file). Return nonzero to stop. */
typedef int (*qt_props_cb)(const char *key, const char *value, int line, void *ud);
/* Parses properties text: key=value or key: value, # and ! comments, blank
 * lines, trailing whitespace trimmed, \ line continuation. A line with no
 * '=' or ':' is QT_ECONFIG "name:line: expected key=value". */
qt_err qt_props_parse(const char *text, size_t len, const char *name, qt_props_cb cb, void *ud,
                      char *err, size_t errsz);

/* Builds a librdkafka configuration: defaults, then props, then brokers.
 * Missing brokers: QT_EUSAGE "no Kafka brokers: use -b host:port, -F file or
 * set QUOTETAPE_BROKERS". A property librdkafka refuses: QT_ECONFIG naming
 * the key and its origin. */
qt_err qt_kafka_conf(const qt_kopts *o, rd_kafka_conf_t **out, char *err, size_t errsz);

/* A producer tuned for quotes: idempotent when asked (acks=all, in order, no
 * duplicates on retry), lz4, linger 5 ms. dr_cb may be NULL. */
qt_err qt_kafka_producer_new(const qt_kopts *o, int idempotent,
                             void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                             void *opaque, rd_kafka_t **out, char *err, size_t errsz);

/* Produces one message (copying key and value), key = symbol, timestamp in
 * ms. On a full local queue it polls and retries for up to timeout_ms, so a
 * slow broker slows the caller rather than losing data. msg_opaque reaches
 * the delivery report. */
qt_err qt_kafka_produce(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                        size_t key_len, const void *value, size_t value_len, int64_t ts_ms,
                        void *msg_opaque, int timeout_ms, char *err, size_t errsz);

/* Flushes for up to timeout_ms; QT_ETIMEOUT with the number still in flight
 * if the broker did not confirm them all. */
qt_err qt_kafka_flush(rd_kafka_t *rk, int timeout_ms, char *err, size_t errsz);

/* A consumer that reads by explicit assignment (no group join, so it starts
 * at once). group may be NULL; with a group, offsets can be committed. */
qt_err qt_kafka_consumer_new(const qt_kopts *o, const char *group, rd_kafka_t **out, char *err,
                             size_t errsz);

/* Number of partitions of topic (QT_ENOTFOUND if it does not exist). */
qt_err qt_kafka_partitions(rd_kafka_t *rk, const char *topic, int *n, int timeout_ms, char *err,
                           size_t errsz);

/* Low and high watermark of one partition. */
qt_err qt_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *lo,
                           int64_t *hi, int timeout_ms, char *err, size_t errsz);

#endif
