/* quotetape view — chart window messages from Kafka. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "viewer/view.h"

static const char qt_view_help[] =
    "usage: quotetape view -b BROKERS [--topic quotes.w5s] [--from POS] [--symbol S]\n"
    "                      [--last 20] (--png F | --svg F | --term | --serve ADDR) [--follow]\n"
    "\n"
    "Reads window messages (from `quotetape window`, or from the Flink SQL job in\n"
    "schema/flink/ with its schema-registry header) and draws the window price\n"
    "(average bid) over time of day with gnuplot, one panel per symbol. Windows\n"
    "seen twice (same symbol and window_start) are shown once, the last copy.\n"
    "\n"
    "  --topic T      window topic (default quotes.w5s)\n"
    "  --from POS     beginning (default) | end | offset:N | RFC3339 | +DUR\n"
    "  --symbol S     only this symbol\n"
    "  --last N       windows kept per symbol (default 20)\n"
    "  --png F        write a PNG once the topic is read to its end\n"
    "  --svg F        write an SVG once the topic is read to its end\n"
    "  --term         draw in the terminal, redrawn in place as windows arrive\n"
    "                 (add --once to draw once and exit)\n"
    "  --serve ADDR   a live web page at http://ADDR/ (HOST:PORT, e.g. 127.0.0.1:8080;\n"
    "                 port 0 picks one): a symbol selector and the chart of the last\n"
    "                 N windows, redrawn by gnuplot (as --svg) and pushed to every\n"
    "                 browser as windows arrive; one Kafka consumer for all browsers\n"
    "  --serve-any-address  allow a --serve address that is not loopback\n"
    "  --follow       keep reading; re-render the file (atomically replaced) after\n"
    "                 every batch of new windows, until SIGINT/SIGTERM\n"
    "  --size WxH     image size in pixels (terminal: characters)\n"
    "  -b, -X, -F     Kafka options (see quotetape --help); -v / -q logging\n"
    "\n"
    "gnuplot is run from PATH, or from $QUOTETAPE_GNUPLOT.\n"
    "\n"
    "example: quotetape view -b 127.0.0.1:9092 --symbol SPY --last 60 --png spy.png\n"
    "         quotetape view -b 127.0.0.1:9092 --serve 127.0.0.1:8080  # then open that URL\n";

static int qt_view_parse_size(const char *s, int *w, int *h)
{
    char *end;
    long a, b;
    errno = 0;
    a = strtol(s, &end, 10);
    if (errno || end == s || *end != 'x' || a < 10 || a > 20000)
        return -1;
    s = end + 1;
    b = strtol(s, &end, 10);
    if (errno || end == s || *end || b < 5 || b > 20000)
        return -1;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

int qt_cmd_view(int argc, char **argv)
{
    static const struct option lo[] = {{"topic", required_argument, 0, 't'},
                                       {"from", required_argument, 0, 'f'},
                                       {"symbol", required_argument, 0, 's'},
                                       {"last", required_argument, 0, 'n'},
                                       {"png", required_argument, 0, 'P'},
                                       {"svg", required_argument, 0, 'S'},
                                       {"term", no_argument, 0, 'T'},
                                       {"once", no_argument, 0, 'O'},
                                       {"follow", no_argument, 0, 'w'},
                                       {"size", required_argument, 0, 'z'},
                                       {"serve", required_argument, 0, 'W'},
                                       {"serve-any-address", no_argument, 0, 'A'},
                                       QT_CLI_COMMON_LONG,
                                       {0, 0, 0, 0}};
    qt_view_opts o;
    qt_view_stats st;
    qt_kopts k;
    qt_pos from;
    char err[1024];
    int c, nout = 0, once = 0, rc_exit;
    qt_err rc;

    memset(&o, 0, sizeof o);
    o.topic = "quotes.w5s";
    o.last_n = 20;
    qt_kopts_init(&k);
    optind = 1;
    while ((c = getopt_long(argc, argv, QT_CLI_KAFKA_SHORT QT_CLI_LOG_SHORT "h", lo, NULL)) !=
           -1) {
        int r = qt_cli_common(c, optarg, &k, &rc);
        if (r < 0) {
            qt_kopts_release(&k);
            return qt_exit_code(rc);
        }
        if (r > 0)
            continue;
        switch (c) {
        case 't': o.topic = optarg; break;
        case 's': o.symbol = optarg; break;
        case 'w': o.follow = 1; break;
        case 'O': once = 1; break;
        case 'P': o.fmt = QT_GP_PNG; o.out = optarg; nout++; break;
        case 'S': o.fmt = QT_GP_SVG; o.out = optarg; nout++; break;
        case 'T': o.fmt = QT_GP_TERM; o.out = NULL; nout++; break;
        case 'W': o.serve = optarg; nout++; break;
        case 'A': o.serve_any_address = 1; break;
        case 'n': {
            char *end;
            long v;
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1 || v > 1000000) {
                rc_exit = qt_cli_usage_error(argv[0], "--last '%s': a number from 1 to 1000000",
                                             optarg);
                goto usage;
            }
            o.last_n = (size_t)v;
            break;
        }
        case 'z':
            if (qt_view_parse_size(optarg, &o.width, &o.height)) {
                rc_exit = qt_cli_usage_error(argv[0], "--size '%s': use WIDTHxHEIGHT", optarg);
                goto usage;
            }
            break;
        case 'f':
            if (qt_pos_parse(optarg, &from, err, sizeof err)) {
                rc_exit = qt_cli_usage_error(argv[0], "--from: %s", err);
                goto usage;
            }
            o.from = &from;
            break;
        case 'h':
            fputs(qt_view_help, stdout);
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
    if (nout != 1) {
        rc_exit = qt_cli_usage_error(argv[0],
                                     "choose one of --png F, --svg F, --term or --serve ADDR");
        goto usage;
    }
    if (o.serve_any_address && !o.serve) {
        rc_exit = qt_cli_usage_error(argv[0], "--serve-any-address goes with --serve");
        goto usage;
    }
    if (o.serve)
        o.follow = 1;
    if (o.fmt == QT_GP_TERM && !once)
        o.follow = 1;
    o.kopts = &k;
    o.stop = qt_cli_stop_flag();
    rc = qt_view_run(&o, &st, err, sizeof err);
    qt_kopts_release(&k);
    if (rc == QT_EINTR)
        return 0;
    if (rc)
        return qt_cli_fail(rc, err);
    if (o.out)
        qt_info("wrote %s (%zu windows)", o.out, st.windows);
    return 0;
usage:
    qt_kopts_release(&k);
    return rc_exit;
}
