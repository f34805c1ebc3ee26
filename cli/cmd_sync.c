/* quotetape sync — produce to Kafka what a tape holds and Kafka never confirmed. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/qtime.h"
#include "recorder/recorder.h"

static const char qt_sync_help[] =
    "usage: quotetape sync --db TAPE [-b BROKERS] [-X KEY=VALUE] [-F FILE] [--topic TOPIC]\n"
    "                      [--timeout DUR]\n"
    "\n"
    "Produces to the topic every quote of the tape after the last one Kafka confirmed\n"
    "(the tape keeps that mark per topic). Quotes the topic already holds are not produced\n"
    "again: each message carries its tape seq in the header qt.seq. The recorder runs\n"
    "the same catch-up when it starts. Do not run it while a recorder writes to the tape.\n"
    "\n"
    "options:\n"
    "  -d, --db TAPE            the tape (required)\n"
    "  -t, --topic TOPIC        the quotes topic (default quotes)\n"
    "      --timeout DUR        wait at most DUR for Kafka to confirm (default 60s)\n"
    "  -b, --brokers HOST:PORT  Kafka bootstrap servers (default $QUOTETAPE_BROKERS)\n"
    "  -X, --property K=V       any librdkafka property\n"
    "  -F, --config FILE        client.properties (Confluent Cloud style)\n"
    "  -v, --verbose / -q, --quiet\n"
    "  -h, --help\n"
    "\n"
    "example:\n"
    "  quotetape sync --db spy.db -b 127.0.0.1:9092 --topic quotes\n";

int qt_cmd_sync(int argc, char **argv)
{
    static const struct option lo[] = {QT_CLI_COMMON_LONG,
                                       {"db", required_argument, 0, 'd'},
                                       {"topic", required_argument, 0, 't'},
                                       {"timeout", required_argument, 0, 1},
                                       {0, 0, 0, 0}};
    const char *db = NULL, *topic = "quotes";
    int64_t timeout = 60 * QT_NS_PER_SEC, produced = 0, skipped = 0;
    char err[1024];
    qt_kopts k;
    qt_err e = QT_OK;
    int c;

    qt_kopts_init(&k);
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:t:" QT_CLI_KAFKA_SHORT QT_CLI_LOG_SHORT "h", lo,
                            NULL)) != -1) {
        int r = qt_cli_common(c, optarg, &k, &e);
        if (r < 0) {
            qt_kopts_release(&k);
            return qt_exit_code(e);
        }
        if (r > 0)
            continue;
        switch (c) {
        case 'd': db = optarg; break;
        case 't': topic = optarg; break;
        case 1:
            if (qt_dur_parse(optarg, &timeout, err, sizeof err) || timeout <= 0) {
                qt_kopts_release(&k);
                return qt_cli_usage_error("sync", "--timeout takes a duration like 30s, not '%s'",
                                          optarg);
            }
            break;
        case 'h':
            fputs(qt_sync_help, stdout);
            qt_kopts_release(&k);
            return 0;
        default:
            qt_kopts_release(&k);
            return qt_cli_usage_error("sync", "unknown option");
        }
    }
    if (optind < argc || !db) {
        qt_kopts_release(&k);
        return optind < argc ? qt_cli_usage_error("sync", "unexpected argument '%s'", argv[optind])
                             : qt_cli_usage_error("sync", "--db is required");
    }
    e = qt_rec_sync(db, &k, topic, (int)(timeout / QT_NS_PER_MS), &produced, &skipped, err,
                    sizeof err);
    qt_kopts_release(&k);
    if (e)
        return qt_cli_fail(e, err);
    qt_info("synced '%s' to topic '%s': %lld quote(s) produced, %lld already there", db, topic,
            (long long)produced, (long long)skipped);
    return 0;
}
