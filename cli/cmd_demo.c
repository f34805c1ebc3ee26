/* quotetape demo — sample tape -> embedded broker -> windows -> chart.
 *
 * Wiring only: the tape import (core/tapeio), the replayer, the windower
 * and the viewer stages do the work, on an in-process embedded broker. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/broker.h"
#include "core/log.h"
#include "core/qtime.h"
#include "core/tape.h"
#include "core/tapeio.h"
#include "replayer/replay.h"
#include "viewer/view.h"
#include "windower/stream.h"

#define QT_DEMO_FIXTURE "fixtures/spy-30m.jsonl"

static const char qt_demo_help[] =
    "usage: quotetape demo [--out spy.png] [--jsonl FILE | --tape FILE] [--size 5s]\n"
    "\n"
    "The whole pipeline in one process, no Kafka or API keys needed: starts an\n"
    "embedded Kafka broker, imports the SPY sample (synthetic, see\n"
    "fixtures/README.md) into a temporary tape, replays it into topic 'quotes'\n"
    "as fast as possible, windows it into 'quotes.w5s' (5 s tumbling windows,\n"
    "1 s lateness, Flink semantics) and charts every window with gnuplot.\n"
    "\n"
    "  --out F        chart file, .png or .svg (default spy.png)\n"
    "  --jsonl FILE   tape JSON lines to use instead of the SPY sample (looked up\n"
    "                 as fixtures/spy-30m.jsonl in the current directory, then\n"
    "                 next to the quotetape binary's ../fixtures, then $QT_FIXTURES)\n"
    "  --tape FILE    an existing tape to replay instead\n"
    "  --size DUR     window size (default 5s)\n"
    "  -v / -q        more or less logging on stderr\n"
    "\n"
    "Prints \"wrote F (N windows)\" on stdout at the end.\n"
    "\n"
    "example: quotetape demo --out spy.png\n";

static int qt_demo_readable(const char *p)
{
    return access(p, R_OK) == 0;
}

/* Finds the sample: ./fixtures, <binary dir>/../fixtures, <binary dir>/../../fixtures
 * (a build dir inside the source tree), $QT_FIXTURES. */
static int qt_demo_find_fixture(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t l;
    const char *env = getenv("QT_FIXTURES");

    if (qt_demo_readable(QT_DEMO_FIXTURE)) {
        snprintf(out, n, "%s", QT_DEMO_FIXTURE);
        return 0;
    }
    l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if ((size_t)snprintf(out, n, "%s/../%s", exe, QT_DEMO_FIXTURE) < n &&
                qt_demo_readable(out))
                return 0;
            if ((size_t)snprintf(out, n, "%s/../../%s", exe, QT_DEMO_FIXTURE) < n &&
                qt_demo_readable(out))
                return 0;
        }
    }
    if (env && (size_t)snprintf(out, n, "%s/spy-30m.jsonl", env) < n && qt_demo_readable(out))
        return 0;
    return -1;
}

static qt_err qt_demo_import(const char *jsonl, const char *tape, char *err, size_t errsz)
{
    qt_tape *t = NULL;
    qt_import_stats st;
    qt_session_info si = {"import:demo", NULL, NULL};
    int64_t session;
    FILE *f = fopen(jsonl, "r");
    qt_err rc;

    if (!f)
        return qt_fail(errno == ENOENT ? QT_ENOTFOUND : QT_EIO, err, errsz,
                       "cannot open '%s': %s", jsonl, strerror(errno));
    memset(&st, 0, sizeof st);
    if (!(rc = qt_tape_open(tape, QT_TAPE_WRITE, &t, err, errsz)) &&
        !(rc = qt_tape_session_begin(t, &si, &session, err, errsz)) &&
        !(rc = qt_import_stream(t, session, f, jsonl, 0, NULL, &st, err, errsz)))
        rc = qt_tape_session_end(t, session, qt_now_ns(), err, errsz);
    if (!rc && st.quotes == 0)
        rc = qt_fail(QT_ERANGE, err, errsz, "'%s' holds no quotes", jsonl);
    if (!rc)
        qt_info("imported %" PRId64 " quote(s) from %s", st.quotes, jsonl);
    qt_tape_free(t);
    fclose(f);
    return rc;
}

int qt_cmd_demo(int argc, char **argv)
{
    static const struct option lo[] = {{"out", required_argument, 0, 'o'},
                                       {"jsonl", required_argument, 0, 'j'},
                                       {"tape", required_argument, 0, 't'},
                                       {"size", required_argument, 0, 's'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *out = "spy.png", *jsonl = NULL, *tape = NULL;
    char fixture[PATH_MAX], tmpdir[] = "/tmp/quotetape-demo-XXXXXX", tmptape[PATH_MAX + 16];
    char err[1024];
    int c, fmt, made_tmp = 0;
    int64_t size_ms = 5000, t0 = qt_mono_ns();
    qt_broker *b = NULL;
    qt_kopts k;
    qt_source *src = NULL;
    qt_sink *sink = NULL;
    qt_err rc = QT_OK;
    volatile sig_atomic_t *stop = qt_cli_stop_flag();

    qt_kopts_init(&k);
    optind = 1;
    while ((c = getopt_long(argc, argv, "vqh", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'j': jsonl = optarg; break;
        case 't': tape = optarg; break;
        case 'v': qt_log_set_level(qt_log_get_level() + 1); break;
        case 'q': qt_log_set_level(QT_LOG_QUIET); break;
        case 's': {
            int64_t ns;
            if (qt_dur_parse(optarg, &ns, err, sizeof err) || ns < QT_NS_PER_MS ||
                ns % QT_NS_PER_MS)
                return qt_cli_usage_error(argv[0], "--size '%s': a duration of whole ms", optarg);
            size_ms = ns / QT_NS_PER_MS;
            break;
        }
        case 'h': fputs(qt_demo_help, stdout); return 0;
        default: return qt_cli_usage_error(argv[0], "unknown option");
        }
    }
    if (optind < argc)
        return qt_cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (jsonl && tape)
        return qt_cli_usage_error(argv[0], "give --jsonl or --tape, not both");
    if ((fmt = qt_gp_format_of(out)) < 0)
        return qt_cli_usage_error(argv[0], "--out '%s': name a .png or .svg file", out);
    if (!tape && !jsonl) {
        if (qt_demo_find_fixture(fixture, sizeof fixture))
            return qt_cli_fail(QT_ENOTFOUND,
                               "cannot find the SPY sample " QT_DEMO_FIXTURE
                               "; run from the source directory or give --jsonl FILE");
        jsonl = fixture;
    }

    /* 1. the tape */
    if (!tape) {
        if (!mkdtemp(tmpdir))
            return qt_cli_fail(QT_EIO, "cannot create a temporary directory");
        made_tmp = 1;
        snprintf(tmptape, sizeof tmptape, "%s/demo.db", tmpdir);
        if ((rc = qt_demo_import(jsonl, tmptape, err, sizeof err)))
            goto out;
        tape = tmptape;
    }

    /* 2. the embedded broker */
    if ((rc = qt_broker_start(1, 1, &b, err, sizeof err)) ||
        (rc = qt_broker_create_topic(b, "quotes", 1, err, sizeof err)) ||
        (rc = qt_broker_create_topic(b, "quotes.w5s", 1, err, sizeof err)))
        goto out;
    if ((rc = qt_kopts_set_brokers(&k, qt_broker_bootstraps(b)))) {
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    qt_info("embedded broker at %s", qt_broker_bootstraps(b));

    /* 3. replay the tape into "quotes" as fast as possible, Kafka timestamp =
     * event time */
    {
        qt_replay_sel sel;
        qt_replay_cfg cfg;
        qt_replay_stats rs;
        memset(&sel, 0, sizeof sel);
        memset(&cfg, 0, sizeof cfg);
        cfg.speed = 0;
        cfg.loops = 1;
        cfg.pace_by = QT_PACE_AUTO;
        cfg.ts_mode = QT_TS_ORIGINAL;
        cfg.stop = stop;
        if ((rc = qt_source_tape_open(tape, &sel, &src, err, sizeof err)) ||
            (rc = qt_sink_kafka_open(&k, "quotes", 10000, &sink, err, sizeof err)) ||
            (rc = qt_replay_run(&cfg, src, sink, &rs, err, sizeof err)))
            goto out;
        qt_info("replayed %" PRIu64 " quote(s) into 'quotes'", rs.delivered);
    }

    /* 4. window "quotes" into "quotes.w5s" to the end of the topic */
    {
        qt_wstream_opts wo;
        qt_wstream_stats ws;
        qt_pos beg = {QT_POS_BEGINNING, 0};
        memset(&wo, 0, sizeof wo);
        wo.kopts = &k;
        wo.in_topic = "quotes";
        wo.out_topic = "quotes.w5s";
        wo.size_ms = size_ms;
        wo.lateness_ms = 1000;
        wo.from = &beg;
        wo.group = "quotetape-demo";
        wo.exit_at_end = 1;
        wo.stop = stop;
        if ((rc = qt_wstream_run(&wo, &ws, err, sizeof err)))
            goto out;
        qt_info("%" PRId64 " window(s) into 'quotes.w5s' (%" PRId64 " late quote(s) dropped)",
                ws.windows, ws.late);
    }

    /* 5. chart every window */
    {
        qt_view_opts vo;
        qt_view_stats vs;
        memset(&vo, 0, sizeof vo);
        vo.kopts = &k;
        vo.topic = "quotes.w5s";
        vo.last_n = 1000000;
        vo.fmt = (qt_gp_format)fmt;
        vo.out = out;
        vo.stop = stop;
        if ((rc = qt_view_run(&vo, &vs, err, sizeof err)))
            goto out;
        printf("wrote %s (%zu windows)\n", out, vs.windows);
        fflush(stdout);
    }
    qt_info("done in %.1f s", (double)(qt_mono_ns() - t0) / 1e9);

out:
    if (sink)
        sink->free(sink);
    if (src)
        src->free(src);
    qt_kopts_release(&k);
    qt_broker_free(b);
    if (made_tmp) {
        unlink(tmptape);
        char side[PATH_MAX + 32];
        snprintf(side, sizeof side, "%s-wal", tmptape);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", tmptape);
        unlink(side);
        rmdir(tmpdir);
    }
    if (rc)
        return qt_cli_fail(rc, err);
    return 0;
}
