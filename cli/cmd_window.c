/* quotetape window — tumbling windows of the bid with Flink semantics. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/qtime.h"
#include "windower/stream.h"

static const char qt_window_help[] =
    "usage: quotetape window -b BROKERS [--topic quotes] [--out-topic quotes.w5s]\n"
    "                        [--size 5s] [--lateness 1s] [--from POS] [--group G]\n"
    "                        [--idle-flush DUR] [--time-field t] [--exit]\n"
    "\n"
    "Reads quotes from a Kafka topic and writes one message per symbol and\n"
    "tumbling window to another, with the semantics of Flink SQL's TUMBLE on\n"
    "an event-time column with WATERMARK ts - lateness (docs/window.md):\n"
    "windows [start, start+size), watermark = highest event time seen - lateness,\n"
    "a window is emitted when the watermark reaches end - 1 ms, records for a\n"
    "window already emitted are dropped and counted.\n"
    "\n"
    "  --topic T          input topic of quote messages (default quotes)\n"
    "  --out-topic T      output topic of window messages (default quotes.w5s)\n"
    "  --size DUR         window size (default 5s; whole milliseconds)\n"
    "  --lateness DUR     allowed lateness, the watermark delay (default 1s)\n"
    "  --from POS         start at beginning|end|offset:N|RFC3339|+DUR instead of\n"
    "                     resuming from the group's committed position\n"
    "  --group G          consumer group for committed positions\n"
    "                     (default quotetape-window-<out-topic>)\n"
    "  --idle-flush DUR   emit open windows when no input arrived for DUR\n"
    "                     (Flink instead waits for more input); default off\n"
    "  --time-field t     event time from the quote's \"t\" instead of the Kafka\n"
    "                     message timestamp\n"
    "  -e, --exit         stop at the end of the topic, emitting every open\n"
    "                     window (as Flink does at the end of a bounded input)\n"
    "  -b, -X, -F         Kafka options (see quotetape --help); -v / -q logging\n"
    "\n"
    "Output: key = symbol, timestamp = window_end - 1 ms, value JSON\n"
    "{\"symbol\",\"window_start\",\"window_end\",\"price\" (average bid),\"count\",\n"
    "\"bid_open\",\"bid_high\",\"bid_low\",\"bid_close\",\"ask_avg\"}\n"
    "(schema/window.schema.json). After a restart a window may be written again\n"
    "with the same content: dedupe by (symbol, window_start).\n"
    "\n"
    "example: quotetape window -b 127.0.0.1:9092 --topic quotes --out-topic quotes.w5s\n";

static int qt_window_dur_ms(const char *cmd, const char *opt, const char *s, int64_t min_ms,
                            int64_t *out)
{
    char err[256];
    int64_t ns;
    if (qt_dur_parse(s, &ns, err, sizeof err))
        return qt_cli_usage_error(cmd, "%s: %s", opt, err);
    if (ns % QT_NS_PER_MS)
        return qt_cli_usage_error(cmd, "%s '%s': must be whole milliseconds", opt, s);
    *out = ns / QT_NS_PER_MS;
    if (*out < min_ms)
        return qt_cli_usage_error(cmd, "%s '%s': must be at least %" PRId64 " ms", opt, s,
                                  min_ms);
    return 0;
}

int qt_cmd_window(int argc, char **argv)
{
    static const struct option lo[] = {{"topic", required_argument, 0, 't'},
                                       {"out-topic", required_argument, 0, 'o'},
                                       {"size", required_argument, 0, 's'},
                                       {"lateness", required_argument, 0, 'l'},
                                       {"from", required_argument, 0, 'f'},
                                       {"group", required_argument, 0, 'g'},
                                       {"idle-flush", required_argument, 0, 'i'},
                                       {"time-field", required_argument, 0, 'T'},
                                       {"exit", no_argument, 0, 'e'},
                                       QT_CLI_COMMON_LONG,
                                       {0, 0, 0, 0}};
    qt_wstream_opts o;
    qt_wstream_stats st;
    qt_kopts k;
    qt_pos from;
    char err[1024];
    int c, rc_exit;
    qt_err rc;

    memset(&o, 0, sizeof o);
    o.in_topic = "quotes";
    o.out_topic = "quotes.w5s";
    o.size_ms = 5000;
    o.lateness_ms = 1000;
    qt_kopts_init(&k);
    optind = 1;
    while ((c = getopt_long(argc, argv, QT_CLI_KAFKA_SHORT QT_CLI_LOG_SHORT "eh", lo, NULL)) !=
           -1) {
        int r = qt_cli_common(c, optarg, &k, &rc);
        if (r < 0) {
            qt_kopts_release(&k);
            return qt_exit_code(rc);
        }
        if (r > 0)
            continue;
        switch (c) {
        case 't': o.in_topic = optarg; break;
        case 'o': o.out_topic = optarg; break;
        case 'g': o.group = optarg; break;
        case 'e': o.exit_at_end = 1; break;
        case 's':
            if ((rc_exit = qt_window_dur_ms(argv[0], "--size", optarg, 1, &o.size_ms)))
                goto usage;
            break;
        case 'l':
            if ((rc_exit = qt_window_dur_ms(argv[0], "--lateness", optarg, 0, &o.lateness_ms)))
                goto usage;
            break;
        case 'i':
            if ((rc_exit = qt_window_dur_ms(argv[0], "--idle-flush", optarg, 1,
                                            &o.idle_flush_ms)))
                goto usage;
            break;
        case 'T':
            if (strcmp(optarg, "t") != 0) {
                rc_exit = qt_cli_usage_error(argv[0], "--time-field '%s': only 't' is known",
                                             optarg);
                goto usage;
            }
            o.time_field = 1;
            break;
        case 'f':
            if (qt_pos_parse(optarg, &from, err, sizeof err)) {
                rc_exit = qt_cli_usage_error(argv[0], "--from: %s", err);
                goto usage;
            }
            o.from = &from;
            break;
        case 'h':
            fputs(qt_window_help, stdout);
            qt_kopts_release(&k);
            return 0;
        default:
            rc_exit = qt_cli_usage_error(argv[0], "unknown option");
            goto usage;
        }
    }
    if (optind < argc) {
        rc_exit = qt_cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        goto usage;
    }
    if (strcmp(o.in_topic, o.out_topic) == 0) {
        rc_exit = qt_cli_usage_error(argv[0], "--topic and --out-topic must differ");
        goto usage;
    }
    o.kopts = &k;
    o.stop = qt_cli_stop_flag();
    rc = qt_wstream_run(&o, &st, err, sizeof err);
    qt_info("%" PRId64 " quote(s) read, %" PRId64 " in windows, %" PRId64 " late, %" PRId64
            " unreadable; %" PRId64 " window(s) written to '%s'",
            st.messages, st.records, st.late, st.bad, st.windows, o.out_topic);
    qt_kopts_release(&k);
    if (rc == QT_EINTR)
        return 0; /* stopped by SIGINT/SIGTERM after committing: a normal end */
    if (rc)
        return qt_cli_fail(rc, err);
    return 0;
usage:
    qt_kopts_release(&k);
    return rc_exit;
}
