/* quotetape — the embedded broker: librdkafka's mock cluster on loopback.
 *
 * A real Kafka protocol peer for demos and tests, in-process. Known limits:
 * ephemeral port, about 5 MiB kept per partition, no offset look-up by
 * timestamp, slow first consumer-group join. The tape, not this broker, is
 * the store of record. */
#ifndef QT_BROKER_H
#define QT_BROKER_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/error.h"

typedef struct qt_broker qt_broker;

/* Starts a mock cluster of nbrokers brokers whose auto-created topics get
 * partitions partitions. */
qt_err qt_broker_start(int nbrokers, int partitions, qt_broker **out, char *err, size_t errsz);

/* "127.0.0.1:port[,...]"; valid while the broker lives. */
const char *qt_broker_bootstraps(const qt_broker *b);

/* Creates a topic with an explicit partition count. */
qt_err qt_broker_create_topic(qt_broker *b, const char *topic, int partitions, char *err,
                              size_t errsz);

/* Takes broker id (1..n) down or up: fault injection for tests. */
qt_err qt_broker_set_down(qt_broker *b, int id, int down);

rd_kafka_mock_cluster_t *qt_broker_mock(qt_broker *b);

/* Stops the cluster and frees it; NULL is fine. */
void qt_broker_free(qt_broker *b);

#endif
