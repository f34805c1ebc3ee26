/* quotetape — import, export, info. */
#include "core/tapeio.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/codec.h"
#include "core/jsonl.h"
#include "core/lines.h"
#include "core/log.h"
#include "core/qtime.h"

/* Rows per transaction when the caller holds none: large enough that the
 * commit cost vanishes, small enough that a crash loses little. */
#define QT_IMPORT_BATCH 20000

/* ------------------------------------------------------------------------ */
/* Import                                                                    */
/* ------------------------------------------------------------------------ */

struct qt_import_ctx {
    qt_tape *t;
    int64_t session;
    qt_import_stats *st;
    qt_err e;
    char *err;
    size_t errsz;
};

static int qt_import_msg(const qt_msg *m, void *ud)
{
    struct qt_import_ctx *c = ud;
    switch (m->type) {
    case QT_MSG_QUOTE:
        c->e = qt_tape_append_quote(c->t, c->session, &m->u.quote, m->raw, m->raw_len, NULL,
                                    c->err, c->errsz);
        c->st->quotes += !c->e;
        break;
    case QT_MSG_TRADE:
        c->e = qt_tape_append_trade(c->t, c->session, &m->u.trade, m->raw, m->raw_len, NULL,
                                    c->err, c->errsz);
        c->st->trades += !c->e;
        break;
    case QT_MSG_BAR:
        c->e = qt_tape_append_bar(c->t, c->session, &m->u.bar, m->raw, m->raw_len, NULL, c->err,
                                  c->errsz);
        c->st->bars += !c->e;
        break;
    default:
        c->st->control++;
        break;
    }
    return c->e != QT_OK;
}

qt_err qt_import_stream(qt_tape *t, int64_t session, FILE *f, const char *name, int strict,
                        const volatile sig_atomic_t *stop, qt_import_stats *st, char *err, size_t errsz)
{
    struct qt_import_ctx c = {t, session, st, QT_OK, err, errsz};
    int own_txn = !qt_tape_in_txn(t);
    int64_t since_commit = 0;
    qt_lines lr;
    const char *line;
    size_t len;
    qt_err e, le;
    int r;
    char why[512];

    if (qt_lines_init(&lr, f, QT_FRAME_MAX))
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    if (own_txn && (e = qt_tape_begin(t, err, errsz)))
        goto out;
    e = QT_OK;
    while ((r = qt_lines_next(&lr, &line, &len, &le)) != 0) {
        if (stop && *stop) {
            e = qt_fail(QT_EINTR, err, errsz, "import of '%s' interrupted at line %zu", name,
                        lr.lineno);
            break;
        }
        st->lines++;
        if (r < 0) {
            if (le == QT_EIO) {
                e = qt_fail(QT_EIO, err, errsz, "cannot read '%s' at line %zu", name,
                            lr.lineno + 1);
                break;
            }
            snprintf(why, sizeof why, "line longer than %u bytes", QT_FRAME_MAX);
            goto bad;
        }
        why[0] = '\0';
        e = qt_jsonl_parse_line(line, len, qt_import_msg, &c, NULL, why, sizeof why);
        if (e == QT_EINTR && c.e) {
            /* the tape refused a row: that is fatal, not a bad line */
            e = c.e;
            break;
        }
        if (e == QT_OK) {
            if (own_txn && ++since_commit >= QT_IMPORT_BATCH) {
                since_commit = 0;
                if ((e = qt_tape_commit(t, err, errsz)) || (e = qt_tape_begin(t, err, errsz)))
                    break;
            }
            continue;
        }
    bad:
        st->bad++;
        if (strict) {
            e = qt_fail(QT_EINVAL, err, errsz, "%s:%zu: %s", name, lr.lineno, why);
            break;
        }
        qt_warn("%s:%zu: %s (line skipped)", name, lr.lineno, why);
        e = QT_OK;
    }
    if (own_txn) {
        if (e)
            qt_tape_rollback(t);
        else
            e = qt_tape_commit(t, err, errsz);
    }
out:
    qt_lines_release(&lr);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Export                                                                    */
/* ------------------------------------------------------------------------ */

/* Writes s as one CSV field, quoted when it holds a comma, quote or newline. */
static qt_err qt_csv_field(qt_buf *b, const char *s)
{
    qt_err e;
    if (!strpbrk(s, ",\"\r\n"))
        return qt_buf_append(b, s, strlen(s));
    if ((e = qt_buf_append(b, "\"", 1)))
        return e;
    for (; *s; s++)
        if ((e = qt_buf_append(b, s, 1)) || (*s == '"' && (e = qt_buf_append(b, "\"", 1))))
            return e;
    return qt_buf_append(b, "\"", 1);
}

static qt_err qt_export_csv_row(qt_buf *b, const qt_tape_row *r)
{
    char t[QT_TIME_STRMAX], bp[32], ap[32];
    qt_err e;
    qt_time_format(r->q.t_ns, 9, t);
    qt_fmt_double(r->q.bid_px, bp);
    qt_fmt_double(r->q.ask_px, ap);
    e = qt_buf_printf(b, "%" PRId64 ",", r->seq);
    if (!e)
        e = qt_csv_field(b, r->q.symbol);
    if (!e)
        e = qt_buf_printf(b, ",%s,%" PRId64 ",", t, r->q.t_ns);
    if (!e && r->q.recv_ns)
        e = qt_buf_printf(b, "%" PRId64, r->q.recv_ns);
    if (!e)
        e = qt_buf_printf(b, ",%s,%" PRId64 ",", bp, r->q.bid_sz);
    if (!e)
        e = qt_csv_field(b, r->q.bid_ex);
    if (!e)
        e = qt_buf_printf(b, ",%s,%" PRId64 ",", ap, r->q.ask_sz);
    if (!e)
        e = qt_csv_field(b, r->q.ask_ex);
    if (!e)
        e = qt_buf_append(b, ",", 1);
    if (!e)
        e = qt_csv_field(b, r->q.cond);
    if (!e)
        e = qt_buf_append(b, ",", 1);
    if (!e)
        e = qt_csv_field(b, r->q.tape);
    if (!e)
        e = qt_buf_append(b, "\n", 1);
    return e;
}

qt_err qt_export(qt_tape *t, const qt_tape_sel *sel, qt_export_format fmt, FILE *f, int64_t *n,
                 char *err, size_t errsz)
{
    qt_tape_iter *it;
    qt_tape_row row;
    qt_buf b;
    qt_err e;
    int r;

    *n = 0;
    if ((e = qt_tape_iter_open(t, sel, &it, err, errsz)))
        return e;
    qt_buf_init(&b, 2 * QT_FRAME_MAX);
    if (fmt == QT_EXPORT_CSV)
        fputs("seq,symbol,t,t_ns,recv_ns,bid_px,bid_sz,bid_ex,ask_px,ask_sz,ask_ex,conditions,"
              "tape\n",
              f);
    while ((r = qt_tape_iter_next(it, &row, err, errsz)) == 1) {
        e = fmt == QT_EXPORT_CSV ? qt_export_csv_row(&b, &row)
                                 : qt_jsonl_format(row.q.recv_ns, row.raw, row.raw_len, &b);
        if (e) {
            e = qt_fail(e, err, errsz, "cannot format quote seq %" PRId64, row.seq);
            break;
        }
        (*n)++;
        if (b.len >= 256 * 1024) {
            if (fwrite(b.data, 1, b.len, f) != b.len) {
                e = qt_fail(QT_EIO, err, errsz, "cannot write output: %s", "write failed");
                break;
            }
            qt_buf_reset(&b);
        }
    }
    if (r < 0 && !e)
        e = QT_ETAPE;
    if (!e && b.len && fwrite(b.data, 1, b.len, f) != b.len)
        e = qt_fail(QT_EIO, err, errsz, "cannot write output: write failed");
    if (!e && fflush(f) != 0)
        e = qt_fail(QT_EIO, err, errsz, "cannot write output: flush failed");
    qt_buf_release(&b);
    qt_tape_iter_free(it);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Info                                                                      */
/* ------------------------------------------------------------------------ */

static void qt_fmt_ns(int64_t ns, char *buf)
{
    if (ns)
        qt_time_format(ns, 3, buf);
    else
        snprintf(buf, QT_TIME_STRMAX, "-");
}

qt_err qt_tape_info(qt_tape *t, const char *path, FILE *f, char *err, size_t errsz)
{
    sqlite3 *db = qt_tape_db(t);
    sqlite3_stmt *st;
    struct stat sb;
    char a[QT_TIME_STRMAX], b[QT_TIME_STRMAX], d[64];
    int rc;

    fprintf(f, "tape: %s (schema %d, %.1f MiB)\n", path, QT_TAPE_VERSION,
            stat(path, &sb) == 0 ? (double)sb.st_size / (1024.0 * 1024.0) : 0.0);

#define QT_INFO_PREP(sql)                                                                       \
    do {                                                                                        \
        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);                                        \
        if (rc != SQLITE_OK)                                                                    \
            return qt_fail(QT_ETAPE, err, errsz, "cannot read tape '%s': %s", path,             \
                           sqlite3_errmsg(db));                                                 \
    } while (0)

    QT_INFO_PREP("SELECT count(*), min(seq), max(seq), min(t_ns), max(t_ns), "
                 "count(DISTINCT symbol), (SELECT count(*) FROM trades), "
                 "(SELECT count(*) FROM bars) FROM quotes");
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t lo = sqlite3_column_int64(st, 3), hi = sqlite3_column_int64(st, 4);
        qt_fmt_ns(lo, a);
        qt_fmt_ns(hi, b);
        qt_dur_format(hi - lo, d, sizeof d);
        fprintf(f, "quotes: %lld (seq %lld..%lld), trades: %lld, bars: %lld, symbols: %lld\n",
                (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
                (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 6),
                (long long)sqlite3_column_int64(st, 7), (long long)sqlite3_column_int64(st, 5));
        fprintf(f, "time range: %s .. %s (%s)\n", a, b, lo ? d : "-");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return qt_fail(QT_ETAPE, err, errsz, "cannot read tape '%s': %s", path,
                       sqlite3_errmsg(db));

    QT_INFO_PREP("SELECT s.id, s.source, s.started_ns, s.ended_ns, coalesce(s.symbols,''), "
                 "(SELECT count(*) FROM quotes q WHERE q.session = s.id) "
                 "FROM sessions s ORDER BY s.id");
    fprintf(f, "sessions:\n");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        qt_fmt_ns(sqlite3_column_int64(st, 2), a);
        qt_fmt_ns(sqlite3_column_int64(st, 3), b);
        fprintf(f, "  #%lld %s  started %s  ended %s  quotes %lld%s%s\n",
                (long long)sqlite3_column_int64(st, 0), sqlite3_column_text(st, 1), a, b,
                (long long)sqlite3_column_int64(st, 5),
                *sqlite3_column_text(st, 4) ? "  symbols " : "", sqlite3_column_text(st, 4));
    }
    sqlite3_finalize(st);

    QT_INFO_PREP("SELECT symbol, count(*), min(t_ns), max(t_ns), min(seq), max(seq) FROM quotes "
                 "GROUP BY symbol ORDER BY symbol");
    fprintf(f, "symbols:\n");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        qt_fmt_ns(sqlite3_column_int64(st, 2), a);
        qt_fmt_ns(sqlite3_column_int64(st, 3), b);
        fprintf(f, "  %-10s %lld quotes  %s .. %s  seq %lld..%lld\n", sqlite3_column_text(st, 0),
                (long long)sqlite3_column_int64(st, 1), a, b,
                (long long)sqlite3_column_int64(st, 4), (long long)sqlite3_column_int64(st, 5));
    }
    sqlite3_finalize(st);

    QT_INFO_PREP("SELECT session, from_ns, to_ns, reason FROM gaps ORDER BY from_ns");
    int ngaps = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!ngaps++)
            fprintf(f, "gaps:\n");
        qt_fmt_ns(sqlite3_column_int64(st, 1), a);
        qt_fmt_ns(sqlite3_column_int64(st, 2), b);
        qt_dur_format(sqlite3_column_int64(st, 2) - sqlite3_column_int64(st, 1), d, sizeof d);
        fprintf(f, "  session #%lld  %s .. %s (%s)  %s\n", (long long)sqlite3_column_int64(st, 0),
                a, b, d, sqlite3_column_text(st, 3));
    }
    if (!ngaps)
        fprintf(f, "gaps: none\n");
    sqlite3_finalize(st);

    QT_INFO_PREP("SELECT topic, acked_seq FROM kafka_acked ORDER BY topic");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fprintf(f, "kafka: topic '%s' confirmed up to seq %lld\n", sqlite3_column_text(st, 0),
                (long long)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
#undef QT_INFO_PREP
    return QT_OK;
}
