/* quotetape import, export, info — the tape's text side. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/qtime.h"
#include "core/tapeio.h"

/* ------------------------------------------------------------------------ */
/* import                                                                    */
/* ------------------------------------------------------------------------ */

static const char qt_import_help[] =
    "usage: quotetape import FILE... --db TAPE [--strict] [-v|-q]\n"
    "\n"
    "Reads tape JSON lines (schema/tape-jsonl.md) into a tape, creating it if\n"
    "needed. Each FILE becomes one session; '-' reads stdin.\n"
    "\n"
    "  --db TAPE    the tape (a SQLite file) to write\n"
    "  --strict     import nothing if any line is bad (one transaction)\n"
    "  -v, -q       more or less logging on stderr\n"
    "\n"
    "Bad lines are reported as FILE:LINE: reason. Without --strict they are\n"
    "skipped, the rest is imported, and the exit code is 65 so scripts notice.\n"
    "\n"
    "example: quotetape import fixtures/spy-30m.jsonl --db spy.db\n";

int qt_cmd_import(int argc, char **argv)
{
    static const struct option lo[] = {{"db", required_argument, 0, 'd'},
                                       {"strict", no_argument, 0, 's'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    volatile sig_atomic_t *stop = qt_cli_stop_flag();
    const char *db = NULL;
    int strict = 0, c, rcode = 0;
    qt_import_stats total = {0};
    qt_tape *t = NULL;
    char err[1024];
    qt_err e = QT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "vqh", lo, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 's': strict = 1; break;
        case 'v': qt_log_set_level(qt_log_get_level() + 1); break;
        case 'q': qt_log_set_level(QT_LOG_QUIET); break;
        case 'h': fputs(qt_import_help, stdout); return 0;
        default: return qt_cli_usage_error("import", "bad option");
        }
    }
    if (!db)
        return qt_cli_usage_error("import", "--db TAPE is required");
    if (optind >= argc)
        return qt_cli_usage_error("import", "no input files");
    if ((e = qt_tape_open(db, QT_TAPE_WRITE, &t, err, sizeof err)))
        return qt_cli_fail(e, err);
    /* --strict: every file in one transaction, so any bad line keeps all out. */
    if (strict && (e = qt_tape_begin(t, err, sizeof err)))
        goto out;
    for (int i = optind; i < argc && !e; i++) {
        const char *name = argv[i];
        FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
        qt_import_stats st = {0};
        int64_t session;
        char src[1100];
        if (!f) {
            e = qt_fail(QT_ENOTFOUND, err, sizeof err, "cannot open '%s': %s", name,
                        strerror(errno));
            break;
        }
        snprintf(src, sizeof src, "import:%s", strrchr(name, '/') ? strrchr(name, '/') + 1 : name);
        qt_session_info si = {src, NULL, NULL};
        e = qt_tape_session_begin(t, &si, &session, err, sizeof err);
        if (!e)
            e = qt_import_stream(t, session, f, name, strict, stop, &st, err, sizeof err);
        if (!e)
            e = qt_tape_session_end(t, session, qt_now_ns(), err, sizeof err);
        if (f != stdin)
            fclose(f);
        total.lines += st.lines;
        total.quotes += st.quotes;
        total.trades += st.trades;
        total.bars += st.bars;
        total.control += st.control;
        total.bad += st.bad;
    }
    if (strict) {
        if (e)
            qt_tape_rollback(t);
        else
            e = qt_tape_commit(t, err, sizeof err);
    }
out:
    qt_tape_free(t);
    if (e) {
        if (strict)
            qt_error("nothing imported (--strict)");
        return qt_cli_fail(e, err);
    }
    qt_info("imported %lld quotes, %lld trades, %lld bars from %lld lines into '%s'%s",
            (long long)total.quotes, (long long)total.trades, (long long)total.bars,
            (long long)total.lines, db, total.bad ? "" : "");
    if (total.bad) {
        qt_error("%lld bad line(s) skipped", (long long)total.bad);
        rcode = qt_exit_code(QT_EINVAL);
    }
    return rcode;
}

/* ------------------------------------------------------------------------ */
/* export                                                                    */
/* ------------------------------------------------------------------------ */

static const char qt_export_help[] =
    "usage: quotetape export --db TAPE [--symbols S,..] [--from POS] [--to POS]\n"
    "                        [--format jsonl|csv] [-o FILE]\n"
    "\n"
    "Writes the tape's quotes in tape order to stdout (or FILE).\n"
    "\n"
    "  --db TAPE          the tape to read\n"
    "  --symbols S,..     only these symbols\n"
    "  --from POS         first quote (inclusive); default beginning\n"
    "  --to POS           end of the range (exclusive); default end\n"
    "  --format F         jsonl (default: tape JSON lines, raw messages byte for\n"
    "                     byte) or csv (one row a quote, with a header)\n"
    "  -o, --output FILE  write there instead of stdout\n"
    "\n"
    "POS is beginning, end, seq:N, an RFC 3339 time (first quote at or after\n"
    "it), or +DURATION after the first quote (+90s, +5m).\n"
    "\n"
    "example: quotetape export --db spy.db --from +5m --to +6m --format csv\n";

int qt_cmd_export(int argc, char **argv)
{
    static const struct option lo[] = {{"db", required_argument, 0, 'd'},
                                       {"symbols", required_argument, 0, 's'},
                                       {"from", required_argument, 0, 'f'},
                                       {"to", required_argument, 0, 't'},
                                       {"format", required_argument, 0, 'm'},
                                       {"output", required_argument, 0, 'o'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *db = NULL, *symbols = NULL, *from = NULL, *to = NULL, *out = NULL;
    qt_export_format fmt = QT_EXPORT_JSONL;
    qt_tape *t = NULL;
    qt_tape_sel sel;
    char **syms = NULL, err[1024];
    int64_t n = 0;
    FILE *f = stdout;
    qt_err e;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:vqh", lo, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 's': symbols = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'o': out = optarg; break;
        case 'm':
            if (strcmp(optarg, "jsonl") == 0)
                fmt = QT_EXPORT_JSONL;
            else if (strcmp(optarg, "csv") == 0)
                fmt = QT_EXPORT_CSV;
            else
                return qt_cli_usage_error("export", "unknown format '%s' (jsonl or csv)", optarg);
            break;
        case 'v': qt_log_set_level(qt_log_get_level() + 1); break;
        case 'q': qt_log_set_level(QT_LOG_QUIET); break;
        case 'h': fputs(qt_export_help, stdout); return 0;
        default: return qt_cli_usage_error("export", "bad option");
        }
    }
    if (!db)
        return qt_cli_usage_error("export", "--db TAPE is required");
    if (optind < argc)
        return qt_cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
    if ((e = qt_tape_open(db, QT_TAPE_READ, &t, err, sizeof err)))
        return qt_cli_fail(e, err);
    e = qt_cli_tape_selection(t, symbols, from, to, &sel, &syms, err, sizeof err);
    if (!e && out && !(f = fopen(out, "wb")))
        e = qt_fail(QT_EIO, err, sizeof err, "cannot create '%s': %s", out, strerror(errno));
    if (!e)
        e = qt_export(t, &sel, fmt, f, &n, err, sizeof err);
    if (f && f != stdout && fclose(f) != 0 && !e)
        e = qt_fail(QT_EIO, err, sizeof err, "cannot write '%s': %s", out, strerror(errno));
    free(syms);
    qt_tape_free(t);
    if (e)
        return qt_cli_fail(e, err);
    qt_debug("exported %lld quotes", (long long)n);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* info                                                                      */
/* ------------------------------------------------------------------------ */

static const char qt_info_help[] =
    "usage: quotetape info --db TAPE\n"
    "\n"
    "Prints a tape's sessions, symbols, counts, time range, recorded gaps and\n"
    "how far Kafka has confirmed delivery.\n"
    "\n"
    "example: quotetape info --db spy.db\n";

int qt_cmd_info(int argc, char **argv)
{
    static const struct option lo[] = {{"db", required_argument, 0, 'd'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *db = NULL;
    qt_tape *t;
    char err[1024];
    qt_err e;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'h': fputs(qt_info_help, stdout); return 0;
        default: return qt_cli_usage_error("info", "bad option");
        }
    }
    if (!db && optind < argc)
        db = argv[optind++];
    if (!db)
        return qt_cli_usage_error("info", "--db TAPE is required");
    if ((e = qt_tape_open(db, QT_TAPE_READ, &t, err, sizeof err)))
        return qt_cli_fail(e, err);
    e = qt_tape_info(t, db, stdout, err, sizeof err);
    qt_tape_free(t);
    return e ? qt_cli_fail(e, err) : 0;
}
