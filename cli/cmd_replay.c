/* quotetape replay — a tape or topic back into Kafka or stdout, paced. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/qtime.h"
#include "replayer/replay.h"

static const char qt_replay_help[] =
    "usage: quotetape replay (--db TAPE | --from-topic TOPIC) [--symbols S,..]\n"
    "                        [--from POS] [--to POS] [--speed 1|N|max] [--max-gap DUR]\n"
    "                        [--loop [N]] [--pace-by recv|event]\n"
    "                        [--timestamps original|shift|wall]\n"
    "                        (-b BROKERS --topic TOPIC | --stdout)\n"
    "\n"
    "Replays recorded quotes at real speed, N times faster or as fast as possible,\n"
    "into a Kafka topic (key = symbol, value = the quote JSON as recorded) or to\n"
    "stdout as tape JSON lines.\n"
    "\n"
    "source:\n"
    "  --db TAPE              a tape (SQLite file)\n"
    "  --from-topic TOPIC     a Kafka topic (read up to its end at start)\n"
    "  --symbols S,..         only these symbols (default: all)\n"
    "  --from POS             first quote, inclusive (default beginning)\n"
    "  --to POS               where to stop, exclusive (default end)\n"
    "      POS is beginning | end | seq:N (tape) | offset:N (topic) | an RFC 3339\n"
    "      time (2024-03-05T14:30:00Z) | +DUR from the first quote (+90s, +5m)\n"
    "pacing:\n"
    "  --speed S              1 = real time (default), N = N times faster, max\n"
    "  --max-gap DUR          cut silences longer than DUR (overnight, halts) to DUR\n"
    "  --loop [N]             replay N times (no N: until stopped); each pass is\n"
    "                         shifted in event time so time keeps increasing\n"
    "  --pace-by recv|event   pace by receive times (what a live client saw; the\n"
    "                         default when the tape has them) or by event times\n"
    "sink:\n"
    "  -b, --brokers HOST:PORT  Kafka bootstrap servers (or -F FILE, -X KEY=VALUE)\n"
    "  --topic TOPIC          Kafka topic to produce to (idempotent producer)\n"
    "  --timestamps MODE      Kafka message timestamp: original (event time,\n"
    "                         default), shift (first quote = now, spacing kept) or\n"
    "                         wall (send time)\n"
    "  --stdout               write tape JSON lines to stdout instead\n"
    "  -v, --verbose / -q, --quiet  more or less on stderr (-q: no progress line)\n"
    "\n"
    "On a terminal a progress line shows position, sent, rate, lateness and ETA.\n"
    "SIGINT/SIGTERM stop cleanly: everything sent is flushed, a summary is printed\n"
    "with the exact --from that resumes without gap or duplicate.\n"
    "\n"
    "examples:\n"
    "  quotetape replay --db spy.db --speed 20 -b localhost:9092 --topic quotes\n"
    "  quotetape replay --db spy.db --from +5m --to +10m --speed max --stdout\n"
    "  quotetape replay --from-topic quotes --from 2024-03-05T15:00:00Z \\\n"
    "                   -b localhost:9092 --topic quotes.replay --timestamps shift\n";

enum {
    OPT_DB = 256,
    OPT_FROM_TOPIC,
    OPT_SYMBOLS,
    OPT_FROM,
    OPT_TO,
    OPT_SPEED,
    OPT_MAX_GAP,
    OPT_LOOP,
    OPT_PACE_BY,
    OPT_TIMESTAMPS,
    OPT_TOPIC,
    OPT_STDOUT
};

/* "max" -> 0; otherwise a number > 0 with an optional trailing 'x'. */
static int qt_parse_speed(const char *s, double *v)
{
    char *end;
    if (strcmp(s, "max") == 0) {
        *v = 0;
        return 0;
    }
    errno = 0;
    *v = strtod(s, &end);
    if (end != s && (*end == 'x' || *end == 'X'))
        end++;
    if (errno || end == s || *end || !(*v > 0) || *v > 1e6)
        return -1;
    return 0;
}

static int qt_parse_loops(const char *s, int64_t *v)
{
    char *end;
    long long x;
    if (!*s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno || *end || x < 1)
        return -1;
    *v = x;
    return 0;
}

int qt_cmd_replay(int argc, char **argv)
{
    static const struct option lo[] = {{"db", required_argument, 0, OPT_DB},
                                       {"from-topic", required_argument, 0, OPT_FROM_TOPIC},
                                       {"symbols", required_argument, 0, OPT_SYMBOLS},
                                       {"from", required_argument, 0, OPT_FROM},
                                       {"to", required_argument, 0, OPT_TO},
                                       {"speed", required_argument, 0, OPT_SPEED},
                                       {"max-gap", required_argument, 0, OPT_MAX_GAP},
                                       {"loop", optional_argument, 0, OPT_LOOP},
                                       {"pace-by", required_argument, 0, OPT_PACE_BY},
                                       {"timestamps", required_argument, 0, OPT_TIMESTAMPS},
                                       {"topic", required_argument, 0, OPT_TOPIC},
                                       {"stdout", no_argument, 0, OPT_STDOUT},
                                       QT_CLI_COMMON_LONG,
                                       {0, 0, 0, 0}};
    const char *db = NULL, *from_topic = NULL, *topic = NULL, *symbols_arg = NULL;
    qt_replay_sel sel = {0};
    qt_replay_cfg cfg = {0};
    qt_replay_stats st;
    qt_kopts ko;
    qt_source *src = NULL;
    qt_sink *sink = NULL;
    char **symbols = NULL, err[1024], sum[512];
    int to_stdout = 0, c, r, code;
    qt_err e = QT_OK;

    cfg.speed = 1.0;
    cfg.loops = 1;
    qt_kopts_init(&ko);
    optind = 1;
    while ((c = getopt_long(argc, argv, QT_CLI_KAFKA_SHORT QT_CLI_LOG_SHORT "h", lo, NULL)) !=
           -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_FROM_TOPIC: from_topic = optarg; break;
        case OPT_SYMBOLS: symbols_arg = optarg; break;
        case OPT_FROM: sel.from = optarg; break;
        case OPT_TO: sel.to = optarg; break;
        case OPT_TOPIC: topic = optarg; break;
        case OPT_STDOUT: to_stdout = 1; break;
        case OPT_SPEED:
            if (qt_parse_speed(optarg, &cfg.speed)) {
                code = qt_cli_usage_error("replay", "--speed takes 1, a factor such as 20 or "
                                                    "0.5, or max, not '%s'", optarg);
                goto out;
            }
            break;
        case OPT_MAX_GAP:
            if (qt_dur_parse(optarg, &cfg.max_gap_ns, err, sizeof err) || cfg.max_gap_ns <= 0) {
                code = qt_cli_usage_error("replay", "--max-gap takes a duration such as 5s, "
                                                    "not '%s'", optarg);
                goto out;
            }
            break;
        case OPT_LOOP:
            cfg.loops = 0;
            if (optarg) {
                if (qt_parse_loops(optarg, &cfg.loops)) {
                    code = qt_cli_usage_error("replay", "--loop takes a count from 1, not '%s'",
                                              optarg);
                    goto out;
                }
            } else if (optind < argc && qt_parse_loops(argv[optind], &cfg.loops) == 0) {
                optind++; /* --loop N as two words */
            }
            break;
        case OPT_PACE_BY:
            if (strcmp(optarg, "recv") == 0)
                cfg.pace_by = QT_PACE_RECV;
            else if (strcmp(optarg, "event") == 0)
                cfg.pace_by = QT_PACE_EVENT;
            else {
                code = qt_cli_usage_error("replay", "--pace-by takes recv or event, not '%s'",
                                          optarg);
                goto out;
            }
            break;
        case OPT_TIMESTAMPS:
            if (strcmp(optarg, "original") == 0)
                cfg.ts_mode = QT_TS_ORIGINAL;
            else if (strcmp(optarg, "shift") == 0)
                cfg.ts_mode = QT_TS_SHIFT;
            else if (strcmp(optarg, "wall") == 0)
                cfg.ts_mode = QT_TS_WALL;
            else {
                code = qt_cli_usage_error(
                    "replay", "--timestamps takes original, shift or wall, not '%s'", optarg);
                goto out;
            }
            break;
        case 'h':
            fputs(qt_replay_help, stdout);
            code = 0;
            goto out;
        default:
            r = qt_cli_common(c, optarg, &ko, &e);
            if (r < 0) {
                code = qt_exit_code(e);
                goto out;
            }
            if (r == 0) {
                code = qt_cli_usage_error("replay", "unknown option");
                goto out;
            }
        }
    }
    if (optind < argc) {
        code = qt_cli_usage_error("replay", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!!db + !!from_topic != 1) {
        code = qt_cli_usage_error("replay", "give exactly one source: --db TAPE or "
                                            "--from-topic TOPIC");
        goto out;
    }
    if (to_stdout == !!topic) {
        code = qt_cli_usage_error("replay", "give exactly one sink: --topic TOPIC or --stdout");
        goto out;
    }
    if (symbols_arg && !(symbols = qt_cli_split_list(symbols_arg, &sel.nsymbols))) {
        code = qt_cli_usage_error("replay", "--symbols takes a comma-separated list such as "
                                            "SPY,QQQ, not '%s'", symbols_arg);
        goto out;
    }
    sel.symbols = (const char *const *)symbols;
    if (from_topic && cfg.pace_by == QT_PACE_RECV) {
        code = qt_cli_usage_error("replay", "--pace-by recv needs a tape: a topic has no "
                                            "receive times");
        goto out;
    }

    if (db) {
        e = qt_source_tape_open(db, &sel, &src, err, sizeof err);
        if (!e)
            e = qt_source_prefetch(&src, err, sizeof err);
    } else
        e = qt_source_topic_open(&ko, from_topic, &sel, &src, err, sizeof err);
    if (e) {
        code = qt_cli_fail(e, err);
        goto out;
    }
    if (to_stdout) {
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
        e = qt_sink_stdout_open(cfg.speed != 0, &sink, err, sizeof err);
    } else {
        e = qt_sink_kafka_open(&ko, topic, 5000, &sink, err, sizeof err);
    }
    if (e) {
        code = qt_cli_fail(e, err);
        goto out;
    }

    cfg.stop = qt_cli_stop_flag();
    cfg.progress = isatty(STDERR_FILENO) && qt_log_get_level() >= QT_LOG_INFO;
    e = qt_replay_run(&cfg, src, sink, &st, err, sizeof err);
    qt_replay_summary(&st, sum, sizeof sum);
    if (e == QT_OK) {
        qt_info("replayed: %s", sum);
        code = 0;
    } else {
        if (e == QT_EINTR)
            fprintf(stderr, "quotetape: replay stopped: %s\n", sum);
        else {
            qt_error("%s", err);
            fprintf(stderr, "quotetape: replay failed: %s\n", sum);
        }
        if (st.resume[0])
            fprintf(stderr, "quotetape: resume with: --from %s\n", st.resume);
        else if (st.stopped && st.sent == 0)
            fprintf(stderr, "quotetape: resume with: --from %s\n",
                    sel.from ? sel.from : "beginning");
        else if (st.stopped)
            fprintf(stderr, "quotetape: the topic has several partitions; resume per "
                            "partition is not one --from (see 'quotetape replay --help')\n");
        code = qt_exit_code(e);
    }
out:
    if (sink)
        sink->free(sink);
    if (src)
        src->free(src);
    free(symbols);
    qt_kopts_release(&ko);
    return code;
}
