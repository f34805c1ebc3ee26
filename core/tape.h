/* quotetape — the tape: a SQLite file, the store of record.
 *
 * Schema in schema/tape.sql, versioned with PRAGMA user_version
 * (QT_TAPE_VERSION). A tape from a newer quotetape is refused; an older one
 * is migrated on open for writing. WAL mode, so readers (replay, info) work
 * while a recorder writes. Appends are batched: callers bracket them with
 * qt_tape_begin / qt_tape_commit; one transaction per batch is what makes
 * tens of thousands of inserts a second possible.
 *
 * Ownership: a qt_tape owns its sqlite3 handle and prepared statements; rows
 * handed out by the iterator point into the statement and are valid until
 * the next qt_tape_iter_next or qt_tape_iter_free. Not thread-safe: one
 * thread per qt_tape. */
#ifndef QT_TAPE_H
#define QT_TAPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/position.h"
#include "core/quote.h"

#define QT_TAPE_VERSION 1

typedef struct qt_tape qt_tape;

enum {
    QT_TAPE_READ = 0,   /* open an existing tape read-only */
    QT_TAPE_WRITE = 1,  /* open for writing, create if missing */
};

/* Opens (or with QT_TAPE_WRITE creates) the tape at path. Errors:
 * QT_ENOTFOUND (no such file, read mode), QT_ETAPE (not a tape / corrupt),
 * QT_EVERSION (newer tape), QT_EBUSY (locked), QT_EIO. */
qt_err qt_tape_open(const char *path, int mode, qt_tape **out, char *err, size_t errsz);

/* Closes the tape and frees it; NULL is fine. An open transaction is
 * committed first. */
void qt_tape_free(qt_tape *t);

/* The underlying handle, for callers that need a query of their own. */
struct sqlite3 *qt_tape_db(qt_tape *t);

/* ---- writing ----------------------------------------------------------- */

typedef struct qt_session_info {
    const char *source;  /* "alpaca:iex", "import:spy.jsonl", ... */
    const char *symbols; /* comma-separated, may be NULL */
    const char *topic;   /* Kafka topic quotes also go to, may be NULL */
} qt_session_info;

/* Starts a recording session now; *id receives its id. */
qt_err qt_tape_session_begin(qt_tape *t, const qt_session_info *si, int64_t *id, char *err,
                             size_t errsz);
/* Marks a session ended at ended_ns. */
qt_err qt_tape_session_end(qt_tape *t, int64_t id, int64_t ended_ns, char *err, size_t errsz);

qt_err qt_tape_begin(qt_tape *t, char *err, size_t errsz);
qt_err qt_tape_commit(qt_tape *t, char *err, size_t errsz);
qt_err qt_tape_rollback(qt_tape *t);
int qt_tape_in_txn(const qt_tape *t);

/* Appends one quote with its raw message text; *seq (if non-NULL) gets its
 * sequence number. Must be inside qt_tape_begin/commit for speed (works
 * outside too, one transaction per row). */
qt_err qt_tape_append_quote(qt_tape *t, int64_t session, const qt_quote *q, const char *raw,
                            size_t raw_len, int64_t *seq, char *err, size_t errsz);
qt_err qt_tape_append_trade(qt_tape *t, int64_t session, const qt_trade *tr, const char *raw,
                            size_t raw_len, int64_t *seq, char *err, size_t errsz);
qt_err qt_tape_append_bar(qt_tape *t, int64_t session, const qt_bar *b, const char *raw,
                          size_t raw_len, int64_t *seq, char *err, size_t errsz);

/* Records an outage [from_ns, to_ns) with a reason. */
qt_err qt_tape_add_gap(qt_tape *t, int64_t session, int64_t from_ns, int64_t to_ns,
                       const char *reason, char *err, size_t errsz);

/* Kafka delivery bookkeeping for `sync`: the highest quote seq of which every
 * quote up to and including it is confirmed delivered to topic. */
qt_err qt_tape_get_acked(qt_tape *t, const char *topic, int64_t *seq, char *err, size_t errsz);
qt_err qt_tape_set_acked(qt_tape *t, const char *topic, int64_t seq, char *err, size_t errsz);

/* ---- reading ----------------------------------------------------------- */

/* A selection: symbols (NULL/0 = all) and a half-open seq range. */
typedef struct qt_tape_sel {
    const char *const *symbols;
    size_t nsymbols;
    int64_t from_seq; /* inclusive; 0 = beginning */
    int64_t to_seq;   /* exclusive; 0 = end */
    /* Iterators fill only seq, symbol, t_ns, bid_px and ask_px (the rest of
     * the row is zero, raw empty): about half the cost of a full row, for
     * readers that only chart prices. */
    int prices_only;
} qt_tape_sel;

/* Resolves a position to a seq for sel's symbols. is_to picks the meaning of
 * `end` (one past the last) vs `beginning`. Time positions resolve to the
 * first quote in tape order whose event time is >= the time; +DUR is
 * relative to the event time of the first selected quote. QT_POS_OFFSET is
 * refused (it belongs to topics). A seq past the end resolves to one past the
 * last quote. */
qt_err qt_tape_resolve(qt_tape *t, const qt_tape_sel *sel, const qt_pos *p, int64_t *seq,
                       char *err, size_t errsz);

typedef struct qt_tape_row {
    int64_t seq;
    int64_t session;
    qt_quote q;
    const char *raw; /* valid until the next call */
    size_t raw_len;
} qt_tape_row;

typedef struct qt_tape_iter qt_tape_iter;

/* Iterates the selected quotes in seq order. */
qt_err qt_tape_iter_open(qt_tape *t, const qt_tape_sel *sel, qt_tape_iter **out, char *err,
                         size_t errsz);
/* Returns 1 with *row filled, 0 at the end, or -1 on error (text in err). */
int qt_tape_iter_next(qt_tape_iter *it, qt_tape_row *row, char *err, size_t errsz);
void qt_tape_iter_free(qt_tape_iter *it);

/* Counts the selected quotes. */
qt_err qt_tape_count(qt_tape *t, const qt_tape_sel *sel, int64_t *n, char *err, size_t errsz);

/* Whether any selected quote has a receive time (pace-by default). */
int qt_tape_has_recv(qt_tape *t, const qt_tape_sel *sel);

#endif
