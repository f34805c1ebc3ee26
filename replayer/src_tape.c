/* quotetape — replay source: a SQLite tape. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/tape.h"
#include "replayer/replay.h"

typedef struct qt_src_tape {
    qt_source base;
    qt_tape *tape;
    qt_tape_sel sel;
    sqlite3_stmt *st;  /* the selection, in seq order */
    int has_peeked;    /* st holds the first row, read at open */
    char *path;
} qt_src_tape;

/* Reading the selection: only the five columns a replay needs, straight from
 * the statement. qt_tape_iter decodes every column of a quote into a
 * qt_quote, which costs about a third of a full-speed replay; the columns
 * used here are part of the tape schema contract (schema/tape.sql). */
#define QT_SRC_TAPE_SQL "SELECT seq, symbol, t_ns, recv_ns, raw FROM quotes WHERE seq >= ?1 AND seq < ?2"
#define QT_SRC_TAPE_SYMS_MAX 500

static qt_err qt_src_tape_prepare(qt_src_tape *st, char *err, size_t errsz)
{
    char sql[4096];
    size_t n;
    int rc;

    if (st->sel.nsymbols > QT_SRC_TAPE_SYMS_MAX)
        return qt_fail(QT_ETOOBIG, err, errsz, "too many symbols in one selection (%zu > %d)",
                       st->sel.nsymbols, QT_SRC_TAPE_SYMS_MAX);
    n = (size_t)snprintf(sql, sizeof sql, "%s", QT_SRC_TAPE_SQL);
    if (st->sel.nsymbols) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND symbol IN (");
        for (size_t i = 0; i < st->sel.nsymbols; i++)
            n += (size_t)snprintf(sql + n, sizeof sql - n, "%s?", i ? "," : "");
        n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
    }
    snprintf(sql + n, sizeof sql - n, " ORDER BY seq");
    sqlite3_finalize(st->st);
    st->st = NULL;
    rc = sqlite3_prepare_v2(qt_tape_db(st->tape), sql, -1, &st->st, NULL);
    if (rc != SQLITE_OK)
        return qt_fail(rc == SQLITE_BUSY ? QT_EBUSY : QT_ETAPE, err, errsz,
                       "cannot read the tape: %s", sqlite3_errmsg(qt_tape_db(st->tape)));
    sqlite3_bind_int64(st->st, 1, st->sel.from_seq);
    sqlite3_bind_int64(st->st, 2, st->sel.to_seq);
    for (size_t i = 0; i < st->sel.nsymbols; i++)
        sqlite3_bind_text(st->st, (int)i + 3, st->sel.symbols[i], -1, SQLITE_STATIC);
    return QT_OK;
}

/* The error class of the tape's last failure. */
static qt_err qt_src_tape_errcode(qt_src_tape *st)
{
    switch (sqlite3_errcode(qt_tape_db(st->tape)) & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return QT_EBUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return QT_ETAPE;
    case SQLITE_NOMEM: return QT_ENOMEM;
    default: return QT_EIO;
    }
}

/* Steps to the next row: 1, 0 at the end, -1 with the reason in err. */
static int qt_src_tape_step(qt_src_tape *st, char *err, size_t errsz)
{
    int rc = sqlite3_step(st->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    st->base.last_err = qt_src_tape_errcode(st);
    qt_fail(st->base.last_err, err, errsz, "tape '%s' is %s (read): %s", st->path,
            st->base.last_err == QT_EBUSY ? "locked by another process" : "corrupt",
            sqlite3_errmsg(qt_tape_db(st->tape)));
    return -1;
}

static int qt_src_tape_next(qt_source *s, qt_replay_msg *m, char *err, size_t errsz)
{
    qt_src_tape *st = (qt_src_tape *)s;
    sqlite3_stmt *q = st->st;
    int r;
    if (st->has_peeked) {
        st->has_peeked = 0;
        r = 1;
    } else {
        r = qt_src_tape_step(st, err, errsz);
    }
    if (r <= 0)
        return r;
    m->pos = sqlite3_column_int64(q, 0);
    m->partition = -1;
    /* _blob, not _text: the bytes as stored, straight from the page, where
     * _text would copy each value to add a terminating NUL (the sinks take
     * a length). */
    m->key = sqlite3_column_blob(q, 1);
    m->key_len = (size_t)sqlite3_column_bytes(q, 1);
    m->event_ns = sqlite3_column_int64(q, 2);
    m->recv_ns = sqlite3_column_int64(q, 3); /* NULL reads as 0 = unknown */
    m->value = sqlite3_column_blob(q, 4);
    m->value_len = (size_t)sqlite3_column_bytes(q, 4);
    if (!m->key) {
        m->key = "";
        m->key_len = 0;
    }
    if (!m->value) {
        m->value = "";
        m->value_len = 0;
    }
    return 1;
}

static qt_err qt_src_tape_rewind(qt_source *s, char *err, size_t errsz)
{
    qt_src_tape *st = (qt_src_tape *)s;
    (void)err;
    (void)errsz;
    st->has_peeked = 0;
    sqlite3_reset(st->st);
    return QT_OK;
}

static size_t qt_src_tape_resume(qt_source *s, int64_t pos, int32_t partition, char *buf,
                                 size_t n)
{
    int r;
    (void)s;
    (void)partition;
    r = snprintf(buf, n, "seq:%" PRId64, pos);
    return r < 0 ? 0 : (size_t)r;
}

static void qt_src_tape_free(qt_source *s)
{
    qt_src_tape *st = (qt_src_tape *)s;
    if (!st)
        return;
    sqlite3_finalize(st->st);
    qt_tape_free(st->tape);
    free(st->path);
    free(st);
}

/* Parses and resolves one end of the selection. */
static qt_err qt_src_tape_pos(qt_src_tape *st, const char *text, int is_to, int64_t *seq,
                              char *err, size_t errsz)
{
    qt_pos p;
    char e2[256];
    qt_err e;
    if (!text) {
        p.kind = is_to ? QT_POS_END : QT_POS_BEGINNING;
        p.v = 0;
    } else if ((e = qt_pos_parse(text, &p, e2, sizeof e2))) {
        return qt_fail(e, err, errsz, "--%s: %s", is_to ? "to" : "from", e2);
    }
    if (p.kind == QT_POS_OFFSET)
        return qt_fail(QT_EINVAL, err, errsz,
                       "--%s %s: offset:N is a Kafka position; a tape takes seq:N, a time or "
                       "+DURATION",
                       is_to ? "to" : "from", text);
    if (p.kind == QT_POS_BEGINNING && is_to) {
        *seq = 1;
        return QT_OK;
    }
    if ((e = qt_tape_resolve(st->tape, &st->sel, &p, seq, e2, sizeof e2)))
        return qt_fail(e, err, errsz, "--%s %s: %s", is_to ? "to" : "from", text ? text : "", e2);
    return QT_OK;
}

qt_err qt_source_tape_open(const char *path, const qt_replay_sel *sel, qt_source **out, char *err,
                           size_t errsz)
{
    qt_src_tape *st;
    int64_t from, to, n = 0;
    int r;
    qt_err e;

    *out = NULL;
    st = calloc(1, sizeof *st);
    if (!st)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    st->base.next = qt_src_tape_next;
    st->base.rewind = qt_src_tape_rewind;
    st->base.resume = qt_src_tape_resume;
    st->base.free = qt_src_tape_free;
    if (!(st->path = strdup(path))) {
        free(st);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    st->sel.symbols = sel->symbols;
    st->sel.nsymbols = sel->nsymbols;
    if ((e = qt_tape_open(path, QT_TAPE_READ, &st->tape, err, errsz)))
        goto fail;
    /* A replay reads the tape once, in order: a small page cache is enough,
     * and SQLite's default (2 MiB) would only add memory to touch. */
    sqlite3_exec(qt_tape_db(st->tape), "PRAGMA cache_size=-256", NULL, NULL, NULL);
    if ((e = qt_src_tape_pos(st, sel->from, 0, &from, err, errsz)) ||
        (e = qt_src_tape_pos(st, sel->to, 1, &to, err, errsz)))
        goto fail;
    if (from > to) {
        e = qt_fail(QT_ERANGE, err, errsz,
                    "--from %s is after --to %s (seq:%" PRId64 " > seq:%" PRId64 ")",
                    sel->from ? sel->from : "beginning", sel->to ? sel->to : "end", from, to);
        goto fail;
    }
    st->sel.from_seq = from;
    st->sel.to_seq = to;
    /* Counting would read the whole selection once more before replaying
     * it; without a symbol filter the seq span is a close upper bound (it is
     * only used for the ETA), and an empty selection shows up as no first
     * row, which is kept for the first next(). */
    if (sel->nsymbols) {
        if ((e = qt_tape_count(st->tape, &st->sel, &n, err, errsz)))
            goto fail;
    } else {
        n = to - from;
    }
    st->base.total = n;
    st->base.has_recv = qt_tape_has_recv(st->tape, &st->sel);
    if ((e = qt_src_tape_prepare(st, err, errsz)))
        goto fail;
    r = n > 0 ? qt_src_tape_step(st, err, errsz) : 0;
    if (r < 0) {
        e = st->base.last_err;
        goto fail;
    }
    if (r == 0) {
        e = qt_fail(QT_ERANGE, err, errsz,
                    "nothing to replay: no quotes%s in [seq:%" PRId64 ", seq:%" PRId64
                    ") of '%s'",
                    sel->nsymbols ? " of the selected symbols" : "", from, to, path);
        goto fail;
    }
    st->has_peeked = 1;
    *out = &st->base;
    return QT_OK;
fail:
    qt_src_tape_free(&st->base);
    return e;
}
