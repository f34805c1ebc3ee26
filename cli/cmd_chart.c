/* quotetape chart — a report chart straight from a tape. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/qtime.h"
#include "viewer/chart.h"

static const char qt_chart_help[] =
    "usage: quotetape chart --db TAPE [--symbol S[,S..]] [--from POS] [--to POS]\n"
    "                       [--size 5s] [--size-px WxH] --out F.png|F.svg\n"
    "\n"
    "Draws a report image from a tape with gnuplot, one panel per symbol: the\n"
    "bid-ask band (window averages), bid candlesticks per window and the\n"
    "windowed average bid, over time of day (UTC).\n"
    "\n"
    "  --db TAPE      the tape (SQLite file)\n"
    "  --symbol LIST  symbols, comma-separated (default: every symbol in the tape)\n"
    "  --from POS     first quote: beginning | seq:N | RFC3339 | +DUR (inclusive)\n"
    "  --to POS       end: end | seq:N | RFC3339 | +DUR (exclusive)\n"
    "  --size DUR     window size (default 5s; whole milliseconds)\n"
    "  --out F        output file; .png or .svg picks the format\n"
    "  --size-px WxH  image size in pixels (default 1200 x 500, 360 per panel)\n"
    "  -v / -q        more or less logging on stderr\n"
    "\n"
    "gnuplot is run from PATH, or from $QUOTETAPE_GNUPLOT.\n"
    "\n"
    "example: quotetape chart --db spy.db --symbol SPY --from +5m --to +15m --out spy.svg\n";

int qt_cmd_chart(int argc, char **argv)
{
    static const struct option lo[] = {{"db", required_argument, 0, 'd'},
                                       {"symbol", required_argument, 0, 's'},
                                       {"from", required_argument, 0, 'f'},
                                       {"to", required_argument, 0, 't'},
                                       {"size", required_argument, 0, 'z'},
                                       {"size-px", required_argument, 0, 'p'},
                                       {"out", required_argument, 0, 'o'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    qt_chart_opts o;
    qt_chart_stats st;
    char **syms = NULL, err[1024];
    int c, fmt;
    qt_err rc;

    memset(&o, 0, sizeof o);
    o.size_ms = 5000;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vqh", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o.db = optarg; break;
        case 'f': o.from = optarg; break;
        case 't': o.to = optarg; break;
        case 'o': o.out = optarg; break;
        case 'v': qt_log_set_level(qt_log_get_level() + 1); break;
        case 'q': qt_log_set_level(QT_LOG_QUIET); break;
        case 's':
            free(syms);
            if (!(syms = qt_cli_split_list(optarg, &o.nsymbols)))
                return qt_cli_usage_error(argv[0], "--symbol '%s': empty symbol in list", optarg);
            o.symbols = (const char *const *)syms;
            break;
        case 'z': {
            int64_t ns;
            if (qt_dur_parse(optarg, &ns, err, sizeof err) || ns < QT_NS_PER_MS ||
                ns % QT_NS_PER_MS) {
                free(syms);
                return qt_cli_usage_error(argv[0], "--size '%s': a duration of whole ms",
                                          optarg);
            }
            o.size_ms = ns / QT_NS_PER_MS;
            break;
        }
        case 'p': {
            char *end;
            long w, h;
            errno = 0;
            w = strtol(optarg, &end, 10);
            h = (*end == 'x') ? strtol(end + 1, &end, 10) : -1;
            if (errno || *end || w < 100 || w > 20000 || h < 100 || h > 20000) {
                free(syms);
                return qt_cli_usage_error(argv[0], "--size-px '%s': use WIDTHxHEIGHT", optarg);
            }
            o.width = (int)w;
            o.height = (int)h;
            break;
        }
        case 'h':
            free(syms);
            fputs(qt_chart_help, stdout);
            return 0;
        default:
            free(syms);
            return qt_cli_usage_error(argv[0], "unknown option");
        }
    }
    if (optind < argc || !o.db || !o.out) {
        free(syms);
        if (optind < argc)
            return qt_cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        return qt_cli_usage_error(argv[0], "%s is required", !o.db ? "--db TAPE" : "--out F");
    }
    if ((fmt = qt_gp_format_of(o.out)) < 0) {
        free(syms);
        return qt_cli_usage_error(argv[0], "--out '%s': name a .png or .svg file", o.out);
    }
    o.fmt = (qt_gp_format)fmt;
    rc = qt_chart_tape(&o, &st, err, sizeof err);
    free(syms);
    if (rc)
        return qt_cli_fail(rc, err);
    qt_info("wrote %s (%zu symbol(s), %zu windows, %lld quotes)", o.out, st.symbols, st.windows,
            (long long)st.quotes);
    return 0;
}
