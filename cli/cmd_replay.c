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
    "                        (-b BROKERS --topic TOPIC | --stdout |\n"
    "                         --serve ADDR [--serve-any-address] [--auth]\n"
    "                         [--per-client | --wait-clients N] [--client-queue BYTES])\n"
    "\n"
    "Replays recorded quotes at real speed, N times faster or as fast as possible,\n"
    "into a Kafka topic (key = symbol, value = the quote JSON as recorded), to\n"
    "stdout as tape JSON lines, or to any number of clients on a local\n"
    "Alpaca-compatible websocket.\n"
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
    "  --no-realtime          do not ask for real-time scheduling of the pacing\n"
    "                         thread (asked for, where permitted, when a paced\n"
    "                         replay goes to Kafka or stdout), nor let it share\n"
    "                         its CPU with the producer's threads\n"
    "sink:\n"
    "  -b, --brokers HOST:PORT  Kafka bootstrap servers (or -F FILE, -X KEY=VALUE)\n"
    "  --topic TOPIC          Kafka topic to produce to (idempotent producer)\n"
    "  --timestamps MODE      Kafka message timestamp: original (event time,\n"
    "                         default), shift (first quote = now, spacing kept) or\n"
    "                         wall (send time)\n"
    "  --stdout               write tape JSON lines to stdout instead\n"
    "  --serve ADDR           serve the replay on an Alpaca-compatible websocket at\n"
    "                         HOST:PORT (ws://ADDR/v2/iex ...; port 0 picks one and\n"
    "                         logs it); runs until SIGINT/SIGTERM; see docs/serve.md\n"
    "  --serve-any-address    allow a --serve address that is not loopback\n"
    "  --auth                 serve clients only with QUOTETAPE_SERVE_KEY and\n"
    "                         QUOTETAPE_SERVE_SECRET (also on when both are set)\n"
    "  --wait-clients N       shared replay: start the clock once N clients have\n"
    "                         subscribed (default: at once; late clients join\n"
    "                         mid-stream, like a live market)\n"
    "  --per-client           every connection gets its own replay from --from at\n"
    "                         --speed, or from ?from=POS&speed=S in its URL\n"
    "  --client-queue BYTES   per-client send queue (default 8388608); a client\n"
    "                         whose queue would overflow gets 407 and is dropped\n"
    "  --timestamps with --serve: original (default) sends quotes as recorded;\n"
    "                         shift or wall rewrite each quote's \"t\"\n"
    "  -v, --verbose / -q, --quiet  more or less on stderr (-q: no progress line)\n";

static const char qt_replay_help2[] =
    "\n"
    "On a terminal a progress line shows position, sent, rate, lateness and ETA.\n"
    "SIGINT/SIGTERM stop cleanly: everything sent is flushed, a summary is printed\n"
    "with the exact --from that resumes without gap or duplicate.\n"
    "\n"
    "examples:\n"
    "  quotetape replay --db spy.db --speed 20 -b localhost:9092 --topic quotes\n"
    "  quotetape replay --db spy.db --from +5m --to +10m --speed max --stdout\n"
    "  quotetape replay --from-topic quotes --from 2024-03-05T15:00:00Z \\\n"
    "                   -b localhost:9092 --topic quotes.replay --timestamps shift\n"
    "  quotetape replay --db spy.db --speed 10 --serve 127.0.0.1:8765 --wait-clients 1\n"
    "  quotetape replay --db spy.db --serve 127.0.0.1:8765 --per-client\n"
    "      (then ws://127.0.0.1:8765/v2/iex?from=%2B5m&speed=50)\n";

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
    OPT_STDOUT,
    OPT_SERVE,
    OPT_SERVE_ANY,
    OPT_AUTH,
    OPT_PER_CLIENT,
    OPT_WAIT_CLIENTS,
    OPT_CLIENT_QUEUE,
    OPT_NO_REALTIME
};

/* A count or byte size: digits with an optional k/m/g suffix (1024s). */
static int qt_parse_size(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
    char *end;
    long long x;
    int64_t mul = 1;
    if (!*s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024 * 1024 * 1024, end++;
    if (errno || *end || x > hi / mul || x * mul < lo)
        return -1;
    *v = x * mul;
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

/* replay --serve: checks the key pair, wires the server and runs until
 * SIGINT/SIGTERM. src was opened to check the selection; the shared replay
 * uses it, per-client replays open their own. Returns the exit code. */
static int qt_replay_serve(const char *bind, int any_address, int auth, int per_client,
                           int64_t wait_clients, size_t client_queue, const char *db,
                           const char *from_topic, const qt_kopts *ko, const qt_replay_sel *sel,
                           const qt_replay_cfg *rcfg, qt_source *src)
{
    qt_serve_replay_cfg sc;
    qt_serve_replay_stats st;
    char err[1024], sum[512];
    int code;
    qt_err e;

    memset(&sc, 0, sizeof sc);
    if ((code = qt_cli_serve_keys("replay", auth, &sc.server.key, &sc.server.secret)))
        return code;
    sc.server.bind = bind;
    sc.server.allow_remote = any_address;
    sc.server.queue_bytes = client_queue;
    sc.replay = *rcfg;
    sc.replay.stop = qt_cli_stop_flag();
    sc.replay.progress = !per_client && isatty(STDERR_FILENO) &&
                         qt_log_get_level() >= QT_LOG_INFO;
    sc.per_client = per_client;
    sc.wait_clients = wait_clients;
    sc.db = db;
    sc.topic = from_topic;
    sc.kopts = ko;
    sc.sel = *sel;
    e = qt_serve_replay_run(&sc, per_client ? NULL : src, &st, err, sizeof err);
    if (e && e != QT_EINTR)
        qt_error("%s", err);
    if (sc.server.key)
        qt_info("serve: clients had to authenticate with QUOTETAPE_SERVE_KEY/_SECRET");
    qt_info("serve: %llu client(s) in all, %llu message(s) delivered, %llu slow client(s) "
            "dropped",
            (unsigned long long)st.server.clients_total, (unsigned long long)st.server.delivered,
            (unsigned long long)st.server.slow);
    if (per_client) {
        qt_info("serve: %llu per-client replay(s), %llu refused", (unsigned long long)st.feeds,
                (unsigned long long)st.feeds_failed);
        return qt_exit_code(e);
    }
    qt_replay_summary(&st.replay, sum, sizeof sum);
    if (e == QT_EINTR) {
        fprintf(stderr, "quotetape: replay stopped: %s\n", sum);
        if (st.replay.resume[0])
            fprintf(stderr, "quotetape: resume with: --from %s\n", st.replay.resume);
    } else if (e == QT_OK) {
        qt_info("replayed: %s", sum);
    }
    return qt_exit_code(e);
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
                                       {"serve", required_argument, 0, OPT_SERVE},
                                       {"serve-any-address", no_argument, 0, OPT_SERVE_ANY},
                                       {"auth", no_argument, 0, OPT_AUTH},
                                       {"per-client", no_argument, 0, OPT_PER_CLIENT},
                                       {"wait-clients", required_argument, 0, OPT_WAIT_CLIENTS},
                                       {"client-queue", required_argument, 0, OPT_CLIENT_QUEUE},
                                       {"no-realtime", no_argument, 0, OPT_NO_REALTIME},
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
    int to_stdout = 0, c, r, code, serve_any = 0, serve_auth = 0, per_client = 0, no_rt = 0;
    const char *serve = NULL;
    int64_t wait_clients = 0, client_queue = 0;
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
        case OPT_SERVE: serve = optarg; break;
        case OPT_SERVE_ANY: serve_any = 1; break;
        case OPT_AUTH: serve_auth = 1; break;
        case OPT_PER_CLIENT: per_client = 1; break;
        case OPT_NO_REALTIME: no_rt = 1; break;
        case OPT_WAIT_CLIENTS:
            if (qt_parse_size(optarg, 1, 1000000, &wait_clients)) {
                code = qt_cli_usage_error("replay", "--wait-clients takes a count from 1, not "
                                                    "'%s'", optarg);
                goto out;
            }
            break;
        case OPT_CLIENT_QUEUE:
            if (qt_parse_size(optarg, 4096, INT64_C(1) << 32, &client_queue)) {
                code = qt_cli_usage_error("replay", "--client-queue takes a size from 4096 "
                                                    "bytes to 4g, such as 1m, not '%s'", optarg);
                goto out;
            }
            break;
        case OPT_SPEED:
            if (qt_replay_parse_speed(optarg, &cfg.speed)) {
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
            fputs(qt_replay_help2, stdout);
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
    if (to_stdout + !!topic + !!serve != 1) {
        code = qt_cli_usage_error("replay", "give exactly one sink: --topic TOPIC, --stdout or "
                                            "--serve ADDR");
        goto out;
    }
    if (!serve && (serve_any || serve_auth || per_client || wait_clients || client_queue)) {
        code = qt_cli_usage_error("replay", "--serve-any-address, --auth, --per-client, "
                                            "--wait-clients and --client-queue go with --serve");
        goto out;
    }
    if (per_client && wait_clients) {
        code = qt_cli_usage_error("replay", "--wait-clients is for the shared replay; with "
                                            "--per-client each client starts its own");
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

    /* The Kafka producer first: it connects and looks the topic up in the
     * background while the tape is opened and read ahead. */
    if (topic && (e = qt_sink_kafka_open(&ko, topic, 5000, &sink, err, sizeof err))) {
        code = qt_cli_fail(e, err);
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
    if (serve) {
        code = qt_replay_serve(serve, serve_any, serve_auth, per_client, wait_clients,
                               (size_t)client_queue, db, from_topic, &ko, &sel, &cfg, src);
        goto out;
    }
    if (to_stdout) {
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
        if ((e = qt_sink_stdout_open(cfg.speed != 0, &sink, err, sizeof err))) {
            code = qt_cli_fail(e, err);
            goto out;
        }
    }

    cfg.stop = qt_cli_stop_flag();
    cfg.progress = isatty(STDERR_FILENO) && qt_log_get_level() >= QT_LOG_INFO;
    cfg.realtime = !no_rt;
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
