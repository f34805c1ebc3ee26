/* quotetape — one binary, subcommand dispatch, nothing else. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} qt_cmds[] = {
    {"record", qt_cmd_record, "record Alpaca's quote stream into a tape and Kafka"},
    {"sync", qt_cmd_sync, "produce to Kafka what a tape holds and Kafka never confirmed"},
    {"replay", qt_cmd_replay, "replay a tape or topic into Kafka, a websocket or stdout"},
    {"window", qt_cmd_window, "5-second tumbling windows of the bid (Flink semantics)"},
    {"view", qt_cmd_view, "chart windows from Kafka: PNG, SVG, terminal or web page"},
    {"chart", qt_cmd_chart, "a report chart straight from a tape"},
    {"demo", qt_cmd_demo, "sample tape -> embedded broker -> windows -> chart"},
    {"import", qt_cmd_import, "read tape JSON lines into a tape"},
    {"export", qt_cmd_export, "write a tape's quotes as JSON lines or CSV"},
    {"info", qt_cmd_info, "sessions, symbols, counts, time range and gaps of a tape"},
    {"broker", qt_cmd_broker, "run the embedded Kafka broker on loopback"},
};

static void qt_usage(FILE *f)
{
    fprintf(f, "usage: quotetape <command> [options]\n"
               "       quotetape <command> --help\n"
               "       quotetape --version\n\n"
               "Record live market quotes once; replay them anywhere, any time.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof qt_cmds / sizeof qt_cmds[0]; i++)
        fprintf(f, "  %-8s %s\n", qt_cmds[i].name, qt_cmds[i].summary);
    fprintf(f, "\nKafka options (every command that talks to Kafka):\n"
               "  -b, --brokers HOST:PORT[,..]  bootstrap servers (default $QUOTETAPE_BROKERS)\n"
               "  -X, --property KEY=VALUE      any librdkafka property\n"
               "  -F, --config FILE             client.properties (Confluent Cloud style)\n"
               "  -v, --verbose / -q, --quiet   more or less logging on stderr\n\n"
               "Docs: docs/<command>.md. Exit codes: docs/exit-codes.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        qt_usage(stderr);
        return qt_exit_code(QT_EUSAGE);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        qt_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("quotetape %s\n", QT_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof qt_cmds / sizeof qt_cmds[0]; i++)
        if (strcmp(argv[1], qt_cmds[i].name) == 0)
            return qt_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "quotetape: unknown command '%s'; see 'quotetape --help'\n", argv[1]);
    return qt_exit_code(QT_EUSAGE);
}
