/* qt_consume — a small consumer for tests: prints every message of a topic
 * as "key<TAB>timestamp_ms<TAB>value\n" (kcat's -f '%k\t%T\t%s\n'), from a
 * position to the end the topic had when it started, then exits.
 *
 * usage: qt_consume -b BROKERS -t TOPIC [--from POS] [--partition-order]
 * Reads through core/topic.h, the project's own reader. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/kafka.h"
#include "core/log.h"
#include "core/position.h"
#include "core/topic.h"

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"from", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    const char *topic = NULL, *from = NULL;
    qt_kopts ko;
    qt_pos pos = {QT_POS_BEGINNING, 0};
    qt_topic_reader *r = NULL;
    char err[512];
    qt_err e;
    int c, rc = 0;
    long n = 0;

    qt_kopts_init(&ko);
    while ((c = getopt_long(argc, argv, "b:t:X:", lo, NULL)) != -1) {
        switch (c) {
        case 'b': qt_kopts_set_brokers(&ko, optarg); break;
        case 't': topic = optarg; break;
        case 'X':
            if (qt_kopts_add_kv(&ko, optarg, err, sizeof err)) {
                fprintf(stderr, "qt_consume: %s\n", err);
                return 2;
            }
            break;
        case 'f': from = optarg; break;
        default: fprintf(stderr, "usage: qt_consume -b BROKERS -t TOPIC [--from POS]\n"); return 2;
        }
    }
    if (!topic) {
        fprintf(stderr, "usage: qt_consume -b BROKERS -t TOPIC [--from POS]\n");
        return 2;
    }
    qt_log_set_level(QT_LOG_ERROR);
    if (from && (e = qt_pos_parse(from, &pos, err, sizeof err))) {
        fprintf(stderr, "qt_consume: %s\n", err);
        return 2;
    }
    if ((e = qt_topic_reader_open(&ko, topic, &pos, NULL, 0, &r, err, sizeof err))) {
        fprintf(stderr, "qt_consume: %s\n", err);
        qt_kopts_release(&ko);
        return 1;
    }
    while (!qt_topic_reader_at_end(r)) {
        rd_kafka_message_t *m = NULL;
        int got = qt_topic_reader_next(r, 10000, &m, err, sizeof err);
        if (got < 0) {
            fprintf(stderr, "qt_consume: %s\n", err);
            rc = 1;
            break;
        }
        if (got == 0) {
            fprintf(stderr, "qt_consume: no message for 10 s before the end of '%s'\n", topic);
            rc = 1;
            break;
        }
        printf("%.*s\t%lld\t%.*s\n", (int)m->key_len, m->key ? (const char *)m->key : "",
               (long long)rd_kafka_message_timestamp(m, NULL), (int)m->len,
               m->payload ? (const char *)m->payload : "");
        rd_kafka_message_destroy(m);
        n++;
    }
    qt_topic_reader_free(r);
    qt_kopts_release(&ko);
    fprintf(stderr, "qt_consume: %ld message(s)\n", n);
    return rc;
}
