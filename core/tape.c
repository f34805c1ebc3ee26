/* quotetape — the SQLite tape store. */
#include "core/tape.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/qtime.h"
#include "tape_sql.h"

/* How long a writer waits for another's lock before QT_EBUSY. */
#define QT_TAPE_BUSY_MS 5000
/* Most symbols a selection may name (bound as SQL parameters). */
#define QT_TAPE_SEL_MAX 500

/* WAL checkpoints of a writable tape run on a thread of their own, with a
 * connection of their own: copying the WAL back into the database (and its
 * fsyncs) then costs the writer nothing. The writer's WAL hook wakes the
 * thread once the WAL holds QT_TAPE_CKPT_BYTES. SQLite restarts the WAL
 * only when a write transaction begins with all of it copied back, which a
 * writer committing without pause may never see; so at twice that size the
 * writer checkpoints by itself, copying only what the thread has not, and
 * the WAL stays bounded either way. */
#define QT_TAPE_CKPT_BYTES (32 * 1024 * 1024)
/* New tapes use 16 KiB pages: a quarter of the page splits and WAL frame
 * headers of SQLite's 4 KiB for an append-only table of ~200-byte rows.
 * Tapes made with other page sizes keep theirs. */
#define QT_TAPE_PAGE_SIZE "16384"

typedef struct qt_tape_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *db;
    int want, quit;
    int pages; /* checkpoint once the WAL holds this many */
} qt_tape_ckpt;

struct qt_tape {
    sqlite3 *db;
    char *path;
    int writable;
    int in_txn;
    sqlite3_stmt *ins_quote, *ins_trade, *ins_bar;
    qt_tape_ckpt *ck; /* NULL: SQLite's own autocheckpoint */
};

struct qt_tape_iter {
    qt_tape *t;
    sqlite3_stmt *st;
    int prices_only;
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* Maps a SQLite result to a qt_err and a message naming the tape. */
static qt_err qt_tape_sqlerr(qt_tape *t, int rc, const char *what, char *err, size_t errsz)
{
    const char *msg = t && t->db ? sqlite3_errmsg(t->db) : sqlite3_errstr(rc);
    const char *path = t && t->path ? t->path : "?";
    /* On SQLITE_FULL, SQLITE_IOERR and the like SQLite may roll the whole
     * transaction back by itself; the batch is gone, so a later commit must
     * not report "no transaction is active" instead of the real cause. */
    if (t && t->db && t->in_txn && sqlite3_get_autocommit(t->db))
        t->in_txn = 0;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return qt_fail(QT_EBUSY, err, errsz,
                       "tape '%s' is locked by another process (%s): %s", path, what, msg);
    case SQLITE_NOTADB:
        return qt_fail(QT_ETAPE, err, errsz, "'%s' is not a tape: file is not a database", path);
    case SQLITE_CORRUPT:
        return qt_fail(QT_ETAPE, err, errsz, "tape '%s' is corrupt (%s): %s", path, what, msg);
    case SQLITE_FULL:
        return qt_fail(QT_EIO, err, errsz, "cannot write tape '%s': disk full", path);
    case SQLITE_CANTOPEN:
        return qt_fail(QT_EIO, err, errsz, "cannot open tape '%s': %s", path, msg);
    case SQLITE_READONLY:
        return qt_fail(QT_EIO, err, errsz, "cannot write tape '%s': read-only", path);
    case SQLITE_IOERR:
        return qt_fail(QT_EIO, err, errsz, "cannot %s tape '%s': %s", what, path, msg);
    default:
        return qt_fail(QT_ETAPE, err, errsz, "tape '%s': %s: %s", path, what, msg);
    }
}

static qt_err qt_tape_exec(qt_tape *t, const char *sql, const char *what, char *err, size_t errsz)
{
    int rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? QT_OK : qt_tape_sqlerr(t, rc, what, err, errsz);
}

/* ------------------------------------------------------------------------ */
/* Open, check, migrate                                                      */
/* ------------------------------------------------------------------------ */

static int qt_tape_int(qt_tape *t, const char *sql, int64_t *v)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(t->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *v = 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Checks what the file holds: an empty database (fresh), a quotetape tape of
 * a version we know, or something else. Creates the schema when writable
 * and fresh. */
static qt_err qt_tape_check(qt_tape *t, char *err, size_t errsz)
{
    int64_t ver = 0, ntables = 0, nquotes = 0;
    int rc;

    rc = qt_tape_int(t, "PRAGMA user_version", &ver);
    if (rc == SQLITE_OK)
        rc = qt_tape_int(t, "SELECT count(*) FROM sqlite_master", &ntables);
    if (rc != SQLITE_OK)
        return qt_tape_sqlerr(t, rc, "read", err, errsz);
    if (ver > QT_TAPE_VERSION)
        return qt_fail(QT_EVERSION, err, errsz,
                       "tape '%s' has schema version %lld, newer than this quotetape knows (%d); "
                       "upgrade quotetape to read it",
                       t->path, (long long)ver, QT_TAPE_VERSION);
    if (ver == 0 && ntables == 0) {
        if (!t->writable)
            return qt_fail(QT_ETAPE, err, errsz, "'%s' is not a tape: it is an empty database",
                           t->path);
        qt_err e = qt_tape_exec(t, "PRAGMA page_size=" QT_TAPE_PAGE_SIZE, "create", err, errsz);
        if (e || (e = qt_tape_exec(t, "BEGIN IMMEDIATE", "create", err, errsz)))
            return e;
        if ((e = qt_tape_exec(t, qt_tape_sql, "create", err, errsz)) ||
            (e = qt_tape_exec(t, "PRAGMA user_version = 1", "create", err, errsz))) {
            sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
            return e;
        }
        return qt_tape_exec(t, "COMMIT", "create", err, errsz);
    }
    if (ver == 0)
        return qt_fail(QT_ETAPE, err, errsz,
                       "'%s' is not a tape: a SQLite database without quotetape's schema", t->path);
    rc = qt_tape_int(t, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                        "('sessions','quotes','trades','bars','gaps','kafka_acked')",
                     &nquotes);
    if (rc != SQLITE_OK)
        return qt_tape_sqlerr(t, rc, "read", err, errsz);
    if (nquotes != 6)
        return qt_fail(QT_ETAPE, err, errsz, "tape '%s' is damaged: tables are missing", t->path);
    return QT_OK;
}

static qt_err qt_tape_prepare(qt_tape *t, sqlite3_stmt **st, const char *sql, char *err,
                              size_t errsz)
{
    int rc = sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return rc == SQLITE_OK ? QT_OK : qt_tape_sqlerr(t, rc, "prepare", err, errsz);
}

/* Before SQLite's first use: no memory statistics. They take a global
 * mutex on every allocation, which the recorder's insert loop paid for on
 * each row; quotetape never reads them. */
static void qt_tape_sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static void *qt_tape_ckpt_main(void *arg)
{
    qt_tape_ckpt *ck = arg;
    for (;;) {
        pthread_mutex_lock(&ck->mu);
        while (!ck->want && !ck->quit)
            pthread_cond_wait(&ck->cv, &ck->mu);
        if (ck->quit) {
            pthread_mutex_unlock(&ck->mu);
            return NULL;
        }
        ck->want = 0;
        pthread_mutex_unlock(&ck->mu);
        /* PASSIVE: copies what no reader still needs, never waits on the
         * writer; the writer restarts the WAL once all of it is copied. */
        (void)sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
}

/* Called by SQLite after each commit on the writer's connection. */
static int qt_tape_wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
    qt_tape_ckpt *ck = ud;
    if (pages >= 2 * ck->pages) {
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (pages >= ck->pages) {
        pthread_mutex_lock(&ck->mu);
        ck->want = 1;
        pthread_cond_signal(&ck->cv);
        pthread_mutex_unlock(&ck->mu);
    }
    return SQLITE_OK;
}

static void qt_tape_ckpt_stop(qt_tape *t)
{
    qt_tape_ckpt *ck = t->ck;
    if (!ck)
        return;
    sqlite3_wal_hook(t->db, NULL, NULL);
    pthread_mutex_lock(&ck->mu);
    ck->quit = 1;
    pthread_cond_signal(&ck->cv);
    pthread_mutex_unlock(&ck->mu);
    pthread_join(ck->thread, NULL);
    sqlite3_close_v2(ck->db);
    pthread_cond_destroy(&ck->cv);
    pthread_mutex_destroy(&ck->mu);
    free(ck);
    t->ck = NULL;
}

/* Starts the checkpoint thread; on any failure the tape keeps SQLite's own
 * autocheckpoint (set at open), which is correct, only slower. */
static void qt_tape_ckpt_start(qt_tape *t, int pages)
{
    qt_tape_ckpt *ck = calloc(1, sizeof *ck);
    if (!ck)
        return;
    ck->pages = pages;
    if (sqlite3_open_v2(t->path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sqlite3_close_v2(ck->db);
        free(ck);
        return;
    }
    pthread_mutex_init(&ck->mu, NULL);
    pthread_cond_init(&ck->cv, NULL);
    if (pthread_create(&ck->thread, NULL, qt_tape_ckpt_main, ck) != 0) {
        sqlite3_close_v2(ck->db);
        pthread_cond_destroy(&ck->cv);
        pthread_mutex_destroy(&ck->mu);
        free(ck);
        return;
    }
    t->ck = ck;
    sqlite3_wal_hook(t->db, qt_tape_wal_hook, ck); /* replaces the autocheckpoint */
}

qt_err qt_tape_open(const char *path, int mode, qt_tape **out, char *err, size_t errsz)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct stat sb;
    qt_tape *t;
    qt_err e;
    int rc, flags;

    *out = NULL;
    pthread_once(&once, qt_tape_sqlite_setup);
    if (mode == QT_TAPE_READ && stat(path, &sb) != 0)
        return qt_fail(errno == ENOENT ? QT_ENOTFOUND : QT_EIO, err, errsz,
                       "cannot open tape '%s': %s", path, strerror(errno));
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return qt_fail(QT_ETAPE, err, errsz, "'%s' is not a tape: it is a directory", path);
    t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    }
    t->writable = mode == QT_TAPE_WRITE;
    flags = t->writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    rc = sqlite3_open_v2(path, &t->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        e = qt_tape_sqlerr(t, rc, "open", err, errsz);
        goto fail;
    }
    sqlite3_busy_timeout(t->db, QT_TAPE_BUSY_MS);
    sqlite3_extended_result_codes(t->db, 0);
    if ((e = qt_tape_check(t, err, errsz)))
        goto fail;
    if (t->writable) {
        /* WAL lets readers (replay, info) run while a recorder writes;
         * synchronous=NORMAL in WAL mode keeps every committed batch across
         * a process crash (kill -9) and costs one fsync per checkpoint, not
         * per commit. Checkpoints every 32 MiB of WAL rather than SQLite's
         * 1000 pages: an eighth of the fsyncs at a recorder's rate;
         * they run on a thread of their own (qt_tape_ckpt_start), with this
         * autocheckpoint as the fallback. */
        int64_t page = 4096;
        int ckpt_pages;
        char sql[64];
        if ((rc = qt_tape_int(t, "PRAGMA page_size", &page)) != SQLITE_OK) {
            e = qt_tape_sqlerr(t, rc, "read", err, errsz);
            goto fail;
        }
        ckpt_pages = (int)(QT_TAPE_CKPT_BYTES / (page > 0 ? page : 4096));
        snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%d", ckpt_pages);
        if ((e = qt_tape_exec(t, "PRAGMA journal_mode=WAL", "set WAL mode on", err, errsz)) ||
            (e = qt_tape_exec(t, "PRAGMA synchronous=NORMAL", "configure", err, errsz)) ||
            (e = qt_tape_exec(t, sql, "configure", err, errsz)))
            goto fail;
        qt_tape_ckpt_start(t, ckpt_pages);
        if ((e = qt_tape_prepare(t, &t->ins_quote,
                                 "INSERT INTO quotes(session,symbol,t_ns,recv_ns,bid_px,bid_sz,"
                                 "bid_ex,ask_px,ask_sz,ask_ex,cond,tape,raw) "
                                 "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                 err, errsz)) ||
            (e = qt_tape_prepare(t, &t->ins_trade,
                                 "INSERT INTO trades(session,symbol,t_ns,recv_ns,id,px,sz,ex,"
                                 "cond,tape,raw) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                                 err, errsz)) ||
            (e = qt_tape_prepare(t, &t->ins_bar,
                                 "INSERT INTO bars(session,symbol,t_ns,recv_ns,o,h,l,c,v,n,vw,"
                                 "raw) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                                 err, errsz)))
            goto fail;
    }
    *out = t;
    return QT_OK;
fail:
    qt_tape_free(t);
    return e;
}

void qt_tape_free(qt_tape *t)
{
    if (!t)
        return;
    if (t->in_txn)
        qt_tape_commit(t, NULL, 0);
    /* the checkpointer's connection closes first, so the writer's close is
     * the last one: it checkpoints what is left and removes the WAL */
    qt_tape_ckpt_stop(t);
    sqlite3_finalize(t->ins_quote);
    sqlite3_finalize(t->ins_trade);
    sqlite3_finalize(t->ins_bar);
    sqlite3_close_v2(t->db);
    free(t->path);
    free(t);
}

sqlite3 *qt_tape_db(qt_tape *t) { return t->db; }

/* ------------------------------------------------------------------------ */
/* Sessions and transactions                                                 */
/* ------------------------------------------------------------------------ */

qt_err qt_tape_session_begin(qt_tape *t, const qt_session_info *si, int64_t *id, char *err,
                             size_t errsz)
{
    char host[256] = "";
    sqlite3_stmt *st;
    int rc;

    gethostname(host, sizeof host - 1);
    rc = sqlite3_prepare_v2(t->db,
                            "INSERT INTO sessions(started_ns,source,symbols,topic,host) "
                            "VALUES(?,?,?,?,?)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return qt_tape_sqlerr(t, rc, "start a session in", err, errsz);
    sqlite3_bind_int64(st, 1, qt_now_ns());
    sqlite3_bind_text(st, 2, si && si->source ? si->source : "unknown", -1, SQLITE_TRANSIENT);
    if (si && si->symbols)
        sqlite3_bind_text(st, 3, si->symbols, -1, SQLITE_TRANSIENT);
    if (si && si->topic)
        sqlite3_bind_text(st, 4, si->topic, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, host, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return qt_tape_sqlerr(t, rc, "start a session in", err, errsz);
    *id = sqlite3_last_insert_rowid(t->db);
    return QT_OK;
}

qt_err qt_tape_session_end(qt_tape *t, int64_t id, int64_t ended_ns, char *err, size_t errsz)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(t->db, "UPDATE sessions SET ended_ns=? WHERE id=?", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return qt_tape_sqlerr(t, rc, "end a session in", err, errsz);
    sqlite3_bind_int64(st, 1, ended_ns);
    sqlite3_bind_int64(st, 2, id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? QT_OK : qt_tape_sqlerr(t, rc, "end a session in", err, errsz);
}

qt_err qt_tape_begin(qt_tape *t, char *err, size_t errsz)
{
    qt_err e;
    if (t->in_txn)
        return QT_OK;
    e = qt_tape_exec(t, "BEGIN IMMEDIATE", "begin a batch in", err, errsz);
    if (!e)
        t->in_txn = 1;
    return e;
}

qt_err qt_tape_commit(qt_tape *t, char *err, size_t errsz)
{
    qt_err e;
    if (!t->in_txn)
        return QT_OK;
    e = qt_tape_exec(t, "COMMIT", "commit to", err, errsz);
    if (!e)
        t->in_txn = 0;
    return e;
}

qt_err qt_tape_rollback(qt_tape *t)
{
    if (!t->in_txn)
        return QT_OK;
    sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    t->in_txn = 0;
    return QT_OK;
}

int qt_tape_in_txn(const qt_tape *t) { return t->in_txn; }

/* ------------------------------------------------------------------------ */
/* Appends                                                                   */
/* ------------------------------------------------------------------------ */

static void qt_bind_recv(sqlite3_stmt *st, int col, int64_t recv_ns)
{
    if (recv_ns)
        sqlite3_bind_int64(st, col, recv_ns);
    else
        sqlite3_bind_null(st, col);
}

static qt_err qt_tape_step_insert(qt_tape *t, sqlite3_stmt *st, int64_t *seq, char *err,
                                  size_t errsz)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return qt_tape_sqlerr(t, rc, "append to", err, errsz);
    if (seq)
        *seq = sqlite3_last_insert_rowid(t->db);
    return QT_OK;
}

qt_err qt_tape_append_quote(qt_tape *t, int64_t session, const qt_quote *q, const char *raw,
                            size_t raw_len, int64_t *seq, char *err, size_t errsz)
{
    sqlite3_stmt *st = t->ins_quote;
    if (!st)
        return qt_fail(QT_EIO, err, errsz, "tape '%s' is open read-only", t->path);
    sqlite3_bind_int64(st, 1, session);
    sqlite3_bind_text(st, 2, q->symbol, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, q->t_ns);
    qt_bind_recv(st, 4, q->recv_ns);
    sqlite3_bind_double(st, 5, q->bid_px);
    sqlite3_bind_int64(st, 6, q->bid_sz);
    sqlite3_bind_text(st, 7, q->bid_ex, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 8, q->ask_px);
    sqlite3_bind_int64(st, 9, q->ask_sz);
    sqlite3_bind_text(st, 10, q->ask_ex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, q->cond, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, q->tape, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, raw, (int)raw_len, SQLITE_STATIC);
    return qt_tape_step_insert(t, st, seq, err, errsz);
}

qt_err qt_tape_append_trade(qt_tape *t, int64_t session, const qt_trade *tr, const char *raw,
                            size_t raw_len, int64_t *seq, char *err, size_t errsz)
{
    sqlite3_stmt *st = t->ins_trade;
    if (!st)
        return qt_fail(QT_EIO, err, errsz, "tape '%s' is open read-only", t->path);
    sqlite3_bind_int64(st, 1, session);
    sqlite3_bind_text(st, 2, tr->symbol, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tr->t_ns);
    qt_bind_recv(st, 4, tr->recv_ns);
    sqlite3_bind_int64(st, 5, tr->id);
    sqlite3_bind_double(st, 6, tr->px);
    sqlite3_bind_int64(st, 7, tr->sz);
    sqlite3_bind_text(st, 8, tr->ex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, tr->cond, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, tr->tape, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, raw, (int)raw_len, SQLITE_STATIC);
    return qt_tape_step_insert(t, st, seq, err, errsz);
}

qt_err qt_tape_append_bar(qt_tape *t, int64_t session, const qt_bar *b, const char *raw,
                          size_t raw_len, int64_t *seq, char *err, size_t errsz)
{
    sqlite3_stmt *st = t->ins_bar;
    if (!st)
        return qt_fail(QT_EIO, err, errsz, "tape '%s' is open read-only", t->path);
    sqlite3_bind_int64(st, 1, session);
    sqlite3_bind_text(st, 2, b->symbol, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, b->t_ns);
    qt_bind_recv(st, 4, b->recv_ns);
    sqlite3_bind_double(st, 5, b->o);
    sqlite3_bind_double(st, 6, b->h);
    sqlite3_bind_double(st, 7, b->l);
    sqlite3_bind_double(st, 8, b->c);
    sqlite3_bind_int64(st, 9, b->v);
    sqlite3_bind_int64(st, 10, b->n);
    sqlite3_bind_double(st, 11, b->vw);
    sqlite3_bind_text(st, 12, raw, (int)raw_len, SQLITE_STATIC);
    return qt_tape_step_insert(t, st, seq, err, errsz);
}

qt_err qt_tape_add_gap(qt_tape *t, int64_t session, int64_t from_ns, int64_t to_ns,
                       const char *reason, char *err, size_t errsz)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(t->db,
                                "INSERT INTO gaps(session,from_ns,to_ns,reason) VALUES(?,?,?,?)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return qt_tape_sqlerr(t, rc, "record a gap in", err, errsz);
    sqlite3_bind_int64(st, 1, session);
    sqlite3_bind_int64(st, 2, from_ns);
    sqlite3_bind_int64(st, 3, to_ns);
    sqlite3_bind_text(st, 4, reason ? reason : "", -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? QT_OK : qt_tape_sqlerr(t, rc, "record a gap in", err, errsz);
}

qt_err qt_tape_get_acked(qt_tape *t, const char *topic, int64_t *seq, char *err, size_t errsz)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(t->db, "SELECT acked_seq FROM kafka_acked WHERE topic=?", -1, &st,
                                NULL);
    if (rc != SQLITE_OK)
        return qt_tape_sqlerr(t, rc, "read delivery state from", err, errsz);
    sqlite3_bind_text(st, 1, topic, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? QT_OK
               : qt_tape_sqlerr(t, rc, "read delivery state from", err, errsz);
}

qt_err qt_tape_set_acked(qt_tape *t, const char *topic, int64_t seq, char *err, size_t errsz)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(t->db,
                                "INSERT INTO kafka_acked(topic,acked_seq) VALUES(?,?) "
                                "ON CONFLICT(topic) DO UPDATE SET acked_seq=excluded.acked_seq",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return qt_tape_sqlerr(t, rc, "write delivery state to", err, errsz);
    sqlite3_bind_text(st, 1, topic, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, seq);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? QT_OK
                             : qt_tape_sqlerr(t, rc, "write delivery state to", err, errsz);
}

/* ------------------------------------------------------------------------ */
/* Selections and reading                                                    */
/* ------------------------------------------------------------------------ */

/* Prepares "<head> WHERE seq >= ?1 AND seq < ?2 [AND symbol IN (...)] <tail>"
 * with the selection bound; extra parameters follow the symbols. */
static qt_err qt_tape_sel_prepare(qt_tape *t, const qt_tape_sel *sel, const char *head,
                                  const char *where_extra, const char *tail, sqlite3_stmt **st,
                                  int *next_param, char *err, size_t errsz)
{
    char sql[8192];
    size_t n = 0, ns = sel ? sel->nsymbols : 0;
    int rc, p = 3;

    if (ns > QT_TAPE_SEL_MAX)
        return qt_fail(QT_ETOOBIG, err, errsz, "too many symbols in one selection (%zu > %d)",
                       ns, QT_TAPE_SEL_MAX);
    n += (size_t)snprintf(sql + n, sizeof sql - n, "%s WHERE seq >= ?1 AND seq < ?2", head);
    if (ns) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND symbol IN (");
        for (size_t i = 0; i < ns; i++)
            n += (size_t)snprintf(sql + n, sizeof sql - n, "%s?", i ? "," : "");
        n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
    }
    snprintf(sql + n, sizeof sql - n, "%s %s", where_extra ? where_extra : "", tail ? tail : "");
    rc = sqlite3_prepare_v2(t->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return qt_tape_sqlerr(t, rc, "read", err, errsz);
    sqlite3_bind_int64(*st, 1, sel && sel->from_seq > 0 ? sel->from_seq : 0);
    sqlite3_bind_int64(*st, 2, sel && sel->to_seq > 0 ? sel->to_seq : INT64_MAX);
    for (size_t i = 0; i < ns; i++)
        sqlite3_bind_text(*st, p++, sel->symbols[i], -1, SQLITE_TRANSIENT);
    if (next_param)
        *next_param = p;
    return QT_OK;
}

/* Runs a one-integer query over the selection; *found = 0 when it yields
 * no row or NULL. */
static qt_err qt_tape_sel_int(qt_tape *t, const qt_tape_sel *sel, const char *head,
                              const char *extra, const char *tail, int has_arg, int64_t arg,
                              int64_t *v, int *found, char *err, size_t errsz)
{
    sqlite3_stmt *st;
    int p, rc;
    qt_err e = qt_tape_sel_prepare(t, sel, head, extra, tail, &st, &p, err, errsz);
    if (e)
        return e;
    if (has_arg)
        sqlite3_bind_int64(st, p, arg);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    *v = *found ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return qt_tape_sqlerr(t, rc, "read", err, errsz);
    return QT_OK;
}

qt_err qt_tape_resolve(qt_tape *t, const qt_tape_sel *sel, const qt_pos *p, int64_t *seq,
                       char *err, size_t errsz)
{
    qt_tape_sel all = {0};
    int64_t last = 0, t0 = 0;
    int found, p_arg;
    qt_err e;
    char extra[64];

    if (sel) {
        all.symbols = sel->symbols;
        all.nsymbols = sel->nsymbols;
    }
    e = qt_tape_sel_int(t, NULL, "SELECT max(seq) FROM quotes", NULL, NULL, 0, 0, &last, &found,
                        err, errsz);
    if (e)
        return e;
    switch (p->kind) {
    case QT_POS_BEGINNING:
        *seq = 1;
        return QT_OK;
    case QT_POS_END:
        *seq = last + 1;
        return QT_OK;
    case QT_POS_SEQ:
        *seq = p->v > last + 1 ? last + 1 : p->v;
        return QT_OK;
    case QT_POS_OFFSET:
        return qt_fail(QT_EINVAL, err, errsz,
                       "offset:%lld is a Kafka position; a tape takes seq:N (see 'quotetape "
                       "info')",
                       (long long)p->v);
    case QT_POS_REL:
        e = qt_tape_sel_int(t, &all, "SELECT t_ns FROM quotes", NULL, "ORDER BY seq LIMIT 1", 0,
                            0, &t0, &found, err, errsz);
        if (e)
            return e;
        if (!found) {
            *seq = last + 1;
            return QT_OK;
        }
        t0 += p->v;
        break;
    case QT_POS_TIME:
        t0 = p->v;
        break;
    }
    p_arg = 3 + (int)all.nsymbols;
    snprintf(extra, sizeof extra, " AND t_ns >= ?%d", p_arg);
    e = qt_tape_sel_int(t, &all, "SELECT seq FROM quotes", extra, "ORDER BY seq LIMIT 1", 1, t0,
                        seq, &found, err, errsz);
    if (e)
        return e;
    if (!found)
        *seq = last + 1;
    return QT_OK;
}

qt_err qt_tape_iter_open(qt_tape *t, const qt_tape_sel *sel, qt_tape_iter **out, char *err,
                         size_t errsz)
{
    qt_tape_iter *it = calloc(1, sizeof *it);
    qt_err e;
    if (!it)
        return qt_fail(QT_ENOMEM, err, errsz, "out of memory");
    it->t = t;
    it->prices_only = sel && sel->prices_only;
    e = qt_tape_sel_prepare(t, sel,
                            it->prices_only
                                ? "SELECT seq,symbol,t_ns,bid_px,ask_px FROM quotes"
                                : "SELECT seq,session,symbol,t_ns,recv_ns,bid_px,bid_sz,bid_ex,"
                                  "ask_px,ask_sz,ask_ex,cond,tape,raw FROM quotes",
                            NULL, "ORDER BY seq", &it->st, NULL, err, errsz);
    if (e) {
        free(it);
        return e;
    }
    *out = it;
    return QT_OK;
}

/* Copies a text column into a bounded field (the hot path of every read). */
static void qt_col_text(sqlite3_stmt *st, int col, char *dst, size_t n)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    size_t len = s ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (len >= n)
        len = n - 1;
    if (len)
        memcpy(dst, s, len);
    dst[len] = '\0';
}

int qt_tape_iter_next(qt_tape_iter *it, qt_tape_row *row, char *err, size_t errsz)
{
    sqlite3_stmt *st = it->st;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW) {
        qt_tape_sqlerr(it->t, rc, "read", err, errsz);
        return -1;
    }
    if (it->prices_only) {
        memset(row, 0, sizeof *row);
        row->seq = sqlite3_column_int64(st, 0);
        qt_col_text(st, 1, row->q.symbol, sizeof row->q.symbol);
        row->q.t_ns = sqlite3_column_int64(st, 2);
        row->q.bid_px = sqlite3_column_double(st, 3);
        row->q.ask_px = sqlite3_column_double(st, 4);
        row->raw = "";
        return 1;
    }
    row->seq = sqlite3_column_int64(st, 0);
    row->session = sqlite3_column_int64(st, 1);
    qt_col_text(st, 2, row->q.symbol, sizeof row->q.symbol);
    row->q.t_ns = sqlite3_column_int64(st, 3);
    row->q.recv_ns = sqlite3_column_int64(st, 4);
    row->q.bid_px = sqlite3_column_double(st, 5);
    row->q.bid_sz = sqlite3_column_int64(st, 6);
    qt_col_text(st, 7, row->q.bid_ex, sizeof row->q.bid_ex);
    row->q.ask_px = sqlite3_column_double(st, 8);
    row->q.ask_sz = sqlite3_column_int64(st, 9);
    qt_col_text(st, 10, row->q.ask_ex, sizeof row->q.ask_ex);
    qt_col_text(st, 11, row->q.cond, sizeof row->q.cond);
    qt_col_text(st, 12, row->q.tape, sizeof row->q.tape);
    row->raw = (const char *)sqlite3_column_text(st, 13);
    row->raw_len = (size_t)sqlite3_column_bytes(st, 13);
    if (!row->raw) {
        row->raw = "";
        row->raw_len = 0;
    }
    return 1;
}

void qt_tape_iter_free(qt_tape_iter *it)
{
    if (!it)
        return;
    sqlite3_finalize(it->st);
    free(it);
}

qt_err qt_tape_count(qt_tape *t, const qt_tape_sel *sel, int64_t *n, char *err, size_t errsz)
{
    int found;
    return qt_tape_sel_int(t, sel, "SELECT count(*) FROM quotes", NULL, NULL, 0, 0, n, &found,
                           err, errsz);
}

int qt_tape_has_recv(qt_tape *t, const qt_tape_sel *sel)
{
    int64_t v = 0;
    int found = 0;
    if (qt_tape_sel_int(t, sel, "SELECT 1 FROM quotes", " AND recv_ns IS NOT NULL", "LIMIT 1", 0,
                        0, &v, &found, NULL, 0))
        return 0;
    return found;
}
