/* quotetape — the embedded broker (librdkafka mock cluster). */
#include "core/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qt_broker {
    rd_kafka_t *rk; /* the handle the mock cluster lives on */
    rd_kafka_mock_cluster_t *mc;
    int partitions;
};

qt_err qt_broker_start(int nbrokers, int partitions, qt_broker **out, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf;
    char e2[512];
    qt_broker *b;

    *out = NULL;
    if (nbrokers < 1 || nbrokers > 16)
        return qt_fail(QT_EUSAGE, err, errsz, "broker count %d is not in 1..16", nbrokers);
    if (partitions < 1 || partitions > 1000)
        return qt_fail(QT_EUSAGE, err, errsz, "partition count %d is not in 1..1000",
                       partitions);
    b = calloc(1, sizeof *b);
    if (!b)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    b->partitions = partitions;
    conf = rd_kafka_conf_new();
    /* The host handle never connects anywhere; keep it quiet. */
    rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e2, sizeof e2);
    if (!b->rk) {
        rd_kafka_conf_destroy(conf);
        free(b);
        return qt_fail(QT_EKAFKA, err, errsz, "cannot start embedded broker: %s", e2);
    }
    b->mc = rd_kafka_mock_cluster_new(b->rk, nbrokers);
    if (!b->mc) {
        rd_kafka_destroy(b->rk);
        free(b);
        return qt_fail(QT_EKAFKA, err, errsz, "cannot start embedded broker on loopback");
    }
    *out = b;
    return QT_OK;
}

const char *qt_broker_bootstraps(const qt_broker *b)
{
    return rd_kafka_mock_cluster_bootstraps(b->mc);
}

qt_err qt_broker_create_topic(qt_broker *b, const char *topic, int partitions, char *err,
                              size_t errsz)
{
    rd_kafka_resp_err_t r = rd_kafka_mock_topic_create(
        b->mc, topic, partitions > 0 ? partitions : b->partitions, 1);
    if (r)
        return qt_fail(QT_EKAFKA, err, errsz, "cannot create topic '%s': %s", topic,
                       rd_kafka_err2str(r));
    return QT_OK;
}

qt_err qt_broker_set_down(qt_broker *b, int id, int down)
{
    rd_kafka_resp_err_t r = down ? rd_kafka_mock_broker_set_down(b->mc, id)
                                 : rd_kafka_mock_broker_set_up(b->mc, id);
    return r ? QT_EKAFKA : QT_OK;
}

rd_kafka_mock_cluster_t *qt_broker_mock(qt_broker *b) { return b->mc; }

void qt_broker_free(qt_broker *b)
{
    if (!b)
        return;
    rd_kafka_mock_cluster_destroy(b->mc);
    rd_kafka_destroy(b->rk);
    free(b);
}
